/*
** fuzz_shadow.c: libFuzzer target for embed_index over corrupted shadow
** tables: fuzzed bytes are written into any column of any row of the
** tables an index keeps its data in, rows are added and removed, and the
** index is then searched, scanned, written, reconnected and fed to
** embed_dedup() and embed_kmeans().  Errors are expected (a corrupt index
** should say so); crashes, leaks and sanitizer reports are not.
**
**     make fuzz-build && build/fuzz/fuzz_shadow build/fuzz/corpus/shadow
**
** HOW IT WORKS
** The extension is compiled in (SQLITE_CORE) beside the system SQLite, with
** the mini test model as 'default' ($FUZZ_MODEL, default
** build/test/mini.emb).  A template database is made once: three indexes
** (a: the model's 4 dims, binary codes, text content; b: 8 dims,
** quant=none; c: 8 dims, oversample=3, store_content=0), with rows, some
** deleted.  Each input gets a fresh copy of it in a shared in-memory
** database (memdb, so a second connection can open it) and is read as a
** program of operations, one byte each, with operands from the bytes that
** follow.  The shadow tables are not known to this file: they are found at
** run time, as the tables of sqlite_schema named after an index with a
** '_' suffix, their columns with pragma_table_info, so the target fuzzes
** whatever storage format the build writes (configuration values, code
** and vector blobs, row ids, extra and missing rows).
**
** Operations: set a column of a row to a fuzzed value (NULL, integers,
** reals, text from a dictionary of configuration values, blobs); flip
** bytes of a blob; delete a row; insert a row; MATCH with k (the query a
** row's own vector, fuzzed bytes or text), with a distance bound or a rowid
** filter; a full scan; INSERT, UPDATE and DELETE through the index;
** BEGIN, COMMIT, ROLLBACK, SAVEPOINT and ROLLBACK TO; reconnect (a new
** connection, whose xConnect reads the corrupted configuration); dedup and
** kmeans; RENAME and DROP.
*/
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-embed.h"

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

#define MAX_OPS 48

static sqlite3 *dbTemplate = 0;   /* the template, kept open */
static int iInput = 0;            /* names each input's memdb */

/* The input, read from the front. */
typedef struct Reader Reader;
struct Reader {
  const uint8_t *a;
  size_t n, i;
};

static int rByte(Reader *r){
  return r->i<r->n ? r->a[r->i++] : 0;
}

static const uint8_t *rBytes(Reader *r, size_t *pn){
  size_t n = (size_t)rByte(r);
  const uint8_t *p = r->a + r->i;
  if( n > r->n - r->i ) n = r->n - r->i;
  r->i += n;
  *pn = n;
  return p;
}

/* Values that mean something in a configuration */
static const char *const azWord[] = {
  "0", "1", "2", "3", "4", "7", "8", "9", "16", "64", "1000", "1001",
  "65536", "65537", "-1", "2147483648", "9223372036854775807", "", " 8",
  "auto", "binary", "none", "default", "nosuch", "format", "dims", "quant",
  "oversample", "store_content", "generation", "model", "1e3", "0x10",
};
#define N_WORD ((int)(sizeof(azWord)/sizeof(azWord[0])))

/* Bind a fuzzed value to parameter i of pStmt. */
static void bindValue(sqlite3_stmt *pStmt, int i, Reader *r){
  int e = rByte(r) % 7;
  size_t n;
  const uint8_t *p;
  switch( e ){
    case 0: sqlite3_bind_null(pStmt, i); break;
    case 1: sqlite3_bind_int(pStmt, i, (int8_t)rByte(r)); break;
    case 2: {
      uint64_t v = 0;
      int k;
      for(k=0; k<8; k++) v = (v<<8) | (uint64_t)rByte(r);
      sqlite3_bind_int64(pStmt, i, (sqlite3_int64)v);
      break;
    }
    case 3: {
      double v = 0;
      uint8_t a[8];
      int k;
      for(k=0; k<8; k++) a[k] = (uint8_t)rByte(r);
      memcpy(&v, a, 8);
      sqlite3_bind_double(pStmt, i, v);
      break;
    }
    case 4:
      sqlite3_bind_text(pStmt, i, azWord[rByte(r) % N_WORD], -1,
                        SQLITE_STATIC);
      break;
    case 5:
      p = rBytes(r, &n);
      sqlite3_bind_text(pStmt, i, (const char*)p, (int)n, SQLITE_TRANSIENT);
      break;
    default:
      p = rBytes(r, &n);
      sqlite3_bind_blob(pStmt, i, p, (int)n, SQLITE_TRANSIENT);
      break;
  }
}

/* Run zSql (errors ignored), with up to three fuzzed parameters. */
static void run(sqlite3 *db, const char *zSql, Reader *r){
  sqlite3_stmt *pStmt = 0;
  int i, n;
  if( zSql==0 ) return;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK && pStmt ){
    n = sqlite3_bind_parameter_count(pStmt);
    for(i=1; i<=n && r; i++) bindValue(pStmt, i, r);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){}
  }
  sqlite3_finalize(pStmt);
}

/* Names from a query of one text column: up to 16, sqlite3_malloc'd. */
typedef struct Names Names;
struct Names { int n; char *az[16]; };

static void namesGet(sqlite3 *db, const char *zSql, Names *p){
  sqlite3_stmt *pStmt = 0;
  p->n = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)!=SQLITE_OK ) return;
  while( p->n<16 && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 0);
    if( z ) p->az[p->n++] = sqlite3_mprintf("%s", z);
    if( p->n>0 && p->az[p->n-1]==0 ) p->n--;
  }
  sqlite3_finalize(pStmt);
}

static void namesFree(Names *p){
  int i;
  for(i=0; i<p->n; i++) sqlite3_free(p->az[i]);
  p->n = 0;
}

/* The indexes, and every shadow table of every index. */
static void discover(sqlite3 *db, Names *pIdx, Names *pShadow){
  namesGet(db, "SELECT name FROM sqlite_schema WHERE type='table' AND sql "
           "LIKE 'CREATE VIRTUAL TABLE%USING embed_index%' ORDER BY name",
           pIdx);
  namesGet(db, "SELECT s.name FROM sqlite_schema s, sqlite_schema v "
           "WHERE v.type='table' AND v.sql LIKE 'CREATE VIRTUAL TABLE%USING "
           "embed_index%' AND s.type='table' AND s.name LIKE "
           "replace(replace(v.name, '\\', '\\\\'), '_', '\\_') || '\\_%' "
           "ESCAPE '\\' ORDER BY s.name", pShadow);
}

/* The key of a shadow table's rows: its PRIMARY KEY columns, else rowid;
** and one of its columns, chosen by the byte iCol.  sqlite3_malloc'd. */
static void tableKey(sqlite3 *db, const char *zTab, int iCol, char **pzKey,
                     char **pzCol){
  Names pk, cols;
  char *zSql;
  int i;
  zSql = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) "
                         "WHERE pk>0 ORDER BY pk", zTab);
  namesGet(db, zSql, &pk);
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) "
                         "ORDER BY cid", zTab);
  namesGet(db, zSql, &cols);
  sqlite3_free(zSql);
  if( pk.n==0 ){
    *pzKey = sqlite3_mprintf("rowid");
  }else{
    sqlite3_str *p = sqlite3_str_new(0);
    for(i=0; i<pk.n; i++){
      sqlite3_str_appendf(p, "%s\"%w\"", i ? "," : "", pk.az[i]);
    }
    *pzKey = sqlite3_str_finish(p);
  }
  *pzCol = cols.n ? sqlite3_mprintf("\"%w\"", cols.az[iCol % cols.n]) : 0;
  namesFree(&pk);
  namesFree(&cols);
}

/* XOR fuzzed bytes into the blob (or text) of a column of one row. */
static void flipBytes(sqlite3 *db, const char *zTab, const char *zKey,
                      const char *zCol, int iRow, Reader *r){
  char *zSql = sqlite3_mprintf("SELECT %s, (%s) FROM \"%w\" LIMIT 1 OFFSET %d",
                               zCol, zKey, zTab, iRow);
  sqlite3_stmt *pStmt = 0, *pUp = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    int n = sqlite3_column_bytes(pStmt, 0);
    const uint8_t *a = sqlite3_column_blob(pStmt, 0);
    uint8_t *aCopy = n>0 ? sqlite3_malloc(n) : 0;
    if( aCopy ){
      int nFlip = 1 + rByte(r) % 4, k;
      memcpy(aCopy, a, (size_t)n);
      for(k=0; k<nFlip; k++){
        int iAt = rByte(r) % n;
        aCopy[iAt] ^= (uint8_t)(rByte(r) | 1);
      }
      sqlite3_free(zSql);
      zSql = sqlite3_mprintf("UPDATE \"%w\" SET %s = ?1 WHERE (%s) IN "
                             "(SELECT %s FROM \"%w\" LIMIT 1 OFFSET %d)",
                             zTab, zCol, zKey, zKey, zTab, iRow);
      if( sqlite3_prepare_v2(db, zSql, -1, &pUp, 0)==SQLITE_OK ){
        sqlite3_bind_blob(pUp, 1, aCopy, n, SQLITE_TRANSIENT);
        sqlite3_step(pUp);
      }
      sqlite3_finalize(pUp);
      sqlite3_free(aCopy);
    }
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
}

/* Insert a row of fuzzed values into a shadow table. */
static void insertRow(sqlite3 *db, const char *zTab, Reader *r){
  char *zSql = sqlite3_mprintf("SELECT count(*) FROM pragma_table_info(%Q)",
                               zTab);
  sqlite3_stmt *pStmt = 0;
  int nCol = 0, i;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    nCol = sqlite3_column_int(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
  if( nCol<=0 || nCol>16 ) return;
  {
    sqlite3_str *p = sqlite3_str_new(0);
    sqlite3_str_appendf(p, "INSERT OR REPLACE INTO \"%w\" VALUES(", zTab);
    for(i=0; i<nCol; i++) sqlite3_str_appendf(p, "%s?", i ? "," : "");
    sqlite3_str_appendall(p, ")");
    zSql = sqlite3_str_finish(p);
  }
  run(db, zSql, r);
  sqlite3_free(zSql);
}

/* A new connection to the input's database, with the extension. */
static sqlite3 *openConn(const char *zUri){
  sqlite3 *db = 0;
  if( sqlite3_open_v2(zUri, &db, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE
                      |SQLITE_OPEN_URI, 0)!=SQLITE_OK
   || sqlite3_embed_init(db, 0, 0)!=SQLITE_OK ){
    sqlite3_close(db);
    return 0;
  }
  return db;
}

static void makeTemplate(void){
  const char *zModel = getenv("FUZZ_MODEL");
  setenv("SQLITE_EMBED_MODEL", zModel ? zModel : "build/test/mini.emb", 1);
  if( sqlite3_open(":memory:", &dbTemplate)!=SQLITE_OK ) abort();
  if( sqlite3_embed_init(dbTemplate, 0, 0)!=SQLITE_OK ) abort();
  if( sqlite3_exec(dbTemplate,
      "CREATE VIRTUAL TABLE a USING embed_index(model=default);"
      "CREATE VIRTUAL TABLE b USING embed_index(dims=8, quant=none);"
      "CREATE VIRTUAL TABLE c USING embed_index(dims=8, oversample=3, "
      "store_content=0);"
      "INSERT INTO a(rowid, content) VALUES (1, 'the cat sat'), (2, 'a dog'),"
      " (3, 'new york'), (4, 'it is not'), (5, 'café über'), (6, 'zzz'),"
      " (7, 'the mat'), (8, 'will the dog');"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<16)"
      " INSERT INTO b(rowid, vector, content) SELECT i*5, printf("
      "'[%d,%d,%d,%d,%d,%d,%d,%d]', i%3-1, i%5-2, i%7-3, 1, i%2, -i%4, i%6-2,"
      " 2) , 'row ' || i FROM n;"
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<16)"
      " INSERT INTO c(rowid, vector) SELECT i-8, printf("
      "'[%d,%d,%d,%d,%d,%d,%d,%d]', i%4-1, i%3-2, 1, i%5-3, i%2, -i%3, i%7-2,"
      " -1) FROM n;"
      "DELETE FROM b WHERE rowid IN (10, 40); DELETE FROM c WHERE rowid = 0;",
      0, 0, 0)!=SQLITE_OK ){
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  Reader r;
  Names idx, shadow;
  char zUri[64];
  sqlite3 *db;
  sqlite3_backup *pBackup;
  int nOp;

  if( dbTemplate==0 ) makeTemplate();
  snprintf(zUri, sizeof(zUri), "file:/fuzz_shadow_%d?vfs=memdb", iInput++);
  db = openConn(zUri);
  if( db==0 ) return 0;
  pBackup = sqlite3_backup_init(db, "main", dbTemplate, "main");
  if( pBackup ){
    sqlite3_backup_step(pBackup, -1);
    sqlite3_backup_finish(pBackup);
  }
  r.a = aData;
  r.n = nData;
  r.i = 0;
  discover(db, &idx, &shadow);

  for(nOp=0; nOp<MAX_OPS && r.i<r.n && idx.n>0; nOp++){
    int eOp = rByte(&r) % 20;
    const char *zIdx = idx.az[rByte(&r) % idx.n];
    char *zSql = 0;
    if( eOp<4 && shadow.n>0 ){
      /* Corrupt a shadow table */
      const char *zTab = shadow.az[rByte(&r) % shadow.n];
      char *zKey = 0, *zCol = 0;
      int iRow = rByte(&r) % 24;
      tableKey(db, zTab, rByte(&r), &zKey, &zCol);
      if( zKey && zCol ){
        switch( eOp ){
          case 0:
            zSql = sqlite3_mprintf("UPDATE \"%w\" SET %s = ?1 WHERE (%s) IN "
                                   "(SELECT %s FROM \"%w\" LIMIT 1 OFFSET %d)",
                                   zTab, zCol, zKey, zKey, zTab, iRow);
            run(db, zSql, &r);
            break;
          case 1:
            flipBytes(db, zTab, zKey, zCol, iRow, &r);
            break;
          case 2:
            zSql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE (%s) IN (SELECT "
                                   "%s FROM \"%w\" LIMIT 1 OFFSET %d)", zTab,
                                   zKey, zKey, zTab, iRow);
            run(db, zSql, 0);
            break;
          default:
            insertRow(db, zTab, &r);
            break;
        }
      }
      sqlite3_free(zKey);
      sqlite3_free(zCol);
    }else{
      int k = 1 + rByte(&r) % 40;
      int iRow = rByte(&r) % 24;
      switch( eOp ){
        case 4: case 5:
          /* a row's own vector as the query */
          zSql = sqlite3_mprintf("SELECT rowid, distance, content, vector FROM "
                                 "\"%w\" WHERE \"%w\" MATCH (SELECT vector FROM "
                                 "\"%w\" LIMIT 1 OFFSET %d) AND k = %d", zIdx,
                                 zIdx, zIdx, iRow, k);
          run(db, zSql, 0);
          break;
        case 6:
          zSql = sqlite3_mprintf("SELECT rowid, distance FROM \"%w\" WHERE "
                                 "\"%w\" MATCH ?1 AND k = %d AND distance < "
                                 "?2", zIdx, zIdx, k);
          run(db, zSql, &r);
          break;
        case 7:
          zSql = sqlite3_mprintf("SELECT rowid, content FROM \"%w\" WHERE "
                                 "\"%w\" MATCH 'the cat' AND k = %d AND rowid "
                                 "IN (1, 5, ?1, -7, 40)", zIdx, zIdx, k);
          run(db, zSql, &r);
          break;
        case 8:
          zSql = sqlite3_mprintf("SELECT rowid, vector, content FROM \"%w\"",
                                 zIdx);
          run(db, zSql, 0);
          break;
        case 9:
          zSql = sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\"(rowid, vector, "
                                 "content) VALUES (?1 %% 64, ?2, ?3)", zIdx);
          run(db, zSql, &r);
          break;
        case 10:
          zSql = sqlite3_mprintf("INSERT INTO \"%w\"(vector) SELECT vector FROM "
                                 "\"%w\" LIMIT 1 OFFSET %d", zIdx, zIdx, iRow);
          run(db, zSql, 0);
          break;
        case 11:
          zSql = sqlite3_mprintf("UPDATE OR REPLACE \"%w\" SET rowid = ?1 %% 64,"
                                 " vector = ?2 WHERE rowid IN (SELECT rowid "
                                 "FROM \"%w\" LIMIT 1 OFFSET %d)", zIdx, zIdx,
                                 iRow);
          run(db, zSql, &r);
          break;
        case 12:
          zSql = sqlite3_mprintf("UPDATE \"%w\" SET content = 'dog on the mat' "
                                 "WHERE rowid IN (SELECT rowid FROM \"%w\" LIMIT"
                                 " 1 OFFSET %d)", zIdx, zIdx, iRow);
          run(db, zSql, 0);
          break;
        case 13:
          zSql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE rowid IN (SELECT "
                                 "rowid FROM \"%w\" LIMIT 2 OFFSET %d)", zIdx,
                                 zIdx, iRow);
          run(db, zSql, 0);
          break;
        case 14: {
          static const char *const azTxn[] = {
            "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT s", "ROLLBACK TO s",
            "RELEASE s"
          };
          run(db, azTxn[k % 6], 0);
          break;
        }
        case 15: {
          /* A new connection reads the (corrupted) configuration afresh. */
          sqlite3 *db2 = openConn(zUri);
          if( db2 ){
            sqlite3_close(db);
            db = db2;
          }
          break;
        }
        case 16:
          zSql = sqlite3_mprintf("SELECT * FROM embed_dedup(%Q, ?1)", zIdx);
          run(db, zSql, &r);
          break;
        case 17:
          zSql = sqlite3_mprintf("SELECT * FROM embed_kmeans(%Q, %d, %d, ?1)",
                                 zIdx, 1 + k % 6, 1 + iRow % 5);
          run(db, zSql, &r);
          break;
        case 18:
          zSql = sqlite3_mprintf("ALTER TABLE \"%w\" RENAME TO \"%w_r\"", zIdx,
                                 zIdx);
          run(db, zSql, 0);
          namesFree(&idx);
          namesFree(&shadow);
          discover(db, &idx, &shadow);
          break;
        default:
          if( k % 4==0 ){
            zSql = sqlite3_mprintf("DROP TABLE \"%w\"", zIdx);
            run(db, zSql, 0);
            namesFree(&idx);
            namesFree(&shadow);
            discover(db, &idx, &shadow);
          }else{
            zSql = sqlite3_mprintf("SELECT count(*) FROM \"%w\" WHERE \"%w\" "
                                   "MATCH ?1 AND k = %d", zIdx, zIdx, k);
            run(db, zSql, &r);
          }
          break;
      }
    }
    sqlite3_free(zSql);
  }
  namesFree(&idx);
  namesFree(&shadow);
  sqlite3_close(db);
  return 0;
}
