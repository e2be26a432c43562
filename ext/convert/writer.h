/*
** writer.h: build a model file (models/FORMAT.md) in memory and write it.
**
**     EmbVocab v;  EmbWriter *w;  char *zErr = 0;
**     embVocabInit(&v, nWord, &zErr);
**     for(...) embVocabAdd(&v, zWord, nWord, &zErr);       ids 0, 1, 2, ...
**     embVocabFinish(&v, &zErr);
**     w = embWriterNew();
**     embWriterMeta(w, "format", "sqlite-embed", &zErr);  ...
**     embWriterTensor(w, "embedding.weight", EMB_DT_F32, 2, aShape, aRow, 1, &zErr);
**     embWriterVocab(w, &v, &zErr);
**     embWriterWrite(w, "out.emb", &nByte, &zErr);
**     embWriterFree(w);
**
** Every function returns 0 on success.  On failure it returns non-zero and
** sets *pzErr to a message from embMprintf() that the caller frees with
** embFree(), or to NULL when out of memory.  Nothing here prints.
*/
#ifndef EMB_CONVERT_WRITER_H
#define EMB_CONVERT_WRITER_H

#include <stdint.h>
#include "model.h"     /* EMB_DT_* */

/*
** A vocabulary under construction: the three tables of FORMAT.md.  Token
** ids are given in the order words are added.  The hash table is kept up
** to date as words are added, so embVocabLookup() works at any time and a
** duplicate word is refused when it is added.
*/
typedef struct EmbVocab EmbVocab;
struct EmbVocab {
  uint32_t nWord;        /* words added so far */
  uint32_t nWordMax;     /* the capacity given to embVocabInit() */
  uint32_t *aOff;        /* nWordMax+1 entries; the first nWord+1 are set */
  uint8_t *aByte;        /* the texts, concatenated */
  uint64_t nByte;        /* bytes used in aByte */
  uint64_t nByteAlloc;   /* bytes allocated for aByte */
  uint32_t *aHash;       /* nSlot slots, each id+1 or 0 */
  uint32_t nSlot;        /* a power of two, >= 2*nWordMax */
};

/* Prepare an empty vocabulary for up to nWordMax words (1 or more).  Free
** it with embVocabClear(), even after an error. */
int embVocabInit(EmbVocab *p, int64_t nWordMax, char **pzErr);

/* Add the word z[0..n) as the next id.  Refused: more than nWordMax words,
** an empty word, invalid UTF-8, a word already present. */
int embVocabAdd(EmbVocab *p, const char *z, int64_t n, char **pzErr);

/* The id of z[0..n), or -1. */
int64_t embVocabLookup(const EmbVocab *p, const char *z, int64_t n);

/* Call once all words are added: when fewer than nWordMax words were added,
** rebuilds the hash table at the smallest power of two >= 2*nWord slots. */
int embVocabFinish(EmbVocab *p, char **pzErr);

/* Free the tables and zero the struct.  Safe on a zeroed struct. */
void embVocabClear(EmbVocab *p);

/* 1 when z[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
** nothing above U+10FFFF), else 0. */
int embIsUtf8(const void *z, uint64_t n);

typedef struct EmbWriter EmbWriter;

/* A new, empty writer, or NULL when out of memory. */
EmbWriter *embWriterNew(void);

/* Free the writer and every buffer it owns.  NULL is a no-op. */
void embWriterFree(EmbWriter *p);

/* Set __metadata__[zKey] = zValue (both copied; zValue UTF-8).  Setting a
** key again replaces its value. */
int embWriterMeta(EmbWriter *p, const char *zKey, const char *zValue,
                  char **pzErr);

/*
** Append a tensor.  eType is EMB_DT_F32, F16, BF16, U32, U8, I8 or F64; nDim is 1 or 2;
** the data is aShape[0] (x aShape[1]) elements in little-endian order, at
** pData.  When bOwn is set the writer takes the buffer, which must come
** from embMalloc(), and frees it with embFree() -- also when this call
** fails.  Otherwise the buffer is borrowed and must stay valid until
** embWriterWrite() returns.  Refused: names that are empty, start with
** "_pad." or "__", or repeat a name already added; sizes that overflow.
** Tensors are written in the order they are added.
*/
int embWriterTensor(EmbWriter *p, const char *zName, int eType, int nDim,
                    const uint64_t *aShape, void *pData, int bOwn,
                    char **pzErr);

/* Move the tables of a finished vocabulary into the writer as the tensors
** vocab.offsets, vocab.bytes and vocab.hash.  *pVocab is left empty (it is
** cleared on failure too). */
int embWriterVocab(EmbWriter *p, EmbVocab *pVocab, char **pzErr);

/*
** Write the file: the header (metadata first, then the tensors in order,
** with _pad.K tensors so that every tensor starts at a multiple of 64),
** then the data.  It goes to "zPath.tmp", which is fsync'ed and renamed
** over zPath, so zPath is either the old file or the complete new one.
** On success sets *pnByte (when not NULL) to the file's size.  On error
** the temporary file is removed.
*/
int embWriterWrite(EmbWriter *p, const char *zPath, uint64_t *pnByte,
                   char **pzErr);

#endif /* EMB_CONVERT_WRITER_H */
