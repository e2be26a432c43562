/*
** shards.c: top-k over 1, 2 and 4 shards, and what the merge costs.
**
**     build/bench_shards EXT.so DIR ROWS DIMS [QUANT...]
**         e.g. build/bench_shards build/embed.so build/shards 1000000 256 none binary
**
** For each QUANT (default: none, then binary; binary is the default index,
** none is exact) and N = 1, 2, 4,
** ROWS vectors of DIMS dims go into N database files in DIR (made and
** removed by this program), row r into shard r mod N, each with an
** embed_index(dims=DIMS[, quant=none]) named docs, and 40 top-10 queries
** are timed three ways (attached and slowest in the CPU time of the one
** thread that runs them, as the machine may be shared; parallel in wall
** time, which only it can be):
**   attached   one connection with the N files ATTACHed, one SQL query:
**              each shard's MATCH ... AND k = 10, UNION ALL, ORDER BY
**              distance, id LIMIT 10 (README's "Beyond one machine");
**   parallel   one connection per shard, each in a thread of its own,
**              asked at once; the caller merges the N top-10 lists (on this
**              machine's cores, however many shards there are);
**   slowest    each shard's own top-10 alone, one after the other; the
**              slowest shard's time: a query's latency with each shard on a
**              machine of its own, before the network.
** Every merged answer is checked against the N=1 answer of the same QUANT
** (none: they must be equal; binary: recall@10 against the exact answer of
** quant=none, when it ran first).  Prints "key value" lines; a measuring
** tool, not a test.
**
** HOW IT WORKS
** The vectors come from a fixed generator, clustered around ROWS/100 (at
** most 1,000) random centres as in bench/index.c, so that neighbours exist;
** every configuration gets the same rows and queries.  Each shard is built
** in one transaction with journal_mode=OFF (a benchmark's shortcut, not
** advice).  A query's time is the best of 2 passes over the 40 queries
** (each way over all of them in turn), after one warm-up query per
** connection, which builds the index's in-memory cache: its wall time is
** printed as first_ms.  The parallel workers wait on a condition variable
** for each query and are counted from the moment the query is posted to
** the moment the last list is merged.
*/
#include <sqlite3.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NQ     40          /* queries */
#define K      10
#define NPASS  2
#define MAXN   4           /* shards at most */

static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

/* CPU seconds of the calling thread: its latency on a core of its own,
** not counting the time other work on the (shared) machine takes. */
static double cpuNow(void){
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

static void die(const char *zMsg, const char *zDetail){
  fprintf(stderr, "bench_shards: %s%s%s\n", zMsg, zDetail ? ": " : "",
          zDetail ? zDetail : "");
  exit(2);
}

static sqlite3 *openWith(const char *zPath, const char *zExt){
  sqlite3 *db;
  char *zErr = 0;
  if( sqlite3_open(zPath, &db) ) die("cannot open", zPath);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, zExt, 0, &zErr) ) die(zExt, zErr);
  return db;
}

static void exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr) ) die(zSql, zErr);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *zSql){
  sqlite3_stmt *p;
  if( sqlite3_prepare_v2(db, zSql, -1, &p, 0) ) die(zSql, sqlite3_errmsg(db));
  return p;
}

/* A fixed generator (xorshift64*) and unit-variance normals. */
static uint64_t rngState;
static double rngUniform(void){
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return ((rngState * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static double rngNormal(void){
  double u = rngUniform(), v = rngUniform();
  if( u<1e-300 ) u = 1e-300;
  return sqrt(-2.0*log(u)) * cos(6.283185307179586*v);
}

static int nCentre;
static float *aCentre;
static void makeVector(int nDims, float *aOut){
  int c = (int)(rngUniform()*nCentre), j;
  for(j=0; j<nDims; j++) aOut[j] = aCentre[c*nDims + j] + (float)rngNormal();
}

/* One answer: K (rowid, distance) pairs, nearest first, padded with -1. */
typedef struct Hit Hit;
struct Hit { double d; sqlite3_int64 id; };

static int hitCmp(const void *a, const void *b){
  const Hit *x = a, *y = b;
  if( x->d!=y->d ) return x->d < y->d ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Run pStmt (?1 bound by the caller) into a[0..K); returns the count. */
static int collect(sqlite3_stmt *pStmt, Hit *a){
  int n = 0, rc;
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    if( n<K ){
      a[n].id = sqlite3_column_int64(pStmt, 0);
      a[n].d = sqlite3_column_double(pStmt, 1);
      n++;
    }
  }
  if( rc!=SQLITE_DONE ) die("query", sqlite3_errmsg(sqlite3_db_handle(pStmt)));
  sqlite3_reset(pStmt);
  for(int i=n; i<K; i++){ a[i].id = -1; a[i].d = 1e300; }
  return n;
}

/* ---- parallel workers: one connection and thread per shard ---- */
typedef struct Worker Worker;
struct Worker {
  pthread_t tid;
  sqlite3 *db;
  sqlite3_stmt *pStmt;
  Hit aHit[K];
};
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cvGo, cvDone;
  int iSeq;                  /* query number posted */
  int nDone;                 /* workers done with it */
  int bQuit;
  const float *aQ;
  int nDims;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
           PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0 };

static void *workerMain(void *pArg){
  Worker *w = pArg;
  int iSeen = 0;
  for(;;){
    pthread_mutex_lock(&pool.mu);
    while( pool.iSeq==iSeen && !pool.bQuit ) pthread_cond_wait(&pool.cvGo, &pool.mu);
    if( pool.bQuit ){ pthread_mutex_unlock(&pool.mu); return 0; }
    iSeen = pool.iSeq;
    pthread_mutex_unlock(&pool.mu);
    sqlite3_bind_blob(w->pStmt, 1, pool.aQ, pool.nDims*4, SQLITE_STATIC);
    collect(w->pStmt, w->aHit);
    pthread_mutex_lock(&pool.mu);
    pool.nDone++;
    pthread_cond_signal(&pool.cvDone);
    pthread_mutex_unlock(&pool.mu);
  }
}

/* Ask every worker for aQ's top K and merge their lists into aOut. */
static void parallelQuery(Worker *aW, int nShard, const float *aQ, int nDims, Hit *aOut){
  Hit aAll[MAXN*K];
  int i;
  pthread_mutex_lock(&pool.mu);
  pool.aQ = aQ;
  pool.nDims = nDims;
  pool.nDone = 0;
  pool.iSeq++;
  pthread_cond_broadcast(&pool.cvGo);
  while( pool.nDone<nShard ) pthread_cond_wait(&pool.cvDone, &pool.mu);
  pthread_mutex_unlock(&pool.mu);
  for(i=0; i<nShard; i++) memcpy(aAll + i*K, aW[i].aHit, sizeof(Hit)*K);
  qsort(aAll, (size_t)nShard*K, sizeof(Hit), hitCmp);
  memcpy(aOut, aAll, sizeof(Hit)*K);
}

static const char *zQuant;     /* option text of the current QUANT */

static char *shardPath(const char *zDir, int nShard, int i){
  return sqlite3_mprintf("%s/shards%d-%d.db", zDir, nShard, i);
}

/* Build the N shard files of ROWS rows, from the generator's start. */
static void build(const char *zExt, const char *zDir, int nShard, int nRow,
                  int nDims, uint64_t seed){
  sqlite3 *db = openWith(":memory:", zExt);
  sqlite3_stmt *apIns[MAXN];
  float *aVec = malloc(sizeof(float)*(size_t)nDims);
  double t0 = now();
  int i;
  if( aVec==0 ) die("out of memory", 0);
  for(i=0; i<nShard; i++){
    char *zPath = shardPath(zDir, nShard, i), *zSql;
    unlink(zPath);
    zSql = sqlite3_mprintf("ATTACH %Q AS s%d; PRAGMA s%d.journal_mode=OFF; "
        "CREATE VIRTUAL TABLE s%d.docs USING embed_index(dims=%d%s)",
        zPath, i, i, i, nDims, zQuant);
    exec(db, zSql);
    sqlite3_free(zSql);
    zSql = sqlite3_mprintf("INSERT INTO s%d.docs(rowid, vector) VALUES (?1, ?2)", i);
    apIns[i] = prepare(db, zSql);
    sqlite3_free(zSql);
    sqlite3_free(zPath);
  }
  rngState = seed;
  exec(db, "BEGIN");
  for(i=1; i<=nRow; i++){
    sqlite3_stmt *p = apIns[i % nShard];
    makeVector(nDims, aVec);
    sqlite3_bind_int64(p, 1, i);
    sqlite3_bind_blob(p, 2, aVec, nDims*4, SQLITE_STATIC);
    if( sqlite3_step(p)!=SQLITE_DONE ) die("insert", sqlite3_errmsg(db));
    sqlite3_reset(p);
  }
  exec(db, "COMMIT");
  for(i=0; i<nShard; i++) sqlite3_finalize(apIns[i]);
  sqlite3_close(db);
  free(aVec);
  printf("build quant %s shards %d rows %d dims %d insert_rows_per_s %.0f\n",
         zQuant[0] ? "none" : "binary", nShard, nRow, nDims, nRow/(now()-t0));
  fflush(stdout);
}

static double sameHits(const Hit *a, const Hit *b){
  for(int i=0; i<K; i++) if( a[i].id!=b[i].id || a[i].d!=b[i].d ) return 0;
  return 1;
}
static double recall(const Hit *a, const Hit *aExact){
  int n = 0;
  for(int i=0; i<K; i++) for(int j=0; j<K; j++) n += a[i].id==aExact[j].id && a[i].id>=0;
  return n/(double)K;
}

/* Time the three ways over nShard shards; aRef: the N=1 answers of this
** QUANT (NULL on N=1, which fills aOut), aExact: quant=none's, or NULL. */
static void measure(const char *zExt, const char *zDir, int nShard, int nRow,
                    int nDims, const float *aQ, Hit *aOut, const Hit *aRef,
                    const Hit *aExact){
  const char *zName = zQuant[0] ? "none" : "binary";
  sqlite3 *db = openWith(":memory:", zExt);
  sqlite3_str *pSql = sqlite3_str_new(db);
  sqlite3_stmt *pMerged, *apOne[MAXN];
  Worker aW[MAXN];
  double aBest[3][NQ], t0, tFirst, tFirstPar, sum[3] = {0, 0, 0};
  double nSame = 0, nSamePar = 0, rec = 0;
  Hit aHit[K], aPar[K];
  int i, q, r, s;
  char *zSql;
  for(i=0; i<nShard; i++){
    char *zPath = shardPath(zDir, nShard, i);
    zSql = sqlite3_mprintf("ATTACH %Q AS s%d", zPath, i);
    exec(db, zSql);
    sqlite3_free(zSql);
    sqlite3_str_appendf(pSql, "%s SELECT rowid AS id, distance FROM s%d.docs "
                        "WHERE docs MATCH ?1 AND k = %d", i ? " UNION ALL" : "", i, K);
    zSql = sqlite3_mprintf("SELECT rowid, distance FROM s%d.docs WHERE docs MATCH ?1 "
                           "AND k = %d", i, K);
    apOne[i] = prepare(db, zSql);
    sqlite3_free(zSql);
    aW[i].db = openWith(zPath, zExt);
    aW[i].pStmt = prepare(aW[i].db, "SELECT rowid, distance FROM docs "
                          "WHERE docs MATCH ?1 AND k = 10");
    sqlite3_free(zPath);
  }
  {
    char *zArms = sqlite3_str_finish(pSql);
    if( zArms==0 ) die("out of memory", 0);
    zSql = sqlite3_mprintf("SELECT id, distance FROM (%s) ORDER BY distance, id "
                           "LIMIT %d", zArms, K);
    sqlite3_free(zArms);
  }
  pMerged = prepare(db, zSql);
  sqlite3_free(zSql);
  /* Warm-up: the attached connection's caches, then the workers'. */
  t0 = now();
  sqlite3_bind_blob(pMerged, 1, aQ, nDims*4, SQLITE_STATIC);
  collect(pMerged, aHit);
  tFirst = now() - t0;
  pool.bQuit = 0;
  for(i=0; i<nShard; i++){
    if( pthread_create(&aW[i].tid, 0, workerMain, &aW[i]) ) die("pthread_create", 0);
  }
  t0 = now();
  parallelQuery(aW, nShard, aQ, nDims, aPar);
  tFirstPar = now() - t0;
  for(s=0; s<3; s++) for(q=0; q<NQ; q++) aBest[s][q] = 1e30;
  /* Each way over all the queries in turn, so that no way finds the pages
  ** another way just read for the same query. */
  for(r=0; r<NPASS; r++){
    for(q=0; q<NQ; q++){
      const float *v = aQ + (size_t)q*nDims;
      double t;
      t0 = cpuNow();
      sqlite3_bind_blob(pMerged, 1, v, nDims*4, SQLITE_STATIC);
      collect(pMerged, aHit);
      t = cpuNow() - t0;
      if( t<aBest[0][q] ) aBest[0][q] = t;
      if( r==0 ){
        if( aRef ){
          nSame += sameHits(aHit, aRef + (size_t)q*K);
        }else{
          memcpy(aOut + (size_t)q*K, aHit, sizeof(aHit));
          nSame++;
        }
        if( aExact ) rec += recall(aHit, aExact + (size_t)q*K);
      }
    }
    for(q=0; q<NQ; q++){
      const float *v = aQ + (size_t)q*nDims;
      double t;
      t0 = now();
      parallelQuery(aW, nShard, v, nDims, aPar);
      t = now() - t0;
      if( t<aBest[1][q] ) aBest[1][q] = t;
      if( r==0 ) nSamePar += sameHits(aPar, aOut + (size_t)q*K);
    }
    for(q=0; q<NQ; q++){
      const float *v = aQ + (size_t)q*nDims;
      double t, tMax = 0;
      for(i=0; i<nShard; i++){
        Hit aOne[K];
        t0 = cpuNow();
        sqlite3_bind_blob(apOne[i], 1, v, nDims*4, SQLITE_STATIC);
        collect(apOne[i], aOne);
        t = cpuNow() - t0;
        if( t>tMax ) tMax = t;
      }
      if( tMax<aBest[2][q] ) aBest[2][q] = tMax;
    }
  }
  for(s=0; s<3; s++) for(q=0; q<NQ; q++) sum[s] += aBest[s][q];
  printf("shards quant %s shards %d rows %d dims %d attached_ms %.3f parallel_ms %.3f"
         " slowest_shard_ms %.3f first_ms %.1f first_parallel_ms %.1f"
         " same_as_1_shard %.0f/%d parallel_same %.0f/%d",
         zName, nShard, nRow, nDims, sum[0]/NQ*1e3, sum[1]/NQ*1e3, sum[2]/NQ*1e3,
         tFirst*1e3, tFirstPar*1e3, nSame, NQ, nSamePar, NQ);
  if( aExact ) printf(" recall10 %.4f", rec/NQ);
  printf("\n");
  fflush(stdout);
  pthread_mutex_lock(&pool.mu);
  pool.bQuit = 1;
  pthread_cond_broadcast(&pool.cvGo);
  pthread_mutex_unlock(&pool.mu);
  for(i=0; i<nShard; i++){
    pthread_join(aW[i].tid, 0);
    sqlite3_finalize(aW[i].pStmt);
    sqlite3_close(aW[i].db);
    sqlite3_finalize(apOne[i]);
  }
  sqlite3_finalize(pMerged);
  sqlite3_close(db);
}

int main(int argc, char **argv){
  static const int aShards[] = { 1, 2, 4 };
  const uint64_t seedCentres = 0x9e3779b97f4a7c15ull, seedRows = 0x2545f4914f6cdd1dull,
                 seedQueries = 0xda942042e4dd58b5ull;
  static const char *azDefault[] = { "none", "binary" };
  const char **azQuant = azDefault;
  const char *zExt, *zDir;
  int nQuant = 2, nRow, nDims, a, x, i;
  float *aQ;
  Hit *aRef, *aExact = 0;
  if( argc<5 ){
    fprintf(stderr, "usage: bench_shards EXT.so DIR ROWS DIMS [binary|none...]\n");
    return 2;
  }
  zExt = argv[1]; zDir = argv[2]; nRow = atoi(argv[3]); nDims = atoi(argv[4]);
  if( argc>5 ){
    azQuant = (const char**)argv + 5;
    nQuant = argc - 5;
  }
  if( nRow<100 || nDims<8 || nDims>4096 ) die("bad ROWS or DIMS", 0);
  nCentre = nRow/100 < 10 ? 10 : nRow/100 > 1000 ? 1000 : nRow/100;
  aCentre = malloc(sizeof(float)*(size_t)nCentre*nDims);
  aQ = malloc(sizeof(float)*NQ*(size_t)nDims);
  aRef = malloc(sizeof(Hit)*NQ*K);
  if( !aCentre || !aQ || !aRef ) die("out of memory", 0);
  rngState = seedCentres;
  for(i=0; i<nCentre*nDims; i++) aCentre[i] = (float)rngNormal();
  rngState = seedQueries;
  for(i=0; i<NQ; i++) makeVector(nDims, aQ + (size_t)i*nDims);
  for(a=0; a<nQuant; a++){
    const char *zArg = azQuant[a];
    if( strcmp(zArg, "binary")==0 ) zQuant = "";
    else if( strcmp(zArg, "none")==0 ) zQuant = ", quant=none";
    else die("QUANT is binary or none, not", zArg);
    for(x=0; x<3; x++){
      int nShard = aShards[x];
      build(zExt, zDir, nShard, nRow, nDims, seedRows);
      measure(zExt, zDir, nShard, nRow, nDims, aQ, aRef, x ? aRef : 0,
              zQuant[0] ? 0 : aExact);
      for(i=0; i<nShard; i++){
        char *zPath = shardPath(zDir, nShard, i);
        unlink(zPath);
        sqlite3_free(zPath);
      }
    }
    if( zQuant[0] && aExact==0 ){
      aExact = malloc(sizeof(Hit)*NQ*K);
      if( aExact==0 ) die("out of memory", 0);
      memcpy(aExact, aRef, sizeof(Hit)*NQ*K);
    }
  }
  free(aCentre); free(aQ); free(aRef); free(aExact);
  return 0;
}
