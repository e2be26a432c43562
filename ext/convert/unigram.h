/*
** unigram.h: the tables of the Unigram tokenizer (models/FORMAT.md, "The
** Unigram tokenizer") built from a model's pieces and scores.
**
**     EmbUniTables t;  char *zErr = 0;
**     if( embUnigramTables(azPiece, aScore, nPiece, &t, &zErr)==0 ){
**       ... t.aScore [nPiece+1], t.aTrie [t.nNode][3], t.aByte [256] ...
**     }
**     embUnigramTablesFree(&t);
*/
#ifndef EMB_CONVERT_UNIGRAM_H
#define EMB_CONVERT_UNIGRAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct EmbUniTables EmbUniTables;
struct EmbUniTables {
  double *aScore;        /* [nPiece + 1]: each piece's, then unk's */
  uint32_t *aTrie;       /* [nNode * 3]: the double array, (base, check,
                         ** id + 1 or 0) a slot */
  uint32_t nNode;        /* its slots */
  uint32_t *aByte;       /* [256]: the id of <0xNN>, or 0xFFFFFFFF */
  int nMaxPiece;         /* the longest piece in bytes */
};

/*
** Build the tables for pieces azPiece[0..nPiece) (UTF-8, non-empty,
** distinct) with scores aScore[0..nPiece) (finite).  The unknown
** character's score is the lowest score less 10, as Hugging Face's.  All
** buffers from embMalloc(), owned by *p (embUnigramTablesFree()).
** Returns 0, or -1 with *pzErr set (embMprintf()'d; NULL when out of
** memory).
*/
int embUnigramTables(const char *const *azPiece, const double *aScore,
                     int64_t nPiece, EmbUniTables *p, char **pzErr);

/* Free the tables and zero *p.  Safe on a zeroed struct. */
void embUnigramTablesFree(EmbUniTables *p);

#endif /* EMB_CONVERT_UNIGRAM_H */
