/*
** unit_golden.c: the BPE tokenizers and embed()'s pooling against the
** golden files of Hugging Face's tokenizers (../shared/golden), case by
** case.
**
**     build/unit_golden [L2.emb L3.emb [GOLDEN_DIR]]
**     build/unit_golden -v ...        also list every mismatch
**
** L2.emb is the synthetic Llama-2 model (synthetic_l2_64.safetensors +
** wordllama_l2_supercat_tokenizer.json), L3.emb the synthetic Llama-3 one
** (synthetic_l3_16.safetensors + llama3_tokenizer.json), both made by
** embed-convert wordllama (the Makefile's build/test/l2.emb and l3.emb);
** this program converts nothing itself.  Without arguments it takes them
** from $EMBED_TEST_DIR and the goldens from $SHARED/golden (test/run.sh
** sets both).  When the files are missing it says so and skips.
**
** Token files (wordllama_l2_supercat_public*.jsonl with L2,
** llama3_public*.jsonl with L3): each line {"hex", "text", "ids"}; the
** input is the bytes of "hex", made valid UTF-8 by embUtf8Repair() as the
** extension does, and embTokenize() must give exactly "ids".
** Embedding files (synthetic64_embed_*.jsonl with L2,
** synthetic_l3_16_embed_public.jsonl with L3): also "unit", the
** L2-normalised mean of the rows, and "bits", its bquant(); embPoolMean()
** of our ids must be within 1e-6 of each component of "unit", and each bit
** of "bits" must be ours where the component is not within 1e-6 of zero.
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

#define MAX_SHOWN 5        /* mismatches printed per file (without -v) */
#define UNIT_TOL  1e-6

static int nPass = 0, nFail = 0;
static int bVerbose = 0;

/* Which model a golden file is for, and what it checks */
typedef struct GoldenFile GoldenFile;
struct GoldenFile {
  const char *zName;
  int iModel;              /* 0: L2, 1: L3 */
  int bEmbed;              /* has unit and bits */
};

static const GoldenFile aFile[] = {
  { "wordllama_l2_supercat_public.jsonl",        0, 0 },
  { "wordllama_l2_supercat_public_random.jsonl", 0, 0 },
  { "wordllama_l2_supercat_public_real.jsonl",   0, 0 },
  { "llama3_public.jsonl",                       1, 0 },
  { "llama3_public_random.jsonl",                1, 0 },
  { "llama3_public_real.jsonl",                  1, 0 },
  { "synthetic64_embed_public.jsonl",            0, 1 },
  { "synthetic64_embed_real.jsonl",              0, 1 },
  { "synthetic_l3_16_embed_public.jsonl",        1, 1 },
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
        if( fabs((double)aUnit[j] - want)>UNIT_TOL ){
          bOk = 0;
          snprintf(zWhy, sizeof(zWhy), "unit[%d] is %.9g, golden %.9g", j,
                   (double)aUnit[j], want);
          break;
        }
        sscanf(zBits + 2*(j/8), "%2x", &byte);
        bWant = (byte >> (j%8)) & 1;
        bGot = aUnit[j]>0.0f;
        if( fabs(want)>UNIT_TOL && bWant!=bGot ){
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

int main(int argc, char **argv){
  const char *azModel[2] = {0, 0};
  char *azDefault[3] = {0, 0, 0};
  const char *zDir = 0;
  const char *zEnv;
  EmbModel *apModel[2] = {0, 0};
  EmbTokens tok;
  size_t k;
  int i, nArg = 0;

  for(i=1; i<argc; i++){
    if( strcmp(argv[i], "-v")==0 ){
      bVerbose = 1;
    }else if( nArg<2 ){
      azModel[nArg++] = argv[i];
    }else if( nArg==2 ){
      zDir = argv[i];
      nArg++;
    }else{
      fprintf(stderr, "usage: %s [-v] [L2.emb L3.emb [GOLDEN_DIR]]\n", argv[0]);
      return 2;
    }
  }
  if( nArg==1 ){
    fprintf(stderr, "usage: %s [-v] [L2.emb L3.emb [GOLDEN_DIR]]\n", argv[0]);
    return 2;
  }
  if( nArg==0 ){
    zEnv = getenv("EMBED_TEST_DIR");
    if( zEnv==0 || zEnv[0]==0 ) zEnv = "build/test";
    azDefault[0] = malloc(strlen(zEnv) + 16);
    azDefault[1] = malloc(strlen(zEnv) + 16);
    sprintf(azDefault[0], "%s/l2.emb", zEnv);
    sprintf(azDefault[1], "%s/l3.emb", zEnv);
    azModel[0] = azDefault[0];
    azModel[1] = azDefault[1];
  }
  if( zDir==0 ){
    zEnv = getenv("SHARED");
    if( zEnv==0 || zEnv[0]==0 ) zEnv = "../shared";
    azDefault[2] = malloc(strlen(zEnv) + 16);
    sprintf(azDefault[2], "%s/golden", zEnv);
    zDir = azDefault[2];
  }
  if( !fileExists(zDir) ){
    printf("unit_golden: skipped: ../shared absent (no %s)\n", zDir);
    printf("0 passed, 0 failed, 1 skipped\n");
    for(k=0; k<3; k++) free(azDefault[k]);
    return 0;
  }
  for(i=0; i<2; i++){
    char *zErr = 0;
    if( !fileExists(azModel[i]) ){
      printf("unit_golden: model %s is missing (make builds it from "
             "../shared)\n", azModel[i]);
      nFail++;
      continue;
    }
    if( embModelAcquire(azModel[i], &apModel[i], &zErr) ){
      printf("unit_golden: %s\n", zErr ? zErr : "out of memory");
      embFree(zErr);
      nFail++;
    }
  }

  embTokensInit(&tok);
  for(k=0; k<sizeof(aFile)/sizeof(aFile[0]); k++){
    const EmbModel *pModel = apModel[aFile[k].iModel];
    if( pModel==0 ) continue;
    runFile(zDir, &aFile[k], pModel, &tok);
  }
  /* The metaspace tokenizer cuts words before each ▁ that follows another
  ** character when the model allows it (bpe.split); merging whole pieces
  ** instead (long words, the O(n log n) heap) must give the same ids. */
  if( apModel[0] && apModel[0]->bpe.bSplit ){
    apModel[0]->bpe.bSplit = 0;
    printf("again with bpe.split off (whole pieces merged):\n");
    for(k=0; k<sizeof(aFile)/sizeof(aFile[0]); k++){
      if( aFile[k].iModel==0 && !aFile[k].bEmbed ){
        runFile(zDir, &aFile[k], apModel[0], &tok);
      }
    }
    apModel[0]->bpe.bSplit = 1;
  }
  embTokensFree(&tok);
  for(i=0; i<2; i++) embModelRelease(apModel[i]);
  for(k=0; k<3; k++) free(azDefault[k]);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail>0;
}
