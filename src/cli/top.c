/* wattprof top: every GPU and meter live in the terminal (ncurses). */
#include <curses.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/live_cli.h"
#include "core/clock.h"

/* The screen is redrawn this often; the view gets new samples this often without a trace
 * (with one, once per commit, as `record` writes). */
#define REFRESH_MS       250
#define LIVE_ROUND_US    250000
#define SPARK_SPAN_US    3000000
#define SPARK_MAX_POINTS 1024
/* The columns before the sparkline: label, now, 1 s, max 10 s, limit, energy. */
#define LABEL_W 16
#define FIXED_W (LABEL_W + 8 + 8 + 8 + 7 + 11)

static const char top_usage[] =
    "usage: wattprof top [-o TRACE] [--duration S] [--force] [--source SPEC]... [--config FILE]\n"
    "                    [--no-auto] [--rated-w W]\n"
    "\n"
    "Shows every GPU and power meter live: the newest sample, the 1 s mean, the highest\n"
    "20 ms sample of the last 10 s, the limit, the energy since top started, and a sparkline\n"
    "of the last 3 s drawn from every 20 ms sample (each column the highest of its slice).\n"
    "Phases and marks from jobs (WATTPROF_SOCKET, shown at the top) appear as they arrive.\n"
    "Records nothing unless -o is given. Keys: q quits. Fits 80 columns and follows resizes.\n"
    "\n"
    "options:\n"
    "  -o, --output TRACE  also record into TRACE (never replaced without --force)\n"
    "  -d, --duration S    quit after S seconds (also 90s, 15m, 2h)\n"
    "  -f, --force         replace TRACE if it exists\n"
    "  e.g.  wattprof top -o session.wptrace\n" CLI_SOURCE_HELP "  -h, --help          this help\n"
    "\n"
    "exit status: 0, 64 usage (also: not a terminal), 65/66 the finished trace does not read\n"
    "back, 69 nothing to measure with, 70 internal error, 73 TRACE exists or cannot be\n"
    "created, 74 write error.\n";

struct view {
    struct cli_live *lv;
    const struct wp_sensors *tab;
    const char *host, *out;
    bool utf8;
    int64_t *t, *v; /* SPARK_MAX_POINTS each, for the sparkline */
};

/* Rows: one per device that reads power (its finest gauge), then energy counters of devices
 * without one (RAPL packages): what `list` shows as meters. */
static bool row_sensor(const struct wp_sensors *tab, const struct wp_live_snapshot *p, size_t i)
{
    const struct wp_sensor *s = &tab->v[i];
    if (s->quantity == WP_Q_POWER && s->kind == WP_GAUGE)
        return p->s[i].primary;
    if (s->quantity != WP_Q_ENERGY || s->kind != WP_COUNTER)
        return false;
    for (size_t j = 0; j < tab->n; j++)
        if (tab->v[j].quantity == WP_Q_POWER && tab->v[j].kind == WP_GAUGE &&
            tab->v[j].device == s->device && strcmp(tab->v[j].source, s->source) == 0)
            return false;
    return true;
}

static void label(const struct wp_sensor *s, char *buf, size_t len)
{
    if (s->scope == WP_SCOPE_GPU && s->device >= 0)
        snprintf(buf, len, "GPU %d", s->device);
    else if (s->device >= 0)
        snprintf(buf, len, "%s %d %s", s->source, s->device, wp_scope_name(s->scope));
    else
        snprintf(buf, len, "%s %s", s->source, wp_scope_name(s->scope));
}

static void fmt_w(char *buf, size_t len, double w)
{
    if (isnan(w))
        snprintf(buf, len, "%7s", "-");
    else
        snprintf(buf, len, "%7.1f", w);
}

static void fmt_energy(char *buf, size_t len, double j)
{
    if (isnan(j))
        snprintf(buf, len, "%10s", "-");
    else if (j < 1e5)
        snprintf(buf, len, "%8.0f J", j);
    else if (j < 1e8)
        snprintf(buf, len, "%7.1f kJ", j / 1e3);
    else
        snprintf(buf, len, "%7.1f MJ", j / 1e6);
}

/* The last SPARK_SPAN_US of samples in `width` columns, each the highest sample of its
 * slice, so a 20 ms peak stays visible however narrow the terminal. */
static void sparkline(struct view *vw, const struct wp_sensor *s, const struct wp_live_sensor *l,
                      int width)
{
    static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                         "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char ascii[] = "_.-=+*#@";
    if (width <= 0 || !l->has)
        return;
    int64_t from = l->t_us - SPARK_SPAN_US;
    size_t n = wp_live_recent(vw->lv->live, s->id, from, vw->t, vw->v, SPARK_MAX_POINTS);
    if (n == 0)
        return;
    double top = s->limit != WP_NO_LIMIT ? (double)s->limit : 0;
    for (size_t k = 0; k < n; k++)
        if ((double)vw->v[k] > top)
            top = (double)vw->v[k];
    if (top <= 0)
        return;
    size_t k = 0;
    for (int c = 0; c < width; c++) {
        int64_t end = from + (int64_t)((double)SPARK_SPAN_US * (c + 1) / width);
        int64_t best = INT64_MIN;
        while (k < n && vw->t[k] <= end) {
            if (vw->v[k] > best)
                best = vw->v[k];
            k++;
        }
        if (best == INT64_MIN) {
            addch(' ');
            continue;
        }
        int lvl = (int)((double)best / top * 7.999);
        lvl = lvl < 0 ? 0 : lvl > 7 ? 7 : lvl;
        if (vw->utf8)
            addstr(blocks[lvl]);
        else
            addch((chtype)(unsigned char)ascii[lvl]);
    }
}

static void clock_str(int64_t t_us, char *buf, size_t len, bool ms)
{
    time_t t = (time_t)(t_us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%H:%M:%S", &tm);
    if (ms && n < len)
        snprintf(buf + n, len - n, ".%03d", (int)(t_us / 1000 % 1000));
}

static void draw(struct view *vw, const struct wp_live_snapshot *p)
{
    int rows = LINES, cols = COLS;
    erase();
    char line[512], when[32];
    clock_str(wp_wall_us(), when, sizeof(when), false);
    snprintf(line, sizeof(line), "wattprof top  %s  %s  %s  (q quits)", vw->host, when,
             vw->out ? vw->out : "not recording");
    mvaddnstr(0, 0, line, cols);
    const char *sock = wp_recorder_socket(vw->lv->r);
    if (sock && rows > 1) {
        snprintf(line, sizeof(line), "marks: WATTPROF_SOCKET=%s", sock);
        mvaddnstr(1, 0, line, cols);
    }
    int y = 2;
    if (y < rows) {
        int off = snprintf(line, sizeof(line), "phase:");
        for (int i = 0; i < p->nphases && off < (int)sizeof(line); i++)
            off += snprintf(line + off, sizeof(line) - (size_t)off, " %s", p->phases[i]);
        if (p->nphases == 0)
            off += snprintf(line + off, sizeof(line) - (size_t)off, " -");
        if (p->nmarks > 0 && off < (int)sizeof(line)) {
            const struct wp_mark *m = &p->marks[p->nmarks - 1];
            clock_str(m->t_us, when, sizeof(when), false);
            snprintf(line + off, sizeof(line) - (size_t)off, "   last mark %s %s %s (%llu)", when,
                     wp_mark_kind_name(m->kind), m->name, (unsigned long long)p->marks_total);
        }
        mvaddnstr(y++, 0, line, cols);
    }
    y++;
    if (y < rows) {
        snprintf(line, sizeof(line), "%-*s%8s%8s%8s%7s%11s  %s", LABEL_W, "meter", "now W", "1s W",
                 "max10s", "limit", "energy", "last 3 s, 20 ms");
        attron(A_BOLD);
        mvaddnstr(y++, 0, line, cols);
        attroff(A_BOLD);
    }
    size_t shown = 0, total = 0;
    for (size_t i = 0; i < p->nsensors && i < vw->tab->n; i++) {
        if (!row_sensor(vw->tab, p, i))
            continue;
        total++;
        if (y >= rows - 1)
            continue;
        const struct wp_sensor *s = &vw->tab->v[i];
        const struct wp_live_sensor *l = &p->s[i];
        bool gauge = s->quantity == WP_Q_POWER;
        double now = NAN, mean1 = NAN, max10 = NAN, limit = NAN;
        if (gauge && l->has) {
            now = wp_sensor_value(s, l->raw) / 1000.0;
            mean1 = l->mean_mw[0] * wp_sensor_scale(s) / 1000.0;
            max10 = wp_sensor_value(s, l->max_raw[1]) / 1000.0;
        } else if (!gauge && l->has_rate) {
            now = l->rate_mw / 1000.0;
        }
        if (gauge && s->limit != WP_NO_LIMIT)
            limit = wp_sensor_value(s, s->limit) / 1000.0;
        char lab[64], a[16], b[16], c[16], e[24], lim[16];
        label(s, lab, sizeof(lab));
        fmt_w(a, sizeof(a), now);
        fmt_w(b, sizeof(b), mean1);
        fmt_w(c, sizeof(c), max10);
        if (isnan(limit))
            snprintf(lim, sizeof(lim), "%6s", "-");
        else
            snprintf(lim, sizeof(lim), "%6.0f", limit);
        /* A meter that has sent nothing has no energy yet, which is not 0 J. */
        fmt_energy(e, sizeof(e), l->has ? l->energy_mj / 1000.0 : NAN);
        snprintf(line, sizeof(line), "%-*.*s %s %s %s %s %s  ", LABEL_W - 1, LABEL_W - 1, lab, a, b,
                 c, lim, e);
        mvaddnstr(y, 0, line, cols);
        if (gauge)
            sparkline(vw, s, l, cols - FIXED_W - 2);
        y++;
        shown++;
    }
    if (total == 0 && y < rows)
        mvaddnstr(y++, 0, "waiting for the first samples...", cols);
    else if (shown < total && rows > 0)
        mvaddnstr(rows - 1, 0, "(more meters than lines: make the window taller)", cols);
    if (p->last_event.t_us && rows > y + 1) {
        clock_str(p->last_event.t_us, when, sizeof(when), false);
        snprintf(line, sizeof(line), "%s %s", when, p->last_event.message);
        mvaddnstr(rows - 1, 0, line, cols);
    }
    refresh();
}

const char *cli_top_curses_version(void)
{
    return curses_version();
}

/* Events go to the screen's last line, not to stderr under the curses screen. */
static void no_print(const struct wp_event *e, void *ctx)
{
    (void)e;
    (void)ctx;
}

int cmd_top(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"duration", required_argument, NULL, 'd'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        CLI_SOURCE_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    double duration_s = 0;
    bool force = false;
    struct cli_sources cs;
    cli_sources_init(&cs);
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:d:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'd':
            if ((rc = cli_duration_option("top", optarg, &duration_s)))
                goto done;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            fputs(top_usage, stdout);
            goto done;
        default:
            if ((rc = cli_sources_option("top", c, optarg, &cs)) >= 0) {
                if (rc == 0)
                    continue;
                goto done;
            }
            fprintf(stderr, "Try 'wattprof top --help'.\n");
            rc = WP_EXIT_USAGE;
            goto done;
        }
    }
    if (optind < argc) {
        cli_error("top", "unexpected argument '%s'", argv[optind]);
        rc = WP_EXIT_USAGE;
        goto done;
    }
    if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
        cli_error("top", "needs a terminal; to record without one use `wattprof record`, to "
                         "watch from elsewhere `wattprof serve`");
        rc = WP_EXIT_USAGE;
        goto done;
    }
    if ((rc = cli_sources_finish("top", &cs)) ||
        (out && (rc = cli_check_trace_output("top", out, force))))
        goto done;

    sigset_t set;
    cli_block_stop_signals(&set);
    struct cli_live lv;
    if ((rc = cli_live_start("top", "top", &cs, out, force, out ? 0 : LIVE_ROUND_US, no_print, NULL,
                             &lv)))
        goto done;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    struct view vw = {.lv = &lv, .tab = wp_recorder_sensors(lv.r), .host = host, .out = out};
    vw.t = calloc(SPARK_MAX_POINTS, sizeof(*vw.t));
    vw.v = calloc(SPARK_MAX_POINTS, sizeof(*vw.v));
    setlocale(LC_ALL, "");
    vw.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    initscr();
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    timeout(REFRESH_MS);
    int64_t deadline = duration_s > 0 ? wp_mono_us() + (int64_t)(duration_s * 1e6) : 0;
    int sig = 0;
    struct timespec zero = {0, 0};
    for (;;) {
        struct wp_live_snapshot snap;
        if (vw.t && vw.v && wp_live_snapshot(lv.live, &snap) == 0) {
            draw(&vw, &snap);
            wp_live_snapshot_free(&snap);
        }
        int ch = getch();
        if (ch == 'q' || ch == 'Q')
            break;
        if (ch == KEY_RESIZE)
            clear(); /* ncurses has the new size; the next draw uses it */
        if ((sig = sigtimedwait(&set, NULL, &zero)) > 0)
            break;
        sig = 0;
        if (deadline && wp_mono_us() >= deadline)
            break;
    }
    endwin();
    free(vw.t);
    free(vw.v);
    rc = cli_live_stop("top", &lv, sig, false, force);
done:
    cli_sources_free(&cs);
    return rc;
}
