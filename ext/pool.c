/*
** pool.c: row lookup, mean pooling and normalisation.
**
**     embed('the cat') = normalise(row('the') + row('cat'))[0..dims)
**     Model2Vec:  row(t) = matrix[token.row[t]] * token.weight[t],
**                 the unknown token (pool.skip_id) left out
**
** HOW IT WORKS
** Each token's row is found in the mapping (through token.row when the
** model maps tokens to shared rows), and only its first nDims components
** are read (Matryoshka truncation happens before normalising).  Dividing
** by the count is skipped: normalising removes any scale, and the mean's
** norm is zero exactly when the sum's is.  Rows keep the width the model
** stores them in, and each width has its adder:
**   I8 (no weights)    summed as integers, exactly: the rows of up to 255
**                      tokens at a time, 16 components an instruction in
**                      16-bit lanes with AVX2 (255 x 128 fits), then added
**                      to the double accumulators
**   F32, F16, BF16     widened to double and added: four F32, eight F16
**                      (F16C) or eight BF16 an instruction with AVX2
**   with token.weight  each element times the token's weight, in double,
**                      then added (every width)
** Widening is exact and each element has its own accumulator, so every
** way adds the same values in the same order: the vectorised adders,
** chosen once for the CPU, give exactly what the portable ones give
** (test/unit_pool.c checks).
*/
#include "pool.h"

#include <pthread.h>
#include <math.h>
#include <string.h>

/* Tokens summed at a time by the I8 adders: 255 x 128 < 2^15 */
#define POOL_I8_CHUNK 255

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

float embBf16ToFloat(uint16_t h){
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* ---- portable adders ------------------------------------------------ */

/* Add the first n halves of row a to aAcc. */
static void addHalvesPortable(double *aAcc, const uint8_t *a, int n){
  int j;
  for(j=0; j<n; j++){
    uint16_t h;
    memcpy(&h, a + 2*(size_t)j, 2);
    aAcc[j] += embHalfToFloat(h);
  }
}

/* Add the first n floats of row a (4-byte aligned) to aAcc. */
static void addFloatsPortable(double *aAcc, const uint8_t *a, int n){
  const float *pf = (const float*)(const void*)a;
  int j;
  for(j=0; j<n; j++) aAcc[j] += pf[j];
}

/* Add the first n bfloat16s of row a to aAcc. */
static void addBf16Portable(double *aAcc, const uint8_t *a, int n){
  int j;
  for(j=0; j<n; j++){
    uint16_t h;
    memcpy(&h, a + 2*(size_t)j, 2);
    aAcc[j] += embBf16ToFloat(h);
  }
}

/* The weighted adders: aAcc[j] += element j times w.  The product is its
** own statement, so that no compiler fuses it with the sum. */
static void addHalvesWPortable(double *aAcc, const uint8_t *a, int n,
                               double w){
  int j;
  for(j=0; j<n; j++){
    uint16_t h;
    double x;
    memcpy(&h, a + 2*(size_t)j, 2);
    x = (double)embHalfToFloat(h) * w;
    aAcc[j] += x;
  }
}
static void addFloatsWPortable(double *aAcc, const uint8_t *a, int n,
                               double w){
  const float *pf = (const float*)(const void*)a;
  int j;
  for(j=0; j<n; j++){
    double x = (double)pf[j] * w;
    aAcc[j] += x;
  }
}
static void addBf16WPortable(double *aAcc, const uint8_t *a, int n, double w){
  int j;
  for(j=0; j<n; j++){
    uint16_t h;
    double x;
    memcpy(&h, a + 2*(size_t)j, 2);
    x = (double)embBf16ToFloat(h) * w;
    aAcc[j] += x;
  }
}
static void addI8WPortable(double *aAcc, const uint8_t *a, int n, double w){
  const int8_t *pi = (const int8_t*)(const void*)a;
  int j;
  for(j=0; j<n; j++){
    double x = (double)pi[j] * w;
    aAcc[j] += x;
  }
}

/* Add the first n components of the nRow (<= POOL_I8_CHUNK) I8 rows
** apRow[] to aAcc, summed as integers first. */
static void addI8RowsPortable(double *aAcc, const uint8_t *const *apRow,
                              int nRow, int n){
  int j, r;
  for(j=0; j<n; j++){
    int32_t s = 0;
    for(r=0; r<nRow; r++) s += (int8_t)apRow[r][j];
    aAcc[j] += (double)s;
  }
}

/*
** The sum of squares of aAcc[0..n), in four partial sums (element j into
** sum j%4, the tail into sum 0, then (s0 + s1) + (s2 + s3)), so that the
** vectorised version below adds exactly the same.
*/
static double sumSquaresPortable(const double *aAcc, int n){
  double a[4] = { 0.0, 0.0, 0.0, 0.0 };
  int j;
  for(j=0; j+4<=n; j+=4){
    double x0 = aAcc[j]*aAcc[j], x1 = aAcc[j+1]*aAcc[j+1];
    double x2 = aAcc[j+2]*aAcc[j+2], x3 = aAcc[j+3]*aAcc[j+3];
    a[0] += x0; a[1] += x1; a[2] += x2; a[3] += x3;
  }
  for(; j<n; j++){
    double x = aAcc[j]*aAcc[j];
    a[0] += x;
  }
  return (a[0] + a[1]) + (a[2] + a[3]);
}

/* aOut[j] = aAcc[j] * r as floats, for j < n */
static void scalePortable(const double *aAcc, int n, double r, float *aOut){
  int j;
  for(j=0; j<n; j++) aOut[j] = (float)(aAcc[j]*r);
}

/* ---- x86 adders ----------------------------------------------------- */

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

#define LOADU128(p) _mm_loadu_si128((const __m128i*)(const void*)(p))

/* Add the eight floats of x, widened to double, to aAcc[0..8). */
__attribute__((target("avx2")))
static inline void add8(double *aAcc, __m256 x){
  __m256d lo = _mm256_add_pd(_mm256_loadu_pd(aAcc),
                             _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
  __m256d hi = _mm256_add_pd(_mm256_loadu_pd(aAcc+4),
                             _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
  _mm256_storeu_pd(aAcc, lo);
  _mm256_storeu_pd(aAcc+4, hi);
}

/* The same times w */
__attribute__((target("avx2")))
static inline void add8w(double *aAcc, __m256 x, __m256d w){
  __m256d lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), w);
  __m256d hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), w);
  _mm256_storeu_pd(aAcc, _mm256_add_pd(_mm256_loadu_pd(aAcc), lo));
  _mm256_storeu_pd(aAcc+4, _mm256_add_pd(_mm256_loadu_pd(aAcc+4), hi));
}

/* Eight bfloat16s at p as floats */
__attribute__((target("avx2")))
static inline __m256 bf16x8(const uint8_t *p){
  __m256i x = _mm256_cvtepu16_epi32(LOADU128(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
}

/* Eight int8s at p as floats (exact) */
__attribute__((target("avx2")))
static inline __m256 i8x8(const uint8_t *p){
  __m128i b = _mm_loadl_epi64((const __m128i*)(const void*)p);
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
}

__attribute__((target("f16c,avx2")))
static void addHalvesF16c(double *aAcc, const uint8_t *a, int n){
  int j = 0;
  for(; j+8<=n; j+=8) add8(aAcc+j, _mm256_cvtph_ps(LOADU128(a + 2*(size_t)j)));
  addHalvesPortable(aAcc+j, a + 2*(size_t)j, n-j);
}

__attribute__((target("avx2")))
static void addFloatsAvx2(double *aAcc, const uint8_t *a, int n){
  int j = 0;
  for(; j+4<=n; j+=4){
    __m256d x = _mm256_cvtps_pd(_mm_loadu_ps((const float*)(const void*)(a + 4*(size_t)j)));
    _mm256_storeu_pd(aAcc+j, _mm256_add_pd(_mm256_loadu_pd(aAcc+j), x));
  }
  addFloatsPortable(aAcc+j, a + 4*(size_t)j, n-j);
}

__attribute__((target("avx2")))
static void addBf16Avx2(double *aAcc, const uint8_t *a, int n){
  int j = 0;
  for(; j+8<=n; j+=8) add8(aAcc+j, bf16x8(a + 2*(size_t)j));
  addBf16Portable(aAcc+j, a + 2*(size_t)j, n-j);
}

__attribute__((target("f16c,avx2")))
static void addHalvesWF16c(double *aAcc, const uint8_t *a, int n, double w){
  __m256d vw = _mm256_set1_pd(w);
  int j = 0;
  for(; j+8<=n; j+=8){
    add8w(aAcc+j, _mm256_cvtph_ps(LOADU128(a + 2*(size_t)j)), vw);
  }
  addHalvesWPortable(aAcc+j, a + 2*(size_t)j, n-j, w);
}

__attribute__((target("avx2")))
static void addFloatsWAvx2(double *aAcc, const uint8_t *a, int n, double w){
  __m256d vw = _mm256_set1_pd(w);
  int j = 0;
  for(; j+8<=n; j+=8){
    add8w(aAcc+j, _mm256_loadu_ps((const float*)(const void*)(a + 4*(size_t)j)),
          vw);
  }
  addFloatsWPortable(aAcc+j, a + 4*(size_t)j, n-j, w);
}

__attribute__((target("avx2")))
static void addBf16WAvx2(double *aAcc, const uint8_t *a, int n, double w){
  __m256d vw = _mm256_set1_pd(w);
  int j = 0;
  for(; j+8<=n; j+=8) add8w(aAcc+j, bf16x8(a + 2*(size_t)j), vw);
  addBf16WPortable(aAcc+j, a + 2*(size_t)j, n-j, w);
}

__attribute__((target("avx2")))
static void addI8WAvx2(double *aAcc, const uint8_t *a, int n, double w){
  __m256d vw = _mm256_set1_pd(w);
  int j = 0;
  for(; j+8<=n; j+=8) add8w(aAcc+j, i8x8(a + (size_t)j), vw);
  addI8WPortable(aAcc+j, a + (size_t)j, n-j, w);
}

/*
** The I8 rows: for each block of 16 components, the rows' bytes widened
** to 16-bit lanes and summed in a register (at most 255 rows of |x| <=
** 128: no overflow), then widened to double and added to aAcc.
*/
__attribute__((target("avx2")))
static void addI8RowsAvx2(double *aAcc, const uint8_t *const *apRow,
                          int nRow, int n){
  int j = 0, r;
  for(; j+16<=n; j+=16){
    __m256i s = _mm256_setzero_si256();
    __m128i lo, hi;
    for(r=0; r<nRow; r++){
      s = _mm256_add_epi16(s, _mm256_cvtepi8_epi16(LOADU128(apRow[r]+j)));
    }
    lo = _mm256_castsi256_si128(s);
    hi = _mm256_extracti128_si256(s, 1);
    add8(aAcc+j, _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(lo)));
    add8(aAcc+j+8, _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(hi)));
  }
  if( j<n ){
    const uint8_t *aTail[POOL_I8_CHUNK];
    for(r=0; r<nRow; r++) aTail[r] = apRow[r]+j;
    addI8RowsPortable(aAcc+j, aTail, nRow, n-j);
  }
}

__attribute__((target("avx2")))
static double sumSquaresAvx2(const double *aAcc, int n){
  __m256d s = _mm256_setzero_pd();
  double a[4];
  int j = 0;
  for(; j+4<=n; j+=4){
    __m256d x = _mm256_loadu_pd(aAcc+j);
    s = _mm256_add_pd(s, _mm256_mul_pd(x, x));
  }
  _mm256_storeu_pd(a, s);
  for(; j<n; j++){
    double x = aAcc[j]*aAcc[j];
    a[0] += x;
  }
  return (a[0] + a[1]) + (a[2] + a[3]);
}

__attribute__((target("avx2")))
static void scaleAvx2(const double *aAcc, int n, double r, float *aOut){
  __m256d vr = _mm256_set1_pd(r);
  int j = 0;
  for(; j+4<=n; j+=4){
    _mm_storeu_ps(aOut+j, _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_loadu_pd(aAcc+j),
                                                        vr)));
  }
  scalePortable(aAcc+j, n-j, r, aOut+j);
}

/* Does this CPU run AVX2, and F16C with it? */
static int cpuAvx2(void){
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
static int cpuF16c(void){
  unsigned eax, ebx, ecx = 0, edx;
  /* clang's __builtin_cpu_supports() knows no "f16c": ask CPUID leaf 1 */
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C)
      && cpuAvx2();
}
#endif

/* ---- the choice, made once ------------------------------------------ */

typedef void (*AddFn)(double*, const uint8_t*, int);
typedef void (*AddWFn)(double*, const uint8_t*, int, double);
typedef void (*AddRowsFn)(double*, const uint8_t *const*, int, int);

typedef struct PoolFns PoolFns;
struct PoolFns {
  AddFn xF32, xF16, xBf16;
  AddWFn xF32W, xF16W, xBf16W, xI8W;
  AddRowsFn xI8Rows;
  double (*xSumSquares)(const double*, int);
  void (*xScale)(const double*, int, double, float*);
};

static PoolFns poolPortable = {
  addFloatsPortable, addHalvesPortable, addBf16Portable,
  addFloatsWPortable, addHalvesWPortable, addBf16WPortable, addI8WPortable,
  addI8RowsPortable, sumSquaresPortable, scalePortable
};
static PoolFns poolBest;
static pthread_once_t poolOnce = PTHREAD_ONCE_INIT;

/* Fill poolBest with the adders for this CPU (once, under pthread_once:
** two threads embedding at once for the first time must not both write
** it). */
static void poolChoose(void){
  PoolFns f = poolPortable;
#if defined(__x86_64__) || defined(__i386__)
  if( cpuAvx2() ){
    f.xF32 = addFloatsAvx2;
    f.xBf16 = addBf16Avx2;
    f.xF32W = addFloatsWAvx2;
    f.xBf16W = addBf16WAvx2;
    f.xI8W = addI8WAvx2;
    f.xI8Rows = addI8RowsAvx2;
    f.xSumSquares = sumSquaresAvx2;
    f.xScale = scaleAvx2;
  }
  if( cpuF16c() ){
    f.xF16 = addHalvesF16c;
    f.xF16W = addHalvesWF16c;
  }
#endif
  poolBest = f;
}

/* The adders for this CPU, chosen on first use. */
static const PoolFns *poolFns(void){
  pthread_once(&poolOnce, poolChoose);
  return &poolBest;
}

int embPoolVariants(int eType, void (**aOut)(double*, const uint8_t*, int),
                    int nMax){
  const PoolFns *f = poolFns();
  AddFn xPortable, xBest;
  int n = 0;
  switch( eType ){
    case EMB_DT_F16:  xPortable = poolPortable.xF16;  xBest = f->xF16;  break;
    case EMB_DT_BF16: xPortable = poolPortable.xBf16; xBest = f->xBf16; break;
    default:          xPortable = poolPortable.xF32;  xBest = f->xF32;  break;
  }
  if( n<nMax ) aOut[n++] = xPortable;
  if( n<nMax && xBest!=xPortable ) aOut[n++] = xBest;
  return n;
}

int embPoolWeightedVariants(int eType,
                            void (**aOut)(double*, const uint8_t*, int, double),
                            int nMax){
  const PoolFns *f = poolFns();
  AddWFn xPortable, xBest;
  int n = 0;
  switch( eType ){
    case EMB_DT_F16:  xPortable = poolPortable.xF16W;  xBest = f->xF16W;  break;
    case EMB_DT_BF16: xPortable = poolPortable.xBf16W; xBest = f->xBf16W; break;
    case EMB_DT_I8:   xPortable = poolPortable.xI8W;   xBest = f->xI8W;   break;
    default:          xPortable = poolPortable.xF32W;  xBest = f->xF32W;  break;
  }
  if( n<nMax ) aOut[n++] = xPortable;
  if( n<nMax && xBest!=xPortable ) aOut[n++] = xBest;
  return n;
}

int embPoolFinishVariants(double (**aSum)(const double*, int),
                          void (**aScale)(const double*, int, double, float*),
                          int nMax){
  const PoolFns *f = poolFns();
  int n = 0;
  if( n<nMax ){
    aSum[n] = poolPortable.xSumSquares;
    aScale[n++] = poolPortable.xScale;
  }
  if( n<nMax && f->xSumSquares!=poolPortable.xSumSquares ){
    aSum[n] = f->xSumSquares;
    aScale[n++] = f->xScale;
  }
  return n;
}

int embPoolI8Variants(void (**aOut)(double*, const uint8_t *const*, int, int),
                      int nMax){
  const PoolFns *f = poolFns();
  int n = 0;
  if( n<nMax ) aOut[n++] = poolPortable.xI8Rows;
  if( n<nMax && f->xI8Rows!=poolPortable.xI8Rows ) aOut[n++] = f->xI8Rows;
  return n;
}

/* ---- pooling ---------------------------------------------------------- */

/* The bytes of one element of the matrix */
static size_t poolElemSize(int eType){
  return eType==EMB_DT_F32 ? 4 : eType==EMB_DT_I8 ? 1 : 2;
}

/*
** The row of token id, or NULL when it is not pooled: out of range, the
** skip id, or mapped (token.row) to a row the matrix does not have.
*/
static const uint8_t *poolRow(const EmbModel *p, int id, size_t rowBytes){
  uint32_t r;
  if( id<0 || id>=p->nVocab || id==p->iSkipId ) return 0;
  r = p->aTokenRow ? embU32At(p->aTokenRow, (uint64_t)id) : (uint32_t)id;
  if( r>=(uint32_t)p->nRow ) return 0;
  return p->aMatrix + (size_t)r*rowBytes;
}

/* The weight of token id (token.weight), as a double */
static double poolWeight(const EmbModel *p, int id){
  float w;
  memcpy(&w, p->aTokenWeight + 4*(size_t)id, 4);
  return (double)w;
}

void embPoolMean(const EmbModel *p, const int *aId, int nId, int nDims,
                 double *aAcc, float *aOut){
  const PoolFns *f = poolFns();
  size_t rowBytes = (size_t)p->nDims * poolElemSize(p->eMatrixType);
  double norm;
  int i, nUsed = 0;
  memset(aAcc, 0, sizeof(double)*(size_t)nDims);
  /* The loader checks that the matrix is 8-byte aligned, and rows are
  ** whole elements, so each row is aligned for its element type. */
  if( p->aTokenWeight==0 && p->eMatrixType==EMB_DT_I8 ){
    const uint8_t *apRow[POOL_I8_CHUNK];
    int nRow = 0;
    for(i=0; i<nId; i++){
      const uint8_t *pRow = poolRow(p, aId[i], rowBytes);
      if( pRow==0 ) continue;
      apRow[nRow++] = pRow;
      nUsed++;
      if( nRow==POOL_I8_CHUNK ){
        f->xI8Rows(aAcc, apRow, nRow, nDims);
        nRow = 0;
      }
    }
    if( nRow>0 ) f->xI8Rows(aAcc, apRow, nRow, nDims);
  }else if( p->aTokenWeight==0 ){
    AddFn xAdd = p->eMatrixType==EMB_DT_F16 ? f->xF16
               : p->eMatrixType==EMB_DT_BF16 ? f->xBf16 : f->xF32;
    for(i=0; i<nId; i++){
      const uint8_t *pRow = poolRow(p, aId[i], rowBytes);
      if( pRow==0 ) continue;
      nUsed++;
      xAdd(aAcc, pRow, nDims);
    }
  }else{
    AddWFn xAdd = p->eMatrixType==EMB_DT_F16 ? f->xF16W
                : p->eMatrixType==EMB_DT_BF16 ? f->xBf16W
                : p->eMatrixType==EMB_DT_I8 ? f->xI8W : f->xF32W;
    for(i=0; i<nId; i++){
      const uint8_t *pRow = poolRow(p, aId[i], rowBytes);
      if( pRow==0 ) continue;
      nUsed++;
      xAdd(aAcc, pRow, nDims, poolWeight(p, aId[i]));
    }
  }
  norm = f->xSumSquares(aAcc, nDims);
  if( nUsed==0 || !(norm>0.0) || !isfinite(norm) ){
    memset(aOut, 0, sizeof(float)*(size_t)nDims);
    return;
  }
  f->xScale(aAcc, nDims, 1.0/sqrt(norm), aOut);
}
