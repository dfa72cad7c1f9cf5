/* Energy per process (src/analysis/attrib.c) on synthetic traces: the split must not depend
 * on how often the recorder read the per-process utilisation (nvml's procs_period), a long
 * gap between reads (an idle GPU the recorder did not ask about) is idle energy, not the next
 * round's, and a read the driver skipped is not. Power is piecewise constant with
 * 20 ms samples, so each expected energy is worked out by hand. */
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

#include "analysis/attrib.h"
#include "core/sensor.h"
#include "store/trace.h"
#include "synth.h"
#include "tmpdir.h"

static int add(struct wp_sensors *tab, const char *name, enum wp_quantity q, int64_t cadence_us)
{
    return synth_sensor(tab, "nvml", 0, name, q, WP_GAUGE, cadence_us, 700000, 0, WP_SCOPE_GPU,
                        "mW", 1.0);
}

/* Power in W at second t of the run. */
typedef int64_t (*power_fn)(double t_s);
/* Each process's SM % in the round that ends at second t (0: not reported). */
typedef void (*shares_fn)(int t_s, int64_t *a_pct, int64_t *b_pct);

#define PID_A 4242
#define PID_B 4343

/* 60 s of 20 ms power samples (plus 1 s either side), and a per-process read at every
 * multiple of period_s where shares() reports any process, stamped like the recorder does:
 * all of one read at one time. */
static struct wp_attrib split(const char *name, power_fn power, shares_fn shares, int period_s,
                              bool (*read_at)(int t_s))
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s.wptrace", test_dir, name);
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_sensors tab = {0};
    int pw = add(&tab, "power", WP_Q_POWER, 20 * MS);
    int pu = add(&tab, "proc_util", WP_Q_PROC_UTIL, (int64_t)period_s * S);
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    wp_sensors_free(&tab);
    for (int k = -50; k <= 3050; k++)
        synth_put(w, pw, T0 + (int64_t)k * 20 * MS, power(k * 0.02) * 1000);
    for (int t = period_s; t <= 60; t += period_s) {
        if (read_at && !read_at(t))
            continue;
        int64_t a = 0, b = 0;
        shares(t, &a, &b);
        if (a > 0)
            synth_put(w, pu, T0 + (int64_t)t * S, wp_proc_util_pack(PID_A, a));
        if (b > 0)
            synth_put(w, pu, T0 + (int64_t)t * S, wp_proc_util_pack(PID_B, b));
    }
    assert_int_equal(wp_trace_commit(w, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
    struct wp_trace *t;
    assert_int_equal(wp_trace_open(&t, path, &err), 0);
    struct wp_attrib out;
    if (wp_attrib_compute(t, T0, T0 + 60 * S, &out, &err) != 0)
        fail_msg("attrib of %s: %s", name, err.msg);
    wp_trace_free(t);
    assert_int_equal(out.ngpus, 1);
    return out;
}

static double energy_of(const struct wp_attrib *a, int64_t pid)
{
    for (size_t i = 0; i < a->gpus[0].nprocs; i++)
        if (a->gpus[0].procs[i].pid == pid)
            return a->gpus[0].procs[i].energy_j;
    return NAN;
}

/* Within a 20 ms sample of the hand-worked value at these powers (a step's edge). */
static void near_j(double got, double want)
{
    if (!(fabs(got - want) <= 12.0))
        fail_msg("%.3f J, expected %.3f J", got, want);
}

static void parts_add_up(const struct wp_attrib *a)
{
    const struct wp_gpu_attrib *g = &a->gpus[0];
    double sum = g->idle_j + g->unattributed_j;
    for (size_t i = 0; i < g->nprocs; i++)
        sum += g->procs[i].energy_j;
    if (fabs(sum - g->energy_j) > 1e-6 * g->energy_j)
        fail_msg("parts %.6f J, GPU %.6f J", sum, g->energy_j);
}

/* 200 W for 20 s, then 600 W; A alone at 50 % for the first 20 s, then A and B at 50 % each. */
static int64_t step_power(double t)
{
    return t < 20.0 ? 200 : 600;
}

static void two_procs(int t, int64_t *a, int64_t *b)
{
    *a = 50;
    *b = t > 20 ? 50 : 0;
}

static void test_split_same_for_any_period(void **state)
{
    (void)state;
    /* A: 200 W x 20 s + half of 600 W x 40 s = 4000 + 12000 J; B: 12000 J. */
    int periods[] = {1, 2, 5, 10};
    double a1 = 0;
    for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "period-%d", periods[i]);
        struct wp_attrib r = split(name, step_power, two_procs, periods[i], NULL);
        near_j(energy_of(&r, PID_A), 16000);
        near_j(energy_of(&r, PID_B), 12000);
        near_j(r.gpus[0].idle_j, 0);
        near_j(r.gpus[0].unattributed_j, 0);
        parts_add_up(&r);
        if (i == 0)
            a1 = energy_of(&r, PID_A);
        else if (fabs(energy_of(&r, PID_A) - a1) > 1e-6 * a1)
            fail_msg("A's energy %.6f J at %d s, %.6f J at 1 s", energy_of(&r, PID_A), periods[i],
                     a1);
        wp_attrib_free(&r);
    }
}

static int64_t flat_power(double t)
{
    (void)t;
    return 100;
}

static void a_only(int t, int64_t *a, int64_t *b)
{
    (void)t;
    *a = 80;
    *b = 0;
}

/* Reads at 5..20 s and 45..50 s: the recorder put them off while the GPU was idle. */
static bool busy_reads(int t)
{
    return t <= 20 || (t >= 45 && t <= 50);
}

static void test_gap_between_reads_is_idle(void **state)
{
    (void)state;
    /* Rounds 5 s apart (the median), one gap of 25 s: the round at 45 s covers 40-45 s, and
     * 20-40 s is idle (20 s x 100 W), not A's; after the last round (50-60 s) unattributed. */
    struct wp_attrib r = split("gap", flat_power, a_only, 5, busy_reads);
    near_j(energy_of(&r, PID_A), 3000);
    near_j(r.gpus[0].idle_j, 2000);
    near_j(r.gpus[0].unattributed_j, 1000);
    assert_int_equal(r.gpus[0].procs[0].rounds, 6);
    parts_add_up(&r);
    wp_attrib_free(&r);
}

/* Two reads missed (none at 30 and 35 s) among reads 5 s apart: a 15 s gap is more than two
 * rounds and a second, so the round at 40 s covers 35-40 s only and 25-35 s is idle. */
static bool two_missed(int t)
{
    return t != 30 && t != 35;
}

static void b_at_40(int t, int64_t *a, int64_t *b)
{
    *a = 80;
    *b = t == 40 ? 20 : 0;
}

static void test_long_gap_is_idle(void **state)
{
    (void)state;
    struct wp_attrib r = split("missed", flat_power, b_at_40, 5, two_missed);
    near_j(r.gpus[0].idle_j, 1000);
    near_j(energy_of(&r, PID_B), 100);  /* 20 % of 35-40 s at 100 W */
    near_j(energy_of(&r, PID_A), 4900); /* the other 50 s, less B's part */
    near_j(r.gpus[0].unattributed_j, 0);
    parts_add_up(&r);
    wp_attrib_free(&r);
}

/* At 1 s the H200 recording had rounds 2 s apart now and then while a process ran all along:
 * such a gap belongs to the next round's processes, not to idle. */
static bool every_fifth_missed(int t)
{
    return t % 5 != 3;
}

static void test_driver_skipped_read_is_not_idle(void **state)
{
    (void)state;
    struct wp_attrib r = split("skipped", flat_power, a_only, 1, every_fifth_missed);
    near_j(r.gpus[0].idle_j, 0);
    near_j(energy_of(&r, PID_A), 6000);
    parts_add_up(&r);
    wp_attrib_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_same_for_any_period),
        cmocka_unit_test(test_gap_between_reads_is_idle),
        cmocka_unit_test(test_long_gap_is_idle),
        cmocka_unit_test(test_driver_skipped_read_is_not_idle),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
