/* The RAPL source, driven through its ops against copies of the fixture trees in
 * tests/fixtures/sysfs (and, where this machine allows it, the real perf power PMU). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <linux/capability.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "analysis/energy.h"
#include "sources/source.h"

#define PKG_MAX  262143328850LL /* max_energy_range_uj of an Intel server package */
#define DRAM_MAX 65712999613LL
#define AMD_MAX  65532610987LL

static char tmp[256];

static const char *fixtures(void)
{
    const char *f = getenv("FIXTURES");
    return f && *f ? f : "tests/fixtures";
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

/* A private copy of a fixture tree in tmp, so tests can rewrite and remove files. */
static void copy_fixture(const char *name)
{
    snprintf(tmp, sizeof(tmp), "/tmp/wattprof-rapl-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    sh("cp -r '%s/sysfs/%s/.' '%s/'", fixtures(), name, tmp);
}

static int teardown(void **state)
{
    (void)state;
    if (tmp[0]) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp);
        tmp[0] = 0;
    }
    unsetenv("WATTPROF_SYSFS_ROOT");
    return 0;
}

static void put(const char *zone, const char *content)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/sys/class/powercap/%s/energy_uj", tmp, zone);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    assert_int_equal(fclose(f), 0);
}

static void put_uj(const char *zone, long long uj)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld\n", uj);
    put(zone, buf);
}

/* An opened, discovered instance of spec ("rapl:root=...", "%s" is tmp). */
struct inst {
    void *st;
    struct wp_sensors tab;
    struct wp_meta meta;
    struct wp_sink sink;
    struct wp_config cfg;
    int64_t now;
};

static int open_spec(struct inst *in, const char *spec_fmt, struct wp_err *err)
{
    char spec[600];
    memset(in, 0, sizeof(*in));
    snprintf(spec, sizeof(spec), spec_fmt, tmp);
    wp_config_init(&in->cfg);
    int rc = wp_config_add_spec(&in->cfg, wp_source_kinds, spec, false, "test", err);
    if (rc < 0)
        return rc;
    assert_int_equal(in->cfg.n, 1);
    assert_ptr_equal(in->cfg.v[0].ops, &wp_source_rapl);
    return wp_source_rapl.open(&in->st, &in->cfg.v[0], err);
}

static void open_ok(struct inst *in, const char *spec_fmt, int want_sensors)
{
    struct wp_err err = {0};
    int rc = open_spec(in, spec_fmt, &err);
    if (rc < 0)
        fail_msg("open: %d %s", rc, err.msg);
    rc = wp_source_rapl.discover(in->st, &in->tab, &in->meta, &err);
    if (rc < 0)
        fail_msg("discover: %d %s", rc, err.msg);
    assert_int_equal(rc, want_sensors);
    assert_int_equal(in->tab.n, (size_t)want_sensors);
}

static int poll_once(struct inst *in, unsigned flags)
{
    struct wp_err err = {0};
    int64_t next = 0;
    in->now += 1000000;
    int rc = wp_source_rapl.poll(in->st, in->now, flags, &in->sink, &next, &err);
    if (rc == 0)
        assert_true(next > in->now);
    return rc;
}

static void close_inst(struct inst *in)
{
    if (in->st)
        wp_source_rapl.close(in->st);
    wp_sensors_free(&in->tab);
    wp_meta_free(&in->meta);
    wp_sink_free(&in->sink);
    wp_config_free(&in->cfg);
}

static const struct wp_sensor *sensor(const struct inst *in, int device, const char *name)
{
    const struct wp_sensor *s = wp_sensors_find(&in->tab, "rapl", device, name);
    if (!s)
        fail_msg("no sensor %s on device %d", name, device);
    return s;
}

/* The samples of one sensor in the sink, in order; returns how many (at most cap). */
static size_t samples_of(const struct inst *in, int id, int64_t *v, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < in->sink.n; i++)
        if (in->sink.samples[i].sensor == id && k < cap)
            v[k++] = in->sink.samples[i].value;
    return k;
}

static void check_counter(const struct wp_sensor *s, enum wp_scope scope, const char *dev_name,
                          int64_t max_uj)
{
    assert_int_equal(s->quantity, WP_Q_ENERGY);
    assert_int_equal(s->kind, WP_COUNTER);
    assert_string_equal(s->unit, "uJ");
    assert_true(s->scale == 0.001);
    /* energy_uj shows values up to max_energy_range_uj inclusive */
    assert_int_equal(s->wrap_at, max_uj + 1);
    assert_int_equal(s->scope, scope);
    assert_int_equal(s->contains, wp_scope_default_contains(scope));
    assert_string_equal(s->device_name, dev_name);
    assert_string_equal(s->source_kind, "rapl");
    assert_int_equal(s->cadence_us, 100000);
}

static void test_intel_two_packages_dram_psys(void **state)
{
    (void)state;
    copy_fixture("rapl-intel-2pkg");
    struct inst in;
    /* 5, not 6: intel-rapl-mmio:0 is package-0 again and must not be a second sensor */
    open_ok(&in, "rapl:root=%s", 5);
    const char *order[5][2] = {{"0", "energy_pkg"},
                               {"0", "energy_dram"},
                               {"1", "energy_pkg"},
                               {"1", "energy_dram"},
                               {"-1", "energy_psys"}};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(in.tab.v[i].device, atoi(order[i][0]));
        assert_string_equal(in.tab.v[i].name, order[i][1]);
    }
    check_counter(sensor(&in, 0, "energy_pkg"), WP_SCOPE_CPU_PACKAGE, "package-0", PKG_MAX);
    check_counter(sensor(&in, 0, "energy_dram"), WP_SCOPE_DRAM, "package-0", DRAM_MAX);
    check_counter(sensor(&in, 1, "energy_pkg"), WP_SCOPE_CPU_PACKAGE, "package-1", PKG_MAX);
    check_counter(sensor(&in, 1, "energy_dram"), WP_SCOPE_DRAM, "package-1", DRAM_MAX);
    check_counter(sensor(&in, -1, "energy_psys"), WP_SCOPE_PSYS, "psys", PKG_MAX);
    assert_string_equal(wp_meta_get(&in.meta, "rapl.via"), "sysfs");

    assert_int_equal(poll_once(&in, WP_POLL_ALL), 0);
    assert_int_equal(in.sink.n, 5);
    assert_int_equal(in.sink.nevents, 0);
    int64_t v[4];
    const long long want[5] = {100000000000LL, 20000000000LL, 110000000000LL, 21000000000LL,
                               50000000000LL};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(samples_of(&in, in.tab.v[i].id, v, 4), 1);
        /* package-0 is read from intel-rapl:0, not from the mmio copy (...061) */
        assert_int_equal(v[0], want[i]);
    }
    close_inst(&in);
}

static void test_amd_package_with_core_no_dram(void **state)
{
    (void)state;
    copy_fixture("rapl-amd");
    struct inst in;
    open_ok(&in, "rapl:root=%s", 2);
    check_counter(sensor(&in, 0, "energy_pkg"), WP_SCOPE_CPU_PACKAGE, "package-0", AMD_MAX);
    check_counter(sensor(&in, 0, "energy_core"), WP_SCOPE_CPU_CORE, "package-0", AMD_MAX);
    /* the package contains its cores: node totals must not add them twice */
    assert_true(sensor(&in, 0, "energy_pkg")->contains & WP_SCOPE_BIT(WP_SCOPE_CPU_CORE));
    assert_null(wp_sensors_find(&in.tab, "rapl", 0, "energy_dram"));
    assert_int_equal(poll_once(&in, WP_POLL_ALL), 0);
    int64_t v[2];
    assert_int_equal(samples_of(&in, sensor(&in, 0, "energy_core")->id, v, 2), 1);
    assert_int_equal(v[0], 12000000000LL);
    close_inst(&in);
}

/* A wrap between polls: the raw values are stored as read, and wp_counter_delta over them
 * gives the exact microjoules (to the sysfs value; see wrap_at in rapl.c). */
static void test_wrap_delta_exact(void **state)
{
    (void)state;
    copy_fixture("rapl-intel-2pkg");
    struct inst in;
    open_ok(&in, "rapl:root=%s,interval=10ms", 5);
    const struct wp_sensor *pkg = sensor(&in, 0, "energy_pkg");
    assert_int_equal(pkg->cadence_us, 10000);
    const long long seq[] = {100000000000LL, PKG_MAX - 850, 700, 2500};
    for (size_t i = 0; i < 4; i++) {
        if (i > 0)
            put_uj("intel-rapl:0", seq[i]);
        assert_int_equal(poll_once(&in, 0), 0);
    }
    int64_t v[8];
    size_t n = samples_of(&in, pkg->id, v, 8);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(v[i], seq[i]);
    int64_t delta = 0;
    assert_int_equal(wp_counter_delta(v, n, pkg->wrap_at, &delta), 0);
    /* (max - 850 - 1e11) up to the top, 851 to reach max + 1 == 0 again, then 2500 */
    assert_int_equal(delta, (PKG_MAX - 850 - 100000000000LL) + 851 + 2500);
    assert_int_equal(delta, 162143331351LL);
    close_inst(&in);
}

static void test_bad_content_dropped_with_one_event(void **state)
{
    (void)state;
    copy_fixture("rapl-intel-2pkg");
    struct inst in;
    open_ok(&in, "rapl:root=%s", 5);
    int pkg0 = sensor(&in, 0, "energy_pkg")->id, dram1 = sensor(&in, 1, "energy_dram")->id;
    int64_t v[8];

    put("intel-rapl:0", "abc\n");
    assert_int_equal(poll_once(&in, 0), 0);
    assert_int_equal(samples_of(&in, pkg0, v, 8), 0);
    assert_int_equal(in.sink.n, 4); /* the other zones go on */
    assert_int_equal(in.sink.nevents, 1);
    assert_int_equal(in.sink.events[0].sensor, pkg0);
    assert_non_null(strstr(in.sink.events[0].message, "intel-rapl:0"));
    assert_non_null(strstr(in.sink.events[0].message, "'abc'"));

    /* empty (a writer caught between truncate and write), two numbers, a sign: dropped, and
     * no second event for the same zone */
    const char *bad[] = {"", "\n", "123 456\n", "-5\n", "12a\n", "99999999999999999999999\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put("intel-rapl:0", bad[i]);
        assert_int_equal(poll_once(&in, 0), 0);
    }
    assert_int_equal(samples_of(&in, pkg0, v, 8), 0);
    assert_int_equal(in.sink.nevents, 1);

    /* above max_energy_range_uj: cannot be a reading of this counter */
    put_uj("intel-rapl:1:0", DRAM_MAX + 1);
    assert_int_equal(poll_once(&in, 0), 0);
    assert_int_equal(in.sink.nevents, 2);
    assert_non_null(strstr(in.sink.events[1].message, "max_energy_range_uj"));

    put_uj("intel-rapl:0", 123);
    put_uj("intel-rapl:1:0", DRAM_MAX);
    assert_int_equal(poll_once(&in, 0), 0);
    assert_int_equal(samples_of(&in, pkg0, v, 8), 1);
    assert_int_equal(v[0], 123);
    size_t k = samples_of(&in, dram1, v, 8);
    assert_int_equal(v[k - 1], DRAM_MAX);
    /* never a made-up zero */
    for (size_t i = 0; i < in.sink.n; i++)
        assert_true(in.sink.samples[i].value != 0);
    close_inst(&in);
}

static void test_zone_gone_then_source_gone(void **state)
{
    (void)state;
    copy_fixture("rapl-amd");
    struct inst in;
    open_ok(&in, "rapl:root=%s", 2);
    sh("rm -r '%s/sys/class/powercap/intel-rapl:0:0'", tmp);
    assert_int_equal(poll_once(&in, 0), 0);
    assert_int_equal(in.sink.n, 1);
    assert_int_equal(in.sink.nevents, 1);
    assert_non_null(strstr(in.sink.events[0].message, "disappeared"));
    sh("rm -r '%s/sys/class/powercap/intel-rapl:0'", tmp);
    assert_int_equal(poll_once(&in, 0), -ENODEV);
    close_inst(&in);
}

static void test_cadence_follows_the_grid(void **state)
{
    (void)state;
    copy_fixture("rapl-amd");
    struct inst in;
    open_ok(&in, "rapl:root=%s,interval=50ms", 2);
    struct wp_err err = {0};
    int64_t next = 0;
    assert_int_equal(wp_source_rapl.poll(in.st, 1000000, 0, &in.sink, &next, &err), 0);
    assert_int_equal(next, 1050000);
    /* not due yet: nothing read */
    assert_int_equal(wp_source_rapl.poll(in.st, 1020000, 0, &in.sink, &next, &err), 0);
    assert_int_equal(in.sink.n, 2);
    assert_int_equal(next, 1050000);
    /* a fresh read is asked for: read now, due or not */
    assert_int_equal(wp_source_rapl.poll(in.st, 1030000, WP_POLL_FRESH, &in.sink, &next, &err), 0);
    assert_int_equal(in.sink.n, 4);
    assert_int_equal(next, 1050000); /* an extra read does not move the grid */
    assert_int_equal(wp_source_rapl.poll(in.st, 1051000, 0, &in.sink, &next, &err), 0);
    assert_int_equal(in.sink.n, 6);
    assert_int_equal(next, 1100000);
    close_inst(&in);
}

static void test_options(void **state)
{
    (void)state;
    copy_fixture("rapl-amd");
    struct inst in;
    struct wp_err err = {0};
    const char *bad[] = {"rapl:root=%s,interval=5ms", "rapl:root=%s,interval=61s",
                         "rapl:root=%s,via=msr", "rapl:root=%s/nonexistent"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(open_spec(&in, bad[i], &err), -EINVAL);
        assert_true(err.msg[0] != 0);
        close_inst(&in);
    }
    memset(&err, 0, sizeof(err));
    assert_int_equal(open_spec(&in, "rapl:root=%s,via=msr", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "via=perf"));
    close_inst(&in);
    /* via=perf does not look at powercap: this tree has no PMU */
    assert_int_equal(open_spec(&in, "rapl:root=%s,via=perf", &err), -ENODEV);
    assert_non_null(strstr(err.msg, "no perf power PMU"));
    close_inst(&in);
    /* an unknown key is refused when the spec is parsed */
    wp_config_init(&in.cfg);
    assert_int_equal(
        wp_config_add_spec(&in.cfg, wp_source_kinds, "rapl:period=1s", false, "test", &err),
        -EINVAL);
    wp_config_free(&in.cfg);
}

static void test_no_rapl_at_all(void **state)
{
    (void)state;
    copy_fixture("empty");
    struct inst in;
    struct wp_err err = {0};
    assert_int_equal(open_spec(&in, "rapl:root=%s", &err), -ENODEV);
    assert_non_null(strstr(err.msg, "no RAPL on this machine"));
    assert_non_null(strstr(err.msg, "/sys/class/powercap/intel-rapl:*, no perf power PMU)"));
    close_inst(&in);
}

static void test_root_from_environment(void **state)
{
    (void)state;
    copy_fixture("rapl-intel-2pkg");
    struct inst in;
    setenv("WATTPROF_SYSFS_ROOT", tmp, 1);
    open_ok(&in, "rapl", 5);
    close_inst(&in);
    /* root= wins over the environment */
    char amd[300];
    snprintf(amd, sizeof(amd), "rapl:root=%s/sysfs/rapl-amd", fixtures());
    open_ok(&in, amd, 2);
    close_inst(&in);
}

/* ---- perf: the real power PMU of this machine ---- */

static bool have_pmu(void)
{
    return access("/sys/bus/event_source/devices/power/type", R_OK) == 0;
}

/* perf_event_open refusals that mean "not here", not "broken". */
static bool perf_unavailable(int rc, const char *msg)
{
    return rc == -EACCES || rc == -ENODEV ||
           (rc == -EIO && (strstr(msg, strerror(ENOENT)) || strstr(msg, strerror(EOPNOTSUPP))));
}

static double event_scale(const char *ev)
{
    char path[256], buf[64] = "";
    snprintf(path, sizeof(path), "/sys/bus/event_source/devices/power/events/%s.scale", ev);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    return strtod(buf, NULL);
}

static void check_perf_sensors(const struct inst *in)
{
    static const char *const map[][2] = {{"energy_pkg", "energy-pkg"},
                                         {"energy_core", "energy-cores"},
                                         {"energy_uncore", "energy-gpu"},
                                         {"energy_dram", "energy-ram"},
                                         {"energy_psys", "energy-psys"}};
    for (size_t i = 0; i < in->tab.n; i++) {
        const struct wp_sensor *s = &in->tab.v[i];
        const char *ev = NULL;
        for (size_t k = 0; k < 5; k++)
            if (strncmp(s->name, map[k][0], strlen(map[k][0])) == 0)
                ev = map[k][1];
        assert_non_null(ev);
        assert_string_equal(s->unit, "perf");
        assert_int_equal(s->wrap_at, 0);
        assert_int_equal(s->kind, WP_COUNTER);
        /* counts -> J (the PMU's scale) -> mJ */
        assert_true(s->scale > 0);
        assert_true(fabs(s->scale - event_scale(ev) * 1000) <= 1e-9 * s->scale);
        if (strcmp(s->name, "energy_psys") == 0)
            assert_int_equal(s->device, -1);
    }
}

static void test_perf_power_pmu_for_real(void **state)
{
    (void)state;
    if (!have_pmu()) {
        print_message("skipped: no /sys/bus/event_source/devices/power on this machine\n");
        skip();
    }
    struct inst in;
    struct wp_err err = {0};
    int rc = open_spec(&in, "rapl:root=/,via=perf", &err);
    if (rc < 0 && perf_unavailable(rc, err.msg)) {
        print_message("skipped: the perf power PMU cannot be opened here: %s\n", err.msg);
        close_inst(&in);
        skip();
    }
    if (rc < 0)
        fail_msg("open: %d %s", rc, err.msg);
    rc = wp_source_rapl.discover(in.st, &in.tab, &in.meta, &err);
    assert_true(rc > 0);
    assert_string_equal(wp_meta_get(&in.meta, "rapl.via"), "perf");
    check_perf_sensors(&in);
    assert_int_equal(poll_once(&in, WP_POLL_ALL), 0);
    assert_int_equal(in.sink.n, in.tab.n);
    usleep(50000);
    assert_int_equal(poll_once(&in, WP_POLL_ALL), 0);
    assert_int_equal(in.sink.n, 2 * in.tab.n);
    for (size_t i = 0; i < in.tab.n; i++) {
        int64_t v[4];
        assert_int_equal(samples_of(&in, in.tab.v[i].id, v, 4), 2);
        assert_true(v[0] >= 0 && v[1] >= v[0]); /* a 64-bit count: never backwards */
        print_message("%s: %lld -> %lld counts\n", in.tab.v[i].name, (long long)v[0],
                      (long long)v[1]);
    }
    close_inst(&in);
}

/* Where the PMU is described and its events open but never count (this project's VMs), the
 * events are dropped with the reason, never recorded as a meter that reads 0 W. On hardware
 * whose counters run this is skipped: there the test above covers the perf path. */
static void test_perf_counters_that_never_run_are_not_a_meter(void **state)
{
    (void)state;
    if (!have_pmu()) {
        print_message("skipped: no /sys/bus/event_source/devices/power on this machine\n");
        skip();
    }
    struct inst in;
    struct wp_err err = {0};
    int rc = open_spec(&in, "rapl:root=/,via=perf", &err);
    close_inst(&in);
    if (rc == 0) {
        print_message("skipped: this machine's perf power counters run\n");
        skip();
    }
    if (rc != -ENODEV || !strstr(err.msg, "counted nothing"))
        fail_msg("open: %d %s", rc, err.msg);
    assert_non_null(strstr(err.msg, "not recorded"));
}

/* Sets or clears CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH in this thread's effective set:
 * without them root is held to file modes, as a plain user is, but keeps the capabilities
 * perf_event_open wants. */
static int dac_override(bool on)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0)
        return -errno;
    unsigned bits = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH);
    if (on)
        d[0].effective |= bits & d[0].permitted;
    else
        d[0].effective &= ~bits;
    return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* energy_uj readable only by its owner (not us), the power PMU usable: auto goes to perf. */
static void test_root_only_sysfs_falls_back_to_perf(void **state)
{
    (void)state;
    if (geteuid() != 0 || !have_pmu()) {
        print_message("skipped: needs root (to own the fixture files) and a perf power PMU\n");
        skip();
    }
    copy_fixture("rapl-intel-2pkg");
    sh("chown 65534 '%s'/sys/class/powercap/*/energy_uj && chmod 0400 "
       "'%s'/sys/class/powercap/*/energy_uj",
       tmp, tmp);
    /* The PMU as this kernel describes it: perf_event_open goes to the real kernel. */
    sh("mkdir -p '%s/sys/bus/event_source/devices' && cp -r "
       "/sys/bus/event_source/devices/power/. '%s/sys/bus/event_source/devices/power/' "
       "2>/dev/null; test -f '%s/sys/bus/event_source/devices/power/type'",
       tmp, tmp, tmp);
    assert_int_equal(dac_override(false), 0);
    struct inst in;
    struct wp_err err = {0};
    /* sysfs only: refused, with the reason and the fixes */
    int rc = open_spec(&in, "rapl:root=%s,via=sysfs", &err);
    close_inst(&in);
    struct wp_err err2 = {0};
    int rc2 = open_spec(&in, "rapl:root=%s", &err2);
    assert_int_equal(dac_override(true), 0);

    assert_int_equal(rc, -EACCES);
    assert_non_null(strstr(err.msg, "CVE-2020-8694"));
    assert_non_null(strstr(err.msg, "chmod o+r"));
    assert_non_null(strstr(err.msg, "systemd-tmpfiles"));
    if (rc2 < 0 && perf_unavailable(rc2, err2.msg)) {
        print_message("skipped (perf part): %s\n", err2.msg);
        close_inst(&in);
        skip();
    }
    if (rc2 < 0)
        fail_msg("open: %d %s", rc2, err2.msg);
    rc = wp_source_rapl.discover(in.st, &in.tab, &in.meta, &err);
    assert_true(rc > 0);
    assert_string_equal(wp_meta_get(&in.meta, "rapl.via"), "perf");
    check_perf_sensors(&in);
    const char *why = wp_meta_get(&in.meta, "missing.rapl.sysfs");
    assert_non_null(why);
    assert_non_null(strstr(why, "CVE-2020-8694"));
    assert_int_equal(poll_once(&in, WP_POLL_ALL), 0);
    assert_int_equal(in.sink.n, in.tab.n);
    close_inst(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_intel_two_packages_dram_psys, teardown),
        cmocka_unit_test_teardown(test_amd_package_with_core_no_dram, teardown),
        cmocka_unit_test_teardown(test_wrap_delta_exact, teardown),
        cmocka_unit_test_teardown(test_bad_content_dropped_with_one_event, teardown),
        cmocka_unit_test_teardown(test_zone_gone_then_source_gone, teardown),
        cmocka_unit_test_teardown(test_cadence_follows_the_grid, teardown),
        cmocka_unit_test_teardown(test_options, teardown),
        cmocka_unit_test_teardown(test_no_rapl_at_all, teardown),
        cmocka_unit_test_teardown(test_root_from_environment, teardown),
        cmocka_unit_test_teardown(test_perf_power_pmu_for_real, teardown),
        cmocka_unit_test_teardown(test_perf_counters_that_never_run_are_not_a_meter, teardown),
        cmocka_unit_test_teardown(test_root_only_sysfs_falls_back_to_perf, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
