/*
** segment.h: embed_split's text work, with no SQLite types -- cutting a
** text into sentence pieces, and choosing which pieces start a chunk.
**
**     EmbSeg seg = { 0 };                  (no tick: runs to the end)
**     EmbSegPiece *a; int nPiece, nChunk;
**     embSegPieces(&seg, z, n, 500, &a, &nPiece);
**     ...aSim[i] = similarity of pieces i and i+1...
**     embSegChoose(&seg, a, nPiece, aSim, 500, aFirst, &nChunk);
**     ...chunk c is pieces [aFirst[c], aFirst[c+1]), bytes
**        [a[aFirst[c]].iByte, a[aFirst[c+1]].iByte)...
**     embFree(a);
**
** The rules (what the pieces are, what the chunks cost) are in segment.c's
** header.  Both functions run in time linear in their input, and count
** what they do in EmbSeg.nStep (one a byte looked at, a candidate weighed
** or dropped), which tests bound.  xTick, when set, is called every few
** thousand steps with the steps since its last call; a non-zero return
** stops the work (EMB_SEG_STOPPED), so a caller can honour interrupts.
*/
#ifndef EMB_SEGMENT_H
#define EMB_SEGMENT_H

#include <stdint.h>

#define EMB_SEG_OK      0
#define EMB_SEG_NOMEM   1    /* out of memory */
#define EMB_SEG_STOPPED 2    /* xTick returned non-zero */

typedef struct EmbSeg EmbSeg;
struct EmbSeg {
  int (*xTick)(void *pArg, uint64_t nStep);   /* or NULL */
  void *pTickArg;
  uint64_t nStep;            /* steps taken so far */
  uint64_t nTicked;          /* nStep at the last xTick */
};

/* One piece: bytes [iByte, next piece's iByte); nChar characters as SQLite
** counts them in substr() (a byte >= 0xC0 with the 0x80-0xBF bytes after
** it is one character, any other byte one), so a NUL byte is one. */
typedef struct EmbSegPiece EmbSegPiece;
struct EmbSegPiece {
  int iByte;
  int nChar;
};

/*
** Cut z[0..n) into pieces for chunks near nTarget characters
** (1 <= nTarget).  On EMB_SEG_OK, *paPiece (from embMalloc(); the caller
** frees it with embFree()) holds *pnPiece pieces and, after them, one more
** entry {n, 0}, so piece i's bytes end where piece i+1 starts.  The pieces
** tile z exactly: every byte, NUL and invalid UTF-8 included, is in one.
** An empty text has no pieces (*paPiece is then NULL).  On error there is
** nothing to free.
*/
int embSegPieces(EmbSeg *p, const char *z, int n, int64_t nTarget,
                 EmbSegPiece **paPiece, int *pnPiece);

/*
** Choose the chunks: aSim[i] (i < nPiece-1) is the similarity, -1 to 1,
** of pieces i and i+1.  aFirst has room for nPiece+1 ints; on EMB_SEG_OK,
** chunk c is pieces [aFirst[c], aFirst[c+1]) for c < *pnChunk, and
** aFirst[*pnChunk] == nPiece.  nPiece >= 1.
*/
int embSegChoose(EmbSeg *p, const EmbSegPiece *aPiece, int nPiece,
                 const double *aSim, int64_t nTarget, int *aFirst,
                 int *pnChunk);

/* The cost embSegChoose() minimises, of the chunks aFirst[0..nChunk] (for
** tests: a brute-force search must find no cheaper set). */
double embSegCost(const EmbSegPiece *aPiece, const double *aSim,
                  int64_t nTarget, const int *aFirst, int nChunk);

#endif /* EMB_SEGMENT_H */
