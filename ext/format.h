/*
** format.h: constants of the model file format shared by the loader
** (model.c) and the writer (embed-convert).  models/FORMAT.md is the full
** description; this header is the part both sides compute.
*/
#ifndef EMB_FORMAT_H
#define EMB_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define EMB_FORMAT_NAME     "sqlite-embed"
#define EMB_FORMAT_VERSION  1
#define EMB_FILE_ALIGN      64      /* the writer aligns tensors to this */
#define EMB_LOAD_ALIGN      8       /* the loader requires at least this */

/* Tensor names */
#define EMB_T_MATRIX        "embedding.weight"
#define EMB_T_VOCAB_OFFSETS "vocab.offsets"
#define EMB_T_VOCAB_BYTES   "vocab.bytes"
#define EMB_T_VOCAB_HASH    "vocab.hash"
#define EMB_T_PAD_PREFIX    "_pad."

/* Tokenizer kinds, as written in __metadata__.tokenizer */
#define EMB_TOKENIZER_WORD      "word"
#define EMB_TOKENIZER_METASPACE "bpe-metaspace"
#define EMB_TOKENIZER_BYTELEVEL "bpe-bytelevel"

/* FNV-1a, 32 bits: the hash of vocab.hash (and of every other hash table
** in the file, unless FORMAT.md says otherwise). */
static inline uint32_t embFnv1a(const void *pData, size_t n){
  const uint8_t *a = (const uint8_t*)pData;
  uint32_t h = 2166136261u;
  size_t i;
  for(i=0; i<n; i++){
    h ^= a[i];
    h *= 16777619u;
  }
  return h;
}

#endif /* EMB_FORMAT_H */
