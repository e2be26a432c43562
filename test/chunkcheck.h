/*
** chunkcheck.h: decode an embed_index's chunk tables (shadow-table
** format 2, ext/index_store.c) and check them against its rows, for the C
** tests (unit_index.c, crash.c).  Header only: static functions.
**
**     char zWhy[300];
**     int nBad = chunkCheck(db, "main", "docs", zWhy, sizeof(zWhy));
**     if( nBad ) ...zWhy says what was wrong first...
**
** What it checks, written from the format's description rather than from
** the extension's code: every NAME_chunks row's counts are in range and its
** NAME_codes (and NAME_fine) image has the size its capacity gives; the
** validity bitmap has `live` bits set, none at or past `used`; the valid
** slots' rowids (base + slot in a dense chunk, whose `base` is not NULL
** and whose image has no rowids) are exactly NAME_data's ids, once each; each valid slot's
** code is bquant() of its row's vector (quant=binary; its 4-bit code the
** direction rounded as the format says) or the vector itself (quant=none).
*/
#ifndef CHUNKCHECK_H
#define CHUNKCHECK_H

#include <sqlite3.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 4-bit code of the format: u = v/|v|, step = max|u_i|/7, each u_i
** rounded to a multiple of step in -7..7, two's complement nibbles, even
** dims in the low nibble. */
static void chunkFineRef(const float *v, int n, float *pScale, uint8_t *aOut){
  double s = 0, mx = 0, step;
  int i;
  memset(aOut, 0, (size_t)(n+1)/2);
  for(i=0; i<n; i++) s += (double)v[i]*v[i];
  if( !(s>0) ){ *pScale = 0; return; }
  s = sqrt(s);
  for(i=0; i<n; i++) if( fabs(v[i]/s)>mx ) mx = fabs(v[i]/s);
  step = mx/7.0;
  *pScale = (float)step;
  if( !(step>0) ) return;
  for(i=0; i<n; i++){
    long q = lrint(v[i]/s/step);
    if( q<-7 ) q = -7;
    if( q>7 ) q = 7;
    aOut[i/2] |= (uint8_t)((q & 0xf) << ((i&1)*4));
  }
}

static int chunkCmpI64(const void *a, const void *b){
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x<y ? -1 : x>y;
}

/* Check index zDb.zName; returns the number of problems found (0: all
** good) and the first one's description in zWhy. */
static int chunkCheck(sqlite3 *db, const char *zDb, const char *zName,
                      char *zWhy, size_t nWhy){
  sqlite3_stmt *pStmt = 0, *pBlob = 0, *pVec = 0;
  char *zSql;
  int nDims = 0, bBinary = 1, nBad = 0;
  size_t nStride, nFine;
  int64_t *aSeen = 0, nSeen = 0, nSeenAlloc = 0, nData = 0;
  zWhy[0] = 0;
#define CHUNK_BAD(...) do{ if( nBad++==0 ) snprintf(zWhy, nWhy, __VA_ARGS__); }while(0)
  zSql = sqlite3_mprintf("SELECT (SELECT value FROM \"%w\".\"%w_config\" "
                         "WHERE key='dims'), (SELECT value FROM \"%w\".\"%w_config\" "
                         "WHERE key='quant'), (SELECT value FROM \"%w\".\"%w_config\" "
                         "WHERE key='format')", zDb, zName, zDb, zName, zDb, zName);
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)!=SQLITE_OK
   || sqlite3_step(pStmt)!=SQLITE_ROW ){
    CHUNK_BAD("cannot read %s_config: %s", zName, sqlite3_errmsg(db));
    sqlite3_finalize(pStmt);
    sqlite3_free(zSql);
    return nBad;
  }
  sqlite3_free(zSql);
  nDims = sqlite3_column_int(pStmt, 0);
  bBinary = strcmp((const char*)sqlite3_column_text(pStmt, 1), "binary")==0;
  if( sqlite3_column_int(pStmt, 2)!=2 ) CHUNK_BAD("%s is not in format 2", zName);
  sqlite3_finalize(pStmt);
  if( bBinary ){
    size_t nb = ((size_t)nDims+7)/8;
    nStride = nb<8 ? nb : (nb+7)&~(size_t)7;
    nFine = ((size_t)nDims+1)/2;
  }else{
    nStride = (size_t)nDims*4;
    nFine = 0;
  }
  {
    char *zJoin = bBinary ? sqlite3_mprintf("LEFT JOIN \"%w\".\"%w_fine\" f "
                                            "USING(id)", zDb, zName) : 0;
    zSql = sqlite3_mprintf("SELECT c.id, c.cap, c.used, c.live, k.data, %s, c.base "
                           "FROM \"%w\".\"%w_chunks\" c LEFT JOIN \"%w\".\"%w_codes\" k "
                           "USING(id) %s ORDER BY c.id",
                           bBinary ? "f.data" : "NULL", zDb, zName, zDb, zName,
                           zJoin ? zJoin : "");
    sqlite3_free(zJoin);
  }
  if( sqlite3_prepare_v2(db, zSql, -1, &pBlob, 0)!=SQLITE_OK ){
    CHUNK_BAD("cannot read %s's chunks: %s", zName, sqlite3_errmsg(db));
    sqlite3_free(zSql);
    return nBad;
  }
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("SELECT vector FROM \"%w\".\"%w_data\" WHERE id=?1",
                         zDb, zName);
  sqlite3_prepare_v2(db, zSql, -1, &pVec, 0);
  sqlite3_free(zSql);
  while( sqlite3_step(pBlob)==SQLITE_ROW ){
    int64_t iId = sqlite3_column_int64(pBlob, 0);
    int64_t nCap = sqlite3_column_int64(pBlob, 1);
    int64_t nUsed = sqlite3_column_int64(pBlob, 2);
    int64_t nLive = sqlite3_column_int64(pBlob, 3);
    const uint8_t *aImg = sqlite3_column_blob(pBlob, 4);
    int nImg = sqlite3_column_bytes(pBlob, 4);
    const uint8_t *aF = sqlite3_column_blob(pBlob, 5);
    int nF = sqlite3_column_bytes(pBlob, 5);
    int bDense = sqlite3_column_type(pBlob, 6)!=SQLITE_NULL;
    int64_t iBase = sqlite3_column_int64(pBlob, 6);
    size_t nRowidBytes = bDense ? 0 : 8*(size_t)nCap;
    int64_t i, nValid = 0;
    if( nCap<64 || nCap>4096 || (nCap&(nCap-1)) || nUsed<0 || nUsed>nCap
     || nLive<0 || nLive>nUsed ){
      CHUNK_BAD("chunk %lld: cap %lld used %lld live %lld", (long long)iId,
                (long long)nCap, (long long)nUsed, (long long)nLive);
      continue;
    }
    if( bDense && sqlite3_column_type(pBlob, 6)!=SQLITE_INTEGER ){
      CHUNK_BAD("chunk %lld: base is not an integer", (long long)iId);
      continue;
    }
    if( aImg==0 || (size_t)nImg!=(size_t)nCap/8 + nRowidBytes + nStride*(size_t)nCap ){
      CHUNK_BAD("chunk %lld: codes image of %d bytes", (long long)iId, nImg);
      continue;
    }
    if( bBinary && (aF==0 || (size_t)nF!=(size_t)nCap*(4+nFine)) ){
      CHUNK_BAD("chunk %lld: fine image of %d bytes", (long long)iId, nF);
      continue;
    }
    for(i=0; i<nCap; i++){
      int bValid = (aImg[i/8]>>(i%8))&1;
      int64_t iRowid;
      const float *v;
      if( !bValid ) continue;
      nValid++;
      if( i>=nUsed ){
        CHUNK_BAD("chunk %lld: slot %lld valid past used", (long long)iId,
                  (long long)i);
        continue;
      }
      if( bDense ) iRowid = iBase + i;
      else memcpy(&iRowid, aImg + nCap/8 + 8*i, 8);
      if( nSeen>=nSeenAlloc ){
        nSeenAlloc = nSeenAlloc ? 2*nSeenAlloc : 1024;
        aSeen = realloc(aSeen, sizeof(int64_t)*(size_t)nSeenAlloc);
      }
      aSeen[nSeen++] = iRowid;
      sqlite3_bind_int64(pVec, 1, iRowid);
      if( sqlite3_step(pVec)!=SQLITE_ROW ){
        CHUNK_BAD("chunk %lld slot %lld: rowid %lld has no row in %s_data",
                  (long long)iId, (long long)i, (long long)iRowid, zName);
      }else if( sqlite3_column_bytes(pVec, 0)!=4*nDims ){
        CHUNK_BAD("rowid %lld: vector of %d bytes", (long long)iRowid,
                  sqlite3_column_bytes(pVec, 0));
      }else{
        const uint8_t *aCode = aImg + nCap/8 + nRowidBytes + nStride*(size_t)i;
        float *vv = malloc(sizeof(float)*(size_t)nDims);
        memcpy(vv, sqlite3_column_blob(pVec, 0), 4*(size_t)nDims);
        v = vv;
        if( bBinary ){
          uint8_t aWant[8192], aFine[32768];
          float rScale, rGot;
          size_t b;
          memset(aWant, 0, nStride);
          for(b=0; b<(size_t)nDims; b++){
            if( v[b]>0 ) aWant[b/8] |= (uint8_t)(1u<<(b%8));
          }
          if( memcmp(aWant, aCode, nStride) ){
            CHUNK_BAD("rowid %lld: its code is not bquant() of its vector",
                      (long long)iRowid);
          }
          chunkFineRef(v, nDims, &rScale, aFine);
          memcpy(&rGot, aF + 4*i, 4);
          if( rGot!=rScale
           || memcmp(aFine, aF + 4*nCap + nFine*(size_t)i, nFine) ){
            CHUNK_BAD("rowid %lld: its 4-bit code is not its vector's",
                      (long long)iRowid);
          }
        }else if( memcmp(aCode, v, 4*(size_t)nDims) ){
          CHUNK_BAD("rowid %lld: its chunk vector differs", (long long)iRowid);
        }
        free(vv);
      }
      sqlite3_reset(pVec);
    }
    if( nValid!=nLive ){
      CHUNK_BAD("chunk %lld: %lld valid slots, live says %lld", (long long)iId,
                (long long)nValid, (long long)nLive);
    }
  }
  sqlite3_finalize(pBlob);
  sqlite3_finalize(pVec);
  /* Each rowid once, and exactly NAME_data's. */
  if( nSeen>1 ) qsort(aSeen, (size_t)nSeen, sizeof(int64_t), chunkCmpI64);
  {
    int64_t i;
    for(i=1; i<nSeen; i++){
      if( aSeen[i]==aSeen[i-1] ){
        CHUNK_BAD("rowid %lld is in two slots", (long long)aSeen[i]);
      }
    }
  }
  zSql = sqlite3_mprintf("SELECT count(*) FROM \"%w\".\"%w_data\"", zDb, zName);
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    nData = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
  if( nData!=nSeen ){
    CHUNK_BAD("%s_data has %lld rows, the chunks %lld", zName,
              (long long)nData, (long long)nSeen);
  }
  free(aSeen);
#undef CHUNK_BAD
  return nBad;
}

#endif /* CHUNKCHECK_H */
