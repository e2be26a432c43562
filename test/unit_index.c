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
** rows expected.  Prints failures and "N passed, N failed[, N skipped]".
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

static int nPass = 0, nFail = 0;

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
