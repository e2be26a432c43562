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

/* The double array under construction */
typedef struct DaBuild DaBuild;
struct DaBuild {
  EmbUniTables *p;
  uint8_t *aUsed;        /* [nAlloc] 1: taken, 2: free but off the list */
  uint8_t *aFail;        /* [nAlloc] failed tries at each free slot */
  uint32_t *aNext;       /* [nAlloc] the free slots, a list in order */
  uint32_t *aPrev;
  uint64_t nAlloc;
  uint32_t iHead;        /* the first free slot (never 0) */
  uint32_t iTail;        /* the last free slot */
  uint64_t nMax;         /* one past the last slot taken */
};

/* Make the double array hold slot i, new slots free and listed.  0 or -1. */
static int daGrow(DaBuild *d, uint64_t i){
  uint64_t nNew, k;
  uint32_t *aNew;
  if( i<d->nAlloc ) return 0;
  nNew = d->nAlloc ? d->nAlloc : 1024;
  while( nNew<=i ) nNew *= 2;
  if( nNew>0x7fffffffu ) return -1;
  aNew = embRealloc(d->p->aTrie, nNew*3*sizeof(uint32_t));
  if( aNew==0 ) return -1;
  d->p->aTrie = aNew;
  if( (aNew = embRealloc(d->aNext, nNew*sizeof(uint32_t)))==0 ) return -1;
  d->aNext = aNew;
  if( (aNew = embRealloc(d->aPrev, nNew*sizeof(uint32_t)))==0 ) return -1;
  d->aPrev = aNew;
  {
    uint8_t *aUsed = embRealloc(d->aUsed, nNew);
    if( aUsed==0 ) return -1;
    d->aUsed = aUsed;
    aUsed = embRealloc(d->aFail, nNew);
    if( aUsed==0 ) return -1;
    d->aFail = aUsed;
  }
  for(k=d->nAlloc; k<nNew; k++){
    d->p->aTrie[3*k] = 0;
    d->p->aTrie[3*k+1] = UNI_NONE;
    d->p->aTrie[3*k+2] = 0;
    d->aUsed[k] = 0;
    d->aFail[k] = 0;
    if( k==0 ) continue;                   /* slot 0 is the root's */
    d->aPrev[k] = d->iTail;
    d->aNext[k] = UNI_NONE;
    if( d->iTail==UNI_NONE ) d->iHead = (uint32_t)k;
    else d->aNext[d->iTail] = (uint32_t)k;
    d->iTail = (uint32_t)k;
  }
  d->nAlloc = nNew;
  return 0;
}

/* Take free slot t off the list of free slots to try */
static void daUnlink(DaBuild *d, uint64_t t){
  uint32_t a = d->aPrev[t], b = d->aNext[t];
  if( a==UNI_NONE ) d->iHead = b; else d->aNext[a] = b;
  if( b==UNI_NONE ) d->iTail = a; else d->aPrev[b] = a;
}

/* Take free slot t */
static void daTake(DaBuild *d, uint64_t t){
  if( d->aUsed[t]==0 ) daUnlink(d, t);
  d->aUsed[t] = 1;
  if( t+1>d->nMax ) d->nMax = t+1;
}

/*
** Lay the trie aTmp[0..nTmp) out as a double array in p->aTrie: slot s is
** (base, check, value); the child of s by byte c is t = base + c when
** check[t] == s.  Nodes are placed breadth first, each one's base the
** first that puts all its children on free slots, tried at the free slots
** in order (a list of them), at most DA_TRIES of them before the free end
** of the array; a free slot that has failed DA_FAILS tries leaves the list
** (darts' trick), so the list's head does not fill with holes no node
** fits.  0 or -1 (no memory, or more than 2^31 slots).
*/
#define DA_TRIES 256
#define DA_FAILS 16
static int daBuild(EmbUniTables *p, const TmpNode *aTmp, uint64_t nTmp){
  DaBuild d;
  uint32_t *aQueue = 0;                 /* (tmp node, slot) pairs */
  uint64_t nHead = 0, nTail = 0;
  int rc = -1;
  memset(&d, 0, sizeof(d));
  d.p = p;
  d.iHead = d.iTail = UNI_NONE;
  d.nMax = 1;
  aQueue = embMalloc(nTmp*2*sizeof(uint32_t));
  if( aQueue==0 || daGrow(&d, 512) ) goto da_done;
  d.aUsed[0] = 1;
  aQueue[0] = 0;
  aQueue[1] = 0;
  nTail = 1;
  while( nHead<nTail ){
    uint32_t iTmp = aQueue[nHead*2], s = aQueue[nHead*2+1], k, f;
    uint64_t b = 0;
    int nTry = 0;
    nHead++;
    p->aTrie[3*(uint64_t)s+2] = aTmp[iTmp].value;
    k = aTmp[iTmp].iChild;
    if( k==UNI_NONE ) continue;
    /* the first child on a free slot f, the others where they fall */
    for(f=d.iHead; ; ){
      uint32_t j, fNext;
      int ok = 1;
      if( f==UNI_NONE || ++nTry>DA_TRIES ){
        f = (uint32_t)(d.nMax + aTmp[k].c);  /* past everything taken */
      }
      if( daGrow(&d, (uint64_t)f+256) ) goto da_done;
      fNext = d.aUsed[f]==0 ? d.aNext[f] : UNI_NONE;
      if( f>=aTmp[k].c+1u ){
        b = f - aTmp[k].c;
        for(j=aTmp[k].iNext; j!=UNI_NONE && ok; j=aTmp[j].iNext){
          if( d.aUsed[b + aTmp[j].c]==1 ) ok = 0;
        }
        if( ok && d.aUsed[f]!=1 ) break;
      }
      if( d.aUsed[f]==0 && ++d.aFail[f]>=DA_FAILS ){
        daUnlink(&d, f);
        d.aUsed[f] = 2;
      }
      f = fNext;
    }
    p->aTrie[3*(uint64_t)s] = (uint32_t)b;
    for(; k!=UNI_NONE; k=aTmp[k].iNext){
      uint64_t t = b + aTmp[k].c;
      daTake(&d, t);
      p->aTrie[3*t+1] = s;
      aQueue[nTail*2] = k;
      aQueue[nTail*2+1] = (uint32_t)t;
      nTail++;
    }
  }
  p->nNode = (uint32_t)d.nMax;
  rc = 0;

da_done:
  embFree(d.aUsed);
  embFree(d.aFail);
  embFree(d.aNext);
  embFree(d.aPrev);
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
