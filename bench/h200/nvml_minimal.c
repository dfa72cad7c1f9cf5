/* nvml_minimal: the smallest NVML client, as a baseline for what a power logger costs.
 *
 *   nvml_minimal [--seconds S] [--poll] [--interval-ms MS] [--lib PATH]
 *
 * Without --poll it loads NVML (dlopen), calls nvmlInit_v2 and sleeps: its RSS is the floor
 * that NVML alone holds (~21 MB measured on H200, 2026-11-28). With --poll it reads the
 * driver's 20 ms power sample buffer of every GPU every 500 ms (nvmlDeviceGetSamples with the
 * last timestamp seen) and nothing else: the least work that keeps a gapless 20 ms trace.
 * Stops after --seconds (default: until SIGINT/SIGTERM) and prints what it saw to stderr.
 *
 * Build: gcc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Isrc bench/h200/nvml_minimal.c -ldl */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sources/nvml_abi.h"

#define MAX_GPUS    64
#define BUF_SAMPLES 512 /* the driver keeps ~120; room to spare */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until_us(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000, .tv_nsec = (long)(t % 1000000) * 1000};
    while (!stop_flag && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

struct gpu_stats {
    nvmlDevice_t dev;
    unsigned long long last_ts; /* newest sample timestamp seen, us since the epoch */
    unsigned long long samples, gaps_40ms, polls, poll_errors;
    nvmlReturn_t last_error;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: nvml_minimal [--seconds S] [--poll] [--interval-ms MS] [--lib PATH]\n"
               "  NVML init then sleep (RSS floor of NVML), or with --poll read the 20 ms power\n"
               "  sample buffer of every GPU every MS (default 500) ms. Stops after S seconds\n"
               "  (default: at SIGINT/SIGTERM). Library: --lib, else $WATTPROF_NVML_LIB, else\n"
               "  libnvidia-ml.so.1.\n");
}

int main(int argc, char **argv)
{
    double seconds = -1;
    int poll = 0;
    long interval_ms = 500;
    const char *lib = getenv("WATTPROF_NVML_LIB");
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--poll")) {
            poll = 1;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = strtod(argv[++i], &end);
            if (*end || seconds < 0) {
                fprintf(stderr, "nvml_minimal: --seconds wants a number >= 0\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc) {
            interval_ms = strtol(argv[++i], &end, 10);
            if (*end || interval_ms < 1 || interval_ms > 60000) {
                fprintf(stderr, "nvml_minimal: --interval-ms wants 1..60000\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--lib") && i + 1 < argc) {
            lib = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!lib || !*lib)
        lib = "libnvidia-ml.so.1";

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "nvml_minimal: cannot load %s: %s\n", lib, dlerror());
        return 3;
    }
    nvmlInit_v2_fn init = (nvmlInit_v2_fn)dlsym(h, "nvmlInit_v2");
    nvmlShutdown_fn shutdown = (nvmlShutdown_fn)dlsym(h, "nvmlShutdown");
    nvmlErrorString_fn errstr = (nvmlErrorString_fn)dlsym(h, "nvmlErrorString");
    nvmlDeviceGetCount_v2_fn get_count =
        (nvmlDeviceGetCount_v2_fn)dlsym(h, "nvmlDeviceGetCount_v2");
    nvmlDeviceGetHandleByIndex_v2_fn get_handle =
        (nvmlDeviceGetHandleByIndex_v2_fn)dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
    nvmlDeviceGetSamples_fn get_samples = (nvmlDeviceGetSamples_fn)dlsym(h, "nvmlDeviceGetSamples");
    if (!init || !shutdown || !get_count || !get_handle || !get_samples) {
        fprintf(stderr, "nvml_minimal: %s lacks a needed NVML symbol\n", lib);
        return 3;
    }
    nvmlReturn_t rc = init();
    if (rc != NVML_SUCCESS) {
        fprintf(stderr, "nvml_minimal: nvmlInit_v2 failed: %s (%d)\n", errstr ? errstr(rc) : "?",
                rc);
        return 3;
    }
    unsigned int n = 0;
    rc = get_count(&n);
    if (rc != NVML_SUCCESS) {
        fprintf(stderr, "nvml_minimal: nvmlDeviceGetCount_v2 failed: %d\n", rc);
        shutdown();
        return 3;
    }
    if (n > MAX_GPUS)
        n = MAX_GPUS;
    static struct gpu_stats g[MAX_GPUS];
    static nvmlSample_t buf[BUF_SAMPLES];
    for (unsigned int i = 0; i < n; i++) {
        rc = get_handle(i, &g[i].dev);
        if (rc != NVML_SUCCESS) {
            fprintf(stderr, "nvml_minimal: no handle for GPU %u: %d\n", i, rc);
            g[i].dev = NULL;
        }
    }

    int64_t t0 = mono_us();
    int64_t end = seconds >= 0 ? t0 + (int64_t)(seconds * 1e6) : INT64_MAX;
    int64_t next = t0;
    while (!stop_flag && mono_us() < end) {
        if (poll) {
            for (unsigned int i = 0; i < n; i++) {
                if (!g[i].dev)
                    continue;
                int type = 0;
                unsigned int count = BUF_SAMPLES;
                rc = get_samples(g[i].dev, NVML_TOTAL_POWER_SAMPLES, g[i].last_ts, &type, &count,
                                 buf);
                g[i].polls++;
                if (rc == NVML_ERROR_NOT_FOUND) /* nothing newer than last_ts */
                    continue;
                if (rc != NVML_SUCCESS) {
                    g[i].poll_errors++;
                    g[i].last_error = rc;
                    continue;
                }
                for (unsigned int k = 0; k < count && k < BUF_SAMPLES; k++) {
                    unsigned long long ts = buf[k].timeStamp;
                    if (ts <= g[i].last_ts)
                        continue;
                    if (g[i].last_ts && ts - g[i].last_ts > 40000)
                        g[i].gaps_40ms++;
                    g[i].last_ts = ts;
                    g[i].samples++;
                }
            }
            next += (int64_t)interval_ms * 1000;
        } else {
            next += 1000000; /* wake once a second only to notice the deadline */
        }
        sleep_until_us(next < end ? next : end);
    }
    double el = (double)(mono_us() - t0) / 1e6;
    fprintf(stderr, "nvml_minimal: %s, %u GPU(s), %.1f s\n", poll ? "polled" : "idle", n, el);
    if (poll)
        for (unsigned int i = 0; i < n; i++)
            fprintf(stderr,
                    "nvml_minimal: GPU %u: %llu samples (%.1f/s), %llu intervals > 40 ms, %llu "
                    "polls, %llu poll errors%s%s\n",
                    i, g[i].samples, el > 0 ? (double)g[i].samples / el : 0.0, g[i].gaps_40ms,
                    g[i].polls, g[i].poll_errors, g[i].poll_errors ? ", last: " : "",
                    g[i].poll_errors && errstr ? errstr(g[i].last_error) : "");
    shutdown();
    return 0;
}
