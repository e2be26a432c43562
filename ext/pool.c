/*
** pool.c: row lookup, mean pooling and normalisation.
**
**     embed('the cat') = normalise(row('the') + row('cat'))[0..dims)
**
** HOW IT WORKS
** Rows are added into double accumulators straight from the mapping (F32
** rows by memcpy loads, F16 rows converted element by element), only the
** first nDims components of each (Matryoshka truncation happens before
** normalising).  Dividing by the count is skipped: normalising removes any
** scale, and the mean's norm is zero exactly when the sum's is.
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

void embPoolMean(const EmbModel *p, const int *aId, int nId, int nDims,
                 double *aAcc, float *aOut){
  size_t rowBytes = (size_t)p->nDims * (p->eMatrixType==EMB_DT_F16 ? 2 : 4);
  double norm = 0.0;
  int i, j, nUsed = 0;
  for(j=0; j<nDims; j++) aAcc[j] = 0.0;
  for(i=0; i<nId; i++){
    const uint8_t *pRow;
    if( aId[i]<0 || aId[i]>=p->nVocab ) continue;
    pRow = p->aMatrix + (size_t)aId[i]*rowBytes;
    nUsed++;
    if( p->eMatrixType==EMB_DT_F16 ){
      for(j=0; j<nDims; j++){
        uint16_t h;
        memcpy(&h, pRow + 2*(size_t)j, 2);
        aAcc[j] += embHalfToFloat(h);
      }
    }else{
      for(j=0; j<nDims; j++){
        float x;
        memcpy(&x, pRow + 4*(size_t)j, 4);
        aAcc[j] += x;
      }
    }
  }
  for(j=0; j<nDims; j++) norm += aAcc[j]*aAcc[j];
  if( nUsed==0 || !(norm>0.0) || !isfinite(norm) ){
    memset(aOut, 0, sizeof(float)*(size_t)nDims);
    return;
  }
  norm = 1.0/sqrt(norm);
  for(j=0; j<nDims; j++) aOut[j] = (float)(aAcc[j]*norm);
}
