/*
** faultlib.h: what the fault-injection tests share (test/fault.c, the
** allocation faults; test/iofault.c, the I/O faults): running SQL and
** rendering its rows, the state of every embed_index in a database, the
** check of each index against a brute-force search, files and counting.
**
**     FlBuf out = {0};
**     rc = flExec(db, "SELECT rowid, vector FROM ix", &out, &zErr);
**     nBad = flIndexCheck(db, "ix", &why);      // MATCH == brute force?
**
** HOW IT WORKS
** Everything here works through SQL, not through the shadow tables'
** layout, so that it holds for any storage format of embed_index: the
** indexes of a database are found in sqlite_schema by their USING clause,
** their rows read with SELECT rowid, vector, content FROM NAME, and each is
** checked by comparing a MATCH with k = every row against ORDER BY
** 1 - cosine(vector, q), rowid over the same rows.  With k at least the
** row count every row is a candidate, so the index's answer must be exact
** whatever its quantization.
**
** The harnesses' own memory (FlBuf, messages) comes from malloc(), not
** from SQLite, so that an allocation fault injected into SQLite never
** lands in the test's bookkeeping.
*/
#ifndef FAULTLIB_H
#define FAULTLIB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* A growing text buffer from malloc().  Zero-initialise; flBufFree(). */
typedef struct FlBuf FlBuf;
struct FlBuf {
  char *z;
  size_t n, nAlloc;
};
void flBufAppend(FlBuf *p, const char *z, size_t n);
void flBufPrintf(FlBuf *p, const char *zFmt, ...)
    __attribute__((format(printf, 2, 3)));
void flBufReset(FlBuf *p);
void flBufFree(FlBuf *p);
const char *flBufText(const FlBuf *p);     /* "" when empty */

/* Checks: counted, and printed when they fail (at most FL_MAX_PRINT
** failures per flSection(); the rest are only counted). */
#define FL_MAX_PRINT 12
extern int flPass, flFail;
int flCheck(int bOk, const char *zFmt, ...)
    __attribute__((format(printf, 2, 3)));
void flSection(void);

/*
** Run every statement of zSql on db, appending each row to pOut (when not
** NULL) as its columns rendered "a|b|c\n": NULL, integers, reals as %.17g,
** text as it is, blobs as x'hex'.  Rendering allocates nothing through
** SQLite (no type conversions), so a fault injected into SQLite fails the
** SQL, never the rendering.  Returns the first error's extended result
** code (and, when pzErr is not NULL, its message from malloc() in *pzErr),
** or SQLITE_OK.
*/
int flExec(sqlite3 *db, const char *zSql, FlBuf *pOut, char **pzErr);

/* zSql with every "$NAME" of the table set by flSetVar() replaced by its
** value (quoted as an SQL string literal).  From malloc(). */
void flSetVar(const char *zName, const char *zValue);
char *flSubst(const char *zSql);

/* The names of the embed_index tables of schema main, sorted, into
** *pazName (malloc'd array of malloc'd strings; flFreeNames()).  Returns
** their count, or -1 on error. */
int flIndexes(sqlite3 *db, char ***pazName);
void flFreeNames(char **azName, int n);

/* Append the rows of every embed_index of db (rowid, vector, content, in
** rowid order) to pOut.  Returns an SQLite result code. */
int flState(sqlite3 *db, FlBuf *pOut);

/*
** Check index zIdx of db against a brute force over its own rows: for
** three query vectors (its first and last rows' own vectors and a fixed
** one), a MATCH with k = every row must give the same rowids in the same
** order, with the same distances (to 1e-9), as ORDER BY 1 - cosine(vector,
** q), rowid over SELECT rowid, vector FROM zIdx: a row missing, extra,
** stale or misplaced in the index shows in all three.  Returns the number
** of mismatches, each described in pWhy.
*/
int flIndexCheck(sqlite3 *db, const char *zIdx, FlBuf *pWhy);

/* When set, flIndexCheck() counts only different answers as mismatches: a
** scan or query that fails with an error is not one (for a connection
** whose page cache holds what a faulty read gave it). */
extern int flErrorsOk;

/* Run one search on every embed_index of db (for its first row's vector),
** so that each builds its in-memory state before a fault is injected.
** Returns an SQLite result code. */
int flWarm(sqlite3 *db);

/* flIndexCheck() of every embed_index of db.  Returns the mismatches. */
int flIndexCheckAll(sqlite3 *db, FlBuf *pWhy);

/* Copy a file (0 on success); remove a database and its -journal, -wal and
** -shm files. */
int flCopyFile(const char *zFrom, const char *zTo);
uint64_t flFileHash(const char *zPath);     /* FNV-1a of its bytes; 0: none */
void flRemoveDb(const char *zPath);

#endif /* FAULTLIB_H */
