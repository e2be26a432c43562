/*
** pretok.h: tokenizer.json's "pre_tokenizer" compiled into a pre-tokenizer
** program (ext/tokenizer/pretok.h) for the model file.
**
**     uint8_t *aProg;  size_t nProg;  char *zErr = 0;
**     if( embPretokCompile(cJSON_GetObjectItem(pRoot, "pre_tokenizer"),
**                          &aProg, &nProg, &zErr) )
**       ...zErr: "unsupported tokenizer feature: pre_tokenizer type
**          'ByteLevel'"...
**
** Supported: Sequence (flattened, nested too), WhitespaceSplit,
** Whitespace, Punctuation, Digits, Split with a String pattern, and
** Metaspace in every spelling Hugging Face reads (prepend_scheme first,
** always or never, split; the older add_prefix_space and str_rep).
** Anything else is refused by name.
*/
#ifndef EMB_CONVERT_PRETOK_H
#define EMB_CONVERT_PRETOK_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/*
** Compile pPre (NULL or JSON null: no pre-tokenizer, a program of its end
** alone) to *paProg[0..*pnProg), from embMalloc() (the caller frees it
** with embFree()).  Returns 0, or -1 with *pzErr set (embMprintf()'d,
** NULL when out of memory): "unsupported tokenizer feature: pre_tokenizer
** ..." for what is not implemented, "malformed pre_tokenizer: ..." for
** what Hugging Face would not read either.
*/
int embPretokCompile(const cJSON *pPre, uint8_t **paProg, size_t *pnProg,
                     char **pzErr);

#endif /* EMB_CONVERT_PRETOK_H */
