/*
** bert.h: Hugging Face's BertNormalizer and BertPreTokenizer, as one pass
** that hands each word of the normalized text to a callback.
**
**     EmbBertWords s;  memset(&s, 0, sizeof(s));
**     s.mNorm = EMB_NORM_CLEAN|EMB_NORM_CHINESE|EMB_NORM_STRIP|EMB_NORM_LOWER;
**     s.nCharMax = 100;  s.xWord = myWord;  s.pArg = ...;
**     s.ppBuf = &buf;  s.pnBuf = &nBuf;       the word buffer, grown as needed
**     embBertWords(&s, z, n);                  "Héllo, WORLD" -> hello , world
**
** The normalizer is kept apart from the WordPiece model (wordpiece.c) so
** that other models can use it.
*/
#ifndef EMB_TOKENIZER_BERT_H
#define EMB_TOKENIZER_BERT_H

#include "model.h"       /* EMB_NORM_* */

#include <stddef.h>
#include <stdint.h>

typedef struct EmbBertWords EmbBertWords;
struct EmbBertWords {
  unsigned mNorm;      /* EMB_NORM_*: the BertNormalizer's options */
  int nCharMax;        /* a word's text is kept up to this many characters;
                       ** past them only counted */
  /* xWord(pArg, z, nByte, nChar): the next word, z[0..nByte) its
  ** normalized text (UTF-8), nChar its length in characters.  When nChar
  ** > nCharMax, z holds only part of it.  A non-zero return stops the
  ** pass and is returned. */
  int (*xWord)(void *pArg, const uint8_t *z, size_t nByte, int nChar);
  void *pArg;
  void **ppBuf;        /* the word buffer (embMalloc()'d or NULL), grown
                       ** with embRealloc() as needed; the caller owns it */
  size_t *pnBuf;       /* its size in bytes */

  /* Private to bert.c */
  uint8_t *z;          /* *ppBuf */
  size_t nByte;        /* bytes of the word so far */
  int nChar;           /* characters of the word so far */
  size_t iRun;         /* where the run of non-starters at its end begins */
};

/*
** Normalize the valid UTF-8 text z[0..n) as BertNormalizer does with the
** options p->mNorm, split it as BertPreTokenizer does (white space
** removed, each punctuation character a word of its own), and call
** p->xWord for each word in order.  Returns 0, xWord's non-zero return,
** or -1 when out of memory.
*/
int embBertWords(EmbBertWords *p, const uint8_t *z, size_t n);

#endif /* EMB_TOKENIZER_BERT_H */
