/*
** fault_norm.c: every allocation of the normalizer programs' compiler
** (ext/convert/normalizer.c) and run-time (ext/tokenizer/normalize.c)
** fails in turn.
**
**     build/fault_norm          prints "N passed, N failed"
**
** Compiled with -DEMB_STANDALONE -DEMB_FAULT_ALLOC, so that embMalloc(),
** embRealloc(), embFree(), embMprintf() and embVmprintf() (ext/alloc.h) go
** to the failable allocator below.  Each scenario compiles a normalizer
** (those of ../shared/tokenizers when it is there: BertNormalizer and
** Replace maps, Precompiled; and some made here: NFx, Nmt, Prepend, Strip,
** runs) and runs it over a text.  A counting run gives its M allocations;
** then for each N = 1 .. M the scenario runs again with the N-th
** allocation failing once, and again with it and every later one failing.
** Each run must fail with the out-of-memory report (-1 and a NULL message)
** or give the very program and output of the counting run; and every
** allocation is freed once the program and buffer are.
*/
#include "alloc.h"
#include "model.h"
#include "tokenizer/normalize.h"
#include "convert/normalizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static struct {
  int eMode;             /* 0 count, 1 fail the iFail-th once, 2 and later */
  long nCall, iFail;
  long nLive;
} g;

static int faultHit(void){
  g.nCall++;
  return (g.eMode==1 && g.nCall==g.iFail) || (g.eMode==2 && g.nCall>=g.iFail);
}

void *embFaultMalloc(uint64_t n){
  void *p;
  if( faultHit() ) return 0;
  p = malloc(n ? (size_t)n : 1);
  if( p ) g.nLive++;
  return p;
}

void *embFaultRealloc(void *p, uint64_t n){
  if( p==0 ) return embFaultMalloc(n);
  if( faultHit() ) return 0;
  return realloc(p, n ? (size_t)n : 1);
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

static int nPass = 0, nFail = 0;

static void check(int bOk, const char *zName, const char *zWhat, long iFail){
  if( bOk ){
    nPass++;
  }else{
    if( nFail<12 ) printf("FAIL %s: %s (allocation %ld)\n", zName, zWhat, iFail);
    nFail++;
  }
}

/* What one run made */
typedef struct Run Run;
struct Run {
  int rcCompile, rcApply;
  int bErrNull;          /* the failure's message was NULL */
  char *zProg; size_t nProg;   /* copies (malloc()'d) of program and data */
  char *zOut; size_t nOut;     /* and of the output */
};

static void runOnce(const cJSON *pN, const char *zText, Run *r){
  EmbNormCode c;
  EmbNorm n;
  EmbNormBuf b;
  char *zErr = 0;
  memset(r, 0, sizeof(*r));
  r->rcCompile = embNormCompile(pN, &c, &zErr);
  r->bErrNull = zErr==0;
  embFree(zErr);
  if( r->rcCompile ) return;
  r->nProg = c.nStep*EMB_NORM_STEP_WORDS*4 + c.nData;
  r->zProg = malloc(r->nProg + 1);
  if( c.nStep ) memcpy(r->zProg, c.aProg, c.nStep*EMB_NORM_STEP_WORDS*4);
  if( c.nData ) memcpy(r->zProg + c.nStep*EMB_NORM_STEP_WORDS*4, c.aData, c.nData);
  zErr = 0;
  if( embNormCheck(&n, (const uint8_t*)c.aProg, c.nStep, c.aData, c.nData,
                   "fault", &zErr) ){
    r->rcCompile = 2;                    /* never: a compiled program checks */
    embFree(zErr);
    embNormCodeFree(&c);
    return;
  }
  embNormBufInit(&b);
  r->rcApply = embNormApply(&n, zText, strlen(zText), &b);
  if( r->rcApply==0 ){
    r->nOut = b.n;
    r->zOut = malloc(b.n + 1);
    memcpy(r->zOut, b.z, b.n);
  }
  embNormBufFree(&b);
  embNormCodeFree(&c);
}

static void runFree(Run *r){
  free(r->zProg);
  free(r->zOut);
}

static void scenario(const char *zName, const cJSON *pN, const char *zText){
  Run want, got;
  long nAlloc, i;
  int eMode;
  g.eMode = 0; g.nCall = 0; g.nLive = 0;
  runOnce(pN, zText, &want);
  nAlloc = g.nCall;
  check(want.rcCompile==0 && want.rcApply==0 && g.nLive==0, zName,
        "the counting run works and frees all", 0);
  for(eMode=1; eMode<=2; eMode++){
    for(i=1; i<=nAlloc; i++){
      g.eMode = eMode; g.iFail = i; g.nCall = 0; g.nLive = 0;
      runOnce(pN, zText, &got);
      g.eMode = 0;
      if( got.rcCompile ){
        check(got.rcCompile==-1 && got.bErrNull, zName,
              "a failed compile reports out of memory", i);
      }else if( got.rcApply ){
        check(got.rcApply==-1, zName, "a failed run reports -1", i);
      }else{
        check(got.nProg==want.nProg && memcmp(got.zProg, want.zProg, want.nProg)==0
              && got.nOut==want.nOut && memcmp(got.zOut, want.zOut, want.nOut)==0,
              zName, "a run that works gives the same program and output", i);
      }
      check(g.nLive==0, zName, "every allocation is freed", i);
      runFree(&got);
    }
  }
  runFree(&want);
}

static char *readFile(const char *zPath){
  FILE *f = fopen(zPath, "rb");
  char *z;
  long n;
  if( f==0 ) return 0;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  z = malloc((size_t)n + 1);
  if( z && fread(z, 1, (size_t)n, f)!=(size_t)n ){ free(z); z = 0; }
  if( z ) z[n] = 0;
  fclose(f);
  return z;
}

int main(void){
  static const char *zText = "  H\xc3\xa9llo,  W\xc3\x96RLD!\t(x) \xef\xbc\xa1\xcc\x81 "
    "\xe4\xb8\xad\xe6\x96\x87 \r\n e\xcc\xa3\xcc\x81 \xea\xb0\x80 \xef\xac\x81  ";
  static const char *azMade[][2] = {
    {"nfx", "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKD\"},"
     "{\"type\":\"StripAccents\"},{\"type\":\"NFC\"},{\"type\":\"NFD\"},"
     "{\"type\":\"NFKC\"},{\"type\":\"Lowercase\"}]}"},
    {"misc", "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Nmt\"},"
     "{\"type\":\"Replace\",\"pattern\":{\"String\":\"ll\"},\"content\":\"L\"},"
     "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"content\":\" \"},"
     "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\"_\"},"
     "{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"},"
     "{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":true},"
     "{\"type\":\"BertNormalizer\"}]}"},
    {"refused", "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},"
     "{\"type\":\"Frob\"}]}"},
  };
  static const char *azShared[] = {"m2v_vocabq_unigram", "nmt_unigram",
                                   "t5_small"};
  size_t k;
  for(k=0; k<sizeof(azMade)/sizeof(azMade[0]); k++){
    cJSON *p = cJSON_Parse(azMade[k][1]);
    if( k==2 ){
      /* refused: every run fails, with a message unless out of memory */
      EmbNormCode c;
      char *zErr = 0;
      long i, nAlloc;
      g.eMode = 0; g.nCall = 0; g.nLive = 0;
      check(embNormCompile(p, &c, &zErr)==-1 && zErr!=0, "refused",
            "it is refused with a message", 0);
      embFree(zErr);
      nAlloc = g.nCall;
      check(g.nLive==0, "refused", "every allocation is freed", 0);
      for(i=1; i<=nAlloc; i++){
        zErr = 0;
        g.eMode = 2; g.iFail = i; g.nCall = 0; g.nLive = 0;
        check(embNormCompile(p, &c, &zErr)==-1, "refused", "still refused", i);
        g.eMode = 0;
        embFree(zErr);
        check(g.nLive==0, "refused", "every allocation is freed", i);
      }
    }else{
      scenario(azMade[k][0], p, zText);
    }
    cJSON_Delete(p);
  }
  for(k=0; k<sizeof(azShared)/sizeof(azShared[0]); k++){
    char zPath[256], *zJson;
    cJSON *p;
    snprintf(zPath, sizeof(zPath), "../shared/tokenizers/%s_tokenizer.json",
             azShared[k]);
    zJson = readFile(zPath);
    if( zJson==0 ){
      printf("fault_norm: %s is absent; skipped\n", zPath);
      continue;
    }
    p = cJSON_Parse(zJson);
    scenario(azShared[k], cJSON_GetObjectItem(p, "normalizer"), zText);
    cJSON_Delete(p);
    free(zJson);
  }
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
