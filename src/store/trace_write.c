/* Trace writer. One thread owns a writer. Samples, marks and events wait in memory until
 * wp_trace_commit writes them in one transaction; meta and sensors are written at once since
 * they are few and everything else refers to them. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/grow.h"
#include "store/trace.h"
#include "store/trace_int.h"

/* A sensor's samples not yet in a closed chunk. The first open_n of them are already stored,
 * as the sensor's row of open_chunks, which each commit replaces with what came since until
 * it is full (WP_TRACE_CHUNK_TARGET samples or WP_TRACE_CHUNK_SPAN_US); then it goes into
 * chunks. A 1 Hz reading costs a few bytes, not a row of its own; chunks only ever gets whole
 * rows appended, so its pages stay full (rows rewritten in place left them half empty: 10.8 MB
 * against 7.3 MB for bench/perf's 1 h trace); and a killed recorder still leaves every
 * committed sample (the row is replaced inside the commit's transaction). A clean close moves
 * the open chunks into chunks. */
struct sbuf {
    int64_t *t, *v;
    size_t n, tcap, vcap;
    size_t adding; /* scratch for wp_trace_append */
    bool declared;
    size_t open_n; /* 0: no open chunk */
    /* what the commit in progress leaves open; applied once it is committed */
    size_t next_off, next_n;
};

struct wp_trace_writer {
    sqlite3 *db;
    char *path;
    int lock_fd; /* holds the writer's lock on the trace (see take_lock); -1 if none */
    sqlite3_stmt *st_chunk, *st_open, *st_unopen, *st_mark, *st_event, *st_meta, *st_sensor;
    struct sbuf *bufs; /* indexed by sensor id */
    size_t nbufs, capbufs;
    struct wp_mark *marks;
    size_t nmarks, capmarks;
    struct wp_event *events;
    size_t nevents, capevents;
    bool closing; /* the last commit: open chunks get their final encoding */
};

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE sensors(id INTEGER PRIMARY KEY, source TEXT NOT NULL, device INTEGER NOT NULL,"
    " uuid TEXT NOT NULL, device_name TEXT NOT NULL, name TEXT NOT NULL, quantity TEXT NOT NULL,"
    " unit TEXT NOT NULL, kind TEXT NOT NULL, cadence_us INTEGER NOT NULL, limit_value INTEGER,"
    " default_limit INTEGER, wrap_at INTEGER NOT NULL, help TEXT NOT NULL,"
    " source_kind TEXT NOT NULL, scope TEXT NOT NULL, contains TEXT NOT NULL,"
    " scale REAL NOT NULL, host TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE chunks(sensor INTEGER NOT NULL, t0_us INTEGER NOT NULL, t1_us INTEGER NOT NULL,"
    " n INTEGER NOT NULL, data BLOB NOT NULL, vmin INTEGER, vmax INTEGER, vsum INTEGER);"
    "CREATE INDEX chunks_sensor_t0 ON chunks(sensor, t0_us);"
    "CREATE TABLE open_chunks(sensor INTEGER PRIMARY KEY, t0_us INTEGER NOT NULL,"
    " t1_us INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, vmin INTEGER,"
    " vmax INTEGER, vsum INTEGER);"
    "CREATE TABLE marks(id INTEGER PRIMARY KEY, t_us INTEGER NOT NULL, kind TEXT NOT NULL,"
    " name TEXT NOT NULL, counts TEXT NOT NULL, host TEXT NOT NULL DEFAULT '',"
    " pid INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, t_us INTEGER NOT NULL, sensor INTEGER,"
    " source TEXT NOT NULL, device INTEGER NOT NULL, message TEXT NOT NULL,"
    " host TEXT NOT NULL DEFAULT '');";

static int sql_errno(int rc)
{
    switch (rc & 0xFF) {
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return -EACCES;
    default:
        return -EIO;
    }
}

static int db_err(struct wp_trace_writer *w, int rc, struct wp_err *err, const char *what)
{
    const char *hint = (rc & 0xFF) == SQLITE_FULL ? "; free space on its disk"
                       : (rc & 0xFF) == SQLITE_BUSY
                           ? "; another process holds a lock on it, stop it or write elsewhere"
                           : "";
    return wp_errf(err, sql_errno(rc), "%s trace %s failed: %s%s", what, w->path,
                   sqlite3_errmsg(w->db), hint);
}

static int exec(struct wp_trace_writer *w, const char *sql, struct wp_err *err, const char *what)
{
    int rc = sqlite3_exec(w->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_err(w, rc, err, what);
}

static void rollback(struct wp_trace_writer *w)
{
    if (!sqlite3_get_autocommit(w->db))
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs a prepared statement that returns no rows and resets it for the next use. */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *const sidecars[] = {"-wal", "-shm", "-journal"};

static void unlink_sidecars(const char *path)
{
    char p[4096];
    for (size_t i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++)
        if (snprintf(p, sizeof(p), "%s%s", path, sidecars[i]) < (int)sizeof(p))
            unlink(p);
}

static int remove_sidecars(const char *path, struct wp_err *err)
{
    char p[4096];
    for (size_t i = 0; i < sizeof(sidecars) / sizeof(sidecars[0]); i++) {
        if (snprintf(p, sizeof(p), "%s%s", path, sidecars[i]) >= (int)sizeof(p))
            return wp_errf(err, -ENAMETOOLONG, "trace path %s is too long", path);
        if (unlink(p) < 0 && errno != ENOENT) {
            int e = errno;
            return wp_errf(err, -e,
                           "cannot remove %s: %s; remove it by hand or choose another name "
                           "with -o",
                           p, strerror(e));
        }
    }
    return 0;
}

static int create_error(const char *path, int e, bool force, struct wp_err *err)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    const char *d = dirname(dir);
    switch (e) {
    case EEXIST:
        if (force)
            return wp_errf(err, -EEXIST,
                           "%s appeared again while it was being replaced (another process is "
                           "writing it?); try again or choose another name with -o",
                           path);
        return wp_errf(err, -EEXIST,
                       "%s already exists; choose another name with -o, or pass --force to "
                       "replace it",
                       path);
    case ENOENT:
        return wp_errf(err, -ENOENT,
                       "cannot create trace %s: directory %s does not exist; create it or choose "
                       "another path with -o",
                       path, d);
    case EACCES:
    case EPERM:
        return wp_errf(err, -EACCES,
                       "cannot create trace %s: no permission to write in %s; choose a directory "
                       "you can write to with -o",
                       path, d);
    case EROFS:
        return wp_errf(err, -EROFS,
                       "cannot create trace %s: %s is on a read-only file system; choose another "
                       "path with -o",
                       path, d);
    default:
        return wp_errf(err, -e, "cannot create trace %s: %s", path, strerror(e));
    }
}

static void writer_free(struct wp_trace_writer *w)
{
    sqlite3_finalize(w->st_chunk);
    sqlite3_finalize(w->st_open);
    sqlite3_finalize(w->st_unopen);
    sqlite3_finalize(w->st_mark);
    sqlite3_finalize(w->st_event);
    sqlite3_finalize(w->st_meta);
    sqlite3_finalize(w->st_sensor);
    sqlite3_close(w->db);
    for (size_t i = 0; i < w->nbufs; i++) {
        free(w->bufs[i].t);
        free(w->bufs[i].v);
    }
    free(w->bufs);
    free(w->marks);
    free(w->events);
    free(w->path);
    if (w->lock_fd >= 0)
        close(w->lock_fd); /* after sqlite3_close: the trace is complete when the lock goes */
    free(w);
}

static int prepare(struct wp_trace_writer *w, const char *sql, sqlite3_stmt **st,
                   struct wp_err *err)
{
    int rc = sqlite3_prepare_v3(w->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return rc == SQLITE_OK ? 0 : db_err(w, rc, err, "preparing");
}

static int setup(struct wp_trace_writer *w, struct wp_err *err)
{
    int rc = sqlite3_open_v2(w->path, &w->db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        if (!w->db)
            return wp_errf(err, -ENOMEM, "out of memory opening %s", w->path);
        return db_err(w, rc, err, "opening");
    }
    sqlite3_extended_result_codes(w->db, 1);
    /* A reader (wattprof report on a live trace) may hold a lock for a moment. */
    sqlite3_busy_timeout(w->db, 5000);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "PRAGMA page_size=%d; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
             "PRAGMA application_id=%d;",
             WP_TRACE_PAGE_SIZE, WP_TRACE_APP_ID);
    if ((rc = exec(w, sql, err, "setting up")) < 0 || (rc = exec(w, "BEGIN", err, "creating")) < 0)
        return rc;
    if ((rc = exec(w, schema_sql, err, "creating")) < 0) {
        rollback(w);
        return rc;
    }
    snprintf(sql, sizeof(sql),
             "INSERT INTO meta(key, value) VALUES('format', '%s'), ('format_version', '%d')",
             WP_TRACE_FORMAT, WP_TRACE_VERSION);
    if ((rc = exec(w, sql, err, "creating")) < 0 || (rc = exec(w, "COMMIT", err, "creating")) < 0) {
        rollback(w);
        return rc;
    }
    if ((rc = prepare(w,
                      "INSERT INTO chunks(sensor, t0_us, t1_us, n, data, vmin, vmax, vsum) "
                      "VALUES(?,?,?,?,?,?,?,?)",
                      &w->st_chunk, err)) < 0 ||
        (rc = prepare(w,
                      "INSERT OR REPLACE INTO open_chunks(sensor, t0_us, t1_us, n, data, vmin, "
                      "vmax, vsum) VALUES(?,?,?,?,?,?,?,?)",
                      &w->st_open, err)) < 0 ||
        (rc = prepare(w, "DELETE FROM open_chunks WHERE sensor = ?", &w->st_unopen, err)) < 0 ||
        (rc = prepare(w,
                      "INSERT INTO marks(t_us, kind, name, counts, host, pid) VALUES(?,?,?,?,?,?)",
                      &w->st_mark, err)) < 0 ||
        (rc = prepare(w,
                      "INSERT INTO events(t_us, sensor, source, device, message, host) "
                      "VALUES(?,?,?,?,?,?)",
                      &w->st_event, err)) < 0 ||
        (rc = prepare(w, "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)", &w->st_meta, err)) <
            0 ||
        (rc = prepare(w,
                      "INSERT OR REPLACE INTO sensors(id, source, device, uuid, device_name, "
                      "name, quantity, unit, kind, cadence_us, limit_value, default_limit, "
                      "wrap_at, help, source_kind, scope, contains, scale, host) "
                      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      &w->st_sensor, err)) < 0)
        return rc;
    return 0;
}

/* The writer's lock: an open-file-description (OFD) write lock on byte 0 of the trace, held
 * from creation to close. SQLite's own locks sit at 1 GiB and up, so this never gets in the
 * way of readers (`wattprof report` on a live trace). OFD locks, unlike classic POSIX locks,
 * are not dropped when SQLite closes some other descriptor of the file, and they conflict
 * within one process too. They report no PID, so a classic lock on byte 1 names the holder;
 * it is only informative (see take_pid_lock). */
#define LOCK_BYTE 0
#define PID_BYTE  1

static int take_lock(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_BYTE, .l_len = 1};
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        if (errno == EAGAIN || errno == EACCES)
            return -EBUSY;
        return 0; /* a file system without locks: record unlocked, as before */
    }
    return 0;
}

/* Taken once setup is done: SQLite drops its locks with one whole-file F_UNLCK (start 0,
 * length 0; seen with strace), which also drops every other classic lock of the process on
 * the file. In WAL mode it then keeps a shared lock until close, so this one stays. */
static void take_pid_lock(int fd)
{
    struct flock pid = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = PID_BYTE, .l_len = 1};
    if (fcntl(fd, F_SETLK, &pid) < 0) {
        /* no PID in the refusal message then; the OFD lock is what counts */
    }
}

/* -EBUSY, naming the writer's PID when it can, if another writer holds path's lock. */
static int check_unlocked(const char *path, struct wp_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0; /* missing or unreadable: creating or removing it says what is wrong */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = LOCK_BYTE, .l_len = 1};
    bool busy = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    pid_t pid = 0;
    if (busy) {
        struct flock p = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = PID_BYTE, .l_len = 1};
        if (fcntl(fd, F_GETLK, &p) == 0 && p.l_type != F_UNLCK && p.l_pid > 0)
            pid = p.l_pid;
    }
    close(fd);
    if (!busy)
        return 0;
    char who[64] = "another process";
    if (pid > 0)
        snprintf(who, sizeof(who), "process %ld", (long)pid);
    return wp_errf(err, -EBUSY,
                   "%s is being recorded right now by %s; it was left as it is. Stop that "
                   "recording first, or choose another name with -o",
                   path, who);
}

int wp_trace_create(struct wp_trace_writer **out, const char *path, bool force, struct wp_err *err)
{
    *out = NULL;
    if (!path || !*path)
        return wp_errf(err, -EINVAL, "no trace path given; name one with -o");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return wp_errf(err, -EISDIR, "%s is a directory; give the trace a file name with -o", path);
    /* A live recording is never replaced, not even with --force: checked before anything is
     * removed. */
    int rc = check_unlocked(path, err);
    if (rc < 0)
        return rc;
    if (force) {
        if (unlink(path) < 0 && errno != ENOENT)
            return create_error(path, errno, force, err);
        if ((rc = remove_sidecars(path, err)) < 0)
            return rc;
    }
    /* O_EXCL claims the name atomically: two recorders started with the same -o cannot both
     * get it, and an existing trace is never opened for writing. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return create_error(path, errno, force, err);
    /* Between open and lock another --force writer may have replaced the name: then the file
     * we hold is not the one at path, and it is ours to give up, not theirs to lose. */
    struct stat mine, now;
    if (take_lock(fd) < 0 || fstat(fd, &mine) < 0 || stat(path, &now) < 0 ||
        mine.st_ino != now.st_ino || mine.st_dev != now.st_dev) {
        close(fd);
        return wp_errf(err, -EBUSY,
                       "%s was replaced by another process while it was being created; "
                       "choose another name with -o",
                       path);
    }

    struct wp_trace_writer *w = calloc(1, sizeof(*w));
    if (!w || !(w->path = strdup(path))) {
        free(w);
        unlink(path);
        close(fd);
        return wp_errf(err, -ENOMEM, "out of memory creating trace %s", path);
    }
    w->lock_fd = fd;
    if ((rc = setup(w, err)) < 0) {
        writer_free(w);
        unlink(path);
        unlink_sidecars(path);
        return rc;
    }
    take_pid_lock(fd);
    *out = w;
    return 0;
}

static int put_meta_rows(struct wp_trace_writer *w, const struct wp_meta *meta, struct wp_err *err)
{
    for (size_t i = 0; i < meta->n; i++) {
        sqlite3_bind_text(w->st_meta, 1, meta->v[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(w->st_meta, 2, meta->v[i].value, -1, SQLITE_STATIC);
        int rc = run(w->st_meta);
        if (rc != SQLITE_OK)
            return db_err(w, rc, err, "writing meta to");
    }
    return 0;
}

int wp_trace_put_meta(struct wp_trace_writer *w, const struct wp_meta *meta, struct wp_err *err)
{
    for (size_t i = 0; i < meta->n; i++) {
        const char *k = meta->v[i].key;
        if (!k || !meta->v[i].value)
            return wp_errf(err, -EINVAL, "meta entry %zu has no key or no value", i);
        if (strcmp(k, "format") == 0 || strcmp(k, "format_version") == 0)
            return wp_errf(err, -EINVAL, "meta key '%s' is reserved for the trace format", k);
    }
    int rc = exec(w, "BEGIN", err, "writing meta to");
    if (rc < 0)
        return rc;
    if ((rc = put_meta_rows(w, meta, err)) < 0 || (rc = exec(w, "COMMIT", err, "writing to")) < 0)
        rollback(w);
    return rc;
}

static const char *kind_name(enum wp_kind k)
{
    return k == WP_COUNTER ? "counter" : "gauge";
}

static void bind_limit(sqlite3_stmt *st, int col, int64_t v)
{
    if (v == WP_NO_LIMIT)
        sqlite3_bind_null(st, col);
    else
        sqlite3_bind_int64(st, col, v);
}

static int grow_bufs(struct wp_trace_writer *w, size_t need)
{
    if (need <= w->nbufs)
        return 0;
    if (WP_GROW(&w->bufs, &w->capbufs, need) < 0)
        return -ENOMEM;
    memset(w->bufs + w->nbufs, 0, (need - w->nbufs) * sizeof(*w->bufs));
    w->nbufs = need;
    return 0;
}

static int put_sensor_rows(struct wp_trace_writer *w, const struct wp_sensors *tab,
                           struct wp_err *err)
{
    sqlite3_stmt *st = w->st_sensor;
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        /* The fixed-size names may fill their arrays; %.*s never reads past them. */
        char src[sizeof(s->source) + 1], uuid[sizeof(s->uuid) + 1],
            dname[sizeof(s->device_name) + 1], name[sizeof(s->name) + 1], help[sizeof(s->help) + 1];
        snprintf(src, sizeof(src), "%.*s", (int)sizeof(s->source), s->source);
        snprintf(uuid, sizeof(uuid), "%.*s", (int)sizeof(s->uuid), s->uuid);
        snprintf(dname, sizeof(dname), "%.*s", (int)sizeof(s->device_name), s->device_name);
        snprintf(name, sizeof(name), "%.*s", (int)sizeof(s->name), s->name);
        snprintf(help, sizeof(help), "%.*s", (int)sizeof(s->help), s->help);
        sqlite3_bind_int(st, 1, s->id);
        sqlite3_bind_text(st, 2, src, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, s->device);
        sqlite3_bind_text(st, 4, uuid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, dname, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 7, wp_quantity_name(s->quantity), -1, SQLITE_STATIC);
        char unit[sizeof(s->unit) + 1], skind[sizeof(s->source_kind) + 1], contains[256];
        snprintf(unit, sizeof(unit), "%.*s", (int)sizeof(s->unit), wp_sensor_unit(s));
        snprintf(skind, sizeof(skind), "%.*s", (int)sizeof(s->source_kind), s->source_kind);
        wp_scope_mask_format(s->contains, contains, sizeof(contains));
        sqlite3_bind_text(st, 8, unit, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 9, kind_name(s->kind), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 10, s->cadence_us);
        bind_limit(st, 11, s->limit);
        bind_limit(st, 12, s->default_limit);
        sqlite3_bind_int64(st, 13, s->wrap_at);
        sqlite3_bind_text(st, 14, help, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 15, skind, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 16, wp_scope_name(s->scope), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 17, contains, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 18, wp_sensor_scale(s));
        char host[sizeof(s->host) + 1];
        snprintf(host, sizeof(host), "%.*s", (int)sizeof(s->host), s->host);
        sqlite3_bind_text(st, 19, host, -1, SQLITE_TRANSIENT);
        int rc = run(st);
        if (rc != SQLITE_OK)
            return db_err(w, rc, err, "writing sensors to");
    }
    return 0;
}

int wp_trace_put_sensors(struct wp_trace_writer *w, const struct wp_sensors *tab,
                         struct wp_err *err)
{
    int maxid = -1;
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (s->id < 0 || s->id > WP_TRACE_MAX_SENSOR_ID)
            return wp_errf(err, -EINVAL, "sensor id %d is out of range 0..%d", s->id,
                           WP_TRACE_MAX_SENSOR_ID);
        if (s->quantity < WP_Q_POWER || s->quantity > WP_Q_LAST ||
            (s->kind != WP_GAUGE && s->kind != WP_COUNTER))
            return wp_errf(err, -EINVAL, "sensor %d has an unknown quantity or kind", s->id);
        if (s->id > maxid)
            maxid = s->id;
    }
    if (grow_bufs(w, (size_t)(maxid + 1)) < 0)
        return wp_errf(err, -ENOMEM, "out of memory");
    int rc = exec(w, "BEGIN", err, "writing sensors to");
    if (rc < 0)
        return rc;
    if ((rc = put_sensor_rows(w, tab, err)) < 0 ||
        (rc = exec(w, "COMMIT", err, "writing to")) < 0) {
        rollback(w);
        return rc;
    }
    for (size_t i = 0; i < tab->n; i++)
        w->bufs[tab->v[i].id].declared = true;
    return 0;
}

static int reserve(struct sbuf *b, size_t need)
{
    return WP_GROW(&b->t, &b->tcap, need) < 0 || WP_GROW(&b->v, &b->vcap, need) < 0 ? -ENOMEM : 0;
}

int wp_trace_append(struct wp_trace_writer *w, const struct wp_sample *s, size_t n,
                    struct wp_err *err)
{
    /* Check and reserve everything first so a failed call leaves the buffers unchanged. */
    for (size_t i = 0; i < n; i++) {
        int32_t id = s[i].sensor;
        if (id < 0 || (size_t)id >= w->nbufs || !w->bufs[id].declared)
            return wp_errf(err, -EINVAL,
                           "sample for sensor %d, which was not declared with "
                           "wp_trace_put_sensors",
                           (int)id);
    }
    for (size_t i = 0; i < n; i++)
        w->bufs[s[i].sensor].adding++;
    int rc = 0;
    for (size_t i = 0; i < w->nbufs; i++) {
        struct sbuf *b = &w->bufs[i];
        if (b->adding && rc == 0)
            rc = reserve(b, b->n + b->adding);
        b->adding = 0;
    }
    if (rc < 0)
        return wp_errf(err, -ENOMEM, "out of memory buffering samples for %s", w->path);
    for (size_t i = 0; i < n; i++) {
        struct sbuf *b = &w->bufs[s[i].sensor];
        b->t[b->n] = s[i].t_us;
        b->v[b->n] = s[i].value;
        b->n++;
    }
    return 0;
}

int wp_trace_put_mark(struct wp_trace_writer *w, const struct wp_mark *m, struct wp_err *err)
{
    if (m->kind != WP_MARK_BEGIN && m->kind != WP_MARK_END && m->kind != WP_MARK_POINT)
        return wp_errf(err, -EINVAL, "mark has an unknown kind %d", (int)m->kind);
    if (m->ncounts < 0 || m->ncounts > WP_MARK_MAX_COUNTS)
        return wp_errf(err, -EINVAL, "mark has %d counts, at most %d are allowed", m->ncounts,
                       WP_MARK_MAX_COUNTS);
    if (memchr(m->name, '\0', sizeof(m->name)) == NULL ||
        memchr(m->host, '\0', sizeof(m->host)) == NULL)
        return wp_errf(err, -EINVAL, "mark name or host is not terminated");
    for (int i = 0; i < m->ncounts; i++)
        if (memchr(m->counts[i].key, '\0', sizeof(m->counts[i].key)) == NULL)
            return wp_errf(err, -EINVAL, "mark count key is longer than %zu characters",
                           sizeof(m->counts[i].key) - 1);
    if (WP_GROW(&w->marks, &w->capmarks, w->nmarks + 1) < 0)
        return wp_errf(err, -ENOMEM, "out of memory");
    w->marks[w->nmarks++] = *m;
    return 0;
}

int wp_trace_put_event(struct wp_trace_writer *w, const struct wp_event *e, struct wp_err *err)
{
    if (WP_GROW(&w->events, &w->capevents, w->nevents + 1) < 0)
        return wp_errf(err, -ENOMEM, "out of memory");
    struct wp_event *d = &w->events[w->nevents++];
    *d = *e;
    d->source[sizeof(d->source) - 1] = '\0';
    d->message[sizeof(d->message) - 1] = '\0';
    d->host[sizeof(d->host) - 1] = '\0';
    return 0;
}

/* Writes n samples as a chunk: into chunks, or as the sensor's open chunk. */
static int write_chunk(struct wp_trace_writer *w, int sensor, const int64_t *t, const int64_t *v,
                       size_t n, bool open, struct wp_err *err)
{
    uint8_t *blob;
    size_t len;
    /* An open chunk is encoded again at every commit until it is full: in version 1, whose
     * encoder is several times cheaper; a closed chunk, encoded once, in version 2, which is
     * 17 % smaller (bench/perf/codec_bench.sh). */
    int rc = open && !w->closing ? wp_chunk_encode_v1(t, v, n, &blob, &len)
                                 : wp_chunk_encode(t, v, n, &blob, &len);
    if (rc < 0)
        return wp_errf(err, -ENOMEM, "out of memory encoding samples for %s", w->path);
    /* The chunk's aggregates (raw values; the sum is NULL should it overflow) let a reader
     * draw an envelope or sum a window without decoding: t0/t1 and n with them. */
    int64_t t0 = t[0], t1 = t[0], vmin = v[0], vmax = v[0], vsum = v[0];
    bool sum_ok = true;
    for (size_t i = 1; i < n; i++) {
        t0 = t[i] < t0 ? t[i] : t0;
        t1 = t[i] > t1 ? t[i] : t1;
        vmin = v[i] < vmin ? v[i] : vmin;
        vmax = v[i] > vmax ? v[i] : vmax;
        sum_ok = sum_ok && !__builtin_add_overflow(vsum, v[i], &vsum);
    }
    sqlite3_stmt *st = open ? w->st_open : w->st_chunk;
    sqlite3_bind_int(st, 1, sensor);
    sqlite3_bind_int64(st, 2, t0);
    sqlite3_bind_int64(st, 3, t1);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n);
    sqlite3_bind_blob64(st, 5, blob, len, free);
    sqlite3_bind_int64(st, 6, vmin);
    sqlite3_bind_int64(st, 7, vmax);
    if (sum_ok)
        sqlite3_bind_int64(st, 8, vsum);
    else
        sqlite3_bind_null(st, 8);
    rc = run(st);
    return rc == SQLITE_OK ? 0 : db_err(w, rc, err, "writing samples to");
}

/* Whether a chunk of n samples over [t0, t1] takes more at the next commit. */
static bool stays_open(size_t n, int64_t t0, int64_t t1)
{
    return n < WP_TRACE_CHUNK_TARGET && t1 - t0 < WP_TRACE_CHUNK_SPAN_US;
}

static int write_pending(struct wp_trace_writer *w, struct wp_err *err)
{
    int rc;
    for (size_t id = 0; id < w->nbufs; id++) {
        struct sbuf *b = &w->bufs[id];
        b->next_off = 0;
        b->next_n = b->open_n;
        if (b->n == b->open_n && !(w->closing && b->open_n))
            continue; /* nothing new: the open chunk stays as it is */
        /* Split evenly rather than leaving a runt chunk at the end. The first piece holds the
         * open chunk's samples (the first open_n) and replaces it. */
        size_t pieces = (b->n + WP_TRACE_CHUNK_MAX - 1) / WP_TRACE_CHUNK_MAX;
        size_t per = (b->n + pieces - 1) / pieces;
        b->next_n = 0;
        for (size_t off = 0; off < b->n; off += per) {
            size_t k = b->n - off < per ? b->n - off : per;
            /* the last piece stays open while it is small and short */
            bool open = false;
            if (off + k == b->n) {
                int64_t lo = b->t[off], hi = b->t[off];
                for (size_t i = off + 1; i < off + k; i++) {
                    lo = b->t[i] < lo ? b->t[i] : lo;
                    hi = b->t[i] > hi ? b->t[i] : hi;
                }
                open = stays_open(k, lo, hi);
            }
            if ((rc = write_chunk(w, (int)id, b->t + off, b->v + off, k, open, err)) < 0)
                return rc;
            if (open) {
                b->next_off = off;
                b->next_n = k;
            }
        }
        if (b->open_n && !b->next_n) {
            sqlite3_bind_int(w->st_unopen, 1, (int)id);
            if ((rc = run(w->st_unopen)) != SQLITE_OK)
                return db_err(w, rc, err, "writing samples to");
        }
    }
    for (size_t i = 0; i < w->nmarks; i++) {
        const struct wp_mark *m = &w->marks[i];
        char counts[2048];
        if (wp_store_counts_to_json(m, counts, sizeof(counts)) < 0)
            return wp_errf(err, -EINVAL, "mark %s has counts too long to store", m->name);
        sqlite3_stmt *st = w->st_mark;
        sqlite3_bind_int64(st, 1, m->t_us);
        sqlite3_bind_text(st, 2, wp_mark_kind_name(m->kind), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, counts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, m->host, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, m->pid);
        if ((rc = run(st)) != SQLITE_OK)
            return db_err(w, rc, err, "writing marks to");
    }
    for (size_t i = 0; i < w->nevents; i++) {
        const struct wp_event *e = &w->events[i];
        sqlite3_stmt *st = w->st_event;
        sqlite3_bind_int64(st, 1, e->t_us);
        if (e->sensor < 0)
            sqlite3_bind_null(st, 2);
        else
            sqlite3_bind_int(st, 2, e->sensor);
        sqlite3_bind_text(st, 3, e->source, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, e->device);
        sqlite3_bind_text(st, 5, e->message, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, e->host, -1, SQLITE_STATIC);
        if ((rc = run(st)) != SQLITE_OK)
            return db_err(w, rc, err, "writing events to");
    }
    return 0;
}

/* Samples not committed yet (those of an open chunk are). */
static size_t pending_samples(const struct wp_trace_writer *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nbufs; i++)
        n += w->bufs[i].n - w->bufs[i].open_n;
    return n;
}

int wp_trace_commit(struct wp_trace_writer *w, struct wp_err *err)
{
    if (pending_samples(w) == 0 && w->nmarks == 0 && w->nevents == 0 && !w->closing)
        return 0;
    int rc = exec(w, "BEGIN", err, "writing to");
    if (rc < 0)
        return rc;
    if ((rc = write_pending(w, err)) < 0 || (rc = exec(w, "COMMIT", err, "writing to")) < 0) {
        /* Keep the buffers: the next commit retries (e.g. once the disk has room again). */
        rollback(w);
        return rc;
    }
    for (size_t i = 0; i < w->nbufs; i++) {
        /* committed: keep only the open chunk's samples, at the front */
        struct sbuf *b = &w->bufs[i];
        if (b->next_n && b->next_off) {
            memmove(b->t, b->t + b->next_off, b->next_n * sizeof(*b->t));
            memmove(b->v, b->v + b->next_off, b->next_n * sizeof(*b->v));
        }
        b->n = b->open_n = b->next_n;
    }
    w->nmarks = 0;
    w->nevents = 0;
    return 0;
}

int wp_trace_close(struct wp_trace_writer *w, struct wp_err *err)
{
    if (!w)
        return 0;
    size_t lost = pending_samples(w);
    w->closing = true;
    int rc = wp_trace_commit(w, err);
    if (rc < 0)
        wp_err_prefix(err, "%zu samples were not saved: ", lost);
    /* The open chunks join the others: a finished trace has them all in one table. Should this
     * fail, they stay where they are, and readers find them there. */
    if (rc == 0 && sqlite3_exec(w->db,
                                "BEGIN; INSERT INTO chunks(sensor, t0_us, t1_us, n, data, vmin, "
                                "vmax, vsum) SELECT sensor, t0_us, t1_us, n, data, vmin, vmax, "
                                "vsum FROM open_chunks "
                                "ORDER BY sensor; DELETE FROM open_chunks; COMMIT",
                                NULL, NULL, NULL) != SQLITE_OK)
        rollback(w);
    sqlite3_finalize(w->st_chunk);
    sqlite3_finalize(w->st_open);
    sqlite3_finalize(w->st_unopen);
    sqlite3_finalize(w->st_mark);
    sqlite3_finalize(w->st_event);
    sqlite3_finalize(w->st_meta);
    sqlite3_finalize(w->st_sensor);
    w->st_chunk = w->st_open = w->st_unopen = NULL;
    w->st_mark = w->st_event = w->st_meta = w->st_sensor = NULL;
    int ck = sqlite3_wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (ck == SQLITE_OK) {
        /* With the WAL empty, leaving WAL mode makes the trace one self-contained file that
         * also opens read-only where no -shm can be created. If a reader still has it open
         * this fails, which is harmless: every page is already in the main file. */
        sqlite3_exec(w->db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    } else if (rc == 0) {
        rc = wp_errf(err, sql_errno(ck),
                     "every sample of %s is saved, but its -wal file could not be merged "
                     "(%s); keep %s-wal next to it when you copy it",
                     w->path, sqlite3_errmsg(w->db), w->path);
    }
    writer_free(w);
    return rc;
}
