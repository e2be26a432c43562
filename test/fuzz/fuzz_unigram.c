/*
** fuzz_unigram.c: libFuzzer target for the Unigram tokenizer, its
** pre-tokenizer programs and Model2Vec pooling of its ids.
**
**     FUZZ_MODEL=build/test/m2v_vocabq.emb build/fuzz/fuzz_unigram corpus/unigram
**
** Loads the Unigram model in $FUZZ_MODEL (default: build/test/m2v_vocabq.emb,
** model2vec-rs's vocabulary-quantized model) once.  Each input is repaired
** to valid UTF-8 as embed() does, then tokenized and pooled: every id must
** be inside the vocabulary and the vector of unit length or zero.  Then the
** model's own program is swapped for each of a set of programs (every op
** and behaviour, byte fallback on and off, fuse_unk off) and the text goes
** through the whole tokenizer again with it, and through the program
** alone: every word must be non-empty valid UTF-8 made of the text's
** bytes (or the replacement's).  Last, the input's first bytes are tried
** as a program of their own: embPretokCheck() must refuse it or the run
** must pass the same checks.
*/
#include "model.h"
#include "pool.h"
#include "format.h"
#include "tokenizer.h"
#include "tokenizer/pretok.h"
#include "unicode.h"
#include "alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

static EmbModel *pModel = 0;
static EmbTokens tokens;

/* Programs (FORMAT.md, "Pre-tokenizer programs") */
static const uint8_t aProg1[] = { EMB_PT_WSSPLIT, EMB_PT_METASPACE,
  EMB_PREPEND_ALWAYS, 1, 3, 0xE2, 0x96, 0x81, EMB_PT_END };
static const uint8_t aProg2[] = { EMB_PT_WHITESPACE, EMB_PT_PUNCT,
  EMB_SPLIT_PREVIOUS, EMB_PT_DIGITS, 1, EMB_PT_METASPACE, EMB_PREPEND_FIRST,
  0, 1, '_', EMB_PT_END };
static const uint8_t aProg3[] = { EMB_PT_SPLIT, EMB_SPLIT_NEXT, 0, 2, 0,
  'a', 'b', EMB_PT_SPLIT, EMB_SPLIT_CONTIG, 1, 1, 0, ' ', EMB_PT_PUNCT,
  EMB_SPLIT_REMOVED, EMB_PT_DIGITS, 0, EMB_PT_METASPACE, EMB_PREPEND_NEVER,
  1, 4, 0xF0, 0x9F, 0x98, 0x80, EMB_PT_END };
static const uint8_t aProg4[] = { EMB_PT_METASPACE, EMB_PREPEND_ALWAYS, 1,
  1, ' ', EMB_PT_SPLIT, EMB_SPLIT_ISOLATED, 1, 3, 0, 0xE2, 0x96, 0x81,
  EMB_PT_PUNCT, EMB_SPLIT_CONTIG, EMB_PT_END };
static const uint8_t aProgEnd[] = { EMB_PT_END };

static const struct { const uint8_t *a; size_t n; } aProg[] = {
  { aProg1, sizeof(aProg1) }, { aProg2, sizeof(aProg2) },
  { aProg3, sizeof(aProg3) }, { aProg4, sizeof(aProg4) },
  { aProgEnd, sizeof(aProgEnd) },
};

/* Check a word of embPretokRun() */
static int checkWord(void *pArg, const uint8_t *z, size_t n){
  char *zFixed = 0;
  size_t nFixed;
  (void)pArg;
  if( n==0 ) abort();
  if( embUtf8Repair((const char*)z, n, &zFixed, &nFixed)!=0 ) abort();
  return 0;
}

/* Tokenize and pool z[0..n) with pModel as it is now */
static void checkTokens(const char *z, size_t n){
  float aOut[1024];
  double aAcc[1024], norm = 0;
  int i;
  tokens.nId = 0;
  if( embTokenize(pModel, z, n, &tokens) ) return;
  for(i=0; i<tokens.nId; i++){
    if( tokens.aId[i]<0 || tokens.aId[i]>=pModel->nVocab ) abort();
  }
  embPoolMean(pModel, tokens.aId, tokens.nId, pModel->nDims, aAcc, aOut);
  for(i=0; i<pModel->nDims; i++) norm += (double)aOut[i]*aOut[i];
  if( norm!=0.0 && fabs(norm-1.0)>1e-4 ) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  char *zFixed = 0;
  const char *z = (const char*)aData;
  size_t n = nData, nFixed = 0, k;
  EmbUnigram saved;
  const char *zWhy;
  int rc;
  if( pModel==0 ){
    const char *zPath = getenv("FUZZ_MODEL");
    char *zErr = 0;
    if( zPath==0 ) zPath = "build/test/m2v_vocabq.emb";
    if( embModelAcquire(zPath, &pModel, &zErr)
     || pModel->eTokenizer!=EMB_TOK_UNIGRAM || pModel->nDims>1024 ){
      fprintf(stderr, "fuzz_unigram: %s\n",
              zErr ? zErr : "not a Unigram model of at most 1024 dims");
      abort();
    }
    embTokensInit(&tokens);
  }
  rc = embUtf8Repair(z, n, &zFixed, &nFixed);
  if( rc<0 ) return 0;
  if( rc>0 ){ z = zFixed; n = nFixed; }
  checkTokens(z, n);

  saved = pModel->uni;
  for(k=0; k<sizeof(aProg)/sizeof(aProg[0]); k++){
    EmbPretokRun r;
    if( embPretokCheck(aProg[k].a, aProg[k].n, &zWhy) ) abort();
    pModel->uni.aPretok = aProg[k].a;
    pModel->uni.nPretok = aProg[k].n;
    pModel->uni.bByteFallback = (int)(k & 1);
    pModel->uni.bFuseUnk = k!=2;
    checkTokens(z, n);
    memset(&r, 0, sizeof(r));
    r.aProg = aProg[k].a;
    r.nProg = aProg[k].n;
    r.xWord = checkWord;
    r.pTok = &tokens;
    (void)embPretokRun(&r, (const uint8_t*)z, n, (int)(k & 1));
  }
  /* the input's own first bytes as a program */
  if( nData>0 ){
    size_t nP = aData[0] % 24;
    if( nP<nData && embPretokCheck(aData+1, nP, &zWhy)==0 ){
      EmbPretokRun r;
      memset(&r, 0, sizeof(r));
      r.aProg = aData+1;
      r.nProg = nP;
      r.xWord = checkWord;
      r.pTok = &tokens;
      (void)embPretokRun(&r, (const uint8_t*)z, n, 1);
    }
  }
  pModel->uni = saved;
  embFree(zFixed);
  return 0;
}
