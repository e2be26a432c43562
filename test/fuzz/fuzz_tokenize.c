/*
** fuzz_tokenize.c: libFuzzer target for the tokenizers.
**
**     FUZZ_MODEL=models/default.emb build/fuzz/fuzz_tokenize corpus/tokenize
**
** Loads the model in $FUZZ_MODEL (default: build/test/mini.emb, the word
** tokenizer's test model) once, then tokenizes each input after UTF-8
** repair, as embed() does.  Every id produced must be inside the
** vocabulary.
*/
#include "model.h"
#include "tokenizer.h"
#include "unicode.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

static EmbModel *pModel = 0;
static EmbTokens tokens;

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  char *z, *zFixed = 0;
  size_t n = nData, nFixed = 0;
  int i, rc;
  if( pModel==0 ){
    const char *zPath = getenv("FUZZ_MODEL");
    char *zErr = 0;
    if( zPath==0 ) zPath = "build/test/mini.emb";
    if( embModelAcquire(zPath, &pModel, &zErr) ){
      fprintf(stderr, "fuzz_tokenize: %s\n", zErr);
      abort();
    }
    embTokensInit(&tokens);
  }
  z = malloc(nData ? nData : 1);
  if( z==0 ) return 0;
  memcpy(z, aData, nData);
  rc = embUtf8Repair(z, nData, &zFixed, &nFixed);
  if( rc<0 ){ free(z); return 0; }
  tokens.nId = 0;
  if( embTokenize(pModel, rc ? zFixed : z, rc ? nFixed : n, &tokens)==0 ){
    for(i=0; i<tokens.nId; i++){
      if( tokens.aId[i]<0 || tokens.aId[i]>=pModel->nVocab ) abort();
    }
  }
  embFree(zFixed);
  free(z);
  return 0;
}
