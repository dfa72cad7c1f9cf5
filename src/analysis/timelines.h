/* The timelines of a trace's HTML report (src/report/html.c draws them), in memory that does
 * not grow with the trace: an envelope over the run (envelope.h) for each GPU's power and for
 * the GPUs' sum, folded in the summary's one pass over the power series (the begin, fold and
 * sum_fold hooks of wp_summary_opts), one for each node meter, read a chunk at a time after
 * the pass, and every sample of a short window (the zoom), read afterwards from the chunks
 * that hold it. */
#ifndef WP_TIMELINES_H
#define WP_TIMELINES_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/envelope.h"
#include "analysis/summary.h"
#include "core/err.h"
#include "store/trace.h"

#define WP_TIMELINE_COLS   1000  /* envelope columns: one per pixel of the plot */
#define WP_TIMELINE_MAX    80    /* timelines, and zoom series, at most */
#define WP_ZOOM_DEFAULT_S  10.0  /* the zoom's width when none was asked for */
#define WP_ZOOM_MAX_POINTS 20000 /* per series: 400 s of 20 ms samples */

enum wp_timeline_kind { WP_TIMELINE_SUM, WP_TIMELINE_GPU, WP_TIMELINE_NODE };

struct wp_timeline {
    enum wp_timeline_kind kind;
    size_t gpu;                  /* WP_TIMELINE_GPU: index into wp_summary.gpus */
    const struct wp_sensor *row; /* the series (GPU and node); NULL for the sum */
    struct wp_envelope env;
};

/* Every sample of one series in the zoom window, in W. */
struct wp_zoom_series {
    const struct wp_timeline *of;
    size_t n;
    int64_t *t_us;
    double *w;
};

struct wp_timelines {
    const struct wp_trace *t;
    double zoom_from_s, zoom_to_s; /* as asked, seconds after the start; NAN: not asked */
    /* the sum first (when every GPU has a power series and there are several), then the GPUs
     * in the summary's order, then the node meters */
    struct wp_timeline v[WP_TIMELINE_MAX];
    size_t n;
    size_t left_out;      /* series beyond WP_TIMELINE_MAX, not drawn (node meters go last) */
    size_t *gpu_timeline; /* per summary GPU: its index in v, or SIZE_MAX */
    size_t ngpus;
    int64_t start_us, end_us, sum_step_us;
    /* the window (as asked, else WP_ZOOM_DEFAULT_S around the highest point of v[0]) and its
     * samples: every GPU's, then every node meter's */
    int64_t zoom_from_us, zoom_to_us;
    struct wp_zoom_series zoom[WP_TIMELINE_MAX];
    size_t nzoom;
    int rc; /* the first failure during the pass, kept for wp_timelines_finish */
    struct wp_err err;
};

/* Sets up tl (zoom_from_s/zoom_to_s both finite: that zoom window, else the default) and hooks
 * it into *opts (begin, fold, sum_fold; they must be unset); pass opts to
 * wp_summary_compute_opts, then call wp_timelines_finish with its summary. */
void wp_timelines_init(struct wp_timelines *tl, const struct wp_trace *t, double zoom_from_s,
                       double zoom_to_s, struct wp_summary_opts *opts);
/* After the summary: closes the envelopes, reads the node meters and the zoom window.
 * 0, or a negative code with err filled (also for what went wrong during the pass: -ENOMEM;
 * the summary itself is whole then). Series beyond WP_TIMELINE_MAX are counted in left_out. */
int wp_timelines_finish(struct wp_timelines *tl, const struct wp_summary *s, struct wp_err *err);
void wp_timelines_free(struct wp_timelines *tl);

#endif
