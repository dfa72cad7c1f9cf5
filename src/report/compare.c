/* The comparison page of several runs (a sweep's table, or several traces): energy, time,
 * mean and peak power and J/sample against the swept value, as the study's batch-size
 * figure. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report/html.h"

static double num_or_nan(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int wp_compare_load_sweep(const char *path, struct wp_html_run **runs, size_t *n, char *xname,
                          size_t xcap, struct wp_err *err)
{
    *runs = NULL;
    *n = 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        FILE *probe = fopen(path, "r");
        if (!probe)
            return wp_errf(err, errno == ENOENT ? -ENOENT : -EACCES, "cannot read %s: %s", path,
                           strerror(errno));
        fclose(probe);
        return wp_errf(err, -EINVAL,
                       "%s is not JSON (line %d: %s); give a sweep's --json file or traces", path,
                       je.line, je.text);
    }
    const json_t *arr = json_object_get(root, "runs");
    const json_t *param = json_object_get(root, "param");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        json_decref(root);
        return wp_errf(err, -EINVAL,
                       "%s has no \"runs\" list: not a table from `wattprof sweep --json`", path);
    }
    snprintf(xname, xcap, "%s", json_is_string(param) ? json_string_value(param) : "run");
    size_t m = json_array_size(arr);
    struct wp_html_run *v = calloc(m, sizeof(*v));
    if (!v) {
        json_decref(root);
        return wp_errf(err, -ENOMEM, "out of memory reading %s", path);
    }
    for (size_t i = 0; i < m; i++) {
        const json_t *r = json_array_get(arr, i);
        const json_t *val = json_object_get(r, "value");
        if (!json_is_object(r) || !val) {
            free(v);
            json_decref(root);
            return wp_errf(err, -EINVAL, "run %zu of %s has no \"value\"; not a sweep's table",
                           i + 1, path);
        }
        struct wp_html_run *o = &v[i];
        if (json_is_string(val)) {
            snprintf(o->label, sizeof(o->label), "%s", json_string_value(val));
            char *end;
            o->x = strtod(o->label, &end);
            if (end == o->label || *end)
                o->x = NAN;
        } else {
            o->x = json_is_number(val) ? json_number_value(val) : NAN;
            snprintf(o->label, sizeof(o->label), "%g", o->x);
        }
        o->duration_s = num_or_nan(r, "duration_s");
        o->energy_j = num_or_nan(r, "energy_j");
        o->mean_w = num_or_nan(r, "mean_w");
        o->peak_w = num_or_nan(r, "peak_w");
        o->j_per_sample = num_or_nan(r, "j_per_sample");
    }
    json_decref(root);
    *runs = v;
    *n = m;
    return 0;
}

/* whole numbers from 100 up (J, W, s of a run read best that way), else 3 digits */
static const char *fmt_val(char *buf, size_t cap, double v)
{
    if (fabs(v) >= 100)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.3g", v);
    return buf;
}

#define esc wp_html_escape

struct measure {
    const char *title, *unit, *key;
    size_t off;
};

static const struct measure measures[] = {
    {"energy", "J", "energy_j", offsetof(struct wp_html_run, energy_j)},
    {"time", "s", "duration_s", offsetof(struct wp_html_run, duration_s)},
    {"mean power", "W", "mean_w", offsetof(struct wp_html_run, mean_w)},
    {"peak power (20 ms)", "W", "peak_w", offsetof(struct wp_html_run, peak_w)},
    {"energy per sample", "J", "j_per_sample", offsetof(struct wp_html_run, j_per_sample)},
};

static double get(const struct wp_html_run *r, const struct measure *m)
{
    return *(const double *)((const char *)r + m->off);
}

/* one small chart: the measure against x (the value when every run has a numeric one, on a
 * log axis when they span more than 4x, else the run's order) */
static void chart(FILE *f, const struct wp_html_run *runs, size_t n, const struct measure *m,
                  bool numeric, bool logx, const char *xname)
{
    double ymax = 0, xmin = INFINITY, xmax = -INFINITY;
    size_t have = 0;
    for (size_t i = 0; i < n; i++) {
        double y = get(&runs[i], m);
        if (isfinite(y)) {
            have++;
            if (y > ymax)
                ymax = y;
        }
        double x = numeric ? (logx ? log(runs[i].x) : runs[i].x) : (double)i;
        if (x < xmin)
            xmin = x;
        if (x > xmax)
            xmax = x;
    }
    if (have == 0)
        return;
    if (xmax <= xmin) {
        xmin -= 1;
        xmax += 1;
    }
    ymax = ymax > 0 ? ymax * 1.15 : 1;
    fprintf(f,
            "<figure class=cmp data-key=%s><figcaption>%s (%s)</figcaption><svg viewBox=\"0 0 "
            "340 220\" width=340 height=220>",
            m->key, m->title, m->unit);
    fputs("<line class=axis x1=50 x2=330 y1=190 y2=190 /><line class=axis x1=50 x2=50 y1=10 "
          "y2=190 />",
          f);
    char b[2][32];
    fprintf(f, "<text x=4 y=16>%s</text><text x=40 y=194 class=ytick>0</text>",
            fmt_val(b[0], sizeof(b[0]), ymax));
    double px_prev = NAN, py_prev = NAN;
    for (size_t i = 0; i < n; i++) {
        double x = numeric ? (logx ? log(runs[i].x) : runs[i].x) : (double)i;
        double px = 70 + (x - xmin) / (xmax - xmin) * 230, y = get(&runs[i], m);
        fprintf(f, "<text class=xtick x=%.1f y=206>", px);
        esc(f, runs[i].label);
        fputs("</text>", f);
        if (!isfinite(y))
            continue;
        double py = 190 - y / ymax * 175;
        if (isfinite(px_prev))
            fprintf(f, "<line class=link x1=%.1f y1=%.1f x2=%.1f y2=%.1f />", px_prev, py_prev, px,
                    py);
        fmt_val(b[1], sizeof(b[1]), y);
        fprintf(f,
                "<circle cx=%.1f cy=%.1f r=4 data-value=\"%.17g\"><title>%s %s</title>"
                "</circle><text x=%.1f y=%.1f class=val>%s</text>",
                px, py, y, b[1], m->unit, px, py - 8, b[1]);
        px_prev = px;
        py_prev = py;
    }
    fprintf(f, "<text x=190 y=219 class=xtick>");
    esc(f, xname);
    fputs("</text></svg></figure>\n", f);
}

int wp_html_compare(FILE *f, const char *title, const char *xname, const struct wp_html_run *runs,
                    size_t n, struct wp_err *err)
{
    bool numeric = n > 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        numeric &= isfinite(runs[i].x) && runs[i].x > 0;
        if (runs[i].x < lo)
            lo = runs[i].x;
        if (runs[i].x > hi)
            hi = runs[i].x;
    }
    bool logx = numeric && hi / lo > 4;
    fputs("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>wattprof: ", f);
    esc(f, title);
    fputs("</title><style>body{font:14px/1.4 sans-serif;margin:1em 2em;color:#222}"
          "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee}"
          "td.num{text-align:right}figure{display:inline-block;margin:0 1em 1em 0}"
          "figcaption{font-weight:bold}svg text{font:11px sans-serif;fill:#444}"
          ".xtick{text-anchor:middle}.ytick{text-anchor:end}.axis{stroke:#999}"
          ".link{stroke:#3182bd;stroke-width:1.5}circle{fill:#3182bd}.val{text-anchor:middle}"
          "</style></head><body>\n<h1>",
          f);
    esc(f, title);
    fputs("</h1>\n", f);
    for (size_t i = 0; i < sizeof(measures) / sizeof(measures[0]); i++)
        chart(f, runs, n, &measures[i], numeric, logx, xname);
    fputs("<table id=runs><tr><th>", f);
    esc(f, xname);
    fputs("</th>", f);
    for (size_t i = 0; i < sizeof(measures) / sizeof(measures[0]); i++)
        fprintf(f, "<th>%s %s</th>", measures[i].title, measures[i].unit);
    fputs("</tr>", f);
    for (size_t r = 0; r < n; r++) {
        fputs("<tr><td>", f);
        esc(f, runs[r].label);
        fputs("</td>", f);
        for (size_t i = 0; i < sizeof(measures) / sizeof(measures[0]); i++) {
            double v = get(&runs[r], &measures[i]);
            char b[32];
            if (isfinite(v))
                fprintf(f, "<td class=num data-key=\"runs.%zu.%s\" data-value=\"%.17g\">%s</td>", r,
                        measures[i].key, v, fmt_val(b, sizeof(b), v));
            else
                fprintf(f, "<td class=num data-key=\"runs.%zu.%s\" data-value=null>-</td>", r,
                        measures[i].key);
        }
        fputs("</tr>", f);
    }
    fprintf(f, "</table>\n<p>wattprof %s</p></body></html>\n", WP_VERSION);
    if (fflush(f) != 0 || ferror(f))
        return wp_errf(err, -EIO, "writing the HTML report failed (disk full?)");
    return 0;
}
