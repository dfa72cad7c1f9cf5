/* Energy integration, rolling peaks, percentiles, counters and summed peaks, checked against
 * values worked out by hand from the interval rule: a sample at t_i covers (t_{i-1}, t_i]. */
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

#include "analysis/energy.h"

#define MS  1000
#define S   1000000
#define EPS 1e-9

/* Constant 100 W every 20 ms over [0, 1 s]: 51 samples. */
static void make_const(int64_t *t, int64_t *v, size_t n, int64_t mw)
{
    for (size_t i = 0; i < n; i++) {
        t[i] = (int64_t)i * 20 * MS;
        v[i] = mw;
    }
}

static void test_energy_constant(void **state)
{
    (void)state;
    int64_t t[51], v[51];
    make_const(t, v, 51, 100000);
    struct wp_energy e;
    /* The first sample's interval ends at 0, so [0, 1 s] is exactly samples 1..50. */
    assert_int_equal(wp_energy_window(t, v, 51, 0, S, 20 * MS, 40 * MS, &e), 0);
    assert_near(e.energy_mj, 100000.0, EPS);
    assert_int_equal(e.covered_us, S);
    assert_int_equal(e.gaps, 0);
    assert_int_equal(e.gap_us, 0);

    /* A window starting 20 ms early picks up the first sample held back one cadence. */
    assert_int_equal(wp_energy_window(t, v, 51, -20 * MS, S, 20 * MS, 40 * MS, &e), 0);
    assert_near(e.energy_mj, 102000.0, EPS);
    assert_int_equal(e.covered_us, S + 20 * MS);

    /* ... but never more than one cadence: the rest is uncovered, not extrapolated. */
    assert_int_equal(wp_energy_window(t, v, 51, -100 * MS, S, 20 * MS, 40 * MS, &e), 0);
    assert_near(e.energy_mj, 102000.0, EPS);
    assert_int_equal(e.covered_us, S + 20 * MS);

    /* Without a hold the first sample covers nothing. */
    assert_int_equal(wp_energy_window(t, v, 51, -100 * MS, S, 0, 40 * MS, &e), 0);
    assert_near(e.energy_mj, 100000.0, EPS);

    /* Nothing after the last sample is covered. */
    assert_int_equal(wp_energy_window(t, v, 51, 0, 2 * S, 20 * MS, 40 * MS, &e), 0);
    assert_near(e.energy_mj, 100000.0, EPS);
    assert_int_equal(e.covered_us, S);

    /* A window entirely outside the data. */
    assert_int_equal(wp_energy_window(t, v, 51, 3 * S, 4 * S, 20 * MS, 40 * MS, &e), 0);
    assert_near(e.energy_mj, 0.0, EPS);
    assert_int_equal(e.covered_us, 0);
}

/* Ramp: t_i = i * 100 ms, v_i = i W, i = 0..10. */
static void make_ramp(int64_t *t, int64_t *v)
{
    for (int i = 0; i <= 10; i++) {
        t[i] = (int64_t)i * 100 * MS;
        v[i] = (int64_t)i * 1000;
    }
}

static void test_energy_ramp_and_edges(void **state)
{
    (void)state;
    int64_t t[11], v[11];
    make_ramp(t, v);
    struct wp_energy e;
    /* sum_{i=1..10} i W * 0.1 s = 5.5 J */
    assert_int_equal(wp_energy_window(t, v, 11, 0, S, 0, 0, &e), 0);
    assert_near(e.energy_mj, 5500.0, EPS);

    /* [50 ms, 250 ms]: half of (0,100] at 1 W + (100,200] at 2 W + half of (200,300] at 3 W
     * = 50 + 200 + 150 mJ. Uses the value of the sample that ENDS the interval: holding the
     * previous sample forward would give 0*50 + 1*100 + 2*50 = 200 mJ instead. */
    assert_int_equal(wp_energy_window(t, v, 11, 50 * MS, 250 * MS, 0, 0, &e), 0);
    assert_near(e.energy_mj, 400.0, EPS);
    assert_int_equal(e.covered_us, 200 * MS);

    /* Inside one interval: 10 ms of (100,200] at 2 W. */
    assert_int_equal(wp_energy_window(t, v, 11, 120 * MS, 130 * MS, 0, 0, &e), 0);
    assert_near(e.energy_mj, 20.0, EPS);

    /* Window edges exactly on samples. */
    assert_int_equal(wp_energy_window(t, v, 11, 100 * MS, 300 * MS, 0, 0, &e), 0);
    assert_near(e.energy_mj, 500.0, EPS);

    /* Empty window. */
    assert_int_equal(wp_energy_window(t, v, 11, 150 * MS, 150 * MS, 0, 0, &e), 0);
    assert_near(e.energy_mj, 0.0, EPS);
    assert_int_equal(e.covered_us, 0);

    /* Bad arguments. */
    assert_int_equal(wp_energy_window(t, v, 11, 2 * S, S, 0, 0, &e), -EINVAL);
    int64_t bad_t[] = {0, 100, 50, 200}, bad_v[] = {1, 1, 1, 1};
    assert_int_equal(wp_energy_window(bad_t, bad_v, 4, 0, 300, 0, 0, &e), -EINVAL);
    assert_int_equal(wp_energy_window(NULL, NULL, 0, 0, S, 0, 0, &e), 0);
    assert_int_equal(e.covered_us, 0);
}

static void test_energy_gaps(void **state)
{
    (void)state;
    /* 20 ms cadence with one 100 ms hole before t = 140 ms, 1 W throughout. */
    int64_t t[] = {0, 20 * MS, 40 * MS, 140 * MS, 160 * MS};
    int64_t v[] = {1000, 1000, 1000, 1000, 1000};
    struct wp_energy e;
    assert_int_equal(wp_energy_window(t, v, 5, 0, 160 * MS, 20 * MS, 40 * MS, &e), 0);
    assert_near(e.energy_mj, 160.0, EPS); /* the hole is integrated, value held */
    assert_int_equal(e.covered_us, 160 * MS);
    assert_int_equal(e.gaps, 1);
    assert_int_equal(e.gap_us, 100 * MS);

    /* Only the part of the gap inside the window counts. */
    assert_int_equal(wp_energy_window(t, v, 5, 100 * MS, 160 * MS, 20 * MS, 40 * MS, &e), 0);
    assert_int_equal(e.gaps, 1);
    assert_int_equal(e.gap_us, 40 * MS);
    assert_near(e.energy_mj, 60.0, EPS);

    /* A window past the gap sees none. */
    assert_int_equal(wp_energy_window(t, v, 5, 145 * MS, 160 * MS, 20 * MS, 40 * MS, &e), 0);
    assert_int_equal(e.gaps, 0);

    /* An interval of exactly the threshold is not a gap; one longer is. */
    assert_int_equal(wp_energy_window(t, v, 5, 0, 160 * MS, 20 * MS, 100 * MS, &e), 0);
    assert_int_equal(e.gaps, 0);
    assert_int_equal(wp_energy_window(t, v, 5, 0, 160 * MS, 20 * MS, 99 * MS, &e), 0);
    assert_int_equal(e.gaps, 1);

    /* The backward hold of the first sample is never a gap, however long. */
    assert_int_equal(wp_energy_window(t, v, 5, -500 * MS, 20 * MS, 500 * MS, 40 * MS, &e), 0);
    assert_int_equal(e.gaps, 0);
    assert_int_equal(e.covered_us, 520 * MS);

    assert_int_equal(wp_count_gaps(t, 5, 40 * MS), 1);
    assert_int_equal(wp_count_gaps(t, 5, 19 * MS), 4);
    assert_int_equal(wp_count_gaps(t, 1, 0), 0);
}

/* 10 s of 20 ms samples with a 100 ms on / 100 ms off square wave, 500 W / 100 W. */
static void test_rolling_square_wave(void **state)
{
    (void)state;
    enum { N = 501 };
    int64_t t[N], v[N];
    for (int i = 0; i < N; i++) {
        t[i] = (int64_t)i * 20 * MS;
        /* sample i covers ((i-1)*20, i*20] ms: on for i in 1..5, off for 6..10, ... */
        v[i] = ((i - 1 + 10) / 5) % 2 == 0 ? 500000 : 100000;
    }
    double peak;
    assert_int_equal(wp_rolling_mean_max(t, v, N, 0, 10 * S, 20 * MS, S, &peak), 0);
    /* A 1 s window always holds five whole periods, whatever its phase. */
    assert_near(peak, 300000.0, 1e-6);
    int64_t mx = 0;
    for (int i = 0; i < N; i++)
        mx = v[i] > mx ? v[i] : mx;
    assert_int_equal(mx, 500000); /* while single samples show the on level */

    /* A 100 ms window finds the on level. */
    assert_int_equal(wp_rolling_mean_max(t, v, N, 0, 10 * S, 20 * MS, 100 * MS, &peak), 0);
    assert_near(peak, 500000.0, 1e-6);
    /* A 150 ms window: best is 100 ms on + 50 ms off = (500*100 + 100*50)/150. */
    assert_int_equal(wp_rolling_mean_max(t, v, N, 0, 10 * S, 20 * MS, 150 * MS, &peak), 0);
    assert_near(peak, (500000.0 * 100 + 100000.0 * 50) / 150, 1e-6);
}

static void test_rolling_shapes(void **state)
{
    (void)state;
    enum { N = 501 };
    int64_t t[N], v[N];
    double peak;
    /* Baseline 100 W with one 20 ms sample at 700 W: best 1 s mean = 100 + 600 * 0.02. */
    make_const(t, v, N, 100000);
    v[250] = 700000;
    assert_int_equal(wp_rolling_mean_max(t, v, N, 0, 10 * S, 20 * MS, S, &peak), 0);
    assert_near(peak, 112000.0, 1e-6);

    /* Step 100 W -> 400 W at 5 s. */
    make_const(t, v, N, 100000);
    for (int i = 251; i < N; i++)
        v[i] = 400000;
    assert_int_equal(wp_rolling_mean_max(t, v, N, 0, 10 * S, 20 * MS, S, &peak), 0);
    assert_near(peak, 400000.0, 1e-6);
    /* restricted to [0, 5.5 s], the best window is [4.5, 5.5]: half and half */
    assert_int_equal(wp_rolling_mean_max(t, v, N, 0, 5500 * MS, 20 * MS, S, &peak), 0);
    assert_near(peak, 250000.0, 1e-6);

    /* Span shorter than the window: NAN. */
    assert_int_equal(wp_rolling_mean_max(t, v, N, 0, 900 * MS, 20 * MS, S, &peak), 0);
    assert_true(isnan(peak));
    assert_int_equal(wp_rolling_mean_max(t, v, 1, 0, 10 * S, 20 * MS, S, &peak), 0);
    assert_true(isnan(peak));
    assert_int_equal(wp_rolling_mean_max(t, v, 0, 0, 10 * S, 20 * MS, S, &peak), 0);
    assert_true(isnan(peak));
    assert_int_equal(wp_rolling_mean_max(t, v, N, 0, 10 * S, 20 * MS, 0, &peak), -EINVAL);
}

static uint64_t rng = 0x243F6A8885A308D3u;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Du;
}

/* The O(n) sweep against a brute force built on wp_energy_window: the windowed integral is
 * piecewise linear in its start, so checking every start at a boundary or a boundary minus W
 * (plus the two ends) covers every kink. Irregular timestamps, duplicates and long holes. */
static void test_rolling_matches_brute_force(void **state)
{
    (void)state;
    enum { N = 300 };
    int64_t t[N], v[N];
    int checked = 0;
    for (int round = 0; round < 20; round++) {
        int64_t now = 1700000000000000 + (int64_t)(rnd() % 1000);
        for (int i = 0; i < N; i++) {
            uint64_t r = rnd() % 100;
            now += r < 3 ? 0 : r < 8 ? (int64_t)(rnd() % 400 * MS) : (int64_t)(rnd() % 40 * MS);
            t[i] = now;
            v[i] = (int64_t)(rnd() % 900000);
        }
        int64_t hold = (int64_t)(rnd() % 50) * MS, w = (int64_t)(rnd() % 2000 + 1) * MS;
        int64_t from = t[0] - (int64_t)(rnd() % 100) * MS;
        int64_t to = t[N - 1] - (int64_t)(rnd() % 1000) * MS;
        double got;
        assert_int_equal(wp_rolling_mean_max(t, v, N, from, to, hold, w, &got), 0);

        int64_t lo = t[0] - hold > from ? t[0] - hold : from;
        int64_t hi = t[N - 1] < to ? t[N - 1] : to;
        if (hi - lo < w) {
            assert_true(isnan(got));
            continue;
        }
        double best = -INFINITY;
        for (int k = -1; k < 2 * N + 2; k++) {
            int64_t s;
            if (k == -1)
                s = lo;
            else if (k == 2 * N)
                s = hi - w;
            else if (k == 2 * N + 1)
                s = t[0] - hold;
            else
                s = (k < N ? t[k] : t[k - N] - w);
            if (s < lo || s > hi - w)
                continue;
            struct wp_energy e;
            assert_int_equal(wp_energy_window(t, v, N, s, s + w, hold, 0, &e), 0);
            double m = e.energy_mj * 1e6 / (double)w;
            if (m > best)
                best = m;
        }
        assert_near(got, best, 1e-6 * (best > 1 ? best : 1));
        checked++;
    }
    assert_true(checked >= 10); /* the random spans must mostly be long enough */
}

static void test_percentile_and_median(void **state)
{
    (void)state;
    int64_t v[] = {7, 3, 10, 1, 5, 9, 2, 8, 6, 4};
    wp_sort_i64(v, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(v[i], i + 1);
    assert_near(wp_percentile_sorted(v, 10, 0), 1.0, EPS);
    assert_near(wp_percentile_sorted(v, 10, 100), 10.0, EPS);
    assert_near(wp_percentile_sorted(v, 10, 50), 5.5, EPS); /* rank 4.5 */
    assert_near(wp_percentile_sorted(v, 10, 90), 9.1, EPS); /* rank 8.1 */
    assert_near(wp_percentile_sorted(v, 10, 99), 9.91, EPS);
    assert_near(wp_percentile_sorted(v, 1, 99), 1.0, EPS);
    assert_true(isnan(wp_percentile_sorted(v, 0, 50)));
    assert_true(isnan(wp_percentile_sorted(v, 10, -1)));
    assert_true(isnan(wp_percentile_sorted(v, 10, 100.5)));
    assert_true(isnan(wp_percentile_sorted(v, 10, NAN)));

    double ms;
    int64_t even[] = {0, 10 * MS, 30 * MS, 60 * MS, 100 * MS}; /* 10,20,30,40 */
    assert_int_equal(wp_median_interval_ms(even, 5, &ms), 0);
    assert_near(ms, 25.0, EPS);
    assert_int_equal(wp_median_interval_ms(even, 4, &ms), 0); /* 10,20,30 */
    assert_near(ms, 20.0, EPS);
    int64_t jitter[] = {0, 19900, 39900, 60000, 80000, 180000}; /* one gap must not move it */
    assert_int_equal(wp_median_interval_ms(jitter, 6, &ms), 0);
    assert_near(ms, 20.0, EPS);
    assert_int_equal(wp_median_interval_ms(even, 1, &ms), 0);
    assert_true(isnan(ms));
}

static void test_counter_delta(void **state)
{
    (void)state;
    int64_t d;
    int64_t plain[] = {100, 200, 200, 350};
    assert_int_equal(wp_counter_delta(plain, 4, 0, &d), 0);
    assert_int_equal(d, 250);

    int64_t wrapped[] = {900, 950, 50, 100}; /* wraps at 1000: 50 + 100 + 50 */
    assert_int_equal(wp_counter_delta(wrapped, 4, 1000, &d), 0);
    assert_int_equal(d, 200);
    int64_t twice[] = {900, 100, 950, 10}; /* two wraps: 200 + 850 + 60 */
    assert_int_equal(wp_counter_delta(twice, 4, 1000, &d), 0);
    assert_int_equal(d, 1110);
    int64_t at_wrap[] = {990, 1000, 5}; /* a counter that shows wrap_at itself == 0 */
    assert_int_equal(wp_counter_delta(at_wrap, 3, 1000, &d), 0);
    assert_int_equal(d, 15);

    /* Without wrap_at a decrease is a reset, never a huge or negative delta. */
    int64_t back[] = {100, 200, 50, 300};
    assert_int_equal(wp_counter_delta(back, 4, 0, &d), -ERANGE);
    assert_int_equal(d, 0);

    int64_t one[] = {100};
    assert_int_equal(wp_counter_delta(one, 1, 0, &d), -ENODATA);
    int64_t out_of_range[] = {100, 1200};
    assert_int_equal(wp_counter_delta(out_of_range, 2, 1000, &d), -EINVAL);
    int64_t negative[] = {-5, 10};
    assert_int_equal(wp_counter_delta(negative, 2, 1000, &d), -EINVAL);
    assert_int_equal(wp_counter_delta(plain, 4, -1, &d), -EINVAL);
    int64_t huge[] = {INT64_MIN, INT64_MAX};
    assert_int_equal(wp_counter_delta(huge, 2, 0, &d), -EOVERFLOW);
    int64_t sum_over[] = {0, INT64_MAX, INT64_MAX - 1};
    assert_int_equal(wp_counter_delta(sum_over, 3, INT64_MAX, &d), -EOVERFLOW);
}

/* A: 20 ms from 0 ms at 100 W with a 500 W sample at 100 ms. B: 20 ms from 10 ms at 200 W
 * with a 400 W sample at `b_spike_ms`. */
static void make_ab(int64_t *ta, int64_t *va, int64_t *tb, int64_t *vb, int b_spike_ms)
{
    for (int i = 0; i < 11; i++) {
        ta[i] = (int64_t)i * 20 * MS;
        va[i] = ta[i] == 100 * MS ? 500000 : 100000;
        tb[i] = (int64_t)(10 + 20 * i) * MS;
        vb[i] = tb[i] == b_spike_ms * MS ? 400000 : 200000;
    }
}

static void test_sum_offset_series(void **state)
{
    (void)state;
    int64_t ta[11], va[11], tb[11], vb[11];
    double peak;
    /* B's 110 ms sample covers (90, 110], which holds grid point 100 ms with A's spike. */
    make_ab(ta, va, tb, vb, 110);
    struct wp_series_ref r[2] = {{ta, va, 11, 20 * MS}, {tb, vb, 11, 20 * MS}};
    assert_int_equal(wp_sum_peak(r, 2, 0, 200 * MS, 20 * MS, &peak), 0);
    assert_near(peak, 900000.0, EPS);

    /* B's spike at 130 ms covers (110, 130] = grid point 120, where A is back at 100 W:
     * the peaks do not add up, and the sum shows 700 W (A spike + B base). */
    make_ab(ta, va, tb, vb, 130);
    assert_int_equal(wp_sum_peak(r, 2, 0, 200 * MS, 20 * MS, &peak), 0);
    assert_near(peak, 700000.0, EPS);

    /* The grid: beyond A's last sample (200 ms) not every series covers, so NAN. */
    size_t len = wp_grid_len(0, 260 * MS, 20 * MS);
    assert_int_equal(len, 14);
    double sum[14];
    assert_int_equal(wp_sum_grid(r, 2, 0, 260 * MS, 20 * MS, sum, len), 0);
    assert_near(sum[0], 300000.0, EPS); /* B's first sample held back 20 ms */
    assert_near(sum[5], 700000.0, EPS);
    assert_near(sum[6], 500000.0, EPS);
    assert_near(sum[10], 300000.0, EPS);
    for (int i = 11; i < 14; i++)
        assert_true(isnan(sum[i]));

    /* Without a backward hold, B does not cover grid point 0. */
    r[1].hold_us = 0;
    assert_int_equal(wp_sum_grid(r, 2, 0, 260 * MS, 20 * MS, sum, len), 0);
    assert_true(isnan(sum[0]));
    assert_false(isnan(sum[1]));

    /* A series with no samples leaves no point covered: NAN, not the other series alone. */
    struct wp_series_ref empty[2] = {{ta, va, 11, 20 * MS}, {NULL, NULL, 0, 20 * MS}};
    assert_int_equal(wp_sum_peak(empty, 2, 0, 200 * MS, 20 * MS, &peak), 0);
    assert_true(isnan(peak));

    assert_int_equal(wp_sum_grid(r, 2, 0, 260 * MS, 20 * MS, sum, 3), -EINVAL);
    assert_int_equal(wp_sum_peak(r, 2, 0, 200 * MS, 0, &peak), -EINVAL);
    assert_int_equal(wp_grid_len(10, 0, 1), 0);
}

/* wp_sum_peak skips the grid points where no series moves: it must find the peak a walk of
 * every point finds (the max of wp_sum_grid), with jittered cadences, holds of 0 and gaps,
 * and a run window of 2^60 us over a few samples must not take 2^60 / step steps. */
static void test_sum_peak_matches_grid(void **state)
{
    (void)state;
    enum { N = 40, GRID = 4000 };
    static double sum[GRID];
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        int64_t t[3][N], v[3][N];
        struct wp_series_ref r[3];
        size_t k = 1 + (size_t)(round % 3);
        for (size_t j = 0; j < k; j++) {
            int64_t tt = (int64_t)(rand_r(&seed) % 50);
            size_t n = 1 + (size_t)(rand_r(&seed) % N);
            for (size_t i = 0; i < n; i++) {
                tt += 1 + rand_r(&seed) % (i % 7 == 6 ? 60 : 12);
                t[j][i] = tt;
                v[j][i] = rand_r(&seed) % 1000;
            }
            r[j] = (struct wp_series_ref){t[j], v[j], n, (int64_t)(rand_r(&seed) % 15)};
        }
        int64_t step = 1 + rand_r(&seed) % 9, from = (int64_t)(rand_r(&seed) % 40);
        int64_t to = from + (int64_t)(rand_r(&seed) % 600);
        size_t m = wp_grid_len(from, to, step);
        assert_true(m <= GRID);
        assert_int_equal(wp_sum_grid(r, k, from, to, step, sum, GRID), 0);
        double want = NAN, got;
        for (size_t i = 0; i < m; i++)
            if (!isnan(sum[i]) && (isnan(want) || sum[i] > want))
                want = sum[i];
        assert_int_equal(wp_sum_peak(r, k, from, to, step, &got), 0);
        if (isnan(want))
            assert_true(isnan(got));
        else
            assert_true(got == want);
    }
    int64_t ta[2] = {100, (int64_t)1 << 60}, va[2] = {5, 7};
    struct wp_series_ref big = {ta, va, 2, 1};
    double peak;
    assert_int_equal(wp_sum_peak(&big, 1, 0, ((int64_t)1 << 60) + 10, 1, &peak), 0);
    assert_true(peak == 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_constant),
        cmocka_unit_test(test_energy_ramp_and_edges),
        cmocka_unit_test(test_energy_gaps),
        cmocka_unit_test(test_rolling_square_wave),
        cmocka_unit_test(test_rolling_shapes),
        cmocka_unit_test(test_rolling_matches_brute_force),
        cmocka_unit_test(test_percentile_and_median),
        cmocka_unit_test(test_counter_delta),
        cmocka_unit_test(test_sum_offset_series),
        cmocka_unit_test(test_sum_peak_matches_grid),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
