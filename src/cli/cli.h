/* Shared pieces of the command-line front end: the only code that prints and exits. */
#ifndef WP_CLI_H
#define WP_CLI_H

#include <stdbool.h>
#include <signal.h>
#include <stdio.h>

#include "core/err.h"
#include "core/sensor.h"
#include "sources/source.h"

/* Exit statuses (sysexits.h values, so scripts can tell failures apart). `run` exits with
 * the command's own status once the command has started. */
enum {
    WP_EXIT_OK = 0,
    WP_EXIT_FAIL = 1,         /* the measured job ran but something we report failed */
    WP_EXIT_USAGE = 64,       /* bad options or arguments */
    WP_EXIT_DATAERR = 65,     /* an input file is not a valid trace / damaged */
    WP_EXIT_NOINPUT = 66,     /* an input file does not exist or cannot be read */
    WP_EXIT_UNAVAILABLE = 69, /* no sensors / driver to measure with */
    WP_EXIT_SOFTWARE = 70,    /* internal error */
    WP_EXIT_CANTCREAT = 73,   /* output exists (no --force) or cannot be created */
    WP_EXIT_IOERR = 74,       /* writing failed (disk full, ...) */
};

extern const char *wp_prog;

/* Prints "wattprof CMD: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Maps a library error from opening/creating files to an exit status. */
int cli_exit_for_create(int code);
int cli_exit_for_open(int code);

/* Fails early (before a long job runs) when an output file cannot be written: exists without
 * --force, or its directory is missing or not writable. Returns 0 or an exit status. "-"
 * (stdout) is always fine. */
int cli_check_output(const char *cmd, const char *path, bool force);

/* Refuses (73, after saying why) an output that is one of the command's inputs: with --force
 * it would replace the very file being read (a trace exported onto itself). NULL and "-" are
 * fine; so is a symbolic link, since only the link would be replaced. */
int cli_check_not_input(const char *cmd, const char *out, const char *const *in, size_t nin);

/* Refuses (64, after saying why) two outputs of one command that are one file, by name or by
 * device and inode (-o run.wptrace --json run.wptrace): the second written would replace the
 * first, and with --force the summary would replace the trace just recorded. NULL and "-" are
 * fine. */
int cli_check_outputs_differ(const char *cmd, const char *a, const char *b);

/* cli_check_output for a trace: "-" is a usage error (64), since a trace is a file that is
 * written in place, not a stream. */
int cli_check_trace_output(const char *cmd, const char *path, bool force);
/* The same for a command without --force (can_force false): an existing file is refused
 * without advice to pass an option the command does not take. */
int cli_check_trace_output_ext(const char *cmd, const char *path, bool force, bool can_force);

/* Writes an output file atomically: to a temporary file beside it, then linked into place
 * (refusing to replace an existing file unless force). "-" writes to stdout. The callback
 * returns 0; or a positive exit status after printing why (a damaged trace, say: nothing is
 * put in place then); or a negative errno when it stopped because writing failed. Write
 * failures (also those found at flush and close) are reported here as such, exit 74.
 * Returns 0 or an exit status, after printing the error. */
typedef int (*cli_write_fn)(FILE *f, void *ctx);
int cli_write_output(const char *cmd, const char *path, bool force, cli_write_fn fn, void *ctx);

/* Where a recording goes: `out` when the user gave -o, else a fresh temporary directory
 * (TMPDIR, else /tmp) that cli_trace_done removes with the trace in it. */
struct cli_trace {
    const char *path;
    char tmpdir[2048], tmppath[2100];
    bool temporary;
};
int cli_trace_pick(const char *cmd, const char *out, struct cli_trace *t);
void cli_trace_done(struct cli_trace *t);

/* Prints a recorder event (GPU lost, driver fault) as a warning. */
void cli_print_event(const struct wp_event *e, void *ctx);

/* Durations and pauses: a millisecond to a year. Above a year nothing useful is measured, and
 * far above it the value no longer fits a timespec (1e19 s once wrapped to "stop now"). */
#define CLI_SECONDS_MIN   0.001
#define CLI_SECONDS_MAX   31536000.0
#define CLI_SECONDS_RANGE "from 0.001 s to 365 days (31536000 s)"
/* Parses a number of seconds ("30", "1.5", "90s", "2m", "1h") within CLI_SECONDS_MIN..MAX.
 * Returns 0, or -EINVAL (not a number, NaN, infinite, negative, zero, too small or too large:
 * say CLI_SECONDS_RANGE). */
int cli_parse_seconds(const char *s, double *out);
/* --duration S: 0, or 64 after printing what is wrong. */
int cli_duration_option(const char *cmd, const char *arg, double *out);
/* Blocks SIGINT, SIGTERM and SIGHUP in every thread started after it; fills set with them. */
void cli_block_stop_signals(sigset_t *set);
/* Waits for one of set, or duration_s (> 0) to pass: the signal, or 0 for the duration. */
int cli_wait_stop(const sigset_t *set, double duration_s);
/* Parses a node's rated power in W: a finite number in (0, 1e7]. Returns 0 or -EINVAL. */
int cli_parse_rated_w(const char *s, double *out);

/* Warns when the trace was copied without the -wal of a recording that never finished. */
struct wp_trace;
void cli_warn_wal_missing(const char *cmd, const struct wp_trace *t, const char *path);

/* Computes and prints the summary of a trace (text to `text`, JSON to json_path when set),
 * then, with events, what the recorder noted (GPU lost, driver faults). Returns 0 or an exit
 * status. */
/* A progress line on stderr for long reads ("wattprof CMD: reading samples 42 %"), only when
 * stderr is a terminal: cli_progress_new returns NULL otherwise, and the other two accept NULL.
 * cli_progress_end erases the line. */
void *cli_progress_new(const char *cmd);
void cli_progress(void *ctx, double done);
void cli_progress_end(void *ctx);

int cli_summarize(const char *cmd, const char *trace_path, FILE *text, const char *json_path,
                  bool force, bool events);
/* The same with the node's rated power in W (finite: replaces the trace's node.rated_w). */
int cli_summarize_rated(const char *cmd, const char *trace_path, FILE *text, const char *json_path,
                        bool force, bool events, double rated_w);

/* What a command adds to the summary of a trace (the report's emissions): prepare() gets the
 * open trace and its summary before anything is printed and returns 0 or an exit status after
 * printing why; text() prints a block after the summary; json() writes members at the end of
 * the summary's JSON object. Any may be NULL. */
struct wp_summary;
struct wp_json;
struct cli_report_extra {
    int (*prepare)(const struct wp_trace *t, const struct wp_summary *s, void *ctx);
    void (*text)(FILE *f, void *ctx);
    void (*json)(struct wp_json *j, void *ctx);
    void *ctx;
};
/* The HTML report (src/report/html.h) goes to html_path when it is not NULL. */
struct wp_html_opts;
int cli_summarize_ext(const char *cmd, const char *trace_path, FILE *text, const char *json_path,
                      bool force, bool events, double rated_w, const struct cli_report_extra *x,
                      const char *html_path, const struct wp_html_opts *html_opts);

/* Runs argv (PATH lookup) with WATTPROF_SOCKET set, waits, and returns a shell-like status:
 * the exit code, 128+N if killed by signal N, 127 not found, 126 not executable. */
int cli_run_child(char **argv, const char *socket_path, const char *cmd);
/* While on, SIGINT/SIGTERM/SIGHUP sent to wattprof are passed to the running child's process
 * group, once (the rule is at the top of child.c). */
void cli_forward_signals(bool on);
/* The last such signal received, or that ended a child holding the terminal (Ctrl-C goes to
 * the child alone); 0 if none. */
int cli_signal_seen(void);
/* The command line, quoted for a POSIX shell; malloc'd. */
char *cli_join_argv(char **argv);

/* The options that say what to measure, shared by run, record, sweep and list. Put
 * CLI_SOURCE_LONGOPTS in the getopt table, pass unknown option codes to cli_sources_option,
 * and call cli_sources_finish after parsing. */
enum { CLI_OPT_SOURCE = 0x1000, CLI_OPT_CONFIG, CLI_OPT_NO_AUTO, CLI_OPT_RATED_W };
#define CLI_SOURCE_LONGOPTS                                                                        \
    {"source", required_argument, NULL, CLI_OPT_SOURCE},                                           \
        {"config", required_argument, NULL, CLI_OPT_CONFIG},                                       \
        {"no-auto", no_argument, NULL, CLI_OPT_NO_AUTO},                                           \
    {                                                                                              \
        "rated-w", required_argument, NULL, CLI_OPT_RATED_W                                        \
    }
#define CLI_SOURCE_HELP                                                                            \
    "  --source KIND[:KEY=VALUE,...]\n"                                                            \
    "                      also read this source instance (repeatable); kinds: nvml, rapl,\n"      \
    "                      hwmon, snmp, ipmi, redfish; `wattprof list --kinds` shows\n"            \
    "                      each kind's keys\n"                                                     \
    "                      e.g. --source ipmi:host=10.0.0.5,user=wattprof,password_file=PATH\n"    \
    "                      e.g. --source "                                                         \
    "snmp:host=pdu-a3,profile=raritan,community_file=/etc/pdu.c,outlets=5,6\n"                     \
    "                      e.g. --source "                                                         \
    "redfish:url=https://10.0.0.12,user=wattprof,password_file=PATH,ca_file=CA.pem\n"              \
    "  --config FILE       read source specs (one per line) and settings (rated_w=W,\n"            \
    "                      node_allowance_w=W, auto=0) from FILE; '#' starts a comment\n"          \
    "  --no-auto           read only the sources given; by default every kind that finds\n"        \
    "                      itself (nvml, rapl, hwmon) is tried unless an instance names it\n"      \
    "  --rated-w W         the node's rated power, for the peak-against-rating line\n"
struct cli_sources {
    struct wp_config cfg;
    bool no_auto;
    bool named; /* --source or --config was given */
    double rated_w;
};
void cli_sources_init(struct cli_sources *cs);
void cli_sources_free(struct cli_sources *cs);
/* Handles option code c: 0 handled, -1 not one of ours, or an exit status after printing. */
int cli_sources_option(const char *cmd, int c, const char *arg, struct cli_sources *cs);
/* Adds the automatic kinds; 0 or an exit status after printing. */
int cli_sources_finish(const char *cmd, struct cli_sources *cs);
/* Exit status for a failed wp_recorder_start: a bad source option is a usage error. */
int cli_exit_for_start(int code);

int cmd_run(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_burn(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_plan(int argc, char **argv);
/* Intensity for report and plan carbon: a CSV file, a zone name looked up in the data
 * directories (WATTPROF_DATA_DIR, else the installed share/wattprof/carbon, else the source
 * tree's data/carbon), or a constant in gCO2/kWh. 0 or an exit status after printing. */
struct wp_intensity;
int cli_load_intensity(const char *cmd, const char *spec, struct wp_intensity *ci);
/* Parses a PUE (>= 1, <= 5); 0 or -EINVAL. */
int cli_parse_pue(const char *s, double *out);
/* The options model and plan commands share, for the default case of their getopt switch:
 * --json FILE (the long option's code json_code), -f/--force and -h/--help. Returns
 * CLI_OPT_DONE when it took c, CLI_OPT_HELP after printing usage (the command then returns 0),
 * or WP_EXIT_USAGE after saying how to get help for an option that is no one's. */
enum { CLI_OPT_DONE = -1, CLI_OPT_HELP = -2 };
int cli_plan_option(int c, const char *cmd, const char *usage, int json_code, const char **json,
                    bool *force);
int cmd_serve(int argc, char **argv);
int cmd_top(int argc, char **argv);
const char *cli_top_curses_version(void); /* "ncurses 6.4.20221231" */
bool cli_burn_available(void);

#endif
