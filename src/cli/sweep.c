/* wattprof sweep: one command, run once per parameter value, all recorded into one trace,
 * each run its own phase ("sweep/<i>"), then a table that compares them. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/summary.h"
#include "analysis/sweep.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "report/sweep_out.h"
#include "recorder/recorder.h"
#include "store/trace.h"

static const char sweep_usage[] =
    "usage: wattprof sweep --param NAME=V1,V2,... [-o TRACE] [--json FILE] [--force]\n"
    "                      [--cooldown S] [--stop-on-error] [--source SPEC]... [--config FILE]\n"
    "                      [--no-auto] [--rated-w W] -- COMMAND ARGS...\n"
    "\n"
    "Runs COMMAND once per value, with every {NAME} in its arguments replaced by the value\n"
    "(no shell is involved), records all runs into one trace, each as its own phase, shows\n"
    "progress, and prints a table: value, time, GPU energy, mean and peak power, energy per\n"
    "sample or token when the job sent counts (see `wattprof run --help` on marks), and each\n"
    "relative to the first value. An interrupted sweep (Ctrl-C, SIGTERM) passes the signal\n"
    "to the run in progress, starts no other, and keeps every run so far, the interrupted\n"
    "one with its exit status (130 for Ctrl-C); so does a killed one, in TRACE.\n"
    "\n"
    "options:\n"
    "  -p, --param NAME=V1,V2,...  the parameter and its values (NAME: letters, digits, _)\n"
    "  -o, --output TRACE          keep the recording in TRACE\n"
    "  --json FILE                 the table as JSON: runs[] with value, duration_s,\n"
    "                              energy_j, mean_w, peak_w, exit_code, ...\n"
    "  --phase NAME                compare only the job's phases called NAME (e.g. train):\n"
    "                              energy, time and counts summed over them in each run,\n"
    "                              leaving out start-up and warm-up; default: whole runs\n"
    "  --cooldown S                idle S seconds between runs (GPUs back to idle power)\n"
    "  --stop-on-error             stop at the first run that fails (default: carry on)\n"
    "  -f, --force                 replace TRACE or FILE if they exist\n" CLI_SOURCE_HELP "\n"
    "exit status: 0 if every run exited 0, 1 if any failed, 130 if interrupted; wattprof's\n"
    "own errors: 64 usage, 66 a --config file cannot be read, 69 the sources named with\n"
    "--source/--config found nothing to measure, 70 internal error, 73 TRACE or FILE exists or\n"
    "cannot be created (all before the first run), 65/66 the trace does not read\n"
    "back or is damaged (the table covers what is intact), 74 the recording or FILE could\n"
    "not be written.\n"
    "\n"
    "example (the study's batch-size sweep):\n"
    "  wattprof sweep --param gb=512,1024,2048,4096 --phase train -o resnet.wptrace -- \\\n"
    "      torchrun --nproc_per_node=8 bench/workloads/resnet.py --global-batch {gb}\n";

struct sweep {
    char name[64];
    char **values;
    size_t nvalues;
};

static int parse_param(const char *arg, struct sweep *sw)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(sw->name))
        return -1;
    for (const char *c = arg; c < eq; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return -1;
    memcpy(sw->name, arg, (size_t)(eq - arg));
    sw->name[eq - arg] = 0;
    char *list = strdup(eq + 1), *save = NULL;
    if (!list)
        return -1;
    size_t cap = 1;
    for (const char *c = list; *c; c++)
        cap += *c == ',';
    sw->values = calloc(cap, sizeof(*sw->values));
    for (char *v = strtok_r(list, ",", &save); v && sw->values; v = strtok_r(NULL, ",", &save))
        sw->values[sw->nvalues++] = strdup(v);
    /* strtok_r skips empty fields; an empty value is a typo worth reporting */
    bool empty = strstr(eq + 1, ",,") || eq[1] == ',' || eq[1] == 0 || eq[strlen(eq) - 1] == ',';
    free(list);
    return sw->values && sw->nvalues > 0 && !empty ? 0 : -1;
}

/* Replaces every {NAME} in s by value; malloc'd. */
static char *substitute(const char *s, const char *name, const char *value)
{
    char key[72];
    snprintf(key, sizeof(key), "{%s}", name);
    size_t kl = strlen(key), vl = strlen(value), n = 0;
    for (const char *p = strstr(s, key); p; p = strstr(p + kl, key))
        n++;
    char *out = malloc(strlen(s) + n * vl + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s;;) {
        const char *q = strstr(p, key);
        if (!q) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, value, vl);
        o += vl;
        p = q + kl;
    }
    return out;
}

struct json_out {
    const char *phase;
    const struct sweep *sw;
    const struct wp_sweep_row *rows;
    bool interrupted;
};

static int write_json(FILE *f, void *arg)
{
    const struct json_out *o = arg;
    int rc = wp_sweep_write_json(f, o->sw->name, o->phase, o->interrupted, o->rows, o->sw->nvalues);
    if (rc == -EINVAL) {
        cli_error("sweep", "internal error: the sweep JSON came out unbalanced");
        return WP_EXIT_SOFTWARE;
    }
    return rc;
}

/* Idles between runs; false if a stop signal came meanwhile (then no further run starts). */
static bool cool_down(double seconds)
{
    int64_t end = wp_mono_us() + (int64_t)(seconds * 1e6);
    for (int64_t now = wp_mono_us(); now < end; now = wp_mono_us()) {
        if (cli_signal_seen())
            return false;
        wp_sleep_until_mono_us(end - now < 100000 ? end : now + 100000);
    }
    return !cli_signal_seen();
}

static int sweep_main(int argc, char **argv, struct sweep *swp, struct cli_sources *cs)
{
    static const struct option opts[] = {
        {"param", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"json", required_argument, NULL, 'j'},
        {"force", no_argument, NULL, 'f'},
        {"cooldown", required_argument, NULL, 'c'},
        {"stop-on-error", no_argument, NULL, 'e'},
        {"phase", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        CLI_SOURCE_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    struct sweep sw = {0};
    const char *out = NULL, *json = NULL, *only_phase = NULL;
    *swp = sw;
    bool force = false, stop_on_error = false, have_param = false;
    double cooldown_s = 0;
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+p:o:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (have_param) {
                cli_error("sweep", "one --param at a time (sweep one parameter per trace)");
                return WP_EXIT_USAGE;
            }
            if (parse_param(optarg, swp) < 0) {
                cli_error("sweep",
                          "--param wants NAME=V1,V2,... (NAME of letters, digits and "
                          "_; no empty values), not '%s'",
                          optarg);
                return WP_EXIT_USAGE;
            }
            have_param = true;
            sw = *swp;
            break;
        case 'o':
            out = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'c':
            if (cli_parse_seconds(optarg, &cooldown_s) < 0) {
                cli_error("sweep",
                          "--cooldown wants a number of seconds " CLI_SECONDS_RANGE ", not '%s'",
                          optarg);
                return WP_EXIT_USAGE;
            }
            break;
        case 'e':
            stop_on_error = true;
            break;
        case 'P':
            only_phase = optarg;
            break;
        case 'h':
            fputs(sweep_usage, stdout);
            return 0;
        default:
            if ((rc = cli_sources_option("sweep", c, optarg, cs)) >= 0) {
                if (rc == 0)
                    break;
                return rc;
            }
            fprintf(stderr, "Try 'wattprof sweep --help'.\n");
            return WP_EXIT_USAGE;
        }
    }
    if (!have_param) {
        cli_error("sweep", "no --param NAME=V1,V2,... given");
        return WP_EXIT_USAGE;
    }
    if (optind >= argc) {
        cli_error("sweep", "no command given; usage: wattprof sweep --param N=1,2 -- CMD {N}");
        return WP_EXIT_USAGE;
    }
    char **tmpl = argv + optind;
    int ntmpl = argc - optind;
    char key[72];
    snprintf(key, sizeof(key), "{%s}", sw.name);
    bool used = false;
    for (int i = 0; i < ntmpl; i++)
        used |= strstr(tmpl[i], key) != NULL;
    if (!used) {
        cli_error("sweep",
                  "the command never uses %s; put it where the value goes, e.g. "
                  "--batch %s",
                  key, key);
        return WP_EXIT_USAGE;
    }
    if ((out && (rc = cli_check_trace_output("sweep", out, force))) ||
        (json && (rc = cli_check_output("sweep", json, force))) ||
        (rc = cli_check_outputs_differ("sweep", out, json)))
        return rc;

    struct cli_trace where;
    if ((rc = cli_trace_pick("sweep", out, &where)))
        return rc;
    const char *trace = where.path;

    struct wp_meta meta = {0};
    char *cmdline = cli_join_argv(tmpl);
    wp_meta_set(&meta, "command", cmdline ? cmdline : tmpl[0]);
    free(cmdline);
    wp_meta_set(&meta, "mode", "sweep");
    wp_meta_set(&meta, "sweep.param", sw.name);
    wp_meta_setf(&meta, "sweep.count", "%zu", sw.nvalues);
    for (size_t i = 0; i < sw.nvalues; i++) {
        char k[48];
        snprintf(k, sizeof(k), "sweep.%zu.value", i);
        wp_meta_set(&meta, k, sw.values[i]);
    }
    if ((rc = cli_sources_finish("sweep", cs))) {
        wp_meta_free(&meta);
        cli_trace_done(&where);
        return rc;
    }
    struct wp_recorder_opts ro = {.trace_path = trace,
                                  .force = force,
                                  .marks = true,
                                  .meta = &meta,
                                  .config = &cs->cfg,
                                  .on_event = cli_print_event};
    struct wp_err err = {0};
    struct wp_recorder *r = NULL;
    /* As in `run`: meters the user named must work; the automatic ones may all be missing. */
    rc = wp_recorder_start(&r, &ro, !cs->named, &err);
    wp_meta_free(&meta);
    if (rc < 0) {
        cli_error("sweep", "%s", err.msg);
        cli_trace_done(&where);
        return cli_exit_for_start(rc);
    }
    if (wp_recorder_nsensors(r) == 0)
        cli_warn("sweep", "no power sensor found (see `wattprof list`); the runs are timed only");

    struct wp_sweep_row *rows = calloc(sw.nvalues, sizeof(*rows));
    char **argv_i = calloc((size_t)ntmpl + 1, sizeof(*argv_i));
    if (!rows || !argv_i) {
        cli_error("sweep", "out of memory");
        return WP_EXIT_SOFTWARE;
    }
    /* Every row names its value, also those of runs that never happen (the table says
     * "not run" for them). */
    for (size_t i = 0; i < sw.nvalues; i++)
        rows[i].value = sw.values[i];
    cli_forward_signals(true);
    bool failed = false, interrupted = false;
    for (size_t i = 0; i < sw.nvalues; i++) {
        for (int a = 0; a < ntmpl; a++)
            argv_i[a] = substitute(tmpl[a], sw.name, sw.values[i]);
        argv_i[ntmpl] = NULL;
        char *shown = cli_join_argv(argv_i);
        fprintf(stderr, "wattprof sweep: [%zu/%zu] %s=%s: %s\n", i + 1, sw.nvalues, sw.name,
                sw.values[i], shown ? shown : argv_i[0]);
        free(shown);
        struct wp_mark m = {.t_us = wp_wall_us(), .kind = WP_MARK_BEGIN, .ncounts = 1};
        snprintf(m.name, sizeof(m.name), "sweep/%zu", i);
        snprintf(m.counts[0].key, sizeof(m.counts[0].key), "index");
        m.counts[0].value = (double)i;
        wp_recorder_mark(r, &m);
        int64_t t0 = wp_mono_us();
        int code = cli_run_child(argv_i, wp_recorder_socket(r), "sweep");
        double secs = (double)(wp_mono_us() - t0) / 1e6;
        m.t_us = wp_wall_us();
        m.kind = WP_MARK_END;
        snprintf(m.counts[0].key, sizeof(m.counts[0].key), "exit_code");
        m.counts[0].value = code;
        wp_recorder_mark(r, &m);
        for (int a = 0; a < ntmpl; a++)
            free(argv_i[a]);
        rows[i].done = true;
        rows[i].exit_code = code;
        fprintf(stderr, "wattprof sweep: [%zu/%zu] %s=%s: exit %d after %.1f s\n", i + 1,
                sw.nvalues, sw.name, sw.values[i], code, secs);
        failed |= code != 0;
        /* Cool down before the check, so that a signal during the pause (it cuts the pause
         * short) stops the sweep instead of reaching the next run as it starts. */
        bool more = i + 1 < sw.nvalues && !(code != 0 && stop_on_error);
        if (more && cooldown_s > 0 && !cli_signal_seen())
            usleep((useconds_t)(cooldown_s * 1e6));
        if (cli_signal_seen()) {
            interrupted = true;
            cli_warn("sweep", "interrupted: keeping the %zu run(s) so far", i + 1);
            break;
        }
        if (code != 0 && stop_on_error)
            break;
        if (cooldown_s > 0 && i + 1 < sw.nvalues && !cool_down(cooldown_s)) {
            interrupted = true;
            cli_warn("sweep", "interrupted: keeping the %zu run(s) so far", i + 1);
            break;
        }
    }
    free(argv_i);
    rc = wp_recorder_stop(r, 0, &err);
    cli_forward_signals(false);
    int status = interrupted ? 130 : failed ? WP_EXIT_FAIL : 0;
    if (rc < 0) {
        cli_error("sweep", "the recording could not be saved: %s", err.msg);
        status = WP_EXIT_IOERR;
        goto done;
    }
    struct wp_trace *t = NULL;
    if ((rc = wp_trace_open(&t, trace, &err)) < 0) {
        cli_error("sweep", "%s", err.msg);
        status = cli_exit_for_open(rc); /* as every reader of a trace does */
        goto done;
    }
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    if (wp_summary_compute(t, &s, &err) < 0) {
        cli_error("sweep", "cannot summarise the sweep: %s", err.msg);
        status = WP_EXIT_DATAERR;
    } else {
        wp_sweep_rows(&s, sw.nvalues, only_phase, rows);
        if (s.replay[0])
            fprintf(stderr, "\nREPLAY: %s\n", s.replay);
        if (only_phase)
            fprintf(stderr, "\nonly the job's phases called '%s' are compared\n", only_phase);
        wp_sweep_print_table(stderr, sw.name, rows, sw.nvalues);
        bool seen = false;
        for (size_t i = 0; i < sw.nvalues; i++)
            seen |= rows[i].done && isfinite(rows[i].duration_s);
        if (only_phase && !seen)
            cli_warn("sweep",
                     "no run sent a phase called '%s': check the name the job gives its "
                     "phases (`wattprof report TRACE` lists them), or leave out --phase",
                     only_phase);
        if (json) {
            struct json_out jo = {
                .phase = only_phase, .sw = &sw, .rows = rows, .interrupted = interrupted};
            int jrc = cli_write_output("sweep", json, force, write_json, &jo);
            if (jrc)
                status = jrc;
        }
        for (size_t i = 0; i < s.ndamaged; i++)
            cli_error("sweep", "%s is damaged: %s; left out of the table", trace,
                      s.damaged[i].text);
        if (s.ndamaged > 0 && (status == 0 || status == WP_EXIT_FAIL))
            status = WP_EXIT_DATAERR;
    }
    wp_summary_free(&s);
    wp_trace_free(t);
done:
    cli_trace_done(&where);
    free(rows);
    return status;
}

int cmd_sweep(int argc, char **argv)
{
    struct sweep sw;
    struct cli_sources cs;
    cli_sources_init(&cs);
    int rc = sweep_main(argc, argv, &sw, &cs);
    cli_sources_free(&cs);
    for (size_t i = 0; i < sw.nvalues; i++)
        free(sw.values[i]);
    free(sw.values);
    return rc;
}
