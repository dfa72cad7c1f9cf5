#include "analysis/stream.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

/* ---- energy over windows ---- */

static int cmp_from(const void *a, const void *b, void *ctx)
{
    const struct wp_energy_win *w = ctx;
    int64_t x = w[*(const size_t *)a].from_us, y = w[*(const size_t *)b].from_us;
    return (x > y) - (x < y);
}

int wp_energy_fold_init(struct wp_energy_fold *f, struct wp_energy_win *win, size_t nwin,
                        int64_t hold_us, int64_t gap_us)
{
    memset(f, 0, sizeof(*f));
    f->win = win;
    f->nwin = nwin;
    f->hold_us = hold_us;
    f->gap_us = gap_us;
    for (size_t i = 0; i < nwin; i++) {
        memset(&win[i].e, 0, sizeof(win[i].e));
        win[i].sum_s = win[i].sum_c = 0;
    }
    if (nwin == 0)
        return 0;
    f->order = malloc(nwin * sizeof(*f->order));
    f->active = malloc(nwin * sizeof(*f->active));
    if (!f->order || !f->active) {
        wp_energy_fold_free(f);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nwin; i++)
        f->order[i] = i;
    qsort_r(f->order, nwin, sizeof(*f->order), cmp_from, win);
    return 0;
}

void wp_energy_fold_add(struct wp_energy_fold *f, int64_t t_us, int64_t mw)
{
    /* The sample covers (a, b]; the first sample is held back by hold_us (energy.h). */
    int64_t a = f->have_prev ? f->prev_t : t_us - (f->hold_us > 0 ? f->hold_us : 0), b = t_us;
    bool gap = f->have_prev && f->gap_us > 0 && b - a > f->gap_us;
    f->prev_t = t_us;
    f->have_prev = true;
    /* wp_energy_window starts at the first sample stamped after from_us */
    while (f->next < f->nwin && f->win[f->order[f->next]].from_us < b)
        f->active[f->nactive++] = f->order[f->next++];
    for (size_t k = 0; k < f->nactive;) {
        struct wp_energy_win *w = &f->win[f->active[k]];
        if (a >= w->to_us) { /* done for good: samples only move forward */
            f->active[k] = f->active[--f->nactive];
            continue;
        }
        k++;
        int64_t lo = a > w->from_us ? a : w->from_us, hi = b < w->to_us ? b : w->to_us;
        if (hi <= lo)
            continue;
        int64_t d = hi - lo;
        w->e.covered_us += d;
        wp_ksum_add(&w->sum_s, &w->sum_c, (double)mw * (double)d);
        if (gap) {
            w->e.gaps++;
            w->e.gap_us += d;
        }
    }
}

/* The batch form: runs of samples whose segments lie inside every open window and open none
 * go window by window (the same terms in the same order for each window's sum, so the same
 * doubles); any other sample takes the one-by-one path. */
void wp_energy_fold_add_n(struct wp_energy_fold *f, const int64_t *t_us, const int64_t *mw,
                          size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (!f->have_prev || f->nactive == 0) {
            wp_energy_fold_add(f, t_us[i], mw[i]);
            i++;
            continue;
        }
        int64_t lo = INT64_MIN, hi = INT64_MAX;
        for (size_t k = 0; k < f->nactive; k++) {
            const struct wp_energy_win *w = &f->win[f->active[k]];
            lo = w->from_us > lo ? w->from_us : lo;
            hi = w->to_us < hi ? w->to_us : hi;
        }
        /* a window opens once a sample is stamped after its start */
        if (f->next < f->nwin && f->win[f->order[f->next]].from_us < hi)
            hi = f->win[f->order[f->next]].from_us;
        /* the run, and what every window adds but the sum: the same for all of them */
        size_t j = i, gaps = 0;
        int64_t a = f->prev_t, gap_us = 0;
        while (j < n && a >= lo && t_us[j] <= hi && t_us[j] >= a) {
            int64_t d = t_us[j] - a;
            if (f->gap_us > 0 && d > f->gap_us) {
                gaps++;
                gap_us += d;
            }
            a = t_us[j++];
        }
        if (j == i) {
            wp_energy_fold_add(f, t_us[i], mw[i]);
            i++;
            continue;
        }
        int64_t prev, covered = a - f->prev_t; /* the run's times ascend: its steps add up */
        for (size_t k = 0; k < f->nactive; k++) {
            struct wp_energy_win *w = &f->win[f->active[k]];
            w->e.covered_us += covered;
            w->e.gaps += gaps;
            w->e.gap_us += gap_us;
        }
        /* two windows at a time (the run's and the counter's, most of the time): their sums
         * are independent, so the two chains of additions overlap */
        size_t k = 0;
        for (; k + 1 < f->nactive; k += 2) {
            struct wp_energy_win *w0 = &f->win[f->active[k]], *w1 = &f->win[f->active[k + 1]];
            double s0 = w0->sum_s, c0 = w0->sum_c, s1 = w1->sum_s, c1 = w1->sum_c;
            prev = f->prev_t;
            for (size_t m = i; m < j; m++) {
                int64_t d = t_us[m] - prev;
                prev = t_us[m];
                if (d > 0) {
                    double x = (double)mw[m] * (double)d;
                    wp_ksum_add(&s0, &c0, x);
                    wp_ksum_add(&s1, &c1, x);
                }
            }
            w0->sum_s = s0;
            w0->sum_c = c0;
            w1->sum_s = s1;
            w1->sum_c = c1;
        }
        for (; k < f->nactive; k++) {
            struct wp_energy_win *w = &f->win[f->active[k]];
            double sum_s = w->sum_s, sum_c = w->sum_c;
            prev = f->prev_t;
            for (size_t m = i; m < j; m++) {
                int64_t d = t_us[m] - prev;
                prev = t_us[m];
                if (d > 0)
                    wp_ksum_add(&sum_s, &sum_c, (double)mw[m] * (double)d);
            }
            w->sum_s = sum_s;
            w->sum_c = sum_c;
        }
        f->prev_t = t_us[j - 1];
        i = j;
    }
}

void wp_energy_fold_end(struct wp_energy_fold *f)
{
    for (size_t i = 0; i < f->nwin; i++)
        f->win[i].e.energy_mj = (f->win[i].sum_s + f->win[i].sum_c) / 1e6;
}

void wp_energy_fold_free(struct wp_energy_fold *f)
{
    free(f->order);
    free(f->active);
    f->order = f->active = NULL;
}

/* ---- highest rolling mean ----
 * The search of wp_rolling_mean_max (energy.c says why it is exact), run as the samples come:
 * a candidate start s is settled once a sample later than s + window has arrived, so the fold
 * keeps only the samples from about one window back. */

static int64_t rt(const struct wp_rolling_fold *f, size_t i)
{
    return f->t[i - f->base];
}

static int64_t rv(const struct wp_rolling_fold *f, size_t i)
{
    return f->v[i - f->base];
}

static int64_t rseg_start(const struct wp_rolling_fold *f, size_t i)
{
    return i == 0 ? f->first_t - (f->hold_us > 0 ? f->hold_us : 0) : rt(f, i - 1);
}

/* energy.c's cursor_at over the samples seen so far (n of them in all), for the hi cursor: it
 * leaves its sum at each sample it reaches in ps/pc. */
static double rcursor_hi(struct wp_rolling_fold *f, size_t n, int64_t x)
{
    size_t ci = f->hi_i, base = f->base;
    const int64_t *t = f->t, *v = f->v;
    double *ps = f->ps, *pc = f->pc;
    double cs = f->hi_s, cc = f->hi_c;
    int64_t a = rseg_start(f, ci);
    while (ci + 1 < n && t[ci - base] < x) {
        int64_t tc = t[ci - base];
        wp_ksum_add(&cs, &cc, (double)v[ci - base] * (double)(tc - a));
        a = tc;
        ci++;
        ps[ci - base] = cs;
        pc[ci - base] = cc;
    }
    f->hi_i = ci;
    f->hi_s = cs;
    f->hi_c = cc;
    return cs + cc + (double)v[ci - base] * (double)(x - a);
}

/* The same for the lo cursor, which stops at or before where the hi cursor stands (its x is a
 * window earlier): the sums the hi cursor left are the very doubles it would compute. */
static double rcursor_lo(struct wp_rolling_fold *f, size_t n, int64_t x)
{
    size_t ci = f->lo_i;
    while (ci + 1 < n && rt(f, ci) < x)
        ci++;
    f->lo_i = ci;
    f->lo_s = f->ps[ci - f->base];
    f->lo_c = f->pc[ci - f->base];
    int64_t a = rseg_start(f, ci);
    return f->lo_s + f->lo_c + (double)rv(f, ci) * (double)(x - a);
}

void wp_rolling_fold_init(struct wp_rolling_fold *f, int64_t from_us, int64_t to_us,
                          int64_t hold_us, int64_t window_us)
{
    memset(f, 0, sizeof(*f));
    f->from_us = from_us;
    f->to_us = to_us;
    f->hold_us = hold_us;
    f->window_us = window_us;
    f->best = -INFINITY;
    f->cold_thr = -INFINITY;
}

/* The first index from k on (k < n) whose time is after x, n when none. */
static size_t first_after(const struct wp_rolling_fold *f, size_t k, size_t n, int64_t x)
{
    size_t hi = n;
    while (k < hi) {
        size_t mid = k + (hi - k) / 2;
        if (rt(f, mid) > x)
            hi = mid;
        else
            k = mid + 1;
    }
    return k;
}

/* The next candidate start after f->s, capped at s_hi (energy.c's merge of both lists). */
static void rolling_next(struct wp_rolling_fold *f, size_t n, int64_t cov_lo, int64_t s_hi)
{
    int64_t W = f->window_us, next = s_hi;
    while (f->p <= n) {
        int64_t x = f->p == 0 ? cov_lo : rt(f, f->p - 1);
        if (x > f->s) {
            if (x < next)
                next = x;
            break;
        }
        f->p++;
    }
    while (f->q <= n) {
        int64_t x = (f->q == 0 ? cov_lo : rt(f, f->q - 1)) - W;
        if (x > f->s) {
            if (x < next)
                next = x;
            break;
        }
        f->q++;
    }
    f->s = next;
}

/* Moves the search past every candidate start up to bound (bound >= f->s): none of them can
 * beat the best so far. */
static void rolling_skip_to(struct wp_rolling_fold *f, size_t n, int64_t cov_lo, int64_t s_hi,
                            int64_t bound)
{
    int64_t W = f->window_us;
    if (bound >= s_hi) {
        f->stop = true;
        return;
    }
    /* the hi cursor sums every sample in order (later sums depend on it), and the buffer can
     * only drop what it has passed */
    rcursor_hi(f, n, bound + W);
    f->s = bound;
    /* both candidate lists move past the skipped starts in one search each */
    if (f->p > 0 || cov_lo <= bound)
        f->p = first_after(f, f->p > 0 ? f->p - 1 : 0, n, bound) + 1;
    if (f->q > 0 || cov_lo - W <= bound)
        f->q = first_after(f, f->q > 0 ? f->q - 1 : 0, n, bound + W) + 1;
    rolling_next(f, n, cov_lo, s_hi);
}

/* Skips the candidates that cannot beat the best so far: a window that lies in segments whose
 * values are all at most best / W integrates to at most best, so what the cursors compute for
 * it, off only by their rounding, is no higher once that rounding is allowed for. In a day of
 * training most windows hold no sample that high, and there the search costs the hi cursor's
 * sum and one comparison per sample. True when f->s moved (or the search is over). */
static bool rolling_prune(struct wp_rolling_fold *f, size_t n, int64_t last, int64_t cov_lo,
                          int64_t s_hi, bool final, double margin)
{
    if (!(f->best > -INFINITY))
        return false;
    int64_t W = f->window_us;
    /* the segment (t[j - 1], t[j]] that holds s, where the lo cursor will stop: near where it
     * stood unless the search skipped */
    size_t j = f->lo_i;
    for (int k = 0; k < 8 && j + 1 < n && rt(f, j) < f->s; k++)
        j++;
    if (j + 1 < n && rt(f, j) < f->s)
        j = first_after(f, j, n, f->s - 1);
    j = j < n ? j : n - 1;
    f->lo_i = j;
    double thr = f->best - margin;
    /* samples found cold stay cold while the threshold does not fall */
    if (j < f->cold_from || j > f->scan_i || thr < f->cold_thr)
        f->cold_from = f->scan_i = j;
    f->cold_thr = thr;
    while (f->scan_i < n && (double)rv(f, f->scan_i) * (double)W <= thr)
        f->scan_i++;
    if (f->scan_i == j)
        return false;
    /* Every window from s to the one ending at t[scan_i - 1] lies in the cold segments. Before
     * the end, the skip stops short of the last sample, as a settled start does (rolling_run):
     * the next candidates must exist. */
    int64_t end = rt(f, f->scan_i - 1);
    if (!final && end >= last)
        end = last - 1;
    int64_t bound = end - W;
    if (bound < f->s)
        return false;
    rolling_skip_to(f, n, cov_lo, s_hi, bound);
    return true;
}

/* After a window below the best: the next windows can gain on it only as fast as the samples
 * entering at their end outweigh those leaving at their start, (s' - s) x (the highest entering
 * value - the lowest leaving one), so the starts before that gain could close the distance
 * (less the same margin) are skipped too. fs: the window just computed at f->s. */
static void rolling_slack(struct wp_rolling_fold *f, size_t n, int64_t last, int64_t cov_lo,
                          int64_t s_hi, bool final, double margin, double fs)
{
    double slack = f->best - margin - fs;
    if (!(slack > 0))
        return;
    int64_t W = f->window_us, s = f->s;
    /* the segments holding s + W and s, where the cursors stopped */
    size_t e = f->hi_i, l = f->lo_i;
    int64_t emax = rv(f, e), lmin = rv(f, l), J = 0;
    /* before the end, as in rolling_prune: the next candidates must exist */
    int64_t cap = (final ? last : last - 1) - (s + W);
    cap = s_hi - s < cap ? s_hi - s : cap;
    while (J < cap) {
        /* up to the next segment boundary at either end the rate stays d */
        int64_t je = rt(f, e) - (s + W), jl = rt(f, l) - s, jn = je < jl ? je : jl;
        jn = jn < cap ? jn : cap;
        double d = (double)emax - (double)lmin;
        if (d > 0 && (double)jn * d > slack) {
            int64_t jd = (int64_t)(slack / d) - 1;
            J = jd > J ? jd : J;
            break;
        }
        J = jn > J ? jn : J;
        if (je == jn) {
            if (e + 1 >= n)
                break;
            e++;
            emax = rv(f, e) > emax ? rv(f, e) : emax;
        }
        if (jl == jn) {
            if (l + 1 >= n)
                break;
            l++;
            lmin = rv(f, l) < lmin ? rv(f, l) : lmin;
        }
    }
    if (J <= 0)
        return;
    rolling_skip_to(f, n, cov_lo, s_hi, s + J);
}

/* Runs the search as far as the samples allow; final: every sample is in. */
static void rolling_run(struct wp_rolling_fold *f, bool final)
{
    size_t n = f->base + f->n;
    if (f->stop || n == 0)
        return;
    int64_t W = f->window_us, last = rt(f, n - 1);
    if (!f->started) {
        int64_t cov_lo = rseg_start(f, 0);
        f->d_lo = f->from_us > cov_lo ? f->from_us : cov_lo;
        f->s = f->d_lo;
        f->started = true;
        /* too short whatever comes: the window itself ends first */
        if (f->to_us < f->d_lo || f->to_us - f->d_lo < W) {
            f->stop = true;
            return;
        }
    }
    int64_t d_hi = final ? (f->to_us < last ? f->to_us : last) : f->to_us;
    if (final && (d_hi < f->d_lo || d_hi - f->d_lo < W)) {
        f->stop = true;
        f->failed = true; /* covered span shorter than the window: NAN */
        return;
    }
    int64_t s_hi = d_hi - W;
    int64_t cov_lo = rseg_start(f, 0);
    /* A computed window is a few roundings of sums no larger than absmax times the span summed
     * (the compensated sum keeps its own error to about one rounding): 2^-40 of that, rounded
     * up to a power of two so that it seldom changes, is thousands of times the error and still
     * a small fraction of a milliwatt over a second. */
    double mag = (double)f->absmax * ((double)last - (double)cov_lo + (double)W);
    double margin = mag > 0 ? ldexp(1.0, ilogb(mag) - 39) : 0;
    for (;;) {
        /* Before the end, a start is settled only when a sample past s + W is in: the cursors
         * then stop where they would with every sample, and the next candidates exist. */
        if (!final && !(last > f->s + W))
            return;
        if (rolling_prune(f, n, last, cov_lo, s_hi, final, margin)) {
            if (f->stop)
                return;
            continue;
        }
        double hi = rcursor_hi(f, n, f->s + W);
        double lo = rcursor_lo(f, n, f->s);
        if (hi - lo > f->best)
            f->best = hi - lo;
        if (f->s >= s_hi) {
            f->stop = true;
            return;
        }
        int64_t was = f->s;
        rolling_slack(f, n, last, cov_lo, s_hi, final, margin, hi - lo);
        if (f->stop)
            return;
        if (f->s == was)
            rolling_next(f, n, cov_lo, s_hi);
    }
}

static int rolling_append(struct wp_rolling_fold *f, const int64_t *t_us, const int64_t *mw,
                          size_t m)
{
    /* Drop what no cursor can reach again (seg_start looks one sample back). */
    size_t need = f->lo_i < f->hi_i ? f->lo_i : f->hi_i;
    if (f->p < need)
        need = f->p;
    if (f->q < need)
        need = f->q;
    need = need > 1 ? need - 2 : 0;
    if (need > f->base && need - f->base >= f->cap / 2) {
        size_t drop = need - f->base;
        memmove(f->t, f->t + drop, (f->n - drop) * sizeof(*f->t));
        memmove(f->v, f->v + drop, (f->n - drop) * sizeof(*f->v));
        memmove(f->ps, f->ps + drop, (f->n - drop) * sizeof(*f->ps));
        memmove(f->pc, f->pc + drop, (f->n - drop) * sizeof(*f->pc));
        f->n -= drop;
        f->base += drop;
    }
    if (f->n + m > f->cap) {
        size_t tcap = f->cap, vcap = f->cap, scap = f->cap, ccap = f->cap;
        if (WP_GROW(&f->t, &tcap, f->n + m) < 0 || WP_GROW(&f->v, &vcap, f->n + m) < 0 ||
            WP_GROW(&f->ps, &scap, f->n + m) < 0 || WP_GROW(&f->pc, &ccap, f->n + m) < 0)
            return -ENOMEM;
        size_t c = tcap < vcap ? tcap : vcap;
        c = c < scap ? c : scap;
        f->cap = c < ccap ? c : ccap;
    }
    if (f->base + f->n == 0 && m > 0) {
        f->first_t = t_us[0];    /* the coverage start, kept when sample 0 is dropped */
        f->ps[0] = f->pc[0] = 0; /* both cursors start at sample 0 with nothing summed */
    }
    int64_t absmax = f->absmax;
    for (size_t i = 0; i < m; i++) {
        int64_t a = mw[i] >= 0 ? mw[i] : mw[i] == INT64_MIN ? INT64_MAX : -mw[i];
        absmax = a > absmax ? a : absmax;
    }
    f->absmax = absmax;
    memcpy(f->t + f->n, t_us, m * sizeof(*t_us));
    memcpy(f->v + f->n, mw, m * sizeof(*mw));
    f->n += m;
    return 0;
}

int wp_rolling_fold_add(struct wp_rolling_fold *f, int64_t t_us, int64_t mw)
{
    if (f->stop && f->started)
        return 0;
    if (rolling_append(f, &t_us, &mw, 1) < 0)
        return -ENOMEM;
    rolling_run(f, false);
    return 0;
}

/* The search settles a start only once a sample a window past it is in, so running it once
 * after n samples visits the same starts with the same cursors as running it after each. */
int wp_rolling_fold_add_n(struct wp_rolling_fold *f, const int64_t *t_us, const int64_t *mw,
                          size_t n)
{
    if (f->stop && f->started)
        return 0;
    if (rolling_append(f, t_us, mw, n) < 0)
        return -ENOMEM;
    rolling_run(f, false);
    return 0;
}

double wp_rolling_fold_end(struct wp_rolling_fold *f)
{
    if (f->base + f->n == 0)
        return NAN;
    rolling_run(f, true);
    if (f->failed || !isfinite(f->best))
        return NAN;
    return f->best / (double)f->window_us;
}

void wp_rolling_fold_free(struct wp_rolling_fold *f)
{
    free(f->t);
    free(f->v);
    free(f->ps);
    free(f->pc);
    f->t = f->v = NULL;
    f->ps = f->pc = NULL;
}

/* ---- exact percentiles ----
 * Open addressing over {key, count} slots (one cache line holds four), Fibonacci hashing;
 * small non-negative values (intervals in us, readings of a few hundred watts in mW) are
 * counted in a flat array first, which is where nearly every sample lands. */

static size_t hslot(int64_t v, unsigned bits)
{
    return (size_t)(((uint64_t)v * 0x9E3779B97F4A7C15u) >> (64 - bits));
}

static int hist_grow(struct wp_hist *h)
{
    unsigned bits = h->bits ? h->bits + 1 : 10;
    size_t cap = (size_t)1 << bits;
    struct wp_hist_slot *slot = calloc(cap, sizeof(*slot));
    if (!slot)
        return -ENOMEM;
    for (size_t i = 0; i < h->cap; i++) {
        if (!h->slot[i].count)
            continue;
        size_t j = hslot(h->slot[i].key, bits);
        while (slot[j].count)
            j = (j + 1) & (cap - 1);
        slot[j] = h->slot[i];
    }
    free(h->slot);
    h->slot = slot;
    h->cap = cap;
    h->bits = bits;
    return 0;
}

static int hash_add(struct wp_hist *h, int64_t v, uint64_t count)
{
    if (2 * (h->used + 1) > h->cap && hist_grow(h) < 0)
        return -ENOMEM;
    size_t j = hslot(v, h->bits);
    while (h->slot[j].count && h->slot[j].key != v)
        j = (j + 1) & (h->cap - 1);
    if (!h->slot[j].count) {
        h->slot[j].key = v;
        h->used++;
    }
    h->slot[j].count += count;
    return 0;
}

int wp_hist_add(struct wp_hist *h, int64_t v)
{
    if (v >= 0 && v < WP_HIST_FLAT) {
        if (!h->flat && !(h->flat = calloc(WP_HIST_FLAT, sizeof(*h->flat))))
            return -ENOMEM;
        /* a 32-bit count that is about to overflow moves to the table */
        if (h->flat[v] == UINT32_MAX) {
            if (hash_add(h, v, h->flat[v]) < 0)
                return -ENOMEM;
            h->flat[v] = 0;
        }
        if (h->flat[v]++ == 0)
            h->nflat++;
        h->total++;
        return 0;
    }
    if (hash_add(h, v, 1) < 0)
        return -ENOMEM;
    h->total++;
    return 0;
}

/* The batch form: the table slots of the values a few places ahead are fetched while this one
 * is counted, so the cache misses of a big table overlap instead of coming one after another. */
int wp_hist_add_n(struct wp_hist *h, const int64_t *v, size_t n)
{
    enum { AHEAD = 16 };
    /* the flat array's common case counted here, its totals kept in registers */
    uint64_t total = 0;
    size_t nflat = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n && h->slot) {
            int64_t y = v[i + AHEAD];
            if (!(y >= 0 && y < WP_HIST_FLAT))
                __builtin_prefetch(&h->slot[hslot(y, h->bits)], 1);
        }
        int64_t x = v[i];
        uint32_t *flat = h->flat;
        if (x >= 0 && x < WP_HIST_FLAT) {
            if (flat && flat[x] != UINT32_MAX) {
                nflat += flat[x]++ == 0;
                total++;
                continue;
            }
        } else if (h->slot) {
            /* a value the table holds already: hash_add's probe without its growth check */
            size_t j = hslot(x, h->bits), mask = h->cap - 1;
            while (h->slot[j].count && h->slot[j].key != x)
                j = (j + 1) & mask;
            if (h->slot[j].count) {
                h->slot[j].count++;
                total++;
                continue;
            }
        }
        h->total += total;
        h->nflat += nflat;
        total = nflat = 0;
        if (wp_hist_add(h, x) < 0)
            return -ENOMEM;
    }
    h->total += total;
    h->nflat += nflat;
    return 0;
}

struct hpair {
    int64_t key;
    uint64_t count;
};

static int cmp_hpair(const void *a, const void *b)
{
    int64_t x = ((const struct hpair *)a)->key, y = ((const struct hpair *)b)->key;
    return (x > y) - (x < y);
}

double wp_hist_percentile(const struct wp_hist *h, double p, int *rc)
{
    *rc = 0;
    if (h->total == 0 || !(p >= 0.0 && p <= 100.0))
        return NAN;
    struct hpair *v = malloc((h->used + h->nflat + 1) * sizeof(*v));
    if (!v) {
        *rc = -ENOMEM;
        return NAN;
    }
    size_t k = 0;
    for (size_t i = 0; i < h->cap; i++)
        if (h->slot[i].count)
            v[k++] = (struct hpair){h->slot[i].key, h->slot[i].count};
    for (size_t i = 0; h->flat && i < WP_HIST_FLAT; i++)
        if (h->flat[i])
            v[k++] = (struct hpair){(int64_t)i, h->flat[i]};
    qsort(v, k, sizeof(*v), cmp_hpair);
    /* a value can be in both (flat counts that overflowed): merge neighbours */
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (m && v[m - 1].key == v[i].key)
            v[m - 1].count += v[i].count;
        else
            v[m++] = v[i];
    }
    k = m;
    /* the value at rank r of the sorted samples, for r = lo and lo + 1 (wp_percentile_sorted) */
    uint64_t n = h->total;
    double rank = p / 100.0 * (double)(n - 1);
    uint64_t lo = (uint64_t)rank;
    double out;
    size_t i = 0;
    uint64_t below = 0; /* samples before v[i] */
    while (below + v[i].count <= lo)
        below += v[i++].count;
    if (lo >= n - 1) {
        out = (double)v[k - 1].key;
    } else {
        int64_t a = v[i].key, b = lo + 1 < below + v[i].count ? a : v[i + 1].key;
        double frac = rank - (double)lo;
        out = (double)a + ((double)b - (double)a) * frac;
    }
    free(v);
    return out;
}

void wp_hist_free(struct wp_hist *h)
{
    free(h->slot);
    free(h->flat);
    memset(h, 0, sizeof(*h));
}

/* ---- a counter's delta ---- */

void wp_counter_fold_init(struct wp_counter_fold *f, int64_t from_us, int64_t to_us,
                          int64_t slack_us, int64_t wrap_at)
{
    memset(f, 0, sizeof(*f));
    f->from_us = from_us;
    f->to_us = to_us;
    f->slack_us = slack_us;
    f->wrap_at = wrap_at;
}

/* One step of wp_counter_delta: the reading's range, then the increase from prev. */
static int delta_step(int64_t wrap_at, int64_t prev, int64_t raw, bool first, int64_t *total)
{
    if (wrap_at < 0)
        return -EINVAL;
    if (wrap_at > 0 && (raw < 0 || raw > wrap_at))
        return -EINVAL;
    if (first)
        return 0;
    int64_t d;
    if (__builtin_sub_overflow(raw, prev, &d))
        return -EOVERFLOW;
    if (d < 0) {
        if (wrap_at == 0)
            return -ERANGE;
        d += wrap_at;
    }
    if (__builtin_add_overflow(*total, d, total))
        return -EOVERFLOW;
    return 0;
}

void wp_counter_fold_add(struct wp_counter_fold *f, int64_t t_us, int64_t raw)
{
    f->n_seen++;
    if (t_us < f->from_us) {
        f->prev_t = t_us;
        f->prev_raw = raw;
        f->have_prev = true;
        f->last_le_t = t_us;
        f->have_last_le = true;
    } else if (t_us <= f->to_us) {
        if (f->n_in == 0) {
            f->first_in_t = t_us;
            f->acc_first_raw = raw;
            f->acc_first_t = t_us;
        }
        if (f->acc_rc == 0)
            f->acc_rc = delta_step(f->wrap_at, f->acc_last_raw, raw, f->n_in == 0, &f->acc_total);
        f->acc_last_raw = raw;
        f->acc_last_t = t_us;
        f->n_in++;
        f->last_le_t = t_us;
        f->have_last_le = true;
    } else if (!f->after_done) {
        f->after_done = true;
        f->after_t = t_us;
        f->after_raw = raw;
    }
}

size_t wp_counter_fold_end(const struct wp_counter_fold *f, int *rc, int64_t *delta, int64_t *t0,
                           int64_t *t1)
{
    *rc = -ENODATA;
    *delta = 0;
    *t0 = *t1 = 0;
    /* wp_counter_bracket: the reading before from_us counts when the first one at or after it
     * is later than from_us (or there is none) and it lies within slack; the first reading after
     * to_us counts when the last one up to to_us is earlier than to_us and it lies within
     * slack. */
    bool have_ge = f->n_in > 0 || f->after_done;
    int64_t first_ge_t = f->n_in > 0 ? f->first_in_t : f->after_t;
    bool front = f->have_prev && (!have_ge || first_ge_t > f->from_us) &&
                 f->from_us - f->prev_t <= f->slack_us;
    bool back = f->after_done && (!f->have_last_le || f->last_le_t < f->to_us) &&
                f->after_t - f->to_us <= f->slack_us;
    size_t n = (front ? 1 : 0) + f->n_in + (back ? 1 : 0);
    if (n < 2)
        return n;
    /* The readings in order: [before] in-window... [after]. */
    int r = f->wrap_at < 0 ? -EINVAL : 0;
    int64_t total = 0;
    bool first = true;
    int64_t last = 0;
    if (front && r == 0) {
        r = delta_step(f->wrap_at, 0, f->prev_raw, true, &total);
        last = f->prev_raw;
        first = false;
        *t0 = f->prev_t;
    }
    if (f->n_in > 0 && r == 0) {
        if (first)
            *t0 = f->acc_first_t;
        r = delta_step(f->wrap_at, last, f->acc_first_raw, first, &total);
        if (r == 0 && f->acc_rc)
            r = f->acc_rc;
        if (r == 0 && __builtin_add_overflow(total, f->acc_total, &total))
            r = -EOVERFLOW;
        last = f->acc_last_raw;
        first = false;
        *t1 = f->acc_last_t;
    }
    if (back && r == 0) {
        r = delta_step(f->wrap_at, last, f->after_raw, first, &total);
        *t1 = f->after_t;
    }
    *rc = r;
    *delta = r == 0 ? total : 0;
    return n;
}
