/*
** func_embed.c: the SQL functions that use a model: embed(),
** embed_tokens() and embed_load().  Argument checking and glue only.
**
**     SELECT embed('the cat sat');                  -- float32 BLOB
**     SELECT embed('the cat sat', 32);              -- first 32 dims, unit
**     SELECT embed(body, NULL, 'wl') FROM notes;    -- a model by name
**     SELECT embed_tokens('the cat');               -- '[0,5912]'
**     SELECT embed_load('wl', 'models/wl.emb');     -- 'wl'
**     SELECT embed_metrics();                       -- Prometheus text
**
** HOW IT WORKS
** The text is made valid UTF-8 (each maximal invalid subpart becomes
** U+FFFD), tokenized into the connection's reusable token buffer, and the
** rows of its tokens mean-pooled (pool.c).  The model is found once per
** statement: a constant model-name argument caches its model, with a
** reference, as auxiliary data; the default model is a pointer away.  Each
** call is timed and counted into the name's embed_metrics() series with a
** few relaxed atomic adds (metrics.c).
*/
#include "func_embed.h"
#include "args.h"
#include "conn.h"
#include "metrics.h"
#include "tokenizer.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

/* A resolved model-name argument: the model and its metrics series. */
typedef struct EmbUse EmbUse;
struct EmbUse {
  EmbModel *pModel;
  EmbSeries *pSeries;
};

/* Destructor of an EmbUse cached as auxiliary data: it holds a reference. */
static void useFree(void *p){
  EmbUse *pUse = (EmbUse*)p;
  embModelRelease(pUse->pModel);
  sqlite3_free(pUse);
}

/*
** Find the model for a call of zFunc whose model-name argument is argv[iArg]
** (iArg >= argc: the default).  Returns SQLITE_OK and fills *pUse (no
** reference for the caller), or an error code after setting the result (an
** unknown name counts as an error of that name in embed_metrics()).
*/
static int resolveModel(sqlite3_context *ctx, const char *zFunc, int argc,
                        sqlite3_value **argv, int iArg, EmbUse *pUse){
  EmbConn *pConn = (EmbConn*)sqlite3_user_data(ctx);
  const char *zName = "default";
  EmbConnModel *pEntry;
  if( iArg<argc ){
    int eType = sqlite3_value_type(argv[iArg]);
    EmbUse *pCached = (EmbUse*)sqlite3_get_auxdata(ctx, iArg);
    if( pCached ){
      *pUse = *pCached;
      return SQLITE_OK;
    }
    if( eType==SQLITE_TEXT ){
      zName = (const char*)sqlite3_value_text(argv[iArg]);
      if( zName==0 ){ sqlite3_result_error_nomem(ctx); return SQLITE_NOMEM; }
    }else if( eType!=SQLITE_NULL ){
      char *zErr = sqlite3_mprintf("%s(): the model must be given by name "
                                   "(text), not %s", zFunc,
                                   eType==SQLITE_INTEGER ? "an integer" :
                                   eType==SQLITE_FLOAT ? "a real" : "a blob");
      sqlite3_result_error(ctx, zErr ? zErr : "out of memory", -1);
      sqlite3_free(zErr);
      return SQLITE_ERROR;
    }
  }
  pEntry = embConnFindEntry(pConn, zName);
  if( pEntry==0 ){
    char *zWhy = embConnMissingModel(pConn, zName);
    char *zErr = zWhy ? sqlite3_mprintf("%s(): %s", zFunc, zWhy) : 0;
    if( zErr ){
      sqlite3_result_error(ctx, zErr, -1);
    }else{
      sqlite3_result_error_nomem(ctx);
    }
    sqlite3_free(zErr);
    sqlite3_free(zWhy);
    embMetricsError(embMetricsSeries(EMB_SERIES_MODEL, zName));
    return SQLITE_ERROR;
  }
  pUse->pModel = pEntry->pModel;
  pUse->pSeries = pEntry->pSeries;
  if( iArg<argc ){
    /* Cache with a reference of its own, dropped when SQLite discards it
    ** (the statement ends, or the argument changes). */
    EmbUse *pCached = sqlite3_malloc64(sizeof(*pCached));
    if( pCached ){
      *pCached = *pUse;
      embModelRetain(pCached->pModel);
      sqlite3_set_auxdata(ctx, iArg, pCached, useFree);
    }
  }
  return SQLITE_OK;
}

/* The bytes of a text argument (a BLOB is read as UTF-8). */
static const char *textArg(sqlite3_value *pText){
  if( sqlite3_value_type(pText)==SQLITE_BLOB ){
    return (const char*)sqlite3_value_blob(pText);
  }
  return (const char*)sqlite3_value_text(pText);
}

/* Set an error that names the call's model in embed_metrics(). */
static void resultError(sqlite3_context *ctx, EmbSeries *pSeries, char *zErr){
  if( zErr ){
    sqlite3_result_error(ctx, zErr, -1);
    sqlite3_free(zErr);
  }else{
    sqlite3_result_error_nomem(ctx);
  }
  embMetricsError(pSeries);
}

/* embed(text [, dims [, model]]) -> float32 BLOB */
void embEmbedFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  EmbConn *pConn = (EmbConn*)sqlite3_user_data(ctx);
  int64_t t0;
  EmbUse use;
  int nDims, n;
  const char *z;
  float *aOut;
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ) return;
  t0 = embMetricsNow();
  if( resolveModel(ctx, "embed", argc, argv, 2, &use) ) return;
  nDims = use.pModel->nDims;
  if( argc>=2 ){
    sqlite3_int64 iDims = nDims;
    int rc = embArgInt(argv[1], 1, use.pModel->nDims, &iDims);
    if( rc==EMB_ARG_BAD || rc==EMB_ARG_NOMEM ){
      resultError(ctx, use.pSeries, rc==EMB_ARG_NOMEM ? 0 :
                  embArgIntError("embed(): dims", 1, use.pModel->nDims,
                                 argv[1]));
      return;
    }
    nDims = (int)iDims;
  }
  z = textArg(argv[0]);
  n = sqlite3_value_bytes(argv[0]);
  aOut = sqlite3_malloc64(sizeof(float)*(size_t)nDims);
  if( aOut==0 || (z==0 && n>0)
   || embEmbedText(pConn, use.pModel, z, (size_t)n, nDims, aOut) ){
    sqlite3_free(aOut);
    resultError(ctx, use.pSeries, 0);
    return;
  }
  sqlite3_result_blob(ctx, aOut, (int)sizeof(float)*nDims, sqlite3_free);
  embMetricsEmbed(use.pSeries, pConn->tokens.nId, n, embMetricsNow() - t0);
}

/* embed_tokens(text [, model]) -> JSON array of token ids */
void embTokensFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  EmbConn *pConn = (EmbConn*)sqlite3_user_data(ctx);
  int64_t t0;
  EmbUse use;
  sqlite3_str *pStr;
  const char *z;
  int i, n, rc;
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ) return;
  t0 = embMetricsNow();
  if( resolveModel(ctx, "embed_tokens", argc, argv, 1, &use) ) return;
  z = textArg(argv[0]);
  n = sqlite3_value_bytes(argv[0]);
  if( (z==0 && n>0) || embConnTokenize(pConn, use.pModel, z, (size_t)n) ){
    resultError(ctx, use.pSeries, 0);
    return;
  }
  pStr = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_appendchar(pStr, 1, '[');
  for(i=0; i<pConn->tokens.nId; i++){
    sqlite3_str_appendf(pStr, i ? ",%d" : "%d", pConn->tokens.aId[i]);
  }
  sqlite3_str_appendchar(pStr, 1, ']');
  rc = sqlite3_str_errcode(pStr);
  if( rc ){
    sqlite3_free(sqlite3_str_finish(pStr));
    if( rc==SQLITE_TOOBIG ) sqlite3_result_error_toobig(ctx);
    else sqlite3_result_error_nomem(ctx);
    embMetricsError(use.pSeries);
    return;
  }
  i = sqlite3_str_length(pStr);
  sqlite3_result_text(ctx, sqlite3_str_finish(pStr), i, sqlite3_free);
  sqlite3_result_subtype(ctx, 'J');
  embMetricsEmbed(use.pSeries, pConn->tokens.nId, n, embMetricsNow() - t0);
}

/* embed_metrics() -> the Prometheus text exposition of this process. */
void embMetricsFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  char *z = embMetricsText();
  (void)argc; (void)argv;
  if( z==0 ){
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, z, -1, sqlite3_free);
}

/*
** Is a statement that writes running on db?  A database file's CHECK
** constraint that calls embed_load() runs inside the INSERT or UPDATE that
** checks it, and SQLite 3.40 does not apply SQLITE_DIRECTONLY to CHECK
** constraints (later versions refuse them at prepare time); a direct call,
** SELECT embed_load(...), is a read-only statement.
*/
static int writerRunning(sqlite3 *db){
  sqlite3_stmt *p = 0;
  while( (p = sqlite3_next_stmt(db, p))!=0 ){
    if( sqlite3_stmt_busy(p) && !sqlite3_stmt_readonly(p) ) return 1;
  }
  return 0;
}

/* embed_load(name, path) -> name.  Opens a file: SQLITE_DIRECTONLY, and
** refused inside a statement that writes (writerRunning()). */
void embLoadFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  EmbConn *pConn = (EmbConn*)sqlite3_user_data(ctx);
  const char *zName, *zPath;
  EmbModel *pModel = 0;
  char *zErr = 0, *zResult;
  (void)argc;
  if( writerRunning(sqlite3_context_db_handle(ctx)) ){
    sqlite3_result_error(ctx, "embed_load(): refused inside a statement that "
        "writes (INSERT, UPDATE, DELETE, CREATE ... AS, or a CHECK "
        "constraint): call it on its own, as SELECT embed_load(name, path)",
        -1);
    return;
  }
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT
   || sqlite3_value_type(argv[1])!=SQLITE_TEXT ){
    sqlite3_result_error(ctx, "embed_load(): name and path must be text", -1);
    return;
  }
  zName = (const char*)sqlite3_value_text(argv[0]);
  zPath = (const char*)sqlite3_value_text(argv[1]);
  if( zName==0 || zPath==0 ){ sqlite3_result_error_nomem(ctx); return; }
  if( zName[0]==0 ){
    sqlite3_result_error(ctx, "embed_load(): the name is empty", -1);
    return;
  }
  /* The result is made first, so that once the model is registered
  ** nothing can fail: an error then means nothing changed. */
  zResult = sqlite3_mprintf("%s", zName);
  if( zResult==0 ){ sqlite3_result_error_nomem(ctx); return; }
  if( embModelAcquire(zPath, &pModel, &zErr) ){
    char *zMsg = embArgFixMessage(zErr ? sqlite3_mprintf("embed_load(): %s",
                                                         zErr) : 0);
    if( zMsg ){
      sqlite3_result_error(ctx, zMsg, -1);
    }else{
      sqlite3_result_error_nomem(ctx);
    }
    sqlite3_free(zMsg);
    sqlite3_free(zErr);
    sqlite3_free(zResult);
    return;
  }
  if( embConnSet(pConn, zName, pModel)!=SQLITE_OK ){
    sqlite3_result_error_nomem(ctx);
    sqlite3_free(zResult);
    return;
  }
  if( strcmp(zName, "default")==0 ){
    sqlite3_free(pConn->zDefaultErr);
    pConn->zDefaultErr = 0;
  }
  sqlite3_result_text(ctx, zResult, -1, sqlite3_free);
}
