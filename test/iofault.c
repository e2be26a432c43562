/*
** iofault.c: I/O errors injected under embed_index's writes, queries and
** the format-1 migration, in WAL and rollback-journal modes.
**
**     EMBED_EXT=build/embed EMBED_TEST_DIR=build/test build/iofault [NAME...]
**     build/iofault --list          the scenarios and their fault points
**
** A VFS shim, "faultio", wraps the default VFS (sqlite3_vfs_find(0)) and
** counts every xWrite, xSync and xTruncate on the files of the database
** (the database, its journal or WAL): the write points.  It also counts
** every xRead of the database and WAL files: the read points.  Each
** scenario (SQL steps, each one statement or one transaction) is run once
** to count its points, then again for each N in three ways:
**   io      the N-th write point fails once: an xWrite with
**           SQLITE_IOERR_WRITE, an xSync with SQLITE_IOERR_FSYNC, an
**           xTruncate with SQLITE_IOERR_TRUNCATE;
**   full    the disk fills: the N-th write point and every xWrite after it
**           fail with SQLITE_FULL until the scenario ends;
**   short   the N-th read point comes back short: no byte read, the
**           buffer zeroed, SQLITE_IOERR_SHORT_READ (what a read past the
**           end of a truncated file gives).
** For io and full the connection has searched every index first (so their
** in-memory caches live through the fault); for short it is cold.
** Every scenario runs in journal_mode=WAL and journal_mode=DELETE, with
** synchronous=FULL.  After each run:
**   - when the fault fired and a step failed, its error is an SQL error
**     (SQLITE_IOERR*, SQLITE_FULL, or for a short read SQLITE_CORRUPT; or
**     SQLITE_ERROR carrying that error's text, from a failed xConnect),
**     and the same connection answers embed() and searches its indexes
**     (equal to a brute force over their rows) once the fault is gone;
**   - closed and reopened without faults: PRAGMA integrity_check is 'ok';
**     the rows are exactly those after the steps that succeeded, or after
**     one more (the failed step's transaction may have committed before
**     its error: a failed xSync of a WAL commit, say), never anything in
**     between -- every committed row present, no transaction partly there;
**     and every embed_index equals a brute force over its own rows;
**   - every allocation the run made through SQLite is freed (counted by a
**     wrapper of SQLite's allocator, in both passes; LeakSanitizer checks
**     the process at exit in the ASan pass).  A scenario with zXfail set
**     has a known leak: its leaks are counted as XFAIL, and it fails once
**     none of its runs leaks.
** The shim does not call the real xSync (the tests do not cut power, and
** thousands of fsync() calls would take minutes); it forwards everything
** else, and turns memory-mapped reads off (xFetch maps nothing) so that
** every read is an xRead.
**
** Prints a line per scenario and mode with its fault points and runs, FAIL
** lines, and "N passed, N failed"; exits 1 on any failure.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>

#include "faultlib.h"

/* ------------------------------------------------------------------------
** The VFS shim
*/

#define IO_OFF    0
#define IO_COUNT  1             /* count the points, fail nothing */
#define IO_ONCE   2             /* the N-th write point fails */
#define IO_FULL   3             /* the N-th write point and later writes */
#define IO_SHORT  4             /* the N-th read point comes back short */

static struct {
  sqlite3_vfs *pReal;
  int eMode;
  long iFail;
  long nWrite, nRead;           /* points seen since armed */
  long nFired;                  /* faults injected since armed */
} io;

typedef struct IoFile IoFile;
struct IoFile {
  sqlite3_file base;
  sqlite3_file *pReal;          /* follows this struct in the same block */
  int bData;                    /* main database or WAL: read points */
};

#define REAL(f) (((IoFile*)(f))->pReal)

/* Whether this write point fails, and how (0: it does not). */
static int writePoint(int rcFail){
  if( io.eMode==IO_OFF || io.eMode==IO_SHORT ){
    if( io.eMode==IO_SHORT ) io.nWrite++;
    return 0;
  }
  io.nWrite++;
  if( io.eMode==IO_ONCE && io.nWrite==io.iFail ){
    io.nFired++;
    return rcFail;
  }
  if( io.eMode==IO_FULL && io.nWrite>=io.iFail
   && rcFail==SQLITE_IOERR_WRITE ){
    io.nFired++;
    return SQLITE_FULL;
  }
  return 0;
}

static int ioClose(sqlite3_file *f){
  int rc = REAL(f)->pMethods ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
  return rc;
}
static int ioRead(sqlite3_file *f, void *p, int n, sqlite3_int64 off){
  IoFile *pF = (IoFile*)f;
  if( pF->bData && io.eMode!=IO_OFF ){
    io.nRead++;
    if( io.eMode==IO_SHORT && io.nRead==io.iFail ){
      io.nFired++;
      memset(p, 0, (size_t)n);
      return SQLITE_IOERR_SHORT_READ;
    }
  }
  return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int ioWrite(sqlite3_file *f, const void *p, int n, sqlite3_int64 off){
  int rc = writePoint(SQLITE_IOERR_WRITE);
  if( rc ) return rc;
  return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int ioTruncate(sqlite3_file *f, sqlite3_int64 size){
  int rc = writePoint(SQLITE_IOERR_TRUNCATE);
  if( rc ) return rc;
  return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int ioSync(sqlite3_file *f, int flags){
  (void)f; (void)flags;
  return writePoint(SQLITE_IOERR_FSYNC);   /* the real fsync() is skipped */
}
static int ioFileSize(sqlite3_file *f, sqlite3_int64 *p){
  return REAL(f)->pMethods->xFileSize(REAL(f), p);
}
static int ioLock(sqlite3_file *f, int e){
  return REAL(f)->pMethods->xLock(REAL(f), e);
}
static int ioUnlock(sqlite3_file *f, int e){
  return REAL(f)->pMethods->xUnlock(REAL(f), e);
}
static int ioCheckReservedLock(sqlite3_file *f, int *p){
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), p);
}
static int ioFileControl(sqlite3_file *f, int op, void *p){
  return REAL(f)->pMethods->xFileControl(REAL(f), op, p);
}
static int ioSectorSize(sqlite3_file *f){
  return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int ioDeviceCharacteristics(sqlite3_file *f){
  return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int ioShmMap(sqlite3_file *f, int i, int n, int b, void volatile **pp){
  return REAL(f)->pMethods->xShmMap(REAL(f), i, n, b, pp);
}
static int ioShmLock(sqlite3_file *f, int off, int n, int flags){
  return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void ioShmBarrier(sqlite3_file *f){
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int ioShmUnmap(sqlite3_file *f, int bDelete){
  return REAL(f)->pMethods->xShmUnmap(REAL(f), bDelete);
}
static int ioFetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp){
  (void)f; (void)off; (void)n;
  *pp = 0;                     /* no mapping: every read is an xRead */
  return SQLITE_OK;
}
static int ioUnfetch(sqlite3_file *f, sqlite3_int64 off, void *p){
  (void)f; (void)off; (void)p;
  return SQLITE_OK;
}

static const sqlite3_io_methods ioMethods = {
  3, ioClose, ioRead, ioWrite, ioTruncate, ioSync, ioFileSize, ioLock,
  ioUnlock, ioCheckReservedLock, ioFileControl, ioSectorSize,
  ioDeviceCharacteristics, ioShmMap, ioShmLock, ioShmBarrier, ioShmUnmap,
  ioFetch, ioUnfetch
};

static int ioOpen(sqlite3_vfs *pVfs, const char *zName, sqlite3_file *f,
                  int flags, int *pOutFlags){
  IoFile *pF = (IoFile*)f;
  int rc;
  (void)pVfs;
  memset(pF, 0, sizeof(*pF));
  pF->pReal = (sqlite3_file*)&pF[1];
  pF->bData = (flags & (SQLITE_OPEN_MAIN_DB|SQLITE_OPEN_WAL))!=0;
  rc = io.pReal->xOpen(io.pReal, zName, pF->pReal, flags, pOutFlags);
  /* Methods even when the open failed with methods set, as SQLite then
  ** calls xClose; none when it set none. */
  f->pMethods = pF->pReal->pMethods ? &ioMethods : 0;
  return rc;
}

static int ioDelete(sqlite3_vfs *p, const char *z, int dirSync){
  (void)p;
  return io.pReal->xDelete(io.pReal, z, dirSync);
}
static int ioAccess(sqlite3_vfs *p, const char *z, int flags, int *pRes){
  (void)p;
  return io.pReal->xAccess(io.pReal, z, flags, pRes);
}
static int ioFullPathname(sqlite3_vfs *p, const char *z, int n, char *zOut){
  (void)p;
  return io.pReal->xFullPathname(io.pReal, z, n, zOut);
}
static void *ioDlOpen(sqlite3_vfs *p, const char *z){
  (void)p;
  return io.pReal->xDlOpen(io.pReal, z);
}
static void ioDlError(sqlite3_vfs *p, int n, char *z){
  (void)p;
  io.pReal->xDlError(io.pReal, n, z);
}
static void (*ioDlSym(sqlite3_vfs *p, void *h, const char *z))(void){
  (void)p;
  return io.pReal->xDlSym(io.pReal, h, z);
}
static void ioDlClose(sqlite3_vfs *p, void *h){
  (void)p;
  io.pReal->xDlClose(io.pReal, h);
}
static int ioRandomness(sqlite3_vfs *p, int n, char *z){
  (void)p;
  return io.pReal->xRandomness(io.pReal, n, z);
}
static int ioSleep(sqlite3_vfs *p, int n){
  (void)p;
  return io.pReal->xSleep(io.pReal, n);
}
static int ioCurrentTime(sqlite3_vfs *p, double *pr){
  (void)p;
  return io.pReal->xCurrentTime(io.pReal, pr);
}
static int ioGetLastError(sqlite3_vfs *p, int n, char *z){
  (void)p;
  return io.pReal->xGetLastError(io.pReal, n, z);
}
static int ioCurrentTimeInt64(sqlite3_vfs *p, sqlite3_int64 *pi){
  (void)p;
  return io.pReal->xCurrentTimeInt64(io.pReal, pi);
}

static sqlite3_vfs ioVfs = {
  2, 0, 0, 0, "faultio", 0, ioOpen, ioDelete, ioAccess, ioFullPathname,
  ioDlOpen, ioDlError, ioDlSym, ioDlClose, ioRandomness, ioSleep,
  ioCurrentTime, ioGetLastError, ioCurrentTimeInt64, 0, 0, 0
};

static int ioRegister(void){
  io.pReal = sqlite3_vfs_find(0);
  if( io.pReal==0 || io.pReal->iVersion<2 ) return SQLITE_ERROR;
  ioVfs.szOsFile = (int)sizeof(IoFile) + io.pReal->szOsFile;
  ioVfs.mxPathname = io.pReal->mxPathname;
  return sqlite3_vfs_register(&ioVfs, 0);
}

static void ioArm(int eMode, long iFail){
  io.eMode = eMode;
  io.iFail = iFail;
  io.nWrite = io.nRead = io.nFired = 0;
}

/* ------------------------------------------------------------------------
** SQLite's allocator, wrapped to count what is not yet freed, so that each
** run can be checked for leaks on its own (and in the plain pass, which
** has no LeakSanitizer).
*/

static sqlite3_mem_methods memReal;
static long nLive = 0;

static void *memMalloc(int n){
  void *p = memReal.xMalloc(n);
  if( p ) nLive++;
  return p;
}
static void memFree(void *p){
  if( p ) nLive--;
  memReal.xFree(p);
}
static void *memRealloc(void *p, int n){ return memReal.xRealloc(p, n); }
static int memSize(void *p){ return memReal.xSize(p); }
static int memRoundup(int n){ return memReal.xRoundup(n); }
static int memInit(void *p){ return memReal.xInit(p); }
static void memShutdown(void *p){ memReal.xShutdown(p); }

/* Under ASan, LeakSanitizer's switches (weak: absent in the plain pass). */
extern void __lsan_disable(void) __attribute__((weak));
extern void __lsan_enable(void) __attribute__((weak));

/* ------------------------------------------------------------------------
** Scenarios
*/

typedef struct Scenario Scenario;
struct Scenario {
  const char *zName;
  int bFormat1;               /* start from test/fixtures/format1_small.db */
  const char *azStep[8];      /* each one statement or one transaction */
  const char *zXfail;         /* a known leak, not yet fixed: see below */
};

/* The database most scenarios start from: vx (8 dims, binary), vn (8
** dims, quant=none), tx (text with the mini model), 30 rows each. */
static const char zSetup[] =
  "CREATE VIRTUAL TABLE vx USING embed_index(dims=8);"
  "CREATE VIRTUAL TABLE vn USING embed_index(dims=8, quant=none);"
  "CREATE VIRTUAL TABLE tx USING embed_index(model=default);"
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<30)"
  " INSERT INTO vx(rowid, vector) SELECT i, printf('[%d,%d,%d,%d,%d,%d,%d,%d]',"
  " (i*7)%11-5, (i*13)%7-3, (i*5)%9-4, (i*3)%5-2, (i*11)%13-6, i%4-1,"
  " (i*17)%19-9, (i*19)%3-1) FROM n;"
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<30)"
  " INSERT INTO vn(rowid, vector) SELECT i*3, printf('[%d,%d,%d,%d,%d,%d,%d,%d]',"
  " (i*3)%7-3, (i*5)%11-5, (i*7)%5-2, i%6-3, (i*13)%9-4, (i*2)%7-3,"
  " (i*23)%17-8, (i*29)%5-2) FROM n;"
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<30)"
  " INSERT INTO tx(rowid, content) SELECT i, substr('the cat sat on the mat "
  "and the dog did not new york will it', 1 + (i*7)%40, 5 + i%20) FROM n;";

static const Scenario aScenario[] = {
  { "insert", 0, {
      "INSERT INTO vx(rowid, vector) VALUES (100, '[1,2,3,4,5,6,7,8]')",
      "INSERT INTO tx(rowid, content) VALUES (100, 'the dog sat on the cat')",
      "INSERT INTO vn(vector) VALUES ('[0.5,0,0,0,0,0,0,-1]')",
      0 }, 0 },
  { "update_delete", 0, {
      "UPDATE vx SET vector = '[-1,-2,-3,-4,5,6,7,8]' WHERE rowid = 5",
      "UPDATE vn SET rowid = 1000 WHERE rowid = 9",
      "DELETE FROM tx WHERE rowid IN (2, 3, 4)",
      "DELETE FROM vx WHERE rowid > 25",
      0 }, 0 },
  { "transaction", 0, {
      "BEGIN;"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<40)"
      " INSERT INTO vx(rowid, vector) SELECT 200+i, printf('[%d,1,%d,0,1,%d,1,0]',"
      " i%5-2, i%3-1, i%7-3) FROM n;"
      "INSERT INTO tx(rowid, content) VALUES (200, 'new york new york');"
      "UPDATE vn SET vector = '[0,1,0,1,0,1,0,1]' WHERE rowid = 6;"
      "DELETE FROM vx WHERE rowid = 1;"
      "COMMIT",
      "BEGIN; DELETE FROM vx WHERE rowid > 230; SAVEPOINT s;"
      "DELETE FROM vn; ROLLBACK TO s; RELEASE s; COMMIT",
      0 }, 0 },
  { "create", 0, {
      "CREATE VIRTUAL TABLE nx USING embed_index(dims=4)",
      "INSERT INTO nx(rowid, vector) VALUES (1, '[1,0,0,1]'), (2, '[0,1,1,0]')",
      "ALTER TABLE nx RENAME TO ny",
      0 }, 0 },
  { "drop", 0, {
      "DROP TABLE vn",
      "DROP TABLE tx",
      0 }, 0 },
  { "query", 0, {
      "SELECT rowid, distance FROM vx WHERE vx MATCH '[1,2,0,-1,3,0,1,1]' "
        "AND k = 5",
      "SELECT rowid, distance, content FROM tx WHERE tx MATCH 'cat on the mat' "
        "AND k = 3",
      "SELECT rowid FROM vn WHERE vn MATCH '[1,1,1,1,1,1,1,1]' AND k = 4 "
        "AND rowid IN (3, 6, 9, 90)",
      "SELECT count(*), sum(length(vector)) FROM vn",
      0 }, 0 },
  /* The format-1 migration (test/fixtures/format1_small.db): a search in
  ** place, then the first write of each index migrates it (steps 2 and
  ** 3), under every I/O fault. */
  { "format1", 1, {
      "SELECT rowid, distance FROM f1 WHERE f1 MATCH '[1,0,0,1,0,1,1,0]' "
        "AND k = 4",
      "INSERT INTO f1(rowid, vector) VALUES (1000, '[1,2,3,4,5,6,7,8]')",
      "DELETE FROM f1t WHERE rowid = 2",
      "SELECT rowid FROM f1t WHERE f1t MATCH 'the cat' AND k = 2",
      0 }, 0 },
};
#define N_SCENARIO ((int)(sizeof(aScenario)/sizeof(aScenario[0])))

static const char *const azJournal[] = { "wal", "delete" };
static const int aMode[] = { IO_ONCE, IO_FULL, IO_SHORT };
static const char *const azMode[] = { "", "", "io", "full", "short" };

/* ------------------------------------------------------------------------
** Runs
*/

static const char *zExt;
static char zDir[4096], zRunDb[4200], zTemplate[4200];
static const char *zFixture;
static char *zProbeAnswer;
static const char zProbe[] = "SELECT embed('the cat sat'), embed_tokens('dog')";

/* Open zPath through the shim with the extension loaded and the journal
** mode zJournal (or the file's own, when NULL).  NULL after a failed check. */
static sqlite3 *openDb(const char *zPath, const char *zJournal,
                       const char *zWhat){
  sqlite3 *db = 0;
  char *zErr = 0, *zSql;
  int rc = sqlite3_open_v2(zPath, &db,
                           SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, "faultio");
  if( rc==SQLITE_OK ){
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, 0);
    rc = sqlite3_load_extension(db, zExt, 0, &zErr);
  }
  if( rc==SQLITE_OK ){
    sqlite3_free(zErr);
    zErr = 0;
    zSql = sqlite3_mprintf("PRAGMA synchronous=FULL;%s%s%s",
                           zJournal ? "PRAGMA journal_mode=" : "",
                           zJournal ? zJournal : "", zJournal ? ";" : "");
    rc = flExec(db, zSql, 0, 0);
    sqlite3_free(zSql);
  }
  if( !flCheck(rc==SQLITE_OK, "%s: cannot open %s: %s", zWhat, zPath,
               zErr ? zErr : sqlite3_errmsg(db)) ){
    sqlite3_close(db);
    db = 0;
  }
  sqlite3_free(zErr);
  return db;
}

/* The template for scenario p in mode zJournal: made once per pair. */
static int makeTemplate(const Scenario *p, const char *zJournal){
  sqlite3 *db;
  int rc;
  char *zErr = 0;
  flRemoveDb(zTemplate);
  if( p->bFormat1 ){
    if( flCopyFile(zFixture, zTemplate) ) return 1;
    db = openDb(zTemplate, zJournal, p->zName);
    if( db==0 ) return 1;
    sqlite3_close(db);
    return 0;
  }
  db = openDb(zTemplate, zJournal, p->zName);
  if( db==0 ) return 1;
  rc = flExec(db, zSetup, 0, &zErr);
  flCheck(rc==SQLITE_OK, "%s: setup: %s", p->zName, zErr ? zErr : "?");
  free(zErr);
  sqlite3_close(db);          /* checkpoints and removes any WAL */
  return rc!=SQLITE_OK;
}

/* The state of a database: every index's rows and the schema. */
static char *stateOf(sqlite3 *db){
  FlBuf s = {0};
  int rc = flState(db, &s);
  if( rc==SQLITE_OK ){
    rc = flExec(db, "SELECT type, name FROM sqlite_schema ORDER BY name", &s,
                0);
  }
  if( rc ) flBufPrintf(&s, "(error %d: %s)", rc, sqlite3_errmsg(db));
  if( s.z==0 ) flBufAppend(&s, "", 0);
  return s.z;
}

/* Run the first nMax steps of p on db, their rows into pOut; returns the
** number that succeeded, *pRc the first error. */
static int runSteps(const Scenario *p, sqlite3 *db, int nMax, int *pRc,
                    char **pzErr, FlBuf *pOut){
  int i;
  *pRc = SQLITE_OK;
  *pzErr = 0;
  for(i=0; i<nMax && p->azStep[i]; i++){
    int rc = flExec(db, p->azStep[i], pOut, pzErr);
    if( rc ){
      *pRc = rc;
      break;
    }
  }
  return i;
}

/* The error a fault of mode eMode may surface as: an I/O error, a full
** disk, or for a short read a corrupt page.  A fault while a statement is
** prepared, in an index's xConnect, reaches the caller as SQLITE_ERROR
** (SQLite reports every failed xConnect so), whose message must then carry
** SQLite's text for the error underneath. */
static int expectedError(int eMode, int rc, const char *zErr){
  static const char *const azText[] = {
    "disk I/O error", "database or disk is full",
    "database disk image is malformed", "file is not a database"
  };
  int e = rc & 0xff, i;
  if( e==SQLITE_IOERR || e==SQLITE_FULL ) return 1;
  if( eMode==IO_SHORT && (e==SQLITE_CORRUPT || e==SQLITE_NOTADB) ) return 1;
  if( e==SQLITE_ERROR && zErr ){
    for(i=0; i<(eMode==IO_SHORT ? 4 : 2); i++){
      if( strstr(zErr, azText[i]) ) return 1;
    }
  }
  return 0;
}

int main(int argc, char **argv){
  const char *zTestDir = getenv("EMBED_TEST_DIR");
  int i, iJ, iM, j, bList = 0;
  long nXfailAll = 0;
  long nRunAll = 0;

  zExt = getenv("EMBED_EXT");
  for(i=1; i<argc; i++) if( strcmp(argv[i], "--list")==0 ) bList = 1;
  if( zExt==0 || zTestDir==0 ){
    fprintf(stderr, "usage: EMBED_EXT=build/embed EMBED_TEST_DIR=build/test "
            "build/iofault [--list] [NAME...]\n");
    return 2;
  }
  {
    static sqlite3_mem_methods wrap = {
      memMalloc, memFree, memRealloc, memSize, memRoundup, memInit,
      memShutdown, 0
    };
    sqlite3_config(SQLITE_CONFIG_GETMALLOC, &memReal);
    if( sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap) || sqlite3_initialize() ){
      fprintf(stderr, "cannot configure SQLite's allocator\n");
      return 2;
    }
  }
  if( ioRegister() ){
    fprintf(stderr, "cannot register the VFS shim\n");
    return 2;
  }
  {
    static char zMini[4200];
    snprintf(zMini, sizeof(zMini), "%s/mini.emb", zTestDir);
    setenv("SQLITE_EMBED_MODEL", zMini, 1);
  }
  snprintf(zDir, sizeof(zDir), "%s/iofault", zTestDir);
  mkdir(zDir, 0755);
  snprintf(zRunDb, sizeof(zRunDb), "%s/run.db", zDir);
  snprintf(zTemplate, sizeof(zTemplate), "%s/template.db", zDir);
  zFixture = getenv("FAULT_FORMAT1");
  if( zFixture==0 ) zFixture = "test/fixtures/format1_small.db";

  for(i=0; i<N_SCENARIO; i++){
    const Scenario *p = &aScenario[i];
    int nStep;
    if( argc>1 && !bList ){
      int bPick = 0;
      for(j=1; j<argc; j++) if( strcmp(argv[j], p->zName)==0 ) bPick = 1;
      if( !bPick ) continue;
    }
    for(nStep=0; p->azStep[nStep]; nStep++){}
    nXfailAll = 0;
    for(iJ=0; iJ<2; iJ++){
      const char *zJ = azJournal[iJ];
      char *azState[9];
      long nWritePoint = 0, nReadPoint = 0;
      int rc, k;
      char *zErr = 0;
      sqlite3 *db;
      FlBuf refOut = {0}, out = {0};
      memset(azState, 0, sizeof(azState));
      if( makeTemplate(p, zJ) ) continue;

      /* The state after each number of steps, and the points. */
      for(k=0; k<=nStep; k++){
        flRemoveDb(zRunDb);
        flCopyFile(zTemplate, zRunDb);
        db = openDb(zRunDb, 0, p->zName);
        if( db==0 ) break;
        if( k==nStep ){
          /* Read points, from a cold start; then write points, from warm
          ** caches, as the runs of each mode will have them. */
          ioArm(IO_COUNT, 0);
          runSteps(p, db, k, &rc, &zErr, 0);
          nReadPoint = io.nRead;
          ioArm(IO_OFF, 0);
          free(zErr);
          zErr = 0;
          sqlite3_close(db);
          flRemoveDb(zRunDb);
          flCopyFile(zTemplate, zRunDb);
          db = openDb(zRunDb, 0, p->zName);
          if( db==0 ) break;
          flWarm(db);
          ioArm(IO_COUNT, 0);
        }
        flBufReset(&refOut);
        runSteps(p, db, k, &rc, &zErr, &refOut);
        if( k==nStep ){
          nWritePoint = io.nWrite;
          ioArm(IO_OFF, 0);
        }
        flCheck(rc==SQLITE_OK, "%s (%s): fails with no fault: %s", p->zName,
                zJ, zErr ? zErr : "?");
        free(zErr);
        zErr = 0;
        if( zProbeAnswer==0 ){
          FlBuf probe = {0};
          flExec(db, zProbe, &probe, 0);
          zProbeAnswer = strdup(flBufText(&probe));
          flBufFree(&probe);
        }
        sqlite3_close(db);
        db = openDb(zRunDb, 0, p->zName);
        if( db==0 ) break;
        azState[k] = stateOf(db);
        sqlite3_close(db);
      }
      if( k<=nStep ) continue;
      if( bList ){
        printf("%-14s %-6s %5ld write points, %5ld read points\n", p->zName,
               zJ, nWritePoint, nReadPoint);
      }

      for(iM=0; iM<3 && !bList; iM++){
        int eMode = aMode[iM];
        long nPoint = eMode==IO_SHORT ? nReadPoint : nWritePoint;
        long iN, nRun = 0, nFiredNone = 0, nErr = 0, nSilent = 0, nXfail = 0;
        int nFail0 = flFail;
        for(iN=1; iN<=nPoint; iN++){
          char zRun[160];
          FlBuf why = {0};
          int nOk, nBad;
          char *zState;
          long nLive0;
          snprintf(zRun, sizeof(zRun), "%s (%s, %s): point %ld", p->zName,
                   zJ, azMode[eMode], iN);
          if( p->zXfail && __lsan_disable ) __lsan_disable();
          nLive0 = nLive;
          flRemoveDb(zRunDb);
          flCopyFile(zTemplate, zRunDb);
          db = openDb(zRunDb, 0, zRun);
          if( db==0 ){
            if( p->zXfail && __lsan_enable ) __lsan_enable();
            continue;
          }
          /* Write faults strike indexes whose caches are built, so that a
          ** cache outliving a failed commit would show; short reads strike
          ** a cold connection, which has every page still to read. */
          if( eMode!=IO_SHORT ) flWarm(db);
          ioArm(eMode, iN);
          flBufReset(&out);
          nOk = runSteps(p, db, nStep, &rc, &zErr, &out);
          /* Reached, rather than fired: a disk that fills at a last xSync
          ** fails nothing. */
          if( (eMode==IO_SHORT ? io.nRead : io.nWrite) < iN ) nFiredNone++;
          ioArm(IO_OFF, 0);
          nRun++;
          if( rc ){
            nErr++;
            flCheck(expectedError(eMode, rc, zErr), "%s: step %d failed with error "
                    "%d, not an I/O error: %s", zRun, nOk+1, rc,
                    zErr ? zErr : "?");
          }else if( strcmp(flBufText(&out), flBufText(&refOut))!=0 ){
            /* A short read that SQLite takes for zeros without noticing
            ** (in a page it does not check) can change an answer; a
            ** write fault must not. */
            if( eMode==IO_SHORT ){
              nSilent++;
            }else{
              flCheck(0, "%s: succeeded with another answer:\n%s\nnot\n%s",
                      zRun, flBufText(&out), flBufText(&refOut));
            }
          }
          free(zErr);
          zErr = 0;
          if( !sqlite3_get_autocommit(db) ) flExec(db, "ROLLBACK", 0, 0);
          /* This connection, the fault gone. */
          {
            FlBuf probe = {0};
            int rcP = flExec(db, zProbe, &probe, 0);
            flCheck(rcP==SQLITE_OK && strcmp(flBufText(&probe),
                                             zProbeAnswer)==0,
                    "%s: the connection is not usable after it: %s", zRun,
                    rcP ? sqlite3_errmsg(db) : flBufText(&probe));
            flBufFree(&probe);
          }
          /* After a short read SQLite's page cache holds the zeroed page
          ** it was given, and this connection keeps reading it (an error,
          ** "database disk image is malformed") until the file changes:
          ** errors are then allowed here, wrong answers are not. */
          flErrorsOk = eMode==IO_SHORT;
          nBad = flIndexCheckAll(db, &why);
          flErrorsOk = 0;
          flCheck(nBad==0, "%s: this connection: %s", zRun,
                  flBufText(&why));
          flBufReset(&why);
          sqlite3_close(db);

          /* Reopened without faults */
          db = openDb(zRunDb, 0, zRun);
          if( db==0 ){
            if( p->zXfail && __lsan_enable ) __lsan_enable();
            continue;
          }
          {
            FlBuf ic = {0};
            int rcI = flExec(db, "PRAGMA integrity_check", &ic, 0);
            flCheck(rcI==SQLITE_OK && strcmp(flBufText(&ic), "ok\n")==0,
                    "%s: integrity_check: %s", zRun,
                    rcI ? sqlite3_errmsg(db) : flBufText(&ic));
            flBufFree(&ic);
          }
          zState = stateOf(db);
          if( rc==SQLITE_OK ){
            flCheck(strcmp(zState, azState[nStep])==0, "%s: every step "
                    "succeeded but the database holds\n%s\nnot\n%s", zRun,
                    zState, azState[nStep]);
          }else{
            flCheck(strcmp(zState, azState[nOk])==0
                    || strcmp(zState, azState[nOk+1])==0,
                    "%s: after %d steps that succeeded and one that failed, "
                    "the database holds\n%s\nnot what %d or %d steps leave:\n"
                    "%s", zRun, nOk, zState, nOk, nOk+1, azState[nOk]);
          }
          free(zState);
          nBad = flIndexCheckAll(db, &why);
          flCheck(nBad==0, "%s: reopened: %s", zRun, flBufText(&why));
          flBufFree(&why);
          sqlite3_close(db);
          if( p->zXfail ){
            if( nLive!=nLive0 ) nXfail++;
            if( __lsan_enable ) __lsan_enable();
          }else{
            flCheck(nLive==nLive0, "%s: %ld allocations leaked", zRun,
                    nLive - nLive0);
          }
        }
        if( nXfail ){
          printf("XFAIL %s (%s, %s): %ld runs leaked: %s\n", p->zName, zJ,
                 azMode[eMode], nXfail, p->zXfail);
        }
        nXfailAll += nXfail;
        flCheck(nFiredNone==0, "%s (%s, %s): in %ld of %ld runs the fault "
                "was not reached", p->zName, zJ, azMode[eMode], nFiredNone,
                nRun);
        flSection();
        printf("%-14s %-6s %-5s %5ld fault points, %5ld runs, %5ld SQL "
               "errors%s\n", p->zName, zJ, azMode[eMode], nPoint, nRun, nErr,
               flFail>nFail0 ? "  FAILED" : "");
        if( nSilent ){
          printf("  (%ld short reads changed an answer without an error: "
                 "SQLite reads the missing bytes as zeros)\n", nSilent);
        }
        fflush(stdout);
        nRunAll += nRun;
      }
      for(k=0; k<=nStep; k++) free(azState[k]);
      flBufFree(&refOut);
      flBufFree(&out);
    }
    if( p->zXfail && !bList ){
      flCheck(nXfailAll>0, "%s: expected to leak (%s), but no run did: the "
              "bug is fixed, remove the mark in test/iofault.c", p->zName,
              p->zXfail);
    }
  }
  flRemoveDb(zRunDb);
  flRemoveDb(zTemplate);
  free(zProbeAnswer);
  if( !bList ) printf("%ld runs\n", nRunAll);
  printf("%d passed, %d failed\n", flPass, flFail);
  return flFail>0;
}
