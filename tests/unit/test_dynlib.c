/* wp_dl_load: a library's symbols land in their slots; a missing library or symbol gives NULL
 * and a line that names what is missing (what a source without its library reports). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/dynlib.h"

static void test_dl_load_fills_every_slot(void **state)
{
    (void)state;
    double (*my_cos)(double) = NULL, (*my_sqrt)(double) = NULL;
    const struct wp_dl_sym syms[] = {{(void **)&my_cos, "cos"}, {(void **)&my_sqrt, "sqrt"}};
    char err[256] = "";
    void *h = wp_dl_load("libm.so.6", syms, 2, err, sizeof(err));
    assert_non_null(h);
    assert_non_null(my_cos);
    assert_non_null(my_sqrt);
    volatile double x = 2.25;
    assert_true(my_sqrt(x) == 1.5);
    assert_string_equal(err, "");
}

static void test_dl_load_names_the_missing_symbol(void **state)
{
    (void)state;
    void *a = NULL, *b = NULL;
    const struct wp_dl_sym syms[] = {{&a, "cos"}, {&b, "wp_no_such_symbol"}};
    char err[256] = "";
    assert_null(wp_dl_load("libm.so.6", syms, 2, err, sizeof(err)));
    assert_string_equal(err, "libm.so.6 has no wp_no_such_symbol");
}

static void test_dl_load_names_the_missing_library(void **state)
{
    (void)state;
    void *a = NULL;
    const struct wp_dl_sym syms[] = {{&a, "cos"}};
    char err[256] = "";
    assert_null(wp_dl_load("libwattprof-not-there.so.9", syms, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "libwattprof-not-there.so.9"));
    assert_null(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dl_load_fills_every_slot),
        cmocka_unit_test(test_dl_load_names_the_missing_symbol),
        cmocka_unit_test(test_dl_load_names_the_missing_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
