/*
** unigram.c: the Unigram tokenizer (kind "unigram"), as Hugging Face's
** tokenizers@0.23.2 runs a SentencePiece-style tokenizer.json: added
** tokens, the normalizer (normalize.c), the pre-tokenizers (pretok.c),
** then the Unigram model on each word.
**
**     "Hello world"  ->  (normalizer) "hello world"  ->  (Metaspace)
**     "▁hello" "▁world"  ->  (Viterbi)  ▁hello | ▁world  ->  [id, id]
**
** HOW IT WORKS
** 1. Added tokens are cut out of the raw text first, leftmost-longest
**    (added.c).  Each piece between them is normalized on its own, then
**    pre-tokenized into words; the piece at the start of the text is
**    marked so, for Metaspace's prepend_scheme "first", with how many of
**    its normalized bytes the original's first character became (its
**    first character normalized alone; pretok.h, nLead).
** 2. A word is segmented by Viterbi over the lattice of its pieces, as
**    Hugging Face's Unigram::encode_optimized: from each character start
**    s (left to right), every piece of the vocabulary that starts there
**    (found by walking the trie, unigram.trie, a double array: one read a
**    byte) offers the
**    best path to s plus its score as the path to its end; the first
**    offer wins ties (a later one must be strictly greater).  When no
**    piece is exactly the character at s, the unknown token offers the
**    character alone at unigram.scores[V] (the lowest score less 10).
**    Scores are doubles added in Hugging Face's order, so the sums, and
**    so the ties, come out bit for bit the same.
** 3. The best path is read back from the end.  Consecutive unknown pieces
**    (any piece whose id is unk_id) are fused into one; a fused run's text
**    is looked up whole (it may be a piece), else it becomes its bytes'
**    <0xNN> pieces when byte_fallback is set and all exist, else unk_id.
** 4. A long word does not need a lattice as long as itself: at a place s
**    that no offered piece crosses (every piece offered from before s
**    ends at or before s), every path goes through s, so the best path up
**    to s is final.  It is read back and emitted there, and the lattice
**    starts again at s with s's score carried over; fused unknowns carry
**    across the cut.  Memory stays in the longest stretch without such a
**    place, and every score is the one the whole lattice would have had.
** Ids from the tables are checked against the vocabulary at use; a trie
** entry out of range counts as no piece, and no walk goes deeper than the
** longest piece.
*/
#include "tokenizer.h"
#include "tokenizer/pretok.h"
#include "tokenizer/normalize.h"
#include "format.h"

#include <string.h>

#define UNI_NONE 0xFFFFFFFFu

/* A lattice node: the best path ending here */
typedef struct UniNode UniNode;
struct UniNode {
  double score;          /* its total score */
  uint32_t from;         /* where its last piece starts (from the window's
                         ** base), or UNI_NONE: not reached yet */
  int32_t id;            /* that piece's id */
};

typedef struct UniState UniState;
struct UniState {
  const EmbModel *p;
  EmbTokens *pOut;
  const uint8_t *z;      /* the word */
  size_t n;
  UniNode *aNode;        /* the window: nodes for base .. base+nInit-1 */
  size_t nAlloc;         /* nodes room */
  size_t nInit;
  size_t base;           /* the word offset of aNode[0] */
  int bRun;              /* a run of unknown pieces is pending */
  size_t iRun, eRun;     /* its bytes in the word */
};

/* The score of piece id (below nModelVocab) */
static double uniScore(const EmbModel *p, uint32_t id){
  double d;
  memcpy(&d, p->uni.aScore + 8*(size_t)id, 8);
  return d;
}

/* The child of trie slot iNode by byte c, or UNI_NONE: the double array's
** slot base + c, when its check is iNode */
static inline uint32_t uniChild(const EmbUnigram *u, uint32_t iNode,
                                uint8_t c){
  uint32_t b = embU32At(u->aTrie, 3*(uint64_t)iNode);
  uint64_t t = (uint64_t)b + c;
  if( b==0 || t>=u->nNode || embU32At(u->aTrie, 3*t+1)!=iNode ){
    return UNI_NONE;
  }
  return (uint32_t)t;
}

/* The piece id at trie node iNode, or -1 */
static int uniValue(const EmbUnigram *u, uint32_t iNode){
  uint32_t v = embU32At(u->aTrie, 3*(uint64_t)iNode+2);
  if( v==0 || v-1>=(uint32_t)u->nModelVocab ) return -1;
  return (int)(v-1);
}

/* The id of the piece whose text is z[0..n), or -1 (Hugging Face's
** token_to_ids of the model's vocabulary) */
static int uniLookup(const EmbUnigram *u, const uint8_t *z, size_t n){
  uint32_t iNode = 0;
  size_t i;
  if( n==0 || n>(size_t)u->nMaxPiece ) return -1;
  for(i=0; i<n; i++){
    iNode = uniChild(u, iNode, z[i]);
    if( iNode==UNI_NONE ) return -1;
  }
  return uniValue(u, iNode);
}

/* Emit the unknown text z[0..n): whole when it is a piece, else as bytes
** (byte_fallback), else unk_id. */
static int uniEmitUnknown(UniState *s, const uint8_t *z, size_t n){
  const EmbUnigram *u = &s->p->uni;
  int id = uniLookup(u, z, n);
  size_t i;
  if( id>=0 ) return embTokensPush(s->pOut, id);
  if( u->bByteFallback ){
    for(i=0; i<n; i++){
      uint32_t b = embU32At(u->aByte, z[i]);
      if( b>=(uint32_t)u->nModelVocab ) break;
    }
    if( i==n ){
      for(i=0; i<n; i++){
        if( embTokensPush(s->pOut, (int)embU32At(u->aByte, z[i])) ) return -1;
      }
      return 0;
    }
  }
  return embTokensPush(s->pOut, u->iUnk);
}

/* The end of a pending run of unknown pieces */
static int uniFlushRun(UniState *s){
  if( !s->bRun ) return 0;
  s->bRun = 0;
  return uniEmitUnknown(s, s->z+s->iRun, s->eRun-s->iRun);
}

/*
** Read the best path back from node iEnd (word offset) to the window's
** base and emit its tokens in order.  Returns 0 or -1 (out of memory).
*/
static int uniEmitPath(UniState *s, size_t iEnd){
  const EmbUnigram *u = &s->p->uni;
  uint32_t *aPath;
  size_t nPath = 0, r = iEnd - s->base, k;
  aPath = embTokensAux(s->pOut, EMB_TOK_AUX_PATH, (r+1)*2*sizeof(uint32_t));
  if( aPath==0 ) return -1;
  while( r>0 ){
    const UniNode *pN = &s->aNode[r];
    aPath[2*nPath] = pN->from;
    aPath[2*nPath+1] = (uint32_t)pN->id;
    nPath++;
    r = pN->from;
  }
  r = 0;
  for(k=nPath; k>0; k--){
    size_t iFrom = s->base + aPath[2*(k-1)];
    int id = (int)aPath[2*(k-1)+1];
    size_t iTo = k>1 ? s->base + aPath[2*(k-2)] : iEnd;
    if( id==u->iUnk ){
      if( s->bRun && u->bFuseUnk ){
        s->eRun = iTo;
        continue;
      }
      if( uniFlushRun(s) ) return -1;
      s->bRun = 1;
      s->iRun = iFrom;
      s->eRun = iTo;
      continue;
    }
    if( uniFlushRun(s) || embTokensPush(s->pOut, id) ) return -1;
  }
  return 0;
}

/* Make the window hold node r (from the base), new nodes unreached */
static int uniReach(UniState *s, size_t r){
  if( r<s->nInit ) return 0;
  if( r>=s->nAlloc ){
    size_t nNew = s->nAlloc*2 > r+64 ? s->nAlloc*2 : r+64;
    UniNode *aNew = embTokensAux(s->pOut, EMB_TOK_AUX_LATTICE,
                                 nNew*sizeof(UniNode));
    if( aNew==0 ) return -1;
    s->aNode = aNew;
    s->nAlloc = s->pOut->anAux[EMB_TOK_AUX_LATTICE]/sizeof(UniNode);
  }
  while( s->nInit<=r ){
    s->aNode[s->nInit].from = UNI_NONE;
    s->aNode[s->nInit].score = 0.0;
    s->aNode[s->nInit].id = 0;
    s->nInit++;
  }
  return 0;
}

/* Offer the path to word offset iEnd through a piece from iStart */
static void uniOffer(UniState *s, size_t iStart, size_t iEnd, double score,
                     int id){
  UniNode *pN = &s->aNode[iEnd - s->base];
  if( pN->from==UNI_NONE || score>pN->score ){
    pN->score = score;
    pN->from = (uint32_t)(iStart - s->base);
    pN->id = id;
  }
}

/* pretok.c's callback: the tokens of one word */
static int uniWord(void *pArg, const uint8_t *z, size_t n){
  UniState *s = (UniState*)pArg;
  const EmbUnigram *u = &s->p->uni;
  size_t i = 0, maxEnd = 0, nMax = (size_t)u->nMaxPiece;
  s->z = z;
  s->n = n;
  s->base = 0;
  s->nInit = 0;
  s->bRun = 0;
  if( n>0xFFFFFFF0u ) return -1;     /* window offsets are 32 bits */
  if( uniReach(s, 0) ) return -1;
  s->aNode[0].score = 0.0;
  while( i<n ){
    size_t mblen = z[i]<0xC0 ? 1 : z[i]<0xE0 ? 2 : z[i]<0xF0 ? 3 : 4;
    size_t k, kMax;
    double here;
    uint32_t iNode = 0;
    int bSingle = 0;
    if( mblen>n-i ) mblen = n-i;
    if( maxEnd<=i && i>s->base ){
      /* nothing offered crosses i: the path up to i is final */
      UniNode keep;
      if( uniEmitPath(s, i) ) return -1;
      keep = s->aNode[i - s->base];
      s->base = i;
      s->aNode[0] = keep;
      s->nInit = 1;
    }
    kMax = nMax < n-i ? i+nMax : n;
    if( uniReach(s, (kMax>i+mblen ? kMax : i+mblen) - s->base) ) return -1;
    here = s->aNode[i - s->base].score;
    for(k=i; k<kMax; k++){
      int id;
      iNode = uniChild(u, iNode, z[k]);
      if( iNode==UNI_NONE ) break;
      id = uniValue(u, iNode);
      if( id<0 ) continue;
      uniOffer(s, i, k+1, uniScore(s->p, (uint32_t)id) + here, id);
      if( k+1-i==mblen ) bSingle = 1;
      if( k+1>maxEnd ) maxEnd = k+1;
    }
    if( !bSingle ){
      uniOffer(s, i, i+mblen, u->unkScore + here, u->iUnk);
      if( i+mblen>maxEnd ) maxEnd = i+mblen;
    }
    i += mblen;
  }
  if( n>s->base && uniEmitPath(s, n) ) return -1;
  return uniFlushRun(s);
}

/* One piece of text between added tokens: normalize, pre-tokenize, and
** segment each word. */
static int uniPiece(const EmbModel *p, const uint8_t *z, size_t n,
                    int bAtStart, EmbTokens *pOut){
  UniState s;
  EmbPretokRun r;
  uint8_t aFirst[64];
  size_t nFirst = 0, nLead = 0;
  if( embNormActive(&p->norm) ){
    if( bAtStart && p->uni.bPrependFirst && n>0 ){
      /* what the normalizer makes of the first character alone: those
      ** bytes start the original text (pretok.h, nLead) */
      size_t nChar = z[0]<0xC0 ? 1 : z[0]<0xE0 ? 2 : z[0]<0xF0 ? 3 : 4;
      if( nChar>n ) nChar = n;
      if( embNormApply(&p->norm, (const char*)z, nChar, &pOut->norm) ){
        return -1;
      }
      nFirst = pOut->norm.n;
      if( nFirst<=sizeof(aFirst) ) memcpy(aFirst, pOut->norm.z, nFirst);
    }
    if( embNormApply(&p->norm, (const char*)z, n, &pOut->norm) ) return -1;
    z = (const uint8_t*)pOut->norm.z;
    n = pOut->norm.n;
    /* Otherwise, joined with what follows (as NFC or a longer Replace
    ** joins), the output's first character counts: the default, nLead 0.
    ** Made nothing, it leaves nothing that starts the original text (Strip,
    ** BertNormalizer and Replace record what they drop) -- except under
    ** Precompiled, whose alignment Hugging Face shifts by the characters
    ** it drops, so that the next one takes the first one's place. */
    if( bAtStart && p->uni.bPrependFirst ){
      if( nFirst>0 && nFirst<=sizeof(aFirst) && nFirst<=n
       && memcmp(z, aFirst, nFirst)==0 ){
        nLead = nFirst;
      }else if( nFirst==0 && !p->uni.bNormPrecompiled ){
        nLead = EMB_PRETOK_NO_LEAD;
      }
    }
  }
  if( n==0 ) return 0;
  memset(&s, 0, sizeof(s));
  s.p = p;
  s.pOut = pOut;
  s.aNode = pOut->apAux[EMB_TOK_AUX_LATTICE];
  s.nAlloc = pOut->anAux[EMB_TOK_AUX_LATTICE]/sizeof(UniNode);
  memset(&r, 0, sizeof(r));
  r.aProg = p->uni.aPretok;
  r.nProg = p->uni.nPretok;
  r.xWord = uniWord;
  r.pArg = &s;
  r.pTok = pOut;
  r.nLead = nLead;
  return embPretokRun(&r, z, n, bAtStart) ? -1 : 0;
}

int embTokenizeUnigram(const EmbModel *p, const char *z, size_t n,
                       EmbTokens *pOut){
  size_t i = 0, iPiece = 0;
  if( p->added.nLen==0 ){
    return n>0 ? uniPiece(p, (const uint8_t*)z, n, 1, pOut) : 0;
  }
  while( i<n ){
    int id;
    size_t len = embAddedAt(p, z, n, i, &id);
    if( len==0 ){
      i++;
      continue;
    }
    if( i>iPiece && uniPiece(p, (const uint8_t*)z+iPiece, i-iPiece,
                             iPiece==0, pOut) ){
      return -1;
    }
    if( embTokensPush(pOut, id) ) return -1;
    i += len;
    iPiece = i;
  }
  if( n>iPiece && uniPiece(p, (const uint8_t*)z+iPiece, n-iPiece, iPiece==0,
                           pOut) ){
    return -1;
  }
  return 0;
}
