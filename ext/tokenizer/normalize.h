/*
** normalize.h: Hugging Face's normalizers, run from a small program that
** embed-convert compiles out of tokenizer.json's "normalizer"
** (ext/convert/normalizer.c) and stores in the model file.
**
**     EmbNormBuf b;  embNormBufInit(&b);
**     if( embNormActive(&pModel->norm) ){
**       if( embNormApply(&pModel->norm, z, n, &b) ) ...out of memory...
**       ... b.z[0..b.n) is the normalized text, valid UTF-8 ...
**     }
**     embNormBufFree(&b);
**
** THE PROGRAM (models/FORMAT.md, "Normalizers")
** Tensor norm.program is U32 [steps, 8]: one row per step, in the order
** tokenizer.json gives them (a Sequence flattened), each (op, a1 .. a7).
** Tensor norm.data is U8 [n]: the strings and tables the steps point at,
** as (offset, length) pairs into it.  The ops (EMB_NOP_*):
**   BERT           a1 = EMB_NORM_* bits: BertNormalizer (clean_text,
**                  handle_chinese_chars, strip_accents, lowercase)
**   LOWER          Lowercase: each character's full lower case
**   STRIP          a1 = strip_left, a2 = strip_right: Strip (White_Space)
**   STRIP_ACCENTS  StripAccents: drop marks (General_Category M, 9.0)
**   REPLACE        a1, a2 = pattern, a3, a4 = content: Replace with a
**                  string pattern of more than one character; every
**                  occurrence, leftmost first, not overlapping
**   MAP            a1 = offset of a table in norm.data (a multiple of 4),
**                  a2 = its entries; a3 .. a6 = a bit map of the ASCII
**                  characters it maps: Replace steps whose patterns are one
**                  character each, composed into one map.  An entry is
**                  U32 (code point, offset, length), sorted by code point:
**                  that character becomes norm.data[offset .. +length)
**   RUN            a1 = 0: the character a2, a1 = 1: White_Space (Unicode
**                  16.0, Oniguruma's \s); a3 = n; a4, a5 = content:
**                  Replace with the regex "X{n,}" ("X+" is n = 1): each
**                  maximal run of n or more such characters becomes content
**   PREPEND        a1, a2 = the string: Prepend (to a non-empty text)
**   PRECOMPILED    a1 = offset of a hash table (a multiple of 4), a2 = its
**                  slots (a power of two), a3 = offset of a U8[256] table,
**                  a4, a5 = the replacement strings' bytes: SentencePiece's
**                  precompiled_charsmap, the keys of its trie (those HF can
**                  reach) in a table.  A slot is U32 (k0, k1, offset,
**                  length): key bytes 0..3 in k0 (little-endian, zero
**                  padded), byte 4 in k1's low byte, the key's length
**                  (1..5; 0 = empty slot) in k1's second byte; the key
**                  becomes aData[a4+offset .. +length).  Slot = FNV-1a of
**                  the key's bytes mod a2, then linear probing.  Byte b of
**                  the U8 table has bit L-1 set when a key of L bytes
**                  starts with b.
**   NFD, NFKD,     Unicode normalization forms, with Unicode 9.0.0's data
**   NFC, NFKC      (what tokenizers@0.23.2 uses)
** Unused arguments are 0.
*/
#ifndef EMB_TOKENIZER_NORMALIZE_H
#define EMB_TOKENIZER_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#define EMB_NOP_BERT           1
#define EMB_NOP_LOWER          2
#define EMB_NOP_STRIP          3
#define EMB_NOP_STRIP_ACCENTS  4
#define EMB_NOP_REPLACE        5
#define EMB_NOP_MAP            6
#define EMB_NOP_RUN            7
#define EMB_NOP_PREPEND        8
#define EMB_NOP_PRECOMPILED    9
#define EMB_NOP_NFD            10
#define EMB_NOP_NFKD           11
#define EMB_NOP_NFC            12
#define EMB_NOP_NFKC           13
#define EMB_NOP_LAST           13

/* Precompiled's key table: a key is at most this many bytes (HF looks a
** grapheme up whole only when it is shorter than 6 bytes) */
#define EMB_NORM_PC_MAXKEY     5

#define EMB_NORM_STEP_WORDS    8      /* U32 words of a step */
#define EMB_NORM_MAX_STEPS     1024   /* steps of a program, at most */
#define EMB_NORM_MAX_DATA      (1u<<30)

#define EMB_T_NORM_PROGRAM "norm.program"   /* U32 [steps, 8] */
#define EMB_T_NORM_DATA    "norm.data"      /* U8 [n] */

/*
** A normalizer program: views into a model's mapping (or any buffer that
** outlives it), checked by embNormBind()/embNormCheck().  All zero: no
** normalizer.
*/
typedef struct EmbNorm EmbNorm;
struct EmbNorm {
  const uint8_t *aProg;        /* nProg steps of EMB_NORM_STEP_WORDS U32s */
  size_t nProg;                /* steps; 0 = no normalizer */
  const uint8_t *aData;        /* norm.data */
  size_t nData;
};

static inline int embNormActive(const EmbNorm *p){ return p->nProg>0; }

/*
** The output of embNormApply(): z[0..n) the normalized text (followed by
** a NUL), in memory from embMalloc() that the buffer owns.  zAux and aCp
** are scratch space.  Reuse one across calls: it only grows.
*/
typedef struct EmbNormBuf EmbNormBuf;
struct EmbNormBuf {
  char *z;  size_t n;  size_t nAlloc;
  char *zAux;  size_t nAuxAlloc;
  uint32_t *aCp;  size_t nCpAlloc;     /* NFx's code points */
};

void embNormBufInit(EmbNormBuf *p);
void embNormBufFree(EmbNormBuf *p);

/*
** Check a program (aProg, nProg steps) and its data against each other:
** every op known, every (offset, length) inside aData, every map sorted.
** Returns 0 and fills *p, or -1 with *pzErr set to a message from
** embMprintf() naming zLabel and what is wrong (NULL when out of memory).
*/
int embNormCheck(EmbNorm *p, const uint8_t *aProg, size_t nProg,
                 const uint8_t *aData, size_t nData, const char *zLabel,
                 char **pzErr);

/*
** Bind the normalizer tensors of pModel's file (norm.program, norm.data)
** into pModel->norm.  A file without norm.program has no normalizer
** (pModel->norm all zero).  Returns 0, or -1 with *pzErr (embMprintf()'d,
** NULL when out of memory) naming what is malformed.  Reads only the
** program (at most EMB_NORM_MAX_STEPS steps), never the whole data.
*/
struct EmbModel;
int embNormBind(struct EmbModel *pModel, char **pzErr);

/*
** Normalize the valid UTF-8 text z[0..n) with the program p into *pOut
** (pOut->z[0..pOut->n), NUL-terminated; its earlier contents are
** replaced).  Returns 0, or -1 when out of memory (*pOut stays freeable
** and reusable).  The output is valid UTF-8.  z must not point into
** *pOut's buffers.  p must have no steps or have passed embNormCheck().
*/
int embNormApply(const EmbNorm *p, const char *z, size_t n, EmbNormBuf *pOut);

#endif /* EMB_TOKENIZER_NORMALIZE_H */
