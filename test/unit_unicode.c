/*
** unit_unicode.c: unit tests of ext/unicode.c: UTF-8 repair by the WHATWG
** rule (one U+FFFD per maximal invalid subpart), character classes and
** lower case.
**
**     build/unit_unicode        prints failures and "N passed, N failed"
**
** Expected outputs are worked out by hand from the Unicode standard's
** Table 3-7 (well-formed byte sequences) and its "U+FFFD substitution of
** maximal subparts" practice, which WHATWG's decoder follows.
*/
#include "unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nPass = 0, nFail = 0;

#define CHECK(cond, ...) do{                                   \
  if( cond ){ nPass++; }else{                                  \
    nFail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
    printf(__VA_ARGS__); printf("\n");                         \
  }                                                            \
}while(0)

#define R "\xEF\xBF\xBD"   /* U+FFFD in UTF-8 */

static void checkRepair(int line, const char *zIn, size_t nIn,
                        const char *zWant){
  char *zOut = 0;
  size_t nOut = 0;
  int rc = embUtf8Repair(zIn, nIn, &zOut, &nOut);
  const char *zGot = rc ? zOut : zIn;
  size_t nGot = rc ? nOut : nIn;
  if( nGot==strlen(zWant) && memcmp(zGot, zWant, nGot)==0 ){
    nPass++;
  }else{
    size_t i;
    nFail++;
    printf("FAIL %s:%d: repair gave", __FILE__, line);
    for(i=0; i<nGot; i++) printf(" %02x", (unsigned char)zGot[i]);
    printf("\n");
  }
  if( rc==0 ) CHECK(zOut==0, "nothing allocated for valid input");
  free(zOut);
}
#define REPAIR(lit, want) checkRepair(__LINE__, lit, sizeof(lit)-1, want)

static void testRepair(void){
  REPAIR("", "");
  REPAIR("hello", "hello");
  REPAIR("h\xC3\xA9llo", "h\xC3\xA9llo");                  /* valid é */
  REPAIR("a\xF0\x9F\x98\x80z", "a\xF0\x9F\x98\x80z");      /* valid emoji */
  REPAIR("\x80", R);                          /* lone continuation byte */
  REPAIR("\xFF", R);
  REPAIR("\xC3", R);                          /* truncated at the end */
  REPAIR("\xC3" "a", R "a");                  /* broken by an ASCII byte */
  REPAIR("\xE2\x82", R);                      /* 2 of 3: one subpart */
  REPAIR("\xE2\x82" "A", R "A");
  REPAIR("\xF0\x9F\x98", R);                  /* 3 of 4: one subpart */
  REPAIR("\xF0\x9F\x98" "\xF0\x9F\x98\x80", R "\xF0\x9F\x98\x80");
  REPAIR("\xC0\xAF", R R);                    /* overlong lead: 2 */
  REPAIR("\xE0\x80\x80", R R R);              /* E0 needs A0..BF next */
  REPAIR("\xED\xA0\x80", R R R);              /* surrogate: ED needs 80..9F */
  REPAIR("\xF0\x80\x80\x80", R R R R);        /* F0 needs 90..BF next */
  REPAIR("\xF4\x90\x80\x80", R R R R);        /* above U+10FFFF */
  REPAIR("\xF5\x80", R R);
  REPAIR("a\x80" "b\xC3\xA9", "a" R "b\xC3\xA9");
  /* E1 80 | E2 | F0 91 92 | F1 BF | A: four subparts */
  REPAIR("\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", R R R R "A");
  /* Table 3-8 of the Unicode standard: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
  REPAIR("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
         "a" R R R "b" R "c" R R "d");
}

static void testClasses(void){
  CHECK(embUniClass('a')==EMB_CL_L, "a");
  CHECK(embUniClass(0xE9)==EMB_CL_L, "e acute");
  CHECK(embUniClass('7')==EMB_CL_N, "7");
  CHECK(embUniClass(0x0661)==EMB_CL_N, "Arabic-Indic one");
  CHECK((embUniClass(' ') & EMB_CL_WS)!=0, "space");
  CHECK((embUniClass(0x3000) & EMB_CL_WS)!=0, "ideographic space");
  CHECK((embUniClass(0x00A0) & EMB_CL_WS)!=0, "no-break space");
  CHECK(embUniClass(0x200B)==0, "zero width space is not White_Space");
  CHECK(embUniClass(',')==EMB_CL_P, "comma");
  CHECK(embUniClass(0x20AC)==EMB_CL_P, "euro sign (Sc)");
  CHECK(embUniClass(0x0301)==EMB_CL_M, "combining acute");
  CHECK(embUniClass(0x4E00)==EMB_CL_L, "CJK ideograph");
  CHECK((embUniClass('\n') & (EMB_CL_WS|EMB_CL_C))==(EMB_CL_WS|EMB_CL_C),
        "newline is a control and White_Space");
  CHECK(embUniClass(0x10FFFF)==0, "unassigned");
}

static void testLower(void){
  CHECK(embUniLower('A')=='a', "A");
  CHECK(embUniLower('z')=='z', "z");
  CHECK(embUniLower(0xC9)==0xE9, "E acute");
  CHECK(embUniLower(0x0391)==0x03B1, "Greek Alpha");
  CHECK(embUniLower(0x0416)==0x0436, "Cyrillic Zhe");
  CHECK(embUniLower(0x023A)==0x2C65, "A with stroke grows to 3 bytes");
  CHECK(embUniLower(0x0130)==0x0130, "dotted I has no single lower case");
  CHECK(embUniLower(0x1E9E)==0xDF, "capital sharp s");
}

static void testPut(void){
  uint8_t a[4];
  size_t i;
  uint32_t aCp[] = { 0x41, 0xE9, 0x20AC, 0x1F600, 0x7FF, 0x800, 0xFFFF,
                     0x10000, 0x10FFFF };
  for(i=0; i<sizeof(aCp)/sizeof(aCp[0]); i++){
    size_t n = embUtf8Put(aCp[i], a), j = 0;
    uint32_t c = embUtf8Next(a, n, &j);
    CHECK(c==aCp[i] && j==n, "round trip of U+%04X", aCp[i]);
  }
}

int main(void){
  testRepair();
  testClasses();
  testLower();
  testPut();
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail!=0;
}
