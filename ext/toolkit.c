/*
** toolkit.c: WordLlama's deduplicate and cluster, in SQL, over the rows of
** an embed_index: the table-valued functions embed_dedup() and
** embed_kmeans().
**
**     SELECT rowid_a, rowid_b, similarity FROM embed_dedup('notes_idx', 0.95);
**     SELECT rowid, cluster, distance FROM embed_kmeans('notes_idx', 8);
**     SELECT * FROM embed_kmeans('notes_idx', 8, 50, 42);   -- iterations, seed
**
** HOW IT WORKS
** Both read the index's vectors from its shadow table NAME_data (so they
** see exactly the committed and this transaction's rows), normalise them to
** unit length and work in memory; a row of zero norm has no direction and
** takes no part.
**
** embed_dedup: each row's sign bits (as bquant() makes them, padded to
** 64-bit words) are compared with every later row's by popcount
** (kernels.c, xHammingMany); pairs whose Hamming distance is at most
** H = ceil(1.5 * dims * acos(threshold) / pi) + 2 are confirmed by exact
** cosine and returned when it is >= threshold, each pair once with
** rowid_a < rowid_b.  For unit vectors at angle t the expected share of
** differing signs is about t/pi (exactly so for random rotations), and H
** allows half as much again plus two: a pruning that keeps near duplicates
** and drops nearly all other pairs, never an exact guarantee.
** O(rows^2 * dims/64) popcounts, O(pairs kept * dims) multiplies.
**
** embed_kmeans: spherical k-means.  k-means++ seeding (the first centre
** uniformly, each next one with probability proportional to the squared
** cosine distance to the nearest centre chosen, from a xorshift64* stream
** seeded by `seed`, default 0), then Lloyd iterations (default 20, stopping
** early when no row changes cluster): each row joins the centre of largest
** cosine (ties: the lower cluster number), each centre becomes the
** normalised mean of its rows; an emptied cluster takes the row farthest
** from its centre.  The same index, k, iterations and seed give the same
** answer.  distance = 1 - cosine to the row's centre.
*/
#include "toolkit.h"
#include "kernels.h"

#include <math.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* The vectors of an index, normalised, in memory. */
typedef struct TkData TkData;
struct TkData {
  int nRow;                  /* rows with a direction */
  int nDims;
  sqlite3_int64 *aRowid;     /* nRow rowids, ascending */
  float *aVec;               /* nRow unit vectors of nDims */
};

static void tkDataFree(TkData *p){
  sqlite3_free(p->aRowid);
  sqlite3_free(p->aVec);
  memset(p, 0, sizeof(*p));
}

/*
** Load the vectors of the embed_index named zIndex ("name" or
** "schema.name") into *p.  Returns SQLITE_OK, or an error code with *pzErr
** set (sqlite3_mprintf) for the caller to report with its function name.
*/
static int tkLoad(sqlite3 *db, const char *zIndex, TkData *p, char **pzErr){
  const char *zDot = strchr(zIndex, '.');
  char *zDb = zDot ? sqlite3_mprintf("%.*s", (int)(zDot-zIndex), zIndex)
                   : sqlite3_mprintf("main");
  const char *zName = zDot ? zDot+1 : zIndex;
  sqlite3_stmt *pStmt = 0;
  char *zSql;
  int rc, nAlloc = 0;
  memset(p, 0, sizeof(*p));
  if( zDb==0 ) return SQLITE_NOMEM;
  zSql = sqlite3_mprintf(
      "SELECT d.id, d.vector FROM \"%w\".\"%w_data\" AS d "
      "WHERE (SELECT value FROM \"%w\".\"%w_config\" WHERE key='format') "
      "IS NOT NULL ORDER BY d.id", zDb, zName, zDb, zName);
  if( zSql==0 ){ sqlite3_free(zDb); return SQLITE_NOMEM; }
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK ){
    *pzErr = sqlite3_mprintf("no embed_index named '%q' in schema '%q'",
                             zName, zDb);
    sqlite3_free(zDb);
    return SQLITE_ERROR;
  }
  sqlite3_free(zDb);
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    const uint8_t *a = sqlite3_column_blob(pStmt, 1);
    int nByte = sqlite3_column_bytes(pStmt, 1), j;
    float *pVec;
    double norm = 0.0;
    if( p->nDims==0 ) p->nDims = nByte/4;
    if( a==0 || nByte!=4*p->nDims || nByte==0 ){
      *pzErr = sqlite3_mprintf("embed_index '%q' has a corrupt vector (rowid "
                               "%lld)", zIndex, sqlite3_column_int64(pStmt, 0));
      rc = SQLITE_ERROR;
      break;
    }
    if( p->nRow>=nAlloc ){
      int nNew = nAlloc ? 2*nAlloc : 1024;
      sqlite3_int64 *aR = sqlite3_realloc64(p->aRowid, sizeof(*aR)*(size_t)nNew);
      float *aV;
      if( aR ) p->aRowid = aR;
      aV = aR ? sqlite3_realloc64(p->aVec, sizeof(float)*(size_t)nNew*(size_t)p->nDims) : 0;
      if( aV==0 ){ rc = SQLITE_NOMEM; break; }
      p->aVec = aV;
      nAlloc = nNew;
    }
    pVec = p->aVec + (size_t)p->nRow*(size_t)p->nDims;
    for(j=0; j<p->nDims; j++){
      pVec[j] = embFloatAt(a, (size_t)j);
      norm += (double)pVec[j]*pVec[j];
    }
    if( !(norm>0.0) || !isfinite(norm) ) continue;   /* no direction */
    norm = 1.0/sqrt(norm);
    for(j=0; j<p->nDims; j++) pVec[j] = (float)(pVec[j]*norm);
    p->aRowid[p->nRow++] = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  if( rc==SQLITE_DONE ) return SQLITE_OK;
  if( rc==SQLITE_ERROR && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  }
  tkDataFree(p);
  return rc;
}

static double dotF(const float *a, const float *b, int n){
  double s = 0.0;
  int i;
  for(i=0; i<n; i++) s += (double)a[i]*b[i];
  return s;
}

/* ----------------------------------------------------------------------
** The two table-valued functions share one module shape: hidden argument
** columns, results computed whole in xFilter into an array of rows.
*/
typedef struct TkRow TkRow;
struct TkRow {
  sqlite3_int64 a, b;        /* dedup: rowid_a, rowid_b; kmeans: rowid, cluster */
  double d;                  /* similarity, or distance */
};

typedef struct tk_vtab tk_vtab;
struct tk_vtab {
  sqlite3_vtab base;
  sqlite3 *db;
  int eKind;                 /* TK_DEDUP or TK_KMEANS */
};
#define TK_DEDUP  0
#define TK_KMEANS 1

typedef struct tk_cursor tk_cursor;
struct tk_cursor {
  sqlite3_vtab_cursor base;
  TkRow *aRow;
  int nRow, nAlloc, iRow;
};

static int tkPush(tk_cursor *pCur, sqlite3_int64 a, sqlite3_int64 b, double d){
  if( pCur->nRow>=pCur->nAlloc ){
    int nNew = pCur->nAlloc ? 2*pCur->nAlloc : 256;
    TkRow *aNew = sqlite3_realloc64(pCur->aRow, sizeof(TkRow)*(size_t)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    pCur->aRow = aNew;
    pCur->nAlloc = nNew;
  }
  pCur->aRow[pCur->nRow].a = a;
  pCur->aRow[pCur->nRow].b = b;
  pCur->aRow[pCur->nRow].d = d;
  pCur->nRow++;
  return SQLITE_OK;
}

/* embed_dedup: see HOW IT WORKS. */
static int runDedup(tk_cursor *pCur, const TkData *p, double rThreshold){
  int nWord = (p->nDims + 63)/64, i, j, rc = SQLITE_OK;
  size_t nCode = (size_t)nWord*8;
  uint8_t *aCode = sqlite3_malloc64(nCode*(size_t)(p->nRow ? p->nRow : 1));
  uint32_t *aDist = sqlite3_malloc64(sizeof(uint32_t)*(size_t)(p->nRow ? p->nRow : 1));
  const EmbKernels *k = embKernels();
  double rAngle = acos(rThreshold<-1.0 ? -1.0 : rThreshold>1.0 ? 1.0 : rThreshold);
  uint32_t nMax = (uint32_t)ceil(1.5*p->nDims*rAngle/M_PI) + 2;
  if( aCode==0 || aDist==0 ){ rc = SQLITE_NOMEM; goto dedup_done; }
  memset(aCode, 0, nCode*(size_t)p->nRow);
  for(i=0; i<p->nRow; i++){
    embBquant((const uint8_t*)(p->aVec + (size_t)i*p->nDims), (size_t)p->nDims,
              aCode + (size_t)i*nCode);
  }
  for(i=0; i+1<p->nRow; i++){
    const float *a = p->aVec + (size_t)i*p->nDims;
    int nLater = p->nRow - i - 1;
    k->xHammingMany(aCode + (size_t)i*nCode, aCode + (size_t)(i+1)*nCode,
                    nCode, nCode, (size_t)nLater, aDist);
    for(j=0; j<nLater; j++){
      double c;
      if( aDist[j]>nMax ) continue;
      c = dotF(a, p->aVec + (size_t)(i+1+j)*p->nDims, p->nDims);
      if( c>1.0 ) c = 1.0;
      if( c>=rThreshold ){
        rc = tkPush(pCur, p->aRowid[i], p->aRowid[i+1+j], c);
        if( rc ) goto dedup_done;
      }
    }
  }
dedup_done:
  sqlite3_free(aCode);
  sqlite3_free(aDist);
  return rc;
}

/* xorshift64*: the seeded stream of embed_kmeans. */
static uint64_t tkRand(uint64_t *pState){
  uint64_t x = *pState;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *pState = x;
  return x * 2685821657736338717ull;
}

/* A uniform double in [0, 1). */
static double tkRandUnit(uint64_t *pState){
  return (double)(tkRand(pState) >> 11) * (1.0/9007199254740992.0);
}

/* embed_kmeans: see HOW IT WORKS. */
static int runKmeans(tk_cursor *pCur, const TkData *p, int nK, int nIter,
                     sqlite3_int64 iSeed){
  int nD = p->nDims, nRow = p->nRow, i, c, it, rc = SQLITE_OK;
  float *aCent = sqlite3_malloc64(sizeof(float)*(size_t)nK*(size_t)nD);
  double *aSum = sqlite3_malloc64(sizeof(double)*(size_t)nK*(size_t)nD);
  double *aBest = sqlite3_malloc64(sizeof(double)*(size_t)(nRow ? nRow : 1));
  int *aAssign = sqlite3_malloc64(sizeof(int)*(size_t)(nRow ? nRow : 1));
  int *aCount = sqlite3_malloc64(sizeof(int)*(size_t)nK);
  uint64_t s = (uint64_t)iSeed*0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  if( !aCent || !aSum || !aBest || !aAssign || !aCount ){
    rc = SQLITE_NOMEM;
    goto kmeans_done;
  }
  if( s==0 ) s = 1;
  /* k-means++ seeding; aBest[i] = squared distance to the nearest centre */
  i = (int)(tkRand(&s) % (uint64_t)nRow);
  memcpy(aCent, p->aVec + (size_t)i*nD, sizeof(float)*(size_t)nD);
  for(i=0; i<nRow; i++){
    double d = 1.0 - dotF(p->aVec + (size_t)i*nD, aCent, nD);
    aBest[i] = d*d;
  }
  for(c=1; c<nK; c++){
    double rTotal = 0.0, r;
    int iPick = nRow-1;
    for(i=0; i<nRow; i++) rTotal += aBest[i];
    r = tkRandUnit(&s)*rTotal;
    for(i=0; i<nRow; i++){
      if( r<aBest[i] ){ iPick = i; break; }
      r -= aBest[i];
    }
    if( rTotal<=0.0 ) iPick = (int)(tkRand(&s) % (uint64_t)nRow);
    memcpy(aCent + (size_t)c*nD, p->aVec + (size_t)iPick*nD,
           sizeof(float)*(size_t)nD);
    for(i=0; i<nRow; i++){
      double d = 1.0 - dotF(p->aVec + (size_t)i*nD, aCent + (size_t)c*nD, nD);
      if( d*d<aBest[i] ) aBest[i] = d*d;
    }
  }
  /* Lloyd iterations */
  for(i=0; i<nRow; i++) aAssign[i] = -1;
  for(it=0; it<=nIter; it++){
    int nChanged = 0;
    for(i=0; i<nRow; i++){
      const float *v = p->aVec + (size_t)i*nD;
      int cBest = 0;
      double best = -INFINITY;
      for(c=0; c<nK; c++){
        double d = dotF(v, aCent + (size_t)c*nD, nD);
        if( d>best ){ best = d; cBest = c; }
      }
      if( aAssign[i]!=cBest ) nChanged++;
      aAssign[i] = cBest;
      aBest[i] = best;
    }
    if( nChanged==0 || it==nIter ) break;
    memset(aSum, 0, sizeof(double)*(size_t)nK*(size_t)nD);
    memset(aCount, 0, sizeof(int)*(size_t)nK);
    for(i=0; i<nRow; i++){
      const float *v = p->aVec + (size_t)i*nD;
      double *pSum = aSum + (size_t)aAssign[i]*nD;
      int j;
      for(j=0; j<nD; j++) pSum[j] += v[j];
      aCount[aAssign[i]]++;
    }
    for(c=0; c<nK; c++){
      double *pSum = aSum + (size_t)c*nD, norm = 0.0;
      int j;
      if( aCount[c]==0 ){
        /* an empty cluster takes the row farthest from its centre */
        int iFar = 0;
        for(i=1; i<nRow; i++) if( aBest[i]<aBest[iFar] ) iFar = i;
        memcpy(aCent + (size_t)c*nD, p->aVec + (size_t)iFar*nD,
               sizeof(float)*(size_t)nD);
        aBest[iFar] = 2.0;
        continue;
      }
      for(j=0; j<nD; j++) norm += pSum[j]*pSum[j];
      if( !(norm>0.0) ) continue;         /* keep the old centre */
      norm = 1.0/sqrt(norm);
      for(j=0; j<nD; j++) aCent[(size_t)c*nD+j] = (float)(pSum[j]*norm);
    }
  }
  for(i=0; i<nRow; i++){
    double d = 1.0 - aBest[i];
    rc = tkPush(pCur, p->aRowid[i], aAssign[i], d<0.0 ? 0.0 : d);
    if( rc ) break;
  }
kmeans_done:
  sqlite3_free(aCent);
  sqlite3_free(aSum);
  sqlite3_free(aBest);
  sqlite3_free(aAssign);
  sqlite3_free(aCount);
  return rc;
}

/* Column numbers: three results, then the hidden arguments. */
#define TK_COL_ARG0 3

static int tkConnect(sqlite3 *db, void *pAux, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr){
  tk_vtab *pNew;
  int eKind = (int)(size_t)pAux, rc;
  (void)argc; (void)argv; (void)pzErr;
  rc = sqlite3_declare_vtab(db, eKind==TK_DEDUP
      ? "CREATE TABLE x(rowid_a INTEGER, rowid_b INTEGER, similarity REAL, "
        "index_name HIDDEN, threshold HIDDEN)"
      : "CREATE TABLE x(rowid INTEGER, cluster INTEGER, distance REAL, "
        "index_name HIDDEN, k HIDDEN, iterations HIDDEN, seed HIDDEN)");
  if( rc ) return rc;
  pNew = sqlite3_malloc64(sizeof(*pNew));
  if( pNew==0 ) return SQLITE_NOMEM;
  memset(pNew, 0, sizeof(*pNew));
  pNew->db = db;
  pNew->eKind = eKind;
  *ppVtab = &pNew->base;
  return SQLITE_OK;
}

static int tkDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int tkOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  tk_cursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  (void)pVtab;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static int tkClose(sqlite3_vtab_cursor *cur){
  sqlite3_free(((tk_cursor*)cur)->aRow);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int tkError(sqlite3_vtab *pVtab, const char *zFunc, char *zMsg){
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zMsg ? sqlite3_mprintf("%s(): %s", zFunc, zMsg) : 0;
  sqlite3_free(zMsg);
  return pVtab->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* An optional integer argument in [lo, hi], or the default when NULL. */
static int tkIntArg(sqlite3_vtab *pVtab, const char *zFunc, const char *zArg,
                    sqlite3_value *pVal, sqlite3_int64 lo, sqlite3_int64 hi,
                    sqlite3_int64 iDefault, sqlite3_int64 *piOut){
  if( pVal==0 || sqlite3_value_type(pVal)==SQLITE_NULL ){
    *piOut = iDefault;
    return SQLITE_OK;
  }
  if( sqlite3_value_type(pVal)!=SQLITE_INTEGER
   || sqlite3_value_int64(pVal)<lo || sqlite3_value_int64(pVal)>hi ){
    return tkError(pVtab, zFunc, sqlite3_mprintf(
        "%s must be an integer from %lld to %lld, not '%q'", zArg, lo, hi,
        (const char*)sqlite3_value_text(pVal)));
  }
  *piOut = sqlite3_value_int64(pVal);
  return SQLITE_OK;
}

static int tkFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                    int argc, sqlite3_value **argv){
  tk_cursor *pCur = (tk_cursor*)cur;
  tk_vtab *pTab = (tk_vtab*)cur->pVtab;
  const char *zFunc = pTab->eKind==TK_DEDUP ? "embed_dedup" : "embed_kmeans";
  const char *zIndex;
  TkData data;
  char *zErr = 0;
  int rc;
  (void)idxStr;
  pCur->nRow = pCur->iRow = 0;
  if( (idxNum & 3)!=3 || argc<2 ){
    return tkError(cur->pVtab, zFunc, sqlite3_mprintf(pTab->eKind==TK_DEDUP
        ? "needs an index name and a threshold: "
          "embed_dedup(index_name, threshold)"
        : "needs an index name and k: "
          "embed_kmeans(index_name, k [, iterations [, seed]])"));
  }
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT ){
    return tkError(cur->pVtab, zFunc, sqlite3_mprintf(
        "the index name must be text"));
  }
  zIndex = (const char*)sqlite3_value_text(argv[0]);
  if( zIndex==0 ) return SQLITE_NOMEM;
  if( pTab->eKind==TK_DEDUP ){
    double r;
    int eType = sqlite3_value_numeric_type(argv[1]);
    if( eType!=SQLITE_INTEGER && eType!=SQLITE_FLOAT ){
      return tkError(cur->pVtab, zFunc, sqlite3_mprintf(
          "threshold must be a number from -1 to 1, not '%q'",
          (const char*)sqlite3_value_text(argv[1])));
    }
    r = sqlite3_value_double(argv[1]);
    if( !(r>=-1.0 && r<=1.0) ){
      return tkError(cur->pVtab, zFunc, sqlite3_mprintf(
          "threshold must be a number from -1 to 1, not %!g", r));
    }
    rc = tkLoad(pTab->db, zIndex, &data, &zErr);
    if( rc ) return zErr ? tkError(cur->pVtab, zFunc, zErr) : rc;
    rc = runDedup(pCur, &data, r);
  }else{
    sqlite3_int64 nK, nIter, iSeed;
    rc = tkIntArg(cur->pVtab, zFunc, "k", argv[1], 1, 100000, 0, &nK);
    if( rc==SQLITE_OK ){
      rc = tkIntArg(cur->pVtab, zFunc, "iterations", argc>2 ? argv[2] : 0,
                    0, 10000, 20, &nIter);
    }
    if( rc==SQLITE_OK ){
      rc = tkIntArg(cur->pVtab, zFunc, "seed", argc>3 ? argv[3] : 0,
                    -9223372036854775807LL-1, 9223372036854775807LL, 0,
                    &iSeed);
    }
    if( rc ) return rc;
    rc = tkLoad(pTab->db, zIndex, &data, &zErr);
    if( rc ) return zErr ? tkError(cur->pVtab, zFunc, zErr) : rc;
    if( nK>data.nRow ){
      rc = tkError(cur->pVtab, zFunc, sqlite3_mprintf(
          "k (%lld) is more than the rows with a direction in '%q' (%d)",
          nK, zIndex, data.nRow));
    }else{
      rc = runKmeans(pCur, &data, (int)nK, (int)nIter, iSeed);
    }
  }
  tkDataFree(&data);
  return rc;
}

static int tkNext(sqlite3_vtab_cursor *cur){
  ((tk_cursor*)cur)->iRow++;
  return SQLITE_OK;
}

static int tkEof(sqlite3_vtab_cursor *cur){
  tk_cursor *pCur = (tk_cursor*)cur;
  return pCur->iRow>=pCur->nRow;
}

static int tkColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i){
  tk_cursor *pCur = (tk_cursor*)cur;
  const TkRow *p = &pCur->aRow[pCur->iRow];
  switch( i ){
    case 0: sqlite3_result_int64(ctx, p->a); break;
    case 1: sqlite3_result_int64(ctx, p->b); break;
    case 2: sqlite3_result_double(ctx, p->d); break;
    default: break;
  }
  return SQLITE_OK;
}

static int tkRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid){
  *pRowid = ((tk_cursor*)cur)->iRow + 1;
  return SQLITE_OK;
}

/*
** Arguments are equality constraints on the hidden columns, in order.
** idxNum bit i is set when argument i is given; argv holds the given ones
** in argument order (the first two are required).
*/
static int tkBestIndex(sqlite3_vtab *tab, sqlite3_index_info *pInfo){
  int aIdx[4] = { -1, -1, -1, -1 }, i, nArg = 0;
  int nHidden = ((tk_vtab*)tab)->eKind==TK_DEDUP ? 2 : 4;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *p = &pInfo->aConstraint[i];
    int iCol = p->iColumn - TK_COL_ARG0;
    if( iCol<0 || iCol>=nHidden || p->op!=SQLITE_INDEX_CONSTRAINT_EQ ) continue;
    if( !p->usable ) return SQLITE_CONSTRAINT;
    aIdx[iCol] = i;
  }
  pInfo->idxNum = 0;
  for(i=0; i<nHidden; i++){
    if( aIdx[i]<0 ) break;
    pInfo->aConstraintUsage[aIdx[i]].argvIndex = ++nArg;
    pInfo->aConstraintUsage[aIdx[i]].omit = 1;
    pInfo->idxNum |= 1<<i;
  }
  pInfo->estimatedCost = (pInfo->idxNum & 3)==3 ? 1e6 : 1e15;
  return SQLITE_OK;
}

static const sqlite3_module tkModule = {
  .iVersion    = 0,
  .xConnect    = tkConnect,
  .xBestIndex  = tkBestIndex,
  .xDisconnect = tkDisconnect,
  .xOpen       = tkOpen,
  .xClose      = tkClose,
  .xFilter     = tkFilter,
  .xNext       = tkNext,
  .xEof        = tkEof,
  .xColumn     = tkColumn,
  .xRowid      = tkRowid,
};

int embToolkitRegister(sqlite3 *db){
  int rc = sqlite3_create_module(db, "embed_dedup", &tkModule,
                                 (void*)(size_t)TK_DEDUP);
  if( rc==SQLITE_OK ){
    rc = sqlite3_create_module(db, "embed_kmeans", &tkModule,
                               (void*)(size_t)TK_KMEANS);
  }
  return rc;
}
