/*
** vecjson.c: JSON arrays of numbers to float32, with no SQLite types, so a
** fuzzer can drive it on its own.
**
**     size_t iErr;
**     int64_t n = embJsonVectorParse("[1, 2.5e-1]", 11, 0, 0, &iErr);  // 2
**
** HOW IT WORKS
** JSON's number grammar is checked by hand (nothing else is accepted: no
** nesting, no NaN, no leading zeros).  A first pass counts the elements
** with aOut NULL; the caller allocates; a second pass converts each number
** with strtof_l() in the C locale, which rounds correctly whatever the
** process's LC_NUMERIC says.
*/
#include "vecjson.h"
#include "alloc.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static locale_t cLocale = (locale_t)0;
static pthread_once_t cLocaleOnce = PTHREAD_ONCE_INIT;
static void cLocaleInit(void){
  cLocale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

locale_t embCLocale(void){
  pthread_once(&cLocaleOnce, cLocaleInit);
  return cLocale;
}

/* Parse the float in z[0..n), which JSON's grammar has already checked.
** Returns 0 and sets *pX, or 1 when it does not fit a float32, or 2 when
** out of memory. */
static int parseFloat(const char *z, size_t n, float *pX){
  char aBuf[64];
  char *zCopy = aBuf;
  float x;
  locale_t loc = embCLocale();
  if( n>=sizeof(aBuf) ){
    zCopy = embMalloc(n+1);
    if( zCopy==0 ) return 2;
  }
  memcpy(zCopy, z, n);
  zCopy[n] = 0;
  errno = 0;
  x = loc ? strtof_l(zCopy, 0, loc) : strtof(zCopy, 0);
  if( zCopy!=aBuf ) embFree(zCopy);
  if( isinf(x) ) return 1;
  *pX = x;
  return 0;
}

static size_t skipSpace(const char *z, size_t n, size_t i){
  while( i<n && (z[i]==' ' || z[i]=='\t' || z[i]=='\n' || z[i]=='\r') ) i++;
  return i;
}

static int isDigit(char c){ return c>='0' && c<='9'; }

/* Length of the JSON number at z[i..n), or 0 if there is none. */
size_t embJsonNumberLength(const char *z, size_t n, size_t i){
  size_t j = i;
  if( j<n && z[j]=='-' ) j++;
  if( j>=n || !isDigit(z[j]) ) return 0;
  if( z[j]=='0' ){
    j++;
  }else{
    while( j<n && isDigit(z[j]) ) j++;
  }
  if( j<n && z[j]=='.' ){
    j++;
    if( j>=n || !isDigit(z[j]) ) return 0;
    while( j<n && isDigit(z[j]) ) j++;
  }
  if( j<n && (z[j]=='e' || z[j]=='E') ){
    j++;
    if( j<n && (z[j]=='+' || z[j]=='-') ) j++;
    if( j>=n || !isDigit(z[j]) ) return 0;
    while( j<n && isDigit(z[j]) ) j++;
  }
  return j - i;
}

int64_t embJsonVectorParse(const char *z, size_t n, float *aOut, size_t nOut,
                           size_t *piErr){
  size_t i = skipSpace(z, n, 0);
  int64_t nElem = 0;
  *piErr = 0;
  if( i>=n || z[i]!='[' ){ *piErr = i; return -1; }
  i = skipSpace(z, n, i+1);
  if( i<n && z[i]==']' ){
    *piErr = i;
    return skipSpace(z, n, i+1)==n ? -3 : -1;
  }
  for(;;){
    size_t len = embJsonNumberLength(z, n, i);
    if( len==0 ){ *piErr = i; return -1; }
    if( aOut ){
      float x = 0.0f;
      int rc;
      if( (size_t)nElem>=nOut ){ *piErr = i; return -1; }
      rc = parseFloat(z+i, len, &x);
      if( rc==1 ){ *piErr = i; return -2; }
      if( rc==2 ){ *piErr = i; return -4; }
      aOut[nElem] = x;
    }
    nElem++;
    i = skipSpace(z, n, i+len);
    if( i<n && z[i]==',' ){
      i = skipSpace(z, n, i+1);
      continue;
    }
    if( i<n && z[i]==']' ) break;
    *piErr = i;
    return -1;
  }
  if( skipSpace(z, n, i+1)!=n ){ *piErr = skipSpace(z, n, i+1); return -1; }
  return nElem;
}

