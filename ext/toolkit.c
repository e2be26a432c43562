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
** The index name is resolved as SQL resolves a table name: 'schema.name'
** in that schema; a bare name in temp, then main, then the attached
** databases in the order they were attached -- the first schema holding a
** table or view of that name is the one meant, and it must be an
** embed_index.  Both functions read the index's vectors from its shadow
** table NAME_data (so they see exactly the committed and this
** transaction's rows) into memory, in rowid order.  Similarity is
** embCosine() (kernels.h), the formula of cosine() and of embed_index's
** distance, on the stored vectors: a row with no direction (every element
** zero) takes no part, as cosine() is NULL for it.
**
** embed_dedup streams: xNext does the next piece of the search, so rows
** come as they are found, LIMIT stops the work, and memory is the vectors,
** their sign codes and one block of distances, whatever the number of
** pairs.  Each row's sign bits (as bquant() makes them, padded to 64-bit
** words) are compared by popcount (kernels.c, xHammingMany) with those of
** every later row, TK_BLOCK rows at a time; pairs whose Hamming distance
** is at most H = ceil(1.5 * dims * acos(threshold) / pi) + 2 are confirmed
** by embCosine() and returned when it is >= threshold, each pair once with
** rowid_a < rowid_b, ordered by rowid_a then rowid_b.  For unit vectors at
** angle t the expected share of differing signs is about t/pi (exactly so
** for random rotations), and H allows half as much again plus two: a
** pruning that keeps near duplicates and drops nearly all other pairs,
** never an exact guarantee -- except for exact copies and positive
** multiples of a row, whose codes are equal and whose similarity is
** exactly 1.0, so threshold 1 returns every pair of them.
** O(rows^2 * dims/64) popcounts, O(pairs kept * dims) multiplies.
**
** embed_kmeans: spherical k-means, computed in xFilter (its answer is one
** row per input row), then read out.  k-means++ seeding (the first centre
** uniformly, each next one with probability proportional to the squared
** cosine distance to the nearest centre chosen, from a xorshift64* stream
** seeded by `seed`, default 0), then Lloyd iterations (default 20, stopping
** early when no row changes cluster): each row joins the centre of largest
** cosine (ties: the lower cluster number), each centre becomes the
** normalised mean of its rows' unit vectors; an emptied cluster takes the
** row farthest from its centre.  The same index, k, iterations and seed
** give the same answer.  distance = 1 - cosine to the row's centre.
** O(rows * k * dims) a round.
**
** Both stay interruptible: sqlite3_interrupt() and the progress handler are
** checked every few tens of microseconds of work (progress.h).
** Arguments follow args.h: the threshold a real from -1 to 1; k, iterations
** and seed integers.
*/
#include "toolkit.h"
#include "args.h"
#include "kernels.h"
#include "progress.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* Later rows whose codes embed_dedup compares at a time. */
#define TK_BLOCK 1024

/* The vectors of an index, in memory. */
typedef struct TkData TkData;
struct TkData {
  int nRow;                  /* rows with a direction */
  int nDims;
  sqlite3_int64 *aRowid;     /* nRow rowids, ascending */
  float *aVec;               /* nRow vectors of nDims, as stored */
  double *aInvNorm;          /* 1 / the L2 norm of each, in double */
};

static void tkDataFree(TkData *p){
  sqlite3_free(p->aRowid);
  sqlite3_free(p->aVec);
  sqlite3_free(p->aInvNorm);
  memset(p, 0, sizeof(*p));
}

static const uint8_t *tkRowBytes(const TkData *p, int i){
  return (const uint8_t*)(p->aVec + (size_t)i*(size_t)p->nDims);
}

/*
** Is there a table or view named zName in schema zDb?  Returns SQLITE_OK
** with *pbFound set, or an error code.
*/
static int tkHasTable(sqlite3 *db, const char *zDb, const char *zName,
                      int *pbFound){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema "
      "WHERE type IN ('table','view') AND name = ?1 COLLATE NOCASE", zDb);
  int rc;
  *pbFound = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc ) return rc;
  sqlite3_bind_text(pStmt, 1, zName, -1, SQLITE_STATIC);
  rc = sqlite3_step(pStmt);
  *pbFound = rc==SQLITE_ROW;
  rc = sqlite3_finalize(pStmt);
  return rc;
}

/*
** The schema that an unqualified table name zName means: temp, main, then
** the attached databases in order.  Returns SQLITE_OK with *pzDb set
** (sqlite3_mprintf'd, the caller frees it; NULL when no schema has it),
** or an error code.
*/
static int tkFindSchema(sqlite3 *db, const char *zName, char **pzDb){
  sqlite3_stmt *pList = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_database_list "
                              "ORDER BY seq<>1, seq", -1, &pList, 0);
  *pzDb = 0;
  while( rc==SQLITE_OK && sqlite3_step(pList)==SQLITE_ROW ){
    const char *zDb = (const char*)sqlite3_column_text(pList, 0);
    int bFound = 0;
    if( zDb==0 ){ rc = SQLITE_NOMEM; break; }
    rc = tkHasTable(db, zDb, zName, &bFound);
    if( rc==SQLITE_OK && bFound ){
      /* copied: the column's text dies with the statement */
      *pzDb = sqlite3_mprintf("%s", zDb);
      if( *pzDb==0 ) rc = SQLITE_NOMEM;
      break;
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pList);
  else sqlite3_finalize(pList);
  return rc;
}

/*
** Load the vectors of the embed_index named zIndex ("name" or
** "schema.name", see HOW IT WORKS) into *p.  Returns SQLITE_OK, or an
** error code, with *pzErr set (sqlite3_mprintf) for SQLITE_ERROR, for the
** caller to report with its function name.  Vectors are read under prog.
*/
static int tkLoad(sqlite3 *db, const char *zIndex, TkData *p,
                  EmbProgress *pProg, char **pzErr){
  const char *zDot = strchr(zIndex, '.');
  char *zDb = 0, *zName;
  sqlite3_stmt *pStmt = 0;
  char *zSql;
  int rc = SQLITE_OK;
  sqlite3_int64 nAlloc = 0;
  memset(p, 0, sizeof(*p));
  if( zDot ){
    zDb = sqlite3_mprintf("%.*s", (int)(zDot-zIndex), zIndex);
    zName = sqlite3_mprintf("%s", zDot+1);
  }else{
    zName = sqlite3_mprintf("%s", zIndex);
    if( zName ) rc = tkFindSchema(db, zName, &zDb);
  }
  if( zName==0 || (zDot && zDb==0) ) rc = SQLITE_NOMEM;
  if( rc ) goto load_done;
  if( zDb==0 ){
    char *zQ = embArgQuote(zName, -1);
    *pzErr = zQ ? sqlite3_mprintf("no embed_index named %s", zQ) : 0;
    sqlite3_free(zQ);
    rc = *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    goto load_done;
  }
  zSql = sqlite3_mprintf(
      "SELECT d.id, d.vector FROM \"%w\".\"%w_data\" AS d "
      "WHERE (SELECT value FROM \"%w\".\"%w_config\" WHERE key='format') "
      "IS NOT NULL ORDER BY d.id", zDb, zName, zDb, zName);
  if( zSql==0 ){ rc = SQLITE_NOMEM; goto load_done; }
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK ){
    if( rc==SQLITE_NOMEM ) goto load_done;
    char *zQName = embArgQuote(zName, -1), *zQDb = embArgQuote(zDb, -1);
    if( zQName && zQDb ){
      *pzErr = zDot
          ? sqlite3_mprintf("no embed_index named %s in schema %s", zQName, zQDb)
          : sqlite3_mprintf("%s (in schema %s) is not an embed_index",
                            zQName, zQDb);
    }
    sqlite3_free(zQName);
    sqlite3_free(zQDb);
    rc = *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
    goto load_done;
  }
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    const uint8_t *a = sqlite3_column_blob(pStmt, 1);
    int nByte = sqlite3_column_bytes(pStmt, 1), j;
    float *pVec;
    double norm = 0.0;
    if( p->nDims==0 ) p->nDims = nByte/4;
    if( a==0 || nByte!=4*p->nDims || nByte==0
     || embFindNonFinite(a, (size_t)p->nDims)>=0 ){
      char *zQ = embArgQuote(zIndex, -1);
      *pzErr = zQ ? sqlite3_mprintf("embed_index %s has a corrupt vector "
                                    "(rowid %lld)", zQ,
                                    sqlite3_column_int64(pStmt, 0)) : 0;
      sqlite3_free(zQ);
      rc = *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
      break;
    }
    if( p->nRow>=nAlloc ){
      sqlite3_int64 nNew = nAlloc ? 2*nAlloc : 1024;
      sqlite3_int64 *aR;
      float *aV;
      double *aN;
      if( nNew>0x7fffffff ) nNew = 0x7fffffff;
      if( nNew<=p->nRow ){ rc = SQLITE_TOOBIG; break; }
      aR = sqlite3_realloc64(p->aRowid, sizeof(*aR)*(sqlite3_uint64)nNew);
      if( aR ) p->aRowid = aR;
      aN = aR ? sqlite3_realloc64(p->aInvNorm, sizeof(*aN)*(sqlite3_uint64)nNew) : 0;
      if( aN ) p->aInvNorm = aN;
      aV = aN ? sqlite3_realloc64(p->aVec, sizeof(float)*(sqlite3_uint64)nNew
                                           *(sqlite3_uint64)p->nDims) : 0;
      if( aV==0 ){ rc = SQLITE_NOMEM; break; }
      p->aVec = aV;
      nAlloc = nNew;
    }
    pVec = p->aVec + (size_t)p->nRow*(size_t)p->nDims;
    memcpy(pVec, a, (size_t)nByte);
    /* float32 squares neither underflow nor overflow in double: the norm
    ** is 0 exactly when every element is (embCosine()'s "no direction") */
    for(j=0; j<p->nDims; j++) norm += (double)pVec[j]*pVec[j];
    if( embProgressTick(pProg, (sqlite3_uint64)p->nDims) ){
      rc = pProg->rc;
      break;
    }
    if( !(norm>0.0) ) continue;
    p->aInvNorm[p->nRow] = 1.0/sqrt(norm);
    p->aRowid[p->nRow++] = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  if( rc==SQLITE_DONE ){
    rc = SQLITE_OK;
  }else if( rc==SQLITE_ERROR && *pzErr==0 ){
    *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  }
load_done:
  if( rc ) tkDataFree(p);
  sqlite3_free(zDb);
  sqlite3_free(zName);
  return rc;
}

/* ----------------------------------------------------------------------
** The two table-valued functions share one module shape: hidden argument
** columns; embed_dedup finds its rows in xNext, embed_kmeans in xFilter.
*/
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
  EmbProgress prog;
  TkData data;
  int bEof;
  sqlite3_int64 iRowid;      /* rowid of the current row, from 1 */
  /* embed_dedup: the pair (i, j) is current; aDist[] holds the distances
  ** of the block of rows [iBlock, iBlock+nBlock) to row i, of which
  ** iNext is the next to look at */
  double rThreshold;
  uint32_t nMax;             /* the Hamming bound H */
  size_t nCode;              /* bytes of a sign code */
  uint8_t *aCode;            /* data.nRow codes */
  uint32_t *aDist;           /* TK_BLOCK distances */
  int i, j;
  int iBlock, nBlock, iNext;
  double rSim;               /* similarity of (i, j) */
  /* embed_kmeans: row i of data is the current row */
  int *aAssign;              /* cluster of each row */
  double *aBest;             /* cosine to its centre */
};

static void tkCursorReset(tk_cursor *pCur){
  embProgressClear(&pCur->prog);
  tkDataFree(&pCur->data);
  sqlite3_free(pCur->aCode);
  sqlite3_free(pCur->aDist);
  sqlite3_free(pCur->aAssign);
  sqlite3_free(pCur->aBest);
  memset(&pCur->prog, 0, sizeof(*pCur) - offsetof(tk_cursor, prog));
  pCur->bEof = 1;
}

/*
** embed_dedup: move to the next pair at or above the threshold, or to EOF.
** Returns SQLITE_OK, SQLITE_INTERRUPT or SQLITE_NOMEM.
*/
static int dedupStep(tk_cursor *pCur){
  const TkData *p = &pCur->data;
  const EmbKernels *pK = embKernels();
  size_t nWord = pCur->nCode/8;
  for(;;){
    const uint32_t *aDist = pCur->aDist;
    const uint32_t nMax = pCur->nMax;
    const int nBlock = pCur->nBlock;
    for(;;){
      int k = pCur->iNext, j;
      double c;
      /* the next candidate of the block: almost every row fails here */
      while( k<nBlock && aDist[k]>nMax ) k++;
      if( k>=nBlock ){
        pCur->iNext = nBlock;
        break;
      }
      pCur->iNext = k+1;
      j = pCur->iBlock + k;
      if( embProgressTick(&pCur->prog, (sqlite3_uint64)p->nDims) ){
        return pCur->prog.rc;
      }
      if( embCosine(pK, tkRowBytes(p, pCur->i), tkRowBytes(p, j),
                    (size_t)p->nDims, &c)==EMB_COS_OK
       && c>=pCur->rThreshold ){
        pCur->j = j;
        pCur->rSim = c;
        return SQLITE_OK;
      }
    }
    /* the next block of later rows, or the next row */
    pCur->iBlock += pCur->nBlock;
    if( pCur->iBlock>=p->nRow ){
      pCur->i++;
      pCur->iBlock = pCur->i + 1;
      if( pCur->iBlock>=p->nRow ){
        pCur->bEof = 1;
        return SQLITE_OK;
      }
    }
    pCur->nBlock = p->nRow - pCur->iBlock;
    if( pCur->nBlock>TK_BLOCK ) pCur->nBlock = TK_BLOCK;
    pCur->iNext = 0;
    pK->xHammingMany(pCur->aCode + (size_t)pCur->i*pCur->nCode,
                     pCur->aCode + (size_t)pCur->iBlock*pCur->nCode,
                     pCur->nCode, pCur->nCode, (size_t)pCur->nBlock,
                     pCur->aDist);
    if( embProgressTick(&pCur->prog, (sqlite3_uint64)pCur->nBlock*nWord) ){
      return pCur->prog.rc;
    }
  }
}

/* embed_dedup's xFilter work once the rows are loaded: the codes, then the
** first pair. */
static int dedupStart(tk_cursor *pCur, double rThreshold){
  const TkData *p = &pCur->data;
  double rAngle = acos(rThreshold);
  int i;
  pCur->rThreshold = rThreshold;
  pCur->nMax = (uint32_t)ceil(1.5*p->nDims*rAngle/M_PI) + 2;
  pCur->bEof = 0;
  if( p->nRow<2 ){
    pCur->bEof = 1;
    return SQLITE_OK;
  }
  pCur->nCode = (size_t)(p->nDims + 63)/64*8;
  pCur->aCode = sqlite3_malloc64((sqlite3_uint64)pCur->nCode*(sqlite3_uint64)p->nRow);
  pCur->aDist = sqlite3_malloc64(sizeof(uint32_t)*TK_BLOCK);
  if( pCur->aCode==0 || pCur->aDist==0 ) return SQLITE_NOMEM;
  memset(pCur->aCode, 0, pCur->nCode*(size_t)p->nRow);
  for(i=0; i<p->nRow; i++){
    embBquant(tkRowBytes(p, i), (size_t)p->nDims,
              pCur->aCode + (size_t)i*pCur->nCode);
  }
  /* an empty block before row 0's first: dedupStep() moves on from it */
  pCur->i = 0;
  pCur->iBlock = 1;
  pCur->nBlock = 0;
  pCur->iNext = 0;
  return dedupStep(pCur);
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

/* Cosine of row i of p and the centre c (nDims floats); -1 when the centre
** has no direction (a row always has one). */
static double tkCos(const TkData *p, int i, const float *c){
  double r;
  if( embCosine(embKernels(), tkRowBytes(p, i), (const uint8_t*)c,
                (size_t)p->nDims, &r)!=EMB_COS_OK ){
    return -1.0;
  }
  return r;
}

/* embed_kmeans: see HOW IT WORKS.  Fills pCur->aAssign and aBest. */
static int runKmeans(tk_cursor *pCur, int nK, int nIter, sqlite3_int64 iSeed){
  const TkData *p = &pCur->data;
  EmbProgress *pProg = &pCur->prog;
  int nD = p->nDims, nRow = p->nRow, i, c, it, rc = SQLITE_OK;
  sqlite3_uint64 nRound = (sqlite3_uint64)nD;   /* work per row and centre */
  float *aCent = sqlite3_malloc64(sizeof(float)*(sqlite3_uint64)nK*(sqlite3_uint64)nD);
  double *aSum = sqlite3_malloc64(sizeof(double)*(sqlite3_uint64)nK*(sqlite3_uint64)nD);
  int *aCount = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)nK);
  double *aBest = pCur->aBest = sqlite3_malloc64(sizeof(double)*(sqlite3_uint64)nRow);
  int *aAssign = pCur->aAssign = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)nRow);
  uint64_t s = (uint64_t)iSeed*0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  if( !aCent || !aSum || !aBest || !aAssign || !aCount ){
    rc = SQLITE_NOMEM;
    goto kmeans_done;
  }
  if( s==0 ) s = 1;
  /* k-means++ seeding; aBest[i] = squared distance to the nearest centre */
  i = (int)(tkRand(&s) % (uint64_t)nRow);
  for(c=0; c<nK; c++){
    float *pCent = aCent + (size_t)c*nD;
    int j;
    if( c>0 ){
      double rTotal = 0.0, r;
      int iPick = nRow-1;
      for(j=0; j<nRow; j++) rTotal += aBest[j];
      r = tkRandUnit(&s)*rTotal;
      for(j=0; j<nRow; j++){
        if( r<aBest[j] ){ iPick = j; break; }
        r -= aBest[j];
      }
      if( rTotal<=0.0 ) iPick = (int)(tkRand(&s) % (uint64_t)nRow);
      i = iPick;
    }
    /* a centre is a unit vector */
    for(j=0; j<nD; j++){
      pCent[j] = (float)(p->aVec[(size_t)i*nD + j]*p->aInvNorm[i]);
    }
    for(j=0; j<nRow; j++){
      double d = 1.0 - tkCos(p, j, pCent);
      if( c==0 || d*d<aBest[j] ) aBest[j] = d*d;
      if( embProgressTick(pProg, nRound) ){ rc = pProg->rc; goto kmeans_done; }
    }
  }
  /* Lloyd iterations */
  for(i=0; i<nRow; i++) aAssign[i] = -1;
  for(it=0; it<=nIter; it++){
    int nChanged = 0;
    for(i=0; i<nRow; i++){
      int cBest = 0;
      double best = -INFINITY;
      for(c=0; c<nK; c++){
        double d = tkCos(p, i, aCent + (size_t)c*nD);
        if( d>best ){ best = d; cBest = c; }
      }
      if( embProgressTick(pProg, nRound*(sqlite3_uint64)nK) ){
        rc = pProg->rc;
        goto kmeans_done;
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
      double *pSum = aSum + (size_t)aAssign[i]*nD, r = p->aInvNorm[i];
      int j;
      for(j=0; j<nD; j++) pSum[j] += v[j]*r;
      aCount[aAssign[i]]++;
    }
    for(c=0; c<nK; c++){
      double *pSum = aSum + (size_t)c*nD, norm = 0.0;
      int j;
      if( aCount[c]==0 ){
        /* an empty cluster takes the row farthest from its centre */
        int iFar = 0;
        for(i=1; i<nRow; i++) if( aBest[i]<aBest[iFar] ) iFar = i;
        for(j=0; j<nD; j++){
          aCent[(size_t)c*nD + j] =
              (float)(p->aVec[(size_t)iFar*nD + j]*p->aInvNorm[iFar]);
        }
        aBest[iFar] = 2.0;
        continue;
      }
      for(j=0; j<nD; j++) norm += pSum[j]*pSum[j];
      if( !(norm>0.0) ) continue;         /* keep the old centre */
      norm = 1.0/sqrt(norm);
      for(j=0; j<nD; j++) aCent[(size_t)c*nD+j] = (float)(pSum[j]*norm);
    }
  }
kmeans_done:
  sqlite3_free(aCent);
  sqlite3_free(aSum);
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
  pCur->bEof = 1;
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static int tkClose(sqlite3_vtab_cursor *cur){
  tkCursorReset((tk_cursor*)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

/* Set the vtab's error to zMsg (a whole message, which is taken over);
** NULL means out of memory. */
static int tkError(sqlite3_vtab *pVtab, char *zMsg){
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zMsg;
  return zMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* An integer argument in [lo, hi] (args.h), or iDefault when NULL and
** bRequired is 0. */
static int tkIntArg(sqlite3_vtab *pVtab, const char *zWhat,
                    sqlite3_value *pVal, sqlite3_int64 lo, sqlite3_int64 hi,
                    int bRequired, sqlite3_int64 iDefault,
                    sqlite3_int64 *piOut){
  int e = pVal ? embArgInt(pVal, lo, hi, piOut) : EMB_ARG_NULL;
  if( e==EMB_ARG_NULL && !bRequired ){
    *piOut = iDefault;
    return SQLITE_OK;
  }
  if( e==EMB_ARG_OK ) return SQLITE_OK;
  if( e==EMB_ARG_NOMEM ) return SQLITE_NOMEM;
  return tkError(pVtab, embArgIntError(zWhat, lo, hi, pVal));
}

static int tkFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                    int argc, sqlite3_value **argv){
  tk_cursor *pCur = (tk_cursor*)cur;
  tk_vtab *pTab = (tk_vtab*)cur->pVtab;
  int bDedup = pTab->eKind==TK_DEDUP;
  const char *zFunc = bDedup ? "embed_dedup" : "embed_kmeans";
  const char *zIndex;
  char *zErr = 0;
  double rThreshold = 0.0;
  sqlite3_int64 nK = 0, nIter = 0, iSeed = 0;
  int rc;
  (void)idxStr;
  tkCursorReset(pCur);
  if( (idxNum & 3)!=3 || argc<2 ){
    return tkError(cur->pVtab, sqlite3_mprintf(bDedup
        ? "embed_dedup(): needs an index name and a threshold: "
          "embed_dedup(index_name, threshold)"
        : "embed_kmeans(): needs an index name and k: "
          "embed_kmeans(index_name, k [, iterations [, seed]])"));
  }
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT ){
    char *zVal = embArgDescribe(argv[0]);
    rc = tkError(cur->pVtab, zVal ? sqlite3_mprintf(
        "%s(): the index name must be text, not %s", zFunc, zVal) : 0);
    sqlite3_free(zVal);
    return rc;
  }
  zIndex = (const char*)sqlite3_value_text(argv[0]);
  if( zIndex==0 ) return SQLITE_NOMEM;
  /* every argument is checked before any work */
  if( bDedup ){
    int e = embArgReal(argv[1], &rThreshold);
    if( e==EMB_ARG_NOMEM ) return SQLITE_NOMEM;
    if( e!=EMB_ARG_OK || !(rThreshold>=-1.0 && rThreshold<=1.0) ){
      char *zVal = embArgDescribe(argv[1]);
      rc = tkError(cur->pVtab, zVal ? sqlite3_mprintf(
          "embed_dedup(): threshold must be a number from -1 to 1, not %s",
          zVal) : 0);
      sqlite3_free(zVal);
      return rc;
    }
  }else{
    rc = tkIntArg(cur->pVtab, "embed_kmeans(): k", argv[1], 1, 100000, 1, 0,
                  &nK);
    if( rc==SQLITE_OK ){
      rc = tkIntArg(cur->pVtab, "embed_kmeans(): iterations",
                    argc>2 ? argv[2] : 0, 0, 10000, 0, 20, &nIter);
    }
    if( rc==SQLITE_OK ){
      rc = tkIntArg(cur->pVtab, "embed_kmeans(): seed", argc>3 ? argv[3] : 0,
                    -9223372036854775807LL-1, 9223372036854775807LL, 0, 0,
                    &iSeed);
    }
    if( rc ) return rc;
  }
  embProgressInit(&pCur->prog, pTab->db);
  rc = tkLoad(pTab->db, zIndex, &pCur->data, &pCur->prog, &zErr);
  if( rc ){
    if( zErr ){
      rc = tkError(cur->pVtab, sqlite3_mprintf("%s(): %s", zFunc, zErr));
      sqlite3_free(zErr);
    }
    return rc;
  }
  if( bDedup ) return dedupStart(pCur, rThreshold);
  if( nK>pCur->data.nRow ){
    char *zQ = embArgQuote(zIndex, -1);
    rc = tkError(cur->pVtab, zQ ? sqlite3_mprintf(
        "embed_kmeans(): k (%lld) is more than the rows with a direction in "
        "%s (%d)", nK, zQ, pCur->data.nRow) : 0);
    sqlite3_free(zQ);
    return rc;
  }
  rc = runKmeans(pCur, (int)nK, (int)nIter, iSeed);
  if( rc ) return rc;
  pCur->i = 0;
  pCur->bEof = pCur->data.nRow==0;
  return SQLITE_OK;
}

static int tkNext(sqlite3_vtab_cursor *cur){
  tk_cursor *pCur = (tk_cursor*)cur;
  pCur->iRowid++;
  if( ((tk_vtab*)cur->pVtab)->eKind==TK_DEDUP ) return dedupStep(pCur);
  pCur->i++;
  pCur->bEof = pCur->i>=pCur->data.nRow;
  return SQLITE_OK;
}

static int tkEof(sqlite3_vtab_cursor *cur){
  return ((tk_cursor*)cur)->bEof;
}

static int tkColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i){
  tk_cursor *pCur = (tk_cursor*)cur;
  const TkData *p = &pCur->data;
  if( ((tk_vtab*)cur->pVtab)->eKind==TK_DEDUP ){
    switch( i ){
      case 0: sqlite3_result_int64(ctx, p->aRowid[pCur->i]); break;
      case 1: sqlite3_result_int64(ctx, p->aRowid[pCur->j]); break;
      case 2: sqlite3_result_double(ctx, pCur->rSim); break;
      default: break;    /* the hidden arguments read back as NULL */
    }
  }else{
    switch( i ){
      case 0: sqlite3_result_int64(ctx, p->aRowid[pCur->i]); break;
      case 1: sqlite3_result_int(ctx, pCur->aAssign[pCur->i]); break;
      case 2: {
        double d = 1.0 - pCur->aBest[pCur->i];
        sqlite3_result_double(ctx, d<0.0 ? 0.0 : d);
        break;
      }
      default: break;
    }
  }
  return SQLITE_OK;
}

static int tkRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid){
  *pRowid = ((tk_cursor*)cur)->iRowid + 1;
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
