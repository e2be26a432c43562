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
#define EMB_FORMAT_VERSION  2       /* what the writer writes */
#define EMB_FORMAT_VERSION_MIN 1    /* the oldest the loader reads: version
                                    ** 2 added I8 and BF16 matrices,
                                    ** token.row, token.weight,
                                    ** pool.skip_id and WordPiece */
#define EMB_FILE_ALIGN      64      /* the writer aligns tensors to this */
#define EMB_LOAD_ALIGN      8       /* the loader requires at least this */

/* Tensor names */
#define EMB_T_MATRIX        "embedding.weight"
#define EMB_T_VOCAB_OFFSETS "vocab.offsets"
#define EMB_T_VOCAB_BYTES   "vocab.bytes"
#define EMB_T_VOCAB_HASH    "vocab.hash"
#define EMB_T_PAD_PREFIX    "_pad."
#define EMB_T_TOKEN_ROW     "token.row"        /* U32 [vocab_size] */
#define EMB_T_TOKEN_WEIGHT  "token.weight"     /* F32 [vocab_size] */

/* Added tokens of the WordPiece kind (the BPE kinds name them bpe.added*) */
#define EMB_T_ADDED         "added.hash"       /* U32 [slots] */
#define EMB_T_ADDED_LEN     "added.lens"       /* U32 [k] */
#define EMB_T_ADDED_1ST     "added.first"      /* U8 [256] */

/* Tensors of the BPE tokenizers (bpe-metaspace, bpe-bytelevel) */
#define EMB_T_BPE_MERGES    "bpe.merges"       /* U32 [slots, 4] */
#define EMB_T_BPE_BYTES     "bpe.bytes"        /* U32 [256] */
#define EMB_T_BPE_ADDED     "bpe.added"        /* U32 [slots] */
#define EMB_T_BPE_ADDED_LEN "bpe.added_lens"   /* U32 [k] */
#define EMB_T_BPE_ADDED_1ST "bpe.added_first"  /* U8 [256] */
#define EMB_BPE_NONE        0xFFFFFFFFu        /* no id, empty merge slot */
#define EMB_BPE_MAX_ADDED_LENS 4096            /* bpe.added_lens entries */
#define EMB_MAX_ADDED_LENS  EMB_BPE_MAX_ADDED_LENS
#define EMB_WP_MAX_CHARS    100000000          /* wordpiece.max_chars */

/* Tensors of the Unigram tokenizer (unigram; it uses added.* as WordPiece) */
#define EMB_T_UNI_SCORES    "unigram.scores"   /* F64 [V + 1] */
#define EMB_T_UNI_TRIE      "unigram.trie"     /* U32 [nodes, 3] */
#define EMB_T_UNI_BYTES     "unigram.bytes"    /* U32 [256] */
#define EMB_T_PRETOK        "pretok.program"   /* U8 [n] */

/* The pre-tokenizer program (pretok.program; FORMAT.md, "Pre-tokenizer
** programs"): steps, each an op byte and its operands, then EMB_PT_END. */
#define EMB_PT_END          0
#define EMB_PT_WSSPLIT      1   /* WhitespaceSplit */
#define EMB_PT_WHITESPACE   2   /* Whitespace: \w+|[^\w\s]+ */
#define EMB_PT_PUNCT        3   /* Punctuation: behavior */
#define EMB_PT_DIGITS       4   /* Digits: individual_digits */
#define EMB_PT_SPLIT        5   /* Split on a string: behavior, invert,
                                ** length (u16 LE), the string */
#define EMB_PT_METASPACE    6   /* Metaspace: scheme, split, length, the
                                ** replacement character (1-4 bytes) */
#define EMB_PT_MAX_STEPS    16  /* steps in a program */
#define EMB_PT_MAX_PATTERN  256 /* bytes of a Split string */

/* SplitDelimiterBehavior, as the program writes it */
#define EMB_SPLIT_REMOVED   0
#define EMB_SPLIT_ISOLATED  1
#define EMB_SPLIT_PREVIOUS  2   /* MergedWithPrevious */
#define EMB_SPLIT_NEXT      3   /* MergedWithNext */
#define EMB_SPLIT_CONTIG    4   /* Contiguous */

/* Metaspace prepend_scheme */
#define EMB_PREPEND_NEVER   0
#define EMB_PREPEND_ALWAYS  1
#define EMB_PREPEND_FIRST   2

/* Tokenizer kinds, as written in __metadata__.tokenizer */
#define EMB_TOKENIZER_WORD      "word"
#define EMB_TOKENIZER_METASPACE "bpe-metaspace"
#define EMB_TOKENIZER_BYTELEVEL "bpe-bytelevel"
#define EMB_TOKENIZER_WORDPIECE "wordpiece"
#define EMB_TOKENIZER_UNIGRAM   "unigram"

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

/*
** The slot where a probe of bpe.merges for the pair (left, right) starts,
** in a table of 2^k slots (mask = 2^k - 1): the high 32 bits of the 64-bit
** product of (left * 2^32 + right) and 0x9E3779B97F4A7C15, masked.
*/
static inline uint32_t embMergeSlot(uint32_t left, uint32_t right,
                                    uint32_t mask){
  uint64_t k = ((uint64_t)left << 32) | right;
  return (uint32_t)((k * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & mask;
}

/*
** The byte-level alphabet (GPT-2's bytes_to_unicode): byte b is written in
** token texts as the character of this code point -- b itself for the
** printable bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF, and 256 + k for
** the k-th of the others in byte order (0x00-0x20, 0x7F-0xA0, 0xAD).
*/
static inline uint32_t embByteLevelChar(uint8_t b){
  if( b<=0x20 ) return 256u + b;
  if( b>=0x7F && b<=0xA0 ) return (uint32_t)b + 162u;
  if( b==0xAD ) return 323u;
  return b;
}

#endif /* EMB_FORMAT_H */
