/*
** index_search.c: embed_index's search, a cascade of cheaper to dearer
** distances over the cache that index_store.c keeps.
**
**     IndexQuery q = { aQ, 10 };            (vector, k, filters)
**     embSearch(p, &q, &aHit, &nHit, 0);    aHit nearest first
**     embSearchStream(p, &q, &aHit, &nHit, 0, &bDone)   (no cache yet)
**
** HOW IT WORKS (quant=binary)
** Each row has sign bits (bquant() of its vector) and a 4-bit code of its
** direction: a scale (the largest |component| of the unit vector, / 7)
** and each component rounded to -7..7 of it (embFineEncode()).
**   Small index (embIndexFineScan(), 4-bit codes up to 16 MB): every row's
**      4-bit code against the query rounded to int8 (kernels.c's
**      xFineScan, exact integer sums), keeping the nCand2 best estimates;
**      the sign bits would only lose rows the estimates keep (on real text
**      at 64-128 dims they need a sixth of the rows as candidates to keep
**      99% of the top 10, where the estimates need 30 rows).
**   Large index: the Hamming distance of the sign bits to every row's
**      (popcount), keeping the nCand1 nearest and every row tied with the
**      last; then those rows' 4-bit estimates, keeping nCand2.  A new
**      connection's first query reads the sign bits alone and ranks by
**      the float query's dot product with the rows' signs instead,
**      keeping SIGN_FACTOR x nCand2.  It runs before the connection has a
**      cache (embSearchStream()): each chunk's image is read into one
**      buffer and scanned at once, the rows kept taking their rowids and
**      codes with them, so the first answer waits for the sign bits and
**      no memory of its own; the second query builds the cache (the same
**      cascade, the same answer).  Each later query (without a rowid
**      filter) reads 4-bit codes, a chunk at a time, while it has read
**      less than the sign bits' size (embStoreFineWarm()), and once every
**      chunk's are in memory they take over.  At 1M x 256 the sign
**      estimate needs 368 exact candidates where the 4-bit one needs 46,
**      and each costs a B-tree lookup.  A chunk read again after another
**      connection's commit comes back without its 4-bit codes; while such
**      chunks hold at most 1/64 of the rows, their candidates go to the
**      exact stage unestimated (a few lookups) rather than have their
**      codes read again after each commit (embStoreFineWarm()).
**   Then exact: the float vectors of the rows left, read from NAME_data
**      in rowid order, give 1 - cosine as cosine() computes it; the k
**      nearest, ties broken by rowid, are the answer.
** quant=none scans the float vectors held in the chunks exactly.  An index
** from format 1 (not migrated yet) is searched as format 1 was: Hamming,
** then k x oversample rows (at least sqrt(rows)) exactly.
**
** The plan.  nCand2 = k x fineFactor(dims) + 16, or k x oversample when
** given; nCand1 = nCand2 x hammingFactor(dims), at least 2 sqrt(rows).
** When a stage would keep every row it is skipped.  The figures behind
** these choices are in bench/INDEX.md.
**
** Determinism.  Each stage keeps the rows at or within a threshold of its
** estimate (ties all kept), so the answer depends only on the rows, the
** query and (large index) which chunks' 4-bit codes are in memory, not on
** the order rows were seen.
*/
#include "index_int.h"
#include "kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define LARGEST_INT64   ((sqlite3_int64)0x7fffffffffffffffLL)
#define SEARCH_BLOCK    512        /* rows per xHammingWithin call */
#define SIGN_FACTOR     8          /* exact candidates, sign vs 4-bit */
#define SIGN_PREFETCH   8          /* candidates ahead, stage 2 */
#define FINE_BATCH      32         /* candidates a xFineRows call */

/* ------------------------------------------------------------------------
** The 4-bit code
*/

/* x rounded to the nearest integer, ties to even (as lrint() in the
** default rounding mode), for |x| < 2^51: adding and taking away 1.5 x
** 2^52 leaves no fraction bits.  Inline, where lrint() is a libm call. */
static inline double fineRound(double x){
  volatile double rBig = 6755399441055744.0;      /* 1.5 x 2^52 */
  double r = rBig;
  return (x + r) - r;
}

void embFineEncode(const uint8_t *aVec, int nDims, float *pScale,
                   uint8_t *aOut){
  double rNorm = 0.0, rAbsMax = 0.0, rStep;
  int i;
  for(i=0; i<nDims; i++){
    double x = embFloatAt(aVec, (size_t)i);
    rNorm += x*x;
    if( fabs(x)>rAbsMax ) rAbsMax = fabs(x);
  }
  memset(aOut, 0, ((size_t)nDims+1)/2);
  if( !(rNorm>0.0) || !isfinite(rNorm) ){
    *pScale = 0.0f;
    return;
  }
  rNorm = sqrt(rNorm);
  /* The largest |x| / rNorm: division rounds monotonically, so it is the
  ** quotient of the largest |x|. */
  rStep = rAbsMax / rNorm / 7.0;
  *pScale = (float)rStep;
  if( !(rStep>0.0) ) return;
  for(i=0; i<nDims; i++){
    double x = embFloatAt(aVec, (size_t)i) / rNorm / rStep;
    int q = (int)fineRound(x);
    if( q<-7 ) q = -7;
    if( q>7 ) q = 7;
    aOut[i>>1] |= (uint8_t)((q & 0xf) << ((i&1)*4));
  }
}

/* ------------------------------------------------------------------------
** Heaps
*/

/* a comes before b: nearer, or as near with a smaller rowid. */
static int hitBefore(const IndexHit *a, const IndexHit *b){
  return a->d<b->d || (a->d==b->d && a->iRowid<b->iRowid);
}

static int hitCompare(const void *a, const void *b){
  return hitBefore((const IndexHit*)a, (const IndexHit*)b) ? -1 :
         hitBefore((const IndexHit*)b, (const IndexHit*)a) ? 1 : 0;
}

static int hitRowidCompare(const void *a, const void *b){
  sqlite3_int64 x = ((const IndexHit*)a)->iRowid;
  sqlite3_int64 y = ((const IndexHit*)b)->iRowid;
  return x<y ? -1 : x>y;
}


/* A bounded max-heap of the nMax nearest hits offered: a[0] is the
** farthest kept. */
typedef struct IndexHeap IndexHeap;
struct IndexHeap {
  IndexHit *a;
  int n, nMax;
};

static void heapOffer(IndexHeap *h, double d, sqlite3_int64 iRowid,
                      uint32_t iPos){
  IndexHit x;
  int i;
  x.d = d;
  x.iRowid = iRowid;
  x.iPos = iPos;
  if( h->n<h->nMax ){
    for(i=h->n++; i>0; ){
      int iParent = (i-1)/2;
      if( !hitBefore(&h->a[iParent], &x) ) break;
      h->a[i] = h->a[iParent];
      i = iParent;
    }
    h->a[i] = x;
  }else if( h->nMax>0 && hitBefore(&x, &h->a[0]) ){
    for(i=0;;){
      int iChild = 2*i+1;
      if( iChild>=h->n ) break;
      if( iChild+1<h->n && hitBefore(&h->a[iChild], &h->a[iChild+1]) ){
        iChild++;
      }
      if( !hitBefore(&x, &h->a[iChild]) ) break;
      h->a[i] = h->a[iChild];
      i = iChild;
    }
    h->a[i] = x;
  }
}

static int heapInit(IndexHeap *h, sqlite3_int64 nMax){
  h->n = 0;
  h->nMax = (int)nMax;
  h->a = nMax>0 ? sqlite3_malloc64(sizeof(IndexHit)*(size_t)nMax) : 0;
  return (nMax>0 && h->a==0) ? SQLITE_NOMEM : SQLITE_OK;
}

static int queryAllows(const IndexQuery *q, double d){
  return q->eMax==0 || d<q->rMax || (q->eMax==2 && d==q->rMax);
}

/* ------------------------------------------------------------------------
** Rows to look at
*/

/* The positions of every row the query may return, in position order:
** every live row, or those of the rowid filter.  Calls xRow(pArg, iPos,
** iRowid, aCode) for each. */
typedef void (*RowCallback)(void*, uint32_t, sqlite3_int64, const uint8_t*);

static void forEachRow(const index_vtab *p, const IndexQuery *q,
                       RowCallback xRow, void *pArg){
  const IndexCache *c = p->pCache;
  int i;
  if( q->aRowid ){
    int j;
    for(j=0; j<q->nRowid; j++){
      sqlite3_int64 iPos = embStoreFind(c, q->aRowid[j]);
      if( iPos>=0 ){
        const IndexChunk *pC = c->apChunk[iPos>>INDEX_CHUNK_SHIFT];
        uint32_t s = (uint32_t)iPos & (INDEX_CHUNK_MAX-1);
        xRow(pArg, (uint32_t)iPos, q->aRowid[j],
             embChunkCodes(pC) + p->nStride*(size_t)s);
      }
    }
    return;
  }
  for(i=0; i<c->nChunk; i++){
    const IndexChunk *pC = c->apChunk[i];
    const uint8_t *aCode = embChunkCodes(pC);
    uint32_t s;
    for(s=0; s<pC->nUsed; s++){
      if( embChunkValid(pC, s) ){
        xRow(pArg, ((uint32_t)i<<INDEX_CHUNK_SHIFT) | s, embChunkRowid(pC, s),
             aCode + p->nStride*(size_t)s);
      }
    }
  }
}

typedef struct RowCtx RowCtx;
struct RowCtx {
  const index_vtab *p;
  const IndexQuery *q;
  const uint8_t *aQCode;     /* the query's sign bits */
  IndexHeap *pHeap;
};

static void rowExactMem(void *pArg, uint32_t iPos, sqlite3_int64 iRowid,
                        const uint8_t *aCode){
  RowCtx *x = (RowCtx*)pArg;
  double d;
  if( embProgressTick(&((index_vtab*)x->p)->prog, (sqlite3_uint64)x->p->nDims) ){
    return;                    /* interrupted: the caller reads prog.rc */
  }
  if( embIndexDistance((const uint8_t*)x->q->aQ, aCode, (size_t)x->p->nDims,
                       &d)
   && queryAllows(x->q, d) ){
    heapOffer(x->pHeap, d, iRowid, iPos);
  }
}

static void rowAll(void *pArg, uint32_t iPos, sqlite3_int64 iRowid,
                   const uint8_t *aCode){
  RowCtx *x = (RowCtx*)pArg;
  (void)aCode;
  heapOffer(x->pHeap, 0.0, iRowid, iPos);
}

/* ------------------------------------------------------------------------
** The stages
*/

/* A growing list of candidates. */
typedef struct CandList CandList;
struct CandList {
  IndexHit *a;
  int n, nAlloc;
};

static inline int candPush(CandList *l, double d, sqlite3_int64 iRowid,
                           uint32_t iPos){
  if( l->n>=l->nAlloc ){
    int nNew = l->nAlloc ? l->nAlloc*2 : 256;
    IndexHit *aNew = sqlite3_realloc64(l->a, sizeof(IndexHit)*(size_t)nNew);
    if( aNew==0 ) return SQLITE_NOMEM;
    l->a = aNew;
    l->nAlloc = nNew;
  }
  l->a[l->n].d = d;
  l->a[l->n].iRowid = iRowid;
  l->a[l->n].iPos = iPos;
  l->n++;
  return SQLITE_OK;
}

/* The candidate list lives on in the table between queries (large blocks
** allocated and freed by every query would be mapped afresh each time):
** a search takes it, empty, and gives it back. */
static void candTake(index_vtab *p, CandList *l){
  l->a = p->aScratch;
  l->nAlloc = p->nScratch;
  l->n = 0;
  p->aScratch = 0;
  p->nScratch = 0;
}
static void candGive(index_vtab *p, CandList *l){
  p->aScratch = l->a;
  p->nScratch = l->nAlloc;
}

/* Keep the candidates with d <= rMax. */
static void candPrune(CandList *l, double rMax){
  int i, j;
  for(i=j=0; i<l->n; i++){
    if( l->a[i].d<=rMax ) l->a[j++] = l->a[i];
  }
  l->n = j;
}

/*
** Stage 1: every row whose Hamming distance from the query's code is at
** most T, the smallest distance with nWant rows at or within it (so all
** the rows tied at T, however many: cutting ties by rowid would drop
** rows for a reason that has nothing to do with the query).  One pass: T
** only falls as rows are seen, and rows beyond the current T are skipped
** at the cost of one comparison.
**
** A streamed search (embSearchStream()) sees each chunk once, in a
** buffer read over by the next: each row kept takes its rowid then, and
** a copy of its code into aSide, its iPos the copy's index.
*/
typedef struct Stage1 Stage1;
struct Stage1 {
  const uint8_t *aQCode;     /* the query's sign bits */
  sqlite3_int64 nWant;
  uint32_t T;
  sqlite3_int64 nIn;         /* rows kept with distance <= T */
  sqlite3_int64 *aHist;      /* rows kept at each distance */
  CandList *pOut;
  uint8_t *aSide;            /* streamed: the kept rows' codes */
  int nSide, nSideAlloc;
};

static int stage1Init(index_vtab *p, Stage1 *st, const uint8_t *aQCode,
                      sqlite3_int64 nWant, CandList *pOut){
  uint32_t nBits = (uint32_t)p->nStride*8;
  memset(st, 0, sizeof(*st));
  st->aQCode = aQCode;
  st->nWant = nWant;
  st->T = nBits;
  st->pOut = pOut;
  st->aHist = sqlite3_malloc64(sizeof(sqlite3_int64)*((size_t)nBits+1));
  if( st->aHist==0 ) return SQLITE_NOMEM;
  memset(st->aHist, 0, sizeof(sqlite3_int64)*((size_t)nBits+1));
  /* Room for the kept rows at once, so that pushes rarely grow it. */
  if( pOut->nAlloc < 2*nWant+1024 && nWant<0x10000000 ){
    IndexHit *aNew = sqlite3_realloc64(pOut->a,
                                       sizeof(IndexHit)*(size_t)(2*nWant+1024));
    if( aNew ){
      pOut->a = aNew;
      pOut->nAlloc = (int)(2*nWant+1024);
    }
  }
  return SQLITE_OK;
}

/* Keep the candidates within T; a streamed search's copies follow. */
static void stage1Prune(const index_vtab *p, Stage1 *st){
  CandList *l = st->pOut;
  int i, j;
  if( st->aSide==0 ){
    candPrune(l, (double)st->T);
    return;
  }
  for(i=j=0; i<l->n; i++){
    if( l->a[i].d<=(double)st->T ){
      uint32_t iFrom = l->a[i].iPos;
      l->a[j] = l->a[i];
      l->a[j].iPos = (uint32_t)j;
      if( iFrom!=(uint32_t)j ){
        memmove(st->aSide + p->nStride*(size_t)j,
                st->aSide + p->nStride*(size_t)iFrom, p->nStride);
      }
      j++;
    }
  }
  l->n = j;
  st->nSide = j;
}

/* A row at Hamming distance d: kept if within T, and T lowered. */
static int stage1Row(const index_vtab *p, Stage1 *st, uint32_t d,
                     sqlite3_int64 iRowid, uint32_t iPos,
                     const uint8_t *aCode){
  int rc;
  if( d>st->T ) return SQLITE_OK;
  if( aCode ){
    if( st->nSide>=st->nSideAlloc ){
      int nNew = st->nSideAlloc ? st->nSideAlloc*2 : 1024;
      uint8_t *aNew = sqlite3_realloc64(st->aSide, p->nStride*(size_t)nNew);
      if( aNew==0 ) return SQLITE_NOMEM;
      st->aSide = aNew;
      st->nSideAlloc = nNew;
    }
    memcpy(st->aSide + p->nStride*(size_t)st->nSide, aCode, p->nStride);
    iPos = (uint32_t)st->nSide++;
  }
  rc = candPush(st->pOut, (double)d, iRowid, iPos);
  if( rc ) return rc;
  st->aHist[d]++;
  st->nIn++;
  while( st->T>0 && st->nIn - st->aHist[st->T] >= st->nWant ){
    st->nIn -= st->aHist[st->T];
    st->T--;
  }
  if( st->pOut->n > 2*st->nIn + 1024 ) stage1Prune(p, st);
  return SQLITE_OK;
}

/* Every valid row of chunk pC (chunk i of the cache, or the one a stream
** has just read: bStream). */
static int stage1Chunk(index_vtab *p, Stage1 *st, const IndexChunk *pC,
                       int i, int bStream){
  const EmbKernels *pK = embKernels();
  const uint8_t *aCode = embChunkCodes(pC);
  uint32_t aDist[SEARCH_BLOCK], aIdx[SEARCH_BLOCK];
  uint32_t s, j;
  int rc = SQLITE_OK;
  for(s=0; s<pC->nUsed; s+=SEARCH_BLOCK){
    uint32_t nBlock = pC->nUsed-s < SEARCH_BLOCK ? pC->nUsed-s
                                                 : SEARCH_BLOCK, n;
    /* The kernel keeps the rows within T as it was at the block's
    ** start; T may fall within the block, so each is tested again. */
    n = (uint32_t)pK->xHammingWithin(st->aQCode,
                      aCode + p->nStride*(size_t)s, p->nStride,
                      p->nStride, nBlock, st->T, aIdx, aDist);
    rc = embProgressTick(&p->prog, (sqlite3_uint64)nBlock*p->nStride/8);
    if( rc ) return rc;
    for(j=0; j<n; j++){
      uint32_t iSlot = s + aIdx[j];
      if( aDist[j]>st->T ) continue;
      if( !embChunkValid(pC, iSlot) ) continue;
      if( bStream ){
        rc = stage1Row(p, st, aDist[j], embChunkRowid(pC, iSlot), 0,
                       aCode + p->nStride*(size_t)iSlot);
      }else{
        /* The rowid is looked up for the rows kept, at the end: read
        ** here, each push would be a cache miss of its own. */
        rc = stage1Row(p, st, aDist[j], 0,
                       ((uint32_t)i<<INDEX_CHUNK_SHIFT)|iSlot, 0);
      }
      if( rc ) return rc;
    }
  }
  return SQLITE_OK;
}

static int stageHamming(index_vtab *p, const IndexQuery *q,
                        const uint8_t *aQCode, sqlite3_int64 nWant,
                        CandList *pOut, sqlite3_int64 *pnScan){
  const EmbKernels *pK = embKernels();
  const IndexCache *c = p->pCache;
  Stage1 st;
  int i, rc = stage1Init(p, &st, aQCode, nWant, pOut);
  if( rc ) return rc;
  if( q->aRowid ){
    int j;
    *pnScan = 0;
    for(j=0; rc==SQLITE_OK && j<q->nRowid; j++){
      sqlite3_int64 iPos = embStoreFind(c, q->aRowid[j]);
      if( iPos>=0 ){
        const IndexChunk *pC = c->apChunk[iPos>>INDEX_CHUNK_SHIFT];
        uint32_t s = (uint32_t)iPos & (INDEX_CHUNK_MAX-1);
        uint32_t d = (uint32_t)pK->xHamming(aQCode,
                          embChunkCodes(pC) + p->nStride*(size_t)s, p->nStride);
        (*pnScan)++;
        rc = stage1Row(p, &st, d, q->aRowid[j], (uint32_t)iPos, 0);
      }
    }
  }else{
    *pnScan = c->nRow;
    for(i=0; rc==SQLITE_OK && i<c->nChunk; i++){
      rc = stage1Chunk(p, &st, c->apChunk[i], i, 0);
    }
  }
  if( rc==SQLITE_OK ){
    candPrune(pOut, (double)st.T);
    if( !q->aRowid ){
      for(i=0; i<pOut->n; i++){
        uint32_t iPos = pOut->a[i].iPos;
        pOut->a[i].iRowid = embChunkRowid(c->apChunk[iPos>>INDEX_CHUNK_SHIFT],
                                          iPos & (INDEX_CHUNK_MAX-1));
      }
    }
  }
  sqlite3_free(st.aHist);
  return rc;
}

/* The value at or below which at least nWant of the n values d of a lie
** (all of them when there are fewer): a partial selection. */
static double candThreshold(const CandList *l, sqlite3_int64 nWant){
  IndexHeap h;
  double r;
  int i;
  if( nWant>=l->n ) return HUGE_VAL;
  if( heapInit(&h, nWant) ) return HUGE_VAL;   /* no memory: keep all */
  for(i=0; i<l->n; i++) heapOffer(&h, l->a[i].d, 0, 0);
  r = h.a[0].d;
  sqlite3_free(h.a);
  return r;
}

/* The query for the 4-bit kernel: split by parity and rounded to int8 of
** its largest component (an estimate's scale is common to every row, so
** it can be left out), padded with zeros to a multiple of 32.  Returns
** the buffer, qOdd at *pqOdd; sqlite3_free() it.  NULL when out of
** memory. */
static int8_t *fineQuery(const index_vtab *p, const IndexQuery *q,
                         int8_t **pqOdd){
  size_t nPad = (p->nFine + 31) & ~(size_t)31, j;
  int8_t *qEven = sqlite3_malloc64(2*nPad);
  double rMax = 0.0;
  if( qEven==0 ) return 0;
  memset(qEven, 0, 2*nPad);
  *pqOdd = qEven + nPad;
  for(j=0; j<(size_t)p->nDims; j++){
    if( fabs(q->aQ[j])>rMax ) rMax = fabs(q->aQ[j]);
  }
  if( rMax>0.0 ){
    for(j=0; j<(size_t)p->nDims; j++){
      int8_t v = (int8_t)lrint(q->aQ[j] / rMax * 127.0);
      if( j&1 ) (*pqOdd)[j/2] = v;
      else qEven[j/2] = v;
    }
  }
  return qEven;
}

/*
** Stage 2 of a large index: the float query's dot product with each
** candidate's signs (+1 for a set bit, -1 else), from a table per code
** byte of the query's partial sums, so 1 lookup a byte.  A coarser
** estimate than the 4-bit one, so the caller keeps more.
*/
static const uint8_t *candCode(const index_vtab *p, const uint8_t *aSide,
                               uint32_t iPos){
  if( aSide ) return aSide + p->nStride*(size_t)iPos;
  return embChunkCodes(p->pCache->apChunk[iPos>>INDEX_CHUNK_SHIFT])
         + p->nStride*(size_t)(iPos & (INDEX_CHUNK_MAX-1));
}

static int stageSign(index_vtab *p, const IndexQuery *q, CandList *pCand,
                     sqlite3_int64 nWant, const uint8_t *aSide){
  size_t nByte = ((size_t)p->nDims+7)/8, j;
  float *aLut = sqlite3_malloc64(sizeof(float)*256*nByte);
  double rSum = 0.0;
  int i, b;
  if( aLut==0 ) return SQLITE_NOMEM;
  for(j=0; j<nByte; j++){
    float *t = aLut + 256*j;
    t[0] = 0.0f;
    for(b=1; b<256; b++){
      int iBit = __builtin_ctz((unsigned)b);
      size_t iDim = 8*j + (size_t)iBit;
      t[b] = t[b & (b-1)] + (iDim<(size_t)p->nDims ? q->aQ[iDim] : 0.0f);
    }
  }
  for(j=0; j<(size_t)p->nDims; j++) rSum += q->aQ[j];
  for(i=0; i<pCand->n; i++){
    const uint8_t *aCode = candCode(p, aSide, pCand->a[i].iPos);
    double s = 0.0;
    if( i+SIGN_PREFETCH<pCand->n ){
      /* The candidates are scattered over the chunks: ask for a later
      ** one's code now, so that its cache miss overlaps this work. */
      __builtin_prefetch(candCode(p, aSide, pCand->a[i+SIGN_PREFETCH].iPos));
    }
    for(j=0; j<nByte; j++) s += aLut[256*j + aCode[j]];
    pCand->a[i].d = -(2.0*s - rSum);
  }
  sqlite3_free(aLut);
  candPrune(pCand, candThreshold(pCand, nWant));
  return SQLITE_OK;
}

/*
** Stage 2 of a large index once its 4-bit codes are in memory: each
** candidate's 4-bit estimate (as stageFineAll() makes it), keeping the
** nWant best and their ties, and every candidate of a chunk whose codes
** are not in memory (embStoreFineWarm() left them: they go on to the
** exact stage as they are).  The codes are scattered over the chunks:
** FINE_BATCH candidates go to the kernel at a time, and while one batch
** is gathered the next one's codes and scales are asked for.
*/
static void finePrefetch(const index_vtab *p, const CandList *pCand, int i){
  uint32_t iPos = pCand->a[i].iPos, s = iPos & (INDEX_CHUNK_MAX-1);
  const IndexChunk *pC = p->pCache->apChunk[iPos>>INDEX_CHUNK_SHIFT];
  if( pC->aFine ){
    const uint8_t *aCode = embChunkFineCode(p, pC, s);
    size_t o;
    __builtin_prefetch(embChunkFineScale(pC, s));
    for(o=0; o<p->nFine; o+=64) __builtin_prefetch(aCode + o);
  }
}

static int stageFineCand(index_vtab *p, const IndexQuery *q, CandList *pCand,
                         sqlite3_int64 nWant){
  const EmbKernels *pK = embKernels();
  const IndexCache *c = p->pCache;
  int8_t *qOdd = 0, *qEven = fineQuery(p, q, &qOdd);
  const uint8_t *apRow[FINE_BATCH];
  int32_t aDot[FINE_BATCH];
  float aScale[FINE_BATCH];
  int aAt[FINE_BATCH];
  int i, b, nLag = 0;
  if( qEven==0 ) return SQLITE_NOMEM;
  for(i=0; i<FINE_BATCH && i<pCand->n; i++) finePrefetch(p, pCand, i);
  for(i=0; i<pCand->n; ){
    int nBatch = 0;
    for(; i<pCand->n && nBatch<FINE_BATCH; i++){
      uint32_t iPos = pCand->a[i].iPos, s = iPos & (INDEX_CHUNK_MAX-1);
      const IndexChunk *pC = c->apChunk[iPos>>INDEX_CHUNK_SHIFT];
      if( i+FINE_BATCH<pCand->n ) finePrefetch(p, pCand, i+FINE_BATCH);
      if( pC->aFine==0 ){
        /* Before every estimate: kept by the cut below, and not counted
        ** in the nWant it keeps. */
        pCand->a[i].d = -HUGE_VAL;
        nLag++;
        continue;
      }
      apRow[nBatch] = embChunkFineCode(p, pC, s);
      memcpy(&aScale[nBatch], embChunkFineScale(pC, s), 4);
      aAt[nBatch++] = i;
    }
    pK->xFineRows(qEven, qOdd, p->nFine, apRow, (size_t)nBatch, aDot);
    for(b=0; b<nBatch; b++){
      pCand->a[aAt[b]].d = -(double)aScale[b]*(double)aDot[b];
    }
  }
  sqlite3_free(qEven);
  candPrune(pCand, candThreshold(pCand, nWant + nLag));
  return SQLITE_OK;
}

/* Stages 1 and 2 at once for an index small enough to estimate every row
** with its 4-bit code (no rowid filter): the chunks' fine images, read
** whole where they are not in memory, scanned back to back; the nWant
** best and their ties into pOut. */
static int stageFineAll(index_vtab *p, const IndexQuery *q, CandList *pOut,
                        sqlite3_int64 nWant, sqlite3_int64 *pnScan){
  const EmbKernels *pK = embKernels();
  const IndexCache *c = p->pCache;
  int8_t *qOdd = 0, *qEven = fineQuery(p, q, &qOdd);
  int32_t aDot[SEARCH_BLOCK];
  IndexHeap h;               /* the nWant best estimates so far */
  double rCut = HUGE_VAL;    /* a row beyond the nWant-th is not kept */
  int i, rc = SQLITE_OK;
  if( qEven==0 || heapInit(&h, nWant) ){
    sqlite3_free(qEven);
    return SQLITE_NOMEM;
  }
  *pnScan = 0;
  for(i=0; rc==SQLITE_OK && i<c->nChunk; i++){
    IndexChunk *pC = c->apChunk[i];
    uint32_t s, j;
    rc = embStoreChunkFine(p, i);
    if( rc ) break;
    pC = c->apChunk[i];
    for(s=0; rc==SQLITE_OK && s<pC->nUsed; s+=SEARCH_BLOCK){
      uint32_t n = pC->nUsed-s < SEARCH_BLOCK ? pC->nUsed-s : SEARCH_BLOCK;
      pK->xFineScan(qEven, qOdd, embChunkFineCode(p, pC, s), p->nFine,
                    p->nFine, n, aDot);
      rc = embProgressTick(&p->prog, (sqlite3_uint64)n*p->nFine);
      if( rc ) break;
      for(j=0; j<n; j++){
        float rScale;
        double d;
        if( !embChunkValid(pC, s+j) ) continue;
        memcpy(&rScale, embChunkFineScale(pC, s+j), 4);
        d = -(double)rScale*(double)aDot[j];
        if( d>rCut ) continue;
        rc = candPush(pOut, d, embChunkRowid(pC, s+j),
                      ((uint32_t)i<<INDEX_CHUNK_SHIFT) | (s+j));
        if( rc ) break;
        heapOffer(&h, d, 0, 0);
        if( h.n==h.nMax ){
          rCut = h.a[0].d;
          if( pOut->n > 2*h.n + 1024 ) candPrune(pOut, rCut);
        }
      }
      *pnScan += n;
    }
  }
  sqlite3_free(qEven);
  sqlite3_free(h.a);
  if( rc==SQLITE_OK ) candPrune(pOut, rCut);
  return rc;
}

/* Stage 3: exact distances of the rows in pIn from their stored vectors,
** the k nearest into pOut.  pIn's order is lost. */
static int stageExact(index_vtab *p, const IndexQuery *q, CandList *pIn,
                      IndexHeap *pOut){
  sqlite3_stmt *pStmt;
  int i, rc = embIndexStmt(p, STMT_DATA_VECTOR, &pStmt);
  /* In rowid order, the lookups walk the b-tree forwards, touching each
  ** page once. */
  qsort(pIn->a, (size_t)pIn->n, sizeof(IndexHit), hitRowidCompare);
  for(i=0; rc==SQLITE_OK && i<pIn->n; i++){
    sqlite3_int64 iRowid = pIn->a[i].iRowid;
    sqlite3_bind_int64(pStmt, 1, iRowid);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      const uint8_t *a = sqlite3_column_blob(pStmt, 0);
      int n = sqlite3_column_bytes(pStmt, 0);
      double d;
      if( n!=p->nDims*4 || a==0 ){
        sqlite3_reset(pStmt);
        return embIndexCorrupt(p, "data", sqlite3_mprintf(
            "row %lld has a vector of %d bytes, not %d", iRowid, n,
            p->nDims*4));
      }
      if( embIndexDistance((const uint8_t*)q->aQ, a, (size_t)p->nDims, &d)
       && queryAllows(q, d) ){
        heapOffer(pOut, d, iRowid, pIn->a[i].iPos);
      }
    }
    rc = sqlite3_reset(pStmt);
    if( rc ) rc = embIndexSqlError(p, rc);
  }
  if( p->pSeries ) embMetricsRerank(p->pSeries, i);
  return rc;
}

/* ------------------------------------------------------------------------
** The plan
*/

/* Exact candidates with oversample 'auto': fineFactor(dims) per result,
** and INDEX_AUTO_FINE_MIN more.  The 4-bit estimate's error, relative to
** the gaps between neighbours, grows as dims fall. */
#define INDEX_AUTO_FINE_MIN  16
static sqlite3_int64 fineFactor(int nDims){
  double r = 3.0 * 128.0 / nDims;
  if( r<3.0 ) r = 3.0;
  if( r>256.0 ) r = 256.0;
  return (sqlite3_int64)ceil(r);
}

/* How many times the exact candidates stage 1 keeps, for codes of nDims
** sign bits: more as dims fall. */
static sqlite3_int64 hammingFactor(int nDims){
  double r = 16.0 * pow(256.0/nDims, 1.0);
  if( r<8.0 ) r = 8.0;
  if( r>256.0 ) r = 256.0;
  return (sqlite3_int64)ceil(r);
}

/* The query's sign bits, zero-padded to nStride, in aStack (nStack bytes)
** when they fit, else in memory the caller frees when it is not aStack;
** NULL when out of memory. */
static uint8_t *querySignBits(const index_vtab *p, const IndexQuery *q,
                              uint8_t *aStack, size_t nStack){
  uint8_t *a = p->nStride<=nStack ? aStack : sqlite3_malloc64(p->nStride);
  if( a==0 ) return 0;
  memset(a, 0, p->nStride);
  embBquant((const uint8_t*)q->aQ, (size_t)p->nDims, a);
  return a;
}

/* The candidates each stage keeps: *pnCand1 by the Hamming stage,
** *pnCand2 for the exact one, for a query over nRows of an index of
** nIndex rows (format 1 read in place: bLegacy). */
static void searchPlan(const index_vtab *p, const IndexQuery *q, int bLegacy,
                       sqlite3_int64 nIndex, sqlite3_int64 nRows,
                       sqlite3_int64 *pnCand1, sqlite3_int64 *pnCand2){
  sqlite3_int64 nCand1, nCand2;
  if( bLegacy ){
    /* Format 1, read in place: Hamming, then exact, as it always was. */
    nCand2 = (sqlite3_int64)q->nK * p->nOversample;
    if( p->bAutoOversample ){
      sqlite3_int64 nMin = (sqlite3_int64)ceil(sqrt((double)nIndex));
      if( nCand2<nMin ) nCand2 = nMin;
    }
    nCand1 = nCand2;
  }else{
    nCand2 = (sqlite3_int64)q->nK * (p->bAutoOversample ? fineFactor(p->nDims)
                                                        : p->nOversample);
    if( p->bAutoOversample ) nCand2 += INDEX_AUTO_FINE_MIN;
    nCand1 = nCand2 * hammingFactor(p->nDims);
    if( nCand1 < 2*(sqlite3_int64)ceil(sqrt((double)nRows)) ){
      nCand1 = 2*(sqlite3_int64)ceil(sqrt((double)nRows));
    }
  }
  *pnCand1 = nCand1;
  *pnCand2 = nCand2;
}

/* A large index: the sign bits first, then the 4-bit codes (or the sign
** estimate) narrow the candidates; else every row's 4-bit code, or every
** row, goes on. */
static int searchIsLarge(const index_vtab *p, sqlite3_int64 nRows,
                         sqlite3_int64 nCand1, sqlite3_int64 nCand2){
  return nCand2<nRows && nCand1<nRows && !embIndexFineScan(p, nRows);
}

int embSearch(index_vtab *p, const IndexQuery *q, IndexHit **paHit,
              int *pnHit, IndexPlan *pPlan){
  const IndexCache *c = p->pCache;
  IndexHeap heap;
  CandList cand;
  IndexPlan plan;
  sqlite3_int64 nRows, nCand1, nCand2;
  int rc = SQLITE_OK;
  *paHit = 0;
  *pnHit = 0;
  memset(&plan, 0, sizeof(plan));
  candTake(p, &cand);
  nRows = q->aRowid ? (q->nRowid < c->nRow ? q->nRowid : c->nRow) : c->nRow;
  rc = heapInit(&heap, q->nK<nRows ? q->nK : nRows);
  if( rc || heap.nMax==0 ) goto done;

  if( p->eQuant==INDEX_QUANT_NONE ){
    RowCtx x;
    x.p = p;
    x.q = q;
    x.aQCode = 0;
    x.pHeap = &heap;
    forEachRow(p, q, rowExactMem, &x);
    plan.nScan = nRows;
    rc = p->prog.rc;
    goto done;
  }

  searchPlan(p, q, c->bLegacy, c->nRow, nRows, &nCand1, &nCand2);
  if( !c->bLegacy && !q->aRowid && nCand2<nRows
   && (nCand1>=nRows || embIndexFineScan(p, nRows)) ){
    /* Small enough to estimate every row with its 4-bit code: the sign
    ** bits would only lose rows the estimates keep. */
    rc = stageFineAll(p, q, &cand, nCand2, &plan.nScan);
    if( rc ) goto done;
    plan.nCand2 = cand.n;
  }else if( nCand2>=nRows || (!c->bLegacy && nCand1>=nRows) ){
    /* Every row goes on to the next stage. */
    RowCtx x;
    IndexHeap all;
    rc = heapInit(&all, nRows);
    if( rc ) goto done;
    x.p = p;
    x.q = q;
    x.aQCode = 0;
    x.pHeap = &all;
    forEachRow(p, q, rowAll, &x);
    sqlite3_free(cand.a);
    cand.a = all.a;
    cand.n = cand.nAlloc = all.n;
    plan.nScan = nRows;
  }else{
    uint8_t aStack[512];
    uint8_t *aQCode = querySignBits(p, q, aStack, sizeof(aStack));
    if( aQCode==0 ){ rc = SQLITE_NOMEM; goto done; }
    rc = stageHamming(p, q, aQCode, nCand1, &cand, &plan.nScan);
    if( aQCode!=aStack ) sqlite3_free(aQCode);
    if( rc ) goto done;
    plan.nCand1 = cand.n;
  }
  if( !c->bLegacy && nCand2<nRows && plan.nCand2==0 ){
    /* A large index: the 4-bit estimate of the Hamming stage's rows once
    ** every chunk's codes are in memory (but those a refresh left lagging,
    ** whose rows go on unestimated); until then the sign estimate,
    ** with SIGN_FACTOR times the exact candidates.  A query without a
    ** rowid filter reads more of the codes while it has read less than
    ** the sign bits' size, so a new connection's first query waits for
    ** the sign bits alone. */
    int bFine = 0;
    rc = embStoreFineWarm(p, q->aRowid ? 0 : c->nRow*(sqlite3_int64)p->nStride,
                          &bFine);
    if( rc ) goto done;
    if( bFine ){
      rc = stageFineCand(p, q, &cand, nCand2);
    }else{
      rc = stageSign(p, q, &cand, SIGN_FACTOR*nCand2, 0);
    }
    if( rc ) goto done;
    plan.nCand2 = cand.n;
  }
  plan.nExact = cand.n;
  rc = stageExact(p, q, &cand, &heap);

done:
  candGive(p, &cand);
  if( rc || heap.nMax==0 ){
    sqlite3_free(heap.a);
    return rc;
  }
  qsort(heap.a, (size_t)heap.n, sizeof(IndexHit), hitCompare);
  *paHit = heap.a;
  *pnHit = heap.n;
  if( pPlan ) *pPlan = plan;
#ifdef EMB_DEBUG_PLAN
  fprintf(stderr, "plan: rows %lld scan %lld cand1 %d cand2 %d exact %d fineread %d\n",
          (long long)nRows, (long long)plan.nScan, plan.nCand1, plan.nCand2, plan.nExact, 0);
#endif
  return SQLITE_OK;
}

/*
** A connection's first search, while it has no cache: for a large index
** without a rowid filter, the cascade the cache would run before its
** 4-bit codes are in memory (Hamming, sign estimate, exact), over the sign
** bits read once from the chunk images, a chunk at a time into one
** buffer, each scanned as soon as it is read.  The cache is built by the
** next search.  *pbDone 0: not done, search the cache way.
*/
int embSearchStream(index_vtab *p, const IndexQuery *q, IndexHit **paHit,
                    int *pnHit, IndexPlan *pPlan, int *pbDone){
  IndexStream s;
  IndexHeap heap;
  CandList cand;
  Stage1 st;
  IndexPlan plan;
  sqlite3_int64 nCand1, nCand2;
  uint8_t aStack[512];
  uint8_t *aQCode = 0;
  int i, bOk = 0, rc;
  *paHit = 0;
  *pnHit = 0;
  *pbDone = 0;
  if( p->pCache || p->bStreamed || q->aRowid
   || p->eQuant!=INDEX_QUANT_BINARY ){
    return SQLITE_OK;
  }
  rc = embStoreStreamOpen(p, &s, &bOk);
  if( rc || !bOk ) return rc;
  searchPlan(p, q, 0, s.nRow, s.nRow, &nCand1, &nCand2);
  if( !searchIsLarge(p, s.nRow, nCand1, nCand2) ){
    embStoreStreamClose(&s);
    return SQLITE_OK;
  }
  memset(&plan, 0, sizeof(plan));
  memset(&st, 0, sizeof(st));
  candTake(p, &cand);
  heap.a = 0;
  aQCode = querySignBits(p, q, aStack, sizeof(aStack));
  if( aQCode==0 ){ rc = SQLITE_NOMEM; goto done; }
  rc = heapInit(&heap, q->nK<s.nRow ? q->nK : s.nRow);
  if( rc==SQLITE_OK ) rc = stage1Init(p, &st, aQCode, nCand1, &cand);
  for(i=0; rc==SQLITE_OK && i<s.nChunk; i++){
    rc = embStoreStreamRead(p, &s, i);
    if( rc==SQLITE_OK ) rc = stage1Chunk(p, &st, &s.aChunk[i], i, 1);
  }
  if( rc ) goto done;
  stage1Prune(p, &st);
  plan.nScan = s.nRow;
  plan.nCand1 = cand.n;
  rc = stageSign(p, q, &cand, SIGN_FACTOR*nCand2, st.aSide);
  if( rc ) goto done;
  plan.nCand2 = cand.n;
  plan.nExact = cand.n;
  rc = stageExact(p, q, &cand, &heap);

done:
  embStoreStreamClose(&s);
  sqlite3_free(st.aHist);
  sqlite3_free(st.aSide);
  if( aQCode!=aStack ) sqlite3_free(aQCode);
  candGive(p, &cand);
  if( rc ){
    sqlite3_free(heap.a);
    return rc;
  }
  qsort(heap.a, (size_t)heap.n, sizeof(IndexHit), hitCompare);
  *paHit = heap.a;
  *pnHit = heap.n;
  *pbDone = 1;
  p->bStreamed = 1;
  if( pPlan ) *pPlan = plan;
  return SQLITE_OK;
}
