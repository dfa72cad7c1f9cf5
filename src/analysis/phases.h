/* Internal to src/analysis: per-phase energy, computed by wp_summary_compute while the GPUs'
 * power series are decoded (so a trace is read once). */
#ifndef WP_PHASES_H
#define WP_PHASES_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/energy.h"
#include "analysis/summary.h"

/* Fills s->phases from the trace's marks; refs are the k GPUs' power series (hold_us = their
 * cadence), step_us the grid of the summed peak. s->end_us closes phases left open. */
int wp_summary_phases(const struct wp_trace *t, struct wp_summary *s,
                      const struct wp_series_ref *refs, size_t k, int64_t step_us,
                      struct wp_err *err);

#endif
