/* A fitted power model: GPU power against the FLOP rate each GPU sustains, from the phases of
 * measured runs, and its held-out error beside the two TDP baselines.
 *
 * Form, per GPU:  P(x) = idle_w + span_w * (1 - exp(-x / scale_tflops)),  x in TFLOP/s per GPU.
 * Power rises steeply at low load and saturates near the power limit (the H200 traces: 300 W
 * at 46 TFLOP/s, 660 W at 152, 690 W at both 333 and 672), which a straight line cannot follow.
 * At x = 0 it is the idle power; the burn anchors the top. The saturating hyperbola
 * x / (x + h) was tried first and fitted those phases with twice the squared error
 * (docs/plan.md). scale_tflops is found by a grid search, idle_w and span_w by least squares
 * for each grid value.
 *
 * Nothing here prints. Reading inputs (traces, report JSON, export CSV) is in model_input.c. */
#ifndef WP_MODEL_H
#define WP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

struct wp_model_phase {
    char input[160]; /* base name of the file it came from */
    char name[65];
    bool idle; /* an anchor at zero load (x = 0) */
    int ngpus;
    double duration_s, energy_j;  /* all GPUs, measured */
    double tflops_per_gpu;        /* NAN when the phase has no work count */
    bool tflops_derived;          /* from samples x --flops-per-sample, not the job's flops= */
    double util_pct;              /* mean NVML utilisation over GPUs and the phase, NAN if none */
    double clock_mhz;             /* mean SM clock, NAN if none */
    double mean_w, peak_w, p99_w; /* summed GPUs; p99 NAN without the samples */
};

struct wp_model {
    char gpu[96];
    double limit_w;
    char driver[64];
    double idle_w, span_w, scale_tflops;
    double peak_ratio;   /* highest phase peak (20 ms, summed GPUs) / its mean, work phases */
    double p99_ratio;    /* likewise for the 99th percentile, NAN when no samples were read */
    double interval_rel; /* largest held-out relative energy error: the prediction interval */
    size_t nphases;
    struct wp_model_phase *phases; /* what it was fitted on */
};

/* Power of one GPU at x TFLOP/s. */
double wp_model_power_w(const struct wp_model *m, double tflops_per_gpu);

/* Fits over the phases that are idle or have a FLOP rate. Needs at least three of them at two
 * or more loads (-EINVAL otherwise). Copies nothing: out->phases is left for the caller. */
int wp_model_fit(const struct wp_model_phase *ph, size_t n, struct wp_model *out,
                 struct wp_err *err);

/* Held-out evaluation: each work phase predicted by a model fitted without it (by_input:
 * without every phase of its input file). pred_j, tdp_j, tdp_util_j get n entries (NAN for
 * phases not scored: idle anchors, no rate, or a fit that failed). */
struct wp_model_eval {
    double *pred_j, *tdp_j, *tdp_util_j;
    double mape_model, mape_tdp, mape_tdp_util; /* %, over scored phases */
    double mape_model_util; /* the model's, over the phases TDP x utilisation was scored on */
    size_t scored, scored_util;
    double max_abs_rel; /* largest |pred - measured| / measured of the model */
};
int wp_model_evaluate(const struct wp_model_phase *ph, size_t n, double tdp_w, bool by_input,
                      struct wp_model_eval *out, struct wp_err *err);
void wp_model_eval_free(struct wp_model_eval *e);

/* Model file (JSON). Reading uses jansson; -ENOENT, -EINVAL with a message. */
int wp_model_write_json(FILE *f, const struct wp_model *m, const char *const *inputs,
                        size_t ninputs, const struct wp_model_eval *ev);
int wp_model_read_json(const char *path, struct wp_model *m, struct wp_err *err);
void wp_model_free(struct wp_model *m);

struct wp_model_prediction {
    double mean_w, p99_w, peak_w; /* all GPUs (+ other_w), in step */
    double energy_j, energy_lo_j, energy_hi_j;
    double per_gpu_w;
};
void wp_model_predict(const struct wp_model *m, int gpus, double tflops_per_gpu, double hours,
                      double other_w, struct wp_model_prediction *out);

/* ---- inputs ---- */
struct wp_model_input_opts {
    double flops_per_sample;   /* for phases with samples= but no flops=; NAN: none */
    const char *const *phases; /* names of work phases to use (NULL/0: all with a rate) */
    size_t nphases;
    const char *const *idle_phases; /* names of phases at zero load (anchors) */
    size_t nidle;
    const char *samples_csv; /* an export CSV of the same run, for util, clock and p99 (JSON) */
};
/* Appends the phases of a trace (.wptrace) or of a `wattprof report --json` file to *v.
 * Fills gpu/limit/driver of m when empty (and refuses an input of another GPU kind). */
int wp_model_read_input(const char *path, const struct wp_model_input_opts *o,
                        struct wp_model_phase **v, size_t *n, size_t *cap, struct wp_model *m,
                        struct wp_err *err);

/* The GPUs' summed power (W) on a grid of step_us over the span every GPU covers (or the part
 * of it from from_s to to_s seconds after its start, when to_s is finite), from a trace or an
 * export CSV; points some GPU does not cover are dropped. *w malloc'd. */
int wp_gpu_power_grid(const char *path, int64_t step_us, double from_s, double to_s, double **w,
                      size_t *n, int *ngpus, struct wp_err *err);

#endif
