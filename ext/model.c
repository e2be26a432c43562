/*
** model.c: open, validate and share static embedding models (.emb files).
**
**     EmbModel *p;
**     char *zErr;
**     if( embModelAcquire("models/glove.emb", &p, &zErr) ){
**       ... "model 'models/glove.emb' is truncated: ..." ...; embFree(zErr);
**     }else{
**       int id = embModelLookup(p, "cat", 3);     -- -1 if not in the vocabulary
**       embModelRelease(p);
**     }
**
** HOW IT WORKS
** A model file (models/FORMAT.md) is a safetensors container: a u64 header
** length, a JSON header, then the tensors' bytes.  embModelOpenBuffer()
** checks the header length against the file, parses the header with
** safetensors.c, then checks the metadata (format, version, tokenizer,
** dims, vocab_size) and every tensor's dtype, shape, bounds and alignment.
** The tensors themselves are used in place: opening never reads anything
** proportional to the vocabulary, so a large model opens in microseconds.
** What cannot be checked at open without reading the whole vocabulary (the
** token offsets, the ids in the hash table) is checked at each use, so a
** corrupt file gives wrong answers at worst, never an out-of-bounds read.
**
** embModelAcquire() maps a file once per process: a registry, a list
** guarded by a mutex, holds every mapped model keyed by the file's device
** and inode, with a reference count.  Acquiring a file already mapped (by
** any path, hard links included) returns the same EmbModel; the last
** embModelRelease() unmaps it.  Models are immutable once open, so the
** threads sharing one need no lock to use it.
*/
#include "model.h"
#include "format.h"
#include "tokenizer/normalize.h"
#include "tokenizer/pretok.h"
#include "safetensors.h"
#include "alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef EMB_STANDALONE
# include <stdarg.h>
#endif

#ifndef O_CLOEXEC
# define O_CLOEXEC 0
#endif

/* The largest JSON header accepted.  Real headers are a few kilobytes; the
** bound keeps a corrupt length from making us allocate gigabytes. */
#define EMB_MAX_HEADER (100*1024*1024)

#define EMB_MAX_DIMS 65536

/* Values printed with %llu */
#define LL(x) ((unsigned long long)(x))

#if defined(EMB_STANDALONE) && !defined(EMB_FAULT_ALLOC)
/*
** embMprintf() and embVmprintf() for programs built without SQLite: a
** printf() into memory from malloc(), which the caller frees with
** embFree().  Return NULL when out of memory.  (With EMB_FAULT_ALLOC the
** program defines them on its failable allocator: alloc.h.)
*/
char *embVmprintf(const char *zFmt, va_list ap){
  char *z = 0;
  if( vasprintf(&z, zFmt, ap)<0 ) z = 0;
  return z;
}

char *embMprintf(const char *zFmt, ...){
  va_list ap;
  char *z;
  va_start(ap, zFmt);
  z = embVmprintf(zFmt, ap);
  va_end(ap);
  return z;
}
#endif

/* A copy of z from embMalloc(), or NULL when out of memory. */
static char *modelStrdup(const char *z){
  size_t n = strlen(z) + 1;
  char *zCopy = embMalloc(n);
  if( zCopy ) memcpy(zCopy, z, n);
  return zCopy;
}

/*
** The value of z, a metadata string that must be a plain decimal number
** (digits only: no sign, space or leading zero) from 1 to nMax, or -1.
*/
static int64_t modelDecimal(const char *z, int64_t nMax){
  int64_t v = 0;
  int i;
  if( z[0]<'1' || z[0]>'9' ) return -1;
  for(i=0; z[i]; i++){
    if( z[i]<'0' || z[i]>'9' ) return -1;
    v = v*10 + (z[i]-'0');
    if( v>nMax ) return -1;
  }
  return v;
}

/* Write a shape as "[5, 4]" into zBuf[0..nBuf) and return zBuf. */
static const char *modelShape(char *zBuf, size_t nBuf, const uint64_t *aShape,
                              int nDim){
  size_t j = 0;
  int k;
  zBuf[j++] = '[';
  for(k=0; k<nDim && j<nBuf; k++){
    int m = snprintf(zBuf+j, nBuf-j, "%s%llu", k ? ", " : "", LL(aShape[k]));
    if( m<0 ) break;
    j += (size_t)m;
  }
  if( j+2<=nBuf ){
    zBuf[j++] = ']';
    zBuf[j] = 0;
  }else{
    zBuf[nBuf-1] = 0;
  }
  return zBuf;
}

/* Read a little-endian u64 at a. */
static uint64_t modelU64At(const uint8_t *a){
  uint64_t x = 0;
  int k;
  for(k=7; k>=0; k--) x = (x<<8) | a[k];
  return x;
}

/*
** Check tensor zName of p: present, of dtype eType (or eType2 when not 0).
** Returns it, or NULL with *pzErr set (NULL for out of memory).
*/
static const EmbTensor *modelRequire(const EmbModel *p, const char *zName,
                                     int eType, int eType2, char **pzErr){
  const EmbTensor *pT = embModelTensor(p, zName);
  if( pT==0 ){
    *pzErr = embMprintf("model '%s' has no tensor '%s'", p->zPath, zName);
    return 0;
  }
  if( pT->eType!=eType && (eType2==0 || pT->eType!=eType2) ){
    *pzErr = embMprintf("model '%s': tensor '%s' has dtype %s but needs %s%s%s",
                        p->zPath, zName, embStDtypeName(pT->eType),
                        embStDtypeName(eType), eType2 ? " or " : "",
                        eType2 ? embStDtypeName(eType2) : "");
    return 0;
  }
  return pT;
}

/*
** A U32 table zName of p with one dimension: present, and of exactly nWant
** entries, or (nWant 0) of a power-of-two count from 1 to 2^31.  Returns
** it, or NULL with *pzErr set (NULL for out of memory).
*/
static const EmbTensor *modelRequire1(const EmbModel *p, const char *zName,
                                      int eType, uint64_t nWant,
                                      char **pzErr){
  const EmbTensor *pT = modelRequire(p, zName, eType, 0, pzErr);
  char zShape[128];
  if( pT==0 ) return 0;
  if( pT->nDim!=1 && nWant==0 ){
    *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs one "
                        "dimension", p->zPath, zName,
                        modelShape(zShape, sizeof(zShape), pT->aShape,
                                   pT->nDim));
    return 0;
  }
  if( pT->nDim!=1 || (nWant && pT->aShape[0]!=nWant) ){
    *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs [%llu]",
                        p->zPath, zName,
                        modelShape(zShape, sizeof(zShape), pT->aShape,
                                   pT->nDim), LL(nWant));
    return 0;
  }
  if( nWant==0 && (pT->aShape[0]==0 || pT->aShape[0]>((uint64_t)1<<31)
                   || (pT->aShape[0] & (pT->aShape[0]-1))!=0) ){
    *pzErr = embMprintf("model '%s': tensor '%s' has %llu slots, which is not "
                        "a power of two from 1 to 2^31", p->zPath, zName,
                        LL(pT->aShape[0]));
    return 0;
  }
  return pT;
}

/*
** Check every tensor in h and copy those not named _pad.* to p->aTensor.
** iData is where the data section starts in the file.  Returns 0, or 1
** with *pzErr set (NULL for out of memory).
*/
static int modelCheckTensors(EmbModel *p, const EmbStHeader *h,
                             uint64_t iData, char **pzErr){
  uint64_t nData = p->nFile - iData;
  char zShape[128];
  int i, k, nKeep = 0;
  const size_t nPad = sizeof(EMB_T_PAD_PREFIX) - 1;

  for(i=0; i<h->nTensor; i++){
    if( strncmp(h->aTensor[i].zName, EMB_T_PAD_PREFIX, nPad)!=0 ) nKeep++;
  }
  if( nKeep>0 ){
    p->aTensor = embMalloc((uint64_t)nKeep*sizeof(EmbTensor));
    if( p->aTensor==0 ) return 1;
    memset(p->aTensor, 0, (size_t)nKeep*sizeof(EmbTensor));
  }
  for(i=0; i<h->nTensor; i++){
    const EmbStTensor *t = &h->aTensor[i];
    int isPad = strncmp(t->zName, EMB_T_PAD_PREFIX, nPad)==0;
    uint64_t nElem = 1, nByte, nSize = (uint64_t)embStDtypeSize(t->eType);
    int isZero = 0, isBig = 0;
    EmbTensor *pT;

    if( t->iBegin>t->iEnd ){
      *pzErr = embMprintf("model '%s': tensor '%s' has data_offsets "
                          "[%llu, %llu], which end before they begin",
                          p->zPath, t->zName, LL(t->iBegin), LL(t->iEnd));
      return 1;
    }
    if( t->iEnd>nData ){
      *pzErr = embMprintf("model '%s' is truncated: tensor '%s' ends at byte "
                          "%llu of the data section, which has %llu bytes",
                          p->zPath, t->zName, LL(t->iEnd), LL(nData));
      return 1;
    }
    for(k=0; k<t->nDim; k++){
      if( t->aShape[k]==0 ) isZero = 1;
    }
    for(k=0; k<t->nDim && !isZero; k++){
      if( nElem>UINT64_MAX/t->aShape[k] ){
        isBig = 1;
        break;
      }
      nElem *= t->aShape[k];
    }
    if( isZero ) nElem = 0;
    if( isBig || nElem>UINT64_MAX/nSize ){
      *pzErr = embMprintf("model '%s': tensor '%s' has shape %s, which is "
                          "too large", p->zPath, t->zName,
                          modelShape(zShape, sizeof(zShape), t->aShape,
                                     t->nDim));
      return 1;
    }
    nByte = nElem*nSize;
    if( nByte!=t->iEnd-t->iBegin ){
      *pzErr = embMprintf("model '%s': tensor '%s' has shape %s of %s, "
                          "%llu bytes, but its data_offsets [%llu, %llu] "
                          "hold %llu bytes", p->zPath, t->zName,
                          modelShape(zShape, sizeof(zShape), t->aShape,
                                     t->nDim),
                          embStDtypeName(t->eType), LL(nByte),
                          LL(t->iBegin), LL(t->iEnd),
                          LL(t->iEnd-t->iBegin));
      return 1;
    }
    if( isPad ) continue;
    if( (iData+t->iBegin) % EMB_LOAD_ALIGN ){
      *pzErr = embMprintf("model '%s': tensor '%s' starts at byte %llu of the "
                          "file, which is not a multiple of %d", p->zPath,
                          t->zName, LL(iData+t->iBegin), EMB_LOAD_ALIGN);
      return 1;
    }
    if( t->nDim>2 ){
      *pzErr = embMprintf("model '%s': tensor '%s' has %d dimensions; "
                          "sqlite-embed reads at most 2", p->zPath, t->zName,
                          t->nDim);
      return 1;
    }
    pT = &p->aTensor[p->nTensor++];
    pT->zName = t->zName;
    pT->eType = t->eType;
    pT->nDim = t->nDim;
    for(k=0; k<t->nDim; k++) pT->aShape[k] = t->aShape[k];
    pT->a = p->aFile + iData + t->iBegin;
    pT->nByte = nByte;
  }
  return 0;
}

/*
** The metadata value zKey of p as a number from 1 to nMax, or -1 with
** *pzErr set (NULL for out of memory) when it is absent or not such a
** number.
*/
static int64_t modelMetaNumber(const EmbModel *p, const char *zKey,
                               int64_t nMax, char **pzErr){
  const char *z = embModelMeta(p, zKey);
  int64_t v;
  if( z==0 ){
    *pzErr = embMprintf("model '%s' has no __metadata__.%s", p->zPath, zKey);
    return -1;
  }
  v = modelDecimal(z, nMax);
  if( v<0 ){
    *pzErr = embMprintf("model '%s' has __metadata__.%s '%s'; it must be a "
                        "decimal number from 1 to %lld", p->zPath, zKey, z,
                        (long long)nMax);
  }
  return v;
}

/*
** The metadata value zKey of p that must be a token id ("0" or a decimal
** number below vocab_size).  Returns it, or -1 with *pzErr set.
*/
static int64_t modelId(const EmbModel *p, const char *zKey, char **pzErr){
  const char *z = embModelMeta(p, zKey);
  int64_t v = -1;
  if( z ) v = strcmp(z, "0")==0 ? 0 : modelDecimal(z, p->nVocab-1);
  if( z==0 ){
    *pzErr = embMprintf("model '%s' has no __metadata__.%s", p->zPath, zKey);
  }else if( v<0 ){
    *pzErr = embMprintf("model '%s' has __metadata__.%s '%s'; it must be an "
                        "id below %d", p->zPath, zKey, z, p->nVocab);
  }
  return v;
}

/*
** Check the metadata of p and set the fields it gives.  Returns 0, or 1
** with *pzErr set (NULL for out of memory).
*/
static int modelCheckMeta(EmbModel *p, int hasMeta, char **pzErr){
  static const struct { const char *zName; int eTok; } aTok[] = {
    { EMB_TOKENIZER_WORD,      EMB_TOK_WORD },
    { EMB_TOKENIZER_METASPACE, EMB_TOK_METASPACE },
    { EMB_TOKENIZER_BYTELEVEL, EMB_TOK_BYTELEVEL },
    { EMB_TOKENIZER_WORDPIECE, EMB_TOK_WORDPIECE },
    { EMB_TOKENIZER_UNIGRAM,   EMB_TOK_UNIGRAM },
  };
  const char *z;
  int64_t v;
  size_t k;

  if( !hasMeta ){
    *pzErr = embMprintf("model '%s' is not a sqlite-embed model "
                        "(no __metadata__)", p->zPath);
    return 1;
  }
  z = embModelMeta(p, "format");
  if( z==0 ){
    *pzErr = embMprintf("model '%s' is not a sqlite-embed model "
                        "(no __metadata__.format)", p->zPath);
    return 1;
  }
  if( strcmp(z, EMB_FORMAT_NAME)!=0 ){
    *pzErr = embMprintf("model '%s' is not a sqlite-embed model "
                        "(its format is '%s')", p->zPath, z);
    return 1;
  }
  z = embModelMeta(p, "format_version");
  if( z==0 ){
    *pzErr = embMprintf("model '%s' has no __metadata__.format_version",
                        p->zPath);
    return 1;
  }
  v = modelDecimal(z, INT_MAX);
  if( v<EMB_FORMAT_VERSION_MIN || v>EMB_FORMAT_VERSION ){
    *pzErr = embMprintf("model '%s' has format version %s; this build reads "
                        "versions %d to %d", p->zPath, z,
                        EMB_FORMAT_VERSION_MIN, EMB_FORMAT_VERSION);
    return 1;
  }
  p->iVersion = (int)v;
  z = embModelMeta(p, "tokenizer");
  if( z==0 ){
    *pzErr = embMprintf("model '%s' has no __metadata__.tokenizer", p->zPath);
    return 1;
  }
  for(k=0; k<sizeof(aTok)/sizeof(aTok[0]); k++){
    if( strcmp(z, aTok[k].zName)==0 ) break;
  }
  if( k==sizeof(aTok)/sizeof(aTok[0]) ){
    *pzErr = embMprintf("model '%s' has unknown tokenizer '%s' (this build "
                        "knows %s, %s, %s, %s and %s)", p->zPath, z,
                        EMB_TOKENIZER_WORD, EMB_TOKENIZER_METASPACE,
                        EMB_TOKENIZER_BYTELEVEL, EMB_TOKENIZER_WORDPIECE,
                        EMB_TOKENIZER_UNIGRAM);
    return 1;
  }
  if( (aTok[k].eTok==EMB_TOK_WORDPIECE || aTok[k].eTok==EMB_TOK_UNIGRAM)
   && p->iVersion<2 ){
    *pzErr = embMprintf("model '%s' has tokenizer '%s', which needs format "
                        "version 2, but its version is %d", p->zPath, z,
                        p->iVersion);
    return 1;
  }
  p->eTokenizer = aTok[k].eTok;
  p->zTokenizer = z;

  v = modelMetaNumber(p, "dims", EMB_MAX_DIMS, pzErr);
  if( v<0 ) return 1;
  p->nDims = (int)v;
  v = modelMetaNumber(p, "vocab_size", INT_MAX, pzErr);
  if( v<0 ) return 1;
  p->nVocab = (int)v;

  z = embModelMeta(p, "source");
  p->zSource = z ? z : "";
  z = embModelMeta(p, "description");
  p->zDescription = z ? z : "";
  return 0;
}

/*
** Check the tensors every model has and set the fields for them.  Returns
** 0, or 1 with *pzErr set (NULL for out of memory).
*/
static int modelCheckRequired(EmbModel *p, char **pzErr){
  const EmbTensor *pT;
  char zShape[128];

  const EmbTensor *pRow = embModelTensor(p, EMB_T_TOKEN_ROW);

  if( p->iVersion<2 ){
    pT = modelRequire(p, EMB_T_MATRIX, EMB_DT_F32, EMB_DT_F16, pzErr);
  }else{
    pT = embModelTensor(p, EMB_T_MATRIX);
    if( pT && pT->eType!=EMB_DT_F32 && pT->eType!=EMB_DT_F16
     && pT->eType!=EMB_DT_BF16 && pT->eType!=EMB_DT_I8 ){
      *pzErr = embMprintf("model '%s': tensor '%s' has dtype %s but needs "
                          "F32, F16, BF16 or I8", p->zPath, pT->zName,
                          embStDtypeName(pT->eType));
      return 1;
    }
    if( pT==0 ) pT = modelRequire(p, EMB_T_MATRIX, EMB_DT_F32, 0, pzErr);
  }
  if( pT==0 ) return 1;
  if( pRow && p->iVersion<2 ){
    *pzErr = embMprintf("model '%s' has tensor '%s', which needs format "
                        "version 2, but its version is %d", p->zPath,
                        EMB_T_TOKEN_ROW, p->iVersion);
    return 1;
  }
  if( pRow ){
    /* rows shared by tokens: any count of rows, each token's checked at use */
    if( pT->nDim!=2 || pT->aShape[0]==0 || pT->aShape[0]>INT_MAX
     || pT->aShape[1]!=(uint64_t)p->nDims ){
      *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs "
                          "[rows, dims] = [1 or more, %d]", p->zPath,
                          pT->zName, modelShape(zShape, sizeof(zShape),
                                                pT->aShape, pT->nDim),
                          p->nDims);
      return 1;
    }
  }else if( pT->nDim!=2 || pT->aShape[0]!=(uint64_t)p->nVocab
         || pT->aShape[1]!=(uint64_t)p->nDims ){
    *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs "
                        "[vocab_size, dims] = [%d, %d]", p->zPath, pT->zName,
                        modelShape(zShape, sizeof(zShape), pT->aShape,
                                   pT->nDim), p->nVocab, p->nDims);
    return 1;
  }
  p->eMatrixType = pT->eType;
  p->aMatrix = pT->a;
  p->nRow = (int)pT->aShape[0];
  if( pRow ){
    pT = modelRequire1(p, EMB_T_TOKEN_ROW, EMB_DT_U32, (uint64_t)p->nVocab,
                       pzErr);
    if( pT==0 ) return 1;
    p->aTokenRow = pT->a;
  }
  if( embModelTensor(p, EMB_T_TOKEN_WEIGHT) ){
    if( p->iVersion<2 ){
      *pzErr = embMprintf("model '%s' has tensor '%s', which needs format "
                          "version 2, but its version is %d", p->zPath,
                          EMB_T_TOKEN_WEIGHT, p->iVersion);
      return 1;
    }
    pT = modelRequire1(p, EMB_T_TOKEN_WEIGHT, EMB_DT_F32, (uint64_t)p->nVocab,
                       pzErr);
    if( pT==0 ) return 1;
    p->aTokenWeight = pT->a;
  }
  p->iSkipId = -1;
  if( embModelMeta(p, "pool.skip_id") ){
    int64_t v;
    if( p->iVersion<2 ){
      *pzErr = embMprintf("model '%s' has __metadata__.pool.skip_id, which "
                          "needs format version 2, but its version is %d",
                          p->zPath, p->iVersion);
      return 1;
    }
    v = modelId(p, "pool.skip_id", pzErr);
    if( v<0 ) return 1;
    p->iSkipId = (int)v;
  }

  pT = modelRequire(p, EMB_T_VOCAB_OFFSETS, EMB_DT_U32, 0, pzErr);
  if( pT==0 ) return 1;
  if( pT->nDim!=1 || pT->aShape[0]!=(uint64_t)p->nVocab+1 ){
    *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs "
                        "[vocab_size+1] = [%llu]", p->zPath, pT->zName,
                        modelShape(zShape, sizeof(zShape), pT->aShape,
                                   pT->nDim), LL(p->nVocab)+1);
    return 1;
  }
  p->aVocabOff = pT->a;

  pT = modelRequire(p, EMB_T_VOCAB_BYTES, EMB_DT_U8, 0, pzErr);
  if( pT==0 ) return 1;
  if( pT->nDim!=1 ){
    *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs one "
                        "dimension", p->zPath, pT->zName,
                        modelShape(zShape, sizeof(zShape), pT->aShape,
                                   pT->nDim));
    return 1;
  }
  p->aVocabBytes = pT->a;
  p->nVocabBytes = pT->nByte;

  pT = modelRequire1(p, EMB_T_VOCAB_HASH, EMB_DT_U32, 0, pzErr);
  if( pT==0 ) return 1;
  p->aHash = pT->a;
  p->nSlot = (uint32_t)pT->aShape[0];
  return 0;
}

/*
** The metadata flag zKey of a BPE model: "0" or "1".  Returns it, or -1
** with *pzErr set.
*/
static int modelFlag(const EmbModel *p, const char *zKey, char **pzErr){
  const char *z = embModelMeta(p, zKey);
  if( z && (strcmp(z, "0")==0 || strcmp(z, "1")==0) ) return z[0]-'0';
  if( z==0 ){
    *pzErr = embMprintf("model '%s' has no __metadata__.%s; it must be 0 or 1",
                        p->zPath, zKey);
  }else{
    *pzErr = embMprintf("model '%s' has __metadata__.%s '%s'; it must be 0 "
                        "or 1", p->zPath, zKey, z);
  }
  return -1;
}

/*
** The three tables of the added tokens, named zHash, zLen and zFirst
** (FORMAT.md, "Added tokens"), into p->added.  Returns 0, or 1 with *pzErr
** set (NULL for out of memory).
*/
static int modelCheckAdded(EmbModel *p, const char *zHash, const char *zLen,
                           const char *zFirst, char **pzErr){
  EmbAdded *a = &p->added;
  const EmbTensor *pT;
  char zShape[128];

  pT = modelRequire1(p, zHash, EMB_DT_U32, 0, pzErr);
  if( pT==0 ) return 1;
  a->aHash = pT->a;
  a->nSlot = (uint32_t)pT->aShape[0];

  pT = modelRequire(p, zLen, EMB_DT_U32, 0, pzErr);
  if( pT==0 ) return 1;
  if( pT->nDim!=1 || pT->aShape[0]>EMB_MAX_ADDED_LENS ){
    *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs "
                        "[k], k from 0 to %d", p->zPath, pT->zName,
                        modelShape(zShape, sizeof(zShape), pT->aShape,
                                   pT->nDim), EMB_MAX_ADDED_LENS);
    return 1;
  }
  a->aLen = pT->a;
  a->nLen = (int)pT->aShape[0];

  pT = modelRequire1(p, zFirst, EMB_DT_U8, 256, pzErr);
  if( pT==0 ) return 1;
  a->aFirst = pT->a;
  return 0;
}

/*
** Check the tables and settings of the BPE tokenizer kinds (FORMAT.md,
** "BPE tokenizers") and set p->bpe.  Only shapes and a few metadata
** values: nothing proportional to the vocabulary.  Returns 0, or 1 with
** *pzErr set (NULL for out of memory).
*/
static int modelCheckBpe(EmbModel *p, char **pzErr){
  EmbBpe *b = &p->bpe;
  const EmbTensor *pT;
  const char *z;
  char zShape[128];

  pT = modelRequire(p, EMB_T_BPE_MERGES, EMB_DT_U32, 0, pzErr);
  if( pT==0 ) return 1;
  if( pT->nDim!=2 || pT->aShape[1]!=4 || pT->aShape[0]==0
   || pT->aShape[0]>((uint64_t)1<<31)
   || (pT->aShape[0] & (pT->aShape[0]-1))!=0 ){
    *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs "
                        "[slots, 4], slots a power of two from 1 to 2^31",
                        p->zPath, pT->zName,
                        modelShape(zShape, sizeof(zShape), pT->aShape,
                                   pT->nDim));
    return 1;
  }
  b->aMerge = pT->a;
  b->nMergeSlot = (uint32_t)pT->aShape[0];

  pT = modelRequire1(p, EMB_T_BPE_BYTES, EMB_DT_U32, 256, pzErr);
  if( pT==0 ) return 1;
  b->aByte = pT->a;

  if( modelCheckAdded(p, EMB_T_BPE_ADDED, EMB_T_BPE_ADDED_LEN,
                      EMB_T_BPE_ADDED_1ST, pzErr) ){
    return 1;
  }

  z = embModelMeta(p, "bpe.unk_id");
  if( z==0 ){
    *pzErr = embMprintf("model '%s' has no __metadata__.bpe.unk_id",
                        p->zPath);
    return 1;
  }
  if( strcmp(z, "none")==0 ){
    b->iUnk = -1;
  }else{
    int64_t v = strcmp(z, "0")==0 ? 0 : modelDecimal(z, p->nVocab-1);
    if( v<0 ){
      *pzErr = embMprintf("model '%s' has __metadata__.bpe.unk_id '%s'; it "
                          "must be 'none' or an id below %d", p->zPath, z,
                          p->nVocab);
      return 1;
    }
    b->iUnk = (int)v;
  }
  if( (b->bFuseUnk = modelFlag(p, "bpe.fuse_unk", pzErr))<0 ) return 1;
  if( (b->bByteFallback = modelFlag(p, "bpe.byte_fallback", pzErr))<0 ){
    return 1;
  }
  if( (b->bIgnoreMerges = modelFlag(p, "bpe.ignore_merges", pzErr))<0 ){
    return 1;
  }
  b->iMeta = -1;
  if( p->eTokenizer==EMB_TOK_METASPACE ){
    int c;
    if( (b->bSplit = modelFlag(p, "bpe.split", pzErr))<0 ) return 1;
    b->iMeta = embModelLookup(p, "\xE2\x96\x81", 3);    /* U+2581 */
    for(c=0; c<128; c++){
      char zChar = (char)c;
      b->aAscii[c] = embModelLookup(p, &zChar, 1);
    }
  }
  return 0;
}

/*
** The WordPiece kind (FORMAT.md, "The WordPiece tokenizer"): the added
** tokens' tables and the wordpiece.* and normalizer settings into p->wp.
** Returns 0, or 1 with *pzErr set (NULL for out of memory).
*/
static int modelCheckWordPiece(EmbModel *p, char **pzErr){
  static const struct { const char *zKey; unsigned m; } aNorm[] = {
    { "bert.clean_text", EMB_NORM_CLEAN },
    { "bert.handle_chinese_chars", EMB_NORM_CHINESE },
    { "bert.strip_accents", EMB_NORM_STRIP },
    { "bert.lowercase", EMB_NORM_LOWER },
  };
  EmbWordPiece *w = &p->wp;
  const char *z;
  int64_t v;
  size_t k;

  if( modelCheckAdded(p, EMB_T_ADDED, EMB_T_ADDED_LEN, EMB_T_ADDED_1ST,
                      pzErr) ){
    return 1;
  }
  v = modelId(p, "wordpiece.unk_id", pzErr);
  if( v<0 ) return 1;
  w->iUnk = (int)v;
  v = modelMetaNumber(p, "wordpiece.vocab", p->nVocab, pzErr);
  if( v<0 ) return 1;
  w->nModelVocab = (int)v;
  z = embModelMeta(p, "wordpiece.max_chars");
  if( z && strcmp(z, "0")==0 ){
    w->nMaxChars = 0;
  }else{
    v = modelMetaNumber(p, "wordpiece.max_chars", EMB_WP_MAX_CHARS, pzErr);
    if( v<0 ) return 1;
    w->nMaxChars = (int)v;
  }
  v = modelMetaNumber(p, "wordpiece.max_token_bytes", INT_MAX, pzErr);
  if( v<0 ) return 1;
  w->nMaxTokenBytes = (int)v;
  z = embModelMeta(p, "wordpiece.prefix");
  if( z==0 ){
    *pzErr = embMprintf("model '%s' has no __metadata__.wordpiece.prefix",
                        p->zPath);
    return 1;
  }
  w->zPrefix = z;
  w->nPrefix = (int)strlen(z);
  if( w->nPrefix>64 ){
    *pzErr = embMprintf("model '%s' has a __metadata__.wordpiece.prefix of "
                        "%d bytes; at most 64", p->zPath, w->nPrefix);
    return 1;
  }
  z = embModelMeta(p, "normalizer");
  if( z==0 || (strcmp(z, "bert")!=0 && strcmp(z, "none")!=0) ){
    *pzErr = embMprintf("model '%s' has __metadata__.normalizer '%s'; this "
                        "build knows 'bert' and 'none'", p->zPath,
                        z ? z : "(none)");
    return 1;
  }
  w->mNorm = 0;
  if( strcmp(z, "bert")==0 ){
    for(k=0; k<sizeof(aNorm)/sizeof(aNorm[0]); k++){
      int b = modelFlag(p, aNorm[k].zKey, pzErr);
      if( b<0 ) return 1;
      if( b ) w->mNorm |= aNorm[k].m;
    }
  }
  z = embModelMeta(p, "pre_tokenizer");
  if( z==0 || strcmp(z, "bert")!=0 ){
    *pzErr = embMprintf("model '%s' has __metadata__.pre_tokenizer '%s'; "
                        "this build knows 'bert'", p->zPath,
                        z ? z : "(none)");
    return 1;
  }
  return 0;
}

/*
** The Unigram kind (FORMAT.md, "The Unigram tokenizer"): the added tokens'
** tables, unigram.scores, unigram.trie, unigram.bytes, pretok.program and
** the unigram.* metadata into p->uni, then the normalizer (normalize.c).
** Reads the program and one score, nothing proportional to the
** vocabulary.  Returns 0, or 1 with *pzErr set (NULL for out of memory).
*/
static int modelCheckUnigram(EmbModel *p, char **pzErr){
  EmbUnigram *u = &p->uni;
  const EmbTensor *pT;
  const char *z, *zWhy = 0;
  char zShape[128];
  int64_t v;

  if( modelCheckAdded(p, EMB_T_ADDED, EMB_T_ADDED_LEN, EMB_T_ADDED_1ST,
                      pzErr) ){
    return 1;
  }
  v = modelMetaNumber(p, "unigram.vocab", p->nVocab, pzErr);
  if( v<0 ) return 1;
  u->nModelVocab = (int)v;
  v = modelId(p, "unigram.unk_id", pzErr);
  if( v<0 ) return 1;
  if( v>=u->nModelVocab ){
    *pzErr = embMprintf("model '%s' has __metadata__.unigram.unk_id %lld; "
                        "it must be below unigram.vocab %d", p->zPath,
                        (long long)v, u->nModelVocab);
    return 1;
  }
  u->iUnk = (int)v;
  v = modelMetaNumber(p, "unigram.max_piece_bytes", 1<<20, pzErr);
  if( v<0 ) return 1;
  u->nMaxPiece = (int)v;
  if( (u->bFuseUnk = modelFlag(p, "unigram.fuse_unk", pzErr))<0 ) return 1;
  if( (u->bByteFallback = modelFlag(p, "unigram.byte_fallback", pzErr))<0 ){
    return 1;
  }

  pT = modelRequire1(p, EMB_T_UNI_SCORES, EMB_DT_F64,
                     (uint64_t)u->nModelVocab+1, pzErr);
  if( pT==0 ) return 1;
  u->aScore = pT->a;
  memcpy(&u->unkScore, pT->a + 8*(size_t)u->nModelVocab, 8);
  if( !(u->unkScore==u->unkScore) || u->unkScore>1e300 || u->unkScore<-1e300 ){
    *pzErr = embMprintf("model '%s': tensor '%s' has an unknown-character "
                        "score that is not a finite number", p->zPath,
                        EMB_T_UNI_SCORES);
    return 1;
  }

  pT = modelRequire(p, EMB_T_UNI_TRIE, EMB_DT_U32, 0, pzErr);
  if( pT==0 ) return 1;
  if( pT->nDim!=2 || pT->aShape[1]!=3 || pT->aShape[0]==0
   || pT->aShape[0]>0x7fffffff ){
    *pzErr = embMprintf("model '%s': tensor '%s' has shape %s but needs "
                        "[nodes, 3] with 1 to 2^31-1 nodes", p->zPath,
                        pT->zName, modelShape(zShape, sizeof(zShape),
                                              pT->aShape, pT->nDim));
    return 1;
  }
  u->aTrie = pT->a;
  u->nNode = (uint32_t)pT->aShape[0];

  pT = modelRequire1(p, EMB_T_UNI_BYTES, EMB_DT_U32, 256, pzErr);
  if( pT==0 ) return 1;
  u->aByte = pT->a;

  pT = modelRequire(p, EMB_T_PRETOK, EMB_DT_U8, 0, pzErr);
  if( pT==0 ) return 1;
  if( pT->nDim!=1 || embPretokCheck(pT->a, (size_t)pT->nByte, &zWhy) ){
    *pzErr = embMprintf("model '%s': tensor '%s' is not a pre-tokenizer "
                        "program: %s", p->zPath, EMB_T_PRETOK,
                        zWhy ? zWhy : "it needs one dimension");
    return 1;
  }
  u->aPretok = pT->a;
  u->nPretok = (size_t)pT->nByte;
  u->bPrependFirst = embPretokHasFirst(u->aPretok, u->nPretok);

  z = embModelMeta(p, "pre_tokenizer");
  if( z==0 || strcmp(z, "program")!=0 ){
    *pzErr = embMprintf("model '%s' has __metadata__.pre_tokenizer '%s'; "
                        "the unigram tokenizer needs 'program'", p->zPath,
                        z ? z : "(none)");
    return 1;
  }
  if( embNormBind(p, pzErr) ) return 1;
  {
    size_t k;
    for(k=0; k<p->norm.nProg; k++){
      if( embU32At(p->norm.aProg, (uint64_t)k*EMB_NORM_STEP_WORDS)
          ==EMB_NOP_PRECOMPILED ){
        u->bNormPrecompiled = 1;
      }
    }
  }
  return 0;
}

int embModelOpenBuffer(const uint8_t *a, uint64_t n, const char *zLabel,
                       EmbModel **ppOut, char **pzErr){
  EmbStHeader h;
  EmbModel *p = 0;
  char *zErr = 0;
  char *zParse = 0;
  uint64_t nHeader;
  int i, rc = 1;

  memset(&h, 0, sizeof(h));
  *ppOut = 0;
  *pzErr = 0;
  if( zLabel==0 ) zLabel = "";
  if( n==0 ){
    zErr = embMprintf("model '%s' is empty", zLabel);
    goto open_done;
  }
  if( n<8 ){
    zErr = embMprintf("model '%s' is truncated: it has %llu bytes, too few "
                      "for the 8-byte header length", zLabel, LL(n));
    goto open_done;
  }
  nHeader = modelU64At(a);
  if( nHeader>EMB_MAX_HEADER ){
    zErr = embMprintf("model '%s' is not a sqlite-embed model: its header "
                      "length is %llu bytes, more than the limit of %d",
                      zLabel, LL(nHeader), EMB_MAX_HEADER);
    goto open_done;
  }
  if( nHeader>n-8 ){
    zErr = embMprintf("model '%s' is truncated: the header needs %llu bytes "
                      "but the file has %llu", zLabel, LL(8+nHeader), LL(n));
    goto open_done;
  }
  if( embStParse(a+8, nHeader, &h, &zParse) ){
    if( zParse ){
      zErr = embMprintf("model '%s' has a bad header: %s", zLabel, zParse);
    }
    goto open_done;
  }

  p = embMalloc(sizeof(*p));
  if( p==0 ) goto open_done;
  memset(p, 0, sizeof(*p));
  p->aFile = a;
  p->nFile = n;
  p->nRef = 1;
  p->zPath = modelStrdup(zLabel);
  if( p->zPath==0 ) goto open_done;
  p->zHeader = h.zPool;
  h.zPool = 0;
  if( h.nMeta>0 ){
    p->azMeta = embMalloc((uint64_t)h.nMeta*2*sizeof(char*));
    if( p->azMeta==0 ) goto open_done;
    for(i=0; i<h.nMeta; i++){
      p->azMeta[2*i] = h.aMeta[i].zKey;
      p->azMeta[2*i+1] = h.aMeta[i].zValue;
    }
    p->nMeta = h.nMeta;
  }
  if( modelCheckMeta(p, h.hasMeta, &zErr) ) goto open_done;
  if( modelCheckTensors(p, &h, 8+nHeader, &zErr) ) goto open_done;
  if( modelCheckRequired(p, &zErr) ) goto open_done;
  if( (p->eTokenizer==EMB_TOK_METASPACE || p->eTokenizer==EMB_TOK_BYTELEVEL)
   && modelCheckBpe(p, &zErr) ) goto open_done;
  if( p->eTokenizer==EMB_TOK_WORDPIECE && modelCheckWordPiece(p, &zErr) ){
    goto open_done;
  }
  if( p->eTokenizer==EMB_TOK_UNIGRAM && modelCheckUnigram(p, &zErr) ){
    goto open_done;
  }
  rc = 0;

open_done:
  embStClear(&h);
  embFree(zParse);
  if( rc ){
    embModelFree(p);
    *pzErr = zErr;
  }else{
    *ppOut = p;
  }
  return rc;
}

void embModelFree(EmbModel *p){
  if( p==0 ) return;
  if( p->isMapped ) munmap((void*)p->aFile, (size_t)p->nFile);
  embFree(p->zPath);
  embFree(p->zHeader);
  embFree(p->azMeta);
  embFree(p->aTensor);
  embFree(p);
}

/*
** The hash table is probed at most nSlot times, so a corrupt table without
** an empty slot still ends; each id found is checked against nVocab and its
** offsets against vocab.bytes before the text is compared.
*/
int embModelLookup(const EmbModel *p, const char *z, int n){
  const uint32_t mask = p->nSlot - 1;
  const uint32_t nVocab = (uint32_t)p->nVocab;
  uint32_t i, k;
  if( n<0 ) return -1;
  i = embFnv1a(z, (size_t)n) & mask;
  for(k=0; k<p->nSlot; k++){
    uint32_t v = embU32At(p->aHash, i);
    if( v==0 ) return -1;
    v--;
    if( v<nVocab ){
      uint32_t b = embU32At(p->aVocabOff, v);
      uint32_t e = embU32At(p->aVocabOff, (uint64_t)v+1);
      if( e>=b && e-b==(uint32_t)n && e<=p->nVocabBytes
       && (n==0 || memcmp(p->aVocabBytes+b, z, (size_t)n)==0) ){
        return (int)v;
      }
    }
    i = (i+1) & mask;
  }
  return -1;
}

int embModelTokenText(const EmbModel *p, int id, const char **pz, int *pn){
  uint32_t b, e;
  if( id<0 || id>=p->nVocab ) return -1;
  b = embU32At(p->aVocabOff, (uint64_t)id);
  e = embU32At(p->aVocabOff, (uint64_t)id+1);
  if( b>e || e>p->nVocabBytes || e-b>INT_MAX ) return -1;
  *pz = (const char*)p->aVocabBytes + b;
  *pn = (int)(e-b);
  return 0;
}

const EmbTensor *embModelTensor(const EmbModel *p, const char *zName){
  int i;
  for(i=0; i<p->nTensor; i++){
    if( strcmp(p->aTensor[i].zName, zName)==0 ) return &p->aTensor[i];
  }
  return 0;
}

const char *embModelMeta(const EmbModel *p, const char *zKey){
  int i;
  for(i=0; i<p->nMeta; i++){
    if( strcmp(p->azMeta[2*i], zKey)==0 ) return p->azMeta[2*i+1];
  }
  return 0;
}

/* The registry of mapped models: a list, guarded by embRegistryMutex,
** which also guards every registered model's nRef. */
static pthread_mutex_t embRegistryMutex = PTHREAD_MUTEX_INITIALIZER;
static EmbModel *embRegistry = 0;

static int64_t modelNowUs(void){
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec*1000000 + t.tv_nsec/1000;
}

/*
** Open, map and validate zPath, or find it in the registry.  The registry
** lock is held while a new file is mapped and validated, so two threads
** opening the same file at once map it once.
*/
int embModelAcquire(const char *zPath, EmbModel **ppOut, char **pzErr){
  int64_t tStart = modelNowUs();
  struct stat st;
  EmbModel *p;
  void *pMap;
  size_t nMap;
  int fd, rc;

  *ppOut = 0;
  *pzErr = 0;
  /* O_NONBLOCK: a FIFO (or a device) must not block the open; anything
  ** but a regular file is refused below, and mmap ignores the flag */
  fd = open(zPath, O_RDONLY|O_CLOEXEC|O_NONBLOCK);
  if( fd<0 ){
    *pzErr = embMprintf("cannot open model '%s': %s", zPath, strerror(errno));
    return 1;
  }
  if( fstat(fd, &st)!=0 ){
    *pzErr = embMprintf("cannot open model '%s': %s", zPath, strerror(errno));
    close(fd);
    return 1;
  }
  if( !S_ISREG(st.st_mode) ){
    *pzErr = embMprintf("cannot open model '%s': %s", zPath,
                        S_ISDIR(st.st_mode) ? "it is a directory"
                                            : "it is not a regular file");
    close(fd);
    return 1;
  }

  pthread_mutex_lock(&embRegistryMutex);
  for(p=embRegistry; p; p=p->pNext){
    if( p->iDev==(uint64_t)st.st_dev && p->iIno==(uint64_t)st.st_ino ) break;
  }
  if( p ){
    p->nRef++;
    pthread_mutex_unlock(&embRegistryMutex);
    close(fd);
    *ppOut = p;
    return 0;
  }
  if( st.st_size<=0 ){
    *pzErr = embMprintf("model '%s' is empty", zPath);
    rc = 1;
    goto acquire_done;
  }
  if( (uint64_t)st.st_size>(uint64_t)SIZE_MAX ){
    *pzErr = embMprintf("model '%s' is too large to map (%llu bytes)", zPath,
                        LL(st.st_size));
    rc = 1;
    goto acquire_done;
  }
  nMap = (size_t)st.st_size;
  pMap = mmap(0, nMap, PROT_READ, MAP_SHARED, fd, 0);
  if( pMap==MAP_FAILED ){
    *pzErr = embMprintf("cannot map model '%s': %s", zPath, strerror(errno));
    rc = 1;
    goto acquire_done;
  }
  rc = embModelOpenBuffer(pMap, nMap, zPath, &p, pzErr);
  if( rc ){
    munmap(pMap, nMap);
    goto acquire_done;
  }
  p->isMapped = 1;
  p->iDev = (uint64_t)st.st_dev;
  p->iIno = (uint64_t)st.st_ino;
  p->nRef = 1;
  p->pNext = embRegistry;
  embRegistry = p;
  p->loadUs = modelNowUs() - tStart;
  *ppOut = p;

acquire_done:
  pthread_mutex_unlock(&embRegistryMutex);
  close(fd);
  return rc;
}

void embModelRetain(EmbModel *p){
  pthread_mutex_lock(&embRegistryMutex);
  p->nRef++;
  pthread_mutex_unlock(&embRegistryMutex);
}

/*
** Drop a reference.  A model from the registry leaves it with its last
** reference; one from embModelOpenBuffer() (which starts with one
** reference) is simply freed.
*/
void embModelRelease(EmbModel *p){
  int nLeft;
  if( p==0 ) return;
  pthread_mutex_lock(&embRegistryMutex);
  nLeft = --p->nRef;
  if( nLeft==0 && p->isMapped ){
    EmbModel **pp;
    for(pp=&embRegistry; *pp; pp=&(*pp)->pNext){
      if( *pp==p ){
        *pp = p->pNext;
        break;
      }
    }
  }
  pthread_mutex_unlock(&embRegistryMutex);
  if( nLeft==0 ) embModelFree(p);
}
