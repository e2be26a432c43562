/*
** metrics.h: process-wide counters for embed_metrics(), in Prometheus'
** text exposition format.
**
**     EmbSeries *p = embMetricsSeries(EMB_SERIES_MODEL, "default");
**     embMetricsEmbed(p, nToken, nByte, nanoseconds);     // hot path
**     char *z = embMetricsText();                        // the exposition
**
** Series are created under a mutex when a model is loaded or an index
** opened, never freed (there are at most EMB_MAX_SERIES of each kind; more
** names share an "_other" series), so a pointer to one stays valid for the
** life of the process.  Updates are relaxed atomic adds: no lock on the
** hot path.
*/
#ifndef EMB_METRICS_H
#define EMB_METRICS_H

#include <stdint.h>

#define EMB_SERIES_MODEL 0       /* label model="NAME" */
#define EMB_SERIES_INDEX 1       /* label index="SCHEMA.TABLE" */

#define EMB_MAX_SERIES   256
#define EMB_NBUCKET      14      /* latency buckets, +Inf not counted */

typedef struct EmbSeries EmbSeries;
struct EmbSeries {
  char zLabel[128];              /* the label value, NUL-terminated */
  int eKind;                     /* EMB_SERIES_* */
  int64_t nCall;                 /* embed()/embed_tokens() calls, queries */
  int64_t nToken;                /* tokens; for an index: chunks read */
  int64_t nByte;                 /* text bytes; for an index: bytes read
                                 ** from its shadow tables' chunks */
  int64_t nError;
  int64_t nRerank;               /* for an index: float vectors read for
                                 ** exact distances */
  int64_t nLoadNs;               /* model load time (gauge), nanoseconds */
  int64_t nSumNs;                /* the histogram's sum, nanoseconds */
  int64_t aBucket[EMB_NBUCKET];  /* calls with latency <= each bound */
};

/* Built with -DEMB_NO_METRICS, counting compiles to nothing: only for the
** benchmark that measures what counting costs embed(). */
#ifdef EMB_NO_METRICS
# define embMetricsNow()              ((int64_t)0)
# define embMetricsEmbed(p, t, b, ns) ((void)(p), (void)(t), (void)(b), (void)(ns))
#endif

/* The series of kind eKind for zLabel, created on first use.  Never NULL:
** when the table is full, or zLabel is too long, a shared "_other" series. */
EmbSeries *embMetricsSeries(int eKind, const char *zLabel);

#ifndef EMB_NO_METRICS
/* A nanosecond clock for latencies. */
int64_t embMetricsNow(void);

/* Count one call: its tokens, input bytes and latency. */
void embMetricsEmbed(EmbSeries *p, int64_t nToken, int64_t nByte,
                     int64_t nNs);
#endif

/* Count one failed call. */
void embMetricsError(EmbSeries *p);

/* Count one index query and its latency. */
void embMetricsQuery(EmbSeries *p, int64_t nNs);

/* Count chunks an index read from its shadow tables, and their bytes. */
void embMetricsChunkRead(EmbSeries *p, int64_t nChunk, int64_t nByte);

/* Count the float vectors an index query read to re-rank its candidates. */
void embMetricsRerank(EmbSeries *p, int64_t nRow);

/* Record a model's load time. */
void embMetricsLoad(EmbSeries *p, int64_t nNs);

/* The whole exposition, from sqlite3_malloc (the caller frees it), or
** NULL when out of memory. */
char *embMetricsText(void);

#endif /* EMB_METRICS_H */
