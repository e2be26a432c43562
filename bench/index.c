/*
** index.c: embed_index measured, and side by side with sqlite-vec.
**
**     build/bench_index recall EXT.so VEC0.so|- MODEL.emb DIMS TEXTS.txt...
**         recall@10 of quant=binary against exact search, for oversample
**         1..16 and the default, on embeddings of real sentences
**         (held-out queries), the top-10 latency of each, of the exact
**         search (quant=none), of vec0 float[DIMS] (cosine) and of a plain
**         SQL scan (ORDER BY cosine() over an ordinary table)
**     build/bench_index speed EXT.so VEC0.so|- VEC010.so|- ROWS DIMS
**         insert rows/s (the rows made beforehand) and warm top-10
**         latency, in memory: ours binary,
**         ours quant=none, vec0 0.1.9 float and bit, vec0 0.1.10
**         rescore(quantizer=bit, oversample=8) and float; the machine's
**         memory bandwidth and the time to read the bit codes at it
**     build/bench_index cold EXT.so VEC010.so|- DIR ROWS DIMS
**         a WAL file in DIR (made once): a new process's first top-10
**         query (file in the OS cache), its second, then warm ones, for
**         ours and vec0 0.1.10 rescore, 5 new processes each; the query of
**         a long-lived connection after another long-lived process commits
**         one row; the first touch of fresh memory on this machine
**
** HOW IT WORKS
** recall embeds every distinct sentence with embed(text, DIMS), holds out
** every 25th as a query (at most 1,000), indexes the rest in a quant=none
** table (the exact answer, which test/index.test checks against plain
** SQL) and in one quant=binary table per oversample, and averages
** |top-10 ∩ exact top-10| / 10 over the queries; then it times each over
** the same queries (timeQueries: each chunk of 50 queries at its best of
** 5 passes, in thread CPU time, as the machine may be shared).  speed and
** cold insert ROWS vectors made by a fixed generator, clustered around up
** to 1,000 random centres (about 100 rows each, noise as large as the
** centre) so that neighbours exist.  Results print as "key value" lines.
** A measuring tool, not a test.
*/
#include <sqlite3.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

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
  static const int aOver[] = { 1, 2, 3, 4, 8, 16, 0 };
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
  /* A plain SQL scan, what a user without an index writes: an ordinary
  ** table of the same vectors, ORDER BY cosine().  Fewer queries (it is
  ** slow), and its own best of 3. */
  exec(db, "CREATE TABLE plain(id INTEGER PRIMARY KEY, v BLOB);"
           "INSERT INTO plain SELECT rowid, vector FROM exact");
  t = nQuery ? timeQueries(db, "SELECT id FROM plain ORDER BY cosine(v, ?1) "
                           "DESC, id LIMIT 10", aQ, nQuery<100 ? nQuery : 100,
                           nDims, 3, 1, &tFirst) : 0;
  printf("recall dims %d rows %d queries %d index sql_scan recall10 1.0000"
         " top10_ms %.3f\n", nDims, nRow, nQuery<100 ? nQuery : 100, t*1e3);
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

static const char *zArgv0 = 0;   /* this program, to run again */

/* The machine's memory bandwidth, GB/s: the best of 5 sums over 256 MB. */
static double bandwidth(void){
  size_t n = (size_t)256<<20, i;
  uint64_t *a = malloc(n), best = 0;
  double bestT = 1e30;
  int r;
  if( a==0 ) die("out of memory", 0);
  memset(a, 1, n);
  for(r=0; r<5; r++){
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    double t0 = now(), t;
    for(i=0; i<n/8; i+=4){ s0 += a[i]; s1 += a[i+1]; s2 += a[i+2]; s3 += a[i+3]; }
    t = now() - t0;
    if( t<bestT ) bestT = t;
    best += s0 + s1 + s2 + s3;
  }
  free(a);
  if( best==42 ) printf("#\n");   /* keep the sums */
  return (double)n/bestT/1e9;
}

static void benchSpeed(const char *zExt, const char *zVec0,
                       const char *zVec010, int nRow, int nDims){
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
    { "vec010_rescore", "vr",
      "CREATE VIRTUAL TABLE vr USING vec0(embedding float[%d] "
      "distance_metric=cosine indexed by rescore(quantizer=bit, oversample=8))",
      "INSERT INTO vr(rowid, embedding) VALUES (?2, ?1)",
      "SELECT rowid FROM vr WHERE embedding MATCH ?1 AND k = 10", 2 },
    { "vec010_float", "vf2",
      "CREATE VIRTUAL TABLE vf2 USING vec0(embedding float[%d] "
      "distance_metric=cosine)",
      "INSERT INTO vf2(rowid, embedding) VALUES (?2, ?1)",
      "SELECT rowid FROM vf2 WHERE embedding MATCH ?1 AND k = 10", 2 },
  };
  static const int aOver[] = { 1, 2, 4, 8 };
  const char *zOnly = getenv("BENCH_ONLY");   /* one index, for profiling */
  if( zOnly && zOnly[0]==0 ) zOnly = 0;
  sqlite3 *db = openWith(zExt, zVec0);
  float *aCentre = malloc(sizeof(float)*1000*(size_t)nDims);
  float *aRows;
  float *aQ = malloc(sizeof(float)*NQ*(size_t)nDims);
  int i, x;
  if( !aCentre || !aQ ) die("out of memory", 0);
  /* about 100 rows a centre: top-10 lists of rows near the query, not a
  ** few near ones and the rest at random */
  nCentre = nRow/100 < 10 ? 10 : nRow/100 > 1000 ? 1000 : nRow/100;
  for(i=0; i<nCentre*nDims; i++) aCentre[i] = (float)rngNormal();
  for(i=0; i<NQ; i++) makeVector(aCentre, nDims, aQ + (size_t)i*nDims);
  /* The rows, made before any insert is timed: drawing 256 normal numbers
  ** a row costs about as much as the insert itself. */
  aRows = malloc(sizeof(float)*(size_t)nRow*(size_t)nDims);
  if( aRows==0 ) die("out of memory", 0);
  for(i=0; i<nRow; i++) makeVector(aCentre, nDims, aRows + (size_t)i*nDims);
  if( zOnly==0 ){
    double gbs = bandwidth();
    size_t nCode = ((size_t)nDims+7)/8;
    printf("speed bandwidth rows %d dims %d gb_per_s %.2f bits_read_ms %.3f\n",
           nRow, nDims, gbs, (double)nRow*(double)nCode/gbs/1e6);
  }
  for(x=0; x<6; x++){
    sqlite3_stmt *pIns;
    char *zSql;
    double t0, tIns, tQuery, tFirst;
    sqlite3 *dbx = db;
    pid_t pid = 0;
    if( aIdx[x].bVec0==1 && zVec0==0 ) continue;
    if( aIdx[x].bVec0==2 && zVec010==0 ) continue;
    if( zOnly && strcmp(zOnly, aIdx[x].zName)!=0 ) continue;
    if( aIdx[x].bVec0==2 && zVec0 ){
      /* sqlite-vec 0.1.10 in a program of its own: SQLite loads
      ** extensions RTLD_GLOBAL, so its functions would bind to 0.1.9's
      ** (a fork would inherit 0.1.9): this program again, for vec010's
      ** indexes alone. */
      char zRows[32], zDims[32];
      fflush(stdout);
      pid = fork();
      if( pid==0 ){
        snprintf(zRows, sizeof(zRows), "%d", nRow);
        snprintf(zDims, sizeof(zDims), "%d", nDims);
        setenv("BENCH_ONLY", aIdx[x].zName, 1);
        execl(zArgv0, zArgv0, "speed", zExt, "-", zVec010, zRows, zDims,
              (char*)0);
        _exit(127);
      }
      waitpid(pid, 0, 0);
      continue;
    }
    if( aIdx[x].bVec0==2 ) dbx = openWith(0, zVec010);
    if( zOnly && strcmp(zOnly, aIdx[x].zName)!=0 ) continue;
    zSql = sqlite3_mprintf(aIdx[x].zCreate, nDims);
    exec(dbx, zSql);
    sqlite3_free(zSql);
    pIns = prepare(dbx, aIdx[x].zInsert);
    t0 = now();
    exec(dbx, "BEGIN");
    for(i=0; i<nRow; i++){
      sqlite3_bind_blob(pIns, 1, aRows + (size_t)i*nDims, nDims*4,
                        SQLITE_STATIC);
      sqlite3_bind_int64(pIns, 2, i+1);
      if( sqlite3_step(pIns)!=SQLITE_DONE ) die("insert", sqlite3_errmsg(dbx));
      sqlite3_reset(pIns);
    }
    exec(dbx, "COMMIT");
    tIns = now() - t0;
    sqlite3_finalize(pIns);
    tQuery = timeQueries(dbx, aIdx[x].zQuery, aQ, NQ, nDims, 3, 0, &tFirst);
    printf("speed %s rows %d dims %d insert_rows_per_s %.0f top10_ms %.3f"
           " first_query_ms %.1f\n", aIdx[x].zName, nRow, nDims,
           nRow/tIns, tQuery*1e3, tFirst*1e3);
    fflush(stdout);
    if( aIdx[x].bVec0==2 ){
      sqlite3_close(dbx);      /* a database of its own: nothing to drop */
    }else if( aIdx[x].bVec0 ){
      zSql = sqlite3_mprintf("DROP TABLE %s", aIdx[x].zTable);
      exec(dbx, zSql);
      sqlite3_free(zSql);
    }
  }
  if( zOnly ){
    free(aCentre);
    free(aRows);
    free(aQ);
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
  free(aRows);
  free(aQ);
  sqlite3_close(db);
}

/* Open zPath with the extension zExt loaded (and nothing else). */
static sqlite3 *openFile(const char *zPath, const char *zExt){
  sqlite3 *db;
  char *zErr = 0;
  if( sqlite3_open(zPath, &db) ) die("cannot open", zPath);
  sqlite3_busy_timeout(db, 10000);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, zExt, 0, &zErr) ) die(zExt, zErr);
  return db;
}

/* Read the whole file, so that it is in the OS cache. */
static void readFile(const char *zPath){
  FILE *in = fopen(zPath, "rb");
  static char aBuf[1<<20];
  if( in==0 ) return;
  while( fread(aBuf, 1, sizeof(aBuf), in)>0 ){}
  fclose(in);
}

/* Seconds of one top-10 query of pStmt for vector aQ. */
static double oneQuery(sqlite3_stmt *pStmt, const float *aQ, int nDims){
  sqlite3_int64 aTop[10];
  double t0 = now();
  sqlite3_bind_blob(pStmt, 1, aQ, nDims*4, SQLITE_STATIC);
  top10(pStmt, aTop);
  return now() - t0;
}

static int cmpDouble(const void *a, const void *b){
  double x = *(const double*)a, y = *(const double*)b;
  return x<y ? -1 : x>y;
}

/* The first touch of nByte of fresh memory in huge pages (as pages.c
** asks for it), in a new process: what a new process pays before it can
** hold the sign bits.  On a virtual machine whose host takes back the
** guest's free memory (free page reporting), memory freed a few seconds
** ago comes back through the host, many times slower. */
static double freshTouch(size_t nByte){
  int fd[2];
  double t = 0.0;
  if( pipe(fd) ) die("pipe", 0);
  fflush(stdout);
  if( fork()==0 ){
    size_t nMap = nByte + (2u<<20), i;
    uint8_t *a = mmap(0, nMap, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS,
                      -1, 0);
    double t0;
    if( a==MAP_FAILED ) _exit(1);
    a = (uint8_t*)(((uintptr_t)a + (2u<<20) - 1) & ~(uintptr_t)((2u<<20) - 1));
#ifdef MADV_HUGEPAGE
    madvise(a, nByte, MADV_HUGEPAGE);
#endif
    t0 = now();
    for(i=0; i<nByte; i+=4096) a[i] = 1;
    t = now() - t0;
    if( write(fd[1], &t, sizeof(t))!=(ssize_t)sizeof(t) ) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  if( read(fd[0], &t, sizeof(t))!=(ssize_t)sizeof(t) ) die("freshTouch", 0);
  close(fd[0]);
  wait(0);
  return t;
}

/*
** cold: for each index kind, a file database made once (WAL).  Then
** COLD_RUNS rounds, each index in turn within a round (so that the
** machine's drift falls on both alike): the file read into the OS cache,
** then a child process that opens it and times its first query, its
** second (ours builds its cache) and 20 warm ones, and sends them back by
** a pipe.  The medians over the rounds
** are printed, with the first query's lowest and highest (a single new
** process on this shared 2-core machine can take several times its usual
** time).  For ours, also a connection kept open while another process
** commits one row, COMMIT_RUNS times: its next query against its warm
** ones.  Times are wall clock (a first query waits on memory and the
** kernel as much as the CPU).
*/
#define COLD_RUNS    5
#define COMMIT_RUNS  11
static void benchCold(const char *zExt, const char *zVec010, const char *zDir,
                      int nRow, int nDims){
  static const struct {
    const char *zName, *zFile, *zCreate, *zInsert, *zQuery;
    int bVec010;
  } aIdx[] = {
    { "ours_binary", "cold_ours", "CREATE VIRTUAL TABLE ob USING embed_index(dims=%d)",
      "INSERT INTO ob(rowid, vector) VALUES (?2, ?1)",
      "SELECT rowid FROM ob WHERE ob MATCH ?1 AND k = 10", 0 },
    { "vec010_rescore", "cold_vec010",
      "CREATE VIRTUAL TABLE vr USING vec0(embedding float[%d] "
      "distance_metric=cosine indexed by rescore(quantizer=bit, oversample=8))",
      "INSERT INTO vr(rowid, embedding) VALUES (?2, ?1)",
      "SELECT rowid FROM vr WHERE embedding MATCH ?1 AND k = 10", 1 },
  };
  enum { NQ = 20 };
  float *aCentre = malloc(sizeof(float)*1000*(size_t)nDims);
  float *aVec = malloc(sizeof(float)*(size_t)nDims);
  float *aQ = malloc(sizeof(float)*NQ*(size_t)nDims);
  char *azPath[2] = { 0, 0 };
  double aRun[2][4][COLD_RUNS];    /* open, first, warm, second: per index,
                                   ** round */
  int i, x, r;
  if( !aCentre || !aVec || !aQ ) die("out of memory", 0);
  nCentre = nRow/100 < 10 ? 10 : nRow/100 > 1000 ? 1000 : nRow/100;
  for(i=0; i<nCentre*nDims; i++) aCentre[i] = (float)rngNormal();
  for(i=0; i<NQ; i++) makeVector(aCentre, nDims, aQ + (size_t)i*nDims);
  for(x=0; x<2; x++){
    const char *zX = aIdx[x].bVec010 ? zVec010 : zExt;
    char *zSql;
    uint64_t saved = rngState;
    FILE *f;
    if( zX==0 ) continue;
    azPath[x] = sqlite3_mprintf("%s/%s_%d_%d.db", zDir, aIdx[x].zFile,
                                nRow, nDims);
    f = fopen(azPath[x], "rb");
    if( f ){
      fclose(f);
    }else{
      sqlite3 *db = openFile(azPath[x], zX);
      sqlite3_stmt *pIns;
      exec(db, "PRAGMA journal_mode=WAL");
      zSql = sqlite3_mprintf(aIdx[x].zCreate, nDims);
      exec(db, zSql);
      sqlite3_free(zSql);
      pIns = prepare(db, aIdx[x].zInsert);
      exec(db, "BEGIN");
      for(i=0; i<nRow; i++){
        makeVector(aCentre, nDims, aVec);
        sqlite3_bind_blob(pIns, 1, aVec, nDims*4, SQLITE_STATIC);
        sqlite3_bind_int64(pIns, 2, i+1);
        if( sqlite3_step(pIns)!=SQLITE_DONE ) die("insert", sqlite3_errmsg(db));
        sqlite3_reset(pIns);
      }
      exec(db, "COMMIT");
      sqlite3_finalize(pIns);
      exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
      sqlite3_close(db);
    }
    rngState = saved;
  }
  for(r=0; r<COLD_RUNS; r++){
    for(x=0; x<2; x++){
      const char *zX = aIdx[x].bVec010 ? zVec010 : zExt;
      double a[4];
      int fd[2];
      if( azPath[x]==0 ) continue;
      readFile(azPath[x]);
      /* A new process: open, load, first query, then warm ones. */
      if( pipe(fd) ) die("pipe", 0);
      fflush(stdout);
      if( fork()==0 ){
        double t0 = now(), aWarm[NQ];
        sqlite3 *db = openFile(azPath[x], zX);
        sqlite3_stmt *p;
        close(fd[0]);
        a[0] = now() - t0;
        p = prepare(db, aIdx[x].zQuery);
        a[1] = oneQuery(p, aQ, nDims);
        a[3] = oneQuery(p, aQ + nDims, nDims);
        for(i=0; i<NQ; i++) oneQuery(p, aQ + (size_t)i*nDims, nDims);
        for(i=0; i<NQ; i++) aWarm[i] = oneQuery(p, aQ + (size_t)i*nDims, nDims);
        qsort(aWarm, NQ, sizeof(double), cmpDouble);
        a[2] = aWarm[NQ/2];
        if( write(fd[1], a, sizeof(a))!=(ssize_t)sizeof(a) ) _exit(1);
        sqlite3_finalize(p);
        sqlite3_close(db);
        _exit(0);
      }
      close(fd[1]);
      if( read(fd[0], a, sizeof(a))!=(ssize_t)sizeof(a) ){
        die("a new process's first query failed", aIdx[x].zName);
      }
      close(fd[0]);
      wait(0);
      for(i=0; i<4; i++) aRun[x][i][r] = a[i];
    }
  }
  for(x=0; x<2; x++){
    double aFirst[COLD_RUNS];
    if( azPath[x]==0 ) continue;
    memcpy(aFirst, aRun[x][1], sizeof(aFirst));
    for(i=0; i<4; i++){
      qsort(aRun[x][i], COLD_RUNS, sizeof(double), cmpDouble);
    }
    printf("cold %s rows %d dims %d runs %d open_ms %.2f first_query_ms %.2f "
           "first_min_ms %.2f first_max_ms %.2f second_query_ms %.2f "
           "warm_ms %.3f\n",
           aIdx[x].zName, nRow, nDims, COLD_RUNS,
           aRun[x][0][COLD_RUNS/2]*1e3, aRun[x][1][COLD_RUNS/2]*1e3,
           aRun[x][1][0]*1e3, aRun[x][1][COLD_RUNS-1]*1e3,
           aRun[x][3][COLD_RUNS/2]*1e3, aRun[x][2][COLD_RUNS/2]*1e3);
    printf("cold %s first_query_ms_each", aIdx[x].zName);
    for(r=0; r<COLD_RUNS; r++) printf(" %.2f", aFirst[r]*1e3);
    printf("\n");
  }
  fflush(stdout);
  for(x=0; x<2; x++){
    const char *zX = aIdx[x].bVec010 ? zVec010 : zExt;
    const char *zPath = azPath[x];
    if( zPath==0 ) continue;
    if( !aIdx[x].bVec010 ){
      /* Another process's one-row commit, seen by a warm connection.  The
      ** writer is a process of its own for the whole run, told by a pipe
      ** when to commit (as a web worker or a cron job would be): forking
      ** one for each commit would time the fork too (the reader's memory
      ** turns copy-on-write; about 1 ms a query on this machine).  The
      ** same round trip with nothing committed is timed as well. */
      int toW[2], fromW[2];
      double aWarm[NQ], aAfter[COMMIT_RUNS], aTrip[COMMIT_RUNS];
      sqlite3 *db;
      sqlite3_stmt *p;
      char ch;
      if( pipe(toW) || pipe(fromW) ) die("pipe", 0);
      fflush(stdout);
      if( fork()==0 ){
        sqlite3 *w;
        sqlite3_stmt *pIns;
        close(toW[1]);
        close(fromW[0]);
        w = openFile(zPath, zX);
        pIns = prepare(w, "INSERT INTO ob(rowid, vector) VALUES (?2, ?1)");
        for(r=0; read(toW[0], &ch, 1)==1; r++){
          if( ch=='c' ){
            makeVector(aCentre, nDims, aVec);
            sqlite3_bind_blob(pIns, 1, aVec, nDims*4, SQLITE_STATIC);
            sqlite3_bind_int64(pIns, 2, (sqlite3_int64)nRow + 1000 + r
                                        + (sqlite3_int64)getpid()*1000);
            if( sqlite3_step(pIns)!=SQLITE_DONE ) _exit(1);
            sqlite3_reset(pIns);
          }
          if( write(fromW[1], "k", 1)!=1 ) _exit(1);
        }
        sqlite3_finalize(pIns);
        sqlite3_close(w);
        _exit(0);
      }
      close(toW[0]);
      close(fromW[1]);
      db = openFile(zPath, zX);
      p = prepare(db, aIdx[x].zQuery);
      for(i=0; i<2*NQ; i++) oneQuery(p, aQ + (size_t)(i%NQ)*nDims, nDims);
      for(i=0; i<NQ; i++) aWarm[i] = oneQuery(p, aQ + (size_t)i*nDims, nDims);
      for(r=0; r<2*COMMIT_RUNS; r++){
        if( write(toW[1], r&1 ? "n" : "c", 1)!=1 || read(fromW[0], &ch, 1)!=1 ){
          die("the writer process failed", 0);
        }
        if( r&1 ){
          aTrip[r/2] = oneQuery(p, aQ + (size_t)(r%NQ)*nDims, nDims);
        }else{
          aAfter[r/2] = oneQuery(p, aQ + (size_t)(r%NQ)*nDims, nDims);
        }
      }
      close(toW[1]);
      wait(0);
      close(fromW[0]);
      qsort(aWarm, NQ, sizeof(double), cmpDouble);
      qsort(aAfter, COMMIT_RUNS, sizeof(double), cmpDouble);
      qsort(aTrip, COMMIT_RUNS, sizeof(double), cmpDouble);
      printf("cold %s rows %d dims %d warm_ms %.3f after_commit_ms %.3f "
             "after_roundtrip_ms %.3f\n", "ours_refresh", nRow, nDims,
             aWarm[NQ/2]*1e3, aAfter[COMMIT_RUNS/2]*1e3, aTrip[COMMIT_RUNS/2]*1e3);
      fflush(stdout);
      sqlite3_finalize(p);
      sqlite3_close(db);
    }
  }
  {
    /* The machine: fresh memory for the sign bits, just after other work
    ** and after 3 s idle. */
    size_t nBits = (size_t)nRow*(size_t)nDims/8;
    double aHot[3], aIdle[3];
    for(i=0; i<3; i++){
      aHot[i] = freshTouch(nBits);
      sleep(3);
      aIdle[i] = freshTouch(nBits);
    }
    qsort(aHot, 3, sizeof(double), cmpDouble);
    qsort(aIdle, 3, sizeof(double), cmpDouble);
    printf("cold machine fresh_mb %.1f touch_ms %.2f touch_after_idle_ms %.2f\n",
           nBits/1048576.0, aHot[1]*1e3, aIdle[1]*1e3);
  }
  for(x=0; x<2; x++) sqlite3_free(azPath[x]);
  free(aCentre);
  free(aVec);
  free(aQ);
}

int main(int argc, char **argv){
  zArgv0 = argv[0];
  if( argc>=7 && strcmp(argv[1], "recall")==0 ){
    benchRecall(argv[2], strcmp(argv[3], "-")==0 ? 0 : argv[3], argv[4],
                atoi(argv[5]), argc-6, argv+6);
  }else if( argc==7 && strcmp(argv[1], "speed")==0 ){
    benchSpeed(argv[2], strcmp(argv[3], "-")==0 ? 0 : argv[3],
               strcmp(argv[4], "-")==0 ? 0 : argv[4], atoi(argv[5]),
               atoi(argv[6]));
  }else if( argc==7 && strcmp(argv[1], "cold")==0 ){
    benchCold(argv[2], strcmp(argv[3], "-")==0 ? 0 : argv[3], argv[4],
              atoi(argv[5]), atoi(argv[6]));
  }else{
    fprintf(stderr,
        "usage: bench_index recall EXT.so VEC0.so|- MODEL.emb DIMS "
        "TEXTS.txt...\n"
        "       bench_index speed EXT.so VEC0.so|- VEC010.so|- ROWS DIMS\n"
        "       bench_index cold EXT.so VEC010.so|- DIR ROWS DIMS\n");
    return 2;
  }
  return 0;
}
