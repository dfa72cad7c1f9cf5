/* Loads a recorded `gpu,ts_us,mw` trace and replays it as a periodic left-hold power signal.
 * Everything is kept in integers (us, mW, nJ) so that energy differences over any window are
 * exact and the fake's energy counter can be checked to the millijoule. */
#include "replay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct row {
    int gpu;
    int64_t ts_us;
    uint32_t mw;
};

int64_t fk_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Parses decimal digits up to the next ',' or the end; no sign, no spaces. */
static bool parse_uint(const char **p, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (*s != ',' && *s != '\0')
        return false;
    *p = s;
    *out = v;
    return true;
}

static const char *parse_row(const char *line, struct row *r)
{
    uint64_t gpu, ts, mw;
    const char *p = line;
    if (!parse_uint(&p, FK_MAX_GPU_ID, &gpu) || *p++ != ',')
        return "gpu must be an integer 0..1023 followed by a comma";
    if (!parse_uint(&p, INT64_MAX, &ts) || ts == 0 || *p++ != ',')
        return "ts_us must be a positive integer (microseconds since the epoch) followed by a "
               "comma";
    if (!parse_uint(&p, FK_MAX_MW, &mw) || *p != '\0')
        return "mw must be an integer 0..10000000 (milliwatts) ending the line";
    r->gpu = (int)gpu;
    r->ts_us = (int64_t)ts;
    r->mw = (uint32_t)mw;
    return NULL;
}

void fk_trace_free(struct fk_trace *tr)
{
    for (int k = 0; k < FK_MAX_FILE_GPUS; k++) {
        free(tr->series[k].t_us);
        free(tr->series[k].mw);
        free(tr->series[k].cum_nj);
    }
    memset(tr, 0, sizeof(*tr));
}

static int build_series(struct fk_trace *tr, const struct row *rows, size_t nrows, char *msg,
                        size_t msg_len, const char *path)
{
    int slot_of[FK_MAX_GPU_ID + 1];
    size_t count[FK_MAX_FILE_GPUS] = {0};
    bool seen[FK_MAX_GPU_ID + 1] = {false};

    for (size_t i = 0; i < nrows; i++)
        seen[rows[i].gpu] = true;
    tr->ngpu = 0;
    for (int id = 0; id <= FK_MAX_GPU_ID; id++) {
        if (!seen[id])
            continue;
        if (tr->ngpu == FK_MAX_FILE_GPUS) {
            snprintf(msg, msg_len, "trace %s holds more than %d distinct GPUs", path,
                     FK_MAX_FILE_GPUS);
            return -1;
        }
        slot_of[id] = tr->ngpu;
        tr->gpu_id[tr->ngpu++] = id;
    }
    for (size_t i = 0; i < nrows; i++)
        count[slot_of[rows[i].gpu]]++;
    for (int k = 0; k < tr->ngpu; k++) {
        struct fk_series *s = &tr->series[k];
        s->t_us = calloc(count[k], sizeof(*s->t_us));
        s->mw = calloc(count[k], sizeof(*s->mw));
        s->cum_nj = calloc(count[k] + 1, sizeof(*s->cum_nj));
        if (!s->t_us || !s->mw || !s->cum_nj) {
            snprintf(msg, msg_len, "out of memory loading trace %s", path);
            return -1;
        }
    }
    int64_t t0 = rows[0].ts_us;
    for (size_t i = 0; i < nrows; i++) {
        struct fk_series *s = &tr->series[slot_of[rows[i].gpu]];
        s->t_us[s->n] = rows[i].ts_us - t0;
        s->mw[s->n] = rows[i].mw;
        s->n++;
    }

    int64_t span_sum = 0, gaps = 0;
    for (int k = 0; k < tr->ngpu; k++) {
        const struct fk_series *s = &tr->series[k];
        span_sum += s->t_us[s->n - 1] - s->t_us[0];
        gaps += (int64_t)s->n - 1;
    }
    int64_t step = gaps > 0 ? (span_sum + gaps / 2) / gaps : 20000;
    if (step < 1)
        step = 1;
    tr->period_us = (rows[nrows - 1].ts_us - t0) + step;

    for (int k = 0; k < tr->ngpu; k++) {
        struct fk_series *s = &tr->series[k];
        for (size_t i = 0; i < s->n; i++) {
            int64_t next = i + 1 < s->n ? s->t_us[i + 1] : s->t_us[0] + tr->period_us;
            int64_t e;
            if (__builtin_mul_overflow((int64_t)s->mw[i], next - s->t_us[i], &e) ||
                __builtin_add_overflow(s->cum_nj[i], e, &s->cum_nj[i + 1])) {
                snprintf(msg, msg_len, "trace %s spans too long a time to integrate exactly", path);
                return -1;
            }
        }
    }
    return 0;
}

int fk_trace_load(struct fk_trace *tr, const char *path, char *msg, size_t msg_len)
{
    struct row *rows = NULL;
    size_t nrows = 0, cap = 0;
    char line[160];
    long lineno = 0;
    bool header = false;
    int rc = -1;

    memset(tr, 0, sizeof(*tr));
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(msg, msg_len, "cannot open trace %s: %s", path,
                 errno ? strerror(errno) : "zlib could not allocate its state");
        return -1;
    }
    int64_t last_ts[FK_MAX_GPU_ID + 1];
    memset(last_ts, 0, sizeof(last_ts));
    while (gzgets(f, line, (int)sizeof(line))) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(msg, msg_len, "trace %s line %ld is longer than %zu characters", path, lineno,
                     sizeof(line) - 2);
            goto out;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (!header) {
            if (strcmp(line, "gpu,ts_us,mw") != 0) {
                snprintf(msg, msg_len,
                         "trace %s line %ld: expected the header gpu,ts_us,mw, found \"%.40s\"",
                         path, lineno, line);
                goto out;
            }
            header = true;
            continue;
        }
        struct row r;
        const char *why = parse_row(line, &r);
        if (why) {
            snprintf(msg, msg_len, "trace %s line %ld (\"%.40s\"): %s", path, lineno, line, why);
            goto out;
        }
        if (nrows > 0 && r.ts_us < rows[nrows - 1].ts_us) {
            snprintf(msg, msg_len,
                     "trace %s line %ld: ts_us goes back in time; rows must be sorted by time",
                     path, lineno);
            goto out;
        }
        if (last_ts[r.gpu] == r.ts_us) {
            snprintf(msg, msg_len, "trace %s line %ld: gpu %d has two samples at ts_us %lld", path,
                     lineno, r.gpu, (long long)r.ts_us);
            goto out;
        }
        last_ts[r.gpu] = r.ts_us;
        if (nrows == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            struct row *nr = realloc(rows, ncap * sizeof(*rows));
            if (!nr) {
                snprintf(msg, msg_len, "out of memory loading trace %s", path);
                goto out;
            }
            rows = nr;
            cap = ncap;
        }
        rows[nrows++] = r;
    }
    int zerr;
    const char *zmsg = gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        snprintf(msg, msg_len, "cannot read trace %s after line %ld: %s", path, lineno,
                 zerr == Z_ERRNO ? strerror(errno) : zmsg);
        goto out;
    }
    if (!header) {
        snprintf(msg, msg_len, "trace %s is empty; expected a gpu,ts_us,mw header and rows", path);
        goto out;
    }
    if (nrows == 0) {
        snprintf(msg, msg_len, "trace %s has a header but no samples", path);
        goto out;
    }
    if (build_series(tr, rows, nrows, msg, msg_len, path) < 0)
        goto out;
    tr->rows = nrows;
    const char *base = strrchr(path, '/');
    snprintf(tr->file, sizeof(tr->file), "%s", base ? base + 1 : path);
    rc = 0;
out:
    gzclose(f);
    free(rows);
    if (rc < 0)
        fk_trace_free(tr);
    return rc;
}

int64_t fk_series_last_at(const struct fk_series *s, int64_t period_us, int64_t x_us)
{
    int64_t k = fk_floor_div(x_us - s->t_us[0], period_us);
    int64_t y = x_us - k * period_us;
    size_t lo = 0, hi = s->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (s->t_us[mid] <= y)
            lo = mid;
        else
            hi = mid - 1;
    }
    return k * (int64_t)s->n + (int64_t)lo;
}

int64_t fk_series_time_us(const struct fk_series *s, int64_t period_us, int64_t j)
{
    int64_t k = fk_floor_div(j, (int64_t)s->n);
    return s->t_us[j - k * (int64_t)s->n] + k * period_us;
}

uint32_t fk_series_mw(const struct fk_series *s, int64_t j)
{
    int64_t k = fk_floor_div(j, (int64_t)s->n);
    return s->mw[j - k * (int64_t)s->n];
}

int64_t fk_series_energy_nj(const struct fk_series *s, int64_t period_us, int64_t x_us)
{
    int64_t j = fk_series_last_at(s, period_us, x_us);
    int64_t k = fk_floor_div(j, (int64_t)s->n);
    size_t i = (size_t)(j - k * (int64_t)s->n);
    int64_t t = s->t_us[i] + k * period_us;
    return k * s->cum_nj[s->n] + s->cum_nj[i] + (int64_t)s->mw[i] * (x_us - t);
}
