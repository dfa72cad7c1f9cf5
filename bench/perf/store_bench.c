/* Trace store benchmark: HOURS of 8 GPUs x 50 Hz power samples written through wp_trace_* and,
 * side by side, through the obvious baseline of one SQLite row (sensor, t_us, value) per
 * sample in a table without an index, WAL mode, synchronous=NORMAL, same one-second commits.
 * The samples replay a recorded H200 20 ms buffer (gpu,ts_us,mw CSV; both GPUs, each GPU of
 * the 8 starting at a different point of it), with its real timestamp jitter and power swings.
 *
 * Usage: store_bench PATTERN.csv HOURS DIR   (bench/perf/store_bench.sh builds and runs it) */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/trace.h"

#define NGPU      8
#define COMMIT_US 1000000
#define POLL_US   500000 /* the recorder drains NVML's buffer twice a second */

struct pattern {
    int64_t *t, *v;
    size_t n, cap;
};

struct gen {
    const struct pattern *p;
    size_t idx;   /* position in the pattern */
    int64_t t_us; /* current sample time */
};

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, msg);
    exit(1);
}

static void load_pattern(const char *path, struct pattern pat[2])
{
    FILE *f = fopen(path, "r");
    if (!f)
        die(path, strerror(errno));
    char line[256];
    if (!fgets(line, sizeof(line), f))
        die(path, "empty");
    int g;
    long long ts, mw;
    while (fscanf(f, "%d,%lld,%lld", &g, &ts, &mw) == 3) {
        if (g < 0 || g > 1)
            continue;
        struct pattern *p = &pat[g];
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 4096;
            p->t = realloc(p->t, p->cap * sizeof(*p->t));
            p->v = realloc(p->v, p->cap * sizeof(*p->v));
            if (!p->t || !p->v)
                die("pattern", "out of memory");
        }
        p->t[p->n] = ts;
        p->v[p->n] = mw;
        p->n++;
    }
    fclose(f);
    if (pat[0].n < 100 || pat[1].n < 100)
        die(path, "needs at least 100 samples of GPU 0 and GPU 1");
}

/* The next sample of one GPU: the pattern's own interval and value, cycling. */
static void next_sample(struct gen *gs, int64_t *t, int64_t *v)
{
    const struct pattern *p = gs->p;
    size_t i = gs->idx % (p->n - 1);
    *t = gs->t_us;
    *v = p->v[i];
    gs->t_us += p->t[i + 1] - p->t[i];
    gs->idx++;
}

/* One poll's worth of samples of all GPUs up to end_us, sensor-major like the recorder. */
static size_t poll_batch(struct gen *g, int64_t end_us, struct wp_sample *out)
{
    size_t n = 0;
    for (int s = 0; s < NGPU; s++)
        while (g[s].t_us < end_us) {
            out[n].sensor = s;
            next_sample(&g[s], &out[n].t_us, &out[n].value);
            n++;
        }
    return n;
}

static void init_gens(struct gen *g, const struct pattern pat[2], int64_t start)
{
    for (int s = 0; s < NGPU; s++) {
        g[s].p = &pat[s % 2];
        g[s].idx = (size_t)(s / 2) * (pat[s % 2].n / 4);
        g[s].t_us = start + s * 1234;
    }
}

/* Order-independent fingerprint of (sensor, t, value) triples, to check what is read back. */
static uint64_t mix(int s, int64_t t, int64_t v)
{
    uint64_t x = (uint64_t)s * 0x9E3779B97F4A7C15u ^ (uint64_t)t * 0xC2B2AE3D27D4EB4Fu ^
                 (uint64_t)v * 0x165667B19E3779F9u;
    x ^= x >> 31;
    return x * 0x94D049BB133111EBu;
}

struct result {
    uint64_t samples, bytes;
    double ingest_cpu_s, read_cpu_s;
    uint64_t sum_written, sum_read;
};

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void run_ours(const char *path, const struct pattern pat[2], int64_t dur_us,
                     struct wp_sample *batch, struct result *r)
{
    struct wp_err err = {0};
    struct wp_trace_writer *w;
    struct wp_sensors tab = {0};
    for (int s = 0; s < NGPU; s++) {
        struct wp_sensor x;
        memset(&x, 0, sizeof(x));
        snprintf(x.source, sizeof(x.source), "nvml");
        x.device = s;
        snprintf(x.name, sizeof(x.name), "power");
        x.quantity = WP_Q_POWER;
        x.cadence_us = 20000;
        x.limit = x.default_limit = 700000;
        wp_sensors_add(&tab, &x);
    }
    struct gen g[NGPU];
    int64_t start = INT64_C(1795863421000000);
    init_gens(g, pat, start);
    double c0 = cpu_s();
    if (wp_trace_create(&w, path, true, &err) < 0 || wp_trace_put_sensors(w, &tab, &err) < 0)
        die("create", err.msg);
    double gen_cpu = 0;
    for (int64_t t = start; t < start + dur_us; t += POLL_US) {
        double g0 = cpu_s();
        size_t n = poll_batch(g, t + POLL_US, batch);
        for (size_t i = 0; i < n; i++)
            r->sum_written += mix(batch[i].sensor, batch[i].t_us, batch[i].value);
        r->samples += n;
        gen_cpu += cpu_s() - g0;
        if (wp_trace_append(w, batch, n, &err) < 0)
            die("append", err.msg);
        if ((t + POLL_US - start) % COMMIT_US == 0 && wp_trace_commit(w, &err) < 0)
            die("commit", err.msg);
    }
    if (wp_trace_close(w, &err) < 0)
        die("close", err.msg);
    r->ingest_cpu_s = cpu_s() - c0 - gen_cpu;
    r->bytes = file_size(path);

    c0 = cpu_s();
    struct wp_trace *tr;
    if (wp_trace_open(&tr, path, &err) < 0)
        die("open", err.msg);
    for (int s = 0; s < NGPU; s++) {
        struct wp_series ser;
        if (wp_trace_series(tr, s, &ser, &err) < 0)
            die("series", err.msg);
        for (size_t i = 0; i < ser.n; i++)
            r->sum_read += mix(s, ser.t_us[i], ser.value[i]);
        wp_series_free(&ser);
    }
    wp_trace_free(tr);
    r->read_cpu_s = cpu_s() - c0;
    wp_sensors_free(&tab);
}

static void sql_ok(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        die(what, sqlite3_errmsg(db));
}

static void run_baseline(const char *path, const struct pattern pat[2], int64_t dur_us,
                         struct wp_sample *batch, struct result *r)
{
    unlink(path);
    struct gen g[NGPU];
    int64_t start = INT64_C(1795863421000000);
    init_gens(g, pat, start);
    sqlite3 *db;
    sqlite3_stmt *ins;
    double c0 = cpu_s();
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(path, "cannot open");
    sql_ok(db,
           sqlite3_exec(db,
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                        "CREATE TABLE samples(sensor INTEGER, t_us INTEGER, value INTEGER);",
                        NULL, NULL, NULL),
           "baseline schema");
    sql_ok(db, sqlite3_prepare_v2(db, "INSERT INTO samples VALUES(?,?,?)", -1, &ins, NULL),
           "baseline prepare");
    double gen_cpu = 0;
    sql_ok(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
    for (int64_t t = start; t < start + dur_us; t += POLL_US) {
        double g0 = cpu_s();
        size_t n = poll_batch(g, t + POLL_US, batch);
        for (size_t i = 0; i < n; i++)
            r->sum_written += mix(batch[i].sensor, batch[i].t_us, batch[i].value);
        r->samples += n;
        gen_cpu += cpu_s() - g0;
        for (size_t i = 0; i < n; i++) {
            sqlite3_bind_int(ins, 1, batch[i].sensor);
            sqlite3_bind_int64(ins, 2, batch[i].t_us);
            sqlite3_bind_int64(ins, 3, batch[i].value);
            sql_ok(db, sqlite3_step(ins), "insert");
            sqlite3_reset(ins);
        }
        if ((t + POLL_US - start) % COMMIT_US == 0) {
            sql_ok(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
            sql_ok(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
        }
    }
    sql_ok(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    sqlite3_finalize(ins);
    sql_ok(db,
           sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", NULL,
                        NULL, NULL),
           "checkpoint");
    sqlite3_close(db);
    r->ingest_cpu_s = cpu_s() - c0 - gen_cpu;
    r->bytes = file_size(path);

    c0 = cpu_s();
    sqlite3_stmt *sel;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        die(path, "cannot reopen");
    sql_ok(db, sqlite3_prepare_v2(db, "SELECT sensor, t_us, value FROM samples", -1, &sel, NULL),
           "select");
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW)
        r->sum_read += mix(sqlite3_column_int(sel, 0), sqlite3_column_int64(sel, 1),
                           sqlite3_column_int64(sel, 2));
    sql_ok(db, rc, "select");
    sqlite3_finalize(sel);
    sqlite3_close(db);
    r->read_cpu_s = cpu_s() - c0;
}

static uint64_t per_s(uint64_t n, double s)
{
    return s > 0 ? (uint64_t)((double)n / s + 0.5) : 0;
}

static void row(const char *name, const struct result *r)
{
    printf("%-16s %12" PRIu64 " %12" PRIu64 " %8" PRIu64 " %14" PRIu64 " %14" PRIu64 "\n", name,
           r->samples, r->bytes, (r->bytes + r->samples / 2) / r->samples,
           per_s(r->samples, r->ingest_cpu_s), per_s(r->samples, r->read_cpu_s));
}

static long pct(double a, double b)
{
    return b > 0 ? (long)(100.0 * a / b + 0.5) : 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PATTERN.csv HOURS DIR\n", argv[0]);
        return 2;
    }
    double hours = atof(argv[2]);
    if (!(hours > 0))
        die("HOURS", "must be a positive number");
    struct pattern pat[2] = {{0}};
    load_pattern(argv[1], pat);
    int64_t dur_us = (int64_t)(hours * 3600.0) * 1000000;
    /* Half a second of 8 GPUs at the pattern's shortest interval. */
    int64_t min_dt = INT64_MAX;
    for (int g = 0; g < 2; g++)
        for (size_t i = 1; i < pat[g].n; i++)
            if (pat[g].t[i] - pat[g].t[i - 1] < min_dt)
                min_dt = pat[g].t[i] - pat[g].t[i - 1];
    if (min_dt <= 0)
        die(argv[1], "timestamps of a GPU must increase");
    struct wp_sample *batch = malloc(NGPU * (size_t)(POLL_US / min_dt + 2) * sizeof(*batch));
    if (!batch)
        die("batch", "out of memory");
    char ours_path[4096], base_path[4096];
    snprintf(ours_path, sizeof(ours_path), "%s/bench.wptrace", argv[3]);
    snprintf(base_path, sizeof(base_path), "%s/baseline.db", argv[3]);

    struct result ours = {0}, base = {0};
    run_ours(ours_path, pat, dur_us, batch, &ours);
    run_baseline(base_path, pat, dur_us, batch, &base);
    if (ours.sum_read != ours.sum_written || base.sum_read != base.sum_written ||
        ours.sum_written != base.sum_written)
        die("check", "samples read back differ from those written");

    printf("%g h of %d GPUs x 50 Hz power (pattern: %s), commit every 1 s; CPU time\n", hours, NGPU,
           argv[1]);
    printf("%-16s %12s %12s %8s %14s %14s\n", "store", "samples", "file bytes", "B/sample",
           "ingest smp/s", "read smp/s");
    row("wattprof trace", &ours);
    row("row per sample", &base);
    printf("%-16s %12s %11ld%% %7ld%% %13ld%% %13ld%%\n", "ours/baseline", "",
           pct((double)ours.bytes, (double)base.bytes),
           pct((double)ours.bytes / ours.samples, (double)base.bytes / base.samples),
           pct((double)ours.samples / ours.ingest_cpu_s, (double)base.samples / base.ingest_cpu_s),
           pct((double)ours.samples / ours.read_cpu_s, (double)base.samples / base.read_cpu_s));
    free(batch);
    free(pat[0].t);
    free(pat[0].v);
    free(pat[1].t);
    free(pat[1].v);
    return 0;
}
