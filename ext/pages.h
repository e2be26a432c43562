/*
** pages.h: memory for embed_index's chunk images, in huge pages where the
** kernel has them.
**
**     uint8_t *a = embPagesAlloc(nByte, EMB_PAGES_CODES);   NULL: no memory
**     ...
**     embPagesFree(a);                       NULL is fine
**
** WHY
** A new connection's first query reads every chunk's codes, 40 MB for a
** million rows of 256 dims, into fresh memory; on a virtual machine the
** kernel's page faults (one per 4 KB page, each clearing its page) cost
** more than reading the data.  Carved from regions of 2 MB-aligned
** mappings marked MADV_HUGEPAGE, the same memory takes a fault per 2 MB.
**
** HOW IT WORKS
** Requests under 64 KB go to sqlite3_malloc64() (small indexes, and every
** test of the extension's allocation failures, stay on SQLite's
** allocator).  Larger ones are cut, in order, from the current region (8
** MB, or a region of their own when bigger than half of that), each behind
** a 16-byte header naming its region; a region holds a count of live
** pieces and is unmapped when it reaches zero and is not the current one.
** Each kind of piece has regions of its own: the sign bits, which every
** query scans and a connection keeps, and the 4-bit codes, which a large
** index drops after each commit; mixed, a region would live as long as
** its longest-lived piece and keep the dropped ones' memory mapped.
** A mutex guards the regions: allocations are per chunk, not per row.
*/
#ifndef EMB_PAGES_H
#define EMB_PAGES_H

#include <stddef.h>

#define EMB_PAGES_CODES  0      /* chunk images (NAME_codes) */
#define EMB_PAGES_FINE   1      /* fine images (NAME_fine); kinds index
                                ** pages.c's current regions */

void *embPagesAlloc(size_t nByte, int eKind);
void embPagesFree(void *p);

#endif /* EMB_PAGES_H */
