/*
** unit_pool.c: unit tests of ext/pool.c's half-precision conversion.
**
**     build/unit_pool          prints failures and "N passed, N failed"
**
** Every one of the 65,536 half values is converted by embHalfToFloat() and
** checked against the IEEE 754 definition computed with ldexp(); then every
** F16 row adder this CPU runs (portable, F16C) adds a row holding all of
** them, at lengths that leave every tail, and must add exactly what the
** portable one adds; the F32 adders (portable, AVX2) likewise.  NaNs are left out of the comparison of adders (F16C
** quiets signalling NaNs, which a model never holds usefully).  Then the
** BF16 adders, the weighted adders of every width and the I8 row summers
** (255 rows of -128 and of 127 at once, the 16-bit lanes' limit) against
** the portable ones and against sums done here in double.
*/
#include "pool.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int nPass = 0, nFail = 0;

#define CHECK(cond, ...) do{                                   \
  if( cond ){ nPass++; }else{                                  \
    nFail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    printf(__VA_ARGS__); printf("\n");                         \
  }                                                            \
}while(0)

/* The value of half h by the standard's definition, in double. */
static double halfValue(uint16_t h){
  int sign = h>>15, exp = (h>>10) & 0x1F, man = h & 0x3FF;
  double v;
  if( exp==0x1F ) return man ? NAN : (sign ? -INFINITY : INFINITY);
  v = exp ? ldexp(1.0 + man/1024.0, exp-15) : ldexp(man/1024.0, -14);
  return sign ? -v : v;
}

int main(void){
  static uint8_t aRow[2*65536];
  static double aAcc[8][65536];
  void (*aVar[8])(double*, const uint8_t*, int);
  int nVar = embPoolVariants(EMB_DT_F16, aVar, 8), k, nBad = 0;
  uint32_t h;
  int aLen[] = { 1, 7, 8, 9, 100, 65536 }, iLen;
  for(h=0; h<65536; h++){
    double want = halfValue((uint16_t)h);
    float got = embHalfToFloat((uint16_t)h);
    uint16_t hh = (uint16_t)h;
    memcpy(aRow + 2*h, &hh, 2);
    if( isnan(want) ? !isnan(got)
                    : ((double)got!=want || !signbit(got)!=!signbit(want)) ){
      if( nBad++<5 ) printf("half %04x: %g, want %g\n", h, (double)got, want);
    }
  }
  CHECK(nBad==0, "%d of 65536 halves convert wrongly", nBad);
  printf("unit_pool: %d F16 row adders\n", nVar);
  for(iLen=0; iLen<(int)(sizeof(aLen)/sizeof(aLen[0])); iLen++){
    int n = aLen[iLen], j;
    for(k=0; k<nVar; k++){
      for(j=0; j<n; j++) aAcc[k][j] = 0.5;     /* adds to a running sum */
      aVar[k](aAcc[k], aRow, n);
    }
    for(k=1; k<nVar; k++){
      int nDiff = 0;
      for(j=0; j<n; j++){
        if( isnan(aAcc[0][j]) && isnan(aAcc[k][j]) ) continue;
        if( memcmp(&aAcc[0][j], &aAcc[k][j], sizeof(double)) ) nDiff++;
      }
      CHECK(nDiff==0, "adder %d differs from the portable one at %d of %d",
            k, nDiff, n);
    }
  }
  /* F32 rows: every adder against the portable one on varied floats */
  {
    static float aF[1000];
    static uint8_t aB[4000];
    int j;
    nVar = embPoolVariants(EMB_DT_F32, aVar, 8);
    printf("unit_pool: %d F32 row adders\n", nVar);
    for(j=0; j<1000; j++) aF[j] = (float)((j*7919 % 2003) - 1001) / 37.0f;
    memcpy(aB, aF, sizeof(aF));
    for(iLen=0; iLen<5; iLen++){
      int n = aLen[iLen];
      for(k=0; k<nVar; k++){
        for(j=0; j<n; j++) aAcc[k][j] = 0.25*j;
        aVar[k](aAcc[k], aB, n);
      }
      for(k=1; k<nVar; k++){
        CHECK(memcmp(aAcc[0], aAcc[k], sizeof(double)*(size_t)n)==0,
              "F32 adder %d differs from the portable one at length %d", k, n);
      }
      for(j=0; j<n; j++){
        if( aAcc[0][j]!=0.25*j + (double)aF[j] ) break;
      }
      CHECK(j==n, "F32 portable adder wrong at %d of %d", j, n);
    }
  }
  /* BF16 rows, and the weighted adders of every width */
  {
    static uint8_t aB[4*1000];
    static const int aType[] = { EMB_DT_F32, EMB_DT_F16, EMB_DT_BF16,
                                 EMB_DT_I8 };
    void (*aW[8])(double*, const uint8_t*, int, double);
    int t, j;
    for(j=0; j<4000; j++) aB[j] = (uint8_t)((j*131 + 7) % 251);
    nVar = embPoolVariants(EMB_DT_BF16, aVar, 8);
    printf("unit_pool: %d BF16 row adders\n", nVar);
    for(iLen=0; iLen<5; iLen++){
      int n = aLen[iLen];
      for(k=0; k<nVar; k++){
        for(j=0; j<n; j++) aAcc[k][j] = 0.125*j;
        aVar[k](aAcc[k], aB, n);
      }
      for(k=1; k<nVar; k++){
        CHECK(memcmp(aAcc[0], aAcc[k], sizeof(double)*(size_t)n)==0,
              "BF16 adder %d differs from the portable one at length %d", k, n);
      }
      for(j=0; j<n; j++){
        uint16_t hv;
        memcpy(&hv, aB + 2*j, 2);
        if( aAcc[0][j]!=0.125*j + (double)embBf16ToFloat(hv) ) break;
      }
      CHECK(j==n, "BF16 portable adder wrong at %d of %d", j, n);
    }
    for(t=0; t<4; t++){
      int nW = embPoolWeightedVariants(aType[t], aW, 8);
      printf("unit_pool: %d weighted adders of dtype %d\n", nW, aType[t]);
      for(iLen=0; iLen<5; iLen++){
        int n = aLen[iLen];
        /* F16 bytes may hold NaNs: keep to the row's finite halves */
        if( aType[t]==EMB_DT_F16 ) memcpy(aB, aRow + 2*0x3000, 2000);
        for(k=0; k<nW; k++){
          for(j=0; j<n; j++) aAcc[k][j] = -0.5*j;
          aW[k](aAcc[k], aB, n, 0.3125);
        }
        for(k=1; k<nW; k++){
          CHECK(memcmp(aAcc[0], aAcc[k], sizeof(double)*(size_t)n)==0,
                "weighted adder %d of dtype %d differs from the portable one "
                "at length %d", k, aType[t], n);
        }
        for(j=0; j<n; j++){
          double x;
          if( aType[t]==EMB_DT_F32 ){
            float f;
            memcpy(&f, aB + 4*j, 4);
            x = f;
          }else if( aType[t]==EMB_DT_I8 ){
            x = (int8_t)aB[j];
          }else{
            uint16_t hv;
            memcpy(&hv, aB + 2*j, 2);
            x = aType[t]==EMB_DT_F16 ? embHalfToFloat(hv) : embBf16ToFloat(hv);
          }
          if( isnan(x) ) continue;
          if( aAcc[0][j]!=-0.5*j + x*0.3125 ) break;
        }
        CHECK(j==n, "weighted adder of dtype %d wrong at %d of %d", aType[t],
              j, n);
      }
    }
  }
  /* I8 rows summed as integers: 255 rows at the extremes, and mixed */
  {
    static uint8_t aRows[255][1000];
    const uint8_t *apRow[255];
    void (*aI[8])(double*, const uint8_t *const*, int, int);
    int nI = embPoolI8Variants(aI, 8), r, j, iCase;
    printf("unit_pool: %d I8 row summers\n", nI);
    for(iCase=0; iCase<3; iCase++){
      for(r=0; r<255; r++){
        for(j=0; j<1000; j++){
          int v = iCase==0 ? -128 : iCase==1 ? 127 : ((r*37 + j*11) % 256) - 128;
          aRows[r][j] = (uint8_t)(int8_t)v;
        }
        apRow[r] = aRows[r];
      }
      for(iLen=0; iLen<5; iLen++){
        int n = aLen[iLen], nRow = iLen==2 ? 1 : 255;
        for(k=0; k<nI; k++){
          for(j=0; j<n; j++) aAcc[k][j] = 1.0;
          aI[k](aAcc[k], apRow, nRow, n);
        }
        for(k=1; k<nI; k++){
          CHECK(memcmp(aAcc[0], aAcc[k], sizeof(double)*(size_t)n)==0,
                "I8 summer %d differs from the portable one (case %d, length "
                "%d)", k, iCase, n);
        }
        for(j=0; j<n; j++){
          double want = 1.0;
          for(r=0; r<nRow; r++) want += (int8_t)aRows[r][j];
          if( aAcc[0][j]!=want ) break;
        }
        CHECK(j==n, "I8 portable summer wrong at %d of %d (case %d)", j, n,
              iCase);
      }
    }
  }
  /* the normalisation's loops */
  {
    double (*aSum[8])(const double*, int);
    void (*aScale[8])(const double*, int, double, float*);
    static float aF[4][1000];
    int nF = embPoolFinishVariants(aSum, aScale, 8), j;
    printf("unit_pool: %d normalisation variants\n", nF);
    for(j=0; j<1000; j++) aAcc[0][j] = (double)((j*7919 % 2003) - 1001) / 3.0;
    for(iLen=0; iLen<5; iLen++){
      int n = aLen[iLen];
      double s0 = aSum[0](aAcc[0], n), want = 0;
      for(k=1; k<nF && k<4; k++){
        double sk = aSum[k](aAcc[0], n);
        CHECK(memcmp(&s0, &sk, sizeof(double))==0,
              "sum of squares %d differs at length %d", k, n);
        aScale[0](aAcc[0], n, 0.001, aF[0]);
        aScale[k](aAcc[0], n, 0.001, aF[k]);
        CHECK(memcmp(aF[0], aF[k], sizeof(float)*(size_t)n)==0,
              "scale %d differs at length %d", k, n);
      }
      for(j=0; j<n; j++) want += aAcc[0][j]*aAcc[0][j];
      CHECK(fabs(s0-want)<=1e-12*want, "sum of squares wrong at length %d", n);
    }
  }
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
