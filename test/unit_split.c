/*
** unit_split.c: unit tests of ext/segment.c, embed_split's pieces and
** chunk choice, with no SQLite and no model.
**
**     build/unit_split          prints failures and "N passed, N failed"
**
** HOW IT WORKS
** - Hand cases: where sentences end (abbreviations, runs of marks, closing
**   quotes, the ellipsis, line breaks) and where long sentences are cut.
** - The pieces of random hostile byte strings (NUL, lone continuation
**   bytes, 0xFF, leads followed by many continuation bytes, marks, white
**   space) tile the text exactly, each counting the characters SQLite's
**   substr() counts (an independent count here).
** - embSegChoose() against two brute-force searches over every start of
**   every chunk: the same least cost as an unbounded search, and as the
**   old search capped at 3 x target (pieces of at most 2 x target), and a
**   piece longer than 2 x target alone in its chunk.
** - Work: texts of millions of bytes built to defeat rescans (no sentence
**   end at target 1; short lines at a huge target; runs of a million
**   marks; dotted words; white space runs) must take at most a few steps
**   a byte (EmbSeg.nStep).  Quadratic code would need ~10^12 steps, hours;
**   the bound fails it without any clock.
** - xTick: a tick that says stop stops each function.
*/
#include "segment.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nPass = 0, nFail = 0;

#define CHECK(cond, ...) do{                                   \
  if( cond ){ nPass++; }else{                                  \
    nFail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    printf(__VA_ARGS__); printf("\n");                         \
  }                                                            \
}while(0)

static uint64_t rngState = 0x2545f4914f6cdd1dull;
static uint64_t rng(void){
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return rngState * 2685821657736338717ull;
}

/* SQLite's character count of z[0..n) (SQLITE_SKIP_UTF8 in its func.c),
** written again here: a byte >= 0xc0 takes every 0x80-0xbf byte after it. */
static int64_t sqliteChars(const unsigned char *z, int n){
  int64_t c = 0;
  int i = 0;
  while( i<n ){
    c++;
    if( z[i++]>=0xc0 ){
      while( i<n && (z[i] & 0xc0)==0x80 ) i++;
    }
  }
  return c;
}

/* The pieces of z as "piece|piece|..." into zOut. */
static void piecesOf(const char *z, int64_t nTarget, char *zOut, size_t nOut){
  EmbSeg seg;
  EmbSegPiece *a;
  int nPiece, i, rc;
  size_t k = 0;
  memset(&seg, 0, sizeof(seg));
  rc = embSegPieces(&seg, z, (int)strlen(z), nTarget, &a, &nPiece);
  zOut[0] = 0;
  if( rc ){ snprintf(zOut, nOut, "error %d", rc); return; }
  for(i=0; i<nPiece; i++){
    int n = a[i+1].iByte - a[i].iByte;
    k += (size_t)snprintf(zOut+k, nOut-k, "%s%.*s", i ? "|" : "", n,
                          z + a[i].iByte);
  }
  free(a);
}

static void testSentences(void){
  static const struct { const char *z; int64_t nTarget; const char *zWant; }
  aCase[] = {
    { "The cat sat. The dog sat.", 100, "The cat sat. |The dog sat." },
    { "Dr. Smith saw J. Doe in the U.S. today. Then he left.", 100,
      "Dr. Smith saw J. Doe in the U.S. today. |Then he left." },
    { "He said \"stop.\" Then left.", 100, "He said \"stop.\" |Then left." },
    { "Wait... what?! Yes.", 100, "Wait... |what?! |Yes." },
    { "etc. and so on", 100, "etc. and so on" },
    { "Mr.! Next", 100, "Mr.! |Next" },
    { "a\nb\n\nc", 100, "a\n|b\n\n|c" },
    { "x.y.z. end", 100, "x.y.z. end" },
    { "3.14 is pi. ok", 100, "3.14 is pi. |ok" },
    { "Stop\xE2\x80\xA6 Go", 100, "Stop\xE2\x80\xA6 |Go" },
    { "Stop\xE2\x80\xA6Go", 100, "Stop\xE2\x80\xA6Go" },
    { "(see fig). Then", 100, "(see fig). |Then" },
    /* longer than 2 x target: cut after the last white space before it */
    { "aaa bbb ccc ddd eee", 4, "aaa |bbb |ccc |ddd eee" },
    { "aaaaaaaaaa bb cc", 3, "aaaaaaaaaa |bb cc" },
    { "   ", 1, "   " },
    { "", 5, "" },
  };
  size_t i;
  for(i=0; i<sizeof(aCase)/sizeof(aCase[0]); i++){
    char zGot[512];
    piecesOf(aCase[i].z, aCase[i].nTarget, zGot, sizeof(zGot));
    CHECK(strcmp(zGot, aCase[i].zWant)==0, "case %zu: got [%s], want [%s]",
          i, zGot, aCase[i].zWant);
  }
}

/* Check that a[0..nPiece] tiles z[0..n) and counts characters as SQLite
** does.  Returns 1 when it does. */
static int piecesTile(const char *z, int n, const EmbSegPiece *a, int nPiece){
  int i;
  if( n==0 ) return nPiece==0;
  if( nPiece<1 || a[0].iByte!=0 || a[nPiece].iByte!=n ) return 0;
  for(i=0; i<nPiece; i++){
    int nByte = a[i+1].iByte - a[i].iByte;
    if( nByte<1 || a[i].nChar<1 ) return 0;
    if( a[i].nChar!=sqliteChars((const unsigned char*)z + a[i].iByte, nByte) ){
      return 0;
    }
  }
  return 1;
}

static void testHostileTiling(void){
  static const unsigned char aAlpha[] = { 'a', 'b', ' ', ' ', '\n', '\t',
    '.', '.', '!', '?', '"', ')', 0, 0x80, 0xbf, 0xc3, 0xa9, 0xe2, 0x80,
    0xa6, 0xf0, 0x9f, 0xff, 0xfe, 0xc0, '\r', 'J', 'U', 'S' };
  int iter, nBad = 0;
  for(iter=0; iter<20000; iter++){
    char z[300];
    int n = (int)(rng()%sizeof(z)), i, nPiece, rc;
    int64_t nTarget = 1 + (int64_t)(rng()%(iter%3==0 ? 4 : 60));
    EmbSeg seg;
    EmbSegPiece *a;
    for(i=0; i<n; i++){
      z[i] = (char)aAlpha[rng()%sizeof(aAlpha)];
      if( rng()%8==0 ) z[i] = (char)(rng() & 0xff);
    }
    memset(&seg, 0, sizeof(seg));
    rc = embSegPieces(&seg, z, n, nTarget, &a, &nPiece);
    if( rc || !piecesTile(z, n, a, nPiece) ){
      if( nBad++<5 ) printf("  hostile text %d (n=%d, target %lld) not tiled\n",
                            iter, n, (long long)nTarget);
    }
    free(a);
  }
  CHECK(nBad==0, "%d of 20000 hostile texts not tiled exactly", nBad);
}

/* Brute force: the least cost over every chunking; with bCap, chunks of
** more than one piece hold at most 3 x T characters (the old search). */
static double bruteCost(const EmbSegPiece *a, int nPiece, const double *aSim,
                        int64_t T, int bCap){
  double *f = malloc(sizeof(double)*(size_t)(nPiece+1)), r;
  int i, j;
  f[0] = 0.0;
  for(i=1; i<=nPiece; i++){
    int64_t nChar = 0;
    f[i] = INFINITY;
    for(j=i-1; j>=0; j--){
      double d, c;
      nChar += a[j].nChar;
      if( bCap && j<i-1 && nChar>3*T ) break;
      d = (double)(nChar - T)/(double)T;
      c = f[j] + d*d + (j>0 ? 0.5*(1.0 + aSim[j-1])/2.0 : 0.0);
      if( c<f[i] ) f[i] = c;
    }
  }
  r = f[nPiece];
  free(f);
  return r;
}

static void testChoiceOptimal(void){
  int iter, nWorse = 0, nCapDiff = 0, nAlone = 0;
  for(iter=0; iter<3000; iter++){
    int nPiece = 1 + (int)(rng()%120), i, nChunk = 0, rc, c;
    int64_t T = 1 + (int64_t)(rng()%(iter%2 ? 40 : 400));
    int bOversize = iter%5==4;
    EmbSegPiece *a = malloc(sizeof(*a)*(size_t)(nPiece+1));
    double *aSim = malloc(sizeof(double)*(size_t)nPiece);
    int *aFirst = malloc(sizeof(int)*(size_t)(nPiece+1));
    double got, best;
    EmbSeg seg;
    for(i=0; i<=nPiece; i++){
      int64_t nMax = 2*T;
      if( bOversize && rng()%6==0 ) nMax = 6*T;
      a[i].nChar = i<nPiece ? 1 + (int)(rng()%(uint64_t)nMax) : 0;
      a[i].iByte = i==0 ? 0 : a[i-1].iByte + a[i-1].nChar;
      if( i<nPiece ) aSim[i] = (double)(rng()%2001)/1000.0 - 1.0;
    }
    memset(&seg, 0, sizeof(seg));
    rc = embSegChoose(&seg, a, nPiece, aSim, T, aFirst, &nChunk);
    if( rc ){ nWorse++; goto next; }
    got = embSegCost(a, aSim, T, aFirst, nChunk);
    if( !bOversize ){
      best = bruteCost(a, nPiece, aSim, T, 0);
      if( got > best + 1e-9*(1.0+best) ){
        if( nWorse++<5 ) printf("  case %d: cost %.12g, brute force %.12g\n",
                                iter, got, best);
      }
      if( fabs(bruteCost(a, nPiece, aSim, T, 1) - best) > 1e-9*(1.0+best) ){
        nCapDiff++;
      }
    }
    for(c=0; c<nChunk; c++){
      int64_t nChar = 0;
      for(i=aFirst[c]; i<aFirst[c+1]; i++){
        if( a[i].nChar>2*T && aFirst[c+1]-aFirst[c]!=1 ) nAlone++;
        nChar += a[i].nChar;
      }
      if( aFirst[c+1]-aFirst[c]>1 && nChar>3*T ) nAlone++;
    }
  next:
    free(a);
    free(aSim);
    free(aFirst);
  }
  CHECK(nWorse==0, "%d of 3000 choices cost more than the brute-force least",
        nWorse);
  CHECK(nCapDiff==0, "%d of the unbounded least costs differ from the 3 x "
        "target capped search", nCapDiff);
  CHECK(nAlone==0, "%d oversize pieces shared a chunk, or chunks of several "
        "pieces passed 3 x target", nAlone);
}

/* Pieces and chunks of z at nTarget with unit similarities; returns the
** steps taken and the chunk count in *pnChunk. */
static uint64_t stepsFor(const char *zName, const char *z, int n,
                         int64_t nTarget, int *pnChunk){
  EmbSeg seg;
  EmbSegPiece *a = 0;
  int nPiece = 0, rc, *aFirst;
  double *aSim;
  memset(&seg, 0, sizeof(seg));
  *pnChunk = -1;
  rc = embSegPieces(&seg, z, n, nTarget, &a, &nPiece);
  CHECK(rc==EMB_SEG_OK && piecesTile(z, n, a, nPiece), "%s: pieces", zName);
  if( rc ) return seg.nStep;
  aSim = calloc((size_t)nPiece+1, sizeof(double));
  aFirst = malloc(sizeof(int)*((size_t)nPiece+1));
  rc = embSegChoose(&seg, a, nPiece, aSim, nTarget, aFirst, pnChunk);
  CHECK(rc==EMB_SEG_OK, "%s: choose", zName);
  free(aSim);
  free(aFirst);
  free(a);
  return seg.nStep;
}

/* z = zUnit repeated to n bytes (at least), with zHead and zTail around. */
static char *repeat(const char *zHead, const char *zUnit, const char *zTail,
                    int nMin, int *pn){
  size_t nHead = strlen(zHead), nUnit = strlen(zUnit), nTail = strlen(zTail);
  size_t nRep = ((size_t)nMin + nUnit - 1)/nUnit, k;
  char *z = malloc(nHead + nRep*nUnit + nTail + 1);
  memcpy(z, zHead, nHead);
  for(k=0; k<nRep; k++) memcpy(z + nHead + k*nUnit, zUnit, nUnit);
  memcpy(z + nHead + nRep*nUnit, zTail, nTail + 1);
  *pn = (int)(nHead + nRep*nUnit + nTail);
  return z;
}

static void testLinearWork(void){
  static const struct {
    const char *zName, *zHead, *zUnit, *zTail;
    int64_t nTarget;
  } aCase[] = {
    { "words, no sentence end, target 1", "", "cat ", "", 1 },
    { "words, no sentence end, target 1000", "", "cat ", "", 1000 },
    { "short lines, target 10^9", "", "a\n", "", 1000000000 },
    { "short sentences, target 10^9", "", "A b. ", "", 1000000000 },
    { "a run of a million periods", "word", ".", " next", 10 },
    { "a run of marks and closers", "Dr", ".!\")?'.]", " next", 10 },
    { "dotted words (abbreviations)", "", "U.S. ", "", 50 },
    { "initials", "", "J. ", "", 1000000000 },
    { "one word, no white space", "", "x", "", 10 },
    { "white space runs", "", "ab            ", "", 3 },
    { "ellipses", "", "\xE2\x80\xA6", " end", 5 },
    { "multibyte, no white space", "", "\xC3\xA9\xE2\x80\xA6\xF0\x9F\x98\x80", "", 4 },
  };
  size_t i;
  const int nMin = 4000000;
  for(i=0; i<sizeof(aCase)/sizeof(aCase[0]); i++){
    int n, nChunk;
    char *z = repeat(aCase[i].zHead, aCase[i].zUnit, aCase[i].zTail, nMin, &n);
    uint64_t nStep = stepsFor(aCase[i].zName, z, n, aCase[i].nTarget, &nChunk);
    if( getenv("UNIT_SPLIT_VERBOSE") ) printf("  %s: %.2f steps a byte\n", aCase[i].zName, (double)nStep/n);
    CHECK(nStep <= 8*(uint64_t)n, "%s: %llu steps for %d bytes (%.1f a byte)",
          aCase[i].zName, (unsigned long long)nStep, n, (double)nStep/n);
    CHECK(nChunk>=1, "%s: %d chunks", aCase[i].zName, nChunk);
    free(z);
  }
}

/* At target 1 every word is its own chunk; at 10^9 the lines are one. */
static void testLinearAnswers(void){
  int n, nChunk;
  char *z = repeat("", "cat ", "", 400000, &n);
  stepsFor("words", z, n, 1, &nChunk);
  CHECK(nChunk==n/4, "%d chunks of %d words", nChunk, n/4);
  free(z);
  z = repeat("", "a\n", "", 400000, &n);
  stepsFor("lines", z, n, 1000000000, &nChunk);
  CHECK(nChunk==1, "%d chunks of lines at target 10^9", nChunk);
  free(z);
}

static int nTicks = 0;
static int tickStopAfter3(void *pArg, uint64_t nStep){
  (void)pArg; (void)nStep;
  return ++nTicks>3;
}

static void testTickStops(void){
  int n, nPiece, nChunk, rc, i, *aFirst;
  char *z = repeat("", "cat ", "", 1000000, &n);
  EmbSeg seg;
  EmbSegPiece *a = 0;
  double *aSim;
  memset(&seg, 0, sizeof(seg));
  seg.xTick = tickStopAfter3;
  rc = embSegPieces(&seg, z, n, 1, &a, &nPiece);
  CHECK(rc==EMB_SEG_STOPPED && a==0, "pieces: rc %d", rc);
  CHECK(seg.nStep < (uint64_t)n/10, "pieces went on for %llu steps",
        (unsigned long long)seg.nStep);
  seg.xTick = 0;
  rc = embSegPieces(&seg, z, n, 1, &a, &nPiece);
  CHECK(rc==EMB_SEG_OK, "pieces: rc %d", rc);
  aSim = malloc(sizeof(double)*(size_t)nPiece);
  aFirst = malloc(sizeof(int)*((size_t)nPiece+1));
  for(i=0; i<nPiece; i++) aSim[i] = 0.0;
  nTicks = 0;
  memset(&seg, 0, sizeof(seg));
  seg.xTick = tickStopAfter3;
  rc = embSegChoose(&seg, a, nPiece, aSim, 1, aFirst, &nChunk);
  CHECK(rc==EMB_SEG_STOPPED, "choose: rc %d", rc);
  CHECK(seg.nStep < (uint64_t)nPiece/10, "choose went on for %llu steps",
        (unsigned long long)seg.nStep);
  free(aSim);
  free(aFirst);
  free(a);
  free(z);
}

int main(void){
  testSentences();
  testHostileTiling();
  testChoiceOptimal();
  testLinearWork();
  testLinearAnswers();
  testTickStops();
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
