/*
** auto.c: build/embed_auto.so in a program that knows nothing of it.
**
**     build/auto_linked DIMS DIR              (linked with embed_auto.so)
**     LD_PRELOAD=build/embed_auto.so build/auto_plain DIMS DIR
**
** DIMS is the dimension count of the model in $SQLITE_EMBED_MODEL, which
** every connection must get as its default.  Prints a FAIL line per failing
** check, then "N passed, N failed"; exits 1 on any failure.
**
** HOW IT WORKS
** The program is plain SQLite: it never loads an extension.  First it
** calls sqlite3_config(), which SQLite refuses (SQLITE_MISUSE) once it is
** initialized, so this fails if loading the library initialized SQLite
** (go-dqlite's init does the same and panics).  Then it opens connections
** with each of sqlite3_open(), sqlite3_open_v2() and sqlite3_open16(), and
** in each one embed(), embed_index and the default model must be there.
** Then, on a database file, it traces every statement the connection runs
** (SQLITE_TRACE_STMT sees the extension's own statements on its shadow
** tables too, and the test checks that it does) while an embed_index is
** created, filled with text and vectors, searched, updated and dropped:
** none may be a PRAGMA journal_mode or locking_mode or a VACUUM (dqlite
** refuses them), and the journal mode must still be the default after.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int nPass = 0, nFail = 0;

static void check(int bOk, const char *zWhat, const char *zDetail){
  if( bOk ){
    nPass++;
  }else{
    nFail++;
    printf("FAIL %s%s%s\n", zWhat, zDetail ? ": " : "", zDetail ? zDetail : "");
  }
}

/* The first column of the first row of zSql as an integer, or -1 with
** the error in *pzErr (sqlite3_free it). */
static sqlite3_int64 scalar(sqlite3 *db, const char *zSql, char **pzErr){
  sqlite3_stmt *p = 0;
  sqlite3_int64 v = -1;
  *pzErr = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &p, 0)==SQLITE_OK
   && sqlite3_step(p)==SQLITE_ROW ){
    v = sqlite3_column_int64(p, 0);
  }else{
    *pzErr = sqlite3_mprintf("%s: %s", zSql, sqlite3_errmsg(db));
  }
  sqlite3_finalize(p);
  return v;
}

/* embed(), embed_index and the default model of DIMS dims in db. */
static void checkConnection(sqlite3 *db, const char *zHow, int nDims){
  char zWhat[128], *zErr;
  sqlite3_int64 v;
  snprintf(zWhat, sizeof(zWhat), "%s: embed('cat') has the default model's dims", zHow);
  v = scalar(db, "SELECT length(embed('cat')) / 4", &zErr);
  check(v==nDims, zWhat, zErr);
  sqlite3_free(zErr);
  snprintf(zWhat, sizeof(zWhat), "%s: embed_index is registered", zHow);
  v = scalar(db, "SELECT count(*) FROM pragma_module_list WHERE name='embed_index'",
             &zErr);
  check(v==1, zWhat, zErr);
  sqlite3_free(zErr);
}

typedef struct Trace Trace;
struct Trace {
  int nStmt;              /* statements traced */
  int nShadow;            /* of them, the extension's on its shadow tables */
  char zBad[300];         /* the first forbidden one, or "" */
};

static int traceStmt(unsigned mask, void *pCtx, void *pStmt, void *pSql){
  Trace *t = (Trace*)pCtx;
  const char *z = (const char*)pSql;
  (void)mask; (void)pStmt;
  if( z==0 ) return 0;
  t->nStmt++;
  if( strstr(z, "_config") || strstr(z, "_data") ) t->nShadow++;
  for(const char *s=z; *s; s++){
    if( strncasecmp(s, "journal_mode", 12)==0 || strncasecmp(s, "locking_mode", 12)==0
     || strncasecmp(s, "vacuum", 6)==0 ){
      if( t->zBad[0]==0 ) snprintf(t->zBad, sizeof(t->zBad), "%s", z);
      break;
    }
  }
  return 0;
}

static void checkNoForbiddenSql(const char *zDir){
  static const char *azSql[] = {
    "CREATE VIRTUAL TABLE t USING embed_index()",
    "CREATE VIRTUAL TABLE u USING embed_index(quant=none)",
    "INSERT INTO t(rowid, content) VALUES (1, 'the cat sat on the mat'), "
    "  (2, 'a dog'), (3, 'new york')",
    "INSERT INTO u(rowid, content) SELECT rowid, content FROM t",
    "INSERT INTO t(rowid, vector) VALUES (4, embed('cat on the mat'))",
    "BEGIN; UPDATE t SET content = 'the dog' WHERE rowid = 2; "
    "  DELETE FROM u WHERE rowid = 3; COMMIT",
    "BEGIN; DELETE FROM t WHERE rowid = 1; ROLLBACK",
    "SELECT rowid FROM t WHERE t MATCH 'cat' AND k = 3",
    "SELECT rowid FROM u WHERE u MATCH 'cat' AND k = 3",
    "DROP TABLE t",
    "DROP TABLE u",
  };
  char zPath[4096], *zErr = 0;
  sqlite3 *db = 0;
  sqlite3_stmt *p = 0;
  Trace t;
  size_t i;
  memset(&t, 0, sizeof(t));
  snprintf(zPath, sizeof(zPath), "%s/auto-%d.db", zDir, (int)getpid());
  unlink(zPath);
  if( sqlite3_open(zPath, &db)!=SQLITE_OK ){
    check(0, "open a database file", sqlite3_errmsg(db));
    sqlite3_close(db);
    return;
  }
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, traceStmt, &t);
  for(i=0; i<sizeof(azSql)/sizeof(azSql[0]); i++){
    int rc = sqlite3_exec(db, azSql[i], 0, 0, &zErr);
    check(rc==SQLITE_OK, azSql[i], zErr);
    sqlite3_free(zErr);
    zErr = 0;
  }
  sqlite3_trace_v2(db, 0, 0, 0);
  check(t.nShadow>0, "the trace sees the extension's statements on its shadow tables",
        0);
  check(t.zBad[0]==0, "no PRAGMA journal_mode/locking_mode or VACUUM is run", t.zBad);
  if( sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &p, 0)==SQLITE_OK
   && sqlite3_step(p)==SQLITE_ROW ){
    const char *zMode = (const char*)sqlite3_column_text(p, 0);
    check(zMode && strcmp(zMode, "delete")==0,
          "the journal mode is still the default, delete", zMode);
  }else{
    check(0, "PRAGMA journal_mode", sqlite3_errmsg(db));
  }
  sqlite3_finalize(p);
  sqlite3_close(db);
  unlink(zPath);
}

int main(int argc, char **argv){
  static const unsigned short azUtf16[] = { ':', 'm', 'e', 'm', 'o', 'r', 'y', ':', 0 };
  sqlite3 *db1 = 0, *db2 = 0, *db3 = 0;
  int nDims, rc;
  if( argc!=3 ){
    fprintf(stderr, "usage: %s DIMS SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  nDims = atoi(argv[1]);
  rc = sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  check(rc==SQLITE_OK, "sqlite3_config() before the first open: SQLite not yet "
        "initialized by the library", sqlite3_errstr(rc));
  check(sqlite3_open(":memory:", &db1)==SQLITE_OK, "sqlite3_open", 0);
  check(sqlite3_open_v2(":memory:", &db2, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE,
                        0)==SQLITE_OK, "sqlite3_open_v2", 0);
  check(sqlite3_open16(azUtf16, &db3)==SQLITE_OK, "sqlite3_open16", 0);
  checkConnection(db1, "sqlite3_open", nDims);
  checkConnection(db2, "sqlite3_open_v2", nDims);
  checkConnection(db3, "sqlite3_open16", nDims);
  sqlite3_close(db1);
  sqlite3_close(db2);
  sqlite3_close(db3);
  checkNoForbiddenSql(argv[2]);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail ? 1 : 0;
}
