/* Day-long trace generator: HOURS of an 8-GPU H200 node, made by wattprof's own NVML source
 * polling the fake NVML (tests/fake_nvml, replaying the recorded 2x H200 20 ms buffer with
 * every reading an H200 gives: buffer, instant and average power, energy counter,
 * utilisation, SM clock, temperature) and wattprof's own trace writer, on a virtual clock:
 * what `wattprof record` would write in HOURS, in a few seconds per hour.
 *
 * The clock: this program defines wp_wall_us/wp_mono_us itself (the core library's clock.o
 * is then not linked) and pins the fake's clock to the same instant with fakeNvmlSetClock.
 * Polls come when the source asks for them (its next_mono_us), commits every second, as the
 * recorder does.
 *
 * Usage: WATTPROF_NVML_LIB=build/fake-nvml/libnvidia-ml.so.1 FAKE_NVML_TRACE=... \
 *        FAKE_NVML_GPUS=8 FAKE_NVML_EXTRAS=1 day_gen HOURS OUT.trace
 * (bench/perf/day_bench.sh sets all that up). */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/sink.h"
#include "sources/source.h"
#include "store/trace.h"

/* 2026-11-20 00:00:00 UTC: any fixed instant makes the output reproducible. */
#define EPOCH_US  1795132800000000LL
#define COMMIT_US 1000000

static int64_t vnow_us = EPOCH_US;

int64_t wp_wall_us(void)
{
    return vnow_us;
}

int64_t wp_mono_us(void)
{
    return vnow_us - EPOCH_US + 1000000;
}

void wp_sleep_until_mono_us(int64_t deadline_us)
{
    (void)deadline_us;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "day_gen: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        die("usage", "day_gen HOURS OUT.trace");
    double hours = strtod(argv[1], NULL);
    if (!(hours > 0 && hours <= 240))
        die(argv[1], "HOURS must be a number in (0, 240]");
    const char *lib = getenv("WATTPROF_NVML_LIB");
    if (!lib)
        die("WATTPROF_NVML_LIB", "not set; point it at build/fake-nvml/libnvidia-ml.so.1");
    /* The same handle the source's dlopen will get: its clock is set before nvmlInit. */
    void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
    if (!h)
        die(lib, dlerror());
    void (*set_clock)(long long) = (void (*)(long long))dlsym(h, "fakeNvmlSetClock");
    if (!set_clock)
        die(lib, "has no fakeNvmlSetClock: not the fake NVML");
    set_clock(vnow_us);

    struct wp_err err = {0};
    struct wp_config cfg;
    wp_config_init(&cfg);
    cfg.no_auto = true;
    if (wp_config_add_spec(&cfg, wp_source_kinds, "nvml", false, "day_gen", &err) < 0)
        die("nvml", err.msg);
    struct wp_source_inst *inst = NULL;
    size_t ninst = 0;
    struct wp_sensors tab = {0};
    struct wp_meta meta = {0};
    if (wp_sources_open(&cfg, &inst, &ninst, &tab, &meta, &err) < 0 || ninst != 1)
        die("nvml", ninst != 1 ? "the fake NVML did not open" : err.msg);

    struct wp_trace_writer *w;
    if (wp_trace_create(&w, argv[2], true, &err) < 0)
        die(argv[2], err.msg);
    char buf[64];
    snprintf(buf, sizeof(buf), "%" PRId64, vnow_us);
    wp_meta_set(&meta, "start_us", buf);
    wp_meta_set(&meta, "host", "day-gen");
    wp_meta_set(&meta, "replay", "bench/perf/day_gen: the fake NVML on a virtual clock");
    if (wp_trace_put_meta(w, &meta, &err) < 0 || wp_trace_put_sensors(w, &tab, &err) < 0)
        die(argv[2], err.msg);

    int64_t end_us = vnow_us + (int64_t)(hours * 3600e6);
    int64_t next_commit = vnow_us + COMMIT_US, next = wp_mono_us();
    unsigned flags = WP_POLL_ALL;
    struct wp_sink sink = {0};
    uint64_t samples = 0;
    while (vnow_us < end_us) {
        int64_t next_mono = wp_mono_us() + 1000000;
        if (inst[0].ops->poll(inst[0].state, wp_mono_us(), flags, &sink, &next_mono, &err) < 0)
            die("poll", err.msg);
        flags = 0;
        if (sink.n && wp_trace_append(w, sink.samples, sink.n, &err) < 0)
            die("append", err.msg);
        for (size_t i = 0; i < sink.nevents; i++)
            if (wp_trace_put_event(w, &sink.events[i], &err) < 0)
                die("event", err.msg);
        samples += sink.n;
        wp_sink_clear(&sink);
        next = next_mono > wp_mono_us() ? next_mono : wp_mono_us() + 1000;
        int64_t at = vnow_us + (next - wp_mono_us());
        while (next_commit <= at) {
            vnow_us = next_commit;
            if (wp_trace_commit(w, &err) < 0)
                die("commit", err.msg);
            next_commit += COMMIT_US;
        }
        vnow_us = at;
        set_clock(vnow_us);
    }
    snprintf(buf, sizeof(buf), "%" PRId64, vnow_us);
    wp_meta_set(&meta, "end_us", buf);
    if (wp_trace_put_meta(w, &meta, &err) < 0 || wp_trace_close(w, &err) < 0)
        die(argv[2], err.msg);
    wp_sink_free(&sink);
    wp_sources_close(inst, ninst);
    fprintf(stderr, "day_gen: %s: %.1f h, %" PRIu64 " samples\n", argv[2], hours, samples);
    return 0;
}
