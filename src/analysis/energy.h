/* Pure numerics on power and counter series: arrays of (t_us, value) sorted by time, values
 * in the sensor's unit (mW for power, mJ for energy counters). Nothing here allocates except
 * where a function says so, and nothing reads a trace.
 *
 * The interval rule used throughout: a power sample at t_i is the average of the period that
 * ends at its timestamp, so it covers (t_{i-1}, t_i]. NVML's 20 ms buffer and the 100 ms
 * average fields both report that way. The first sample has no predecessor; it is held
 * backwards for at most `hold_us` (one nominal cadence) and whatever lies before that is not
 * covered. Nothing after the last sample is covered. */
#ifndef WP_ENERGY_H
#define WP_ENERGY_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Compensated (Neumaier) sum: *s += x with the rounding error kept in *c; the total is s + c.
 * A day of 20 ms samples is millions of terms of very different size (idle 70 W vs 700 W
 * bursts, 20 ms vs hour-long spans), and plain summation would let the rounding of the running
 * total drift by more than the counter comparison can tolerate. */
static inline void wp_ksum_add(double *s, double *c, double x)
{
    double t = *s + x;
    if (fabs(*s) >= fabs(x))
        *c += (*s - t) + x;
    else
        *c += (x - t) + *s;
    *s = t;
}

struct wp_energy {
    double energy_mj;   /* integral of the covered part of the window */
    int64_t covered_us; /* part of the window some sample covers (gaps included) */
    int64_t gap_us;     /* part of covered_us that lies in intervals longer than gap_us */
    size_t gaps;        /* intervals longer than the gap threshold that overlap the window */
};

/* Energy of a power series (mW) over [from_us, to_us], in mJ. hold_us: how far the first
 * sample is held backwards (the sensor's nominal cadence; 0 for none). gap_us: intervals
 * longer than this are still integrated with the sample's value but counted in gaps/gap_us
 * (0 or less: no gap detection). Partial intervals at the window edges count pro rata.
 * Returns 0, or -EINVAL if timestamps go backwards or to_us < from_us. */
int wp_energy_window(const int64_t *t_us, const int64_t *mw, size_t n, int64_t from_us,
                     int64_t to_us, int64_t hold_us, int64_t gap_us, struct wp_energy *out);

/* Highest mean power (mW) over any window_us-long span inside [from_us, to_us] and inside
 * the covered part of the series (same interval rule and hold as wp_energy_window). O(n),
 * no allocation. *out_mw is NAN when the covered span is shorter than window_us. Returns 0,
 * or -EINVAL on unsorted input or window_us <= 0. */
int wp_rolling_mean_max(const int64_t *t_us, const int64_t *mw, size_t n, int64_t from_us,
                        int64_t to_us, int64_t hold_us, int64_t window_us, double *out_mw);

/* p-th percentile (p in [0, 100]) of an ascending array, interpolating linearly between the
 * two closest ranks (rank = p/100 * (n-1), as numpy's default). NAN if n == 0 or p is out of
 * range. */
double wp_percentile_sorted(const int64_t *sorted, size_t n, double p);
/* First index of an ascending array with t >= x (lower) or t > x (upper); n if none. */
size_t wp_lower_bound_i64(const int64_t *t, size_t n, int64_t x);
size_t wp_upper_bound_i64(const int64_t *t, size_t n, int64_t x);

/* Ascending in-place sort, for feeding wp_percentile_sorted. */
void wp_sort_i64(int64_t *v, size_t n);

/* Median of the n-1 intervals between consecutive timestamps, in ms. *out_ms is NAN when
 * n < 2. Returns 0 or -ENOMEM (it sorts a copy). */
int wp_median_interval_ms(const int64_t *t_us, size_t n, double *out_ms);
/* Number of intervals between consecutive timestamps longer than gap_us. */
size_t wp_count_gaps(const int64_t *t_us, size_t n, int64_t gap_us);

/* Total increase of a raw counter over n readings. wrap_at > 0: the counter runs over
 * [0, wrap_at) and a decrease is one wrap. wrap_at == 0: it never wraps, so a decrease means
 * the counter was reset (driver reload, GPU reset) or misread: -ERANGE, so the caller can say
 * "counter went backwards" instead of reporting garbage. Also -ENODATA for n < 2, -EINVAL
 * for a reading outside [0, wrap_at), -EOVERFLOW if the total does not fit. */
int wp_counter_delta(const int64_t *raw, size_t n, int64_t wrap_at, int64_t *delta);

/* The readings of a counter (timestamps t_us, ascending) that bracket [from_us, to_us] most
 * tightly: the last one at or before from_us if it lies within slack_us of it, else the first
 * inside; likewise at the end. Sets the range [*i0, *i1) and returns its length (below 2:
 * no delta over the window). */
size_t wp_counter_bracket(const int64_t *t_us, size_t n, int64_t from_us, int64_t to_us,
                          int64_t slack_us, size_t *i0, size_t *i1);

/* One series for wp_sum_*: covers (t_us[0] - hold_us, t_us[n-1]]. */
struct wp_series_ref {
    const int64_t *t_us;
    const int64_t *value;
    size_t n;
    int64_t hold_us;
};

/* Number of grid points from_us, from_us + step_us, ... <= to_us (0 if to_us < from_us or
 * step_us <= 0). */
size_t wp_grid_len(int64_t from_us, int64_t to_us, int64_t step_us);
/* Sum of k series on that grid: each series contributes the sample whose interval holds the
 * grid point. A point that some series does not cover is NAN in sum (never a partial sum
 * that would read as a dip). sum must hold wp_grid_len(...) entries; len is its size.
 * Returns 0, -EINVAL on bad arguments or unsorted input. */
int wp_sum_grid(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                int64_t step_us, double *sum, size_t len);
/* Highest value of that summed grid without storing it; NAN when no point is covered by
 * every series. The grid step should be the smallest cadence among the series: coarser
 * steps skip samples, and with a step equal to the cadence a sample can still be skipped
 * or taken twice when clocks jitter, so this is the peak at grid resolution. */
int wp_sum_peak(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                int64_t step_us, double *peak);

/* The same summed grid, handed to fn as runs: count consecutive grid points that all have the
 * sum `sum` (NAN: not covered by every series), in order, covering the whole grid. The walk
 * costs the samples, not the grid's length. Returns 0, -EINVAL as wp_sum_grid, -ENOMEM. */
int wp_sum_grid_runs(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                     int64_t step_us, void (*fn)(void *ctx, double sum, size_t count), void *ctx);

#endif
