/* wattprof report: the summary of a recorded trace, and its HTML report; or the comparison of
 * a sweep's runs (or of several traces) as an HTML page. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/emissions.h"
#include "analysis/summary.h"
#include "cli/cli.h"
#include "core/str.h"
#include "plan/carbon.h"
#include "plan/timefmt.h"
#include "report/html.h"
#include "store/trace.h"

static const char report_usage[] =
    "usage: wattprof report TRACE [--json FILE] [--html FILE [--zoom FROM:TO]] [--force]\n"
    "                      [--rated-w W] [--intensity FILE|ZONE|G [--pue X] [--intensity-at "
    "TIME]]\n"
    "       wattprof report --html FILE SWEEP.json | TRACE TRACE...\n"
    "\n"
    "Prints the summary of a trace made by `wattprof run -o` or `wattprof record`: per GPU\n"
    "and in total, energy from the trace and from the hardware counter, mean and peak power\n"
    "(20 ms and 1 s), 99th percentile, peak against the limit; the node: its meter (node\n"
    "input, else PDU outlets) or an estimate from its parts, the parts, what they leave\n"
    "out, and the 1 s peak against the node's rating; the swings of the GPUs' summed power\n"
    "(largest rise and fall over 20 ms, 100 ms, 1 s and 60 s, in W and W/s) and its spectrum\n"
    "(the strongest frequencies, e.g. a training step's); then the events recorded (GPU lost,\n"
    "driver faults). Works on a trace whose recorder was killed. Reads each series once in\n"
    "memory that does not grow with the trace; on a terminal, stderr shows how far. Where the\n"
    "trace holds per-process GPU utilisation, also each GPU's energy split between its\n"
    "processes, and the phases of each marks-sending process with its own share.\n"
    "\n"
    "On a cluster trace (`wattprof merge`): each node's summary under its name, then the\n"
    "cluster's totals and its aligned peak (all GPUs summed on one grid); the JSON is then\n"
    "{\"cluster\": {...}, \"nodes\": [{\"node\", \"summary\"}]}.\n"
    "\n"
    "--html writes one self-contained page (no network needed to open it): the summary\n"
    "tables, a timeline of the GPUs' sum, every GPU and node meter (every 20 ms peak kept,\n"
    "1 s and 1 min means, limits, the job's phases shaded; 80 at most, PDU outlets beyond\n"
    "that are left out and the page says so), every sample of a zoom window for each,\n"
    "the distribution of power with percentiles, the swings and spectrum, and the metadata.\n"
    "Given a sweep's JSON (`wattprof sweep --json`) or several traces instead, it draws\n"
    "energy, time, mean and peak power and J/sample against the swept value.\n"
    "\n"
    "options:\n"
    "  --json FILE      write the summary as JSON to FILE (- for stdout)\n"
    "  --html FILE      write the HTML report to FILE\n"
    "  --zoom FROM:TO   the zoom window, in seconds after the start (default: the 10 s around\n"
    "                   the GPUs' summed 20 ms peak)\n"
    "  -f, --force      replace FILE if it exists\n"
    "  --rated-w W      the node's rated power in watts, instead of the one recorded\n"
    "\n"
    "examples:\n"
    "  wattprof report run.wptrace --json run.json\n"
    "  wattprof report job-4242.wptrace          # a merged trace: per node and cluster\n"
    "  wattprof report llama.wptrace --html llama.html --zoom 120:125\n"
    "  wattprof report --html sweep.html resnet-sweep.json\n"
    "  wattprof report --html batch.html gb512.wptrace gb1024.wptrace gb2048.wptrace\n"
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

static int parse_zoom(const char *s, double *from, double *to)
{
    char *end;
    errno = 0;
    *from = wp_strtod_dec(s, &end);
    if (errno || end == s || *end != ':')
        return -1;
    const char *b = end + 1;
    *to = wp_strtod_dec(b, &end);
    if (errno || end == b || *end || !isfinite(*from) || !isfinite(*to) || *from < 0 ||
        *to <= *from)
        return -1;
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

struct cmp_ctx {
    const char *title, *xname;
    const struct wp_html_run *runs;
    size_t n;
};

static int write_cmp(FILE *f, void *ctx)
{
    struct cmp_ctx *c = ctx;
    struct wp_err err = {0};
    return wp_html_compare(f, c->title, c->xname, c->runs, c->n, &err);
}

/* A run from a trace: its whole-run numbers, J/sample over the phases that counted samples. */
static int run_of_trace(const char *path, struct wp_html_run *r)
{
    struct wp_err err = {0};
    struct wp_trace *t = NULL;
    int rc = wp_trace_open(&t, path, &err);
    if (rc < 0) {
        cli_error("report", "%s", err.msg);
        return cli_exit_for_open(rc);
    }
    struct wp_summary s;
    if ((rc = wp_summary_compute(t, &s, &err)) < 0) {
        cli_error("report", "cannot summarise %s: %s", path, err.msg);
        wp_trace_free(t);
        return rc == -ENOMEM ? WP_EXIT_SOFTWARE : WP_EXIT_DATAERR;
    }
    const char *base = strrchr(path, '/');
    snprintf(r->label, sizeof(r->label), "%s", base ? base + 1 : path);
    r->x = NAN;
    r->duration_s = s.duration_s;
    r->energy_j = s.total.energy_j;
    r->mean_w = s.total.mean_w;
    r->peak_w = s.total.peak_w;
    double e = 0, n = 0;
    for (size_t i = 0; i < s.nphases; i++)
        for (int k = 0; k < s.phases[i].ncounts; k++)
            if (strcmp(s.phases[i].counts[k].key, "samples") == 0 && s.phases[i].depth == 0) {
                e += s.phases[i].energy_j;
                n += s.phases[i].counts[k].value;
            }
    r->j_per_sample = n > 0 ? e / n : NAN;
    wp_summary_free(&s);
    wp_trace_free(t);
    return 0;
}

static int compare(char **paths, int n, const char *html, bool force)
{
    struct wp_html_run *runs = NULL;
    size_t nruns = 0;
    char xname[64] = "trace";
    int rc = 0;
    if (n == 1 && ends_with(paths[0], ".json")) {
        struct wp_err err = {0};
        int r = wp_compare_load_sweep(paths[0], &runs, &nruns, xname, sizeof(xname), &err);
        if (r < 0) {
            cli_error("report", "%s", err.msg);
            return r == -ENOENT || r == -EACCES ? WP_EXIT_NOINPUT
                   : r == -ENOMEM               ? WP_EXIT_SOFTWARE
                                                : WP_EXIT_DATAERR;
        }
    } else {
        if (n < 1) /* argv's count: never, but the allocation must not see a negative size */
            return WP_EXIT_USAGE;
        runs = calloc((size_t)n, sizeof(*runs));
        if (!runs)
            return WP_EXIT_SOFTWARE;
        for (int i = 0; i < n && rc == 0; i++)
            if ((rc = run_of_trace(paths[i], &runs[nruns])) == 0)
                nruns++;
    }
    if (rc == 0) {
        char title[160];
        const char *base = strrchr(paths[0], '/');
        if (n == 1)
            snprintf(title, sizeof(title), "sweep of %s: %s", xname, base ? base + 1 : paths[0]);
        else
            snprintf(title, sizeof(title), "%d traces compared", n);
        struct cmp_ctx c = {title, xname, runs, nruns};
        rc = cli_write_output("report", html, force, write_cmp, &c);
    }
    free(runs);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", required_argument, NULL, 'j'},    {"html", required_argument, NULL, 'H'},
        {"zoom", required_argument, NULL, 'z'},    {"force", no_argument, NULL, 'f'},
        {"rated-w", required_argument, NULL, 'r'}, {"intensity", required_argument, NULL, 'I'},
        {"pue", required_argument, NULL, 'P'},     {"intensity-at", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *json = NULL, *html = NULL;
    bool force = false;
    double rated_w = NAN;
    struct wp_html_opts hopts = {NAN, NAN};
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
        case 'H':
            html = optarg;
            break;
        case 'z':
            if (parse_zoom(optarg, &hopts.zoom_from_s, &hopts.zoom_to_s) < 0) {
                cli_error("report",
                          "--zoom wants FROM:TO in seconds after the start, FROM < TO (e.g. "
                          "120:125), not '%s'",
                          optarg);
                return WP_EXIT_USAGE;
            }
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
    if (optind >= argc) {
        cli_error("report", "no trace given; usage: wattprof report TRACE");
        return WP_EXIT_USAGE;
    }
    const char *const *in = (const char *const *)(argv + optind);
    int rc;
    if ((rc = cli_check_not_input("report", json, in, (size_t)(argc - optind))) ||
        (rc = cli_check_not_input("report", html, in, (size_t)(argc - optind))) ||
        (rc = cli_check_outputs_differ("report", json, html)))
        return rc;
    bool is_json = ends_with(argv[optind], ".json");
    if (argc - optind > 1 || is_json) {
        if (!html || json || isfinite(hopts.zoom_from_s)) {
            cli_error("report", "%s",
                      is_json && argc - optind == 1
                          ? "a sweep's JSON is drawn with --html FILE alone "
                            "(wattprof report --html sweep.html SWEEP.json)"
                          : "one trace at a time, or several with --html FILE "
                            "alone to compare them");
            return WP_EXIT_USAGE;
        }
        return compare(argv + optind, argc - optind, html, force);
    }
    const char *path = argv[optind];
    bool json_stdout = json && strcmp(json, "-") == 0;
    bool html_stdout = html && strcmp(html, "-") == 0;
    if (json_stdout && html_stdout) {
        cli_error("report", "--json - and --html - cannot both go to standard output");
        return WP_EXIT_USAGE;
    }
    FILE *text = json_stdout || html_stdout ? stderr : stdout;
    if (!intensity) {
        if (pue_set || ec.at_set) {
            cli_error("report", "--pue and --intensity-at go with --intensity");
            return WP_EXIT_USAGE;
        }
        return cli_summarize_ext("report", path, text, json, force, true, rated_w, NULL, html,
                                 &hopts);
    }
    rc = cli_load_intensity("report", intensity, &ec.ci);
    if (rc != 0)
        return rc;
    struct cli_report_extra x = {emis_prepare, emis_text, emis_json, &ec};
    rc = cli_summarize_ext("report", path, text, json, force, true, rated_w, &x, html, &hopts);
    wp_intensity_free(&ec.ci);
    return rc;
}
