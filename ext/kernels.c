/*
** kernels.c: bquant, hamming, the dot products and the cosine formula.
**
**     const EmbKernels *k = embKernels();
**     uint64_t d = k->xHamming(aBits, bBits, nByte);
**
** HOW IT WORKS
** Each kernel body is written once as an always-inline function over
** unaligned little-endian data (memcpy loads, which compilers turn into
** plain loads) and instantiated for several instruction sets with
** __attribute__((target)).  Float sums run in EMB_LANES independent float
** lanes so the compiler can vectorise them without -ffast-math (no
** reassociation is needed: each lane is its own running sum), and the lanes
** are added in double in a fixed order at the end, so every variant returns
** the same bits.  Hamming distance XORs 64-bit words and counts bits with
** popcount; xHammingMany compares one code with many, the code's word
** count a compile-time constant for 8- to 64-byte codes, and
** xHammingWithin (embed_index's scan) does the same keeping only the rows
** within a threshold, so the caller never walks a million distances.
** Those two and the 4-bit scans (xFineScan, xFineRows) are also written
** in AVX2 and AVX-512 intrinsics, where the compiler's loops fell short;
** integer sums, so every variant still returns the same answers.
** embKernels() asks the CPU once which variant it can run.
*/
#include "kernels.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
# error "sqlite-embed reads float32 vectors as little-endian; port the loads first"
#endif

#define EMB_LANES 16
#define EMB_INLINE static inline __attribute__((always_inline))

EMB_INLINE uint64_t hammingBody(const uint8_t *a, const uint8_t *b,
                                size_t nByte){
  uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  size_t i = 0;
  for(; i+32<=nByte; i+=32){
    uint64_t x[4], y[4];
    memcpy(x, a+i, 32);
    memcpy(y, b+i, 32);
    c0 += (uint64_t)__builtin_popcountll(x[0]^y[0]);
    c1 += (uint64_t)__builtin_popcountll(x[1]^y[1]);
    c2 += (uint64_t)__builtin_popcountll(x[2]^y[2]);
    c3 += (uint64_t)__builtin_popcountll(x[3]^y[3]);
  }
  for(; i+8<=nByte; i+=8){
    uint64_t x, y;
    memcpy(&x, a+i, 8);
    memcpy(&y, b+i, 8);
    c0 += (uint64_t)__builtin_popcountll(x^y);
  }
  for(; i<nByte; i++){
    c1 += (uint64_t)__builtin_popcount((unsigned)(a[i]^b[i]));
  }
  return c0 + c1 + c2 + c3;
}

/* One code against many.  Word-sized codes of 1, 2, 4 or 8 words get a
** loop with the word count fixed at compile time, the query in registers;
** KEEP(r, c) is what is done with row r's distance c. */
#define EMB_HAMMING_ROWS(W, KEEP) do{                                  \
  uint64_t qw[W];                                                      \
  memcpy(qw, q, sizeof(qw));                                           \
  for(r=0; r<nRow; r++, a+=nStride){                                   \
    uint64_t x[W], c = 0;                                              \
    int w;                                                             \
    memcpy(x, a, sizeof(x));                                           \
    for(w=0; w<W; w++) c += (uint64_t)__builtin_popcountll(x[w]^qw[w]); \
    KEEP(r, c);                                                        \
  }                                                                    \
}while(0)

/* xHammingMany: every distance. */
#define EMB_KEEP_ALL(r, c)  (aOut[r] = (uint32_t)(c))
#define EMB_HAMMING_WORDS(W)  EMB_HAMMING_ROWS(W, EMB_KEEP_ALL)

/* xHammingWithin: the rows at most T bits away.  Every row's index and
** distance are written at aIdx[n], aDist[n], and n moves on when the row
** is kept, so the loop has no branch to mispredict (the arrays need room
** for nRow). */
#define EMB_KEEP_WITHIN(r, c) do{                                      \
  aIdx[n] = (uint32_t)(r);                                             \
  aDist[n] = (uint32_t)(c);                                            \
  n += (c)<=T;                                                         \
}while(0)
#define EMB_HAMMING_WITHIN_WORDS(W)  EMB_HAMMING_ROWS(W, EMB_KEEP_WITHIN)

EMB_INLINE size_t hammingWithinBody(const uint8_t *q, const uint8_t *a,
                                    size_t nByte, size_t nStride, size_t nRow,
                                    uint32_t T, uint32_t *aIdx,
                                    uint32_t *aDist){
  size_t r, n = 0;
  switch( nByte ){
    case 8:  EMB_HAMMING_WITHIN_WORDS(1); break;
    case 16: EMB_HAMMING_WITHIN_WORDS(2); break;
    case 32: EMB_HAMMING_WITHIN_WORDS(4); break;
    case 64: EMB_HAMMING_WITHIN_WORDS(8); break;
    default:
      for(r=0; r<nRow; r++, a+=nStride){
        uint64_t c = hammingBody(q, a, nByte);
        EMB_KEEP_WITHIN(r, c);
      }
      break;
  }
  return n;
}

EMB_INLINE void hammingManyBody(const uint8_t *q, const uint8_t *a,
                                size_t nByte, size_t nStride, size_t nRow,
                                uint32_t *aOut){
  size_t r;
  switch( nByte ){
    case 8:  EMB_HAMMING_WORDS(1); break;
    case 16: EMB_HAMMING_WORDS(2); break;
    case 32: EMB_HAMMING_WORDS(4); break;
    case 64: EMB_HAMMING_WORDS(8); break;
    default:
      for(r=0; r<nRow; r++, a+=nStride){
        aOut[r] = (uint32_t)hammingBody(q, a, nByte);
      }
      break;
  }
}

/* The EMB_LANES (16) float lanes as two GCC/Clang vectors of 8, lanes 0-7
** and 8-15: the compiler keeps the six sums in registers (one ymm each
** with AVX2) instead of going through arrays on the stack every step.
** Each lane is still its own float running sum, so the answer is the same
** on every target. */
typedef float EmbLanes8 __attribute__((vector_size(32)));
_Static_assert(EMB_LANES==16, "dot3Body() holds its lanes in two vectors of 8");

EMB_INLINE void dot3Body(const uint8_t *a, const uint8_t *b, size_t n,
                         double *pAB, double *pAA, double *pBB){
  EmbLanes8 ab0 = {0}, ab1 = {0}, aa0 = {0}, aa1 = {0}, bb0 = {0}, bb1 = {0};
  float ab[EMB_LANES], aa[EMB_LANES], bb[EMB_LANES];
  double sAB = 0.0, sAA = 0.0, sBB = 0.0;
  size_t i = 0;
  int j;
  for(; i+EMB_LANES<=n; i+=EMB_LANES){
    EmbLanes8 x0, x1, y0, y1;
    memcpy(&x0, a + 4*i, 32);
    memcpy(&x1, a + 4*i + 32, 32);
    memcpy(&y0, b + 4*i, 32);
    memcpy(&y1, b + 4*i + 32, 32);
    ab0 += x0*y0;
    ab1 += x1*y1;
    aa0 += x0*x0;
    aa1 += x1*x1;
    bb0 += y0*y0;
    bb1 += y1*y1;
  }
  memcpy(ab, &ab0, 32);
  memcpy(ab+8, &ab1, 32);
  memcpy(aa, &aa0, 32);
  memcpy(aa+8, &aa1, 32);
  memcpy(bb, &bb0, 32);
  memcpy(bb+8, &bb1, 32);
  for(j=0; i<n; i++, j++){
    float x = embFloatAt(a, i), y = embFloatAt(b, i);
    ab[j] += x*y;
    aa[j] += x*x;
    bb[j] += y*y;
  }
  for(j=0; j<EMB_LANES; j++){
    sAB += ab[j];
    sAA += aa[j];
    sBB += bb[j];
  }
  *pAB = sAB;
  *pAA = sAA;
  *pBB = sBB;
}

/* 4-bit codes against an int8 query (see kernels.h).  Each nibble n is
** used as u = n ^ 8 (0..15, the signed value plus 8), which a byte
** multiply takes unsigned, and 8 times the query's sum is taken off at
** the end: u*q sums fit 16 bits for pairs (2 x 15 x 128), and the total
** fits 32 bits for any dims an index allows. */
/* Row r of a fine scan: apRow[r] for a list of rows (xFineRows), else
** nStride apart from a (xFineScan). */
#define EMB_FINE_ROW(r)  (apRow ? apRow[r] : a + (r)*nStride)

EMB_INLINE void fineScanBody(const int8_t *qEven, const int8_t *qOdd,
                             const uint8_t *a, size_t nByte, size_t nStride,
                             const uint8_t *const *apRow, size_t nRow,
                             int32_t *aOut){
  int32_t qSum = 0;
  size_t r, j;
  for(j=0; j<nByte; j++) qSum += qEven[j] + qOdd[j];
  for(r=0; r<nRow; r++){
    const uint8_t *x = EMB_FINE_ROW(r);
    int32_t s = 0;
    for(j=0; j<nByte; j++){
      s += qEven[j]*((x[j] & 15) ^ 8) + qOdd[j]*((x[j] >> 4) ^ 8);
    }
    aOut[r] = s - 8*qSum;
  }
}

/* The variants.  Each is the same source compiled for another target. */
static uint64_t hammingPortable(const uint8_t *a, const uint8_t *b, size_t n){
  return hammingBody(a, b, n);
}
static void dot3Portable(const uint8_t *a, const uint8_t *b, size_t n,
                         double *pAB, double *pAA, double *pBB){
  dot3Body(a, b, n, pAB, pAA, pBB);
}
static void hammingManyPortable(const uint8_t *q, const uint8_t *a,
                                size_t nByte, size_t nStride, size_t nRow,
                                uint32_t *aOut){
  hammingManyBody(q, a, nByte, nStride, nRow, aOut);
}
static size_t hammingWithinPortable(const uint8_t *q, const uint8_t *a,
                                    size_t nByte, size_t nStride, size_t nRow,
                                    uint32_t T, uint32_t *aIdx,
                                    uint32_t *aDist){
  return hammingWithinBody(q, a, nByte, nStride, nRow, T, aIdx, aDist);
}
static void fineScanPortable(const int8_t *qEven, const int8_t *qOdd,
                             const uint8_t *a, size_t nByte, size_t nStride,
                             size_t nRow, int32_t *aOut){
  fineScanBody(qEven, qOdd, a, nByte, nStride, 0, nRow, aOut);
}
static void fineRowsPortable(const int8_t *qEven, const int8_t *qOdd,
                             size_t nByte, const uint8_t *const *apRow,
                             size_t nRow, int32_t *aOut){
  fineScanBody(qEven, qOdd, 0, nByte, 0, apRow, nRow, aOut);
}

#if defined(__x86_64__) || defined(__i386__)
# define EMB_X86 1
__attribute__((target("popcnt,sse4.2")))
static uint64_t hammingV2(const uint8_t *a, const uint8_t *b, size_t n){
  return hammingBody(a, b, n);
}
__attribute__((target("popcnt,sse4.2")))
static void dot3V2(const uint8_t *a, const uint8_t *b, size_t n,
                   double *pAB, double *pAA, double *pBB){
  dot3Body(a, b, n, pAB, pAA, pBB);
}
__attribute__((target("popcnt,sse4.2")))
static void hammingManyV2(const uint8_t *q, const uint8_t *a, size_t nByte,
                          size_t nStride, size_t nRow, uint32_t *aOut){
  hammingManyBody(q, a, nByte, nStride, nRow, aOut);
}
__attribute__((target("popcnt,sse4.2")))
static size_t hammingWithinV2(const uint8_t *q, const uint8_t *a,
                              size_t nByte, size_t nStride, size_t nRow,
                              uint32_t T, uint32_t *aIdx, uint32_t *aDist){
  return hammingWithinBody(q, a, nByte, nStride, nRow, T, aIdx, aDist);
}
__attribute__((target("popcnt,sse4.2")))
static void fineScanV2(const int8_t *qEven, const int8_t *qOdd,
                       const uint8_t *a, size_t nByte, size_t nStride,
                       size_t nRow, int32_t *aOut){
  fineScanBody(qEven, qOdd, a, nByte, nStride, 0, nRow, aOut);
}
__attribute__((target("popcnt,sse4.2")))
static void fineRowsV2(const int8_t *qEven, const int8_t *qOdd,
                       size_t nByte, const uint8_t *const *apRow,
                       size_t nRow, int32_t *aOut){
  fineScanBody(qEven, qOdd, 0, nByte, 0, apRow, nRow, aOut);
}
__attribute__((target("avx2,popcnt")))
static uint64_t hammingAvx2(const uint8_t *a, const uint8_t *b, size_t n){
  return hammingBody(a, b, n);
}
__attribute__((target("avx2,popcnt")))
static void dot3Avx2(const uint8_t *a, const uint8_t *b, size_t n,
                     double *pAB, double *pAA, double *pBB){
  dot3Body(a, b, n, pAB, pAA, pBB);
}

/* The vector scans' bookkeeping.  withinKeep: rows r+b of the eight at
** r whose bit b is set in m (their distances ad[b]) kept at aIdx[n],
** aDist[n]; returns the new count.  withinTail: rows r..nRow-1 by the
** scalar loop, after the n kept so far; returns the count.  Inlined, so
** each variant's scalar loop is compiled for its own target. */
EMB_INLINE size_t withinKeep(unsigned m, const uint32_t *ad, size_t r,
                             uint32_t *aIdx, uint32_t *aDist, size_t n){
  while( m ){
    int b = __builtin_ctz(m);
    aIdx[n] = (uint32_t)(r + (size_t)b);
    aDist[n] = ad[b];
    n++;
    m &= m-1;
  }
  return n;
}
EMB_INLINE size_t withinTail(const uint8_t *q, const uint8_t *a,
                             size_t nByte, size_t nStride, size_t nRow,
                             size_t r, uint32_t T, uint32_t *aIdx,
                             uint32_t *aDist, size_t n){
  size_t i = hammingWithinBody(q, a, nByte, nStride, nRow-r, T, aIdx+n,
                               aDist+n);
  while( i-- ){
    aIdx[n] += (uint32_t)r;
    n++;
  }
  return n;
}

/*
** The Hamming scan in AVX2, for codes stored back to back of 8, 16 or a
** multiple of 32 bytes (64, 128, 256, 512 ... dims): 32 code bytes a
** step XORed with the query, each nibble's bit count looked up in a
** 16-entry table (vpshufb), the byte counts summed into four 64-bit lanes
** (vpsadbw).  Eight rows are counted together and their lanes folded
** into one vector of eight 32-bit distances, so the scan compares eight
** rows with T in one instruction and most steps keep none.  The scalar
** loop this replaces read at about half the memory's speed on a Zen 3
** (8-9 of 16.7 GB/s); this one keeps up with it.  The scan asks for the
** codes HAMMING_PREFETCH bytes ahead: on that machine, 32 MB took a fifth
** longer with the hardware prefetcher alone.  Other sizes and strides use
** the scalar loop.
*/
#include <immintrin.h>
#define HAMMING_PREFETCH 2048

/* The bit count of each byte of x. */
__attribute__((target("avx2,popcnt")))
EMB_INLINE __m256i popcnt8Avx2(__m256i x){
  const __m256i lut = _mm256_setr_epi8(0,1,1,2,1,2,2,3,1,2,2,3,2,3,3,4,
                                       0,1,1,2,1,2,2,3,1,2,2,3,2,3,3,4);
  const __m256i m4 = _mm256_set1_epi8(15);
  return _mm256_add_epi8(
      _mm256_shuffle_epi8(lut, _mm256_and_si256(x, m4)),
      _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), m4)));
}

/* Bits set in 32 bytes, as four 64-bit sums (each of 8 bytes). */
__attribute__((target("avx2,popcnt")))
EMB_INLINE __m256i sad8Avx2(__m256i x){
  return _mm256_sad_epu8(popcnt8Avx2(x), _mm256_setzero_si256());
}

/* Four vectors of four 64-bit sums (each < 2^32) folded so that 32-bit
** lane 0 of each 128-bit half holds s0's two sums in that half, lane 1
** s1's, lane 2 s2's, lane 3 s3's. */
__attribute__((target("avx2,popcnt")))
EMB_INLINE __m256i fold4Avx2(__m256i s0, __m256i s1, __m256i s2,
                            __m256i s3){
  __m256i a01 = _mm256_or_si256(s0, _mm256_slli_epi64(s1, 32));
  __m256i a23 = _mm256_or_si256(s2, _mm256_slli_epi64(s3, 32));
  return _mm256_add_epi32(_mm256_unpacklo_epi64(a01, a23),
                          _mm256_unpackhi_epi64(a01, a23));
}

/* fold4Avx2() of the bit counts of the four vectors at a, a+32, a+64,
** a+96, each XORed with qq. */
__attribute__((target("avx2,popcnt")))
EMB_INLINE __m256i fold4AtAvx2(const uint8_t *a, __m256i qq){
#define EMB_SAD_AT(o) sad8Avx2(_mm256_xor_si256(qq, \
    _mm256_loadu_si256((const __m256i*)(const void*)(a+(o)))))
  return fold4Avx2(EMB_SAD_AT(0), EMB_SAD_AT(32), EMB_SAD_AT(64),
                   EMB_SAD_AT(96));
#undef EMB_SAD_AT
}

/* Two folds of four rows each (rows 0-3 in lo, 4-7 in hi) as one vector
** of eight row sums in row order. */
__attribute__((target("avx2,popcnt")))
EMB_INLINE __m256i join8Avx2(__m256i lo, __m256i hi){
  return _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x20),
                          _mm256_permute2x128_si256(lo, hi, 0x31));
}

/* The distances of the eight rows from a (nByte bytes each, back to back)
** to q, in row order.  nByte is 8, 16 or a multiple of 32; for 8 and 16,
** qq holds q repeated to 32 bytes, for 32 q itself. */
__attribute__((target("avx2,popcnt")))
EMB_INLINE __m256i hamming8Avx2(const uint8_t *q, __m256i qq,
                               const uint8_t *a, size_t nByte){
  if( nByte==8 ){
    /* four rows a vector: each 64-bit sum is a row's distance */
    __m256i s0 = sad8Avx2(_mm256_xor_si256(qq,
                     _mm256_loadu_si256((const __m256i*)(const void*)a)));
    __m256i s1 = sad8Avx2(_mm256_xor_si256(qq,
                     _mm256_loadu_si256((const __m256i*)(const void*)(a+32))));
    return _mm256_permutevar8x32_epi32(
        _mm256_or_si256(s0, _mm256_slli_epi64(s1, 32)),
        _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
  }else if( nByte==16 ){
    /* two rows a vector, one a 128-bit half: the fold leaves rows 0, 2,
    ** 4, 6 in the low half and 1, 3, 5, 7 in the high one */
    return _mm256_permutevar8x32_epi32(fold4AtAvx2(a, qq),
                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }else if( nByte==32 ){
    /* a row a vector (written out: the loop below would go through the
    ** stack) */
    return join8Avx2(fold4AtAvx2(a, qq), fold4AtAvx2(a+128, qq));
  }else{
    /* a row is nByte/32 vectors: their byte counts summed, at most 8 a
    ** vector, while they fit a byte (31 vectors), then their sums */
    __m256i s[8];
    int r;
    for(r=0; r<8; r++){
      const uint8_t *x = a + (size_t)r*nByte;
      __m256i acc = _mm256_setzero_si256(), cnt = _mm256_setzero_si256();
      size_t j;
      int nIn = 0;
      for(j=0; j<nByte; j+=32){
        cnt = _mm256_add_epi8(cnt, popcnt8Avx2(_mm256_xor_si256(
            _mm256_loadu_si256((const __m256i*)(const void*)(x+j)),
            _mm256_loadu_si256((const __m256i*)(const void*)(q+j)))));
        if( ++nIn==31 ){
          acc = _mm256_add_epi64(acc,
                                 _mm256_sad_epu8(cnt, _mm256_setzero_si256()));
          cnt = _mm256_setzero_si256();
          nIn = 0;
        }
      }
      s[r] = _mm256_add_epi64(acc, _mm256_sad_epu8(cnt, _mm256_setzero_si256()));
    }
    return join8Avx2(fold4Avx2(s[0], s[1], s[2], s[3]),
                     fold4Avx2(s[4], s[5], s[6], s[7]));
  }
}

/* Whether hamming8Avx2() takes nByte-byte codes nStride apart; *pqq then
** holds q (repeated for 8 and 16 bytes) where it fits 32 bytes. */
__attribute__((target("avx2,popcnt")))
EMB_INLINE int hamming8Setup(const uint8_t *q, size_t nByte,
                            size_t nStride, __m256i *pqq){
  if( nStride!=nByte ) return 0;
  if( nByte==8 ){
    uint64_t w;
    memcpy(&w, q, 8);
    *pqq = _mm256_set1_epi64x((long long)w);
  }else if( nByte==16 ){
    *pqq = _mm256_broadcastsi128_si256(
               _mm_loadu_si128((const __m128i*)(const void*)q));
  }else if( nByte==32 ){
    *pqq = _mm256_loadu_si256((const __m256i*)(const void*)q);
  }else if( nByte%32==0 ){
    *pqq = _mm256_setzero_si256();
  }else{
    return 0;
  }
  return 1;
}

/* A later part of the codes, asked for now; the address may lie past the
** codes (a prefetch never faults), so it is made as an integer. */
#define EMB_PREFETCH_AHEAD(a) \
  _mm_prefetch((const char*)((uintptr_t)(a) + HAMMING_PREFETCH), _MM_HINT_T0)

__attribute__((target("avx2,popcnt")))
static void hammingManyAvx2(const uint8_t *q, const uint8_t *a, size_t nByte,
                            size_t nStride, size_t nRow, uint32_t *aOut){
  size_t r = 0;
  __m256i qq;
  if( hamming8Setup(q, nByte, nStride, &qq) ){
    for(; r+8<=nRow; r+=8, a+=8*nByte){
      _mm256_storeu_si256((__m256i*)(void*)(aOut+r),
                          hamming8Avx2(q, qq, a, nByte));
    }
  }
  hammingManyBody(q, a, nByte, nStride, nRow-r, aOut+r);
}

__attribute__((target("avx2,popcnt")))
static size_t hammingWithinAvx2(const uint8_t *q, const uint8_t *a,
                                size_t nByte, size_t nStride, size_t nRow,
                                uint32_t T, uint32_t *aIdx, uint32_t *aDist){
  size_t r = 0, n = 0;
  __m256i qq;
  if( T<0x7fffffff && hamming8Setup(q, nByte, nStride, &qq) ){
    const __m256i tt = _mm256_set1_epi32((int)T);
    for(; r+8<=nRow; r+=8, a+=8*nByte){
      __m256i d;
      unsigned m;
      size_t j;
      for(j=0; j<8*nByte; j+=64) EMB_PREFETCH_AHEAD(a+j);
      d = hamming8Avx2(q, qq, a, nByte);
      m = 0xffu & ~(unsigned)_mm256_movemask_ps(
                      _mm256_castsi256_ps(_mm256_cmpgt_epi32(d, tt)));
      if( m ){
        uint32_t ad[8];
        _mm256_storeu_si256((__m256i*)(void*)ad, d);
        n = withinKeep(m, ad, r, aIdx, aDist, n);
      }
    }
  }
  return withinTail(q, a, nByte, nStride, nRow, r, T, aIdx, aDist, n);
}

/* fineScanBody() in AVX2: 32 code bytes a step, the nibbles split with
** masks, multiplied by the query bytes with vpmaddubsw (unsigned by
** signed, pairs summed to 16 bits) and widened to 32-bit sums. */
__attribute__((target("avx2,popcnt")))
EMB_INLINE __m256i fineStepAvx2(const int8_t *qEven, const int8_t *qOdd,
                                const uint8_t *x, size_t j, __m256i acc){
  const __m256i k15 = _mm256_set1_epi8(15), k8 = _mm256_set1_epi8(8);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i b = _mm256_loadu_si256((const __m256i*)(const void*)(x+j));
  __m256i lo = _mm256_xor_si256(_mm256_and_si256(b, k15), k8);
  __m256i hi = _mm256_xor_si256(
                 _mm256_and_si256(_mm256_srli_epi16(b, 4), k15), k8);
  __m256i p = _mm256_add_epi16(
      _mm256_maddubs_epi16(lo,
          _mm256_loadu_si256((const __m256i*)(const void*)(qEven+j))),
      _mm256_maddubs_epi16(hi,
          _mm256_loadu_si256((const __m256i*)(const void*)(qOdd+j))));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
}

__attribute__((target("avx2,popcnt")))
EMB_INLINE void fineBodyAvx2(const int8_t *qEven, const int8_t *qOdd,
                             const uint8_t *a, size_t nByte, size_t nStride,
                             const uint8_t *const *apRow, size_t nRow,
                             int32_t *aOut){
  int32_t qSum = 0;
  size_t r, j;
  for(j=0; j<nByte; j++) qSum += qEven[j] + qOdd[j];
  /* Two rows a step: their sums reduced together. */
  for(r=0; r+2<=nRow; r+=2){
    const uint8_t *x0 = EMB_FINE_ROW(r), *x1 = EMB_FINE_ROW(r+1);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    __m128i h;
    for(j=0; j<nByte; j+=32){
      acc0 = fineStepAvx2(qEven, qOdd, x0, j, acc0);
      acc1 = fineStepAvx2(qEven, qOdd, x1, j, acc1);
    }
    /* lanes of row 0 and row 1 side by side, then halves and pairs */
    acc0 = _mm256_hadd_epi32(acc0, acc1);
    h = _mm_add_epi32(_mm256_castsi256_si128(acc0),
                      _mm256_extracti128_si256(acc0, 1));
    h = _mm_hadd_epi32(h, h);
    aOut[r] = _mm_cvtsi128_si32(h) - 8*qSum;
    aOut[r+1] = _mm_extract_epi32(h, 1) - 8*qSum;
  }
  if( r<nRow ){
    const uint8_t *x = EMB_FINE_ROW(r);
    __m256i acc = _mm256_setzero_si256();
    __m128i h;
    for(j=0; j<nByte; j+=32) acc = fineStepAvx2(qEven, qOdd, x, j, acc);
    h = _mm_add_epi32(_mm256_castsi256_si128(acc),
                      _mm256_extracti128_si256(acc, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1,0,3,2)));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2,3,0,1)));
    aOut[r] = _mm_cvtsi128_si32(h) - 8*qSum;
  }
}

__attribute__((target("avx2,popcnt")))
static void fineScanAvx2(const int8_t *qEven, const int8_t *qOdd,
                         const uint8_t *a, size_t nByte, size_t nStride,
                         size_t nRow, int32_t *aOut){
  fineBodyAvx2(qEven, qOdd, a, nByte, nStride, 0, nRow, aOut);
}
__attribute__((target("avx2,popcnt")))
static void fineRowsAvx2(const int8_t *qEven, const int8_t *qOdd,
                         size_t nByte, const uint8_t *const *apRow,
                         size_t nRow, int32_t *aOut){
  fineBodyAvx2(qEven, qOdd, 0, nByte, 0, apRow, nRow, aOut);
}
#define fineScanAvx512 fineScanAvx2
#define fineRowsAvx512 fineRowsAvx2

/*
** AVX-512 with VPOPCNTDQ: popcount of eight 64-bit words an instruction.
** For 256-bit codes stored back to back (embed_index at 256 dims) eight
** rows are counted together: four 512-bit loads hold rows r..r+7, each
** row four neighbouring lanes; two shuffle-and-add steps leave each row's
** sum in the first lane of its 256-bit half, and two permutes gather the
** eight sums for one store.  Other sizes use the AVX2 scan.
*/
#define EMB_AVX512 "avx512f,avx512vpopcntdq,avx2,popcnt"

__attribute__((target(EMB_AVX512)))
static uint64_t hammingAvx512(const uint8_t *a, const uint8_t *b, size_t n){
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for(; i+64<=n; i+=64){
    __m512i x = _mm512_xor_si512(_mm512_loadu_si512((const void*)(a+i)),
                                 _mm512_loadu_si512((const void*)(b+i)));
    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
  }
  return (uint64_t)_mm512_reduce_add_epi64(acc) + hammingBody(a+i, b+i, n-i);
}

__attribute__((target(EMB_AVX512)))
static void dot3Avx512(const uint8_t *a, const uint8_t *b, size_t n,
                       double *pAB, double *pAA, double *pBB){
  dot3Body(a, b, n, pAB, pAA, pBB);
}


/* Row sums of a vector holding two 256-bit rows (four lanes each): the
** sums end up in lanes 0 and 4. */
__attribute__((target(EMB_AVX512)))
static inline __m512i rowSums2(__m512i x){
  x = _mm512_add_epi64(x, _mm512_shuffle_epi32(x, _MM_PERM_BADC));
  return _mm512_add_epi64(x, _mm512_shuffle_i64x2(x, x, _MM_SHUFFLE(2,3,0,1)));
}

/* The distances of eight back-to-back 256-bit codes from a to the code
** held twice in qq, one 64-bit lane each. */
__attribute__((target(EMB_AVX512)))
static inline __m512i hamming8x256(const uint8_t *a, __m512i qq){
  const __m512i idxPair = _mm512_set_epi64(0, 0, 0, 0, 12, 8, 4, 0);
  const __m512i idxJoin = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
  __m512i s0 = rowSums2(_mm512_popcnt_epi64(_mm512_xor_si512(
                 _mm512_loadu_si512((const void*)a), qq)));
  __m512i s1 = rowSums2(_mm512_popcnt_epi64(_mm512_xor_si512(
                 _mm512_loadu_si512((const void*)(a+64)), qq)));
  __m512i s2 = rowSums2(_mm512_popcnt_epi64(_mm512_xor_si512(
                 _mm512_loadu_si512((const void*)(a+128)), qq)));
  __m512i s3 = rowSums2(_mm512_popcnt_epi64(_mm512_xor_si512(
                 _mm512_loadu_si512((const void*)(a+192)), qq)));
  __m512i t01 = _mm512_permutex2var_epi64(s0, idxPair, s1);
  __m512i t23 = _mm512_permutex2var_epi64(s2, idxPair, s3);
  return _mm512_permutex2var_epi64(t01, idxJoin, t23);
}

__attribute__((target(EMB_AVX512)))
static void hammingManyAvx512(const uint8_t *q, const uint8_t *a,
                              size_t nByte, size_t nStride, size_t nRow,
                              uint32_t *aOut){
  size_t r = 0;
  if( nByte==32 && nStride==32 ){
    __m512i qq = _mm512_broadcast_i64x4(
                     _mm256_loadu_si256((const __m256i*)(const void*)q));
    for(; r+8<=nRow; r+=8, a+=256){
      _mm256_storeu_si256((__m256i*)(void*)(aOut+r),
                          _mm512_cvtepi64_epi32(hamming8x256(a, qq)));
    }
    hammingManyBody(q, a, nByte, nStride, nRow-r, aOut+r);
  }else{
    hammingManyAvx2(q, a, nByte, nStride, nRow, aOut);
  }
}

/* Eight rows a step as above, compared with T in one instruction: most
** steps keep no row and cost no more than the count. */
__attribute__((target(EMB_AVX512)))
static size_t hammingWithinAvx512(const uint8_t *q, const uint8_t *a,
                                  size_t nByte, size_t nStride, size_t nRow,
                                  uint32_t T, uint32_t *aIdx,
                                  uint32_t *aDist){
  size_t r = 0, n = 0;
  if( nByte!=32 || nStride!=32 ){
    return hammingWithinAvx2(q, a, nByte, nStride, nRow, T, aIdx, aDist);
  }else{
    const __m512i tt = _mm512_set1_epi64((long long)T);
    __m512i qq = _mm512_broadcast_i64x4(
                     _mm256_loadu_si256((const __m256i*)(const void*)q));
    for(; r+8<=nRow; r+=8, a+=256){
      __m512i d = hamming8x256(a, qq);
      unsigned m = _mm512_cmple_epu64_mask(d, tt);
      if( m ){
        uint32_t ad[8];
        _mm256_storeu_si256((__m256i*)(void*)ad, _mm512_cvtepi64_epi32(d));
        n = withinKeep(m, ad, r, aIdx, aDist, n);
      }
    }
  }
  return withinTail(q, a, nByte, nStride, nRow, r, T, aIdx, aDist, n);
}
#else
# define EMB_X86 0
#endif

static const EmbKernels kPortable = {
  "portable", hammingPortable, dot3Portable, hammingManyPortable,
  fineScanPortable, hammingWithinPortable, fineRowsPortable };
#if EMB_X86
static const EmbKernels kV2 = {
  "x86-64-v2", hammingV2, dot3V2, hammingManyV2, fineScanV2,
  hammingWithinV2, fineRowsV2 };
static const EmbKernels kAvx2 = {
  "avx2", hammingAvx2, dot3Avx2, hammingManyAvx2, fineScanAvx2,
  hammingWithinAvx2, fineRowsAvx2 };
static const EmbKernels kAvx512 = {
  "avx512-vpopcntdq", hammingAvx512, dot3Avx512, hammingManyAvx512,
  fineScanAvx512, hammingWithinAvx512, fineRowsAvx512 };
#endif

/* Variants this CPU runs, best last, filled once under pthread_once. */
static const EmbKernels *aVariant[5];
static int nVariant = 0;
static pthread_once_t variantsOnce = PTHREAD_ONCE_INIT;

static void variantsFill(void){
  int n = 0;
  aVariant[n++] = &kPortable;
#if EMB_X86
  __builtin_cpu_init();
  if( __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("sse4.2") ){
    aVariant[n++] = &kV2;
    if( __builtin_cpu_supports("avx2") ){
      aVariant[n++] = &kAvx2;
      if( __builtin_cpu_supports("avx512f")
       && __builtin_cpu_supports("avx512vpopcntdq") ){
        aVariant[n++] = &kAvx512;
      }
    }
  }
#endif
  nVariant = n;
}

static int variantsInit(void){
  pthread_once(&variantsOnce, variantsFill);
  return nVariant;
}

const EmbKernels *embKernels(void){
  int n = variantsInit();
  return aVariant[n-1];
}

int embKernelsAll(const EmbKernels *const **paOut){
  int n = variantsInit();
  *paOut = aVariant;
  return n;
}

void embBquant(const uint8_t *a, size_t n, uint8_t *aOut){
  size_t i = 0, iByte = 0;
  for(; i+8<=n; i+=8, iByte++){
    float x[8];
    unsigned v = 0;
    int j;
    memcpy(x, a + 4*i, sizeof(x));
    for(j=0; j<8; j++) v |= (unsigned)(x[j]>0.0f) << j;
    aOut[iByte] = (uint8_t)v;
  }
  if( i<n ){
    unsigned v = 0;
    int j;
    for(j=0; i<n; i++, j++) v |= (unsigned)(embFloatAt(a, i)>0.0f) << j;
    aOut[iByte] = (uint8_t)v;
  }
}

int64_t embFindNonFinite(const uint8_t *a, size_t n){
  size_t i;
  for(i=0; i<n; i++){
    uint32_t u;
    memcpy(&u, a + 4*i, 4);
    if( (u & 0x7f800000u)==0x7f800000u ) return (int64_t)i;
  }
  return -1;
}

/* The three dot products in double, one element at a time. */
static void dot3Double(const uint8_t *a, const uint8_t *b, size_t n,
                       double *pAB, double *pAA, double *pBB){
  double ab = 0.0, aa = 0.0, bb = 0.0;
  size_t i;
  for(i=0; i<n; i++){
    double x = embFloatAt(a, i), y = embFloatAt(b, i);
    ab += x*y;
    aa += x*x;
    bb += y*y;
  }
  *pAB = ab;
  *pAA = aa;
  *pBB = bb;
}

int embCosine(const EmbKernels *pK, const uint8_t *a, const uint8_t *b,
              size_t n, double *pC){
  double ab, aa, bb, c;
  pK->xDot3(a, b, n, &ab, &aa, &bb);
  if( !(aa>=EMB_COS_TINY && bb>=EMB_COS_TINY)
   || !isfinite(ab) || !isfinite(aa) || !isfinite(bb) ){
    /* Zero, tiny (float squares underflow) or overflowed sums, or a NaN
    ** or infinity in the input: decide in double. */
    if( embFindNonFinite(a, n)>=0 || embFindNonFinite(b, n)>=0 ){
      return EMB_COS_NONFINITE;
    }
    dot3Double(a, b, n, &ab, &aa, &bb);
    if( !(aa>0.0 && bb>0.0) ) return EMB_COS_ZERO;
  }
  c = ab / sqrt(aa*bb);
  if( c>1.0 ) c = 1.0;
  if( c<-1.0 ) c = -1.0;
  *pC = c;
  return EMB_COS_OK;
}
