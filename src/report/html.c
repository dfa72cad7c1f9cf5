/* The HTML report (html.h). Every number of the summary tables carries its JSON path and
 * full value (data-key, data-value) so a test can hold the page against `report --json`;
 * every timeline carries the highest value it drew (data-max-w). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/timelines.h"
#include "core/json.h"
#include "report/html.h"

#define esc wp_html_escape

#define COLS     WP_TIMELINE_COLS /* plot columns: one envelope bin per pixel */
#define PLOT_W   1000
#define PLOT_H   170
#define MARGIN_L 60
#define MARGIN_T 10
#define MARGIN_B 30

void wp_html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                fputc('?', f);
            else
                fputc(*s, f);
        }
    }
}

/* a summary number: shown rounded, its JSON path and full value in data attributes */
static void td_num(FILE *f, const char *fmt, double v, const char *keyfmt, ...)
    __attribute__((format(printf, 4, 5)));
static void td_num(FILE *f, const char *fmt, double v, const char *keyfmt, ...)
{
    char key[128];
    va_list ap;
    va_start(ap, keyfmt);
    vsnprintf(key, sizeof(key), keyfmt, ap);
    va_end(ap);
    if (!isfinite(v)) {
        fprintf(f, "<td class=num data-key=\"%s\" data-value=\"null\">-</td>", key);
        return;
    }
    fprintf(f, "<td class=num data-key=\"%s\" data-value=\"%.17g\">", key, v);
    fprintf(f, fmt, v);
    fputs("</td>", f);
}

static void td_str(FILE *f, const char *s)
{
    fputs("<td>", f);
    esc(f, s);
    fputs("</td>", f);
}

/* ---- what a timeline is ---- */

struct plot {
    char title[256];
    const char *cls; /* "sum", "gpu", "node" */
    int index;       /* GPU index, or -1 */
    double line_w;   /* limit or rating drawn as a line, NAN if none */
    const char *line_label;
    const struct wp_envelope *env;
};

static void plot_of(const struct wp_summary *s, const struct wp_timelines *tl,
                    const struct wp_timeline *v, struct plot *p)
{
    memset(p, 0, sizeof(*p));
    p->index = -1;
    p->line_w = NAN;
    p->env = &v->env;
    if (v->kind == WP_TIMELINE_SUM) {
        size_t k = 0;
        double lim = 0;
        for (size_t i = 0; i < s->ngpus; i++) {
            lim += s->gpus[i].limit_w;
            k += s->gpus[i].power_sensor[0] != 0;
        }
        snprintf(p->title, sizeof(p->title), "all %zu GPUs, summed on a %.0f ms grid", k,
                 (double)tl->sum_step_us / 1000.0);
        p->cls = "sum";
        p->line_w = lim;
        p->line_label = "sum of the power limits";
    } else if (v->kind == WP_TIMELINE_GPU) {
        const struct wp_gpu_summary *g = &s->gpus[v->gpu];
        snprintf(p->title, sizeof(p->title), "GPU %d%s%s (%s)", g->index, g->name[0] ? ": " : "",
                 g->name, g->power_sensor);
        p->cls = "gpu";
        p->index = g->index;
        p->line_w = g->limit_w;
        p->line_label = "power limit";
    } else {
        const struct wp_sensor *row = v->row;
        snprintf(p->title, sizeof(p->title), "node: %s/%s (%s)", row->source, row->name,
                 wp_scope_name(row->scope));
        p->cls = "node";
        if (row->scope == WP_SCOPE_NODE_INPUT) {
            p->line_w = s->node.rated_w;
            p->line_label = "rated node power";
        }
    }
}

static void zoom_label(const struct wp_summary *s, const struct wp_zoom_series *z, char *buf,
                       size_t cap)
{
    if (z->of->kind == WP_TIMELINE_GPU)
        snprintf(buf, cap, "GPU %d", s->gpus[z->of->gpu].index);
    else
        snprintf(buf, cap, "node %.24s", z->of->row->name);
}

/* ---- drawing ---- */

static double nice_step(double range, int ticks)
{
    double raw = range / ticks, mag = pow(10, floor(log10(raw)));
    double r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

static void fmt_time(char *buf, size_t cap, double s, double span)
{
    if (span >= 7200)
        snprintf(buf, cap, "%.1f h", s / 3600);
    else if (span >= 300)
        snprintf(buf, cap, "%.0f min", s / 60);
    else
        snprintf(buf, cap, "%g s", round(s * 1000) / 1000);
}

static void axes(FILE *f, double span_s, double ymax)
{
    double ys = nice_step(ymax, 4);
    for (double y = 0; y <= ymax + 1e-9; y += ys) {
        double py = MARGIN_T + PLOT_H - y / ymax * PLOT_H;
        fprintf(f,
                "<line class=grid x1=%d x2=%d y1=%.1f y2=%.1f /><text class=ytick x=%d y=%.1f>%g"
                "</text>",
                MARGIN_L, MARGIN_L + PLOT_W, py, py, MARGIN_L - 4, py + 4, y);
    }
    double span = span_s > 0 ? span_s : 1;
    double unit = span >= 7200 ? 3600 : span >= 300 ? 60 : 1;
    double xs = nice_step(span / unit, 8) * unit;
    for (double x = 0; x <= span + 1e-9; x += xs) {
        double px = MARGIN_L + x / span * PLOT_W;
        char b[32];
        fmt_time(b, sizeof(b), x, span);
        fprintf(f, "<text class=xtick x=%.1f y=%d>%s</text>", px, MARGIN_T + PLOT_H + 16, b);
    }
}

/* a band: the max edge left to right, the min edge back; it breaks where a column is empty
 * (a hole in the data) */
static void band(FILE *f, const struct wp_env_layer *y, double ymax, const char *cls)
{
    size_t c = 0;
    while (c < COLS) {
        while (c < COLS && isnan(y->max_w[c]))
            c++;
        size_t c0 = c;
        while (c < COLS && !isnan(y->max_w[c]))
            c++;
        if (c == c0)
            break;
        fprintf(f, "<polygon class=\"%s\" points=\"", cls);
        for (size_t i = c0; i < c; i++)
            fprintf(f, "%zu,%.1f ", MARGIN_L + i, MARGIN_T + PLOT_H - y->max_w[i] / ymax * PLOT_H);
        for (size_t i = c; i-- > c0;)
            fprintf(f, "%zu,%.1f ", MARGIN_L + i + 1,
                    MARGIN_T + PLOT_H - y->min_w[i] / ymax * PLOT_H);
        fputs("\"/>", f);
    }
}

static void phases(FILE *f, const struct wp_summary *s, double span_s)
{
    for (size_t i = 0; i < s->nphases; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        double x0 = (double)(p->t0_us - s->start_us) / 1e6 / span_s * PLOT_W;
        double x1 = (double)(p->t1_us - s->start_us) / 1e6 / span_s * PLOT_W;
        if (x0 < 0)
            x0 = 0;
        if (x1 > PLOT_W)
            x1 = PLOT_W;
        if (x1 <= x0)
            x1 = x0 + 1;
        fprintf(f, "<g class=phase data-name=\"");
        esc(f, p->name);
        fprintf(f, "\"><rect class=\"phase-%zu\" x=%.1f y=%d width=%.1f height=%d><title>", i % 4,
                MARGIN_L + x0, MARGIN_T, x1 - x0, PLOT_H);
        esc(f, p->name);
        fprintf(f, ": %.3f s, %.1f J</title></rect>", p->duration_s, p->energy_j);
        if (x1 - x0 > 30) {
            fprintf(f, "<text class=phasename x=%.1f y=%d>", MARGIN_L + x0 + 3,
                    MARGIN_T + 12 + (p->depth % 3) * 12);
            esc(f, p->name);
            fputs("</text>", f);
        }
        fputs("</g>", f);
    }
}

static double layer_max(const struct wp_env_layer *y)
{
    double m = NAN;
    for (size_t c = 0; c < COLS; c++)
        if (!isnan(y->max_w[c]) && (isnan(m) || y->max_w[c] > m))
            m = y->max_w[c];
    return m;
}

static void timeline(FILE *f, const struct wp_summary *s, const struct plot *p)
{
    double span_s = s->duration_s > 0 ? s->duration_s : 1e-6;
    double top = layer_max(&p->env->layer[0]);
    double ymax = isfinite(top) ? top : 1;
    if (isfinite(p->line_w) && p->line_w > ymax)
        ymax = p->line_w;
    ymax = ymax * 1.08 + 1;
    fprintf(f, "<figure class=timeline><figcaption>");
    esc(f, p->title);
    fprintf(f,
            "</figcaption><svg class=\"timeline %s\" data-index=%d data-max-w=\"%.17g\" "
            "viewBox=\"0 0 %d %d\" width=%d height=%d role=img>",
            p->cls, p->index, top, MARGIN_L + PLOT_W + 10, MARGIN_T + PLOT_H + MARGIN_B,
            MARGIN_L + PLOT_W + 10, MARGIN_T + PLOT_H + MARGIN_B);
    phases(f, s, span_s);
    axes(f, span_s, ymax);
    band(f, &p->env->layer[0], ymax, "env20");
    band(f, &p->env->layer[1], ymax, "env1s");
    band(f, &p->env->layer[2], ymax, "env1m");
    if (isfinite(p->line_w)) {
        double py = MARGIN_T + PLOT_H - p->line_w / ymax * PLOT_H;
        fprintf(f,
                "<line class=limit x1=%d x2=%d y1=%.1f y2=%.1f /><text class=limitlabel x=%d "
                "y=%.1f>%s %.0f W</text>",
                MARGIN_L, MARGIN_L + PLOT_W, py, py, MARGIN_L + PLOT_W - 4, py - 3, p->line_label,
                p->line_w);
    }
    fprintf(f, "<text class=axislabel x=4 y=%d>W</text></svg></figure>\n", MARGIN_T + 10);
}

static void distribution(FILE *f, const struct plot *p)
{
    const struct wp_envelope *e = p->env;
    if (e->samples == 0)
        return;
    double lo = wp_envelope_percentile(e, 0), hi = e->max_w;
    int bars = 60;
    double bw = (hi - lo) / bars;
    if (bw < 1)
        bw = 1;
    uint64_t cnt[60] = {0}, top = 1;
    for (size_t i = 0; i < e->nhist; i++) {
        if (!e->hist[i])
            continue;
        int b = (int)(((double)i - floor(lo)) / bw);
        b = b < 0 ? 0 : b >= bars ? bars - 1 : b;
        cnt[b] += e->hist[i];
    }
    for (int b = 0; b < bars; b++)
        if (cnt[b] > top)
            top = cnt[b];
    fputs("<div class=dist><h4>", f);
    esc(f, p->title);
    fputs("</h4><svg viewBox=\"0 0 420 120\" width=420 height=120 class=hist>", f);
    for (int b = 0; b < bars; b++) {
        double h = (double)cnt[b] / (double)top * 95;
        fprintf(f,
                "<rect x=%d y=%.1f width=6 height=%.1f><title>%.0f-%.0f W: %" PRIu64
                " samples</title></rect>",
                10 + b * 6 + b / 2 * 0, 100 - h, h, floor(lo) + b * bw, floor(lo) + (b + 1) * bw,
                cnt[b]);
    }
    fprintf(f, "<text x=10 y=114>%.0f W</text><text x=370 y=114>%.0f W</text></svg>", floor(lo),
            floor(lo) + bars * bw);
    static const double pct[] = {1, 5, 25, 50, 75, 95, 99};
    fputs("<table class=pct><tr>", f);
    for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
        fprintf(f, "<th>p%g</th>", pct[i]);
    fputs("<th>max</th></tr><tr>", f);
    for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
        fprintf(f, "<td>%.0f</td>", wp_envelope_percentile(e, pct[i]));
    fprintf(f, "<td>%.1f</td></tr></table></div>\n", e->max_w);
}

/* ---- tables ---- */

static void meta_table(FILE *f, const struct wp_trace *t)
{
    const struct wp_meta *m = wp_trace_meta(t);
    fputs("<h2>Recording</h2><table class=meta>", f);
    for (size_t i = 0; i < m->n; i++) {
        fputs("<tr><th>", f);
        esc(f, m->v[i].key);
        fputs("</th>", f);
        td_str(f, m->v[i].value);
        fputs("</tr>", f);
    }
    fputs("</table>\n", f);
}

static void gpu_table(FILE *f, const struct wp_summary *s)
{
    fputs("<h2>GPUs</h2><table class=summary id=gpus><tr><th>gpu</th><th>energy J</th>"
          "<th>counter J</th><th>diff %</th><th>mean W</th><th>peak W (20 ms)</th><th>1 s W</th>"
          "<th>p99 W</th><th>% limit</th><th>samples</th><th>gaps</th></tr>",
          f);
    for (size_t i = 0; i < s->ngpus; i++) {
        const struct wp_gpu_summary *g = &s->gpus[i];
        fprintf(f, "<tr><th>%d</th>", g->index);
        td_num(f, "%.1f", g->energy_j, "gpus.%zu.energy_j", i);
        td_num(f, "%.1f", g->counter_energy_j, "gpus.%zu.counter_energy_j", i);
        td_num(f, "%+.2f", g->counter_diff_pct, "gpus.%zu.counter_diff_pct", i);
        td_num(f, "%.1f", g->mean_w, "gpus.%zu.mean_w", i);
        td_num(f, "%.1f", g->peak_w, "gpus.%zu.peak_w", i);
        td_num(f, "%.1f", g->peak_1s_w, "gpus.%zu.peak_1s_w", i);
        td_num(f, "%.1f", g->p99_w, "gpus.%zu.p99_w", i);
        td_num(f, "%.1f", g->peak_pct_limit, "gpus.%zu.peak_pct_limit", i);
        td_num(f, "%.0f", g->power_sensor[0] ? (double)g->samples : NAN, "gpus.%zu.samples", i);
        td_num(f, "%.0f", g->power_sensor[0] ? (double)g->gaps : NAN, "gpus.%zu.gaps", i);
        fputs("</tr>", f);
    }
    const struct wp_total_summary *t = &s->total;
    fputs("<tr class=total><th>all</th>", f);
    td_num(f, "%.1f", t->energy_j, "total.energy_j");
    td_num(f, "%.1f", t->counter_energy_j, "total.counter_energy_j");
    td_num(f, "%+.2f", t->counter_diff_pct, "total.counter_diff_pct");
    td_num(f, "%.1f", t->mean_w, "total.mean_w");
    td_num(f, "%.1f", t->peak_w, "total.peak_w");
    fputs("<td></td><td></td><td></td><td></td><td></td></tr></table>\n", f);
    if (s->nunmeasured)
        fputs("<p class=warn>Some devices were not measured at all: the totals are "
              "partial.</p>",
              f);
}

static void node_table(FILE *f, const struct wp_summary *s)
{
    const struct wp_node_summary *n = &s->node;
    if (!n->present)
        return;
    fprintf(f,
            "<h2>Node</h2><p>%s</p><table class=summary id=node><tr><th>energy J</th>"
            "<th>mean W</th><th>peak 1 s W</th><th>peak 60 s W</th><th>GPUs' summed peak W"
            "</th><th>rated W</th><th>peak %% of rated</th></tr><tr>",
            n->estimated ? "ESTIMATED from its parts plus an allowance: no node meter"
                         : "measured by its meter");
    td_num(f, "%.1f", n->energy_j, "node.energy_j");
    td_num(f, "%.1f", n->mean_w, "node.mean_w");
    td_num(f, "%.1f", n->peak_1s_w, "node.peak_1s_w");
    td_num(f, "%.1f", n->peak_60s_w, "node.peak_60s_w");
    td_num(f, "%.1f", n->gpu_sum_peak_20ms_w, "node.gpu_sum_peak_20ms_w");
    td_num(f, "%.0f", n->rated_w, "node.rated_w");
    td_num(f, "%.1f", n->peak_pct_of_rated, "node.peak_pct_of_rated");
    fputs("</tr></table>\n", f);
}

static void phase_table(FILE *f, const struct wp_summary *s)
{
    if (s->nphases == 0)
        return;
    fputs("<h2>Phases</h2><table class=summary id=phases><tr><th>phase</th><th>start s</th>"
          "<th>time s</th><th>energy J</th><th>mean W</th><th>peak W</th></tr>",
          f);
    for (size_t i = 0; i < s->nphases; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        fputs("<tr>", f);
        td_str(f, p->name);
        fprintf(f, "<td class=num>%.3f</td>", (double)(p->t0_us - s->start_us) / 1e6);
        td_num(f, "%.3f", p->duration_s, "phases.%zu.duration_s", i);
        td_num(f, "%.1f", p->energy_j, "phases.%zu.energy_j", i);
        td_num(f, "%.1f", p->mean_w, "phases.%zu.mean_w", i);
        td_num(f, "%.1f", p->peak_w, "phases.%zu.peak_w", i);
        fputs("</tr>", f);
    }
    fputs("</table>\n", f);
}

static void swings_section(FILE *f, const struct wp_summary *s)
{
    const struct wp_swings_result *r = &s->swings;
    if (r->step_us <= 0)
        return;
    fprintf(f,
            "<h2>Swings</h2><p>Largest change of the GPUs' summed power between the means "
            "of two adjacent windows (%.0f ms grid).</p><table class=summary id=swings><tr>"
            "<th>window</th><th>largest rise W</th><th>largest fall W</th><th>rate W/s</th>"
            "</tr>",
            (double)r->step_us / 1000);
    for (int i = 0; i < WP_SWING_WINDOWS; i++) {
        const struct wp_swing *w = &r->swings[i];
        fprintf(f, "<tr><th>%g ms</th>", (double)w->window_us / 1000);
        td_num(f, "%.1f", w->max_rise_w, "swings.%d.max_rise_w", i);
        td_num(f, "%.1f", w->max_fall_w, "swings.%d.max_fall_w", i);
        td_num(f, "%.1f", w->max_rate_w_per_s, "swings.%d.max_rate_w_per_s", i);
        fputs("</tr>", f);
    }
    fputs("</table>\n", f);
    if (r->npeaks == 0) {
        fputs("<p>Spectrum: no gapless stretch long enough.</p>", f);
        return;
    }
    fprintf(f,
            "<h3>Spectrum</h3><p>Welch average of %zu segments of %.1f s (%.3f Hz "
            "resolution); the strongest lines:</p>",
            r->segments, (double)r->segment_points * (double)r->step_us / 1e6, r->resolution_hz);
    /* stems on a log frequency axis from the resolution to Nyquist */
    double fmin = r->resolution_hz, fmax = 1e6 / (2.0 * (double)r->step_us);
    double amax = r->peaks[0].amplitude_w * 1.15;
    fputs("<svg class=spectrum viewBox=\"0 0 700 200\" width=700 height=200>", f);
    for (double d = pow(10, floor(log10(fmin))); d <= fmax * 1.01; d *= 10) {
        double x = 40 + log10(d / fmin) / log10(fmax / fmin) * 640;
        if (x >= 40)
            fprintf(f,
                    "<line class=grid x1=%.1f x2=%.1f y1=10 y2=170 /><text class=xtick "
                    "x=%.1f y=186>%g Hz</text>",
                    x, x, x, d);
    }
    for (size_t i = 0; i < r->npeaks; i++) {
        const struct wp_spectrum_peak *pk = &r->peaks[i];
        double x = 40 + log10(pk->hz / fmin) / log10(fmax / fmin) * 640;
        double y = 170 - pk->amplitude_w / amax * 160;
        fprintf(f,
                "<line class=stem x1=%.1f x2=%.1f y1=170 y2=%.1f /><circle cx=%.1f cy=%.1f r=3 "
                "/><text x=%.1f y=%.1f>%.3f Hz (%.2f s), %.1f W</text>",
                x, x, y, x, y, x + 5, y - 4, pk->hz, 1 / pk->hz, pk->amplitude_w);
    }
    fputs("</svg><table class=summary id=spectrum><tr><th>frequency Hz</th><th>period s</th>"
          "<th>amplitude W</th></tr>",
          f);
    for (size_t i = 0; i < r->npeaks; i++) {
        fputs("<tr>", f);
        td_num(f, "%.3f", r->peaks[i].hz, "spectrum.peaks.%zu.hz", i);
        fprintf(f, "<td class=num>%.3f</td>", 1 / r->peaks[i].hz);
        td_num(f, "%.1f", r->peaks[i].amplitude_w, "spectrum.peaks.%zu.amplitude_w", i);
        fputs("</tr>", f);
    }
    fputs("</table>\n", f);
}

/* the zoom window: drawn in SVG (readable without JavaScript), its samples in JSON for the
 * script that zooms into it */
static void zoom_section(FILE *f, const struct wp_summary *s, const struct wp_timelines *c)
{
    if (c->nzoom == 0)
        return;
    double from_s = (double)(c->zoom_from_us - s->start_us) / 1e6;
    double to_s = (double)(c->zoom_to_us - s->start_us) / 1e6;
    fprintf(f,
            "<h2>Single samples, %.3f s to %.3f s</h2><p>Every sample of the window "
            "(<code>--zoom FROM:TO</code> picks another).</p>",
            from_s, to_s);
    double ymax = 1;
    for (size_t i = 0; i < c->nzoom; i++)
        for (size_t j = 0; j < c->zoom[i].n; j++)
            if (c->zoom[i].w[j] > ymax)
                ymax = c->zoom[i].w[j];
    ymax = ymax * 1.08;
    double span = to_s - from_s > 0 ? to_s - from_s : 1;
    fprintf(f,
            "<div id=zoomctl hidden>from <input id=zfrom type=range min=0 max=1000 value=0> "
            "width <input id=zwidth type=range min=1 max=1000 value=1000> <span id=zlabel>"
            "</span></div><svg id=zoom viewBox=\"0 0 %d %d\" width=%d height=%d "
            "data-from-s=\"%.6f\" data-to-s=\"%.6f\">",
            MARGIN_L + PLOT_W + 10, MARGIN_T + PLOT_H + MARGIN_B, MARGIN_L + PLOT_W + 10,
            MARGIN_T + PLOT_H + MARGIN_B, from_s, to_s);
    axes(f, span, ymax);
    fputs("<g id=zoomlines>", f);
    for (size_t i = 0; i < c->nzoom; i++) {
        const struct wp_zoom_series *z = &c->zoom[i];
        fprintf(f, "<polyline class=\"z%zu\" points=\"", i % 8);
        for (size_t j = 0; j < z->n; j++) {
            double x = (double)(z->t_us[j] - c->zoom_from_us) / 1e6 / span * PLOT_W;
            double y = MARGIN_T + PLOT_H - z->w[j] / ymax * PLOT_H;
            fprintf(f, "%.1f,%.1f ", MARGIN_L + x, y);
        }
        fputs("\"/>", f);
    }
    fputs("</g></svg><p class=legend>", f);
    for (size_t i = 0; i < c->nzoom; i++) {
        fprintf(f, "<span class=\"z%zu\">&#9632; ", i % 8);
        char label[40];
        zoom_label(s, &c->zoom[i], label, sizeof(label));
        esc(f, label);
        fputs("</span> ", f);
    }
    fputs("</p>\n<script type=\"application/json\" id=zoomdata>", f);
    struct wp_json j;
    wp_json_init(&j, f, 0);
    wp_json_obj_begin(&j);
    wp_json_kdouble(&j, "from_s", from_s);
    wp_json_kdouble(&j, "to_s", to_s);
    wp_json_kdouble(&j, "ymax", ymax);
    wp_json_key(&j, "series");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < c->nzoom; i++) {
        const struct wp_zoom_series *z = &c->zoom[i];
        wp_json_obj_begin(&j);
        char label[40];
        zoom_label(s, z, label, sizeof(label));
        wp_json_kstr(&j, "label", label);
        wp_json_key(&j, "t_ms");
        wp_json_arr_begin(&j);
        for (size_t k = 0; k < z->n; k++)
            wp_json_int(&j, (z->t_us[k] - c->zoom_from_us) / 1000);
        wp_json_arr_end(&j);
        wp_json_key(&j, "w");
        wp_json_arr_begin(&j);
        for (size_t k = 0; k < z->n; k++)
            wp_json_double(&j, round(z->w[k] * 10) / 10);
        wp_json_arr_end(&j);
        wp_json_obj_end(&j);
    }
    wp_json_arr_end(&j);
    wp_json_obj_end(&j);
    wp_json_end(&j);
    fputs("</script>\n", f);
}

static const char css[] =
    "body{font:14px/1.4 sans-serif;margin:1em 2em;color:#222;max-width:1100px}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:.4em 0}td,th{padding:2px 8px;border-bottom:1px solid "
    "#eee;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.total{font-weight:bold}figure{margin:.6em 0}figcaption{font-weight:bold}"
    "svg text{font:11px sans-serif;fill:#444}.ytick{text-anchor:end}.xtick{text-anchor:middle}"
    ".grid{stroke:#ddd;stroke-width:.5}.env20{fill:#9ecae1;stroke:#9ecae1;stroke-width:.6}"
    ".env1s{fill:#3182bd;stroke:#3182bd;stroke-width:.8}.env1m{fill:none;stroke:#08306b;"
    "stroke-width:1.6}.limit{stroke:#d62728;stroke-dasharray:6 4;stroke-width:1.2}"
    ".limitlabel{text-anchor:end;fill:#d62728}.phase rect{fill-opacity:.13}.phase-0{fill:#2ca02c}"
    ".phase-1{fill:#ff7f0e}.phase-2{fill:#9467bd}.phase-3{fill:#8c564b}.phasename{fill:#333}"
    ".dist{display:inline-block;vertical-align:top;margin:0 1em 1em 0}.dist h4{margin:.2em 0;"
    "font-size:.95em}.hist rect{fill:#3182bd}.pct td,.pct th{padding:1px 5px;font-size:12px}"
    ".stem{stroke:#3182bd;stroke-width:2}polyline{fill:none;stroke-width:1.2}"
    ".z0{stroke:#1f77b4;color:#1f77b4}.z1{stroke:#ff7f0e;color:#ff7f0e}.z2{stroke:#2ca02c;"
    "color:#2ca02c}.z3{stroke:#d62728;color:#d62728}.z4{stroke:#9467bd;color:#9467bd}"
    ".z5{stroke:#8c564b;color:#8c564b}.z6{stroke:#e377c2;color:#e377c2}.z7{stroke:#7f7f7f;"
    "color:#7f7f7f}.warn{color:#b00;font-weight:bold}.legend span{margin-right:1em}"
    ".key{font-size:12px;color:#555}";

/* zoom only: redraws the single-sample view for the chosen part of its window */
static const char script[] =
    "(function(){var d=JSON.parse(document.getElementById('zoomdata').textContent);"
    "var svg=document.getElementById('zoom'),g=document.getElementById('zoomlines');"
    "var f=document.getElementById('zfrom'),w=document.getElementById('zwidth'),"
    "l=document.getElementById('zlabel');document.getElementById('zoomctl').hidden=false;"
    "var span=(d.to_s-d.from_s)*1000,NS='http://www.w3.org/2000/svg';"
    "function draw(){var wid=Math.max(span*w.value/1000,40),a=(span-wid)*f.value/1000,b=a+wid;"
    "while(g.firstChild)g.removeChild(g.firstChild);var n=0;"
    "d.series.forEach(function(s,i){var p=[];for(var k=0;k<s.t_ms.length;k++){var t=s.t_ms[k];"
    "if(t<a||t>b)continue;p.push(((t-a)/wid*1000+"
    "60).toFixed(1)+','+(180-s.w[k]/d.ymax*170)"
    ".toFixed(1));}n=Math.max(n,p.length);var e=document.createElementNS(NS,'polyline');"
    "e.setAttribute('class','z'+(i%8));e.setAttribute('points',p.join(' '));g.appendChild(e);"
    "if(p.length<=120)p.forEach(function(q){var c=document.createElementNS(NS,'circle');"
    "var xy=q.split(',');c.setAttribute('cx',xy[0]);c.setAttribute('cy',xy[1]);"
    "c.setAttribute('r',2);c.setAttribute('class','z'+(i%8));c.style.fill='currentColor';"
    "g.appendChild(c);});});l.textContent=((d.from_s*1000+a)/1000).toFixed(3)+' s to '+"
    "((d.from_s*1000+b)/1000).toFixed(3)+' s, up to '+n+' samples per series';"
    "svg.querySelectorAll('.xtick').forEach(function(x){x.style.display='none';});}"
    "f.oninput=draw;w.oninput=draw;})();";

int wp_html_trace(FILE *f, const struct wp_trace *t, const struct wp_summary *s,
                  const struct wp_timelines *tl, struct wp_err *err)
{
    struct plot *plots = calloc(tl->n ? tl->n : 1, sizeof(*plots));
    if (!plots)
        return wp_errf(err, -ENOMEM, "out of memory drawing the report; free memory");
    for (size_t i = 0; i < tl->n; i++)
        plot_of(s, tl, &tl->v[i], &plots[i]);
    fputs("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>wattprof: ", f);
    esc(f, s->command[0] ? s->command : s->host);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>wattprof report</h1>\n<p>", css);
    if (s->command[0]) {
        fputs("<code>", f);
        esc(f, s->command);
        fputs("</code> ran ", f);
    } else {
        fputs("Recorded ", f);
    }
    fprintf(f, "%.3f s", s->duration_s);
    if (s->host[0]) {
        fputs(" on ", f);
        esc(f, s->host);
    }
    fputs(".</p>\n", f);
    if (s->replay[0]) {
        fputs("<p class=warn>REPLAY, NOT A MEASUREMENT: ", f);
        esc(f, s->replay);
        fputs("</p>\n", f);
    }
    if (s->ndamaged)
        fprintf(f, "<p class=warn>%zu damaged chunk(s) are left out of every number.</p>\n",
                s->ndamaged);
    gpu_table(f, s);
    node_table(f, s);
    phase_table(f, s);
    fputs("<h2>Timelines</h2><p class=key>Light band: every 20 ms sample, lowest to highest in "
          "each pixel column (no peak is lost at any width); dark band: 1 s means; line: 1 min "
          "means; dashed: the limit or rating; shaded: the job's phases.</p>\n",
          f);
    for (size_t i = 0; i < tl->n; i++)
        timeline(f, s, &plots[i]);
    if (tl->left_out)
        fprintf(f,
                "<p class=warn>%zu more power series are not drawn (node meters, PDU outlets "
                "first): a page draws %d at most; <code>wattprof export</code> gives their "
                "samples.</p>\n",
                tl->left_out, WP_TIMELINE_MAX);
    zoom_section(f, s, tl);
    fputs("<h2>Distribution of power</h2><p class=key>Histogram of the samples; percentiles "
          "to 1 W.</p>\n",
          f);
    for (size_t i = 0; i < tl->n; i++)
        distribution(f, &plots[i]);
    swings_section(f, s);
    meta_table(f, t);
    const struct wp_event *ev;
    size_t nev = 0;
    struct wp_err e2 = {0};
    if (wp_trace_events(t, &ev, &nev, &e2) == 0 && nev > 0) {
        fputs("<h2>Events</h2><ul>", f);
        for (size_t i = 0; i < nev; i++) {
            fputs("<li>", f);
            esc(f, ev[i].message);
            fputs("</li>", f);
        }
        fputs("</ul>\n", f);
    }
    fprintf(f, "<p class=key>wattprof %s</p>\n<script>%s</script>\n</body></html>\n", WP_VERSION,
            tl->nzoom ? script : "");
    free(plots);
    if (fflush(f) != 0 || ferror(f))
        return wp_errf(err, -EIO, "writing the HTML report failed (disk full?)");
    return 0;
}
