/* Internal to src/analysis: the node view of the summary (node.c). wp_summary_compute loads the
 * node's meters before it settles the run window (a trace with no GPUs has only these to
 * span it), then computes the node block once the GPUs are done. */
#ifndef WP_NODE_H
#define WP_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "analysis/summary.h"

/* A power series scaled in place from the sensor's raw unit to mW (values are stored raw: a
 * uW meter has scale 0.001). Sub-mW remainders are rounded off. -ERANGE with a message when
 * a value does not fit. Counters are left raw: they wrap in raw units. */
int wp_series_to_canonical(struct wp_series *s, const struct wp_sensor *row, struct wp_err *err);

struct wp_node_work;

/* Picks the node's meters (node input, PDU outlets, CPU packages/psys, DRAM) and, when
 * need_span (the run has no start or end of its own), widens [*lo, *hi] to their data. *out is
 * NULL when the trace has none. */
int wp_node_load(const struct wp_trace *t, struct wp_node_work **out, bool need_span, int64_t *lo,
                 int64_t *hi, struct wp_err *err);
/* Reads every meter once (streaming, as the GPUs are) and fills s->node over s's run window;
 * the GPU part and the GPU-sum peak come from s->total, gpu_source names the instance(s) the
 * GPUs were read from. w may be NULL. */
int wp_node_compute(const struct wp_trace *t, struct wp_node_work *w, const struct wp_meta *meta,
                    const struct wp_summary_opts *opts, const char *gpu_source,
                    struct wp_summary *s, struct wp_err *err);
void wp_node_work_free(struct wp_node_work *w);

#endif
