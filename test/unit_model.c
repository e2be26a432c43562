/*
** unit_model.c: unit tests of ext/model.c and ext/safetensors.c.
**
**     build/unit_model        prints failures and "N passed, N failed"
**     build/unit_model -v     also prints every error message it provoked
**
** HOW IT WORKS
** The test carries its own tiny model writer (writeModel(), assemble()):
** it lays out a header and a data section as models/FORMAT.md says, with
** _pad.K tensors so that every tensor starts at a multiple of 64.  From a
** five-word vocabulary it builds valid models (F32 and F16 matrices) and
** checks what opening them gives.  Then it breaks them, mostly by editing
** the header's JSON text (setField(), strReplace()) and reassembling, and
** checks that each break is refused with a message naming the fault.
** Corrupt hash tables and offsets that the loader cannot see at open time
** are checked at use: lookups must end and must not read out of bounds.
** Every buffer handed to the loader is malloc()'d at its exact size, so an
** AddressSanitizer build catches any read past its end.  Last, every
** truncation and thousands of random byte edits of a valid file, and
** embModelAcquire() on real files in /tmp, shared between threads.
*/
#include "model.h"
#include "pool.h"
#include "format.h"
#include "safetensors.h"
#include "alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int nPass = 0, nFail = 0;
static int bVerbose = 0;

#define CHECK(cond, ...) do{                                        \
  if( cond ){ nPass++; }else{                                       \
    nFail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    printf(__VA_ARGS__); printf("\n");                              \
  }                                                                 \
}while(0)

#define NN(z) ((z) ? (z) : "(null)")

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rngState = 0x2545f4914f6cdd1dull;
static uint64_t rng(void){
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return rngState * 2685821657736338717ull;
}

/* ---------------------------------------------------------------------
** A growable byte buffer, always NUL-terminated.
*/
typedef struct Buf Buf;
struct Buf {
  char *z;
  size_t n, nAlloc;
};

static void bufAppend(Buf *b, const void *p, size_t n){
  if( b->n+n+1>b->nAlloc ){
    b->nAlloc = (b->n+n+1)*2;
    b->z = realloc(b->z, b->nAlloc);
    if( b->z==0 ){ printf("out of memory\n"); exit(1); }
  }
  if( n ) memcpy(b->z+b->n, p, n);
  b->n += n;
  b->z[b->n] = 0;
}

static void bufPrintf(Buf *b, const char *zFmt, ...)
  __attribute__((format(printf, 2, 3)));
static void bufPrintf(Buf *b, const char *zFmt, ...){
  char zTmp[512];
  va_list ap;
  int n;
  va_start(ap, zFmt);
  n = vsnprintf(zTmp, sizeof(zTmp), zFmt, ap);
  va_end(ap);
  if( n<0 || n>=(int)sizeof(zTmp) ){ printf("bufPrintf overflow\n"); exit(1); }
  bufAppend(b, zTmp, (size_t)n);
}

static void bufFree(Buf *b){
  free(b->z);
  memset(b, 0, sizeof(*b));
}

/* A malloc()'d copy of z[0..n) of exactly n bytes (1 when n is 0). */
static uint8_t *exactCopy(const void *z, size_t n){
  uint8_t *a = malloc(n ? n : 1);
  if( a==0 ){ printf("out of memory\n"); exit(1); }
  if( n ) memcpy(a, z, n);
  return a;
}

/* ---------------------------------------------------------------------
** The model writer.
*/
typedef struct TTensor TTensor;
struct TTensor {
  const char *zName;
  const char *zType;          /* "F32", ... written as is */
  int nDim;
  uint64_t aShape[3];
  const void *pData;
  size_t nData;
  size_t iBegin;              /* out: where writeModel() put it */
};

/*
** Write the JSON header of tensors a[0..n) into *pJson (with
** "__metadata__":{zMeta}, or no metadata when zMeta is NULL) and their
** bytes into *pData, each tensor at a multiple of 64 from the start of the
** data section, with _pad.K tensors filling the gaps.
*/
static void writeModel(const char *zMeta, TTensor *a, int n,
                       Buf *pJson, Buf *pData){
  static const uint8_t aZero[64] = {0};
  int i, k, nPad = 0, nMember = 0;
  bufPrintf(pJson, "{");
  if( zMeta ){
    bufPrintf(pJson, "\"__metadata__\":{%s}", zMeta);
    nMember++;
  }
  for(i=0; i<n; i++){
    if( pData->n % EMB_FILE_ALIGN ){
      size_t nGap = EMB_FILE_ALIGN - pData->n % EMB_FILE_ALIGN;
      bufPrintf(pJson, "%s\"_pad.%d\":{\"dtype\":\"U8\",\"shape\":[%zu],"
                "\"data_offsets\":[%zu,%zu]}", nMember++ ? "," : "", nPad++,
                nGap, pData->n, pData->n+nGap);
      bufAppend(pData, aZero, nGap);
    }
    a[i].iBegin = pData->n;
    bufPrintf(pJson, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
              nMember++ ? "," : "", a[i].zName, a[i].zType);
    for(k=0; k<a[i].nDim; k++){
      bufPrintf(pJson, "%s%llu", k ? "," : "",
                (unsigned long long)a[i].aShape[k]);
    }
    bufPrintf(pJson, "],\"data_offsets\":[%zu,%zu]}", pData->n,
              pData->n+a[i].nData);
    bufAppend(pData, a[i].pData, a[i].nData);
  }
  bufPrintf(pJson, "}");
}

/*
** A model file from a JSON header and a data section: the u64 length, the
** header padded with spaces so that the data starts at a multiple of 64,
** the data.  Returns a malloc()'d buffer of exactly *pn bytes.
*/
static uint8_t *assemble(const char *zJson, const Buf *pData, size_t *pn){
  size_t nJson = strlen(zJson);
  size_t nHeader = nJson;
  size_t n, k;
  uint8_t *a;
  while( (8+nHeader) % EMB_FILE_ALIGN ) nHeader++;
  n = 8 + nHeader + pData->n;
  a = malloc(n);
  if( a==0 ){ printf("out of memory\n"); exit(1); }
  for(k=0; k<8; k++) a[k] = (uint8_t)((uint64_t)nHeader >> (8*k));
  memcpy(a+8, zJson, nJson);
  memset(a+8+nJson, ' ', nHeader-nJson);
  if( pData->n ) memcpy(a+8+nHeader, pData->z, pData->n);
  *pn = n;
  return a;
}

/*
** A malloc()'d copy of z with the first zOld replaced by zNew, or NULL
** when z has no zOld.
*/
static char *strReplace(const char *z, const char *zOld, const char *zNew){
  const char *zAt = strstr(z, zOld);
  size_t nOld = strlen(zOld), nNew = strlen(zNew), n = strlen(z);
  char *zOut;
  if( zAt==0 ) return 0;
  zOut = malloc(n - nOld + nNew + 1);
  if( zOut==0 ){ printf("out of memory\n"); exit(1); }
  memcpy(zOut, z, (size_t)(zAt-z));
  memcpy(zOut+(zAt-z), zNew, nNew);
  memcpy(zOut+(zAt-z)+nNew, zAt+nOld, n-(size_t)(zAt-z)-nOld+1);
  return zOut;
}

/*
** A malloc()'d copy of the header zJson in which field zField of tensor
** zTensor has the JSON value zValue.  NULL if there is no such field.
*/
static char *setField(const char *zJson, const char *zTensor,
                      const char *zField, const char *zValue){
  char zKey[128];
  const char *zT, *zF, *zEnd;
  size_t nOld;
  char *zOut;
  snprintf(zKey, sizeof(zKey), "\"%s\":{", zTensor);
  zT = strstr(zJson, zKey);
  if( zT==0 ) return 0;
  snprintf(zKey, sizeof(zKey), "\"%s\":", zField);
  zF = strstr(zT, zKey);
  if( zF==0 ) return 0;
  zF += strlen(zKey);
  if( *zF=='[' ) zEnd = strchr(zF, ']');
  else if( *zF=='"' ) zEnd = strchr(zF+1, '"');
  else return 0;
  if( zEnd==0 ) return 0;
  nOld = (size_t)(zEnd+1-zF);
  zOut = malloc(strlen(zJson) - nOld + strlen(zValue) + 1);
  memcpy(zOut, zJson, (size_t)(zF-zJson));
  strcpy(zOut+(zF-zJson), zValue);
  strcat(zOut, zF+nOld);
  return zOut;
}

/* ---------------------------------------------------------------------
** The standard test model: five tokens, four dimensions.
*/
static const char *azWord[] = { "the", "cat", "sat", ",", "." };
#define NWORD 5
#define NDIM  4

#define STD_META_HEAD \
  "\"format\":\"sqlite-embed\",\"format_version\":\"1\""
#define STD_META_TAIL \
  "\"source\":\"test\",\"dims\":\"4\",\"vocab_size\":\"5\","   \
  "\"description\":\"a \\\"tiny\\\" model\\n\\u00e9\\ud83d\\ude00\\/\""
#define STD_META STD_META_HEAD ",\"tokenizer\":\"word\"," STD_META_TAIL
#define STD_DESCRIPTION \
  "a \"tiny\" model\n\xc3\xa9\xf0\x9f\x98\x80/"

typedef struct Std Std;
struct Std {
  uint32_t aOff[NWORD+1];
  char zBytes[32];
  size_t nBytes;
  uint32_t aHash[64];
  int nSlot;
  float aF32[NWORD*NDIM];
  uint16_t aF16[NWORD*NDIM];
};

/* Put id into aHash[0..nSlot) for text z[0..n), as FORMAT.md says. */
static void hashInsert(uint32_t *aHash, int nSlot, const char *z, size_t n,
                       uint32_t id){
  uint32_t i = embFnv1a(z, n) & (uint32_t)(nSlot-1);
  while( aHash[i] ) i = (i+1) & (uint32_t)(nSlot-1);
  aHash[i] = id+1;
}

/* Fill *s with the standard vocabulary and a hash table of nSlot slots. */
static void stdInit(Std *s, int nSlot){
  int i, j;
  memset(s, 0, sizeof(*s));
  for(i=0; i<NWORD; i++){
    size_t n = strlen(azWord[i]);
    s->aOff[i] = (uint32_t)s->nBytes;
    memcpy(s->zBytes+s->nBytes, azWord[i], n);
    s->nBytes += n;
  }
  s->aOff[NWORD] = (uint32_t)s->nBytes;
  s->nSlot = nSlot;
  for(i=0; i<NWORD; i++){
    hashInsert(s->aHash, nSlot, azWord[i], strlen(azWord[i]), (uint32_t)i);
  }
  for(i=0; i<NWORD; i++){
    for(j=0; j<NDIM; j++){
      s->aF32[i*NDIM+j] = (float)i + (float)j*0.25f;
      s->aF16[i*NDIM+j] = (uint16_t)(0x3c00 + i*16 + j);
    }
  }
}

/* The four tensors of the standard model into a[0..4). */
static void stdTensors(Std *s, int eMatrix, TTensor *a){
  memset(a, 0, 4*sizeof(*a));
  a[0].zName = EMB_T_MATRIX;
  a[0].zType = eMatrix==EMB_DT_F16 ? "F16" : "F32";
  a[0].nDim = 2;
  a[0].aShape[0] = NWORD;
  a[0].aShape[1] = NDIM;
  a[0].pData = eMatrix==EMB_DT_F16 ? (const void*)s->aF16 : (const void*)s->aF32;
  a[0].nData = NWORD*NDIM*(eMatrix==EMB_DT_F16 ? 2 : 4);
  a[1].zName = EMB_T_VOCAB_OFFSETS;
  a[1].zType = "U32";
  a[1].nDim = 1;
  a[1].aShape[0] = NWORD+1;
  a[1].pData = s->aOff;
  a[1].nData = sizeof(s->aOff);
  a[2].zName = EMB_T_VOCAB_BYTES;
  a[2].zType = "U8";
  a[2].nDim = 1;
  a[2].aShape[0] = s->nBytes;
  a[2].pData = s->zBytes;
  a[2].nData = s->nBytes;
  a[3].zName = EMB_T_VOCAB_HASH;
  a[3].zType = "U32";
  a[3].nDim = 1;
  a[3].aShape[0] = (uint64_t)s->nSlot;
  a[3].pData = s->aHash;
  a[3].nData = (size_t)s->nSlot*4;
}

/* The tables of the BPE kinds, empty: no merges, no byte tokens, no added
** tokens (FORMAT.md "BPE tokenizers"). */
typedef struct Bpe Bpe;
struct Bpe {
  uint32_t aMerge[16];
  uint32_t aByte[256];
  uint32_t aAdded[1];
  uint8_t aFirst[256];
};
#define BPE_META ",\"bpe.unk_id\":\"2\",\"bpe.fuse_unk\":\"1\"," \
  "\"bpe.byte_fallback\":\"1\",\"bpe.ignore_merges\":\"0\",\"bpe.split\":\"0\""

/* The five BPE tensors into a[0..5): bpe.merges of nMerge slots (1 to 4),
** bpe.bytes of nByte entries (256 but to break it), bpe.added of nAdded
** slots (0 or 1). */
static void bpeTensorsN(Bpe *b, TTensor *a, int nMerge, int nByte,
                        int nAdded){
  memset(b->aMerge, 0xff, sizeof(b->aMerge));
  memset(b->aByte, 0xff, sizeof(b->aByte));
  b->aAdded[0] = 0;
  memset(b->aFirst, 0, sizeof(b->aFirst));
  memset(a, 0, 5*sizeof(*a));
  a[0].zName = EMB_T_BPE_MERGES; a[0].zType = "U32"; a[0].nDim = 2;
  a[0].aShape[0] = (uint64_t)nMerge; a[0].aShape[1] = 4;
  a[0].pData = b->aMerge; a[0].nData = 16*(size_t)nMerge;
  a[1].zName = EMB_T_BPE_BYTES; a[1].zType = "U32"; a[1].nDim = 1;
  a[1].aShape[0] = (uint64_t)nByte; a[1].pData = b->aByte;
  a[1].nData = 4*(size_t)nByte;
  a[2].zName = EMB_T_BPE_ADDED; a[2].zType = "U32"; a[2].nDim = 1;
  a[2].aShape[0] = (uint64_t)nAdded; a[2].pData = b->aAdded;
  a[2].nData = 4*(size_t)nAdded;
  a[3].zName = EMB_T_BPE_ADDED_LEN; a[3].zType = "U32"; a[3].nDim = 1;
  a[3].aShape[0] = 0; a[3].pData = b->aAdded; a[3].nData = 0;
  a[4].zName = EMB_T_BPE_ADDED_1ST; a[4].zType = "U8"; a[4].nDim = 1;
  a[4].aShape[0] = 256; a[4].pData = b->aFirst; a[4].nData = 256;
}

static void bpeTensors(Bpe *b, TTensor *a){
  bpeTensorsN(b, a, 1, 256, 1);
}

/* A model file of tensors a[0..n) with metadata zMeta; *pn gets its size. */
static uint8_t *buildFile(const char *zMeta, TTensor *a, int n, size_t *pn){
  Buf json = {0}, data = {0};
  uint8_t *aFile;
  writeModel(zMeta, a, n, &json, &data);
  aFile = assemble(json.z, &data, pn);
  bufFree(&json);
  bufFree(&data);
  return aFile;
}

/* ---------------------------------------------------------------------
** Helpers that open and check.
*/

/* Open a[0..n) and expect an error whose message has zWant. */
static void expectFail(const char *zCase, const uint8_t *a, size_t n,
                       const char *zWant){
  EmbModel *p = 0;
  char *zErr = 0;
  int rc = embModelOpenBuffer(a, n, "x.emb", &p, &zErr);
  CHECK(rc!=0 && p==0, "%s: opened", zCase);
  CHECK(zErr!=0 && strncmp(zErr, "model 'x.emb'", 13)==0
        && strstr(zErr, zWant)!=0,
        "%s: message \"%s\" lacks \"%s\"", zCase, NN(zErr), zWant);
  if( bVerbose ) printf("  %-34s %s\n", zCase, NN(zErr));
  if( rc==0 ) embModelFree(p);
  free(zErr);
}

/* Assemble a file from the header zJson and data, expect zWant. */
static void expectFailJson(const char *zCase, const char *zJson,
                           const Buf *pData, const char *zWant){
  size_t n;
  uint8_t *a;
  if( zJson==0 ){
    CHECK(0, "%s: the edit did not apply", zCase);
    return;
  }
  a = assemble(zJson, pData, &n);
  expectFail(zCase, a, n, zWant);
  free(a);
}

/* As expectFailJson() for zJson, a malloc()'d string it frees. */
static void expectFailEdit(const char *zCase, char *zJson, const Buf *pData,
                           const char *zWant){
  expectFailJson(zCase, zJson, pData, zWant);
  free(zJson);
}

/* Open a[0..n); CHECK it opened and return it (NULL if not). */
static EmbModel *expectOpen(const char *zCase, const uint8_t *a, size_t n){
  EmbModel *p = 0;
  char *zErr = 0;
  int rc = embModelOpenBuffer(a, n, "x.emb", &p, &zErr);
  CHECK(rc==0 && p!=0 && zErr==0, "%s: %s", zCase, NN(zErr));
  free(zErr);
  return rc==0 ? p : 0;
}

/*
** Use every entry point on a model that opened, within bounds only.
** Returns the number of inconsistent answers: a lookup that finds an id
** whose text is not the word looked up, a text or tensor outside the file.
*/
static const char *azMiss[] = {
  "dog", "", "th", "thee", "The", "cat ", "sa", ",,", "xyzzy", "\xff",
};
#define NMISS ((int)(sizeof(azMiss)/sizeof(azMiss[0])))

static int exercise(const EmbModel *p){
  volatile uint8_t sink = 0;
  int nWrong = 0, i, id, n;
  int nTop = p->nVocab<998 ? p->nVocab+1 : 999;
  const char *z;
  for(i=0; i<NWORD+NMISS; i++){
    const char *zWord = i<NWORD ? azWord[i] : azMiss[i-NWORD];
    int nWord = (int)strlen(zWord);
    id = embModelLookup(p, zWord, nWord);
    if( id<-1 || id>=p->nVocab ){
      nWrong++;
    }else if( id>=0 ){
      if( embModelTokenText(p, id, &z, &n) || n!=nWord
       || memcmp(z, zWord, (size_t)n)!=0 ){
        nWrong++;
      }
    }
  }
  for(id=-2; id<=nTop; id++){
    if( embModelTokenText(p, id, &z, &n)==0 ){
      const uint8_t *a = (const uint8_t*)z;
      if( id<0 || id>=p->nVocab || n<0 || a<p->aVocabBytes
       || a+n>p->aVocabBytes+p->nVocabBytes ){
        nWrong++;
      }else if( n>0 ){
        sink ^= a[0];
        sink ^= a[n-1];
      }
    }
  }
  for(i=0; i<p->nTensor; i++){
    const EmbTensor *pT = &p->aTensor[i];
    if( pT->a<p->aFile || pT->nByte>p->nFile
     || (uint64_t)(pT->a-p->aFile)>p->nFile-pT->nByte ){
      nWrong++;
    }else if( pT->nByte>0 ){
      sink ^= pT->a[0];
      sink ^= pT->a[pT->nByte-1];
    }
    if( embModelTensor(p, pT->zName)==0 ) nWrong++;
  }
  z = embModelMeta(p, "format");
  if( z==0 || strcmp(z, EMB_FORMAT_NAME)!=0 ) nWrong++;
  if( p->zSource==0 || p->zDescription==0 || p->zTokenizer==0 ) nWrong++;
  (void)sink;
  return nWrong;
}

/* ---------------------------------------------------------------------
** The parser on its own.
*/

/* Parse z (copied to an exact-size buffer: no NUL after it). */
static int parse(const char *z, EmbStHeader *pOut, char **pzErr){
  size_t n = strlen(z);
  uint8_t *a = exactCopy(z, n);
  int rc = embStParse(a, n, pOut, pzErr);
  free(a);
  return rc;
}

static void testParserGood(void){
  EmbStHeader h;
  char *zErr = 0;
  int rc;

  rc = parse("{}", &h, &zErr);
  CHECK(rc==0 && h.nTensor==0 && h.hasMeta==0 && h.nMeta==0, "{}: %s",
        NN(zErr));
  embStClear(&h);

  rc = parse(" \t\r\n{ \"__metadata__\" : { } } \n ", &h, &zErr);
  CHECK(rc==0 && h.hasMeta==1 && h.nMeta==0, "empty metadata: %s", NN(zErr));
  embStClear(&h);

  /* Every dtype, 0 to 4 dimensions, ignored keys of every JSON kind,
  ** the largest 64-bit number, spaces everywhere. */
  rc = parse(
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\n"
    " \"b\" : { \"x\" : [ 1 , -2.5E+3 , 0.5e-2, true , false , null ,"
    " \"s\\u00e9\" ] , \"y\":{\"k\":0,\"k\":\"dup keys in ignored values\"},"
    " \"z\":[], \"w\":{}, \"v\":-0,"
    " \"dtype\" : \"F16\" , \"shape\" : [ 1 , 2 , 3 , 4 ] ,"
    " \"data_offsets\" : [ 18446744073709551615 , 0 ] } ,"
    " \"c\":{\"data_offsets\":[1,2],\"shape\":[7],\"dtype\":\"BF16\"},"
    " \"d\":{\"dtype\":\"U32\",\"shape\":[0],\"data_offsets\":[0,0]},"
    " \"e\":{\"dtype\":\"U8\",\"shape\":[1,1],\"data_offsets\":[0,1]},"
    " \"__metadata__\":{\"k1\":\"v1\",\"k2\":\"\"}}", &h, &zErr);
  CHECK(rc==0, "good header: %s", NN(zErr));
  if( rc==0 ){
    CHECK(h.nTensor==5, "%d tensors", h.nTensor);
    CHECK(strcmp(h.aTensor[0].zName, "a")==0 && h.aTensor[0].eType==EMB_DT_F32
          && h.aTensor[0].nDim==0 && h.aTensor[0].iEnd==4, "tensor a");
    CHECK(h.aTensor[0].iOfs==1, "a at %llu",
          (unsigned long long)h.aTensor[0].iOfs);
    CHECK(strcmp(h.aTensor[1].zName, "b")==0 && h.aTensor[1].eType==EMB_DT_F16
          && h.aTensor[1].nDim==4 && h.aTensor[1].aShape[0]==1
          && h.aTensor[1].aShape[3]==4
          && h.aTensor[1].iBegin==UINT64_MAX && h.aTensor[1].iEnd==0,
          "tensor b");
    CHECK(h.aTensor[2].eType==EMB_DT_BF16 && h.aTensor[2].iBegin==1
          && h.aTensor[2].aShape[0]==7, "tensor c");
    CHECK(h.aTensor[3].eType==EMB_DT_U32 && h.aTensor[4].eType==EMB_DT_U8
          && h.aTensor[4].nDim==2, "tensors d, e");
    CHECK(h.hasMeta && h.nMeta==2 && strcmp(h.aMeta[0].zKey, "k1")==0
          && strcmp(h.aMeta[0].zValue, "v1")==0
          && strcmp(h.aMeta[1].zValue, "")==0, "metadata");
  }
  embStClear(&h);

  /* Escapes decode, in names and values. */
  rc = parse("{\"__metadata__\":{\"a\\n\\\"\\\\\\/\\b\\f\\r\\t\\u00e9\\u20AC"
             "\\ud83d\\ude00\\u007f\":\"\\u0041\xc3\xa9\xe2\x82\xac"
             "\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}}", &h, &zErr);
  CHECK(rc==0 && h.nMeta==1, "escapes: %s", NN(zErr));
  if( rc==0 && h.nMeta==1 ){
    CHECK(strcmp(h.aMeta[0].zKey, "a\n\"\\/\b\f\r\t\xc3\xa9\xe2\x82\xac"
                 "\xf0\x9f\x98\x80\x7f")==0, "decoded key");
    CHECK(strcmp(h.aMeta[0].zValue, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                 "\xf4\x8f\xbf\xbf")==0, "decoded value");
  }
  embStClear(&h);

  CHECK(embStDtypeSize(EMB_DT_F32)==4 && embStDtypeSize(EMB_DT_BF16)==2
        && embStDtypeSize(EMB_DT_U8)==1 && embStDtypeSize(99)==0,
        "dtype sizes");
  CHECK(strcmp(embStDtypeName(EMB_DT_F16), "F16")==0
        && strcmp(embStDtypeName(0), "?")==0, "dtype names");
}

#define TENSOR(body) "{\"t\":{" body "}}"
#define T_OK "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]"

static const struct {
  const char *zJson;
  const char *zWant;
} aBadJson[] = {
  { "",                       "expected '{' at byte 0 of the header, found the end" },
  { "   ",                    "expected '{' at byte 3" },
  { "[]",                     "expected '{' at byte 0 of the header, found '['" },
  { "\x01{}",                 "found byte 0x01" },
  { "{",                      "found the end of the header" },
  { "{\"a\" 1}",              "expected ':' at byte 5 of the header, found '1'" },
  { "{\"a\"",                 "expected ':'" },
  { "{,}",                    "expected a tensor name or \"__metadata__\"" },
  { "{\"t\":{" T_OK "},}",    "expected a tensor name" },
  { "{\"t\":{" T_OK "} \"u\"", "expected ',' or '}'" },
  { "{\"__metadata__\":{\"a\":\"b\",}}", "expected a key at byte 25" },
  { "{\"__metadata__\":{\"a\":\"b\" \"c\"}}", "expected ',' or '}'" },
  { "{} x",                   "unexpected data at byte 3" },
  { "{}}",                    "unexpected data at byte 2" },
  { "{\"abc",                 "unterminated string at byte 1" },
  { "{\"abc\\",               "unterminated string at byte 1" },
  { "{\"abc\\\"}",            "unterminated string" },
  { "{\"a\\qb\":{}}",         "bad escape '\\q' at byte 3" },
  { "{\"a\\u12\":{}}",        "bad \\u escape at byte 3" },
  { "{\"a\\u12g4\":{}}",      "bad \\u escape" },
  { "{\"a\\u12",              "bad \\u escape" },
  { "{\"\\ud800\":{}}",       "high surrogate \\ud800 at byte 2" },
  { "{\"\\ud800\\u0041\":{}}", "is not followed by a low surrogate" },
  { "{\"\\ud800\\ud800\":{}}", "is not followed by a low surrogate" },
  { "{\"\\udbff\\",           "is not followed by a low surrogate" },
  { "{\"\\udc00\":{}}",       "unpaired low surrogate" },
  { "{\"\\u0000\":{}}",       "may not contain NUL" },
  { "{\"a\tb\":{}}",          "control character 0x09 in a string at byte 3" },
  { "{\"a\nb\":{}}",          "control character 0x0a" },
  { "{\"\xff\":{}}",          "invalid UTF-8 in a string at byte 2" },
  { "{\"\xc0\x80\":{}}",      "invalid UTF-8" },
  { "{\"\xc1\xbf\":{}}",      "invalid UTF-8" },
  { "{\"\xe0\x80\x80\":{}}",  "invalid UTF-8" },
  { "{\"\xed\xa0\x80\":{}}",  "invalid UTF-8" },
  { "{\"\xf0\x80\x80\x80\":{}}", "invalid UTF-8" },
  { "{\"\xf4\x90\x80\x80\":{}}", "invalid UTF-8" },
  { "{\"\xf8\x80\x80\x80\":{}}", "invalid UTF-8" },
  { "{\"\xe2\x82\":{}}",      "invalid UTF-8" },
  { "{\"\x80\":{}}",          "invalid UTF-8" },
  { "{\"\xe2\x82",            "invalid UTF-8" },
  { "{\"t\":1}",              "tensor 't' at byte 1 of the header is not an object" },
  { "{\"t\":[]}",             "is not an object" },
  { "{\"t\":\"x\"}",          "is not an object" },
  { "{\"\":{" T_OK "}}",      "empty tensor name at byte 1" },
  { "{\"__metadata__\":[]}",  "__metadata__ at byte 16 of the header is not an object" },
  { "{\"__metadata__\":{\"a\":1}}", "__metadata__ value of 'a' at byte 21" },
  { "{\"__metadata__\":{\"a\":[\"b\"]}}", "is not a string" },
  { "{\"__metadata__\":{\"a\":null}}", "is not a string" },
  { "{\"__metadata__\":{},\"__metadata__\":{}}", "a second __metadata__ at byte 19" },
  { "{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}}",
                              "a second __metadata__ key 'a' at byte 33" },
  { "{\"t\":{" T_OK "},\"u\":{" T_OK "},\"t\":{" T_OK "}}",
                              "a second tensor named 't' at byte 105" },
  { "{\"\\u0074\":{" T_OK "},\"t\":{" T_OK "}}", "a second tensor named 't'" },
  { TENSOR(T_OK ",\"dtype\":\"U8\""), "tensor 't' has a second \"dtype\" at byte 52" },
  { TENSOR(T_OK ",\"shape\":[1]"), "a second \"shape\"" },
  { TENSOR(T_OK ",\"data_offsets\":[0,1]"), "a second \"data_offsets\"" },
  { TENSOR("\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]"),
                              "tensor 't' has dtype 'C64' (byte 14 of the header)" },
  { TENSOR("\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]"), "dtype 'f32'" },
  { TENSOR("\"dtype\":\"\",\"shape\":[1],\"data_offsets\":[0,4]"), "dtype ''" },
  { TENSOR("\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]"),
                              "\"dtype\" of tensor 't' at byte 14 of the header is not a string" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]"),
                              "negative number at byte 28" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]"),
                              "number at byte 28 of the header is not an integer" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1e3],\"data_offsets\":[0,1]"), "not an integer" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1E3],\"data_offsets\":[0,1]"), "not an integer" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]"), "leading zero" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[00],\"data_offsets\":[0,1]"), "leading zero" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,1]"),
                              "number at byte 28 of the header does not fit 64 bits" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[99999999999999999999999999],\"data_offsets\":[0,1]"),
                              "does not fit 64 bits" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1,2,3,4,5],\"data_offsets\":[0,1]"),
                              "\"shape\" of tensor 't' has more than 4 entries" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1,],\"data_offsets\":[0,1]"),
                              "expected a non-negative integer at byte 30" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1 2],\"data_offsets\":[0,1]"),
                              "expected ',' or ']'" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[,],\"data_offsets\":[0,1]"),
                              "expected a non-negative integer" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[true],\"data_offsets\":[0,1]"),
                              "expected a non-negative integer" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]"),
                              "\"shape\" of tensor 't' at byte 27 of the header is not an array" },
  { "{\"t\":{\"dtype\":\"U8\",\"shape\":[", "found the end of the header" },
  { "{\"t\":{\"dtype\":\"U8\",\"shape\":[1", "found the end of the header" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]"),
                              "\"data_offsets\" of tensor 't' at byte 46 of the header has 1 entries, not 2" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[]"), "has 0 entries, not 2" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]"),
                              "\"data_offsets\" of tensor 't' has more than 2 entries" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,-1]"), "negative number" },
  { TENSOR("\"shape\":[1],\"data_offsets\":[0,1]"),
                              "tensor 't' at byte 1 of the header has no \"dtype\"" },
  { TENSOR("\"dtype\":\"U8\",\"data_offsets\":[0,1]"), "has no \"shape\"" },
  { TENSOR("\"dtype\":\"U8\",\"shape\":[1]"), "has no \"data_offsets\"" },
  { "{\"t\":{}}",             "has no \"dtype\"" },
  { TENSOR(T_OK ",\"x\":[[1]]"), "value nested deeper than the format allows at byte 57" },
  { TENSOR(T_OK ",\"x\":{\"a\":{}}"), "nested deeper" },
  { TENSOR(T_OK ",\"x\":[{}]"), "nested deeper" },
  { TENSOR(T_OK ",\"x\":tru"), "expected a value" },
  { TENSOR(T_OK ",\"x\":nul"), "expected a value" },
  { TENSOR(T_OK ",\"x\":True"), "expected a value" },
  { TENSOR(T_OK ",\"x\":}"), "expected a value" },
  { TENSOR(T_OK ",\"x\":-"), "expected a digit" },
  { TENSOR(T_OK ",\"x\":-a"), "expected a digit" },
  { TENSOR(T_OK ",\"x\":1."), "expected a digit" },
  { TENSOR(T_OK ",\"x\":1.e5"), "expected a digit" },
  { TENSOR(T_OK ",\"x\":1e"), "expected a digit" },
  { TENSOR(T_OK ",\"x\":1e+"), "expected a digit" },
  { TENSOR(T_OK ",\"x\":.5"), "expected a value" },
  { TENSOR(T_OK ",\"x\":+1"), "expected a value" },
  { TENSOR(T_OK ",\"x\":01"), "expected ',' or '}'" },
  { TENSOR(T_OK ",\"x\":\"a\\x\""), "bad escape '\\x'" },
  { TENSOR(T_OK ",\"x\":\"\xff\""), "invalid UTF-8" },
  { TENSOR(T_OK ",\"x\":[1,]"), "expected a value" },
  { TENSOR(T_OK ",\"x\":[1 2]"), "expected ',' or ']'" },
  { TENSOR(T_OK ",\"x\":{\"a\" 1}"), "expected ':'" },
  { TENSOR(T_OK ",\"x\":{1:2}"), "expected a key" },
  { TENSOR(T_OK ",\"x\":{\"a\":1 \"b\":2}"), "expected ',' or '}'" },
  { TENSOR(T_OK ",\"x\":{\"a\":1,}"), "expected a key" },
  { TENSOR(T_OK ",,"), "expected a key" },
  { TENSOR(T_OK " \"x\":1"), "expected ',' or '}'" },
  { TENSOR("\"dtype\" \"U8\""), "expected ':'" },
  { TENSOR(T_OK ",\"\\ud800x\":1"), "high surrogate" },
};

static void testParserBad(void){
  int i;
  for(i=0; i<(int)(sizeof(aBadJson)/sizeof(aBadJson[0])); i++){
    EmbStHeader h;
    char *zErr = 0;
    int rc = parse(aBadJson[i].zJson, &h, &zErr);
    if( aBadJson[i].zWant[0]==0 ){
      CHECK(rc==0, "case %d: %s", i, NN(zErr));
    }else{
      CHECK(rc!=0 && h.nTensor==0 && h.aTensor==0 && h.zPool==0,
            "case %d (%s) parsed", i, aBadJson[i].zJson);
      CHECK(zErr!=0 && strstr(zErr, aBadJson[i].zWant)!=0,
            "case %d (%s): message \"%s\" lacks \"%s\"", i,
            aBadJson[i].zJson, NN(zErr), aBadJson[i].zWant);
      if( bVerbose ) printf("  json %-3d %s\n", i, NN(zErr));
    }
    embStClear(&h);
    free(zErr);
  }
}

/* Hostile sizes: deep nesting, long strings, many tensors, huge numbers. */
static void testParserHostile(void){
  EmbStHeader h;
  char *zErr = 0;
  Buf b = {0};
  int i, rc;

  /* 100000 nested arrays in an ignored value: refused at the third. */
  bufPrintf(&b, "{\"t\":{\"x\":");
  for(i=0; i<100000; i++) bufAppend(&b, "[", 1);
  rc = parse(b.z, &h, &zErr);
  CHECK(rc!=0 && zErr && strstr(zErr, "nested deeper"), "deep: %s", NN(zErr));
  free(zErr);
  zErr = 0;
  bufFree(&b);

  /* 20000 tensors, one duplicated at the end */
  bufPrintf(&b, "{");
  for(i=0; i<20000; i++){
    bufPrintf(&b, "%s\"t%d\":{" T_OK "}", i ? "," : "", i);
  }
  bufAppend(&b, "}", 1);
  rc = parse(b.z, &h, &zErr);
  CHECK(rc==0 && h.nTensor==20000, "20000 tensors: %s", NN(zErr));
  CHECK(rc==0 && strcmp(h.aTensor[19999].zName, "t19999")==0, "last name");
  embStClear(&h);
  b.n--;
  bufPrintf(&b, ",\"t123\":{" T_OK "}}");
  rc = parse(b.z, &h, &zErr);
  CHECK(rc!=0 && zErr && strstr(zErr, "a second tensor named 't123'"),
        "duplicate among many: %s", NN(zErr));
  free(zErr);
  zErr = 0;
  bufFree(&b);

  /* A long string made of escapes only */
  bufPrintf(&b, "{\"__metadata__\":{\"k\":\"");
  for(i=0; i<10000; i++) bufPrintf(&b, "\\ud83d\\ude00\\n");
  bufPrintf(&b, "\"}}");
  rc = parse(b.z, &h, &zErr);
  CHECK(rc==0 && h.nMeta==1 && strlen(h.aMeta[0].zValue)==50000,
        "long escaped string: %s", NN(zErr));
  embStClear(&h);
  bufFree(&b);

  /* The length is what counts, not a NUL */
  {
    static const char zNul[] = "{}\0garbage";
    uint8_t *a = exactCopy(zNul, sizeof(zNul)-1);
    rc = embStParse(a, sizeof(zNul)-1, &h, &zErr);
    CHECK(rc!=0 && zErr && strstr(zErr, "unexpected data at byte 2"),
          "NUL in header: %s", NN(zErr));
    free(zErr);
    zErr = 0;
    rc = embStParse(a, 2, &h, &zErr);
    CHECK(rc==0, "prefix of a buffer: %s", NN(zErr));
    embStClear(&h);
    rc = embStParse(a, 0, &h, &zErr);
    CHECK(rc!=0 && zErr!=0, "zero length");
    free(zErr);
    free(a);
  }
}

/* ---------------------------------------------------------------------
** Valid models.
*/
static void checkStdModel(const char *zCase, const EmbModel *p, int eMatrix,
                          const Std *s){
  const EmbTensor *pT;
  const char *z;
  int i, n;
  if( p==0 ) return;
  CHECK(p->nVocab==NWORD && p->nDims==NDIM, "%s: %d x %d", zCase, p->nVocab,
        p->nDims);
  CHECK(p->eMatrixType==eMatrix, "%s: matrix type %d", zCase, p->eMatrixType);
  CHECK(p->eTokenizer==EMB_TOK_WORD && strcmp(p->zTokenizer, "word")==0,
        "%s: tokenizer %s", zCase, p->zTokenizer);
  CHECK(strcmp(p->zSource, "test")==0, "%s: source %s", zCase, p->zSource);
  CHECK(strcmp(p->zDescription, STD_DESCRIPTION)==0, "%s: description %s",
        zCase, p->zDescription);
  CHECK(p->isMapped || strcmp(p->zPath, "x.emb")==0, "%s: label %s", zCase, p->zPath);
  z = embModelMeta(p, "format");
  CHECK(z && strcmp(z, "sqlite-embed")==0, "%s: format %s", zCase, NN(z));
  z = embModelMeta(p, "vocab_size");
  CHECK(z && strcmp(z, "5")==0, "%s: vocab_size %s", zCase, NN(z));
  CHECK(embModelMeta(p, "nope")==0 && embModelMeta(p, "")==0,
        "%s: absent metadata", zCase);
  CHECK(p->nTensor==4, "%s: %d tensors (pads must be skipped)", zCase,
        p->nTensor);
  CHECK(embModelTensor(p, "_pad.0")==0 && embModelTensor(p, "x")==0,
        "%s: absent tensors", zCase);
  pT = embModelTensor(p, EMB_T_MATRIX);
  CHECK(pT && pT->a==p->aMatrix && pT->nDim==2 && pT->aShape[0]==NWORD
        && pT->aShape[1]==NDIM && pT->eType==eMatrix, "%s: matrix tensor",
        zCase);
  for(i=0; i<p->nTensor; i++){
    CHECK((p->aTensor[i].a - p->aFile) % EMB_FILE_ALIGN==0,
          "%s: tensor %s at %ld", zCase, p->aTensor[i].zName,
          (long)(p->aTensor[i].a - p->aFile));
  }
  if( eMatrix==EMB_DT_F32 ){
    CHECK(memcmp(p->aMatrix, s->aF32, sizeof(s->aF32))==0, "%s: F32 rows",
          zCase);
  }else{
    CHECK(memcmp(p->aMatrix, s->aF16, sizeof(s->aF16))==0, "%s: F16 rows",
          zCase);
  }
  CHECK(p->nVocabBytes==s->nBytes && p->nSlot==(uint32_t)s->nSlot,
        "%s: %llu vocabulary bytes, %u slots", zCase,
        (unsigned long long)p->nVocabBytes, p->nSlot);
  for(i=0; i<NWORD; i++){
    int id = embModelLookup(p, azWord[i], (int)strlen(azWord[i]));
    CHECK(id==i, "%s: lookup '%s' gives %d", zCase, azWord[i], id);
    CHECK(embModelTokenText(p, i, &z, &n)==0 && n==(int)strlen(azWord[i])
          && memcmp(z, azWord[i], (size_t)n)==0, "%s: text of %d", zCase, i);
  }
  for(i=0; i<NMISS; i++){
    int id = embModelLookup(p, azMiss[i], (int)strlen(azMiss[i]));
    CHECK(id==-1, "%s: lookup '%s' gives %d", zCase, azMiss[i], id);
  }
  CHECK(embModelLookup(p, "the", -1)==-1, "%s: negative length", zCase);
  CHECK(embModelLookup(p, "cat!", 3)==1, "%s: length is honoured", zCase);
  CHECK(embModelTokenText(p, -1, &z, &n)==-1
        && embModelTokenText(p, NWORD, &z, &n)==-1
        && embModelTokenText(p, 1<<30, &z, &n)==-1, "%s: ids out of range",
        zCase);
  CHECK(p->nCall==0 && p->nToken==0, "%s: counters", zCase);
  CHECK(p->loadUs==0 || p->isMapped, "%s: loadUs of a buffer", zCase);
  CHECK(exercise(p)==0, "%s: exercise", zCase);
}

/*
** The BPE kinds' tables are checked at open: each tensor present with its
** shape, hash tables a power of two, and the bpe.* metadata.
*/
static void testBpeTables(Std *s, Bpe *b){
  static const struct { const char *zTensor, *zField, *zValue, *zWant; } aCase[] = {
    { EMB_T_BPE_MERGES, "shape", "[4]", "[slots, 4]" },
    { EMB_T_BPE_MERGES, "shape", "[2,2]", "[slots, 4]" },
    { EMB_T_BPE_MERGES, "dtype", "\"F32\"", "dtype F32 but needs U32" },
    { EMB_T_BPE_ADDED_1ST, "shape", "[16,16]", "needs [256]" },
    { EMB_T_BPE_ADDED_LEN, "dtype", "\"U8\"", "needs U32" },
  };
  static const struct { int nMerge, nByte, nAdded; const char *zWant; } aSize[] = {
    { 3, 256, 1, "'bpe.merges' has shape [3, 4] but needs [slots, 4], slots "
                 "a power of two" },
    { 1, 255, 1, "'bpe.bytes' has shape [255] but needs [256]" },
    { 1, 256, 0, "'bpe.added' has 0 slots, which is not a power of two" },
  };
  static const struct { const char *zOld, *zNew, *zWant; } aMeta[] = {
    { "\"bpe.unk_id\":\"2\"", "\"bpe.unk_id\":\"5\"", "bpe.unk_id '5'" },
    { "\"bpe.unk_id\":\"2\"", "\"bpe.unk_id\":\"-1\"", "bpe.unk_id '-1'" },
    { "\"bpe.unk_id\":\"2\",", "", "no __metadata__.bpe.unk_id" },
    { "\"bpe.fuse_unk\":\"1\"", "\"bpe.fuse_unk\":\"yes\"", "must be 0 or 1" },
    { "\"bpe.split\":\"0\"", "\"bpe.splitx\":\"0\"", "no __metadata__.bpe.split" },
  };
  TTensor a[9];
  Buf json = {0}, data = {0};
  char zMeta[1024];
  size_t i;
  snprintf(zMeta, sizeof(zMeta), STD_META_HEAD ",\"tokenizer\":\"%s\","
           STD_META_TAIL BPE_META, EMB_TOKENIZER_METASPACE);
  stdTensors(s, EMB_DT_F32, a);
  bpeTensors(b, a+4);
  writeModel(zMeta, a, 9, &json, &data);
  for(i=0; i<sizeof(aCase)/sizeof(aCase[0]); i++){
    char zCase[80];
    snprintf(zCase, sizeof(zCase), "bpe %s %s", aCase[i].zTensor,
             aCase[i].zField);
    expectFailEdit(zCase, setField(json.z, aCase[i].zTensor, aCase[i].zField,
                                   aCase[i].zValue), &data, aCase[i].zWant);
  }
  for(i=0; i<sizeof(aMeta)/sizeof(aMeta[0]); i++){
    expectFailEdit(aMeta[i].zNew[0] ? aMeta[i].zNew : "bpe meta removed",
                   strReplace(json.z, aMeta[i].zOld, aMeta[i].zNew), &data,
                   aMeta[i].zWant);
  }
  bufFree(&json);
  bufFree(&data);
  for(i=0; i<sizeof(aSize)/sizeof(aSize[0]); i++){
    bpeTensorsN(b, a+4, aSize[i].nMerge, aSize[i].nByte, aSize[i].nAdded);
    writeModel(zMeta, a, 9, &json, &data);
    expectFailJson(aSize[i].zWant, json.z, &data, aSize[i].zWant);
    bufFree(&json);
    bufFree(&data);
  }
  bpeTensors(b, a+4);
  /* a tensor missing */
  writeModel(zMeta, a, 8, &json, &data);
  expectFailJson("bpe.added_first missing", json.z, &data,
                 "has no tensor 'bpe.added_first'");
  bufFree(&json);
  bufFree(&data);
}

static void testValid(void){
  static const struct { const char *zName; int eTok; } aTok[] = {
    { "word", EMB_TOK_WORD },
    { "bpe-metaspace", EMB_TOK_METASPACE },
    { "bpe-bytelevel", EMB_TOK_BYTELEVEL },
  };
  Std s;
  Bpe bpe;
  TTensor a[9];
  uint8_t *aFile;
  size_t n;
  EmbModel *p;
  int k;

  stdInit(&s, 16);
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("F32", aFile, n);
  checkStdModel("F32", p, EMB_DT_F32, &s);
  embModelRelease(p);          /* a buffer model has one reference */
  free(aFile);

  stdTensors(&s, EMB_DT_F16, a);
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("F16", aFile, n);
  checkStdModel("F16", p, EMB_DT_F16, &s);
  embModelFree(p);
  free(aFile);
  embModelFree(0);
  embModelRelease(0);

  for(k=0; k<3; k++){
    char zMeta[1024];
    int bBpe = aTok[k].eTok!=EMB_TOK_WORD;
    snprintf(zMeta, sizeof(zMeta), STD_META_HEAD ",\"tokenizer\":\"%s\","
             STD_META_TAIL "%s", aTok[k].zName, bBpe ? BPE_META : "");
    stdTensors(&s, EMB_DT_F32, a);
    if( bBpe ) bpeTensors(&bpe, a+4);
    aFile = buildFile(zMeta, a, bBpe ? 9 : 4, &n);
    p = expectOpen(aTok[k].zName, aFile, n);
    CHECK(p && p->eTokenizer==aTok[k].eTok
          && strcmp(p->zTokenizer, aTok[k].zName)==0, "tokenizer %s",
          aTok[k].zName);
    CHECK(!bBpe || (p && p->bpe.nMergeSlot==1 && p->bpe.iUnk==2
                    && p->added.nLen==0 && p->bpe.bByteFallback==1),
          "bpe tables of %s", aTok[k].zName);
    embModelFree(p);
    free(aFile);
  }
  testBpeTables(&s, &bpe);

  /* No source, no description; metadata after the tensors; spare keys */
  {
    Buf json = {0}, data = {0};
    char *zJson, *zJson2;
    stdTensors(&s, EMB_DT_F32, a);
    writeModel(0, a, 4, &json, &data);
    json.z[json.n-1] = 0;
    zJson = malloc(json.n + 200);
    snprintf(zJson, json.n+200, "%s,\"__metadata__\":{" STD_META_HEAD
             ",\"tokenizer\":\"word\",\"dims\":\"4\",\"vocab_size\":\"5\","
             "\"other\":\"x\"}}", json.z);
    aFile = assemble(zJson, &data, &n);
    p = expectOpen("minimal metadata", aFile, n);
    CHECK(p && strcmp(p->zSource, "")==0 && strcmp(p->zDescription, "")==0,
          "absent source and description are empty");
    CHECK(p && p->nMeta==6, "6 metadata entries");
    embModelFree(p);
    free(aFile);
    /* an extra tensor of another dtype, and ignored keys in an entry */
    zJson2 = strReplace(zJson, "{\"dtype\":\"U32\"",
                        "{\"extra\":[1,2.5,\"x\"],\"dtype\":\"U32\"");
    CHECK(zJson2!=0, "edit");
    if( zJson2 ){
      aFile = assemble(zJson2, &data, &n);
      p = expectOpen("ignored keys", aFile, n);
      embModelFree(p);
      free(aFile);
      free(zJson2);
    }
    free(zJson);
    bufFree(&json);
    bufFree(&data);
  }

  /* A larger vocabulary with a full-size hash table: every word found */
  {
    enum { NBIG = 300, NSLOTBIG = 1024 };
    static char azBig[NBIG][8];
    static uint32_t aOff[NBIG+1], aHash[NSLOTBIG];
    static char zBytes[NBIG*8];
    static float aM[NBIG*2];
    TTensor t[4];
    size_t nb = 0;
    int i, nFound = 0;
    char zMeta[512];
    memset(aHash, 0, sizeof(aHash));
    for(i=0; i<NBIG; i++){
      size_t len;
      snprintf(azBig[i], sizeof(azBig[i]), "w%d", i*7);
      len = strlen(azBig[i]);
      aOff[i] = (uint32_t)nb;
      memcpy(zBytes+nb, azBig[i], len);
      nb += len;
      hashInsert(aHash, NSLOTBIG, azBig[i], len, (uint32_t)i);
      aM[2*i] = (float)i;
      aM[2*i+1] = -(float)i;
    }
    aOff[NBIG] = (uint32_t)nb;
    memset(t, 0, sizeof(t));
    t[0].zName = EMB_T_MATRIX; t[0].zType = "F32"; t[0].nDim = 2;
    t[0].aShape[0] = NBIG; t[0].aShape[1] = 2;
    t[0].pData = aM; t[0].nData = sizeof(aM);
    t[1].zName = EMB_T_VOCAB_OFFSETS; t[1].zType = "U32"; t[1].nDim = 1;
    t[1].aShape[0] = NBIG+1; t[1].pData = aOff; t[1].nData = sizeof(aOff);
    t[2].zName = EMB_T_VOCAB_BYTES; t[2].zType = "U8"; t[2].nDim = 1;
    t[2].aShape[0] = nb; t[2].pData = zBytes; t[2].nData = nb;
    t[3].zName = EMB_T_VOCAB_HASH; t[3].zType = "U32"; t[3].nDim = 1;
    t[3].aShape[0] = NSLOTBIG; t[3].pData = aHash; t[3].nData = sizeof(aHash);
    snprintf(zMeta, sizeof(zMeta), STD_META_HEAD ",\"tokenizer\":\"word\","
             "\"dims\":\"2\",\"vocab_size\":\"%d\"", NBIG);
    aFile = buildFile(zMeta, t, 4, &n);
    p = expectOpen("300 words", aFile, n);
    if( p ){
      for(i=0; i<NBIG; i++){
        if( embModelLookup(p, azBig[i], (int)strlen(azBig[i]))==i ) nFound++;
      }
      CHECK(nFound==NBIG, "found %d of %d", nFound, NBIG);
      CHECK(embModelLookup(p, "w1", 2)==-1 && embModelLookup(p, "w", 1)==-1,
            "misses among 300");
    }
    embModelFree(p);
    free(aFile);
  }
}

/* ---------------------------------------------------------------------
** Files the loader must refuse.
*/
static void testFileLevel(void){
  Std s;
  TTensor a[4];
  uint8_t *aFile, *b;
  size_t n, k;
  char zMsg[128];

  stdInit(&s, 16);
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);

  b = exactCopy(aFile, 0);
  expectFail("empty buffer", b, 0, "model 'x.emb' is empty");
  free(b);
  b = exactCopy(aFile, 7);
  expectFail("7 bytes", b, 7, "model 'x.emb' is truncated: it has 7 bytes");
  free(b);

  b = exactCopy(aFile, n);
  for(k=0; k<8; k++) b[k] = (uint8_t)((uint64_t)(n-7) >> (8*k));
  snprintf(zMsg, sizeof(zMsg), "is truncated: the header needs %zu bytes but "
           "the file has %zu", n+1, n);
  expectFail("header length > file", b, n, zMsg);
  memset(b, 0, 8);
  b[7] = 0x80;
  expectFail("header length 2^63", b, n,
             "its header length is 9223372036854775808 bytes, more than the "
             "limit");
  memset(b, 0xff, 8);
  expectFail("header length 2^64-1", b, n, "more than the limit");
  memset(b, 0, 8);
  b[3] = 0x07;                      /* 112 MB */
  expectFail("header length 100 MB", b, n, "more than the limit");
  memset(b, 0, 8);
  expectFail("header length 0", b, n, "expected '{' at byte 0 of the header");
  b[0] = 1;
  expectFail("header length 1", b, n, "found the end of the header");
  free(b);

  b = exactCopy(aFile, n-1);
  expectFail("data truncated by 1", b, n-1,
             "is truncated: tensor 'vocab.hash' ends at byte");
  free(b);

  b = exactCopy(aFile, n);
  memcpy(b+8, "[    ", 5);
  expectFail("header not an object", b, n, "has a bad header: expected '{'");
  free(b);
  free(aFile);
}

static void testHeaderLevel(void){
  Std s;
  TTensor a[4];
  Buf json = {0}, data = {0};
  char zMeta[1024], zVal[64];
  const char *z = 0;
  size_t bytesAt;
  int i;
  static const char *azRequired[] = {
    EMB_T_MATRIX, EMB_T_VOCAB_OFFSETS, EMB_T_VOCAB_BYTES, EMB_T_VOCAB_HASH,
  };
  static const struct { const char *zKey, *zValue, *zWant; } aMeta[] = {
    { "format", "sqlite-vec", "is not a sqlite-embed model (its format is 'sqlite-vec')" },
    { "format", "", "(its format is '')" },
    { "format_version", "3", "has format version 3; this build reads versions 1 to 2" },
    { "format_version", "0", "has format version 0" },
    { "format_version", "01", "has format version 01" },
    { "format_version", "1.0", "has format version 1.0" },
    { "format_version", " 1", "has format version  1" },
    { "format_version", "", "has format version ;" },
    { "tokenizer", "sentencepiece", "unknown tokenizer 'sentencepiece' (this build knows word, bpe-metaspace, bpe-bytelevel, wordpiece and unigram)" },
    { "tokenizer", "Word", "unknown tokenizer 'Word'" },
    { "dims", "0", "has __metadata__.dims '0'; it must be a decimal number from 1 to 65536" },
    { "dims", "-4", "__metadata__.dims '-4'" },
    { "dims", "4x", "__metadata__.dims '4x'" },
    { "dims", "04", "__metadata__.dims '04'" },
    { "dims", "+4", "__metadata__.dims '+4'" },
    { "dims", "", "__metadata__.dims ''" },
    { "dims", "65537", "__metadata__.dims '65537'" },
    { "dims", "99999999999999999999999", "__metadata__.dims '9999" },
    { "dims", "3", "tensor 'embedding.weight' has shape [5, 4] but needs [vocab_size, dims] = [5, 3]" },
    { "vocab_size", "2147483648", "__metadata__.vocab_size '2147483648'; it must be a decimal number from 1 to 2147483647" },
    { "vocab_size", "0", "__metadata__.vocab_size '0'" },
    { "vocab_size", "4", "has shape [5, 4] but needs [vocab_size, dims] = [4, 4]" },
  };
  static const char *azMetaKey[] = {
    "format", "format_version", "tokenizer", "dims", "vocab_size",
  };

  stdInit(&s, 16);
  stdTensors(&s, EMB_DT_F32, a);
  writeModel(STD_META, a, 4, &json, &data);
  bytesAt = a[2].iBegin;

  expectFailJson("bad JSON via the model", "{\"a\" 1}", &data,
                 "model 'x.emb' has a bad header: expected ':' at byte 5 of "
                 "the header, found '1'");
  expectFailEdit("bad escape via the model",
                 strReplace(json.z, "test", "te\\st"), &data,
                 "has a bad header: bad escape '\\s'");

  /* Metadata */
  {
    Buf j2 = {0}, d2 = {0};
    writeModel(0, a, 4, &j2, &d2);
    expectFailJson("no __metadata__", j2.z, &d2,
                   "model 'x.emb' is not a sqlite-embed model (no __metadata__)");
    bufFree(&j2);
    bufFree(&d2);
  }
  expectFailEdit("empty __metadata__",
                 strReplace(json.z, "{" STD_META "}", "{}"), &data,
                 "(no __metadata__.format)");
  for(i=0; i<(int)(sizeof(azMetaKey)/sizeof(azMetaKey[0])); i++){
    char zOld[64], zNew[64];
    snprintf(zOld, sizeof(zOld), "\"%s\":", azMetaKey[i]);
    snprintf(zNew, sizeof(zNew), "\"%s_\":", azMetaKey[i]);
    snprintf(zMeta, sizeof(zMeta), "__metadata__.%s", azMetaKey[i]);
    expectFailEdit(zOld, strReplace(json.z, zOld, zNew), &data, zMeta);
  }
  for(i=0; i<(int)(sizeof(aMeta)/sizeof(aMeta[0])); i++){
    char zOld[64];
    const char *zAt;
    size_t nOld;
    char *zJson;
    snprintf(zOld, sizeof(zOld), "\"%s\":\"", aMeta[i].zKey);
    zAt = strstr(json.z, zOld);
    if( zAt==0 ){ CHECK(0, "no %s", aMeta[i].zKey); continue; }
    nOld = strlen(zOld) + (size_t)(strchr(zAt+strlen(zOld), '"') -
                                   (zAt+strlen(zOld))) + 1;
    memcpy(zMeta, zAt, nOld);
    zMeta[nOld] = 0;
    snprintf(zVal, sizeof(zVal), "\"%s\":\"%s\"", aMeta[i].zKey,
             aMeta[i].zValue);
    zJson = strReplace(json.z, zMeta, zVal);
    snprintf(zMeta, sizeof(zMeta), "%s = '%s'", aMeta[i].zKey,
             aMeta[i].zValue);
    expectFailEdit(zMeta, zJson, &data, aMeta[i].zWant);
  }
  expectFailEdit("metadata not strings",
                 strReplace(json.z, "\"dims\":\"4\"", "\"dims\":4"), &data,
                 "__metadata__ value of 'dims'");

  /* Tensor entries */
  expectFailEdit("dtype C64", setField(json.z, "vocab.bytes", "dtype",
                                       "\"C64\""), &data,
                 "tensor 'vocab.bytes' has dtype 'C64'");
  expectFailEdit("offsets shape [7]", setField(json.z, "vocab.offsets",
                                               "shape", "[7]"), &data,
                 "tensor 'vocab.offsets' has shape [7] of U32, 28 bytes, but "
                 "its data_offsets [128, 152] hold 24 bytes");
  expectFailEdit("matrix shape [5,4,1]", setField(json.z, "embedding.weight",
                                                  "shape", "[5,4,1]"), &data,
                 "tensor 'embedding.weight' has 3 dimensions; sqlite-embed "
                 "reads at most 2");
  expectFailEdit("matrix shape [20]", setField(json.z, "embedding.weight",
                                              "shape", "[20]"), &data,
                 "has shape [20] but needs [vocab_size, dims] = [5, 4]");
  expectFailEdit("matrix shape [4,5]", setField(json.z, "embedding.weight",
                                               "shape", "[4,5]"), &data,
                 "has shape [4, 5] but needs");
  expectFailEdit("matrix as U32", setField(json.z, "embedding.weight",
                                           "dtype", "\"U32\""), &data,
                 "tensor 'embedding.weight' has dtype U32 but needs F32 or F16");
  expectFailEdit("matrix as BF16", setField(json.z, "embedding.weight",
                                            "dtype", "\"BF16\""), &data,
                 "has shape [5, 4] of BF16, 40 bytes");
  expectFailEdit("offsets as F32", setField(json.z, "vocab.offsets",
                                            "dtype", "\"F32\""), &data,
                 "tensor 'vocab.offsets' has dtype F32 but needs U32");
  expectFailEdit("hash as F32", setField(json.z, "vocab.hash",
                                         "dtype", "\"F32\""), &data,
                 "tensor 'vocab.hash' has dtype F32 but needs U32");
  expectFailEdit("bytes as 2-D", setField(json.z, "vocab.bytes",
                                          "shape", "[1,11]"), &data,
                 "tensor 'vocab.bytes' has shape [1, 11] but needs one "
                 "dimension");
  expectFailEdit("bytes as scalar", setField(json.z, "vocab.bytes",
                                             "shape", "[]"), &data,
                 "has shape [] of U8, 1 bytes");
  expectFailEdit("hash as 2-D", setField(json.z, "vocab.hash",
                                         "shape", "[4,4]"), &data,
                 "tensor 'vocab.hash' has shape [4, 4] but needs one "
                 "dimension");
  expectFailEdit("shape product overflow",
                 setField(json.z, "vocab.offsets", "shape",
                          "[4294967296,4294967296]"), &data,
                 "tensor 'vocab.offsets' has shape [4294967296, 4294967296], "
                 "which is too large");
  expectFailEdit("byte size overflow",
                 setField(json.z, "vocab.offsets", "shape",
                          "[4611686018427387904]"), &data,
                 "which is too large");
  expectFailEdit("4-D product overflow",
                 setField(json.z, "vocab.offsets", "shape",
                          "[65536,65536,65536,65536]"), &data,
                 "which is too large");
  expectFailEdit("zero times huge",
                 setField(json.z, "vocab.offsets", "shape",
                          "[18446744073709551615,0]"), &data,
                 "hold 24 bytes");
  expectFailEdit("end < begin", setField(json.z, "vocab.offsets",
                                         "data_offsets", "[152,128]"), &data,
                 "tensor 'vocab.offsets' has data_offsets [152, 128], which "
                 "end before they begin");
  expectFailEdit("end past the data", setField(json.z, "vocab.offsets",
                                               "data_offsets",
                                               "[128,100000]"), &data,
                 "is truncated: tensor 'vocab.offsets' ends at byte 100000 of "
                 "the data section, which has");
  expectFailEdit("huge offsets", setField(json.z, "vocab.offsets",
                                          "data_offsets",
                                          "[18446744073709551600,"
                                          "18446744073709551615]"), &data,
                 "ends at byte 18446744073709551615");
  snprintf(zVal, sizeof(zVal), "[%zu,%zu]", bytesAt+4, bytesAt+4+s.nBytes);
  expectFailEdit("misaligned", setField(json.z, "vocab.bytes",
                                        "data_offsets", zVal), &data,
                 "tensor 'vocab.bytes' starts at byte");
  expectFailEdit("misaligned", setField(json.z, "vocab.bytes",
                                        "data_offsets", zVal), &data,
                 "which is not a multiple of 8");
  expectFailEdit("pad size", setField(json.z, "_pad.0", "shape", "[47]"),
                 &data, "tensor '_pad.0' has shape [47] of U8, 47 bytes, but "
                 "its data_offsets");
  /* a misaligned _pad tensor is fine: pads are by nature unaligned */
  {
    char *zJson = setField(json.z, "_pad.0", "data_offsets", "[81,82]");
    char *zJson2 = zJson ? setField(zJson, "_pad.0", "shape", "[1]") : 0;
    size_t n;
    uint8_t *b;
    EmbModel *p;
    CHECK(zJson2!=0, "pad edit");
    if( zJson2 ){
      b = assemble(zJson2, &data, &n);
      p = expectOpen("moved pad", b, n);
      embModelFree(p);
      free(b);
    }
    free(zJson);
    free(zJson2);
  }
  /* header padding that leaves the data section misaligned */
  {
    Buf j2 = {0};
    size_t n, k;
    uint8_t *b;
    bufAppend(&j2, json.z, json.n);
    while( (8+j2.n) % 64 ) bufAppend(&j2, " ", 1);
    n = 8 + j2.n + 4 + data.n;
    b = malloc(n);
    for(k=0; k<8; k++) b[k] = (uint8_t)((uint64_t)(j2.n+4) >> (8*k));
    memcpy(b+8, j2.z, j2.n);
    memset(b+8+j2.n, ' ', 4);
    memcpy(b+8+j2.n+4, data.z, data.n);
    expectFail("data section misaligned", b, n, "not a multiple of 8");
    free(b);
    bufFree(&j2);
  }

  for(i=0; i<4; i++){
    char zOld[64], zNew[64], zWant[128];
    snprintf(zOld, sizeof(zOld), "\"%s\":{", azRequired[i]);
    snprintf(zNew, sizeof(zNew), "\"%sX\":{", azRequired[i]);
    snprintf(zWant, sizeof(zWant), "model 'x.emb' has no tensor '%s'",
             azRequired[i]);
    expectFailEdit(zWant, strReplace(json.z, zOld, zNew), &data, zWant);
  }
  expectFailEdit("required tensor named _pad.",
                 strReplace(json.z, "\"vocab.hash\":{", "\"_pad.hash\":{"),
                 &data, "has no tensor 'vocab.hash'");
  (void)z;
  bufFree(&json);
  bufFree(&data);
}

/* Tensors with consistent sizes but the wrong shapes for the model. */
static void testTensorShapes(void){
  Std s;
  TTensor a[5];
  uint8_t *aFile;
  size_t n;
  uint32_t aHash12[12] = {0};
  uint8_t aCube[8] = {0};
  float aM[15] = {0};

  stdInit(&s, 16);

  stdTensors(&s, EMB_DT_F32, a);
  a[1].aShape[0] = NWORD;
  a[1].nData = NWORD*4;
  aFile = buildFile(STD_META, a, 4, &n);
  expectFail("offsets [5]", aFile, n,
             "model 'x.emb': tensor 'vocab.offsets' has shape [5] but needs "
             "[vocab_size+1] = [6]");
  free(aFile);

  stdTensors(&s, EMB_DT_F32, a);
  a[1].nDim = 2;
  a[1].aShape[0] = 1;
  a[1].aShape[1] = NWORD+1;
  aFile = buildFile(STD_META, a, 4, &n);
  expectFail("offsets [1,6]", aFile, n,
             "has shape [1, 6] but needs [vocab_size+1] = [6]");
  free(aFile);

  stdTensors(&s, EMB_DT_F32, a);
  a[0].aShape[1] = 3;
  a[0].pData = aM;
  a[0].nData = sizeof(aM);
  aFile = buildFile(STD_META, a, 4, &n);
  expectFail("matrix [5,3]", aFile, n,
             "tensor 'embedding.weight' has shape [5, 3] but needs "
             "[vocab_size, dims] = [5, 4]");
  free(aFile);

  stdTensors(&s, EMB_DT_F32, a);
  a[3].aShape[0] = 12;
  a[3].pData = aHash12;
  a[3].nData = sizeof(aHash12);
  aFile = buildFile(STD_META, a, 4, &n);
  expectFail("12 slots", aFile, n,
             "tensor 'vocab.hash' has 12 slots, which is not a power of two");
  free(aFile);

  stdTensors(&s, EMB_DT_F32, a);
  a[3].aShape[0] = 0;
  a[3].nData = 0;
  aFile = buildFile(STD_META, a, 4, &n);
  expectFail("0 slots", aFile, n, "has 0 slots");
  free(aFile);

  stdTensors(&s, EMB_DT_F32, a);
  a[4].zName = "cube";
  a[4].zType = "U8";
  a[4].nDim = 3;
  a[4].aShape[0] = 2;
  a[4].aShape[1] = 2;
  a[4].aShape[2] = 2;
  a[4].pData = aCube;
  a[4].nData = sizeof(aCube);
  aFile = buildFile(STD_META, a, 5, &n);
  expectFail("3-D tensor", aFile, n,
             "tensor 'cube' has 3 dimensions; sqlite-embed reads at most 2");
  free(aFile);

  /* an empty vocab.bytes (all tokens empty) is consistent and opens */
  {
    EmbModel *p;
    uint32_t aOff0[NWORD+1] = {0};
    const char *z;
    int nz;
    stdTensors(&s, EMB_DT_F32, a);
    a[1].pData = aOff0;
    a[2].aShape[0] = 0;
    a[2].nData = 0;
    aFile = buildFile(STD_META, a, 4, &n);
    p = expectOpen("empty vocab.bytes", aFile, n);
    if( p ){
      CHECK(embModelLookup(p, "the", 3)==-1, "no 'the' in empty bytes");
      CHECK(embModelTokenText(p, 0, &z, &nz)==0 && nz==0, "empty token");
      CHECK(exercise(p)==0, "exercise empty bytes");
    }
    embModelFree(p);
    free(aFile);
  }
}

/* Corrupt tables: the loader opens them, and use must stay in bounds. */
static void testCorruptTables(void){
  Std s;
  TTensor a[4];
  uint8_t *aFile;
  size_t n;
  EmbModel *p;
  const char *z;
  int i, nz;

  /* A full hash table: 8 slots, none empty */
  stdInit(&s, 8);
  for(i=0; i<8; i++) if( s.aHash[i]==0 ) s.aHash[i] = 1;
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("full hash table", aFile, n);
  if( p ){
    for(i=0; i<NWORD; i++){
      CHECK(embModelLookup(p, azWord[i], (int)strlen(azWord[i]))==i,
            "full table finds '%s'", azWord[i]);
    }
    for(i=0; i<NMISS; i++){
      CHECK(embModelLookup(p, azMiss[i], (int)strlen(azMiss[i]))==-1,
            "full table misses '%s'", azMiss[i]);
    }
    CHECK(exercise(p)==0, "exercise full table");
  }
  embModelFree(p);
  free(aFile);

  /* A one-slot table holding one word */
  stdInit(&s, 16);
  stdTensors(&s, EMB_DT_F32, a);
  s.aHash[0] = 2;
  a[3].aShape[0] = 1;
  a[3].nData = 4;
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("one slot", aFile, n);
  if( p ){
    CHECK(embModelLookup(p, "cat", 3)==1 && embModelLookup(p, "the", 3)==-1,
          "one slot");
  }
  embModelFree(p);
  free(aFile);

  /* Ids out of range everywhere the words are not */
  stdInit(&s, 16);
  for(i=0; i<16; i++){
    if( s.aHash[i]==0 ) s.aHash[i] = (i&1) ? 0xffffffffu : NWORD+1;
  }
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("ids out of range", aFile, n);
  if( p ){
    for(i=0; i<NWORD; i++){
      CHECK(embModelLookup(p, azWord[i], (int)strlen(azWord[i]))==i,
            "out-of-range table finds '%s'", azWord[i]);
    }
    for(i=0; i<NMISS; i++){
      CHECK(embModelLookup(p, azMiss[i], (int)strlen(azMiss[i]))==-1,
            "out-of-range table misses '%s'", azMiss[i]);
    }
    CHECK(exercise(p)==0, "exercise out-of-range ids");
  }
  embModelFree(p);
  free(aFile);

  /* Every slot says "the": lookups of other words must not return 0 */
  stdInit(&s, 16);
  for(i=0; i<16; i++) s.aHash[i] = 1;
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("all slots 'the'", aFile, n);
  if( p ){
    CHECK(embModelLookup(p, "cat", 3)==-1 && embModelLookup(p, "the", 3)==0,
          "wrong ids are not trusted");
    CHECK(exercise(p)==0, "exercise all-the");
  }
  embModelFree(p);
  free(aFile);

  /* Decreasing offsets */
  stdInit(&s, 16);
  s.aOff[2] = 2;                     /* cat: [3,2), sat: [2,9) */
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("decreasing offsets", aFile, n);
  if( p ){
    CHECK(embModelTokenText(p, 1, &z, &nz)==-1, "text of a reversed token");
    CHECK(embModelTokenText(p, 2, &z, &nz)==0 && nz==7, "text of a long token");
    CHECK(embModelLookup(p, "cat", 3)==-1, "lookup of a reversed token");
    CHECK(embModelLookup(p, "the", 3)==0, "lookup of a good token");
    CHECK(exercise(p)==0, "exercise decreasing offsets");
  }
  embModelFree(p);
  free(aFile);

  /* Offsets past the end of vocab.bytes */
  stdInit(&s, 16);
  s.aOff[5] = 4000000000u;
  s.aOff[3] = 12;                    /* sat: [6,12), one past the 11 bytes */
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("offsets past the end", aFile, n);
  if( p ){
    CHECK(embModelTokenText(p, 4, &z, &nz)==-1, "text of a token past the end");
    CHECK(embModelTokenText(p, 2, &z, &nz)==-1, "text one byte past the end");
    CHECK(embModelLookup(p, ".", 1)==-1, "lookup of a token past the end");
    CHECK(embModelLookup(p, "sat", 3)==-1, "lookup of 'sat' past the end");
    CHECK(embModelLookup(p, "cat", 3)==1, "lookup of a good token");
    CHECK(exercise(p)==0, "exercise offsets past the end");
  }
  embModelFree(p);
  free(aFile);

  /* Every offset huge */
  stdInit(&s, 16);
  for(i=0; i<=NWORD; i++) s.aOff[i] = 0xfffffff0u + (uint32_t)i;
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);
  p = expectOpen("huge offsets", aFile, n);
  if( p ){
    CHECK(embModelTokenText(p, 0, &z, &nz)==-1, "huge offsets text");
    CHECK(embModelLookup(p, "t", 1)==-1, "huge offsets lookup");
    CHECK(exercise(p)==0, "exercise huge offsets");
  }
  embModelFree(p);
  free(aFile);
}

/* ---------------------------------------------------------------------
** Every truncation, and random corruptions.
*/
static void testTruncations(int eMatrix){
  Std s;
  TTensor a[4];
  uint8_t *aFile;
  size_t n, k;
  int nOpened = 0, nNoMessage = 0;

  stdInit(&s, 16);
  stdTensors(&s, eMatrix, a);
  aFile = buildFile(STD_META, a, 4, &n);
  for(k=0; k<n; k++){
    uint8_t *b = exactCopy(aFile, k);
    EmbModel *p = 0;
    char *zErr = 0;
    if( embModelOpenBuffer(b, k, "t.emb", &p, &zErr)==0 ){
      nOpened++;
      embModelFree(p);
    }else if( zErr==0 || strncmp(zErr, "model 't.emb'", 13)!=0 ){
      nNoMessage++;
    }
    free(zErr);
    free(b);
  }
  CHECK(nOpened==0, "%d of %zu truncations opened", nOpened, n);
  CHECK(nNoMessage==0, "%d truncations gave no message", nNoMessage);
  free(aFile);
}

static void testRandomCorruption(int nIter){
  static const char zJsonish[] = "{}[]:,\"\\0123456789-+.eEu ntf_aF";
  Std s;
  TTensor a[4];
  uint8_t *aFile, *b;
  size_t n, nHeader;
  int it, nOpened = 0, nNoMessage = 0, nWrong = 0;

  stdInit(&s, 16);
  stdTensors(&s, EMB_DT_F32, a);
  aFile = buildFile(STD_META, a, 4, &n);
  nHeader = (size_t)aFile[0] | ((size_t)aFile[1]<<8);
  b = malloc(n);
  for(it=0; it<nIter; it++){
    EmbModel *p = 0;
    char *zErr = 0;
    int j, nEdit = 1 + (int)(rng()%3);
    memcpy(b, aFile, n);
    for(j=0; j<nEdit; j++){
      switch( it%3 ){
        case 0:    /* any byte, anywhere */
          b[rng()%n] = (uint8_t)rng();
          break;
        case 1:    /* a JSON-ish byte in the header */
          b[8 + rng()%nHeader] = (uint8_t)zJsonish[rng()%(sizeof(zJsonish)-1)];
          break;
        default:   /* a digit in the header, or any byte in the data */
          if( rng()&1 ){
            b[8 + rng()%nHeader] = (uint8_t)('0' + rng()%10);
          }else{
            b[8 + nHeader + rng()%(n-8-nHeader)] = (uint8_t)rng();
          }
          break;
      }
    }
    if( embModelOpenBuffer(b, n, "f.emb", &p, &zErr)==0 ){
      nOpened++;
      nWrong += exercise(p);
      embModelFree(p);
    }else if( zErr==0 || strncmp(zErr, "model 'f.emb'", 13)!=0 ){
      nNoMessage++;
    }
    free(zErr);
  }
  CHECK(nNoMessage==0, "%d corruptions gave no message", nNoMessage);
  CHECK(nWrong==0, "%d inconsistent answers from corrupt models", nWrong);
  if( bVerbose ){
    printf("  %d of %d corrupted files still opened\n", nOpened, nIter);
  }
  free(b);
  free(aFile);
}

/* ---------------------------------------------------------------------
** embModelAcquire() on files.
*/
static int writeFile(const char *zPath, const void *a, size_t n){
  FILE *f = fopen(zPath, "wb");
  if( f==0 ) return 1;
  if( n && fwrite(a, 1, n, f)!=n ){ fclose(f); return 1; }
  return fclose(f)!=0;
}

static const char *zSharedPath = 0;
static EmbModel *pShared = 0;
static int nThreadBad = 0;
static pthread_mutex_t threadMutex = PTHREAD_MUTEX_INITIALIZER;

static void *acquireThread(void *pArg){
  int i, nBad = 0;
  (void)pArg;
  for(i=0; i<300; i++){
    EmbModel *p = 0;
    char *zErr = 0;
    if( embModelAcquire(zSharedPath, &p, &zErr) || p!=pShared ){
      nBad++;
      embModelRelease(p);
    }else{
      if( embModelLookup(p, "sat", 3)!=2 ) nBad++;
      if( i&1 ){
        embModelRetain(p);
        embModelRelease(p);
      }
      embModelRelease(p);
    }
    free(zErr);
  }
  pthread_mutex_lock(&threadMutex);
  nThreadBad += nBad;
  pthread_mutex_unlock(&threadMutex);
  return 0;
}

static void testAcquire(void){
  Std s;
  TTensor a[4];
  uint8_t *aFile;
  size_t n;
  char zPath[] = "/tmp/unit_model_XXXXXX";
  char zLink[64], zEmpty[64], zBad[64];
  EmbModel *p1 = 0, *p2 = 0, *p3 = 0;
  char *zErr = 0;
  int fd, rc, i;
  pthread_t aThread[4];

  stdInit(&s, 16);
  stdTensors(&s, EMB_DT_F16, a);
  aFile = buildFile(STD_META, a, 4, &n);
  fd = mkstemp(zPath);
  CHECK(fd>=0, "mkstemp: %s", strerror(errno));
  if( fd<0 ){ free(aFile); return; }
  close(fd);
  CHECK(writeFile(zPath, aFile, n)==0, "write %s", zPath);

  rc = embModelAcquire(zPath, &p1, &zErr);
  CHECK(rc==0 && p1!=0, "acquire: %s", NN(zErr));
  free(zErr);
  zErr = 0;
  if( rc ){ unlink(zPath); free(aFile); return; }
  CHECK(p1->isMapped && p1->nFile==n && memcmp(p1->aFile, aFile, n)==0,
        "the mapping holds the file");
  CHECK(p1->loadUs>=0 && p1->loadUs<10000000, "loadUs %lld",
        (long long)p1->loadUs);
  CHECK(strcmp(p1->zPath, zPath)==0, "zPath %s", p1->zPath);
  checkStdModel("mapped", p1, EMB_DT_F16, &s);

  rc = embModelAcquire(zPath, &p2, &zErr);
  CHECK(rc==0 && p2==p1, "second acquire shares the model");
  CHECK(p1->nRef==2, "nRef %d", p1->nRef);
  free(zErr);
  zErr = 0;

  /* Another path to the same inode is the same model */
  snprintf(zLink, sizeof(zLink), "%s.link", zPath);
  if( link(zPath, zLink)==0 ){
    rc = embModelAcquire(zLink, &p3, &zErr);
    CHECK(rc==0 && p3==p1, "a hard link shares the model");
    free(zErr);
    zErr = 0;
    embModelRelease(p3);
    unlink(zLink);
  }
  embModelRetain(p1);
  CHECK(p1->nRef==3, "nRef after retain %d", p1->nRef);
  embModelRelease(p1);

  /* Threads acquire and release while this one holds a reference */
  zSharedPath = zPath;
  pShared = p1;
  for(i=0; i<4; i++) pthread_create(&aThread[i], 0, acquireThread, 0);
  for(i=0; i<4; i++) pthread_join(aThread[i], 0);
  CHECK(nThreadBad==0, "%d bad acquires in threads", nThreadBad);
  CHECK(p1->nRef==2, "nRef after threads %d", p1->nRef);

  embModelRelease(p2);
  embModelRelease(p1);

  /* After the last release it is mapped afresh */
  rc = embModelAcquire(zPath, &p1, &zErr);
  CHECK(rc==0 && p1 && p1->nRef==1, "acquire after release: %s", NN(zErr));
  free(zErr);
  zErr = 0;
  embModelRelease(p1);

  /* Errors carry the path */
  rc = embModelAcquire("/tmp/unit_model_no_such_file.emb", &p1, &zErr);
  CHECK(rc!=0 && p1==0 && zErr && strcmp(zErr, "cannot open model "
        "'/tmp/unit_model_no_such_file.emb': No such file or directory")==0,
        "missing file: %s", NN(zErr));
  if( bVerbose ) printf("  %s\n", NN(zErr));
  free(zErr);
  zErr = 0;

  rc = embModelAcquire("/tmp", &p1, &zErr);
  CHECK(rc!=0 && p1==0 && zErr
        && strcmp(zErr, "cannot open model '/tmp': it is a directory")==0,
        "directory: %s", NN(zErr));
  if( bVerbose ) printf("  %s\n", NN(zErr));
  free(zErr);
  zErr = 0;

  snprintf(zEmpty, sizeof(zEmpty), "%s.empty", zPath);
  CHECK(writeFile(zEmpty, "", 0)==0, "write %s", zEmpty);
  rc = embModelAcquire(zEmpty, &p1, &zErr);
  CHECK(rc!=0 && p1==0 && zErr && strstr(zErr, zEmpty)
        && strstr(zErr, "is empty"), "empty file: %s", NN(zErr));
  if( bVerbose ) printf("  %s\n", NN(zErr));
  free(zErr);
  zErr = 0;
  unlink(zEmpty);

  snprintf(zBad, sizeof(zBad), "%s.bad", zPath);
  CHECK(writeFile(zBad, aFile, n-3)==0, "write %s", zBad);
  rc = embModelAcquire(zBad, &p1, &zErr);
  CHECK(rc!=0 && p1==0 && zErr && strncmp(zErr, "model '", 7)==0
        && strstr(zErr, zBad) && strstr(zErr, "is truncated"),
        "truncated file: %s", NN(zErr));
  if( bVerbose ) printf("  %s\n", NN(zErr));
  free(zErr);
  zErr = 0;
  unlink(zBad);

  rc = embModelAcquire("/dev/null", &p1, &zErr);
  CHECK(rc!=0 && zErr && strcmp(zErr, "cannot open model '/dev/null': it is "
        "not a regular file")==0, "/dev/null: %s", NN(zErr));
  free(zErr);

  unlink(zPath);
  free(aFile);
}

/*
** Format version 2: the tiny Model2Vec model the Makefile makes
** ($EMBED_TEST_DIR/m2v_tiny.emb: WordPiece, I8 rows shared through
** token.row, token.weight, pool.skip_id) opens with every field set; then
** edits of its header of the same length (so every offset stays right)
** must each be refused with a message naming the fault, and corrupt
** token.row entries must be skipped at use.
*/
static void testVersion2(void){
  static const struct { const char *zOld, *zNew, *zWant; } aEdit[] = {
    { "\"format_version\":\"2\"", "\"format_version\":\"1\"",
      "tokenizer 'wordpiece', which needs format version 2, but its version is 1" },
    { "\"normalizer\":\"bert\"", "\"normalizer\":\"bart\"",
      "has __metadata__.normalizer 'bart'; this build knows 'bert' and 'none'" },
    { "\"pre_tokenizer\":\"bert\"", "\"pre_tokenizer\":\"bort\"",
      "__metadata__.pre_tokenizer 'bort'; this build knows 'bert'" },
    { "\"bert.lowercase\":\"1\"", "\"bert.lowercase\":\"2\"",
      "has __metadata__.bert.lowercase '2'; it must be 0 or 1" },
    { "\"wordpiece.prefix\"", "\"wordpiece.prefiX\"",
      "has no __metadata__.wordpiece.prefix" },
    { "\"wordpiece.unk_id\":\"1\"", "\"wordpiece.unk_id\":\"x\"",
      "has __metadata__.wordpiece.unk_id 'x'; it must be an id below 40" },
    { "\"pool.skip_id\":\"1\"", "\"pool.skip_id\":\"01\"",
      "has __metadata__.pool.skip_id '01'; it must be an id below 40" },
    { "\"wordpiece.vocab\":\"40\"", "\"wordpiece.vocab\":\"41\"",
      "__metadata__.wordpiece.vocab '41'; it must be a decimal number from 1 to 40" },
    { "\"token.row\":{\"dtype\":\"U32\"", "\"token.row\":{\"dtype\":\"F32\"",
      "tensor 'token.row' has dtype F32 but needs U32" },
    { "\"embedding.weight\":{\"dtype\":\"I8\"", "\"embedding.weight\":{\"dtype\":\"U8\"",
      "tensor 'embedding.weight' has dtype U8 but needs F32, F16, BF16 or I8" },
    { "\"added.lens\"", "\"added.lenz\"", "has no tensor 'added.lens'" },
  };
  const char *zDir = getenv("EMBED_TEST_DIR");
  char zPath[4096];
  FILE *f;
  uint8_t *a = 0;
  long n = 0;
  EmbModel *p;
  size_t k;
  snprintf(zPath, sizeof(zPath), "%s/m2v_tiny.emb",
           zDir && zDir[0] ? zDir : "build/test");
  f = fopen(zPath, "rb");
  if( f==0 ){
    printf("unit_model: %s is absent (make builds it); format 2 tests "
           "skipped\n", zPath);
    return;
  }
  if( fseek(f, 0, SEEK_END)==0 && (n = ftell(f))>0 && fseek(f, 0, SEEK_SET)==0 ){
    a = malloc((size_t)n);
    if( a && fread(a, 1, (size_t)n, f)!=(size_t)n ){ free(a); a = 0; }
  }
  fclose(f);
  CHECK(a!=0, "read %s", zPath);
  if( a==0 ) return;
  p = expectOpen("format 2", a, (size_t)n);
  CHECK(p && p->iVersion==2 && p->eTokenizer==EMB_TOK_WORDPIECE
        && p->eMatrixType==EMB_DT_I8 && p->nRow==12 && p->nVocab==40
        && p->aTokenRow && p->aTokenWeight && p->iSkipId==1
        && p->wp.iUnk==1 && p->wp.nModelVocab==40 && p->wp.nMaxChars==100
        && p->wp.nPrefix==2 && p->wp.mNorm==(EMB_NORM_CLEAN|EMB_NORM_CHINESE
                                              |EMB_NORM_STRIP|EMB_NORM_LOWER)
        && p->added.nLen==2, "format 2 fields");
  embModelFree(p);
  for(k=0; k<sizeof(aEdit)/sizeof(aEdit[0]); k++){
    uint8_t *b = exactCopy(a, (size_t)n);
    uint8_t *zAt = memmem(b, (size_t)n, aEdit[k].zOld, strlen(aEdit[k].zOld));
    size_t nOld = strlen(aEdit[k].zOld), nNew = strlen(aEdit[k].zNew);
    CHECK(zAt!=0, "header has %s", aEdit[k].zOld);
    if( zAt && nNew==nOld ){
      memcpy(zAt, aEdit[k].zNew, nNew);
      expectFail(aEdit[k].zNew, b, (size_t)n, aEdit[k].zWant);
    }else if( zAt && nNew==nOld+1 ){
      /* one byte longer: take it from the header's padding spaces */
      uint8_t *zEnd = b + 8;
      uint64_t nH = 0;
      int i;
      for(i=7; i>=0; i--) nH = (nH<<8) | b[i];
      zEnd += nH - 1;
      CHECK(*zEnd==' ', "header padding for %s", aEdit[k].zNew);
      memmove(zAt+nNew, zAt+nOld, (size_t)(zEnd - (zAt+nOld)));
      memcpy(zAt, aEdit[k].zNew, nNew);
      expectFail(aEdit[k].zNew, b, (size_t)n, aEdit[k].zWant);
    }
    free(b);
  }
  /* token.row entries beyond the rows: such tokens are skipped at use */
  {
    uint8_t *b = exactCopy(a, (size_t)n);
    const EmbTensor *t;
    float aOut[8];
    double aAcc[8];
    int aId[3] = { 5, 6, 7 }, j;
    p = expectOpen("format 2 corrupt rows", b, (size_t)n);
    t = p ? embModelTensor(p, "token.row") : 0;
    CHECK(t!=0, "token.row present");
    if( t ){
      uint8_t *pRow = b + (t->a - b);
      memset(pRow + 4*5, 0xFF, 4);        /* token 5: row 2^32-1 */
      memset(pRow + 4*6, 0x0C, 1);        /* token 6: row 12, one past */
      embPoolMean(p, aId, 2, 8, aAcc, aOut);
      for(j=0; j<8 && aOut[j]==0.0f; j++){}
      CHECK(j==8, "tokens mapped past the rows are skipped (all zeros)");
      embPoolMean(p, aId, 3, 8, aAcc, aOut);
      for(j=0; j<8 && aOut[j]==0.0f; j++){}
      CHECK(j<8, "a good token beside them still counts");
    }
    embModelFree(p);
    free(b);
  }
  free(a);
}

int main(int argc, char **argv){
  if( argc>1 && strcmp(argv[1], "-v")==0 ) bVerbose = 1;
  testParserGood();
  testParserBad();
  testParserHostile();
  testValid();
  testFileLevel();
  testHeaderLevel();
  testTensorShapes();
  testCorruptTables();
  testTruncations(EMB_DT_F32);
  testTruncations(EMB_DT_F16);
  testRandomCorruption(6000);
  testAcquire();
  testVersion2();
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
