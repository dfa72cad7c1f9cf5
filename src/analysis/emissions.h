/* Emissions of a recorded run: its power profile (the node input meter when the trace has
 * exactly one, else the GPUs' finest power series) against a carbon intensity series, through
 * a PUE. Called by `wattprof report --intensity`; the arithmetic is in src/plan/carbon.c. */
#ifndef WP_EMISSIONS_H
#define WP_EMISSIONS_H

#include <stdio.h>

#include "analysis/summary.h"
#include "core/json.h"
#include "plan/carbon.h"

struct wp_run_emissions {
    struct wp_emissions e;
    char basis[96];   /* "node input meter bmc/power", "GPUs (2, nvml power)" */
    int64_t shift_us; /* how far the run was moved to meet the series (--intensity-at) */
};

/* The run's profile in one-second bins over [s->start_us, s->end_us]. */
int wp_run_profile(const struct wp_trace *t, const struct wp_summary *s, struct wp_profile *p,
                   char *basis, size_t cap, struct wp_err *err);
int wp_run_emissions(const struct wp_trace *t, const struct wp_summary *s,
                     const struct wp_intensity *ci, double pue, int64_t shift_us,
                     struct wp_run_emissions *out, struct wp_err *err);
/* The text block and the JSON member "emissions": {intensity_source, pue, basis,
 * it_energy_j, facility_energy_j, kg_co2e, mean_g_per_kwh, hours_without_intensity,
 * energy_without_intensity_j, shift_s}. */
void wp_emissions_print_text(FILE *f, const struct wp_run_emissions *r);
void wp_emissions_write_json(struct wp_json *j, const struct wp_run_emissions *r);

#endif
