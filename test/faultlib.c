/*
** faultlib.c: the helpers of the fault-injection tests (faultlib.h has
** the manual).
*/
#include "faultlib.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int flPass = 0, flFail = 0;
int flErrorsOk = 0;
static int nPrinted = 0;

/* ------------------------------------------------------------------------
** Buffers
*/

void flBufAppend(FlBuf *p, const char *z, size_t n){
  if( p->n + n + 1 > p->nAlloc ){
    size_t nNew = p->nAlloc ? p->nAlloc*2 : 256;
    while( nNew < p->n + n + 1 ) nNew *= 2;
    p->z = realloc(p->z, nNew);
    if( p->z==0 ){ fprintf(stderr, "faultlib: out of memory\n"); exit(2); }
    p->nAlloc = nNew;
  }
  memcpy(p->z + p->n, z, n);
  p->n += n;
  p->z[p->n] = 0;
}

void flBufPrintf(FlBuf *p, const char *zFmt, ...){
  char aStack[512];
  va_list ap;
  int n;
  va_start(ap, zFmt);
  n = vsnprintf(aStack, sizeof(aStack), zFmt, ap);
  va_end(ap);
  if( n<0 ) return;
  if( (size_t)n < sizeof(aStack) ){
    flBufAppend(p, aStack, (size_t)n);
  }else{
    char *z = malloc((size_t)n + 1);
    if( z==0 ){ fprintf(stderr, "faultlib: out of memory\n"); exit(2); }
    va_start(ap, zFmt);
    vsnprintf(z, (size_t)n + 1, zFmt, ap);
    va_end(ap);
    flBufAppend(p, z, (size_t)n);
    free(z);
  }
}

void flBufReset(FlBuf *p){
  p->n = 0;
  if( p->z ) p->z[0] = 0;
}

void flBufFree(FlBuf *p){
  free(p->z);
  memset(p, 0, sizeof(*p));
}

const char *flBufText(const FlBuf *p){
  return p->z ? p->z : "";
}

/* ------------------------------------------------------------------------
** Checks
*/

int flCheck(int bOk, const char *zFmt, ...){
  if( bOk ){
    flPass++;
  }else{
    flFail++;
    if( nPrinted++ < FL_MAX_PRINT ){
      va_list ap;
      printf("FAIL ");
      va_start(ap, zFmt);
      vprintf(zFmt, ap);
      va_end(ap);
      printf("\n");
      fflush(stdout);
    }
  }
  return bOk;
}

void flSection(void){
  if( nPrinted > FL_MAX_PRINT ){
    printf("  (%d more failures not shown)\n", nPrinted - FL_MAX_PRINT);
  }
  nPrinted = 0;
}

/* ------------------------------------------------------------------------
** SQL
*/

static void renderColumn(sqlite3_stmt *pStmt, int i, FlBuf *pOut){
  switch( sqlite3_column_type(pStmt, i) ){
    case SQLITE_NULL:
      flBufAppend(pOut, "NULL", 4);
      break;
    case SQLITE_INTEGER:
      flBufPrintf(pOut, "%lld", (long long)sqlite3_column_int64(pStmt, i));
      break;
    case SQLITE_FLOAT:
      flBufPrintf(pOut, "%.17g", sqlite3_column_double(pStmt, i));
      break;
    case SQLITE_TEXT: {
      const unsigned char *z = sqlite3_column_text(pStmt, i);
      flBufAppend(pOut, z ? (const char*)z : "(nomem)",
                  z ? (size_t)sqlite3_column_bytes(pStmt, i) : 7);
      break;
    }
    default: {
      const unsigned char *a = sqlite3_column_blob(pStmt, i);
      int n = sqlite3_column_bytes(pStmt, i), j;
      static const char zHex[] = "0123456789abcdef";
      flBufAppend(pOut, "x'", 2);
      for(j=0; a && j<n; j++){
        char aByte[2];
        aByte[0] = zHex[a[j]>>4];
        aByte[1] = zHex[a[j]&15];
        flBufAppend(pOut, aByte, 2);
      }
      flBufAppend(pOut, "'", 1);
      break;
    }
  }
}

int flExec(sqlite3 *db, const char *zSql, FlBuf *pOut, char **pzErr){
  const char *zTail = zSql;
  int rc = SQLITE_OK;
  if( pzErr ) *pzErr = 0;
  while( rc==SQLITE_OK && zTail && zTail[0] ){
    sqlite3_stmt *pStmt = 0;
    rc = sqlite3_prepare_v2(db, zTail, -1, &pStmt, &zTail);
    if( rc ) break;
    if( pStmt==0 ) continue;             /* white space or a comment */
    while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
      if( pOut ){
        int i, n = sqlite3_column_count(pStmt);
        for(i=0; i<n; i++){
          if( i ) flBufAppend(pOut, "|", 1);
          renderColumn(pStmt, i, pOut);
        }
        flBufAppend(pOut, "\n", 1);
      }
    }
    if( rc==SQLITE_DONE ) rc = SQLITE_OK;
    if( rc ){
      /* The statement's own error, before finalize resets it. */
      rc = sqlite3_extended_errcode(db);
      if( rc==SQLITE_OK ) rc = SQLITE_ERROR;
    }
    sqlite3_finalize(pStmt);
  }
  if( rc ){
    int rcDb = sqlite3_extended_errcode(db);
    if( rc==SQLITE_ERROR && rcDb!=SQLITE_OK ) rc = rcDb;
    if( pzErr ){
      const char *zMsg = sqlite3_errmsg(db);
      *pzErr = strdup(zMsg ? zMsg : "?");
    }
  }
  return rc;
}

/* $NAME substitutions */
#define FL_MAX_VAR 8
static struct { char *zName; char *zValue; } aVar[FL_MAX_VAR];
static int nVar = 0;

void flSetVar(const char *zName, const char *zValue){
  FlBuf q = {0};
  const char *z;
  if( nVar>=FL_MAX_VAR ){ fprintf(stderr, "faultlib: too many vars\n"); exit(2); }
  flBufAppend(&q, "'", 1);
  for(z=zValue; *z; z++){
    flBufAppend(&q, z, 1);
    if( *z=='\'' ) flBufAppend(&q, "'", 1);
  }
  flBufAppend(&q, "'", 1);
  aVar[nVar].zName = strdup(zName);
  aVar[nVar].zValue = q.z;
  nVar++;
}

char *flSubst(const char *zSql){
  FlBuf out = {0};
  const char *z = zSql;
  while( *z ){
    int i, bHit = 0;
    if( *z=='$' ){
      for(i=0; i<nVar; i++){
        size_t n = strlen(aVar[i].zName);
        if( strncmp(z+1, aVar[i].zName, n)==0 ){
          flBufAppend(&out, aVar[i].zValue, strlen(aVar[i].zValue));
          z += 1 + n;
          bHit = 1;
          break;
        }
      }
    }
    if( !bHit ){ flBufAppend(&out, z, 1); z++; }
  }
  if( out.z==0 ) flBufAppend(&out, "", 0);
  return out.z;
}

/* ------------------------------------------------------------------------
** Indexes
*/

int flIndexes(sqlite3 *db, char ***pazName){
  sqlite3_stmt *pStmt = 0;
  char **az = 0;
  int n = 0, rc;
  *pazName = 0;
  rc = sqlite3_prepare_v2(db,
      "SELECT name FROM main.sqlite_schema WHERE type='table' "
      "AND sql LIKE 'CREATE VIRTUAL TABLE%USING embed_index%' ORDER BY name",
      -1, &pStmt, 0);
  if( rc ) return -1;
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 0);
    az = realloc(az, sizeof(char*)*(size_t)(n+1));
    if( az==0 ){ fprintf(stderr, "faultlib: out of memory\n"); exit(2); }
    az[n++] = strdup(z ? z : "");
  }
  if( sqlite3_finalize(pStmt) ){
    flFreeNames(az, n);
    return -1;
  }
  *pazName = az;
  return n;
}

void flFreeNames(char **azName, int n){
  int i;
  for(i=0; i<n; i++) free(azName[i]);
  free(azName);
}

/* zFmt with every %s replaced by the quoted identifier zIdx (at most 3). */
static char *indexSql(const char *zFmt, const char *zIdx){
  char *zQ = sqlite3_mprintf("\"%w\"", zIdx);
  char *zSql = zQ ? sqlite3_mprintf(zFmt, zQ, zQ, zQ) : 0;
  char *z = zSql ? strdup(zSql) : 0;
  sqlite3_free(zQ);
  sqlite3_free(zSql);
  return z;
}

int flState(sqlite3 *db, FlBuf *pOut){
  char **az = 0;
  int n = flIndexes(db, &az), i, rc = SQLITE_OK;
  if( n<0 ) return SQLITE_ERROR;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    char *zSql = indexSql("SELECT rowid, vector, content FROM %s ORDER BY rowid",
                          az[i]);
    flBufPrintf(pOut, "[%s]\n", az[i]);
    rc = zSql ? flExec(db, zSql, pOut, 0) : SQLITE_NOMEM;
    free(zSql);
  }
  flFreeNames(az, n);
  return rc;
}

/* One row of an index as read back: rowid and vector. */
typedef struct FlRow FlRow;
struct FlRow {
  sqlite3_int64 iRowid;
  unsigned char *a;          /* malloc'd, n bytes */
  int n;
};

/* Compare a MATCH of aQ[0..nQ) with k = nK (statement pA) against the
** brute force (statement pB); both are reset after. */
static int checkQuery(sqlite3 *db, const char *zIdx, sqlite3_stmt *pA,
                      sqlite3_stmt *pB, const void *aQ, int nQ, int nK,
                      const char *zWhat, FlBuf *pWhy){
  int nBad = 0, i = 0;
  sqlite3_bind_blob(pA, 1, aQ, nQ, SQLITE_STATIC);
  sqlite3_bind_int(pA, 2, nK);
  sqlite3_bind_blob(pB, 1, aQ, nQ, SQLITE_STATIC);
  for(;; i++){
    int rcA = sqlite3_step(pA), rcB = sqlite3_step(pB);
    if( rcA!=SQLITE_ROW || rcB!=SQLITE_ROW ){
      int bErr = (rcA!=SQLITE_ROW && rcA!=SQLITE_DONE)
              || (rcB!=SQLITE_ROW && rcB!=SQLITE_DONE);
      if( bErr && flErrorsOk ) break;
      if( rcA!=rcB || (rcA!=SQLITE_DONE) ){
        flBufPrintf(pWhy, "%s: %s: result %d: %s (match %s, brute force "
                    "%s)\n", zIdx, zWhat, i,
                    rcA==SQLITE_ROW ? "extra row from MATCH" :
                    rcB==SQLITE_ROW ? "row missing from MATCH" : "error",
                    rcA==SQLITE_ROW || rcA==SQLITE_DONE ? "ok"
                        : sqlite3_errmsg(db),
                    rcB==SQLITE_ROW || rcB==SQLITE_DONE ? "ok" : "error");
        nBad++;
      }
      break;
    }
    {
      sqlite3_int64 rA = sqlite3_column_int64(pA, 0);
      sqlite3_int64 rB = sqlite3_column_int64(pB, 0);
      double dA = sqlite3_column_double(pA, 1);
      double dB = sqlite3_column_double(pB, 1);
      if( rA!=rB || !(fabs(dA-dB)<=1e-9) ){
        flBufPrintf(pWhy, "%s: %s: result %d is rowid %lld at %.17g, brute "
                    "force rowid %lld at %.17g\n", zIdx, zWhat, i,
                    (long long)rA, dA, (long long)rB, dB);
        nBad++;
        break;
      }
    }
  }
  sqlite3_reset(pA);
  sqlite3_reset(pB);
  return nBad;
}

int flIndexCheck(sqlite3 *db, const char *zIdx, FlBuf *pWhy){
  char *zSql = indexSql("SELECT rowid, vector FROM %s ORDER BY rowid", zIdx);
  char *zA = indexSql("SELECT rowid, distance FROM %s WHERE %s MATCH ?1 "
                      "AND k = ?2", zIdx);
  char *zB = indexSql("SELECT rowid, 1 - cosine(vector, ?1) AS d FROM %s "
                      "WHERE d IS NOT NULL ORDER BY d, rowid", zIdx);
  sqlite3_stmt *pStmt = 0, *pA = 0, *pB = 0;
  FlRow *aRow = 0;
  int nRow = 0, nBad = 0, i, rc;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  free(zSql);
  if( rc ){
    if( !flErrorsOk ){
      flBufPrintf(pWhy, "%s: cannot scan: %s\n", zIdx, sqlite3_errmsg(db));
      nBad = 1;
    }
    goto done;
  }
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    const void *a = sqlite3_column_blob(pStmt, 1);
    int n = sqlite3_column_bytes(pStmt, 1);
    aRow = realloc(aRow, sizeof(FlRow)*(size_t)(nRow+1));
    if( aRow==0 ){ fprintf(stderr, "faultlib: out of memory\n"); exit(2); }
    aRow[nRow].iRowid = sqlite3_column_int64(pStmt, 0);
    aRow[nRow].n = n;
    aRow[nRow].a = malloc(n>0 ? (size_t)n : 1);
    if( n>0 ) memcpy(aRow[nRow].a, a, (size_t)n);
    nRow++;
  }
  if( rc!=SQLITE_DONE ){
    if( flErrorsOk ){
      sqlite3_finalize(pStmt);
      goto done;
    }
    flBufPrintf(pWhy, "%s: scan failed: %s\n", zIdx, sqlite3_errmsg(db));
    nBad++;
  }
  sqlite3_finalize(pStmt);
  if( nBad==0 && nRow>0 ){
    int nK = nRow, j;
    int nDims = aRow[0].n/4;
    if( sqlite3_prepare_v2(db, zA, -1, &pA, 0)
     || sqlite3_prepare_v2(db, zB, -1, &pB, 0) ){
      if( !flErrorsOk ){
        flBufPrintf(pWhy, "%s: cannot query: %s\n", zIdx,
                    sqlite3_errmsg(db));
        nBad++;
      }
      goto done;
    }
    /* The first and the last rows' own vectors */
    for(j=0; j<(nRow>1 ? 2 : 1) && nBad==0; j++){
      char zWhat[64];
      const FlRow *r = &aRow[j ? nRow-1 : 0];
      snprintf(zWhat, sizeof(zWhat), "query = row %lld's vector",
               (long long)r->iRowid);
      nBad += checkQuery(db, zIdx, pA, pB, r->a, r->n, nK, zWhat, pWhy);
    }
    /* A fixed vector */
    if( nBad==0 && nDims>0 ){
      float *aFixed = malloc(sizeof(float)*(size_t)nDims);
      uint32_t s = 2463534242u;
      for(i=0; i<nDims; i++){
        s ^= s<<13; s ^= s>>17; s ^= s<<5;
        aFixed[i] = (float)((double)(s%20001)/10000.0 - 1.0);
      }
      nBad += checkQuery(db, zIdx, pA, pB, aFixed, nDims*4, nK,
                         "query = a fixed vector", pWhy);
      free(aFixed);
    }
  }
done:
  sqlite3_finalize(pA);
  sqlite3_finalize(pB);
  free(zA);
  free(zB);
  for(i=0; i<nRow; i++) free(aRow[i].a);
  free(aRow);
  return nBad;
}

int flWarm(sqlite3 *db){
  char **az = 0;
  int n = flIndexes(db, &az), i, rc = SQLITE_OK;
  if( n<0 ) return SQLITE_ERROR;
  for(i=0; rc==SQLITE_OK && i<n; i++){
    char *zSql = indexSql("SELECT count(*) FROM %s WHERE %s MATCH (SELECT "
                          "vector FROM %s ORDER BY rowid LIMIT 1) AND k = 1",
                          az[i]);
    rc = zSql ? flExec(db, zSql, 0, 0) : SQLITE_NOMEM;
    free(zSql);
  }
  flFreeNames(az, n);
  return rc;
}

int flIndexCheckAll(sqlite3 *db, FlBuf *pWhy){
  char **az = 0;
  int n = flIndexes(db, &az), i, nBad = 0;
  if( n<0 ){
    if( flErrorsOk ) return 0;
    flBufPrintf(pWhy, "cannot list the indexes: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  for(i=0; i<n; i++) nBad += flIndexCheck(db, az[i], pWhy);
  flFreeNames(az, n);
  return nBad;
}

/* ------------------------------------------------------------------------
** Files
*/

int flCopyFile(const char *zFrom, const char *zTo){
  char aBuf[65536];
  int fdIn = open(zFrom, O_RDONLY), fdOut;
  ssize_t n;
  if( fdIn<0 ) return 1;
  fdOut = open(zTo, O_WRONLY|O_CREAT|O_TRUNC, 0644);
  if( fdOut<0 ){ close(fdIn); return 1; }
  while( (n = read(fdIn, aBuf, sizeof(aBuf)))>0 ){
    if( write(fdOut, aBuf, (size_t)n)!=n ){ n = -1; break; }
  }
  close(fdIn);
  if( close(fdOut)!=0 ) n = -1;
  return n<0;
}

uint64_t flFileHash(const char *zPath){
  unsigned char aBuf[65536];
  uint64_t h = 14695981039346656037ull;
  int fd = open(zPath, O_RDONLY);
  ssize_t n, i;
  if( fd<0 ) return 0;
  while( (n = read(fd, aBuf, sizeof(aBuf)))>0 ){
    for(i=0; i<n; i++){ h ^= aBuf[i]; h *= 1099511628211ull; }
  }
  close(fd);
  return h;
}

void flRemoveDb(const char *zPath){
  static const char *const azSuffix[] = { "", "-journal", "-wal", "-shm" };
  char zName[4096];
  size_t i;
  for(i=0; i<sizeof(azSuffix)/sizeof(azSuffix[0]); i++){
    snprintf(zName, sizeof(zName), "%s%s", zPath, azSuffix[i]);
    if( unlink(zName)!=0 && errno!=ENOENT ){
      fprintf(stderr, "cannot remove %s: %s\n", zName, strerror(errno));
    }
  }
}
