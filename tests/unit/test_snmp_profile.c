/* The pure half of the SNMP PDU source: the vendor tables (every OID numeric and in its
 * vendor's subtree, every unit one the scaler knows, energy as counters), the unit scaling
 * to mW and mJ (kept raw in the trace, scaled by the row), Raritan's decimal digits, where a
 * counter wraps by its SNMP type, and the outlets= list. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sources/snmp_profile.h"

static void
test_every_profile_column_is_a_numeric_oid_in_its_vendor_tree_with_a_known_unit(void **state)
{
    (void)state;
    static const struct {
        const char *name, *tree;
    } want[] = {{"apc", ".1.3.6.1.4.1.318."},
                {"raritan", ".1.3.6.1.4.1.13742."},
                {"servertech", ".1.3.6.1.4.1.1718."},
                {"eaton", ".1.3.6.1.4.1.534."}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct wp_snmp_profile *p = wp_snmp_profile(want[i].name);
        assert_non_null(p);
        bool inlet_power = false;
        for (size_t c = 0; c < p->ncols; c++) {
            const struct wp_snmp_column *col = &p->cols[c];
            uint32_t o[WP_SNMP_OID_MAX];
            size_t n;
            assert_int_equal(wp_snmp_oid_parse(col->oid, o, WP_SNMP_OID_MAX, &n), 0);
            assert_true(strncmp(col->oid, want[i].tree, strlen(want[i].tree)) == 0);
            enum wp_quantity q;
            double k;
            assert_int_equal(wp_snmp_unit_parse(col->unit, &q, &k), 0);
            assert_int_equal(q, col->quantity); /* the unit says what the column is */
            assert_true(col->nindex >= 1 && col->nindex <= WP_SNMP_INDEX_MAX);
            assert_true(col->role != WP_SNMP_PHASE || col->parent < col->nindex);
            inlet_power |= col->role == WP_SNMP_INLET && col->quantity == WP_Q_POWER;
        }
        assert_true(inlet_power);
    }
    assert_null(wp_snmp_profile("generic")); /* generic has no table: its OIDs are the user's */
    assert_null(wp_snmp_profile("cyberpower"));
}

static void test_units_scale_to_milliwatts_and_millijoules(void **state)
{
    (void)state;
    static const struct {
        const char *unit;
        enum wp_quantity q;
        double scale;
    } cases[] = {
        {"0.01 kW", WP_Q_POWER, 10000.0}, /* APC: hundredths of kW */
        {"W", WP_Q_POWER, 1000.0},
        {"0.1 W", WP_Q_POWER, 100.0},
        {"mW", WP_Q_POWER, 1.0},
        {"0.1 kWh", WP_Q_ENERGY, 360000000.0}, /* APC, ServerTech: tenths of kWh */
        {"Wh", WP_Q_ENERGY, 3600000.0},
        {"0.001 Wh", WP_Q_ENERGY, 3600.0},
        {"J", WP_Q_ENERGY, 1000.0},
        {"kJ", WP_Q_ENERGY, 1000000.0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum wp_quantity q;
        double k;
        assert_int_equal(wp_snmp_unit_parse(cases[i].unit, &q, &k), 0);
        assert_int_equal(q, cases[i].q);
        assert_true(fabs(k - cases[i].scale) < 1e-9 * cases[i].scale);
    }
    static const char *const bad[] = {"", "kw", "VA", "A", "m", "0 W", "-1 W", "W h", "1e400 W"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum wp_quantity q;
        double k;
        assert_int_equal(wp_snmp_unit_parse(bad[i], &q, &k), -EINVAL);
    }
}

static void test_raritan_decimal_digits_become_the_raw_unit(void **state)
{
    (void)state;
    char u[12];
    assert_int_equal(wp_snmp_unit_digits("W", 0, u, sizeof(u)), 0);
    assert_string_equal(u, "W");
    assert_int_equal(wp_snmp_unit_digits("W", 1, u, sizeof(u)), 0);
    assert_string_equal(u, "0.1 W");
    assert_int_equal(wp_snmp_unit_digits("Wh", 3, u, sizeof(u)), 0);
    assert_string_equal(u, "0.001 Wh");
    assert_int_equal(wp_snmp_unit_digits("Wh", 6, u, sizeof(u)), 0);
    assert_string_equal(u, "0.000001 Wh"); /* still fits the sensor row's unit */
    assert_int_equal(wp_snmp_unit_digits("W", 7, u, sizeof(u)), -ERANGE);
    enum wp_quantity q;
    double k;
    assert_int_equal(wp_snmp_unit_digits("W", 2, u, sizeof(u)), 0);
    assert_int_equal(wp_snmp_unit_parse(u, &q, &k), 0);
    assert_true(fabs(k - 10.0) < 1e-12); /* 12345 raw at 2 digits = 123.45 W = 123450 mW */
}

static void test_counters_wrap_where_their_snmp_type_does(void **state)
{
    (void)state;
    assert_int_equal(wp_snmp_wrap_at(WP_SNMP_T_INTEGER), INT64_C(2147483648));
    assert_int_equal(wp_snmp_wrap_at(WP_SNMP_T_UNSIGNED32), INT64_C(4294967296));
    assert_int_equal(wp_snmp_wrap_at(WP_SNMP_T_COUNTER64), 0);
}

static void test_oids_are_numeric_only(void **state)
{
    (void)state;
    uint32_t o[WP_SNMP_OID_MAX];
    size_t n;
    assert_int_equal(wp_snmp_oid_parse(".1.3.6.1.4.1.318.1", o, WP_SNMP_OID_MAX, &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(o[6], 318);
    assert_int_equal(wp_snmp_oid_parse("1.3.6.1.4294967295", o, WP_SNMP_OID_MAX, &n), 0);
    assert_int_equal(o[4], UINT32_MAX);
    char buf[64];
    wp_snmp_oid_format(o, n, buf, sizeof(buf));
    assert_string_equal(buf, ".1.3.6.1.4294967295");
    static const char *const bad[] = {
        "", ".", "1", "1..3", "1.3.", "sysUpTime", "1.3.6.x", "1.3.4294967296", " 1.3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(wp_snmp_oid_parse(bad[i], o, WP_SNMP_OID_MAX, &n), -EINVAL);
    assert_int_equal(wp_snmp_oid_parse("1.2.3.4.5", o, 4, &n), -E2BIG);
}

static void test_outlet_lists_take_numbers_ranges_and_row_indexes(void **state)
{
    (void)state;
    struct wp_snmp_sel *v;
    size_t n;
    char why[200];
    assert_int_equal(wp_snmp_outlets_parse("3, 5-7,1.2.9", &v, &n, why, sizeof(why)), 0);
    assert_int_equal(n, 3);
    uint32_t apc3[] = {3}, apc4[] = {4}, st[] = {1, 1, 3}, st6[] = {1, 2, 6}, st9[] = {1, 2, 9},
             st9b[] = {1, 1, 9};
    assert_true(wp_snmp_sel_match(&v[0], apc3, 1));
    assert_false(wp_snmp_sel_match(&v[0], apc4, 1));
    assert_true(wp_snmp_sel_match(&v[0], st, 3)); /* a bare number is the row's last part */
    assert_true(wp_snmp_sel_match(&v[1], st6, 3));
    assert_true(wp_snmp_sel_match(&v[2], st9, 3));
    assert_false(wp_snmp_sel_match(&v[2], st9b, 3)); /* a row index is exact */
    free(v);
    static const char *const bad[] = {"", "a", "3-", "5-2", "1.", "1.2.3.4.5", "3;4", "-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_int_equal(wp_snmp_outlets_parse(bad[i], &v, &n, why, sizeof(why)), -EINVAL);
        assert_non_null(strstr(why, "outlet")); /* says what to write */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_every_profile_column_is_a_numeric_oid_in_its_vendor_tree_with_a_known_unit),
        cmocka_unit_test(test_units_scale_to_milliwatts_and_millijoules),
        cmocka_unit_test(test_raritan_decimal_digits_become_the_raw_unit),
        cmocka_unit_test(test_counters_wrap_where_their_snmp_type_does),
        cmocka_unit_test(test_oids_are_numeric_only),
        cmocka_unit_test(test_outlet_lists_take_numbers_ranges_and_row_indexes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
