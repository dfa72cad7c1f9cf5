/* The node view: node power from the best node-level meter in the trace (a node input meter,
 * else the PDU outlets that feed the node, else an estimate from the parts), the parts
 * metered on their own (GPUs, CPU packages or psys, DRAM), and what the parts leave out.
 *
 * A watt is never counted twice: a part whose scope another present part contains (psys
 * holds the packages and DRAM, src/core/sensor.h) is left out, and within one scope a single
 * source instance is read (a package seen by both rapl and hwmon would otherwise count
 * twice). PDU outlets are the exception: a dual-fed node draws through two PDUs, and every
 * outlet in the trace is one the recording was told feeds this node. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/energy.h"
#include "analysis/node.h"
#include "analysis/series_stream.h"
#include "analysis/stream.h"
#include "core/grow.h"

#define PEAK_SHORT_US 1000000
#define PEAK_LONG_US  60000000

/* As COUNTER_SLACK_US in summary.c: how far outside the run a counter reading may lie and
 * still stand for its start or end (the recorder reads counters around its start and end
 * stamps). */
#define COUNTER_SLACK_US 100000

/* With no node meter, the parts leave out fans, NICs, NVSwitches, drives, the BMC and the
 * PSUs' conversion loss. The default allowance for them is a share of the parts, not fixed
 * watts, because most of it grows with the load: PSU loss is a share of what they deliver
 * (80 PLUS Platinum/Titanium supplies lose 4-8 %), fans follow the heat they move, and a
 * fixed figure right for an 8-GPU board (hundreds of watts of switches and NICs) is ten times
 * too much for a one-GPU workstation. The share is the study's own node: 8.4 kW at the PDU
 * against GPUs and CPUs at their limits, 8 x 700 W + 2 x 280 W (EPYC 9354's default TDP) =
 * 6.16 kW, leaves 2.24 kW, about a third of the parts; 30 % keeps to the low side of that
 * because parts seldom all sit at their limits together. It is an assumption, said as one in the
 * output; node_allowance_w (config) replaces it with the operator's figure. */
#define DEFAULT_ALLOWANCE_FRAC (WP_NODE_DEFAULT_ALLOWANCE_PCT / 100.0)

/* One device read through one sensor: the node input, a PDU outlet, a CPU package. */
struct meter {
    const struct wp_sensor *s;
    int64_t hold_us; /* gauges: the nominal cadence, else the median spacing */
    /* over the run, from one pass over its samples (meters_pass) */
    bool empty;
    double energy_j, mean_w; /* NAN when there is nothing to go on */
    bool fault;              /* a counter that went backwards */
    double peak_1s_mw, peak_60s_mw;
    int64_t first_t, last_t; /* its first and last reading (not empty) */
};

struct meters {
    struct meter *v;
    size_t n, cap;
};

/* The scopes read as parts besides the GPUs (which summary.c reads). */
static const enum wp_scope cpu_scopes[] = {WP_SCOPE_PSYS, WP_SCOPE_CPU_PACKAGE, WP_SCOPE_DRAM};
#define NCPU_SCOPES (sizeof(cpu_scopes) / sizeof(cpu_scopes[0]))

struct wp_node_work {
    struct meters input; /* at most one */
    struct meters outlets;
    struct meters cpu[NCPU_SCOPES];
};

int wp_series_to_canonical(struct wp_series *s, const struct wp_sensor *row, struct wp_err *err)
{
    double k = wp_sensor_scale(row);
    if (k == 1.0)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        double v = (double)s->value[i] * k;
        if (!(fabs(v) < 9.0e18))
            return wp_errf(err, -ERANGE,
                           "%s/%s holds %" PRId64 " %s, which is out of range once scaled; the "
                           "trace is damaged or its scale is wrong (re-record it)",
                           row->source, row->name, s->value[i], wp_sensor_unit(row));
        s->value[i] = llround(v);
    }
    return 0;
}

static bool usable(const struct wp_sensor *s)
{
    return (s->quantity == WP_Q_POWER && s->kind == WP_GAUGE) ||
           (s->quantity == WP_Q_ENERGY && s->kind == WP_COUNTER);
}

/* Which of two sensors of one device reads it better. Node meters want a gauge (its series
 * gives the peaks); parts want a counter (the hardware's own integral has no sampling
 * error). Among gauges the finest cadence wins; ties keep the first. */
static bool better(const struct wp_sensor *a, const struct wp_sensor *b, bool want_gauge)
{
    bool ga = a->kind == WP_GAUGE, gb = b->kind == WP_GAUGE;
    if (ga != gb)
        return ga == want_gauge;
    if (!ga)
        return false;
    int64_t ca = a->cadence_us > 0 ? a->cadence_us : INT64_MAX;
    int64_t cb = b->cadence_us > 0 ? b->cadence_us : INT64_MAX;
    return ca < cb;
}

static bool same_device(const struct wp_sensor *a, const struct wp_sensor *b)
{
    return a->device == b->device && strcmp(a->source, b->source) == 0;
}

/* One meter per device (source, device) of scope sc; only_source limits it to one instance. */
static int gather(const struct wp_sensors *tab, enum wp_scope sc, const char *only_source,
                  bool want_gauge, struct meters *m)
{
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (s->scope != sc || !usable(s) || (only_source && strcmp(s->source, only_source) != 0))
            continue;
        size_t k = 0;
        while (k < m->n && !same_device(m->v[k].s, s))
            k++;
        if (k < m->n) {
            if (better(s, m->v[k].s, want_gauge))
                m->v[k].s = s;
            continue;
        }
        if (WP_GROW(&m->v, &m->cap, m->n + 1) < 0)
            return -ENOMEM;
        m->v[m->n++] = (struct meter){.s = s};
    }
    return 0;
}

/* The instance that reads the most devices of scope sc (the first on a tie), NULL if none. */
static const char *main_source(const struct wp_sensors *tab, enum wp_scope sc)
{
    const char *best = NULL;
    size_t best_n = 0;
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (s->scope != sc || !usable(s))
            continue;
        size_t n = 0;
        for (size_t j = 0; j < tab->n; j++) {
            const struct wp_sensor *o = &tab->v[j];
            if (o->scope != sc || !usable(o) || strcmp(o->source, s->source) != 0)
                continue;
            bool first = true; /* count each device once */
            for (size_t k = 0; k < j && first; k++)
                first =
                    !(tab->v[k].scope == sc && usable(&tab->v[k]) && same_device(&tab->v[k], o));
            n += first;
        }
        if (n > best_n) {
            best = s->source;
            best_n = n;
        }
    }
    return best;
}

static void meters_free(struct meters *m)
{
    free(m->v);
    memset(m, 0, sizeof(*m));
}

void wp_node_work_free(struct wp_node_work *w)
{
    if (!w)
        return;
    meters_free(&w->input);
    meters_free(&w->outlets);
    for (size_t i = 0; i < NCPU_SCOPES; i++)
        meters_free(&w->cpu[i]);
    free(w);
}

/* Settles each meter's hold, and widens [*lo, *hi] to its data when need_span (the run has no
 * start or end of its own). */
static int load_meters(const struct wp_trace *t, struct meters *m, bool need_span, int64_t *lo,
                       int64_t *hi, struct wp_err *err)
{
    for (size_t i = 0; i < m->n; i++) {
        struct meter *e = &m->v[i];
        bool gauge = e->s->kind == WP_GAUGE;
        e->hold_us = gauge ? e->s->cadence_us : 0;
        bool no_cadence = gauge && e->hold_us <= 0;
        if (!need_span && !no_cadence)
            continue;
        double med_ms = NAN;
        int rc = wp_series_scan(t, e->s->id, no_cadence ? &med_ms : NULL, lo, hi, err);
        if (rc < 0)
            return rc;
        /* No nominal cadence in the row: the typical spacing is the best stand-in. */
        if (no_cadence)
            e->hold_us = isnan(med_ms) ? 0 : llround(med_ms * 1000.0);
    }
    return 0;
}

int wp_node_load(const struct wp_trace *t, struct wp_node_work **out, bool need_span, int64_t *lo,
                 int64_t *hi, struct wp_err *err)
{
    const struct wp_sensors *tab = wp_trace_sensors(t);
    *out = NULL;
    struct wp_node_work *w = calloc(1, sizeof(*w));
    if (!w)
        goto nomem;
    /* One node input meter: a node has one (the BMC's), and two sensors of it (instant and
     * averaged) must not be summed. */
    struct meters inputs = {0};
    if (gather(tab, WP_SCOPE_NODE_INPUT, NULL, true, &inputs) < 0) {
        meters_free(&inputs);
        goto nomem;
    }
    for (size_t i = 0; i < inputs.n; i++)
        if (w->input.n == 0 || better(inputs.v[i].s, w->input.v[0].s, true)) {
            if (w->input.n == 0 && WP_GROW(&w->input.v, &w->input.cap, 1) < 0) {
                meters_free(&inputs);
                goto nomem;
            }
            w->input.v[0] = inputs.v[i];
            w->input.n = 1;
        }
    meters_free(&inputs);
    if (gather(tab, WP_SCOPE_PDU_OUTLET, NULL, true, &w->outlets) < 0)
        goto nomem;
    for (size_t i = 0; i < NCPU_SCOPES; i++)
        if (gather(tab, cpu_scopes[i], main_source(tab, cpu_scopes[i]), false, &w->cpu[i]) < 0)
            goto nomem;
    int rc = load_meters(t, &w->input, need_span, lo, hi, err);
    if (rc == 0)
        rc = load_meters(t, &w->outlets, need_span, lo, hi, err);
    for (size_t i = 0; i < NCPU_SCOPES && rc == 0; i++)
        rc = load_meters(t, &w->cpu[i], need_span, lo, hi, err);
    if (rc == -ENOMEM)
        goto nomem;
    if (rc < 0) {
        wp_node_work_free(w);
        return rc;
    }
    *out = w;
    return 0;
nomem:
    wp_node_work_free(w);
    return wp_errf(err, -ENOMEM,
                   "out of memory while summarising the node's meters; free memory or "
                   "summarise on a larger machine");
}

/* Energy (J) and mean power (W) of one meter over the run [from_us, to_us], and its highest
 * 1 s and 60 s means, in one pass over its samples. A gauge is integrated over what its
 * samples cover (as the GPUs are); a counter gives the mean over the readings that bracket the
 * run, and that mean stands for the whole run. NAN when there is nothing to go on; fault when
 * the counter went backwards. */
static int meter_pass(const struct wp_trace *t, struct meter *m, int64_t from_us, int64_t to_us,
                      struct wp_err *err)
{
    m->energy_j = m->mean_w = m->peak_1s_mw = m->peak_60s_mw = NAN;
    double duration_s = (double)(to_us - from_us) / 1e6;
    bool gauge = m->s->kind == WP_GAUGE;
    struct wp_stream st;
    int rc = wp_stream_open(t, m->s, gauge, &st, err);
    if (rc < 0) {
        wp_stream_close(&st);
        return rc;
    }
    m->empty = st.end;
    struct wp_energy_win win = {.from_us = from_us, .to_us = to_us};
    struct wp_energy_fold ef;
    struct wp_rolling_fold r1, r60;
    struct wp_counter_fold cf;
    wp_rolling_fold_init(&r1, from_us, to_us, m->hold_us, PEAK_SHORT_US);
    wp_rolling_fold_init(&r60, from_us, to_us, m->hold_us, PEAK_LONG_US);
    wp_counter_fold_init(&cf, from_us, to_us, COUNTER_SLACK_US, m->s->wrap_at);
    if (wp_energy_fold_init(&ef, &win, 1, m->hold_us, 0) < 0)
        rc = -ENOMEM;
    if (!st.end)
        m->first_t = st.t0;
    while (rc == 0 && !st.end) {
        int64_t tt = st.t[st.i], v = st.v[st.i];
        m->last_t = tt;
        if (gauge) {
            wp_energy_fold_add(&ef, tt, v);
            if (wp_rolling_fold_add(&r1, tt, v) < 0 || wp_rolling_fold_add(&r60, tt, v) < 0)
                rc = -ENOMEM;
        } else {
            wp_counter_fold_add(&cf, tt, v);
        }
        if (rc == 0)
            rc = wp_stream_step(&st, err);
    }
    if (rc == 0 && gauge) {
        wp_energy_fold_end(&ef);
        if (win.e.covered_us > 0) {
            m->energy_j = win.e.energy_mj / 1000.0;
            if (duration_s > 0)
                m->mean_w = m->energy_j / duration_s;
        }
        m->peak_1s_mw = wp_rolling_fold_end(&r1);
        m->peak_60s_mw = wp_rolling_fold_end(&r60);
    } else if (rc == 0) {
        int drc;
        int64_t delta_raw, c0, c1;
        if (wp_counter_fold_end(&cf, &drc, &delta_raw, &c0, &c1) >= 2) {
            if (drc < 0) {
                m->fault = true;
            } else if (c1 > c0) {
                m->mean_w = wp_sensor_value(m->s, delta_raw) / 1000.0 / ((double)(c1 - c0) / 1e6);
                m->energy_j = m->mean_w * duration_s;
            }
        }
    }
    wp_energy_fold_free(&ef);
    wp_rolling_fold_free(&r1);
    wp_rolling_fold_free(&r60);
    wp_stream_close(&st);
    return rc == -ENOMEM ? wp_errf(err, -ENOMEM, "out of memory summarising the node's meters")
                         : rc;
}

static int meters_pass(const struct wp_trace *t, struct meters *m, int64_t from_us, int64_t to_us,
                       struct wp_err *err)
{
    for (size_t i = 0; i < m->n; i++) {
        int rc = meter_pass(t, &m->v[i], from_us, to_us, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int meter_energy(const struct meter *m, int64_t from_us, int64_t to_us, double *energy_j,
                        double *mean_w, bool *fault)
{
    (void)from_us;
    (void)to_us;
    *energy_j = m->energy_j;
    *mean_w = m->mean_w;
    *fault |= m->fault;
    return 0;
}

/* Sum over meters; NAN when any is (no partial sums that would read as a drop). */
static int meters_energy(const struct meters *m, int64_t from_us, int64_t to_us, double *energy_j,
                         double *mean_w, bool *fault)
{
    *energy_j = *mean_w = 0;
    for (size_t i = 0; i < m->n; i++) {
        double e, p;
        if (meter_energy(&m->v[i], from_us, to_us, &e, &p, fault) < 0)
            return -EINVAL;
        *energy_j += e;
        *mean_w += p;
    }
    return 0;
}

/* "a/x + b/y", cut with "+ N more" when it does not fit. */
static void name_meters(const struct meters *m, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n; i++) {
        char one[96];
        snprintf(one, sizeof(one), "%s%s/%s", i ? " + " : "", m->v[i].s->source, m->v[i].s->name);
        if (off + strlen(one) + 16 >= cap) {
            snprintf(buf + off, cap - off, " + %zu more", m->n - i);
            return;
        }
        off += (size_t)snprintf(buf + off, cap - off, "%s", one);
    }
}

/* Distinct instance names of the meters, comma-separated. */
static void name_sources(const struct meters *m, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n && off < cap; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(m->v[k].s->source, m->v[i].s->source) == 0;
        if (!seen)
            off +=
                (size_t)snprintf(buf + off, cap - off, "%s%s", off ? "," : "", m->v[i].s->source);
    }
}

/* Highest 1 s and 60 s means of the node meter(s). Several outlets are summed on a grid at
 * the finest cadence first; every outlet must be a gauge and cover a grid point for it to
 * count (a missing outlet would read as a dip). */
static int node_peaks(const struct wp_trace *t, const struct meters *m, int64_t from_us,
                      int64_t to_us, double *p1_w, double *p60_w, struct wp_err *err)
{
    *p1_w = *p60_w = NAN;
    if (m->n == 0)
        return 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].s->kind != WP_GAUGE || m->v[i].empty || m->v[i].hold_us <= 0)
            return 0;
    if (m->n == 1) {
        *p1_w = m->v[0].peak_1s_mw / 1000.0;
        *p60_w = m->v[0].peak_60s_mw / 1000.0;
        return 0;
    }
    struct wp_stream st[16];
    if (m->n > sizeof(st) / sizeof(st[0]))
        return 0; /* more outlets than any node has: leave the peaks unknown */
    int64_t hold = 0;
    for (size_t i = 0; i < m->n; i++)
        if (hold == 0 || m->v[i].hold_us < hold)
            hold = m->v[i].hold_us;
    struct wp_rolling_fold r1, r60;
    wp_rolling_fold_init(&r1, from_us, to_us, hold, PEAK_SHORT_US);
    wp_rolling_fold_init(&r60, from_us, to_us, hold, PEAK_LONG_US);
    size_t nopen = 0;
    int rc = 0;
    for (; nopen < m->n && rc == 0; nopen++)
        rc = wp_stream_open(t, m->v[nopen].s, true, &st[nopen], err);
    /* The outlets summed on the grid (wp_sum_grid: each gives the sample whose interval holds
     * the point; a point some outlet misses is left out), then the rolling means of that. */
    size_t len = rc == 0 ? wp_grid_len(from_us, to_us, hold) : 0;
    for (size_t g = 0; g < len && rc == 0; g++) {
        int64_t x = from_us + (int64_t)g * hold;
        double sum = 0;
        bool covered = true;
        for (size_t j = 0; j < m->n && rc == 0; j++) {
            while (!st[j].end && st[j].t[st[j].i] < x && rc == 0)
                rc = wp_stream_step(&st[j], err);
            if (st[j].end) {
                covered = false;
                continue;
            }
            int64_t start; /* where the first sample starts to cover; INT64_MIN on overflow */
            if (__builtin_sub_overflow(st[j].t0, m->v[j].hold_us, &start))
                start = INT64_MIN;
            if (st[j].pos == 0 && !(x == st[j].t0 || x > start)) {
                covered = false;
                continue;
            }
            sum += (double)st[j].v[st[j].i];
        }
        if (rc == 0 && covered &&
            (wp_rolling_fold_add(&r1, x, llround(sum)) < 0 ||
             wp_rolling_fold_add(&r60, x, llround(sum)) < 0))
            rc = wp_errf(err, -ENOMEM, "out of memory summarising the node's meters");
    }
    if (rc == 0) {
        *p1_w = wp_rolling_fold_end(&r1) / 1000.0;
        *p60_w = wp_rolling_fold_end(&r60) / 1000.0;
    }
    for (size_t i = 0; i < nopen; i++)
        wp_stream_close(&st[i]);
    wp_rolling_fold_free(&r1);
    wp_rolling_fold_free(&r60);
    return rc;
}

/* Watts from the run metadata: absent is NAN; present must be a finite number in
 * [min_w, 1e7] (min_w excluded when strict). */
static int meta_watts(const struct wp_meta *meta, const char *key, double min_w, bool strict,
                      double *out, struct wp_err *err)
{
    *out = NAN;
    const char *s = wp_meta_get(meta, key);
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < min_w || (strict && v == min_w) || v > 1e7)
        return wp_errf(err, -EINVAL,
                       "the trace's run metadata %s is \"%.64s\", not a number of watts; the "
                       "trace is damaged or was written by another tool (re-record it, or give "
                       "report --rated-w)",
                       key, s);
    *out = v;
    return 0;
}

static unsigned popcount(unsigned x)
{
    return (unsigned)__builtin_popcount(x);
}

/* The parts: GPUs (from s->total), psys or the packages, DRAM. Broadest first, so a part
 * another already holds is skipped whatever order the sensors came in. */
static int node_parts(const struct wp_node_work *w, const char *gpu_source, struct wp_summary *s,
                      struct wp_err *err)
{
    struct cand {
        enum wp_scope scope;
        unsigned contains;
        const struct meters *m;
    } c[1 + NCPU_SCOPES];
    size_t nc = 0;
    if (s->ngpus > 0)
        c[nc++] = (struct cand){WP_SCOPE_GPU, wp_scope_default_contains(WP_SCOPE_GPU), NULL};
    for (size_t i = 0; w && i < NCPU_SCOPES; i++) {
        const struct meters *m = &w->cpu[i];
        if (m->n == 0)
            continue;
        unsigned contains = 0;
        for (size_t k = 0; k < m->n; k++)
            contains |= m->v[k].s->contains;
        /* psys stands for the CPUs only when it says it holds the packages; what else it
         * might be is unknown, and it could overlap anything. */
        if (cpu_scopes[i] == WP_SCOPE_PSYS && !(contains & WP_SCOPE_BIT(WP_SCOPE_CPU_PACKAGE)))
            continue;
        c[nc++] = (struct cand){cpu_scopes[i], contains, m};
    }
    /* Which parts count: broadest containment first, so a part another holds is skipped
     * whatever order the sensors came in. They are listed in the fixed order after. */
    size_t order[1 + NCPU_SCOPES];
    for (size_t i = 0; i < nc; i++)
        order[i] = i;
    for (size_t i = 1; i < nc; i++)
        for (size_t k = i;
             k > 0 && popcount(c[order[k]].contains) > popcount(c[order[k - 1]].contains); k--) {
            size_t tmp = order[k];
            order[k] = order[k - 1];
            order[k - 1] = tmp;
        }
    bool counted[1 + NCPU_SCOPES] = {false};
    unsigned held = 0;
    for (size_t i = 0; i < nc; i++) {
        if (held & WP_SCOPE_BIT(c[order[i]].scope))
            continue;
        held |= c[order[i]].contains;
        counted[order[i]] = true;
    }
    struct wp_node_summary *node = &s->node;
    for (size_t i = 0; i < nc && node->nparts < WP_NODE_MAX_PARTS; i++) {
        if (!counted[i])
            continue;
        struct wp_node_part *p = &node->parts[node->nparts++];
        memset(p, 0, sizeof(*p));
        p->scope = c[i].scope;
        if (!c[i].m) {
            p->energy_j = s->total.energy_j;
            p->mean_w = s->total.mean_w;
            p->devices = s->ngpus;
            snprintf(p->source, sizeof(p->source), "%s", gpu_source ? gpu_source : "");
            continue;
        }
        bool fault = false;
        if (meters_energy(c[i].m, s->start_us, s->end_us, &p->energy_j, &p->mean_w, &fault) < 0)
            return wp_errf(err, -EINVAL,
                           "%s samples are not in time order; the trace is damaged (re-record it)",
                           wp_scope_name(c[i].scope));
        p->devices = c[i].m->n;
        name_sources(c[i].m, p->source, sizeof(p->source));
    }
    return 0;
}

/* [*lo, *hi] narrowed to the span the meters' readings cover together (each sum needs every
 * outlet); meter_pass noted each one's first and last reading. */
static void meters_span(const struct meters *m, int64_t *lo, int64_t *hi)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct meter *e = &m->v[i];
        if (e->empty) {
            *hi = *lo;
            return;
        }
        if (e->first_t > *lo)
            *lo = e->first_t;
        if (e->last_t < *hi)
            *hi = e->last_t;
    }
}

/* Energy and mean of meters over [lo, hi]: each read again over that window (node meters are
 * slow: a second read costs little and keeps no series in memory). */
static int meters_window(const struct wp_trace *t, const struct meters *m, int64_t lo, int64_t hi,
                         double *energy_j, double *mean_w, bool *fault, struct wp_err *err)
{
    *energy_j = *mean_w = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct meter e = m->v[i];
        int rc = meter_pass(t, &e, lo, hi, err);
        if (rc < 0)
            return rc;
        *energy_j += e.energy_j;
        *mean_w += e.mean_w;
        *fault |= e.fault;
    }
    return 0;
}

/* Both node-level meters side by side over the time both read: the outlets draw what the
 * node's input meter sees plus the cords' losses, or the two meters disagree. */
static int node_compare(const struct wp_trace *t, const struct wp_node_work *w,
                        struct wp_summary *s, struct wp_err *err)
{
    struct wp_node_summary *node = &s->node;
    node->cmp_input_w = node->cmp_outlets_w = node->cmp_diff_w = node->cmp_diff_pct = NAN;
    node->cmp_overlap_s = NAN;
    if (!w || w->input.n == 0 || w->outlets.n == 0)
        return 0;
    int64_t lo = s->start_us, hi = s->end_us;
    meters_span(&w->input, &lo, &hi);
    meters_span(&w->outlets, &lo, &hi);
    if (hi <= lo)
        return 0;
    double e_in, p_in, e_out, p_out;
    bool fault = false;
    int rc;
    if ((rc = meters_window(t, &w->input, lo, hi, &e_in, &p_in, &fault, err)) < 0 ||
        (rc = meters_window(t, &w->outlets, lo, hi, &e_out, &p_out, &fault, err)) < 0)
        return rc;
    if (!isfinite(p_in) || !isfinite(p_out))
        return 0;
    node->compared = true;
    name_meters(&w->outlets, node->outlets_source, sizeof(node->outlets_source));
    node->cmp_input_w = p_in;
    node->cmp_outlets_w = p_out;
    node->cmp_diff_w = p_out - p_in;
    node->cmp_diff_pct = p_out != 0 ? node->cmp_diff_w / p_out * 100.0 : NAN;
    node->cmp_overlap_s = (double)(hi - lo) / 1e6;
    return 0;
}

int wp_node_compute(const struct wp_trace *t, struct wp_node_work *w, const struct wp_meta *meta,
                    const struct wp_summary_opts *opts, const char *gpu_source,
                    struct wp_summary *s, struct wp_err *err)
{
    int rc;
    /* every meter read once, over the run */
    if (w) {
        if ((rc = meters_pass(t, &w->input, s->start_us, s->end_us, err)) < 0 ||
            (rc = meters_pass(t, &w->outlets, s->start_us, s->end_us, err)) < 0)
            return rc;
        for (size_t i = 0; i < NCPU_SCOPES; i++)
            if ((rc = meters_pass(t, &w->cpu[i], s->start_us, s->end_us, err)) < 0)
                return rc;
    }
    struct wp_node_summary *node = &s->node;
    memset(node, 0, sizeof(*node));
    node->energy_j = node->mean_w = node->peak_1s_w = node->peak_60s_w = NAN;
    node->rated_w = node->peak_pct_of_rated = node->allowance_w = node->rest_w = NAN;
    node->gpu_sum_peak_20ms_w = s->total.peak_w;
    if (opts && isfinite(opts->rated_w))
        node->rated_w = opts->rated_w;
    else if ((rc = meta_watts(meta, "node.rated_w", 0, true, &node->rated_w, err)) < 0)
        return rc;
    double allowance_w;
    if ((rc = meta_watts(meta, "node.allowance_w", 0, false, &allowance_w, err)) < 0)
        return rc;
    if ((rc = node_parts(w, gpu_source, s, err)) < 0)
        return rc;

    /* The best node meter with a reading in the run. */
    const struct meters *meter = NULL;
    bool fault = false;
    if (w && w->input.n) {
        if (meters_energy(&w->input, s->start_us, s->end_us, &node->energy_j, &node->mean_w,
                          &fault) < 0)
            goto unsorted;
        if (isfinite(node->energy_j)) {
            meter = &w->input;
            node->basis = WP_NODE_INPUT;
        }
    }
    if (!meter && w && w->outlets.n) {
        if (meters_energy(&w->outlets, s->start_us, s->end_us, &node->energy_j, &node->mean_w,
                          &fault) < 0)
            goto unsorted;
        if (isfinite(node->energy_j)) {
            meter = &w->outlets;
            node->basis = WP_NODE_PDU_OUTLETS;
        }
    }
    double parts_e = 0, parts_w = 0;
    for (size_t i = 0; i < node->nparts; i++) {
        parts_e += node->parts[i].energy_j;
        parts_w += node->parts[i].mean_w;
    }
    if (meter) {
        node->present = true;
        name_meters(meter, node->source, sizeof(node->source));
        rc = node_peaks(t, meter, s->start_us, s->end_us, &node->peak_1s_w, &node->peak_60s_w, err);
        if (rc < 0)
            return rc;
        if (node->nparts > 0)
            node->rest_w = node->mean_w - parts_w;
    } else if (node->nparts > 0) {
        node->present = true;
        node->estimated = true;
        node->basis = WP_NODE_ESTIMATE;
        node->allowance_default = isnan(allowance_w);
        node->allowance_w =
            node->allowance_default ? parts_w * DEFAULT_ALLOWANCE_FRAC : allowance_w;
        node->mean_w = parts_w + node->allowance_w;
        node->energy_j = parts_e + node->allowance_w * s->duration_s;
    } else {
        node->energy_j = node->mean_w = NAN;
    }
    if (node->present && isfinite(node->rated_w) && isfinite(node->peak_1s_w))
        node->peak_pct_of_rated = node->peak_1s_w / node->rated_w * 100.0;
    if ((rc = node_compare(t, w, s, err)) < 0)
        return rc;
    return 0;
unsorted:
    return wp_errf(err, -EINVAL,
                   "the node meter's samples are not in time order; the trace is damaged "
                   "(re-record it)");
}
