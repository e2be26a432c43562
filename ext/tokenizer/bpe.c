/*
** bpe.c: the merge engine of the BPE tokenizers, shared by metaspace.c
** (Llama-2 style) and bytelevel.c (Llama-3).
**
**     "▁lower" as symbols ▁ l o w e r, merges ranked (e r)=0, (▁ l)=1,
**     (o w)=2, (▁l ow)=3, (▁low er)=4:  ▁ l o w er -> ▁l o w er ->
**     ▁l ow er -> ▁low er -> ▁lower
**
** HOW IT WORKS
** A word is a doubly linked list of symbols (token ids), one per
** character or byte to begin with.  Each position i holds the rank of the
** pair (i, next(i)) in bpe.merges, and the positions with a mergeable
** pair sit in a binary min-heap ordered by (rank, position): the top is the
** lowest-ranked pair, the leftmost among equals -- the pair Hugging Face's
** BPE merges next.  Merging it replaces the left symbol by the merged id,
** unlinks the right one (and takes it out of the heap), and recomputes the
** pairs that changed: at the merged position and at its predecessor.  So
** the heap never holds a stale pair and each merge costs O(log n).  A pair
** only ever grows, so this gives the same merges in the same order as
** Hugging Face's heap with lazily discarded entries.
**
** bpe.merges is an open-addressing table keyed by (left id, right id)
** (FORMAT.md "BPE tokenizers"); a probe visits at most every slot once.
*/
#include "tokenizer/bpe.h"
#include "format.h"

#include <string.h>

/* Words of at most this many symbols are merged by scanning, not with the
** heap (both give the same merges; the scan is faster when short). */
#ifndef BPE_SHORT
# define BPE_SHORT 24
#endif

uint32_t embBpeMergeRank(const EmbModel *p, uint32_t left, uint32_t right,
                         uint32_t *pMerged){
  const uint8_t *a = p->bpe.aMerge;
  uint32_t mask = p->bpe.nMergeSlot - 1;
  uint32_t i = embMergeSlot(left, right, mask);
  uint32_t k;
  for(k=0; k<p->bpe.nMergeSlot; k++){
    uint32_t aSlot[4];
    memcpy(aSlot, a + 16*(size_t)i, 16);
    if( aSlot[3]==EMB_BPE_NONE ) return EMB_BPE_NONE;
    if( aSlot[0]==left && aSlot[1]==right ){
      if( aSlot[2]>=(uint32_t)p->nVocab ) return EMB_BPE_NONE;
      *pMerged = aSlot[2];
      return aSlot[3];
    }
    i = (i+1) & mask;
  }
  return EMB_BPE_NONE;
}

int embBpeBegin(EmbTokens *pTok, size_t nMax, EmbBpeWord *w){
  uint8_t *a;
  if( nMax>0x3fffffff ) return -1;
  if( nMax==0 ) nMax = 1;
  if( embTokensScratch(pTok, 7*sizeof(uint32_t)*nMax) ) return -1;
  a = pTok->pScratch;
  w->aId = (uint32_t*)a;
  w->aNext = (int32_t*)(a + 4*nMax);
  w->aPrev = (int32_t*)(a + 8*nMax);
  w->aRank = (uint32_t*)(a + 12*nMax);
  w->aMerged = (uint32_t*)(a + 16*nMax);
  w->aHeap = (int32_t*)(a + 20*nMax);
  w->aHeapIdx = (int32_t*)(a + 24*nMax);
  w->n = 0;
  w->nMax = (int)nMax;
  return 0;
}

/* Is position i before position j in the heap's order? */
static int heapLess(const EmbBpeWord *w, int32_t i, int32_t j){
  if( w->aRank[i]!=w->aRank[j] ) return w->aRank[i]<w->aRank[j];
  return i<j;
}

static void heapSet(EmbBpeWord *w, int k, int32_t i){
  w->aHeap[k] = i;
  w->aHeapIdx[i] = k;
}

static void heapUp(EmbBpeWord *w, int k){
  int32_t i = w->aHeap[k];
  while( k>0 ){
    int kUp = (k-1)/2;
    if( !heapLess(w, i, w->aHeap[kUp]) ) break;
    heapSet(w, k, w->aHeap[kUp]);
    k = kUp;
  }
  heapSet(w, k, i);
}

static void heapDown(EmbBpeWord *w, int nHeap, int k){
  int32_t i = w->aHeap[k];
  for(;;){
    int kc = 2*k+1;
    if( kc>=nHeap ) break;
    if( kc+1<nHeap && heapLess(w, w->aHeap[kc+1], w->aHeap[kc]) ) kc++;
    if( !heapLess(w, w->aHeap[kc], i) ) break;
    heapSet(w, k, w->aHeap[kc]);
    k = kc;
  }
  heapSet(w, k, i);
}

/* Take position i out of the heap (when it is in). */
static void heapRemove(EmbBpeWord *w, int *pnHeap, int32_t i){
  int k = w->aHeapIdx[i];
  int32_t iLast;
  if( k<0 ) return;
  w->aHeapIdx[i] = -1;
  (*pnHeap)--;
  if( k==*pnHeap ) return;
  iLast = w->aHeap[*pnHeap];
  heapSet(w, k, iLast);
  heapUp(w, w->aHeapIdx[iLast]);
  heapDown(w, *pnHeap, w->aHeapIdx[iLast]);
}

/* Recompute the pair at position i and put it in, move it in, or take it
** out of the heap accordingly. */
static void pairUpdate(const EmbModel *p, EmbBpeWord *w, int *pnHeap,
                       int32_t i){
  int32_t j = w->aNext[i];
  uint32_t r = EMB_BPE_NONE;
  if( j>=0 ) r = embBpeMergeRank(p, w->aId[i], w->aId[j], &w->aMerged[i]);
  w->aRank[i] = r;
  if( r==EMB_BPE_NONE ){
    heapRemove(w, pnHeap, i);
  }else if( w->aHeapIdx[i]<0 ){
    heapSet(w, *pnHeap, i);
    (*pnHeap)++;
    heapUp(w, *pnHeap-1);
  }else{
    heapUp(w, w->aHeapIdx[i]);
    heapDown(w, *pnHeap, w->aHeapIdx[i]);
  }
}

/*
** embBpeEnd() for a short word: the same merges in the same order, found
** by scanning the pairs for the lowest rank (the first of equals) instead
** of keeping a heap -- faster for the few symbols of most words.  The
** symbols stay packed in aId[0..n); aRank[i], aMerged[i] are pair (i, i+1).
*/
static int bpeEndShort(const EmbModel *p, EmbBpeWord *w, EmbTokens *pOut){
  uint32_t *aId = w->aId, *aRank = w->aRank, *aMerged = w->aMerged;
  int n = w->n, i;
  for(i=0; i<n-1; i++){
    aRank[i] = embBpeMergeRank(p, aId[i], aId[i+1], &aMerged[i]);
  }
  while( n>1 ){
    int iBest = -1;
    uint32_t rBest = EMB_BPE_NONE;
    for(i=0; i<n-1; i++){
      if( aRank[i]<rBest ){
        rBest = aRank[i];
        iBest = i;
      }
    }
    if( iBest<0 ) break;
    aId[iBest] = aMerged[iBest];
    n--;
    for(i=iBest+1; i<n; i++){
      aId[i] = aId[i+1];
      aRank[i] = aRank[i+1];
      aMerged[i] = aMerged[i+1];
    }
    if( iBest<n-1 ){
      aRank[iBest] = embBpeMergeRank(p, aId[iBest], aId[iBest+1],
                                     &aMerged[iBest]);
    }
    if( iBest>0 ){
      aRank[iBest-1] = embBpeMergeRank(p, aId[iBest-1], aId[iBest],
                                       &aMerged[iBest-1]);
    }
  }
  for(i=0; i<n; i++){
    if( embTokensPush(pOut, (int)aId[i]) ) return -1;
  }
  return 0;
}

int embBpeEnd(const EmbModel *p, EmbBpeWord *w, EmbTokens *pOut){
  int n = w->n, nHeap = 0, k;
  int32_t i;
  if( n==0 ) return 0;
  if( n==1 ) return embTokensPush(pOut, (int)w->aId[0]);
  if( n<=BPE_SHORT ) return bpeEndShort(p, w, pOut);
  for(i=0; i<n; i++){
    w->aNext[i] = i+1;
    w->aPrev[i] = i-1;
    w->aHeapIdx[i] = -1;
  }
  w->aNext[n-1] = -1;
  w->aRank[n-1] = EMB_BPE_NONE;
  for(i=0; i<n-1; i++){
    w->aRank[i] = embBpeMergeRank(p, w->aId[i], w->aId[i+1], &w->aMerged[i]);
    if( w->aRank[i]!=EMB_BPE_NONE ) heapSet(w, nHeap++, i);
  }
  for(k=nHeap/2-1; k>=0; k--) heapDown(w, nHeap, k);

  while( nHeap>0 ){
    int32_t iTop = w->aHeap[0];
    int32_t j = w->aNext[iTop];          /* >= 0: only pairs are queued */
    w->aId[iTop] = w->aMerged[iTop];
    heapRemove(w, &nHeap, j);
    w->aNext[iTop] = w->aNext[j];
    if( w->aNext[j]>=0 ) w->aPrev[w->aNext[j]] = iTop;
    pairUpdate(p, w, &nHeap, iTop);
    if( w->aPrev[iTop]>=0 ) pairUpdate(p, w, &nHeap, w->aPrev[iTop]);
  }
  for(i=0; i>=0; i=w->aNext[i]){
    if( embTokensPush(pOut, (int)w->aId[i]) ) return -1;
  }
  return 0;
}
