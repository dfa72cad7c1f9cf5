/* Joining node traces into one cluster trace (wattprof merge); see merge.c. */
#ifndef WP_MERGE_H
#define WP_MERGE_H

#include <stddef.h>

#include "store/trace.h"

struct wp_merge_stats {
    size_t nodes, sensors, samples;
    size_t damaged; /* chunks of the inputs that did not decode and are left out */
};

/* Writes a new trace at out (never replaces a file: -EEXIST) holding the n traces at paths,
 * node i named names[i] (names may be NULL, or hold NULL/"" entries: the trace's meta host).
 * Refuses two traces of one node, and a trace that is itself merged (-EINVAL). On failure
 * nothing is left at out. */
int wp_trace_merge(const char *const *paths, const char *const *names, size_t n, const char *out,
                   struct wp_merge_stats *st, struct wp_err *err);

#endif
