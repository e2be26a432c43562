/*
** tokenizer.h: text to token ids, for every tokenizer kind.
**
**     EmbTokens t;
**     embTokensInit(&t);
**     if( embTokenize(pModel, z, n, &t)==0 ){ ... t.aId[0..t.nId) ... }
**     embTokensFree(&t);
**
** The input must be valid UTF-8 (see embUtf8Repair()).  EmbTokens owns its
** id array and scratch space, so one EmbTokens can be reused across calls
** without allocating again once it has grown.
*/
#ifndef EMB_TOKENIZER_H
#define EMB_TOKENIZER_H

#include "model.h"
#include "alloc.h"
#include "tokenizer/normalize.h"

#include <stddef.h>
#include <stdint.h>

/* Aux scratch buffers of EmbTokens, by use (the Unigram kind's) */
#define EMB_TOK_AUX_NORM     0    /* the normalized text */
#define EMB_TOK_AUX_LATTICE  1    /* Viterbi's lattice */
#define EMB_TOK_AUX_PATH     2    /* the best path, backwards */
#define EMB_TOK_AUX_PRETOK   3    /* + step: a pre-tokenizer step's text */
#define EMB_TOK_NAUX         (EMB_TOK_AUX_PRETOK + 16)

typedef struct EmbTokens EmbTokens;
struct EmbTokens {
  int *aId;            /* token ids, nId of them */
  int nId;
  int nIdAlloc;
  void *pScratch;      /* scratch space for the tokenizer, nScratch bytes */
  size_t nScratch;
  EmbNormBuf norm;             /* the normalized text (normalize.h) */
  void *apAux[EMB_TOK_NAUX];   /* more scratch buffers (embTokensAux()) */
  size_t anAux[EMB_TOK_NAUX];
};

void embTokensInit(EmbTokens *p);
void embTokensFree(EmbTokens *p);

/* Append id.  Returns 0, or -1 when out of memory. */
int embTokensGrow(EmbTokens *p);
static inline int embTokensPush(EmbTokens *p, int id){
  if( p->nId>=p->nIdAlloc && embTokensGrow(p) ) return -1;
  p->aId[p->nId++] = id;
  return 0;
}

/* Make p->pScratch at least n bytes.  Returns 0 or -1 (out of memory). */
int embTokensScratch(EmbTokens *p, size_t n);

/* Aux buffer i (EMB_TOK_AUX_*) of at least n bytes, its old contents kept
** (it grows with embRealloc(), at least doubling); NULL when out of
** memory.  Freed with p.  (Inline, so that the pre-tokenizer needs no
** tokenizer.c.) */
static inline void *embTokensAux(EmbTokens *p, int i, size_t n){
  void *pNew;
  if( n<=p->anAux[i] ) return p->apAux[i];
  if( n<1024 ) n = 1024;
  if( n<p->anAux[i]*2 && p->anAux[i]<((size_t)1<<60) ) n = p->anAux[i]*2;
  pNew = embRealloc(p->apAux[i], n);
  if( pNew==0 ) return 0;
  p->apAux[i] = pNew;
  p->anAux[i] = n;
  return pNew;
}

/*
** Tokenize the valid UTF-8 text z[0..n) with pModel's tokenizer, appending
** ids to p (p->nId is not reset).  Returns 0, or -1 when out of memory.
*/
int embTokenize(const EmbModel *pModel, const char *z, size_t n, EmbTokens *p);

/*
** Added tokens (ext/tokenizer/added.c).  When an added token starts at
** z[i] of z[0..n), embAddedAt() returns the length of the longest one and
** sets *pId to its id; else it returns 0 (mostly from one table read).
*/
size_t embAddedFind(const EmbModel *p, const char *z, size_t n, size_t i,
                    int *pId);
static inline size_t embAddedAt(const EmbModel *p, const char *z, size_t n,
                                size_t i, int *pId){
  if( !p->added.aFirst[(uint8_t)z[i]] ) return 0;
  return embAddedFind(p, z, n, i, pId);
}

/*
** Tokenize z[0..n) as Hugging Face does with added tokens: each added token
** found in the raw text (leftmost, longest) is one id, and every stretch of
** text between them goes to xSegment, the kind's own tokenizer.  Returns 0,
** or -1 when xSegment or the id buffer runs out of memory.
*/
int embAddedSplit(const EmbModel *p, const char *z, size_t n, EmbTokens *pOut,
                  int (*xSegment)(const EmbModel*, const uint8_t*, size_t,
                                  EmbTokens*));

/* The tokenizer kinds (ext/tokenizer/...) */
int embTokenizeWord(const EmbModel *pModel, const char *z, size_t n,
                    EmbTokens *p);
int embTokenizeMetaspace(const EmbModel *pModel, const char *z, size_t n,
                         EmbTokens *p);
int embTokenizeByteLevel(const EmbModel *pModel, const char *z, size_t n,
                         EmbTokens *p);
int embTokenizeWordPiece(const EmbModel *pModel, const char *z, size_t n,
                         EmbTokens *p);
int embTokenizeUnigram(const EmbModel *pModel, const char *z, size_t n,
                       EmbTokens *p);

#endif /* EMB_TOKENIZER_H */
