/*
** unicode.h: UTF-8 decoding and repair, character classes, lower case.
**
** No SQLite types; embUtf8Repair allocates with embMalloc (alloc.h).
** The tables are Unicode 16.0.0 (ext/unicode_tab.h, generated), the version
** of the regex engine inside Hugging Face's tokenizers (see gen_unicode.py).
*/
#ifndef EMB_UNICODE_H
#define EMB_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Class bits of embUniClass(), as in ext/unicode_tab.h */
#define EMB_CL_L   1    /* letter (L*) */
#define EMB_CL_N   2    /* number (N*) */
#define EMB_CL_M   4    /* combining mark (M*) */
#define EMB_CL_WS  8    /* White_Space */
#define EMB_CL_P   16   /* punctuation or symbol (P*, S*) */
#define EMB_CL_C   32   /* control (Cc) */

/* The class bits of code point c (0 for unassigned, format, private use). */
unsigned embUniClass(uint32_t c);

/* The simple lower-case mapping of c (c itself when there is none). */
uint32_t embUniLower(uint32_t c);

/*
** The character data of Hugging Face's BertNormalizer and BertPreTokenizer,
** of the Unicode versions tokenizers@0.23.2 uses for each (8.0, 9.0 and
** 17.0; see tools/gen_unicode.py): the EMB_BERT_* bits of code point c,
** its full canonical decomposition, its combining class and its full lower
** case.
*/
#define EMB_BERT_CTRL  1    /* clean_text drops it (not tab, LF, CR) */
#define EMB_BERT_WS    2    /* white space (and tab, LF, CR) */
#define EMB_BERT_PUNCT 4    /* ASCII punctuation or P* (8.0) */
#define EMB_BERT_MN    8    /* non-spacing mark (8.0): strip_accents drops */
#define EMB_BERT_CJK   16   /* one of BERT's "Chinese characters" */
#define EMB_BERT_NFD   32   /* has a canonical decomposition (9.0) */
#define EMB_BERT_CCC   64   /* combining class other than 0 (9.0) */
#define EMB_BERT_LOWER 128  /* lower case is another character */
unsigned embBertClass(uint32_t c);

/* The canonical decomposition of c (EMB_BERT_NFD set), fully decomposed and
** canonically ordered, to aOut (room for EMB_BERT_MAXNFD); returns the
** count, or 0 when c has none. */
#define EMB_BERT_MAXNFD 4
int embBertNfd(uint32_t c, uint32_t *aOut);

/* The canonical combining class of c (9.0), 0 for most. */
int embBertCcc(uint32_t c);

/* The full lower-case mapping of c to aOut (room for 2), as Rust's
** char::to_lowercase() (Unicode 17.0): returns 1, or 2 for U+0130 (i,
** U+0307). */
int embBertLower(uint32_t c, uint32_t *aOut);

/*
** Decode the code point at z[*pi] of the VALID UTF-8 string z[0..n) and
** advance *pi past it.  Input that embUtf8Repair() has passed is valid.
*/
static inline uint32_t embUtf8Next(const uint8_t *z, size_t n, size_t *pi){
  size_t i = *pi;
  uint32_t c = z[i++];
  if( c>=0xC0 ){
    int nMore = c>=0xF0 ? 3 : c>=0xE0 ? 2 : 1;
    c &= 0x3F >> nMore;
    while( nMore-- > 0 && i<n ) c = (c<<6) | (z[i++] & 0x3F);
  }
  *pi = i;
  return c;
}

/* Write c as UTF-8 to z (room for 4 bytes); returns the byte count. */
size_t embUtf8Put(uint32_t c, uint8_t *z);

/* 1 when z[0..n) is well-formed UTF-8 (no overlong form, surrogate or code
** point past U+10FFFF), else 0. */
int embUtf8Valid(const char *z, size_t n);

/*
** Make z[0..n) valid UTF-8.  Returns 0 when it already is (nothing
** allocated, *pzOut set to NULL).  Otherwise returns 1 and sets *pzOut to a
** copy from embMalloc() (the caller frees it with embFree()), *pnOut to its
** length, in which each maximal invalid subpart is replaced by U+FFFD (the
** WHATWG decoder's rule, as Hugging Face's tokenizers and browsers do).
** Returns -1 when out of memory.
*/
int embUtf8Repair(const char *z, size_t n, char **pzOut, size_t *pnOut);

#endif /* EMB_UNICODE_H */
