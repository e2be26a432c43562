/*
** tokenizer.c: the token buffer and the dispatch to each tokenizer kind.
*/
#include "tokenizer.h"
#include "alloc.h"

#include <string.h>

void embTokensInit(EmbTokens *p){
  memset(p, 0, sizeof(*p));
}

void embTokensFree(EmbTokens *p){
  int i;
  embFree(p->aId);
  embFree(p->pScratch);
  for(i=0; i<EMB_TOK_NAUX; i++) embFree(p->apAux[i]);
  embNormBufFree(&p->norm);
  memset(p, 0, sizeof(*p));
}

int embTokensGrow(EmbTokens *p){
  int nNew = p->nIdAlloc ? p->nIdAlloc*2 : 64;
  int *aNew;
  if( p->nIdAlloc>=0x3fffffff ) return -1;
  aNew = embRealloc(p->aId, sizeof(int)*(uint64_t)nNew);
  if( aNew==0 ) return -1;
  p->aId = aNew;
  p->nIdAlloc = nNew;
  return 0;
}

int embTokensScratch(EmbTokens *p, size_t n){
  void *pNew;
  if( n<=p->nScratch ) return 0;
  if( n<4096 ) n = 4096;
  pNew = embMalloc(n);
  if( pNew==0 ) return -1;
  embFree(p->pScratch);
  p->pScratch = pNew;
  p->nScratch = n;
  return 0;
}

int embTokenize(const EmbModel *pModel, const char *z, size_t n, EmbTokens *p){
  switch( pModel->eTokenizer ){
    case EMB_TOK_WORD:
      return embTokenizeWord(pModel, z, n, p);
    case EMB_TOK_METASPACE:
      return embTokenizeMetaspace(pModel, z, n, p);
    case EMB_TOK_BYTELEVEL:
      return embTokenizeByteLevel(pModel, z, n, p);
    case EMB_TOK_WORDPIECE:
      return embTokenizeWordPiece(pModel, z, n, p);
    case EMB_TOK_UNIGRAM:
      return embTokenizeUnigram(pModel, z, n, p);
    default:
      return -1;   /* the loader refuses other kinds */
  }
}
