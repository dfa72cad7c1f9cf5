/* Text and JSON of the cluster view (src/analysis/cluster.h). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "analysis/cluster.h"
#include "report/report.h"
#include "core/json.h"

/* The name without control characters, padded to width. */
static void put_host(FILE *f, const char *h, size_t width)
{
    for (size_t n = wp_report_put_clean(f, h, SIZE_MAX); n < width; n++)
        putc(' ', f);
}

void wp_cluster_print_text(FILE *f, const struct wp_cluster_summary *c)
{
    for (size_t i = 0; i < c->nnodes; i++) {
        fputs("==== node ", f);
        put_host(f, c->nodes[i].host, 0);
        fputs(" ====\n", f);
        wp_summary_print_text(f, &c->nodes[i].s);
        fputc('\n', f);
    }
    char b[4][32];
    fprintf(f,
            "==== cluster: %zu nodes, %zu GPUs, %.3f s from the first node's start to the last "
            "node's end ====\n",
            c->nnodes, c->ngpus, c->duration_s);
    fprintf(f, "%-24s %5s %14s %14s %10s\n", "node", "gpus", "GPU energy J", "node energy J",
            "GPU peak W");
    for (size_t i = 0; i < c->nnodes; i++) {
        const struct wp_summary *s = &c->nodes[i].s;
        put_host(f, c->nodes[i].host, 24);
        fprintf(f, " %5zu %14s %14s%s %10s\n", s->ngpus,
                wp_report_num(b[0], 32, "%.1f", s->ngpus ? s->total.energy_j : NAN),
                wp_report_num(b[1], 32, "%.1f", s->node.present ? s->node.energy_j : NAN),
                s->node.present && s->node.estimated ? "*" : " ",
                wp_report_num(b[2], 32, "%.1f", s->total.peak_w));
    }
    fprintf(f, "%-24s %5zu %14s %14s%s %10s\n", "cluster", c->ngpus,
            wp_report_num(b[0], 32, "%.1f", c->gpu_energy_j),
            wp_report_num(b[1], 32, "%.1f", c->node_energy_j), c->node_estimated ? "*" : " ",
            wp_report_num(b[2], 32, "%.1f", c->gpu_peak_w));
    if (c->node_estimated)
        fputs("* estimated: that node has no node meter (see its node block above)\n", f);
    if (isfinite(c->gpu_peak_w))
        fprintf(f,
                "cluster GPU peak %.1f W (every GPU summed on one %.0f ms grid), %.3f s after "
                "the start; highest 1 s mean %s W; over the %.1f s all GPUs recorded together\n",
                c->gpu_peak_w, (double)c->step_us / 1000.0,
                (double)(c->gpu_peak_t_us - c->start_us) / 1e6,
                wp_report_num(b[3], 32, "%.1f", c->gpu_peak_1s_w), c->common_s);
    else
        fputs("cluster GPU peak: - (the GPUs never recorded all at the same time, or one has "
              "no power series)\n",
              f);
    fputs("node GPU peak W is each node's own; the cluster's is aligned in time, so it is at "
          "most their sum.\n",
          f);
    if (c->partial)
        fputs("PARTIAL: a node has unmeasured GPUs or damaged data (see its block); the totals "
              "leave them out.\n",
              f);
}

static void cluster_obj(struct wp_json *j, const struct wp_cluster_summary *c)
{
    wp_json_obj_begin(j);
    wp_json_kuint(j, "nodes", c->nnodes);
    wp_json_kuint(j, "gpus", c->ngpus);
    wp_json_kint(j, "start_us", c->start_us);
    wp_json_kint(j, "end_us", c->end_us);
    wp_json_kdouble(j, "duration_s", c->duration_s);
    wp_json_kdouble(j, "gpu_energy_j", c->gpu_energy_j);
    wp_json_kdouble(j, "node_energy_j", c->node_energy_j);
    wp_json_kbool(j, "node_estimated", c->node_estimated);
    wp_json_kint(j, "step_us", c->step_us);
    wp_json_kdouble(j, "common_s", c->common_s);
    wp_json_kdouble(j, "gpu_peak_w", c->gpu_peak_w);
    if (isfinite(c->gpu_peak_w))
        wp_json_kint(j, "gpu_peak_t_us", c->gpu_peak_t_us);
    else
        wp_json_knull(j, "gpu_peak_t_us");
    wp_json_kdouble(j, "gpu_peak_1s_w", c->gpu_peak_1s_w);
    wp_json_kbool(j, "partial", c->partial);
    wp_json_key(j, "per_node");
    wp_json_arr_begin(j);
    for (size_t i = 0; i < c->nnodes; i++) {
        const struct wp_summary *s = &c->nodes[i].s;
        wp_json_obj_begin(j);
        wp_json_kstr(j, "host", c->nodes[i].host);
        wp_json_kuint(j, "gpus", s->ngpus);
        wp_json_kdouble(j, "gpu_energy_j", s->ngpus ? s->total.energy_j : NAN);
        wp_json_kdouble(j, "node_energy_j", s->node.present ? s->node.energy_j : NAN);
        wp_json_kbool(j, "node_estimated", s->node.present && s->node.estimated);
        wp_json_kdouble(j, "gpu_peak_w", s->total.peak_w);
        wp_json_obj_end(j);
    }
    wp_json_arr_end(j);
    wp_json_obj_end(j);
}

int wp_cluster_write_json(FILE *f, const struct wp_cluster_summary *c)
{
    /* The node summaries are complete documents of their own writer; they are placed
     * between the pieces written here. */
    fputs("{\"cluster\": ", f);
    struct wp_json j;
    wp_json_init(&j, f, 2);
    cluster_obj(&j, c);
    int rc = wp_json_end(&j);
    fputs(", \"nodes\": [\n", f);
    for (size_t i = 0; rc == 0 && i < c->nnodes; i++) {
        fputs(i ? ", {\"node\": " : "{\"node\": ", f);
        if (wp_json_write_string(f, c->nodes[i].host) < 0)
            return -EIO;
        fputs(", \"summary\": ", f);
        rc = wp_summary_write_json(f, &c->nodes[i].s);
        fputs("}\n", f);
    }
    fputs("]}\n", f);
    if (rc == 0 && (fflush(f) != 0 || ferror(f)))
        rc = -EIO;
    return rc;
}
