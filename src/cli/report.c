/* wattprof report: the summary of a recorded trace. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/emissions.h"
#include "cli/cli.h"
#include "plan/carbon.h"
#include "plan/timefmt.h"
#include "store/trace.h"

static const char report_usage[] =
    "usage: wattprof report TRACE [--json FILE] [--force] [--rated-w W]\n"
    "                      [--intensity FILE|ZONE|G [--pue X] [--intensity-at TIME]]\n"
    "\n"
    "Prints the summary of a trace made by `wattprof run -o` or `wattprof record`: per GPU\n"
    "and in total, energy from the trace and from the hardware counter, mean and peak power\n"
    "(20 ms and 1 s), 99th percentile, peak against the limit; the node: its meter (node\n"
    "input, else PDU outlets) or an estimate from its parts, the parts, what they leave\n"
    "out, and the 1 s peak against the node's rating; then the events recorded (GPU lost,\n"
    "driver faults). Works on a trace whose recorder was killed. Reads each series once in\n"
    "memory that does not grow with the trace; on a terminal, stderr shows how far. Where the\n"
    "trace holds per-process GPU utilisation, also each GPU's energy split between its\n"
    "processes, and the phases of each marks-sending process with its own share.\n"
    "\n"
    "On a cluster trace (`wattprof merge`): each node's summary under its name, then the\n"
    "cluster's totals and its aligned peak (all GPUs summed on one grid); the JSON is then\n"
    "{\"cluster\": {...}, \"nodes\": [{\"node\", \"summary\"}]}.\n"
    "\n"
    "examples:\n"
    "  wattprof report run.wptrace --json run.json\n"
    "  wattprof report job-4242.wptrace          # a merged trace: per node and cluster\n"
    "\n"
    "options:\n"
    "  --json FILE   write the summary as JSON to FILE (- for stdout)\n"
    "  -f, --force   replace FILE if it exists\n"
    "  --rated-w W   the node's rated power in watts, instead of the one recorded\n"
    "\n"
    "emissions (a block in the text, \"emissions\" in the JSON):\n"
    "  --intensity FILE|ZONE|G\n"
    "                grid carbon intensity: a CSV of timestamp,gCO2/kWh rows (gzip or\n"
    "                plain; an empty value is an hour without data), a zone whose series\n"
    "                ships with wattprof (CISO, ERCO, NYIS, PJM: EIA-930, 2022, hourly), or a\n"
    "                constant G in gCO2/kWh\n"
    "  --pue X       facility power / IT power (default 1.0: IT energy only); see\n"
    "                `wattprof plan cooling --help` for typical values and their sources\n"
    "  --intensity-at TIME\n"
    "                weigh the run as if it had started at TIME (2022-07-01T14:00Z): for a\n"
    "                series of another year than the run\n"
    "  Hours of the run that fall on blank rows or outside the series are counted in\n"
    "  hours_without_intensity and left out of kg_co2e, never guessed.\n"
    "  e.g. wattprof report run.wptrace --intensity CISO --intensity-at 2022-07-01T14:00Z\n"
    "       wattprof report run.wptrace --intensity 400 --pue 1.58 --json -\n"
    "\n"
    "exit status: 0, 64 usage, 65 not a trace or damaged (the summary of what is intact is\n"
    "still printed), 66 cannot read TRACE, 70 internal error, 73 FILE exists or cannot be\n"
    "created, 74 writing FILE failed.\n";

struct emis_ctx {
    struct wp_intensity ci;
    double pue;
    bool at_set;
    int64_t at_us;
    struct wp_run_emissions r;
};

static int emis_prepare(const struct wp_trace *t, const struct wp_summary *s, void *ctx)
{
    struct emis_ctx *c = ctx;
    struct wp_err err = {0};
    int64_t shift = c->at_set ? c->at_us - s->start_us : 0;
    int rc = wp_run_emissions(t, s, &c->ci, c->pue, shift, &c->r, &err);
    if (rc < 0) {
        cli_error("report", "cannot weigh emissions: %s", err.msg);
        return rc == -ENOMEM ? WP_EXIT_SOFTWARE : WP_EXIT_DATAERR;
    }
    if (!c->ci.constant && c->r.e.it_energy_j > 0 && isnan(c->r.e.kg_co2e)) {
        char a[32], b[32], run[32];
        wp_time_format(c->ci.t_us[0], a, sizeof(a));
        wp_time_format(c->ci.t_us[c->ci.n - 1], b, sizeof(b));
        wp_time_format(s->start_us + shift, run, sizeof(run));
        cli_warn("report",
                 "the run (%s) lies outside the intensity series (%s to %s) or on its blank "
                 "rows; give --intensity-at TIME to weigh it as if it ran inside",
                 run, a, b);
    }
    return 0;
}

static void emis_text(FILE *f, void *ctx)
{
    wp_emissions_print_text(f, &((struct emis_ctx *)ctx)->r);
}

static void emis_json(struct wp_json *j, void *ctx)
{
    wp_emissions_write_json(j, &((struct emis_ctx *)ctx)->r);
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", required_argument, NULL, 'j'},    {"force", no_argument, NULL, 'f'},
        {"rated-w", required_argument, NULL, 'r'}, {"intensity", required_argument, NULL, 'I'},
        {"pue", required_argument, NULL, 'P'},     {"intensity-at", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *json = NULL;
    bool force = false;
    double rated_w = NAN;
    const char *intensity = NULL;
    struct emis_ctx ec = {.pue = 1.0};
    bool pue_set = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'r':
            if (cli_parse_rated_w(optarg, &rated_w) < 0) {
                cli_error("report",
                          "--rated-w wants the node's rated power in watts (e.g. 10200), not '%s'",
                          optarg);
                return WP_EXIT_USAGE;
            }
            break;
        case 'I':
            intensity = optarg;
            break;
        case 'P':
            if (cli_parse_pue(optarg, &ec.pue) < 0) {
                cli_error("report", "--pue wants a number from 1 to 5 (e.g. 1.58), not '%s'",
                          optarg);
                return WP_EXIT_USAGE;
            }
            pue_set = true;
            break;
        case 'A':
            if (wp_time_parse(optarg, &ec.at_us) < 0) {
                cli_error("report", "--intensity-at wants a time like 2022-07-01T14:00Z, not '%s'",
                          optarg);
                return WP_EXIT_USAGE;
            }
            ec.at_set = true;
            break;
        case 'h':
            fputs(report_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "Try 'wattprof report --help'.\n");
            return WP_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_error("report", optind >= argc ? "no trace given; usage: wattprof report TRACE"
                                           : "one trace at a time, please");
        return WP_EXIT_USAGE;
    }
    const char *path = argv[optind];
    bool json_stdout = json && strcmp(json, "-") == 0;
    if (!intensity) {
        if (pue_set || ec.at_set) {
            cli_error("report", "--pue and --intensity-at go with --intensity");
            return WP_EXIT_USAGE;
        }
        return cli_summarize_rated("report", path, json_stdout ? stderr : stdout, json, force, true,
                                   rated_w);
    }
    int rc = cli_load_intensity("report", intensity, &ec.ci);
    if (rc != 0)
        return rc;
    struct cli_report_extra x = {emis_prepare, emis_text, emis_json, &ec};
    rc = cli_summarize_ext("report", path, json_stdout ? stderr : stdout, json, force, true,
                           rated_w, &x);
    wp_intensity_free(&ec.ci);
    return rc;
}
