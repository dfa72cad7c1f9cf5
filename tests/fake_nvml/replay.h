/* The recorded trace behind the fake NVML: loading a `gpu,ts_us,mw` CSV (plain or gzip) and
 * the arithmetic that replays it as an endless, periodic power signal per recorded GPU.
 * Nothing here knows about NVML; fake_nvml.c maps these series onto the NVML calls. */
#ifndef FK_REPLAY_H
#define FK_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* Not part of the fake's ABI: keep these out of libnvidia-ml.so.1's dynamic symbol table. */
#define FK_HIDDEN __attribute__((visibility("hidden")))

#define FK_MAX_FILE_GPUS 64
#define FK_MAX_GPU_ID    1023
/* Guards the nJ integer arithmetic: 10 kW is far above any GPU, and a file holding more is
 * almost certainly in the wrong unit. */
#define FK_MAX_MW 10000000u

/* One recorded GPU. Times are relative to the trace's first row (any GPU), in us. The series
 * is extended periodically in both directions: virtual sample j = k*n + i (k any integer,
 * 0 <= i < n) is recorded sample i shifted by k periods. Its power holds from its own time to
 * the next sample's time (left-hold), the way the driver's 20 ms samples tile time. */
struct fk_series {
    size_t n;
    int64_t *t_us;
    uint32_t *mw;
    int64_t *cum_nj; /* n+1 entries: energy from t_us[0] to t_us[i]; cum_nj[n] = one period */
};

struct fk_trace {
    int ngpu;                     /* distinct gpu ids in the file */
    int gpu_id[FK_MAX_FILE_GPUS]; /* ascending; series[k] belongs to gpu_id[k] */
    struct fk_series series[FK_MAX_FILE_GPUS];
    /* Loop length: the file's span plus one mean sample interval, so that the first sample of
     * the next loop follows the last one about as closely as recorded samples follow each
     * other. The same for every GPU, which keeps them aligned as recorded. */
    int64_t period_us;
    size_t rows;
    char file[256]; /* base name of the file, for descriptions */
};

/* Loads path into tr (which must be zeroed or freed). On failure returns -1 and writes into
 * msg one sentence naming the file and, where it applies, the bad line. */
FK_HIDDEN int fk_trace_load(struct fk_trace *tr, const char *path, char *msg, size_t msg_len);
FK_HIDDEN void fk_trace_free(struct fk_trace *tr);

/* Virtual index of the newest sample whose time is <= x_us (trace-relative). */
FK_HIDDEN int64_t fk_series_last_at(const struct fk_series *s, int64_t period_us, int64_t x_us);
/* Trace-relative time and recorded power of virtual sample j. */
FK_HIDDEN int64_t fk_series_time_us(const struct fk_series *s, int64_t period_us, int64_t j);
FK_HIDDEN uint32_t fk_series_mw(const struct fk_series *s, int64_t j);
/* Left-hold energy from t_us[0] of period 0 to x_us, in nJ (mW x us); negative before it.
 * Exact integer arithmetic: differences of this never accumulate rounding. */
FK_HIDDEN int64_t fk_series_energy_nj(const struct fk_series *s, int64_t period_us, int64_t x_us);

/* Floor division (rounds towards minus infinity), for negative virtual indices. */
FK_HIDDEN int64_t fk_floor_div(int64_t a, int64_t b);

#endif
