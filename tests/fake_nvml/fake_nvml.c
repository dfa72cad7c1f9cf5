/* A libnvidia-ml.so.1 that replays a recorded H200 power trace with the semantics measured on
 * the real driver (docs/validation.md,
 * bench/h200/README.md; 2x H200, driver 580.159.04):
 *   - a 20 ms power sample buffer holding the newest 120 samples, timestamps in us since the
 *     Unix epoch, filtered by lastSeen;
 *   - field 186 (instant), field 185 and nvmlDeviceGetPowerUsage (1 s average on Hopper) and
 *     the energy counter all change only every 100 ms;
 *   - limits 700 W enforced/default, 200-700 W constraints.
 * It also injects the faults the recorder must survive. Configuration comes from environment
 * variables read at nvmlInit (see the comment at configure()). Test-only extras:
 * fakeNvmlSetClock() and fakeNvmlReplayDescription().
 *
 * Each NVML entry point sits in #ifndef FAKE_OMIT_<symbol> so that variants lacking a symbol
 * can be built: wattprof must say what is missing and carry on, as with an old driver. */
#include "replay.h"
#include "sources/nvml_abi.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FK_MAX_DEV        64
#define FK_BUFFER_SAMPLES 120      /* the driver keeps ~2.4 s of 20 ms samples */
#define FK_UPDATE_US      100000   /* instant, average and counter step every 100 ms */
#define FK_AVERAGE_US     1000000  /* field 185 / GetPowerUsage average window */
#define FK_LIMIT_MW       700000u  /* H200 SXM enforced = default = max limit */
#define FK_MIN_LIMIT_MW   200000u  /* H200 SXM minimum settable limit */
#define FK_LIE_START_US   1000000  /* one-off lies happen 1 s of replay time after init */
#define FK_LIE_EVERY      10       /* value lies hit every 10th sample (one per 200 ms) */
#define FK_LIE_ABSURD_MW  5000000u /* 5 kW on a 700 W GPU */
#define FK_LIE_BACK_US    50000    /* a backwards sample is stamped 50 ms early */
#define FK_LIE_COUNTER_MJ 1000000u /* a backwards counter drops by 1 kJ */

/* Helpers used only by exported functions: a FAKE_OMIT_ build may leave them unused. */
#define FK_MAYBE_UNUSED __attribute__((unused))

FK_MAYBE_UNUSED static const char fk_driver_version[] = "580.159.04";
FK_MAYBE_UNUSED static const char fk_device_name[] = "NVIDIA H200";

/* Every exported NVML function, for call counting (FAKE_NVML_STATS). */
#define FK_FUNCS(X)                                                                                \
    X(nvmlInit_v2)                                                                                 \
    X(nvmlInit)                                                                                    \
    X(nvmlShutdown)                                                                                \
    X(nvmlErrorString)                                                                             \
    X(nvmlSystemGetDriverVersion)                                                                  \
    X(nvmlDeviceGetCount_v2)                                                                       \
    X(nvmlDeviceGetHandleByIndex_v2)                                                               \
    X(nvmlDeviceGetName)                                                                           \
    X(nvmlDeviceGetUUID)                                                                           \
    X(nvmlDeviceGetPowerUsage)                                                                     \
    X(nvmlDeviceGetTotalEnergyConsumption)                                                         \
    X(nvmlDeviceGetFieldValues)                                                                    \
    X(nvmlDeviceGetSamples)                                                                        \
    X(nvmlDeviceGetUtilizationRates)                                                               \
    X(nvmlDeviceGetClockInfo)                                                                      \
    X(nvmlDeviceGetTemperature)                                                                    \
    X(nvmlDeviceGetEnforcedPowerLimit)                                                             \
    X(nvmlDeviceGetPowerManagementDefaultLimit)                                                    \
    X(nvmlDeviceGetProcessUtilization)                                                             \
    X(nvmlDeviceGetComputeRunningProcesses_v3)

enum fk_fn {
#define FK_ENUM(name) FN_##name,
    FK_FUNCS(FK_ENUM)
#undef FK_ENUM
        FN_COUNT
};

static const char *const fk_fn_names[FN_COUNT] = {
#define FK_NAME(name) #name,
    FK_FUNCS(FK_NAME)
#undef FK_NAME
};

/* Readings FAKE_NVML_NOT_SUPPORTED can switch off. */
enum {
    NS_SAMPLES = 1u << 0, /* nvmlDeviceGetSamples(NVML_TOTAL_POWER_SAMPLES) */
    NS_INSTANT = 1u << 1, /* field 186 */
    NS_AVERAGE = 1u << 2, /* field 185 */
    NS_USAGE = 1u << 3,   /* nvmlDeviceGetPowerUsage */
    NS_ENERGY = 1u << 4,  /* field 83 and nvmlDeviceGetTotalEnergyConsumption */
    NS_LIMITS = 1u << 5,  /* fields 187-190 and both limit functions */
    NS_NAME = 1u << 6,
    NS_UUID = 1u << 7,
    NS_UTIL = 1u << 8, /* these three override FAKE_NVML_EXTRAS=1 */
    NS_CLOCK = 1u << 9,
    NS_TEMP = 1u << 10,
    NS_RUNNING = 1u << 11, /* nvmlDeviceGetComputeRunningProcesses_v3 */
};

static const struct {
    const char *key;
    unsigned bit;
} fk_ns_keys[] = {
    {"samples", NS_SAMPLES}, {"instant", NS_INSTANT}, {"average", NS_AVERAGE},
    {"usage", NS_USAGE},     {"energy", NS_ENERGY},   {"limits", NS_LIMITS},
    {"name", NS_NAME},       {"uuid", NS_UUID},       {"util", NS_UTIL},
    {"clock", NS_CLOCK},     {"temp", NS_TEMP},       {"running", NS_RUNNING},
};

/* FAKE_NVML_LIE kinds: ways a broken driver has been seen (or could plausibly) misreport.
 *   negative: every 10th buffer sample carries ~mW, the bit pattern of a small negative
 *     reading stored into the unsigned field (0xFFFxxxxx, about 4.29e9 mW).
 *   absurd: every 10th buffer sample reads 5,000,000 mW (5 kW on a 700 W GPU).
 *   backwards: the first buffer sample due 1 s or more after init is stamped 50 ms early,
 *     i.e. before the samples preceding it; the buffer still orders and filters it by its
 *     true time, so every lastSeen poller receives it exactly when it would the true one.
 *   counter-backwards: from 1 s after init the energy counter (field 83 and
 *     nvmlDeviceGetTotalEnergyConsumption) reads 1,000,000 mJ less, so it decreases once by
 *     far more than it can gain in 100 ms, then counts on from the lower value.
 * Value lies touch only the sample buffer; fields and the counter stay truthful. */
enum {
    LIE_NEGATIVE = 1u << 0,
    LIE_ABSURD = 1u << 1,
    LIE_BACKWARDS = 1u << 2,
    LIE_COUNTER_BACKWARDS = 1u << 3,
};

static const struct {
    const char *key;
    unsigned bit;
} fk_lie_keys[] = {
    {"negative", LIE_NEGATIVE},
    {"absurd", LIE_ABSURD},
    {"backwards", LIE_BACKWARDS},
    {"counter-backwards", LIE_COUNTER_BACKWARDS},
};

struct nvmlDevice_st {
    int index;
};

/* A process FAKE_NVML_PROCS puts on a device, busy a fixed share of the time, alive from
 * from_us to to_us of replay time. */
#define FK_MAX_PROCS 8
struct fk_proc {
    unsigned pid, sm_pct;
    int64_t from_us, to_us;
};

struct fk_dev {
    const struct fk_series *s;
    int nprocs;
    struct fk_proc procs[FK_MAX_PROCS];
    int64_t lost_at_us; /* replay time from which every call fails; INT64_MAX = never */
    unsigned lies;
    int64_t backwards_j; /* virtual sample index that LIE_BACKWARDS misdates */
    uint64_t counter_base_mj;
};

static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long fk_calls[FN_COUNT];
/* Field 83 costs as much as nvmlDeviceGetTotalEnergyConsumption (~4.3 ms on H200), so the
 * stats also count FieldValues entries by field: 83, 185, 186, 187-190, anything else. */
enum { FR_ENERGY, FR_AVERAGE, FR_INSTANT, FR_LIMITS, FR_OTHER, FR_COUNT };
static const char *const fk_field_names[FR_COUNT] = {"field:83", "field:185", "field:186",
                                                     "field:limits", "field:other"};
static unsigned long long fk_field_reads[FR_COUNT];
/* The oldest lastSeen a per-process read asked with (us before the call), so that a test can
 * tell a read that covers only the time since the round before from one that goes further
 * back: the driver averages each process over everything since lastSeen. */
static long long fk_oldest_last_seen_us;
static unsigned long long fk_zero_last_seen; /* reads asking for everything (lastSeen 0) */
static int64_t fk_manual_now_us = -1;
static char fk_errstr[700];
static char fk_desc[600] = "fake NVML, not initialised; not a measurement of this machine";
static struct nvmlDevice_st fk_handles[FK_MAX_DEV];

/* Everything nvmlShutdown must forget. */
static struct {
    int refs;
    struct fk_trace tr;
    int ndev;
    int64_t start_us;  /* wall clock at nvmlInit: trace time offset_us maps here */
    int64_t offset_us; /* FAKE_NVML_OFFSET_S */
    unsigned unsupported;
    bool extras;
    bool mig; /* FAKE_NVML_MIG */
    struct fk_dev dev[FK_MAX_DEV];
    char stats_path[4096];
} g;

static int64_t now_us(void)
{
    if (fk_manual_now_us >= 0)
        return fk_manual_now_us;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Replay time since nvmlInit. A wall clock stepped back before init reads as init itself. */
FK_MAYBE_UNUSED static int64_t replay_us(void)
{
    int64_t r = now_us() - g.start_us;
    return r < 0 ? 0 : r;
}

FK_MAYBE_UNUSED static int64_t boundary_us(int64_t r)
{
    return r - r % FK_UPDATE_US;
}

FK_MAYBE_UNUSED static int64_t sample_true_ts_us(const struct fk_dev *d, int64_t j)
{
    return g.start_us + fk_series_time_us(d->s, g.tr.period_us, j) - g.offset_us;
}

FK_MAYBE_UNUSED static int64_t energy_nj(const struct fk_dev *d, int64_t r)
{
    return fk_series_energy_nj(d->s, g.tr.period_us, r + g.offset_us);
}

FK_MAYBE_UNUSED static uint32_t instant_mw(const struct fk_dev *d, int64_t b)
{
    return fk_series_mw(d->s, fk_series_last_at(d->s, g.tr.period_us, b + g.offset_us));
}

FK_MAYBE_UNUSED static uint32_t average_mw(const struct fk_dev *d, int64_t b)
{
    int64_t e = energy_nj(d, b) - energy_nj(d, b - FK_AVERAGE_US);
    return (uint32_t)((e + FK_AVERAGE_US / 2) / FK_AVERAGE_US);
}

FK_MAYBE_UNUSED static unsigned long long counter_mj(const struct fk_dev *d, int64_t b)
{
    unsigned long long mj =
        d->counter_base_mj + (uint64_t)((energy_nj(d, b) - energy_nj(d, 0)) / 1000000);
    if ((d->lies & LIE_COUNTER_BACKWARDS) && b >= FK_LIE_START_US)
        mj -= FK_LIE_COUNTER_MJ;
    return mj;
}

/* Takes the lock (the caller always unlocks), counts the call and checks the state every
 * per-device call shares, in the order the real library reports them. */
FK_MAYBE_UNUSED static nvmlReturn_t begin_dev(enum fk_fn fn, nvmlDevice_t dev, bool args_ok,
                                              const struct fk_dev **d, int64_t *r_us)
{
    pthread_mutex_lock(&fk_mu);
    fk_calls[fn]++;
    if (g.refs == 0)
        return NVML_ERROR_UNINITIALIZED;
    uintptr_t p = (uintptr_t)dev, lo = (uintptr_t)&fk_handles[0];
    if (!args_ok || p < lo || p >= lo + sizeof(fk_handles[0]) * (size_t)g.ndev ||
        (p - lo) % sizeof(fk_handles[0]) != 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    *d = &g.dev[dev->index];
    *r_us = replay_us();
    if (*r_us >= (*d)->lost_at_us)
        return NVML_ERROR_GPU_IS_LOST;
    return NVML_SUCCESS;
}

FK_MAYBE_UNUSED static nvmlReturn_t begin_global(enum fk_fn fn, bool args_ok)
{
    pthread_mutex_lock(&fk_mu);
    fk_calls[fn]++;
    if (g.refs == 0)
        return NVML_ERROR_UNINITIALIZED;
    return args_ok ? NVML_SUCCESS : NVML_ERROR_INVALID_ARGUMENT;
}

FK_MAYBE_UNUSED static nvmlReturn_t copy_string(char *dst, unsigned int len, const char *src)
{
    size_t n = strlen(src);
    if (len < n + 1)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, n + 1);
    return NVML_SUCCESS;
}

/* ---- configuration ---------------------------------------------------------------------- */

__attribute__((format(printf, 1, 2))) static nvmlReturn_t config_error(const char *fmt, ...)
{
    char detail[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    snprintf(fk_errstr, sizeof(fk_errstr), "Unknown Error (fake NVML: %s)", detail);
    fprintf(stderr, "fake NVML: %s\n", detail);
    return NVML_ERROR_UNKNOWN;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_seconds(const char *s, int64_t *out_us)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v < 0 || v > 1e9)
        return false;
    *out_us = (int64_t)llround(v * 1e6);
    return true;
}

/* Splits a comma list of IDX:VALUE items; calls item() for each. */
static nvmlReturn_t parse_device_list(const char *var, const char *text,
                                      nvmlReturn_t (*item)(const char *var, int idx,
                                                           const char *value))
{
    char buf[512];
    if (strlen(text) >= sizeof(buf))
        return config_error("%s is too long (at most 511 characters)", var);
    memcpy(buf, text, strlen(text) + 1);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        long idx;
        if (!colon)
            return config_error("%s item \"%s\" is not IDX:VALUE", var, tok);
        *colon = '\0';
        if (!parse_long(tok, 0, g.ndev - 1, &idx))
            return config_error("%s names GPU \"%s\", which is not a device index of this replay",
                                var, tok);
        nvmlReturn_t rc = item(var, (int)idx, colon + 1);
        if (rc != NVML_SUCCESS)
            return rc;
    }
    return NVML_SUCCESS;
}

static nvmlReturn_t lose_item(const char *var, int idx, const char *value)
{
    int64_t us;
    if (strcmp(value, "init") == 0) {
        /* Lost before the tool starts: even nvmlDeviceGetHandleByIndex fails, as for a GPU
         * that fell off the bus while the node was idle. */
        g.dev[idx].lost_at_us = INT64_MIN;
        return NVML_SUCCESS;
    }
    if (!parse_seconds(value, &us))
        return config_error("%s: \"%s\" is neither init nor a number of seconds >= 0", var, value);
    g.dev[idx].lost_at_us = us;
    return NVML_SUCCESS;
}

static nvmlReturn_t lie_item(const char *var, int idx, const char *value)
{
    for (size_t k = 0; k < sizeof(fk_lie_keys) / sizeof(fk_lie_keys[0]); k++) {
        if (strcmp(value, fk_lie_keys[k].key) == 0) {
            g.dev[idx].lies |= fk_lie_keys[k].bit;
            return NVML_SUCCESS;
        }
    }
    return config_error("%s: unknown kind \"%s\" (negative, absurd, backwards, "
                        "counter-backwards)",
                        var, value);
}

/* PID:SM[:FROM-TO] for FAKE_NVML_PROCS (the IDX: part is parsed by parse_device_list). */
static nvmlReturn_t proc_item(const char *var, int idx, const char *value)
{
    long pid, pct;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", value);
    char *colon = strchr(buf, ':');
    char *life = colon ? strchr(colon + 1, ':') : NULL;
    if (colon)
        *colon = '\0';
    if (life)
        *life++ = '\0';
    double from_s = 0, to_s = 1e9;
    int used = 0;
    if (!colon || !parse_long(buf, 1, 4194304, &pid) || !parse_long(colon + 1, 0, 100, &pct) ||
        (life && (sscanf(life, "%lf-%lf%n", &from_s, &to_s, &used) != 2 || life[used] != '\0' ||
                  !(from_s >= 0) || !(to_s > from_s) || to_s > 1e9)))
        return config_error("%s: \"%s\" is not PID:SM_PERCENT[:FROM-TO] (pid 1..4194304, "
                            "0..100 %%, seconds after nvmlInit, FROM < TO)",
                            var, value);
    struct fk_dev *d = &g.dev[idx];
    if (d->nprocs == FK_MAX_PROCS)
        return config_error("%s: at most %d processes per GPU", var, FK_MAX_PROCS);
    d->procs[d->nprocs++] = (struct fk_proc){
        (unsigned)pid, (unsigned)pct, (int64_t)llround(from_s * 1e6), (int64_t)llround(to_s * 1e6)};
    return NVML_SUCCESS;
}

/* Alive at replay time r: started, not yet exited. */
FK_MAYBE_UNUSED static bool proc_alive(const struct fk_proc *p, int64_t r)
{
    return r >= p->from_us && r < p->to_us;
}

static nvmlReturn_t parse_not_supported(const char *text)
{
    char buf[512];
    if (strlen(text) >= sizeof(buf))
        return config_error("FAKE_NVML_NOT_SUPPORTED is too long (at most 511 characters)");
    memcpy(buf, text, strlen(text) + 1);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t k = 0, nkeys = sizeof(fk_ns_keys) / sizeof(fk_ns_keys[0]);
        while (k < nkeys && strcmp(tok, fk_ns_keys[k].key) != 0)
            k++;
        if (k == nkeys)
            return config_error("FAKE_NVML_NOT_SUPPORTED: unknown reading \"%s\" (%s)", tok,
                                "samples, instant, average, usage, energy, limits, name, uuid, "
                                "util, clock, temp, running");
        g.unsupported |= fk_ns_keys[k].bit;
    }
    return NVML_SUCCESS;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Environment read at nvmlInit:
 *   FAKE_NVML_TRACE        gpu,ts_us,mw CSV, plain or gzip (required)
 *   FAKE_NVML_OFFSET_S     skip this many seconds of the trace (replay starts there)
 *   FAKE_NVML_GPUS         replicate the file's GPUs round-robin to N devices (1..64)
 *   FAKE_NVML_FAIL_INIT    nvmlInit returns this code (0 = no failure)
 *   FAKE_NVML_NOT_SUPPORTED comma list of readings answering NOT_SUPPORTED
 *   FAKE_NVML_LOSE_GPU     IDX:SECONDS[,...] every call on IDX fails with GPU_IS_LOST from then;
 *                          IDX:init lost before nvmlInit (its handle cannot be had)
 *   FAKE_NVML_LIE          IDX:KIND[,...] see the LIE_ kinds above
 *   FAKE_NVML_EXTRAS       1 = synthesise utilisation, SM clock and temperature from power
 *   FAKE_NVML_STATS        at the last nvmlShutdown write "function calls" lines here, then
 *                          "field:ID reads" lines counting FieldValues entries by field, then
 *                          "lastSeen:oldest_ms N": how far back the oldest lastSeen a
 *                          per-process read (with a buffer) asked from went, and
 *                          "lastSeen:zero N": how many such reads asked with lastSeen 0
 *   FAKE_NVML_RECORDED_ON  where the trace was recorded, for fakeNvmlReplayDescription()
 *   FAKE_NVML_PROCS        IDX:PID:SM[:FROM-TO][,...] processes running on GPU IDX, each busy
 *                          SM % of every 100 ms period, from FROM to TO seconds after nvmlInit
 *                          (default: always) (nvmlDeviceGetProcessUtilization and
 *                          nvmlDeviceGetComputeRunningProcesses_v3; without it both report
 *                          none). A GPU with processes reports their summed SM % as its
 *                          utilisation (with FAKE_NVML_EXTRAS), so it is 0 while none runs.
 *   FAKE_NVML_MIG          1 = the GPUs are split by MIG: nvmlDeviceGetComputeRunningProcesses_v3
 *                          gives each process GPU instance 1, compute instance 0 (else both
 *                          0xFFFFFFFF, as without MIG)
 * Anything malformed fails nvmlInit with NVML_ERROR_UNKNOWN, says why on stderr and in
 * nvmlErrorString(NVML_ERROR_UNKNOWN): a typo in a test must not silently test nothing. */
static nvmlReturn_t configure(void)
{
    const char *v;
    long n;
    char msg[600];

    if ((v = env("FAKE_NVML_FAIL_INIT"))) {
        if (!parse_long(v, 0, 100000, &n))
            return config_error("FAKE_NVML_FAIL_INIT=\"%s\" is not an NVML return code", v);
        if (n != 0)
            return (nvmlReturn_t)n;
    }
    const char *path = env("FAKE_NVML_TRACE");
    if (!path)
        return config_error("FAKE_NVML_TRACE is not set; point it at a gpu,ts_us,mw CSV such "
                            "as tests/fixtures/h200/buffer-2gpu.csv.gz");
    if (fk_trace_load(&g.tr, path, msg, sizeof(msg)) < 0)
        return config_error("%s", msg);

    g.ndev = g.tr.ngpu;
    if ((v = env("FAKE_NVML_GPUS"))) {
        if (!parse_long(v, 1, FK_MAX_DEV, &n))
            return config_error("FAKE_NVML_GPUS=\"%s\" is not a device count 1..%d", v, FK_MAX_DEV);
        g.ndev = (int)n;
    }
    if ((v = env("FAKE_NVML_OFFSET_S")) && !parse_seconds(v, &g.offset_us))
        return config_error("FAKE_NVML_OFFSET_S=\"%s\" is not a number of seconds >= 0", v);
    if ((v = env("FAKE_NVML_NOT_SUPPORTED")) && parse_not_supported(v) != NVML_SUCCESS)
        return NVML_ERROR_UNKNOWN;
    if ((v = env("FAKE_NVML_EXTRAS"))) {
        if (strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
            return config_error("FAKE_NVML_EXTRAS=\"%s\" must be 0 or 1", v);
        g.extras = v[0] == '1';
    }
    for (int d = 0; d < g.ndev; d++) {
        g.dev[d].s = &g.tr.series[d % g.tr.ngpu];
        g.dev[d].lost_at_us = INT64_MAX;
        /* A few GJ, so that the counter looks like one that has run for months. */
        g.dev[d].counter_base_mj = 4200000000000ull + 137000000000ull * (uint64_t)d;
        g.dev[d].backwards_j =
            fk_series_last_at(g.dev[d].s, g.tr.period_us, g.offset_us + FK_LIE_START_US - 1) + 1;
        fk_handles[d].index = d;
    }
    if ((v = env("FAKE_NVML_LOSE_GPU")) &&
        parse_device_list("FAKE_NVML_LOSE_GPU", v, lose_item) != NVML_SUCCESS)
        return NVML_ERROR_UNKNOWN;
    if ((v = env("FAKE_NVML_LIE")) &&
        parse_device_list("FAKE_NVML_LIE", v, lie_item) != NVML_SUCCESS)
        return NVML_ERROR_UNKNOWN;
    if ((v = env("FAKE_NVML_PROCS")) &&
        parse_device_list("FAKE_NVML_PROCS", v, proc_item) != NVML_SUCCESS)
        return NVML_ERROR_UNKNOWN;
    if ((v = env("FAKE_NVML_MIG"))) {
        if (strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
            return config_error("FAKE_NVML_MIG=\"%s\" must be 0 or 1", v);
        g.mig = v[0] == '1';
    }
    if ((v = env("FAKE_NVML_STATS"))) {
        if (strlen(v) >= sizeof(g.stats_path))
            return config_error("FAKE_NVML_STATS path is too long");
        memcpy(g.stats_path, v, strlen(v) + 1);
    }

    char extra[160] = "";
    if (g.ndev != g.tr.ngpu)
        snprintf(extra, sizeof(extra), ", its %d recorded GPU%s replicated to %d devices",
                 g.tr.ngpu, g.tr.ngpu == 1 ? "" : "s", g.ndev);
    if ((v = env("FAKE_NVML_RECORDED_ON")))
        snprintf(fk_desc, sizeof(fk_desc),
                 "replay of %s (recorded on %.200s) by the fake NVML%s; not a measurement of "
                 "this machine",
                 g.tr.file, v, extra);
    else
        snprintf(fk_desc, sizeof(fk_desc),
                 "replay of %s by the fake NVML%s; not a measurement of this machine", g.tr.file,
                 extra);
    g.start_us = now_us();
    return NVML_SUCCESS;
}

FK_MAYBE_UNUSED static void write_stats(void)
{
    FILE *f = fopen(g.stats_path, "w");
    if (!f) {
        fprintf(stderr, "fake NVML: cannot write FAKE_NVML_STATS=%s: %s\n", g.stats_path,
                strerror(errno));
        return;
    }
    for (int k = 0; k < FN_COUNT; k++)
        fprintf(f, "%s %llu\n", fk_fn_names[k], fk_calls[k]);
    for (int k = 0; k < FR_COUNT; k++)
        fprintf(f, "%s %llu\n", fk_field_names[k], fk_field_reads[k]);
    fprintf(f, "lastSeen:oldest_ms %lld\n", fk_oldest_last_seen_us / 1000);
    fprintf(f, "lastSeen:zero %llu\n", fk_zero_last_seen);
    if (fclose(f) != 0)
        fprintf(stderr, "fake NVML: cannot write FAKE_NVML_STATS=%s: %s\n", g.stats_path,
                strerror(errno));
}

/* Reference counted like the real library: only the last nvmlShutdown tears down. */
FK_MAYBE_UNUSED static nvmlReturn_t init_common(enum fk_fn fn)
{
    pthread_mutex_lock(&fk_mu);
    nvmlReturn_t rc = NVML_SUCCESS;
    if (g.refs > 0) {
        fk_calls[fn]++;
        g.refs++;
    } else {
        memset(fk_calls, 0, sizeof(fk_calls));
        memset(fk_field_reads, 0, sizeof(fk_field_reads));
        fk_oldest_last_seen_us = 0;
        fk_zero_last_seen = 0;
        fk_calls[fn]++;
        fk_errstr[0] = '\0';
        rc = configure();
        if (rc == NVML_SUCCESS) {
            g.refs = 1;
        } else {
            fk_trace_free(&g.tr);
            memset(&g, 0, sizeof(g));
        }
    }
    pthread_mutex_unlock(&fk_mu);
    return rc;
}

/* ---- the NVML ABI ----------------------------------------------------------------------- */

#define FK_CHECK_ABI(name)                                                                         \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&name), name##_fn),                     \
                   #name " must match nvml_abi.h")

#ifndef FAKE_OMIT_nvmlInit_v2
nvmlReturn_t nvmlInit_v2(void)
{
    return init_common(FN_nvmlInit_v2);
}
FK_CHECK_ABI(nvmlInit_v2);
#endif

#ifndef FAKE_OMIT_nvmlInit
nvmlReturn_t nvmlInit(void)
{
    return init_common(FN_nvmlInit);
}
#endif

#ifndef FAKE_OMIT_nvmlShutdown
nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t rc = begin_global(FN_nvmlShutdown, true);
    if (rc == NVML_SUCCESS && --g.refs == 0) {
        if (g.stats_path[0])
            write_stats();
        fk_trace_free(&g.tr);
        memset(&g, 0, sizeof(g));
    }
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlShutdown);
#endif

#ifndef FAKE_OMIT_nvmlErrorString
const char *nvmlErrorString(nvmlReturn_t result)
{
    pthread_mutex_lock(&fk_mu);
    fk_calls[FN_nvmlErrorString]++;
    pthread_mutex_unlock(&fk_mu);
    switch (result) {
    case NVML_SUCCESS:
        return "Success";
    case NVML_ERROR_UNINITIALIZED:
        return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT:
        return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED:
        return "Not Supported";
    case NVML_ERROR_NO_PERMISSION:
        return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND:
        return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE:
        return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED:
        return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT:
        return "Timeout";
    case NVML_ERROR_LIBRARY_NOT_FOUND:
        return "NVML Shared Library Not Found";
    case NVML_ERROR_GPU_IS_LOST:
        return "GPU is lost";
    case NVML_ERROR_NO_DATA:
        return "No data";
    case NVML_ERROR_UNKNOWN:
        /* Real NVML says only "Unknown Error"; the fake adds why its nvmlInit failed. */
        return fk_errstr[0] ? fk_errstr : "Unknown Error";
    default:
        return "Unknown Error";
    }
}
FK_CHECK_ABI(nvmlErrorString);
#endif

#ifndef FAKE_OMIT_nvmlSystemGetDriverVersion
nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    nvmlReturn_t rc = begin_global(FN_nvmlSystemGetDriverVersion, version != NULL);
    if (rc == NVML_SUCCESS)
        rc = copy_string(version, length, fk_driver_version);
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlSystemGetDriverVersion);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetCount_v2
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    nvmlReturn_t rc = begin_global(FN_nvmlDeviceGetCount_v2, count != NULL);
    if (rc == NVML_SUCCESS)
        *count = (unsigned int)g.ndev;
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetCount_v2);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetHandleByIndex_v2
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    nvmlReturn_t rc = begin_global(FN_nvmlDeviceGetHandleByIndex_v2, device != NULL);
    if (rc == NVML_SUCCESS && index >= (unsigned int)g.ndev)
        rc = NVML_ERROR_INVALID_ARGUMENT;
    else if (rc == NVML_SUCCESS && replay_us() >= g.dev[index].lost_at_us)
        rc = NVML_ERROR_GPU_IS_LOST;
    else if (rc == NVML_SUCCESS)
        *device = &fk_handles[index];
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetHandleByIndex_v2);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetName
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc = begin_dev(FN_nvmlDeviceGetName, device, name != NULL, &d, &r);
    if (rc == NVML_SUCCESS)
        rc = (g.unsupported & NS_NAME) ? NVML_ERROR_NOT_SUPPORTED
                                       : copy_string(name, length, fk_device_name);
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetName);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetUUID
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc = begin_dev(FN_nvmlDeviceGetUUID, device, uuid != NULL, &d, &r);
    if (rc == NVML_SUCCESS) {
        char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
        snprintf(buf, sizeof(buf), "GPU-fa4e0000-0000-4000-8000-%012x", (unsigned)device->index);
        rc = (g.unsupported & NS_UUID) ? NVML_ERROR_NOT_SUPPORTED : copy_string(uuid, length, buf);
    }
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetUUID);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetPowerUsage
/* On Hopper this is the 1 s average (field 185), not an instantaneous reading. */
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power_mw)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc = begin_dev(FN_nvmlDeviceGetPowerUsage, device, power_mw != NULL, &d, &r);
    if (rc == NVML_SUCCESS && (g.unsupported & NS_USAGE))
        rc = NVML_ERROR_NOT_SUPPORTED;
    else if (rc == NVML_SUCCESS)
        *power_mw = average_mw(d, boundary_us(r));
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetPowerUsage);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetTotalEnergyConsumption
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy_mj)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc =
        begin_dev(FN_nvmlDeviceGetTotalEnergyConsumption, device, energy_mj != NULL, &d, &r);
    if (rc == NVML_SUCCESS && (g.unsupported & NS_ENERGY))
        rc = NVML_ERROR_NOT_SUPPORTED;
    else if (rc == NVML_SUCCESS)
        *energy_mj = counter_mj(d, boundary_us(r));
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetTotalEnergyConsumption);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetFieldValues
static void fill_field(const struct fk_dev *d, int64_t r, nvmlFieldValue_t *v)
{
    int64_t b = boundary_us(r);
    nvmlReturn_t rc = NVML_SUCCESS;
    memset(&v->value, 0, sizeof(v->value));
    v->latencyUsec = 0;
    v->timestamp = g.start_us + b;
    v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
    switch (v->fieldId) {
    case NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION:
        fk_field_reads[FR_ENERGY]++;
        break;
    case NVML_FI_DEV_POWER_AVERAGE:
        fk_field_reads[FR_AVERAGE]++;
        break;
    case NVML_FI_DEV_POWER_INSTANT:
        fk_field_reads[FR_INSTANT]++;
        break;
    case NVML_FI_DEV_POWER_MIN_LIMIT:
    case NVML_FI_DEV_POWER_MAX_LIMIT:
    case NVML_FI_DEV_POWER_DEFAULT_LIMIT:
    case NVML_FI_DEV_POWER_CURRENT_LIMIT:
        fk_field_reads[FR_LIMITS]++;
        break;
    default:
        fk_field_reads[FR_OTHER]++;
        break;
    }
    switch (v->fieldId) {
    case NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION:
        v->valueType = NVML_VALUE_TYPE_UNSIGNED_LONG_LONG;
        if (g.unsupported & NS_ENERGY)
            rc = NVML_ERROR_NOT_SUPPORTED;
        else
            v->value.ullVal = counter_mj(d, b);
        break;
    case NVML_FI_DEV_POWER_AVERAGE:
    case NVML_FI_DEV_POWER_INSTANT: {
        bool avg = v->fieldId == NVML_FI_DEV_POWER_AVERAGE;
        if (v->scopeId > NVML_POWER_SCOPE_MEMORY)
            rc = NVML_ERROR_INVALID_ARGUMENT;
        /* The recording holds whole-GPU power only: no module or memory rail. */
        else if (v->scopeId != NVML_POWER_SCOPE_GPU)
            rc = NVML_ERROR_NOT_SUPPORTED;
        else if (g.unsupported & (avg ? NS_AVERAGE : NS_INSTANT))
            rc = NVML_ERROR_NOT_SUPPORTED;
        else
            v->value.uiVal = avg ? average_mw(d, b) : instant_mw(d, b);
        break;
    }
    case NVML_FI_DEV_POWER_MIN_LIMIT:
    case NVML_FI_DEV_POWER_MAX_LIMIT:
    case NVML_FI_DEV_POWER_DEFAULT_LIMIT:
    case NVML_FI_DEV_POWER_CURRENT_LIMIT:
        v->timestamp = g.start_us + r;
        if (g.unsupported & NS_LIMITS)
            rc = NVML_ERROR_NOT_SUPPORTED;
        else
            v->value.uiVal =
                v->fieldId == NVML_FI_DEV_POWER_MIN_LIMIT ? FK_MIN_LIMIT_MW : FK_LIMIT_MW;
        break;
    default:
        rc = NVML_ERROR_NOT_SUPPORTED;
        break;
    }
    v->nvmlReturn = rc;
}

/* Succeeds when the call itself worked; each entry carries its own nvmlReturn. */
nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount,
                                      nvmlFieldValue_t *values)
{
    const struct fk_dev *d;
    int64_t r;
    bool args_ok = values != NULL && valuesCount > 0;
    nvmlReturn_t rc = begin_dev(FN_nvmlDeviceGetFieldValues, device, args_ok, &d, &r);
    for (int k = 0; args_ok && k < valuesCount; k++) {
        if (rc == NVML_SUCCESS)
            fill_field(d, r, &values[k]);
        else
            values[k].nvmlReturn = rc;
    }
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetFieldValues);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetSamples
static uint32_t reported_mw(const struct fk_dev *d, int64_t j)
{
    uint32_t mw = fk_series_mw(d->s, j);
    bool hit = j - fk_floor_div(j, FK_LIE_EVERY) * FK_LIE_EVERY == 0;
    if (hit && (d->lies & LIE_NEGATIVE))
        return ~mw;
    if (hit && (d->lies & LIE_ABSURD))
        return FK_LIE_ABSURD_MW;
    return mw;
}

/* Only power samples are recorded; lastSeen filters by true time, oldest first. If samples
 * is NULL, *count says how many would come back. Nothing newer than lastSeen is
 * NVML_ERROR_NOT_FOUND, as documented for the real call. */
nvmlReturn_t nvmlDeviceGetSamples(nvmlDevice_t device, int type, unsigned long long lastSeen,
                                  int *valueType, unsigned int *count, nvmlSample_t *samples)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc = begin_dev(FN_nvmlDeviceGetSamples, device, valueType && count, &d, &r);
    if (rc == NVML_SUCCESS && (type != NVML_TOTAL_POWER_SAMPLES || (g.unsupported & NS_SAMPLES)))
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc != NVML_SUCCESS) {
        pthread_mutex_unlock(&fk_mu);
        return rc;
    }
    int64_t last = fk_series_last_at(d->s, g.tr.period_us, r + g.offset_us);
    int64_t first = last - (FK_BUFFER_SAMPLES - 1);
    while (first <= last) {
        int64_t ts = sample_true_ts_us(d, first);
        if (ts > 0 && (unsigned long long)ts > lastSeen)
            break;
        first++;
    }
    unsigned int avail = (unsigned int)(last - first + 1);
    *valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
    if (avail == 0) {
        *count = 0;
        rc = NVML_ERROR_NOT_FOUND;
    } else if (!samples) {
        *count = avail;
    } else {
        unsigned int n = avail < *count ? avail : *count;
        for (unsigned int k = 0; k < n; k++) {
            int64_t j = first + (int64_t)k;
            int64_t ts = sample_true_ts_us(d, j);
            if ((d->lies & LIE_BACKWARDS) && j == d->backwards_j)
                ts -= FK_LIE_BACK_US;
            samples[k].timeStamp = (unsigned long long)ts;
            samples[k].sampleValue.uiVal = reported_mw(d, j);
        }
        *count = n;
    }
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetSamples);
#endif

/* Utilisation, clocks and temperature are not in the recordings. With FAKE_NVML_EXTRAS=1 they
 * are derived from the 1 s average power so that the recorder's paths for them run; the
 * numbers are plausible, not measured. */
FK_MAYBE_UNUSED static unsigned int synth_util_pct(const struct fk_dev *d, int64_t r)
{
    double u = ((double)average_mw(d, boundary_us(r)) - 100000.0) / 600000.0;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    return (unsigned int)lround(u * 100);
}

#ifndef FAKE_OMIT_nvmlDeviceGetUtilizationRates
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc =
        begin_dev(FN_nvmlDeviceGetUtilizationRates, device, utilization != NULL, &d, &r);
    if (rc == NVML_SUCCESS && (!g.extras || (g.unsupported & NS_UTIL)))
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS) {
        unsigned busy = 0;
        for (int p = 0; p < d->nprocs; p++)
            busy += proc_alive(&d->procs[p], r) ? d->procs[p].sm_pct : 0;
        utilization->gpu = d->nprocs > 0 ? (busy > 100 ? 100 : busy) : synth_util_pct(d, r);
        utilization->memory = utilization->gpu / 2;
    }
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetUtilizationRates);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetClockInfo
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock_mhz)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc = begin_dev(FN_nvmlDeviceGetClockInfo, device, clock_mhz != NULL, &d, &r);
    if (rc == NVML_SUCCESS && (!g.extras || (g.unsupported & NS_CLOCK) || type != NVML_CLOCK_SM))
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS)
        *clock_mhz = synth_util_pct(d, r) > 0 ? 1980 : 345;
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetClockInfo);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetTemperature
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int *temp_c)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc = begin_dev(FN_nvmlDeviceGetTemperature, device,
                                temp_c != NULL && sensor == NVML_TEMPERATURE_GPU, &d, &r);
    if (rc == NVML_SUCCESS && (!g.extras || (g.unsupported & NS_TEMP)))
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS)
        *temp_c = (unsigned int)lround(35.0 + average_mw(d, boundary_us(r)) / 20000.0);
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetTemperature);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetEnforcedPowerLimit
nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit_mw)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc =
        begin_dev(FN_nvmlDeviceGetEnforcedPowerLimit, device, limit_mw != NULL, &d, &r);
    if (rc == NVML_SUCCESS && (g.unsupported & NS_LIMITS))
        rc = NVML_ERROR_NOT_SUPPORTED;
    else if (rc == NVML_SUCCESS)
        *limit_mw = FK_LIMIT_MW;
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetEnforcedPowerLimit);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetPowerManagementDefaultLimit
nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device, unsigned int *limit_mw)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc =
        begin_dev(FN_nvmlDeviceGetPowerManagementDefaultLimit, device, limit_mw != NULL, &d, &r);
    if (rc == NVML_SUCCESS && (g.unsupported & NS_LIMITS))
        rc = NVML_ERROR_NOT_SUPPORTED;
    else if (rc == NVML_SUCCESS)
        *limit_mw = FK_LIMIT_MW;
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetPowerManagementDefaultLimit);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetProcessUtilization
/* As the driver answers (NVML's reference for the call; H200, docs/validation.md 2026-12-03
 * late): one sample per living process with a 100 ms period ended after lastSeen, its SM %
 * over them, stamped at its own last period's end (less a millisecond per place in the list,
 * as the driver's stamps differ between processes); a process that has exited is forgotten.
 * With utilization NULL, *count says how many; too small a *count is
 * NVML_ERROR_INSUFFICIENT_SIZE with *count set, as in nvml.h; nothing newer than lastSeen is
 * NVML_ERROR_NOT_FOUND. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
                                             nvmlProcessUtilizationSample_t *utilization,
                                             unsigned int *count, unsigned long long lastSeen)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc = begin_dev(FN_nvmlDeviceGetProcessUtilization, device, count != NULL, &d, &r);
    if (rc != NVML_SUCCESS) {
        pthread_mutex_unlock(&fk_mu);
        return rc;
    }
    int64_t b = boundary_us(r);
    if (utilization && lastSeen == 0) {
        fk_zero_last_seen++;
    } else if (utilization) {
        long long age = (long long)(g.start_us + r) - (long long)lastSeen;
        if (age > fk_oldest_last_seen_us)
            fk_oldest_last_seen_us = age;
    }
    unsigned n = 0;
    nvmlProcessUtilizationSample_t found[FK_MAX_PROCS];
    for (int p = 0; p < d->nprocs; p++) {
        const struct fk_proc *pr = &d->procs[p];
        /* its last period: the newest that ended after it started */
        if (!proc_alive(pr, r) || b < FK_UPDATE_US || b <= pr->from_us)
            continue;
        unsigned long long ts = (unsigned long long)(g.start_us + b) - 1000ull * (unsigned)p;
        if (ts > lastSeen)
            found[n++] = (nvmlProcessUtilizationSample_t){
                .pid = pr->pid,
                .timeStamp = ts,
                .smUtil = pr->sm_pct,
                .memUtil = pr->sm_pct / 2,
            };
    }
    if (n == 0) {
        *count = 0;
        rc = NVML_ERROR_NOT_FOUND;
    } else if (!utilization) {
        *count = n;
    } else if (*count < n) {
        *count = n;
        rc = NVML_ERROR_INSUFFICIENT_SIZE;
    } else {
        memcpy(utilization, found, n * sizeof(*found));
        *count = n;
    }
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetProcessUtilization);
#endif

#ifndef FAKE_OMIT_nvmlDeviceGetComputeRunningProcesses_v3
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                                     nvmlProcessInfo_t *infos)
{
    const struct fk_dev *d;
    int64_t r;
    nvmlReturn_t rc =
        begin_dev(FN_nvmlDeviceGetComputeRunningProcesses_v3, device, count != NULL, &d, &r);
    if (rc == NVML_SUCCESS && (g.unsupported & NS_RUNNING))
        rc = NVML_ERROR_NOT_SUPPORTED;
    if (rc == NVML_SUCCESS) {
        unsigned n = 0;
        for (int k = 0; k < d->nprocs; k++)
            n += proc_alive(&d->procs[k], r);
        if (infos && *count >= n) {
            unsigned i = 0;
            for (int k = 0; k < d->nprocs; k++)
                if (proc_alive(&d->procs[k], r))
                    infos[i++] =
                        (nvmlProcessInfo_t){d->procs[k].pid, 1ull << 30, g.mig ? 1u : 0xFFFFFFFFu,
                                            g.mig ? 0u : 0xFFFFFFFFu};
        } else if (n > 0) {
            rc = NVML_ERROR_INSUFFICIENT_SIZE;
        }
        *count = n;
    }
    pthread_mutex_unlock(&fk_mu);
    return rc;
}
FK_CHECK_ABI(nvmlDeviceGetComputeRunningProcesses_v3);
#endif

/* ---- test-only exports ------------------------------------------------------------------ */

/* Says what is replayed, so that wattprof labels a replay as one. */
const char *fakeNvmlReplayDescription(void)
{
    return fk_desc;
}
FK_CHECK_ABI(fakeNvmlReplayDescription);

/* Pins the fake's "now" (us since the epoch) for deterministic tests; -1 returns to the
 * real wall clock. Kept across nvmlShutdown/nvmlInit: set it before nvmlInit. */
void fakeNvmlSetClock(long long now_us_value)
{
    pthread_mutex_lock(&fk_mu);
    fk_manual_now_us = now_us_value < 0 ? -1 : now_us_value;
    pthread_mutex_unlock(&fk_mu);
}
