/* Emissions of a recorded run (see emissions.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/emissions.h"

int wp_run_profile(const struct wp_trace *t, const struct wp_summary *s, struct wp_profile *p,
                   char *basis, size_t cap, struct wp_err *err)
{
    const struct wp_sensors *tab = wp_trace_sensors(t);
    int ids[64];
    size_t k = 0;
    /* One node input meter measures everything the node drew; two could overlap (a BMC and a
     * PDU outlet of the same node), so then the GPUs are used, as they never overlap. */
    int node = -1, nnode = 0;
    for (size_t i = 0; i < tab->n; i++)
        if (tab->v[i].scope == WP_SCOPE_NODE_INPUT && tab->v[i].quantity == WP_Q_POWER) {
            node = (int)i;
            nnode++;
        }
    if (nnode == 1) {
        ids[k++] = node;
        snprintf(basis, cap, "node input meter %s/%s", tab->v[node].source, tab->v[node].name);
    } else {
        for (size_t g = 0; g < s->ngpus && k < 64; g++) {
            const struct wp_gpu_summary *gs = &s->gpus[g];
            if (!gs->power_sensor[0])
                continue;
            for (size_t i = 0; i < tab->n; i++)
                if (strcmp(tab->v[i].source_kind, "nvml") == 0 && tab->v[i].device == gs->index &&
                    strcmp(tab->v[i].name, gs->power_sensor) == 0) {
                    ids[k++] = (int)i;
                    break;
                }
        }
        snprintf(basis, cap, "GPUs (%zu; no single node meter)", k);
    }
    if (k == 0)
        return wp_errf(err, -ENODATA, "the trace holds no power series to weigh emissions by");
    if (!(s->end_us > s->start_us))
        return wp_errf(err, -ENODATA, "the run has no duration");
    if (wp_profile_init(p, s->start_us, s->end_us, 1000000) < 0)
        return wp_errf(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
        const struct wp_sensor *se = &tab->v[ids[i]];
        struct wp_series sr = {0};
        int rc = wp_trace_series(t, se->id, &sr, err);
        if (rc < 0) {
            wp_profile_free(p);
            return rc;
        }
        rc = wp_profile_add_series(p, sr.t_us, sr.value, sr.n, se->cadence_us, s->start_us,
                                   s->end_us, wp_sensor_scale(se));
        wp_series_free(&sr);
        if (rc < 0) {
            wp_profile_free(p);
            return wp_errf(err, rc, "the power series of %s goes back in time", se->name);
        }
    }
    return 0;
}

int wp_run_emissions(const struct wp_trace *t, const struct wp_summary *s,
                     const struct wp_intensity *ci, double pue, int64_t shift_us,
                     struct wp_run_emissions *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    struct wp_profile p;
    int rc = wp_run_profile(t, s, &p, out->basis, sizeof(out->basis), err);
    if (rc < 0)
        return rc;
    out->shift_us = shift_us;
    rc = wp_emissions_compute(&p, ci, pue, shift_us, &out->e, err);
    wp_profile_free(&p);
    return rc;
}

void wp_emissions_print_text(FILE *f, const struct wp_run_emissions *r)
{
    const struct wp_emissions *e = &r->e;
    fprintf(f, "\nemissions (%s; PUE %.2f):\n", e->intensity_source, e->pue);
    fprintf(f, "  power from        %s\n", r->basis);
    if (r->shift_us != 0) {
        double s = fabs((double)r->shift_us) / 1e6;
        fprintf(f, "  placed            %.0f s (%.1f days) %s than it ran (--intensity-at)\n", s,
                s / 86400, r->shift_us > 0 ? "later" : "earlier");
    }
    fprintf(f, "  IT energy         %.1f kJ\n", e->it_energy_j / 1e3);
    fprintf(f, "  facility energy   %.1f kJ (%.4f kWh)\n", e->facility_energy_j / 1e3,
            e->facility_energy_j / 3.6e6);
    if (isfinite(e->kg_co2e))
        fprintf(f, "  emissions         %.4g kg CO2e (mean %.0f gCO2/kWh)\n", e->kg_co2e,
                e->mean_g_per_kwh);
    else
        fprintf(f, "  emissions         unknown: no hour of the run has an intensity\n");
    if (e->hours_without_intensity > 0)
        fprintf(f,
                "  without intensity %.2f h of the run (%.1f kJ): blank or outside the series, "
                "left out of the kg above\n",
                e->hours_without_intensity, e->energy_without_intensity_j / 1e3);
}

void wp_emissions_write_json(struct wp_json *j, const struct wp_run_emissions *r)
{
    const struct wp_emissions *e = &r->e;
    wp_json_key(j, "emissions");
    wp_json_obj_begin(j);
    wp_json_kstr(j, "intensity_source", e->intensity_source);
    wp_json_kdouble(j, "pue", e->pue);
    wp_json_kstr(j, "basis", r->basis);
    wp_json_kdouble(j, "it_energy_j", e->it_energy_j);
    wp_json_kdouble(j, "facility_energy_j", e->facility_energy_j);
    wp_json_kdouble(j, "kg_co2e", e->kg_co2e);
    wp_json_kdouble(j, "mean_g_per_kwh", e->mean_g_per_kwh);
    wp_json_kdouble(j, "hours_without_intensity", e->hours_without_intensity);
    wp_json_kdouble(j, "energy_without_intensity_j", e->energy_without_intensity_j);
    wp_json_kdouble(j, "shift_s", (double)r->shift_us / 1e6);
    wp_json_obj_end(j);
}
