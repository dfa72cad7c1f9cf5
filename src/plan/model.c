/* Fitting, evaluating, storing and using the power model (see model.h). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "plan/model.h"

double wp_model_power_w(const struct wp_model *m, double x)
{
    if (!(x > 0))
        return m->idle_w;
    return m->idle_w + m->span_w * (1 - exp(-x / m->scale_tflops));
}

static bool usable(const struct wp_model_phase *p)
{
    return p->ngpus > 0 && p->duration_s > 0 && isfinite(p->energy_j) &&
           (p->idle || isfinite(p->tflops_per_gpu));
}

static double phase_x(const struct wp_model_phase *p)
{
    return p->idle ? 0.0 : p->tflops_per_gpu;
}

static double phase_w_per_gpu(const struct wp_model_phase *p)
{
    return p->energy_j / p->duration_s / p->ngpus;
}

/* Least squares over phases (skip: index left out, or -1), keeping those whose mask is set. */
static int fit_mask(const struct wp_model_phase *ph, size_t n, const bool *use, struct wp_model *m)
{
    size_t k = 0;
    double xmin = INFINITY, xmax = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (use[i]) {
            k++;
            xmin = fmin(xmin, phase_x(&ph[i]));
            xmax = fmax(xmax, phase_x(&ph[i]));
        }
    if (k < 3 || !(xmax > xmin))
        return -EINVAL;
    double best = INFINITY;
    /* scale_tflops from 1 to 10^4 TFLOP/s on a log grid of 801 points (1.2 % apart). */
    for (int g = 0; g <= 800; g++) {
        double h = pow(10.0, 4.0 * g / 800.0);
        double s1 = 0, su = 0, suu = 0, sy = 0, suy = 0;
        for (size_t i = 0; i < n; i++) {
            if (!use[i])
                continue;
            double x = phase_x(&ph[i]), u = 1 - exp(-x / h), y = phase_w_per_gpu(&ph[i]);
            s1 += 1;
            su += u;
            suu += u * u;
            sy += y;
            suy += u * y;
        }
        double det = s1 * suu - su * su;
        if (!(fabs(det) > 1e-12))
            continue;
        /* Least squares with idle_w, span_w >= 0 (power is never negative and never falls as
         * the load rises; unconstrained, noisy phases gave a falling curve that predicted
         * negative watts at high load): the free solution where it keeps both signs, else
         * the better of the two edges, span 0 (idle the mean) or idle 0 (span through the
         * origin). */
        double b0 = (s1 * suy - su * sy) / det;
        double cand[3][2] = {{(sy - b0 * su) / s1, b0}, {sy / s1, 0}, {0, suu > 0 ? suy / suu : 0}};
        for (int c = cand[0][0] >= 0 && b0 >= 0 ? 0 : 1; c < 3; c++) {
            double a = cand[c][0], b = cand[c][1], sse = 0;
            if (!(a >= 0 && b >= 0))
                continue;
            for (size_t i = 0; i < n; i++) {
                if (!use[i])
                    continue;
                double x = phase_x(&ph[i]);
                double r = a + b * (1 - exp(-x / h)) - phase_w_per_gpu(&ph[i]);
                sse += r * r;
            }
            if (sse < best) {
                best = sse;
                m->idle_w = a;
                m->span_w = b;
                m->scale_tflops = h;
            }
            if (c == 0)
                break; /* the free solution is the best there is for this scale */
        }
    }
    return isfinite(best) ? 0 : -EINVAL;
}

int wp_model_fit(const struct wp_model_phase *ph, size_t n, struct wp_model *out,
                 struct wp_err *err)
{
    bool *use = calloc(n ? n : 1, sizeof(bool));
    if (!use)
        return wp_errf(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        use[i] = usable(&ph[i]);
    int rc = fit_mask(ph, n, use, out);
    free(use);
    if (rc < 0)
        return wp_errf(err, -EINVAL,
                       "too few phases to fit: the model needs three or more phases at two or "
                       "more loads (an idle phase, a training phase with flops= or samples= and "
                       "--flops-per-sample, a burn)");
    out->peak_ratio = NAN;
    out->p99_ratio = NAN;
    for (size_t i = 0; i < n; i++) {
        const struct wp_model_phase *p = &ph[i];
        if (!usable(p) || p->idle || !(p->mean_w > 0))
            continue;
        double r = p->peak_w / p->mean_w;
        if (isfinite(r) && !(r <= out->peak_ratio))
            out->peak_ratio = r;
        r = p->p99_w / p->mean_w;
        if (isfinite(r) && !(r <= out->p99_ratio))
            out->p99_ratio = r;
    }
    return 0;
}

void wp_model_eval_free(struct wp_model_eval *e)
{
    free(e->pred_j);
    free(e->tdp_j);
    free(e->tdp_util_j);
    memset(e, 0, sizeof(*e));
}

int wp_model_evaluate(const struct wp_model_phase *ph, size_t n, double tdp_w, bool by_input,
                      struct wp_model_eval *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t sz = n ? n : 1;
    out->pred_j = malloc(sz * sizeof(double));
    out->tdp_j = malloc(sz * sizeof(double));
    out->tdp_util_j = malloc(sz * sizeof(double));
    bool *use = malloc(sz * sizeof(bool));
    if (!out->pred_j || !out->tdp_j || !out->tdp_util_j || !use) {
        free(use);
        wp_model_eval_free(out);
        return wp_errf(err, -ENOMEM, "out of memory");
    }
    double sm = 0, st = 0, su = 0, smu = 0;
    for (size_t i = 0; i < n; i++) {
        const struct wp_model_phase *p = &ph[i];
        out->pred_j[i] = out->tdp_j[i] = out->tdp_util_j[i] = NAN;
        if (!usable(p) || p->idle)
            continue;
        for (size_t j = 0; j < n; j++) {
            bool same = by_input ? strcmp(ph[j].input, p->input) == 0 : j == i;
            use[j] = usable(&ph[j]) && !same;
        }
        struct wp_model m = {0};
        if (fit_mask(ph, n, use, &m) < 0)
            continue;
        double e = p->energy_j;
        out->pred_j[i] = wp_model_power_w(&m, p->tflops_per_gpu) * p->ngpus * p->duration_s;
        out->tdp_j[i] = tdp_w * p->ngpus * p->duration_s;
        double rel = fabs(out->pred_j[i] - e) / e;
        sm += rel;
        st += fabs(out->tdp_j[i] - e) / e;
        out->scored++;
        if (rel > out->max_abs_rel)
            out->max_abs_rel = rel;
        if (isfinite(p->util_pct)) {
            out->tdp_util_j[i] = tdp_w * p->util_pct / 100.0 * p->ngpus * p->duration_s;
            su += fabs(out->tdp_util_j[i] - e) / e;
            smu += rel;
            out->scored_util++;
        }
    }
    free(use);
    out->mape_model = out->scored ? 100.0 * sm / (double)out->scored : NAN;
    out->mape_tdp = out->scored ? 100.0 * st / (double)out->scored : NAN;
    out->mape_tdp_util = out->scored_util ? 100.0 * su / (double)out->scored_util : NAN;
    out->mape_model_util = out->scored_util ? 100.0 * smu / (double)out->scored_util : NAN;
    if (out->scored == 0) {
        wp_model_eval_free(out);
        return wp_errf(err, -EINVAL,
                       "no phase could be held out and predicted: give phases of more loads "
                       "(each held-out fit needs three others at two loads)");
    }
    return 0;
}

void wp_model_predict(const struct wp_model *m, int gpus, double tflops_per_gpu, double hours,
                      double other_w, struct wp_model_prediction *out)
{
    out->per_gpu_w = wp_model_power_w(m, tflops_per_gpu);
    double gpu_w = out->per_gpu_w * gpus;
    out->mean_w = gpu_w + other_w;
    /* The GPUs of one job move in step, so their summed peak scales with their count; the
     * rest of the node is taken as flat. */
    out->peak_w = isfinite(m->peak_ratio) ? gpu_w * m->peak_ratio + other_w : NAN;
    out->p99_w = isfinite(m->p99_ratio) ? gpu_w * m->p99_ratio + other_w : NAN;
    out->energy_j = out->mean_w * hours * 3600.0;
    out->energy_lo_j = out->energy_j * (1 - m->interval_rel);
    out->energy_hi_j = out->energy_j * (1 + m->interval_rel);
}

void wp_model_free(struct wp_model *m)
{
    free(m->phases);
    memset(m, 0, sizeof(*m));
}

#define MODEL_FORMAT "wattprof-model"

int wp_model_write_json(FILE *f, const struct wp_model *m, const char *const *inputs,
                        size_t ninputs, const struct wp_model_eval *ev)
{
    struct wp_json j;
    wp_json_init(&j, f, 2);
    wp_json_obj_begin(&j);
    wp_json_kstr(&j, "format", MODEL_FORMAT);
    wp_json_kint(&j, "format_version", 1);
    wp_json_kstr(&j, "form",
                 "P_gpu_w = idle_w + span_w * (1 - exp(-x / scale_tflops)), x = "
                 "TFLOP/s per GPU");
    wp_json_kstr(&j, "gpu", m->gpu);
    wp_json_kdouble(&j, "limit_w", m->limit_w);
    wp_json_kstr(&j, "driver", m->driver[0] ? m->driver : NULL);
    wp_json_kdouble(&j, "idle_w", m->idle_w);
    wp_json_kdouble(&j, "span_w", m->span_w);
    wp_json_kdouble(&j, "scale_tflops", m->scale_tflops);
    wp_json_kdouble(&j, "peak_ratio", m->peak_ratio);
    wp_json_kdouble(&j, "p99_ratio", m->p99_ratio);
    wp_json_kdouble(&j, "interval_rel", m->interval_rel);
    wp_json_key(&j, "inputs");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < ninputs; i++)
        wp_json_str(&j, inputs[i]);
    wp_json_arr_end(&j);
    if (ev) {
        wp_json_key(&j, "held_out");
        wp_json_obj_begin(&j);
        wp_json_kdouble(&j, "mape_model_pct", ev->mape_model);
        wp_json_kdouble(&j, "mape_tdp_pct", ev->mape_tdp);
        wp_json_kdouble(&j, "mape_tdp_util_pct", ev->mape_tdp_util);
        wp_json_kdouble(&j, "mape_model_on_util_phases_pct", ev->mape_model_util);
        wp_json_kuint(&j, "phases", ev->scored);
        wp_json_kuint(&j, "phases_with_util", ev->scored_util);
        wp_json_obj_end(&j);
    }
    wp_json_key(&j, "phases");
    wp_json_arr_begin(&j);
    for (size_t i = 0; i < m->nphases; i++) {
        const struct wp_model_phase *p = &m->phases[i];
        wp_json_obj_begin(&j);
        wp_json_kstr(&j, "input", p->input);
        wp_json_kstr(&j, "name", p->name);
        wp_json_kbool(&j, "idle", p->idle);
        wp_json_kint(&j, "gpus", p->ngpus);
        wp_json_kdouble(&j, "duration_s", p->duration_s);
        wp_json_kdouble(&j, "energy_j", p->energy_j);
        wp_json_kdouble(&j, "tflops_per_gpu", p->tflops_per_gpu);
        wp_json_kbool(&j, "tflops_derived", p->tflops_derived);
        wp_json_kdouble(&j, "util_pct", p->util_pct);
        wp_json_kdouble(&j, "clock_mhz", p->clock_mhz);
        wp_json_kdouble(&j, "mean_w", p->mean_w);
        wp_json_kdouble(&j, "peak_w", p->peak_w);
        wp_json_kdouble(&j, "p99_w", p->p99_w);
        if (ev) {
            wp_json_kdouble(&j, "held_out_pred_j", ev->pred_j[i]);
            wp_json_kdouble(&j, "tdp_j", ev->tdp_j[i]);
            wp_json_kdouble(&j, "tdp_util_j", ev->tdp_util_j[i]);
        }
        wp_json_obj_end(&j);
    }
    wp_json_arr_end(&j);
    wp_json_obj_end(&j);
    return wp_json_end(&j);
}

static int get_num(json_t *o, const char *k, double *v, bool required)
{
    json_t *x = json_object_get(o, k);
    if (json_is_number(x)) {
        *v = json_number_value(x);
        return 0;
    }
    *v = NAN;
    return (required || (x && !json_is_null(x))) ? -EINVAL : 0;
}

int wp_model_read_json(const char *path, struct wp_model *m, struct wp_err *err)
{
    memset(m, 0, sizeof(*m));
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        FILE *f = fopen(path, "r");
        if (!f) {
            int e = errno;
            return wp_errf(err, -e, "cannot read model %s: %s", path, strerror(e));
        }
        fclose(f);
        return wp_errf(err, -EINVAL,
                       "%s is not JSON (line %d: %s); make it with wattprof model fit", path,
                       je.line, je.text);
    }
    int rc = 0;
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), MODEL_FORMAT) != 0) {
        rc = wp_errf(err, -EINVAL,
                     "%s is not a wattprof model (no \"format\": \"%s\"); make one "
                     "with wattprof model fit",
                     path, MODEL_FORMAT);
        goto out;
    }
    json_t *ver = json_object_get(root, "format_version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        rc = wp_errf(err, -EINVAL, "%s is a model of another format version; refit it", path);
        goto out;
    }
    if (get_num(root, "idle_w", &m->idle_w, true) < 0 ||
        get_num(root, "span_w", &m->span_w, true) < 0 ||
        get_num(root, "scale_tflops", &m->scale_tflops, true) < 0 ||
        get_num(root, "limit_w", &m->limit_w, false) < 0 ||
        get_num(root, "peak_ratio", &m->peak_ratio, false) < 0 ||
        get_num(root, "p99_ratio", &m->p99_ratio, false) < 0 ||
        get_num(root, "interval_rel", &m->interval_rel, false) < 0 || !(m->scale_tflops > 0)) {
        rc = wp_errf(err, -EINVAL,
                     "%s lacks a number among idle_w, span_w, scale_tflops (> 0), or has a "
                     "non-number in limit_w, peak_ratio, p99_ratio, interval_rel; refit it",
                     path);
        goto out;
    }
    if (!isfinite(m->interval_rel))
        m->interval_rel = 0;
    json_t *g = json_object_get(root, "gpu");
    snprintf(m->gpu, sizeof(m->gpu), "%s", json_is_string(g) ? json_string_value(g) : "");
    json_t *d = json_object_get(root, "driver");
    snprintf(m->driver, sizeof(m->driver), "%s", json_is_string(d) ? json_string_value(d) : "");
out:
    json_decref(root);
    return rc;
}
