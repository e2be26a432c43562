/*
** unicode_norm.c: look-ups in the normalizers' character tables
** (unicode_norm.h; the tables are ext/unicode_norm_tab.h, generated).
**
** HOW IT WORKS
** Each table is sorted; a look-up is a binary search, after a test that
** answers ASCII at once.  Grapheme clusters: one pass forward from the
** cluster's start, deciding at each character whether rules GB3 to GB13
** of UAX #29 forbid a break before it, with the little state the rules
** need (an emoji sequence's progress for GB11, the parity of regional
** indicators for GB12/13, an Indic conjunct's progress for GB9c).
*/
#include "unicode_norm.h"
#include "unicode.h"

#include <stddef.h>

#include "unicode_norm_tab.h"

int embNormIsMark(uint32_t c){
  size_t lo = 0, hi = sizeof(aEmbNormMark)/sizeof(aEmbNormMark[0]);
  if( c<aEmbNormMark[0][0] ) return 0;
  while( lo<hi ){
    size_t mid = (lo+hi)/2;
    if( c<aEmbNormMark[mid][0] ){
      hi = mid;
    }else if( c>aEmbNormMark[mid][1] ){
      lo = mid+1;
    }else{
      return 1;
    }
  }
  return 0;
}

#define G_PICT   16          /* Extended_Pictographic */
#define G_INCB(b) (((b)>>5) & 3)
#define INCB_LINKER    1
#define INCB_CONSONANT 2
#define INCB_EXTEND    3

/* The grapheme bits of c (aEmbNormGcb's) */
static unsigned gcbBits(uint32_t c){
  size_t lo = 0, hi = sizeof(aEmbNormGcb)/sizeof(aEmbNormGcb[0]);
  while( lo<hi ){
    size_t mid = (lo+hi)/2;
    if( c<aEmbNormGcb[mid].lo ){
      hi = mid;
    }else if( c>aEmbNormGcb[mid].hi ){
      lo = mid+1;
    }else{
      return aEmbNormGcb[mid].bits;
    }
  }
  return 0;
}

static unsigned charBits(uint32_t c){
  if( c<0x80 ){
    if( c=='\r' ) return EMB_GCB_CR;
    if( c=='\n' ) return EMB_GCB_LF;
    if( c<0x20 || c==0x7F ) return EMB_GCB_CONTROL;
    return EMB_GCB_OTHER;
  }
  return gcbBits(c);
}

size_t embGraphemeEnd(const uint8_t *z, size_t n, size_t i){
  size_t j = i;
  unsigned b = charBits(embUtf8Next(z, n, &j)), prev = b & 15;
  int ePict = (b & G_PICT) ? 1 : 0;    /* 1: ExtPict Extend*, 2: then ZWJ */
  int nRi = prev==EMB_GCB_REGIONAL_INDICATOR;
  int eIncb = G_INCB(b)==INCB_CONSONANT; /* 1: Consonant (Extend|Linker)*,
                                         ** 2: with a Linker among them */
  while( j<n ){
    size_t k = j;
    unsigned b2, cur;
    int bJoin;
    if( z[k]<0x80 && prev!=EMB_GCB_CR && prev!=EMB_GCB_PREPEND ) return k;
    b2 = charBits(embUtf8Next(z, n, &k));
    cur = b2 & 15;
    if( prev==EMB_GCB_CR && cur==EMB_GCB_LF ) bJoin = 1;             /* GB3 */
    else if( prev==EMB_GCB_CR || prev==EMB_GCB_LF
          || prev==EMB_GCB_CONTROL ) bJoin = 0;                      /* GB4 */
    else if( cur==EMB_GCB_CR || cur==EMB_GCB_LF
          || cur==EMB_GCB_CONTROL ) bJoin = 0;                       /* GB5 */
    else if( prev==EMB_GCB_L && (cur==EMB_GCB_L || cur==EMB_GCB_V
          || cur==EMB_GCB_LV || cur==EMB_GCB_LVT) ) bJoin = 1;       /* GB6 */
    else if( (prev==EMB_GCB_LV || prev==EMB_GCB_V)
          && (cur==EMB_GCB_V || cur==EMB_GCB_T) ) bJoin = 1;         /* GB7 */
    else if( (prev==EMB_GCB_LVT || prev==EMB_GCB_T)
          && cur==EMB_GCB_T ) bJoin = 1;                             /* GB8 */
    else if( cur==EMB_GCB_EXTEND || cur==EMB_GCB_ZWJ
          || cur==EMB_GCB_SPACINGMARK ) bJoin = 1;               /* GB9, 9a */
    else if( prev==EMB_GCB_PREPEND ) bJoin = 1;                     /* GB9b */
    else if( G_INCB(b2)==INCB_CONSONANT && eIncb==2 ) bJoin = 1;    /* GB9c */
    else if( prev==EMB_GCB_ZWJ && ePict==2 && (b2 & G_PICT) ) bJoin = 1;
    else if( prev==EMB_GCB_REGIONAL_INDICATOR
          && cur==EMB_GCB_REGIONAL_INDICATOR && (nRi & 1) ) bJoin = 1;
    else bJoin = 0;
    if( !bJoin ) return j;
    /* the state after cur */
    if( b2 & G_PICT ) ePict = 1;
    else if( ePict==1 && cur==EMB_GCB_EXTEND ) ePict = 1;
    else if( ePict==1 && cur==EMB_GCB_ZWJ ) ePict = 2;
    else ePict = 0;
    nRi = cur==EMB_GCB_REGIONAL_INDICATOR ? nRi+1 : 0;
    switch( G_INCB(b2) ){
      case INCB_CONSONANT: eIncb = 1; break;
      case INCB_LINKER:    if( eIncb ) eIncb = 2; break;
      case INCB_EXTEND:    break;
      default:             eIncb = 0; break;
    }
    prev = cur;
    j = k;
  }
  return n;
}

#define HANGUL_S  0xAC00
#define HANGUL_L  0x1100
#define HANGUL_V  0x1161
#define HANGUL_T  0x11A7
#define HANGUL_NL 19
#define HANGUL_NV 21
#define HANGUL_NT 28
#define HANGUL_N  (HANGUL_NL*HANGUL_NV*HANGUL_NT)

int embNormDecompose(uint32_t c, int bCompat, uint32_t *aOut){
  size_t lo = 0, hi = sizeof(aEmbNormNfkd)/sizeof(aEmbNormNfkd[0]);
  if( c<0xA0 ){ aOut[0] = c; return 1; }
  if( c>=HANGUL_S && c<HANGUL_S+HANGUL_N ) return embBertNfd(c, aOut);
  if( !bCompat ){
    int n = (embBertClass(c) & EMB_BERT_NFD) ? embBertNfd(c, aOut) : 0;
    if( n==0 ){ aOut[0] = c; n = 1; }
    return n;
  }
  while( lo<hi ){
    size_t mid = (lo+hi)/2;
    if( c<aEmbNormNfkd[mid].cp ){
      hi = mid;
    }else if( c>aEmbNormNfkd[mid].cp ){
      lo = mid+1;
    }else{
      int n = aEmbNormNfkd[mid].n, k;
      for(k=0; k<n && k<EMB_NORM_MAXDECOMP; k++){
        aOut[k] = aEmbNormNfkdPool[aEmbNormNfkd[mid].off + k];
      }
      return k;
    }
  }
  aOut[0] = c;
  return 1;
}

uint32_t embNormCompose(uint32_t a, uint32_t b){
  uint64_t key = (uint64_t)a<<32 | b;
  size_t lo = 0, hi = sizeof(aEmbNormComp)/sizeof(aEmbNormComp[0]);
  if( a>=HANGUL_L && a<HANGUL_L+HANGUL_NL && b>=HANGUL_V
   && b<HANGUL_V+HANGUL_NV ){
    return HANGUL_S + ((a-HANGUL_L)*HANGUL_NV + (b-HANGUL_V))*HANGUL_NT;
  }
  if( a>=HANGUL_S && a<HANGUL_S+HANGUL_N && (a-HANGUL_S)%HANGUL_NT==0
   && b>HANGUL_T && b<HANGUL_T+HANGUL_NT ){
    return a + (b-HANGUL_T);
  }
  while( lo<hi ){
    size_t mid = (lo+hi)/2;
    uint64_t k = (uint64_t)aEmbNormComp[mid][0]<<32 | aEmbNormComp[mid][1];
    if( key<k ){
      hi = mid;
    }else if( key>k ){
      lo = mid+1;
    }else{
      return aEmbNormComp[mid][2];
    }
  }
  return 0;
}

int embNormCcc(uint32_t c){
  if( c<0x300 ) return 0;
  return (embBertClass(c) & EMB_BERT_CCC) ? embBertCcc(c) : 0;
}
