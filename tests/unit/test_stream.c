/* The streaming folds (src/analysis/stream.c) against the whole-array functions of energy.c
 * that the summary used before it streamed: on random series with jitter, gaps, repeated
 * times and bursts, fed one sample at a time, every result must be the same double. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/energy.h"
#include "analysis/stream.h"

#define MS 1000
#define S  1000000

/* Same bits, or both NAN. */
#define assert_same(a, b)                                                                          \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!((isnan(a_) && isnan(b_)) || a_ == b_))                                               \
            fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                    \
    } while (0)

static uint64_t rng = 88172645463325252u;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A 20 ms power series with jitter, some repeated stamps, now and then a gap of seconds, and
 * power that idles, bursts and drifts. */
static size_t make_series(int64_t *t, int64_t *v, size_t cap, int64_t t0)
{
    int64_t now = t0, p = 100000;
    for (size_t i = 0; i < cap; i++) {
        uint64_t r = next_rand();
        if (r % 97 == 0)
            now += (int64_t)(r % 5) * S; /* gap */
        else if (r % 53 != 0)
            now += 20 * MS + (int64_t)(r % 4001) - 2000;
        t[i] = now;
        if (r % 31 == 0)
            p = 70000 + (int64_t)(r % 630000);
        else
            p += (int64_t)(r >> 40) % 2001 - 1000;
        v[i] = p;
    }
    return cap;
}

static void test_folds_match_arrays(void **state)
{
    (void)state;
    enum { N = 20000 };
    int64_t *t = malloc(N * sizeof(*t)), *v = malloc(N * sizeof(*v));
    assert_non_null(t);
    assert_non_null(v);
    for (int round = 0; round < 40; round++) {
        size_t n = 1 + next_rand() % N;
        if (round < 4)
            n = (size_t)round + 1; /* one to four samples: the edges */
        make_series(t, v, n, 1700000000000000 + (int64_t)(next_rand() % S));
        int64_t hold = round % 3 == 0 ? 0 : 20 * MS;
        int64_t span = t[n - 1] - t[0];
        /* windows: the whole, inside, overlapping either end, empty, before */
        int64_t from[6] = {t[0],         t[0] + span / 3, t[0] - 2 * S, t[0] + span / 2,
                           t[0] - 9 * S, t[n - 1]};
        int64_t to[6] = {t[n - 1],         t[0] + span / 2, t[0] + span / 4,
                         t[n - 1] + 3 * S, t[0] - 5 * S,    t[n - 1]};
        struct wp_energy_win win[6];
        for (int k = 0; k < 6; k++)
            win[k] = (struct wp_energy_win){.from_us = from[k], .to_us = to[k]};
        struct wp_energy_fold ef;
        assert_int_equal(wp_energy_fold_init(&ef, win, 6, hold, 2 * hold), 0);
        /* the same windows fed in batches of random sizes */
        struct wp_energy_win winb[6];
        memcpy(winb, win, sizeof(win));
        struct wp_energy_fold efb;
        assert_int_equal(wp_energy_fold_init(&efb, winb, 6, hold, 2 * hold), 0);
        for (size_t i = 0; i < n;) {
            size_t m = 1 + next_rand() % 700;
            m = m < n - i ? m : n - i;
            wp_energy_fold_add_n(&efb, t + i, v + i, m);
            i += m;
        }
        wp_energy_fold_end(&efb);
        wp_energy_fold_free(&efb);
        struct wp_rolling_fold rf[3];
        int64_t rw[3] = {S, 60 * S, 37 * MS};
        for (int k = 0; k < 3; k++)
            wp_rolling_fold_init(&rf[k], from[k % 2], to[k % 2] + k, hold, rw[k]);
        struct wp_hist vals = {0}, ivals = {0}, valsb = {0}, ivalsb = {0};
        /* the batch form, as the summary's worker feeds it: values (table) and intervals
         * (mostly the flat array) */
        int64_t *dt = malloc(n * sizeof(*dt));
        assert_non_null(dt);
        for (size_t i = 1; i < n; i++)
            dt[i - 1] = t[i] - t[i - 1];
        for (size_t i = 0; i < n;) {
            size_t m = 1 + next_rand() % 700;
            m = m < n - i ? m : n - i;
            assert_int_equal(wp_hist_add_n(&valsb, v + i, m), 0);
            assert_int_equal(wp_hist_add_n(&ivalsb, dt + i, i + m < n ? m : m - 1), 0);
            i += m;
        }
        free(dt);
        struct wp_counter_fold cf;
        wp_counter_fold_init(&cf, from[1], to[1], 100 * MS, 0);
        for (size_t i = 0; i < n; i++) {
            wp_energy_fold_add(&ef, t[i], v[i]);
            for (int k = 0; k < 3; k++)
                assert_int_equal(wp_rolling_fold_add(&rf[k], t[i], v[i]), 0);
            assert_int_equal(wp_hist_add(&vals, v[i]), 0);
            if (i)
                assert_int_equal(wp_hist_add(&ivals, t[i] - t[i - 1]), 0);
            wp_counter_fold_add(&cf, t[i], i * 7); /* a rising counter */
        }
        /* the same folds fed in batches of random sizes, as the summary's worker feeds them */
        struct wp_rolling_fold rb[3];
        for (int k = 0; k < 3; k++) {
            wp_rolling_fold_init(&rb[k], from[k % 2], to[k % 2] + k, hold, rw[k]);
            for (size_t i = 0; i < n;) {
                size_t m = 1 + next_rand() % 700;
                m = m < n - i ? m : n - i;
                assert_int_equal(wp_rolling_fold_add_n(&rb[k], t + i, v + i, m), 0);
                i += m;
            }
        }
        wp_energy_fold_end(&ef);
        for (int k = 0; k < 6; k++) {
            struct wp_energy e;
            assert_int_equal(wp_energy_window(t, v, n, from[k], to[k] >= from[k] ? to[k] : from[k],
                                              hold, 2 * hold, &e),
                             0);
            if (to[k] < from[k])
                continue;
            assert_same(win[k].e.energy_mj, e.energy_mj);
            assert_same(winb[k].e.energy_mj, e.energy_mj);
            assert_int_equal(winb[k].e.covered_us, e.covered_us);
            assert_int_equal(winb[k].e.gaps, e.gaps);
            assert_int_equal(winb[k].e.gap_us, e.gap_us);
            assert_int_equal(win[k].e.covered_us, e.covered_us);
            assert_int_equal(win[k].e.gaps, e.gaps);
            assert_int_equal(win[k].e.gap_us, e.gap_us);
        }
        wp_energy_fold_free(&ef);
        for (int k = 0; k < 3; k++) {
            double want;
            assert_int_equal(
                wp_rolling_mean_max(t, v, n, from[k % 2], to[k % 2] + k, hold, rw[k], &want), 0);
            assert_same(wp_rolling_fold_end(&rf[k]), want);
            assert_same(wp_rolling_fold_end(&rb[k]), want);
            wp_rolling_fold_free(&rf[k]);
            wp_rolling_fold_free(&rb[k]);
        }
        int64_t *sorted = malloc(n * sizeof(*sorted));
        assert_non_null(sorted);
        memcpy(sorted, v, n * sizeof(*sorted));
        wp_sort_i64(sorted, n);
        int rc;
        for (double p = 0; p <= 100; p += 12.5) {
            assert_same(wp_hist_percentile(&vals, p, &rc), wp_percentile_sorted(sorted, n, p));
            assert_same(wp_hist_percentile(&vals, 99, &rc), wp_percentile_sorted(sorted, n, 99));
            assert_same(wp_hist_percentile(&valsb, p, &rc), wp_percentile_sorted(sorted, n, p));
        }
        free(sorted);
        double med;
        assert_int_equal(wp_median_interval_ms(t, n, &med), 0);
        assert_same(wp_hist_percentile(&ivals, 50, &rc) / 1000.0, med);
        assert_same(wp_hist_percentile(&ivalsb, 50, &rc) / 1000.0, med);
        wp_hist_free(&vals);
        wp_hist_free(&valsb);
        wp_hist_free(&ivalsb);
        wp_hist_free(&ivals);

        int64_t *raw = malloc(n * sizeof(*raw));
        assert_non_null(raw);
        for (size_t i = 0; i < n; i++)
            raw[i] = (int64_t)i * 7;
        size_t i0, i1;
        size_t want_n = wp_counter_bracket(t, n, from[1], to[1], 100 * MS, &i0, &i1);
        int64_t delta, c0, c1;
        size_t got_n = wp_counter_fold_end(&cf, &rc, &delta, &c0, &c1);
        assert_int_equal(got_n, want_n);
        if (want_n >= 2) {
            int64_t want_delta;
            assert_int_equal(rc, wp_counter_delta(raw + i0, i1 - i0, 0, &want_delta));
            assert_int_equal(delta, want_delta);
            assert_int_equal(c0, t[i0]);
            assert_int_equal(c1, t[i1 - 1]);
        }
        free(raw);
    }
    free(t);
    free(v);
}

/* A counter that goes backwards inside the bracket is a fault, as wp_counter_delta says. */
/* The 1 s peak search skips windows whose samples are all below the best mean so far. On a
 * near-flat series of large values every window ties up to the rounding of the running sums,
 * so a skip that does not allow for that rounding picks a different double. */
static void test_rolling_prune_near_ties(void **state)
{
    (void)state;
    enum { N = 300000 };
    int64_t *t = malloc(N * sizeof(*t)), *v = malloc(N * sizeof(*v));
    assert_non_null(t);
    assert_non_null(v);
    for (int round = 0; round < 6; round++) {
        int64_t now = 1700000000000000, base = round < 3 ? 1000000000 : 700000;
        for (size_t i = 0; i < N; i++) {
            uint64_t r = next_rand();
            now += 20 * MS + (int64_t)(r % 7) - 3;
            t[i] = now;
            /* flat, or a few mW either way */
            v[i] = round % 3 == 0 ? base : base + (int64_t)(r >> 61) - 3;
        }
        int64_t hold = round % 2 ? 20 * MS : 0;
        double want;
        assert_int_equal(wp_rolling_mean_max(t, v, N, t[0], t[N - 1], hold, S, &want), 0);
        struct wp_rolling_fold rf;
        wp_rolling_fold_init(&rf, t[0], t[N - 1], hold, S);
        for (size_t i = 0; i < N;) {
            size_t m = 1 + next_rand() % 5000;
            m = m < N - i ? m : N - i;
            assert_int_equal(wp_rolling_fold_add_n(&rf, t + i, v + i, m), 0);
            i += m;
        }
        assert_same(wp_rolling_fold_end(&rf), want);
        wp_rolling_fold_free(&rf);
    }
    free(t);
    free(v);
}

static void test_counter_fold_backwards(void **state)
{
    (void)state;
    int64_t t[5] = {0, S, 2 * S, 3 * S, 4 * S}, raw[5] = {10, 20, 5, 30, 40};
    struct wp_counter_fold f;
    wp_counter_fold_init(&f, 0, 4 * S, 0, 0);
    for (int i = 0; i < 5; i++)
        wp_counter_fold_add(&f, t[i], raw[i]);
    int rc;
    int64_t d, c0, c1;
    assert_int_equal(wp_counter_fold_end(&f, &rc, &d, &c0, &c1), 5);
    assert_int_equal(rc, -ERANGE);
    /* with a wrap it is one wrap */
    wp_counter_fold_init(&f, 0, 4 * S, 0, 100);
    for (int i = 0; i < 5; i++)
        wp_counter_fold_add(&f, t[i], raw[i]);
    assert_int_equal(wp_counter_fold_end(&f, &rc, &d, &c0, &c1), 5);
    assert_int_equal(rc, 0);
    assert_int_equal(d, 130);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folds_match_arrays),
        cmocka_unit_test(test_rolling_prune_near_ties),
        cmocka_unit_test(test_counter_fold_backwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
