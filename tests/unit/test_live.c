/* The live view behind `serve` and `top` (src/recorder/live.c) and the metrics page made from
 * it (src/net/metrics.c): trailing maxima and minima from every sample, energy integrated
 * across a restarted hardware counter and not across an outage, phases from marks, the node
 * view, label escaping and content negotiation; and the recorder's tap, which must see every
 * sample the trace gets, with or without a trace. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "core/clock.h"
#include "net/metrics.h"
#include "recorder/live.h"
#include "store/trace.h"
#include "synth.h"

static void add(struct wp_sensors *tab, const char *source, int device, const char *name,
                enum wp_quantity q, enum wp_kind k, int64_t cadence_us, enum wp_scope scope)
{
    synth_sensor(tab, source, device, name, q, k, cadence_us, WP_NO_LIMIT, 0, scope, "", 1.0);
}

/* The recording's start as the tap reports it. */
static int64_t test_start_us;

static void feed(struct wp_live *l, const struct wp_sensors *tab, const struct wp_sample *s,
                 size_t n)
{
    bool up[2] = {true, true};
    struct wp_tap_batch b = {.sensors = tab,
                             .start_us = test_start_us,
                             .samples = s,
                             .n = n,
                             .source_up = up,
                             .nsources = 2};
    wp_live_feed(&b, l);
}

/* A 20 ms gauge whose values follow a known pattern: the 1/10/60 s maxima and minima are those
 * of exactly the samples in each trailing window, whatever the batching. */
static void windows_from_every_sample(void **state)
{
    (void)state;
    struct wp_sensors tab = {0};
    add(&tab, "nvml", 0, "power", WP_Q_POWER, WP_GAUGE, 20000, WP_SCOPE_GPU);
    struct wp_live *l;
    assert_int_equal(wp_live_new(&l), 0);
    int64_t t0 = wp_wall_us();
    const size_t n = 4000; /* 80 s */
    struct wp_sample *s = calloc(n, sizeof(*s));
    int64_t *v = calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = 100000 + (int64_t)((i * 7919) % 600) * 1000; /* 100..699 W, scrambled */
        s[i] = (struct wp_sample){.sensor = 0, .t_us = t0 + (int64_t)i * 20000, .value = v[i]};
    }
    v[n - 40] = 950000; /* a single 20 ms spike 0.8 s before the end */
    s[n - 40].value = v[n - 40];
    for (size_t i = 0; i < n; i += 37) /* uneven batches */
        feed(l, &tab, s + i, i + 37 <= n ? 37 : n - i);
    struct wp_live_snapshot p;
    assert_int_equal(wp_live_snapshot(l, &p), 0);
    int64_t end = s[n - 1].t_us;
    for (int w = 0; w < WP_LIVE_NWINDOWS; w++) {
        int64_t mx = INT64_MIN, mn = INT64_MAX;
        for (size_t i = 0; i < n; i++)
            if (s[i].t_us > end - wp_live_window_us[w]) {
                mx = v[i] > mx ? v[i] : mx;
                mn = v[i] < mn ? v[i] : mn;
            }
        assert_int_equal(p.s[0].max_raw[w], mx);
        assert_int_equal(p.s[0].min_raw[w], mn);
    }
    assert_int_equal(p.s[0].max_raw[0], 950000);
    assert_int_equal(p.s[0].samples, n);
    assert_int_equal(p.s[0].t_us, end);
    /* The ring keeps 60 s, not everything. */
    int64_t t[4000], r[4000];
    size_t got = wp_live_recent(l, 0, 0, t, r, 4000);
    assert_true(got >= 3000 && got <= 3002);
    assert_int_equal(t[got - 1], end);
    /* The 1 s mean is time-weighted over the window. */
    double e = 0;
    for (size_t i = n - 50; i < n; i++)
        e += (double)v[i];
    assert_true(fabs(p.s[0].mean_mw[0] - e / 50) < 1e-6);
    wp_live_snapshot_free(&p);
    wp_live_free(l);
    free(s);
    free(v);
    wp_sensors_free(&tab);
}

/* Energy: every interval counted once; a repeat of the newest sample adds nothing; after a 10 s
 * outage the next sample covers only its own cadence; the GPU's own counter restarting
 * changes nothing; only the finest gauge of a device is integrated. */
static void energy_integrated_once(void **state)
{
    (void)state;
    struct wp_sensors tab = {0};
    add(&tab, "nvml", 0, "power", WP_Q_POWER, WP_GAUGE, 20000, WP_SCOPE_GPU);
    add(&tab, "nvml", 0, "power_avg", WP_Q_POWER, WP_GAUGE, 100000, WP_SCOPE_GPU);
    add(&tab, "nvml", 0, "energy", WP_Q_ENERGY, WP_COUNTER, 10000000, WP_SCOPE_GPU);
    struct wp_live *l;
    assert_int_equal(wp_live_new(&l), 0);
    int64_t t0 = wp_wall_us();
    test_start_us = t0 - 10000; /* the first sample's hold reaches 10 ms before the start */
    struct wp_sample s[] = {
        {0, t0, 500000},               /* held back to the start, 10 ms: 5 J */
        {0, t0 + 20000, 500000},       /* 10 J */
        {0, t0 + 20000, 900000},       /* a repeat: ignored */
        {0, t0 + 40000, 250000},       /* 5 J */
        {0, t0 + 10040000, 400000},    /* after an outage: one cadence, 8 J */
        {1, t0 + 100000, 500000},      /* power_avg: not integrated */
        {2, t0, 1000000000},           /* counter */
        {2, t0 + 1000000, 1000300000}, /* +300 J in 1 s: 300 W */
        {2, t0 + 2000000, 5000},       /* restarted */
        {2, t0 + 3000000, 105000},     /* +100 J */
    };
    feed(l, &tab, s, sizeof(s) / sizeof(s[0]));
    struct wp_live_snapshot p;
    assert_int_equal(wp_live_snapshot(l, &p), 0);
    assert_true(p.s[0].primary && !p.s[1].primary);
    assert_true(fabs(p.s[0].energy_mj - 28000.0) < 1e-6);
    assert_true(fabs(p.s[1].energy_mj) < 1e-9);
    assert_true(p.s[2].has_rate && fabs(p.s[2].rate_mw - 100000.0) < 1e-6);
    assert_true(fabs(p.s[2].energy_mj - 400000.0) < 1e-6);
    assert_int_equal(p.s[0].samples, 5);
    wp_live_snapshot_free(&p);
    wp_live_free(l);
    wp_sensors_free(&tab);
}

static void phases_from_marks(void **state)
{
    (void)state;
    struct wp_sensors tab = {0};
    add(&tab, "nvml", 0, "power", WP_Q_POWER, WP_GAUGE, 20000, WP_SCOPE_GPU);
    struct wp_live *l;
    assert_int_equal(wp_live_new(&l), 0);
    struct wp_mark m[3] = {{.kind = WP_MARK_BEGIN}, {.kind = WP_MARK_BEGIN}, {.kind = WP_MARK_END}};
    snprintf(m[0].name, sizeof(m[0].name), "train");
    snprintf(m[1].name, sizeof(m[1].name), "epoch");
    snprintf(m[2].name, sizeof(m[2].name), "train");
    bool up[2] = {true, false};
    struct wp_tap_batch b = {
        .sensors = &tab, .marks = m, .nmarks = 3, .source_up = up, .nsources = 2};
    wp_live_feed(&b, l);
    struct wp_live_snapshot p;
    assert_int_equal(wp_live_snapshot(l, &p), 0);
    assert_int_equal(p.nphases, 1);
    assert_string_equal(p.phases[0], "epoch");
    assert_int_equal(p.marks_total, 3);
    assert_true(p.up[0] && !p.up[1]);
    assert_int_equal(p.generation, 1);
    wp_live_snapshot_free(&p);
    wp_live_free(l);
    wp_sensors_free(&tab);
}

static char *render(const struct wp_sensors *tab, struct wp_live *l, double rated_w, bool om)
{
    static const char *const names[] = {"nvml", "bmc"}, *const kinds[] = {"nvml", "hwmon"};
    struct wp_metrics_ctx c = {.sensors = tab,
                               .nsources = 2,
                               .source_name = names,
                               .source_kind = kinds,
                               .host = "node\"1\\\n",
                               .version = "t",
                               .rated_w = rated_w,
                               .node_allowance_w = NAN};
    struct wp_live_snapshot p;
    assert_int_equal(wp_live_snapshot(l, &p), 0);
    char *out;
    size_t len;
    assert_int_equal(wp_metrics_render(&c, &p, om, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    wp_live_snapshot_free(&p);
    return out;
}

/* Node power from the node input meter, the parts and the rest, headroom to the rating; label
 * values escaped; OpenMetrics' counter family and # EOF. */
static void metrics_page(void **state)
{
    (void)state;
    struct wp_sensors tab = {0};
    add(&tab, "nvml", 0, "power", WP_Q_POWER, WP_GAUGE, 20000, WP_SCOPE_GPU);
    add(&tab, "nvml", 1, "power", WP_Q_POWER, WP_GAUGE, 20000, WP_SCOPE_GPU);
    add(&tab, "bmc", -1, "power", WP_Q_POWER, WP_GAUGE, 1000000, WP_SCOPE_NODE_INPUT);
    snprintf(tab.v[0].device_name, sizeof(tab.v[0].device_name), "H\"200");
    struct wp_live *l;
    assert_int_equal(wp_live_new(&l), 0);
    char *before = render(&tab, l, NAN, false); /* before any batch: no sensor lines */
    assert_null(strstr(before, "wattprof_power_watts{"));
    free(before);
    int64_t t0 = wp_wall_us();
    struct wp_sample s[] = {{0, t0, 300000}, {1, t0, 200000}, {2, t0, 1200000}};
    feed(l, &tab, s, 3);
    char *txt = render(&tab, l, 10200, false);
    assert_non_null(strstr(txt, "wattprof_node_power_watts{basis=\"node_input\"} 1200\n"));
    assert_non_null(strstr(txt, "wattprof_node_parts_power_watts 500\n"));
    assert_non_null(strstr(txt, "wattprof_node_rest_watts 700\n"));
    assert_non_null(strstr(txt, "wattprof_node_headroom_watts 9000\n"));
    assert_non_null(strstr(txt, "model=\"H\\\"200\""));
    assert_non_null(strstr(txt, "host=\"node\\\"1\\\\\\n\""));
    assert_non_null(strstr(txt, "# TYPE wattprof_energy_joules_total counter\n"));
    assert_non_null(strstr(txt, "wattprof_up{source=\"bmc\",kind=\"hwmon\"} 1\n"));
    assert_null(strstr(txt, "# EOF"));
    free(txt);
    char *om = render(&tab, l, NAN, true);
    assert_non_null(strstr(om, "# TYPE wattprof_energy_joules counter\n"));
    assert_non_null(strstr(om, "# TYPE wattprof_build info\n"));
    assert_null(strstr(om, "\nwattprof_node_headroom_watts "));
    size_t n = strlen(om);
    assert_true(n > 6 && strcmp(om + n - 6, "# EOF\n") == 0);
    free(om);
    wp_live_free(l);
    wp_sensors_free(&tab);
}

static void accept_header(void **state)
{
    (void)state;
    assert_true(wp_metrics_wants_openmetrics(
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
    assert_false(wp_metrics_wants_openmetrics("text/plain;version=0.0.4"));
    assert_false(wp_metrics_wants_openmetrics(NULL));
    assert_false(wp_metrics_wants_openmetrics("application/openmetrics-text;q=0,text/plain"));
}

/* ---- the tap on a real recording (the fake NVML) ---- */

struct tap_count {
    uint64_t samples, batches;
};

static void count_tap(const struct wp_tap_batch *b, void *ctx)
{
    struct tap_count *c = ctx;
    c->samples += b->n;
    c->batches++;
}

static void nvml_config(struct wp_config *c)
{
    wp_config_init(c);
    c->no_auto = true;
    struct wp_err err = {0};
    assert_int_equal(wp_config_add_spec(c, wp_source_kinds, "nvml", true, "test", &err), 0);
}

static void tap_sees_every_recorded_sample(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/tap.wptrace", test_dir);
    struct wp_config c;
    nvml_config(&c);
    struct tap_count cnt = {0};
    struct wp_recorder_opts o = {.trace_path = path,
                                 .config = &c,
                                 .tap = count_tap,
                                 .tap_ctx = &cnt,
                                 .commit_interval_us = 200000};
    struct wp_recorder *r;
    struct wp_err err = {0};
    assert_int_equal(wp_recorder_start(&r, &o, false, &err), 0);
    usleep(1500000);
    assert_int_equal(wp_recorder_stop(r, 0, &err), 0);
    struct wp_trace *t;
    assert_int_equal(wp_trace_open(&t, path, &err), 0);
    uint64_t in_trace = 0;
    for (size_t i = 0; i < wp_trace_sensors(t)->n; i++) {
        struct wp_series s;
        assert_int_equal(wp_trace_series(t, (int)i, &s, &err), 0);
        in_trace += s.n;
        wp_series_free(&s);
    }
    wp_trace_free(t);
    assert_true(in_trace > 100);
    assert_int_equal(cnt.samples, in_trace);
    assert_true(cnt.batches >= 4);

    /* No trace: the tap still gets samples, and nothing is written. */
    struct tap_count cnt2 = {0};
    o.trace_path = NULL;
    o.tap_ctx = &cnt2;
    assert_int_equal(wp_recorder_start(&r, &o, false, &err), 0);
    usleep(600000);
    assert_int_equal(wp_recorder_stop(r, 0, &err), 0);
    assert_true(cnt2.samples > 50);
    wp_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(windows_from_every_sample),
        cmocka_unit_test(energy_integrated_once),
        cmocka_unit_test(phases_from_marks),
        cmocka_unit_test(metrics_page),
        cmocka_unit_test(accept_header),
        cmocka_unit_test(tap_sees_every_recorded_sample),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
