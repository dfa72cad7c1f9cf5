/* Planning: rack power against closed-form cases, the best start and the pausing split
 * against exhaustive search, emissions against hand-computed cases and the shipped EIA-930
 * series with their blank hours, and the power model on data it must recover. Run from the
 * repository root (tests/run.sh does), which holds data/carbon. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan/carbon.h"
#include "plan/model.h"
#include "plan/rack.h"
#include "plan/timefmt.h"

#define H_US 3600000000LL

#include "near.h"

static struct wp_rack_opts rack_opts(size_t nodes, bool in_step, double budget)
{
    struct wp_rack_opts o = {.step_us = 20000,
                             .nodes = nodes,
                             .in_step = in_step,
                             .budget_w = budget,
                             .derate = WP_DERATE_CONTINUOUS,
                             .trials = 400,
                             .seed = 7,
                             .window_us = {20000, 1000000, 60000000},
                             .risk_level = 0};
    return o;
}

/* N identical constant nodes draw exactly N x P at every window, in step or not; the count
 * that fits is floor(budget x 0.8 / P). */
static void test_rack_constant_nodes(void **state)
{
    (void)state;
    double w[100];
    for (int i = 0; i < 100; i++)
        w[i] = 1000.0;
    struct wp_rack_node nd = {100, w};
    for (int step = 0; step < 2; step++) {
        struct wp_rack_opts o = rack_opts(7, step, 10000);
        struct wp_rack_result r;
        assert_int_equal(wp_rack_simulate(&nd, 1, &o, &r, NULL), 0);
        assert_near(r.level[0].max_w, 7000, 1e-6);
        assert_near(r.level[0].p50_w, 7000, 1e-6);
        assert_near(r.level[1].mean_w, 7000, 1e-6);
        assert_false(r.level[2].valid); /* 2 s of data: no 1 min window */
        assert_near(r.level[0].p_exceed, 0, 0);
        size_t fit;
        o.risk_level = 1;
        assert_int_equal(wp_rack_max_nodes(&nd, 1, &o, 0.0, 100, &fit, NULL), 0);
        assert_int_equal(fit, 8); /* 10000 x 0.8 / 1000 */
    }
}

static double binom_tail(int n, double p, int k) /* P(X > k) */
{
    double s = 0;
    for (int i = k + 1; i <= n; i++) {
        double c = 1;
        for (int j = 0; j < i; j++)
            c = c * (n - j) / (j + 1);
        s += c * pow(p, i) * pow(1 - p, n - i);
    }
    return s;
}

/* A two-level square wave (high 1000 W for 25 % of the period, else 200 W). In step, the rack
 * is all high or all low: P(exceed) is the duty cycle. At random phase each node is high with
 * probability 0.25 on its own: the number high is binomial, and the budget sits between k and
 * k+1 nodes high. */
static void test_rack_square_wave(void **state)
{
    (void)state;
    enum { N = 100 };
    double w[N];
    for (int i = 0; i < N; i++)
        w[i] = i < 25 ? 1000.0 : 200.0;
    struct wp_rack_node nd = {N, w};
    const int nodes = 10;
    for (int k = 1; k <= 6; k++) {
        /* usable = rack power with k nodes high plus half a step: 0.8 x budget */
        double usable = k * 1000.0 + (nodes - k) * 200.0 + 400.0;
        struct wp_rack_opts o = rack_opts(nodes, true, usable / 0.8);
        struct wp_rack_result r;
        assert_int_equal(wp_rack_simulate(&nd, 1, &o, &r, NULL), 0);
        assert_near(r.level[0].p_exceed, 0.25, 1e-12);
        assert_near(r.level[0].max_w, nodes * 1000.0, 1e-6);
        o.in_step = false;
        assert_int_equal(wp_rack_simulate(&nd, 1, &o, &r, NULL), 0);
        double want = binom_tail(nodes, 0.25, k);
        /* Monte Carlo: trials x positions samples, but positions of one trial are correlated;
         * bound by the trials alone (4 standard errors of 400 draws). */
        double se = sqrt(want * (1 - want) / 400.0);
        assert_near(r.level[0].p_exceed, want, 4 * se + 1e-3);
        assert_near(r.level[0].mean_w, nodes * (0.25 * 1000 + 0.75 * 200), 1e-6);
    }
    /* The 1 s mean of a 2 s period wave with 25 % duty: 50 points per window over a 100-point
     * circle; in step the highest 1 s mean is (25 x 1000 + 25 x 200) / 50 = 600 W a node. */
    struct wp_rack_opts o = rack_opts(4, true, 1e9);
    struct wp_rack_result r;
    assert_int_equal(wp_rack_simulate(&nd, 1, &o, &r, NULL), 0);
    assert_near(r.level[1].max_w, 4 * 600.0, 1e-6);
}

/* ---- carbon ---- */
static uint64_t rng = 12345;
static double urand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void make_series(struct wp_intensity *ci, size_t n, int64_t t0, double blank_p)
{
    memset(ci, 0, sizeof(*ci));
    ci->n = n;
    ci->t_us = malloc(n * sizeof(int64_t));
    ci->g_per_kwh = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        ci->t_us[i] = t0 + (int64_t)i * H_US;
        ci->g_per_kwh[i] = urand() < blank_p ? NAN : 50 + 400 * urand();
    }
    snprintf(ci->source, sizeof(ci->source), "test");
}

/* The per-second emissions of the profile started at `start`, or NAN if it meets a blank. */
static double brute_kg(const struct wp_profile *p, const struct wp_intensity *ci, int64_t start,
                       double pue)
{
    double kg = 0;
    for (size_t k = 0; k < p->n; k++) {
        double g = wp_intensity_at(ci, start + (int64_t)k * p->bin_us);
        if (p->energy_j[k] == 0)
            continue;
        if (isnan(g))
            return NAN;
        kg += p->energy_j[k] * pue / 3.6e6 * g / 1000;
    }
    return kg;
}

/* Every increasing choice of slots for the chunks; restarts cost at the resume slot. */
static double brute_split(const double *chunk, size_t K, const struct wp_intensity *ci, size_t s0,
                          size_t S, double pue, double restart_j, size_t k, long prev)
{
    if (k == K)
        return 0;
    double best = INFINITY;
    for (size_t s = prev < 0 ? 0 : (size_t)prev + 1; s + (K - k) <= S; s++) {
        double g = ci->g_per_kwh[s0 + s];
        if (isnan(g))
            continue;
        double c = chunk[k] * pue / 3.6e6 * g / 1000;
        if (prev >= 0 && (long)s != prev + 1)
            c += restart_j * pue / 3.6e6 * g / 1000;
        double rest = brute_split(chunk, K, ci, s0, S, pue, restart_j, k + 1, (long)s);
        if (c + rest < best)
            best = c + rest;
    }
    return best;
}

static void test_carbon_matches_exhaustive_search(void **state)
{
    (void)state;
    for (int cs = 0; cs < 60; cs++) {
        struct wp_intensity ci;
        int64_t t0 = 1656633600LL * 1000000; /* 2022-07-01 */
        make_series(&ci, 14, t0, cs % 3 == 0 ? 0.15 : 0.0);
        struct wp_profile p;
        size_t secs = 1800 + (size_t)(urand() * 3 * 3600); /* 0.5 to 3.5 h */
        assert_int_equal(wp_profile_init(&p, 0, (int64_t)secs * 1000000, 1000000), 0);
        for (size_t i = 0; i < p.n; i++)
            p.energy_j[i] = 500 + 4000 * urand() * (i % 1000 < 300 ? 1 : 0.2);
        struct wp_carbon_opts o = {.now_us = t0 + (int64_t)(urand() * 3 * H_US),
                                   .deadline_us = t0 + 13 * H_US,
                                   .pue = 1 + urand(),
                                   .restart_kwh = cs % 2 ? urand() * 2 : 0};
        struct wp_carbon_plan r;
        assert_int_equal(wp_carbon_plan(&p, &ci, &o, &r, NULL), 0);
        /* Exhaustive: every slot boundary at or after now whose run ends by the deadline. */
        double best = INFINITY;
        int64_t best_t = 0;
        for (size_t s = 0; s < ci.n; s++) {
            int64_t st = ci.t_us[s];
            if (st < o.now_us || st + (int64_t)p.n * 1000000 > o.deadline_us)
                continue;
            double kg = brute_kg(&p, &ci, st, o.pue);
            if (!isnan(kg) && kg < best) {
                best = kg;
                best_t = st;
            }
        }
        assert_int_equal(r.found, isfinite(best));
        if (r.found) {
            assert_near(r.kg_co2e_best, best, 1e-9 * best);
            assert_true(r.best_start_us == best_t ||
                        fabs(brute_kg(&p, &ci, r.best_start_us, o.pue) - best) < 1e-9 * best);
        }
        double now = brute_kg(&p, &ci, o.now_us, o.pue);
        if (isnan(now))
            assert_true(isnan(r.kg_co2e_now));
        else
            assert_near(r.kg_co2e_now, now, 1e-9 * now);
        /* The split against every placement of the chunks. */
        double *chunk;
        size_t K;
        assert_int_equal(wp_profile_chunks(&p, H_US, &chunk, &K), 0);
        long s0 = wp_intensity_slot(&ci, o.now_us);
        if (ci.t_us[s0] < o.now_us)
            s0++;
        size_t S = 0;
        while ((size_t)s0 + S < ci.n && ci.t_us[s0 + (long)S] + H_US <= o.deadline_us)
            S++;
        double want =
            brute_split(chunk, K, &ci, (size_t)s0, S, o.pue, o.restart_kwh * 3.6e6, 0, -1);
        assert_int_equal(r.split_found, isfinite(want));
        if (r.split_found) {
            assert_near(r.kg_co2e_split, want, 1e-9 * want);
            /* Pausing can only help: never worse than the best single start. */
            if (r.found)
                assert_true(r.kg_co2e_split <= r.kg_co2e_best * (1 + 1e-12));
        }
        free(chunk);
        wp_carbon_plan_free(&r);
        wp_profile_free(&p);
        wp_intensity_free(&ci);
    }
}

/* 1 kW for 2 h from 00:30, across hours of 100, 300 and 200 gCO2/kWh: 0.5 kWh x 100 +
 * 1 kWh x 300 + 0.5 kWh x 200 = 450 g; PUE 1.5 makes 675 g. A blank middle hour leaves 1 h
 * out and 1.5 kWh x (100 + 200) / 2 ... = 0.75 kWh x 100 + 0.75 kWh x 200 = 225 g. */
static void test_emissions_by_hand(void **state)
{
    (void)state;
    struct wp_intensity ci = {0};
    int64_t t0 = 1640995200LL * 1000000;
    int64_t t[] = {t0, t0 + H_US, t0 + 2 * H_US, t0 + 3 * H_US};
    double g[] = {100, 300, 200, 999};
    ci.n = 4;
    ci.t_us = t;
    ci.g_per_kwh = g;
    int64_t ts[2] = {t0 + H_US / 2, t0 + H_US / 2 + 2 * H_US};
    int64_t mw[2] = {1000000, 1000000};
    struct wp_profile p;
    assert_int_equal(wp_profile_init(&p, ts[0], ts[1], 1000000), 0);
    assert_int_equal(wp_profile_add_series(&p, ts, mw, 2, 0, ts[0], ts[1], 1.0), 0);
    struct wp_emissions e;
    assert_int_equal(wp_emissions_compute(&p, &ci, 1.0, 0, &e, NULL), 0);
    assert_near(e.it_energy_j, 7.2e6, 1e-3);
    assert_near(e.kg_co2e, 0.450, 1e-9);
    assert_near(e.hours_without_intensity, 0, 0);
    assert_int_equal(wp_emissions_compute(&p, &ci, 1.5, 0, &e, NULL), 0);
    assert_near(e.kg_co2e, 0.675, 1e-9);
    assert_near(e.facility_energy_j, 10.8e6, 1e-3);
    g[1] = NAN;
    assert_int_equal(wp_emissions_compute(&p, &ci, 1.0, 0, &e, NULL), 0);
    assert_near(e.kg_co2e, 0.150, 1e-9);
    assert_near(e.hours_without_intensity, 1.0, 1e-12);
    assert_near(e.energy_without_intensity_j, 3.6e6, 1e-3);
    /* Moved 10 h later it lies past the series: nothing known, all of it counted. */
    assert_int_equal(wp_emissions_compute(&p, &ci, 1.0, 10 * H_US, &e, NULL), 0);
    assert_true(isnan(e.kg_co2e));
    assert_near(e.hours_without_intensity, 2.0, 1e-12);
    struct wp_intensity k;
    wp_intensity_constant(&k, 400);
    assert_int_equal(wp_emissions_compute(&p, &k, 1.2, 0, &e, NULL), 0);
    assert_near(e.kg_co2e, 2 * 1.2 * 0.4, 1e-9);
    assert_int_equal(wp_emissions_compute(&p, &k, 0.9, 0, &e, NULL), -EINVAL);
    wp_profile_free(&p);
}

static size_t blanks(const struct wp_intensity *ci)
{
    size_t b = 0;
    for (size_t i = 0; i < ci->n; i++)
        b += isnan(ci->g_per_kwh[i]);
    return b;
}

/* The shipped series: a year of hours, CISO with 3 blank rows and PJM with 23 (their README);
 * a run over CISO's blank 2022-01-05 10:00 reports that hour and leaves it out. */
static void test_shipped_series(void **state)
{
    (void)state;
    struct wp_intensity ci;
    struct wp_err err = {0};
    assert_int_equal(wp_intensity_load(&ci, "data/carbon/CISO-2022-hourly.csv.gz", &err), 0);
    assert_int_equal(ci.n, 8760);
    assert_int_equal(blanks(&ci), 3);
    int64_t t;
    assert_int_equal(wp_time_parse("2022-01-05T09:00:00Z", &t), 0);
    struct wp_profile p;
    assert_int_equal(wp_profile_init(&p, t, t + 3 * H_US, 1000000), 0);
    for (size_t i = 0; i < p.n; i++)
        p.energy_j[i] = 1000; /* 1 kW */
    struct wp_emissions e;
    assert_int_equal(wp_emissions_compute(&p, &ci, 1.0, 0, &e, NULL), 0);
    assert_near(e.hours_without_intensity, 1.0, 1e-12);
    double want = (wp_intensity_at(&ci, t) + wp_intensity_at(&ci, t + 2 * H_US)) / 1000.0;
    assert_near(e.kg_co2e, want, 1e-9);
    assert_true(isnan(wp_intensity_at(&ci, t + H_US)));
    /* plan carbon over the blank hour: the starts that would meet it are skipped. */
    struct wp_carbon_opts o = {
        .now_us = t - 2 * H_US, .deadline_us = t + 6 * H_US, .pue = 1.0, .restart_kwh = -1};
    struct wp_carbon_plan r;
    assert_int_equal(wp_carbon_plan(&p, &ci, &o, &r, NULL), 0);
    assert_int_equal(r.candidates, 6);    /* 07:00 .. 12:00 */
    assert_int_equal(r.skipped_blank, 3); /* 08:00, 09:00, 10:00 meet 10:00 */
    wp_carbon_plan_free(&r);
    wp_profile_free(&p);
    wp_intensity_free(&ci);
    assert_int_equal(wp_intensity_load(&ci, "data/carbon/PJM-2022-hourly.csv.gz", &err), 0);
    assert_int_equal(ci.n, 8760);
    assert_int_equal(blanks(&ci), 23);
    wp_intensity_free(&ci);
    char path[512];
    assert_int_equal(
        wp_intensity_find_zone("ERCO", "/nonexistent:data/carbon", path, sizeof(path), &err), 0);
    assert_string_equal(path, "data/carbon/ERCO-2022-hourly.csv.gz");
    assert_int_equal(wp_intensity_find_zone("XXXX", "data/carbon", path, sizeof(path), &err),
                     -ENOENT);
    assert_non_null(strstr(err.msg, "CISO"));
    assert_int_equal(wp_intensity_find_zone("../x", "data/carbon", path, sizeof(path), &err),
                     -EINVAL);
}

static void test_time_parse(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(wp_time_parse("2022-01-01 00:00:00+00:00", &t), 0);
    assert_int_equal(t, 1640995200LL * 1000000);
    assert_int_equal(wp_time_parse("2022-01-01T02:00:00+02:00", &t), 0);
    assert_int_equal(t, 1640995200LL * 1000000);
    assert_int_equal(wp_time_parse("2022-01-01T00:00Z", &t), 0);
    assert_int_equal(t, 1640995200LL * 1000000);
    assert_int_equal(wp_time_parse("1640995200", &t), 0);
    assert_int_equal(t, 1640995200LL * 1000000);
    assert_int_equal(wp_time_parse("2022-13-01", &t), -EINVAL);
    assert_int_equal(wp_time_parse("yesterday", &t), -EINVAL);
    char b[40];
    wp_time_format(1640995200LL * 1000000, b, sizeof(b));
    assert_string_equal(b, "2022-01-01T00:00:00Z");
}

/* Phases generated from a known model are fitted back, and held-out predictions are exact;
 * a constant-power baseline is not. */
static void test_model_recovers(void **state)
{
    (void)state;
    struct wp_model truth = {.idle_w = 120, .span_w = 570, .scale_tflops = 90};
    double xs[] = {0, 0, 30, 60, 100, 150, 250, 400, 670};
    struct wp_model_phase ph[9];
    memset(ph, 0, sizeof(ph));
    for (int i = 0; i < 9; i++) {
        ph[i].ngpus = 2;
        ph[i].duration_s = 10 + i;
        ph[i].idle = xs[i] == 0;
        ph[i].tflops_per_gpu = xs[i];
        ph[i].util_pct = 100;
        ph[i].energy_j = wp_model_power_w(&truth, xs[i]) * 2 * ph[i].duration_s;
        snprintf(ph[i].input, sizeof(ph[i].input), "in%d", i);
    }
    struct wp_model m = {0};
    assert_int_equal(wp_model_fit(ph, 9, &m, NULL), 0);
    assert_near(m.idle_w, 120, 2);
    assert_near(m.span_w, 570, 10);
    assert_near(m.scale_tflops, 90, 3);
    struct wp_model_eval ev;
    assert_int_equal(wp_model_evaluate(ph, 9, 700, false, &ev, NULL), 0);
    assert_int_equal(ev.scored, 7);
    assert_true(ev.mape_model < 2.0);
    assert_true(ev.mape_tdp > 10 * ev.mape_model);
    wp_model_eval_free(&ev);
    /* Two idle phases alone cannot be fitted. */
    assert_int_equal(wp_model_fit(ph, 2, &m, NULL), -EINVAL);
}

/* Phases whose power falls as the FLOP rate rises (noise over a short run, as three 0.7 s
 * phases of a replay gave): the fit keeps the form's signs, so no load predicts less than
 * zero watts or less than at idle, and its held-out predictions stay positive. */
static void test_model_never_negative(void **state)
{
    (void)state;
    double xs[] = {0, 0, 70, 140, 210}, w[] = {311, 314, 317, 318, 298};
    struct wp_model_phase ph[5];
    memset(ph, 0, sizeof(ph));
    for (int i = 0; i < 5; i++) {
        ph[i].ngpus = 2;
        ph[i].duration_s = 0.7;
        ph[i].idle = xs[i] == 0;
        ph[i].tflops_per_gpu = xs[i];
        ph[i].energy_j = w[i] * 2 * ph[i].duration_s;
        snprintf(ph[i].input, sizeof(ph[i].input), "in%d", i);
    }
    struct wp_model m = {0};
    assert_int_equal(wp_model_fit(ph, 5, &m, NULL), 0);
    assert_true(m.idle_w >= 0 && m.span_w >= 0);
    assert_true(wp_model_power_w(&m, 1e5) >= wp_model_power_w(&m, 0));
    assert_true(wp_model_power_w(&m, 1e5) > 250);
    struct wp_model_eval ev;
    assert_int_equal(wp_model_evaluate(ph, 5, 700, false, &ev, NULL), 0);
    for (int i = 2; i < 5; i++)
        assert_true(ev.pred_j[i] > 0);
    wp_model_eval_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rack_constant_nodes),
        cmocka_unit_test(test_rack_square_wave),
        cmocka_unit_test(test_carbon_matches_exhaustive_search),
        cmocka_unit_test(test_emissions_by_hand),
        cmocka_unit_test(test_shipped_series),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_model_recovers),
        cmocka_unit_test(test_model_never_negative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
