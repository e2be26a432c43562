/*
** unit_unigram.c: the Unigram tokenizer on hostile model files and
** hostile text.
**
**     build/unit_unigram [TEST_DIR]
**
** Starts from TEST_DIR/m2v_vocabq.emb (model2vec-rs's vocabulary-quantized
** model, made by the Makefile from ../shared; skipped without it) and, in
** a copy in memory, corrupts one table at a time: the trie (garbage, bases
** that reach past its end, ids past the vocabulary), the scores (NaN, infinities), the byte table, the
** pre-tokenizer program (each malformed kind must be refused at open, by
** name).  Whatever opens must tokenize every test text into ids inside the
** vocabulary.  Then long and degenerate texts through the real model:
** a megabyte of one letter, of spaces, of U+2581, of unknown characters,
** of random code points: ids in range, and one character with no piece
** (fused unknowns) the same token at any length; the same texts through
** the T5 and NMT models (Precompiled normalizers) when they are built.  The last line is
** "N passed, N failed".
*/
#include "model.h"
#include "format.h"
#include "tokenizer.h"
#include "tokenizer/pretok.h"
#include "unicode.h"
#include "alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int nPass = 0, nFail = 0;

#define CHECK(x, msg) do{ if( x ){ nPass++; }else{ nFail++; \
  printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #x, msg); } }while(0)

static const char *azText[] = {
  "", " ", "hello world", "Hello, World! 123", "\xE2\x96\x81\xE2\x96\x81x",
  "\xF0\x90\x8C\xB0\xF0\x90\x8C\xB1 \xE6\x9D\xB1\xE4\xBA\xAC",
  "[UNK] [PAD]x[UNK]", "a\tb\nc\r d", "\xC3\xA9t\xC3\xA9 caf\xC3\xA9",
};

/* Tokenize every test text: 1 when all ids are in range */
static int tokensOk(const EmbModel *p){
  EmbTokens t;
  size_t k;
  int i, ok = 1;
  embTokensInit(&t);
  for(k=0; k<sizeof(azText)/sizeof(azText[0]); k++){
    t.nId = 0;
    if( embTokenize(p, azText[k], strlen(azText[k]), &t) ){ ok = 0; break; }
    for(i=0; i<t.nId; i++) if( t.aId[i]<0 || t.aId[i]>=p->nVocab ) ok = 0;
  }
  embTokensFree(&t);
  return ok;
}

/* A copy of the file a[0..n) with tensor zName's bytes passed to xEdit;
** opened.  Returns the open result (0 = opened) and the message. */
static int openEdited(const uint8_t *a, size_t n, const EmbModel *pOrig,
                      const char *zName,
                      void (*xEdit)(uint8_t*, size_t, void*), void *pArg,
                      EmbModel **ppOut, char **pzErr, uint8_t **paCopy){
  const EmbTensor *pT = embModelTensor(pOrig, zName);
  uint8_t *aCopy = malloc(n);
  memcpy(aCopy, a, n);
  if( pT ) xEdit(aCopy + (pT->a - pOrig->aFile), (size_t)pT->nByte, pArg);
  *paCopy = aCopy;
  return embModelOpenBuffer(aCopy, n, "edited.emb", ppOut, pzErr);
}

static void editFill(uint8_t *a, size_t n, void *pArg){
  memset(a, *(int*)pArg, n);
}
static void editRandom(uint8_t *a, size_t n, void *pArg){
  uint32_t s = *(uint32_t*)pArg;
  size_t i;
  for(i=0; i<n; i++){ s ^= s<<13; s ^= s>>17; s ^= s<<5; a[i] = (uint8_t)s; }
}
/* every slot's base just before the end, its check pointing elsewhere */
static void editRuns(uint8_t *a, size_t n, void *pArg){
  size_t i;
  uint32_t nNode = (uint32_t)(n/12);
  (void)pArg;
  for(i=0; i+12<=n; i+=12){
    uint32_t first = nNode - 1, c = (200u<<8) | 'h';
    memcpy(a+i, &first, 4);
    memcpy(a+i+4, &c, 4);
  }
}
/* every id one past the vocabulary */
static void editIds(uint8_t *a, size_t n, void *pArg){
  size_t i;
  uint32_t v = *(uint32_t*)pArg;
  for(i=0; i+12<=n; i+=12) memcpy(a+i+8, &v, 4);
}
/* NaN and infinite scores */
static void editScores(uint8_t *a, size_t n, void *pArg){
  size_t i;
  double d = *(double*)pArg;
  for(i=0; i+8<=n-8; i+=8) memcpy(a+i, &d, 8);
}
/* the program's bytes as given */
typedef struct ProgEdit ProgEdit;
struct ProgEdit { const uint8_t *a; size_t n; };
static void editProg(uint8_t *a, size_t n, void *pArg){
  ProgEdit *e = (ProgEdit*)pArg;
  memset(a, 0, n);
  memcpy(a, e->a, e->n<n ? e->n : n);
}

static void testHostileFiles(const uint8_t *a, size_t n, const EmbModel *p){
  EmbModel *q;
  char *zErr;
  uint8_t *aCopy;
  int b;
  uint32_t seed, v;
  double d;
  size_t k;

  for(b=0; b<256; b+=255){
    zErr = 0;
    if( openEdited(a, n, p, EMB_T_UNI_TRIE, editFill, &b, &q, &zErr, &aCopy)==0 ){
      CHECK(tokensOk(q), "trie filled");
      embModelFree(q);
    }else{
      CHECK(0, zErr ? zErr : "no message");
    }
    embFree(zErr);
    free(aCopy);
  }
  for(seed=1; seed<=20; seed++){
    zErr = 0;
    if( openEdited(a, n, p, EMB_T_UNI_TRIE, editRandom, &seed, &q, &zErr,
                   &aCopy)==0 ){
      CHECK(tokensOk(q), "random trie");
      embModelFree(q);
    }
    embFree(zErr);
    free(aCopy);
    zErr = 0;
    if( openEdited(a, n, p, EMB_T_UNI_BYTES, editRandom, &seed, &q, &zErr,
                   &aCopy)==0 ){
      q->uni.bByteFallback = 1;
      CHECK(tokensOk(q), "random byte table");
      embModelFree(q);
    }
    embFree(zErr);
    free(aCopy);
  }
  zErr = 0;
  CHECK(openEdited(a, n, p, EMB_T_UNI_TRIE, editRuns, 0, &q, &zErr, &aCopy)==0
        && tokensOk(q), "bases past the end");
  if( q ) embModelFree(q);
  embFree(zErr);
  free(aCopy);
  v = (uint32_t)p->uni.nModelVocab + 1;
  zErr = 0;
  CHECK(openEdited(a, n, p, EMB_T_UNI_TRIE, editIds, &v, &q, &zErr, &aCopy)==0
        && tokensOk(q), "ids past the vocabulary");
  if( q ) embModelFree(q);
  embFree(zErr);
  free(aCopy);
  {
    double ad[3];
    ad[0] = NAN; ad[1] = INFINITY; ad[2] = -INFINITY;
    for(k=0; k<3; k++){
      d = ad[k];
      zErr = 0;
      CHECK(openEdited(a, n, p, EMB_T_UNI_SCORES, editScores, &d, &q, &zErr,
                       &aCopy)==0 && tokensOk(q), "non-finite scores");
      if( q ) embModelFree(q);
      embFree(zErr);
      free(aCopy);
    }
  }
  /* malformed programs are refused at open, by name */
  {
    static const uint8_t p1[] = { 99, 0 };
    static const uint8_t p2[] = { EMB_PT_WSSPLIT };
    static const uint8_t p3[] = { EMB_PT_SPLIT, 9, 0, 1, 0, 'a', 0 };
    static const uint8_t p4[] = { EMB_PT_SPLIT, 0, 0, 200, 0, 'a', 0 };
    static const uint8_t p5[] = { EMB_PT_METASPACE, 1, 1, 2, 0xE2, 0x96, 0 };
    static const uint8_t p6[] = { EMB_PT_METASPACE, 7, 1, 1, '_', 0 };
    static const uint8_t p7[] = { EMB_PT_PUNCT, 5, 0 };
    static const uint8_t p8[] = { 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 0 };
    static const struct { const uint8_t *a; size_t n; const char *zWant; } aBad[] = {
      { p1, sizeof(p1), "an unknown step" },
      { p2, sizeof(p2), "no end" },
      { p3, sizeof(p3), "bad operand" },
      { p4, sizeof(p4), "bad pattern length" },
      { p5, sizeof(p5), "not one character" },
      { p6, sizeof(p6), "bad operand" },
      { p7, sizeof(p7), "bad operand" },
      { p8, sizeof(p8), "too many steps" },
    };
    const EmbTensor *pT = embModelTensor(p, EMB_T_PRETOK);
    for(k=0; k<sizeof(aBad)/sizeof(aBad[0]); k++){
      ProgEdit e;
      const char *zWhy = 0;
      e.a = aBad[k].a;
      e.n = aBad[k].n;
      CHECK(embPretokCheck(aBad[k].a, aBad[k].n, &zWhy)==1 && zWhy
            && strstr(zWhy, aBad[k].zWant), aBad[k].zWant);
      /* in the file: only when the tensor has room for it */
      if( pT && pT->nByte>=aBad[k].n ){
        zErr = 0;
        q = 0;
        if( openEdited(a, n, p, EMB_T_PRETOK, editProg, &e, &q, &zErr, &aCopy) ){
          CHECK(zErr && strstr(zErr, "is not a pre-tokenizer program"), zErr
                ? zErr : "no message");
        }else{
          /* a shorter program padded with END bytes goes on after its end */
          CHECK(0, "a malformed program opened");
          embModelFree(q);
        }
        embFree(zErr);
        free(aCopy);
      }
    }
  }
}

/* n bytes of text made by repeating z, cut at a character */
static char *repeat(const char *z, size_t n){
  size_t m = strlen(z), i;
  char *zOut = malloc(n+1);
  for(i=0; i+m<=n; i+=m) memcpy(zOut+i, z, m);
  zOut[i] = 0;
  return zOut;
}

static void testHostileText(const EmbModel *p){
  static const char *azUnit[] = { "x", " ", "\xE2\x96\x81", "\xF0\x90\x8C\xB0",
                                  "ab ", "-", "\xE6\x9D\xB1" };
  EmbTokens t;
  size_t k;
  int i;
  embTokensInit(&t);
  for(k=0; k<sizeof(azUnit)/sizeof(azUnit[0]); k++){
    char *z = repeat(azUnit[k], 1000000);
    int ok = 1;
    t.nId = 0;
    if( embTokenize(p, z, strlen(z), &t) ) ok = 0;
    for(i=0; ok && i<t.nId; i++) if( t.aId[i]<0 || t.aId[i]>=p->nVocab ) ok = 0;
    CHECK(ok, azUnit[k]);
    free(z);
  }
  /* a character with no piece: fused into one unknown token, however
  ** many there are (U+10330 GOTHIC LETTER AHSA) */
  {
    char *z1 = repeat("\xF0\x90\x8C\xB0", 4), *z2 = repeat("\xF0\x90\x8C\xB0", 400000);
    int n1, a1[8];
    t.nId = 0;
    embTokenize(p, z1, strlen(z1), &t);
    n1 = t.nId;
    for(i=0; i<n1 && i<8; i++) a1[i] = t.aId[i];
    t.nId = 0;
    embTokenize(p, z2, strlen(z2), &t);
    CHECK(n1>0 && n1<=2 && t.nId==n1 && memcmp(a1, t.aId, sizeof(int)*(size_t)n1)==0
          && t.aId[n1-1]==p->uni.iUnk, "fused unknowns");
    free(z1);
    free(z2);
  }
  /* random code points, 1 MB */
  {
    char *z = malloc(1000000+8);
    size_t n = 0;
    uint32_t s = 7;
    int ok = 1;
    while( n<1000000 ){
      uint32_t c;
      s ^= s<<13; s ^= s>>17; s ^= s<<5;
      c = s % 0x30000;
      if( c>=0xD800 && c<0xE000 ) continue;
      n += embUtf8Put(c ? c : 'a', (uint8_t*)z+n);
    }
    t.nId = 0;
    if( embTokenize(p, z, n, &t) ) ok = 0;
    for(i=0; ok && i<t.nId; i++) if( t.aId[i]<0 || t.aId[i]>=p->nVocab ) ok = 0;
    CHECK(ok, "random code points");
    free(z);
  }
  embTokensFree(&t);
}

int main(int argc, char **argv){
  const char *zDir = argc>1 ? argv[1] : getenv("EMBED_TEST_DIR");
  char zPath[4096];
  struct stat st;
  FILE *f;
  uint8_t *a;
  EmbModel *p = 0;
  char *zErr = 0;
  if( zDir==0 || zDir[0]==0 ) zDir = "build/test";
  snprintf(zPath, sizeof(zPath), "%s/m2v_vocabq.emb", zDir);
  if( stat(zPath, &st)!=0 ){
    printf("unit_unigram: skipped: %s is absent (made from ../shared)\n", zPath);
    printf("0 passed, 0 failed, 1 skipped\n");
    return 0;
  }
  a = malloc((size_t)st.st_size);
  f = fopen(zPath, "rb");
  if( f==0 || fread(a, 1, (size_t)st.st_size, f)!=(size_t)st.st_size ){
    printf("unit_unigram: cannot read %s\n0 passed, 1 failed\n", zPath);
    return 1;
  }
  fclose(f);
  if( embModelOpenBuffer(a, (uint64_t)st.st_size, zPath, &p, &zErr) ){
    printf("unit_unigram: %s\n0 passed, 1 failed\n", zErr ? zErr : "?");
    return 1;
  }
  CHECK(p->eTokenizer==EMB_TOK_UNIGRAM && tokensOk(p), "the model itself");
  testHostileFiles(a, (size_t)st.st_size, p);
  testHostileText(p);
  embModelFree(p);
  free(a);
  /* the same texts through the SentencePiece ones (Precompiled) */
  {
    static const char *azOther[] = { "m2v_t5_f16.emb", "m2v_nmt_i8.emb" };
    size_t k;
    for(k=0; k<sizeof(azOther)/sizeof(azOther[0]); k++){
      EmbModel *q = 0;
      snprintf(zPath, sizeof(zPath), "%s/%s", zDir, azOther[k]);
      if( stat(zPath, &st)!=0 ) continue;
      zErr = 0;
      if( embModelAcquire(zPath, &q, &zErr) ){
        CHECK(0, zErr ? zErr : "out of memory");
        embFree(zErr);
        continue;
      }
      CHECK(tokensOk(q), azOther[k]);
      testHostileText(q);
      embModelRelease(q);
    }
  }
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail>0;
}
