/* The table and JSON of `wattprof sweep` (the numbers: src/analysis/sweep.h). */
#ifndef WP_REPORT_SWEEP_OUT_H
#define WP_REPORT_SWEEP_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "analysis/sweep.h"

/* One line per value of param (rows[0..n)), "not run" for a run that never happened;
 * energy and time also relative to the first run. */
void wp_sweep_print_table(FILE *f, const char *param, const struct wp_sweep_row *rows, size_t n);
/* {"param", "phase" (null: whole runs), "interrupted", "runs": [...]} of the runs that
 * happened. Returns 0, -EINVAL when the JSON came out unbalanced (a bug) or -EIO. */
int wp_sweep_write_json(FILE *f, const char *param, const char *phase, bool interrupted,
                        const struct wp_sweep_row *rows, size_t n);

#endif
