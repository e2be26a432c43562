/*
** unit_kernels.c: unit tests of ext/kernels.c.
**
**     build/unit_kernels        prints failures and "N passed, N failed"
**
** HOW IT WORKS
** Hand-computed cases check bquant's bit order and padding, hamming and the
** dot products; then random vectors of many lengths (including odd ones that
** exercise every tail loop) and deliberately misaligned pointers check that
** every kernel variant this CPU runs returns exactly the portable variant's
** answer and agrees with a plain double-precision reference.
*/
#include "kernels.h"

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

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t rngState = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void){
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return rngState * 2685821657736338717ull;
}
static float rngFloat(void){
  return (float)((double)(rng()>>11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void putFloats(uint8_t *a, const float *x, size_t n){
  memcpy(a, x, 4*n);
}

static void testBquant(void){
  float x[10] = { 1, -1, 0, 2, -0.0f, 3, 0.5f, -2, 7, 0 };
  uint8_t a[40], out[2] = { 0xff, 0xff };
  putFloats(a, x, 10);
  embBquant(a, 10, out);
  /* bits 0,3,5,6 set in byte 0 = 0x69; bit 8 (x[8]=7) in byte 1 = 0x01 */
  CHECK(out[0]==0x69, "byte 0 is %02x", out[0]);
  CHECK(out[1]==0x01, "byte 1 is %02x (padding must be zero)", out[1]);
  embBquant(a, 1, out);
  CHECK(out[0]==0x01, "one dim: %02x", out[0]);
}

static void testHammingKnown(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k;
  uint8_t a[37], b[37];
  memset(a, 0, sizeof(a));
  memset(b, 0xff, sizeof(b));
  for(k=0; k<nK; k++){
    size_t n;
    for(n=1; n<=37; n++){
      uint64_t d = aK[k]->xHamming(a, b, n);
      CHECK(d==8*n, "%s: n=%zu gives %llu", aK[k]->zName, n,
            (unsigned long long)d);
    }
    CHECK(aK[k]->xHamming(a, a, 37)==0, "%s: equal inputs", aK[k]->zName);
  }
}

static void testDotKnown(void){
  float x[3] = { 1, 2, 3 }, y[3] = { 4, -5, 6 };
  uint8_t a[12], b[12];
  double ab, aa, bb;
  putFloats(a, x, 3);
  putFloats(b, y, 3);
  embKernels()->xDot3(a, b, 3, &ab, &aa, &bb);
  CHECK(ab==12.0 && aa==14.0 && bb==77.0, "got %g %g %g", ab, aa, bb);
}

/* Every variant equals the portable one, bit for bit, on random input at
** offsets 0..3 from an aligned buffer, and is close to a double reference. */
static void testVariantsAgree(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK);
  size_t aLen[] = { 1, 2, 7, 8, 15, 16, 17, 31, 33, 64, 100, 255, 256, 257,
                    1000, 4096, 4099 };
  size_t iLen;
  static uint8_t bufA[4*4099+8], bufB[4*4099+8];
  for(iLen=0; iLen<sizeof(aLen)/sizeof(aLen[0]); iLen++){
    size_t n = aLen[iLen], i, off;
    for(off=0; off<4; off++){
      uint8_t *a = bufA+off, *b = bufB+3-off;
      double ab0, aa0, bb0, rAB = 0, rAA = 0, rBB = 0;
      uint64_t h0;
      int k;
      for(i=0; i<n; i++){
        float x = rngFloat(), y = rngFloat();
        memcpy(a+4*i, &x, 4);
        memcpy(b+4*i, &y, 4);
        rAB += (double)x*y; rAA += (double)x*x; rBB += (double)y*y;
      }
      aK[0]->xDot3(a, b, n, &ab0, &aa0, &bb0);
      CHECK(fabs(ab0-rAB)<=1e-5*(1+sqrt(rAA*rBB))
            && fabs(aa0-rAA)<=1e-5*(1+rAA), "portable n=%zu: %g vs %g",
            n, ab0, rAB);
      h0 = aK[0]->xHamming(a, b, 4*n);
      for(k=1; k<nK; k++){
        double ab, aa, bb;
        aK[k]->xDot3(a, b, n, &ab, &aa, &bb);
        CHECK(ab==ab0 && aa==aa0 && bb==bb0,
              "%s n=%zu off=%zu: dot3 differs from portable", aK[k]->zName,
              n, off);
        CHECK(aK[k]->xHamming(a, b, 4*n)==h0,
              "%s n=%zu off=%zu: hamming differs from portable",
              aK[k]->zName, n, off);
      }
    }
  }
}

/* The code lengths the vector scans take when rows are back to back
** (AVX2: 8, 16 and multiples of 32 bytes; AVX-512: 32): back to back in
** the tests too, other lengths with slack between rows. */
static size_t testStride(size_t nByte){
  if( nByte==8 || nByte==16 || nByte%32==0 ) return nByte;
  return nByte + (nByte%3)*4;
}

/* xHammingMany() against xHamming() row by row: every code length up to
** 72 bytes (the fixed-word paths and the generic one), strides with slack,
** and a misaligned start. */
static void testHammingMany(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k;
  static uint8_t a[1 + 9*80], q[80];
  uint32_t aOut[9];
  size_t nByte, i, r;
  for(i=0; i<sizeof(a); i++) a[i] = (uint8_t)rng();
  for(i=0; i<sizeof(q); i++) q[i] = (uint8_t)rng();
  for(nByte=1; nByte<=72; nByte++){
    size_t nStride = testStride(nByte);
    const uint8_t *aRows = a + (nByte%2);
    for(k=0; k<nK; k++){
      int ok = 1;
      aK[k]->xHammingMany(q, aRows, nByte, nStride, 9, aOut);
      for(r=0; r<9; r++){
        ok &= aOut[r]==aK[0]->xHamming(q, aRows + r*nStride, nByte);
      }
      CHECK(ok, "%s: %zu-byte codes, stride %zu", aK[k]->zName, nByte, nStride);
    }
  }
}

/* Back-to-back 256-bit codes (embed_index at 256 dims), which the
** AVX-512 variant counts eight rows at a time: 19 rows, so two blocks of
** eight and a tail, from an aligned and a misaligned start. */
static void testHammingMany256(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k;
  static uint8_t a[1 + 19*32], q[32];
  uint32_t aOut[19];
  size_t i, r, off;
  for(i=0; i<sizeof(a); i++) a[i] = (uint8_t)rng();
  for(i=0; i<sizeof(q); i++) q[i] = (uint8_t)rng();
  for(off=0; off<2; off++){
    for(k=0; k<nK; k++){
      int ok = 1;
      memset(aOut, 0xff, sizeof(aOut));
      aK[k]->xHammingMany(q, a+off, 32, 32, 19, aOut);
      for(r=0; r<19; r++){
        ok &= aOut[r]==aK[0]->xHamming(q, a + off + r*32, 32);
      }
      CHECK(ok, "%s: 19 back-to-back 32-byte codes, offset %zu",
            aK[k]->zName, off);
    }
  }
}

/* xHammingWithin() against xHamming() row by row: for every code length
** up to 72 bytes (those of the vector scans back to back, from an aligned
** and a misaligned start), and thresholds that keep no row, some, and
** all, the kept rows are exactly those within T, in order. */
static void testHammingWithin(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k;
  static uint8_t a[1 + 37*80], q[80];
  uint32_t aIdx[37], aDist[37];
  size_t nByte, i;
  for(i=0; i<sizeof(a); i++) a[i] = (uint8_t)rng();
  for(i=0; i<sizeof(q); i++) q[i] = (uint8_t)rng();
  for(nByte=1; nByte<=72; nByte++){
    size_t nStride = testStride(nByte);
    size_t off;
    for(off=0; off<2; off++){
      const uint8_t *aRows = a + off;
      uint32_t aT[4], t;
      aT[0] = 0;
      aT[1] = (uint32_t)(nByte*4 - 2);  /* about half the rows */
      aT[2] = (uint32_t)(nByte*4 + 3);
      aT[3] = (uint32_t)(nByte*8);      /* every row */
      for(t=0; t<4; t++){
        for(k=0; k<nK; k++){
          size_t n, r, j = 0;
          int ok = 1;
          memset(aIdx, 0xff, sizeof(aIdx));
          n = aK[k]->xHammingWithin(q, aRows, nByte, nStride, 37, aT[t],
                                    aIdx, aDist);
          for(r=0; r<37; r++){
            uint32_t d = (uint32_t)aK[0]->xHamming(q, aRows + r*nStride,
                                                   nByte);
            if( d>aT[t] ) continue;
            ok &= j<n && aIdx[j]==r && aDist[j]==d;
            j++;
          }
          ok &= j==n;
          CHECK(ok, "%s: within %u of %zu-byte codes, stride %zu, offset %zu",
                aK[k]->zName, aT[t], nByte, nStride, off);
        }
      }
    }
  }
}

/* Long codes back to back (33 and 64 vectors of 32 bytes: the AVX2 scan
** sums a row's byte counts in bytes for 31 vectors at most, each count up
** to 8), every bit differing in some rows and random bits in others, for
** both scans. */
static void testHammingLong(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k;
  static const size_t aByte[] = { 32*33, 32*64 };
  static uint8_t a[11*32*64], q[32*64];
  uint32_t aOut[11], aIdx[11], aDist[11];
  size_t i, r, x;
  for(x=0; x<2; x++){
    size_t nByte = aByte[x];
    for(i=0; i<11*nByte; i++) a[i] = (uint8_t)rng();
    memset(q, 0, nByte);
    memset(a, 0xff, nByte);              /* row 0: every bit differs */
    memset(a + 5*nByte, 0xff, nByte);    /* row 5 too */
    for(k=0; k<nK; k++){
      int ok = 1;
      size_t n, j = 0;
      uint32_t T = (uint32_t)(nByte*4);
      aK[k]->xHammingMany(q, a, nByte, nByte, 11, aOut);
      for(r=0; r<11; r++) ok &= aOut[r]==aK[0]->xHamming(q, a + r*nByte, nByte);
      ok &= aOut[0]==nByte*8 && aOut[5]==nByte*8;
      CHECK(ok, "%s: many %zu-byte codes", aK[k]->zName, nByte);
      n = aK[k]->xHammingWithin(q, a, nByte, nByte, 11, T, aIdx, aDist);
      ok = 1;
      for(r=0; r<11; r++){
        if( aOut[r]>T ) continue;
        ok &= j<n && aIdx[j]==r && aDist[j]==aOut[r];
        j++;
      }
      CHECK(ok && j==n && n<11, "%s: within %u of %zu-byte codes",
            aK[k]->zName, T, nByte);
    }
  }
}

/* xFineScan() and xFineRows(): against the sum written out nibble by
** nibble, for every code length up to 70 bytes (whole 32-byte steps and
** tails), rows back to back and with a stride, every variant the same as
** the portable one. */
static void testFineScan(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k;
  static uint8_t aCode[5*80 + 32];
  static int8_t qEven[96], qOdd[96];
  int32_t aWant[5], aGot[5];
  size_t n, j, r, nStride;
  for(n=1; n<=70; n++){
    for(nStride=n; nStride<=n+3; nStride+=3){
      memset(qEven, 0, sizeof(qEven));
      memset(qOdd, 0, sizeof(qOdd));
      for(j=0; j<sizeof(aCode); j++) aCode[j] = (uint8_t)rng();
      for(j=0; j<n; j++){
        qEven[j] = (int8_t)(rng()%255 - 127);
        qOdd[j] = (int8_t)(rng()%255 - 127);
      }
      for(r=0; r<5; r++){
        int32_t want = 0;
        for(j=0; j<n; j++){
          int lo = aCode[r*nStride+j] & 0xf, hi = aCode[r*nStride+j] >> 4;
          if( lo>=8 ) lo -= 16;
          if( hi>=8 ) hi -= 16;
          want += qEven[j]*lo + qOdd[j]*hi;
        }
        aWant[r] = want;
      }
      for(k=0; k<nK; k++){
        /* xFineRows: the same rows out of order (4, 1, 3, 0, 2), one of
        ** them twice, so the pairs it sums together are not neighbours */
        static const int aOrder[6] = { 4, 1, 3, 0, 2, 1 };
        const uint8_t *apRow[6];
        int32_t aRows[6];
        int ok = 1;
        memset(aGot, 0x55, sizeof(aGot));
        aK[k]->xFineScan(qEven, qOdd, aCode, n, nStride, 5, aGot);
        CHECK(memcmp(aGot, aWant, sizeof(aWant))==0,
              "%s: fineScan %zu bytes, stride %zu: %d, want %d", aK[k]->zName,
              n, nStride, aGot[0], aWant[0]);
        for(r=0; r<6; r++) apRow[r] = aCode + (size_t)aOrder[r]*nStride;
        memset(aRows, 0x55, sizeof(aRows));
        aK[k]->xFineRows(qEven, qOdd, n, apRow, 6, aRows);
        for(r=0; r<6; r++) ok &= aRows[r]==aWant[aOrder[r]];
        aK[k]->xFineRows(qEven, qOdd, n, apRow, 5, aRows);
        for(r=0; r<5; r++) ok &= aRows[r]==aWant[aOrder[r]];
        CHECK(ok, "%s: fineRows %zu bytes, stride %zu", aK[k]->zName, n,
              nStride);
      }
    }
  }
}

static void testNonFinite(void){
  float x[5] = { 1, 2, 3, 4, 5 };
  uint8_t a[20];
  putFloats(a, x, 5);
  CHECK(embFindNonFinite(a, 5)==-1, "all finite");
  x[3] = NAN; putFloats(a, x, 5);
  CHECK(embFindNonFinite(a, 5)==3, "NaN at 3");
  x[3] = 4; x[1] = -INFINITY; putFloats(a, x, 5);
  CHECK(embFindNonFinite(a, 5)==1, "-inf at 1");
}

/* embCosine(): a vector and its exact copy (or its double) have cosine
** exactly 1, on every variant; tiny vectors have the direction of their
** scaled-up copies; all-zero has none; NaN is reported. */
static void testCosine(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k, iter, nNotOne = 0, nTinyOff = 0;
  static uint8_t a[4*300], b[4*300], t[4*300];
  float x[300];
  double c = 0, c2 = 0;
  for(iter=0; iter<2000; iter++){
    size_t n = 1 + (size_t)(rng()%300), i;
    for(i=0; i<n; i++) x[i] = rngFloat();
    putFloats(a, x, n);
    for(i=0; i<n; i++) x[i] *= 2.0f;
    putFloats(b, x, n);
    for(i=0; i<n; i++) x[i] *= 1e-32f;            /* squares below 1e-60 */
    putFloats(t, x, n);
    for(k=0; k<nK; k++){
      if( embCosine(aK[k], a, a, n, &c)!=EMB_COS_OK || c!=1.0 ) nNotOne++;
      if( embCosine(aK[k], a, b, n, &c)!=EMB_COS_OK || c!=1.0 ) nNotOne++;
      if( embCosine(aK[k], t, b, n, &c)!=EMB_COS_OK || fabs(c-1.0)>1e-6 ){
        nTinyOff++;
      }
    }
  }
  CHECK(nNotOne==0, "%d copies or doubles with cosine != 1.0", nNotOne);
  CHECK(nTinyOff==0, "%d tiny vectors off their direction", nTinyOff);
  {
    float p[3] = { 1e-30f, 0, 0 }, q[3] = { 1e-30f, 1e-30f, 0 };
    float z[3] = { 0, -0.0f, 0 }, big[3] = { 3e38f, 3e38f, 0 };
    float nan[3] = { 1, NAN, 0 };
    uint8_t ap[12], aq[12], az[12], ab[12], an[12];
    putFloats(ap, p, 3); putFloats(aq, q, 3); putFloats(az, z, 3);
    putFloats(ab, big, 3); putFloats(an, nan, 3);
    CHECK(embCosine(embKernels(), ap, aq, 3, &c)==EMB_COS_OK
          && fabs(c - sqrt(0.5))<1e-12, "tiny: %.17g", c);
    CHECK(embCosine(embKernels(), az, aq, 3, &c)==EMB_COS_ZERO, "zero");
    CHECK(embCosine(embKernels(), aq, az, 3, &c)==EMB_COS_ZERO, "zero 2nd");
    CHECK(embCosine(embKernels(), ab, aq, 3, &c)==EMB_COS_OK
          && fabs(c - 1.0)<1e-12, "float sums overflow: %.17g", c);
    CHECK(embCosine(embKernels(), an, aq, 3, &c)==EMB_COS_NONFINITE, "NaN");
    /* every variant the same bits */
    for(iter=0; iter<200; iter++){
      size_t n = 1 + (size_t)(rng()%300), i;
      for(i=0; i<n; i++) x[i] = rngFloat();
      putFloats(a, x, n);
      for(i=0; i<n; i++) x[i] = rngFloat();
      putFloats(b, x, n);
      embCosine(aK[0], a, b, n, &c);
      for(k=1; k<nK; k++){
        embCosine(aK[k], a, b, n, &c2);
        CHECK(memcmp(&c, &c2, sizeof(c))==0, "%s differs from portable",
              aK[k]->zName);
      }
    }
  }
}

int main(void){
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k;
  printf("unit_kernels: variants:");
  for(k=0; k<nK; k++) printf(" %s", aK[k]->zName);
  printf(" (using %s)\n", embKernels()->zName);
  testBquant();
  testHammingKnown();
  testDotKnown();
  testVariantsAgree();
  testHammingMany();
  testHammingMany256();
  testHammingWithin();
  testHammingLong();
  testFineScan();
  testNonFinite();
  testCosine();
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
