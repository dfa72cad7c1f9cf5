/* The HTML report of a trace: one self-contained file (inline SVG and CSS, a little
 * JavaScript for zooming only; no network), readable without JavaScript. */
#ifndef WP_REPORT_HTML_H
#define WP_REPORT_HTML_H

#include <stdint.h>
#include <stdio.h>

#include "analysis/summary.h"
#include "analysis/timelines.h"
#include "core/err.h"
#include "store/trace.h"

struct wp_html_opts {
    /* the window whose single samples the zoom view holds, in seconds after the start; both
     * NAN: ten seconds around the summed 20 ms peak */
    double zoom_from_s, zoom_to_s;
};

/* Writes the report of t (whose summary is s, computed with tl hooked into its options:
 * analysis/timelines.h) to f. Returns 0, -EIO when writing failed, or another negative code
 * with err filled. */
int wp_html_trace(FILE *f, const struct wp_trace *t, const struct wp_summary *s,
                  const struct wp_timelines *tl, struct wp_err *err);

/* One run of a comparison (a sweep's value, or a trace). NAN: not known. */
struct wp_html_run {
    char label[64];
    double x; /* the swept value as a number, NAN when it is not one */
    double duration_s, energy_j, mean_w, peak_w, j_per_sample;
};

/* The comparison page: energy, time, mean and peak power and J/sample against the swept
 * value (or the run's order). */
int wp_html_compare(FILE *f, const char *title, const char *xname, const struct wp_html_run *runs,
                    size_t n, struct wp_err *err);

/* Writes s as HTML text or attribute value: <, >, &, quotes escaped, control characters
 * other than newline and tab as '?'. */
void wp_html_escape(FILE *f, const char *s);

/* Reads a sweep's table (`wattprof sweep --json`) into *runs (malloc'd), its parameter's name
 * into xname. -ENOENT/-EACCES when it cannot be read, -EINVAL (message says what) when it is
 * not a sweep's JSON, -ENOMEM. */
int wp_compare_load_sweep(const char *path, struct wp_html_run **runs, size_t *n, char *xname,
                          size_t xcap, struct wp_err *err);

#endif
