/*
** segment.c: where embed_split cuts a text -- sentence pieces, then the
** chunks that minimise a cost -- in time linear in the text.
**
**     embSegPieces(&seg, "Dr. Who came. He left.", 22, 10, &a, &n);
**         -> "Dr. Who came. " | "He left."
**
** HOW IT WORKS
** 1. Sentences (embSegPieces).  One scan left to right.  A sentence ends
**    after a line break, and after a run of . ! ? or the ellipsis (with any
**    closing quotes and brackets " ' ) ] after it) that is followed by
**    white space or the end of the text; the white space after it stays
**    with it.  A run whose first mark is a period does not end a sentence
**    when the word before it is a single letter ("J. Smith"), holds a
**    period ("U.S.", "e.g.") or is a common abbreviation ("Dr.", "etc."),
**    unless a ! or ? follows in the same run.  Each run is weighed once
**    and the scan goes on after it, and the look back for the word stops
**    at the white space before it, so every byte is looked at a bounded
**    number of times.
** 2. Long sentences.  A sentence of more than 2 x target characters is cut
**    into pieces: each ends after the last run of white space before the
**    target is reached (or after the first one past it, when a word is
**    longer).  The scan for the next piece restarts at the cut, at most
**    target characters back, and then goes at least target forward, so no
**    byte is looked at more than twice here.
** 3. Chunks (embSegChoose).  With S(i) the characters of pieces [0, i) and
**    T the target, the chunks are the set of cuts that minimises
**        sum over chunks [j, i) of ((S(i) - S(j) - T) / T)^2
**      + sum over cuts before piece j of SPLIT_W * (1 + sim(j-1, j)) / 2,
**    by dynamic programming: f(i) = min over j < i of f(j) + cut(j) +
**    ((S(i) - S(j) - T) / T)^2.  Each candidate j is a parabola in
**    x = S(i), all of the same width, so two of them cross once, at
**        X(j, k) = (S(j) + S(k)) / 2 + T - T^2 (F(j) - F(k)) / (2 (S(k) - S(j)))
**    (F = f + cut; written this way, with no S^2 terms, it keeps its
**    precision for long texts), and past it the later one, k, is cheaper
**    for good.  Queries x come in increasing order, so the candidates that
**    can still win are a deque ordered by where they stop winning (the
**    convex hull trick): each query drops the front ones that stopped,
**    each new candidate drops the back ones it beats from the start.  Each
**    candidate enters and leaves once: O(pieces) for the whole text.
**    Equal costs go to the later candidate (the longer last chunk).
**    A piece of more than 2 x T characters (a word no white space can
**    cut) is a chunk of its own.  Then no chunk is longer than 3 x T: a
**    chunk of pieces of at most 2 x T each that is longer can be cut
**    next to its middle, which lowers its cost from over 4 to at most 3,
**    more than any cut costs (SPLIT_W), so the minimum never holds one;
**    the old explicit 3 x T cap on the search is thus not needed.
** Sizes are in 64 bits where they meet the target (n and counts fit int:
** SQLite's text is under 2^31 bytes).
**
** COMPLEXITY  O(n) time for n bytes (each byte looked at a bounded number
** of times) plus O(pieces) for the choice; O(pieces) memory.  nStep counts
** the work, and test/unit_split.c bounds it.
*/
#include "segment.h"
#include "alloc.h"

#include <string.h>

#define SPLIT_W 0.5          /* weight of a cut's similarity against size */
#define SEG_TICK_EVERY 4096  /* steps between calls of xTick */

/* Count nStep more steps; call xTick when enough have gone by.  Returns
** non-zero to stop. */
static int segStep(EmbSeg *p, uint64_t nStep){
  p->nStep += nStep;
  if( p->xTick && p->nStep - p->nTicked >= SEG_TICK_EVERY ){
    uint64_t n = p->nStep - p->nTicked;
    p->nTicked = p->nStep;
    return p->xTick(p->pTickArg, n);
  }
  return 0;
}

static int isSpace(char c){
  return c==' ' || c=='\t' || c=='\n' || c=='\r' || c=='\f' || c=='\v';
}

/* May follow a sentence's mark: more marks, closing quotes and brackets. */
static int isCloser(char c){
  return c=='.' || c=='!' || c=='?' || c=='"' || c=='\'' || c==')' || c==']';
}

static int isEllipsis(const char *z, int n, int i){
  return z[i]=='\xE2' && i+2<n && z[i+1]=='\x80' && z[i+2]=='\xA6';
}

static int lowerAscii(int c){
  return c>='A' && c<='Z' ? c - 'A' + 'a' : c;
}

/* Does the period at z[i] follow an abbreviation rather than end a
** sentence?  The word before it starts after white space, at iStart at
** the earliest.  Looks at that word only; *pnStep counts it. */
static int isAbbreviation(const char *z, int iStart, int i, uint64_t *pnStep){
  static const char *const azAbbr[] = { "mr", "mrs", "ms", "dr", "st", "vs",
    "etc", "prof", "inc", "jr", "sr", "no", "fig", "approx", "dept",
    "est", "mt", "ltd", "co", "corp" };
  int j = i, n, k;
  size_t a;
  while( j>iStart && !isSpace(z[j-1]) ) j--;
  n = i - j;
  *pnStep += (uint64_t)n;
  if( n==1 && ((z[j]>='a' && z[j]<='z') || (z[j]>='A' && z[j]<='Z')) ){
    return 1;                                /* "J. Smith" */
  }
  if( n>1 && memchr(z+j, '.', (size_t)n) ) return 1;   /* "U.S.", "e.g." */
  for(a=0; a<sizeof(azAbbr)/sizeof(azAbbr[0]); a++){
    if( (int)strlen(azAbbr[a])!=n ) continue;
    for(k=0; k<n && lowerAscii((unsigned char)z[j+k])==azAbbr[a][k]; k++){}
    if( k==n ) return 1;
  }
  return 0;
}

/* Characters in z[0..n) as SQLite counts them (segment.h) into *pnChar;
** z[0] starts a character (every piece starts after an ASCII byte, or at
** 0).  Returns non-zero when told to stop. */
static int charCount(EmbSeg *p, const char *z, int n, int64_t *pnChar){
  int64_t nChar = 0;
  int i, bLead = 0;
  for(i=0; i<n; i++){
    unsigned char b = (unsigned char)z[i];
    if( (b & 0xC0)!=0x80 || !bLead ) nChar++;
    bLead = b>=0xC0 || (bLead && (b & 0xC0)==0x80);
    if( segStep(p, 1) ) return 1;
  }
  *pnChar = nChar;
  return 0;
}

/* Append the piece starting at iByte to *pa (growing it).  Returns
** EMB_SEG_OK or EMB_SEG_NOMEM. */
static int pieceAdd(EmbSegPiece **pa, int *pnPiece, int *pnAlloc, int iByte,
                    int64_t nChar){
  if( *pnPiece+1>=*pnAlloc ){
    int64_t nNew = *pnAlloc ? 2*(int64_t)*pnAlloc : 64;
    EmbSegPiece *aNew;
    if( nNew>0x7fffffff ) nNew = 0x7fffffff;
    if( nNew<=*pnPiece+1 ) return EMB_SEG_NOMEM;
    aNew = embRealloc(*pa, sizeof(EmbSegPiece)*(uint64_t)nNew);
    if( aNew==0 ) return EMB_SEG_NOMEM;
    *pa = aNew;
    *pnAlloc = (int)nNew;
  }
  (*pa)[*pnPiece].iByte = iByte;
  (*pa)[*pnPiece].nChar = (int)nChar;
  (*pnPiece)++;
  return EMB_SEG_OK;
}

/*
** The end of the sentence that starts at iStart (step 1), after the white
** space that follows it, into *piEnd.  Returns non-zero when told to stop.
*/
static int sentenceEnd(EmbSeg *p, const char *z, int n, int iStart,
                       int *piEnd){
  int i = iStart, j = n;
  while( i<n ){
    char c = z[i];
    if( c=='\n' ){
      j = i+1;
      break;
    }
    if( c=='.' || c=='!' || c=='?' || isEllipsis(z, n, i) ){
      int k, bBang = 0;
      j = i + (c=='\xE2' ? 3 : 1);
      while( j<n && isCloser(z[j]) ) j++;
      if( segStep(p, (uint64_t)(j - i)) ) return 1;
      if( j<n && !isSpace(z[j]) ){
        /* no sentence end anywhere in [i, j): every mark in it sees the
        ** same non-space after the run */
        i = j;
        continue;
      }
      for(k=i+1; k<j; k++) bBang |= z[k]=='!' || z[k]=='?';
      if( c!='.' || bBang || !isAbbreviation(z, iStart, i, &p->nStep) ) break;
      i = j;
      continue;
    }
    i++;
    if( segStep(p, 1) ) return 1;
  }
  if( i>=n ) j = n;
  while( j<n && isSpace(z[j]) ){       /* white space stays with it */
    j++;
    if( segStep(p, 1) ) return 1;
  }
  *piEnd = j;
  return 0;
}

int embSegPieces(EmbSeg *p, const char *z, int n, int64_t nTarget,
                 EmbSegPiece **paPiece, int *pnPiece){
  EmbSegPiece *a = 0;
  int nPiece = 0, nAlloc = 0, iStart = 0, rc = EMB_SEG_OK;
  *paPiece = 0;
  *pnPiece = 0;
  while( rc==EMB_SEG_OK && iStart<n ){
    int iEnd = n;
    int64_t nLeft = 0;
    if( sentenceEnd(p, z, n, iStart, &iEnd)
     || charCount(p, z+iStart, iEnd-iStart, &nLeft) ){
      rc = EMB_SEG_STOPPED;
      break;
    }
    /* step 2: the sentence [iStart, iEnd), cut at white space when long */
    while( rc==EMB_SEG_OK && iStart<iEnd ){
      int iCut = iEnd;
      int64_t nCutChar = nLeft;
      if( nLeft > 2*nTarget ){
        int64_t nChar = 0, nAtSpace = 0;
        int i, bLead = 0, iLastSpace = -1;
        for(i=iStart; i<iEnd; i++){
          unsigned char b = (unsigned char)z[i];
          if( (b & 0xC0)!=0x80 || !bLead ) nChar++;
          bLead = b>=0xC0 || (bLead && (b & 0xC0)==0x80);
          if( isSpace(z[i]) && (i+1>=iEnd || !isSpace(z[i+1])) ){
            iLastSpace = i+1;
            nAtSpace = nChar;
          }
          if( segStep(p, 1) ){
            rc = EMB_SEG_STOPPED;
            break;
          }
          if( nChar>=nTarget && iLastSpace>iStart ) break;
        }
        if( iLastSpace>iStart && iLastSpace<iEnd ){
          iCut = iLastSpace;
          nCutChar = nAtSpace;
        }
      }
      if( rc==EMB_SEG_OK ) rc = pieceAdd(&a, &nPiece, &nAlloc, iStart, nCutChar);
      nLeft -= nCutChar;
      iStart = iCut;
    }
  }
  if( rc==EMB_SEG_OK && nPiece>0 ){
    rc = pieceAdd(&a, &nPiece, &nAlloc, n, 0);   /* the end marker */
    nPiece--;
  }
  if( rc ){
    embFree(a);
    return rc;
  }
  *paPiece = a;
  *pnPiece = nPiece;
  return EMB_SEG_OK;
}

/* The cost of a cut before piece j (j >= 1). */
static double cutCost(const double *aSim, int j){
  return SPLIT_W*(1.0 + aSim[j-1])/2.0;
}

static double sizeCost(int64_t nChar, int64_t nTarget){
  double d = (double)(nChar - nTarget)/(double)nTarget;
  return d*d;
}

/* Where candidate k starts to be at least as cheap as j < k (step 3). */
static double crossAt(const int64_t *aS, const double *aF, int j, int k,
                      double T){
  double dS = (double)(aS[k] - aS[j]);
  return ((double)aS[j] + (double)aS[k])/2.0 + T
         - T*T*(aF[j] - aF[k])/(2.0*dS);
}

int embSegChoose(EmbSeg *p, const EmbSegPiece *aPiece, int nPiece,
                 const double *aSim, int64_t nTarget, int *aFirst,
                 int *pnChunk){
  /* aS[i] = S(i); aF[i] = F(i) = f(i) + cut(i), from the last forced
  ** boundary; aFrom[i] = the start of the last chunk of the best f(i);
  ** aQ[iHead..iTail) the deque */
  int64_t *aS = embMalloc(sizeof(int64_t)*((uint64_t)nPiece+1));
  double *aF = embMalloc(sizeof(double)*((uint64_t)nPiece+1));
  int *aFrom = embMalloc(sizeof(int)*((uint64_t)nPiece+1));
  int *aQ = embMalloc(sizeof(int)*((uint64_t)nPiece+1));
  double T = (double)nTarget;
  int i, iHead = 0, iTail = 0, nChunk, rc = EMB_SEG_OK;
  if( !aS || !aF || !aFrom || !aQ ){
    rc = EMB_SEG_NOMEM;
    goto choose_done;
  }
  aS[0] = 0;
  for(i=0; i<nPiece; i++) aS[i+1] = aS[i] + aPiece[i].nChar;
  aF[0] = 0.0;
  aQ[iTail++] = 0;
  for(i=1; i<=nPiece; i++){
    uint64_t nStep = 1;
    if( aS[i] - aS[i-1] > 2*nTarget ){
      /* piece i-1 is a chunk of its own: forget the candidates before it,
      ** and count costs afresh from here (only differences matter) */
      aFrom[i] = i-1;
      aF[i] = 0.0;
      iHead = iTail = 0;
    }else{
      double x = (double)aS[i], f;
      int j;
      while( iTail-iHead>=2 && crossAt(aS, aF, aQ[iHead], aQ[iHead+1], T)<=x ){
        iHead++;
        nStep++;
      }
      j = aQ[iHead];
      f = aF[j] + sizeCost(aS[i] - aS[j], nTarget);
      aFrom[i] = j;
      aF[i] = i<nPiece ? f + cutCost(aSim, i) : f;
    }
    if( i<nPiece ){
      while( iTail-iHead>=2
          && crossAt(aS, aF, aQ[iTail-2], aQ[iTail-1], T)
             >= crossAt(aS, aF, aQ[iTail-1], i, T) ){
        iTail--;
        nStep++;
      }
      aQ[iTail++] = i;
    }
    if( segStep(p, nStep) ){
      rc = EMB_SEG_STOPPED;
      goto choose_done;
    }
  }
  /* walk back from the end, then write the starts in order */
  nChunk = 0;
  for(i=nPiece; i>0; i=aFrom[i]) nChunk++;
  aFirst[nChunk] = nPiece;
  *pnChunk = nChunk;
  for(i=nPiece; i>0; i=aFrom[i]) aFirst[--nChunk] = aFrom[i];
  p->nStep += (uint64_t)*pnChunk;

choose_done:
  embFree(aS);
  embFree(aF);
  embFree(aFrom);
  embFree(aQ);
  return rc;
}

double embSegCost(const EmbSegPiece *aPiece, const double *aSim,
                  int64_t nTarget, const int *aFirst, int nChunk){
  double r = 0.0;
  int c;
  for(c=0; c<nChunk; c++){
    int64_t nChar = 0;
    int i;
    for(i=aFirst[c]; i<aFirst[c+1]; i++) nChar += aPiece[i].nChar;
    r += sizeCost(nChar, nTarget);
    if( aFirst[c]>0 ) r += cutCost(aSim, aFirst[c]);
  }
  return r;
}
