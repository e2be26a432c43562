/*
** convert.h: what the parts of embed-convert share -- the progress
** callback and the entry point of each subcommand.
**
** Each subcommand's function does the work and returns 0, or non-zero with
** *pzErr set to a message from embMprintf() (the caller frees it with
** embFree()), or to NULL when out of memory.  main.c parses the command
** line, prints, and maps failures to exit codes.
*/
#ifndef EMB_CONVERT_H
#define EMB_CONVERT_H

#include <stdint.h>

/*
** Progress of long work: called with iDone from 0 up to nTotal, not
** necessarily for every step, and always once with iDone==nTotal when the
** stage zStage ("reading vectors", ...) is complete.
*/
typedef void (*EmbProgressFn)(void *pArg, const char *zStage,
                              uint64_t iDone, uint64_t nTotal);

/* Options of "embed-convert glove-wink" */
typedef struct EmbGloveOptions EmbGloveOptions;
struct EmbGloveOptions {
  int bWeight;          /* bake SIF weights into the rows */
  double sifA;          /* the a of a/(a + p(w)) */
  int nPc;              /* common components to remove (0: none) */
  int nPcWords;         /* how many of the most frequent words define them */
};

/* Defaults chosen on STS-B dev (see glove.c) */
#define EMB_GLOVE_SIF_A      1e-4
#define EMB_GLOVE_PC         1
#define EMB_GLOVE_PC_WORDS   0   /* 0: every word */

/* Options of "embed-convert wordllama" */
typedef struct EmbWordllamaOptions EmbWordllamaOptions;
struct EmbWordllamaOptions {
  int nDims;            /* keep the first nDims columns; 0: all */
};

/* Options of "embed-convert model2vec" */
typedef struct EmbModel2VecOptions EmbModel2VecOptions;
struct EmbModel2VecOptions {
  int nDims;            /* keep the first nDims columns; 0: all */
};

/* What a conversion did, for the summary line */
typedef struct EmbConvertStats EmbConvertStats;
struct EmbConvertStats {
  int64_t nVocab;       /* tokens written */
  int nDims;            /* row length */
  uint64_t nByte;       /* size of the file written */
  double pcShare;       /* fraction of the rows' energy in the removed PCs */
  int64_t nMerge;       /* BPE merges written (wordllama) */
  int eTokenizer;       /* EMB_TOK_* written (wordllama, model2vec) */
  int eMatrixType;      /* EMB_DT_* of the matrix (model2vec) */
  int64_t nRow;         /* rows of the matrix (model2vec) */
  int bWeights;         /* token.weight written (model2vec) */
  int bMapping;         /* token.row written (model2vec) */
  int bTruncation;      /* tokenizer.json's truncation ignored (model2vec) */
};

/*
** Convert the wink-embeddings JSON file zIn to the model file zOut.  xProg
** (may be NULL) gets progress reports with pProgArg.  Fills *pStats on
** success.  Errors name zIn and what is wrong with it ("'x.json': vectors:
** 'cat' has 99 numbers, expected 102 (dimensions 100 + norm + index)").
*/
int embGloveWink(const char *zIn, const char *zOut,
                 const EmbGloveOptions *pOpt, EmbProgressFn xProg,
                 void *pProgArg, EmbConvertStats *pStats, char **pzErr);

/*
** Convert WordLlama's weights (zWeights, safetensors, tensor
** "embedding.weight") and tokenizer (zTokenizer, a Hugging Face
** tokenizer.json with a BPE model) to the model file zOut.  Errors name the
** file and what is wrong with it; a tokenizer.json feature that changes
** the ids and that sqlite-embed does not implement is refused with
** "unsupported tokenizer feature: <what>".  xProg and pStats as for
** embGloveWink().
*/
int embWordllama(const char *zWeights, const char *zTokenizer,
                 const char *zOut, const EmbWordllamaOptions *pOpt,
                 EmbProgressFn xProg, void *pProgArg,
                 EmbConvertStats *pStats, char **pzErr);

/*
** Convert the Model2Vec model in folder zDir (model.safetensors,
** tokenizer.json, config.json) to the model file zOut.  Errors name the
** file and what is wrong with it; a tokenizer.json feature that changes
** the ids and that sqlite-embed does not implement is refused with
** "unsupported tokenizer feature: <what>".  xProg and pStats as for
** embGloveWink().
*/
int embModel2Vec(const char *zDir, const char *zOut,
                 const EmbModel2VecOptions *pOpt, EmbProgressFn xProg,
                 void *pProgArg, EmbConvertStats *pStats, char **pzErr);

/*
** Open zPath with the loader (embModelAcquire(), so it is checked exactly
** as the extension checks it) and print what it holds to stdout.  Errors
** are the loader's messages.
*/
int embInfo(const char *zPath, char **pzErr);

#endif /* EMB_CONVERT_H */
