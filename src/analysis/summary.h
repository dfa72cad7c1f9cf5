/* The perf-stat-style summary of a trace: per GPU, for all GPUs together, and for the node
 * (its meter, or an estimate from its parts). Missing readings are NAN here and null in JSON,
 * never 0.
 *
 * Computed in one pass over the GPUs' power series (summary.c): every sample is folded into
 * running per-GPU state as it is decoded (src/analysis/stream.h), so memory does not grow with
 * the length of the trace; presentation (src/report/) reads only this struct. */
#ifndef WP_SUMMARY_H
#define WP_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/swings.h"
#include "core/err.h"
#include "store/trace.h"

struct wp_json;

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

/* Energy per unit of what the job counted in a phase (its counts samples=, tokens=, flops=):
 * the count's key, the JSON key and text label of the result, and the unit counted (flops
 * are per TFLOP). */
struct wp_per_unit {
    const char *key, *json, *text;
    double unit;
};
#define WP_NPER_UNITS 3
extern const struct wp_per_unit wp_per_units[WP_NPER_UNITS];

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
    double per_unit_j[WP_NPER_UNITS]; /* energy_j per wp_per_units[i], NAN without that count */
};

/* A part of the node metered on its own: all GPUs, the CPU packages (or psys, which holds
 * them), DRAM. No part's scope is contained in another's (src/core/sensor.h, `contains`). */
struct wp_node_part {
    enum wp_scope scope;
    double energy_j; /* over the run, NAN when a device of the part has no usable reading */
    double mean_w;
    size_t devices;  /* GPUs, packages, DIMM domains summed */
    char source[64]; /* the instance(s) read: "nvml", "rapl" */
};

#define WP_NODE_MAX_PARTS 4

/* Where node power comes from, best first. */
enum wp_node_basis { WP_NODE_INPUT, WP_NODE_PDU_OUTLETS, WP_NODE_ESTIMATE };

struct wp_node_summary {
    bool present;   /* false: no node meter and no parts (JSON "node": null) */
    bool estimated; /* no node meter: parts plus an allowance, never a measurement */
    enum wp_node_basis basis;
    char source[160]; /* the meter(s): "bmc/power", "pdu-a/power_3 + pdu-b/power_3"; "" when
                         estimated */
    double energy_j, mean_w;
    double peak_1s_w, peak_60s_w; /* highest rolling means of the node meter; NAN estimated */
    double gpu_sum_peak_20ms_w;   /* the GPUs' summed peak at their finest cadence (total) */
    double rated_w;               /* node.rated_w or the caller's, NAN when unknown */
    double peak_pct_of_rated;     /* peak_1s_w / rated_w * 100 */
    double allowance_w;           /* estimate: watts added for what the parts leave out */
    bool allowance_default;       /* that allowance is WP_NODE_DEFAULT_ALLOWANCE_PCT */
    double rest_w;                /* measured node mean - parts' mean (fans, NICs, PSU loss) */
    size_t nparts;
    struct wp_node_part parts[WP_NODE_MAX_PARTS];
    /* A node input meter (the BMC's) and the PDU outlets that feed the node both measured it:
     * both, over the time both cover, and their difference (PSU and cabling losses, or the
     * meters disagreeing). compared is false when they never overlapped. */
    bool compared;
    char outlets_source[160]; /* the outlets summed; `source` names the input meter */
    double cmp_input_w;       /* the input meter's mean over the overlap */
    double cmp_outlets_w;     /* the outlets' summed mean over the overlap */
    double cmp_diff_w;        /* outlets - input */
    double cmp_diff_pct;      /* of the outlets' mean */
    double cmp_overlap_s;     /* how long both had readings */
};

/* With no node meter and no node.allowance_w, what the parts leave out is taken as this share
 * of their mean power (node.c says why). */
#define WP_NODE_DEFAULT_ALLOWANCE_PCT 30.0

/* A point mark of the job (`mark NAME key=value`): an instant, not a phase. */
struct wp_point_summary {
    char name[WP_MARK_NAME_MAX + 1];
    int64_t t_us;
    double t_s; /* since the run's start */
    int ncounts;
    struct wp_mark_count counts[WP_MARK_MAX_COUNTS];
};

/* A damaged span of the trace that the numbers leave out (see wp_trace_series). */
struct wp_damage_summary {
    struct wp_trace_damage span;
    char source[32];
    int device;
    char sensor_name[48];
    char text[320]; /* wp_trace_damage_describe */
};

/* A device the recorder found but could not measure from the start (a GPU lost before
 * recording began): the per-GPU rows and the totals leave it out, so they are partial. Read
 * from the trace's "missing.<source>.<device>.device" metadata. */
struct wp_unmeasured {
    char source[32];
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
    struct wp_node_summary node;
    /* Damaged chunks: the numbers above come from the intact data only. A caller must say so
     * (the CLI names each span on stderr and exits 65). */
    size_t ndamaged;
    struct wp_damage_summary *damaged;
    char host[256]; /* where it was recorded (meta host), "" if unknown */
    /* The job's point marks, in time order. */
    size_t npoints;
    struct wp_point_summary *points;
    /* Devices not measured at all; the totals are partial when there is any. */
    size_t nunmeasured;
    struct wp_unmeasured *unmeasured;
    /* Set by a caller to add members of its own (energy per process) at the end of the JSON
     * object; not owned or freed by the summary. */
    void (*extra_json)(struct wp_json *j, const void *ctx);
    const void *extra_ctx;

    /* Swings and spectrum of the GPUs' summed power over the run (src/analysis/swings.h);
     * empty (step_us 0) unless every GPU has a power series. */
    struct wp_swings_result swings;
};

/* A fold that joins the summary's one pass over the GPUs' power series: called with every
 * sample of GPU gpu (an index into wp_summary.gpus; the GPUs' order) in mW, each GPU's samples
 * in time order (GPUs interleave), damaged chunks left out; samples outside the run window
 * included (compare with the summary's start_us/end_us). A negative return stops the summary
 * with that code (err filled by the fold). */
typedef int (*wp_summary_fold_fn)(void *ctx, size_t gpu, int64_t t_us, int64_t mw,
                                  struct wp_err *err);

struct wp_summary_opts {
    double rated_w; /* the node's rated power; finite overrides the trace's node.rated_w */
    /* Called once before the pass, when the run window (start_us, end_us), the GPUs (index,
     * name, power_sensor, limit_w) and the phases of *s are known, so the folds below can be
     * laid out over the run; sum_step_us: the grid sum_fold's pieces are taken on (0: there is
     * no sum). A negative return stops the summary with that code. NULL: none. */
    int (*begin)(void *ctx, const struct wp_summary *s, int64_t sum_step_us, struct wp_err *err);
    void *begin_ctx;
    wp_summary_fold_fn fold; /* NULL: none */
    void *fold_ctx;
    /* The GPUs' summed power as the pass walks it: constant sum_mw over [t0_us, t1_us]
     * (whole microseconds, both included), in time order; pieces that some GPU does not
     * cover may be left out, and so may pieces that hold no point of the run's grid
     * (start_us + n * sum_step_us) nor of a phase's: the points are what to draw. Only when
     * every GPU has a power series, over the run window and the phases. The all-GPU peak is
     * the highest piece that holds a point of the grid. NULL: none. */
    int (*sum_fold)(void *ctx, int64_t t0_us, int64_t t1_us, double sum_mw, struct wp_err *err);
    void *sum_fold_ctx;
    /* Called once every 2^20 samples of the pass with the share done so far (0..1), for a
     * progress line; NULL: none. */
    void (*progress)(void *ctx, double done);
    void *progress_ctx;
};

/* wp_summary_compute_opts with no options. */
int wp_summary_compute(const struct wp_trace *t, struct wp_summary *out, struct wp_err *err);
int wp_summary_compute_opts(const struct wp_trace *t, const struct wp_summary_opts *opts,
                            struct wp_summary *out, struct wp_err *err);
void wp_summary_free(struct wp_summary *s);
/* Text and JSON output of a summary: src/report/report.h. */

#endif
