/*
** added.c: the search for added tokens (special or not) in the raw text,
** before a tokenizer proper runs, for every kind that has them (the BPE
** kinds and WordPiece).
**
**     "a<|eot_id|>b"  ->  a | <|eot_id|> (one id) | b
**     "[MASK]ed"      ->  [MASK] (one id) | ed
**
** HOW IT WORKS
** Hugging Face's tokenizers finds added tokens leftmost-longest: at each
** byte, the longest added token that starts there.  The model's tables
** (FORMAT.md, "Added tokens") make that cheap: a byte where no added token
** starts (EmbAdded.aFirst) is answered from one table read; at the others,
** each length some added token has (EmbAdded.aLen, longest first) is looked
** up in the hash of their texts (EmbAdded.aHash, FNV-1a, linear probing),
** and the first hit is the token.  Every probe is bounded by the table's
** slots and every id checked against the vocabulary.
*/
#include "tokenizer.h"
#include "format.h"

#include <string.h>

/* The id of the added token whose text is z[0..n), or -1. */
static int addedLookup(const EmbModel *p, const char *z, size_t n){
  const EmbAdded *a = &p->added;
  uint32_t mask = a->nSlot - 1;
  uint32_t i = embFnv1a(z, n) & mask;
  uint32_t k;
  for(k=0; k<a->nSlot; k++){
    uint32_t v = embU32At(a->aHash, i);
    const char *zTok;
    int nTok;
    if( v==0 ) return -1;
    if( embModelTokenText(p, (int)(v-1), &zTok, &nTok)==0
     && (size_t)nTok==n && memcmp(zTok, z, n)==0 ){
      return (int)(v-1);
    }
    i = (i+1) & mask;
  }
  return -1;
}

size_t embAddedFind(const EmbModel *p, const char *z, size_t n, size_t i,
                    int *pId){
  const EmbAdded *a = &p->added;
  int k;
  for(k=0; k<a->nLen; k++){
    uint32_t len = embU32At(a->aLen, (uint64_t)k);
    int id;
    if( len==0 || len>n-i ) continue;
    id = addedLookup(p, z+i, len);
    if( id>=0 ){
      *pId = id;
      return len;
    }
  }
  return 0;
}

int embAddedSplit(const EmbModel *p, const char *z, size_t n, EmbTokens *pOut,
                  int (*xSegment)(const EmbModel*, const uint8_t*, size_t,
                                  EmbTokens*)){
  size_t i = 0, iPiece = 0;
  if( p->added.nLen==0 ){
    return n>0 ? xSegment(p, (const uint8_t*)z, n, pOut) : 0;
  }
  while( i<n ){
    int id;
    size_t len = embAddedAt(p, z, n, i, &id);
    if( len==0 ){
      i++;
      continue;
    }
    if( i>iPiece && xSegment(p, (const uint8_t*)z+iPiece, i-iPiece, pOut) ){
      return -1;
    }
    if( embTokensPush(pOut, id) ) return -1;
    i += len;
    iPiece = i;
  }
  if( n>iPiece && xSegment(p, (const uint8_t*)z+iPiece, n-iPiece, pOut) ){
    return -1;
  }
  return 0;
}
