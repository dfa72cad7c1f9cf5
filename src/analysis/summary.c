/* The summary: run window from the trace metadata, per-GPU numbers from each GPU's finest
 * power series and its energy counter, the GPUs together, phases and the node.
 *
 * One pass: the counters are read first (their read window is one of the windows the power
 * series are integrated over), then the GPUs' power series are read together, block by
 * block, in time order, and every sample goes into its GPU's folds (stream.h: energy over the
 * run, the counter's window and each phase; the highest 1 s mean; exact p99 and median
 * interval from counts of distinct values) while the sum of all GPUs is walked piece by piece
 * for the all-GPU and per-phase peaks; the highest 1 s mean and the value counts run on a
 * second thread (see "offload" below). Nothing holds a whole series; every number is the
 * same double the whole-array functions of energy.h give (tests/unit/test_summary_ref.c). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/energy.h"
#include "analysis/node.h"
#include "analysis/phases.h"
#include "analysis/summary.h"
#include "core/grow.h"
#include "analysis/stream.h"
#include "analysis/series_stream.h"
#include "analysis/swings.h"

/* Finest first: the 20 ms driver buffer, then the 100 ms instant field, then the 1 s average
 * (which on Hopper lags a load step by about a second and flattens short peaks). */
static const char *const power_pref[] = {"power", "power_instant", "power_avg"};

#define ROLLING_WINDOW_US 1000000

/* How far outside the run window a counter reading may lie and still stand for the run's
 * start or end. The recorder reads the counters just before it stamps start_us (179 us
 * before in a replayed run) and around end_us, and one read costs ~4 ms per GPU on H200
 * (bench/h200/README.md, counter probe), so eight GPUs read in turn straddle the stamp by tens
 * of ms. */
#define COUNTER_SLACK_US 100000

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Strict decimal int64: the whole string, no blanks. */
static int parse_i64(const char *s, int64_t *v)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || end == s || (*s != '-' && (*s < '0' || *s > '9')))
        return -EINVAL;
    *v = x;
    return 0;
}

static int meta_i64(const struct wp_meta *m, const char *key, bool *present, int64_t *v,
                    struct wp_err *err)
{
    const char *s = wp_meta_get(m, key);
    *present = s && *s;
    if (!*present)
        return 0;
    if (parse_i64(s, v))
        return wp_errf(err, -EINVAL,
                       "the trace's run metadata %s is \"%.64s\", not a whole number; the trace is "
                       "damaged or was written by another tool (re-record it, or fix the meta "
                       "table with sqlite3)",
                       key, s);
    return 0;
}

/* A GPU: one device of one source instance whose sensors have the GPU scope. */
struct gpu_id {
    const char *source;
    int device;
};

static int cmp_gpu_id(const void *a, const void *b)
{
    const struct gpu_id *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    return c ? c : (x->device > y->device) - (x->device < y->device);
}

/* Sorted, distinct GPUs (by scope, whatever source reads them). *out is malloc'd (NULL when
 * none). */
static int gpu_ids(const struct wp_sensors *tab, struct gpu_id **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (tab->n == 0)
        return 0;
    struct gpu_id *v = malloc(tab->n * sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < tab->n; i++)
        if (tab->v[i].scope == WP_SCOPE_GPU && tab->v[i].device >= 0)
            v[k++] = (struct gpu_id){tab->v[i].source, tab->v[i].device};
    qsort(v, k, sizeof(*v), cmp_gpu_id);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || cmp_gpu_id(&v[m - 1], &v[i]) != 0)
            v[m++] = v[i];
    if (m == 0) {
        free(v);
        return 0;
    }
    *out = v;
    *n = m;
    return 0;
}

static bool same_gpu(const struct wp_sensor *s, const char *source, int device)
{
    return s->scope == WP_SCOPE_GPU && s->device == device && strcmp(s->source, source) == 0;
}

static const struct wp_sensor *any_sensor(const struct wp_sensors *tab, const char *source,
                                          int device)
{
    for (size_t i = 0; i < tab->n; i++)
        if (same_gpu(&tab->v[i], source, device))
            return &tab->v[i];
    return NULL;
}

/* The GPU's finest power series. NVML's names say which that is (power_pref); for another
 * source the power gauge with the shortest nominal cadence. */
static const struct wp_sensor *gpu_power_sensor(const struct wp_sensors *tab, const char *source,
                                                int device)
{
    const struct wp_sensor *best = NULL;
    int64_t best_rank = INT64_MAX;
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (!same_gpu(s, source, device) || s->quantity != WP_Q_POWER || s->kind != WP_GAUGE)
            continue;
        int64_t rank = INT64_MAX - 1;
        if (strcmp(s->source_kind, "nvml") == 0) {
            rank = -1;
            for (size_t k = 0; k < sizeof(power_pref) / sizeof(power_pref[0]); k++)
                if (strcmp(s->name, power_pref[k]) == 0)
                    rank = (int64_t)k;
            if (rank < 0)
                continue;
        } else if (s->cadence_us > 0) {
            rank = s->cadence_us;
        }
        if (rank < best_rank) {
            best = s;
            best_rank = rank;
        }
    }
    return best;
}

/* The GPU's energy counter: NVML's is "energy"; another source's any energy counter. */
static const struct wp_sensor *gpu_counter_sensor(const struct wp_sensors *tab, const char *source,
                                                  int device)
{
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (same_gpu(s, source, device) && s->quantity == WP_Q_ENERGY && s->kind == WP_COUNTER &&
            (strcmp(s->source_kind, "nvml") != 0 || strcmp(s->name, "energy") == 0))
            return s;
    }
    return NULL;
}

static int nomem(struct wp_err *err)
{
    return wp_errf(err, -ENOMEM,
                   "out of memory while summarising the trace; free memory or "
                   "summarise on a larger machine");
}

/* Per-GPU state of the pass: the stream and every fold its samples go into. */
struct gpu_work {
    const char *source; /* the instance the GPU was found in ("nvml") */
    const struct wp_sensor *power;
    int64_t cadence_us;
    double counter_trace_j; /* trace energy over the counter's read window */
    struct wp_stream st;
    bool in_grid; /* one of the series summed on the common grid (phases, all-GPU peak) */
    /* windows: [0] the run, [1] the counter's read window, then one per phase */
    struct wp_energy_win *win;
    size_t nwin;
    bool counter_window;
    struct wp_energy_fold energy;
    struct wp_rolling_fold roll;
    struct wp_hist values, intervals; /* samples inside the run window */
    size_t samples;
    int64_t max_mw, last_in_t;
    /* damaged chunks of the power series and of the counter, kept for the summary's list */
    struct wp_trace_damage *pdamage, *cdamage;
    size_t npdamage, ncdamage;
};

/* ---- the per-sample statistics on a second thread ----
 * The energy over each window, the highest 1 s mean and the value and interval counts of a GPU
 * depend only on that GPU's own samples in time order, not on the other GPUs', and are about
 * half of the pass's work.
 * The pass hands them each GPU's samples in batches; one worker folds the batches in the order
 * they were handed, so every GPU's folds see its samples in the same order as before and give
 * the same doubles. Without a thread (pthread_create failed) the batches are folded at once. */
#define OFF_BATCH 4096
#define OFF_QUEUE 16

struct off_batch {
    size_t g, n;
    int64_t t[OFF_BATCH], v[OFF_BATCH];
};

struct offload {
    struct gpu_work *w;
    int64_t start_us, end_us;
    struct off_batch *pool, **free, **queue, **cur; /* cur: each GPU's filling batch */
    size_t nfree, qhead, qlen, ngpus;
    pthread_mutex_t mu;
    pthread_cond_t work, freed;
    pthread_t th;
    bool threaded, done, inited;
    int rc;                /* the worker's first error (-ENOMEM) */
    int64_t dt[OFF_BATCH]; /* the worker's: a batch's intervals */
};

static int off_fold(struct offload *o, const struct off_batch *b)
{
    struct gpu_work *w = &o->w[b->g];
    wp_energy_fold_add_n(&w->energy, b->t, b->v, b->n);
    if (wp_rolling_fold_add_n(&w->roll, b->t, b->v, b->n) < 0)
        return -ENOMEM;
    /* sample statistics: the samples stamped inside the closed run window, a stretch of the
     * batch since its times ascend */
    size_t i0 = 0, i1 = b->n;
    while (i0 < i1 && b->t[i0] < o->start_us)
        i0++;
    while (i1 > i0 && b->t[i1 - 1] > o->end_us)
        i1--;
    if (i0 == i1)
        return 0;
    if (wp_hist_add_n(&w->values, b->v + i0, i1 - i0) < 0)
        return -ENOMEM;
    /* the intervals between them, and from the last one before the batch */
    int64_t *dt = o->dt;
    size_t m = 0;
    if (w->samples)
        dt[m++] = b->t[i0] - w->last_in_t;
    for (size_t i = i0 + 1; i < i1; i++)
        dt[m++] = b->t[i] - b->t[i - 1];
    if (wp_hist_add_n(&w->intervals, dt, m) < 0)
        return -ENOMEM;
    int64_t max_mw = w->samples ? w->max_mw : b->v[i0];
    for (size_t i = i0; i < i1; i++)
        max_mw = b->v[i] > max_mw ? b->v[i] : max_mw;
    w->max_mw = max_mw;
    w->last_in_t = b->t[i1 - 1];
    w->samples += i1 - i0;
    return 0;
}

static void *off_main(void *arg)
{
    struct offload *o = arg;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (o->qlen == 0 && !o->done)
            pthread_cond_wait(&o->work, &o->mu);
        if (o->qlen == 0)
            break;
        struct off_batch *b = o->queue[o->qhead];
        o->qhead = (o->qhead + 1) % OFF_QUEUE;
        o->qlen--;
        pthread_mutex_unlock(&o->mu);
        int rc = o->rc ? 0 : off_fold(o, b);
        pthread_mutex_lock(&o->mu);
        if (rc < 0 && o->rc == 0)
            o->rc = rc;
        o->free[o->nfree++] = b;
        pthread_cond_signal(&o->freed);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

static int off_start(struct offload *o, struct gpu_work *w, size_t ngpus, int64_t start_us,
                     int64_t end_us)
{
    memset(o, 0, sizeof(*o));
    o->w = w;
    o->ngpus = ngpus;
    o->start_us = start_us;
    o->end_us = end_us;
    /* every GPU's filling batch, a full queue and one in the worker's hands */
    size_t n = ngpus + OFF_QUEUE + 1;
    o->pool = malloc(n * sizeof(*o->pool));
    o->free = malloc(n * sizeof(*o->free));
    o->queue = malloc(OFF_QUEUE * sizeof(*o->queue));
    o->cur = calloc(ngpus ? ngpus : 1, sizeof(*o->cur));
    if (!o->pool || !o->free || !o->queue || !o->cur) {
        free(o->pool);
        free(o->free);
        free(o->queue);
        free(o->cur);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        o->free[o->nfree++] = &o->pool[i];
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->work, NULL);
    pthread_cond_init(&o->freed, NULL);
    o->inited = true;
    o->threaded = pthread_create(&o->th, NULL, off_main, o) == 0;
    return 0;
}

/* Hands GPU g's filling batch to the worker (or folds it here). */
static int off_submit(struct offload *o, size_t g)
{
    struct off_batch *b = o->cur[g];
    o->cur[g] = NULL;
    if (!b)
        return 0;
    if (!o->threaded) {
        int rc = off_fold(o, b);
        o->free[o->nfree++] = b;
        return rc;
    }
    pthread_mutex_lock(&o->mu);
    while (o->qlen == OFF_QUEUE)
        pthread_cond_wait(&o->freed, &o->mu);
    o->queue[(o->qhead + o->qlen) % OFF_QUEUE] = b;
    o->qlen++;
    pthread_cond_signal(&o->work);
    int rc = o->rc;
    pthread_mutex_unlock(&o->mu);
    return rc;
}

/* n samples of GPU g, in time order, into its batches. */
static int off_add_n(struct offload *o, size_t g, const int64_t *t_us, const int64_t *mw, size_t n)
{
    while (n > 0) {
        struct off_batch *b = o->cur[g];
        if (!b) {
            if (o->threaded) {
                pthread_mutex_lock(&o->mu);
                while (o->nfree == 0)
                    pthread_cond_wait(&o->freed, &o->mu);
            }
            b = o->cur[g] = o->free[--o->nfree];
            if (o->threaded)
                pthread_mutex_unlock(&o->mu);
            b->g = g;
            b->n = 0;
        }
        size_t take = OFF_BATCH - b->n < n ? OFF_BATCH - b->n : n;
        memcpy(b->t + b->n, t_us, take * sizeof(*t_us));
        memcpy(b->v + b->n, mw, take * sizeof(*mw));
        b->n += take;
        t_us += take;
        mw += take;
        n -= take;
        if (b->n == OFF_BATCH) {
            int rc = off_submit(o, g);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* Folds what is left and stops the worker; the folds are then the pass's again. Safe to call
 * twice. flush: fold the filling batches (false on the way out after an error). */
static int off_finish(struct offload *o, bool flush)
{
    if (!o->inited)
        return 0;
    int rc = 0;
    for (size_t g = 0; g < o->ngpus; g++) {
        if (!flush && o->cur[g]) {
            o->free[o->nfree++] = o->cur[g];
            o->cur[g] = NULL;
        }
        int r = off_submit(o, g);
        if (r < 0 && rc == 0)
            rc = r;
    }
    if (o->threaded) {
        pthread_mutex_lock(&o->mu);
        o->done = true;
        pthread_cond_signal(&o->work);
        pthread_mutex_unlock(&o->mu);
        pthread_join(o->th, NULL);
    }
    if (rc == 0)
        rc = o->rc;
    pthread_cond_destroy(&o->work);
    pthread_cond_destroy(&o->freed);
    pthread_mutex_destroy(&o->mu);
    free(o->pool);
    free(o->free);
    free(o->queue);
    free(o->cur);
    o->inited = false;
    return rc;
}

/* What the pass needs from the summary. */
struct pass {
    struct offload *off;
    const struct wp_trace *t;
    struct wp_summary *s;
    struct gpu_work *w;
    const struct wp_summary_opts *opts;
    struct wp_err *err;
    uint64_t fed;  /* samples fed, for progress */
    bool all_gpus; /* every GPU is in the grid walk (for opts->sum_fold) */
    int64_t step_us;
    int64_t walked_to; /* the first time the grid walk did not reach */
    /* the swings and spectrum of the summed power on the run's grid (swings.h), fed the
     * grid points piece by piece; NULL unless every GPU is in the walk */
    struct wp_swings *swings;
    unsigned __int128 sw_next_off; /* the run grid's next point for swings_piece (grid's) */
};

static int copy_damage(struct wp_trace_damage **dst, size_t *n, const struct wp_trace_cursor *c)
{
    const struct wp_trace_damage *d;
    size_t nd;
    wp_trace_cursor_damage(c, &d, &nd);
    if (nd == 0)
        return 0;
    if (!(*dst = malloc(nd * sizeof(**dst))))
        return -ENOMEM;
    memcpy(*dst, d, nd * sizeof(**dst));
    *n = nd;
    return 0;
}

/* Keeps damaged spans, with their description, in the summary's list. */
static int keep_damage(const struct wp_trace *t, struct wp_summary *s,
                       const struct wp_trace_damage *v, size_t n, struct wp_err *err)
{
    if (n == 0)
        return 0;
    size_t cap = s->ndamaged;
    if (WP_GROW(&s->damaged, &cap, s->ndamaged + n) < 0)
        return nomem(err);
    const struct wp_sensors *tab = wp_trace_sensors(t);
    for (size_t i = 0; i < n; i++) {
        struct wp_damage_summary *d = &s->damaged[s->ndamaged++];
        memset(d, 0, sizeof(*d));
        d->span = v[i];
        d->device = -1;
        for (size_t k = 0; k < tab->n; k++) {
            if (tab->v[k].id != d->span.sensor)
                continue;
            copy_str(d->source, sizeof(d->source), tab->v[k].source);
            d->device = tab->v[k].device;
            copy_str(d->sensor_name, sizeof(d->sensor_name), tab->v[k].name);
        }
        wp_trace_damage_describe(t, &d->span, d->text, sizeof(d->text));
    }
    return 0;
}

/* GPU g's current block of samples, all of it, into every fold. The folds see each GPU's
 * samples in time order, which is all they need; the grid walk then only steps through them. */
static int feed_block(struct pass *ps, size_t g)
{
    const struct wp_stream *st = &ps->w[g].st;
    if (off_add_n(ps->off, g, st->t, st->v, st->n) < 0)
        return nomem(ps->err);
    if (ps->opts && ps->opts->fold)
        for (size_t i = 0; i < st->n; i++) {
            int rc = ps->opts->fold(ps->opts->fold_ctx, g, st->t[i], st->v[i], ps->err);
            if (rc < 0)
                return rc;
        }
    uint64_t before = ps->fed;
    ps->fed += st->n;
    if ((before >> 20) != (ps->fed >> 20) && ps->opts && ps->opts->progress &&
        ps->s->end_us > ps->s->start_us) {
        double done = (double)(st->t[st->n - 1] - ps->s->start_us) /
                      (double)(ps->s->end_us - ps->s->start_us);
        ps->opts->progress(ps->opts->progress_ctx, done < 0 ? 0 : done > 1 ? 1 : done);
    }
    return 0;
}

/* Moves GPU g's stream to its next sample (its folds have it: feed_block). */
static int stream_advance(struct pass *ps, size_t g)
{
    struct wp_stream *st = &ps->w[g].st;
    if (st->i + 1 < st->n) { /* wp_stream_step within the block */
        st->i++;
        st->pos++;
        return 0;
    }
    int rc = wp_stream_step(st, ps->err);
    if (rc == 0 && !st->end)
        rc = feed_block(ps, g);
    return rc;
}

/* ---- the GPUs summed on a common grid ----
 * The sum of the GPUs' power at a time x takes from each series the sample whose interval
 * holds x (wp_sum_grid). It only changes where some series moves to its next sample, so the
 * pass walks it piece by piece: [x, until] with one sum. A grid (the run's, or a phase's:
 * from, from + step, ... <= to) peaks at the highest sum of a piece that holds one of its
 * points; that is what wp_sum_peak finds walking the grid itself. */

struct grid {
    int64_t from_us, to_us;
    double peak_mw;
    /* offset from from_us of the first grid point no piece has reached yet: pieces come in
     * order, so most are settled by a comparison */
    unsigned __int128 next_off;
};

static int cmp_grid_from(const void *a, const void *b)
{
    int64_t x = (*(struct grid *const *)a)->from_us, y = (*(struct grid *const *)b)->from_us;
    return (x > y) - (x < y);
}

/* t0 - hold, or INT64_MIN where that would overflow: when a series starts covering. */
static int64_t cover_start(int64_t t0, int64_t hold)
{
    int64_t d;
    return __builtin_sub_overflow(t0, hold, &d) ? INT64_MIN : d;
}

static void grid_piece(struct grid *g, int64_t step, int64_t lo, int64_t hi, double sum)
{
    if (lo < g->from_us)
        lo = g->from_us;
    if (hi > g->to_us)
        hi = g->to_us;
    if (lo > hi)
        return;
    /* the first grid point at or after lo, compared without overflow */
    uint64_t off = (uint64_t)lo - (uint64_t)g->from_us, us = (uint64_t)step,
             end = (uint64_t)hi - (uint64_t)g->from_us;
    if (g->next_off < off) /* an uncovered stretch went by */
        g->next_off = (unsigned __int128)(off / us + (off % us != 0)) * us;
    if (g->next_off > end)
        return;
    if (isnan(g->peak_mw) || sum > g->peak_mw)
        g->peak_mw = sum;
    g->next_off =
        end - g->next_off < us ? g->next_off + us : (unsigned __int128)(end / us + 1) * us;
}

/* The run grid's points in [lo, hi] (start_us, start_us + step, ... <= end_us) go to the
 * swings fold as one run of value mw: what wp_swings_compute pushes, walking the grid. */
static void swings_piece(struct pass *ps, int64_t lo, int64_t hi, double mw)
{
    int64_t from = ps->s->start_us, to = ps->s->end_us;
    if (lo < from)
        lo = from;
    if (hi > to)
        hi = to;
    if (lo > hi)
        return;
    uint64_t us = (uint64_t)ps->step_us, a = (uint64_t)lo - (uint64_t)from,
             b = (uint64_t)hi - (uint64_t)from;
    /* as grid_piece: the next point is kept, so a piece without one costs a comparison */
    if (ps->sw_next_off < a)
        ps->sw_next_off = (unsigned __int128)(a / us + (a % us != 0)) * us;
    if (ps->sw_next_off > b)
        return;
    uint64_t count =
        b - (uint64_t)ps->sw_next_off < us ? 1 : (b - (uint64_t)ps->sw_next_off) / us + 1;
    wp_swings_push_run(ps->swings, mw, (size_t)count);
    ps->sw_next_off += (unsigned __int128)count * us;
}

/* The first point at or after the pieces walked so far of the run grid (for the swings) and of
 * the grids open or next to open, capped at x_end. */
static int64_t next_point(const struct pass *ps, struct grid *const *active, size_t nactive,
                          const struct grid *pending, int64_t x_end)
{
    __int128 g = x_end;
    if (ps->swings) {
        __int128 p = (__int128)ps->s->start_us + (__int128)ps->sw_next_off;
        g = p < g ? p : g;
    }
    for (size_t i = 0; i < nactive; i++) {
        __int128 p = (__int128)active[i]->from_us + (__int128)active[i]->next_off;
        g = p < g ? p : g;
    }
    if (pending && pending->from_us < g)
        g = pending->from_us;
    return (int64_t)g;
}

/* The integer sum of up to 2^8 values of at most 2^44 in magnitude stays below 2^53. */
#define FAST_MW         ((int64_t)1 << 44)
#define FAST_MAX_SERIES 256

/* Walks the summed series of the in-grid GPUs (ids[0..k)) over the grids, feeding every sample
 * it passes to its GPU's folds. */
static int grid_pass(struct pass *ps, const size_t *ids, size_t k, struct grid **grids,
                     size_t ngrids, int64_t step)
{
    if (k == 0 || ngrids == 0)
        return 0;
    qsort(grids, ngrids, sizeof(*grids), cmp_grid_from);
    int64_t x = grids[0]->from_us, x_end = INT64_MIN;
    for (size_t i = 0; i < ngrids; i++)
        if (grids[i]->to_us > x_end)
            x_end = grids[i]->to_us;
    struct grid **active = malloc(ngrids * sizeof(*active));
    /* the steady state, every series inside its data: each one's current time and value, and
     * their sum as an integer (exact, hence the very double the loop below adds up, while every
     * partial sum stays below 2^53) */
    int64_t *ct = malloc(k * sizeof(*ct)), *cv = malloc(k * sizeof(*cv)), isum = 0;
    bool fast = false;
    if (!active || !ct || !cv) {
        free(active);
        free(ct);
        free(cv);
        return nomem(ps->err);
    }
    size_t nactive = 0, next = 0;
    int rc = 0;
    for (;;) {
        double sum = 0;
        bool covered = true;
        int64_t until = INT64_MAX;
        /* In the steady state, pieces that hold no point of any grid change nothing: the walk
         * goes straight to the next point (the samples are folded already; sum_fold is told of
         * pieces that hold a point of the run's grid, which is one of the grids). */
        if (fast) {
            int64_t g = next_point(ps, active, nactive, next < ngrids ? grids[next] : NULL, x_end);
            x = g > x ? g : x;
        }
        /* the series that moved on at the last piece's end take their next samples */
        for (size_t j = 0; j < k && fast; j++) {
            struct wp_stream *st = &ps->w[ids[j]].st;
            while (ct[j] < x) {
                if ((rc = stream_advance(ps, ids[j])) < 0)
                    goto out;
                if (st->end || st->v[st->i] > FAST_MW || st->v[st->i] < -FAST_MW) {
                    fast = false; /* the loop below takes it from here */
                    break;
                }
                isum += st->v[st->i] - cv[j];
                cv[j] = st->v[st->i];
                ct[j] = st->t[st->i];
            }
        }
        if (fast) {
            for (size_t j = 0; j < k; j++)
                until = ct[j] < until ? ct[j] : until;
            sum = (double)isum;
        } else {
            for (size_t j = 0; j < k; j++) {
                struct gpu_work *w = &ps->w[ids[j]];
                struct wp_stream *st = &w->st;
                while (!st->end && st->t[st->i] < x)
                    if ((rc = stream_advance(ps, ids[j])) < 0)
                        goto out;
                if (st->end) {
                    covered = false;
                    continue;
                }
                if (st->pos == 0) {
                    int64_t hold = w->cadence_us > 0 ? w->cadence_us : 0;
                    if (!(x == st->t0 || x > cover_start(st->t0, hold))) {
                        covered = false;
                        continue;
                    }
                }
                sum += (double)st->v[st->i];
            }
            /* the last time the sum stays as it is at x (energy.c, grid_same_until) */
            bool steady = covered && k <= FAST_MAX_SERIES;
            for (size_t j = 0; j < k; j++) {
                struct gpu_work *w = &ps->w[ids[j]];
                struct wp_stream *st = &w->st;
                if (st->end) {
                    until = INT64_MAX; /* past this series' end: nothing later is covered */
                    break;
                }
                int64_t t = st->t[st->i];
                if (st->pos == 0) {
                    steady = false;
                    int64_t hold = w->cadence_us > 0 ? w->cadence_us : 0;
                    if (!(x == t || x > cover_start(t, hold)))
                        t = hold > 0 ? cover_start(t, hold) : t - 1;
                }
                if (t < until)
                    until = t;
                if (st->v[st->i] > FAST_MW || st->v[st->i] < -FAST_MW)
                    steady = false;
            }
            if (steady) {
                isum = 0;
                for (size_t j = 0; j < k; j++) {
                    const struct wp_stream *st = &ps->w[ids[j]].st;
                    ct[j] = st->t[st->i];
                    cv[j] = st->v[st->i];
                    isum += cv[j];
                }
                fast = true;
            }
        }
        if (ps->swings)
            swings_piece(ps, x, until, covered ? sum : NAN);
        if (covered && ps->opts && ps->opts->sum_fold && ps->all_gpus &&
            (rc = ps->opts->sum_fold(ps->opts->sum_fold_ctx, x, until, sum, ps->err)) < 0)
            goto out;
        while (next < ngrids && grids[next]->from_us <= until)
            active[nactive++] = grids[next++];
        for (size_t i = 0; i < nactive;) {
            if (active[i]->to_us < x) {
                active[i] = active[--nactive];
                continue;
            }
            if (covered)
                grid_piece(active[i], step, x, until, sum);
            i++;
        }
        if (until == INT64_MAX || until >= x_end) {
            ps->walked_to = until == INT64_MAX ? INT64_MAX : until + 1;
            break;
        }
        x = until + 1;
    }
out:
    free(active);
    free(ct);
    free(cv);
    return rc;
}

/* The GPU's counter over the run: the delta between the readings that bracket it, and the
 * window of those readings (for the trace's energy over the same window). */
static int gpu_counter(const struct wp_trace *t, struct gpu_work *w, struct wp_gpu_summary *g,
                       int64_t from_us, int64_t to_us, int64_t *c0, int64_t *c1, struct wp_err *err)
{
    const struct wp_sensor *c = gpu_counter_sensor(wp_trace_sensors(t), w->source, g->index);
    if (!c)
        return 0;
    struct wp_trace_cursor *cur;
    int rc = wp_trace_cursor_open(t, c->id, &cur, err);
    if (rc < 0)
        return rc;
    struct wp_counter_fold f;
    wp_counter_fold_init(&f, from_us, to_us, COUNTER_SLACK_US, c->wrap_at);
    const int64_t *ct, *cv;
    size_t n;
    while ((rc = wp_trace_cursor_next(cur, &ct, &cv, &n, err)) == 0 && n > 0)
        for (size_t i = 0; i < n; i++)
            wp_counter_fold_add(&f, ct[i], cv[i]);
    if (rc == 0 && copy_damage(&w->cdamage, &w->ncdamage, cur) < 0)
        rc = nomem(err);
    wp_trace_cursor_close(cur);
    if (rc < 0)
        return rc;
    int64_t delta_raw;
    int drc;
    if (wp_counter_fold_end(&f, &drc, &delta_raw, c0, c1) < 2)
        return 0;
    if (drc == 0) {
        g->counter_energy_j = wp_sensor_value(c, delta_raw) / 1000.0;
        w->counter_window = true;
    } else {
        /* went backwards, or a reading outside the counter's range: either way the delta
         * would be garbage */
        g->counter_fault = true;
    }
    return 0;
}

/* Counter against trace, once the pass has the energy over the counter's window. */
static void gpu_counter_diff(struct gpu_work *w, struct wp_gpu_summary *g)
{
    if (!w->counter_window || w->nwin < 2)
        return;
    const struct wp_energy_win *cw = &w->win[1];
    int64_t span = cw->to_us - cw->from_us;
    /* The trace side is its mean power over the covered part of the counter's window times
     * the window: the last buffer sample usually precedes the final counter read by up to a
     * cadence (15 ms in a replayed 3 s run, which alone read as -0.5 %). Below 90 % coverage
     * the comparison says more about the hole than the sensor. */
    if (w->st.pos && span > 0 && cw->e.covered_us >= span * 9 / 10) {
        w->counter_trace_j = cw->e.energy_mj / 1000.0 * (double)span / (double)cw->e.covered_us;
        if (g->counter_energy_j > 0)
            g->counter_diff_pct =
                (w->counter_trace_j - g->counter_energy_j) / g->counter_energy_j * 100.0;
    }
}

/* The per-GPU numbers from the folds. */
static int gpu_results(struct gpu_work *w, struct wp_gpu_summary *g, double duration_s)
{
    const struct wp_energy *e = &w->win[0].e;
    g->covered_s = (double)e->covered_us / 1e6;
    g->gaps = e->gaps;
    if (e->covered_us > 0) {
        g->energy_j = e->energy_mj / 1000.0;
        if (duration_s > 0)
            g->mean_w = g->energy_j / duration_s;
    }
    g->peak_1s_w = wp_rolling_fold_end(&w->roll) / 1000.0;
    g->samples = w->samples;
    if (g->samples == 0)
        return 0;
    int rc1, rc2;
    g->peak_w = (double)w->max_mw / 1000.0;
    g->p99_w = wp_hist_percentile(&w->values, 99.0, &rc1) / 1000.0;
    g->median_interval_ms = wp_hist_percentile(&w->intervals, 50.0, &rc2) / 1000.0;
    if (rc1 < 0 || rc2 < 0)
        return -ENOMEM;
    if (isfinite(g->limit_w) && g->limit_w > 0)
        g->peak_pct_limit = g->peak_w / g->limit_w * 100.0;
    return 0;
}

static void gpu_init(struct wp_gpu_summary *g, int index)
{
    memset(g, 0, sizeof(*g));
    g->index = index;
    g->limit_w = g->energy_j = g->counter_energy_j = g->counter_diff_pct = NAN;
    g->mean_w = g->peak_w = g->peak_1s_w = g->p99_w = g->peak_pct_limit = NAN;
    g->median_interval_ms = g->covered_s = NAN;
}

static void totals(struct wp_summary *s, struct gpu_work *w)
{
    struct wp_total_summary *tot = &s->total;
    tot->energy_j = tot->counter_energy_j = tot->mean_w = tot->peak_w = NAN;
    tot->counter_diff_pct = NAN;
    if (s->ngpus == 0)
        return;
    double e = 0, c = 0, ct = 0;
    for (size_t i = 0; i < s->ngpus; i++) {
        e += s->gpus[i].energy_j; /* NAN in any GPU makes the total NAN: no partial sums */
        c += s->gpus[i].counter_energy_j;
        ct += w[i].counter_trace_j;
    }
    tot->energy_j = e;
    tot->counter_energy_j = c;
    if (s->duration_s > 0)
        tot->mean_w = e / s->duration_s;
    if (c > 0 && isfinite(ct))
        tot->counter_diff_pct = (ct - c) / c * 100.0;
}

const struct wp_per_unit wp_per_units[WP_NPER_UNITS] = {
    {"samples", "j_per_sample", "J/sample", 1},
    {"tokens", "j_per_token", "J/token", 1},
    {"flops", "j_per_tflop", "J/TFLOP", 1e12},
};

/* Energy per unit of a count the job sent (samples, tokens, flops), NAN without it. */
static void phase_per_units(struct wp_phase_summary *p)
{
    for (size_t u = 0; u < WP_NPER_UNITS; u++) {
        p->per_unit_j[u] = NAN;
        for (int k = 0; k < p->ncounts; k++)
            if (strcmp(p->counts[k].key, wp_per_units[u].key) == 0 && p->counts[k].value > 0) {
                p->per_unit_j[u] = p->energy_j / (p->counts[k].value / wp_per_units[u].unit);
                break;
            }
    }
}

static void gpu_work_free(struct gpu_work *w)
{
    wp_stream_close(&w->st);
    wp_energy_fold_free(&w->energy);
    wp_rolling_fold_free(&w->roll);
    wp_hist_free(&w->values);
    wp_hist_free(&w->intervals);
    free(w->win);
    free(w->pdamage);
    free(w->cdamage);
}
/* The GPUs' instance names, comma-separated ("nvml"). */
static void gpu_sources(const struct gpu_work *w, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++)
        if (i == 0 || strcmp(w[i].source, w[i - 1].source) != 0) /* sorted by source */
            off += (size_t)snprintf(buf + off, cap - off, "%s%s", off ? "," : "", w[i].source);
}

static int point_marks(const struct wp_trace *t, struct wp_summary *s, struct wp_err *err)
{
    const struct wp_mark *m;
    size_t n = 0;
    int rc = wp_trace_marks(t, &m, &n, err);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].kind != WP_MARK_POINT)
            continue;
        if (WP_GROW(&s->points, &cap, s->npoints + 1) < 0)
            return nomem(err);
        struct wp_point_summary *p = &s->points[s->npoints++];
        memset(p, 0, sizeof(*p));
        copy_str(p->name, sizeof(p->name), m[i].name);
        p->t_us = m[i].t_us;
        p->t_s = (double)(m[i].t_us - s->start_us) / 1e6;
        p->ncounts = m[i].ncounts < 0                    ? 0
                     : m[i].ncounts > WP_MARK_MAX_COUNTS ? WP_MARK_MAX_COUNTS
                                                         : m[i].ncounts;
        memcpy(p->counts, m[i].counts, (size_t)p->ncounts * sizeof(p->counts[0]));
    }
    return 0;
}

/* Devices listed as "missing.<source>.<device>.device" in the metadata: found by the
 * recorder, never measured. */
static int find_unmeasured(const struct wp_meta *meta, struct wp_summary *out)
{
    for (size_t i = 0; i < meta->n; i++) {
        const char *k = meta->v[i].key;
        if (strncmp(k, "missing.", 8) != 0)
            continue;
        const char *src = k + 8, *dot = strchr(src, '.');
        if (!dot || dot == src || (size_t)(dot - src) >= sizeof(out->unmeasured[0].source))
            continue;
        char *end;
        errno = 0;
        long dev = strtol(dot + 1, &end, 10);
        if (end == dot + 1 || errno || dev < 0 || dev > INT_MAX || strcmp(end, ".device") != 0)
            continue;
        size_t cap = out->nunmeasured;
        if (WP_GROW(&out->unmeasured, &cap, out->nunmeasured + 1) < 0)
            return -ENOMEM;
        struct wp_unmeasured *u = &out->unmeasured[out->nunmeasured++];
        snprintf(u->source, sizeof(u->source), "%.*s", (int)(dot - src), src);
        u->device = (int)dev;
        copy_str(u->reason, sizeof(u->reason), meta->v[i].value);
    }
    return 0;
}

int wp_summary_compute(const struct wp_trace *t, struct wp_summary *out, struct wp_err *err)
{
    return wp_summary_compute_opts(t, NULL, out, err);
}

/* Opens each GPU's power series and settles what the pass needs before it starts: the
 * cadence (from the series when the sensor row has none) and the span of the data. */
static int gpus_open(const struct wp_trace *t, struct wp_summary *out, struct gpu_work *w,
                     const struct gpu_id *idx, bool need_span, int64_t *lo, int64_t *hi,
                     struct wp_err *err)
{
    const struct wp_sensors *tab = wp_trace_sensors(t);
    for (size_t i = 0; i < out->ngpus; i++) {
        struct wp_gpu_summary *g = &out->gpus[i];
        gpu_init(g, idx[i].device);
        w[i].source = idx[i].source;
        w[i].counter_trace_j = NAN;
        w[i].power = gpu_power_sensor(tab, idx[i].source, idx[i].device);
        const struct wp_sensor *row =
            w[i].power ? w[i].power : any_sensor(tab, idx[i].source, idx[i].device);
        copy_str(g->uuid, sizeof(g->uuid), row->uuid);
        copy_str(g->name, sizeof(g->name), row->device_name);
        if (!w[i].power)
            continue;
        copy_str(g->power_sensor, sizeof(g->power_sensor), w[i].power->name);
        if (w[i].power->limit != WP_NO_LIMIT)
            g->limit_w = wp_sensor_value(w[i].power, w[i].power->limit) / 1000.0;
        int rc = wp_stream_open(t, w[i].power, true, &w[i].st, err);
        if (rc < 0)
            return rc;
        w[i].cadence_us = w[i].power->cadence_us;
        bool no_cadence = w[i].cadence_us <= 0;
        if (!w[i].st.end && (no_cadence || need_span)) {
            double med_ms = NAN;
            if ((rc = wp_series_scan(t, w[i].power->id, no_cadence ? &med_ms : NULL, lo, hi, err)) <
                0)
                return rc;
            /* No nominal cadence in the row: the typical spacing is the best stand-in. */
            if (no_cadence)
                w[i].cadence_us = isnan(med_ms) ? 0 : llround(med_ms * 1000.0);
        } else if (!w[i].st.end && w[i].st.t0 < *lo) {
            *lo = w[i].st.t0;
        }
    }
    return 0;
}

/* The windows each GPU's energy is wanted over (run, counter, phases) and its folds. */
static int gpus_fold_init(struct wp_summary *out, struct gpu_work *w, const int64_t *c0,
                          const int64_t *c1)
{
    for (size_t i = 0; i < out->ngpus; i++) {
        if (!w[i].power)
            continue;
        w[i].nwin = 2 + (w[i].in_grid ? out->nphases : 0);
        if (!(w[i].win = calloc(w[i].nwin, sizeof(*w[i].win))))
            return -ENOMEM;
        w[i].win[0].from_us = out->start_us;
        w[i].win[0].to_us = out->end_us;
        /* no counter window: an empty one that closes at once */
        w[i].win[1].from_us = w[i].counter_window ? c0[i] : INT64_MIN;
        w[i].win[1].to_us = w[i].counter_window ? c1[i] : INT64_MIN;
        for (size_t p = 0; p + 2 < w[i].nwin; p++) {
            w[i].win[2 + p].from_us = out->phases[p].t0_us;
            w[i].win[2 + p].to_us = out->phases[p].t1_us;
        }
        int64_t cad = w[i].cadence_us;
        if (wp_energy_fold_init(&w[i].energy, w[i].win, w[i].nwin, cad, 2 * cad) < 0)
            return -ENOMEM;
        wp_rolling_fold_init(&w[i].roll, out->start_us, out->end_us, cad, ROLLING_WINDOW_US);
    }
    return 0;
}

/* Phase energy over the in-grid GPUs (every one must cover part of the phase) and the peak of
 * their sum inside it. */
static void phase_results(struct wp_summary *out, struct gpu_work *w, const size_t *ids, size_t k,
                          const struct grid *pgrid)
{
    for (size_t p = 0; p < out->nphases; p++) {
        struct wp_phase_summary *o = &out->phases[p];
        o->energy_j = o->mean_w = o->peak_w = NAN;
        if (k > 0 && o->t1_us > o->t0_us) {
            double mj = 0;
            bool ok = true;
            for (size_t j = 0; j < k && ok; j++) {
                const struct wp_energy *e = &w[ids[j]].win[2 + p].e;
                ok = e->covered_us > 0;
                if (ok)
                    mj += e->energy_mj;
            }
            if (ok) {
                o->energy_j = mj / 1000.0;
                o->mean_w = o->duration_s > 0 ? o->energy_j / o->duration_s : NAN;
                o->peak_w = pgrid[p].peak_mw / 1000.0;
            }
        }
        phase_per_units(o);
    }
}

int wp_summary_compute_opts(const struct wp_trace *t, const struct wp_summary_opts *opts,
                            struct wp_summary *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    wp_swings_result_empty(&out->swings);
    const struct wp_meta *meta = wp_trace_meta(t);
    const struct wp_sensors *tab = wp_trace_sensors(t);
    int rc;
    copy_str(out->command, sizeof(out->command), wp_meta_get(meta, "command"));
    copy_str(out->replay, sizeof(out->replay), wp_meta_get(meta, "replay"));
    copy_str(out->host, sizeof(out->host), wp_meta_get(meta, "host"));
    int64_t v;
    bool has_start, has_end, has_exit;
    int64_t start_us = 0, end_us = 0;
    if ((rc = meta_i64(meta, "start_us", &has_start, &start_us, err)) ||
        (rc = meta_i64(meta, "end_us", &has_end, &end_us, err)) ||
        (rc = meta_i64(meta, "exit_code", &has_exit, &v, err)))
        return rc;
    if (has_exit) {
        if (v < INT32_MIN || v > INT32_MAX)
            return wp_errf(err, -EINVAL,
                           "the trace's exit_code %" PRId64 " is out of range; the trace is "
                           "damaged (re-record it)",
                           v);
        out->has_exit_code = true;
        out->exit_code = (int)v;
    }

    if (find_unmeasured(meta, out) < 0) {
        wp_summary_free(out);
        return nomem(err);
    }
    struct gpu_id *idx = NULL;
    size_t ngpus = 0;
    if (gpu_ids(tab, &idx, &ngpus) < 0) {
        wp_summary_free(out);
        return nomem(err);
    }
    struct gpu_work *w = ngpus ? calloc(ngpus, sizeof(*w)) : NULL;
    out->gpus = ngpus ? calloc(ngpus, sizeof(*out->gpus)) : NULL;
    int64_t *c0 = ngpus ? calloc(ngpus, sizeof(*c0)) : NULL;
    int64_t *c1 = ngpus ? calloc(ngpus, sizeof(*c1)) : NULL;
    size_t *ids = ngpus ? calloc(ngpus, sizeof(*ids)) : NULL;
    struct grid *pgrid = NULL, **grids = NULL;
    struct wp_node_work *nw = NULL;
    struct offload off = {0};
    out->ngpus = ngpus;
    if (ngpus && (!w || !out->gpus || !c0 || !c1 || !ids)) {
        rc = nomem(err);
        goto fail;
    }

    /* Without start_us/end_us the run window is the span of the data. */
    int64_t data_lo = INT64_MAX, data_hi = INT64_MIN;
    if ((rc = gpus_open(t, out, w, idx, !has_end, &data_lo, &data_hi, err)) < 0)
        goto fail;
    /* The node's own meters (a trace may have nothing else). */
    if ((rc = wp_node_load(t, &nw, !has_start || !has_end, &data_lo, &data_hi, err)) < 0)
        goto fail;
    bool have_data = data_lo <= data_hi;
    out->start_us = has_start ? start_us : have_data ? data_lo : 0;
    out->end_us = has_end ? end_us : have_data ? data_hi : out->start_us;
    if (!has_end && out->end_us < out->start_us)
        out->end_us = out->start_us; /* killed before any sample after start */
    if (out->end_us < out->start_us) {
        rc = wp_errf(err, -EINVAL,
                     "the trace's end_us (%" PRId64 ") is before its start_us (%" PRId64
                     "); the trace is damaged (re-record it)",
                     out->end_us, out->start_us);
        goto fail;
    }
    out->duration_s = (double)(out->end_us - out->start_us) / 1e6;

    /* Counters first: their read window is one of the windows the power pass integrates. */
    for (size_t i = 0; i < ngpus; i++)
        if ((rc = gpu_counter(t, &w[i], &out->gpus[i], out->start_us, out->end_us, &c0[i], &c1[i],
                              err)) < 0)
            goto fail;
    if ((rc = wp_summary_phase_list(t, out, err)) < 0)
        goto fail;

    /* The series summed on the common grid: every GPU with samples and a cadence. */
    size_t k = 0;
    int64_t step = 0;
    for (size_t i = 0; i < ngpus; i++) {
        if (!w[i].power || w[i].st.end || w[i].cadence_us <= 0)
            continue;
        w[i].in_grid = true;
        ids[k++] = i;
        if (step == 0 || w[i].cadence_us < step)
            step = w[i].cadence_us;
    }
    if (gpus_fold_init(out, w, c0, c1) < 0) {
        rc = nomem(err);
        goto fail;
    }
    /* grids: the run's (only when every GPU is summed), then the phases' */
    struct grid run = {out->start_us, out->end_us, NAN, 0};
    pgrid = calloc(out->nphases + 1, sizeof(*pgrid));
    grids = calloc(out->nphases + 1, sizeof(*grids));
    if (!pgrid || !grids) {
        rc = nomem(err);
        goto fail;
    }
    size_t ngrids = 0;
    if (k > 0 && k == ngpus)
        grids[ngrids++] = &run;
    for (size_t p = 0; p < out->nphases; p++) {
        pgrid[p] = (struct grid){out->phases[p].t0_us, out->phases[p].t1_us, NAN, 0};
        if (out->phases[p].t1_us > out->phases[p].t0_us)
            grids[ngrids++] = &pgrid[p];
    }
    if (off_start(&off, w, ngpus, out->start_us, out->end_us) < 0) {
        rc = nomem(err);
        goto fail;
    }
    struct pass ps = {.off = &off,
                      .t = t,
                      .s = out,
                      .w = w,
                      .opts = opts,
                      .err = err,
                      .all_gpus = k > 0 && k == ngpus,
                      .step_us = step,
                      .walked_to = INT64_MAX};
    if (ps.all_gpus && (rc = wp_swings_new(&ps.swings, step,
                                           wp_grid_len(out->start_us, out->end_us, step), err)) < 0)
        goto fail;
    if (opts && opts->begin &&
        (rc = opts->begin(opts->begin_ctx, out, ps.all_gpus ? step : 0, err)) < 0)
        goto fail;
    /* the blocks the streams opened with (after begin: the folds are laid out) */
    rc = 0;
    for (size_t i = 0; i < ngpus && rc == 0; i++)
        if (w[i].power && !w[i].st.end)
            rc = feed_block(&ps, i);
    if (rc == 0)
        rc = grid_pass(&ps, ids, k, grids, ngrids, step);
    if (rc == 0 && ps.swings) {
        /* grid points after the walk stopped: some series had ended, none covered */
        if (ps.walked_to <= out->end_us)
            swings_piece(&ps, ps.walked_to, out->end_us, NAN);
        wp_swings_result(ps.swings, &out->swings);
    }
    wp_swings_free(ps.swings);
    if (rc < 0)
        goto fail;
    /* what the grid walk did not need: the rest of every series */
    for (size_t i = 0; i < ngpus; i++)
        while (w[i].power && !w[i].st.end) {
            /* a block at a time: its samples are folded already */
            w[i].st.pos += w[i].st.n - 1 - w[i].st.i;
            w[i].st.i = w[i].st.n - 1;
            if ((rc = stream_advance(&ps, i)) < 0)
                goto fail;
        }
    if ((rc = off_finish(&off, true)) < 0) {
        rc = nomem(err);
        goto fail;
    }

    for (size_t i = 0; i < ngpus; i++) {
        if (!w[i].power)
            continue;
        wp_energy_fold_end(&w[i].energy);
        if (gpu_results(&w[i], &out->gpus[i], out->duration_s) < 0 ||
            copy_damage(&w[i].pdamage, &w[i].npdamage, w[i].st.cur) < 0) {
            rc = nomem(err);
            goto fail;
        }
        gpu_counter_diff(&w[i], &out->gpus[i]);
    }
    /* damaged spans: the power series' first, then the counters', GPU by GPU */
    for (size_t i = 0; i < ngpus; i++)
        if ((rc = keep_damage(t, out, w[i].pdamage, w[i].npdamage, err)) < 0)
            goto fail;
    for (size_t i = 0; i < ngpus; i++)
        if ((rc = keep_damage(t, out, w[i].cdamage, w[i].ncdamage, err)) < 0)
            goto fail;
    totals(out, w);
    out->total.peak_w = run.peak_mw / 1000.0;
    phase_results(out, w, ids, k, pgrid);
    if ((rc = point_marks(t, out, err)) < 0)
        goto fail;
    char gsrc[64];
    gpu_sources(w, ngpus, gsrc, sizeof(gsrc));
    rc = wp_node_compute(t, nw, meta, opts, gsrc, out, err);
fail:
    off_finish(&off, false);
    wp_node_work_free(nw);
    for (size_t i = 0; i < ngpus && w; i++)
        gpu_work_free(&w[i]);
    free(w);
    free(idx);
    free(c0);
    free(c1);
    free(ids);
    free(pgrid);
    free(grids);
    if (rc < 0)
        wp_summary_free(out);
    return rc;
}

void wp_summary_free(struct wp_summary *s)
{
    if (!s)
        return;
    free(s->gpus);
    s->gpus = NULL;
    s->ngpus = 0;
    free(s->phases);
    s->phases = NULL;
    s->nphases = 0;
    free(s->damaged);
    s->damaged = NULL;
    s->ndamaged = 0;
    free(s->points);
    s->points = NULL;
    s->npoints = 0;
    free(s->unmeasured);
    s->unmeasured = NULL;
    s->nunmeasured = 0;
}
