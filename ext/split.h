/*
** split.h: the embed_split table-valued function.
*/
#ifndef EMB_SPLIT_H
#define EMB_SPLIT_H

#include "sqlite3ext.h"
#include "conn.h"

/* Register embed_split on db; the module holds a reference to pConn. */
int embSplitRegister(sqlite3 *db, EmbConn *pConn);

#endif /* EMB_SPLIT_H */
