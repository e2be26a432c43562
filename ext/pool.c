/*
** pool.c: row lookup, mean pooling and normalisation.
**
**     embed('the cat') = normalise(row('the') + row('cat'))[0..dims)
**
** HOW IT WORKS
** Rows are added into double accumulators straight from the mapping (F32
** rows by memcpy loads, F16 rows converted to float), only the first nDims
** components of each (Matryoshka truncation happens before normalising).
** Dividing by the count is skipped: normalising removes any scale, and the
** mean's norm is zero exactly when the sum's is.  Rows are added eight F16
** (with F16C) or four F32 (with AVX2) elements an instruction where the
** CPU has them (chosen once); widening is exact and each element has its
** own accumulator, so every way adds the same values in the same order.
*/
#include "pool.h"

#include <math.h>
#include <string.h>

float embHalfToFloat(uint16_t h){
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t man = h & 0x3FF;
  uint32_t u;
  float f;
  if( exp==0x1F ){
    u = sign | 0x7F800000u | (man << 13);           /* inf, NaN */
  }else if( exp!=0 ){
    u = sign | ((exp + 112) << 23) | (man << 13);   /* normal */
  }else{
    /* zero or subnormal: man * 2^-24, exact in float */
    f = (float)man * (1.0f/16777216.0f);
    return sign ? -f : f;
  }
  memcpy(&f, &u, 4);
  return f;
}

/* Add the first n halves of row a to aAcc, portably. */
static void addHalvesPortable(double *aAcc, const uint8_t *a, int n){
  int j;
  for(j=0; j<n; j++){
    uint16_t h;
    memcpy(&h, a + 2*(size_t)j, 2);
    aAcc[j] += embHalfToFloat(h);
  }
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
/* The same, eight halves an instruction with F16C. */
__attribute__((target("f16c,avx2")))
static void addHalvesF16c(double *aAcc, const uint8_t *a, int n){
  int j = 0;
  for(; j+8<=n; j+=8){
    __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(const void*)(a + 2*(size_t)j)));
    __m256d lo = _mm256_add_pd(_mm256_loadu_pd(aAcc+j),
                               _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
    __m256d hi = _mm256_add_pd(_mm256_loadu_pd(aAcc+j+4),
                               _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
    _mm256_storeu_pd(aAcc+j, lo);
    _mm256_storeu_pd(aAcc+j+4, hi);
  }
  addHalvesPortable(aAcc+j, a + 2*(size_t)j, n-j);
}
#endif

/* Add the first n floats of row a (4-byte aligned) to aAcc. */
static void addFloatsPortable(double *aAcc, const uint8_t *a, int n){
  const float *pf = (const float*)(const void*)a;
  int j;
  for(j=0; j<n; j++) aAcc[j] += pf[j];
}

#if defined(__x86_64__) || defined(__i386__)
/* The same, four floats widened and added an instruction with AVX2. */
__attribute__((target("avx2")))
static void addFloatsAvx2(double *aAcc, const uint8_t *a, int n){
  int j = 0;
  for(; j+4<=n; j+=4){
    __m256d x = _mm256_cvtps_pd(_mm_loadu_ps((const float*)(const void*)(a + 4*(size_t)j)));
    _mm256_storeu_pd(aAcc+j, _mm256_add_pd(_mm256_loadu_pd(aAcc+j), x));
  }
  addFloatsPortable(aAcc+j, a + 4*(size_t)j, n-j);
}
#endif

typedef void (*AddHalvesFn)(double*, const uint8_t*, int);
static AddHalvesFn xAddFloats = 0;
static AddHalvesFn xAddHalves = 0;

/* The F16 row adder for this CPU, chosen on first use (a race stores the
** same pointer twice, atomically). */
static AddHalvesFn addHalves(void){
  AddHalvesFn x = __atomic_load_n(&xAddHalves, __ATOMIC_ACQUIRE);
  if( x==0 ){
    x = addHalvesPortable;
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax, ebx, ecx = 0, edx;
    __builtin_cpu_init();
    /* clang's __builtin_cpu_supports() knows no "f16c": ask CPUID leaf 1 */
    if( __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C)
     && __builtin_cpu_supports("avx2") ){
      x = addHalvesF16c;
    }
#endif
    __atomic_store_n(&xAddHalves, x, __ATOMIC_RELEASE);
  }
  return x;
}

/* The F32 row adder for this CPU, chosen the same way. */
static AddHalvesFn addFloats(void){
  AddHalvesFn x = __atomic_load_n(&xAddFloats, __ATOMIC_ACQUIRE);
  if( x==0 ){
    x = addFloatsPortable;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if( __builtin_cpu_supports("avx2") ) x = addFloatsAvx2;
#endif
    __atomic_store_n(&xAddFloats, x, __ATOMIC_RELEASE);
  }
  return x;
}

int embPoolVariants(int eType, void (**aOut)(double*, const uint8_t*, int),
                    int nMax){
  AddHalvesFn xPortable = eType==EMB_DT_F16 ? addHalvesPortable
                                            : addFloatsPortable;
  AddHalvesFn xBest = eType==EMB_DT_F16 ? addHalves() : addFloats();
  int n = 0;
  if( n<nMax ) aOut[n++] = xPortable;
  if( n<nMax && xBest!=xPortable ) aOut[n++] = xBest;
  return n;
}

void embPoolMean(const EmbModel *p, const int *aId, int nId, int nDims,
                 double *aAcc, float *aOut){
  AddHalvesFn xAdd = p->eMatrixType==EMB_DT_F16 ? addHalves() : addFloats();
  size_t rowBytes = (size_t)p->nDims * (p->eMatrixType==EMB_DT_F16 ? 2 : 4);
  double norm = 0.0;
  int i, j, nUsed = 0;
  for(j=0; j<nDims; j++) aAcc[j] = 0.0;
  for(i=0; i<nId; i++){
    const uint8_t *pRow;
    if( aId[i]<0 || aId[i]>=p->nVocab ) continue;
    pRow = p->aMatrix + (size_t)aId[i]*rowBytes;
    nUsed++;
    /* The loader checks that the matrix is 8-byte aligned, and rows are
    ** whole elements, so each row is aligned for its element type. */
    xAdd(aAcc, pRow, nDims);
  }
  for(j=0; j<nDims; j++) norm += aAcc[j]*aAcc[j];
  if( nUsed==0 || !(norm>0.0) || !isfinite(norm) ){
    memset(aOut, 0, sizeof(float)*(size_t)nDims);
    return;
  }
  norm = 1.0/sqrt(norm);
  for(j=0; j<nDims; j++) aOut[j] = (float)(aAcc[j]*norm);
}
