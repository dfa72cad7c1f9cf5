/* wattprof plan rack | carbon | cooling: decisions from measured traces. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/emissions.h"
#include "cli/cli.h"
#include "core/json.h"
#include "core/str.h"
#include "plan/carbon.h"
#include "plan/model.h"
#include "plan/rack.h"
#include "plan/timefmt.h"

static const char plan_usage[] =
    "usage: wattprof plan rack INPUT... --budget-w W [options]\n"
    "       wattprof plan carbon JOB --intensity FILE|ZONE --now TIME --deadline TIME|DUR\n"
    "       wattprof plan cooling --power-w W [options]\n"
    "\n"
    "Every plan prints a short table, says which inputs are measurements and which are\n"
    "assumptions, and writes JSON with --json FILE (- for stdout). docs/plan.md explains the\n"
    "methods and the sources of every default.\n"
    "\n"
    "rack: how many nodes fit a power budget. Each INPUT (a trace or `wattprof export --csv`\n"
    "output) gives one node's power: its GPUs summed on a 20 ms grid, scaled to\n"
    "--gpus-per-node, plus --other-w. Monte Carlo draws a time shift per node (one for all\n"
    "with --in-step: a synchronous job whose peaks align) and gives rack power at 20 ms, 1 s\n"
    "and 1 min, the chance of exceeding the usable budget, and the most nodes that keep that\n"
    "chance (over 1 s means) at or below --risk, beside the count the nameplate allows.\n"
    "  --budget-w W        the rack's (PDU's, breaker's) rating\n"
    "  --derate F          usable share of it (default 0.8: NEC 210.19/210.20, continuous load)\n"
    "  --nodes N           nodes for the distribution (default: the count that fits)\n"
    "  --in-step           all nodes run one job in step (default: independent jobs)\n"
    "  --gpus-per-node G   scale each input's GPUs to G (default: as recorded; inputs of\n"
    "                      different GPU counts need it)\n"
    "  --other-w W         rest of a node: CPUs, fans, NICs, PSU losses (default 0)\n"
    "  --node-rated-w W    nameplate of a node (default 10200 W for 8 GPUs: NVIDIA DGX/HGX\n"
    "                      H100/H200; else GPUs x 700 W + --other-w)\n"
    "  --risk P            accepted chance of exceeding (default 0.001)\n"
    "  --window A:B        use seconds A to B of each input (e.g. its training phases)\n"
    "  --max-nodes N       stop counting at N (default 256)\n"
    "  --trials N, --seed S  Monte Carlo draws (default 200) and seed (default 1)\n"
    "  e.g. wattprof plan rack llama.csv.gz resnet.csv.gz --gpus-per-node 8 --other-w 2240 \\\n"
    "         --budget-w 40000\n"
    "\n"
    "carbon: the start time before a deadline that emits least. JOB is --trace T (its power\n"
    "profile; --hours H repeats it to H hours), --power-kw P --hours H, or --model M.json\n"
    "--gpus N --tflops-per-gpu X --hours H [--other-w W]. Starts are the series' slot\n"
    "boundaries; a start whose run meets a blank slot is skipped and counted.\n"
    "  --intensity FILE|ZONE  the series (see `wattprof report --help`)\n"
    "  --now TIME          earliest start (2022-07-01T00:00Z; default: the current time)\n"
    "  --deadline T|DUR    finish by this time, or this long after --now (36h, 2d)\n"
    "  --pue X             facility / IT power (default 1.0)\n"
    "  --restart-kwh E     also plan a job that pauses at hourly checkpoints, each resume\n"
    "                      costing E kWh\n"
    "  e.g. wattprof plan carbon --power-kw 10 --hours 6 --intensity CISO \\\n"
    "         --now 2022-07-01T00:00Z --deadline 48h --restart-kwh 2\n"
    "\n"
    "cooling: heat and coolant for a power draw.\n"
    "  --power-w W         the IT power (all of it becomes heat)\n"
    "  --air-dt K          air temperature rise, inlet to outlet (default 12 K)\n"
    "  --water-dt K        coolant temperature rise (default 10 K)\n"
    "  --cooling air|rdhx|dlc  picks the default PUE (1.58, 1.30, 1.06: sources in --help of\n"
    "                      docs/plan.md), or --pue X\n"
    "  e.g. wattprof plan cooling --power-w 40000 --cooling dlc --water-dt 8\n"
    "\n"
    "exit status: 0, 64 usage, 65 bad input data, 66 cannot read an input, 70 internal error,\n"
    "73 FILE exists or cannot be created, 74 writing FILE failed.\n";

enum {
    O_BUDGET = 0x3000,
    O_DERATE,
    O_NODES,
    O_IN_STEP,
    O_GPN,
    O_OTHER,
    O_RATED,
    O_RISK,
    O_TRIALS,
    O_SEED,
    O_JSON,
    O_TRACE,
    O_HOURS,
    O_POWER_KW,
    O_MODEL,
    O_GPUS,
    O_TFLOPS,
    O_INTENSITY,
    O_NOW,
    O_DEADLINE,
    O_PUE,
    O_RESTART,
    O_POWER_W,
    O_AIR_DT,
    O_WATER_DT,
    O_COOLING,
    O_MAX_NODES,
    O_WINDOW
};

static int num(const char *opt, const char *arg, double lo, double hi, double *out)
{
    char *end;
    double v = wp_strtod_dec(arg, &end);
    if (end == arg || *end || !(v >= lo && v <= hi)) {
        cli_error("plan", "%s wants a number from %g to %g, not '%s'", opt, lo, hi, arg);
        return WP_EXIT_USAGE;
    }
    *out = v;
    return 0;
}

/* ---------------- rack ---------------- */
struct rack_out {
    const struct wp_rack_result *r;
    const struct wp_rack_opts *o;
    size_t fit, nameplate, ninputs;
    double node_rated_w, other_w, risk;
    int gpn;
    const char *const *inputs;
};

static const char *const level_name[WP_RACK_LEVELS] = {"20ms", "1s", "1min"};

static int write_rack(FILE *f, void *ctx)
{
    struct rack_out *x = ctx;
    struct wp_json j;
    wp_json_init(&j, f, 2);
    wp_json_obj_begin(&j);
    wp_json_key(&j, "inputs");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < x->ninputs; i++)
        wp_json_str(&j, x->inputs[i]);
    wp_json_arr_end(&j);
    wp_json_key(&j, "assumptions");
    wp_json_obj_begin(&j);
    wp_json_kint(&j, "gpus_per_node", x->gpn);
    wp_json_kdouble(&j, "other_w", x->other_w);
    wp_json_kdouble(&j, "derate", x->o->derate);
    wp_json_kdouble(&j, "node_rated_w", x->node_rated_w);
    wp_json_kbool(&j, "in_step", x->o->in_step);
    wp_json_kuint(&j, "trials", x->o->trials);
    wp_json_kuint(&j, "seed", x->o->seed);
    wp_json_obj_end(&j);
    wp_json_kdouble(&j, "budget_w", x->o->budget_w);
    wp_json_kdouble(&j, "usable_w", x->r->usable_w);
    wp_json_kuint(&j, "nodes", x->o->nodes);
    wp_json_key(&j, "rack_power");
    wp_json_obj_begin(&j);
    for (int l = 0; l < WP_RACK_LEVELS; l++) {
        const struct wp_rack_level *lv = &x->r->level[l];
        wp_json_key(&j, level_name[l]);
        wp_json_obj_begin(&j);
        wp_json_kdouble(&j, "mean_w", lv->mean_w);
        wp_json_kdouble(&j, "p50_w", lv->p50_w);
        wp_json_kdouble(&j, "p99_w", lv->p99_w);
        wp_json_kdouble(&j, "p999_w", lv->p999_w);
        wp_json_kdouble(&j, "max_w", lv->max_w);
        wp_json_kdouble(&j, "p_exceed", lv->p_exceed);
        wp_json_obj_end(&j);
    }
    wp_json_obj_end(&j);
    wp_json_kdouble(&j, "risk", x->risk);
    wp_json_kuint(&j, "nodes_fit_at_risk", x->fit);
    wp_json_kuint(&j, "nodes_by_nameplate", x->nameplate);
    wp_json_obj_end(&j);
    return wp_json_end(&j);
}

static int cmd_rack(int argc, char **argv)
{
    static const struct option opts[] = {{"budget-w", required_argument, NULL, O_BUDGET},
                                         {"derate", required_argument, NULL, O_DERATE},
                                         {"nodes", required_argument, NULL, O_NODES},
                                         {"in-step", no_argument, NULL, O_IN_STEP},
                                         {"gpus-per-node", required_argument, NULL, O_GPN},
                                         {"other-w", required_argument, NULL, O_OTHER},
                                         {"node-rated-w", required_argument, NULL, O_RATED},
                                         {"risk", required_argument, NULL, O_RISK},
                                         {"trials", required_argument, NULL, O_TRIALS},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"max-nodes", required_argument, NULL, O_MAX_NODES},
                                         {"window", required_argument, NULL, O_WINDOW},
                                         {"json", required_argument, NULL, O_JSON},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct wp_rack_opts o = {.step_us = 20000,
                             .derate = WP_DERATE_CONTINUOUS,
                             .trials = 200,
                             .seed = 1,
                             .window_us = {20000, 1000000, 60000000},
                             .risk_level = 1};
    double budget = NAN, nodes = 0, gpn = 0, other = 0, rated = NAN, risk = 0.001, v;
    double max_nodes = 256, win_from = 0, win_to = NAN;
    const char *json = NULL;
    bool force = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case O_BUDGET:
            if ((rc = num("--budget-w", optarg, 1, 1e9, &budget)))
                return rc;
            break;
        case O_DERATE:
            if ((rc = num("--derate", optarg, 0.01, 1, &o.derate)))
                return rc;
            break;
        case O_NODES:
            if ((rc = num("--nodes", optarg, 1, 100000, &nodes)))
                return rc;
            break;
        case O_IN_STEP:
            o.in_step = true;
            break;
        case O_GPN:
            if ((rc = num("--gpus-per-node", optarg, 1, 1024, &gpn)))
                return rc;
            break;
        case O_OTHER:
            if ((rc = num("--other-w", optarg, 0, 1e6, &other)))
                return rc;
            break;
        case O_RATED:
            if ((rc = num("--node-rated-w", optarg, 1, 1e7, &rated)))
                return rc;
            break;
        case O_RISK:
            if ((rc = num("--risk", optarg, 0, 1, &risk)))
                return rc;
            break;
        case O_TRIALS:
            if ((rc = num("--trials", optarg, 1, 1e6, &v)))
                return rc;
            o.trials = (size_t)v;
            break;
        case O_SEED:
            if ((rc = num("--seed", optarg, 0, 1e18, &v)))
                return rc;
            o.seed = (uint64_t)v;
            break;
        case O_WINDOW: {
            char *end;
            win_from = wp_strtod_dec(optarg, &end);
            if (*end == ':')
                win_to = wp_strtod_dec(end + 1, &end);
            if (*end || !(win_from >= 0) || !(win_to > win_from)) {
                cli_error("plan",
                          "--window wants A:B, seconds from each input's start (e.g. "
                          "28.9:89.5), not '%s'",
                          optarg);
                return WP_EXIT_USAGE;
            }
            break;
        }
        case O_MAX_NODES:
            if ((rc = num("--max-nodes", optarg, 1, 100000, &max_nodes)))
                return rc;
            break;
        default:
            rc = cli_plan_option(c, "plan", plan_usage, O_JSON, &json, &force);
            if (rc != CLI_OPT_DONE)
                return rc == CLI_OPT_HELP ? 0 : rc;
        }
    }
    if (optind >= argc || isnan(budget)) {
        cli_error("plan", "rack wants node inputs (traces or export CSV) and --budget-w W");
        return WP_EXIT_USAGE;
    }
    size_t nin = (size_t)(argc - optind);
    if (json &&
        ((rc = cli_check_output("plan", json, force)) != 0 ||
         (rc = cli_check_not_input("plan", json, (const char *const *)(argv + optind), nin)) != 0))
        return rc;
    struct wp_rack_node *nd = calloc(nin, sizeof(*nd));
    double **bufs = calloc(nin, sizeof(double *));
    rc = 0;
    if (!nd || !bufs) {
        cli_error("plan", "out of memory");
        rc = WP_EXIT_SOFTWARE;
        goto out;
    }
    /* With --json - the JSON alone goes to stdout; every line of text to stderr. */
    FILE *f = json && strcmp(json, "-") == 0 ? stderr : stdout;
    int gpn_used = 0;
    for (size_t i = 0; i < nin; i++) {
        struct wp_err err = {0};
        size_t n;
        int ng;
        int r = wp_gpu_power_grid(argv[optind + (int)i], o.step_us, win_from, win_to, &bufs[i], &n,
                                  &ng, &err);
        if (r < 0) {
            cli_error("plan", "%s", err.msg);
            rc = r == -ENOENT || r == -EACCES ? WP_EXIT_NOINPUT
                 : r == -ENOMEM               ? WP_EXIT_SOFTWARE
                                              : WP_EXIT_DATAERR;
            goto out;
        }
        if (gpn <= 0 && i > 0 && ng != gpn_used) {
            /* the node's rating and "G GPUs a node" would be whichever input came last */
            cli_error("plan",
                      "%s recorded %d GPUs and %s %d: give --gpus-per-node G to scale every "
                      "input to the node's GPUs",
                      argv[optind], gpn_used, argv[optind + (int)i], ng);
            rc = WP_EXIT_USAGE;
            goto out;
        }
        double scale = gpn > 0 ? gpn / ng : 1.0;
        gpn_used = gpn > 0 ? (int)gpn : ng;
        for (size_t k = 0; k < n; k++)
            bufs[i][k] = bufs[i][k] * scale + other;
        nd[i] = (struct wp_rack_node){n, bufs[i]};
        fprintf(f, "node %zu: %s, %d GPUs recorded%s, %.1f s at 20 ms\n", i + 1,
                argv[optind + (int)i], ng, gpn > 0 ? " scaled to the node's GPUs" : "",
                (double)n * 0.02);
    }
    o.budget_w = budget;
    if (isnan(rated))
        rated = gpn_used == 8 ? WP_HGX_8GPU_RATED_W : gpn_used * WP_TDP_H100_H200_W + other;
    size_t nameplate = (size_t)floor(budget * o.derate / rated + 1e-9);
    struct wp_err err = {0};
    size_t fit = 0;
    if (wp_rack_max_nodes(nd, nin, &o, risk, (size_t)max_nodes, &fit, &err) < 0) {
        cli_error("plan", "%s", err.msg);
        rc = WP_EXIT_DATAERR;
        goto out;
    }
    o.nodes = nodes > 0 ? (size_t)nodes : (fit > 0 ? fit : 1);
    struct wp_rack_result r;
    if (wp_rack_simulate(nd, nin, &o, &r, &err) < 0) {
        cli_error("plan", "%s", err.msg);
        rc = WP_EXIT_DATAERR;
        goto out;
    }
    fprintf(f, "\nrack of %zu nodes, %s; budget %.0f W x %.2f = %.0f W usable\n", o.nodes,
            o.in_step ? "in step (one synchronous job)" : "independent jobs (random phase)", budget,
            o.derate, r.usable_w);
    fprintf(f, "%-6s %10s %10s %10s %10s %10s %10s\n", "window", "mean W", "p50 W", "p99 W",
            "p99.9 W", "max W", "P(>usable)");
    for (int l = 0; l < WP_RACK_LEVELS; l++) {
        const struct wp_rack_level *lv = &r.level[l];
        if (!lv->valid) {
            fprintf(f, "%-6s  (inputs shorter than the window)\n", level_name[l]);
            continue;
        }
        fprintf(f, "%-6s %10.0f %10.0f %10.0f %10.0f %10.0f %10.4f\n", level_name[l], lv->mean_w,
                lv->p50_w, lv->p99_w, lv->p999_w, lv->max_w, lv->p_exceed);
    }
    fprintf(f, "nodes that fit at risk %g (1 s means): %zu%s; by nameplate (%.0f W a node): %zu\n",
            risk, fit, fit == (size_t)max_nodes ? " (the --max-nodes cap)" : "", rated, nameplate);
    fprintf(f,
            "measured: the GPUs' power at 20 ms; assumed: %d GPUs a node moving in step "
            "within it, other %.0f W flat, derating %.2f, node rating %.0f W, %zu trials\n",
            gpn_used, other, o.derate, rated, o.trials);
    if (json) {
        struct rack_out x = {&r,    &o,    fit,  nameplate, nin,
                             rated, other, risk, gpn_used,  (const char *const *)(argv + optind)};
        rc = cli_write_output("plan", json, force, write_rack, &x);
    }
out:
    if (bufs)
        for (size_t i = 0; i < nin; i++)
            free(bufs[i]);
    free(bufs);
    free(nd);
    return rc;
}

/* ---------------- carbon ---------------- */
/* kg or kWh to three decimals, or three significant digits below 1 (a short job's 0.00042 kg
 * is not 0.000) */
static const char *fmt_small(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, fabs(v) >= 1 || v == 0 ? "%.3f" : "%.3g", v);
    return buf;
}

static int parse_duration_or_time(const char *s, int64_t now_us, int64_t *out)
{
    double sec;
    if (cli_parse_seconds(s, &sec) == 0 && !strchr(s, '-')) {
        *out = now_us + (int64_t)(sec * 1e6);
        return 0;
    }
    if (strlen(s) > 1 && s[strlen(s) - 1] == 'd') {
        char *end;
        double d = wp_strtod_dec(s, &end);
        if (end == s + strlen(s) - 1 && d > 0 && d <= 365) {
            *out = now_us + (int64_t)(d * 86400e6);
            return 0;
        }
    }
    return wp_time_parse(s, out);
}

struct carbon_out {
    const struct wp_carbon_plan *p;
    const struct wp_carbon_opts *o;
    const char *source;
    const char *job;
    double job_kwh, job_h;
};

static void ktime(struct wp_json *j, const char *k, int64_t t)
{
    char b[40];
    wp_time_format(t, b, sizeof(b));
    wp_json_kstr(j, k, b);
}

static int write_carbon(FILE *f, void *ctx)
{
    struct carbon_out *x = ctx;
    struct wp_json j;
    wp_json_init(&j, f, 2);
    wp_json_obj_begin(&j);
    wp_json_kstr(&j, "job", x->job);
    wp_json_kdouble(&j, "job_hours", x->job_h);
    wp_json_kdouble(&j, "job_it_kwh", x->job_kwh);
    wp_json_kstr(&j, "intensity_source", x->source);
    wp_json_kdouble(&j, "pue", x->o->pue);
    ktime(&j, "now", x->o->now_us);
    ktime(&j, "deadline", x->o->deadline_us);
    if (x->p->found)
        ktime(&j, "best_start", x->p->best_start_us);
    else
        wp_json_knull(&j, "best_start");
    wp_json_kdouble(&j, "kg_co2e_best", x->p->kg_co2e_best);
    wp_json_kdouble(&j, "kg_co2e_now", x->p->kg_co2e_now);
    wp_json_kdouble(&j, "saving_pct",
                    (x->p->kg_co2e_now - x->p->kg_co2e_best) / x->p->kg_co2e_now * 100);
    wp_json_kuint(&j, "candidates", x->p->candidates);
    wp_json_kuint(&j, "skipped_blank", x->p->skipped_blank);
    if (x->o->restart_kwh >= 0) {
        wp_json_key(&j, "split");
        wp_json_obj_begin(&j);
        wp_json_kdouble(&j, "restart_kwh", x->o->restart_kwh);
        wp_json_kdouble(&j, "kg_co2e", x->p->kg_co2e_split);
        wp_json_kuint(&j, "pauses", x->p->pauses);
        wp_json_key(&j, "chunk_starts");
        wp_json_arr_begin(&j);
        for (size_t i = 0; x->p->split_found && i < x->p->nchunks; i++) {
            char b[40];
            wp_time_format(x->p->chunk_start_us[i], b, sizeof(b));
            wp_json_str(&j, b);
        }
        wp_json_arr_end(&j);
        wp_json_obj_end(&j);
    }
    wp_json_obj_end(&j);
    return wp_json_end(&j);
}

/* Repeats p's bins to fill `hours` (a trace of a minute stands for a job of many hours). */
static int stretch(struct wp_profile *p, double hours)
{
    size_t want = (size_t)ceil(hours * 3600e6 / (double)p->bin_us);
    double *e = malloc(want * sizeof(double));
    if (!e)
        return -ENOMEM;
    for (size_t i = 0; i < want; i++)
        e[i] = p->energy_j[i % p->n];
    free(p->energy_j);
    p->energy_j = e;
    p->n = want;
    return 0;
}

static int cmd_carbon(int argc, char **argv)
{
    static const struct option opts[] = {{"trace", required_argument, NULL, O_TRACE},
                                         {"hours", required_argument, NULL, O_HOURS},
                                         {"power-kw", required_argument, NULL, O_POWER_KW},
                                         {"model", required_argument, NULL, O_MODEL},
                                         {"gpus", required_argument, NULL, O_GPUS},
                                         {"tflops-per-gpu", required_argument, NULL, O_TFLOPS},
                                         {"other-w", required_argument, NULL, O_OTHER},
                                         {"intensity", required_argument, NULL, O_INTENSITY},
                                         {"now", required_argument, NULL, O_NOW},
                                         {"deadline", required_argument, NULL, O_DEADLINE},
                                         {"pue", required_argument, NULL, O_PUE},
                                         {"restart-kwh", required_argument, NULL, O_RESTART},
                                         {"json", required_argument, NULL, O_JSON},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *trace = NULL, *model = NULL, *intensity = NULL, *now_s = NULL, *deadline_s = NULL;
    const char *json = NULL;
    double hours = NAN, power_kw = NAN, gpus = NAN, tflops = NAN, other = 0;
    struct wp_carbon_opts o = {.pue = 1.0, .restart_kwh = -1};
    bool force = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case O_TRACE:
            trace = optarg;
            break;
        case O_MODEL:
            model = optarg;
            break;
        case O_HOURS:
            if ((rc = num("--hours", optarg, 1.0 / 3600, 24 * 365, &hours)))
                return rc;
            break;
        case O_POWER_KW:
            if ((rc = num("--power-kw", optarg, 0, 1e6, &power_kw)))
                return rc;
            break;
        case O_GPUS:
            if ((rc = num("--gpus", optarg, 1, 1e6, &gpus)))
                return rc;
            break;
        case O_TFLOPS:
            if ((rc = num("--tflops-per-gpu", optarg, 0, 1e5, &tflops)))
                return rc;
            break;
        case O_OTHER:
            if ((rc = num("--other-w", optarg, 0, 1e7, &other)))
                return rc;
            break;
        case O_INTENSITY:
            intensity = optarg;
            break;
        case O_NOW:
            now_s = optarg;
            break;
        case O_DEADLINE:
            deadline_s = optarg;
            break;
        case O_PUE:
            if (cli_parse_pue(optarg, &o.pue) < 0) {
                cli_error("plan", "--pue wants a number from 1 to 5, not '%s'", optarg);
                return WP_EXIT_USAGE;
            }
            break;
        case O_RESTART:
            if ((rc = num("--restart-kwh", optarg, 0, 1e6, &o.restart_kwh)))
                return rc;
            break;
        default:
            rc = cli_plan_option(c, "plan", plan_usage, O_JSON, &json, &force);
            if (rc != CLI_OPT_DONE)
                return rc == CLI_OPT_HELP ? 0 : rc;
        }
    }
    int jobs = !!trace + !isnan(power_kw) + !!model;
    if (optind != argc || jobs != 1 || !intensity || !deadline_s) {
        cli_error("plan", "carbon wants one job (--trace T, --power-kw P --hours H, or --model M "
                          "...), --intensity and --deadline");
        return WP_EXIT_USAGE;
    }
    if ((!trace && isnan(hours)) || (model && (isnan(gpus) || isnan(tflops)))) {
        cli_error("plan", "carbon: --power-kw and --model need --hours (and --model --gpus and "
                          "--tflops-per-gpu)");
        return WP_EXIT_USAGE;
    }
    o.now_us = (int64_t)time(NULL) * 1000000;
    if (now_s && wp_time_parse(now_s, &o.now_us) < 0) {
        cli_error("plan", "--now wants a time like 2022-07-01T00:00Z, not '%s'", now_s);
        return WP_EXIT_USAGE;
    }
    if (parse_duration_or_time(deadline_s, o.now_us, &o.deadline_us) < 0 ||
        o.deadline_us <= o.now_us) {
        cli_error("plan", "--deadline wants a time after --now or a duration (36h, 2d), not '%s'",
                  deadline_s);
        return WP_EXIT_USAGE;
    }
    const char *job_in[] = {trace, model, intensity};
    if (json && ((rc = cli_check_output("plan", json, force)) != 0 ||
                 (rc = cli_check_not_input("plan", json, job_in, 3)) != 0))
        return rc;
    struct wp_intensity ci;
    if ((rc = cli_load_intensity("plan", intensity, &ci)) != 0)
        return rc;
    struct wp_profile p = {0};
    struct wp_err err = {0};
    char job[400];
    rc = 0;
    if (trace) {
        struct wp_trace *t = NULL;
        int r = wp_trace_open(&t, trace, &err);
        struct wp_summary s;
        memset(&s, 0, sizeof(s));
        if (r == 0)
            r = wp_summary_compute(t, &s, &err);
        char basis[96];
        if (r == 0)
            r = wp_run_profile(t, &s, &p, basis, sizeof(basis), &err);
        if (r == 0 && !isnan(hours))
            r = stretch(&p, hours) < 0 ? wp_errf(&err, -ENOMEM, "out of memory") : 0;
        snprintf(job, sizeof(job), "trace %s (%s)%s", trace, r == 0 ? basis : "",
                 isnan(hours) ? "" : ", repeated to --hours");
        wp_summary_free(&s);
        wp_trace_free(t);
        if (r < 0) {
            cli_error("plan", "%s", err.msg);
            rc = r == -ENOENT ? WP_EXIT_NOINPUT : WP_EXIT_DATAERR;
            goto out;
        }
    } else {
        double w = power_kw * 1e3;
        if (model) {
            struct wp_model m;
            int r = wp_model_read_json(model, &m, &err);
            if (r < 0) {
                cli_error("plan", "%s", err.msg);
                rc = r == -EINVAL ? WP_EXIT_DATAERR : WP_EXIT_NOINPUT;
                goto out;
            }
            struct wp_model_prediction pr;
            wp_model_predict(&m, (int)gpus, tflops, hours, other, &pr);
            w = pr.mean_w;
            snprintf(job, sizeof(job), "model %s: %d GPUs at %.1f TFLOP/s + %.0f W = %.0f W", model,
                     (int)gpus, tflops, other, w);
            wp_model_free(&m);
        } else {
            snprintf(job, sizeof(job), "constant %.3f kW", power_kw);
        }
        if (wp_profile_init(&p, 0, (int64_t)llround(hours * 3600e6), 1000000) < 0) {
            rc = WP_EXIT_SOFTWARE;
            goto out;
        }
        for (size_t i = 0; i < p.n; i++)
            p.energy_j[i] = w;
    }
    struct wp_carbon_plan plan;
    if (wp_carbon_plan(&p, &ci, &o, &plan, &err) < 0) {
        cli_error("plan", "%s", err.msg);
        rc = WP_EXIT_DATAERR;
        goto out;
    }
    double kwh = 0;
    for (size_t i = 0; i < p.n; i++)
        kwh += p.energy_j[i] / 3.6e6;
    double job_h = (double)p.n * (double)p.bin_us / 3.6e9;
    FILE *f = json && strcmp(json, "-") == 0 ? stderr : stdout;
    char a[40], b[40];
    wp_time_format(o.now_us, a, sizeof(a));
    wp_time_format(o.deadline_us, b, sizeof(b));
    char n1[32], n2[32];
    fprintf(f, "job: %s, %.2f h, %s kWh IT (x PUE %.2f)\n", job, job_h,
            fmt_small(n1, sizeof(n1), kwh), o.pue);
    fprintf(f, "intensity: %s; window %s to %s\n", ci.source, a, b);
    if (isfinite(plan.kg_co2e_now))
        fprintf(f, "start now (%s):     %s kg CO2e\n", a,
                fmt_small(n1, sizeof(n1), plan.kg_co2e_now));
    else
        fprintf(f,
                "start now (%s):     unknown (a blank slot, outside the series, or past "
                "the deadline)\n",
                a);
    if (plan.found) {
        wp_time_format(plan.best_start_us, b, sizeof(b));
        fprintf(f, "best start %s: %s kg CO2e", b, fmt_small(n1, sizeof(n1), plan.kg_co2e_best));
        if (isfinite(plan.kg_co2e_now) && plan.kg_co2e_now > 0)
            fprintf(f, " (%.1f %% less)",
                    (plan.kg_co2e_now - plan.kg_co2e_best) / plan.kg_co2e_now * 100);
        fprintf(f, "\n");
    } else {
        fprintf(f, "no start fits before the deadline with an intensity for every hour\n");
    }
    fprintf(f, "starts considered: %zu (slot boundaries), skipped for blank slots: %zu\n",
            plan.candidates, plan.skipped_blank);
    if (o.restart_kwh >= 0) {
        if (plan.split_found)
            fprintf(f,
                    "pausing at hourly checkpoints (%s kWh a resume): %s kg CO2e with %zu "
                    "pause%s\n",
                    fmt_small(n2, sizeof(n2), o.restart_kwh),
                    fmt_small(n1, sizeof(n1), plan.kg_co2e_split), plan.pauses,
                    plan.pauses == 1 ? "" : "s");
        else
            fprintf(f, "pausing: no split fits before the deadline\n");
    }
    fprintf(f, "measured: %s; assumed: PUE %.2f%s\n",
            trace ? "the job's power profile, the grid's intensity" : "the grid's intensity", o.pue,
            trace ? "" : ", the job's power");
    if (json) {
        struct carbon_out x = {&plan, &o, ci.source, job, kwh, job_h};
        rc = cli_write_output("plan", json, force, write_carbon, &x);
    }
    wp_carbon_plan_free(&plan);
out:
    wp_profile_free(&p);
    wp_intensity_free(&ci);
    return rc;
}

/* ---------------- cooling ---------------- */
struct cool_ctx {
    const struct wp_cooling_need *n;
    double air_dt, water_dt, pue;
    const char *tech, *src;
};

static int write_cooling(FILE *f, void *ctx)
{
    struct cool_ctx *x = ctx;
    struct wp_json j;
    wp_json_init(&j, f, 2);
    wp_json_obj_begin(&j);
    wp_json_kdouble(&j, "heat_w", x->n->heat_w);
    wp_json_kdouble(&j, "air_dt_k", x->air_dt);
    wp_json_kdouble(&j, "air_m3_per_h", x->n->air_m3_per_h);
    wp_json_kdouble(&j, "air_cfm", x->n->air_cfm);
    wp_json_kdouble(&j, "water_dt_k", x->water_dt);
    wp_json_kdouble(&j, "water_l_per_min", x->n->water_l_per_min);
    wp_json_kstr(&j, "cooling", x->tech);
    wp_json_kdouble(&j, "pue", x->pue);
    wp_json_kstr(&j, "pue_source", x->src);
    wp_json_kdouble(&j, "facility_w", x->n->facility_w);
    wp_json_obj_end(&j);
    return wp_json_end(&j);
}

static int cmd_cooling(int argc, char **argv)
{
    static const struct option opts[] = {{"power-w", required_argument, NULL, O_POWER_W},
                                         {"air-dt", required_argument, NULL, O_AIR_DT},
                                         {"water-dt", required_argument, NULL, O_WATER_DT},
                                         {"cooling", required_argument, NULL, O_COOLING},
                                         {"pue", required_argument, NULL, O_PUE},
                                         {"json", required_argument, NULL, O_JSON},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    double power = NAN, air_dt = 12, water_dt = 10, pue = NAN;
    enum wp_cooling tech = WP_COOL_AIR;
    const char *json = NULL;
    bool force = false;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case O_POWER_W:
            if ((rc = num("--power-w", optarg, 0, 1e9, &power)))
                return rc;
            break;
        case O_AIR_DT:
            if ((rc = num("--air-dt", optarg, 0.5, 60, &air_dt)))
                return rc;
            break;
        case O_WATER_DT:
            if ((rc = num("--water-dt", optarg, 0.5, 60, &water_dt)))
                return rc;
            break;
        case O_COOLING:
            if (wp_cooling_parse(optarg, &tech) < 0) {
                cli_error("plan", "--cooling is air, rdhx or dlc, not '%s'", optarg);
                return WP_EXIT_USAGE;
            }
            break;
        case O_PUE:
            if (cli_parse_pue(optarg, &pue) < 0) {
                cli_error("plan", "--pue wants a number from 1 to 5, not '%s'", optarg);
                return WP_EXIT_USAGE;
            }
            break;
        default:
            rc = cli_plan_option(c, "plan", plan_usage, O_JSON, &json, &force);
            if (rc != CLI_OPT_DONE)
                return rc == CLI_OPT_HELP ? 0 : rc;
        }
    }
    if (optind != argc) {
        cli_error("plan",
                  "cooling takes only options; '%s' is not one (e.g. plan "
                  "cooling --power-w 40000 --cooling dlc)",
                  argv[optind]);
        return WP_EXIT_USAGE;
    }
    if (isnan(power)) {
        cli_error("plan", "cooling wants --power-w W (e.g. a rack's p99 from `plan rack`)");
        return WP_EXIT_USAGE;
    }
    bool pue_default = isnan(pue);
    if (pue_default)
        pue = wp_cooling_default_pue(tech);
    struct wp_cooling_need nd;
    wp_cooling_compute(power, air_dt, water_dt, pue, &nd);
    FILE *f = json && strcmp(json, "-") == 0 ? stderr : stdout;
    fprintf(f, "heat load          %.0f W (all IT power becomes heat)\n", nd.heat_w);
    fprintf(f, "air flow           %.0f m3/h = %.0f CFM at a %.1f K rise\n", nd.air_m3_per_h,
            nd.air_cfm, air_dt);
    fprintf(f, "coolant flow       %.1f L/min of water at a %.1f K rise\n", nd.water_l_per_min,
            water_dt);
    fprintf(f, "facility power     %.0f W at PUE %.2f (%s)\n", nd.facility_w, pue,
            pue_default ? wp_cooling_pue_source(tech) : "given");
    fprintf(f,
            "assumed: air %.3f kg/m3, cp %.0f J/(kg K); water cp %.0f J/(kg K), %.0f kg/m3; "
            "the power given\n",
            WP_AIR_DENSITY_KG_M3, WP_AIR_CP_J_KG_K, WP_WATER_CP_J_KG_K, WP_WATER_DENSITY_KG_M3);
    if (!json)
        return 0;
    struct cool_ctx x = {&nd,
                         air_dt,
                         water_dt,
                         pue,
                         wp_cooling_name(tech),
                         pue_default ? wp_cooling_pue_source(tech) : "given"};
    return cli_write_output("plan", json, force, write_cooling, &x);
}

int cmd_plan(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(plan_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? WP_EXIT_USAGE : 0;
    }
    /* getopt's messages name the subcommand: "wattprof plan rack: unrecognized option" */
    const char *sub = argv[1];
    char name[64];
    snprintf(name, sizeof(name), "%s %s", argv[0], sub);
    argv[1] = name;
    if (strcmp(sub, "rack") == 0)
        return cmd_rack(argc - 1, argv + 1);
    if (strcmp(sub, "carbon") == 0)
        return cmd_carbon(argc - 1, argv + 1);
    if (strcmp(sub, "cooling") == 0)
        return cmd_cooling(argc - 1, argv + 1);
    cli_error("plan", "'%s' is not a plan command: rack, carbon or cooling", sub);
    return WP_EXIT_USAGE;
}
