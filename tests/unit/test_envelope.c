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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spike_kept),
        cmocka_unit_test(test_run_equals_points),
        cmocka_unit_test(test_window_and_percentiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
