/*
** normalizer.h: tokenizer.json's "normalizer" compiled into a normalizer
** program (ext/tokenizer/normalize.h) for the model file.
**
**     char *zErr = 0;
**     if( embNormConvert(w, cJSON_GetObjectItem(pRoot, "normalizer"), &zErr) )
**       ...zErr: "unsupported tokenizer feature: normalizer type 'Nmt'"...
**
** Supported: Sequence (flattened, nested too), BertNormalizer, Lowercase,
** Strip, StripAccents, Prepend, NFC, NFD, NFKC, NFKD, Nmt, Precompiled (SentencePiece's
** precompiled_charsmap), Replace with a String pattern, and Replace with a
** Regex pattern that is a literal, or one character (or \s) with + or
** {n,}.  Anything else is refused by name.
*/
#ifndef EMB_CONVERT_NORMALIZER_H
#define EMB_CONVERT_NORMALIZER_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "convert/writer.h"

/* A compiled program: nStep steps of EMB_NORM_STEP_WORDS U32s at aProg,
** and the bytes they point into, aData[0..nData).  Both from embMalloc(),
** freed by embNormCodeFree(). */
typedef struct EmbNormCode EmbNormCode;
struct EmbNormCode {
  uint32_t *aProg;
  size_t nStep, nStepAlloc;
  uint8_t *aData;
  size_t nData, nDataAlloc;
};

/*
** Compile pNormalizer (NULL or JSON null: no normalizer, zero steps) into
** *p, which the call zeroes first.  Returns 0, or -1 with *pzErr set
** (embMprintf()'d, NULL when out of memory): "unsupported tokenizer
** feature: normalizer ..." for what is not implemented, "malformed
** normalizer: ..." for what HF would not read either.  *p is freed on
** error.
*/
int embNormCompile(const cJSON *pNormalizer, EmbNormCode *p, char **pzErr);

/* Free a compiled program and zero it.  Safe on a zeroed struct. */
void embNormCodeFree(EmbNormCode *p);

/*
** Compile pNormalizer and add it to w as the tensors norm.program and
** norm.data (models/FORMAT.md, "Normalizers"); nothing at all when there
** is no normalizer.  Returns 0, or -1 with *pzErr as embNormCompile()'s
** (or the writer's).
*/
int embNormConvert(EmbWriter *w, const cJSON *pNormalizer, char **pzErr);

#endif /* EMB_CONVERT_NORMALIZER_H */
