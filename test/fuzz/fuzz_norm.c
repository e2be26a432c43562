/*
** fuzz_norm.c: libFuzzer target for the normalizer programs: the
** converter's compiler (ext/convert/normalizer.c), the loader's check and
** the run-time (ext/tokenizer/normalize.c), grapheme clusters and NFx
** (ext/unicode_norm.c).
**
**     build/fuzz/fuzz_norm build/fuzz/corpus/norm
**
** Byte 0 of an input picks the mode.  Even: the rest is a tokenizer.json
** "normalizer" (JSON) up to the first NUL, then a text; the JSON is
** compiled, the program checked, and the text (repaired to UTF-8 as
** embed() does) normalized.  Odd: the rest is a raw program as a model
** file could hold it -- byte 1 the number of steps (mod 5), then the
** steps' U32s, then the data, the text being the data's last quarter --
** which embNormCheck() must refuse or embNormApply() run.  Either way the
** output must be valid UTF-8.
*/
#include "model.h"
#include "tokenizer/normalize.h"
#include "convert/normalizer.h"
#include "unicode.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

static int isUtf8(const uint8_t *z, size_t n){
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

/* Normalize z[0..n) (any bytes) with p; abort unless the output is UTF-8. */
static void run(const EmbNorm *p, const uint8_t *z, size_t n){
  char *zFixed = 0;
  size_t nFixed = 0;
  EmbNormBuf b;
  int rc = embUtf8Repair((const char*)z, n, &zFixed, &nFixed);
  if( rc<0 ) return;
  embNormBufInit(&b);
  if( embNormApply(p, rc ? zFixed : (const char*)z, rc ? nFixed : n, &b)==0
   && (!isUtf8((const uint8_t*)b.z, b.n) || b.z[b.n]!=0) ){
    fprintf(stderr, "fuzz_norm: output is not UTF-8\n");
    abort();
  }
  embNormBufFree(&b);
  embFree(zFixed);
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  if( nData<2 ) return 0;
  if( (aData[0] & 1)==0 ){
    const uint8_t *zNul = memchr(aData+1, 0, nData-1);
    size_t nJson = zNul ? (size_t)(zNul - (aData+1)) : nData-1;
    cJSON *pJson = cJSON_ParseWithLength((const char*)aData+1, nJson);
    EmbNormCode c;
    EmbNorm n;
    char *zErr = 0;
    if( pJson==0 ) return 0;
    if( embNormCompile(pJson, &c, &zErr)==0 ){
      if( embNormCheck(&n, (const uint8_t*)c.aProg, c.nStep, c.aData, c.nData,
                       "fuzz", &zErr) ){
        fprintf(stderr, "fuzz_norm: a compiled program fails the check: %s\n",
                zErr ? zErr : "(no memory)");
        abort();
      }
      if( zNul ) run(&n, zNul+1, nData - (size_t)(zNul+1 - aData));
      embNormCodeFree(&c);
    }
    embFree(zErr);
    cJSON_Delete(pJson);
  }else{
    size_t nStep = aData[1] % 5, nProg = nStep*EMB_NORM_STEP_WORDS*4;
    uint8_t *aProg, *aRest;
    size_t nRest, nText;
    EmbNorm n;
    char *zErr = 0;
    if( nData<2+nProg ) return 0;
    /* copies, so that ASan sees reads past the end */
    aProg = malloc(nProg ? nProg : 1);
    nRest = nData-2-nProg;
    aRest = malloc(nRest ? nRest : 1);
    if( aProg && aRest ){
      memcpy(aProg, aData+2, nProg);
      memcpy(aRest, aData+2+nProg, nRest);
      nText = nRest/4;
      if( embNormCheck(&n, aProg, nStep, aRest, nRest-nText, "fuzz", &zErr)==0 ){
        run(&n, aRest+nRest-nText, nText);
      }
      embFree(zErr);
    }
    free(aProg);
    free(aRest);
  }
  return 0;
}
