/* The summary: run window from the trace metadata, per-GPU numbers from each GPU's finest
 * power series and its energy counter, and the GPUs together.
 *
 * JSON written by wp_summary_write_json (missing values are null, never 0):
 *   {"command", "duration_s", "start_us", "end_us", "exit_code", "replay", "host",
 *    "gpus": [{"index", "uuid", "name", "power_sensor", "limit_w", "energy_j", "covered_s",
 *              "counter_energy_j", "counter_diff_pct", "counter_fault", "mean_w", "peak_w",
 *              "peak_1s_w", "p99_w", "peak_pct_limit", "samples", "median_interval_ms",
 *              "gaps"}],
 *    "total": {"energy_j", "counter_energy_j", "counter_diff_pct", "mean_w", "peak_w",
 *              "partial"},
 *    "unmeasured": [{"source", "device", "reason"}],  (devices lost before the start; the
 *                                                     totals leave them out: partial is true)
 *    "node": null (no node meter and no parts) or
 *            {"source", "estimated", "basis", "allowance_w", "allowance_default", "energy_j",
 *             "mean_w", "peak_1s_w", "peak_60s_w", "gpu_sum_peak_20ms_w", "rated_w",
 *             "peak_pct_of_rated",
 *             "parts": [{"scope", "energy_j", "mean_w", "devices", "source"}], "rest_w",
 *             "compared": null or {"input_source", "outlets_source", "input_w", "outlets_w",
 *                                  "diff_w", "diff_pct", "overlap_s"}},  (a node input meter and
 *             PDU outlets both present: their means over the time both read, outlets - input)
 *    "swings": [{"window_ms", "max_rise_w", "max_fall_w", "max_rate_w_per_s"}],
 *    "spectrum": null or {"segment_s", "segments", "resolution_hz",
 *                         "peaks": [{"hz", "amplitude_w"}]},  (src/analysis/swings.h)
 *    "phases": [{"name", "t0_us", "t1_us", "depth", "open_ended", "duration_s", "energy_j",
 *                "mean_w", "peak_w", "counts": {KEY: number}, "j_per_sample", "j_per_token",
 *                "j_per_tflop"}],  (the last three from the counts samples, tokens, flops)
 *    "marks": [{"name", "t_us", "t_s", "counts": {KEY: number}}],  (point marks; t_s since
 *              the start)
 *    "damaged": [{"sensor_id", "source", "device", "name", "t0_us", "t1_us", "samples",
 *                 "why"}]}  (chunks left out of every number above)
 * "phases" come from the job's begin/end marks (phases.c); "node" from node.c. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/energy.h"
#include "analysis/node.h"
#include "analysis/phases.h"
#include "analysis/summary.h"
#include "core/grow.h"
#include "core/json.h"
#include "report/swings_out.h"

/* Finest first: the 20 ms driver buffer, then the 100 ms instant field, then the 1 s average
 * (which on Hopper lags a load step by about a second and flattens short peaks). */
static const char *const power_pref[] = {"power", "power_instant", "power_avg"};

#define ROLLING_WINDOW_US 1000000

/* How far outside the run window a counter reading may lie and still stand for the run's
 * start or end. The recorder reads the counters just before it stamps start_us (179 us
 * before in a replayed run) and around end_us, and one read costs ~4 ms per GPU on H200
 * (bench/h200/README.md, counter probe), so eight GPUs read in turn straddle the stamp by tens
 * of ms. */
#define COUNTER_SLACK_US 100000

/* Per-GPU working state that the totals need after the per-GPU pass. */
struct gpu_work {
    const char *source; /* the instance the GPU was found in ("nvml") */
    const struct wp_sensor *power;
    struct wp_series series; /* in mW: scaled on load (stored values are raw) */
    int64_t cadence_us;
    double counter_trace_j; /* trace energy over the counter's read window */
};

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Strict decimal int64: the whole string, no blanks. */
static int parse_i64(const char *s, int64_t *v)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || end == s || (*s != '-' && (*s < '0' || *s > '9')))
        return -EINVAL;
    *v = x;
    return 0;
}

static int meta_i64(const struct wp_meta *m, const char *key, bool *present, int64_t *v,
                    struct wp_err *err)
{
    const char *s = wp_meta_get(m, key);
    *present = s && *s;
    if (!*present)
        return 0;
    if (parse_i64(s, v))
        return wp_errf(err, -EINVAL,
                       "the trace's run metadata %s is \"%.64s\", not a whole number; the trace is "
                       "damaged or was written by another tool (re-record it, or fix the meta "
                       "table with sqlite3)",
                       key, s);
    return 0;
}

/* A GPU: one device of one source instance whose sensors have the GPU scope. */
struct gpu_id {
    const char *source;
    int device;
};

static int cmp_gpu_id(const void *a, const void *b)
{
    const struct gpu_id *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    return c ? c : (x->device > y->device) - (x->device < y->device);
}

/* Sorted, distinct GPUs (by scope, whatever source reads them). *out is malloc'd (NULL when
 * none). */
static int gpu_ids(const struct wp_sensors *tab, struct gpu_id **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (tab->n == 0)
        return 0;
    struct gpu_id *v = malloc(tab->n * sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < tab->n; i++)
        if (tab->v[i].scope == WP_SCOPE_GPU && tab->v[i].device >= 0)
            v[k++] = (struct gpu_id){tab->v[i].source, tab->v[i].device};
    qsort(v, k, sizeof(*v), cmp_gpu_id);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || cmp_gpu_id(&v[m - 1], &v[i]) != 0)
            v[m++] = v[i];
    if (m == 0) {
        free(v);
        return 0;
    }
    *out = v;
    *n = m;
    return 0;
}

static bool same_gpu(const struct wp_sensor *s, const char *source, int device)
{
    return s->scope == WP_SCOPE_GPU && s->device == device && strcmp(s->source, source) == 0;
}

static const struct wp_sensor *any_sensor(const struct wp_sensors *tab, const char *source,
                                          int device)
{
    for (size_t i = 0; i < tab->n; i++)
        if (same_gpu(&tab->v[i], source, device))
            return &tab->v[i];
    return NULL;
}

/* The GPU's finest power series. NVML's names say which that is (power_pref); for another
 * source the power gauge with the shortest nominal cadence. */
static const struct wp_sensor *gpu_power_sensor(const struct wp_sensors *tab, const char *source,
                                                int device)
{
    const struct wp_sensor *best = NULL;
    int64_t best_rank = INT64_MAX;
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (!same_gpu(s, source, device) || s->quantity != WP_Q_POWER || s->kind != WP_GAUGE)
            continue;
        int64_t rank = INT64_MAX - 1;
        if (strcmp(s->source_kind, "nvml") == 0) {
            rank = -1;
            for (size_t k = 0; k < sizeof(power_pref) / sizeof(power_pref[0]); k++)
                if (strcmp(s->name, power_pref[k]) == 0)
                    rank = (int64_t)k;
            if (rank < 0)
                continue;
        } else if (s->cadence_us > 0) {
            rank = s->cadence_us;
        }
        if (rank < best_rank) {
            best = s;
            best_rank = rank;
        }
    }
    return best;
}

/* The GPU's energy counter: NVML's is "energy"; another source's any energy counter. */
static const struct wp_sensor *gpu_counter_sensor(const struct wp_sensors *tab, const char *source,
                                                  int device)
{
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (same_gpu(s, source, device) && s->quantity == WP_Q_ENERGY && s->kind == WP_COUNTER &&
            (strcmp(s->source_kind, "nvml") != 0 || strcmp(s->name, "energy") == 0))
            return s;
    }
    return NULL;
}

static int nomem(struct wp_err *err)
{
    return wp_errf(err, -ENOMEM,
                   "out of memory while summarising the trace; free memory or "
                   "summarise on a larger machine");
}

/* Keeps the damaged spans of a series just read, with their description. */
static int keep_damage(const struct wp_trace *t, struct wp_summary *s, const struct wp_series *ser,
                       struct wp_err *err)
{
    if (ser->ndamaged == 0)
        return 0;
    size_t cap = s->ndamaged;
    if (WP_GROW(&s->damaged, &cap, s->ndamaged + ser->ndamaged) < 0)
        return nomem(err);
    for (size_t i = 0; i < ser->ndamaged; i++) {
        struct wp_damage_summary *d = &s->damaged[s->ndamaged++];
        memset(d, 0, sizeof(*d));
        d->span = ser->damaged[i];
        d->device = -1;
        const struct wp_sensors *tab = wp_trace_sensors(t);
        for (size_t k = 0; k < tab->n; k++) {
            if (tab->v[k].id != d->span.sensor)
                continue;
            copy_str(d->source, sizeof(d->source), tab->v[k].source);
            d->device = tab->v[k].device;
            copy_str(d->sensor_name, sizeof(d->sensor_name), tab->v[k].name);
        }
        wp_trace_damage_describe(t, &d->span, d->text, sizeof(d->text));
    }
    return 0;
}

/* Counter fields of g over the run [from_us, to_us]: the delta between the readings that
 * bracket it, and the trace's energy over exactly those readings' window to compare with. */
static int gpu_counter(const struct wp_trace *t, struct wp_summary *s, struct gpu_work *w,
                       struct wp_gpu_summary *g, int64_t from_us, int64_t to_us, struct wp_err *err)
{
    const struct wp_sensor *c = gpu_counter_sensor(wp_trace_sensors(t), w->source, g->index);
    if (!c)
        return 0;
    struct wp_series cs = {0};
    int rc = wp_trace_series(t, c->id, &cs, err);
    if (rc == 0)
        rc = keep_damage(t, s, &cs, err);
    if (rc < 0) {
        wp_series_free(&cs);
        return rc;
    }
    size_t i0, i1;
    wp_counter_bracket(cs.t_us, cs.n, from_us, to_us, COUNTER_SLACK_US, &i0, &i1);
    if (i1 > i0 + 1) {
        int64_t delta_raw;
        rc = wp_counter_delta(cs.value + i0, i1 - i0, c->wrap_at, &delta_raw);
        if (rc == 0) {
            g->counter_energy_j = wp_sensor_value(c, delta_raw) / 1000.0;
            int64_t c0 = cs.t_us[i0], c1 = cs.t_us[i1 - 1];
            struct wp_energy e;
            /* The trace side is its mean power over the covered part of the counter's window
             * times the window: the last buffer sample usually precedes the final counter read
             * by up to a cadence (15 ms in a replayed 3 s run, which alone read as -0.5 %).
             * Below 90 % coverage the comparison says more about the hole than the sensor. */
            if (w->series.n && c1 > c0 &&
                wp_energy_window(w->series.t_us, w->series.value, w->series.n, c0, c1,
                                 w->cadence_us, 2 * w->cadence_us, &e) == 0 &&
                e.covered_us >= (c1 - c0) * 9 / 10) {
                w->counter_trace_j =
                    e.energy_mj / 1000.0 * (double)(c1 - c0) / (double)e.covered_us;
                if (g->counter_energy_j > 0)
                    g->counter_diff_pct =
                        (w->counter_trace_j - g->counter_energy_j) / g->counter_energy_j * 100.0;
            }
        } else {
            /* went backwards, or a reading outside the counter's range: either way the delta
             * would be garbage */
            g->counter_fault = true;
        }
    }
    wp_series_free(&cs);
    return 0;
}

static int gpu_power(struct gpu_work *w, struct wp_gpu_summary *g, int64_t from_us, int64_t to_us,
                     double duration_s)
{
    const int64_t *t = w->series.t_us, *v = w->series.value;
    size_t n = w->series.n;
    struct wp_energy e;
    if (wp_energy_window(t, v, n, from_us, to_us, w->cadence_us, 2 * w->cadence_us, &e) < 0)
        return -EINVAL;
    g->covered_s = (double)e.covered_us / 1e6;
    g->gaps = e.gaps;
    if (e.covered_us > 0) {
        g->energy_j = e.energy_mj / 1000.0;
        if (duration_s > 0)
            g->mean_w = g->energy_j / duration_s;
    }
    double roll_mw;
    if (wp_rolling_mean_max(t, v, n, from_us, to_us, w->cadence_us, ROLLING_WINDOW_US, &roll_mw) <
        0)
        return -EINVAL;
    g->peak_1s_w = roll_mw / 1000.0;

    /* Sample statistics use the samples stamped inside the closed run window. */
    size_t i0 = wp_lower_bound_i64(t, n, from_us), i1 = wp_upper_bound_i64(t, n, to_us);
    g->samples = i1 > i0 ? i1 - i0 : 0;
    if (g->samples == 0)
        return 0;
    int64_t *sorted = malloc(g->samples * sizeof(*sorted));
    if (!sorted)
        return -ENOMEM;
    memcpy(sorted, v + i0, g->samples * sizeof(*sorted));
    wp_sort_i64(sorted, g->samples);
    g->peak_w = (double)sorted[g->samples - 1] / 1000.0;
    g->p99_w = wp_percentile_sorted(sorted, g->samples, 99.0) / 1000.0;
    free(sorted);
    if (wp_median_interval_ms(t + i0, g->samples, &g->median_interval_ms) < 0)
        return -ENOMEM;
    if (isfinite(g->limit_w) && g->limit_w > 0)
        g->peak_pct_limit = g->peak_w / g->limit_w * 100.0;
    return 0;
}

static void gpu_init(struct wp_gpu_summary *g, int index)
{
    memset(g, 0, sizeof(*g));
    g->index = index;
    g->limit_w = g->energy_j = g->counter_energy_j = g->counter_diff_pct = NAN;
    g->mean_w = g->peak_w = g->peak_1s_w = g->p99_w = g->peak_pct_limit = NAN;
    g->median_interval_ms = g->covered_s = NAN;
}

static void totals(struct wp_summary *s, struct gpu_work *w)
{
    struct wp_total_summary *tot = &s->total;
    tot->energy_j = tot->counter_energy_j = tot->mean_w = tot->peak_w = NAN;
    tot->counter_diff_pct = NAN;
    if (s->ngpus == 0)
        return;
    double e = 0, c = 0, ct = 0;
    for (size_t i = 0; i < s->ngpus; i++) {
        e += s->gpus[i].energy_j; /* NAN in any GPU makes the total NAN: no partial sums */
        c += s->gpus[i].counter_energy_j;
        ct += w[i].counter_trace_j;
    }
    tot->energy_j = e;
    tot->counter_energy_j = c;
    if (s->duration_s > 0)
        tot->mean_w = e / s->duration_s;
    if (c > 0 && isfinite(ct))
        tot->counter_diff_pct = (ct - c) / c * 100.0;
}

/* The peak of all GPUs together (only when every GPU has a power series) and the phases,
 * both over the series already decoded. */
static int totals_and_phases(const struct wp_trace *t, struct wp_summary *s, struct gpu_work *w,
                             struct wp_err *err)
{
    struct wp_series_ref *refs = calloc(s->ngpus ? s->ngpus : 1, sizeof(*refs));
    if (!refs)
        return nomem(err);
    int64_t step = 0;
    size_t k = 0;
    for (size_t i = 0; i < s->ngpus; i++) {
        if (!w[i].power || w[i].series.n == 0 || w[i].cadence_us <= 0)
            continue;
        refs[k++] = (struct wp_series_ref){w[i].series.t_us, w[i].series.value, w[i].series.n,
                                           w[i].cadence_us};
        if (step == 0 || w[i].cadence_us < step)
            step = w[i].cadence_us;
    }
    double peak_mw = NAN;
    int rc = 0;
    if (k > 0 && k == s->ngpus && wp_sum_peak(refs, k, s->start_us, s->end_us, step, &peak_mw) < 0)
        rc = nomem(err);
    s->total.peak_w = peak_mw / 1000.0;
    if (rc == 0 && k > 0 && k == s->ngpus)
        rc = wp_swings_compute(refs, k, s->start_us, s->end_us, step, &s->swings, err);
    if (rc == 0)
        rc = wp_summary_phases(t, s, refs, k, step, err);
    free(refs);
    return rc;
}

/* The GPUs' instance names, comma-separated ("nvml"). */
static void gpu_sources(const struct gpu_work *w, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++)
        if (i == 0 || strcmp(w[i].source, w[i - 1].source) != 0) /* sorted by source */
            off += (size_t)snprintf(buf + off, cap - off, "%s%s", off ? "," : "", w[i].source);
}

static int point_marks(const struct wp_trace *t, struct wp_summary *s, struct wp_err *err)
{
    const struct wp_mark *m;
    size_t n = 0;
    int rc = wp_trace_marks(t, &m, &n, err);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].kind != WP_MARK_POINT)
            continue;
        if (WP_GROW(&s->points, &cap, s->npoints + 1) < 0)
            return nomem(err);
        struct wp_point_summary *p = &s->points[s->npoints++];
        memset(p, 0, sizeof(*p));
        copy_str(p->name, sizeof(p->name), m[i].name);
        p->t_us = m[i].t_us;
        p->t_s = (double)(m[i].t_us - s->start_us) / 1e6;
        p->ncounts = m[i].ncounts < 0                    ? 0
                     : m[i].ncounts > WP_MARK_MAX_COUNTS ? WP_MARK_MAX_COUNTS
                                                         : m[i].ncounts;
        memcpy(p->counts, m[i].counts, (size_t)p->ncounts * sizeof(p->counts[0]));
    }
    return 0;
}

/* Devices listed as "missing.<source>.<device>.device" in the metadata: found by the
 * recorder, never measured. */
static int find_unmeasured(const struct wp_meta *meta, struct wp_summary *out)
{
    for (size_t i = 0; i < meta->n; i++) {
        const char *k = meta->v[i].key;
        if (strncmp(k, "missing.", 8) != 0)
            continue;
        const char *src = k + 8, *dot = strchr(src, '.');
        if (!dot || dot == src || (size_t)(dot - src) >= sizeof(out->unmeasured[0].source))
            continue;
        char *end;
        errno = 0;
        long dev = strtol(dot + 1, &end, 10);
        if (end == dot + 1 || errno || dev < 0 || dev > INT_MAX || strcmp(end, ".device") != 0)
            continue;
        size_t cap = out->nunmeasured;
        if (WP_GROW(&out->unmeasured, &cap, out->nunmeasured + 1) < 0)
            return -ENOMEM;
        struct wp_unmeasured *u = &out->unmeasured[out->nunmeasured++];
        snprintf(u->source, sizeof(u->source), "%.*s", (int)(dot - src), src);
        u->device = (int)dev;
        copy_str(u->reason, sizeof(u->reason), meta->v[i].value);
    }
    return 0;
}

int wp_summary_compute(const struct wp_trace *t, struct wp_summary *out, struct wp_err *err)
{
    return wp_summary_compute_opts(t, NULL, out, err);
}

int wp_summary_compute_opts(const struct wp_trace *t, const struct wp_summary_opts *opts,
                            struct wp_summary *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    wp_swings_result_empty(&out->swings);
    const struct wp_meta *meta = wp_trace_meta(t);
    const struct wp_sensors *tab = wp_trace_sensors(t);
    int rc;
    copy_str(out->command, sizeof(out->command), wp_meta_get(meta, "command"));
    copy_str(out->replay, sizeof(out->replay), wp_meta_get(meta, "replay"));
    copy_str(out->host, sizeof(out->host), wp_meta_get(meta, "host"));
    int64_t v;
    bool has_start, has_end, has_exit;
    int64_t start_us = 0, end_us = 0;
    if ((rc = meta_i64(meta, "start_us", &has_start, &start_us, err)) ||
        (rc = meta_i64(meta, "end_us", &has_end, &end_us, err)) ||
        (rc = meta_i64(meta, "exit_code", &has_exit, &v, err)))
        return rc;
    if (has_exit) {
        if (v < INT32_MIN || v > INT32_MAX)
            return wp_errf(err, -EINVAL,
                           "the trace's exit_code %" PRId64 " is out of range; the trace is "
                           "damaged (re-record it)",
                           v);
        out->has_exit_code = true;
        out->exit_code = (int)v;
    }

    if (find_unmeasured(meta, out) < 0) {
        wp_summary_free(out);
        return nomem(err);
    }
    struct gpu_id *idx = NULL;
    size_t ngpus = 0;
    if (gpu_ids(tab, &idx, &ngpus) < 0) {
        wp_summary_free(out);
        return nomem(err);
    }
    struct gpu_work *w = ngpus ? calloc(ngpus, sizeof(*w)) : NULL;
    out->gpus = ngpus ? calloc(ngpus, sizeof(*out->gpus)) : NULL;
    if (ngpus && (!w || !out->gpus)) {
        free(idx);
        free(w);
        free(out->gpus);
        out->gpus = NULL;
        return nomem(err);
    }
    out->ngpus = ngpus;
    struct wp_node_work *nw = NULL;

    /* Load every GPU's power series first: without start_us/end_us the run window is the
     * span of the data. */
    int64_t data_lo = INT64_MAX, data_hi = INT64_MIN;
    for (size_t i = 0; i < ngpus; i++) {
        struct wp_gpu_summary *g = &out->gpus[i];
        gpu_init(g, idx[i].device);
        w[i].source = idx[i].source;
        w[i].power = gpu_power_sensor(tab, idx[i].source, idx[i].device);
        const struct wp_sensor *row =
            w[i].power ? w[i].power : any_sensor(tab, idx[i].source, idx[i].device);
        copy_str(g->uuid, sizeof(g->uuid), row->uuid);
        copy_str(g->name, sizeof(g->name), row->device_name);
        if (!w[i].power)
            continue;
        copy_str(g->power_sensor, sizeof(g->power_sensor), w[i].power->name);
        if (w[i].power->limit != WP_NO_LIMIT)
            g->limit_w = wp_sensor_value(w[i].power, w[i].power->limit) / 1000.0;
        if ((rc = wp_trace_series(t, w[i].power->id, &w[i].series, err)) < 0 ||
            (rc = keep_damage(t, out, &w[i].series, err)) < 0)
            goto fail;
        if ((rc = wp_series_to_canonical(&w[i].series, w[i].power, err)) < 0)
            goto fail;
        struct wp_series *ps = &w[i].series;
        w[i].cadence_us = w[i].power->cadence_us;
        if (w[i].cadence_us <= 0) {
            /* No nominal cadence in the row: the typical spacing is the best stand-in. */
            double med_ms;
            if (wp_median_interval_ms(ps->t_us, ps->n, &med_ms) < 0) {
                rc = nomem(err);
                goto fail;
            }
            w[i].cadence_us = isnan(med_ms) ? 0 : llround(med_ms * 1000.0);
        }
        if (ps->n) {
            if (ps->t_us[0] < data_lo)
                data_lo = ps->t_us[0];
            if (ps->t_us[ps->n - 1] > data_hi)
                data_hi = ps->t_us[ps->n - 1];
        }
    }
    /* The node's own meters (a trace may have nothing else). */
    if ((rc = wp_node_load(t, &nw, &data_lo, &data_hi, err)) < 0)
        goto fail;
    bool have_data = data_lo <= data_hi;
    out->start_us = has_start ? start_us : have_data ? data_lo : 0;
    out->end_us = has_end ? end_us : have_data ? data_hi : out->start_us;
    if (!has_end && out->end_us < out->start_us)
        out->end_us = out->start_us; /* killed before any sample after start */
    if (out->end_us < out->start_us) {
        rc = wp_errf(err, -EINVAL,
                     "the trace's end_us (%" PRId64 ") is before its start_us (%" PRId64
                     "); the trace is damaged (re-record it)",
                     out->end_us, out->start_us);
        goto fail;
    }
    out->duration_s = (double)(out->end_us - out->start_us) / 1e6;

    for (size_t i = 0; i < ngpus; i++) {
        struct wp_gpu_summary *g = &out->gpus[i];
        w[i].counter_trace_j = NAN;
        if (w[i].power) {
            rc = gpu_power(&w[i], g, out->start_us, out->end_us, out->duration_s);
            if (rc == -EINVAL) {
                rc = wp_errf(err, -EINVAL,
                             "GPU %d's %s samples are not in time order; the trace is damaged "
                             "(re-record it)",
                             g->index, g->power_sensor);
                goto fail;
            } else if (rc < 0) {
                rc = nomem(err);
                goto fail;
            }
        }
        if ((rc = gpu_counter(t, out, &w[i], g, out->start_us, out->end_us, err)) < 0)
            goto fail;
    }
    totals(out, w);
    if ((rc = totals_and_phases(t, out, w, err)) < 0 || (rc = point_marks(t, out, err)) < 0)
        goto fail;
    char gsrc[64];
    gpu_sources(w, ngpus, gsrc, sizeof(gsrc));
    rc = wp_node_compute(nw, meta, opts, gsrc, out, err);
fail:
    wp_node_work_free(nw);
    for (size_t i = 0; i < ngpus; i++)
        wp_series_free(&w[i].series);
    free(w);
    free(idx);
    if (rc < 0)
        wp_summary_free(out);
    return rc;
}

void wp_summary_free(struct wp_summary *s)
{
    if (!s)
        return;
    free(s->gpus);
    s->gpus = NULL;
    s->ngpus = 0;
    free(s->phases);
    s->phases = NULL;
    s->nphases = 0;
    free(s->damaged);
    s->damaged = NULL;
    s->ndamaged = 0;
    free(s->points);
    s->points = NULL;
    s->npoints = 0;
    free(s->unmeasured);
    s->unmeasured = NULL;
    s->nunmeasured = 0;
}

/* ---- text ---- */

/* Terminal output must not carry the job's control characters (a command line can hold
 * anything), so those become '?'; long strings are cut with "...". */
static void put_clean(FILE *f, const char *s, size_t max)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        putc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
    if (n > max)
        fputs("...", f);
}

static const char *num(char *buf, size_t cap, const char *fmt, double v)
{
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, fmt, v);
    return buf;
}

/* column widths, each including one leading space; total 97 */
#define ROW_FMT "%4s %10s %10s %7s %7s %7s %7s %7s %7s %8s %7s %5s"

static void put_row(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_row(FILE *f, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    fputs(line, f);
    fputc('\n', f);
}

static void print_row(FILE *f, const char *label, const struct wp_gpu_summary *g)
{
    char b[11][32];
    char samples[24], gaps[24];
    snprintf(samples, sizeof(samples), "%zu", g->samples);
    snprintf(gaps, sizeof(gaps), "%zu", g->gaps);
    bool has_series = g->power_sensor[0] != '\0';
    put_row(f, ROW_FMT, label, num(b[0], 32, "%.1f", g->energy_j),
            num(b[1], 32, "%.1f", g->counter_energy_j), num(b[2], 32, "%+.2f", g->counter_diff_pct),
            num(b[3], 32, "%.1f", g->mean_w), num(b[4], 32, "%.1f", g->peak_w),
            num(b[5], 32, "%.1f", g->peak_1s_w), num(b[6], 32, "%.1f", g->p99_w),
            num(b[7], 32, "%.1f", g->peak_pct_limit), has_series ? samples : "-",
            num(b[8], 32, "%.1f", g->median_interval_ms), has_series ? gaps : "-");
}

/* Appends " key=value" counts to line (n characters so far) while it stays within 100
 * columns, blanks control characters a job may have sent, and prints it. */
static void put_counts_row(FILE *f, char *line, size_t cap, int n,
                           const struct wp_mark_count *counts, int ncounts)
{
    for (int k = 0; k < ncounts && n > 0 && (size_t)n < cap; k++) {
        char kv[64];
        snprintf(kv, sizeof(kv), " %.20s=%g", counts[k].key, counts[k].value);
        if ((size_t)n + strlen(kv) > 100)
            break;
        n += snprintf(line + n, cap - (size_t)n, "%s", kv);
    }
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    put_row(f, "%s", line);
}

static void print_phases(FILE *f, const struct wp_summary *s);
static void print_points(FILE *f, const struct wp_summary *s);

static void print_kw(FILE *f, double w)
{
    if (isfinite(w))
        fprintf(f, "%.2f kW", w / 1000.0);
    else
        fputs("- kW", f);
}

static void print_parts(FILE *f, const struct wp_node_summary *n)
{
    if (n->nparts == 0) {
        fputs("  parts: none metered on their own\n", f);
        return;
    }
    fputs("  parts:", f);
    for (size_t i = 0; i < n->nparts; i++) {
        const struct wp_node_part *p = &n->parts[i];
        char b[32];
        fprintf(f, "%s %s %s W (%zu ", i ? "," : "", wp_scope_name(p->scope),
                num(b, sizeof(b), "%.1f", p->mean_w), p->devices);
        put_clean(f, p->source, 12);
        fputc(')', f);
    }
    fputc('\n', f);
}

/* The node block. An estimate says so on its first line and states what it assumed. */
static void print_node(FILE *f, const struct wp_summary *s)
{
    const struct wp_node_summary *n = &s->node;
    if (!n->present)
        return;
    char b[4][32];
    fputc('\n', f);
    fprintf(f, "node: %smean %s W, %senergy %s J (%s Wh)", n->estimated ? "estimated " : "",
            num(b[0], 32, "%.1f", n->mean_w), n->estimated ? "estimated " : "",
            num(b[1], 32, "%.1f", n->energy_j), num(b[2], 32, "%.4f", n->energy_j / 3600.0));
    if (n->estimated) {
        fputs(": no node meter\n", f);
        fprintf(f, "  basis: measured parts + %s W for fans, NICs, switches, drives, PSU losses\n",
                num(b[3], 32, "%.1f", n->allowance_w));
        if (n->allowance_default)
            fprintf(f,
                    "  (assumed: %.0f %% of the parts' mean, wattprof's default; "
                    "node_allowance_w=W gives yours)\n",
                    WP_NODE_DEFAULT_ALLOWANCE_PCT);
        else
            fputs("  (the node_allowance_w the recording was given)\n", f);
    } else {
        fprintf(f, ", measured at the %s\n",
                n->basis == WP_NODE_INPUT ? "node input" : "PDU outlets");
        fputs("  meter: ", f);
        put_clean(f, n->source, 88);
        fputc('\n', f);
    }
    print_parts(f, n);
    if (n->estimated) {
        fputs("  no node peak without a node meter (BMC, PDU); GPUs summed peak ", f);
        print_kw(f, n->gpu_sum_peak_20ms_w);
        fputc('\n', f);
    } else {
        fputs("  peak ", f);
        print_kw(f, n->peak_1s_w);
        fputs(" (1 s), ", f);
        print_kw(f, n->peak_60s_w);
        fputs(" (60 s); GPUs summed ", f);
        print_kw(f, n->gpu_sum_peak_20ms_w);
        fputs(" (finest samples)\n", f);
        if (n->compared) {
            fputs("  PDU outlets ", f);
            put_clean(f, n->outlets_source, 60);
            fprintf(f, ": %s W against the node input meter's %s W over the %s s both read\n",
                    num(b[0], 32, "%.1f", n->cmp_outlets_w), num(b[1], 32, "%.1f", n->cmp_input_w),
                    num(b[2], 32, "%.0f", n->cmp_overlap_s));
            fprintf(f,
                    "  difference %s W (%s %% of the outlets): PSU and cabling losses, or the "
                    "meters disagree\n",
                    num(b[0], 32, "%+.1f", n->cmp_diff_w), num(b[1], 32, "%+.1f", n->cmp_diff_pct));
        }
        if (isfinite(n->rest_w))
            fprintf(
                f, "  rest %.1f W: fans, NICs, switches, drives, PSU losses (node minus parts)%s\n",
                n->rest_w, n->rest_w < 0 ? "; below 0: meters disagree" : "");
    }
    if (isfinite(n->peak_pct_of_rated)) {
        double d = n->peak_pct_of_rated - 100.0;
        fputs("  peak ", f);
        print_kw(f, n->peak_1s_w);
        fprintf(f, " (1 s) is %.1f %% %s the rated ", fabs(d), d > 0 ? "over" : "under");
        print_kw(f, n->rated_w);
        fputc('\n', f);
    } else if (isfinite(n->rated_w)) {
        fputs("  rated ", f);
        print_kw(f, n->rated_w);
        fputs(": no measured node peak to compare with it\n", f);
    }
}

/* Right under the totals: they leave these devices out. */
static void print_unmeasured(FILE *f, const struct wp_summary *s)
{
    for (size_t i = 0; i < s->nunmeasured; i++) {
        const struct wp_unmeasured *u = &s->unmeasured[i];
        fprintf(f, "%s %d: NOT MEASURED: ", strcmp(u->source, "nvml") == 0 ? "gpu" : u->source,
                u->device);
        put_clean(f, u->reason, 100);
        fputs(" before recording started; the totals are PARTIAL without it.\n", f);
    }
}

void wp_summary_print_text(FILE *f, const struct wp_summary *s)
{
    if (s->command[0]) {
        fputs("wattprof: '", f);
        put_clean(f, s->command, 60);
        fprintf(f, "' ran %.3f s", s->duration_s);
        if (s->has_exit_code)
            fprintf(f, ", exit code %d\n", s->exit_code);
        else
            fputs(", exit code unknown\n", f);
    } else {
        /* `record`: no command, so no exit code to speak of */
        fprintf(f, "wattprof: recorded %.3f s", s->duration_s);
        if (s->host[0]) {
            fputs(" on ", f);
            put_clean(f, s->host, 60);
        }
        fputc('\n', f);
    }
    if (s->replay[0]) {
        /* The whole description, wrapped: it says what was replayed, which matters more
         * than keeping it to one line. */
        fputs("REPLAY, NOT A MEASUREMENT of this machine:\n", f);
        for (const char *r = s->replay; *r;) {
            size_t len = strlen(r), take = len <= 94 ? len : 94;
            while (take < len && take > 40 && r[take] != ' ')
                take--;
            fputs("  ", f);
            for (size_t i = 0; i < take; i++)
                putc((unsigned char)r[i] < 0x20 || r[i] == 0x7f ? '?' : r[i], f);
            fputc('\n', f);
            r += take;
            while (*r == ' ')
                r++;
        }
    }
    if (s->ngpus == 0) {
        if (!s->node.present) {
            fputs("no GPU power sensors in this trace: nothing to summarise.\n", f);
            print_unmeasured(f, s);
            return;
        }
        fputs("no GPU power sensors in this trace.\n", f);
        print_node(f, s);
        print_unmeasured(f, s);
        print_phases(f, s);
        return;
    }
    fputc('\n', f);
    put_row(f, ROW_FMT, "gpu", "energy J", "counter J", "diff %", "mean W", "peak W", "1s W",
            "p99 W", "%limit", "samples", "ival ms", "gaps");
    for (size_t i = 0; i < s->ngpus; i++) {
        char label[16];
        snprintf(label, sizeof(label), "%d", s->gpus[i].index);
        print_row(f, label, &s->gpus[i]);
    }
    const struct wp_total_summary *t = &s->total;
    char b[6][32];
    put_row(f, ROW_FMT, "all", num(b[0], 32, "%.1f", t->energy_j),
            num(b[1], 32, "%.1f", t->counter_energy_j), num(b[2], 32, "%+.2f", t->counter_diff_pct),
            num(b[3], 32, "%.1f", t->mean_w), num(b[4], 32, "%.1f", t->peak_w), "", "", "", "", "",
            "");
    fprintf(f, "%4s %10s Wh\n", "", num(b[5], 32, "%.4f", t->energy_j / 3600.0));
    print_unmeasured(f, s);

    fputc('\n', f);
    fputs("peak W: highest single sample; 1s W: highest 1 s mean; all: GPUs summed on a common "
          "grid.\n",
          f);
    fputs("diff %: trace vs energy counter over the counter's read window; gaps: intervals > 2x "
          "cadence.\n",
          f);
    fputs("counter J: the GPU's hardware energy counter over the run; %limit: peak W as % of the "
          "power limit.\n",
          f);
    fputs("ival ms: median time between samples; p99 W: 99th percentile of the samples.\n", f);
    for (size_t i = 0; i < s->ngpus; i++) {
        const struct wp_gpu_summary *g = &s->gpus[i];
        if (!g->power_sensor[0]) {
            fprintf(f, "gpu %d: no power series in the trace; only its counter is shown.\n",
                    g->index);
            continue;
        }
        if (strcmp(g->power_sensor, "power") != 0)
            fprintf(f,
                    "gpu %d: numbers come from '%s', not the 20 ms driver buffer: short peaks "
                    "can be missed.\n",
                    g->index, g->power_sensor);
        if (s->duration_s > 0 && isfinite(g->covered_s) && g->covered_s < 0.99 * s->duration_s)
            fprintf(f,
                    "gpu %d: power samples cover only %.1f %% of the run; energy and mean miss "
                    "the rest.\n",
                    g->index, g->covered_s / s->duration_s * 100.0);
        if (g->counter_fault)
            fprintf(f,
                    "gpu %d: energy counter went backwards (driver reload or GPU reset?); "
                    "counter columns empty.\n",
                    g->index);
    }
    print_node(f, s);
    wp_swings_print_text(f, &s->swings);
    print_phases(f, s);
    print_points(f, s);
}

/* Phases beyond this many are left to the JSON output: the block is for a terminal. */
#define TEXT_MAX_PHASES 20

/* Energy per unit of a count the job sent (samples, tokens, flops), NAN without it. */
static double per_count(const struct wp_phase_summary *p, const char *key, double unit)
{
    for (int k = 0; k < p->ncounts; k++)
        if (strcmp(p->counts[k].key, key) == 0 && p->counts[k].value > 0)
            return p->energy_j / (p->counts[k].value / unit);
    return NAN;
}

static const struct {
    const char *key, *json, *text;
    double unit;
} per_units[] = {
    {"samples", "j_per_sample", "J/sample", 1},
    {"tokens", "j_per_token", "J/token", 1},
    {"flops", "j_per_tflop", "J/TFLOP", 1e12},
};

static void print_phases(FILE *f, const struct wp_summary *s)
{
    if (s->nphases == 0)
        return;
    fputc('\n', f);
    fprintf(f, "%-30s %10s %10s %8s %8s  %s\n", "phase", "time s", "energy J", "mean W", "peak W",
            "counts");
    for (size_t i = 0; i < s->nphases && i < TEXT_MAX_PHASES; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        char name[64], b[4][32];
        int indent = p->depth > 0 ? (p->depth < 5 ? p->depth : 5) * 2 : 0;
        snprintf(name, sizeof(name), "%*s%.*s%s", indent, "", 28 - indent, p->name,
                 p->open_ended ? "+" : "");
        for (char *c = name; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        char line[160];
        int n = snprintf(line, sizeof(line), "%-30s %10s %10s %8s %8s ", name,
                         num(b[0], 32, "%.3f", p->duration_s), num(b[1], 32, "%.1f", p->energy_j),
                         num(b[2], 32, "%.1f", p->mean_w), num(b[3], 32, "%.1f", p->peak_w));
        /* Energy per sample/token/TFLOP first: it is what the marks are for. */
        for (size_t u = 0; u < sizeof(per_units) / sizeof(per_units[0]); u++) {
            double v = per_count(p, per_units[u].key, per_units[u].unit);
            if (isnan(v) || n <= 0 || (size_t)n >= sizeof(line))
                continue;
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%.4g", per_units[u].text, v);
        }
        put_counts_row(f, line, sizeof(line), n, p->counts, p->ncounts);
    }
    if (s->nphases > TEXT_MAX_PHASES)
        fprintf(f, "... and %zu more phases (see --json)\n", s->nphases - TEXT_MAX_PHASES);
    fputs("phase energy is all GPUs together; + marks a phase that never ended.\n", f);
}

/* Point marks beyond this many are left to the JSON output, like phases. */
#define TEXT_MAX_POINTS 20

static void print_points(FILE *f, const struct wp_summary *s)
{
    if (s->npoints == 0)
        return;
    fputc('\n', f);
    fprintf(f, "%10s  %-30s %s\n", "mark at s", "mark", "counts");
    for (size_t i = 0; i < s->npoints && i < TEXT_MAX_POINTS; i++) {
        const struct wp_point_summary *p = &s->points[i];
        char line[160];
        int n = snprintf(line, sizeof(line), "%10.3f  %-30.30s", p->t_s, p->name);
        put_counts_row(f, line, sizeof(line), n, p->counts, p->ncounts);
    }
    if (s->npoints > TEXT_MAX_POINTS)
        fprintf(f, "... and %zu more marks (see --json)\n", s->npoints - TEXT_MAX_POINTS);
}

/* ---- JSON ---- */

static void kstr_or_null(struct wp_json *j, const char *key, const char *s)
{
    wp_json_kstr(j, key, s[0] ? s : NULL);
}

static const char *const basis_names[] = {
    [WP_NODE_INPUT] = "node_input",
    [WP_NODE_PDU_OUTLETS] = "pdu_outlet",
    [WP_NODE_ESTIMATE] = "parts_plus_allowance",
};

static void write_node_json(struct wp_json *j, const struct wp_node_summary *n)
{
    if (!n->present) {
        wp_json_knull(j, "node");
        return;
    }
    wp_json_key(j, "node");
    wp_json_obj_begin(j);
    kstr_or_null(j, "source", n->source);
    wp_json_kbool(j, "estimated", n->estimated);
    wp_json_kstr(j, "basis", basis_names[n->basis]);
    wp_json_kdouble(j, "allowance_w", n->allowance_w);
    if (n->estimated)
        wp_json_kbool(j, "allowance_default", n->allowance_default);
    else
        wp_json_knull(j, "allowance_default");
    wp_json_kdouble(j, "energy_j", n->energy_j);
    wp_json_kdouble(j, "mean_w", n->mean_w);
    wp_json_kdouble(j, "peak_1s_w", n->peak_1s_w);
    wp_json_kdouble(j, "peak_60s_w", n->peak_60s_w);
    wp_json_kdouble(j, "gpu_sum_peak_20ms_w", n->gpu_sum_peak_20ms_w);
    wp_json_kdouble(j, "rated_w", n->rated_w);
    wp_json_kdouble(j, "peak_pct_of_rated", n->peak_pct_of_rated);
    wp_json_key(j, "parts");
    wp_json_arr_begin(j);
    for (size_t i = 0; i < n->nparts; i++) {
        const struct wp_node_part *p = &n->parts[i];
        wp_json_obj_begin(j);
        wp_json_kstr(j, "scope", wp_scope_name(p->scope));
        wp_json_kdouble(j, "energy_j", p->energy_j);
        wp_json_kdouble(j, "mean_w", p->mean_w);
        wp_json_kuint(j, "devices", p->devices);
        kstr_or_null(j, "source", p->source);
        wp_json_obj_end(j);
    }
    wp_json_arr_end(j);
    wp_json_kdouble(j, "rest_w", n->rest_w);
    if (n->compared) {
        wp_json_key(j, "compared");
        wp_json_obj_begin(j);
        kstr_or_null(j, "input_source", n->source);
        kstr_or_null(j, "outlets_source", n->outlets_source);
        wp_json_kdouble(j, "input_w", n->cmp_input_w);
        wp_json_kdouble(j, "outlets_w", n->cmp_outlets_w);
        wp_json_kdouble(j, "diff_w", n->cmp_diff_w);
        wp_json_kdouble(j, "diff_pct", n->cmp_diff_pct);
        wp_json_kdouble(j, "overlap_s", n->cmp_overlap_s);
        wp_json_obj_end(j);
    } else {
        wp_json_knull(j, "compared");
    }
    wp_json_obj_end(j);
}

int wp_summary_write_json(FILE *f, const struct wp_summary *s)
{
    return wp_summary_write_json_ext(f, s, NULL, NULL);
}

int wp_summary_write_json_ext(FILE *f, const struct wp_summary *s,
                              void (*extra)(struct wp_json *j, void *ctx), void *ctx)
{
    struct wp_json j;
    wp_json_init(&j, f, 2);
    wp_json_obj_begin(&j);
    wp_json_kstr(&j, "command", s->command);
    wp_json_kdouble(&j, "duration_s", s->duration_s);
    wp_json_kint(&j, "start_us", s->start_us);
    wp_json_kint(&j, "end_us", s->end_us);
    if (s->has_exit_code)
        wp_json_kint(&j, "exit_code", s->exit_code);
    else
        wp_json_knull(&j, "exit_code");
    kstr_or_null(&j, "replay", s->replay);
    kstr_or_null(&j, "host", s->host);
    wp_json_key(&j, "gpus");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < s->ngpus; i++) {
        const struct wp_gpu_summary *g = &s->gpus[i];
        wp_json_obj_begin(&j);
        wp_json_kint(&j, "index", g->index);
        kstr_or_null(&j, "uuid", g->uuid);
        kstr_or_null(&j, "name", g->name);
        kstr_or_null(&j, "power_sensor", g->power_sensor);
        wp_json_kdouble(&j, "limit_w", g->limit_w);
        wp_json_kdouble(&j, "energy_j", g->energy_j);
        wp_json_kdouble(&j, "covered_s", g->covered_s);
        wp_json_kdouble(&j, "counter_energy_j", g->counter_energy_j);
        wp_json_kdouble(&j, "counter_diff_pct", g->counter_diff_pct);
        wp_json_kbool(&j, "counter_fault", g->counter_fault);
        wp_json_kdouble(&j, "mean_w", g->mean_w);
        wp_json_kdouble(&j, "peak_w", g->peak_w);
        wp_json_kdouble(&j, "peak_1s_w", g->peak_1s_w);
        wp_json_kdouble(&j, "p99_w", g->p99_w);
        wp_json_kdouble(&j, "peak_pct_limit", g->peak_pct_limit);
        if (g->power_sensor[0]) {
            wp_json_kuint(&j, "samples", g->samples);
            wp_json_kuint(&j, "gaps", g->gaps);
        } else {
            wp_json_knull(&j, "samples");
            wp_json_knull(&j, "gaps");
        }
        wp_json_kdouble(&j, "median_interval_ms", g->median_interval_ms);
        wp_json_obj_end(&j);
    }
    wp_json_arr_end(&j);
    wp_json_key(&j, "total");
    wp_json_obj_begin(&j);
    wp_json_kdouble(&j, "energy_j", s->total.energy_j);
    wp_json_kdouble(&j, "counter_energy_j", s->total.counter_energy_j);
    wp_json_kdouble(&j, "counter_diff_pct", s->total.counter_diff_pct);
    wp_json_kdouble(&j, "mean_w", s->total.mean_w);
    wp_json_kdouble(&j, "peak_w", s->total.peak_w);
    wp_json_kbool(&j, "partial", s->nunmeasured > 0);
    wp_json_obj_end(&j);
    wp_json_key(&j, "unmeasured");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < s->nunmeasured; i++) {
        wp_json_obj_begin(&j);
        wp_json_kstr(&j, "source", s->unmeasured[i].source);
        wp_json_kint(&j, "device", s->unmeasured[i].device);
        wp_json_kstr(&j, "reason", s->unmeasured[i].reason);
        wp_json_obj_end(&j);
    }
    wp_json_arr_end(&j);
    write_node_json(&j, &s->node);
    wp_swings_write_json(&j, &s->swings);
    wp_json_key(&j, "phases");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < s->nphases; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        wp_json_obj_begin(&j);
        wp_json_kstr(&j, "name", p->name);
        wp_json_kint(&j, "t0_us", p->t0_us);
        wp_json_kint(&j, "t1_us", p->t1_us);
        wp_json_kint(&j, "depth", p->depth);
        wp_json_kbool(&j, "open_ended", p->open_ended);
        wp_json_kdouble(&j, "duration_s", p->duration_s);
        wp_json_kdouble(&j, "energy_j", p->energy_j);
        wp_json_kdouble(&j, "mean_w", p->mean_w);
        wp_json_kdouble(&j, "peak_w", p->peak_w);
        wp_json_key(&j, "counts");
        wp_json_obj_begin(&j);
        for (int k = 0; k < p->ncounts; k++)
            wp_json_kdouble(&j, p->counts[k].key, p->counts[k].value);
        wp_json_obj_end(&j);
        for (size_t u = 0; u < sizeof(per_units) / sizeof(per_units[0]); u++)
            wp_json_kdouble(&j, per_units[u].json,
                            per_count(p, per_units[u].key, per_units[u].unit));
        wp_json_obj_end(&j);
    }
    wp_json_arr_end(&j);
    wp_json_key(&j, "marks");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < s->npoints; i++) {
        const struct wp_point_summary *p = &s->points[i];
        wp_json_obj_begin(&j);
        wp_json_kstr(&j, "name", p->name);
        wp_json_kint(&j, "t_us", p->t_us);
        wp_json_kdouble(&j, "t_s", p->t_s);
        wp_json_key(&j, "counts");
        wp_json_obj_begin(&j);
        for (int k = 0; k < p->ncounts; k++)
            wp_json_kdouble(&j, p->counts[k].key, p->counts[k].value);
        wp_json_obj_end(&j);
        wp_json_obj_end(&j);
    }
    wp_json_arr_end(&j);
    wp_json_key(&j, "damaged");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < s->ndamaged; i++) {
        const struct wp_damage_summary *d = &s->damaged[i];
        wp_json_obj_begin(&j);
        wp_json_kint(&j, "sensor_id", d->span.sensor);
        kstr_or_null(&j, "source", d->source);
        wp_json_kint(&j, "device", d->device);
        kstr_or_null(&j, "name", d->sensor_name);
        wp_json_kint(&j, "t0_us", d->span.t0_us);
        wp_json_kint(&j, "t1_us", d->span.t1_us);
        wp_json_kint(&j, "samples", d->span.samples);
        wp_json_kstr(&j, "why", d->span.why);
        wp_json_obj_end(&j);
    }
    wp_json_arr_end(&j);
    if (extra)
        extra(&j, ctx);

    if (s->extra_json)
        s->extra_json(&j, s->extra_ctx);
    wp_json_obj_end(&j);
    int rc = wp_json_end(&j);
    return rc == -EIO ? -EIO : rc < 0 ? -EINVAL : 0;
}
