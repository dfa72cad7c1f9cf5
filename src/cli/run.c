/* wattprof run: measure a command like `perf stat` does. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "recorder/recorder.h"

static const char run_usage[] =
    "usage: wattprof run [-o TRACE] [--json FILE] [--force] [--quiet] [--source SPEC]...\n"
    "                    [--config FILE] [--no-auto] [--rated-w W] -- COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND while recording the power of every GPU (NVML's 20 ms sample buffer, the\n"
    "instant and 1 s average power fields, the hardware energy counter), then prints a\n"
    "summary to stderr: energy integrated from the trace and from the counter, mean power,\n"
    "peaks at 20 ms and over 1 s, the 99th percentile, peak against the power limit.\n"
    "\n"
    "The job gets WATTPROF_SOCKET in its environment: send `begin NAME`, `end NAME` or\n"
    "`mark NAME samples=N tokens=N` datagrams there (python/wattprof and libwattprof do it)\n"
    "to get energy per phase.\n"
    "\n"
    "options:\n"
    "  -o, --output TRACE  keep the recording in TRACE (SQLite; read it with `wattprof report`)\n"
    "                      without -o the recording is made in a temporary file and removed\n"
    "  --json FILE         also write the summary as JSON to FILE (- for stdout)\n"
    "  -f, --force         replace TRACE or FILE if they exist (never done otherwise)\n"
    "  -q, --quiet         no summary on stderr (warnings still shown)\n" CLI_SOURCE_HELP
    "  -h, --help          this help\n"
    "\n"
    "COMMAND runs in a process group of its own (in the terminal's foreground when wattprof\n"
    "is). SIGINT, SIGTERM and SIGHUP sent to wattprof, alone or with its process group, are\n"
    "passed on to that group once (one kill reaches COMMAND once, not twice). The exit status\n"
    "is COMMAND's (128+N if it was killed by signal N; 127 if it could not be started, 126\n"
    "if it is not executable); before COMMAND starts, wattprof's own errors exit with 64\n"
    "(usage), 66 (a --config file cannot be read), 69 (the sources named with --source or\n"
    "--config found nothing to measure; with only the automatic ones COMMAND runs unmeasured,\n"
    "with a warning), 70 (internal error, e.g. out of memory), 73 (output exists, is being\n"
    "recorded, or cannot be created) or 74 (write error).\n"
    "\n"
    "examples:\n"
    "  wattprof run -- python train.py\n"
    "  wattprof run -o resnet.wptrace --json resnet.json -- torchrun --nproc_per_node=8 "
    "resnet.py\n";

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"json", required_argument, NULL, 'j'},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        CLI_SOURCE_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *json = NULL;
    bool force = false, quiet = false;
    struct cli_sources cs;
    cli_sources_init(&cs);
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:fqh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
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
            cli_sources_free(&cs);
            fputs(run_usage, stdout);
            return 0;
        default:
            if ((rc = cli_sources_option("run", c, optarg, &cs)) >= 0) {
                if (rc == 0)
                    continue;
                cli_sources_free(&cs);
                return rc;
            }
            cli_sources_free(&cs);
            fprintf(stderr, "Try 'wattprof run --help'.\n");
            return WP_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("run", "no command given; usage: wattprof run [options] -- COMMAND [ARGS...]");
        cli_sources_free(&cs);
        return WP_EXIT_USAGE;
    }
    char **cmdv = argv + optind;
    struct cli_trace where;
    if ((rc = cli_sources_finish("run", &cs)) ||
        (out && (rc = cli_check_trace_output("run", out, force))) ||
        (json && (rc = cli_check_output("run", json, force))) ||
        (rc = cli_check_outputs_differ("run", out, json)) ||
        (rc = cli_trace_pick("run", out, &where))) {
        cli_sources_free(&cs);
        return rc;
    }
    const char *trace = where.path;

    struct wp_meta meta = {0};
    char *cmdline = cli_join_argv(cmdv);
    wp_meta_set(&meta, "command", cmdline ? cmdline : cmdv[0]);
    wp_meta_set(&meta, "mode", "run");
    free(cmdline);
    struct wp_recorder_opts ro = {
        .trace_path = trace,
        .force = force,
        .marks = true,
        .meta = &meta,
        .config = &cs.cfg,
        .on_event = cli_print_event,
    };
    struct wp_err err = {0};
    struct wp_recorder *r = NULL;
    /* Meters the user named must work; the automatic ones may all be missing (a job in a
     * container without GPUs still runs, with a warning). */
    rc = wp_recorder_start(&r, &ro, !cs.named, &err);
    wp_meta_free(&meta);
    if (rc < 0) {
        cli_error("run", "%s", err.msg);
        cli_trace_done(&where);
        cli_sources_free(&cs);
        return cli_exit_for_start(rc);
    }
    if (wp_recorder_nsensors(r) == 0)
        cli_warn("run", "no power sensor found (see `wattprof list`); running the command "
                        "without measurements");

    cli_forward_signals(true);
    /* The job's window, stamped at its edges: the recorder keeps reading after the end until
     * every power sensor has a sample that covers it. */
    wp_recorder_set_start(r, wp_wall_us());
    int exit_code = cli_run_child(cmdv, wp_recorder_socket(r), "run");
    int64_t end_us = wp_wall_us();
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", exit_code);
    wp_recorder_set_meta(r, "exit_code", buf);
    rc = wp_recorder_stop(r, end_us, &err);
    cli_forward_signals(false);
    if (rc < 0) {
        cli_error("run", "the recording could not be saved: %s", err.msg);
    } else {
        int src = cli_summarize("run", trace, quiet ? NULL : stderr, json, force, false);
        if (src)
            cli_warn("run", "no summary (exit status %d of the summary step)", src);
    }
    cli_trace_done(&where);
    cli_sources_free(&cs);
    return exit_code;
}
