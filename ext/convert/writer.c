/*
** writer.c: the model writer of embed-convert -- collects metadata and
** tensors, builds the vocabulary tables, and writes a model file in the
** layout of models/FORMAT.md (a safetensors container).
**
**     build/embed-convert glove-wink wink.json -o models/default.emb
**         (glove.c reads the input; everything it makes is written here)
**
** HOW IT WORKS
**
** EmbVocab appends each word's bytes to one growing buffer and its end to
** vocab.offsets, and inserts id+1 into an open-addressing table at
** fnv1a(word) mod slots, probing linearly -- the same probe the loader
** does, so a duplicate word is found on insertion.  The table has the
** smallest power of two >= 2 x vocab slots.
**
** EmbWriter keeps a list of tensors (name, dtype, shape, data pointer) and
** of metadata pairs.  embWriterWrite() lays the tensors out one after the
** other from offset 0 of the data section, inserting a U8 tensor "_pad.K"
** after any tensor whose end is not a multiple of 64 and that another
** tensor follows; it prints the JSON header with those offsets, pads the
** header with spaces so that 8 + header length is a multiple of 64, and
** streams header and data to "OUT.tmp", then fsync(), rename() to OUT and
** fsync() of the folder.  Nothing is copied: tensor data is written from
** the caller's buffers.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "format.h"
#include "convert/writer.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
# error "the writer stores host-order numbers and needs a little-endian host"
#endif

/* The largest vocabulary: ids are ints in the loader, slots are U32. */
#define EMB_VOCAB_MAX  0x3fffffff

int embIsUtf8(const void *pText, uint64_t n){
  const uint8_t *z = pText;
  uint64_t i = 0;
  while( i<n ){
    uint32_t c = z[i];
    int nMore, k;
    uint32_t cMin;
    if( c<0x80 ){ i++; continue; }
    if( c>=0xc2 && c<=0xdf ){ nMore = 1; c &= 0x1f; cMin = 0x80; }
    else if( (c&0xf0)==0xe0 ){ nMore = 2; c &= 0x0f; cMin = 0x800; }
    else if( c>=0xf0 && c<=0xf4 ){ nMore = 3; c &= 0x07; cMin = 0x10000; }
    else return 0;
    if( (uint64_t)nMore>=n-i ) return 0;
    for(k=1; k<=nMore; k++){
      if( (z[i+k]&0xc0)!=0x80 ) return 0;
      c = (c<<6) | (z[i+k]&0x3f);
    }
    if( c<cMin || c>0x10ffff || (c>=0xd800 && c<=0xdfff) ) return 0;
    i += 1 + (uint64_t)nMore;
  }
  return 1;
}

/* The smallest power of two >= 2*n, for n <= EMB_VOCAB_MAX. */
static uint32_t slotsFor(uint32_t n){
  uint32_t s = 1;
  while( s < 2*n ) s <<= 1;
  return s;
}

/*
** Insert id into p->aHash (p->nSlot slots) under the text of id.  Returns
** the id already stored under the same text, or -1 after inserting.
*/
static int64_t vocabInsert(EmbVocab *p, uint32_t id){
  const uint8_t *z = p->aByte + p->aOff[id];
  uint32_t n = p->aOff[id+1] - p->aOff[id];
  uint32_t mask = p->nSlot - 1;
  uint32_t i = embFnv1a(z, n) & mask;
  for(;;){
    uint32_t v = p->aHash[i];
    if( v==0 ){
      p->aHash[i] = id+1;
      return -1;
    }
    if( p->aOff[v] - p->aOff[v-1]==n && memcmp(p->aByte+p->aOff[v-1], z, n)==0 ){
      return (int64_t)v - 1;
    }
    i = (i+1) & mask;
  }
}

int embVocabInit(EmbVocab *p, int64_t nWordMax, char **pzErr){
  memset(p, 0, sizeof(*p));
  *pzErr = 0;
  if( nWordMax<1 || nWordMax>EMB_VOCAB_MAX ){
    *pzErr = embMprintf("vocabulary size %lld is out of range (1 to %d)",
                        (long long)nWordMax, EMB_VOCAB_MAX);
    return 1;
  }
  p->nWordMax = (uint32_t)nWordMax;
  p->nSlot = slotsFor(p->nWordMax);
  p->aOff = embMalloc(((uint64_t)p->nWordMax+1)*sizeof(uint32_t));
  p->aHash = embMalloc((uint64_t)p->nSlot*sizeof(uint32_t));
  p->nByteAlloc = 8*(uint64_t)p->nWordMax;
  p->aByte = embMalloc(p->nByteAlloc);
  if( p->aOff==0 || p->aHash==0 || p->aByte==0 ){
    embVocabClear(p);
    return 1;
  }
  memset(p->aHash, 0, (uint64_t)p->nSlot*sizeof(uint32_t));
  p->aOff[0] = 0;
  return 0;
}

int embVocabAdd(EmbVocab *p, const char *z, int64_t n, char **pzErr){
  int64_t iOld;
  *pzErr = 0;
  if( p->nWord>=p->nWordMax ){
    *pzErr = embMprintf("more than the %u words announced", p->nWordMax);
    return 1;
  }
  if( n<=0 ){
    *pzErr = embMprintf("word %u is empty", p->nWord);
    return 1;
  }
  if( !embIsUtf8(z, (uint64_t)n) ){
    *pzErr = embMprintf("word %u is not valid UTF-8", p->nWord);
    return 1;
  }
  if( (uint64_t)n > (uint64_t)UINT32_MAX - p->nByte ){
    *pzErr = embMprintf("the vocabulary's text exceeds 4 GiB at word %u",
                        p->nWord);
    return 1;
  }
  if( p->nByte + (uint64_t)n > p->nByteAlloc ){
    uint64_t nNew = p->nByteAlloc*2;
    uint8_t *aNew;
    if( nNew < p->nByte + (uint64_t)n ) nNew = p->nByte + (uint64_t)n;
    aNew = embRealloc(p->aByte, nNew);
    if( aNew==0 ) return 1;
    p->aByte = aNew;
    p->nByteAlloc = nNew;
  }
  memcpy(p->aByte + p->nByte, z, (size_t)n);
  p->nByte += (uint64_t)n;
  p->aOff[p->nWord+1] = (uint32_t)p->nByte;
  iOld = vocabInsert(p, p->nWord);
  if( iOld>=0 ){
    p->nByte -= (uint64_t)n;
    *pzErr = embMprintf("word %u \"%.*s\" repeats word %lld", p->nWord,
                        (int)(n>200 ? 200 : n), z, (long long)iOld);
    return 1;
  }
  p->nWord++;
  return 0;
}

int64_t embVocabLookup(const EmbVocab *p, const char *z, int64_t n){
  uint32_t mask, i, k;
  if( p->nSlot==0 || n<0 || (uint64_t)n>UINT32_MAX ) return -1;
  mask = p->nSlot - 1;
  i = embFnv1a(z, (size_t)n) & mask;
  for(k=0; k<p->nSlot; k++){
    uint32_t v = p->aHash[i];
    if( v==0 ) return -1;
    if( p->aOff[v]-p->aOff[v-1]==(uint64_t)n
     && memcmp(p->aByte+p->aOff[v-1], z, (size_t)n)==0 ){
      return (int64_t)v - 1;
    }
    i = (i+1) & mask;
  }
  return -1;
}

int embVocabFinish(EmbVocab *p, char **pzErr){
  uint32_t nSlot, i;
  *pzErr = 0;
  if( p->nWord==0 ){
    *pzErr = embMprintf("the vocabulary is empty");
    return 1;
  }
  nSlot = slotsFor(p->nWord);
  if( nSlot!=p->nSlot ){
    uint32_t *aNew = embMalloc((uint64_t)nSlot*sizeof(uint32_t));
    if( aNew==0 ) return 1;
    memset(aNew, 0, (uint64_t)nSlot*sizeof(uint32_t));
    embFree(p->aHash);
    p->aHash = aNew;
    p->nSlot = nSlot;
    for(i=0; i<p->nWord; i++) vocabInsert(p, i);
  }
  return 0;
}

void embVocabClear(EmbVocab *p){
  embFree(p->aOff);
  embFree(p->aByte);
  embFree(p->aHash);
  memset(p, 0, sizeof(*p));
}

/************************************************************************
** The writer
*/

typedef struct WriterTensor WriterTensor;
struct WriterTensor {
  char *zName;
  int eType;
  int nDim;
  uint64_t aShape[2];
  uint64_t nByte;
  void *pData;          /* NULL for a _pad tensor (zeros) */
  int bOwn;             /* embFree(pData) when done */
};

typedef struct WriterMeta WriterMeta;
struct WriterMeta {
  char *zKey;
  char *zValue;
};

struct EmbWriter {
  int nTensor, nTensorAlloc;
  WriterTensor *aTensor;
  int nMeta, nMetaAlloc;
  WriterMeta *aMeta;
};

EmbWriter *embWriterNew(void){
  EmbWriter *p = embMalloc(sizeof(*p));
  if( p ) memset(p, 0, sizeof(*p));
  return p;
}

void embWriterFree(EmbWriter *p){
  int i;
  if( p==0 ) return;
  for(i=0; i<p->nTensor; i++){
    embFree(p->aTensor[i].zName);
    if( p->aTensor[i].bOwn ) embFree(p->aTensor[i].pData);
  }
  for(i=0; i<p->nMeta; i++){
    embFree(p->aMeta[i].zKey);
    embFree(p->aMeta[i].zValue);
  }
  embFree(p->aTensor);
  embFree(p->aMeta);
  embFree(p);
}

/* A copy of z from embMalloc(), or NULL. */
static char *dupString(const char *z){
  size_t n = strlen(z);
  char *zNew = embMalloc(n+1);
  if( zNew ) memcpy(zNew, z, n+1);
  return zNew;
}

int embWriterMeta(EmbWriter *p, const char *zKey, const char *zValue,
                  char **pzErr){
  int i;
  char *zV;
  *pzErr = 0;
  if( !embIsUtf8(zKey, strlen(zKey))
   || !embIsUtf8(zValue, strlen(zValue)) ){
    *pzErr = embMprintf("metadata '%s' is not valid UTF-8", zKey);
    return 1;
  }
  zV = dupString(zValue);
  if( zV==0 ) return 1;
  for(i=0; i<p->nMeta; i++){
    if( strcmp(p->aMeta[i].zKey, zKey)==0 ){
      embFree(p->aMeta[i].zValue);
      p->aMeta[i].zValue = zV;
      return 0;
    }
  }
  if( p->nMeta==p->nMetaAlloc ){
    int nNew = p->nMetaAlloc ? 2*p->nMetaAlloc : 16;
    WriterMeta *aNew = embRealloc(p->aMeta, (uint64_t)nNew*sizeof(WriterMeta));
    if( aNew==0 ){ embFree(zV); return 1; }
    p->aMeta = aNew;
    p->nMetaAlloc = nNew;
  }
  p->aMeta[p->nMeta].zKey = dupString(zKey);
  if( p->aMeta[p->nMeta].zKey==0 ){ embFree(zV); return 1; }
  p->aMeta[p->nMeta].zValue = zV;
  p->nMeta++;
  return 0;
}

/* Bytes per element of eType, or 0 when it is not one the writer knows. */
static uint64_t dtypeSize(int eType){
  switch( eType ){
    case EMB_DT_F32: return 4;
    case EMB_DT_F16: return 2;
    case EMB_DT_BF16: return 2;
    case EMB_DT_U32: return 4;
    case EMB_DT_U8:  return 1;
    case EMB_DT_I8:  return 1;
    case EMB_DT_F64: return 8;
  }
  return 0;
}

static const char *dtypeName(int eType){
  switch( eType ){
    case EMB_DT_F32: return "F32";
    case EMB_DT_F16: return "F16";
    case EMB_DT_BF16: return "BF16";
    case EMB_DT_U32: return "U32";
    case EMB_DT_U8:  return "U8";
    case EMB_DT_I8:  return "I8";
    case EMB_DT_F64: return "F64";
  }
  return "?";
}

/* Append a tensor without checking its name (used for _pad.K too).  Frees
** pData on failure when bOwn. */
static int addTensor(EmbWriter *p, const char *zName, int eType, int nDim,
                     const uint64_t *aShape, uint64_t nByte, void *pData,
                     int bOwn){
  WriterTensor *t;
  if( p->nTensor==p->nTensorAlloc ){
    int nNew = p->nTensorAlloc ? 2*p->nTensorAlloc : 16;
    WriterTensor *aNew = embRealloc(p->aTensor,
                                    (uint64_t)nNew*sizeof(WriterTensor));
    if( aNew==0 ) goto nomem;
    p->aTensor = aNew;
    p->nTensorAlloc = nNew;
  }
  t = &p->aTensor[p->nTensor];
  memset(t, 0, sizeof(*t));
  t->zName = dupString(zName);
  if( t->zName==0 ) goto nomem;
  t->eType = eType;
  t->nDim = nDim;
  t->aShape[0] = aShape[0];
  t->aShape[1] = nDim>1 ? aShape[1] : 0;
  t->nByte = nByte;
  t->pData = pData;
  t->bOwn = bOwn;
  p->nTensor++;
  return 0;
nomem:
  if( bOwn ) embFree(pData);
  return 1;
}

int embWriterTensor(EmbWriter *p, const char *zName, int eType, int nDim,
                    const uint64_t *aShape, void *pData, int bOwn,
                    char **pzErr){
  uint64_t nByte, sz = dtypeSize(eType);
  int i;
  *pzErr = 0;
  if( zName[0]==0 || strncmp(zName, EMB_T_PAD_PREFIX,
                             sizeof(EMB_T_PAD_PREFIX)-1)==0
   || strncmp(zName, "__", 2)==0 ){
    *pzErr = embMprintf("tensor name '%s' is reserved", zName);
    goto fail;
  }
  for(i=0; i<p->nTensor; i++){
    if( strcmp(p->aTensor[i].zName, zName)==0 ){
      *pzErr = embMprintf("tensor '%s' is added twice", zName);
      goto fail;
    }
  }
  if( sz==0 || nDim<1 || nDim>2 ){
    *pzErr = embMprintf("tensor '%s': unsupported dtype %d or rank %d",
                        zName, eType, nDim);
    goto fail;
  }
  nByte = aShape[0];
  if( nDim==2 ){
    if( aShape[1]!=0 && nByte > UINT64_MAX/aShape[1] ) goto toobig;
    nByte *= aShape[1];
  }
  if( nByte > (UINT64_C(1)<<52)/sz ) goto toobig;
  nByte *= sz;
  if( pData==0 && nByte>0 ){
    *pzErr = embMprintf("tensor '%s' has no data", zName);
    goto fail;
  }
  return addTensor(p, zName, eType, nDim, aShape, nByte, pData, bOwn);
toobig:
  *pzErr = embMprintf("tensor '%s' is too large", zName);
fail:
  if( bOwn ) embFree(pData);
  return 1;
}

int embWriterVocab(EmbWriter *p, EmbVocab *pVocab, char **pzErr){
  uint64_t aShape[1];
  int rc;
  void *pOff = pVocab->aOff, *pByte = pVocab->aByte, *pHash = pVocab->aHash;
  uint64_t nWord = pVocab->nWord, nByte = pVocab->nByte;
  uint32_t nSlot = pVocab->nSlot;
  *pzErr = 0;
  if( nWord==0 || nSlot!=slotsFor((uint32_t)nWord) ){
    embVocabClear(pVocab);
    *pzErr = embMprintf("the vocabulary is empty or not finished");
    return 1;
  }
  /* The writer owns the three buffers from here, also on failure. */
  memset(pVocab, 0, sizeof(*pVocab));
  aShape[0] = nWord + 1;
  rc = embWriterTensor(p, EMB_T_VOCAB_OFFSETS, EMB_DT_U32, 1, aShape,
                       pOff, 1, pzErr);
  aShape[0] = nByte;
  if( rc==0 ){
    rc = embWriterTensor(p, EMB_T_VOCAB_BYTES, EMB_DT_U8, 1, aShape,
                         pByte, 1, pzErr);
  }else{
    embFree(pByte);
  }
  aShape[0] = nSlot;
  if( rc==0 ){
    rc = embWriterTensor(p, EMB_T_VOCAB_HASH, EMB_DT_U32, 1, aShape,
                         pHash, 1, pzErr);
  }else{
    embFree(pHash);
  }
  return rc;
}

/************************************************************************
** The header
*/

/* A growing string; on out-of-memory z is freed and bErr set. */
typedef struct Str Str;
struct Str {
  char *z;
  uint64_t n, nAlloc;
  int bErr;
};

static void strAppend(Str *s, const char *z, uint64_t n){
  if( s->bErr ) return;
  if( s->n + n + 1 > s->nAlloc ){
    uint64_t nNew = s->nAlloc ? 2*s->nAlloc : 1024;
    char *zNew;
    while( nNew < s->n + n + 1 ) nNew *= 2;
    zNew = embRealloc(s->z, nNew);
    if( zNew==0 ){
      embFree(s->z);
      memset(s, 0, sizeof(*s));
      s->bErr = 1;
      return;
    }
    s->z = zNew;
    s->nAlloc = nNew;
  }
  memcpy(s->z + s->n, z, (size_t)n);
  s->n += n;
  s->z[s->n] = 0;
}

static void strText(Str *s, const char *z){
  strAppend(s, z, strlen(z));
}

static void strU64(Str *s, uint64_t v){
  char zBuf[24];
  int n = snprintf(zBuf, sizeof(zBuf), "%llu", (unsigned long long)v);
  strAppend(s, zBuf, (uint64_t)n);
}

/* Append z as a JSON string literal (z is valid UTF-8). */
static void strJson(Str *s, const char *z){
  strAppend(s, "\"", 1);
  while( *z ){
    size_t n = strcspn(z, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"
                          "\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17"
                          "\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f");
    strAppend(s, z, n);
    z += n;
    if( *z ){
      char zEsc[8];
      unsigned char c = (unsigned char)*z;
      if( c=='"' || c=='\\' ){
        zEsc[0] = '\\'; zEsc[1] = (char)c;
        strAppend(s, zEsc, 2);
      }else{
        snprintf(zEsc, sizeof(zEsc), "\\u%04x", c);
        strAppend(s, zEsc, 6);
      }
      z++;
    }
  }
  strAppend(s, "\"", 1);
}

/*
** Insert the _pad.K tensors (once) and print the header into *s, padded
** with spaces so that 8 + s->n is a multiple of EMB_FILE_ALIGN.  Sets
** *pnData to the size of the data section.
*/
static int buildHeader(EmbWriter *p, Str *s, uint64_t *pnData){
  uint64_t off = 0;
  int i, nPad = 0;

  /* Padding: rebuild the tensor list with _pad.K where needed. */
  for(i=0; i<p->nTensor; i++){
    if( strncmp(p->aTensor[i].zName, EMB_T_PAD_PREFIX,
                sizeof(EMB_T_PAD_PREFIX)-1)==0 ) nPad++;
  }
  if( nPad==0 ){
    for(i=0; i<p->nTensor-1; i++){
      uint64_t end = off + p->aTensor[i].nByte;
      off = end;
      if( end % EMB_FILE_ALIGN ){
        char zName[32];
        uint64_t aShape[1];
        WriterTensor t;
        aShape[0] = EMB_FILE_ALIGN - end % EMB_FILE_ALIGN;
        snprintf(zName, sizeof(zName), EMB_T_PAD_PREFIX "%d", nPad++);
        if( addTensor(p, zName, EMB_DT_U8, 1, aShape, aShape[0], 0, 0) ){
          return 1;
        }
        /* addTensor appended it; move it to just after tensor i. */
        t = p->aTensor[p->nTensor-1];
        memmove(&p->aTensor[i+2], &p->aTensor[i+1],
                (size_t)(p->nTensor-2-i)*sizeof(WriterTensor));
        p->aTensor[i+1] = t;
        off += aShape[0];
        i++;
      }
    }
  }

  strText(s, "{\"__metadata__\":{");
  for(i=0; i<p->nMeta; i++){
    if( i ) strText(s, ",");
    strJson(s, p->aMeta[i].zKey);
    strText(s, ":");
    strJson(s, p->aMeta[i].zValue);
  }
  strText(s, "}");
  off = 0;
  for(i=0; i<p->nTensor; i++){
    WriterTensor *t = &p->aTensor[i];
    strText(s, ",");
    strJson(s, t->zName);
    strText(s, ":{\"dtype\":\"");
    strText(s, dtypeName(t->eType));
    strText(s, "\",\"shape\":[");
    strU64(s, t->aShape[0]);
    if( t->nDim>1 ){
      strText(s, ",");
      strU64(s, t->aShape[1]);
    }
    strText(s, "],\"data_offsets\":[");
    strU64(s, off);
    strText(s, ",");
    off += t->nByte;
    strU64(s, off);
    strText(s, "]}");
  }
  strText(s, "}");
  while( !s->bErr && (8 + s->n) % EMB_FILE_ALIGN ) strText(s, " ");
  *pnData = off;
  return s->bErr;
}

/* Write all of a[0..n) to fd.  Returns 0 or an errno value. */
static int writeAll(int fd, const void *a, uint64_t n){
  const uint8_t *z = a;
  while( n>0 ){
    size_t nChunk = n > (1u<<30) ? (1u<<30) : (size_t)n;
    ssize_t got = write(fd, z, nChunk);
    if( got<0 ){
      if( errno==EINTR ) continue;
      return errno;
    }
    if( got==0 ) return EIO;
    z += got;
    n -= (uint64_t)got;
  }
  return 0;
}

/* fsync() the folder holding zPath, so that the rename is durable.  Best
** effort: some file systems refuse to sync a folder. */
static void syncFolder(const char *zPath){
  const char *zSlash = strrchr(zPath, '/');
  char *zDir;
  int fd;
  if( zSlash==0 ){
    zDir = dupString(".");
  }else{
    size_t n = zSlash==zPath ? 1 : (size_t)(zSlash - zPath);
    zDir = embMalloc(n+1);
    if( zDir ){ memcpy(zDir, zPath, n); zDir[n] = 0; }
  }
  if( zDir==0 ) return;
  fd = open(zDir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
  if( fd>=0 ){
    (void)fsync(fd);
    close(fd);
  }
  embFree(zDir);
}

int embWriterWrite(EmbWriter *p, const char *zPath, uint64_t *pnByte,
                   char **pzErr){
  static const uint8_t aZero[EMB_FILE_ALIGN] = {0};
  Str s;
  uint64_t nData = 0, nHdr;
  uint8_t aLen[8];
  char *zTmp = 0;
  int fd = -1, e = 0, i, rc = 1;

  *pzErr = 0;
  memset(&s, 0, sizeof(s));
  if( buildHeader(p, &s, &nData) ) goto done;
  nHdr = s.n;
  for(i=0; i<8; i++) aLen[i] = (uint8_t)(nHdr >> (8*i));

  zTmp = embMprintf("%s.tmp", zPath);
  if( zTmp==0 ) goto done;
  fd = open(zTmp, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644);
  if( fd<0 ){
    *pzErr = embMprintf("cannot create '%s': %s", zTmp, strerror(errno));
    goto done;
  }
  e = writeAll(fd, aLen, 8);
  if( e==0 ) e = writeAll(fd, s.z, nHdr);
  for(i=0; e==0 && i<p->nTensor; i++){
    WriterTensor *t = &p->aTensor[i];
    if( t->pData ){
      e = writeAll(fd, t->pData, t->nByte);
    }else{
      e = writeAll(fd, aZero, t->nByte);   /* a _pad tensor, < 64 bytes */
    }
  }
  if( e==0 && fsync(fd)!=0 ) e = errno;
  if( close(fd)!=0 && e==0 ) e = errno;
  fd = -1;
  if( e ){
    *pzErr = embMprintf("cannot write '%s': %s", zTmp, strerror(e));
    goto done;
  }
  if( rename(zTmp, zPath)!=0 ){
    *pzErr = embMprintf("cannot rename '%s' to '%s': %s", zTmp, zPath,
                        strerror(errno));
    goto done;
  }
  syncFolder(zPath);
  if( pnByte ) *pnByte = 8 + nHdr + nData;
  rc = 0;

done:
  if( fd>=0 ) close(fd);
  if( rc && zTmp ) unlink(zTmp);
  embFree(zTmp);
  embFree(s.z);
  return rc;
}
