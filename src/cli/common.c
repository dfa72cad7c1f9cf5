#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/attrib.h"
#include "analysis/cluster.h"
#include "analysis/summary.h"
#include "core/str.h"
#include "report/report.h"
#include "store/trace.h"
#include "report/html.h"

const char *wp_prog = "wattprof";

static void vmsg(const char *kind, const char *cmd, const char *fmt, va_list ap)
{
    if (cmd)
        fprintf(stderr, "%s %s: %s", wp_prog, cmd, kind);
    else
        fprintf(stderr, "%s: %s", wp_prog, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", cmd, fmt, ap);
    va_end(ap);
}

void cli_warn(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", cmd, fmt, ap);
    va_end(ap);
}

int cli_exit_for_create(int code)
{
    switch (code) {
    case -ENOSPC:
    case -EIO:
        return WP_EXIT_IOERR;
    case -ENODEV:
        return WP_EXIT_UNAVAILABLE;
    case -ENOMEM:
        return WP_EXIT_SOFTWARE;
    default:
        return WP_EXIT_CANTCREAT;
    }
}

int cli_exit_for_open(int code)
{
    switch (code) {
    case -ENOENT:
    case -EACCES:
    case -EPERM:
        return WP_EXIT_NOINPUT;
    case -ENOMEM:
        return WP_EXIT_SOFTWARE;
    default:
        return WP_EXIT_DATAERR;
    }
}

static int check_output(const char *cmd, const char *path, bool force, bool can_force);

int cli_check_trace_output(const char *cmd, const char *path, bool force)
{
    return cli_check_trace_output_ext(cmd, path, force, true);
}

int cli_check_trace_output_ext(const char *cmd, const char *path, bool force, bool can_force)
{
    if (path && strcmp(path, "-") == 0) {
        cli_error(cmd, "-o -: a trace is an SQLite file, not a stream, so it cannot go to standard "
                       "output; give a file name (`wattprof export TRACE --csv` writes rows to "
                       "standard output)");
        return WP_EXIT_USAGE;
    }
    return check_output(cmd, path, force, can_force);
}

int cli_check_output(const char *cmd, const char *path, bool force)
{
    return check_output(cmd, path, force, true);
}

static int check_output(const char *cmd, const char *path, bool force, bool can_force)
{
    if (!path || strcmp(path, "-") == 0)
        return 0;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            cli_error(cmd, "%s is a directory; give a file name", path);
            return WP_EXIT_CANTCREAT;
        }
        if (!force) {
            /* the advice names --force only where the command has it */
            cli_error(cmd, "%s already exists; choose another name%s", path,
                      can_force ? ", or pass --force to replace it"
                                : " (this command never replaces a file)");
            return WP_EXIT_CANTCREAT;
        }
    }
    char *copy = strdup(path);
    if (!copy)
        return WP_EXIT_SOFTWARE;
    const char *dir = dirname(copy);
    int rc = 0;
    if (access(dir, W_OK | X_OK) != 0) {
        cli_error(cmd, "cannot write %s: directory %s %s", path, dir,
                  errno == ENOENT ? "does not exist" : "is not writable");
        rc = WP_EXIT_CANTCREAT;
    }
    free(copy);
    return rc;
}

int cli_check_not_input(const char *cmd, const char *out, const char *const *in, size_t nin)
{
    struct stat so, si;
    if (!out || strcmp(out, "-") == 0 || lstat(out, &so) != 0)
        return 0;
    for (size_t i = 0; i < nin; i++)
        if (in[i] && stat(in[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
            cli_error(cmd,
                      "%s is the input %s; writing it would replace what is being read, so "
                      "choose another name",
                      out, in[i]);
            return WP_EXIT_CANTCREAT;
        }
    return 0;
}

/* The directory part of path: its device and inode. */
static int stat_dir(const char *path, struct stat *st)
{
    char *copy = strdup(path);
    int rc = copy ? stat(dirname(copy), st) : -1;
    free(copy);
    return rc;
}

/* Whether a and b name one file: both exist and are one inode, or (one not there yet) they
 * have the same last component in one directory. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ca = strdup(a), *cb = strdup(b);
    bool same = ca && cb && strcmp(basename(ca), basename(cb)) == 0 && stat_dir(a, &sa) == 0 &&
                stat_dir(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    free(ca);
    free(cb);
    return same;
}

int cli_check_outputs_differ(const char *cmd, const char *a, const char *b)
{
    if (!a || !b || strcmp(a, "-") == 0 || strcmp(b, "-") == 0 || !same_file(a, b))
        return 0;
    cli_error(cmd, "%s and %s are one file: each output needs its own name", a, b);
    return WP_EXIT_USAGE;
}

/* errno right after a failed flush names the cause (ENOSPC, EPIPE, ...); an errno left over
 * from earlier calls would not, so fall back to EIO. */
static int flush_errno(FILE *f)
{
    errno = 0;
    if (fflush(f) == 0 && !ferror(f))
        return 0;
    return errno ? errno : EIO;
}

int cli_write_output(const char *cmd, const char *path, bool force, cli_write_fn fn, void *ctx)
{
    if (strcmp(path, "-") == 0) {
        int r = fn(stdout, ctx);
        int e = flush_errno(stdout);
        if (r > 0)
            return r;
        if (r < 0 || e) {
            cli_error(cmd, "writing to standard output failed: %s", strerror(e ? e : -r));
            return WP_EXIT_IOERR;
        }
        return 0;
    }
    int rc = cli_check_output(cmd, path, force);
    if (rc)
        return rc;
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len);
    if (!tmp)
        return WP_EXIT_SOFTWARE;
    snprintf(tmp, len, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cli_error(cmd, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return WP_EXIT_CANTCREAT;
    }
    mode_t um = umask(0);
    umask(um);
    if (fchmod(fd, 0666 & ~um) != 0) {
        /* keep mkstemp's 0600: safe, only less convenient */
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        free(tmp);
        return WP_EXIT_SOFTWARE;
    }
    int r = fn(f, ctx);
    int e = flush_errno(f);
    if (!e && fsync(fileno(f)) != 0)
        e = errno;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (r > 0 || r < 0 || e) {
        if (r <= 0)
            cli_error(cmd, "writing %s failed: %s; nothing was replaced", path,
                      strerror(e ? e : -r));
        unlink(tmp);
        free(tmp);
        return r > 0 ? r : WP_EXIT_IOERR;
    }
    /* link() refuses to replace an existing file, so a file that appeared meanwhile is never
     * clobbered; rename() replaces atomically when --force was given. */
    if (force ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
        int le = errno;
        unlink(tmp);
        free(tmp);
        if (le == EEXIST)
            cli_error(cmd, "%s already exists; choose another name, or pass --force", path);
        else
            cli_error(cmd, "cannot create %s: %s", path, strerror(le));
        return WP_EXIT_CANTCREAT;
    }
    if (!force)
        unlink(tmp);
    free(tmp);
    return 0;
}

int cli_trace_pick(const char *cmd, const char *out, struct cli_trace *t)
{
    memset(t, 0, sizeof(*t));
    if (out) {
        t->path = out;
        return 0;
    }
    const char *td = getenv("TMPDIR");
    snprintf(t->tmpdir, sizeof(t->tmpdir), "%s/wattprof-%s-XXXXXX", td && *td ? td : "/tmp", cmd);
    if (!mkdtemp(t->tmpdir)) {
        cli_error(cmd,
                  "cannot create a temporary directory (%s): %s; set TMPDIR to a writable "
                  "directory or pass -o TRACE",
                  t->tmpdir, strerror(errno));
        return WP_EXIT_CANTCREAT;
    }
    snprintf(t->tmppath, sizeof(t->tmppath), "%s/%s.wptrace", t->tmpdir, cmd);
    t->path = t->tmppath;
    t->temporary = true;
    return 0;
}

void cli_trace_done(struct cli_trace *t)
{
    if (!t->temporary)
        return;
    unlink(t->tmppath);
    /* A trace that failed to close (a full disk) still has its log and shared memory file;
     * the directory cannot go while they are there. */
    static const char *const sidecars[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
        char p[sizeof(t->tmppath) + 16];
        snprintf(p, sizeof(p), "%s%s", t->tmppath, sidecars[i]);
        unlink(p);
    }
    if (rmdir(t->tmpdir) != 0 && errno != ENOENT)
        cli_warn(NULL, "could not remove the temporary directory %s: %s", t->tmpdir,
                 strerror(errno));
    t->temporary = false;
}

void cli_print_event(const struct wp_event *e, void *ctx)
{
    (void)ctx;
    cli_warn(NULL, "%s", e->message);
}

int cli_parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = wp_strtod_dec(s, &end);
    if (end == s || errno || !isfinite(v) || v <= 0)
        return -EINVAL;
    if (*end == 's' && end[1] == 0)
        end++;
    else if (*end == 'm' && end[1] == 0)
        v *= 60, end++;
    else if (*end == 'h' && end[1] == 0)
        v *= 3600, end++;
    if (*end || !isfinite(v) || v < CLI_SECONDS_MIN || v > CLI_SECONDS_MAX)
        return -EINVAL;
    *out = v;
    return 0;
}

int cli_parse_rated_w(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = wp_strtod_dec(s, &end);
    /* 1e7 W: ten times the largest rack anyone rates today; beyond is a typo (mW, kW). */
    if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > 1e7)
        return -EINVAL;
    *out = v;
    return 0;
}

void cli_warn_wal_missing(const char *cmd, const struct wp_trace *t, const char *path)
{
    if (wp_trace_wal_missing(t))
        cli_warn(cmd,
                 "%s-wal is missing and the recording never finished: samples after the last "
                 "checkpoint would be in it; copy it beside %s if you still have it",
                 path, path);
}

struct json_ctx {
    const struct wp_summary *s;
    const struct cli_report_extra *x;
};

static int write_json(FILE *f, void *ctx)
{
    struct json_ctx *c = ctx;
    int rc = wp_summary_write_json_ext(f, c->s, c->x ? c->x->json : NULL, c->x ? c->x->ctx : NULL);
    if (rc == -EINVAL) {
        cli_error(NULL, "internal error: the summary JSON came out unbalanced");
        return WP_EXIT_SOFTWARE;
    }
    return rc;
}

static void attrib_json(struct wp_json *j, const void *ctx)
{
    wp_attrib_write_json(j, ctx);
}

static int write_cluster_json(FILE *f, void *ctx)
{
    int rc = wp_cluster_write_json(f, ctx);
    if (rc == -EINVAL) {
        cli_error(NULL, "internal error: the cluster JSON came out unbalanced");
        return WP_EXIT_SOFTWARE;
    }
    return rc;
}

/* A merged trace: every node's summary, then the cluster's totals and aligned peak. */
static int summarize_cluster(const char *cmd, const struct wp_trace *t, const char *trace_path,
                             FILE *text, const char *json_path, bool force, bool events,
                             double rated_w)
{
    struct wp_err err = {0};
    struct wp_cluster_summary c;
    struct wp_summary_opts opts = {.rated_w = rated_w};
    int rc = wp_cluster_compute(t, &opts, &c, &err);
    if (rc < 0) {
        cli_error(cmd, "cannot summarise %s: %s", trace_path, err.msg);
        return rc == -ENOMEM ? WP_EXIT_SOFTWARE : WP_EXIT_DATAERR;
    }
    if (text)
        wp_cluster_print_text(text, &c);
    const struct wp_event *ev;
    size_t nev = 0;
    if (text && events && wp_trace_events(t, &ev, &nev, &err) == 0 && nev > 0) {
        fprintf(text, "\nevents:\n");
        for (size_t i = 0; i < nev; i++)
            fprintf(text, "  %s: %s\n", ev[i].host, ev[i].message);
    }
    int out = json_path ? cli_write_output(cmd, json_path, force, write_cluster_json, &c) : 0;
    size_t damaged = 0;
    for (size_t i = 0; i < c.nnodes; i++) {
        for (size_t k = 0; k < c.nodes[i].s.ndamaged; k++)
            cli_error(cmd, "%s is damaged: node %s, %s; left out of the summary", trace_path,
                      c.nodes[i].host, c.nodes[i].s.damaged[k].text);
        damaged += c.nodes[i].s.ndamaged;
    }
    if (damaged > 0 && out == 0)
        out = WP_EXIT_DATAERR;
    wp_cluster_free(&c);
    return out;
}

int cli_summarize(const char *cmd, const char *trace_path, FILE *text, const char *json_path,
                  bool force, bool events)
{
    return cli_summarize_rated(cmd, trace_path, text, json_path, force, events, NAN);
}

struct progress {
    const char *cmd;
    int last_pct;
    bool shown;
};

/* "wattprof report: reading 42 %" on one line, rewritten in place. */
static void show_progress(void *ctx, double done)
{
    struct progress *p = ctx;
    int pct = (int)(done * 100.0);
    if (pct == p->last_pct)
        return;
    p->last_pct = pct;
    p->shown = true;
    fprintf(stderr, "\rwattprof %s: reading samples %3d %%", p->cmd, pct);
    fflush(stderr);
}

void *cli_progress_new(const char *cmd)
{
    /* only for a person watching: a log or a pipe gets no carriage returns */
    if (!isatty(STDERR_FILENO))
        return NULL;
    struct progress *p = calloc(1, sizeof(*p));
    if (p) {
        p->cmd = cmd;
        p->last_pct = -1;
    }
    return p;
}

void cli_progress(void *ctx, double done)
{
    if (ctx)
        show_progress(ctx, done);
}

void cli_progress_end(void *ctx)
{
    struct progress *p = ctx;
    if (p && p->shown)
        fputs("\r\033[K", stderr); /* the line goes: what follows is the summary */
    free(p);
}

struct html_ctx {
    const struct wp_trace *t;
    const struct wp_summary *s;
    struct wp_timelines *tl;
};

static int write_html(FILE *f, void *ctx)
{
    struct html_ctx *c = ctx;
    /* the node meters and the zoom window are read here, after the text and JSON are out */
    struct wp_err err = {0};
    int rc = wp_timelines_finish(c->tl, c->s, &err);
    if (rc == 0)
        rc = wp_html_trace(f, c->t, c->s, c->tl, &err);
    if (rc == 0 && c->tl->left_out)
        cli_warn("report",
                 "the page draws %d power series at most; %zu more (node meters, PDU "
                 "outlets first) are left out of it",
                 WP_TIMELINE_MAX, c->tl->left_out);
    if (rc < 0 && rc != -EIO) {
        cli_error(NULL, "%s", err.msg);
        return rc == -ENOMEM ? WP_EXIT_SOFTWARE : WP_EXIT_DATAERR;
    }
    return rc;
}

int cli_summarize_rated(const char *cmd, const char *trace_path, FILE *text, const char *json_path,
                        bool force, bool events, double rated_w)
{
    return cli_summarize_ext(cmd, trace_path, text, json_path, force, events, rated_w, NULL, NULL,
                             NULL);
}

int cli_summarize_ext(const char *cmd, const char *trace_path, FILE *text, const char *json_path,
                      bool force, bool events, double rated_w, const struct cli_report_extra *x,
                      const char *html_path, const struct wp_html_opts *html_opts)
{
    struct wp_err err = {0};
    struct wp_trace *t = NULL;
    int rc = wp_trace_open(&t, trace_path, &err);
    if (rc < 0) {
        cli_error(cmd, "%s", err.msg);
        return cli_exit_for_open(rc);
    }
    cli_warn_wal_missing(cmd, t, trace_path);
    if (wp_trace_nnodes(t) > 0) {
        if (html_path || x) {
            /* said, not silently skipped: both read one node's series */
            cli_error(cmd,
                      "%s is a cluster trace (wattprof merge); %s covers one node: give it one "
                      "node's own trace",
                      trace_path, html_path ? "--html" : "--intensity");
            wp_trace_free(t);
            return WP_EXIT_USAGE;
        }
        rc = summarize_cluster(cmd, t, trace_path, text, json_path, force, events, rated_w);
        wp_trace_free(t);
        return rc;
    }
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    struct wp_summary_opts opts = {.rated_w = rated_w};
    /* `run` and `record` summarise what they just wrote: seconds, not worth a progress line */
    void *prog = strcmp(cmd, "report") == 0 ? cli_progress_new(cmd) : NULL;
    if (prog) {
        opts.progress = cli_progress;
        opts.progress_ctx = prog;
    }
    /* the HTML's timelines are folded in the summary's one pass over the samples */
    struct wp_timelines *tl = html_path ? calloc(1, sizeof(*tl)) : NULL;
    if (html_path && !tl) {
        cli_error(cmd, "out of memory drawing the report; free memory");
        cli_progress_end(prog);
        wp_trace_free(t);
        return WP_EXIT_SOFTWARE;
    }
    if (tl)
        wp_timelines_init(tl, t, html_opts ? html_opts->zoom_from_s : NAN,
                          html_opts ? html_opts->zoom_to_s : NAN, &opts);
    rc = wp_summary_compute_opts(t, &opts, &s, &err);
    cli_progress_end(prog);
    if (rc < 0) {
        cli_error(cmd, "cannot summarise %s: %s", trace_path, err.msg);
        if (tl)
            wp_timelines_free(tl);
        free(tl);
        wp_trace_free(t);
        return rc == -ENOMEM ? WP_EXIT_SOFTWARE : WP_EXIT_DATAERR;
    }
    if (x && x->prepare && (rc = x->prepare(t, &s, x->ctx)) != 0) {
        wp_summary_free(&s);
        if (tl)
            wp_timelines_free(tl);
        free(tl);
        wp_trace_free(t);
        return rc;
    }
    /* Energy per process, where the trace has per-process samples. */
    struct wp_attrib at;
    if (wp_attrib_compute(t, s.start_us, s.end_us, &at, &err) < 0) {
        cli_warn(cmd, "no energy per process: %s", err.msg);
        memset(&at, 0, sizeof(at));
    }
    if (at.ngpus > 0) {
        s.extra_json = attrib_json;
        s.extra_ctx = &at;
    }
    if (text) {
        wp_summary_print_text(text, &s);
        wp_attrib_print_text(text, &at);
    }
    if (text && x && x->text)
        x->text(text, x->ctx);
    const struct wp_event *ev;
    size_t nev = 0;
    if (text && events && wp_trace_events(t, &ev, &nev, &err) == 0 && nev > 0) {
        fprintf(text, "\nevents:\n");
        for (size_t i = 0; i < nev; i++)
            fprintf(text, "  %s\n", ev[i].message);
    }
    int out = 0;
    if (json_path) {
        struct json_ctx c = {.s = &s, .x = x};
        out = cli_write_output(cmd, json_path, force, write_json, &c);
    }
    if (html_path && out == 0) {
        struct html_ctx h = {t, &s, tl};
        out = cli_write_output(cmd, html_path, force, write_html, &h);
    }
    /* What is intact was summarised and written; now say what was not, and fail. */
    for (size_t i = 0; i < s.ndamaged; i++)
        cli_error(cmd, "%s is damaged: %s; left out of the summary", trace_path, s.damaged[i].text);
    if (s.ndamaged > 0 && out == 0) {
        cli_error(cmd,
                  "the summary above covers only the intact data of %s; copy it again from "
                  "where it was recorded, or record it again",
                  trace_path);
        out = WP_EXIT_DATAERR;
    }
    wp_summary_free(&s);
    wp_attrib_free(&at);
    if (tl)
        wp_timelines_free(tl);
    free(tl);
    wp_trace_free(t);
    return out;
}

void cli_block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

int cli_wait_stop(const sigset_t *set, double duration_s)
{
    int sig;
    if (duration_s > 0) {
        struct timespec ts = {.tv_sec = (time_t)duration_s,
                              .tv_nsec = (long)((duration_s - floor(duration_s)) * 1e9)};
        sig = sigtimedwait(set, NULL, &ts);
        while (sig < 0 && errno == EINTR)
            sig = sigtimedwait(set, NULL, &ts);
        return sig > 0 ? sig : 0;
    }
    while (sigwait(set, &sig) != 0)
        ;
    return sig;
}

int cli_duration_option(const char *cmd, const char *arg, double *out)
{
    if (cli_parse_seconds(arg, out) == 0)
        return 0;
    cli_error(cmd,
              "--duration wants a number of seconds " CLI_SECONDS_RANGE
              " (e.g. 60, 90s, 15m, 2h), not '%s'",
              arg);
    return WP_EXIT_USAGE;
}
