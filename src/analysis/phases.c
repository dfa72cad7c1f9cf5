/* Energy per phase: the job's begin/end marks (src/marks) cut the trace into phases; each
 * phase gets the energy of all GPUs inside it, its mean, and the peak of the summed power.
 * Call after wp_summary_compute, whose run window it uses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/energy.h"
#include "analysis/summary.h"
#include "marks/marks.h"

struct gpu_series {
    struct wp_series ser;
    int64_t cadence_us;
};

int wp_summary_add_phases(const struct wp_trace *t, struct wp_summary *s, struct wp_err *err)
{
    const struct wp_mark *marks;
    size_t nmarks = 0;
    int rc = wp_trace_marks(t, &marks, &nmarks, err);
    if (rc < 0)
        return rc;
    struct wp_phase *ph = NULL;
    size_t nph = 0;
    if (nmarks == 0)
        return 0;
    /* A phase still open at the end closes at the run's end (for a killed recording, the
     * summary's end is its last sample). */
    rc = wp_phases_from_marks(marks, nmarks, s->end_us, &ph, &nph);
    if (rc < 0)
        return wp_errf(err, rc, "out of memory pairing phase marks");
    if (nph == 0)
        return 0;

    struct gpu_series *gs = calloc(s->ngpus ? s->ngpus : 1, sizeof(*gs));
    struct wp_series_ref *refs = calloc(s->ngpus ? s->ngpus : 1, sizeof(*refs));
    s->phases = calloc(nph, sizeof(*s->phases));
    if (!gs || !refs || !s->phases) {
        rc = wp_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    const struct wp_sensors *tab = wp_trace_sensors(t);
    size_t k = 0;
    int64_t step_us = 0;
    for (size_t g = 0; g < s->ngpus; g++) {
        const struct wp_sensor *sen =
            wp_sensors_find(tab, "nvml", s->gpus[g].index, s->gpus[g].power_sensor);
        if (!sen)
            continue;
        rc = wp_trace_series(t, sen->id, &gs[k].ser, err);
        if (rc < 0)
            goto out;
        gs[k].cadence_us = sen->cadence_us > 0 ? sen->cadence_us : 20000;
        refs[k] = (struct wp_series_ref){.t_us = gs[k].ser.t_us,
                                         .value = gs[k].ser.value,
                                         .n = gs[k].ser.n,
                                         .hold_us = gs[k].cadence_us};
        if (step_us == 0 || gs[k].cadence_us < step_us)
            step_us = gs[k].cadence_us;
        k++;
    }
    for (size_t i = 0; i < nph; i++) {
        const struct wp_phase *p = &ph[i];
        struct wp_phase_summary *o = &s->phases[i];
        memset(o, 0, sizeof(*o));
        snprintf(o->name, sizeof(o->name), "%s", p->name);
        o->t0_us = p->t0_us;
        o->t1_us = p->t1_us;
        o->depth = p->depth;
        o->open_ended = p->open_ended;
        o->duration_s = (double)(p->t1_us - p->t0_us) / 1e6;
        o->ncounts = p->ncounts < (int)(sizeof(o->counts) / sizeof(o->counts[0]))
                         ? p->ncounts
                         : (int)(sizeof(o->counts) / sizeof(o->counts[0]));
        memcpy(o->counts, p->counts, (size_t)o->ncounts * sizeof(o->counts[0]));
        o->energy_j = o->mean_w = o->peak_w = NAN;
        if (k == 0 || p->t1_us <= p->t0_us)
            continue;
        double mj = 0;
        bool ok = true;
        for (size_t g = 0; g < k; g++) {
            struct wp_energy e;
            if (wp_energy_window(gs[g].ser.t_us, gs[g].ser.value, gs[g].ser.n, p->t0_us, p->t1_us,
                                 gs[g].cadence_us, 2 * gs[g].cadence_us, &e) < 0 ||
                e.covered_us == 0) {
                ok = false;
                break;
            }
            mj += e.energy_mj;
        }
        if (!ok)
            continue;
        o->energy_j = mj / 1000.0;
        o->mean_w = o->duration_s > 0 ? o->energy_j / o->duration_s : NAN;
        double peak_mw;
        if (wp_sum_peak(refs, k, p->t0_us, p->t1_us, step_us, &peak_mw) == 0)
            o->peak_w = peak_mw / 1000.0;
    }
    s->nphases = nph;
    rc = 0;
out:
    for (size_t g = 0; g < s->ngpus && gs; g++)
        wp_series_free(&gs[g].ser);
    free(gs);
    free(refs);
    free(ph);
    if (rc < 0) {
        free(s->phases);
        s->phases = NULL;
        s->nphases = 0;
    }
    return rc;
}
