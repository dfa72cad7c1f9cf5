/* The metrics page of `wattprof serve`: a live snapshot (src/recorder/live.h) as Prometheus
 * text (version 0.0.4) or OpenMetrics 1.0. Pure formatting: no server, no threads, so tests
 * feed it snapshots they build themselves. Names and units follow Prometheus' conventions
 * (base units: watts, joules, seconds; counters end in _total); docs/serve.md lists every
 * metric. */
#ifndef WP_METRICS_H
#define WP_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/sensor.h"
#include "recorder/live.h"

struct wp_metrics_ctx {
    const struct wp_sensors *sensors;
    size_t nsources;
    const char *const *source_name; /* nsources instance names ("nvml", "pdu-a") */
    const char *const *source_kind; /* and their kinds */
    const char *host;
    const char *slurm_job_id; /* NULL when not in a Slurm job */
    const char *version;
    const char *features;    /* for build_info, e.g. "tls,basic_auth" */
    double rated_w;          /* the node's rating, NAN when unknown */
    double node_allowance_w; /* for an estimated node, NAN = the default share */
};

/* The live node view: node power from the node input meter, else the sum of the PDU outlets,
 * else estimated from the parts; the parts (GPUs, CPU packages or psys, DRAM; nothing counted
 * twice) and the rest of the node. NAN where unknown. */
struct wp_live_node {
    bool present;
    const char *basis; /* "node_input", "pdu_outlets", "estimated" */
    double node_w, parts_w, rest_w, headroom_w;
};
void wp_live_node_compute(const struct wp_metrics_ctx *c, const struct wp_live_snapshot *snap,
                          struct wp_live_node *out);

/* Renders the page into a malloc'd, NUL-terminated buffer. -ENOMEM. */
int wp_metrics_render(const struct wp_metrics_ctx *c, const struct wp_live_snapshot *snap,
                      bool openmetrics, char **out, size_t *len);

#define WP_METRICS_CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define WP_METRICS_CONTENT_TYPE_OM   "application/openmetrics-text; version=1.0.0; charset=utf-8"
/* True when an HTTP Accept header asks for OpenMetrics (and does not refuse it with q=0). */
bool wp_metrics_wants_openmetrics(const char *accept);

#endif
