/*
** func_embed.h: the SQL functions that use a model, registered by embed.c
** with the connection's EmbConn as user data.
*/
#ifndef EMB_FUNC_EMBED_H
#define EMB_FUNC_EMBED_H

#include "sqlite3ext.h"

void embEmbedFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void embTokensFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void embLoadFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void embMetricsFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#endif /* EMB_FUNC_EMBED_H */
