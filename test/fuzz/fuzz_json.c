/*
** fuzz_json.c: libFuzzer target for the JSON vector parser (vecjson.c).
**
** Each input is parsed twice, counting and then storing, as vector.c does;
** the two passes must agree, and a stored vector must hold only finite
** floats (the parser refuses what overflows float32).
*/
#include "vecjson.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  char *z = malloc(nData ? nData : 1);
  size_t iErr = 0;
  int64_t n, n2, i;
  if( z==0 ) return 0;
  memcpy(z, aData, nData);
  n = embJsonVectorParse(z, nData, 0, 0, &iErr);
  if( n<0 && iErr>nData ) abort();
  if( n>0 ){
    float *a = malloc(sizeof(float)*(size_t)n);
    if( a ){
      n2 = embJsonVectorParse(z, nData, a, (size_t)n, &iErr);
      if( n2!=n && n2!=-2 && n2!=-4 ) abort();   /* the passes disagree */
      for(i=0; n2>0 && i<n2; i++){
        if( !isfinite(a[i]) ) abort();
      }
      free(a);
    }
  }
  free(z);
  return 0;
}
