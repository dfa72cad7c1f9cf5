/* The recorder's failure paths, driven by a fake in-process source whose behaviour each
 * instance's options choose (mode=ok|flaky|gone|stall), beside the real NVML source reading
 * the fake NVML library (tests/run.sh points WATTPROF_NVML_LIB at it): a source that fails
 * and recovers, one that is gone for good, one that stalls for 5 s (no NVML sample may be
 * delayed), a trace that cannot be written any more, and secrets kept out of the trace. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "core/clock.h"
#include "recorder/recorder.h"
#include "store/trace.h"

/* ---- the fake source ---- */

enum fake_mode { FAKE_OK, FAKE_FLAKY, FAKE_GONE, FAKE_STALL };

struct fake {
    enum fake_mode mode;
    int polls;
    int fail_from, fail_count; /* flaky: polls [from, from+count) fail; gone: from `from` */
    int64_t stall_us, period_us, per_poll;
    int sensor;
    uint64_t rng;
};

static int fake_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    struct fake *f = calloc(1, sizeof(*f));
    if (!f)
        return wp_errf(err, -ENOMEM, "out of memory");
    const char *m = wp_source_cfg_get(cfg, "mode");
    f->mode = !m || strcmp(m, "ok") == 0 ? FAKE_OK
              : strcmp(m, "flaky") == 0  ? FAKE_FLAKY
              : strcmp(m, "gone") == 0   ? FAKE_GONE
                                         : FAKE_STALL;
    const char *v;
    f->fail_from = (v = wp_source_cfg_get(cfg, "from")) ? atoi(v) : 3;
    f->fail_count = (v = wp_source_cfg_get(cfg, "count")) ? atoi(v) : 3;
    f->per_poll = (v = wp_source_cfg_get(cfg, "per_poll")) ? atoll(v) : 1;
    f->rng = 88172645463325252u;
    int rc = wp_source_cfg_duration_us(cfg, "stall", 5000000, 0, 60000000, &f->stall_us, err);
    if (rc == 0)
        rc = wp_source_cfg_duration_us(cfg, "interval", 50000, 1000, 60000000, &f->period_us, err);
    if (rc < 0) {
        free(f);
        return rc;
    }
    *state = f;
    return 0;
}

static int fake_discover(void *state, struct wp_sensors *tab, struct wp_meta *meta,
                         struct wp_err *err)
{
    (void)meta;
    (void)err;
    struct fake *f = state;
    struct wp_sensor s = {0};
    s.device = -1;
    snprintf(s.name, sizeof(s.name), "fake_power");
    s.quantity = WP_Q_POWER;
    s.kind = WP_GAUGE;
    s.cadence_us = f->period_us;
    s.limit = s.default_limit = WP_NO_LIMIT;
    s.scope = WP_SCOPE_OTHER;
    f->sensor = wp_sensors_add(tab, &s);
    return 1;
}

static int fake_poll(void *state, int64_t now, unsigned flags, struct wp_sink *sink, int64_t *next,
                     struct wp_err *err)
{
    (void)flags;
    struct fake *f = state;
    int k = f->polls++;
    *next = now + f->period_us;
    if (f->mode == FAKE_FLAKY && k >= f->fail_from && k < f->fail_from + f->fail_count)
        return wp_errf(err, -EIO, "the fake meter does not answer (poll %d)", k);
    if (f->mode == FAKE_GONE && k >= f->fail_from)
        return wp_errf(err, -ENODEV, "the fake meter was unplugged");
    if (f->mode == FAKE_STALL && k == 2)
        wp_sleep_until_mono_us(wp_mono_us() + f->stall_us);
    int64_t t = wp_wall_us();
    for (int64_t i = 0; i < f->per_poll; i++) {
        /* xorshift: values that do not compress, so the trace grows */
        f->rng ^= f->rng << 13;
        f->rng ^= f->rng >> 7;
        f->rng ^= f->rng << 17;
        wp_sink_push(sink, f->sensor, t + i, (int64_t)(f->rng >> 20));
    }
    return 0;
}

static void fake_close(void *state)
{
    free(state);
}

static const struct wp_source_key fake_keys[] = {
    {"mode", "ok|flaky|gone|stall", 0},
    {"from", "N", 0},
    {"count", "N", 0},
    {"stall", "DURATION", 0},
    {"interval", "D", 0},
    {"per_poll", "N", 0},
    {"password", "a secret", WP_KEY_SECRET},
    {NULL, NULL, 0},
};
static const struct wp_source_ops fake_kind = {
    .name = "fake",
    .help = "a meter whose failures a test chooses",
    .keys = fake_keys,
    .open = fake_open,
    .discover = fake_discover,
    .poll = fake_poll,
    .close = fake_close,
};
static const struct wp_source_ops *const kinds[] = {&fake_kind, &wp_source_nvml, NULL};

/* ---- helpers ---- */

static char path[128];

struct events_seen {
    pthread_mutex_t lock;
    char text[8192];
};

static void on_event(const struct wp_event *e, void *ctx)
{
    struct events_seen *s = ctx;
    pthread_mutex_lock(&s->lock);
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof(s->text) - n, "[%s] %s\n", e->source, e->message);
    pthread_mutex_unlock(&s->lock);
}

static void config(struct wp_config *c, const char *const *specs)
{
    wp_config_init(c);
    c->no_auto = true;
    struct wp_err err = {0};
    for (size_t i = 0; specs[i]; i++)
        if (wp_config_add_spec(c, kinds, specs[i], true, "test", &err) < 0)
            fail_msg("%s: %s", specs[i], err.msg);
}

/* Records for secs with the given specs; returns the stop status. */
static int record(const char *name, const char *const *specs, double secs, struct events_seen *seen,
                  int64_t retry_min_us)
{
    snprintf(path, sizeof(path), "%s/%s.wptrace", test_dir, name);
    struct wp_config c;
    config(&c, specs);
    struct wp_recorder_opts o = {.trace_path = path,
                                 .config = &c,
                                 .on_event = on_event,
                                 .event_ctx = seen,
                                 .retry_min_us = retry_min_us,
                                 .retry_max_us = 4 * retry_min_us};
    struct wp_err err = {0};
    struct wp_recorder *r = NULL;
    if (wp_recorder_start(&r, &o, false, &err) < 0)
        fail_msg("start: %s", err.msg);
    wp_sleep_until_mono_us(wp_mono_us() + (int64_t)(secs * 1e6));
    int rc = wp_recorder_stop(r, 0, &err);
    wp_config_free(&c);
    return rc;
}

static const struct wp_sensor *find(const struct wp_trace *t, const char *source, int device,
                                    const char *name)
{
    const struct wp_sensor *s = wp_sensors_find(wp_trace_sensors(t), source, device, name);
    if (!s)
        fail_msg("no sensor %s/%d/%s in the trace", source, device, name);
    return s;
}

static struct wp_trace *open_trace(void)
{
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    if (wp_trace_open(&t, path, &err) < 0)
        fail_msg("open %s: %s", path, err.msg);
    return t;
}

static bool trace_event_has(const struct wp_trace *t, const char *text)
{
    const struct wp_event *ev;
    size_t n = 0;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_events(t, &ev, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        if (strstr(ev[i].message, text))
            return true;
    return false;
}

/* ---- tests ---- */

static void test_flaky_source_is_retried_with_backoff_and_recovers(void **state)
{
    (void)state;
    struct events_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    const char *specs[] = {"fake:mode=flaky,from=3,count=3,interval=50ms,name=pdu", NULL};
    assert_int_equal(record("flaky", specs, 2.0, &seen, 100000), 0);
    struct wp_trace *t = open_trace();
    assert_true(trace_event_has(t, "source pdu unavailable: the fake meter does not answer"));
    assert_true(trace_event_has(t, "source pdu recovered after"));
    assert_non_null(strstr(seen.text, "[pdu] source pdu recovered"));
    /* Backoff 100, 200, 400 ms: the three failures take 0.7 s; readings before and after. */
    struct wp_series s;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_series(t, find(t, "pdu", -1, "fake_power")->id, &s, &err), 0);
    assert_true(s.n >= 10);
    int64_t longest = 0;
    for (size_t i = 1; i < s.n; i++)
        if (s.t_us[i] - s.t_us[i - 1] > longest)
            longest = s.t_us[i] - s.t_us[i - 1];
    if (longest < 600000 || longest > 1200000)
        fail_msg("the outage lasted %lld us, expected about 700 ms of backoff", (long long)longest);
    wp_series_free(&s);
    wp_trace_free(t);
}

static void test_source_gone_for_good_is_dropped_and_others_go_on(void **state)
{
    (void)state;
    struct events_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    const char *specs[] = {"fake:mode=gone,from=2,name=bmc", "fake:mode=ok,name=pdu", NULL};
    assert_int_equal(record("gone", specs, 1.5, &seen, 100000), 0);
    struct wp_trace *t = open_trace();
    assert_true(trace_event_has(t, "source bmc stopped: the fake meter was unplugged"));
    assert_false(trace_event_has(t, "source bmc recovered"));
    struct wp_series a, b;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_series(t, find(t, "bmc", -1, "fake_power")->id, &a, &err), 0);
    assert_int_equal(wp_trace_series(t, find(t, "pdu", -1, "fake_power")->id, &b, &err), 0);
    assert_int_equal(a.n, 2); /* polls 0 and 1, then gone; never retried */
    assert_true(b.n >= 25);   /* 1.5 s at 50 ms */
    wp_series_free(&a);
    wp_series_free(&b);
    wp_trace_free(t);
}

/* A meter that hangs for 5 s (a BMC timing out) must not delay the GPUs' buffer reads: the
 * replayed NVML trace keeps >= 99.5 % of its 20 ms intervals at <= 40 ms. */
static void test_stalled_source_delays_no_nvml_sample(void **state)
{
    (void)state;
    if (!getenv("WATTPROF_NVML_LIB") || !getenv("FAKE_NVML_TRACE"))
        fail_msg("run through tests/run.sh (needs the fake NVML and its trace)");
    struct events_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    const char *specs[] = {"fake:mode=stall,stall=5s,interval=100ms,name=bmc", "nvml", NULL};
    assert_int_equal(record("stall", specs, 7.0, &seen, 100000), 0);
    struct wp_trace *t = open_trace();
    struct wp_err err = {0};
    struct wp_series s;
    /* The stall happened: the fake's readings have a 5 s hole. */
    assert_int_equal(wp_trace_series(t, find(t, "bmc", -1, "fake_power")->id, &s, &err), 0);
    int64_t hole = 0;
    for (size_t i = 1; i < s.n; i++)
        if (s.t_us[i] - s.t_us[i - 1] > hole)
            hole = s.t_us[i] - s.t_us[i - 1];
    assert_true(hole >= 4900000);
    wp_series_free(&s);
    for (int gpu = 0; gpu < 2; gpu++) {
        assert_int_equal(wp_trace_series(t, find(t, "nvml", gpu, "power")->id, &s, &err), 0);
        size_t ok = 0;
        for (size_t i = 1; i < s.n; i++)
            ok += s.t_us[i] - s.t_us[i - 1] <= 40000;
        double share = (double)ok / (double)(s.n - 1);
        print_message("GPU %d: %zu samples, %.2f %% of intervals <= 40 ms\n", gpu, s.n,
                      share * 100);
        assert_true(s.n >= 300); /* 7 s at 20 ms, plus the buffer's history */
        assert_true(share >= 0.995);
        wp_series_free(&s);
    }
    wp_trace_free(t);
}

/* The disk stops taking data mid-run (here: the file-size limit): the recorder says so once,
 * keeps running, stop reports the failure, and the trace still opens with what was
 * committed before. */
static void test_write_failure_mid_run_is_reported_and_the_trace_stays_readable(void **state)
{
    (void)state;
    struct events_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    snprintf(path, sizeof(path), "%s/full.wptrace", test_dir);
    struct wp_config c;
    const char *specs[] = {"fake:mode=ok,interval=10ms,per_poll=400", NULL};
    config(&c, specs);
    struct wp_recorder_opts o = {
        .trace_path = path, .config = &c, .on_event = on_event, .event_ctx = &seen};
    struct wp_err err = {0};
    struct wp_recorder *r = NULL;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGXFSZ, &ign, &old);
    struct rlimit lim0;
    getrlimit(RLIMIT_FSIZE, &lim0);
    assert_int_equal(wp_recorder_start(&r, &o, false, &err), 0);
    wp_sleep_until_mono_us(wp_mono_us() + 1500000);
    /* From now on no file of this process may grow past 1 MB more than the WAL has now. */
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    struct stat st;
    assert_int_equal(stat(wal, &st), 0);
    struct rlimit lim = {.rlim_cur = (rlim_t)st.st_size + 1000000, .rlim_max = lim0.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    wp_sleep_until_mono_us(wp_mono_us() + 3000000);
    int rc = wp_recorder_stop(r, 0, &err);
    setrlimit(RLIMIT_FSIZE, &lim0);
    sigaction(SIGXFSZ, &old, NULL);
    wp_config_free(&c);
    assert_true(rc < 0);
    print_message("stop: %s\n", err.msg);
    assert_non_null(strstr(seen.text, "writing the trace failed"));
    /* Said once, not once per second. */
    assert_null(
        strstr(strstr(seen.text, "writing the trace failed") + 1, "writing the trace failed"));
    struct wp_trace *t = open_trace();
    struct wp_series s;
    assert_int_equal(wp_trace_series(t, 0, &s, &err), 0);
    assert_true(s.n >= 40000); /* more than a second's worth made it */
    wp_series_free(&s);
    wp_trace_free(t);
}

static void test_secret_in_config_never_reaches_the_trace(void **state)
{
    (void)state;
    struct events_seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
    const char *specs[] = {"fake:mode=ok,password=Sup3rS3cret-Xyzzy,name=bmc", NULL};
    assert_int_equal(record("secret", specs, 0.3, &seen, 100000), 0);
    struct wp_trace *t = open_trace();
    assert_string_equal(wp_meta_get(wp_trace_meta(t), "source.bmc"),
                        "fake:mode=ok,password=<secret>,name=bmc");
    wp_trace_free(t);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        assert_null(memmem(buf, n, "Sup3rS3cret", 11));
    fclose(f);
}

static void test_bad_option_value_fails_start_and_leaves_no_trace(void **state)
{
    (void)state;
    snprintf(path, sizeof(path), "%s/bad.wptrace", test_dir);
    struct wp_config c;
    const char *specs[] = {"fake:interval=fast", NULL};
    config(&c, specs);
    struct wp_recorder_opts o = {.trace_path = path, .config = &c};
    struct wp_err err = {0};
    struct wp_recorder *r = NULL;
    assert_int_equal(wp_recorder_start(&r, &o, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "interval=fast"));
    assert_int_equal(access(path, F_OK), -1);
    wp_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flaky_source_is_retried_with_backoff_and_recovers),
        cmocka_unit_test(test_source_gone_for_good_is_dropped_and_others_go_on),
        cmocka_unit_test(test_stalled_source_delays_no_nvml_sample),
        cmocka_unit_test(test_write_failure_mid_run_is_reported_and_the_trace_stays_readable),
        cmocka_unit_test(test_secret_in_config_never_reaches_the_trace),
        cmocka_unit_test(test_bad_option_value_fails_start_and_leaves_no_trace),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
