/* The streaming summary against a second, simple implementation kept in this test: the one
 * wattprof had before the summary streamed (each series loaded whole with wp_trace_series,
 * values sorted for peak and p99, intervals sorted for the median, energy.c's whole-array
 * functions for energy, 1 s peak, counter bracket and the summed-GPU peaks). Every per-GPU,
 * total and phase number must be the same double: then text and JSON print the same digits.
 *
 * Traces: every committed test trace (tests/fuzz/corpus/trace/) and traces written here with
 * what makes streaming hard: several chunks per second, phases (nested, open, outside the
 * run), gaps, chunks that overlap in time, a damaged chunk, a run without end_us, a sensor in
 * uW, a GPU with only the 1 s average, a counter that wraps and one that goes backwards. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analysis/energy.h"
#include "analysis/node.h"
#include "analysis/summary.h"
#include "analysis/swings.h"
#include "marks/marks.h"
#include "store/trace.h"
#include "tmpdir.h"

#define MS 1000
#define S  1000000
#define T0 1764340000000000

#define assert_same(what, a, b)                                                                    \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!((isnan(a_) && isnan(b_)) || a_ == b_))                                               \
            fail_msg("%s: %s = %.17g, reference %.17g", what, #a, a_, b_);                         \
    } while (0)

/* ---- the reference ---- */

struct ref_gpu {
    struct wp_series ser; /* mW */
    int64_t cadence_us;
};

static const struct wp_sensor *row_named(const struct wp_sensors *tab, const char *src, int dev,
                                         const char *name, enum wp_quantity q)
{
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (s->scope == WP_SCOPE_GPU && s->device == dev && strcmp(s->source, src) == 0 &&
            strcmp(s->name, name) == 0 && s->quantity == q)
            return s;
    }
    return NULL;
}

/* The energy counter the summary would take: nvml's "energy", another source's first one. */
static const struct wp_sensor *ref_counter(const struct wp_sensors *tab, const char *src, int dev)
{
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (s->scope == WP_SCOPE_GPU && s->device == dev && strcmp(s->source, src) == 0 &&
            s->quantity == WP_Q_ENERGY && s->kind == WP_COUNTER &&
            (strcmp(s->source_kind, "nvml") != 0 || strcmp(s->name, "energy") == 0))
            return s;
    }
    return NULL;
}

/* Checks one trace's summary against the reference. */
static void check_trace(const char *path)
{
    struct wp_err err = {0};
    struct wp_trace *t;
    if (wp_trace_open(&t, path, &err) < 0)
        return; /* a corpus file made to be refused: nothing to compare */
    struct wp_summary s;
    if (wp_summary_compute(t, &s, &err) < 0) {
        wp_trace_free(t);
        return; /* refused (bad metadata): the old code refused the same, test_summary says */
    }
    const struct wp_sensors *tab = wp_trace_sensors(t);
    /* the source a GPU came from: the summary keeps only its index, so find it by uuid/index */
    struct ref_gpu *rg = calloc(s.ngpus + 1, sizeof(*rg));
    assert_non_null(rg);
    struct wp_series_ref *refs = calloc(s.ngpus + 1, sizeof(*refs));
    assert_non_null(refs);
    size_t k = 0;
    int64_t step = 0;
    char what[512];
    for (size_t i = 0; i < s.ngpus; i++) {
        const struct wp_gpu_summary *g = &s.gpus[i];
        snprintf(what, sizeof(what), "%s gpu %d", path, g->index);
        const struct wp_sensor *p = NULL;
        const char *src = NULL;
        for (size_t j = 0; j < tab->n && !p; j++)
            if (tab->v[j].scope == WP_SCOPE_GPU && tab->v[j].device == g->index &&
                (p = row_named(tab, tab->v[j].source, g->index, g->power_sensor, WP_Q_POWER)))
                src = tab->v[j].source;
        if (!src) {
            for (size_t j = 0; j < tab->n && !src; j++)
                if (tab->v[j].scope == WP_SCOPE_GPU && tab->v[j].device == g->index)
                    src = tab->v[j].source;
        }
        if (p) {
            assert_int_equal(wp_trace_series(t, p->id, &rg[i].ser, &err), 0);
            assert_int_equal(wp_series_to_canonical(&rg[i].ser, p, &err), 0);
            const int64_t *tt = rg[i].ser.t_us, *vv = rg[i].ser.value;
            size_t n = rg[i].ser.n;
            rg[i].cadence_us = p->cadence_us;
            if (rg[i].cadence_us <= 0) {
                double med;
                assert_int_equal(wp_median_interval_ms(tt, n, &med), 0);
                rg[i].cadence_us = isnan(med) ? 0 : llround(med * 1000.0);
            }
            int64_t cad = rg[i].cadence_us;
            struct wp_energy e;
            assert_int_equal(wp_energy_window(tt, vv, n, s.start_us, s.end_us, cad, 2 * cad, &e),
                             0);
            assert_same(what, g->covered_s, (double)e.covered_us / 1e6);
            assert_int_equal(g->gaps, e.gaps);
            assert_same(what, g->energy_j, e.covered_us > 0 ? e.energy_mj / 1000.0 : NAN);
            double roll;
            assert_int_equal(wp_rolling_mean_max(tt, vv, n, s.start_us, s.end_us, cad, S, &roll),
                             0);
            assert_same(what, g->peak_1s_w, roll / 1000.0);
            size_t i0 = wp_lower_bound_i64(tt, n, s.start_us),
                   i1 = wp_upper_bound_i64(tt, n, s.end_us);
            size_t m = i1 > i0 ? i1 - i0 : 0;
            assert_int_equal(g->samples, m);
            if (m) {
                int64_t *sorted = malloc(m * sizeof(*sorted));
                assert_non_null(sorted);
                memcpy(sorted, vv + i0, m * sizeof(*sorted));
                wp_sort_i64(sorted, m);
                assert_same(what, g->peak_w, (double)sorted[m - 1] / 1000.0);
                assert_same(what, g->p99_w, wp_percentile_sorted(sorted, m, 99.0) / 1000.0);
                free(sorted);
                double med;
                assert_int_equal(wp_median_interval_ms(tt + i0, m, &med), 0);
                assert_same(what, g->median_interval_ms, med);
            } else {
                assert_true(isnan(g->peak_w) && isnan(g->p99_w));
            }
            if (n && cad > 0) {
                refs[k++] = (struct wp_series_ref){tt, vv, n, cad};
                if (step == 0 || cad < step)
                    step = cad;
            }
        }
        /* the counter, and the trace over its window */
        const struct wp_sensor *c = src ? ref_counter(tab, src, g->index) : NULL;
        double want_c = NAN, want_diff = NAN;
        bool want_fault = false;
        if (c) {
            struct wp_series cs;
            assert_int_equal(wp_trace_series(t, c->id, &cs, &err), 0);
            size_t a, b;
            wp_counter_bracket(cs.t_us, cs.n, s.start_us, s.end_us, 100000, &a, &b);
            if (b > a + 1) {
                int64_t d;
                if (wp_counter_delta(cs.value + a, b - a, c->wrap_at, &d) == 0) {
                    want_c = wp_sensor_value(c, d) / 1000.0;
                    int64_t c0 = cs.t_us[a], c1 = cs.t_us[b - 1];
                    struct wp_energy e;
                    if (rg[i].ser.n && c1 > c0 &&
                        wp_energy_window(rg[i].ser.t_us, rg[i].ser.value, rg[i].ser.n, c0, c1,
                                         rg[i].cadence_us, 2 * rg[i].cadence_us, &e) == 0 &&
                        e.covered_us >= (c1 - c0) * 9 / 10 && want_c > 0)
                        want_diff =
                            (e.energy_mj / 1000.0 * (double)(c1 - c0) / (double)e.covered_us -
                             want_c) /
                            want_c * 100.0;
                } else {
                    want_fault = true;
                }
            }
            wp_series_free(&cs);
        }
        assert_same(what, g->counter_energy_j, want_c);
        assert_same(what, g->counter_diff_pct, want_diff);
        assert_int_equal(g->counter_fault, want_fault);
    }
    snprintf(what, sizeof(what), "%s total", path);
    double peak = NAN;
    if (k > 0 && k == s.ngpus)
        assert_int_equal(wp_sum_peak(refs, k, s.start_us, s.end_us, step, &peak), 0);
    assert_same(what, s.total.peak_w, peak / 1000.0);
    /* swings and spectrum of the summed power: the fold fed piece by piece against the one
     * wp_swings_compute feeds walking the grid */
    struct wp_swings_result sw;
    wp_swings_result_empty(&sw);
    if (k > 0 && k == s.ngpus)
        assert_int_equal(wp_swings_compute(refs, k, s.start_us, s.end_us, step, &sw, &err), 0);
    assert_int_equal(s.swings.step_us, sw.step_us);
    assert_int_equal(s.swings.points, sw.points);
    for (int i = 0; i < WP_SWING_WINDOWS; i++) {
        assert_same(what, s.swings.swings[i].max_rise_w, sw.swings[i].max_rise_w);
        assert_same(what, s.swings.swings[i].max_fall_w, sw.swings[i].max_fall_w);
    }
    assert_int_equal(s.swings.npeaks, sw.npeaks);
    for (size_t i = 0; i < sw.npeaks; i++) {
        assert_same(what, s.swings.peaks[i].hz, sw.peaks[i].hz);
        assert_same(what, s.swings.peaks[i].amplitude_w, sw.peaks[i].amplitude_w);
    }
    /* phases */
    const struct wp_mark *marks;
    size_t nmarks;
    assert_int_equal(wp_trace_marks(t, &marks, &nmarks, &err), 0);
    struct wp_phase *ph = NULL;
    size_t nph = 0;
    if (nmarks)
        assert_true(wp_phases_from_marks(marks, nmarks, s.end_us, &ph, &nph) >= 0);
    assert_int_equal(s.nphases, nph);
    for (size_t i = 0; i < nph; i++) {
        snprintf(what, sizeof(what), "%s phase %zu", path, i);
        double mj = 0, pk = NAN;
        bool ok = k > 0 && ph[i].t1_us > ph[i].t0_us;
        for (size_t g = 0; g < k && ok; g++) {
            struct wp_energy e;
            ok = wp_energy_window(refs[g].t_us, refs[g].value, refs[g].n, ph[i].t0_us, ph[i].t1_us,
                                  refs[g].hold_us, 2 * refs[g].hold_us, &e) == 0 &&
                 e.covered_us > 0;
            mj += e.energy_mj;
        }
        if (ok)
            assert_int_equal(wp_sum_peak(refs, k, ph[i].t0_us, ph[i].t1_us, step, &pk), 0);
        assert_same(what, s.phases[i].energy_j, ok ? mj / 1000.0 : NAN);
        assert_same(what, s.phases[i].peak_w, ok ? pk / 1000.0 : NAN);
    }
    free(ph);
    for (size_t i = 0; i < s.ngpus; i++)
        wp_series_free(&rg[i].ser);
    free(rg);
    free(refs);
    wp_summary_free(&s);
    wp_trace_free(t);
}

/* ---- traces ---- */

static uint64_t rng = 0x2545F4914F6CDD1Du;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int add(struct wp_sensors *tab, int dev, const char *name, enum wp_quantity q,
               enum wp_kind kind, int64_t cadence_us, int64_t wrap_at, double scale)
{
    struct wp_sensor s = {0};
    snprintf(s.source, sizeof(s.source), "nvml");
    snprintf(s.source_kind, sizeof(s.source_kind), "nvml");
    s.device = dev;
    snprintf(s.name, sizeof(s.name), "%s", name);
    s.quantity = q;
    s.kind = kind;
    s.cadence_us = cadence_us;
    s.limit = q == WP_Q_POWER ? 700000 : WP_NO_LIMIT;
    s.default_limit = WP_NO_LIMIT;
    s.wrap_at = wrap_at;
    s.scope = WP_SCOPE_GPU;
    s.contains = wp_scope_default_contains(s.scope);
    s.scale = scale;
    snprintf(s.unit, sizeof(s.unit), "%s", scale == 1.0 ? "" : "uW");
    int id = wp_sensors_add(tab, &s);
    assert_true(id >= 0);
    return id;
}

struct opts {
    bool no_end, overlap, damage, odd_cadence;
    int seconds;
};

static void write_trace(const char *path, const struct opts *o)
{
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    assert_int_equal(wp_trace_create(&w, path, true, &err), 0);
    struct wp_meta meta = {0};
    wp_meta_setf(&meta, "start_us", "%lld", (long long)T0);
    if (!o->no_end)
        wp_meta_setf(&meta, "end_us", "%lld", (long long)(T0 + (int64_t)o->seconds * S));
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);
    struct wp_sensors tab = {0};
    int p[4], e[4];
    p[0] = add(&tab, 0, "power", WP_Q_POWER, WP_GAUGE, 20 * MS, 0, 1.0);
    p[1] = add(&tab, 1, "power", WP_Q_POWER, WP_GAUGE, o->odd_cadence ? 0 : 20 * MS, 0, 0.001);
    p[2] = add(&tab, 2, "power_avg", WP_Q_POWER, WP_GAUGE, 1 * S, 0, 1.0);
    p[3] = add(&tab, 3, "power", WP_Q_POWER, WP_GAUGE, 20 * MS, 0, 1.0);
    e[0] = add(&tab, 0, "energy", WP_Q_ENERGY, WP_COUNTER, 100 * MS, 0, 1.0);
    e[1] = add(&tab, 1, "energy", WP_Q_ENERGY, WP_COUNTER, 100 * MS, 1LL << 32, 1.0);
    e[2] = add(&tab, 2, "energy", WP_Q_ENERGY, WP_COUNTER, 100 * MS, 0, 1.0);
    e[3] = -1;
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    wp_sensors_free(&tab);

    int64_t t[4] = {T0 - 2 * S, T0 - S, T0 - 3 * S, T0 + 7 * MS},
            mw[4] = {90000, 150000, 400000, 80000};
    int64_t cnt[3] = {1000, (1LL << 32) - 5000000, 7777};
    int64_t end = T0 + (int64_t)(o->seconds + 2) * S;
    for (int64_t sec = T0 - 3 * S; sec < end; sec += S) {
        for (int g = 0; g < 4; g++) {
            int64_t cad = g == 2 ? S : 20 * MS;
            while (t[g] < sec + S) {
                uint64_t r = next_rand();
                if (r % 7 == 0)
                    mw[g] = 60000 + (int64_t)(r % 640000);
                else
                    mw[g] += (int64_t)((r >> 20) % 2001) - 1000;
                int64_t v = g == 1 ? mw[g] * 1000 + (int64_t)((r >> 40) % 1000) : mw[g];
                struct wp_sample smp = {p[g], t[g], v};
                assert_int_equal(wp_trace_append(w, &smp, 1, &err), 0);
                t[g] += cad + (g == 2 ? 0 : (int64_t)((r >> 8) % 3001) - 1500);
                if (r % 211 == 0)
                    t[g] += (int64_t)(r % 3) * S; /* a gap */
            }
        }
        for (int g = 0; g < 3; g++)
            for (int64_t q = sec; q < sec + S; q += 100 * MS) {
                cnt[g] += 30000 + (int64_t)(next_rand() % 40000);
                if (g == 1 && cnt[g] >= (1LL << 32))
                    cnt[g] -= 1LL << 32;
                struct wp_sample smp = {e[g], q + 3 * MS, cnt[g]};
                assert_int_equal(wp_trace_append(w, &smp, 1, &err), 0);
            }
        if (o->overlap && sec == T0 + 2 * S) {
            /* a late sample of GPU 0, older than what the last commit held */
            struct wp_sample smp = {p[0], sec - 500 * MS + 1, 123456};
            assert_int_equal(wp_trace_commit(w, &err), 0);
            assert_int_equal(wp_trace_append(w, &smp, 1, &err), 0);
        }
        assert_int_equal(wp_trace_commit(w, &err), 0);
    }
    /* phases: nested, one open at the end, one before the run, one whose grid points fall
     * between the run's (the walk must stop at them too), and point marks */
    const char *names[] = {"epoch", "step", "step", "eval", "warmup", "tail", "odd"};
    int64_t b[] = {T0 + 500 * MS, T0 + 700 * MS,  T0 + 1900 * MS,
                   T0 + 3 * S,    T0 - 2500 * MS, T0 + (int64_t)(o->seconds - 1) * S,
                   T0 + 1234567};
    int64_t en[] = {T0 + 4 * S, T0 + 1300 * MS, T0 + 2600 * MS, T0 + 3 * S + 1, T0 - 1 * S,
                    -1,         T0 + 3456789};
    for (int i = 0; i < 7; i++) {
        struct wp_mark m = {0};
        m.t_us = b[i];
        m.kind = WP_MARK_BEGIN;
        snprintf(m.name, sizeof(m.name), "%s", names[i]);
        assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
        if (en[i] < 0)
            continue;
        m.t_us = en[i];
        m.kind = WP_MARK_END;
        assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
    }
    assert_int_equal(wp_trace_commit(w, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
    if (o->damage) {
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
                                      "UPDATE chunks SET data = zeroblob(length(data)) WHERE "
                                      "rowid IN (SELECT rowid FROM chunks WHERE sensor IN (0, 4) "
                                      "ORDER BY t0_us LIMIT 1 OFFSET 3)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(db);
    }
}

static void test_generated_traces(void **state)
{
    (void)state;
    const struct opts cases[] = {
        {.seconds = 8},
        {.seconds = 8, .no_end = true},
        {.seconds = 6, .overlap = true},
        {.seconds = 6, .damage = true},
        {.seconds = 5, .odd_cadence = true, .no_end = true},
        {.seconds = 40},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/gen-%zu.trace", test_dir, i);
        write_trace(path, &cases[i]);
        check_trace(path);
    }
}

struct hooks {
    size_t samples[8];
    int64_t last_t[8];
    size_t pieces;
    int64_t piece_end;
    double piece_max;
    bool order_ok;
};

static int count_sample(void *ctx, size_t gpu, int64_t t_us, int64_t mw, struct wp_err *err)
{
    (void)mw;
    (void)err;
    struct hooks *h = ctx;
    assert_true(gpu < 8);
    if (h->samples[gpu]++ && t_us < h->last_t[gpu])
        h->order_ok = false;
    h->last_t[gpu] = t_us;
    return 0;
}

static int see_piece(void *ctx, int64_t t0, int64_t t1, double sum_mw, struct wp_err *err)
{
    (void)err;
    struct hooks *h = ctx;
    if (t1 < t0 || (h->pieces && t0 <= h->piece_end))
        h->order_ok = false;
    h->pieces++;
    h->piece_end = t1;
    if (sum_mw > h->piece_max)
        h->piece_max = sum_mw;
    return 0;
}

/* Folds that join the pass (opts.fold, opts.sum_fold) see every sample of every GPU in time
 * order, and the summed series as ordered pieces whose highest is at least the all-GPU peak. */
static void test_folds_join_the_pass(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/hooks.trace", test_dir);
    struct opts o = {.seconds = 6};
    write_trace(path, &o);
    struct wp_err err = {0};
    struct wp_trace *t;
    assert_int_equal(wp_trace_open(&t, path, &err), 0);
    struct hooks h = {.order_ok = true};
    struct wp_summary_opts so = {.rated_w = NAN,
                                 .fold = count_sample,
                                 .fold_ctx = &h,
                                 .sum_fold = see_piece,
                                 .sum_fold_ctx = &h};
    struct wp_summary s;
    assert_int_equal(wp_summary_compute_opts(t, &so, &s, &err), 0);
    assert_true(h.order_ok);
    for (size_t i = 0; i < s.ngpus; i++) {
        const struct wp_sensor *p = row_named(wp_trace_sensors(t), "nvml", s.gpus[i].index,
                                              s.gpus[i].power_sensor, WP_Q_POWER);
        assert_non_null(p);
        struct wp_series ser;
        assert_int_equal(wp_trace_series(t, p->id, &ser, &err), 0);
        assert_int_equal(h.samples[i], ser.n);
        wp_series_free(&ser);
    }
    assert_true(h.pieces > 100);
    assert_true(isfinite(s.total.peak_w) && h.piece_max >= s.total.peak_w * 1000.0);
    wp_summary_free(&s);
    wp_trace_free(t);
}

/* The committed traces; the directory must be there, or this test would check nothing. */
static void test_committed_traces(void **state)
{
    (void)state;
    const char *dir = "tests/fuzz/corpus/trace";
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("%s is missing: run from the repository root (tests/run.sh does)", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        check_trace(path);
        n++;
    }
    closedir(d);
    assert_true(n >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_traces),
        cmocka_unit_test(test_committed_traces),
        cmocka_unit_test(test_folds_join_the_pass),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
