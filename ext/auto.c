/*
** auto.c: build/embed_auto.so, the extension in every connection a program
** opens, with no .load and no code in the program.
**
**     LD_PRELOAD=build/embed_auto.so sqlite3 :memory: "SELECT embed('a cat')"
**     LD_PRELOAD=$PWD/build/embed_auto.so SQLITE_EMBED_MODEL=$PWD/models/default.emb \
**         dqlite-demo --api 127.0.0.1:8001 --db 127.0.0.1:9001
**     cc app.c build/embed_auto.so -lsqlite3     (linked in: before -lsqlite3)
**
** The library holds the whole extension (the objects of build/embed.so) and
** registers sqlite3_embed_init() with sqlite3_auto_extension(), so every
** connection opened afterwards gets embed(), embed_index and the rest, and
** the default model from SQLITE_EMBED_MODEL (or the built-in path) as
** .load would give it.  It runs no SQL of its own on open: no PRAGMA (dqlite
** refuses journal_mode changes), no VACUUM (dqlite refuses it too).
**
** HOW IT WORKS
** The obvious way, a constructor that calls sqlite3_auto_extension() at
** load time, breaks programs that configure SQLite: sqlite3_auto_extension()
** calls sqlite3_initialize(), after which sqlite3_config() fails with
** SQLITE_MISUSE, and go-dqlite's package init calls
** sqlite3_config(SQLITE_CONFIG_SINGLETHREAD) and panics when that fails
** (dqlite-demo does: "set single thread mode: bad parameter or other API
** misuse").  So registration waits for the first open.  The library defines
** sqlite3_open(), sqlite3_open16() and sqlite3_open_v2(); the dynamic linker
** binds every call to those names, the program's and other libraries'
** (libdqlite's), to the first definition in the process, which is ours when
** the library is preloaded or linked before libsqlite3.  The first call
** registers the extension and every call goes on to libsqlite3's own
** function, found with dlsym(RTLD_NEXT).  By then the program is opening a
** database, so SQLite is about to initialize anyway: nothing it could still
** configure is lost.
**
** The extension's own calls into SQLite go through the routines SQLite
** hands sqlite3_embed_init() (SQLITE_EXTENSION_INIT2), the same as .load.
** A program that calls sqlite3_reset_auto_extension() removes the
** registration, as it would its own; later opens do not restore it.
** Registration that fails (out of memory) is tried again at the next open;
** the open itself goes ahead, and its connection lacks the functions.
*/
#include <sqlite3.h>
#include "sqlite-embed.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

/* The three are exported (they must be, to stand in for libsqlite3's);
** the header declares them already. */
#define AUTO_EXPORT __attribute__((visibility("default")))

static pthread_mutex_t autoMutex = PTHREAD_MUTEX_INITIALIZER;
static int autoDone = 0;             /* registered; read with atomics */

/* Register the extension once, the first time any open function runs.
** Errors are left for the next open to retry. */
static void autoRegister(void){
  if( __atomic_load_n(&autoDone, __ATOMIC_ACQUIRE) ) return;
  pthread_mutex_lock(&autoMutex);
  if( !autoDone
   && sqlite3_auto_extension((void(*)(void))sqlite3_embed_init)==SQLITE_OK ){
    __atomic_store_n(&autoDone, 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&autoMutex);
}

/* libsqlite3's own definition of zName into *pxSlot (looked up once), or
** NULL: a program that carries its own SQLite and exports nothing, or one
** that links libsqlite3 before this library. */
static void *autoNext(void **pxSlot, const char *zName){
  void *x = __atomic_load_n(pxSlot, __ATOMIC_ACQUIRE);
  if( x==0 ){
    x = dlsym(RTLD_NEXT, zName);
    __atomic_store_n(pxSlot, x, __ATOMIC_RELEASE);
  }
  return x;
}

static void *xNextOpen, *xNextOpen16, *xNextOpenV2;

AUTO_EXPORT int sqlite3_open(const char *zFilename, sqlite3 **ppDb){
  int (*xOpen)(const char*, sqlite3**) = (int(*)(const char*, sqlite3**))
      autoNext(&xNextOpen, "sqlite3_open");
  if( xOpen==0 ){
    if( ppDb ) *ppDb = 0;
    return SQLITE_ERROR;
  }
  autoRegister();
  return xOpen(zFilename, ppDb);
}

AUTO_EXPORT int sqlite3_open16(const void *zFilename, sqlite3 **ppDb){
  int (*xOpen)(const void*, sqlite3**) = (int(*)(const void*, sqlite3**))
      autoNext(&xNextOpen16, "sqlite3_open16");
  if( xOpen==0 ){
    if( ppDb ) *ppDb = 0;
    return SQLITE_ERROR;
  }
  autoRegister();
  return xOpen(zFilename, ppDb);
}

AUTO_EXPORT int sqlite3_open_v2(const char *zFilename, sqlite3 **ppDb,
                                int flags, const char *zVfs){
  int (*xOpen)(const char*, sqlite3**, int, const char*) =
      (int(*)(const char*, sqlite3**, int, const char*))
          autoNext(&xNextOpenV2, "sqlite3_open_v2");
  if( xOpen==0 ){
    if( ppDb ) *ppDb = 0;
    return SQLITE_ERROR;
  }
  autoRegister();
  return xOpen(zFilename, ppDb, flags, zVfs);
}
