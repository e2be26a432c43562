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
** quiets signalling NaNs, which a model never holds usefully).
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
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
