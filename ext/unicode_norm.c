/*
** unicode_norm.c: look-ups in the normalizers' character tables
** (unicode_norm.h; the tables are ext/unicode_norm_tab.h, generated).
**
** HOW IT WORKS
** Each table is sorted; a look-up is a binary search, after a test that
** answers ASCII (which has none of these properties) at once.
*/
#include "unicode_norm.h"

#include <stddef.h>

#include "unicode_norm_tab.h"

int embNormIsMark(uint32_t c){
  size_t lo = 0, hi = sizeof(aEmbNormMark)/sizeof(aEmbNormMark[0]);
  if( c<aEmbNormMark[0][0] ) return 0;
  while( lo<hi ){
    size_t mid = (lo+hi)/2;
    if( c<aEmbNormMark[mid][0] ){
      hi = mid;
    }else if( c>aEmbNormMark[mid][1] ){
      lo = mid+1;
    }else{
      return 1;
    }
  }
  return 0;
}
