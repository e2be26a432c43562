/*
** normalize.c: the speed of the normalizer programs (ext/tokenizer/
** normalize.c) on one thread, for bench/normalize.sh.
**
**     build/bench_normalize TOKENIZER.json TEXT [lines|doc]
**
** Compiles TOKENIZER.json's "normalizer" (embNormCompile()), then runs it
** over TEXT: each line a text ("lines", the default), or the whole file as
** one text ("doc"), for at least a second.  Prints one line: "MB/s
** <input MB per second> out <output bytes of one pass> fnv <FNV-1a of the
** output of one pass>", so that bench/normalize.sh can check the output
** against Hugging Face's.
*/
#include "model.h"
#include "tokenizer/normalize.h"
#include "convert/normalizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

static char *readAll(const char *zPath, size_t *pn){
  FILE *f = fopen(zPath, "rb");
  char *z;
  long n;
  if( f==0 ) return 0;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  z = malloc((size_t)n + 1);
  if( z==0 || fread(z, 1, (size_t)n, f)!=(size_t)n ){ fclose(f); free(z); return 0; }
  fclose(f);
  z[n] = 0;
  *pn = (size_t)n;
  return z;
}

static double now(void){
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec*1e-9;
}

int main(int argc, char **argv){
  size_t nJson, nText, i, nOut = 0, nIn = 0;
  char *zJson, *zText, *zErr = 0;
  cJSON *pRoot;
  EmbNormCode c;
  EmbNorm norm;
  EmbNormBuf b;
  int bDoc = argc>3 && strcmp(argv[3], "doc")==0, iPass;
  uint32_t h = 2166136261u;
  double t0, t;
  if( argc<3 ){
    fprintf(stderr, "usage: %s TOKENIZER.json TEXT [lines|doc]\n", argv[0]);
    return 2;
  }
  zJson = readAll(argv[1], &nJson);
  zText = readAll(argv[2], &nText);
  if( zJson==0 || zText==0 ){ fprintf(stderr, "cannot read the files\n"); return 1; }
  pRoot = cJSON_Parse(zJson);
  if( pRoot==0
   || embNormCompile(cJSON_GetObjectItem(pRoot, "normalizer"), &c, &zErr)
   || embNormCheck(&norm, (const uint8_t*)c.aProg, c.nStep, c.aData, c.nData,
                   argv[1], &zErr) ){
    fprintf(stderr, "%s\n", zErr ? zErr : "not JSON, or out of memory");
    return 1;
  }
  embNormBufInit(&b);
  t0 = now();
  for(iPass=0; ; iPass++){
    if( bDoc ){
      size_t n = nText;
      while( n>0 && zText[n-1]=='\n' ) n--;
      if( embNormApply(&norm, zText, n, &b) ) return 1;
      nIn += n;
      if( iPass==0 ){
        for(i=0; i<b.n; i++){ h ^= (uint8_t)b.z[i]; h *= 16777619u; }
        nOut += b.n;
      }
    }else{
      size_t iLine = 0;
      while( iLine<nText ){
        char *zEnd = memchr(zText+iLine, '\n', nText-iLine);
        size_t n = zEnd ? (size_t)(zEnd - (zText+iLine)) : nText-iLine;
        if( embNormApply(&norm, zText+iLine, n, &b) ) return 1;
        nIn += n;
        if( iPass==0 ){
          for(i=0; i<b.n; i++){ h ^= (uint8_t)b.z[i]; h *= 16777619u; }
          h ^= '\n'; h *= 16777619u;
          nOut += b.n;
        }
        iLine += n + 1;
      }
    }
    t = now() - t0;
    if( t>=1.0 ) break;
  }
  printf("MB/s %.1f out %zu fnv %08x\n", nIn/t/1e6, nOut, h);
  embNormBufFree(&b);
  embNormCodeFree(&c);
  cJSON_Delete(pRoot);
  free(zJson);
  free(zText);
  return 0;
}
