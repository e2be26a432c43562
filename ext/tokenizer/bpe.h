/*
** bpe.h: what the two BPE tokenizer kinds (metaspace.c, bytelevel.c) share
** -- the merge engine (the search for added tokens is added.c's).
**
**     EmbBpeWord w;
**     if( embBpeBegin(pTok, nMax, &w) ) return -1;        out of memory
**     embBpeAdd(&w, id); ...                               at most nMax ids
**     if( embBpeEnd(pModel, &w, pTok) ) return -1;         merged ids pushed
**
** The engine works in the scratch space of the EmbTokens it pushes to, so
** once that has grown to fit the longest word, nothing is allocated.
*/
#ifndef EMB_TOKENIZER_BPE_H
#define EMB_TOKENIZER_BPE_H

#include "tokenizer.h"

#include <stddef.h>
#include <stdint.h>

/* A word being merged: arrays carved from EmbTokens.pScratch. */
typedef struct EmbBpeWord EmbBpeWord;
struct EmbBpeWord {
  uint32_t *aId;       /* the symbols' token ids */
  int32_t *aNext;      /* the next live symbol, or -1 */
  int32_t *aPrev;      /* the previous live symbol, or -1 */
  uint32_t *aRank;     /* the rank of the pair (i, aNext[i]), or NONE */
  uint32_t *aMerged;   /* the id that pair merges into */
  int32_t *aHeap;      /* a binary min-heap of positions by (rank, i) */
  int32_t *aHeapIdx;   /* where position i is in aHeap, or -1 */
  int n;               /* symbols added */
  int nMax;            /* room for this many */
};

/*
** Prepare w for up to nMax symbols in pTok's scratch space (which this may
** reallocate: pointers into it taken before are stale).  Returns 0, or -1
** when out of memory or nMax is too large.
*/
int embBpeBegin(EmbTokens *pTok, size_t nMax, EmbBpeWord *w);

/* Append a symbol (the caller keeps to nMax). */
static inline void embBpeAdd(EmbBpeWord *w, uint32_t id){
  w->aId[w->n++] = id;
}

/*
** Merge the symbols of w as Hugging Face's BPE does -- repeatedly the pair
** of lowest rank in bpe.merges, the leftmost of equal ranks -- and push the
** resulting ids to pOut.  O(n log n): an indexed heap holds the one current
** pair at each position.  Returns 0, or -1 when out of memory.
*/
int embBpeEnd(const EmbModel *p, EmbBpeWord *w, EmbTokens *pOut);

/*
** The rank of the merge of (left, right) in p's bpe.merges and, through
** *pMerged, the id it makes; EMB_BPE_NONE when there is none (or the
** table's entry is out of range).
*/
uint32_t embBpeMergeRank(const EmbModel *p, uint32_t left, uint32_t right,
                         uint32_t *pMerged);

/* The id of byte b's token in bpe.bytes, or -1 when none or corrupt. */
static inline int embBpeByteId(const EmbModel *p, uint8_t b){
  uint32_t id = embU32At(p->bpe.aByte, b);
  return id<(uint32_t)p->nVocab ? (int)id : -1;
}

#endif /* EMB_TOKENIZER_BPE_H */
