/*
** conn.c: per-connection state: named models and scratch space.
**
** HOW IT WORKS
** A linked list of (name, model reference) pairs; connections hold a few
** models at most, so a list is the simplest structure that serves.  The
** object lives as long as any function or module registered with it; the
** last sqlite3_create_*_v2() destructor frees it and drops its references.
*/
#include "conn.h"
#include "alloc.h"
#include "args.h"
#include "pool.h"
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

EmbConn *embConnNew(void){
  EmbConn *p = sqlite3_malloc64(sizeof(*p));
  if( p ){
    memset(p, 0, sizeof(*p));
    p->nRef = 1;
    embTokensInit(&p->tokens);
  }
  return p;
}

void embConnRef(EmbConn *p){
  p->nRef++;
}

void embConnUnref(void *pArg){
  EmbConn *p = (EmbConn*)pArg;
  if( p==0 || --p->nRef>0 ) return;
  while( p->pList ){
    EmbConnModel *pEntry = p->pList;
    p->pList = pEntry->pNext;
    embModelRelease(pEntry->pModel);
    sqlite3_free(pEntry->zName);
    sqlite3_free(pEntry);
  }
  sqlite3_free(p->zDefaultErr);
  embTokensFree(&p->tokens);
  sqlite3_free(p);
}

EmbConnModel *embConnFindEntry(EmbConn *p, const char *zName){
  EmbConnModel *pEntry;
  for(pEntry=p->pList; pEntry; pEntry=pEntry->pNext){
    if( strcmp(pEntry->zName, zName)==0 ) return pEntry;
  }
  return 0;
}

EmbModel *embConnFind(EmbConn *p, const char *zName){
  EmbConnModel *pEntry = embConnFindEntry(p, zName);
  return pEntry ? pEntry->pModel : 0;
}

int embConnSet(EmbConn *p, const char *zName, EmbModel *pModel){
  EmbConnModel *pEntry;
  pEntry = embConnFindEntry(p, zName);
  if( pEntry ){
    embModelRelease(pEntry->pModel);
    pEntry->pModel = pModel;
    embMetricsLoad(pEntry->pSeries, pModel->loadUs*1000);
    return SQLITE_OK;
  }
  pEntry = sqlite3_malloc64(sizeof(*pEntry));
  if( pEntry ) pEntry->zName = sqlite3_mprintf("%s", zName);
  if( pEntry==0 || pEntry->zName==0 ){
    sqlite3_free(pEntry);
    embModelRelease(pModel);
    return SQLITE_NOMEM;
  }
  pEntry->pModel = pModel;
  pEntry->pSeries = embMetricsSeries(EMB_SERIES_MODEL, zName);
  embMetricsLoad(pEntry->pSeries, pModel->loadUs*1000);
  pEntry->pNext = p->pList;
  p->pList = pEntry;
  return SQLITE_OK;
}

char *embConnMissingModel(EmbConn *p, const char *zName){
  char *zQ, *zMsg;
  if( strcmp(zName, "default")==0 && p->zDefaultErr ){
    return sqlite3_mprintf("%s", p->zDefaultErr);
  }
  zQ = embArgQuote(zName, -1);
  if( zQ==0 ) return 0;
  zMsg = sqlite3_mprintf("no model named %s (load one with "
                         "embed_load(%s, 'PATH.emb'))", zQ, zQ);
  sqlite3_free(zQ);
  return zMsg;
}

int embConnTokenize(EmbConn *p, EmbModel *pModel, const char *z, size_t n){
  char *zFixed = 0;
  size_t nFixed;
  int rc = embUtf8Repair(z ? z : "", n, &zFixed, &nFixed);
  if( rc<0 ) return SQLITE_NOMEM;
  if( rc>0 ){ z = zFixed; n = nFixed; }
  p->tokens.nId = 0;
  rc = embTokenize(pModel, z ? z : "", n, &p->tokens);
  sqlite3_free(zFixed);
  if( rc ) return SQLITE_NOMEM;
  __atomic_fetch_add(&pModel->nCall, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&pModel->nToken, p->tokens.nId, __ATOMIC_RELAXED);
  return SQLITE_OK;
}

int embEmbedText(EmbConn *p, EmbModel *pModel, const char *z, size_t n,
                 int nDims, float *aOut){
  double aStack[256];
  double *aAcc = aStack;
  int rc = embConnTokenize(p, pModel, z, n);
  if( rc ) return rc;
  if( nDims>(int)(sizeof(aStack)/sizeof(aStack[0])) ){
    aAcc = sqlite3_malloc64(sizeof(double)*(size_t)nDims);
    if( aAcc==0 ) return SQLITE_NOMEM;
  }
  embPoolMean(pModel, p->tokens.aId, p->tokens.nId, nDims, aAcc, aOut);
  if( aAcc!=aStack ) sqlite3_free(aAcc);
  return SQLITE_OK;
}

int embConnLoadDefault(EmbConn *p, const char *zDefaultPath){
  const char *zEnv = getenv("SQLITE_EMBED_MODEL");
  const char *zPath = (zEnv && zEnv[0]) ? zEnv : zDefaultPath;
  EmbModel *pModel = 0;
  char *zErr = 0;
  if( zPath==0 || zPath[0]==0 ) return SQLITE_OK;
  if( embModelAcquire(zPath, &pModel, &zErr) ){
    /* No message: out of memory (model.h), which fails the load rather
    ** than leave a connection whose default model is missing for a
    ** reason that has passed. */
    if( zErr==0 ) return SQLITE_NOMEM;
    /* Say what went wrong and every way to provide a model. */
    p->zDefaultErr = sqlite3_mprintf(
        "no default model: %s (%s; set SQLITE_EMBED_MODEL to a model file "
        "before loading the extension, run 'make model' to build '%s', or "
        "call embed_load('default', 'PATH.emb'))",
        zErr,
        zPath==zEnv ? "from SQLITE_EMBED_MODEL" : "the built-in default path",
        zDefaultPath);
    p->zDefaultErr = embArgFixMessage(p->zDefaultErr);   /* paths are bytes */
    sqlite3_free(zErr);
    return p->zDefaultErr ? SQLITE_OK : SQLITE_NOMEM;
  }
  return embConnSet(p, "default", pModel);
}
