/* wattprof report: the summary of a recorded trace. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/trace.h"

static const char report_usage[] =
    "usage: wattprof report TRACE [--json FILE] [--force] [--rated-w W]\n"
    "\n"
    "Prints the summary of a trace made by `wattprof run -o` or `wattprof record`: per GPU\n"
    "and in total, energy from the trace and from the hardware counter, mean and peak power\n"
    "(20 ms and 1 s), 99th percentile, peak against the limit; the node: its meter (node\n"
    "input, else PDU outlets) or an estimate from its parts, the parts, what they leave\n"
    "out, and the 1 s peak against the node's rating; then the events recorded (GPU lost,\n"
    "driver faults). Works on a trace whose recorder was killed. Reads each series once in\n"
    "memory that does not grow with the trace; on a terminal, stderr shows how far.\n"
    "\n"
    "options:\n"
    "  --json FILE   write the summary as JSON to FILE (- for stdout)\n"
    "  -f, --force   replace FILE if it exists\n"
    "  --rated-w W   the node's rated power in watts, instead of the one recorded\n"
    "\n"
    "exit status: 0, 64 usage, 65 not a trace or damaged (the summary of what is intact is\n"
    "still printed), 66 cannot read TRACE, 70 internal error, 73 FILE exists or cannot be\n"
    "created, 74 writing FILE failed.\n";

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"json", required_argument, NULL, 'j'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"rated-w", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *json = NULL;
    bool force = false;
    double rated_w = NAN;
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
    return cli_summarize_rated("report", path, json_stdout ? stderr : stdout, json, force, true,
                               rated_w);
}
