/*
** json.h: cJSON for embed-convert, with its allocations through alloc.h
** and a parse that tells running out of memory from bad JSON.
**
**     int bNoMem;
**     cJSON *p = embJsonParse(z, n, &zEnd, &bNoMem);
**     if( p==0 ) return bNoMem ? <out of memory> : <"not valid JSON">;
**
** cJSON returns NULL from a parse for both; the converter must report the
** one that happened (an out-of-memory run that says "invalid JSON" sends
** the user looking for a fault in a good file).  embJsonParse() installs,
** once, cJSON hooks that allocate with embMalloc() and count the
** allocations that fail: a failed parse that saw one ran out of memory.
** So cJSON's memory is also the converter's in every way, and the fault
** tests (test/fault_convert.c) fail it in turn with the rest.  Not
** thread-safe: embed-convert is one thread.
*/
#ifndef EMB_CONVERT_JSON_H
#define EMB_CONVERT_JSON_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* cJSON_ParseWithLengthOpts(z, n, pzEnd, 0) (pzEnd may be NULL), and
** *pbNoMem set to 1 when an allocation failed during it, else 0.  The
** tree is freed with cJSON_Delete(). */
cJSON *embJsonParse(const char *z, size_t n, const char **pzEnd,
                    int *pbNoMem);

#endif /* EMB_CONVERT_JSON_H */
