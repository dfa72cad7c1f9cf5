#include "recorder/live.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

const int64_t wp_live_window_us[WP_LIVE_NWINDOWS] = {1000000, 10000000, 60000000};

/* A meter far faster than any we know (or a source gone wrong) must not grow the ring
 * without bound: past this many samples the oldest go, and the 60 s window is shorter. */
#define RING_MAX (1u << 20)

/* The kept samples of one power gauge, oldest at head. */
struct ring {
    int64_t *t_us, *raw;
    size_t cap, head, len;
};

struct sensor_state {
    struct ring ring;
    bool gauge;   /* a power gauge: keeps a ring */
    bool counter; /* an energy counter: gives a rate */
    bool dirty;   /* got samples in this batch */
    struct wp_live_sensor out;
};

struct wp_live {
    pthread_mutex_t lock;
    struct wp_sensors tab;
    struct sensor_state *st;
    struct wp_live_snapshot snap; /* everything but s, owned here */
    int64_t start_us;             /* energy counts from here: the recording's start */
};

static bool power_gauge(const struct wp_sensor *s)
{
    return s->quantity == WP_Q_POWER && s->kind == WP_GAUGE;
}

static bool energy_counter(const struct wp_sensor *s)
{
    return s->quantity == WP_Q_ENERGY && s->kind == WP_COUNTER;
}

/* One power gauge per device (source instance, device) is integrated: the finest cadence,
 * the first on a tie. The others (NVML's 100 ms fields beside the 20 ms buffer) read the
 * same watts, and a sum over the energy metric must not count them twice. */
static void pick_primary(struct wp_live *l)
{
    for (size_t i = 0; i < l->tab.n; i++) {
        const struct wp_sensor *s = &l->tab.v[i];
        if (!power_gauge(s))
            continue;
        bool best = true;
        for (size_t j = 0; j < l->tab.n && best; j++) {
            const struct wp_sensor *o = &l->tab.v[j];
            if (j == i || !power_gauge(o) || o->device != s->device ||
                strcmp(o->source, s->source) != 0)
                continue;
            int64_t co = o->cadence_us > 0 ? o->cadence_us : INT64_MAX;
            int64_t cs = s->cadence_us > 0 ? s->cadence_us : INT64_MAX;
            best = !(co < cs || (co == cs && j < i));
        }
        l->st[i].out.primary = best;
    }
}

int wp_live_new(struct wp_live **out)
{
    struct wp_live *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    *out = l;
    return 0;
}

/* Called with the lock held, at the first batch. */
static int setup(struct wp_live *l, const struct wp_sensors *tab, size_t nsources)
{
    l->st = calloc(tab->n ? tab->n : 1, sizeof(*l->st));
    l->snap.up = calloc(nsources ? nsources : 1, sizeof(*l->snap.up));
    if (!l->st || !l->snap.up)
        return -ENOMEM;
    for (size_t i = 0; i < tab->n; i++) {
        if (wp_sensors_add(&l->tab, &tab->v[i]) < 0)
            return -ENOMEM;
        l->st[i].gauge = power_gauge(&tab->v[i]);
        l->st[i].counter = energy_counter(&tab->v[i]);
        for (int w = 0; w < WP_LIVE_NWINDOWS; w++)
            l->st[i].out.mean_mw[w] = NAN;
    }
    l->snap.nsources = nsources;
    l->snap.nsensors = tab->n;
    pick_primary(l);
    return 0;
}

void wp_live_free(struct wp_live *l)
{
    if (!l)
        return;
    for (size_t i = 0; l->st && i < l->tab.n; i++) {
        free(l->st[i].ring.t_us);
        free(l->st[i].ring.raw);
    }
    free(l->st);
    free(l->snap.up);
    wp_sensors_free(&l->tab);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static size_t ring_at(const struct ring *g, size_t k)
{
    return (g->head + k) % g->cap;
}

static int ring_push(struct ring *g, int64_t t_us, int64_t raw)
{
    if (g->len == g->cap) {
        if (g->cap >= RING_MAX) {
            g->head = (g->head + 1) % g->cap;
            g->len--;
        } else {
            size_t ncap = g->cap ? g->cap * 2 : 256;
            int64_t *t = malloc(ncap * sizeof(*t)), *v = malloc(ncap * sizeof(*v));
            if (!t || !v) {
                free(t);
                free(v);
                return -ENOMEM;
            }
            for (size_t k = 0; k < g->len; k++) {
                t[k] = g->t_us[ring_at(g, k)];
                v[k] = g->raw[ring_at(g, k)];
            }
            free(g->t_us);
            free(g->raw);
            g->t_us = t;
            g->raw = v;
            g->cap = ncap;
            g->head = 0;
        }
    }
    size_t at = ring_at(g, g->len);
    g->t_us[at] = t_us;
    g->raw[at] = raw;
    g->len++;
    return 0;
}

static void ring_trim(struct ring *g, int64_t keep_from_us)
{
    /* Keep one sample before the cut: it bounds the interval of the oldest kept one. */
    while (g->len > 1 && g->t_us[ring_at(g, 1)] <= keep_from_us) {
        g->head = (g->head + 1) % g->cap;
        g->len--;
    }
}

/* Start of the interval a sample at t covers, given the one before it (prev, or none). */
static int64_t interval_start(int64_t t, const int64_t *prev, int64_t cadence_us)
{
    int64_t hold = cadence_us > 0 ? cadence_us : 0;
    if (!prev || t - *prev > WP_LIVE_OUTAGE_US)
        return t - hold;
    return *prev;
}

static void window_stats(struct sensor_state *st, int64_t cadence_us)
{
    const struct ring *g = &st->ring;
    struct wp_live_sensor *o = &st->out;
    if (g->len == 0)
        return;
    int64_t newest = g->t_us[ring_at(g, g->len - 1)];
    double e[WP_LIVE_NWINDOWS] = {0}, d[WP_LIVE_NWINDOWS] = {0};
    for (int w = 0; w < WP_LIVE_NWINDOWS; w++) {
        o->max_raw[w] = INT64_MIN;
        o->min_raw[w] = INT64_MAX;
    }
    for (size_t k = g->len; k-- > 0;) {
        int64_t t = g->t_us[ring_at(g, k)], v = g->raw[ring_at(g, k)];
        if (t <= newest - wp_live_window_us[WP_LIVE_NWINDOWS - 1])
            break;
        int64_t prev = k > 0 ? g->t_us[ring_at(g, k - 1)] : 0;
        int64_t lo0 = interval_start(t, k > 0 ? &prev : NULL, cadence_us);
        for (int w = 0; w < WP_LIVE_NWINDOWS; w++) {
            int64_t start = newest - wp_live_window_us[w];
            if (t <= start)
                continue;
            if (v > o->max_raw[w])
                o->max_raw[w] = v;
            if (v < o->min_raw[w])
                o->min_raw[w] = v;
            int64_t lo = lo0 > start ? lo0 : start;
            e[w] += (double)v * (double)(t - lo);
            d[w] += (double)(t - lo);
        }
    }
    for (int w = 0; w < WP_LIVE_NWINDOWS; w++)
        o->mean_mw[w] = d[w] > 0 ? e[w] / d[w] : (double)o->max_raw[w];
}

static void take_sample(struct wp_live *l, const struct wp_sample *s)
{
    if (s->sensor < 0 || (size_t)s->sensor >= l->tab.n)
        return;
    const struct wp_sensor *row = &l->tab.v[s->sensor];
    struct sensor_state *st = &l->st[s->sensor];
    struct wp_live_sensor *o = &st->out;
    o->samples++;
    /* Each sensor's samples come in time order from its one thread; a repeat or a step back
     * (a driver that re-sends) would count twice or integrate backwards. */
    if (o->has && s->t_us <= o->t_us)
        return;
    int64_t prev_t = o->t_us, prev_raw = o->raw;
    bool had = o->has;
    o->has = true;
    o->t_us = s->t_us;
    o->raw = s->value;
    if (st->gauge) {
        st->dirty = true;
        if (ring_push(&st->ring, s->t_us, s->value) < 0)
            return;
        if (o->primary && s->value > 0) {
            int64_t lo = interval_start(s->t_us, had ? &prev_t : NULL, row->cadence_us);
            if (lo < l->start_us)
                lo = l->start_us < s->t_us ? l->start_us : s->t_us;
            o->energy_mj +=
                wp_sensor_value(row, s->value) * (double)(s->t_us - lo) / 1e6; /* mW x us */
        }
    } else if (st->counter && had) {
        int64_t delta = s->value - prev_raw;
        if (delta < 0 && row->wrap_at > 0)
            delta += row->wrap_at;
        /* A decrease without a wrap is a restart of the counter: no rate across it. */
        o->has_rate = delta >= 0;
        if (o->has_rate) {
            o->rate_mw = wp_sensor_value(row, delta) * 1e6 / (double)(s->t_us - prev_t);
            o->energy_mj += wp_sensor_value(row, delta);
        }
    }
}

static void take_mark(struct wp_live *l, const struct wp_mark *m)
{
    struct wp_live_snapshot *p = &l->snap;
    if (p->nmarks == WP_LIVE_MAX_MARKS) {
        memmove(p->marks, p->marks + 1, sizeof(p->marks[0]) * (WP_LIVE_MAX_MARKS - 1));
        p->nmarks--;
    }
    p->marks[p->nmarks++] = *m;
    p->marks_total++;
    if (m->kind == WP_MARK_BEGIN) {
        if (p->nphases == WP_LIVE_MAX_PHASES) {
            memmove(p->phases, p->phases + 1, sizeof(p->phases[0]) * (WP_LIVE_MAX_PHASES - 1));
            p->nphases--;
        }
        snprintf(p->phases[p->nphases++], sizeof(p->phases[0]), "%s", m->name);
    } else if (m->kind == WP_MARK_END) {
        for (int i = p->nphases; i-- > 0;)
            if (strcmp(p->phases[i], m->name) == 0) {
                memmove(p->phases + i, p->phases + i + 1,
                        sizeof(p->phases[0]) * (size_t)(p->nphases - i - 1));
                p->nphases--;
                break;
            }
    }
}

void wp_live_feed(const struct wp_tap_batch *b, void *live)
{
    struct wp_live *l = live;
    pthread_mutex_lock(&l->lock);
    l->start_us = b->start_us;
    if (!l->st && setup(l, b->sensors, b->nsources) < 0) {
        /* Out of memory at the start: the view stays empty, the recording goes on. */
        free(l->st);
        free(l->snap.up);
        wp_sensors_free(&l->tab);
        l->st = NULL;
        l->snap.up = NULL;
        l->snap.nsensors = l->snap.nsources = 0;
        pthread_mutex_unlock(&l->lock);
        return;
    }
    for (size_t i = 0; i < b->n; i++)
        take_sample(l, &b->samples[i]);
    for (size_t i = 0; i < l->tab.n; i++) {
        struct sensor_state *st = &l->st[i];
        if (!st->dirty)
            continue;
        st->dirty = false;
        ring_trim(&st->ring, st->out.t_us - WP_LIVE_KEEP_US);
        window_stats(st, l->tab.v[i].cadence_us);
    }
    for (size_t i = 0; i < b->nmarks; i++)
        take_mark(l, &b->marks[i]);
    if (b->nevents > 0)
        l->snap.last_event = b->events[b->nevents - 1];
    for (size_t i = 0; i < b->nsources && i < l->snap.nsources; i++)
        l->snap.up[i] = b->source_up[i];
    l->snap.generation++;
    l->snap.fed_us = wp_wall_us();
    pthread_mutex_unlock(&l->lock);
}

uint64_t wp_live_generation(struct wp_live *l)
{
    pthread_mutex_lock(&l->lock);
    uint64_t g = l->snap.generation;
    pthread_mutex_unlock(&l->lock);
    return g;
}

int wp_live_snapshot(struct wp_live *l, struct wp_live_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&l->lock);
    struct wp_live_sensor *s = calloc(l->tab.n ? l->tab.n : 1, sizeof(*s));
    bool *up = calloc(l->snap.nsources ? l->snap.nsources : 1, sizeof(*up));
    if (!s || !up) {
        pthread_mutex_unlock(&l->lock);
        free(s);
        free(up);
        return -ENOMEM;
    }
    *out = l->snap;
    for (size_t i = 0; i < l->tab.n; i++)
        s[i] = l->st[i].out;
    if (l->snap.nsources)
        memcpy(up, l->snap.up, l->snap.nsources * sizeof(*up));
    pthread_mutex_unlock(&l->lock);
    out->s = s;
    out->up = up;
    return 0;
}

void wp_live_snapshot_free(struct wp_live_snapshot *s)
{
    free(s->s);
    free(s->up);
    memset(s, 0, sizeof(*s));
}

size_t wp_live_recent(struct wp_live *l, int sensor, int64_t since_us, int64_t *t_us, int64_t *raw,
                      size_t cap)
{
    pthread_mutex_lock(&l->lock);
    if (sensor < 0 || (size_t)sensor >= l->tab.n || cap == 0) {
        pthread_mutex_unlock(&l->lock);
        return 0;
    }
    const struct ring *g = &l->st[sensor].ring;
    size_t first = g->len;
    while (first > 0 && g->len - first < cap && g->t_us[ring_at(g, first - 1)] >= since_us)
        first--;
    size_t n = g->len - first;
    for (size_t k = 0; k < n; k++) {
        t_us[k] = g->t_us[ring_at(g, first + k)];
        raw[k] = g->raw[ring_at(g, first + k)];
    }
    pthread_mutex_unlock(&l->lock);
    return n;
}
