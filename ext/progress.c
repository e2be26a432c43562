/*
** progress.c: the connection checks behind embProgressTick() -- whether
** sqlite3_interrupt() was called, and the progress handler run -- for
** loops that run no SQL.  The manual is in progress.h.
*/
#include "progress.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

/* sqlite3_is_interrupted() exists from SQLite 3.41.0 (3041000).  Built
** against older headers there is no such routine to call; built against
** newer ones, the library it is loaded into may still be older. */
#if defined(SQLITE_VERSION_NUMBER) && SQLITE_VERSION_NUMBER>=3041000
# define EMB_HAVE_IS_INTERRUPTED 1
#else
# define EMB_HAVE_IS_INTERRUPTED 0
#endif

void embProgressInit(EmbProgress *p, sqlite3 *db){
  memset(p, 0, sizeof(*p));
  p->db = db;
}

int embProgressCheck(EmbProgress *p){
  int rc;
  p->nWork = 0;
  if( p->rc || p->db==0 ) return p->rc;
  p->nCheck++;
#if EMB_HAVE_IS_INTERRUPTED
  if( sqlite3_libversion_number()>=3041000 && sqlite3_is_interrupted(p->db) ){
    p->rc = SQLITE_INTERRUPT;
    return p->rc;
  }
#endif
  if( p->pProbe==0 ){
    rc = sqlite3_prepare_v2(p->db, "SELECT 1", -1, &p->pProbe, 0);
    if( rc!=SQLITE_OK ){
      p->rc = rc;
      return rc;
    }
  }
  rc = sqlite3_step(p->pProbe);
  sqlite3_reset(p->pProbe);
  if( rc!=SQLITE_ROW ){
    /* SQLITE_INTERRUPT (an interrupt, or the progress handler said stop),
    ** or what stepping met (SQLITE_NOMEM). */
    p->rc = rc==SQLITE_DONE ? SQLITE_ERROR : rc;
  }
  return p->rc;
}

void embProgressClear(EmbProgress *p){
  sqlite3_finalize(p->pProbe);
  p->pProbe = 0;
}
