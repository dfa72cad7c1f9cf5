/* Presentation of summaries: the numbers come computed in struct wp_summary
 * (src/analysis/summary.h); nothing here reads a trace or computes a number. */
#ifndef WP_REPORT_H
#define WP_REPORT_H

#include <stdio.h>

#include "analysis/summary.h"

/* The perf-stat-style table and its notes. */
void wp_summary_print_text(FILE *f, const struct wp_summary *s);
/* One JSON object (json_summary.c documents its keys); 0, -EIO on a write error. */
int wp_summary_write_json(FILE *f, const struct wp_summary *s);
/* The same, with extra members of the top-level object written by extra() at its end (the
 * report's "emissions"). */
struct wp_json;
int wp_summary_write_json_ext(FILE *f, const struct wp_summary *s,
                              void (*extra)(struct wp_json *j, void *ctx), void *ctx);

/* For text output of any summary (text.c): v with fmt into buf, or "-" when v is not finite (a
 * missing number is never printed as 0); and s with control characters as '?' (a job's names
 * can hold anything), cut at max characters with "...", returning the characters written. */
const char *wp_report_num(char *buf, size_t cap, const char *fmt, double v);
size_t wp_report_put_clean(FILE *f, const char *s, size_t max);

#endif
