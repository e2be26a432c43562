/*
** progress.h: long loops that stay interruptible -- sqlite3_interrupt()
** and the connection's progress handler honoured inside work that runs no
** SQL (embed_split, embed_dedup, embed_kmeans, embed_index's builds).
**
**     EmbProgress prog;
**     embProgressInit(&prog, db);
**     for(i=0; i<nRow; i++){
**       ...about nDims multiply-adds of work...
**       rc = embProgressTick(&prog, (sqlite3_uint64)nDims);
**       if( rc ) break;              (SQLITE_INTERRUPT, or SQLITE_NOMEM)
**     }
**     embProgressClear(&prog);
**
** WHAT A CALLER DOES
** Call embProgressTick(p, nWork) from the inner loop with an estimate of
** the work done since the last call, in units of about one element
** operation (a byte scanned, a multiply-add, a 64-bit popcount).  Ticks
** are a counter and a compare; once EMB_PROGRESS_QUANTUM units (about
** 20-70 microseconds of work) have gone by, the tick checks the
** connection (embProgressCheck()).  A non-zero return is the code to
** return from the xFilter or xNext that runs the loop -- SQLITE_INTERRUPT
** (SQLite then reports "interrupted"), or an error of the probe such as
** SQLITE_NOMEM -- and stays the answer of every later tick or check, so a
** caller may test it wherever convenient.  Nothing here sets a message.
** Call it from xFilter/xNext only (where the connection is running a
** statement), never from xBestIndex or a destructor.
**
** HOW IT WORKS
** A check asks two things of the connection:
**  - sqlite3_is_interrupted(db), where the SQLite it runs in has it (3.41
**    and later): a compile-time #ifdef on the headers it was built with
**    AND a run-time version check, since a build against new headers may
**    be loaded into an older library, whose routine table ends earlier.
**  - one sqlite3_step() of a prepared "SELECT 1" on the same connection
**    (prepared at the first check, so short calls never prepare it; about
**    80 ns a step).  On any SQLite this returns SQLITE_INTERRUPT once
**    sqlite3_interrupt() was called while a statement runs (the caller's
**    statement is running, so the flag is not cleared), and stepping it
**    runs the VM, which calls the progress handler: SQLite counts the
**    probe's instructions (4 a step) across steps, so a handler set with
**    sqlite3_progress_handler(db, N, ...) is called about every N/4
**    checks -- N = 1 every check, N = 1000 about every 10 ms of work.  A
**    handler that returns non-zero makes the step SQLITE_INTERRUPT.
** Without a connection (db NULL: stand-alone programs and unit tests) a
** check does nothing.
*/
#ifndef EMB_PROGRESS_H
#define EMB_PROGRESS_H

#include "sqlite3ext.h"

/* Units of work between two checks of the connection. */
#define EMB_PROGRESS_QUANTUM 65536u

typedef struct EmbProgress EmbProgress;
struct EmbProgress {
  sqlite3 *db;               /* NULL: checks do nothing */
  sqlite3_stmt *pProbe;      /* "SELECT 1", prepared at the first check */
  sqlite3_uint64 nWork;      /* units since the last check */
  sqlite3_uint64 nCheck;     /* checks made (tests read it) */
  int rc;                    /* SQLITE_OK, or the sticky answer */
};

/* Start watching db (which may be NULL).  Allocates nothing. */
void embProgressInit(EmbProgress *p, sqlite3 *db);

/* Check the connection now (see HOW IT WORKS).  Returns SQLITE_OK, or
** SQLITE_INTERRUPT, or another error code from preparing or stepping the
** probe; a non-zero answer is kept in p->rc and returned by every later
** call. */
int embProgressCheck(EmbProgress *p);

/* Count nWork units of work; check the connection once a quantum has
** gone by.  Returns SQLITE_OK or what embProgressCheck() returned. */
static inline int embProgressTick(EmbProgress *p, sqlite3_uint64 nWork){
  p->nWork += nWork;
  if( p->nWork<EMB_PROGRESS_QUANTUM ) return p->rc;
  return embProgressCheck(p);
}

/* Go on after a stop (a new xFilter on the same cursor): forget the
** sticky answer and the work counted, keep the probe. */
static inline void embProgressReset(EmbProgress *p){
  p->rc = SQLITE_OK;
  p->nWork = 0;
}

/* Finalize the probe.  Safe on a zeroed or already cleared EmbProgress;
** the object may be initialised again afterwards. */
void embProgressClear(EmbProgress *p);

#endif /* EMB_PROGRESS_H */
