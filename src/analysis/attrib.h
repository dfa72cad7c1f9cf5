/* Energy per process on shared GPUs. Method: a GPU's energy in each interval between two rounds of
 * per-process samples (nvmlDeviceGetProcessUtilization: each sample is a process's SM utilisation
 * over the driver's last sampling period, stamped at its end) is split between the processes in
 * proportion to their SM utilisation in that round (a process alone on its GPU is stored with the
 * GPU's utilisation instead, nvml's procs_solo: it gets the whole round either way); a round where
 * no process used the SMs is "idle", and so is a gap between rounds longer than two rounds and a
 * second, beyond the round's own length (no process seen, or an idle GPU the recorder did not ask
 * about); time before the first round (beyond one round's length) and after the last is
 * "unattributed". A round's length is the recorder's period for the sensor (nvml's procs_period,
 * 1 s in traces before it), else the median spacing of the rounds. Energy comes from the GPU's
 * finest power series, as in the summary. So a process's energy is its share of the whole GPU's
 * power, its idle and static part included: power is metered per physical GPU, and under MIG too
 * the driver gives one power for the GPU, so instances are split by the SM shares of the processes
 * in them. */
#ifndef WP_ATTRIB_H
#define WP_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "store/trace.h"

struct wp_proc_energy {
    int64_t pid;
    double energy_j;
    /* mean SM utilisation over the rounds it was seen in; in a round where it was alone on
     * its GPU the recorder stores the GPU's utilisation (nvml procs_solo), not a per-process
     * reading: the share of time any kernel ran, which for one process is its own */
    double mean_sm_pct;
    size_t rounds; /* rounds it had a sample in */
};

struct wp_gpu_attrib {
    int index;
    char uuid[96];
    double energy_j;       /* the GPU's energy over the window */
    double idle_j;         /* in rounds with no process busy, and in gaps between rounds */
    double unattributed_j; /* not covered by any round */
    size_t nprocs;
    struct wp_proc_energy *procs; /* by energy, highest first */
};

/* A phase of a marks-sending job: begin/end marks from one process (the kernel attests the
 * sender's pid, src/marks). Its energy is that process's share of every GPU inside the phase,
 * so two jobs sharing a GPU each get their own part, not the whole GPU. This needs the marks to
 * come from the process that uses the GPU (as when each rank marks its own phases); a phase
 * marked by a launcher whose children do the work gets 0. */
struct wp_job_phase {
    char name[WP_MARK_NAME_MAX + 1];
    int64_t pid;
    int64_t t0_us, t1_us;
    bool open_ended;
    double energy_j;      /* the sender's share, all GPUs */
    double gpus_energy_j; /* the GPUs with per-process samples, whole, in the same window */
};

struct wp_attrib {
    int64_t from_us, to_us;
    size_t ngpus; /* GPUs that have per-process samples */
    struct wp_gpu_attrib *gpus;
    size_t nphases;
    struct wp_job_phase *phases;
};

/* Splits every GPU's energy over [from_us, to_us] (the summary's run window) between its
 * processes. A trace without per-process samples gives ngpus = 0. */
int wp_attrib_compute(const struct wp_trace *t, int64_t from_us, int64_t to_us,
                      struct wp_attrib *out, struct wp_err *err);
void wp_attrib_free(struct wp_attrib *a);

/* src/report/attrib.c */
void wp_attrib_print_text(FILE *f, const struct wp_attrib *a);
struct wp_json;
/* "processes": {"method": "...", "gpus": [{"index", "uuid", "energy_j", "idle_j",
 *   "unattributed_j", "processes": [{"pid", "energy_j", "share_pct", "mean_sm_pct",
 *   "rounds"}]}], "job_phases": [{"name", "pid", "t0_us", "t1_us", "open_ended", "energy_j",
 *   "gpus_energy_j"}]} as a member of the object being written. */
void wp_attrib_write_json(struct wp_json *j, const struct wp_attrib *a);

#endif
