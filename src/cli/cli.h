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

/* cli_check_output for a trace: "-" is a usage error (64), since a trace is a file that is
 * written in place, not a stream. */
int cli_check_trace_output(const char *cmd, const char *path, bool force);

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

/* Warns when the trace was copied without the -wal of a recording that never finished. */
struct wp_trace;
void cli_warn_wal_missing(const char *cmd, const struct wp_trace *t, const char *path);

/* Computes and prints the summary of a trace (text to `text`, JSON to json_path when set),
 * then, with events, what the recorder noted (GPU lost, driver faults). Returns 0 or an exit
 * status. */
int cli_summarize(const char *cmd, const char *trace_path, FILE *text, const char *json_path,
                  bool force, bool events);

/* Runs argv (PATH lookup) with WATTPROF_SOCKET set, waits, and returns a shell-like status:
 * the exit code, 128+N if killed by signal N, 127 not found, 126 not executable. */
int cli_run_child(char **argv, const char *socket_path, const char *cmd);
/* While on, SIGINT/SIGTERM/SIGHUP sent to wattprof are passed to the running child. */
void cli_forward_signals(bool on);
/* The last such signal received, 0 if none. */
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
