/* The sweep's table from the summary of its trace: each run is the phase "sweep/K" that
 * wattprof sweep marks around run K; its numbers are that phase's, or with a phase name the sum
 * of the job's own phases of that name inside it. */
#include "analysis/sweep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double count_of(const struct wp_phase_summary *p, const char *key)
{
    for (int i = 0; i < p->ncounts; i++)
        if (strcmp(p->counts[i].key, key) == 0)
            return p->counts[i].value;
    return NAN;
}

/* Sums a count over the job's outermost phases inside [t0, t1]. */
static double job_count(const struct wp_summary *s, int64_t t0, int64_t t1, const char *key)
{
    int depth = -1;
    for (size_t i = 0; i < s->nphases; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        if (strncmp(p->name, "sweep/", 6) == 0 || p->t0_us < t0 || p->t1_us > t1)
            continue;
        if (!isnan(count_of(p, key)) && (depth < 0 || p->depth < depth))
            depth = p->depth;
    }
    if (depth < 0)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < s->nphases; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        if (strncmp(p->name, "sweep/", 6) == 0 || p->t0_us < t0 || p->t1_us > t1 ||
            p->depth != depth)
            continue;
        double c = count_of(p, key);
        if (!isnan(c))
            sum += c;
    }
    return sum;
}

/* Sums the job's phases called name inside [t0, t1] into row (NAN when there are none). */
static void sum_phases(const struct wp_summary *s, int64_t t0, int64_t t1, const char *name,
                       struct wp_sweep_row *row)
{
    double e = 0, d = 0, peak = NAN, samples = NAN, tokens = NAN;
    int n = 0;
    for (size_t i = 0; i < s->nphases; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        if (strcmp(p->name, name) != 0 || p->t0_us < t0 || p->t1_us > t1)
            continue;
        n++;
        e += p->energy_j;
        d += p->duration_s;
        if (isnan(peak) || p->peak_w > peak)
            peak = p->peak_w;
        double c = count_of(p, "samples");
        if (!isnan(c))
            samples = (isnan(samples) ? 0 : samples) + c;
        c = count_of(p, "tokens");
        if (!isnan(c))
            tokens = (isnan(tokens) ? 0 : tokens) + c;
    }
    row->energy_j = n ? e : NAN;
    row->duration_s = n ? d : NAN;
    row->mean_w = n && d > 0 ? e / d : NAN;
    row->peak_w = peak;
    row->samples = samples;
    row->tokens = tokens;
}

void wp_sweep_rows(const struct wp_summary *s, size_t nvalues, const char *only_phase,
                   struct wp_sweep_row *rows)
{
    for (size_t i = 0; i < s->nphases; i++) {
        const struct wp_phase_summary *p = &s->phases[i];
        char *end;
        if (strncmp(p->name, "sweep/", 6) != 0)
            continue;
        unsigned long k = strtoul(p->name + 6, &end, 10);
        if (*end || k >= nvalues)
            continue;
        if (only_phase) {
            sum_phases(s, p->t0_us, p->t1_us, only_phase, &rows[k]);
            continue;
        }
        rows[k].duration_s = p->duration_s;
        rows[k].energy_j = p->energy_j;
        rows[k].mean_w = p->mean_w;
        rows[k].peak_w = p->peak_w;
        rows[k].samples = job_count(s, p->t0_us, p->t1_us, "samples");
        rows[k].tokens = job_count(s, p->t0_us, p->t1_us, "tokens");
    }
}
