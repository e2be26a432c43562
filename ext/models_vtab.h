/*
** models_vtab.h: the embed_models eponymous virtual table.
*/
#ifndef EMB_MODELS_VTAB_H
#define EMB_MODELS_VTAB_H

#include "sqlite3ext.h"
#include "conn.h"

/* Register embed_models on db; the module holds a reference to pConn. */
int embModelsVtabRegister(sqlite3 *db, EmbConn *pConn);

#endif /* EMB_MODELS_VTAB_H */
