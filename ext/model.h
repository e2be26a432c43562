/*
** model.h: a static embedding model, memory-mapped and shared.
**
**     EmbModel *p;
**     char *zErr;
**     if( embModelAcquire("models/default.emb", &p, &zErr) ){ ...zErr... }
**     int id = embModelLookup(p, "cat", 3);
**     ...
**     embModelRelease(p);
**
** A model is opened from a file (mmap, read-only, shared by every connection
** of the process through a registry keyed by device and inode) or from a
** memory buffer (tests and fuzzers).  Opening validates the header and every
** tensor's place in the file; nothing proportional to the vocabulary is read.
** An EmbModel is immutable after opening, except for its atomic counters,
** so any thread may use it.
*/
#ifndef EMB_MODEL_H
#define EMB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/normalize.h"

/* Tensor element types */
#define EMB_DT_F32  1
#define EMB_DT_F16  2
#define EMB_DT_U32  3
#define EMB_DT_U8   4
#define EMB_DT_BF16 5   /* bfloat16: the high half of an F32 */
#define EMB_DT_I8   6
#define EMB_DT_F64  7   /* the rest only in converters' input files */
#define EMB_DT_I32  8
#define EMB_DT_I64  9

/* Tokenizer kinds (EmbModel.eTokenizer) */
#define EMB_TOK_WORD       1
#define EMB_TOK_METASPACE  2   /* Llama-2 style BPE */
#define EMB_TOK_BYTELEVEL  3   /* Llama-3 style BPE */
#define EMB_TOK_WORDPIECE  4   /* BERT style WordPiece (format version 2) */
#define EMB_TOK_UNIGRAM    5   /* SentencePiece style Unigram (version 2) */

typedef struct EmbTensor EmbTensor;
struct EmbTensor {
  const char *zName;     /* points into the model's copy of the header */
  int eType;             /* EMB_DT_* */
  int nDim;              /* 1 or 2 (0 for a scalar) */
  uint64_t aShape[2];
  const uint8_t *a;      /* the data, in the mapping; 8-byte aligned */
  uint64_t nByte;
};

/*
** The added tokens (special or not) that are found in the raw text before
** the tokenizer proper runs: bpe.added* for the BPE kinds, added.* for
** WordPiece (models/FORMAT.md, "Added tokens"); all zero for the word
** tokenizer.  U32 tables are read with embU32At(); ids from them are
** checked against nVocab at use.
*/
typedef struct EmbAdded EmbAdded;
struct EmbAdded {
  const uint8_t *aHash;        /* U32[nSlot], id+1 or 0 */
  uint32_t nSlot;              /* a power of two */
  const uint8_t *aLen;         /* U32[nLen]: the lengths, longest first */
  int nLen;
  const uint8_t *aFirst;       /* U8[256]: 1 where some token starts */
};

/*
** The tables of the BPE tokenizer kinds, in the mapping (models/FORMAT.md,
** "BPE tokenizers"); all zero for the other kinds.  U32 tables are read
** with embU32At().  The loader checks their shapes; ids read from them are
** checked against nVocab at use.
*/
typedef struct EmbBpe EmbBpe;
struct EmbBpe {
  const uint8_t *aMerge;       /* bpe.merges: nMergeSlot x (left, right,
                               ** merged, rank) */
  uint32_t nMergeSlot;         /* a power of two */
  const uint8_t *aByte;        /* bpe.bytes: U32[256], id of byte b's token */
  int iUnk;                    /* the unknown token's id, or -1 */
  int bFuseUnk;                /* consecutive unknown characters: one unk */
  int bByteFallback;           /* unknown characters as <0xNN> tokens */
  int bIgnoreMerges;           /* a piece found whole is one token */
  int bSplit;                  /* metaspace: text may be cut before each
                               ** U+2581 that follows another character */
  int iMeta;                   /* metaspace: the id of U+2581, or -1 */
  int aAscii[128];             /* metaspace: the id of each ASCII
                               ** character's token, or -1 (filled at open:
                               ** 128 lookups) */
};

/* BertNormalizer options (EmbWordPiece.mNorm) */
#define EMB_NORM_CLEAN    1    /* clean_text */
#define EMB_NORM_CHINESE  2    /* handle_chinese_chars */
#define EMB_NORM_STRIP    4    /* strip_accents (NFD, then no Mn) */
#define EMB_NORM_LOWER    8    /* lowercase */

/*
** The settings of the WordPiece kind (models/FORMAT.md, "The WordPiece
** tokenizer"), from the metadata; all zero for the other kinds.
*/
typedef struct EmbWordPiece EmbWordPiece;
struct EmbWordPiece {
  int iUnk;                    /* the unknown token's id */
  int nModelVocab;             /* ids below this are WordPiece's own */
  int nMaxChars;               /* a longer word is the unknown token */
  int nMaxTokenBytes;          /* the longest token text, in bytes */
  const char *zPrefix;         /* continuing_subword_prefix ("##") */
  int nPrefix;
  unsigned mNorm;              /* EMB_NORM_* */
};

/*
** The tables and settings of the Unigram kind (models/FORMAT.md, "The
** Unigram tokenizer"); all zero for the other kinds.  The loader checks
** their shapes and the pre-tokenizer program; trie entries and ids read
** from the tables are checked at use.
*/
typedef struct EmbUnigram EmbUnigram;
struct EmbUnigram {
  const uint8_t *aScore;       /* unigram.scores: F64[nModelVocab + 1], the
                               ** last the unknown character's score */
  const uint8_t *aTrie;        /* unigram.trie: U32[nNode][3] */
  uint32_t nNode;
  const uint8_t *aByte;        /* unigram.bytes: U32[256], <0xNN> ids */
  int nModelVocab;             /* ids below this are the model's pieces */
  int nMaxPiece;               /* the longest piece, in bytes */
  int iUnk;                    /* unk_id */
  int bFuseUnk;                /* consecutive unknowns make one token */
  int bByteFallback;           /* unknown pieces as <0xNN> tokens */
  double unkScore;             /* aScore[nModelVocab] */
  const uint8_t *aPretok;      /* pretok.program */
  size_t nPretok;
  int bPrependFirst;           /* it has Metaspace prepend_scheme first */
  int bNormPrecompiled;        /* the normalizer has a Precompiled step */
};

typedef struct EmbModel EmbModel;
struct EmbModel {
  char *zPath;                 /* the path it was opened from, or a label */
  const uint8_t *aFile;        /* the whole file, mapped or borrowed */
  uint64_t nFile;
  int iVersion;                /* format_version: 1 or 2 */
  int eTokenizer;              /* EMB_TOK_* */
  const char *zTokenizer;      /* "word", "bpe-metaspace", ... */
  const char *zSource;         /* "glove", "wordllama", ... */
  const char *zDescription;    /* free text, "" when absent */
  int nDims;                   /* row length */
  int nVocab;                  /* number of tokens */
  int eMatrixType;             /* EMB_DT_F32, F16, BF16 or I8 */
  const uint8_t *aMatrix;      /* nRow rows of nDims elements */
  int nRow;                    /* nVocab, unless aTokenRow maps tokens */
  const uint8_t *aTokenRow;    /* token.row: U32[nVocab], token -> row, or
                               ** NULL (row = token); checked at use */
  const uint8_t *aTokenWeight; /* token.weight: F32[nVocab] multiplied into
                               ** each token's row, or NULL */
  int iSkipId;                 /* pool.skip_id: the token embed() leaves
                               ** out of the mean (Model2Vec's unk), or -1 */
  const uint8_t *aVocabOff;    /* U32[nVocab+1], read with memcpy */
  const uint8_t *aVocabBytes;
  uint64_t nVocabBytes;
  const uint8_t *aHash;        /* U32[nSlot] */
  uint32_t nSlot;              /* a power of two */
  int nTensor;
  EmbTensor *aTensor;          /* every tensor in the file but _pad.* */
  int64_t loadUs;              /* microseconds spent opening it */
  EmbUnigram uni;              /* the Unigram kind's tables */
  EmbAdded added;              /* added tokens (BPE kinds, WordPiece) */
  EmbBpe bpe;                  /* the BPE kinds' tables */
  EmbWordPiece wp;             /* the WordPiece kind's settings */
  EmbNorm norm;                /* the normalizer program (normalize.h),
                               ** all zero for none */

  /* Counters, updated with atomic adds by any thread */
  int64_t nCall;               /* embed() calls */
  int64_t nToken;              /* tokens embedded */

  /* Private to model.c */
  char *zHeader;               /* the header's decoded strings (names,
                               ** metadata keys and values), each
                               ** NUL-terminated */
  int nMeta;                   /* __metadata__ entries */
  const char **azMeta;         /* key0, value0, key1, ...: into zHeader */
  int isMapped;                /* aFile is an mmap() to munmap() */
  int nRef;                    /* references held, guarded by the registry */
  uint64_t iDev, iIno;         /* the file's identity, for the registry */
  EmbModel *pNext;             /* in the registry's list */
};

/*
** Open and validate a model held in memory at a[0..n).  The buffer is
** borrowed: it must outlive the model.  zLabel names the model in error
** messages.  On success returns 0 and sets *ppOut (free it with
** embModelFree()).  On failure returns non-zero, sets *ppOut to NULL and
** *pzErr to a message from embMprintf() ("model 'x.emb' is truncated: ...")
** that the caller frees with embFree(), or to NULL when out of memory.
*/
int embModelOpenBuffer(const uint8_t *a, uint64_t n, const char *zLabel,
                       EmbModel **ppOut, char **pzErr);

/* Free a model from embModelOpenBuffer().  NULL is a no-op. */
void embModelFree(EmbModel *p);

/*
** Get the model in file zPath: from the process-wide registry when the same
** file (device and inode) is already mapped, else by opening, mapping and
** validating it.  Each success adds a reference, dropped by
** embModelRelease().  Thread-safe.  Errors as for embModelOpenBuffer(), with
** the path in the message ("cannot open model '/x.emb': No such file ...").
*/
int embModelAcquire(const char *zPath, EmbModel **ppOut, char **pzErr);

/* Add a reference to a model already held. */
void embModelRetain(EmbModel *p);

/* Drop a reference; the last one unmaps the file.  NULL is a no-op. */
void embModelRelease(EmbModel *p);

/* The id of the token whose text is z[0..n), or -1. */
int embModelLookup(const EmbModel *p, const char *z, int n);

/* Set *pz, *pn to the text of token id.  Returns 0, or -1 when id is out of
** range or its offsets are corrupt. */
int embModelTokenText(const EmbModel *p, int id, const char **pz, int *pn);

/* The tensor named zName, or NULL. */
const EmbTensor *embModelTensor(const EmbModel *p, const char *zName);

/* The __metadata__ value for zKey as a NUL-terminated string from the
** model's header copy, or NULL. */
const char *embModelMeta(const EmbModel *p, const char *zKey);

/* Read element i of a U32 table at any alignment. */
static inline uint32_t embU32At(const uint8_t *a, uint64_t i){
  uint32_t x;
  __builtin_memcpy(&x, a + 4*i, 4);
  return x;
}

#endif /* EMB_MODEL_H */
