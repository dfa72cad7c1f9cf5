/* Trace reader. Opens read-only: reading a trace never changes it, not even the WAL a killed
 * recorder left behind. Meta, sensors, marks and events are loaded at open (they are small);
 * samples are decoded per sensor on demand. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/trace.h"
#include "store/trace_int.h"

struct wp_trace {
    sqlite3 *db;
    char *path;
    struct wp_meta meta;
    struct wp_sensors sensors;
    struct wp_mark *marks;
    size_t nmarks;
    struct wp_event *events;
    size_t nevents;
};

static int damaged_path(const char *path, struct wp_err *err, const char *why)
{
    return wp_errf(err, -EIO,
                   "%s is damaged (truncated or corrupt): %s; copy it again from where it was "
                   "recorded (with its -wal file if it has one) or record it again",
                   path, why);
}

static int damaged(const struct wp_trace *t, struct wp_err *err, const char *why)
{
    return damaged_path(t->path, err, why);
}

/* Turns an SQLite failure into a message about the file, not about SQLite. */
static int db_fail(const struct wp_trace *t, int rc, struct wp_err *err)
{
    const char *m = sqlite3_errmsg(t->db);
    switch (rc & 0xFF) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return damaged(t, err, m);
    case SQLITE_NOMEM:
        return wp_errf(err, -ENOMEM, "out of memory reading %s", t->path);
    case SQLITE_CANTOPEN:
        /* A trace whose recorder was killed is still in WAL mode: reading it needs its -shm,
         * which SQLite creates next to it if it is missing. */
        return wp_errf(err, -EACCES,
                       "cannot open %s: %s; if its recorder was stopped abnormally, its -wal and "
                       "-shm files must be readable and its directory writable",
                       t->path, m);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return wp_errf(err, -EBUSY, "%s is locked by another process (%s); try again", t->path, m);
    default:
        return wp_errf(err, -EIO, "cannot read %s: %s", t->path, m);
    }
}

/* Copies a column into a fixed-size field, truncating if it is longer. */
static void col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

static int prepare(const struct wp_trace *t, const char *sql, sqlite3_stmt **st, struct wp_err *err)
{
    int rc = sqlite3_prepare_v2(t->db, sql, -1, st, NULL);
    if (rc == SQLITE_OK)
        return 0;
    if ((rc & 0xFF) == SQLITE_ERROR)
        return damaged(t, err, sqlite3_errmsg(t->db)); /* a table or column is missing */
    return db_fail(t, rc, err);
}

static int load_meta(struct wp_trace *t, struct wp_err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(t->db, "SELECT key, value FROM meta", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        if ((rc & 0xFF) == SQLITE_ERROR)
            return wp_errf(err, -EINVAL,
                           "%s is an SQLite database but not a wattprof trace (it has no meta "
                           "table)",
                           t->path);
        return db_fail(t, rc, err);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *v = (const char *)sqlite3_column_text(st, 1);
        if (k && wp_meta_set(&t->meta, k, v ? v : "") < 0) {
            sqlite3_finalize(st);
            return wp_errf(err, -ENOMEM, "out of memory reading %s", t->path);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(t, rc, err);

    const char *fmt = wp_meta_get(&t->meta, "format");
    if (!fmt || strcmp(fmt, WP_TRACE_FORMAT) != 0)
        return wp_errf(err, -EINVAL, "%s is an SQLite database but not a wattprof trace", t->path);
    const char *ver = wp_meta_get(&t->meta, "format_version");
    char *end = NULL;
    long long v = ver ? strtoll(ver, &end, 10) : 0;
    if (!ver || end == ver || *end || v < 1)
        return damaged(t, err, "its format_version is missing or not a number");
    if (v > WP_TRACE_VERSION)
        return wp_errf(err, -ENOTSUP,
                       "%s was written by a newer wattprof (format %lld; this one reads up to "
                       "%d); upgrade wattprof to read it",
                       t->path, v, WP_TRACE_VERSION);
    return 0;
}

static int64_t col_limit(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? WP_NO_LIMIT
                                                       : sqlite3_column_int64(st, col);
}

static int load_sensors(struct wp_trace *t, struct wp_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(t,
                     "SELECT id, source, device, uuid, device_name, name, quantity, kind, "
                     "cadence_us, limit_value, default_limit, wrap_at, help FROM sensors "
                     "ORDER BY id",
                     &st, err);
    if (rc < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct wp_sensor s;
        memset(&s, 0, sizeof(s));
        int64_t id = sqlite3_column_int64(st, 0);
        col_text(st, 1, s.source, sizeof(s.source));
        s.device = sqlite3_column_int(st, 2);
        col_text(st, 3, s.uuid, sizeof(s.uuid));
        col_text(st, 4, s.device_name, sizeof(s.device_name));
        col_text(st, 5, s.name, sizeof(s.name));
        const char *q = (const char *)sqlite3_column_text(st, 6);
        const char *k = (const char *)sqlite3_column_text(st, 7);
        s.cadence_us = sqlite3_column_int64(st, 8);
        s.limit = col_limit(st, 9);
        s.default_limit = col_limit(st, 10);
        s.wrap_at = sqlite3_column_int64(st, 11);
        col_text(st, 12, s.help, sizeof(s.help));
        char why[160];
        if (id < 0 || id > WP_TRACE_MAX_SENSOR_ID) {
            snprintf(why, sizeof(why), "sensor id %" PRId64 " is out of range", id);
        } else if (!q || wp_quantity_parse(q, &s.quantity) < 0) {
            snprintf(why, sizeof(why), "sensor %" PRId64 " has an unknown quantity '%.40s'", id,
                     q ? q : "");
        } else if (!k || (strcmp(k, "gauge") != 0 && strcmp(k, "counter") != 0)) {
            snprintf(why, sizeof(why), "sensor %" PRId64 " has an unknown kind '%.40s'", id,
                     k ? k : "");
        } else {
            s.kind = strcmp(k, "counter") == 0 ? WP_COUNTER : WP_GAUGE;
            if (wp_sensors_add(&t->sensors, &s) < 0) {
                sqlite3_finalize(st);
                return wp_errf(err, -ENOMEM, "out of memory reading %s", t->path);
            }
            /* Keep the stored id: it is what chunks and events refer to. */
            t->sensors.v[t->sensors.n - 1].id = (int)id;
            continue;
        }
        sqlite3_finalize(st);
        return damaged(t, err, why);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(t, rc, err);
}

static int load_marks(struct wp_trace *t, struct wp_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(t, "SELECT t_us, kind, name, counts FROM marks ORDER BY t_us, id", &st, err);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->nmarks == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct wp_mark *nm = realloc(t->marks, ncap * sizeof(*nm));
            if (!nm) {
                sqlite3_finalize(st);
                return wp_errf(err, -ENOMEM, "out of memory reading %s", t->path);
            }
            t->marks = nm;
            cap = ncap;
        }
        struct wp_mark *m = &t->marks[t->nmarks];
        memset(m, 0, sizeof(*m));
        m->t_us = sqlite3_column_int64(st, 0);
        const char *k = (const char *)sqlite3_column_text(st, 1);
        col_text(st, 2, m->name, sizeof(m->name));
        const char *counts = (const char *)sqlite3_column_text(st, 3);
        int ok = 0;
        for (int i = WP_MARK_BEGIN; i <= WP_MARK_POINT; i++) {
            if (k && strcmp(k, wp_mark_kind_name((enum wp_mark_kind)i)) == 0) {
                m->kind = (enum wp_mark_kind)i;
                ok = 1;
            }
        }
        if (!ok || !counts || wp_store_counts_parse(counts, m) < 0) {
            char why[160];
            snprintf(why, sizeof(why), "mark '%.64s' has an unknown kind or unreadable counts",
                     m->name);
            sqlite3_finalize(st);
            return damaged(t, err, why);
        }
        t->nmarks++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(t, rc, err);
}

static int load_events(struct wp_trace *t, struct wp_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(
        t, "SELECT t_us, sensor, source, device, message FROM events ORDER BY t_us, id", &st, err);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->nevents == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct wp_event *ne = realloc(t->events, ncap * sizeof(*ne));
            if (!ne) {
                sqlite3_finalize(st);
                return wp_errf(err, -ENOMEM, "out of memory reading %s", t->path);
            }
            t->events = ne;
            cap = ncap;
        }
        struct wp_event *e = &t->events[t->nevents++];
        memset(e, 0, sizeof(*e));
        e->t_us = sqlite3_column_int64(st, 0);
        e->sensor = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 1);
        col_text(st, 2, e->source, sizeof(e->source));
        e->device = sqlite3_column_int(st, 3);
        col_text(st, 4, e->message, sizeof(e->message));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(t, rc, err);
}

/* Checks what SQLite would otherwise accept or misreport: a missing file, a directory, an
 * empty file (SQLite treats it as a new, empty database) and a file of some other format. */
static int check_file(const char *path, struct wp_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        if (e == ENOENT)
            return wp_errf(err, -ENOENT, "%s does not exist; check the path", path);
        if (e == EACCES)
            return wp_errf(err, -EACCES, "cannot read %s: permission denied", path);
        return wp_errf(err, -e, "cannot read %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode))
        return wp_errf(err, -EISDIR, "%s is a directory, not a trace file", path);
    if (!S_ISREG(st.st_mode))
        return wp_errf(err, -EINVAL, "%s is not a regular file, so not a wattprof trace", path);
    if (st.st_size == 0)
        return wp_errf(err, -EINVAL,
                       "%s is empty (0 bytes), so it is not a wattprof trace; the recording "
                       "that made it probably failed before it started",
                       path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == EACCES)
            return wp_errf(err, -EACCES, "cannot read %s: permission denied", path);
        return wp_errf(err, -e, "cannot read %s: %s", path, strerror(e));
    }
    static const char magic[16] = "SQLite format 3";
    uint8_t head[100];
    ssize_t got = read(fd, head, sizeof(head));
    close(fd);
    if (got < (ssize_t)sizeof(magic) || memcmp(head, magic, sizeof(magic)) != 0)
        return wp_errf(err, -EINVAL, "%s is not a wattprof trace (not an SQLite database)", path);
    if (got != (ssize_t)sizeof(head))
        return damaged_path(path, err, "it ends inside the SQLite header");
    /* SQLite notices a file shorter than its header says only when the header's page count
     * is current, and reads a cut-off last page as zeros. A cleanly closed trace (rollback
     * journal mode, bytes 18-19 = 1) is always whole pages, so check that here. A trace whose
     * recorder was killed is still in WAL mode, where the -wal may hold the missing pages. */
    unsigned page = (unsigned)head[16] << 8 | head[17];
    if (page == 1)
        page = 65536;
    if (page < 512 || (page & (page - 1)) != 0)
        return damaged_path(path, err, "its header gives an impossible page size");
    if (head[18] == 1 && head[19] == 1 && (uint64_t)st.st_size % page != 0) {
        char why[160];
        snprintf(why, sizeof(why), "it is %lld bytes, not a whole number of %u-byte pages",
                 (long long)st.st_size, page);
        return damaged_path(path, err, why);
    }
    return 0;
}

int wp_trace_open(struct wp_trace **out, const char *path, struct wp_err *err)
{
    *out = NULL;
    int rc = check_file(path, err);
    if (rc < 0)
        return rc;
    struct wp_trace *t = calloc(1, sizeof(*t));
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return wp_errf(err, -ENOMEM, "out of memory opening %s", path);
    }
    rc = sqlite3_open_v2(path, &t->db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        rc = t->db ? db_fail(t, rc, err) : wp_errf(err, -ENOMEM, "out of memory opening %s", path);
        wp_trace_free(t);
        return rc;
    }
    sqlite3_extended_result_codes(t->db, 1);
    /* Belt and braces: a read-only connection cannot checkpoint anyway, but a trace must come
     * out of a read exactly as it went in. */
    sqlite3_db_config(t->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_busy_timeout(t->db, 2000);
    if ((rc = load_meta(t, err)) < 0 || (rc = load_sensors(t, err)) < 0 ||
        (rc = load_marks(t, err)) < 0 || (rc = load_events(t, err)) < 0) {
        wp_trace_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void wp_trace_free(struct wp_trace *t)
{
    if (!t)
        return;
    sqlite3_close(t->db);
    wp_meta_free(&t->meta);
    wp_sensors_free(&t->sensors);
    free(t->marks);
    free(t->events);
    free(t->path);
    free(t);
}

const struct wp_sensors *wp_trace_sensors(const struct wp_trace *t)
{
    return &t->sensors;
}

const struct wp_meta *wp_trace_meta(const struct wp_trace *t)
{
    return &t->meta;
}

int wp_trace_marks(const struct wp_trace *t, const struct wp_mark **v, size_t *n,
                   struct wp_err *err)
{
    (void)err;
    *v = t->marks;
    *n = t->nmarks;
    return 0;
}

int wp_trace_events(const struct wp_trace *t, const struct wp_event **v, size_t *n,
                    struct wp_err *err)
{
    (void)err;
    *v = t->events;
    *n = t->nevents;
    return 0;
}

void wp_series_free(struct wp_series *s)
{
    if (!s)
        return;
    free(s->t_us);
    free(s->value);
    memset(s, 0, sizeof(*s));
}

/* Stable merge sort of (t, v) by t, for chunks that overlap in time. */
static void merge_sort(int64_t *t, int64_t *v, int64_t *tt, int64_t *tv, size_t n)
{
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (t[j] < t[i]) {
                    tt[k] = t[j];
                    tv[k++] = v[j++];
                } else {
                    tt[k] = t[i];
                    tv[k++] = v[i++];
                }
            }
            for (; i < mid; i++, k++) {
                tt[k] = t[i];
                tv[k] = v[i];
            }
            for (; j < hi; j++, k++) {
                tt[k] = t[j];
                tv[k] = v[j];
            }
        }
        memcpy(t, tt, n * sizeof(*t));
        memcpy(v, tv, n * sizeof(*v));
    }
}

static int sort_series(struct wp_series *s)
{
    size_t i = 1;
    while (i < s->n && s->t_us[i - 1] <= s->t_us[i])
        i++;
    if (i >= s->n)
        return 0;
    int64_t *tt = malloc(s->n * sizeof(*tt)), *tv = malloc(s->n * sizeof(*tv));
    if (!tt || !tv) {
        free(tt);
        free(tv);
        return -ENOMEM;
    }
    merge_sort(s->t_us, s->value, tt, tv, s->n);
    free(tt);
    free(tv);
    return 0;
}

static int grow_series(struct wp_series *s, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    int64_t *nt = realloc(s->t_us, ncap * sizeof(*nt));
    if (!nt)
        return -ENOMEM;
    s->t_us = nt;
    int64_t *nv = realloc(s->value, ncap * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    s->value = nv;
    *cap = ncap;
    return 0;
}

static int bad_chunk(const struct wp_trace *t, int sensor, size_t k, int64_t t0, const char *what,
                     struct wp_err *err)
{
    char why[200];
    snprintf(why, sizeof(why), "chunk %zu of sensor %d (starting at t_us %" PRId64 ") %s", k,
             sensor, t0, what);
    return damaged(t, err, why);
}

static int read_chunks(const struct wp_trace *t, int sensor, struct wp_series *out,
                       struct wp_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(t,
                     "SELECT t0_us, t1_us, n, data FROM chunks WHERE sensor = ? "
                     "ORDER BY t0_us, rowid",
                     &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int(st, 1, sensor);
    size_t cap = 0, k = 0;
    for (; (rc = sqlite3_step(st)) == SQLITE_ROW; k++) {
        int64_t t0 = sqlite3_column_int64(st, 0), t1 = sqlite3_column_int64(st, 1);
        int64_t n = sqlite3_column_int64(st, 2);
        const uint8_t *blob = sqlite3_column_blob(st, 3);
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        /* Each sample takes at least two bytes, so n > len is a lie: don't allocate for it. */
        if (n < 0 || (uint64_t)n > len) {
            sqlite3_finalize(st);
            return bad_chunk(t, sensor, k, t0, "has an impossible sample count", err);
        }
        /* An empty chunk adds nothing; decoding it would do arithmetic on a NULL series
         * (found by tests/fuzz/fuzz_trace.c). */
        if (n == 0)
            continue;
        if (grow_series(out, &cap, out->n + (size_t)n) < 0) {
            sqlite3_finalize(st);
            return wp_errf(err, -ENOMEM, "out of memory reading sensor %d of %s", sensor, t->path);
        }
        int64_t *ct = out->t_us + out->n, *cv = out->value + out->n;
        if (wp_chunk_decode(blob, len, (size_t)n, ct, cv) < 0) {
            sqlite3_finalize(st);
            return bad_chunk(t, sensor, k, t0, "does not decode", err);
        }
        int64_t lo = n ? ct[0] : t0, hi = n ? ct[0] : t1;
        for (int64_t i = 1; i < n; i++) {
            lo = ct[i] < lo ? ct[i] : lo;
            hi = ct[i] > hi ? ct[i] : hi;
        }
        if (lo != t0 || hi != t1) {
            sqlite3_finalize(st);
            return bad_chunk(t, sensor, k, t0, "holds samples outside its time range", err);
        }
        out->n += (size_t)n;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(t, rc, err);
}

int wp_trace_series(const struct wp_trace *t, int sensor, struct wp_series *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    bool known = false;
    for (size_t i = 0; i < t->sensors.n; i++)
        known = known || t->sensors.v[i].id == sensor;
    if (!known)
        return wp_errf(err, -ENOENT, "%s has no sensor %d", t->path, sensor);
    int rc = read_chunks(t, sensor, out, err);
    if (rc == 0 && sort_series(out) < 0)
        rc = wp_errf(err, -ENOMEM, "out of memory sorting sensor %d of %s", sensor, t->path);
    if (rc < 0)
        wp_series_free(out);
    return rc;
}
