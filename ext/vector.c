/*
** vector.c: float32 vectors in and out of SQL values.
**
**     SELECT cosine(x'0000803f00000040', '[1, 2]');   -- BLOB and JSON mix
**     SELECT embed_json(x'0000803f');                 -- '[1]'
**
** HOW IT WORKS
** A BLOB is used in place: EmbVec points into it and every read goes through
** memcpy, so alignment does not matter.  JSON text is parsed by vecjson.c
** into floats allocated here.  Output prints each float with the fewest
** significant digits (1 to 9) that read back to the same float, in the C
** locale.
*/
#include "vector.h"
#include "args.h"
#include "kernels.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* A short printable excerpt of z[i..n) for error messages. */
static char *excerpt(const char *z, size_t n, size_t i){
  size_t len = n - i < 16 ? n - i : 16;
  char *zQ, *zOut;
  if( len==0 ) return sqlite3_mprintf("end of text");
  /* cut at a character boundary; embArgQuote() makes it valid UTF-8 */
  while( len<n-i && len>1 && ((unsigned char)z[i+len] & 0xc0)==0x80 ) len--;
  zQ = embArgQuote(z+i, (int)len);
  if( zQ==0 || len>=n-i ) return zQ;
  zOut = sqlite3_mprintf("%.*s...'", (int)strlen(zQ)-1, zQ);
  sqlite3_free(zQ);
  return zOut;
}

static const char *typeName(int eType){
  switch( eType ){
    case SQLITE_INTEGER: return "an integer";
    case SQLITE_FLOAT:   return "a real";
    case SQLITE_TEXT:    return "text";
    case SQLITE_BLOB:    return "a blob";
    default:             return "NULL";
  }
}

static int parseJsonValue(sqlite3_value *pVal, const char *zFunc,
                          const char *zWhich, EmbVec *p, char **pzErr){
  const char *z = (const char*)sqlite3_value_text(pVal);
  size_t n = (size_t)sqlite3_value_bytes(pVal);
  size_t iErr = 0;
  int64_t nElem;
  if( z==0 ) return SQLITE_NOMEM;
  nElem = embJsonVectorParse(z, n, 0, 0, &iErr);
  if( nElem>0 ){
    if( nElem>0x7fffffff/4 ){
      *pzErr = sqlite3_mprintf("%s(): %svector has too many elements (%lld)",
                               zFunc, zWhich, (long long)nElem);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    p->aOwn = sqlite3_malloc64(sizeof(float)*(uint64_t)nElem);
    if( p->aOwn==0 ) return SQLITE_NOMEM;
    nElem = embJsonVectorParse(z, n, p->aOwn, (size_t)nElem, &iErr);
    if( nElem==-4 ) return SQLITE_NOMEM;
  }
  if( nElem>0 ){
    p->a = (const uint8_t*)p->aOwn;
    p->n = (int)nElem;
    return SQLITE_OK;
  }
  if( nElem==-3 ){
    *pzErr = sqlite3_mprintf("%s(): %svector is empty", zFunc, zWhich);
  }else if( nElem==-2 ){
    size_t len = embJsonNumberLength(z, n, iErr);
    *pzErr = sqlite3_mprintf("%s(): %svector: %.*s is out of float32 range",
                             zFunc, zWhich, (int)(len>40 ? 40 : len), z+iErr);
  }else{
    char *zNear = excerpt(z, n, iErr);
    if( zNear==0 ) return SQLITE_NOMEM;
    *pzErr = sqlite3_mprintf(
        "%s(): %svector is not a JSON array of numbers: unexpected %s at "
        "offset %lld", zFunc, zWhich, zNear, (long long)iErr);
    sqlite3_free(zNear);
  }
  return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
}

char *embVecNonFiniteError(const EmbVec *p, const char *zFunc,
                           const char *zWhich){
  int64_t i = embFindNonFinite(p->a, (size_t)p->n);
  float x;
  if( i<0 ) return 0;
  x = embFloatAt(p->a, (size_t)i);
  return sqlite3_mprintf("%s(): %svector element %lld is %s", zFunc, zWhich,
                         (long long)i,
                         isnan(x) ? "NaN" : (x>0 ? "+Infinity" : "-Infinity"));
}

int embVecFromValue(sqlite3_value *pVal, const char *zFunc, const char *zWhich,
                    int flags, EmbVec *p, char **pzErr){
  int eType = sqlite3_value_type(pVal);
  memset(p, 0, sizeof(*p));
  *pzErr = 0;
  if( eType==SQLITE_BLOB ){
    int nByte = sqlite3_value_bytes(pVal);
    if( nByte==0 ){
      *pzErr = sqlite3_mprintf("%s(): %svector is empty (a zero-length blob)",
                               zFunc, zWhich);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    if( nByte%4 ){
      *pzErr = sqlite3_mprintf(
          "%s(): %svector blob of %d bytes is not float32 (length not a "
          "multiple of 4)", zFunc, zWhich, nByte);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    p->a = sqlite3_value_blob(pVal);
    if( p->a==0 ) return SQLITE_NOMEM;
    p->n = nByte/4;
    if( (flags & EMB_VEC_FINITE) && embFindNonFinite(p->a, (size_t)p->n)>=0 ){
      *pzErr = embVecNonFiniteError(p, zFunc, zWhich);
      return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    return SQLITE_OK;
  }
  if( eType==SQLITE_TEXT ){
    int rc = parseJsonValue(pVal, zFunc, zWhich, p, pzErr);
    if( rc ) embVecClear(p);   /* callers release nothing after an error */
    return rc;
  }
  if( eType==SQLITE_INTEGER ){
    *pzErr = sqlite3_mprintf(
        "%s(): %svector must be a float32 BLOB or JSON text, not an integer "
        "(%lld)", zFunc, zWhich, sqlite3_value_int64(pVal));
  }else if( eType==SQLITE_FLOAT ){
    *pzErr = sqlite3_mprintf(
        "%s(): %svector must be a float32 BLOB or JSON text, not a real (%!g)",
        zFunc, zWhich, sqlite3_value_double(pVal));
  }else{
    *pzErr = sqlite3_mprintf(
        "%s(): %svector must be a float32 BLOB or JSON text, not %s",
        zFunc, zWhich, typeName(eType));
  }
  return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
}

void embVecClear(EmbVec *p){
  sqlite3_free(p->aOwn);
  memset(p, 0, sizeof(*p));
}

void embJsonVectorAppend(sqlite3_str *pStr, const uint8_t *a, int n){
  locale_t loc = embCLocale();
  int i;
  sqlite3_str_appendchar(pStr, 1, '[');
  for(i=0; i<n; i++){
    float x = embFloatAt(a, (size_t)i);
    char aBuf[48];
    int prec;
    if( x==0.0f ){
      if( i ) sqlite3_str_appendchar(pStr, 1, ',');
      sqlite3_str_appendall(pStr, signbit(x) ? "-0" : "0");
      continue;
    }
    for(prec=1; prec<=9; prec++){
      sqlite3_snprintf(sizeof(aBuf), aBuf, "%.*g", prec, (double)x);
      if( loc==0 || strtof_l(aBuf, 0, loc)==x ) break;
    }
    if( i ) sqlite3_str_appendchar(pStr, 1, ',');
    sqlite3_str_appendall(pStr, aBuf);
  }
  sqlite3_str_appendchar(pStr, 1, ']');
}
