/*
** unit_norm.c: the normalizer programs -- ext/convert/normalizer.c
** compiling tokenizer.json's "normalizer", ext/tokenizer/normalize.c
** checking and running it -- against Hugging Face's tokenizers@0.23.2.
**
**     build/unit_norm                 the checks below, then the cases of
**                                     test/norm/norm_hf_small.jsonl
**     node test/norm/norm_hf.mjs build/hf/node_modules | build/unit_norm -
**     bash test/norm/run.sh BUILD     the latter (installs tokenizers when it
**                                     can; every code point, 474,000 cases)
**
** The cases are norm_hf.mjs's lines: {"cfg": k, "normalizer": {...}}
** compiles normalizer k (embNormCompile(), then embNormCheck() as the
** loader does), and each {"cfg": k, "hex": input, "out": output} is run
** through embNormApply() and compared with HF's output.  The other checks:
** what is refused at conversion and with what message, programs that
** embNormCheck() must refuse (hostile model files), random programs that
** must be refused or run cleanly, and embNormBind() on a model's tensors.
** Prints up to 10 mismatches and "N passed, N failed".
*/
#include "model.h"
#include "tokenizer/normalize.h"
#include "convert/normalizer.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define MAX_CFG 256

/* Decode hex z into a malloc()'d buffer; *pn its length.  NULL on error. */
static unsigned char *unhex(const char *z, size_t *pn){
  size_t n = strlen(z), i;
  unsigned char *a = malloc(n/2 + 1);
  if( a==0 || n%2 ) { free(a); return 0; }
  for(i=0; i<n/2; i++){
    unsigned v;
    if( sscanf(z+2*i, "%2x", &v)!=1 ){ free(a); return 0; }
    a[i] = (unsigned char)v;
  }
  *pn = n/2;
  return a;
}

static void printHex(const char *zLabel, const unsigned char *a, size_t n){
  size_t i;
  printf("  %s ", zLabel);
  for(i=0; i<n && i<200; i++) printf("%02x", a[i]);
  printf("%s\n", n>200 ? "..." : "");
}

/* Run the cases of stream f; add to *pnPass, *pnFail. */
static void runCases(FILE *f, int *pnPass, int *pnFail){
  static EmbNormCode aCode[MAX_CFG];
  static EmbNorm aNorm[MAX_CFG];
  static int aOk[MAX_CFG];
  char *zLine = 0;
  size_t nCap = 0;
  int nPass = 0, nFail = 0, nLine = 0;
  EmbNormBuf b;
  memset(aOk, 0, sizeof(aOk));
  embNormBufInit(&b);
  while( getline(&zLine, &nCap, f)>0 ){
    cJSON *p = cJSON_Parse(zLine);
    cJSON *pK = p ? cJSON_GetObjectItem(p, "cfg") : 0;
    cJSON *pN = p ? cJSON_GetObjectItem(p, "normalizer") : 0;
    const char *zHex, *zOut;
    int k;
    nLine++;
    if( !cJSON_IsNumber(pK) || pK->valueint<0 || pK->valueint>=MAX_CFG ){
      printf("line %d: not a case\n", nLine);
      nFail++;
      cJSON_Delete(p);
      continue;
    }
    k = pK->valueint;
    if( pN ){
      char *zErr = 0;
      aOk[k] = 0;
      if( embNormCompile(pN, &aCode[k], &zErr)
       || embNormCheck(&aNorm[k], (const uint8_t*)aCode[k].aProg,
                       aCode[k].nStep, aCode[k].aData, aCode[k].nData,
                       "test", &zErr) ){
        char *zJ = cJSON_PrintUnformatted(pN);
        printf("normalizer %d does not compile: %s\n  %.300s\n", k,
               zErr ? zErr : "out of memory", zJ);
        free(zJ);
        free(zErr);
        nFail++;
      }else{
        aOk[k] = 1;
      }
      cJSON_Delete(p);
      continue;
    }
    zHex = cJSON_GetStringValue(cJSON_GetObjectItem(p, "hex"));
    zOut = cJSON_GetStringValue(cJSON_GetObjectItem(p, "out"));
    if( zHex==0 || zOut==0 ){
      printf("line %d: not a case\n", nLine);
      nFail++;
    }else if( !aOk[k] ){
      nFail++;
    }else{
      size_t nIn = 0, nWant = 0;
      unsigned char *aIn = unhex(zHex, &nIn), *aWant = unhex(zOut, &nWant);
      if( aIn==0 || aWant==0 ){
        printf("line %d: bad hex\n", nLine);
        nFail++;
      }else if( embNormApply(&aNorm[k], (const char*)aIn, nIn, &b) ){
        printf("line %d: out of memory\n", nLine);
        nFail++;
      }else if( b.n!=nWant || memcmp(b.z, aWant, nWant)!=0 ){
        if( nFail<10 ){
          printf("normalizer %d, line %d differs:\n", k, nLine);
          printHex("input", aIn, nIn);
          printHex("HF   ", aWant, nWant);
          printHex("ours ", (const unsigned char*)b.z, b.n);
        }
        nFail++;
      }else{
        nPass++;
      }
      free(aIn);
      free(aWant);
    }
    cJSON_Delete(p);
  }
  for(int k=0; k<MAX_CFG; k++){
    embNormCodeFree(&aCode[k]);
    aOk[k] = 0;
  }
  embNormBufFree(&b);
  free(zLine);
  *pnPass += nPass;
  *pnFail += nFail;
}

static int nPass = 0, nFail = 0;

static void check(int bOk, const char *zWhat){
  if( bOk ){
    nPass++;
  }else{
    nFail++;
    printf("FAIL: %s\n", zWhat);
  }
}

/* tokenizer.json normalizers that embNormCompile() must refuse, and a part
** of the message it must give */
static void testRefused(void){
  static const char *aCase[][2] = {
    {"{\"type\":\"Frob\"}", "unsupported tokenizer feature: normalizer type 'Frob'"},
    {"{\"type\":\"ByteLevel\"}", "normalizer type 'ByteLevel'"},
    {"{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Lowercase\"},"
     "{\"type\":\"Frobnicate\"}]}", "normalizer type 'Frobnicate'"},
    {"{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"[a-z]+\"},\"content\":\"\"}",
     "normalizer Replace with the regex '[a-z]+'"},
    {"{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s\"},\"content\":\"\"}",
     "the regex '\\s'"},
    {"{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"ab+\"},\"content\":\"\"}",
     "the regex 'ab+'"},
    {"{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"a{2}\"},\"content\":\"\"}",
     "the regex 'a{2}'"},
    {"{\"type\":\"Replace\",\"pattern\":{\"String\":\"\"},\"content\":\"x\"}",
     "normalizer Replace with an empty pattern"},
    {"{\"type\":\"Replace\",\"pattern\":{\"String\":\"a\"}}",
     "malformed normalizer: Replace needs"},
    {"{\"type\":\"Strip\",\"strip_left\":true}", "malformed normalizer: Strip "
     "needs a true or false \"strip_right\""},
    {"{\"type\":\"Prepend\"}", "malformed normalizer: Prepend needs"},
    {"{\"type\":\"BertNormalizer\",\"lowercase\":1}", "malformed normalizer: "
     "BertNormalizer needs a true or false \"lowercase\""},
    {"{\"type\":\"Sequence\"}", "malformed normalizer: Sequence needs"},
    {"[1]", "malformed normalizer: not a JSON object"},
    {"{\"normalizers\":[]}", "malformed normalizer: no \"type\""},
    {"{\"type\":\"Precompiled\"}", "malformed normalizer: Precompiled needs"},
    {"{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"A*==\"}",
     "is not base64"},
    {"{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AQ==\"}",
     "is not a SentencePiece charsmap"},
    /* trie of 16 bytes, but only 4 there */
    {"{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"EAAAAAAAAAA=\"}",
     "is not a SentencePiece charsmap"},
    /* two units: the root (offset 0), and its child of label 1 (unit 1)
    ** with a leaf whose value unit is itself: value 0x101, past the one
    ** byte of strings */
    {"{\"type\":\"Precompiled\",\"precompiled_charsmap\":"
     "\"CAAAAAAAAAABAQAAAA==\"}", "is not a SentencePiece charsmap"},
  };
  size_t i;
  for(i=0; i<sizeof(aCase)/sizeof(aCase[0]); i++){
    cJSON *p = cJSON_Parse(aCase[i][0]);
    EmbNormCode c;
    char *zErr = 0;
    int rc = embNormCompile(p, &c, &zErr);
    char zWhat[512];
    snprintf(zWhat, sizeof(zWhat), "%s is refused with \"%s\" (got \"%s\")",
             aCase[i][0], aCase[i][1], zErr ? zErr : "(none)");
    check(p && rc==-1 && zErr && strstr(zErr, aCase[i][1]), zWhat);
    check(c.aProg==0 && c.aData==0, "a refused program is freed");
    free(zErr);
    cJSON_Delete(p);
  }
  /* no normalizer: no steps */
  {
    EmbNormCode c;
    char *zErr = 0;
    cJSON *pNull = cJSON_CreateNull();
    check(embNormCompile(0, &c, &zErr)==0 && c.nStep==0, "NULL: no steps");
    check(embNormCompile(pNull, &c, &zErr)==0 && c.nStep==0, "null: no steps");
    cJSON_Delete(pNull);
  }
}

/* One step of a hand-made program */
static void setStep(uint32_t *a, uint32_t op, uint32_t a1, uint32_t a2,
                    uint32_t a3, uint32_t a4, uint32_t a5){
  memset(a, 0, EMB_NORM_STEP_WORDS*4);
  a[0] = op; a[1] = a1; a[2] = a2; a[3] = a3; a[4] = a4; a[5] = a5;
}

/* Programs a hostile model file could hold, which embNormCheck() refuses */
static void testHostile(void){
  uint32_t aProg[EMB_NORM_STEP_WORDS*2];
  uint8_t aData[64] = "abc\xff\xfe" "def";
  EmbNorm n;
  char *zErr = 0;
  struct { uint32_t op, a1, a2, a3, a4, a5; const char *zWhy; } aCase[] = {
    {0, 0, 0, 0, 0, 0, "op 0"},
    {99, 0, 0, 0, 0, 0, "op 99"},
    {EMB_NOP_BERT, 16, 0, 0, 0, 0, "unknown Bert bits"},
    {EMB_NOP_STRIP, 2, 0, 0, 0, 0, "strip 2"},
    {EMB_NOP_REPLACE, 0, 0, 0, 1, 0, "empty pattern"},
    {EMB_NOP_REPLACE, 60, 5, 0, 1, 0, "pattern past the data"},
    {EMB_NOP_REPLACE, 0xFFFFFFFF, 2, 0, 1, 0, "offset overflow"},
    {EMB_NOP_REPLACE, 0, 2, 3, 2, 0, "content not UTF-8"},
    {EMB_NOP_PREPEND, 2, 2, 0, 0, 0, "prepend not UTF-8"},
    {EMB_NOP_RUN, 2, 0, 1, 0, 0, "run class 2"},
    {EMB_NOP_RUN, 0, 0xD800, 1, 0, 0, "run of a surrogate"},
    {EMB_NOP_RUN, 1, 0, 0, 0, 0, "run of 0"},
    {EMB_NOP_MAP, 1, 1, 0, 0, 0, "map misaligned"},
    {EMB_NOP_MAP, 0, 6, 0, 0, 0, "map past the data"},
    {EMB_NOP_MAP, 0, 0xFFFFFFFF, 0, 0, 0, "map count overflow"},
  };
  size_t i;
  for(i=0; i<sizeof(aCase)/sizeof(aCase[0]); i++){
    char zWhat[128];
    setStep(aProg, aCase[i].op, aCase[i].a1, aCase[i].a2, aCase[i].a3,
            aCase[i].a4, aCase[i].a5);
    zErr = 0;
    snprintf(zWhat, sizeof(zWhat), "a program with %s is refused",
             aCase[i].zWhy);
    check(embNormCheck(&n, (uint8_t*)aProg, 1, aData, sizeof(aData), "t",
                       &zErr)==-1 && zErr && strstr(zErr, "model 't'")
          && n.nProg==0, zWhat);
    free(zErr);
  }
  /* a map: unsorted, then with wrong ASCII bits, then right */
  {
    uint32_t aMap[6] = {'b', 0, 1, 'a', 1, 1};
    uint8_t aD[40];
    memcpy(aD, aMap, sizeof(aMap));
    memcpy(aD+24, "xy", 2);
    aMap[1] = 24; aMap[4] = 25;
    memcpy(aD, aMap, sizeof(aMap));
    setStep(aProg, EMB_NOP_MAP, 0, 2, 0, 0, 0);
    zErr = 0;
    check(embNormCheck(&n, (uint8_t*)aProg, 1, aD, 26, "t", &zErr)==-1,
          "an unsorted map is refused");
    free(zErr);
    aMap[0] = 'a'; aMap[3] = 'b';
    memcpy(aD, aMap, sizeof(aMap));
    zErr = 0;
    check(embNormCheck(&n, (uint8_t*)aProg, 1, aD, 26, "t", &zErr)==-1,
          "a map with wrong ASCII bits is refused");
    free(zErr);
    aProg[3+('a'>>5)] = (1u<<('a'&31)) | (1u<<('b'&31));
    zErr = 0;
    check(embNormCheck(&n, (uint8_t*)aProg, 1, aD, 26, "t", &zErr)==0,
          "a good map is taken");
    free(zErr);
    {
      EmbNormBuf b;
      embNormBufInit(&b);
      check(embNormApply(&n, "abc", 3, &b)==0 && b.n==3
            && memcmp(b.z, "xyc", 3)==0, "the map maps");
      embNormBufFree(&b);
    }
  }
}

/* Random programs: refused, or run over random text without a fault (the
** sanitizers watch) and with valid UTF-8 out. */
static int isUtf8(const unsigned char *z, size_t n){
  size_t i = 0;
  while( i<n ){
    unsigned c = z[i], k, nMore;
    if( c<0x80 ){ i++; continue; }
    if( c<0xC2 || c>0xF4 ) return 0;
    nMore = c>=0xF0 ? 3 : c>=0xE0 ? 2 : 1;
    if( n-i<=nMore ) return 0;
    for(k=1; k<=nMore; k++) if( (z[i+k] & 0xC0)!=0x80 ) return 0;
    i += nMore+1;
  }
  return 1;
}

static void testRandom(void){
  static const char *azText[] = {"", "a", "Hello,  World!  ", "\xc3\xa9" "t\xc3\xa9",
    "e\xcc\x81\xcc\xa3 \xe4\xb8\xad\xe6\x96\x87 ", "  \t\n x  y  ",
    "\xe2\x96\x81\xe2\x96\x81" "a", "\xf0\x9f\x98\x80\xcc\x81"};
  uint32_t seed = 7;
  int iter, nTaken = 0, bBad = 0;
  EmbNormBuf b;
  embNormBufInit(&b);
  for(iter=0; iter<20000; iter++){
    uint32_t aProg[EMB_NORM_STEP_WORDS*3];
    uint8_t aData[48];
    size_t nStep = 1 + iter%3, k, t;
    EmbNorm n;
    char *zErr = 0;
    for(k=0; k<sizeof(aData); k++){
      seed = seed*1103515245 + 12345;
      aData[k] = (uint8_t)(seed>>16) % 4 ? "ab \xc3\xa9"[(seed>>8)%5] : (uint8_t)(seed>>20);
    }
    for(k=0; k<nStep*EMB_NORM_STEP_WORDS; k++){
      seed = seed*1103515245 + 12345;
      aProg[k] = k%EMB_NORM_STEP_WORDS==0 ? (seed>>16)%15 : (seed>>16)%(k%8==3 ? 3 : 50);
    }
    if( embNormCheck(&n, (uint8_t*)aProg, nStep, aData, sizeof(aData), "r",
                     &zErr) ){
      free(zErr);
      continue;
    }
    nTaken++;
    for(t=0; t<sizeof(azText)/sizeof(azText[0]); t++){
      if( embNormApply(&n, azText[t], strlen(azText[t]), &b)
       || !isUtf8((unsigned char*)b.z, b.n) ){
        bBad = 1;
      }
    }
  }
  embNormBufFree(&b);
  check(!bBad, "random programs that are taken run and write UTF-8");
  check(nTaken>100, "some random programs are taken");
}

/* A Precompiled step over a table of garbage must not read outside it */
static void testPrecompiledGarbage(void){
  uint32_t aProg[EMB_NORM_STEP_WORDS];
  uint8_t aData[16*4 + 256 + 8];
  uint32_t seed = 99;
  int iter, bBad = 0;
  EmbNormBuf b;
  embNormBufInit(&b);
  for(iter=0; iter<2000; iter++){
    EmbNorm n;
    char *zErr = 0;
    size_t k;
    for(k=0; k<sizeof(aData); k++){
      seed = seed*1103515245 + 12345;
      aData[k] = (uint8_t)(seed>>16);
      if( k<64 && k%16>=8 ) aData[k] &= 0x0F;     /* small offsets, lengths */
      if( k<64 && k%16==5 ) aData[k] = (uint8_t)(1 + (seed>>20)%5);
    }
    memset(aProg, 0, sizeof(aProg));
    aProg[0] = EMB_NOP_PRECOMPILED;
    aProg[1] = 0;  aProg[2] = 4;  aProg[3] = 64;  aProg[4] = 64+256;
    aProg[5] = 8;
    if( embNormCheck(&n, (uint8_t*)aProg, 1, aData, sizeof(aData), "g",
                     &zErr) ){
      free(zErr);
      bBad = 1;
      continue;
    }
    static const char zIn[] = "\x01\x02" "ab\xc2\xaa\xcc\x81 \r\n\xe4\xb8\xad";
    if( embNormApply(&n, zIn, sizeof(zIn)-1, &b)
     || !isUtf8((unsigned char*)b.z, b.n) ){
      bBad = 1;
    }
  }
  embNormBufFree(&b);
  check(!bBad, "Precompiled over garbage tables runs and writes UTF-8");
  /* a table outside the data is refused */
  {
    EmbNorm n;
    char *zErr = 0;
    aProg[3] = sizeof(aData)-255;
    check(embNormCheck(&n, (uint8_t*)aProg, 1, aData, sizeof(aData), "g",
                       &zErr)==-1, "a Precompiled table past the data is "
          "refused");
    free(zErr);
    zErr = 0;
    aProg[3] = 64; aProg[2] = 3;
    check(embNormCheck(&n, (uint8_t*)aProg, 1, aData, sizeof(aData), "g",
                       &zErr)==-1, "Precompiled slots not a power of two are "
          "refused");
    free(zErr);
  }
}

/* NFD's canonical ordering over a long run of marks in falling classes
** must take linear time (a sort by counting), and sort stably. */
static void testLongRun(void){
  static const char *azMark[] = {"\xcc\xa3", "\xcc\x81", "\xcd\x85"};
                                 /* U+0323 (220), U+0301 (230), U+0345 (240) */
  size_t nMark = 300000, i, nByte = 1 + 2*nMark;
  char *z = malloc(nByte);
  EmbNorm n;
  EmbNormBuf b;
  uint32_t aProg[EMB_NORM_STEP_WORDS] = {EMB_NOP_NFD};
  uint8_t aData[1] = {0};
  char *zErr = 0;
  int bOk;
  z[0] = 'a';
  for(i=0; i<nMark; i++) memcpy(z+1+2*i, azMark[2 - i%3], 2);
  embNormBufInit(&b);
  bOk = embNormCheck(&n, (uint8_t*)aProg, 1, aData, 1, "t", &zErr)==0
     && embNormApply(&n, z, nByte, &b)==0 && b.n==nByte && b.z[0]=='a';
  for(i=0; bOk && i<nMark; i++){
    const char *zWant = azMark[i/(nMark/3)];
    if( memcmp(b.z+1+2*i, zWant, 2)!=0 ) bOk = 0;
  }
  check(bOk, "NFD sorts 300,000 marks by class");
  embNormBufFree(&b);
  free(z);
}

/* embNormBind() on a model's tensors */
static void testBind(void){
  static uint32_t aProg[EMB_NORM_STEP_WORDS] = {EMB_NOP_LOWER};
  static uint8_t aData[1] = {0};
  EmbTensor aT[2];
  EmbModel m;
  char *zErr = 0;
  memset(&m, 0, sizeof(m));
  memset(aT, 0, sizeof(aT));
  m.zPath = "bind.emb";
  check(embNormBind(&m, &zErr)==0 && !embNormActive(&m.norm),
        "no norm.program: no normalizer");
  aT[0].zName = EMB_T_NORM_PROGRAM; aT[0].eType = EMB_DT_U32; aT[0].nDim = 2;
  aT[0].aShape[0] = 1; aT[0].aShape[1] = EMB_NORM_STEP_WORDS;
  aT[0].a = (uint8_t*)aProg; aT[0].nByte = sizeof(aProg);
  aT[1].zName = EMB_T_NORM_DATA; aT[1].eType = EMB_DT_U8; aT[1].nDim = 1;
  aT[1].aShape[0] = 1; aT[1].a = aData; aT[1].nByte = 1;
  m.aTensor = aT;
  m.nTensor = 1;
  check(embNormBind(&m, &zErr)==-1 && zErr && strstr(zErr, "norm.data"),
        "norm.program without norm.data is refused");
  free(zErr); zErr = 0;
  m.nTensor = 2;
  check(embNormBind(&m, &zErr)==0 && embNormActive(&m.norm),
        "norm.program and norm.data bind");
  {
    EmbNormBuf b;
    embNormBufInit(&b);
    check(embNormApply(&m.norm, "ÀB", 3, &b)==0 && b.n==3
          && memcmp(b.z, "àb", 3)==0, "the bound program runs");
    embNormBufFree(&b);
  }
  aT[0].eType = EMB_DT_F32;
  check(embNormBind(&m, &zErr)==-1 && zErr && strstr(zErr, "bind.emb")
        && !embNormActive(&m.norm), "a norm.program of F32 is refused");
  free(zErr);
}

int main(int argc, char **argv){
  FILE *f;
  if( argc>1 && strcmp(argv[1], "-")==0 ){
    runCases(stdin, &nPass, &nFail);
  }else{
    testRefused();
    testHostile();
    testRandom();
    testPrecompiledGarbage();
    testLongRun();
    testBind();
    f = fopen("test/norm/norm_hf_small.jsonl", "r");
    if( f==0 ){
      printf("FAIL: cannot open test/norm/norm_hf_small.jsonl (run from the "
             "project's folder)\n");
      nFail++;
    }else{
      runCases(f, &nPass, &nFail);
      fclose(f);
    }
  }
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
