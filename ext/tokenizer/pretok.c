/*
** pretok.c: the pre-tokenizer program (pretok.h) at run time, as Hugging
** Face's tokenizers@0.23.2 splits the normalized text before its model.
**
**     WhitespaceSplit, Metaspace(▁, always, split)   "a  b▁c"
**        -> "a" "b▁c" -> "▁a" | "▁b" "▁c"
**
** HOW IT WORKS
** Hugging Face applies each pre-tokenizer of a Sequence to every split the
** previous one made; each split is handled on its own, so running the
** steps depth-first -- step k cuts its text and hands each part straight
** to step k+1 -- gives the same splits in the same order with no list of
** splits in memory.  Each step finds "matches" in its text (a character
** class, a string, or Metaspace's replacement character), which make the
** text a sequence of spans, matches and the stretches between them; the
** behaviour then joins or drops spans as Hugging Face's
** SplitDelimiterBehavior does (Removed, Isolated, MergedWithPrevious,
** MergedWithNext, Contiguous), streamed with one pending span.  Empty
** splits are dropped, as Hugging Face drops them.
**
** Metaspace rewrites its text (each space as the replacement, which is
** also put in front when the prepend scheme says so) into a buffer of its
** own step, then splits before each replacement (MergedWithNext) when
** split is set.  prepend_scheme "first" prepends only to a split that
** starts at the first character of the original text: Hugging Face asks
** for offsets_original().0 == 0, true of the whole piece at the start of
** the text and of every slice whose first character comes from the
** original's first one (a character the normalizer made of it: "℃" is
** "°c" after NFKC, and both "°" and "c" start the original).  Each step's
** text carries how many of its first bytes come from there, nLead.
**
** The character classes: White_Space (Rust's char::is_whitespace), the
** BERT punctuation of bert.c (ASCII punctuation or Unicode P*), numbers
** (N*: char::is_numeric), and for Whitespace's \w the regex engine's
** (unicode.h's letters, marks and numbers with pretok_tab.h's exceptions).
*/
#include "tokenizer/pretok.h"
#include "format.h"
#include "unicode.h"

#include <string.h>

#include "tokenizer/pretok_tab.h"

/* The streaming state of one step's spans */
typedef struct PtSink PtSink;
struct PtSink {
  EmbPretokRun *p;
  size_t iNext;          /* the next step's place in the program */
  int iStep;             /* the next step's number */
  const uint8_t *z;      /* this step's text */
  int bAtStart;          /* this step's text starts the original text */
  size_t nLead;          /* its first nLead bytes come from the original
                         ** text's first character (0: none do) */
  int eBehavior;         /* EMB_SPLIT_* */
  int bInvert;
  int bPending;          /* a span is held back */
  size_t iPend, ePend;   /* its bounds */
  int bPendMatch;        /* it is a match */
  int bPrevMatch;        /* the last span seen was a match */
  int rc;
};

static int ptStep(EmbPretokRun *p, size_t iPc, int iStep, const uint8_t *z,
                  size_t n, int bAtStart, size_t nLead);

/* Hand the split z[i..e) of the sink's text to the next step.  A split is
** a slice: it starts the original text when its first byte comes from the
** original's first character (Hugging Face's offsets_original().0 == 0). */
static void ptEmit(PtSink *s, size_t i, size_t e){
  if( s->rc || e<=i ) return;
  s->rc = ptStep(s->p, s->iNext, s->iStep, s->z+i, e-i, i<s->nLead,
                 i<s->nLead ? s->nLead-i : 0);
}

/* The next span z[i..e) of the text, a match or not */
static void ptSpan(PtSink *s, size_t i, size_t e, int bMatch){
  if( s->bInvert ) bMatch = !bMatch;
  switch( s->eBehavior ){
    case EMB_SPLIT_REMOVED:
      if( !bMatch ) ptEmit(s, i, e);
      break;
    case EMB_SPLIT_ISOLATED:
      ptEmit(s, i, e);
      break;
    case EMB_SPLIT_CONTIG:
      if( s->bPending && s->bPendMatch==bMatch ){
        s->ePend = e;
      }else{
        if( s->bPending ) ptEmit(s, s->iPend, s->ePend);
        s->bPending = 1;
        s->iPend = i;
        s->ePend = e;
        s->bPendMatch = bMatch;
      }
      break;
    case EMB_SPLIT_PREVIOUS:
      /* a match joins the split before it, unless that one ended in a
      ** match itself */
      if( bMatch && !s->bPrevMatch && s->bPending ){
        s->ePend = e;
      }else{
        if( s->bPending ) ptEmit(s, s->iPend, s->ePend);
        s->bPending = 1;
        s->iPend = i;
        s->ePend = e;
      }
      break;
    default:  /* EMB_SPLIT_NEXT: a match joins the non-match after it */
      if( s->bPending ){
        if( !bMatch ){
          ptEmit(s, s->iPend, e);
          s->bPending = 0;
          break;
        }
        ptEmit(s, s->iPend, s->ePend);
        s->bPending = 0;
      }
      if( bMatch ){
        s->bPending = 1;
        s->iPend = i;
        s->ePend = e;
      }else{
        ptEmit(s, i, e);
      }
      break;
  }
  s->bPrevMatch = bMatch;
}

/* The end of the spans: what is held back goes out */
static int ptFinish(PtSink *s){
  if( s->bPending ) ptEmit(s, s->iPend, s->ePend);
  s->bPending = 0;
  return s->rc;
}

/* Is c in one of the n sorted ranges a? */
static int inRanges(const uint32_t (*a)[2], int n, uint32_t c){
  int lo = 0, hi = n;
  while( lo<hi ){
    int mid = (lo+hi)/2;
    if( c<a[mid][0] ) hi = mid;
    else if( c>a[mid][1] ) lo = mid+1;
    else return 1;
  }
  return 0;
}

/* Is c a word character of the regex engine's \w (Alphabetic, Mark,
** Decimal_Number, Connector_Punctuation, Join_Control)?  Letters, marks
** and numbers, corrected by pretok_tab.h. */
static int isWordChar(uint32_t c){
  if( c<0x80 ){
    return (c>='a' && c<='z') || (c>='A' && c<='Z') || (c>='0' && c<='9')
        || c=='_';
  }
  if( embUniClass(c) & (EMB_CL_L|EMB_CL_M|EMB_CL_N) ){
    return !inRanges(aPtNotWord, (int)(sizeof(aPtNotWord)/sizeof(aPtNotWord[0])),
                     c);
  }
  return inRanges(aPtWordExtra,
                  (int)(sizeof(aPtWordExtra)/sizeof(aPtWordExtra[0])), c);
}

/* The character classes of the char-predicate steps */
#define PT_CLASS_WS     1
#define PT_CLASS_PUNCT  2
#define PT_CLASS_DIGIT  3
static int ptIsClass(int eClass, uint32_t c){
  switch( eClass ){
    case PT_CLASS_WS:
      return c==' ' || (c>=0x09 && c<=0x0D) || (c>=0x80
             && (embUniClass(c) & EMB_CL_WS)!=0);
    case PT_CLASS_PUNCT:
      return (embBertClass(c) & EMB_BERT_PUNCT)!=0;
    default:
      return c<0x80 ? (c>='0' && c<='9') : (embUniClass(c) & EMB_CL_N)!=0;
  }
}

/* Spans of a character predicate: each matching character is a match of
** its own, the stretches between them one non-match each. */
static void ptSplitClass(PtSink *s, const uint8_t *z, size_t n, int eClass){
  size_t i = 0, iLast = 0;
  while( i<n ){
    size_t j = i;
    uint32_t c = embUtf8Next(z, n, &j);
    if( ptIsClass(eClass, c) ){
      if( iLast<i ) ptSpan(s, iLast, i, 0);
      ptSpan(s, i, j, 1);
      iLast = j;
    }
    i = j;
  }
  if( iLast<n ) ptSpan(s, iLast, n, 0);
}

/* Spans of one literal string: leftmost, not overlapping */
static void ptSplitString(PtSink *s, const uint8_t *z, size_t n,
                          const uint8_t *zPat, size_t nPat){
  size_t i = 0, iLast = 0;
  while( nPat>0 && i+nPat<=n ){
    const uint8_t *pHit = memmem(z+i, n-i, zPat, nPat);
    size_t iHit;
    if( pHit==0 ) break;
    iHit = (size_t)(pHit - z);
    if( iLast<iHit ) ptSpan(s, iLast, iHit, 0);
    ptSpan(s, iHit, iHit+nPat, 1);
    i = iLast = iHit + nPat;
  }
  if( iLast<n ) ptSpan(s, iLast, n, 0);
}

/* Whitespace: \w+|[^\w\s]+ kept, white space removed */
static void ptSplitWhitespace(PtSink *s, const uint8_t *z, size_t n){
  size_t i = 0;
  while( i<n ){
    size_t j = i, k;
    uint32_t c = embUtf8Next(z, n, &j);
    int eKind = ptIsClass(PT_CLASS_WS, c) ? 0 : isWordChar(c) ? 1 : 2;
    for(k=j; k<n; ){
      size_t m = k;
      uint32_t d = embUtf8Next(z, n, &m);
      int eNext = ptIsClass(PT_CLASS_WS, d) ? 0 : isWordChar(d) ? 1 : 2;
      if( eNext!=eKind ) break;
      k = m;
    }
    if( eKind ) ptEmit(s, i, k);
    i = k;
  }
}

/* Metaspace on z[0..n): rewrite, then split or not */
static int ptMetaspace(PtSink *s, const uint8_t *aOp, const uint8_t *z,
                       size_t n){
  int eScheme = aOp[1], bSplit = aOp[2];
  size_t nRep = aOp[3];
  const uint8_t *zRep = aOp+4;
  uint8_t *zOut;
  size_t i, j = 0, nSpace = 0, nLeadOut = 0;
  int bPrepend;
  for(i=0; i<n; i++) nSpace += z[i]==' ';
  if( n>((size_t)1<<40) ) return -1;
  zOut = embTokensAux(s->p->pTok, EMB_TOK_AUX_PRETOK + s->iStep - 1,
                      n + nSpace*nRep + nRep + 1);
  if( zOut==0 ) return -1;
  bPrepend = n>0 && (eScheme==EMB_PREPEND_ALWAYS
                     || (eScheme==EMB_PREPEND_FIRST && s->bAtStart));
  /* not when the text starts with the replacement (a space, too) */
  if( bPrepend && (z[0]==' ' || (n>=nRep && memcmp(z, zRep, nRep)==0)) ){
    bPrepend = 0;
  }
  if( bPrepend ){
    memcpy(zOut, zRep, nRep);
    j = nRep;
  }
  for(i=0; i<n; i++){
    if( i==s->nLead && s->nLead>0 ) nLeadOut = j;
    if( z[i]==' ' ){
      memcpy(zOut+j, zRep, nRep);
      j += nRep;
    }else{
      zOut[j++] = z[i];
    }
  }
  if( s->nLead>=n && s->nLead>0 ) nLeadOut = j;
  /* the prepended replacement counts with the first character */
  s->z = zOut;
  s->nLead = nLeadOut;
  if( !bSplit ){
    /* the same text, not a slice of it: it starts where it started */
    if( j>0 ){
      s->rc = ptStep(s->p, s->iNext, s->iStep, zOut, j, s->bAtStart,
                     nLeadOut);
    }
    return s->rc;
  }
  /* MergedWithNext on the replacement character */
  {
    size_t iLast = 0;
    i = 0;
    while( i<j ){
      if( i+nRep<=j && memcmp(zOut+i, zRep, nRep)==0 ){
        if( iLast<i ) ptSpan(s, iLast, i, 0);
        ptSpan(s, i, i+nRep, 1);
        i += nRep;
        iLast = i;
      }else{
        size_t k = i;
        (void)embUtf8Next(zOut, j, &k);
        i = k;
      }
    }
    if( iLast<j ) ptSpan(s, iLast, j, 0);
  }
  return ptFinish(s);
}

/* The length of the step at aProg[iPc] (checked programs only) */
static size_t ptOpLen(const uint8_t *a, size_t iPc){
  switch( a[iPc] ){
    case EMB_PT_PUNCT:
    case EMB_PT_DIGITS:     return 2;
    case EMB_PT_SPLIT:      return 5 + (size_t)(a[iPc+3] | (a[iPc+4]<<8));
    case EMB_PT_METASPACE:  return 4 + (size_t)a[iPc+3];
    default:                return 1;
  }
}

/* Run the program from aProg[iPc] (step iStep) over z[0..n), whose first
** nLead bytes come from the original text's first character */
static int ptStep(EmbPretokRun *p, size_t iPc, int iStep, const uint8_t *z,
                  size_t n, int bAtStart, size_t nLead){
  const uint8_t *aOp = p->aProg + iPc;
  PtSink s;
  if( n==0 ) return 0;
  if( aOp[0]==EMB_PT_END ) return p->xWord(p->pArg, z, n);
  memset(&s, 0, sizeof(s));
  s.p = p;
  s.iNext = iPc + ptOpLen(p->aProg, iPc);
  s.iStep = iStep + 1;
  s.z = z;
  s.bAtStart = bAtStart;
  s.nLead = nLead;
  switch( aOp[0] ){
    case EMB_PT_WSSPLIT:
      s.eBehavior = EMB_SPLIT_REMOVED;
      ptSplitClass(&s, z, n, PT_CLASS_WS);
      break;
    case EMB_PT_WHITESPACE:
      ptSplitWhitespace(&s, z, n);
      break;
    case EMB_PT_PUNCT:
      s.eBehavior = aOp[1];
      ptSplitClass(&s, z, n, PT_CLASS_PUNCT);
      break;
    case EMB_PT_DIGITS:
      s.eBehavior = aOp[1] ? EMB_SPLIT_ISOLATED : EMB_SPLIT_CONTIG;
      ptSplitClass(&s, z, n, PT_CLASS_DIGIT);
      break;
    case EMB_PT_SPLIT:
      s.eBehavior = aOp[1];
      s.bInvert = aOp[2];
      ptSplitString(&s, z, n, aOp+5, (size_t)(aOp[3] | (aOp[4]<<8)));
      break;
    case EMB_PT_METASPACE:
      s.eBehavior = EMB_SPLIT_NEXT;
      return ptMetaspace(&s, aOp, z, n);
  }
  return ptFinish(&s);
}

int embPretokRun(EmbPretokRun *p, const uint8_t *z, size_t n, int bAtStart){
  size_t nLead = 0;
  if( bAtStart && p->nLead!=EMB_PRETOK_NO_LEAD ){
    if( p->nLead>0 ){
      nLead = p->nLead;
    }else if( n>0 ){
      nLead = z[0]<0xC0 ? 1 : z[0]<0xE0 ? 2 : z[0]<0xF0 ? 3 : 4;
    }
    if( nLead>n ) nLead = n;
  }
  return ptStep(p, 0, 0, z, n, bAtStart, nLead);
}

int embPretokHasFirst(const uint8_t *a, size_t n){
  size_t i = 0;
  while( i<n && a[i]!=EMB_PT_END ){
    if( a[i]==EMB_PT_METASPACE && a[i+1]==EMB_PREPEND_FIRST ) return 1;
    i += ptOpLen(a, i);
  }
  return 0;
}

int embPretokCheck(const uint8_t *a, size_t n, const char **pzWhy){
  size_t i = 0;
  int nStep = 0;
  while( i<n ){
    switch( a[i] ){
      case EMB_PT_END:
        if( i+1!=n ){
          *pzWhy = "it goes on after its end";
          return 1;
        }
        return 0;
      case EMB_PT_WSSPLIT:
      case EMB_PT_WHITESPACE:
        i += 1;
        break;
      case EMB_PT_PUNCT:
      case EMB_PT_DIGITS:
        if( n-i<2 || a[i+1]>EMB_SPLIT_CONTIG ){
          *pzWhy = "a step has a bad operand";
          return 1;
        }
        i += 2;
        break;
      case EMB_PT_SPLIT: {
        size_t nPat;
        if( n-i<5 || a[i+1]>EMB_SPLIT_CONTIG || a[i+2]>1 ){
          *pzWhy = "a Split step has a bad operand";
          return 1;
        }
        nPat = (size_t)(a[i+3] | (a[i+4]<<8));
        if( nPat==0 || nPat>EMB_PT_MAX_PATTERN || nPat>n-i-5 ){
          *pzWhy = "a Split step has a bad pattern length";
          return 1;
        }
        i += 5 + nPat;
        break;
      }
      case EMB_PT_METASPACE: {
        size_t nRep, k;
        if( n-i<4 || a[i+1]>EMB_PREPEND_FIRST || a[i+2]>1 ){
          *pzWhy = "a Metaspace step has a bad operand";
          return 1;
        }
        nRep = a[i+3];
        if( nRep==0 || nRep>4 || nRep>n-i-4 ){
          *pzWhy = "a Metaspace step has a bad replacement length";
          return 1;
        }
        /* one whole UTF-8 character */
        if( (a[i+4]<0x80 ? 1u : a[i+4]>=0xF0 ? 4u : a[i+4]>=0xE0 ? 3u
             : a[i+4]>=0xC0 ? 2u : 0u)!=nRep ){
          *pzWhy = "a Metaspace replacement is not one character";
          return 1;
        }
        for(k=1; k<nRep; k++){
          if( (a[i+4+k] & 0xC0)!=0x80 ){
            *pzWhy = "a Metaspace replacement is not one character";
            return 1;
          }
        }
        i += 4 + nRep;
        break;
      }
      default:
        *pzWhy = "it has an unknown step";
        return 1;
    }
    if( ++nStep>EMB_PT_MAX_STEPS ){
      *pzWhy = "it has too many steps";
      return 1;
    }
  }
  *pzWhy = "it has no end";
  return 1;
}
