/*
** model2vec.c: "embed-convert model2vec" -- a Model2Vec model folder (as
** the Python library and model2vec-rs read it) to a model file with a
** WordPiece or a Unigram tokenizer.
**
**     build/embed-convert model2vec models/potion-base-4m-int8 \
**         -o models/default.emb [--dims 64]
**
** The folder:
**   model.safetensors  tensor "embeddings" (or "embedding.weight", the
**                      sentence-transformers layout), [rows, dims], F32,
**                      F16, BF16 or I8; optionally "weights" [tokens]
**                      (F64, F32 or F16: each token's row is multiplied by
**                      its weight) and "mapping" [tokens] (I32 or I64: the
**                      row of each token, for vocabulary-quantized models)
**   tokenizer.json     a Hugging Face tokenizer with model WordPiece,
**                      normalizer BertNormalizer (or none) and
**                      pre-tokenizer BertPreTokenizer; or with model
**                      Unigram (also the older spelling: no type, a list
**                      vocab), any normalizer normalizer.c compiles and
**                      any pre-tokenizer pretok.c compiles
**   config.json        optional; its "normalize" is recorded in the
**                      description (embed() always L2-normalises)
** (in a sentence-transformers folder, 0_StaticEmbedding/ may hold the
** first two).  Anything else in tokenizer.json that changes the ids
** (another model type -- BPE by name --, normalizer or pre-tokenizer,
** added tokens that strip, match whole words or match normalized text) is
** refused with "unsupported tokenizer feature: ...".
** truncation and padding are read and ignored: embed() pools every token,
** as Model2Vec's encode(max_length=None) does.
**
** HOW IT WORKS
** tokenizer.json is parsed whole with cJSON.  Token ids cover 0..V-1
** (model.vocab) then V..N-1 (added tokens beyond it); their texts become
** vocab.* in id order, the added tokens the added.* tables (FORMAT.md),
** and the WordPiece and BertNormalizer settings metadata.  Model2Vec drops
** the unknown token's id before pooling: it becomes pool.skip_id.  A
** Unigram model instead gets its scores (read as serde_json reads them),
** trie and byte table (unigram.c), its normalizer program (normalizer.c,
** into the writer made early) and pre-tokenizer program (pretok.c); it
** names no unk_token, so no pool.skip_id, as in Model2Vec.  The
** weights file is memory-mapped and its header parsed with the loader's
** own strict parser; the first --dims columns of each row are copied in
** their own width (I8 stays one byte a weight), "weights" become
** token.weight (F32) and "mapping" token.row (U32, each checked against
** the rows).  Without "mapping" there must be one row per token.
*/
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "format.h"
#include "pool.h"
#include "safetensors.h"
#include "convert/convert.h"
#include "convert/json.h"
#include "convert/normalizer.h"
#include "convert/pretok.h"
#include "convert/unigram.h"
#include "convert/writer.h"

#define M2V_MAX_JSON     (1u<<30)     /* bytes of a JSON file read */
#define M2V_MAX_VOCAB    0x3fffffff
#define M2V_MAX_PREFIX   64
#define M2V_PROGRESS     8192         /* rows between progress reports */

#define M2V_SUPPORTED \
  "embed-convert model2vec reads WordPiece tokenizers with a " \
  "BertNormalizer (or none) and the BertPreTokenizer, and Unigram " \
  "tokenizers (README.md lists their normalizers and pre-tokenizers)"

/* The state of one conversion */
typedef struct M2v M2v;
struct M2v {
  char *zTokFile;            /* paths (embMprintf()'d), for messages */
  char *zWeightFile;
  char *zConfigFile;         /* NULL when the folder has none */
  char *zErr;                /* the first error, from embMprintf() */
  int bNoMem;

  cJSON *pRoot;              /* the parsed tokenizer.json */
  cJSON *pModel;             /* its "model" */
  int64_t nModelVocab;       /* V: entries of model.vocab */
  int64_t nVocab;            /* N: V plus added tokens beyond it */
  const char **azText;       /* [N] each id's text, in the cJSON tree */
  EmbVocab vocab;
  int iUnk;                  /* model.unk_token's id */
  char zPrefix[M2V_MAX_PREFIX+1];
  int nMaxChars;             /* max_input_chars_per_word */
  int nMaxTokenBytes;
  int bBert;                 /* normalizer BertNormalizer (else none) */
  unsigned mNorm;            /* EMB_NORM_* */
  int bTruncation;           /* tokenizer.json sets truncation (ignored) */
  int nAdded;
  uint32_t *aAdded;          /* [nAddedSlot] */
  uint32_t nAddedSlot;
  uint32_t *aAddedLen;       /* [nAddedLen] */
  int nAddedLen;
  uint8_t *aAddedFirst;      /* [256] */

  int bUnigram;              /* model Unigram (else WordPiece) */
  double *aScore;            /* Unigram: [V] each piece's score */
  int bByteFallback;         /* Unigram: byte_fallback */
  EmbUniTables uni;          /* Unigram: the tables */
  uint8_t *aPretok;          /* Unigram: the pre-tokenizer program */
  size_t nPretok;
  EmbWriter *w;              /* Unigram: the writer, made early for the
                             ** normalizer's tensors */

  int bNormalize;            /* config.json "normalize" (-1: absent) */
  const char *zMatrixName;   /* "embeddings" or "embedding.weight" */
  int eType;                 /* the matrix dtype, kept */
  int64_t nRow;              /* rows of the matrix */
  int nDims, nDimsIn;
  uint8_t *aMatrix;          /* [nRow][nDims] of eType */
  float *aWeight;            /* [N] or NULL */
  int eWeightType;           /* the dtype "weights" had */
  uint32_t *aMap;            /* [N] or NULL */
};

/* Record an error about file zFile.  The first error wins.  Returns 1. */
static int m2vError(M2v *p, const char *zFile, const char *zFmt, ...)
  __attribute__((format(printf, 3, 4)));
static int m2vError(M2v *p, const char *zFile, const char *zFmt, ...){
  va_list ap;
  char *zMsg;
  if( p->zErr || p->bNoMem ) return 1;
  va_start(ap, zFmt);
  if( vasprintf(&zMsg, zFmt, ap)<0 ) zMsg = 0;
  va_end(ap);
  if( zMsg==0 ){ p->bNoMem = 1; return 1; }
  p->zErr = embMprintf("'%s': %s", zFile, zMsg);
  if( p->zErr==0 ) p->bNoMem = 1;
  free(zMsg);
  return 1;
}

/* Record "unsupported tokenizer feature: ..." for tokenizer.json. */
static int m2vUnsupported(M2v *p, const char *zFmt, ...)
  __attribute__((format(printf, 2, 3)));
static int m2vUnsupported(M2v *p, const char *zFmt, ...){
  va_list ap;
  char *zMsg;
  if( p->zErr || p->bNoMem ) return 1;
  va_start(ap, zFmt);
  if( vasprintf(&zMsg, zFmt, ap)<0 ) zMsg = 0;
  va_end(ap);
  if( zMsg==0 ){ p->bNoMem = 1; return 1; }
  m2vError(p, p->zTokFile, "unsupported tokenizer feature: %s; %s", zMsg,
           M2V_SUPPORTED);
  free(zMsg);
  return 1;
}

static int isFile(const char *z){
  struct stat st;
  return stat(z, &st)==0 && S_ISREG(st.st_mode);
}

/* Read the whole JSON file zPath and parse it into *ppRoot. */
static int m2vReadJson(M2v *p, const char *zPath, cJSON **ppRoot){
  struct stat st;
  char *z;
  size_t n = 0;
  int fd = open(zPath, O_RDONLY|O_CLOEXEC);
  *ppRoot = 0;
  if( fd<0 || fstat(fd, &st)!=0 ){
    m2vError(p, zPath, "cannot open: %s", strerror(errno));
    if( fd>=0 ) close(fd);
    return 1;
  }
  if( !S_ISREG(st.st_mode) || st.st_size<=0
   || (uint64_t)st.st_size>M2V_MAX_JSON ){
    close(fd);
    return m2vError(p, zPath, "%s", !S_ISREG(st.st_mode) ? "not a regular "
                    "file" : st.st_size<=0 ? "empty" : "larger than 1 GiB");
  }
  z = embMalloc((uint64_t)st.st_size + 1);
  if( z==0 ){ close(fd); p->bNoMem = 1; return 1; }
  while( n<(size_t)st.st_size ){
    ssize_t got = read(fd, z+n, (size_t)st.st_size-n);
    if( got<0 && errno==EINTR ) continue;
    if( got<=0 ){
      m2vError(p, zPath, "cannot read: %s", got<0 ? strerror(errno)
                                                  : "it shrank");
      embFree(z);
      close(fd);
      return 1;
    }
    n += (size_t)got;
  }
  close(fd);
  z[n] = 0;
  {
    const char *zAt = 0;
    int bNoMem = 0;
    *ppRoot = embJsonParse(z, n, &zAt, &bNoMem);
    if( *ppRoot==0 ){
      if( bNoMem ){
        p->bNoMem = 1;
      }else{
        m2vError(p, zPath, "not valid JSON (near byte %lld)",
                 zAt && zAt>=z && zAt<=z+n ? (long long)(zAt - z) : -1LL);
      }
      embFree(z);
      return 1;
    }
  }
  embFree(z);
  return 0;
}

/* Is pItem absent or JSON null? */
static int isNone(const cJSON *pItem){
  return pItem==0 || cJSON_IsNull(pItem);
}

/* The string member zKey of object pObj, or NULL. */
static const char *strMember(const cJSON *pObj, const char *zKey){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  return cJSON_IsString(v) ? v->valuestring : 0;
}

/* Boolean member zKey of pObj (absent or null: bDefault) into *pb. */
static int boolMember(M2v *p, const cJSON *pObj, const char *zWhere,
                      const char *zKey, int bDefault, int *pb){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  if( isNone(v) ){ *pb = bDefault; return 0; }
  if( !cJSON_IsBool(v) ){
    return m2vError(p, p->zTokFile, "%s.%s must be true or false", zWhere,
                    zKey);
  }
  *pb = cJSON_IsTrue(v);
  return 0;
}

/* A non-negative integer from v up to nMax, or -1. */
static int64_t jsonInt(const cJSON *v, int64_t nMax){
  double d;
  if( !cJSON_IsNumber(v) ) return -1;
  d = v->valuedouble;
  if( !(d>=0.0) || d>(double)nMax || d!=floor(d) ) return -1;
  return (int64_t)d;
}

/* The "type" of a normalizer or pre-tokenizer, for messages */
static const char *typeName(const cJSON *pN){
  const char *z = strMember(pN, "type");
  return z ? z : "(no type)";
}

/*
** The double Hugging Face's tokenizers holds for a score that
** tokenizer.json writes as the shortest decimal text of x.  serde_json
** (without its float_roundtrip feature) reads a number as its decimal
** digits d, an integer, and exponent e, and computes (double)d times or
** divided by the double nearest 10^|e|: exact up to 2^53, but a 17-digit
** d is rounded twice, so the result may be one unit in the last place off
** the nearest double, which strtod() gives.  Viterbi's ties depend on
** those last bits, so the converter reads scores as Hugging Face does.
** (tokenizer.json is written by Python's json or serde_json, which both
** write the shortest text that reads back as the same double.)
*/
static double m2vSerdeF64(double x){
  char z[48], zPow[16];
  char *zExp;
  uint64_t d = 0;
  double f;
  int nDigit, e, i;
  if( x==0.0 || !isfinite(x) ) return x;
  for(nDigit=1; nDigit<17; nDigit++){
    snprintf(z, sizeof(z), "%.*e", nDigit-1, x);
    if( strtod(z, 0)==x ) break;
  }
  snprintf(z, sizeof(z), "%.*e", nDigit-1, x);   /* -D.DDDDe+XX */
  zExp = strchr(z, 'e');
  if( zExp==0 ) return x;
  e = atoi(zExp+1) - (nDigit-1);
  for(i=0; z+i<zExp; i++){
    if( z[i]>='0' && z[i]<='9' ) d = d*10 + (uint64_t)(z[i]-'0');
  }
  f = (double)d;
  for(;;){
    int k = e<0 ? -e : e;
    if( k<=308 ){
      snprintf(zPow, sizeof(zPow), "1e%d", k);
      if( e>=0 ) f *= strtod(zPow, 0); else f /= strtod(zPow, 0);
      break;
    }
    if( e>=0 ) return x;                /* out of range: not a score */
    f /= 1e308;
    e += 308;
  }
  return x<0 ? -f : f;
}

/* A Unigram model's unk_id and byte_fallback (the vocabulary is read by
** m2vVocab()). */
static int m2vUnigramModel(M2v *p){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->pModel, "unk_id");
  int64_t id;
  if( isNone(v) ){
    return m2vUnsupported(p, "a Unigram model without unk_id (Hugging Face "
                          "fails on any character it has no piece for)");
  }
  id = jsonInt(v, M2V_MAX_VOCAB);
  if( id<0 ){
    return m2vError(p, p->zTokFile, "model.unk_id must be a whole number");
  }
  p->iUnk = (int)id;
  return boolMember(p, p->pModel, "model", "byte_fallback", 0,
                    &p->bByteFallback);
}

/* The model: WordPiece, its unk_token, prefix and word limit. */
static int m2vModel(M2v *p){
  const cJSON *v;
  const char *z;
  if( !cJSON_IsObject(p->pRoot) ){
    return m2vError(p, p->zTokFile, "not a tokenizer.json (not a JSON "
                    "object)");
  }
  p->bTruncation = !isNone(cJSON_GetObjectItemCaseSensitive(p->pRoot,
                                                            "truncation"));
  p->pModel = cJSON_GetObjectItemCaseSensitive(p->pRoot, "model");
  if( !cJSON_IsObject(p->pModel) ){
    return m2vError(p, p->zTokFile, "not a tokenizer.json (no \"model\" "
                    "object)");
  }
  z = strMember(p->pModel, "type");
  if( z==0
   && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(p->pModel, "vocab")) ){
    z = "Unigram";         /* the older spelling: no type, a list vocab */
  }
  if( z==0 ){
    return m2vError(p, p->zTokFile, "model.type is missing (it must be "
                    "\"WordPiece\" or \"Unigram\")");
  }
  if( strcmp(z, "Unigram")==0 ){
    p->bUnigram = 1;
    return m2vUnigramModel(p);
  }
  if( strcmp(z, "BPE")==0 ){
    return m2vUnsupported(p, "model type 'BPE' (only WordPiece here; "
                          "embed-convert wordllama reads BPE tokenizers)");
  }
  if( strcmp(z, "WordPiece")!=0 ){
    return m2vUnsupported(p, "model type '%s' (only WordPiece)", z);
  }
  v = cJSON_GetObjectItemCaseSensitive(p->pModel, "continuing_subword_prefix");
  if( isNone(v) ){
    memcpy(p->zPrefix, "##", 3);
  }else if( !cJSON_IsString(v) ){
    return m2vError(p, p->zTokFile, "model.continuing_subword_prefix must "
                    "be a string");
  }else if( strlen(v->valuestring)>M2V_MAX_PREFIX ){
    return m2vUnsupported(p, "continuing_subword_prefix of %d bytes (at "
                          "most %d)", (int)strlen(v->valuestring),
                          M2V_MAX_PREFIX);
  }else{
    memcpy(p->zPrefix, v->valuestring, strlen(v->valuestring)+1);
  }
  v = cJSON_GetObjectItemCaseSensitive(p->pModel, "max_input_chars_per_word");
  if( isNone(v) ){
    p->nMaxChars = 100;
  }else{
    int64_t n = jsonInt(v, EMB_WP_MAX_CHARS);
    if( n<0 ){
      return m2vError(p, p->zTokFile, "model.max_input_chars_per_word must "
                      "be a whole number from 0 to %d", EMB_WP_MAX_CHARS);
    }
    p->nMaxChars = (int)n;
  }
  v = cJSON_GetObjectItemCaseSensitive(p->pModel, "unk_token");
  if( !cJSON_IsString(v) ){
    return m2vError(p, p->zTokFile, "model.unk_token must be a string (a "
                    "WordPiece model needs one)");
  }
  return 0;
}

/* The normalizer: none, or BertNormalizer with its four options. */
static int m2vNormalizer(M2v *p){
  const cJSON *pN = cJSON_GetObjectItemCaseSensitive(p->pRoot, "normalizer");
  const cJSON *v;
  int bClean, bChinese, bLower, bStrip;
  p->mNorm = 0;
  p->bBert = 0;
  if( p->bUnigram ){
    /* compiled into the normalizer program (normalizer.c), into the
    ** writer made here */
    char *zErr = 0;
    p->w = embWriterNew();
    if( p->w==0 ){ p->bNoMem = 1; return 1; }
    if( embNormConvert(p->w, pN, &zErr) ){
      if( zErr==0 ){ p->bNoMem = 1; return 1; }
      m2vError(p, p->zTokFile, "%s", zErr);
      embFree(zErr);
      return 1;
    }
    return 0;
  }
  if( isNone(pN) ) return 0;
  if( strcmp(typeName(pN), "BertNormalizer")!=0 ){
    return m2vUnsupported(p, "normalizer type '%s' (only BertNormalizer)",
                          typeName(pN));
  }
  if( boolMember(p, pN, "normalizer", "clean_text", 1, &bClean)
   || boolMember(p, pN, "normalizer", "handle_chinese_chars", 1, &bChinese)
   || boolMember(p, pN, "normalizer", "lowercase", 1, &bLower) ){
    return 1;
  }
  /* strip_accents null follows lowercase, as in Hugging Face's */
  v = cJSON_GetObjectItemCaseSensitive(pN, "strip_accents");
  if( isNone(v) ){
    bStrip = bLower;
  }else if( boolMember(p, pN, "normalizer", "strip_accents", 0, &bStrip) ){
    return 1;
  }
  p->bBert = 1;
  p->mNorm = (bClean ? EMB_NORM_CLEAN : 0) | (bChinese ? EMB_NORM_CHINESE : 0)
           | (bStrip ? EMB_NORM_STRIP : 0) | (bLower ? EMB_NORM_LOWER : 0);
  return 0;
}

/* The pre-tokenizer: BertPreTokenizer. */
static int m2vPreTokenizer(M2v *p){
  const cJSON *pT = cJSON_GetObjectItemCaseSensitive(p->pRoot,
                                                     "pre_tokenizer");
  if( p->bUnigram ){
    char *zErr = 0;
    if( embPretokCompile(pT, &p->aPretok, &p->nPretok, &zErr) ){
      if( zErr==0 ){ p->bNoMem = 1; return 1; }
      m2vError(p, p->zTokFile, "%s", zErr);
      embFree(zErr);
      return 1;
    }
    return 0;
  }
  if( isNone(pT) ){
    return m2vUnsupported(p, "no pre_tokenizer (only BertPreTokenizer)");
  }
  if( strcmp(typeName(pT), "BertPreTokenizer")!=0 ){
    return m2vUnsupported(p, "pre_tokenizer type '%s' (only "
                          "BertPreTokenizer)", typeName(pT));
  }
  return 0;
}

/*
** The vocabulary: model.vocab (ids 0..V-1, each once), then the added
** tokens: those below V must repeat their vocabulary entry, those from V
** on must fill V..N-1.  Fills p->azText, p->vocab and nMaxTokenBytes.
*/
static int m2vVocab(M2v *p){
  const cJSON *pVocab = cJSON_GetObjectItemCaseSensitive(p->pModel, "vocab");
  const cJSON *pAdded = cJSON_GetObjectItemCaseSensitive(p->pRoot,
                                                         "added_tokens");
  const cJSON *v;
  int64_t nV = 0, nN, i;
  char *zErr = 0;

  if( p->bUnigram ? !cJSON_IsArray(pVocab) : !cJSON_IsObject(pVocab) ){
    return m2vError(p, p->zTokFile, "model.vocab is missing or not %s",
                    p->bUnigram ? "a list of [piece, score]" : "an object");
  }
  cJSON_ArrayForEach(v, pVocab) nV++;
  if( nV==0 ) return m2vError(p, p->zTokFile, "model.vocab is empty");
  if( nV>M2V_MAX_VOCAB ){
    return m2vError(p, p->zTokFile, "model.vocab is too large");
  }
  nN = nV;
  if( !isNone(pAdded) && !cJSON_IsArray(pAdded) ){
    return m2vError(p, p->zTokFile, "added_tokens is not a list");
  }
  cJSON_ArrayForEach(v, pAdded){
    int64_t id = jsonInt(cJSON_GetObjectItemCaseSensitive(v, "id"),
                         M2V_MAX_VOCAB);
    if( id<0 ){
      return m2vError(p, p->zTokFile, "added token %d has no valid \"id\"",
                      p->nAdded);
    }
    if( id+1>nN ) nN = id+1;
    p->nAdded++;
  }
  p->nModelVocab = nV;
  p->nVocab = nN;
  p->azText = embMalloc((uint64_t)nN*sizeof(char*));
  if( p->azText==0 ){ p->bNoMem = 1; return 1; }
  memset(p->azText, 0, (size_t)nN*sizeof(char*));

  if( p->bUnigram ){
    /* [[piece, score], ...]: ids in list order */
    p->aScore = embMalloc((uint64_t)nV*sizeof(double));
    if( p->aScore==0 ){ p->bNoMem = 1; return 1; }
    i = 0;
    cJSON_ArrayForEach(v, pVocab){
      const cJSON *pPiece = cJSON_GetArrayItem(v, 0);
      const cJSON *pScore = cJSON_GetArrayItem(v, 1);
      if( !cJSON_IsArray(v) || cJSON_GetArraySize(v)!=2
       || !cJSON_IsString(pPiece) || !cJSON_IsNumber(pScore) ){
        return m2vError(p, p->zTokFile, "model.vocab entry %lld is not "
                        "[piece, score]", (long long)i);
      }
      p->azText[i] = pPiece->valuestring;
      p->aScore[i] = m2vSerdeF64(pScore->valuedouble);
      if( strlen(pPiece->valuestring)>(size_t)p->nMaxTokenBytes ){
        p->nMaxTokenBytes = (int)strlen(pPiece->valuestring);
      }
      i++;
    }
    if( p->iUnk>=nV ){
      return m2vError(p, p->zTokFile, "model.unk_id %d is not below the %lld "
                      "pieces of model.vocab", p->iUnk, (long long)nV);
    }
  }
  cJSON_ArrayForEach(v, pVocab){
    int64_t id;
    if( p->bUnigram ) break;
    id = jsonInt(v, M2V_MAX_VOCAB);
    if( id<0 || id>=nV ){
      return m2vError(p, p->zTokFile, "model.vocab: '%.100s' has id %s; ids "
                      "must be 0 to %lld, each once", v->string,
                      cJSON_IsNumber(v) ? "out of range" : "that is no number",
                      (long long)nV-1);
    }
    if( p->azText[id] ){
      return m2vError(p, p->zTokFile, "model.vocab: '%.100s' and '%.100s' "
                      "both have id %lld", p->azText[id], v->string,
                      (long long)id);
    }
    p->azText[id] = v->string;
    if( strlen(v->string)>(size_t)p->nMaxTokenBytes ){
      p->nMaxTokenBytes = (int)strlen(v->string);
    }
  }

  cJSON_ArrayForEach(v, pAdded){
    int64_t id = jsonInt(cJSON_GetObjectItemCaseSensitive(v, "id"),
                         M2V_MAX_VOCAB);
    const char *z = strMember(v, "content");
    static const char *azFlag[] = { "single_word", "lstrip", "rstrip",
                                    "normalized" };
    size_t k;
    if( z==0 || z[0]==0 ){
      return m2vError(p, p->zTokFile, "added token %lld has no content",
                      (long long)id);
    }
    for(k=0; k<sizeof(azFlag)/sizeof(azFlag[0]); k++){
      int b;
      if( boolMember(p, v, "added token", azFlag[k], 0, &b) ) return 1;
      if( b ){
        return m2vUnsupported(p, "added token '%.100s' has %s=true", z,
                              azFlag[k]);
      }
    }
    if( id<nV ){
      if( strcmp(p->azText[id], z)!=0 ){
        return m2vError(p, p->zTokFile, "added token '%.100s' has id %lld, "
                        "which model.vocab gives to '%.100s'", z,
                        (long long)id, p->azText[id]);
      }
    }else if( p->azText[id] ){
      return m2vError(p, p->zTokFile, "added tokens '%.100s' and '%.100s' "
                      "both have id %lld", p->azText[id], z, (long long)id);
    }else{
      p->azText[id] = z;
    }
  }
  for(i=nV; i<nN; i++){
    if( p->azText[i]==0 ){
      return m2vError(p, p->zTokFile, "no token has id %lld, between the "
                      "vocabulary's %lld and the largest added token id "
                      "%lld", (long long)i, (long long)nV, (long long)nN-1);
    }
  }

  if( embVocabInit(&p->vocab, nN, &zErr) ) goto vocab_err;
  for(i=0; i<nN; i++){
    if( embVocabAdd(&p->vocab, p->azText[i], (int64_t)strlen(p->azText[i]),
                    &zErr) ){
      goto vocab_err;
    }
  }
  if( embVocabFinish(&p->vocab, &zErr) ) goto vocab_err;
  return 0;

vocab_err:
  if( zErr==0 ){ p->bNoMem = 1; return 1; }
  m2vError(p, p->zTokFile, "vocabulary: %s", zErr);
  embFree(zErr);
  return 1;
}

/* added.hash, added.lens, added.first from added_tokens. */
static int m2vAdded(M2v *p){
  const cJSON *pAdded = cJSON_GetObjectItemCaseSensitive(p->pRoot,
                                                         "added_tokens");
  const cJSON *v;
  uint32_t mask;
  int i, j;
  p->nAddedSlot = 1;
  while( p->nAddedSlot < 2*(uint32_t)p->nAdded ) p->nAddedSlot <<= 1;
  p->aAdded = embMalloc((uint64_t)p->nAddedSlot*sizeof(uint32_t));
  p->aAddedLen = embMalloc(((uint64_t)p->nAdded+1)*sizeof(uint32_t));
  p->aAddedFirst = embMalloc(256);
  if( p->aAdded==0 || p->aAddedLen==0 || p->aAddedFirst==0 ){
    p->bNoMem = 1;
    return 1;
  }
  memset(p->aAdded, 0, (size_t)p->nAddedSlot*sizeof(uint32_t));
  memset(p->aAddedFirst, 0, 256);
  mask = p->nAddedSlot - 1;
  cJSON_ArrayForEach(v, pAdded){
    int64_t id = jsonInt(cJSON_GetObjectItemCaseSensitive(v, "id"),
                         M2V_MAX_VOCAB);
    const char *z = p->azText[id];
    size_t n = strlen(z);
    uint32_t h = embFnv1a(z, n) & mask;
    if( n>0xffffff ){
      return m2vError(p, p->zTokFile, "added token %lld is too long",
                      (long long)id);
    }
    for(;;){
      uint32_t s = p->aAdded[h];
      if( s==0 ){
        p->aAdded[h] = (uint32_t)id + 1;
        break;
      }
      if( s-1==(uint32_t)id ) break;          /* listed twice */
      if( strcmp(p->azText[s-1], z)==0 ){
        return m2vError(p, p->zTokFile, "added tokens %u and %lld have the "
                        "same content '%.100s'", s-1, (long long)id, z);
      }
      h = (h+1) & mask;
    }
    p->aAddedFirst[(uint8_t)z[0]] = 1;
    for(j=0; j<p->nAddedLen && p->aAddedLen[j]!=(uint32_t)n; j++){}
    if( j==p->nAddedLen ){
      if( p->nAddedLen>=EMB_MAX_ADDED_LENS ){
        return m2vError(p, p->zTokFile, "added tokens have more than %d "
                        "different lengths", EMB_MAX_ADDED_LENS);
      }
      p->aAddedLen[p->nAddedLen++] = (uint32_t)n;
    }
  }
  /* longest first (insertion sort: few lengths) */
  for(i=1; i<p->nAddedLen; i++){
    uint32_t x = p->aAddedLen[i];
    for(j=i; j>0 && p->aAddedLen[j-1]<x; j--) p->aAddedLen[j] = p->aAddedLen[j-1];
    p->aAddedLen[j] = x;
  }
  return 0;
}

/* The whole of tokenizer.json: every setting, then the tables. */
static int m2vTokenizer(M2v *p){
  const char *zUnk;
  int64_t id;
  if( m2vReadJson(p, p->zTokFile, &p->pRoot) ) return 1;
  if( m2vModel(p) || m2vNormalizer(p) || m2vPreTokenizer(p) || m2vVocab(p) ){
    return 1;
  }
  if( p->bUnigram ){
    char *zErr = 0;
    if( embUnigramTables((const char *const*)p->azText, p->aScore,
                         p->nModelVocab, &p->uni, &zErr) ){
      if( zErr==0 ){ p->bNoMem = 1; return 1; }
      m2vError(p, p->zTokFile, "%s", zErr);
      embFree(zErr);
      return 1;
    }
    return m2vAdded(p);
  }
  zUnk = strMember(p->pModel, "unk_token");
  id = embVocabLookup(&p->vocab, zUnk, (int64_t)strlen(zUnk));
  if( id<0 || id>=p->nModelVocab ){
    return m2vError(p, p->zTokFile, "model.unk_token '%.100s' is not in "
                    "model.vocab", zUnk);
  }
  p->iUnk = (int)id;
  return m2vAdded(p);
}

/* config.json, when the folder has one: a JSON object; its "normalize". */
static int m2vConfig(M2v *p){
  cJSON *pRoot = 0;
  const cJSON *v;
  p->bNormalize = -1;
  if( p->zConfigFile==0 ) return 0;
  if( m2vReadJson(p, p->zConfigFile, &pRoot) ) return 1;
  if( !cJSON_IsObject(pRoot) ){
    cJSON_Delete(pRoot);
    return m2vError(p, p->zConfigFile, "not a JSON object");
  }
  v = cJSON_GetObjectItemCaseSensitive(pRoot, "normalize");
  if( cJSON_IsBool(v) ) p->bNormalize = cJSON_IsTrue(v);
  cJSON_Delete(pRoot);
  return 0;
}

/* The tensor zName of h, or NULL */
static const EmbStTensor *stFind(const EmbStHeader *h, const char *zName){
  int i;
  for(i=0; i<h->nTensor; i++){
    if( strcmp(h->aTensor[i].zName, zName)==0 ) return &h->aTensor[i];
  }
  return 0;
}

/* Check that tensor t of the mapped file (data from iData, nFile bytes)
** holds its shape's elements; returns its bytes or NULL with an error. */
static const uint8_t *m2vData(M2v *p, const uint8_t *a, uint64_t nFile,
                              uint64_t iData, const EmbStTensor *t){
  uint64_t nElem = 1, nSize = (uint64_t)embStDtypeSize(t->eType);
  int k;
  for(k=0; k<t->nDim; k++){
    if( t->aShape[k] && nElem>UINT64_MAX/t->aShape[k] ) nElem = UINT64_MAX;
    else nElem *= t->aShape[k];
  }
  if( nSize==0 || nElem>UINT64_MAX/nSize || t->iBegin>t->iEnd
   || t->iEnd>nFile-iData || t->iEnd-t->iBegin!=nElem*nSize ){
    m2vError(p, p->zWeightFile, "tensor '%s' has data_offsets [%llu, %llu], "
             "which do not hold its shape of %s within the file "
             "(truncated?)", t->zName, (unsigned long long)t->iBegin,
             (unsigned long long)t->iEnd, embStDtypeName(t->eType));
    return 0;
  }
  return a + iData + t->iBegin;
}

/* "weights" [N] (F64, F32 or F16) to p->aWeight as F32. */
static int m2vWeightsTensor(M2v *p, const uint8_t *a, uint64_t nFile,
                            uint64_t iData, const EmbStTensor *t){
  const uint8_t *pIn;
  int64_t i;
  if( t->eType!=EMB_DT_F64 && t->eType!=EMB_DT_F32 && t->eType!=EMB_DT_F16 ){
    return m2vError(p, p->zWeightFile, "tensor 'weights' has dtype %s; it "
                    "must be F64, F32 or F16", embStDtypeName(t->eType));
  }
  if( t->nDim!=1 || t->aShape[0]!=(uint64_t)p->nVocab ){
    return m2vError(p, p->zWeightFile, "tensor 'weights' must have shape "
                    "[%lld], one weight per token of the tokenizer",
                    (long long)p->nVocab);
  }
  if( (pIn = m2vData(p, a, nFile, iData, t))==0 ) return 1;
  p->eWeightType = t->eType;
  p->aWeight = embMalloc((uint64_t)p->nVocab*4);
  if( p->aWeight==0 ){ p->bNoMem = 1; return 1; }
  for(i=0; i<p->nVocab; i++){
    double d;
    if( t->eType==EMB_DT_F64 ){
      memcpy(&d, pIn + 8*(size_t)i, 8);
    }else if( t->eType==EMB_DT_F32 ){
      float f;
      memcpy(&f, pIn + 4*(size_t)i, 4);
      d = f;
    }else{
      uint16_t h;
      memcpy(&h, pIn + 2*(size_t)i, 2);
      d = embHalfToFloat(h);
    }
    if( !isfinite(d) || fabs(d)>3.0e38 ){
      return m2vError(p, p->zWeightFile, "tensor 'weights' holds %g for "
                      "token %lld, which is not a finite F32", d,
                      (long long)i);
    }
    p->aWeight[i] = (float)d;
  }
  return 0;
}

/* "mapping" [N] (I32 or I64) to p->aMap, each below p->nRow. */
static int m2vMappingTensor(M2v *p, const uint8_t *a, uint64_t nFile,
                            uint64_t iData, const EmbStTensor *t){
  const uint8_t *pIn;
  int64_t i;
  if( t->eType!=EMB_DT_I32 && t->eType!=EMB_DT_I64 ){
    return m2vError(p, p->zWeightFile, "tensor 'mapping' has dtype %s; it "
                    "must be I32 or I64", embStDtypeName(t->eType));
  }
  if( t->nDim!=1 || t->aShape[0]!=(uint64_t)p->nVocab ){
    return m2vError(p, p->zWeightFile, "tensor 'mapping' must have shape "
                    "[%lld], one row per token of the tokenizer",
                    (long long)p->nVocab);
  }
  if( (pIn = m2vData(p, a, nFile, iData, t))==0 ) return 1;
  p->aMap = embMalloc((uint64_t)p->nVocab*4);
  if( p->aMap==0 ){ p->bNoMem = 1; return 1; }
  for(i=0; i<p->nVocab; i++){
    int64_t r;
    if( t->eType==EMB_DT_I32 ){
      int32_t x;
      memcpy(&x, pIn + 4*(size_t)i, 4);
      r = x;
    }else{
      memcpy(&r, pIn + 8*(size_t)i, 8);
    }
    if( r<0 || r>=p->nRow ){
      return m2vError(p, p->zWeightFile, "tensor 'mapping' maps token %lld "
                      "to row %lld, but the matrix has %lld rows",
                      (long long)i, (long long)r, (long long)p->nRow);
    }
    p->aMap[i] = (uint32_t)r;
  }
  return 0;
}

/*
** The weights file: the matrix, in its own width, its first nDimsWant
** columns (all when 0); "weights" and "mapping" when present.
*/
static int m2vWeights(M2v *p, int nDimsWant, EmbProgressFn xProg,
                      void *pProgArg){
  struct stat st;
  EmbStHeader h;
  const EmbStTensor *t, *tW, *tM;
  const uint8_t *pIn;
  char *zParse = 0;
  uint8_t *a = MAP_FAILED;
  uint64_t nFile = 0, nHeader, iData, nSize, k, nCol, nOut;
  int fd, i, rc = 1;

  memset(&h, 0, sizeof(h));
  fd = open(p->zWeightFile, O_RDONLY|O_CLOEXEC);
  if( fd<0 || fstat(fd, &st)!=0 ){
    m2vError(p, p->zWeightFile, "cannot open: %s", strerror(errno));
    goto weights_done;
  }
  if( !S_ISREG(st.st_mode) || st.st_size<8 ){
    m2vError(p, p->zWeightFile, "%s", !S_ISREG(st.st_mode)
             ? "not a regular file" : "too short for a safetensors file");
    goto weights_done;
  }
  nFile = (uint64_t)st.st_size;
  a = mmap(0, (size_t)nFile, PROT_READ, MAP_PRIVATE, fd, 0);
  if( a==MAP_FAILED ){
    m2vError(p, p->zWeightFile, "cannot map: %s", strerror(errno));
    goto weights_done;
  }
  for(nHeader=0, i=7; i>=0; i--) nHeader = (nHeader<<8) | a[i];
  if( nHeader>nFile-8 || nHeader>(100u<<20) ){
    m2vError(p, p->zWeightFile, "not a safetensors file (header length "
             "%llu, file size %llu)", (unsigned long long)nHeader,
             (unsigned long long)nFile);
    goto weights_done;
  }
  if( embStParse(a+8, nHeader, &h, &zParse) ){
    if( zParse==0 ){ p->bNoMem = 1; goto weights_done; }
    m2vError(p, p->zWeightFile, "bad safetensors header: %s", zParse);
    goto weights_done;
  }
  iData = 8 + nHeader;
  p->zMatrixName = "embeddings";
  t = stFind(&h, "embeddings");
  if( t==0 ){
    p->zMatrixName = EMB_T_MATRIX;
    t = stFind(&h, EMB_T_MATRIX);
  }
  if( t==0 ){
    char zList[200];
    size_t j = 0;
    zList[0] = 0;
    for(i=0; i<h.nTensor && j+4<sizeof(zList); i++){
      int m = snprintf(zList+j, sizeof(zList)-j, "%s'%s'", i ? ", " : "",
                       h.aTensor[i].zName);
      if( m<0 ) break;
      j += (size_t)m;
    }
    if( j>=sizeof(zList) ) memcpy(zList+sizeof(zList)-4, "...", 4);
    m2vError(p, p->zWeightFile, "no tensor 'embeddings' or '%s' (it has %s)",
             EMB_T_MATRIX, h.nTensor ? zList : "none");
    goto weights_done;
  }
  if( t->eType!=EMB_DT_F32 && t->eType!=EMB_DT_F16 && t->eType!=EMB_DT_BF16
   && t->eType!=EMB_DT_I8 ){
    m2vError(p, p->zWeightFile, "tensor '%s' has dtype %s; it must be F32, "
             "F16, BF16 or I8", p->zMatrixName, embStDtypeName(t->eType));
    goto weights_done;
  }
  if( t->nDim!=2 || t->aShape[0]==0 || t->aShape[0]>0x7fffffff
   || t->aShape[1]==0 || t->aShape[1]>65536 ){
    m2vError(p, p->zWeightFile, "tensor '%s' must have shape [rows, dims] "
             "with 1 to 65536 dims", p->zMatrixName);
    goto weights_done;
  }
  p->eType = t->eType;
  p->nRow = (int64_t)t->aShape[0];
  nCol = t->aShape[1];
  if( (pIn = m2vData(p, a, nFile, iData, t))==0 ) goto weights_done;
  tM = stFind(&h, "mapping");
  tW = stFind(&h, "weights");
  if( tM==0 && p->nRow!=p->nVocab ){
    m2vError(p, p->zWeightFile, "tensor '%s' has %lld rows, but the "
             "tokenizer '%s' has %lld tokens (%lld in model.vocab, %lld more "
             "added) and there is no 'mapping': the rows must match the "
             "tokens", p->zMatrixName, (long long)p->nRow, p->zTokFile,
             (long long)p->nVocab, (long long)p->nModelVocab,
             (long long)(p->nVocab - p->nModelVocab));
    goto weights_done;
  }
  if( tM && m2vMappingTensor(p, a, nFile, iData, tM) ) goto weights_done;
  if( tW && m2vWeightsTensor(p, a, nFile, iData, tW) ) goto weights_done;

  p->nDimsIn = (int)nCol;
  if( nDimsWant>0 && (uint64_t)nDimsWant>nCol ){
    m2vError(p, p->zWeightFile, "--dims %d is more than the %llu dims of "
             "'%s'", nDimsWant, (unsigned long long)nCol, p->zMatrixName);
    goto weights_done;
  }
  p->nDims = nDimsWant>0 ? nDimsWant : (int)nCol;
  nSize = (uint64_t)embStDtypeSize(t->eType);
  nOut = (uint64_t)p->nDims*nSize;
  p->aMatrix = embMalloc((uint64_t)p->nRow*nOut);
  if( p->aMatrix==0 ){ p->bNoMem = 1; goto weights_done; }
  (void)madvise(a, (size_t)nFile, MADV_SEQUENTIAL);
  if( xProg ) xProg(pProgArg, "copying rows", 0, (uint64_t)p->nRow);
  for(k=0; k<(uint64_t)p->nRow; k++){
    const uint8_t *pR = pIn + k*nCol*nSize;
    uint8_t *pOut = p->aMatrix + k*nOut;
    uint64_t j;
    memcpy(pOut, pR, (size_t)nOut);
    /* a matrix of NaN or infinity would embed to garbage: refuse it */
    for(j=0; j<(uint64_t)p->nDims && t->eType!=EMB_DT_I8; j++){
      float x;
      uint16_t hv;
      if( t->eType==EMB_DT_F32 ){
        memcpy(&x, pR + 4*j, 4);
      }else{
        memcpy(&hv, pR + 2*j, 2);
        x = t->eType==EMB_DT_F16 ? embHalfToFloat(hv) : embBf16ToFloat(hv);
      }
      if( !isfinite(x) ){
        m2vError(p, p->zWeightFile, "tensor '%s' row %llu column %llu holds "
                 "%g", p->zMatrixName, (unsigned long long)k,
                 (unsigned long long)j, (double)x);
        goto weights_done;
      }
    }
    if( xProg && (k % M2V_PROGRESS)==0 ){
      xProg(pProgArg, "copying rows", k, (uint64_t)p->nRow);
    }
  }
  if( xProg ) xProg(pProgArg, "copying rows", (uint64_t)p->nRow,
                    (uint64_t)p->nRow);
  rc = 0;

weights_done:
  embStClear(&h);
  embFree(zParse);
  if( a!=MAP_FAILED ) munmap(a, (size_t)nFile);
  if( fd>=0 ) close(fd);
  return rc;
}

/*
** The Unigram kind's tensors and metadata (FORMAT.md, "The Unigram
** tokenizer"); the tables move into the writer.  A Unigram model names no
** unk_token, so Model2Vec pools its unk_id like any other id: no
** pool.skip_id.
*/
static int m2vWriteUnigram(M2v *p, EmbWriter *w, char **pzErr){
  uint64_t aShape[2];
  char zModelVocab[24], zUnk[24], zMax[24];
  int rc;
  snprintf(zModelVocab, sizeof(zModelVocab), "%lld",
           (long long)p->nModelVocab);
  snprintf(zUnk, sizeof(zUnk), "%d", p->iUnk);
  snprintf(zMax, sizeof(zMax), "%d", p->uni.nMaxPiece>0 ? p->uni.nMaxPiece : 1);
  aShape[0] = (uint64_t)p->nModelVocab + 1;
  rc = embWriterTensor(w, EMB_T_UNI_SCORES, EMB_DT_F64, 1, aShape,
                       p->uni.aScore, 1, pzErr);
  p->uni.aScore = 0;
  if( rc ) return rc;
  aShape[0] = p->uni.nNode;
  aShape[1] = 3;
  rc = embWriterTensor(w, EMB_T_UNI_TRIE, EMB_DT_U32, 2, aShape,
                       p->uni.aTrie, 1, pzErr);
  p->uni.aTrie = 0;
  if( rc ) return rc;
  aShape[0] = 256;
  rc = embWriterTensor(w, EMB_T_UNI_BYTES, EMB_DT_U32, 1, aShape,
                       p->uni.aByte, 1, pzErr);
  p->uni.aByte = 0;
  if( rc ) return rc;
  aShape[0] = p->nPretok;
  rc = embWriterTensor(w, EMB_T_PRETOK, EMB_DT_U8, 1, aShape, p->aPretok, 1,
                       pzErr);
  p->aPretok = 0;
  if( rc ) return rc;
  if( embWriterMeta(w, "unigram.vocab", zModelVocab, pzErr)
   || embWriterMeta(w, "unigram.unk_id", zUnk, pzErr)
   || embWriterMeta(w, "unigram.max_piece_bytes", zMax, pzErr)
   || embWriterMeta(w, "unigram.fuse_unk", "1", pzErr)
   || embWriterMeta(w, "unigram.byte_fallback", p->bByteFallback ? "1" : "0",
                    pzErr)
   || embWriterMeta(w, "pre_tokenizer", "program", pzErr) ){
    return 1;
  }
  return 0;
}

/* Write the model file.  The tables move into the writer. */
static int m2vWrite(M2v *p, const char *zDir, const char *zOut,
                    EmbConvertStats *pStats, char **pzErr){
  EmbWriter *w = p->w ? p->w : embWriterNew();
  uint64_t aShape[2];
  char zVersion[24], zDims[24], zVocab[24], zUnk[24], zModelVocab[24];
  char zMaxChars[24], zMaxTok[24];
  char *zDesc = 0;
  int rc = 1;
  p->w = 0;
  if( w==0 ) return 1;
  snprintf(zVersion, sizeof(zVersion), "%d", EMB_FORMAT_VERSION);
  snprintf(zDims, sizeof(zDims), "%d", p->nDims);
  snprintf(zVocab, sizeof(zVocab), "%lld", (long long)p->nVocab);
  snprintf(zModelVocab, sizeof(zModelVocab), "%lld",
           (long long)p->nModelVocab);
  snprintf(zUnk, sizeof(zUnk), "%d", p->iUnk);
  snprintf(zMaxChars, sizeof(zMaxChars), "%d", p->nMaxChars);
  snprintf(zMaxTok, sizeof(zMaxTok), "%d", p->nMaxTokenBytes);
  zDesc = embMprintf("Model2Vec %s: %s %s [%lld, %d] (%d of %d dims)%s%s%s, "
                     "tokenizer %s (%lld tokens, %d added)%s; "
                     "config normalize %s",
                     zDir, p->zMatrixName, embStDtypeName(p->eType),
                     (long long)p->nRow, p->nDims, p->nDims, p->nDimsIn,
                     p->aWeight ? ", weights " : "",
                     p->aWeight ? embStDtypeName(p->eWeightType) : "",
                     p->aMap ? ", mapping" : "",
                     p->bUnigram ? "Unigram" : "WordPiece", (long long)p->nVocab,
                     p->nAdded, p->bTruncation ? ", its truncation ignored"
                                               : "",
                     p->bNormalize<0 ? "absent"
                       : p->bNormalize ? "true" : "false");
  if( zDesc==0 ) goto write_done;

  aShape[0] = (uint64_t)p->nRow;
  aShape[1] = (uint64_t)p->nDims;
  rc = embWriterTensor(w, EMB_T_MATRIX, p->eType, 2, aShape, p->aMatrix, 1,
                       pzErr);
  p->aMatrix = 0;
  if( rc ) goto write_done;
  rc = 1;
  if( embWriterVocab(w, &p->vocab, pzErr) ) goto write_done;
  aShape[0] = p->nAddedSlot;
  rc = embWriterTensor(w, EMB_T_ADDED, EMB_DT_U32, 1, aShape, p->aAdded, 1,
                       pzErr);
  p->aAdded = 0;
  if( rc ) goto write_done;
  aShape[0] = (uint64_t)p->nAddedLen;
  rc = embWriterTensor(w, EMB_T_ADDED_LEN, EMB_DT_U32, 1, aShape,
                       p->aAddedLen, 1, pzErr);
  p->aAddedLen = 0;
  if( rc ) goto write_done;
  aShape[0] = 256;
  rc = embWriterTensor(w, EMB_T_ADDED_1ST, EMB_DT_U8, 1, aShape,
                       p->aAddedFirst, 1, pzErr);
  p->aAddedFirst = 0;
  if( rc ) goto write_done;
  aShape[0] = (uint64_t)p->nVocab;
  if( p->aMap ){
    rc = embWriterTensor(w, EMB_T_TOKEN_ROW, EMB_DT_U32, 1, aShape, p->aMap,
                         1, pzErr);
    p->aMap = 0;
    if( rc ) goto write_done;
  }
  if( p->aWeight ){
    rc = embWriterTensor(w, EMB_T_TOKEN_WEIGHT, EMB_DT_F32, 1, aShape,
                         p->aWeight, 1, pzErr);
    p->aWeight = 0;
    if( rc ) goto write_done;
  }
  if( p->bUnigram ){
    rc = m2vWriteUnigram(p, w, pzErr);
    if( rc ) goto write_done;
  }
  rc = 1;
  if( p->bUnigram ){
    if( embWriterMeta(w, "format", EMB_FORMAT_NAME, pzErr)
     || embWriterMeta(w, "format_version", zVersion, pzErr)
     || embWriterMeta(w, "source", "model2vec", pzErr)
     || embWriterMeta(w, "tokenizer", EMB_TOKENIZER_UNIGRAM, pzErr)
     || embWriterMeta(w, "dims", zDims, pzErr)
     || embWriterMeta(w, "vocab_size", zVocab, pzErr)
     || embWriterMeta(w, "description", zDesc, pzErr) ){
      goto write_done;
    }
    if( embWriterWrite(w, zOut, &pStats->nByte, pzErr) ) goto write_done;
    rc = 0;
    goto write_done;
  }
  if( embWriterMeta(w, "format", EMB_FORMAT_NAME, pzErr)
   || embWriterMeta(w, "format_version", zVersion, pzErr)
   || embWriterMeta(w, "source", "model2vec", pzErr)
   || embWriterMeta(w, "tokenizer", EMB_TOKENIZER_WORDPIECE, pzErr)
   || embWriterMeta(w, "dims", zDims, pzErr)
   || embWriterMeta(w, "vocab_size", zVocab, pzErr)
   || embWriterMeta(w, "description", zDesc, pzErr)
   || embWriterMeta(w, "pool.skip_id", zUnk, pzErr)
   || embWriterMeta(w, "wordpiece.unk_id", zUnk, pzErr)
   || embWriterMeta(w, "wordpiece.vocab", zModelVocab, pzErr)
   || embWriterMeta(w, "wordpiece.max_chars", zMaxChars, pzErr)
   || embWriterMeta(w, "wordpiece.max_token_bytes", zMaxTok, pzErr)
   || embWriterMeta(w, "wordpiece.prefix", p->zPrefix, pzErr)
   || embWriterMeta(w, "normalizer", p->bBert ? "bert" : "none", pzErr)
   || embWriterMeta(w, "pre_tokenizer", "bert", pzErr) ){
    goto write_done;
  }
  if( p->bBert
   && (embWriterMeta(w, "bert.clean_text",
                     (p->mNorm & EMB_NORM_CLEAN) ? "1" : "0", pzErr)
    || embWriterMeta(w, "bert.handle_chinese_chars",
                     (p->mNorm & EMB_NORM_CHINESE) ? "1" : "0", pzErr)
    || embWriterMeta(w, "bert.strip_accents",
                     (p->mNorm & EMB_NORM_STRIP) ? "1" : "0", pzErr)
    || embWriterMeta(w, "bert.lowercase",
                     (p->mNorm & EMB_NORM_LOWER) ? "1" : "0", pzErr)) ){
    goto write_done;
  }
  if( embWriterWrite(w, zOut, &pStats->nByte, pzErr) ) goto write_done;
  rc = 0;

write_done:
  embFree(zDesc);
  embWriterFree(w);
  return rc;
}

/* Find the files of folder zDir: the weights and tokenizer (also in
** 0_StaticEmbedding/), config.json when present. */
static int m2vFiles(M2v *p, const char *zDir){
  struct stat st;
  static const char *azSub[] = { "", "/0_StaticEmbedding" };
  size_t k;
  if( stat(zDir, &st)!=0 || !S_ISDIR(st.st_mode) ){
    p->zErr = embMprintf("'%s': %s", zDir, stat(zDir, &st)!=0
                         ? strerror(errno) : "not a folder (embed-convert "
                         "model2vec takes the model's folder)");
    if( p->zErr==0 ) p->bNoMem = 1;
    return 1;
  }
  for(k=0; k<sizeof(azSub)/sizeof(azSub[0]); k++){
    char *z = embMprintf("%s%s/model.safetensors", zDir, azSub[k]);
    if( z==0 ){ p->bNoMem = 1; return 1; }
    if( isFile(z) ){
      p->zWeightFile = z;
      p->zTokFile = embMprintf("%s%s/tokenizer.json", zDir, azSub[k]);
      if( p->zTokFile==0 ){ p->bNoMem = 1; return 1; }
      if( !isFile(p->zTokFile) && k>0 ){
        embFree(p->zTokFile);
        p->zTokFile = embMprintf("%s/tokenizer.json", zDir);
        if( p->zTokFile==0 ){ p->bNoMem = 1; return 1; }
      }
      break;
    }
    embFree(z);
  }
  if( p->zWeightFile==0 ){
    p->zErr = embMprintf("'%s': no model.safetensors in the folder (nor in "
                         "0_StaticEmbedding/): not a Model2Vec model", zDir);
    if( p->zErr==0 ) p->bNoMem = 1;
    return 1;
  }
  if( !isFile(p->zTokFile) ){
    p->zErr = embMprintf("'%s': no tokenizer.json beside model.safetensors",
                         zDir);
    if( p->zErr==0 ) p->bNoMem = 1;
    return 1;
  }
  p->zConfigFile = embMprintf("%s/config.json", zDir);
  if( p->zConfigFile==0 ){ p->bNoMem = 1; return 1; }
  if( !isFile(p->zConfigFile) ){
    embFree(p->zConfigFile);
    p->zConfigFile = 0;
  }
  return 0;
}

int embModel2Vec(const char *zDir, const char *zOut,
                 const EmbModel2VecOptions *pOpt, EmbProgressFn xProg,
                 void *pProgArg, EmbConvertStats *pStats, char **pzErr){
  M2v m;
  M2v *p = &m;
  int rc = 1;

  *pzErr = 0;
  memset(p, 0, sizeof(*p));
  if( pOpt->nDims<0 || pOpt->nDims>65536 ){
    *pzErr = embMprintf("--dims must be from 1 to 65536");
    return 1;
  }
  if( m2vFiles(p, zDir) || m2vConfig(p) ) goto done;
  if( xProg ) xProg(pProgArg, "reading the tokenizer", 0, 1);
  if( m2vTokenizer(p) ) goto done;
  if( xProg ) xProg(pProgArg, "reading the tokenizer", 1, 1);
  cJSON_Delete(p->pRoot);
  p->pRoot = 0;
  embFree(p->azText);
  p->azText = 0;

  if( m2vWeights(p, pOpt->nDims, xProg, pProgArg) ) goto done;
  pStats->nVocab = p->nVocab;
  pStats->nDims = p->nDims;
  pStats->eTokenizer = p->bUnigram ? EMB_TOK_UNIGRAM : EMB_TOK_WORDPIECE;
  pStats->eMatrixType = p->eType;
  pStats->nRow = p->nRow;
  pStats->bWeights = p->aWeight!=0;
  pStats->bMapping = p->aMap!=0;
  pStats->bTruncation = p->bTruncation;
  if( m2vWrite(p, zDir, zOut, pStats, pzErr) ) goto done;
  rc = 0;

done:
  if( rc && *pzErr==0 && p->zErr ){
    *pzErr = p->zErr;
    p->zErr = 0;
  }
  embFree(p->zErr);
  embFree(p->zTokFile);
  embFree(p->zWeightFile);
  embFree(p->zConfigFile);
  cJSON_Delete(p->pRoot);
  embFree(p->azText);
  embVocabClear(&p->vocab);
  embFree(p->aAdded);
  embFree(p->aAddedLen);
  embFree(p->aAddedFirst);
  embFree(p->aMatrix);
  embFree(p->aWeight);
  embFree(p->aMap);
  embFree(p->aScore);
  embFree(p->aPretok);
  embUnigramTablesFree(&p->uni);
  embWriterFree(p->w);
  return rc;
}
