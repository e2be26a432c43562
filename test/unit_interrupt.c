/*
** unit_interrupt.c: embed_split, embed_dedup and embed_kmeans stop on
** sqlite3_interrupt() and on a progress handler that returns non-zero, and
** embed_dedup's memory stays bounded whatever the number of pairs.
**
**     EMBED_EXT=build/embed EMBED_TEST_DIR=build/test build/unit_interrupt
**
** HOW IT WORKS
** The work is observed, never timed.  A progress handler registered with
** N = 1 counts its calls: the extension's interrupt checks (progress.h)
** call it a few times each, about every 50 microseconds of work, and SQL
** statements once an instruction.  So the count is a clock of work done.
** - Interrupt: another thread waits until the count shows the long loop
**   under way (past what loading the rows costs, measured first with a
**   call that only loads), then calls sqlite3_interrupt().  The call must
**   return SQLITE_INTERRUPT, and the handler must have been called no more
**   than a couple of checks' worth after the interrupt: the loop stopped
**   at its next check, and long before its end (for embed_split, the
**   model's call counter shows how few pieces were embedded).
** - Progress handler: the same calls with a handler that returns 1 at a
**   given count: SQLITE_INTERRUPT, and no work after it.
** - Memory: embed_dedup over rows that are all one direction (every pair
**   qualifies) with LIMIT 5, and to the end: SQLite's allocation
**   high-water mark (sqlite3_memory_highwater, which counts the
**   extension's sqlite3_malloc) grows by far less than the pairs would
**   take.
** - A FIFO given to embed_load() is refused at once instead of blocking
**   the connection in open() for ever (an alarm turns a hang into a
**   failure).
** Prints failures and "N passed, N failed[, N skipped]".
*/
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>

static int nPass = 0, nFail = 0, nSkip = 0;

#define CHECK(cond, ...) do{                                   \
  if( cond ){ nPass++; }else{                                  \
    nFail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    printf(__VA_ARGS__); printf("\n");                         \
  }                                                            \
}while(0)

/* The handler's call count, and the count at which it says stop (0:
** never). */
static long nCalls = 0;
static long nStopAt = 0;

static int countingHandler(void *pArg){
  long n = __atomic_add_fetch(&nCalls, 1, __ATOMIC_SEQ_CST);
  (void)pArg;
  return nStopAt>0 && n>=nStopAt;
}

static long callsNow(void){
  return __atomic_load_n(&nCalls, __ATOMIC_SEQ_CST);
}

static void sleepMs(int ms){
  struct timespec t = { ms/1000, (long)(ms%1000)*1000000L };
  nanosleep(&t, 0);
}

/* The interrupting thread: once the count passes nArmAt, note the count
** and interrupt. */
typedef struct Interrupter Interrupter;
struct Interrupter {
  sqlite3 *db;
  long nArmAt;
  long nAtInterrupt;         /* -1 when it gave up waiting */
  int bDone;                 /* set by the main thread when the call ended */
};

static void *interrupterMain(void *pArg){
  Interrupter *p = (Interrupter*)pArg;
  int i;
  p->nAtInterrupt = -1;
  /* up to 120 s of waiting for the loop to get there (sanitizer builds
  ** are slow); it normally takes milliseconds */
  for(i=0; i<120000; i++){
    if( __atomic_load_n(&p->bDone, __ATOMIC_SEQ_CST) ) return 0;
    if( callsNow()>=p->nArmAt ){
      p->nAtInterrupt = callsNow();
      sqlite3_interrupt(p->db);
      return 0;
    }
    sleepMs(1);
  }
  return 0;
}

static void exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr)!=SQLITE_OK ){
    nFail++;
    printf("FAIL %s\n  error: %s\n", zSql, zErr);
  }
  sqlite3_free(zErr);
}

static sqlite3_int64 queryInt(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  sqlite3_int64 v = -1;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    v = sqlite3_column_int64(pStmt, 0);
  }else{
    printf("  (%s: %s)\n", zSql, sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
  return v;
}

/* Run zSql (one step, optionally binding the text zBind to ?1) with the
** counting handler; returns the step's result code.  *pnCalls is the
** handler's count at the end. */
static int runCounted(sqlite3 *db, const char *zSql, const char *zBind,
                      long *pnCalls){
  sqlite3_stmt *pStmt = 0;
  int rc;
  __atomic_store_n(&nCalls, 0, __ATOMIC_SEQ_CST);
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc==SQLITE_OK ){
    if( zBind ) sqlite3_bind_text(pStmt, 1, zBind, -1, SQLITE_STATIC);
    sqlite3_progress_handler(db, 1, countingHandler, 0);
    rc = sqlite3_step(pStmt);
    sqlite3_progress_handler(db, 0, 0, 0);
  }else{
    printf("  (%s: %s)\n", zSql, sqlite3_errmsg(db));
  }
  *pnCalls = callsNow();
  sqlite3_finalize(pStmt);
  return rc;
}

/* The call zSql interrupted by another thread once the count passes
** nArmAt.  zWhat names it in messages. */
static void checkInterrupt(sqlite3 *db, const char *zWhat, const char *zSql,
                           const char *zBind, long nArmAt){
  Interrupter it;
  pthread_t thread;
  long nEnd;
  int rc;
  memset(&it, 0, sizeof(it));
  it.db = db;
  it.nArmAt = nArmAt;
  nStopAt = 0;
  __atomic_store_n(&nCalls, 0, __ATOMIC_SEQ_CST);
  if( pthread_create(&thread, 0, interrupterMain, &it) ){
    nFail++;
    printf("FAIL %s: no thread\n", zWhat);
    return;
  }
  rc = runCounted(db, zSql, zBind, &nEnd);
  __atomic_store_n(&it.bDone, 1, __ATOMIC_SEQ_CST);
  pthread_join(thread, 0);
  CHECK(it.nAtInterrupt>=0, "%s: the loop never reached %ld handler calls "
        "(it made %ld): no checks while it works?", zWhat, nArmAt, nEnd);
  CHECK(rc==SQLITE_INTERRUPT, "%s: step returned %d (%s), not "
        "SQLITE_INTERRUPT", zWhat, rc, sqlite3_errstr(rc));
  /* each check calls the handler ~4 times (the probe's instructions); the
  ** first check after the interrupt stops the loop */
  CHECK(it.nAtInterrupt<0 || nEnd - it.nAtInterrupt <= 24,
        "%s: %ld handler calls after the interrupt (%ld at it)", zWhat,
        nEnd - it.nAtInterrupt, it.nAtInterrupt);
}

/* The call zSql with a handler that returns 1 at call nStop. */
static void checkProgressStop(sqlite3 *db, const char *zWhat,
                              const char *zSql, const char *zBind,
                              long nStop){
  long nEnd;
  int rc;
  nStopAt = nStop;
  rc = runCounted(db, zSql, zBind, &nEnd);
  nStopAt = 0;
  CHECK(rc==SQLITE_INTERRUPT, "%s: step returned %d (%s), not "
        "SQLITE_INTERRUPT", zWhat, rc, sqlite3_errstr(rc));
  CHECK(nEnd>=nStop && nEnd<=nStop+8, "%s: the handler said stop at call "
        "%ld, and was called %ld times", zWhat, nStop, nEnd);
}

/* A deterministic generator, so the rows are distinct and reproducible. */
static uint64_t rngState = 0x9e3779b97f4a7c15ull;
static float rngFloat(void){
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return (float)((double)((rngState*2685821657736338717ull)>>11)
                 / 9007199254740992.0 * 2.0 - 1.0);
}

/* nRow rows of nDims into the embed_index zName (created here); bSame:
** all one direction. */
static void fillIndex(sqlite3 *db, const char *zName, int nRow, int nDims,
                      int bSame){
  char *zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE %s USING embed_index("
                               "model=mini, dims=%d, quant=none)", zName, nDims);
  sqlite3_stmt *pStmt = 0;
  float *a = malloc(sizeof(float)*(size_t)nDims);
  int i, j;
  exec(db, zSql);
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("INSERT INTO %s(rowid, vector) VALUES (?1, ?2)", zName);
  exec(db, "BEGIN");
  sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  for(i=1; i<=nRow; i++){
    for(j=0; j<nDims; j++) a[j] = bSame ? (float)(j+1)*(float)i : rngFloat();
    sqlite3_bind_int(pStmt, 1, i);
    sqlite3_bind_blob(pStmt, 2, a, (int)sizeof(float)*nDims, SQLITE_STATIC);
    if( sqlite3_step(pStmt)!=SQLITE_DONE ){
      nFail++;
      printf("FAIL insert into %s: %s\n", zName, sqlite3_errmsg(db));
      break;
    }
    sqlite3_reset(pStmt);
  }
  sqlite3_finalize(pStmt);
  exec(db, "COMMIT");
  sqlite3_free(zSql);
  free(a);
}

static void testSplit(sqlite3 *db){
  const int nWord = 4000000;
  char *zText = malloc((size_t)nWord*4 + 1);
  sqlite3_int64 nBefore, nEmbedded;
  int i;
  for(i=0; i<nWord; i++) memcpy(zText + (size_t)i*4, "cat ", 4);
  zText[(size_t)nWord*4] = 0;
  /* at target 1 every word is a piece, embedded in turn */
  nBefore = queryInt(db, "SELECT calls FROM embed_models WHERE name='mini'");
  checkInterrupt(db, "embed_split",
                 "SELECT chunk FROM embed_split(?1, 1, 'mini')", zText, 200);
  nEmbedded = queryInt(db, "SELECT calls FROM embed_models WHERE name='mini'")
            - nBefore;
  CHECK(nEmbedded < nWord/2, "embed_split embedded %lld of %d pieces after "
        "the interrupt", nEmbedded, nWord);
  nBefore = queryInt(db, "SELECT calls FROM embed_models WHERE name='mini'");
  checkProgressStop(db, "embed_split (progress handler)",
                    "SELECT chunk FROM embed_split(?1, 1, 'mini')", zText,
                    400);
  nEmbedded = queryInt(db, "SELECT calls FROM embed_models WHERE name='mini'")
            - nBefore;
  CHECK(nEmbedded < nWord/2, "embed_split embedded %lld of %d pieces after "
        "the handler said stop", nEmbedded, nWord);
  free(zText);
}

static void testToolkit(sqlite3 *db){
  long nLoad;
  int rc;
  /* 20,000 distinct rows of 64 dims: dedup at 1 finds no pair and compares
  ** 2e8 codes (about 3,000 checks); k-means with k = 200 does 2.6e8
  ** multiply-adds a round */
  fillIndex(db, "big", 20000, 64, 0);
  /* what loading the rows costs in handler calls: the first row of k = 1
  ** with no iterations (which adds ~2 x 20 checks to the load) */
  rc = runCounted(db, "SELECT rowid FROM embed_kmeans('big', 1, 0)", 0,
                  &nLoad);
  CHECK(rc==SQLITE_ROW, "loading: %s", sqlite3_errmsg(db));
  checkInterrupt(db, "embed_dedup",
                 "SELECT count(*) FROM embed_dedup('big', 1.0)", 0, nLoad+400);
  checkInterrupt(db, "embed_kmeans",
                 "SELECT rowid FROM embed_kmeans('big', 200, 50)", 0,
                 nLoad+400);
  checkProgressStop(db, "embed_dedup (progress handler)",
                    "SELECT count(*) FROM embed_dedup('big', 1.0)", 0,
                    nLoad+400);
  checkProgressStop(db, "embed_kmeans (progress handler)",
                    "SELECT rowid FROM embed_kmeans('big', 200, 50)", 0,
                    nLoad+400);
  /* after all that, the connection works */
  CHECK(queryInt(db, "SELECT count(*) FROM embed_kmeans('big', 2, 1)")==20000,
        "the connection after the interrupts: %s", sqlite3_errmsg(db));
}

/* embed_index's scans: quant=none reads every float vector, quant=binary
** every 4-bit code (at this size); both stop when told. */
static void testIndex(sqlite3 *db){
  char zQ[64*12+8];
  int i, n = 0;
  fillIndex(db, "sx", 200000, 64, 0);
  exec(db, "CREATE VIRTUAL TABLE sb USING embed_index(model=mini, dims=64);"
           "INSERT INTO sb(rowid, vector) SELECT rowid, vector FROM sx");
  n += sprintf(zQ+n, "[");
  for(i=0; i<64; i++) n += sprintf(zQ+n, "%s%.3f", i ? "," : "", rngFloat());
  sprintf(zQ+n, "]");
  checkInterrupt(db, "embed_index scan (quant=none)",
                 "SELECT rowid FROM sx WHERE sx MATCH ?1 AND k = 10", zQ, 40);
  checkProgressStop(db, "embed_index scan (quant=none, progress handler)",
                    "SELECT rowid FROM sx WHERE sx MATCH ?1 AND k = 10", zQ, 40);
  checkProgressStop(db, "embed_index 4-bit scan (progress handler)",
                    "SELECT rowid FROM sb WHERE sb MATCH ?1 AND k = 10", zQ, 40);
  CHECK(queryInt(db, "SELECT count(*) FROM sb WHERE sb MATCH '[1,0,0,0,0,0,0,"
                     "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                     "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                     "0]' AND k = 5")==5,
        "embed_index after the interrupts: %s", sqlite3_errmsg(db));
  exec(db, "DROP TABLE sx; DROP TABLE sb");
}

/* Bytes SQLite's allocator had at its peak while zSql ran, above what it
** had before; *piOut the first column of its last row. */
static sqlite3_int64 peakDuring(sqlite3 *db, const char *zSql,
                                sqlite3_int64 *piOut){
  sqlite3_stmt *pStmt = 0;
  sqlite3_int64 nBefore;
  *piOut = -1;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)!=SQLITE_OK ) return -1;
  nBefore = sqlite3_memory_used();
  sqlite3_memory_highwater(1);
  while( sqlite3_step(pStmt)==SQLITE_ROW ) *piOut = sqlite3_column_int64(pStmt, 0);
  sqlite3_finalize(pStmt);
  return sqlite3_memory_highwater(0) - nBefore;
}

static void testDedupMemory(sqlite3 *db){
  sqlite3_int64 nPeak, n;
  if( sqlite3_memory_used()<=0 ){
    nSkip++;
    printf("skipped: this SQLite does not count its memory "
           "(SQLITE_DEFAULT_MEMSTATUS=0)\n");
    return;
  }
  /* 3,000 rows of one direction: 4,498,500 pairs, 108 MB as the rows of
  ** the old answer array; the rows themselves take 0.2 MB */
  fillIndex(db, "same", 3000, 16, 1);
  nPeak = peakDuring(db, "SELECT rowid_b FROM embed_dedup('same', 0.5) LIMIT 5",
                     &n);
  CHECK(n==6, "LIMIT 5: last rowid_b %lld", n);
  CHECK(nPeak>=0 && nPeak < 2000000, "LIMIT 5 of 4.5M pairs took %lld bytes "
        "at its peak", nPeak);
  nPeak = peakDuring(db, "SELECT count(*) FROM embed_dedup('same', 0.5)", &n);
  CHECK(n==4498500, "all pairs: %lld", n);
  CHECK(nPeak>=0 && nPeak < 2000000, "all 4.5M pairs took %lld bytes at "
        "their peak", nPeak);
}

static void testFifo(sqlite3 *db, const char *zDir){
  char *zPath = sqlite3_mprintf("%s/fifo-%d", zDir, (int)getpid());
  char *zSql = sqlite3_mprintf("SELECT embed_load('f', '%q')", zPath);
  sqlite3_stmt *pStmt = 0;
  unlink(zPath);
  if( mkfifo(zPath, 0600)!=0 ){
    nSkip++;
    printf("skipped: cannot make a FIFO at %s\n", zPath);
  }else{
    int rc;
    alarm(60);
    rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
    if( rc==SQLITE_OK ) rc = sqlite3_step(pStmt);
    alarm(0);
    CHECK(rc==SQLITE_ERROR && strstr(sqlite3_errmsg(db), "not a regular file"),
          "embed_load of a FIFO: %d, %s", rc, sqlite3_errmsg(db));
    sqlite3_finalize(pStmt);
    unlink(zPath);
  }
  sqlite3_free(zSql);
  sqlite3_free(zPath);
}

int main(void){
  const char *zExt = getenv("EMBED_EXT");
  const char *zDir = getenv("EMBED_TEST_DIR");
  sqlite3 *db = 0;
  char *zErr = 0, *zSql;
  if( zExt==0 || zDir==0 ){
    printf("skipped: EMBED_EXT or EMBED_TEST_DIR unset\n0 passed, 0 failed, "
           "1 skipped\n");
    return 0;
  }
  sqlite3_open(":memory:", &db);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, zExt, 0, &zErr)!=SQLITE_OK ){
    printf("FAIL cannot load %s: %s\n0 passed, 1 failed\n", zExt, zErr);
    return 1;
  }
  zSql = sqlite3_mprintf("SELECT embed_load('mini', '%q/mini.emb')", zDir);
  exec(db, zSql);
  sqlite3_free(zSql);
  testSplit(db);
  testToolkit(db);
  testIndex(db);
  testDedupMemory(db);
  testFifo(db, zDir);
  sqlite3_close(db);
  printf("%d passed, %d failed, %d skipped\n", nPass, nFail, nSkip);
  return nFail!=0;
}
