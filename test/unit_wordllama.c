/*
** unit_wordllama.c: unit tests of "embed-convert wordllama" (ext/convert/
** wordllama.c) and of the two BPE tokenizers on tiny hand-made models --
** no ../shared needed.
**
**     build/unit_wordllama        prints failures and "N passed, N failed"
**     build/unit_wordllama -v     also prints every error message checked
**
** HOW IT WORKS
** Each test writes a tokenizer.json and a safetensors file into a fresh
** temporary folder, converts them with embWordllama() and opens the result
** with the loader.
**   Metaspace (Llama-2 style): vocabulary <unk> <s> </s> ▁ a b c ▁a ab ▁ab
**   bc ▁c <0x21> (ids 0-12), merges ranked "a b", "▁ a", "▁a b", "b c",
**   "▁ c"; byte fallback, fused unknown tokens.  So "abc" is ▁ a b c ->
**   ▁ ab c (a b ranks first; no "▁ ab" merge) = [3,8,6], not ▁ab c.
**   Byte-level (Llama-3 style): the 256 byte characters (ids = bytes), then
**   Ġt he Ġthe 12 ab (256-260), added tokens <|x|> (261) and <|xy|> (262);
**   ignore_merges.
** Every expected id list was worked out by hand from those tables and
** agrees with Hugging Face's tokenizers@0.23.2 on the same files (checked
** once when the test was written; the quirks it shows are noted inline).
** Weights: F16 rows are copied bit for bit; F32 and BF16 rows are rounded
** to F16 (nearest even; the expected bits are worked out by hand); --dims
** keeps the first columns.  Then every class of refused input, each with
** the text its message must have.
*/
#include "model.h"
#include "format.h"
#include "tokenizer.h"
#include "unicode.h"
#include "alloc.h"
#include "convert/convert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int nPass = 0, nFail = 0;
static int bVerbose = 0;
static char zDir[64];

#define CHECK(cond, ...) do{                                        \
  if( cond ){ nPass++; }else{                                       \
    nFail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    printf(__VA_ARGS__); printf("\n");                              \
  }                                                                 \
}while(0)

#define NN(z) ((z) ? (z) : "(null)")
#define M "\xE2\x96\x81"        /* ▁ */

/* A growing string */
typedef struct Str Str;
struct Str { char *z; size_t n, nAlloc; };

static void strAdd(Str *s, const char *zFmt, ...)
  __attribute__((format(printf, 2, 3)));
static void strAdd(Str *s, const char *zFmt, ...){
  va_list ap;
  int n;
  va_start(ap, zFmt);
  n = vsnprintf(0, 0, zFmt, ap);
  va_end(ap);
  if( s->n + (size_t)n + 1 > s->nAlloc ){
    s->nAlloc = (s->n + (size_t)n + 1)*2;
    s->z = realloc(s->z, s->nAlloc);
    if( s->z==0 ){ printf("out of memory\n"); exit(1); }
  }
  va_start(ap, zFmt);
  vsnprintf(s->z + s->n, (size_t)n + 1, zFmt, ap);
  va_end(ap);
  s->n += (size_t)n;
}

static char *path(const char *zName){
  static char zBuf[4][128];
  static int i = 0;
  i = (i+1) % 4;
  snprintf(zBuf[i], sizeof(zBuf[i]), "%s/%s", zDir, zName);
  return zBuf[i];
}

static void writeFile(const char *zName, const void *a, size_t n){
  FILE *f = fopen(path(zName), "wb");
  if( f==0 || fwrite(a, 1, n, f)!=n ){ printf("cannot write %s\n", zName); exit(1); }
  fclose(f);
}

/* A safetensors file zName holding tensor zTensor of dtype zType, shape
** [nRow, nCol], data a[0..nData). */
static void writeWeights(const char *zName, const char *zTensor,
                         const char *zType, int nRow, int nCol,
                         const void *a, size_t nData){
  Str h = {0};
  uint8_t aLen[8];
  uint8_t *aFile;
  size_t nHdr;
  int k;
  strAdd(&h, "{\"__metadata__\":{\"format\":\"pt\"},\"%s\":{\"dtype\":\"%s\","
         "\"shape\":[%d,%d],\"data_offsets\":[0,%zu]}}", zTensor, zType, nRow,
         nCol, nData);
  while( h.n % 8 ) strAdd(&h, " ");
  nHdr = h.n;
  for(k=0; k<8; k++) aLen[k] = (uint8_t)((uint64_t)nHdr >> (8*k));
  aFile = malloc(8 + nHdr + nData);
  memcpy(aFile, aLen, 8);
  memcpy(aFile+8, h.z, nHdr);
  memcpy(aFile+8+nHdr, a, nData);
  writeFile(zName, aFile, 8 + nHdr + nData);
  free(aFile);
  free(h.z);
}

/* ---------------------------------------------------------------------
** The tiny tokenizers, with parts that a test may replace.
*/
typedef struct Parts Parts;
struct Parts {
  const char *zTop;        /* extra top-level members, each ending in ',' */
  const char *zNorm;       /* the normalizer */
  const char *zPre;        /* the pre_tokenizer */
  const char *zType;       /* model.type */
  const char *zModelExtra; /* extra model members, each ending in ',' */
  const char *zVocabExtra; /* extra vocabulary entries, each ending in ',' */
  const char *zMergeExtra; /* extra merges, each starting with ',' */
  const char *zAddedFlags; /* the flags of the first added token */
};

#define META_NORM "{\"type\":\"Sequence\",\"normalizers\":[" \
  "{\"type\":\"Prepend\",\"prepend\":\"" M "\"}," \
  "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" M "\"}]}"

#define L3_REGEX "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?" \
  "\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|" \
  "\\\\s+(?!\\\\S)|\\\\s+"
#define L3_PRE "{\"type\":\"Sequence\",\"pretokenizers\":[" \
  "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"" L3_REGEX "\"}," \
  "\"behavior\":\"Isolated\",\"invert\":false}," \
  "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true," \
  "\"use_regex\":false}]}"

#define FLAGS_OFF "\"single_word\":false,\"lstrip\":false,\"rstrip\":false," \
  "\"normalized\":false"

static void defaultParts(Parts *p, int bByteLevel){
  memset(p, 0, sizeof(*p));
  p->zTop = "";
  p->zNorm = bByteLevel ? "null" : META_NORM;
  p->zPre = bByteLevel ? L3_PRE : "null";
  p->zType = "BPE";
  p->zModelExtra = "";
  p->zVocabExtra = "";
  p->zMergeExtra = "";
  p->zAddedFlags = FLAGS_OFF;
}

/* The metaspace tokenizer.json, as described at the top. */
static void metaJson(Str *s, const Parts *p){
  strAdd(s, "{\"version\":\"1.0\",%s\"truncation\":null,\"padding\":null,"
         "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",%s,\"special\":true},"
         "{\"id\":1,\"content\":\"<s>\"," FLAGS_OFF ",\"special\":true},"
         "{\"id\":2,\"content\":\"</s>\"," FLAGS_OFF ",\"special\":true}],"
         "\"normalizer\":%s,\"pre_tokenizer\":%s,\"post_processor\":null,"
         "\"decoder\":null,\"model\":{\"type\":\"%s\",%s"
         "\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"byte_fallback\":true,"
         "\"vocab\":{%s\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"" M "\":3,\"a\":4,"
         "\"b\":5,\"c\":6,\"" M "a\":7,\"ab\":8,\"" M "ab\":9,\"bc\":10,"
         "\"" M "c\":11,\"<0x21>\":12},"
         "\"merges\":[\"a b\",\"" M " a\",\"" M "a b\",\"b c\",\"" M " c\"%s]}}",
         p->zTop, p->zAddedFlags, p->zNorm, p->zPre, p->zType, p->zModelExtra,
         p->zVocabExtra, p->zMergeExtra);
}

/* The byte-level tokenizer.json, as described at the top. */
static void byteJson(Str *s, const Parts *p){
  int b;
  strAdd(s, "{\"version\":\"1.0\",%s\"truncation\":null,\"padding\":null,"
         "\"added_tokens\":[{\"id\":261,\"content\":\"<|x|>\",%s,"
         "\"special\":true},{\"id\":262,\"content\":\"<|xy|>\"," FLAGS_OFF
         ",\"special\":false}],\"normalizer\":%s,\"pre_tokenizer\":%s,"
         "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"%s\","
         "%s\"unk_token\":null,\"ignore_merges\":true,\"vocab\":{%s",
         p->zTop, p->zAddedFlags, p->zNorm, p->zPre, p->zType, p->zModelExtra,
         p->zVocabExtra);
  for(b=0; b<256; b++){
    uint8_t z[4];
    size_t n = embUtf8Put(embByteLevelChar((uint8_t)b), z);
    strAdd(s, "\"%s%.*s\":%d,", (b=='"' || b=='\\') ? "\\" : "", (int)n,
           (const char*)z, b);
  }
  strAdd(s, "\"\xC4\xA0t\":256,\"he\":257,\"\xC4\xA0the\":258,\"12\":259,"
         "\"ab\":260},\"merges\":[\"\xC4\xA0 t\",\"h e\",\"\xC4\xA0t he\","
         "\"1 2\",\"a b\"%s]}}", p->zMergeExtra);
}

/* Rows of the tiny models: F16 bits 0x3C00 + 16*i + j (distinct values) */
static uint16_t *f16Rows(int nRow, int nCol){
  uint16_t *a = malloc(sizeof(uint16_t)*(size_t)(nRow*nCol));
  int i, j;
  for(i=0; i<nRow; i++){
    for(j=0; j<nCol; j++) a[i*nCol+j] = (uint16_t)(0x3C00 + 16*i + j);
  }
  return a;
}

/*
** Convert tokenizer text zJson with weights zWeights (a file in zDir) and
** --dims nDims.  Returns the opened model (the caller frees it) or NULL;
** sets *pzErr to the converter's message on failure (caller frees).
*/
static EmbModel *convert(const char *zJson, const char *zWeights, int nDims,
                         char **pzErr){
  EmbWordllamaOptions opt;
  EmbConvertStats stats;
  EmbModel *p = 0;
  char *zErr = 0;
  opt.nDims = nDims;
  memset(&stats, 0, sizeof(stats));
  *pzErr = 0;
  writeFile("tokenizer.json", zJson, strlen(zJson));
  unlink(path("out.emb"));
  if( embWordllama(path(zWeights), path("tokenizer.json"), path("out.emb"),
                   &opt, 0, 0, &stats, pzErr) ){
    if( *pzErr==0 ) *pzErr = strdup("(out of memory)");
    return 0;
  }
  if( embModelAcquire(path("out.emb"), &p, &zErr) ){
    CHECK(0, "the converted model does not open: %s", NN(zErr));
    embFree(zErr);
    return 0;
  }
  return p;
}

/* Tokenize z with p and compare with the ids given (terminated by -1). */
static void expectIds(const EmbModel *p, const char *z, ...){
  EmbTokens t;
  va_list ap;
  int aWant[64], nWant = 0, id, ok;
  va_start(ap, z);
  while( (id = va_arg(ap, int))>=0 && nWant<64 ) aWant[nWant++] = id;
  va_end(ap);
  embTokensInit(&t);
  ok = embTokenize(p, z, strlen(z), &t)==0 && t.nId==nWant
       && (nWant==0 || memcmp(t.aId, aWant, sizeof(int)*(size_t)nWant)==0);
  if( ok ){
    nPass++;
  }else{
    int i;
    nFail++;
    printf("FAIL: tokens of \"%s\":", z);
    for(i=0; i<t.nId; i++) printf(" %d", t.aId[i]);
    printf(" (want");
    for(i=0; i<nWant; i++) printf(" %d", aWant[i]);
    printf(")\n");
  }
  embTokensFree(&t);
}

/* Expect converting zJson (or the default when NULL) with weights zWeights
** to fail with a message that has zWant. */
static void expectRefused(const char *zCase, const char *zJson,
                          const char *zWeights, int nDims, const char *zWant){
  char *zErr = 0;
  EmbModel *p = convert(zJson, zWeights, nDims, &zErr);
  CHECK(p==0 && zErr && strstr(zErr, zWant), "%s: converted, or message "
        "\"%s\" lacks \"%s\"", zCase, NN(zErr), zWant);
  if( bVerbose ) printf("  %-28s %s\n", zCase, NN(zErr));
  CHECK(access(path("out.emb"), F_OK)!=0, "%s: out.emb left behind", zCase);
  embModelRelease(p);
  free(zErr);
}

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rngState = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void){
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return rngState * 2685821657736338717ull;
}

/*
** Corrupt the converted model out.emb nIter times (1 to 8 random bytes
** anywhere, or a random U32 in a table set to an extreme) and, whenever the
** loader still opens it, tokenize texts that reach every path: no crash
** (under ASan: no bad access), no id outside the vocabulary.
*/
static void corruptRuns(const char *zKind, int nIter){
  static const char *azText[] = {
    "abc", "a b  c", "<s>a</s>", "x!y \xE2\x96\x81", " the<|x|>the", "12345",
    "\xC3\xA9\xF0\x9F\x98\x80 it's 'LL \r\n\n  z", "<|xy|><|x|><unk>",
  };
  FILE *f = fopen(path("out.emb"), "rb");
  uint8_t *aGood, *a;
  long n;
  int it, nOpen = 0, nBad = 0;
  EmbTokens t;
  if( f==0 ){ CHECK(0, "%s: no out.emb", zKind); return; }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  aGood = malloc((size_t)n);
  if( fread(aGood, 1, (size_t)n, f)!=(size_t)n ){ fclose(f); free(aGood); return; }
  fclose(f);
  embTokensInit(&t);
  for(it=0; it<nIter; it++){
    EmbModel *p = 0;
    char *zErr = 0;
    int k, nEdit = 1 + (int)(rng() % 8);
    a = malloc((size_t)n);
    memcpy(a, aGood, (size_t)n);
    for(k=0; k<nEdit; k++){
      /* three edits in four in the tables, after the header */
      uint64_t iData = 8 + (aGood[0] | ((uint64_t)aGood[1]<<8));
      size_t at = (size_t)(rng() % 4 ? iData + rng() % ((uint64_t)n - iData)
                                     : rng() % (uint64_t)n);
      if( rng() % 4==0 ){
        static const uint32_t aExtreme[] = { 0, 1, 0xFFFFFFFF, 0x7FFFFFFF,
                                             0x80000000, 263, 262 };
        uint32_t v = aExtreme[rng() % 7];
        at &= ~(size_t)3;
        if( at+4<=(size_t)n ) memcpy(a+at, &v, 4);
      }else{
        a[at] = (uint8_t)rng();
      }
    }
    if( embModelOpenBuffer(a, (uint64_t)n, "corrupt.emb", &p, &zErr)==0 ){
      size_t j;
      nOpen++;
      for(j=0; j<sizeof(azText)/sizeof(azText[0]); j++){
        int i;
        t.nId = 0;
        if( embTokenize(p, azText[j], strlen(azText[j]), &t) ) continue;
        for(i=0; i<t.nId; i++){
          if( t.aId[i]<0 || t.aId[i]>=p->nVocab ) nBad++;
        }
      }
      embModelFree(p);
    }else{
      CHECK(zErr!=0, "%s: refused without a message", zKind);
    }
    embFree(zErr);
    free(a);
  }
  CHECK(nBad==0, "%s: %d ids outside the vocabulary", zKind, nBad);
  CHECK(nOpen>nIter/4, "%s: only %d of %d corrupt copies opened (the test "
        "must reach the tokenizer)", zKind, nOpen, nIter);
  embTokensFree(&t);
  free(aGood);
}

static void testMetaspace(void){
  Parts parts;
  Str s = {0};
  uint16_t *a = f16Rows(13, 4);
  EmbModel *p;
  char *zErr = 0;
  writeWeights("w13.safetensors", EMB_T_MATRIX, "F16", 13, 4, a, 13*4*2);
  defaultParts(&parts, 0);
  metaJson(&s, &parts);
  p = convert(s.z, "w13.safetensors", 0, &zErr);
  CHECK(p!=0, "metaspace: %s", NN(zErr));
  free(zErr);
  if( p ){
    CHECK(p->eTokenizer==EMB_TOK_METASPACE && p->nVocab==13 && p->nDims==4
          && p->eMatrixType==EMB_DT_F16 && p->bpe.bSplit==1
          && p->bpe.iUnk==0 && p->bpe.iMeta==3 && p->bpe.bFuseUnk
          && p->bpe.bByteFallback && !p->bpe.bIgnoreMerges,
          "metaspace settings");
    CHECK(strcmp(p->zSource, "wordllama")==0
          && strcmp(p->zTokenizer, "bpe-metaspace")==0, "metaspace metadata");
    CHECK(memcmp(p->aMatrix, a, 13*4*2)==0, "F16 rows copied bit for bit");
    expectIds(p, "abc", 3, 8, 6, -1);         /* ▁ ab c, not ▁ab c */
    expectIds(p, "a", 7, -1);
    expectIds(p, "ca", 11, 4, -1);
    expectIds(p, "a b", 7, 3, 5, -1);         /* ▁a ▁ b: no "▁ b" merge */
    expectIds(p, "ab c", 3, 8, 11, -1);
    expectIds(p, "  a", 3, 3, 7, -1);
    expectIds(p, "!", 3, 12, -1);             /* byte fallback <0x21> */
    expectIds(p, "xy", 3, 0, -1);             /* unknown, fused */
    /* Hugging Face's order: a pending unknown token comes after the byte
    ** tokens met before the next known character; fused across them */
    expectIds(p, "x!y", 3, 12, 0, -1);
    expectIds(p, "xx!xx", 3, 12, 0, -1);
    expectIds(p, "<s>a", 1, 7, -1);           /* each piece gets its ▁ */
    expectIds(p, "a</s>", 7, 2, -1);
    expectIds(p, "<unk><unk>", 0, 0, -1);
    expectIds(p, "", -1);
    embModelRelease(p);
    corruptRuns("metaspace", 3000);
  }
  /* --dims keeps the first columns */
  free(s.z);
  memset(&s, 0, sizeof(s));
  metaJson(&s, &parts);
  p = convert(s.z, "w13.safetensors", 2, &zErr);
  CHECK(p && p->nDims==2, "--dims 2: %s", NN(zErr));
  free(zErr);
  if( p ){
    uint16_t aGot[4];
    memcpy(aGot, p->aMatrix + 4*5, 8);            /* rows 5 and 6 */
    CHECK(aGot[0]==a[5*4] && aGot[1]==a[5*4+1] && aGot[2]==a[6*4]
          && aGot[3]==a[6*4+1], "--dims 2 rows");
    embModelRelease(p);
  }
  free(s.z);
  free(a);
}

static void testByteLevel(void){
  Parts parts;
  Str s = {0};
  uint16_t *a = f16Rows(263, 4);
  EmbModel *p;
  char *zErr = 0;
  writeWeights("w263.safetensors", EMB_T_MATRIX, "F16", 263, 4, a, 263*4*2);
  defaultParts(&parts, 1);
  byteJson(&s, &parts);
  p = convert(s.z, "w263.safetensors", 0, &zErr);
  CHECK(p!=0, "bytelevel: %s", NN(zErr));
  free(zErr);
  if( p ){
    CHECK(p->eTokenizer==EMB_TOK_BYTELEVEL && p->nVocab==263
          && p->bpe.iUnk==-1 && p->bpe.bIgnoreMerges
          && p->added.nLen==2, "bytelevel settings");
    expectIds(p, " the", 258, -1);            /* Ġt he -> Ġthe */
    expectIds(p, "the", 116, 257, -1);        /* t he */
    expectIds(p, "12345", 259, 51, 52, 53, -1); /* 123 | 45 */
    expectIds(p, " the<|x|>the", 258, 261, 116, 257, -1);
    expectIds(p, "<|xy|><|x|>", 262, 261, -1);  /* the longest first */
    expectIds(p, "a<|xy|b", 97, 60, 124, 120, 121, 124, 98, -1);
    expectIds(p, "ab", 260, -1);
    expectIds(p, "\xC3\xA9", 0xC3, 0xA9, -1);
    embModelRelease(p);
    corruptRuns("bytelevel", 3000);
  }
  free(s.z);
  free(a);
}

/* F32 and BF16 weights are rounded to F16, to nearest even. */
static void testDtypes(void){
  static const float aF32[13*4] = {
    1.0f/3, 1.0f + 1.0f/2048, 1.0f + 3.0f/2048, 1.0f/16777216,
    1.0f/33554432, 3.0f/33554432, 65504.0f, -0.75f,
  };
  static const uint16_t aWant[8] = {
    0x3555, 0x3C00, 0x3C02, 0x0001, 0x0000, 0x0002, 0x7BFF, 0xBA00,
  };
  uint16_t aBf16[13*4];
  float aBig[13*4];
  Parts parts;
  Str s = {0};
  EmbModel *p;
  char *zErr = 0;
  int i;

  defaultParts(&parts, 0);
  metaJson(&s, &parts);
  writeWeights("f32.safetensors", EMB_T_MATRIX, "F32", 13, 4, aF32,
               sizeof(aF32));
  p = convert(s.z, "f32.safetensors", 0, &zErr);
  CHECK(p && p->eMatrixType==EMB_DT_F16, "F32 weights: %s", NN(zErr));
  free(zErr);
  if( p ){
    uint16_t aGot[8];
    memcpy(aGot, p->aMatrix, sizeof(aGot));
    for(i=0; i<8; i++){
      CHECK(aGot[i]==aWant[i], "F32 %.9g -> F16 0x%04x, want 0x%04x",
            (double)aF32[i], aGot[i], aWant[i]);
    }
    embModelRelease(p);
  }

  memset(aBf16, 0, sizeof(aBf16));
  aBf16[0] = 0x3F80;     /* 1.0 */
  aBf16[1] = 0xBF40;     /* -0.75 */
  aBf16[2] = 0x3EAB;     /* 0.333984375 -> F16 0x3558 */
  writeWeights("bf16.safetensors", EMB_T_MATRIX, "BF16", 13, 4, aBf16,
               sizeof(aBf16));
  p = convert(s.z, "bf16.safetensors", 0, &zErr);
  CHECK(p!=0, "BF16 weights: %s", NN(zErr));
  free(zErr);
  if( p ){
    uint16_t aGot[3];
    memcpy(aGot, p->aMatrix, sizeof(aGot));
    CHECK(aGot[0]==0x3C00 && aGot[1]==0xBA00 && aGot[2]==0x3558,
          "BF16 -> F16: %04x %04x %04x", aGot[0], aGot[1], aGot[2]);
    embModelRelease(p);
  }

  memcpy(aBig, aF32, sizeof(aBig));
  aBig[4*7+2] = 65520.0f;        /* rounds to infinity in F16 */
  writeWeights("big.safetensors", EMB_T_MATRIX, "F32", 13, 4, aBig,
               sizeof(aBig));
  expectRefused("F32 beyond F16", s.z, "big.safetensors", 0,
                "row 7 column 2 holds 65520, which F16 cannot hold");
  free(s.z);
}

/* Every kind of input that is refused, with what its message says. */
static void testRefused(void){
  static const struct {
    int bByteLevel;
    int iPart;               /* which Parts field zValue replaces */
    const char *zValue;
    const char *zWant;
  } aCase[] = {
    { 0, 3, "WordPiece", "unsupported tokenizer feature: model type 'WordPiece'" },
    { 0, 3, "Unigram", "model type 'Unigram' (only BPE)" },
    { 0, 4, "\"dropout\":0.1,", "unsupported tokenizer feature: BPE dropout" },
    { 0, 4, "\"continuing_subword_prefix\":\"##\",",
            "unsupported tokenizer feature: continuing_subword_prefix '##'" },
    { 0, 4, "\"end_of_word_suffix\":\"</w>\",",
            "unsupported tokenizer feature: end_of_word_suffix '</w>'" },
    { 0, 1, "{\"type\":\"NFC\"}",
            "unsupported tokenizer feature: normalizer type 'NFC'" },
    { 0, 1, "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Lowercase\"}]}",
            "normalizer type 'Lowercase'" },
    { 0, 1, "{\"type\":\"Prepend\",\"prepend\":\"" M "\"}",
            "a normalizer with Prepend but not Replace" },
    { 0, 1, "null", "no normalizer and no pre_tokenizer" },
    { 0, 2, "{\"type\":\"Metaspace\",\"replacement\":\"" M "\"}",
            "pre_tokenizer type 'Metaspace'" },
    { 0, 2, "{\"type\":\"Whitespace\"}", "pre_tokenizer type 'Whitespace'" },
    { 0, 0, "\"truncation\":{\"max_length\":8},",
            "unsupported tokenizer feature: truncation" },
    { 0, 7, "\"single_word\":false,\"lstrip\":true,\"rstrip\":false,"
            "\"normalized\":false",
            "unsupported tokenizer feature: added token '<unk>' has lstrip=true" },
    { 0, 7, "\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
            "\"normalized\":true", "has normalized=true" },
    { 0, 6, ",\"a q\"", "model.merges[5] (\"a\" + \"q\"): 'q' is not in model.vocab" },
    { 0, 6, ",\"c c\"", "'cc' is not in model.vocab" },
    { 0, 6, ",\"abc\"", "not two tokens separated by one space" },
    { 0, 5, "\"zz\":44,", "ids must be 0 to 13, each once" },
    { 0, 5, "\"zz\":12,", "both have id 12" },
    { 1, 2, "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
            "\"use_regex\":true}",
            "pre_tokenizer type 'ByteLevel' without the Llama-3 Split" },
    { 1, 2, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
            "\"pattern\":{\"Regex\":\"\\\\s+\"},\"behavior\":\"Isolated\","
            "\"invert\":false},{\"type\":\"ByteLevel\"}]}",
            "Split with a pattern other than the Llama-3 regex: '\\s+'" },
    { 1, 2, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
            "\"pattern\":{\"Regex\":\"" L3_REGEX "\"},\"behavior\":\"Isolated\","
            "\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
            "false,\"use_regex\":true}]}", "ByteLevel with use_regex=true" },
    { 1, 2, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
            "\"pattern\":{\"Regex\":\"" L3_REGEX "\"},\"behavior\":\"Removed\","
            "\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":"
            "false,\"use_regex\":false}]}", "Split behavior 'Removed'" },
    { 1, 1, META_NORM, "the metaspace normalizer with a pre_tokenizer" },
  };
  size_t k;
  for(k=0; k<sizeof(aCase)/sizeof(aCase[0]); k++){
    Parts parts;
    Str s = {0};
    char zCase[32];
    defaultParts(&parts, aCase[k].bByteLevel);
    switch( aCase[k].iPart ){
      case 0: parts.zTop = aCase[k].zValue; break;
      case 1: parts.zNorm = aCase[k].zValue; break;
      case 2: parts.zPre = aCase[k].zValue; break;
      case 3: parts.zType = aCase[k].zValue; break;
      case 4: parts.zModelExtra = aCase[k].zValue; break;
      case 5: parts.zVocabExtra = aCase[k].zValue; break;
      case 6: parts.zMergeExtra = aCase[k].zValue; break;
      case 7: parts.zAddedFlags = aCase[k].zValue; break;
    }
    if( aCase[k].bByteLevel ) byteJson(&s, &parts); else metaJson(&s, &parts);
    snprintf(zCase, sizeof(zCase), "refused case %d", (int)k);
    expectRefused(zCase, s.z, aCase[k].bByteLevel ? "w263.safetensors"
                                                  : "w13.safetensors",
                  0, aCase[k].zWant);
    free(s.z);
  }

  /* The weights file */
  {
    Parts parts;
    Str s = {0};
    uint16_t *a = f16Rows(14, 4);
    uint8_t aU8[13*4];
    defaultParts(&parts, 0);
    metaJson(&s, &parts);
    writeWeights("other.safetensors", "other.weight", "F16", 13, 4, a, 13*4*2);
    expectRefused("no embedding.weight", s.z, "other.safetensors", 0,
                  "no tensor 'embedding.weight' (it has 'other.weight')");
    writeWeights("w14.safetensors", EMB_T_MATRIX, "F16", 14, 4, a, 14*4*2);
    expectRefused("rows != tokens", s.z, "w14.safetensors", 0,
                  "has shape [14, 4], but the tokenizer");
    expectRefused("rows != tokens (2)", s.z, "w14.safetensors", 0,
                  "has 13 tokens (13 in model.vocab, 0 more added): the rows "
                  "must match the tokens");
    memset(aU8, 0, sizeof(aU8));
    writeWeights("u8.safetensors", EMB_T_MATRIX, "U8", 13, 4, aU8, 13*4);
    expectRefused("U8 weights", s.z, "u8.safetensors", 0,
                  "has dtype U8; it must be F16, F32 or BF16");
    expectRefused("--dims too many", s.z, "w13.safetensors", 5,
                  "--dims 5 is more than the 4 dims");
    expectRefused("weights missing", s.z, "none.safetensors", 0,
                  "none.safetensors': cannot open");
    writeFile("junk.safetensors", "not a safetensors file at all", 29);
    expectRefused("weights junk", s.z, "junk.safetensors", 0,
                  "not a safetensors file");
    expectRefused("not JSON", "{\"model\": [1, 2", "w13.safetensors", 0,
                  "tokenizer.json': not valid JSON");
    expectRefused("no model", "{\"version\":\"1.0\"}", "w13.safetensors", 0,
                  "no \"model\" object");
    /* the loader-side check of the same: a byte-level model's rows */
    free(s.z);
    memset(&s, 0, sizeof(s));
    defaultParts(&parts, 1);
    byteJson(&s, &parts);
    expectRefused("byte-level rows", s.z, "w13.safetensors", 0,
                  "has 263 tokens (261 in model.vocab, 2 more added)");
    free(s.z);
    free(a);
  }
}

int main(int argc, char **argv){
  int i;
  for(i=1; i<argc; i++){
    if( strcmp(argv[i], "-v")==0 ) bVerbose = 1;
  }
  snprintf(zDir, sizeof(zDir), "/tmp/unit_wordllama.XXXXXX");
  if( mkdtemp(zDir)==0 ){ printf("cannot make a temporary folder\n"); return 1; }
  testMetaspace();
  testByteLevel();
  testDtypes();
  testRefused();
  {
    static const char *azFile[] = {
      "tokenizer.json", "out.emb", "w13.safetensors", "w263.safetensors",
      "f32.safetensors", "bf16.safetensors", "big.safetensors",
      "other.safetensors", "w14.safetensors", "u8.safetensors",
      "junk.safetensors",
    };
    size_t k;
    for(k=0; k<sizeof(azFile)/sizeof(azFile[0]); k++) unlink(path(azFile[k]));
    rmdir(zDir);
  }
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail>0;
}
