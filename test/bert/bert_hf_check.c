/*
** bert_hf_check.c: the BERT normalizer and pre-tokenizer (ext/tokenizer/
** bert.c) against Hugging Face's, case by case.
**
**     node test/bert/bert_hf.mjs build/hf/node_modules | build/bert_hf_check
**     bash test/bert/run.sh BUILD        (installs tokenizers when it can)
**
** Reads bert_hf.mjs's lines ({"m": options, "hex": input, "words": [...]})
** from stdin, splits each input with embBertWords() under the same options
** and checks that the words are the same, in order.  Prints up to 10
** mismatches and "N passed, N failed" (a case counts once).
*/
#include "model.h"
#include "tokenizer/bert.h"
#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

typedef struct Got Got;
struct Got {
  char *z;            /* the words, each ended by a 0x01 byte */
  size_t n, nAlloc;
};

static int gotWord(void *pArg, const uint8_t *z, size_t n, int nChar){
  Got *g = (Got*)pArg;
  (void)nChar;
  if( g->n+n+1>g->nAlloc ){
    g->nAlloc = 2*(g->n+n+1);
    g->z = realloc(g->z, g->nAlloc);
    if( g->z==0 ) return -1;
  }
  memcpy(g->z+g->n, z, n);
  g->n += n;
  g->z[g->n++] = 1;
  return 0;
}

int main(void){
  char *zLine = 0;
  size_t nCap = 0;
  ssize_t len;
  int nPass = 0, nFail = 0, nLine = 0;
  void *pBuf = 0;
  size_t nBuf = 0;
  Got got = {0, 0, 0}, want = {0, 0, 0};
  while( (len = getline(&zLine, &nCap, stdin))>0 ){
    cJSON *p = cJSON_Parse(zLine), *v;
    const char *zHex = p ? cJSON_GetStringValue(cJSON_GetObjectItem(p, "hex")) : 0;
    cJSON *pM = p ? cJSON_GetObjectItem(p, "m") : 0;
    unsigned char *a;
    size_t n = 0, i;
    EmbBertWords w;
    nLine++;
    if( zHex==0 || !cJSON_IsNumber(pM) ){
      printf("line %d: not a case\n", nLine);
      nFail++;
      cJSON_Delete(p);
      continue;
    }
    a = malloc(strlen(zHex)/2 + 1);
    for(i=0; zHex[2*i] && zHex[2*i+1]; i++){
      unsigned x;
      sscanf(zHex+2*i, "%2x", &x);
      a[n++] = (unsigned char)x;
    }
    got.n = want.n = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(p, "words")){
      const char *z = cJSON_GetStringValue(v);
      uint8_t aW[4096];
      size_t nW = 0;
      for(i=0; z && z[2*i] && z[2*i+1] && nW<sizeof(aW); i++){
        unsigned x;
        sscanf(z+2*i, "%2x", &x);
        aW[nW++] = (uint8_t)x;
      }
      gotWord(&want, aW, nW, 0);
    }
    memset(&w, 0, sizeof(w));
    w.mNorm = (unsigned)pM->valuedouble;
    w.nCharMax = 1<<30;
    w.xWord = gotWord;
    w.pArg = &got;
    w.ppBuf = &pBuf;
    w.pnBuf = &nBuf;
    if( embBertWords(&w, a, n)==0 && got.n==want.n
     && memcmp(got.z, want.z, got.n)==0 ){
      nPass++;
    }else{
      if( nFail<10 ){
        /* from the first byte that differs, in hex */
        size_t k = 0;
        while( k<got.n && k<want.n && got.z[k]==want.z[k] ) k++;
        while( k>0 && got.z[k-1]!=1 ) k--;
        printf("MISMATCH line %d, options %u, input %.120s...\n  want ",
               nLine, w.mNorm, zHex);
        for(i=k; i<want.n && i<k+40; i++) printf("%02x", (uint8_t)want.z[i]);
        printf("\n  got  ");
        for(i=k; i<got.n && i<k+40; i++) printf("%02x", (uint8_t)got.z[i]);
        printf("\n");
      }
      nFail++;
    }
    free(a);
    cJSON_Delete(p);
  }
  free(zLine);
  free(got.z);
  free(want.z);
  embFree(pBuf);
  if( nLine==0 ){
    printf("bert_hf_check: no cases on stdin\n");
    nFail++;
  }
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
