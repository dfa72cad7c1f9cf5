/* wattprof model fit | predict: a GPU power model from measured phases, and its use. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/json.h"
#include "core/str.h"
#include "plan/model.h"
#include "plan/rack.h"

static const char model_usage[] =
    "usage: wattprof model fit INPUT [--samples CSV] [INPUT ...] -o MODEL.json [options]\n"
    "       wattprof model predict MODEL.json --gpus N --tflops-per-gpu X --hours H [options]\n"
    "\n"
    "fit: fits GPU power against the FLOP rate each GPU sustains,\n"
    "  P = idle_w + span_w * (1 - exp(-x / scale_tflops))   (x: TFLOP/s per GPU),\n"
    "on the phases of measured runs, and prints each phase's training energy predicted with\n"
    "that phase held out (a fit without it) beside two baselines on the same phases: TDP x\n"
    "duration, and TDP x NVML utilisation x duration. The FLOP rate comes from the job's marks\n"
    "(flops=), or from samples= times --flops-per-sample. Phases without either are used only\n"
    "when named by --idle-phase: anchors at zero load.\n"
    "  INPUT               a trace, or `wattprof report --json` output of one\n"
    "  --samples CSV       `wattprof export --csv` output of the INPUT before it (report JSON\n"
    "                      lacks utilisation, SM clock and the 99th percentile)\n"
    "  -o, --output FILE   the model (JSON: coefficients, what it was fitted on, the table;\n"
    "                      - for stdout, the table then going to stderr)\n"
    "  -f, --force         replace FILE\n"
    "  --phase NAME        fit on phases of this name only (repeatable; a shell pattern\n"
    "                      such as 'resnet*' works; default: every phase with a FLOP rate)\n"
    "  --idle-phase NAME   phases of this name are at zero load (repeatable)\n"
    "  --flops-per-sample X  model FLOPs per sample (forward + backward) for phases that\n"
    "                      count samples but not flops\n"
    "  --tdp-w W           the TDP of the baselines (default 700 W: H100/H200 SXM)\n"
    "  --by-input          hold out every phase of an input at once, not one phase\n"
    "  e.g. wattprof model fit resnet-report.json --samples resnet.csv.gz llama-report.json \\\n"
    "         burn60-report.json --phase train --phase burn --idle-phase setup \\\n"
    "         --flops-per-sample 69.3e9 -o h200.model.json\n"
    "\n"
    "predict: power and energy of a described load from a model.\n"
    "  --gpus N            GPUs of the job\n"
    "  --tflops-per-gpu X  FLOP rate each sustains (model FLOPs, as in the marks)\n"
    "  --hours H           how long it runs\n"
    "  --other-w W         the rest of the node(s): CPUs, fans, PSU losses (default 0:\n"
    "                      GPUs only); an assumption, say where yours comes from\n"
    "  --json FILE         also write the prediction as JSON (- for stdout)\n"
    "  e.g. wattprof model predict h200.model.json --gpus 8 --tflops-per-gpu 330 --hours 24\n"
    "\n"
    "exit status: 0, 64 usage, 65 an input is not a trace or report JSON, or too few phases\n"
    "to fit, 66 cannot read an input, 70 internal error, 73 FILE exists or cannot be created,\n"
    "74 writing FILE failed.\n";

enum {
    O_PHASE = 0x2000,
    O_IDLE,
    O_FPS,
    O_TDP,
    O_BY_INPUT,
    O_SAMPLES,
    O_GPUS,
    O_TFLOPS,
    O_HOURS,
    O_OTHER,
    O_JSON
};

static int bad_number(const char *opt, const char *arg)
{
    cli_error("model", "%s wants a positive number, not '%s'", opt, arg);
    return WP_EXIT_USAGE;
}

static int parse_pos(const char *s, double *out)
{
    char *end;
    double v = wp_strtod_dec(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

struct fit_out {
    const struct wp_model *m;
    const char *const *inputs;
    size_t ninputs;
    const struct wp_model_eval *ev;
};

static int write_model(FILE *f, void *ctx)
{
    struct fit_out *o = ctx;
    return wp_model_write_json(f, o->m, o->inputs, o->ninputs, o->ev);
}

static void num_or_dash(FILE *f, double v, const char *fmt, int width)
{
    if (isfinite(v))
        fprintf(f, fmt, width, v);
    else
        fprintf(f, "%*s", width, "-");
}

static void print_fit(FILE *f, const struct wp_model *m, const struct wp_model_eval *ev,
                      double tdp_w, bool by_input)
{
    fprintf(f,
            "model of %s (limit %.0f W%s%s): P_gpu = %.1f W + %.1f W * (1 - exp(-x / %.1f)), x "
            "in TFLOP/s per GPU\n",
            m->gpu[0] ? m->gpu : "unknown GPU", m->limit_w, m->driver[0] ? ", driver " : "",
            m->driver, m->idle_w, m->span_w, m->scale_tflops);
    fprintf(f, "held out: %s; baselines: TDP %.0f W x duration, TDP x utilisation x duration\n\n",
            by_input ? "every phase of its input" : "one phase at a time", tdp_w);
    fprintf(f, "%-22s %-12s %4s %7s %8s %6s %10s %10s %7s %7s %7s\n", "input", "phase", "gpus", "s",
            "TFLOP/s", "util%", "measured J", "model J", "model%", "TDP%", "TDPxU%");
    for (size_t i = 0; i < m->nphases; i++) {
        const struct wp_model_phase *p = &m->phases[i];
        fprintf(f, "%-22.22s %-12.12s %4d %7.1f ", p->input, p->name, p->ngpus, p->duration_s);
        if (p->idle)
            fprintf(f, "%8s", "idle");
        else
            num_or_dash(f, p->tflops_per_gpu, "%*.1f", 8);
        fprintf(f, " ");
        num_or_dash(f, p->util_pct, "%*.0f", 6);
        fprintf(f, " %10.0f ", p->energy_j);
        num_or_dash(f, ev->pred_j[i], "%*.0f", 10);
        double e = p->energy_j;
        fprintf(f, " ");
        num_or_dash(f, (ev->pred_j[i] - e) / e * 100, "%*.1f", 7);
        fprintf(f, " ");
        num_or_dash(f, (ev->tdp_j[i] - e) / e * 100, "%*.1f", 7);
        fprintf(f, " ");
        num_or_dash(f, (ev->tdp_util_j[i] - e) / e * 100, "%*.1f", 7);
        fprintf(f, "%s\n", p->tflops_derived ? "  (FLOPs from samples)" : "");
    }
    fprintf(f,
            "\nMAPE of training energy over %zu held-out phases: model %.1f %%, TDP x duration "
            "%.1f %%",
            ev->scored, ev->mape_model, ev->mape_tdp);
    if (ev->scored_util == ev->scored)
        fprintf(f, ", TDP x utilisation %.1f %%\n", ev->mape_tdp_util);
    else if (ev->scored_util > 0)
        fprintf(
            f,
            ";\n  on the %zu phases with utilisation: model %.1f %%, TDP x utilisation %.1f %%\n",
            ev->scored_util, ev->mape_model_util, ev->mape_tdp_util);
    else
        fprintf(f, ", TDP x utilisation: no utilisation in the inputs (give --samples)\n");
    fprintf(f,
            "measured: phase energy, duration, FLOP counts from marks, utilisation; assumed: "
            "FLOPs per sample where given, TDP %.0f W\n",
            tdp_w);
}

static int cmd_fit(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"phase", required_argument, NULL, O_PHASE},
                                         {"idle-phase", required_argument, NULL, O_IDLE},
                                         {"flops-per-sample", required_argument, NULL, O_FPS},
                                         {"tdp-w", required_argument, NULL, O_TDP},
                                         {"by-input", no_argument, NULL, O_BY_INPUT},
                                         {"samples", required_argument, NULL, O_SAMPLES},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    bool force = false, by_input = false;
    double tdp_w = WP_TDP_H100_H200_W, fps = NAN;
    const char **phases = calloc((size_t)argc + 1, sizeof(char *));
    const char **idle = calloc((size_t)argc + 1, sizeof(char *));
    const char **inputs = calloc((size_t)argc + 1, sizeof(char *));
    const char **samples = calloc((size_t)argc + 1, sizeof(char *));
    size_t np = 0, ni = 0, nin = 0;
    int rc = 0, c;
    if (!phases || !idle || !inputs || !samples) {
        cli_error("model", "out of memory");
        rc = WP_EXIT_SOFTWARE;
        goto done;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "-o:fh", opts, NULL)) != -1) {
        switch (c) {
        case 1:
            inputs[nin++] = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'f':
            force = true;
            break;
        case O_PHASE:
            phases[np++] = optarg;
            break;
        case O_IDLE:
            idle[ni++] = optarg;
            break;
        case O_FPS:
            if (parse_pos(optarg, &fps) < 0 || !(fps > 0)) {
                rc = bad_number("--flops-per-sample", optarg);
                goto done;
            }
            break;
        case O_TDP:
            if (parse_pos(optarg, &tdp_w) < 0 || !(tdp_w > 0)) {
                rc = bad_number("--tdp-w", optarg);
                goto done;
            }
            break;
        case O_BY_INPUT:
            by_input = true;
            break;
        case O_SAMPLES:
            if (nin == 0 || samples[nin - 1]) {
                cli_error("model", "--samples belongs after the report JSON it goes with");
                rc = WP_EXIT_USAGE;
                goto done;
            }
            samples[nin - 1] = optarg;
            break;
        case 'h':
            fputs(model_usage, stdout);
            goto done;
        default:
            fprintf(stderr, "Try 'wattprof model --help'.\n");
            rc = WP_EXIT_USAGE;
            goto done;
        }
    }
    if (nin == 0 || !out) {
        cli_error("model", nin == 0 ? "fit: no input given (traces or report JSON)"
                                    : "fit: say where the model goes with -o FILE");
        rc = WP_EXIT_USAGE;
        goto done;
    }
    if ((rc = cli_check_output("model", out, force)) != 0 ||
        (rc = cli_check_not_input("model", out, inputs, nin)) != 0 ||
        (rc = cli_check_not_input("model", out, samples, nin)) != 0)
        goto done;
    struct wp_model m = {0};
    struct wp_model_phase *v = NULL;
    size_t n = 0, cap = 0;
    struct wp_err err = {0};
    for (size_t i = 0; i < nin; i++) {
        struct wp_model_input_opts io = {fps, phases, np, idle, ni, samples[i]};
        int r = wp_model_read_input(inputs[i], &io, &v, &n, &cap, &m, &err);
        if (r < 0) {
            cli_error("model", "%s", err.msg);
            rc = r == -ENOENT || r == -EACCES || r == -EISDIR ? WP_EXIT_NOINPUT
                 : r == -ENOMEM                               ? WP_EXIT_SOFTWARE
                                                              : WP_EXIT_DATAERR;
            free(v);
            goto done;
        }
    }
    m.phases = v;
    m.nphases = n;
    int r = wp_model_fit(v, n, &m, &err);
    struct wp_model_eval ev = {0};
    if (r == 0)
        r = wp_model_evaluate(v, n, tdp_w, by_input, &ev, &err);
    if (r < 0) {
        cli_error("model", "%s", err.msg);
        rc = r == -ENOMEM ? WP_EXIT_SOFTWARE : WP_EXIT_DATAERR;
        wp_model_free(&m);
        goto done;
    }
    m.interval_rel = ev.max_abs_rel;
    /* -o -: the model alone on stdout, the table on stderr */
    print_fit(out && strcmp(out, "-") == 0 ? stderr : stdout, &m, &ev, tdp_w, by_input);
    struct fit_out fo = {&m, inputs, nin, &ev};
    rc = cli_write_output("model", out, force, write_model, &fo);
    wp_model_eval_free(&ev);
    wp_model_free(&m);
done:
    free(phases);
    free(idle);
    free(inputs);
    free(samples);
    return rc;
}

struct pred_out {
    const struct wp_model_prediction *p;
    int gpus;
    double tflops, hours, other_w;
    const struct wp_model *m;
};

static int write_pred(FILE *f, void *ctx)
{
    struct pred_out *o = ctx;
    struct wp_json j;
    wp_json_init(&j, f, 2);
    wp_json_obj_begin(&j);
    wp_json_kstr(&j, "gpu", o->m->gpu);
    wp_json_kint(&j, "gpus", o->gpus);
    wp_json_kdouble(&j, "tflops_per_gpu", o->tflops);
    wp_json_kdouble(&j, "hours", o->hours);
    wp_json_kdouble(&j, "other_w", o->other_w);
    wp_json_kdouble(&j, "per_gpu_w", o->p->per_gpu_w);
    wp_json_kdouble(&j, "mean_w", o->p->mean_w);
    wp_json_kdouble(&j, "p99_w", o->p->p99_w);
    wp_json_kdouble(&j, "peak_w", o->p->peak_w);
    wp_json_kdouble(&j, "energy_j", o->p->energy_j);
    wp_json_kdouble(&j, "energy_lo_j", o->p->energy_lo_j);
    wp_json_kdouble(&j, "energy_hi_j", o->p->energy_hi_j);
    wp_json_obj_end(&j);
    return wp_json_end(&j);
}

static int cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {{"gpus", required_argument, NULL, O_GPUS},
                                         {"tflops-per-gpu", required_argument, NULL, O_TFLOPS},
                                         {"hours", required_argument, NULL, O_HOURS},
                                         {"other-w", required_argument, NULL, O_OTHER},
                                         {"json", required_argument, NULL, O_JSON},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    double gpus = NAN, x = NAN, hours = NAN, other = 0;
    const char *json = NULL;
    bool force = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case O_GPUS:
            if (parse_pos(optarg, &gpus) < 0 || gpus < 1 || gpus > 1e6 || gpus != floor(gpus))
                return bad_number("--gpus", optarg);
            break;
        case O_TFLOPS:
            if (parse_pos(optarg, &x) < 0)
                return bad_number("--tflops-per-gpu", optarg);
            break;
        case O_HOURS:
            if (parse_pos(optarg, &hours) < 0 || !(hours > 0))
                return bad_number("--hours", optarg);
            break;
        case O_OTHER:
            if (parse_pos(optarg, &other) < 0)
                return bad_number("--other-w", optarg);
            break;
        default:
            rc = cli_plan_option(c, "model", model_usage, O_JSON, &json, &force);
            if (rc != CLI_OPT_DONE)
                return rc == CLI_OPT_HELP ? 0 : rc;
        }
    }
    if (optind != argc - 1 || isnan(gpus) || isnan(x) || isnan(hours)) {
        cli_error("model", "predict wants MODEL.json, --gpus N, --tflops-per-gpu X and --hours H");
        return WP_EXIT_USAGE;
    }
    if ((rc = cli_check_not_input("model", json, (const char *const *)(argv + optind), 1)) != 0)
        return rc;
    struct wp_model m;
    struct wp_err err = {0};
    int r = wp_model_read_json(argv[optind], &m, &err);
    if (r < 0) {
        cli_error("model", "%s", err.msg);
        return r == -EINVAL ? WP_EXIT_DATAERR : WP_EXIT_NOINPUT;
    }
    struct wp_model_prediction p;
    wp_model_predict(&m, (int)gpus, x, hours, other, &p);
    FILE *f = json && strcmp(json, "-") == 0 ? stderr : stdout;
    fprintf(f, "%s model, %d GPUs at %.1f TFLOP/s each for %.2f h:\n", m.gpu, (int)gpus, x, hours);
    fprintf(f, "  per GPU      %.0f W\n", p.per_gpu_w);
    fprintf(f, "  mean         %.0f W (GPUs%s)\n", p.mean_w, other > 0 ? " + other" : " only");
    if (isfinite(p.p99_w))
        fprintf(f, "  p99 (20 ms)  %.0f W\n", p.p99_w);
    if (isfinite(p.peak_w))
        fprintf(f, "  peak (20 ms) %.0f W\n", p.peak_w);
    fprintf(f, "  energy       %.1f kWh (%.1f to %.1f: the largest held-out error of the fit)\n",
            p.energy_j / 3.6e6, p.energy_lo_j / 3.6e6, p.energy_hi_j / 3.6e6);
    fprintf(f,
            "measured: the model's fit; assumed: the load (%.1f TFLOP/s), other %.0f W, GPUs "
            "in step for the peaks\n",
            x, other);
    if (isfinite(m.limit_w) && p.per_gpu_w > m.limit_w * 1.02)
        cli_warn("model",
                 "%.0f W per GPU is above the %.0f W limit the model was fitted at: "
                 "the load lies outside the fitted range",
                 p.per_gpu_w, m.limit_w);
    rc = 0;
    if (json) {
        struct pred_out po = {&p, (int)gpus, x, hours, other, &m};
        rc = cli_write_output("model", json, force, write_pred, &po);
    }
    wp_model_free(&m);
    return rc;
}

int cmd_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(model_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? WP_EXIT_USAGE : 0;
    }
    /* getopt's messages name the subcommand: "wattprof model fit: unrecognized option" */
    const char *sub = argv[1];
    char name[64];
    snprintf(name, sizeof(name), "%s %s", argv[0], sub);
    argv[1] = name;
    if (strcmp(sub, "fit") == 0)
        return cmd_fit(argc - 1, argv + 1);
    if (strcmp(sub, "predict") == 0)
        return cmd_predict(argc - 1, argv + 1);
    cli_error("model", "'%s' is not a model command: fit or predict", sub);
    return WP_EXIT_USAGE;
}
