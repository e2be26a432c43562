/*
** bert.c: Hugging Face's BertNormalizer and BertPreTokenizer in one pass,
** as tokenizers@0.23.2 runs them on a BERT-style tokenizer.json.
**
**     "Héllo,  WORLD İ 中文"  ->  hello | , | world | i | 中 | 文
**
** HOW IT WORKS
** BertNormalizer is four steps over the whole text, each optional:
**   clean_text            drop U+0000, U+FFFD and control, format and
**                         private-use characters (not tab, LF, CR); white
**                         space becomes ' '
**   handle_chinese_chars  put a space before and after each of BERT's
**                         "Chinese characters"
**   strip_accents         NFD, then drop the non-spacing marks (Mn)
**   lowercase             each character's full lower case (İ -> i U+0307)
** (strip_accents unset follows lowercase: the converter resolves that.)
** Then BertPreTokenizer splits at white space, which it drops, and cuts out
** every punctuation character as a word of its own.  Each step but NFD's
** reordering works on one character at a time, so this file runs them all
** in one pass over the text, deciding for each character what it becomes
** and appending that to the current word or ending the word, and never
** builds the normalized text.  The character data are those
** tokenizers@0.23.2 uses (unicode.h: Unicode 8.0 categories, 9.0
** decompositions, 17.0 white space and case; tools/gen_unicode.py says why).
**
** NFD's canonical ordering: within a run of characters of non-zero
** combining class, a stable sort by class.  Here a character of non-zero
** class that survives stripping is inserted into the word's trailing run
** at its place (behind every character of the run whose class is not
** greater); a dropped mark of class 0 ends the run, one of non-zero class
** does not.  Such characters are rare (non-spacing marks are dropped), so
** the insertion, which walks back over the run, costs nothing in practice,
** and a word is kept to nCharMax characters, which bounds the run.
**
** ASCII takes a fast path of one table read per byte.  Every case was
** checked against the tokenizer's own normalizeString() and
** preTokenizeString() for every code point, and on random mixtures of
** marks (test/unit_bert.c).
*/
#include "tokenizer/bert.h"
#include "unicode.h"
#include "alloc.h"

#include <string.h>

/* EMB_BERT_* bits of each ASCII character */
#define A_CTRL  EMB_BERT_CTRL
#define A_WS    EMB_BERT_WS
#define A_PUNCT EMB_BERT_PUNCT
#define A_UPPER EMB_BERT_LOWER
static const uint8_t aAscii[128] = {
  /* 0x00 */ A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL,
  /* 0x08 */ A_CTRL, A_WS, A_WS, A_CTRL|A_WS, A_CTRL|A_WS, A_WS, A_CTRL, A_CTRL,
  /* 0x10 */ A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL,
  /* 0x18 */ A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL, A_CTRL,
  /* ' ' */  A_WS, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT,
  /* '(' */  A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT,
  /* '0' */  0, 0, 0, 0, 0, 0, 0, 0,
  /* '8' */  0, 0, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT,
  /* '@' */  A_PUNCT, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER,
  /* 'H' */  A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER,
  /* 'P' */  A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER, A_UPPER,
  /* 'X' */  A_UPPER, A_UPPER, A_UPPER, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT,
  /* '`' */  A_PUNCT, 0, 0, 0, 0, 0, 0, 0,
  /* 'h' */  0, 0, 0, 0, 0, 0, 0, 0,
  /* 'p' */  0, 0, 0, 0, 0, 0, 0, 0,
  /* 'x' */  0, 0, 0, A_PUNCT, A_PUNCT, A_PUNCT, A_PUNCT, A_CTRL,
};

/* Make room for nMore more bytes in the word buffer.  0 or -1 (no memory). */
static int wordRoom(EmbBertWords *p, size_t nMore){
  size_t nNew;
  uint8_t *zNew;
  if( p->nByte+nMore<=*p->pnBuf ) return 0;
  nNew = *p->pnBuf ? *p->pnBuf*2 : 256;
  while( nNew<p->nByte+nMore ) nNew *= 2;
  zNew = embRealloc(*p->ppBuf, nNew);
  if( zNew==0 ) return -1;
  *p->ppBuf = zNew;
  *p->pnBuf = nNew;
  p->z = zNew;
  return 0;
}

/* Hand the word so far (if any) to xWord and start a new one. */
static int wordEnd(EmbBertWords *p){
  int rc = 0;
  if( p->nChar>0 ) rc = p->xWord(p->pArg, p->z, p->nByte, p->nChar);
  p->nByte = 0;
  p->nChar = 0;
  p->iRun = 0;
  return rc;
}

/* The start of the character that ends at z[i] (i>0) */
static size_t charBefore(const uint8_t *z, size_t i){
  do{ i--; }while( i>0 && (z[i] & 0xC0)==0x80 );
  return i;
}

/*
** Append code point c of combining class ccc (0 unless NFD applies) to
** the word: at the end, or for ccc>0 at its place in the trailing run of
** non-starters.  Returns 0 or -1 (no memory).
*/
static int wordPut(EmbBertWords *p, uint32_t c, int ccc){
  uint8_t a[4];
  size_t n, iAt;
  if( ++p->nChar>p->nCharMax ) return 0;     /* too long: only counted */
  if( wordRoom(p, 4) ) return -1;
  n = embUtf8Put(c, a);
  iAt = p->nByte;
  if( ccc==0 ){
    memcpy(p->z+iAt, a, n);
    p->nByte += n;
    p->iRun = p->nByte;
    return 0;
  }
  while( iAt>p->iRun ){
    size_t iPrev = charBefore(p->z, iAt), j = iPrev;
    uint32_t cPrev = embUtf8Next(p->z, iAt, &j);
    if( embBertCcc(cPrev)<=ccc ) break;
    iAt = iPrev;
  }
  memmove(p->z+iAt+n, p->z+iAt, p->nByte-iAt);
  memcpy(p->z+iAt, a, n);
  p->nByte += n;
  return 0;
}

/*
** What code point c (class bits b) becomes once clean_text and
** handle_chinese_chars have been applied: NFD and Mn stripped, lower
** case, then words cut at white space and punctuation.
*/
static int putChar(EmbBertWords *p, uint32_t c, unsigned b){
  const unsigned m = p->mNorm;
  uint32_t aDec[EMB_BERT_MAXNFD];
  int nDec = 1, k, rc;
  aDec[0] = c;
  if( (m & EMB_NORM_STRIP) && (b & EMB_BERT_NFD) ){
    nDec = embBertNfd(c, aDec);
    if( nDec==0 ){ aDec[0] = c; nDec = 1; }
  }
  for(k=0; k<nDec; k++){
    uint32_t d = aDec[k];
    unsigned bd = (d==c) ? b : embBertClass(d);
    int ccc = 0;
    if( (m & EMB_NORM_STRIP) && (bd & EMB_BERT_MN) ){
      if( (bd & EMB_BERT_CCC)==0 ) p->iRun = p->nByte;   /* a starter */
      continue;
    }
    if( bd & EMB_BERT_WS ){
      if( (rc = wordEnd(p))!=0 ) return rc;
      continue;
    }
    if( bd & EMB_BERT_PUNCT ){
      if( (rc = wordEnd(p))!=0 || (rc = wordPut(p, d, 0))!=0
       || (rc = wordEnd(p))!=0 ){
        return rc;
      }
      continue;
    }
    if( (m & EMB_NORM_STRIP) && (bd & EMB_BERT_CCC) ) ccc = embBertCcc(d);
    if( (m & EMB_NORM_LOWER) && (bd & EMB_BERT_LOWER) ){
      uint32_t aLow[2];
      int nLow = embBertLower(d, aLow), j;
      /* lower case makes and moves no non-starter (gen_unicode.py checks) */
      for(j=0; j<nLow; j++){
        if( wordPut(p, aLow[j], 0) ) return -1;
      }
    }else if( wordPut(p, d, ccc) ){
      return -1;
    }
  }
  return 0;
}

int embBertWords(EmbBertWords *p, const uint8_t *z, size_t n){
  const unsigned m = p->mNorm;
  const int bLower = (m & EMB_NORM_LOWER)!=0;
  size_t i = 0;
  int rc;
  p->z = *p->ppBuf;
  p->nByte = 0;
  p->nChar = 0;
  p->iRun = 0;
  while( i<n ){
    uint32_t c = z[i];
    unsigned b;
    if( c<0x80 ){
      i++;
      b = aAscii[c];
      if( b==0 || (b==A_UPPER && bLower) ){
        /* a letter or digit, lower-cased: the fast path */
        if( ++p->nChar<=p->nCharMax ){
          if( p->nByte>=*p->pnBuf && wordRoom(p, 1) ) return -1;
          p->z[p->nByte++] = (uint8_t)(b ? c+32 : c);
          p->iRun = p->nByte;
        }
        continue;
      }
      if( b & A_UPPER ){
        b = 0;                            /* upper case, kept */
      }else if( (b & A_CTRL) && (m & EMB_NORM_CLEAN) ){
        continue;
      }else if( b & A_WS ){
        if( (rc = wordEnd(p))!=0 ) return rc;
        continue;
      }
      if( (rc = putChar(p, c, b))!=0 ) return rc;
      continue;
    }
    c = embUtf8Next(z, n, &i);
    b = embBertClass(c);
    if( (b & EMB_BERT_CTRL) && (m & EMB_NORM_CLEAN) ) continue;
    if( b & EMB_BERT_WS ){
      if( (rc = wordEnd(p))!=0 ) return rc;
      continue;
    }
    if( (b & EMB_BERT_CJK) && (m & EMB_NORM_CHINESE) ){
      if( (rc = wordEnd(p))!=0 || (rc = putChar(p, c, b))!=0
       || (rc = wordEnd(p))!=0 ){
        return rc;
      }
      continue;
    }
    if( (rc = putChar(p, c, b))!=0 ) return rc;
  }
  return wordEnd(p);
}
