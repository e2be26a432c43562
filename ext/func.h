/*
** func.h: the scalar SQL functions, registered by embed.c.
*/
#ifndef EMB_FUNC_H
#define EMB_FUNC_H

#include "sqlite3ext.h"

void embBquantFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void embHammingFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void embCosineFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void embJsonFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv);

#endif /* EMB_FUNC_H */
