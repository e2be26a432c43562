/*
** embed.c: sqlite3_embed_init(), the extension's entry point.
**
**     sqlite> .load build/embed
**     sqlite> SELECT hamming(bquant('[1,-1,1]'), bquant('[1,1,1]'));   -- 1
**     sqlite> SELECT cosine(embed('a cat'), embed('a kitten'));
**
** HOW IT WORKS
** Registration only, driven by the table aFunc[] below: every SQL function
** with its argument count, flags and implementation.  Functions that read
** nothing but their arguments are DETERMINISTIC and INNOCUOUS, so they may
** be used in indexes, views and triggers.  Functions that use a model get
** the connection's EmbConn (conn.h) as user data; each registration holds a
** reference to it, and the default model is loaded into it here.
**
** All or nothing.  When a registration fails (out of memory), the ones
** already made are deleted before the error is returned, since SQLite
** unloads the library after a failed init and a registration left behind
** would point into unmapped code (test/fault.c's "load" scenario fails
** every allocation of a load in turn).  Where SQLite refuses to delete a
** function (while a statement runs: SELECT load_extension()), the library
** is pinned in memory so that what stays registered stays valid.  (The
** Makefile links the library with -z nodelete, which keeps it mapped
** anyway; the undo is what leaves nothing registered, and the pin covers
** builds linked otherwise.)
*/
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

#include "sqlite-embed.h"
#include "conn.h"
#include "func.h"
#include "func_embed.h"
#include "models_vtab.h"
#include "split.h"
#include "toolkit.h"
#include "index.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

#ifndef EMBED_DEFAULT_MODEL
# define EMBED_DEFAULT_MODEL "models/default.emb"
#endif

#define EMB_PURE (SQLITE_UTF8|SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS)

/* Functions that set a subtype must say so from SQLite 3.45 on. */
#ifdef SQLITE_RESULT_SUBTYPE
# define EMB_SUBTYPE SQLITE_RESULT_SUBTYPE
#else
# define EMB_SUBTYPE 0
#endif

/* Flags of aFunc[] entries beyond SQLite's own */
#define EMB_CONN 0x01      /* user data is the connection's EmbConn */

static const struct {
  const char *zName;
  int nArg;
  int flags;               /* SQLITE_* function flags */
  int eUser;               /* 0 or EMB_CONN */
  void (*xFunc)(sqlite3_context*, int, sqlite3_value**);
} aFunc[] = {
  { "bquant",       1, EMB_PURE,             0,        embBquantFunc  },
  { "hamming",      2, EMB_PURE,             0,        embHammingFunc },
  { "cosine",       2, EMB_PURE,             0,        embCosineFunc  },
  { "embed_json",   1, EMB_PURE|EMB_SUBTYPE, 0,        embJsonFunc    },
  /* The model functions are deterministic for a given set of loaded
  ** models; replacing a model with embed_load() is the caller's choice. */
  { "embed",        1, EMB_PURE,             EMB_CONN, embEmbedFunc   },
  { "embed",        2, EMB_PURE,             EMB_CONN, embEmbedFunc   },
  { "embed",        3, EMB_PURE,             EMB_CONN, embEmbedFunc   },
  { "embed_tokens", 1, EMB_PURE|EMB_SUBTYPE, EMB_CONN, embTokensFunc  },
  { "embed_tokens", 2, EMB_PURE|EMB_SUBTYPE, EMB_CONN, embTokensFunc  },
  { "embed_load",   2, SQLITE_UTF8|SQLITE_DIRECTONLY, EMB_CONN, embLoadFunc },
  /* Process-wide counters: not deterministic, but harmless anywhere. */
  { "embed_metrics", 0, SQLITE_UTF8|SQLITE_INNOCUOUS, 0,   embMetricsFunc },
};

/*
** SQLITE_EXTENSION_INIT2 made safe for threads.  The macro stores pApi in
** the global sqlite3_api at every load, a plain write that races with
** other threads' calls through sqlite3_api (ThreadSanitizer reports it,
** test/threads.c).  Every load in a process passes the same routines, so
** only the first load stores them, under a mutex; later loads find them
** with an atomic load (which orders their reads after the store) and
** write nothing.  (Were a second SQLite library in the process to load
** it, the routines would change, as with the macro.)
*/
#ifndef SQLITE_CORE
static pthread_mutex_t apiMutex = PTHREAD_MUTEX_INITIALIZER;
#endif
static void apiInit(const sqlite3_api_routines *pApi){
#ifdef SQLITE_CORE
  (void)pApi;
#else
  if( __atomic_load_n(&sqlite3_api, __ATOMIC_ACQUIRE)!=pApi ){
    pthread_mutex_lock(&apiMutex);
    if( sqlite3_api!=pApi ){
      __atomic_store_n(&sqlite3_api, pApi, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&apiMutex);
  }
#endif
}

/* The modules sqlite3_embed_init() registers, in order; embed_dedup and
** embed_kmeans are registered together by embToolkitRegister(). */
static const char *const azModule[] = {
  "embed_models", "embed_index", "embed_split", "embed_dedup", "embed_kmeans"
};

#ifndef SQLITE_CORE
/*
** Keep this library mapped for the life of the process.  When
** sqlite3_embed_init() fails, SQLite unloads the library; anything left
** registered would then point into unmapped code, and closing the
** connection would call a destructor there.  The library is opened again
** by its own path with RTLD_NODELETE, which makes the later dlclose() keep
** it; the handle is never closed, on purpose.
*/
static void embPinLibrary(void){
  Dl_info info;
  if( dladdr((void*)sqlite3_embed_init, &info) && info.dli_fname ){
    (void)dlopen(info.dli_fname, RTLD_NOW|RTLD_NOLOAD|RTLD_NODELETE);
  }
}
#endif

/*
** Undo a failed sqlite3_embed_init(): delete the first nFunc functions of
** aFunc[] and the first nModule modules of azModule[] (deleting one calls
** its destructor, which drops its reference to the EmbConn).  SQLite
** refuses to delete a function while a statement runs on the connection
** (SQLITE_BUSY: as when the extension is loaded by SELECT load_extension());
** then whatever stays registered must stay callable, so the library is
** pinned in memory instead.
*/
static void embUnregister(sqlite3 *db, size_t nFunc, size_t nModule){
  int bLeft = 0;
  size_t i;
  for(i=0; i<nModule; i++){
    sqlite3_create_module_v2(db, azModule[i], 0, 0, 0);
  }
  for(i=0; i<nFunc; i++){
    if( sqlite3_create_function_v2(db, aFunc[i].zName, aFunc[i].nArg,
                                   aFunc[i].flags, 0, 0, 0, 0, 0) ){
      bLeft = 1;
    }
  }
#ifndef SQLITE_CORE
  if( bLeft ) embPinLibrary();
#else
  (void)bLeft;
#endif
}

/*
** The entry point.  Either everything is registered and SQLITE_OK
** returned, or nothing stays registered (but see embUnregister()) and an
** error is returned: SQLite unloads the library after a failed init.  A
** default model that cannot be loaded for want of memory fails the load
** too (a missing or broken default model file does not: embed() then says
** why).
*/
int sqlite3_embed_init(sqlite3 *db, char **pzErrMsg,
                       const sqlite3_api_routines *pApi){
  int rc = SQLITE_OK;
  size_t i, nFunc = 0, nModule = 0;
  EmbConn *pConn;
  apiInit(pApi);
  pConn = embConnNew();
  if( pConn==0 ) return SQLITE_NOMEM;
  rc = embConnLoadDefault(pConn, EMBED_DEFAULT_MODEL);
  for(i=0; rc==SQLITE_OK && i<sizeof(aFunc)/sizeof(aFunc[0]); i++){
    void *pUser = 0;
    void (*xDestroy)(void*) = 0;
    if( aFunc[i].eUser==EMB_CONN ){
      embConnRef(pConn);
      pUser = pConn;
      xDestroy = embConnUnref;
    }
    /* On failure SQLite calls xDestroy, dropping the reference. */
    rc = sqlite3_create_function_v2(db, aFunc[i].zName, aFunc[i].nArg,
                                    aFunc[i].flags, pUser, aFunc[i].xFunc,
                                    0, 0, xDestroy);
    if( rc==SQLITE_OK ) nFunc++;
  }
  if( rc==SQLITE_OK ){
    rc = embModelsVtabRegister(db, pConn);
    if( rc==SQLITE_OK ) nModule = 1;
  }
  if( rc==SQLITE_OK ){
    rc = embIndexRegister(db, pConn);
    if( rc==SQLITE_OK ) nModule = 2;
  }
  if( rc==SQLITE_OK ){
    rc = embSplitRegister(db, pConn);
    if( rc==SQLITE_OK ) nModule = 3;
  }
  if( rc==SQLITE_OK ){
    /* Two modules: when it fails, the first may be registered. */
    rc = embToolkitRegister(db);
    nModule = 5;
  }
  if( rc ){
    embUnregister(db, nFunc, nModule);
    if( pzErrMsg ) *pzErrMsg = sqlite3_mprintf("%s", sqlite3_errstr(rc));
  }
  embConnUnref(pConn);   /* the registrations hold their own references */
  return rc;
}
