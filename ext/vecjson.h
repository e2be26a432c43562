/*
** vecjson.h: JSON arrays of numbers to float32 (no SQLite types).
*/
#ifndef EMB_VECJSON_H
#define EMB_VECJSON_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

/*
** Parse a JSON array of numbers z[0..n) into aOut[0..nOut).  Pass aOut NULL
** to count the elements without storing them.  Returns the element count, or
** -1 on a syntax error, -2 on a number out of float32 range, -3 on an empty
** array, -4 when out of memory; *piErr is then the byte offset of the fault.
** Numbers are read in the C locale whatever the process's locale is.
*/
int64_t embJsonVectorParse(const char *z, size_t n, float *aOut, size_t nOut,
                           size_t *piErr);

/* Length of the JSON number at z[i..n), or 0 if there is none. */
size_t embJsonNumberLength(const char *z, size_t n, size_t i);

/* The C locale for LC_NUMERIC (made once), or 0 if it cannot be made. */
locale_t embCLocale(void);

#endif /* EMB_VECJSON_H */
