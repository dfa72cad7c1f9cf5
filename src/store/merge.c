/* wattprof merge: node traces joined into one trace with a node dimension. Samples keep their
 * wall-clock timestamps (NVML stamps them in us since the epoch), so nodes line up by wall
 * clock: as well as the nodes' clocks agree (NTP or PTP; a few ms with NTP on a LAN). Each
 * sensor, mark and event gets its node's name in `host`; each node's meta moves under
 * "merge.node.<i>."; the merged trace's start_us/end_us span every node. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/merge.h"

/* Samples appended per commit: a few chunks' worth, so memory stays bounded by one sensor's
 * series and not the whole cluster. */
#define MERGE_COMMIT_SAMPLES 65536

static int64_t meta_int(const struct wp_meta *m, const char *key, bool *ok)
{
    const char *v = wp_meta_get(m, key);
    char *end = NULL;
    long long x = v ? strtoll(v, &end, 10) : 0;
    *ok = v && end != v && !*end;
    return x;
}

static int node_name(const struct wp_trace *t, const char *given, size_t i, char *out,
                     struct wp_err *err)
{
    const char *h = given && *given ? given : wp_meta_get(wp_trace_meta(t), "host");
    if (!h || !*h)
        return wp_errf(err, -EINVAL,
                       "trace %zu has no host in its metadata; name its node with --names", i + 1);
    if (strlen(h) >= WP_HOST_MAX)
        return wp_errf(err, -EINVAL, "node name '%.40s...' is longer than %d characters", h,
                       WP_HOST_MAX - 1);
    snprintf(out, WP_HOST_MAX, "%s", h);
    return 0;
}

static int put_node_meta(struct wp_meta *out, const struct wp_meta *in, size_t i, const char *host)
{
    char key[512];
    snprintf(key, sizeof(key), "merge.node.%zu", i);
    if (wp_meta_set(out, key, host) < 0)
        return -ENOMEM;
    for (size_t k = 0; k < in->n; k++) {
        const char *name = in->v[k].key;
        if (strcmp(name, "format") == 0 || strcmp(name, "format_version") == 0)
            continue;
        if (snprintf(key, sizeof(key), "merge.node.%zu.%s", i, name) >= (int)sizeof(key))
            continue; /* a key this long is nobody's */
        if (wp_meta_set(out, key, in->v[k].value) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Copies one node's sensors (new ids from *next_id), samples, marks and events. */
static int copy_node(struct wp_trace_writer *w, const struct wp_trace *t, const char *host,
                     int *next_id, struct wp_merge_stats *st, struct wp_err *err)
{
    const struct wp_sensors *tab = wp_trace_sensors(t);
    struct wp_sensors mine = {0};
    int *map = NULL; /* old id -> new id, indexed by position in tab */
    int rc = 0;
    if (tab->n && !(map = calloc(tab->n, sizeof(*map))))
        return wp_errf(err, -ENOMEM, "out of memory merging");
    for (size_t k = 0; k < tab->n; k++) {
        struct wp_sensor s = tab->v[k];
        snprintf(s.host, sizeof(s.host), "%s", host);
        if (wp_sensors_add(&mine, &s) < 0) {
            rc = wp_errf(err, -ENOMEM, "out of memory merging");
            goto out;
        }
        mine.v[mine.n - 1].id = map[k] = (*next_id)++;
    }
    if (mine.n && (rc = wp_trace_put_sensors(w, &mine, err)) < 0)
        goto out;
    for (size_t k = 0; k < tab->n; k++) {
        struct wp_series ser;
        if ((rc = wp_trace_series(t, tab->v[k].id, &ser, err)) < 0)
            goto out;
        st->damaged += ser.ndamaged;
        for (size_t off = 0; off < ser.n && rc == 0; off += MERGE_COMMIT_SAMPLES) {
            size_t m = ser.n - off < MERGE_COMMIT_SAMPLES ? ser.n - off : MERGE_COMMIT_SAMPLES;
            struct wp_sample *buf = malloc(m * sizeof(*buf));
            if (!buf) {
                rc = wp_errf(err, -ENOMEM, "out of memory merging");
                break;
            }
            for (size_t j = 0; j < m; j++)
                buf[j] = (struct wp_sample){map[k], ser.t_us[off + j], ser.value[off + j]};
            rc = wp_trace_append(w, buf, m, err);
            free(buf);
            if (rc == 0)
                rc = wp_trace_commit(w, err);
        }
        st->samples += ser.n;
        wp_series_free(&ser);
        if (rc < 0)
            goto out;
    }
    const struct wp_mark *marks;
    const struct wp_event *events;
    size_t nm = 0, ne = 0;
    if ((rc = wp_trace_marks(t, &marks, &nm, err)) < 0 ||
        (rc = wp_trace_events(t, &events, &ne, err)) < 0)
        goto out;
    for (size_t k = 0; k < nm && rc == 0; k++) {
        struct wp_mark m = marks[k];
        snprintf(m.host, sizeof(m.host), "%s", host);
        rc = wp_trace_put_mark(w, &m, err);
    }
    for (size_t k = 0; k < ne && rc == 0; k++) {
        struct wp_event e = events[k];
        snprintf(e.host, sizeof(e.host), "%s", host);
        if (e.sensor >= 0) {
            int to = -1;
            for (size_t j = 0; j < tab->n; j++)
                if (tab->v[j].id == e.sensor)
                    to = map[j];
            e.sensor = to;
        }
        rc = wp_trace_put_event(w, &e, err);
    }
    if (rc == 0)
        rc = wp_trace_commit(w, err);
out:
    free(map);
    wp_sensors_free(&mine);
    return rc;
}

int wp_trace_merge(const char *const *paths, const char *const *names, size_t n, const char *out,
                   struct wp_merge_stats *st, struct wp_err *err)
{
    memset(st, 0, sizeof(*st));
    if (n < 1)
        return wp_errf(err, -EINVAL, "no traces to merge");
    if (n > WP_TRACE_MAX_NODES)
        return wp_errf(err, -EINVAL, "at most %d traces can be merged", WP_TRACE_MAX_NODES);
    struct wp_trace **t = calloc(n, sizeof(*t));
    char(*host)[WP_HOST_MAX] = calloc(n, sizeof(*host));
    struct wp_meta meta = {0};
    struct wp_trace_writer *w = NULL;
    int rc = 0;
    if (!t || !host) {
        rc = wp_errf(err, -ENOMEM, "out of memory merging");
        goto out;
    }
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if ((rc = wp_trace_open(&t[i], paths[i], err)) < 0)
            goto out;
        if (wp_trace_nnodes(t[i]) > 0) {
            rc = wp_errf(err, -EINVAL,
                         "%s is already a merged trace; merge the node traces it was made from",
                         paths[i]);
            goto out;
        }
        if ((rc = node_name(t[i], names ? names[i] : NULL, i, host[i], err)) < 0)
            goto out;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(host[i], host[j]) == 0) {
                rc = wp_errf(err, -EINVAL,
                             "%s and %s are both from node '%s'; a merge joins different "
                             "nodes (name them with --names if they really are)",
                             paths[j], paths[i], host[i]);
                goto out;
            }
        }
        const struct wp_meta *m = wp_trace_meta(t[i]);
        bool ok0, ok1;
        int64_t s0 = meta_int(m, "start_us", &ok0), s1 = meta_int(m, "end_us", &ok1);
        if (ok0 && s0 < lo)
            lo = s0;
        if (ok1 && s1 > hi)
            hi = s1;
        if ((rc = put_node_meta(&meta, m, i, host[i])) < 0) {
            rc = wp_errf(err, -ENOMEM, "out of memory merging");
            goto out;
        }
        const char *rep = wp_meta_get(m, "replay");
        if (rep && !wp_meta_get(&meta, "replay"))
            wp_meta_setf(&meta, "replay", "node %s: %s", host[i], rep);
    }
    wp_meta_set(&meta, "mode", "merge");
    wp_meta_setf(&meta, "merge.nodes", "%zu", n);
    wp_meta_setf(&meta, "host", "%zu nodes", n);
    if (lo != INT64_MAX)
        wp_meta_setf(&meta, "start_us", "%" PRId64, lo);
    if (hi != INT64_MIN)
        wp_meta_setf(&meta, "end_us", "%" PRId64, hi);
    if ((rc = wp_trace_create(&w, out, false, err)) < 0)
        goto out;
    if ((rc = wp_trace_put_meta(w, &meta, err)) < 0)
        goto out;
    int next_id = 0;
    for (size_t i = 0; i < n; i++)
        if ((rc = copy_node(w, t[i], host[i], &next_id, st, err)) < 0) {
            wp_err_prefix(err, "merging %s: ", paths[i]);
            goto out;
        }
    st->nodes = n;
    st->sensors = (size_t)next_id;
out:
    if (w) {
        struct wp_err cerr = {0};
        int crc = wp_trace_close(w, rc < 0 ? &cerr : err);
        if (rc == 0)
            rc = crc;
        /* A half-written merge is no trace anyone should read. */
        if (rc < 0)
            remove(out);
    }
    for (size_t i = 0; t && i < n; i++)
        wp_trace_free(t[i]);
    free(t);
    free(host);
    wp_meta_free(&meta);
    return rc;
}
