/*
** metaspace.c: the Llama-2 style BPE tokenizer (kind "bpe-metaspace"), as
** Hugging Face's tokenizers runs WordLlama's tokenizer.json: added tokens
** first, then normalizer Prepend("▁") + Replace(" ", "▁"), no
** pre-tokenizer, BPE with byte fallback.
**
**     "Hello world"  ->  "▁Hello▁world"  ->  ▁Hello ▁world  ->  [15043, 3186]
**     "a</s>b"       ->  "▁a" </s> "▁b"                     ->  [263, 2, 289]
**     "\t"           ->  "▁\t"  ->  ▁ <0x09>                ->  [29871, 12]
**
** HOW IT WORKS
** 1. The text is cut at the added tokens (<s>, </s>, <unk>, ...), found
**    in the raw text, longest first at the leftmost place (bpe.c).  Each
**    added token is its id; each non-empty piece between them is
**    normalized on its own -- Hugging Face normalizes each piece, so each
**    gets its own leading ▁.
** 2. Normalizing is not done in a copy: a piece is read as "▁" followed by
**    its characters with each space read as ▁.
** 3. With no pre-tokenizer a whole piece is one BPE word.  When the model
**    says so (bpe.split: no token has ▁ after another character, which
**    the converter checks), the word is cut before each ▁ that follows
**    another character: no merge can cross such a place, and the pairs on
**    either side never interact, so the merges come out the same and each
**    part is short.  Otherwise the piece is merged whole (O(n log n)).
** 4. Each character is a symbol: its token when the vocabulary has it;
**    else its UTF-8 bytes as <0xNN> tokens (byte fallback); else the
**    unknown token, consecutive ones fused into one when fuse_unk is set.
**    As in Hugging Face, a pending unknown token is emitted before the next
**    known character (or at the end), after any byte-fallback tokens met
**    in between.  Characters with none of these are dropped.
** 5. The symbols are merged by rank (bpe.c) and their ids appended.
*/
#include "tokenizer/bpe.h"
#include "unicode.h"

#include <string.h>

#define META_UTF8   "\xE2\x96\x81"     /* U+2581, the metaspace ▁ */
#define META_CP     0x2581

/* Is the character at z[i] a space or ▁ (read as ▁ after normalizing)?
** Sets *pLen to its byte length. */
static int isMetaAt(const uint8_t *z, size_t n, size_t i, size_t *pLen){
  if( z[i]==' ' ){ *pLen = 1; return 1; }
  if( z[i]==0xE2 && i+2<n && z[i+1]==0x96 && z[i+2]==0x81 ){
    *pLen = 3;
    return 1;
  }
  *pLen = (size_t)(z[i]<0xC0 ? 1 : z[i]<0xE0 ? 2 : z[i]<0xF0 ? 3 : 4);
  if( *pLen>n-i ) *pLen = n-i;
  return 0;
}

/* The state of one word's symbols as they are added */
typedef struct MetaWord MetaWord;
struct MetaWord {
  const EmbModel *p;
  EmbBpeWord w;
  int bUnk;             /* an unknown token is pending */
};

/* Add the symbols of the character z[0..n) whose token is id (-1: not in
** the vocabulary). */
static void metaChar(MetaWord *m, const char *z, size_t n, int id){
  const EmbBpe *b = &m->p->bpe;
  if( id>=0 ){
    if( m->bUnk ){
      embBpeAdd(&m->w, (uint32_t)b->iUnk);
      m->bUnk = 0;
    }
    embBpeAdd(&m->w, (uint32_t)id);
    return;
  }
  if( b->bByteFallback ){
    size_t k;
    for(k=0; k<n && embBpeByteId(m->p, (uint8_t)z[k])>=0; k++){}
    if( k==n ){
      for(k=0; k<n; k++){
        embBpeAdd(&m->w, (uint32_t)embBpeByteId(m->p, (uint8_t)z[k]));
      }
      return;
    }
  }
  if( b->iUnk>=0 ){
    if( m->bUnk && !b->bFuseUnk ) embBpeAdd(&m->w, (uint32_t)b->iUnk);
    m->bUnk = 1;
  }
}

/*
** Tokenize z[0..n) of a normalized piece as one BPE word, read as ▁ first
** when bPrepend, and push its ids.  Returns 0 or -1 (out of memory).
*/
static int metaWord(const EmbModel *p, const uint8_t *z, size_t n,
                    int bPrepend, EmbTokens *pOut){
  MetaWord m;
  size_t i, len;
  /* A character adds at most one symbol per byte, plus one for a pending
  ** unknown token made by a character that added none; but a space read
  ** as ▁ adds three when ▁ itself falls back to bytes. */
  size_t nMax = p->bpe.iMeta>=0 ? n+3 : 3*n+6;
  if( n>0x3fffffff || embBpeBegin(pOut, nMax, &m.w) ) return -1;
  m.p = p;
  m.bUnk = 0;
  if( bPrepend ) metaChar(&m, META_UTF8, 3, p->bpe.iMeta);
  for(i=0; i<n; i+=len){
    if( isMetaAt(z, n, i, &len) ){
      metaChar(&m, META_UTF8, 3, p->bpe.iMeta);
    }else{
      metaChar(&m, (const char*)z+i, len, z[i]<0x80 ? p->bpe.aAscii[z[i]]
               : embModelLookup(p, (const char*)z+i, (int)len));
    }
  }
  if( m.bUnk ) embBpeAdd(&m.w, (uint32_t)p->bpe.iUnk);
  return embBpeEnd(p, &m.w, pOut);
}

/*
** Tokenize a piece of text between added tokens: normalize it (a ▁ in
** front, spaces as ▁) and merge it, in parts cut before each ▁ that
** follows another character when the model allows it.
*/
static int metaPiece(const EmbModel *p, const uint8_t *z, size_t n,
                     EmbTokens *pOut){
  size_t iStart = 0;
  if( !p->bpe.bSplit ) return metaWord(p, z, n, 1, pOut);
  while( iStart<n ){
    size_t i = iStart, len;
    int bMeta = 1;             /* the character before i is ▁ */
    while( i<n ){
      int bThis = isMetaAt(z, n, i, &len);
      if( bThis && !bMeta ) break;
      bMeta = bThis;
      i += len;
    }
    if( metaWord(p, z+iStart, i-iStart, iStart==0, pOut) ) return -1;
    iStart = i;
  }
  return 0;
}

int embTokenizeMetaspace(const EmbModel *p, const char *z, size_t n,
                         EmbTokens *pOut){
  return embAddedSplit(p, z, n, pOut, metaPiece);
}
