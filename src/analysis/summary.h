/* The perf-stat-style summary of a trace: per GPU and for all GPUs together. Missing
 * readings are NAN here and null in JSON, never 0. */
#ifndef WP_SUMMARY_H
#define WP_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "store/trace.h"

struct wp_gpu_summary {
    int index;
    char uuid[96];
    char name[96];
    double limit_w;          /* enforced limit, NAN if unknown */
    double energy_j;         /* integrated from the finest power series over the run */
    double counter_energy_j; /* hardware counter delta over its read window, NAN if none */
    double counter_diff_pct; /* (trace over the counter's window - counter) / counter * 100 */
    double mean_w;
    double peak_w;    /* highest single sample of the finest series (20 ms on H200) */
    double peak_1s_w; /* highest 1 s rolling mean */
    double p99_w;
    double peak_pct_limit; /* peak_w / limit_w * 100 */
    size_t samples;
    double median_interval_ms;
    size_t gaps;           /* intervals longer than twice the sensor cadence */
    char power_sensor[48]; /* which series the numbers come from ("power"), "" if none */
    double covered_s;      /* part of the run the power series covers, NAN if no series */
    bool counter_fault;    /* the energy counter went backwards (reset/driver reload) or
                              read out of range: the counter fields are NAN */
};

struct wp_total_summary {
    double energy_j, counter_energy_j, mean_w;
    double peak_w; /* peak of the sum of all GPUs at the finest common resolution */
    /* sum over GPUs of (trace over each counter's window) vs sum of counters, in %; NAN
     * unless every GPU has a counter */
    double counter_diff_pct;
};

/* One phase of the job (from its begin/end marks; see src/marks/marks.h), over all GPUs. */
struct wp_phase_summary {
    char name[WP_MARK_NAME_MAX + 1];
    int64_t t0_us, t1_us;
    int depth;
    bool open_ended;
    double duration_s;
    double energy_j; /* all GPUs, integrated from the finest power series */
    double mean_w;
    double peak_w; /* peak of the summed GPU power inside the phase */
    int ncounts;
    struct wp_mark_count counts[2 * WP_MARK_MAX_COUNTS];
};

/* A device the recorder found but could not measure from the start (a GPU lost before
 * recording began): the per-GPU rows and the totals leave it out, so they are partial. Read
 * from the trace's "missing.<source>.<device>.device" metadata. */
struct wp_unmeasured {
    char source[16];
    int device;
    char reason[160];
};

struct wp_summary {
    int64_t start_us, end_us; /* the run window (meta start_us/end_us, else the data's span) */
    double duration_s;
    bool has_exit_code;
    int exit_code;
    char command[512];
    char replay[256]; /* non-empty when the data was replayed, not measured */
    size_t ngpus;
    struct wp_gpu_summary *gpus;
    struct wp_total_summary total;
    /* The job's phases, from its begin/end marks (src/analysis/phases.c). */
    size_t nphases;
    struct wp_phase_summary *phases;
    /* Devices not measured at all; the totals are partial when there is any. */
    size_t nunmeasured;
    struct wp_unmeasured *unmeasured;
};

int wp_summary_compute(const struct wp_trace *t, struct wp_summary *out, struct wp_err *err);
void wp_summary_free(struct wp_summary *s);
void wp_summary_print_text(FILE *f, const struct wp_summary *s);
int wp_summary_write_json(FILE *f, const struct wp_summary *s);

#endif
