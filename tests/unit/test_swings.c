/* Swings and spectrum of a summed power grid (src/analysis/swings.c), checked against values
 * the test works out itself: from the definition (means of adjacent windows, computed the
 * slow way), from a ramp's slope, and from a direct DFT of a square wave. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "near.h"

#include "analysis/swings.h"

#define STEP_US 20000
#define DT      0.02

static void fold(const double *w, size_t n, struct wp_swings_result *r)
{
    struct wp_swings *s;
    struct wp_err err = {0};
    assert_int_equal(wp_swings_new(&s, STEP_US, n, &err), 0);
    for (size_t i = 0; i < n; i++)
        wp_swings_push(s, w[i] * 1000.0);
    wp_swings_result(s, r);
    wp_swings_free(s);
}

/* The definition, the slow way: the largest change between the means of two adjacent
 * k-point windows. */
static void slow_swing(const double *w, size_t n, size_t k, double *rise, double *fall)
{
    *rise = *fall = NAN;
    if (n < 2 * k)
        return;
    *rise = *fall = 0;
    for (size_t e = 2 * k; e <= n; e++) {
        double a = 0, b = 0;
        for (size_t i = e - 2 * k; i < e - k; i++)
            a += w[i];
        for (size_t i = e - k; i < e; i++)
            b += w[i];
        double d = (b - a) / (double)k;
        if (d > *rise)
            *rise = d;
        if (-d > *fall)
            *fall = -d;
    }
}

static void check_against_definition(const double *w, size_t n, const struct wp_swings_result *r)
{
    for (int i = 0; i < WP_SWING_WINDOWS; i++) {
        size_t k = (size_t)(wp_swing_window_us[i] / STEP_US);
        double rise, fall;
        slow_swing(w, n, k, &rise, &fall);
        if (isnan(rise)) {
            assert_true(isnan(r->swings[i].max_rise_w));
            continue;
        }
        assert_near(r->swings[i].max_rise_w, rise, 1e-6);
        assert_near(r->swings[i].max_fall_w, fall, 1e-6);
        double big = rise > fall ? rise : fall;
        assert_near(r->swings[i].max_rate_w_per_s, big / ((double)wp_swing_window_us[i] / 1e6),
                    1e-4);
    }
}

/* 100 ms at 800 W, 100 ms at 200 W (the GEMM on/off load of bench/h200), 130 s. */
static void test_square_wave(void **state)
{
    (void)state;
    size_t n = 6500;
    double *w = malloc(n * sizeof(*w));
    for (size_t i = 0; i < n; i++)
        w[i] = (i / 5) % 2 ? 200.0 : 800.0;
    struct wp_swings_result r;
    fold(w, n, &r);
    /* a full 600 W step between samples, and between 100 ms means aligned with the edges;
     * 1 s and 60 s hold whole periods, so their means never move */
    assert_near(r.swings[0].max_rise_w, 600, 1e-9);
    assert_near(r.swings[0].max_fall_w, 600, 1e-9);
    assert_near(r.swings[0].max_rate_w_per_s, 600 / 0.02, 1e-6);
    assert_near(r.swings[1].max_rise_w, 600, 1e-9);
    assert_near(r.swings[2].max_rise_w, 0, 1e-6);
    assert_near(r.swings[3].max_fall_w, 0, 1e-6);
    check_against_definition(w, n, &r);
    /* The strongest line is the 5 Hz fundamental; its amplitude is that of one period's DFT
     * at 5 Hz (the sampled wave is exactly periodic in 10 points). */
    double re = 0, im = 0;
    for (int i = 0; i < 10; i++) {
        re += w[i] * cos(2 * M_PI * i / 10.0);
        im -= w[i] * sin(2 * M_PI * i / 10.0);
    }
    double a5 = 2 * hypot(re, im) / 10;
    assert_true(r.npeaks >= 2);
    assert_near(r.peaks[0].hz, 5.0, r.resolution_hz / 2);
    assert_near(r.peaks[0].amplitude_w, a5, a5 * 0.01);
    /* the next line is the third harmonic */
    assert_near(r.peaks[1].hz, 15.0, r.resolution_hz / 2);
    free(w);
}

/* 1 kW, a 0.5 s linear ramp to 3 kW, 3 kW: the swings follow the slope. */
static void test_ramp(void **state)
{
    (void)state;
    size_t n = 10000, i0 = 5000, len = 25; /* 25 points = 0.5 s */
    double *w = malloc(n * sizeof(*w));
    for (size_t i = 0; i < n; i++)
        w[i] = i < i0 ? 1000 : i >= i0 + len ? 3000 : 1000 + 2000.0 * (double)(i - i0) / len;
    struct wp_swings_result r;
    fold(w, n, &r);
    double slope_w_per_s = 2000 / 0.5;
    /* windows short against the ramp: slope x window */
    assert_near(r.swings[0].max_rise_w, slope_w_per_s * 0.02, 1e-6);
    assert_near(r.swings[0].max_rate_w_per_s, slope_w_per_s, 1e-3);
    assert_near(r.swings[1].max_rise_w, slope_w_per_s * 0.1, 1e-6);
    /* a 60 s window sees almost the whole step: 2000 W less a share of the ramp */
    assert_true(r.swings[3].max_rise_w > 1990 && r.swings[3].max_rise_w < 2000);
    assert_near(r.swings[3].max_fall_w, 0, 1e-6);
    check_against_definition(w, n, &r);
    free(w);
}

/* A 1.3 Hz sine of 50 W on 1 kW: the spectrum finds it, between bins, at its amplitude. */
static void test_sine(void **state)
{
    (void)state;
    size_t n = 20000;
    double f = 1.3, a = 50;
    double *w = malloc(n * sizeof(*w));
    for (size_t i = 0; i < n; i++)
        w[i] = 1000 + a * sin(2 * M_PI * f * (double)i * DT);
    struct wp_swings_result r;
    fold(w, n, &r);
    assert_int_equal(r.segment_points, WP_SPECTRUM_MAX_SEGMENT);
    assert_true(r.npeaks >= 1);
    assert_near(r.peaks[0].hz, f, r.resolution_hz / 4);
    assert_near(r.peaks[0].amplitude_w, a, a * 0.01);
    /* steepest slope of the sine: a * 2 pi f W/s, seen over 20 ms as a chord */
    double chord = 2 * a * sin(M_PI * f * DT);
    assert_near(r.swings[0].max_rise_w, chord, chord * 1e-3);
    assert_near(r.swings[0].max_rate_w_per_s, a * 2 * M_PI * f, a * 2 * M_PI * f * 0.01);
    free(w);
}

/* A gap restarts every window: the jump across it is no swing. */
static void test_gap(void **state)
{
    (void)state;
    struct wp_swings *s;
    struct wp_err err = {0};
    assert_int_equal(wp_swings_new(&s, STEP_US, 0, &err), 0);
    for (int i = 0; i < 60; i++)
        wp_swings_push(s, 100e3);
    wp_swings_push(s, NAN);
    for (int i = 0; i < 60; i++)
        wp_swings_push(s, 900e3);
    struct wp_swings_result r;
    wp_swings_result(s, &r);
    assert_near(r.swings[0].max_rise_w, 0, 1e-9);
    assert_true(isnan(r.swings[2].max_rise_w)); /* never 2 s gapless */
    assert_int_equal(r.points, 121);
    wp_swings_free(s);
    assert_int_equal(wp_swings_new(&s, 0, 0, &err), -EINVAL);
}

/* Through the summed grid: two GPUs, one stepping up 20 ms after the other, and a crafted
 * run window far longer than the data does not walk its grid point by point. */
static void test_compute_series(void **state)
{
    (void)state;
    enum { N = 600 };
    static int64_t t[N], a[N], b[N];
    for (int i = 0; i < N; i++) {
        t[i] = 1000000 + (int64_t)i * STEP_US;
        a[i] = i < 300 ? 100000 : 600000;
        b[i] = i < 301 ? 100000 : 400000;
    }
    struct wp_series_ref refs[2] = {{t, a, N, STEP_US}, {t, b, N, STEP_US}};
    struct wp_swings_result r;
    struct wp_err err = {0};
    assert_int_equal(wp_swings_compute(refs, 2, t[0], t[N - 1], STEP_US, &r, &err), 0);
    assert_near(r.swings[0].max_rise_w, 500, 1e-9);
    /* sums 200 W, then 700 W for one point, then 1000 W: (700 + 4 x 1000) / 5 - 200 */
    assert_near(r.swings[1].max_rise_w, (700.0 + 4 * 1000.0) / 5 - 200, 1e-9);
    assert_int_equal(r.points, N);
    /* 2^40 grid points, almost all after the data: answered at once */
    assert_int_equal(
        wp_swings_compute(refs, 2, t[0], t[0] + ((int64_t)1 << 40) * STEP_US, STEP_US, &r, &err),
        0);
    assert_near(r.swings[0].max_rise_w, 500, 1e-9);
    /* a constant stretch longer than everything the fold keeps: skipped, not walked */
    int64_t t2[2] = {0, ((int64_t)1 << 40) * STEP_US}, v2[2] = {100000, 200000};
    struct wp_series_ref one = {t2, v2, 2, STEP_US};
    assert_int_equal(wp_swings_compute(&one, 1, 0, t2[1], STEP_US, &r, &err), 0);
    assert_near(r.swings[3].max_rise_w, 100.0 / 3000, 1e-6); /* one point of 3000 changed */
    assert_near(r.swings[0].max_rise_w, 100, 1e-6);
    assert_true(r.segments > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_square_wave),    cmocka_unit_test(test_ramp),
        cmocka_unit_test(test_sine),           cmocka_unit_test(test_gap),
        cmocka_unit_test(test_compute_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
