/*
** unit_index.c: embed_index seen from two connections to one file.
**
**     EMBED_EXT=build/embed EMBED_TEST_DIR=build/test build/unit_index
**
** HOW IT WORKS
** Connections A and B open the same WAL database and load the extension.
** A writes, B searches: B's cache must follow A's commits, must not see
** A's uncommitted rows, and must keep to its snapshot while B holds a read
** transaction.  Each check compares one query's group_concat() with the
** rows expected.
**
** Then the chunks (shadow-table format 2, ext/index_store.c): rowids of
** every order and size, deletes that leave holes and inserts that reuse
** them, updates that move rows and change vectors, OR REPLACE across
** chunks, ROLLBACK and ROLLBACK TO, each followed by test/chunkcheck.h's
** decoding of the chunk tables and by searches equal to a brute force in
** SQL; and how much a connection reads after another connection's and
** another process's commit (embed_metrics()'s chunk counters: one chunk
** for a one-row commit).  Prints failures and "N passed, N failed[, N
** skipped]".
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sqlite3.h>
#include "chunkcheck.h"

static int nPass = 0, nFail = 0;

/* Allocation faults, for the large index's first query: the gFailAt-th
** allocation from the moment it is set fails (gFailed then says so);
** 0, none.  Installed before SQLite starts (main()). */
static sqlite3_mem_methods gMem;
static int gFailAt = 0, gFailed = 0;
static int faultNow(void){
  if( gFailAt>0 && --gFailAt==0 ){
    gFailed = 1;
    return 1;
  }
  return 0;
}
static void *faultMalloc(int n){
  return faultNow() ? 0 : gMem.xMalloc(n);
}
static void *faultRealloc(void *p, int n){
  return faultNow() ? 0 : gMem.xRealloc(p, n);
}
static void faultInstall(void){
  sqlite3_mem_methods m;
  sqlite3_config(SQLITE_CONFIG_GETMALLOC, &gMem);
  m = gMem;
  m.xMalloc = faultMalloc;
  m.xRealloc = faultRealloc;
  sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
}

/* Run zSql on db and compare its first column of its first row (as text,
** "NULL" for none, or "error: MESSAGE") with zWant. */
static void check(int iLine, sqlite3 *db, const char *zSql,
                  const char *zWant){
  sqlite3_stmt *pStmt = 0;
  char zGot[512];
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      const char *z = (const char*)sqlite3_column_text(pStmt, 0);
      snprintf(zGot, sizeof(zGot), "%s", z ? z : "NULL");
      rc = SQLITE_OK;
    }else if( rc==SQLITE_DONE ){
      snprintf(zGot, sizeof(zGot), "NULL");
      rc = SQLITE_OK;
    }
  }
  if( rc ) snprintf(zGot, sizeof(zGot), "error: %s", sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  if( strcmp(zGot, zWant)==0 ){
    nPass++;
  }else{
    nFail++;
    printf("FAIL test/unit_index.c:%d: %s\n  expected: %s\n  got:      %s\n",
           iLine, zSql, zWant, zGot);
  }
}
#define CHECK(db, zSql, zWant) check(__LINE__, db, zSql, zWant)

/* Run zSql, which must succeed. */
static void exec(int iLine, sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr)==SQLITE_OK ){
    nPass++;
  }else{
    nFail++;
    printf("FAIL test/unit_index.c:%d: %s\n  error: %s\n", iLine, zSql, zErr);
  }
  sqlite3_free(zErr);
}
#define EXEC(db, zSql) exec(__LINE__, db, zSql)

static sqlite3 *openConn(const char *zDb, const char *zExt,
                         const char *zModel){
  sqlite3 *db = 0;
  char *zErr = 0, *zSql;
  if( sqlite3_open(zDb, &db) ){
    printf("FAIL cannot open %s: %s\n", zDb, sqlite3_errmsg(db));
    exit(1);
  }
  sqlite3_busy_timeout(db, 2000);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, zExt, 0, &zErr) ){
    printf("FAIL cannot load %s: %s\n", zExt, zErr);
    exit(1);
  }
  zSql = sqlite3_mprintf("SELECT embed_load('mini', %Q)", zModel);
  check(__LINE__, db, zSql, "mini");
  sqlite3_free(zSql);
  return db;
}

#define TOP "SELECT group_concat(rowid) FROM idx WHERE idx MATCH 'dog' AND k = 10"

/* xorshift64*, fixed seed: the same vectors on every run. */
static uint64_t rngState = 0x2545F4914F6CDD1Dull;
static uint64_t rng(void){
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return rngState * 2685821657736338717ull;
}

/* Insert (or with zVerb "INSERT OR REPLACE", replace) row iRowid of table
** zTab with a random vector of nDims floats. */
static void putRow(sqlite3 *db, const char *zVerb, const char *zTab,
                   sqlite3_int64 iRowid, int nDims){
  float v[64];
  sqlite3_stmt *pStmt;
  char *zSql = sqlite3_mprintf("%s INTO %s(rowid, vector) VALUES (?1, ?2)",
                               zVerb, zTab);
  int i;
  for(i=0; i<nDims; i++) v[i] = (float)((int)(rng()%2001) - 1000)/1000.0f;
  sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  sqlite3_bind_int64(pStmt, 1, iRowid);
  sqlite3_bind_blob(pStmt, 2, v, 4*nDims, SQLITE_TRANSIENT);
  if( sqlite3_step(pStmt)!=SQLITE_DONE ){
    nFail++;
    printf("FAIL putRow %lld: %s\n", (long long)iRowid, sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
}

/* The chunks of zTab decode to exactly its rows. */
static void checkChunks(int iLine, sqlite3 *db, const char *zTab){
  char zWhy[300];
  int n = chunkCheck(db, "main", zTab, zWhy, sizeof(zWhy));
  if( n==0 ){
    nPass++;
  }else{
    nFail++;
    printf("FAIL test/unit_index.c:%d: %s: %d problems: %s\n", iLine, zTab,
           n, zWhy);
  }
}
#define CHECK_CHUNKS(db, zTab) checkChunks(__LINE__, db, zTab)

/* Top-10 searches of zTab for the vectors of 20 of its rows equal the
** brute-force ORDER BY 1 - cosine(), rowid over its rows (zTab is
** quant=none, or its oversample takes every row). */
static void checkSearches(int iLine, sqlite3 *db, const char *zTab){
  sqlite3_stmt *pQ = 0, *pIdx = 0, *pBrute = 0;
  char *zQ = sqlite3_mprintf("SELECT vector FROM %s ORDER BY "
                             "(rowid*2654435761) %% 1000003 LIMIT 20", zTab);
  char *zIdx = sqlite3_mprintf("SELECT group_concat(rowid) FROM %s WHERE %s "
                               "MATCH ?1 AND k = 10", zTab, zTab);
  char *zBrute = sqlite3_mprintf("SELECT group_concat(id) FROM (SELECT rowid "
                                 "AS id FROM %s ORDER BY 1 - cosine(vector, ?1), "
                                 "rowid LIMIT 10)", zTab);
  int nBad = 0, nQ = 0;
  if( sqlite3_prepare_v2(db, zQ, -1, &pQ, 0)
   || sqlite3_prepare_v2(db, zIdx, -1, &pIdx, 0)
   || sqlite3_prepare_v2(db, zBrute, -1, &pBrute, 0) ){
    nFail++;
    printf("FAIL test/unit_index.c:%d: %s\n", iLine, sqlite3_errmsg(db));
  }else{
    while( sqlite3_step(pQ)==SQLITE_ROW ){
      char zA[256] = "", zB[256] = "";
      sqlite3_bind_value(pIdx, 1, sqlite3_column_value(pQ, 0));
      sqlite3_bind_value(pBrute, 1, sqlite3_column_value(pQ, 0));
      if( sqlite3_step(pIdx)==SQLITE_ROW ){
        snprintf(zA, sizeof(zA), "%s", sqlite3_column_text(pIdx, 0));
      }else{
        snprintf(zA, sizeof(zA), "error: %s", sqlite3_errmsg(db));
      }
      if( sqlite3_step(pBrute)==SQLITE_ROW ){
        snprintf(zB, sizeof(zB), "%s", sqlite3_column_text(pBrute, 0));
      }
      sqlite3_reset(pIdx);
      sqlite3_reset(pBrute);
      nQ++;
      if( strcmp(zA, zB) ){
        if( nBad++==0 ){
          printf("FAIL test/unit_index.c:%d: %s search: %s\n  brute force: %s\n",
                 iLine, zTab, zA, zB);
        }
      }
    }
    if( nBad==0 && nQ==20 ) nPass++;
    else{ nFail++; if( nQ!=20 ) printf("FAIL test/unit_index.c:%d: %d queries\n", iLine, nQ); }
  }
  sqlite3_finalize(pQ);
  sqlite3_finalize(pIdx);
  sqlite3_finalize(pBrute);
  sqlite3_free(zQ);
  sqlite3_free(zIdx);
  sqlite3_free(zBrute);
}
#define CHECK_SEARCHES(db, zTab) checkSearches(__LINE__, db, zTab)

/* The value of embed_metrics()'s family zFamily for main.zTab. */
static long long indexMetric(sqlite3 *db, const char *zFamily,
                             const char *zTab){
  sqlite3_stmt *pStmt;
  long long n = -1;
  char *zSql = sqlite3_mprintf(
      "SELECT CAST(substr(t, instr(t, '%s{index="
      "\"main.%s\"} ') + length('%s{index="
      "\"main.%s\"} ')) AS INTEGER) FROM (SELECT embed_metrics() AS t)",
      zFamily, zTab, zFamily, zTab);
  sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( sqlite3_step(pStmt)==SQLITE_ROW ) n = sqlite3_column_int64(pStmt, 0);
  sqlite3_finalize(pStmt);
  return n;
}

/* Chunks embed_metrics() says this process has read for main.zTab. */
static long long chunkReads(sqlite3 *db, const char *zTab){
  return indexMetric(db, "embed_index_chunk_reads_total", zTab);
}

static void checkNum(int iLine, const char *zWhat, long long got,
                     long long want){
  if( got==want ){
    nPass++;
  }else{
    nFail++;
    printf("FAIL test/unit_index.c:%d: %s: got %lld, expected %lld\n",
           iLine, zWhat, got, want);
  }
}
#define CHECK_NUM(zWhat, got, want) checkNum(__LINE__, zWhat, got, want)

/* The chunks: see the header. */
static void testChunks(const char *zDb, const char *zExt, const char *zModel){
  sqlite3 *a = openConn(zDb, zExt, zModel), *b = openConn(zDb, zExt, zModel);
  long long n0;
  int i;
  pid_t pid;
  EXEC(a, "CREATE VIRTUAL TABLE ch USING embed_index(dims=24, quant=none);"
          "CREATE VIRTUAL TABLE cb USING embed_index(dims=24)");
  /* rowids in every order and of every size: ascending, descending,
  ** negative, around 2^32 and at both ends of the int64 range */
  EXEC(a, "BEGIN");
  for(i=1; i<=5000; i++) putRow(a, "INSERT", "ch", i, 24);
  for(i=0; i<3000; i++) putRow(a, "INSERT", "ch", 900000 - 7*i, 24);
  for(i=1; i<=500; i++) putRow(a, "INSERT", "ch", -(sqlite3_int64)i*1000003, 24);
  for(i=0; i<100; i++) putRow(a, "INSERT", "ch", (1LL<<32) - 50 + i, 24);
  putRow(a, "INSERT", "ch", (sqlite3_int64)0x7fffffffffffffffLL, 24);
  putRow(a, "INSERT", "ch", -(sqlite3_int64)0x7fffffffffffffffLL - 1, 24);
  EXEC(a, "COMMIT");
  EXEC(a, "INSERT INTO cb(rowid, vector) SELECT rowid, vector FROM ch");
  CHECK(a, "SELECT count(*) || ' ' || sum(live) || ' ' || max(cap) FROM ch_chunks",
        "3 8602 4096");
  CHECK_CHUNKS(a, "ch");
  CHECK_CHUNKS(a, "cb");
  CHECK_SEARCHES(a, "ch");
  CHECK_SEARCHES(b, "ch");
  /* each row of cb found by its own vector */
  CHECK(b, "SELECT count(*) FROM (SELECT rowid AS r, vector AS v FROM cb "
           "WHERE rowid % 97 = 0) WHERE (SELECT rowid FROM cb WHERE cb MATCH v "
           "AND k = 1) IS NOT r", "0");

  /* deletes leave holes; new rows fill them before the chunks grow */
  EXEC(a, "DELETE FROM ch WHERE rowid % 3 = 0; DELETE FROM cb WHERE rowid % 3 = 0");
  CHECK_CHUNKS(a, "ch");
  CHECK_CHUNKS(b, "cb");
  CHECK_SEARCHES(b, "ch");
  CHECK(a, "SELECT sum(used) FROM ch_chunks", "8602");
  EXEC(a, "BEGIN");
  for(i=0; i<1000; i++) putRow(a, "INSERT", "ch", 2000000 + i, 24);
  EXEC(a, "COMMIT");
  CHECK(a, "SELECT sum(used) FROM ch_chunks", "8602");
  CHECK_CHUNKS(b, "ch");
  CHECK_SEARCHES(b, "ch");

  /* updates: new rowids (across chunks: the slot keeps its place), new
  ** vectors, OR REPLACE onto a row of another chunk */
  EXEC(a, "UPDATE ch SET rowid = rowid + 10000000 WHERE rowid BETWEEN 1 AND 200;"
          "UPDATE cb SET vector = (SELECT vector FROM ch WHERE rowid = 899993) "
          "WHERE rowid = 5;"
          "UPDATE OR REPLACE ch SET rowid = 899993 WHERE rowid = 10000001;"
          "INSERT OR REPLACE INTO cb(rowid, vector) SELECT rowid, vector FROM ch "
          "WHERE rowid BETWEEN 3000 AND 3100");
  CHECK_CHUNKS(a, "ch");
  CHECK_CHUNKS(a, "cb");
  CHECK_SEARCHES(b, "ch");
  CHECK(b, "SELECT (SELECT vector FROM ch WHERE rowid = 899993) = "
           "(SELECT vector FROM ch_data WHERE id = 899993)", "1");

  /* ROLLBACK and ROLLBACK TO: new chunks, grown chunks, holes refilled */
  EXEC(a, "BEGIN");
  for(i=0; i<6000; i++) putRow(a, "INSERT", "ch", 5000000 + i, 24);
  EXEC(a, "SAVEPOINT s; DELETE FROM ch WHERE rowid < 0");
  CHECK_SEARCHES(a, "ch");
  EXEC(a, "ROLLBACK TO s");
  CHECK_SEARCHES(a, "ch");
  CHECK(a, "SELECT count(*) FROM ch WHERE rowid BETWEEN 5000000 AND 5005999",
        "6000");
  EXEC(a, "RELEASE s; ROLLBACK");
  CHECK_CHUNKS(a, "ch");
  CHECK_SEARCHES(a, "ch");
  CHECK(a, "SELECT count(*) FROM ch WHERE rowid BETWEEN 5000000 AND 5005999",
        "0");

  /* another connection's one-row commit: B reads one chunk again */
  CHECK_SEARCHES(b, "ch");
  n0 = chunkReads(b, "ch");
  EXEC(a, "DELETE FROM ch WHERE rowid = 899993");
  CHECK_SEARCHES(b, "ch");
  CHECK_NUM("chunks read after a one-row commit", chunkReads(b, "ch") - n0, 1);
  n0 = chunkReads(b, "ch");
  CHECK_SEARCHES(b, "ch");
  CHECK_NUM("chunks read with nothing committed", chunkReads(b, "ch") - n0, 0);

  /* another process's commit: the same */
  n0 = chunkReads(b, "ch");
  fflush(stdout);
  pid = fork();
  if( pid==0 ){
    sqlite3 *c = openConn(zDb, zExt, zModel);
    int rc = sqlite3_exec(c, "UPDATE ch SET vector = (SELECT vector FROM ch "
                             "WHERE rowid = 2000001) WHERE rowid = 2000005",
                          0, 0, 0);
    if( rc==SQLITE_OK && sqlite3_changes(c)!=1 ) rc = SQLITE_ERROR;
    sqlite3_close(c);
    _exit(rc==SQLITE_OK ? 0 : 1);
  }else{
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_NUM("the other process's update", WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
  }
  CHECK_SEARCHES(b, "ch");
  CHECK_NUM("chunks read after another process's commit",
            chunkReads(b, "ch") - n0, 1);
  CHECK_CHUNKS(b, "ch");
  EXEC(a, "DROP TABLE ch; DROP TABLE cb");
  sqlite3_close(a);
  sqlite3_close(b);
}

/* A random vector of nDims floats in [-1, 1] into v. */
static void randVec(float *v, int nDims){
  int i;
  for(i=0; i<nDims; i++) v[i] = (float)((int)(rng()%2001) - 1000)/1000.0f;
}

/*
** An index too large to search by its 4-bit codes (LARGE_ROWS rows of 256
** dims: 17 MB of them, past index_search.c's 16 MB), so that a search runs
** the whole cascade -- Hamming scan, sign estimate, exact.  Ten query
** vectors each have twelve rows planted near them (noise growing with j);
** the top 10 of each must equal SQL's brute force over every row, and a
** new connection's first query must read the sign bits but not the 4-bit
** codes (read bytes below rows x dims/2).
*/
#define LARGE_ROWS 136000
#define LARGE_DIMS 256
static void testLarge(const char *zDir, const char *zExt, const char *zModel){
  char *zDb = sqlite3_mprintf("%s/unit_index_large.db", zDir);
  char *zWal = sqlite3_mprintf("%s-wal", zDb);
  char *zShm = sqlite3_mprintf("%s-shm", zDb);
  float v[LARGE_DIMS], aQ[10][LARGE_DIMS];
  sqlite3 *a, *b;
  sqlite3_stmt *pIns = 0, *pIdx = 0, *pBrute = 0;
  long long nBefore, nRead;
  int i, j, q, nBad = 0;
  remove(zDb); remove(zWal); remove(zShm);
  a = openConn(zDb, zExt, zModel);
  CHECK(a, "PRAGMA journal_mode=WAL", "wal");
  EXEC(a, "CREATE VIRTUAL TABLE big USING embed_index(dims=256); BEGIN");
  sqlite3_prepare_v2(a, "INSERT INTO big(rowid, vector) VALUES (?1, ?2)", -1,
                     &pIns, 0);
  for(i=1; i<=LARGE_ROWS; i++){
    randVec(v, LARGE_DIMS);
    sqlite3_bind_int64(pIns, 1, i);
    sqlite3_bind_blob(pIns, 2, v, sizeof(v), SQLITE_STATIC);
    if( sqlite3_step(pIns)!=SQLITE_DONE && nBad++==0 ){
      printf("FAIL test/unit_index.c:%d: %s\n", __LINE__, sqlite3_errmsg(a));
    }
    sqlite3_reset(pIns);
  }
  for(q=0; q<10; q++){
    randVec(aQ[q], LARGE_DIMS);
    for(j=0; j<12; j++){
      for(i=0; i<LARGE_DIMS; i++){
        v[i] = aQ[q][i] + 0.03f*(float)(j+1)
                          *(float)((int)(rng()%2001) - 1000)/1000.0f;
      }
      sqlite3_bind_int64(pIns, 1, 1000000000 + q*100 + j);
      sqlite3_bind_blob(pIns, 2, v, sizeof(v), SQLITE_STATIC);
      if( sqlite3_step(pIns)!=SQLITE_DONE && nBad++==0 ){
        printf("FAIL test/unit_index.c:%d: %s\n", __LINE__, sqlite3_errmsg(a));
      }
      sqlite3_reset(pIns);
    }
  }
  sqlite3_finalize(pIns);
  EXEC(a, "COMMIT");
  CHECK_NUM("large index insert errors", nBad, 0);

  /* A new connection: its first query reads the sign bits alone, keeps
  ** none of them (index_search.c, embSearchStream()) and re-ranks
  ** SIGN_FACTOR (8) x (3 x 10 + 16) candidates, at least.  The second
  ** reads them again into its cache.  Each query after it reads 4-bit codes while it has read less than the sign
  ** bits' size (so at most one fine image past it) until every chunk's are
  ** in memory; from then on queries read nothing and re-rank far fewer
  ** rows (3 x 10 + 16, and ties).  Every answer is brute force's. */
  b = openConn(zDb, zExt, zModel);
  sqlite3_prepare_v2(b, "SELECT group_concat(rowid) FROM big WHERE big "
                     "MATCH ?1 AND k = 10", -1, &pIdx, 0);
  sqlite3_prepare_v2(b, "SELECT group_concat(id) FROM (SELECT rowid AS id "
                     "FROM big ORDER BY 1 - cosine(vector, ?1), rowid "
                     "LIMIT 10)", -1, &pBrute, 0);
  nBad = 0;
  {
    long long nSign = (long long)(LARGE_ROWS + 120)*(LARGE_DIMS/8);
    long long nFineImg = 4096LL*(4 + LARGE_DIMS/2), nTotal = 0;
    long long nRerank0 = 0, nRerankLast = 0, nAfter = -1, nFirst = 0;
    int nOver = 0;
    char zFine[32], zGot[32];
    for(q=0; q<40; q++){
      char zA[256] = "", zB[256] = "";
      long long nR0 = indexMetric(b, "embed_index_rerank_rows_total", "big");
      nBefore = indexMetric(b, "embed_index_read_bytes_total", "big");
      if( nBefore<0 ) nBefore = 0;
      if( nR0<0 ) nR0 = 0;
      sqlite3_bind_blob(pIdx, 1, aQ[q%10], sizeof(aQ[0]), SQLITE_STATIC);
      sqlite3_bind_blob(pBrute, 1, aQ[q%10], sizeof(aQ[0]), SQLITE_STATIC);
      if( sqlite3_step(pIdx)==SQLITE_ROW ){
        snprintf(zA, sizeof(zA), "%s", sqlite3_column_text(pIdx, 0));
      }else{
        snprintf(zA, sizeof(zA), "error: %s", sqlite3_errmsg(b));
      }
      nRead = indexMetric(b, "embed_index_read_bytes_total", "big") - nBefore;
      nTotal += nRead;
      if( q==0 ){
        nFirst = nRead;
        nRerank0 = indexMetric(b, "embed_index_rerank_rows_total", "big") - nR0;
        if( nRead>=nSign && nRead<(long long)LARGE_ROWS*(LARGE_DIMS/2) ){
          nPass++;
        }else{
          nFail++;
          printf("FAIL test/unit_index.c:%d: first query of a large index "
                 "read %lld bytes (sign bits: %lld)\n", __LINE__, nRead,
                 nSign);
        }
      }else{
        if( nRead > nSign + nFineImg && nOver++==0 ){
          printf("FAIL test/unit_index.c:%d: query %d read %lld bytes\n",
                 __LINE__, q, nRead);
        }
        if( nRead==0 && nAfter<0 ) nAfter = q;
        if( nRead!=0 && nAfter>=0 && nOver++==0 ){
          printf("FAIL test/unit_index.c:%d: query %d read %lld bytes after "
                 "query %lld read none\n", __LINE__, q, nRead, nAfter);
        }
      }
      nRerankLast = indexMetric(b, "embed_index_rerank_rows_total", "big") - nR0;
      if( sqlite3_step(pBrute)==SQLITE_ROW ){
        snprintf(zB, sizeof(zB), "%s", sqlite3_column_text(pBrute, 0));
      }
      sqlite3_reset(pIdx);
      sqlite3_reset(pBrute);
      if( strcmp(zA, zB) && nBad++==0 ){
        printf("FAIL test/unit_index.c:%d: large search %d: %s\n"
               "  brute force: %s\n", __LINE__, q, zA, zB);
      }
    }
    CHECK_NUM("large index searches unlike brute force", nBad, 0);
    CHECK_NUM("large index queries reading past their budget", nOver, 0);
    /* The first query keeps none of what it read: the second reads the
    ** sign bits again, into the cache; past them, every chunk's fine image,
    ** once. */
    {
      sqlite3_stmt *pCap = 0;
      sqlite3_prepare_v2(b, "SELECT sum(cap)*(4 + 128) + (SELECT "
                         "sum(length(data)) FROM big_codes) FROM big_chunks",
                         -1, &pCap, 0);
      snprintf(zFine, sizeof(zFine), "%s", sqlite3_step(pCap)==SQLITE_ROW
               ? (const char*)sqlite3_column_text(pCap, 0) : "?");
      sqlite3_finalize(pCap);
    }
    snprintf(zGot, sizeof(zGot), "%lld", nTotal - nFirst);
    if( strcmp(zGot, zFine)==0 ){
      nPass++;
    }else{
      nFail++;
      printf("FAIL test/unit_index.c:%d: queries after the first read %s "
             "bytes, not the sign bits' and fine images' %s\n", __LINE__,
             zGot, zFine);
    }
    if( nAfter>1 && nAfter<=10 ){
      nPass++;
    }else{
      nFail++;
      printf("FAIL test/unit_index.c:%d: the 4-bit codes were all in memory "
             "after query %lld\n", __LINE__, nAfter);
    }
    if( nRerank0>=8*46 && nRerankLast>=46 && nRerankLast<2*46 ){
      nPass++;
    }else{
      nFail++;
      printf("FAIL test/unit_index.c:%d: rows re-ranked: %lld by the first "
             "query, %lld by the last\n", __LINE__, nRerank0, nRerankLast);
    }
  }
  sqlite3_finalize(pIdx);
  sqlite3_finalize(pBrute);
  /* The writer, after its commit: a chunk after a full one was made
  ** full-sized (no smaller images left behind), and the 4-bit codes it
  ** wrote are no longer in memory, but for the last chunk's.  A write of
  ** codes to an earlier chunk reads that chunk's back (one fine image,
  ** 4096 x (4 + 128) bytes; moving a rowid into a hole reads none), and
  ** every code on disk is still right afterwards: a vector changed, a row
  ** deleted, its slot reused, a rowid moved into a hole. */
  CHECK(a, "SELECT cap FROM big_chunks ORDER BY id DESC LIMIT 1", "4096");
  nBefore = indexMetric(a, "embed_index_read_bytes_total", "big");
  if( nBefore<0 ) nBefore = 0;
  EXEC(a, "BEGIN;"
          "UPDATE big SET vector = (SELECT vector FROM big WHERE rowid = 9)"
          "  WHERE rowid = 5;"
          "DELETE FROM big WHERE rowid IN (10, 20);"
          "INSERT INTO big(rowid, vector) SELECT 10, vector FROM big"
          "  WHERE rowid = 11;"
          "UPDATE big SET rowid = 20 WHERE rowid = 4100;"
          "COMMIT");
  nRead = indexMetric(a, "embed_index_read_bytes_total", "big") - nBefore;
  CHECK_NUM("bytes a write to a large index's first chunks read back",
            nRead, 4096*(4 + LARGE_DIMS/2));
  CHECK_CHUNKS(a, "big");
  CHECK(a, "SELECT count(*) FROM big", "136119");

  /* The warm reader after that commit reads again the two chunks it
  ** changed, 4-bit codes included, and stays warm; after a commit of its
  ** own it keeps its 4-bit codes (it has searched with them). */
  for(q=0; q<2; q++){
    long long nR0 = indexMetric(b, "embed_index_rerank_rows_total", "big");
    long long nMax = q==0 ? 2LL*4096*(1 + 8 + LARGE_DIMS/8 + 4 + LARGE_DIMS/2)
                          : 0;
    if( q==1 ){
      EXEC(b, "UPDATE big SET vector = (SELECT vector FROM big WHERE "
              "rowid = 7) WHERE rowid = 6");
    }
    nBefore = indexMetric(b, "embed_index_read_bytes_total", "big");
    CHECK(b, "SELECT count(*) FROM big WHERE big MATCH (SELECT vector FROM "
             "big WHERE rowid = 1000000003) AND k = 10", "10");
    nRead = indexMetric(b, "embed_index_read_bytes_total", "big") - nBefore;
    nR0 = indexMetric(b, "embed_index_rerank_rows_total", "big") - nR0;
    if( nRead<=nMax && (q==1 || nRead>0) && nR0<2*46 ){
      nPass++;
    }else{
      nFail++;
      printf("FAIL test/unit_index.c:%d: warm reader after %s commit read "
             "%lld bytes (at most %lld), re-ranked %lld rows\n", __LINE__,
             q ? "its own" : "another's", nRead, nMax, nR0);
    }
  }
  /* A commit elsewhere that changes the last chunk (952 rows, under 1/64
  ** of the index): the warm reader reads that chunk's sign bits again and
  ** not its 4-bit codes, neither then nor at its next query (the chunk's
  ** rows go to the exact stage unestimated), and answers as brute force.
  ** The rows of chunk 34 are the near copies of each query. */
  {
    sqlite3_stmt *pB = 0;
    char zA[256] = "", zB[256] = "";
    long long aRead[2], aRerank[2];
    EXEC(a, "UPDATE big SET vector = (SELECT vector FROM big WHERE rowid = "
            "1000000004) WHERE rowid = 1000000005");
    sqlite3_prepare_v2(b, "SELECT group_concat(rowid) FROM big WHERE big "
                       "MATCH ?1 AND k = 10", -1, &pIdx, 0);
    sqlite3_prepare_v2(b, "SELECT group_concat(id) FROM (SELECT rowid AS id "
                       "FROM big ORDER BY 1 - cosine(vector, ?1), rowid "
                       "LIMIT 10)", -1, &pB, 0);
    for(q=0; q<2; q++){
      long long nR0 = indexMetric(b, "embed_index_rerank_rows_total", "big");
      nBefore = indexMetric(b, "embed_index_read_bytes_total", "big");
      sqlite3_bind_blob(pIdx, 1, aQ[q], sizeof(aQ[0]), SQLITE_STATIC);
      sqlite3_bind_blob(pB, 1, aQ[q], sizeof(aQ[0]), SQLITE_STATIC);
      snprintf(zA, sizeof(zA), "%s", sqlite3_step(pIdx)==SQLITE_ROW
               ? (const char*)sqlite3_column_text(pIdx, 0) : sqlite3_errmsg(b));
      snprintf(zB, sizeof(zB), "%s", sqlite3_step(pB)==SQLITE_ROW
               ? (const char*)sqlite3_column_text(pB, 0) : "?");
      sqlite3_reset(pIdx);
      sqlite3_reset(pB);
      aRead[q] = indexMetric(b, "embed_index_read_bytes_total", "big")
                 - nBefore;
      aRerank[q] = indexMetric(b, "embed_index_rerank_rows_total", "big")
                   - nR0;
      if( strcmp(zA, zB) ){
        nFail++;
        printf("FAIL test/unit_index.c:%d: warm reader, query %d after a "
               "commit to the last chunk: %s\n  brute force: %s\n",
               __LINE__, q, zA, zB);
      }else{
        nPass++;
      }
    }
    sqlite3_finalize(pIdx);
    sqlite3_finalize(pB);
    if( aRead[0]==4096/8 + 4096LL*(8 + LARGE_DIMS/8) && aRead[1]==0
     && aRerank[0]>=12 && aRerank[0]<2*46 + 100 ){
      nPass++;
    }else{
      nFail++;
      printf("FAIL test/unit_index.c:%d: after a commit to the last chunk "
             "the warm reader read %lld then %lld bytes, re-ranked %lld\n",
             __LINE__, aRead[0], aRead[1], aRerank[0]);
    }
  }
  sqlite3_close(b);

  /* A new connection's first query, streamed over chunks with holes, a
  ** reused slot, a rowid moved and explicit rowids, answers as its second
  ** (from its cache, the 4-bit codes not read yet: the same cascade), the
  ** row queried first.  Then one chunk's image the wrong size: the first
  ** query of a new connection says so, as a load would. */
  nBad = 0;
  for(q=0; q<4; q++){
    /* Near rows 10 (its slot reused), 20 (moved into a hole), 1000000003
    ** (an explicit chunk) and a query of its own. */
    static const char *const azRow[] = { "10", "20", "1000000003", 0 };
    char azGot[2][256];
    sqlite3_stmt *pVec = 0;
    int k;
    b = openConn(zDb, zExt, zModel);
    sqlite3_prepare_v2(b, "SELECT group_concat(rowid) FROM big WHERE big "
                       "MATCH ?1 AND k = 10", -1, &pIdx, 0);
    if( azRow[q] ){
      char *zSql = sqlite3_mprintf("SELECT vector FROM big WHERE rowid = %s",
                                   azRow[q]);
      sqlite3_prepare_v2(b, zSql, -1, &pVec, 0);
      sqlite3_free(zSql);
      sqlite3_step(pVec);
      sqlite3_bind_blob(pIdx, 1, sqlite3_column_blob(pVec, 0),
                        sizeof(aQ[0]), SQLITE_TRANSIENT);
      sqlite3_finalize(pVec);
    }else{
      sqlite3_bind_blob(pIdx, 1, aQ[3], sizeof(aQ[0]), SQLITE_STATIC);
    }
    for(k=0; k<2; k++){
      if( sqlite3_step(pIdx)==SQLITE_ROW ){
        snprintf(azGot[k], sizeof(azGot[k]), "%s",
                 sqlite3_column_text(pIdx, 0));
      }else{
        snprintf(azGot[k], sizeof(azGot[k]), "error: %s", sqlite3_errmsg(b));
      }
      sqlite3_reset(pIdx);
    }
    if( (strcmp(azGot[0], azGot[1])
         || (azRow[q] && (strncmp(azGot[0], azRow[q], strlen(azRow[q]))
                          || azGot[0][strlen(azRow[q])]!=','))) && nBad++==0 ){
      printf("FAIL test/unit_index.c:%d: search %d of a new connection "
             "after the writes: %s\n  then: %s\n", __LINE__, q, azGot[0],
             azGot[1]);
    }
    sqlite3_finalize(pIdx);
    sqlite3_close(b);
  }
  CHECK_NUM("new connections' first searches after the writes unlike their "
            "second", nBad, 0);
  /* Each allocation of a new connection's first query failing in turn:
  ** out of memory, or the answer; then the next query's answer, always
  ** (nothing half-done is kept). */
  {
    char zRef[256] = "";
    int nFault, nWrong = 0, nNomem = 0;
    for(nFault=0; nFault<100000; nFault++){
      char zGot[256] = "";
      int rc;
      b = openConn(zDb, zExt, zModel);
      sqlite3_prepare_v2(b, "SELECT group_concat(rowid) FROM big WHERE big "
                         "MATCH ?1 AND k = 10", -1, &pIdx, 0);
      sqlite3_bind_blob(pIdx, 1, aQ[5], sizeof(aQ[0]), SQLITE_STATIC);
      gFailed = 0;
      gFailAt = nFault;
      rc = sqlite3_step(pIdx);
      gFailAt = 0;
      if( rc==SQLITE_ROW ){
        snprintf(zGot, sizeof(zGot), "%s", sqlite3_column_text(pIdx, 0));
      }else if( sqlite3_reset(pIdx)==SQLITE_NOMEM ){
        nNomem++;
      }else{
        snprintf(zGot, sizeof(zGot), "error: %s", sqlite3_errmsg(b));
      }
      sqlite3_reset(pIdx);
      if( nFault==0 ) snprintf(zRef, sizeof(zRef), "%s", zGot);
      if( zGot[0] && strcmp(zGot, zRef) && nWrong++==0 ){
        printf("FAIL test/unit_index.c:%d: first query, allocation %d "
               "failing: %s\n  without: %s\n", __LINE__, nFault, zGot, zRef);
      }
      if( sqlite3_step(pIdx)==SQLITE_ROW ){
        snprintf(zGot, sizeof(zGot), "%s", sqlite3_column_text(pIdx, 0));
      }else{
        snprintf(zGot, sizeof(zGot), "error: %s", sqlite3_errmsg(b));
      }
      if( strcmp(zGot, zRef) && nWrong++==0 ){
        printf("FAIL test/unit_index.c:%d: the query after allocation %d "
               "failed: %s\n  without: %s\n", __LINE__, nFault, zGot, zRef);
      }
      sqlite3_finalize(pIdx);
      sqlite3_close(b);
      if( nFault>0 && !gFailed ) break;
    }
    CHECK_NUM("first queries wrong under allocation faults", nWrong, 0);
    if( nNomem>=3 && strncmp(zRef, "error", 5) ){
      nPass++;
    }else{
      nFail++;
      printf("FAIL test/unit_index.c:%d: %d allocation faults in a first "
             "query said out of memory (answer: %s)\n", __LINE__, nNomem,
             zRef);
    }
  }
  EXEC(a, "UPDATE big_codes SET data = zeroblob(10) WHERE id = 3");
  b = openConn(zDb, zExt, zModel);
  CHECK(b, "SELECT count(*) FROM big WHERE big MATCH (SELECT vector FROM "
           "big WHERE rowid = 1) AND k = 10",
        "error: embed_index: shadow table 'big_codes' is corrupt: chunk 3 is "
        "10 bytes, not 131584");
  sqlite3_close(b);
  sqlite3_close(a);
  remove(zDb); remove(zWal); remove(zShm);
  sqlite3_free(zDb); sqlite3_free(zWal); sqlite3_free(zShm);
}

int main(void){
  const char *zExt = getenv("EMBED_EXT");
  const char *zDir = getenv("EMBED_TEST_DIR");
  char *zDb, *zModel, *zWal, *zShm;
  sqlite3 *a, *b;
  if( zExt==0 || zExt[0]==0 || zDir==0 || zDir[0]==0 ){
    printf("unit_index: skipped (EMBED_EXT or EMBED_TEST_DIR unset)\n");
    printf("0 passed, 0 failed, 1 skipped\n");
    return 0;
  }
  faultInstall();
  zDb = sqlite3_mprintf("%s/unit_index.db", zDir);
  zWal = sqlite3_mprintf("%s-wal", zDb);
  zShm = sqlite3_mprintf("%s-shm", zDb);
  zModel = sqlite3_mprintf("%s/mini.emb", zDir);
  remove(zDb);
  remove(zWal);
  remove(zShm);

  a = openConn(zDb, zExt, zModel);
  b = openConn(zDb, zExt, zModel);
  CHECK(a, "PRAGMA journal_mode=WAL", "wal");
  EXEC(a, "CREATE VIRTUAL TABLE idx USING embed_index(model=mini);"
          "INSERT INTO idx(rowid, content) VALUES (1, 'the cat'), "
          "(2, 'a dog'), (3, 'new york')");

  /* B sees A's committed rows, and builds its cache */
  CHECK(b, TOP, "2,3,1");

  /* A's next commit: B's cache is stale and rebuilt */
  EXEC(a, "INSERT INTO idx(rowid, content) VALUES (4, 'dog')");
  CHECK(b, TOP, "2,4,3,1");
  EXEC(a, "DELETE FROM idx WHERE rowid = 2");
  CHECK(b, TOP, "4,3,1");
  EXEC(b, "UPDATE idx SET content = 'york' WHERE rowid = 4");
  CHECK(a, TOP, "3,1,4");

  /* A's uncommitted rows are A's alone */
  EXEC(a, "BEGIN; INSERT INTO idx(rowid, content) VALUES (5, 'the dog')");
  CHECK(a, TOP, "5,3,1,4");
  CHECK(b, TOP, "3,1,4");
  EXEC(a, "ROLLBACK");
  CHECK(a, TOP, "3,1,4");
  CHECK(b, TOP, "3,1,4");

  /* B inside a read transaction keeps its snapshot while A commits */
  EXEC(b, "BEGIN");
  CHECK(b, TOP, "3,1,4");
  EXEC(a, "INSERT INTO idx(rowid, content) VALUES (6, 'dog')");
  CHECK(a, TOP, "6,3,1,4");
  CHECK(b, TOP, "3,1,4");
  CHECK(b, "SELECT count(*) FROM idx", "3");
  EXEC(b, "COMMIT");
  CHECK(b, TOP, "6,3,1,4");

  /* a cache built inside A's transaction, then rolled back to a savepoint
  ** and released: A and B agree with what is committed */
  EXEC(a, "BEGIN; INSERT INTO idx(rowid, content) VALUES (7, 'dog');"
          "SAVEPOINT s; INSERT INTO idx(rowid, content) VALUES (8, 'dog')");
  CHECK(a, TOP, "6,7,8,3,1,4");
  EXEC(a, "ROLLBACK TO s; RELEASE s; COMMIT");
  CHECK(a, TOP, "6,7,3,1,4");
  CHECK(b, TOP, "6,7,3,1,4");

  /* B drops the table: A gets an error, not a stale answer */
  EXEC(b, "DROP TABLE idx");
  CHECK(a, TOP, "error: no such table: idx");
  CHECK(a, "SELECT count(*) FROM sqlite_schema", "0");

  sqlite3_close(a);
  sqlite3_close(b);
  testChunks(zDb, zExt, zModel);
  testLarge(zDir, zExt, zModel);
  remove(zDb);
  remove(zWal);
  remove(zShm);
  sqlite3_free(zDb);
  sqlite3_free(zWal);
  sqlite3_free(zShm);
  sqlite3_free(zModel);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
