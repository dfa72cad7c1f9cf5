/* The summary: numbers from a trace written with the store writer (synthetic power whose
 * energy, mean, peaks and counter difference are worked out by hand), the text block, and
 * the JSON, which python3 parses back (strict UTF-8, strict JSON) to check values and nulls. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "analysis/summary.h"
#include "report/report.h"
#include "core/json.h"
#include "store/trace.h"

#include "near.h"
#include "synth.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/wp-test-summary-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    if (getenv("KEEP")) /* KEEP=1 leaves the traces for inspection */
        return 0;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* An NVML-like row in canonical units: nvml sensors are GPUs, anything else "other". */
static int add_sensor(struct wp_sensors *tab, const char *source, int device, const char *name,
                      enum wp_quantity q, enum wp_kind kind, int64_t cadence_us, int64_t limit,
                      int64_t wrap_at)
{
    return synth_sensor(tab, source, device, name, q, kind, cadence_us, limit, wrap_at,
                        strcmp(source, "nvml") == 0 ? WP_SCOPE_GPU : WP_SCOPE_OTHER, "", 1.0);
}

#define WRAP1 4294967296LL /* GPU 1's counter wraps at 2^32 mJ in this synthetic trace */

/* Two GPUs over the run [T0, T0 + 10 s]:
 *   GPU 0, "power" (20 ms): 100 W, with five single 700 W samples at 1, 3, 5, 7, 9 s, and
 *     800 W outside the run (1 s of buffer history before, 1 s after) that must not count.
 *     Also "power_avg" at a constant 999 W, which must be ignored for the finer series.
 *     Limit 700 W. Counter read at -2 s (too early to stand for the start), -179 us (as the
 *     recorder does, just before stamping start_us), +5.001 s, +9.999 s: 1060 J apart.
 *   GPU 1, "power_instant" only (20 ms): 300 W, with samples 100..104 missing (one 120 ms
 *     gap). Limit 600 W. Counter read at +2 ms, +5 s, +9.998 s, +10.003 s (just after the
 *     end), +10.5 s (too late): 3003 J between the first and the +10.003 s reading, wrapping
 *     at 2^32 mJ in between.
 * Plus sensors that are not GPUs: a rapl power sensor and an nvml sensor without a device. */
static void write_two_gpu_trace(const char *path, bool with_window, bool counter_backwards)
{
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_set(&meta, "command", "python3 train.py --lr 0.1");
    if (with_window) {
        wp_meta_setf(&meta, "start_us", "%lld", (long long)T0);
        wp_meta_setf(&meta, "end_us", "%lld", (long long)(T0 + 10 * S));
        wp_meta_set(&meta, "exit_code", "3");
    }
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);

    struct wp_sensors tab = {0};
    int rapl = add_sensor(&tab, "rapl", 0, "package", WP_Q_POWER, WP_GAUGE, 20 * MS, 0, 0);
    int p0 = add_sensor(&tab, "nvml", 0, "power", WP_Q_POWER, WP_GAUGE, 20 * MS, 700000, 0);
    int a0 = add_sensor(&tab, "nvml", 0, "power_avg", WP_Q_POWER, WP_GAUGE, 100 * MS, 700000, 0);
    int e0 = add_sensor(&tab, "nvml", 0, "energy", WP_Q_ENERGY, WP_COUNTER, 5 * S, WP_NO_LIMIT, 0);
    int p1 = add_sensor(&tab, "nvml", 1, "power_instant", WP_Q_POWER, WP_GAUGE, 20 * MS, 600000, 0);
    int e1 =
        add_sensor(&tab, "nvml", 1, "energy", WP_Q_ENERGY, WP_COUNTER, 5 * S, WP_NO_LIMIT, WRAP1);
    int sys = add_sensor(&tab, "nvml", -1, "power", WP_Q_POWER, WP_GAUGE, 20 * MS, 0, 0);
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    wp_sensors_free(&tab);

    for (int k = -50; k <= 550; k++) {
        int64_t t = T0 + (int64_t)k * 20 * MS;
        int64_t v0 = k < 0 || k > 500 ? 800000 : k % 100 == 50 ? 700000 : 100000;
        synth_put(w, p0, t, v0);
        if (!(k >= 100 && k <= 104))
            synth_put(w, p1, t, k < 0 || k > 500 ? 800000 : 300000);
        synth_put(w, rapl, t, 5000000);
        synth_put(w, sys, t, 5000000);
        if (k % 5 == 0)
            synth_put(w, a0, t, 999000);
    }
    int64_t base0 = 123456789000;
    synth_put(w, e0, T0 - 2 * S, base0 - 50000);
    synth_put(w, e0, T0 - 179, base0);
    synth_put(w, e0, T0 + 5001 * MS, counter_backwards ? base0 - 1000 : base0 + 530000);
    synth_put(w, e0, T0 + 9999 * MS, base0 + 1060000);
    synth_put(w, e1, T0 + 2 * MS, WRAP1 - 1000000);
    synth_put(w, e1, T0 + 5 * S, 500000);
    synth_put(w, e1, T0 + 9998 * MS, 2000000);
    synth_put(w, e1, T0 + 10003 * MS, 2003000);
    synth_put(w, e1, T0 + 10500 * MS, 5003000);
    assert_int_equal(wp_trace_commit(w, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
}

static void compute(const char *path, struct wp_summary *s)
{
    struct wp_err err = {0};
    struct wp_trace *t;
    if (wp_trace_open(&t, path, &err) != 0)
        fail_msg("opening %s: %s", path, err.msg);
    if (wp_summary_compute(t, s, &err) != 0)
        fail_msg("summary of %s: %s", path, err.msg);
    wp_trace_free(t);
}

static void test_summary_from_trace(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/two.wptrace", tmpdir);
    write_two_gpu_trace(path, true, false);
    struct wp_summary s;
    compute(path, &s);

    assert_string_equal(s.command, "python3 train.py --lr 0.1");
    assert_true(s.has_exit_code);
    assert_int_equal(s.exit_code, 3);
    assert_string_equal(s.replay, "");
    assert_int_equal(s.start_us, T0);
    assert_int_equal(s.end_us, T0 + 10 * S);
    assert_near(s.duration_s, 10.0, 1e-12);
    assert_int_equal(s.ngpus, 2); /* rapl and the device-less nvml sensor are not GPUs */

    const struct wp_gpu_summary *g = &s.gpus[0];
    assert_int_equal(g->index, 0);
    assert_string_equal(g->power_sensor, "power");
    assert_string_equal(g->uuid, "GPU-0-uuid");
    assert_string_equal(g->name, "NVIDIA H200");
    assert_near(g->limit_w, 700.0, 1e-12);
    /* 100 W x 10 s + 5 spikes x 600 W extra x 20 ms */
    assert_near(g->energy_j, 1060.0, 1e-6);
    assert_near(g->mean_w, 106.0, 1e-6);
    assert_near(g->covered_s, 10.0, 1e-12);
    assert_near(g->peak_w, 700.0, 1e-12); /* the 800 W outside the run must not show */
    assert_near(g->peak_1s_w, 100.0 + 600.0 * 0.02, 1e-6); /* spikes are 2 s apart */
    /* 501 samples in [T0, T0+10 s], 5 of them 700 W: rank 495 of 0..500 is still 100 W */
    assert_near(g->p99_w, 100.0, 1e-9);
    assert_near(g->peak_pct_limit, 100.0, 1e-9);
    assert_int_equal(g->samples, 501);
    assert_near(g->median_interval_ms, 20.0, 1e-12);
    assert_int_equal(g->gaps, 0);
    /* Counter window [T0-179 us, T0+9.999 s]: 9.999179 s at 100 W (sample 0 covers the
     * 179 us before T0) + the 5 spikes in the trace, against 1060 J on the counter. */
    assert_false(g->counter_fault);
    assert_near(g->counter_energy_j, 1060.0, 1e-9);
    const double trace0 = 100.0 * 9.999179 + 60.0;
    assert_near(g->counter_diff_pct, (trace0 - 1060.0) / 1060.0 * 100.0, 1e-9);

    g = &s.gpus[1];
    assert_int_equal(g->index, 1);
    assert_string_equal(g->power_sensor, "power_instant");
    assert_string_equal(g->uuid, "GPU-1-uuid");
    assert_near(g->limit_w, 600.0, 1e-12);
    assert_near(g->energy_j, 3000.0, 1e-6); /* the gap is held at 300 W */
    assert_near(g->mean_w, 300.0, 1e-6);
    assert_near(g->peak_w, 300.0, 1e-12);
    assert_near(g->peak_1s_w, 300.0, 1e-6);
    assert_near(g->p99_w, 300.0, 1e-9);
    assert_near(g->peak_pct_limit, 50.0, 1e-9);
    assert_int_equal(g->samples, 496);
    assert_near(g->median_interval_ms, 20.0, 1e-12);
    assert_int_equal(g->gaps, 1);
    /* Wraps at 2^32: 1000 J up to the wrap, then 2003 J. The trace over [T0+2 ms,
     * T0+10.003 s]: 9.998 s at 300 W, then 3 ms of the 800 W sample that follows the run. */
    assert_near(g->counter_energy_j, 3003.0, 1e-9);
    const double trace1 = 300.0 * 9.998 + 800.0 * 0.003;
    assert_near(g->counter_diff_pct, (trace1 - 3003.0) / 3003.0 * 100.0, 1e-9);

    assert_near(s.total.energy_j, 4060.0, 1e-6);
    assert_near(s.total.counter_energy_j, 4063.0, 1e-9);
    assert_near(s.total.counter_diff_pct, (trace0 + trace1 - 4063.0) / 4063.0 * 100.0, 1e-9);
    assert_near(s.total.mean_w, 406.0, 1e-6);
    assert_near(s.total.peak_w, 1000.0, 1e-9); /* a 700 W spike on GPU 0 + 300 W on GPU 1 */
    wp_summary_free(&s);
}

/* Without start_us/end_us (a recorder killed before writing them) the window is the data's
 * span; a counter that goes backwards is a fault, not a number. */
static void test_summary_data_span_and_counter_fault(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/span.wptrace", tmpdir);
    write_two_gpu_trace(path, false, true);
    struct wp_summary s;
    compute(path, &s);
    assert_false(s.has_exit_code);
    /* span of the power data: k = -50 .. 550 */
    assert_int_equal(s.start_us, T0 - 1 * S);
    assert_int_equal(s.end_us, T0 + 11 * S);
    assert_near(s.duration_s, 12.0, 1e-12);
    /* GPU 0: the first sample covers nothing, samples -49..-1 cover 0.98 s at 800 W, sample
     * 0 covers 20 ms at 100 W, then the run's 1060 J, then 1 s at 800 W */
    assert_near(s.gpus[0].energy_j, 0.98 * 800.0 + 0.02 * 100.0 + 1060.0 + 800.0, 1e-6);
    assert_near(s.gpus[0].peak_w, 800.0, 1e-12);
    assert_int_equal(s.gpus[0].samples, 601);
    assert_true(s.gpus[0].counter_fault);
    assert_true(isnan(s.gpus[0].counter_energy_j));
    assert_true(isnan(s.gpus[0].counter_diff_pct));
    /* GPU 1's counter is fine, but the total needs every GPU's */
    assert_false(s.gpus[1].counter_fault);
    assert_near(s.gpus[1].counter_energy_j, 6003.0, 1e-9); /* now +10.5 s is inside */
    assert_true(isnan(s.total.counter_energy_j));
    assert_true(isnan(s.total.counter_diff_pct));
    assert_false(isnan(s.total.energy_j));

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    wp_summary_print_text(f, &s);
    fclose(f);
    assert_non_null(strstr(text, "exit code unknown"));
    assert_non_null(strstr(text, "gpu 0: energy counter went backwards"));
    assert_null(strstr(text, "gpu 1: energy counter went backwards"));
    free(text);
    wp_summary_free(&s);
}

/* One GPU at 200 W every 20 ms from T0 to T0 + 2.98 s, counter read at T0 and at
 * T0 + counter_end_ms, 200 W x that long apart. Run window [T0, T0 + run_ms]. */
static void write_short_trace(const char *path, int run_ms, int counter_end_ms)
{
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_setf(&meta, "start_us", "%lld", (long long)T0);
    wp_meta_setf(&meta, "end_us", "%lld", (long long)(T0 + run_ms * MS));
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);
    struct wp_sensors tab = {0};
    int p = add_sensor(&tab, "nvml", 0, "power", WP_Q_POWER, WP_GAUGE, 20 * MS, 700000, 0);
    int e = add_sensor(&tab, "nvml", 0, "energy", WP_Q_ENERGY, WP_COUNTER, 5 * S, WP_NO_LIMIT, 0);
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    wp_sensors_free(&tab);
    for (int k = 0; k <= 149; k++)
        synth_put(w, p, T0 + (int64_t)k * 20 * MS, 200000);
    synth_put(w, e, T0, 1000000);
    synth_put(w, e, T0 + counter_end_ms * MS, 1000000 + 200 * (int64_t)counter_end_ms);
    assert_int_equal(wp_trace_close(w, &err), 0);
}

/* The driver buffer's last sample usually comes a little before the final counter read; the
 * comparison must not read that missing tail as a sensor difference. */
static void test_counter_diff_uses_covered_mean(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/short.wptrace", tmpdir);
    /* power covers [T0, T0+2.98 s] of the counter's [T0, T0+3 s]: 596 J of 600 J if the
     * missing 20 ms counted as zero (-0.67 %), 0 % with the covered mean */
    write_short_trace(path, 3000, 3000);
    struct wp_summary s;
    compute(path, &s);
    assert_near(s.gpus[0].counter_energy_j, 600.0, 1e-9);
    assert_near(s.gpus[0].counter_diff_pct, 0.0, 1e-9);
    assert_near(s.gpus[0].energy_j, 596.0, 1e-6); /* the run's energy is not extrapolated */
    assert_near(s.gpus[0].covered_s, 2.98, 1e-12);
    wp_summary_free(&s);

    /* A counter window that the series covers for less than 90 %: no comparison. */
    write_short_trace(path, 4000, 4000);
    compute(path, &s);
    assert_near(s.gpus[0].counter_energy_j, 800.0, 1e-9);
    assert_true(isnan(s.gpus[0].counter_diff_pct));
    assert_true(isnan(s.total.counter_diff_pct));
    /* the text says the run is not fully covered */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    wp_summary_print_text(f, &s);
    fclose(f);
    assert_non_null(strstr(text, "gpu 0: power samples cover only 74.5 % of the run"));
    free(text);
    wp_summary_free(&s);
}

static void test_summary_rejects_bad_meta(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/badmeta.wptrace", tmpdir);
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_set(&meta, "start_us", "12abc");
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);
    assert_int_equal(wp_trace_close(w, &err), 0);

    struct wp_trace *t;
    assert_int_equal(wp_trace_open(&t, path, &err), 0);
    struct wp_summary s;
    assert_int_equal(wp_summary_compute(t, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "start_us"));
    assert_null(s.gpus);
    wp_trace_free(t);
}

/* ---- the node view ---- */

enum node_meter { NM_INPUT, NM_PDU, NM_NONE };

struct node_trace {
    enum node_meter meter;
    bool gpus, rapl, psys, temp_only, window;
    const char *rated_w, *allowance_w; /* meta values, NULL for none */
    int64_t outlet_extra_w;            /* the outlets draw this much more than the input meter */
};

#define RAPL_WRAP 262143328850LL /* a real max_energy_range_uj */

/* A RAPL counter reading at k s for a domain drawing watts, in uJ, wrapping like the real one. */
static int64_t rapl_uj(int64_t start_uj, int64_t watts, int k)
{
    return (start_uj + (int64_t)k * watts * 1000000) % RAPL_WRAP;
}

/* 120 s, [T0, T0 + 120 s], every reading at whole steps from T0:
 *   node input "bmc/power" (1 s, in W: scale 1000): 2000 W, 3000 W over (30 s, 90 s], 8400 W
 *     at 60 s: 305400 J, mean 2545 W, 1 s peak 8400 W, 60 s peak (59 x 3000 + 8400) / 60 =
 *     3090 W. Plus "bmc/power_avg" (10 s, 9999 W), which must be neither chosen nor summed.
 *   PDU outlets pdu-a and pdu-b, outlet 3 (1 s, W): half the node each, so their sum is the
 *     node; the PDU's inlet (all its outlets) at 50 kW must never count.
 *   GPU 0 nvml "power" (100 ms, mW): 500 W, 900 W at 60 s: 60040 J. GPU 1 in uW (scale
 *     0.001), 600 W, limit 700 W: 72000 J. Together 132040 J, 1100.33 W, peak 1500 W.
 *   RAPL (uJ, scale 0.001, read every 1 s): package 0 at 150 W, starting 5000 J before the
 *     wrap (so it wraps at 33.3 s); package 1 at 120 W; dram 0 at 30 W. Parts: 32400 J / 270 W
 *     and 3600 J / 30 W. With psys: a psys counter at 400 W, which holds package and DRAM.
 *   temp_only: nothing but a temperature. */
static void write_node_trace(const char *path, const struct node_trace *o)
{
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_set(&meta, "command", "torchrun train.py");
    if (o->window) {
        wp_meta_setf(&meta, "start_us", "%lld", (long long)T0);
        wp_meta_setf(&meta, "end_us", "%lld", (long long)(T0 + 120 * S));
    }
    if (o->rated_w)
        wp_meta_set(&meta, "node.rated_w", o->rated_w);
    if (o->allowance_w)
        wp_meta_set(&meta, "node.allowance_w", o->allowance_w);
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);

    struct wp_sensors tab = {0};
    int temp = synth_sensor(&tab, "hwmon", 0, "temp", WP_Q_TEMP, WP_GAUGE, S, WP_NO_LIMIT, 0,
                            WP_SCOPE_OTHER, "", 1);
    int in = -1, in_avg = -1, out_a = -1, out_b = -1, inlet = -1, g0 = -1, g1 = -1;
    int pk0 = -1, pk1 = -1, dram = -1, psys = -1;
    if (!o->temp_only) {
        if (o->meter == NM_INPUT) {
            in = synth_sensor(&tab, "bmc", 0, "power", WP_Q_POWER, WP_GAUGE, S, WP_NO_LIMIT, 0,
                              WP_SCOPE_NODE_INPUT, "W", 1000);
            in_avg = synth_sensor(&tab, "bmc", 0, "power_avg", WP_Q_POWER, WP_GAUGE, 10 * S,
                                  WP_NO_LIMIT, 0, WP_SCOPE_NODE_INPUT, "W", 1000);
        }
        if (o->meter != NM_NONE) {
            out_a = synth_sensor(&tab, "pdu-a", 3, "power_3", WP_Q_POWER, WP_GAUGE, S, WP_NO_LIMIT,
                                 0, WP_SCOPE_PDU_OUTLET, "W", 1000);
            out_b = synth_sensor(&tab, "pdu-b", 3, "power_3", WP_Q_POWER, WP_GAUGE, S, WP_NO_LIMIT,
                                 0, WP_SCOPE_PDU_OUTLET, "W", 1000);
            inlet = synth_sensor(&tab, "pdu-a", -1, "inlet", WP_Q_POWER, WP_GAUGE, S, WP_NO_LIMIT,
                                 0, WP_SCOPE_PDU_INLET, "W", 1000);
        }
        if (o->gpus) {
            g0 = synth_sensor(&tab, "nvml", 0, "power", WP_Q_POWER, WP_GAUGE, 100 * MS, 700000, 0,
                              WP_SCOPE_GPU, "mW", 1);
            g1 = synth_sensor(&tab, "nvml", 1, "power", WP_Q_POWER, WP_GAUGE, 100 * MS, 700000000,
                              0, WP_SCOPE_GPU, "uW", 0.001);
        }
        if (o->rapl) {
            pk0 = synth_sensor(&tab, "rapl", 0, "package", WP_Q_ENERGY, WP_COUNTER, S, WP_NO_LIMIT,
                               RAPL_WRAP, WP_SCOPE_CPU_PACKAGE, "uJ", 0.001);
            pk1 = synth_sensor(&tab, "rapl", 1, "package", WP_Q_ENERGY, WP_COUNTER, S, WP_NO_LIMIT,
                               RAPL_WRAP, WP_SCOPE_CPU_PACKAGE, "uJ", 0.001);
            dram = synth_sensor(&tab, "rapl", 0, "dram", WP_Q_ENERGY, WP_COUNTER, S, WP_NO_LIMIT,
                                RAPL_WRAP, WP_SCOPE_DRAM, "uJ", 0.001);
        }
        if (o->psys)
            psys = synth_sensor(&tab, "rapl", 0, "psys", WP_Q_ENERGY, WP_COUNTER, S, WP_NO_LIMIT,
                                RAPL_WRAP, WP_SCOPE_PSYS, "uJ", 0.001);
    }
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    wp_sensors_free(&tab);

    for (int k = 0; k <= 120; k++) {
        int64_t t = T0 + (int64_t)k * S;
        int64_t node_w = k == 60 ? 8400 : k > 30 && k <= 90 ? 3000 : 2000;
        synth_put(w, temp, t, 40);
        if (in >= 0)
            synth_put(w, in, t, node_w);
        if (in_avg >= 0 && k % 10 == 0)
            synth_put(w, in_avg, t, 9999);
        if (out_a >= 0) {
            synth_put(w, out_a, t, node_w / 2 + o->outlet_extra_w / 2);
            synth_put(w, out_b, t, node_w / 2 + o->outlet_extra_w / 2);
            synth_put(w, inlet, t, 50000);
        }
        if (pk0 >= 0) {
            synth_put(w, pk0, t, rapl_uj(RAPL_WRAP - 5000000000LL, 150, k));
            synth_put(w, pk1, t, rapl_uj(1000000000LL, 120, k));
            synth_put(w, dram, t, rapl_uj(0, 30, k));
        }
        if (psys >= 0)
            synth_put(w, psys, t, rapl_uj(7000000000LL, 400, k));
    }
    for (int k = 0; g0 >= 0 && k <= 1200; k++) {
        int64_t t = T0 + (int64_t)k * 100 * MS;
        synth_put(w, g0, t, k == 600 ? 900000 : 500000);
        synth_put(w, g1, t, 600000000);
    }
    assert_int_equal(wp_trace_commit(w, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
}

static void compute_opts(const char *path, double rated_w, struct wp_summary *s)
{
    struct wp_err err = {0};
    struct wp_trace *t;
    if (wp_trace_open(&t, path, &err) != 0)
        fail_msg("opening %s: %s", path, err.msg);
    struct wp_summary_opts o = {.rated_w = rated_w};
    if (wp_summary_compute_opts(t, &o, s, &err) != 0)
        fail_msg("summary of %s: %s", path, err.msg);
    wp_trace_free(t);
}

static char *text_of(const struct wp_summary *s)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    wp_summary_print_text(f, s);
    fclose(f);
    return text;
}

static const struct wp_node_part *part(const struct wp_summary *s, enum wp_scope sc)
{
    for (size_t i = 0; i < s->node.nparts; i++)
        if (s->node.parts[i].scope == sc)
            return &s->node.parts[i];
    return NULL;
}

#define GPU_J   132040.0
#define GPU_W   (GPU_J / 120.0)
#define PKG_W   270.0
#define DRAM_W  30.0
#define NODE_J  305400.0
#define PARTS_W (GPU_W + PKG_W + DRAM_W)

/* The parts every node test shares: GPUs from their power series (GPU 1 scaled from uW), the
 * packages from their counters across a wrap, DRAM from its counter. */
static void check_parts(const struct wp_summary *s)
{
    assert_int_equal(s->ngpus, 2);
    assert_near(s->gpus[1].energy_j, 72000.0, 1e-6); /* uW scaled, not read as mW */
    assert_near(s->gpus[1].limit_w, 700.0, 1e-9);
    assert_near(s->gpus[1].peak_w, 600.0, 1e-9);
    assert_int_equal(s->node.nparts, 3);
    const struct wp_node_part *p = part(s, WP_SCOPE_GPU);
    assert_non_null(p);
    assert_near(p->energy_j, GPU_J, 1e-6);
    assert_near(p->mean_w, GPU_W, 1e-9);
    assert_int_equal(p->devices, 2);
    assert_string_equal(p->source, "nvml");
    p = part(s, WP_SCOPE_CPU_PACKAGE);
    assert_non_null(p);
    assert_near(p->energy_j, PKG_W * 120.0, 1e-6);
    assert_near(p->mean_w, PKG_W, 1e-9);
    assert_int_equal(p->devices, 2);
    assert_string_equal(p->source, "rapl");
    p = part(s, WP_SCOPE_DRAM);
    assert_non_null(p);
    assert_near(p->energy_j, DRAM_W * 120.0, 1e-6);
    assert_near(p->mean_w, DRAM_W, 1e-9);
}

static void test_node_from_node_input(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node-input.wptrace", tmpdir);
    write_node_trace(
        path,
        &(struct node_trace){
            .meter = NM_INPUT, .gpus = true, .rapl = true, .window = true, .rated_w = "10200"});
    struct wp_summary s;
    compute(path, &s);
    const struct wp_node_summary *n = &s.node;
    assert_true(n->present);
    assert_false(n->estimated);
    assert_int_equal(n->basis, WP_NODE_INPUT);
    assert_string_equal(n->source, "bmc/power"); /* not power_avg, not the PDU outlets */
    assert_near(n->energy_j, NODE_J, 1e-6);
    assert_near(n->mean_w, NODE_J / 120.0, 1e-9);
    assert_near(n->peak_1s_w, 8400.0, 1e-6);
    assert_near(n->peak_60s_w, 3090.0, 1e-6);
    assert_near(n->gpu_sum_peak_20ms_w, 1500.0, 1e-9);
    assert_near(n->rated_w, 10200.0, 0);
    assert_near(n->peak_pct_of_rated, 8400.0 / 10200.0 * 100.0, 1e-9);
    check_parts(&s);
    assert_near(n->rest_w, NODE_J / 120.0 - PARTS_W, 1e-6);
    assert_true(isnan(n->allowance_w));

    char *text = text_of(&s);
    assert_non_null(strstr(text, "\nnode: mean 2545.0 W, energy 305400.0 J"));
    assert_non_null(strstr(text, "measured at the node input"));
    assert_non_null(strstr(text, "meter: bmc/power\n"));
    assert_non_null(strstr(text, "peak 8.40 kW (1 s) is 17.6 % under the rated 10.20 kW"));
    assert_non_null(strstr(text, "cpu_package 270.0 W (2 rapl)"));
    assert_non_null(strstr(text, "rest 1144.7 W"));
    assert_null(strstr(text, "estimate"));
    free(text);
    wp_summary_free(&s);

    /* The caller's rating replaces the trace's, and over the rating is said as over. */
    compute_opts(path, 7000, &s);
    assert_near(s.node.rated_w, 7000.0, 0);
    assert_near(s.node.peak_pct_of_rated, 120.0, 1e-9);
    text = text_of(&s);
    assert_non_null(strstr(text, "peak 8.40 kW (1 s) is 20.0 % over the rated 7.00 kW"));
    free(text);
    wp_summary_free(&s);
}

static void test_node_from_pdu_outlets(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node-pdu.wptrace", tmpdir);
    write_node_trace(
        path, &(struct node_trace){
                  .meter = NM_PDU, .gpus = true, .rapl = true, .window = true, .rated_w = "10200"});
    struct wp_summary s;
    compute(path, &s);
    const struct wp_node_summary *n = &s.node;
    assert_true(n->present);
    assert_false(n->estimated);
    assert_int_equal(n->basis, WP_NODE_PDU_OUTLETS);
    assert_string_equal(n->source, "pdu-a/power_3 + pdu-b/power_3"); /* never the inlet */
    assert_near(n->energy_j, NODE_J, 1e-6);
    assert_near(n->peak_1s_w, 8400.0, 1e-6); /* the two outlets summed before the peak */
    assert_near(n->peak_60s_w, 3090.0, 1e-6);
    check_parts(&s);
    assert_near(n->rest_w, NODE_J / 120.0 - PARTS_W, 1e-6);
    char *text = text_of(&s);
    assert_non_null(strstr(text, "measured at the PDU outlets"));
    assert_non_null(strstr(text, "17.6 % under the rated 10.20 kW"));
    free(text);
    wp_summary_free(&s);
}

/* A node input meter and the PDU outlets both measured the node: the summary keeps the input
 * as the node's power and shows both, and outlets - input, over the time both read. */
static void test_node_input_and_outlets_compared(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node-both.wptrace", tmpdir);
    write_node_trace(path,
                     &(struct node_trace){
                         .meter = NM_INPUT, .gpus = true, .window = true, .outlet_extra_w = 120});
    struct wp_summary s;
    compute(path, &s);
    const struct wp_node_summary *n = &s.node;
    assert_int_equal(n->basis, WP_NODE_INPUT);
    assert_string_equal(n->source, "bmc/power");
    assert_true(n->compared);
    assert_string_equal(n->outlets_source, "pdu-a/power_3 + pdu-b/power_3");
    assert_near(n->cmp_input_w, NODE_J / 120.0, 1e-6);
    assert_near(n->cmp_outlets_w, NODE_J / 120.0 + 120.0, 1e-6);
    assert_near(n->cmp_diff_w, 120.0, 1e-6);
    assert_near(n->cmp_diff_pct, 120.0 / (NODE_J / 120.0 + 120.0) * 100.0, 1e-9);
    assert_near(n->cmp_overlap_s, 120.0, 1e-9);
    char *text = text_of(&s);
    assert_non_null(strstr(text, "PDU outlets pdu-a/power_3 + pdu-b/power_3: 2665.0 W against "
                                 "the node input meter's 2545.0 W over the 120 s both read\n"));
    assert_non_null(strstr(text, "difference +120.0 W (+4.5 % of the outlets)"));
    free(text);
    wp_summary_free(&s);

    /* The outlets alone: they are the node's power, nothing to compare. */
    snprintf(path, sizeof(path), "%s/node-outlets.wptrace", tmpdir);
    write_node_trace(path, &(struct node_trace){.meter = NM_PDU, .gpus = true, .window = true});
    compute(path, &s);
    assert_int_equal(s.node.basis, WP_NODE_PDU_OUTLETS);
    assert_false(s.node.compared);
    text = text_of(&s);
    assert_null(strstr(text, "difference"));
    free(text);
    wp_summary_free(&s);
}

static void test_node_estimated_without_meter(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node-est.wptrace", tmpdir);
    /* the recording's allowance */
    write_node_trace(path, &(struct node_trace){.meter = NM_NONE,
                                                .gpus = true,
                                                .rapl = true,
                                                .window = true,
                                                .rated_w = "10200",
                                                .allowance_w = "600"});
    struct wp_summary s;
    compute(path, &s);
    const struct wp_node_summary *n = &s.node;
    assert_true(n->present);
    assert_true(n->estimated);
    assert_int_equal(n->basis, WP_NODE_ESTIMATE);
    assert_string_equal(n->source, "");
    assert_false(n->allowance_default);
    assert_near(n->allowance_w, 600.0, 0);
    check_parts(&s);
    assert_near(n->mean_w, PARTS_W + 600.0, 1e-6);
    assert_near(n->energy_j, GPU_J + 36000.0 + 600.0 * 120.0, 1e-6);
    /* no meter, no peak and no rest: nothing here is a measurement of the node */
    assert_true(isnan(n->peak_1s_w));
    assert_true(isnan(n->peak_60s_w));
    assert_true(isnan(n->peak_pct_of_rated));
    assert_true(isnan(n->rest_w));
    assert_near(n->rated_w, 10200.0, 0);
    assert_near(n->gpu_sum_peak_20ms_w, 1500.0, 1e-9);
    char *text = text_of(&s);
    assert_non_null(strstr(text, "\nnode: estimated mean 2000.3 W, estimated energy 240040.0 J"));
    assert_non_null(strstr(text, "basis: measured parts + 600.0 W for fans"));
    assert_non_null(strstr(text, "the node_allowance_w the recording was given"));
    assert_non_null(strstr(text, "rated 10.20 kW: no measured node peak"));
    assert_null(strstr(text, "% under"));
    free(text);
    wp_summary_free(&s);

    /* the default allowance, stated with its share */
    write_node_trace(
        path, &(struct node_trace){.meter = NM_NONE, .gpus = true, .rapl = true, .window = true});
    compute(path, &s);
    assert_true(s.node.estimated);
    assert_true(s.node.allowance_default);
    assert_near(s.node.allowance_w, PARTS_W * WP_NODE_DEFAULT_ALLOWANCE_PCT / 100.0, 1e-9);
    assert_near(s.node.mean_w, PARTS_W * (1.0 + WP_NODE_DEFAULT_ALLOWANCE_PCT / 100.0), 1e-6);
    text = text_of(&s);
    assert_non_null(strstr(text, "\nnode: estimated mean"));
    assert_non_null(strstr(text, "assumed: 30 % of the parts' mean, wattprof's default"));
    free(text);
    wp_summary_free(&s);
}

/* psys holds the packages and DRAM: it stands for the CPU part alone. */
static void test_node_psys_not_double_counted(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node-psys.wptrace", tmpdir);
    write_node_trace(
        path, &(struct node_trace){
                  .meter = NM_INPUT, .gpus = true, .rapl = true, .psys = true, .window = true});
    struct wp_summary s;
    compute(path, &s);
    assert_int_equal(s.node.nparts, 2);
    /* listed GPU first, as always, though psys was weighed first */
    assert_int_equal(s.node.parts[0].scope, WP_SCOPE_GPU);
    assert_int_equal(s.node.parts[1].scope, WP_SCOPE_PSYS);
    const struct wp_node_part *p = part(&s, WP_SCOPE_PSYS);
    assert_non_null(p);
    assert_near(p->mean_w, 400.0, 1e-9);
    assert_near(p->energy_j, 48000.0, 1e-6);
    assert_null(part(&s, WP_SCOPE_CPU_PACKAGE));
    assert_null(part(&s, WP_SCOPE_DRAM));
    assert_near(s.node.rest_w, NODE_J / 120.0 - GPU_W - 400.0, 1e-6);
    wp_summary_free(&s);
}

/* A node with RAPL only (no GPUs, and killed before the run window was written): its CPUs
 * are reported and span the run. */
static void test_node_rapl_only(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node-rapl.wptrace", tmpdir);
    write_node_trace(path, &(struct node_trace){.meter = NM_NONE, .rapl = true});
    struct wp_summary s;
    compute(path, &s);
    assert_int_equal(s.ngpus, 0);
    assert_int_equal(s.start_us, T0);
    assert_int_equal(s.end_us, T0 + 120 * S);
    assert_true(s.node.present);
    assert_true(s.node.estimated);
    assert_int_equal(s.node.nparts, 2);
    assert_near(part(&s, WP_SCOPE_CPU_PACKAGE)->mean_w, PKG_W, 1e-9);
    assert_near(part(&s, WP_SCOPE_CPU_PACKAGE)->energy_j, PKG_W * 120.0, 1e-6);
    assert_near(part(&s, WP_SCOPE_DRAM)->mean_w, DRAM_W, 1e-9);
    assert_true(isnan(s.node.gpu_sum_peak_20ms_w));
    char *text = text_of(&s);
    assert_non_null(strstr(text, "no GPU power sensors in this trace.\n"));
    assert_null(strstr(text, "nothing to summarise"));
    assert_non_null(strstr(text, "\nnode: estimated mean 390.0 W"));
    assert_non_null(strstr(text, "parts: cpu_package 270.0 W (2 rapl), dram 30.0 W (1 rapl)"));
    free(text);
    wp_summary_free(&s);
}

/* Nothing but a temperature: no node block at all. */
static void test_node_absent_without_power(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node-temp.wptrace", tmpdir);
    write_node_trace(path,
                     &(struct node_trace){.temp_only = true, .window = true, .rated_w = "10200"});
    struct wp_summary s;
    compute(path, &s);
    assert_false(s.node.present);
    char *text = text_of(&s);
    assert_non_null(strstr(text, "nothing to summarise"));
    assert_null(strstr(text, "node:"));
    free(text);
    wp_summary_free(&s);
}

/* A damaged node.rated_w stops the summary with a message naming it, unless the caller
 * gives the rating. */
static void test_node_bad_rated_meta(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/node-badrated.wptrace", tmpdir);
    write_node_trace(path, &(struct node_trace){
                               .meter = NM_INPUT, .gpus = true, .window = true, .rated_w = "lots"});
    struct wp_err err = {0};
    struct wp_trace *t;
    assert_int_equal(wp_trace_open(&t, path, &err), 0);
    struct wp_summary s;
    assert_int_equal(wp_summary_compute(t, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "node.rated_w"));
    struct wp_summary_opts o = {.rated_w = 10200};
    assert_int_equal(wp_summary_compute_opts(t, &o, &s, &err), 0);
    assert_near(s.node.rated_w, 10200.0, 0);
    wp_summary_free(&s);
    wp_trace_free(t);
}

/* ---- JSON through python3 ---- */

/* Pipes json into python3, which decodes it as strict UTF-8, parses it as strict JSON (no
 * control characters in strings, no NaN) and evaluates check with d = the document and
 * raw = bytes.fromhex(hex). Returns python's exit status; quiet hides its traceback (for
 * checks that are meant to fail). */
static int python_check(const char *json, const char *check, const char *hex, bool quiet)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "python3 -c '"
             "import json, sys\n"
             "def nan(x): raise ValueError(\"non-JSON constant \" + x)\n"
             "d = json.loads(sys.stdin.buffer.read().decode(\"utf-8\"), parse_constant=nan)\n"
             "raw = bytes.fromhex(sys.argv[1])\n"
             "assert %s, d\n"
             "' '%s' %s",
             check, hex ? hex : "", quiet ? "2>/dev/null" : "");
    FILE *p = popen(cmd, "w");
    assert_non_null(p);
    fputs(json, p);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *json_of(const struct wp_summary *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(wp_summary_write_json(f, s), 0);
    fclose(f);
    return buf;
}

static void test_json_normal(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/json.wptrace", tmpdir);
    write_two_gpu_trace(path, true, false);
    struct wp_summary s;
    compute(path, &s);
    char *json = json_of(&s);
    assert_int_equal(python_check(json,
                                  "d[\"command\"] == \"python3 train.py --lr 0.1\" and "
                                  "d[\"exit_code\"] == 3 and d[\"replay\"] is None and "
                                  "d[\"duration_s\"] == 10 and len(d[\"gpus\"]) == 2 and "
                                  "abs(d[\"gpus\"][0][\"energy_j\"] - 1060) < 1e-6 and "
                                  "d[\"gpus\"][0][\"samples\"] == 501 and "
                                  "d[\"gpus\"][1][\"gaps\"] == 1 and "
                                  "d[\"gpus\"][1][\"power_sensor\"] == \"power_instant\" and "
                                  "d[\"gpus\"][0][\"uuid\"] == \"GPU-0-uuid\" and "
                                  "d[\"gpus\"][0][\"limit_w\"] == 700 and "
                                  "d[\"gpus\"][0][\"counter_fault\"] is False and "
                                  "abs(d[\"total\"][\"peak_w\"] - 1000) < 1e-9 and "
                                  "abs(d[\"total\"][\"counter_energy_j\"] - 4063) < 1e-9 and "
                                  "set(d[\"gpus\"][0]) >= {\"index\", \"uuid\", \"name\", "
                                  "\"limit_w\", \"energy_j\", \"counter_energy_j\", "
                                  "\"counter_diff_pct\", \"mean_w\", \"peak_w\", \"peak_1s_w\", "
                                  "\"p99_w\", \"peak_pct_limit\", \"samples\", "
                                  "\"median_interval_ms\", \"gaps\", \"power_sensor\"}",
                                  NULL, false),
                     0);
    /* the check itself must be able to fail */
    assert_int_not_equal(python_check(json, "d[\"exit_code\"] == 4", NULL, true), 0);
    free(json);
    wp_summary_free(&s);
}

#define NODE_KEYS                                                                                  \
    "{\"source\", \"estimated\", \"energy_j\", \"mean_w\", \"peak_1s_w\", \"peak_60s_w\", "        \
    "\"gpu_sum_peak_20ms_w\", \"rated_w\", \"peak_pct_of_rated\", \"parts\", \"rest_w\"}"

/* The node object has every key; what is missing is null, never 0. */
static void test_json_node(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/json-node.wptrace", tmpdir);
    write_node_trace(
        path,
        &(struct node_trace){
            .meter = NM_INPUT, .gpus = true, .rapl = true, .window = true, .rated_w = "10200"});
    struct wp_summary s;
    compute(path, &s);
    char *json = json_of(&s);
    assert_int_equal(python_check(json,
                                  "set(d[\"node\"]) >= " NODE_KEYS " and "
                                  "d[\"node\"][\"source\"] == \"bmc/power\" and "
                                  "d[\"node\"][\"estimated\"] is False and "
                                  "d[\"node\"][\"energy_j\"] == 305400 and "
                                  "d[\"node\"][\"peak_1s_w\"] == 8400 and "
                                  "d[\"node\"][\"peak_60s_w\"] == 3090 and "
                                  "d[\"node\"][\"gpu_sum_peak_20ms_w\"] == 1500 and "
                                  "d[\"node\"][\"rated_w\"] == 10200 and "
                                  "abs(d[\"node\"][\"peak_pct_of_rated\"] - 82.3529411764706) "
                                  "< 1e-9 and "
                                  "abs(d[\"node\"][\"rest_w\"] - 1144.6666666666667) < 1e-6 and "
                                  "[p[\"scope\"] for p in d[\"node\"][\"parts\"]] == "
                                  "[\"gpu\", \"cpu_package\", \"dram\"] and "
                                  "all(set(p) >= {\"scope\", \"energy_j\", \"mean_w\"} "
                                  "for p in d[\"node\"][\"parts\"]) and "
                                  "d[\"node\"][\"parts\"][1][\"energy_j\"] == 32400",
                                  NULL, false),
                     0);
    free(json);
    wp_summary_free(&s);

    /* an estimate with no rating, on a run too short for a 60 s peak: nulls, not zeros */
    snprintf(path, sizeof(path), "%s/json-node-est.wptrace", tmpdir);
    write_two_gpu_trace(path, true, false);
    compute(path, &s);
    json = json_of(&s);
    assert_int_equal(python_check(json,
                                  "set(d[\"node\"]) >= " NODE_KEYS " and "
                                  "d[\"node\"][\"estimated\"] is True and "
                                  "all(d[\"node\"][k] is None for k in (\"source\", "
                                  "\"peak_1s_w\", \"peak_60s_w\", \"rated_w\", "
                                  "\"peak_pct_of_rated\", \"rest_w\")) and "
                                  "d[\"node\"][\"gpu_sum_peak_20ms_w\"] == 1000 and "
                                  "abs(d[\"node\"][\"mean_w\"] - 406 * 1.3) < 1e-9 and "
                                  "d[\"node\"][\"parts\"] == [{\"scope\": \"gpu\", \"energy_j\": "
                                  "4060, \"mean_w\": 406, \"devices\": 2, \"source\": "
                                  "\"nvml\"}]",
                                  NULL, false),
                     0);
    free(json);
    wp_summary_free(&s);

    /* nothing but a temperature: "node": null */
    snprintf(path, sizeof(path), "%s/json-node-none.wptrace", tmpdir);
    write_node_trace(path, &(struct node_trace){.temp_only = true, .window = true});
    compute(path, &s);
    json = json_of(&s);
    assert_int_equal(python_check(json, "\"node\" in d and d[\"node\"] is None", NULL, false), 0);
    /* and the check can fail */
    assert_int_not_equal(python_check(json, "d[\"node\"] is not None", NULL, true), 0);
    free(json);
    wp_summary_free(&s);
}

static void test_json_nan_laden(void **state)
{
    (void)state;
    struct wp_gpu_summary g;
    memset(&g, 0, sizeof(g));
    g.index = 7;
    g.limit_w = g.energy_j = g.counter_energy_j = g.counter_diff_pct = NAN;
    g.mean_w = g.peak_w = g.peak_1s_w = g.p99_w = g.peak_pct_limit = NAN;
    g.median_interval_ms = g.covered_s = NAN;
    g.energy_j = INFINITY; /* must not leak out as Infinity either */
    g.mean_w = -INFINITY;
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    s.duration_s = 0;
    s.ngpus = 1;
    s.gpus = &g;
    s.total.energy_j = s.total.counter_energy_j = s.total.mean_w = NAN;
    s.total.peak_w = s.total.counter_diff_pct = NAN;
    char *json = json_of(&s);
    assert_int_equal(python_check(json,
                                  "d[\"exit_code\"] is None and d[\"replay\"] is None and "
                                  "d[\"gpus\"][0][\"index\"] == 7 and "
                                  "all(d[\"gpus\"][0][k] is None for k in (\"uuid\", \"name\", "
                                  "\"power_sensor\", \"limit_w\", \"energy_j\", "
                                  "\"counter_energy_j\", \"counter_diff_pct\", \"mean_w\", "
                                  "\"peak_w\", \"peak_1s_w\", \"p99_w\", \"peak_pct_limit\", "
                                  "\"samples\", \"median_interval_ms\", \"gaps\", "
                                  "\"covered_s\")) and "
                                  "all(v is None for k, v in d[\"total\"].items() "
                                  "if k != \"partial\") and d[\"total\"][\"partial\"] is False",
                                  NULL, false),
                     0);
    free(json);

    /* and the text block shows "-" for all of them */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    wp_summary_print_text(f, &s);
    fclose(f);
    const char *row = strstr(text, "\n   7 ");
    assert_non_null(row);
    int dashes = 0;
    for (const char *c = row + 1; *c && *c != '\n'; c++)
        dashes += *c == '-';
    assert_int_equal(dashes, 11);
    free(text);
}

static void hexify(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && k + 3 < cap; p++)
        k += (size_t)snprintf(out + k, cap - k, "%02x", *p);
    out[k] = '\0';
}

static void test_json_nasty_strings(void **state)
{
    (void)state;
    /* quotes, backslash, controls, DEL, a lone 0xFF, a truncated 3-byte sequence, an
     * overlong '/', a UTF-16 surrogate, above U+10FFFF, a stray continuation byte, valid
     * 2/3/4-byte characters, U+2028, and a truncated sequence at the very end */
    static const char nasty[] = "a\"b\\c\nd\te\x01\x1f\x7f g\xff h\xe2\x82 i\xc0\xaf j\xed\xa0\x80"
                                " k\xf4\x90\x80\x80 l\x80 m\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                                " n\xe2\x80\xa8 '$(x)`\xe2\x82";
    struct wp_gpu_summary g;
    memset(&g, 0, sizeof(g));
    snprintf(g.uuid, sizeof(g.uuid), "%s", nasty);
    snprintf(g.name, sizeof(g.name), "%s", "\"}],{\"x\":1");
    snprintf(g.power_sensor, sizeof(g.power_sensor), "power");
    g.energy_j = 12.5;
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    snprintf(s.command, sizeof(s.command), "%s", nasty);
    snprintf(s.replay, sizeof(s.replay), "%s", "\\\\server\\share\"\n");
    s.has_exit_code = true;
    s.exit_code = -9;
    s.ngpus = 1;
    s.gpus = &g;
    char hex[512];
    hexify(nasty, hex, sizeof(hex));
    char *json = json_of(&s);
    assert_int_equal(python_check(json,
                                  "d[\"command\"] == raw.decode(\"utf-8\", \"replace\") and "
                                  "d[\"gpus\"][0][\"uuid\"] == raw.decode(\"utf-8\", "
                                  "\"replace\") and "
                                  "d[\"gpus\"][0][\"name\"] == \"\\\"}],{\\\"x\\\":1\" and "
                                  "d[\"replay\"] == \"\\\\\\\\server\\\\share\\\"\\n\" and "
                                  "d[\"exit_code\"] == -9 and "
                                  "d[\"command\"].count(\"\\ufffd\") == 13",
                                  hex, false),
                     0);
    /* U+2028 is escaped, not raw, so the output is also safe as JavaScript */
    assert_null(strstr(json, "\xe2\x80\xa8"));
    assert_non_null(strstr(json, "\\u2028"));
    free(json);

    /* the text block replaces control characters instead of sending them to the terminal */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    wp_summary_print_text(f, &s);
    fclose(f);
    for (const char *c = text; *c; c++)
        assert_true(*c == '\n' || (unsigned char)*c >= 0x20);
    assert_null(strstr(text, "\x1b"));
    free(text);
}

/* Phases (filled by phases.c) appear in the JSON and the text block and are freed with the
 * summary. */
static void test_phases_output(void **state)
{
    (void)state;
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    s.ngpus = 1;
    s.gpus = calloc(1, sizeof(*s.gpus));
    s.nphases = 2;
    s.phases = calloc(2, sizeof(*s.phases));
    assert_non_null(s.gpus);
    assert_non_null(s.phases);
    snprintf(s.gpus[0].power_sensor, sizeof(s.gpus[0].power_sensor), "power");
    s.total.energy_j = s.total.counter_energy_j = s.total.counter_diff_pct = NAN;
    s.total.mean_w = s.total.peak_w = NAN;
    struct wp_phase_summary *p = &s.phases[0];
    snprintf(p->name, sizeof(p->name), "epoch/1");
    p->t0_us = T0;
    p->t1_us = T0 + 2 * S;
    p->duration_s = 2.0;
    p->energy_j = 1200.0;
    p->mean_w = 600.0;
    p->peak_w = 1400.0;
    p->ncounts = 2;
    snprintf(p->counts[0].key, sizeof(p->counts[0].key), "samples");
    p->counts[0].value = 512;
    snprintf(p->counts[1].key, sizeof(p->counts[1].key), "tokens");
    p->counts[1].value = NAN;
    /* computed by the analysis from the counts; presentation only prints them */
    p->per_unit_j[0] = 1200.0 / 512;
    p->per_unit_j[1] = p->per_unit_j[2] = NAN;
    p = &s.phases[1];
    snprintf(p->name, sizeof(p->name), "eval\x1b[2J");
    p->depth = 1;
    p->open_ended = true;
    p->t0_us = T0 + 2 * S;
    p->t1_us = T0 + 3 * S;
    p->duration_s = 1.0;
    p->energy_j = p->mean_w = p->peak_w = NAN;
    p->per_unit_j[0] = p->per_unit_j[1] = p->per_unit_j[2] = NAN;

    char *json = json_of(&s);
    assert_int_equal(python_check(json,
                                  "len(d[\"phases\"]) == 2 and "
                                  "d[\"phases\"][0][\"name\"] == \"epoch/1\" and "
                                  "d[\"phases\"][0][\"energy_j\"] == 1200 and "
                                  "d[\"phases\"][0][\"counts\"] == {\"samples\": 512, "
                                  "\"tokens\": None} and "
                                  "d[\"phases\"][1][\"open_ended\"] is True and "
                                  "d[\"phases\"][1][\"depth\"] == 1 and "
                                  "d[\"phases\"][1][\"energy_j\"] is None and "
                                  "d[\"phases\"][1][\"name\"] == \"eval\\x1b[2J\"",
                                  NULL, false),
                     0);
    free(json);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    wp_summary_print_text(f, &s);
    fclose(f);
    assert_non_null(strstr(text, "epoch/1"));
    assert_non_null(strstr(text, "samples=512"));
    assert_non_null(strstr(text, "  eval?[2J+")); /* indented, escaped, marked open */
    assert_null(strstr(text, "\x1b"));
    free(text);
    wp_summary_free(&s);
    assert_null(s.phases);
    assert_int_equal(s.nphases, 0);
}

static void test_json_write_errors(void **state)
{
    (void)state;
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    s.total.energy_j = NAN;
    /* A full disk shows up at the flush. */
    FILE *f = fopen("/dev/full", "w");
    if (f) {
        assert_int_equal(wp_summary_write_json(f, &s), -EIO);
        fclose(f);
    }
    /* A stream that cannot be written at all. */
    f = fopen("/dev/null", "r");
    assert_non_null(f);
    assert_int_equal(wp_summary_write_json(f, &s), -EIO);
    fclose(f);
}

static void test_json_emitter_misuse(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct wp_json j;

    wp_json_init(&j, f, 0); /* value without key in an object */
    wp_json_obj_begin(&j);
    wp_json_int(&j, 1);
    wp_json_obj_end(&j);
    assert_int_equal(wp_json_end(&j), -EINVAL);

    wp_json_init(&j, f, 0); /* unbalanced */
    wp_json_arr_begin(&j);
    assert_int_equal(wp_json_end(&j), -EINVAL);

    wp_json_init(&j, f, 0); /* mismatched close */
    wp_json_arr_begin(&j);
    wp_json_obj_end(&j);
    assert_int_equal(wp_json_end(&j), -EINVAL);

    wp_json_init(&j, f, 0); /* two top-level values */
    wp_json_int(&j, 1);
    wp_json_int(&j, 2);
    assert_int_equal(wp_json_end(&j), -EINVAL);

    wp_json_init(&j, f, 0); /* nothing at all */
    assert_int_equal(wp_json_end(&j), -EINVAL);
    fclose(f);
    free(buf);

    /* compact output of a small document, byte for byte */
    buf = NULL;
    f = open_memstream(&buf, &len);
    wp_json_init(&j, f, 0);
    wp_json_obj_begin(&j);
    wp_json_kdouble(&j, "a", 0.1);
    wp_json_kdouble(&j, "b", NAN);
    wp_json_key(&j, "c");
    wp_json_arr_begin(&j);
    wp_json_int(&j, INT64_MIN);
    wp_json_uint(&j, UINT64_MAX);
    wp_json_bool(&j, true);
    wp_json_str(&j, NULL);
    wp_json_arr_end(&j);
    wp_json_key(&j, "e");
    wp_json_obj_begin(&j);
    wp_json_obj_end(&j);
    wp_json_kdouble(&j, "f", 1.0 / 3.0);
    wp_json_obj_end(&j);
    assert_int_equal(wp_json_end(&j), 0);
    fclose(f);
    assert_string_equal(buf, "{\"a\":0.1,\"b\":null,\"c\":[-9223372036854775808,"
                             "18446744073709551615,true,null],\"e\":{},"
                             "\"f\":0.33333333333333331}");
    free(buf);
}

static void test_text_layout(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/text.wptrace", tmpdir);
    write_two_gpu_trace(path, true, false);
    struct wp_summary s;
    compute(path, &s);
    snprintf(s.replay, sizeof(s.replay), "shared/data/h200/buffer-2gpu.csv.gz");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    wp_summary_print_text(f, &s);
    fclose(f);
    assert_non_null(strstr(text, "python3 train.py --lr 0.1"));
    assert_non_null(strstr(text, "exit code 3"));
    assert_non_null(strstr(text, "REPLAY"));
    assert_non_null(strstr(text, "REPLAY, NOT A MEASUREMENT"));
    assert_non_null(strstr(text, "shared/data/h200/buffer-2gpu.csv.gz"));
    assert_non_null(strstr(text, "gpu 1: numbers come from 'power_instant'"));
    /* every line fits a 100-column terminal */
    size_t col = 0;
    for (const char *c = text; *c; c++) {
        col = *c == '\n' ? 0 : col + 1;
        assert_true(col <= 100);
    }
    /* header, GPU rows and the all row are right-aligned to the same columns: the energy
     * column ends at the same offset on each */
    const char *hdr = strstr(text, "\n gpu");
    const char *r0 = strstr(text, "\n   0 ");
    const char *r1 = strstr(text, "\n   1 ");
    const char *all = strstr(text, "\n all ");
    assert_non_null(hdr);
    assert_non_null(r0);
    assert_non_null(r1);
    assert_non_null(all);
    const char *e_hdr = strstr(hdr, "energy J") + strlen("energy J");
    const char *e0 = strstr(r0, "1060.0") + strlen("1060.0");
    const char *e1 = strstr(r1, "3000.0") + strlen("3000.0");
    const char *ea = strstr(all, "4060.0") + strlen("4060.0");
    assert_int_equal(e_hdr - hdr, e0 - r0);
    assert_int_equal(e0 - r0, e1 - r1);
    assert_int_equal(e1 - r1, ea - all);
    assert_non_null(strstr(text, "1.1278 Wh")); /* 4060 J / 3600 */
    free(text);
    wp_summary_free(&s);
}

/* A `record` trace: no command, a host, two point marks (`mark NAME key=value`) and a phase.
 * The headline says where and how long it recorded (not "'(no command)' ran ..., exit code
 * unknown") and the marks appear in the text and the JSON with their time since the start. */
static void test_point_marks_and_record_headline(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/record.wptrace", tmpdir);
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_set(&meta, "mode", "record");
    wp_meta_set(&meta, "host", "node7");
    wp_meta_setf(&meta, "start_us", "%lld", (long long)T0);
    wp_meta_setf(&meta, "end_us", "%lld", (long long)(T0 + 10 * S));
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);
    struct wp_sensors tab = {0};
    int p0 = add_sensor(&tab, "nvml", 0, "power", WP_Q_POWER, WP_GAUGE, 20 * MS, 700000, 0);
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    wp_sensors_free(&tab);
    for (int k = 0; k <= 500; k++)
        synth_put(w, p0, T0 + (int64_t)k * 20 * MS, 100000);
    struct wp_mark m = {.t_us = T0 + 2500 * MS, .kind = WP_MARK_POINT, .ncounts = 2};
    snprintf(m.name, sizeof(m.name), "checkpoint");
    snprintf(m.counts[0].key, sizeof(m.counts[0].key), "step");
    m.counts[0].value = 100;
    snprintf(m.counts[1].key, sizeof(m.counts[1].key), "tokens");
    m.counts[1].value = 4096;
    assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
    m = (struct wp_mark){.t_us = T0 + 7 * S, .kind = WP_MARK_POINT};
    snprintf(m.name, sizeof(m.name), "eval\x1b[2J");
    assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
    m = (struct wp_mark){.t_us = T0 + 1 * S, .kind = WP_MARK_BEGIN};
    snprintf(m.name, sizeof(m.name), "train");
    assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
    m.t_us = T0 + 9 * S;
    m.kind = WP_MARK_END;
    assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);

    struct wp_summary s;
    compute(path, &s);
    assert_int_equal(s.npoints, 2);
    assert_string_equal(s.points[0].name, "checkpoint");
    assert_near(s.points[0].t_s, 2.5, 1e-9);
    assert_int_equal(s.points[0].ncounts, 2);
    assert_near(s.points[1].t_s, 7.0, 1e-9);
    assert_int_equal(s.nphases, 1); /* the phase is not a point mark, nor the reverse */

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    wp_summary_print_text(f, &s);
    fclose(f);
    if (!strstr(text, "wattprof: recorded 10.000 s on node7\n"))
        fail_msg("headline:\n%s", text);
    assert_null(strstr(text, "no command"));
    assert_null(strstr(text, "exit code"));
    assert_non_null(strstr(text, "2.500  checkpoint"));
    assert_non_null(strstr(text, "step=100 tokens=4096"));
    assert_non_null(strstr(text, "7.000  eval?[2J"));
    assert_null(strstr(text, "\x1b"));
    assert_non_null(strstr(text, "counter J:"));
    assert_non_null(strstr(text, "%limit:"));
    assert_non_null(strstr(text, "ival ms:"));
    size_t col = 0;
    for (const char *c = text; *c; c++) {
        col = *c == '\n' ? 0 : col + 1;
        assert_true(col <= 100);
    }
    free(text);

    char *json = json_of(&s);
    assert_int_equal(python_check(json,
                                  "d[\"host\"] == \"node7\" and d[\"command\"] is None and "
                                  "[m[\"name\"] for m in d[\"marks\"]] == [\"checkpoint\", "
                                  "\"eval\\x1b[2J\"] and d[\"marks\"][0][\"t_s\"] == 2.5 and "
                                  "d[\"marks\"][0][\"t_us\"] == d[\"start_us\"] + 2500000 and "
                                  "d[\"marks\"][0][\"counts\"] == {\"step\": 100, \"tokens\": "
                                  "4096} and d[\"marks\"][1][\"counts\"] == {}",
                                  NULL, false),
                     0);
    free(json);
    wp_summary_free(&s);
    assert_null(s.points);
}

/* Devices the recorder found but could not measure ("missing.<source>.<device>.device") are
 * named in the text and JSON, and make the totals partial; other missing readings do not. */
static void test_unmeasured_devices(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/lost.wptrace", tmpdir);
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_set(&meta, "missing.nvml.2.device", "GPU is lost (NVML error 15)");
    wp_meta_set(&meta, "missing.nvml.0.temp", "Not Supported (NVML error 3)");
    wp_meta_set(&meta, "missing.rapl", "no RAPL here");
    wp_meta_set(&meta, "missing.nvml.x.device", "not a device number");
    wp_meta_set(&meta, "missing.nvml.3.device.extra", "not the device key");
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);
    assert_int_equal(wp_trace_close(w, &err), 0);

    struct wp_summary s;
    compute(path, &s);
    assert_int_equal(s.nunmeasured, 1);
    assert_string_equal(s.unmeasured[0].source, "nvml");
    assert_int_equal(s.unmeasured[0].device, 2);
    assert_string_equal(s.unmeasured[0].reason, "GPU is lost (NVML error 15)");
    char *json = json_of(&s);
    assert_int_equal(python_check(json,
                                  "d[\"total\"][\"partial\"] is True and d[\"unmeasured\"] == "
                                  "[{\"source\": \"nvml\", \"device\": 2, \"reason\": "
                                  "\"GPU is lost (NVML error 15)\"}]",
                                  NULL, false),
                     0);
    free(json);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    wp_summary_print_text(f, &s);
    fclose(f);
    assert_non_null(strstr(text, "gpu 2: NOT MEASURED: GPU is lost (NVML error 15)"));
    assert_non_null(strstr(text, "PARTIAL"));
    free(text);
    wp_summary_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_from_trace),
        cmocka_unit_test(test_summary_data_span_and_counter_fault),
        cmocka_unit_test(test_counter_diff_uses_covered_mean),
        cmocka_unit_test(test_summary_rejects_bad_meta),
        cmocka_unit_test(test_json_normal),
        cmocka_unit_test(test_json_nan_laden),
        cmocka_unit_test(test_json_nasty_strings),
        cmocka_unit_test(test_phases_output),
        cmocka_unit_test(test_json_write_errors),
        cmocka_unit_test(test_json_emitter_misuse),
        cmocka_unit_test(test_text_layout),
        cmocka_unit_test(test_node_from_node_input),
        cmocka_unit_test(test_node_from_pdu_outlets),
        cmocka_unit_test(test_node_input_and_outlets_compared),
        cmocka_unit_test(test_node_estimated_without_meter),
        cmocka_unit_test(test_node_psys_not_double_counted),
        cmocka_unit_test(test_node_rapl_only),
        cmocka_unit_test(test_node_absent_without_power),
        cmocka_unit_test(test_node_bad_rated_meta),
        cmocka_unit_test(test_json_node),
        cmocka_unit_test(test_point_marks_and_record_headline),
        cmocka_unit_test(test_unmeasured_devices),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
