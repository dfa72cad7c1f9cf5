/* The hwmon source, driven through its ops on a private copy of
 * tests/fixtures/sysfs/hwmon-node (a node with acpi_power_meter on the legacy hwmon API,
 * an nvme chip with temperatures only, amd_energy, and an amdgpu whose power1_input and
 * power1_average share a label). Each test edits or removes files in its copy to play a
 * driver that misbehaves or goes away. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "sources/source.h"

#define MS 1000LL
#define S  1000000LL

struct fx {
    char root[256];
    struct wp_config cfg;
    void *state;
    struct wp_sensors tab;
    struct wp_meta meta;
    struct wp_sink sink;
    struct wp_err err;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    const char *fixtures = getenv("FIXTURES");
    snprintf(f->root, sizeof(f->root), "%s/wattprof-hwmon-XXXXXX", getenv("TMPDIR") ?: "/tmp");
    if (!mkdtemp(f->root))
        return -1;
    char cmd[1024];
    /* cp -a keeps the hwmonN symlinks, as sysfs has them */
    snprintf(cmd, sizeof(cmd), "cp -a '%s/sysfs/hwmon-node/.' '%s/'",
             fixtures ? fixtures : "tests/fixtures", f->root);
    if (system(cmd) != 0)
        return -1;
    wp_config_init(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->state)
        wp_source_hwmon.close(f->state);
    wp_sensors_free(&f->tab);
    wp_meta_free(&f->meta);
    wp_sink_free(&f->sink);
    wp_config_free(&f->cfg);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Opens "hwmon:root=<copy>[,extra]" as the CLI would; returns open's code. */
static int open_with(struct fx *f, const char *extra)
{
    char spec[1024];
    snprintf(spec, sizeof(spec), "hwmon:root=%s%s%s", f->root, extra ? "," : "",
             extra ? extra : "");
    int rc = wp_config_add_spec(&f->cfg, wp_source_kinds, spec, false, "test", &f->err);
    assert_int_equal(rc, 0);
    return wp_source_hwmon.open(&f->state, &f->cfg.v[f->cfg.n - 1], &f->err);
}

/* Opens and discovers; fails the test unless both work. Returns the number of sensors. */
static int discover_with(struct fx *f, const char *extra)
{
    int rc = open_with(f, extra);
    if (rc < 0)
        fail_msg("open: %s", f->err.msg);
    int n = wp_source_hwmon.discover(f->state, &f->tab, &f->meta, &f->err);
    if (n < 0)
        fail_msg("discover: %s", f->err.msg);
    return n;
}

static const struct wp_sensor *sensor(struct fx *f, int device, const char *name)
{
    const struct wp_sensor *s = wp_sensors_find(&f->tab, "hwmon", device, name);
    if (!s)
        fail_msg("no sensor hwmon/%d/%s", device, name);
    return s;
}

static void put(struct fx *f, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", f->root, rel);
    FILE *fp = fopen(path, "w");
    if (!fp)
        fail_msg("cannot write %s", path);
    fputs(text, fp);
    fclose(fp);
}

static void rm(struct fx *f, const char *rel)
{
    char cmd[640];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", f->root, rel);
    assert_int_equal(system(cmd), 0);
}

#define METER   "sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI000D:00"
#define ENERGY  "sys/devices/platform/amd_energy.0"
#define GPU_DIR "sys/devices/pci0000:00/0000:00:03.1/0000:03:00.0/hwmon/hwmon3"

/* Samples of sensor id in the sink; *last = the latest value. */
static size_t samples_of(const struct fx *f, int id, int64_t *last)
{
    size_t n = 0;
    for (size_t i = 0; i < f->sink.n; i++)
        if (f->sink.samples[i].sensor == id) {
            n++;
            if (last)
                *last = f->sink.samples[i].value;
        }
    return n;
}

static size_t events_of(const struct fx *f, int sensor, int device)
{
    size_t n = 0;
    for (size_t i = 0; i < f->sink.nevents; i++)
        if (f->sink.events[i].sensor == sensor && f->sink.events[i].device == device)
            n++;
    return n;
}

static int poll_at(struct fx *f, int64_t now, unsigned flags)
{
    int64_t next = 0;
    return wp_source_hwmon.poll(f->state, now, flags, &f->sink, &next, &f->err);
}

static void test_finds_power_and_energy_chips_and_skips_temperature_only(void **state)
{
    struct fx *f = *state;
    assert_int_equal(discover_with(f, NULL), 6);
    for (size_t i = 0; i < f->tab.n; i++)
        assert_int_not_equal(f->tab.v[i].device, 1); /* nvme: temp1_input only */

    /* acpi_power_meter keeps its files in hwmon0/device/ */
    const struct wp_sensor *m = sensor(f, 0, "power1_average");
    assert_string_equal(m->device_name, "power_meter");
    assert_string_equal(m->source_kind, "hwmon");
    assert_int_equal(m->quantity, WP_Q_POWER);
    assert_int_equal(m->kind, WP_GAUGE);
    assert_int_equal(m->scope, WP_SCOPE_NODE_INPUT);
    assert_int_equal(m->contains, wp_scope_default_contains(WP_SCOPE_NODE_INPUT));
    assert_string_equal(m->unit, "uW");
    assert_true(m->scale == 0.001);
    assert_int_equal(m->limit, 800000000); /* power1_cap, uW like the reading */
    assert_non_null(strstr(m->help, "1000 ms average"));
    assert_non_null(strstr(m->help, "acpi_power_meter"));
    assert_string_equal(wp_meta_get(&f->meta, "hwmon.0.power1_average_interval_ms"), "1000");
    /* the BMC's average moves slowly: the instance defaults to 1 s with it */
    assert_int_equal(m->cadence_us, 1 * S);

    const struct wp_sensor *sock = sensor(f, 2, "esocket0");
    assert_string_equal(sock->device_name, "amd_energy");
    assert_int_equal(sock->quantity, WP_Q_ENERGY);
    assert_int_equal(sock->kind, WP_COUNTER);
    assert_int_equal(sock->scope, WP_SCOPE_CPU_PACKAGE);
    assert_string_equal(sock->unit, "uJ");
    assert_true(sock->scale == 0.001);
    assert_int_equal(sock->wrap_at, 0);
    assert_int_equal(sock->limit, WP_NO_LIMIT);
    assert_int_equal(sensor(f, 2, "ecore000")->scope, WP_SCOPE_CPU_CORE);
    assert_int_equal(sensor(f, 2, "ecore001")->scope, WP_SCOPE_CPU_CORE);

    /* one label for power1_input and power1_average: both readings keep a name */
    const struct wp_sensor *gi = sensor(f, 3, "ppt"), *ga = sensor(f, 3, "ppt_average");
    assert_int_equal(gi->scope, WP_SCOPE_OTHER);
    assert_int_equal(ga->scope, WP_SCOPE_OTHER);
    assert_int_equal(gi->limit, 300000000);
    assert_non_null(strstr(ga->help, "power1_average"));
}

static void test_values_are_pushed_raw(void **state)
{
    struct fx *f = *state;
    discover_with(f, NULL);
    int64_t before = wp_wall_us();
    assert_int_equal(poll_at(f, 1 * S, WP_POLL_ALL), 0);
    int64_t after = wp_wall_us();
    int64_t v = 0;
    assert_int_equal(samples_of(f, sensor(f, 0, "power1_average")->id, &v), 1);
    assert_int_equal(v, 412000000);
    assert_int_equal(samples_of(f, sensor(f, 2, "esocket0")->id, &v), 1);
    assert_int_equal(v, 1843312447120LL);
    assert_int_equal(samples_of(f, sensor(f, 2, "ecore001")->id, &v), 1);
    assert_int_equal(v, 20455139972LL);
    assert_int_equal(samples_of(f, sensor(f, 3, "ppt_average")->id, &v), 1);
    assert_int_equal(v, 33000000);
    assert_int_equal(f->sink.n, 6);
    for (size_t i = 0; i < f->sink.n; i++) {
        assert_true(f->sink.samples[i].t_us >= before);
        assert_true(f->sink.samples[i].t_us <= after);
    }
    assert_int_equal(f->sink.nevents, 0);

    /* a new value in the file is the next sample, as written */
    put(f, METER "/power1_average", "515250000\n");
    assert_int_equal(poll_at(f, 3 * S, 0), 0);
    assert_int_equal(samples_of(f, sensor(f, 0, "power1_average")->id, &v), 2);
    assert_int_equal(v, 515250000);
}

static void test_reads_only_what_is_due(void **state)
{
    struct fx *f = *state;
    discover_with(f, NULL);
    int64_t next = 0;
    assert_int_equal(wp_source_hwmon.poll(f->state, 10 * S, 0, &f->sink, &next, &f->err), 0);
    assert_int_equal(f->sink.n, 6);
    assert_int_equal(next, 11 * S);
    /* not due: nothing read */
    assert_int_equal(wp_source_hwmon.poll(f->state, 10 * S + 50 * MS, 0, &f->sink, &next, &f->err),
                     0);
    assert_int_equal(f->sink.n, 6);
    assert_int_equal(next, 11 * S);
    /* a mark wants counters: the energy counters, not the slow ACPI meter */
    assert_int_equal(poll_at(f, 10 * S + 60 * MS, WP_POLL_COUNTERS), 0);
    assert_int_equal(f->sink.n, 9);
    assert_int_equal(samples_of(f, sensor(f, 0, "power1_average")->id, NULL), 1);
    assert_int_equal(samples_of(f, sensor(f, 2, "esocket0")->id, NULL), 2);
    /* the rounds after a run's end want power now */
    assert_int_equal(poll_at(f, 10 * S + 70 * MS, WP_POLL_FRESH), 0);
    assert_int_equal(samples_of(f, sensor(f, 0, "power1_average")->id, NULL), 2);
}

static void test_chip_key_selects_chips(void **state)
{
    struct fx *f = *state;
    assert_int_equal(discover_with(f, "chip=amd_energy"), 3);
    for (size_t i = 0; i < f->tab.n; i++)
        assert_int_equal(f->tab.v[i].device, 2);
    /* without the BMC meter everything here is fast to read */
    assert_int_equal(f->tab.v[0].cadence_us, 100 * MS);
}

static void test_chip_key_takes_the_module_name_and_lists(void **state)
{
    struct fx *f = *state;
    assert_int_equal(discover_with(f, "chip=acpi_power_meter,amd_energy,interval=250ms"), 4);
    assert_int_equal(sensor(f, 0, "power1_average")->cadence_us, 250 * MS);
    assert_int_equal(sensor(f, 2, "esocket0")->cadence_us, 250 * MS);
}

static void test_chip_key_with_no_such_chip_says_what_is_there(void **state)
{
    struct fx *f = *state;
    assert_int_equal(open_with(f, "chip=nvme"), -ENOENT);
    assert_non_null(strstr(f->err.msg, "nvme"));
    assert_non_null(strstr(f->err.msg, "power_meter, nvme, amd_energy, amdgpu"));
}

static void test_scope_key_overrides_every_sensor(void **state)
{
    struct fx *f = *state;
    assert_int_equal(discover_with(f, "scope=psu"), 6);
    for (size_t i = 0; i < f->tab.n; i++) {
        assert_int_equal(f->tab.v[i].scope, WP_SCOPE_PSU);
        assert_int_equal(f->tab.v[i].contains, wp_scope_default_contains(WP_SCOPE_PSU));
    }
}

static void test_bad_scope_is_einval_listing_scopes(void **state)
{
    struct fx *f = *state;
    assert_int_equal(open_with(f, "scope=node"), -EINVAL);
    assert_null(f->state);
    assert_non_null(strstr(f->err.msg, "scope=node"));
    assert_non_null(strstr(f->err.msg, "node_input"));
    assert_non_null(strstr(f->err.msg, "cpu_package"));
}

static void test_bad_interval_is_einval(void **state)
{
    struct fx *f = *state;
    assert_int_equal(open_with(f, "interval=1ms"), -EINVAL);
    assert_non_null(strstr(f->err.msg, "interval"));
}

static void test_label_is_sanitised(void **state)
{
    struct fx *f = *state;
    put(f, GPU_DIR "/power1_label", "Board Power\n");
    discover_with(f, "chip=amdgpu");
    sensor(f, 3, "board_power");
    sensor(f, 3, "board_power_average");
}

static void test_unlabelled_power_input_keeps_its_file_name(void **state)
{
    struct fx *f = *state;
    rm(f, GPU_DIR "/power1_label");
    discover_with(f, "chip=amdgpu");
    sensor(f, 3, "power1_input");
    sensor(f, 3, "power1_average");
}

static void test_root_from_environment(void **state)
{
    struct fx *f = *state;
    setenv("WATTPROF_SYSFS_ROOT", f->root, 1);
    int rc = wp_config_add_spec(&f->cfg, wp_source_kinds, "hwmon", false, "test", &f->err);
    assert_int_equal(rc, 0);
    rc = wp_source_hwmon.open(&f->state, &f->cfg.v[0], &f->err);
    unsetenv("WATTPROF_SYSFS_ROOT");
    assert_int_equal(rc, 0);
    assert_int_equal(wp_source_hwmon.discover(f->state, &f->tab, &f->meta, &f->err), 6);
}

static void test_non_numeric_value_is_dropped_with_one_event(void **state)
{
    struct fx *f = *state;
    discover_with(f, NULL);
    int id = sensor(f, 0, "power1_average")->id;
    put(f, METER "/power1_average", "N/A\n");
    assert_int_equal(poll_at(f, 1 * S, WP_POLL_ALL), 0);
    assert_int_equal(poll_at(f, 2 * S, WP_POLL_ALL), 0);
    put(f, METER "/power1_average", "");
    assert_int_equal(poll_at(f, 3 * S, WP_POLL_ALL), 0);
    assert_int_equal(samples_of(f, id, NULL), 0); /* never stored as 0 */
    assert_int_equal(events_of(f, id, 0), 1);
    assert_non_null(strstr(f->sink.events[0].message, "power1_average"));
    /* the other chips go on */
    assert_int_equal(samples_of(f, sensor(f, 2, "esocket0")->id, NULL), 3);
    /* and the meter counts again once it answers */
    put(f, METER "/power1_average", "401000000\n");
    int64_t v = 0;
    assert_int_equal(poll_at(f, 4 * S, WP_POLL_ALL), 0);
    assert_int_equal(samples_of(f, id, &v), 1);
    assert_int_equal(v, 401000000);
}

static void test_negative_or_absurd_value_is_dropped(void **state)
{
    struct fx *f = *state;
    discover_with(f, NULL);
    int id = sensor(f, 3, "ppt")->id;
    put(f, GPU_DIR "/power1_input", "-5000000\n");
    assert_int_equal(poll_at(f, 1 * S, WP_POLL_ALL), 0);
    put(f, GPU_DIR "/power1_input", "200000000000\n"); /* 200 kW */
    assert_int_equal(poll_at(f, 2 * S, WP_POLL_ALL), 0);
    assert_int_equal(samples_of(f, id, NULL), 0);
    assert_int_equal(events_of(f, id, 3), 1);
    int64_t v = 0;
    assert_int_equal(samples_of(f, sensor(f, 3, "ppt_average")->id, &v), 2);
    assert_int_equal(v, 33000000);
}

static void test_energy_jump_beyond_100kw_is_dropped(void **state)
{
    struct fx *f = *state;
    discover_with(f, "chip=amd_energy");
    int id = sensor(f, 2, "esocket0")->id;
    assert_int_equal(poll_at(f, 1 * S, WP_POLL_ALL), 0);
    /* 1 MJ more between two reads a moment apart: far beyond 100 kW */
    put(f, ENERGY "/hwmon/hwmon2/energy1_input", "1844312447120\n");
    assert_int_equal(poll_at(f, 2 * S, WP_POLL_ALL), 0);
    assert_int_equal(samples_of(f, id, NULL), 1);
    assert_int_equal(events_of(f, id, 2), 1);
    /* a one-read glitch: the counter reads on from where it was, and that is stored without
     * calling it a reset */
    put(f, ENERGY "/hwmon/hwmon2/energy1_input", "1843312447135\n");
    int64_t v = 0;
    assert_int_equal(poll_at(f, 3 * S, WP_POLL_ALL), 0);
    assert_int_equal(samples_of(f, id, &v), 2);
    assert_int_equal(v, 1843312447135LL);
    assert_int_equal(events_of(f, id, 2), 1);
}

static void test_energy_counter_going_backwards_is_stored_with_an_event(void **state)
{
    struct fx *f = *state;
    discover_with(f, "chip=amd_energy");
    int id = sensor(f, 2, "ecore000")->id;
    assert_int_equal(poll_at(f, 1 * S, WP_POLL_ALL), 0);
    put(f, ENERGY "/hwmon/hwmon2/energy2_input", "1000\n"); /* the driver was reloaded */
    assert_int_equal(poll_at(f, 2 * S, WP_POLL_ALL), 0);
    int64_t v = 0;
    assert_int_equal(samples_of(f, id, &v), 2);
    assert_int_equal(v, 1000);
    assert_int_equal(events_of(f, id, 2), 1);
    assert_non_null(strstr(f->sink.events[0].message, "backwards"));
}

static void test_one_file_gone_is_that_reading_only(void **state)
{
    struct fx *f = *state;
    discover_with(f, NULL);
    rm(f, GPU_DIR "/power1_average");
    assert_int_equal(poll_at(f, 1 * S, WP_POLL_ALL), 0);
    assert_int_equal(poll_at(f, 2 * S, WP_POLL_ALL), 0);
    assert_int_equal(samples_of(f, sensor(f, 3, "ppt_average")->id, NULL), 0);
    assert_int_equal(events_of(f, sensor(f, 3, "ppt_average")->id, 3), 1);
    assert_int_equal(events_of(f, -1, 3), 0); /* the chip itself is not declared gone */
    assert_int_equal(samples_of(f, sensor(f, 3, "ppt")->id, NULL), 2);
}

static void test_chip_removed_mid_run_stops_alone(void **state)
{
    struct fx *f = *state;
    discover_with(f, NULL);
    assert_int_equal(poll_at(f, 1 * S, WP_POLL_ALL), 0);
    rm(f, ENERGY); /* the driver unloads: its device and files go */
    assert_int_equal(poll_at(f, 2 * S, WP_POLL_ALL), 0);
    assert_int_equal(poll_at(f, 3 * S, WP_POLL_ALL), 0);
    assert_int_equal(events_of(f, -1, 2), 1);
    size_t ev = 0;
    for (size_t i = 0; i < f->sink.nevents; i++)
        if (strstr(f->sink.events[i].message, "disappeared"))
            ev++;
    assert_int_equal(ev, 1);
    assert_int_equal(f->sink.nevents, 1);
    assert_int_equal(samples_of(f, sensor(f, 2, "esocket0")->id, NULL), 1);
    assert_int_equal(samples_of(f, sensor(f, 0, "power1_average")->id, NULL), 3);
    assert_int_equal(samples_of(f, sensor(f, 3, "ppt")->id, NULL), 3);
}

static void test_every_chip_removed_is_enodev(void **state)
{
    struct fx *f = *state;
    discover_with(f, NULL);
    assert_int_equal(poll_at(f, 1 * S, WP_POLL_ALL), 0);
    rm(f, "sys/devices");
    assert_int_equal(poll_at(f, 2 * S, WP_POLL_ALL), -ENODEV);
    assert_int_equal(events_of(f, -1, 0) + events_of(f, -1, 2) + events_of(f, -1, 3), 3);
    assert_non_null(strstr(f->err.msg, "hwmon"));
}

static void test_no_hwmon_directory_is_a_clear_error(void **state)
{
    struct fx *f = *state;
    rm(f, "sys");
    assert_int_equal(open_with(f, NULL), -ENOENT);
    assert_non_null(strstr(f->err.msg, "no hwmon power or energy sensors on this machine"));
}

static void test_only_temperature_chips_is_a_clear_error(void **state)
{
    struct fx *f = *state;
    rm(f, "sys/class/hwmon/hwmon0");
    rm(f, "sys/class/hwmon/hwmon2");
    rm(f, "sys/class/hwmon/hwmon3");
    assert_int_equal(open_with(f, NULL), -ENOENT);
    assert_non_null(strstr(f->err.msg, "no hwmon power or energy sensors on this machine"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_finds_power_and_energy_chips_and_skips_temperature_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_are_pushed_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_only_what_is_due, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chip_key_selects_chips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chip_key_takes_the_module_name_and_lists, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_chip_key_with_no_such_chip_says_what_is_there, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_scope_key_overrides_every_sensor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_scope_is_einval_listing_scopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_interval_is_einval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_is_sanitised, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlabelled_power_input_keeps_its_file_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_root_from_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_numeric_value_is_dropped_with_one_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_negative_or_absurd_value_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_energy_jump_beyond_100kw_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_energy_counter_going_backwards_is_stored_with_an_event,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_file_gone_is_that_reading_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chip_removed_mid_run_stops_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_chip_removed_is_enodev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_hwmon_directory_is_a_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_temperature_chips_is_a_clear_error, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
