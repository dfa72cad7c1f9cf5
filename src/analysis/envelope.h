/* What a timeline and a distribution need from a power series, read once, in memory that does
 * not grow with the trace: per pixel column the lowest and highest sample (so a single 20 ms
 * peak shows at any zoom), the same for 1 s and 1 min block means (each mean marks the
 * columns its samples span, so a block wider than a column draws as a step and a block
 * that the data cover only in part as that part), and a 1 W histogram for percentiles. */
#ifndef WP_ENVELOPE_H
#define WP_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#define WP_ENV_LAYERS 3 /* samples, 1 s means, 1 min means */

struct wp_env_layer {
    int64_t block_us;      /* 0: the samples themselves */
    double *min_w, *max_w; /* per column, NAN where nothing fell */
    /* the block being filled, and the first and last sample time in it */
    int64_t block, first_us, last_us;
    int64_t block_lo_us, block_hi_us; /* that block's time range, [lo, hi) */
    double sum;
    size_t n;
};

struct wp_envelope {
    int64_t t0_us, t1_us; /* the time axis: column c covers [t0 + c*(t1-t0)/cols, ...) */
    size_t cols;
    struct wp_env_layer layer[WP_ENV_LAYERS];
    double max_w;     /* highest sample, NAN if none */
    int64_t max_t_us; /* when */
    size_t samples;
    uint64_t *hist; /* hist[i]: samples in [i, i+1) W, the last bin holds everything above */
    size_t nhist;
    int64_t prev_us; /* the previous sample's time, INT64_MIN before the first */
    size_t prev_col; /* its column */
    /* the column last looked up and its time range [col_lo_us, col_hi_us) */
    size_t col;
    int64_t col_lo_us, col_hi_us;
};

/* A sample stands for the interval since the one before it (the rule energy is integrated
 * by), so on a zoomed-in timeline, where samples are sparser than pixel columns, it also marks
 * the columns back to its predecessor's: the band is continuous. A longer silence than this
 * is a hole in the recording and stays blank. */
#define WP_ENV_HOLD_US 5000000

/* 0 or -ENOMEM; t1_us > t0_us and cols > 0 (else -EINVAL). */
int wp_envelope_init(struct wp_envelope *e, int64_t t0_us, int64_t t1_us, size_t cols);
void wp_envelope_free(struct wp_envelope *e);
/* count samples of value w (W, NAN ignored) at t_us, t_us + step_us, ...; samples outside
 * [t0, t1] are left out. Returns 0 or -ENOMEM (the histogram grows to the highest value). */
int wp_envelope_push(struct wp_envelope *e, int64_t t_us, double w, size_t count, int64_t step_us);
/* Closes the last blocks; call once after the last push. */
void wp_envelope_finish(struct wp_envelope *e);
/* p-th percentile from the histogram, to its 1 W bin (the bin's lower edge, interpolated
 * within it by rank); NAN without samples. */
double wp_envelope_percentile(const struct wp_envelope *e, double p);

#endif
