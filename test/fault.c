/*
** fault.c: every allocation of a scenario fails in turn.
**
**     EMBED_EXT=build/embed EMBED_TEST_DIR=build/test build/fault [NAME...]
**     build/fault --list                  the scenarios and what they run
**     FAULT_TRACE=NAME:N:once build/fault NAME   one run, with the stack
**                                         of its failing allocation
**
** Each scenario is some SQL (or the load of the extension itself) run on a
** connection that has the extension loaded.  The harness wraps SQLite's
** allocator (SQLITE_CONFIG_MALLOC, before sqlite3_initialize(), with the
** lookaside disabled so that every allocation reaches it), and since the
** extension allocates through sqlite3_malloc(), its allocations go through
** the wrapper too.  A scenario is first run with the wrapper counting: it
** makes M allocations, its fault points.  Then it is run again for each
** N = 1 .. M in two modes: "once" fails only the N-th allocation (a
** transient failure; later ones succeed), "from" fails the N-th and every
** later one until the scenario ends (memory that stays exhausted).  After
** each run, with the faults off, the harness checks:
**   - the run returned SQLITE_OK or an error whose primary code is
**     SQLITE_NOMEM (not another error: an out-of-memory misreported), and
**     when it returned SQLITE_OK its output equals the counting run's;
**   - the connection is usable: embed() answers as before;
**   - the database holds what the steps that succeeded made, no more: the
**     scenario's steps are single statements or whole transactions, and
**     the state (every embed_index's rows and the schema) equals the state
**     the counting run reached after as many steps;
**   - every embed_index equals a brute force over its own rows
**     (faultlib.h), through this connection (whose in-memory caches lived
**     through the fault) and through a new one (which reads only what is
**     on disk), where PRAGMA integrity_check is also 'ok';
**   - after both connections close, every allocation made since the run
**     began has been freed (and LeakSanitizer, in the ASan pass, checks
**     the process as a whole at exit).
** Loading the extension is a scenario of its own: a load that fails must
** leave no function or module registered, and loading it again must work.
**
** Runs are independent: each copies the scenario's template database (made
** once, with no faults) and opens new connections, so every run starts
** from the same database and the N-th allocation is the same one (the
** library itself stays loaded, as it is linked with -z nodelete; what it
** keeps process-wide, the model registry and the metrics, comes back to
** the same state, which the harness checks: in every run the fault must
** fire).  A
** scenario with more than FAULT_ALL points is run for every N up to
** FAULT_ALL and then for a deterministic sample of the rest (every S-th N,
** and the last few), said in its summary line.
**
** Prints a line per scenario with its fault points and runs, FAIL lines,
** and "N passed, N failed"; exits 1 on any failure.
*/
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <execinfo.h>
#include <sqlite3.h>

#include "faultlib.h"

#define FAULT_ALL     1000      /* every N up to this; sampled beyond */
#define FAULT_SAMPLE  300       /* sampled points beyond FAULT_ALL */

/* ------------------------------------------------------------------------
** The allocator
*/

#define MODE_OFF    0           /* not counting */
#define MODE_COUNT  1           /* counting, nothing fails */
#define MODE_ONCE   2           /* the iFail-th allocation fails */
#define MODE_FROM   3           /* the iFail-th and every later one fail */

static struct {
  sqlite3_mem_methods orig;
  int eMode;
  long nCall;                 /* allocations since armed */
  long iFail;
  long nFailed;               /* allocations failed since armed */
  long nLive;                 /* allocations not yet freed, always counted */
  int bTrace;                 /* print the stack of the failing allocation */
} g;

/* Under ASan, its symbolizing stack printer; elsewhere glibc's. */
extern void __sanitizer_print_stack_trace(void) __attribute__((weak));

static void printStack(void){
  printf("-- stack of allocation %ld:\n", g.nCall);
  fflush(stdout);
  if( __sanitizer_print_stack_trace ){
    __sanitizer_print_stack_trace();
  }else{
    void *a[64];
    int n = backtrace(a, 64);
    backtrace_symbols_fd(a, n, 1);
  }
}

static int faultHit(void){
  if( g.eMode==MODE_OFF ) return 0;
  g.nCall++;
  if( g.eMode==MODE_COUNT ) return 0;
  if( g.nCall==g.iFail || (g.eMode==MODE_FROM && g.nCall>g.iFail) ){
    if( g.bTrace && g.nCall==g.iFail ) printStack();
    g.nFailed++;
    return 1;
  }
  return 0;
}

static void *faultMalloc(int n){
  void *p;
  if( faultHit() ) return 0;
  p = g.orig.xMalloc(n);
  if( p ) g.nLive++;
  return p;
}

static void faultFree(void *p){
  if( p ) g.nLive--;
  g.orig.xFree(p);
}

static void *faultRealloc(void *p, int n){
  if( faultHit() ) return 0;
  return g.orig.xRealloc(p, n);
}

static int faultSize(void *p){ return g.orig.xSize(p); }
static int faultRoundup(int n){ return g.orig.xRoundup(n); }
static int faultInit(void *p){ return g.orig.xInit(p); }
static void faultShutdown(void *p){ g.orig.xShutdown(p); }

static void arm(int eMode, long iFail){
  g.eMode = eMode;
  g.iFail = iFail;
  g.nCall = 0;
  g.nFailed = 0;
}

static void disarm(void){
  g.eMode = MODE_OFF;
}

/* ------------------------------------------------------------------------
** Scenarios
*/

/* Template databases */
#define DB_EMPTY    0           /* an empty database */
#define DB_INDEX    1           /* zIndexSetup: three indexes with rows */
#define DB_FORMAT1  2           /* test/fixtures/format1_small.db */

/* Kinds */
#define KIND_SQL       0        /* azStep run on a loaded connection */
#define KIND_LOAD      1        /* sqlite3_load_extension() */
#define KIND_LOAD_SQL  2        /* SELECT load_extension() */

/* Flags */
#define FLAG_METRICS   0x01     /* compare the output without its values */
#define FLAG_XFAIL     0x02     /* known to fail: see zNote */

typedef struct Scenario Scenario;
struct Scenario {
  const char *zName;
  int eKind;
  int eDb;
  const char *zWarm;          /* per connection, before the faults; or 0 */
  const char *azStep[8];      /* each one statement or one transaction */
  int flags;
  const char *zNote;          /* FLAG_XFAIL: what is wrong, and where */
};

/*
** The indexes most scenarios start from: vx (8 dims, binary codes, vectors
** only), vn (8 dims, quant=none) and tx (the mini model's 4 dims, rows
** given as text).  Row 13 of vx is a zero vector, which matches nothing.
*/
static const char zIndexSetup[] =
  "CREATE VIRTUAL TABLE vx USING embed_index(dims=8);"
  "CREATE VIRTUAL TABLE vn USING embed_index(dims=8, quant=none);"
  "CREATE VIRTUAL TABLE tx USING embed_index(model=default, oversample=4);"
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<24)"
  " INSERT INTO vx(rowid, vector) SELECT i, CASE WHEN i=13 THEN"
  " '[0,0,0,0,0,0,0,0]' ELSE printf('[%d,%d,%d,%d,%d,%d,%d,%d]',"
  " (i*7)%11-5, (i*13)%7-3, (i*5)%9-4, (i*3)%5-2, (i*11)%13-6, i%4-1,"
  " (i*17)%19-9, (i*19)%3-1) END FROM n;"
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<24)"
  " INSERT INTO vn(rowid, vector) SELECT i*2,"
  " printf('[%d.5,%d,%d,%d,%d,%d,%d,%d]',"
  " (i*3)%7-3, (i*5)%11-5, (i*7)%5-2, i%6-3, (i*13)%9-4, (i*2)%7-3,"
  " (i*23)%17-8, (i*29)%5-2) FROM n;"
  "INSERT INTO tx(rowid, content) VALUES"
  " (1, 'the cat sat on the mat'), (2, 'the dog sat'), (3, 'new york'),"
  " (4, 'it is a cat, and it is not a dog.'), (5, 'café über alles'),"
  " (6, 'e-mail the u.s.'), (7, 'do not'), (8, 'will the cat'),"
  " (9, 'zzz qqq'), (10, 'of the dog and the cat'), (11, 'mat'),"
  " (12, 'are you new');";

/* Build the three caches before the faults. */
#define WARM_INDEX \
  "SELECT count(*) FROM vx WHERE vx MATCH '[1,1,1,1,1,1,1,1]' AND k=1;" \
  "SELECT count(*) FROM vn WHERE vn MATCH '[1,1,1,1,1,1,1,1]' AND k=1;" \
  "SELECT count(*) FROM tx WHERE tx MATCH 'cat' AND k=1;"

static const Scenario aScenario[] = {
  { "load", KIND_LOAD, DB_EMPTY, 0, {0}, 0, 0 },
  { "embed_load", KIND_SQL, DB_EMPTY, 0, {
      "SELECT embed_load('m2', $MINI2)",
      "SELECT embed_load('default', $MINI2)",
      "SELECT name, dims, vocab_size FROM embed_models ORDER BY name",
      0 }, 0, 0 },
  { "embed", KIND_SQL, DB_EMPTY, 0, {
      "SELECT embed('the cat sat on the mat'), embed('dog', 2), "
        "embed('new york', NULL, 'default'), embed(NULL), embed(x'ff41')",
      "SELECT embed(replace(printf('%.*c', 400, 'x'), 'x', 'cat the '))",
      0 }, 0, 0 },
  { "embed_tokens", KIND_SQL, DB_EMPTY, 0, {
      "SELECT embed_tokens('the cat sat'), "
        "embed_tokens('über café e-mail u.s.', 'default'), "
        "embed_tokens(x'ff41c3'), embed_tokens('')",
      "SELECT embed_tokens(replace(printf('%.*c', 300, 'x'), 'x', 'dog '))",
      0 }, 0, 0 },
  { "vector_functions", KIND_SQL, DB_EMPTY, 0, {
      "SELECT bquant('[1,-1,0.5,2,-3,4,5,-6,7]'), hamming(x'0f0f', x'ff00'), "
        "cosine('[1,2,3]', '[3,2,1]'), embed_json(x'0000803f00000040'), "
        "embed_json('[1e-3, 2.5, -0.0]'), bquant(x'0000803f000080bf'), "
        "cosine(x'0000803f00000040', '[2, 4]')",
      "SELECT cosine(embed('cat'), embed('dog')), "
        "hamming(bquant(embed('cat')), bquant(embed('the mat')))",
      0 }, 0, 0 },
  { "embed_models", KIND_SQL, DB_EMPTY, "SELECT embed_load('m2', $MINI2)", {
      "SELECT name, dims, vocab_size, tokenizer, source FROM embed_models "
        "ORDER BY name",
      "SELECT count(*) FROM embed_models WHERE dims=4",
      0 }, 0, 0 },
  { "index_create", KIND_SQL, DB_EMPTY, 0, {
      "CREATE VIRTUAL TABLE nx USING embed_index(dims=8)",
      "CREATE VIRTUAL TABLE nt USING embed_index(model=default, quant=none, "
        "oversample=3, store_content=0)",
      "INSERT INTO nt(rowid, content) VALUES (1, 'the cat')",
      0 }, 0, 0 },
  { "index_insert", KIND_SQL, DB_INDEX, WARM_INDEX, {
      "INSERT INTO vx(rowid, vector) VALUES (100, '[1,2,3,4,5,6,7,8]')",
      "INSERT INTO vx(vector) VALUES "
        "(x'0000803f0000803f0000803f0000803f000080bf000080bf000080bf000080bf')",
      "INSERT INTO tx(rowid, content) VALUES (50, 'the dog sat on the cat')",
      "INSERT INTO tx(content) VALUES ('new york new york')",
      "INSERT OR REPLACE INTO vn(rowid, vector) VALUES (4, '[8,7,6,5,4,3,2,1]')",
      "INSERT INTO vn(rowid, vector) VALUES (-5, '[0.5,0,0,0,0,0,0,-1]')",
      0 }, 0, 0 },
  { "index_update", KIND_SQL, DB_INDEX, WARM_INDEX, {
      "UPDATE vx SET vector = '[-1,-2,-3,-4,5,6,7,8]' WHERE rowid = 5",
      "UPDATE vx SET rowid = 200 WHERE rowid = 6",
      "UPDATE tx SET content = 'new york dog' WHERE rowid = 3",
      "UPDATE tx SET vector = NULL WHERE rowid = 4",
      "UPDATE OR REPLACE vn SET rowid = 2 WHERE rowid = 8",
      "UPDATE vn SET rowid = rowid + 1000, vector = '[1,0,0,0,0,0,0,1]' "
        "WHERE rowid = 10",
      0 }, 0, 0 },
  { "index_delete", KIND_SQL, DB_INDEX, WARM_INDEX, {
      "DELETE FROM vx WHERE rowid = 3",
      "DELETE FROM vn WHERE rowid > 30",
      "DELETE FROM tx WHERE rowid IN (1, 2)",
      0 }, 0, 0 },
  { "index_query", KIND_SQL, DB_INDEX, 0, {
      "SELECT rowid, distance FROM vx WHERE vx MATCH '[1,2,0,-1,3,0,1,1]' "
        "AND k = 5",
      "SELECT rowid, distance, content FROM tx WHERE tx MATCH 'cat on the mat' "
        "AND k = 3",
      "SELECT rowid, distance FROM vn WHERE vn MATCH "
        "x'0000803f0000803f0000803f0000803f000080bf000080bf000080bf000080bf' "
        "AND k = 4 AND rowid IN (2, 4, 6, 18, 20)",
      "SELECT rowid FROM vx WHERE vx MATCH '[1,1,1,1,1,1,1,1]' AND k = 10 "
        "AND distance < 0.8",
      "SELECT rowid, content FROM tx ORDER BY rowid",
      "SELECT vector FROM vn WHERE rowid = 6",
      0 }, 0, 0 },
  { "index_transaction", KIND_SQL, DB_INDEX, WARM_INDEX, {
      "BEGIN; INSERT INTO vx(rowid, vector) VALUES (300, '[1,0,1,0,1,0,1,0]');"
        "INSERT INTO tx(rowid, content) VALUES (300, 'the mat');"
        "UPDATE vn SET vector = '[0,1,0,1,0,1,0,1]' WHERE rowid = 2;"
        "DELETE FROM vx WHERE rowid = 1; COMMIT",
      "SELECT rowid FROM vx WHERE vx MATCH '[1,0,1,0,1,0,1,0]' AND k = 3",
      0 }, 0, 0 },
  { "index_rollback", KIND_SQL, DB_INDEX, WARM_INDEX, {
      "BEGIN; INSERT INTO vx(rowid, vector) VALUES (301, '[1,0,1,0,1,0,1,0]');"
        "DELETE FROM vx WHERE rowid = 1;"
        "UPDATE vn SET rowid = 5000 WHERE rowid = 4;"
        "SELECT rowid FROM vx WHERE vx MATCH '[1,0,1,0,1,0,1,0]' AND k = 3;"
        "ROLLBACK",
      "BEGIN; INSERT INTO vx(rowid, vector) VALUES (302, '[1,1,0,0,1,1,0,0]');"
        "SAVEPOINT s; INSERT INTO vx(rowid, vector) VALUES (303, '[0,0,1,1,0,0,1,1]');"
        "DELETE FROM vx WHERE rowid = 2;"
        "SELECT rowid FROM vx WHERE vx MATCH '[0,0,1,1,0,0,1,1]' AND k = 2;"
        "ROLLBACK TO s;"
        "INSERT INTO tx(rowid, content) VALUES (304, 'cat');"
        "RELEASE s; COMMIT",
      "SELECT rowid FROM vx WHERE vx MATCH '[0,0,1,1,0,0,1,1]' AND k = 3",
      0 }, 0, 0 },
  { "index_ddl", KIND_SQL, DB_INDEX, WARM_INDEX, {
      "ALTER TABLE vn RENAME TO vm",
      "SELECT rowid FROM vm WHERE vm MATCH '[1,1,1,1,1,1,1,1]' AND k = 2",
      "DROP TABLE vx",
      0 }, 0, 0 },
  /*
  ** The format-1 migration: an index written by the build of format 1
  ** (test/fixtures/format1_small.db, made by
  ** test/fixtures/make_format1_small.sh) is searched in place, then
  ** migrated to the current format by its first write (step 2 migrates
  ** f1, step 4 f1t), under every allocation fault.  The state checks
  ** compare rows and the schema through SQL, so a migration left half
  ** done shows as a state no step count gives.
  */
  { "index_format1", KIND_SQL, DB_FORMAT1, 0, {
      "SELECT rowid, distance FROM f1 WHERE f1 MATCH '[1,0,0,1,0,1,1,0]' "
        "AND k = 4",
      "INSERT INTO f1(rowid, vector) VALUES (1000, '[1,2,3,4,5,6,7,8]')",
      "SELECT rowid, distance FROM f1t WHERE f1t MATCH 'the cat' AND k = 3",
      "DELETE FROM f1t WHERE rowid = 3",
      "SELECT rowid, distance FROM f1t WHERE f1t MATCH 'the dog' AND k = 3",
      0 }, 0, 0 },
  { "dedup", KIND_SQL, DB_INDEX, 0, {
      "SELECT rowid_a, rowid_b, similarity FROM embed_dedup('vx', 0.5) "
        "ORDER BY 1, 2",
      "SELECT count(*) FROM embed_dedup('main.tx', 0.9)",
      0 }, 0, 0 },
  { "kmeans", KIND_SQL, DB_INDEX, 0, {
      "SELECT rowid, cluster, distance FROM embed_kmeans('vx', 3, 5, 7) "
        "ORDER BY rowid",
      "SELECT count(DISTINCT cluster) FROM embed_kmeans('tx', 2)",
      0 }, 0, 0 },
  { "split", KIND_SQL, DB_EMPTY, 0, {
      "SELECT chunk, start, end FROM embed_split('The cat sat on the mat. "
        "The dog did not! It is new, e.g. in New York... Will the cat? "
        "Über café.' || char(10) || 'And the dog sat.', 30)",
      "SELECT count(*) FROM embed_split(replace(printf('%.*c', 80, 'x'), "
        "'x', 'The cat sat. '), 40, 'default')",
      0 }, 0, 0 },
  { "metrics", KIND_SQL, DB_INDEX,
      "SELECT embed('the cat'); SELECT embed_tokens('dog');"
      "SELECT count(*) FROM vx WHERE vx MATCH '[1,1,1,1,1,1,1,1]' AND k=1;", {
      "SELECT embed_metrics()",
      0 }, FLAG_METRICS, 0 },
  /* Last: a load from SQL that fails leaves the library mapped for good
  ** (see ext/embed.c), so runs after it would no longer start afresh. */
  { "load_sql", KIND_LOAD_SQL, DB_EMPTY, 0, {0}, 0, 0 },
};
#define N_SCENARIO ((int)(sizeof(aScenario)/sizeof(aScenario[0])))

/* The names the extension registers: none may remain after a failed load. */
static const char zRegistered[] =
  "SELECT (SELECT count(*) FROM pragma_function_list WHERE name IN "
  "('bquant','hamming','cosine','embed_json','embed','embed_tokens',"
  "'embed_load','embed_metrics')) + (SELECT count(*) FROM pragma_module_list "
  "WHERE name IN ('embed_models','embed_index','embed_split','embed_dedup',"
  "'embed_kmeans'))";

#define N_REGISTERED 16   /* rows zRegistered counts: 11 functions, 5 modules */

/* The fault points of a load, and the failed loads from SQL that left
** names registered (and the library pinned). */
static long nLoadPoints = 0;
static long nLoadPinned = 0;

/* What proves a connection usable, and its answer with no faults. */
static const char zProbe[] = "SELECT embed('the cat sat'), embed_tokens('dog')";

/* ------------------------------------------------------------------------
** Runs
*/

static const char *zExt;          /* the extension, as sqlite3_load_extension() takes it */
static char zDir[4096];           /* work files */
static char zRunDb[4200];
static char *zProbeAnswer;        /* zProbe's output with no faults */
static const char *zFixture;      /* test/fixtures/format1_small.db */

/* What a run did. */
typedef struct RunResult RunResult;
struct RunResult {
  int rc;                     /* first error, or SQLITE_OK */
  int nOk;                    /* steps that succeeded */
  char *zErr;                 /* malloc'd */
  FlBuf out;
  long nCall, nFailed;
};

static void resultClear(RunResult *r){
  free(r->zErr);
  flBufFree(&r->out);
  memset(r, 0, sizeof(*r));
}

/* Keep the metrics exposition's names, labels and buckets, not its
** values: timings differ from run to run, and the counters go on adding up
** across runs (the library stays loaded for the life of the process). */
static void dropValues(FlBuf *p){
  char *zIn = p->z, *zOut = p->z;
  if( zIn==0 ) return;
  while( *zIn ){
    char *zEnd = strchr(zIn, '\n');
    size_t n = zEnd ? (size_t)(zEnd - zIn) + 1 : strlen(zIn), nKeep = n;
    if( zIn[0]!='#' ){
      char *zSp = memrchr(zIn, ' ', n);
      if( zSp ) nKeep = (size_t)(zSp - zIn);
    }
    memmove(zOut, zIn, nKeep);
    zOut += nKeep;
    if( nKeep<n ) *zOut++ = '\n';
    zIn += n;
  }
  *zOut = 0;
  p->n = (size_t)(zOut - p->z);
}

static int openDb(const char *zPath, sqlite3 **pDb){
  int rc = sqlite3_open_v2(zPath, pDb,
                           SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0);
  if( rc==SQLITE_OK ){
    sqlite3_db_config(*pDb, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, 0);
  }
  return rc;
}

static int loadExt(sqlite3 *db, char **pzErr){
  char *zErr = 0;
  int rc = sqlite3_load_extension(db, zExt, 0, &zErr);
  if( pzErr ) *pzErr = zErr ? strdup(zErr) : 0;
  sqlite3_free(zErr);
  return rc;
}

/* Open zPath with the extension loaded and zWarm run, with no faults.
** Returns the connection, or NULL after a failed check. */
static sqlite3 *openLoaded(const char *zPath, const char *zWarm,
                           const char *zWhat){
  sqlite3 *db = 0;
  char *zErr = 0;
  int rc = openDb(zPath, &db);
  if( rc==SQLITE_OK ) rc = loadExt(db, &zErr);
  if( rc==SQLITE_OK ){
    flExec(db, "PRAGMA synchronous=OFF", 0, 0);
    if( zWarm ){
      char *zSql = flSubst(zWarm);
      rc = flExec(db, zSql, 0, &zErr);
      free(zSql);
    }
  }
  if( !flCheck(rc==SQLITE_OK, "%s: cannot open a connection: %s", zWhat,
               zErr ? zErr : sqlite3_errstr(rc)) ){
    sqlite3_close(db);
    db = 0;
  }
  free(zErr);
  return db;
}

/* The template of a scenario into zRunDb. */
static int prepareDb(const Scenario *p, const char *zTemplate){
  flRemoveDb(zRunDb);
  if( p->eDb==DB_EMPTY ) return 0;
  return flCopyFile(zTemplate, zRunDb);
}

/* Run the steps of p on db, armed as eMode/iFail, into *pRes. */
static void runSteps(const Scenario *p, sqlite3 *db, int eMode, long iFail,
                     int nStepMax, RunResult *pRes){
  int i;
  memset(pRes, 0, sizeof(*pRes));
  arm(eMode, iFail);
  for(i=0; p->azStep[i] && i<nStepMax; i++){
    char *zSql = flSubst(p->azStep[i]);  /* malloc(): outside the count */
    int rc;
    rc = flExec(db, zSql, &pRes->out, &pRes->zErr);
    free(zSql);
    if( rc ){
      pRes->rc = rc;
      break;
    }
    pRes->nOk++;
  }
  pRes->nCall = g.nCall;
  pRes->nFailed = g.nFailed;
  disarm();
  if( p->flags & FLAG_METRICS ) dropValues(&pRes->out);
}

/* The state on disk: every index's rows, and the schema. */
static char *diskStateOf(sqlite3 *db){
  FlBuf s = {0};
  int rc = flState(db, &s);
  if( rc==SQLITE_OK ){
    rc = flExec(db, "SELECT type, name, tbl_name FROM sqlite_schema "
                "ORDER BY name", &s, 0);
  }
  if( rc ) flBufPrintf(&s, "(error %d: %s)", rc, sqlite3_errmsg(db));
  if( s.z==0 ) flBufAppend(&s, "", 0);
  return s.z;
}

/* The state that the steps leave: zDisk (diskStateOf(), or NULL to read
** it) and the connection's models. */
static char *stateOf(sqlite3 *db, const char *zDisk){
  FlBuf s = {0};
  char *zOwn = zDisk ? 0 : diskStateOf(db);
  int rc;
  if( zOwn ) zDisk = zOwn;
  flBufAppend(&s, zDisk, strlen(zDisk));
  free(zOwn);
  rc = flExec(db, "SELECT name, dims, vocab_size FROM embed_models "
              "ORDER BY name", &s, 0);
  if( rc ) flBufPrintf(&s, "(error %d: %s)", rc, sqlite3_errmsg(db));
  return s.z;
}

/* What the counting run learnt about a scenario. */
typedef struct Reference Reference;
struct Reference {
  long nPoint;                /* allocations: the fault points */
  char *zOut;                 /* output of all steps */
  char *azState[9];           /* state after 0, 1, ... steps */
  int nStep;
};

static void referenceClear(Reference *r){
  int i;
  free(r->zOut);
  for(i=0; i<=r->nStep; i++) free(r->azState[i]);
  memset(r, 0, sizeof(*r));
}

/*
** Files already checked through a new connection in this scenario: the
** hash of the database file and the state seen on it.  A run that leaves
** the same bytes on disk as an earlier one (most do: a failed statement
** rolls back to the very pages it started from) would get the same
** answers from a new connection, so it is only compared with the state
** recorded.  Reset per scenario.
*/
#define N_MEMO 64
static struct { uint64_t h; char *zState; } aMemo[N_MEMO];
static int nMemo = 0;

static void memoReset(void){
  int i;
  for(i=0; i<nMemo; i++) free(aMemo[i].zState);
  nMemo = 0;
}

/* Check the connection and the database after a run of p. */
static void checkAfter(const Scenario *p, sqlite3 *db, const Reference *pRef,
                       const RunResult *pRes, const char *zRun){
  FlBuf why = {0}, probe = {0};
  char *zState, *zDisk;
  sqlite3 *db2;
  uint64_t h;
  int rc, i, nBad;
  (void)p;

  if( !sqlite3_get_autocommit(db) ) flExec(db, "ROLLBACK", 0, 0);
  flCheck(pRes->rc==SQLITE_OK || (pRes->rc & 0xff)==SQLITE_NOMEM,
          "%s: failed with error %d, not SQLITE_NOMEM: %s", zRun, pRes->rc,
          pRes->zErr ? pRes->zErr : "?");
  if( pRes->rc==SQLITE_OK ){
    flCheck(strcmp(flBufText(&pRes->out), pRef->zOut)==0,
            "%s: succeeded with another answer:\n%s\nnot\n%s", zRun,
            flBufText(&pRes->out), pRef->zOut);
  }
  rc = flExec(db, zProbe, &probe, 0);
  flCheck(rc==SQLITE_OK && strcmp(flBufText(&probe), zProbeAnswer)==0,
          "%s: the connection is not usable after it: %s", zRun,
          rc ? sqlite3_errmsg(db) : flBufText(&probe));
  zDisk = diskStateOf(db);
  zState = stateOf(db, zDisk);
  flCheck(strcmp(zState, pRef->azState[pRes->nOk])==0,
          "%s: after %d steps that succeeded, the state is\n%s\nnot\n%s",
          zRun, pRes->nOk, zState, pRef->azState[pRes->nOk]);
  free(zState);
  nBad = flIndexCheckAll(db, &why);
  flCheck(nBad==0, "%s: this connection: %s", zRun, flBufText(&why));
  flBufReset(&why);

  /* A new connection sees only what is on disk. */
  h = flFileHash(zRunDb);
  for(i=0; i<nMemo && aMemo[i].h!=h; i++){}
  if( i<nMemo ){
    flCheck(strcmp(zDisk, aMemo[i].zState)==0, "%s: a new connection sees"
            "\n%s\nnot\n%s", zRun, aMemo[i].zState, zDisk);
  }else if( (db2 = openLoaded(zRunDb, 0, zRun))!=0 ){
    FlBuf ic = {0};
    char *zDisk2;
    int nFail0 = flFail;
    rc = flExec(db2, "PRAGMA integrity_check", &ic, 0);
    flCheck(rc==SQLITE_OK && strcmp(flBufText(&ic), "ok\n")==0,
            "%s: integrity_check: %s", zRun, flBufText(&ic));
    flBufFree(&ic);
    zDisk2 = diskStateOf(db2);
    flCheck(strcmp(zDisk, zDisk2)==0, "%s: a new connection sees\n%s\nnot"
            "\n%s", zRun, zDisk2, zDisk);
    nBad = flIndexCheckAll(db2, &why);
    flCheck(nBad==0, "%s: a new connection: %s", zRun, flBufText(&why));
    sqlite3_close(db2);
    if( flFail==nFail0 && nMemo<N_MEMO && h!=0 ){
      aMemo[nMemo].h = h;
      aMemo[nMemo].zState = zDisk2;
      nMemo++;
    }else{
      free(zDisk2);
    }
  }
  free(zDisk);
  flBufFree(&why);
  flBufFree(&probe);
}

/* Counting run of a KIND_SQL scenario, then a run per step for states. */
static int referenceSql(const Scenario *p, const char *zTemplate,
                        Reference *pRef){
  RunResult res;
  sqlite3 *db;
  int i, nStep;
  memset(pRef, 0, sizeof(*pRef));
  for(nStep=0; p->azStep[nStep]; nStep++){}
  pRef->nStep = nStep;

  if( prepareDb(p, zTemplate) ) return 1;
  db = openLoaded(zRunDb, p->zWarm, p->zName);
  if( db==0 ) return 1;
  runSteps(p, db, MODE_COUNT, 0, nStep, &res);
  if( !flCheck(res.rc==SQLITE_OK, "%s: fails with no fault: %s", p->zName,
               res.zErr ? res.zErr : "?") ){
    resultClear(&res);
    sqlite3_close(db);
    return 1;
  }
  pRef->nPoint = res.nCall;
  pRef->zOut = strdup(flBufText(&res.out));
  resultClear(&res);
  sqlite3_close(db);

  /* The state after each number of steps, each from a fresh copy. */
  for(i=0; i<=nStep; i++){
    if( prepareDb(p, zTemplate) ) return 1;
    db = openLoaded(zRunDb, p->zWarm, p->zName);
    if( db==0 ) return 1;
    runSteps(p, db, MODE_OFF, 0, i, &res);
    resultClear(&res);
    pRef->azState[i] = stateOf(db, 0);
    sqlite3_close(db);
  }
  return 0;
}

/* One fault run of a KIND_SQL scenario. */
static void runSql(const Scenario *p, const char *zTemplate,
                   const Reference *pRef, int eMode, long iFail,
                   long *pnNotFired){
  char zRun[128];
  RunResult res;
  sqlite3 *db;
  long nLive0 = g.nLive;
  snprintf(zRun, sizeof(zRun), "%s: allocation %ld %s", p->zName, iFail,
           eMode==MODE_ONCE ? "fails once" : "and all after it fail");
  if( prepareDb(p, zTemplate) ){
    flCheck(0, "%s: cannot copy the template", zRun);
    return;
  }
  db = openLoaded(zRunDb, p->zWarm, zRun);
  if( db==0 ) return;
  runSteps(p, db, eMode, iFail, 99, &res);
  if( res.nFailed==0 ) (*pnNotFired)++;
  checkAfter(p, db, pRef, &res, zRun);
  resultClear(&res);
  sqlite3_close(db);
  flCheck(g.nLive==nLive0, "%s: %ld allocations leaked", zRun,
          g.nLive - nLive0);
}

/* One run of the load scenarios (KIND_LOAD, KIND_LOAD_SQL); eMode
** MODE_COUNT counts.  Returns the allocations made. */
static long runLoad(const Scenario *p, int eMode, long iFail,
                    long *pnNotFired){
  char zRun[128];
  sqlite3 *db = 0;
  char *zErr = 0;
  long nLive0 = g.nLive, nCall;
  int rc;
  FlBuf out = {0};
  snprintf(zRun, sizeof(zRun), "%s: allocation %ld %s", p->zName, iFail,
           eMode==MODE_ONCE ? "fails once" : eMode==MODE_FROM
           ? "and all after it fail" : "(counting)");
  if( openDb(":memory:", &db) ){
    flCheck(0, "%s: cannot open", zRun);
    sqlite3_close(db);
    return 0;
  }
  if( p->eKind==KIND_LOAD_SQL ){
    sqlite3_stmt *pStmt = 0;
    sqlite3_enable_load_extension(db, 1);
    arm(eMode, iFail);
    rc = sqlite3_prepare_v2(db, "SELECT load_extension(?1)", -1, &pStmt, 0);
    if( rc==SQLITE_OK ){
      sqlite3_bind_text(pStmt, 1, zExt, -1, SQLITE_STATIC);
      rc = sqlite3_step(pStmt);
      if( rc==SQLITE_ROW ) rc = SQLITE_OK;
      if( rc ) zErr = strdup(sqlite3_errmsg(db));
    }
    sqlite3_finalize(pStmt);
  }else{
    arm(eMode, iFail);
    rc = loadExt(db, &zErr);
  }
  nCall = g.nCall;
  if( g.nFailed==0 && eMode!=MODE_COUNT ) (*pnNotFired)++;
  disarm();
  if( rc ){
    int nLeft;
    rc = flExec(db, zRegistered, &out, 0);
    nLeft = rc==SQLITE_OK ? atoi(flBufText(&out)) : -1;
    if( p->eKind==KIND_LOAD ){
      /* None, or all: the last allocation of a load is SQLite's own, after
      ** sqlite3_embed_init() returned SQLITE_OK, when it records the
      ** library's handle.  Failing it, sqlite3_load_extension() reports
      ** SQLITE_NOMEM but keeps the library loaded, and what it registered
      ** with it, for the life of the connection: nothing the extension
      ** can see or undo, and safe. */
      flCheck(nLeft==0 || (nLeft==N_REGISTERED && iFail==nLoadPoints),
              "%s: the load failed (%s) but left %s names registered", zRun,
              zErr ? zErr : "?", flBufText(&out));
    }else if( nLeft!=0 ){
      /* SQLite refuses to delete functions while the load_extension()
      ** statement runs: the extension pins itself (ext/embed.c). */
      nLoadPinned++;
    }
    flBufReset(&out);
    rc = flExec(db, "SELECT 1", &out, 0);
    flCheck(rc==SQLITE_OK, "%s: the connection is not usable after the "
            "failed load: %s", zRun, sqlite3_errmsg(db));
    flBufReset(&out);
    /* Closing it calls the destructors of whatever stayed registered: in
    ** a library SQLite unloads after the failed init (one not linked with
    ** -z nodelete, as the Makefile links it), a registration left behind
    ** would crash here. */
    sqlite3_close(db);
    db = 0;
    if( openDb(":memory:", &db)==SQLITE_OK ) rc = loadExt(db, 0);
    flCheck(rc==SQLITE_OK, "%s: cannot load again after the failed load",
            zRun);
  }
  rc = flExec(db, zProbe, &out, 0);
  if( zProbeAnswer ){
    flCheck(rc==SQLITE_OK && strcmp(flBufText(&out), zProbeAnswer)==0,
            "%s: the extension does not work after it: %s", zRun,
            rc ? sqlite3_errmsg(db) : flBufText(&out));
  }else if( rc==SQLITE_OK ){
    zProbeAnswer = strdup(flBufText(&out));
  }
  flBufFree(&out);
  free(zErr);
  sqlite3_close(db);
  flCheck(g.nLive==nLive0, "%s: %ld allocations leaked", zRun,
          g.nLive - nLive0);
  return nCall;
}

/* The N of the fault runs: every one to FAULT_ALL, then a sample. */
static long nextPoint(long iPrev, long nPoint, long *pnStride){
  long nRest = nPoint - FAULT_ALL;
  if( iPrev < FAULT_ALL || iPrev >= nPoint - 10 ) return iPrev + 1;
  if( *pnStride==0 ) *pnStride = nRest / FAULT_SAMPLE + 1;
  return iPrev + *pnStride < nPoint - 10 ? iPrev + *pnStride : nPoint - 10;
}

/* Template databases, made once with no faults. */
static char zTemplIndex[4200], zTemplF1[4200];

static int makeTemplates(void){
  sqlite3 *db;
  char *zErr = 0;
  int rc;
  snprintf(zTemplIndex, sizeof(zTemplIndex), "%s/template-index.db", zDir);
  snprintf(zTemplF1, sizeof(zTemplF1), "%s/template-format1.db", zDir);
  flRemoveDb(zTemplIndex);
  db = openLoaded(zTemplIndex, 0, "template");
  if( db==0 ) return 1;
  rc = flExec(db, zIndexSetup, 0, &zErr);
  flCheck(rc==SQLITE_OK, "template: %s", zErr ? zErr : "?");
  free(zErr);
  sqlite3_close(db);
  if( rc ) return 1;
  flRemoveDb(zTemplF1);
  if( !flCheck(flCopyFile(zFixture, zTemplF1)==0, "cannot copy %s", zFixture) ){
    return 1;
  }
  return 0;
}

static void usage(void){
  int i;
  printf("usage: EMBED_EXT=build/embed EMBED_TEST_DIR=build/test "
         "build/fault [--list] [NAME...]\nscenarios:");
  for(i=0; i<N_SCENARIO; i++) printf(" %s", aScenario[i].zName);
  printf("\n");
}

int main(int argc, char **argv){
  static sqlite3_mem_methods wrap = {
    faultMalloc, faultFree, faultRealloc, faultSize, faultRoundup,
    faultInit, faultShutdown, 0
  };
  const char *zTestDir = getenv("EMBED_TEST_DIR");
  const char *zTrace = getenv("FAULT_TRACE");
  char zMini[4200], zMini2[4200], zTraceName[64] = "";
  long iTrace = 0;
  int eTraceMode = 0, bList = 0, i, j;
  long nRunAll = 0;

  zExt = getenv("EMBED_EXT");
  for(i=1; i<argc; i++){
    if( strcmp(argv[i], "--list")==0 ) bList = 1;
    else if( argv[i][0]=='-' ){ usage(); return 2; }
  }
  if( zExt==0 || zTestDir==0 ){ usage(); return 2; }
  if( zTrace ){
    char zMode[16] = "";
    if( sscanf(zTrace, "%63[^:]:%ld:%15s", zTraceName, &iTrace, zMode)!=3
     || (strcmp(zMode, "once")!=0 && strcmp(zMode, "from")!=0) ){
      fprintf(stderr, "FAULT_TRACE is NAME:N:once or NAME:N:from\n");
      return 2;
    }
    eTraceMode = strcmp(zMode, "once")==0 ? MODE_ONCE : MODE_FROM;
  }

  sqlite3_config(SQLITE_CONFIG_GETMALLOC, &g.orig);
  if( sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap)
   || sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0)
   || sqlite3_initialize() ){
    fprintf(stderr, "cannot configure SQLite's allocator\n");
    return 2;
  }

  snprintf(zMini, sizeof(zMini), "%s/mini.emb", zTestDir);
  snprintf(zDir, sizeof(zDir), "%s/fault", zTestDir);
  mkdir(zDir, 0755);
  snprintf(zMini2, sizeof(zMini2), "%s/mini2.emb", zDir);
  snprintf(zRunDb, sizeof(zRunDb), "%s/run.db", zDir);
  zFixture = getenv("FAULT_FORMAT1");
  if( zFixture==0 ) zFixture = "test/fixtures/format1_small.db";
  /* A second file of the same model: embed_load() maps and checks it
  ** afresh, where the first is found in the process's registry. */
  if( flCopyFile(zMini, zMini2) ){
    fprintf(stderr, "cannot copy %s\n", zMini);
    return 2;
  }
  setenv("SQLITE_EMBED_MODEL", zMini, 1);
  flSetVar("MINI2", zMini2);
  flSetVar("MINI", zMini);

  /* The probe's answer, from a load with no faults. */
  {
    long nNone = 0;
    runLoad(&aScenario[0], MODE_COUNT, 0, &nNone);
    if( zProbeAnswer==0 ){
      printf("cannot load %s\n0 passed, 1 failed\n", zExt);
      return 1;
    }
  }
  if( makeTemplates() ){
    printf("%d passed, %d failed\n", flPass, flFail);
    return 1;
  }

  for(i=0; i<N_SCENARIO; i++){
    const Scenario *p = &aScenario[i];
    const char *zTemplate = p->eDb==DB_FORMAT1 ? zTemplF1 : zTemplIndex;
    Reference ref;
    long nNotFired = 0, nRun = 0, iN, nStride = 0;
    int nFail0 = flFail, bSampled;
    int aMode[2] = { MODE_ONCE, MODE_FROM };
    if( argc>1 && !bList ){
      int bPick = 0;
      for(j=1; j<argc; j++) if( strcmp(argv[j], p->zName)==0 ) bPick = 1;
      if( !bPick ) continue;
    }
    if( zTrace && strcmp(zTraceName, p->zName)!=0 ) continue;
    memset(&ref, 0, sizeof(ref));
    if( p->eKind==KIND_SQL ){
      if( referenceSql(p, zTemplate, &ref) ){
        referenceClear(&ref);
        continue;
      }
    }else{
      ref.nPoint = nLoadPoints = runLoad(p, MODE_COUNT, 0, &nNotFired);
    }
    if( bList ){
      printf("%-18s %6ld fault points\n", p->zName, ref.nPoint);
      referenceClear(&ref);
      continue;
    }
    if( zTrace ){
      g.bTrace = 1;
      if( p->eKind==KIND_SQL ){
        runSql(p, zTemplate, &ref, eTraceMode, iTrace, &nNotFired);
      }else{
        runLoad(p, eTraceMode, iTrace, &nNotFired);
      }
      g.bTrace = 0;
      referenceClear(&ref);
      continue;
    }
    bSampled = ref.nPoint > FAULT_ALL + FAULT_SAMPLE;
    for(iN=1; iN<=ref.nPoint;
        iN = bSampled ? nextPoint(iN, ref.nPoint, &nStride) : iN+1){
      for(j=0; j<2; j++){
        if( p->eKind==KIND_SQL ){
          runSql(p, zTemplate, &ref, aMode[j], iN, &nNotFired);
        }else{
          runLoad(p, aMode[j], iN, &nNotFired);
        }
        nRun++;
      }
    }
    flCheck(nNotFired==0, "%s: in %ld of %ld runs the fault did not fire "
            "(the allocations are not the same from run to run)", p->zName,
            nNotFired, nRun);
    flSection();
    memoReset();
    printf("%-18s %6ld fault points, %6ld runs", p->zName, ref.nPoint, nRun);
    if( bSampled ){
      printf(" (every N to %d, then every %ld-th)", FAULT_ALL, nStride);
    }
    printf("%s\n", flFail>nFail0 ? "  FAILED" : "");
    if( p->eKind==KIND_LOAD_SQL && nLoadPinned ){
      printf("  (%ld failed loads left functions registered, the library "
             "pinned: SQLite deletes no function while a statement runs)\n",
             nLoadPinned);
    }
    fflush(stdout);
    nRunAll += nRun;
    referenceClear(&ref);
  }
  free(zProbeAnswer);
  flRemoveDb(zRunDb);
  if( !bList ) printf("%ld runs\n", nRunAll);
  printf("%d passed, %d failed\n", flPass, flFail);
  return flFail>0;
}
