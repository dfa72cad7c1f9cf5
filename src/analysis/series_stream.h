/* Internal to src/analysis: one sensor's samples read forward one at a time, a chunk in memory
 * at a time (wp_trace_cursor), gauges scaled to the canonical unit as wp_series_to_canonical
 * does for a whole series. summary.c and node.c fold every sample as it passes. */
#ifndef WP_SERIES_STREAM_H
#define WP_SERIES_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/trace.h"

struct wp_stream {
    struct wp_trace_cursor *cur;
    const struct wp_sensor *row;
    bool canonical;
    const int64_t *t, *v; /* the current block; the current sample is t[i], v[i] */
    int64_t *scaled;      /* v in the canonical unit when the raw unit is not */
    size_t scaled_cap;
    size_t n, i;
    size_t pos; /* samples stepped over so far */
    int64_t t0; /* the series' first sample */
    bool end;   /* no current sample: the series is over (or empty) */
};

/* canonical: scale values to mW / mJ (gauges); counters stay raw (they wrap in raw units). */
int wp_stream_open(const struct wp_trace *t, const struct wp_sensor *row, bool canonical,
                   struct wp_stream *st, struct wp_err *err);
/* Only the chunks that hold a sample in [from_us, to_us] (wp_trace_cursor_open_window): every
 * sample of the window comes, and some on either side of it may. */
int wp_stream_open_window(const struct wp_trace *t, const struct wp_sensor *row, bool canonical,
                          int64_t from_us, int64_t to_us, struct wp_stream *st, struct wp_err *err);
/* Moves to the next sample (st->end after the last). */
int wp_stream_step(struct wp_stream *st, struct wp_err *err);
/* The damaged chunks of the series (complete once st->end). */
void wp_stream_damage(const struct wp_stream *st, const struct wp_trace_damage **v, size_t *n);
void wp_stream_close(struct wp_stream *st);

/* One read of a whole series, for what a pass needs before it starts: the median interval
 * (median_ms non-NULL; NAN below two samples), and [*lo, *hi] widened to its first and last
 * sample. */
int wp_series_scan(const struct wp_trace *t, int sensor, double *median_ms, int64_t *lo,
                   int64_t *hi, struct wp_err *err);

#endif
