/*
** split.c: embed_split(), semantic splitting of a long text into chunks,
** as a table-valued function.
**
**     SELECT chunk, start, end FROM embed_split(:text, 500);
**     SELECT chunk FROM embed_split(body, 300, 'wl') JOIN docs ...;
**
** Each row is one chunk of the text; the chunks, in order, concatenate back
** to the text exactly, byte for byte (NUL bytes and invalid UTF-8
** included).  start and end are character offsets, start counted from 0
** and end exclusive, characters counted as substr() counts them, so
** substr(text, start + 1, end - start) = chunk (up to a NUL byte, where
** SQLite's substr() and length() stop; embed_split counts a NUL as one
** character and goes on).
**
** HOW IT WORKS
** 1. Pieces (segment.c): the text is cut into sentences, and sentences of
**    more than twice the target into pieces at white space.
** 2. Similarity.  Each piece is embedded with the model (as embed() does)
**    and each neighbouring pair gets its embCosine(); a pair where either
**    side has no known word counts as 0.
** 3. Cuts (segment.c): the chunks near the target size, cut where
**    consecutive pieces are least similar, chosen by dynamic programming
**    with the convex hull trick.
** All of it is linear in the length of the text (segment.c says why);
** memory is a few words a piece.  sqlite3_interrupt() and the progress
** handler are honoured throughout (progress.h).  target_size follows
** args.h: an integer from 1 to 1,000,000,000; 64-bit arithmetic wherever
** it is used.
*/
#include "split.h"
#include "args.h"
#include "conn.h"
#include "kernels.h"
#include "progress.h"
#include "segment.h"

#include <math.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* Column numbers */
#define SPLIT_CHUNK   0
#define SPLIT_START   1
#define SPLIT_END     2
#define SPLIT_TEXT    3      /* hidden: argument 1 */
#define SPLIT_TARGET  4      /* hidden: argument 2 */
#define SPLIT_MODEL   5      /* hidden: argument 3, optional */

#define SPLIT_TARGET_MAX 1000000000   /* characters */

typedef struct split_vtab split_vtab;
struct split_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
  EmbConn *pConn;
};

typedef struct split_cursor split_cursor;
struct split_cursor {
  sqlite3_vtab_cursor base;
  EmbProgress prog;          /* interrupt checks, on the vtab's connection */
  char *zText;               /* a copy of the text (valid while scanning) */
  int nChunk, iChunk;
  int *aByte;                /* chunk i is bytes [aByte[i], aByte[i+1]) */
  sqlite3_int64 *aChar;      /* and characters [aChar[i], aChar[i+1]) */
};

static int splitConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr){
  split_vtab *pNew;
  int rc;
  (void)argc; (void)argv; (void)pzErr;
  rc = sqlite3_declare_vtab(db,
      "CREATE TABLE x(chunk TEXT, start INTEGER, \"end\" INTEGER, "
      "text HIDDEN, target_size HIDDEN, model HIDDEN)");
  if( rc ) return rc;
  pNew = sqlite3_malloc64(sizeof(*pNew));
  if( pNew==0 ) return SQLITE_NOMEM;
  memset(pNew, 0, sizeof(*pNew));
  pNew->db = db;
  pNew->pConn = (EmbConn*)pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &pNew->base;
  return SQLITE_OK;
}

static int splitDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int splitOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  split_cursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  (void)pVtab;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static void cursorClear(split_cursor *pCur){
  sqlite3_free(pCur->zText);
  sqlite3_free(pCur->aByte);
  sqlite3_free(pCur->aChar);
  pCur->zText = 0;
  pCur->aByte = 0;
  pCur->aChar = 0;
  pCur->nChunk = pCur->iChunk = 0;
}

static int splitClose(sqlite3_vtab_cursor *cur){
  cursorClear((split_cursor*)cur);
  embProgressClear(&((split_cursor*)cur)->prog);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* segment.c's xTick: count the steps as work for the interrupt checks. */
static int splitTick(void *pArg, uint64_t nStep){
  return embProgressTick((EmbProgress*)pArg, nStep);
}

/* What a segment.c return means for SQLite. */
static int segRc(const split_cursor *pCur, int rc){
  if( rc==EMB_SEG_NOMEM ) return SQLITE_NOMEM;
  if( rc==EMB_SEG_STOPPED ) return pCur->prog.rc ? pCur->prog.rc : SQLITE_INTERRUPT;
  return SQLITE_OK;
}

/*
** Split pCur->zText (n bytes) into chunks for pCur: the byte and character
** offsets of each.  Returns SQLITE_OK, SQLITE_NOMEM or SQLITE_INTERRUPT.
*/
static int splitText(split_cursor *pCur, EmbConn *pConn, EmbModel *pModel,
                     int n, sqlite3_int64 nTarget){
  const char *z = pCur->zText;
  const EmbKernels *pK = embKernels();
  EmbSeg seg;
  EmbSegPiece *aPiece = 0;
  int nPiece = 0, i, nDims = pModel->nDims, rc;
  float *aVec = 0;
  double *aSim = 0;
  int *aFirst = 0;
  sqlite3_int64 nChar;
  memset(&seg, 0, sizeof(seg));
  seg.xTick = splitTick;
  seg.pTickArg = &pCur->prog;
  rc = segRc(pCur, embSegPieces(&seg, z, n, nTarget, &aPiece, &nPiece));
  if( rc || nPiece==0 ) return rc;
  aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_uint64)nDims*2);
  aSim = sqlite3_malloc64(sizeof(double)*(sqlite3_uint64)nPiece);
  aFirst = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)nPiece+1));
  if( !aVec || !aSim || !aFirst ){
    rc = SQLITE_NOMEM;
    goto split_done;
  }
  /* aSim[i]: the cosine of pieces i and i+1 (0 when one has no word) */
  for(i=0; i<nPiece; i++){
    float *pThis = aVec + (size_t)(i&1)*(size_t)nDims;
    float *pPrev = aVec + (size_t)((i+1)&1)*(size_t)nDims;
    int nByte = aPiece[i+1].iByte - aPiece[i].iByte;
    rc = embEmbedText(pConn, pModel, z + aPiece[i].iByte, (size_t)nByte,
                      nDims, pThis);
    if( rc ) goto split_done;
    if( i>0 ){
      double c = 0.0;
      if( embCosine(pK, (const uint8_t*)pThis, (const uint8_t*)pPrev,
                    (size_t)nDims, &c)!=EMB_COS_OK ){
        c = 0.0;
      }
      aSim[i-1] = c;
    }
    rc = embProgressTick(&pCur->prog, (sqlite3_uint64)nByte + (sqlite3_uint64)nDims);
    if( rc ) goto split_done;
  }
  rc = segRc(pCur, embSegChoose(&seg, aPiece, nPiece, aSim, nTarget, aFirst,
                                &pCur->nChunk));
  if( rc ) goto split_done;
  pCur->aByte = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)pCur->nChunk+1));
  pCur->aChar = sqlite3_malloc64(sizeof(sqlite3_int64)*((sqlite3_uint64)pCur->nChunk+1));
  if( pCur->aByte==0 || pCur->aChar==0 ){
    rc = SQLITE_NOMEM;
    goto split_done;
  }
  nChar = 0;
  for(i=0; i<pCur->nChunk; i++){
    int j;
    pCur->aByte[i] = aPiece[aFirst[i]].iByte;
    pCur->aChar[i] = nChar;
    for(j=aFirst[i]; j<aFirst[i+1]; j++) nChar += aPiece[j].nChar;
  }
  pCur->aByte[pCur->nChunk] = n;
  pCur->aChar[pCur->nChunk] = nChar;

split_done:
  if( rc ) pCur->nChunk = 0;
  sqlite3_free(aPiece);
  sqlite3_free(aVec);
  sqlite3_free(aSim);
  sqlite3_free(aFirst);
  return rc;
}

/* Set an error on the vtab; the message is freed. */
static int vtabError(sqlite3_vtab *pVtab, char *zMsg){
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zMsg;
  return zMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

static int splitFilter(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  split_cursor *pCur = (split_cursor*)cur;
  split_vtab *pTab = (split_vtab*)cur->pVtab;
  const char *zText, *zModel = "default";
  sqlite3_int64 nTarget = 0;
  EmbModel *pModel;
  int n, e;
  (void)idxStr;
  cursorClear(pCur);
  if( idxNum!=3 || argc<2 ){
    return vtabError(cur->pVtab, sqlite3_mprintf(
        "embed_split(): needs a text and a target size: "
        "embed_split(text, target_size [, model])"));
  }
  e = embArgInt(argv[1], 1, SPLIT_TARGET_MAX, &nTarget);
  if( e==EMB_ARG_NOMEM ) return SQLITE_NOMEM;
  if( e!=EMB_ARG_OK ){
    return vtabError(cur->pVtab, embArgIntError("embed_split(): target_size",
                                                1, SPLIT_TARGET_MAX, argv[1]));
  }
  if( argc>2 && sqlite3_value_type(argv[2])!=SQLITE_NULL ){
    if( sqlite3_value_type(argv[2])!=SQLITE_TEXT ){
      char *zVal = embArgDescribe(argv[2]);
      int rc = vtabError(cur->pVtab, zVal ? sqlite3_mprintf(
          "embed_split(): the model must be given by name (text), not %s",
          zVal) : 0);
      sqlite3_free(zVal);
      return rc;
    }
    zModel = (const char*)sqlite3_value_text(argv[2]);
    if( zModel==0 ) return SQLITE_NOMEM;
  }
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ) return SQLITE_OK;
  pModel = embConnFind(pTab->pConn, zModel);
  if( pModel==0 ){
    char *zWhy = embConnMissingModel(pTab->pConn, zModel);
    char *zMsg = zWhy ? sqlite3_mprintf("embed_split(): %s", zWhy) : 0;
    sqlite3_free(zWhy);
    return vtabError(cur->pVtab, zMsg);
  }
  /* TEXT and BLOB alike, as bytes; every byte, NUL included, is kept */
  zText = sqlite3_value_type(argv[0])==SQLITE_BLOB
        ? (const char*)sqlite3_value_blob(argv[0])
        : (const char*)sqlite3_value_text(argv[0]);
  n = sqlite3_value_bytes(argv[0]);
  if( zText==0 && n>0 ) return SQLITE_NOMEM;
  pCur->zText = sqlite3_malloc64((sqlite3_uint64)n + 1);
  if( pCur->zText==0 ) return SQLITE_NOMEM;
  if( n>0 ) memcpy(pCur->zText, zText, (size_t)n);
  pCur->zText[n] = 0;
  if( pCur->prog.db==0 ) embProgressInit(&pCur->prog, pTab->db);
  embProgressReset(&pCur->prog);
  return splitText(pCur, pTab->pConn, pModel, n, nTarget);
}

static int splitNext(sqlite3_vtab_cursor *cur){
  ((split_cursor*)cur)->iChunk++;
  return SQLITE_OK;
}

static int splitEof(sqlite3_vtab_cursor *cur){
  split_cursor *pCur = (split_cursor*)cur;
  return pCur->iChunk>=pCur->nChunk;
}

static int splitColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                       int i){
  split_cursor *pCur = (split_cursor*)cur;
  int k = pCur->iChunk;
  switch( i ){
    case SPLIT_CHUNK:
      sqlite3_result_text(ctx, pCur->zText + pCur->aByte[k],
                          pCur->aByte[k+1] - pCur->aByte[k], SQLITE_TRANSIENT);
      break;
    case SPLIT_START: sqlite3_result_int64(ctx, pCur->aChar[k]); break;
    case SPLIT_END:   sqlite3_result_int64(ctx, pCur->aChar[k+1]); break;
    default: break;   /* the hidden arguments read back as NULL */
  }
  return SQLITE_OK;
}

static int splitRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid){
  *pRowid = ((split_cursor*)cur)->iChunk + 1;
  return SQLITE_OK;
}

/*
** Arguments are equality constraints on the hidden columns.  idxNum bits:
**   1  text given          2  target_size given
** argv order: text, target_size, then model when given.
*/
static int splitBestIndex(sqlite3_vtab *tab, sqlite3_index_info *pInfo){
  int aIdx[3] = { -1, -1, -1 }, i, nArg = 0;
  (void)tab;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *p = &pInfo->aConstraint[i];
    int iCol = p->iColumn - SPLIT_TEXT;
    if( iCol<0 || iCol>2 || p->op!=SQLITE_INDEX_CONSTRAINT_EQ ) continue;
    if( !p->usable ) return SQLITE_CONSTRAINT;
    aIdx[iCol] = i;
  }
  pInfo->idxNum = 0;
  for(i=0; i<3; i++){
    if( aIdx[i]<0 ) break;
    pInfo->aConstraintUsage[aIdx[i]].argvIndex = ++nArg;
    pInfo->aConstraintUsage[aIdx[i]].omit = 1;
    if( i<2 ) pInfo->idxNum |= 1<<i;
  }
  pInfo->estimatedCost = pInfo->idxNum==3 ? 100.0 : 1e12;
  pInfo->estimatedRows = 20;
  return SQLITE_OK;
}

static const sqlite3_module splitModule = {
  .iVersion    = 0,
  .xConnect    = splitConnect,
  .xBestIndex  = splitBestIndex,
  .xDisconnect = splitDisconnect,
  .xOpen       = splitOpen,
  .xClose      = splitClose,
  .xFilter     = splitFilter,
  .xNext       = splitNext,
  .xEof        = splitEof,
  .xColumn     = splitColumn,
  .xRowid      = splitRowid,
};

int embSplitRegister(sqlite3 *db, EmbConn *pConn){
  embConnRef(pConn);
  return sqlite3_create_module_v2(db, "embed_split", &splitModule, pConn,
                                  embConnUnref);
}
