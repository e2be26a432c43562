/*
** alloc.h: heap memory for modules shared by the extension and by
** stand-alone programs (embed-convert, unit tests, fuzz targets).
**
** In the extension, embMalloc()/embFree() are sqlite3_malloc64()/sqlite3_free(),
** so SQLite's memory accounting and limits apply.  Compiled with
** -DEMB_STANDALONE they are malloc()/free(), and embMprintf() is a
** vasprintf() wrapper; nothing else changes.
*/
#ifndef EMB_ALLOC_H
#define EMB_ALLOC_H

#include <stdint.h>

#ifdef EMB_STANDALONE
# include <stdlib.h>
# define embMalloc(n)      malloc((size_t)(n))
# define embRealloc(p, n)  realloc((p), (size_t)(n))
# define embFree(p)        free(p)
char *embMprintf(const char *zFmt, ...) __attribute__((format(printf, 1, 2)));
#else
# include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3
# define embMalloc(n)      sqlite3_malloc64((sqlite3_uint64)(n))
# define embRealloc(p, n)  sqlite3_realloc64((p), (sqlite3_uint64)(n))
# define embFree(p)        sqlite3_free(p)
# define embMprintf        sqlite3_mprintf
#endif

#endif /* EMB_ALLOC_H */
