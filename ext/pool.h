/*
** pool.h: mean pooling of embedding rows.
*/
#ifndef EMB_POOL_H
#define EMB_POOL_H

#include "model.h"

/*
** The mean of the rows aId[0..nId) of p's matrix, truncated to its first
** nDims components (1 <= nDims <= p->nDims) and then L2-normalised, written
** to aOut[0..nDims) as floats.  With no ids, or a mean of zero norm, aOut is
** all zeros.  aAcc is caller-provided scratch of nDims doubles.  Ids out of
** range are skipped (tokenizers only produce valid ones).  Sums run in
** double, so the result is within float rounding of the exact mean.
*/
void embPoolMean(const EmbModel *p, const int *aId, int nId, int nDims,
                 double *aAcc, float *aOut);

/* IEEE half to float, for F16 matrices. */
float embHalfToFloat(uint16_t h);

/* The row adders this CPU runs for rows of eType (EMB_DT_F16 or
** EMB_DT_F32): aAcc[j] += element j of a row, for j < n.  Portable first,
** into aOut[0..nMax); returns the count.  For tests: every variant must
** add exactly what the portable one adds. */
int embPoolVariants(int eType,
                    void (**aOut)(double *aAcc, const uint8_t *a, int n),
                    int nMax);

#endif /* EMB_POOL_H */
