/* Shared pieces of the command-line front end: the only code that prints and exits. */
#ifndef WP_CLI_H
#define WP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"
#include "core/sensor.h"

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

/* Writes an output file atomically: to a temporary file beside it, then linked into place
 * (refusing to replace an existing file unless force). "-" writes to stdout. The callback
 * returns <0 on failure. Returns 0 or an exit status, after printing the error. */
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

/* Parses a positive number of seconds ("30", "1.5", "2m", "1h"). Returns 0 or -EINVAL. */
int cli_parse_seconds(const char *s, double *out);

/* Computes and prints the summary of a trace (text to `text`, JSON to json_path when set),
 * then, with events, what the recorder noted (GPU lost, driver faults). Returns 0 or an exit
 * status. */
int cli_summarize(const char *cmd, const char *trace_path, FILE *text, const char *json_path,
                  bool force, bool events);

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

int cmd_run(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_burn(int argc, char **argv);
bool cli_burn_available(void);

#endif
