/*
** unit_golden.c: the tokenizers and embed()'s pooling against the golden
** files of Hugging Face's tokenizers and of Model2Vec's reference
** (../shared/golden), case by case.
**
**     build/unit_golden [TEST_DIR [GOLDEN_DIR]]
**     build/unit_golden -v ...        also list every mismatch
**     build/unit_golden --check MODEL.emb GOLDEN.jsonl
**                                     one token file against one model
**                                     (test/unigram/run.sh's variants)
**
** The models, in TEST_DIR (default $EMBED_TEST_DIR; the Makefile makes
** them from ../shared; this program converts nothing itself):
**   l2.emb    synthetic_l2_64.safetensors + wordllama_l2_supercat_tokenizer
**             .json (embed-convert wordllama: Llama-2 metaspace BPE)
**   l3.emb    synthetic_l3_16.safetensors + llama3_tokenizer.json (Llama-3
**             byte-level BPE)
**   potion.emb         models/potion-base-4m-int8 (embed-convert model2vec:
**                      WordPiece, I8 rows)
**   m2v_bert_bf16.emb  ../shared/models/synthetic_m2v_bert_bf16 (WordPiece
**                      with bert-base-uncased's tokenizer, BF16 rows, F32
**                      weights)
**   m2v_vocabq.emb     ../shared/models/model2vec-rs/test-model-vocab-
**                      quantized (Unigram: BertNormalizer, Replace, Strip,
**                      Metaspace; F32 rows shared through mapping, F64
**                      weights)
**   m2v_t5_f16.emb     ../shared/models/synthetic_m2v_t5_f16 (T5's Unigram:
**                      Precompiled, WhitespaceSplit + the older Metaspace;
**                      F16 rows)
**   m2v_nmt_i8.emb     ../shared/models/synthetic_m2v_nmt_i8 (Unigram with
**                      Sequence[Precompiled, Strip, Replace] and Metaspace
**                      split; I8 rows, F16 weights)
** The goldens come from $SHARED/golden unless GOLDEN_DIR is given.  When
** the goldens are missing it says so and skips; a missing model fails.
**
** Token files (*_public*.jsonl): each line {"hex", "text", "ids"}; the
** input is the bytes of "hex", made valid UTF-8 by embUtf8Repair() as the
** extension does, and embTokenize() must give exactly "ids".
** Embedding files (*_embed_*.jsonl): also "unit", the L2-normalised mean of
** the rows, and "bits", its bquant(); embPoolMean() of our ids must be
** within the file's tolerance (1e-6 for the WordLlama models, whose
** reference sums in float64; 1e-5 for Model2Vec's) of each component of
** "unit", and each bit of "bits" must be ours where the component is not
** within that tolerance of zero.
** The model2vec-rs test models (m2v_rs_float32, _float16, _int8 and
** _sentence-transformers.emb in TEST_DIR, from ../shared/models/
** model2vec-rs) embed "hello world" and "hello" repeated 1,000 times
** (joined by spaces) to the Python library's vectors, embeddings_short.json
** and embeddings_long.json (made from the F32 model in float32): within
** 1e-5 for F32, 1e-3 for F16 and 2e-2 for I8, whose rows are quantized
** (model2vec-rs allows 10%); and, exactly (1e-6), to the normalised mean
** of the rows read straight from each fixture's own model.safetensors.
** The vocabulary-quantized model (m2v_vocabq.emb) embeds "hello" repeated
** 1,000 times (joined by spaces) to the Python library's vector,
** embeddings_vocab_quantized.json, within 1e-5.
** Each case counts once; the last line is "N passed, N failed".
*/
#include "model.h"
#include "pool.h"
#include "tokenizer.h"
#include "unicode.h"
#include "alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "safetensors.h"

#define MAX_SHOWN 5        /* mismatches printed per file (without -v) */

static int nPass = 0, nFail = 0;
static int bVerbose = 0;

/* The models, by index into azModelFile */
#define M_L2     0
#define M_L3     1
#define M_POTION 2
#define M_BERT   3
#define M_M2VQ   4
#define M_T5     5
#define M_NMT    6
#define N_MODEL  7
static const char *azModelFile[N_MODEL] = {
  "l2.emb", "l3.emb", "potion.emb", "m2v_bert_bf16.emb", "m2v_vocabq.emb",
  "m2v_t5_f16.emb", "m2v_nmt_i8.emb"
};

/* Which model a golden file is for, and what it checks */
typedef struct GoldenFile GoldenFile;
struct GoldenFile {
  const char *zName;
  int iModel;              /* M_* */
  int bEmbed;              /* has unit and bits */
  double tol;              /* for unit */
};

static const GoldenFile aFile[] = {
  { "wordllama_l2_supercat_public.jsonl",        M_L2, 0, 0 },
  { "wordllama_l2_supercat_public_random.jsonl", M_L2, 0, 0 },
  { "wordllama_l2_supercat_public_real.jsonl",   M_L2, 0, 0 },
  { "llama3_public.jsonl",                       M_L3, 0, 0 },
  { "llama3_public_random.jsonl",                M_L3, 0, 0 },
  { "llama3_public_real.jsonl",                  M_L3, 0, 0 },
  { "synthetic64_embed_public.jsonl",            M_L2, 1, 1e-6 },
  { "synthetic64_embed_real.jsonl",              M_L2, 1, 1e-6 },
  { "synthetic_l3_16_embed_public.jsonl",        M_L3, 1, 1e-6 },
  { "potion_base_4m_public.jsonl",               M_POTION, 0, 0 },
  { "potion_base_4m_public_random.jsonl",        M_POTION, 0, 0 },
  { "potion_base_4m_public_real.jsonl",          M_POTION, 0, 0 },
  { "potion_base_4m_embed_public.jsonl",         M_POTION, 1, 1e-5 },
  { "potion_base_4m_embed_real.jsonl",           M_POTION, 1, 1e-5 },
  { "bert_base_uncased_public.jsonl",            M_BERT, 0, 0 },
  { "bert_base_uncased_public_random.jsonl",     M_BERT, 0, 0 },
  { "bert_base_uncased_public_real.jsonl",       M_BERT, 0, 0 },
  { "synthetic_m2v_bert_bf16_embed_public.jsonl", M_BERT, 1, 1e-5 },
  { "synthetic_m2v_bert_bf16_embed_real.jsonl",  M_BERT, 1, 1e-5 },
  { "m2v_vocabq_unigram_public.jsonl",           M_M2VQ, 0, 0 },
  { "m2v_vocabq_unigram_public_random.jsonl",    M_M2VQ, 0, 0 },
  { "m2v_vocabq_unigram_public_real.jsonl",      M_M2VQ, 0, 0 },
  { "m2v_vocabq_embed_public.jsonl",             M_M2VQ, 1, 1e-5 },
  { "m2v_vocabq_embed_real.jsonl",               M_M2VQ, 1, 1e-5 },
  { "t5_small_public.jsonl",                     M_T5, 0, 0 },
  { "t5_small_public_random.jsonl",              M_T5, 0, 0 },
  { "t5_small_public_real.jsonl",                M_T5, 0, 0 },
  { "synthetic_m2v_t5_f16_embed_public.jsonl",   M_T5, 1, 1e-5 },
  { "synthetic_m2v_t5_f16_embed_real.jsonl",     M_T5, 1, 1e-5 },
  { "nmt_unigram_public.jsonl",                  M_NMT, 0, 0 },
  { "nmt_unigram_public_random.jsonl",           M_NMT, 0, 0 },
  { "nmt_unigram_public_real.jsonl",             M_NMT, 0, 0 },
  { "synthetic_m2v_nmt_i8_embed_public.jsonl",   M_NMT, 1, 1e-5 },
  { "synthetic_m2v_nmt_i8_embed_real.jsonl",     M_NMT, 1, 1e-5 },
};

static int fileExists(const char *z){
  struct stat st;
  return z && stat(z, &st)==0;
}

/* The whole of file zPath, NUL-terminated, from malloc(); NULL on error. */
static char *readAll(const char *zPath){
  FILE *f = fopen(zPath, "rb");
  char *z = 0;
  long n;
  if( f==0 ) return 0;
  if( fseek(f, 0, SEEK_END)==0 && (n = ftell(f))>=0 && fseek(f, 0, SEEK_SET)==0 ){
    z = malloc((size_t)n + 1);
    if( z && fread(z, 1, (size_t)n, f)!=(size_t)n ){ free(z); z = 0; }
    if( z ) z[n] = 0;
  }
  fclose(f);
  return z;
}

/* Decode hex z into a[] (room for strlen(z)/2); returns the byte count or
** -1 when z is not hex. */
static int unhex(const char *z, unsigned char *a){
  int n = 0;
  while( z[0] && z[1] ){
    unsigned v;
    if( sscanf(z, "%2x", &v)!=1 ) return -1;
    a[n++] = (unsigned char)v;
    z += 2;
  }
  return z[0] ? -1 : n;
}

/* Print an id list: the first 40 ids. */
static void printIds(const char *zLabel, const int *a, int n){
  int i;
  printf("    %s [", zLabel);
  for(i=0; i<n && i<40; i++) printf("%s%d", i ? "," : "", a[i]);
  printf("%s] (%d)\n", n>40 ? ",..." : "", n);
}

/* Print input text, escaped, at most 200 bytes. */
static void printText(const char *z, int n){
  int i;
  printf("    text \"");
  for(i=0; i<n && i<200; i++){
    unsigned char c = (unsigned char)z[i];
    if( c=='"' || c=='\\' ) printf("\\%c", c);
    else if( c<0x20 || c==0x7f ) printf("\\x%02x", c);
    else putchar(c);
  }
  printf("%s\"\n", n>200 ? "..." : "");
}

/*
** Run the cases of one golden file against pModel.  Returns 0, or -1 when
** the file cannot be read.
*/
static int runFile(const char *zDir, const GoldenFile *g, const EmbModel *pModel,
                   EmbTokens *pTok){
  char *zPath = malloc(strlen(zDir) + strlen(g->zName) + 2);
  char *zAll, *zLine, *zNext;
  int nCase = 0, nOk = 0, nShown = 0;
  int *aWant = 0, nWantAlloc = 0;
  float *aUnit = 0;
  double *aAcc = 0;

  sprintf(zPath, "%s/%s", zDir, g->zName);
  zAll = readAll(zPath);
  if( zAll==0 ){
    printf("%s: cannot read\n", zPath);
    free(zPath);
    nFail++;
    return -1;
  }
  aUnit = malloc(sizeof(float)*(size_t)pModel->nDims);
  aAcc = malloc(sizeof(double)*(size_t)pModel->nDims);
  for(zLine=zAll; zLine && *zLine; zLine=zNext){
    cJSON *pCase, *pIds, *v;
    const char *zHex;
    unsigned char *aIn;
    char *zFixed = 0;
    const char *zText;
    size_t nText;
    int nIn, nWant = 0, i, bOk = 1, rc;
    char zWhy[160];

    zNext = strchr(zLine, '\n');
    if( zNext ) *zNext++ = 0;
    if( zLine[0]==0 ) continue;
    nCase++;
    zWhy[0] = 0;
    pCase = cJSON_Parse(zLine);
    zHex = pCase ? cJSON_GetStringValue(cJSON_GetObjectItem(pCase, "hex")) : 0;
    pIds = pCase ? cJSON_GetObjectItem(pCase, "ids") : 0;
    if( zHex==0 || !cJSON_IsArray(pIds) ){
      printf("%s line %d: not a golden case\n", g->zName, nCase);
      cJSON_Delete(pCase);
      nFail++;
      continue;
    }
    aIn = malloc(strlen(zHex)/2 + 1);
    nIn = unhex(zHex, aIn);
    nWant = cJSON_GetArraySize(pIds);
    if( nWant>nWantAlloc ){
      nWantAlloc = nWant*2;
      aWant = realloc(aWant, sizeof(int)*(size_t)nWantAlloc);
    }
    i = 0;
    cJSON_ArrayForEach(v, pIds) aWant[i++] = (int)v->valuedouble;

    /* tokenize as embed_tokens() does */
    rc = embUtf8Repair((const char*)aIn, nIn<0 ? 0 : (size_t)nIn, &zFixed,
                       &nText);
    zText = rc>0 ? zFixed : (const char*)aIn;
    pTok->nId = 0;
    if( nIn<0 || rc<0 || embTokenize(pModel, zText, nText, pTok) ){
      bOk = 0;
      snprintf(zWhy, sizeof(zWhy), "tokenize failed");
    }else if( pTok->nId!=nWant
           || (nWant>0 && memcmp(pTok->aId, aWant, sizeof(int)*(size_t)nWant)) ){
      bOk = 0;
      snprintf(zWhy, sizeof(zWhy), "ids differ");
    }

    /* pooling */
    if( bOk && g->bEmbed ){
      cJSON *pUnit = cJSON_GetObjectItem(pCase, "unit");
      const char *zBits = cJSON_GetStringValue(cJSON_GetObjectItem(pCase,
                                                                   "bits"));
      int j = 0;
      embPoolMean(pModel, pTok->aId, pTok->nId, pModel->nDims, aAcc, aUnit);
      if( cJSON_GetArraySize(pUnit)!=pModel->nDims || zBits==0
       || (int)strlen(zBits)!=(pModel->nDims+7)/8*2 ){
        bOk = 0;
        snprintf(zWhy, sizeof(zWhy), "golden unit/bits have the wrong size");
      }
      cJSON_ArrayForEach(v, pUnit){
        double want = v->valuedouble;
        unsigned byte = 0;
        int bWant, bGot;
        if( !bOk || j>=pModel->nDims ) break;
        if( fabs((double)aUnit[j] - want)>g->tol ){
          bOk = 0;
          snprintf(zWhy, sizeof(zWhy), "unit[%d] is %.9g, golden %.9g", j,
                   (double)aUnit[j], want);
          break;
        }
        sscanf(zBits + 2*(j/8), "%2x", &byte);
        bWant = (byte >> (j%8)) & 1;
        bGot = aUnit[j]>0.0f;
        if( fabs(want)>g->tol && bWant!=bGot ){
          bOk = 0;
          snprintf(zWhy, sizeof(zWhy), "bit %d is %d, golden %d (unit %.9g)",
                   j, bGot, bWant, (double)aUnit[j]);
          break;
        }
        j++;
      }
    }

    if( bOk ){
      nOk++;
      nPass++;
    }else{
      nFail++;
      if( bVerbose || nShown<MAX_SHOWN ){
        nShown++;
        printf("  MISMATCH %s line %d: %s\n", g->zName, nCase, zWhy);
        printf("    hex %.400s\n", zHex);
        printText(zText, (int)nText);
        printIds("want", aWant, nWant);
        printIds("got ", pTok->aId, pTok->nId);
      }
    }
    embFree(zFixed);
    free(aIn);
    cJSON_Delete(pCase);
  }
  printf("%s: %d cases, %d passed, %d failed\n", g->zName, nCase, nOk,
         nCase-nOk);
  free(aWant);
  free(aUnit);
  free(aAcc);
  free(zAll);
  free(zPath);
  return 0;
}

/* The first vector of the JSON file zPath ([[x, y, ...]]) to a[0..nMax);
** returns its length or -1. */
static int readVector(const char *zPath, double *a, int nMax){
  char *z = readAll(zPath);
  cJSON *pRoot = z ? cJSON_Parse(z) : 0, *v;
  int n = 0;
  free(z);
  if( !cJSON_IsArray(pRoot) || !cJSON_IsArray(cJSON_GetArrayItem(pRoot, 0)) ){
    cJSON_Delete(pRoot);
    return -1;
  }
  cJSON_ArrayForEach(v, cJSON_GetArrayItem(pRoot, 0)){
    if( n<nMax ) a[n] = v->valuedouble;
    n++;
  }
  cJSON_Delete(pRoot);
  return n<=nMax ? n : -1;
}

/*
** The L2-normalised mean of the rows aId[0..nId) (but skip) of the
** embeddings in the safetensors file zPath, read with no help from the
** converter: into aOut[0..nDims).  Returns 0, or -1 when the file cannot
** be read as one.
*/
static int rawMean(const char *zPath, const int *aId, int nId, int skip,
                   double *aOut, int nDims){
  char *z = readAll(zPath);
  EmbStHeader h;
  char *zErr = 0;
  uint64_t nHeader = 0;
  const EmbStTensor *t = 0;
  double norm = 0;
  int i, j, k;
  if( z==0 ) return -1;
  for(k=7; k>=0; k--) nHeader = (nHeader<<8) | (uint8_t)z[k];
  if( embStParse((const uint8_t*)z+8, nHeader, &h, &zErr) ){
    embFree(zErr);
    free(z);
    return -1;
  }
  for(i=0; i<h.nTensor; i++){
    if( strcmp(h.aTensor[i].zName, "embeddings")==0
     || strcmp(h.aTensor[i].zName, "embedding.weight")==0 ) t = &h.aTensor[i];
  }
  if( t==0 || t->nDim!=2 || (int)t->aShape[1]!=nDims ){
    embStClear(&h);
    free(z);
    return -1;
  }
  for(j=0; j<nDims; j++) aOut[j] = 0;
  for(i=0; i<nId; i++){
    const uint8_t *pRow;
    if( aId[i]==skip ) continue;
    pRow = (const uint8_t*)z + 8 + nHeader + t->iBegin
         + (size_t)aId[i]*(size_t)nDims*(size_t)embStDtypeSize(t->eType);
    for(j=0; j<nDims; j++){
      double x;
      if( t->eType==EMB_DT_F32 ){
        float f;
        memcpy(&f, pRow + 4*j, 4);
        x = f;
      }else if( t->eType==EMB_DT_F16 ){
        uint16_t u;
        memcpy(&u, pRow + 2*j, 2);
        x = embHalfToFloat(u);
      }else{
        x = (int8_t)pRow[j];
      }
      aOut[j] += x;
    }
  }
  for(j=0; j<nDims; j++) norm += aOut[j]*aOut[j];
  for(j=0; j<nDims && norm>0; j++) aOut[j] /= sqrt(norm);
  embStClear(&h);
  free(z);
  return 0;
}

/* The model2vec-rs fixtures against the Python library's vectors */
static void testModel2VecRs(const char *zShared, const char *zTestDir,
                            EmbTokens *pTok){
  static const struct { const char *zName; double tol; } aFix[] = {
    { "float32", 1e-5 }, { "sentence-transformers", 1e-5 },
    { "float16", 1e-3 }, { "int8", 2e-2 },
  };
  char zPath[4096];
  char *zLong = malloc(6000);
  double aWant[2][8];
  size_t k;
  int i, nWant[2];
  for(i=0; i<1000; i++) memcpy(zLong + 6*i, "hello ", 6);
  zLong[5999] = 0;                    /* "hello" x 1000, joined by spaces */
  snprintf(zPath, sizeof(zPath), "%s/models/model2vec-rs/embeddings_short.json",
           zShared);
  nWant[0] = readVector(zPath, aWant[0], 8);
  snprintf(zPath, sizeof(zPath), "%s/models/model2vec-rs/embeddings_long.json",
           zShared);
  nWant[1] = readVector(zPath, aWant[1], 8);
  if( nWant[0]<0 || nWant[1]<0 ){
    printf("model2vec-rs: cannot read embeddings_short/long.json\n");
    nFail++;
    free(zLong);
    return;
  }
  for(k=0; k<sizeof(aFix)/sizeof(aFix[0]); k++){
    EmbModel *p = 0;
    char *zErr = 0;
    int iText;
    snprintf(zPath, sizeof(zPath), "%s/m2v_rs_%s.emb", zTestDir, aFix[k].zName);
    if( embModelAcquire(zPath, &p, &zErr) ){
      printf("model2vec-rs: %s\n", zErr ? zErr : "out of memory");
      embFree(zErr);
      nFail++;
      continue;
    }
    for(iText=0; iText<2; iText++){
      const char *zText = iText ? zLong : "hello world";
      float aGot[8];
      double aAcc[8], aRaw[8], dMax = 0, dRaw = 0;
      int j;
      pTok->nId = 0;
      if( p->nDims!=nWant[iText] || p->nDims>8
       || embTokenize(p, zText, strlen(zText), pTok) ){
        printf("model2vec-rs %s: %d dims, golden %d\n", aFix[k].zName,
               p->nDims, nWant[iText]);
        nFail++;
        continue;
      }
      embPoolMean(p, pTok->aId, pTok->nId, p->nDims, aAcc, aGot);
      snprintf(zPath, sizeof(zPath), "%s/models/model2vec-rs/test-model-%s/"
               "model.safetensors", zShared, aFix[k].zName);
      if( rawMean(zPath, pTok->aId, pTok->nId, p->iSkipId, aRaw,
                  p->nDims) ){
        printf("model2vec-rs %s: cannot read %s\n", aFix[k].zName, zPath);
        nFail++;
        continue;
      }
      for(j=0; j<p->nDims; j++){
        if( fabs(aGot[j]-aWant[iText][j])>dMax ){
          dMax = fabs(aGot[j]-aWant[iText][j]);
        }
        if( fabs(aGot[j]-aRaw[j])>dRaw ) dRaw = fabs(aGot[j]-aRaw[j]);
      }
      if( dMax<=aFix[k].tol && dRaw<=1e-6 ){
        nPass++;
      }else{
        nFail++;
      }
      printf("model2vec-rs %-21s %-5s: %d tokens, off the Python library's "
             "vector by %.2g (allowed %g), off its rows' mean by %.2g%s\n",
             aFix[k].zName, iText ? "long" : "short", pTok->nId, dMax,
             aFix[k].tol, dRaw, (dMax<=aFix[k].tol && dRaw<=1e-6) ? ""
                                                                 : ": FAIL");
    }
    embModelRelease(p);
  }
  free(zLong);
}

/* The model2vec-rs vocabulary-quantized model against the Python
** library's vector for "hello" x 1000 */
static void testVocabQuantized(const char *zShared, const EmbModel *p,
                               EmbTokens *pTok){
  char zPath[4096];
  double aWant[256], aAcc[256], dMax = 0;
  float aGot[256];
  char *zLong = malloc(6000);
  int nWant, j;
  for(j=0; j<1000; j++) memcpy(zLong + 6*j, "hello ", 6);
  zLong[5999] = 0;
  snprintf(zPath, sizeof(zPath),
           "%s/models/model2vec-rs/embeddings_vocab_quantized.json", zShared);
  nWant = readVector(zPath, aWant, 256);
  pTok->nId = 0;
  if( nWant!=p->nDims || embTokenize(p, zLong, 5999, pTok) ){
    printf("model2vec-rs vocab-quantized: cannot read %s or its %d dims are "
           "not the model's %d\n", zPath, nWant, p->nDims);
    nFail++;
    free(zLong);
    return;
  }
  free(zLong);
  embPoolMean(p, pTok->aId, pTok->nId, p->nDims, aAcc, aGot);
  for(j=0; j<p->nDims; j++){
    if( fabs(aGot[j]-aWant[j])>dMax ) dMax = fabs(aGot[j]-aWant[j]);
  }
  if( dMax<=1e-5 ) nPass++; else nFail++;
  printf("model2vec-rs vocab-quantized long: %d tokens, off the Python "
         "library's vector by %.2g (allowed 1e-5)%s\n", pTok->nId, dMax,
         dMax<=1e-5 ? "" : ": FAIL");
}

int main(int argc, char **argv){
  const char *zTestDir = 0, *zDir = 0;
  char *zDirDefault = 0;
  const char *zEnv;
  EmbModel *apModel[N_MODEL];
  EmbTokens tok;
  size_t k;
  int i, nArg = 0;

  memset(apModel, 0, sizeof(apModel));
  if( argc==4 && strcmp(argv[1], "--check")==0 ){
    /* one golden file (any path) against one model */
    GoldenFile g;
    EmbModel *p = 0;
    char *zErr = 0;
    const char *zSlash = strrchr(argv[3], '/');
    char *zGoldDir = strdup(argv[3]);
    memset(&g, 0, sizeof(g));
    g.zName = zSlash ? zSlash+1 : argv[3];
    if( zSlash ) zGoldDir[zSlash-argv[3]] = 0; else strcpy(zGoldDir, ".");
    if( embModelAcquire(argv[2], &p, &zErr) ){
      printf("unit_golden: %s\n", zErr ? zErr : "out of memory");
      embFree(zErr);
      free(zGoldDir);
      printf("0 passed, 1 failed\n");
      return 1;
    }
    embTokensInit(&tok);
    runFile(zGoldDir, &g, p, &tok);
    embTokensFree(&tok);
    embModelRelease(p);
    free(zGoldDir);
    printf("%d passed, %d failed\n", nPass, nFail);
    return nFail>0;
  }
  for(i=1; i<argc; i++){
    if( strcmp(argv[i], "-v")==0 ){
      bVerbose = 1;
    }else if( nArg==0 ){
      zTestDir = argv[i];
      nArg++;
    }else if( nArg==1 ){
      zDir = argv[i];
      nArg++;
    }else{
      fprintf(stderr, "usage: %s [-v] [TEST_DIR [GOLDEN_DIR]]\n", argv[0]);
      return 2;
    }
  }
  if( zTestDir==0 ){
    zTestDir = getenv("EMBED_TEST_DIR");
    if( zTestDir==0 || zTestDir[0]==0 ) zTestDir = "build/test";
  }
  if( zDir==0 ){
    zEnv = getenv("SHARED");
    if( zEnv==0 || zEnv[0]==0 ) zEnv = "../shared";
    zDirDefault = malloc(strlen(zEnv) + 16);
    sprintf(zDirDefault, "%s/golden", zEnv);
    zDir = zDirDefault;
  }
  if( !fileExists(zDir) ){
    printf("unit_golden: skipped: ../shared absent (no %s)\n", zDir);
    printf("0 passed, 0 failed, 1 skipped\n");
    free(zDirDefault);
    return 0;
  }
  for(i=0; i<N_MODEL; i++){
    char *zErr = 0;
    char *zPath = malloc(strlen(zTestDir) + strlen(azModelFile[i]) + 2);
    sprintf(zPath, "%s/%s", zTestDir, azModelFile[i]);
    if( !fileExists(zPath) ){
      printf("unit_golden: model %s is missing (make builds it from "
             "../shared)\n", zPath);
      nFail++;
    }else if( embModelAcquire(zPath, &apModel[i], &zErr) ){
      printf("unit_golden: %s\n", zErr ? zErr : "out of memory");
      embFree(zErr);
      nFail++;
    }
    free(zPath);
  }

  embTokensInit(&tok);
  for(k=0; k<sizeof(aFile)/sizeof(aFile[0]); k++){
    const EmbModel *pModel = apModel[aFile[k].iModel];
    if( pModel==0 ) continue;
    runFile(zDir, &aFile[k], pModel, &tok);
  }
  zEnv = getenv("SHARED");
  testModel2VecRs(zEnv && zEnv[0] ? zEnv : "../shared", zTestDir, &tok);
  if( apModel[M_M2VQ] ){
    testVocabQuantized(zEnv && zEnv[0] ? zEnv : "../shared", apModel[M_M2VQ],
                       &tok);
  }
  /* The metaspace tokenizer cuts words before each \u2581 that follows
  ** another character when the model allows it (bpe.split); merging whole
  ** pieces instead (long words, the O(n log n) heap) must give the same
  ** ids. */
  if( apModel[M_L2] && apModel[M_L2]->bpe.bSplit ){
    apModel[M_L2]->bpe.bSplit = 0;
    printf("again with bpe.split off (whole pieces merged):\n");
    for(k=0; k<sizeof(aFile)/sizeof(aFile[0]); k++){
      if( aFile[k].iModel==M_L2 && !aFile[k].bEmbed ){
        runFile(zDir, &aFile[k], apModel[M_L2], &tok);
      }
    }
    apModel[M_L2]->bpe.bSplit = 1;
  }
  embTokensFree(&tok);
  for(i=0; i<N_MODEL; i++) embModelRelease(apModel[i]);
  free(zDirDefault);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail>0;
}
