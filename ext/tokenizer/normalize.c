/*
** normalize.c: run a normalizer program (normalize.h) over a text, as
** Hugging Face's tokenizers@0.23.2 runs the normalizers of tokenizer.json.
**
**     "  Héllo,  WORLD!  "  --BertNormalizer(lowercase), Replace("!"," ! "),
**                             Replace(/\s+/, " "), Strip-->  "hello, world !"
**
** HOW IT WORKS
** Each step reads the whole text and writes the next one, into the two
** buffers of an EmbNormBuf in turn (the first step reads the caller's
** text), so a text costs one pass a step and no allocation once the buffers
** have grown.  The converter has already folded what can be folded: a run
** of Replace steps with one-character patterns is one MAP step, a table
** look-up per character.  Every step works on whole characters of valid
** UTF-8 and writes valid UTF-8.
**
** BertNormalizer is HF's four steps in one pass, from the same character
** data as bert.c (unicode.h): clean_text drops controls and makes white
** space ' ', handle_chinese_chars puts spaces around CJK ideographs,
** strip_accents decomposes (NFD) and drops non-spacing marks, lowercase
** lowers.  NFD's canonical ordering is kept as bert.c keeps it: a mark of
** non-zero class that survives is inserted at its place in the trailing
** run of such marks of the output.
**
** Precompiled (SentencePiece's charsmap) goes over extended grapheme
** clusters (unicode_norm.c) as HF does: a cluster of fewer than 6 bytes is
** replaced whole by the string of the shortest key that is a prefix of it,
** else (or with no such key) each character by its own key's string.  The
** keys are in a hash table; a byte table says which key lengths start
** with each byte, so most characters cost one table read, and ASCII
** followed by ASCII skips the cluster rules.
**
** NFD, NFKD, NFC and NFKC decode the text into code points tagged with
** their combining class, decompose, sort each run of non-starters by class
** (by counting when a run is long, so that the work stays linear), compose
** for NFC and NFKC, and encode again.
**
** The program is untrusted (it comes from the model file): embNormCheck()
** checks every step, offset, length, string and table once, at open, so
** that embNormApply() needs no checks of its own -- but for Precompiled's
** slots, which are many: each is checked when a look-up finds it.
*/
#include "tokenizer/normalize.h"
#include "model.h"
#include "unicode.h"
#include "unicode_norm.h"
#include "alloc.h"

#include <string.h>

#define NORM_MAX_STRING  4096       /* bytes of a string in norm.data */
#define NORM_MAX_MAP     (1u<<20)   /* entries of a MAP table */
#define NORM_MAX_RUN     (1u<<20)   /* n of RUN's X{n,} */

void embNormBufInit(EmbNormBuf *p){
  memset(p, 0, sizeof(*p));
}

void embNormBufFree(EmbNormBuf *p){
  embFree(p->z);
  embFree(p->zAux);
  embFree(p->aCp);
  memset(p, 0, sizeof(*p));
}

/* The text a step writes: grown with embRealloc(). */
typedef struct NormOut NormOut;
struct NormOut {
  char *z;
  size_t n;
  size_t nAlloc;
};

/* Make room for nMore more bytes (and a NUL).  0, or -1 out of memory. */
static int outRoom(NormOut *o, size_t nMore){
  size_t nNew;
  char *zNew;
  if( nMore < o->nAlloc && o->n < o->nAlloc - nMore ) return 0;
  if( nMore > ((size_t)1<<62) - o->n ) return -1;
  nNew = o->nAlloc ? o->nAlloc : 256;
  while( nNew <= o->n + nMore ) nNew *= 2;
  zNew = embRealloc(o->z, nNew);
  if( zNew==0 ) return -1;
  o->z = zNew;
  o->nAlloc = nNew;
  return 0;
}

static int outBytes(NormOut *o, const void *z, size_t n){
  if( outRoom(o, n) ) return -1;
  memcpy(o->z + o->n, z, n);
  o->n += n;
  return 0;
}

static int outChar(NormOut *o, uint32_t c){
  if( outRoom(o, 4) ) return -1;
  o->n += embUtf8Put(c, (uint8_t*)o->z + o->n);
  return 0;
}

/* Argument k (1..7) of step i */
static uint32_t stepArg(const EmbNorm *p, size_t i, int k){
  return embU32At(p->aProg, i*EMB_NORM_STEP_WORDS + (size_t)k);
}

/* ---------------------------------------------------------------- BERT */

/* BertNormalizer's bits of each ASCII character */
#define NA_CTRL  1
#define NA_WS    2
#define NA_UPPER 4
static uint8_t bertAscii(uint32_t c){
  if( c=='\t' || c=='\n' || c=='\r' || c==' ' ) return NA_WS;
  if( c==0x0B || c==0x0C ) return NA_CTRL|NA_WS;
  if( c<0x20 || c==0x7F ) return NA_CTRL;
  if( c>='A' && c<='Z' ) return NA_UPPER;
  return 0;
}

/* The state of one BertNormalizer pass */
typedef struct NormBert NormBert;
struct NormBert {
  NormOut *o;
  unsigned m;          /* EMB_NORM_* */
  size_t iRun;         /* where the output's trailing run of non-starters
                       ** begins */
};

/* The start of the character that ends at z[i] (i>0) */
static size_t charBefore(const uint8_t *z, size_t i){
  do{ i--; }while( i>0 && (z[i] & 0xC0)==0x80 );
  return i;
}

/* Append c of combining class ccc (0 unless NFD applies): at the end, or
** for ccc>0 at its canonical place in the trailing run. */
static int bertPut(NormBert *b, uint32_t c, int ccc){
  NormOut *o = b->o;
  uint8_t a[4];
  size_t n = embUtf8Put(c, a), iAt;
  if( outRoom(o, n) ) return -1;
  iAt = o->n;
  if( ccc>0 ){
    while( iAt>b->iRun ){
      size_t iPrev = charBefore((uint8_t*)o->z, iAt), j = iPrev;
      uint32_t cPrev = embUtf8Next((uint8_t*)o->z, iAt, &j);
      if( embBertCcc(cPrev)<=ccc ) break;
      iAt = iPrev;
    }
    memmove(o->z+iAt+n, o->z+iAt, o->n-iAt);
  }
  memcpy(o->z+iAt, a, n);
  o->n += n;
  if( ccc==0 ) b->iRun = o->n;
  return 0;
}

/* Code point c (BERT class bits cb), once clean_text and
** handle_chinese_chars are done: strip_accents, then lowercase. */
static int bertChar(NormBert *b, uint32_t c, unsigned cb){
  uint32_t aDec[EMB_BERT_MAXNFD];
  int nDec = 1, k;
  aDec[0] = c;
  if( (b->m & EMB_NORM_STRIP) && (cb & EMB_BERT_NFD) ){
    nDec = embBertNfd(c, aDec);
    if( nDec==0 ){ aDec[0] = c; nDec = 1; }
  }
  for(k=0; k<nDec; k++){
    uint32_t d = aDec[k];
    unsigned db = (d==c) ? cb : embBertClass(d);
    int ccc = 0;
    if( b->m & EMB_NORM_STRIP ){
      if( db & EMB_BERT_MN ){
        if( (db & EMB_BERT_CCC)==0 ) b->iRun = b->o->n;   /* a starter */
        continue;
      }
      if( db & EMB_BERT_CCC ) ccc = embBertCcc(d);
    }
    if( (b->m & EMB_NORM_LOWER) && (db & EMB_BERT_LOWER) ){
      uint32_t aLow[2];
      int nLow = embBertLower(d, aLow), j;
      for(j=0; j<nLow; j++){
        if( bertPut(b, aLow[j], 0) ) return -1;
      }
    }else if( bertPut(b, d, ccc) ){
      return -1;
    }
  }
  return 0;
}

static int stepBert(unsigned m, const uint8_t *z, size_t n, NormOut *o){
  NormBert b;
  size_t i = 0;
  b.o = o;
  b.m = m;
  b.iRun = 0;
  if( outRoom(o, n) ) return -1;
  while( i<n ){
    uint32_t c = z[i];
    unsigned cb;
    if( c<0x80 ){
      unsigned a = bertAscii(c);
      i++;
      if( a & NA_CTRL ){
        if( m & EMB_NORM_CLEAN ) continue;
      }
      if( (a & NA_WS) && (m & EMB_NORM_CLEAN) ) c = ' ';
      else if( (a & NA_UPPER) && (m & EMB_NORM_LOWER) ) c += 32;
      if( outRoom(o, 1) ) return -1;
      o->z[o->n++] = (char)c;
      b.iRun = o->n;
      continue;
    }
    c = embUtf8Next(z, n, &i);
    cb = embBertClass(c);
    if( m & EMB_NORM_CLEAN ){
      if( cb & EMB_BERT_CTRL ) continue;
      if( cb & EMB_BERT_WS ){
        if( bertPut(&b, ' ', 0) ) return -1;
        continue;
      }
    }
    if( (m & EMB_NORM_CHINESE) && (cb & EMB_BERT_CJK) ){
      if( bertPut(&b, ' ', 0) || bertChar(&b, c, cb) || bertPut(&b, ' ', 0) ){
        return -1;
      }
      continue;
    }
    if( bertChar(&b, c, cb) ) return -1;
  }
  return 0;
}

/* ------------------------------------------------- per-character steps */

static int stepLower(const uint8_t *z, size_t n, NormOut *o){
  size_t i = 0;
  if( outRoom(o, n) ) return -1;
  while( i<n ){
    uint32_t c = z[i];
    if( c<0x80 ){
      i++;
      if( o->n>=o->nAlloc-1 && outRoom(o, 1) ) return -1;
      o->z[o->n++] = (char)(c>='A' && c<='Z' ? c+32 : c);
      continue;
    }
    c = embUtf8Next(z, n, &i);
    if( embBertClass(c) & EMB_BERT_LOWER ){
      uint32_t aLow[2];
      int nLow = embBertLower(c, aLow), j;
      for(j=0; j<nLow; j++){
        if( outChar(o, aLow[j]) ) return -1;
      }
    }else if( outChar(o, c) ){
      return -1;
    }
  }
  return 0;
}

static int stepStripAccents(const uint8_t *z, size_t n, NormOut *o){
  size_t i = 0;
  if( outRoom(o, n) ) return -1;
  while( i<n ){
    size_t i0 = i;
    uint32_t c = embUtf8Next(z, n, &i);
    if( c>=0x300 && embNormIsMark(c) ) continue;
    memcpy(o->z + o->n, z + i0, i - i0);     /* never longer than n */
    o->n += i - i0;
  }
  return 0;
}

/* Is the character at z[i] white space (Rust's char::is_whitespace)?
** Sets *pNext past it. */
static int isSpaceAt(const uint8_t *z, size_t n, size_t i, size_t *pNext){
  uint32_t c = embUtf8Next(z, n, &i);
  *pNext = i;
  if( c<0x80 ) return c==' ' || (c>=0x09 && c<=0x0D);
  return (embBertClass(c) & EMB_BERT_WS)!=0;
}

static int stepStrip(int bLeft, int bRight, const uint8_t *z, size_t n,
                     NormOut *o){
  size_t iStart = 0, iEnd = n, j;
  if( bLeft ){
    while( iStart<n && isSpaceAt(z, n, iStart, &j) ) iStart = j;
  }
  if( bRight ){
    while( iEnd>iStart ){
      size_t iPrev = charBefore(z, iEnd);
      if( !isSpaceAt(z, n, iPrev, &j) ) break;
      iEnd = iPrev;
    }
  }
  return outBytes(o, z+iStart, iEnd-iStart);
}

static int stepReplace(const uint8_t *zPat, size_t nPat, const uint8_t *zTo,
                       size_t nTo, const uint8_t *z, size_t n, NormOut *o){
  size_t i = 0;
  if( outRoom(o, n) ) return -1;
  while( i<n ){
    const uint8_t *zHit = n-i>=nPat ? memmem(z+i, n-i, zPat, nPat) : 0;
    size_t iHit = zHit ? (size_t)(zHit - z) : n;
    if( outBytes(o, z+i, iHit-i) ) return -1;
    if( zHit==0 ) break;
    if( outBytes(o, zTo, nTo) ) return -1;
    i = iHit + nPat;
  }
  return 0;
}

/* The entry of MAP table a[0..nEntry) for c, or -1 */
static int64_t mapFind(const uint8_t *a, uint32_t nEntry, uint32_t c){
  uint32_t lo = 0, hi = nEntry;
  while( lo<hi ){
    uint32_t mid = lo + (hi-lo)/2;
    uint32_t x = embU32At(a, 3*(uint64_t)mid);
    if( c<x ) hi = mid;
    else if( c>x ) lo = mid+1;
    else return mid;
  }
  return -1;
}

static int stepMap(const EmbNorm *p, size_t iStep, const uint8_t *z, size_t n,
                   NormOut *o){
  const uint8_t *a = p->aData + stepArg(p, iStep, 1);
  uint32_t nEntry = stepArg(p, iStep, 2);
  uint32_t aBits[4];
  size_t i = 0;
  int k;
  for(k=0; k<4; k++) aBits[k] = stepArg(p, iStep, 3+k);
  if( outRoom(o, n) ) return -1;
  while( i<n ){
    size_t i0 = i;
    uint32_t c = z[i];
    int64_t e;
    if( c<0x80 ){
      i++;
      if( (aBits[c>>5] & (1u<<(c&31)))==0 ){
        if( o->n>=o->nAlloc-1 && outRoom(o, 1) ) return -1;
        o->z[o->n++] = (char)c;
        continue;
      }
    }else{
      c = embUtf8Next(z, n, &i);
    }
    e = mapFind(a, nEntry, c);
    if( e<0 ){
      if( outBytes(o, z+i0, i-i0) ) return -1;
    }else{
      uint32_t off = embU32At(a, 3*(uint64_t)e+1);
      uint32_t len = embU32At(a, 3*(uint64_t)e+2);
      if( outBytes(o, p->aData+off, len) ) return -1;
    }
  }
  return 0;
}

/* Is c in RUN's class? */
static int runHas(uint32_t eClass, uint32_t cWant, uint32_t c){
  if( eClass==0 ) return c==cWant;
  if( c<0x80 ) return c==' ' || (c>=0x09 && c<=0x0D);
  return (embUniClass(c) & EMB_CL_WS)!=0;
}

static int stepRun(const EmbNorm *p, size_t iStep, const uint8_t *z,
                   size_t n, NormOut *o){
  uint32_t eClass = stepArg(p, iStep, 1), cWant = stepArg(p, iStep, 2);
  uint32_t nMin = stepArg(p, iStep, 3);
  const uint8_t *zTo = p->aData + stepArg(p, iStep, 4);
  uint32_t nTo = stepArg(p, iStep, 5);
  size_t i = 0;
  if( outRoom(o, n) ) return -1;
  while( i<n ){
    size_t i0 = i, j;
    uint32_t c = embUtf8Next(z, n, &i);
    uint64_t nRun = 0;
    if( !runHas(eClass, cWant, c) ){
      if( outBytes(o, z+i0, i-i0) ) return -1;
      continue;
    }
    nRun = 1;
    for(j=i; j<n; ){
      size_t jNext = j;
      if( !runHas(eClass, cWant, embUtf8Next(z, n, &jNext)) ) break;
      j = jNext;
      nRun++;
    }
    i = j;
    if( nRun>=nMin ){
      if( outBytes(o, zTo, nTo) ) return -1;
    }else if( outBytes(o, z+i0, i-i0) ){
      return -1;
    }
  }
  return 0;
}

/* ---------------------------------------------------------- Precompiled */

static uint32_t pcFnv(const uint8_t *a, size_t n){
  uint32_t h = 2166136261u;
  size_t i;
  for(i=0; i<n; i++){ h ^= a[i]; h *= 16777619u; }
  return h;
}

/* The Precompiled table of step iStep */
typedef struct NormPc NormPc;
struct NormPc {
  const uint8_t *aSlot;        /* nSlot x (k0, k1, offset, length) */
  uint32_t nSlot;
  const uint8_t *aFirst;       /* U8[256] */
  const uint8_t *aBytes;       /* the strings */
  uint32_t nBytes;
};


/*
** The string of the shortest key that is a prefix of z[0..n) (n >= 1), as
** HF finds it: returns 1 and sets *pz, *pn, or returns 0 when no key is.
** A slot whose string lies outside the table or is not UTF-8 (a corrupt
** file) counts as no key.
*/
static int pcLookup(const NormPc *t, const uint8_t *z, size_t n,
                    const uint8_t **pz, uint32_t *pn){
  unsigned m = t->aFirst[z[0]];
  size_t nKey;
  for(nKey=1; m && nKey<=n && nKey<=EMB_NORM_PC_MAXKEY; nKey++, m >>= 1){
    uint32_t k0 = 0, k1, h, nProbe;
    size_t j;
    if( (m & 1)==0 ) continue;
    for(j=0; j<nKey && j<4; j++) k0 |= (uint32_t)z[j] << (8*j);
    k1 = (nKey>4 ? z[4] : 0) | (uint32_t)nKey<<8;
    h = pcFnv(z, nKey) & (t->nSlot-1);
    for(nProbe=0; nProbe<t->nSlot; nProbe++){
      uint32_t s1 = embU32At(t->aSlot, 4*(uint64_t)h+1);
      if( s1==0 ) break;
      if( s1==k1 && embU32At(t->aSlot, 4*(uint64_t)h)==k0 ){
        uint32_t off = embU32At(t->aSlot, 4*(uint64_t)h+2);
        uint32_t len = embU32At(t->aSlot, 4*(uint64_t)h+3);
        if( off>t->nBytes || len>t->nBytes-off
         || !embUtf8Valid((const char*)t->aBytes+off, len) ){
          return 0;
        }
        *pz = t->aBytes+off;
        *pn = len;
        return 1;
      }
      h = (h+1) & (t->nSlot-1);
    }
  }
  return 0;
}

/*
** Precompiled, as HF runs it: over the extended grapheme clusters of the
** text, a cluster of fewer than 6 bytes with a key as its prefix becomes
** that key's string (the whole cluster); any other cluster goes character
** by character, each replaced by its key's string when it has one.
*/
static int stepPrecompiled(const EmbNorm *p, size_t iStep, const uint8_t *z,
                           size_t n, NormOut *o){
  NormPc t;
  size_t i = 0;
  t.aSlot = p->aData + stepArg(p, iStep, 1);
  t.nSlot = stepArg(p, iStep, 2);
  t.aFirst = p->aData + stepArg(p, iStep, 3);
  t.aBytes = p->aData + stepArg(p, iStep, 4);
  t.nBytes = stepArg(p, iStep, 5);
  if( outRoom(o, n) ) return -1;
  while( i<n ){
    const uint8_t *zTo;
    uint32_t nTo;
    size_t iEnd, j;
    if( z[i]<0x80 && (i+1==n || (z[i+1]<0x80 && z[i]!='\r')) ){
      /* one ASCII character, a cluster of its own: the fast path */
      if( t.aFirst[z[i]]==0 || !pcLookup(&t, z+i, 1, &zTo, &nTo) ){
        if( o->n>=o->nAlloc-1 && outRoom(o, 1) ) return -1;
        o->z[o->n++] = (char)z[i];
      }else if( outBytes(o, zTo, nTo) ){
        return -1;
      }
      i++;
      continue;
    }
    iEnd = embGraphemeEnd(z, n, i);
    if( iEnd-i<6 && pcLookup(&t, z+i, iEnd-i, &zTo, &nTo) ){
      if( outBytes(o, zTo, nTo) ) return -1;
      i = iEnd;
      continue;
    }
    for(j=i; j<iEnd; ){
      size_t jEnd = j;
      (void)embUtf8Next(z, iEnd, &jEnd);
      if( pcLookup(&t, z+j, jEnd-j, &zTo, &nTo) ){
        if( outBytes(o, zTo, nTo) ) return -1;
      }else if( outBytes(o, z+j, jEnd-j) ){
        return -1;
      }
      j = jEnd;
    }
    i = iEnd;
  }
  return 0;
}

/* ------------------------------------------------------- NFD NFC NFKx */

/* Make pBuf->aCp hold at least n entries.  0, or -1 out of memory. */
static int cpRoom(EmbNormBuf *pBuf, size_t n){
  size_t nNew;
  uint32_t *aNew;
  if( n<=pBuf->nCpAlloc ) return 0;
  if( n>((size_t)1<<60) ) return -1;
  nNew = pBuf->nCpAlloc ? pBuf->nCpAlloc : 256;
  while( nNew<n ) nNew *= 2;
  aNew = embRealloc(pBuf->aCp, nNew*sizeof(uint32_t));
  if( aNew==0 ) return -1;
  pBuf->aCp = aNew;
  pBuf->nCpAlloc = nNew;
  return 0;
}

#define CP_CCC(x)  ((x)>>24)
#define CP_CHAR(x) ((x) & 0xFFFFFF)

/*
** Sort the run a[0..n) of non-starters by combining class, stably (NFD's
** canonical ordering): insertion for short runs, by counting for long ones
** (aTmp has room for n), so that a hostile run costs linear time.
*/
static void cpSortRun(uint32_t *a, size_t n, uint32_t *aTmp){
  size_t i;
  if( n<=32 ){
    for(i=1; i<n; i++){
      uint32_t x = a[i];
      size_t j = i;
      while( j>0 && CP_CCC(a[j-1])>CP_CCC(x) ){ a[j] = a[j-1]; j--; }
      a[j] = x;
    }
  }else{
    size_t aStart[257];
    memset(aStart, 0, sizeof(aStart));
    for(i=0; i<n; i++) aStart[CP_CCC(a[i])+1]++;
    for(i=1; i<257; i++) aStart[i] += aStart[i-1];
    for(i=0; i<n; i++) aTmp[aStart[CP_CCC(a[i])]++] = a[i];
    memcpy(a, aTmp, n*sizeof(uint32_t));
  }
}

/*
** NFD (bCompat 0) or NFKD (1), then for bCompose the canonical composition
** (NFC, NFKC): the text is decoded into pBuf->aCp, each code point
** decomposed and tagged with its combining class, each run of non-starters
** sorted, then pairs composed in place (a character composes with the last
** starter when nothing between them has a class of 0 or of its own class
** or more), and the result encoded.
*/
static int stepNf(EmbNormBuf *pBuf, int bCompat, int bCompose,
                  const uint8_t *z, size_t n, NormOut *o){
  size_t i = 0, m = 0, k, iRun, w;
  uint32_t *a;
  if( outRoom(o, n) ) return -1;
  while( i<n ){
    uint32_t c = z[i], aDec[EMB_NORM_MAXDECOMP];
    int nDec, j;
    if( c<0x80 ){
      i++;
      if( m>=pBuf->nCpAlloc && cpRoom(pBuf, m+1) ) return -1;
      pBuf->aCp[m++] = c;
      continue;
    }
    c = embUtf8Next(z, n, &i);
    nDec = embNormDecompose(c, bCompat, aDec);
    if( cpRoom(pBuf, m+(size_t)nDec) ) return -1;
    for(j=0; j<nDec; j++){
      pBuf->aCp[m++] = aDec[j] | (uint32_t)embNormCcc(aDec[j])<<24;
    }
  }
  /* room for cpSortRun's scratch: as many again */
  if( cpRoom(pBuf, 2*m) ) return -1;
  a = pBuf->aCp;
  for(k=0; k<m; ){
    if( CP_CCC(a[k])==0 ){ k++; continue; }
    iRun = k;
    while( k<m && CP_CCC(a[k])!=0 ) k++;
    if( k-iRun>1 ) cpSortRun(a+iRun, k-iRun, a+m);
  }
  w = m;
  if( bCompose && m>0 ){
    size_t iStarter = (size_t)-1;
    int lastCcc = -1;                  /* -1: nothing since the starter */
    w = 0;
    for(k=0; k<m; k++){
      uint32_t x = a[k];
      int ccc = (int)CP_CCC(x);
      if( iStarter!=(size_t)-1 && (lastCcc==-1 || lastCcc<ccc) ){
        uint32_t cComp = embNormCompose(CP_CHAR(a[iStarter]), CP_CHAR(x));
        if( cComp ){
          a[iStarter] = cComp;         /* every composite is a starter */
          continue;
        }
      }
      if( ccc==0 ){
        iStarter = w;
        lastCcc = -1;
      }else{
        lastCcc = ccc;
      }
      a[w++] = x;
    }
  }
  for(k=0; k<w; k++){
    uint32_t c = CP_CHAR(a[k]);
    if( c<0x80 ){
      if( o->n>=o->nAlloc-1 && outRoom(o, 1) ) return -1;
      o->z[o->n++] = (char)c;
    }else if( outChar(o, c) ){
      return -1;
    }
  }
  return 0;
}

int embNormApply(const EmbNorm *p, const char *z, size_t n, EmbNormBuf *pOut){
  const uint8_t *zIn = (const uint8_t*)z;
  size_t nIn = n, iStep;
  NormOut a, b;                 /* a: the step's output; b: the other */
  a.z = pOut->z;     a.n = 0; a.nAlloc = pOut->nAlloc;
  b.z = pOut->zAux;  b.n = 0; b.nAlloc = pOut->nAuxAlloc;
  if( p->nProg==0 ){
    if( outBytes(&a, z, n) ) goto no_mem;
  }
  for(iStep=0; iStep<p->nProg; iStep++){
    uint32_t op = embU32At(p->aProg, iStep*EMB_NORM_STEP_WORDS);
    int rc = 0;
    a.n = 0;
    switch( op ){
      case EMB_NOP_BERT:
        rc = stepBert(stepArg(p, iStep, 1), zIn, nIn, &a);
        break;
      case EMB_NOP_LOWER:
        rc = stepLower(zIn, nIn, &a);
        break;
      case EMB_NOP_STRIP:
        rc = stepStrip(stepArg(p, iStep, 1)!=0, stepArg(p, iStep, 2)!=0,
                       zIn, nIn, &a);
        break;
      case EMB_NOP_STRIP_ACCENTS:
        rc = stepStripAccents(zIn, nIn, &a);
        break;
      case EMB_NOP_REPLACE:
        rc = stepReplace(p->aData + stepArg(p, iStep, 1), stepArg(p, iStep, 2),
                         p->aData + stepArg(p, iStep, 3), stepArg(p, iStep, 4),
                         zIn, nIn, &a);
        break;
      case EMB_NOP_MAP:
        rc = stepMap(p, iStep, zIn, nIn, &a);
        break;
      case EMB_NOP_RUN:
        rc = stepRun(p, iStep, zIn, nIn, &a);
        break;
      case EMB_NOP_PRECOMPILED:
        rc = stepPrecompiled(p, iStep, zIn, nIn, &a);
        break;
      case EMB_NOP_NFD:
      case EMB_NOP_NFKD:
      case EMB_NOP_NFC:
      case EMB_NOP_NFKC:
        rc = stepNf(pOut, op==EMB_NOP_NFKD || op==EMB_NOP_NFKC,
                    op==EMB_NOP_NFC || op==EMB_NOP_NFKC, zIn, nIn, &a);
        break;
      case EMB_NOP_PREPEND:
        if( nIn>0 ){
          rc = outBytes(&a, p->aData + stepArg(p, iStep, 1),
                        stepArg(p, iStep, 2));
        }
        if( rc==0 ) rc = outBytes(&a, zIn, nIn);
        break;
      default:                  /* embNormCheck() lets none through */
        rc = outBytes(&a, zIn, nIn);
        break;
    }
    if( rc ) goto no_mem;
    /* this step's output is the next one's input */
    zIn = (const uint8_t*)a.z;
    nIn = a.n;
    if( iStep+1<p->nProg ){
      NormOut t = a; a = b; b = t;
    }
  }
  if( outRoom(&a, 0) ) goto no_mem;
  a.z[a.n] = 0;
  pOut->z = a.z;  pOut->n = a.n;  pOut->nAlloc = a.nAlloc;
  pOut->zAux = b.z;  pOut->nAuxAlloc = b.nAlloc;
  return 0;

no_mem:
  /* keep both buffers, whichever holds what, for embNormBufFree() */
  pOut->z = a.z;  pOut->n = 0;  pOut->nAlloc = a.nAlloc;
  pOut->zAux = b.z;  pOut->nAuxAlloc = b.nAlloc;
  return -1;
}

/* ---------------------------------------------------------------- check */

/* Is (off, len) a well-formed UTF-8 string of at most NORM_MAX_STRING
** bytes inside aData[0..nData)?  bNonEmpty: at least one byte. */
static int checkString(const uint8_t *aData, size_t nData, uint32_t off,
                       uint32_t len, int bNonEmpty){
  if( off>nData || len>nData-off || len>NORM_MAX_STRING ) return 0;
  if( bNonEmpty && len==0 ) return 0;
  return embUtf8Valid((const char*)aData+off, len);
}

static int isScalar(uint32_t c){
  return c<=0x10FFFF && (c<0xD800 || c>0xDFFF);
}

int embNormCheck(EmbNorm *p, const uint8_t *aProg, size_t nProg,
                 const uint8_t *aData, size_t nData, const char *zLabel,
                 char **pzErr){
  static const uint8_t aEmpty[1] = {0};
  size_t i;
  memset(p, 0, sizeof(*p));
  if( aData==0 ){ aData = aEmpty; nData = 0; }   /* so that aData+0 is fine */
  if( nProg>EMB_NORM_MAX_STEPS ){
    *pzErr = embMprintf("model '%s': its normalizer has %llu steps, more "
                        "than %d", zLabel, (unsigned long long)nProg,
                        EMB_NORM_MAX_STEPS);
    return -1;
  }
  for(i=0; i<nProg; i++){
    uint32_t a[EMB_NORM_STEP_WORDS];
    const char *zWhy = 0;
    int k;
    for(k=0; k<EMB_NORM_STEP_WORDS; k++){
      a[k] = embU32At(aProg, i*EMB_NORM_STEP_WORDS + (size_t)k);
    }
    switch( a[0] ){
      case EMB_NOP_BERT:
        if( a[1] & ~(unsigned)(EMB_NORM_CLEAN|EMB_NORM_CHINESE|EMB_NORM_STRIP
                               |EMB_NORM_LOWER) ){
          zWhy = "unknown BertNormalizer options";
        }
        break;
      case EMB_NOP_LOWER:
      case EMB_NOP_STRIP_ACCENTS:
      case EMB_NOP_NFD:
      case EMB_NOP_NFKD:
      case EMB_NOP_NFC:
      case EMB_NOP_NFKC:
        break;
      case EMB_NOP_STRIP:
        if( a[1]>1 || a[2]>1 ) zWhy = "Strip options not 0 or 1";
        break;
      case EMB_NOP_REPLACE:
        if( !checkString(aData, nData, a[1], a[2], 1)
         || !checkString(aData, nData, a[3], a[4], 0) ){
          zWhy = "a Replace string outside norm.data or not UTF-8";
        }
        break;
      case EMB_NOP_MAP: {
        uint32_t j, cPrev = 0;
        uint32_t aBits[4] = {0, 0, 0, 0};
        if( (a[1] & 3)!=0 || a[1]>nData || a[2]>NORM_MAX_MAP
         || (uint64_t)a[2]*12 > nData - a[1] ){
          zWhy = "a map outside norm.data";
          break;
        }
        for(j=0; j<a[2] && zWhy==0; j++){
          const uint8_t *e = aData + a[1];
          uint32_t c = embU32At(e, 3*(uint64_t)j);
          if( !isScalar(c) || (j>0 && c<=cPrev) ){
            zWhy = "a map not sorted by code point";
          }else if( !checkString(aData, nData, embU32At(e, 3*(uint64_t)j+1),
                                 embU32At(e, 3*(uint64_t)j+2), 0) ){
            zWhy = "a map string outside norm.data or not UTF-8";
          }
          if( c<0x80 ) aBits[c>>5] |= 1u<<(c&31);
          cPrev = c;
        }
        if( zWhy==0 && (aBits[0]!=a[3] || aBits[1]!=a[4] || aBits[2]!=a[5]
                        || aBits[3]!=a[6]) ){
          zWhy = "a map whose ASCII bits do not match its entries";
        }
        break;
      }
      case EMB_NOP_RUN:
        if( a[1]>1 || (a[1]==0 && !isScalar(a[2])) || a[3]==0
         || a[3]>NORM_MAX_RUN || !checkString(aData, nData, a[4], a[5], 0) ){
          zWhy = "a malformed run replacement";
        }
        break;
      case EMB_NOP_PRECOMPILED:
        if( (a[1] & 3)!=0 || a[2]==0 || (a[2] & (a[2]-1))!=0
         || a[2]>(1u<<26) || a[1]>nData || (uint64_t)a[2]*16 > nData-a[1]
         || a[3]>nData || 256>nData-a[3] || a[4]>nData || a[5]>nData-a[4] ){
          zWhy = "a Precompiled table outside norm.data";
        }
        break;
      case EMB_NOP_PREPEND:
        if( !checkString(aData, nData, a[1], a[2], 0) ){
          zWhy = "a Prepend string outside norm.data or not UTF-8";
        }
        break;
      default:
        *pzErr = embMprintf("model '%s': normalizer step %llu has the unknown "
                            "op %u", zLabel, (unsigned long long)i, a[0]);
        return -1;
    }
    if( zWhy ){
      *pzErr = embMprintf("model '%s': normalizer step %llu (op %u) has %s",
                          zLabel, (unsigned long long)i, a[0], zWhy);
      return -1;
    }
  }
  p->aProg = aProg;
  p->nProg = nProg;
  p->aData = aData;
  p->nData = nData;
  return 0;
}

int embNormBind(EmbModel *pModel, char **pzErr){
  const EmbTensor *pProg = embModelTensor(pModel, EMB_T_NORM_PROGRAM);
  const EmbTensor *pData = embModelTensor(pModel, EMB_T_NORM_DATA);
  memset(&pModel->norm, 0, sizeof(pModel->norm));
  if( pProg==0 ) return 0;
  if( pProg->eType!=EMB_DT_U32 || pProg->nDim!=2
   || pProg->aShape[1]!=EMB_NORM_STEP_WORDS ){
    *pzErr = embMprintf("model '%s': tensor '%s' needs dtype U32 and shape "
                        "[steps, %d]", pModel->zPath, EMB_T_NORM_PROGRAM,
                        EMB_NORM_STEP_WORDS);
    return -1;
  }
  if( pData==0 || pData->eType!=EMB_DT_U8 || pData->nDim!=1
   || pData->nByte>EMB_NORM_MAX_DATA ){
    *pzErr = embMprintf("model '%s': tensor '%s' %s", pModel->zPath,
                        EMB_T_NORM_DATA, pData==0 ? "is missing"
                        : "needs dtype U8, one dimension, at most 1 GiB");
    return -1;
  }
  if( pProg->aShape[0]>EMB_NORM_MAX_STEPS ){
    *pzErr = embMprintf("model '%s': tensor '%s' has %llu steps, more than "
                        "%d", pModel->zPath, EMB_T_NORM_PROGRAM,
                        (unsigned long long)pProg->aShape[0],
                        EMB_NORM_MAX_STEPS);
    return -1;
  }
  return embNormCheck(&pModel->norm, pProg->a, (size_t)pProg->aShape[0],
                      pData->a, (size_t)pData->nByte, pModel->zPath, pzErr);
}
