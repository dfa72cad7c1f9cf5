/* The cluster view of a merged trace; see cluster.h. Each node is summarised through its view
 * (wp_trace_node), so a node's numbers in the cluster are those of its own trace by
 * construction. The aligned peak needs the GPUs' series side by side, so they are read again
 * here (the node summaries free theirs). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cluster.h"
#include "analysis/energy.h"
#include "analysis/node.h"

#define PEAK_WINDOW_US 1000000
/* The summed grid is kept in memory: 100 M points is 23 days at 20 ms (800 MB). A longer
 * window is a damaged trace or a merge of unrelated recordings. */
#define MAX_GRID_POINTS 100000000

struct gpu_series {
    struct wp_series ser; /* mW */
    int64_t hold_us;
};

static const struct wp_sensor *power_row(const struct wp_sensors *tab,
                                         const struct wp_gpu_summary *g)
{
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (s->scope == WP_SCOPE_GPU && s->device == g->index && s->quantity == WP_Q_POWER &&
            strcmp(s->name, g->power_sensor) == 0 && strcmp(s->uuid, g->uuid) == 0)
            return s;
    }
    return NULL;
}

/* Loads the series each node summary used for its GPUs. *k counts those loaded; a GPU
 * without one leaves the aligned peak undefined (*all = false). */
static int load_gpu_series(const struct wp_trace *view, const struct wp_summary *s,
                           struct gpu_series *v, size_t *k, bool *all, struct wp_err *err)
{
    const struct wp_sensors *tab = wp_trace_sensors(view);
    for (size_t i = 0; i < s->ngpus; i++) {
        const struct wp_gpu_summary *g = &s->gpus[i];
        const struct wp_sensor *row = g->power_sensor[0] ? power_row(tab, g) : NULL;
        if (!row) {
            *all = false;
            continue;
        }
        struct gpu_series *gs = &v[*k];
        int rc = wp_trace_series(view, row->id, &gs->ser, err);
        if (rc == 0 && (rc = wp_series_to_canonical(&gs->ser, row, err)) < 0)
            wp_series_free(&gs->ser);
        if (rc < 0)
            return rc;
        gs->hold_us = row->cadence_us;
        if (gs->hold_us <= 0) {
            double ms;
            if (wp_median_interval_ms(gs->ser.t_us, gs->ser.n, &ms) < 0) {
                wp_series_free(&gs->ser);
                return wp_errf(err, -ENOMEM, "out of memory summarising the cluster");
            }
            gs->hold_us = isnan(ms) ? 0 : llround(ms * 1000.0);
        }
        (*k)++;
        if (gs->ser.n == 0 || gs->hold_us <= 0)
            *all = false;
    }
    return 0;
}

/* The summed grid's highest point and highest 1 s mean (consecutive covered points only). */
static int aligned_peak(struct wp_cluster_summary *c, const struct gpu_series *v, size_t k,
                        struct wp_err *err)
{
    int64_t step = 0;
    for (size_t i = 0; i < k; i++)
        if (step == 0 || v[i].hold_us < step)
            step = v[i].hold_us;
    size_t len = wp_grid_len(c->start_us, c->end_us, step);
    if (len == 0)
        return 0;
    if (len > MAX_GRID_POINTS)
        return wp_errf(err, -EINVAL,
                       "the nodes span %.0f days, too long for one aligned peak; merge the "
                       "traces of one job at a time",
                       (double)(c->end_us - c->start_us) / 86400e6);
    struct wp_series_ref *refs = calloc(k, sizeof(*refs));
    double *sum = malloc(len * sizeof(*sum));
    if (!refs || !sum) {
        free(refs);
        free(sum);
        return wp_errf(err, -ENOMEM, "out of memory summarising the cluster");
    }
    for (size_t i = 0; i < k; i++)
        refs[i] = (struct wp_series_ref){v[i].ser.t_us, v[i].ser.value, v[i].ser.n, v[i].hold_us};
    int rc = wp_sum_grid(refs, k, c->start_us, c->end_us, step, sum, len);
    if (rc < 0) {
        free(refs);
        free(sum);
        return wp_errf(err, -EINVAL,
                       "a GPU's power samples are not in time order; the trace is "
                       "damaged (merge it again from the node traces)");
    }
    c->step_us = step;
    size_t win = (size_t)(PEAK_WINDOW_US / step), covered = 0, run = 0;
    double acc = 0;
    for (size_t i = 0; i < len; i++) {
        if (isnan(sum[i])) {
            run = 0;
            acc = 0;
            continue;
        }
        covered++;
        if (isnan(c->gpu_peak_w) || sum[i] > c->gpu_peak_w * 1000.0) {
            c->gpu_peak_w = sum[i] / 1000.0;
            c->gpu_peak_t_us = c->start_us + (int64_t)i * step;
        }
        acc += sum[i];
        if (++run > win)
            acc -= sum[i - win];
        if (win > 0 && run >= win &&
            (isnan(c->gpu_peak_1s_w) || acc / (double)win / 1000.0 > c->gpu_peak_1s_w))
            c->gpu_peak_1s_w = acc / (double)win / 1000.0;
    }
    c->common_s = (double)covered * (double)step / 1e6;
    free(refs);
    free(sum);
    return 0;
}

static void totals(struct wp_cluster_summary *c)
{
    c->gpu_energy_j = c->node_energy_j = 0;
    for (size_t i = 0; i < c->nnodes; i++) {
        const struct wp_summary *s = &c->nodes[i].s;
        c->ngpus += s->ngpus;
        /* NAN anywhere keeps the sum NAN: no partial cluster totals */
        c->gpu_energy_j += s->ngpus ? s->total.energy_j : NAN;
        c->node_energy_j += s->node.present ? s->node.energy_j : NAN;
        c->node_estimated |= s->node.present && s->node.estimated;
        c->partial |= s->nunmeasured > 0 || s->ndamaged > 0;
    }
}

int wp_cluster_compute(const struct wp_trace *t, const struct wp_summary_opts *opts,
                       struct wp_cluster_summary *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    out->gpu_peak_w = out->gpu_peak_1s_w = NAN;
    size_t n = wp_trace_nnodes(t);
    if (n == 0)
        return wp_errf(err, -EINVAL, "not a merged trace (it has no nodes); use `wattprof report`");
    out->nodes = calloc(n, sizeof(*out->nodes));
    size_t cap = wp_trace_sensors(t)->n, k = 0; /* more than enough for every GPU */
    struct gpu_series *gs = calloc(cap ? cap : 1, sizeof(*gs));
    if (!out->nodes || !gs) {
        free(gs);
        free(out->nodes);
        out->nodes = NULL;
        return wp_errf(err, -ENOMEM, "out of memory summarising the cluster");
    }
    int rc = 0;
    bool all = true;
    out->start_us = INT64_MAX;
    out->end_us = INT64_MIN;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct wp_trace *view;
        if ((rc = wp_trace_node(t, i, &view, err)) < 0)
            break;
        struct wp_cluster_node *nd = &out->nodes[i];
        snprintf(nd->host, sizeof(nd->host), "%s", wp_trace_node_host(t, i));
        rc = wp_summary_compute_opts(view, opts, &nd->s, err);
        if (rc == 0) {
            out->nnodes = i + 1;
            if (nd->s.start_us < out->start_us)
                out->start_us = nd->s.start_us;
            if (nd->s.end_us > out->end_us)
                out->end_us = nd->s.end_us;
            rc = load_gpu_series(view, &nd->s, gs, &k, &all, err);
        } else {
            wp_err_prefix(err, "node %s: ", nd->host);
        }
        wp_trace_free(view);
    }
    if (rc == 0) {
        out->duration_s = (double)(out->end_us - out->start_us) / 1e6;
        totals(out);
        if (all && k > 0)
            rc = aligned_peak(out, gs, k, err);
    }
    for (size_t i = 0; i < k; i++)
        wp_series_free(&gs[i].ser);
    free(gs);
    if (rc < 0)
        wp_cluster_free(out);
    return rc;
}

void wp_cluster_free(struct wp_cluster_summary *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nnodes; i++)
        wp_summary_free(&c->nodes[i].s);
    free(c->nodes);
    memset(c, 0, sizeof(*c));
}
