/*
** args.c: integer and real arguments from SQL values, and how a value is
** quoted in a message.  The policy is in args.h.
*/
#include "args.h"
#include "unicode.h"

#include <math.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* Numeric affinity on a copy of pVal when it is TEXT: *ppNum is pVal or the
** copy (to be freed with sqlite3_value_free() when not pVal).  Returns the
** type after affinity, or -1 when out of memory. */
static int argNumeric(sqlite3_value *pVal, sqlite3_value **ppNum){
  int eType = sqlite3_value_type(pVal);
  *ppNum = pVal;
  if( eType!=SQLITE_TEXT ) return eType;
  *ppNum = sqlite3_value_dup(pVal);
  if( *ppNum==0 ) return -1;
  return sqlite3_value_numeric_type(*ppNum);
}

static int argIntOf(sqlite3_value *pVal, int eType, sqlite3_int64 iMin,
                    sqlite3_int64 iMax, sqlite3_int64 *piOut){
  if( eType==SQLITE_INTEGER ){
    sqlite3_int64 v = sqlite3_value_int64(pVal);
    if( v<iMin || v>iMax ) return EMB_ARG_BAD;
    *piOut = v;
    return EMB_ARG_OK;
  }
  if( eType==SQLITE_FLOAT ){
    double r = sqlite3_value_double(pVal);
    /* Compared as doubles first: a huge real must not be converted. */
    if( !(r==floor(r)) || r<(double)iMin || r>(double)iMax ){
      return EMB_ARG_BAD;
    }
    /* (double)iMax may round up past iMax near 2^63. */
    if( r>=9223372036854775807.0 ) return EMB_ARG_BAD;
    *piOut = (sqlite3_int64)r;
    if( *piOut<iMin || *piOut>iMax ) return EMB_ARG_BAD;
    return EMB_ARG_OK;
  }
  return EMB_ARG_BAD;
}

int embArgInt(sqlite3_value *pVal, sqlite3_int64 iMin, sqlite3_int64 iMax,
              sqlite3_int64 *piOut){
  sqlite3_value *pNum;
  int eType, rc;
  if( sqlite3_value_type(pVal)==SQLITE_NULL ) return EMB_ARG_NULL;
  eType = argNumeric(pVal, &pNum);
  if( eType<0 ) return EMB_ARG_NOMEM;
  rc = argIntOf(pNum, eType, iMin, iMax, piOut);
  if( pNum!=pVal ) sqlite3_value_free(pNum);
  return rc;
}

int embArgReal(sqlite3_value *pVal, double *prOut){
  sqlite3_value *pNum;
  int eType, rc = EMB_ARG_BAD;
  if( sqlite3_value_type(pVal)==SQLITE_NULL ) return EMB_ARG_NULL;
  eType = argNumeric(pVal, &pNum);
  if( eType<0 ) return EMB_ARG_NOMEM;
  if( eType==SQLITE_INTEGER || eType==SQLITE_FLOAT ){
    double r = sqlite3_value_double(pNum);
    if( isfinite(r) ){
      *prOut = r;
      rc = EMB_ARG_OK;
    }
  }
  if( pNum!=pVal ) sqlite3_value_free(pNum);
  return rc;
}

char *embArgDescribe(sqlite3_value *pVal){
  switch( sqlite3_value_type(pVal) ){
    case SQLITE_NULL:
      return sqlite3_mprintf("NULL");
    case SQLITE_INTEGER:
      return sqlite3_mprintf("%lld", sqlite3_value_int64(pVal));
    case SQLITE_FLOAT:
      return sqlite3_mprintf("%!.15g", sqlite3_value_double(pVal));
    case SQLITE_BLOB:
      return sqlite3_mprintf("a blob of %d bytes", sqlite3_value_bytes(pVal));
    default: {
      const char *z = (const char*)sqlite3_value_text(pVal);
      if( z==0 ) return 0;
      return embArgQuote(z, sqlite3_value_bytes(pVal));
    }
  }
}

char *embArgQuote(const char *z, int n){
  char *zFixed = 0, *zOut;
  size_t nFixed = 0;
  int rc, bCut = 0;
  if( n<0 ) n = (int)strlen(z);
  /* %q stops at a NUL: the text shown ends there */
  n = (int)strnlen(z, (size_t)n);
  /* Long text is cut (at a character boundary) so that a message stays
  ** a line, then made valid UTF-8. */
  if( n>60 ){
    n = 57;
    while( n>0 && (z[n]&0xc0)==0x80 ) n--;
    bCut = 1;
  }
  rc = embUtf8Repair(z, (size_t)n, &zFixed, &nFixed);
  if( rc<0 ) return 0;
  if( rc>0 ){
    z = zFixed;
    n = (int)nFixed;
  }
  zOut = bCut ? sqlite3_mprintf("'%.*q...'", n, z)
              : sqlite3_mprintf("'%.*q'", n, z);
  sqlite3_free(zFixed);
  return zOut;
}

char *embArgFixMessage(char *zMsg){
  char *zFixed = 0, *zOut;
  size_t nFixed = 0;
  int rc;
  if( zMsg==0 ) return 0;
  rc = embUtf8Repair(zMsg, strlen(zMsg), &zFixed, &nFixed);
  if( rc==0 ) return zMsg;
  sqlite3_free(zMsg);
  if( rc<0 ) return 0;
  zOut = sqlite3_mprintf("%.*s", (int)nFixed, zFixed);
  sqlite3_free(zFixed);
  return zOut;
}

char *embArgIntError(const char *zWhat, sqlite3_int64 iMin,
                     sqlite3_int64 iMax, sqlite3_value *pVal){
  char *zVal = embArgDescribe(pVal);
  char *zErr = zVal ? sqlite3_mprintf("%s must be an integer from %lld to "
                                      "%lld, not %s", zWhat, iMin, iMax, zVal)
                    : 0;
  sqlite3_free(zVal);
  return zErr;
}
