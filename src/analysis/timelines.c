#include "analysis/timelines.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/series_stream.h"

static int nomem(struct wp_err *err)
{
    return wp_errf(err, -ENOMEM, "out of memory drawing the report; free memory");
}

/* 0: added as v[n - 1]; 1: left out (counted), every one of the WP_TIMELINE_MAX is taken */
static int add(struct wp_timelines *tl, enum wp_timeline_kind kind, size_t gpu,
               const struct wp_sensor *row, struct wp_err *err)
{
    if (tl->n == WP_TIMELINE_MAX) {
        tl->left_out++;
        return 1;
    }
    struct wp_timeline *p = &tl->v[tl->n];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->gpu = gpu;
    p->row = row;
    int64_t t1 = tl->end_us > tl->start_us ? tl->end_us : tl->start_us + 1;
    if (wp_envelope_init(&p->env, tl->start_us, t1, WP_TIMELINE_COLS) < 0)
        return nomem(err);
    tl->n++;
    return 0;
}

static const struct wp_sensor *gpu_row(const struct wp_sensors *tab, const struct wp_gpu_summary *g)
{
    for (size_t i = 0; i < tab->n; i++)
        if (tab->v[i].scope == WP_SCOPE_GPU && tab->v[i].device == g->index &&
            strcmp(tab->v[i].name, g->power_sensor) == 0)
            return &tab->v[i];
    return NULL;
}

/* The run window and the GPUs are known: one envelope per GPU power series, and the sum's. */
static int lay_out(struct wp_timelines *tl, const struct wp_summary *s, int64_t sum_step_us,
                   struct wp_err *err)
{
    tl->start_us = s->start_us;
    tl->end_us = s->end_us;
    tl->sum_step_us = s->ngpus > 1 ? sum_step_us : 0;
    tl->ngpus = s->ngpus;
    tl->gpu_timeline = malloc((s->ngpus ? s->ngpus : 1) * sizeof(*tl->gpu_timeline));
    if (!tl->gpu_timeline)
        return nomem(err);
    int rc;
    /* the sum first: it is the headline */
    if (tl->sum_step_us > 0 && (rc = add(tl, WP_TIMELINE_SUM, 0, NULL, err)) < 0)
        return rc;
    const struct wp_sensors *tab = wp_trace_sensors(tl->t);
    for (size_t i = 0; i < s->ngpus; i++) {
        tl->gpu_timeline[i] = SIZE_MAX;
        const struct wp_sensor *row = s->gpus[i].power_sensor[0] ? gpu_row(tab, &s->gpus[i]) : NULL;
        if (!row)
            continue;
        if ((rc = add(tl, WP_TIMELINE_GPU, i, row, err)) < 0)
            return rc;
        if (rc == 0)
            tl->gpu_timeline[i] = tl->n - 1;
    }
    return 0;
}

/* The timelines' own failures (too many series, out of memory) do not stop the summary: they
 * are kept and wp_timelines_finish returns them, so the text and JSON are still written. */
static int begin(void *ctx, const struct wp_summary *s, int64_t sum_step_us, struct wp_err *err)
{
    (void)err;
    struct wp_timelines *tl = ctx;
    tl->rc = lay_out(tl, s, sum_step_us, &tl->err);
    return 0;
}

static int fold(void *ctx, size_t gpu, int64_t t_us, int64_t mw, struct wp_err *err)
{
    (void)err;
    struct wp_timelines *tl = ctx;
    size_t k = gpu < tl->ngpus && tl->rc == 0 ? tl->gpu_timeline[gpu] : SIZE_MAX;
    if (k != SIZE_MAX && wp_envelope_push(&tl->v[k].env, t_us, (double)mw / 1000.0, 1, 0) < 0)
        tl->rc = nomem(&tl->err);
    return 0;
}

/* A piece of the summed step function: the run grid's points in it (start_us + n * step, as
 * the summary's peak is taken) are drawn, so the sum's highest point is the summary's
 * total.peak_w. */
static int sum_fold(void *ctx, int64_t t0_us, int64_t t1_us, double sum_mw, struct wp_err *err)
{
    (void)err;
    struct wp_timelines *tl = ctx;
    if (tl->sum_step_us <= 0 || tl->rc < 0)
        return 0;
    int64_t lo = t0_us > tl->start_us ? t0_us : tl->start_us;
    int64_t hi = t1_us < tl->end_us ? t1_us : tl->end_us;
    if (lo > hi)
        return 0;
    uint64_t us = (uint64_t)tl->sum_step_us, a = (uint64_t)lo - (uint64_t)tl->start_us,
             b = (uint64_t)hi - (uint64_t)tl->start_us;
    uint64_t first = a / us + (a % us != 0), last = b / us;
    if (last < first)
        return 0;
    int64_t t = tl->start_us + (int64_t)(first * us);
    if (wp_envelope_push(&tl->v[0].env, t, sum_mw / 1000.0, (size_t)(last - first + 1),
                         tl->sum_step_us) < 0)
        tl->rc = nomem(&tl->err);
    return 0;
}

void wp_timelines_init(struct wp_timelines *tl, const struct wp_trace *t, double zoom_from_s,
                       double zoom_to_s, struct wp_summary_opts *opts)
{
    memset(tl, 0, sizeof(*tl));
    tl->t = t;
    tl->zoom_from_s = zoom_from_s;
    tl->zoom_to_s = zoom_to_s;
    opts->begin = begin;
    opts->begin_ctx = tl;
    opts->fold = fold;
    opts->fold_ctx = tl;
    opts->sum_fold = sum_fold;
    opts->sum_fold_ctx = tl;
}

/* one node meter's timeline, read a chunk at a time; 1 when the page is full */
static int node_timeline(struct wp_timelines *tl, const struct wp_sensor *row, struct wp_err *err)
{
    int rc = add(tl, WP_TIMELINE_NODE, 0, row, err);
    if (rc != 0)
        return rc;
    struct wp_envelope *e = &tl->v[tl->n - 1].env;
    struct wp_stream st;
    rc = wp_stream_open(tl->t, row, true, &st, err);
    while (rc == 0 && !st.end) {
        if (wp_envelope_push(e, st.t[st.i], (double)st.v[st.i] / 1000.0, 1, 0) < 0)
            rc = nomem(err);
        else
            rc = wp_stream_step(&st, err);
    }
    wp_stream_close(&st);
    wp_envelope_finish(e);
    return rc;
}

/* The node meters, each its own timeline: node inputs, then PDU inlets, then PDU outlets, so
 * that on a page too full for all of them the outlets are the ones left out. */
static int node_timelines(struct wp_timelines *tl, struct wp_err *err)
{
    static const enum wp_scope order[] = {WP_SCOPE_NODE_INPUT, WP_SCOPE_PDU_INLET,
                                          WP_SCOPE_PDU_OUTLET};
    const struct wp_sensors *tab = wp_trace_sensors(tl->t);
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        for (size_t i = 0; i < tab->n; i++) {
            const struct wp_sensor *row = &tab->v[i];
            if (row->quantity != WP_Q_POWER || row->kind != WP_GAUGE || row->scope != order[k])
                continue;
            int rc = node_timeline(tl, row, err);
            if (rc < 0)
                return rc;
        }
    return 0;
}

/* every sample of row in the zoom window, at most WP_ZOOM_MAX_POINTS */
static int zoom_series(struct wp_timelines *tl, const struct wp_timeline *of, struct wp_err *err)
{
    if (tl->nzoom == WP_TIMELINE_MAX)
        return 0;
    struct wp_zoom_series *z = &tl->zoom[tl->nzoom++];
    memset(z, 0, sizeof(*z));
    z->of = of;
    if (tl->zoom_to_us < tl->zoom_from_us)
        return 0;
    struct wp_stream st;
    size_t cap = 0;
    int rc =
        wp_stream_open_window(tl->t, of->row, true, tl->zoom_from_us, tl->zoom_to_us, &st, err);
    while (rc == 0 && !st.end && z->n < WP_ZOOM_MAX_POINTS) {
        int64_t t = st.t[st.i];
        if (t > tl->zoom_to_us)
            break;
        if (t >= tl->zoom_from_us) {
            if (z->n == cap) {
                cap = cap ? 2 * cap : 1024;
                int64_t *nt = realloc(z->t_us, cap * sizeof(*nt));
                if (nt)
                    z->t_us = nt;
                double *nw = realloc(z->w, cap * sizeof(*nw));
                if (nw)
                    z->w = nw;
                if (!nt || !nw) {
                    rc = nomem(err);
                    break;
                }
            }
            z->t_us[z->n] = t;
            z->w[z->n] = (double)st.v[st.i] / 1000.0;
            z->n++;
        }
        rc = wp_stream_step(&st, err);
    }
    wp_stream_close(&st);
    return rc;
}

int wp_timelines_finish(struct wp_timelines *tl, const struct wp_summary *s, struct wp_err *err)
{
    if (tl->rc < 0) {
        *err = tl->err;
        return tl->rc;
    }
    /* a summary without a pass (no GPU power at all) never called begin */
    if (!tl->gpu_timeline) {
        tl->start_us = s->start_us;
        tl->end_us = s->end_us;
    }
    for (size_t i = 0; i < tl->n; i++)
        wp_envelope_finish(&tl->v[i].env);
    int rc = node_timelines(tl, err);
    if (rc < 0)
        return rc;
    bool asked = isfinite(tl->zoom_from_s) && isfinite(tl->zoom_to_s);
    if (asked) {
        tl->zoom_from_us = s->start_us + (int64_t)llround(tl->zoom_from_s * 1e6);
        tl->zoom_to_us = s->start_us + (int64_t)llround(tl->zoom_to_s * 1e6);
    } else {
        const struct wp_envelope *e = tl->n ? &tl->v[0].env : NULL;
        int64_t mid = !e || isnan(e->max_w) ? s->start_us : e->max_t_us;
        tl->zoom_from_us = mid - (int64_t)(WP_ZOOM_DEFAULT_S / 2 * 1e6);
        tl->zoom_to_us = mid + (int64_t)(WP_ZOOM_DEFAULT_S / 2 * 1e6);
        if (tl->zoom_from_us < s->start_us)
            tl->zoom_from_us = s->start_us;
        if (tl->zoom_to_us > s->end_us)
            tl->zoom_to_us = s->end_us;
    }
    for (size_t i = 0; i < tl->n && rc == 0; i++)
        if (tl->v[i].kind != WP_TIMELINE_SUM)
            rc = zoom_series(tl, &tl->v[i], err);
    return rc;
}

void wp_timelines_free(struct wp_timelines *tl)
{
    for (size_t i = 0; i < tl->n; i++)
        wp_envelope_free(&tl->v[i].env);
    for (size_t i = 0; i < tl->nzoom; i++) {
        free(tl->zoom[i].t_us);
        free(tl->zoom[i].w);
    }
    free(tl->gpu_timeline);
    memset(tl, 0, sizeof(*tl));
}
