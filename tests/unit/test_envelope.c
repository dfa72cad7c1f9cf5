/* The plot envelope (src/analysis/envelope.c): every sample's extremes land in their column,
 * block means are those of the samples, a run of equal points pushed at once draws exactly
 * what the same points pushed one by one draw, and percentiles come from the 1 W histogram. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/envelope.h"

#define S 1000000

static void same_layers(const struct wp_envelope *a, const struct wp_envelope *b)
{
    for (int l = 0; l < WP_ENV_LAYERS; l++)
        for (size_t c = 0; c < a->cols; c++) {
            double x = a->layer[l].min_w[c], y = b->layer[l].min_w[c];
            if (!(isnan(x) && isnan(y)) && fabs(x - y) > 1e-9)
                fail_msg("layer %d column %zu min %g vs %g", l, c, x, y);
            x = a->layer[l].max_w[c];
            y = b->layer[l].max_w[c];
            if (!(isnan(x) && isnan(y)) && fabs(x - y) > 1e-9)
                fail_msg("layer %d column %zu max %g vs %g", l, c, x, y);
        }
    assert_int_equal(a->samples, b->samples);
}

/* one 20 ms spike in 10 minutes of 100 W shows in its column, at any width */
static void test_spike_kept(void **state)
{
    (void)state;
    struct wp_envelope e;
    assert_int_equal(wp_envelope_init(&e, 0, 600 * (int64_t)S, 7), 0);
    for (int64_t t = 0; t <= 600 * (int64_t)S; t += 20000)
        assert_int_equal(wp_envelope_push(&e, t, t == 333 * (int64_t)S ? 900 : 100, 1, 0), 0);
    wp_envelope_finish(&e);
    assert_true(e.max_w == 900 && e.max_t_us == 333 * (int64_t)S);
    size_t c = (size_t)(333.0 / 600 * 7);
    assert_true(e.layer[0].max_w[c] == 900);
    assert_true(e.layer[0].max_w[c == 0 ? 1 : 0] == 100);
    /* the 1 s mean holding the spike: (900 + 49 x 100) / 50 */
    assert_true(fabs(e.layer[1].max_w[c] - (900.0 + 49 * 100) / 50) < 1e-9);
    /* 1 min means: 100 W, and (800 + 3000 x 100) / 3000 where the spike is */
    assert_true(fabs(e.layer[2].max_w[c] - (800.0 + 3000 * 100) / 3000) < 1e-9);
    assert_true(fabs(e.layer[2].min_w[c] - 100) < 1e-9);
    wp_envelope_free(&e);
}

/* a long run of one value, pushed at once, draws as its points pushed one by one */
static void test_run_equals_points(void **state)
{
    (void)state;
    struct wp_envelope a, b;
    int64_t t1 = 3600 * (int64_t)S, step = 20000;
    assert_int_equal(wp_envelope_init(&a, 0, t1, 500), 0);
    assert_int_equal(wp_envelope_init(&b, 0, t1, 500), 0);
    /* 10 min of 200 W, 1 point at 700 W, 40 min of 300 W, then 50 points of 500 W */
    struct {
        double w;
        size_t n;
    } runs[] = {{200, 30000}, {700, 1}, {300, 120000}, {500, 50}};
    int64_t t = 0;
    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        assert_int_equal(wp_envelope_push(&a, t, runs[r].w, runs[r].n, step), 0);
        for (size_t i = 0; i < runs[r].n; i++)
            assert_int_equal(wp_envelope_push(&b, t + (int64_t)i * step, runs[r].w, 1, 0), 0);
        t += (int64_t)runs[r].n * step;
    }
    wp_envelope_finish(&a);
    wp_envelope_finish(&b);
    same_layers(&a, &b);
    assert_true(a.max_w == 700);
    wp_envelope_free(&a);
    wp_envelope_free(&b);
}

/* points outside the axis are left out; percentiles come from the histogram, to 1 W */
static void test_window_and_percentiles(void **state)
{
    (void)state;
    struct wp_envelope e;
    assert_int_equal(wp_envelope_init(&e, 10 * (int64_t)S, 20 * (int64_t)S, 10), 0);
    assert_int_equal(wp_envelope_push(&e, 0, 5000, 100, 20000), 0); /* all before t0 */
    for (int i = 0; i < 100; i++)                                   /* 100..199 W */
        assert_int_equal(wp_envelope_push(&e, 10 * (int64_t)S + i * 20000, 100 + i, 1, 0), 0);
    assert_int_equal(wp_envelope_push(&e, 21 * (int64_t)S, 5000, 1, 0), 0); /* after t1 */
    wp_envelope_finish(&e);
    assert_int_equal(e.samples, 100);
    assert_true(e.max_w == 199);
    assert_true(fabs(wp_envelope_percentile(&e, 0) - 100) < 1e-9);
    assert_true(fabs(wp_envelope_percentile(&e, 50) - 149.5) < 1.0);
    assert_true(fabs(wp_envelope_percentile(&e, 99) - 198) < 1.0);
    assert_true(isnan(wp_envelope_percentile(&e, 101)));
    wp_envelope_free(&e);
    assert_int_equal(wp_envelope_init(&e, 5, 5, 10), -EINVAL);
}

/* zoomed in, samples sparser than columns still draw a continuous band: each sample marks
 * the columns back to its predecessor; a silence longer than WP_ENV_HOLD_US stays blank */
static void test_sparse_samples_hold(void **state)
{
    (void)state;
    struct wp_envelope e;
    assert_int_equal(wp_envelope_init(&e, 0, 20 * (int64_t)S, 200), 0); /* 0.1 s a column */
    for (int64_t t = 0; t <= 4 * (int64_t)S; t += S)                    /* 1 s apart */
        assert_int_equal(wp_envelope_push(&e, t, (double)(100 + t / S), 1, 0), 0);
    /* 6 s of silence, then samples again */
    for (int64_t t = 10 * (int64_t)S; t <= 12 * (int64_t)S; t += S)
        assert_int_equal(wp_envelope_push(&e, t, 500, 1, 0), 0);
    wp_envelope_finish(&e);
    for (size_t c = 0; c <= 40; c++)
        if (isnan(e.layer[0].max_w[c]))
            fail_msg("column %zu inside the sampled 0-4 s is blank", c);
    /* column 15 (1.5 s) belongs to the sample at 2 s: 102 W */
    assert_true(e.layer[0].max_w[15] == 102 && e.layer[0].min_w[15] == 102);
    for (size_t c = 41; c < 100; c++)
        if (!isnan(e.layer[0].max_w[c]))
            fail_msg("column %zu in the 6 s hole is drawn", c);
    assert_true(e.layer[0].max_w[105] == 500); /* 10.5 s: held back from the sample at 11 s */
    assert_int_equal(e.samples, 8);
    wp_envelope_free(&e);
}

/* The reference for the column cache: a sample's column straight from the definition. */
static size_t ref_col(int64_t t0, int64_t t1, size_t cols, int64_t t)
{
    if (t <= t0)
        return 0;
    size_t c = (size_t)((double)(t - t0) / (double)(t1 - t0) * (double)cols);
    return c < cols ? c : cols - 1;
}

static void ref_mark(double *mn, double *mx, size_t c0, size_t c1, double w)
{
    for (size_t c = c0; c <= c1; c++) {
        if (isnan(mn[c]) || w < mn[c])
            mn[c] = w;
        if (isnan(mx[c]) || w > mx[c])
            mx[c] = w;
    }
}

/* Samples pushed one by one land where the definition puts them (layer 0, with the hold back
 * to the previous sample, and the 1 s block means), also on both sides of every column edge
 * of an uneven axis and when times jump back and forth: the envelope looks columns and blocks
 * up from the range it found last, which must never change the answer. */
static void test_columns_as_defined(void **state)
{
    (void)state;
    const int64_t t0 = 123457, t1 = t0 + 999999937;
    const size_t cols = 997;
    int64_t *t = malloc(40000 * sizeof(*t));
    size_t n = 0;
    assert_non_null(t);
    /* in order around every edge, then 30000 random times (an LCG: the same every run) */
    for (size_t c = 1; c < cols; c++) {
        int64_t lo = t0, hi = t1;
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            *(ref_col(t0, t1, cols, mid) >= c ? &hi : &lo) = mid;
        }
        t[n++] = hi - 1;
        t[n++] = hi;
        t[n++] = hi + 1;
    }
    uint64_t x = 42;
    while (n < 40000) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        t[n++] = t0 - 1000 + (int64_t)((x >> 11) % (uint64_t)(t1 - t0 + 2000));
    }
    struct wp_envelope e;
    assert_int_equal(wp_envelope_init(&e, t0, t1, cols), 0);
    double *mn0 = malloc(cols * sizeof(double)), *mx0 = malloc(cols * sizeof(double));
    double *mn1 = malloc(cols * sizeof(double)), *mx1 = malloc(cols * sizeof(double));
    assert_true(mn0 && mx0 && mn1 && mx1);
    for (size_t c = 0; c < cols; c++)
        mn0[c] = mx0[c] = mn1[c] = mx1[c] = NAN;
    int64_t prev = INT64_MIN, block = INT64_MIN, first = 0, last = 0;
    double sum = 0;
    size_t in = 0;
    for (size_t i = 0; i < n; i++) {
        double w = (double)(i % 701);
        assert_int_equal(wp_envelope_push(&e, t[i], w, 1, 0), 0);
        if (t[i] < t0 || t[i] > t1)
            continue;
        size_t c0 = ref_col(t0, t1, cols, t[i]), c1 = c0;
        if (prev != INT64_MIN && t[i] > prev && t[i] - prev <= WP_ENV_HOLD_US) {
            size_t pc = ref_col(t0, t1, cols, prev);
            if (c0 > pc + 1)
                c0 = pc + 1;
        }
        ref_mark(mn0, mx0, c0, c1, w);
        prev = t[i];
        int64_t b = (t[i] - t0) / S;
        if (b != block && in > 0) {
            ref_mark(mn1, mx1, ref_col(t0, t1, cols, first), ref_col(t0, t1, cols, last),
                     sum / (double)in);
            in = 0;
            sum = 0;
        }
        block = b;
        if (in == 0)
            first = t[i];
        last = t[i];
        sum += w;
        in++;
    }
    wp_envelope_finish(&e);
    if (in > 0)
        ref_mark(mn1, mx1, ref_col(t0, t1, cols, first), ref_col(t0, t1, cols, last),
                 sum / (double)in);
    for (size_t c = 0; c < cols; c++) {
        if (!(isnan(mn0[c]) && isnan(e.layer[0].min_w[c])) &&
            (mn0[c] != e.layer[0].min_w[c] || mx0[c] != e.layer[0].max_w[c]))
            fail_msg("samples, column %zu: %g..%g, want %g..%g", c, e.layer[0].min_w[c],
                     e.layer[0].max_w[c], mn0[c], mx0[c]);
        if (!(isnan(mn1[c]) && isnan(e.layer[1].min_w[c])) &&
            (fabs(mn1[c] - e.layer[1].min_w[c]) > 1e-9 ||
             fabs(mx1[c] - e.layer[1].max_w[c]) > 1e-9))
            fail_msg("1 s means, column %zu: %g..%g, want %g..%g", c, e.layer[1].min_w[c],
                     e.layer[1].max_w[c], mn1[c], mx1[c]);
    }
    wp_envelope_free(&e);
    free(t);
    free(mn0);
    free(mx0);
    free(mn1);
    free(mx1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spike_kept),
        cmocka_unit_test(test_run_equals_points),
        cmocka_unit_test(test_window_and_percentiles),
        cmocka_unit_test(test_sparse_samples_hold),
        cmocka_unit_test(test_columns_as_defined),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
