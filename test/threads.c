/*
** threads.c: the extension used from several threads at once, one
** connection each, on one WAL database.
**
**     EMBED_EXT=build/tsan/embed EMBED_TEST_DIR=build/test build/tsan/threads
**     build/tsan/threads --probe      # prints "ok" where the binary can run
**
** Built with -fsanitize=thread (make tsan) beside an embed.so built the
** same way, so ThreadSanitizer watches the extension's own code; it also
** runs as an ordinary program.
**
** HOW IT WORKS
** NTHREAD threads start together, each with no connection: each opens its
** own connection to one new WAL database (even threads FULLMUTEX, odd ones
** NOMUTEX), loads the extension and loads the mini model as 'mini' through
** a different path to the same file (as given, DIR/./mini.emb, a hard link,
** a symbolic link), all at once, so the first load of the library, the
** model registry and the kernels' set-up race.  Thread 0 then creates two
** indexes (docs: model=mini, quant=binary, rows as text; vecs: 8 dims,
** quant=none, rows as vectors) and all start work together:
**   writers (threads 0 and 1) commit N_TXN transactions (BEGIN IMMEDIATE,
**     the busy timeout waits for the lock) of rows in rowid ranges of their
**     own, updating and deleting some earlier rows, then search;
**   readers (the others) run N_READ read transactions, each a text and a
**     vector search of both indexes against a brute-force ORDER BY
**     1 - cosine(vector, q), id over NAME_data in the same snapshot;
**   all call embed() (all dims and 2), embed_tokens() and embed_metrics()
**     on N_TEXT fixed texts every few steps; the first pass's results are
**     kept and every later pass must repeat them byte for byte.
** Each thread counts its checks and its calls that tokenize.  After the
** threads are joined, a new connection computes the texts single-threaded,
** and the program checks: every thread's results equal those bytes; the
** rows on disk are exactly the writers' (text, embedding, vector); every
** connection's top-10 searches equal brute force; /proc/self/maps holds one
** mapping of the model file; embed_models.calls is the same in every
** connection and equals every tokenizing call made (the counters live in
** the one shared model); embed_metrics() counted every embed() and
** embed_tokens() call; PRAGMA integrity_check is 'ok'.
** Prints failures and "N passed, N failed"; exits 1 on any failure.
*/
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#define NTHREAD   4
#define NWRITER   2          /* threads 0 .. NWRITER-1 write */
#define N_TEXT    16         /* fixed texts embedded by every thread */
#define N_TXN     50         /* transactions per writer */
#define TXN_ROWS  4          /* rows a transaction, in each index */
#define N_READ    200        /* read transactions per reader */
#define VEC_DIMS  8
#define N_CHURN   8          /* connections each thread opens and closes */
#define ROW_BASE  100000     /* writer w's rowids start at (w+1)*ROW_BASE */

static const char *zExt, *zDir;
static char *azModelPath[NTHREAD];
static pthread_barrier_t barrier;

/* A thread's state.  Written by its thread until the join, then read by
** main: no field is shared while the threads run. */
typedef struct Worker Worker;
struct Worker {
  int iThread;
  pthread_t tid;
  sqlite3 *db;
  char *azFirst[N_TEXT];     /* first pass: hex(embed) hex(embed 2) tokens */
  int nTokenize;             /* calls through this connection that tokenize */
  int nFunc;                 /* embed() and embed_tokens() calls */
  int nPass, nFail;
  long long iGen;            /* readers: docs' generation last seen */
  int nGen;                  /* readers: generations seen */
};

static Worker aWorker[NTHREAD];
static int nPass = 0, nFail = 0;   /* main's own checks */

/* Count one check in *pnPass or *pnFail; print zFmt... when it fails. */
static int checkIn(int *pnPass, int *pnFail, int bOk, const char *zFmt, ...)
    __attribute__((format(printf, 4, 5)));
static int checkIn(int *pnPass, int *pnFail, int bOk, const char *zFmt, ...){
  if( bOk ){
    (*pnPass)++;
  }else{
    char z[4096];
    va_list ap;
    (*pnFail)++;
    va_start(ap, zFmt);
    vsnprintf(z, sizeof(z), zFmt, ap);
    va_end(ap);
    printf("FAIL %s\n", z);     /* one call: lines of threads do not mix */
  }
  return bOk;
}
#define CHECK(p, bOk, ...) checkIn(&(p)->nPass, &(p)->nFail, bOk, __VA_ARGS__)

/* ------------------------------------------------------------------------
** Data: texts, vectors, rows
*/

static const char *const azWord[] = {
  "the", "cat", "sat", "on", "mat", "dog", "new", "york", "café", "über",
  "don't", "it's", "u.s.", "e-mail", "zebra", "Über", "THE", "of", "and",
  "$5", "\"quoted\"", "are", "will", "ca"
};
#define N_WORD ((int)(sizeof(azWord)/sizeof(azWord[0])))

static uint64_t mix64(uint64_t x){
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x>>30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x>>27)) * 0x94D049BB133111EBull;
  return x ^ (x>>31);
}

/* Text number i, a few words, into z[0..nz). */
static void makeText(uint64_t i, char *z, size_t nz){
  uint64_t s = mix64(i*7919 + 11);
  int nw = 1 + (int)(s % 9), j;
  size_t n = 0;
  z[0] = 0;
  for(j=0; j<nw && n+16<nz; j++){
    s = mix64(s);
    n += (size_t)snprintf(z+n, nz-n, "%s%s", j ? " " : "",
                          azWord[s % (uint64_t)N_WORD]);
  }
}

/* Vector number i: VEC_DIMS floats in [-1, 1). */
static void makeVector(uint64_t i, float *a){
  uint64_t s = mix64(~i);
  int j;
  for(j=0; j<VEC_DIMS; j++){
    s = mix64(s);
    a[j] = (float)((double)(s>>11) / 9007199254740992.0 * 2.0 - 1.0);
  }
}

/* The rows writer w writes: number j (0 .. N_TXN*TXN_ROWS-1) has rowid
** rowOf(w, j); docs holds text rowOf(w, j), replaced by text rowOf(w, j)+1
** when j%5==2; vecs holds vector rowOf(w, j), deleted when j%7==3.  The
** updates and deletes are done one transaction after the insert. */
static sqlite3_int64 rowOf(int w, int j){ return (sqlite3_int64)(w+1)*ROW_BASE + j; }
static int isUpdated(int j){ return j%5==2; }
static int isDeleted(int j){ return j%7==3; }

/* ------------------------------------------------------------------------
** SQL helpers
*/

/* The first column of the first row of zSql as text, "NULL" for none, or
** "error: MESSAGE", from sqlite3_mprintf() (the caller frees it).  ?1 is
** bound to the blob a[0..n) when a is not NULL, else to the text zArg when
** that is not NULL. */
static char *query(sqlite3 *db, const char *zSql, const void *a, int n,
                   const char *zArg){
  sqlite3_stmt *pStmt = 0;
  char *zOut = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc==SQLITE_OK && a ) sqlite3_bind_blob(pStmt, 1, a, n, SQLITE_TRANSIENT);
  if( rc==SQLITE_OK && !a && zArg ){
    sqlite3_bind_text(pStmt, 1, zArg, -1, SQLITE_TRANSIENT);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      const char *z = (const char*)sqlite3_column_text(pStmt, 0);
      zOut = sqlite3_mprintf("%s", z ? z : "NULL");
      rc = SQLITE_OK;
    }else if( rc==SQLITE_DONE ){
      zOut = sqlite3_mprintf("NULL");
      rc = SQLITE_OK;
    }
  }
  if( rc ) zOut = sqlite3_mprintf("error: %s", sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  return zOut;
}

/* Run zSql (no rows); count a failure in p when it fails. */
static int exec(Worker *p, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(p->db, zSql, 0, 0, &zErr);
  CHECK(p, rc==SQLITE_OK, "thread %d: %s: %s", p->iThread, zSql,
        zErr ? zErr : "?");
  sqlite3_free(zErr);
  return rc;
}

/* Open a connection for thread iThread (-1: main), load the extension and
** the model from zModelPath as 'mini'.  NULL after a failure counted in p. */
static sqlite3 *openConn(Worker *p, int iThread, const char *zDb,
                         const char *zModelPath){
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
            | (iThread%2 ? SQLITE_OPEN_NOMUTEX : SQLITE_OPEN_FULLMUTEX);
  sqlite3 *db = 0;
  char *zErr = 0, *z, *zSql;
  if( !CHECK(p, sqlite3_open_v2(zDb, &db, flags, 0)==SQLITE_OK,
             "thread %d: open %s: %s", iThread, zDb, sqlite3_errmsg(db)) ){
    sqlite3_close(db);
    return 0;
  }
  sqlite3_busy_timeout(db, 30000);
  sqlite3_enable_load_extension(db, 1);
  if( !CHECK(p, sqlite3_load_extension(db, zExt, 0, &zErr)==SQLITE_OK,
             "thread %d: load %s: %s", iThread, zExt, zErr) ){
    sqlite3_free(zErr);
    sqlite3_close(db);
    return 0;
  }
  /* WAL commits without an fsync each, so writers keep up with readers */
  sqlite3_exec(db, "PRAGMA synchronous=NORMAL", 0, 0, 0);
  zSql = sqlite3_mprintf("SELECT embed_load('mini', %Q)", zModelPath);
  z = query(db, zSql, 0, 0, 0);
  CHECK(p, strcmp(z, "mini")==0, "thread %d: embed_load: %s", iThread, z);
  sqlite3_free(z);
  sqlite3_free(zSql);
  return db;
}

/* What the fixed text i gives: "hex(embed) hex(embed 2 dims) tokens". */
#define TEXT_SQL "SELECT hex(embed(?1, NULL, 'mini')) || ' ' || " \
                 "hex(embed(?1, 2, 'mini')) || ' ' || embed_tokens(?1, 'mini')"

/* Embed the fixed texts through p's connection.  The first pass keeps the
** results; later passes must repeat them.  Also calls embed_metrics(). */
static void textPass(Worker *p){
  int i;
  char *z;
  for(i=0; i<N_TEXT; i++){
    char zText[256];
    makeText((uint64_t)i, zText, sizeof(zText));
    z = query(p->db, TEXT_SQL, 0, 0, zText);
    p->nTokenize += 3;
    p->nFunc += 3;
    if( p->azFirst[i]==0 ){
      CHECK(p, strncmp(z, "error", 5)!=0, "thread %d: %s", p->iThread, z);
      p->azFirst[i] = z;
    }else{
      CHECK(p, strcmp(z, p->azFirst[i])==0, "thread %d: text %d ('%s') "
            "embedded as %s, before as %s", p->iThread, i, zText, z,
            p->azFirst[i]);
      sqlite3_free(z);
    }
  }
  z = query(p->db, "SELECT embed_metrics()", 0, 0, 0);
  CHECK(p, strstr(z, "embed_calls_total{model=\"mini\"}")!=0,
        "thread %d: embed_metrics() has no series for mini: %.200s",
        p->iThread, z);
  sqlite3_free(z);
}

/* embed(zText) with the mini model (4 dims) into a[0..4).  Returns 1, or
** 0 on an error. */
static int embedBlob(sqlite3 *db, const char *zText, float *a){
  sqlite3_stmt *pStmt = 0;
  int bOk = 0;
  if( sqlite3_prepare_v2(db, "SELECT embed(?1, NULL, 'mini')", -1, &pStmt, 0)
      ==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zText, -1, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW
     && sqlite3_column_bytes(pStmt, 0)==4*(int)sizeof(float) ){
      memcpy(a, sqlite3_column_blob(pStmt, 0), 4*sizeof(float));
      bOk = 1;
    }
  }
  sqlite3_finalize(pStmt);
  return bOk;
}

#define TOP_INDEX(T) \
  "SELECT group_concat(rowid || ':' || printf('%.17g', distance), ' ') " \
  "FROM (SELECT rowid, distance FROM " T " WHERE " T " MATCH ?1 AND k = 10)"
#define TOP_BRUTE(T) \
  "SELECT group_concat(id || ':' || printf('%.17g', d), ' ') FROM " \
  "(SELECT id, 1 - cosine(vector, ?1) AS d FROM " T "_data " \
  "WHERE d IS NOT NULL ORDER BY d, id LIMIT 10)"

/* Search docs for text i and vecs for vector i through db, against brute
** force on dbRef; counted in p.  Inside one read transaction when bTxn
** (db and dbRef are then the same connection). */
static void searchCheck(Worker *p, sqlite3 *db, sqlite3 *dbRef, int i,
                        int bTxn, const char *zWho){
  char zText[256];
  float aVec[VEC_DIMS], aDoc[4];
  char *zGot, *zWant;
  makeText((uint64_t)(1000 + i), zText, sizeof(zText));
  makeVector((uint64_t)(1000 + i), aVec);
  if( bTxn ){
    CHECK(p, sqlite3_exec(db, "BEGIN", 0, 0, 0)==SQLITE_OK, "%s: BEGIN: %s",
          zWho, sqlite3_errmsg(db));
  }
  /* docs by text: the index embeds it; brute force takes embed() of it */
  zGot = query(db, TOP_INDEX("docs"), 0, 0, zText);
  if( embedBlob(dbRef, zText, aDoc) ){
    zWant = query(dbRef, TOP_BRUTE("docs"), aDoc, sizeof(aDoc), 0);
  }else{
    zWant = sqlite3_mprintf("error: embed(): %s", sqlite3_errmsg(dbRef));
  }
  p->nTokenize += 2;            /* the MATCH text, embed() */
  p->nFunc += 1;
  CHECK(p, strcmp(zGot, zWant)==0, "%s: docs top-10 of '%s'\n  index: %s\n"
        "  brute: %s", zWho, zText, zGot, zWant);
  sqlite3_free(zGot);
  sqlite3_free(zWant);
  /* vecs by vector */
  zGot = query(db, TOP_INDEX("vecs"), aVec, sizeof(aVec), 0);
  zWant = query(dbRef, TOP_BRUTE("vecs"), aVec, sizeof(aVec), 0);
  CHECK(p, strcmp(zGot, zWant)==0, "%s: vecs top-10 of vector %d\n"
        "  index: %s\n  brute: %s", zWho, i, zGot, zWant);
  sqlite3_free(zGot);
  sqlite3_free(zWant);
  if( bTxn ){
    CHECK(p, sqlite3_exec(db, "COMMIT", 0, 0, 0)==SQLITE_OK, "%s: COMMIT: %s",
          zWho, sqlite3_errmsg(db));
  }
}

/* ------------------------------------------------------------------------
** The threads
*/

static void writerWork(Worker *p){
  int w = p->iThread, t, j;
  sqlite3_stmt *pDoc = 0, *pVec = 0, *pUpd = 0, *pDel = 0;
  char zWho[64];
  snprintf(zWho, sizeof(zWho), "writer %d", w);
  if( !CHECK(p, sqlite3_prepare_v2(p->db, "INSERT INTO docs(rowid, content) "
                                   "VALUES(?1, ?2)", -1, &pDoc, 0)==SQLITE_OK
             && sqlite3_prepare_v2(p->db, "INSERT INTO vecs(rowid, vector) "
                                   "VALUES(?1, ?2)", -1, &pVec, 0)==SQLITE_OK
             && sqlite3_prepare_v2(p->db, "UPDATE docs SET content = ?2 "
                                   "WHERE rowid = ?1", -1, &pUpd, 0)==SQLITE_OK
             && sqlite3_prepare_v2(p->db, "DELETE FROM vecs WHERE rowid = ?1",
                                   -1, &pDel, 0)==SQLITE_OK,
             "%s: prepare: %s", zWho, sqlite3_errmsg(p->db)) ){
    goto done;
  }
  for(t=0; t<N_TXN; t++){
    int bOk = exec(p, "BEGIN IMMEDIATE")==SQLITE_OK;
    for(j=t*TXN_ROWS; bOk && j<(t+1)*TXN_ROWS; j++){
      char zText[256];
      float aVec[VEC_DIMS];
      sqlite3_int64 iRow = rowOf(w, j);
      makeText((uint64_t)iRow, zText, sizeof(zText));
      makeVector((uint64_t)iRow, aVec);
      sqlite3_bind_int64(pDoc, 1, iRow);
      sqlite3_bind_text(pDoc, 2, zText, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(pVec, 1, iRow);
      sqlite3_bind_blob(pVec, 2, aVec, sizeof(aVec), SQLITE_TRANSIENT);
      sqlite3_step(pDoc);
      sqlite3_step(pVec);
      bOk = sqlite3_reset(pDoc)==SQLITE_OK && sqlite3_reset(pVec)==SQLITE_OK;
      p->nTokenize++;
    }
    /* the previous transaction's rows: some updated, some deleted */
    for(j=(t-1)*TXN_ROWS; bOk && t>0 && j<t*TXN_ROWS; j++){
      sqlite3_int64 iRow = rowOf(w, j);
      if( isUpdated(j) ){
        char zText[256];
        makeText((uint64_t)iRow+1, zText, sizeof(zText));
        sqlite3_bind_int64(pUpd, 1, iRow);
        sqlite3_bind_text(pUpd, 2, zText, -1, SQLITE_TRANSIENT);
        sqlite3_step(pUpd);
        bOk = sqlite3_reset(pUpd)==SQLITE_OK;
        p->nTokenize++;
      }
      if( bOk && isDeleted(j) ){
        sqlite3_bind_int64(pDel, 1, iRow);
        sqlite3_step(pDel);
        bOk = sqlite3_reset(pDel)==SQLITE_OK;
      }
    }
    CHECK(p, bOk, "%s: transaction %d: %s", zWho, t, sqlite3_errmsg(p->db));
    if( bOk ) bOk = exec(p, "COMMIT")==SQLITE_OK;
    if( !bOk ){
      sqlite3_exec(p->db, "ROLLBACK", 0, 0, 0);
      break;
    }
    searchCheck(p, p->db, p->db, w*N_TXN + t, 1, zWho);
    if( t%5==0 ) textPass(p);
  }
done:
  sqlite3_finalize(pDoc);
  sqlite3_finalize(pVec);
  sqlite3_finalize(pUpd);
  sqlite3_finalize(pDel);
}

static void readerWork(Worker *p){
  int i;
  char zWho[64];
  snprintf(zWho, sizeof(zWho), "reader %d", p->iThread);
  for(i=0; i<N_READ; i++){
    char *zGen;
    searchCheck(p, p->db, p->db, p->iThread*N_READ + i, 1, zWho);
    if( i%10==0 ) textPass(p);
    /* how often the writers' commits came between searches (not checked:
    ** it depends on timing) */
    zGen = query(p->db, "SELECT value FROM docs_config "
                        "WHERE key = 'generation'", 0, 0, 0);
    if( atoll(zGen)!=p->iGen ) p->nGen++;
    p->iGen = atoll(zGen);
    sqlite3_free(zGen);
  }
}

/* Connections opened and closed at once in every thread: the library's
** first load, the registry mapping and unmapping the model, the kernels'
** first use.  Nothing here tokenizes, so the counters of the model that
** survives start afterwards. */
static void churn(Worker *p){
  int i;
  for(i=0; i<N_CHURN; i++){
    sqlite3 *db = openConn(p, p->iThread, ":memory:", azModelPath[p->iThread]);
    char *z;
    if( db==0 ) return;
    z = query(db, "SELECT hamming(bquant('[1,-2,3,-4,5,6,7,8,9]'), "
                  "bquant('[-1,2,3,4,5,6,7,8,-9]')) || ' ' || "
                  "printf('%.6f', cosine('[1,2,3,4]', '[4,3,2,1]')) || ' ' || "
                  "(SELECT dims FROM embed_models WHERE name = 'mini')", 0, 0, 0);
    CHECK(p, strcmp(z, "4 0.666667 4")==0, "thread %d: kernels and "
          "embed_models in a new connection: %s", p->iThread, z);
    sqlite3_free(z);
    sqlite3_close(db);
  }
}

static void *threadMain(void *pArg){
  Worker *p = (Worker*)pArg;
  char *zDb = sqlite3_mprintf("%s/threads.db", zDir);
  pthread_barrier_wait(&barrier);      /* all open and load at once */
  churn(p);
  p->db = openConn(p, p->iThread, zDb, azModelPath[p->iThread]);
  if( p->db && p->iThread==0 ){
    exec(p, "PRAGMA journal_mode=WAL;"
            "CREATE VIRTUAL TABLE docs USING embed_index(model=mini);"
            "CREATE VIRTUAL TABLE vecs USING "
            "embed_index(model=mini, dims=8, quant=none)");
  }
  pthread_barrier_wait(&barrier);      /* the tables exist */
  if( p->db ){
    textPass(p);
    if( p->iThread<NWRITER ) writerWork(p); else readerWork(p);
    textPass(p);
  }
  sqlite3_free(zDb);
  return 0;
}

/* ------------------------------------------------------------------------
** After the join
*/

/* The rows on disk against the writers' rows.  Returns bad rows. */
static int checkRows(sqlite3 *db){
  int w, j, nBad = 0;
  sqlite3_stmt *pDoc = 0, *pVec = 0;
  char *z;
  if( sqlite3_prepare_v2(db, "SELECT content, vector = embed(content, NULL, "
                         "'mini') FROM docs_data WHERE id = ?1", -1, &pDoc, 0)
   || sqlite3_prepare_v2(db, "SELECT vector FROM vecs_data WHERE id = ?1",
                         -1, &pVec, 0) ){
    printf("FAIL rows: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  for(w=0; w<NWRITER; w++){
    for(j=0; j<N_TXN*TXN_ROWS; j++){
      sqlite3_int64 iRow = rowOf(w, j);
      char zText[256];
      float aVec[VEC_DIMS];
      int bOk;
      /* updates and deletes happen one transaction later: not in the last */
      int bLater = j < (N_TXN-1)*TXN_ROWS;
      makeText((uint64_t)iRow + (bLater && isUpdated(j)), zText, sizeof(zText));
      makeVector((uint64_t)iRow, aVec);
      sqlite3_bind_int64(pDoc, 1, iRow);
      bOk = sqlite3_step(pDoc)==SQLITE_ROW
         && strcmp((const char*)sqlite3_column_text(pDoc, 0), zText)==0
         && sqlite3_column_int(pDoc, 1)==1;
      sqlite3_reset(pDoc);
      sqlite3_bind_int64(pVec, 1, iRow);
      if( bLater && isDeleted(j) ){
        bOk = bOk && sqlite3_step(pVec)==SQLITE_DONE;
      }else{
        bOk = bOk && sqlite3_step(pVec)==SQLITE_ROW
           && sqlite3_column_bytes(pVec, 0)==(int)sizeof(aVec)
           && memcmp(sqlite3_column_blob(pVec, 0), aVec, sizeof(aVec))==0;
      }
      sqlite3_reset(pVec);
      if( !bOk && nBad++<5 ) printf("  row %lld is not as written\n", (long long)iRow);
    }
  }
  sqlite3_finalize(pDoc);
  sqlite3_finalize(pVec);
  z = query(db, "SELECT (SELECT count(*) FROM docs_data) || ' ' || "
                "(SELECT count(*) FROM vecs_data)", 0, 0, 0);
  {
    int nDel = 0;
    char zWant[64];
    for(j=0; j<(N_TXN-1)*TXN_ROWS; j++) nDel += isDeleted(j);
    snprintf(zWant, sizeof(zWant), "%d %d", NWRITER*N_TXN*TXN_ROWS,
             NWRITER*(N_TXN*TXN_ROWS - nDel));
    if( strcmp(z, zWant)!=0 ){
      printf("  rows: %s, expected %s\n", z, zWant);
      nBad++;
    }
  }
  sqlite3_free(z);
  return nBad;
}

/* Separate mappings of the file with inode iIno in /proc/self/maps
** (adjacent ranges count once), or -1 when it cannot be read. */
static int countMappings(ino_t iIno){
  FILE *f = fopen("/proc/self/maps", "r");
  char zLine[1024];
  unsigned long iEndPrev = 0;
  int n = 0;
  if( f==0 ) return -1;
  while( fgets(zLine, sizeof(zLine), f) ){
    unsigned long iStart, iEnd, iOff, iInode;
    char zPerm[8], zDev[16];
    if( sscanf(zLine, "%lx-%lx %7s %lx %15s %lu", &iStart, &iEnd, zPerm,
               &iOff, zDev, &iInode)==6 && iInode==(unsigned long)iIno ){
      if( iStart!=iEndPrev ) n++;
      iEndPrev = iEnd;
    }
  }
  fclose(f);
  return n;
}

/* The value of the series zName{model="mini"} in embed_metrics() text. */
static long long metricOf(const char *zText, const char *zName){
  char zKey[128];
  const char *z;
  snprintf(zKey, sizeof(zKey), "\n%s{model=\"mini\"} ", zName);
  z = strstr(zText, zKey);
  return z ? atoll(z + strlen(zKey)) : -1;
}

int main(int argc, char **argv){
  char *zDb, *zLinkHard, *zLinkSoft, *z;
  Worker ref;
  struct stat st;
  int i, nTokenize = 0, nFunc = 0, nGen = 0;
  long long nCalls0 = 0;
  void *pLib;
  if( argc>1 && strcmp(argv[1], "--probe")==0 ){
    printf("ok\n");
    return 0;
  }
  zExt = getenv("EMBED_EXT");
  zDir = getenv("EMBED_TEST_DIR");
  if( zExt==0 || zExt[0]==0 || zDir==0 || zDir[0]==0 ){
    printf("threads: skipped (EMBED_EXT or EMBED_TEST_DIR unset)\n");
    printf("0 passed, 0 failed, 1 skipped\n");
    return 0;
  }
  /* Without the global lock that counts memory, threads calling SQLite
  ** share no lock that ThreadSanitizer would take for an ordering of the
  ** extension's own accesses. */
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  zDb = sqlite3_mprintf("%s/threads.db", zDir);
  zLinkHard = sqlite3_mprintf("%s/threads-hard.emb", zDir);
  zLinkSoft = sqlite3_mprintf("%s/threads-soft.emb", zDir);
  azModelPath[0] = sqlite3_mprintf("%s/mini.emb", zDir);
  azModelPath[1] = sqlite3_mprintf("%s/./mini.emb", zDir);
  azModelPath[2] = zLinkHard;
  azModelPath[3] = zLinkSoft;
  for(i=0; i<3; i++){
    static const char *const azSuffix[] = { "", "-wal", "-shm" };
    char *zF = sqlite3_mprintf("%s%s", zDb, azSuffix[i]);
    remove(zF);
    sqlite3_free(zF);
  }
  remove(zLinkHard);
  remove(zLinkSoft);
  if( link(azModelPath[0], zLinkHard) || symlink("mini.emb", zLinkSoft)
   || stat(azModelPath[0], &st) ){
    printf("FAIL cannot link %s: %s\n", azModelPath[0], strerror(errno));
    printf("0 passed, 1 failed\n");
    return 1;
  }

  /* Keep the library mapped from here to the end.  Unloaded when the
  ** threads' first connections close, and loaded again at the same
  ** address, its globals would be new objects that ThreadSanitizer takes
  ** for the old ones (it sees no order through the loader's own lock). */
  z = sqlite3_mprintf("%s.so", zExt);
  pLib = dlopen(z, RTLD_NOW);
  if( pLib==0 ) pLib = dlopen(zExt, RTLD_NOW);
  sqlite3_free(z);
  if( pLib==0 ){
    printf("FAIL cannot load %s: %s\n", zExt, dlerror());
    printf("0 passed, 1 failed\n");
    return 1;
  }

  pthread_barrier_init(&barrier, 0, NTHREAD);
  for(i=0; i<NTHREAD; i++){
    aWorker[i].iThread = i;
    if( pthread_create(&aWorker[i].tid, 0, threadMain, &aWorker[i]) ){
      printf("FAIL cannot start thread %d\n", i);
      return 1;
    }
  }
  for(i=0; i<NTHREAD; i++) pthread_join(aWorker[i].tid, 0);
  pthread_barrier_destroy(&barrier);
  for(i=0; i<NTHREAD; i++){
    nPass += aWorker[i].nPass;
    nFail += aWorker[i].nFail;
    nTokenize += aWorker[i].nTokenize;
    nFunc += aWorker[i].nFunc;
  }

  /* single-threaded, in a connection of its own: the same bytes */
  memset(&ref, 0, sizeof(ref));
  ref.iThread = -1;
  ref.db = openConn(&ref, -1, zDb, azModelPath[0]);
  if( ref.db==0 ) goto finish;
  textPass(&ref);
  for(i=0; i<NTHREAD; i++){
    int j, nDiff = 0;
    for(j=0; j<N_TEXT; j++){
      const char *zGot = aWorker[i].azFirst[j];
      if( zGot==0 || strcmp(zGot, ref.azFirst[j])!=0 ){
        if( nDiff++==0 ){
          printf("  thread %d, text %d: %s\n  single-threaded: %s\n", i, j,
                 zGot ? zGot : "(none)", ref.azFirst[j]);
        }
      }
    }
    checkIn(&nPass, &nFail, nDiff==0, "thread %d: %d texts embedded "
            "differently from the single-threaded bytes", i, nDiff);
  }

  z = query(ref.db, "PRAGMA integrity_check", 0, 0, 0);
  checkIn(&nPass, &nFail, strcmp(z, "ok")==0, "integrity_check: %s", z);
  sqlite3_free(z);
  i = checkRows(ref.db);
  ref.nTokenize += NWRITER*N_TXN*TXN_ROWS;      /* its embed() of each text */
  ref.nFunc += NWRITER*N_TXN*TXN_ROWS;
  checkIn(&nPass, &nFail, i==0, "%d rows are not as the writers wrote them", i);

  /* every connection's searches against brute force, now quiet */
  for(i=0; i<NTHREAD; i++){
    int j;
    char zWho[64];
    if( aWorker[i].db==0 ) continue;
    snprintf(zWho, sizeof(zWho), "after the join, thread %d's connection", i);
    for(j=0; j<4; j++){
      searchCheck(&ref, aWorker[i].db, ref.db, 5000 + j, 0, zWho);
    }
  }

  /* one mapping of the model file, one set of counters */
  i = countMappings(st.st_ino);
  if( i<0 ){
    printf("threads: /proc/self/maps is unreadable; mapping count not checked\n");
  }else{
    checkIn(&nPass, &nFail, i==1, "the model file is mapped %d times, not once", i);
  }
  nTokenize += ref.nTokenize;
  nFunc += ref.nFunc;
  z = query(ref.db, "SELECT calls FROM embed_models WHERE name = 'mini'", 0, 0, 0);
  nCalls0 = atoll(z);
  sqlite3_free(z);
  for(i=0; i<NTHREAD; i++){
    if( aWorker[i].db==0 ) continue;
    z = query(aWorker[i].db,
              "SELECT calls FROM embed_models WHERE name = 'mini'", 0, 0, 0);
    checkIn(&nPass, &nFail, atoll(z)==nCalls0, "embed_models.calls is %s in "
            "thread %d's connection, %lld in another", z, i, nCalls0);
    sqlite3_free(z);
  }
  checkIn(&nPass, &nFail, nCalls0==nTokenize,
          "embed_models.calls is %lld, not the %d tokenizing calls made",
          nCalls0, nTokenize);
  z = query(ref.db, "SELECT embed_metrics()", 0, 0, 0);
  checkIn(&nPass, &nFail, metricOf(z, "embed_calls_total")==nFunc,
          "embed_calls_total{model=\"mini\"} is %lld, not the %d embed() and "
          "embed_tokens() calls made", metricOf(z, "embed_calls_total"), nFunc);
  sqlite3_free(z);
  nPass += ref.nPass;
  nFail += ref.nFail;

finish:
  for(i=0; i<NTHREAD; i++){
    int j;
    sqlite3_close(aWorker[i].db);
    for(j=0; j<N_TEXT; j++) sqlite3_free(aWorker[i].azFirst[j]);
  }
  for(i=0; i<N_TEXT; i++) sqlite3_free(ref.azFirst[i]);
  sqlite3_close(ref.db);
  for(i=0; i<3; i++){
    static const char *const azSuffix[] = { "", "-wal", "-shm" };
    char *zF = sqlite3_mprintf("%s%s", zDb, azSuffix[i]);
    remove(zF);
    sqlite3_free(zF);
  }
  remove(zLinkHard);
  remove(zLinkSoft);
  for(i=0; i<NTHREAD; i++) sqlite3_free(azModelPath[i]);
  sqlite3_free(zDb);
  dlclose(pLib);
  for(i=NWRITER; i<NTHREAD; i++) nGen += aWorker[i].nGen;
  printf("threads: %d threads, %d writers x %d transactions, %d readers x %d "
         "searches; the readers saw %d generations of the index\n", NTHREAD,
         NWRITER, N_TXN, NTHREAD-NWRITER, N_READ, nGen);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
