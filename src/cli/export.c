/* wattprof export: samples as rows for people who want rows. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/json.h"
#include "store/trace.h"

static const char export_usage[] =
    "usage: wattprof export TRACE (--csv | --jsonl) [-o FILE] [--sensor NAME] [--force]\n"
    "\n"
    "Writes every sample of TRACE as one row: sensor id, source, device, reading name, unit,\n"
    "wall-clock time in microseconds since the Unix epoch, raw integer value in that unit.\n"
    "CSV header: sensor_id,source,device,name,unit,t_us,value\n"
    "A cluster trace (`wattprof merge`) adds the node each row was recorded on: a last\n"
    "column host (CSV) or key \"host\" (JSON lines).\n"
    "\n"
    "options:\n"
    "  --csv | --jsonl    output format (one of them is required)\n"
    "  -o, --output FILE  write to FILE instead of stdout (never replaced without --force)\n"
    "  -s, --sensor NAME  only readings with this name (e.g. power, energy, power_avg)\n"
    "  -f, --force        replace FILE if it exists\n"
    "\n"
    "example: wattprof export day.wptrace --csv -s power -o power.csv   (with -o, stderr shows\n"
    "how far on a terminal)\n"
    "\n"
    "exit status: 0, 64 usage (also: no reading of that name), 65 not a trace or damaged (the\n"
    "intact samples are still written), 66 cannot read TRACE, 70 internal error, 73 FILE\n"
    "exists or cannot be created, 74 write error.\n";

struct export_ctx {
    const struct wp_trace *t;
    const char *path;
    bool jsonl;
    const char *only;
    size_t ndamaged; /* damaged chunks left out, each named on stderr */
};

/* A text field of a CSV row (RFC 4180): quoted, with quotes doubled, when it holds a comma, a
 * quote or a line break; sensor names come from the trace, which anyone can edit. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    putc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            putc('"', f);
        putc(*s, f);
    }
    putc('"', f);
}

/* Decimal digits of v at p (at most 20 characters); returns the end. snprintf per number was
 * most of export's time. */
static char *put_i64(char *p, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* The columns a sensor's rows share, "3,nvml,0,power,mW,", built once per sensor. */
static size_t csv_prefix(const struct wp_sensor *s, const char *unit, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return 0;
    fprintf(m, "%d,", s->id);
    csv_field(m, s->source);
    fprintf(m, ",%d,", s->device);
    csv_field(m, s->name);
    fprintf(m, ",%s,", unit);
    if (fclose(m) != 0) {
        free(buf);
        return 0;
    }
    *out = buf;
    return len;
}

/* The end of a sensor's rows: "\n", or in a cluster trace ",host\n" (the node, last so the
 * older columns keep their places). */
static size_t csv_suffix(const struct wp_sensor *s, bool hosts, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return 0;
    if (hosts) {
        putc(',', m);
        csv_field(m, s->host);
    }
    putc('\n', m);
    if (fclose(m) != 0) {
        free(buf);
        return 0;
    }
    *out = buf;
    return len;
}

/* CSV rows of one block, written through a buffer of whole rows. */
static void csv_rows(FILE *f, const char *prefix, size_t plen, const char *suffix, size_t slen,
                     const int64_t *t, const int64_t *v, size_t n)
{
    static char buf[1 << 16];
    size_t o = 0;
    if (plen + slen + 48 > sizeof(buf))
        return; /* a prefix this long cannot come from a trace's sensor row */
    for (size_t k = 0; k < n; k++) {
        if (o + plen + slen + 48 > sizeof(buf)) {
            fwrite(buf, 1, o, f);
            o = 0;
        }
        memcpy(buf + o, prefix, plen);
        char *p = put_i64(buf + o + plen, t[k]);
        *p++ = ',';
        p = put_i64(p, v[k]);
        memcpy(p, suffix, slen);
        o = (size_t)(p + slen - buf);
    }
    fwrite(buf, 1, o, f);
}

/* One sensor's samples, a block at a time (the cursor keeps memory flat on a day-long trace). */
static int write_sensor(FILE *f, struct export_ctx *x, const struct wp_sensor *s, bool hosts,
                        struct wp_json *j)
{
    struct wp_err err = {0};
    struct wp_trace_cursor *cur;
    int rc = wp_trace_cursor_open(x->t, s->id, &cur, &err);
    if (rc < 0) {
        cli_error("export", "%s", err.msg);
        return cli_exit_for_open(rc);
    }
    /* The value is raw, so its unit is the sensor's raw unit (uJ for RAPL), not the
     * quantity's canonical one. */
    const char *unit = wp_sensor_unit(s);
    char *prefix = NULL, *suffix = NULL;
    size_t plen = x->jsonl ? 0 : csv_prefix(s, unit, &prefix);
    size_t slen = x->jsonl ? 0 : csv_suffix(s, hosts, &suffix);
    if (!x->jsonl && (!plen || !slen)) {
        free(prefix);
        free(suffix);
        wp_trace_cursor_close(cur);
        cli_error("export", "out of memory");
        return WP_EXIT_SOFTWARE;
    }
    const int64_t *t, *v;
    size_t n;
    while ((rc = wp_trace_cursor_next(cur, &t, &v, &n, &err)) == 0 && n > 0 && !ferror(f)) {
        if (!x->jsonl) {
            csv_rows(f, prefix, plen, suffix, slen, t, v, n);
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            wp_json_obj_begin(j);
            wp_json_kint(j, "sensor_id", s->id);
            wp_json_kstr(j, "source", s->source);
            wp_json_kint(j, "device", s->device);
            wp_json_kstr(j, "name", s->name);
            wp_json_kstr(j, "unit", unit);
            wp_json_kint(j, "t_us", t[k]);
            wp_json_kint(j, "value", v[k]);
            if (hosts)
                wp_json_kstr(j, "host", s->host);
            wp_json_obj_end(j);
            if (wp_json_end_line(j) == -EIO)
                break;
        }
    }
    free(prefix);
    free(suffix);
    if (rc < 0) {
        wp_trace_cursor_close(cur);
        cli_error("export", "%s", err.msg);
        return cli_exit_for_open(rc);
    }
    const struct wp_trace_damage *dmg;
    size_t nd;
    wp_trace_cursor_damage(cur, &dmg, &nd);
    for (size_t d = 0; d < nd; d++) {
        char what[320];
        wp_trace_damage_describe(x->t, &dmg[d], what, sizeof(what));
        cli_error("export", "%s is damaged: %s; those samples are left out", x->path, what);
    }
    x->ndamaged += nd;
    wp_trace_cursor_close(cur);
    return ferror(f) ? -EIO : 0;
}

static int write_rows(FILE *f, void *arg)
{
    struct export_ctx *x = arg;
    struct wp_json j;
    wp_json_init(&j, f, 0);
    const struct wp_sensors *tab = wp_trace_sensors(x->t);
    /* Two nodes' GPU 0 are told apart by their host, last so the older columns keep their
     * places. */
    bool hosts = wp_trace_nnodes(x->t) > 0;
    if (!x->jsonl)
        fprintf(f, "sensor_id,source,device,name,unit,t_us,value%s\n", hosts ? ",host" : "");
    /* progress by sensors done: a terminal on stdout is the output, so only with -o */
    void *prog = f != stdout ? cli_progress_new("export") : NULL;
    int rc = 0;
    for (size_t i = 0; i < tab->n && rc == 0; i++) {
        const struct wp_sensor *s = &tab->v[i];
        cli_progress(prog, (double)i / (double)tab->n);
        if (x->only && strcmp(s->name, x->only) != 0)
            continue;
        rc = write_sensor(f, x, s, hosts, &j);
    }
    cli_progress_end(prog);
    return rc;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"csv", no_argument, NULL, 'c'},
        {"jsonl", no_argument, NULL, 'J'},
        {"output", required_argument, NULL, 'o'},
        {"sensor", required_argument, NULL, 's'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = "-", *only = NULL;
    int format = 0; /* 1 csv, 2 jsonl */
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:s:fh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
        case 'J':
            if (format && format != (c == 'c' ? 1 : 2)) {
                cli_error("export", "choose one format: --csv or --jsonl");
                return WP_EXIT_USAGE;
            }
            format = c == 'c' ? 1 : 2;
            break;
        case 'o':
            out = optarg;
            break;
        case 's':
            only = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'h':
            fputs(export_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "Try 'wattprof export --help'.\n");
            return WP_EXIT_USAGE;
        }
    }
    if (!format) {
        cli_error("export", "choose a format: --csv or --jsonl");
        return WP_EXIT_USAGE;
    }
    if (optind != argc - 1) {
        cli_error("export", "give exactly one trace; usage: wattprof export TRACE --csv");
        return WP_EXIT_USAGE;
    }
    int rc = cli_check_not_input("export", out, (const char *const *)(argv + optind), 1);
    if (rc)
        return rc;
    struct export_ctx x = {.jsonl = format == 2, .only = only, .path = argv[optind]};
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    rc = wp_trace_open(&t, argv[optind], &err);
    if (rc < 0) {
        cli_error("export", "%s", err.msg);
        return cli_exit_for_open(rc);
    }
    x.t = t;
    cli_warn_wal_missing("export", t, argv[optind]);
    if (only) {
        const struct wp_sensors *tab = wp_trace_sensors(t);
        bool any = false;
        for (size_t i = 0; i < tab->n; i++)
            any |= strcmp(tab->v[i].name, only) == 0;
        if (!any) {
            cli_error("export", "no reading named '%s' in %s (see `wattprof report`)", only,
                      argv[optind]);
            wp_trace_free(t);
            return WP_EXIT_USAGE;
        }
    }
    rc = cli_write_output("export", out, force, write_rows, &x);
    if (rc == 0 && x.ndamaged > 0) {
        cli_error("export",
                  "wrote the intact samples of %s; %zu damaged chunk(s) are missing (named "
                  "above); copy the trace again from where it was recorded, or record it again",
                  argv[optind], x.ndamaged);
        rc = WP_EXIT_DATAERR;
    }
    wp_trace_free(t);
    return rc;
}
