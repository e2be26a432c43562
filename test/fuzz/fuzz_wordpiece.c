/*
** fuzz_wordpiece.c: libFuzzer target for the WordPiece tokenizer, the
** BERT normalizer and Model2Vec pooling.
**
**     FUZZ_MODEL=build/test/potion.emb build/fuzz/fuzz_wordpiece corpus/wp
**
** Loads the model in $FUZZ_MODEL (default: build/test/potion.emb, the
** default model) once.  Each input is repaired to valid UTF-8 as embed()
** does, then tokenized and pooled: every id must be inside the vocabulary
** and the vector of unit length or zero.  The same text then goes through
** the normalizer and pre-tokenizer alone with each of the 16 option sets
** (clean_text, handle_chinese_chars, strip_accents, lowercase) and a small
** word limit: every word must be valid UTF-8, non-empty, and within the
** limit unless it reports more characters.
*/
#include "model.h"
#include "pool.h"
#include "tokenizer.h"
#include "tokenizer/bert.h"
#include "unicode.h"
#include "alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

static EmbModel *pModel = 0;
static EmbTokens tokens;

/* Check one word of embBertWords() */
static int checkWord(void *pArg, const uint8_t *z, size_t n, int nChar){
  int nMax = *(int*)pArg;
  size_t i = 0;
  int nSeen = 0;
  if( nChar<=0 ) abort();
  if( nChar>nMax ) return 0;
  if( n==0 ) abort();
  while( i<n ){
    size_t j = i;
    (void)embUtf8Next(z, n, &j);
    if( j>n ) abort();
    i = j;
    nSeen++;
  }
  if( nSeen!=nChar ) abort();
  {
    char *zFixed = 0;
    size_t nFixed;
    if( embUtf8Repair((const char*)z, n, &zFixed, &nFixed)!=0 ) abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  char *zFixed = 0;
  const char *z = (const char*)aData;
  size_t n = nData, nFixed = 0;
  float aOut[1024];
  double aAcc[1024], norm = 0;
  void *pBuf = 0;
  size_t nBuf = 0;
  int i, rc;
  unsigned m;
  if( pModel==0 ){
    const char *zPath = getenv("FUZZ_MODEL");
    char *zErr = 0;
    if( zPath==0 ) zPath = "build/test/potion.emb";
    if( embModelAcquire(zPath, &pModel, &zErr) || pModel->nDims>1024 ){
      fprintf(stderr, "fuzz_wordpiece: %s\n", zErr ? zErr : "dims > 1024");
      abort();
    }
    embTokensInit(&tokens);
  }
  rc = embUtf8Repair(z, n, &zFixed, &nFixed);
  if( rc<0 ) return 0;
  if( rc>0 ){ z = zFixed; n = nFixed; }
  tokens.nId = 0;
  if( embTokenize(pModel, z, n, &tokens)==0 ){
    for(i=0; i<tokens.nId; i++){
      if( tokens.aId[i]<0 || tokens.aId[i]>=pModel->nVocab ) abort();
    }
    embPoolMean(pModel, tokens.aId, tokens.nId, pModel->nDims, aAcc, aOut);
    for(i=0; i<pModel->nDims; i++) norm += (double)aOut[i]*aOut[i];
    if( norm!=0.0 && fabs(norm-1.0)>1e-4 ) abort();
  }
  for(m=0; m<16; m++){
    EmbBertWords w;
    int nMax = 7;
    memset(&w, 0, sizeof(w));
    w.mNorm = m;
    w.nCharMax = nMax;
    w.xWord = checkWord;
    w.pArg = &nMax;
    w.ppBuf = &pBuf;
    w.pnBuf = &nBuf;
    (void)embBertWords(&w, (const uint8_t*)z, n);
  }
  embFree(pBuf);
  embFree(zFixed);
  return 0;
}
