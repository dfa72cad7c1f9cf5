/* Growth of heap arrays: one helper instead of a realloc loop in every file. */
#ifndef WP_GROW_H
#define WP_GROW_H

#include <stddef.h>

/* Makes *v (elements of elem bytes, *cap of them allocated) hold at least need elements,
 * doubling from min_cap. Leaves *v and *cap unchanged on failure. Returns 0 or -ENOMEM
 * (also when the size would overflow). */
int wp_grow(void **v, size_t *cap, size_t need, size_t elem, size_t min_cap);

/* wp_grow for a typed pointer: WP_GROW(&arr, &cap, n + 1). */
#define WP_GROW(pv, pcap, need) wp_grow((void **)(pv), (pcap), (need), sizeof(**(pv)), 16)

#endif
