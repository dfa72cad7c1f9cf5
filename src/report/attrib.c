/* Text and JSON of energy per process (src/analysis/attrib.h). */
#include <math.h>

#include "analysis/attrib.h"
#include "core/json.h"

static const char method[] =
    "each interval's GPU energy split by the processes' SM utilisation in it; power is per "
    "physical GPU (MIG instances included)";

static double share(const struct wp_gpu_attrib *g, double e)
{
    return g->energy_j > 0 ? e / g->energy_j * 100.0 : NAN;
}

void wp_attrib_print_text(FILE *f, const struct wp_attrib *a)
{
    if (a->ngpus == 0)
        return;
    fprintf(f, "\nenergy by process: %s.\n", method);
    fprintf(f, "%4s %14s %10s %8s %10s\n", "gpu", "pid", "energy J", "share %", "mean SM %");
    for (size_t i = 0; i < a->ngpus; i++) {
        const struct wp_gpu_attrib *g = &a->gpus[i];
        for (size_t k = 0; k < g->nprocs; k++)
            fprintf(f, "%4d %14lld %10.1f %8.1f %10.1f\n", g->index, (long long)g->procs[k].pid,
                    g->procs[k].energy_j, share(g, g->procs[k].energy_j), g->procs[k].mean_sm_pct);
        fprintf(f, "%4d %14s %10.1f %8.1f\n", g->index, "idle", g->idle_j, share(g, g->idle_j));
        fprintf(f, "%4d %14s %10.1f %8.1f\n", g->index, "unattributed", g->unattributed_j,
                share(g, g->unattributed_j));
    }
    fputs("idle: no process used the SMs, or none was seen between two reads; unattributed: "
          "before the first or after the last per-process sample.\n",
          f);
    if (a->nphases == 0)
        return;
    fputs("\nphases by the process that marked them (its own share of the GPUs):\n", f);
    fprintf(f, "%-28s %10s %9s %10s %12s\n", "phase", "pid", "time s", "its J", "all GPUs J");
    for (size_t i = 0; i < a->nphases; i++) {
        const struct wp_job_phase *p = &a->phases[i];
        char name[32];
        snprintf(name, sizeof(name), "%.26s%s", p->name, p->open_ended ? "+" : "");
        for (char *c = name; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        fprintf(f, "%-28s %10lld %9.3f %10.1f %12.1f\n", name, (long long)p->pid,
                (double)(p->t1_us - p->t0_us) / 1e6, p->energy_j, p->gpus_energy_j);
    }
}

void wp_attrib_write_json(struct wp_json *j, const struct wp_attrib *a)
{
    wp_json_key(j, "processes");
    wp_json_obj_begin(j);
    wp_json_kstr(j, "method", method);
    wp_json_key(j, "gpus");
    wp_json_arr_begin(j);
    for (size_t i = 0; i < a->ngpus; i++) {
        const struct wp_gpu_attrib *g = &a->gpus[i];
        wp_json_obj_begin(j);
        wp_json_kint(j, "index", g->index);
        wp_json_kstr(j, "uuid", g->uuid[0] ? g->uuid : NULL);
        wp_json_kdouble(j, "energy_j", g->energy_j);
        wp_json_kdouble(j, "idle_j", g->idle_j);
        wp_json_kdouble(j, "unattributed_j", g->unattributed_j);
        wp_json_key(j, "processes");
        wp_json_arr_begin(j);
        for (size_t k = 0; k < g->nprocs; k++) {
            wp_json_obj_begin(j);
            wp_json_kint(j, "pid", g->procs[k].pid);
            wp_json_kdouble(j, "energy_j", g->procs[k].energy_j);
            wp_json_kdouble(j, "share_pct", share(g, g->procs[k].energy_j));
            wp_json_kdouble(j, "mean_sm_pct", g->procs[k].mean_sm_pct);
            wp_json_kuint(j, "rounds", g->procs[k].rounds);
            wp_json_obj_end(j);
        }
        wp_json_arr_end(j);
        wp_json_obj_end(j);
    }
    wp_json_arr_end(j);
    wp_json_key(j, "job_phases");
    wp_json_arr_begin(j);
    for (size_t i = 0; i < a->nphases; i++) {
        const struct wp_job_phase *p = &a->phases[i];
        wp_json_obj_begin(j);
        wp_json_kstr(j, "name", p->name);
        wp_json_kint(j, "pid", p->pid);
        wp_json_kint(j, "t0_us", p->t0_us);
        wp_json_kint(j, "t1_us", p->t1_us);
        wp_json_kbool(j, "open_ended", p->open_ended);
        wp_json_kdouble(j, "energy_j", p->energy_j);
        wp_json_kdouble(j, "gpus_energy_j", p->gpus_energy_j);
        wp_json_obj_end(j);
    }
    wp_json_arr_end(j);
    wp_json_obj_end(j);
}
