/*
** pretok.h: Hugging Face's pre-tokenizers as a small program run over the
** normalized text: WhitespaceSplit, Whitespace, Punctuation, Digits, Split
** on a string, Metaspace, and Sequence of these (flattened into steps).
**
**     EmbPretokRun r;  memset(&r, 0, sizeof(r));
**     r.aProg = aProg;  r.nProg = nProg;         the pretok.program tensor
**     r.xWord = myWord;  r.pArg = ...;
**     r.pTok = pTokens;                          scratch buffers live there
**     embPretokRun(&r, z, n, 1);                 "Hey you" -> ▁Hey ▁you
**
** The program is compiled from tokenizer.json by ext/convert/pretok.c and
** its layout is in models/FORMAT.md ("Pre-tokenizer programs").  The loader
** checks it once with embPretokCheck(), so the run-time trusts its shape.
*/
#ifndef EMB_TOKENIZER_PRETOK_H
#define EMB_TOKENIZER_PRETOK_H

#include "tokenizer.h"

#include <stddef.h>
#include <stdint.h>

typedef struct EmbPretokRun EmbPretokRun;
struct EmbPretokRun {
  const uint8_t *aProg;        /* the program, checked by embPretokCheck() */
  size_t nProg;
  /* xWord(pArg, z, n): the next word, z[0..n) (n > 0) valid UTF-8.  A
  ** non-zero return stops the run and is returned. */
  int (*xWord)(void *pArg, const uint8_t *z, size_t n);
  void *pArg;
  EmbTokens *pTok;             /* its aux buffers EMB_TOK_AUX_PRETOK + k
                               ** hold step k's rewritten text */
  size_t nLead;                /* with bAtStart: how many first bytes of
                               ** the text come from the original text's
                               ** first character (what the normalizer made
                               ** of it); 0: the text's first character;
                               ** EMB_PRETOK_NO_LEAD: none (the normalizer
                               ** dropped it) */
};
#define EMB_PRETOK_NO_LEAD ((size_t)-1)

/*
** Run the program over the valid UTF-8 text z[0..n), one piece of the text
** between added tokens.  bAtStart is 1 when the piece starts at the first
** byte of the original text (Metaspace's prepend_scheme "first" prepends
** only there, and to the splits that start with what p->nLead says came
** of the original's first character).  Returns 0, xWord's non-zero return, or -1 when out of
** memory.
*/
int embPretokRun(EmbPretokRun *p, const uint8_t *z, size_t n, int bAtStart);

/*
** Check a program: every op known, every operand inside it, at most
** EMB_PT_MAX_STEPS steps, EMB_PT_END last.  Returns 0, or 1 with a static
** message in *pzWhy.
*/
int embPretokCheck(const uint8_t *aProg, size_t nProg, const char **pzWhy);

/* 1 when a checked program has a Metaspace step with prepend_scheme
** "first" (the tokenizer then works out nLead), else 0. */
int embPretokHasFirst(const uint8_t *aProg, size_t nProg);

#endif /* EMB_TOKENIZER_PRETOK_H */
