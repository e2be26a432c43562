/*
** normalizer.c: tokenizer.json's "normalizer" to a normalizer program
** (ext/tokenizer/normalize.h) -- embed-convert's side of the normalizers.
**
**     {"type": "Sequence", "normalizers": [
**        {"type": "BertNormalizer", "lowercase": true, ...},
**        {"type": "Replace", "pattern": {"String": "!"}, "content": " ! "},
**        {"type": "Replace", "pattern": {"String": "?"}, "content": " ? "},
**        {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
**        {"type": "Strip", "strip_left": true, "strip_right": true}]}
**  ->  BERT(clean|chinese|strip|lower)  MAP{! -> " ! ", ? -> " ? "}
**      RUN(\s, 1, " ")  STRIP(1, 1)
**
** HOW IT WORKS
** The tree is walked in order, a Sequence's members in place (nested ones
** too), each normalizer becoming one step with its strings appended to the
** data.  A Replace whose pattern is one character maps that character to a
** string, and a run of such Replace steps, applied one after the other, is
** again a map from characters to strings (the composition: each later
** Replace rewrites the strings of the map so far, and adds its character
** when the map does not have it yet), so the run becomes one MAP step: one
** table look-up per character instead of one pass per Replace.  Nmt is
** such a map too, and joins the run.  Regex
** patterns are not compiled in general: a literal is a String pattern, and
** one character or \s with + or {n,} (the patterns SentencePiece-derived
** tokenizer.json files use) becomes RUN; any other regex is refused, by its
** text.  BertNormalizer's strip_accents null follows lowercase, as in HF.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "model.h"
#include "unicode.h"
#include "tokenizer/normalize.h"
#include "convert/normalizer.h"

#define NC_MAX_DEPTH 32           /* Sequence nesting */

/* One entry of a map being built */
typedef struct NcEntry NcEntry;
struct NcEntry {
  uint32_t c;
  char *z;                        /* embMalloc()'d */
  size_t n;
};

/* The state of one compilation */
typedef struct Nc Nc;
struct Nc {
  EmbNormCode *p;
  char **pzErr;
  int rc;                         /* -1 once an error is recorded */
  NcEntry *aMap;                  /* the pending map (nMap entries) */
  size_t nMap, nMapAlloc;
};

static int ncNoMem(Nc *x){
  if( x->rc==0 ){ *x->pzErr = 0; x->rc = -1; }
  return -1;
}

static int ncError(Nc *x, const char *zFmt, ...)
  __attribute__((format(printf, 2, 3)));
static int ncError(Nc *x, const char *zFmt, ...){
  va_list ap;
  if( x->rc ) return -1;
  va_start(ap, zFmt);
  *x->pzErr = embVmprintf(zFmt, ap);
  va_end(ap);
  x->rc = -1;
  return -1;
}

/* Append n bytes to the data, at a multiple of nAlign.  Sets *pOff. */
static int ncData(Nc *x, const void *z, size_t n, size_t nAlign,
                  uint32_t *pOff){
  EmbNormCode *p = x->p;
  size_t iAt = (p->nData + nAlign-1) / nAlign * nAlign;
  if( iAt+n > EMB_NORM_MAX_DATA ){
    return ncError(x, "unsupported tokenizer feature: a normalizer of more "
                   "than %u bytes of strings", EMB_NORM_MAX_DATA);
  }
  if( iAt+n > p->nDataAlloc ){
    size_t nNew = p->nDataAlloc ? p->nDataAlloc*2 : 256;
    uint8_t *aNew;
    while( nNew<iAt+n ) nNew *= 2;
    aNew = embRealloc(p->aData, nNew);
    if( aNew==0 ) return ncNoMem(x);
    p->aData = aNew;
    p->nDataAlloc = nNew;
  }
  if( iAt>p->nData ) memset(p->aData + p->nData, 0, iAt - p->nData);
  if( n ) memcpy(p->aData + iAt, z, n);
  p->nData = iAt + n;
  *pOff = (uint32_t)iAt;
  return 0;
}

/* Append a step (op, a1 .. a7). */
static int ncStep(Nc *x, uint32_t op, const uint32_t *aArg, int nArg){
  EmbNormCode *p = x->p;
  uint32_t *a;
  int k;
  if( p->nStep>=EMB_NORM_MAX_STEPS ){
    return ncError(x, "unsupported tokenizer feature: a normalizer of more "
                   "than %d steps", EMB_NORM_MAX_STEPS);
  }
  if( p->nStep>=p->nStepAlloc ){
    size_t nNew = p->nStepAlloc ? p->nStepAlloc*2 : 8;
    uint32_t *aNew = embRealloc(p->aProg,
                                nNew*EMB_NORM_STEP_WORDS*sizeof(uint32_t));
    if( aNew==0 ) return ncNoMem(x);
    p->aProg = aNew;
    p->nStepAlloc = nNew;
  }
  a = p->aProg + p->nStep*EMB_NORM_STEP_WORDS;
  memset(a, 0, EMB_NORM_STEP_WORDS*sizeof(uint32_t));
  a[0] = op;
  for(k=0; k<nArg && k<EMB_NORM_STEP_WORDS-1; k++) a[1+k] = aArg[k];
  p->nStep++;
  return 0;
}

/* Decode the one code point z[0..n) is, or return -1 when it is not one. */
static int64_t oneChar(const char *z, size_t n){
  const uint8_t *u = (const uint8_t*)z;
  int nMore;
  uint32_t c;
  size_t k;
  if( n==0 ) return -1;
  c = u[0];
  nMore = c<0x80 ? 0 : c>=0xF0 ? 3 : c>=0xE0 ? 2 : 1;
  if( n!=(size_t)nMore+1 ) return -1;
  if( nMore ) c &= 0x3F >> nMore;
  for(k=1; k<n; k++) c = (c<<6) | (u[k] & 0x3F);
  return c;
}

/* Write the pending map (if any) as a MAP step and empty it. */
static int ncFlushMap(Nc *x){
  uint32_t *aTab, aArg[6] = {0, 0, 0, 0, 0, 0}, off;
  size_t i;
  int rc = 0;
  if( x->nMap==0 ) return 0;
  aTab = embMalloc(x->nMap*3*sizeof(uint32_t));
  if( aTab==0 ) return ncNoMem(x);
  for(i=0; i<x->nMap && rc==0; i++){
    NcEntry *e = &x->aMap[i];
    rc = ncData(x, e->z, e->n, 1, &off);
    aTab[3*i] = e->c;
    aTab[3*i+1] = off;
    aTab[3*i+2] = (uint32_t)e->n;
    if( e->c<0x80 ) aArg[2 + (e->c>>5)] |= 1u<<(e->c & 31);
  }
  if( rc==0 ) rc = ncData(x, aTab, x->nMap*3*sizeof(uint32_t), 4, &aArg[0]);
  aArg[1] = (uint32_t)x->nMap;
  embFree(aTab);
  if( rc==0 ) rc = ncStep(x, EMB_NOP_MAP, aArg, 6);
  for(i=0; i<x->nMap; i++) embFree(x->aMap[i].z);
  x->nMap = 0;
  return rc;
}

static int cmpEntry(const void *a, const void *b){
  uint32_t x = ((const NcEntry*)a)->c, y = ((const NcEntry*)b)->c;
  return x<y ? -1 : x>y;
}

/*
** Compose "replace character c by zTo[0..nTo)" after the pending map:
** every string of the map has c replaced, and c is added when the map
** does not have it.
*/
static int ncMapAdd(Nc *x, uint32_t c, const char *zTo, size_t nTo){
  uint8_t aC[4];
  size_t nC, i, j;
  int bHave = 0;
  {
    /* c as UTF-8 */
    uint32_t v = c;
    if( v<0x80 ){ aC[0] = (uint8_t)v; nC = 1; }
    else if( v<0x800 ){ aC[0] = 0xC0|(v>>6); aC[1] = 0x80|(v&0x3F); nC = 2; }
    else if( v<0x10000 ){
      aC[0] = 0xE0|(v>>12); aC[1] = 0x80|((v>>6)&0x3F); aC[2] = 0x80|(v&0x3F);
      nC = 3;
    }else{
      aC[0] = 0xF0|(v>>18); aC[1] = 0x80|((v>>12)&0x3F);
      aC[2] = 0x80|((v>>6)&0x3F); aC[3] = 0x80|(v&0x3F); nC = 4;
    }
  }
  for(i=0; i<x->nMap; i++){
    NcEntry *e = &x->aMap[i];
    size_t nHit = 0, nNew;
    char *zNew, *zOut;
    if( e->c==c ) bHave = 1;
    for(j=0; j+nC<=e->n; ){
      if( memcmp(e->z+j, aC, nC)==0 ){ nHit++; j += nC; } else j++;
    }
    if( nHit==0 ) continue;
    nNew = e->n - nHit*nC + nHit*nTo;
    if( nNew>4096 ){
      return ncError(x, "unsupported tokenizer feature: normalizer Replace "
                     "steps that make a string of more than 4096 bytes");
    }
    zNew = embMalloc(nNew+1);
    if( zNew==0 ) return ncNoMem(x);
    zOut = zNew;
    for(j=0; j<e->n; ){
      if( j+nC<=e->n && memcmp(e->z+j, aC, nC)==0 ){
        memcpy(zOut, zTo, nTo); zOut += nTo; j += nC;
      }else{
        *zOut++ = e->z[j++];
      }
    }
    embFree(e->z);
    e->z = zNew;
    e->n = nNew;
  }
  if( !bHave ){
    NcEntry *e;
    if( x->nMap>=x->nMapAlloc ){
      size_t nNew = x->nMapAlloc ? x->nMapAlloc*2 : 16;
      NcEntry *aNew = embRealloc(x->aMap, nNew*sizeof(NcEntry));
      if( aNew==0 ) return ncNoMem(x);
      x->aMap = aNew;
      x->nMapAlloc = nNew;
    }
    e = &x->aMap[x->nMap];
    e->z = embMalloc(nTo+1);
    if( e->z==0 ) return ncNoMem(x);
    if( nTo ) memcpy(e->z, zTo, nTo);
    e->c = c;
    e->n = nTo;
    x->nMap++;
    qsort(x->aMap, x->nMap, sizeof(NcEntry), cmpEntry);
  }
  return 0;
}

/* The string member zKey of pObj, or NULL */
static const char *strItem(const cJSON *pObj, const char *zKey){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  return cJSON_IsString(v) ? v->valuestring : 0;
}

/* Boolean member zKey of pObj: *pb = its value, or bDefault when absent
** (bDefault<0: required).  0, or -1 with the error recorded. */
static int boolItem(Nc *x, const cJSON *pObj, const char *zType,
                    const char *zKey, int bDefault, int *pb){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  if( v==0 && bDefault>=0 ){ *pb = bDefault; return 0; }
  if( !cJSON_IsBool(v) ){
    return ncError(x, "malformed normalizer: %s needs a true or false "
                   "\"%s\"", zType, zKey);
  }
  *pb = cJSON_IsTrue(v);
  return 0;
}

/* A string Replace: pattern zPat (not empty), content zTo. */
static int ncReplace(Nc *x, const char *zPat, const char *zTo){
  size_t nPat = strlen(zPat), nTo = strlen(zTo);
  int64_t c = oneChar(zPat, nPat);
  uint32_t aArg[4];
  if( nPat==0 ){
    return ncError(x, "unsupported tokenizer feature: normalizer Replace "
                   "with an empty pattern");
  }
  if( nTo>4096 || nPat>4096 ){
    return ncError(x, "unsupported tokenizer feature: normalizer Replace "
                   "strings of more than 4096 bytes");
  }
  if( c>=0 ) return ncMapAdd(x, (uint32_t)c, zTo, nTo);
  if( ncFlushMap(x) || ncData(x, zPat, nPat, 1, &aArg[0])
   || ncData(x, zTo, nTo, 1, &aArg[2]) ){
    return -1;
  }
  aArg[1] = (uint32_t)nPat;
  aArg[3] = (uint32_t)nTo;
  return ncStep(x, EMB_NOP_REPLACE, aArg, 4);
}

/* Regex metacharacters (Oniguruma's, Ruby syntax) */
static int isMeta(char c){
  return c && strchr("\\.^$|?*+()[]{}", c)!=0;
}

/*
** A Regex Replace: a literal (no metacharacter, or escaped punctuation
** only) is a String Replace; X+ and X{n,} with X one character or \s
** become RUN; anything else is refused.
*/
static int ncRegex(Nc *x, const char *zRe, const char *zTo){
  char zLit[4097];                /* the literal atoms' bytes */
  size_t nLit = 0, i = 0, n = strlen(zRe), nTo = strlen(zTo), nLast = 0;
  int nAtom = 0, bSpace = 0;      /* bSpace: the last atom is \s */
  uint32_t nMin = 0;              /* the quantifier's n, 0 for none */
  while( i<n ){
    char ch = zRe[i];
    if( ch=='+' || ch=='{' ){
      char *zEnd = 0;
      if( nAtom==0 ) goto unsupported;
      if( ch=='+' ){
        if( i+1!=n ) goto unsupported;
        nMin = 1;
      }else{
        long v = strtol(zRe+i+1, &zEnd, 10);
        if( zEnd==zRe+i+1 || v<1 || v>(1<<20) || strcmp(zEnd, ",}")!=0 ){
          goto unsupported;
        }
        nMin = (uint32_t)v;
      }
      break;
    }
    if( bSpace ) goto unsupported;          /* \s then something */
    if( ch=='\\' ){
      char e = zRe[i+1], cLit;
      if( e=='s' ){
        bSpace = 1;
        nAtom++;
        i += 2;
        continue;
      }
      if( e=='t' ) cLit = '\t';
      else if( e=='n' ) cLit = '\n';
      else if( e=='r' ) cLit = '\r';
      else if( e>0x20 && e<0x7F && !(e>='0' && e<='9') && !(e>='a' && e<='z')
               && !(e>='A' && e<='Z') ) cLit = e;
      else goto unsupported;
      if( nLit+1>=sizeof(zLit) ) goto unsupported;
      zLit[nLit++] = cLit;
      nLast = 1;
      nAtom++;
      i += 2;
      continue;
    }
    if( isMeta(ch) ) goto unsupported;
    {
      unsigned char u = (unsigned char)ch;
      size_t nByte = u<0x80 ? 1 : u>=0xF0 ? 4 : u>=0xE0 ? 3 : 2;
      if( nByte>n-i || nLit+nByte>=sizeof(zLit) ) goto unsupported;
      memcpy(zLit+nLit, zRe+i, nByte);
      nLit += nByte;
      nLast = nByte;
      nAtom++;
      i += nByte;
    }
  }
  if( nMin==0 ){
    if( bSpace || nLit==0 ) goto unsupported;   /* \s alone, or empty */
    zLit[nLit] = 0;
    return ncReplace(x, zLit, zTo);
  }
  if( nAtom!=1 ) goto unsupported;       /* the quantifier's atom only */
  if( nTo>4096 ){
    return ncError(x, "unsupported tokenizer feature: normalizer Replace "
                   "strings of more than 4096 bytes");
  }
  {
    uint32_t aArg[5];
    int64_t c = bSpace ? 0 : oneChar(zLit, nLast);
    if( c<0 ) goto unsupported;
    if( ncFlushMap(x) || ncData(x, zTo, nTo, 1, &aArg[3]) ) return -1;
    aArg[0] = bSpace ? 1 : 0;
    aArg[1] = (uint32_t)c;
    aArg[2] = nMin;
    aArg[4] = (uint32_t)nTo;
    return ncStep(x, EMB_NOP_RUN, aArg, 5);
  }

unsupported:
  return ncError(x, "unsupported tokenizer feature: normalizer Replace with "
                 "the regex '%s' (regex patterns: only a literal, or one "
                 "character or \\s followed by + or {n,})", zRe);
}

/* ---------------------------------------------------------- Precompiled */

/* Decode base64 z into a buffer from embMalloc() (*pa, *pn).  0, or -1
** with the error recorded. */
static int ncBase64(Nc *x, const char *z, uint8_t **pa, size_t *pn){
  size_t n = strlen(z), i, nOut = 0;
  uint32_t acc = 0;
  int nBits = 0;
  uint8_t *a = embMalloc(n/4*3 + 3);
  *pa = 0;
  if( a==0 ) return ncNoMem(x);
  for(i=0; i<n; i++){
    char c = z[i];
    int v;
    if( c>='A' && c<='Z' ) v = c-'A';
    else if( c>='a' && c<='z' ) v = c-'a'+26;
    else if( c>='0' && c<='9' ) v = c-'0'+52;
    else if( c=='+' ) v = 62;
    else if( c=='/' ) v = 63;
    else if( c=='=' ) break;
    else{
      embFree(a);
      return ncError(x, "malformed normalizer: Precompiled's "
                     "precompiled_charsmap is not base64");
    }
    acc = (acc<<6) | (uint32_t)v;
    nBits += 6;
    if( nBits>=8 ){
      nBits -= 8;
      a[nOut++] = (uint8_t)(acc>>nBits);
    }
  }
  *pa = a;
  *pn = nOut;
  return 0;
}

/* A key of the charsmap's trie and the offset of its string */
typedef struct NcKey NcKey;
struct NcKey {
  uint8_t a[EMB_NORM_PC_MAXKEY];
  uint8_t n;
  uint32_t iVal;
};

static uint32_t pcFnv(const uint8_t *a, size_t n){
  uint32_t h = 2166136261u;
  size_t i;
  for(i=0; i<n; i++){ h ^= a[i]; h *= 16777619u; }
  return h;
}

/*
** Precompiled: the charsmap is u32 T (the trie's size in bytes), the
** double-array trie (T/4 units, as darts-clone lays them out), then the
** replacement strings, each ended by a NUL.  HF replaces a grapheme of
** fewer than 6 bytes (else each character) by the string of the shortest
** key that is a prefix of it, so only keys of at most 5 bytes that have no
** shorter key as a prefix can ever match: those are walked out of the
** trie (each unit visited once, so a hostile trie cannot make it loop)
** and put in a hash table with their strings.
*/
static int ncPrecompiled(Nc *x, const cJSON *pN){
  const char *z = strItem(pN, "precompiled_charsmap");
  uint8_t *aMap = 0, *aSeen = 0, aFirst[256];
  size_t nMap = 0, nUnit, nStr, i;
  const uint8_t *aStr;
  NcKey *aKey = 0;
  size_t nKey = 0, nKeyAlloc = 0;
  uint32_t *aSlot = 0, nSlot, aArg[5];
  uint8_t *aBytes = 0;
  size_t nBytes = 0;
  /* the walk: a stack of (unit, depth, key so far) */
  struct { uint32_t pos; uint8_t n; uint8_t a[EMB_NORM_PC_MAXKEY]; } *aStack = 0;
  size_t nStack = 0;
  int rc = -1;

  if( z==0 ){
    return ncError(x, "malformed normalizer: Precompiled needs a string "
                   "\"precompiled_charsmap\"");
  }
  if( ncBase64(x, z, &aMap, &nMap) ) return -1;
  {
    uint32_t nTrie;
    if( nMap<4 ) goto malformed;     /* HF refuses an empty one too */
    nTrie = (uint32_t)aMap[0] | (uint32_t)aMap[1]<<8 | (uint32_t)aMap[2]<<16
          | (uint32_t)aMap[3]<<24;
    if( nTrie%4 || nTrie>nMap-4 || nTrie==0 ) goto malformed;
    nUnit = nTrie/4;
    aStr = aMap + 4 + nTrie;
    nStr = nMap - 4 - nTrie;
  }
#define UNIT(i) ((uint32_t)aMap[4+4*(i)] | (uint32_t)aMap[5+4*(i)]<<8 \
                 | (uint32_t)aMap[6+4*(i)]<<16 | (uint32_t)aMap[7+4*(i)]<<24)
#define U_LEAF(u)   (((u)>>8) & 1)
#define U_VALUE(u)  ((u) & 0x7FFFFFFFu)
#define U_LABEL(u)  ((u) & 0x800000FFu)
#define U_OFFSET(u) (((u)>>10) << (((u) & (1u<<9))>>6))
  aSeen = embMalloc(nUnit);
  aStack = embMalloc(nUnit*sizeof(*aStack) + sizeof(*aStack));
  if( aSeen==0 || aStack==0 ){ ncNoMem(x); goto done; }
  memset(aSeen, 0, nUnit);
  aStack[0].pos = 0;
  aStack[0].n = 0;
  nStack = 1;
  aSeen[0] = 1;
  while( nStack>0 ){
    uint32_t pos = aStack[--nStack].pos, u = UNIT(pos), base, c;
    uint8_t nK = aStack[nStack].n, aK[EMB_NORM_PC_MAXKEY];
    memcpy(aK, aStack[nStack].a, EMB_NORM_PC_MAXKEY);
    base = pos ^ U_OFFSET(u);
    if( nK>0 && U_LEAF(u) ){
      uint32_t v;
      if( base>=nUnit ) goto malformed;
      v = U_VALUE(UNIT(base));
      if( v>=nStr ) goto malformed;
      if( nKey>=nKeyAlloc ){
        size_t nNew = nKeyAlloc ? nKeyAlloc*2 : 1024;
        NcKey *aNew = embRealloc(aKey, nNew*sizeof(NcKey));
        if( aNew==0 ){ ncNoMem(x); goto done; }
        aKey = aNew;
        nKeyAlloc = nNew;
      }
      memcpy(aKey[nKey].a, aK, EMB_NORM_PC_MAXKEY);
      aKey[nKey].n = nK;
      aKey[nKey].iVal = v;
      nKey++;
      continue;          /* a longer key under it can never match */
    }
    if( nK>=EMB_NORM_PC_MAXKEY ) continue;
    for(c=1; c<256; c++){
      uint32_t p = base ^ c;
      if( p>=nUnit || aSeen[p] || U_LABEL(UNIT(p))!=c ) continue;
      aSeen[p] = 1;
      aStack[nStack].pos = p;
      aStack[nStack].n = (uint8_t)(nK+1);
      memcpy(aStack[nStack].a, aK, EMB_NORM_PC_MAXKEY);
      aStack[nStack].a[nK] = (uint8_t)c;
      nStack++;
    }
  }
#undef UNIT
  /* the strings, and the table */
  nSlot = 1;
  while( nSlot<2*nKey+1 ) nSlot *= 2;
  aSlot = embMalloc((size_t)nSlot*4*sizeof(uint32_t));
  aBytes = embMalloc(nStr+1);
  if( aSlot==0 || aBytes==0 ){ ncNoMem(x); goto done; }
  memset(aSlot, 0, (size_t)nSlot*4*sizeof(uint32_t));
  memset(aFirst, 0, sizeof(aFirst));
  for(i=0; i<nKey; i++){
    const NcKey *k = &aKey[i];
    const uint8_t *zEnd = memchr(aStr + k->iVal, 0, nStr - k->iVal);
    size_t nVal = zEnd ? (size_t)(zEnd - (aStr + k->iVal)) : nStr - k->iVal;
    uint32_t h = pcFnv(k->a, k->n) & (nSlot-1), k0 = 0, k1;
    int j;
    if( nVal>4096 || !embUtf8Valid((const char*)aStr + k->iVal, nVal) ){
      goto malformed;
    }
    for(j=0; j<4 && j<k->n; j++) k0 |= (uint32_t)k->a[j] << (8*j);
    k1 = (k->n>4 ? k->a[4] : 0) | (uint32_t)k->n<<8;
    while( aSlot[4*h+1]!=0 ) h = (h+1) & (nSlot-1);
    aSlot[4*h] = k0;
    aSlot[4*h+1] = k1;
    aSlot[4*h+2] = (uint32_t)nBytes;
    aSlot[4*h+3] = (uint32_t)nVal;
    memcpy(aBytes+nBytes, aStr + k->iVal, nVal);   /* no sharing: simple */
    nBytes += nVal;
    aFirst[k->a[0]] |= (uint8_t)(1u << (k->n-1));
  }
  if( ncData(x, aSlot, (size_t)nSlot*4*sizeof(uint32_t), 4, &aArg[0])
   || ncData(x, aFirst, 256, 1, &aArg[2])
   || ncData(x, aBytes, nBytes, 1, &aArg[3]) ){
    goto done;
  }
  aArg[1] = nSlot;
  aArg[4] = (uint32_t)nBytes;
  rc = ncStep(x, EMB_NOP_PRECOMPILED, aArg, 5);
  goto done;

malformed:
  ncError(x, "malformed normalizer: Precompiled's precompiled_charsmap is "
          "not a SentencePiece charsmap (a trie and its strings)");
done:
  embFree(aMap);
  embFree(aSeen);
  embFree(aStack);
  embFree(aKey);
  embFree(aSlot);
  embFree(aBytes);
  return rc;
}

static int ncNode(Nc *x, const cJSON *pN, int iDepth){
  const char *zType;
  if( pN==0 || cJSON_IsNull(pN) ) return 0;
  if( !cJSON_IsObject(pN) ){
    return ncError(x, "malformed normalizer: not a JSON object");
  }
  zType = strItem(pN, "type");
  if( zType==0 ){
    return ncError(x, "malformed normalizer: no \"type\"");
  }
  if( strcmp(zType, "Sequence")==0 ){
    const cJSON *pList = cJSON_GetObjectItemCaseSensitive(pN, "normalizers");
    const cJSON *pItem;
    if( !cJSON_IsArray(pList) ){
      return ncError(x, "malformed normalizer: Sequence needs a "
                     "\"normalizers\" list");
    }
    if( iDepth>=NC_MAX_DEPTH ){
      return ncError(x, "unsupported tokenizer feature: normalizer "
                     "Sequences nested more than %d deep", NC_MAX_DEPTH);
    }
    cJSON_ArrayForEach(pItem, pList){
      if( cJSON_IsNull(pItem) ){
        return ncError(x, "malformed normalizer: null in a Sequence");
      }
      if( ncNode(x, pItem, iDepth+1) ) return -1;
    }
    return 0;
  }
  if( strcmp(zType, "Nmt")==0 ){
    /* HF's Nmt: a fixed map of characters (found by running every code
    ** point through it): these controls dropped, these spaces, format
    ** characters and U+2581 made ' '.  No string it makes holds a
    ** character it maps, so adding them one by one is the same map. */
    static const uint32_t aDrop[][2] = {
      {0x01, 0x08}, {0x0B, 0x0B}, {0x0E, 0x1F}, {0x7F, 0x7F}, {0x8F, 0x8F},
      {0x9F, 0x9F}};
    static const uint32_t aSpace[][2] = {
      {0x09, 0x0A}, {0x0C, 0x0D}, {0x1680, 0x1680}, {0x200B, 0x200F},
      {0x2028, 0x2029}, {0x2581, 0x2581}, {0xFEFF, 0xFEFF}, {0xFFFD, 0xFFFD}};
    size_t k;
    uint32_t c;
    for(k=0; k<sizeof(aDrop)/sizeof(aDrop[0]); k++){
      for(c=aDrop[k][0]; c<=aDrop[k][1]; c++){
        if( ncMapAdd(x, c, "", 0) ) return -1;
      }
    }
    for(k=0; k<sizeof(aSpace)/sizeof(aSpace[0]); k++){
      for(c=aSpace[k][0]; c<=aSpace[k][1]; c++){
        if( ncMapAdd(x, c, " ", 1) ) return -1;
      }
    }
    return 0;
  }
  if( strcmp(zType, "Replace")==0 ){
    const cJSON *pPat = cJSON_GetObjectItemCaseSensitive(pN, "pattern");
    const char *zTo = strItem(pN, "content");
    const char *zS = strItem(pPat, "String");
    const char *zR = strItem(pPat, "Regex");
    if( zTo==0 || !cJSON_IsObject(pPat) || (zS==0)==(zR==0) ){
      return ncError(x, "malformed normalizer: Replace needs a \"pattern\" "
                     "({\"String\": ...} or {\"Regex\": ...}) and a string "
                     "\"content\"");
    }
    if( !embUtf8Valid(zTo, strlen(zTo)) || !embUtf8Valid(zS ? zS : zR,
                                                strlen(zS ? zS : zR)) ){
      return ncError(x, "malformed normalizer: Replace strings must be "
                     "UTF-8");
    }
    return zS ? ncReplace(x, zS, zTo) : ncRegex(x, zR, zTo);
  }
  /* every other step ends a run of one-character Replace steps */
  if( ncFlushMap(x) ) return -1;
  if( strcmp(zType, "BertNormalizer")==0 ){
    int bClean, bChinese, bLower, bStrip;
    uint32_t m;
    const cJSON *v;
    if( boolItem(x, pN, zType, "clean_text", 1, &bClean)
     || boolItem(x, pN, zType, "handle_chinese_chars", 1, &bChinese)
     || boolItem(x, pN, zType, "lowercase", 1, &bLower) ){
      return -1;
    }
    v = cJSON_GetObjectItemCaseSensitive(pN, "strip_accents");
    if( v==0 || cJSON_IsNull(v) ){
      bStrip = bLower;
    }else if( boolItem(x, pN, zType, "strip_accents", 0, &bStrip) ){
      return -1;
    }
    m = (bClean ? EMB_NORM_CLEAN : 0) | (bChinese ? EMB_NORM_CHINESE : 0)
      | (bStrip ? EMB_NORM_STRIP : 0) | (bLower ? EMB_NORM_LOWER : 0);
    return ncStep(x, EMB_NOP_BERT, &m, 1);
  }
  if( strcmp(zType, "Precompiled")==0 ){
    return ncPrecompiled(x, pN);
  }
  if( strcmp(zType, "NFD")==0 ) return ncStep(x, EMB_NOP_NFD, 0, 0);
  if( strcmp(zType, "NFKD")==0 ) return ncStep(x, EMB_NOP_NFKD, 0, 0);
  if( strcmp(zType, "NFC")==0 ) return ncStep(x, EMB_NOP_NFC, 0, 0);
  if( strcmp(zType, "NFKC")==0 ) return ncStep(x, EMB_NOP_NFKC, 0, 0);
  if( strcmp(zType, "Lowercase")==0 ){
    return ncStep(x, EMB_NOP_LOWER, 0, 0);
  }
  if( strcmp(zType, "StripAccents")==0 ){
    return ncStep(x, EMB_NOP_STRIP_ACCENTS, 0, 0);
  }
  if( strcmp(zType, "Strip")==0 ){
    int bLeft, bRight;
    uint32_t aArg[2];
    if( boolItem(x, pN, zType, "strip_left", -1, &bLeft)
     || boolItem(x, pN, zType, "strip_right", -1, &bRight) ){
      return -1;
    }
    aArg[0] = (uint32_t)bLeft;
    aArg[1] = (uint32_t)bRight;
    return ncStep(x, EMB_NOP_STRIP, aArg, 2);
  }
  if( strcmp(zType, "Prepend")==0 ){
    const char *z = strItem(pN, "prepend");
    uint32_t aArg[2];
    if( z==0 || !embUtf8Valid(z, strlen(z)) ){
      return ncError(x, "malformed normalizer: Prepend needs a string "
                     "\"prepend\"");
    }
    if( strlen(z)>4096 ){
      return ncError(x, "unsupported tokenizer feature: normalizer Prepend "
                     "of more than 4096 bytes");
    }
    if( ncData(x, z, strlen(z), 1, &aArg[0]) ) return -1;
    aArg[1] = (uint32_t)strlen(z);
    return ncStep(x, EMB_NOP_PREPEND, aArg, 2);
  }
  return ncError(x, "unsupported tokenizer feature: normalizer type '%s'",
                 zType);
}

void embNormCodeFree(EmbNormCode *p){
  embFree(p->aProg);
  embFree(p->aData);
  memset(p, 0, sizeof(*p));
}

int embNormCompile(const cJSON *pNormalizer, EmbNormCode *p, char **pzErr){
  Nc x;
  size_t i;
  memset(p, 0, sizeof(*p));
  memset(&x, 0, sizeof(x));
  x.p = p;
  x.pzErr = pzErr;
  if( ncNode(&x, pNormalizer, 0)==0 ) ncFlushMap(&x);
  for(i=0; i<x.nMap; i++) embFree(x.aMap[i].z);
  embFree(x.aMap);
  if( x.rc ){
    embNormCodeFree(p);
    return -1;
  }
  return 0;
}

int embNormConvert(EmbWriter *w, const cJSON *pNormalizer, char **pzErr){
  EmbNormCode c;
  uint64_t aShape[2];
  uint32_t off;
  Nc x;
  if( embNormCompile(pNormalizer, &c, pzErr) ) return -1;
  if( c.nStep==0 ){
    embNormCodeFree(&c);
    return 0;
  }
  if( c.nData==0 ){
    /* a tensor of one byte rather than none */
    memset(&x, 0, sizeof(x));
    x.p = &c;
    x.pzErr = pzErr;
    if( ncData(&x, "", 1, 1, &off) ){ embNormCodeFree(&c); return -1; }
  }
  aShape[0] = c.nStep;
  aShape[1] = EMB_NORM_STEP_WORDS;
  if( embWriterTensor(w, EMB_T_NORM_PROGRAM, EMB_DT_U32, 2, aShape, c.aProg,
                      1, pzErr) ){
    c.aProg = 0;
    embNormCodeFree(&c);
    return -1;
  }
  c.aProg = 0;
  aShape[0] = c.nData;
  if( embWriterTensor(w, EMB_T_NORM_DATA, EMB_DT_U8, 1, aShape, c.aData, 1,
                      pzErr) ){
    c.aData = 0;
    embNormCodeFree(&c);
    return -1;
  }
  c.aData = 0;
  embNormCodeFree(&c);
  return 0;
}
