/* The swings and spectrum fold; swings.h says what is measured and why. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <kiss_fftr.h>

#include "analysis/swings.h"

const int64_t wp_swing_window_us[WP_SWING_WINDOWS] = {20000, 100000, 1000000, 60000000};

struct wp_swings {
    int64_t step_us;
    size_t points;
    /* swings: cumulative sums of the gapless run so far, the last ring_len of them */
    size_t wpts[WP_SWING_WINDOWS]; /* window in grid points, 0 when not a whole number */
    size_t maxw;
    double *ring;
    size_t ring_len;
    size_t valid; /* gapless points since the last gap */
    double cum;
    double rise[WP_SWING_WINDOWS], fall[WP_SWING_WINDOWS];
    bool seen[WP_SWING_WINDOWS];
    /* spectrum */
    size_t seg_n, fill, segments;
    double *seg, *win, *psd;
    kiss_fft_scalar *in;
    kiss_fft_cpx *out;
    kiss_fftr_cfg cfg;
};

static size_t pick_segment(size_t expected)
{
    size_t n = WP_SPECTRUM_MAX_SEGMENT;
    while (n > WP_SPECTRUM_MIN_SEGMENT && n > expected && expected > 0)
        n /= 2;
    return n;
}

void wp_swings_free(struct wp_swings *s)
{
    if (!s)
        return;
    free(s->ring);
    free(s->seg);
    free(s->win);
    free(s->psd);
    free(s->in);
    free(s->out);
    if (s->cfg)
        kiss_fftr_free(s->cfg);
    free(s);
}

int wp_swings_new(struct wp_swings **out, int64_t step_us, size_t expected_points,
                  struct wp_err *err)
{
    *out = NULL;
    if (step_us <= 0)
        return wp_errf(err, -EINVAL, "the swing grid step must be positive, not %lld us",
                       (long long)step_us);
    struct wp_swings *s = calloc(1, sizeof(*s));
    if (!s)
        goto nomem;
    s->step_us = step_us;
    for (int i = 0; i < WP_SWING_WINDOWS; i++) {
        int64_t w = wp_swing_window_us[i];
        s->wpts[i] = w >= step_us && w % step_us == 0 ? (size_t)(w / step_us) : 0;
        if (s->wpts[i] > s->maxw)
            s->maxw = s->wpts[i];
        s->rise[i] = s->fall[i] = 0;
    }
    s->ring_len = 2 * s->maxw + 1;
    s->seg_n = pick_segment(expected_points);
    size_t nb = s->seg_n / 2 + 1;
    s->ring = calloc(s->ring_len, sizeof(*s->ring));
    s->seg = calloc(s->seg_n, sizeof(*s->seg));
    s->win = calloc(s->seg_n, sizeof(*s->win));
    s->psd = calloc(nb, sizeof(*s->psd));
    s->in = calloc(s->seg_n, sizeof(*s->in));
    s->out = calloc(nb, sizeof(*s->out));
    s->cfg = kiss_fftr_alloc((int)s->seg_n, 0, NULL, NULL);
    if (!s->ring || !s->seg || !s->win || !s->psd || !s->in || !s->out || !s->cfg)
        goto nomem;
    /* periodic Hann: the segments overlap by half, and the periodic form's shifted copies add
     * up to a constant */
    for (size_t i = 0; i < s->seg_n; i++)
        s->win[i] = 0.5 * (1.0 - cos(2.0 * M_PI * (double)i / (double)s->seg_n));
    *out = s;
    return 0;
nomem:
    wp_swings_free(s);
    return wp_errf(err, -ENOMEM, "out of memory for the swing analysis; free memory");
}

static void segment_done(struct wp_swings *s)
{
    size_t n = s->seg_n;
    double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += s->seg[i];
    mean /= (double)n;
    /* float is KISS FFT's Debian build; with the mean removed, values are watts-scale
     * deviations and float's 24 bits keep them to well under a milliwatt */
    for (size_t i = 0; i < n; i++)
        s->in[i] = (kiss_fft_scalar)((s->seg[i] - mean) * s->win[i]);
    kiss_fftr(s->cfg, s->in, s->out);
    for (size_t k = 0; k <= n / 2; k++)
        s->psd[k] += (double)s->out[k].r * s->out[k].r + (double)s->out[k].i * s->out[k].i;
    s->segments++;
    memmove(s->seg, s->seg + n / 2, n / 2 * sizeof(*s->seg));
    s->fill = n / 2;
}

static void push_valid(struct wp_swings *s, double w)
{
    s->cum += w;
    s->valid++;
    /* one division a point: the ring is longer than twice any window (ring_len), so the
     * entries k and 2k back are pos - k and pos - 2k, wrapped once at most */
    size_t pos = s->valid % s->ring_len, len = s->ring_len;
    s->ring[pos] = s->cum;
    for (int i = 0; i < WP_SWING_WINDOWS; i++) {
        size_t k = s->wpts[i];
        if (k == 0 || s->valid < 2 * k)
            continue;
        double c0 = s->ring[pos >= 2 * k ? pos - 2 * k : pos + len - 2 * k];
        double c1 = s->ring[pos >= k ? pos - k : pos + len - k];
        double d = (s->cum - 2 * c1 + c0) / (double)k;
        s->seen[i] = true;
        if (d > s->rise[i])
            s->rise[i] = d;
        if (-d > s->fall[i])
            s->fall[i] = -d;
    }
    s->seg[s->fill++] = w;
    if (s->fill == s->seg_n)
        segment_done(s);
}

void wp_swings_push(struct wp_swings *s, double mw)
{
    s->points++;
    if (isnan(mw)) {
        s->valid = 0;
        s->cum = 0;
        s->ring[0] = 0;
        s->fill = 0;
        return;
    }
    if (s->valid == 0) {
        s->cum = 0;
        s->ring[0] = 0;
    }
    push_valid(s, mw / 1000.0);
}

/* Equal points are pushed one by one until every window and the spectrum segment hold only
 * this value; after that nothing changes but the count, so the rest is skipped in one step. */
void wp_swings_push_run(struct wp_swings *s, double mw, size_t count)
{
    size_t flush = s->ring_len + s->seg_n;
    size_t one = count < flush ? count : flush;
    for (size_t i = 0; i < one; i++)
        wp_swings_push(s, mw);
    size_t rest = count - one;
    if (rest == 0)
        return;
    s->points += rest;
    if (isnan(mw))
        return;
    double w = mw / 1000.0;
    s->valid += rest;
    /* restart the sums at 0 so they keep their precision; only differences matter */
    s->cum = 0;
    for (size_t j = 0; j < s->ring_len; j++)
        s->ring[(s->valid - j) % s->ring_len] = -(double)j * w;
    size_t half = s->seg_n / 2, k = s->fill + rest;
    if (k >= s->seg_n) {
        size_t nseg = (k - s->seg_n) / half + 1;
        s->segments += nseg; /* a constant segment less its mean has no power */
        k -= nseg * half;
    }
    s->fill = k;
}

void wp_swings_result_empty(struct wp_swings_result *out)
{
    memset(out, 0, sizeof(*out));
    out->resolution_hz = NAN;
    for (int i = 0; i < WP_SWING_WINDOWS; i++)
        out->swings[i] = (struct wp_swing){wp_swing_window_us[i], NAN, NAN, NAN};
}

static int cmp_peak(const void *a, const void *b)
{
    const struct wp_spectrum_peak *x = a, *y = b;
    return (x->amplitude_w < y->amplitude_w) - (x->amplitude_w > y->amplitude_w);
}

static void find_peaks(const struct wp_swings *s, struct wp_swings_result *out)
{
    size_t n = s->seg_n, nb = n / 2 + 1;
    double seg_s = (double)n * (double)s->step_us / 1e6;
    out->resolution_hz = 1.0 / seg_s;
    /* sum of the window's squares: 3N/8 for the periodic Hann */
    double w2 = 0;
    for (size_t i = 0; i < n; i++)
        w2 += s->win[i] * s->win[i];
    struct wp_spectrum_peak cand[WP_SPECTRUM_MAX_PEAKS * 8];
    size_t nc = 0;
    const double *p = s->psd; /* the segments' sum: the average's scale cancels out below */
    for (size_t k = 2; k + 1 < nb; k++) {
        if (!(p[k] > p[k - 1] && p[k] >= p[k + 1] && p[k] > 0))
            continue;
        double lobe = 0;
        for (size_t j = k - 2; j <= k + 2 && j < nb; j++)
            lobe += p[j];
        double amp = 2.0 * sqrt(lobe / (double)s->segments / ((double)n * w2));
        double d = 0;
        if (p[k - 1] > 0 && p[k + 1] > 0) {
            double a = log(p[k - 1]), b = log(p[k]), c = log(p[k + 1]);
            double den = a - 2 * b + c;
            if (den < 0)
                d = 0.5 * (a - c) / den;
        }
        struct wp_spectrum_peak pk = {((double)k + d) / seg_s, amp};
        /* keep the strongest few: replace the weakest candidate when full */
        if (nc < sizeof(cand) / sizeof(cand[0])) {
            cand[nc++] = pk;
        } else {
            size_t lo = 0;
            for (size_t i = 1; i < nc; i++)
                if (cand[i].amplitude_w < cand[lo].amplitude_w)
                    lo = i;
            if (pk.amplitude_w > cand[lo].amplitude_w)
                cand[lo] = pk;
        }
    }
    qsort(cand, nc, sizeof(cand[0]), cmp_peak);
    /* a peak within three bins of a stronger one is its lobe's shoulder, not a line */
    for (size_t i = 0; i < nc && out->npeaks < WP_SPECTRUM_MAX_PEAKS; i++) {
        bool near = false;
        for (size_t j = 0; j < out->npeaks; j++)
            near |= fabs(out->peaks[j].hz - cand[i].hz) < 3 * out->resolution_hz;
        if (!near)
            out->peaks[out->npeaks++] = cand[i];
    }
}

void wp_swings_result(const struct wp_swings *s, struct wp_swings_result *out)
{
    wp_swings_result_empty(out);
    out->step_us = s->step_us;
    out->points = s->points;
    for (int i = 0; i < WP_SWING_WINDOWS; i++) {
        if (!s->seen[i])
            continue;
        struct wp_swing *w = &out->swings[i];
        w->max_rise_w = s->rise[i];
        w->max_fall_w = s->fall[i];
        w->max_rate_w_per_s =
            (s->rise[i] > s->fall[i] ? s->rise[i] : s->fall[i]) / ((double)w->window_us / 1e6);
    }
    if (s->segments == 0)
        return;
    out->segment_points = s->seg_n;
    out->segments = s->segments;
    find_peaks(s, out);
}

static void run_cb(void *ctx, double mw, size_t count)
{
    wp_swings_push_run(ctx, mw, count);
}

int wp_swings_compute(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                      int64_t step_us, struct wp_swings_result *out, struct wp_err *err)
{
    wp_swings_result_empty(out);
    size_t m = wp_grid_len(from_us, to_us, step_us);
    if (k == 0 || m == 0)
        return 0;
    struct wp_swings *sw;
    int rc = wp_swings_new(&sw, step_us, m, err);
    if (rc < 0)
        return rc;
    rc = wp_sum_grid_runs(s, k, from_us, to_us, step_us, run_cb, sw);
    if (rc == 0)
        wp_swings_result(sw, out);
    else if (rc == -ENOMEM)
        wp_errf(err, rc, "out of memory for the swing analysis; free memory");
    else
        wp_errf(err, rc,
                "the power samples are not in time order; the trace is damaged "
                "(re-record it)");
    wp_swings_free(sw);
    return rc;
}
