#include "analysis/series_stream.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stream.h"
#include "core/grow.h"

static int next_block(struct wp_stream *st, struct wp_err *err)
{
    size_t n;
    int rc = wp_trace_cursor_next(st->cur, &st->t, &st->v, &n, err);
    if (rc < 0)
        return rc;
    st->n = n;
    st->i = 0;
    if (n == 0) {
        st->end = true;
        return 0;
    }
    double k = wp_sensor_scale(st->row);
    if (!st->canonical || k == 1.0)
        return 0;
    if (WP_GROW(&st->scaled, &st->scaled_cap, n) < 0)
        return wp_errf(err, -ENOMEM,
                       "out of memory while summarising the trace; free memory or summarise on a "
                       "larger machine");
    for (size_t i = 0; i < n; i++) {
        double v = (double)st->v[i] * k;
        if (!(fabs(v) < 9.0e18))
            return wp_errf(err, -ERANGE,
                           "%s/%s holds %" PRId64 " %s, which is out of range once scaled; the "
                           "trace is damaged or its scale is wrong (re-record it)",
                           st->row->source, st->row->name, st->v[i], wp_sensor_unit(st->row));
        st->scaled[i] = llround(v);
    }
    st->v = st->scaled;
    return 0;
}

int wp_stream_open(const struct wp_trace *t, const struct wp_sensor *row, bool canonical,
                   struct wp_stream *st, struct wp_err *err)
{
    return wp_stream_open_window(t, row, canonical, INT64_MIN, INT64_MAX, st, err);
}

int wp_stream_open_window(const struct wp_trace *t, const struct wp_sensor *row, bool canonical,
                          int64_t from_us, int64_t to_us, struct wp_stream *st, struct wp_err *err)
{
    memset(st, 0, sizeof(*st));
    st->row = row;
    st->canonical = canonical;
    int rc = wp_trace_cursor_open_window(t, row->id, from_us, to_us, &st->cur, err);
    if (rc == 0)
        rc = next_block(st, err);
    if (rc == 0 && !st->end)
        st->t0 = st->t[0];
    return rc;
}

int wp_stream_step(struct wp_stream *st, struct wp_err *err)
{
    st->pos++;
    if (++st->i == st->n)
        return next_block(st, err);
    return 0;
}

void wp_stream_damage(const struct wp_stream *st, const struct wp_trace_damage **v, size_t *n)
{
    wp_trace_cursor_damage(st->cur, v, n);
}

void wp_stream_close(struct wp_stream *st)
{
    wp_trace_cursor_close(st->cur);
    free(st->scaled);
    st->cur = NULL;
    st->scaled = NULL;
}

/* A whole series once, before the pass, for what the pass needs first: the median interval
 * of a sensor without a nominal cadence, the last sample of a run without an end. */
int wp_series_scan(const struct wp_trace *t, int sensor, double *median_ms, int64_t *lo,
                   int64_t *hi, struct wp_err *err)
{
    struct wp_trace_cursor *cur;
    int rc = wp_trace_cursor_open(t, sensor, &cur, err);
    if (rc < 0)
        return rc;
    struct wp_hist iv = {0};
    int64_t prev = 0;
    bool any = false;
    const int64_t *ct, *cv;
    size_t n;
    while ((rc = wp_trace_cursor_next(cur, &ct, &cv, &n, err)) == 0 && n > 0) {
        for (size_t i = 0; i < n && median_ms; i++) {
            if ((any || i) && wp_hist_add(&iv, ct[i] - (i ? ct[i - 1] : prev)) < 0) {
                rc = -ENOMEM;
                goto out;
            }
        }
        if (ct[0] < *lo)
            *lo = ct[0];
        if (ct[n - 1] > *hi)
            *hi = ct[n - 1];
        prev = ct[n - 1];
        any = true;
    }
    if (rc == 0 && median_ms) {
        int prc;
        *median_ms = wp_hist_percentile(&iv, 50.0, &prc) / 1000.0;
        if (prc < 0)
            rc = -ENOMEM;
    }
    if (rc == -ENOMEM)
        rc = wp_errf(err, -ENOMEM, "out of memory reading sensor %d; free memory", sensor);
out:
    wp_hist_free(&iv);
    wp_trace_cursor_close(cur);
    return rc;
}
