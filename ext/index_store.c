/*
** index_store.c: embed_index's chunked storage, and the cache that mirrors
** it in each connection.
**
**     embStoreCreate(p)            shadow tables of a new index
**     embStoreReady(p, bHash)      the cache, built or refreshed
**     embStoreStreamOpen(p, &s, &bOk)  or, before it, each chunk's image
**     embStoreStreamRead(p, &s, i)      in turn (a first search)
**     embStoreWriteBegin(p)        then embStorePut/Remove/Rekey ...
**     embStoreFlush(p)             ... written at xSync and xSavepoint
**
** THE SHADOW TABLES (format 2)
**   NAME_config(key TEXT PRIMARY KEY, value) WITHOUT ROWID
**       format 2, model, dims, quant, oversample, store_content, and
**       generation: a counter every transaction that writes the index
**       increments (once);
**   NAME_data(id INTEGER PRIMARY KEY, vector BLOB NOT NULL, content)
**       each row's float32 vector (read by the exact stage of a search)
**       and content;
**   NAME_chunks(id INTEGER PRIMARY KEY, version, cap, used, live, base)
**       one small row per chunk: its capacity in slots (64 .. 4096, a
**       power of two), the slots ever used, the slots holding a row,
**       version: the generation of the last transaction that changed it,
**       and base: NULL, or the rowid of slot 0 of a dense chunk (slot i
**       holds row base+i, so its image has no rowids);
**   NAME_codes(id INTEGER PRIMARY KEY, data BLOB NOT NULL)
**       per chunk, the image IndexChunk.aImg describes: a validity bitmap,
**       the rowids (not in a dense chunk), the codes (sign bits; float
**       vectors with quant=none);
**   NAME_fine(id INTEGER PRIMARY KEY, data BLOB NOT NULL)   quant=binary
**       per chunk, IndexChunk.aFine: a scale and a 4-bit code per slot.
** Format 1 (up to f1dbee8) had NAME_code(id, code), one row per vector,
** instead of the three chunk tables.  It is read in place, as it always
** was; the first write migrates it (below).
**
** HOW IT WORKS
** Reading.  A connection loads each chunk's NAME_codes image with one
** sqlite3_blob_read(): a million rows of 256 dims are 245 chunks, about
** 32 MB when they are dense (40 MB with rowids), in memory from pages.c
** (huge pages).  The 4-bit codes are read a NAME_fine image a chunk: all
** at the first search of an index small enough to estimate every row
** with them (index_search.c); for a large one a few chunks a search, after
** the first, as embStoreFineWarm()'s budget allows.  A large index's first
** search runs before there is a cache: embStoreStreamOpen() and
** embStoreStreamRead() give it each chunk's image in turn, in one buffer,
** and the second search builds the cache.  A writer reads back the
** fine image of each chunk it changes; in a large index it has not
** searched, it drops them after its commit (but the last chunk's).
** Each use compares the cache's generation with NAME_config's; when
** another connection has committed, the NAME_chunks rows say which chunks
** changed (their version), and only those are read again: their sign
** bits; their 4-bit codes lag (IndexChunk.bFineLag) until
** embStoreFineWarm() wants them.  The cache is
** keyed on nothing else (not PRAGMA data_version, not the connection), so
** it stays right wherever the file's pages come from (a replica, a
** restored copy).
**
** Writing.  The first write of a transaction brings the cache up to date
** and increments the generation.  Rows then change in the in-memory
** chunks at once (so the transaction's own queries see them), and the
** changed slots are written to the shadow tables by embStoreFlush(): at
** xSync, just before the commit, and at xSavepoint, so that each
** savepoint's changes are in the tables before SQLite's journal can roll
** them back.  A flush writes each changed chunk's dirty slots in place
** with sqlite3_blob_write(), or the whole images for a chunk that is new
** or has grown or lost its density, and its NAME_chunks row with the new
** version.  After a
** ROLLBACK or ROLLBACK TO the chunks this transaction touched are marked
** stale and read again.  A new row takes a free slot of the lowest chunk
** with one (the holes deletes leave), else the end of the last chunk,
** which doubles its capacity up to 4096 slots before a new chunk begins.
** A chunk begins dense; the first row whose rowid is not base+slot (a
** hole reused by a new rowid, a rowid changed, rows out of order) makes it
** explicit, rewritten whole at the flush.
**
** Migration.  The first write to a format-1 index creates the chunk
** tables, fills them from NAME_data's vectors (every code computed
** afresh), empties NAME_code (kept, empty, until the index is dropped:
** SQLite cannot drop a table while the INSERT that triggered this runs)
** and records format 2, all in the writing transaction.
**
** Errors.  Every size and count read from the shadow tables is checked;
** a mismatch is SQLITE_CORRUPT_VTAB with a message naming the table.
*/
#include "index_int.h"
#include "kernels.h"
#include "pages.h"

#include <math.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* ------------------------------------------------------------------------
** Sizes
*/

/* A dense chunk's base is at most BASE_MAX, so that base + slot cannot
** overflow in a chunk of any capacity. */
#define ROWID_MIN  (-(sqlite3_int64)0x7fffffffffffffffLL - 1)
#define BASE_MAX   ((sqlite3_int64)0x7fffffffffffffffLL - (INDEX_CHUNK_MAX-1))

/* Bytes of rowid a slot takes in a chunk's image. */
static size_t rowidBytes(int bDense){
  return bDense ? 0 : 8;
}

static size_t imgBytes(const index_vtab *p, uint32_t nCap, int bDense){
  return (size_t)nCap/8 + (rowidBytes(bDense) + p->nStride)*(size_t)nCap;
}

static size_t chunkImgBytes(const index_vtab *p, const IndexChunk *c){
  return imgBytes(p, c->nCap, c->bDense);
}

static size_t fineBytes(const index_vtab *p, uint32_t nCap){
  return (size_t)nCap*(4 + p->nFine);
}

static int hasFine(const index_vtab *p){
  return p->eQuant==INDEX_QUANT_BINARY;
}

/* Set slot i's rowid in an explicit chunk. */
static void chunkSetRowid(IndexChunk *c, uint32_t i, sqlite3_int64 iRowid){
  memcpy(c->aImg + c->nCap/8 + (size_t)8*i, &iRowid, 8);
}

static uint8_t *chunkCodesW(IndexChunk *c){
  return (uint8_t*)embChunkCodes(c);
}

static void chunkFree(IndexChunk *c){
  if( c==0 ) return;
  embPagesFree(c->aImg);
  embPagesFree(c->aFine);
  sqlite3_free(c);
}

void embStoreFree(IndexCache *c){
  int i;
  if( c==0 ) return;
  for(i=0; i<c->nChunk; i++) chunkFree(c->apChunk[i]);
  sqlite3_free(c->apChunk);
  sqlite3_free(c->aSlot);
  sqlite3_free(c);
}

static void metricsRead(index_vtab *p, int64_t nByte){
  p->nCallRead += nByte;
  if( p->pSeries ) embMetricsChunkRead(p->pSeries, 1, nByte);
}

/* ------------------------------------------------------------------------
** The rowid hash
*/

static uint32_t hashOf(const IndexCache *c, sqlite3_int64 iRowid){
  return (uint32_t)(((uint64_t)iRowid * 0x9E3779B97F4A7C15ull) >> c->nShift);
}

static sqlite3_int64 rowidAt(const IndexCache *c, uint32_t iPos){
  const IndexChunk *pC = c->apChunk[iPos>>INDEX_CHUNK_SHIFT];
  return embChunkRowid(pC, iPos & (INDEX_CHUNK_MAX-1));
}

sqlite3_int64 embStoreFind(const IndexCache *c, sqlite3_int64 iRowid){
  uint32_t mask, h;
  if( c->nSlot==0 ) return -1;
  mask = c->nSlot - 1;
  for(h=hashOf(c, iRowid);; h=(h+1)&mask){
    uint32_t s = c->aSlot[h];
    if( s==0 ) return -1;
    if( rowidAt(c, s-1)==iRowid ) return s-1;
  }
}

static void hashAdd(IndexCache *c, uint32_t iPos){
  uint32_t mask = c->nSlot - 1, h = hashOf(c, rowidAt(c, iPos));
  while( c->aSlot[h] ) h = (h+1)&mask;
  c->aSlot[h] = iPos + 1;
  c->nHashed++;
}

/* Remove position iPos (whose rowid is still readable) from the hash,
** moving later entries of its probe run back into the hole. */
static void hashRemove(IndexCache *c, uint32_t iPos){
  uint32_t mask = c->nSlot - 1, i = hashOf(c, rowidAt(c, iPos)), j;
  while( c->aSlot[i]!=iPos+1 ){
    if( c->aSlot[i]==0 ) return;           /* not there */
    i = (i+1)&mask;
  }
  for(j=i;;){
    uint32_t h;
    j = (j+1)&mask;
    if( c->aSlot[j]==0 ) break;
    h = hashOf(c, rowidAt(c, c->aSlot[j]-1));
    /* The entry at j may move to i unless its home h lies in (i, j]. */
    if( i<=j ? (i<h && h<=j) : (i<h || h<=j) ) continue;
    c->aSlot[i] = c->aSlot[j];
    i = j;
  }
  c->aSlot[i] = 0;
  c->nHashed--;
}

static void hashAddChunk(IndexCache *c, int iChunk){
  const IndexChunk *pC = c->apChunk[iChunk];
  uint32_t i;
  for(i=0; i<pC->nUsed; i++){
    if( embChunkValid(pC, i) ){
      hashAdd(c, ((uint32_t)iChunk<<INDEX_CHUNK_SHIFT) | i);
    }
  }
}

static void hashRemoveChunk(IndexCache *c, int iChunk){
  const IndexChunk *pC = c->apChunk[iChunk];
  uint32_t i;
  for(i=0; i<pC->nUsed; i++){
    if( embChunkValid(pC, i) ){
      hashRemove(c, ((uint32_t)iChunk<<INDEX_CHUNK_SHIFT) | i);
    }
  }
}

/* Make the hash hold every row, at most half full, with room for nMore
** more rows.  Returns SQLITE_OK, SQLITE_NOMEM or SQLITE_FULL. */
static int hashReserve(IndexCache *c, sqlite3_int64 nMore){
  uint64_t nWant = (uint64_t)(c->nRow + nMore)*2 + 2;
  uint32_t nSlot = 1024, *aNew;
  int nBits = 10, i;
  if( c->nSlot && nWant<=c->nSlot ) return SQLITE_OK;
  while( nSlot<nWant ){
    if( nSlot>=0x80000000u ) return SQLITE_FULL;
    nSlot *= 2;
    nBits++;
  }
  /* Grow by more than asked, so that inserts rehash O(log n) times. */
  if( c->nSlot && nSlot<0x80000000u ){ nSlot *= 2; nBits++; }
  aNew = sqlite3_malloc64(sizeof(uint32_t)*(size_t)nSlot);
  if( aNew==0 ) return SQLITE_NOMEM;
  memset(aNew, 0, sizeof(uint32_t)*(size_t)nSlot);
  sqlite3_free(c->aSlot);
  c->aSlot = aNew;
  c->nSlot = nSlot;
  c->nShift = 64 - nBits;
  c->nHashed = 0;
  for(i=0; i<c->nChunk; i++) hashAddChunk(c, i);
  return SQLITE_OK;
}

static void hashDrop(IndexCache *c){
  sqlite3_free(c->aSlot);
  c->aSlot = 0;
  c->nSlot = 0;
  c->nHashed = 0;
}

/* ------------------------------------------------------------------------
** Chunks in memory
*/

/* A new empty chunk of nCap slots (its fine image too, when the index has
** one).  NULL when out of memory. */
static IndexChunk *chunkNew(const index_vtab *p, sqlite3_int64 iId,
                            uint32_t nCap){
  IndexChunk *c = sqlite3_malloc64(sizeof(*c));
  if( c==0 ) return 0;
  memset(c, 0, sizeof(*c));
  c->iId = iId;
  c->iVersion = -1;
  c->nCap = nCap;
  c->bDense = 1;
  c->aImg = embPagesAlloc(imgBytes(p, nCap, 1), EMB_PAGES_CODES);
  if( c->aImg ) memset(c->aImg, 0, imgBytes(p, nCap, 1));
  if( c->aImg && hasFine(p) ){
    c->aFine = embPagesAlloc(fineBytes(p, nCap) + INDEX_FINE_SLACK,
                             EMB_PAGES_FINE);
    if( c->aFine ) memset(c->aFine, 0, fineBytes(p, nCap) + INDEX_FINE_SLACK);
  }
  if( c->aImg==0 || (hasFine(p) && c->aFine==0) ){
    chunkFree(c);
    return 0;
  }
  return c;
}

/* Double chunk c's capacity (its images re-laid out).  The fine image must
** be in memory. */
static int chunkGrow(const index_vtab *p, IndexChunk *c){
  uint32_t nOld = c->nCap, nNew = nOld*2;
  size_t nRowid = rowidBytes(c->bDense);
  uint8_t *aImg = embPagesAlloc(imgBytes(p, nNew, c->bDense),
                                EMB_PAGES_CODES);
  uint8_t *aFine = 0;
  if( aImg==0 ) return SQLITE_NOMEM;
  if( hasFine(p) ){
    aFine = embPagesAlloc(fineBytes(p, nNew) + INDEX_FINE_SLACK,
                          EMB_PAGES_FINE);
    if( aFine==0 ){
      embPagesFree(aImg);
      return SQLITE_NOMEM;
    }
    memset(aFine, 0, fineBytes(p, nNew) + INDEX_FINE_SLACK);
    memcpy(aFine, c->aFine, (size_t)4*nOld);
    memcpy(aFine + (size_t)4*nNew, c->aFine + (size_t)4*nOld,
           p->nFine*(size_t)nOld);
  }
  memset(aImg, 0, imgBytes(p, nNew, c->bDense));
  memcpy(aImg, c->aImg, nOld/8);
  memcpy(aImg + nNew/8, c->aImg + nOld/8, nRowid*nOld);
  memcpy(aImg + nNew/8 + nRowid*nNew, c->aImg + nOld/8 + nRowid*nOld,
         p->nStride*(size_t)nOld);
  embPagesFree(c->aImg);
  embPagesFree(c->aFine);
  c->aImg = aImg;
  c->aFine = aFine;
  c->nCap = nNew;
  c->bWhole = 1;
  return SQLITE_OK;
}

/* Make dense chunk c explicit: its image re-laid out with every slot's
** rowid (0 in a free slot), written whole at the next flush. */
static int chunkExplicit(const index_vtab *p, IndexChunk *c){
  uint32_t n = c->nCap, i;
  uint8_t *aImg;
  if( !c->bDense ) return SQLITE_OK;
  aImg = embPagesAlloc(imgBytes(p, n, 0), EMB_PAGES_CODES);
  if( aImg==0 ) return SQLITE_NOMEM;
  memcpy(aImg, c->aImg, n/8);
  for(i=0; i<n; i++){
    sqlite3_int64 r = embChunkValid(c, i) ? c->iBase + (sqlite3_int64)i : 0;
    memcpy(aImg + n/8 + (size_t)8*i, &r, 8);
  }
  memcpy(aImg + n/8 + (size_t)8*n, c->aImg + n/8, p->nStride*(size_t)n);
  embPagesFree(c->aImg);
  c->aImg = aImg;
  c->bDense = 0;
  c->iBase = 0;
  c->bWhole = c->bMeta = c->bTouched = 1;
  return SQLITE_OK;
}

/* Make room in chunk c for row iRowid in slot i: nothing to do where c is
** explicit or iRowid is base+i; an empty dense chunk takes a new base;
** else c becomes explicit.  May fail (out of memory) with c unchanged. */
static int chunkTakeRowid(const index_vtab *p, IndexChunk *c, uint32_t i,
                          sqlite3_int64 iRowid){
  if( !c->bDense ) return SQLITE_OK;
  /* base = iRowid - i, at most BASE_MAX. */
  if( iRowid >= ROWID_MIN + (sqlite3_int64)i
   && iRowid - (sqlite3_int64)i <= BASE_MAX ){
    if( c->iBase + (sqlite3_int64)i==iRowid ) return SQLITE_OK;
    if( c->nLive==0 ){
      c->iBase = iRowid - (sqlite3_int64)i;
      c->bMeta = c->bTouched = 1;
      return SQLITE_OK;
    }
  }
  return chunkExplicit(p, c);
}

/* Room for one more chunk pointer in c->apChunk. */
static int cacheReserveChunk(IndexCache *c){
  if( c->nChunk>=c->nChunkAlloc ){
    int nNew = c->nChunkAlloc ? c->nChunkAlloc*2 : 16;
    IndexChunk **ap;
    if( nNew > (1<<(32-INDEX_CHUNK_SHIFT)) ) return SQLITE_FULL;
    ap = sqlite3_realloc64(c->apChunk, sizeof(IndexChunk*)*(size_t)nNew);
    if( ap==0 ) return SQLITE_NOMEM;
    c->apChunk = ap;
    c->nChunkAlloc = nNew;
  }
  return SQLITE_OK;
}

static IndexCache *cacheNew(void){
  IndexCache *c = sqlite3_malloc64(sizeof(*c));
  if( c ){
    memset(c, 0, sizeof(*c));
    c->iGen = -1;
  }
  return c;
}

/* The codes of the float32 vector aVec for a slot: its code in aImg
** (sign bits, or the vector), and its fine code. */
static void slotSetCodes(const index_vtab *p, IndexChunk *c, uint32_t i,
                         const uint8_t *aVec){
  uint8_t *aCode = chunkCodesW(c) + p->nStride*(size_t)i;
  if( p->eQuant==INDEX_QUANT_BINARY ){
    float rScale;
    memset(aCode, 0, p->nStride);
    embBquant(aVec, (size_t)p->nDims, aCode);
    embFineEncode(aVec, p->nDims, &rScale, embChunkFineCode(p, c, i));
    memcpy(embChunkFineScale(c, i), &rScale, 4);
  }else{
    memcpy(aCode, aVec, p->nStride);
  }
}

static void chunkDirty(IndexChunk *c, uint32_t i){
  if( c->iLo>=c->iHi ){
    c->iLo = i;
    c->iHi = i+1;
  }else{
    if( i<c->iLo ) c->iLo = i;
    if( i+1>c->iHi ) c->iHi = i+1;
  }
  c->bMeta = 1;
  c->bTouched = 1;
}

/* ------------------------------------------------------------------------
** Reading the shadow tables
*/

/* The generation recorded in NAME_config. */
static int storeGeneration(index_vtab *p, sqlite3_int64 *piGen){
  sqlite3_stmt *pStmt;
  int rc = embIndexStmt(p, STMT_GEN_GET, &pStmt);
  if( rc ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW
   && sqlite3_column_type(pStmt, 0)==SQLITE_INTEGER ){
    *piGen = sqlite3_column_int64(pStmt, 0);
    sqlite3_reset(pStmt);
    return SQLITE_OK;
  }
  rc = sqlite3_reset(pStmt);
  if( rc ) return embIndexSqlError(p, rc);
  return embIndexCorrupt(p, "config", sqlite3_mprintf(
      "its generation is missing or not an integer"));
}

/* Read the whole image of NAME_zTable row iId, nByte long, into a. */
static int storeReadImage(index_vtab *p, const char *zTable, sqlite3_int64 iId,
                          uint8_t *a, size_t nByte){
  sqlite3_blob *pBlob = 0;
  char zTab[300];
  int rc;
  sqlite3_snprintf(sizeof(zTab), zTab, "%s_%s", p->zName, zTable);
  rc = sqlite3_blob_open(p->db, p->zDb, zTab, "data", iId, 0, &pBlob);
  if( rc==SQLITE_OK ){
    if( (size_t)sqlite3_blob_bytes(pBlob)!=nByte ){
      int nGot = sqlite3_blob_bytes(pBlob);
      sqlite3_blob_close(pBlob);
      return embIndexCorrupt(p, zTable, sqlite3_mprintf(
          "chunk %lld is %d bytes, not %lld", iId, nGot, (sqlite3_int64)nByte));
    }
    rc = sqlite3_blob_read(pBlob, a, (int)nByte, 0);
    sqlite3_blob_close(pBlob);
  }
  if( rc==SQLITE_ERROR ){
    /* sqlite3_blob_open() says "no such rowid" this way. */
    return embIndexCorrupt(p, zTable, sqlite3_mprintf(
        "chunk %lld is missing", iId));
  }
  if( rc ) return embIndexSqlError(p, rc);
  metricsRead(p, (int64_t)nByte);
  return SQLITE_OK;
}

/* The bitmap of chunk c's image must agree with its counts: nothing valid
** at or past nUsed, nLive slots valid. */
static int chunkCheckBitmap(index_vtab *p, const IndexChunk *c){
  uint32_t i, n = 0;
  for(i=0; i<c->nCap/8; i++){
    n += (uint32_t)__builtin_popcount(c->aImg[i]);
  }
  for(i=c->nUsed; i<c->nCap; i++){
    if( embChunkValid(c, i) ){ n = c->nLive+1; break; }
  }
  if( n!=c->nLive ){
    return embIndexCorrupt(p, "codes", sqlite3_mprintf(
        "chunk %lld has %u valid slots, not %u", c->iId, n, c->nLive));
  }
  return SQLITE_OK;
}

/* Load the chunk described by pMeta (a NAME_chunks row) from NAME_codes
** into a new chunk. */
static int storeLoadChunk(index_vtab *p, const IndexChunk *pMeta,
                          IndexChunk **ppOut){
  IndexChunk *c = sqlite3_malloc64(sizeof(*c));
  int rc;
  *ppOut = 0;
  if( c==0 ) return SQLITE_NOMEM;
  *c = *pMeta;
  c->aImg = embPagesAlloc(chunkImgBytes(p, c), EMB_PAGES_CODES);
  if( c->aImg==0 ){
    chunkFree(c);
    return SQLITE_NOMEM;
  }
  rc = storeReadImage(p, "codes", c->iId, c->aImg, chunkImgBytes(p, c));
  if( rc==SQLITE_OK ) rc = chunkCheckBitmap(p, c);
  if( rc ){
    chunkFree(c);
    return rc;
  }
  *ppOut = c;
  return SQLITE_OK;
}

/* The chunk NAME_chunks row pStmt (STMT_CHUNK_LIST) describes, checked,
** into *pMeta (no images); iPrev: the id of the row before, or 0. */
static int storeChunkRow(index_vtab *p, sqlite3_stmt *pStmt,
                         sqlite3_int64 iPrev, IndexChunk *pMeta){
  sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
  sqlite3_int64 nCap = sqlite3_column_int64(pStmt, 2);
  sqlite3_int64 nUsed = sqlite3_column_int64(pStmt, 3);
  sqlite3_int64 nLive = sqlite3_column_int64(pStmt, 4);
  int bDense = sqlite3_column_type(pStmt, 5)!=SQLITE_NULL;
  int t;
  for(t=1; t<=4; t++){
    if( sqlite3_column_type(pStmt, t)!=SQLITE_INTEGER ) break;
  }
  if( t<=4 || iId<=iPrev || nCap<INDEX_CHUNK_MIN || nCap>INDEX_CHUNK_MAX
   || (nCap & (nCap-1))!=0 || nUsed<0 || nUsed>nCap || nLive<0
   || nLive>nUsed ){
    return embIndexCorrupt(p, "chunks", sqlite3_mprintf(
        "chunk %lld has a bad id, version, cap, used or live", iId));
  }
  memset(pMeta, 0, sizeof(*pMeta));
  pMeta->iId = iId;
  pMeta->iVersion = sqlite3_column_int64(pStmt, 1);
  pMeta->nCap = (uint32_t)nCap;
  pMeta->nUsed = (uint32_t)nUsed;
  pMeta->nLive = (uint32_t)nLive;
  pMeta->bDense = (uint8_t)bDense;
  if( bDense ){
    pMeta->iBase = sqlite3_column_int64(pStmt, 5);
    if( sqlite3_column_type(pStmt, 5)!=SQLITE_INTEGER
     || pMeta->iBase>BASE_MAX ){
      return embIndexCorrupt(p, "chunks", sqlite3_mprintf(
          "chunk %lld has a bad base", iId));
    }
  }
  return SQLITE_OK;
}

/* Every NAME_chunks row, checked, in id order: *paMeta (sqlite3_malloc'd,
** *pnMeta chunks, no images; NULL when there are none) and the live rows
** of them all, *pnRow. */
static int storeChunkList(index_vtab *p, IndexChunk **paMeta, int *pnMeta,
                          sqlite3_int64 *pnRow){
  sqlite3_stmt *pStmt;
  IndexChunk *a = 0;
  sqlite3_int64 iPrev = 0, nRow = 0;
  int n = 0, nAlloc = 0;
  int rc = embIndexStmt(p, STMT_CHUNK_LIST, &pStmt);
  *paMeta = 0;
  *pnMeta = 0;
  *pnRow = 0;
  if( rc ) return rc;
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    if( n>=nAlloc ){
      IndexChunk *aNew;
      if( nAlloc >= (1<<(32-INDEX_CHUNK_SHIFT)) ){ rc = SQLITE_FULL; break; }
      nAlloc = nAlloc ? nAlloc*2 : 64;
      aNew = sqlite3_realloc64(a, sizeof(IndexChunk)*(size_t)nAlloc);
      if( aNew==0 ){ rc = SQLITE_NOMEM; break; }
      a = aNew;
    }
    rc = storeChunkRow(p, pStmt, iPrev, &a[n]);
    if( rc ) break;
    iPrev = a[n].iId;
    nRow += a[n].nLive;
    n++;
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_reset(pStmt);
    if( rc ) rc = embIndexSqlError(p, rc);
  }else{
    sqlite3_reset(pStmt);
  }
  if( rc ){
    sqlite3_free(a);
    return rc;
  }
  *paMeta = a;
  *pnMeta = n;
  *pnRow = nRow;
  return SQLITE_OK;
}

static int storeLoadFine(index_vtab *p, IndexChunk *c);

/* Bring the chunks of cache c up to NAME_chunks (generation iGen): keep
** each chunk whose version, capacity and counts are unchanged, read the
** others again, drop those that are gone.  On error the cache is left as
** it was. */
static int storeSync(index_vtab *p, IndexCache *c, sqlite3_int64 iGen){
  IndexChunk **apNew = 0, *aMeta = 0;
  int nNew = 0, nMeta = 0, j = 0, bShape = 0, i, m;
  sqlite3_int64 nRow = 0;
  int rc = storeChunkList(p, &aMeta, &nMeta, &nRow);
  if( rc ) return rc;
  if( nMeta>0 ){
    apNew = sqlite3_malloc64(sizeof(IndexChunk*)*(size_t)nMeta);
    if( apNew==0 ) rc = SQLITE_NOMEM;
  }
  for(m=0; rc==SQLITE_OK && m<nMeta; m++){
    const IndexChunk *pMeta = &aMeta[m];
    IndexChunk *pChunk = 0;
    while( j<c->nChunk && c->apChunk[j]->iId<pMeta->iId ){ j++; bShape = 1; }
    if( j<c->nChunk && c->apChunk[j]->iId==pMeta->iId ){
      IndexChunk *pOld = c->apChunk[j];
      if( pOld->iVersion==pMeta->iVersion && pOld->nCap==pMeta->nCap
       && pOld->nUsed==pMeta->nUsed && pOld->nLive==pMeta->nLive
       && pOld->bDense==pMeta->bDense && pOld->iBase==pMeta->iBase ){
        pChunk = pOld;
      }
      if( nNew!=j ) bShape = 1;
      j++;
    }else{
      bShape = 1;
    }
    if( pChunk==0 ){
      rc = embProgressTick(&p->prog, chunkImgBytes(p, pMeta)/8);
      if( rc==SQLITE_OK ) rc = storeLoadChunk(p, pMeta, &pChunk);
      /* In a connection that searches with the 4-bit codes, a chunk read
      ** again (or new) lags: its codes are read when embStoreFineWarm()
      ** asks, so that a commit elsewhere costs this connection the chunk's
      ** sign bits, not its warm state. */
      if( rc==SQLITE_OK && c->bFineKeep ) pChunk->bFineLag = 1;
      if( rc ){
        chunkFree(pChunk);
        break;
      }
    }
    apNew[nNew++] = pChunk;
  }
  sqlite3_free(aMeta);
  if( j<c->nChunk ) bShape = 1;
  if( rc ){
    /* Free what was read; the cache keeps what it had. */
    for(i=0; i<nNew; i++){
      int k, bOld = 0;
      for(k=0; k<c->nChunk && !bOld; k++) bOld = c->apChunk[k]==apNew[i];
      if( !bOld ) chunkFree(apNew[i]);
    }
    sqlite3_free(apNew);
    return rc;
  }
  if( c->nSlot && !bShape ){
    /* Same chunks at the same places: the hash follows chunk by chunk,
    ** at the cost of the chunks that changed. */
    for(i=0; i<nNew; i++){
      if( apNew[i]!=c->apChunk[i] ){
        hashRemoveChunk(c, i);
        chunkFree(c->apChunk[i]);
        c->apChunk[i] = apNew[i];
        hashAddChunk(c, i);
      }
    }
    sqlite3_free(apNew);
  }else{
    for(i=0; i<c->nChunk; i++){
      int k, bKept = 0;
      for(k=0; k<nNew && !bKept; k++) bKept = apNew[k]==c->apChunk[i];
      if( !bKept ) chunkFree(c->apChunk[i]);
    }
    sqlite3_free(c->apChunk);
    c->apChunk = apNew;
    c->nChunkAlloc = nMeta;
    c->nChunk = nNew;
    if( c->nSlot ){
      /* Positions moved: the hash is built again. */
      hashDrop(c);
      c->nRow = nRow;
      rc = hashReserve(c, 0);
    }
  }
  c->nChunk = nNew;
  c->nRow = nRow;
  c->iHole = 0;
  c->iGen = iGen;
  return rc;
}

/* Build the cache of a format-1 index: every row's code (or vector, with
** quant=none) from one row per vector, as this format always loaded. */
static int storeLoadLegacy(index_vtab *p, IndexCache *c){
  int isBinary = p->eQuant==INDEX_QUANT_BINARY;
  size_t nCode = isBinary ? ((size_t)p->nDims+7)/8 : (size_t)p->nDims*4;
  char *zSql = sqlite3_mprintf(
      isBinary ? "SELECT id, code FROM \"%w\".\"%w_code\" ORDER BY id"
               : "SELECT id, vector FROM \"%w\".\"%w_data\" ORDER BY id",
      p->zDb, p->zName);
  sqlite3_stmt *pStmt = 0;
  IndexChunk *pC = 0;
  int rc;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc ) return embIndexSqlError(p, rc);
  c->bLegacy = 1;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iRowid = sqlite3_column_int64(pStmt, 0);
    const uint8_t *a = sqlite3_column_blob(pStmt, 1);
    int n = sqlite3_column_bytes(pStmt, 1);
    uint32_t i;
    rc = embProgressTick(&p->prog, nCode);
    if( rc ) break;
    if( (size_t)n!=nCode || a==0 ){
      rc = embIndexCorrupt(p, isBinary ? "code" : "data", sqlite3_mprintf(
          "row %lld has a %s of %d bytes, not %d", iRowid,
          isBinary ? "code" : "vector", n, (int)nCode));
      break;
    }
    if( pC==0 || pC->nUsed==pC->nCap ){
      rc = cacheReserveChunk(c);
      if( rc ) break;
      pC = sqlite3_malloc64(sizeof(*pC));
      if( pC==0 ){ rc = SQLITE_NOMEM; break; }
      memset(pC, 0, sizeof(*pC));
      pC->nCap = INDEX_CHUNK_MAX;
      pC->iId = c->nChunk + 1;
      /* Explicit rowids: these chunks live in memory only. */
      pC->aImg = embPagesAlloc(imgBytes(p, pC->nCap, 0), EMB_PAGES_CODES);
      if( pC->aImg==0 ){ chunkFree(pC); rc = SQLITE_NOMEM; break; }
      memset(pC->aImg, 0, imgBytes(p, pC->nCap, 0));
      c->apChunk[c->nChunk++] = pC;
    }
    i = pC->nUsed++;
    pC->nLive++;
    pC->aImg[i>>3] |= (uint8_t)(1u<<(i&7));
    chunkSetRowid(pC, i, iRowid);
    memcpy(chunkCodesW(pC) + p->nStride*(size_t)i, a, nCode);
    c->nRow++;
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_reset(pStmt);
    if( rc ) rc = embIndexSqlError(p, rc);
  }
  sqlite3_finalize(pStmt);
  return rc;
}

/* The format recorded in NAME_config, after a rollback made it uncertain. */
static int storeReadFormat(index_vtab *p){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT value FROM \"%w\".\"%w_config\" "
                               "WHERE key='format'", p->zDb, p->zName);
  int rc;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc ) return embIndexSqlError(p, rc);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    int iFormat = sqlite3_column_int(pStmt, 0);
    if( iFormat==1 || iFormat==INDEX_FORMAT ) p->iFormat = iFormat;
  }
  rc = sqlite3_finalize(pStmt);
  if( rc ) return embIndexSqlError(p, rc);
  if( p->iFormat==0 ){
    return embIndexCorrupt(p, "config", sqlite3_mprintf("bad format"));
  }
  return SQLITE_OK;
}

int embStoreReady(index_vtab *p, int bHash){
  IndexCache *c = p->pCache;
  sqlite3_int64 iGen = 0;
  int rc = p->iFormat ? SQLITE_OK : storeReadFormat(p);
  if( rc==SQLITE_OK ) rc = storeGeneration(p, &iGen);
  if( rc ) return rc;
  if( c && (c->bDrop
            || (c->iGen!=iGen && (p->iFormat==1 || c->bLegacy))) ){
    embStoreFree(c);
    p->pCache = c = 0;
  }
  if( c==0 ){
    c = cacheNew();
    if( c==0 ) return SQLITE_NOMEM;
    if( p->iFormat==1 ){
      rc = storeLoadLegacy(p, c);
      c->iGen = iGen;
    }else{
      rc = storeSync(p, c, iGen);
    }
    if( rc ){
      embStoreFree(c);
      return rc;
    }
    p->pCache = c;
  }else if( c->iGen!=iGen ){
    rc = storeSync(p, c, iGen);
    if( rc ){
      /* What the cache holds can no longer be trusted. */
      embStoreFree(c);
      p->pCache = 0;
      return rc;
    }
  }
  if( bHash && c->nSlot==0 ){
    rc = hashReserve(c, 0);
  }
  return rc;
}

/* ------------------------------------------------------------------------
** Streaming: a connection's first search, before it has a cache
*/

int embStoreStreamOpen(index_vtab *p, IndexStream *s, int *pbOk){
  int rc = p->iFormat ? SQLITE_OK : storeReadFormat(p);
  memset(s, 0, sizeof(*s));
  *pbOk = 0;
  if( rc || p->iFormat!=INDEX_FORMAT ) return rc;
  rc = storeChunkList(p, &s->aChunk, &s->nChunk, &s->nRow);
  if( rc==SQLITE_OK ) *pbOk = 1;
  return rc;
}

int embStoreStreamRead(index_vtab *p, IndexStream *s, int i){
  IndexChunk *c = &s->aChunk[i];
  size_t nByte = chunkImgBytes(p, c);
  int rc;
  if( nByte>s->nBuf ){
    sqlite3_free(s->aBuf);
    s->aBuf = sqlite3_malloc64(nByte);
    s->nBuf = s->aBuf ? nByte : 0;
    if( s->aBuf==0 ) return SQLITE_NOMEM;
  }
  if( i>0 ) s->aChunk[i-1].aImg = 0;
  rc = embProgressTick(&p->prog, nByte/8);
  if( rc==SQLITE_OK ) rc = storeReadImage(p, "codes", c->iId, s->aBuf, nByte);
  if( rc ) return rc;
  c->aImg = s->aBuf;
  return chunkCheckBitmap(p, c);
}

void embStoreStreamClose(IndexStream *s){
  sqlite3_free(s->aChunk);
  sqlite3_free(s->aBuf);
  memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------------
** Fine codes
*/

/* Bring chunk c's fine image into memory. */
static int storeLoadFine(index_vtab *p, IndexChunk *c){
  uint8_t *a;
  int rc;
  if( c->aFine || !hasFine(p) ) return SQLITE_OK;
  a = embPagesAlloc(fineBytes(p, c->nCap) + INDEX_FINE_SLACK,
                    EMB_PAGES_FINE);
  if( a==0 ) return SQLITE_NOMEM;
  memset(a + fineBytes(p, c->nCap), 0, INDEX_FINE_SLACK);
  rc = storeReadImage(p, "fine", c->iId, a, fineBytes(p, c->nCap));
  if( rc ){
    embPagesFree(a);
    return rc;
  }
  c->aFine = a;
  c->bFineLag = 0;
  return SQLITE_OK;
}

int embStoreChunkFine(index_vtab *p, int iChunk){
  return storeLoadFine(p, p->pCache->apChunk[iChunk]);
}

int embStoreFineWarm(index_vtab *p, sqlite3_int64 nBudget, int *pbUse){
  IndexCache *c = p->pCache;
  sqlite3_int64 nLag = 0;
  int i, rc, bLagOk;
  *pbUse = 0;
  if( !hasFine(p) || c->bLegacy ) return SQLITE_OK;
  if( nBudget>0 ) c->bFineKeep = 1;
  for(i=0; i<c->nChunk; i++){
    const IndexChunk *pC = c->apChunk[i];
    if( pC->aFine==0 && pC->bFineLag ) nLag += pC->nLive;
  }
  bLagOk = nLag*INDEX_FINE_LAG_SHARE <= c->nRow;
  for(i=0; i<c->nChunk; i++){
    IndexChunk *pC = c->apChunk[i];
    if( pC->aFine || (pC->bFineLag && bLagOk) ) continue;
    if( p->nCallRead>=nBudget ) return SQLITE_OK;
    rc = embProgressTick(&p->prog, fineBytes(p, pC->nCap)/8);
    if( rc==SQLITE_OK ) rc = storeLoadFine(p, pC);
    if( rc ) return rc;
  }
  *pbUse = 1;
  return SQLITE_OK;
}

/* ------------------------------------------------------------------------
** Creating, dropping, renaming
*/

int embStoreIsShadow(const char *zSuffix){
  static const char *const az[] = {
    "config", "data", "chunks", "codes", "fine", "code"
  };
  size_t i;
  for(i=0; i<sizeof(az)/sizeof(az[0]); i++){
    if( sqlite3_stricmp(zSuffix, az[i])==0 ) return 1;
  }
  return 0;
}

int embStoreCreate(index_vtab *p, char **pzErr){
  sqlite3_str *pSql = sqlite3_str_new(p->db);
  char *zSql, *zErr = 0;
  char zOversample[16] = "'auto'";
  int rc;
  if( !p->bAutoOversample ){
    sqlite3_snprintf(sizeof(zOversample), zOversample, "%d", p->nOversample);
  }
  sqlite3_str_appendf(pSql,
      "CREATE TABLE \"%w\".\"%w_config\"(key TEXT PRIMARY KEY, value) "
        "WITHOUT ROWID;"
      "CREATE TABLE \"%w\".\"%w_data\"(id INTEGER PRIMARY KEY, "
        "vector BLOB NOT NULL, content);"
      "CREATE TABLE \"%w\".\"%w_chunks\"(id INTEGER PRIMARY KEY, "
        "version INTEGER NOT NULL, cap INTEGER NOT NULL, "
        "used INTEGER NOT NULL, live INTEGER NOT NULL, base INTEGER);"
      "CREATE TABLE \"%w\".\"%w_codes\"(id INTEGER PRIMARY KEY, "
        "data BLOB NOT NULL);",
      p->zDb, p->zName, p->zDb, p->zName, p->zDb, p->zName, p->zDb, p->zName);
  if( hasFine(p) ){
    sqlite3_str_appendf(pSql, "CREATE TABLE \"%w\".\"%w_fine\"(id INTEGER "
                        "PRIMARY KEY, data BLOB NOT NULL);", p->zDb, p->zName);
  }
  sqlite3_str_appendf(pSql,
      "INSERT INTO \"%w\".\"%w_config\"(key, value) VALUES "
        "('format', %d), ('model', %Q), ('dims', %d), ('quant', %Q), "
        "('oversample', %s), ('store_content', %d), ('generation', 0);",
      p->zDb, p->zName, INDEX_FORMAT, p->zModel, p->nDims,
      p->eQuant==INDEX_QUANT_BINARY ? "binary" : "none", zOversample,
      p->bStoreContent);
  zSql = sqlite3_str_finish(pSql);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_exec(p->db, zSql, 0, 0, &zErr);
  sqlite3_free(zSql);
  if( rc ){
    if( rc==SQLITE_NOMEM ){
      sqlite3_free(zErr);
      return rc;
    }
    *pzErr = sqlite3_mprintf("embed_index: cannot create the shadow tables "
                             "of '%q': %s", p->zName,
                             zErr ? zErr : sqlite3_errstr(rc));
    sqlite3_free(zErr);
    if( *pzErr==0 ) rc = SQLITE_NOMEM;
  }
  return rc;
}

char *embStoreDdl(index_vtab *p, const char *zNew){
  static const char *const az[] = {
    "config", "data", "chunks", "codes", "fine", "code"
  };
  sqlite3_str *pSql = sqlite3_str_new(p->db);
  sqlite3_stmt *pStmt = 0;
  size_t i;
  /* Only the tables that exist: which ones depends on the format and the
  ** quantization, and a broken index may lack any of them. */
  for(i=0; i<sizeof(az)/sizeof(az[0]); i++){
    char *zQ = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema WHERE "
                               "type='table' AND name='%q_%q'", p->zDb,
                               p->zName, az[i]);
    int bExists = 0;
    if( zQ==0 ) break;
    if( sqlite3_prepare_v2(p->db, zQ, -1, &pStmt, 0)==SQLITE_OK ){
      bExists = sqlite3_step(pStmt)==SQLITE_ROW;
    }
    sqlite3_finalize(pStmt);
    pStmt = 0;
    sqlite3_free(zQ);
    if( !bExists ) continue;
    if( zNew ){
      sqlite3_str_appendf(pSql, "ALTER TABLE \"%w\".\"%w_%s\" RENAME TO "
                          "\"%w_%s\";", p->zDb, p->zName, az[i], zNew, az[i]);
    }else{
      sqlite3_str_appendf(pSql, "DROP TABLE \"%w\".\"%w_%s\";", p->zDb,
                          p->zName, az[i]);
    }
  }
  if( i<sizeof(az)/sizeof(az[0]) ){
    sqlite3_free(sqlite3_str_finish(pSql));
    return 0;
  }
  if( sqlite3_str_length(pSql)==0 ) sqlite3_str_appendall(pSql, " ");
  return sqlite3_str_finish(pSql);
}

/* ------------------------------------------------------------------------
** Writing
*/

/* Append a row to the cache being built by a migration (chunks of full
** capacity, all new). */
static int storeAppend(index_vtab *p, IndexCache *c, sqlite3_int64 iRowid,
                       const uint8_t *aVec){
  IndexChunk *pC = c->nChunk ? c->apChunk[c->nChunk-1] : 0;
  uint32_t i;
  int rc;
  if( pC==0 || pC->nUsed==pC->nCap ){
    rc = cacheReserveChunk(c);
    if( rc ) return rc;
    pC = chunkNew(p, c->nChunk+1, INDEX_CHUNK_MAX);
    if( pC==0 ) return SQLITE_NOMEM;
    pC->bNew = pC->bWhole = pC->bMeta = pC->bTouched = 1;
    c->apChunk[c->nChunk++] = pC;
  }
  i = pC->nUsed;
  rc = chunkTakeRowid(p, pC, i, iRowid);
  if( rc ) return rc;
  pC->nUsed++;
  pC->nLive++;
  pC->aImg[i>>3] |= (uint8_t)(1u<<(i&7));
  if( !pC->bDense ) chunkSetRowid(pC, i, iRowid);
  slotSetCodes(p, pC, i, aVec);
  c->nRow++;
  return SQLITE_OK;
}

/* Migrate a format-1 index to format 2 (see the header).  Runs inside the
** writing transaction, after the generation is bumped; the new chunks are
** written by the next embStoreFlush().  The steps are ordered so that a
** failure at any point leaves an index that still reads right: the new
** chunks are built in memory first (reads only), the chunk tables made
** (empty, also if a failed attempt left them), and format 2 recorded by
** one UPDATE; emptying NAME_code comes last, as format 2 ignores it. */
static int storeMigrate(index_vtab *p){
  IndexCache *c = 0;
  sqlite3_stmt *pStmt = 0;
  char *zSql, *zErr = 0;
  int rc;
  c = cacheNew();
  if( c==0 ) return SQLITE_NOMEM;
  rc = storeGeneration(p, &c->iGen);
  if( rc==SQLITE_OK ){
    zSql = sqlite3_mprintf("SELECT id, vector FROM \"%w\".\"%w_data\" "
                           "ORDER BY id", p->zDb, p->zName);
    rc = zSql ? sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    if( rc && rc!=SQLITE_NOMEM ) rc = embIndexSqlError(p, rc);
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iRowid = sqlite3_column_int64(pStmt, 0);
    const uint8_t *a = sqlite3_column_blob(pStmt, 1);
    int n = sqlite3_column_bytes(pStmt, 1);
    if( a==0 || n!=p->nDims*4 ){
      rc = embIndexCorrupt(p, "data", sqlite3_mprintf(
          "row %lld has a vector of %d bytes, not %d", iRowid, n,
          p->nDims*4));
      break;
    }
    rc = embProgressTick(&p->prog, (sqlite3_uint64)p->nDims*4);
    if( rc==SQLITE_OK ) rc = storeAppend(p, c, iRowid, a);
  }
  if( pStmt ){
    int rc2 = sqlite3_finalize(pStmt);
    if( rc==SQLITE_OK && rc2 ) rc = embIndexSqlError(p, rc2);
  }
  if( rc==SQLITE_OK ) rc = hashReserve(c, 0);
  if( rc==SQLITE_OK ){
    sqlite3_str *pSql = sqlite3_str_new(p->db);
    sqlite3_str_appendf(pSql,
        "CREATE TABLE IF NOT EXISTS \"%w\".\"%w_chunks\"(id INTEGER "
          "PRIMARY KEY, version INTEGER NOT NULL, cap INTEGER NOT NULL, "
          "used INTEGER NOT NULL, live INTEGER NOT NULL, base INTEGER);"
        "CREATE TABLE IF NOT EXISTS \"%w\".\"%w_codes\"(id INTEGER "
          "PRIMARY KEY, data BLOB NOT NULL);"
        "DELETE FROM \"%w\".\"%w_chunks\";"
        "DELETE FROM \"%w\".\"%w_codes\";",
        p->zDb, p->zName, p->zDb, p->zName, p->zDb, p->zName, p->zDb,
        p->zName);
    if( hasFine(p) ){
      sqlite3_str_appendf(pSql,
          "CREATE TABLE IF NOT EXISTS \"%w\".\"%w_fine\"(id INTEGER "
            "PRIMARY KEY, data BLOB NOT NULL);"
          "DELETE FROM \"%w\".\"%w_fine\";", p->zDb, p->zName, p->zDb,
          p->zName);
    }
    sqlite3_str_appendf(pSql,
        "UPDATE \"%w\".\"%w_config\" SET value=%d WHERE key='format';",
        p->zDb, p->zName, INDEX_FORMAT);
    if( p->eQuant==INDEX_QUANT_BINARY ){
      sqlite3_str_appendf(pSql, "DELETE FROM \"%w\".\"%w_code\";", p->zDb,
                          p->zName);
    }
    zSql = sqlite3_str_finish(pSql);
    rc = zSql ? sqlite3_exec(p->db, zSql, 0, 0, &zErr) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    if( rc && rc!=SQLITE_NOMEM ){
      rc = embIndexError(p, rc, sqlite3_mprintf("embed_index: cannot "
          "migrate '%q' to format %d: %s", p->zName, INDEX_FORMAT,
          zErr ? zErr : sqlite3_errstr(rc)));
    }
    sqlite3_free(zErr);
  }
  if( rc ){
    embStoreFree(c);
    return rc;
  }
  p->bMigrated = 1;
  p->iFormat = INDEX_FORMAT;
  embStoreFree(p->pCache);
  p->pCache = c;
  return SQLITE_OK;
}

int embStoreWriteBegin(index_vtab *p){
  sqlite3_stmt *pStmt;
  int rc;
  if( p->bGenBumped ) return SQLITE_OK;
  /* The cache must mirror what is committed before it can take this
  ** transaction's changes (a format-1 index is rebuilt by its migration
  ** instead). */
  rc = p->iFormat ? SQLITE_OK : storeReadFormat(p);
  if( rc==SQLITE_OK && p->iFormat!=1 ) rc = embStoreReady(p, 1);
  if( rc==SQLITE_OK ) rc = embIndexStmt(p, STMT_GEN_BUMP, &pStmt);
  if( rc==SQLITE_OK ) rc = embIndexStmtRun(p, pStmt);
  if( rc ) return rc;
  p->bGenBumped = 1;
  if( p->iFormat==1 ) return storeMigrate(p);
  p->pCache->iGen++;
  return SQLITE_OK;
}

/* A free slot for a new row: a hole in the lowest chunk with one, else the
** end of the last chunk (grown, or a new chunk).  Sets *piChunk, *piSlot. */
static int storeAllocSlot(index_vtab *p, int *piChunk, uint32_t *piSlot){
  IndexCache *c = p->pCache;
  IndexChunk *pC;
  int rc;
  for(; c->iHole<c->nChunk; c->iHole++){
    pC = c->apChunk[c->iHole];
    if( pC->nLive<pC->nUsed ){
      uint32_t j;
      for(j=0; j<pC->nUsed; j+=8){
        if( pC->aImg[j>>3]!=0xff ) break;
      }
      for(; j<pC->nUsed; j++){
        if( !embChunkValid(pC, j) ){
          *piChunk = c->iHole;
          *piSlot = j;
          return SQLITE_OK;
        }
      }
    }
  }
  pC = c->nChunk ? c->apChunk[c->nChunk-1] : 0;
  if( pC && pC->nUsed==pC->nCap && pC->nCap<INDEX_CHUNK_MAX ){
    rc = storeLoadFine(p, pC);
    if( rc ) return rc;
    rc = chunkGrow(p, pC);
    if( rc ) return rc;
  }
  if( pC==0 || pC->nUsed==pC->nCap ){
    sqlite3_int64 iId = pC ? pC->iId+1 : 1;
    rc = cacheReserveChunk(c);
    if( rc ) return rc;
    /* After a full chunk, the index is large enough for the next to be
    ** full-sized from the start: growing it would leave its smaller
    ** images' memory behind in the regions (pages.c). */
    pC = chunkNew(p, iId, pC && pC->nCap==INDEX_CHUNK_MAX ? INDEX_CHUNK_MAX
                                                          : INDEX_CHUNK_MIN);
    if( pC==0 ) return SQLITE_NOMEM;
    pC->bNew = pC->bWhole = pC->bTouched = 1;
    c->apChunk[c->nChunk++] = pC;
  }
  *piChunk = c->nChunk-1;
  *piSlot = pC->nUsed;
  return SQLITE_OK;
}

int embStoreReserve(index_vtab *p, sqlite3_int64 iRowid, IndexSlot *pSlot){
  IndexCache *c = p->pCache;
  sqlite3_int64 iPos = embStoreFind(c, iRowid);
  int rc;
  if( iPos>=0 ){
    pSlot->iChunk = (int)(iPos>>INDEX_CHUNK_SHIFT);
    pSlot->iSlot = (uint32_t)iPos & (INDEX_CHUNK_MAX-1);
    pSlot->bNew = 0;
  }else{
    rc = hashReserve(c, 1);
    if( rc==SQLITE_OK ) rc = storeAllocSlot(p, &pSlot->iChunk, &pSlot->iSlot);
    if( rc==SQLITE_OK ){
      rc = chunkTakeRowid(p, c->apChunk[pSlot->iChunk], pSlot->iSlot, iRowid);
    }
    if( rc ) return rc;
    pSlot->bNew = 1;
  }
  return storeLoadFine(p, c->apChunk[pSlot->iChunk]);
}

void embStoreApply(index_vtab *p, const IndexSlot *pSlot, sqlite3_int64 iRowid,
                   const uint8_t *aVec){
  IndexCache *c = p->pCache;
  IndexChunk *pC = c->apChunk[pSlot->iChunk];
  uint32_t iSlot = pSlot->iSlot;
  if( pSlot->bNew ){
    if( iSlot==pC->nUsed ) pC->nUsed++;
    pC->nLive++;
    pC->aImg[iSlot>>3] |= (uint8_t)(1u<<(iSlot&7));
    if( !pC->bDense ) chunkSetRowid(pC, iSlot, iRowid);
    c->nRow++;
    hashAdd(c, ((uint32_t)pSlot->iChunk<<INDEX_CHUNK_SHIFT) | iSlot);
  }
  slotSetCodes(p, pC, iSlot, aVec);
  chunkDirty(pC, iSlot);
}

void embStoreRemove(index_vtab *p, sqlite3_int64 iRowid){
  IndexCache *c = p->pCache;
  sqlite3_int64 iPos = embStoreFind(c, iRowid);
  IndexChunk *pC;
  uint32_t iSlot;
  if( iPos<0 ) return;
  pC = c->apChunk[iPos>>INDEX_CHUNK_SHIFT];
  iSlot = (uint32_t)iPos & (INDEX_CHUNK_MAX-1);
  hashRemove(c, (uint32_t)iPos);
  pC->aImg[iSlot>>3] &= (uint8_t)~(1u<<(iSlot&7));
  if( !pC->bDense ) chunkSetRowid(pC, iSlot, 0);
  memset(chunkCodesW(pC) + p->nStride*(size_t)iSlot, 0, p->nStride);
  pC->nLive--;
  chunkDirty(pC, iSlot);
  c->nRow--;
  if( (int)(iPos>>INDEX_CHUNK_SHIFT) < c->iHole ){
    c->iHole = (int)(iPos>>INDEX_CHUNK_SHIFT);
  }
}

/* The row holds its slot, so its chunk is not empty: iNew fits as
** base+slot or the chunk turns explicit. */
int embStoreRekeyReserve(index_vtab *p, sqlite3_int64 iOld,
                         sqlite3_int64 iNew){
  IndexCache *c = p->pCache;
  sqlite3_int64 iPos = embStoreFind(c, iOld);
  IndexChunk *pC;
  uint32_t iSlot;
  if( iPos<0 ) return SQLITE_OK;
  pC = c->apChunk[iPos>>INDEX_CHUNK_SHIFT];
  iSlot = (uint32_t)iPos & (INDEX_CHUNK_MAX-1);
  return chunkTakeRowid(p, pC, iSlot, iNew);
}

void embStoreRekey(index_vtab *p, sqlite3_int64 iOld, sqlite3_int64 iNew){
  IndexCache *c = p->pCache;
  sqlite3_int64 iPos = embStoreFind(c, iOld);
  IndexChunk *pC;
  uint32_t iSlot;
  if( iPos<0 ) return;
  pC = c->apChunk[iPos>>INDEX_CHUNK_SHIFT];
  iSlot = (uint32_t)iPos & (INDEX_CHUNK_MAX-1);
  hashRemove(c, (uint32_t)iPos);
  /* A dense chunk holds iNew here already (embStoreRekeyReserve()). */
  if( !pC->bDense ) chunkSetRowid(pC, iSlot, iNew);
  hashAdd(c, (uint32_t)iPos);
  chunkDirty(pC, iSlot);
}

/* Write byte range [iOff, iOff+n) of a to the open blob. */
static int blobWrite(sqlite3_blob *pBlob, const uint8_t *a, size_t iOff,
                     size_t n){
  if( n==0 ) return SQLITE_OK;
  return sqlite3_blob_write(pBlob, a + iOff, (int)n, (int)iOff);
}

/* Write chunk c's changes to the shadow tables. */
static int storeFlushChunk(index_vtab *p, IndexChunk *c, sqlite3_int64 iGen){
  sqlite3_stmt *pStmt;
  int rc = SQLITE_OK;
  if( c->bWhole ){
    rc = embIndexStmt(p, STMT_CODES_PUT, &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, c->iId);
      sqlite3_bind_blob64(pStmt, 2, c->aImg, chunkImgBytes(p, c),
                          SQLITE_STATIC);
      rc = embIndexStmtRun(p, pStmt);
    }
    /* The fine image is in memory wherever it changed (a new chunk, a
    ** grown one, a row's codes); a chunk only made explicit keeps the one
    ** on disk, which may not have been read. */
    if( rc==SQLITE_OK && hasFine(p) && c->aFine ){
      rc = embIndexStmt(p, STMT_FINE_PUT, &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int64(pStmt, 1, c->iId);
        sqlite3_bind_blob64(pStmt, 2, c->aFine, fineBytes(p, c->nCap),
                            SQLITE_STATIC);
        rc = embIndexStmtRun(p, pStmt);
      }
    }
  }else if( c->iLo<c->iHi ){
    sqlite3_blob *pBlob = 0;
    char zTab[300];
    uint32_t lo = c->iLo, hi = c->iHi, n = c->nCap;
    size_t nRowid = rowidBytes(c->bDense);
    sqlite3_snprintf(sizeof(zTab), zTab, "%s_codes", p->zName);
    rc = sqlite3_blob_open(p->db, p->zDb, zTab, "data", c->iId, 1, &pBlob);
    if( rc==SQLITE_OK && (size_t)sqlite3_blob_bytes(pBlob)!=chunkImgBytes(p, c) ){
      rc = SQLITE_CORRUPT_VTAB;
    }
    if( rc==SQLITE_OK ) rc = blobWrite(pBlob, c->aImg, lo/8, (hi-1)/8 - lo/8 + 1);
    if( rc==SQLITE_OK ){
      rc = blobWrite(pBlob, c->aImg, n/8 + nRowid*lo, nRowid*(hi-lo));
    }
    if( rc==SQLITE_OK ){
      rc = blobWrite(pBlob, c->aImg, n/8 + nRowid*n + p->nStride*lo,
                     p->nStride*(hi-lo));
    }
    sqlite3_blob_close(pBlob);
    pBlob = 0;
    /* Fine codes change only where they are in memory (a delete or a new
    ** rowid leaves them as they are). */
    if( rc==SQLITE_OK && hasFine(p) && c->aFine ){
      sqlite3_snprintf(sizeof(zTab), zTab, "%s_fine", p->zName);
      rc = sqlite3_blob_open(p->db, p->zDb, zTab, "data", c->iId, 1, &pBlob);
      if( rc==SQLITE_OK && (size_t)sqlite3_blob_bytes(pBlob)!=fineBytes(p, n) ){
        rc = SQLITE_CORRUPT_VTAB;
      }
      if( rc==SQLITE_OK ){
        rc = blobWrite(pBlob, c->aFine, (size_t)4*lo, (size_t)4*(hi-lo));
      }
      if( rc==SQLITE_OK ){
        rc = blobWrite(pBlob, c->aFine, (size_t)4*n + p->nFine*lo,
                       p->nFine*(hi-lo));
      }
      sqlite3_blob_close(pBlob);
    }
    if( rc==SQLITE_CORRUPT_VTAB ){
      return embIndexCorrupt(p, "codes", sqlite3_mprintf(
          "chunk %lld has the wrong size", c->iId));
    }
    if( rc==SQLITE_ERROR ){
      return embIndexCorrupt(p, "codes", sqlite3_mprintf(
          "chunk %lld is missing", c->iId));
    }
    if( rc ) return embIndexSqlError(p, rc);
  }
  if( rc==SQLITE_OK && (c->bMeta || c->bNew || c->bWhole) ){
    rc = embIndexStmt(p, c->bNew ? STMT_CHUNK_INSERT : STMT_CHUNK_UPDATE,
                      &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, c->iId);
      sqlite3_bind_int64(pStmt, 2, iGen);
      sqlite3_bind_int64(pStmt, 3, c->nCap);
      sqlite3_bind_int64(pStmt, 4, c->nUsed);
      sqlite3_bind_int64(pStmt, 5, c->nLive);
      if( c->bDense ) sqlite3_bind_int64(pStmt, 6, c->iBase);
      else sqlite3_bind_null(pStmt, 6);
      rc = embIndexStmtRun(p, pStmt);
    }
  }
  if( rc==SQLITE_OK ){
    c->iVersion = iGen;
    c->iLo = c->iHi = 0;
    c->bNew = c->bWhole = c->bMeta = 0;
  }
  return rc;
}

int embStoreFlush(index_vtab *p){
  IndexCache *c = p->pCache;
  int i, rc = SQLITE_OK;
  if( c==0 || !p->bGenBumped ) return SQLITE_OK;
  /* rc first: after an error SQLite may have rolled back (see
  ** embStoreRollback()), and the chunks' flags say so. */
  for(i=0; rc==SQLITE_OK && i<c->nChunk; i++){
    IndexChunk *pC = c->apChunk[i];
    if( pC->bNew || pC->bWhole || pC->bMeta || pC->iLo<pC->iHi ){
      rc = storeFlushChunk(p, pC, c->iGen);
    }
  }
  return rc;
}

/* SQLite can call this from inside one of our own calls: a statement of
** ours that fails with an I/O error or out of memory rolls the whole
** transaction back, xRollback included.  So it frees nothing: it marks
** what the tables no longer hold, and the next embStoreReady() reads it
** again. */
void embStoreRollback(index_vtab *p){
  IndexCache *c = p->pCache;
  int i;
  if( p->bMigrated ){
    /* The migration may be undone with the rest: the format is read
    ** again before the next use. */
    p->iFormat = 0;
    p->bMigrated = 0;
    if( c ) c->bDrop = 1;
  }
  if( c==0 ) return;
  for(i=0; i<c->nChunk; i++){
    IndexChunk *pC = c->apChunk[i];
    if( pC->bTouched ){
      /* A chunk this transaction created, flushed or not, may be gone:
      ** the cache is rebuilt.  Others are read again. */
      if( pC->bNew ) c->bDrop = 1;
      pC->iVersion = -1;
      pC->iLo = pC->iHi = 0;
      pC->bWhole = pC->bMeta = 0;
    }
  }
  if( c->bLegacy ) c->bDrop = 1;
  c->iGen = -1;
}

void embStoreCommitted(index_vtab *p){
  IndexCache *c = p->pCache;
  int i;
  p->bMigrated = 0;
  if( c==0 ) return;
  for(i=0; i<c->nChunk; i++) c->apChunk[i]->bTouched = 0;
  if( hasFine(p) && !c->bFineKeep && !embIndexFineScan(p, c->nRow) ){
    /* A large index that this connection has not searched (a bulk load)
    ** does not need its 4-bit codes: those this transaction wrote are on
    ** disk now, and a write reads a chunk's back before it changes them
    ** (embStoreReserve()).  The last chunk's stay, for the rows the next
    ** transaction appends. */
    for(i=0; i<c->nChunk-1; i++){
      IndexChunk *pC = c->apChunk[i];
      if( pC->aFine==0 ) continue;
      embPagesFree(pC->aFine);
      pC->aFine = 0;
    }
  }
}
