/* Folds: the summary's numbers computed one sample at a time, in time order, with memory that
 * does not grow with the trace's length. Each fold gives exactly what the whole-array
 * function in energy.h named beside it gives on the same series (same terms summed in the same
 * order), so streaming changes no printed digit; tests/unit/test_stream.c checks that against
 * those functions.
 *
 * A fold is fed with wp_*_fold_add(fold, t_us, value) for every sample of one series in
 * ascending time order, then asked for its result. */
#ifndef WP_STREAM_H
#define WP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/energy.h"

/* ---- energy over windows (wp_energy_window) ---- */

struct wp_energy_win {
    int64_t from_us, to_us;
    struct wp_energy e;  /* the result, once the series has been fed */
    double sum_s, sum_c; /* compensated running sum, mW x us */
};

/* Energy of one power series (mW) over any number of windows at once; a sample costs only the
 * windows it overlaps (phases are often hundreds). */
struct wp_energy_fold {
    int64_t hold_us, gap_us;
    struct wp_energy_win *win; /* owned by the caller, nwin entries */
    size_t nwin;
    size_t *order, next; /* window indexes by from_us; the next to open */
    size_t *active, nactive;
    int64_t prev_t;
    bool have_prev;
};

/* win[] is kept by the fold until wp_energy_fold_free. Returns 0 or -ENOMEM. */
int wp_energy_fold_init(struct wp_energy_fold *f, struct wp_energy_win *win, size_t nwin,
                        int64_t hold_us, int64_t gap_us);
void wp_energy_fold_add(struct wp_energy_fold *f, int64_t t_us, int64_t mw);
/* n samples at once, in time order: the same result as adding them one by one. */
void wp_energy_fold_add_n(struct wp_energy_fold *f, const int64_t *t_us, const int64_t *mw,
                          size_t n);
/* Writes each window's e. */
void wp_energy_fold_end(struct wp_energy_fold *f);
void wp_energy_fold_free(struct wp_energy_fold *f);

/* ---- highest rolling mean (wp_rolling_mean_max) ---- */

struct wp_rolling_fold {
    int64_t from_us, to_us, hold_us, window_us;
    int64_t *t, *v; /* samples from index base on; the search needs about one window back */
    /* the hi cursor's compensated sum when it stood at each sample: the lo cursor, always
     * behind it, takes these instead of summing the same terms a second time */
    double *ps, *pc;
    size_t base, n, cap;
    size_t lo_i, hi_i, p, q; /* global indexes, as in energy.c */
    double lo_s, lo_c, hi_s, hi_c;
    int64_t s, d_lo, first_t;
    /* pruning: samples [cold_from, scan_i) are below the best mean found so far; absmax, the
     * largest |value| appended, bounds the rounding of the cursors' sums */
    size_t cold_from, scan_i;
    double cold_thr; /* the highest threshold a sample in there was compared with */
    int64_t absmax;
    double best;
    bool started, stop, failed;
};

void wp_rolling_fold_init(struct wp_rolling_fold *f, int64_t from_us, int64_t to_us,
                          int64_t hold_us, int64_t window_us);
/* -ENOMEM or 0. */
int wp_rolling_fold_add(struct wp_rolling_fold *f, int64_t t_us, int64_t mw);
/* n samples at once, in time order: the same result as adding them one by one. */
int wp_rolling_fold_add_n(struct wp_rolling_fold *f, const int64_t *t_us, const int64_t *mw,
                          size_t n);
/* The highest window_us mean in mW, NAN as wp_rolling_mean_max gives it. */
double wp_rolling_fold_end(struct wp_rolling_fold *f);
void wp_rolling_fold_free(struct wp_rolling_fold *f);

/* ---- exact percentiles (wp_percentile_sorted over a sorted copy) ---- */

/* The count of each distinct value: exact percentiles with memory bounded by how many
 * different values a meter can give (a power reading in mW, an interval in us), not by how
 * many samples there are. */
struct wp_hist_slot {
    int64_t key;
    uint64_t count; /* 0: free */
};
/* Values in [0, WP_HIST_FLAT) are counted in a flat array (256 kB of address space; only the
 * pages values fall into become memory): the intervals of a 20 ms series cost an increment.
 * A flat array over power readings in mW (1 << 20) was measured slower than the table: a day
 * of 8 GPUs, 2026-12-03, `perf stat -r 5 wattprof report` on bench/perf's 1 h trace, 0.55 s
 * against 0.22 s, its pages scattered over 3 MB per GPU. */
#define WP_HIST_FLAT (1 << 16)
struct wp_hist {
    struct wp_hist_slot *slot;
    size_t cap, used;
    unsigned bits;
    uint32_t *flat;
    size_t nflat; /* distinct values in flat */
    uint64_t total;
};

int wp_hist_add(struct wp_hist *h, int64_t v);
/* n values at once: the same counts as adding them one by one. */
int wp_hist_add_n(struct wp_hist *h, const int64_t *v, size_t n);
/* As wp_percentile_sorted(all values sorted, p); NAN when empty. -ENOMEM in *rc (else 0). */
double wp_hist_percentile(const struct wp_hist *h, double p, int *rc);
void wp_hist_free(struct wp_hist *h);

/* ---- a counter's delta over the run (wp_counter_bracket + wp_counter_delta) ---- */

struct wp_counter_fold {
    int64_t from_us, to_us, slack_us, wrap_at;
    /* the reading just before from_us, a candidate for the bracket's start */
    int64_t prev_t, prev_raw;
    bool have_prev;
    size_t n_seen;      /* readings so far */
    size_t n_in;        /* readings in [from_us, to_us] */
    int64_t first_in_t; /* the first of them */
    int64_t last_le_t;  /* the last reading at or before to_us */
    bool have_last_le;
    bool after_done; /* the first reading after to_us was seen */
    int64_t after_t, after_raw;
    bool have_after; /* ... and it lies within slack: it closes the bracket */
    /* the delta over the readings in [from_us, to_us] (and the one after, if it closes) */
    int64_t acc_first_raw, acc_last_raw, acc_first_t, acc_last_t;
    int64_t acc_total;
    size_t acc_n;
    int acc_rc;
};

void wp_counter_fold_init(struct wp_counter_fold *f, int64_t from_us, int64_t to_us,
                          int64_t slack_us, int64_t wrap_at);
void wp_counter_fold_add(struct wp_counter_fold *f, int64_t t_us, int64_t raw);
/* Returns the number of readings in the bracket (below 2: no delta). With 2 or more, *rc is
 * what wp_counter_delta returns over them, *delta its delta and [*t0, *t1] their times. */
size_t wp_counter_fold_end(const struct wp_counter_fold *f, int *rc, int64_t *delta, int64_t *t0,
                           int64_t *t1);

#endif
