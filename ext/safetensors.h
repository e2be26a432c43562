/*
** safetensors.h: a strict parser of the JSON header of a safetensors file.
**
**     EmbStHeader h;
**     char *zErr;
**     if( embStParse(aHeader, nHeader, &h, &zErr) ){ ...zErr, embFree()... }
**     for(i=0; i<h.nTensor; i++){ ...h.aTensor[i].zName, .eType, .aShape... }
**     embStClear(&h);
**
** The header is untrusted: it may be hostile, and it is not NUL-terminated.
** The parser accepts exactly what the format needs and nothing else:
**
**     { "NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
**       "__metadata__": {"key": "value", ...},
**       ... }
**
** Every other key inside a tensor entry is ignored (its value must still be
** valid JSON, nested at most one level).  Numbers in "shape" and
** "data_offsets" must be non-negative integers that fit 64 bits.  Strings
** must be valid UTF-8 and are decoded (escapes, \uXXXX with surrogate pairs);
** "\u0000" is refused, so every decoded string is a plain C string.
** Duplicate tensor names, metadata keys and tensor-entry keys are errors.
*/
#ifndef EMB_SAFETENSORS_H
#define EMB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define EMB_ST_MAXDIM 4     /* the most dimensions a "shape" may have */

typedef struct EmbStTensor EmbStTensor;
struct EmbStTensor {
  const char *zName;        /* decoded, NUL-terminated, in EmbStHeader.zPool */
  int eType;                /* EMB_DT_* (model.h) */
  int nDim;                 /* 0 .. EMB_ST_MAXDIM */
  uint64_t aShape[EMB_ST_MAXDIM];
  uint64_t iBegin, iEnd;    /* data_offsets, relative to the data section */
  uint64_t iOfs;            /* where the name starts in the header */
};

typedef struct EmbStMeta EmbStMeta;
struct EmbStMeta {
  const char *zKey;         /* decoded, NUL-terminated, in EmbStHeader.zPool */
  const char *zValue;       /* likewise */
  uint64_t iOfs;            /* where the key starts in the header */
};

typedef struct EmbStHeader EmbStHeader;
struct EmbStHeader {
  char *zPool;              /* every decoded string; embMalloc()'d */
  int nTensor;              /* tensors, in header order */
  EmbStTensor *aTensor;     /* embMalloc()'d */
  int hasMeta;              /* true if "__metadata__" was present */
  int nMeta;                /* metadata entries, in header order */
  EmbStMeta *aMeta;         /* embMalloc()'d */
};

/*
** Parse the header z[0..n).  On success returns 0 and fills *pOut, which
** the caller releases with embStClear() (or takes over: a caller may keep
** zPool, aTensor or aMeta and set the field to NULL before embStClear()).
** On failure returns non-zero, leaves *pOut empty and sets *pzErr to an
** embMprintf()'d message saying what is wrong and at which byte of the
** header ("expected ':' at byte 17 of the header, found '}'"), or to NULL
** when out of memory.  The caller frees *pzErr with embFree().
*/
int embStParse(const uint8_t *z, uint64_t n, EmbStHeader *pOut, char **pzErr);

/* Free what *p holds and zero it.  Safe on a zeroed or cleared header. */
void embStClear(EmbStHeader *p);

/* The size in bytes of one element of EMB_DT_* type eType, or 0. */
int embStDtypeSize(int eType);

/* The safetensors name of EMB_DT_* type eType ("F32"), or "?". */
const char *embStDtypeName(int eType);

#endif /* EMB_SAFETENSORS_H */
