#include "net/metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/summary.h"

static const char *const window_label[WP_LIVE_NWINDOWS] = {"1s", "10s", "60s"};

enum mtype { GAUGE, COUNTER, INFO };

struct out {
    FILE *f;
    bool om;
};

/* Label values may hold anything a driver or a user put in a name: escape backslash, quote
 * and newline as the format demands. */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f), fputc(*s, f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

/* Family header. A counter's or info's family name drops the sample suffix in OpenMetrics. */
static void family(struct out *o, const char *name, enum mtype t, const char *help)
{
    char fam[128];
    snprintf(fam, sizeof(fam), "%s", name);
    size_t n = strlen(fam);
    if (o->om && t == COUNTER && n > 6 && strcmp(fam + n - 6, "_total") == 0)
        fam[n - 6] = '\0';
    if (o->om && t == INFO && n > 5 && strcmp(fam + n - 5, "_info") == 0)
        fam[n - 5] = '\0';
    fprintf(o->f, "# HELP %s ", fam);
    for (const char *h = help; *h; h++) {
        if (*h == '\\')
            fputs("\\\\", o->f);
        else if (*h == '\n')
            fputs("\\n", o->f);
        else
            fputc(*h, o->f);
    }
    fprintf(o->f, "\n# TYPE %s %s\n", fam,
            t == COUNTER         ? "counter"
            : t == INFO && o->om ? "info"
                                 : "gauge");
}

static void value(FILE *f, double v)
{
    if (isnan(v))
        fputs(" NaN\n", f);
    else if (isinf(v))
        fputs(v > 0 ? " +Inf\n" : " -Inf\n", f);
    else
        fprintf(f, " %.15g\n", v);
}

static void sensor_labels(FILE *f, const struct wp_metrics_ctx *c, const struct wp_sensor *s)
{
    (void)c;
    fputs("source=\"", f);
    put_escaped(f, s->source);
    fputs("\",kind=\"", f);
    put_escaped(f, s->source_kind);
    fputs("\"", f);
    if (s->device >= 0)
        fprintf(f, ",device=\"%d\"", s->device);
    if (s->uuid[0]) {
        fputs(",uuid=\"", f);
        put_escaped(f, s->uuid);
        fputs("\"", f);
    }
    if (s->device_name[0]) {
        fputs(",model=\"", f);
        put_escaped(f, s->device_name);
        fputs("\"", f);
    }
    fputs(",sensor=\"", f);
    put_escaped(f, s->name);
    fprintf(f, "\",scope=\"%s\"", wp_scope_name(s->scope));
}

/* One sample of a per-sensor metric; extra is appended inside the braces (",window=\"1s\""). */
static void sensor_sample(struct out *o, const struct wp_metrics_ctx *c, const char *name,
                          const struct wp_sensor *s, const char *extra, double v)
{
    fprintf(o->f, "%s{", name);
    sensor_labels(o->f, c, s);
    if (extra)
        fputs(extra, o->f);
    fputc('}', o->f);
    value(o->f, v);
}

/* The sensors both the table and the snapshot know (none before the first batch). */
static size_t nsens(const struct wp_metrics_ctx *c, const struct wp_live_snapshot *p)
{
    return c->sensors->n < p->nsensors ? c->sensors->n : p->nsensors;
}

static bool power_gauge(const struct wp_sensor *s)
{
    return s->quantity == WP_Q_POWER && s->kind == WP_GAUGE;
}

/* ---- the node view ---- */

/* The current power of sensor i for the node view: a primary power gauge's newest sample, or
 * an energy counter's last rate where its device has no power gauge with data. */
static bool reading_w(const struct wp_metrics_ctx *c, const struct wp_live_snapshot *p, size_t i,
                      double *w)
{
    const struct wp_sensor *s = &c->sensors->v[i];
    const struct wp_live_sensor *l = &p->s[i];
    if (power_gauge(s))
        return l->primary && l->has && (*w = wp_sensor_value(s, l->raw) / 1000.0, true);
    if (s->quantity != WP_Q_ENERGY || s->kind != WP_COUNTER || !l->has_rate)
        return false;
    for (size_t j = 0; j < nsens(c, p); j++) {
        const struct wp_sensor *o = &c->sensors->v[j];
        if (power_gauge(o) && p->s[j].has && o->device == s->device &&
            strcmp(o->source, s->source) == 0)
            return false;
    }
    *w = l->rate_mw / 1000.0;
    return true;
}

/* Sum over the devices of scope sc, read from one source instance (the one with the most
 * readings: a package seen by rapl and hwmon is counted once). Returns the number summed. */
static size_t scope_sum(const struct wp_metrics_ctx *c, const struct wp_live_snapshot *p,
                        enum wp_scope sc, double *sum, unsigned *contains)
{
    const char *best = NULL;
    size_t best_n = 0;
    for (size_t i = 0; i < nsens(c, p); i++) {
        double w;
        if (c->sensors->v[i].scope != sc || !reading_w(c, p, i, &w))
            continue;
        size_t n = 0;
        for (size_t j = 0; j < nsens(c, p); j++)
            n += c->sensors->v[j].scope == sc &&
                 strcmp(c->sensors->v[j].source, c->sensors->v[i].source) == 0 &&
                 reading_w(c, p, j, &w);
        if (n > best_n)
            best = c->sensors->v[i].source, best_n = n;
    }
    *sum = 0;
    for (size_t i = 0; best && i < nsens(c, p); i++) {
        double w;
        if (c->sensors->v[i].scope == sc && strcmp(c->sensors->v[i].source, best) == 0 &&
            reading_w(c, p, i, &w)) {
            *sum += w;
            if (contains)
                *contains |= c->sensors->v[i].contains;
        }
    }
    return best_n;
}

void wp_live_node_compute(const struct wp_metrics_ctx *c, const struct wp_live_snapshot *snap,
                          struct wp_live_node *out)
{
    *out = (struct wp_live_node){.node_w = NAN, .parts_w = NAN, .rest_w = NAN, .headroom_w = NAN};
    /* Parts in the order that lets a containing part shut out what it holds (psys before the
     * packages and DRAM it includes). */
    static const enum wp_scope parts[] = {WP_SCOPE_GPU, WP_SCOPE_PSYS, WP_SCOPE_CPU_PACKAGE,
                                          WP_SCOPE_DRAM};
    unsigned contained = 0;
    double parts_w = 0;
    size_t nparts = 0;
    for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
        if (contained & WP_SCOPE_BIT(parts[k]))
            continue;
        double w;
        size_t n = scope_sum(c, snap, parts[k], &w, &contained);
        if (n > 0)
            parts_w += w, nparts++;
    }
    double node_w;
    if (scope_sum(c, snap, WP_SCOPE_NODE_INPUT, &node_w, NULL) > 0)
        out->basis = "node_input";
    else if (scope_sum(c, snap, WP_SCOPE_PDU_OUTLET, &node_w, NULL) > 0)
        out->basis = "pdu_outlets";
    else if (nparts > 0) {
        out->basis = "estimated";
        node_w =
            parts_w + (isnan(c->node_allowance_w) ? parts_w * WP_NODE_DEFAULT_ALLOWANCE_PCT / 100.0
                                                  : c->node_allowance_w);
    } else
        return;
    out->present = true;
    out->node_w = node_w;
    if (nparts > 0) {
        out->parts_w = parts_w;
        if (strcmp(out->basis, "estimated") != 0)
            out->rest_w = node_w - parts_w;
    }
    if (!isnan(c->rated_w))
        out->headroom_w = c->rated_w - node_w;
}

/* ---- the page ---- */

static void render_build(struct out *o, const struct wp_metrics_ctx *c,
                         const struct wp_live_snapshot *p)
{
    family(o, "wattprof_build_info", INFO, "wattprof's version and optional features; always 1");
    fputs("wattprof_build_info{version=\"", o->f);
    put_escaped(o->f, c->version ? c->version : "");
    fputs("\",features=\"", o->f);
    put_escaped(o->f, c->features ? c->features : "");
    fputs("\"} 1\n", o->f);

    family(o, "wattprof_job_info", INFO,
           "the host recorded and the Slurm job it runs in (slurm_job_id when SLURM_JOB_ID is "
           "set); always 1");
    fputs("wattprof_job_info{host=\"", o->f);
    put_escaped(o->f, c->host ? c->host : "");
    fputc('"', o->f);
    if (c->slurm_job_id && c->slurm_job_id[0]) {
        fputs(",slurm_job_id=\"", o->f);
        put_escaped(o->f, c->slurm_job_id);
        fputc('"', o->f);
    }
    fputs("} 1\n", o->f);

    family(o, "wattprof_up", GAUGE,
           "1 when the source instance answered its last poll, 0 while it is unavailable or "
           "gone");
    for (size_t i = 0; i < c->nsources && i < p->nsources; i++) {
        fputs("wattprof_up{source=\"", o->f);
        put_escaped(o->f, c->source_name[i]);
        fputs("\",kind=\"", o->f);
        put_escaped(o->f, c->source_kind[i]);
        fprintf(o->f, "\"} %d\n", p->up[i] ? 1 : 0);
    }

    family(o, "wattprof_phase_info", INFO,
           "the job's phases now open (begun and not yet ended, from its marks); always 1");
    for (int i = 0; i < p->nphases; i++) {
        fputs("wattprof_phase_info{phase=\"", o->f);
        put_escaped(o->f, p->phases[i]);
        fputs("\"} 1\n", o->f);
    }
    family(o, "wattprof_marks_total", COUNTER, "marks received from the job (begin, end, mark)");
    fprintf(o->f, "wattprof_marks_total %llu\n", (unsigned long long)p->marks_total);
}

static void render_power(struct out *o, const struct wp_metrics_ctx *c,
                         const struct wp_live_snapshot *p)
{
    const struct wp_sensors *t = c->sensors;
    family(o, "wattprof_power_watts", GAUGE, "the newest power sample of each power reading");
    for (size_t i = 0; i < nsens(c, p); i++)
        if (power_gauge(&t->v[i]) && p->s[i].has)
            sensor_sample(o, c, "wattprof_power_watts", &t->v[i], NULL,
                          wp_sensor_value(&t->v[i], p->s[i].raw) / 1000.0);
    static const struct {
        const char *name, *help;
    } win[] = {
        {"wattprof_power_max_watts",
         "highest power sample in the trailing window that ends at the reading's newest sample "
         "(every sample counts, whatever the scrape interval)"},
        {"wattprof_power_min_watts",
         "lowest power sample in the trailing window that ends at the reading's newest sample"},
        {"wattprof_power_mean_watts",
         "time-weighted mean power over the trailing window that ends at the reading's newest "
         "sample"},
    };
    for (int k = 0; k < 3; k++) {
        family(o, win[k].name, GAUGE, win[k].help);
        for (size_t i = 0; i < nsens(c, p); i++) {
            if (!power_gauge(&t->v[i]) || !p->s[i].has)
                continue;
            for (int w = 0; w < WP_LIVE_NWINDOWS; w++) {
                char extra[32];
                snprintf(extra, sizeof(extra), ",window=\"%s\"", window_label[w]);
                double mw = k == 0   ? wp_sensor_value(&t->v[i], p->s[i].max_raw[w])
                            : k == 1 ? wp_sensor_value(&t->v[i], p->s[i].min_raw[w])
                                     : p->s[i].mean_mw[w] * wp_sensor_scale(&t->v[i]);
                sensor_sample(o, c, win[k].name, &t->v[i], extra, mw / 1000.0);
            }
        }
    }
    family(o, "wattprof_power_limit_watts", GAUGE,
           "the reading's power limit (a GPU's enforced limit) where the device reports one");
    for (size_t i = 0; i < nsens(c, p); i++)
        if (power_gauge(&t->v[i]) && t->v[i].limit != WP_NO_LIMIT)
            sensor_sample(o, c, "wattprof_power_limit_watts", &t->v[i], NULL,
                          wp_sensor_value(&t->v[i], t->v[i].limit) / 1000.0);
    family(o, "wattprof_energy_joules_total", COUNTER,
           "energy integrated from every power sample since wattprof started (one reading per "
           "device: its finest); keeps rising when the device's own counter restarts");
    for (size_t i = 0; i < nsens(c, p); i++)
        if (power_gauge(&t->v[i]) && p->s[i].primary && p->s[i].has)
            sensor_sample(o, c, "wattprof_energy_joules_total", &t->v[i], NULL,
                          p->s[i].energy_mj / 1000.0);
    family(o, "wattprof_device_energy_joules", GAUGE,
           "the device's own energy counter as read (it restarts with the driver and may wrap)");
    for (size_t i = 0; i < nsens(c, p); i++)
        if (t->v[i].quantity == WP_Q_ENERGY && p->s[i].has)
            sensor_sample(o, c, "wattprof_device_energy_joules", &t->v[i], NULL,
                          wp_sensor_value(&t->v[i], p->s[i].raw) / 1000.0);
}

static void render_other(struct out *o, const struct wp_metrics_ctx *c,
                         const struct wp_live_snapshot *p)
{
    const struct wp_sensors *t = c->sensors;
    static const struct {
        enum wp_quantity q;
        const char *name, *help;
        double k; /* base units per canonical unit */
    } other[] = {
        {WP_Q_UTIL, "wattprof_utilization_ratio", "share of time the device was busy (0 to 1)",
         0.01},
        {WP_Q_CLOCK, "wattprof_clock_hertz", "the device's clock", 1e6},
        {WP_Q_TEMP, "wattprof_temperature_celsius", "the device's temperature", 1},
    };
    for (size_t k = 0; k < sizeof(other) / sizeof(other[0]); k++) {
        family(o, other[k].name, GAUGE, other[k].help);
        for (size_t i = 0; i < nsens(c, p); i++)
            if (t->v[i].quantity == other[k].q && p->s[i].has)
                sensor_sample(o, c, other[k].name, &t->v[i], NULL,
                              wp_sensor_value(&t->v[i], p->s[i].raw) * other[k].k);
    }
    family(o, "wattprof_samples_total", COUNTER, "samples received from the reading");
    for (size_t i = 0; i < nsens(c, p); i++)
        sensor_sample(o, c, "wattprof_samples_total", &t->v[i], NULL, (double)p->s[i].samples);
    family(o, "wattprof_sample_timestamp_seconds", GAUGE,
           "wall-clock time of the reading's newest sample (the end of its trailing windows)");
    for (size_t i = 0; i < nsens(c, p); i++)
        if (p->s[i].has) {
            /* %.15g would round microseconds away from a 10-digit epoch second. */
            fputs("wattprof_sample_timestamp_seconds{", o->f);
            sensor_labels(o->f, c, &t->v[i]);
            fprintf(o->f, "} %lld.%06lld\n", (long long)(p->s[i].t_us / 1000000),
                    (long long)(p->s[i].t_us % 1000000));
        }
}

static void render_node(struct out *o, const struct wp_metrics_ctx *c,
                        const struct wp_live_snapshot *p)
{
    struct wp_live_node n;
    wp_live_node_compute(c, p, &n);
    family(o, "wattprof_node_power_watts", GAUGE,
           "the node's power now: its input meter, else its PDU outlets summed, else the parts "
           "plus an allowance (basis estimated)");
    if (n.present)
        fprintf(o->f, "wattprof_node_power_watts{basis=\"%s\"}", n.basis), value(o->f, n.node_w);
    family(o, "wattprof_node_parts_power_watts", GAUGE,
           "the node's parts metered on their own (GPUs, CPU packages or psys, DRAM), summed");
    if (!isnan(n.parts_w))
        fputs("wattprof_node_parts_power_watts", o->f), value(o->f, n.parts_w);
    family(o, "wattprof_node_rest_watts", GAUGE,
           "measured node power minus its metered parts (fans, NICs, PSU losses)");
    if (!isnan(n.rest_w))
        fputs("wattprof_node_rest_watts", o->f), value(o->f, n.rest_w);
    family(o, "wattprof_node_rated_watts", GAUGE, "the node's rated power, when given");
    if (!isnan(c->rated_w))
        fputs("wattprof_node_rated_watts", o->f), value(o->f, c->rated_w);
    family(o, "wattprof_node_headroom_watts", GAUGE, "rated power minus node power now");
    if (!isnan(n.headroom_w))
        fputs("wattprof_node_headroom_watts", o->f), value(o->f, n.headroom_w);
}

int wp_metrics_render(const struct wp_metrics_ctx *c, const struct wp_live_snapshot *snap,
                      bool openmetrics, char **out, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    struct out o = {.f = open_memstream(&buf, &n), .om = openmetrics};
    if (!o.f)
        return -ENOMEM;
    render_build(&o, c, snap);
    render_power(&o, c, snap);
    render_node(&o, c, snap);
    render_other(&o, c, snap);
    if (openmetrics)
        fputs("# EOF\n", o.f);
    bool bad = ferror(o.f);
    if (fclose(o.f) != 0 || bad) {
        free(buf);
        return -ENOMEM;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Prometheus sends e.g. "application/openmetrics-text;version=1.0.0,application/
 * openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*\/\*;q=0.1". */
bool wp_metrics_wants_openmetrics(const char *accept)
{
    if (!accept)
        return false;
    const char *p = accept;
    while ((p = strcasestr(p, "application/openmetrics-text"))) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *q = strcasestr(p, "q=");
        bool refused = false;
        if (q && (size_t)(q - p) < n) {
            char *e;
            double v = strtod(q + 2, &e);
            refused = e != q + 2 && v <= 0;
        }
        if (!refused)
            return true;
        p += n;
    }
    return false;
}
