/* The summary as text for a terminal (wattprof report, run and record print it on stderr):
 * a table per GPU and all GPUs, then the node, phases and point marks. Control characters a
 * job may have sent become '?'. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "report/report.h"
#include "report/swings_out.h"

size_t wp_report_put_clean(FILE *f, const char *s, size_t max)
{
    size_t n = strlen(s), i;
    for (i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        putc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
    if (n > max) {
        fputs("...", f);
        i += 3;
    }
    return i;
}

const char *wp_report_num(char *buf, size_t cap, const char *fmt, double v)
{
    if (!isfinite(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, fmt, v);
    return buf;
}

/* column widths, each including one leading space; total 97 */
#define ROW_FMT "%4s %10s %10s %7s %7s %7s %7s %7s %7s %8s %7s %5s"

static void put_row(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_row(FILE *f, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    fputs(line, f);
    fputc('\n', f);
}

static void print_row(FILE *f, const char *label, const struct wp_gpu_summary *g)
{
    char b[11][32];
    char samples[24], gaps[24];
    snprintf(samples, sizeof(samples), "%zu", g->samples);
    snprintf(gaps, sizeof(gaps), "%zu", g->gaps);
    bool has_series = g->power_sensor[0] != '\0';
    put_row(f, ROW_FMT, label, wp_report_num(b[0], 32, "%.1f", g->energy_j),
            wp_report_num(b[1], 32, "%.1f", g->counter_energy_j),
            wp_report_num(b[2], 32, "%+.2f", g->counter_diff_pct),
            wp_report_num(b[3], 32, "%.1f", g->mean_w), wp_report_num(b[4], 32, "%.1f", g->peak_w),
            wp_report_num(b[5], 32, "%.1f", g->peak_1s_w),
            wp_report_num(b[6], 32, "%.1f", g->p99_w),
            wp_report_num(b[7], 32, "%.1f", g->peak_pct_limit), has_series ? samples : "-",
            wp_report_num(b[8], 32, "%.1f", g->median_interval_ms), has_series ? gaps : "-");
}

/* Appends " key=value" counts to line (n characters so far) while it stays within 100
 * columns, blanks control characters a job may have sent, and prints it. */
static void put_counts_row(FILE *f, char *line, size_t cap, int n,
                           const struct wp_mark_count *counts, int ncounts)
{
    for (int k = 0; k < ncounts && n > 0 && (size_t)n < cap; k++) {
        char kv[64];
        snprintf(kv, sizeof(kv), " %.20s=%g", counts[k].key, counts[k].value);
        if ((size_t)n + strlen(kv) > 100)
            break;
        n += snprintf(line + n, cap - (size_t)n, "%s", kv);
    }
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    put_row(f, "%s", line);
}

static void print_phases(FILE *f, const struct wp_summary *s);
static void print_points(FILE *f, const struct wp_summary *s);

static void print_kw(FILE *f, double w)
{
    if (isfinite(w))
        fprintf(f, "%.2f kW", w / 1000.0);
    else
        fputs("- kW", f);
}

static void print_parts(FILE *f, const struct wp_node_summary *n)
{
    if (n->nparts == 0) {
        fputs("  parts: none metered on their own\n", f);
        return;
    }
    fputs("  parts:", f);
    for (size_t i = 0; i < n->nparts; i++) {
        const struct wp_node_part *p = &n->parts[i];
        char b[32];
        fprintf(f, "%s %s %s W (%zu ", i ? "," : "", wp_scope_name(p->scope),
                wp_report_num(b, sizeof(b), "%.1f", p->mean_w), p->devices);
        wp_report_put_clean(f, p->source, 12);
        fputc(')', f);
    }
    fputc('\n', f);
}

/* The node block. An estimate says so on its first line and states what it assumed. */
static void print_node(FILE *f, const struct wp_summary *s)
{
    const struct wp_node_summary *n = &s->node;
    if (!n->present)
        return;
    char b[4][32];
    fputc('\n', f);
    fprintf(f, "node: %smean %s W, %senergy %s J (%s Wh)", n->estimated ? "estimated " : "",
            wp_report_num(b[0], 32, "%.1f", n->mean_w), n->estimated ? "estimated " : "",
            wp_report_num(b[1], 32, "%.1f", n->energy_j),
            wp_report_num(b[2], 32, "%.4f", n->energy_j / 3600.0));
    if (n->estimated) {
        fputs(": no node meter\n", f);
        fprintf(f, "  basis: measured parts + %s W for fans, NICs, switches, drives, PSU losses\n",
                wp_report_num(b[3], 32, "%.1f", n->allowance_w));
        if (n->allowance_default)
            fprintf(f,
                    "  (assumed: %.0f %% of the parts' mean, wattprof's default; "
                    "node_allowance_w=W gives yours)\n",
                    WP_NODE_DEFAULT_ALLOWANCE_PCT);
        else
            fputs("  (the node_allowance_w the recording was given)\n", f);
    } else {
        fprintf(f, ", measured at the %s\n",
                n->basis == WP_NODE_INPUT ? "node input" : "PDU outlets");
        fputs("  meter: ", f);
        wp_report_put_clean(f, n->source, 88);
        fputc('\n', f);
    }
    print_parts(f, n);
    if (n->estimated) {
        fputs("  no node peak without a node meter (BMC, PDU); GPUs summed peak ", f);
        print_kw(f, n->gpu_sum_peak_20ms_w);
        fputc('\n', f);
    } else {
        fputs("  peak ", f);
        print_kw(f, n->peak_1s_w);
        fputs(" (1 s), ", f);
        print_kw(f, n->peak_60s_w);
        fputs(" (60 s); GPUs summed ", f);
        print_kw(f, n->gpu_sum_peak_20ms_w);
        fputs(" (finest samples)\n", f);
        if (n->compared) {
            fputs("  PDU outlets ", f);
            wp_report_put_clean(f, n->outlets_source, 60);
            fprintf(f, ": %s W against the node input meter's %s W over the %s s both read\n",
                    wp_report_num(b[0], 32, "%.1f", n->cmp_outlets_w),
                    wp_report_num(b[1], 32, "%.1f", n->cmp_input_w),
                    wp_report_num(b[2], 32, "%.0f", n->cmp_overlap_s));
            fprintf(f,
                    "  difference %s W (%s %% of the outlets): PSU and cabling losses, or the "
                    "meters disagree\n",
                    wp_report_num(b[0], 32, "%+.1f", n->cmp_diff_w),
                    wp_report_num(b[1], 32, "%+.1f", n->cmp_diff_pct));
        }
        if (isfinite(n->rest_w))
            fprintf(
                f, "  rest %.1f W: fans, NICs, switches, drives, PSU losses (node minus parts)%s\n",
                n->rest_w, n->rest_w < 0 ? "; below 0: meters disagree" : "");
    }
    if (isfinite(n->peak_pct_of_rated)) {
        double d = n->peak_pct_of_rated - 100.0;
        fputs("  peak ", f);
        print_kw(f, n->peak_1s_w);
        fprintf(f, " (1 s) is %.1f %% %s the rated ", fabs(d), d > 0 ? "over" : "under");
        print_kw(f, n->rated_w);
        fputc('\n', f);
    } else if (isfinite(n->rated_w)) {
        fputs("  rated ", f);
        print_kw(f, n->rated_w);
        fputs(": no measured node peak to compare with it\n", f);
    }
}

/* Right under the totals: they leave these devices out. */
static void print_unmeasured(FILE *f, const struct wp_summary *s)
{
    for (size_t i = 0; i < s->nunmeasured; i++) {
        const struct wp_unmeasured *u = &s->unmeasured[i];
        fprintf(f, "%s %d: NOT MEASURED: ", strcmp(u->source, "nvml") == 0 ? "gpu" : u->source,
                u->device);
        wp_report_put_clean(f, u->reason, 100);
        fputs(" before recording started; the totals are PARTIAL without it.\n", f);
    }
}

void wp_summary_print_text(FILE *f, const struct wp_summary *s)
{
    if (s->command[0]) {
        fputs("wattprof: '", f);
        wp_report_put_clean(f, s->command, 60);
        fprintf(f, "' ran %.3f s", s->duration_s);
        if (s->has_exit_code)
            fprintf(f, ", exit code %d\n", s->exit_code);
        else
            fputs(", exit code unknown\n", f);
    } else {
        /* `record`: no command, so no exit code to speak of */
        fprintf(f, "wattprof: recorded %.3f s", s->duration_s);
        if (s->host[0]) {
            fputs(" on ", f);
            wp_report_put_clean(f, s->host, 60);
        }
        fputc('\n', f);
    }
    if (s->replay[0]) {
        /* The whole description, wrapped: it says what was replayed, which matters more
         * than keeping it to one line. */
        fputs("REPLAY, NOT A MEASUREMENT of this machine:\n", f);
        for (const char *r = s->replay; *r;) {
            size_t len = strlen(r), take = len <= 94 ? len : 94;
            while (take < len && take > 40 && r[take] != ' ')
                take--;
            fputs("  ", f);
            for (size_t i = 0; i < take; i++)
                putc((unsigned char)r[i] < 0x20 || r[i] == 0x7f ? '?' : r[i], f);
            fputc('\n', f);
            r += take;
            while (*r == ' ')
                r++;
        }
    }
    if (s->ngpus == 0) {
        if (!s->node.present) {
            fputs("no GPU power sensors in this trace: nothing to summarise.\n", f);
            print_unmeasured(f, s);
            return;
        }
        fputs("no GPU power sensors in this trace.\n", f);
        print_node(f, s);
        print_unmeasured(f, s);
        print_phases(f, s);
        return;
    }
    fputc('\n', f);
    put_row(f, ROW_FMT, "gpu", "energy J", "counter J", "diff %", "mean W", "peak W", "1s W",
            "p99 W", "%limit", "samples", "ival ms", "gaps");
    for (size_t i = 0; i < s->ngpus; i++) {
        char label[16];
        snprintf(label, sizeof(label), "%d", s->gpus[i].index);
        print_row(f, label, &s->gpus[i]);
    }
    const struct wp_total_summary *t = &s->total;
    char b[6][32];
    put_row(f, ROW_FMT, "all", wp_report_num(b[0], 32, "%.1f", t->energy_j),
            wp_report_num(b[1], 32, "%.1f", t->counter_energy_j),
            wp_report_num(b[2], 32, "%+.2f", t->counter_diff_pct),
            wp_report_num(b[3], 32, "%.1f", t->mean_w), wp_report_num(b[4], 32, "%.1f", t->peak_w),
            "", "", "", "", "", "");
    fprintf(f, "%4s %10s Wh\n", "", wp_report_num(b[5], 32, "%.4f", t->energy_j / 3600.0));
    print_unmeasured(f, s);

    fputc('\n', f);
    fputs("peak W: highest single sample; 1s W: highest 1 s mean; all: GPUs summed on a common "
          "grid.\n",
          f);
    fputs("diff %: trace vs energy counter over the counter's read window; gaps: intervals > 2x "
          "cadence.\n",
          f);
    fputs("counter J: the GPU's hardware energy counter over the run; %limit: peak W as % of the "
          "power limit.\n",
          f);
    fputs("ival ms: median time between samples; p99 W: 99th percentile of the samples.\n", f);
    for (size_t i = 0; i < s->ngpus; i++) {
        const struct wp_gpu_summary *g = &s->gpus[i];
        if (!g->power_sensor[0]) {
            fprintf(f, "gpu %d: no power series in the trace; only its counter is shown.\n",
                    g->index);
            continue;
        }
        if (strcmp(g->power_sensor, "power") != 0)
            fprintf(f,
                    "gpu %d: numbers come from '%s', not the 20 ms driver buffer: short peaks "
                    "can be missed.\n",
                    g->index, g->power_sensor);
        if (s->duration_s > 0 && isfinite(g->covered_s) && g->covered_s < 0.99 * s->duration_s)
            fprintf(f,
                    "gpu %d: power samples cover only %.1f %% of the run; energy and mean miss "
                    "the rest.\n",
                    g->index, g->covered_s / s->duration_s * 100.0);
        if (g->counter_fault)
            fprintf(f,
                    "gpu %d: energy counter went backwards (driver reload or GPU reset?); "
                    "counter columns empty.\n",
                    g->index);
    }
    print_node(f, s);
    wp_swings_print_text(f, &s->swings);
    print_phases(f, s);
    print_points(f, s);
}

/* Phases beyond this many are left to the JSON output: the block is for a terminal. */
#define TEXT_MAX_PHASES 20

static void print_phases(FILE *f, const struct wp_summary *s)
{
    if (s->nphases == 0)
        return;
    fputc('\n', f);
    fprintf(f, "%-30s %10s %10s %8s %8s  %s\n", "phase", "time s", "energy J", "mean W", "peak W",
            "counts");
    for (size_t i = 0; i < s->nphases && i < TEXT_MAX_PHASES; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        char name[64], b[4][32];
        int indent = p->depth > 0 ? (p->depth < 5 ? p->depth : 5) * 2 : 0;
        snprintf(name, sizeof(name), "%*s%.*s%s", indent, "", 28 - indent, p->name,
                 p->open_ended ? "+" : "");
        for (char *c = name; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        char line[160];
        int n = snprintf(line, sizeof(line), "%-30s %10s %10s %8s %8s ", name,
                         wp_report_num(b[0], 32, "%.3f", p->duration_s),
                         wp_report_num(b[1], 32, "%.1f", p->energy_j),
                         wp_report_num(b[2], 32, "%.1f", p->mean_w),
                         wp_report_num(b[3], 32, "%.1f", p->peak_w));
        /* Energy per sample/token/TFLOP first: it is what the marks are for. */
        for (size_t u = 0; u < WP_NPER_UNITS; u++) {
            double v = p->per_unit_j[u];
            if (isnan(v) || n <= 0 || (size_t)n >= sizeof(line))
                continue;
            n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%.4g", wp_per_units[u].text, v);
        }
        put_counts_row(f, line, sizeof(line), n, p->counts, p->ncounts);
    }
    if (s->nphases > TEXT_MAX_PHASES)
        fprintf(f, "... and %zu more phases (see --json)\n", s->nphases - TEXT_MAX_PHASES);
    fputs("phase energy is all GPUs together; + marks a phase that never ended.\n", f);
}

/* Point marks beyond this many are left to the JSON output, like phases. */
#define TEXT_MAX_POINTS 20

static void print_points(FILE *f, const struct wp_summary *s)
{
    if (s->npoints == 0)
        return;
    fputc('\n', f);
    fprintf(f, "%10s  %-30s %s\n", "mark at s", "mark", "counts");
    for (size_t i = 0; i < s->npoints && i < TEXT_MAX_POINTS; i++) {
        const struct wp_point_summary *p = &s->points[i];
        char line[160];
        int n = snprintf(line, sizeof(line), "%10.3f  %-30.30s", p->t_s, p->name);
        put_counts_row(f, line, sizeof(line), n, p->counts, p->ncounts);
    }
    if (s->npoints > TEXT_MAX_POINTS)
        fprintf(f, "... and %zu more marks (see --json)\n", s->npoints - TEXT_MAX_POINTS);
}
