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

#include "core/grow.h"
#include "store/trace.h"
#include "store/trace_int.h"

struct wp_trace {
    sqlite3 *db;
    bool view;   /* a node of a merged trace (wp_trace_node): db belongs to the parent */
    int version; /* format_version */
    char *path;
    bool wal_missing; /* WAL-mode file opened without its -wal (immutable) */
    bool shm_ours;    /* SQLite created the -shm for this read: removed at free */
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

/* Whether the file has a meta table at all (schema included), without an error message. */
static bool has_meta_table(const struct wp_trace *t)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(t->db, "SELECT 1 FROM sqlite_master WHERE name = 'meta'", -1, &st,
                           NULL) != SQLITE_OK)
        return false;
    bool found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
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
    t->version = (int)v;
    return 0;
}

static int64_t col_limit(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? WP_NO_LIMIT
                                                       : sqlite3_column_int64(st, col);
}

/* Version 1 traces held NVML sensors only, with values in the canonical unit. */
static void v1_sensor_defaults(struct wp_sensor *s)
{
    snprintf(s->source_kind, sizeof(s->source_kind), "%.15s", s->source);
    s->scope = strcmp(s->source, "nvml") != 0         ? WP_SCOPE_OTHER
               : strcmp(s->name, "power_memory") == 0 ? WP_SCOPE_GPU_MEMORY
                                                      : WP_SCOPE_GPU;
    s->contains = wp_scope_default_contains(s->scope);
    s->scale = 1;
}

static int load_sensors(struct wp_trace *t, struct wp_err *err)
{
    sqlite3_stmt *st;
    bool v1 = t->version == 1;
    int rc = prepare(t,
                     v1 ? "SELECT id, source, device, uuid, device_name, name, quantity, kind, "
                          "cadence_us, limit_value, default_limit, wrap_at, help, unit FROM "
                          "sensors ORDER BY id"
                     : t->version == 2
                         ? "SELECT id, source, device, uuid, device_name, name, quantity, kind, "
                           "cadence_us, limit_value, default_limit, wrap_at, help, unit, "
                           "source_kind, scope, contains, scale FROM sensors ORDER BY id"
                         : "SELECT id, source, device, uuid, device_name, name, quantity, kind, "
                           "cadence_us, limit_value, default_limit, wrap_at, help, unit, "
                           "source_kind, scope, contains, scale, host FROM sensors ORDER BY id",
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
        col_text(st, 13, s.unit, sizeof(s.unit));
        const char *scope = NULL, *contains = NULL;
        if (v1) {
            v1_sensor_defaults(&s);
        } else {
            col_text(st, 14, s.source_kind, sizeof(s.source_kind));
            scope = (const char *)sqlite3_column_text(st, 15);
            contains = (const char *)sqlite3_column_text(st, 16);
            s.scale = sqlite3_column_double(st, 17);
            if (t->version >= 3)
                col_text(st, 18, s.host, sizeof(s.host));
        }
        char why[160];
        if (id < 0 || id > WP_TRACE_MAX_SENSOR_ID) {
            snprintf(why, sizeof(why), "sensor id %" PRId64 " is out of range", id);
        } else if (!q || wp_quantity_parse(q, &s.quantity) < 0) {
            snprintf(why, sizeof(why), "sensor %" PRId64 " has an unknown quantity '%.40s'", id,
                     q ? q : "");
        } else if (!k || (strcmp(k, "gauge") != 0 && strcmp(k, "counter") != 0)) {
            snprintf(why, sizeof(why), "sensor %" PRId64 " has an unknown kind '%.40s'", id,
                     k ? k : "");
        } else if (!v1 && (!scope || wp_scope_parse(scope, &s.scope) < 0)) {
            snprintf(why, sizeof(why), "sensor %" PRId64 " has an unknown scope '%.40s'", id,
                     scope ? scope : "");
        } else if (!v1 && (!contains || wp_scope_mask_parse(contains, &s.contains) < 0)) {
            snprintf(why, sizeof(why), "sensor %" PRId64 " contains an unknown scope '%.60s'", id,
                     contains ? contains : "");
        } else if (!(s.scale > 0 && s.scale < 1e300)) {
            snprintf(why, sizeof(why), "sensor %" PRId64 " has a scale that is not positive", id);
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
    int rc = prepare(t,
                     t->version >= 3
                         ? "SELECT t_us, kind, name, counts, host, pid FROM marks ORDER BY t_us, id"
                         : "SELECT t_us, kind, name, counts, '', 0 FROM marks ORDER BY t_us, id",
                     &st, err);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (WP_GROW(&t->marks, &cap, t->nmarks + 1) < 0) {
            sqlite3_finalize(st);
            return wp_errf(err, -ENOMEM, "out of memory reading %s", t->path);
        }
        struct wp_mark *m = &t->marks[t->nmarks];
        memset(m, 0, sizeof(*m));
        m->t_us = sqlite3_column_int64(st, 0);
        const char *k = (const char *)sqlite3_column_text(st, 1);
        col_text(st, 2, m->name, sizeof(m->name));
        col_text(st, 4, m->host, sizeof(m->host));
        m->pid = sqlite3_column_int(st, 5);
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
    int rc = prepare(t,
                     t->version >= 3 ? "SELECT t_us, sensor, source, device, message, host FROM "
                                       "events ORDER BY t_us, id"
                                     : "SELECT t_us, sensor, source, device, message, '' FROM "
                                       "events ORDER BY t_us, id",
                     &st, err);
    if (rc < 0)
        return rc;
    size_t cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (WP_GROW(&t->events, &cap, t->nevents + 1) < 0) {
            sqlite3_finalize(st);
            return wp_errf(err, -ENOMEM, "out of memory reading %s", t->path);
        }
        struct wp_event *e = &t->events[t->nevents++];
        memset(e, 0, sizeof(*e));
        e->t_us = sqlite3_column_int64(st, 0);
        e->sensor = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 1);
        col_text(st, 2, e->source, sizeof(e->source));
        e->device = sqlite3_column_int(st, 3);
        col_text(st, 4, e->message, sizeof(e->message));
        col_text(st, 5, e->host, sizeof(e->host));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(t, rc, err);
}

/* Checks what SQLite would otherwise accept or misreport: a missing file, a directory, an
 * empty file (SQLite treats it as a new, empty database) and a file of some other format. */
static int check_file(const char *path, bool *wal_mode, struct wp_err *err)
{
    *wal_mode = false;
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
    *wal_mode = head[18] == 2 && head[19] == 2;
    return 0;
}

static bool exists_sfx(const char *path, const char *sfx)
{
    char p[4096];
    struct stat st;
    return snprintf(p, sizeof(p), "%s%s", path, sfx) < (int)sizeof(p) && stat(p, &st) == 0;
}

/* "file:" URI for path with SQLite's immutable flag: no locks, no -wal or -shm looked for or
 * created. Everything but unreserved characters and '/' is percent-encoded. */
static char *immutable_uri(const char *path)
{
    static const char head[] = "file:", tail[] = "?immutable=1";
    size_t cap = sizeof(head) + 3 * strlen(path) + sizeof(tail);
    char *u = malloc(cap);
    if (!u)
        return NULL;
    size_t o = (size_t)snprintf(u, cap, "%s", head);
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("/._~-", *c))
            u[o++] = (char)*c;
        else
            o += (size_t)snprintf(u + o, cap - o, "%%%02X", *c);
    }
    snprintf(u + o, cap - o, "%s", tail);
    return u;
}

/* The trace was copied without the write-ahead log its recorder was still writing. */
static int wal_missing_error(const struct wp_trace *t, struct wp_err *err)
{
    return wp_errf(err, -EIO,
                   "%s holds no data of its own: its write-ahead log %s-wal is missing, and the "
                   "data would be in it (the recorder was killed, or still runs, and the trace "
                   "was copied without it); copy %s-wal beside it and try again",
                   t->path, t->path, t->path);
}

int wp_trace_open(struct wp_trace **out, const char *path, struct wp_err *err)
{
    *out = NULL;
    bool wal_mode;
    int rc = check_file(path, &wal_mode, err);
    if (rc < 0)
        return rc;
    struct wp_trace *t = calloc(1, sizeof(*t));
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return wp_errf(err, -ENOMEM, "out of memory opening %s", path);
    }
    /* A reader must leave nothing beside the trace. A WAL-mode file without its -wal (copied
     * alone) is read as it is, immutable: otherwise SQLite creates an empty -wal and -shm next
     * to it. With the -wal but no -shm, SQLite needs a -shm to read the log; it is removed
     * again at wp_trace_free. */
    char *uri = NULL;
    if (wal_mode && !exists_sfx(path, "-wal")) {
        t->wal_missing = true;
        if (!(uri = immutable_uri(path))) {
            wp_trace_free(t);
            return wp_errf(err, -ENOMEM, "out of memory opening %s", path);
        }
    } else if (wal_mode && !exists_sfx(path, "-shm")) {
        t->shm_ours = true;
    }
    rc = sqlite3_open_v2(uri ? uri : path, &t->db,
                         SQLITE_OPEN_READONLY | (uri ? SQLITE_OPEN_URI : 0), NULL);
    free(uri);
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
    if (t->wal_missing && !has_meta_table(t)) {
        rc = wal_missing_error(t, err);
        wp_trace_free(t);
        return rc;
    }
    if ((rc = load_meta(t, err)) < 0 || (rc = load_sensors(t, err)) < 0 ||
        (rc = load_marks(t, err)) < 0 || (rc = load_events(t, err)) < 0) {
        wp_trace_free(t);
        return rc;
    }
    /* Checkpointed data is in the file; a recording that never finished may have more in the
     * missing log. A finished one that stayed in WAL mode (a reader held it at close) does
     * not: its log was merged and removed. */
    if (t->wal_missing && wp_meta_get(&t->meta, "end_us"))
        t->wal_missing = false;
    *out = t;
    return 0;
}

void wp_trace_free(struct wp_trace *t)
{
    if (!t)
        return;
    if (!t->view)
        sqlite3_close(t->db);
    if (t->shm_ours) {
        char p[4096];
        if (snprintf(p, sizeof(p), "%s-shm", t->path) < (int)sizeof(p))
            unlink(p);
    }
    wp_meta_free(&t->meta);
    wp_sensors_free(&t->sensors);
    free(t->marks);
    free(t->events);
    free(t->path);
    free(t);
}

bool wp_trace_wal_missing(const struct wp_trace *t)
{
    return t->wal_missing;
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
    free(s->damaged);
    memset(s, 0, sizeof(*s));
}

static const struct wp_sensor *sensor_row(const struct wp_trace *t, int id);

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

/* The two arrays grow together but keep their own capacities, so a failure between the two
 * reallocs leaves both valid. */
static int grow_series(struct wp_series *s, size_t *tcap, size_t *vcap, size_t need)
{
    return WP_GROW(&s->t_us, tcap, need) < 0 || WP_GROW(&s->value, vcap, need) < 0 ? -ENOMEM : 0;
}

/* Samples decoded but not handed out yet: one chunk, or a run of chunks that overlap in time
 * and must be sorted together. */
struct cur_buf {
    struct wp_series s; /* only n, t_us and value are used */
    size_t tcap, vcap;
    int64_t min_t, max_t;
    bool sorted; /* non-decreasing as decoded */
    bool filled;
};

struct wp_trace_cursor {
    const struct wp_trace *t;
    sqlite3_stmt *st;
    int sensor;
    bool rows_done;
    struct cur_buf group, ahead, out;
    struct wp_trace_damage *damaged;
    size_t ndamaged, dcap;
    size_t total; /* samples handed out so far */
};

static int cur_nomem(const struct wp_trace_cursor *c, struct wp_err *err)
{
    return wp_errf(err, -ENOMEM, "out of memory reading sensor %d of %s", c->sensor, c->t->path);
}

/* Notes a chunk that cannot be used; its samples stay out of the series. */
static int bad_chunk(struct wp_trace_cursor *c, int64_t t0, int64_t t1, int64_t n, const char *what,
                     struct wp_err *err)
{
    if (WP_GROW(&c->damaged, &c->dcap, c->ndamaged + 1) < 0)
        return cur_nomem(c, err);
    struct wp_trace_damage *d = &c->damaged[c->ndamaged++];
    memset(d, 0, sizeof(*d));
    d->sensor = c->sensor;
    d->t0_us = t0;
    d->t1_us = t1;
    d->samples = n;
    snprintf(d->why, sizeof(d->why), "%s", what);
    return 0;
}

/* Appends the next intact, non-empty chunk to b. Returns 1 when it did, 0 when the sensor has
 * no more chunks, negative on error. Damaged chunks on the way are noted and skipped. */
static int read_chunk(struct wp_trace_cursor *c, struct cur_buf *b, struct wp_err *err)
{
    int rc = SQLITE_DONE;
    while (!c->rows_done && (rc = sqlite3_step(c->st)) == SQLITE_ROW) {
        sqlite3_stmt *st = c->st;
        int64_t t0 = sqlite3_column_int64(st, 0), t1 = sqlite3_column_int64(st, 1);
        int64_t n = sqlite3_column_int64(st, 2);
        const uint8_t *blob = sqlite3_column_blob(st, 3);
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        const char *bad = NULL;
        /* A count the blob cannot hold is a lie: don't allocate for it. */
        if (n < 0 || (uint64_t)n > wp_chunk_max_samples(blob, len)) {
            bad = n > 0 && wp_chunk_version(blob, len) < 0 ? "does not decode (unknown encoding)"
                                                           : "has an impossible sample count";
        } else if (n > 0 && wp_chunk_version(blob, len) > 1 && c->t->version < 5) {
            /* Formats 1 to 4 were written with version 1 chunks only. */
            bad = "is encoded in a newer chunk version than its trace's format";
        } else if (n == 0) {
            /* An empty chunk adds nothing; decoding it would do arithmetic on a NULL series
             * (found by tests/fuzz/fuzz_trace.c). */
            continue;
        } else {
            size_t at = b->s.n;
            if (grow_series(&b->s, &b->tcap, &b->vcap, at + (size_t)n) < 0)
                return cur_nomem(c, err);
            int64_t *ct = b->s.t_us + at, *cv = b->s.value + at;
            if (wp_chunk_decode(blob, len, (size_t)n, ct, cv) < 0) {
                bad = "does not decode (checksum or encoding)";
            } else {
                int64_t lo = ct[0], hi = ct[0];
                bool sorted = true;
                for (int64_t i = 1; i < n; i++) {
                    lo = ct[i] < lo ? ct[i] : lo;
                    hi = ct[i] > hi ? ct[i] : hi;
                    sorted = sorted && ct[i] >= ct[i - 1];
                }
                if (lo != t0 || hi != t1) {
                    bad = "holds samples outside its time range";
                } else {
                    b->sorted = (b->filled ? b->sorted : true) && sorted;
                    b->min_t = b->filled && b->min_t < lo ? b->min_t : lo;
                    b->max_t = b->filled && b->max_t > hi ? b->max_t : hi;
                    b->filled = true;
                    b->s.n += (size_t)n;
                    return 1;
                }
            }
        }
        if ((rc = bad_chunk(c, t0, t1, n, bad, err)) < 0)
            return rc;
    }
    if (!c->rows_done) {
        c->rows_done = true;
        if (rc != SQLITE_DONE)
            return db_fail(c->t, rc, err);
    }
    return 0;
}

static void buf_swap(struct cur_buf *a, struct cur_buf *b)
{
    struct cur_buf x = *a;
    *a = *b;
    *b = x;
}

static void buf_clear(struct cur_buf *b)
{
    b->s.n = 0;
    b->filled = false;
}

int wp_trace_cursor_open(const struct wp_trace *t, int sensor, struct wp_trace_cursor **out,
                         struct wp_err *err)
{
    return wp_trace_cursor_open_window(t, sensor, INT64_MIN, INT64_MAX, out, err);
}

int wp_trace_cursor_open_window(const struct wp_trace *t, int sensor, int64_t from_us,
                                int64_t to_us, struct wp_trace_cursor **out, struct wp_err *err)
{
    *out = NULL;
    if (!sensor_row(t, sensor))
        return wp_errf(err, -ENOENT, "%s has no sensor %d", t->path, sensor);
    struct wp_trace_cursor *c = calloc(1, sizeof(*c));
    if (!c)
        return wp_errf(err, -ENOMEM, "out of memory reading sensor %d of %s", sensor, t->path);
    c->t = t;
    c->sensor = sensor;
    /* Version 4 keeps each sensor's newest chunk in open_chunks until it is full; it sorts
     * after the closed chunks that start at the same time, as it was written after them. */
    int rc =
        prepare(t,
                t->version >= 4
                    ? "SELECT t0_us, t1_us, n, data, 0 AS o, rowid AS r FROM chunks WHERE sensor "
                      "= ?1 AND t1_us >= ?2 AND t0_us <= ?3 UNION ALL SELECT t0_us, t1_us, n, "
                      "data, 1, 0 FROM open_chunks WHERE sensor = ?1 AND t1_us >= ?2 AND t0_us "
                      "<= ?3 ORDER BY 1, 5, 6"
                    : "SELECT t0_us, t1_us, n, data FROM chunks WHERE sensor = ?1 AND t1_us >= ?2 "
                      "AND t0_us <= ?3 ORDER BY t0_us, rowid",
                &c->st, err);
    if (rc < 0) {
        free(c);
        return rc;
    }
    sqlite3_bind_int(c->st, 1, sensor);
    sqlite3_bind_int64(c->st, 2, from_us);
    sqlite3_bind_int64(c->st, 3, to_us);
    *out = c;
    return 0;
}

/* A group of samples goes out once the next chunk starts at or after the group's last
 * sample: nothing later can then sort before it. Chunks that overlap join the group and are
 * sorted with it (stably, so equal times keep their written order), which hands out exactly
 * what sorting the whole series would. */
int wp_trace_cursor_next(struct wp_trace_cursor *c, const int64_t **t_us, const int64_t **value,
                         size_t *n, struct wp_err *err)
{
    *t_us = *value = NULL;
    *n = 0;
    buf_clear(&c->out);
    int rc;
    if (!c->group.filled && (rc = read_chunk(c, &c->group, err)) <= 0)
        return rc;
    for (;;) {
        buf_clear(&c->ahead);
        if ((rc = read_chunk(c, &c->ahead, err)) < 0)
            return rc;
        if (rc == 0 || c->ahead.min_t >= c->group.max_t)
            break;
        /* overlaps: the group takes the chunk in */
        struct cur_buf *g = &c->group, *a = &c->ahead;
        if (grow_series(&g->s, &g->tcap, &g->vcap, g->s.n + a->s.n) < 0)
            return cur_nomem(c, err);
        memcpy(g->s.t_us + g->s.n, a->s.t_us, a->s.n * sizeof(int64_t));
        memcpy(g->s.value + g->s.n, a->s.value, a->s.n * sizeof(int64_t));
        g->s.n += a->s.n;
        g->sorted = false;
        g->max_t = a->max_t > g->max_t ? a->max_t : g->max_t;
        buf_clear(a);
    }
    if (!c->group.sorted && sort_series(&c->group.s) < 0)
        return wp_errf(err, -ENOMEM, "out of memory sorting sensor %d of %s", c->sensor,
                       c->t->path);
    buf_swap(&c->out, &c->group);
    buf_swap(&c->group, &c->ahead); /* the chunk read ahead, if any, starts the next group */
    *t_us = c->out.s.t_us;
    *value = c->out.s.value;
    *n = c->out.s.n;
    c->total += *n;
    return 0;
}

void wp_trace_cursor_damage(const struct wp_trace_cursor *c, const struct wp_trace_damage **v,
                            size_t *n)
{
    *v = c->damaged;
    *n = c->ndamaged;
}

void wp_trace_cursor_close(struct wp_trace_cursor *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->st);
    wp_series_free(&c->group.s);
    wp_series_free(&c->ahead.s);
    wp_series_free(&c->out.s);
    free(c->damaged);
    free(c);
}

static const struct wp_sensor *sensor_row(const struct wp_trace *t, int id)
{
    for (size_t i = 0; i < t->sensors.n; i++)
        if (t->sensors.v[i].id == id)
            return &t->sensors.v[i];
    return NULL;
}

void wp_trace_damage_describe(const struct wp_trace *t, const struct wp_trace_damage *d, char *buf,
                              size_t cap)
{
    const struct wp_sensor *s = sensor_row(t, d->sensor);
    char who[160];
    if (s)
        snprintf(who, sizeof(who), "%.16s device %d %.40s", s->source, s->device, s->name);
    else
        snprintf(who, sizeof(who), "sensor %d", d->sensor);
    /* Times relative to the recording's start read better than epoch microseconds; a trace
     * without start_us (never the recorder's) gets the raw values. The difference is taken in
     * double: a damaged trace's times and start_us may be any int64. */
    const char *st = wp_meta_get(&t->meta, "start_us");
    char *end = NULL;
    long long start = st ? strtoll(st, &end, 10) : 0;
    if (st && end != st && !*end)
        snprintf(buf, cap, "%s, %.3f s to %.3f s after the start (%" PRId64 " samples): %s", who,
                 ((double)d->t0_us - (double)start) / 1e6, ((double)d->t1_us - (double)start) / 1e6,
                 d->samples, d->why);
    else
        snprintf(buf, cap, "%s, t_us %" PRId64 " to %" PRId64 " (%" PRId64 " samples): %s", who,
                 d->t0_us, d->t1_us, d->samples, d->why);
}

int wp_trace_series(const struct wp_trace *t, int sensor, struct wp_series *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    struct wp_trace_cursor *c;
    int rc = wp_trace_cursor_open(t, sensor, &c, err);
    if (rc < 0)
        return rc;
    size_t tcap = 0, vcap = 0;
    const int64_t *ct, *cv;
    size_t n;
    while ((rc = wp_trace_cursor_next(c, &ct, &cv, &n, err)) == 0 && n > 0) {
        if (grow_series(out, &tcap, &vcap, out->n + n) < 0) {
            rc = cur_nomem(c, err);
            break;
        }
        memcpy(out->t_us + out->n, ct, n * sizeof(*ct));
        memcpy(out->value + out->n, cv, n * sizeof(*cv));
        out->n += n;
    }
    if (rc == 0 && c->ndamaged) {
        out->damaged = c->damaged;
        out->ndamaged = c->ndamaged;
        c->damaged = NULL;
    }
    wp_trace_cursor_close(c);
    if (rc < 0)
        wp_series_free(out);
    return rc;
}

/* ---- merged traces (wattprof merge) ---- */

/* "merge.nodes" as a count; 0 for a node's own trace or a value that is not one. */
size_t wp_trace_nnodes(const struct wp_trace *t)
{
    const char *v = wp_meta_get(&t->meta, "merge.nodes");
    char *end = NULL;
    long long n = v ? strtoll(v, &end, 10) : 0;
    return v && end != v && !*end && n > 0 && n <= WP_TRACE_MAX_NODES ? (size_t)n : 0;
}

const char *wp_trace_node_host(const struct wp_trace *t, size_t i)
{
    char key[64];
    snprintf(key, sizeof(key), "merge.node.%zu", i);
    const char *h = wp_meta_get(&t->meta, key);
    return h ? h : "";
}

static int view_meta(struct wp_trace *v, const struct wp_meta *all, size_t i)
{
    char prefix[64];
    int plen = snprintf(prefix, sizeof(prefix), "merge.node.%zu.", i);
    for (size_t k = 0; k < all->n; k++) {
        const char *key = all->v[k].key;
        if (strncmp(key, prefix, (size_t)plen) != 0)
            continue;
        if (wp_meta_set(&v->meta, key + plen, all->v[k].value) < 0)
            return -ENOMEM;
    }
    return 0;
}

int wp_trace_node(const struct wp_trace *t, size_t i, struct wp_trace **out, struct wp_err *err)
{
    *out = NULL;
    if (i >= wp_trace_nnodes(t))
        return wp_errf(err, -ENOENT, "%s has no node %zu", t->path, i);
    const char *host = wp_trace_node_host(t, i);
    struct wp_trace *v = calloc(1, sizeof(*v));
    size_t plen = strlen(t->path) + strlen(host) + 16;
    if (!v || !(v->path = malloc(plen)))
        goto nomem;
    snprintf(v->path, plen, "%s (node %s)", t->path, host);
    v->db = t->db;
    v->view = true;
    v->version = t->version;
    v->wal_missing = t->wal_missing;
    if (view_meta(v, &t->meta, i) < 0)
        goto nomem;
    for (size_t k = 0; k < t->sensors.n; k++) {
        if (strcmp(t->sensors.v[k].host, host) != 0)
            continue;
        if (wp_sensors_add(&v->sensors, &t->sensors.v[k]) < 0)
            goto nomem;
        v->sensors.v[v->sensors.n - 1].id = t->sensors.v[k].id;
    }
    size_t cap = 0;
    for (size_t k = 0; k < t->nmarks; k++) {
        if (strcmp(t->marks[k].host, host) != 0)
            continue;
        if (WP_GROW(&v->marks, &cap, v->nmarks + 1) < 0)
            goto nomem;
        v->marks[v->nmarks++] = t->marks[k];
    }
    cap = 0;
    for (size_t k = 0; k < t->nevents; k++) {
        if (strcmp(t->events[k].host, host) != 0)
            continue;
        if (WP_GROW(&v->events, &cap, v->nevents + 1) < 0)
            goto nomem;
        v->events[v->nevents++] = t->events[k];
    }
    *out = v;
    return 0;
nomem:
    wp_trace_free(v);
    return wp_errf(err, -ENOMEM, "out of memory reading %s", t->path);
}
