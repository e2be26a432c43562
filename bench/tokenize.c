/*
** tokenize.c: the throughput of our BPE tokenizers, for comparison with
** Hugging Face's tokenizers on the same text and tokenizer.json
** (bench/tokenize.mjs; bench/tokenize.sh runs both).
**
**     build/bench_tokenize MODEL.emb TEXT.txt lines   each line a text
**     build/bench_tokenize MODEL.emb TEXT.txt whole   the file, one text
**
** Prints one line: "ours MODEL FILE MODE bytes N texts N tokens N
** idsum N secs S MB_per_s X" -- the best of 5 runs, one thread, the token
** buffer reused as embed() reuses it.  idsum (the sum of all ids mod 2^32)
** and tokens let the report check both sides produced the same ids.
** Text is tokenized as it is in the file (it must be valid UTF-8; the
** shared data files are).  A measuring tool, never a test.
*/
#include "model.h"
#include "tokenizer.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEAT 5

static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

int main(int argc, char **argv){
  EmbModel *p;
  EmbTokens t;
  char *zErr = 0, *z;
  FILE *f;
  long n;
  int bLines, r;
  double best = 1e30;
  long nText = 0, nTok = 0;
  uint32_t idSum = 0;

  if( argc!=4 || (strcmp(argv[3], "lines") && strcmp(argv[3], "whole")) ){
    fprintf(stderr, "usage: %s MODEL.emb TEXT.txt lines|whole\n", argv[0]);
    return 2;
  }
  bLines = strcmp(argv[3], "lines")==0;
  if( embModelAcquire(argv[1], &p, &zErr) ){
    fprintf(stderr, "bench_tokenize: %s\n", zErr ? zErr : "out of memory");
    return 1;
  }
  f = fopen(argv[2], "rb");
  if( f==0 || fseek(f, 0, SEEK_END) || (n = ftell(f))<0
   || fseek(f, 0, SEEK_SET) ){
    fprintf(stderr, "bench_tokenize: cannot read %s\n", argv[2]);
    return 1;
  }
  z = malloc((size_t)n + 1);
  if( z==0 || fread(z, 1, (size_t)n, f)!=(size_t)n ) return 1;
  fclose(f);
  if( !bLines && n>0 && z[n-1]=='\n' ) n--;     /* one line, as in Node */
  embTokensInit(&t);
  for(r=0; r<REPEAT; r++){
    double t0 = now(), dt;
    char *s = z, *e;
    nText = nTok = 0;
    idSum = 0;
    while( s<z+n ){
      int i;
      e = bLines ? memchr(s, '\n', (size_t)(z+n-s)) : 0;
      if( e==0 ) e = z+n;
      if( e>s ){
        t.nId = 0;
        if( embTokenize(p, s, (size_t)(e-s), &t) ){
          fprintf(stderr, "bench_tokenize: out of memory\n");
          return 1;
        }
        for(i=0; i<t.nId; i++) idSum += (uint32_t)t.aId[i];
        nTok += t.nId;
        nText++;
      }
      s = e+1;
    }
    dt = now() - t0;
    if( dt<best ) best = dt;
  }
  printf("ours %s %s %s bytes %ld texts %ld tokens %ld idsum %u secs %.4f "
         "MB_per_s %.2f\n", argv[1], argv[2], argv[3], n, nText, nTok,
         idSum, best, (double)n/best/1e6);
  embTokensFree(&t);
  embModelRelease(p);
  free(z);
  return 0;
}
