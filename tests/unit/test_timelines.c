/* The HTML report's timelines (src/analysis/timelines.c).
 * - A trace with more power series than a page draws (WP_TIMELINE_MAX): two GPUs, a node
 *   input, a PDU inlet and 90 PDU outlets, the outlets first in the trace's sensor table. The
 *   page must still be written: the sum, the GPUs, the node input and the inlet drawn, outlets
 *   up to the cap, the rest counted and said on the page; the node input's timeline tops at
 *   its highest sample.
 * - The GPUs' sum, folded from the summary's grid walk (which jumps from grid point to grid
 *   point in its steady state), against the same envelope drawn from energy.c's independent
 *   summed grid (wp_sum_grid_runs), column by column: GPUs sampled at jittered times that do
 *   not line up, with a gap, and a phase whose grid falls between the run's points. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/energy.h"
#include "analysis/summary.h"
#include "analysis/timelines.h"
#include "core/sensor.h"
#include "report/html.h"
#include "store/trace.h"
#include "synth.h"
#include "tmpdir.h"

#define OUTLETS  90
#define RUN_S    20
#define NODE_TOP 4321 /* W, the node input's highest sample, at 7 s */

static int add(struct wp_sensors *tab, const char *source, int device, const char *name,
               int64_t cadence_us, enum wp_scope scope, int64_t limit_mw, double scale)
{
    return synth_sensor(tab, source, device, name, WP_Q_POWER, WP_GAUGE, cadence_us,
                        limit_mw ? limit_mw : WP_NO_LIMIT, 0, scope, scale == 1 ? "mW" : "W",
                        scale);
}

static void write_trace(const char *path)
{
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_set(&meta, "command", "torchrun train.py");
    wp_meta_setf(&meta, "start_us", "%lld", (long long)T0);
    wp_meta_setf(&meta, "end_us", "%lld", (long long)(T0 + RUN_S * S));
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);

    struct wp_sensors tab = {0};
    int out[OUTLETS];
    for (int i = 0; i < OUTLETS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "power_%d", i + 1);
        out[i] = add(&tab, "pdu", i + 1, name, S, WP_SCOPE_PDU_OUTLET, 0, 1000);
    }
    int inlet = add(&tab, "pdu", -1, "inlet", S, WP_SCOPE_PDU_INLET, 0, 1000);
    int node = add(&tab, "bmc", 0, "power", S, WP_SCOPE_NODE_INPUT, 0, 1000);
    int g0 = add(&tab, "nvml", 0, "power", 20 * MS, WP_SCOPE_GPU, 700000, 1);
    int g1 = add(&tab, "nvml", 1, "power", 20 * MS, WP_SCOPE_GPU, 700000, 1);
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    wp_sensors_free(&tab);

    for (int k = 0; k <= RUN_S; k++) {
        int64_t t = T0 + (int64_t)k * S;
        for (int i = 0; i < OUTLETS; i++)
            synth_put(w, out[i], t, 100 + i);
        synth_put(w, inlet, t, 30000);
        synth_put(w, node, t, k == 7 ? NODE_TOP : 2000);
    }
    for (int k = 0; k <= RUN_S * 50; k++) {
        int64_t t = T0 + (int64_t)k * 20 * MS;
        synth_put(w, g0, t, 500000);
        synth_put(w, g1, t, 600000);
    }
    assert_int_equal(wp_trace_commit(w, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
}

static void test_more_series_than_a_page_draws(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/pdu.wptrace", test_dir);
    write_trace(path);

    struct wp_err err = {0};
    struct wp_trace *t;
    assert_int_equal(wp_trace_open(&t, path, &err), 0);
    struct wp_summary_opts opts = {.rated_w = 10200};
    struct wp_timelines tl;
    wp_timelines_init(&tl, t, NAN, NAN, &opts);
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    if (wp_summary_compute_opts(t, &opts, &s, &err) != 0)
        fail_msg("summary: %s", err.msg);
    if (wp_timelines_finish(&tl, &s, &err) != 0)
        fail_msg("timelines: %s", err.msg);

    /* sum, 2 GPUs, node input, inlet, then 75 of the 90 outlets */
    assert_int_equal(tl.n, WP_TIMELINE_MAX);
    assert_int_equal(tl.left_out, 5 + OUTLETS - WP_TIMELINE_MAX);
    assert_int_equal(tl.v[0].kind, WP_TIMELINE_SUM);
    assert_int_equal(tl.v[1].kind, WP_TIMELINE_GPU);
    assert_int_equal(tl.v[2].kind, WP_TIMELINE_GPU);
    assert_int_equal(tl.v[3].kind, WP_TIMELINE_NODE);
    assert_int_equal(tl.v[3].row->scope, WP_SCOPE_NODE_INPUT);
    assert_int_equal(tl.v[4].row->scope, WP_SCOPE_PDU_INLET);
    for (size_t i = 5; i < tl.n; i++) {
        assert_int_equal(tl.v[i].row->scope, WP_SCOPE_PDU_OUTLET);
        assert_int_equal(tl.v[i].row->device, (int)(i - 4)); /* outlets in the trace's order */
    }
    assert_true(tl.v[3].env.max_w == NODE_TOP);
    assert_true(tl.v[0].env.max_w == 1100);
    /* every drawn series but the sum has its samples in the zoom */
    assert_int_equal(tl.nzoom, WP_TIMELINE_MAX - 1);

    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    assert_non_null(f);
    if (wp_html_trace(f, t, &s, &tl, &err) != 0)
        fail_msg("html: %s", err.msg);
    fclose(f);
    char want[128];
    snprintf(want, sizeof(want), "%d more power series are not drawn",
             5 + OUTLETS - WP_TIMELINE_MAX);
    assert_non_null(strstr(page, want));
    assert_non_null(strstr(page, "node: bmc/power (node_input)"));
    assert_non_null(strstr(page, "node: pdu/power_75 "));
    assert_null(strstr(page, "node: pdu/power_76 "));
    assert_non_null(strstr(page, "</html>"));
    free(page);
    wp_timelines_free(&tl);
    wp_summary_free(&s);
    wp_trace_free(t);
}

#define SUM_RUN_S 30

/* GPU g's power at sample k: a slow ramp and a fast wobble that differ between the GPUs */
static int64_t sum_mw(int g, int k)
{
    return 200000 + 1000 * (k % 397) + (g ? 37000 : 11000) * ((k * (g + 3)) % 7);
}

static void put_series(struct wp_trace_writer *w, int id, int g, int64_t *t, int64_t *v, size_t *n)
{
    *n = 0;
    for (int k = 0;; k++) {
        /* 20 ms with a jitter of up to +-3 ms; GPU 1 starts 7 ms late; GPU 0 misses 9.2-9.6 s */
        int64_t at = T0 + (g ? 7 * MS : 0) + (int64_t)k * 20 * MS + ((k * 7919 + g) % 7 - 3) * MS;
        if (at > T0 + SUM_RUN_S * S + 40 * MS)
            break;
        if (g == 0 && at > T0 + 9200 * MS && at < T0 + 9600 * MS)
            continue;
        t[*n] = at;
        v[*n] = sum_mw(g, k);
        synth_put(w, id, at, v[*n]);
        (*n)++;
    }
}

struct ref_push {
    struct wp_envelope *e;
    int64_t t_us, step_us;
};

static void ref_cb(void *ctx, double sum, size_t count)
{
    struct ref_push *p = ctx;
    if (!isnan(sum))
        assert_int_equal(wp_envelope_push(p->e, p->t_us, sum / 1000.0, count, p->step_us), 0);
    p->t_us += (int64_t)count * p->step_us;
}

static void test_sum_matches_the_summed_grid(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/sum.wptrace", test_dir);
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_setf(&meta, "start_us", "%lld", (long long)T0);
    wp_meta_setf(&meta, "end_us", "%lld", (long long)(T0 + SUM_RUN_S * S));
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);
    struct wp_sensors tab = {0};
    int id[2];
    for (int g = 0; g < 2; g++)
        id[g] = synth_sensor(&tab, "nvml", g, "power", WP_Q_POWER, WP_GAUGE, 20 * MS, 700000, 0,
                             WP_SCOPE_GPU, "mW", 1);
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    wp_sensors_free(&tab);
    size_t cap = SUM_RUN_S * 50 + 10, n[2];
    int64_t *t[2], *v[2];
    for (int g = 0; g < 2; g++) {
        t[g] = malloc(cap * sizeof(int64_t));
        v[g] = malloc(cap * sizeof(int64_t));
        assert_true(t[g] && v[g]);
        put_series(w, id[g], g, t[g], v[g], &n[g]);
        assert_true(n[g] < cap);
    }
    /* a phase from 3.0113 s to 21.5 s: its grid points fall between the run's */
    struct wp_mark m = {.t_us = T0 + 3011300, .kind = WP_MARK_BEGIN};
    snprintf(m.name, sizeof(m.name), "train");
    assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
    m.t_us = T0 + 21500 * MS;
    m.kind = WP_MARK_END;
    assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
    assert_int_equal(wp_trace_commit(w, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);

    struct wp_trace *tr;
    assert_int_equal(wp_trace_open(&tr, path, &err), 0);
    struct wp_summary_opts opts = {.rated_w = NAN};
    struct wp_timelines tl;
    wp_timelines_init(&tl, tr, NAN, NAN, &opts);
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    if (wp_summary_compute_opts(tr, &opts, &s, &err) != 0)
        fail_msg("summary: %s", err.msg);
    if (wp_timelines_finish(&tl, &s, &err) != 0)
        fail_msg("timelines: %s", err.msg);
    assert_int_equal(s.nphases, 1);
    assert_int_equal(tl.v[0].kind, WP_TIMELINE_SUM);
    assert_int_equal(tl.sum_step_us, 20 * MS);

    struct wp_envelope ref;
    assert_int_equal(wp_envelope_init(&ref, T0, T0 + SUM_RUN_S * S, WP_TIMELINE_COLS), 0);
    struct wp_series_ref refs[2] = {{t[0], v[0], n[0], 20 * MS}, {t[1], v[1], n[1], 20 * MS}};
    struct ref_push rp = {&ref, T0, 20 * MS};
    assert_int_equal(wp_sum_grid_runs(refs, 2, T0, T0 + SUM_RUN_S * S, 20 * MS, ref_cb, &rp), 0);
    wp_envelope_finish(&ref);

    const struct wp_envelope *e = &tl.v[0].env;
    assert_true(ref.samples > 1400 && e->samples == ref.samples);
    assert_true(e->max_w == ref.max_w && e->max_t_us == ref.max_t_us);
    assert_true(e->max_w == s.total.peak_w);
    size_t drawn = 0;
    for (size_t l = 0; l < WP_ENV_LAYERS; l++)
        for (size_t c = 0; c < WP_TIMELINE_COLS; c++) {
            double a = e->layer[l].min_w[c], b = ref.layer[l].min_w[c];
            double x = e->layer[l].max_w[c], y = ref.layer[l].max_w[c];
            if (!((isnan(a) && isnan(b)) || a == b) || !((isnan(x) && isnan(y)) || x == y))
                fail_msg("layer %zu column %zu: min %.17g vs %.17g, max %.17g vs %.17g", l, c, a, b,
                         x, y);
            drawn += !isnan(a);
        }
    assert_true(drawn > WP_TIMELINE_COLS); /* not an empty envelope that agrees with itself */
    assert_int_equal(e->nhist, ref.nhist);
    assert_memory_equal(e->hist, ref.hist, ref.nhist * sizeof(*ref.hist));

    wp_envelope_free(&ref);
    for (int g = 0; g < 2; g++) {
        free(t[g]);
        free(v[g]);
    }
    wp_timelines_free(&tl);
    wp_summary_free(&s);
    wp_trace_free(tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_series_than_a_page_draws),
        cmocka_unit_test(test_sum_matches_the_summed_grid),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
