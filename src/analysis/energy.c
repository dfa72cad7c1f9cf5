#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/energy.h"

/* mW x us = 1e-6 mJ */
#define MWUS_PER_MJ 1e6

/* A compensated sum (energy.h, wp_ksum_add) as one value. */
struct ksum {
    double s, c;
};

static void ksum_add(struct ksum *k, double x)
{
    wp_ksum_add(&k->s, &k->c, x);
}

static double ksum_get(const struct ksum *k)
{
    return k->s + k->c;
}

static bool is_sorted(const int64_t *t, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (t[i] < t[i - 1])
            return false;
    return true;
}

/* Binary search over sorted timestamps; strict: first t > x, else first t >= x. */
static size_t bound(const int64_t *t, size_t n, int64_t x, bool strict)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] < x || (strict && t[mid] == x))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t wp_lower_bound_i64(const int64_t *t, size_t n, int64_t x)
{
    return bound(t, n, x, false);
}

size_t wp_upper_bound_i64(const int64_t *t, size_t n, int64_t x)
{
    return bound(t, n, x, true);
}

static int64_t seg_start(const int64_t *t, size_t i, int64_t hold_us)
{
    return i == 0 ? t[0] - (hold_us > 0 ? hold_us : 0) : t[i - 1];
}

int wp_energy_window(const int64_t *t_us, const int64_t *mw, size_t n, int64_t from_us,
                     int64_t to_us, int64_t hold_us, int64_t gap_us, struct wp_energy *out)
{
    memset(out, 0, sizeof(*out));
    if (to_us < from_us)
        return -EINVAL;
    struct ksum e = {0, 0};
    /* Interval i ends at t[i]; the first one that reaches past from_us is the first with
     * t[i] > from_us. Sortedness is checked over the part we walk. */
    for (size_t i = wp_upper_bound_i64(t_us, n, from_us); i < n; i++) {
        if (i > 0 && t_us[i] < t_us[i - 1])
            return -EINVAL;
        int64_t a = seg_start(t_us, i, hold_us), b = t_us[i];
        if (a >= to_us)
            break;
        int64_t lo = a > from_us ? a : from_us, hi = b < to_us ? b : to_us;
        if (hi <= lo)
            continue;
        int64_t d = hi - lo;
        out->covered_us += d;
        ksum_add(&e, (double)mw[i] * (double)d);
        /* The backward hold of the first sample is an assumption, not a measured interval,
         * so it is never a gap. */
        if (i > 0 && gap_us > 0 && b - a > gap_us) {
            out->gaps++;
            out->gap_us += d;
        }
    }
    out->energy_mj = ksum_get(&e) / MWUS_PER_MJ;
    return 0;
}

/* Running integral E(x) of the step function from the start of coverage, for x that only
 * moves forward. Two cursors over the same series add the same terms in the same order, so
 * their difference carries no drift from where they started. */
struct cursor {
    size_t i;
    struct ksum cum; /* integral up to seg_start(i), mW x us */
};

static double cursor_at(struct cursor *c, const int64_t *t, const int64_t *v, size_t n,
                        int64_t hold_us, int64_t x)
{
    while (c->i + 1 < n && t[c->i] < x) {
        int64_t a = seg_start(t, c->i, hold_us);
        ksum_add(&c->cum, (double)v[c->i] * (double)(t[c->i] - a));
        c->i++;
    }
    int64_t a = seg_start(t, c->i, hold_us);
    return ksum_get(&c->cum) + (double)v[c->i] * (double)(x - a);
}

int wp_rolling_mean_max(const int64_t *t_us, const int64_t *mw, size_t n, int64_t from_us,
                        int64_t to_us, int64_t hold_us, int64_t window_us, double *out_mw)
{
    *out_mw = NAN;
    if (window_us <= 0 || !is_sorted(t_us, n))
        return -EINVAL;
    if (n == 0)
        return 0;
    int64_t cov_lo = seg_start(t_us, 0, hold_us), cov_hi = t_us[n - 1];
    int64_t d_lo = from_us > cov_lo ? from_us : cov_lo;
    int64_t d_hi = to_us < cov_hi ? to_us : cov_hi;
    if (d_hi < d_lo || d_hi - d_lo < window_us)
        return 0;
    int64_t s_hi = d_hi - window_us;

    /* The windowed integral is piecewise linear in its start s, with kinks only where s or
     * s + W crosses a sample boundary, so its maximum is at one of those starts or at an end
     * of the allowed range. Boundaries are x_0 = cov_lo, x_k = t[k-1]; both candidate lists
     * (x_k and x_k - W) are ascending, so merging them keeps the cursors moving forward. */
    struct cursor lo = {0, {0, 0}}, hi = {0, {0, 0}};
    double best = -INFINITY;
    size_t p = 0, q = 0; /* next x_p and x_q - W */
    int64_t s = d_lo;
    for (;;) {
        double f = cursor_at(&hi, t_us, mw, n, hold_us, s + window_us) -
                   cursor_at(&lo, t_us, mw, n, hold_us, s);
        if (f > best)
            best = f;
        if (s >= s_hi)
            break;
        /* next candidate strictly after s, capped at s_hi */
        int64_t next = s_hi;
        while (p <= n) {
            int64_t x = p == 0 ? cov_lo : t_us[p - 1];
            if (x > s) {
                if (x < next)
                    next = x;
                break;
            }
            p++;
        }
        while (q <= n) {
            int64_t x = (q == 0 ? cov_lo : t_us[q - 1]) - window_us;
            if (x > s) {
                if (x < next)
                    next = x;
                break;
            }
            q++;
        }
        s = next;
    }
    *out_mw = best / (double)window_us;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void wp_sort_i64(int64_t *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_i64);
}

double wp_percentile_sorted(const int64_t *sorted, size_t n, double p)
{
    if (n == 0 || !(p >= 0.0 && p <= 100.0))
        return NAN;
    double rank = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)rank;
    if (lo >= n - 1)
        return (double)sorted[n - 1];
    double frac = rank - (double)lo;
    return (double)sorted[lo] + ((double)sorted[lo + 1] - (double)sorted[lo]) * frac;
}

int wp_median_interval_ms(const int64_t *t_us, size_t n, double *out_ms)
{
    *out_ms = NAN;
    if (n < 2)
        return 0;
    int64_t *d = malloc((n - 1) * sizeof(*d));
    if (!d)
        return -ENOMEM;
    for (size_t i = 1; i < n; i++)
        d[i - 1] = t_us[i] - t_us[i - 1];
    wp_sort_i64(d, n - 1);
    *out_ms = wp_percentile_sorted(d, n - 1, 50.0) / 1000.0;
    free(d);
    return 0;
}

size_t wp_count_gaps(const int64_t *t_us, size_t n, int64_t gap_us)
{
    size_t g = 0;
    for (size_t i = 1; i < n; i++)
        if (t_us[i] - t_us[i - 1] > gap_us)
            g++;
    return g;
}

int wp_counter_delta(const int64_t *raw, size_t n, int64_t wrap_at, int64_t *delta)
{
    *delta = 0;
    if (wrap_at < 0)
        return -EINVAL;
    if (n < 2)
        return -ENODATA;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        /* RAPL-style counters may show wrap_at itself (same as 0), so the range is closed. */
        if (wrap_at > 0 && (raw[i] < 0 || raw[i] > wrap_at))
            return -EINVAL;
        if (i == 0)
            continue;
        int64_t d;
        if (__builtin_sub_overflow(raw[i], raw[i - 1], &d))
            return -EOVERFLOW;
        if (d < 0) {
            if (wrap_at == 0)
                return -ERANGE;
            d += wrap_at;
        }
        if (__builtin_add_overflow(total, d, &total))
            return -EOVERFLOW;
    }
    *delta = total;
    return 0;
}

size_t wp_counter_bracket(const int64_t *t_us, size_t n, int64_t from_us, int64_t to_us,
                          int64_t slack_us, size_t *i0, size_t *i1)
{
    size_t a = wp_lower_bound_i64(t_us, n, from_us), b = wp_upper_bound_i64(t_us, n, to_us);
    if (a > 0 && (a == n || t_us[a] > from_us) && from_us - t_us[a - 1] <= slack_us)
        a--;
    if (b < n && (b == 0 || t_us[b - 1] < to_us) && t_us[b] - to_us <= slack_us)
        b++;
    *i0 = a;
    *i1 = b > a ? b : a;
    return *i1 - *i0;
}

size_t wp_grid_len(int64_t from_us, int64_t to_us, int64_t step_us)
{
    if (step_us <= 0 || to_us < from_us)
        return 0;
    return (size_t)((uint64_t)to_us - (uint64_t)from_us) / (uint64_t)step_us + 1;
}

struct grid_it {
    const struct wp_series_ref *s;
    size_t k;
    size_t *pos; /* per series: first index with t >= the current grid point */
};

/* t0 - hold, or INT64_MIN where that would overflow: when a series starts covering. */
static int64_t cover_start(int64_t t0, int64_t hold)
{
    int64_t d;
    return __builtin_sub_overflow(t0, hold, &d) ? INT64_MIN : d;
}

/* Sum at grid point g (points must come in ascending order); NAN if a series misses g. */
static double grid_sum_at(struct grid_it *it, int64_t g)
{
    double sum = 0;
    bool covered = true;
    for (size_t j = 0; j < it->k; j++) {
        const struct wp_series_ref *r = &it->s[j];
        size_t *p = &it->pos[j];
        while (*p < r->n && r->t_us[*p] < g)
            (*p)++;
        if (r->n == 0 || *p == r->n) {
            covered = false;
            continue;
        }
        if (*p == 0) {
            int64_t t0 = r->t_us[0], hold = r->hold_us > 0 ? r->hold_us : 0;
            if (!(g == t0 || g > cover_start(t0, hold))) {
                covered = false;
                continue;
            }
        }
        sum += (double)r->value[*p];
    }
    return covered ? sum : NAN;
}

/* The last time t >= g such that every grid point in [g, t] has the same sum as g: no series
 * moves to its next sample, none starts covering. INT64_MAX when no later point is covered. */
static int64_t grid_same_until(const struct grid_it *it, int64_t g)
{
    int64_t until = INT64_MAX;
    for (size_t j = 0; j < it->k; j++) {
        const struct wp_series_ref *r = &it->s[j];
        size_t p = it->pos[j];
        if (p == r->n)
            return INT64_MAX; /* past this series' end: nothing later is covered */
        int64_t t = r->t_us[p];
        if (p == 0) {
            int64_t hold = r->hold_us > 0 ? r->hold_us : 0;
            /* Not covered yet: it starts covering after t0 - hold (at t0 when hold is 0). */
            if (!(g == t || g > cover_start(t, hold)))
                t = hold > 0 ? cover_start(t, hold) : t - 1;
        }
        if (t < until)
            until = t;
    }
    return until;
}

/* Checks the arguments of a walk over the summed grid and readies its iterator. */
static int grid_begin(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                      int64_t step_us, struct grid_it *it)
{
    if (step_us <= 0 || to_us < from_us || (k > 0 && !s))
        return -EINVAL;
    for (size_t j = 0; j < k; j++)
        if (!is_sorted(s[j].t_us, s[j].n))
            return -EINVAL;
    *it = (struct grid_it){s, k, calloc(k ? k : 1, sizeof(*it->pos))};
    return it->pos ? 0 : -ENOMEM;
}

static int grid_walk(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                     int64_t step_us, double *sum, size_t len, double *peak)
{
    struct grid_it it;
    size_t m = wp_grid_len(from_us, to_us, step_us);
    if (sum && len < m)
        return -EINVAL;
    int rc = grid_begin(s, k, from_us, to_us, step_us, &it);
    if (rc < 0)
        return rc;
    double best = NAN;
    for (size_t i = 0; i < m; i++) {
        int64_t g = from_us + (int64_t)i * step_us;
        double v = k ? grid_sum_at(&it, g) : NAN;
        if (sum)
            sum[i] = v;
        if (!isnan(v) && (isnan(best) || v > best))
            best = v;
        /* For the peak alone, jump to the next grid point where the sum can change: the
         * walk then costs the samples, not (to - from) / step, which a trace's run window
         * and cadence can make 2^60 (a crafted trace hung `report`; tests/fuzz). */
        if (!sum && k) {
            int64_t until = grid_same_until(&it, g);
            if (until == INT64_MAX)
                break;
            size_t next = (size_t)(((uint64_t)until - (uint64_t)from_us) / (uint64_t)step_us);
            if (next > i)
                i = next; /* the loop's i++ then lands on the first point after until */
        }
    }
    free(it.pos);
    if (peak)
        *peak = best;
    return 0;
}

int wp_sum_grid(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                int64_t step_us, double *sum, size_t len)
{
    return grid_walk(s, k, from_us, to_us, step_us, sum, len, NULL);
}

int wp_sum_peak(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                int64_t step_us, double *peak)
{
    *peak = NAN;
    return grid_walk(s, k, from_us, to_us, step_us, NULL, 0, peak);
}

int wp_sum_grid_runs(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                     int64_t step_us, void (*fn)(void *ctx, double sum, size_t count), void *ctx)
{
    struct grid_it it;
    int rc = grid_begin(s, k, from_us, to_us, step_us, &it);
    if (rc < 0)
        return rc;
    size_t m = wp_grid_len(from_us, to_us, step_us);
    for (size_t i = 0; i < m;) {
        int64_t g = from_us + (int64_t)i * step_us;
        double v = k ? grid_sum_at(&it, g) : NAN;
        size_t count = 1;
        if (k) {
            int64_t until = grid_same_until(&it, g);
            if (until == INT64_MAX) { /* nothing after g is covered */
                fn(ctx, v, 1);
                if (m - i - 1 > 0)
                    fn(ctx, NAN, m - i - 1);
                break;
            }
            size_t last = (size_t)(((uint64_t)until - (uint64_t)from_us) / (uint64_t)step_us);
            if (last >= m)
                last = m - 1;
            if (last > i)
                count = last - i + 1;
        } else {
            count = m;
        }
        fn(ctx, v, count);
        i += count;
    }
    free(it.pos);
    return 0;
}
