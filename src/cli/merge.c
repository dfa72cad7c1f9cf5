/* wattprof merge: node traces joined into one cluster trace. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/merge.h"

static const char merge_usage[] =
    "usage: wattprof merge TRACE... -o CLUSTER [--names NODE,...]\n"
    "\n"
    "Joins the traces of several nodes (one `wattprof record` or `run` per node, e.g. one per\n"
    "node of a Slurm job) into one trace with a node dimension. Samples keep their wall-clock\n"
    "times, so the nodes line up as well as their clocks agree (NTP: a few ms). Each node is\n"
    "named by the host its trace was recorded on. `wattprof report CLUSTER` then shows every\n"
    "node's own summary, the cluster's totals, and the cluster's aligned peak: all GPUs of all\n"
    "nodes summed on one time grid, which is what a shared power feed sees (at most the sum of\n"
    "the nodes' peaks, since those happen at different moments).\n"
    "\n"
    "options:\n"
    "  -o, --output CLUSTER  the trace to create (never replaced: choose a new name)\n"
    "  --names A,B,...       node names, one per TRACE in order, instead of the recorded hosts\n"
    "                        (for traces recorded on one machine, or hosts you rename)\n"
    "  -h, --help            this help\n"
    "\n"
    "examples:\n"
    "  wattprof merge job-4242-gpu01.wptrace job-4242-gpu02.wptrace -o job-4242.wptrace\n"
    "  wattprof report job-4242.wptrace --json job-4242.json\n"
    "  wattprof merge a.wptrace b.wptrace --names left,right -o both.wptrace\n"
    "\n"
    "exit status: 0, 64 usage, 65 an input is not a node trace, two are of one node, or one\n"
    "has damaged chunks (left out; the merge is written), 66 cannot read an input, 70 internal\n"
    "error, 73 CLUSTER exists or cannot be created, 74 write error.\n";

static int split_names(char *s, const char **v, size_t n)
{
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (k == n)
            return -1;
        v[k++] = tok;
    }
    return k == n ? 0 : -1;
}

static int exit_for(int rc)
{
    switch (rc) {
    case -ENOENT:
    case -EACCES:
    case -EPERM:
        return WP_EXIT_NOINPUT;
    case -EEXIST:
    case -EBUSY:
    case -EROFS:
        return WP_EXIT_CANTCREAT;
    case -ENOSPC:
        return WP_EXIT_IOERR;
    case -ENOMEM:
        return WP_EXIT_SOFTWARE;
    default:
        return WP_EXIT_DATAERR;
    }
}

int cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"names", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out = NULL;
    char *names = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'n':
            names = optarg;
            break;
        case 'h':
            fputs(merge_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "Try 'wattprof merge --help'.\n");
            return WP_EXIT_USAGE;
        }
    }
    size_t n = optind < argc ? (size_t)(argc - optind) : 0;
    if (n == 0) {
        cli_error("merge", "no traces given; usage: wattprof merge TRACE... -o CLUSTER");
        return WP_EXIT_USAGE;
    }
    if (!out) {
        cli_error("merge", "no output: give the cluster trace to create with -o CLUSTER");
        return WP_EXIT_USAGE;
    }
    int rc = cli_check_trace_output_ext("merge", out, false, false); /* merge has no --force */
    if (rc)
        return rc;
    const char **nv = NULL;
    if (names) {
        nv = calloc(n, sizeof(*nv));
        if (!nv)
            return WP_EXIT_SOFTWARE;
        if (split_names(names, nv, n) < 0) {
            cli_error("merge", "--names wants %zu names separated by commas, one per trace", n);
            free(nv);
            return WP_EXIT_USAGE;
        }
    }
    struct wp_err err = {0};
    struct wp_merge_stats st;
    rc = wp_trace_merge((const char *const *)(argv + optind), nv, n, out, &st, &err);
    free(nv);
    if (rc < 0) {
        cli_error("merge", "%s", err.msg);
        return exit_for(rc);
    }
    fprintf(stderr, "wattprof merge: %zu nodes, %zu sensors, %zu samples into %s\n", st.nodes,
            st.sensors, st.samples, out);
    if (st.damaged) {
        cli_error("merge",
                  "%zu damaged chunks of the inputs were left out (`wattprof report` on each "
                  "input names them)",
                  st.damaged);
        return WP_EXIT_DATAERR;
    }
    return 0;
}
