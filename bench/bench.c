/*
** bench.c: the hot paths of sqlite-embed, timed side by side with their
** peers in one process, for bench/REPORT.md.
**
**     build/bench coldstart EXT.so MODEL.emb...     load + first embed()
**     build/bench embed EXT.so MODEL.emb TEXTS.txt   embed() rows/s
**     build/bench distance EXT.so VEC0.so            hamming/cosine per row
**     build/bench bandwidth                          a plain read loop, GB/s
**     build/bench toolkit EXT.so MODEL.emb           embed_dedup, embed_kmeans
**                                                    over 100,000 rows
**     build/bench scan                               the Hamming scan kernels
**                                                    over 32 MB of codes, GB/s
**
** HOW IT WORKS
** Each measurement is repeated (5 times unless said) and the best time is
** kept: the minimum is the run least disturbed by the rest of a noisy
** 2-core machine.  Results print as "key value" lines that bench/run.sh
** turns into the report's tables.  Nothing here asserts a target: this is
** a measuring tool, never a test.
*/
#include "kernels.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEAT 5

static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

static void die(const char *zMsg, const char *zDetail){
  fprintf(stderr, "bench: %s%s%s\n", zMsg, zDetail ? ": " : "",
          zDetail ? zDetail : "");
  exit(2);
}

static sqlite3 *openWith(const char *zExt, const char *zExt2){
  sqlite3 *db;
  char *zErr = 0;
  if( sqlite3_open(":memory:", &db) ) die("cannot open a database", 0);
  sqlite3_enable_load_extension(db, 1);
  if( zExt && sqlite3_load_extension(db, zExt, 0, &zErr) ) die(zExt, zErr);
  if( zExt2 && sqlite3_load_extension(db, zExt2, 0, &zErr) ) die(zExt2, zErr);
  return db;
}

static void exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr) ) die(zSql, zErr);
}

/* Time one query that returns one row, best of REPEAT runs, in seconds. */
static double timeQuery(sqlite3 *db, const char *zSql, double *pResult){
  sqlite3_stmt *pStmt;
  double best = 1e30;
  int r;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ) die(zSql, sqlite3_errmsg(db));
  for(r=0; r<REPEAT; r++){
    double t0 = now(), t;
    if( sqlite3_step(pStmt)!=SQLITE_ROW ) die(zSql, sqlite3_errmsg(db));
    if( pResult ) *pResult = sqlite3_column_double(pStmt, 0);
    sqlite3_reset(pStmt);
    t = now() - t0;
    if( t<best ) best = t;
  }
  sqlite3_finalize(pStmt);
  return best;
}

/* Open a connection, load the extension and a model, embed one sentence:
** what a process does before its first answer.  Best of 20, per model. */
static void benchColdStart(const char *zExt, int nModel, char **azModel){
  int i, r;
  for(i=0; i<nModel; i++){
    double best = 1e30, tLoad = 1e30;
    for(r=0; r<20; r++){
      double t0 = now(), t1, t2;
      sqlite3 *db = openWith(zExt, 0);
      char *zSql = sqlite3_mprintf("SELECT embed_load('m', %Q)", azModel[i]);
      sqlite3_stmt *pStmt;
      t1 = now();
      exec(db, zSql);
      sqlite3_free(zSql);
      if( sqlite3_prepare_v2(db, "SELECT length(embed('the quick brown fox', NULL, 'm'))",
                             -1, &pStmt, 0) ) die("prepare", sqlite3_errmsg(db));
      if( sqlite3_step(pStmt)!=SQLITE_ROW ) die("embed", sqlite3_errmsg(db));
      sqlite3_finalize(pStmt);
      t2 = now();
      sqlite3_close(db);
      if( t2-t0<best ) best = t2-t0;
      if( t2-t1<tLoad ) tLoad = t2-t1;
    }
    printf("coldstart %s total_us %.0f model_us %.0f\n", azModel[i],
           best*1e6, tLoad*1e6);
  }
}

/* embed() over a table of the lines of zTexts (repeated to >= 100,000
** rows): SELECT sum(length(embed(t))) FROM t. */
static void benchEmbed(const char *zExt, const char *zModel, const char *zTexts){
  sqlite3 *db = openWith(zExt, 0);
  char *zSql = sqlite3_mprintf(
      "SELECT embed_load('m', %Q);"
      "CREATE TABLE src(t TEXT);", zModel);
  FILE *in = fopen(zTexts, "rb");
  char *zLine = 0;
  size_t nCap = 0;
  ssize_t len;
  sqlite3_stmt *pIns;
  double secs, res, nRow, nByte;
  if( in==0 ) die("cannot open", zTexts);
  exec(db, zSql);
  sqlite3_free(zSql);
  exec(db, "BEGIN");
  if( sqlite3_prepare_v2(db, "INSERT INTO src VALUES (?1)", -1, &pIns, 0) ) die("prepare", 0);
  while( (len = getline(&zLine, &nCap, in))>0 ){
    while( len>0 && (zLine[len-1]=='\n' || zLine[len-1]=='\r') ) len--;
    if( len==0 ) continue;
    sqlite3_bind_text(pIns, 1, zLine, (int)len, SQLITE_TRANSIENT);
    sqlite3_step(pIns);
    sqlite3_reset(pIns);
  }
  sqlite3_finalize(pIns);
  free(zLine);
  fclose(in);
  exec(db, "CREATE TABLE t AS SELECT t FROM src, "
           "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
           " WHERE i < (100000 + (SELECT count(*) FROM src) - 1)/(SELECT count(*) FROM src)) "
           " SELECT i FROM n); COMMIT");
  timeQuery(db, "SELECT count(*) FROM t", &nRow);
  timeQuery(db, "SELECT sum(length(t)) FROM t", &nByte);
  /* the cost of reading the rows alone, to subtract nothing but to show */
  secs = timeQuery(db, "SELECT sum(length(embed(t, NULL, 'm'))) FROM t", &res);
  printf("embed %s rows %.0f bytes %.0f secs %.4f rows_per_s %.0f MB_per_s %.1f\n",
         zModel, nRow, nByte, secs, nRow/secs, nByte/secs/1e6);
  secs = timeQuery(db, "SELECT sum(length(t)) FROM t", &res);
  printf("scan rows %.0f secs %.4f rows_per_s %.0f\n", nRow, secs, nRow/secs);
  sqlite3_close(db);
}

/* hamming() and cosine() per row against sqlite-vec's distance functions,
** on 100,000 random 256-dim vectors and their 256-bit codes. */
static void benchDistance(const char *zExt, const char *zVec0){
  sqlite3 *db = openWith(zExt, zVec0);
  sqlite3_stmt *pIns;
  uint64_t s = 0x2545F4914F6CDD1Dull;
  int i, j;
  float a[256];
  double secs, res;
  exec(db, "CREATE TABLE v(f BLOB, b BLOB); BEGIN");
  if( sqlite3_prepare_v2(db, "INSERT INTO v VALUES (?1, bquant(?1))", -1, &pIns, 0) ) die("prepare", 0);
  for(i=0; i<100000; i++){
    for(j=0; j<256; j++){
      s ^= s>>12; s ^= s<<25; s ^= s>>27;
      a[j] = (float)((double)((s*2685821657736338717ull)>>11)/9007199254740992.0 - 0.5);
    }
    sqlite3_bind_blob(pIns, 1, a, sizeof(a), SQLITE_TRANSIENT);
    sqlite3_step(pIns);
    sqlite3_reset(pIns);
  }
  sqlite3_finalize(pIns);
  exec(db, "COMMIT; CREATE TABLE q AS SELECT f AS qf, b AS qb FROM v LIMIT 1");
  secs = timeQuery(db, "SELECT sum(length(b)) FROM v", &res);
  printf("distance scan secs %.4f\n", secs);
  secs = timeQuery(db, "SELECT sum(hamming(b, qb)) FROM v, q", &res);
  printf("distance hamming secs %.4f ns_per_row %.1f\n", secs, secs*1e4);
  secs = timeQuery(db, "SELECT sum(vec_distance_hamming(vec_bit(b), vec_bit(qb))) FROM v, q", &res);
  printf("distance vec_distance_hamming secs %.4f ns_per_row %.1f\n", secs, secs*1e4);
  secs = timeQuery(db, "SELECT sum(cosine(f, qf)) FROM v, q", &res);
  printf("distance cosine secs %.4f ns_per_row %.1f\n", secs, secs*1e4);
  secs = timeQuery(db, "SELECT sum(vec_distance_cosine(f, qf)) FROM v, q", &res);
  printf("distance vec_distance_cosine secs %.4f ns_per_row %.1f\n", secs, secs*1e4);
  sqlite3_close(db);
}

/* The Hamming scan of embed_index (xHammingMany over contiguous codes) on
** 1,000,000 random 256-bit codes, per kernel variant: GB/s of codes read,
** best of 5, to compare with the memory bandwidth. */
static void benchScan(void){
  size_t nRow = 1000000, nByte = 32, i;
  uint8_t *a = malloc(nRow*nByte);
  uint32_t *aOut = malloc(sizeof(uint32_t)*nRow);
  uint8_t q[32];
  uint64_t s = 88172645463325252ull, sum = 0;
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k, r;
  if( a==0 || aOut==0 ) die("out of memory", 0);
  for(i=0; i<nRow*nByte; i++){
    s ^= s<<13; s ^= s>>7; s ^= s<<17;
    a[i] = (uint8_t)s;
  }
  memcpy(q, a + 12345*nByte, 32);
  for(k=0; k<nK; k++){
    double best = 1e30;
    for(r=0; r<REPEAT; r++){
      double t0 = now(), t;
      aK[k]->xHammingMany(q, a, nByte, nByte, nRow, aOut);
      t = now() - t0;
      if( t<best ) best = t;
      sum += aOut[nRow-1];
    }
    printf("scan %s rows %zu secs %.5f GB_per_s %.2f (checksum %llu)\n",
           aK[k]->zName, nRow, best, (double)(nRow*nByte)/best/1e9,
           (unsigned long long)(sum & 0xff));
  }
  free(a);
  free(aOut);
}

/* embed_index's scan itself: xHammingWithin over 32 MB of random codes of
** 16, 32 and 64 bytes (128, 256 and 512 dims), SCAN_BLOCK rows a call as
** the index calls it, keeping the rows within about a third of the bits
** (almost none, as a search keeps once its threshold has fallen). */
#define SCAN_BLOCK 512
static void benchScanWithin(void){
  static const size_t aByte[] = { 16, 32, 64 };
  size_t nTotal = (size_t)32<<20, i, x;
  uint8_t *a = malloc(nTotal);
  uint32_t aIdx[SCAN_BLOCK], aDist[SCAN_BLOCK];
  uint64_t s = 88172645463325252ull, kept = 0;
  const EmbKernels *const *aK;
  int nK = embKernelsAll(&aK), k, r;
  if( a==0 ) die("out of memory", 0);
  for(i=0; i<nTotal; i++){
    s ^= s<<13; s ^= s>>7; s ^= s<<17;
    a[i] = (uint8_t)s;
  }
  for(x=0; x<sizeof(aByte)/sizeof(aByte[0]); x++){
    size_t nByte = aByte[x], nRow = nTotal/nByte;
    uint32_t T = (uint32_t)(nByte*8/3);
    for(k=0; k<nK; k++){
      double best = 1e30;
      for(r=0; r<REPEAT; r++){
        double t0 = now(), t;
        size_t iRow;
        for(iRow=0; iRow<nRow; iRow+=SCAN_BLOCK){
          size_t n = nRow-iRow < SCAN_BLOCK ? nRow-iRow : SCAN_BLOCK;
          kept += aK[k]->xHammingWithin(a, a + iRow*nByte, nByte, nByte, n, T,
                                        aIdx, aDist);
        }
        t = now() - t0;
        if( t<best ) best = t;
      }
      printf("scanwithin %s bytes %zu rows %zu secs %.5f GB_per_s %.2f"
             " (checksum %llu)\n", aK[k]->zName, nByte, nRow, best,
             (double)nTotal/best/1e9, (unsigned long long)(kept & 0xff));
    }
  }
  free(a);
}

/* Memory bandwidth: sum 64-bit words of a 1 GB buffer, best of 5. */
static void benchBandwidth(void){
  size_t n = (size_t)1 << 27, i;     /* 2^27 words = 1 GiB */
  uint64_t *a = malloc(n*8), sum = 0;
  double best = 1e30;
  int r;
  if( a==0 ) die("out of memory", 0);
  for(i=0; i<n; i++) a[i] = i;
  for(r=0; r<REPEAT; r++){
    double t0 = now(), t;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for(i=0; i<n; i+=4){ s0 += a[i]; s1 += a[i+1]; s2 += a[i+2]; s3 += a[i+3]; }
    sum += s0 + s1 + s2 + s3;
    t = now() - t0;
    if( t<best ) best = t;
  }
  printf("bandwidth GB_per_s %.2f (checksum %llu)\n", (double)(n*8)/best/1e9,
         (unsigned long long)(sum & 0xff));
  free(a);
}

/* embed_dedup() and embed_kmeans() over an embed_index of 100,000 rows:
** 95,000 random unit-ish 100-dim vectors and 5,000 near copies of some. */
static void benchToolkit(const char *zExt, const char *zModel){
  sqlite3 *db = openWith(zExt, 0);
  sqlite3_stmt *pIns;
  uint64_t s = 0x9E3779B97F4A7C15ull;
  static float aKeep[100][100];
  float a[100];
  int i, j;
  double secs, res;
  char *zSql = sqlite3_mprintf("SELECT embed_load('m', %Q)", zModel);
  exec(db, zSql);
  sqlite3_free(zSql);
  exec(db, "CREATE VIRTUAL TABLE t USING embed_index(model=m, dims=100, quant=none); BEGIN");
  if( sqlite3_prepare_v2(db, "INSERT INTO t(rowid, vector) VALUES (?1, ?2)", -1, &pIns, 0) ) die("prepare", sqlite3_errmsg(db));
  for(i=0; i<100000; i++){
    for(j=0; j<100; j++){
      s ^= s>>12; s ^= s<<25; s ^= s>>27;
      a[j] = (float)((double)((s*2685821657736338717ull)>>11)/9007199254740992.0 - 0.5);
    }
    if( i<100 ) memcpy(aKeep[i], a, sizeof(a));
    if( i>=95000 ){                 /* a near copy of one of the first 100 */
      for(j=0; j<100; j++) a[j] = aKeep[i%100][j] + 0.01f*a[j];
    }
    sqlite3_bind_int(pIns, 1, i+1);
    sqlite3_bind_blob(pIns, 2, a, sizeof(a), SQLITE_TRANSIENT);
    if( sqlite3_step(pIns)!=SQLITE_DONE ) die("insert", sqlite3_errmsg(db));
    sqlite3_reset(pIns);
  }
  sqlite3_finalize(pIns);
  exec(db, "COMMIT");
  secs = timeQuery(db, "SELECT count(*) FROM embed_dedup('t', 0.95)", &res);
  printf("toolkit dedup rows 100000 dims 100 pairs %.0f secs %.3f\n", res, secs);
  secs = timeQuery(db, "SELECT count(DISTINCT cluster) FROM embed_kmeans('t', 16, 10, 1)", &res);
  printf("toolkit kmeans rows 100000 dims 100 k 16 iterations 10 secs %.3f\n", secs);
  sqlite3_close(db);
}

int main(int argc, char **argv){
  if( argc>=4 && strcmp(argv[1], "coldstart")==0 ){
    benchColdStart(argv[2], argc-3, argv+3);
  }else if( argc==5 && strcmp(argv[1], "embed")==0 ){
    benchEmbed(argv[2], argv[3], argv[4]);
  }else if( argc==4 && strcmp(argv[1], "distance")==0 ){
    benchDistance(argv[2], argv[3]);
  }else if( argc==4 && strcmp(argv[1], "toolkit")==0 ){
    benchToolkit(argv[2], argv[3]);
  }else if( argc==2 && strcmp(argv[1], "scan")==0 ){
    benchScan();
    benchScanWithin();
  }else if( argc==2 && strcmp(argv[1], "bandwidth")==0 ){
    benchBandwidth();
  }else{
    fprintf(stderr, "usage: see the header of bench/bench.c\n");
    return 2;
  }
  return 0;
}
