/*
** fuzz_sql.c: libFuzzer target for the SQL surface: calls of our functions
** with arguments built from the fuzzer's bytes.
**
** The extension is compiled in (SQLITE_CORE) and registered on an
** in-memory database with the test model loaded as 'default' from
** $FUZZ_MODEL (default build/test/mini.emb).  The first input byte picks a
** statement, the next ones the SQL type of each argument (NULL, integer,
** real, text, blob), and the rest is cut into the argument values.  Errors
** are expected; crashes, leaks and sanitizer reports are not.
*/
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-embed.h"

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData);

static const char *azSql[] = {
  "SELECT bquant(?1)",
  "SELECT hamming(?1, ?2)",
  "SELECT cosine(?1, ?2)",
  "SELECT embed_json(?1)",
  "SELECT embed(?1)",
  "SELECT embed(?1, ?2)",
  "SELECT embed(?1, ?2, ?3)",
  "SELECT embed_tokens(?1)",
  "SELECT embed_tokens(?1, ?2)",
  "SELECT cosine(embed(?1), embed(?2))",
  "SELECT hamming(bquant(embed(?1)), bquant(?2))",
  "SELECT embed_json(embed(?1, ?2))",
  "SELECT name, dims, calls FROM embed_models WHERE name=?1",
  /* embed_index: fi embeds with the model, fn takes 8-dim vectors; rowids
  ** are kept below 64 so that the tables stay small */
  "INSERT OR REPLACE INTO fi(rowid, content, vector) "
    "VALUES (coalesce(abs(?1) % 64, 0), ?2, ?3)",
  "INSERT OR REPLACE INTO fn(rowid, vector) "
    "VALUES (coalesce(abs(?1) % 64, 0), ?2)",
  "UPDATE fi SET content = ?2, vector = ?3 WHERE rowid = ?1",
  "UPDATE OR REPLACE fn SET rowid = ?1 % 64, vector = ?2 WHERE rowid = ?3",
  "DELETE FROM fi WHERE rowid = ?1",
  "SELECT rowid, distance, content FROM fi WHERE fi MATCH ?1 AND k = ?2",
  "SELECT rowid, distance FROM fi WHERE fi MATCH ?1 AND k = ?2 "
    "AND distance < ?3",
  "SELECT rowid, vector FROM fn WHERE fn MATCH ?1 AND k = ?2 "
    "AND rowid IN (?3, 1, 2, 3)",
};

static sqlite3 *db = 0;

static void bindArg(sqlite3_stmt *pStmt, int i, int eType,
                    const uint8_t *a, int n){
  switch( eType % 5 ){
    case 0: sqlite3_bind_null(pStmt, i); break;
    case 1: {
      sqlite3_int64 v = 0;
      memcpy(&v, a, n<8 ? (size_t)n : 8);
      sqlite3_bind_int64(pStmt, i, (n>0 && a[0]<16) ? (sqlite3_int64)a[0] : v);
      break;
    }
    case 2: {
      double v = 0;
      memcpy(&v, a, n<8 ? (size_t)n : 8);
      sqlite3_bind_double(pStmt, i, v);
      break;
    }
    case 3: sqlite3_bind_text(pStmt, i, (const char*)a, n, SQLITE_TRANSIENT); break;
    default: sqlite3_bind_blob(pStmt, i, a, n, SQLITE_TRANSIENT); break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *aData, size_t nData){
  sqlite3_stmt *pStmt = 0;
  size_t iSql, k;
  int nParam, i;
  if( db==0 ){
    const char *zModel = getenv("FUZZ_MODEL");
    char *zSql;
    if( sqlite3_open(":memory:", &db)!=SQLITE_OK ) abort();
    if( sqlite3_embed_init(db, 0, 0)!=SQLITE_OK ) abort();
    zSql = sqlite3_mprintf("SELECT embed_load('default', %Q)",
                           zModel ? zModel : "build/test/mini.emb");
    if( sqlite3_exec(db, zSql, 0, 0, 0)!=SQLITE_OK ) abort();
    sqlite3_free(zSql);
    if( sqlite3_exec(db, "CREATE VIRTUAL TABLE fi USING embed_index();"
                         "CREATE VIRTUAL TABLE fn USING embed_index(dims=8, "
                         "quant=none)", 0, 0, 0)!=SQLITE_OK ){
      abort();
    }
  }
  if( nData<4 ) return 0;
  iSql = aData[0] % (sizeof(azSql)/sizeof(azSql[0]));
  if( sqlite3_prepare_v2(db, azSql[iSql], -1, &pStmt, 0)!=SQLITE_OK ) abort();
  nParam = sqlite3_bind_parameter_count(pStmt);
  /* aData[1..3]: the type of each argument; the rest split evenly. */
  k = 4;
  for(i=1; i<=nParam; i++){
    size_t nLeft = nData - k;
    size_t nArg = i==nParam ? nLeft : nLeft/(size_t)(nParam - i + 1);
    bindArg(pStmt, i, aData[i], aData + k, (int)nArg);
    k += nArg;
  }
  while( sqlite3_step(pStmt)==SQLITE_ROW ){}
  sqlite3_finalize(pStmt);
  return 0;
}
