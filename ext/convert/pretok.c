/*
** pretok.c: compile tokenizer.json's "pre_tokenizer" into the program
** that ext/tokenizer/pretok.c runs (models/FORMAT.md, "Pre-tokenizer
** programs").
**
**     {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
**      {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}]}
**        ->  WSSPLIT, METASPACE(always, split, "▁"), END
**
** HOW IT WORKS
** Each pre-tokenizer becomes one step (an op byte and its operands); a
** Sequence is flattened into its members' steps, in order, since Hugging
** Face applies them one after the other to every split.  The fields are
** read as Hugging Face's deserializers read them: Metaspace's replacement
** must be one character; prepend_scheme defaults to "always" and split to
** true; the older add_prefix_space false means "never" (and contradicts
** any other prepend_scheme, which Hugging Face refuses); str_rep is
** ignored.  Split needs behavior and invert, and only its String pattern
** is implemented.  Punctuation's behavior defaults to Isolated, Digits'
** individual_digits to false.
*/
#include <stdarg.h>
#include <string.h>

#include "alloc.h"
#include "format.h"
#include "convert/pretok.h"

/* The program under construction */
typedef struct PtProg PtProg;
struct PtProg {
  uint8_t *a;
  size_t n, nAlloc;
  int nStep;
  char *zErr;              /* the first error; bNoMem when none could be made */
  int bNoMem;
};

static int ptFail(PtProg *p, const char *zFmt, ...)
  __attribute__((format(printf, 2, 3)));
static int ptFail(PtProg *p, const char *zFmt, ...){
  va_list ap;
  if( p->zErr || p->bNoMem ) return -1;
  va_start(ap, zFmt);
  p->zErr = embVmprintf(zFmt, ap);
  va_end(ap);
  if( p->zErr==0 ) p->bNoMem = 1;
  return -1;
}

/* Append n bytes to the program */
static int ptPut(PtProg *p, const void *pData, size_t n){
  if( p->n+n>p->nAlloc ){
    size_t nNew = p->nAlloc ? p->nAlloc*2 : 64;
    uint8_t *aNew;
    while( nNew<p->n+n ) nNew *= 2;
    aNew = embRealloc(p->a, nNew);
    if( aNew==0 ){ p->bNoMem = 1; return -1; }
    p->a = aNew;
    p->nAlloc = nNew;
  }
  memcpy(p->a+p->n, pData, n);
  p->n += n;
  return 0;
}

/* Start a step of op eOp */
static int ptOp(PtProg *p, int eOp){
  uint8_t c = (uint8_t)eOp;
  if( ++p->nStep>EMB_PT_MAX_STEPS ){
    return ptFail(p, "unsupported tokenizer feature: pre_tokenizer with more "
                  "than %d steps", EMB_PT_MAX_STEPS);
  }
  return ptPut(p, &c, 1);
}

static const char *strField(const cJSON *pObj, const char *zKey){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  return cJSON_IsString(v) ? v->valuestring : 0;
}

static int isNone(const cJSON *v){ return v==0 || cJSON_IsNull(v); }

/* Boolean field zKey of pObj into *pb: bDefault when absent (or when
** bRequired, an error). */
static int ptBool(PtProg *p, const cJSON *pObj, const char *zType,
                  const char *zKey, int bDefault, int bRequired, int *pb){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  if( isNone(v) ){
    if( bRequired ){
      return ptFail(p, "malformed pre_tokenizer: %s has no '%s'", zType,
                    zKey);
    }
    *pb = bDefault;
    return 0;
  }
  if( !cJSON_IsBool(v) ){
    return ptFail(p, "malformed pre_tokenizer: %s.%s must be true or false",
                  zType, zKey);
  }
  *pb = cJSON_IsTrue(v);
  return 0;
}

/* A SplitDelimiterBehavior field into *pe */
static int ptBehavior(PtProg *p, const cJSON *pObj, const char *zType,
                      int eDefault, int bRequired, int *pe){
  static const struct { const char *zName; int e; } aB[] = {
    { "Removed", EMB_SPLIT_REMOVED }, { "Isolated", EMB_SPLIT_ISOLATED },
    { "MergedWithPrevious", EMB_SPLIT_PREVIOUS },
    { "MergedWithNext", EMB_SPLIT_NEXT }, { "Contiguous", EMB_SPLIT_CONTIG },
  };
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, "behavior");
  size_t k;
  if( isNone(v) ){
    if( bRequired ){
      return ptFail(p, "malformed pre_tokenizer: %s has no 'behavior'",
                    zType);
    }
    *pe = eDefault;
    return 0;
  }
  for(k=0; cJSON_IsString(v) && k<sizeof(aB)/sizeof(aB[0]); k++){
    if( strcmp(v->valuestring, aB[k].zName)==0 ){
      *pe = aB[k].e;
      return 0;
    }
  }
  return ptFail(p, "malformed pre_tokenizer: %s.behavior '%.60s' is none of "
                "Removed, Isolated, MergedWithPrevious, MergedWithNext, "
                "Contiguous", zType,
                cJSON_IsString(v) ? v->valuestring : "(not a string)");
}

/* The byte length of the one UTF-8 character z, or 0 when z is not one */
static size_t oneChar(const char *z){
  const uint8_t *a = (const uint8_t*)z;
  size_t n = strlen(z), k;
  size_t nWant = a[0]<0x80 ? 1 : a[0]>=0xF8 ? 0 : a[0]>=0xF0 ? 4
               : a[0]>=0xE0 ? 3 : a[0]>=0xC2 ? 2 : 0;
  if( n==0 || nWant!=n ) return 0;
  for(k=1; k<n; k++) if( (a[k] & 0xC0)!=0x80 ) return 0;
  return n;
}

static int ptMetaspace(PtProg *p, const cJSON *pT){
  const char *zRep = strField(pT, "replacement");
  const cJSON *v;
  int eScheme = EMB_PREPEND_ALWAYS, bSplit, bAdd;
  uint8_t aOp[3];
  size_t nRep;
  if( zRep==0 ){
    return ptFail(p, "malformed pre_tokenizer: Metaspace has no "
                  "'replacement'");
  }
  nRep = oneChar(zRep);
  if( nRep==0 ){
    return ptFail(p, "malformed pre_tokenizer: Metaspace.replacement '%.40s' "
                  "is not one character", zRep);
  }
  v = cJSON_GetObjectItemCaseSensitive(pT, "prepend_scheme");
  if( !isNone(v) ){
    const char *z = cJSON_IsString(v) ? v->valuestring : "";
    if( strcmp(z, "always")==0 ) eScheme = EMB_PREPEND_ALWAYS;
    else if( strcmp(z, "never")==0 ) eScheme = EMB_PREPEND_NEVER;
    else if( strcmp(z, "first")==0 ) eScheme = EMB_PREPEND_FIRST;
    else{
      return ptFail(p, "malformed pre_tokenizer: Metaspace.prepend_scheme "
                    "'%.40s' is none of first, always, never", z);
    }
  }
  if( ptBool(p, pT, "Metaspace", "add_prefix_space", 1, 0, &bAdd)
   || ptBool(p, pT, "Metaspace", "split", 1, 0, &bSplit) ){
    return -1;
  }
  if( !bAdd ){
    if( eScheme!=EMB_PREPEND_NEVER ){
      return ptFail(p, "malformed pre_tokenizer: Metaspace has "
                    "add_prefix_space false but prepend_scheme '%s' "
                    "(Hugging Face refuses it: add_prefix_space does not "
                    "match declared prepend_scheme)",
                    eScheme==EMB_PREPEND_FIRST ? "first" : "always");
    }
  }
  aOp[0] = (uint8_t)eScheme;
  aOp[1] = (uint8_t)bSplit;
  aOp[2] = (uint8_t)nRep;
  if( ptOp(p, EMB_PT_METASPACE) || ptPut(p, aOp, 3) || ptPut(p, zRep, nRep) ){
    return -1;
  }
  return 0;
}

static int ptSplit(PtProg *p, const cJSON *pT){
  const cJSON *pPat = cJSON_GetObjectItemCaseSensitive(pT, "pattern");
  const char *zPat = strField(pPat, "String");
  int eBehavior, bInvert;
  uint8_t aOp[4];
  size_t nPat;
  if( !cJSON_IsObject(pPat) ){
    return ptFail(p, "malformed pre_tokenizer: Split has no 'pattern'");
  }
  if( zPat==0 && strField(pPat, "Regex") ){
    return ptFail(p, "unsupported tokenizer feature: pre_tokenizer Split "
                  "with a Regex pattern ('%.60s'); only String patterns",
                  strField(pPat, "Regex"));
  }
  if( zPat==0 ){
    return ptFail(p, "malformed pre_tokenizer: Split.pattern must be "
                  "{\"String\": ...} or {\"Regex\": ...}");
  }
  nPat = strlen(zPat);
  if( nPat==0 || nPat>EMB_PT_MAX_PATTERN ){
    return ptFail(p, "unsupported tokenizer feature: pre_tokenizer Split on "
                  "a string of %d bytes (1 to %d)", (int)nPat,
                  EMB_PT_MAX_PATTERN);
  }
  if( ptBehavior(p, pT, "Split", 0, 1, &eBehavior)
   || ptBool(p, pT, "Split", "invert", 0, 1, &bInvert) ){
    return -1;
  }
  aOp[0] = (uint8_t)eBehavior;
  aOp[1] = (uint8_t)bInvert;
  aOp[2] = (uint8_t)(nPat & 0xFF);
  aOp[3] = (uint8_t)(nPat >> 8);
  if( ptOp(p, EMB_PT_SPLIT) || ptPut(p, aOp, 4) || ptPut(p, zPat, nPat) ){
    return -1;
  }
  return 0;
}

/* One pre-tokenizer (a Sequence: its members) */
static int ptOne(PtProg *p, const cJSON *pT, int nDepth){
  const char *zType = strField(pT, "type");
  if( !cJSON_IsObject(pT) || zType==0 ){
    return ptFail(p, "malformed pre_tokenizer: %s", cJSON_IsObject(pT)
                  ? "an object without \"type\"" : "not an object");
  }
  if( strcmp(zType, "Sequence")==0 ){
    const cJSON *pList = cJSON_GetObjectItemCaseSensitive(pT, "pretokenizers");
    const cJSON *v;
    if( !cJSON_IsArray(pList) ){
      return ptFail(p, "malformed pre_tokenizer: Sequence has no "
                    "'pretokenizers' list");
    }
    if( nDepth>32 ){
      return ptFail(p, "unsupported tokenizer feature: pre_tokenizer "
                    "Sequences nested more than 32 deep");
    }
    cJSON_ArrayForEach(v, pList){
      if( ptOne(p, v, nDepth+1) ) return -1;
    }
    return 0;
  }
  if( strcmp(zType, "WhitespaceSplit")==0 ) return ptOp(p, EMB_PT_WSSPLIT);
  if( strcmp(zType, "Whitespace")==0 ) return ptOp(p, EMB_PT_WHITESPACE);
  if( strcmp(zType, "Punctuation")==0 ){
    int e;
    uint8_t c;
    if( ptBehavior(p, pT, "Punctuation", EMB_SPLIT_ISOLATED, 0, &e) ) return -1;
    c = (uint8_t)e;
    return ptOp(p, EMB_PT_PUNCT) ? -1 : ptPut(p, &c, 1);
  }
  if( strcmp(zType, "Digits")==0 ){
    int b;
    uint8_t c;
    if( ptBool(p, pT, "Digits", "individual_digits", 0, 0, &b) ) return -1;
    c = (uint8_t)b;
    return ptOp(p, EMB_PT_DIGITS) ? -1 : ptPut(p, &c, 1);
  }
  if( strcmp(zType, "Split")==0 ) return ptSplit(p, pT);
  if( strcmp(zType, "Metaspace")==0 ) return ptMetaspace(p, pT);
  return ptFail(p, "unsupported tokenizer feature: pre_tokenizer type "
                "'%.60s' (the Unigram path reads Sequence, WhitespaceSplit, "
                "Whitespace, Punctuation, Digits, Split on a string and "
                "Metaspace)", zType);
}

int embPretokCompile(const cJSON *pPre, uint8_t **paProg, size_t *pnProg,
                     char **pzErr){
  PtProg p;
  uint8_t cEnd = EMB_PT_END;
  memset(&p, 0, sizeof(p));
  *paProg = 0;
  *pnProg = 0;
  *pzErr = 0;
  if( (!isNone(pPre) && ptOne(&p, pPre, 0)) || ptPut(&p, &cEnd, 1) ){
    embFree(p.a);
    *pzErr = p.bNoMem ? 0 : p.zErr;
    if( p.bNoMem ) embFree(p.zErr);
    return -1;
  }
  *paProg = p.a;
  *pnProg = p.n;
  return 0;
}
