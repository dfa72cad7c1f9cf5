/* Energy per process; the method is in attrib.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/attrib.h"
#include "analysis/energy.h"
#include "analysis/node.h"
#include "core/grow.h"

static int nomem(struct wp_err *err)
{
    return wp_errf(err, -ENOMEM, "out of memory splitting GPU energy between processes");
}

/* The GPU's finest power gauge: the one with the shortest nominal cadence (NVML's 20 ms
 * buffer before its 1 s fields). */
static const struct wp_sensor *power_of(const struct wp_sensors *tab, const struct wp_sensor *p)
{
    const struct wp_sensor *best = NULL;
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (s->scope != WP_SCOPE_GPU || s->quantity != WP_Q_POWER || s->kind != WP_GAUGE ||
            s->device != p->device || strcmp(s->source, p->source) != 0 ||
            strcmp(s->host, p->host) != 0)
            continue;
        if (!best || (s->cadence_us > 0 && s->cadence_us < best->cadence_us))
            best = s;
    }
    return best;
}

static double energy_j(const struct wp_series *pw, int64_t hold, int64_t a, int64_t b)
{
    struct wp_energy e;
    if (b <= a || wp_energy_window(pw->t_us, pw->value, pw->n, a, b, hold, 0, &e) < 0)
        return 0;
    return e.energy_mj / 1000.0;
}

static struct wp_proc_energy *proc_slot(struct wp_gpu_attrib *g, size_t *cap, int64_t pid)
{
    for (size_t i = 0; i < g->nprocs; i++)
        if (g->procs[i].pid == pid)
            return &g->procs[i];
    if (WP_GROW(&g->procs, cap, g->nprocs + 1) < 0)
        return NULL;
    struct wp_proc_energy *p = &g->procs[g->nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    return p;
}

static int cmp_energy(const void *a, const void *b)
{
    const struct wp_proc_energy *x = a, *y = b;
    return (x->energy_j < y->energy_j) - (x->energy_j > y->energy_j);
}

/* The length of one round: the recorder's period for the sensor (nvml's procs_period), else
 * the median spacing of the rounds. The period first: a short run has too few rounds for a
 * median, and its last round, read at the end, is closer than a period to the one before. */
static int64_t round_len(const struct wp_series *ps, int64_t cadence)
{
    if (cadence > 0)
        return cadence;
    int64_t *t = malloc((ps->n ? ps->n : 1) * sizeof(*t));
    size_t m = 0;
    if (!t)
        return cadence;
    for (size_t i = 0; i < ps->n; i++)
        if (m == 0 || ps->t_us[i] != t[m - 1])
            t[m++] = ps->t_us[i];
    double ms = NAN;
    if (m >= 2)
        wp_median_interval_ms(t, m, &ms);
    free(t);
    return isfinite(ms) && ms > 0 ? llround(ms * 1000.0) : cadence;
}

static int split_gpu(struct wp_gpu_attrib *g, const struct wp_series *pw, int64_t hold,
                     const struct wp_series *ps, int64_t len, int64_t from, int64_t to,
                     struct wp_err *err)
{
    size_t cap = 0;
    double attributed = 0;
    g->energy_j = energy_j(pw, hold, from, to);
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < ps->n;) {
        size_t j = i;
        int64_t tk = ps->t_us[i], busy = 0;
        while (j < ps->n && ps->t_us[j] == tk)
            busy += wp_proc_util_pct(ps->value[j++]);
        /* A round covers the time since the one before. A gap of more than two rounds and a
         * second is time when no process was seen or the recorder did not ask because the
         * GPU was idle, so idle, and the round then covers one round's length. Shorter
         * gaps are a read that came back late or empty while processes ran (on H200 at
         * 1 s, rounds 2 s apart now and then: docs/validation/h200-2026-12-03d). */
        int64_t a = prev, b = tk;
        if (prev == INT64_MIN || tk - prev > 2 * len + 1000000) {
            a = tk - len;
            if (prev != INT64_MIN)
                g->idle_j += energy_j(pw, hold, prev < from ? from : prev, a > to ? to : a);
        }
        a = a < from ? from : a;
        b = b > to ? to : b;
        double e = energy_j(pw, hold, a, b);
        for (size_t k = i; k < j; k++) {
            struct wp_proc_energy *p = proc_slot(g, &cap, wp_proc_util_pid(ps->value[k]));
            if (!p)
                return nomem(err);
            int64_t pct = wp_proc_util_pct(ps->value[k]);
            if (busy > 0)
                p->energy_j += e * (double)pct / (double)busy;
            p->mean_sm_pct += (double)pct; /* a sum until the end */
            p->rounds++;
        }
        if (busy > 0)
            attributed += e;
        else
            g->idle_j += e;
        prev = tk;
        i = j;
    }
    g->unattributed_j = g->energy_j - attributed - g->idle_j;
    for (size_t i = 0; i < g->nprocs; i++)
        g->procs[i].mean_sm_pct /= (double)g->procs[i].rounds;
    qsort(g->procs, g->nprocs, sizeof(*g->procs), cmp_energy);
    return 0;
}

/* Phases whose begin and end both came from one known process, in [from, to]. */
static int job_phases(const struct wp_trace *t, struct wp_attrib *out, struct wp_err *err)
{
    const struct wp_mark *m;
    size_t n = 0, cap = 0;
    int rc = wp_trace_marks(t, &m, &n, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (m[i].pid <= 0 || m[i].kind == WP_MARK_POINT)
            continue;
        if (m[i].kind == WP_MARK_BEGIN) {
            if (WP_GROW(&out->phases, &cap, out->nphases + 1) < 0)
                return nomem(err);
            struct wp_job_phase *p = &out->phases[out->nphases++];
            memset(p, 0, sizeof(*p));
            snprintf(p->name, sizeof(p->name), "%s", m[i].name);
            p->pid = m[i].pid;
            p->t0_us = m[i].t_us;
            p->t1_us = out->to_us;
            p->open_ended = true;
            continue;
        }
        for (size_t k = out->nphases; k-- > 0;) { /* the latest open one of that process */
            struct wp_job_phase *p = &out->phases[k];
            if (p->open_ended && p->pid == m[i].pid && strcmp(p->name, m[i].name) == 0) {
                p->t1_us = m[i].t_us;
                p->open_ended = false;
                break;
            }
        }
    }
    for (size_t k = 0; k < out->nphases; k++) {
        struct wp_job_phase *p = &out->phases[k];
        p->t0_us = p->t0_us < out->from_us ? out->from_us : p->t0_us;
        p->t1_us = p->t1_us > out->to_us ? out->to_us : p->t1_us;
    }
    return 0;
}

/* Adds one GPU's part of each job phase. */
static int gpu_job_phases(struct wp_attrib *out, const struct wp_series *pw, int64_t hold,
                          const struct wp_series *ps, int64_t len, struct wp_err *err)
{
    for (size_t k = 0; k < out->nphases; k++) {
        struct wp_job_phase *p = &out->phases[k];
        struct wp_gpu_attrib g;
        memset(&g, 0, sizeof(g));
        int rc = split_gpu(&g, pw, hold, ps, len, p->t0_us, p->t1_us, err);
        if (rc == 0) {
            p->gpus_energy_j += g.energy_j;
            for (size_t i = 0; i < g.nprocs; i++)
                if (g.procs[i].pid == p->pid)
                    p->energy_j += g.procs[i].energy_j;
        }
        free(g.procs);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int wp_attrib_compute(const struct wp_trace *t, int64_t from_us, int64_t to_us,
                      struct wp_attrib *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    out->from_us = from_us;
    out->to_us = to_us;
    const struct wp_sensors *tab = wp_trace_sensors(t);
    size_t cap = 0;
    int rc = job_phases(t, out, err);
    for (size_t i = 0; i < tab->n && rc == 0; i++) {
        const struct wp_sensor *p = &tab->v[i];
        if (p->quantity != WP_Q_PROC_UTIL)
            continue;
        const struct wp_sensor *pw = power_of(tab, p);
        if (!pw)
            continue;
        struct wp_series ps = {0}, ser = {0};
        /* The power series only where there are processes to split it between: a day of
         * 20 ms samples is 70 MB to hold (bench/perf/day_bench.sh). */
        if ((rc = wp_trace_series(t, p->id, &ps, err)) == 0 && ps.n == 0) {
            wp_series_free(&ps);
            continue;
        }
        if (rc < 0 || (rc = wp_trace_series(t, pw->id, &ser, err)) < 0 ||
            (rc = wp_series_to_canonical(&ser, pw, err)) < 0) {
            wp_series_free(&ps);
            wp_series_free(&ser);
            break;
        }
        if (ps.n > 0) {
            if (WP_GROW(&out->gpus, &cap, out->ngpus + 1) < 0) {
                rc = nomem(err);
            } else {
                struct wp_gpu_attrib *g = &out->gpus[out->ngpus++];
                memset(g, 0, sizeof(*g));
                g->index = p->device;
                snprintf(g->uuid, sizeof(g->uuid), "%s", p->uuid);
                int64_t len = round_len(&ps, p->cadence_us);
                rc = split_gpu(g, &ser, pw->cadence_us, &ps, len, from_us, to_us, err);
                if (rc == 0)
                    rc = gpu_job_phases(out, &ser, pw->cadence_us, &ps, len, err);
            }
        }
        wp_series_free(&ps);
        wp_series_free(&ser);
    }
    if (rc < 0)
        wp_attrib_free(out);
    return rc;
}

void wp_attrib_free(struct wp_attrib *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->ngpus; i++)
        free(a->gpus[i].procs);
    free(a->gpus);
    free(a->phases);
    memset(a, 0, sizeof(*a));
}
