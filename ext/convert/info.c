/*
** info.c: "embed-convert info" -- what a model file holds.
**
**     $ build/embed-convert info models/default.emb
**     path          models/default.emb
**     file bytes    142032064
**     format        sqlite-embed, version 1
**     ...
**
** HOW IT WORKS
**
** The file is opened with embModelAcquire() (model.c), so it is checked
** exactly as the extension checks it, and a file the extension would
** refuse gets the loader's message and exit status 1.  The summary comes
** from the EmbModel; the metadata, listed in header order, from the
** header as parsed by the loader's own parser (embStParse()).  Tensor
** offsets are from the start of the file.
*/
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "model.h"
#include "safetensors.h"
#include "convert/convert.h"

#define INFO_TOKENS 12     /* how many of the first tokens are shown */

/* Print z[0..n) in double quotes, with quotes, backslashes and control
** characters escaped; other bytes (UTF-8) as they are. */
static void printQuoted(const char *z, int n){
  int i;
  putchar('"');
  for(i=0; i<n; i++){
    unsigned char c = (unsigned char)z[i];
    if( c=='"' || c=='\\' ){
      printf("\\%c", c);
    }else if( c<0x20 || c==0x7f ){
      printf("\\x%02x", c);
    }else{
      putchar(c);
    }
  }
  putchar('"');
}

/* "[341479, 100]" into zBuf */
static const char *shapeText(char *zBuf, size_t nBuf, const EmbTensor *t){
  if( t->nDim==0 ){
    snprintf(zBuf, nBuf, "[]");
  }else if( t->nDim==1 ){
    snprintf(zBuf, nBuf, "[%llu]", (unsigned long long)t->aShape[0]);
  }else{
    snprintf(zBuf, nBuf, "[%llu, %llu]", (unsigned long long)t->aShape[0],
             (unsigned long long)t->aShape[1]);
  }
  return zBuf;
}

int embInfo(const char *zPath, char **pzErr){
  EmbModel *p = 0;
  EmbStHeader h;
  uint64_t nHeader = 0;
  const char *zVersion;
  int i, n, rc;

  memset(&h, 0, sizeof(h));
  *pzErr = 0;
  if( embModelAcquire(zPath, &p, pzErr) ) return 1;

  /* The loader has checked that the header fits in the file. */
  for(i=0; i<8; i++) nHeader |= (uint64_t)p->aFile[i] << (8*i);
  rc = embStParse(p->aFile+8, nHeader, &h, pzErr);
  if( rc ){
    embModelRelease(p);
    return 1;
  }

  zVersion = embModelMeta(p, "format_version");
  printf("path          %s\n", zPath);
  printf("file bytes    %llu\n", (unsigned long long)p->nFile);
  printf("header bytes  %llu (data from byte %llu)\n",
         (unsigned long long)nHeader, (unsigned long long)(8+nHeader));
  printf("format        %s, version %s\n", embModelMeta(p, "format"),
         zVersion ? zVersion : "?");
  printf("source        %s\n", p->zSource ? p->zSource : "");
  printf("tokenizer     %s\n", p->zTokenizer ? p->zTokenizer : "");
  printf("dims          %d\n", p->nDims);
  printf("vocab size    %d\n", p->nVocab);
  printf("matrix dtype  %s\n", embStDtypeName(p->eMatrixType));
  printf("hash slots    %u\n", p->nSlot);
  printf("open time     %.3f ms\n", (double)p->loadUs/1000.0);

  printf("\ntensors (%d, not counting _pad.*):\n", p->nTensor);
  printf("  %-20s %-5s %-16s %12s %12s\n", "name", "dtype", "shape",
         "offset", "bytes");
  for(i=0; i<p->nTensor; i++){
    const EmbTensor *t = &p->aTensor[i];
    char zShape[64];
    printf("  %-20s %-5s %-16s %12llu %12llu\n", t->zName,
           embStDtypeName(t->eType), shapeText(zShape, sizeof(zShape), t),
           (unsigned long long)(t->a - p->aFile),
           (unsigned long long)t->nByte);
  }

  printf("\nmetadata (%d):\n", h.nMeta);
  for(i=0; i<h.nMeta; i++){
    printf("  %s = ", h.aMeta[i].zKey);
    printQuoted(h.aMeta[i].zValue, (int)strlen(h.aMeta[i].zValue));
    putchar('\n');
  }

  n = p->nVocab<INFO_TOKENS ? p->nVocab : INFO_TOKENS;
  printf("\nfirst %d tokens:\n", n);
  for(i=0; i<n; i++){
    const char *z;
    int nz;
    printf("  %6d  ", i);
    if( embModelTokenText(p, i, &z, &nz) ){
      printf("(corrupt offsets)");
    }else{
      printQuoted(z, nz);
    }
    putchar('\n');
  }

  embStClear(&h);
  embModelRelease(p);
  return 0;
}
