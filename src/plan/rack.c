/* Rack power by Monte Carlo over measured node series, and cooling figures (see rack.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan/rack.h"

/* splitmix64: small, seedable, and good enough to draw time shifts. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t draw(uint64_t *s, size_t n)
{
    return (size_t)(next_u64(s) % (uint64_t)n);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct_sorted(const double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double r = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)r;
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (v[lo + 1] - v[lo]) * (r - (double)lo);
}

/* Keeps at most this many values per level for the percentiles (positions are then taken at
 * a stride); the exceedance counts use every position. */
#define KEEP_MAX 2000000u

int wp_rack_simulate(const struct wp_rack_node *nodes, size_t nnodes, const struct wp_rack_opts *o,
                     struct wp_rack_result *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    if (nnodes == 0 || o->nodes == 0 || o->trials == 0 || o->step_us <= 0)
        return wp_errf(err, -EINVAL, "a rack needs at least one node series, node and trial");
    size_t L = 0;
    for (size_t i = 0; i < nnodes; i++) {
        if (nodes[i].n == 0)
            return wp_errf(err, -EINVAL, "node series %zu is empty", i + 1);
        for (size_t k = 0; k < nodes[i].n; k++)
            if (!isfinite(nodes[i].w[k]))
                return wp_errf(err, -EINVAL, "node series %zu has a missing point at %zu", i + 1,
                               k);
        if (nodes[i].n > L)
            L = nodes[i].n;
    }
    out->usable_w = o->budget_w * o->derate;
    double *rack = malloc(sizeof(double) * L);
    double *prefix = malloc(sizeof(double) * (2 * L + 1));
    size_t *shift = malloc(sizeof(size_t) * o->nodes);
    double *keep[WP_RACK_LEVELS] = {0};
    size_t nkeep[WP_RACK_LEVELS] = {0}, stride[WP_RACK_LEVELS], m[WP_RACK_LEVELS];
    uint64_t over[WP_RACK_LEVELS] = {0}, total[WP_RACK_LEVELS] = {0};
    double sum[WP_RACK_LEVELS] = {0};
    int rc = 0;
    if (!rack || !prefix || !shift) {
        rc = wp_errf(err, -ENOMEM, "out of memory simulating a rack of %zu points", L);
        goto out;
    }
    for (int l = 0; l < WP_RACK_LEVELS; l++) {
        out->level[l].window_us = o->window_us[l];
        m[l] = (size_t)(o->window_us[l] / o->step_us);
        if (m[l] < 1)
            m[l] = 1;
        out->level[l].valid = m[l] <= L;
        size_t want = L * o->trials;
        stride[l] = want > KEEP_MAX ? (want + KEEP_MAX - 1) / KEEP_MAX : 1;
        keep[l] = malloc(sizeof(double) * (want / stride[l] + o->trials + 1));
        if (!keep[l]) {
            rc = wp_errf(err, -ENOMEM, "out of memory keeping rack power values");
            goto out;
        }
    }
    uint64_t seed = o->seed;
    for (size_t tr = 0; tr < o->trials; tr++) {
        for (size_t i = 0; i < o->nodes; i++) {
            const struct wp_rack_node *nd = &nodes[i % nnodes];
            /* In step: the same moment of the load in every node. */
            shift[i] = (o->in_step && i > 0) ? shift[0] % nd->n : draw(&seed, nd->n);
        }
        for (size_t t = 0; t < L; t++) {
            double s = 0;
            for (size_t i = 0; i < o->nodes; i++) {
                const struct wp_rack_node *nd = &nodes[i % nnodes];
                s += nd->w[(t + shift[i]) % nd->n];
            }
            rack[t] = s;
        }
        prefix[0] = 0;
        for (size_t t = 0; t < 2 * L; t++)
            prefix[t + 1] = prefix[t] + rack[t % L];
        for (int l = 0; l < WP_RACK_LEVELS; l++) {
            if (!out->level[l].valid)
                continue;
            for (size_t t = 0; t < L; t++) {
                double v = (prefix[t + m[l]] - prefix[t]) / (double)m[l];
                sum[l] += v;
                total[l]++;
                /* A hair of tolerance: a sum of equal doubles must not read as above a budget
                 * it equals. */
                if (v > out->usable_w * (1 + 1e-12))
                    over[l]++;
                if ((tr * L + t) % stride[l] == 0)
                    keep[l][nkeep[l]++] = v;
            }
        }
    }
    for (int l = 0; l < WP_RACK_LEVELS; l++) {
        struct wp_rack_level *lv = &out->level[l];
        if (!lv->valid) {
            lv->p50_w = lv->p99_w = lv->p999_w = lv->max_w = lv->mean_w = lv->p_exceed = NAN;
            continue;
        }
        qsort(keep[l], nkeep[l], sizeof(double), cmp_d);
        lv->p50_w = pct_sorted(keep[l], nkeep[l], 50);
        lv->p99_w = pct_sorted(keep[l], nkeep[l], 99);
        lv->p999_w = pct_sorted(keep[l], nkeep[l], 99.9);
        lv->max_w = keep[l][nkeep[l] - 1];
        lv->mean_w = sum[l] / (double)total[l];
        lv->p_exceed = (double)over[l] / (double)total[l];
    }
out:
    for (int l = 0; l < WP_RACK_LEVELS; l++)
        free(keep[l]);
    free(rack);
    free(prefix);
    free(shift);
    return rc;
}

int wp_rack_max_nodes(const struct wp_rack_node *nodes, size_t nnodes,
                      const struct wp_rack_opts *opts, double risk, size_t max_nodes, size_t *out,
                      struct wp_err *err)
{
    *out = 0;
    struct wp_rack_opts o = *opts;
    int lv = opts->risk_level;
    if (lv < 0 || lv >= WP_RACK_LEVELS)
        return wp_errf(err, -EINVAL, "no such averaging window for the risk");
    /* More nodes never lower rack power at any moment (power is not negative), so the chance
     * of exceeding grows with the count: stop at the first count that fails. */
    for (size_t n = 1; n <= max_nodes; n++) {
        o.nodes = n;
        struct wp_rack_result r;
        int rc = wp_rack_simulate(nodes, nnodes, &o, &r, err);
        if (rc < 0)
            return rc;
        if (!r.level[lv].valid)
            return wp_errf(err, -EINVAL,
                           "the node series are shorter than the risk's averaging window");
        if (r.level[lv].p_exceed > risk)
            break;
        *out = n;
    }
    return 0;
}

/* ---- cooling ---- */
static const struct {
    const char *name;
    double pue;
    const char *source;
} cooling[] = {
    /* The industry's average annual PUE, mostly air-cooled rooms: 1.58 in the Uptime Institute
     * Global Data Center Survey 2023. */
    [WP_COOL_AIR] = {"air", 1.58, "Uptime Institute Global Data Center Survey 2023 (average)"},
    /* No survey figure for rear-door heat exchangers was found: the value is our assumption,
     * between the air and liquid figures. Pass --pue with your site's figure. */
    [WP_COOL_RDHX] = {"rdhx", 1.30, "assumption (no survey figure; between air and liquid)"},
    /* Warm-water direct liquid cooling: NREL's ESIF HPC data center was designed for an annual
     * PUE of 1.06 (NREL, Energy Systems Integration Facility data center). */
    [WP_COOL_DLC] = {"dlc", 1.06, "NREL ESIF HPC data center design PUE (warm-water liquid)"},
};

double wp_cooling_default_pue(enum wp_cooling c)
{
    return cooling[c].pue;
}

const char *wp_cooling_name(enum wp_cooling c)
{
    return cooling[c].name;
}

const char *wp_cooling_pue_source(enum wp_cooling c)
{
    return cooling[c].source;
}

int wp_cooling_parse(const char *s, enum wp_cooling *out)
{
    for (size_t i = 0; i < sizeof(cooling) / sizeof(cooling[0]); i++)
        if (strcmp(s, cooling[i].name) == 0) {
            *out = (enum wp_cooling)i;
            return 0;
        }
    return -EINVAL;
}

void wp_cooling_compute(double heat_w, double dt_air_k, double dt_water_k, double pue,
                        struct wp_cooling_need *out)
{
    out->heat_w = heat_w;
    /* Q = m' cp dT: mass flow m' = Q / (cp dT); volume flow = m' / density. */
    double air_kg_s = heat_w / (WP_AIR_CP_J_KG_K * dt_air_k);
    out->air_m3_per_h = air_kg_s / WP_AIR_DENSITY_KG_M3 * 3600.0;
    out->air_cfm = out->air_m3_per_h * WP_M3H_TO_CFM;
    double water_kg_s = heat_w / (WP_WATER_CP_J_KG_K * dt_water_k);
    out->water_l_per_min = water_kg_s / WP_WATER_DENSITY_KG_M3 * 1000.0 * 60.0;
    out->facility_w = heat_w * pue;
}
