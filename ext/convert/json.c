/*
** json.c: cJSON through the converter's allocator (json.h has the
** manual).
*/
#include "alloc.h"
#include "convert/json.h"

static int bHooked = 0;        /* hooks installed */
static long nNoMem = 0;        /* allocations cJSON asked for and did not get */

static void *jsonMalloc(size_t n){
  void *p = embMalloc(n);
  if( p==0 ) nNoMem++;
  return p;
}

static void jsonFree(void *p){
  embFree(p);
}

cJSON *embJsonParse(const char *z, size_t n, const char **pzEnd,
                    int *pbNoMem){
  long nBefore;
  cJSON *p;
  if( !bHooked ){
    cJSON_Hooks hooks;
    hooks.malloc_fn = jsonMalloc;
    hooks.free_fn = jsonFree;
    cJSON_InitHooks(&hooks);
    bHooked = 1;
  }
  nBefore = nNoMem;
  p = cJSON_ParseWithLengthOpts(z, n, pzEnd, 0);
  *pbNoMem = p==0 && nNoMem!=nBefore;
  return p;
}
