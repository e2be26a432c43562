/*
** alloc.h: heap memory for modules shared by the extension and by
** stand-alone programs (embed-convert, unit tests, fuzz targets).
**
** In the extension, embMalloc()/embFree() are sqlite3_malloc64()/sqlite3_free(),
** so SQLite's memory accounting and limits apply.  Compiled with
** -DEMB_STANDALONE they are malloc()/free(), and embMprintf()/embVmprintf()
** are vasprintf() wrappers (model.c); nothing else changes.  Compiled with
** -DEMB_STANDALONE -DEMB_FAULT_ALLOC, every one of them goes through
** functions the program itself defines (test/fault_convert.c), which can
** make any allocation fail: the seam through which the converter's
** allocations are failed in turn.
*/
#ifndef EMB_ALLOC_H
#define EMB_ALLOC_H

#include <stdarg.h>
#include <stdint.h>

#ifdef EMB_STANDALONE
# ifdef EMB_FAULT_ALLOC
void *embFaultMalloc(uint64_t n);
void *embFaultRealloc(void *p, uint64_t n);
void embFaultFree(void *p);
#  define embMalloc(n)      embFaultMalloc((uint64_t)(n))
#  define embRealloc(p, n)  embFaultRealloc((p), (uint64_t)(n))
#  define embFree(p)        embFaultFree(p)
# else
#  include <stdlib.h>
#  define embMalloc(n)      malloc((size_t)(n))
#  define embRealloc(p, n)  realloc((p), (size_t)(n))
#  define embFree(p)        free(p)
# endif
/* printf() into memory from embMalloc(), freed with embFree(); NULL when
** out of memory. */
char *embMprintf(const char *zFmt, ...) __attribute__((format(printf, 1, 2)));
char *embVmprintf(const char *zFmt, va_list ap)
    __attribute__((format(printf, 1, 0)));
#else
# include "sqlite3ext.h"
SQLITE_EXTENSION_INIT3
# define embMalloc(n)      sqlite3_malloc64((sqlite3_uint64)(n))
# define embRealloc(p, n)  sqlite3_realloc64((p), (sqlite3_uint64)(n))
# define embFree(p)        sqlite3_free(p)
# define embMprintf        sqlite3_mprintf
# define embVmprintf       sqlite3_vmprintf
#endif

#endif /* EMB_ALLOC_H */
