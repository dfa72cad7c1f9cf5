/* NVIDIA GPUs through NVML, loaded with dlopen (no nvml.h, no link-time dependency).
 *
 * What is read, and how often (facts measured on H200, see docs/validation.md):
 * - the driver's power sample buffer (nvmlDeviceGetSamples, 20 ms samples, ~120 kept, i.e.
 *   ~2.4 s of history): polled every second with lastSeen, sooner when it was found more
 *   than two thirds full, so nothing falls out of it;
 * - instant power (field 186), 1 s average (field 185) and memory power (185, scope 2): the
 *   driver updates them every 100 ms; they are read once a second beside the buffer, every
 *   100 ms where the buffer is missing, and stored only when the field's timestamp moves;
 * - the hardware energy counter: ~4 ms per call in VMs, so it is read at start, at the end,
 *   at marks (at most once a second) and every 10 s, never in a fast loop;
 * - utilisation, SM clock, temperature: once a second;
 * - each process's SM utilisation (nvmlDeviceGetProcessUtilization, with lastSeen): every
 *   procs_period (1 s) while the GPU is busy, into one "proc_util" sensor per GPU (pid and %
 *   packed, see WP_Q_PROC_UTIL), for splitting the GPU's energy between the processes that
 *   share it (src/analysis/attrib.c). The call costs 2.3-2.6 ms of CPU on H200 (driver 580),
 *   more than all other reads together, so it is not made while the GPU is idle (utilisation
 *   0 and no process in the last read; once a minute regardless). Why not less often while
 *   busy: the driver answers with one sample per process, its utilisation since lastSeen, but
 *   forgets a process as soon as it exits and keeps nothing once the GPU is idle (H200,
 *   docs/validation/h200-2026-12-03d), so a read every 5 s lost the last seconds of each
 *   process that ended between reads (a 20 s job's energy share fell from 7.1 to 5.1 %).
 *   All samples of one read are stamped with its newest timestamp, so they form one round:
 *   the driver stamps each process at its own last sample. Each round first lists the compute
 *   processes (nvmlDeviceGetComputeRunningProcesses_v3, 0.07-0.18 ms on H200): one process
 *   alone gets the GPU's utilisation as its SM share without the per-process read, which is
 *   made only when two or more share the GPU (procs_solo=0 always makes it).
 *   Power is per physical GPU: under MIG the driver reports it for the whole GPU, and the
 *   split is by the processes' SM shares whatever instance they run in.
 * A reading found unsupported at discovery is noted once and never polled. */
#include "sources/source.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "sources/nvml_abi.h"

/* The buffer keeps ~2.4 s; reading it once a second leaves 1.4 s of slack and halves the
 * cost of the most expensive call we make often (0.67 ms per GPU on H200, from the cost
 * table in docs/validation.md). A read that finds the buffer more than two thirds full
 * brings the next one forward. */
#define BUFFER_PERIOD_US     1000000
#define BUFFER_HURRY_US      400000
#define BUFFER_HURRY_SAMPLES 80
/* The fields change every 100 ms; with the 20 ms buffer present they are a cross-check and
 * are read once a second (measured on H200, 2026-11-28: 10 Hz field reads and a 5 s counter
 * period put wattprof at 0.32 % of a core per GPU, over the 0.3 % it aims for). Without the
 * buffer they are the finest power there is and are read every 100 ms. */
#define FIELDS_FAST_PERIOD_US 100000
#define FIELDS_SLOW_PERIOD_US 1000000
#define SLOW_PERIOD_US        1000000
#define COUNTER_PERIOD_US     10000000
#define SAMPLE_CAP            512
/* Per-process samples read at once: one per process on real drivers, a few per process and
 * period on older ones. */
#define PROC_CAP 256
/* The per-process read: its default period and bounds (procs_period=), and the longest it is
 * put off while the GPU is idle (a safety net for a GPU whose utilisation reads 0 wrongly). */
#define PROCS_PERIOD_US     1000000
#define PROCS_PERIOD_MIN_US 1000000
#define PROCS_PERIOD_MAX_US 60000000
#define PROCS_IDLE_MAX_US   60000000
/* Power beyond this many times the enforced limit cannot be real (H200 20 ms samples reached
 * 974 W, 1.39x the 700 W limit: docs/validation/h200-2026-11-28-run3); such samples are a driver
 * fault and are dropped. */
#define ABSURD_FACTOR      4
#define ABSURD_NO_LIMIT_MW 5000000 /* 5 kW, for GPUs whose limit is unknown */

struct nvml_fns {
    nvmlInit_v2_fn init;
    nvmlShutdown_fn shutdown;
    nvmlErrorString_fn error_string;
    nvmlSystemGetDriverVersion_fn driver_version;
    nvmlDeviceGetCount_v2_fn count;
    nvmlDeviceGetHandleByIndex_v2_fn handle;
    nvmlDeviceGetName_fn name;
    nvmlDeviceGetUUID_fn uuid;
    nvmlDeviceGetTotalEnergyConsumption_fn energy;
    nvmlDeviceGetFieldValues_fn fields;
    nvmlDeviceGetSamples_fn samples;
    nvmlDeviceGetUtilizationRates_fn util;
    nvmlDeviceGetClockInfo_fn clock;
    nvmlDeviceGetTemperature_fn temp;
    nvmlDeviceGetEnforcedPowerLimit_fn enforced_limit;
    nvmlDeviceGetPowerManagementDefaultLimit_fn default_limit;
    nvmlDeviceGetProcessUtilization_fn proc_util;
    nvmlDeviceGetComputeRunningProcesses_v3_fn running;
    fakeNvmlReplayDescription_fn replay;
};

/* Which field each slot of the 10 Hz FieldValues request reads. */
enum { F_INSTANT, F_AVG, F_MEM, F_COUNT };

struct gpu {
    unsigned index;
    nvmlDevice_t dev;
    bool lost;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    int64_t limit_mw, default_limit_mw;
    /* sensor ids, -1 when the reading is not supported */
    int s_power, s_field[F_COUNT], s_energy, s_util, s_clock, s_temp, s_proc;
    unsigned long long proc_last_seen_us;
    int64_t next_procs_us, last_procs_us; /* wall clock */
    bool procs_seen;                      /* the last per-process read found a process */
    bool busy_since;      /* utilisation above 0 (or unknown) since the last per-process read */
    bool energy_by_field; /* field 83 carries a timestamp; the plain call does not */
    unsigned long long last_seen_us;
    long long field_ts[F_COUNT];
    bool warned_absurd, warned_backwards, warned_counter;
    int64_t last_energy_mj;
    char unmeasured[160]; /* why it could not be measured from the start; "" if it could */
};

struct nvml {
    void *lib;
    struct nvml_fns f;
    unsigned ngpus;
    struct gpu *gpus;
    nvmlSample_t buf[SAMPLE_CAP];
    int64_t next_buffer_us, next_fields_us, next_slow_us, next_counter_us;
    int64_t fields_period_us;
    bool announced; /* the GPUs lost before the start have been reported as events */
    bool procs_off; /* procs=0: no per-process utilisation asked for */
    int64_t procs_period_us;
};

static const unsigned field_ids[F_COUNT] = {NVML_FI_DEV_POWER_INSTANT, NVML_FI_DEV_POWER_AVERAGE,
                                            NVML_FI_DEV_POWER_AVERAGE};
static const unsigned field_scopes[F_COUNT] = {NVML_POWER_SCOPE_GPU, NVML_POWER_SCOPE_GPU,
                                               NVML_POWER_SCOPE_MEMORY};
static const char *const field_sensor_names[F_COUNT] = {"power_instant", "power_avg",
                                                        "power_memory"};
static const char *const field_help[F_COUNT] = {
    "instantaneous GPU power (NVML field 186, updated every 100 ms)",
    "1 s average GPU power (NVML field 185; what nvidia-smi power.draw shows)",
    "GPU memory power (NVML field 185, memory scope)"};

static const char *nvml_strerror(const struct nvml *n, nvmlReturn_t r)
{
    if (n->f.error_string) {
        const char *s = n->f.error_string(r);
        if (s)
            return s;
    }
    return "unknown NVML error";
}

static const char *lib_path(const struct wp_source_cfg *cfg)
{
    const char *p = cfg ? wp_source_cfg_get(cfg, "lib") : NULL;
    if (p && *p)
        return p;
    p = getenv("WATTPROF_NVML_LIB");
    return p && *p ? p : "libnvidia-ml.so.1";
}

static void *sym(void *lib, const char *name)
{
    return dlsym(lib, name);
}

static int nvml_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    struct nvml *n = calloc(1, sizeof(*n));
    if (!n)
        return wp_errf(err, -ENOMEM, "out of memory");
    const char *path = lib_path(cfg);
    n->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!n->lib) {
        const char *why = dlerror();
        wp_errf(err, -ENOENT,
                "cannot load %s (%s): no NVIDIA driver here; if it is installed elsewhere, give "
                "--source nvml:lib=PATH or set WATTPROF_NVML_LIB to the library's path",
                path, why ? why : "?");
        free(n);
        return err ? err->code : -ENOENT;
    }
    struct {
        void **slot;
        const char *name;
        bool required;
    } syms[] = {
        {(void **)&n->f.init, "nvmlInit_v2", true},
        {(void **)&n->f.shutdown, "nvmlShutdown", true},
        {(void **)&n->f.count, "nvmlDeviceGetCount_v2", true},
        {(void **)&n->f.handle, "nvmlDeviceGetHandleByIndex_v2", true},
        {(void **)&n->f.error_string, "nvmlErrorString", false},
        {(void **)&n->f.driver_version, "nvmlSystemGetDriverVersion", false},
        {(void **)&n->f.name, "nvmlDeviceGetName", false},
        {(void **)&n->f.uuid, "nvmlDeviceGetUUID", false},
        {(void **)&n->f.energy, "nvmlDeviceGetTotalEnergyConsumption", false},
        {(void **)&n->f.fields, "nvmlDeviceGetFieldValues", false},
        {(void **)&n->f.samples, "nvmlDeviceGetSamples", false},
        {(void **)&n->f.util, "nvmlDeviceGetUtilizationRates", false},
        {(void **)&n->f.clock, "nvmlDeviceGetClockInfo", false},
        {(void **)&n->f.temp, "nvmlDeviceGetTemperature", false},
        {(void **)&n->f.enforced_limit, "nvmlDeviceGetEnforcedPowerLimit", false},
        {(void **)&n->f.default_limit, "nvmlDeviceGetPowerManagementDefaultLimit", false},
        {(void **)&n->f.proc_util, "nvmlDeviceGetProcessUtilization", false},
        {(void **)&n->f.running, "nvmlDeviceGetComputeRunningProcesses_v3", false},
        {(void **)&n->f.replay, "fakeNvmlReplayDescription", false},
    };
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        *syms[i].slot = sym(n->lib, syms[i].name);
        if (!*syms[i].slot && syms[i].required) {
            wp_errf(err, -ENOSYS,
                    "%s has no %s: the NVIDIA driver is too old (wattprof needs R450 or newer)",
                    path, syms[i].name);
            goto fail;
        }
    }
    /* Per-process utilisation costs the dearest driver call we make; a node whose GPUs are
     * never shared can turn it off. */
    bool procs = true, solo = true;
    n->procs_period_us = PROCS_PERIOD_US;
    if (cfg && (wp_source_cfg_bool(cfg, "procs", true, &procs, err) < 0 ||
                wp_source_cfg_bool(cfg, "procs_solo", true, &solo, err) < 0 ||
                wp_source_cfg_duration_us(cfg, "procs_period", PROCS_PERIOD_US, PROCS_PERIOD_MIN_US,
                                          PROCS_PERIOD_MAX_US, &n->procs_period_us, err) < 0))
        goto fail;
    if (!solo)
        n->f.running = NULL;
    if (!procs) {
        n->f.proc_util = NULL;
        n->procs_off = true;
    }
    nvmlReturn_t r = n->f.init();
    if (r != NVML_SUCCESS) {
        const char *hint = "check that `nvidia-smi` works";
        int code = -EIO;
        if (r == NVML_ERROR_DRIVER_NOT_LOADED) {
            hint = "the NVIDIA kernel driver is not loaded (no GPU, or the driver is not "
                   "installed)";
            code = -ENODEV;
        } else if (r == NVML_ERROR_NO_PERMISSION) {
            hint = "no permission to open /dev/nvidia*; run as a user in the video group";
            code = -EACCES;
        }
        wp_errf(err, code, "NVML could not start: %s (NVML error %d); %s", nvml_strerror(n, r), r,
                hint);
        goto fail;
    }
    *state = n;
    return 0;
fail:
    dlclose(n->lib);
    free(n);
    return err ? err->code : -EIO;
}

static void gpu_lost(struct nvml *n, struct gpu *g, struct wp_sink *sink, nvmlReturn_t r,
                     const char *what)
{
    if (g->lost)
        return;
    g->lost = true;
    wp_sink_event(sink, wp_wall_us(), -1, "nvml", (int)g->index,
                  "GPU %u (%s) stopped answering while reading %s: %s (NVML error %d); its "
                  "recording stops here, the other GPUs go on",
                  g->index, g->uuid, what, nvml_strerror(n, r), r);
}

static bool fatal_for_gpu(nvmlReturn_t r)
{
    return r == NVML_ERROR_GPU_IS_LOST;
}

static void note_missing(struct wp_meta *meta, unsigned gpu, const char *reading, const char *why)
{
    char key[96];
    snprintf(key, sizeof(key), "missing.nvml.%u.%s", gpu, reading);
    wp_meta_set(meta, key, why);
}

static void note_missing_rc(struct nvml *n, struct wp_meta *meta, unsigned gpu, const char *reading,
                            nvmlReturn_t r)
{
    char why[160];
    snprintf(why, sizeof(why), "%s (NVML error %d)", nvml_strerror(n, r), r);
    note_missing(meta, gpu, reading, why);
}

static int add_sensor(struct wp_sensors *tab, const struct gpu *g, const char *name,
                      enum wp_quantity q, enum wp_kind kind, int64_t cadence_us, const char *help)
{
    struct wp_sensor s;
    memset(&s, 0, sizeof(s));
    snprintf(s.source, sizeof(s.source), "nvml");
    s.device = (int)g->index;
    snprintf(s.uuid, sizeof(s.uuid), "%s", g->uuid);
    snprintf(s.device_name, sizeof(s.device_name), "%s", g->name);
    snprintf(s.name, sizeof(s.name), "%s", name);
    s.quantity = q;
    s.kind = kind;
    s.cadence_us = cadence_us;
    snprintf(s.source_kind, sizeof(s.source_kind), "nvml");
    bool mem = strcmp(name, "power_memory") == 0;
    s.scope = mem ? WP_SCOPE_GPU_MEMORY : WP_SCOPE_GPU;
    s.contains = wp_scope_default_contains(s.scope);
    s.limit = q == WP_Q_POWER && strcmp(name, "power_memory") != 0 ? g->limit_mw : WP_NO_LIMIT;
    s.default_limit =
        q == WP_Q_POWER && strcmp(name, "power_memory") != 0 ? g->default_limit_mw : WP_NO_LIMIT;
    snprintf(s.help, sizeof(s.help), "%s", help);
    return wp_sensors_add(tab, &s);
}

static void discover_gpu(struct nvml *n, struct gpu *g, struct wp_sensors *tab,
                         struct wp_meta *meta)
{
    nvmlReturn_t r = NVML_ERROR_NOT_SUPPORTED;
    unsigned v;
    g->s_power = g->s_energy = g->s_util = g->s_clock = g->s_temp = g->s_proc = -1;
    for (int i = 0; i < F_COUNT; i++)
        g->s_field[i] = -1;
    g->limit_mw = g->default_limit_mw = WP_NO_LIMIT;

    snprintf(g->name, sizeof(g->name), "GPU %u", g->index);
    if (n->f.name && n->f.name(g->dev, g->name, sizeof(g->name)) != NVML_SUCCESS)
        snprintf(g->name, sizeof(g->name), "GPU %u", g->index);
    if (!n->f.uuid || n->f.uuid(g->dev, g->uuid, sizeof(g->uuid)) != NVML_SUCCESS)
        g->uuid[0] = 0;
    if (n->f.enforced_limit && n->f.enforced_limit(g->dev, &v) == NVML_SUCCESS)
        g->limit_mw = v;
    if (n->f.default_limit && n->f.default_limit(g->dev, &v) == NVML_SUCCESS)
        g->default_limit_mw = v;

    if (!n->f.samples) {
        note_missing(meta, g->index, "power",
                     "nvmlDeviceGetSamples is missing from the driver library (old driver)");
    } else {
        int type;
        unsigned count = 0;
        r = n->f.samples(g->dev, NVML_TOTAL_POWER_SAMPLES, 0, &type, &count, NULL);
        if (r == NVML_SUCCESS || r == NVML_ERROR_NOT_FOUND)
            g->s_power = add_sensor(tab, g, "power", WP_Q_POWER, WP_GAUGE, 20000,
                                    "GPU power, the driver's 20 ms sample buffer");
        else
            note_missing_rc(n, meta, g->index, "power", r);
    }

    if (!n->f.fields) {
        for (int i = 0; i < F_COUNT; i++)
            note_missing(meta, g->index, field_sensor_names[i],
                         "nvmlDeviceGetFieldValues is missing from the driver library");
    } else {
        nvmlFieldValue_t fv[F_COUNT + 1];
        memset(fv, 0, sizeof(fv));
        for (int i = 0; i < F_COUNT; i++) {
            fv[i].fieldId = field_ids[i];
            fv[i].scopeId = field_scopes[i];
        }
        fv[F_COUNT].fieldId = NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION;
        r = n->f.fields(g->dev, F_COUNT + 1, fv);
        for (int i = 0; i < F_COUNT + 1; i++) {
            nvmlReturn_t ri = r == NVML_SUCCESS ? fv[i].nvmlReturn : r;
            if (i == F_COUNT) {
                g->energy_by_field = ri == NVML_SUCCESS;
                break;
            }
            if (ri == NVML_SUCCESS)
                g->s_field[i] = add_sensor(
                    tab, g, field_sensor_names[i], WP_Q_POWER, WP_GAUGE,
                    g->s_power >= 0 ? FIELDS_SLOW_PERIOD_US : FIELDS_FAST_PERIOD_US, field_help[i]);
            else
                note_missing_rc(n, meta, g->index, field_sensor_names[i], ri);
        }
    }

    unsigned long long e;
    if (g->energy_by_field || (n->f.energy && n->f.energy(g->dev, &e) == NVML_SUCCESS))
        g->s_energy = add_sensor(tab, g, "energy", WP_Q_ENERGY, WP_COUNTER, COUNTER_PERIOD_US,
                                 "GPU energy counter since the driver loaded (read at start, "
                                 "end, marks and every 10 s)");
    else if (!n->f.energy)
        note_missing(
            meta, g->index, "energy",
            "nvmlDeviceGetTotalEnergyConsumption is missing (pre-Volta GPU or old driver)");
    else
        note_missing_rc(n, meta, g->index, "energy", n->f.energy(g->dev, &e));

    nvmlUtilization_t u;
    if (n->f.util && (r = n->f.util(g->dev, &u)) == NVML_SUCCESS)
        g->s_util = add_sensor(tab, g, "util_gpu", WP_Q_UTIL, WP_GAUGE, SLOW_PERIOD_US,
                               "share of time a kernel was running");
    else
        note_missing_rc(n, meta, g->index, "util_gpu", n->f.util ? r : NVML_ERROR_NOT_SUPPORTED);
    if (n->f.clock && (r = n->f.clock(g->dev, NVML_CLOCK_SM, &v)) == NVML_SUCCESS)
        g->s_clock = add_sensor(tab, g, "clock_sm", WP_Q_CLOCK, WP_GAUGE, SLOW_PERIOD_US,
                                "streaming multiprocessor clock");
    else
        note_missing_rc(n, meta, g->index, "clock_sm", n->f.clock ? r : NVML_ERROR_NOT_SUPPORTED);
    if (n->f.temp && (r = n->f.temp(g->dev, NVML_TEMPERATURE_GPU, &v)) == NVML_SUCCESS)
        g->s_temp =
            add_sensor(tab, g, "temp", WP_Q_TEMP, WP_GAUGE, SLOW_PERIOD_US, "GPU die temperature");
    else
        note_missing_rc(n, meta, g->index, "temp", n->f.temp ? r : NVML_ERROR_NOT_SUPPORTED);

    /* NOT_FOUND only says no process has run yet. */
    unsigned pc = 0;
    r = n->f.proc_util ? n->f.proc_util(g->dev, NULL, &pc, 0) : NVML_ERROR_NOT_SUPPORTED;
    if (r == NVML_SUCCESS || r == NVML_ERROR_NOT_FOUND || r == NVML_ERROR_INSUFFICIENT_SIZE)
        g->s_proc = add_sensor(
            tab, g, "proc_util", WP_Q_PROC_UTIL, WP_GAUGE, n->procs_period_us,
            "each process's SM utilisation (the GPU's for one alone), pid*1000+% (for energy per "
            "process)");
    else if (!n->procs_off)
        note_missing_rc(n, meta, g->index, "proc_util", r);

    char key[64];
    snprintf(key, sizeof(key), "nvml.gpu.%u.name", g->index);
    wp_meta_set(meta, key, g->name);
    snprintf(key, sizeof(key), "nvml.gpu.%u.uuid", g->index);
    wp_meta_set(meta, key, g->uuid);
    if (g->limit_mw != WP_NO_LIMIT) {
        snprintf(key, sizeof(key), "nvml.gpu.%u.limit_mw", g->index);
        wp_meta_setf(meta, key, "%lld", (long long)g->limit_mw);
    }
    if (g->default_limit_mw != WP_NO_LIMIT) {
        snprintf(key, sizeof(key), "nvml.gpu.%u.default_limit_mw", g->index);
        wp_meta_setf(meta, key, "%lld", (long long)g->default_limit_mw);
    }
}

static int nvml_discover(void *state, struct wp_sensors *tab, struct wp_meta *meta,
                         struct wp_err *err)
{
    struct nvml *n = state;
    unsigned count = 0;
    nvmlReturn_t r = n->f.count(&count);
    if (r != NVML_SUCCESS)
        return wp_errf(err, -EIO, "NVML could not count GPUs: %s (NVML error %d)",
                       nvml_strerror(n, r), r);
    if (count == 0)
        return wp_errf(err, -ENODEV, "the NVIDIA driver is loaded but reports no GPU");
    n->gpus = calloc(count, sizeof(*n->gpus));
    if (!n->gpus)
        return wp_errf(err, -ENOMEM, "out of memory");
    n->ngpus = count;
    n->fields_period_us = FIELDS_SLOW_PERIOD_US;
    char ver[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    if (n->f.driver_version && n->f.driver_version(ver, sizeof(ver)) == NVML_SUCCESS)
        wp_meta_set(meta, "nvml.driver", ver);
    if (n->f.replay) {
        const char *d = n->f.replay();
        wp_meta_set(meta, "replay", d && *d ? d : "replay by a fake NVML library");
    }
    size_t before = tab->n;
    for (unsigned i = 0; i < count; i++) {
        struct gpu *g = &n->gpus[i];
        g->index = i;
        r = n->f.handle(i, &g->dev);
        if (r != NVML_SUCCESS) {
            /* Lost before the start (fallen off the bus, or in reset). "missing.nvml.N.device"
             * tells the summary that the totals leave it out; the first poll adds an event. */
            g->lost = true;
            snprintf(g->unmeasured, sizeof(g->unmeasured), "%s (NVML error %d)",
                     nvml_strerror(n, r), r);
            note_missing(meta, i, "device", g->unmeasured);
            continue;
        }
        size_t had = tab->n;
        discover_gpu(n, g, tab, meta);
        if (tab->n == had) {
            g->lost = true;
            snprintf(g->unmeasured, sizeof(g->unmeasured), "none of its readings answered");
            note_missing(meta, i, "device", g->unmeasured);
        }
        /* One GPU without the buffer makes the fields fast for all: simpler than per-GPU
         * schedules, and such mixed nodes are rare. */
        if (g->s_power < 0)
            n->fields_period_us = FIELDS_FAST_PERIOD_US;
    }
    return (int)(tab->n - before);
}

/* Values the driver reports that no GPU can draw mean a broken driver or library; storing
 * them would poison every statistic, so they are dropped with one event per GPU. */
static bool absurd_power(const struct gpu *g, int64_t mw)
{
    int64_t max = g->limit_mw != WP_NO_LIMIT ? g->limit_mw * ABSURD_FACTOR : ABSURD_NO_LIMIT_MW;
    return mw < 0 || mw > max;
}

static void warn_absurd(struct gpu *g, struct wp_sink *sink, int sensor, int64_t mw)
{
    if (g->warned_absurd)
        return;
    g->warned_absurd = true;
    wp_sink_event(sink, wp_wall_us(), sensor, "nvml", (int)g->index,
                  "GPU %u reported %lld mW, impossible for this GPU; such readings are dropped "
                  "(driver or library fault)",
                  g->index, (long long)mw);
}

/* Returns how many new samples the buffer held. */
static unsigned poll_buffer(struct nvml *n, struct gpu *g, struct wp_sink *sink)
{
    unsigned fresh = 0;
    for (int round = 0; round < 4; round++) {
        int type = -1;
        unsigned count = SAMPLE_CAP;
        nvmlReturn_t r =
            n->f.samples(g->dev, NVML_TOTAL_POWER_SAMPLES, g->last_seen_us, &type, &count, n->buf);
        if (r == NVML_ERROR_NOT_FOUND)
            return fresh; /* nothing new since last_seen */
        if (r != NVML_SUCCESS) {
            if (fatal_for_gpu(r))
                gpu_lost(n, g, sink, r, "the power sample buffer");
            return fresh;
        }
        fresh += count;
        for (unsigned i = 0; i < count && i < SAMPLE_CAP; i++) {
            const nvmlSample_t *s = &n->buf[i];
            if (s->timeStamp <= g->last_seen_us) {
                if (!g->warned_backwards) {
                    g->warned_backwards = true;
                    wp_sink_event(sink, wp_wall_us(), g->s_power, "nvml", (int)g->index,
                                  "GPU %u's power buffer went back in time; out-of-order "
                                  "samples are dropped",
                                  g->index);
                }
                continue;
            }
            int64_t mw;
            switch (type) {
            case NVML_VALUE_TYPE_UNSIGNED_INT:
                mw = s->sampleValue.uiVal;
                break;
            case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
            case NVML_VALUE_TYPE_UNSIGNED_LONG:
                mw = s->sampleValue.ullVal > INT64_MAX ? -1 : (int64_t)s->sampleValue.ullVal;
                break;
            case NVML_VALUE_TYPE_DOUBLE:
                mw = (int64_t)s->sampleValue.dVal;
                break;
            default:
                mw = -1;
            }
            g->last_seen_us = s->timeStamp;
            if (absurd_power(g, mw)) {
                warn_absurd(g, sink, g->s_power, mw);
                continue;
            }
            wp_sink_push(sink, g->s_power, (int64_t)s->timeStamp, mw);
        }
        if (count < SAMPLE_CAP)
            return fresh; /* drained; otherwise ask again for the rest */
    }
    return fresh;
}

static int64_t field_value(const nvmlFieldValue_t *f)
{
    switch (f->valueType) {
    case NVML_VALUE_TYPE_DOUBLE:
        return (int64_t)f->value.dVal;
    case NVML_VALUE_TYPE_UNSIGNED_INT:
        return f->value.uiVal;
    case NVML_VALUE_TYPE_SIGNED_INT:
        return f->value.siVal;
    case NVML_VALUE_TYPE_UNSIGNED_LONG:
    case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
        return f->value.ullVal > INT64_MAX ? -1 : (int64_t)f->value.ullVal;
    case NVML_VALUE_TYPE_SIGNED_LONG_LONG:
        return f->value.sllVal;
    }
    return -1;
}

static void poll_fields(struct nvml *n, struct gpu *g, struct wp_sink *sink)
{
    nvmlFieldValue_t fv[F_COUNT];
    int slot[F_COUNT];
    int k = 0;
    memset(fv, 0, sizeof(fv));
    for (int i = 0; i < F_COUNT; i++) {
        if (g->s_field[i] < 0)
            continue;
        fv[k].fieldId = field_ids[i];
        fv[k].scopeId = field_scopes[i];
        slot[k++] = i;
    }
    if (k == 0)
        return;
    nvmlReturn_t r = n->f.fields(g->dev, k, fv);
    if (r != NVML_SUCCESS) {
        if (fatal_for_gpu(r))
            gpu_lost(n, g, sink, r, "power fields");
        return;
    }
    int64_t now = wp_wall_us();
    for (int j = 0; j < k; j++) {
        int i = slot[j];
        if (fv[j].nvmlReturn != NVML_SUCCESS) {
            if (fatal_for_gpu(fv[j].nvmlReturn))
                gpu_lost(n, g, sink, fv[j].nvmlReturn, field_sensor_names[i]);
            continue;
        }
        /* The driver refreshes these every 100 ms; the field timestamp tells a new value
         * from the one already stored. */
        long long ts = fv[j].timestamp > 0 ? fv[j].timestamp : now;
        if (ts == g->field_ts[i])
            continue;
        g->field_ts[i] = ts;
        int64_t mw = field_value(&fv[j]);
        if (absurd_power(g, mw)) {
            warn_absurd(g, sink, g->s_field[i], mw);
            continue;
        }
        wp_sink_push(sink, g->s_field[i], ts, mw);
    }
}

static void poll_counter(struct nvml *n, struct gpu *g, struct wp_sink *sink)
{
    int64_t now = wp_wall_us();
    int64_t t = now, mj;
    nvmlReturn_t r;
    if (g->energy_by_field) {
        nvmlFieldValue_t fv;
        memset(&fv, 0, sizeof(fv));
        fv.fieldId = NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION;
        r = n->f.fields(g->dev, 1, &fv);
        if (r == NVML_SUCCESS)
            r = fv.nvmlReturn;
        if (r != NVML_SUCCESS)
            goto fail;
        mj = field_value(&fv);
        /* Use the driver's own timestamp of the value when it is plausible: the counter moves
         * in 100 ms steps, so the time of the step is closer to the truth than ours. */
        if (fv.timestamp > now - 2000000 && fv.timestamp <= now + 100000)
            t = fv.timestamp;
    } else {
        unsigned long long e;
        r = n->f.energy(g->dev, &e);
        if (r != NVML_SUCCESS)
            goto fail;
        mj = e > INT64_MAX ? -1 : (int64_t)e;
    }
    if (mj < 0)
        return;
    if (g->last_energy_mj > 0 && mj < g->last_energy_mj && !g->warned_counter) {
        g->warned_counter = true;
        wp_sink_event(sink, now, g->s_energy, "nvml", (int)g->index,
                      "GPU %u's energy counter went backwards (%lld -> %lld mJ); counter "
                      "energy for this GPU is not trustworthy",
                      g->index, (long long)g->last_energy_mj, (long long)mj);
    }
    g->last_energy_mj = mj;
    wp_sink_push(sink, g->s_energy, t, mj);
    return;
fail:
    if (fatal_for_gpu(r))
        gpu_lost(n, g, sink, r, "the energy counter");
}

/* New per-process samples since the last read, all stamped with the read's newest sample:
 * each is that process's utilisation since lastSeen, so together they are one round. A
 * process the driver has stopped sampling simply has no more samples. */
static void poll_procs(struct nvml *n, struct gpu *g, struct wp_sink *sink)
{
    nvmlProcessUtilizationSample_t buf[PROC_CAP];
    unsigned count = PROC_CAP;
    nvmlReturn_t r = n->f.proc_util(g->dev, buf, &count, g->proc_last_seen_us);
    if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
        /* More samples than PROC_CAP since the last read: keep the newest only. */
        count = PROC_CAP;
        r = n->f.proc_util(g->dev, buf, &count, g->proc_last_seen_us);
    }
    g->procs_seen = false;
    if (r != NVML_SUCCESS) {
        if (fatal_for_gpu(r))
            gpu_lost(n, g, sink, r, "process utilisation");
        return;
    }
    unsigned long long newest = g->proc_last_seen_us;
    for (unsigned i = 0; i < count && i < PROC_CAP; i++)
        if (buf[i].timeStamp > newest && buf[i].timeStamp <= INT64_MAX)
            newest = buf[i].timeStamp;
    /* A driver that answers with several samples per process (one per sampling period)
     * gets each process's mean, so a round holds each process once. */
    for (unsigned i = 0; i < count && i < PROC_CAP; i++) {
        const nvmlProcessUtilizationSample_t *p = &buf[i];
        if (p->timeStamp <= g->proc_last_seen_us || p->timeStamp > INT64_MAX || p->smUtil > 100 ||
            p->pid == 0)
            continue; /* already stored (a driver that ignores lastSeen), or nonsense */
        bool first = true;
        unsigned long sum = 0, nsum = 0;
        for (unsigned k = 0; k < count && k < PROC_CAP && first; k++) {
            const nvmlProcessUtilizationSample_t *q = &buf[k];
            if (q->pid != p->pid || q->timeStamp <= g->proc_last_seen_us ||
                q->timeStamp > INT64_MAX || q->smUtil > 100)
                continue;
            if (k < i)
                first = false; /* stored with the earlier one */
            sum += q->smUtil;
            nsum++;
        }
        if (!first)
            continue;
        wp_sink_push(sink, g->s_proc, (int64_t)newest,
                     wp_proc_util_pack(p->pid, (int64_t)((sum + nsum / 2) / nsum)));
        g->procs_seen = true;
    }
    g->proc_last_seen_us = newest;
}

/* A round without the per-process read, where the cheap list of compute processes
 * (nvmlDeviceGetComputeRunningProcesses_v3: 71-182 us of CPU on H200 against 2.5-3.3 ms for
 * nvmlDeviceGetProcessUtilization, bench/h200/procs_cost.c, 2026-12-03) shows it is not
 * needed: one process alone has all of the GPU's busy time, so its share is the GPU's
 * utilisation of this round (util_pct), stored as a round like the per-process read's; no
 * process on an idle GPU is a round with nothing in it. Anything else (two or more processes,
 * MIG instances, a GPU busy with no compute process listed, as with graphics, a failed call,
 * utilisation unknown) returns false for the per-process read. lastSeen moves to this round,
 * so that a per-process read after it covers only the time since, as a round must. */
static bool poll_solo(struct nvml *n, struct gpu *g, struct wp_sink *sink, int64_t util_pct,
                      int64_t now)
{
    if (!n->f.running || util_pct < 0)
        return false;
    nvmlProcessInfo_t info[2];
    unsigned count = 2;
    nvmlReturn_t r = n->f.running(g->dev, &count, info);
    if (r != NVML_SUCCESS) {
        if (!fatal_for_gpu(r))
            return false; /* more than two (INSUFFICIENT_SIZE), or the call failed */
        gpu_lost(n, g, sink, r, "the running processes");
        return true;
    }
    if (count == 0 && util_pct == 0) {
        g->procs_seen = false;
    } else if (count == 1 && info[0].pid != 0 && info[0].gpuInstanceId == 0xFFFFFFFFu &&
               info[0].computeInstanceId == 0xFFFFFFFFu) {
        /* No MIG query is made: instance ids of 0xFFFFFFFF are how the driver says the GPU
         * is whole. */
        wp_sink_push(sink, g->s_proc, now, wp_proc_util_pack(info[0].pid, util_pct));
        g->procs_seen = true;
    } else {
        return false;
    }
    if (now > 0 && (unsigned long long)now > g->proc_last_seen_us)
        g->proc_last_seen_us = (unsigned long long)now;
    return true;
}

/* Whether the per-process read is due: on its period while anything ran since the last one,
 * else at most every PROCS_IDLE_MAX_US; always in the first and last rounds. */
static bool procs_due(const struct gpu *g, int64_t now, bool all)
{
    if (all || g->last_procs_us == 0)
        return true;
    /* Half a slow round early still counts: the slow rounds keep to their grid, the read's
     * own time does not, and a round a few microseconds early must not skip a period. */
    if (now + SLOW_PERIOD_US / 2 < g->next_procs_us)
        return false;
    return g->busy_since || g->procs_seen || now - g->last_procs_us >= PROCS_IDLE_MAX_US;
}

static void poll_slow(struct nvml *n, struct gpu *g, struct wp_sink *sink, bool all)
{
    int64_t now = wp_wall_us();
    nvmlReturn_t r;
    unsigned v;
    bool busy = true; /* unknown counts as busy: only a reading of 0 puts the read off */
    int64_t util_pct = -1;
    if (g->s_util >= 0) {
        nvmlUtilization_t u;
        r = n->f.util(g->dev, &u);
        if (r == NVML_SUCCESS && u.gpu <= 100) {
            wp_sink_push(sink, g->s_util, now, u.gpu);
            busy = u.gpu > 0;
            util_pct = u.gpu;
        } else if (fatal_for_gpu(r)) {
            return gpu_lost(n, g, sink, r, "utilisation");
        }
    }
    g->busy_since = g->busy_since || busy;
    if (g->s_clock >= 0) {
        r = n->f.clock(g->dev, NVML_CLOCK_SM, &v);
        if (r == NVML_SUCCESS)
            wp_sink_push(sink, g->s_clock, now, v);
        else if (fatal_for_gpu(r))
            return gpu_lost(n, g, sink, r, "the SM clock");
    }
    if (g->s_proc >= 0 && procs_due(g, now, all)) {
        if (!poll_solo(n, g, sink, util_pct, now))
            poll_procs(n, g, sink);
        g->busy_since = false;
        g->last_procs_us = now;
        g->next_procs_us = now + n->procs_period_us;
    }
    if (g->lost)
        return;
    if (g->s_temp >= 0) {
        r = n->f.temp(g->dev, NVML_TEMPERATURE_GPU, &v);
        if (r == NVML_SUCCESS)
            wp_sink_push(sink, g->s_temp, now, v);
        else if (fatal_for_gpu(r))
            return gpu_lost(n, g, sink, r, "the temperature");
    }
}

static int nvml_poll(void *state, int64_t now, unsigned flags, struct wp_sink *sink, int64_t *next,
                     struct wp_err *err)
{
    struct nvml *n = state;
    bool all = flags & WP_POLL_ALL;
    bool now_power = flags & WP_POLL_FRESH;
    bool buffer = all || now_power || now >= n->next_buffer_us;
    bool fields = all || now_power || now >= n->next_fields_us;
    bool slow = all || now >= n->next_slow_us;
    bool counter = all || (flags & WP_POLL_COUNTERS) || now >= n->next_counter_us;
    unsigned alive = 0, most_fresh = 0;
    if (!n->announced) {
        n->announced = true;
        for (unsigned i = 0; i < n->ngpus; i++)
            if (n->gpus[i].unmeasured[0])
                wp_sink_event(sink, wp_wall_us(), -1, "nvml", (int)i,
                              "GPU %u is not measured: %s before recording started; totals "
                              "leave it out",
                              i, n->gpus[i].unmeasured);
    }
    for (unsigned i = 0; i < n->ngpus; i++) {
        struct gpu *g = &n->gpus[i];
        if (g->lost)
            continue;
        /* Counter before buffer: the buffer then covers the counter's whole window, even
         * in the last round of a run. */
        if (counter && g->s_energy >= 0)
            poll_counter(n, g, sink);
        if (buffer && !g->lost && g->s_power >= 0) {
            unsigned fresh = poll_buffer(n, g, sink);
            if (fresh > most_fresh)
                most_fresh = fresh;
        }
        if (fields && !g->lost)
            poll_fields(n, g, sink);
        if (slow && !g->lost)
            poll_slow(n, g, sink, all);
        alive += !g->lost;
    }
    /* Keep each schedule on its own grid so a late round does not drift the cadence. */
    if (buffer)
        n->next_buffer_us =
            n->next_buffer_us ? n->next_buffer_us + BUFFER_PERIOD_US : now + BUFFER_PERIOD_US;
    if (fields)
        n->next_fields_us =
            n->next_fields_us ? n->next_fields_us + n->fields_period_us : now + n->fields_period_us;
    if (slow)
        n->next_slow_us = n->next_slow_us ? n->next_slow_us + SLOW_PERIOD_US : now + SLOW_PERIOD_US;
    if (counter)
        n->next_counter_us = now + COUNTER_PERIOD_US;
    if (buffer && most_fresh >= BUFFER_HURRY_SAMPLES)
        n->next_buffer_us = now + BUFFER_HURRY_US;
    /* After a long stall, skip missed slots instead of polling in a burst. */
    if (n->next_buffer_us < now)
        n->next_buffer_us = now + BUFFER_PERIOD_US;
    if (n->next_fields_us < now)
        n->next_fields_us = now + n->fields_period_us;
    if (n->next_slow_us < now)
        n->next_slow_us = now + SLOW_PERIOD_US;
    int64_t nx = n->next_buffer_us;
    if (n->next_fields_us < nx)
        nx = n->next_fields_us;
    if (n->next_slow_us < nx)
        nx = n->next_slow_us;
    if (n->next_counter_us < nx)
        nx = n->next_counter_us;
    *next = nx;
    if (alive == 0 && n->ngpus > 0)
        return wp_errf(err, -ENODEV, "every GPU has stopped answering");
    return 0;
}

static void nvml_close(void *state)
{
    struct nvml *n = state;
    if (!n)
        return;
    if (n->f.shutdown)
        n->f.shutdown();
    if (n->lib)
        dlclose(n->lib);
    free(n->gpus);
    free(n);
}

static const struct wp_source_key nvml_keys[] = {
    {"lib", "PATH  the NVML library to load (default libnvidia-ml.so.1, or $WATTPROF_NVML_LIB)", 0},
    {"procs",
     "0|1  read each process's SM utilisation, for energy per process (default 1; 0 saves "
     "the dearest driver call, 2-3 ms of CPU per GPU and read, where GPUs are not shared)",
     0},
    {"procs_solo",
     "0|1  when one compute process is alone on a GPU, take the GPU's utilisation as its share "
     "instead of asking the driver for each process's (default 1: a cheap list of processes "
     "replaces the 2-3 ms read; 0 always makes the per-process read), e.g. nvml:procs_solo=0",
     0},
    {"procs_period",
     "DURATION  how often to read each process's SM utilisation while the GPU is busy "
     "(default 1s, 1s..60s; an idle GPU is not read). Longer is cheaper but the driver "
     "forgets a process when it exits, so each process loses up to one period at its end and "
     "one shorter than the period can be missed; e.g. nvml:procs_period=5s where jobs are long",
     0},
    {NULL, NULL, 0},
};

const struct wp_source_ops wp_source_nvml = {
    .name = "nvml",
    .help = "NVIDIA GPUs: the driver's 20 ms power buffer, power fields, energy counter",
    .keys = nvml_keys,
    .flags = WP_SOURCE_AUTO,
    .open = nvml_open,
    .discover = nvml_discover,
    .poll = nvml_poll,
    .close = nvml_close,
};
