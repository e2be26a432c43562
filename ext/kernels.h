/*
** kernels.h: the numeric inner loops of sqlite-embed, in plain C.
**
** Nothing here knows about SQLite.  Vectors are passed as (pointer, count):
** float vectors as raw bytes holding n float32 values in little-endian order
** at any alignment (BLOB pointers from SQLite are not aligned), bit vectors
** as bytes.  Kernels allocate nothing and never fail.
**
** Several variants of each kernel are compiled from the same source for
** different instruction sets; embKernels() picks the best one this CPU runs,
** once, at load time.  Every variant gives bit-identical answers (the lanes
** and the order of the final reduction are fixed in the source), which
** test/unit_kernels.c checks.
*/
#ifndef EMB_KERNELS_H
#define EMB_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct EmbKernels EmbKernels;
struct EmbKernels {
  const char *zName;   /* "portable", "x86-64-v2", "avx2" */

  /* Number of bits that differ between a[0..nByte) and b[0..nByte). */
  uint64_t (*xHamming)(const uint8_t *a, const uint8_t *b, size_t nByte);

  /* The three dot products a.b, a.a and b.b of two float32 vectors of n
  ** elements, summed in float lanes and reduced in double. */
  void (*xDot3)(const uint8_t *a, const uint8_t *b, size_t n, double *pAB,
                double *pAA, double *pBB);

  /* Hamming distances from the code q[0..nByte) to nRow codes of nByte
  ** bytes each, stored nStride bytes apart from a: aOut[i] is the distance
  ** to a[i*nStride ..].  Fastest when nByte is a multiple of 8 (callers
  ** can pad codes with zero bytes to get there). */
  void (*xHammingMany)(const uint8_t *q, const uint8_t *a, size_t nByte,
                       size_t nStride, size_t nRow, uint32_t *aOut);

  /* embed_index's 4-bit codes against a query quantised to int8:
  ** aOut[r] = sum over j < nByte of qEven[j]*lo(j) + qOdd[j]*hi(j), where
  ** lo(j) and hi(j) are the low and high nibbles of byte j of row r (at
  ** a + r*nStride), each a two's complement integer -8..7.  Integer
  ** arithmetic, so every variant gives the same answer.  qEven and qOdd
  ** are padded with zeros to a multiple of 32 bytes, and a row may be read
  ** up to that many bytes from its start: callers leave 32 readable bytes
  ** after the last row. */
  void (*xFineScan)(const int8_t *qEven, const int8_t *qOdd,
                    const uint8_t *a, size_t nByte, size_t nStride,
                    size_t nRow, int32_t *aOut);

  /* The rows of xHammingMany()'s nRow codes at most T bits from q, in row
  ** order: the i-th kept row's index (0..nRow-1) is aIdx[i] and its
  ** distance aDist[i].  Returns how many were kept.  Both arrays need
  ** room for nRow entries: the kernel may write past the last kept one. */
  size_t (*xHammingWithin)(const uint8_t *q, const uint8_t *a, size_t nByte,
                           size_t nStride, size_t nRow, uint32_t T,
                           uint32_t *aIdx, uint32_t *aDist);

  /* xFineScan() of nRow rows anywhere: aOut[r] is row apRow[r]'s sum (the
  ** same 32 readable bytes after each row).  For the candidates a search
  ** has scattered over the index: the query's terms are summed once. */
  void (*xFineRows)(const int8_t *qEven, const int8_t *qOdd, size_t nByte,
                    const uint8_t *const *apRow, size_t nRow, int32_t *aOut);
};

/* The best variant for this CPU.  Thread-safe; the choice is made once. */
const EmbKernels *embKernels(void);

/* Every variant this CPU can run, portable first.  Returns the count and
** sets *paOut to a static array of pointers.  For tests and benchmarks. */
int embKernelsAll(const EmbKernels *const **paOut);

/* Binary quantisation: bit i of aOut (byte i/8, bit position i%8, least
** significant first) is set where element i of the float32 vector a is > 0.
** aOut has (n+7)/8 bytes; padding bits of the last byte are zero. */
void embBquant(const uint8_t *a, size_t n, uint8_t *aOut);

/* Index of the first NaN or infinite element of the float32 vector a of n
** elements, or -1 when all are finite. */
int64_t embFindNonFinite(const uint8_t *a, size_t n);

/*
** Cosine similarity of the float32 vectors a and b of n elements: THE one
** definition behind cosine(), embed_dedup(), embed_kmeans() and
** embed_index's distance (1 - this).  Returns
**   EMB_COS_OK         *pC = ab / sqrt(aa * bb), clamped to [-1, 1];
**   EMB_COS_ZERO       a or b has no direction: every element is zero;
**   EMB_COS_NONFINITE  an element of a or b is NaN or infinite.
** *pC is set only for EMB_COS_OK.
**
** ab, aa, bb are the three dot products of pK->xDot3 (float lanes), summed
** again in double -- where float32 squares cannot underflow or overflow --
** when a float sum is not finite or aa or bb is below EMB_COS_TINY, so a
** vector of tiny but non-zero elements has its direction like any other.
** sqrt(aa * bb), not sqrt(aa) * sqrt(bb): for a == b it is exactly aa
** (IEEE square root of a rounded square), so a row and its exact copy have
** cosine 1.0, as do a and 2a.
*/
#define EMB_COS_OK         0
#define EMB_COS_ZERO       1
#define EMB_COS_NONFINITE  2
#define EMB_COS_TINY       1e-20
int embCosine(const EmbKernels *pK, const uint8_t *a, const uint8_t *b,
              size_t n, double *pC);

/* Read element i of a float32 little-endian vector at any alignment. */
static inline float embFloatAt(const uint8_t *a, size_t i){
  float x;
  __builtin_memcpy(&x, a + 4*i, 4);
  return x;
}

#endif /* EMB_KERNELS_H */
