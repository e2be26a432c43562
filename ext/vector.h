/*
** vector.h: float32 vectors in and out of SQL values.
**
** A vector arrives as a BLOB of float32 little-endian values (sqlite-vec's
** layout) or as JSON text '[0.5, -1, 2e3]'; it leaves as a BLOB or, from
** embed_json(), as JSON text.
*/
#ifndef EMB_VECTOR_H
#define EMB_VECTOR_H

#include "sqlite3ext.h"
#include "vecjson.h"
#include <stddef.h>
#include <stdint.h>

typedef struct EmbVec EmbVec;
struct EmbVec {
  const uint8_t *a;   /* n float32 values, little-endian, any alignment */
  int n;              /* number of elements, >= 1 */
  float *aOwn;        /* sqlite3_malloc'd storage when parsed from JSON */
};

/* Flags for embVecFromValue() */
#define EMB_VEC_FINITE 0x01   /* reject NaN and infinity (BLOBs are scanned) */

/*
** Read a vector from the SQL value pVal, which must not be NULL.  zFunc is
** the SQL name used in messages ("cosine") and zWhich names the argument
** ("first ", "second " or ""), so messages read "cosine(): first vector ...".
** On success returns SQLITE_OK and fills *p (release with embVecClear();
** after an error there is nothing to release;
** p->a may point into pVal's BLOB, valid until pVal changes).  On failure
** returns SQLITE_ERROR with *pzErr set to a message from sqlite3_mprintf()
** (the caller frees it), or SQLITE_NOMEM with *pzErr NULL.
*/
int embVecFromValue(sqlite3_value *pVal, const char *zFunc, const char *zWhich,
                    int flags, EmbVec *p, char **pzErr);
void embVecClear(EmbVec *p);

/* A message for the first non-finite element of p, or NULL when all are
** finite.  The message is from sqlite3_mprintf(); the caller frees it.  If
** the allocation fails the message is NULL as well, so callers that need to
** tell the two apart check p with embFindNonFinite() first. */
char *embVecNonFiniteError(const EmbVec *p, const char *zFunc,
                           const char *zWhich);

/* Append the float32 vector a[0..n) to pStr as JSON, each element in the
** shortest form that reads back to the same float. */
void embJsonVectorAppend(sqlite3_str *pStr, const uint8_t *a, int n);

#endif /* EMB_VECTOR_H */
