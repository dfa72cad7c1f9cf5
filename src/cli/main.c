/* wattprof: power and energy of AI training on GPU nodes. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "net/http.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"run", cmd_run, "run a command and measure it, like perf stat"},
    {"sweep", cmd_sweep, "run a command once per parameter value and compare the runs"},
    {"record", cmd_record, "record until stopped or for a duration"},
    {"serve", cmd_serve, "record and serve live metrics to Prometheus"},
    {"top", cmd_top, "watch every GPU and meter live in the terminal"},
    {"list", cmd_list, "list the sensors found here, and why any are missing"},
    {"report", cmd_report, "summarise a recorded trace"},
    {"export", cmd_export, "write a trace's samples as CSV or JSON lines"},
    {"merge", cmd_merge, "join node traces into one cluster trace"},
    {"burn", cmd_burn, "drive every GPU to its power limit and check the results"},
    {"model", cmd_model, "fit a power model to measured phases; predict a load's power"},
    {"plan", cmd_plan, "rack capacity, cooling, and the start time that emits least"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: wattprof COMMAND [OPTIONS]\n\n"
               "Measures the power and energy of GPU jobs at the finest resolution the driver\n"
               "keeps (20 ms on H100/H200), checked against the hardware energy counter.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
    fprintf(f, "\n`wattprof COMMAND --help` explains each one. Start with:\n"
               "  wattprof list                       what can be measured here\n"
               "  wattprof run -- python train.py     measure a job\n\n"
               "environment: WATTPROF_NVML_LIB  path of libnvidia-ml.so.1 if not the default\n"
               "             TMPDIR             where `run` keeps its temporary trace\n");
}

static void version(void)
{
    printf("wattprof %s\n", WP_VERSION);
    printf("features:\n");
    printf("  trace       SQLite %s (WAL, chunked samples)\n", sqlite3_libversion());
    printf("  nvml        loaded at run time with dlopen (no build-time dependency)\n");
    printf("  marks       Unix datagram socket (WATTPROF_SOCKET), C and Python clients\n");
#ifdef WP_HAVE_FREEIPMI
    printf("  ipmi        BMC power via DCMI (libfreeipmi), LAN and in-band\n");
#else
    printf("  ipmi        no (built without libfreeipmi-dev)\n");
#endif
    printf("  serve       libmicrohttpd %s%s\n", wp_http_library_version(),
           wp_http_tls_supported() ? ", TLS" : ", no TLS");
    printf("  top         %s\n", cli_top_curses_version());
    printf("  burn        %s\n", cli_burn_available() ? "yes (wattprof-burn found)"
                                                      : "no (built only where nvcc exists)");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return WP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
        version();
        return 0;
    }
    /* getopt names argv[0] in its messages: "wattprof report: unrecognized option" */
    char name[64];
    snprintf(name, sizeof(name), "wattprof %s", cmd);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            argv[1] = name;
            return commands[i].fn(argc - 1, argv + 1);
        }
    cli_error(NULL, "'%s' is not a command; see 'wattprof --help'", cmd);
    return WP_EXIT_USAGE;
}
