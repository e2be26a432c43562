/*
** split.c: embed_split(), semantic splitting of a long text into chunks,
** as a table-valued function.
**
**     SELECT chunk, start, end FROM embed_split(:text, 500);
**     SELECT chunk FROM embed_split(body, 300, 'wl') JOIN docs ...;
**
** Each row is one chunk of the text; the chunks, in order, concatenate back
** to the text exactly.  start and end are character offsets, start counted
** from 0 and end exclusive: substr(text, start + 1, end - start) = chunk.
**
** HOW IT WORKS
** 1. Sentences.  The text is cut after each run of . ! ? or the ellipsis
**    (with any closing quotes and brackets) that is followed by white
**    space, and after each line break; white space stays with the sentence
**    before it.  A period after a single letter, a dotted abbreviation
**    ("U.S.", "e.g.") or a common one ("Dr.", "etc.") does not end a
**    sentence.  A sentence longer than
**    twice the target is cut at white space into pieces near the target.
** 2. Similarity.  Each sentence is embedded with the model (as embed()
**    does) and each neighbouring pair gets its cosine; a pair where either
**    side has no known word counts as 0.
** 3. Cuts.  Dynamic programming over the sentence boundaries chooses the
**    chunks that minimise the sum, over chunks, of ((length - target) /
**    target)^2, plus, for each cut, SPLIT_W * (1 + cosine) / 2: chunks near
**    the target size, cut where consecutive sentences are least similar.
**    A chunk holds at most 3 x target characters unless one piece is
**    longer.  O(sentences x sentences-per-chunk) time.
*/
#include "split.h"
#include "conn.h"

#include <math.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define SPLIT_W 0.5          /* weight of a cut's similarity against size */

/* Column numbers */
#define SPLIT_CHUNK   0
#define SPLIT_START   1
#define SPLIT_END     2
#define SPLIT_TEXT    3      /* hidden: argument 1 */
#define SPLIT_TARGET  4      /* hidden: argument 2 */
#define SPLIT_MODEL   5      /* hidden: argument 3, optional */

typedef struct split_vtab split_vtab;
struct split_vtab {
  sqlite3_vtab base;
  EmbConn *pConn;
};

/* One piece of the text: bytes [iByte, iByte+nByte), nChar characters. */
typedef struct SplitPiece SplitPiece;
struct SplitPiece {
  int iByte, nByte;
  int nChar;
};

typedef struct split_cursor split_cursor;
struct split_cursor {
  sqlite3_vtab_cursor base;
  char *zText;               /* a copy of the text (valid while scanning) */
  int nChunk, iChunk;
  int *aByte;                /* chunk i is bytes [aByte[i], aByte[i+1]) */
  int *aChar;                /* and characters [aChar[i], aChar[i+1]) */
};

static int splitConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr){
  split_vtab *pNew;
  int rc;
  (void)argc; (void)argv; (void)pzErr;
  rc = sqlite3_declare_vtab(db,
      "CREATE TABLE x(chunk TEXT, start INTEGER, \"end\" INTEGER, "
      "text HIDDEN, target_size HIDDEN, model HIDDEN)");
  if( rc ) return rc;
  pNew = sqlite3_malloc64(sizeof(*pNew));
  if( pNew==0 ) return SQLITE_NOMEM;
  memset(pNew, 0, sizeof(*pNew));
  pNew->pConn = (EmbConn*)pAux;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &pNew->base;
  return SQLITE_OK;
}

static int splitDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int splitOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  split_cursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  (void)pVtab;
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static void cursorClear(split_cursor *pCur){
  sqlite3_free(pCur->zText);
  sqlite3_free(pCur->aByte);
  sqlite3_free(pCur->aChar);
  pCur->zText = 0;
  pCur->aByte = pCur->aChar = 0;
  pCur->nChunk = pCur->iChunk = 0;
}

static int splitClose(sqlite3_vtab_cursor *cur){
  cursorClear((split_cursor*)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

static int isSpace(char c){
  return c==' ' || c=='\t' || c=='\n' || c=='\r' || c=='\f' || c=='\v';
}

/* Does the period at z[i] end an abbreviation rather than a sentence? */
static int isAbbreviation(const char *z, int iStart, int i){
  static const char *azAbbr[] = { "mr", "mrs", "ms", "dr", "st", "vs", "etc",
    "prof", "inc", "jr", "sr", "no", "fig", "approx", "dept",
    "est", "mt", "ltd", "co", "corp" };
  int j = i, n;
  size_t k;
  while( j>iStart && !isSpace(z[j-1]) ) j--;
  n = i - j;
  if( n==1 && ((z[j]>='a' && z[j]<='z') || (z[j]>='A' && z[j]<='Z')) ){
    return 1;                                /* "J. Smith" */
  }
  if( n>1 && memchr(z+j, '.', (size_t)n) ) return 1;   /* "U.S.", "e.g." */
  for(k=0; k<sizeof(azAbbr)/sizeof(azAbbr[0]); k++){
    if( (int)strlen(azAbbr[k])==n && sqlite3_strnicmp(z+j, azAbbr[k], n)==0 ){
      return 1;
    }
  }
  return 0;
}

static int charCount(const char *z, int n){
  int i, c = 0;
  for(i=0; i<n; i++) c += ((unsigned char)z[i] & 0xC0)!=0x80;
  return c;
}

/*
** Cut z[0..n) into pieces (step 1 of HOW IT WORKS), at most nTarget*2
** characters each where white space allows.  Returns the count, or -1 when
** out of memory; *paPiece is from sqlite3_malloc (the caller frees it).
*/
static int splitPieces(const char *z, int n, int nTarget,
                       SplitPiece **paPiece){
  SplitPiece *a = 0;
  int nPiece = 0, nAlloc = 0, i = 0, iStart = 0;
  while( iStart<n ){
    int iEnd = n;
    /* find the end of the sentence that starts at iStart */
    for(i=iStart; i<n; i++){
      char c = z[i];
      int isEnd = 0, j = i+1;
      if( c=='\n' ){
        isEnd = 1;
      }else if( c=='.' || c=='!' || c=='?'
             || (c=='\xE2' && i+2<n && z[i+1]=='\x80' && z[i+2]=='\xA6') ){
        if( c=='\xE2' ) j = i+3;
        while( j<n && (z[j]=='.' || z[j]=='!' || z[j]=='?' || z[j]=='"'
                       || z[j]=='\'' || z[j]==')' || z[j]==']') ) j++;
        isEnd = (j>=n || isSpace(z[j])) && !(c=='.' && isAbbreviation(z, iStart, i));
      }
      if( isEnd ){
        while( j<n && isSpace(z[j]) ) j++;   /* white space stays with it */
        iEnd = j;
        break;
      }
    }
    /* the sentence [iStart, iEnd), cut at white space when too long */
    while( iStart<iEnd ){
      int iCut = iEnd;
      if( charCount(z+iStart, iEnd-iStart) > 2*nTarget ){
        int nChar = 0, iLastSpace = -1;
        for(i=iStart; i<iEnd; i++){
          if( ((unsigned char)z[i] & 0xC0)!=0x80 ) nChar++;
          if( isSpace(z[i]) && (i+1>=iEnd || !isSpace(z[i+1])) ) iLastSpace = i+1;
          if( nChar>=nTarget && iLastSpace>iStart ) break;
        }
        if( iLastSpace>iStart && iLastSpace<iEnd ) iCut = iLastSpace;
      }
      if( nPiece>=nAlloc ){
        SplitPiece *aNew;
        nAlloc = nAlloc ? nAlloc*2 : 64;
        aNew = sqlite3_realloc64(a, sizeof(*a)*(sqlite3_uint64)nAlloc);
        if( aNew==0 ){ sqlite3_free(a); return -1; }
        a = aNew;
      }
      a[nPiece].iByte = iStart;
      a[nPiece].nByte = iCut - iStart;
      a[nPiece].nChar = charCount(z+iStart, iCut-iStart);
      nPiece++;
      iStart = iCut;
    }
  }
  *paPiece = a;
  return nPiece;
}

/*
** Split the text into chunks for pCur.  Returns SQLITE_OK, SQLITE_NOMEM.
*/
static int splitText(split_cursor *pCur, EmbConn *pConn, EmbModel *pModel,
                     int nTarget){
  const char *z = pCur->zText;
  int n = (int)strlen(z);
  SplitPiece *aPiece = 0;
  int nPiece, i, j, nDims = pModel->nDims, rc = SQLITE_OK;
  float *aVec = 0;
  double *aSim = 0, *aCost = 0;
  int *aFrom = 0;
  nPiece = splitPieces(z, n, nTarget, &aPiece);
  if( nPiece<0 ) return SQLITE_NOMEM;
  if( nPiece==0 ) return SQLITE_OK;
  aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_uint64)nDims*2);
  aSim = sqlite3_malloc64(sizeof(double)*(sqlite3_uint64)nPiece);
  aCost = sqlite3_malloc64(sizeof(double)*(sqlite3_uint64)(nPiece+1));
  aFrom = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)(nPiece+1));
  pCur->aByte = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)(nPiece+1));
  pCur->aChar = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)(nPiece+1));
  if( !aVec || !aSim || !aCost || !aFrom || !pCur->aByte || !pCur->aChar ){
    rc = SQLITE_NOMEM;
    goto split_done;
  }
  /* aSim[i]: cosine of pieces i and i+1 (both unit vectors or zero) */
  for(i=0; i<nPiece; i++){
    float *pCurVec = aVec + (size_t)(i&1)*nDims;
    float *pPrev = aVec + (size_t)((i+1)&1)*nDims;
    rc = embEmbedText(pConn, pModel, z + aPiece[i].iByte,
                      (size_t)aPiece[i].nByte, nDims, pCurVec);
    if( rc ) goto split_done;
    if( i>0 ){
      double dot = 0.0;
      for(j=0; j<nDims; j++) dot += (double)pCurVec[j]*pPrev[j];
      aSim[i-1] = dot;
    }
  }
  /* aCost[i]: least cost of chunking pieces [0, i); aFrom[i]: where the
  ** last chunk of that best solution starts */
  aCost[0] = 0.0;
  for(i=1; i<=nPiece; i++){
    int nChar = 0;
    aCost[i] = INFINITY;
    aFrom[i] = i-1;
    for(j=i-1; j>=0; j--){
      double d, c;
      nChar += aPiece[j].nChar;
      if( j<i-1 && nChar > 3*nTarget ) break;
      d = (double)(nChar - nTarget)/nTarget;
      c = aCost[j] + d*d;
      if( j>0 ) c += SPLIT_W*(1.0 + aSim[j-1])/2.0;
      if( c<aCost[i] ){
        aCost[i] = c;
        aFrom[i] = j;
      }
    }
  }
  /* walk back from the end, then reverse into chunk boundaries */
  pCur->nChunk = 0;
  for(i=nPiece; i>0; i=aFrom[i]) pCur->nChunk++;
  j = pCur->nChunk;
  pCur->aByte[j] = n;
  pCur->aChar[j] = 0;
  for(i=nPiece; i>0; i=aFrom[i]){
    j--;
    pCur->aByte[j] = aPiece[aFrom[i]].iByte;
  }
  for(i=0, j=0; i<pCur->nChunk; i++){
    pCur->aChar[i] = j;
    j += charCount(z + pCur->aByte[i], pCur->aByte[i+1] - pCur->aByte[i]);
  }
  pCur->aChar[pCur->nChunk] = j;

split_done:
  sqlite3_free(aPiece);
  sqlite3_free(aVec);
  sqlite3_free(aSim);
  sqlite3_free(aCost);
  sqlite3_free(aFrom);
  return rc;
}

/* Set an error on the vtab; the message is freed. */
static int vtabError(sqlite3_vtab *pVtab, char *zMsg){
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zMsg;
  return zMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

static int splitFilter(sqlite3_vtab_cursor *cur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  split_cursor *pCur = (split_cursor*)cur;
  split_vtab *pTab = (split_vtab*)cur->pVtab;
  const char *zText, *zModel = "default";
  sqlite3_int64 nTarget;
  EmbModel *pModel;
  (void)idxStr;
  cursorClear(pCur);
  if( idxNum!=3 || argc<2 ){
    return vtabError(cur->pVtab, sqlite3_mprintf(
        "embed_split(): needs a text and a target size: "
        "embed_split(text, target_size [, model])"));
  }
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ) return SQLITE_OK;
  if( sqlite3_value_type(argv[1])!=SQLITE_INTEGER
   || (nTarget = sqlite3_value_int64(argv[1]))<1 || nTarget>1000000000 ){
    return vtabError(cur->pVtab, sqlite3_mprintf(
        "embed_split(): target_size must be a positive integer (characters), "
        "not '%q'", (const char*)sqlite3_value_text(argv[1])));
  }
  if( argc>2 && sqlite3_value_type(argv[2])!=SQLITE_NULL ){
    zModel = (const char*)sqlite3_value_text(argv[2]);
    if( zModel==0 ) return SQLITE_NOMEM;
  }
  pModel = embConnFind(pTab->pConn, zModel);
  if( pModel==0 ){
    char *zWhy = embConnMissingModel(pTab->pConn, zModel);
    char *zMsg = zWhy ? sqlite3_mprintf("embed_split(): %s", zWhy) : 0;
    sqlite3_free(zWhy);
    return vtabError(cur->pVtab, zMsg);
  }
  zText = (const char*)sqlite3_value_text(argv[0]);
  if( zText==0 ) return SQLITE_NOMEM;
  pCur->zText = sqlite3_mprintf("%s", zText);
  if( pCur->zText==0 ) return SQLITE_NOMEM;
  return splitText(pCur, pTab->pConn, pModel, (int)nTarget);
}

static int splitNext(sqlite3_vtab_cursor *cur){
  ((split_cursor*)cur)->iChunk++;
  return SQLITE_OK;
}

static int splitEof(sqlite3_vtab_cursor *cur){
  split_cursor *pCur = (split_cursor*)cur;
  return pCur->iChunk>=pCur->nChunk;
}

static int splitColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                       int i){
  split_cursor *pCur = (split_cursor*)cur;
  int k = pCur->iChunk;
  switch( i ){
    case SPLIT_CHUNK:
      sqlite3_result_text(ctx, pCur->zText + pCur->aByte[k],
                          pCur->aByte[k+1] - pCur->aByte[k], SQLITE_TRANSIENT);
      break;
    case SPLIT_START: sqlite3_result_int(ctx, pCur->aChar[k]); break;
    case SPLIT_END:   sqlite3_result_int(ctx, pCur->aChar[k+1]); break;
    default: break;   /* the hidden arguments read back as NULL */
  }
  return SQLITE_OK;
}

static int splitRowid(sqlite3_vtab_cursor *cur, sqlite_int64 *pRowid){
  *pRowid = ((split_cursor*)cur)->iChunk + 1;
  return SQLITE_OK;
}

/*
** Arguments are equality constraints on the hidden columns.  idxNum bits:
**   1  text given          2  target_size given
** argv order: text, target_size, then model when given.
*/
static int splitBestIndex(sqlite3_vtab *tab, sqlite3_index_info *pInfo){
  int aIdx[3] = { -1, -1, -1 }, i, nArg = 0;
  (void)tab;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *p = &pInfo->aConstraint[i];
    int iCol = p->iColumn - SPLIT_TEXT;
    if( iCol<0 || iCol>2 || p->op!=SQLITE_INDEX_CONSTRAINT_EQ ) continue;
    if( !p->usable ) return SQLITE_CONSTRAINT;
    aIdx[iCol] = i;
  }
  pInfo->idxNum = 0;
  for(i=0; i<3; i++){
    if( aIdx[i]<0 ) break;
    pInfo->aConstraintUsage[aIdx[i]].argvIndex = ++nArg;
    pInfo->aConstraintUsage[aIdx[i]].omit = 1;
    if( i<2 ) pInfo->idxNum |= 1<<i;
  }
  pInfo->estimatedCost = pInfo->idxNum==3 ? 100.0 : 1e12;
  pInfo->estimatedRows = 20;
  return SQLITE_OK;
}

static const sqlite3_module splitModule = {
  .iVersion    = 0,
  .xConnect    = splitConnect,
  .xBestIndex  = splitBestIndex,
  .xDisconnect = splitDisconnect,
  .xOpen       = splitOpen,
  .xClose      = splitClose,
  .xFilter     = splitFilter,
  .xNext       = splitNext,
  .xEof        = splitEof,
  .xColumn     = splitColumn,
  .xRowid      = splitRowid,
};

int embSplitRegister(sqlite3 *db, EmbConn *pConn){
  embConnRef(pConn);
  return sqlite3_create_module_v2(db, "embed_split", &splitModule, pConn,
                                  embConnUnref);
}
