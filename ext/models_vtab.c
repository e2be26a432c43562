/*
** models_vtab.c: embed_models, an eponymous virtual table listing the
** models registered in this connection.
**
**     SELECT name, source, dims, vocab_size, calls FROM embed_models;
**
** HOW IT WORKS
** Laid out like SQLite's series.c.  xFilter takes a snapshot of the
** connection's model list (with a reference to each model), so a row stays
** valid even if embed_load() replaces a model while the scan is open.
** Counters are read with atomic loads.
*/
#include "models_vtab.h"
#include "conn.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

/* Column numbers */
#define MODELS_NAME       0
#define MODELS_PATH       1
#define MODELS_SOURCE     2
#define MODELS_DIMS       3
#define MODELS_VOCAB      4
#define MODELS_TOKENIZER  5
#define MODELS_FILE_BYTES 6
#define MODELS_LOAD_US    7
#define MODELS_CALLS      8
#define MODELS_TOKENS     9

typedef struct models_vtab models_vtab;
struct models_vtab {
  sqlite3_vtab base;
  EmbConn *pConn;
};

typedef struct models_cursor models_cursor;
struct models_cursor {
  sqlite3_vtab_cursor base;
  int nRow, iRow;
  char **azName;           /* snapshot: names, sqlite3_malloc'd (or NULL) */
  EmbModel **apModel;      /* snapshot: a reference to each model (or NULL) */
};

static int modelsConnect(sqlite3 *db, void *pAux, int argc,
                         const char *const *argv, sqlite3_vtab **ppVtab,
                         char **pzErr){
  models_vtab *pNew;
  int rc;
  (void)argc; (void)argv; (void)pzErr;
  rc = sqlite3_declare_vtab(db,
      "CREATE TABLE x(name TEXT, path TEXT, source TEXT, dims INTEGER, "
      "vocab_size INTEGER, tokenizer TEXT, file_bytes INTEGER, "
      "load_us INTEGER, calls INTEGER, tokens INTEGER)");
  if( rc!=SQLITE_OK ) return rc;
  pNew = sqlite3_malloc64(sizeof(*pNew));
  if( pNew==0 ) return SQLITE_NOMEM;
  memset(pNew, 0, sizeof(*pNew));
  pNew->pConn = (EmbConn*)pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &pNew->base;
  return SQLITE_OK;
}

static int modelsDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static void cursorReset(models_cursor *pCur){
  int i;
  for(i=0; i<pCur->nRow; i++){
    sqlite3_free(pCur->azName[i]);
    embModelRelease(pCur->apModel[i]);
  }
  sqlite3_free(pCur->azName);
  sqlite3_free(pCur->apModel);
  pCur->azName = 0;
  pCur->apModel = 0;
  pCur->nRow = pCur->iRow = 0;
}

static int modelsOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  models_cursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  (void)pVtab;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static int modelsClose(sqlite3_vtab_cursor *cur){
  models_cursor *pCur = (models_cursor*)cur;
  cursorReset(pCur);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

static int modelsFilter(sqlite3_vtab_cursor *cur, int idxNum,
                        const char *idxStr, int argc, sqlite3_value **argv){
  models_cursor *pCur = (models_cursor*)cur;
  EmbConn *pConn = ((models_vtab*)cur->pVtab)->pConn;
  EmbConnModel *pEntry;
  int n = 0, i;
  (void)idxNum; (void)idxStr; (void)argc; (void)argv;
  cursorReset(pCur);
  for(pEntry=pConn->pList; pEntry; pEntry=pEntry->pNext) n++;
  if( n==0 ) return SQLITE_OK;
  pCur->azName = sqlite3_malloc64(sizeof(char*)*(size_t)n);
  pCur->apModel = sqlite3_malloc64(sizeof(EmbModel*)*(size_t)n);
  if( pCur->azName==0 || pCur->apModel==0 ){
    cursorReset(pCur);
    return SQLITE_NOMEM;
  }
  /* Every slot empty first, so that a snapshot cut short by a failed
  ** allocation is released by cursorReset() as far as it got. */
  memset(pCur->azName, 0, sizeof(char*)*(size_t)n);
  memset(pCur->apModel, 0, sizeof(EmbModel*)*(size_t)n);
  pCur->nRow = n;
  /* The list is newest first; list models oldest first. */
  for(pEntry=pConn->pList; pEntry; pEntry=pEntry->pNext){
    i = --n;
    pCur->azName[i] = sqlite3_mprintf("%s", pEntry->zName);
    if( pCur->azName[i]==0 ){
      cursorReset(pCur);
      return SQLITE_NOMEM;
    }
    embModelRetain(pEntry->pModel);
    pCur->apModel[i] = pEntry->pModel;
  }
  return SQLITE_OK;
}

static int modelsNext(sqlite3_vtab_cursor *cur){
  ((models_cursor*)cur)->iRow++;
  return SQLITE_OK;
}

static int modelsEof(sqlite3_vtab_cursor *cur){
  models_cursor *pCur = (models_cursor*)cur;
  return pCur->iRow>=pCur->nRow;
}

static int modelsColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                        int i){
  models_cursor *pCur = (models_cursor*)cur;
  const EmbModel *p = pCur->apModel[pCur->iRow];
  switch( i ){
    case MODELS_NAME:
      sqlite3_result_text(ctx, pCur->azName[pCur->iRow], -1, SQLITE_TRANSIENT);
      break;
    case MODELS_PATH:
      sqlite3_result_text(ctx, p->zPath, -1, SQLITE_TRANSIENT);
      break;
    case MODELS_SOURCE:
      sqlite3_result_text(ctx, p->zSource, -1, SQLITE_TRANSIENT);
      break;
    case MODELS_DIMS:       sqlite3_result_int(ctx, p->nDims); break;
    case MODELS_VOCAB:      sqlite3_result_int(ctx, p->nVocab); break;
    case MODELS_TOKENIZER:
      sqlite3_result_text(ctx, p->zTokenizer, -1, SQLITE_TRANSIENT);
      break;
    case MODELS_FILE_BYTES:
      sqlite3_result_int64(ctx, (sqlite3_int64)p->nFile);
      break;
    case MODELS_LOAD_US:    sqlite3_result_int64(ctx, p->loadUs); break;
    case MODELS_CALLS:
      sqlite3_result_int64(ctx, __atomic_load_n(&p->nCall, __ATOMIC_RELAXED));
      break;
    default:
      sqlite3_result_int64(ctx, __atomic_load_n(&p->nToken, __ATOMIC_RELAXED));
      break;
  }
  return SQLITE_OK;
}

static int modelsRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid){
  *pRowid = ((models_cursor*)cur)->iRow + 1;
  return SQLITE_OK;
}

static int modelsBestIndex(sqlite3_vtab *tab, sqlite3_index_info *pInfo){
  (void)tab;
  pInfo->estimatedCost = 10.0;
  pInfo->estimatedRows = 10;
  return SQLITE_OK;
}

/* Eponymous-only (no xCreate) and read-only (no xUpdate). */
static const sqlite3_module modelsModule = {
  .iVersion    = 0,
  .xConnect    = modelsConnect,
  .xBestIndex  = modelsBestIndex,
  .xDisconnect = modelsDisconnect,
  .xOpen       = modelsOpen,
  .xClose      = modelsClose,
  .xFilter     = modelsFilter,
  .xNext       = modelsNext,
  .xEof        = modelsEof,
  .xColumn     = modelsColumn,
  .xRowid      = modelsRowid,
};

int embModelsVtabRegister(sqlite3 *db, EmbConn *pConn){
  int rc;
  embConnRef(pConn);
  rc = sqlite3_create_module_v2(db, "embed_models", &modelsModule, pConn,
                                embConnUnref);
  return rc;
}
