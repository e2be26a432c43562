/*
** crash.c: embed_index after its writer is killed with SIGKILL.
**
**     EMBED_EXT=build/embed EMBED_TEST_DIR=build/test build/crash [SEED]
**
** Six configurations, {one transaction of a few hundred rows, autocommit
** (one row a statement)} x {journal_mode=WAL synchronous=FULL, DELETE (the
** rollback journal) FULL, WAL NORMAL}, each ROUNDS rounds on its own
** database: a child process inserts rows until the parent kills it at the
** round's kill point, then the parent checks what is on disk.
**
** HOW IT WORKS
** The parent makes the database with two indexes: docs (model=mini,
** quant=binary; rows given as text, embedded by the index) and vecs (8
** dims, quant=none; rows given as vectors).  Each round it forks a child,
** which opens its own connection and inserts rows with increasing rowids
** (even: docs, odd: vecs), each row's text or vector a function of the seed
** and its rowid, and reports over a pipe in records of fixed size, each
** written with one write() (atomic, and kept by the pipe when the writer
** dies):
**   B a b   rows a..b are about to be written (a transaction, or one row)
**   I i     the INSERT of row i returned
**   P a b   the COMMIT of rows a..b is about to run (autocommit: the INSERT)
**   C a b   that COMMIT (autocommit: that INSERT) returned SQLITE_OK
** C is sent only after the commit returns, so what the parent reads is
** exact: the rows of a C are committed; the rows of the last B without a C
** are in flight (and were all written when its P was sent); no other row
** was ever written.  The parent sends SIGKILL at the kill point, after the
** N-th I, or U microseconds after the M-th P (inside the commit when the
** timer beats it), reads what the pipe still holds, and checks through a
** new connection:
**   - PRAGMA integrity_check is 'ok' and the journal mode is unchanged;
**   - the rows present are the committed ones, plus either none or all of
**     the transaction in flight, and then only if its P was sent:
**     committed <= present <= committed + in flight, atomically;
**   - every row holds its own text and vector, the text's vector is
**     embed() of it, and the chunks of both indexes hold exactly each row's
**     codes (test/chunkcheck.h);
**   - every vecs row, and a seeded sample of docs rows, is found by a
**     search for its own vector (k=1: that row, distance ~0, or for docs
**     the same row as a brute-force search finds);
**   - top-10 searches for seeded vectors and texts equal a brute-force
**     ORDER BY 1 - cosine(vector, q), id over the NAME_data table, both
**     from the new connection and from one opened before the kill, whose
**     caches were built from the rows before the kill.
** The next round continues on the same database.  Prints a line per round
** and "N passed, N failed"; exits 1 on any failure.
*/
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "chunkcheck.h"
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>

#define ROUNDS       6          /* kill points per configuration */
#define MAX_ROWID    60000      /* rowids a configuration may use */
#define VEC_DIMS     8          /* of the vecs index */
#define N_QUERY      6          /* top-10 vector queries per index */
#define N_SAMPLE     60         /* docs rows searched for themselves */
#define PIPE_TIMEOUT 30000      /* ms to wait for the child's next record */

static int nPass = 0, nFail = 0;
static int nInCommit = 0;       /* kills that came after a P and before its C */

/* Count a check; print zFmt... when it fails.  Returns bOk. */
static int check(int bOk, const char *zFmt, ...)
    __attribute__((format(printf, 2, 3)));
static int check(int bOk, const char *zFmt, ...){
  if( bOk ){
    nPass++;
  }else{
    va_list ap;
    nFail++;
    printf("FAIL ");
    va_start(ap, zFmt);
    vprintf(zFmt, ap);
    va_end(ap);
    printf("\n");
  }
  return bOk;
}

/* ------------------------------------------------------------------------
** Seeded data: every row's text or vector from (seed, rowid)
*/

static uint64_t mix64(uint64_t x){
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x>>30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x>>27)) * 0x94D049BB133111EBull;
  return x ^ (x>>31);
}

typedef struct Rng Rng;
struct Rng { uint64_t s; };
static uint64_t rngNext(Rng *p){ p->s = mix64(p->s); return p->s; }
static int rngInt(Rng *p, int n){ return (int)(rngNext(p) % (uint64_t)n); }
static double rngUnit(Rng *p){ return (double)(rngNext(p)>>11) / 9007199254740992.0; }

static uint64_t gSeed = 20251125;

/* Words of the mini model (test/fixtures/mini_wink.json) */
static const char *const azWord[] = {
  "the", "of", "and", "cat", "sat", "on", "mat", "dog", "do", "not", "it",
  "is", "new", "york", "are", "will", "café", "über", "e-mail", "u.s.", "ca"
};
#define N_WORD ((int)(sizeof(azWord)/sizeof(azWord[0])))

/* The text of docs row i (even) into z[0..nz). */
static void rowText(sqlite3_int64 i, char *z, size_t nz){
  Rng r = { gSeed ^ mix64((uint64_t)i) };
  int nw = 5 + rngInt(&r, 76), j;
  size_t n = 0;
  z[0] = 0;
  for(j=0; j<nw && n+16<nz; j++){
    n += (size_t)snprintf(z+n, nz-n, "%s%s", j ? " " : "",
                          azWord[rngInt(&r, N_WORD)]);
  }
}

/* The vector of vecs row i (odd): VEC_DIMS floats in [-1, 1). */
static void rowVector(sqlite3_int64 i, float *a){
  Rng r = { ~gSeed ^ mix64((uint64_t)i) };
  int j;
  for(j=0; j<VEC_DIMS; j++) a[j] = (float)(rngUnit(&r)*2.0 - 1.0);
}

/* ------------------------------------------------------------------------
** Connections
*/

typedef struct Config Config;
struct Config {
  const char *zJournal;       /* "wal" or "delete" */
  const char *zSync;          /* "full" or "normal" */
  int bTxn;                   /* 1: transactions of many rows; 0: autocommit */
};

static const Config aConfig[] = {
  { "wal",    "full",   1 },
  { "wal",    "full",   0 },
  { "delete", "full",   1 },
  { "delete", "full",   0 },
  { "wal",    "normal", 1 },
  { "wal",    "normal", 0 },
};
#define N_CONFIG ((int)(sizeof(aConfig)/sizeof(aConfig[0])))

static const char *zExt, *zModel;

/* Run zSql, which returns no rows.  Returns the SQLite result code, and
** prints the error to stderr when there is one. */
static int execSql(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  if( rc ) fprintf(stderr, "%s: %s\n", zSql, zErr ? zErr : "?");
  sqlite3_free(zErr);
  return rc;
}

/* Open zDb, load the extension and the mini model, and set the pragmas of
** pCfg.  Returns the connection, or NULL after printing why. */
static sqlite3 *openDb(const char *zDb, const Config *pCfg){
  sqlite3 *db = 0;
  char *zErr = 0, *zSql;
  int rc;
  if( sqlite3_open_v2(zDb, &db, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE, 0) ){
    fprintf(stderr, "cannot open %s: %s\n", zDb, sqlite3_errmsg(db));
    sqlite3_close(db);
    return 0;
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, zExt, 0, &zErr) ){
    fprintf(stderr, "cannot load %s: %s\n", zExt, zErr);
    sqlite3_free(zErr);
    sqlite3_close(db);
    return 0;
  }
  zSql = sqlite3_mprintf("SELECT embed_load('mini', %Q);"
                         "PRAGMA journal_mode=%s; PRAGMA synchronous=%s",
                         zModel, pCfg->zJournal, pCfg->zSync);
  rc = execSql(db, zSql);
  sqlite3_free(zSql);
  if( rc ){
    sqlite3_close(db);
    return 0;
  }
  return db;
}

/* The first column of the first row of zSql as text ("NULL" for none, or
** "error: MESSAGE") into z[0..nz), with ?1 bound to the blob a[0..n) when
** a is not NULL. */
static const char *query(sqlite3 *db, const char *zSql, const void *a, int n,
                         char *z, size_t nz){
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc==SQLITE_OK && a ) sqlite3_bind_blob(pStmt, 1, a, n, SQLITE_TRANSIENT);
  if( rc==SQLITE_OK ){
    rc = sqlite3_step(pStmt);
    if( rc==SQLITE_ROW ){
      const char *zV = (const char*)sqlite3_column_text(pStmt, 0);
      snprintf(z, nz, "%s", zV ? zV : "NULL");
      rc = SQLITE_OK;
    }else if( rc==SQLITE_DONE ){
      snprintf(z, nz, "NULL");
      rc = SQLITE_OK;
    }
  }
  if( rc ) snprintf(z, nz, "error: %s", sqlite3_errmsg(db));
  sqlite3_finalize(pStmt);
  return z;
}

/* ------------------------------------------------------------------------
** The child: insert rows, report each step
*/

typedef struct Msg Msg;
struct Msg {
  int32_t op;                 /* 'B', 'I', 'P', 'C', 'E' (error), 'D' (done) */
  int32_t pad;
  int64_t a, b;
};

static void msgSend(int fd, int op, int64_t a, int64_t b){
  Msg m;
  memset(&m, 0, sizeof(m));
  m.op = op;
  m.a = a;
  m.b = b;
  while( write(fd, &m, sizeof(m))<0 && errno==EINTR ){}
}

/* Bind row i's text or vector to pStmt, "INSERT INTO x(rowid, y) VALUES
** (?1, ?2)". */
static void bindRow(sqlite3_stmt *pStmt, sqlite3_int64 i){
  sqlite3_bind_int64(pStmt, 1, i);
  if( i%2==0 ){
    char z[1024];
    rowText(i, z, sizeof(z));
    sqlite3_bind_text(pStmt, 2, z, -1, SQLITE_TRANSIENT);
  }else{
    float a[VEC_DIMS];
    rowVector(i, a);
    sqlite3_bind_blob(pStmt, 2, a, sizeof(a), SQLITE_TRANSIENT);
  }
}

/* Insert rows iFirst, iFirst+1, ... in transactions of nBatch rows (or one
** row a statement when !pCfg->bTxn), reporting to fd, until killed.  Never
** returns. */
static void childRun(const char *zDb, const Config *pCfg, int fd,
                     sqlite3_int64 iFirst, int nBatch){
  sqlite3 *db = openDb(zDb, pCfg);
  sqlite3_stmt *apIns[2] = {0, 0};
  sqlite3_int64 i = iFirst;
  if( db==0
   || sqlite3_prepare_v2(db, "INSERT INTO docs(rowid, content) VALUES(?1, ?2)",
                         -1, &apIns[0], 0)
   || sqlite3_prepare_v2(db, "INSERT INTO vecs(rowid, vector) VALUES(?1, ?2)",
                         -1, &apIns[1], 0) ){
    if( db ) fprintf(stderr, "child: %s\n", sqlite3_errmsg(db));
    msgSend(fd, 'E', 0, 0);
    _exit(1);
  }
  while( i+nBatch<MAX_ROWID ){
    sqlite3_int64 iLast = pCfg->bTxn ? i+nBatch-1 : i;
    sqlite3_int64 j;
    msgSend(fd, 'B', i, iLast);
    if( pCfg->bTxn && execSql(db, "BEGIN IMMEDIATE") ) break;
    for(j=i; j<=iLast; j++){
      sqlite3_stmt *pStmt = apIns[j%2];
      bindRow(pStmt, j);
      if( !pCfg->bTxn ) msgSend(fd, 'P', j, j);
      if( sqlite3_step(pStmt)!=SQLITE_DONE ) break;
      if( sqlite3_reset(pStmt) ) break;
      msgSend(fd, 'I', j, j);
    }
    if( j<=iLast ){
      fprintf(stderr, "child: insert %lld: %s\n", (long long)j,
              sqlite3_errmsg(db));
      break;
    }
    if( pCfg->bTxn ){
      msgSend(fd, 'P', i, iLast);
      if( execSql(db, "COMMIT") ) break;
    }
    msgSend(fd, 'C', i, iLast);
    i = iLast+1;
  }
  msgSend(fd, i+nBatch<MAX_ROWID ? 'E' : 'D', i, 0);
  _exit(1);
}

/* ------------------------------------------------------------------------
** The parent: kill, then check
*/

/* What the parent knows of the rows of one configuration. */
typedef struct State State;
struct State {
  unsigned char *aCommitted;  /* [MAX_ROWID]: 1 where a C said so */
  sqlite3_int64 iNext;        /* the next round starts here */
  sqlite3_int64 iInA, iInB;   /* the rows in flight, iInA>iInB when none */
  int bInCommit;              /* P was sent for the rows in flight */
  int nI, nP;                 /* I and P records this round */
  int bError;                 /* the child said 'E' or 'D' */
};

static void absorb(State *s, const Msg *m){
  sqlite3_int64 j;
  switch( m->op ){
    case 'B':
      s->iInA = m->a; s->iInB = m->b; s->bInCommit = 0;
      if( m->b+1>s->iNext ) s->iNext = m->b+1;
      break;
    case 'I': s->nI++; break;
    case 'P': s->nP++; s->bInCommit = 1; break;
    case 'C':
      for(j=m->a; j<=m->b; j++) s->aCommitted[j] = 1;
      s->iInA = 1; s->iInB = 0; s->bInCommit = 0;
      break;
    default: s->bError = 1; break;
  }
}

/* Read one record, waiting at most PIPE_TIMEOUT ms.  Returns 1, 0 at end
** of file, -1 on timeout or error. */
static int readMsg(int fd, Msg *m){
  size_t n = 0;
  while( n<sizeof(*m) ){
    struct pollfd pfd = { fd, POLLIN, 0 };
    ssize_t got;
    int rc = poll(&pfd, 1, PIPE_TIMEOUT);
    if( rc<0 && errno==EINTR ) continue;
    if( rc<=0 ) return -1;
    got = read(fd, (char*)m + n, sizeof(*m) - n);
    if( got<0 && errno==EINTR ) continue;
    if( got<0 ) return -1;
    if( got==0 ) return n ? -1 : 0;
    n += (size_t)got;
  }
  return 1;
}

static void sleepUs(int nUs){
  struct timespec ts = { nUs/1000000, (long)(nUs%1000000)*1000 };
  while( nanosleep(&ts, &ts)<0 && errno==EINTR ){}
}

/* The seeded queries of a round: vectors for docs (4 dims) and vecs. */
typedef struct Queries Queries;
struct Queries {
  float aDoc[N_QUERY][4];
  float aVec[N_QUERY][VEC_DIMS];
};

static void makeQueries(Rng *r, Queries *q){
  int i, j;
  for(i=0; i<N_QUERY; i++){
    for(j=0; j<4; j++) q->aDoc[i][j] = (float)(rngUnit(r)*2.0 - 1.0);
    for(j=0; j<VEC_DIMS; j++) q->aVec[i][j] = (float)(rngUnit(r)*2.0 - 1.0);
  }
}

#define TOP_INDEX(T) \
  "SELECT group_concat(rowid || ':' || printf('%.17g', distance), ' ') " \
  "FROM (SELECT rowid, distance FROM " T " WHERE " T " MATCH ?1 AND k = 10)"
#define TOP_BRUTE(T) \
  "SELECT group_concat(id || ':' || printf('%.17g', d), ' ') FROM " \
  "(SELECT id, 1 - cosine(vector, ?1) AS d FROM " T "_data " \
  "WHERE cosine(vector, ?1) IS NOT NULL ORDER BY d, id LIMIT 10)"

/* Top-10 searches on db (a new connection, or W, opened before the kill)
** against brute force on dbRef. */
static void checkTopK(sqlite3 *db, sqlite3 *dbRef, const char *zWho,
                      const Queries *q, const char *zRound){
  static const char *const azText[] = { "the cat", "new york dog", "of and" };
  char zGot[2048], zWant[2048];
  int i;
  for(i=0; i<N_QUERY; i++){
    query(db, TOP_INDEX("docs"), q->aDoc[i], sizeof(q->aDoc[i]), zGot, sizeof(zGot));
    query(dbRef, TOP_BRUTE("docs"), q->aDoc[i], sizeof(q->aDoc[i]), zWant, sizeof(zWant));
    check(strcmp(zGot, zWant)==0, "%s: %s: docs top-10 of query %d\n"
          "  index: %s\n  brute: %s", zRound, zWho, i, zGot, zWant);
    query(db, TOP_INDEX("vecs"), q->aVec[i], sizeof(q->aVec[i]), zGot, sizeof(zGot));
    query(dbRef, TOP_BRUTE("vecs"), q->aVec[i], sizeof(q->aVec[i]), zWant, sizeof(zWant));
    check(strcmp(zGot, zWant)==0, "%s: %s: vecs top-10 of query %d\n"
          "  index: %s\n  brute: %s", zRound, zWho, i, zGot, zWant);
  }
  for(i=0; i<(int)(sizeof(azText)/sizeof(azText[0])); i++){
    char *zI = sqlite3_mprintf(
        "SELECT group_concat(rowid || ':' || printf('%%.17g', distance), ' ') "
        "FROM (SELECT rowid, distance FROM docs WHERE docs MATCH %Q AND k = 10)",
        azText[i]);
    char *zB = sqlite3_mprintf(
        "SELECT group_concat(id || ':' || printf('%%.17g', d), ' ') FROM "
        "(SELECT id, 1 - cosine(vector, embed(%Q, NULL, 'mini')) AS d "
        "FROM docs_data WHERE d IS NOT NULL ORDER BY d, id LIMIT 10)",
        azText[i]);
    query(db, zI, 0, 0, zGot, sizeof(zGot));
    query(dbRef, zB, 0, 0, zWant, sizeof(zWant));
    check(strcmp(zGot, zWant)==0, "%s: %s: docs top-10 of '%s'\n"
          "  index: %s\n  brute: %s", zRound, zWho, azText[i], zGot, zWant);
    sqlite3_free(zI);
    sqlite3_free(zB);
  }
}

/* Every row of docs_data and vecs_data: its rowid is in aPresent, its text
** or vector is its own, the text's vector is embed() of it.  Returns the
** number of bad rows (printing the first few). */
static int checkRows(sqlite3 *db, unsigned char *aPresent, const char *zRound){
  sqlite3_stmt *pStmt = 0;
  int nBad = 0, rc;
  rc = sqlite3_prepare_v2(db,
      "SELECT id, content, vector, vector = embed(content, NULL, 'mini') "
      "FROM docs_data UNION ALL "
      "SELECT id, content, vector, NULL FROM vecs_data", -1, &pStmt, 0);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 i = sqlite3_column_int64(pStmt, 0);
    const char *zText = (const char*)sqlite3_column_text(pStmt, 1);
    const void *aVec = sqlite3_column_blob(pStmt, 2);
    int nVec = sqlite3_column_bytes(pStmt, 2), bOk = i>0 && i<MAX_ROWID;
    if( bOk ) aPresent[i] = 1;
    if( bOk && i%2==0 ){
      char z[1024];
      rowText(i, z, sizeof(z));
      bOk = zText && strcmp(zText, z)==0 && sqlite3_column_int(pStmt, 3)==1
         && nVec==16;
    }else if( bOk ){
      float a[VEC_DIMS];
      rowVector(i, a);
      bOk = zText==0 && nVec==(int)sizeof(a) && memcmp(aVec, a, sizeof(a))==0;
    }
    if( !bOk && nBad++<5 ){
      printf("  %s: row %lld does not hold its own %s\n", zRound, (long long)i,
             i%2 ? "vector" : "text and embedding");
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
  else sqlite3_finalize(pStmt);
  if( rc ){
    printf("  %s: reading the rows: %s\n", zRound, sqlite3_errmsg(db));
    nBad++;
  }
  return nBad;
}

/* Every vecs row, and a sample of docs rows, found by searching for its own
** vector.  Returns the number of misses (printing the first few). */
static int checkSelfSearch(sqlite3 *db, const unsigned char *aPresent,
                           sqlite3_int64 iEnd, Rng *r, const char *zRound){
  sqlite3_stmt *pVec = 0, *pIdx[2] = {0, 0}, *pBrute = 0;
  char zGot[64], zWant[64];
  sqlite3_int64 i;
  int nBad = 0, nDoc = 0, nDocSeen = 0;
  for(i=2; i<iEnd; i+=2) nDoc += aPresent[i];
  if( sqlite3_prepare_v2(db, "SELECT vector FROM docs_data WHERE id=?1 UNION ALL "
                             "SELECT vector FROM vecs_data WHERE id=?1", -1, &pVec, 0)
   || sqlite3_prepare_v2(db, "SELECT rowid, distance FROM docs "
                             "WHERE docs MATCH ?1 AND k = 1", -1, &pIdx[0], 0)
   || sqlite3_prepare_v2(db, "SELECT rowid, distance FROM vecs "
                             "WHERE vecs MATCH ?1 AND k = 1", -1, &pIdx[1], 0)
   || sqlite3_prepare_v2(db, "SELECT id FROM docs_data WHERE cosine(vector, ?1) "
                             "IS NOT NULL ORDER BY 1 - cosine(vector, ?1), id "
                             "LIMIT 1", -1, &pBrute, 0) ){
    printf("  %s: %s\n", zRound, sqlite3_errmsg(db));
    nBad++;
    goto done;
  }
  for(i=1; i<iEnd; i++){
    int isDoc = i%2==0, bOk;
    sqlite3_int64 iGot = -1, iWant = i;
    double d = 1.0;
    if( !aPresent[i] ) continue;
    if( isDoc ){
      /* a sample of about N_SAMPLE docs rows, and the last few */
      nDocSeen++;
      if( nDocSeen<=nDoc-5 && rngInt(r, nDoc)>=N_SAMPLE ) continue;
    }
    sqlite3_bind_int64(pVec, 1, i);
    if( sqlite3_step(pVec)!=SQLITE_ROW ){
      sqlite3_reset(pVec);
      continue;
    }
    sqlite3_bind_value(pIdx[!isDoc], 1, sqlite3_column_value(pVec, 0));
    if( isDoc ){
      sqlite3_bind_value(pBrute, 1, sqlite3_column_value(pVec, 0));
      iWant = -1;
      if( sqlite3_step(pBrute)==SQLITE_ROW ) iWant = sqlite3_column_int64(pBrute, 0);
      sqlite3_reset(pBrute);
      if( iWant<0 ){
        /* a text with a vector of zero norm: found by no search */
        sqlite3_reset(pVec);
        continue;
      }
    }
    if( sqlite3_step(pIdx[!isDoc])==SQLITE_ROW ){
      iGot = sqlite3_column_int64(pIdx[!isDoc], 0);
      d = sqlite3_column_double(pIdx[!isDoc], 1);
    }
    sqlite3_reset(pIdx[!isDoc]);
    sqlite3_reset(pVec);
    bOk = iGot==iWant && fabs(d)<1e-6;
    if( !bOk && nBad++<5 ){
      snprintf(zGot, sizeof(zGot), "%lld at %g", (long long)iGot, d);
      snprintf(zWant, sizeof(zWant), "%lld", (long long)iWant);
      printf("  %s: search for row %lld's vector: got %s, expected %s\n",
             zRound, (long long)i, zGot, zWant);
    }
  }
done:
  sqlite3_finalize(pVec);
  sqlite3_finalize(pIdx[0]);
  sqlite3_finalize(pIdx[1]);
  sqlite3_finalize(pBrute);
  return nBad;
}

/* Everything after a kill: see the header comment.  W is the connection
** opened before the kill.  Updates s->aCommitted to what is present. */
static void verify(const char *zDb, const Config *pCfg, State *s, sqlite3 *w,
                   const Queries *q, Rng *r, const char *zRound){
  unsigned char *aPresent = calloc(MAX_ROWID, 1);
  sqlite3 *db = openDb(zDb, pCfg);
  char z[256];
  sqlite3_int64 i, nCommitted = 0, nPresent = 0;
  int nStray = 0, nLost = 0, nInFlight = 0, nBad;
  if( !check(db!=0 && aPresent!=0, "%s: reopen", zRound) ) goto done;

  check(strcmp(query(db, "PRAGMA integrity_check", 0, 0, z, sizeof(z)), "ok")==0,
        "%s: integrity_check: %s", zRound, z);
  check(strcmp(query(db, "PRAGMA journal_mode", 0, 0, z, sizeof(z)),
               pCfg->zJournal)==0, "%s: journal_mode is %s", zRound, z);

  nBad = checkRows(db, aPresent, zRound);
  check(nBad==0, "%s: %d rows do not hold their own data", zRound, nBad);

  /* committed <= present <= committed + (none or all of the rows in flight,
  ** and those only once their COMMIT had begun) */
  for(i=1; i<MAX_ROWID; i++){
    int bIn = i>=s->iInA && i<=s->iInB;
    nCommitted += s->aCommitted[i];
    nPresent += aPresent[i];
    if( s->aCommitted[i] && !aPresent[i] ) nLost++;
    if( !s->aCommitted[i] && aPresent[i] ){
      if( bIn ) nInFlight++; else nStray++;
    }
  }
  check(nLost==0, "%s: %d committed rows are missing", zRound, nLost);
  check(nStray==0, "%s: %d rows never in flight are present", zRound, nStray);
  check(nInFlight==0 || (s->bInCommit && nInFlight==s->iInB-s->iInA+1),
        "%s: %d of the %lld rows in flight are present (commit %s)", zRound,
        nInFlight, (long long)(s->iInB-s->iInA+1),
        s->bInCommit ? "begun" : "not begun");

  /* docs_code mirrors docs_data; the tables agree with the count */
  {
    char zWhy[300];
    int nChunkBad = chunkCheck(db, "main", "docs", zWhy, sizeof(zWhy));
    check(nChunkBad==0, "%s: docs's chunks are wrong in %d ways: %s", zRound,
          nChunkBad, zWhy);
    nChunkBad = chunkCheck(db, "main", "vecs", zWhy, sizeof(zWhy));
    check(nChunkBad==0, "%s: vecs's chunks are wrong in %d ways: %s", zRound,
          nChunkBad, zWhy);
  }
  {
    char zWant[64];
    snprintf(zWant, sizeof(zWant), "%lld", (long long)nPresent);
    check(strcmp(query(db, "SELECT (SELECT count(*) FROM docs) + "
                           "(SELECT count(*) FROM vecs)", 0, 0, z, sizeof(z)),
                 zWant)==0,
          "%s: the indexes count %s rows, the shadow tables %s", zRound, z, zWant);
  }

  nBad = checkSelfSearch(db, aPresent, s->iNext, r, zRound);
  check(nBad==0, "%s: %d rows not found by their own vector", zRound, nBad);

  checkTopK(db, db, "new connection", q, zRound);
  if( w ) checkTopK(w, db, "connection open across the kill", q, zRound);

  printf("%s: %lld rows committed, %lld present, %d of %lld in flight "
         "present%s\n", zRound, (long long)nCommitted, (long long)nPresent,
         nInFlight, (long long)(s->iInA<=s->iInB ? s->iInB-s->iInA+1 : 0),
         s->bInCommit ? " (killed after its commit began)" : "");
  for(i=1; i<s->iNext; i++) s->aCommitted[i] = aPresent[i];
done:
  sqlite3_close(db);
  free(aPresent);
}

static void removeDb(const char *zDb){
  static const char *const azSuffix[] = { "", "-wal", "-shm", "-journal" };
  int i;
  for(i=0; i<4; i++){
    char *z = sqlite3_mprintf("%s%s", zDb, azSuffix[i]);
    remove(z);
    sqlite3_free(z);
  }
}

/* One configuration: make the database, then ROUNDS kills.  Returns the
** number of rounds whose checks all passed. */
static int runConfig(const char *zDir, int iCfg){
  const Config *pCfg = &aConfig[iCfg];
  char *zDb = sqlite3_mprintf("%s/crash-%d.db", zDir, iCfg);
  State s;
  Rng r = { gSeed*31 + (uint64_t)iCfg };
  sqlite3 *db;
  int iRound, nOk = 0;
  memset(&s, 0, sizeof(s));
  s.aCommitted = calloc(MAX_ROWID, 1);
  s.iNext = 1;
  removeDb(zDb);
  db = openDb(zDb, pCfg);
  if( !check(db!=0 && s.aCommitted!=0
             && execSql(db, "CREATE VIRTUAL TABLE docs USING embed_index(model=mini);"
                            "CREATE VIRTUAL TABLE vecs USING "
                            "embed_index(model=mini, dims=8, quant=none)")==0,
             "%s/%s: create the database", pCfg->zJournal, pCfg->zSync) ){
    sqlite3_close(db);
    goto done;
  }
  sqlite3_close(db);

  for(iRound=0; iRound<ROUNDS; iRound++){
    int bByRows = iRound%2==0;
    int nBatch = pCfg->bTxn ? 100 + rngInt(&r, 300) : 1;
    int nKill, nUs = 0, fd[2], status = 0, nFail0 = nFail;
    char zRound[160];
    pid_t pid;
    sqlite3 *w;
    Queries q;
    Rng rSample;
    Msg m;
    if( bByRows ){
      nKill = 1 + (pCfg->bTxn ? rngInt(&r, iRound==0 ? nBatch : 3*nBatch)
                              : rngInt(&r, 400));
    }else{
      nKill = 1 + (pCfg->bTxn ? rngInt(&r, 3) : rngInt(&r, 300));
      nUs = pCfg->bTxn ? rngInt(&r, 1500) : rngInt(&r, 600);
    }
    makeQueries(&r, &q);
    rSample.s = rngNext(&r);
    if( bByRows ){
      snprintf(zRound, sizeof(zRound), "%s/%s %s, kill after %d rows",
               pCfg->zJournal, pCfg->zSync,
               pCfg->bTxn ? "transactions" : "autocommit", nKill);
    }else{
      snprintf(zRound, sizeof(zRound), "%s/%s %s, kill %d us into commit %d",
               pCfg->zJournal, pCfg->zSync,
               pCfg->bTxn ? "transactions" : "autocommit", nUs, nKill);
    }
    if( !check(pipe(fd)==0, "%s: pipe: %s", zRound, strerror(errno)) ) break;
    fflush(stdout);
    pid = fork();
    if( pid==0 ){
      close(fd[0]);
      childRun(zDb, pCfg, fd[1], s.iNext, nBatch);
    }
    close(fd[1]);
    if( !check(pid>0, "%s: fork: %s", zRound, strerror(errno)) ){
      close(fd[0]);
      break;
    }
    /* W: a connection whose caches are built before the kill */
    w = openDb(zDb, pCfg);
    if( w ){
      char z[64];
      query(w, "SELECT count(*) FROM docs WHERE docs MATCH 'cat' AND k = 1",
            0, 0, z, sizeof(z));
      query(w, "SELECT count(*) FROM vecs WHERE vecs MATCH "
               "'[1,0,0,0,0,0,0,0]' AND k = 1", 0, 0, z, sizeof(z));
    }
    s.nI = s.nP = 0;
    s.bError = 0;
    for(;;){
      int rc = readMsg(fd[0], &m);
      if( rc<=0 ){
        check(0, "%s: the child stopped before the kill point", zRound);
        break;
      }
      absorb(&s, &m);
      if( s.bError ){
        check(0, "%s: the child failed ('%c')", zRound, (char)m.op);
        break;
      }
      if( bByRows && m.op=='I' && s.nI>=nKill ) break;
      if( !bByRows && m.op=='P' && s.nP>=nKill ){
        sleepUs(nUs);
        break;
      }
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    check(WIFSIGNALED(status) && WTERMSIG(status)==SIGKILL,
          "%s: the child was not killed by SIGKILL (status %d)", zRound, status);
    /* what the child wrote before it died */
    while( readMsg(fd[0], &m)>0 ) absorb(&s, &m);
    close(fd[0]);
    nInCommit += s.bInCommit;
    verify(zDb, pCfg, &s, w, &q, &rSample, zRound);
    sqlite3_close(w);
    if( nFail==nFail0 ) nOk++;
  }
done:
  removeDb(zDb);
  sqlite3_free(zDb);
  free(s.aCommitted);
  return nOk;
}

int main(int argc, char **argv){
  const char *zDir = getenv("EMBED_TEST_DIR");
  char *zModelPath;
  int i, nOk = 0;
  zExt = getenv("EMBED_EXT");
  if( zExt==0 || zExt[0]==0 || zDir==0 || zDir[0]==0 ){
    printf("crash: skipped (EMBED_EXT or EMBED_TEST_DIR unset)\n");
    printf("0 passed, 0 failed, 1 skipped\n");
    return 0;
  }
  if( argc>1 ) gSeed = strtoull(argv[1], 0, 0);
  zModelPath = sqlite3_mprintf("%s/mini.emb", zDir);
  zModel = zModelPath;
  printf("crash: seed %llu, %d configurations x %d kill points\n",
         (unsigned long long)gSeed, N_CONFIG, ROUNDS);
  for(i=0; i<N_CONFIG; i++) nOk += runConfig(zDir, i);
  printf("crash: %d of %d rounds passed every check; %d kills came while a "
         "commit was under way\n", nOk, N_CONFIG*ROUNDS, nInCommit);
  sqlite3_free(zModelPath);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
