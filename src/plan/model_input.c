/* The phases a model is fitted on, from a trace or from `wattprof report --json` output (with,
 * optionally, the `wattprof export --csv` samples of the same run for utilisation, SM clock and
 * the 99th percentile, which the report JSON does not hold). */
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "analysis/energy.h"
#include "analysis/summary.h"
#include "core/grow.h"
#include "plan/model.h"
#include "store/trace.h"

#define MAX_DEV 64

struct ser {
    int64_t *t, *v;
    size_t n, cap;
    bool owned;
};

struct dev {
    int device;
    struct ser power, util, clock;
    int64_t power_hold_us;
};

struct devs {
    size_t n;
    struct dev d[MAX_DEV];
};

static void ser_free(struct ser *s)
{
    if (s->owned) {
        free(s->t);
        free(s->v);
    }
    memset(s, 0, sizeof(*s));
}

static void devs_free(struct devs *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        ser_free(&ds->d[i].power);
        ser_free(&ds->d[i].util);
        ser_free(&ds->d[i].clock);
    }
    ds->n = 0;
}

static struct dev *dev_get(struct devs *ds, int device)
{
    for (size_t i = 0; i < ds->n; i++)
        if (ds->d[i].device == device)
            return &ds->d[i];
    if (ds->n == MAX_DEV)
        return NULL;
    struct dev *d = &ds->d[ds->n++];
    memset(d, 0, sizeof(*d));
    d->device = device;
    d->power_hold_us = 20000;
    return d;
}

static const char *base(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Phase names or shell patterns ("resnet152_*"). */
static bool in_list(const char *name, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(v[i], name, 0) == 0)
            return true;
    return false;
}

static double ser_mean(const struct ser *s, int64_t t0, int64_t t1, double *count)
{
    double sum = 0;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i] >= t0 && s->t[i] <= t1) {
            sum += (double)s->v[i];
            k++;
        }
    *count = (double)k;
    return sum;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fills util, clock and (when power series exist) mean, p99 and peak of the summed GPUs. */
static int phase_stats(const struct devs *ds, int64_t t0, int64_t t1, struct wp_model_phase *p)
{
    double su = 0, nu = 0, sc = 0, nc = 0, c;
    struct wp_series_ref refs[MAX_DEV];
    size_t k = 0;
    for (size_t i = 0; i < ds->n; i++) {
        su += ser_mean(&ds->d[i].util, t0, t1, &c);
        nu += c;
        sc += ser_mean(&ds->d[i].clock, t0, t1, &c);
        nc += c;
        if (ds->d[i].power.n > 0)
            refs[k++] = (struct wp_series_ref){ds->d[i].power.t, ds->d[i].power.v, ds->d[i].power.n,
                                               ds->d[i].power_hold_us};
    }
    p->util_pct = nu > 0 ? su / nu : NAN;
    p->clock_mhz = nc > 0 ? sc / nc : NAN;
    if (k == 0 || (int)k != p->ngpus)
        return 0;
    int64_t step = 20000;
    size_t len = wp_grid_len(t0, t1, step);
    if (len == 0)
        return 0;
    double *g = malloc(len * sizeof(double));
    if (!g)
        return -ENOMEM;
    if (wp_sum_grid(refs, k, t0, t1, step, g, len) < 0) {
        free(g);
        return 0;
    }
    size_t m = 0;
    for (size_t i = 0; i < len; i++)
        if (isfinite(g[i]))
            g[m++] = g[i] * 1e-3;
    if (m > 0) {
        qsort(g, m, sizeof(double), cmp_d);
        double r = 0.99 * (double)(m - 1);
        size_t lo = (size_t)r;
        p->p99_w = lo + 1 < m ? g[lo] + (g[lo + 1] - g[lo]) * (r - (double)lo) : g[m - 1];
        if (!isfinite(p->peak_w))
            p->peak_w = g[m - 1];
    }
    free(g);
    return 0;
}

static double count_of(json_t *counts, const char *k)
{
    json_t *x = json_object_get(counts, k);
    return json_is_number(x) ? json_number_value(x) : NAN;
}

/* The work rate of a phase from its counts. */
static void set_rate(struct wp_model_phase *p, double flops, double samples,
                     const struct wp_model_input_opts *o)
{
    p->tflops_per_gpu = NAN;
    if (isfinite(flops) && flops > 0) {
        p->tflops_per_gpu = flops / p->duration_s / p->ngpus / 1e12;
    } else if (isfinite(samples) && samples > 0 && isfinite(o->flops_per_sample)) {
        p->tflops_per_gpu = samples * o->flops_per_sample / p->duration_s / p->ngpus / 1e12;
        p->tflops_derived = true;
    }
}

static int push(struct wp_model_phase **v, size_t *n, size_t *cap, const struct wp_model_phase *p)
{
    if (WP_GROW(v, cap, *n + 1) < 0)
        return -ENOMEM;
    (*v)[(*n)++] = *p;
    return 0;
}

/* Keeps the phase if it is asked for; returns 1 when kept. */
static bool wanted(const char *name, bool has_rate, const struct wp_model_input_opts *o, bool *idle)
{
    *idle = in_list(name, o->idle_phases, o->nidle);
    if (*idle)
        return true;
    if (o->nphases > 0)
        return in_list(name, o->phases, o->nphases) && has_rate;
    return has_rate;
}

static int load_csv(const char *path, struct devs *ds, struct wp_err *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        int e = errno ? errno : ENOENT;
        return wp_errf(err, -e, "cannot read samples %s: %s", path, strerror(e));
    }
    char line[512];
    size_t lineno = 0;
    int rc = 0;
    while (gzgets(gz, line, sizeof(line))) {
        lineno++;
        if (lineno == 1) {
            if (strncmp(line, "sensor_id,source,device,name,unit,t_us,value", 44) != 0) {
                rc = wp_errf(err, -EINVAL,
                             "%s is not `wattprof export --csv` output (its header differs)", path);
                break;
            }
            continue;
        }
        char src[40], name[64], unit[24];
        int id, device;
        long long t, v;
        if (sscanf(line, "%d,%39[^,],%d,%63[^,],%23[^,],%lld,%lld", &id, src, &device, name, unit,
                   &t, &v) != 7)
            continue; /* rows of other shapes (a non-integer value) are not ours */
        if (strcmp(src, "nvml") != 0)
            continue;
        struct dev *d = dev_get(ds, device);
        if (!d) {
            rc = wp_errf(err, -EINVAL, "%s: more than %d GPUs", path, MAX_DEV);
            break;
        }
        struct ser *s = strcmp(name, "power") == 0      ? &d->power
                        : strcmp(name, "util_gpu") == 0 ? &d->util
                        : strcmp(name, "clock_sm") == 0 ? &d->clock
                                                        : NULL;
        if (!s)
            continue;
        size_t cap2 = s->cap;
        if (WP_GROW(&s->t, &s->cap, s->n + 1) < 0 || WP_GROW(&s->v, &cap2, s->n + 1) < 0) {
            rc = wp_errf(err, -ENOMEM, "out of memory reading %s", path);
            break;
        }
        s->owned = true;
        if (s->n > 0 && t < s->t[s->n - 1]) {
            rc = wp_errf(err, -EINVAL, "%s line %zu: times go backwards", path, lineno);
            break;
        }
        s->t[s->n] = t;
        s->v[s->n++] = v;
    }
    gzclose(gz);
    return rc;
}

static int set_gpu(struct wp_model *m, const char *name, double limit_w, const char *driver,
                   const char *path, struct wp_err *err)
{
    if (!m->gpu[0]) {
        snprintf(m->gpu, sizeof(m->gpu), "%s", name);
        m->limit_w = limit_w;
    } else if (name[0] && strcmp(m->gpu, name) != 0) {
        return wp_errf(err, -EINVAL,
                       "%s was measured on %s, the others on %s: fit one model per GPU type", path,
                       name, m->gpu);
    }
    if (!m->driver[0] && driver)
        snprintf(m->driver, sizeof(m->driver), "%s", driver);
    return 0;
}

static int read_json(const char *path, const struct wp_model_input_opts *o,
                     struct wp_model_phase **v, size_t *n, size_t *cap, struct wp_model *m,
                     struct wp_err *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return wp_errf(err, -EINVAL, "%s: not a trace and not JSON (line %d: %s)", path, je.line,
                       je.text);
    int rc = 0;
    struct devs ds = {0};
    json_t *gpus = json_object_get(root, "gpus"), *phases = json_object_get(root, "phases");
    if (!json_is_array(gpus) || !json_is_array(phases) || json_array_size(gpus) == 0) {
        rc =
            wp_errf(err, -EINVAL,
                    "%s is not `wattprof report --json` output (no \"gpus\" and \"phases\")", path);
        goto out;
    }
    json_t *g0 = json_array_get(gpus, 0);
    json_t *gn = json_object_get(g0, "name"), *gl = json_object_get(g0, "limit_w");
    rc = set_gpu(m, json_is_string(gn) ? json_string_value(gn) : "",
                 json_is_number(gl) ? json_number_value(gl) : NAN, NULL, path, err);
    if (rc < 0)
        goto out;
    if (o->samples_csv && (rc = load_csv(o->samples_csv, &ds, err)) < 0)
        goto out;
    int ngpus = (int)json_array_size(gpus);
    size_t i;
    json_t *ph;
    json_array_foreach(phases, i, ph)
    {
        json_t *nm = json_object_get(ph, "name"), *counts = json_object_get(ph, "counts");
        struct wp_model_phase p = {0};
        if (!json_is_string(nm))
            continue;
        snprintf(p.name, sizeof(p.name), "%s", json_string_value(nm));
        snprintf(p.input, sizeof(p.input), "%s", base(path));
        p.ngpus = ngpus;
        json_t *d = json_object_get(ph, "duration_s"), *e = json_object_get(ph, "energy_j");
        if (!json_is_number(d) || !json_is_number(e))
            continue;
        p.duration_s = json_number_value(d);
        p.energy_j = json_number_value(e);
        p.mean_w = p.energy_j / p.duration_s;
        json_t *pk = json_object_get(ph, "peak_w");
        p.peak_w = json_is_number(pk) ? json_number_value(pk) : NAN;
        p.p99_w = NAN;
        set_rate(&p, count_of(counts, "flops"), count_of(counts, "samples"), o);
        if (!wanted(p.name, isfinite(p.tflops_per_gpu), o, &p.idle))
            continue;
        json_t *a = json_object_get(ph, "t0_us"), *b = json_object_get(ph, "t1_us");
        p.util_pct = p.clock_mhz = NAN;
        if (json_is_integer(a) && json_is_integer(b) &&
            (rc = phase_stats(&ds, json_integer_value(a), json_integer_value(b), &p)) < 0) {
            rc = wp_errf(err, rc, "out of memory");
            goto out;
        }
        if ((rc = push(v, n, cap, &p)) < 0) {
            rc = wp_errf(err, rc, "out of memory");
            goto out;
        }
    }
out:
    devs_free(&ds);
    json_decref(root);
    return rc;
}

static int read_trace(struct wp_trace *t, const char *path, const struct wp_model_input_opts *o,
                      struct wp_model_phase **v, size_t *n, size_t *cap, struct wp_model *m,
                      struct wp_err *err)
{
    struct wp_summary s;
    memset(&s, 0, sizeof(s));
    int rc = wp_summary_compute(t, &s, err);
    if (rc < 0)
        return wp_err_prefix(err, "%s: ", path);
    struct devs ds = {0};
    if (s.ngpus == 0) {
        rc = wp_errf(err, -EINVAL, "%s has no GPU power: nothing to fit", path);
        goto out;
    }
    rc = set_gpu(m, s.gpus[0].name, s.gpus[0].limit_w, wp_meta_get(wp_trace_meta(t), "nvml.driver"),
                 path, err);
    if (rc < 0)
        goto out;
    const struct wp_sensors *tab = wp_trace_sensors(t);
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *se = &tab->v[i];
        if (strcmp(se->source_kind, "nvml") != 0)
            continue;
        bool pw = strcmp(se->name, "power") == 0, ut = strcmp(se->name, "util_gpu") == 0,
             ck = strcmp(se->name, "clock_sm") == 0;
        if (!pw && !ut && !ck)
            continue;
        struct dev *d = dev_get(&ds, se->device);
        if (!d) {
            rc = wp_errf(err, -EINVAL, "%s: more than %d GPUs", path, MAX_DEV);
            goto out;
        }
        struct wp_series sr = {0};
        if (wp_trace_series(t, se->id, &sr, err) < 0)
            continue;
        struct ser *dst = pw ? &d->power : ut ? &d->util : &d->clock;
        dst->t = sr.t_us;
        dst->v = sr.value;
        dst->n = sr.n;
        dst->owned = true;
        free(sr.damaged);
        if (pw)
            d->power_hold_us = se->cadence_us;
    }
    for (size_t i = 0; i < s.nphases; i++) {
        const struct wp_phase_summary *ps = &s.phases[i];
        struct wp_model_phase p = {0};
        snprintf(p.name, sizeof(p.name), "%s", ps->name);
        snprintf(p.input, sizeof(p.input), "%s", base(path));
        p.ngpus = (int)s.ngpus;
        p.duration_s = ps->duration_s;
        p.energy_j = ps->energy_j;
        p.mean_w = ps->mean_w;
        p.peak_w = ps->peak_w;
        p.p99_w = NAN;
        double flops = NAN, samples = NAN;
        for (int k = 0; k < ps->ncounts; k++) {
            if (strcmp(ps->counts[k].key, "flops") == 0)
                flops = ps->counts[k].value;
            if (strcmp(ps->counts[k].key, "samples") == 0)
                samples = ps->counts[k].value;
        }
        if (!(p.duration_s > 0))
            continue;
        set_rate(&p, flops, samples, o);
        if (!wanted(p.name, isfinite(p.tflops_per_gpu), o, &p.idle))
            continue;
        if ((rc = phase_stats(&ds, ps->t0_us, ps->t1_us, &p)) < 0 ||
            (rc = push(v, n, cap, &p)) < 0) {
            rc = wp_errf(err, rc, "out of memory");
            goto out;
        }
    }
out:
    devs_free(&ds);
    wp_summary_free(&s);
    return rc;
}

int wp_model_read_input(const char *path, const struct wp_model_input_opts *o,
                        struct wp_model_phase **v, size_t *n, size_t *cap, struct wp_model *m,
                        struct wp_err *err)
{
    struct wp_trace *t = NULL;
    struct wp_err terr = {0};
    int rc = wp_trace_open(&t, path, &terr);
    if (rc == 0) {
        if (o->samples_csv) {
            wp_trace_free(t);
            return wp_errf(err, -EINVAL,
                           "%s is a trace: it holds its samples; --samples is for report JSON",
                           path);
        }
        rc = read_trace(t, path, o, v, n, cap, m, err);
        wp_trace_free(t);
        return rc;
    }
    if (rc == -ENOENT || rc == -EACCES || rc == -EISDIR) {
        *err = terr;
        return rc;
    }
    return read_json(path, o, v, n, cap, m, err);
}

int wp_gpu_power_grid(const char *path, int64_t step_us, double from_s, double to_s, double **w,
                      size_t *n, int *ngpus, struct wp_err *err)
{
    *w = NULL;
    *n = 0;
    *ngpus = 0;
    struct devs ds = {0};
    struct wp_trace *t = NULL;
    struct wp_err terr = {0};
    int rc = wp_trace_open(&t, path, &terr);
    if (rc == 0) {
        const struct wp_sensors *tab = wp_trace_sensors(t);
        for (size_t i = 0; i < tab->n && rc == 0; i++) {
            const struct wp_sensor *se = &tab->v[i];
            if (strcmp(se->source_kind, "nvml") != 0 || strcmp(se->name, "power") != 0)
                continue;
            struct dev *d = dev_get(&ds, se->device);
            struct wp_series sr = {0};
            if (!d) {
                rc = wp_errf(err, -EINVAL, "%s: more than %d GPUs", path, MAX_DEV);
            } else if ((rc = wp_trace_series(t, se->id, &sr, err)) == 0) {
                d->power = (struct ser){sr.t_us, sr.value, sr.n, sr.n, true};
                d->power_hold_us = se->cadence_us;
                free(sr.damaged);
            }
        }
        wp_trace_free(t);
    } else if (rc == -ENOENT || rc == -EACCES || rc == -EISDIR) {
        *err = terr;
        return rc;
    } else {
        rc = load_csv(path, &ds, err);
    }
    struct wp_series_ref refs[MAX_DEV];
    size_t k = 0;
    int64_t lo = INT64_MIN, hi = INT64_MAX;
    for (size_t i = 0; i < ds.n && rc == 0; i++) {
        const struct ser *s = &ds.d[i].power;
        if (s->n < 2)
            continue;
        refs[k++] = (struct wp_series_ref){s->t, s->v, s->n, ds.d[i].power_hold_us};
        if (s->t[0] > lo)
            lo = s->t[0];
        if (s->t[s->n - 1] < hi)
            hi = s->t[s->n - 1];
    }
    if (rc == 0 && (k == 0 || hi <= lo))
        rc = wp_errf(err, -EINVAL, "%s holds no GPU power series (nvml power) to build a node from",
                     path);
    if (rc == 0 && isfinite(to_s)) {
        int64_t a = lo + (int64_t)(from_s * 1e6), b = lo + (int64_t)(to_s * 1e6);
        if (a >= hi || b <= a)
            rc = wp_errf(err, -EINVAL, "%s covers %.1f s; the window %.1f..%.1f s lies outside it",
                         path, (double)(hi - lo) / 1e6, from_s, to_s);
        lo = a;
        hi = b < hi ? b : hi;
    }
    size_t len = rc == 0 ? wp_grid_len(lo, hi, step_us) : 0;
    double *g = len ? malloc(len * sizeof(double)) : NULL;
    if (rc == 0 && !g)
        rc = wp_errf(err, -ENOMEM, "out of memory");
    if (rc == 0 && wp_sum_grid(refs, k, lo, hi, step_us, g, len) < 0)
        rc = wp_errf(err, -EINVAL, "%s: a power series goes back in time", path);
    if (rc == 0) {
        /* A point some GPU does not cover (a gap in the driver's buffer) is left out rather
         * than read as a dip: the series closes up around it. */
        size_t m = 0;
        for (size_t i = 0; i < len; i++)
            if (isfinite(g[i]))
                g[m++] = g[i] * 1e-3;
        *w = g;
        *n = m;
        *ngpus = (int)k;
        g = NULL;
    }
    free(g);
    devs_free(&ds);
    return rc;
}
