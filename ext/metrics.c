/*
** metrics.c: embed_metrics(): what the extension has done in this process,
** in Prometheus' text exposition format (version 0.0.4).
**
**     SELECT embed_metrics();
**     -- # HELP embed_calls_total Calls of embed() and embed_tokens().
**     -- # TYPE embed_calls_total counter
**     -- embed_calls_total{model="default"} 42
**     -- ...
**
** HOW IT WORKS
** Two fixed tables of series (one per model name, one per index), each a
** block of 64-bit counters.  A series is found or created under a mutex
** when a model is registered or an index first queried; callers keep the
** pointer.  Counting is a handful of relaxed atomic adds on that block,
** with no lock, so threads embedding at once never wait on each other
** (they may share a cache line, which costs a little under contention).
** The exposition reads the counters with atomic loads; a scrape that runs
** while others count sees each counter at some moment, as Prometheus
** expects of counters.
*/
#include "metrics.h"
#include "sqlite3ext.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

SQLITE_EXTENSION_INIT3

/* Latency bucket bounds in nanoseconds, and as Prometheus writes them. */
static const int64_t aBound[EMB_NBUCKET] = {
  1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
  1000000, 2500000, 10000000, 100000000, 1000000000 };
static const char *const azBound[EMB_NBUCKET] = {
  "1e-06", "2.5e-06", "5e-06", "1e-05", "2.5e-05", "5e-05", "0.0001",
  "0.00025", "0.0005", "0.001", "0.0025", "0.01", "0.1", "1" };

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static EmbSeries aSeries[2][EMB_MAX_SERIES];
static int nSeries[2];         /* written under the mutex, read atomically */

EmbSeries *embMetricsSeries(int eKind, const char *zLabel){
  EmbSeries *p = 0;
  int i, n;
  if( strlen(zLabel)>=sizeof(aSeries[0][0].zLabel) ) zLabel = "_other";
  pthread_mutex_lock(&mutex);
  n = nSeries[eKind];
  for(i=0; i<n; i++){
    if( strcmp(aSeries[eKind][i].zLabel, zLabel)==0 ){ p = &aSeries[eKind][i]; break; }
  }
  if( p==0 && n>=EMB_MAX_SERIES-1 && strcmp(zLabel, "_other")!=0 ){
    /* full: the last slot is the shared overflow series */
    zLabel = "_other";
    for(i=0; i<n; i++){
      if( strcmp(aSeries[eKind][i].zLabel, zLabel)==0 ){ p = &aSeries[eKind][i]; break; }
    }
  }
  if( p==0 ){
    p = &aSeries[eKind][n];
    memset(p, 0, sizeof(*p));
    memcpy(p->zLabel, zLabel, strlen(zLabel)+1);
    p->eKind = eKind;
    __atomic_store_n(&nSeries[eKind], n+1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&mutex);
  return p;
}

static void observe(EmbSeries *p, int64_t nNs){
  int i;
  for(i=0; i<EMB_NBUCKET && nNs>aBound[i]; i++){}
  if( i<EMB_NBUCKET ) __atomic_fetch_add(&p->aBucket[i], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&p->nSumNs, nNs, __ATOMIC_RELAXED);
  __atomic_fetch_add(&p->nCall, 1, __ATOMIC_RELAXED);
}

#ifndef EMB_NO_METRICS
int64_t embMetricsNow(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec*1000000000 + ts.tv_nsec;
}

void embMetricsEmbed(EmbSeries *p, int64_t nToken, int64_t nByte,
                     int64_t nNs){
  __atomic_fetch_add(&p->nToken, nToken, __ATOMIC_RELAXED);
  __atomic_fetch_add(&p->nByte, nByte, __ATOMIC_RELAXED);
  observe(p, nNs);
}

#endif

void embMetricsError(EmbSeries *p){
  __atomic_fetch_add(&p->nError, 1, __ATOMIC_RELAXED);
}

void embMetricsQuery(EmbSeries *p, int64_t nNs){
  observe(p, nNs);
}

void embMetricsChunkRead(EmbSeries *p, int64_t nChunk, int64_t nByte){
  __atomic_fetch_add(&p->nToken, nChunk, __ATOMIC_RELAXED);
  __atomic_fetch_add(&p->nByte, nByte, __ATOMIC_RELAXED);
}

void embMetricsRerank(EmbSeries *p, int64_t nRow){
  __atomic_fetch_add(&p->nRerank, nRow, __ATOMIC_RELAXED);
}

void embMetricsLoad(EmbSeries *p, int64_t nNs){
  __atomic_store_n(&p->nLoadNs, nNs, __ATOMIC_RELAXED);
}

static int64_t load64(const int64_t *p){
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/*
** Append one sample line: NAME SUFFIX {KIND="LABEL"[,le="LE"]} VALUE, the
** label value with \, " and newline escaped.  The value is an integer, or
** (isSeconds) nanoseconds written as seconds.
*/
static void appendSample(sqlite3_str *pOut, const char *zName,
                         const char *zSuffix, const EmbSeries *p,
                         const char *zLe, int64_t v, int isSeconds){
  const char *z;
  sqlite3_str_appendf(pOut, "%s%s{%s=\"", zName, zSuffix,
                      p->eKind==EMB_SERIES_MODEL ? "model" : "index");
  for(z=p->zLabel; *z; z++){
    if( *z=='\\' ) sqlite3_str_appendall(pOut, "\\\\");
    else if( *z=='"' ) sqlite3_str_appendall(pOut, "\\\"");
    else if( *z=='\n' ) sqlite3_str_appendall(pOut, "\\n");
    else sqlite3_str_appendchar(pOut, 1, *z);
  }
  if( zLe ) sqlite3_str_appendf(pOut, "\",le=\"%s", zLe);
  if( isSeconds ){
    sqlite3_str_appendf(pOut, "\"} %.9f\n", (double)v*1e-9);
  }else{
    sqlite3_str_appendf(pOut, "\"} %lld\n", (long long)v);
  }
}

/* One counter or gauge family over every series of a kind. */
static void appendFamily(sqlite3_str *pOut, int eKind, const char *zName,
                         const char *zType, const char *zHelp,
                         size_t iField, int isSeconds){
  int i, n = __atomic_load_n(&nSeries[eKind], __ATOMIC_ACQUIRE);
  sqlite3_str_appendf(pOut, "# HELP %s %s\n# TYPE %s %s\n", zName, zHelp,
                      zName, zType);
  for(i=0; i<n; i++){
    const EmbSeries *p = &aSeries[eKind][i];
    appendSample(pOut, zName, "", p, 0,
                 load64((const int64_t*)((const char*)p + iField)), isSeconds);
  }
}

/* A histogram family of latencies over every series of a kind. */
static void appendHistogram(sqlite3_str *pOut, int eKind, const char *zName,
                            const char *zHelp){
  int i, j, n = __atomic_load_n(&nSeries[eKind], __ATOMIC_ACQUIRE);
  sqlite3_str_appendf(pOut, "# HELP %s %s\n# TYPE %s histogram\n", zName,
                      zHelp, zName);
  for(i=0; i<n; i++){
    const EmbSeries *p = &aSeries[eKind][i];
    int64_t nCum = 0, nCount = load64(&p->nCall);
    for(j=0; j<EMB_NBUCKET; j++){
      nCum += load64(&p->aBucket[j]);
      if( nCum>nCount ) nCum = nCount;   /* read while others count */
      appendSample(pOut, zName, "_bucket", p, azBound[j], nCum, 0);
    }
    appendSample(pOut, zName, "_bucket", p, "+Inf", nCount, 0);
    appendSample(pOut, zName, "_sum", p, 0, load64(&p->nSumNs), 1);
    appendSample(pOut, zName, "_count", p, 0, nCount, 0);
  }
}

char *embMetricsText(void){
  sqlite3_str *pOut = sqlite3_str_new(0);
  int rc;
  appendFamily(pOut, EMB_SERIES_MODEL, "embed_calls_total", "counter",
               "Calls of embed() and embed_tokens() by model.",
               offsetof(EmbSeries, nCall), 0);
  appendFamily(pOut, EMB_SERIES_MODEL, "embed_tokens_total", "counter",
               "Tokens embedded by model.", offsetof(EmbSeries, nToken), 0);
  appendFamily(pOut, EMB_SERIES_MODEL, "embed_bytes_total", "counter",
               "Bytes of text embedded by model.",
               offsetof(EmbSeries, nByte), 0);
  appendFamily(pOut, EMB_SERIES_MODEL, "embed_errors_total", "counter",
               "Calls of embed() and embed_tokens() that failed, by model.",
               offsetof(EmbSeries, nError), 0);
  appendHistogram(pOut, EMB_SERIES_MODEL, "embed_latency_seconds",
                  "Time per call of embed() and embed_tokens(), by model.");
  appendFamily(pOut, EMB_SERIES_MODEL, "embed_model_load_seconds", "gauge",
               "Time the model's file took to open and check, by model.",
               offsetof(EmbSeries, nLoadNs), 1);
  appendFamily(pOut, EMB_SERIES_INDEX, "embed_index_queries_total", "counter",
               "Top-k queries of embed_index tables, by index.",
               offsetof(EmbSeries, nCall), 0);
  appendHistogram(pOut, EMB_SERIES_INDEX, "embed_index_query_seconds",
                  "Time per top-k query of an embed_index table, by index.");
  appendFamily(pOut, EMB_SERIES_INDEX, "embed_index_chunk_reads_total",
               "counter", "Chunks of codes an embed_index read from its "
               "shadow tables (first use, other connections' commits), by "
               "index.", offsetof(EmbSeries, nToken), 0);
  appendFamily(pOut, EMB_SERIES_INDEX, "embed_index_read_bytes_total",
               "counter", "Bytes of codes an embed_index read from its "
               "shadow tables, by index.", offsetof(EmbSeries, nByte), 0);
  appendFamily(pOut, EMB_SERIES_INDEX, "embed_index_rerank_rows_total",
               "counter", "Stored float vectors embed_index queries read to "
               "re-rank their candidates exactly, by index.",
               offsetof(EmbSeries, nRerank), 0);
  rc = sqlite3_str_errcode(pOut);
  if( rc ){
    sqlite3_free(sqlite3_str_finish(pOut));
    return 0;
  }
  return sqlite3_str_finish(pOut);
}
