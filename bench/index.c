/*
** index.c: embed_index measured, and side by side with sqlite-vec's vec0.
**
**     build/bench_index recall EXT.so VEC0.so|- MODEL.emb DIMS TEXTS.txt...
**         recall@10 of quant=binary against exact search, for oversample
**         1..256 and the default, on embeddings of real sentences
**         (held-out queries), and the top-10 latency of each, of the
**         exact search (quant=none) and of vec0 float[DIMS] (cosine)
**     build/bench_index speed EXT.so VEC0.so|- ROWS DIMS
**         insert rows/s and top-10 latency: ours binary+rerank, ours
**         quant=none, vec0 float[DIMS] (cosine), vec0 bit[DIMS]; with
**         BENCH_ONLY=ours_binary (say) that index alone, for a profiler
**
** HOW IT WORKS
** Everything runs in one process on in-memory databases.  recall embeds
** every distinct sentence with embed(text, DIMS), holds out every 25th as
** a query (at most 1,000), indexes the rest in a quant=none table (the
** exact answer, which test/index.test checks against plain SQL) and in one
** quant=binary table per oversample, and averages |binary top-10 ∩ exact
** top-10| / 10 over the queries (vec0 float, given, is scored the same
** way); then it times every index over the same queries (timeQueries:
** the mean, each chunk of 50 queries at its best of 5 passes, in thread
** CPU time, as the machine may be shared).  speed
** inserts ROWS vectors made by a fixed generator (clustered, so that
** neighbours exist) and times 50 top-10 queries per index, after one
** warm-up query that builds the cache;
** the vectors are clustered around up to 1,000 random centres (about 100
** rows each, noise as large as the centre) so that neighbours exist.
** Results print as "key value" lines.  A measuring tool, not a test.
*/
#include <sqlite3.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

/* CPU seconds of the calling thread: a query's latency on a core of its
** own, not counting the time other work on the machine takes from it. */
static double cpuNow(void){
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

static void die(const char *zMsg, const char *zDetail){
  fprintf(stderr, "bench_index: %s%s%s\n", zMsg, zDetail ? ": " : "",
          zDetail ? zDetail : "");
  exit(2);
}

static sqlite3 *openWith(const char *zExt, const char *zExt2){
  sqlite3 *db;
  char *zErr = 0;
  if( sqlite3_open(":memory:", &db) ) die("cannot open a database", 0);
  sqlite3_enable_load_extension(db, 1);
  if( zExt && sqlite3_load_extension(db, zExt, 0, &zErr) ) die(zExt, zErr);
  if( zExt2 && sqlite3_load_extension(db, zExt2, 0, &zErr) ) die(zExt2, zErr);
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

/* The top-10 rowids of query stmt pStmt (its ?1 bound by the caller) into
** a[0..10), padded with -1.  Returns the count. */
static int top10(sqlite3_stmt *pStmt, sqlite3_int64 *a){
  int n = 0, rc;
  while( (rc = sqlite3_step(pStmt))==SQLITE_ROW ){
    if( n<10 ) a[n++] = sqlite3_column_int64(pStmt, 0);
  }
  if( rc!=SQLITE_DONE ) die("query", sqlite3_errmsg(sqlite3_db_handle(pStmt)));
  sqlite3_reset(pStmt);
  for(int i=n; i<10; i++) a[i] = -1;
  return n;
}

/* Seconds per top-10 query of zSql over the NQ queries aQ, after one
** warm-up query (which builds our cache; its time is returned in
** *pFirst).  The queries go in chunks of 50, each chunk timed in each of
** nPass passes over them all, and its best pass counts: a burst of other
** work on the machine spoils one pass of a chunk, not every one.  For 50
** queries, that is the best of nPass passes.  Time is wall time, or with
** bCpu the thread's CPU time (the queries run in this thread alone). */
static double timeQueries(sqlite3 *db, const char *zSql, const float *aQ,
                          int nQ, int nDims, int nPass, int bCpu,
                          double *pFirst){
  double (*xClock)(void) = bCpu ? cpuNow : now;
  enum { CHUNK = 50 };
  sqlite3_stmt *p = prepare(db, zSql);
  sqlite3_int64 aTop[10];
  int nChunk = (nQ + CHUNK - 1)/CHUNK;
  double *aBest = malloc(sizeof(double)*(size_t)nChunk);
  double t0, t, sum = 0.0;
  int i, c, r;
  if( aBest==0 ) die("out of memory", 0);
  for(c=0; c<nChunk; c++) aBest[c] = 1e30;
  t0 = xClock();
  sqlite3_bind_blob(p, 1, aQ, nDims*4, SQLITE_STATIC);
  top10(p, aTop);
  *pFirst = xClock() - t0;
  for(r=0; r<nPass; r++){
    for(c=0; c<nChunk; c++){
      int iEnd = (c+1)*CHUNK < nQ ? (c+1)*CHUNK : nQ;
      t0 = xClock();
      for(i=c*CHUNK; i<iEnd; i++){
        sqlite3_bind_blob(p, 1, aQ + (size_t)i*nDims, nDims*4, SQLITE_STATIC);
        top10(p, aTop);
      }
      t = xClock() - t0;
      if( t<aBest[c] ) aBest[c] = t;
    }
  }
  for(c=0; c<nChunk; c++) sum += aBest[c];
  free(aBest);
  sqlite3_finalize(p);
  return sum/nQ;
}

static void benchRecall(const char *zExt, const char *zVec0,
                        const char *zModel, int nDims,
                        int nFile, char **azFile){
  /* 0: no oversample= option, the default ('auto') */
  static const int aOver[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 0 };
  const int nOver = (int)(sizeof(aOver)/sizeof(aOver[0]));
  static const char zExactSql[] =
      "SELECT rowid FROM exact WHERE exact MATCH ?1 AND k = 10";
  static const char zVec0Sql[] =
      "SELECT rowid FROM vf WHERE embedding MATCH ?1 AND k = 10";
  sqlite3 *db = openWith(zExt, zVec0);
  sqlite3_stmt *pIns, *pExact, *apBin[16], *pQ, *pVec0 = 0;
  char *zSql, *azBinSql[16];
  double aSum[16] = {0}, sumVec0 = 0.0, tFirst, t;
  float *aQ;            /* the query vectors, nQuery of them, for timing */
  int nQuery = 0, nRow, i, f;
  zSql = sqlite3_mprintf("SELECT embed_load('bench', %Q)", zModel);
  exec(db, zSql);
  sqlite3_free(zSql);
  exec(db, "CREATE TABLE s(t TEXT PRIMARY KEY) WITHOUT ROWID");
  pIns = prepare(db, "INSERT OR IGNORE INTO s VALUES (?1)");
  for(f=0; f<nFile; f++){
    FILE *in = fopen(azFile[f], "rb");
    char zLine[8192];
    if( in==0 ) die("cannot open", azFile[f]);
    while( fgets(zLine, sizeof(zLine), in) ){
      size_t n = strcspn(zLine, "\r\n");
      if( n==0 ) continue;
      sqlite3_bind_text(pIns, 1, zLine, (int)n, SQLITE_TRANSIENT);
      sqlite3_step(pIns);
      sqlite3_reset(pIns);
    }
    fclose(in);
  }
  sqlite3_finalize(pIns);
  /* Sentences with a vector of zero norm (no known word) match nothing. */
  zSql = sqlite3_mprintf(
      "CREATE TABLE v AS SELECT row_number() OVER () AS id, t, "
      "embed(t, %d, 'bench') AS e FROM s;"
      "DELETE FROM v WHERE cosine(e, e) IS NULL;"
      "CREATE TABLE q AS SELECT id, e FROM v WHERE id %% 25 = 0 LIMIT 1000;"
      "CREATE VIRTUAL TABLE exact USING embed_index(model=bench, dims=%d, "
      "quant=none);"
      "INSERT INTO exact(rowid, vector) SELECT id, e FROM v "
      "WHERE id NOT IN (SELECT id FROM q);", nDims, nDims);
  exec(db, zSql);
  sqlite3_free(zSql);
  for(i=0; i<nOver; i++){
    char zOpt[32] = "";
    if( aOver[i] ){
      snprintf(zOpt, sizeof(zOpt), ", oversample=%d", aOver[i]);
    }
    zSql = sqlite3_mprintf(
        "CREATE VIRTUAL TABLE b%d USING embed_index(model=bench, dims=%d%s);"
        "INSERT INTO b%d(rowid, vector) SELECT rowid, vector FROM exact;",
        aOver[i], nDims, zOpt, aOver[i]);
    exec(db, zSql);
    sqlite3_free(zSql);
    azBinSql[i] = sqlite3_mprintf("SELECT rowid FROM b%d WHERE b%d MATCH ?1 "
                                  "AND k = 10", aOver[i], aOver[i]);
    apBin[i] = prepare(db, azBinSql[i]);
  }
  if( zVec0 ){
    zSql = sqlite3_mprintf(
        "CREATE VIRTUAL TABLE vf USING vec0(embedding float[%d] "
        "distance_metric=cosine);"
        "INSERT INTO vf(rowid, embedding) SELECT rowid, vector FROM exact;",
        nDims);
    exec(db, zSql);
    sqlite3_free(zSql);
    pVec0 = prepare(db, zVec0Sql);
  }
  pExact = prepare(db, zExactSql);
  pQ = prepare(db, "SELECT e FROM q");
  {
    sqlite3_stmt *pN = prepare(db, "SELECT count(*) FROM exact");
    sqlite3_step(pN);
    nRow = sqlite3_column_int(pN, 0);
    sqlite3_finalize(pN);
  }
  aQ = malloc(sizeof(float)*1000*(size_t)nDims);
  if( aQ==0 ) die("out of memory", 0);
  while( sqlite3_step(pQ)==SQLITE_ROW ){
    sqlite3_int64 aExact[10], aBin[10];
    int nExact, a, b, nHit = 0;
    if( sqlite3_column_bytes(pQ, 0)!=nDims*4 ) die("query vector size", 0);
    sqlite3_bind_value(pExact, 1, sqlite3_column_value(pQ, 0));
    nExact = top10(pExact, aExact);
    if( nExact<10 ) continue;
    for(i=0; i<nOver; i++){
      nHit = 0;
      sqlite3_bind_value(apBin[i], 1, sqlite3_column_value(pQ, 0));
      top10(apBin[i], aBin);
      for(a=0; a<10; a++) for(b=0; b<10; b++) nHit += aBin[a]==aExact[b];
      aSum[i] += nHit/10.0;
    }
    if( pVec0 ){
      nHit = 0;
      sqlite3_bind_value(pVec0, 1, sqlite3_column_value(pQ, 0));
      top10(pVec0, aBin);
      for(a=0; a<10; a++) for(b=0; b<10; b++) nHit += aBin[a]==aExact[b];
      sumVec0 += nHit/10.0;
    }
    memcpy(aQ + (size_t)nQuery*nDims, sqlite3_column_blob(pQ, 0),
           (size_t)nDims*4);
    nQuery++;
  }
  sqlite3_finalize(pQ);
  sqlite3_finalize(pExact);
  if( pVec0 ) sqlite3_finalize(pVec0);
  /* Every index has answered every query above, so its cache is built;
  ** each is timed alone now, in the order printed. */
  for(i=0; i<nOver; i++){
    char zOver[16] = "auto";
    if( aOver[i] ) snprintf(zOver, sizeof(zOver), "%d", aOver[i]);
    sqlite3_finalize(apBin[i]);
    t = nQuery ? timeQueries(db, azBinSql[i], aQ, nQuery, nDims, 5, 1, &tFirst) : 0;
    printf("recall dims %d rows %d queries %d oversample %s recall10 %.4f"
           " top10_ms %.3f\n", nDims, nRow, nQuery, zOver,
           nQuery ? aSum[i]/nQuery : 0.0, t*1e3);
    fflush(stdout);
    sqlite3_free(azBinSql[i]);
  }
  t = nQuery ? timeQueries(db, zExactSql, aQ, nQuery, nDims, 5, 1, &tFirst) : 0;
  printf("recall dims %d rows %d queries %d index ours_none recall10 %.4f"
         " top10_ms %.3f\n", nDims, nRow, nQuery, nQuery ? 1.0 : 0.0, t*1e3);
  if( zVec0 ){
    t = nQuery ? timeQueries(db, zVec0Sql, aQ, nQuery, nDims, 5, 1, &tFirst) : 0;
    printf("recall dims %d rows %d queries %d index vec0_float recall10 %.4f"
           " top10_ms %.3f\n", nDims, nRow, nQuery,
           nQuery ? sumVec0/nQuery : 0.0, t*1e3);
  }
  fflush(stdout);
  free(aQ);
  sqlite3_close(db);
}

/* A fixed generator (xorshift64*) and unit-variance normals. */
static uint64_t rngState = 0x9e3779b97f4a7c15ull;
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

/* A vector of the data set: one of nCentre random centres plus noise of
** the same size, so that each has near neighbours as real data does. */
static int nCentre = 1000;
static void makeVector(float *aCentre, int nDims, float *aOut){
  int c = (int)(rngUniform()*nCentre), j;
  for(j=0; j<nDims; j++){
    aOut[j] = aCentre[c*nDims + j] + (float)rngNormal();
  }
}

/* Mean recall@10 of query zTest against query zExact over aQ. */
static double recallOf(sqlite3 *db, const char *zTest, const char *zExact,
                       const float *aQ, int nQ, int nDims){
  sqlite3_stmt *pT = prepare(db, zTest), *pE = prepare(db, zExact);
  double sum = 0.0;
  int i;
  for(i=0; i<nQ; i++){
    sqlite3_int64 aT[10], aE[10];
    int nHit = 0, a, b;
    sqlite3_bind_blob(pT, 1, aQ + (size_t)i*nDims, nDims*4, SQLITE_STATIC);
    sqlite3_bind_blob(pE, 1, aQ + (size_t)i*nDims, nDims*4, SQLITE_STATIC);
    top10(pT, aT);
    top10(pE, aE);
    for(a=0; a<10; a++) for(b=0; b<10; b++) nHit += aT[a]==aE[b];
    sum += nHit/10.0;
  }
  sqlite3_finalize(pT);
  sqlite3_finalize(pE);
  return sum/nQ;
}

static void benchSpeed(const char *zExt, const char *zVec0, int nRow,
                       int nDims){
  enum { NQ = 50 };
  static const struct {
    const char *zName, *zTable, *zCreate, *zInsert, *zQuery;
    int bVec0;
  } aIdx[] = {
    { "ours_binary", "ob", "CREATE VIRTUAL TABLE ob USING embed_index(dims=%d)",
      "INSERT INTO ob(rowid, vector) VALUES (?2, ?1)",
      "SELECT rowid FROM ob WHERE ob MATCH ?1 AND k = 10", 0 },
    { "ours_none", "onx",
      "CREATE VIRTUAL TABLE onx USING embed_index(dims=%d, quant=none)",
      "INSERT INTO onx(rowid, vector) VALUES (?2, ?1)",
      "SELECT rowid FROM onx WHERE onx MATCH ?1 AND k = 10", 0 },
    { "vec0_float", "vf",
      "CREATE VIRTUAL TABLE vf USING vec0(embedding float[%d] "
      "distance_metric=cosine)",
      "INSERT INTO vf(rowid, embedding) VALUES (?2, ?1)",
      "SELECT rowid FROM vf WHERE embedding MATCH ?1 AND k = 10", 1 },
    { "vec0_bit", "vb", "CREATE VIRTUAL TABLE vb USING vec0(embedding bit[%d])",
      "INSERT INTO vb(rowid, embedding) VALUES (?2, vec_quantize_binary(?1))",
      "SELECT rowid FROM vb WHERE embedding MATCH vec_quantize_binary(?1) "
      "AND k = 10", 1 },
  };
  static const int aOver[] = { 1, 4, 16, 64 };
  const char *zOnly = getenv("BENCH_ONLY");   /* one index, for profiling */
  if( zOnly && zOnly[0]==0 ) zOnly = 0;
  sqlite3 *db = openWith(zExt, zVec0);
  float *aCentre = malloc(sizeof(float)*1000*(size_t)nDims);
  float *aVec = malloc(sizeof(float)*(size_t)nDims);
  float *aQ = malloc(sizeof(float)*NQ*(size_t)nDims);
  int i, x;
  if( !aCentre || !aVec || !aQ ) die("out of memory", 0);
  /* about 100 rows a centre: top-10 lists of rows near the query, not a
  ** few near ones and the rest at random */
  nCentre = nRow/100 < 10 ? 10 : nRow/100 > 1000 ? 1000 : nRow/100;
  for(i=0; i<nCentre*nDims; i++) aCentre[i] = (float)rngNormal();
  for(i=0; i<NQ; i++) makeVector(aCentre, nDims, aQ + (size_t)i*nDims);
  for(x=0; x<4; x++){
    uint64_t saved = rngState;
    sqlite3_stmt *pIns;
    char *zSql;
    double t0, tIns, tQuery, tFirst;
    if( aIdx[x].bVec0 && zVec0==0 ) continue;
    if( zOnly && strcmp(zOnly, aIdx[x].zName)!=0 ) continue;
    zSql = sqlite3_mprintf(aIdx[x].zCreate, nDims);
    exec(db, zSql);
    sqlite3_free(zSql);
    pIns = prepare(db, aIdx[x].zInsert);
    t0 = now();
    exec(db, "BEGIN");
    for(i=0; i<nRow; i++){
      makeVector(aCentre, nDims, aVec);
      sqlite3_bind_blob(pIns, 1, aVec, nDims*4, SQLITE_STATIC);
      sqlite3_bind_int64(pIns, 2, i+1);
      if( sqlite3_step(pIns)!=SQLITE_DONE ) die("insert", sqlite3_errmsg(db));
      sqlite3_reset(pIns);
    }
    exec(db, "COMMIT");
    tIns = now() - t0;
    sqlite3_finalize(pIns);
    rngState = saved;      /* every index gets the same rows */
    tQuery = timeQueries(db, aIdx[x].zQuery, aQ, NQ, nDims, 3, 0, &tFirst);
    printf("speed %s rows %d dims %d insert_rows_per_s %.0f top10_ms %.3f"
           " first_query_ms %.1f\n", aIdx[x].zName, nRow, nDims,
           nRow/tIns, tQuery*1e3, tFirst*1e3);
    fflush(stdout);
    if( aIdx[x].bVec0 ){
      zSql = sqlite3_mprintf("DROP TABLE %s", aIdx[x].zTable);
      exec(db, zSql);
      sqlite3_free(zSql);
    }
  }
  if( zOnly ){
    sqlite3_close(db);
    return;
  }
  printf("speed recall ours_binary rows %d dims %d oversample auto "
         "recall10 %.4f\n", nRow, nDims,
         recallOf(db, aIdx[0].zQuery, aIdx[1].zQuery, aQ, NQ, nDims));
  for(i=0; i<(int)(sizeof(aOver)/sizeof(aOver[0])); i++){
    char *zSql = sqlite3_mprintf(
        "CREATE VIRTUAL TABLE os USING embed_index(dims=%d, oversample=%d);"
        "INSERT INTO os(rowid, vector) SELECT rowid, vector FROM onx",
        nDims, aOver[i]);
    exec(db, zSql);
    sqlite3_free(zSql);
    printf("speed recall ours_binary rows %d dims %d oversample %d "
           "recall10 %.4f\n", nRow, nDims, aOver[i],
           recallOf(db, "SELECT rowid FROM os WHERE os MATCH ?1 AND k = 10",
                    aIdx[1].zQuery, aQ, NQ, nDims));
    exec(db, "DROP TABLE os");
  }
  free(aCentre);
  free(aVec);
  free(aQ);
  sqlite3_close(db);
}

int main(int argc, char **argv){
  if( argc>=7 && strcmp(argv[1], "recall")==0 ){
    benchRecall(argv[2], strcmp(argv[3], "-")==0 ? 0 : argv[3], argv[4],
                atoi(argv[5]), argc-6, argv+6);
  }else if( argc==6 && strcmp(argv[1], "speed")==0 ){
    benchSpeed(argv[2], strcmp(argv[3], "-")==0 ? 0 : argv[3], atoi(argv[4]),
               atoi(argv[5]));
  }else{
    fprintf(stderr,
        "usage: bench_index recall EXT.so VEC0.so|- MODEL.emb DIMS "
        "TEXTS.txt...\n"
        "       bench_index speed EXT.so VEC0.so|- ROWS DIMS\n");
    return 2;
  }
  return 0;
}
