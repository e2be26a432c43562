/*
** unigram.c: the Unigram tokenizer's tables for embed-convert (unigram.h),
** from the pieces and scores of tokenizer.json's model.vocab.
**
** HOW IT WORKS
** The trie of the pieces' bytes is built with linked lists of children,
** each kept sorted by byte, then laid out breadth first so that the
** children of every node are consecutive and in byte order: the run-time
** (ext/tokenizer/unigram.c) finds a child by binary search over them, and
** walks the trie from each character to find every piece that starts
** there.  A node holds the id + 1 of the piece that ends there (0: none).
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

/* The id of piece z[0..n) in the finished trie, or -1 */
static int64_t trieFind(const EmbUniTables *p, const char *z, size_t n){
  uint32_t iNode = 0;
  size_t i;
  for(i=0; i<n; i++){
    uint32_t first = p->aTrie[3*iNode], nChild = p->aTrie[3*iNode+1] >> 8, k;
    for(k=0; k<nChild; k++){
      if( (p->aTrie[3*(first+k)+1] & 0xFF)==(uint8_t)z[i] ) break;
    }
    if( k==nChild ) return -1;
    iNode = first + k;
  }
  return p->aTrie[3*iNode+2] ? (int64_t)p->aTrie[3*iNode+2]-1 : -1;
}

int embUnigramTables(const char *const *azPiece, const double *aScore,
                     int64_t nPiece, EmbUniTables *p, char **pzErr){
  TmpNode *aTmp = 0;
  uint32_t *aQueue = 0;
  uint64_t nByte = 0, nTmp = 1, nHead = 0, nTail = 0, nOut = 1;
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

  /* breadth first: each node's children get consecutive numbers */
  p->aTrie = embMalloc(nTmp*3*sizeof(uint32_t));
  aQueue = embMalloc(nTmp*sizeof(uint32_t));
  if( p->aTrie==0 || aQueue==0 ) goto tables_done;
  aQueue[nTail++] = 0;
  while( nHead<nTail ){
    uint32_t iTmp = aQueue[nHead], iOut = (uint32_t)nHead, k, nChild = 0;
    nHead++;
    p->aTrie[3*iOut] = (uint32_t)nOut;
    for(k=aTmp[iTmp].iChild; k!=UNI_NONE; k=aTmp[k].iNext){
      aQueue[nTail++] = k;
      nChild++;
    }
    p->aTrie[3*iOut+1] = (nChild<<8) | aTmp[iTmp].c;
    p->aTrie[3*iOut+2] = aTmp[iTmp].value;
    if( nChild==0 ) p->aTrie[3*iOut] = 0;
    nOut += nChild;
  }
  p->nNode = (uint32_t)nTmp;

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
  embFree(aQueue);
  if( rc ) embUnigramTablesFree(p);
  return rc;
}
