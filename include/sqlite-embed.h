/*
** sqlite-embed: text embeddings and top-k search inside SQLite.
**
** This header declares the one symbol the extension exports, for programs
** that link the extension statically or register it with
** sqlite3_auto_extension().  Programs that load build/embed.so at run time
** (".load build/embed" in the shell, load_extension() in SQL) need nothing
** from it.
**
**     #include "sqlite-embed.h"
**     sqlite3_auto_extension((void(*)(void))sqlite3_embed_init);
*/
#ifndef SQLITE_EMBED_H
#define SQLITE_EMBED_H

#include <sqlite3.h>

#define SQLITE_EMBED_VERSION        "0.1.0"
#define SQLITE_EMBED_VERSION_NUMBER 1000   /* major*1000000 + minor*1000 + patch */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
int sqlite3_embed_init(sqlite3 *db, char **pzErrMsg,
                       const struct sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif
#endif /* SQLITE_EMBED_H */
