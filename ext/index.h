/*
** index.h: the embed_index virtual table (top-k search by cosine).
*/
#ifndef EMB_INDEX_H
#define EMB_INDEX_H

#include "sqlite3ext.h"
#include "conn.h"

/* Register the embed_index module on db; the module holds a reference to
** pConn, whose named models embed content and text queries. */
int embIndexRegister(sqlite3 *db, EmbConn *pConn);

/* The oversampling factor an index of nDims dimensions gets by default
** with quant=binary (exposed for benchmarks and tests). */
int embIndexDefaultOversample(int nDims);

#endif /* EMB_INDEX_H */
