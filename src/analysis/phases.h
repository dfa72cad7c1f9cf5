/* Internal to src/analysis: the job's phases, from its begin/end marks. Their energy and peak
 * are filled by wp_summary_compute's pass over the power series (summary.c). */
#ifndef WP_PHASES_H
#define WP_PHASES_H

#include "analysis/summary.h"

/* Fills s->phases (names, times, depth, counts; energy, mean and peak NAN) from the trace's
 * marks. s->end_us closes phases left open. */
int wp_summary_phase_list(const struct wp_trace *t, struct wp_summary *s, struct wp_err *err);

#endif
