/*
** pool.h: mean pooling of embedding rows.
*/
#ifndef EMB_POOL_H
#define EMB_POOL_H

#include "model.h"

/*
** The mean of the rows of tokens aId[0..nId) of p's matrix, truncated to
** its first nDims components (1 <= nDims <= p->nDims) and then
** L2-normalised, written to aOut[0..nDims) as floats.  A token's row is
** matrix[token.row[id]] (matrix[id] without token.row), times
** token.weight[id] where the model has weights.  The model's skip id
** (pool.skip_id) is left out, and so are ids out of range and ids mapped
** to rows the matrix lacks (a corrupt file).  With no ids left, or a mean
** of zero norm, aOut is all zeros.  aAcc is caller-provided scratch of
** nDims doubles.  Sums run in double (I8 rows exactly in integers), so the
** result is within float rounding of the exact mean.
*/
void embPoolMean(const EmbModel *p, const int *aId, int nId, int nDims,
                 double *aAcc, float *aOut);

/* IEEE half to float, for F16 matrices; bfloat16 to float, for BF16. */
float embHalfToFloat(uint16_t h);
float embBf16ToFloat(uint16_t h);

/*
** The adders this CPU runs, portable first, into aOut[0..nMax); each
** returns the count.  For tests: every variant must add exactly what the
** portable one adds.
**   embPoolVariants          rows of eType (EMB_DT_F16, F32 or BF16):
**                            aAcc[j] += element j of row a, for j < n
**   embPoolWeightedVariants  rows of eType (F16, F32, BF16 or I8):
**                            aAcc[j] += element j of row a times w
**   embPoolI8Variants        nRow <= 255 I8 rows: aAcc[j] += the sum of
**                            element j of the rows apRow[0..nRow)
**   embPoolFinishVariants    below
*/
int embPoolVariants(int eType,
                    void (**aOut)(double *aAcc, const uint8_t *a, int n),
                    int nMax);
int embPoolWeightedVariants(int eType,
                            void (**aOut)(double *aAcc, const uint8_t *a,
                                          int n, double w),
                            int nMax);
int embPoolI8Variants(void (**aOut)(double *aAcc, const uint8_t *const *apRow,
                                    int nRow, int n),
                      int nMax);

/* The normalisation's two loops, in pairs: the sum of squares of
** aAcc[0..n), and aOut[j] = aAcc[j]*r as floats. */
int embPoolFinishVariants(double (**aSum)(const double *aAcc, int n),
                          void (**aScale)(const double *aAcc, int n, double r,
                                          float *aOut),
                          int nMax);

#endif /* EMB_POOL_H */
