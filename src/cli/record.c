/* wattprof record: record until stopped or for a fixed duration. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "recorder/recorder.h"

static const char record_usage[] =
    "usage: wattprof record -o TRACE [--duration S] [--json FILE] [--force] [--quiet]\n"
    "                       [--source SPEC]... [--config FILE] [--no-auto] [--rated-w W]\n"
    "\n"
    "Records every power sensor found (see `wattprof list`) into TRACE until SIGINT or\n"
    "SIGTERM (Ctrl-C), or for S seconds, then prints the summary to stderr. The trace is\n"
    "committed every second: if wattprof is killed, TRACE keeps all but the last second.\n"
    "Jobs on the node can send phase marks to the socket it prints at the start (export it\n"
    "as WATTPROF_SOCKET for them; it is also in the trace's metadata).\n"
    "\n"
    "options:\n"
    "  -o, --output TRACE  the trace file to create (required; never replaced without --force)\n"
    "  -d, --duration S    stop after S seconds (also 90s, 15m, 2h)\n"
    "  --json FILE         also write the summary as JSON to FILE (- for stdout)\n"
    "  -f, --force         replace TRACE or FILE if they exist\n"
    "  -q, --quiet         only errors and warnings on stderr: not the marks socket, nor\n"
    "                      the summary\n" CLI_SOURCE_HELP "  -h, --help          this help\n"
    "\n"
    "exit status: 0, 64 usage, 65/66 the finished trace does not read back, 69 nothing to\n"
    "measure with, 70 internal error, 73 TRACE or FILE exists, is being recorded, or cannot be\n"
    "created, 74 write error (disk full, ...).\n"
    "\n"
    "Slurm, one recorder per node (the job id is stored in the trace):\n"
    "  srun --ntasks-per-node=1 sh -c 'wattprof record -o "
    "power-$SLURM_JOB_ID-$(hostname).wptrace'\n"
    "or, for every job and with each step as a phase, the SPANK plugin in contrib/slurm; then\n"
    "  wattprof merge power-4242-*.wptrace -o power-4242.wptrace\n";

int cmd_record(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"duration", required_argument, NULL, 'd'},
        {"json", required_argument, NULL, 'j'},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        CLI_SOURCE_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *json = NULL;
    double duration_s = 0;
    bool force = false, quiet = false;
    struct cli_sources cs;
    cli_sources_init(&cs);
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:d:fqh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'd':
            if ((rc = cli_duration_option("record", optarg, &duration_s)))
                goto done;
            break;
        case 'j':
            json = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(record_usage, stdout);
            goto done;
        default:
            if ((rc = cli_sources_option("record", c, optarg, &cs)) >= 0) {
                if (rc == 0)
                    continue;
                goto done;
            }
            fprintf(stderr, "Try 'wattprof record --help'.\n");
            rc = WP_EXIT_USAGE;
            goto done;
        }
    }
    if (optind < argc) {
        cli_error("record",
                  "unexpected argument '%s' (to measure a command, use `wattprof run "
                  "-- COMMAND`)",
                  argv[optind]);
        rc = WP_EXIT_USAGE;
        goto done;
    }
    if (!out) {
        cli_error("record", "no output: give the trace file with -o TRACE");
        rc = WP_EXIT_USAGE;
        goto done;
    }
    if ((rc = cli_sources_finish("record", &cs)) ||
        (rc = cli_check_trace_output("record", out, force)) ||
        (json && (rc = cli_check_output("record", json, force))) ||
        (rc = cli_check_outputs_differ("record", out, json)))
        goto done;

    /* Block the stop signals before the threads start so only sigtimedwait sees them. */
    sigset_t set;
    cli_block_stop_signals(&set);

    struct wp_meta meta = {0};
    wp_meta_set(&meta, "mode", "record");
    struct wp_recorder_opts ro = {
        .trace_path = out,
        .force = force,
        .marks = true,
        .meta = &meta,
        .config = &cs.cfg,
        .on_event = cli_print_event,
    };
    struct wp_err err = {0};
    struct wp_recorder *r = NULL;
    rc = wp_recorder_start(&r, &ro, false, &err);
    wp_meta_free(&meta);
    if (rc < 0) {
        cli_error("record", "%s", err.msg);
        rc = cli_exit_for_start(rc);
        goto done;
    }
    if (!quiet) {
        fprintf(stderr, "wattprof record: recording %zu sensors to %s%s; Ctrl-C to stop\n",
                wp_recorder_nsensors(r), out, duration_s > 0 ? " for the given duration" : "");
        /* Jobs started separately (other shells, Slurm steps) need the path to send marks. */
        if (wp_recorder_socket(r))
            fprintf(stderr, "wattprof record: jobs send phase marks with WATTPROF_SOCKET=%s\n",
                    wp_recorder_socket(r));
    }
    int sig = cli_wait_stop(&set, duration_s);
    int64_t end_us = wp_wall_us();
    if (sig > 0) {
        char buf[32];
        snprintf(buf, sizeof(buf), "signal %d", sig);
        wp_recorder_set_meta(r, "stopped_by", buf);
    }
    rc = wp_recorder_stop(r, end_us, &err);
    if (rc < 0) {
        cli_error("record", "the recording could not be completed: %s", err.msg);
        rc = WP_EXIT_IOERR;
        goto done;
    }
    rc = cli_summarize("record", out, quiet ? NULL : stderr, json, force, false);
done:
    cli_sources_free(&cs);
    return rc;
}
