/*
** soak.c: a million embed() calls must keep the process's memory flat.
**
**     build/soak build/embed.so build/test/mini.emb [CALLS]
**
** HOW IT WORKS
** One connection, one prepared statement, bound and stepped CALLS times
** (default 1,000,000) with texts that vary; the resident set size
** (VmRSS from /proc/self/status) is read after the first 10% of the calls,
** once caches and allocators have settled, and at the end.  It passes when
** it grew by less than 1 MB.  Not run under ASan, whose quarantine holds
** freed memory on purpose; under valgrind (whose freed-block queue does the
** same) SOAK_NO_RSS=1 skips the RSS check and memcheck looks for leaks.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rssKb(void){
  FILE *in = fopen("/proc/self/status", "r");
  char zLine[256];
  long kb = -1;
  if( in==0 ) return -1;
  while( fgets(zLine, sizeof(zLine), in) ){
    if( strncmp(zLine, "VmRSS:", 6)==0 ) kb = atol(zLine+6);
  }
  fclose(in);
  return kb;
}

int main(int argc, char **argv){
  static const char *azWord[] = { "the", "cat", "sat", "on", "mat", "dog",
                                  "zebra", "don't", "u.s.", "café" };
  sqlite3 *db;
  sqlite3_stmt *pStmt;
  char *zErr = 0, *zSql;
  long nCall = argc>3 ? atol(argv[3]) : 1000000, i, rss0 = 0, rss1;
  double sum = 0;
  if( argc<3 ){
    fprintf(stderr, "usage: %s EXT.so MODEL.emb [CALLS]\n", argv[0]);
    return 2;
  }
  if( sqlite3_open(":memory:", &db) ) return 2;
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, argv[1], 0, &zErr) ){
    fprintf(stderr, "%s\n", zErr);
    return 2;
  }
  zSql = sqlite3_mprintf("SELECT embed_load('default', %Q)", argv[2]);
  if( sqlite3_exec(db, zSql, 0, 0, &zErr) ){
    fprintf(stderr, "%s\n", zErr);
    return 2;
  }
  sqlite3_free(zSql);
  if( sqlite3_prepare_v2(db, "SELECT length(embed(?1)) + length(embed_tokens(?1))",
                         -1, &pStmt, 0) ){
    return 2;
  }
  for(i=0; i<nCall; i++){
    char zText[128];
    snprintf(zText, sizeof(zText), "%s %s %s %ld", azWord[i%10],
             azWord[(i/10)%10], azWord[(i/100)%10], i);
    sqlite3_bind_text(pStmt, 1, zText, -1, SQLITE_TRANSIENT);
    if( sqlite3_step(pStmt)!=SQLITE_ROW ){
      fprintf(stderr, "%s\n", sqlite3_errmsg(db));
      return 2;
    }
    sum += sqlite3_column_double(pStmt, 0);
    sqlite3_reset(pStmt);
    if( i==nCall/10 ) rss0 = rssKb();
  }
  rss1 = rssKb();
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  printf("soak: %ld calls of embed() and embed_tokens(); RSS %ld kB after "
         "10%%, %ld kB at the end (checksum %.0f)\n", nCall, rss0, rss1, sum);
  if( getenv("SOAK_NO_RSS") || rss1 - rss0 < 1024 ){
    printf("1 passed, 0 failed\n");
    return 0;
  }
  printf("FAIL: RSS grew by %ld kB\n0 passed, 1 failed\n", rss1 - rss0);
  return 1;
}
