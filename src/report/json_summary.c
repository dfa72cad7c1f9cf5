/* The summary as JSON (wattprof report --json). What it writes (missing values are null, never 0):
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

#include "core/json.h"
#include "report/report.h"
#include "report/swings_out.h"

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
    kstr_or_null(&j, "command", s->command); /* null for record: no command ran */
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
        for (size_t u = 0; u < WP_NPER_UNITS; u++)
            wp_json_kdouble(&j, wp_per_units[u].json, p->per_unit_j[u]);
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
