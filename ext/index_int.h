/*
** index_int.h: what the three parts of embed_index share.
**
**     ext/index.c          the virtual table: options, xBestIndex/xFilter,
**                          cursors, xUpdate, transactions
**     ext/index_store.c    chunked storage: the shadow tables, the
**                          in-memory chunks that mirror them, writes,
**                          refresh after other connections' commits,
**                          format 1 read in place and migrated
**     ext/index_search.c   the search cascade over the chunks
**
** Nothing here is visible outside the extension.  See index_store.c for
** the storage format and index_search.c for the cascade.
*/
#ifndef EMB_INDEX_INT_H
#define EMB_INDEX_INT_H

#include "sqlite3ext.h"
#include "conn.h"
#include "metrics.h"
#include "progress.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define INDEX_MAX_K          10000
#define INDEX_MAX_DIMS       65536
#define INDEX_MAX_OVERSAMPLE 1000
#define INDEX_FORMAT         2        /* of the shadow tables, written */

#define INDEX_QUANT_BINARY   0
#define INDEX_QUANT_NONE     1

/* Slots of a chunk: a power of two, a multiple of 64.  The first chunk
** starts at INDEX_CHUNK_MIN slots and doubles up to INDEX_CHUNK_MAX as it
** fills; a chunk after a full one starts at INDEX_CHUNK_MAX. */
#define INDEX_CHUNK_SHIFT    12
#define INDEX_CHUNK_MAX      (1u<<INDEX_CHUNK_SHIFT)     /* 4096 */
#define INDEX_CHUNK_MIN      64u

/* Bytes allocated past the end of a fine image: the 4-bit kernel reads
** whole 32-byte steps (kernels.h, xFineScan). */
#define INDEX_FINE_SLACK     32

/*
** A chunk of up to INDEX_CHUNK_MAX rows, as the shadow tables hold it and
** as it is held in memory: the two are the same bytes.
**
**   aImg   NAME_codes.data: valid bitmap (nCap/8 bytes: bit i of byte i/8
**          set when slot i holds a row), rowids (nCap int64, little-
**          endian; left out of a dense chunk), codes (nCap x nStride
**          bytes: sign bits, zero-padded to nStride, for quant=binary;
**          float32 vectors for quant=none)
**   A dense chunk (bDense, NAME_chunks.base not NULL) holds in slot i the
**   row iBase + i, so its image needs no rowids: rows inserted in rowid
**   order, the common case, cost no rowid bytes to read or keep.  A write
**   that breaks the rule makes the chunk explicit (chunkExplicit()), for
**   good.
**   aFine  NAME_fine.data (quant=binary): scales (nCap float32), then
**          4-bit codes (nCap x nFine bytes).  NULL while not in memory
**          (a large index's first queries do without, index_search.c).
*/
typedef struct IndexChunk IndexChunk;
struct IndexChunk {
  sqlite3_int64 iId;         /* NAME_chunks.id, from 1 */
  sqlite3_int64 iVersion;    /* NAME_chunks.version mirrored; -1: stale */
  uint32_t nCap;             /* slots */
  uint32_t nUsed;            /* slots ever used (appends go here) */
  uint32_t nLive;            /* slots holding a row */
  sqlite3_int64 iBase;       /* bDense: the rowid of slot 0 */
  uint8_t bDense;            /* no rowids in aImg: slot i is row iBase+i */
  uint8_t *aImg;
  uint8_t *aFine;
  /* Changes not yet written to the shadow tables (index_store.c): */
  uint32_t iLo, iHi;         /* dirty slots [iLo, iHi); iLo>=iHi: none */
  uint8_t bNew;              /* not in the shadow tables yet */
  uint8_t bWhole;            /* write the images whole (new or grown) */
  uint8_t bMeta;             /* NAME_chunks row to update */
  uint8_t bTouched;          /* changed by this transaction */
  uint8_t bFineLag;          /* read again after another connection's
                             ** commit, its 4-bit codes not (yet) */
};

/* The cache: every chunk of the index, in memory, sorted by iId. */
typedef struct IndexCache IndexCache;
struct IndexCache {
  sqlite3_int64 iGen;        /* the NAME_config generation mirrored */
  int bLegacy;               /* built from format-1 tables: no fine codes */
  int bDrop;                 /* rolled back: rebuild at the next use */
  int nChunk, nChunkAlloc;
  IndexChunk **apChunk;
  sqlite3_int64 nRow;        /* live rows, all chunks */
  int iHole;                 /* no chunk before this one has a free slot
                             ** below its nUsed */
  /* rowid -> position hash (open addressing, linear probing), built on
  ** first need (writes, rowid filters): entries are position+1, where a
  ** position is chunk index << INDEX_CHUNK_SHIFT | slot; 0 is empty. */
  uint32_t *aSlot;
  uint32_t nSlot;            /* a power of two, or 0: no hash */
  int nShift;
  uint32_t nHashed;
  int bFineKeep;             /* a search of this large index has read its
                             ** 4-bit codes: a commit keeps them */
};

/* A result or candidate: distance (or estimate) and rowid. */
typedef struct IndexHit IndexHit;
struct IndexHit {
  double d;
  sqlite3_int64 iRowid;
  uint32_t iPos;             /* position in the cache (candidates) */
};

/* Statements on the shadow tables, prepared on first use and kept
** (embIndexStmt()).  The SQL texts are in index.c. */
#define STMT_GEN_GET       0
#define STMT_GEN_BUMP      1
#define STMT_DATA_INSERT   2
#define STMT_DATA_DELETE   3
#define STMT_DATA_UPDATE   4
#define STMT_DATA_VECTOR   5
#define STMT_DATA_CONTENT  6
#define STMT_DATA_EXISTS   7
#define STMT_CHUNK_LIST    8
#define STMT_CHUNK_INSERT  9
#define STMT_CHUNK_UPDATE  10
#define STMT_CODES_PUT     11
#define STMT_FINE_PUT      12
#define INDEX_NSTMT        13

typedef struct index_vtab index_vtab;
struct index_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
  EmbConn *pConn;            /* a reference: the connection's models */
  char *zDb;                 /* schema: "main", "temp", an attached name */
  char *zName;               /* the table's name */
  char *zModel;              /* model name, or NULL: vectors only */
  char *zBroken;             /* why the index cannot be used (a bad
                             ** NAME_config), or NULL; it can still be
                             ** dropped and renamed */
  int iFormat;               /* of the shadow tables: 1 or 2; 0 unknown
                             ** (a rollback may have undone a migration) */
  int nDims;
  int eQuant;                /* INDEX_QUANT_* */
  int nOversample;           /* exact candidates per result */
  int bAutoOversample;       /* oversample not given: the planner's */
  int bStoreContent;
  size_t nStride;            /* bytes of a row's code in aImg */
  size_t nFine;              /* bytes of a row's 4-bit code */
  IndexCache *pCache;        /* NULL until first needed */
  int bStreamed;             /* a search has run without the cache
                             ** (embSearchStream()): the next builds it */
  IndexHit *aScratch;        /* the search's candidate list, kept */
  int nScratch;
  int bGenBumped;            /* this transaction bumped the generation */
  sqlite3_int64 nWrite;      /* xUpdate calls, ever: a search's hits are
                             ** reused only while it stays the same */
  int bMigrated;             /* this transaction migrated format 1 */
  EmbSeries *pSeries;        /* embed_metrics() counters, "schema.table";
                             ** NULL until the first query */
  sqlite3_int64 nCallRead;   /* bytes read from the chunk tables since the
                             ** xFilter in progress began (index.c) */
  sqlite3_stmt *aStmt[INDEX_NSTMT];
  /* sqlite3_interrupt() and the progress handler, watched by the long
  ** loops (loading, migrating, scanning) of the call in progress: set up
  ** and cleared by index.c around each xFilter, xNext and xUpdate. */
  EmbProgress prog;
};

/* What a MATCH query asks for besides the vector. */
typedef struct IndexQuery IndexQuery;
struct IndexQuery {
  const float *aQ;           /* the query vector, nDims floats */
  int nK;
  int eMax;                  /* 0, or the distance bound: 1 '<', 2 '<=' */
  double rMax;
  const sqlite3_int64 *aRowid;  /* rowid IN filter, sorted, or NULL */
  int nRowid;
};

/* What one search did (index_search.c): for tests and benchmarks. */
typedef struct IndexPlan IndexPlan;
struct IndexPlan {
  sqlite3_int64 nScan;       /* rows the first stage looked at */
  int nCand1;                /* kept by the Hamming stage (0: skipped) */
  int nCand2;                /* kept by the 4-bit stage (0: skipped) */
  int nExact;                /* float vectors read for exact distances */
};

/* ---- index.c ---------------------------------------------------------- */

/* Set the table's error message (from sqlite3_mprintf(), taken over) and
** return rc, or SQLITE_NOMEM when zErr is NULL. */
int embIndexError(index_vtab *p, int rc, char *zErr);

/* The error of a failed statement on the shadow tables. */
int embIndexSqlError(index_vtab *p, int rc);

/* Statement iStmt (STMT_*), prepared on first use.  Returns SQLITE_OK or
** an error (message set). */
int embIndexStmt(index_vtab *p, int iStmt, sqlite3_stmt **ppStmt);

/* Run a bound statement that returns no rows, then reset it. */
int embIndexStmtRun(index_vtab *p, sqlite3_stmt *pStmt);

/* Corruption of the shadow tables, in one message form:
** "embed_index: shadow table 'NAME_zTable' is corrupt: zWhat". */
int embIndexCorrupt(index_vtab *p, const char *zTable, char *zWhat);

/* 1 - cosine(a, b) for float32 vectors of n elements, as cosine()
** computes it.  Returns 0 when either has no direction. */
int embIndexDistance(const uint8_t *a, const uint8_t *b, size_t n,
                     double *pD);

/* ---- index_store.c ---------------------------------------------------- */

/* The shadow tables of a new index (format 2) and its configuration. */
int embStoreCreate(index_vtab *p, char **pzErr);

/* The names of the shadow tables, for xShadowName: 1 if zSuffix is one. */
int embStoreIsShadow(const char *zSuffix);

/* SQL that drops (zNew NULL) or renames to zNew every shadow table that
** exists, or NULL when out of memory; sqlite3_free() it. */
char *embStoreDdl(index_vtab *p, const char *zNew);

/* Make p->pCache mirror the shadow tables (build it, or refresh what
** other connections' commits changed).  bHash: the rowid hash too. */
int embStoreReady(index_vtab *p, int bHash);

void embStoreFree(IndexCache *c);

/* Writes.  Each is called after embStoreWriteBegin() in the transaction,
** which also builds the rowid hash; the chunks change in memory and reach
** the shadow tables at embStoreFlush().  A row is written in two steps so
** that xUpdate can change NAME_data in between: embStoreReserve() finds
** or makes the row's slot and the memory it needs (it may fail, and then
** nothing has changed), embStoreApply() sets the row's rowid and codes
** from its float32 vector aVec (nDims elements) and cannot fail.
** embStoreRemove() and embStoreRekey() cannot fail either (a rowid that is
** not there is left alone); embStoreRekeyReserve(), before, makes the
** memory a new rowid needs. */
typedef struct IndexSlot IndexSlot;
struct IndexSlot {
  int iChunk;
  uint32_t iSlot;
  int bNew;                  /* a free slot, not the row's own */
};
int embStoreWriteBegin(index_vtab *p);
int embStoreReserve(index_vtab *p, sqlite3_int64 iRowid, IndexSlot *pSlot);
void embStoreApply(index_vtab *p, const IndexSlot *pSlot, sqlite3_int64 iRowid,
                   const uint8_t *aVec);
void embStoreRemove(index_vtab *p, sqlite3_int64 iRowid);
int embStoreRekeyReserve(index_vtab *p, sqlite3_int64 iOld, sqlite3_int64 iNew);
void embStoreRekey(index_vtab *p, sqlite3_int64 iOld, sqlite3_int64 iNew);
int embStoreFlush(index_vtab *p);
/* After ROLLBACK or ROLLBACK TO: drop what the shadow tables no longer
** hold (the chunks this transaction changed are read again). */
void embStoreRollback(index_vtab *p);
void embStoreCommitted(index_vtab *p);

/* Position of iRowid in the cache, or -1 (the hash must be built). */
sqlite3_int64 embStoreFind(const IndexCache *c, sqlite3_int64 iRowid);

/* The rowid in slot i of chunk c, and where c's codes start. */
static inline sqlite3_int64 embChunkRowid(const IndexChunk *c, uint32_t i){
  sqlite3_int64 r;
  if( c->bDense ) return c->iBase + (sqlite3_int64)i;
  memcpy(&r, c->aImg + c->nCap/8 + (size_t)8*i, 8);
  return r;
}
static inline const uint8_t *embChunkCodes(const IndexChunk *c){
  return c->aImg + c->nCap/8 + (c->bDense ? 0 : (size_t)8*c->nCap);
}
static inline int embChunkValid(const IndexChunk *c, uint32_t i){
  return (c->aImg[i>>3] >> (i&7)) & 1;
}

/* Where slot i's scale and 4-bit code lie in c's fine image (aFine). */
static inline uint8_t *embChunkFineScale(const IndexChunk *c, uint32_t i){
  return c->aFine + (size_t)4*i;
}
static inline uint8_t *embChunkFineCode(const index_vtab *p,
                                        const IndexChunk *c, uint32_t i){
  return c->aFine + (size_t)4*c->nCap + p->nFine*(size_t)i;
}

/* A connection's first search, before it has a cache (index_search.c):
** the sign bits read once, a chunk at a time into one buffer, and kept
** nowhere, so that a new process's first answer waits for them alone and
** for no memory of its own.  embStoreStreamOpen() reads the chunk list as
** the cache would (*pbOk 0: not format 2, read the cache way);
** embStoreStreamRead(s, i) reads chunk i's image into s->aBuf and points
** s->aChunk[i].aImg at it (chunk i-1's no longer), checked as a load is. */
typedef struct IndexStream IndexStream;
struct IndexStream {
  IndexChunk *aChunk;        /* every chunk, from NAME_chunks */
  int nChunk;
  sqlite3_int64 nRow;        /* live rows, all chunks */
  uint8_t *aBuf;             /* the image read last */
  size_t nBuf;
};
int embStoreStreamOpen(index_vtab *p, IndexStream *s, int *pbOk);
int embStoreStreamRead(index_vtab *p, IndexStream *s, int i);
void embStoreStreamClose(IndexStream *s);

/* Bring chunk iChunk's fine image into memory. */
int embStoreChunkFine(index_vtab *p, int iChunk);

/* A large index's 4-bit codes, brought into memory a few chunks a query:
** the fine images of the chunks that lack them, in chunk order, while the
** call in progress has read fewer than nBudget bytes (so one chunk's past
** it at most).  A chunk read again after another connection's commit
** (bFineLag) is left without them while such chunks hold at most 1 /
** INDEX_FINE_LAG_SHARE of the rows: its rows go to the exact stage, a few
** B-tree lookups a query, where reading its codes again after every
** commit that changed it would cost that commit's reader the whole image.
** *pbUse: the 4-bit stage can run (every chunk's codes are in memory but
** those left so). */
#define INDEX_FINE_LAG_SHARE 64
int embStoreFineWarm(index_vtab *p, sqlite3_int64 nBudget, int *pbUse);

/* Up to this many bytes of 4-bit codes, an index is small: every row is
** estimated with its 4-bit code (index_search.c; a new connection reads
** them all at its first query), and a connection keeps them in memory.
** On real text at 64 and 128 dims the sign bits need a sixth of the rows
** as candidates to keep 99% of the top 10 (bench/INDEX.md).  A larger
** index is searched with its sign bits first, and its 4-bit codes only
** narrow the candidates the sign bits keep, once a connection has read
** them all (embStoreFineWarm()). */
#define INDEX_FINE_SCAN_BYTES (16u<<20)
static inline int embIndexFineScan(const index_vtab *p, sqlite3_int64 nRows){
  return (sqlite3_int64)p->nFine*nRows <= (sqlite3_int64)INDEX_FINE_SCAN_BYTES;
}


/* ---- index_search.c --------------------------------------------------- */

/* Run query q over the ready cache: *paHit (sqlite3_malloc'd, nearest
** first, the caller frees it) and *pnHit; the plan taken into *pPlan when
** not NULL. */
int embSearch(index_vtab *p, const IndexQuery *q, IndexHit **paHit,
              int *pnHit, IndexPlan *pPlan);

/* A connection's first search, before it has a cache: the sign bits read
** once and kept nowhere (see index_search.c), for a large index and no
** rowid filter; *pbDone 0 otherwise (nothing done: embStoreReady() and
** embSearch()).  The answer is the one embSearch() gives before the 4-bit
** codes are in memory. */
int embSearchStream(index_vtab *p, const IndexQuery *q, IndexHit **paHit,
                    int *pnHit, IndexPlan *pPlan, int *pbDone);

/* The 4-bit code of the float32 vector aVec (nDims elements) of the fine
** stage: *pScale and aOut[0..(nDims+1)/2). */
void embFineEncode(const uint8_t *aVec, int nDims, float *pScale,
                   uint8_t *aOut);

#endif /* EMB_INDEX_INT_H */
