/*
** slt.c - a sqllogictest-style test runner for sqlite-embed.
**
** Runs scripts of SQL statements and queries with their expected results,
** each script on its own fresh in-memory database, and reports each record
** whose outcome differs from what the script says.
**
**   build/slt [-v] [-e EXT_PATH]... FILE.test...
**   build/slt -v -e build/EXT.so test/basic.test test/more.test
**
**   -v            also print each record's line and directive as it runs
**   -e EXT_PATH   load this extension into every file's connection first
**                 (repeatable); if it does not load, that file fails
**
** Prints a FAIL block per failing record, a line per file ("f.test: N
** passed, N failed", or "f.test: skipped (VAR unset)" after require-env)
** and a last line "N passed, N failed, N skipped".  Exits 0 if nothing
** failed, 1 if something did, 2 on a usage error or out of memory.
**
** HOW IT WORKS
**   A file is read whole and cut into lines in place (CRLF and a missing
**   final newline are fine).  Blank lines separate records: optional
**   comment and skipif/onlyif lines, a directive line, its body.  Records
**   run in order on the file's connection.  Query results are rendered to
**   strings (rules below), sorted as asked and compared with the expected
**   values one by one, or as an MD5 hash of the value list.
**
** GRAMMAR
**   # text                 comment before a directive or among SQL lines
**                          (kept verbatim among expected results)
**   skipif NAME            skip the record if NAME is "sqlite"
**   onlyif NAME            skip the record unless NAME is "sqlite"
**   statement ok           SQL follows (';'-separated statements are fine);
**                          all of it must succeed
**   statement error [TEXT] SQL follows; it must fail (prepare or step) with
**                          an error message containing TEXT
**   query TYPES [nosort|rowsort|valuesort] [LABEL]
**                          one letter I, T or R per column; one statement,
**                          then "----", then the expected values (without
**                          "----" it only has to run).  LABEL is ignored.
**   hash-threshold N       a failing result of more than N values shows as
**                          its hash line (unless -v); values still compare
**                          one by one, which agrees with comparing hashes
**   halt                   stop reading this file
**   require-env VAR        skip the rest of the file if VAR is unset/empty
**   load PATH              load an extension into this file's connection
**   In SQL, load paths and expected error text ${VAR} becomes the
**   environment variable's value
**   (empty if unset); $VAR without braces stays, for SQL parameters.
**
** RENDERING: NULL -> "NULL", BLOB -> lowercase hex, empty BLOB or text ->
**   "(empty)", text -> itself with bytes below 0x20 as '@'.  Numbers in an
**   I column -> %lld (reals truncated), in an R column -> %.3f (never
**   "-0.000"), in a T column -> sqlite3_column_text().
**
** EXPECTED VALUES: one per line if the line count equals the number of
**   values; else one row per line, fields split at TABs, or else at single
**   spaces (values with spaces then need the one-per-line form).  rowsort
**   sorts rows, valuesort single values (strcmp) on both sides.  A lone
**   line "K values hashing to MD5HEX" is checked against the count and MD5
**   of the sorted actual values, each followed by "\n".
**
** COUNTING: statement, query and load records count as passed, failed or
**   skipped (skipif/onlyif, or after an unmet require-env up to the end of
**   the file or a halt).  Anything else that fails (unknown directive,
**   unreadable file, -e extension not loading) counts as one failed record.
**   Records after halt are not counted.
*/
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sqlite3.h>

#define SLT_ENGINE    "sqlite"  /* the name skipif/onlyif compare with */
#define SLT_MAX_TOKEN 8         /* directive words kept by sltTokenize() */

#define SLT_NOSORT    0
#define SLT_ROWSORT   1
#define SLT_VALUESORT 2

typedef struct SltStr SltStr;
typedef struct SltList SltList;
typedef struct SltRecord SltRecord;
typedef struct SltFile SltFile;

/* A growable string.  z is malloc'd (or NULL while empty) and owned here. */
struct SltStr {
  char *z;
  size_t n;
  size_t nAlloc;
};

/* A growable array of malloc'd strings, all owned by the list. */
struct SltList {
  char **az;
  int n;
  int nAlloc;
};

/* One record, as indexes into SltFile.azLine. */
struct SltRecord {
  int iLine;          /* 1-based line number of the directive */
  const char *zLine;  /* the directive line, trailing blanks trimmed */
  int iBody;          /* index of the first line after the directive */
  int iEnd;           /* index one past the record's last line */
};

/* One test file while it runs. */
struct SltFile {
  const char *zPath;  /* as given on the command line */
  char *zBuf;         /* the whole file; lines NUL-terminated in place */
  char **azLine;      /* nLine pointers into zBuf */
  int nLine;
  sqlite3 *db;
  int nHashThreshold; /* 0: never show a failing result as a hash */
  char *zSkipVar;     /* the unmet require-env variable, or NULL */
  int nPass, nFail, nSkip;
};

static int bVerbose = 0;  /* -v */
static int nSortCol = 1;  /* row width for sltCompareRows() */

/*
** Memory and string helpers.  Out of memory ends the program with status 2.
*/
static void sltOom(void){
  fprintf(stderr, "slt: out of memory\n");
  exit(2);
}
static void *sltRealloc(void *p, size_t n){
  void *pNew = realloc(p, n ? n : 1);
  if( pNew==0 ) sltOom();
  return pNew;
}
static char *sltStrndup(const char *z, size_t n){
  char *zOut = sltRealloc(0, n+1);
  if( n>0 ) memcpy(zOut, z, n);
  zOut[n] = 0;
  return zOut;
}
static char *sltStrdup(const char *z){
  return sltStrndup(z, strlen(z));
}

/* printf() into a new malloc'd string that the caller frees. */
__attribute__((format(printf, 1, 2)))
static char *sltFormat(const char *zFmt, ...){
  va_list ap;
  int n;
  char *z;
  va_start(ap, zFmt);
  n = vsnprintf(0, 0, zFmt, ap);
  va_end(ap);
  if( n<0 ) sltOom();
  z = sltRealloc(0, (size_t)n+1);
  va_start(ap, zFmt);
  vsnprintf(z, (size_t)n+1, zFmt, ap);
  va_end(ap);
  return z;
}

static void sltStrAppend(SltStr *p, const char *z, size_t n){
  if( p->n+n+1>p->nAlloc ){
    p->nAlloc = (p->n+n+1)*2;
    p->z = sltRealloc(p->z, p->nAlloc);
  }
  if( n>0 ) memcpy(p->z+p->n, z, n);
  p->n += n;
  p->z[p->n] = 0;
}

/* Hand the string over to the caller (never NULL) and reset p. */
static char *sltStrFinish(SltStr *p){
  char *z = p->z ? p->z : sltStrdup("");
  memset(p, 0, sizeof(*p));
  return z;
}

/* Append z to the list, which takes ownership of it. */
static void sltListAppend(SltList *p, char *z){
  if( p->n==p->nAlloc ){
    p->nAlloc = p->nAlloc ? p->nAlloc*2 : 16;
    p->az = sltRealloc(p->az, sizeof(char*)*(size_t)p->nAlloc);
  }
  p->az[p->n++] = z;
}

static void sltListReset(SltList *p){
  int i;
  for(i=0; i<p->n; i++) free(p->az[i]);
  free(p->az);
  memset(p, 0, sizeof(*p));
}

static int sltIsBlank(const char *z){
  while( *z==' ' || *z=='\t' ) z++;
  return *z==0;
}

/*
** MD5 as described in RFC 1321.  The table holds floor(2^32*|sin(i+1)|).
*/
static const uint32_t aMd5K[64] = {
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
  0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
  0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
  0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
  0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
  0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
  0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
  0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
  0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391
};
static const unsigned char aMd5Shift[16] = {
  7, 12, 17, 22,  5, 9, 14, 20,  4, 11, 16, 23,  6, 10, 15, 21
};

/* Mix one 64-byte block into the state. */
static void sltMd5Block(uint32_t *aState, const unsigned char *aBlock){
  uint32_t aWord[16];
  uint32_t a = aState[0], b = aState[1], c = aState[2], d = aState[3];
  int i;
  for(i=0; i<16; i++){
    const unsigned char *q = aBlock + 4*i;
    aWord[i] = (uint32_t)q[0] | (uint32_t)q[1]<<8
             | (uint32_t)q[2]<<16 | (uint32_t)q[3]<<24;
  }
  for(i=0; i<64; i++){
    uint32_t f, t;
    int g;
    unsigned s = aMd5Shift[(i/16)*4 + i%4];
    if( i<16 ){      f = (b & c) | (~b & d);  g = i;            }
    else if( i<32 ){ f = (d & b) | (~d & c);  g = (5*i+1) % 16; }
    else if( i<48 ){ f = b ^ c ^ d;           g = (3*i+5) % 16; }
    else{            f = c ^ (b | ~d);        g = (7*i) % 16;   }
    f += a + aMd5K[i] + aWord[g];
    t = d;
    d = c;
    c = b;
    b += (f<<s) | (f>>(32-s));
    a = t;
  }
  aState[0] += a;
  aState[1] += b;
  aState[2] += c;
  aState[3] += d;
}

/* Write the MD5 of the n bytes at a as 32 lowercase hex digits + NUL. */
static void sltMd5(const unsigned char *a, size_t n, char *zHex){
  uint32_t aState[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
  unsigned char aTail[128];
  size_t nFull = n - n%64, nTail = n%64, nTailBlock = nTail<56 ? 1 : 2, i;
  uint64_t nBit = (uint64_t)n*8;
  for(i=0; i<nFull; i+=64) sltMd5Block(aState, a+i);
  memset(aTail, 0, sizeof(aTail));
  if( nTail>0 ) memcpy(aTail, a+nFull, nTail);
  aTail[nTail] = 0x80;
  for(i=0; i<8; i++){
    aTail[nTailBlock*64 - 8 + i] = (unsigned char)(nBit >> (8*i));
  }
  for(i=0; i<nTailBlock; i++) sltMd5Block(aState, aTail + 64*i);
  for(i=0; i<16; i++){
    unsigned v = (aState[i/4] >> (8*(i%4))) & 0xff;
    snprintf(zHex+2*i, 3, "%02x", v);
  }
}

/* Return "N values hashing to MD5HEX" for the list, malloc'd. */
static char *sltHashLine(const SltList *p){
  SltStr all = {0, 0, 0};
  char zHex[33];
  int i;
  for(i=0; i<p->n; i++){
    sltStrAppend(&all, p->az[i], strlen(p->az[i]));
    sltStrAppend(&all, "\n", 1);
  }
  sltMd5((const unsigned char*)all.z, all.n, zHex);
  free(all.z);
  return sltFormat("%d values hashing to %s", p->n, zHex);
}

/* True if z is exactly "DIGITS values hashing to 32-HEX-DIGITS". */
static int sltIsHashLine(const char *z){
  static const char zMid[] = " values hashing to ";
  int i = 0;
  while( isdigit((unsigned char)z[i]) ) i++;
  if( i==0 || strncmp(z+i, zMid, sizeof(zMid)-1)!=0 ) return 0;
  z += (size_t)i + sizeof(zMid) - 1;
  for(i=0; i<32; i++){
    if( !isxdigit((unsigned char)z[i]) ) return 0;
  }
  return z[32]==0;
}

/*
** Return a malloc'd copy of zIn with each ${NAME} replaced by the value of
** environment variable NAME (nothing if unset).  NAME is letters, digits
** and '_'.  Anything else, $NAME included, is copied as it is.
*/
static char *sltExpandEnv(const char *zIn){
  SltStr out = {0, 0, 0};
  const char *z = zIn;
  while( *z ){
    if( z[0]=='$' && z[1]=='{' ){
      size_t n = 0;
      while( isalnum((unsigned char)z[2+n]) || z[2+n]=='_' ) n++;
      if( n>0 && z[2+n]=='}' ){
        char *zName = sltStrndup(z+2, n);
        const char *zVal = getenv(zName);
        free(zName);
        if( zVal ) sltStrAppend(&out, zVal, strlen(zVal));
        z += n + 3;
        continue;
      }
    }
    sltStrAppend(&out, z, 1);
    z++;
  }
  return sltStrFinish(&out);
}

/*
** Read the file zPath whole.  Return a malloc'd, NUL-terminated buffer the
** caller frees and its size in *pnByte, or NULL with errno set.
*/
static char *sltReadFile(const char *zPath, size_t *pnByte){
  FILE *in = fopen(zPath, "rb");
  char *zBuf = 0;
  size_t n = 0, nAlloc = 0;
  if( in==0 ) return 0;
  for(;;){
    size_t nGot;
    if( nAlloc-n<4096 ){
      nAlloc = nAlloc ? nAlloc*2 : 16384;
      zBuf = sltRealloc(zBuf, nAlloc);
    }
    nGot = fread(zBuf+n, 1, nAlloc-n-1, in);
    if( nGot==0 ) break;
    n += nGot;
  }
  if( ferror(in) ){
    int e = errno ? errno : EIO;
    fclose(in);
    free(zBuf);
    errno = e;
    return 0;
  }
  fclose(in);
  zBuf[n] = 0;
  *pnByte = n;
  return zBuf;
}

/*
** Cut p->zBuf (nByte bytes plus a NUL) into lines in place, dropping "\n"
** or "\r\n" and a leading UTF-8 byte order mark.  Fills p->azLine/nLine.
*/
static void sltSplitLines(SltFile *p, size_t nByte){
  char *z = p->zBuf;
  char *zEnd = p->zBuf + nByte;
  int nAlloc = 0;
  if( nByte>=3 && memcmp(z, "\xef\xbb\xbf", 3)==0 ) z += 3;
  while( z<zEnd ){
    char *zEol = memchr(z, '\n', (size_t)(zEnd-z));
    char *zStop = zEol ? zEol : zEnd;
    if( zStop>z && zStop[-1]=='\r' ) zStop[-1] = 0;
    *zStop = 0;
    if( p->nLine==nAlloc ){
      nAlloc = nAlloc ? nAlloc*2 : 256;
      p->azLine = sltRealloc(p->azLine, sizeof(char*)*(size_t)nAlloc);
    }
    p->azLine[p->nLine++] = z;
    z = zStop + 1;
  }
}

/*
** Split z in place at blanks.  Store up to nMax word pointers in azTok and
** return how many words z holds (which may be more than nMax).
*/
static int sltTokenize(char *z, char **azTok, int nMax){
  int n = 0;
  for(;;){
    while( *z==' ' || *z=='\t' ) z++;
    if( *z==0 ) break;
    if( n<nMax ) azTok[n] = z;
    n++;
    while( *z && *z!=' ' && *z!='\t' ) z++;
    if( *z ) *z++ = 0;
  }
  return n;
}

/* Return the part of zLine after its first nWord words and the blanks. */
static const char *sltRestOfLine(const char *z, int nWord){
  int i;
  for(i=0; i<=nWord; i++){
    while( *z==' ' || *z=='\t' ) z++;
    if( i==nWord ) break;
    while( *z && *z!=' ' && *z!='\t' ) z++;
  }
  return z;
}

/*
** Return lines azLine[iFirst..iLast) joined by "\n", comment lines left
** out, as a malloc'd string the caller frees.
*/
static char *sltJoinLines(const SltFile *p, int iFirst, int iLast){
  SltStr out = {0, 0, 0};
  int i;
  for(i=iFirst; i<iLast; i++){
    const char *z = p->azLine[i];
    if( z[0]=='#' ) continue;
    if( out.n>0 ) sltStrAppend(&out, "\n", 1);
    sltStrAppend(&out, z, strlen(z));
  }
  return sltStrFinish(&out);
}

static void sltPrintList(const char *zTitle, const SltList *p){
  int i;
  printf("  %s:\n", zTitle);
  if( p->n==0 ) printf("    (none)\n");
  for(i=0; i<p->n; i++) printf("    %s\n", p->az[i]);
}

/*
** Count a failed record and print its FAIL block: the reason (printf-style
** zFmt), then the SQL, expected and actual parts unless NULL.  iLine 0
** stands for the whole file.  Nothing is freed here.
*/
__attribute__((format(printf, 6, 7)))
static void sltFail(SltFile *p, int iLine, const char *zSql,
                    const SltList *pExp, const SltList *pAct,
                    const char *zFmt, ...){
  va_list ap;
  p->nFail++;
  if( iLine>0 ) printf("FAIL %s:%d: ", p->zPath, iLine);
  else printf("FAIL %s: ", p->zPath);
  va_start(ap, zFmt);
  vprintf(zFmt, ap);
  va_end(ap);
  printf("\n");
  if( zSql && zSql[0] ){
    printf("  sql: ");
    for(; *zSql; zSql++){
      if( *zSql=='\n' ) printf("\n       ");
      else putchar(*zSql);
    }
    printf("\n");
  }
  if( pExp ) sltPrintList("expected", pExp);
  if( pAct ) sltPrintList("actual", pAct);
}

/*
** Run every statement in zSql on db, stepping each to the end.  Return
** SQLITE_OK or the first error's code, with a malloc'd copy of its message
** in *pzErr (NULL on success) for the caller to free.  *pnStmt gets how many
** statements were prepared.
*/
static int sltExec(sqlite3 *db, const char *zSql, int *pnStmt, char **pzErr){
  const char *zTail = zSql;
  *pnStmt = 0;
  *pzErr = 0;
  while( zTail[0] ){
    const char *zPrev = zTail;
    sqlite3_stmt *pStmt = 0;
    int rc = sqlite3_prepare_v2(db, zTail, -1, &pStmt, &zTail);
    if( rc!=SQLITE_OK ){
      *pzErr = sltStrdup(sqlite3_errmsg(db));
      return rc;
    }
    if( pStmt==0 ){
      if( zTail==zPrev ) break;
      continue;
    }
    (*pnStmt)++;
    while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){}
    if( rc!=SQLITE_DONE ){
      *pzErr = sltStrdup(sqlite3_errmsg(db));
      sqlite3_finalize(pStmt);
      return rc;
    }
    sqlite3_finalize(pStmt);
  }
  return SQLITE_OK;
}

/* Run a "statement ok" or "statement error [TEXT]" record. */
static void sltDoStatement(SltFile *p, const SltRecord *pRec,
                           char **azTok, int nTok){
  int bWantError;
  const char *zWant = "";
  char *zSql, *zRun, *zWantRun, *zErr = 0;
  int rc, nStmt, iLine = pRec->iLine;

  if( nTok==2 && strcmp(azTok[1], "ok")==0 ){
    bWantError = 0;
  }else if( nTok>=2 && strcmp(azTok[1], "error")==0 ){
    bWantError = 1;
    zWant = sltRestOfLine(pRec->zLine, 2);
  }else{
    sltFail(p, iLine, 0, 0, 0, "unknown directive: %s", pRec->zLine);
    return;
  }
  zSql = sltJoinLines(p, pRec->iBody, pRec->iEnd);
  zRun = sltExpandEnv(zSql);
  zWantRun = sltExpandEnv(zWant ? zWant : "");
  zWant = zWantRun;
  rc = sltExec(p->db, zRun, &nStmt, &zErr);
  if( rc==SQLITE_OK && nStmt==0 ){
    sltFail(p, iLine, 0, 0, 0, "statement has no SQL");
  }else if( !bWantError && rc!=SQLITE_OK ){
    sltFail(p, iLine, zSql, 0, 0, "statement failed: %s", zErr);
  }else if( bWantError && rc==SQLITE_OK && zWant[0] ){
    sltFail(p, iLine, zSql, 0, 0,
            "statement succeeded, expected error containing '%s'", zWant);
  }else if( bWantError && rc==SQLITE_OK ){
    sltFail(p, iLine, zSql, 0, 0, "statement succeeded, expected an error");
  }else if( bWantError && strstr(zErr, zWant)==0 ){
    sltFail(p, iLine, zSql, 0, 0, "error '%s' does not contain '%s'",
            zErr, zWant);
  }else{
    p->nPass++;
  }
  free(zErr);
  free(zRun);
  free(zWantRun);
  free(zSql);
}

/* Run a "load PATH" record. */
static void sltDoLoad(SltFile *p, const SltRecord *pRec){
  const char *zArg = sltRestOfLine(pRec->zLine, 1);
  char *zPath, *zErr = 0;
  if( zArg[0]==0 ){
    sltFail(p, pRec->iLine, 0, 0, 0, "load: missing path");
    return;
  }
  zPath = sltExpandEnv(zArg);
  if( sqlite3_load_extension(p->db, zPath, 0, &zErr)!=SQLITE_OK ){
    sltFail(p, pRec->iLine, 0, 0, 0, "load '%s' failed: %s", zPath,
            zErr ? zErr : sqlite3_errmsg(p->db));
  }else{
    p->nPass++;
  }
  sqlite3_free(zErr);
  free(zPath);
}

/* Render text bytes: "(empty)" if there are none, bytes < 0x20 as '@'. */
static char *sltRenderText(const unsigned char *z, int n){
  char *zOut;
  int i;
  if( z==0 || n<=0 ) return sltStrdup("(empty)");
  zOut = sltStrndup((const char*)z, (size_t)n);
  for(i=0; i<n; i++){
    if( (unsigned char)zOut[i]<0x20 ) zOut[i] = '@';
  }
  return zOut;
}

/* Render a number as "%.3f", never as "-0.000". */
static char *sltRenderReal(double r){
  char *z = sltFormat("%.3f", r);
  if( strcmp(z, "-0.000")==0 ){
    free(z);
    z = sltStrdup("0.000");
  }
  return z;
}

/*
** Render column iCol of the current row of pStmt for a column of type
** cType ('I', 'T' or 'R').  Returns a malloc'd string the caller frees.
*/
static char *sltRenderValue(sqlite3_stmt *pStmt, int iCol, char cType){
  int eType = sqlite3_column_type(pStmt, iCol);
  if( eType==SQLITE_NULL ) return sltStrdup("NULL");
  if( eType==SQLITE_BLOB ){
    const unsigned char *a = sqlite3_column_blob(pStmt, iCol);
    int n = sqlite3_column_bytes(pStmt, iCol), i;
    char *z;
    if( a==0 || n<=0 ) return sltStrdup("(empty)");
    z = sltRealloc(0, (size_t)n*2 + 1);
    for(i=0; i<n; i++){
      z[2*i] = "0123456789abcdef"[a[i]>>4];
      z[2*i+1] = "0123456789abcdef"[a[i]&0xf];
    }
    z[2*n] = 0;
    return z;
  }
  if( eType==SQLITE_INTEGER || eType==SQLITE_FLOAT ){
    if( cType=='R' ) return sltRenderReal(sqlite3_column_double(pStmt, iCol));
    if( cType=='I' ){
      long long v;
      if( eType==SQLITE_INTEGER ){
        v = sqlite3_column_int64(pStmt, iCol);
      }else{
        double r = sqlite3_column_double(pStmt, iCol);
        if( r!=r ) v = 0;
        else if( r>=9223372036854775807.0 ) v = LLONG_MAX;
        else if( r<=-9223372036854775808.0 ) v = LLONG_MIN;
        else v = (long long)r;
      }
      return sltFormat("%lld", v);
    }
  }
  {
    const unsigned char *z = sqlite3_column_text(pStmt, iCol);
    if( z==0 && sqlite3_errcode(sqlite3_db_handle(pStmt))==SQLITE_NOMEM ){
      sltOom();
    }
    return sltRenderText(z, sqlite3_column_bytes(pStmt, iCol));
  }
}

static int sltCompareValues(const void *pA, const void *pB){
  return strcmp(*(char *const*)pA, *(char *const*)pB);
}
static int sltCompareRows(const void *pA, const void *pB){
  char *const *azA = pA;
  char *const *azB = pB;
  int i;
  for(i=0; i<nSortCol; i++){
    int c = strcmp(azA[i], azB[i]);
    if( c ) return c;
  }
  return 0;
}

/* Sort the values of p in place: rows of nCol for rowsort, else singly. */
static void sltSort(SltList *p, int eSort, int nCol){
  if( p->n<2 ) return;
  if( eSort==SLT_VALUESORT ){
    qsort(p->az, (size_t)p->n, sizeof(char*), sltCompareValues);
  }else if( eSort==SLT_ROWSORT && p->n%nCol==0 ){
    nSortCol = nCol;
    qsort(p->az, (size_t)(p->n/nCol), sizeof(char*)*(size_t)nCol,
          sltCompareRows);
  }
}

/*
** Turn the expected lines pLines into expected values in pOut (new copies,
** owned by pOut), for a result of nValue values in nCol columns.
*/
static void sltExpectedValues(const SltList *pLines, int nCol, int nValue,
                              SltList *pOut){
  static const char aSep[] = { '\t', ' ' };
  int i, k;
  if( pLines->n!=nValue && nCol>1 ){
    for(k=0; k<(int)sizeof(aSep); k++){
      for(i=0; i<pLines->n; i++){
        const char *z = pLines->az[i];
        int nField = 1;
        for(; *z; z++) nField += (*z==aSep[k]);
        if( nField!=nCol ) break;
      }
      if( i<pLines->n ) continue;
      for(i=0; i<pLines->n; i++){
        const char *z = pLines->az[i];
        for(;;){
          const char *zSep = strchr(z, aSep[k]);
          size_t n = zSep ? (size_t)(zSep-z) : strlen(z);
          sltListAppend(pOut, sltStrndup(z, n));
          if( zSep==0 ) break;
          z = zSep + 1;
        }
      }
      return;
    }
  }
  for(i=0; i<pLines->n; i++) sltListAppend(pOut, sltStrdup(pLines->az[i]));
}

/* Run a "query TYPES [SORT] [LABEL]" record. */
static void sltDoQuery(SltFile *p, const SltRecord *pRec,
                       char **azTok, int nTok){
  const char *zTypes = nTok>=2 ? azTok[1] : "";
  const char *zSort = nTok>=3 ? azTok[2] : "nosort";
  int nCol = (int)strlen(zTypes);
  int iLine = pRec->iLine;
  int eSort = -1, iDash, i, rc;
  char *zSql, *zRun, *zHash = 0;
  const char *zTail = 0;
  sqlite3_stmt *pStmt = 0;
  SltList aExpLine = {0, 0, 0}, aExp = {0, 0, 0};
  SltList aAct = {0, 0, 0}, aHash = {0, 0, 0};

  if( strcmp(zSort, "nosort")==0 ) eSort = SLT_NOSORT;
  if( strcmp(zSort, "rowsort")==0 ) eSort = SLT_ROWSORT;
  if( strcmp(zSort, "valuesort")==0 ) eSort = SLT_VALUESORT;
  if( nCol==0 || strspn(zTypes, "ITR")!=(size_t)nCol || eSort<0 || nTok>4 ){
    sltFail(p, iLine, 0, 0, 0, "bad query directive, want 'query TYPES "
            "[nosort|rowsort|valuesort] [LABEL]', TYPES of I T R: %s",
            pRec->zLine);
    return;
  }
  for(iDash=pRec->iBody; iDash<pRec->iEnd; iDash++){
    const char *z = p->azLine[iDash];
    if( strncmp(z, "----", 4)==0 && sltIsBlank(z+4) ) break;
  }
  for(i=iDash+1; i<pRec->iEnd; i++){
    sltListAppend(&aExpLine, sltStrdup(p->azLine[i]));
  }
  zSql = sltJoinLines(p, pRec->iBody, iDash);
  zRun = sltExpandEnv(zSql);

  rc = sqlite3_prepare_v2(p->db, zRun, -1, &pStmt, &zTail);
  if( rc!=SQLITE_OK ){
    sltFail(p, iLine, zSql, 0, 0, "query failed: %s", sqlite3_errmsg(p->db));
    goto done;
  }
  if( pStmt==0 ){
    sltFail(p, iLine, 0, 0, 0, "query has no SQL");
    goto done;
  }
  if( sqlite3_column_count(pStmt)!=nCol ){
    sltFail(p, iLine, zSql, 0, 0, "query returns %d column(s) but types "
            "'%s' give %d", sqlite3_column_count(pStmt), zTypes, nCol);
    goto done;
  }
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    for(i=0; i<nCol; i++){
      sltListAppend(&aAct, sltRenderValue(pStmt, i, zTypes[i]));
    }
  }
  if( rc!=SQLITE_DONE ){
    sltFail(p, iLine, zSql, 0, 0, "query failed: %s", sqlite3_errmsg(p->db));
    goto done;
  }
  sqlite3_finalize(pStmt);
  pStmt = 0;
  if( sqlite3_prepare_v2(p->db, zTail, -1, &pStmt, 0)!=SQLITE_OK || pStmt ){
    sltFail(p, iLine, zSql, 0, 0, "query must be a single SQL statement");
    goto done;
  }

  sltSort(&aAct, eSort, nCol);
  zHash = sltHashLine(&aAct);
  if( iDash<pRec->iEnd ){
    int bHashed = aExpLine.n==1 && sltIsHashLine(aExpLine.az[0]);
    int bMatch;
    if( bHashed ){
      bMatch = strcasecmp(aExpLine.az[0], zHash)==0;
    }else{
      sltExpectedValues(&aExpLine, nCol, aAct.n, &aExp);
      sltSort(&aExp, eSort, nCol);
      bMatch = aExp.n==aAct.n;
      for(i=0; bMatch && i<aAct.n; i++){
        bMatch = strcmp(aExp.az[i], aAct.az[i])==0;
      }
    }
    if( !bMatch ){
      const SltList *pShow = &aAct;
      if( !bVerbose && (bHashed || (p->nHashThreshold>0
                                    && aAct.n>p->nHashThreshold)) ){
        sltListAppend(&aHash, sltStrdup(zHash));
        pShow = &aHash;
      }
      sltFail(p, iLine, zSql, &aExpLine, pShow, "query result mismatch "
              "(%d row(s) of %d column(s))", aAct.n/nCol, nCol);
      goto done;
    }
  }
  p->nPass++;

done:
  sqlite3_finalize(pStmt);
  sltListReset(&aExpLine);
  sltListReset(&aExp);
  sltListReset(&aAct);
  sltListReset(&aHash);
  free(zHash);
  free(zRun);
  free(zSql);
}

/* True for directives whose records are counted. */
static int sltIsCounted(const char *zWord){
  return strcmp(zWord, "statement")==0 || strcmp(zWord, "query")==0
      || strcmp(zWord, "load")==0;
}

/*
** Run the records of p, which has its lines and open connection, adding
** to p's counters.
*/
static void sltRunRecords(SltFile *p){
  int i = 0;
  while( i<p->nLine ){
    SltRecord rec;
    char *azTok[SLT_MAX_TOKEN];
    char *zCopy;
    int iDir, iEnd, nTok, bSkip = 0, bHalt = 0;

    if( sltIsBlank(p->azLine[i]) ){
      i++;
      continue;
    }
    for(iEnd=i; iEnd<p->nLine && !sltIsBlank(p->azLine[iEnd]); iEnd++){}
    for(iDir=i; iDir<iEnd; iDir++){
      char *z = p->azLine[iDir];
      int bSkipIf = strncmp(z, "skipif", 6)==0 && (z[6]==' ' || z[6]=='\t');
      int bOnlyIf = strncmp(z, "onlyif", 6)==0 && (z[6]==' ' || z[6]=='\t');
      if( z[0]=='#' ) continue;
      if( !bSkipIf && !bOnlyIf ) break;
      zCopy = sltStrdup(z);
      nTok = sltTokenize(zCopy, azTok, SLT_MAX_TOKEN);
      /* skipif skips on a match, onlyif on a mismatch */
      if( bSkipIf == (nTok>=2 && strcmp(azTok[1], SLT_ENGINE)==0) ) bSkip = 1;
      free(zCopy);
    }
    i = iEnd;
    if( iDir==iEnd ) continue;

    {
      char *z = p->azLine[iDir];
      size_t n = strlen(z);
      while( n>0 && (z[n-1]==' ' || z[n-1]=='\t') ) z[--n] = 0;
    }
    rec.iLine = iDir + 1;
    rec.zLine = p->azLine[iDir];
    rec.iBody = iDir + 1;
    rec.iEnd = iEnd;
    zCopy = sltStrdup(rec.zLine);
    nTok = sltTokenize(zCopy, azTok, SLT_MAX_TOKEN);

    if( bSkip || p->zSkipVar ){
      if( bVerbose ){
        printf("%s:%d: skipped: %s\n", p->zPath, rec.iLine, rec.zLine);
      }
      if( sltIsCounted(azTok[0]) ) p->nSkip++;
      if( !bSkip && strcmp(azTok[0], "halt")==0 ) bHalt = 1;
    }else{
      if( bVerbose ) printf("%s:%d: %s\n", p->zPath, rec.iLine, rec.zLine);
      if( strcmp(azTok[0], "statement")==0 ){
        sltDoStatement(p, &rec, azTok, nTok);
      }else if( strcmp(azTok[0], "query")==0 ){
        sltDoQuery(p, &rec, azTok, nTok);
      }else if( strcmp(azTok[0], "load")==0 ){
        sltDoLoad(p, &rec);
      }else if( strcmp(azTok[0], "halt")==0 && nTok==1 ){
        bHalt = 1;
      }else if( strcmp(azTok[0], "hash-threshold")==0 && nTok==2
             && strspn(azTok[1], "0123456789")==strlen(azTok[1])
             && strlen(azTok[1])<10 ){
        p->nHashThreshold = atoi(azTok[1]);
      }else if( strcmp(azTok[0], "require-env")==0 && nTok==2 ){
        const char *zVal = getenv(azTok[1]);
        if( zVal==0 || zVal[0]==0 ) p->zSkipVar = sltStrdup(azTok[1]);
      }else{
        sltFail(p, rec.iLine, 0, 0, 0, "unknown directive: %s", rec.zLine);
      }
    }
    free(zCopy);
    if( bHalt ) break;
  }
}

/*
** Run the test file zPath on a fresh in-memory database after loading the
** azExt[nExt] extensions.  Prints its FAIL blocks and summary line, adds
** its counts to *pnPass, *pnFail, *pnSkip.
*/
static void sltRunFile(const char *zPath, char **azExt, int nExt,
                       int *pnPass, int *pnFail, int *pnSkip){
  SltFile f;
  size_t nByte = 0;
  int i;

  memset(&f, 0, sizeof(f));
  f.zPath = zPath;
  f.zBuf = sltReadFile(zPath, &nByte);
  if( f.zBuf==0 ){
    sltFail(&f, 0, 0, 0, 0, "cannot read: %s", strerror(errno));
    goto done;
  }
  sltSplitLines(&f, nByte);
  if( sqlite3_open(":memory:", &f.db)!=SQLITE_OK ){
    sltFail(&f, 0, 0, 0, 0, "cannot open database: %s",
            f.db ? sqlite3_errmsg(f.db) : "out of memory");
    goto done;
  }
  sqlite3_enable_load_extension(f.db, 1);
  for(i=0; i<nExt; i++){
    char *zErr = 0;
    if( sqlite3_load_extension(f.db, azExt[i], 0, &zErr)!=SQLITE_OK ){
      sltFail(&f, 0, 0, 0, 0, "cannot load extension %s: %s", azExt[i],
              zErr ? zErr : sqlite3_errmsg(f.db));
      sqlite3_free(zErr);
      goto done;
    }
  }
  sltRunRecords(&f);

done:
  if( f.zSkipVar && f.nPass==0 && f.nFail==0 ){
    printf("%s: skipped (%s unset)\n", zPath, f.zSkipVar);
  }else if( f.zSkipVar ){
    printf("%s: %d passed, %d failed, rest skipped (%s unset)\n",
           zPath, f.nPass, f.nFail, f.zSkipVar);
  }else{
    printf("%s: %d passed, %d failed\n", zPath, f.nPass, f.nFail);
  }
  *pnPass += f.nPass;
  *pnFail += f.nFail;
  *pnSkip += f.nSkip;
  free(f.zSkipVar);
  sqlite3_close(f.db);
  free(f.azLine);
  free(f.zBuf);
}

static void sltUsage(void){
  fprintf(stderr, "usage: slt [-v] [-e EXT_PATH]... FILE.test...\n");
  exit(2);
}

int main(int argc, char **argv){
  char **azExt = sltRealloc(0, sizeof(char*)*(size_t)argc);
  char **azFile = sltRealloc(0, sizeof(char*)*(size_t)argc);
  int nExt = 0, nFile = 0;
  int nPass = 0, nFail = 0, nSkip = 0;
  int i;

  for(i=1; i<argc; i++){
    if( strcmp(argv[i], "-v")==0 ){
      bVerbose = 1;
    }else if( strcmp(argv[i], "-e")==0 ){
      if( i+1>=argc ) sltUsage();
      azExt[nExt++] = argv[++i];
    }else if( argv[i][0]=='-' && argv[i][1]!=0 ){
      sltUsage();
    }else{
      azFile[nFile++] = argv[i];
    }
  }
  if( nFile==0 ) sltUsage();
  for(i=0; i<nFile; i++){
    sltRunFile(azFile[i], azExt, nExt, &nPass, &nFail, &nSkip);
    fflush(stdout);
  }
  printf("%d passed, %d failed, %d skipped\n", nPass, nFail, nSkip);
  fflush(stdout);   /* LeakSanitizer's exit skips stdio's flush */
  free(azExt);
  free(azFile);
  sqlite3_shutdown();
  return nFail ? 1 : 0;
}
