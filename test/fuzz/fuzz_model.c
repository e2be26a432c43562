/*
** fuzz_model.c: libFuzzer target for the model loader (model.c and the
** safetensors header parser), from a memory buffer.
**
**     make fuzz     (or build/fuzz/fuzz_model test/fuzz/corpus/model)
**
** Each input is a candidate model file.  When it opens, every table is
** exercised the way the extension uses it: lookups, token texts, and a
** tokenization and pooling through the model's tokenizer, so a corrupt file
** that passes validation still has every access bounds-checked.
*/
#include "model.h"
#include "pool.h"
#include "tokenizer.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  /* A copy with no slack after it, so ASan sees any over-read; 8-aligned
  ** like a mapping. */
  uint8_t *a = malloc(nData ? nData : 1);
  EmbModel *p = 0;
  char *zErr = 0;
  static const char *azProbe[] = { "the", "cat", ",", "", "\xe2\x96\x81the",
                                   "<s>", "zzzz" };
  size_t i;
  if( a==0 ) return 0;
  memcpy(a, aData, nData);
  if( embModelOpenBuffer(a, nData, "fuzz.emb", &p, &zErr)==0 ){
    EmbTokens t;
    for(i=0; i<sizeof(azProbe)/sizeof(azProbe[0]); i++){
      (void)embModelLookup(p, azProbe[i], (int)strlen(azProbe[i]));
    }
    for(i=0; i<(size_t)p->nVocab && i<64; i++){
      const char *z;
      int n;
      (void)embModelTokenText(p, (int)i, &z, &n);
    }
    embTokensInit(&t);
    if( embTokenize(p, "The cat's hat, <s> 12 caf\xc3\xa9!", 24, &t)==0
     && p->nDims>0 ){
      double *aAcc = malloc(sizeof(double)*(size_t)p->nDims);
      float *aOut = malloc(sizeof(float)*(size_t)p->nDims);
      if( aAcc && aOut ) embPoolMean(p, t.aId, t.nId, p->nDims, aAcc, aOut);
      free(aAcc);
      free(aOut);
    }
    embTokensFree(&t);
    embModelFree(p);
  }
  embFree(zErr);
  free(a);
  return 0;
}
