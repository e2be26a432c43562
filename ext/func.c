/*
** func.c: the vector SQL functions: argument checking and glue only.
**
**     SELECT bquant('[0.5, -1, 2]');                      -- x'05'
**     SELECT hamming(bquant(a), bquant(b)) FROM pairs;    -- differing bits
**     SELECT cosine(embed('cat'), embed('kitten'));       -- REAL or NULL
**     SELECT embed_json(embed('cat'));                    -- '[0.01,...]'
**
** HOW IT WORKS
** Each function turns its arguments into EmbVec views (vector.c), checks
** them, calls a kernel (kernels.c) and hands a freshly allocated result to
** SQLite.  NULL in gives NULL out.  Errors name the function and quote the
** values at fault.  cosine() is embCosine() (kernels.c), which does not
** scan its inputs for NaN up front: any NaN or infinity makes the dot
** products non-finite, and only then are the inputs scanned to say which
** element is at fault.
*/
#include "func.h"
#include "args.h"
#include "kernels.h"
#include "vector.h"

#include <math.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* Report rc (from embVecFromValue) and the message zErr, which is freed. */
static void resultError(sqlite3_context *ctx, int rc, char *zErr){
  if( rc==SQLITE_NOMEM || zErr==0 ){
    sqlite3_result_error_nomem(ctx);
  }else{
    sqlite3_result_error(ctx, zErr, -1);
  }
  sqlite3_free(zErr);
}

/* bquant(vec) -> BLOB of ceil(n/8) bytes. */
void embBquantFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  EmbVec v;
  char *zErr = 0;
  uint8_t *aOut;
  int rc;
  (void)argc;
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ) return;
  rc = embVecFromValue(argv[0], "bquant", "", EMB_VEC_FINITE, &v, &zErr);
  if( rc ){ resultError(ctx, rc, zErr); return; }
  aOut = sqlite3_malloc64((uint64_t)(v.n+7)/8);
  if( aOut==0 ){
    sqlite3_result_error_nomem(ctx);
  }else{
    embBquant(v.a, (size_t)v.n, aOut);
    sqlite3_result_blob64(ctx, aOut, (uint64_t)(v.n+7)/8, sqlite3_free);
  }
  embVecClear(&v);
}

/* hamming(a, b) -> INTEGER, a and b BLOBs of equal length. */
void embHammingFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  static const char *const azWhich[2] = { "first", "second" };
  const uint8_t *a[2];
  int n[2];
  int i;
  (void)argc;
  for(i=0; i<2; i++){
    int eType = sqlite3_value_type(argv[i]);
    if( eType==SQLITE_NULL ) return;
    if( eType!=SQLITE_BLOB ){
      char *zErr;
      if( eType==SQLITE_INTEGER ){
        zErr = sqlite3_mprintf("hamming(): %s argument must be a BLOB of bits,"
                               " not an integer (%lld)", azWhich[i],
                               sqlite3_value_int64(argv[i]));
      }else if( eType==SQLITE_FLOAT ){
        zErr = sqlite3_mprintf("hamming(): %s argument must be a BLOB of bits,"
                               " not a real (%!g)", azWhich[i],
                               sqlite3_value_double(argv[i]));
      }else{
        char *zVal = embArgDescribe(argv[i]);
        zErr = zVal ? sqlite3_mprintf("hamming(): %s argument must be a BLOB "
                                      "of bits, not text (%s)", azWhich[i],
                                      zVal) : 0;
        sqlite3_free(zVal);
      }
      resultError(ctx, SQLITE_ERROR, zErr);
      return;
    }
  }
  for(i=0; i<2; i++){
    n[i] = sqlite3_value_bytes(argv[i]);
    a[i] = sqlite3_value_blob(argv[i]);
    if( n[i]==0 ){
      resultError(ctx, SQLITE_ERROR,
          sqlite3_mprintf("hamming(): %s argument is an empty blob",
                          azWhich[i]));
      return;
    }
    if( a[i]==0 ){ sqlite3_result_error_nomem(ctx); return; }
  }
  if( n[0]!=n[1] ){
    resultError(ctx, SQLITE_ERROR,
        sqlite3_mprintf("hamming(): blobs differ in length (%d vs %d bytes)",
                        n[0], n[1]));
    return;
  }
  sqlite3_result_int64(ctx,
      (sqlite3_int64)embKernels()->xHamming(a[0], a[1], (size_t)n[0]));
}

/* cosine(a, b) -> REAL in [-1, 1], or NULL when a or b has no direction
** (every element zero).  The formula is embCosine()'s (kernels.h), shared
** with embed_dedup, embed_kmeans and embed_index. */
void embCosineFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  EmbVec a, b;
  char *zErr = 0;
  double c = 0.0;
  int rc;
  (void)argc;
  if( sqlite3_value_type(argv[0])==SQLITE_NULL
   || sqlite3_value_type(argv[1])==SQLITE_NULL ){
    return;
  }
  memset(&b, 0, sizeof(b));
  rc = embVecFromValue(argv[0], "cosine", "first ", 0, &a, &zErr);
  if( rc==SQLITE_OK ){
    rc = embVecFromValue(argv[1], "cosine", "second ", 0, &b, &zErr);
  }
  if( rc==SQLITE_OK && a.n!=b.n ){
    zErr = sqlite3_mprintf("cosine(): vectors differ in length (%d vs %d dims)",
                           a.n, b.n);
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ){
    switch( embCosine(embKernels(), a.a, b.a, (size_t)a.n, &c) ){
      case EMB_COS_OK:
        sqlite3_result_double(ctx, c);
        break;
      case EMB_COS_NONFINITE:
        zErr = embFindNonFinite(a.a, (size_t)a.n)>=0
             ? embVecNonFiniteError(&a, "cosine", "first ")
             : embVecNonFiniteError(&b, "cosine", "second ");
        rc = SQLITE_ERROR;
        break;
      default:   /* EMB_COS_ZERO: NULL */
        break;
    }
  }
  if( rc ) resultError(ctx, rc, zErr);
  embVecClear(&a);
  embVecClear(&b);
}

/* embed_json(vec) -> TEXT '[x,...]' */
void embJsonFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  EmbVec v;
  char *zErr = 0;
  sqlite3_str *pStr;
  int rc;
  (void)argc;
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ) return;
  rc = embVecFromValue(argv[0], "embed_json", "", EMB_VEC_FINITE, &v, &zErr);
  if( rc ){ resultError(ctx, rc, zErr); return; }
  pStr = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  embJsonVectorAppend(pStr, v.a, v.n);
  rc = sqlite3_str_errcode(pStr);
  if( rc ){
    sqlite3_free(sqlite3_str_finish(pStr));
    if( rc==SQLITE_TOOBIG ) sqlite3_result_error_toobig(ctx);
    else sqlite3_result_error_nomem(ctx);
  }else{
    int n = sqlite3_str_length(pStr);
    sqlite3_result_text(ctx, sqlite3_str_finish(pStr), n, sqlite3_free);
    sqlite3_result_subtype(ctx, 'J');   /* JSON, for SQLite's json functions */
  }
  embVecClear(&v);
}
