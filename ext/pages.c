/*
** pages.c: chunk images in huge pages (see pages.h).
*/
#include "pages.h"
#include "sqlite3ext.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

SQLITE_EXTENSION_INIT3

#define PAGES_SMALL   (64u<<10)     /* below: sqlite3_malloc64() */
#define PAGES_REGION  (8u<<20)
#define PAGES_ALIGN   (2u<<20)      /* a huge page */
#define PAGES_HEADER  16

typedef struct PagesRegion PagesRegion;
struct PagesRegion {
  uint8_t *aMap;             /* the whole mapping */
  size_t nMap;
  uint8_t *a;                /* 2 MB-aligned start, nByte usable */
  size_t nByte, nUsed;
  long nLive;
};

/* The header before each piece: its region, or NULL for a small piece
** from sqlite3_malloc64() (the header is then part of that block). */
typedef struct PagesHeader PagesHeader;
struct PagesHeader {
  PagesRegion *pRegion;
  uint64_t pad;
};

static pthread_mutex_t pagesMutex = PTHREAD_MUTEX_INITIALIZER;
static PagesRegion *apCurrent[2] = { 0, 0 };   /* by kind (pages.h) */

/* A new region of at least nByte usable bytes, or NULL. */
static PagesRegion *regionNew(size_t nByte){
  PagesRegion *r = sqlite3_malloc64(sizeof(*r));
  size_t nMap;
  uint8_t *aMap;
  if( r==0 ) return 0;
  nByte = (nByte + PAGES_ALIGN - 1) & ~(size_t)(PAGES_ALIGN - 1);
  nMap = nByte + PAGES_ALIGN;
  aMap = mmap(0, nMap, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  if( aMap==MAP_FAILED ){
    sqlite3_free(r);
    return 0;
  }
  memset(r, 0, sizeof(*r));
  r->aMap = aMap;
  r->nMap = nMap;
  r->a = (uint8_t*)(((uintptr_t)aMap + PAGES_ALIGN - 1)
                    & ~(uintptr_t)(PAGES_ALIGN - 1));
  r->nByte = nByte;
#ifdef MADV_HUGEPAGE
  madvise(r->a, nByte, MADV_HUGEPAGE);    /* advice: failure is fine */
#endif
  return r;
}

static void regionFree(PagesRegion *r){
  munmap(r->aMap, r->nMap);
  sqlite3_free(r);
}

void *embPagesAlloc(size_t nByte, int eKind){
  size_t nNeed = (nByte + PAGES_HEADER + 63) & ~(size_t)63;
  PagesHeader *h;
  PagesRegion *r;
  if( nByte < PAGES_SMALL ){
    h = sqlite3_malloc64(nByte + PAGES_HEADER);
    if( h==0 ) return 0;
    h->pRegion = 0;
    return (uint8_t*)h + PAGES_HEADER;
  }
  pthread_mutex_lock(&pagesMutex);
  if( nNeed > PAGES_REGION/2 ){
    r = regionNew(nNeed);
  }else{
    PagesRegion **ppCur = &apCurrent[eKind];
    if( *ppCur==0 || (*ppCur)->nUsed + nNeed > (*ppCur)->nByte ){
      PagesRegion *pOld = *ppCur;
      *ppCur = regionNew(PAGES_REGION);
      if( pOld && pOld->nLive==0 ) regionFree(pOld);
    }
    r = *ppCur;
  }
  if( r==0 ){
    pthread_mutex_unlock(&pagesMutex);
    return 0;
  }
  h = (PagesHeader*)(void*)(r->a + r->nUsed);
  r->nUsed += nNeed;
  r->nLive++;
  h->pRegion = r;
  pthread_mutex_unlock(&pagesMutex);
  return (uint8_t*)h + PAGES_HEADER;
}

void embPagesFree(void *p){
  PagesHeader *h;
  PagesRegion *r;
  if( p==0 ) return;
  h = (PagesHeader*)(void*)((uint8_t*)p - PAGES_HEADER);
  r = h->pRegion;
  if( r==0 ){
    sqlite3_free(h);
    return;
  }
  pthread_mutex_lock(&pagesMutex);
  if( --r->nLive==0 && r!=apCurrent[0] && r!=apCurrent[1] ) regionFree(r);
  pthread_mutex_unlock(&pagesMutex);
}
