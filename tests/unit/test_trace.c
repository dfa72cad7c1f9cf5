/* The trace file: write -> read round trip, refusal to overwrite, rejection of files that are
 * not traces or are damaged, and survival of a writer killed with SIGKILL. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "analysis/energy.h"
#include "store/trace.h"

struct ctx {
    char dir[256];
    char path[320]; /* dir/t.wptrace */
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dir, sizeof(c->dir), "%s/wp-trace-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dir)) {
        free(c);
        return -1;
    }
    snprintf(c->path, sizeof(c->path), "%s/t.wptrace", c->dir);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(c);
    return 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static bool exists_sfx(const char *path, const char *sfx)
{
    char p[400];
    snprintf(p, sizeof(p), "%s%s", path, sfx);
    return exists(p);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

static void assert_same_bytes(const char *path, const uint8_t *want, size_t wlen)
{
    size_t len;
    uint8_t *got = slurp(path, &len);
    assert_int_equal(len, wlen);
    assert_memory_equal(got, want, len);
    free(got);
}

static void sql(const char *path, const char *stmt)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, stmt, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", stmt, msg);
    sqlite3_close(db);
}

static int64_t sql_int(const char *path, const char *query)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Rewrites every chunk of a closed trace as a version 1 chunk, the only kind formats 1 to 4
 * hold: for tests that turn a trace written here into an older format. */
static void chunks_to_v1(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st, *up;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT rowid, n, data FROM chunks", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE chunks SET data = ?1 WHERE rowid = ?2", -1, &up, NULL),
        SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_int64(st, 1);
        int64_t *t = malloc((n + 1) * sizeof(*t)), *v = malloc((n + 1) * sizeof(*v));
        assert_non_null(t);
        assert_non_null(v);
        assert_int_equal(wp_chunk_decode(sqlite3_column_blob(st, 2),
                                         (size_t)sqlite3_column_bytes(st, 2), n, t, v),
                         0);
        uint8_t *blob;
        size_t len;
        assert_int_equal(wp_chunk_encode_v1(t, v, n, &blob, &len), 0);
        sqlite3_bind_blob64(up, 1, blob, len, free);
        sqlite3_bind_int64(up, 2, sqlite3_column_int64(st, 0));
        assert_int_equal(sqlite3_step(up), SQLITE_DONE);
        sqlite3_reset(up);
        free(t);
        free(v);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    sqlite3_close(db);
}

static struct wp_sensor mk_sensor(const char *name, enum wp_quantity q, enum wp_kind k, int dev,
                                  int64_t limit, int64_t def)
{
    struct wp_sensor s;
    memset(&s, 0, sizeof(s));
    snprintf(s.source, sizeof(s.source), "nvml");
    s.device = dev;
    snprintf(s.uuid, sizeof(s.uuid), "GPU-%08d-aaaa-bbbb", dev);
    snprintf(s.device_name, sizeof(s.device_name), "NVIDIA H200");
    snprintf(s.name, sizeof(s.name), "%s", name);
    s.quantity = q;
    s.kind = k;
    s.cadence_us = 20000;
    s.limit = limit;
    s.default_limit = def;
    s.wrap_at = k == WP_COUNTER ? INT64_C(1) << 40 : 0;
    snprintf(s.help, sizeof(s.help), "help for %s", name);
    return s;
}

static void three_sensors(struct wp_sensors *tab)
{
    memset(tab, 0, sizeof(*tab));
    struct wp_sensor a = mk_sensor("power", WP_Q_POWER, WP_GAUGE, 0, 700000, 700000);
    struct wp_sensor b = mk_sensor("energy", WP_Q_ENERGY, WP_COUNTER, 1, WP_NO_LIMIT, WP_NO_LIMIT);
    struct wp_sensor c = mk_sensor("temp", WP_Q_TEMP, WP_GAUGE, 1, WP_NO_LIMIT, 87);
    /* A RAPL-like counter: raw microjoules, wrapping, inside a package. */
    snprintf(b.source_kind, sizeof(b.source_kind), "rapl");
    snprintf(b.unit, sizeof(b.unit), "uJ");
    b.scale = 0.001;
    b.scope = WP_SCOPE_DRAM;
    b.wrap_at = 262143328850;
    a.scope = WP_SCOPE_GPU;
    a.contains = WP_SCOPE_BIT(WP_SCOPE_GPU_MEMORY) | WP_SCOPE_BIT(WP_SCOPE_OTHER);
    assert_int_equal(wp_sensors_add(tab, &a), 0);
    assert_int_equal(wp_sensors_add(tab, &b), 1);
    assert_int_equal(wp_sensors_add(tab, &c), 2);
}

/* The expected value of sample i of sensor s: distinct per sensor, varied, and negative and
 * extreme sometimes, so that any mix-up or loss shows. */
static int64_t val(int s, int64_t i)
{
    if (i % 97 == 13)
        return s % 2 ? INT64_MAX : INT64_MIN;
    return (i * 7919 + s * 1000003) % 900001 - 1000 * s;
}

static int64_t tim(int s, int64_t i)
{
    return INT64_C(1795863421321837) + i * 20000 + (i * 31 % 600) - 300 + s * 7;
}

static struct wp_trace_writer *create_ok(const char *path, struct wp_sensors *tab)
{
    struct wp_trace_writer *w = NULL;
    struct wp_err err = {0};
    int rc = wp_trace_create(&w, path, false, &err);
    if (rc < 0)
        fail_msg("create: %s", err.msg);
    if (tab)
        assert_int_equal(wp_trace_put_sensors(w, tab, &err), 0);
    return w;
}

/* A closed trace with `per` samples for each of nsensors sensors. */
static void write_simple(const char *path, int nsensors, int64_t per)
{
    struct wp_sensors tab;
    three_sensors(&tab);
    tab.n = (size_t)nsensors;
    struct wp_trace_writer *w = create_ok(path, &tab);
    struct wp_err err = {0};
    for (int64_t i = 0; i < per; i++)
        for (int s = 0; s < nsensors; s++) {
            struct wp_sample x = {.sensor = s, .t_us = tim(s, i), .value = val(s, i)};
            assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
            if (i % 50 == 49 && s == nsensors - 1)
                assert_int_equal(wp_trace_commit(w, &err), 0);
        }
    assert_int_equal(wp_trace_close(w, &err), 0);
    wp_sensors_free(&tab);
}

static void check_series(const struct wp_trace *t, int s, int64_t n)
{
    struct wp_series ser;
    struct wp_err err = {0};
    int rc = wp_trace_series(t, s, &ser, &err);
    if (rc < 0)
        fail_msg("series %d: %s", s, err.msg);
    assert_int_equal(ser.n, (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        assert_true(ser.t_us[i] == tim(s, i));
        assert_true(ser.value[i] == val(s, i));
    }
    wp_series_free(&ser);
}

static void test_trace_round_trips_meta_sensors_samples_marks_events(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    three_sensors(&tab);
    struct wp_err err = {0};
    struct wp_trace_writer *w = create_ok(c->path, &tab);

    struct wp_meta m1 = {0}, m2 = {0};
    wp_meta_set(&m1, "host", "node-a");
    wp_meta_set(&m1, "command", "python train.py --batch 512");
    assert_int_equal(wp_trace_put_meta(w, &m1, &err), 0);

    /* Interleaved sensors, several commits, and one batch big enough to be split. */
    int64_t count[3] = {0, 0, 0};
    static const int64_t want[3] = {5000, 777, 10000};
    uint64_t r = 12345;
    while (count[0] < want[0] || count[1] < want[1] || count[2] < want[2]) {
        struct wp_sample batch[64];
        size_t nb = 0;
        while (nb < 64) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            int s = (int)((r >> 33) % 3);
            if (count[s] >= want[s]) {
                if (count[0] >= want[0] && count[1] >= want[1] && count[2] >= want[2])
                    break;
                continue;
            }
            batch[nb++] = (struct wp_sample){s, tim(s, count[s]), val(s, count[s])};
            count[s]++;
        }
        assert_int_equal(wp_trace_append(w, batch, nb, &err), 0);
        if (count[1] < want[1] && (r >> 40) % 8 == 0)
            assert_int_equal(wp_trace_commit(w, &err), 0);
    }

    struct wp_mark mk[3];
    memset(mk, 0, sizeof(mk));
    mk[0] = (struct wp_mark){.t_us = 2000, .kind = WP_MARK_END, .ncounts = 3};
    snprintf(mk[0].name, sizeof(mk[0].name), "epoch");
    snprintf(mk[0].counts[0].key, sizeof(mk[0].counts[0].key), "samples");
    mk[0].counts[0].value = 512;
    snprintf(mk[0].counts[1].key, sizeof(mk[0].counts[1].key), "tok\"ens\\");
    mk[0].counts[1].value = 0.1;
    snprintf(mk[0].counts[2].key, sizeof(mk[0].counts[2].key), "flops");
    mk[0].counts[2].value = NAN;
    mk[1] = (struct wp_mark){.t_us = 1000, .kind = WP_MARK_BEGIN};
    snprintf(mk[1].name, sizeof(mk[1].name), "epoch");
    mk[2] = (struct wp_mark){.t_us = 1500, .kind = WP_MARK_POINT, .ncounts = 1};
    snprintf(mk[2].name, sizeof(mk[2].name), "checkpoint saved");
    snprintf(mk[2].counts[0].key, sizeof(mk[2].counts[0].key), "step");
    mk[2].counts[0].value = -3e300;
    for (int i = 0; i < 3; i++)
        assert_int_equal(wp_trace_put_mark(w, &mk[i], &err), 0);

    struct wp_event ev[2];
    memset(ev, 0, sizeof(ev));
    ev[0] = (struct wp_event){.t_us = 900, .sensor = 1, .device = 1};
    snprintf(ev[0].source, sizeof(ev[0].source), "nvml");
    snprintf(ev[0].message, sizeof(ev[0].message), "GPU 1 is lost");
    ev[1] = (struct wp_event){.t_us = 800, .sensor = -1, .device = -1};
    snprintf(ev[1].source, sizeof(ev[1].source), "rapl");
    snprintf(ev[1].message, sizeof(ev[1].message), "no permission");
    assert_int_equal(wp_trace_put_event(w, &ev[0], &err), 0);
    assert_int_equal(wp_trace_put_event(w, &ev[1], &err), 0);

    wp_meta_set(&m2, "host", "node-b");
    wp_meta_set(&m2, "end_us", "1795863999000000");
    assert_int_equal(wp_trace_put_meta(w, &m2, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
    wp_meta_free(&m1);
    wp_meta_free(&m2);

    /* A cleanly closed trace is a single rollback-journal file. */
    assert_false(exists_sfx(c->path, "-wal"));
    assert_false(exists_sfx(c->path, "-shm"));
    size_t blen;
    uint8_t *before = slurp(c->path, &blen);
    assert_int_equal(before[18], 1);
    assert_int_equal(before[19], 1);
    /* The 10,000-sample batch of sensor 2 went into chunks of at most 4096. */
    assert_true(sql_int(c->path, "SELECT max(n) FROM chunks") <= 4096);

    struct wp_trace *t = NULL;
    int rc = wp_trace_open(&t, c->path, &err);
    if (rc < 0)
        fail_msg("open: %s", err.msg);

    const struct wp_meta *meta = wp_trace_meta(t);
    assert_string_equal(wp_meta_get(meta, "format"), "wattprof-trace");
    char ver[16];
    snprintf(ver, sizeof(ver), "%d", WP_TRACE_VERSION);
    assert_string_equal(wp_meta_get(meta, "format_version"), ver);
    assert_string_equal(wp_meta_get(meta, "host"), "node-b");
    assert_string_equal(wp_meta_get(meta, "command"), "python train.py --batch 512");
    assert_string_equal(wp_meta_get(meta, "end_us"), "1795863999000000");

    const struct wp_sensors *st = wp_trace_sensors(t);
    assert_int_equal(st->n, 3);
    for (size_t i = 0; i < 3; i++) {
        const struct wp_sensor *a = &tab.v[i], *b = &st->v[i];
        assert_int_equal(b->id, a->id);
        assert_string_equal(b->source, a->source);
        assert_int_equal(b->device, a->device);
        assert_string_equal(b->uuid, a->uuid);
        assert_string_equal(b->device_name, a->device_name);
        assert_string_equal(b->name, a->name);
        assert_int_equal(b->quantity, a->quantity);
        assert_int_equal(b->kind, a->kind);
        assert_true(b->cadence_us == a->cadence_us);
        assert_true(b->limit == a->limit);
        assert_true(b->default_limit == a->default_limit);
        assert_true(b->wrap_at == a->wrap_at);
        assert_string_equal(b->help, a->help);
        assert_string_equal(wp_sensor_unit(b), wp_sensor_unit(a));
        assert_true(wp_sensor_scale(b) == wp_sensor_scale(a));
        assert_int_equal(b->scope, a->scope);
        assert_int_equal(b->contains, a->contains);
        assert_string_equal(b->source_kind, a->source_kind);
    }
    assert_string_equal(wp_sensor_unit(&st->v[1]), "uJ");
    assert_string_equal(wp_sensor_unit(&st->v[0]), "mW"); /* "" in the row: canonical */
    /* WP_NO_LIMIT is stored as NULL, not as a huge negative number. */
    assert_int_equal(sql_int(c->path, "SELECT count(*) FROM sensors WHERE limit_value IS NULL"), 2);

    for (int s = 0; s < 3; s++)
        check_series(t, s, want[s]);

    const struct wp_mark *marks;
    size_t nm;
    assert_int_equal(wp_trace_marks(t, &marks, &nm, &err), 0);
    assert_int_equal(nm, 3);
    assert_true(marks[0].t_us == 1000 && marks[0].kind == WP_MARK_BEGIN);
    assert_true(marks[1].t_us == 1500 && marks[1].kind == WP_MARK_POINT);
    assert_true(marks[2].t_us == 2000 && marks[2].kind == WP_MARK_END);
    assert_string_equal(marks[1].name, "checkpoint saved");
    assert_int_equal(marks[0].ncounts, 0);
    assert_int_equal(marks[1].ncounts, 1);
    assert_true(marks[1].counts[0].value == -3e300);
    assert_int_equal(marks[2].ncounts, 3);
    assert_string_equal(marks[2].counts[0].key, "samples");
    assert_true(marks[2].counts[0].value == 512);
    assert_string_equal(marks[2].counts[1].key, "tok\"ens\\");
    assert_true(marks[2].counts[1].value == 0.1);
    assert_string_equal(marks[2].counts[2].key, "flops");
    assert_true(isnan(marks[2].counts[2].value));

    const struct wp_event *evs;
    size_t ne;
    assert_int_equal(wp_trace_events(t, &evs, &ne, &err), 0);
    assert_int_equal(ne, 2);
    assert_true(evs[0].t_us == 800 && evs[0].sensor == -1 && evs[0].device == -1);
    assert_string_equal(evs[0].source, "rapl");
    assert_string_equal(evs[0].message, "no permission");
    assert_true(evs[1].t_us == 900 && evs[1].sensor == 1 && evs[1].device == 1);
    assert_string_equal(evs[1].message, "GPU 1 is lost");

    struct wp_series none;
    assert_int_equal(wp_trace_series(t, 3, &none, &err), -ENOENT);
    wp_trace_free(t);

    /* Reading changed nothing. */
    assert_same_bytes(c->path, before, blen);
    free(before);
    wp_sensors_free(&tab);
}

static void test_trace_append_refuses_undeclared_sensor_and_buffers_nothing(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    three_sensors(&tab);
    tab.n = 1;
    struct wp_trace_writer *w = create_ok(c->path, &tab);
    struct wp_err err = {0};
    struct wp_sample s[2] = {{0, 10, 1}, {1, 20, 2}};
    assert_int_equal(wp_trace_append(w, s, 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "sensor 1"));
    assert_int_equal(wp_trace_close(w, &err), 0);
    assert_int_equal(sql_int(c->path, "SELECT count(*) FROM chunks"), 0);
    wp_sensors_free(&tab);
}

static void test_trace_overlapping_chunks_read_back_sorted_and_stable(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    three_sensors(&tab);
    tab.n = 1;
    struct wp_trace_writer *w = create_ok(c->path, &tab);
    struct wp_err err = {0};
    /* Chunk A: t = 100..190 step 10, values 1000+t; chunk B, committed later, overlaps it:
     * t = 150..240 step 10, values 2000+t. Equal times must keep A before B. */
    for (int64_t t = 100; t < 200; t += 10) {
        struct wp_sample x = {0, t, 1000 + t};
        assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
    }
    assert_int_equal(wp_trace_commit(w, &err), 0);
    for (int64_t t = 150; t < 250; t += 10) {
        struct wp_sample x = {0, t, 2000 + t};
        assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
    }
    assert_int_equal(wp_trace_close(w, &err), 0);

    struct wp_trace *t = NULL;
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    struct wp_series s;
    assert_int_equal(wp_trace_series(t, 0, &s, &err), 0);
    assert_int_equal(s.n, 20);
    for (size_t i = 1; i < s.n; i++) {
        assert_true(s.t_us[i - 1] <= s.t_us[i]);
        if (s.t_us[i - 1] == s.t_us[i]) {
            assert_true(s.value[i - 1] == 1000 + s.t_us[i]);
            assert_true(s.value[i] == 2000 + s.t_us[i]);
        }
    }
    for (size_t i = 0; i < s.n; i++)
        assert_true(s.value[i] % 1000 == s.t_us[i] % 1000);
    wp_series_free(&s);
    wp_trace_free(t);
    wp_sensors_free(&tab);
}

/* Commits go into one chunk until it is full or spans a minute; a killed writer still leaves
 * every committed sample (test_trace_keeps_every_committed_sample_when_writer_is_sigkilled). */
static void test_trace_small_commits_share_a_chunk(void **state)
{
    struct ctx *c = *state;
    write_simple(c->path, 2, 1200); /* 24 commits of 50 samples per sensor */
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(c->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT n, vmin, vmax, vsum FROM chunks WHERE sensor = 0 "
                                        "ORDER BY t0_us",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int64_t sizes[8], nrows = 0, first = 0;
    while (sqlite3_step(st) == SQLITE_ROW && nrows < 8) {
        sizes[nrows++] = sqlite3_column_int64(st, 0);
        /* the row's aggregates are those of its samples */
        int64_t lo = INT64_MAX, hi = INT64_MIN, sum = 0;
        bool sum_ok = true;
        for (int64_t i = first; i < first + sizes[nrows - 1]; i++) {
            lo = val(0, i) < lo ? val(0, i) : lo;
            hi = val(0, i) > hi ? val(0, i) : hi;
            sum_ok = sum_ok && !__builtin_add_overflow(sum, val(0, i), &sum);
        }
        first += sizes[nrows - 1];
        assert_int_equal(sqlite3_column_int64(st, 1), lo);
        assert_int_equal(sqlite3_column_int64(st, 2), hi);
        if (sum_ok)
            assert_int_equal(sqlite3_column_int64(st, 3), sum);
        else /* val() puts INT64_MIN among them: the sum does not fit */
            assert_int_equal(sqlite3_column_type(st, 3), SQLITE_NULL);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* 550 + 550 (each closed once past 512) + the 100 still open at close */
    assert_int_equal(nrows, 3);
    assert_int_equal(sizes[0], 550);
    assert_int_equal(sizes[1], 550);
    assert_int_equal(sizes[2], 100);
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    check_series(t, 0, 1200);
    check_series(t, 1, 1200);
    wp_trace_free(t);
}

/* The cursor hands out one chunk at a time (so a day-long series is never in memory at once),
 * except chunks that overlap in time, which come together, sorted; joined, the blocks are
 * what wp_trace_series gives. */
static void test_trace_cursor_gives_a_chunk_at_a_time(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    three_sensors(&tab);
    tab.n = 1;
    struct wp_trace_writer *w = create_ok(c->path, &tab);
    struct wp_err err = {0};
    /* commits of 10 samples 10 s apart at 0, 100, 200, 300 s (each spans 90 s, so each closes
     * its chunk); then one that overlaps the last */
    for (int64_t k = 0; k < 5; k++) {
        int64_t t0 = (k < 4 ? k * 100 : 355) * 1000000;
        for (int64_t t = t0; t < t0 + 100000000; t += 10000000) {
            struct wp_sample x = {0, t, k};
            assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
        }
        assert_int_equal(wp_trace_commit(w, &err), 0);
    }
    assert_int_equal(wp_trace_close(w, &err), 0);

    struct wp_trace *t = NULL;
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    struct wp_series all;
    assert_int_equal(wp_trace_series(t, 0, &all, &err), 0);
    struct wp_trace_cursor *cur;
    assert_int_equal(wp_trace_cursor_open(t, 0, &cur, &err), 0);
    const int64_t *ct, *cv;
    size_t n, at = 0, blocks = 0, sizes[8] = {0};
    while (wp_trace_cursor_next(cur, &ct, &cv, &n, &err) == 0 && n > 0) {
        assert_true(blocks < 8);
        sizes[blocks++] = n;
        for (size_t i = 0; i < n; i++, at++) {
            assert_int_equal(ct[i], all.t_us[at]);
            assert_int_equal(cv[i], all.value[at]);
        }
    }
    assert_int_equal(at, all.n);
    assert_int_equal(blocks, 4);
    assert_int_equal(sizes[0], 10);
    assert_int_equal(sizes[2], 10);
    assert_int_equal(sizes[3], 20); /* 300..390 s and 355..445 s overlap: one sorted block */
    wp_trace_cursor_close(cur);

    /* A window reads only the chunks that hold its samples: [150 s, 310 s] is in the chunks
     * of 100, 200 and 300 s; the chunk of 0 s is not decoded, nor that of 355 s (it overlaps
     * 300 s, but starts after the window). Every sample of the window comes, in order. */
    assert_int_equal(wp_trace_cursor_open_window(t, 0, 150000000, 310000000, &cur, &err), 0);
    size_t got = 0, first = SIZE_MAX;
    blocks = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    while (wp_trace_cursor_next(cur, &ct, &cv, &n, &err) == 0 && n > 0) {
        blocks++;
        for (size_t i = 0; i < n; i++) {
            lo = ct[i] < lo ? ct[i] : lo;
            hi = ct[i] > hi ? ct[i] : hi;
            if (ct[i] < 150000000 || ct[i] > 310000000)
                continue;
            if (first == SIZE_MAX)
                first = got;
            assert_int_equal(
                ct[i], all.t_us[wp_lower_bound_i64(all.t_us, all.n, 150000000) + got - first]);
            got++;
        }
    }
    assert_int_equal(got, wp_upper_bound_i64(all.t_us, all.n, 310000000) -
                              wp_lower_bound_i64(all.t_us, all.n, 150000000));
    assert_int_equal(blocks, 3);
    assert_int_equal(lo, 100000000);
    assert_int_equal(hi, 390000000);
    wp_trace_cursor_close(cur);
    /* after the last sample: nothing */
    assert_int_equal(wp_trace_cursor_open_window(t, 0, 446000000, INT64_MAX, &cur, &err), 0);
    assert_int_equal(wp_trace_cursor_next(cur, &ct, &cv, &n, &err), 0);
    assert_int_equal(n, 0);
    wp_trace_cursor_close(cur);
    wp_series_free(&all);
    wp_trace_free(t);
    wp_sensors_free(&tab);
}

static void test_trace_create_refuses_existing_file_and_leaves_it_unchanged(void **state)
{
    struct ctx *c = *state;
    write_simple(c->path, 2, 120);
    size_t len;
    uint8_t *before = slurp(c->path, &len);
    struct wp_trace_writer *w = NULL;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_create(&w, c->path, false, &err), -EEXIST);
    assert_null(w);
    assert_non_null(strstr(err.msg, c->path));
    assert_non_null(strstr(err.msg, "already exists"));
    assert_non_null(strstr(err.msg, "--force"));
    assert_same_bytes(c->path, before, len);
    free(before);

    /* A file that is not a trace is refused just the same. */
    char other[400];
    snprintf(other, sizeof(other), "%s/notes.txt", c->dir);
    spit(other, "precious", 8);
    assert_int_equal(wp_trace_create(&w, other, false, &err), -EEXIST);
    assert_same_bytes(other, (const uint8_t *)"precious", 8);
}

static void test_trace_create_with_force_replaces_file_and_its_wal(void **state)
{
    struct ctx *c = *state;
    char p[400];
    spit(c->path, "old junk that is not a trace", 28);
    snprintf(p, sizeof(p), "%s-wal", c->path);
    spit(p, "stale wal", 9);
    snprintf(p, sizeof(p), "%s-shm", c->path);
    spit(p, "stale shm", 9);
    struct wp_sensors tab;
    three_sensors(&tab);
    struct wp_trace_writer *w = NULL;
    struct wp_err err = {0};
    int rc = wp_trace_create(&w, c->path, true, &err);
    if (rc < 0)
        fail_msg("create --force: %s", err.msg);
    assert_int_equal(wp_trace_put_sensors(w, &tab, &err), 0);
    struct wp_sample x = {1, tim(1, 0), val(1, 0)};
    assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
    assert_false(exists_sfx(c->path, "-wal"));
    assert_false(exists_sfx(c->path, "-shm"));
    struct wp_trace *t = NULL;
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    assert_int_equal(wp_trace_sensors(t)->n, 3);
    check_series(t, 1, 1);
    wp_trace_free(t);
    wp_sensors_free(&tab);
}

/* A second writer, even with force, must not replace a trace that is still being written:
 * the first writer's samples would go to an unlinked file and be lost. The check holds
 * inside one process too (OFD locks), which is what lets this test run in one. */
static void test_trace_create_with_force_refuses_a_trace_being_written(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    three_sensors(&tab);
    struct wp_trace_writer *w = create_ok(c->path, &tab);
    struct wp_err err = {0};
    struct wp_sample x = {0, tim(0, 0), val(0, 0)};
    assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
    assert_int_equal(wp_trace_commit(w, &err), 0);

    struct wp_trace_writer *w2 = NULL;
    assert_int_equal(wp_trace_create(&w2, c->path, true, &err), -EBUSY);
    assert_null(w2);
    if (!strstr(err.msg, "being recorded") || !strstr(err.msg, c->path))
        fail_msg("message: %s", err.msg);
    assert_true(exists_sfx(c->path, "-wal")); /* nothing of the live trace was removed */
    assert_int_equal(wp_trace_create(&w2, c->path, false, &err), -EBUSY);

    /* The first writer goes on, and its samples are all there. */
    x = (struct wp_sample){0, tim(0, 1), val(0, 1)};
    assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
    struct wp_trace *t = NULL;
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    check_series(t, 0, 2);
    wp_trace_free(t);

    /* Closed, it may be replaced again. */
    assert_int_equal(wp_trace_create(&w2, c->path, true, &err), 0);
    assert_int_equal(wp_trace_close(w2, &err), 0);
    wp_sensors_free(&tab);
}

static void test_trace_create_ignores_orphan_wal_without_database(void **state)
{
    struct ctx *c = *state;
    /* A -wal with committed frames from some other database, left where the new trace goes,
     * must not leak into it (SQLite drops a -wal next to an empty file; create must keep the
     * file empty until SQLite has it). */
    char src[400], srcwal[420], wal[420];
    snprintf(src, sizeof(src), "%s/src.db", c->dir);
    snprintf(srcwal, sizeof(srcwal), "%s-wal", src);
    snprintf(wal, sizeof(wal), "%s-wal", c->path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(src, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                     "INSERT INTO meta VALUES('format', 'not-ours');"
                     "CREATE TABLE junk(x); INSERT INTO junk VALUES(randomblob(9000));",
                     NULL, NULL, NULL),
        SQLITE_OK);
    size_t len;
    uint8_t *frames = slurp(srcwal, &len);
    assert_true(len > 4096);
    spit(wal, frames, len);
    free(frames);
    sqlite3_close(db);

    write_simple(c->path, 2, 10);
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    int rc = wp_trace_open(&t, c->path, &err);
    if (rc < 0)
        fail_msg("open: %s", err.msg);
    check_series(t, 1, 10);
    wp_trace_free(t);
}

static void test_trace_create_reports_missing_directory(void **state)
{
    struct ctx *c = *state;
    char p[400];
    snprintf(p, sizeof(p), "%s/no/such/dir/t.wptrace", c->dir);
    struct wp_trace_writer *w = NULL;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_create(&w, p, false, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "does not exist"));
    assert_non_null(strstr(err.msg, "/no/such/dir"));
}

static int create_in_readonly_dir(const char *p)
{
    struct wp_trace_writer *w = NULL;
    struct wp_err err = {0};
    int rc = wp_trace_create(&w, p, false, &err);
    if (rc == 0)
        wp_trace_close(w, NULL);
    return rc == -EACCES && strstr(err.msg, "permission") && strstr(err.msg, p) && !exists(p);
}

static void test_trace_create_reports_unwritable_directory(void **state)
{
    struct ctx *c = *state;
    char d[400], p[420];
    snprintf(d, sizeof(d), "%s/ro", c->dir);
    assert_int_equal(mkdir(d, 0555), 0);
    assert_int_equal(chmod(d, 0555), 0); /* whatever the umask */
    snprintf(p, sizeof(p), "%s/t.wptrace", d);
    if (geteuid() != 0) {
        assert_true(create_in_readonly_dir(p));
        return;
    }
    /* Root writes anywhere: try it as nobody, in a child that drops its privileges. */
    assert_int_equal(chmod(c->dir, 0755), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        _exit(create_in_readonly_dir(p) ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 2)
        skip(); /* cannot drop privileges here (a container without setuid) */
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_trace_create_refuses_directory_path(void **state)
{
    struct ctx *c = *state;
    struct wp_trace_writer *w = NULL;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_create(&w, c->dir, true, &err), -EISDIR);
    assert_true(exists(c->dir));
}

static void test_trace_create_failure_after_claiming_leaves_no_file(void **state)
{
    struct ctx *c = *state;
    /* A directory where SQLite wants to put the -wal makes creation fail after the name was
     * claimed with O_EXCL. */
    char wal[400];
    snprintf(wal, sizeof(wal), "%s-wal", c->path);
    assert_int_equal(mkdir(wal, 0755), 0);
    struct wp_trace_writer *w = NULL;
    struct wp_err err = {0};
    int rc = wp_trace_create(&w, c->path, false, &err);
    assert_true(rc < 0);
    assert_null(w);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, c->path));
    assert_false(exists(c->path));
    assert_false(exists_sfx(c->path, "-shm"));
}

static void expect_open_error(const char *path, int code, const char *text)
{
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    int rc = wp_trace_open(&t, path, &err);
    if (rc != code)
        fail_msg("open %s: want %d, got %d (%s)", path, code, rc, err.msg);
    assert_null(t);
    if (!strstr(err.msg, text))
        fail_msg("message '%s' lacks '%s'", err.msg, text);
    assert_non_null(strstr(err.msg, path));
}

static void test_trace_open_rejects_missing_empty_and_random_files(void **state)
{
    struct ctx *c = *state;
    expect_open_error(c->path, -ENOENT, "does not exist");
    spit(c->path, "", 0);
    expect_open_error(c->path, -EINVAL, "empty");
    uint8_t junk[8192];
    uint64_t r = 99;
    for (size_t i = 0; i < sizeof(junk); i++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        junk[i] = (uint8_t)(r >> 56);
    }
    spit(c->path, junk, sizeof(junk));
    expect_open_error(c->path, -EINVAL, "is not a wattprof trace (not an SQLite database)");
    spit(c->path, "hello\n", 6);
    expect_open_error(c->path, -EINVAL, "not an SQLite database");
    /* SQLite's magic followed by noise is a damaged database, not some other format. */
    memcpy(junk, "SQLite format 3", 16);
    spit(c->path, junk, sizeof(junk));
    expect_open_error(c->path, -EIO, "damaged");
    expect_open_error(c->dir, -EISDIR, "directory");
}

static void test_trace_open_rejects_sqlite_database_that_is_not_a_trace(void **state)
{
    struct ctx *c = *state;
    sql(c->path, "CREATE TABLE foo(x); INSERT INTO foo VALUES(1);");
    expect_open_error(c->path, -EINVAL, "is an SQLite database but not a wattprof trace");
    sql(c->path, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                 "INSERT INTO meta VALUES('format', 'something-else');");
    expect_open_error(c->path, -EINVAL, "is an SQLite database but not a wattprof trace");
}

static void test_trace_open_rejects_newer_format_version(void **state)
{
    struct ctx *c = *state;
    write_simple(c->path, 1, 10);
    char q[128], want[64];
    snprintf(q, sizeof(q), "UPDATE meta SET value = '%d' WHERE key = 'format_version'",
             WP_TRACE_VERSION + 1);
    sql(c->path, q);
    snprintf(want, sizeof(want), "newer wattprof (format %d", WP_TRACE_VERSION + 1);
    expect_open_error(c->path, -ENOTSUP, want);
    struct wp_err err = {0};
    struct wp_trace *t = NULL;
    wp_trace_open(&t, c->path, &err);
    assert_non_null(strstr(err.msg, "upgrade wattprof"));
}

/* Version 1 traces (before scopes and scales) are NVML-only and still read, with the scopes
 * that NVML's sensors have. */
static void test_trace_reads_version_1_sensors_with_nvml_scopes(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    memset(&tab, 0, sizeof(tab));
    struct wp_sensor a = mk_sensor("power", WP_Q_POWER, WP_GAUGE, 0, 700000, 700000);
    struct wp_sensor m =
        mk_sensor("power_memory", WP_Q_POWER, WP_GAUGE, 0, WP_NO_LIMIT, WP_NO_LIMIT);
    wp_sensors_add(&tab, &a);
    wp_sensors_add(&tab, &m);
    struct wp_trace_writer *w = create_ok(c->path, &tab);
    struct wp_err err = {0};
    assert_int_equal(wp_trace_close(w, &err), 0);
    wp_sensors_free(&tab);
    sql(c->path, "ALTER TABLE sensors DROP COLUMN source_kind; ALTER TABLE sensors DROP COLUMN "
                 "scope; ALTER TABLE sensors DROP COLUMN contains; ALTER TABLE sensors DROP "
                 "COLUMN scale; UPDATE meta SET value = '1' WHERE key = 'format_version'");
    struct wp_trace *t = NULL;
    if (wp_trace_open(&t, c->path, &err) < 0)
        fail_msg("open: %s", err.msg);
    const struct wp_sensors *st = wp_trace_sensors(t);
    assert_int_equal(st->n, 2);
    assert_int_equal(st->v[0].scope, WP_SCOPE_GPU);
    assert_int_equal(st->v[0].contains, WP_SCOPE_BIT(WP_SCOPE_GPU_MEMORY));
    assert_int_equal(st->v[1].scope, WP_SCOPE_GPU_MEMORY);
    assert_string_equal(st->v[0].source_kind, "nvml");
    assert_true(wp_sensor_scale(&st->v[0]) == 1.0);
    wp_trace_free(t);
}

static void test_trace_open_rejects_truncated_copy(void **state)
{
    struct ctx *c = *state;
    write_simple(c->path, 3, 20000);
    size_t len;
    uint8_t *full = slurp(c->path, &len);
    assert_true(len > 100000);
    char cut[400];
    snprintf(cut, sizeof(cut), "%s/cut.wptrace", c->dir);
    spit(cut, full, len / 2);
    expect_open_error(cut, -EIO, "is damaged (truncated or corrupt)");
    /* Any cut at all, not just the middle, must be noticed. */
    static const double at[] = {0.01, 0.1, 0.25, 0.75, 0.9, 0.99};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        spit(cut, full, (size_t)((double)len * at[i]));
        expect_open_error(cut, -EIO, "damaged");
    }
    /* Cuts at page boundaries leave SQLite's own size check to find them. */
    size_t pages = len / 4096;
    static const size_t at_page[] = {1, 2, 3};
    for (size_t i = 0; i < 3; i++) {
        spit(cut, full, 4096 * (pages * at_page[i] / 4));
        expect_open_error(cut, -EIO, "damaged");
    }
    spit(cut, full, 4096);
    expect_open_error(cut, -EIO, "damaged");
    spit(cut, full, 100);
    expect_open_error(cut, -EIO, "damaged");
    free(full);
}

/* Flips one bit of byte `pos` in the k-th chunk (by time) of a sensor. */
static void flip_chunk_bit(const char *path, int sensor, int k, int pos)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT rowid, data FROM chunks WHERE sensor = ? "
                                        "ORDER BY t0_us LIMIT 1 OFFSET ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(st, 1, sensor);
    sqlite3_bind_int(st, 2, k);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t rowid = sqlite3_column_int64(st, 0);
    int len = sqlite3_column_bytes(st, 1);
    assert_true(pos < len);
    uint8_t *b = malloc((size_t)len);
    assert_non_null(b);
    memcpy(b, sqlite3_column_blob(st, 1), (size_t)len);
    sqlite3_finalize(st);
    b[pos] ^= 4;
    assert_int_equal(
        sqlite3_prepare_v2(db, "UPDATE chunks SET data = ? WHERE rowid = ?", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_blob(st, 1, b, len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, rowid);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(b);
}

static void test_trace_series_keeps_intact_chunks_and_lists_the_damaged_one(void **state)
{
    struct ctx *c = *state;
    /* commits of 50 samples; a chunk takes commits until it holds WP_TRACE_CHUNK_TARGET (512):
     * 4 chunks of 550 samples per sensor */
    write_simple(c->path, 2, 2200);
    flip_chunk_bit(c->path, 1, 2, 10);
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    check_series(t, 0, 2200);
    struct wp_series s;
    assert_int_equal(wp_trace_series(t, 1, &s, &err), 0);
    /* chunks 0, 1 and 3 are intact: samples 0-1099 and 1650-2199 */
    assert_int_equal(s.n, 1650);
    for (size_t i = 0; i < s.n; i++) {
        int64_t k = i < 1100 ? (int64_t)i : (int64_t)i + 550;
        assert_true(s.t_us[i] == tim(1, k));
        assert_true(s.value[i] == val(1, k));
    }
    assert_int_equal(s.ndamaged, 1);
    assert_int_equal(s.damaged[0].sensor, 1);
    assert_true(s.damaged[0].t0_us == tim(1, 1100));
    assert_true(s.damaged[0].t1_us == tim(1, 1649));
    assert_int_equal(s.damaged[0].samples, 550);
    char what[320];
    wp_trace_damage_describe(t, &s.damaged[0], what, sizeof(what));
    if (!strstr(what, "does not decode") || !strstr(what, "550 samples"))
        fail_msg("description: %s", what);
    wp_series_free(&s);
    wp_trace_free(t);
}

static void test_trace_reader_sees_committed_samples_while_writer_is_open(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    three_sensors(&tab);
    tab.n = 1;
    struct wp_trace_writer *w = create_ok(c->path, &tab);
    struct wp_err err = {0};
    for (int64_t i = 0; i < 100; i++) {
        struct wp_sample x = {0, tim(0, i), val(0, i)};
        assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
        if (i == 59)
            assert_int_equal(wp_trace_commit(w, &err), 0);
    }
    /* 60 committed, 40 still buffered. */
    struct wp_trace *t = NULL;
    int rc = wp_trace_open(&t, c->path, &err);
    if (rc < 0)
        fail_msg("open live trace: %s", err.msg);
    check_series(t, 0, 60);
    /* The writer can still finish while the reader holds the file open. */
    assert_int_equal(wp_trace_close(w, &err), 0);
    wp_trace_free(t);
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    check_series(t, 0, 100);
    wp_trace_free(t);
    wp_sensors_free(&tab);
}

/* The child: writes forever, reporting through fd how many samples per sensor are committed.
 * It never returns; the parent kills it. */
static void killed_writer(const char *path, int fd)
{
    struct wp_sensors tab;
    three_sensors(&tab);
    tab.n = 2;
    struct wp_trace_writer *w = NULL;
    struct wp_err err = {0};
    if (wp_trace_create(&w, path, false, &err) < 0 || wp_trace_put_sensors(w, &tab, &err) < 0)
        _exit(2);
    for (int64_t i = 0;;) {
        struct wp_sample b[2 * 50];
        for (int k = 0; k < 50; k++, i++)
            for (int s = 0; s < 2; s++)
                b[2 * k + s] = (struct wp_sample){s, tim(s, i), val(s, i)};
        if (wp_trace_append(w, b, 100, &err) < 0 || wp_trace_commit(w, &err) < 0)
            _exit(3);
        if (write(fd, &i, sizeof(i)) != (ssize_t)sizeof(i))
            _exit(4);
    }
}

static void test_trace_keeps_every_committed_sample_when_writer_is_sigkilled(void **state)
{
    struct ctx *c = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        killed_writer(c->path, fds[1]);
    }
    close(fds[1]);
    int64_t committed = 0;
    for (int commits = 0; commits < 40; commits++) {
        ssize_t got = read(fds[0], &committed, sizeof(committed));
        if (got != (ssize_t)sizeof(committed)) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fail_msg("writer stopped after %d commits", commits);
        }
    }
    /* The writer is already busy with its next batch when the signal lands. */
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(fds[0]);
    /* The state this test is about: the WAL was never merged. */
    assert_true(exists_sfx(c->path, "-wal"));

    size_t len;
    uint8_t *before = slurp(c->path, &len);
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    int rc = wp_trace_open(&t, c->path, &err);
    if (rc < 0)
        fail_msg("open after SIGKILL: %s", err.msg);
    for (int s = 0; s < 2; s++) {
        struct wp_series ser;
        assert_int_equal(wp_trace_series(t, s, &ser, &err), 0);
        print_message("sensor %d: %zu samples committed, %zu read\n", s, (size_t)committed, ser.n);
        assert_true(ser.n >= (size_t)committed);
        for (size_t i = 0; i < ser.n; i++) {
            assert_true(ser.t_us[i] == tim(s, (int64_t)i));
            assert_true(ser.value[i] == val(s, (int64_t)i));
        }
        wp_series_free(&ser);
    }
    wp_trace_free(t);
    /* Reading did not checkpoint the WAL into the file or remove it. */
    assert_same_bytes(c->path, before, len);
    assert_true(exists_sfx(c->path, "-wal"));
    free(before);
}

/* A merged trace (format 3): two nodes' GPU 0 told apart by host; each node's view holds its
 * own sensors (with their stored ids), samples, marks (sender pid kept), events and meta. */
static void test_trace_node_views_split_a_merged_trace(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    memset(&tab, 0, sizeof(tab));
    struct wp_sensor a = mk_sensor("power", WP_Q_POWER, WP_GAUGE, 0, 700000, 700000);
    struct wp_sensor b = a;
    snprintf(a.host, sizeof(a.host), "gpu01");
    snprintf(b.host, sizeof(b.host), "gpu02");
    wp_sensors_add(&tab, &a);
    wp_sensors_add(&tab, &b);
    struct wp_trace_writer *w = create_ok(c->path, &tab);
    struct wp_err err = {0};
    struct wp_meta meta = {0};
    wp_meta_set(&meta, "merge.nodes", "2");
    wp_meta_set(&meta, "merge.node.0", "gpu01");
    wp_meta_set(&meta, "merge.node.0.start_us", "100");
    wp_meta_set(&meta, "merge.node.1", "gpu02");
    wp_meta_set(&meta, "merge.node.1.start_us", "200");
    wp_meta_set(&meta, "start_us", "100");
    assert_int_equal(wp_trace_put_meta(w, &meta, &err), 0);
    wp_meta_free(&meta);
    for (int64_t i = 0; i < 30; i++)
        for (int sn = 0; sn < 2; sn++) {
            struct wp_sample x = {.sensor = sn, .t_us = tim(sn, i), .value = val(sn, i)};
            assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
        }
    struct wp_mark m = {.t_us = 5, .kind = WP_MARK_BEGIN, .pid = 4242};
    snprintf(m.name, sizeof(m.name), "train");
    snprintf(m.host, sizeof(m.host), "gpu02");
    assert_int_equal(wp_trace_put_mark(w, &m, &err), 0);
    struct wp_event e = {.t_us = 6, .sensor = 0, .device = 0};
    snprintf(e.host, sizeof(e.host), "gpu01");
    snprintf(e.message, sizeof(e.message), "lost");
    assert_int_equal(wp_trace_put_event(w, &e, &err), 0);
    assert_int_equal(wp_trace_close(w, &err), 0);
    wp_sensors_free(&tab);

    struct wp_trace *t = NULL;
    if (wp_trace_open(&t, c->path, &err) < 0)
        fail_msg("open: %s", err.msg);
    assert_int_equal(wp_trace_nnodes(t), 2);
    assert_string_equal(wp_trace_node_host(t, 1), "gpu02");
    for (size_t n = 0; n < 2; n++) {
        struct wp_trace *v = NULL;
        assert_int_equal(wp_trace_node(t, n, &v, &err), 0);
        const struct wp_sensors *vs = wp_trace_sensors(v);
        assert_int_equal(vs->n, 1);
        assert_int_equal(vs->v[0].id, (int)n);
        assert_string_equal(vs->v[0].host, n ? "gpu02" : "gpu01");
        check_series(v, (int)n, 30);
        assert_string_equal(wp_meta_get(wp_trace_meta(v), "start_us"), n ? "200" : "100");
        assert_int_equal(wp_trace_nnodes(v), 0);
        const struct wp_mark *mv;
        const struct wp_event *ev;
        size_t nm, ne;
        wp_trace_marks(v, &mv, &nm, &err);
        wp_trace_events(v, &ev, &ne, &err);
        assert_int_equal(nm, n ? 1 : 0);
        assert_int_equal(ne, n ? 0 : 1);
        if (n)
            assert_int_equal(mv[0].pid, 4242);
        wp_trace_free(v);
    }
    struct wp_trace *none = NULL;
    assert_int_equal(wp_trace_node(t, 2, &none, &err), -ENOENT);
    wp_trace_free(t);
}

/* A version 2 trace has no hosts and no sender pids: it reads as one node of its own. */
static void test_trace_reads_version_2_without_hosts(void **state)
{
    struct ctx *c = *state;
    write_simple(c->path, 2, 10);
    sql(c->path, "ALTER TABLE sensors DROP COLUMN host; ALTER TABLE marks DROP COLUMN host;"
                 "ALTER TABLE marks DROP COLUMN pid; ALTER TABLE events DROP COLUMN host;"
                 "INSERT INTO marks(t_us, kind, name, counts) VALUES(1, 'begin', 'x', '{}');"
                 "UPDATE meta SET value = '2' WHERE key = 'format_version'");
    chunks_to_v1(c->path);
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    if (wp_trace_open(&t, c->path, &err) < 0)
        fail_msg("open: %s", err.msg);
    assert_int_equal(wp_trace_nnodes(t), 0);
    assert_string_equal(wp_trace_sensors(t)->v[1].host, "");
    const struct wp_mark *m;
    size_t n;
    wp_trace_marks(t, &m, &n, &err);
    assert_int_equal(n, 1);
    assert_int_equal(m[0].pid, 0);
    check_series(t, 1, 10);
    wp_trace_free(t);
}

/* A format 4 trace holds version 1 chunks only: a version 2 chunk there is damage (the format
 * 4 writer never wrote one), named as such; the same samples in version 1 read. */
static void test_trace_refuses_a_version_2_chunk_in_a_format_4_trace(void **state)
{
    struct ctx *c = *state;
    write_simple(c->path, 1, 600);
    sql(c->path, "UPDATE meta SET value = '4' WHERE key = 'format_version'");
    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    struct wp_series s;
    assert_int_equal(wp_trace_series(t, 0, &s, &err), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.ndamaged, 2);
    char what[320];
    wp_trace_damage_describe(t, &s.damaged[0], what, sizeof(what));
    if (!strstr(what, "newer chunk version"))
        fail_msg("description: %s", what);
    wp_series_free(&s);
    wp_trace_free(t);
    chunks_to_v1(c->path);
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    check_series(t, 0, 600);
    wp_trace_free(t);
}

/* An open chunk is rewritten at every commit, in the cheap version 1; what is closed, and
 * whatever is open at a clean close, is version 2. */
static void test_trace_writes_version_2_chunks_and_version_1_open_ones(void **state)
{
    struct ctx *c = *state;
    struct wp_sensors tab;
    three_sensors(&tab);
    tab.n = 1;
    struct wp_trace_writer *w = create_ok(c->path, &tab);
    struct wp_err err = {0};
    for (int64_t i = 0; i < 700; i++) {
        struct wp_sample x = {0, tim(0, i), val(0, i)};
        assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
        if (i == 599)
            assert_int_equal(wp_trace_commit(w, &err), 0); /* 600 > 512: closed */
    }
    assert_int_equal(wp_trace_commit(w, &err), 0); /* 100 more: open */
    assert_int_equal(sql_int(c->path, "SELECT COUNT(*) FROM chunks WHERE hex(substr(data, 1, "
                                      "1)) = '02' AND n = 600"),
                     1);
    assert_int_equal(sql_int(c->path, "SELECT COUNT(*) FROM open_chunks WHERE hex(substr(data, 1, "
                                      "1)) = '01' AND n = 100"),
                     1);
    assert_int_equal(wp_trace_close(w, &err), 0);
    wp_sensors_free(&tab);
    assert_int_equal(sql_int(c->path, "SELECT COUNT(*) FROM chunks WHERE hex(substr(data, 1, "
                                      "1)) = '02'"),
                     2);
    assert_int_equal(sql_int(c->path, "SELECT COUNT(*) FROM chunks"), 2);
    assert_int_equal(sql_int(c->path, "SELECT value FROM meta WHERE key = 'format_version'"),
                     WP_TRACE_VERSION);
    struct wp_trace *t = NULL;
    assert_int_equal(wp_trace_open(&t, c->path, &err), 0);
    check_series(t, 0, 700);
    wp_trace_free(t);
}

/* The committed format 4 trace (bench/perf/day_gen.c of wattprof before format 5, 14 s of 2
 * H200s from the fake NVML): each chunk decodes to samples whose count, time range, minimum,
 * maximum and sum are what its writer stored beside it from the samples it had; the reader
 * gives those samples; and written again by this writer they come back the same from version
 * 2 chunks that take fewer bytes. */
#define FORMAT4_TRACE "tests/fuzz/corpus/trace/day-gen-2gpu-v4"
static void test_trace_reads_a_committed_format_4_trace_as_written(void **state)
{
    struct ctx *c = *state;
    assert_int_equal(sql_int(FORMAT4_TRACE, "SELECT value FROM meta WHERE key = 'format_version'"),
                     4);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2("file:" FORMAT4_TRACE "?immutable=1", &db,
                                     SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT n, data, t0_us, t1_us, vmin, vmax, vsum FROM "
                                        "chunks UNION ALL SELECT n, data, t0_us, t1_us, vmin, "
                                        "vmax, vsum FROM open_chunks",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int64_t chunks = 0, v1_bytes = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_int64(st, 0);
        const uint8_t *blob = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        assert_int_equal(wp_chunk_version(blob, len), 1);
        int64_t *t = malloc(n * sizeof(*t)), *v = malloc(n * sizeof(*v));
        assert_non_null(t);
        assert_non_null(v);
        assert_int_equal(wp_chunk_decode(blob, len, n, t, v), 0);
        int64_t lo = t[0], hi = t[0], vmin = v[0], vmax = v[0], vsum = 0;
        for (size_t i = 0; i < n; i++) {
            lo = t[i] < lo ? t[i] : lo;
            hi = t[i] > hi ? t[i] : hi;
            vmin = v[i] < vmin ? v[i] : vmin;
            vmax = v[i] > vmax ? v[i] : vmax;
            vsum += v[i];
        }
        assert_int_equal(lo, sqlite3_column_int64(st, 2));
        assert_int_equal(hi, sqlite3_column_int64(st, 3));
        assert_int_equal(vmin, sqlite3_column_int64(st, 4));
        assert_int_equal(vmax, sqlite3_column_int64(st, 5));
        assert_int_equal(vsum, sqlite3_column_int64(st, 6));
        free(t);
        free(v);
        chunks++;
        v1_bytes += (int64_t)len;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_true(chunks >= 16);

    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    if (wp_trace_open(&t, FORMAT4_TRACE, &err) < 0)
        fail_msg("open: %s", err.msg);
    const struct wp_sensors *tab = wp_trace_sensors(t);
    struct wp_series *all = calloc(tab->n, sizeof(*all));
    assert_non_null(all);
    struct wp_trace_writer *w = create_ok(c->path, NULL);
    assert_int_equal(wp_trace_put_sensors(w, tab, &err), 0);
    int64_t total = 0;
    for (size_t i = 0; i < tab->n; i++) {
        int id = (int)tab->v[i].id;
        assert_int_equal(wp_trace_series(t, id, &all[i], &err), 0);
        assert_int_equal(all[i].ndamaged, 0);
        char q[128];
        snprintf(q, sizeof(q), "SELECT SUM(n) FROM chunks WHERE sensor = %d", id);
        assert_int_equal((int64_t)all[i].n, sql_int(FORMAT4_TRACE, q));
        for (size_t k = 0; k < all[i].n; k++) {
            struct wp_sample x = {id, all[i].t_us[k], all[i].value[k]};
            assert_int_equal(wp_trace_append(w, &x, 1, &err), 0);
        }
        total += (int64_t)all[i].n;
    }
    assert_int_equal(total, sql_int(FORMAT4_TRACE, "SELECT SUM(n) FROM chunks"));
    assert_int_equal(wp_trace_close(w, &err), 0);

    struct wp_trace *again = NULL;
    assert_int_equal(wp_trace_open(&again, c->path, &err), 0);
    for (size_t i = 0; i < tab->n; i++) {
        struct wp_series s;
        assert_int_equal(wp_trace_series(again, (int)tab->v[i].id, &s, &err), 0);
        assert_int_equal(s.n, all[i].n);
        assert_memory_equal(s.t_us, all[i].t_us, s.n * sizeof(*s.t_us));
        assert_memory_equal(s.value, all[i].value, s.n * sizeof(*s.value));
        wp_series_free(&s);
        wp_series_free(&all[i]);
    }
    free(all);
    wp_trace_free(again);
    wp_trace_free(t);
    assert_int_equal(sql_int(c->path, "SELECT COUNT(*) FROM chunks WHERE hex(substr(data, 1, "
                                      "1)) != '02'"),
                     0);
    int64_t v2_bytes = sql_int(c->path, "SELECT SUM(length(data)) FROM chunks");
    print_message("format 4 chunks %lld bytes, written again %lld\n", (long long)v1_bytes,
                  (long long)v2_bytes);
    assert_true(v2_bytes < v1_bytes);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_trace_round_trips_meta_sensors_samples_marks_events),
        T(test_trace_append_refuses_undeclared_sensor_and_buffers_nothing),
        T(test_trace_overlapping_chunks_read_back_sorted_and_stable),
        T(test_trace_cursor_gives_a_chunk_at_a_time),
        T(test_trace_small_commits_share_a_chunk),
        T(test_trace_create_refuses_existing_file_and_leaves_it_unchanged),
        T(test_trace_create_with_force_replaces_file_and_its_wal),
        T(test_trace_create_ignores_orphan_wal_without_database),
        T(test_trace_create_reports_missing_directory),
        T(test_trace_create_reports_unwritable_directory),
        T(test_trace_create_refuses_directory_path),
        T(test_trace_create_failure_after_claiming_leaves_no_file),
        T(test_trace_open_rejects_missing_empty_and_random_files),
        T(test_trace_open_rejects_sqlite_database_that_is_not_a_trace),
        T(test_trace_open_rejects_newer_format_version),
        T(test_trace_reads_version_1_sensors_with_nvml_scopes),
        T(test_trace_open_rejects_truncated_copy),
        T(test_trace_series_keeps_intact_chunks_and_lists_the_damaged_one),
        T(test_trace_create_with_force_refuses_a_trace_being_written),
        T(test_trace_reader_sees_committed_samples_while_writer_is_open),
        T(test_trace_keeps_every_committed_sample_when_writer_is_sigkilled),
        T(test_trace_node_views_split_a_merged_trace),
        T(test_trace_reads_version_2_without_hosts),
        T(test_trace_refuses_a_version_2_chunk_in_a_format_4_trace),
        T(test_trace_writes_version_2_chunks_and_version_1_open_ones),
        T(test_trace_reads_a_committed_format_4_trace_as_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
