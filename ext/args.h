/*
** args.h: one policy for the numbers SQL passes to our functions.
**
**     sqlite3_int64 k;
**     char *zErr = 0;
**     switch( embArgInt(argv[1], 1, 10000, &k) ){
**       case EMB_ARG_NULL: ...use the default, or refuse...;
**       case EMB_ARG_BAD:
**         zErr = embArgIntError("embed_kmeans(): k", 1, 10000, argv[1]);
**         ...
**     }
**
** THE POLICY (README "Numeric arguments")
** An integer argument -- embed()'s dims, embed_index's k and rowid
** constraints, embed_split()'s target_size, embed_kmeans()'s k, iterations
** and seed -- is read as SQLite reads a value stored in an INTEGER column:
** numeric affinity first, so the INTEGER 5, the REAL 5.0 and the TEXT '5',
** ' 5 ' or '5e0' are all 5; then it must be a whole number within the
** argument's range.  Anything else -- 2.5, 'five', '0x10', a BLOB -- is an
** error that quotes the value.  NULL is the argument's default where it
** has one and an error where it has none.  A real argument (a threshold,
** a distance bound) takes the same affinity and any finite number.
**
** Values in messages: numbers bare (2.5, 7), text in single quotes with
** quotes doubled ('five'), NULL bare, a BLOB as "a blob of N bytes".
** Quoted text is always valid UTF-8 (each invalid subpart becomes U+FFFD)
** and cut, at a character boundary, to about 60 bytes: a client that
** decodes messages as UTF-8 (Python's sqlite3) must get the message, not a
** decoding error.
*/
#ifndef EMB_ARGS_H
#define EMB_ARGS_H

#include "sqlite3ext.h"

#define EMB_ARG_OK    0
#define EMB_ARG_NULL  1   /* the value is NULL: *piOut is untouched */
#define EMB_ARG_BAD   2   /* not a whole number within [iMin, iMax] */
#define EMB_ARG_NOMEM 3   /* out of memory (reading TEXT copies it) */

/* Read pVal as an integer in [iMin, iMax] into *piOut.  pVal is left as it
** is (affinity is applied to a copy of TEXT), so a message can quote it. */
int embArgInt(sqlite3_value *pVal, sqlite3_int64 iMin, sqlite3_int64 iMax,
              sqlite3_int64 *piOut);

/* Read pVal as a finite number into *prOut (same returns as embArgInt). */
int embArgReal(sqlite3_value *pVal, double *prOut);

/* pVal as a message shows it (see above): sqlite3_mprintf'd, the caller
** frees it; NULL when out of memory. */
char *embArgDescribe(sqlite3_value *pVal);

/* The text z[0..n) (n < 0: up to its NUL) quoted for a message as above:
** sqlite3_mprintf'd, the caller frees it; NULL when out of memory. */
char *embArgQuote(const char *z, int n);

/* zMsg (sqlite3_mprintf'd, taken over) made valid UTF-8 for messages that
** carry text quoted some other way (a file path): zMsg itself when it is
** valid, else a repaired copy; NULL when zMsg is NULL or out of memory. */
char *embArgFixMessage(char *zMsg);

/* "ZWHAT must be an integer from IMIN to IMAX, not VALUE", sqlite3_mprintf'd
** (NULL when out of memory).  zWhat names the argument with its function,
** as in "embed(): dims". */
char *embArgIntError(const char *zWhat, sqlite3_int64 iMin,
                     sqlite3_int64 iMax, sqlite3_value *pVal);

#endif /* EMB_ARGS_H */
