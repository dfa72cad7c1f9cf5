/* Rack capacity from measured node power: Monte Carlo over node power series with random time
 * shifts, and the heat those nodes make (air and coolant flow, facility power through a PUE).
 * Nothing here prints or reads a trace. */
#ifndef WP_RACK_H
#define WP_RACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Continuous loads (3 h or more) may use 80 % of a breaker's rating: US National Electrical
 * Code (NFPA 70) 210.19(A)(1) and 210.20(A) size the circuit at 125 % of a continuous load. */
#define WP_DERATE_CONTINUOUS 0.80
/* NVIDIA's rated power of an H100 or H200 SXM GPU (board TDP, also the default power limit the
 * driver reports on both: docs/validation.md), and of the 8-GPU DGX/HGX H100/H200 system
 * (NVIDIA DGX H100/H200 datasheets: "10.2 kW max"). */
#define WP_TDP_H100_H200_W  700.0
#define WP_HGX_8GPU_RATED_W 10200.0

/* One node's power on a uniform grid of step_us, taken as one period of a repeating load. */
struct wp_rack_node {
    size_t n;
    const double *w;
};

enum { WP_RACK_LEVELS = 3 };

struct wp_rack_opts {
    int64_t step_us; /* grid of every node series (20 ms for the H200 buffer) */
    size_t nodes;    /* nodes in the rack */
    bool in_step;    /* one synchronous job: every node gets the same shift */
    double budget_w; /* the rack's (PDU's, breaker's) rating */
    double derate;   /* share of the budget usable continuously (WP_DERATE_CONTINUOUS) */
    size_t trials;   /* Monte Carlo draws of the shifts */
    uint64_t seed;
    /* Averaging windows for the distribution: 20 ms (one grid step), 1 s, 60 s by default. */
    int64_t window_us[WP_RACK_LEVELS];
    int risk_level; /* which window the risk applies to (1: 1 s, what breakers and PDUs
                       trip on far sooner than minutes, yet slower than 20 ms) */
};

struct wp_rack_level {
    int64_t window_us;
    bool valid; /* the series are long enough for this window */
    double p50_w, p99_w, p999_w, max_w, mean_w;
    double p_exceed; /* share of window positions x trials above budget x derate */
};

struct wp_rack_result {
    double usable_w; /* budget x derate */
    struct wp_rack_level level[WP_RACK_LEVELS];
};

/* Rack power of opts->nodes nodes, node i drawing nodes[i % nnodes], each shifted by a uniform
 * random whole number of grid steps (the same shift for all when in_step); the rack series is
 * as long as the longest node series, node series repeat (circular). Windowed means are
 * sliding over the circular series. Returns 0, -EINVAL (message says which input), -ENOMEM. */
int wp_rack_simulate(const struct wp_rack_node *nodes, size_t nnodes,
                     const struct wp_rack_opts *opts, struct wp_rack_result *out,
                     struct wp_err *err);

/* The most nodes (up to max_nodes) whose chance of exceeding the usable budget at
 * risk_level stays at or below risk; 0 when even one node exceeds it. */
int wp_rack_max_nodes(const struct wp_rack_node *nodes, size_t nnodes,
                      const struct wp_rack_opts *opts, double risk, size_t max_nodes, size_t *out,
                      struct wp_err *err);

/* ---- cooling ---- */
/* Dry air at 20 C and 101.325 kPa: density 1.204 kg/m3, specific heat 1005 J/(kg K)
 * (standard property tables, e.g. the CRC Handbook of Chemistry and Physics). */
#define WP_AIR_DENSITY_KG_M3 1.204
#define WP_AIR_CP_J_KG_K     1005.0
/* Liquid water near 15-20 C: 4186 J/(kg K) (the 15 C calorie is 4.1855 J/g/K), 998 kg/m3. */
#define WP_WATER_CP_J_KG_K     4186.0
#define WP_WATER_DENSITY_KG_M3 998.0
#define WP_M3H_TO_CFM          0.588578 /* 1 m3/h = 35.3147 ft3 / 60 min */

enum wp_cooling { WP_COOL_AIR, WP_COOL_RDHX, WP_COOL_DLC };
/* PUE per cooling technology; the sources are in rack.c beside the values. */
double wp_cooling_default_pue(enum wp_cooling c);
const char *wp_cooling_name(enum wp_cooling c);
const char *wp_cooling_pue_source(enum wp_cooling c);
int wp_cooling_parse(const char *s, enum wp_cooling *out);

struct wp_cooling_need {
    double heat_w;       /* all electrical power becomes heat in the room */
    double air_m3_per_h; /* to carry heat_w at the air temperature rise */
    double air_cfm;
    double water_l_per_min; /* coolant flow for heat_w at the coolant temperature rise */
    double facility_w;      /* heat_w x pue */
};
/* heat_w at air rise dt_air_k and coolant rise dt_water_k (both > 0). */
void wp_cooling_compute(double heat_w, double dt_air_k, double dt_water_k, double pue,
                        struct wp_cooling_need *out);

#endif
