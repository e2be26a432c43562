/*
** quality.c: sentence-embedding quality on STS Benchmark, as Spearman's
** rank correlation (x100) between cosine(embed(s1), embed(s2)) and the gold
** similarity scores, and on Banking77 as 1-nearest-neighbour accuracy.
**
**     build/quality build/embed.so ../shared/data/stsb_test.tsv \
**         default=models/default.emb raw=models/raw.emb
**     build/quality --banking=../shared/data/banking77 --min=74 \
**         --min-banking=87 build/embed.so STSB.tsv default=models/default.emb
**
** With --min=X it is a test: each model's Spearman x100 must reach X (and
** with --min-banking=P, its Banking77 accuracy P percent), and it ends
** with "N passed, N failed".
**
** Banking77 (--banking=PREFIX reads PREFIX_train.tsv and PREFIX_test.tsv,
** "label<TAB>text"): each test text's label is predicted as the label of
** the training text whose embedding has the highest cosine with its own
** (the first of equals; texts with no token embed to zero and match
** nothing), and the accuracy is the share predicted right, x100.
**
** HOW IT WORKS
** Each NAME=PATH model is loaded into one connection with embed_load(); for
** every pair "score<TAB>s1<TAB>s2" of the TSV file the SQL expression
** cosine(embed(?1, NULL, NAME), embed(?2, NULL, NAME)) is evaluated (a pair
** with no known word on one side has a NULL cosine and counts as 0).
** Spearman's rho is Pearson's correlation of the two rank vectors, with
** tied values given their average rank.  Prints one line per model.
*/
#include <sqlite3.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Pair Pair;
struct Pair { double gold; char *z1, *z2; };

/* Ranks of a[0..n) into aRank, ties averaged (1-based). */
static void rankOf(const double *a, int n, double *aRank){
  int *aIdx = malloc(sizeof(int)*(size_t)n), i, j;
  if( aIdx==0 ){ fprintf(stderr, "out of memory\n"); exit(2); }
  for(i=0; i<n; i++) aIdx[i] = i;
  /* insertion sort would be O(n^2); a simple merge sort by value */
  for(int w=1; w<n; w*=2){
    int *aTmp = malloc(sizeof(int)*(size_t)n);
    if( aTmp==0 ){ fprintf(stderr, "out of memory\n"); exit(2); }
    for(i=0; i<n; i+=2*w){
      int lo = i, mid = i+w<n ? i+w : n, hi = i+2*w<n ? i+2*w : n;
      int p = lo, q = mid, k = lo;
      while( p<mid || q<hi ){
        if( q>=hi || (p<mid && a[aIdx[p]]<=a[aIdx[q]]) ) aTmp[k++] = aIdx[p++];
        else aTmp[k++] = aIdx[q++];
      }
    }
    memcpy(aIdx, aTmp, sizeof(int)*(size_t)n);
    free(aTmp);
  }
  for(i=0; i<n; i=j){
    double r;
    for(j=i+1; j<n && a[aIdx[j]]==a[aIdx[i]]; j++){}
    r = (i + 1 + j) / 2.0;   /* average of ranks i+1 .. j */
    for(int k=i; k<j; k++) aRank[aIdx[k]] = r;
  }
  free(aIdx);
}

static double pearson(const double *x, const double *y, int n){
  double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
  int i;
  for(i=0; i<n; i++){ mx += x[i]; my += y[i]; }
  mx /= n; my /= n;
  for(i=0; i<n; i++){
    sxy += (x[i]-mx)*(y[i]-my);
    sxx += (x[i]-mx)*(x[i]-mx);
    syy += (y[i]-my)*(y[i]-my);
  }
  return sxy / sqrt(sxx*syy);
}

/* A labelled text of Banking77 */
typedef struct Labelled Labelled;
struct Labelled { char *zLabel, *zText; };

static Labelled *readLabelled(const char *zFile, int *pn){
  FILE *in = fopen(zFile, "rb");
  char *zLine = 0;
  size_t nCap = 0;
  ssize_t len;
  Labelled *a = 0;
  int n = 0, nAlloc = 0;
  if( in==0 ){ perror(zFile); exit(2); }
  while( (len = getline(&zLine, &nCap, in))>0 ){
    char *t;
    while( len>0 && (zLine[len-1]=='\n' || zLine[len-1]=='\r') ) zLine[--len] = 0;
    t = strchr(zLine, '\t');
    if( t==0 ) continue;
    *t = 0;
    if( n>=nAlloc ){
      nAlloc = nAlloc ? 2*nAlloc : 1024;
      a = realloc(a, sizeof(Labelled)*(size_t)nAlloc);
      if( a==0 ){ fprintf(stderr, "out of memory\n"); exit(2); }
    }
    a[n].zLabel = strdup(zLine);
    a[n].zText = strdup(t+1);
    n++;
  }
  free(zLine);
  fclose(in);
  *pn = n;
  return a;
}

/* The unit vectors of the texts of a[0..n) by model zName, n x *pnDim
** floats from malloc(). */
static float *embedAll(sqlite3 *db, const char *zName, const Labelled *a,
                       int n, int *pnDim){
  char *zSql = sqlite3_mprintf("SELECT embed(?1, NULL, %Q)", zName);
  sqlite3_stmt *pStmt;
  float *aVec = 0;
  int i, nDim = 0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)!=SQLITE_OK ){
    fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    exit(2);
  }
  for(i=0; i<n; i++){
    sqlite3_bind_text(pStmt, 1, a[i].zText, -1, SQLITE_STATIC);
    if( sqlite3_step(pStmt)!=SQLITE_ROW ){
      fprintf(stderr, "%s\n", sqlite3_errmsg(db));
      exit(2);
    }
    if( aVec==0 ){
      nDim = sqlite3_column_bytes(pStmt, 0)/4;
      aVec = malloc(sizeof(float)*(size_t)n*(size_t)nDim);
      if( aVec==0 ){ fprintf(stderr, "out of memory\n"); exit(2); }
    }
    memcpy(aVec + (size_t)i*nDim, sqlite3_column_blob(pStmt, 0),
           sizeof(float)*(size_t)nDim);
    sqlite3_reset(pStmt);
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
  *pnDim = nDim;
  return aVec;
}

/* Banking77 1-NN accuracy x100 of model zName */
static double banking(sqlite3 *db, const char *zName, const Labelled *aTrain,
                      int nTrain, const Labelled *aTest, int nTest){
  int nDim, nDim2, i, j, k, nRight = 0;
  float *aA = embedAll(db, zName, aTrain, nTrain, &nDim);
  float *aB = embedAll(db, zName, aTest, nTest, &nDim2);
  for(i=0; i<nTest; i++){
    const float *q = aB + (size_t)i*nDim;
    double best = -2.0;
    int iBest = -1;
    for(j=0; j<nTrain; j++){
      const float *r = aA + (size_t)j*nDim;
      double d = 0.0;
      for(k=0; k<nDim; k++) d += (double)q[k]*r[k];
      if( d>best && d!=0.0 ){ best = d; iBest = j; }
    }
    if( iBest>=0 && strcmp(aTrain[iBest].zLabel, aTest[i].zLabel)==0 ){
      nRight++;
    }
  }
  free(aA);
  free(aB);
  (void)nDim2;
  return 100.0*nRight/(nTest ? nTest : 1);
}

static Pair *readPairs(const char *zFile, int *pn){
  FILE *in = fopen(zFile, "rb");
  char *zLine = 0;
  size_t nCap = 0;
  ssize_t len;
  Pair *a = 0;
  int n = 0, nAlloc = 0;
  if( in==0 ){ perror(zFile); exit(2); }
  while( (len = getline(&zLine, &nCap, in))>0 ){
    char *t1, *t2;
    while( len>0 && (zLine[len-1]=='\n' || zLine[len-1]=='\r') ) zLine[--len] = 0;
    t1 = strchr(zLine, '\t');
    if( t1==0 ) continue;
    t2 = strchr(t1+1, '\t');
    if( t2==0 ) continue;
    *t1 = *t2 = 0;
    if( n>=nAlloc ){
      nAlloc = nAlloc ? 2*nAlloc : 1024;
      a = realloc(a, sizeof(Pair)*(size_t)nAlloc);
      if( a==0 ){ fprintf(stderr, "out of memory\n"); exit(2); }
    }
    a[n].gold = atof(zLine);
    a[n].z1 = strdup(t1+1);
    a[n].z2 = strdup(t2+1);
    n++;
  }
  free(zLine);
  fclose(in);
  *pn = n;
  return a;
}

int main(int argc, char **argv){
  sqlite3 *db;
  Pair *aPair;
  Labelled *aTrain = 0, *aTest = 0;
  int nTrain = 0, nTest = 0;
  int nPair, i, iArg, nPass = 0, nFail = 0;
  double rMin = -1.0, rMinBank = -1.0;
  const char *zBank = 0;
  char *zErr = 0;
  while( argc>1 && strncmp(argv[1], "--", 2)==0 ){
    if( strncmp(argv[1], "--min=", 6)==0 ){
      rMin = atof(argv[1]+6);
    }else if( strncmp(argv[1], "--min-banking=", 14)==0 ){
      rMinBank = atof(argv[1]+14);
    }else if( strncmp(argv[1], "--banking=", 10)==0 ){
      zBank = argv[1]+10;
    }else{
      fprintf(stderr, "unknown option %s\n", argv[1]);
      return 2;
    }
    argv++;
    argc--;
  }
  if( argc<4 || (rMinBank>=0.0 && zBank==0) ){
    fprintf(stderr, "usage: %s [--min=X] [--banking=PREFIX [--min-banking=P]] "
            "EXT.so STSB.tsv NAME=MODEL.emb...\n", argv[0]);
    return 2;
  }
  if( rMinBank>=0.0 && rMin<0.0 ) rMin = 0.0;
  if( zBank ){
    char *z = sqlite3_mprintf("%s_train.tsv", zBank);
    aTrain = readLabelled(z, &nTrain);
    sqlite3_free(z);
    z = sqlite3_mprintf("%s_test.tsv", zBank);
    aTest = readLabelled(z, &nTest);
    sqlite3_free(z);
  }
  aPair = readPairs(argv[2], &nPair);
  if( sqlite3_open(":memory:", &db)!=SQLITE_OK ) return 2;
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, argv[1], 0, &zErr)!=SQLITE_OK ){
    fprintf(stderr, "%s\n", zErr);
    return 2;
  }
  printf("STS-B %s: %d pairs\n", argv[2], nPair);
  if( zBank ){
    printf("Banking77 %s_{train,test}.tsv: %d training texts, %d test "
           "texts\n", zBank, nTrain, nTest);
  }
  for(iArg=3; iArg<argc; iArg++){
    char *zName = strdup(argv[iArg]), *zPath = strchr(zName, '=');
    char *zSql;
    sqlite3_stmt *pStmt;
    double *aGold, *aCos, *aR1, *aR2;
    if( zPath==0 ){ fprintf(stderr, "expected NAME=PATH: %s\n", zName); return 2; }
    *zPath++ = 0;
    zSql = sqlite3_mprintf("SELECT embed_load(%Q, %Q)", zName, zPath);
    if( sqlite3_exec(db, zSql, 0, 0, &zErr)!=SQLITE_OK ){
      fprintf(stderr, "%s\n", zErr);
      return 2;
    }
    sqlite3_free(zSql);
    zSql = sqlite3_mprintf("SELECT coalesce(cosine(embed(?1, NULL, %Q), "
                           "embed(?2, NULL, %Q)), 0)", zName, zName);
    if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)!=SQLITE_OK ){
      fprintf(stderr, "%s\n", sqlite3_errmsg(db));
      return 2;
    }
    aGold = malloc(sizeof(double)*(size_t)nPair*4);
    if( aGold==0 ) return 2;
    aCos = aGold + nPair; aR1 = aCos + nPair; aR2 = aR1 + nPair;
    for(i=0; i<nPair; i++){
      sqlite3_bind_text(pStmt, 1, aPair[i].z1, -1, SQLITE_STATIC);
      sqlite3_bind_text(pStmt, 2, aPair[i].z2, -1, SQLITE_STATIC);
      if( sqlite3_step(pStmt)!=SQLITE_ROW ){
        fprintf(stderr, "%s\n", sqlite3_errmsg(db));
        return 2;
      }
      aGold[i] = aPair[i].gold;
      aCos[i] = sqlite3_column_double(pStmt, 0);
      sqlite3_reset(pStmt);
    }
    rankOf(aGold, nPair, aR1);
    rankOf(aCos, nPair, aR2);
    {
      double rho = 100.0*pearson(aR1, aR2, nPair);
      printf("%-10s Spearman x100 = %.2f   (%s)\n", zName, rho, zPath);
      if( rMin>=0.0 ){
        if( rho>=rMin ){
          nPass++;
        }else{
          nFail++;
          printf("FAIL: %s scores %.2f, below %.2f\n", zName, rho, rMin);
        }
      }
    }
    if( zBank ){
      double acc = banking(db, zName, aTrain, nTrain, aTest, nTest);
      printf("%-10s Banking77 1-NN accuracy = %.2f%%   (%s)\n", zName, acc,
             zPath);
      if( rMinBank>=0.0 ){
        if( acc>=rMinBank ){
          nPass++;
        }else{
          nFail++;
          printf("FAIL: %s has Banking77 accuracy %.2f%%, below %.2f%%\n",
                 zName, acc, rMinBank);
        }
      }
    }
    sqlite3_finalize(pStmt);
    sqlite3_free(zSql);
    free(aGold);
    free(zName);
  }
  for(i=0; i<nPair; i++){ free(aPair[i].z1); free(aPair[i].z2); }
  free(aPair);
  for(i=0; i<nTrain; i++){ free(aTrain[i].zLabel); free(aTrain[i].zText); }
  for(i=0; i<nTest; i++){ free(aTest[i].zLabel); free(aTest[i].zText); }
  free(aTrain);
  free(aTest);
  sqlite3_close(db);
  if( rMin>=0.0 ){
    printf("%d passed, %d failed\n", nPass, nFail);
    return nFail!=0;
  }
  return 0;
}
