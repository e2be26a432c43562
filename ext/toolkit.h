/*
** toolkit.h: embed_dedup and embed_kmeans, table-valued functions over the
** rows of an embed_index.
*/
#ifndef EMB_TOOLKIT_H
#define EMB_TOOLKIT_H

#include "sqlite3ext.h"

int embToolkitRegister(sqlite3 *db);

#endif /* EMB_TOOLKIT_H */
