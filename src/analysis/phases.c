/* Phases: the job's begin/end marks (src/marks) cut the trace into phases; the summary's pass
 * gives each the energy of all GPUs inside it, its mean, and the peak of the summed power. */
#include "analysis/phases.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "marks/marks.h"

int wp_summary_phase_list(const struct wp_trace *t, struct wp_summary *s, struct wp_err *err)
{
    const struct wp_mark *marks;
    size_t nmarks = 0;
    int rc = wp_trace_marks(t, &marks, &nmarks, err);
    if (rc < 0 || nmarks == 0)
        return rc;
    struct wp_phase *ph = NULL;
    size_t nph = 0;
    /* A phase still open at the end closes at the run's end (for a killed recording, the
     * summary's end is its last sample). */
    rc = wp_phases_from_marks(marks, nmarks, s->end_us, &ph, &nph);
    if (rc < 0)
        return wp_errf(err, rc, "out of memory pairing phase marks");
    if (nph == 0)
        return 0;
    s->phases = calloc(nph, sizeof(*s->phases));
    if (!s->phases) {
        free(ph);
        return wp_errf(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nph; i++) {
        const struct wp_phase *p = &ph[i];
        struct wp_phase_summary *o = &s->phases[i];
        snprintf(o->name, sizeof(o->name), "%s", p->name);
        o->t0_us = p->t0_us;
        o->t1_us = p->t1_us;
        o->depth = p->depth;
        o->open_ended = p->open_ended;
        o->duration_s = (double)(p->t1_us - p->t0_us) / 1e6;
        size_t room = sizeof(o->counts) / sizeof(o->counts[0]);
        o->ncounts = (size_t)p->ncounts < room ? p->ncounts : (int)room;
        memcpy(o->counts, p->counts, (size_t)o->ncounts * sizeof(o->counts[0]));
        o->energy_j = o->mean_w = o->peak_w = NAN;
    }
    s->nphases = nph;
    free(ph);
    return 0;
}
