/* Grid carbon intensity, emissions of a run, and carbon-aware start times.
 *
 * An intensity series is a list of slots (start time, gCO2/kWh); a slot lasts until the next
 * one starts (the last lasts as long as the one before it). A blank slot (a real gap in the
 * source, e.g. EIA-930's missing hours) is NAN: it is never guessed, and every result says
 * how many hours of the run fell into blank slots or outside the series.
 *
 * A job's power profile is energy per one-second bin from t0_us; emissions are
 * energy x PUE x intensity of the slot each bin lies in. Whole-second bins never straddle an
 * hour boundary, so hourly slots split a run exactly. Nothing here prints. */
#ifndef WP_CARBON_H
#define WP_CARBON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct wp_intensity {
    size_t n;
    int64_t *t_us;     /* slot starts, ascending */
    double *g_per_kwh; /* NAN = blank slot */
    bool constant;     /* one value for all time (n == 0, const_g_per_kwh) */
    double const_g_per_kwh;
    char source[320]; /* "file CISO-2022-hourly.csv.gz (column avg_CI)", "constant 400" */
};

/* Reads a CSV (plain or gzip): a header, then timestamp,value rows. The timestamp is the first
 * column: "2022-01-01 00:00:00+00:00", "2022-01-01T00:00:00Z" (UTC offsets honoured) or Unix
 * seconds. The value column is the one named avg_CI, gco2_per_kwh or carbon_intensity, else
 * the second column. An empty value is a blank slot. -ENOENT/-EACCES for the file, -EINVAL
 * for bad content (the message names the line). */
int wp_intensity_load(struct wp_intensity *out, const char *path, struct wp_err *err);
void wp_intensity_constant(struct wp_intensity *out, double g_per_kwh);
void wp_intensity_free(struct wp_intensity *ci);
/* gCO2/kWh of the slot holding t_us; NAN when blank or outside the series. */
double wp_intensity_at(const struct wp_intensity *ci, int64_t t_us);
/* The slot holding t_us, or -1 outside the series (always -1 for a constant). */
long wp_intensity_slot(const struct wp_intensity *ci, int64_t t_us);

/* Where a zone's series lives: DIR/ZONE-*.csv.gz or DIR/ZONE.csv[.gz] for each DIR of the
 * colon-separated list `dirs`. Zone names are letters, digits, '_' and '-' only. Returns 0
 * with the path, -ENOENT (the message lists the zones found) or -EINVAL for a bad name. */
int wp_intensity_find_zone(const char *zone, const char *dirs, char *path, size_t cap,
                           struct wp_err *err);

/* Energy per bin of bin_us from t0_us (bin_us divides an hour: 1 s by default). */
struct wp_profile {
    int64_t t0_us, bin_us;
    size_t n;
    double *energy_j;
};
void wp_profile_free(struct wp_profile *p);
/* Adds a power series (mW, interval rule of src/analysis/energy.h: sample i covers
 * (t_{i-1}, t_i], the first held back hold_us) into p's bins; p must already span the
 * series' window [from_us, to_us] (samples outside are clipped). scale multiplies the power
 * (for a model of more GPUs). */
int wp_profile_add_series(struct wp_profile *p, const int64_t *t_us, const int64_t *mw, size_t n,
                          int64_t hold_us, int64_t from_us, int64_t to_us, double scale);
/* Allocates zeroed bins covering [from_us, to_us), t0 rounded down to a whole bin. */
int wp_profile_init(struct wp_profile *p, int64_t from_us, int64_t to_us, int64_t bin_us);

struct wp_emissions {
    char intensity_source[320];
    double pue;
    double it_energy_j;                /* what the profile drew */
    double facility_energy_j;          /* it_energy_j x pue */
    double kg_co2e;                    /* over the hours with an intensity; NAN if none had one */
    double hours_without_intensity;    /* run time in blank slots or outside the series */
    double energy_without_intensity_j; /* facility energy in those hours, not in kg_co2e */
    double mean_g_per_kwh;             /* energy-weighted intensity over the covered hours */
};

/* Emissions of p placed shift_us later than its own times (0: when it ran). */
int wp_emissions_compute(const struct wp_profile *p, const struct wp_intensity *ci, double pue,
                         int64_t shift_us, struct wp_emissions *out, struct wp_err *err);

/* ---- carbon-aware start ---- */
struct wp_carbon_opts {
    int64_t now_us;      /* the earliest start; kg_co2e_now is for starting here */
    int64_t deadline_us; /* the job must finish by then */
    double pue;
    /* Pausing at checkpoints: the job is cut into one-slot chunks (its energy in each slot
     * when started on a slot boundary); each resume after a pause costs restart_kwh more
     * (reloading, warm-up), drawn in the slot it resumes in. restart_kwh < 0: no pausing. */
    double restart_kwh;
};

struct wp_carbon_plan {
    bool found; /* some start fits before the deadline with intensity everywhere */
    int64_t best_start_us;
    double kg_co2e_best;
    double kg_co2e_now;   /* NAN when starting now meets a blank slot or misses the deadline */
    size_t candidates;    /* starts considered */
    size_t skipped_blank; /* starts left out because the job would meet a blank slot */
    /* Pausing (restart_kwh >= 0): the chunk start times in order, and their emissions
     * including the restarts. */
    bool split_found;
    size_t nchunks, pauses;
    int64_t *chunk_start_us;
    double kg_co2e_split;
};

/* The job is p (its own t0 ignored: chunk k is its energy in [k, k+1) slots after its start).
 * Starts are slot boundaries of ci from the first at or after now (or now itself, when now is
 * a boundary). ci must be a series (not a constant), with equal slots. Exact: the best start
 * is the minimum over every candidate, and the split is a dynamic programme over (chunk,
 * slot) that is exact for the restart rule above. */
int wp_carbon_plan(const struct wp_profile *p, const struct wp_intensity *ci,
                   const struct wp_carbon_opts *o, struct wp_carbon_plan *out, struct wp_err *err);
void wp_carbon_plan_free(struct wp_carbon_plan *r);
/* Energy of p (J) in each slot of slot_us after its start, as chunks; *out malloc'd. */
int wp_profile_chunks(const struct wp_profile *p, int64_t slot_us, double **out, size_t *n);

#endif
