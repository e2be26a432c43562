/*
** unigram.c: the Unigram tokenizer's tables for embed-convert (unigram.h),
** from the pieces and scores of tokenizer.json's model.vocab.
**
** HOW IT WORKS
** The trie of the pieces' bytes is built with linked lists of children,
** each kept sorted by byte, then laid out breadth first as a double array:
** slot s holds (base, check, value), and the child of s by byte c is the
** slot t = base + c, when check[t] == s -- one read a byte for the
** run-time (ext/tokenizer/unigram.c), which walks the trie from each
** character to find every piece that starts there.  Each node's base is
** the lowest that puts all its children on free slots.  value is the id +
** 1 of the piece that ends there (0: none).
** Scores are kept as doubles, as Hugging Face keeps them, so the sums the
** run-time makes are the same bit for bit; the last entry is the unknown
** character's score, the lowest score less 10 (Hugging Face's
** K_UNK_PENALTY).  unigram.bytes maps each byte to its <0xNN> piece (upper
** case hex, as Hugging Face's byte fallback writes it).
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "convert/unigram.h"

#define UNI_NONE 0xFFFFFFFFu

/* A node of the trie as it is built */
typedef struct TmpNode TmpNode;
struct TmpNode {
  uint32_t iChild;       /* first child, or UNI_NONE */
  uint32_t iNext;        /* next sibling (larger byte), or UNI_NONE */
  uint32_t value;        /* id + 1, or 0 */
  uint8_t c;             /* the byte into this node */
};

void embUnigramTablesFree(EmbUniTables *p){
  embFree(p->aScore);
  embFree(p->aTrie);
  embFree(p->aByte);
  memset(p, 0, sizeof(*p));
}

/* The id of piece z[0..n) in the finished double array, or -1 */
static int64_t trieFind(const EmbUniTables *p, const char *z, size_t n){
  uint32_t s = 0;
  size_t i;
  for(i=0; i<n; i++){
    uint32_t b = p->aTrie[3*(uint64_t)s];
    uint64_t t = (uint64_t)b + (uint8_t)z[i];
    if( b==0 || t>=p->nNode || p->aTrie[3*t+1]!=s ) return -1;
    s = (uint32_t)t;
  }
  return p->aTrie[3*(uint64_t)s+2] ? (int64_t)p->aTrie[3*(uint64_t)s+2]-1 : -1;
}

/* Make the double array hold slot i (new slots free).  0 or -1. */
static int daGrow(EmbUniTables *p, uint8_t **paUsed, uint64_t *pnAlloc,
                  uint64_t i){
  uint64_t nNew, k;
  uint32_t *aNew;
  uint8_t *aUsed;
  if( i<*pnAlloc ) return 0;
  nNew = *pnAlloc ? *pnAlloc : 1024;
  while( nNew<=i ) nNew *= 2;
  if( nNew>0x7fffffffu ) return -1;
  aNew = embRealloc(p->aTrie, nNew*3*sizeof(uint32_t));
  if( aNew==0 ) return -1;
  p->aTrie = aNew;
  aUsed = embRealloc(*paUsed, nNew);
  if( aUsed==0 ) return -1;
  *paUsed = aUsed;
  for(k=*pnAlloc; k<nNew; k++){
    aNew[3*k] = 0;
    aNew[3*k+1] = UNI_NONE;
    aNew[3*k+2] = 0;
    aUsed[k] = 0;
  }
  *pnAlloc = nNew;
  return 0;
}

/*
** Lay the trie aTmp[0..nTmp) out as a double array in p->aTrie: slot s is
** (base, check, value); the child of s by byte c is t = base + c when
** check[t] == s.  Nodes are placed breadth first, each one's base the
** lowest that puts all its children on free slots.  0 or -1 (no memory,
** or more than 2^31 slots).
*/
static int daBuild(EmbUniTables *p, const TmpNode *aTmp, uint64_t nTmp){
  uint8_t *aUsed = 0;
  uint32_t *aQueue = 0;                 /* (tmp node, slot) pairs */
  uint64_t nAlloc = 0, nHead = 0, nTail = 0, iFree = 1, nMax = 1;
  int rc = -1;
  aQueue = embMalloc(nTmp*2*sizeof(uint32_t));
  if( aQueue==0 || daGrow(p, &aUsed, &nAlloc, 256) ) goto da_done;
  aUsed[0] = 1;
  aQueue[nTail*2] = 0;
  aQueue[nTail*2+1] = 0;
  nTail++;
  while( nHead<nTail ){
    uint32_t iTmp = aQueue[nHead*2], s = aQueue[nHead*2+1], k;
    uint64_t f, b = 0;
    nHead++;
    p->aTrie[3*(uint64_t)s+2] = aTmp[iTmp].value;
    k = aTmp[iTmp].iChild;
    if( k==UNI_NONE ) continue;
    /* the lowest base whose slots for every child are free */
    for(f=iFree; ; f++){
      uint32_t j;
      int ok = 1;
      if( daGrow(p, &aUsed, &nAlloc, f+256) ) goto da_done;
      if( aUsed[f] || f<aTmp[k].c+1u ) continue;
      b = f - aTmp[k].c;
      for(j=aTmp[k].iNext; j!=UNI_NONE; j=aTmp[j].iNext){
        if( aUsed[b + aTmp[j].c] ){ ok = 0; break; }
      }
      if( ok ) break;
    }
    p->aTrie[3*(uint64_t)s] = (uint32_t)b;
    for(; k!=UNI_NONE; k=aTmp[k].iNext){
      uint64_t t = b + aTmp[k].c;
      aUsed[t] = 1;
      p->aTrie[3*t+1] = s;
      aQueue[nTail*2] = k;
      aQueue[nTail*2+1] = (uint32_t)t;
      nTail++;
      if( t+1>nMax ) nMax = t+1;
    }
    while( iFree<nAlloc && aUsed[iFree] ) iFree++;
  }
  p->nNode = (uint32_t)nMax;
  rc = 0;

da_done:
  embFree(aUsed);
  embFree(aQueue);
  return rc;
}

int embUnigramTables(const char *const *azPiece, const double *aScore,
                     int64_t nPiece, EmbUniTables *p, char **pzErr){
  TmpNode *aTmp = 0;
  uint64_t nByte = 0, nTmp = 1;
  double minScore = INFINITY;
  int64_t i;
  int b, rc = -1;

  memset(p, 0, sizeof(*p));
  *pzErr = 0;
  for(i=0; i<nPiece; i++){
    size_t n = strlen(azPiece[i]);
    nByte += n;
    if( n>(size_t)p->nMaxPiece ) p->nMaxPiece = (int)(n>0x7fffffff ? 0x7fffffff : n);
    if( !isfinite(aScore[i]) ){
      *pzErr = embMprintf("model.vocab: piece %lld ('%.100s') has a score "
                          "that is not a finite number", (long long)i,
                          azPiece[i]);
      return -1;
    }
    if( aScore[i]<minScore ) minScore = aScore[i];
  }
  if( nByte+1>0x7fffffffu ){
    *pzErr = embMprintf("model.vocab: its pieces hold more than 2^31 bytes");
    return -1;
  }
  p->aScore = embMalloc(((uint64_t)nPiece+1)*sizeof(double));
  p->aByte = embMalloc(256*sizeof(uint32_t));
  aTmp = embMalloc((nByte+1)*sizeof(TmpNode));
  if( p->aScore==0 || p->aByte==0 || aTmp==0 ) goto tables_done;
  memcpy(p->aScore, aScore, (size_t)nPiece*sizeof(double));
  p->aScore[nPiece] = minScore - 10.0;

  aTmp[0].iChild = aTmp[0].iNext = UNI_NONE;
  aTmp[0].value = 0;
  aTmp[0].c = 0;
  for(i=0; i<nPiece; i++){
    const uint8_t *z = (const uint8_t*)azPiece[i];
    uint32_t iNode = 0;
    for(; *z; z++){
      uint32_t *pLink = &aTmp[iNode].iChild;
      while( *pLink!=UNI_NONE && aTmp[*pLink].c<*z ) pLink = &aTmp[*pLink].iNext;
      if( *pLink==UNI_NONE || aTmp[*pLink].c!=*z ){
        uint32_t iNew = (uint32_t)nTmp++;
        aTmp[iNew].iChild = UNI_NONE;
        aTmp[iNew].iNext = *pLink;
        aTmp[iNew].value = 0;
        aTmp[iNew].c = *z;
        *pLink = iNew;
      }
      iNode = *pLink;
    }
    aTmp[iNode].value = (uint32_t)i + 1;      /* a later id wins */
  }

  /* the double array, breadth first */
  if( daBuild(p, aTmp, nTmp) ) goto tables_done;

  for(b=0; b<256; b++){
    char zByte[8];
    int64_t id;
    snprintf(zByte, sizeof(zByte), "<0x%02X>", b);
    id = trieFind(p, zByte, 6);
    p->aByte[b] = id<0 ? UNI_NONE : (uint32_t)id;
  }
  rc = 0;

tables_done:
  embFree(aTmp);
  if( rc ) embUnigramTablesFree(p);
  return rc;
}
