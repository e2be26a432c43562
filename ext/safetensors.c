/*
** safetensors.c: a strict parser of the JSON header of a safetensors file.
**
**     EmbStHeader h;
**     char *zErr;
**     if( embStParse(aFile+8, nHeader, &h, &zErr)==0 ){
**       ... h.aTensor[0].zName, h.aTensor[0].iBegin ...
**       embStClear(&h);
**     }
**
** HOW IT WORKS
** A recursive-descent parser of the one shape of JSON the format uses: an
** object whose values are tensor entries (objects with "dtype", "shape",
** "data_offsets" and keys we ignore) or the "__metadata__" object of
** string values.  Nothing else is accepted, so no general JSON tree is
** built and the recursion depth is bounded by ST_MAXDEPTH, not by the
** input.  The input is read through an explicit cursor that is checked
** against the length before every byte, since the header is not
** NUL-terminated.
**
** Decoded strings go into one pool allocated up front with n+1 bytes.  That
** is always enough: every JSON string decodes to at most as many bytes as
** its quoted form minus one (an escape never decodes to more bytes than it
** is written with), which leaves room for its NUL.  Strings the caller does
** not need (keys of tensor entries, dtype names, ignored values) are
** decoded to validate them and then the pool cursor is moved back.
**
** Duplicate names are found after parsing by sorting pointers to them
** (O(n log n) even for a hostile header, unlike a hash table).
*/
#include "safetensors.h"
#include "model.h"
#include "alloc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_ERROR 1
#define ST_NOMEM 2

/* The deepest a value may nest: the top object (1), a tensor entry (2) and
** an array inside it (3). */
#define ST_MAXDEPTH 3

typedef struct StParse StParse;
struct StParse {
  const uint8_t *z;       /* the header */
  size_t n;               /* its length */
  size_t i;               /* the read cursor: z[i] is the next byte */
  char *zOut;             /* the write cursor in pOut->zPool */
  int rc;                 /* 0, ST_ERROR or ST_NOMEM */
  char *zErr;             /* the message when rc==ST_ERROR */
  EmbStHeader *pOut;
  int nTensorAlloc;       /* slots allocated in pOut->aTensor */
  int nMetaAlloc;         /* slots allocated in pOut->aMeta */
};

static const struct {
  const char *zName;
  int eType;
  int nByte;
} aStType[] = {
  { "F32",  EMB_DT_F32,  4 },
  { "F16",  EMB_DT_F16,  2 },
  { "BF16", EMB_DT_BF16, 2 },
  { "U32",  EMB_DT_U32,  4 },
  { "U8",   EMB_DT_U8,   1 },
  { "I8",   EMB_DT_I8,   1 },
  { "F64",  EMB_DT_F64,  8 },
  { "I32",  EMB_DT_I32,  4 },
  { "I64",  EMB_DT_I64,  8 },
};
#define ST_NTYPE ((int)(sizeof(aStType)/sizeof(aStType[0])))

int embStDtypeSize(int eType){
  int k;
  for(k=0; k<ST_NTYPE; k++){
    if( aStType[k].eType==eType ) return aStType[k].nByte;
  }
  return 0;
}

const char *embStDtypeName(int eType){
  int k;
  for(k=0; k<ST_NTYPE; k++){
    if( aStType[k].eType==eType ) return aStType[k].zName;
  }
  return "?";
}

/* Record an error message (from embMprintf(), NULL meaning out of memory)
** unless one is already recorded.  Returns 1 so callers can return it. */
static int stSetError(StParse *p, char *zMsg){
  if( p->rc==0 ){
    p->rc = zMsg ? ST_ERROR : ST_NOMEM;
    p->zErr = zMsg;
  }else{
    embFree(zMsg);
  }
  return 1;
}

/* ST_FAIL(p, "format", ...): fail with a message.  A macro so that the
** format is a literal at each call site and the compiler checks it. */
#define ST_FAIL(P, ...) stSetError((P), embMprintf(__VA_ARGS__))

static int stNoMem(StParse *p){
  if( p->rc==0 ) p->rc = ST_NOMEM;
  return 1;
}

/* Byte offsets are printed with %llu */
#define ST_AT(x) ((unsigned long long)(x))

/* The next byte, or -1 at the end of the header. */
static int stPeek(const StParse *p){
  return p->i<p->n ? p->z[p->i] : -1;
}

static int stIsDigit(int c){
  return c>='0' && c<='9';
}

static void stSkipSpace(StParse *p){
  while( p->i<p->n ){
    uint8_t c = p->z[p->i];
    if( c!=' ' && c!='\t' && c!='\n' && c!='\r' ) break;
    p->i++;
  }
}

/* Fail with "expected WHAT at byte N of the header, found X". */
static int stExpected(StParse *p, const char *zWhat){
  char zFound[32];
  int c = stPeek(p);
  if( c<0 ){
    snprintf(zFound, sizeof(zFound), "the end of the header");
  }else if( c>0x20 && c<0x7f ){
    snprintf(zFound, sizeof(zFound), "'%c'", c);
  }else{
    snprintf(zFound, sizeof(zFound), "byte 0x%02x", (unsigned)c);
  }
  return ST_FAIL(p, "expected %s at byte %llu of the header, found %s",
                 zWhat, ST_AT(p->i), zFound);
}

/* Skip spaces, then require the byte c and step over it. */
static int stExpect(StParse *p, int c, const char *zWhat){
  stSkipSpace(p);
  if( stPeek(p)!=c ) return stExpected(p, zWhat);
  p->i++;
  stSkipSpace(p);
  return 0;
}

/* The length of the valid UTF-8 sequence at z[0..n) whose first byte is
** 0x80 or more, or 0 if it is not valid (overlong forms, surrogates and
** code points past U+10FFFF are not). */
static int stUtf8Len(const uint8_t *z, size_t n){
  uint8_t c = z[0], lo = 0x80, hi = 0xbf;
  int len, k;
  if( c<0xc2 ){
    return 0;
  }else if( c<0xe0 ){
    len = 2;
  }else if( c<0xf0 ){
    len = 3;
    if( c==0xe0 ) lo = 0xa0;
    if( c==0xed ) hi = 0x9f;
  }else if( c<0xf5 ){
    len = 4;
    if( c==0xf0 ) lo = 0x90;
    if( c==0xf4 ) hi = 0x8f;
  }else{
    return 0;
  }
  if( (size_t)len>n || z[1]<lo || z[1]>hi ) return 0;
  for(k=2; k<len; k++){
    if( (z[k]&0xc0)!=0x80 ) return 0;
  }
  return len;
}

/* Read 4 hex digits at z[i..i+4) into *pv.  Returns 0, or 1 if there are
** not 4 hex digits there. */
static int stHex4(const uint8_t *z, size_t n, size_t i, uint32_t *pv){
  uint32_t v = 0;
  int k;
  if( i>n || n-i<4 ) return 1;
  for(k=0; k<4; k++){
    uint8_t c = z[i+k];
    v <<= 4;
    if( c>='0' && c<='9' )      v += (uint32_t)(c-'0');
    else if( c>='a' && c<='f' ) v += (uint32_t)(c-'a'+10);
    else if( c>='A' && c<='F' ) v += (uint32_t)(c-'A'+10);
    else return 1;
  }
  *pv = v;
  return 0;
}

/* Write code point c (not a surrogate, at most U+10FFFF) as UTF-8 at z.
** Returns the number of bytes written. */
static int stPutUtf8(char *z, uint32_t c){
  if( c<0x80 ){
    z[0] = (char)c;
    return 1;
  }
  if( c<0x800 ){
    z[0] = (char)(0xc0 | (c>>6));
    z[1] = (char)(0x80 | (c&0x3f));
    return 2;
  }
  if( c<0x10000 ){
    z[0] = (char)(0xe0 | (c>>12));
    z[1] = (char)(0x80 | ((c>>6)&0x3f));
    z[2] = (char)(0x80 | (c&0x3f));
    return 3;
  }
  z[0] = (char)(0xf0 | (c>>18));
  z[1] = (char)(0x80 | ((c>>12)&0x3f));
  z[2] = (char)(0x80 | ((c>>6)&0x3f));
  z[3] = (char)(0x80 | (c&0x3f));
  return 4;
}

/*
** Decode the JSON string at the cursor (which is on its opening quote) into
** the pool and set *pz to it, NUL-terminated.  The cursor moves past the
** closing quote.  Returns 0 or 1 on error.  The caller may give the pool
** space back by resetting p->zOut to *pz.
*/
static int stString(StParse *p, char **pz){
  const uint8_t *z = p->z;
  size_t n = p->n;
  size_t i = p->i + 1;
  char *zStart = p->zOut;
  char *zOut = zStart;
  for(;;){
    uint8_t c;
    if( i>=n ){
      return ST_FAIL(p, "unterminated string at byte %llu of the header",
                     ST_AT(p->i));
    }
    c = z[i];
    if( c=='"' ) break;
    if( c<0x20 ){
      return ST_FAIL(p, "control character 0x%02x in a string at byte %llu "
                     "of the header (it must be escaped)",
                     (unsigned)c, ST_AT(i));
    }
    if( c=='\\' ){
      uint32_t v, lo;
      if( i+1>=n ){
        return ST_FAIL(p, "unterminated string at byte %llu of the header",
                       ST_AT(p->i));
      }
      switch( z[i+1] ){
        case '"':  *zOut++ = '"';  i += 2; break;
        case '\\': *zOut++ = '\\'; i += 2; break;
        case '/':  *zOut++ = '/';  i += 2; break;
        case 'b':  *zOut++ = '\b'; i += 2; break;
        case 'f':  *zOut++ = '\f'; i += 2; break;
        case 'n':  *zOut++ = '\n'; i += 2; break;
        case 'r':  *zOut++ = '\r'; i += 2; break;
        case 't':  *zOut++ = '\t'; i += 2; break;
        case 'u':
          if( stHex4(z, n, i+2, &v) ){
            return ST_FAIL(p, "bad \\u escape at byte %llu of the header "
                           "(it needs 4 hex digits)", ST_AT(i));
          }
          if( v>=0xdc00 && v<=0xdfff ){
            return ST_FAIL(p, "unpaired low surrogate \\u%04x at byte %llu "
                           "of the header", (unsigned)v, ST_AT(i));
          }
          if( v>=0xd800 && v<=0xdbff ){
            if( i+12>n || z[i+6]!='\\' || z[i+7]!='u'
             || stHex4(z, n, i+8, &lo) || lo<0xdc00 || lo>0xdfff ){
              return ST_FAIL(p, "high surrogate \\u%04x at byte %llu of the "
                             "header is not followed by a low surrogate",
                             (unsigned)v, ST_AT(i));
            }
            v = 0x10000 + ((v-0xd800)<<10) + (lo-0xdc00);
            i += 6;
          }
          if( v==0 ){
            return ST_FAIL(p, "\\u0000 at byte %llu of the header: names and "
                           "values may not contain NUL", ST_AT(i));
          }
          zOut += stPutUtf8(zOut, v);
          i += 6;
          break;
        default:
          return ST_FAIL(p, "bad escape '\\%c' at byte %llu of the header",
                         z[i+1]>0x20 && z[i+1]<0x7f ? z[i+1] : '?',
                         ST_AT(i));
      }
    }else if( c<0x80 ){
      *zOut++ = (char)c;
      i++;
    }else{
      int len = stUtf8Len(z+i, n-i);
      if( len==0 ){
        return ST_FAIL(p, "invalid UTF-8 in a string at byte %llu of the "
                       "header", ST_AT(i));
      }
      memcpy(zOut, z+i, (size_t)len);
      zOut += len;
      i += (size_t)len;
    }
  }
  *zOut++ = 0;
  p->zOut = zOut;
  p->i = i+1;
  *pz = zStart;
  return 0;
}

/* Read a non-negative integer that fits 64 bits into *pv. */
static int stUint(StParse *p, uint64_t *pv){
  size_t i0 = p->i;
  uint64_t v = 0;
  int c = stPeek(p);
  if( c=='-' ){
    return ST_FAIL(p, "negative number at byte %llu of the header "
                   "(sizes and offsets are >= 0)", ST_AT(i0));
  }
  if( !stIsDigit(c) ) return stExpected(p, "a non-negative integer");
  if( c=='0' && p->i+1<p->n && stIsDigit(p->z[p->i+1]) ){
    return ST_FAIL(p, "number with a leading zero at byte %llu of the header",
                   ST_AT(i0));
  }
  while( p->i<p->n && stIsDigit(p->z[p->i]) ){
    uint64_t d = (uint64_t)(p->z[p->i] - '0');
    if( v>(UINT64_MAX-d)/10 ){
      return ST_FAIL(p, "number at byte %llu of the header does not fit "
                     "64 bits", ST_AT(i0));
    }
    v = v*10 + d;
    p->i++;
  }
  c = stPeek(p);
  if( c=='.' || c=='e' || c=='E' ){
    return ST_FAIL(p, "number at byte %llu of the header is not an integer",
                   ST_AT(i0));
  }
  *pv = v;
  return 0;
}

/*
** Read an array of at most nMax non-negative integers into aOut[], their
** count into *pn.  zWhat ("shape") and zName (the tensor) are for messages.
*/
static int stUintList(StParse *p, uint64_t *aOut, int nMax, int *pn,
                      const char *zWhat, const char *zName){
  int n = 0;
  if( stPeek(p)!='[' ){
    return ST_FAIL(p, "\"%s\" of tensor '%s' at byte %llu of the header is "
                   "not an array", zWhat, zName, ST_AT(p->i));
  }
  p->i++;
  stSkipSpace(p);
  if( stPeek(p)==']' ){
    p->i++;
  }else{
    for(;;){
      int c;
      stSkipSpace(p);
      if( n==nMax ){
        return ST_FAIL(p, "\"%s\" of tensor '%s' has more than %d entries "
                       "(byte %llu of the header)", zWhat, zName, nMax,
                       ST_AT(p->i));
      }
      if( stUint(p, &aOut[n]) ) return 1;
      n++;
      stSkipSpace(p);
      c = stPeek(p);
      if( c==']' ){ p->i++; break; }
      if( c!=',' ) return stExpected(p, "',' or ']'");
      p->i++;
    }
  }
  *pn = n;
  return 0;
}

/* Step over a JSON number (any number: its value is not used). */
static int stNumber(StParse *p){
  if( stPeek(p)=='-' ) p->i++;
  if( stPeek(p)=='0' ){
    p->i++;
  }else if( stIsDigit(stPeek(p)) ){
    while( stIsDigit(stPeek(p)) ) p->i++;
  }else{
    return stExpected(p, "a digit");
  }
  if( stPeek(p)=='.' ){
    p->i++;
    if( !stIsDigit(stPeek(p)) ) return stExpected(p, "a digit");
    while( stIsDigit(stPeek(p)) ) p->i++;
  }
  if( stPeek(p)=='e' || stPeek(p)=='E' ){
    p->i++;
    if( stPeek(p)=='+' || stPeek(p)=='-' ) p->i++;
    if( !stIsDigit(stPeek(p)) ) return stExpected(p, "a digit");
    while( stIsDigit(stPeek(p)) ) p->i++;
  }
  return 0;
}

/*
** Validate and step over any JSON value (an ignored key's).  A container
** here would sit at nesting level iDepth, which may not exceed ST_MAXDEPTH.
*/
static int stSkipValue(StParse *p, int iDepth){
  int c = stPeek(p);
  if( c=='{' || c=='[' ){
    int cEnd = c=='{' ? '}' : ']';
    if( iDepth>ST_MAXDEPTH ){
      return ST_FAIL(p, "value nested deeper than the format allows at byte "
                     "%llu of the header", ST_AT(p->i));
    }
    p->i++;
    stSkipSpace(p);
    if( stPeek(p)==cEnd ){
      p->i++;
      return 0;
    }
    for(;;){
      int c2;
      stSkipSpace(p);
      if( c=='{' ){
        char *zKey;
        if( stPeek(p)!='"' ) return stExpected(p, "a key");
        if( stString(p, &zKey) ) return 1;
        p->zOut = zKey;
        if( stExpect(p, ':', "':'") ) return 1;
      }
      if( stSkipValue(p, iDepth+1) ) return 1;
      stSkipSpace(p);
      c2 = stPeek(p);
      if( c2==cEnd ){
        p->i++;
        return 0;
      }
      if( c2!=',' ) return stExpected(p, c=='{' ? "',' or '}'" : "',' or ']'");
      p->i++;
    }
  }
  if( c=='"' ){
    char *z;
    if( stString(p, &z) ) return 1;
    p->zOut = z;
    return 0;
  }
  if( c=='-' || stIsDigit(c) ) return stNumber(p);
  if( c=='t' || c=='f' || c=='n' ){
    const char *zLit = c=='t' ? "true" : c=='f' ? "false" : "null";
    size_t nLit = strlen(zLit);
    if( p->n-p->i>=nLit && memcmp(p->z+p->i, zLit, nLit)==0 ){
      p->i += nLit;
      return 0;
    }
  }
  return stExpected(p, "a value");
}

/* Make room for one more element in the array *pa of *pnAlloc elements of
** szElem bytes, nUsed of them in use. */
static int stGrow(StParse *p, void **pa, int *pnAlloc, int nUsed,
                  size_t szElem){
  int nNew;
  void *aNew;
  if( nUsed<*pnAlloc ) return 0;
  if( *pnAlloc>INT_MAX/4 ){
    return ST_FAIL(p, "too many entries in the header (more than %d)",
                   *pnAlloc);
  }
  nNew = *pnAlloc ? *pnAlloc*2 : 16;
  aNew = embRealloc(*pa, (uint64_t)nNew*szElem);
  if( aNew==0 ) return stNoMem(p);
  *pa = aNew;
  *pnAlloc = nNew;
  return 0;
}

/* Read the "dtype" string of tensor pT. */
static int stDtype(StParse *p, EmbStTensor *pT){
  char *zType;
  size_t i0 = p->i;
  int k;
  if( stPeek(p)!='"' ){
    return ST_FAIL(p, "\"dtype\" of tensor '%s' at byte %llu of the header "
                   "is not a string", pT->zName, ST_AT(i0));
  }
  if( stString(p, &zType) ) return 1;
  for(k=0; k<ST_NTYPE; k++){
    if( strcmp(zType, aStType[k].zName)==0 ) break;
  }
  if( k==ST_NTYPE ){
    return ST_FAIL(p, "tensor '%s' has dtype '%s' (byte %llu of the header); "
                   "sqlite-embed reads F32, F16, BF16, U32, U8, I8, F64, I32 and I64",
                   pT->zName, zType, ST_AT(i0));
  }
  pT->eType = aStType[k].eType;
  p->zOut = zType;
  return 0;
}

/*
** Read the entry of tensor zName (whose name started at byte iOfs) at the
** cursor and append it to pOut->aTensor.
*/
static int stTensor(StParse *p, const char *zName, size_t iOfs){
  EmbStHeader *pOut = p->pOut;
  EmbStTensor t;
  unsigned seen = 0;        /* 1: dtype, 2: shape, 4: data_offsets */
  void *a;

  memset(&t, 0, sizeof(t));
  t.zName = zName;
  t.iOfs = iOfs;
  if( stPeek(p)!='{' ){
    return ST_FAIL(p, "tensor '%s' at byte %llu of the header is not an "
                   "object", zName, ST_AT(iOfs));
  }
  p->i++;
  stSkipSpace(p);
  if( stPeek(p)=='}' ){
    p->i++;
  }else{
    for(;;){
      char *zKey;
      size_t iKey;
      unsigned bit = 0;
      int c;
      stSkipSpace(p);
      iKey = p->i;
      if( stPeek(p)!='"' ) return stExpected(p, "a key");
      if( stString(p, &zKey) ) return 1;
      if( stExpect(p, ':', "':'") ) return 1;
      if( strcmp(zKey, "dtype")==0 ) bit = 1;
      else if( strcmp(zKey, "shape")==0 ) bit = 2;
      else if( strcmp(zKey, "data_offsets")==0 ) bit = 4;
      if( seen & bit ){
        return ST_FAIL(p, "tensor '%s' has a second \"%s\" at byte %llu of "
                       "the header", zName, zKey, ST_AT(iKey));
      }
      seen |= bit;
      p->zOut = zKey;       /* the key is not needed any more */
      if( bit==1 ){
        if( stDtype(p, &t) ) return 1;
      }else if( bit==2 ){
        if( stUintList(p, t.aShape, EMB_ST_MAXDIM, &t.nDim, "shape", zName) ){
          return 1;
        }
      }else if( bit==4 ){
        uint64_t aOff[2];
        int nOff = 0;
        size_t i0 = p->i;
        if( stUintList(p, aOff, 2, &nOff, "data_offsets", zName) ) return 1;
        if( nOff!=2 ){
          return ST_FAIL(p, "\"data_offsets\" of tensor '%s' at byte %llu of "
                         "the header has %d entries, not 2", zName,
                         ST_AT(i0), nOff);
        }
        t.iBegin = aOff[0];
        t.iEnd = aOff[1];
      }else{
        if( stSkipValue(p, ST_MAXDEPTH) ) return 1;
      }
      stSkipSpace(p);
      c = stPeek(p);
      if( c=='}' ){
        p->i++;
        break;
      }
      if( c!=',' ) return stExpected(p, "',' or '}'");
      p->i++;
    }
  }
  if( (seen & 7)!=7 ){
    return ST_FAIL(p, "tensor '%s' at byte %llu of the header has no \"%s\"",
                   zName, ST_AT(iOfs),
                   !(seen&1) ? "dtype" : !(seen&2) ? "shape" : "data_offsets");
  }
  a = pOut->aTensor;
  if( stGrow(p, &a, &p->nTensorAlloc, pOut->nTensor, sizeof(t)) ) return 1;
  pOut->aTensor = a;
  pOut->aTensor[pOut->nTensor++] = t;
  return 0;
}

/* Read the "__metadata__" object at the cursor into pOut->aMeta. */
static int stMetadata(StParse *p){
  EmbStHeader *pOut = p->pOut;
  if( stPeek(p)!='{' ){
    return ST_FAIL(p, "__metadata__ at byte %llu of the header is not an "
                   "object", ST_AT(p->i));
  }
  p->i++;
  stSkipSpace(p);
  if( stPeek(p)=='}' ){
    p->i++;
    return 0;
  }
  for(;;){
    char *zKey, *zValue;
    size_t iKey;
    void *a;
    int c;
    stSkipSpace(p);
    iKey = p->i;
    if( stPeek(p)!='"' ) return stExpected(p, "a key");
    if( stString(p, &zKey) ) return 1;
    if( stExpect(p, ':', "':'") ) return 1;
    if( stPeek(p)!='"' ){
      return ST_FAIL(p, "__metadata__ value of '%s' at byte %llu of the "
                     "header is not a string", zKey, ST_AT(p->i));
    }
    if( stString(p, &zValue) ) return 1;
    a = pOut->aMeta;
    if( stGrow(p, &a, &p->nMetaAlloc, pOut->nMeta, sizeof(EmbStMeta)) ){
      return 1;
    }
    pOut->aMeta = a;
    pOut->aMeta[pOut->nMeta].zKey = zKey;
    pOut->aMeta[pOut->nMeta].zValue = zValue;
    pOut->aMeta[pOut->nMeta].iOfs = iKey;
    pOut->nMeta++;
    stSkipSpace(p);
    c = stPeek(p);
    if( c=='}' ){
      p->i++;
      return 0;
    }
    if( c!=',' ) return stExpected(p, "',' or '}'");
    p->i++;
  }
}

/* Parse the whole header. */
static int stTop(StParse *p){
  stSkipSpace(p);
  if( stPeek(p)!='{' ) return stExpected(p, "'{'");
  p->i++;
  stSkipSpace(p);
  if( stPeek(p)=='}' ){
    p->i++;
  }else{
    for(;;){
      char *zKey;
      size_t iKey;
      int c;
      stSkipSpace(p);
      iKey = p->i;
      if( stPeek(p)!='"' ){
        return stExpected(p, "a tensor name or \"__metadata__\"");
      }
      if( stString(p, &zKey) ) return 1;
      if( stExpect(p, ':', "':'") ) return 1;
      if( strcmp(zKey, "__metadata__")==0 ){
        if( p->pOut->hasMeta ){
          return ST_FAIL(p, "a second __metadata__ at byte %llu of the "
                         "header", ST_AT(iKey));
        }
        p->pOut->hasMeta = 1;
        p->zOut = zKey;
        if( stMetadata(p) ) return 1;
      }else{
        if( zKey[0]==0 ){
          return ST_FAIL(p, "empty tensor name at byte %llu of the header",
                         ST_AT(iKey));
        }
        if( stTensor(p, zKey, iKey) ) return 1;
      }
      stSkipSpace(p);
      c = stPeek(p);
      if( c=='}' ){
        p->i++;
        break;
      }
      if( c!=',' ) return stExpected(p, "',' or '}'");
      p->i++;
    }
  }
  stSkipSpace(p);
  if( p->i<p->n ){
    return ST_FAIL(p, "unexpected data at byte %llu of the header, after "
                   "the closing '}'", ST_AT(p->i));
  }
  return 0;
}

/* qsort() order of pointers to names: by name, then by position. */
static int stCompareName(const void *pA, const void *pB){
  const char *const *a = *(const char *const *const *)pA;
  const char *const *b = *(const char *const *const *)pB;
  int c = strcmp(*a, *b);
  if( c ) return c;
  return a<b ? -1 : a>b;
}

/*
** Find a repeated name among the n elements of szElem bytes at aBase, each
** of which starts with a "const char *" name.  Sets *piDup to the index of
** the first element whose name an earlier one has, or to -1.  Returns 0, or
** 1 when out of memory.
*/
static int stFindDuplicate(StParse *p, const void *aBase, int n,
                           size_t szElem, int *piDup){
  const char *const **ap;
  int i, iDup = -1;
  *piDup = -1;
  if( n<2 ) return 0;
  ap = embMalloc((uint64_t)n*sizeof(*ap));
  if( ap==0 ) return stNoMem(p);
  for(i=0; i<n; i++){
    ap[i] = (const char *const *)((const char*)aBase + (size_t)i*szElem);
  }
  qsort(ap, (size_t)n, sizeof(*ap), stCompareName);
  for(i=1; i<n; i++){
    if( strcmp(*ap[i-1], *ap[i])==0 ){
      int iThis = (int)(((const char*)ap[i] - (const char*)aBase)/szElem);
      if( iDup<0 || iThis<iDup ) iDup = iThis;
    }
  }
  embFree(ap);
  *piDup = iDup;
  return 0;
}

static int stCheckDuplicates(StParse *p){
  EmbStHeader *pOut = p->pOut;
  int iDup;
  if( stFindDuplicate(p, pOut->aTensor, pOut->nTensor, sizeof(EmbStTensor),
                      &iDup) ){
    return 1;
  }
  if( iDup>=0 ){
    return ST_FAIL(p, "a second tensor named '%s' at byte %llu of the header",
                   pOut->aTensor[iDup].zName, ST_AT(pOut->aTensor[iDup].iOfs));
  }
  if( stFindDuplicate(p, pOut->aMeta, pOut->nMeta, sizeof(EmbStMeta),
                      &iDup) ){
    return 1;
  }
  if( iDup>=0 ){
    return ST_FAIL(p, "a second __metadata__ key '%s' at byte %llu of the "
                   "header", pOut->aMeta[iDup].zKey,
                   ST_AT(pOut->aMeta[iDup].iOfs));
  }
  return 0;
}

int embStParse(const uint8_t *z, uint64_t n, EmbStHeader *pOut, char **pzErr){
  StParse s;
  memset(pOut, 0, sizeof(*pOut));
  memset(&s, 0, sizeof(s));
  *pzErr = 0;
  if( n>=(uint64_t)SIZE_MAX ){
    *pzErr = embMprintf("the header is too large (%llu bytes)", ST_AT(n));
    return ST_ERROR;
  }
  s.z = z;
  s.n = (size_t)n;
  s.pOut = pOut;
  pOut->zPool = embMalloc(n+1);
  if( pOut->zPool==0 ) return ST_NOMEM;
  s.zOut = pOut->zPool;
  if( stTop(&s)==0 ) stCheckDuplicates(&s);
  if( s.rc ){
    embStClear(pOut);
    *pzErr = s.zErr;
    return s.rc;
  }
  return 0;
}

void embStClear(EmbStHeader *p){
  embFree(p->zPool);
  embFree(p->aTensor);
  embFree(p->aMeta);
  memset(p, 0, sizeof(*p));
}
