/*
** wordllama.c: "embed-convert wordllama" -- a WordLlama model (its
** safetensors weights and its Hugging Face tokenizer.json) to a model file
** with a BPE tokenizer.
**
**     build/embed-convert wordllama l2_supercat_256.safetensors \
**         l2_supercat_tokenizer.json -o models/wl.emb [--dims 64]
**
** The inputs:
**   WEIGHTS.safetensors  tensor "embedding.weight", [tokens, dims], F16
**                        (F32 and BF16 are read too; the model stores F16)
**   TOKENIZER.json       a BPE tokenizer of one of two kinds, told apart
**                        by what the file says, never by its name:
**     bpe-metaspace  (Llama 2)  normalizer Sequence[Prepend("▁"),
**                    Replace(" ", "▁")], no pre-tokenizer, usually
**                    byte_fallback
**     bpe-bytelevel  (Llama 3)  no normalizer, pre-tokenizer Sequence[
**                    Split(the Llama-3 regex, Isolated), ByteLevel(no
**                    prefix space, no regex)], usually ignore_merges
** Anything else that changes the ids (another normalizer, pre-tokenizer
** or model type, dropout, subword prefixes and suffixes, added tokens that
** strip or match whole words, truncation, padding) is refused with a
** message naming it.  The decoder and the post-processor are not read:
** ids are those of encoding with add_special_tokens=false.
**
** HOW IT WORKS
** The tokenizer.json is parsed whole with cJSON.  Token ids must cover
** 0..V-1 (model.vocab) and then V..N-1 (added tokens beyond the
** vocabulary); the texts, as written in the file, become vocab.* in id
** order.  Each merge "a b" becomes, at rank = its position, an entry
** (id(a), id(b), id(ab), rank) of the bpe.merges hash table (a pair listed
** twice keeps its last rank, as Hugging Face's map does).  The added
** tokens become bpe.added (a hash of their texts), bpe.added_lens and
** bpe.added_first; bpe.bytes holds each byte's token: <0xNN> for byte
** fallback, or the byte's character of GPT-2's alphabet for byte-level.
** For metaspace, bpe.split records whether any token has ▁ after another
** character (the tokenizer cuts words at such places only when none has).
** The weights file is memory-mapped and its header parsed with the
** loader's own strict parser; the first --dims columns of each row are
** converted to F16 (round to nearest even; a value beyond F16's range is
** an error).  models/FORMAT.md describes every table.
*/
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "format.h"
#include "safetensors.h"
#include "unicode.h"
#include "convert/convert.h"
#include "convert/json.h"
#include "convert/writer.h"

#define WL_MAX_TOKENIZER  (1u<<30)   /* bytes of tokenizer.json read */
#define WL_MAX_VOCAB      0x3fffffff
#define WL_PROGRESS       8192       /* rows between progress reports */

/* The Llama-3 pre-tokenizer regex, as tokenizer.json spells it */
#define WL_LLAMA3_REGEX \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" \
  "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define WL_META "\xE2\x96\x81"       /* ▁ U+2581 */

#define WL_SUPPORTED \
  "embed-convert wordllama reads BPE tokenizers of two kinds: Llama-2 " \
  "style (normalizer Prepend(\"\xE2\x96\x81\") + Replace(\" \", " \
  "\"\xE2\x96\x81\"), no pre-tokenizer) and Llama-3 style (no normalizer, " \
  "pre-tokenizer Split(the Llama-3 regex, Isolated) + ByteLevel)"

/* The state of one conversion */
typedef struct Wl Wl;
struct Wl {
  const char *zTokFile;      /* paths, for messages */
  const char *zWeightFile;
  char *zErr;                /* the first error, from embMprintf() */
  int bNoMem;

  cJSON *pRoot;              /* the parsed tokenizer.json */
  cJSON *pModel;             /* its "model" */
  int eKind;                 /* EMB_TOK_METASPACE or EMB_TOK_BYTELEVEL */
  int iUnk;                  /* model.unk_token's id, or -1 */
  int bFuseUnk, bByteFallback, bIgnoreMerges;

  int64_t nModelVocab;       /* V: entries of model.vocab */
  int64_t nVocab;            /* N: V plus added tokens beyond it */
  const char **azText;       /* [N] each id's text, in the cJSON tree */
  EmbVocab vocab;

  uint32_t *aMerge;          /* [nMergeSlot][4] */
  uint32_t nMergeSlot;
  int64_t nMerge;            /* merges listed */
  uint32_t *aByte;           /* [256] */
  int nAdded;
  uint32_t *aAdded;          /* [nAddedSlot] */
  uint32_t nAddedSlot;
  uint32_t *aAddedLen;       /* [nAddedLen] */
  int nAddedLen;
  uint8_t *aAddedFirst;      /* [256] */
  int bSplit;

  int nDims;                 /* columns kept */
  int nDimsIn;               /* columns in the weights */
  uint16_t *aRow;            /* [N][nDims] F16 */
};

/* Record an error about the tokenizer file (bTok) or the weights file.
** The first error wins.  Returns 1. */
static int wlError(Wl *p, int bTok, const char *zFmt, ...)
  __attribute__((format(printf, 3, 4)));
static int wlError(Wl *p, int bTok, const char *zFmt, ...){
  va_list ap;
  char *zMsg;
  if( p->zErr || p->bNoMem ) return 1;
  va_start(ap, zFmt);
  zMsg = embVmprintf(zFmt, ap);
  va_end(ap);
  if( zMsg==0 ){ p->bNoMem = 1; return 1; }
  p->zErr = embMprintf("'%s': %s", bTok ? p->zTokFile : p->zWeightFile,
                       zMsg);
  if( p->zErr==0 ) p->bNoMem = 1;
  embFree(zMsg);
  return 1;
}

/* Record "unsupported tokenizer feature: ..." for the tokenizer file. */
static int wlUnsupported(Wl *p, const char *zFmt, ...)
  __attribute__((format(printf, 2, 3)));
static int wlUnsupported(Wl *p, const char *zFmt, ...){
  va_list ap;
  char *zMsg;
  if( p->zErr || p->bNoMem ) return 1;
  va_start(ap, zFmt);
  zMsg = embVmprintf(zFmt, ap);
  va_end(ap);
  if( zMsg==0 ){ p->bNoMem = 1; return 1; }
  wlError(p, 1, "unsupported tokenizer feature: %s; %s", zMsg, WL_SUPPORTED);
  embFree(zMsg);
  return 1;
}

/* Read the whole file zPath into memory from embMalloc(), NUL-terminated. */
static int wlReadFile(Wl *p, const char *zPath, char **pz, size_t *pn){
  struct stat st;
  char *z;
  size_t n = 0;
  int fd = open(zPath, O_RDONLY|O_CLOEXEC);
  *pz = 0;
  if( fd<0 || fstat(fd, &st)!=0 ){
    wlError(p, 1, "cannot open: %s", strerror(errno));
    if( fd>=0 ) close(fd);
    return 1;
  }
  if( !S_ISREG(st.st_mode) || st.st_size<=0
   || (uint64_t)st.st_size>WL_MAX_TOKENIZER ){
    close(fd);
    return wlError(p, 1, "%s", !S_ISREG(st.st_mode) ? "not a regular file" :
                   st.st_size<=0 ? "empty" : "larger than 1 GiB");
  }
  z = embMalloc((uint64_t)st.st_size + 1);
  if( z==0 ){ close(fd); p->bNoMem = 1; return 1; }
  while( n<(size_t)st.st_size ){
    ssize_t got = read(fd, z+n, (size_t)st.st_size-n);
    if( got<0 && errno==EINTR ) continue;
    if( got<=0 ){
      wlError(p, 1, "cannot read: %s", got<0 ? strerror(errno) : "it shrank");
      embFree(z);
      close(fd);
      return 1;
    }
    n += (size_t)got;
  }
  close(fd);
  z[n] = 0;
  *pz = z;
  *pn = n;
  return 0;
}

/* Is pItem absent or JSON null? */
static int isNone(const cJSON *pItem){
  return pItem==0 || cJSON_IsNull(pItem);
}

/* The string member zKey of object pObj, or NULL. */
static const char *strMember(const cJSON *pObj, const char *zKey){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  return cJSON_IsString(v) ? v->valuestring : 0;
}

/* Read boolean member zKey of pObj (absent or null: bDefault) into *pb. */
static int boolMember(Wl *p, const cJSON *pObj, const char *zWhere,
                      const char *zKey, int bDefault, int *pb){
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(pObj, zKey);
  if( isNone(v) ){ *pb = bDefault; return 0; }
  if( !cJSON_IsBool(v) ){
    return wlError(p, 1, "%s.%s must be true or false", zWhere, zKey);
  }
  *pb = cJSON_IsTrue(v);
  return 0;
}

/* A non-negative integer id from v, or -1. */
static int64_t jsonId(const cJSON *v){
  double d;
  if( !cJSON_IsNumber(v) ) return -1;
  d = v->valuedouble;
  if( !(d>=0.0) || d>(double)WL_MAX_VOCAB || d!=floor(d) ) return -1;
  return (int64_t)d;
}

/*
** The top level and the model's settings: model.type BPE, no dropout, no
** subword prefix or suffix, no truncation or padding.
*/
static int wlCheckModel(Wl *p){
  const cJSON *v;
  const char *z;
  if( !cJSON_IsObject(p->pRoot) ){
    return wlError(p, 1, "not a tokenizer.json (not a JSON object)");
  }
  if( !isNone(cJSON_GetObjectItemCaseSensitive(p->pRoot, "truncation")) ){
    return wlUnsupported(p, "truncation is set");
  }
  if( !isNone(cJSON_GetObjectItemCaseSensitive(p->pRoot, "padding")) ){
    return wlUnsupported(p, "padding is set");
  }
  p->pModel = cJSON_GetObjectItemCaseSensitive(p->pRoot, "model");
  if( !cJSON_IsObject(p->pModel) ){
    return wlError(p, 1, "not a tokenizer.json (no \"model\" object)");
  }
  z = strMember(p->pModel, "type");
  if( z==0 ){
    return wlError(p, 1, "model.type is missing (it must be \"BPE\")");
  }
  if( strcmp(z, "BPE")!=0 ){
    return wlUnsupported(p, "model type '%s' (only BPE)", z);
  }
  v = cJSON_GetObjectItemCaseSensitive(p->pModel, "dropout");
  if( !isNone(v) && !(cJSON_IsNumber(v) && v->valuedouble==0.0) ){
    return wlUnsupported(p, "BPE dropout (model.dropout is set; its "
                         "tokenization is random)");
  }
  z = strMember(p->pModel, "continuing_subword_prefix");
  v = cJSON_GetObjectItemCaseSensitive(p->pModel, "continuing_subword_prefix");
  if( !isNone(v) && !(z && z[0]==0) ){
    return wlUnsupported(p, "continuing_subword_prefix '%s'", z ? z : "?");
  }
  z = strMember(p->pModel, "end_of_word_suffix");
  v = cJSON_GetObjectItemCaseSensitive(p->pModel, "end_of_word_suffix");
  if( !isNone(v) && !(z && z[0]==0) ){
    return wlUnsupported(p, "end_of_word_suffix '%s'", z ? z : "?");
  }
  if( boolMember(p, p->pModel, "model", "fuse_unk", 0, &p->bFuseUnk)
   || boolMember(p, p->pModel, "model", "byte_fallback", 0, &p->bByteFallback)
   || boolMember(p, p->pModel, "model", "ignore_merges", 0,
                 &p->bIgnoreMerges) ){
    return 1;
  }
  v = cJSON_GetObjectItemCaseSensitive(p->pModel, "unk_token");
  if( !isNone(v) && !cJSON_IsString(v) ){
    return wlError(p, 1, "model.unk_token must be a string or null");
  }
  return 0;
}

/* Is pN an object {"type": zType, ...} (a normalizer or pre-tokenizer)? */
static int isType(const cJSON *pN, const char *zType){
  const char *z = strMember(pN, "type");
  return z && strcmp(z, zType)==0;
}

/* Describe a normalizer or pre-tokenizer for a message */
static const char *typeName(const cJSON *pN){
  const char *z = strMember(pN, "type");
  return z ? z : "(no type)";
}

/*
** The normalizer: none, or exactly Prepend("▁") and Replace(" ", "▁")
** (as a Sequence, in either order: they commute).  Sets *pbMeta.
*/
static int wlNormalizer(Wl *p, int *pbMeta){
  const cJSON *pN = cJSON_GetObjectItemCaseSensitive(p->pRoot, "normalizer");
  const cJSON *aItem[2];
  int nItem = 0, bPrepend = 0, bReplace = 0, i;
  *pbMeta = 0;
  if( isNone(pN) ) return 0;
  if( isType(pN, "Sequence") ){
    const cJSON *pList = cJSON_GetObjectItemCaseSensitive(pN, "normalizers");
    const cJSON *pItem;
    if( !cJSON_IsArray(pList) ){
      return wlError(p, 1, "normalizer Sequence has no \"normalizers\" list");
    }
    cJSON_ArrayForEach(pItem, pList){
      if( nItem>=2 ){
        return wlUnsupported(p, "a normalizer Sequence of more than "
                             "Prepend and Replace");
      }
      aItem[nItem++] = pItem;
    }
  }else{
    aItem[nItem++] = pN;
  }
  for(i=0; i<nItem; i++){
    const cJSON *q = aItem[i];
    if( isType(q, "Prepend") ){
      const char *z = strMember(q, "prepend");
      if( z==0 || strcmp(z, WL_META)!=0 ){
        return wlUnsupported(p, "normalizer Prepend(\"%s\") (only "
                             "\"" WL_META "\")", z ? z : "?");
      }
      bPrepend++;
    }else if( isType(q, "Replace") ){
      const cJSON *pPat = cJSON_GetObjectItemCaseSensitive(q, "pattern");
      const char *zPat = strMember(pPat, "String");
      const char *zTo = strMember(q, "content");
      if( zPat==0 ){
        return wlUnsupported(p, "normalizer Replace with a regex pattern");
      }
      if( strcmp(zPat, " ")!=0 || zTo==0 || strcmp(zTo, WL_META)!=0 ){
        return wlUnsupported(p, "normalizer Replace(\"%s\", \"%s\") (only "
                             "Replace(\" \", \"" WL_META "\"))", zPat,
                             zTo ? zTo : "?");
      }
      bReplace++;
    }else{
      return wlUnsupported(p, "normalizer type '%s'", typeName(q));
    }
  }
  if( bPrepend!=1 || bReplace!=1 ){
    return wlUnsupported(p, "a normalizer with %s but not %s",
                         bPrepend ? "Prepend" : "Replace",
                         bPrepend ? "Replace" : "Prepend");
  }
  *pbMeta = 1;
  return 0;
}

/*
** The pre-tokenizer: none, or exactly Split(the Llama-3 regex, Isolated,
** not inverted) then ByteLevel(add_prefix_space false, use_regex false).
** Sets *pbByteLevel.
*/
static int wlPreTokenizer(Wl *p, int *pbByteLevel){
  const cJSON *pT = cJSON_GetObjectItemCaseSensitive(p->pRoot,
                                                     "pre_tokenizer");
  const cJSON *aItem[2];
  int nItem = 0, b;
  *pbByteLevel = 0;
  if( isNone(pT) ) return 0;
  if( isType(pT, "Sequence") ){
    const cJSON *pList = cJSON_GetObjectItemCaseSensitive(pT,
                                                          "pretokenizers");
    const cJSON *pItem;
    if( !cJSON_IsArray(pList) ){
      return wlError(p, 1, "pre_tokenizer Sequence has no \"pretokenizers\" "
                     "list");
    }
    cJSON_ArrayForEach(pItem, pList){
      if( nItem<2 ) aItem[nItem] = pItem;
      nItem++;
    }
  }else{
    aItem[nItem++] = pT;
  }
  if( nItem>=1 && !isType(aItem[0], "Split") ){
    return wlUnsupported(p, "pre_tokenizer type '%s'%s", typeName(aItem[0]),
                         isType(aItem[0], "ByteLevel")
                           ? " without the Llama-3 Split before it" : "");
  }
  if( nItem!=2 || !isType(aItem[1], "ByteLevel") ){
    return wlUnsupported(p, "pre_tokenizer Split %s",
                         nItem<2 ? "without ByteLevel after it"
                         : nItem>2 ? "and more than ByteLevel after it"
                         : "followed by something else than ByteLevel");
  }
  {
    const cJSON *pPat = cJSON_GetObjectItemCaseSensitive(aItem[0], "pattern");
    const char *zRe = strMember(pPat, "Regex");
    const char *zBeh = strMember(aItem[0], "behavior");
    if( zRe==0 || strcmp(zRe, WL_LLAMA3_REGEX)!=0 ){
      return wlUnsupported(p, "pre_tokenizer Split with a pattern other than "
                           "the Llama-3 regex: %s%.200s%s",
                           zRe ? "'" : "", zRe ? zRe : "a string pattern",
                           zRe ? "'" : "");
    }
    if( zBeh==0 || strcmp(zBeh, "Isolated")!=0 ){
      return wlUnsupported(p, "pre_tokenizer Split behavior '%s' (only "
                           "Isolated)", zBeh ? zBeh : "?");
    }
    if( boolMember(p, aItem[0], "pre_tokenizer Split", "invert", 0, &b) ){
      return 1;
    }
    if( b ) return wlUnsupported(p, "pre_tokenizer Split with invert=true");
  }
  if( boolMember(p, aItem[1], "pre_tokenizer ByteLevel", "add_prefix_space",
                 1, &b) ){
    return 1;
  }
  if( b ){
    return wlUnsupported(p, "pre_tokenizer ByteLevel with "
                         "add_prefix_space=true");
  }
  if( boolMember(p, aItem[1], "pre_tokenizer ByteLevel", "use_regex", 1, &b) ){
    return 1;
  }
  if( b ){
    return wlUnsupported(p, "pre_tokenizer ByteLevel with use_regex=true "
                         "(GPT-2's regex after Llama-3's)");
  }
  *pbByteLevel = 1;
  return 0;
}

/* Decide the kind from the normalizer and the pre-tokenizer. */
static int wlKind(Wl *p){
  int bMeta, bByteLevel;
  if( wlNormalizer(p, &bMeta) || wlPreTokenizer(p, &bByteLevel) ) return 1;
  if( bMeta && !bByteLevel ){
    p->eKind = EMB_TOK_METASPACE;
  }else if( bByteLevel && !bMeta ){
    p->eKind = EMB_TOK_BYTELEVEL;
  }else if( bMeta ){
    return wlUnsupported(p, "the metaspace normalizer with a pre_tokenizer");
  }else{
    return wlUnsupported(p, "no normalizer and no pre_tokenizer");
  }
  return 0;
}

/*
** The vocabulary: model.vocab (ids 0..V-1, each once), then the added
** tokens: those below V must repeat their vocabulary entry, those from V
** on must fill V..N-1.  Fills p->azText and p->vocab.
*/
static int wlVocab(Wl *p){
  const cJSON *pVocab = cJSON_GetObjectItemCaseSensitive(p->pModel, "vocab");
  const cJSON *pAdded = cJSON_GetObjectItemCaseSensitive(p->pRoot,
                                                         "added_tokens");
  const cJSON *v;
  int64_t nV = 0, nN, i;
  char *zErr = 0;

  if( !cJSON_IsObject(pVocab) ){
    return wlError(p, 1, "model.vocab is missing or not an object");
  }
  cJSON_ArrayForEach(v, pVocab) nV++;
  if( nV==0 ) return wlError(p, 1, "model.vocab is empty");
  if( nV>WL_MAX_VOCAB ) return wlError(p, 1, "model.vocab is too large");
  nN = nV;
  if( !isNone(pAdded) && !cJSON_IsArray(pAdded) ){
    return wlError(p, 1, "added_tokens is not a list");
  }
  cJSON_ArrayForEach(v, pAdded){
    int64_t id = jsonId(cJSON_GetObjectItemCaseSensitive(v, "id"));
    if( id<0 ){
      return wlError(p, 1, "added token %d has no valid \"id\"", p->nAdded);
    }
    if( id+1>nN ) nN = id+1;
    p->nAdded++;
  }
  p->nModelVocab = nV;
  p->nVocab = nN;
  p->azText = embMalloc((uint64_t)nN*sizeof(char*));
  if( p->azText==0 ){ p->bNoMem = 1; return 1; }
  memset(p->azText, 0, (size_t)nN*sizeof(char*));

  cJSON_ArrayForEach(v, pVocab){
    int64_t id = jsonId(v);
    if( id<0 || id>=nV ){
      return wlError(p, 1, "model.vocab: '%.100s' has id %s; ids must be "
                     "0 to %lld, each once", v->string,
                     cJSON_IsNumber(v) ? "out of range" : "that is no number",
                     (long long)nV-1);
    }
    if( p->azText[id] ){
      return wlError(p, 1, "model.vocab: '%.100s' and '%.100s' both have id "
                     "%lld", p->azText[id], v->string, (long long)id);
    }
    p->azText[id] = v->string;
  }

  cJSON_ArrayForEach(v, pAdded){
    int64_t id = jsonId(cJSON_GetObjectItemCaseSensitive(v, "id"));
    const char *z = strMember(v, "content");
    static const char *azFlag[] = { "single_word", "lstrip", "rstrip",
                                    "normalized" };
    size_t k;
    if( z==0 || z[0]==0 ){
      return wlError(p, 1, "added token %lld has no content", (long long)id);
    }
    for(k=0; k<sizeof(azFlag)/sizeof(azFlag[0]); k++){
      int b;
      if( boolMember(p, v, "added token", azFlag[k], 0, &b) ) return 1;
      if( b ){
        return wlUnsupported(p, "added token '%.100s' has %s=true", z,
                             azFlag[k]);
      }
    }
    if( id<nV ){
      if( strcmp(p->azText[id], z)!=0 ){
        return wlError(p, 1, "added token '%.100s' has id %lld, which "
                       "model.vocab gives to '%.100s'", z, (long long)id,
                       p->azText[id]);
      }
    }else if( p->azText[id] ){
      return wlError(p, 1, "added tokens '%.100s' and '%.100s' both have id "
                     "%lld", p->azText[id], z, (long long)id);
    }else{
      p->azText[id] = z;
    }
  }
  for(i=nV; i<nN; i++){
    if( p->azText[i]==0 ){
      return wlError(p, 1, "no token has id %lld, between the vocabulary's "
                     "%lld and the largest added token id %lld", (long long)i,
                     (long long)nV, (long long)nN-1);
    }
  }

  if( embVocabInit(&p->vocab, nN, &zErr) ) goto vocab_err;
  for(i=0; i<nN; i++){
    if( embVocabAdd(&p->vocab, p->azText[i], (int64_t)strlen(p->azText[i]),
                    &zErr) ){
      goto vocab_err;
    }
  }
  if( embVocabFinish(&p->vocab, &zErr) ) goto vocab_err;
  return 0;

vocab_err:
  if( zErr==0 ){ p->bNoMem = 1; return 1; }
  wlError(p, 1, "vocabulary: %s", zErr);
  embFree(zErr);
  return 1;
}

/* The id of text z among the model's vocabulary (not the added tokens
** beyond it), or -1. */
static int64_t wlModelId(const Wl *p, const char *z, size_t n){
  int64_t id = embVocabLookup(&p->vocab, z, (int64_t)n);
  return id<p->nModelVocab ? id : -1;
}

/*
** The merges: each "a b" (or ["a", "b"]) at rank r becomes the slot
** (id(a), id(b), id(ab), r) of the bpe.merges hash table.
*/
static int wlMerges(Wl *p){
  const cJSON *pList = cJSON_GetObjectItemCaseSensitive(p->pModel, "merges");
  const cJSON *v;
  char *zBuf = 0;
  size_t nBuf = 0;
  uint32_t mask, r = 0;
  int64_t n = 0;

  if( !cJSON_IsArray(pList) ){
    return wlError(p, 1, "model.merges is missing or not a list");
  }
  cJSON_ArrayForEach(v, pList) n++;
  if( n>=(int64_t)0x3fffffff ) return wlError(p, 1, "too many merges");
  p->nMerge = n;
  p->nMergeSlot = 1;
  while( p->nMergeSlot < 2*(uint64_t)n ) p->nMergeSlot <<= 1;
  p->aMerge = embMalloc((uint64_t)p->nMergeSlot*16);
  if( p->aMerge==0 ){ p->bNoMem = 1; return 1; }
  memset(p->aMerge, 0xff, (size_t)p->nMergeSlot*16);
  mask = p->nMergeSlot - 1;

  cJSON_ArrayForEach(v, pList){
    const char *zA = 0, *zB = 0;
    size_t nA = 0, nB = 0;
    int64_t idA, idB, idAB;
    uint32_t i;
    if( cJSON_IsString(v) ){
      const char *zSp = strchr(v->valuestring, ' ');
      if( zSp==0 || strchr(zSp+1, ' ') ){
        embFree(zBuf);
        return wlError(p, 1, "model.merges[%u] '%.100s' is not two tokens "
                       "separated by one space", r, v->valuestring);
      }
      zA = v->valuestring;
      nA = (size_t)(zSp - zA);
      zB = zSp+1;
      nB = strlen(zB);
    }else if( cJSON_IsArray(v) && cJSON_GetArraySize(v)==2
           && cJSON_IsString(cJSON_GetArrayItem(v, 0))
           && cJSON_IsString(cJSON_GetArrayItem(v, 1)) ){
      zA = cJSON_GetArrayItem(v, 0)->valuestring;
      zB = cJSON_GetArrayItem(v, 1)->valuestring;
      nA = strlen(zA);
      nB = strlen(zB);
    }else{
      embFree(zBuf);
      return wlError(p, 1, "model.merges[%u] is neither \"a b\" nor "
                     "[\"a\", \"b\"]", r);
    }
    if( nA+nB>nBuf ){
      char *zNew = embRealloc(zBuf, 2*(nA+nB)+64);
      if( zNew==0 ){ embFree(zBuf); p->bNoMem = 1; return 1; }
      zBuf = zNew;
      nBuf = 2*(nA+nB)+64;
    }
    memcpy(zBuf, zA, nA);
    memcpy(zBuf+nA, zB, nB);
    idA = wlModelId(p, zA, nA);
    idB = wlModelId(p, zB, nB);
    idAB = wlModelId(p, zBuf, nA+nB);
    if( idA<0 || idB<0 || idAB<0 ){
      const char *zWhat = idA<0 ? zA : idB<0 ? zB : zBuf;
      int nWhat = (int)(idA<0 ? nA : idB<0 ? nB : nA+nB);
      wlError(p, 1, "model.merges[%u] (\"%.*s\" + \"%.*s\"): '%.*s' is not "
              "in model.vocab", r, (int)(nA>100 ? 100 : nA), zA,
              (int)(nB>100 ? 100 : nB), zB, nWhat>200 ? 200 : nWhat, zWhat);
      embFree(zBuf);
      return 1;
    }
    i = embMergeSlot((uint32_t)idA, (uint32_t)idB, mask);
    for(;;){
      uint32_t *a = p->aMerge + 4*(size_t)i;
      if( a[3]==EMB_BPE_NONE || (a[0]==(uint32_t)idA && a[1]==(uint32_t)idB) ){
        /* new, or listed again: the last rank wins */
        a[0] = (uint32_t)idA;
        a[1] = (uint32_t)idB;
        a[2] = (uint32_t)idAB;
        a[3] = r;
        break;
      }
      i = (i+1) & mask;
    }
    r++;
  }
  embFree(zBuf);
  return 0;
}

/* bpe.bytes: each byte's token -- <0xNN> (metaspace; none where the
** vocabulary lacks it) or its GPT-2 alphabet character (byte-level; every
** byte must have one). */
static int wlBytes(Wl *p){
  int b;
  p->aByte = embMalloc(256*sizeof(uint32_t));
  if( p->aByte==0 ){ p->bNoMem = 1; return 1; }
  for(b=0; b<256; b++){
    char z[8];
    size_t n;
    int64_t id;
    if( p->eKind==EMB_TOK_METASPACE ){
      n = (size_t)snprintf(z, sizeof(z), "<0x%02X>", b);
    }else{
      n = embUtf8Put(embByteLevelChar((uint8_t)b), (uint8_t*)z);
    }
    id = wlModelId(p, z, n);
    if( id<0 && p->eKind==EMB_TOK_BYTELEVEL ){
      return wlError(p, 1, "model.vocab lacks '%.*s', the byte-level "
                     "character of byte 0x%02X", (int)n, z, b);
    }
    p->aByte[b] = id<0 ? EMB_BPE_NONE : (uint32_t)id;
  }
  return 0;
}

/* bpe.added, bpe.added_lens, bpe.added_first from added_tokens. */
static int wlAdded(Wl *p){
  const cJSON *pAdded = cJSON_GetObjectItemCaseSensitive(p->pRoot,
                                                         "added_tokens");
  const cJSON *v;
  uint32_t mask;
  int i, j;
  p->nAddedSlot = 1;
  while( p->nAddedSlot < 2*(uint32_t)p->nAdded ) p->nAddedSlot <<= 1;
  p->aAdded = embMalloc((uint64_t)p->nAddedSlot*sizeof(uint32_t));
  p->aAddedLen = embMalloc(((uint64_t)p->nAdded+1)*sizeof(uint32_t));
  p->aAddedFirst = embMalloc(256);
  if( p->aAdded==0 || p->aAddedLen==0 || p->aAddedFirst==0 ){
    p->bNoMem = 1;
    return 1;
  }
  memset(p->aAdded, 0, (size_t)p->nAddedSlot*sizeof(uint32_t));
  memset(p->aAddedFirst, 0, 256);
  mask = p->nAddedSlot - 1;
  cJSON_ArrayForEach(v, pAdded){
    int64_t id = jsonId(cJSON_GetObjectItemCaseSensitive(v, "id"));
    const char *z = p->azText[id];
    size_t n = strlen(z);
    uint32_t h = embFnv1a(z, n) & mask;
    if( n>0xffffff ){
      return wlError(p, 1, "added token %lld is too long", (long long)id);
    }
    for(;;){
      uint32_t s = p->aAdded[h];
      if( s==0 ){
        p->aAdded[h] = (uint32_t)id + 1;
        break;
      }
      if( s-1==(uint32_t)id ) break;          /* listed twice */
      if( strcmp(p->azText[s-1], z)==0 ){
        return wlError(p, 1, "added tokens %u and %lld have the same "
                       "content '%.100s'", s-1, (long long)id, z);
      }
      h = (h+1) & mask;
    }
    p->aAddedFirst[(uint8_t)z[0]] = 1;
    for(j=0; j<p->nAddedLen && p->aAddedLen[j]!=(uint32_t)n; j++){}
    if( j==p->nAddedLen ){
      if( p->nAddedLen>=EMB_BPE_MAX_ADDED_LENS ){
        return wlError(p, 1, "added tokens have more than %d different "
                       "lengths", EMB_BPE_MAX_ADDED_LENS);
      }
      p->aAddedLen[p->nAddedLen++] = (uint32_t)n;
    }
  }
  /* longest first (insertion sort: few lengths) */
  for(i=1; i<p->nAddedLen; i++){
    uint32_t x = p->aAddedLen[i];
    for(j=i; j>0 && p->aAddedLen[j-1]<x; j--) p->aAddedLen[j] = p->aAddedLen[j-1];
    p->aAddedLen[j] = x;
  }
  return 0;
}

/*
** bpe.split (metaspace): 1 when words may be cut before each ▁ that
** follows another character -- when ▁ is a token, no token of the model's
** vocabulary has ▁ after another character (so no merge can join across
** such a place), and the unknown token has no ▁.
*/
static void wlSplit(Wl *p){
  int64_t i;
  p->bSplit = 0;
  if( p->eKind!=EMB_TOK_METASPACE || wlModelId(p, WL_META, 3)<0 ) return;
  if( p->iUnk>=0 && strstr(p->azText[p->iUnk], WL_META) ) return;
  for(i=0; i<p->nModelVocab; i++){
    const char *z = p->azText[i];
    while( strncmp(z, WL_META, 3)==0 ) z += 3;
    if( strstr(z, WL_META) ) return;
  }
  p->bSplit = 1;
}

/*
** Float to IEEE half, rounding to nearest even.  Returns 0, or 1 when x
** is NaN, infinite or beyond the half range.
*/
static int floatToHalf(float x, uint16_t *pH){
  uint32_t u, sign, exp, man;
  int e;
  memcpy(&u, &x, 4);
  sign = (u >> 16) & 0x8000;
  exp = (u >> 23) & 0xff;
  man = u & 0x7fffff;
  if( exp==0xff ) return 1;
  e = (int)exp - 127 + 15;
  if( e>=31 ) return 1;
  if( e<=0 ){
    /* a half subnormal (or zero): (man | 2^23) * 2^(exp-150) / 2^-24 */
    uint32_t m = man | 0x800000, shift = (uint32_t)(14 - e), h, rem, half;
    if( exp==0 || shift>24 ){
      *pH = (uint16_t)sign;
      return 0;
    }
    h = m >> shift;
    rem = m & ((1u<<shift)-1);
    half = 1u << (shift-1);
    if( rem>half || (rem==half && (h & 1)) ) h++;
    *pH = (uint16_t)(sign | h);
    return 0;
  }else{
    uint32_t h = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if( rem>0x1000 || (rem==0x1000 && (h & 1)) ) h++;
    if( (h & 0x7fff)>=0x7c00 ) return 1;
    *pH = (uint16_t)h;
    return 0;
  }
}

/*
** The weights: tensor embedding.weight [N, dims] of F16, F32 or BF16 in
** the safetensors file; its first p->nDims columns (all when 0) to
** p->aRow as F16.
*/
static int wlWeights(Wl *p, int nDimsWant, EmbProgressFn xProg,
                     void *pProgArg){
  struct stat st;
  EmbStHeader h;
  const EmbStTensor *t = 0;
  char *zParse = 0;
  uint8_t *a = MAP_FAILED;
  uint64_t nFile = 0, nHeader, iData, nSize, k, nRow, nCol;
  int fd, i, rc = 1;

  memset(&h, 0, sizeof(h));
  fd = open(p->zWeightFile, O_RDONLY|O_CLOEXEC);
  if( fd<0 || fstat(fd, &st)!=0 ){
    wlError(p, 0, "cannot open: %s", strerror(errno));
    goto weights_done;
  }
  if( !S_ISREG(st.st_mode) || st.st_size<8 ){
    wlError(p, 0, "%s", !S_ISREG(st.st_mode) ? "not a regular file"
                        : "too short for a safetensors file");
    goto weights_done;
  }
  nFile = (uint64_t)st.st_size;
  a = mmap(0, (size_t)nFile, PROT_READ, MAP_PRIVATE, fd, 0);
  if( a==MAP_FAILED ){
    wlError(p, 0, "cannot map: %s", strerror(errno));
    goto weights_done;
  }
  for(nHeader=0, i=7; i>=0; i--) nHeader = (nHeader<<8) | a[i];
  if( nHeader>nFile-8 || nHeader>(100u<<20) ){
    wlError(p, 0, "not a safetensors file (header length %llu, file size "
            "%llu)", (unsigned long long)nHeader, (unsigned long long)nFile);
    goto weights_done;
  }
  if( embStParse(a+8, nHeader, &h, &zParse) ){
    if( zParse==0 ){ p->bNoMem = 1; goto weights_done; }
    wlError(p, 0, "bad safetensors header: %s", zParse);
    goto weights_done;
  }
  iData = 8 + nHeader;
  for(i=0; i<h.nTensor; i++){
    if( strcmp(h.aTensor[i].zName, EMB_T_MATRIX)==0 ) t = &h.aTensor[i];
  }
  if( t==0 ){
    char zList[200];
    size_t j = 0;
    zList[0] = 0;
    for(i=0; i<h.nTensor && j+4<sizeof(zList); i++){
      int m = snprintf(zList+j, sizeof(zList)-j, "%s'%s'", i ? ", " : "",
                       h.aTensor[i].zName);
      if( m<0 ) break;
      j += (size_t)m;
    }
    if( j>=sizeof(zList) ) memcpy(zList+sizeof(zList)-4, "...", 4);
    wlError(p, 0, "no tensor '%s' (it has %s)", EMB_T_MATRIX,
            h.nTensor ? zList : "none");
    goto weights_done;
  }
  if( t->eType!=EMB_DT_F16 && t->eType!=EMB_DT_F32 && t->eType!=EMB_DT_BF16 ){
    wlError(p, 0, "tensor '%s' has dtype %s; it must be F16, F32 or BF16",
            EMB_T_MATRIX, embStDtypeName(t->eType));
    goto weights_done;
  }
  if( t->nDim!=2 || t->aShape[1]==0 || t->aShape[1]>65536 ){
    wlError(p, 0, "tensor '%s' must have shape [tokens, dims] with 1 to "
            "65536 dims", EMB_T_MATRIX);
    goto weights_done;
  }
  nRow = t->aShape[0];
  nCol = t->aShape[1];
  if( nRow!=(uint64_t)p->nVocab ){
    wlError(p, 0, "tensor '%s' has shape [%llu, %llu], but the tokenizer "
            "'%s' has %lld tokens (%lld in model.vocab, %lld more added): "
            "the rows must match the tokens", EMB_T_MATRIX,
            (unsigned long long)nRow, (unsigned long long)nCol,
            p->zTokFile, (long long)p->nVocab, (long long)p->nModelVocab,
            (long long)(p->nVocab - p->nModelVocab));
    goto weights_done;
  }
  nSize = (uint64_t)embStDtypeSize(t->eType);
  if( t->iBegin>t->iEnd || t->iEnd>nFile-iData
   || t->iEnd-t->iBegin!=nRow*nCol*nSize ){
    wlError(p, 0, "tensor '%s' has data_offsets [%llu, %llu], which do not "
            "hold [%llu, %llu] %s within the file (truncated?)", EMB_T_MATRIX,
            (unsigned long long)t->iBegin, (unsigned long long)t->iEnd,
            (unsigned long long)nRow, (unsigned long long)nCol,
            embStDtypeName(t->eType));
    goto weights_done;
  }
  p->nDimsIn = (int)nCol;
  if( nDimsWant>0 && (uint64_t)nDimsWant>nCol ){
    wlError(p, 0, "--dims %d is more than the %llu dims of '%s'", nDimsWant,
            (unsigned long long)nCol, EMB_T_MATRIX);
    goto weights_done;
  }
  p->nDims = nDimsWant>0 ? nDimsWant : (int)nCol;
  p->aRow = embMalloc(nRow*(uint64_t)p->nDims*2);
  if( p->aRow==0 ){ p->bNoMem = 1; goto weights_done; }
  (void)madvise(a, (size_t)nFile, MADV_SEQUENTIAL);
  if( xProg ) xProg(pProgArg, "converting rows", 0, nRow);
  for(k=0; k<nRow; k++){
    const uint8_t *pIn = a + iData + t->iBegin + k*nCol*nSize;
    uint16_t *pOut = p->aRow + k*(uint64_t)p->nDims;
    int j;
    if( t->eType==EMB_DT_F16 ){
      memcpy(pOut, pIn, 2*(size_t)p->nDims);
      continue;
    }
    for(j=0; j<p->nDims; j++){
      float x;
      if( t->eType==EMB_DT_F32 ){
        memcpy(&x, pIn + 4*(size_t)j, 4);
      }else{
        uint32_t u = (uint32_t)(pIn[2*j] | (pIn[2*j+1]<<8)) << 16;
        memcpy(&x, &u, 4);
      }
      if( floatToHalf(x, &pOut[j]) ){
        wlError(p, 0, "tensor '%s' row %llu column %d holds %g, which F16 "
                "cannot hold", EMB_T_MATRIX, (unsigned long long)k, j,
                (double)x);
        goto weights_done;
      }
    }
    if( xProg && (k % WL_PROGRESS)==0 ){
      xProg(pProgArg, "converting rows", k, nRow);
    }
  }
  if( xProg ) xProg(pProgArg, "converting rows", nRow, nRow);
  rc = 0;

weights_done:
  embStClear(&h);
  embFree(zParse);
  if( a!=MAP_FAILED ) munmap(a, (size_t)nFile);
  if( fd>=0 ) close(fd);
  return rc;
}

/* The last part of a path */
static const char *baseName(const char *z){
  const char *zSlash = strrchr(z, '/');
  return zSlash ? zSlash+1 : z;
}

/* Write the model file.  The tables move into the writer. */
static int wlWrite(Wl *p, const char *zOut, EmbConvertStats *pStats,
                   char **pzErr){
  EmbWriter *w = embWriterNew();
  uint64_t aShape[2];
  char zVersion[24], zDims[24], zVocab[24], zUnk[24];
  char *zDesc = 0;
  int rc = 1;
  if( w==0 ) return 1;
  snprintf(zVersion, sizeof(zVersion), "%d", EMB_FORMAT_VERSION);
  snprintf(zDims, sizeof(zDims), "%d", p->nDims);
  snprintf(zVocab, sizeof(zVocab), "%lld", (long long)p->nVocab);
  if( p->iUnk>=0 ){
    snprintf(zUnk, sizeof(zUnk), "%d", p->iUnk);
  }else{
    memcpy(zUnk, "none", 5);
  }
  zDesc = embMprintf("WordLlama weights %s (%d of %d dims, F16), tokenizer "
                     "%s (%lld tokens, %lld merges, %d added tokens)",
                     baseName(p->zWeightFile), p->nDims, p->nDimsIn,
                     baseName(p->zTokFile), (long long)p->nVocab,
                     (long long)p->nMerge, p->nAdded);
  if( zDesc==0 ) goto write_done;

  aShape[0] = (uint64_t)p->nVocab;
  aShape[1] = (uint64_t)p->nDims;
  if( embWriterTensor(w, EMB_T_MATRIX, EMB_DT_F16, 2, aShape, p->aRow, 1,
                      pzErr) ){
    p->aRow = 0;
    goto write_done;
  }
  p->aRow = 0;
  if( embWriterVocab(w, &p->vocab, pzErr) ) goto write_done;
  aShape[0] = p->nMergeSlot;
  aShape[1] = 4;
  rc = embWriterTensor(w, EMB_T_BPE_MERGES, EMB_DT_U32, 2, aShape,
                       p->aMerge, 1, pzErr);
  p->aMerge = 0;
  if( rc ) goto write_done;
  aShape[0] = 256;
  rc = embWriterTensor(w, EMB_T_BPE_BYTES, EMB_DT_U32, 1, aShape, p->aByte, 1,
                       pzErr);
  p->aByte = 0;
  if( rc ) goto write_done;
  aShape[0] = p->nAddedSlot;
  rc = embWriterTensor(w, EMB_T_BPE_ADDED, EMB_DT_U32, 1, aShape, p->aAdded,
                       1, pzErr);
  p->aAdded = 0;
  if( rc ) goto write_done;
  aShape[0] = (uint64_t)p->nAddedLen;
  rc = embWriterTensor(w, EMB_T_BPE_ADDED_LEN, EMB_DT_U32, 1, aShape,
                       p->aAddedLen, 1, pzErr);
  p->aAddedLen = 0;
  if( rc ) goto write_done;
  aShape[0] = 256;
  rc = embWriterTensor(w, EMB_T_BPE_ADDED_1ST, EMB_DT_U8, 1, aShape,
                       p->aAddedFirst, 1, pzErr);
  p->aAddedFirst = 0;
  if( rc ) goto write_done;
  rc = 1;
  if( embWriterMeta(w, "format", EMB_FORMAT_NAME, pzErr)
   || embWriterMeta(w, "format_version", zVersion, pzErr)
   || embWriterMeta(w, "source", "wordllama", pzErr)
   || embWriterMeta(w, "tokenizer", p->eKind==EMB_TOK_METASPACE
                    ? EMB_TOKENIZER_METASPACE : EMB_TOKENIZER_BYTELEVEL, pzErr)
   || embWriterMeta(w, "dims", zDims, pzErr)
   || embWriterMeta(w, "vocab_size", zVocab, pzErr)
   || embWriterMeta(w, "description", zDesc, pzErr)
   || embWriterMeta(w, "bpe.unk_id", zUnk, pzErr)
   || embWriterMeta(w, "bpe.fuse_unk", p->bFuseUnk ? "1" : "0", pzErr)
   || embWriterMeta(w, "bpe.byte_fallback", p->bByteFallback ? "1" : "0",
                    pzErr)
   || embWriterMeta(w, "bpe.ignore_merges", p->bIgnoreMerges ? "1" : "0",
                    pzErr)
   || (p->eKind==EMB_TOK_METASPACE
       && embWriterMeta(w, "bpe.split", p->bSplit ? "1" : "0", pzErr)) ){
    goto write_done;
  }
  if( embWriterWrite(w, zOut, &pStats->nByte, pzErr) ) goto write_done;
  rc = 0;

write_done:
  embFree(zDesc);
  embWriterFree(w);
  return rc;
}

int embWordllama(const char *zWeights, const char *zTokenizer,
                 const char *zOut, const EmbWordllamaOptions *pOpt,
                 EmbProgressFn xProg, void *pProgArg,
                 EmbConvertStats *pStats, char **pzErr){
  Wl wl;
  Wl *p = &wl;
  char *zJson = 0;
  size_t nJson = 0;
  const char *zUnk;
  int rc = 1, bNoMem = 0;

  *pzErr = 0;
  memset(p, 0, sizeof(*p));
  p->zTokFile = zTokenizer;
  p->zWeightFile = zWeights;
  p->iUnk = -1;
  if( pOpt->nDims<0 || pOpt->nDims>65536 ){
    *pzErr = embMprintf("--dims must be from 1 to 65536");
    return 1;
  }

  if( wlReadFile(p, zTokenizer, &zJson, &nJson) ) goto done;
  if( xProg ) xProg(pProgArg, "reading the tokenizer", 0, 1);
  p->pRoot = embJsonParse(zJson, nJson, 0, &bNoMem);
  if( bNoMem ){
    p->bNoMem = 1;
    goto done;
  }
  if( p->pRoot==0 ){
    const char *zAt = cJSON_GetErrorPtr();
    wlError(p, 1, "not valid JSON (near byte %lld)",
            zAt && zAt>=zJson && zAt<=zJson+nJson
              ? (long long)(zAt - zJson) : -1LL);
    goto done;
  }
  if( wlCheckModel(p) || wlKind(p) || wlVocab(p) ) goto done;
  zUnk = strMember(p->pModel, "unk_token");
  if( zUnk ){
    int64_t id = wlModelId(p, zUnk, strlen(zUnk));
    if( id<0 ){
      wlError(p, 1, "model.unk_token '%.100s' is not in model.vocab", zUnk);
      goto done;
    }
    p->iUnk = (int)id;
  }
  if( wlMerges(p) || wlBytes(p) || wlAdded(p) ) goto done;
  wlSplit(p);
  if( xProg ) xProg(pProgArg, "reading the tokenizer", 1, 1);
  cJSON_Delete(p->pRoot);
  p->pRoot = 0;
  embFree(p->azText);
  p->azText = 0;
  embFree(zJson);
  zJson = 0;

  if( wlWeights(p, pOpt->nDims, xProg, pProgArg) ) goto done;
  if( wlWrite(p, zOut, pStats, pzErr) ) goto done;
  pStats->nVocab = p->nVocab;
  pStats->nDims = p->nDims;
  pStats->nMerge = p->nMerge;
  pStats->eTokenizer = p->eKind;
  rc = 0;

done:
  if( rc && *pzErr==0 && p->zErr ){
    *pzErr = p->zErr;
    p->zErr = 0;
  }
  embFree(p->zErr);
  cJSON_Delete(p->pRoot);
  embFree(zJson);
  embFree(p->azText);
  embVocabClear(&p->vocab);
  embFree(p->aMerge);
  embFree(p->aByte);
  embFree(p->aAdded);
  embFree(p->aAddedLen);
  embFree(p->aAddedFirst);
  embFree(p->aRow);
  return rc;
}
