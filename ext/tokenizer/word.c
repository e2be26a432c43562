/*
** word.c: the word tokenizer for GloVe-style vocabularies.
**
**     "Don't panic, it's U.S.-made!"  ->  do not panic , it u.s. made !
**     (each piece looked up in the vocabulary; unknown pieces are skipped)
**
** GloVe's vectors were trained on lower-cased text split the way the Penn
** Treebank tokenizer splits it: punctuation apart from words, clitics apart
** ("don't" -> "do" + "n't", "it's" -> "it" + "'s"), and tokens such as
** "u.s." or "e-mail" kept whole.  This tokenizer reproduces that split
** against whatever vocabulary the model has.
**
** HOW IT WORKS
** 1. The text is cut into chunks at white space and control characters.
** 2. A chunk of at most WORD_MAXBYTES bytes is lower-cased (Unicode simple
**    lower case) into fixed buffers and resolved, repeating until it is
**    empty:
**      - the whole chunk is in the vocabulary: emit it;
**      - it starts with a punctuation or symbol character: emit that
**        character, go on with the rest;
**      - it ends with one: set that character aside (it is emitted after
**        the rest), go on with the rest;
**      - it ends with a clitic (n't 're 've 'm 'll 'd 's, with ' or U+2019):
**        resolve the part before it, then emit the clitic; where the
**        vocabulary lacks "n't" etc. the full word is used (not, are,
**        have, am, will, would; "'s" is dropped: is, has or possessive);
**      - otherwise split it from left to right into the longest known
**        tokens that start at a letter or digit and end at the end of a
**        run or after a period ("u.s." in "u.s.-made"), unknown runs of
**        letters, digits and marks, and the punctuation between them.  A
**        hyphen, apostrophe, period or underscore between two runs joins
**        them and is dropped, as is a comma between digits ("1,000").
** 3. A longer chunk cannot be one token; it is split directly into runs and
**    punctuation as in the last step, so any text is handled in linear
**    time with no allocation.
** A punctuation character missing from the vocabulary is looked up again
** in ASCII form (curly quotes, dashes, the ellipsis).  Pieces that are still
** unknown are skipped.
*/
#include "tokenizer.h"
#include "unicode.h"

#include <string.h>

#define WORD_MAXBYTES 128             /* longest chunk looked up whole */
#define WORD_ALNUM (EMB_CL_L|EMB_CL_N|EMB_CL_M)

/* One chunk, lower-cased and decoded. */
typedef struct WordChunk WordChunk;
struct WordChunk {
  const EmbModel *pModel;
  EmbTokens *pOut;
  int n;                              /* code points in the chunk */
  uint32_t aCp[WORD_MAXBYTES];        /* lower-cased code points */
  uint8_t aCls[WORD_MAXBYTES];        /* their class bits */
  int aOff[WORD_MAXBYTES+1];          /* byte offset of each in zLow */
  char zLow[3*WORD_MAXBYTES];         /* the lower-cased UTF-8 */
};

static int isAlnum(const WordChunk *w, int i){
  return (w->aCls[i] & WORD_ALNUM)!=0;
}
static int isApostrophe(uint32_t c){ return c=='\'' || c==0x2019; }

/* Emit the token whose text is s[0..n) if the vocabulary has it.
** Returns 1 if emitted, 0 if unknown, -1 when out of memory. */
static int emitText(WordChunk *w, const char *s, int n){
  int id = embModelLookup(w->pModel, s, n);
  if( id<0 ) return 0;
  return embTokensPush(w->pOut, id) ? -1 : 1;
}

/* Emit code points [i, j) of the chunk as one token, if known. */
static int emitRange(WordChunk *w, int i, int j){
  return emitText(w, w->zLow + w->aOff[i], w->aOff[j] - w->aOff[i]);
}

/* The ASCII spelling of a punctuation character, or NULL. */
static const char *asciiFold(uint32_t c){
  switch( c ){
    case 0x2018: case 0x2019: case 0x201A: case 0x2032: return "'";
    case 0x201C: case 0x201D: case 0x201E: case 0x00AB: case 0x00BB:
    case 0x2033: return "\"";
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
    case 0x2015: case 0x2212: return "-";
    case 0x2026: return "...";
    case 0x2044: case 0x2215: return "/";
    default: return 0;
  }
}

/* Emit the single punctuation character i, or its ASCII spelling. */
static int emitPunct(WordChunk *w, int i){
  int rc = emitRange(w, i, i+1);
  const char *zAlt;
  if( rc ) return rc;
  zAlt = asciiFold(w->aCp[i]);
  if( zAlt==0 ) return 0;
  rc = emitText(w, zAlt, (int)strlen(zAlt));
  if( rc==0 && strcmp(zAlt, "...")==0 ) rc = emitText(w, ".", 1);
  return rc;
}

/* Is the punctuation at i a joiner inside a word or number?  A hyphen
** may also follow an abbreviation's period ("u.s.-made"). */
static int isJoiner(const WordChunk *w, int i){
  uint32_t c = w->aCp[i];
  if( i==0 || i+1>=w->n || !isAlnum(w, i+1) ) return 0;
  if( !isAlnum(w, i-1) ){
    return (c=='-' || c==0x2010) && w->aCp[i-1]=='.';
  }
  if( c=='-' || c=='.' || c=='_' || isApostrophe(c) || c==0x2010 ) return 1;
  return c==',' && (w->aCls[i-1] & EMB_CL_N) && (w->aCls[i+1] & EMB_CL_N);
}

/*
** The longest token starting at i (a letter, digit or mark) and ending
** before b, at the end of a run or just after a period ("u.s.", "e-mail",
** "1,000.5"), or -1 when even the run at i alone is unknown.  Returns its
** end; bounded by WORD_MAXBYTES, so at most a few dozen lookups.
*/
static int longestAt(WordChunk *w, int i, int b, int *pId){
  int j, iBest = -1;
  for(j=i+1; j<=b && w->aOff[j]-w->aOff[i]<=WORD_MAXBYTES; j++){
    int atEnd = j==b || (isAlnum(w, j-1) && !isAlnum(w, j))
                     || w->aCp[j-1]=='.';
    if( atEnd ){
      int id = embModelLookup(w->pModel, w->zLow + w->aOff[i],
                              w->aOff[j] - w->aOff[i]);
      if( id>=0 ){ iBest = j; *pId = id; }
    }
  }
  return iBest;
}

/* Split [a, b) into the longest known tokens, runs of letters/digits/marks
** and the punctuation between them; look each up. */
static int emitPieces(WordChunk *w, int a, int b){
  int i = a;
  while( i<b ){
    if( isAlnum(w, i) ){
      int id = -1, j = longestAt(w, i, b, &id);
      if( j>0 ){
        if( embTokensPush(w->pOut, id) ) return -1;
        i = j;
      }else{
        while( i<b && isAlnum(w, i) ) i++;   /* an unknown run: skipped */
      }
    }else{
      if( !isJoiner(w, i) && emitPunct(w, i)<0 ) return -1;
      i++;
    }
  }
  return 0;
}

/* Clitics, as written in the vocabulary, and the word used where the
** vocabulary lacks the clitic. */
static const struct { const char *zTail; const char *zWord; } aClitic[] = {
  { "n't", "not" }, { "'re", "are" }, { "'ve", "have" }, { "'ll", "will" },
  { "'m", "am" },   { "'d", "would" }, { "'s", 0 },
};

/* If [a, b) ends with a clitic after a letter, or is a clitic alone ("do
** n't", as Treebank-tokenized text writes it), return the index where the
** clitic starts and set *piClitic; else return -1. */
static int findClitic(const WordChunk *w, int a, int b, int *piClitic){
  size_t k;
  for(k=0; k<sizeof(aClitic)/sizeof(aClitic[0]); k++){
    const char *z = aClitic[k].zTail;
    int len = (int)strlen(z), s = b - len, j;
    if( s<a ) continue;
    for(j=0; j<len; j++){
      uint32_t c = w->aCp[s+j];
      if( z[j]=='\'' ? !isApostrophe(c) : c!=(uint32_t)z[j] ) break;
    }
    if( j==len && (s==a || (w->aCls[s-1] & EMB_CL_L)) ){
      *piClitic = (int)k;
      return s;
    }
  }
  return -1;
}

static int emitClitic(WordChunk *w, int k){
  int rc = emitText(w, aClitic[k].zTail, (int)strlen(aClitic[k].zTail));
  if( rc==0 && aClitic[k].zWord ){
    rc = emitText(w, aClitic[k].zWord, (int)strlen(aClitic[k].zWord));
  }
  return rc;
}

/* Resolve the whole chunk: see HOW IT WORKS, step 2. */
static int resolveChunk(WordChunk *w){
  int a = 0, b = w->n, bEnd = w->n, rc = 0, i;
  while( a<b ){
    int s, k = 0;
    rc = emitRange(w, a, b);
    if( rc ) break;
    if( !isAlnum(w, a) ){
      rc = emitPunct(w, a++);
      if( rc<0 ) return rc;
      continue;
    }
    if( !isAlnum(w, b-1) ){
      b--;
      continue;
    }
    s = findClitic(w, a, b, &k);
    if( s>=0 ){
      /* The part before the clitic may itself be a word or need a split. */
      rc = s>a ? emitRange(w, a, s) : 1;
      if( rc==0 ) rc = emitPieces(w, a, s);
      if( rc>=0 ) rc = emitClitic(w, k);
    }else{
      rc = emitPieces(w, a, b);
    }
    break;
  }
  if( rc<0 ) return rc;
  for(i=b; i<bEnd; i++){
    if( emitPunct(w, i)<0 ) return -1;
  }
  return 0;
}

/* Class bits of c, quickly for ASCII. */
static unsigned classOf(uint32_t c){
  if( c<0x80 ){
    if( (c>='a' && c<='z') || (c>='A' && c<='Z') ) return EMB_CL_L;
    if( c>='0' && c<='9' ) return EMB_CL_N;
    if( c==' ' || (c>=0x09 && c<=0x0D) ) return EMB_CL_WS;
    if( c<0x20 || c==0x7F ) return EMB_CL_C;
    return EMB_CL_P;
  }
  return embUniClass(c);
}

/* Decode and lower-case z[0..n) (valid UTF-8, n <= WORD_MAXBYTES) into w. */
static void loadChunk(WordChunk *w, const uint8_t *z, size_t n){
  size_t i = 0;
  int nLow = 0;
  w->n = 0;
  while( i<n ){
    uint32_t c = embUniLower(embUtf8Next(z, n, &i));
    w->aCp[w->n] = c;
    w->aCls[w->n] = (uint8_t)classOf(c);
    w->aOff[w->n] = nLow;
    nLow += (int)embUtf8Put(c, (uint8_t*)w->zLow + nLow);
    w->n++;
  }
  w->aOff[w->n] = nLow;
}

/* A chunk longer than WORD_MAXBYTES: runs and punctuation, streamed, with
** the joiners of isJoiner() dropped between runs. */
static int resolveLongChunk(WordChunk *w, const uint8_t *z, size_t n){
  size_t i = 0;
  unsigned prevCls = 0;
  while( i<n ){
    size_t iStart = i;
    uint32_t c = embUtf8Next(z, n, &i);
    unsigned cls = classOf(c);
    if( cls & WORD_ALNUM ){
      size_t iEnd = i;
      while( iEnd<n ){
        size_t k = iEnd;
        cls = classOf(embUtf8Next(z, n, &k));
        if( !(cls & WORD_ALNUM) ) break;
        prevCls = cls;
        iEnd = k;
      }
      i = iEnd;
      if( iEnd-iStart<=WORD_MAXBYTES ){
        loadChunk(w, z+iStart, iEnd-iStart);
        if( emitRange(w, 0, w->n)<0 ) return -1;
      }
    }else{
      unsigned nextCls = 0;
      int isJoin;
      if( i<n ){
        size_t k = i;
        nextCls = classOf(embUtf8Next(z, n, &k));
      }
      isJoin = (prevCls & WORD_ALNUM) && (nextCls & WORD_ALNUM)
            && (c=='-' || c=='.' || c=='_' || isApostrophe(c) || c==0x2010
                || (c==',' && (prevCls & nextCls & EMB_CL_N)));
      if( !isJoin ){
        loadChunk(w, z+iStart, i-iStart);
        if( emitPunct(w, 0)<0 ) return -1;
      }
      prevCls = cls;
    }
  }
  return 0;
}

int embTokenizeWord(const EmbModel *pModel, const char *zIn, size_t n,
                    EmbTokens *p){
  const uint8_t *z = (const uint8_t*)zIn;
  WordChunk w;
  size_t i = 0;
  w.pModel = pModel;
  w.pOut = p;
  while( i<n ){
    size_t iStart, iEnd;
    /* Skip white space and controls. */
    while( i<n ){
      size_t k = i;
      if( !(classOf(embUtf8Next(z, n, &k)) & (EMB_CL_WS|EMB_CL_C)) ) break;
      i = k;
    }
    iStart = iEnd = i;
    while( iEnd<n ){
      size_t k = iEnd;
      if( classOf(embUtf8Next(z, n, &k)) & (EMB_CL_WS|EMB_CL_C) ) break;
      iEnd = k;
    }
    i = iEnd;
    if( iEnd==iStart ) break;
    if( iEnd-iStart<=WORD_MAXBYTES ){
      loadChunk(&w, z+iStart, iEnd-iStart);
      if( resolveChunk(&w)<0 ) return -1;
    }else{
      if( resolveLongChunk(&w, z+iStart, iEnd-iStart)<0 ) return -1;
    }
  }
  return 0;
}
