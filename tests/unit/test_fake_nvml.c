/* The fake NVML (tests/fake_nvml) must behave like the H200 driver described in
 * docs/validation.md (measured 2026-11-28), or every recorder test built on it tests the wrong
 * thing. These tests load it through dlopen, pin its clock with fakeNvmlSetClock, and compare what
 * it returns with the recorded CSV read here independently (own parser, own left-hold integral). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sources/nvml_abi.h"

/* The replay starts here (2027-01-15) in every test, so replay time r maps to T0_US + r. */
#define T0_US 1800000000000000LL
#define SEC   1000000LL
#define MS    1000LL

static struct {
    void *h;
    nvmlInit_v2_fn init;
    nvmlShutdown_fn shutdown;
    nvmlErrorString_fn error_string;
    nvmlSystemGetDriverVersion_fn driver_version;
    nvmlDeviceGetCount_v2_fn count;
    nvmlDeviceGetHandleByIndex_v2_fn handle;
    nvmlDeviceGetName_fn name;
    nvmlDeviceGetUUID_fn uuid;
    nvmlDeviceGetPowerUsage_fn power_usage;
    nvmlDeviceGetTotalEnergyConsumption_fn energy;
    nvmlDeviceGetFieldValues_fn fields;
    nvmlDeviceGetSamples_fn samples;
    nvmlDeviceGetUtilizationRates_fn util;
    nvmlDeviceGetClockInfo_fn clock;
    nvmlDeviceGetTemperature_fn temp;
    nvmlDeviceGetEnforcedPowerLimit_fn enforced_limit;
    nvmlDeviceGetPowerManagementDefaultLimit_fn default_limit;
    fakeNvmlReplayDescription_fn description;
    void (*set_clock)(long long);
    nvmlDeviceGetProcessUtilization_fn proc_util;
    nvmlDeviceGetComputeRunningProcesses_v3_fn procs;
    nvmlInit_v2_fn init_v1;
} A;

/* ---- the recorded trace, read independently of the fake ---------------------------------- */

struct ref_gpu {
    int id;
    size_t n;
    int64_t *t; /* us relative to the file's first row */
    uint32_t *mw;
};

static struct {
    int ngpu;
    struct ref_gpu g[16];
    int64_t period_us;
    char path[4096];
} R;

static char tmpdir[256];

static void ref_load(const char *path)
{
    void *z = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!z) {
        fprintf(stderr, "cannot load libz.so.1 to read %s: %s\n", path, dlerror());
        exit(1);
    }
    void *(*zopen)(const char *, const char *);
    char *(*zgets)(void *, char *, int);
    int (*zclose)(void *);
    *(void **)&zopen = dlsym(z, "gzopen");
    *(void **)&zgets = dlsym(z, "gzgets");
    *(void **)&zclose = dlsym(z, "gzclose");
    void *f = zopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    char line[256];
    int64_t t0 = -1, tlast = 0;
    size_t cap[16] = {0};
    zgets(f, line, sizeof(line)); /* header */
    while (zgets(f, line, sizeof(line))) {
        int id;
        long long ts;
        unsigned mw;
        if (sscanf(line, "%d,%lld,%u", &id, &ts, &mw) != 3)
            continue;
        if (t0 < 0)
            t0 = ts;
        tlast = ts;
        int k = 0;
        while (k < R.ngpu && R.g[k].id != id)
            k++;
        if (k == R.ngpu) {
            R.g[k].id = id;
            R.ngpu++;
        }
        struct ref_gpu *g = &R.g[k];
        if (g->n == cap[k]) {
            cap[k] = cap[k] ? 2 * cap[k] : 1024;
            g->t = realloc(g->t, cap[k] * sizeof(*g->t));
            g->mw = realloc(g->mw, cap[k] * sizeof(*g->mw));
        }
        g->t[g->n] = ts - t0;
        g->mw[g->n] = mw;
        g->n++;
    }
    zclose(f);
    /* The fake numbers devices by ascending gpu id. */
    for (int a = 0; a < R.ngpu; a++)
        for (int b = a + 1; b < R.ngpu; b++)
            if (R.g[b].id < R.g[a].id) {
                struct ref_gpu tmp = R.g[a];
                R.g[a] = R.g[b];
                R.g[b] = tmp;
            }
    /* Documented loop rule: the file's span plus one mean sample interval. */
    double span = 0, gaps = 0;
    for (int k = 0; k < R.ngpu; k++) {
        span += (double)(R.g[k].t[R.g[k].n - 1] - R.g[k].t[0]);
        gaps += (double)(R.g[k].n - 1);
    }
    R.period_us = (tlast - t0) + llround(span / gaps);
}

static const struct ref_gpu *ref_dev(int dev)
{
    return &R.g[dev % R.ngpu];
}

/* Recorded samples, periodically repeated: (time, mW) of the newest one at or before x. */
static int64_t ref_last(const struct ref_gpu *g, int64_t x, uint32_t *mw)
{
    int64_t best = INT64_MIN;
    for (int k = -2; k <= 3; k++)
        for (size_t i = 0; i < g->n; i++) {
            int64_t t = g->t[i] + k * R.period_us;
            if (t <= x && t > best) {
                best = t;
                if (mw)
                    *mw = g->mw[i];
            }
        }
    return best;
}

/* Time of the oldest recorded sample (periodically repeated) after x. */
static int64_t ref_next(const struct ref_gpu *g, int64_t x)
{
    int64_t best = INT64_MAX;
    for (int k = -2; k <= 3; k++)
        for (size_t i = 0; i < g->n; i++) {
            int64_t t = g->t[i] + k * R.period_us;
            if (t > x && t < best)
                best = t;
        }
    return best;
}

/* Left-hold energy over [a, b) in mJ: each sample's power holds until the next sample. */
static double ref_energy_mj(const struct ref_gpu *g, int64_t a, int64_t b)
{
    double nj = 0;
    for (int k = -2; k <= 3; k++)
        for (size_t i = 0; i < g->n; i++) {
            int64_t s = g->t[i] + k * R.period_us;
            int64_t e = (i + 1 < g->n ? g->t[i + 1] : g->t[0] + R.period_us) + k * R.period_us;
            int64_t lo = s > a ? s : a, hi = e < b ? e : b;
            if (hi > lo)
                nj += (double)(hi - lo) * g->mw[i];
        }
    return nj / 1e6;
}

/* ---- helpers --------------------------------------------------------------------------- */

static const char *const fake_vars[] = {
    "FAKE_NVML_OFFSET_S", "FAKE_NVML_GPUS",        "FAKE_NVML_FAIL_INIT", "FAKE_NVML_NOT_SUPPORTED",
    "FAKE_NVML_LOSE_GPU", "FAKE_NVML_LIE",         "FAKE_NVML_EXTRAS",    "FAKE_NVML_STATS",
    "FAKE_NVML_TRACE",    "FAKE_NVML_RECORDED_ON", "FAKE_NVML_PROCS",     "FAKE_NVML_MIG",
};

static int setup(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(fake_vars) / sizeof(fake_vars[0]); k++)
        unsetenv(fake_vars[k]);
    setenv("FAKE_NVML_TRACE", R.path, 1);
    A.set_clock(T0_US);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k < 10 && A.shutdown() == NVML_SUCCESS; k++)
        ;
    A.set_clock(-1);
    return 0;
}

static void at(int64_t r_us)
{
    A.set_clock(T0_US + r_us);
}

static nvmlDevice_t dev(unsigned i)
{
    nvmlDevice_t d = NULL;
    assert_int_equal(A.handle(i, &d), NVML_SUCCESS);
    return d;
}

static void init_ok(void)
{
    nvmlReturn_t rc = A.init();
    if (rc != NVML_SUCCESS)
        fail_msg("nvmlInit_v2 failed: %d %s", rc, A.error_string(rc));
}

/* Shuts the replay down and starts a new one at T0 (the fake keeps a pinned clock across
 * shutdown, so without this the new replay would start wherever the last test left it). */
static void restart(void)
{
    assert_int_equal(A.shutdown(), NVML_SUCCESS);
    at(0);
    init_ok();
}

/* Reads the whole buffer newer than last_seen into out (cap entries); returns the count or -1
 * for NOT_FOUND. */
static int read_buffer(nvmlDevice_t d, unsigned long long last_seen, nvmlSample_t *out,
                       unsigned cap)
{
    int type = -1;
    unsigned n = cap;
    nvmlReturn_t rc = A.samples(d, NVML_TOTAL_POWER_SAMPLES, last_seen, &type, &n, out);
    if (rc == NVML_ERROR_NOT_FOUND)
        return -1;
    assert_int_equal(rc, NVML_SUCCESS);
    assert_int_equal(type, NVML_VALUE_TYPE_UNSIGNED_INT);
    return (int)n;
}

static nvmlFieldValue_t field(nvmlDevice_t d, unsigned id, unsigned scope)
{
    nvmlFieldValue_t v;
    memset(&v, 0, sizeof(v));
    v.fieldId = id;
    v.scopeId = scope;
    v.nvmlReturn = -1;
    assert_int_equal(A.fields(d, 1, &v), NVML_SUCCESS);
    return v;
}

static unsigned long long counter(nvmlDevice_t d)
{
    unsigned long long mj = 0;
    assert_int_equal(A.energy(d, &mj), NVML_SUCCESS);
    nvmlFieldValue_t v = field(d, NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION, 0);
    assert_int_equal(v.nvmlReturn, NVML_SUCCESS);
    assert_int_equal(v.valueType, NVML_VALUE_TYPE_UNSIGNED_LONG_LONG);
    assert_true(v.value.ullVal == mj); /* field 83 and the function read the same counter */
    return mj;
}

static char *write_tmp(const char *name, const char *text, size_t len)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Expects nvmlInit to fail with UNKNOWN and its error string to contain want. */
static void expect_init_error(const char *want)
{
    assert_int_equal(A.init(), NVML_ERROR_UNKNOWN);
    const char *msg = A.error_string(NVML_ERROR_UNKNOWN);
    if (!strstr(msg, want))
        fail_msg("error string \"%s\" does not mention \"%s\"", msg, want);
    unsigned n;
    assert_int_equal(A.count(&n), NVML_ERROR_UNINITIALIZED);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_calls_before_init_are_uninitialized(void **state)
{
    (void)state;
    unsigned n;
    nvmlDevice_t d;
    char buf[96];
    assert_int_equal(A.count(&n), NVML_ERROR_UNINITIALIZED);
    assert_int_equal(A.handle(0, &d), NVML_ERROR_UNINITIALIZED);
    assert_int_equal(A.driver_version(buf, sizeof(buf)), NVML_ERROR_UNINITIALIZED);
    assert_int_equal(A.shutdown(), NVML_ERROR_UNINITIALIZED);
    assert_string_equal(A.error_string(NVML_ERROR_UNINITIALIZED), "Uninitialized");
}

static void test_error_strings(void **state)
{
    (void)state;
    const int codes[] = {
        NVML_SUCCESS,
        NVML_ERROR_UNINITIALIZED,
        NVML_ERROR_INVALID_ARGUMENT,
        NVML_ERROR_NOT_SUPPORTED,
        NVML_ERROR_NO_PERMISSION,
        NVML_ERROR_NOT_FOUND,
        NVML_ERROR_INSUFFICIENT_SIZE,
        NVML_ERROR_DRIVER_NOT_LOADED,
        NVML_ERROR_TIMEOUT,
        NVML_ERROR_LIBRARY_NOT_FOUND,
        NVML_ERROR_GPU_IS_LOST,
        NVML_ERROR_NO_DATA,
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *s = A.error_string(codes[i]);
        assert_non_null(s);
        assert_string_not_equal(s, "Unknown Error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, A.error_string(codes[j]));
    }
    assert_string_equal(A.error_string(NVML_ERROR_GPU_IS_LOST), "GPU is lost");
    assert_string_equal(A.error_string(12345), "Unknown Error");
}

static void test_devices_names_limits(void **state)
{
    (void)state;
    init_ok();
    unsigned n = 0;
    char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE], uuid0[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    assert_int_equal(A.count(&n), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(R.ngpu, 2);
    assert_int_equal(A.driver_version(buf, sizeof(buf)), NVML_SUCCESS);
    assert_string_equal(buf, "580.159.04");
    assert_int_equal(A.driver_version(buf, 5), NVML_ERROR_INSUFFICIENT_SIZE);
    for (unsigned i = 0; i < n; i++) {
        nvmlDevice_t d = dev(i);
        assert_int_equal(A.name(d, buf, sizeof(buf)), NVML_SUCCESS);
        assert_string_equal(buf, "NVIDIA H200");
        assert_int_equal(A.name(d, buf, 4), NVML_ERROR_INSUFFICIENT_SIZE);
        assert_int_equal(A.uuid(d, buf, sizeof(buf)), NVML_SUCCESS);
        assert_int_equal(strncmp(buf, "GPU-", 4), 0);
        assert_int_equal(strlen(buf), 40);
        if (i == 0)
            strcpy(uuid0, buf);
        else
            assert_string_not_equal(buf, uuid0);
        unsigned mw = 0;
        assert_int_equal(A.enforced_limit(d, &mw), NVML_SUCCESS);
        assert_int_equal(mw, 700000);
        assert_int_equal(A.default_limit(d, &mw), NVML_SUCCESS);
        assert_int_equal(mw, 700000);
        const unsigned ids[] = {187, 188, 189, 190}, want[] = {200000, 700000, 700000, 700000};
        for (int k = 0; k < 4; k++) {
            nvmlFieldValue_t v = field(d, ids[k], 0);
            assert_int_equal(v.nvmlReturn, NVML_SUCCESS);
            assert_int_equal(v.value.uiVal, want[k]);
        }
    }
    nvmlDevice_t d;
    assert_int_equal(A.handle(2, &d), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(A.handle(0, NULL), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(A.count(NULL), NVML_ERROR_INVALID_ARGUMENT);
    int not_a_device = 0;
    assert_int_equal(A.name((nvmlDevice_t)(void *)&not_a_device, buf, sizeof(buf)),
                     NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(A.name(NULL, buf, sizeof(buf)), NVML_ERROR_INVALID_ARGUMENT);
    unsigned mw;
    assert_int_equal(A.power_usage(dev(0), NULL), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(A.power_usage(dev(0), &mw), NVML_SUCCESS);
    const char *desc = A.description();
    assert_non_null(strstr(desc, "replay of buffer-2gpu.csv.gz"));
    assert_non_null(strstr(desc, "not a measurement"));
}

static void test_init_is_reference_counted(void **state)
{
    (void)state;
    unsigned n;
    init_ok();
    assert_int_equal(A.init_v1(), NVML_SUCCESS); /* nvmlInit aliases nvmlInit_v2 */
    assert_int_equal(A.shutdown(), NVML_SUCCESS);
    assert_int_equal(A.count(&n), NVML_SUCCESS);
    assert_int_equal(A.shutdown(), NVML_SUCCESS);
    assert_int_equal(A.count(&n), NVML_ERROR_UNINITIALIZED);
}

/* The buffer holds the newest 120 samples due by now, rebased so that trace t0 is init. */
static void check_buffer_matches_trace(nvmlDevice_t d, const struct ref_gpu *g, int64_t r,
                                       int64_t trace_shift_us)
{
    nvmlSample_t s[200];
    int type = -1;
    unsigned n = 0;
    at(r);
    assert_int_equal(A.samples(d, NVML_TOTAL_POWER_SAMPLES, 0, &type, &n, NULL), NVML_SUCCESS);
    assert_int_equal(n, 120);
    int got = read_buffer(d, 0, s, 200);
    assert_int_equal(got, 120);
    int64_t now = T0_US + r, x = r + trace_shift_us;
    for (int k = got - 1; k >= 0; k--) {
        uint32_t mw = 0;
        int64_t t = ref_last(g, x, &mw);
        assert_true(s[k].timeStamp == (unsigned long long)(T0_US + t - trace_shift_us));
        assert_int_equal(s[k].sampleValue.uiVal, mw);
        assert_true((int64_t)s[k].timeStamp <= now);
        assert_true((int64_t)s[k].timeStamp > now - 3 * SEC);
        x = t - 1;
    }
    /* ~20 ms apart: 119 gaps over ~2.4 s */
    double mean_gap = (double)(s[got - 1].timeStamp - s[0].timeStamp) / (got - 1);
    assert_true(mean_gap > 17 * MS && mean_gap < 23 * MS);
    for (int k = 1; k < got; k++)
        assert_true(s[k].timeStamp > s[k - 1].timeStamp);
}

static void test_buffer_holds_newest_120_rebased(void **state)
{
    (void)state;
    init_ok();
    for (int64_t r = 10 * SEC + 3 * MS; r < 100 * SEC; r += 37 * SEC + 11 * MS) {
        at(r);
        for (unsigned i = 0; i < 2; i++)
            check_buffer_matches_trace(dev(i), ref_dev((int)i), r, 0);
    }
}

static void test_buffer_last_seen(void **state)
{
    (void)state;
    init_ok();
    nvmlDevice_t d = dev(1);
    nvmlSample_t s[200];
    at(10 * SEC);
    int n = read_buffer(d, 0, s, 200);
    assert_int_equal(n, 120);
    unsigned long long last = s[n - 1].timeStamp;
    assert_int_equal(read_buffer(d, last, s, 200), -1); /* nothing newer: NOT_FOUND */
    int type;
    unsigned cnt = 99;
    assert_int_equal(A.samples(d, NVML_TOTAL_POWER_SAMPLES, last, &type, &cnt, NULL),
                     NVML_ERROR_NOT_FOUND);
    assert_int_equal(cnt, 0);
    /* the next sample appears exactly at its own time, not 1 us earlier */
    int64_t next_t = ref_next(ref_dev(1), (int64_t)last - T0_US);
    at(next_t - 1);
    assert_int_equal(read_buffer(d, last, s, 200), -1);
    at(next_t);
    assert_int_equal(read_buffer(d, last, s, 200), 1);
    assert_true(s[0].timeStamp == (unsigned long long)(T0_US + next_t));
    at(10 * SEC + 100 * MS);
    n = read_buffer(d, last, s, 200);
    assert_true(n >= 3 && n <= 7);
    for (int k = 0; k < n; k++)
        assert_true(s[k].timeStamp > last);
    /* a too-small count gets the oldest ones */
    nvmlSample_t few[2];
    cnt = 2;
    assert_int_equal(A.samples(d, NVML_TOTAL_POWER_SAMPLES, last, &type, &cnt, few), NVML_SUCCESS);
    assert_int_equal(cnt, 2);
    assert_true(few[0].timeStamp == s[0].timeStamp && few[1].timeStamp == s[1].timeStamp);
    /* lastSeen in the middle of the buffer */
    nvmlSample_t all[200];
    int m = read_buffer(d, 0, all, 200);
    assert_int_equal(read_buffer(d, all[m - 11].timeStamp, s, 200), 10);
    assert_true(s[0].timeStamp == all[m - 10].timeStamp);
    /* argument and type checks */
    assert_int_equal(A.samples(d, NVML_TOTAL_POWER_SAMPLES, 0, &type, NULL, s),
                     NVML_ERROR_INVALID_ARGUMENT);
    cnt = 200;
    assert_int_equal(A.samples(d, NVML_GPU_UTILIZATION_SAMPLES, 0, &type, &cnt, s),
                     NVML_ERROR_NOT_SUPPORTED);
}

/* Field 186 = newest sample as of the last 100 ms boundary, field 185 and GetPowerUsage = the
 * 1 s mean ending there; nothing changes between boundaries. */
static void test_power_fields_step_every_100ms(void **state)
{
    (void)state;
    init_ok();
    int changed_within_window = 0;
    for (unsigned i = 0; i < 2; i++) {
        nvmlDevice_t d = dev(i);
        const struct ref_gpu *g = ref_dev((int)i);
        for (int64_t b = 40 * SEC; b < 41 * SEC; b += 100 * MS) {
            uint32_t want_inst, later;
            ref_last(g, b, &want_inst);
            ref_last(g, b + 99 * MS, &later);
            changed_within_window += later != want_inst;
            double want_avg = ref_energy_mj(g, b - SEC, b); /* mJ over 1 s = mW */
            const int64_t offs[] = {0, 1, 20 * MS, 50 * MS, 99 * MS + 999};
            for (int k = 0; k < 5; k++) {
                at(b + offs[k]);
                nvmlFieldValue_t inst = field(d, NVML_FI_DEV_POWER_INSTANT, 0);
                nvmlFieldValue_t avg = field(d, NVML_FI_DEV_POWER_AVERAGE, 0);
                assert_int_equal(inst.nvmlReturn, NVML_SUCCESS);
                assert_int_equal(avg.nvmlReturn, NVML_SUCCESS);
                assert_int_equal(inst.valueType, NVML_VALUE_TYPE_UNSIGNED_INT);
                assert_true(inst.timestamp == T0_US + b);
                assert_true(avg.timestamp == T0_US + b);
                assert_int_equal(inst.value.uiVal, want_inst);
                assert_true(fabs(avg.value.uiVal - want_avg) <= 1.0);
                unsigned usage = 0;
                assert_int_equal(A.power_usage(d, &usage), NVML_SUCCESS);
                assert_int_equal(usage, avg.value.uiVal);
            }
        }
    }
    /* the 20 ms data moved inside some 100 ms windows, so the checks above were not vacuous */
    assert_true(changed_within_window > 5);
}

static void check_counter_delta(int64_t shift_us)
{
    for (unsigned i = 0; i < 2; i++) {
        nvmlDevice_t d = dev(i);
        const struct ref_gpu *g = ref_dev((int)i);
        const int64_t r1 = 12 * SEC + 345 * MS + 6, r2 = 71 * SEC + 234 * MS + 5;
        at(r1);
        unsigned long long c1 = counter(d);
        assert_true(c1 > 1000000000000ull); /* looks like a counter that has run for months */
        nvmlFieldValue_t v = field(d, NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION, 0);
        assert_true(v.timestamp == T0_US + 12 * SEC + 300 * MS);
        at(r1 + 50 * MS);
        assert_true(counter(d) == c1); /* steps only at 100 ms boundaries */
        at(r2);
        unsigned long long c2 = counter(d);
        double want =
            ref_energy_mj(g, 12 * SEC + 300 * MS + shift_us, 71 * SEC + 200 * MS + shift_us);
        double got = (double)(c2 - c1);
        if (fabs(got - want) > 1.0)
            fail_msg("gpu %u: counter delta %.0f mJ, left-hold integral %.3f mJ", i, got, want);
        /* from replay start */
        at(0);
        unsigned long long c0 = counter(d);
        at(r2);
        want = ref_energy_mj(g, shift_us, 71 * SEC + 200 * MS + shift_us);
        assert_true(fabs((double)(c2 - c0) - want) <= 1.0);
    }
}

static void test_energy_counter_is_left_hold_integral(void **state)
{
    (void)state;
    init_ok();
    check_counter_delta(0);
}

static void test_offset_skips_trace(void **state)
{
    (void)state;
    setenv("FAKE_NVML_OFFSET_S", "50", 1);
    init_ok();
    at(1 * SEC + 7 * MS);
    /* samples from before the offset are history: stamped before init */
    check_buffer_matches_trace(dev(0), ref_dev(0), 1 * SEC + 7 * MS, 50 * SEC);
    check_counter_delta(50 * SEC);
}

static void test_memory_and_module_scope_not_supported(void **state)
{
    (void)state;
    init_ok();
    at(5 * SEC);
    nvmlFieldValue_t v[6];
    memset(v, 0, sizeof(v));
    const unsigned ids[] = {185, 186, 185, 186, 186, 999}, scopes[] = {2, 2, 1, 0, 7, 0};
    const int want[] = {NVML_ERROR_NOT_SUPPORTED,    NVML_ERROR_NOT_SUPPORTED,
                        NVML_ERROR_NOT_SUPPORTED,    NVML_SUCCESS,
                        NVML_ERROR_INVALID_ARGUMENT, NVML_ERROR_NOT_SUPPORTED};
    for (int k = 0; k < 6; k++) {
        v[k].fieldId = ids[k];
        v[k].scopeId = scopes[k];
        v[k].nvmlReturn = -1;
    }
    assert_int_equal(A.fields(dev(0), 6, v), NVML_SUCCESS);
    for (int k = 0; k < 6; k++)
        assert_int_equal(v[k].nvmlReturn, want[k]);
    assert_int_equal(A.fields(dev(0), 0, v), NVML_ERROR_INVALID_ARGUMENT);
    assert_int_equal(A.fields(dev(0), 1, NULL), NVML_ERROR_INVALID_ARGUMENT);
}

/* After the trace ends it starts over one period later; timestamps keep increasing. */
static void test_replay_loops(void **state)
{
    (void)state;
    init_ok();
    int64_t p = R.period_us;
    assert_true(p > 170 * SEC && p < 200 * SEC);
    for (unsigned i = 0; i < 2; i++) {
        at(p + 500 * MS); /* the buffer straddles the wrap */
        nvmlSample_t s[200];
        int n = read_buffer(dev(i), 0, s, 200);
        assert_int_equal(n, 120);
        for (int k = 1; k < n; k++) {
            assert_true(s[k].timeStamp > s[k - 1].timeStamp);
            assert_true(s[k].timeStamp - s[k - 1].timeStamp < 60 * MS);
        }
        check_buffer_matches_trace(dev(i), ref_dev((int)i), p + 5 * SEC, 0);
        /* the counter steps at 100 ms boundaries of replay time, not of the period */
        int64_t b1 = (p - 10 * SEC) / (100 * MS) * (100 * MS);
        int64_t b2 = (p + 10 * SEC) / (100 * MS) * (100 * MS);
        at(b1 + 30 * MS);
        unsigned long long c1 = counter(dev(i));
        at(b2 + 30 * MS);
        unsigned long long c2 = counter(dev(i));
        double want = ref_energy_mj(ref_dev((int)i), b1, b2);
        assert_true(fabs((double)(c2 - c1) - want) <= 1.0);
    }
}

static void test_trace_errors(void **state)
{
    (void)state;
    setenv("FAKE_NVML_TRACE", "/nonexistent/trace.csv.gz", 1);
    expect_init_error("/nonexistent/trace.csv.gz");
    unsetenv("FAKE_NVML_TRACE");
    expect_init_error("FAKE_NVML_TRACE");

    const char bad_value[] = "gpu,ts_us,mw\n0,1000,5\n0,10x0,5\n";
    setenv("FAKE_NVML_TRACE", write_tmp("bad.csv", bad_value, sizeof(bad_value) - 1), 1);
    expect_init_error("line 3");
    const char unsorted[] = "gpu,ts_us,mw\n0,2000,5\n1,2001,5\n0,1000,5\n";
    setenv("FAKE_NVML_TRACE", write_tmp("unsorted.csv", unsorted, sizeof(unsorted) - 1), 1);
    expect_init_error("line 4");
    const char header[] = "gpu,t,mw\n0,1000,5\n";
    setenv("FAKE_NVML_TRACE", write_tmp("header.csv", header, sizeof(header) - 1), 1);
    expect_init_error("line 1");
    const char fields[] = "gpu,ts_us,mw\n0,1000,5,7\n";
    setenv("FAKE_NVML_TRACE", write_tmp("fields.csv", fields, sizeof(fields) - 1), 1);
    expect_init_error("line 2");
    setenv("FAKE_NVML_TRACE", write_tmp("empty.csv", "", 0), 1);
    expect_init_error("empty");
    const char only_header[] = "gpu,ts_us,mw\n";
    setenv("FAKE_NVML_TRACE", write_tmp("hdr.csv", only_header, sizeof(only_header) - 1), 1);
    expect_init_error("no samples");
    const char corrupt_gz[] = "\x1f\x8b\x08\x00garbage that is not deflate data at all....";
    setenv("FAKE_NVML_TRACE", write_tmp("corrupt.gz", corrupt_gz, sizeof(corrupt_gz) - 1), 1);
    expect_init_error("corrupt.gz");

    /* a plain (not gzipped) CSV replays too; ids need not start at 0 */
    const char plain[] = "gpu,ts_us,mw\r\n3,1000000,100000\r\n3,1020000,300000\r\n"
                         "3,1040000,200000\r\n";
    setenv("FAKE_NVML_TRACE", write_tmp("plain.csv", plain, sizeof(plain) - 1), 1);
    init_ok();
    unsigned n;
    assert_int_equal(A.count(&n), NVML_SUCCESS);
    assert_int_equal(n, 1);
    at(30 * MS);
    nvmlSample_t s[200];
    assert_int_equal(read_buffer(dev(0), T0_US - 1, s, 200), 2);
    assert_true(s[0].timeStamp == (unsigned long long)T0_US && s[0].sampleValue.uiVal == 100000);
    assert_true(s[1].timeStamp == (unsigned long long)(T0_US + 20 * MS));
    assert_int_equal(s[1].sampleValue.uiVal, 300000);
    assert_null(strstr(A.description(), "buffer-2gpu"));
    assert_non_null(strstr(A.description(), "replay of plain.csv"));
}

static void test_bad_fault_variables_fail_init(void **state)
{
    (void)state;
    const char *cases[][3] = {
        {"FAKE_NVML_GPUS", "0", "FAKE_NVML_GPUS"},
        {"FAKE_NVML_OFFSET_S", "-3", "FAKE_NVML_OFFSET_S"},
        {"FAKE_NVML_NOT_SUPPORTED", "samples,powr", "powr"},
        {"FAKE_NVML_LOSE_GPU", "2:5", "FAKE_NVML_LOSE_GPU"},
        {"FAKE_NVML_LOSE_GPU", "1", "FAKE_NVML_LOSE_GPU"},
        {"FAKE_NVML_LIE", "0:sideways", "sideways"},
        {"FAKE_NVML_EXTRAS", "yes", "FAKE_NVML_EXTRAS"},
        {"FAKE_NVML_FAIL_INIT", "nine", "FAKE_NVML_FAIL_INIT"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        setenv(cases[k][0], cases[k][1], 1);
        expect_init_error(cases[k][2]);
        unsetenv(cases[k][0]);
    }
    /* nothing of the failed attempts leaks into the next replay */
    init_ok();
    nvmlSample_t buf[200];
    at(5 * SEC);
    assert_int_equal(read_buffer(dev(0), 0, buf, 200), 120);
}

static void test_fail_init(void **state)
{
    (void)state;
    setenv("FAKE_NVML_FAIL_INIT", "9", 1);
    assert_int_equal(A.init(), NVML_ERROR_DRIVER_NOT_LOADED);
    assert_string_equal(A.error_string(NVML_ERROR_DRIVER_NOT_LOADED), "Driver Not Loaded");
    unsigned n;
    assert_int_equal(A.count(&n), NVML_ERROR_UNINITIALIZED);
    unsetenv("FAKE_NVML_FAIL_INIT");
    init_ok();
    assert_int_equal(A.count(&n), NVML_SUCCESS);
}

/* Probes every reading of device 1; returns a bit per reading that answered NOT_SUPPORTED
 * (the others must succeed). */
enum {
    R_SAMPLES = 1 << 0,
    R_INSTANT = 1 << 1,
    R_AVERAGE = 1 << 2,
    R_USAGE = 1 << 3,
    R_ENERGY = 1 << 4,
    R_LIMITS = 1 << 5,
    R_NAME = 1 << 6,
    R_UUID = 1 << 7,
    R_UTIL = 1 << 8,
    R_CLOCK = 1 << 9,
    R_TEMP = 1 << 10,
};

static unsigned probe_unsupported(void)
{
    nvmlDevice_t d = dev(1);
    nvmlSample_t s[200];
    nvmlUtilization_t u;
    int type;
    unsigned n = 200, v;
    unsigned long long mj;
    char buf[96];
    nvmlReturn_t rc[7 + 11];
    int k = 0;
    rc[k++] = A.samples(d, NVML_TOTAL_POWER_SAMPLES, 0, &type, &n, s);
    rc[k++] = field(d, 186, 0).nvmlReturn;
    rc[k++] = field(d, 185, 0).nvmlReturn;
    rc[k++] = A.power_usage(d, &v);
    rc[k++] = A.energy(d, &mj);
    rc[k++] = A.enforced_limit(d, &v);
    rc[k++] = A.name(d, buf, sizeof(buf));
    rc[k++] = A.uuid(d, buf, sizeof(buf));
    rc[k++] = A.util(d, &u);
    rc[k++] = A.clock(d, NVML_CLOCK_SM, &v);
    rc[k++] = A.temp(d, NVML_TEMPERATURE_GPU, &v);
    unsigned mask = 0;
    for (int i = 0; i < k; i++) {
        if (rc[i] == NVML_ERROR_NOT_SUPPORTED)
            mask |= 1u << i;
        else
            assert_int_equal(rc[i], NVML_SUCCESS);
    }
    /* readings with two entry points agree */
    assert_int_equal(field(d, 83, 0).nvmlReturn,
                     (mask & R_ENERGY) ? NVML_ERROR_NOT_SUPPORTED : NVML_SUCCESS);
    int want_limit = (mask & R_LIMITS) ? NVML_ERROR_NOT_SUPPORTED : NVML_SUCCESS;
    assert_int_equal(A.default_limit(d, &v), want_limit);
    for (unsigned id = 187; id <= 190; id++)
        assert_int_equal(field(d, id, 0).nvmlReturn, want_limit);
    return mask;
}

static void test_not_supported_readings(void **state)
{
    (void)state;
    const struct {
        const char *keys;
        unsigned want;
    } cases[] = {
        {"", 0},
        {"samples", R_SAMPLES},
        {"instant", R_INSTANT},
        {"average", R_AVERAGE},
        /* GetPowerUsage has its own key: a GPU without field 185 still has it */
        {"usage", R_USAGE},
        {"energy", R_ENERGY},
        {"limits", R_LIMITS},
        {"name", R_NAME},
        {"uuid", R_UUID},
        {"util,clock", R_UTIL | R_CLOCK},
        {"temp", R_TEMP},
        {"samples,instant,average,energy,limits,name,uuid",
         R_SAMPLES | R_INSTANT | R_AVERAGE | R_ENERGY | R_LIMITS | R_NAME | R_UUID},
        {"", 0}, /* and the next init forgets it all */
    };
    setenv("FAKE_NVML_EXTRAS", "1", 1);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        setenv("FAKE_NVML_NOT_SUPPORTED", cases[k].keys, 1);
        at(0);
        init_ok();
        at(5 * SEC);
        unsigned got = probe_unsupported();
        if (got != cases[k].want)
            fail_msg("FAKE_NVML_NOT_SUPPORTED=%s: unsupported mask %#x, want %#x", cases[k].keys,
                     got, cases[k].want);
        assert_int_equal(A.shutdown(), NVML_SUCCESS);
    }
    /* without FAKE_NVML_EXTRAS the unrecorded readings are unsupported */
    unsetenv("FAKE_NVML_EXTRAS");
    at(0);
    init_ok();
    assert_int_equal(probe_unsupported(), R_UTIL | R_CLOCK | R_TEMP);
}

static void test_lose_gpu(void **state)
{
    (void)state;
    setenv("FAKE_NVML_LOSE_GPU", "1:2.5", 1);
    init_ok();
    nvmlDevice_t d0 = dev(0), d1 = dev(1);
    unsigned mw;
    unsigned long long mj;
    nvmlSample_t s[200];
    int type;
    unsigned n = 200;
    char buf[96];
    at(2500 * MS - 1);
    assert_int_equal(A.power_usage(d1, &mw), NVML_SUCCESS);
    at(2500 * MS);
    assert_int_equal(A.power_usage(d1, &mw), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(A.energy(d1, &mj), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(A.samples(d1, NVML_TOTAL_POWER_SAMPLES, 0, &type, &n, s),
                     NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(A.name(d1, buf, sizeof(buf)), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(A.enforced_limit(d1, &mw), NVML_ERROR_GPU_IS_LOST);
    nvmlDevice_t again;
    assert_int_equal(A.handle(1, &again), NVML_ERROR_GPU_IS_LOST);
    nvmlFieldValue_t v = {.fieldId = 186};
    assert_int_equal(A.fields(d1, 1, &v), NVML_ERROR_GPU_IS_LOST);
    assert_int_equal(v.nvmlReturn, NVML_ERROR_GPU_IS_LOST);
    /* the other GPU is unaffected */
    assert_int_equal(A.power_usage(d0, &mw), NVML_SUCCESS);
    assert_int_equal(read_buffer(d0, 0, s, 200), 120);
    at(60 * SEC);
    assert_int_equal(A.power_usage(d1, &mw), NVML_ERROR_GPU_IS_LOST);
    /* shutdown + init without the variable: the GPU is back */
    unsetenv("FAKE_NVML_LOSE_GPU");
    restart();
    at(60 * SEC);
    assert_int_equal(A.power_usage(dev(1), &mw), NVML_SUCCESS);
}

/* Counts buffer samples of device i at r whose value differs from the recording, checking
 * the differing ones with is_lie. */
static int count_lies(unsigned i, int64_t r, int (*is_lie)(uint32_t got, uint32_t truth))
{
    nvmlSample_t s[200];
    at(r);
    int n = read_buffer(dev(i), 0, s, 200);
    int lies = 0;
    for (int k = 0; k < n; k++) {
        uint32_t truth = 0;
        int64_t t = ref_last(ref_dev((int)i), (int64_t)s[k].timeStamp - T0_US, &truth);
        assert_true((int64_t)s[k].timeStamp - T0_US == t);
        if (s[k].sampleValue.uiVal != truth) {
            assert_true(is_lie(s[k].sampleValue.uiVal, truth));
            lies++;
        }
    }
    return lies;
}

static int is_negative(uint32_t got, uint32_t truth)
{
    return got > 0xF0000000u && got == ~truth;
}

static int is_absurd(uint32_t got, uint32_t truth)
{
    (void)truth;
    return got == 5000000u;
}

static void test_lie_negative_and_absurd(void **state)
{
    (void)state;
    setenv("FAKE_NVML_LIE", "0:negative,1:absurd", 1);
    init_ok();
    assert_int_equal(count_lies(0, 30 * SEC, is_negative), 12); /* every 10th of 120 */
    assert_int_equal(count_lies(1, 30 * SEC, is_absurd), 12);
    /* fields stay truthful */
    nvmlFieldValue_t v = field(dev(1), NVML_FI_DEV_POWER_INSTANT, 0);
    assert_true(v.value.uiVal < 1000000u);
    unsetenv("FAKE_NVML_LIE");
    restart();
    assert_int_equal(count_lies(0, 30 * SEC, is_negative), 0);
    assert_int_equal(count_lies(1, 30 * SEC, is_absurd), 0);
}

static void test_lie_backwards(void **state)
{
    (void)state;
    setenv("FAKE_NVML_LIE", "0:backwards", 1);
    init_ok();
    for (unsigned i = 0; i < 2; i++) {
        unsigned long long max_seen = 0, prev = 0;
        int decreases = 0, total = 0;
        for (int64_t r = 0; r <= 3 * SEC; r += 70 * MS) {
            at(r);
            nvmlSample_t s[200];
            int n = read_buffer(dev(i), max_seen, s, 200);
            for (int k = 0; k < n; k++, total++) {
                decreases += s[k].timeStamp < prev;
                prev = s[k].timeStamp;
                if (s[k].timeStamp > max_seen)
                    max_seen = s[k].timeStamp;
            }
        }
        assert_true(total > 150);
        assert_int_equal(decreases, i == 0 ? 1 : 0);
    }
}

static void test_lie_counter_backwards(void **state)
{
    (void)state;
    setenv("FAKE_NVML_LIE", "1:counter-backwards", 1);
    init_ok();
    for (unsigned i = 0; i < 2; i++) {
        int decreases = 0;
        unsigned long long prev = 0;
        for (int64_t r = 0; r <= 5 * SEC; r += 100 * MS) {
            at(r);
            unsigned long long c = counter(dev(i));
            if (r > 0 && c < prev) {
                decreases++;
                assert_true(prev - c > 900000); /* about 1 kJ */
            }
            prev = c;
        }
        assert_int_equal(decreases, i == 1 ? 1 : 0);
    }
}

static void test_stats_count_calls_and_reset(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/stats.txt", tmpdir);
    setenv("FAKE_NVML_STATS", path, 1);
    for (int round = 0; round < 2; round++) {
        at(0);
        init_ok();
        at(10 * SEC);
        nvmlSample_t s[200];
        unsigned mw;
        for (int k = 0; k < 3 - 3 * round; k++)
            read_buffer(dev(0), 0, s, 200);
        counter(dev(1));
        A.power_usage(dev(0), &mw);
        nvmlFieldValue_t v[2] = {{.fieldId = 186}, {.fieldId = 186}};
        assert_int_equal(A.fields(dev(0), 2, v), NVML_SUCCESS);
        assert_int_equal(A.shutdown(), NVML_SUCCESS);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char name[128];
        unsigned long long calls;
        int seen = 0;
        while (fscanf(f, "%127s %llu", name, &calls) == 2) {
            seen++;
            if (!strcmp(name, "nvmlDeviceGetSamples"))
                assert_true(calls == (round == 0 ? 3u : 0u));
            else if (!strcmp(name, "nvmlDeviceGetTotalEnergyConsumption") ||
                     !strcmp(name, "nvmlInit_v2") || !strcmp(name, "nvmlShutdown") ||
                     !strcmp(name, "nvmlDeviceGetPowerUsage"))
                assert_true(calls == 1);
            else if (!strcmp(name, "nvmlDeviceGetFieldValues"))
                assert_true(calls == 2); /* counter() reads field 83 once, then 2x 186 */
            else if (!strcmp(name, "nvmlDeviceGetTemperature"))
                assert_true(calls == 0);
            else if (!strcmp(name, "field:83"))
                assert_true(calls == 1);
            else if (!strcmp(name, "field:186"))
                assert_true(calls == 2);
            else if (!strncmp(name, "lastSeen:", 9))
                assert_true(calls == 0); /* no per-process read */
        }
        fclose(f);
        /* one line per NVML function, then per field, then two about lastSeen */
        assert_int_equal(seen, 20 + 5 + 2);
        unlink(path);
    }
}

static void test_replicated_gpus(void **state)
{
    (void)state;
    setenv("FAKE_NVML_GPUS", "8", 1);
    setenv("FAKE_NVML_RECORDED_ON", "2x NVIDIA H200, driver 580.159.04", 1);
    init_ok();
    unsigned n;
    assert_int_equal(A.count(&n), NVML_SUCCESS);
    assert_int_equal(n, 8);
    char uuids[8][96];
    at(20 * SEC);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(A.uuid(dev(i), uuids[i], sizeof(uuids[i])), NVML_SUCCESS);
        for (unsigned j = 0; j < i; j++)
            assert_string_not_equal(uuids[i], uuids[j]);
        check_buffer_matches_trace(dev(i), ref_dev((int)i), 20 * SEC, 0);
    }
    assert_non_null(strstr(A.description(), "replicated to 8 devices"));
    assert_non_null(strstr(A.description(), "(recorded on 2x NVIDIA H200, driver 580.159.04)"));
}

static void test_extras(void **state)
{
    (void)state;
    nvmlUtilization_t u;
    unsigned mhz, c;
    init_ok();
    assert_int_equal(A.util(dev(0), &u), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(A.clock(dev(0), NVML_CLOCK_SM, &mhz), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(A.temp(dev(0), NVML_TEMPERATURE_GPU, &c), NVML_ERROR_NOT_SUPPORTED);
    A.shutdown();
    setenv("FAKE_NVML_EXTRAS", "1", 1);
    init_ok();
    int busy = 0, idle = 0;
    for (int64_t r = 1 * SEC; r < 170 * SEC; r += 3 * SEC + 300 * MS) {
        at(r);
        unsigned p;
        assert_int_equal(A.power_usage(dev(1), &p), NVML_SUCCESS);
        assert_int_equal(A.util(dev(1), &u), NVML_SUCCESS);
        assert_int_equal(A.clock(dev(1), NVML_CLOCK_SM, &mhz), NVML_SUCCESS);
        assert_int_equal(A.temp(dev(1), NVML_TEMPERATURE_GPU, &c), NVML_SUCCESS);
        double want = (p / 1000.0 - 100) / 600 * 100;
        want = want < 0 ? 0 : want > 100 ? 100 : want;
        assert_true(fabs(u.gpu - want) <= 1.0);
        assert_int_equal(mhz, u.gpu > 0 ? 1980 : 345);
        assert_true(fabs(c - (35 + p / 20000.0)) <= 1.0);
        busy += u.gpu > 0;
        idle += u.gpu == 0;
    }
    assert_true(busy > 0 && idle > 0); /* both branches exercised by the recording */
    assert_int_equal(A.temp(dev(1), 5, &c), NVML_ERROR_INVALID_ARGUMENT);
}

static void test_wall_clock_rebase(void **state)
{
    (void)state;
    A.set_clock(-1);
    init_ok();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long real_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    nvmlSample_t s[200];
    int n = read_buffer(dev(0), 0, s, 200);
    assert_true(n > 0);
    /* generous bounds: a loaded machine may stall, but never by a minute */
    assert_true((long long)s[n - 1].timeStamp > real_us - 60 * SEC);
    assert_true((long long)s[n - 1].timeStamp < real_us + 60 * SEC);
}

static void test_shutdown_resets_state(void **state)
{
    (void)state;
    setenv("FAKE_NVML_GPUS", "3", 1);
    setenv("FAKE_NVML_OFFSET_S", "100", 1);
    init_ok();
    A.shutdown();
    unsetenv("FAKE_NVML_GPUS");
    unsetenv("FAKE_NVML_OFFSET_S");
    A.set_clock(T0_US + 77 * SEC); /* a new replay starts at the new "now" */
    init_ok();
    unsigned n;
    assert_int_equal(A.count(&n), NVML_SUCCESS);
    assert_int_equal(n, 2);
    A.set_clock(T0_US + 77 * SEC + 10 * SEC);
    nvmlSample_t s[200];
    int got = read_buffer(dev(0), 0, s, 200);
    uint32_t mw;
    int64_t t = ref_last(ref_dev(0), 10 * SEC, &mw);
    assert_true(s[got - 1].timeStamp == (unsigned long long)(T0_US + 77 * SEC + t));
    assert_int_equal(s[got - 1].sampleValue.uiVal, mw);
}

static void *hammer(void *arg)
{
    nvmlDevice_t d = arg;
    for (int k = 0; k < 300; k++) {
        nvmlSample_t s[120];
        int type;
        unsigned n = 120, mw;
        nvmlReturn_t rc = A.samples(d, NVML_TOTAL_POWER_SAMPLES, 0, &type, &n, s);
        if (rc != NVML_SUCCESS || n != 120)
            return (void *)1;
        nvmlFieldValue_t v = {.fieldId = 186};
        if (A.fields(d, 1, &v) != NVML_SUCCESS || v.nvmlReturn != NVML_SUCCESS)
            return (void *)1;
        if (A.power_usage(d, &mw) != NVML_SUCCESS)
            return (void *)1;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    init_ok();
    at(30 * SEC);
    pthread_t th[4];
    for (int k = 0; k < 4; k++)
        assert_int_equal(pthread_create(&th[k], NULL, hammer, dev((unsigned)k % 2)), 0);
    for (int k = 0; k < 4; k++) {
        void *res;
        assert_int_equal(pthread_join(th[k], &res), 0);
        assert_null(res);
    }
}

/* FAKE_NVML_PROCS: one sample per living process since lastSeen, stamped at its last 100 ms
 * period (a millisecond apart per process, as the driver's differ), an exited process
 * forgotten; the size protocol of nvml.h; the running-process list without MIG ids. */
static void test_processes(void **state)
{
    (void)state;
    setenv("FAKE_NVML_PROCS", "0:4242:60,0:4343:20,0:5555:30:0.5-2", 1);
    init_ok();
    at(SEC + 50000); /* 1.05 s: the last period ended at 1.0 s */
    nvmlProcessUtilizationSample_t u[32];
    unsigned n = 0;
    assert_int_equal(A.proc_util(dev(0), NULL, &n, 0), NVML_SUCCESS);
    assert_int_equal(n, 3);
    n = 2;
    assert_int_equal(A.proc_util(dev(0), u, &n, 0), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 3);
    n = 32;
    assert_int_equal(A.proc_util(dev(0), u, &n, 0), NVML_SUCCESS);
    assert_int_equal(n, 3);
    assert_int_equal(u[0].pid, 4242);
    assert_int_equal(u[0].smUtil, 60);
    assert_int_equal(u[1].pid, 4343);
    assert_int_equal(u[1].smUtil, 20);
    assert_int_equal(u[2].pid, 5555);
    assert_true(u[0].timeStamp == (unsigned long long)(T0_US + SEC));
    assert_true(u[1].timeStamp == (unsigned long long)(T0_US + SEC - 1000));
    n = 32;
    assert_int_equal(A.proc_util(dev(0), u, &n, T0_US + SEC), NVML_ERROR_NOT_FOUND);
    assert_int_equal(n, 0);
    at(SEC + 150000);
    n = 32;
    assert_int_equal(A.proc_util(dev(0), u, &n, T0_US + SEC), NVML_SUCCESS);
    assert_int_equal(n, 3);
    assert_true(u[0].timeStamp == (unsigned long long)(T0_US + SEC + 100000));
    /* 5555 exited at 2 s: gone from every answer, even one since the start */
    at(2 * SEC + 50000);
    n = 32;
    assert_int_equal(A.proc_util(dev(0), u, &n, 0), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(u[1].pid, 4343);
    /* GPU 1 runs nothing */
    n = 32;
    assert_int_equal(A.proc_util(dev(1), u, &n, 0), NVML_ERROR_NOT_FOUND);
    nvmlProcessInfo_t pi[4];
    n = 1;
    assert_int_equal(A.procs(dev(0), &n, pi), NVML_ERROR_INSUFFICIENT_SIZE);
    assert_int_equal(n, 2);
    n = 4;
    assert_int_equal(A.procs(dev(0), &n, pi), NVML_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(pi[1].pid, 4343);
    assert_true(pi[1].gpuInstanceId == 0xFFFFFFFFu);
    n = 4;
    assert_int_equal(A.procs(dev(1), &n, pi), NVML_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(A.shutdown(), NVML_SUCCESS);
    /* Split by MIG: the instance ids are real ones; the list can be made to fail. */
    setenv("FAKE_NVML_MIG", "1", 1);
    setenv("FAKE_NVML_NOT_SUPPORTED", "running", 1);
    assert_int_equal(A.init(), NVML_SUCCESS);
    n = 4;
    assert_int_equal(A.procs(dev(0), &n, pi), NVML_ERROR_NOT_SUPPORTED);
    assert_int_equal(A.shutdown(), NVML_SUCCESS);
    unsetenv("FAKE_NVML_NOT_SUPPORTED");
    assert_int_equal(A.init(), NVML_SUCCESS);
    n = 4;
    assert_int_equal(A.procs(dev(0), &n, pi), NVML_SUCCESS);
    assert_true(n == 2 && pi[0].gpuInstanceId == 1 && pi[0].computeInstanceId == 0);
    assert_int_equal(A.shutdown(), NVML_SUCCESS);
    setenv("FAKE_NVML_MIG", "on", 1);
    assert_int_equal(A.init(), NVML_ERROR_UNKNOWN);
    unsetenv("FAKE_NVML_MIG");
    setenv("FAKE_NVML_PROCS", "0:4242", 1);
    assert_int_equal(A.init(), NVML_ERROR_UNKNOWN);
    setenv("FAKE_NVML_PROCS", "0:4242:101", 1);
    assert_int_equal(A.init(), NVML_ERROR_UNKNOWN);
    setenv("FAKE_NVML_PROCS", "0:4242:50:3-1", 1); /* ends before it starts */
    assert_int_equal(A.init(), NVML_ERROR_UNKNOWN);
    setenv("FAKE_NVML_PROCS", "0:4242:50:1-2x", 1);
    assert_int_equal(A.init(), NVML_ERROR_UNKNOWN);
}

#define LOAD(field, sym)                                                                           \
    do {                                                                                           \
        *(void **)&A.field = dlsym(A.h, sym);                                                      \
        if (!A.field) {                                                                            \
            fprintf(stderr, "%s lacks %s\n", lib, sym);                                            \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(void)
{
    const char *lib = getenv("FAKE_NVML_LIB"), *trace = getenv("FAKE_NVML_TRACE");
    if (!lib || !trace) {
        fprintf(stderr, "FAKE_NVML_LIB and FAKE_NVML_TRACE must be set (tests/run.sh sets "
                        "them); not running the fake NVML tests\n");
        return 1;
    }
    A.h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!A.h) {
        fprintf(stderr, "cannot load the fake NVML %s: %s\n", lib, dlerror());
        return 1;
    }
    LOAD(init, "nvmlInit_v2");
    LOAD(init_v1, "nvmlInit");
    LOAD(shutdown, "nvmlShutdown");
    LOAD(error_string, "nvmlErrorString");
    LOAD(driver_version, "nvmlSystemGetDriverVersion");
    LOAD(count, "nvmlDeviceGetCount_v2");
    LOAD(handle, "nvmlDeviceGetHandleByIndex_v2");
    LOAD(name, "nvmlDeviceGetName");
    LOAD(uuid, "nvmlDeviceGetUUID");
    LOAD(power_usage, "nvmlDeviceGetPowerUsage");
    LOAD(energy, "nvmlDeviceGetTotalEnergyConsumption");
    LOAD(fields, "nvmlDeviceGetFieldValues");
    LOAD(samples, "nvmlDeviceGetSamples");
    LOAD(util, "nvmlDeviceGetUtilizationRates");
    LOAD(clock, "nvmlDeviceGetClockInfo");
    LOAD(temp, "nvmlDeviceGetTemperature");
    LOAD(enforced_limit, "nvmlDeviceGetEnforcedPowerLimit");
    LOAD(default_limit, "nvmlDeviceGetPowerManagementDefaultLimit");
    LOAD(description, "fakeNvmlReplayDescription");
    LOAD(set_clock, "fakeNvmlSetClock");
    LOAD(proc_util, "nvmlDeviceGetProcessUtilization");
    LOAD(procs, "nvmlDeviceGetComputeRunningProcesses_v3");
    snprintf(R.path, sizeof(R.path), "%s", trace);
    ref_load(trace);
    snprintf(tmpdir, sizeof(tmpdir), "%s/fake-nvml-test-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_calls_before_init_are_uninitialized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_names_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_is_reference_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_holds_newest_120_rebased, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_last_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_fields_step_every_100ms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_energy_counter_is_left_hold_integral, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_skips_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_and_module_scope_not_supported, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_replay_loops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fault_variables_fail_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_supported_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lose_gpu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lie_negative_and_absurd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lie_backwards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lie_counter_backwards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_count_calls_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicated_gpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extras, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wall_clock_rebase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_resets_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processes, setup, teardown),
    };
    /* TEST_FILTER=pattern runs the matching tests only (cmocka's glob) */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    DIR *dir = opendir(tmpdir);
    for (struct dirent *e; dir && (e = readdir(dir));) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(path);
    }
    if (dir)
        closedir(dir);
    rmdir(tmpdir);
    for (int k = 0; k < R.ngpu; k++) {
        free(R.g[k].t);
        free(R.g[k].mw);
    }
    return failed ? 1 : 0;
}
