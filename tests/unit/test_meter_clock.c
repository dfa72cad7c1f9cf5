/* The rule that places a meter's own timestamps (DCMI, Redfish) on the host's clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sources/meter_clock.h"

#define S  1000000LL
#define T0 1795863443000000LL

/* A BMC in step with the host: each reading keeps the meter's instant, not the poll's. */
static void agreeing_clock_keeps_the_stamp(void **st)
{
    (void)st;
    struct wp_meter_clock c;
    wp_meter_clock_init(&c, 2 * S);
    int64_t t;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(wp_meter_clock_place(&c, T0 + i * S, T0 + i * S + 400000, &t), 1);
        assert_int_equal(t, T0 + i * S);
    }
    assert_false(c.off);
    assert_false(c.announce);
}

/* Polled twice within one of the meter's periods: the second answer is the same reading. */
static void repeated_stamp_is_not_a_new_reading(void **st)
{
    (void)st;
    struct wp_meter_clock c;
    wp_meter_clock_init(&c, 2 * S);
    int64_t t = 0;
    assert_int_equal(wp_meter_clock_place(&c, T0, T0 + 100000, &t), 1);
    assert_int_equal(wp_meter_clock_place(&c, T0, T0 + 600000, &t), 0);
    assert_int_equal(wp_meter_clock_place(&c, T0 + S, T0 + S + 100000, &t), 1);
    assert_int_equal(t, T0 + S);
}

/* A BMC kept an hour behind (local time): readings keep their spacing, land at their polls
 * (the smallest lag), and the source is told once. */
static void clock_off_by_an_hour_is_placed_on_the_host_clock(void **st)
{
    (void)st;
    struct wp_meter_clock c;
    wp_meter_clock_init(&c, 2 * S);
    const int64_t behind = 3600 * S;
    int64_t lags[] = {300000, 700000, 200000, 500000, 200000};
    int64_t t, prev = 0;
    for (int i = 0; i < 5; i++) {
        int64_t stamp = T0 - behind + i * S;
        assert_int_equal(wp_meter_clock_place(&c, stamp, T0 + i * S + lags[i], &t), 1);
        assert_true(t <= T0 + i * S + lags[i]);
        assert_true(t > prev);
        prev = t;
        if (i == 0)
            assert_true(c.announce);
        c.announce = false;
    }
    /* After the 200 ms lag was seen, the offset is behind + 200 ms and placing is exact. */
    assert_int_equal(c.offset_us, behind + 200000);
    assert_int_equal(t, T0 + 4 * S + 200000);
    assert_true(c.off);
    assert_false(c.announce);
}

/* A meter clock ahead of the host would put readings in the future: never after the poll. */
static void placed_time_never_after_the_poll(void **st)
{
    (void)st;
    struct wp_meter_clock c;
    wp_meter_clock_init(&c, 2 * S);
    int64_t t;
    assert_int_equal(wp_meter_clock_place(&c, T0 + S, T0 + 500000, &t), 1); /* 0.5 s ahead */
    assert_int_equal(t, T0 + 500000);
    assert_false(c.off);
}

/* The meter's clock is set back (NTP step on the BMC): the estimate restarts and placed times
 * still increase. */
static void clock_stepping_back_restarts_the_estimate(void **st)
{
    (void)st;
    struct wp_meter_clock c;
    wp_meter_clock_init(&c, 2 * S);
    int64_t t, prev;
    assert_int_equal(wp_meter_clock_place(&c, T0, T0 + 100000, &prev), 1);
    assert_int_equal(wp_meter_clock_place(&c, T0 - 600 * S, T0 + S + 100000, &t), 1);
    assert_true(t > prev);
    assert_int_equal(c.offset_us, 601 * S + 100000);
    assert_true(c.off);
}

/* A stamp truncated to whole seconds stands for the second after it: placed at its middle, but
 * never after the poll that read it. */
static void truncated_stamp_is_placed_mid_resolution(void **st)
{
    (void)st;
    struct wp_meter_clock c;
    wp_meter_clock_init(&c, 2 * S);
    wp_meter_clock_set_resolution(&c, S);
    int64_t t;
    assert_int_equal(wp_meter_clock_place(&c, T0, T0 + 900000, &t), 1);
    assert_int_equal(t, T0 + 500000);
    assert_int_equal(wp_meter_clock_place(&c, T0 + S, T0 + S + 200000, &t), 1);
    assert_int_equal(t, T0 + S + 200000);
    /* An hour off: the estimate and the half second both apply. */
    struct wp_meter_clock o;
    wp_meter_clock_init(&o, 2 * S);
    wp_meter_clock_set_resolution(&o, S);
    assert_int_equal(wp_meter_clock_place(&o, T0 - 3600 * S, T0, &t), 1);
    assert_int_equal(t, T0); /* the first reading lands at its poll */
    assert_int_equal(wp_meter_clock_place(&o, T0 - 3599 * S, T0 + S + 700000, &t), 1);
    assert_int_equal(t, T0 + S + 500000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agreeing_clock_keeps_the_stamp),
        cmocka_unit_test(repeated_stamp_is_not_a_new_reading),
        cmocka_unit_test(clock_off_by_an_hour_is_placed_on_the_host_clock),
        cmocka_unit_test(placed_time_never_after_the_poll),
        cmocka_unit_test(clock_stepping_back_restarts_the_estimate),
        cmocka_unit_test(truncated_stamp_is_placed_mid_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
