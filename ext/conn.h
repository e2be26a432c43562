/*
** conn.h: what the extension keeps per database connection.
**
** Each connection that loads the extension gets one EmbConn, shared by all
** of its functions and modules as their user data: the models registered
** in this connection by name (each holding a reference to the process-wide
** mapping), why the default model is missing when it is, and reusable
** scratch space.  A connection is used by one thread at a time, so none of
** this needs a lock.
*/
#ifndef EMB_CONN_H
#define EMB_CONN_H

#include "sqlite3ext.h"
#include "metrics.h"
#include "model.h"
#include "tokenizer.h"

typedef struct EmbConnModel EmbConnModel;
struct EmbConnModel {
  char *zName;
  EmbModel *pModel;          /* a reference owned by this entry */
  EmbSeries *pSeries;        /* embed_metrics() counters for this name */
  EmbConnModel *pNext;
};

typedef struct EmbConn EmbConn;
struct EmbConn {
  int nRef;                  /* registrations holding this object */
  EmbConnModel *pList;       /* named models, most recently added first */
  char *zDefaultErr;         /* why 'default' could not be loaded, or NULL */
  EmbTokens tokens;          /* scratch token buffer, reused */
};

/* A new EmbConn with one reference, or NULL when out of memory. */
EmbConn *embConnNew(void);

/* Reference counting; the destructor passed to sqlite3_create_*_v2(). */
void embConnRef(EmbConn *p);
void embConnUnref(void *p);

/* The model registered as zName, or NULL.  No reference is added. */
EmbModel *embConnFind(EmbConn *p, const char *zName);

/* The entry registered as zName (its model and metrics), or NULL. */
EmbConnModel *embConnFindEntry(EmbConn *p, const char *zName);

/* Register pModel as zName, replacing any model of that name.  Takes over
** the caller's reference to pModel (released here on failure).  Returns
** SQLITE_OK or SQLITE_NOMEM. */
int embConnSet(EmbConn *p, const char *zName, EmbModel *pModel);

/* Why no model is registered as zName, as a message from sqlite3_mprintf()
** for the caller to prefix and free: "no model named 'x' (load one with
** embed_load('x', 'PATH.emb'))", or for 'default' why it did not load.
** NULL when out of memory. */
char *embConnMissingModel(EmbConn *p, const char *zName);

/*
** Tokenize the bytes z[0..n) with pModel into p->tokens (replacing what it
** held), counting the call and its tokens in pModel's counters.  The bytes
** are read as UTF-8, each maximal invalid subpart becoming U+FFFD; z may be
** NULL when n is 0.  Returns SQLITE_OK or SQLITE_NOMEM.
*/
int embConnTokenize(EmbConn *p, EmbModel *pModel, const char *z, size_t n);

/*
** What embed(z, nDims) returns: the mean of the rows of the tokens of
** z[0..n) (as embConnTokenize() reads it), truncated to its first nDims
** components (1 <= nDims <= pModel->nDims), L2-normalised, written to
** aOut[0..nDims); all zeros when there are no tokens.  Returns SQLITE_OK or
** SQLITE_NOMEM.
*/
int embEmbedText(EmbConn *p, EmbModel *pModel, const char *z, size_t n,
                 int nDims, float *aOut);

/* Load the default model: $SQLITE_EMBED_MODEL, else zDefaultPath.  When
** the file cannot be used, records the reason, with how to provide a
** model, in p->zDefaultErr and returns SQLITE_OK (the extension still
** loads); returns SQLITE_NOMEM when memory ran out. */
int embConnLoadDefault(EmbConn *p, const char *zDefaultPath);

#endif /* EMB_CONN_H */
