#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/envelope.h"
#include "core/grow.h"

static const int64_t layer_block_us[WP_ENV_LAYERS] = {0, 1000000, 60000000};

/* a histogram beyond this (1 MW) is a misread, not a power; it lands in the last bin */
#define HIST_MAX_W 1000000

int wp_envelope_init(struct wp_envelope *e, int64_t t0_us, int64_t t1_us, size_t cols)
{
    memset(e, 0, sizeof(*e));
    if (t1_us <= t0_us || cols == 0)
        return -EINVAL;
    e->t0_us = t0_us;
    e->t1_us = t1_us;
    e->cols = cols;
    e->max_w = NAN;
    e->prev_us = INT64_MIN;
    e->col_lo_us = e->col_hi_us = 0; /* empty: the first column asked for fills it */
    for (int l = 0; l < WP_ENV_LAYERS; l++) {
        struct wp_env_layer *y = &e->layer[l];
        y->block_us = layer_block_us[l];
        y->block = INT64_MIN;
        y->min_w = malloc(cols * sizeof(double));
        y->max_w = malloc(cols * sizeof(double));
        if (!y->min_w || !y->max_w) {
            wp_envelope_free(e);
            return -ENOMEM;
        }
        for (size_t c = 0; c < cols; c++)
            y->min_w[c] = y->max_w[c] = NAN;
    }
    return 0;
}

void wp_envelope_free(struct wp_envelope *e)
{
    for (int l = 0; l < WP_ENV_LAYERS; l++) {
        free(e->layer[l].min_w);
        free(e->layer[l].max_w);
    }
    free(e->hist);
    memset(e, 0, sizeof(*e));
}

static size_t col_of(const struct wp_envelope *e, int64_t t)
{
    if (t <= e->t0_us)
        return 0;
    double x = (double)(t - e->t0_us) / (double)(e->t1_us - e->t0_us) * (double)e->cols;
    size_t c = (size_t)x;
    return c < e->cols ? c : e->cols - 1;
}

/* The column of t, from the cached range of the last column asked for when t is in it:
 * col_of is monotonic in t, so the range is exact once its first time and the next column's
 * are found by col_of itself. A day of 20 ms samples meets 1000 columns, so the divisions go
 * from one per sample to a few per column. */
static int64_t col_first_us(const struct wp_envelope *e, size_t c)
{
    if (c == 0)
        return INT64_MIN;
    if (c >= e->cols)
        return INT64_MAX;
    /* col_of(lo) < c <= col_of(hi): t0 is in column 0, t1 in the last */
    int64_t lo = e->t0_us, hi = e->t1_us;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (col_of(e, mid) >= c)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static size_t col_cached(struct wp_envelope *e, int64_t t)
{
    if (t >= e->col_lo_us && t < e->col_hi_us)
        return e->col;
    size_t c = col_of(e, t);
    e->col = c;
    e->col_lo_us = col_first_us(e, c);
    e->col_hi_us = col_first_us(e, c + 1);
    return c;
}

static void mark(struct wp_env_layer *y, size_t c0, size_t c1, double w)
{
    for (size_t c = c0; c <= c1; c++) {
        if (isnan(y->min_w[c]) || w < y->min_w[c])
            y->min_w[c] = w;
        if (isnan(y->max_w[c]) || w > y->max_w[c])
            y->max_w[c] = w;
    }
}

/* a finished block's mean marks the columns its samples span */
static void close_block(struct wp_envelope *e, struct wp_env_layer *y)
{
    if (y->n == 0)
        return;
    mark(y, col_of(e, y->first_us), col_of(e, y->last_us), y->sum / (double)y->n);
    y->sum = 0;
    y->n = 0;
}

/* points t, t + step, ... (count of them) into blocks of one layer */
static void block_push(struct wp_envelope *e, struct wp_env_layer *y, int64_t t, double w,
                       size_t count, int64_t step)
{
    int64_t bu = y->block_us;
    while (count > 0) {
        int64_t b = (t - e->t0_us) / bu;
        if (b != y->block) {
            close_block(e, y);
            y->block = b;
        }
        /* Whole blocks of this one value, from a block's first point: their means are w, so
         * they only mark columns (a crafted trace's grid can be 2^60 points of one value). */
        if (y->n == 0 && step > 0 && bu % step == 0 && (t - e->t0_us) % bu < step) {
            size_t per = (size_t)(bu / step), nfull = count / per;
            if (nfull >= 2) {
                nfull--;
                int64_t last = t + (int64_t)(nfull * per - 1) * step;
                mark(y, col_of(e, t), col_of(e, last), w);
                t += (int64_t)nfull * bu;
                count -= nfull * per;
                y->block = INT64_MIN;
                continue;
            }
        }
        int64_t end = e->t0_us + (b + 1) * bu; /* exclusive */
        size_t in = step > 0 ? (size_t)((end - 1 - t) / step) + 1 : count;
        if (in > count)
            in = count;
        if (y->n == 0)
            y->first_us = t;
        y->last_us = t + (int64_t)(in - 1) * (step > 0 ? step : 0);
        y->sum += w * (double)in;
        y->n += in;
        count -= in;
        t += (int64_t)in * (step > 0 ? step : 0);
    }
}

int wp_envelope_push(struct wp_envelope *e, int64_t t_us, double w, size_t count, int64_t step_us)
{
    if (isnan(w) || count == 0)
        return 0;
    if (step_us <= 0)
        count = 1;
    /* keep the points inside [t0, t1] */
    if (t_us < e->t0_us) {
        if (step_us <= 0)
            return 0;
        size_t skip = (size_t)((e->t0_us - t_us + step_us - 1) / step_us);
        if (skip >= count)
            return 0;
        t_us += (int64_t)skip * step_us;
        count -= skip;
    }
    if (t_us > e->t1_us)
        return 0;
    if (step_us > 0) {
        size_t fit = (size_t)((e->t1_us - t_us) / step_us) + 1;
        if (count > fit)
            count = fit;
    }
    size_t bin = w < 0 ? 0 : w >= HIST_MAX_W ? HIST_MAX_W : (size_t)w;
    if (bin >= e->nhist) {
        size_t old = e->nhist, cap = e->nhist;
        if (WP_GROW(&e->hist, &cap, bin + 1) < 0)
            return -ENOMEM;
        memset(e->hist + old, 0, (cap - old) * sizeof(*e->hist));
        e->nhist = cap;
    }
    e->hist[bin] += count;
    e->samples += count;
    if (isnan(e->max_w) || w > e->max_w) {
        e->max_w = w;
        e->max_t_us = t_us;
    }
    int64_t last = t_us + (int64_t)(count - 1) * (step_us > 0 ? step_us : 0);
    size_t c0 = col_cached(e, t_us), c1 = count == 1 ? c0 : col_of(e, last);
    if (e->prev_us != INT64_MIN && t_us > e->prev_us && t_us - e->prev_us <= WP_ENV_HOLD_US) {
        size_t pc = e->prev_col;
        if (c0 > pc + 1)
            c0 = pc + 1;
    }
    mark(&e->layer[0], c0, c1, w);
    e->prev_us = last;
    e->prev_col = c1;
    for (int l = 1; l < WP_ENV_LAYERS; l++) {
        struct wp_env_layer *y = &e->layer[l];
        /* one more sample of the block being filled: the common case, without a division */
        if (count == 1 && y->n > 0 && t_us >= y->block_lo_us && t_us < y->block_hi_us) {
            y->last_us = t_us;
            y->sum += w;
            y->n++;
            continue;
        }
        block_push(e, y, t_us, w, count, step_us);
        if (y->block != INT64_MIN) {
            y->block_lo_us = e->t0_us + y->block * y->block_us;
            y->block_hi_us = y->block_lo_us + y->block_us;
        }
    }
    return 0;
}

void wp_envelope_finish(struct wp_envelope *e)
{
    for (int l = 1; l < WP_ENV_LAYERS; l++)
        close_block(e, &e->layer[l]);
}

double wp_envelope_percentile(const struct wp_envelope *e, double p)
{
    if (e->samples == 0 || !(p >= 0 && p <= 100))
        return NAN;
    double rank = p / 100.0 * (double)(e->samples - 1);
    uint64_t below = 0;
    for (size_t i = 0; i < e->nhist; i++) {
        if (e->hist[i] == 0)
            continue;
        if ((double)(below + e->hist[i]) > rank)
            return (double)i + (rank - (double)below) / (double)e->hist[i];
        below += e->hist[i];
    }
    return (double)(e->nhist - 1);
}
