/*
** bytelevel.c: the Llama-3 style BPE tokenizer (kind "bpe-bytelevel"), as
** Hugging Face's tokenizers runs a Llama-3 tokenizer.json: added tokens
** first, then the Llama-3 split regex, the byte-level alphabet, and BPE
** with ignore_merges.
**
**     "Hello world's"  ->  Hello | ␣world | 's  ->  [9906, 1917, 596]
**     "<|eot_id|>"     ->  [128009]
**
** HOW IT WORKS
** 1. The text is cut at the added tokens, found in the raw text, longest
**    first at the leftmost place (bpe.c); each is its id.
** 2. Each piece between them is split as the pre-tokenizer's regex splits
**    it (behaviour Isolated: every match is a piece; the regex matches
**    every character, so there is nothing between matches):
**
**      (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
**      | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
**
**    rxMatch() is that regex written out by hand: the alternatives in
**    order, each with the backtracking its quantifiers allow worked out
**    (see the comments there).  \p{L}, \p{N} are the general categories
**    L* and N*; \s is Oniguruma's (the engine Hugging Face's tokenizers
**    uses): U+0009-000D, U+0085 and the categories Zs, Zl, Zp, which is
**    the White_Space property exactly (unicode_tab.h).  Case-insensitive
**    matching of the contractions folds the letters as Unicode does: the
**    only non-ASCII character that folds to one of them is U+017F (ſ, to s).
** 3. A piece whose byte-level form (each byte written as a character of
**    GPT-2's alphabet, format.h) is in the vocabulary is that one token
**    (ignore_merges).  Otherwise its bytes are the symbols (bpe.bytes) and
**    are merged by rank (bpe.c).
** Matching is linear: each alternative looks at most at the characters
** it consumes and two more.
*/
#include "tokenizer/bpe.h"
#include "format.h"
#include "unicode.h"

#include <string.h>

/* Character classes of the regex */
#define RX_L   1     /* \p{L} */
#define RX_N   2     /* \p{N} */
#define RX_S   4     /* \s */
#define RX_NL  8     /* \r or \n */
#define RX_OTHER(k) (((k) & (RX_L|RX_N|RX_S))==0)   /* [^\s\p{L}\p{N}] */

/* The character at z[i] (i<n): its code point to *pc, its class as the
** return value, its length to *pLen. */
static unsigned rxAt(const uint8_t *z, size_t n, size_t i, uint32_t *pc,
                     size_t *pLen){
  uint32_t c = z[i];
  unsigned u;
  if( c<0x80 ){
    *pc = c;
    *pLen = 1;
    if( (c|0x20)>='a' && (c|0x20)<='z' ) return RX_L;
    if( c>='0' && c<='9' ) return RX_N;
    if( c=='\n' || c=='\r' ) return RX_S|RX_NL;
    if( c==' ' || (c>=0x09 && c<=0x0D) ) return RX_S;
    return 0;
  }else{
    size_t j = i;
    c = embUtf8Next(z, n, &j);
    *pc = c;
    *pLen = j-i;
    u = embUniClass(c);
    return ((u & EMB_CL_L) ? RX_L : 0) | ((u & EMB_CL_N) ? RX_N : 0)
         | ((u & EMB_CL_WS) ? RX_S : 0);
  }
}

/* Only the class of the character at z[i]; its length to *pLen. */
static unsigned rxClassAt(const uint8_t *z, size_t n, size_t i, size_t *pLen){
  uint32_t c;
  return rxAt(z, n, i, &c, pLen);
}

/* The end of the run of characters from i whose class has a bit of m. */
static size_t rxRun(const uint8_t *z, size_t n, size_t i, unsigned m){
  size_t len;
  while( i<n && (rxClassAt(z, n, i, &len) & m) ) i += len;
  return i;
}

/* The end of the run of characters from i of class [^\s\p{L}\p{N}]. */
static size_t rxRunOther(const uint8_t *z, size_t n, size_t i){
  size_t len;
  while( i<n && RX_OTHER(rxClassAt(z, n, i, &len)) ) i += len;
  return i;
}

/* The lower-case ASCII letter that c folds to, or 0. */
static uint32_t rxFold(uint32_t c){
  if( c>='A' && c<='Z' ) return c + 32;
  if( c>='a' && c<='z' ) return c;
  if( c==0x017F ) return 's';          /* ſ LATIN SMALL LETTER LONG S */
  return 0;
}

/*
** The end of the regex's match at z[i] (i<n), which is never empty.
*/
static size_t rxMatch(const uint8_t *z, size_t n, size_t i){
  uint32_t c0, c1, c2;
  size_t l0, l1, l2, j, k;
  unsigned k0, k1;

  k0 = rxAt(z, n, i, &c0, &l0);
  /* (?i:'s|'t|'re|'ve|'m|'ll|'d): the letters after ' differ, so at most
  ** one alternative can match. */
  if( c0=='\'' && i+l0<n ){
    rxAt(z, n, i+l0, &c1, &l1);
    c1 = rxFold(c1);
    if( c1=='s' || c1=='t' || c1=='m' || c1=='d' ) return i+l0+l1;
    if( (c1=='r' || c1=='v' || c1=='l') && i+l0+l1<n ){
      rxAt(z, n, i+l0+l1, &c2, &l2);
      c2 = rxFold(c2);
      if( c2==(c1=='l' ? 'l' : 'e') ) return i+l0+l1+l2;
    }
  }
  /* [^\r\n\p{L}\p{N}]?\p{L}+: with the optional character when one is
  ** here and a letter follows it, else without it. */
  if( (k0 & (RX_L|RX_N|RX_NL))==0 && i+l0<n ){
    k1 = rxClassAt(z, n, i+l0, &l1);
    if( k1 & RX_L ) return rxRun(z, n, i+l0, RX_L);
  }
  if( k0 & RX_L ) return rxRun(z, n, i, RX_L);
  /* \p{N}{1,3} */
  if( k0 & RX_N ){
    j = i + l0;
    for(k=1; k<3 && j<n && (rxClassAt(z, n, j, &l1) & RX_N); k++) j += l1;
    return j;
  }
  /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
  if( c0==' ' && i+1<n && RX_OTHER(rxClassAt(z, n, i+1, &l1)) ){
    return rxRun(z, n, rxRunOther(z, n, i+1), RX_NL);
  }
  if( RX_OTHER(k0) ){
    return rxRun(z, n, rxRunOther(z, n, i), RX_NL);
  }
  /* Here z[i] is white space.  \s*[\r\n]+: \s* backs off from the whole
  ** run of white space to its last \r or \n, which [\r\n]+ takes. */
  k = 0;
  l2 = l0;
  for(j=i; j<n; j+=l1){
    k1 = rxClassAt(z, n, j, &l1);
    if( (k1 & RX_S)==0 ) break;
    if( k1 & RX_NL ) k = j+l1;
    l2 = l1;                         /* the length of the run's last */
  }
  if( k ) return k;
  /* \s+(?!\S): the whole run at the end of the text; else the run but its
  ** last character, when that leaves one.  Else \s+: the run. */
  if( j==n ) return j;
  if( j-i>l0 ) return j-l2;
  return j;
}

/*
** Tokenize one piece of the split: one token when its byte-level form is
** in the vocabulary (ignore_merges), else its bytes merged.
*/
static int blPiece(const EmbModel *p, const uint8_t *z, size_t n,
                   EmbTokens *pOut){
  EmbBpeWord w;
  size_t i;
  if( n==1 ){
    int id = embBpeByteId(p, z[0]);
    return id>=0 ? embTokensPush(pOut, id) : 0;
  }
  if( p->bpe.bIgnoreMerges ){
    uint8_t *zMap;
    size_t m = 0;
    int id;
    if( n>0x3fffffff || embTokensScratch(pOut, 2*n) ) return -1;
    zMap = pOut->pScratch;
    for(i=0; i<n; i++) m += embUtf8Put(embByteLevelChar(z[i]), zMap+m);
    id = embModelLookup(p, (const char*)zMap, (int)m);
    if( id>=0 ) return embTokensPush(pOut, id);
  }
  if( embBpeBegin(pOut, n, &w) ) return -1;
  for(i=0; i<n; i++){
    int id = embBpeByteId(p, z[i]);
    if( id>=0 ) embBpeAdd(&w, (uint32_t)id);
  }
  return embBpeEnd(p, &w, pOut);
}

/* Split a piece of text between added tokens and tokenize each part. */
static int blSegment(const EmbModel *p, const uint8_t *z, size_t n,
                     EmbTokens *pOut){
  size_t i = 0;
  while( i<n ){
    size_t j = rxMatch(z, n, i);
    if( blPiece(p, z+i, j-i, pOut) ) return -1;
    i = j;
  }
  return 0;
}

int embTokenizeByteLevel(const EmbModel *p, const char *z, size_t n,
                         EmbTokens *pOut){
  return embAddedSplit(p, z, n, pOut, blSegment);
}
