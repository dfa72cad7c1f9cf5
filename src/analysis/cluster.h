/* The cluster view of a merged trace (wattprof merge): each node's own summary, the nodes'
 * totals, and the cluster's aligned peak, i.e. every GPU of every node summed on one common
 * time grid (the power a shared feed sees at once), not the sum of the nodes' peaks, which
 * happen at different moments. */
#ifndef WP_CLUSTER_H
#define WP_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/summary.h"

struct wp_cluster_node {
    char host[WP_HOST_MAX];
    struct wp_summary s; /* exactly the summary of the node's own trace */
};

struct wp_cluster_summary {
    size_t nnodes;
    struct wp_cluster_node *nodes;
    int64_t start_us, end_us; /* first node's start to last node's end (wall clock) */
    double duration_s;
    size_t ngpus;
    double gpu_energy_j;  /* sum of the nodes' GPU totals; NAN when any node's is missing */
    double node_energy_j; /* sum of the nodes' node energy; NAN when any node has none */
    bool node_estimated;  /* some node's node energy is an estimate (no node meter) */
    /* All GPUs of all nodes summed on a grid of step_us (their finest cadence), over the time
     * every one of them was recording (common_s of it): the highest point, when it was, and
     * the highest 1 s mean of that sum. NAN when the GPUs never recorded all at once. */
    int64_t step_us;
    double common_s;
    double gpu_peak_w;
    int64_t gpu_peak_t_us;
    double gpu_peak_1s_w;
    bool partial; /* a node has unmeasured GPUs or damaged data: totals leave them out */
};

/* Summarises every node of a merged trace t (wp_trace_nnodes(t) > 0). -EINVAL when t is a
 * node's own trace. */
int wp_cluster_compute(const struct wp_trace *t, const struct wp_summary_opts *opts,
                       struct wp_cluster_summary *out, struct wp_err *err);
void wp_cluster_free(struct wp_cluster_summary *c);

/* src/report/cluster.c: each node's summary under its name, then the cluster block. */
void wp_cluster_print_text(FILE *f, const struct wp_cluster_summary *c);
/* {"cluster": {"nodes", "gpus", "start_us", "end_us", "duration_s", "gpu_energy_j",
 *   "node_energy_j", "node_estimated", "step_us", "common_s", "gpu_peak_w", "gpu_peak_t_us",
 *   "gpu_peak_1s_w", "partial",
 *   "per_node": [{"host", "gpus", "gpu_energy_j", "node_energy_j", "node_estimated",
 *                 "gpu_peak_w"}]},
 *  "nodes": [{"node": HOST, "summary": the node's summary as `report --json` writes it}]} */
int wp_cluster_write_json(FILE *f, const struct wp_cluster_summary *c);

#endif
