/* procs_cost: what asking NVML about a GPU's processes costs, per call, on this driver.
 *
 *   procs_cost [--calls N] [--gpu I] [--since-s S] [--lib PATH]
 *
 * Times N calls each (default 40, one every 100 ms) of
 *   nvmlDeviceGetProcessUtilization (lastSeen S seconds back, default 1; 0 asks for every
 *   sample the driver holds), and
 *   nvmlDeviceGetComputeRunningProcesses_v3 (which processes hold the GPU, no utilisation),
 * in CPU time of this process (CLOCK_PROCESS_CPUTIME_ID) and wall time, and prints one row
 * per call kind: median and maximum of each, how many processes the last successful call
 * returned, how many calls failed and the NVML code of the last failure (6: not found).
 * The question it answers: could the recorder learn cheaply that a GPU has one process (all
 * its energy is that process's) and ask for per-process utilisation only when several share
 * it? Run it beside a load and on an idle GPU.
 *
 * Build: gcc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Isrc bench/h200/procs_cost.c -ldl */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sources/nvml_abi.h"

#define MAX_CALLS 1000
#define PROCS_CAP 64

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void row(const char *name, double *cpu_us, double *wall_us, int n, unsigned procs,
                int failures, int last_rc)
{
    qsort(cpu_us, (size_t)n, sizeof *cpu_us, cmp_double);
    qsort(wall_us, (size_t)n, sizeof *wall_us, cmp_double);
    printf("%-28s %6d %12.0f %12.0f %12.0f %12.0f %6u %8d %7d\n", name, n, cpu_us[n / 2],
           cpu_us[n - 1], wall_us[n / 2], wall_us[n - 1], procs, failures, last_rc);
}

int main(int argc, char **argv)
{
    int calls = 40;
    unsigned gpu = 0;
    double since_s = 1;
    const char *lib = "libnvidia-ml.so.1";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
            calls = atoi(argv[++i]);
        else if (strcmp(argv[i], "--gpu") == 0 && i + 1 < argc)
            gpu = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--since-s") == 0 && i + 1 < argc)
            since_s = atof(argv[++i]);
        else if (strcmp(argv[i], "--lib") == 0 && i + 1 < argc)
            lib = argv[++i];
        else {
            fprintf(stderr, "usage: procs_cost [--calls N] [--gpu I] [--since-s S] [--lib PATH]\n");
            return 64;
        }
    }
    if (calls < 1 || calls > MAX_CALLS) {
        fprintf(stderr, "procs_cost: --calls must be 1..%d\n", MAX_CALLS);
        return 64;
    }
    void *h = dlopen(lib, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "procs_cost: cannot load %s: %s\n", lib, dlerror());
        return 69;
    }
    nvmlInit_v2_fn init = (nvmlInit_v2_fn)dlsym(h, "nvmlInit_v2");
    nvmlDeviceGetHandleByIndex_v2_fn handle =
        (nvmlDeviceGetHandleByIndex_v2_fn)dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
    nvmlDeviceGetProcessUtilization_fn util =
        (nvmlDeviceGetProcessUtilization_fn)dlsym(h, "nvmlDeviceGetProcessUtilization");
    nvmlDeviceGetComputeRunningProcesses_v3_fn running =
        (nvmlDeviceGetComputeRunningProcesses_v3_fn)dlsym(
            h, "nvmlDeviceGetComputeRunningProcesses_v3");
    nvmlDevice_t dev;
    if (!init || !handle || !util || !running || init() != 0 || handle(gpu, &dev) != 0) {
        fprintf(stderr, "procs_cost: NVML lacks a function or GPU %u is not there\n", gpu);
        return 69;
    }
    static double cpu_a[MAX_CALLS], wall_a[MAX_CALLS], cpu_b[MAX_CALLS], wall_b[MAX_CALLS];
    unsigned procs_a = 0, procs_b = 0;
    int fail_a = 0, fail_b = 0, rc_a = 0, rc_b = 0;
    struct timespec pause = {0, 100 * 1000 * 1000};
    for (int i = 0; i < calls; i++) {
        nvmlProcessUtilizationSample_t samples[PROCS_CAP];
        unsigned n = PROCS_CAP;
        unsigned long long last_seen =
            since_s > 0 ? (unsigned long long)((now_s(CLOCK_REALTIME) - since_s) * 1e6) : 0;
        double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
        int r = util(dev, samples, &n, last_seen);
        cpu_a[i] = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6;
        wall_a[i] = (now_s(CLOCK_MONOTONIC) - w0) * 1e6;
        if (r == 0)
            procs_a = n;
        else
            fail_a++, rc_a = r;

        nvmlProcessInfo_t info[PROCS_CAP];
        unsigned m = PROCS_CAP;
        c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        w0 = now_s(CLOCK_MONOTONIC);
        r = running(dev, &m, info);
        cpu_b[i] = (now_s(CLOCK_PROCESS_CPUTIME_ID) - c0) * 1e6;
        wall_b[i] = (now_s(CLOCK_MONOTONIC) - w0) * 1e6;
        if (r == 0)
            procs_b = m;
        else
            fail_b++, rc_b = r;
        nanosleep(&pause, NULL);
    }
    printf("%-28s %6s %12s %12s %12s %12s %6s %8s %7s\n", "call", "calls", "cpu_med_us",
           "cpu_max_us", "wall_med_us", "wall_max_us", "procs", "failures", "last_rc");
    row("GetProcessUtilization", cpu_a, wall_a, calls, procs_a, fail_a, rc_a);
    row("GetComputeRunningProcesses", cpu_b, wall_b, calls, procs_b, fail_b, rc_b);
    return 0;
}
