/* The HTML report's timelines (src/analysis/timelines.c) on a trace with more power series than
 * a page draws (WP_TIMELINE_MAX): two GPUs, a node input, a PDU inlet and 90 PDU outlets,
 * the outlets first in the trace's sensor table. The page must still be written: the sum, the
 * GPUs, the node input and the inlet drawn, outlets up to the cap, the rest counted and said
 * on the page; the node input's timeline tops at its highest sample. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_series_than_a_page_draws),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
