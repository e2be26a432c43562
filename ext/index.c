/*
** index.c: embed_index, a virtual table for top-k search by cosine.
**
**     CREATE VIRTUAL TABLE notes USING embed_index(model=default);
**     INSERT INTO notes(rowid, content) VALUES (1, 'the cat sat on the mat');
**     INSERT INTO notes(rowid, vector) VALUES (2, embed('a dog in the park'));
**     SELECT rowid, distance, content FROM notes
**      WHERE notes MATCH 'kitten' AND k = 10;              -- nearest first
**     SELECT rowid, distance FROM notes WHERE notes MATCH 'kitten'
**      ORDER BY distance LIMIT 10;                         -- the same
**     SELECT rowid FROM notes
**      WHERE notes MATCH '[0.5, -1, 2, 0]' AND k = 3       -- a JSON vector
**        AND rowid IN (1, 5, 9) AND distance < 0.5;        -- filters
**
** Options, all optional: model=NAME (default: default); dims=N (default:
** the model's; fewer is Matryoshka truncation; with no model, or more dims
** than the model has, the index takes vectors only); quant=binary|none;
** oversample=N (default 'auto'); store_content=1|0.
**
** This file is the virtual table itself: options and NAME_config,
** xCreate/xConnect/xDestroy/xRename, xUpdate, transactions, query plans
** and cursors.  Storage is in index_store.c (the shadow tables, the
** chunks of codes and the cache that mirrors them), the search cascade
** in index_search.c.
**
** HOW IT WORKS
** Writes.  xUpdate checks everything first (rowid, vector or content to
** embed, conflicts), then changes NAME_data and the cache's chunks, which
** index_store.c writes to the shadow tables at xSync and xSavepoint.
**
** Searches.  A MATCH with k (or ORDER BY distance LIMIT n) runs one search
** (index_search.c) and returns its rows nearest first.  What the other
** constraints mean is fixed, whatever plan SQLite picks:
**   - rowid IN (...) restricts the search to those rows (the list is read
**     whole, sqlite3_vtab_in(); SQLite 3.38 or later);
**   - rowid = x keeps x if it is among the search's k rows: the search is
**     the top k of the index, then joined.  So a join that drives the
**     index with `ON i.rowid = n.id` gives the same rows in either order:
**     the cursor keeps its last search and runs it again only when the
**     MATCH value, k or the bound change;
**   - distance < x (or <=) drops farther rows, which the top k does too.
** A query that cannot run (a MATCH without k, k without a MATCH, k given
** as a list, two MATCH terms) gets the dearest plan there is, which fails
** in xFilter with a message saying what is wrong: failing in xBestIndex
** would fail good queries too, as SQLite also asks about parts of them.
**
** A broken index.  A NAME_config that cannot be read (a bad or missing
** value, a format newer than this build's) does not stop xConnect: the
** table connects with what is wrong in zBroken, every use fails with that
** message, and DROP TABLE (or ALTER TABLE RENAME) still works.
**
** Metrics.  Each top-k query counts into embed_metrics()'s series for
** "schema.table", as do the chunks read from the shadow tables.
*/
#include "index.h"
#include "index_int.h"
#include "args.h"
#include "kernels.h"
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

/* SQLITE_INDEX_CONSTRAINT_LIMIT/OFFSET, sqlite3_vtab_in() and
** sqlite3_vtab_rhs_value() are SQLite 3.38 on: compiled in when the headers
** have them, used when the library loaded at run time does too. */
#if SQLITE_VERSION_NUMBER>=3038000
# define INDEX_HAVE_338 1
#else
# define INDEX_HAVE_338 0
#endif

/* Each SQL text takes the schema and table names as its two %w arguments. */
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
  ("SELECT id, version, cap, used, live, base FROM \"%w\".\"%w_chunks\" "
   "ORDER BY id"),
  ("INSERT INTO \"%w\".\"%w_chunks\"(id, version, cap, used, live, base) "
   "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"),
  ("UPDATE \"%w\".\"%w_chunks\" SET version=?2, cap=?3, used=?4, live=?5, "
   "base=?6 WHERE id=?1"),
  "INSERT OR REPLACE INTO \"%w\".\"%w_codes\"(id, data) VALUES(?1, ?2)",
  "INSERT OR REPLACE INTO \"%w\".\"%w_fine\"(id, data) VALUES(?1, ?2)",
};

typedef struct index_cursor index_cursor;
struct index_cursor {
  sqlite3_vtab_cursor base;
  int bMatch;                /* results of a MATCH, else a scan */
  /* MATCH: the results, nearest first, and which of them to return */
  IndexHit *aHit;
  int nHit, iHit;
  sqlite3_int64 iK;
  int bOnly;                 /* rowid = iOnly: return that row, if a hit */
  sqlite3_int64 iOnly;
  sqlite3_stmt *pRow;        /* vector, content of the current hit */
  int bRowLoaded;
  /* The last search's inputs, to reuse its hits when a join calls
  ** xFilter again with the same MATCH value, k and bound. */
  sqlite3_value *pLastMatch; /* sqlite3_value_dup()'d */
  sqlite3_int64 iLastK;
  int eLastMax;
  double rLastMax;
  sqlite3_int64 iLastGen;    /* the generation it ran at */
  sqlite3_int64 nLastWrite;  /* and the table's write count */
  IndexHit *aAll;            /* all its hits (aHit points in when bOnly) */
  int nAll;
  int bLastValid;
  /* INDEX_PLAN_STREAM: the query, kept to search again with a larger k
  ** when the reader wants more rows, and the last row returned: a new
  ** search returns only rows after it in (distance, rowid) order. */
  int bStream, bStreamEnd;
  IndexQuery sq;             /* sq.aQ and sq.aRowid owned here */
  sqlite3_int64 nStreamRows; /* rows the search can return at most */
  int bStreamAny;
  IndexHit lastOut;
  /* scan: SELECT id, vector, content FROM NAME_data ... */
  sqlite3_stmt *pScan;
  int bEof;
};

/* ------------------------------------------------------------------------
** Errors and statements
*/

int embIndexError(index_vtab *p, int rc, char *zErr){
  sqlite3_free(p->base.zErrMsg);
  /* Names and values quoted in messages come from SQL and from the file:
  ** a message is made valid UTF-8 here, once, for every error. */
  p->base.zErrMsg = embArgFixMessage(zErr);
  return p->base.zErrMsg ? rc : SQLITE_NOMEM;
}

int embIndexSqlError(index_vtab *p, int rc){
  if( rc==SQLITE_NOMEM ) return rc;
  return embIndexError(p, rc, sqlite3_mprintf("embed_index: '%q': %s",
                                              p->zName, sqlite3_errmsg(p->db)));
}

int embIndexCorrupt(index_vtab *p, const char *zTable, char *zWhat){
  int rc;
  if( zWhat==0 ) return SQLITE_NOMEM;
  rc = embIndexError(p, SQLITE_CORRUPT_VTAB, sqlite3_mprintf(
      "embed_index: shadow table '%q_%s' is corrupt: %s", p->zName, zTable,
      zWhat));
  sqlite3_free(zWhat);
  return rc;
}

int embIndexStmt(index_vtab *p, int iStmt, sqlite3_stmt **ppStmt){
  if( p->aStmt[iStmt]==0 ){
    char *zSql = sqlite3_mprintf(azStmtSql[iStmt], p->zDb, p->zName);
    int rc;
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v3(p->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                            &p->aStmt[iStmt], 0);
    sqlite3_free(zSql);
    if( rc ) return embIndexSqlError(p, rc);
  }
  *ppStmt = p->aStmt[iStmt];
  return SQLITE_OK;
}

int embIndexStmtRun(index_vtab *p, sqlite3_stmt *pStmt){
  int rc;
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  sqlite3_clear_bindings(pStmt);
  return rc ? embIndexSqlError(p, rc) : SQLITE_OK;
}

static void indexFinalizeStmts(index_vtab *p){
  int i;
  for(i=0; i<INDEX_NSTMT; i++){
    sqlite3_finalize(p->aStmt[i]);
    p->aStmt[i] = 0;
  }
}

/* Fail with the reason the index is broken, when it is. */
static int indexCheckBroken(index_vtab *p){
  if( p->zBroken==0 ) return SQLITE_OK;
  return embIndexError(p, SQLITE_CORRUPT_VTAB,
                       sqlite3_mprintf("%s", p->zBroken));
}

/* ------------------------------------------------------------------------
** Vectors: from SQL values, from text, and distances
*/

int embIndexDistance(const uint8_t *a, const uint8_t *b, size_t n,
                     double *pD){
  double c;
  /* cosine()'s own arithmetic (kernels.c), so that distance is exactly
  ** 1 - cosine(vector, query). */
  if( embCosine(embKernels(), a, b, n, &c)!=EMB_COS_OK ) return 0;
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
    return zErr ? embIndexError(p, rc, zErr) : SQLITE_NOMEM;
  }
  if( pVec->n!=p->nDims ){
    int n = pVec->n;
    embVecClear(pVec);
    return embIndexError(p, SQLITE_ERROR, sqlite3_mprintf(
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
    return embIndexError(p, SQLITE_ERROR, sqlite3_mprintf(
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
    return embIndexError(p, SQLITE_ERROR, zErr);
  }
  if( pModel->nDims<p->nDims ){
    return embIndexError(p, SQLITE_ERROR, sqlite3_mprintf(
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
    return embIndexError(p, SQLITE_ERROR, sqlite3_mprintf(
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
** Writes: xUpdate and its parts.  Each part checks everything it can
** before it changes anything; then NAME_data changes first, and the cache
** (whose room embStoreReserve() made beforehand) only once that worked.
*/

/* Whether rowid iRowid exists. */
static int indexExists(index_vtab *p, sqlite3_int64 iRowid, int *pbExists){
  sqlite3_stmt *pStmt;
  int rc = embIndexStmt(p, STMT_DATA_EXISTS, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iRowid);
  *pbExists = sqlite3_step(pStmt)==SQLITE_ROW;
  rc = sqlite3_reset(pStmt);
  return rc ? embIndexSqlError(p, rc) : SQLITE_OK;
}

/* A rowid from an SQL value, by the numeric-argument policy (args.h):
** 7, 7.0 and '7' are 7. */
static int indexRowidArg(index_vtab *p, sqlite3_value *pVal,
                         sqlite3_int64 *piRowid){
  char *zVal;
  int rc = embArgInt(pVal, (sqlite3_int64)(-0x7fffffffffffffffLL-1),
                     (sqlite3_int64)0x7fffffffffffffffLL, piRowid);
  if( rc==EMB_ARG_OK ) return SQLITE_OK;
  if( rc==EMB_ARG_NOMEM ) return SQLITE_NOMEM;
  zVal = embArgDescribe(pVal);
  rc = embIndexError(p, SQLITE_MISMATCH, zVal ? sqlite3_mprintf(
      "embed_index: a rowid of '%q' must be an integer, not %s", p->zName,
      zVal) : 0);
  sqlite3_free(zVal);
  return rc;
}

static int indexDuplicate(index_vtab *p, sqlite3_int64 iRowid){
  return embIndexError(p, SQLITE_CONSTRAINT, sqlite3_mprintf(
      "embed_index: '%q' already has a row with rowid %lld (INSERT OR "
      "REPLACE replaces it)", p->zName, iRowid));
}

/* DELETE of row iRowid from NAME_data, then from the cache. */
static int indexDeleteRow(index_vtab *p, sqlite3_int64 iRowid){
  sqlite3_stmt *pStmt;
  int rc = embIndexStmt(p, STMT_DATA_DELETE, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iRowid);
  rc = embIndexStmtRun(p, pStmt);
  if( rc==SQLITE_OK ) embStoreRemove(p, iRowid);
  return rc;
}

/* UPDATE of NAME_data row iOld: new rowid iNew, vector aVec (or NULL: the
** same), content pContent when bContent. */
static int indexDataUpdate(index_vtab *p, sqlite3_int64 iOld,
                           sqlite3_int64 iNew, const uint8_t *aVec,
                           sqlite3_value *pContent, int bContent){
  sqlite3_stmt *pStmt;
  int rc = embIndexStmt(p, STMT_DATA_UPDATE, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iNew);
  if( aVec ) sqlite3_bind_blob(pStmt, 2, aVec, p->nDims*4, SQLITE_STATIC);
  if( bContent && p->bStoreContent ) sqlite3_bind_value(pStmt, 3, pContent);
  sqlite3_bind_int(pStmt, 4, bContent);
  sqlite3_bind_int64(pStmt, 5, iOld);
  return embIndexStmtRun(p, pStmt);
}

/* INSERT: argv[1] the rowid or NULL, argv[2..] the columns. */
static int indexInsert(index_vtab *p, sqlite3_value **argv,
                       sqlite3_int64 *piRowid){
  sqlite3_value *pContent = argv[2+INDEX_CONTENT];
  sqlite3_stmt *pStmt;
  sqlite3_int64 iRowid = 0;
  int bRowid = sqlite3_value_type(argv[1])!=SQLITE_NULL;
  int bReplace = 0;
  IndexSlot slot;
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
  if( rc==SQLITE_OK ) rc = embStoreWriteBegin(p);
  if( rc==SQLITE_OK && !bRowid ){
    /* The rowid NAME_data would give it, so that the cache can make room
    ** for it before NAME_data changes. */
    sqlite3_stmt *pMax = 0;
    char *zSql = sqlite3_mprintf("SELECT coalesce(max(id), 0) FROM "
                                 "\"%w\".\"%w_data\"", p->zDb, p->zName);
    rc = zSql ? sqlite3_prepare_v2(p->db, zSql, -1, &pMax, 0) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    if( rc==SQLITE_OK && sqlite3_step(pMax)==SQLITE_ROW ){
      iRowid = sqlite3_column_int64(pMax, 0);
    }
    if( rc==SQLITE_OK ) rc = sqlite3_finalize(pMax);
    else sqlite3_finalize(pMax);
    if( rc && rc!=SQLITE_NOMEM ) rc = embIndexSqlError(p, rc);
    if( rc==SQLITE_OK && iRowid==(sqlite3_int64)0x7fffffffffffffffLL ){
      rc = embIndexError(p, SQLITE_FULL, sqlite3_mprintf(
          "embed_index: '%q' has a row with the largest rowid: give a rowid",
          p->zName));
    }
    iRowid++;
  }
  /* Every check is done: from here on, changes. */
  if( rc==SQLITE_OK ) rc = embStoreReserve(p, iRowid, &slot);
  if( rc==SQLITE_OK && bReplace ){
    /* OR REPLACE of an existing row: one UPDATE, in place. */
    rc = indexDataUpdate(p, iRowid, iRowid, aVec, pContent, 1);
  }else if( rc==SQLITE_OK ){
    rc = embIndexStmt(p, STMT_DATA_INSERT, &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, iRowid);
      sqlite3_bind_blob(pStmt, 2, aVec, p->nDims*4, SQLITE_STATIC);
      if( p->bStoreContent ) sqlite3_bind_value(pStmt, 3, pContent);
      rc = embIndexStmtRun(p, pStmt);
    }
  }
  if( rc==SQLITE_OK ){
    embStoreApply(p, &slot, iRowid, aVec);
    *piRowid = iRowid;
  }
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
  sqlite3_stmt *pContentStmt = 0;
  sqlite3_int64 iOld = sqlite3_value_int64(argv[0]), iNew = 0;
  int bReplace = 0;
  IndexSlot slot;
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
        rc = embIndexStmt(p, STMT_DATA_CONTENT, &pContentStmt);
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
  if( rc==SQLITE_OK ) rc = embStoreWriteBegin(p);
  /* Every check is done: from here on, changes. */
  if( rc==SQLITE_OK && aVec ) rc = embStoreReserve(p, iOld, &slot);
  if( rc==SQLITE_OK && iNew!=iOld ) rc = embStoreRekeyReserve(p, iOld, iNew);
  if( rc==SQLITE_OK && bReplace ) rc = indexDeleteRow(p, iNew);
  if( rc==SQLITE_OK ){
    rc = indexDataUpdate(p, iOld, iNew, aVec, pContent, bContentSet);
  }
  if( rc==SQLITE_OK ){
    if( aVec ) embStoreApply(p, &slot, iOld, aVec);
    if( iNew!=iOld ) embStoreRekey(p, iOld, iNew);
  }
  embVecClear(&vec);
  sqlite3_free(aOwn);
  sqlite3_value_free(pOldContent);
  return rc;
}

static int indexUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                       sqlite_int64 *pRowid){
  index_vtab *p = (index_vtab*)pVtab;
  int rc = indexCheckBroken(p);
  if( rc ) return rc;
  p->nWrite++;
  /* A first write may load the cache or migrate a format-1 index. */
  embProgressInit(&p->prog, p->db);
  if( argc==1 ){
    rc = embStoreWriteBegin(p);
    if( rc==SQLITE_OK ) rc = indexDeleteRow(p, sqlite3_value_int64(argv[0]));
  }else if( sqlite3_value_type(argv[0])==SQLITE_NULL ){
    rc = indexInsert(p, argv, pRowid);
  }else{
    rc = indexUpdateRow(p, argv);
  }
  embProgressClear(&p->prog);
  return rc;
}

/* ------------------------------------------------------------------------
** Options, NAME_config, xCreate and xConnect
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
** The oversampling of a format-1 index (read in place) with oversample
** 'auto': how many times k the candidates re-ranked exactly are, for
** recall@10 of 0.95 against exact search with Hamming distance alone, as
** format 1 always searched.  Measured on 36,618 real sentences at 32, 64
** and 100 dims (bench/INDEX.md): 64 * (100/dims)^1.5, never less than 8.
*/
int embIndexDefaultOversample(int nDims){
  double r = 64.0 * pow(100.0/nDims, 1.5);
  if( r<8.0 ) r = 8.0;
  if( r>INDEX_MAX_OVERSAMPLE ) r = INDEX_MAX_OVERSAMPLE;
  return (int)ceil(r);
}

/* The sizes of a row's codes, from dims and quant. */
static void indexSetSizes(index_vtab *p){
  if( p->eQuant==INDEX_QUANT_BINARY ){
    size_t nBits = ((size_t)p->nDims+7)/8;
    /* Codes of 8 bytes or more padded to whole words for the popcount
    ** kernels; shorter ones (up to 56 dims) kept as they are. */
    p->nStride = nBits<8 ? nBits : (nBits+7) & ~(size_t)7;
    p->nFine = ((size_t)p->nDims+1)/2;
  }else{
    p->nStride = (size_t)p->nDims*4;
    p->nFine = 0;
  }
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
  if( p->nOversample==0 ) p->bAutoOversample = 1;
  p->iFormat = INDEX_FORMAT;
  indexSetSizes(p);
  return SQLITE_OK;
}

/*
** Read the configuration of an existing index from NAME_config.  Returns
** SQLITE_OK, or an error code; when the configuration itself is wrong
** (not the reading of it) returns SQLITE_CORRUPT_VTAB with *pzErr saying
** what, and the caller connects the table broken.
*/
static int indexLoadConfig(index_vtab *p, char **pzErr){
  /* Keys in the order of nSeen's bits.  A message names one of these
  ** (static) strings, never the text of a statement's row, which is gone
  ** once the statement is finalized. */
  static const char *const azKey[] = {
    "format", "dims", "quant", "oversample", "store_content", "generation"
  };
  char *zSql = sqlite3_mprintf("SELECT key, value FROM \"%w\".\"%w_config\"",
                               p->zDb, p->zName);
  sqlite3_stmt *pStmt = 0;
  int rc, nSeen = 0, iFormat = 0, i;
  const char *zBad = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  /* Another connection's schema change can make a prepare fail with
  ** SQLITE_SCHEMA; SQLite reads the schema again on the next try. */
  for(i=0; i<4; i++){
    rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
    if( rc!=SQLITE_SCHEMA ) break;
  }
  sqlite3_free(zSql);
  if( rc ){
    /* No NAME_config (SQLITE_ERROR: no such table) is a broken index;
    ** anything else (busy, a schema change under way, I/O, memory) is
    ** this call's error, and the next connect tries again. */
    *pzErr = sqlite3_mprintf("embed_index: cannot read the configuration of "
                             "'%q': %s", p->zName, sqlite3_errmsg(p->db));
    if( *pzErr==0 ) return SQLITE_NOMEM;
    return rc==SQLITE_ERROR ? SQLITE_CORRUPT_VTAB : rc;
  }
  while( zBad==0 && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zKey = (const char*)sqlite3_column_text(pStmt, 0);
    const char *zVal = (const char*)sqlite3_column_text(pStmt, 1);
    int eType = sqlite3_column_type(pStmt, 1);
    if( zKey==0 ) continue;
    for(i=0; i<6 && strcmp(zKey, azKey[i])!=0; i++){}
    if( i<6 ) nSeen |= 1<<i;
    if( strcmp(zKey, "model")==0 ){
      if( zVal ){
        p->zModel = sqlite3_mprintf("%s", zVal);
        if( p->zModel==0 ){ rc = SQLITE_NOMEM; break; }
      }
    }else if( i==0 ){
      if( zVal==0 || parseInt(zVal, 1, 1000000, &iFormat) ) zBad = azKey[i];
    }else if( i==1 ){
      if( zVal==0 || parseInt(zVal, 1, INDEX_MAX_DIMS, &p->nDims) ){
        zBad = azKey[i];
      }
    }else if( i==2 ){
      if( zVal && strcmp(zVal, "binary")==0 ){
        p->eQuant = INDEX_QUANT_BINARY;
      }else if( zVal && strcmp(zVal, "none")==0 ){
        p->eQuant = INDEX_QUANT_NONE;
      }else{
        zBad = azKey[i];
      }
    }else if( i==3 ){
      if( zVal && strcmp(zVal, "auto")==0 ){
        p->bAutoOversample = 1;
      }else if( zVal==0
             || parseInt(zVal, 1, INDEX_MAX_OVERSAMPLE, &p->nOversample) ){
        zBad = azKey[i];
      }
    }else if( i==4 ){
      if( zVal==0 || parseInt(zVal, 0, 1, &p->bStoreContent) ) zBad = azKey[i];
    }else if( i==5 ){
      if( eType!=SQLITE_INTEGER ) zBad = azKey[i];
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
  else sqlite3_finalize(pStmt);
  if( rc ){
    if( rc==SQLITE_NOMEM ) return rc;
    *pzErr = sqlite3_mprintf("embed_index: cannot read the configuration "
                             "of '%q': %s", p->zName, sqlite3_errmsg(p->db));
    return *pzErr ? rc : SQLITE_NOMEM;
  }
  if( zBad ){
    *pzErr = sqlite3_mprintf("embed_index: shadow table '%q_config' is "
                             "corrupt: bad %s", p->zName, zBad);
    return *pzErr ? SQLITE_CORRUPT_VTAB : SQLITE_NOMEM;
  }
  for(i=0; i<6; i++){
    if( (nSeen & (1<<i))==0 ){
      *pzErr = sqlite3_mprintf("embed_index: shadow table '%q_config' is "
                               "corrupt: it has no %s", p->zName, azKey[i]);
      return *pzErr ? SQLITE_CORRUPT_VTAB : SQLITE_NOMEM;
    }
  }
  if( iFormat!=1 && iFormat!=INDEX_FORMAT ){
    *pzErr = sqlite3_mprintf("embed_index: '%q' is in format %d; this version "
                             "reads formats 1 and %d", p->zName, iFormat,
                             INDEX_FORMAT);
    return *pzErr ? SQLITE_CORRUPT_VTAB : SQLITE_NOMEM;
  }
  p->iFormat = iFormat;
  if( p->bAutoOversample ) p->nOversample = embIndexDefaultOversample(p->nDims);
  indexSetSizes(p);
  return SQLITE_OK;
}

static void indexFree(index_vtab *p){
  if( p==0 ) return;
  indexFinalizeStmts(p);
  embProgressClear(&p->prog);
  /* A message SQLite did not take (it takes none from a failed xDestroy). */
  sqlite3_free(p->base.zErrMsg);
  embStoreFree(p->pCache);
  sqlite3_free(p->aScratch);
  sqlite3_free(p->zDb);
  sqlite3_free(p->zName);
  sqlite3_free(p->zModel);
  sqlite3_free(p->zBroken);
  embConnUnref(p->pConn);
  sqlite3_free(p);
}

/* Names a table of ours cannot have: its columns, and rowid's names. */
static const char *reservedName(const char *zName){
  static const char *const az[] = {
    "content", "vector", "distance", "k", "rowid", "oid", "_rowid_"
  };
  size_t i;
  for(i=0; i<sizeof(az)/sizeof(az[0]); i++){
    if( sqlite3_stricmp(zName, az[i])==0 ) return az[i];
  }
  return 0;
}

static void indexSeries(index_vtab *p){
  char zLabel[sizeof(((EmbSeries*)0)->zLabel)];
  sqlite3_snprintf(sizeof(zLabel), zLabel, "%s.%s", p->zDb, p->zName);
  p->pSeries = embMetricsSeries(EMB_SERIES_INDEX, zLabel);
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
  index_vtab *p;
  IndexOptions opt;
  const char *zReserved = reservedName(argv[2]);
  char *zDecl;
  int rc = SQLITE_OK;
  size_t i;
  *ppVtab = 0;
  if( zReserved ){
    *pzErr = sqlite3_mprintf("embed_index: a table named '%q' would clash "
                             "with its column %s", argv[2], zReserved);
    return SQLITE_ERROR;
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
  indexSeries(p);
  if( isCreate ){
    memset(&opt, 0, sizeof(opt));
    rc = optionsParse(argc-3, argv+3, &opt, pzErr);
    if( rc==SQLITE_OK ) rc = optionsApply(p, &opt, pzErr);
    for(i=0; i<5; i++) sqlite3_free(opt.azValue[i]);
    if( rc==SQLITE_OK ) rc = embStoreCreate(p, pzErr);
  }else{
    char *zWhy = 0;
    rc = indexLoadConfig(p, &zWhy);
    if( rc==SQLITE_CORRUPT_VTAB ){
      /* Connect anyway, broken, so that it can be dropped or renamed. */
      p->zBroken = zWhy;
      rc = SQLITE_OK;
    }else if( rc ){
      *pzErr = zWhy;
    }else{
      sqlite3_free(zWhy);
    }
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
    if( *pzErr ) *pzErr = embArgFixMessage(*pzErr);
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

/* DROP TABLE: the shadow tables go too, whichever exist, broken or not. */
static int indexDestroy(sqlite3_vtab *pVtab){
  index_vtab *p = (index_vtab*)pVtab;
  char *zSql;
  int rc;
  indexFinalizeStmts(p);
  zSql = embStoreDdl(p, 0);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_exec(p->db, zSql, 0, 0, 0);
  sqlite3_free(zSql);
  if( rc ) return embIndexSqlError(p, rc);
  indexFree(p);
  return SQLITE_OK;
}

/* ALTER TABLE RENAME: rename the shadow tables along.  A name that would
** clash with a column is refused, as CREATE refuses it. */
static int indexRename(sqlite3_vtab *pVtab, const char *zNew){
  index_vtab *p = (index_vtab*)pVtab;
  const char *zReserved = reservedName(zNew);
  char *zSql, *zName;
  int rc;
  if( zReserved ){
    return embIndexError(p, SQLITE_ERROR, sqlite3_mprintf(
        "embed_index: cannot rename '%q' to '%q': it would clash with its "
        "column %s", p->zName, zNew, zReserved));
  }
  indexFinalizeStmts(p);
  zSql = embStoreDdl(p, zNew);
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
    return embIndexSqlError(p, rc);
  }
  sqlite3_free(p->zName);
  p->zName = zName;
  indexSeries(p);            /* metrics go on under the new name */
  return SQLITE_OK;
}

static int indexShadowName(const char *zSuffix){
  return embStoreIsShadow(zSuffix);
}

/* ------------------------------------------------------------------------
** Transactions: index_store.c's "Writing".
*/

static int indexBegin(sqlite3_vtab *pVtab){
  ((index_vtab*)pVtab)->bGenBumped = 0;
  return SQLITE_OK;
}

static int indexSync(sqlite3_vtab *pVtab){
  return embStoreFlush((index_vtab*)pVtab);
}

static int indexCommit(sqlite3_vtab *pVtab){
  index_vtab *p = (index_vtab*)pVtab;
  p->bGenBumped = 0;
  embStoreCommitted(p);
  return SQLITE_OK;
}

static int indexRollback(sqlite3_vtab *pVtab){
  index_vtab *p = (index_vtab*)pVtab;
  p->bGenBumped = 0;
  embStoreRollback(p);
  return SQLITE_OK;
}

static int indexSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  (void)iSavepoint;
  return embStoreFlush((index_vtab*)pVtab);
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
  index_cursor *pCur;
  int rc = indexCheckBroken((index_vtab*)pVtab);
  if( rc ) return rc;
  pCur = sqlite3_malloc64(sizeof(*pCur));
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  pCur->bEof = 1;
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static void cursorForget(index_cursor *pCur){
  sqlite3_value_free(pCur->pLastMatch);
  pCur->pLastMatch = 0;
  sqlite3_free(pCur->aAll);
  pCur->aAll = 0;
  pCur->nAll = 0;
  pCur->bLastValid = 0;
}

static void cursorReset(index_cursor *pCur){
  if( pCur->bStream ){
    sqlite3_free((void*)pCur->sq.aQ);
    sqlite3_free((void*)pCur->sq.aRowid);
    memset(&pCur->sq, 0, sizeof(pCur->sq));
    sqlite3_free(pCur->aAll);
    pCur->aAll = 0;
    pCur->nAll = 0;
    pCur->bStream = pCur->bStreamEnd = pCur->bStreamAny = 0;
  }
  pCur->aHit = 0;
  pCur->nHit = pCur->iHit = 0;
  sqlite3_finalize(pCur->pScan);
  pCur->pScan = 0;
  if( pCur->pRow ) sqlite3_reset(pCur->pRow);
  pCur->bRowLoaded = 0;
  pCur->bMatch = 0;
  pCur->bOnly = 0;
  pCur->bEof = 1;
}

static int indexClose(sqlite3_vtab_cursor *cur){
  index_cursor *pCur = (index_cursor*)cur;
  cursorReset(pCur);
  cursorForget(pCur);
  sqlite3_finalize(pCur->pRow);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

static int streamFill(index_cursor *pCur);

static int indexNext(sqlite3_vtab_cursor *cur){
  index_cursor *pCur = (index_cursor*)cur;
  if( pCur->bMatch ){
    if( pCur->bStream && pCur->iHit<pCur->nHit ){
      pCur->lastOut = pCur->aHit[pCur->iHit];
      pCur->bStreamAny = 1;
    }
    pCur->iHit++;
    if( pCur->bRowLoaded ){
      sqlite3_reset(pCur->pRow);
      pCur->bRowLoaded = 0;
    }
    if( pCur->bStream && pCur->iHit>=pCur->nHit && !pCur->bStreamEnd ){
      index_vtab *p = (index_vtab*)cur->pVtab;
      int rc;
      embProgressInit(&p->prog, p->db);
      rc = streamFill(pCur);
      embProgressClear(&p->prog);
      return rc;
    }
    return SQLITE_OK;
  }
  if( sqlite3_step(pCur->pScan)!=SQLITE_ROW ){
    int rc = sqlite3_reset(pCur->pScan);
    pCur->bEof = 1;
    if( rc ) return embIndexSqlError((index_vtab*)cur->pVtab, rc);
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
      if( pCur->bMatch && !pCur->bStream ) sqlite3_result_int64(ctx, pCur->iK);
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
      if( rc ) return embIndexSqlError(p, rc);
    }
    sqlite3_bind_int64(pCur->pRow, 1, pCur->aHit[pCur->iHit].iRowid);
    if( sqlite3_step(pCur->pRow)!=SQLITE_ROW ){
      rc = sqlite3_reset(pCur->pRow);
      if( rc ) return embIndexSqlError(p, rc);
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
**   INDEX_PLAN_MATCH   0x001 argv[0] the MATCH value: text to embed, or a
**                                    vector (float32 BLOB, JSON array)
**                            argv[1] k, or with INDEX_PLAN_LIMIT the LIMIT
**   INDEX_PLAN_LIMIT   0x100         k is LIMIT n (ORDER BY distance, or
**                                    no ORDER BY)
**   INDEX_PLAN_STREAM  0x400         no k and no LIMIT SQLite shows us
**                                    (before SQLite 3.41 it shows none
**                                    next to a MATCH), but ORDER BY
**                                    distance: every row nearest first, as
**                                    far as the reader reads (argv[1] is
**                                    then the next filter)
**   INDEX_PLAN_OFFSET  0x200 argv[n] with LIMIT: OFFSET m, and k = n + m
**   INDEX_PLAN_LT      0x002 argv[n] the bound of distance < x
**   INDEX_PLAN_LE      0x004 argv[n] the bound of distance <= x
**   INDEX_PLAN_ROWIDIN 0x010 argv[n] rowid IN (...), read whole with
**                                    sqlite3_vtab_in_first()/_next(): the
**                                    search looks at those rows only
**   INDEX_PLAN_ROWID   0x008 argv[n] rowid = x (last): x if it is a hit
**
**   INDEX_PLAN_NEED_K, _NEED_MATCH_K, _NEED_MATCH_D, _K_LIST, _TWO_MATCH
**                            a query that cannot run: xFilter fails with
**                            a message saying what is wrong
**
** With MATCH the results come nearest first, so ORDER BY distance is
** consumed.  Without MATCH, ROWID looks up one row and no bits scan every
** row in rowid order.  MATCH on the table's hidden column, on content or
** on vector all mean the same.
*/
#define INDEX_PLAN_MATCH     0x001
#define INDEX_PLAN_LT        0x002
#define INDEX_PLAN_LE        0x004
#define INDEX_PLAN_ROWID     0x008
#define INDEX_PLAN_ROWIDIN   0x010
#define INDEX_PLAN_LIMIT     0x100
#define INDEX_PLAN_OFFSET    0x200
#define INDEX_PLAN_STREAM    0x400
#define INDEX_PLAN_NEED_K       0x1000  /* errors: MATCH without k */
#define INDEX_PLAN_NEED_MATCH_K 0x2000  /*   k without MATCH */
#define INDEX_PLAN_NEED_MATCH_D 0x4000  /*   distance < x without MATCH */
#define INDEX_PLAN_K_LIST       0x8000  /*   k IN (...), k = 1 OR k = 2 */
#define INDEX_PLAN_TWO_MATCH    0x10000 /*   two MATCH terms */
#define INDEX_PLAN_ERRORS       0x1f000

#ifndef SQLITE_INDEX_CONSTRAINT_LIMIT
# define SQLITE_INDEX_CONSTRAINT_LIMIT  73
# define SQLITE_INDEX_CONSTRAINT_OFFSET 74
#endif

static int haveVtabIn(void){
#if INDEX_HAVE_338
  return sqlite3_libversion_number()>=3038000;
#else
  return 0;
#endif
}

/* Whether constraint i is an IN SQLite can hand over whole. */
static int isInList(sqlite3_index_info *pInfo, int i){
#if INDEX_HAVE_338
  return haveVtabIn() && sqlite3_vtab_in(pInfo, i, -1);
#else
  (void)pInfo; (void)i;
  return 0;
#endif
}

static int indexBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  index_vtab *p = (index_vtab*)pVtab;
  int iMatch = -1, iK = -1, iDist = -1, iRowid = -1, iRowidIn = -1;
  int iLimit = -1, iOffset = -1;
  int nMatch = 0, bK = 0, bDist = 0, bKList = 0;
  int i, nArg = 0, idxNum = 0, bOrderOk, bOrderBy;
  int rc = indexCheckBroken(p);
  if( rc ) return rc;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *pC = &pInfo->aConstraint[i];
    if( pC->op==SQLITE_INDEX_CONSTRAINT_MATCH
     && (pC->iColumn==INDEX_TABLE || pC->iColumn==INDEX_CONTENT
         || pC->iColumn==INDEX_VECTOR) ){
      nMatch++;
      if( pC->usable && iMatch<0 ) iMatch = i;
    }else if( pC->iColumn==INDEX_K && pC->op==SQLITE_INDEX_CONSTRAINT_EQ ){
      bK = 1;
      if( pC->usable && iK<0 ){
        iK = i;
        if( isInList(pInfo, i) ) bKList = 1;
      }
    }else if( pC->iColumn==INDEX_DISTANCE
           && (pC->op==SQLITE_INDEX_CONSTRAINT_LT
               || pC->op==SQLITE_INDEX_CONSTRAINT_LE) ){
      bDist = 1;
      if( pC->usable && iDist<0 ) iDist = i;
    }else if( pC->op==SQLITE_INDEX_CONSTRAINT_LIMIT ){
      if( pC->usable && iLimit<0 ) iLimit = i;
    }else if( pC->op==SQLITE_INDEX_CONSTRAINT_OFFSET ){
      if( pC->usable && iOffset<0 ) iOffset = i;
    }else if( pC->iColumn<0 && pC->op==SQLITE_INDEX_CONSTRAINT_EQ
           && pC->usable ){
      if( isInList(pInfo, i) ){
        if( iRowidIn<0 ) iRowidIn = i;
      }else if( iRowid<0 ){
        iRowid = i;
      }
    }
  }
  /* Rows come out in distance order: ORDER BY distance (ascending) is
  ** met, and LIMIT n may stand for k only then, or with no ORDER BY. */
  bOrderBy = pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn==INDEX_DISTANCE
          && !pInfo->aOrderBy[0].desc;
  bOrderOk = pInfo->nOrderBy==0 || bOrderBy;
  if( nMatch && !bK && ((iLimit>=0 && bOrderOk) || bOrderBy) ) bK = 1;
  if( nMatch>1 ) idxNum = INDEX_PLAN_TWO_MATCH;
  else if( bKList ) idxNum = INDEX_PLAN_K_LIST;
  else if( nMatch && !bK ) idxNum = INDEX_PLAN_NEED_K;
  else if( !nMatch && bK ) idxNum = INDEX_PLAN_NEED_MATCH_K;
  else if( !nMatch && bDist ) idxNum = INDEX_PLAN_NEED_MATCH_D;
  if( idxNum ){
    /* A query that cannot run.  Failing here would fail queries that have
    ** a good plan too, as SQLite also asks about single terms of an OR;
    ** instead offer a plan dearer than any other, which fails in xFilter
    ** with a message saying what is wrong.  A MATCH is consumed either
    ** way, since SQLite cannot evaluate one itself. */
    if( nMatch && iMatch<0 ) return SQLITE_CONSTRAINT;
    for(i=0; i<pInfo->nConstraint; i++){
      if( pInfo->aConstraint[i].op==SQLITE_INDEX_CONSTRAINT_MATCH
       && pInfo->aConstraint[i].usable ){
        pInfo->aConstraintUsage[i].omit = 1;
      }
    }
    pInfo->estimatedCost = 1e15;
    pInfo->estimatedRows = 1000000000;
    pInfo->idxNum = idxNum;
    return SQLITE_OK;
  }
  if( nMatch ){
    /* Not usable in this order of the join: let SQLite try another. */
    if( iMatch<0 || (iK<0 && iLimit<0 && !bOrderBy) ) return SQLITE_CONSTRAINT;
    idxNum = INDEX_PLAN_MATCH;
    pInfo->aConstraintUsage[iMatch].argvIndex = ++nArg;
    pInfo->aConstraintUsage[iMatch].omit = 1;
    if( iK>=0 ){
      pInfo->aConstraintUsage[iK].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iK].omit = 1;
    }else if( iLimit<0 || !bOrderOk ){
      idxNum |= INDEX_PLAN_STREAM;
    }else{
      /* LIMIT n (and OFFSET m) as k; SQLite still applies them itself. */
      idxNum |= INDEX_PLAN_LIMIT;
      pInfo->aConstraintUsage[iLimit].argvIndex = ++nArg;
      if( iOffset>=0 ){
        idxNum |= INDEX_PLAN_OFFSET;
        pInfo->aConstraintUsage[iOffset].argvIndex = ++nArg;
      }
    }
    if( iDist>=0 ){
      idxNum |= pInfo->aConstraint[iDist].op==SQLITE_INDEX_CONSTRAINT_LT
                  ? INDEX_PLAN_LT : INDEX_PLAN_LE;
      pInfo->aConstraintUsage[iDist].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iDist].omit = 1;
    }
    if( iRowidIn>=0 ){
#if INDEX_HAVE_338
      idxNum |= INDEX_PLAN_ROWIDIN;
      pInfo->aConstraintUsage[iRowidIn].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iRowidIn].omit = 1;
      sqlite3_vtab_in(pInfo, iRowidIn, 1);
#endif
    }
    if( iRowid>=0 ){
      idxNum |= INDEX_PLAN_ROWID;
      pInfo->aConstraintUsage[iRowid].argvIndex = ++nArg;
      pInfo->aConstraintUsage[iRowid].omit = 1;
    }
    /* The cheapest plan there is: a MATCH can run no other way, and
    ** SQLite must not prefer, say, an OR of rowid lookups that leaves the
    ** MATCH to itself. */
    pInfo->estimatedCost = 1.0;
    pInfo->estimatedRows = 10;
#if INDEX_HAVE_338
    if( iK>=0 && sqlite3_libversion_number()>=3038000 ){
      sqlite3_value *pK = 0;
      sqlite3_int64 k = 0;
      if( sqlite3_vtab_rhs_value(pInfo, iK, &pK)==SQLITE_OK && pK
       && embArgInt(pK, 1, INDEX_MAX_K, &k)==EMB_ARG_OK ){
        pInfo->estimatedRows = k;
      }
    }
#endif
    if( iRowid>=0 ) pInfo->estimatedRows = 1;
    if( pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn==INDEX_DISTANCE
     && !pInfo->aOrderBy[0].desc ){
      pInfo->orderByConsumed = 1;
    }
  }else if( iRowid>=0 || iRowidIn>=0 ){
    /* rowid = x (an IN list is looked up one value at a time). */
    int iR = iRowid>=0 ? iRowid : iRowidIn;
    idxNum = INDEX_PLAN_ROWID;
    pInfo->aConstraintUsage[iR].argvIndex = ++nArg;
    pInfo->aConstraintUsage[iR].omit = 1;
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

/* rowid values of an IN constraint (read whole), sorted, duplicates
** removed.  Each value is read as a rowid is (7, 7.0 and '7' are 7); one
** that is no integer matches no rowid and is left out. */
static int filterRowidList(sqlite3_value *pVal, sqlite3_int64 **paOut,
                           int *pnOut){
  sqlite3_int64 *a = 0;
  int n = 0, nAlloc = 0, i, j, rc = SQLITE_OK;
  sqlite3_value *pX = 0;
#if INDEX_HAVE_338
  rc = sqlite3_vtab_in_first(pVal, &pX);
#else
  (void)pVal;
#endif
  while( rc==SQLITE_OK && pX ){
    sqlite3_int64 v;
    int e = embArgInt(pX, (sqlite3_int64)(-0x7fffffffffffffffLL-1),
                      (sqlite3_int64)0x7fffffffffffffffLL, &v);
    if( e==EMB_ARG_NOMEM ){ rc = SQLITE_NOMEM; break; }
    if( e==EMB_ARG_OK ){
      if( n>=nAlloc ){
        sqlite3_int64 *aNew;
        nAlloc = nAlloc ? nAlloc*2 : 16;
        aNew = sqlite3_realloc64(a, sizeof(sqlite3_int64)*(size_t)nAlloc);
        if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
        a = aNew;
      }
      a[n++] = v;
    }
    pX = 0;
#if INDEX_HAVE_338
    rc = sqlite3_vtab_in_next(pVal, &pX);
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

/* k from a constraint value: an integer from 1 to INDEX_MAX_K, by the
** numeric-argument policy.  zWhat is "k" or "LIMIT". */
static int filterK(index_vtab *p, sqlite3_value *pVal, const char *zWhat,
                   sqlite3_int64 *piK){
  int rc = embArgInt(pVal, 1, INDEX_MAX_K, piK);
  char *zWhy;
  if( rc==EMB_ARG_OK ) return SQLITE_OK;
  if( rc==EMB_ARG_NOMEM ) return SQLITE_NOMEM;
  zWhy = sqlite3_mprintf("embed_index: %s", zWhat);
  rc = embIndexError(p, SQLITE_ERROR,
                     zWhy ? embArgIntError(zWhy, 1, INDEX_MAX_K, pVal) : 0);
  sqlite3_free(zWhy);
  return rc;
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

/* Whether two MATCH values are the same value (type and bytes). */
static int sameValue(sqlite3_value *a, sqlite3_value *b){
  int eType = sqlite3_value_type(a), n;
  if( eType!=sqlite3_value_type(b) ) return 0;
  switch( eType ){
    case SQLITE_NULL:    return 1;
    case SQLITE_INTEGER: return sqlite3_value_int64(a)==sqlite3_value_int64(b);
    case SQLITE_FLOAT: {
      double x = sqlite3_value_double(a), y = sqlite3_value_double(b);
      return memcmp(&x, &y, sizeof(x))==0;
    }
    case SQLITE_BLOB: {
      const void *pa = sqlite3_value_blob(a), *pb = sqlite3_value_blob(b);
      n = sqlite3_value_bytes(a);
      return n==sqlite3_value_bytes(b) && (n==0 || memcmp(pa, pb, n)==0);
    }
    default: {
      const unsigned char *za = sqlite3_value_text(a);
      const unsigned char *zb = sqlite3_value_text(b);
      n = sqlite3_value_bytes(a);
      return za && zb && n==sqlite3_value_bytes(b) && memcmp(za, zb, n)==0;
    }
  }
}

/* hit a comes after hit b in (distance, rowid) order. */
static int hitAfter(const IndexHit *a, const IndexHit *b){
  return a->d>b->d || (a->d==b->d && a->iRowid>b->iRowid);
}

/*
** INDEX_PLAN_STREAM: the next rows, nearest first.  Searches for the top
** sq.nK, keeps the hits after the last row returned, and when there are
** none (the reader has had them all) searches again with four times the
** k, until k covers every row.  Each search of an approximate index may
** find a near row an earlier one missed; one that would sort before the
** last row returned is left out, so that rows come in order, once each.
*/
static int streamFill(index_cursor *pCur){
  index_vtab *p = (index_vtab*)pCur->base.pVtab;
  int rc = SQLITE_OK;
  pCur->iHit = pCur->nHit = 0;
  while( pCur->nHit==0 && !pCur->bStreamEnd ){
    IndexHit *a = 0;
    int n = 0, i, j;
    if( pCur->sq.nK >= pCur->nStreamRows ) pCur->bStreamEnd = 1;
    rc = embStoreReady(p, pCur->sq.aRowid!=0);
    if( rc==SQLITE_OK ) rc = embSearch(p, &pCur->sq, &a, &n, 0);
    if( rc ) return rc;
    for(i=j=0; i<n; i++){
      if( !pCur->bStreamAny || hitAfter(&a[i], &pCur->lastOut) ) a[j++] = a[i];
    }
    sqlite3_free(pCur->aAll);
    pCur->aAll = pCur->aHit = a;
    pCur->nAll = pCur->nHit = j;
    if( pCur->sq.nK < pCur->nStreamRows ){
      sqlite3_int64 nNext = (sqlite3_int64)pCur->sq.nK*4;
      if( nNext>pCur->nStreamRows ) nNext = pCur->nStreamRows;
      if( nNext>0x40000000 ) nNext = 0x40000000;
      pCur->sq.nK = (int)nNext;
    }
  }
  return rc;
}

/* A MATCH: run the search (or reuse the last one) and hold the results. */
static int filterMatch(index_cursor *pCur, int idxNum, int argc,
                       sqlite3_value **argv){
  index_vtab *p = (index_vtab*)pCur->base.pVtab;
  IndexQuery q;
  float *aQ = 0;
  sqlite3_int64 iGen = 0;
  int iArg = 2, bNone = 0, rc = SQLITE_OK;
  memset(&q, 0, sizeof(q));
  if( argc<1 ) return SQLITE_ERROR;
  if( idxNum & INDEX_PLAN_STREAM ){
    iArg = 1;
    pCur->iK = 0;
  }else if( argc<2 ){
    return SQLITE_ERROR;
  }else if( idxNum & INDEX_PLAN_LIMIT ){
    sqlite3_int64 nOff = 0;
    rc = filterK(p, argv[1], "LIMIT", &pCur->iK);
    if( rc==SQLITE_OK && (idxNum & INDEX_PLAN_OFFSET) ){
      sqlite3_value *pOff = argv[iArg++];
      if( embArgInt(pOff, 0, INDEX_MAX_K, &nOff)!=EMB_ARG_OK
       || pCur->iK + nOff > INDEX_MAX_K ){
        rc = embIndexError(p, SQLITE_ERROR, sqlite3_mprintf(
            "embed_index: LIMIT and OFFSET together must be at most %d "
            "(they stand for k)", INDEX_MAX_K));
      }
      pCur->iK += nOff;
    }
  }else{
    rc = filterK(p, argv[1], "k", &pCur->iK);
  }
  if( rc ) return rc;
  q.nK = (int)pCur->iK;
  if( idxNum & (INDEX_PLAN_LT|INDEX_PLAN_LE) ){
    sqlite3_value *pMax = argv[iArg++];
    int e = embArgReal(pMax, &q.rMax);
    if( e==EMB_ARG_NULL ) return SQLITE_OK;   /* distance < NULL */
    if( e==EMB_ARG_NOMEM ) return SQLITE_NOMEM;
    if( e==EMB_ARG_BAD ){
      char *zVal = embArgDescribe(pMax);
      rc = embIndexError(p, SQLITE_ERROR, zVal ? sqlite3_mprintf(
          "embed_index: distance can only be compared with a number, not %s",
          zVal) : 0);
      sqlite3_free(zVal);
      return rc;
    }
    q.eMax = (idxNum & INDEX_PLAN_LT) ? 1 : 2;
  }
  if( idxNum & INDEX_PLAN_ROWIDIN ){
    rc = filterRowidList(argv[iArg++], (sqlite3_int64**)&q.aRowid, &q.nRowid);
    if( rc ) return rc;
    if( q.nRowid==0 ) goto done;
  }
  if( idxNum & INDEX_PLAN_ROWID ){
    sqlite3_value *pR = argv[iArg++];
    int e = embArgInt(pR, (sqlite3_int64)(-0x7fffffffffffffffLL-1),
                      (sqlite3_int64)0x7fffffffffffffffLL, &pCur->iOnly);
    if( e==EMB_ARG_NOMEM ){ rc = SQLITE_NOMEM; goto done; }
    if( e!=EMB_ARG_OK ) goto done;          /* no rowid equals it */
    pCur->bOnly = 1;
  }
  if( idxNum & INDEX_PLAN_STREAM ){
    /* Rows nearest first for as long as they are read; with rowid = x,
    ** the stream holds every row, so x alone. */
    aQ = sqlite3_malloc64(sizeof(float)*(size_t)p->nDims);
    if( aQ==0 ){ rc = SQLITE_NOMEM; goto done; }
    rc = filterQuery(p, argv[0], aQ, &bNone);
    if( rc || bNone ) goto done;
    if( pCur->bOnly ){
      sqlite3_int64 *a = 0;
      int n = 0, i;
      for(i=0; i<q.nRowid; i++) n += q.aRowid[i]==pCur->iOnly;
      if( q.aRowid && n==0 ) goto done;
      a = sqlite3_malloc64(sizeof(sqlite3_int64));
      if( a==0 ){ rc = SQLITE_NOMEM; goto done; }
      a[0] = pCur->iOnly;
      sqlite3_free((void*)q.aRowid);
      q.aRowid = a;
      q.nRowid = 1;
      pCur->bOnly = 0;
    }
    rc = embStoreReady(p, q.aRowid!=0);
    if( rc ) goto done;
    pCur->bStream = 1;
    pCur->sq = q;
    pCur->sq.aQ = aQ;
    pCur->sq.nK = 16;
    pCur->nStreamRows = q.aRowid ? q.nRowid : p->pCache->nRow;
    aQ = 0;
    q.aRowid = 0;
    rc = streamFill(pCur);
    goto done;
  }
  if( p->pCache==0 && !p->bStreamed && q.aRowid==0 ){
    /* A new connection's first search: a large index answers it from its
    ** sign bits read once, and builds its cache at the next. */
    int bDone = 0;
    cursorForget(pCur);
    aQ = sqlite3_malloc64(sizeof(float)*(size_t)p->nDims);
    if( aQ==0 ){ rc = SQLITE_NOMEM; goto done; }
    rc = filterQuery(p, argv[0], aQ, &bNone);
    if( rc || bNone ) goto done;
    q.aQ = aQ;
    rc = embSearchStream(p, &q, &pCur->aAll, &pCur->nAll, 0, &bDone);
    if( rc ) goto done;
    if( bDone ) goto hits;
  }
  rc = embStoreReady(p, q.aRowid!=0);
  if( rc ) goto done;
  iGen = p->pCache->iGen;
  if( aQ==0 && !(idxNum & INDEX_PLAN_ROWIDIN) && pCur->bLastValid
   && pCur->iLastGen==iGen && pCur->nLastWrite==p->nWrite
   && pCur->iLastK==pCur->iK
   && pCur->eLastMax==q.eMax && pCur->rLastMax==q.rMax
   && sameValue(pCur->pLastMatch, argv[0]) ){
    /* The same search again (a join driving rowid = x): its hits. */
  }else{
    cursorForget(pCur);
    if( aQ==0 ){
      aQ = sqlite3_malloc64(sizeof(float)*(size_t)p->nDims);
      if( aQ==0 ){ rc = SQLITE_NOMEM; goto done; }
      rc = filterQuery(p, argv[0], aQ, &bNone);
      if( rc || bNone ) goto done;
      q.aQ = aQ;
    }
    rc = embSearch(p, &q, &pCur->aAll, &pCur->nAll, 0);
    if( rc ) goto done;
    if( !(idxNum & INDEX_PLAN_ROWIDIN) ){
      pCur->pLastMatch = sqlite3_value_dup(argv[0]);
      if( pCur->pLastMatch ){
        pCur->bLastValid = 1;
        pCur->iLastGen = iGen;
        pCur->nLastWrite = p->nWrite;
        pCur->iLastK = pCur->iK;
        pCur->eLastMax = q.eMax;
        pCur->rLastMax = q.rMax;
      }
    }
  }
hits:
  pCur->aHit = pCur->aAll;
  pCur->nHit = pCur->nAll;
  if( pCur->bOnly ){
    int i;
    pCur->nHit = 0;
    for(i=0; i<pCur->nAll; i++){
      if( pCur->aAll[i].iRowid==pCur->iOnly ){
        pCur->aHit = &pCur->aAll[i];
        pCur->nHit = 1;
        break;
      }
    }
  }
done:
  sqlite3_free(aQ);
  sqlite3_free((void*)q.aRowid);
  return rc;
}

/* The message of a plan that cannot run (INDEX_PLAN_ERRORS). */
static char *planError(index_vtab *p, int idxNum){
  const char *zName = p->zName;
  if( idxNum & INDEX_PLAN_TWO_MATCH ){
    return sqlite3_mprintf("embed_index: a search of '%q' takes one MATCH, "
                           "not two", zName);
  }
  if( idxNum & INDEX_PLAN_K_LIST ){
    return sqlite3_mprintf("embed_index: a search of '%q' takes one k, not "
                           "a list (k IN (...), or k = 1 OR k = 2)", zName);
  }
  if( idxNum & INDEX_PLAN_NEED_K ){
    return sqlite3_mprintf("embed_index: a MATCH on '%q' needs k, as in "
                           "WHERE %s MATCH ... AND k = 10 (or ORDER BY "
                           "distance LIMIT 10)", zName, zName);
  }
  return sqlite3_mprintf("embed_index: %s on '%q' needs a MATCH, as in "
                         "WHERE %s MATCH ... AND k = 10",
                         (idxNum & INDEX_PLAN_NEED_MATCH_K) ? "k"
                         : "a bound on distance", zName, zName);
}

static int indexFilter(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  index_cursor *pCur = (index_cursor*)cur;
  index_vtab *p = (index_vtab*)cur->pVtab;
  char *zSql;
  int rc;
  (void)idxStr;
  cursorReset(pCur);
  if( idxNum & INDEX_PLAN_ERRORS ){
    return embIndexError(p, SQLITE_ERROR, planError(p, idxNum));
  }
  if( idxNum & INDEX_PLAN_MATCH ){
    int64_t t0 = embMetricsNow();
    pCur->bMatch = 1;
    embProgressInit(&p->prog, p->db);
    p->nCallRead = 0;
    rc = filterMatch(pCur, idxNum, argc, argv);
    embProgressClear(&p->prog);
    if( rc==SQLITE_OK ) embMetricsQuery(p->pSeries, embMetricsNow() - t0);
    return rc;
  }
  zSql = sqlite3_mprintf("SELECT id, vector, content FROM \"%w\".\"%w_data\""
                         "%s ORDER BY id", p->zDb, p->zName,
                         (idxNum & INDEX_PLAN_ROWID) ? " WHERE id=?1" : "");
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pCur->pScan, 0);
  sqlite3_free(zSql);
  if( rc ) return embIndexSqlError(p, rc);
  if( (idxNum & INDEX_PLAN_ROWID) && argc>0 ){
    sqlite3_int64 iRowid;
    int e = embArgInt(argv[0], (sqlite3_int64)(-0x7fffffffffffffffLL-1),
                      (sqlite3_int64)0x7fffffffffffffffLL, &iRowid);
    if( e==EMB_ARG_NOMEM ) return SQLITE_NOMEM;
    if( e!=EMB_ARG_OK ) return SQLITE_OK;   /* matches no rowid */
    sqlite3_bind_int64(pCur->pScan, 1, iRowid);
  }
  pCur->bEof = 0;
  return indexNext(cur);
}

/* Every method: transactions and savepoints so that the cache follows
** ROLLBACK and the chunks are written before each commit; xShadowName so
** that the shadow tables are read-only to SQL in defensive mode
** (iVersion 3). */
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
