/*
** index.c: embed_index, a virtual table for top-k search by cosine.
**
**     CREATE VIRTUAL TABLE notes USING embed_index(model=default);
**     INSERT INTO notes(rowid, content) VALUES (1, 'the cat sat on the mat');
**     INSERT INTO notes(rowid, vector) VALUES (2, embed('a dog in the park'));
**     SELECT rowid, distance, content FROM notes
**      WHERE notes MATCH 'kitten' AND k = 10;              -- nearest first
**     SELECT rowid FROM notes
**      WHERE notes MATCH '[0.5, -1, 2, 0]' AND k = 3       -- a JSON vector
**        AND rowid IN (1, 5, 9) AND distance < 0.5;        -- filters
**
** Options, all optional: model=NAME (default: default); dims=N (default:
** the model's; fewer is Matryoshka truncation; with no model, or more dims
** than the model has, the index takes vectors only); quant=binary|none;
** oversample=N (default 'auto': embIndexDefaultOversample(dims), and at least
** sqrt(rows) candidates); store_content=1|0.
**
** HOW IT WORKS
** Storage.  Shadow tables in the index's own database hold everything:
**   NAME_config(key TEXT PRIMARY KEY, value) WITHOUT ROWID
**       format, model, dims, quant, oversample ('auto' or N) and
**       store_content as resolved at CREATE time, and generation: a
**       counter that every transaction writing the index increments;
**   NAME_data(id INTEGER PRIMARY KEY, vector BLOB NOT NULL, content)
**       the float32 vector, stored first so that reading it never walks a
**       long content's overflow pages, and the content (NULL when
**       store_content=0);
**   NAME_code(id INTEGER PRIMARY KEY, code BLOB NOT NULL)   quant=binary
**       each vector's bquant() code, apart from the vectors so that
**       loading every code reads dims/8 bytes a row rather than 4*dims.
**
** Search.  Queries run on the cache: the codes of all rows in memory, in
** one array of nRow codes each padded to whole 64-bit words, a parallel
** array of rowids and a hash table from rowid to position.  quant=binary
** scans the codes with popcount (kernels.c, xHammingMany), keeps the
** k*oversample nearest (with oversample 'auto', at least sqrt(rows)) in a
** bounded max-heap, reads those rows' float vectors from NAME_data and
** keeps the k nearest by exact cosine.  (Holding the float vectors in
** memory too would take 32 times the codes' memory, 1 GB for 1M rows of
** 256 dims, to save about 3 us per candidate.)  quant=none caches the
** float vectors themselves and scans them exactly.
** A distance is 1 - cosine computed exactly as cosine() computes it, so
** results equal a plain SQL ORDER BY 1 - cosine(vector, query); ties are
** broken by rowid.  A vector of zero norm (say, text with no known word)
** has no direction: as a row or as a query it matches nothing.
**
** Metrics.  Each top-k query counts into embed_metrics()'s series for
** "schema.table" (embed_index_queries_total, embed_index_query_seconds).
**
** Consistency.  The first query builds the cache from the shadow tables;
** this connection's writes then keep it up to date.  Each query compares
** the cache's generation with NAME_config's, so a commit from another
** connection makes it rebuild.  ROLLBACK and ROLLBACK TO (of a savepoint,
** or of a failed statement) drop the cache, since SQLite's journal rolls
** the shadow tables back underneath it; the next query rebuilds it.  The
** first write of each transaction, and the first after a ROLLBACK TO,
** increments the generation, so a cache built from rows that later roll
** back never matches the generation that is left.
*/
#include "index.h"
#include "conn.h"
#include "kernels.h"
#include "metrics.h"
#include "vector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* Column numbers of the declared table */
#define INDEX_CONTENT   0
#define INDEX_VECTOR    1
#define INDEX_DISTANCE  2    /* hidden: 1 - cosine, in MATCH queries */
#define INDEX_K         3    /* hidden: k = N, with MATCH */
#define INDEX_TABLE     4    /* hidden, named after the table: NAME MATCH x */

#define INDEX_MAX_K          10000
#define INDEX_MAX_DIMS       65536
#define INDEX_MAX_OVERSAMPLE 1000
#define INDEX_FORMAT         1        /* of the shadow tables */
#define INDEX_BLOCK          512      /* rows per xHammingMany call */

#define LARGEST_INT64        ((sqlite3_int64)0x7fffffffffffffffLL)

#define INDEX_QUANT_BINARY   0
#define INDEX_QUANT_NONE     1

/* Statements on the shadow tables, prepared on first use and kept.  Each
** SQL text takes the schema and table names as its two %w arguments. */
#define STMT_GEN_GET       0
#define STMT_GEN_BUMP      1
#define STMT_DATA_INSERT   2
#define STMT_DATA_DELETE   3
#define STMT_DATA_UPDATE   4
#define STMT_DATA_VECTOR   5
#define STMT_DATA_CONTENT  6
#define STMT_DATA_EXISTS   7
#define STMT_CODE_PUT      8
#define STMT_CODE_DELETE   9
#define STMT_CODE_MOVE     10
#define INDEX_NSTMT        11

static const char *const azStmtSql[INDEX_NSTMT] = {
  "SELECT value FROM \"%w\".\"%w_config\" WHERE key='generation'",
  "UPDATE \"%w\".\"%w_config\" SET value=value+1 WHERE key='generation'",
  "INSERT INTO \"%w\".\"%w_data\"(id, vector, content) VALUES(?1, ?2, ?3)",
  "DELETE FROM \"%w\".\"%w_data\" WHERE id=?1",
  ("UPDATE \"%w\".\"%w_data\" SET id=?1, vector=coalesce(?2, vector), "
   "content=CASE WHEN ?4 THEN ?3 ELSE content END WHERE id=?5"),
  "SELECT vector FROM \"%w\".\"%w_data\" WHERE id=?1",
  "SELECT content FROM \"%w\".\"%w_data\" WHERE id=?1",
  "SELECT 1 FROM \"%w\".\"%w_data\" WHERE id=?1",
  "INSERT OR REPLACE INTO \"%w\".\"%w_code\"(id, code) VALUES(?1, ?2)",
  "DELETE FROM \"%w\".\"%w_code\" WHERE id=?1",
  "UPDATE \"%w\".\"%w_code\" SET id=?1 WHERE id=?2",
};

/*
** The cache: what a query scans.  Row i has rowid aRowid[i] and code
** aCode[i*nStride .. +nCode), zero-padded to nStride bytes (a multiple of
** 8).  aSlot is an open-addressing hash table (linear probing) of
** position+1 by rowid, 0 for an empty slot, at most half full.
*/
typedef struct IndexCache IndexCache;
struct IndexCache {
  sqlite3_int64 iGen;        /* the NAME_config generation it mirrors */
  size_t nCode;              /* bytes of a code (or float vector) */
  size_t nStride;            /* bytes between rows, nCode rounded up to 8 */
  uint32_t nRow, nAlloc;
  sqlite3_int64 *aRowid;
  uint8_t *aCode;
  uint32_t *aSlot;
  uint32_t nSlot;            /* a power of two */
  int nShift;                /* 64 - log2(nSlot), for the hash */
};

typedef struct index_vtab index_vtab;
struct index_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
  EmbConn *pConn;            /* a reference: the connection's models */
  char *zDb;                 /* schema: "main", "temp", an attached name */
  char *zName;               /* the table's name */
  char *zModel;              /* model name, or NULL: vectors only */
  int nDims;
  int eQuant;                /* INDEX_QUANT_* */
  int nOversample;           /* candidates per result, quant=binary */
  int bAutoOversample;       /* oversample not given: the default, and at
                             ** least sqrt(rows) candidates */
  int bStoreContent;
  IndexCache *pCache;        /* NULL until a query builds it */
  int bGenBumped;            /* this transaction bumped the generation */
  EmbSeries *pSeries;        /* embed_metrics() counters, "schema.table";
                             ** NULL until the first query */
  sqlite3_stmt *aStmt[INDEX_NSTMT];
};

/* A result or candidate: distance (or Hamming distance) and rowid. */
typedef struct IndexHit IndexHit;
struct IndexHit {
  double d;
  sqlite3_int64 iRowid;
};

typedef struct index_cursor index_cursor;
struct index_cursor {
  sqlite3_vtab_cursor base;
  int bMatch;                /* results of a MATCH, else a scan */
  /* MATCH: the results, nearest first */
  IndexHit *aHit;
  int nHit, iHit;
  sqlite3_int64 iK;
  sqlite3_stmt *pRow;        /* vector, content of the current hit */
  int bRowLoaded;
  /* scan: SELECT id, vector, content FROM NAME_data ... */
  sqlite3_stmt *pScan;
  int bEof;
};

/* ------------------------------------------------------------------------
** Errors and statements
*/

/* Set the table's error message to zErr (from sqlite3_mprintf(), taken
** over) and return rc, or SQLITE_NOMEM when zErr is NULL. */
static int indexError(index_vtab *p, int rc, char *zErr){
  sqlite3_free(p->base.zErrMsg);
  p->base.zErrMsg = zErr;
  return zErr ? rc : SQLITE_NOMEM;
}

/* The error of a failed statement on the shadow tables. */
static int indexSqlError(index_vtab *p, int rc){
  if( rc==SQLITE_NOMEM ) return rc;
  return indexError(p, rc, sqlite3_mprintf("embed_index: '%q': %s", p->zName,
                                           sqlite3_errmsg(p->db)));
}

/* Statement iStmt, prepared on first use.  Returns SQLITE_OK or an error
** (message set). */
static int indexStmt(index_vtab *p, int iStmt, sqlite3_stmt **ppStmt){
  if( p->aStmt[iStmt]==0 ){
    char *zSql = sqlite3_mprintf(azStmtSql[iStmt], p->zDb, p->zName);
    int rc;
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v3(p->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                            &p->aStmt[iStmt], 0);
    sqlite3_free(zSql);
    if( rc ) return indexSqlError(p, rc);
  }
  *ppStmt = p->aStmt[iStmt];
  return SQLITE_OK;
}

/* Run a bound statement that returns no rows, then reset it. */
static int indexStmtRun(index_vtab *p, sqlite3_stmt *pStmt){
  int rc;
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  sqlite3_clear_bindings(pStmt);
  return rc ? indexSqlError(p, rc) : SQLITE_OK;
}

/* The shadow tables' corruption, in one message. */
static int indexCorrupt(index_vtab *p, const char *zTable, sqlite3_int64 iRow,
                        const char *zWhat, int nGot, int nWant){
  return indexError(p, SQLITE_CORRUPT_VTAB, sqlite3_mprintf(
      "embed_index: shadow table '%q_%s' is corrupt: row %lld has a %s of "
      "%d bytes, not %d", p->zName, zTable, iRow, zWhat, nGot, nWant));
}

/* ------------------------------------------------------------------------
** The cache
*/

static uint32_t cacheHash(const IndexCache *c, sqlite3_int64 iRowid){
  return (uint32_t)(((uint64_t)iRowid * 0x9E3779B97F4A7C15ull) >> c->nShift);
}

static void cacheFree(IndexCache *c){
  if( c==0 ) return;
  sqlite3_free(c->aRowid);
  sqlite3_free(c->aCode);
  sqlite3_free(c->aSlot);
  sqlite3_free(c);
}

/* Position of iRowid, or -1. */
static sqlite3_int64 cacheFind(const IndexCache *c, sqlite3_int64 iRowid){
  uint32_t mask = c->nSlot - 1, h = cacheHash(c, iRowid);
  for(;; h=(h+1)&mask){
    uint32_t s = c->aSlot[h];
    if( s==0 ) return -1;
    if( c->aRowid[s-1]==iRowid ) return s-1;
  }
}

/* Add position iPos, whose rowid is aRowid[iPos], to the hash table. */
static void cacheSlotAdd(IndexCache *c, uint32_t iPos){
  uint32_t mask = c->nSlot - 1, h = cacheHash(c, c->aRowid[iPos]);
  while( c->aSlot[h] ) h = (h+1)&mask;
  c->aSlot[h] = iPos + 1;
}

/* Remove position iPos (with rowid aRowid[iPos]) from the hash table,
** shifting later entries of its probe run back into the hole. */
static void cacheSlotRemove(IndexCache *c, uint32_t iPos){
  uint32_t mask = c->nSlot - 1, i = cacheHash(c, c->aRowid[iPos]), j;
  while( c->aSlot[i]!=iPos+1 ) i = (i+1)&mask;
  for(j=i;;){
    uint32_t h;
    j = (j+1)&mask;
    if( c->aSlot[j]==0 ) break;
    h = cacheHash(c, c->aRowid[c->aSlot[j]-1]);
    /* The entry at j may move to i unless its home h lies in (i, j]. */
    if( i<=j ? (i<h && h<=j) : (i<h || h<=j) ) continue;
    c->aSlot[i] = c->aSlot[j];
    i = j;
  }
  c->aSlot[i] = 0;
}

/* Make the hash table nSlot slots (a power of two) and fill it. */
static int cacheRehash(IndexCache *c, uint32_t nSlot){
  uint32_t *aNew = sqlite3_malloc64(sizeof(uint32_t)*(size_t)nSlot);
  uint32_t i;
  int nBits = 0;
  if( aNew==0 ) return SQLITE_NOMEM;
  memset(aNew, 0, sizeof(uint32_t)*(size_t)nSlot);
  while( (1u<<nBits)<nSlot ) nBits++;
  sqlite3_free(c->aSlot);
  c->aSlot = aNew;
  c->nSlot = nSlot;
  c->nShift = 64 - nBits;
  for(i=0; i<c->nRow; i++) cacheSlotAdd(c, i);
  return SQLITE_OK;
}

/* Make the arrays (not the hash table) nNew rows long. */
static int cacheResize(IndexCache *c, uint32_t nNew){
  sqlite3_int64 *aRowid;
  uint8_t *aCode;
  aRowid = sqlite3_realloc64(c->aRowid, sizeof(sqlite3_int64)*(size_t)nNew);
  if( aRowid==0 ) return SQLITE_NOMEM;
  c->aRowid = aRowid;
  aCode = sqlite3_realloc64(c->aCode, c->nStride*(size_t)nNew);
  if( aCode==0 ) return SQLITE_NOMEM;
  c->aCode = aCode;
  c->nAlloc = nNew;
  return SQLITE_OK;
}

/* Room for one more row in the arrays (not the hash table). */
static int cacheReserve(IndexCache *c){
  if( c->nRow>=c->nAlloc ){
    if( c->nAlloc>=0x7fffffff ) return SQLITE_FULL;
    return cacheResize(c, c->nAlloc ? c->nAlloc*2 : 1024);
  }
  return SQLITE_OK;
}

static void cacheSetCode(IndexCache *c, uint32_t iPos, const uint8_t *aCode){
  uint8_t *a = c->aCode + c->nStride*(size_t)iPos;
  memcpy(a, aCode, c->nCode);
  memset(a + c->nCode, 0, c->nStride - c->nCode);
}

/* Set the code of iRowid, adding the row when it is new. */
static int cacheUpsert(IndexCache *c, sqlite3_int64 iRowid,
                       const uint8_t *aCode){
  sqlite3_int64 iPos = cacheFind(c, iRowid);
  int rc;
  if( iPos<0 ){
    if( (uint64_t)(c->nRow+1)*2 > c->nSlot ){
      if( c->nSlot>=0x80000000u ) return SQLITE_FULL;
      rc = cacheRehash(c, c->nSlot*2);
      if( rc ) return rc;
    }
    rc = cacheReserve(c);
    if( rc ) return rc;
    iPos = c->nRow++;
    c->aRowid[iPos] = iRowid;
    cacheSlotAdd(c, (uint32_t)iPos);
  }
  cacheSetCode(c, (uint32_t)iPos, aCode);
  return SQLITE_OK;
}

/* Remove iRowid if present: the last row moves into its place. */
static void cacheRemove(IndexCache *c, sqlite3_int64 iRowid){
  sqlite3_int64 iPos = cacheFind(c, iRowid);
  uint32_t iLast;
  if( iPos<0 ) return;
  iLast = c->nRow - 1;
  cacheSlotRemove(c, (uint32_t)iPos);
  if( (uint32_t)iPos!=iLast ){
    cacheSlotRemove(c, iLast);
    c->aRowid[iPos] = c->aRowid[iLast];
    memcpy(c->aCode + c->nStride*(size_t)iPos,
           c->aCode + c->nStride*(size_t)iLast, c->nStride);
    cacheSlotAdd(c, (uint32_t)iPos);
  }
  c->nRow--;
}

/* Give row iOld the rowid iNew (which is not in the cache).  Returns 0, or
** 1 when iOld is missing (the cache is then out of step). */
static int cacheRekey(IndexCache *c, sqlite3_int64 iOld, sqlite3_int64 iNew){
  sqlite3_int64 iPos = cacheFind(c, iOld);
  if( iPos<0 ) return 1;
  cacheSlotRemove(c, (uint32_t)iPos);
  c->aRowid[iPos] = iNew;
  cacheSlotAdd(c, (uint32_t)iPos);
  return 0;
}

/* Bytes of a row's entry in the cache: its code, or its float vector. */
static size_t indexCodeBytes(const index_vtab *p){
  return p->eQuant==INDEX_QUANT_BINARY ? ((size_t)p->nDims+7)/8
                                       : (size_t)p->nDims*4;
}

/* The generation recorded in NAME_config. */
static int indexGeneration(index_vtab *p, sqlite3_int64 *piGen){
  sqlite3_stmt *pStmt;
  int rc = indexStmt(p, STMT_GEN_GET, &pStmt);
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *piGen = sqlite3_column_int64(pStmt, 0);
    sqlite3_reset(pStmt);
    return SQLITE_OK;
  }
  rc = sqlite3_reset(pStmt);
  if( rc ) return indexSqlError(p, rc);
  return indexError(p, SQLITE_CORRUPT_VTAB, sqlite3_mprintf(
      "embed_index: shadow table '%q_config' is corrupt: it has no "
      "generation", p->zName));
}

/* Build a cache of every row, tagged with generation iGen. */
static int cacheBuild(index_vtab *p, sqlite3_int64 iGen, IndexCache **ppOut){
  int isBinary = p->eQuant==INDEX_QUANT_BINARY;
  char *zSql = sqlite3_mprintf(
      isBinary ? "SELECT id, code FROM \"%w\".\"%w_code\""
               : "SELECT id, vector FROM \"%w\".\"%w_data\"",
      p->zDb, p->zName);
  sqlite3_stmt *pStmt = 0;
  IndexCache *c;
  uint32_t nSlot = 1024;
  int rc;
  *ppOut = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc ) return indexSqlError(p, rc);
  c = sqlite3_malloc64(sizeof(*c));
  if( c==0 ){
    sqlite3_finalize(pStmt);
    return SQLITE_NOMEM;
  }
  memset(c, 0, sizeof(*c));
  c->iGen = iGen;
  c->nCode = indexCodeBytes(p);
  c->nStride = (c->nCode + 7) & ~(size_t)7;
  /* Size the arrays once: growing a gigabyte of float vectors by doubling
  ** would copy it about twice over. */
  zSql = sqlite3_mprintf(
      isBinary ? "SELECT count(*) FROM \"%w\".\"%w_code\""
               : "SELECT count(*) FROM \"%w\".\"%w_data\"",
      p->zDb, p->zName);
  if( zSql==0 ){
    rc = SQLITE_NOMEM;
  }else{
    sqlite3_stmt *pCount = 0;
    rc = sqlite3_prepare_v2(p->db, zSql, -1, &pCount, 0);
    sqlite3_free(zSql);
    if( rc==SQLITE_OK && sqlite3_step(pCount)==SQLITE_ROW ){
      sqlite3_int64 nRow = sqlite3_column_int64(pCount, 0);
      if( nRow>0 && nRow<0x7fffffff ) rc = cacheResize(c, (uint32_t)nRow);
    }
    if( rc==SQLITE_OK ) rc = sqlite3_finalize(pCount);
    else sqlite3_finalize(pCount);
    if( rc && rc!=SQLITE_NOMEM ) rc = indexSqlError(p, rc);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iRowid = sqlite3_column_int64(pStmt, 0);
    const uint8_t *a = sqlite3_column_blob(pStmt, 1);
    int n = sqlite3_column_bytes(pStmt, 1);
    if( (size_t)n!=c->nCode ){
      rc = indexCorrupt(p, isBinary ? "code" : "data", iRowid,
                        isBinary ? "code" : "vector", n, (int)c->nCode);
      break;
    }
    rc = cacheReserve(c);
    if( rc ) break;
    c->aRowid[c->nRow] = iRowid;
    cacheSetCode(c, c->nRow, a);
    c->nRow++;
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_reset(pStmt);
    if( rc ) rc = indexSqlError(p, rc);
  }
  sqlite3_finalize(pStmt);
  if( rc==SQLITE_OK ){
    while( nSlot<0x80000000u && (uint64_t)nSlot < (uint64_t)c->nRow*2+2 ){
      nSlot *= 2;
    }
    rc = cacheRehash(c, nSlot);
  }
  if( rc ){
    cacheFree(c);
    return rc;
  }
  *ppOut = c;
  return SQLITE_OK;
}

/* Make p->pCache mirror the shadow tables. */
static int indexCacheReady(index_vtab *p){
  sqlite3_int64 iGen = 0;
  int rc = indexGeneration(p, &iGen);
  if( rc ) return rc;
  if( p->pCache && p->pCache->iGen==iGen ) return SQLITE_OK;
  cacheFree(p->pCache);
  p->pCache = 0;
  return cacheBuild(p, iGen, &p->pCache);
}

static void indexCacheDrop(index_vtab *p){
  cacheFree(p->pCache);
  p->pCache = 0;
}

/* Before the first change in a transaction: increment the generation.
** A cache that another connection's commit had already made stale is
** dropped here, since this connection's writes cannot be applied to it. */
static int indexWriteBegin(index_vtab *p){
  sqlite3_stmt *pStmt;
  sqlite3_int64 iGen = 0;
  int rc;
  if( p->bGenBumped ) return SQLITE_OK;
  rc = indexGeneration(p, &iGen);
  if( rc==SQLITE_OK ) rc = indexStmt(p, STMT_GEN_BUMP, &pStmt);
  if( rc==SQLITE_OK ) rc = indexStmtRun(p, pStmt);
  if( rc ) return rc;
  if( p->pCache ){
    if( p->pCache->iGen==iGen ){
      p->pCache->iGen = iGen + 1;
    }else{
      indexCacheDrop(p);
    }
  }
  p->bGenBumped = 1;
  return SQLITE_OK;
}

/* ------------------------------------------------------------------------
** Vectors: from SQL values, from text, and distances
*/

/* 1 - cosine(a, b) for float32 vectors of n elements, computed as cosine()
** computes it.  Returns 0 when either has zero norm (no distance). */
static int vecDistance(const EmbKernels *pK, const uint8_t *a,
                       const uint8_t *b, size_t n, double *pD){
  double ab, aa, bb, c;
  pK->xDot3(a, b, n, &ab, &aa, &bb);
  if( !isfinite(ab) || !isfinite(aa) || !isfinite(bb) ){
    /* Finite inputs (the index holds no others) whose float sums
    ** overflowed: add up in double, as cosine() does. */
    size_t i;
    ab = aa = bb = 0.0;
    for(i=0; i<n; i++){
      double x = embFloatAt(a, i), y = embFloatAt(b, i);
      ab += x*y;
      aa += x*x;
      bb += y*y;
    }
  }
  if( !(aa>0.0 && bb>0.0) ) return 0;
  c = ab / (sqrt(aa)*sqrt(bb));
  if( c>1.0 ) c = 1.0;
  if( c<-1.0 ) c = -1.0;
  *pD = 1.0 - c;
  return 1;
}

/* Read a vector for this index from pVal (a float32 BLOB or JSON text) into
** *pVec.  zWhich is "query " or "" for messages.  On error sets the
** message; there is then nothing to clear. */
static int indexVector(index_vtab *p, sqlite3_value *pVal, const char *zWhich,
                       EmbVec *pVec){
  static const char zPrefix[] = "embed_index(): ";
  char *zErr = 0;
  int rc = embVecFromValue(pVal, "embed_index", zWhich, EMB_VEC_FINITE, pVec,
                           &zErr);
  if( rc ){
    /* embVecFromValue() words its messages for functions. */
    if( zErr && strncmp(zErr, zPrefix, sizeof(zPrefix)-1)==0 ){
      char *z = sqlite3_mprintf("embed_index: %s", zErr+sizeof(zPrefix)-1);
      sqlite3_free(zErr);
      zErr = z;
    }
    return zErr ? indexError(p, rc, zErr) : SQLITE_NOMEM;
  }
  if( pVec->n!=p->nDims ){
    int n = pVec->n;
    embVecClear(pVec);
    return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
        "embed_index: %svector has %d dims, but '%q' takes %d", zWhich, n,
        p->zName, p->nDims));
  }
  return SQLITE_OK;
}

/* Embed the text of pVal with the index's model into aOut[0..nDims).
** zWhat names the text in messages ("MATCH text", "content"). */
static int indexEmbed(index_vtab *p, sqlite3_value *pVal, const char *zWhat,
                      float *aOut){
  EmbModel *pModel;
  const char *z;
  int n;
  if( p->zModel==0 ){
    return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
        "embed_index: '%q' holds vectors only (it has no model), so %s "
        "cannot be embedded: give a vector (a float32 BLOB or a JSON array)",
        p->zName, zWhat));
  }
  pModel = embConnFind(p->pConn, p->zModel);
  if( pModel==0 ){
    char *zWhy = embConnMissingModel(p->pConn, p->zModel);
    char *zErr = zWhy ? sqlite3_mprintf("embed_index: '%q' embeds with %s",
                                        p->zName, zWhy) : 0;
    sqlite3_free(zWhy);
    return indexError(p, SQLITE_ERROR, zErr);
  }
  if( pModel->nDims<p->nDims ){
    return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
        "embed_index: model '%q' has %d dims, fewer than the %d of '%q'",
        p->zModel, pModel->nDims, p->nDims, p->zName));
  }
  if( sqlite3_value_type(pVal)==SQLITE_BLOB ){
    z = (const char*)sqlite3_value_blob(pVal);
  }else{
    z = (const char*)sqlite3_value_text(pVal);
  }
  n = sqlite3_value_bytes(pVal);
  if( z==0 && n>0 ) return SQLITE_NOMEM;
  return embEmbedText(p->pConn, pModel, z, (size_t)n, p->nDims, aOut);
}

/* The new row's vector, from a vector value (pVector not NULL) or by
** embedding pContent.  Sets *paVec to nDims*4 bytes valid until pVec is
** cleared or *paOwn (sqlite3_malloc'd) is freed. */
static int indexRowVector(index_vtab *p, sqlite3_value *pContent,
                          sqlite3_value *pVector, EmbVec *pVec, float **paOwn,
                          const uint8_t **paVec){
  int rc;
  *paOwn = 0;
  if( pVector && sqlite3_value_type(pVector)!=SQLITE_NULL ){
    rc = indexVector(p, pVector, "", pVec);
    if( rc==SQLITE_OK ) *paVec = pVec->a;
    return rc;
  }
  if( pContent==0 || sqlite3_value_type(pContent)==SQLITE_NULL ){
    return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
        "embed_index: a row of '%q' needs a vector, or content to embed "
        "(both are NULL)", p->zName));
  }
  *paOwn = sqlite3_malloc64(sizeof(float)*(size_t)p->nDims);
  if( *paOwn==0 ) return SQLITE_NOMEM;
  rc = indexEmbed(p, pContent, "content", *paOwn);
  if( rc ){
    sqlite3_free(*paOwn);
    *paOwn = 0;
    return rc;
  }
  *paVec = (const uint8_t*)*paOwn;
  return SQLITE_OK;
}

/* ------------------------------------------------------------------------
** Writes: xUpdate and its parts
*/

/* Whether rowid iRowid exists. */
static int indexExists(index_vtab *p, sqlite3_int64 iRowid, int *pbExists){
  sqlite3_stmt *pStmt;
  int rc = indexStmt(p, STMT_DATA_EXISTS, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iRowid);
  *pbExists = sqlite3_step(pStmt)==SQLITE_ROW;
  rc = sqlite3_reset(pStmt);
  return rc ? indexSqlError(p, rc) : SQLITE_OK;
}

/* A rowid from an SQL value: an integer, or a real with an integer value. */
static int indexRowidArg(index_vtab *p, sqlite3_value *pVal,
                         sqlite3_int64 *piRowid){
  int eType = sqlite3_value_type(pVal);
  if( eType==SQLITE_INTEGER ){
    *piRowid = sqlite3_value_int64(pVal);
    return SQLITE_OK;
  }
  if( eType==SQLITE_FLOAT ){
    double r = sqlite3_value_double(pVal);
    if( r>=-9.2e18 && r<=9.2e18 && r==floor(r) ){
      *piRowid = (sqlite3_int64)r;
      return SQLITE_OK;
    }
  }
  return indexError(p, SQLITE_MISMATCH, sqlite3_mprintf(
      "embed_index: a rowid of '%q' must be an integer, not '%q'", p->zName,
      eType==SQLITE_NULL ? "NULL" : (const char*)sqlite3_value_text(pVal)));
}

static int indexDuplicate(index_vtab *p, sqlite3_int64 iRowid){
  return indexError(p, SQLITE_CONSTRAINT, sqlite3_mprintf(
      "embed_index: '%q' already has a row with rowid %lld (INSERT OR "
      "REPLACE replaces it)", p->zName, iRowid));
}

/* Delete row iRowid from the shadow tables and the cache. */
static int indexDeleteRow(index_vtab *p, sqlite3_int64 iRowid){
  sqlite3_stmt *pStmt;
  int rc = indexStmt(p, STMT_DATA_DELETE, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iRowid);
  rc = indexStmtRun(p, pStmt);
  if( rc==SQLITE_OK && p->eQuant==INDEX_QUANT_BINARY ){
    rc = indexStmt(p, STMT_CODE_DELETE, &pStmt);
    if( rc ) return rc;
    sqlite3_bind_int64(pStmt, 1, iRowid);
    rc = indexStmtRun(p, pStmt);
  }
  if( rc==SQLITE_OK && p->pCache ) cacheRemove(p->pCache, iRowid);
  return rc;
}

/* Store the code of the vector aVec for iRowid (quant=binary), and put the
** row's entry in the cache when there is one.  A cache that cannot grow is
** dropped; the next query rebuilds it. */
static int indexPutCode(index_vtab *p, sqlite3_int64 iRowid,
                        const uint8_t *aVec){
  uint8_t aStack[512];
  uint8_t *aCode = (uint8_t*)aVec;
  size_t nCode = indexCodeBytes(p);
  int rc = SQLITE_OK;
  if( p->eQuant==INDEX_QUANT_BINARY ){
    sqlite3_stmt *pStmt;
    aCode = nCode<=sizeof(aStack) ? aStack : sqlite3_malloc64(nCode);
    if( aCode==0 ) return SQLITE_NOMEM;
    embBquant(aVec, (size_t)p->nDims, aCode);
    rc = indexStmt(p, STMT_CODE_PUT, &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, iRowid);
      sqlite3_bind_blob(pStmt, 2, aCode, (int)nCode, SQLITE_STATIC);
      rc = indexStmtRun(p, pStmt);
    }
  }
  if( rc==SQLITE_OK && p->pCache && cacheUpsert(p->pCache, iRowid, aCode) ){
    indexCacheDrop(p);
  }
  if( aCode!=aVec && aCode!=aStack ) sqlite3_free(aCode);
  return rc;
}

/* INSERT: argv[1] the rowid or NULL, argv[2..] the columns. */
static int indexInsert(index_vtab *p, sqlite3_value **argv,
                       sqlite3_int64 *piRowid){
  sqlite3_value *pContent = argv[2+INDEX_CONTENT];
  sqlite3_stmt *pStmt;
  sqlite3_int64 iRowid = 0;
  int bRowid = sqlite3_value_type(argv[1])!=SQLITE_NULL;
  int bReplace = 0;
  EmbVec vec;
  float *aOwn = 0;
  const uint8_t *aVec = 0;
  int rc = SQLITE_OK;

  memset(&vec, 0, sizeof(vec));
  if( bRowid ) rc = indexRowidArg(p, argv[1], &iRowid);
  if( rc==SQLITE_OK ){
    rc = indexRowVector(p, pContent, argv[2+INDEX_VECTOR], &vec, &aOwn, &aVec);
  }
  if( rc==SQLITE_OK && bRowid ){
    rc = indexExists(p, iRowid, &bReplace);
    if( rc==SQLITE_OK && bReplace
     && sqlite3_vtab_on_conflict(p->db)!=SQLITE_REPLACE ){
      rc = indexDuplicate(p, iRowid);
    }
  }
  /* Every check is done: from here on, changes. */
  if( rc==SQLITE_OK ) rc = indexWriteBegin(p);
  if( rc==SQLITE_OK && bReplace ) rc = indexDeleteRow(p, iRowid);
  if( rc==SQLITE_OK ) rc = indexStmt(p, STMT_DATA_INSERT, &pStmt);
  if( rc==SQLITE_OK ){
    if( bRowid ) sqlite3_bind_int64(pStmt, 1, iRowid);
    sqlite3_bind_blob(pStmt, 2, aVec, p->nDims*4, SQLITE_STATIC);
    if( p->bStoreContent ) sqlite3_bind_value(pStmt, 3, pContent);
    rc = indexStmtRun(p, pStmt);
    if( rc==SQLITE_OK && !bRowid ) iRowid = sqlite3_last_insert_rowid(p->db);
  }
  if( rc==SQLITE_OK ) rc = indexPutCode(p, iRowid, aVec);
  if( rc==SQLITE_OK ) *piRowid = iRowid;
  embVecClear(&vec);
  sqlite3_free(aOwn);
  return rc;
}

/* UPDATE of row argv[0]: argv[1] the new rowid, argv[2..] the columns,
** those not SET flagged by sqlite3_value_nochange().  A new vector wins;
** else new content is embedded (when the index has a model); setting the
** vector to NULL embeds the content again. */
static int indexUpdateRow(index_vtab *p, sqlite3_value **argv){
  sqlite3_value *pContent = argv[2+INDEX_CONTENT];
  sqlite3_value *pVector = argv[2+INDEX_VECTOR];
  int bContentSet = !sqlite3_value_nochange(pContent);
  int bVectorSet = !sqlite3_value_nochange(pVector);
  sqlite3_value *pOldContent = 0;  /* sqlite3_value_dup()'d */
  sqlite3_stmt *pStmt = 0, *pContentStmt = 0;
  sqlite3_int64 iOld = sqlite3_value_int64(argv[0]), iNew = 0;
  int bReplace = 0;
  EmbVec vec;
  float *aOwn = 0;
  const uint8_t *aVec = 0;       /* the new vector, or NULL: unchanged */
  int rc;

  memset(&vec, 0, sizeof(vec));
  rc = indexRowidArg(p, argv[1], &iNew);
  if( rc==SQLITE_OK ){
    if( bVectorSet && sqlite3_value_type(pVector)!=SQLITE_NULL ){
      rc = indexRowVector(p, 0, pVector, &vec, &aOwn, &aVec);
    }else if( bVectorSet ){
      /* vector = NULL: embed the content, new or stored. */
      if( !bContentSet && p->bStoreContent ){
        rc = indexStmt(p, STMT_DATA_CONTENT, &pContentStmt);
        if( rc==SQLITE_OK ){
          sqlite3_bind_int64(pContentStmt, 1, iOld);
          if( sqlite3_step(pContentStmt)==SQLITE_ROW ){
            pOldContent = sqlite3_value_dup(sqlite3_column_value(pContentStmt,
                                                                 0));
            if( pOldContent==0 ) rc = SQLITE_NOMEM;
          }
          sqlite3_reset(pContentStmt);
        }
      }
      if( rc==SQLITE_OK ){
        rc = indexRowVector(p, bContentSet ? pContent : pOldContent, 0, &vec,
                            &aOwn, &aVec);
      }
    }else if( bContentSet && p->zModel
           && sqlite3_value_type(pContent)!=SQLITE_NULL ){
      rc = indexRowVector(p, pContent, 0, &vec, &aOwn, &aVec);
    }
  }
  if( rc==SQLITE_OK && iNew!=iOld ){
    rc = indexExists(p, iNew, &bReplace);
    if( rc==SQLITE_OK && bReplace
     && sqlite3_vtab_on_conflict(p->db)!=SQLITE_REPLACE ){
      rc = indexDuplicate(p, iNew);
    }
  }
  /* Every check is done: from here on, changes. */
  if( rc==SQLITE_OK ) rc = indexWriteBegin(p);
  if( rc==SQLITE_OK && bReplace ) rc = indexDeleteRow(p, iNew);
  if( rc==SQLITE_OK ) rc = indexStmt(p, STMT_DATA_UPDATE, &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iNew);
    if( aVec ) sqlite3_bind_blob(pStmt, 2, aVec, p->nDims*4, SQLITE_STATIC);
    if( bContentSet && p->bStoreContent ) sqlite3_bind_value(pStmt, 3, pContent);
    sqlite3_bind_int(pStmt, 4, bContentSet);
    sqlite3_bind_int64(pStmt, 5, iOld);
    rc = indexStmtRun(p, pStmt);
  }
  if( rc==SQLITE_OK && iNew!=iOld ){
    if( p->eQuant==INDEX_QUANT_BINARY ){
      rc = indexStmt(p, aVec ? STMT_CODE_DELETE : STMT_CODE_MOVE, &pStmt);
      if( rc==SQLITE_OK ){
        if( aVec ){
          sqlite3_bind_int64(pStmt, 1, iOld);
        }else{
          sqlite3_bind_int64(pStmt, 1, iNew);
          sqlite3_bind_int64(pStmt, 2, iOld);
        }
        rc = indexStmtRun(p, pStmt);
      }
    }
    if( rc==SQLITE_OK && p->pCache && cacheRekey(p->pCache, iOld, iNew) ){
      indexCacheDrop(p);
    }
  }
  if( rc==SQLITE_OK && aVec ) rc = indexPutCode(p, iNew, aVec);
  embVecClear(&vec);
  sqlite3_free(aOwn);
  sqlite3_value_free(pOldContent);
  return rc;
}

static int indexUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                       sqlite_int64 *pRowid){
  index_vtab *p = (index_vtab*)pVtab;
  int rc;
  if( argc==1 ){
    rc = indexWriteBegin(p);
    if( rc==SQLITE_OK ) rc = indexDeleteRow(p, sqlite3_value_int64(argv[0]));
    return rc;
  }
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ){
    return indexInsert(p, argv, pRowid);
  }
  return indexUpdateRow(p, argv);
}

/* ------------------------------------------------------------------------
** Search
*/

/* a comes before b: nearer, or as near with a smaller rowid. */
static int hitBefore(const IndexHit *a, const IndexHit *b){
  return a->d<b->d || (a->d==b->d && a->iRowid<b->iRowid);
}

static int hitCompare(const void *a, const void *b){
  return hitBefore((const IndexHit*)a, (const IndexHit*)b) ? -1 :
         hitBefore((const IndexHit*)b, (const IndexHit*)a) ? 1 : 0;
}

static int hitRowidCompare(const void *a, const void *b){
  sqlite3_int64 x = ((const IndexHit*)a)->iRowid;
  sqlite3_int64 y = ((const IndexHit*)b)->iRowid;
  return x<y ? -1 : x>y;
}

/* A bounded max-heap of the nMax nearest hits offered: a[0] is the
** farthest kept. */
typedef struct IndexHeap IndexHeap;
struct IndexHeap {
  IndexHit *a;
  int n, nMax;
};

static void heapOffer(IndexHeap *h, double d, sqlite3_int64 iRowid){
  IndexHit x;
  int i;
  x.d = d;
  x.iRowid = iRowid;
  if( h->n<h->nMax ){
    for(i=h->n++; i>0; ){
      int iParent = (i-1)/2;
      if( !hitBefore(&h->a[iParent], &x) ) break;
      h->a[i] = h->a[iParent];
      i = iParent;
    }
    h->a[i] = x;
  }else if( h->nMax>0 && hitBefore(&x, &h->a[0]) ){
    for(i=0;;){
      int iChild = 2*i+1;
      if( iChild>=h->n ) break;
      if( iChild+1<h->n && hitBefore(&h->a[iChild], &h->a[iChild+1]) ){
        iChild++;
      }
      if( !hitBefore(&x, &h->a[iChild]) ) break;
      h->a[i] = h->a[iChild];
      i = iChild;
    }
    h->a[i] = x;
  }
}

/* What a MATCH query asks for besides the vector. */
typedef struct IndexQuery IndexQuery;
struct IndexQuery {
  const uint8_t *aQ;         /* the query vector, nDims floats */
  int nK;
  int eMax;                  /* 0, or the distance bound: 1 '<', 2 '<=' */
  double rMax;
  sqlite3_int64 *aRowid;     /* rowid = / IN filter, sorted, or NULL */
  int nRowid;
};

static int queryAllows(const IndexQuery *q, double d){
  return q->eMax==0 || d<q->rMax || (q->eMax==2 && d==q->rMax);
}

/* Offer row iPos of the cache to pCand by Hamming distance from aCode. */
static void offerHamming(const EmbKernels *pK, const IndexCache *c,
                         const uint8_t *aCode, uint32_t iPos,
                         IndexHeap *pCand){
  uint64_t h = pK->xHamming(aCode, c->aCode + c->nStride*(size_t)iPos,
                            c->nStride);
  heapOffer(pCand, (double)h, c->aRowid[iPos]);
}

/* Offer row iPos of the cache (quant=none: a float vector) to pHeap by
** exact distance. */
static void offerExact(const EmbKernels *pK, const IndexCache *c,
                       const IndexQuery *q, int nDims, uint32_t iPos,
                       IndexHeap *pHeap){
  double d;
  if( vecDistance(pK, q->aQ, c->aCode + c->nStride*(size_t)iPos,
                  (size_t)nDims, &d) && queryAllows(q, d) ){
    heapOffer(pHeap, d, c->aRowid[iPos]);
  }
}

/* quant=binary: the nCand rows whose codes are nearest the query's. */
static int searchCandidates(index_vtab *p, const IndexQuery *q,
                            IndexHeap *pCand){
  const EmbKernels *pK = embKernels();
  const IndexCache *c = p->pCache;
  uint8_t *aCode = sqlite3_malloc64(c->nStride);
  uint32_t aDist[INDEX_BLOCK];
  uint32_t i, j;
  if( aCode==0 ) return SQLITE_NOMEM;
  memset(aCode, 0, c->nStride);
  embBquant(q->aQ, (size_t)p->nDims, aCode);
  if( q->aRowid ){
    int iR;
    for(iR=0; iR<q->nRowid; iR++){
      sqlite3_int64 iPos = cacheFind(c, q->aRowid[iR]);
      if( iPos>=0 ) offerHamming(pK, c, aCode, (uint32_t)iPos, pCand);
    }
  }else{
    /* Once the heap is full, a row must beat its farthest entry, hMax
    ** (and, at an equal distance, its rowid): almost every row fails
    ** that first comparison. */
    uint32_t hMax = UINT32_MAX;
    sqlite3_int64 iMaxRowid = LARGEST_INT64;
    for(i=0; i<c->nRow; i+=INDEX_BLOCK){
      uint32_t n = c->nRow - i < INDEX_BLOCK ? c->nRow - i : INDEX_BLOCK;
      const sqlite3_int64 *aRowid = c->aRowid + i;
      pK->xHammingMany(aCode, c->aCode + c->nStride*(size_t)i, c->nStride,
                       c->nStride, n, aDist);
      for(j=0; j<n; j++){
        if( aDist[j]>hMax ) continue;
        if( aDist[j]==hMax && aRowid[j]>iMaxRowid ) continue;
        heapOffer(pCand, (double)aDist[j], aRowid[j]);
        if( pCand->n==pCand->nMax ){
          hMax = (uint32_t)pCand->a[0].d;
          iMaxRowid = pCand->a[0].iRowid;
        }
      }
    }
  }
  sqlite3_free(aCode);
  return SQLITE_OK;
}

/* Re-rank the candidates by exact distance on their stored vectors (the
** candidates' order is lost). */
static int searchRerank(index_vtab *p, const IndexQuery *q,
                        IndexHeap *pCand, IndexHeap *pHeap){
  const EmbKernels *pK = embKernels();
  sqlite3_stmt *pStmt;
  int i, rc = indexStmt(p, STMT_DATA_VECTOR, &pStmt);
  /* In rowid order, the lookups walk the b-tree forwards, touching each
  ** page once. */
  qsort(pCand->a, (size_t)pCand->n, sizeof(IndexHit), hitRowidCompare);
  for(i=0; rc==SQLITE_OK && i<pCand->n; i++){
    sqlite3_int64 iRowid = pCand->a[i].iRowid;
    sqlite3_bind_int64(pStmt, 1, iRowid);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      const uint8_t *a = sqlite3_column_blob(pStmt, 0);
      int n = sqlite3_column_bytes(pStmt, 0);
      double d;
      if( n!=p->nDims*4 ){
        sqlite3_reset(pStmt);
        return indexCorrupt(p, "data", iRowid, "vector", n, p->nDims*4);
      }
      if( vecDistance(pK, q->aQ, a, (size_t)p->nDims, &d)
       && queryAllows(q, d) ){
        heapOffer(pHeap, d, iRowid);
      }
    }
    rc = sqlite3_reset(pStmt);
    if( rc ) rc = indexSqlError(p, rc);
  }
  return rc;
}

/* Run query q: set *paHit to the results (sqlite3_malloc'd, nearest first;
** the caller frees it) and *pnHit to their count. */
static int indexSearch(index_vtab *p, const IndexQuery *q, IndexHit **paHit,
                       int *pnHit){
  const EmbKernels *pK = embKernels();
  IndexHeap heap, cand;
  const IndexCache *c;
  uint32_t i;
  int rc = indexCacheReady(p);
  *paHit = 0;
  *pnHit = 0;
  if( rc ) return rc;
  c = p->pCache;
  memset(&heap, 0, sizeof(heap));
  memset(&cand, 0, sizeof(cand));
  heap.nMax = q->nK < (sqlite3_int64)c->nRow ? q->nK : (int)c->nRow;
  if( q->aRowid && heap.nMax>q->nRowid ) heap.nMax = q->nRowid;
  if( heap.nMax==0 ) return SQLITE_OK;
  heap.a = sqlite3_malloc64(sizeof(IndexHit)*(size_t)heap.nMax);
  if( heap.a==0 ) return SQLITE_NOMEM;
  if( p->eQuant==INDEX_QUANT_NONE ){
    if( q->aRowid ){
      int iR;
      for(iR=0; iR<q->nRowid; iR++){
        sqlite3_int64 iPos = cacheFind(c, q->aRowid[iR]);
        if( iPos>=0 ) offerExact(pK, c, q, p->nDims, (uint32_t)iPos, &heap);
      }
    }else{
      for(i=0; i<c->nRow; i++) offerExact(pK, c, q, p->nDims, i, &heap);
    }
  }else{
    sqlite3_int64 nCand = (sqlite3_int64)q->nK * p->nOversample;
    if( p->bAutoOversample ){
      /* As a table grows, more rows crowd within the codes' noise of the
      ** true neighbours: on 1M clustered vectors of 256 dims, 160
      ** candidates held 66% of the top-10, 640 held 99% (bench/INDEX.md).
      ** At least sqrt(rows) candidates keeps up with that, at a re-rank
      ** cost that stays small beside the scan (1,000 lookups for 1M). */
      sqlite3_int64 nMin = (sqlite3_int64)ceil(sqrt((double)c->nRow));
      if( nCand<nMin ) nCand = nMin;
    }
    if( nCand>(sqlite3_int64)c->nRow ) nCand = c->nRow;
    if( q->aRowid && nCand>q->nRowid ) nCand = q->nRowid;
    cand.nMax = (int)nCand;
    cand.a = sqlite3_malloc64(sizeof(IndexHit)*(size_t)nCand);
    if( cand.a==0 ) rc = SQLITE_NOMEM;
    if( rc==SQLITE_OK ) rc = searchCandidates(p, q, &cand);
    if( rc==SQLITE_OK ) rc = searchRerank(p, q, &cand, &heap);
    sqlite3_free(cand.a);
  }
  if( rc ){
    sqlite3_free(heap.a);
    return rc;
  }
  qsort(heap.a, (size_t)heap.n, sizeof(IndexHit), hitCompare);
  *paHit = heap.a;
  *pnHit = heap.n;
  return SQLITE_OK;
}

/* ------------------------------------------------------------------------
** Options, shadow tables, xCreate and xConnect
*/

/* Parse the decimal integer z (digits only) into *piOut within
** [iMin, iMax].  Returns 0 on success. */
static int parseInt(const char *z, int iMin, int iMax, int *piOut){
  sqlite3_int64 v = 0;
  int i;
  if( z[0]==0 ) return 1;
  for(i=0; z[i]; i++){
    if( z[i]<'0' || z[i]>'9' ) return 1;
    v = v*10 + (z[i]-'0');
    if( v>iMax ) return 1;
  }
  if( v<iMin ) return 1;
  *piOut = (int)v;
  return 0;
}

/*
** The default oversampling for quant=binary codes of nDims bits: how many
** times k the candidates re-ranked exactly must be for recall@10 of 0.95
** against exact search.  Sign bits of fewer dimensions agree less with
** cosine order, so the factor needed grows fast as dims fall.  Measured
** (bench/index.c recall, bench/INDEX.md) on 36,618 real sentences (STS-B,
** WikiText-2, Banking77) embedded by the default model at 32, 64 and 100
** dims, recall@10 reaches 0.95 at oversample ~240, ~105 and ~45.
** 64 * (100/dims)^1.5 lies above all three (354, 125, 64: recall 0.97 or
** more there), leaving a margin for tables larger than the measured one,
** whose recall at a given oversample is lower; it gives 45 at 128 dims and
** 16 at 256, where SPEC's reference run found "far less" than 50 needed,
** and never less than 8.  The cost is small: each candidate is one rowid
** lookup (~1 us), against a scan of all codes.
*/
int embIndexDefaultOversample(int nDims){
  double r = 64.0 * pow(100.0/nDims, 1.5);
  if( r<8.0 ) r = 8.0;
  if( r>INDEX_MAX_OVERSAMPLE ) r = INDEX_MAX_OVERSAMPLE;
  return (int)ceil(r);
}

/* The options of CREATE VIRTUAL TABLE, as given. */
typedef struct IndexOptions IndexOptions;
struct IndexOptions {
  char *azValue[5];          /* sqlite3_malloc'd, NULL when not given */
};
static const char *const azOption[5] = {
  "model", "dims", "quant", "oversample", "store_content"
};
#define OPT_MODEL         0
#define OPT_DIMS          1
#define OPT_QUANT         2
#define OPT_OVERSAMPLE    3
#define OPT_STORE_CONTENT 4

static int isSpace(char c){
  return c==' ' || c=='\t' || c=='\n' || c=='\r';
}

/* Split each argument "key = value" (the value optionally quoted) into
** pOpt.  On error returns SQLITE_ERROR with *pzErr set. */
static int optionsParse(int nArg, const char *const *azArg,
                        IndexOptions *pOpt, char **pzErr){
  int i, j;
  for(i=0; i<nArg; i++){
    const char *z = azArg[i];
    const char *zEq = strchr(z, '=');
    const char *zKey = z, *zVal;
    int nKey, nVal;
    if( zEq==0 ){
      *pzErr = sqlite3_mprintf("embed_index: options are key=value, not "
                               "'%q'", z);
      return SQLITE_ERROR;
    }
    while( isSpace(*zKey) ) zKey++;
    nKey = (int)(zEq - zKey);
    while( nKey>0 && isSpace(zKey[nKey-1]) ) nKey--;
    zVal = zEq + 1;
    while( isSpace(*zVal) ) zVal++;
    nVal = (int)strlen(zVal);
    while( nVal>0 && isSpace(zVal[nVal-1]) ) nVal--;
    if( nVal>=2 && (zVal[0]=='\'' || zVal[0]=='"') && zVal[nVal-1]==zVal[0] ){
      zVal++;
      nVal -= 2;
    }
    for(j=0; j<5; j++){
      if( (int)strlen(azOption[j])==nKey
       && sqlite3_strnicmp(zKey, azOption[j], nKey)==0 ){
        break;
      }
    }
    if( j==5 ){
      *pzErr = sqlite3_mprintf("embed_index: unknown option '%.*q' (the "
                               "options are model, dims, quant, oversample "
                               "and store_content)", nKey, zKey);
      return SQLITE_ERROR;
    }
    if( pOpt->azValue[j] ){
      *pzErr = sqlite3_mprintf("embed_index: option %s is given twice",
                               azOption[j]);
      return SQLITE_ERROR;
    }
    pOpt->azValue[j] = sqlite3_mprintf("%.*s", nVal, zVal);
    if( pOpt->azValue[j]==0 ) return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

/* Resolve the options of a new index into p: check each value, find the
** model and fill in the defaults. */
static int optionsApply(index_vtab *p, IndexOptions *pOpt, char **pzErr){
  const char *zModel = pOpt->azValue[OPT_MODEL];
  const char *z;
  EmbModel *pModel;
  if( zModel && zModel[0]==0 ){
    *pzErr = sqlite3_mprintf("embed_index: model= needs a model name");
    return SQLITE_ERROR;
  }
  if( (z = pOpt->azValue[OPT_DIMS])!=0
   && parseInt(z, 1, INDEX_MAX_DIMS, &p->nDims) ){
    *pzErr = sqlite3_mprintf("embed_index: dims must be an integer from 1 to "
                             "%d, not '%q'", INDEX_MAX_DIMS, z);
    return SQLITE_ERROR;
  }
  p->eQuant = INDEX_QUANT_BINARY;
  if( (z = pOpt->azValue[OPT_QUANT])!=0 ){
    if( sqlite3_stricmp(z, "none")==0 ){
      p->eQuant = INDEX_QUANT_NONE;
    }else if( sqlite3_stricmp(z, "binary")!=0 ){
      *pzErr = sqlite3_mprintf("embed_index: quant must be binary or none, "
                               "not '%q'", z);
      return SQLITE_ERROR;
    }
  }
  if( (z = pOpt->azValue[OPT_OVERSAMPLE])!=0
   && parseInt(z, 1, INDEX_MAX_OVERSAMPLE, &p->nOversample) ){
    *pzErr = sqlite3_mprintf("embed_index: oversample must be an integer from "
                             "1 to %d, not '%q'", INDEX_MAX_OVERSAMPLE, z);
    return SQLITE_ERROR;
  }
  p->bStoreContent = 1;
  if( (z = pOpt->azValue[OPT_STORE_CONTENT])!=0 ){
    if( strcmp(z, "0")==0 ){
      p->bStoreContent = 0;
    }else if( strcmp(z, "1")!=0 ){
      *pzErr = sqlite3_mprintf("embed_index: store_content must be 0 or 1, "
                               "not '%q'", z);
      return SQLITE_ERROR;
    }
  }
  pModel = embConnFind(p->pConn, zModel ? zModel : "default");
  if( pModel==0 ){
    char *zWhy = embConnMissingModel(p->pConn, zModel ? zModel : "default");
    if( zWhy==0 ) return SQLITE_NOMEM;
    if( zModel ){
      *pzErr = sqlite3_mprintf("embed_index: %s", zWhy);
    }else if( p->nDims==0 ){
      *pzErr = sqlite3_mprintf("embed_index: %s; give model=NAME, or dims=N "
                               "for an index of vectors only", zWhy);
    }
    sqlite3_free(zWhy);
    if( zModel || p->nDims==0 ) return SQLITE_ERROR;
  }else if( p->nDims==0 || p->nDims<=pModel->nDims ){
    if( p->nDims==0 ) p->nDims = pModel->nDims;
    p->zModel = sqlite3_mprintf("%s", zModel ? zModel : "default");
    if( p->zModel==0 ) return SQLITE_NOMEM;
  }
  /* else more dims than the model has: vectors only (zModel NULL) */
  if( p->nOversample==0 ){
    p->bAutoOversample = 1;
    p->nOversample = embIndexDefaultOversample(p->nDims);
  }
  return SQLITE_OK;
}

/* Create the shadow tables and write the configuration. */
static int indexCreateShadow(index_vtab *p, char **pzErr){
  sqlite3_str *pSql = sqlite3_str_new(p->db);
  char *zSql, *zErr = 0;
  char zOversample[16] = "'auto'";
  int rc;
  if( !p->bAutoOversample ){
    sqlite3_snprintf(sizeof(zOversample), zOversample, "%d", p->nOversample);
  }
  sqlite3_str_appendf(pSql,
      "CREATE TABLE \"%w\".\"%w_config\"(key TEXT PRIMARY KEY, value) "
        "WITHOUT ROWID;"
      "CREATE TABLE \"%w\".\"%w_data\"(id INTEGER PRIMARY KEY, "
        "vector BLOB NOT NULL, content);",
      p->zDb, p->zName, p->zDb, p->zName);
  if( p->eQuant==INDEX_QUANT_BINARY ){
    sqlite3_str_appendf(pSql, "CREATE TABLE \"%w\".\"%w_code\"(id INTEGER "
                        "PRIMARY KEY, code BLOB NOT NULL);", p->zDb, p->zName);
  }
  sqlite3_str_appendf(pSql,
      "INSERT INTO \"%w\".\"%w_config\"(key, value) VALUES "
        "('format', %d), ('model', %Q), ('dims', %d), ('quant', %Q), "
        "('oversample', %s), ('store_content', %d), ('generation', 0);",
      p->zDb, p->zName, INDEX_FORMAT, p->zModel, p->nDims,
      p->eQuant==INDEX_QUANT_BINARY ? "binary" : "none", zOversample,
      p->bStoreContent);
  zSql = sqlite3_str_finish(pSql);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_exec(p->db, zSql, 0, 0, &zErr);
  sqlite3_free(zSql);
  if( rc ){
    *pzErr = sqlite3_mprintf("embed_index: cannot create the shadow tables "
                             "of '%q': %s", p->zName,
                             zErr ? zErr : sqlite3_errstr(rc));
    sqlite3_free(zErr);
  }
  return rc;
}

/* Read the configuration of an existing index from NAME_config. */
static int indexLoadConfig(index_vtab *p, char **pzErr){
  char *zSql = sqlite3_mprintf("SELECT key, value FROM \"%w\".\"%w_config\"",
                               p->zDb, p->zName);
  sqlite3_stmt *pStmt = 0;
  int rc, nSeen = 0, iFormat = 0;
  const char *zBad = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc ){
    *pzErr = sqlite3_mprintf("embed_index: cannot read the configuration of "
                             "'%q': %s", p->zName, sqlite3_errmsg(p->db));
    return rc;
  }
  while( zBad==0 && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zKey = (const char*)sqlite3_column_text(pStmt, 0);
    const char *zVal = (const char*)sqlite3_column_text(pStmt, 1);
    if( zKey==0 ) continue;
    if( strcmp(zKey, "format")==0 ){
      if( zVal==0 || parseInt(zVal, 1, 1000, &iFormat) ) zBad = zKey;
      nSeen |= 1;
    }else if( strcmp(zKey, "model")==0 ){
      if( zVal ){
        p->zModel = sqlite3_mprintf("%s", zVal);
        if( p->zModel==0 ){ rc = SQLITE_NOMEM; break; }
      }
    }else if( strcmp(zKey, "dims")==0 ){
      if( zVal==0 || parseInt(zVal, 1, INDEX_MAX_DIMS, &p->nDims) ) zBad = zKey;
      nSeen |= 2;
    }else if( strcmp(zKey, "quant")==0 ){
      if( zVal && strcmp(zVal, "binary")==0 ){
        p->eQuant = INDEX_QUANT_BINARY;
      }else if( zVal && strcmp(zVal, "none")==0 ){
        p->eQuant = INDEX_QUANT_NONE;
      }else{
        zBad = zKey;
      }
      nSeen |= 4;
    }else if( strcmp(zKey, "oversample")==0 ){
      if( zVal && strcmp(zVal, "auto")==0 ){
        p->bAutoOversample = 1;
      }else if( zVal==0
             || parseInt(zVal, 1, INDEX_MAX_OVERSAMPLE, &p->nOversample) ){
        zBad = zKey;
      }
      nSeen |= 8;
    }else if( strcmp(zKey, "store_content")==0 ){
      if( zVal==0 || parseInt(zVal, 0, 1, &p->bStoreContent) ) zBad = zKey;
      nSeen |= 16;
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
  else sqlite3_finalize(pStmt);
  if( rc ){
    if( rc!=SQLITE_NOMEM ){
      *pzErr = sqlite3_mprintf("embed_index: cannot read the configuration "
                               "of '%q': %s", p->zName, sqlite3_errmsg(p->db));
    }
    return rc;
  }
  if( zBad==0 && nSeen!=31 ) zBad = "a missing key";
  if( p->bAutoOversample ) p->nOversample = embIndexDefaultOversample(p->nDims);
  if( zBad==0 && iFormat!=INDEX_FORMAT ){
    *pzErr = sqlite3_mprintf("embed_index: '%q' is in format %d; this version "
                             "reads format %d", p->zName, iFormat,
                             INDEX_FORMAT);
    return SQLITE_ERROR;
  }
  if( zBad ){
    *pzErr = sqlite3_mprintf("embed_index: shadow table '%q_config' is "
                             "corrupt: bad %s", p->zName, zBad);
    return SQLITE_CORRUPT_VTAB;
  }
  return SQLITE_OK;
}

static void indexFree(index_vtab *p){
  int i;
  if( p==0 ) return;
  for(i=0; i<INDEX_NSTMT; i++) sqlite3_finalize(p->aStmt[i]);
  cacheFree(p->pCache);
  sqlite3_free(p->zDb);
  sqlite3_free(p->zName);
  sqlite3_free(p->zModel);
  embConnUnref(p->pConn);
  sqlite3_free(p);
}

/*
** xCreate (isCreate) and xConnect.  argv[1] is the schema, argv[2] the
** table name, argv[3..] the options.  A new index resolves its options and
** writes them to NAME_config; an existing one reads them back from there,
** so a default taken from a model stays what it was at CREATE time.
*/
static int indexInit(sqlite3 *db, void *pAux, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr, int isCreate){
  static const char *const azReserved[] = {
    "content", "vector", "distance", "k", "rowid", "oid", "_rowid_"
  };
  index_vtab *p;
  IndexOptions opt;
  char *zDecl;
  int rc = SQLITE_OK;
  size_t i;
  *ppVtab = 0;
  for(i=0; i<sizeof(azReserved)/sizeof(azReserved[0]); i++){
    if( sqlite3_stricmp(argv[2], azReserved[i])==0 ){
      *pzErr = sqlite3_mprintf("embed_index: a table named '%q' would clash "
                               "with its column %s", argv[2], azReserved[i]);
      return SQLITE_ERROR;
    }
  }
  p = sqlite3_malloc64(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->db = db;
  p->pConn = (EmbConn*)pAux;
  embConnRef(p->pConn);
  p->zDb = sqlite3_mprintf("%s", argv[1]);
  p->zName = sqlite3_mprintf("%s", argv[2]);
  if( p->zDb==0 || p->zName==0 ){
    indexFree(p);
    return SQLITE_NOMEM;
  }
  if( isCreate ){
    memset(&opt, 0, sizeof(opt));
    rc = optionsParse(argc-3, argv+3, &opt, pzErr);
    if( rc==SQLITE_OK ) rc = optionsApply(p, &opt, pzErr);
    for(i=0; i<5; i++) sqlite3_free(opt.azValue[i]);
    if( rc==SQLITE_OK ) rc = indexCreateShadow(p, pzErr);
  }else{
    rc = indexLoadConfig(p, pzErr);
  }
  if( rc==SQLITE_OK ){
    zDecl = sqlite3_mprintf("CREATE TABLE x(content, vector BLOB, "
                            "distance REAL HIDDEN, k INTEGER HIDDEN, "
                            "\"%w\" HIDDEN)", argv[2]);
    rc = zDecl ? sqlite3_declare_vtab(db, zDecl) : SQLITE_NOMEM;
    sqlite3_free(zDecl);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  }
  if( rc ){
    indexFree(p);
    return rc;
  }
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int indexCreate(sqlite3 *db, void *pAux, int argc,
                       const char *const *argv, sqlite3_vtab **ppVtab,
                       char **pzErr){
  return indexInit(db, pAux, argc, argv, ppVtab, pzErr, 1);
}

static int indexConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr){
  return indexInit(db, pAux, argc, argv, ppVtab, pzErr, 0);
}

static int indexDisconnect(sqlite3_vtab *pVtab){
  indexFree((index_vtab*)pVtab);
  return SQLITE_OK;
}

/* DROP TABLE: the shadow tables go too. */
static int indexDestroy(sqlite3_vtab *pVtab){
  index_vtab *p = (index_vtab*)pVtab;
  char *zSql = sqlite3_mprintf(
      "DROP TABLE IF EXISTS \"%w\".\"%w_config\";"
      "DROP TABLE IF EXISTS \"%w\".\"%w_data\";"
      "DROP TABLE IF EXISTS \"%w\".\"%w_code\";",
      p->zDb, p->zName, p->zDb, p->zName, p->zDb, p->zName);
  int rc;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_exec(p->db, zSql, 0, 0, 0);
  sqlite3_free(zSql);
  if( rc ) return indexSqlError(p, rc);
  indexFree(p);
  return SQLITE_OK;
}

/* ALTER TABLE RENAME: rename the shadow tables along. */
static int indexRename(sqlite3_vtab *pVtab, const char *zNew){
  index_vtab *p = (index_vtab*)pVtab;
  sqlite3_str *pSql;
  char *zSql, *zName;
  int rc, i;
  p->pSeries = 0;            /* metrics go on under the new name */
  for(i=0; i<INDEX_NSTMT; i++){
    sqlite3_finalize(p->aStmt[i]);
    p->aStmt[i] = 0;
  }
  pSql = sqlite3_str_new(p->db);
  sqlite3_str_appendf(pSql,
      "ALTER TABLE \"%w\".\"%w_config\" RENAME TO \"%w_config\";"
      "ALTER TABLE \"%w\".\"%w_data\" RENAME TO \"%w_data\";",
      p->zDb, p->zName, zNew, p->zDb, p->zName, zNew);
  if( p->eQuant==INDEX_QUANT_BINARY ){
    sqlite3_str_appendf(pSql, "ALTER TABLE \"%w\".\"%w_code\" RENAME TO "
                        "\"%w_code\";", p->zDb, p->zName, zNew);
  }
  zSql = sqlite3_str_finish(pSql);
  zName = sqlite3_mprintf("%s", zNew);
  if( zSql==0 || zName==0 ){
    sqlite3_free(zSql);
    sqlite3_free(zName);
    return SQLITE_NOMEM;
  }
  rc = sqlite3_exec(p->db, zSql, 0, 0, 0);
  sqlite3_free(zSql);
  if( rc ){
    sqlite3_free(zName);
    return indexSqlError(p, rc);
  }
  sqlite3_free(p->zName);
  p->zName = zName;
  return SQLITE_OK;
}

static int indexShadowName(const char *zSuffix){
  return sqlite3_stricmp(zSuffix, "config")==0
      || sqlite3_stricmp(zSuffix, "data")==0
      || sqlite3_stricmp(zSuffix, "code")==0;
}

/* ------------------------------------------------------------------------
** Transactions: see "Consistency" at the top of the file.
*/

static int indexBegin(sqlite3_vtab *pVtab){
  ((index_vtab*)pVtab)->bGenBumped = 0;
  return SQLITE_OK;
}

static int indexSync(sqlite3_vtab *pVtab){
  (void)pVtab;
  return SQLITE_OK;
}

static int indexCommit(sqlite3_vtab *pVtab){
  ((index_vtab*)pVtab)->bGenBumped = 0;
  return SQLITE_OK;
}

static int indexRollback(sqlite3_vtab *pVtab){
  index_vtab *p = (index_vtab*)pVtab;
  p->bGenBumped = 0;
  indexCacheDrop(p);
  return SQLITE_OK;
}

static int indexSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  (void)pVtab; (void)iSavepoint;
  return SQLITE_OK;
}

static int indexRelease(sqlite3_vtab *pVtab, int iSavepoint){
  (void)pVtab; (void)iSavepoint;
  return SQLITE_OK;
}

static int indexRollbackTo(sqlite3_vtab *pVtab, int iSavepoint){
  (void)iSavepoint;
  return indexRollback(pVtab);
}

/* ------------------------------------------------------------------------
** Cursors
*/

static int indexOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  index_cursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  (void)pVtab;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static void cursorReset(index_cursor *pCur){
  sqlite3_free(pCur->aHit);
  pCur->aHit = 0;
  pCur->nHit = pCur->iHit = 0;
  sqlite3_finalize(pCur->pScan);
  pCur->pScan = 0;
  if( pCur->pRow ) sqlite3_reset(pCur->pRow);
  pCur->bRowLoaded = 0;
  pCur->bMatch = 0;
  pCur->bEof = 1;
}

static int indexClose(sqlite3_vtab_cursor *cur){
  index_cursor *pCur = (index_cursor*)cur;
  cursorReset(pCur);
  sqlite3_finalize(pCur->pRow);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

static int indexNext(sqlite3_vtab_cursor *cur){
  index_cursor *pCur = (index_cursor*)cur;
  if( pCur->bMatch ){
    pCur->iHit++;
    if( pCur->bRowLoaded ){
      sqlite3_reset(pCur->pRow);
      pCur->bRowLoaded = 0;
    }
    return SQLITE_OK;
  }
  if( sqlite3_step(pCur->pScan)!=SQLITE_ROW ){
    int rc = sqlite3_reset(pCur->pScan);
    pCur->bEof = 1;
    if( rc ) return indexSqlError((index_vtab*)cur->pVtab, rc);
  }
  return SQLITE_OK;
}

static int indexEof(sqlite3_vtab_cursor *cur){
  index_cursor *pCur = (index_cursor*)cur;
  return pCur->bMatch ? pCur->iHit>=pCur->nHit : pCur->bEof;
}

static int indexRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid){
  index_cursor *pCur = (index_cursor*)cur;
  *pRowid = pCur->bMatch ? pCur->aHit[pCur->iHit].iRowid
                         : sqlite3_column_int64(pCur->pScan, 0);
  return SQLITE_OK;
}

static int indexColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                       int i){
  index_cursor *pCur = (index_cursor*)cur;
  index_vtab *p = (index_vtab*)cur->pVtab;
  int rc;
  switch( i ){
    case INDEX_DISTANCE:
      if( pCur->bMatch ) sqlite3_result_double(ctx, pCur->aHit[pCur->iHit].d);
      return SQLITE_OK;
    case INDEX_K:
      if( pCur->bMatch ) sqlite3_result_int64(ctx, pCur->iK);
      return SQLITE_OK;
    case INDEX_TABLE:
      return SQLITE_OK;
  }
  /* content or vector; an UPDATE that leaves them as they are need not
  ** read them. */
  if( sqlite3_vtab_nochange(ctx) ) return SQLITE_OK;
  if( !pCur->bMatch ){
    sqlite3_result_value(ctx, sqlite3_column_value(pCur->pScan,
                                                   i==INDEX_VECTOR ? 1 : 2));
    return SQLITE_OK;
  }
  if( !pCur->bRowLoaded ){
    if( pCur->pRow==0 ){
      char *zSql = sqlite3_mprintf("SELECT vector, content FROM "
                                   "\"%w\".\"%w_data\" WHERE id=?1",
                                   p->zDb, p->zName);
      if( zSql==0 ) return SQLITE_NOMEM;
      rc = sqlite3_prepare_v2(p->db, zSql, -1, &pCur->pRow, 0);
      sqlite3_free(zSql);
      if( rc ) return indexSqlError(p, rc);
    }
    sqlite3_bind_int64(pCur->pRow, 1, pCur->aHit[pCur->iHit].iRowid);
    if( sqlite3_step(pCur->pRow)!=SQLITE_ROW ){
      rc = sqlite3_reset(pCur->pRow);
      if( rc ) return indexSqlError(p, rc);
      return SQLITE_OK;     /* deleted since the search: NULL */
    }
    pCur->bRowLoaded = 1;
  }
  sqlite3_result_value(ctx, sqlite3_column_value(pCur->pRow,
                                                 i==INDEX_VECTOR ? 0 : 1));
  return SQLITE_OK;
}

/*
** Query plans.  idxNum bits, and the argv order of xFilter:
**
**   INDEX_PLAN_MATCH   0x01  argv[0] the MATCH value: text to embed, or a
**                                    vector (float32 BLOB, JSON array)
**                            argv[1] k (required with MATCH)
**   INDEX_PLAN_LT      0x02  argv[n] the bound of distance < x
**   INDEX_PLAN_LE      0x04  argv[n] the bound of distance <= x
**   INDEX_PLAN_ROWID   0x08  argv[n] rowid = x (last)
**   INDEX_PLAN_ROWIDIN 0x10  with ROWID: argv[n] is the whole list of
**                                    rowid IN (...), read with
**                                    sqlite3_vtab_in_first()/_next()
**
**   INDEX_PLAN_NEED_K, _NEED_MATCH_K, _NEED_MATCH_D   a query that
**                            cannot run (MATCH without k; k, or a bound on
**                            distance, without MATCH): xFilter fails with
**                            a message saying what is missing
**
** With MATCH the other constraints filter inside the search; the results
** come nearest first, so ORDER BY distance is consumed.  Without MATCH,
** ROWID looks up one row and no bits scan every row in rowid order.
** MATCH on the table's hidden column, on content or on vector all mean
** the same.
*/
#define INDEX_PLAN_MATCH   0x01
#define INDEX_PLAN_LT      0x02
#define INDEX_PLAN_LE      0x04
#define INDEX_PLAN_ROWID   0x08
#define INDEX_PLAN_ROWIDIN 0x10
#define INDEX_PLAN_NEED_K        0x20   /* errors: MATCH without k */
#define INDEX_PLAN_NEED_MATCH_K  0x40   /*   k without MATCH */
#define INDEX_PLAN_NEED_MATCH_D  0x80   /*   distance < x without MATCH */

/* sqlite3_vtab_in() and sqlite3_vtab_rhs_value() are SQLite 3.38 on. */
#if SQLITE_VERSION_NUMBER>=3038000
# define INDEX_HAVE_VTAB_IN 1
#else
# define INDEX_HAVE_VTAB_IN 0
#endif

static int indexBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  int iMatch = -1, iK = -1, iDist = -1, iRowid = -1;
  int bMatch = 0, bK = 0, bDist = 0;
  int i, nArg = 0, idxNum = 0;
  (void)pVtab;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    if( pC->op==SQLITE_INDEX_CONSTRAINT_MATCH
     && (pC->iColumn==INDEX_TABLE || pC->iColumn==INDEX_CONTENT
         || pC->iColumn==INDEX_VECTOR) ){
      bMatch = 1;
      if( pC->usable && iMatch<0 ) iMatch = i;
    }else if( pC->iColumn==INDEX_K && pC->op==SQLITE_INDEX_CONSTRAINT_EQ ){
      bK = 1;
      if( pC->usable && iK<0 ) iK = i;
    }else if( pC->iColumn==INDEX_DISTANCE
           && (pC->op==SQLITE_INDEX_CONSTRAINT_LT
               || pC->op==SQLITE_INDEX_CONSTRAINT_LE) ){
      bDist = 1;
      if( pC->usable && iDist<0 ) iDist = i;
    }else if( pC->iColumn<0 && pC->op==SQLITE_INDEX_CONSTRAINT_EQ
           && pC->usable && iRowid<0 ){
      iRowid = i;
    }
  }
  if( (bMatch && !bK) || (!bMatch && (bK || bDist)) ){
    /* A query that cannot run.  Failing here would fail queries that have
    ** a good plan too, as SQLite also asks about single terms of an OR;
    ** instead offer a plan dearer than any other, which fails in xFilter
    ** with a message saying what is missing.  A MATCH is consumed either
    ** way, since SQLite cannot evaluate one itself. */
    if( bMatch && iMatch<0 ) return SQLITE_CONSTRAINT;
    idxNum = bMatch ? INDEX_PLAN_NEED_K
                    : bK ? INDEX_PLAN_NEED_MATCH_K : INDEX_PLAN_NEED_MATCH_D;
    if( iMatch>=0 ){
      pInfo->aConstraintUsage[iMatch].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iMatch].omit = 1;
    }
    pInfo->estimatedCost = 1e15;
    pInfo->estimatedRows = 1000000000;
    pInfo->idxNum = idxNum;
    return SQLITE_OK;
  }
  if( bMatch ){
    /* Not usable in this order of the join: let SQLite try another. */
    if( iMatch<0 || iK<0 ) return SQLITE_CONSTRAINT;
    idxNum = INDEX_PLAN_MATCH;
    pInfo->aConstraintUsage[iMatch].argvIndex = ++nArg;
    pInfo->aConstraintUsage[iMatch].omit = 1;
    pInfo->aConstraintUsage[iK].argvIndex = ++nArg;
    pInfo->aConstraintUsage[iK].omit = 1;
    if( iDist>=0 ){
      idxNum |= pInfo->aConstraint[iDist].op==SQLITE_INDEX_CONSTRAINT_LT
                  ? INDEX_PLAN_LT : INDEX_PLAN_LE;
      pInfo->aConstraintUsage[iDist].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iDist].omit = 1;
    }
    if( iRowid>=0 ){
      idxNum |= INDEX_PLAN_ROWID;
      pInfo->aConstraintUsage[iRowid].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iRowid].omit = 1;
#if INDEX_HAVE_VTAB_IN
      if( sqlite3_libversion_number()>=3038000
       && sqlite3_vtab_in(pInfo, iRowid, -1) ){
        sqlite3_vtab_in(pInfo, iRowid, 1);
        idxNum |= INDEX_PLAN_ROWIDIN;
      }
#endif
    }
    /* The cheapest plan there is: a MATCH can run no other way, and
    ** SQLite must not prefer, say, an OR of rowid lookups that leaves the
    ** MATCH to itself. */
    pInfo->estimatedCost = 1.0;
    pInfo->estimatedRows = 10;
#if INDEX_HAVE_VTAB_IN
    if( sqlite3_libversion_number()>=3038000 ){
      sqlite3_value *pK = 0;
      if( sqlite3_vtab_rhs_value(pInfo, iK, &pK)==SQLITE_OK && pK
       && sqlite3_value_type(pK)==SQLITE_INTEGER ){
        sqlite3_int64 k = sqlite3_value_int64(pK);
        if( k>=1 && k<=INDEX_MAX_K ) pInfo->estimatedRows = k;
      }
    }
#endif
    if( pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn==INDEX_DISTANCE
     && !pInfo->aOrderBy[0].desc ){
      pInfo->orderByConsumed = 1;
    }
  }else if( iRowid>=0 ){
    idxNum = INDEX_PLAN_ROWID;
    pInfo->aConstraintUsage[iRowid].argvIndex = ++nArg;
    pInfo->aConstraintUsage[iRowid].omit = 1;
    pInfo->estimatedCost = 10.0;
    pInfo->estimatedRows = 1;
    pInfo->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  }else{
    pInfo->estimatedCost = 1000000.0;
    pInfo->estimatedRows = 1000000;
    if( pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn<0
     && !pInfo->aOrderBy[0].desc ){
      pInfo->orderByConsumed = 1;
    }
  }
  pInfo->idxNum = idxNum;
  return SQLITE_OK;
}

static int rowidCompare(const void *a, const void *b){
  sqlite3_int64 x = *(const sqlite3_int64*)a, y = *(const sqlite3_int64*)b;
  return x<y ? -1 : x>y;
}

/* rowid values of an = or IN constraint, sorted, duplicates removed; a
** value that is no integer matches no rowid and is left out. */
static int filterRowids(sqlite3_value *pVal, int bIn, sqlite3_int64 **paOut,
                        int *pnOut){
  sqlite3_int64 *a = 0;
  int n = 0, nAlloc = 0, i, j, rc = SQLITE_OK;
  sqlite3_value *pX = pVal;
  (void)bIn;
#if INDEX_HAVE_VTAB_IN
  if( bIn ) rc = sqlite3_vtab_in_first(pVal, &pX);
#endif
  while( rc==SQLITE_OK && pX ){
    int eType = sqlite3_value_type(pX);
    double r = eType==SQLITE_FLOAT ? sqlite3_value_double(pX) : 0.0;
    if( eType==SQLITE_INTEGER
     || (eType==SQLITE_FLOAT && r>=-9.2e18 && r<=9.2e18 && r==floor(r)) ){
      if( n>=nAlloc ){
        sqlite3_int64 *aNew;
        nAlloc = nAlloc ? nAlloc*2 : 16;
        aNew = sqlite3_realloc64(a, sizeof(sqlite3_int64)*(size_t)nAlloc);
        if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
        a = aNew;
      }
      a[n++] = eType==SQLITE_INTEGER ? sqlite3_value_int64(pX)
                                     : (sqlite3_int64)r;
    }
    pX = 0;
#if INDEX_HAVE_VTAB_IN
    if( bIn ) rc = sqlite3_vtab_in_next(pVal, &pX);
#endif
  }
  if( rc==SQLITE_DONE ) rc = SQLITE_OK;
  if( rc ){
    sqlite3_free(a);
    return rc;
  }
  if( n>1 ) qsort(a, (size_t)n, sizeof(a[0]), rowidCompare);
  for(i=j=0; i<n; i++){
    if( j==0 || a[j-1]!=a[i] ) a[j++] = a[i];
  }
  *paOut = a;
  *pnOut = j;
  return SQLITE_OK;
}

/* k from a constraint value: an integer from 1 to INDEX_MAX_K. */
static int filterK(index_vtab *p, sqlite3_value *pVal, sqlite3_int64 *piK){
  int eType = sqlite3_value_numeric_type(pVal);   /* '10' is 10 */
  if( eType==SQLITE_INTEGER || eType==SQLITE_FLOAT ){
    double r = sqlite3_value_double(pVal);
    sqlite3_int64 k = sqlite3_value_int64(pVal);
    if( eType==SQLITE_FLOAT && r!=floor(r) ){
      return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
          "embed_index: k must be an integer from 1 to %d, not %!g",
          INDEX_MAX_K, r));
    }
    if( eType==SQLITE_FLOAT && (r<1.0 || r>INDEX_MAX_K) ){
      return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
          "embed_index: k must be from 1 to %d, not %!g", INDEX_MAX_K, r));
    }
    if( k<1 || k>INDEX_MAX_K ){
      return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
          "embed_index: k must be from 1 to %d, not %lld", INDEX_MAX_K, k));
    }
    *piK = k;
    return SQLITE_OK;
  }
  return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
      "embed_index: k must be an integer from 1 to %d, not %s%q%s",
      INDEX_MAX_K, eType==SQLITE_NULL ? "" : "'",
      eType==SQLITE_NULL ? "NULL" : eType==SQLITE_BLOB ? "a blob"
                         : (const char*)sqlite3_value_text(pVal),
      eType==SQLITE_NULL ? "" : "'"));
}

/* The query vector of a MATCH value into aQ[0..nDims): a vector (BLOB,
** or text that starts with '['), else text embedded with the model.
** *pbNone is set when the value is NULL (no rows). */
static int filterQuery(index_vtab *p, sqlite3_value *pVal, float *aQ,
                       int *pbNone){
  int eType = sqlite3_value_type(pVal);
  *pbNone = 0;
  if( eType==SQLITE_NULL ){
    *pbNone = 1;
    return SQLITE_OK;
  }
  if( eType==SQLITE_TEXT ){
    const char *z = (const char*)sqlite3_value_text(pVal);
    if( z==0 ) return SQLITE_NOMEM;
    while( isSpace(*z) ) z++;
    if( *z!='[' ) return indexEmbed(p, pVal, "MATCH text", aQ);
  }else if( eType!=SQLITE_BLOB ){
    return indexEmbed(p, pVal, "a MATCH number", aQ);
  }
  {
    EmbVec vec;
    int rc = indexVector(p, pVal, "query ", &vec);
    if( rc ) return rc;
    memcpy(aQ, vec.a, sizeof(float)*(size_t)p->nDims);
    embVecClear(&vec);
  }
  return SQLITE_OK;
}

/* A MATCH: run the search and hold the results. */
static int filterMatch(index_cursor *pCur, int idxNum, int argc,
                       sqlite3_value **argv){
  index_vtab *p = (index_vtab*)pCur->base.pVtab;
  IndexQuery q;
  float *aQ;
  int iArg = 2, bNone = 0, rc;
  memset(&q, 0, sizeof(q));
  if( argc<2 ) return SQLITE_ERROR;
  rc = filterK(p, argv[1], &pCur->iK);
  if( rc ) return rc;
  q.nK = (int)pCur->iK;
  if( idxNum & (INDEX_PLAN_LT|INDEX_PLAN_LE) ){
    sqlite3_value *pMax = argv[iArg++];
    int eType = sqlite3_value_numeric_type(pMax);
    if( eType==SQLITE_NULL ) return SQLITE_OK;   /* distance < NULL */
    if( eType!=SQLITE_INTEGER && eType!=SQLITE_FLOAT ){
      return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
          "embed_index: distance can only be compared with a number, not "
          "'%q'", eType==SQLITE_BLOB ? "a blob"
                  : (const char*)sqlite3_value_text(pMax)));
    }
    q.eMax = (idxNum & INDEX_PLAN_LT) ? 1 : 2;
    q.rMax = sqlite3_value_double(pMax);
  }
  if( idxNum & INDEX_PLAN_ROWID ){
    rc = filterRowids(argv[iArg++], (idxNum & INDEX_PLAN_ROWIDIN)!=0,
                      &q.aRowid, &q.nRowid);
    if( rc ) return rc;
    if( q.nRowid==0 ){
      sqlite3_free(q.aRowid);
      return SQLITE_OK;
    }
  }
  aQ = sqlite3_malloc64(sizeof(float)*(size_t)p->nDims);
  if( aQ==0 ){
    sqlite3_free(q.aRowid);
    return SQLITE_NOMEM;
  }
  rc = filterQuery(p, argv[0], aQ, &bNone);
  if( rc==SQLITE_OK && !bNone ){
    q.aQ = (const uint8_t*)aQ;
    rc = indexSearch(p, &q, &pCur->aHit, &pCur->nHit);
  }
  sqlite3_free(aQ);
  sqlite3_free(q.aRowid);
  return rc;
}

static int indexFilter(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  index_cursor *pCur = (index_cursor*)cur;
  index_vtab *p = (index_vtab*)cur->pVtab;
  char *zSql;
  int rc;
  (void)idxStr;
  cursorReset(pCur);
  if( idxNum & INDEX_PLAN_NEED_K ){
    return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
        "embed_index: a MATCH on '%q' needs k, as in WHERE %s MATCH ... "
        "AND k = 10", p->zName, p->zName));
  }
  if( idxNum & (INDEX_PLAN_NEED_MATCH_K|INDEX_PLAN_NEED_MATCH_D) ){
    return indexError(p, SQLITE_ERROR, sqlite3_mprintf(
        "embed_index: %s on '%q' needs a MATCH, as in WHERE %s MATCH ... "
        "AND k = 10", (idxNum & INDEX_PLAN_NEED_MATCH_K) ? "k"
        : "a bound on distance", p->zName, p->zName));
  }
  if( idxNum & INDEX_PLAN_MATCH ){
    int64_t t0 = embMetricsNow();
    pCur->bMatch = 1;
    rc = filterMatch(pCur, idxNum, argc, argv);
    if( rc==SQLITE_OK ){
      if( p->pSeries==0 ){
        char zLabel[sizeof(p->pSeries->zLabel)];
        sqlite3_snprintf(sizeof(zLabel), zLabel, "%s.%s", p->zDb, p->zName);
        p->pSeries = embMetricsSeries(EMB_SERIES_INDEX, zLabel);
      }
      embMetricsQuery(p->pSeries, embMetricsNow() - t0);
    }
    return rc;
  }
  zSql = sqlite3_mprintf("SELECT id, vector, content FROM \"%w\".\"%w_data\""
                         "%s ORDER BY id", p->zDb, p->zName,
                         (idxNum & INDEX_PLAN_ROWID) ? " WHERE id=?1" : "");
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pCur->pScan, 0);
  sqlite3_free(zSql);
  if( rc ) return indexSqlError(p, rc);
  if( (idxNum & INDEX_PLAN_ROWID) && argc>0 ){
    sqlite3_bind_value(pCur->pScan, 1, argv[0]);
  }
  pCur->bEof = 0;
  return indexNext(cur);
}

/* Every method: transactions and savepoints so that the cache follows
** ROLLBACK; xShadowName so that the shadow tables are read-only to SQL in
** defensive mode (iVersion 3). */
static const sqlite3_module indexModule = {
  .iVersion      = 3,
  .xCreate       = indexCreate,
  .xConnect      = indexConnect,
  .xBestIndex    = indexBestIndex,
  .xDisconnect   = indexDisconnect,
  .xDestroy      = indexDestroy,
  .xOpen         = indexOpen,
  .xClose        = indexClose,
  .xFilter       = indexFilter,
  .xNext         = indexNext,
  .xEof          = indexEof,
  .xColumn       = indexColumn,
  .xRowid        = indexRowid,
  .xUpdate       = indexUpdate,
  .xBegin        = indexBegin,
  .xSync         = indexSync,
  .xCommit       = indexCommit,
  .xRollback     = indexRollback,
  .xRename       = indexRename,
  .xSavepoint    = indexSavepoint,
  .xRelease      = indexRelease,
  .xRollbackTo   = indexRollbackTo,
  .xShadowName   = indexShadowName,
};

int embIndexRegister(sqlite3 *db, EmbConn *pConn){
  embConnRef(pConn);
  return sqlite3_create_module_v2(db, "embed_index", &indexModule, pConn,
                                  embConnUnref);
}
