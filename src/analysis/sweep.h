/* wattprof sweep's numbers per run (value of the swept parameter), from the summary of the
 * sweep's one trace. The CLI runs the job and prints; this computes. */
#ifndef WP_SWEEP_H
#define WP_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/summary.h"

struct wp_sweep_row {
    const char *value; /* the parameter's value (the caller's) */
    bool done;         /* the run happened (the caller's) */
    int exit_code;     /* (the caller's) */
    double duration_s, energy_j, mean_w, peak_w;
    double samples, tokens; /* from the job's own phases inside the run; NAN if none */
};

/* Fills the numbers of rows[0..nvalues) from the phases "sweep/K" of s; only_phase (or NULL)
 * sums the job's phases of that name inside each run instead of the whole run. */
void wp_sweep_rows(const struct wp_summary *s, size_t nvalues, const char *only_phase,
                   struct wp_sweep_row *rows);

#endif
