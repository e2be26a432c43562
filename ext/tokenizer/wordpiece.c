/*
** wordpiece.c: the WordPiece tokenizer (kind "wordpiece"), as Hugging
** Face's tokenizers runs a BERT-style tokenizer.json (model WordPiece,
** normalizer BertNormalizer, pre-tokenizer BertPreTokenizer).
**
**     "Unaffable [SEP]x"  ->  un ##af ##fa ##ble | [SEP] | x
**
** HOW IT WORKS
** 1. Added tokens ([CLS], [SEP], [MASK], ...) are cut out of the raw text
**    first, leftmost-longest (added.c); each is its id.
** 2. Each piece between them is normalized and split into words (bert.c).
** 3. Each word becomes tokens greedily, longest match first: from the
**    word's start, the longest prefix that is a token of the vocabulary;
**    from each later position, the longest piece that is a token once the
**    continuing_subword_prefix ("##") is put before it.  When some
**    position has no match, or the word has more than max_input_chars_per_
**    word characters, the whole word is the unknown token instead.
** Only the vocabulary's own ids (below wordpiece.vocab) count as matches,
** as in Hugging Face's WordPiece, which does not see the added tokens.
** The candidates at one position are at most wordpiece.max_token_bytes
** long (the longest token).  The whole rest of the word is tried first
** (it is the answer for most words); then the FNV-1a hashes of the
** shorter candidates are computed in one pass over the bytes (the hash
** extends byte by byte), so a position costs one hash pass and at most
** one probe per candidate length.
*/
#include "tokenizer/bert.h"
#include "tokenizer.h"
#include "format.h"

#include <string.h>

/* Candidate ends kept per position; longer tokens are hashed one by one. */
#define WP_MAX_ENDS 256

typedef struct WpState WpState;
struct WpState {
  const EmbModel *p;
  EmbTokens *pOut;
  uint32_t hPrefix;        /* FNV-1a state after the prefix */
};

/*
** The id below wordpiece.vocab whose text is zPre[0..nPre) followed by
** z[0..n), given h, the FNV-1a hash of that text; or -1.
*/
static int wpLookup(const EmbModel *p, uint32_t h, const char *zPre,
                    int nPre, const uint8_t *z, size_t n){
  const uint32_t mask = p->nSlot - 1;
  const uint32_t nModel = (uint32_t)p->wp.nModelVocab;
  const size_t nText = (size_t)nPre + n;
  uint32_t i = h & mask, k;
  for(k=0; k<p->nSlot; k++){
    uint32_t v = embU32At(p->aHash, i);
    if( v==0 ) return -1;
    v--;
    if( v<nModel ){
      uint32_t b = embU32At(p->aVocabOff, v);
      uint32_t e = embU32At(p->aVocabOff, (uint64_t)v+1);
      if( e>=b && e-b==nText && e<=p->nVocabBytes
       && memcmp(p->aVocabBytes+b, zPre, (size_t)nPre)==0
       && memcmp(p->aVocabBytes+b+nPre, z, n)==0 ){
        return (int)v;
      }
    }
    i = (i+1) & mask;
  }
  return -1;
}

/* FNV-1a of z[0..n) continued from state h */
static uint32_t wpHash(uint32_t h, const uint8_t *z, size_t n){
  size_t i;
  for(i=0; i<n; i++){
    h ^= z[i];
    h *= 16777619u;
  }
  return h;
}

/* The longest token at z[i..n) (i>0: with the prefix); its end to *pEnd,
** its id returned, or -1 when there is none. */
static int wpLongest(const WpState *s, const uint8_t *z, size_t n, size_t i,
                     size_t *pEnd){
  const EmbModel *p = s->p;
  const char *zPre = i ? p->wp.zPrefix : "";
  int nPre = i ? p->wp.nPrefix : 0;
  uint32_t aH[WP_MAX_ENDS];
  size_t aEnd[WP_MAX_ENDS];
  size_t nMax, j;
  uint32_t h = i ? s->hPrefix : 2166136261u;
  int nEnd = 0, k;

  if( p->wp.nMaxTokenBytes<=nPre ) return -1;
  nMax = (size_t)(p->wp.nMaxTokenBytes - nPre);
  if( nMax>=n-i ){
    /* the rest of the word is a candidate: most often it is the token */
    int id = wpLookup(p, wpHash(h, z+i, n-i), zPre, nPre, z+i, n-i);
    if( id>=0 ){
      *pEnd = n;
      return id;
    }
    nMax = n-i;
  }
  /* the hashes at each character end, shortest first */
  for(j=i; j<i+nMax; ){
    size_t j0 = j;
    do{ j++; }while( j<n && (z[j] & 0xC0)==0x80 );
    if( j>i+nMax ) break;
    h = wpHash(h, z+j0, j-j0);
    if( nEnd==WP_MAX_ENDS ) break;
    aH[nEnd] = h;
    aEnd[nEnd++] = j;
  }
  /* candidates beyond what the arrays hold (tokens longer than
  ** WP_MAX_ENDS characters): hashed one by one, longest first */
  if( nEnd==WP_MAX_ENDS && j<i+nMax ){
    size_t e = i+nMax;
    while( e>aEnd[nEnd-1] ){
      int id;
      while( e<n && (z[e] & 0xC0)==0x80 ) e--;
      if( e<=aEnd[nEnd-1] ) break;
      id = wpLookup(p, wpHash(i ? s->hPrefix : 2166136261u, z+i, e-i),
                    zPre, nPre, z+i, e-i);
      if( id>=0 ){
        *pEnd = e;
        return id;
      }
      e--;
    }
  }
  for(k=nEnd-1; k>=0; k--){
    int id = wpLookup(p, aH[k], zPre, nPre, z+i, aEnd[k]-i);
    if( id>=0 ){
      *pEnd = aEnd[k];
      return id;
    }
  }
  return -1;
}

/* bert.c's callback: the tokens of one word */
static int wpWord(void *pArg, const uint8_t *z, size_t n, int nChar){
  WpState *s = (WpState*)pArg;
  const EmbModel *p = s->p;
  EmbTokens *pOut = s->pOut;
  int nStart = pOut->nId;
  size_t i = 0;
  if( nChar>p->wp.nMaxChars ) return embTokensPush(pOut, p->wp.iUnk);
  while( i<n ){
    size_t e = i;
    int id = wpLongest(s, z, n, i, &e);
    if( id<0 ){
      pOut->nId = nStart;
      return embTokensPush(pOut, p->wp.iUnk);
    }
    if( embTokensPush(pOut, id) ) return -1;
    i = e;
  }
  return 0;
}

/* A piece of text between added tokens */
static int wpSegment(const EmbModel *p, const uint8_t *z, size_t n,
                     EmbTokens *pOut){
  WpState s;
  EmbBertWords w;
  s.p = p;
  s.pOut = pOut;
  s.hPrefix = wpHash(2166136261u, (const uint8_t*)p->wp.zPrefix,
                     (size_t)p->wp.nPrefix);
  memset(&w, 0, sizeof(w));
  w.mNorm = p->wp.mNorm;
  w.nCharMax = p->wp.nMaxChars;
  w.xWord = wpWord;
  w.pArg = &s;
  w.ppBuf = &pOut->pScratch;
  w.pnBuf = &pOut->nScratch;
  return embBertWords(&w, z, n) ? -1 : 0;
}

int embTokenizeWordPiece(const EmbModel *p, const char *z, size_t n,
                         EmbTokens *pOut){
  return embAddedSplit(p, z, n, pOut, wpSegment);
}
