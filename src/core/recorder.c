#include "core/recorder.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/grow.h"
#include "core/sink.h"
#include "marks/marks.h"
#include "sources/source.h"
#include "store/trace.h"

/* The sampler never blocks on the writer; if the writer falls this far behind (a disk that
 * stalls for minutes), new samples are dropped and counted rather than exhausting memory. */
#define QUEUE_MAX_SAMPLES (32u * 1024 * 1024)
/* Counter reads cost ~4 ms per GPU: a job that marks every step must not turn them into a
 * fast loop. */
#define MARK_COUNTER_MIN_US 1000000

struct src {
    const struct wp_source_ops *ops;
    void *state;
    int64_t next_us;
    bool dead;
};

struct queue {
    struct wp_sample *samples;
    size_t n, cap;
    struct wp_mark *marks;
    size_t nmarks, capmarks;
    struct wp_event *events;
    size_t nevents, capevents;
};

struct wp_recorder {
    struct src *srcs;
    size_t nsrcs;
    struct wp_sensors sensors;
    struct wp_meta meta;
    struct wp_trace_writer *trace;
    struct wp_marks_rx *rx;
    wp_event_fn on_event;
    void *event_ctx;
    int64_t commit_interval_us;

    pthread_t sampler, writer;
    bool sampler_started, writer_started;
    int stop_pipe[2]; /* wakes the sampler: stop, or a mark from the CLI */

    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;        /* sampler: finish */
    bool sampler_done;    /* writer: drain and finish */
    bool counter_request; /* a mark from the CLI wants the counters read now */
    struct queue q;
    uint64_t dropped, marks_rejected;
    struct wp_err write_err; /* first writer failure */
};

/* Called with the lock held. */
static void queue_take(struct wp_recorder *r, struct wp_sink *sink)
{
    struct queue *q = &r->q;
    size_t n = sink->n;
    if (n == 0) {
        /* nothing to copy (sink->samples may still be NULL) */
    } else if (q->n + n > QUEUE_MAX_SAMPLES ||
               wp_grow((void **)&q->samples, &q->cap, q->n + n, sizeof(*q->samples), 256) < 0) {
        r->dropped += n;
    } else {
        memcpy(q->samples + q->n, sink->samples, n * sizeof(*sink->samples));
        q->n += n;
    }
    r->dropped += sink->dropped;
    sink->dropped = 0;
    for (size_t i = 0; i < sink->nevents; i++) {
        if (WP_GROW(&q->events, &q->capevents, q->nevents + 1) == 0)
            q->events[q->nevents++] = sink->events[i];
    }
    wp_sink_clear(sink);
}

static void queue_mark(struct wp_recorder *r, const struct wp_mark *m)
{
    struct queue *q = &r->q;
    if (WP_GROW(&q->marks, &q->capmarks, q->nmarks + 1) == 0)
        q->marks[q->nmarks++] = *m;
}

static void poll_sources(struct wp_recorder *r, int64_t now, unsigned flags, struct wp_sink *sink)
{
    for (size_t i = 0; i < r->nsrcs; i++) {
        struct src *s = &r->srcs[i];
        if (s->dead || (!flags && now < s->next_us))
            continue;
        struct wp_err err = {0};
        int64_t next = now + 1000000;
        if (s->ops->poll(s->state, now, flags, sink, &next, &err) < 0) {
            s->dead = true;
            wp_sink_event(sink, wp_wall_us(), -1, s->ops->name, -1, "source %s stopped: %s",
                          s->ops->name, err.msg);
        }
        s->next_us = next;
    }
}

static int64_t next_due(const struct wp_recorder *r, int64_t now)
{
    int64_t nx = now + 1000000;
    for (size_t i = 0; i < r->nsrcs; i++)
        if (!r->srcs[i].dead && r->srcs[i].next_us < nx)
            nx = r->srcs[i].next_us;
    return nx;
}

static void *sampler_main(void *arg)
{
    struct wp_recorder *r = arg;
    struct wp_sink sink = {0};
    int64_t last_mark_counter = 0;
    poll_sources(r, wp_mono_us(), WP_POLL_ALL, &sink);
    for (;;) {
        unsigned flags = 0;
        pthread_mutex_lock(&r->lock);
        bool fresh = sink.n > 0;
        queue_take(r, &sink);
        bool stop = r->stopping;
        /* Commit soon after new samples arrive, so a kill loses at most about a second. */
        if (fresh)
            pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;

        int64_t now = wp_mono_us();
        int64_t wait_us = next_due(r, now) - now;
        struct pollfd pfd[2] = {{.fd = r->stop_pipe[0], .events = POLLIN},
                                {.fd = r->rx ? wp_marks_rx_fd(r->rx) : -1, .events = POLLIN}};
        struct timespec ts = {.tv_sec = wait_us > 0 ? wait_us / 1000000 : 0,
                              .tv_nsec = wait_us > 0 ? (wait_us % 1000000) * 1000 : 0};
        int nready = ppoll(pfd, 2, &ts, NULL);
        if (nready > 0 && (pfd[1].revents & POLLIN)) {
            for (int k = 0; k < 1024; k++) {
                struct wp_mark m;
                struct wp_err err = {0};
                int got = wp_marks_rx_recv(r->rx, &m, wp_wall_us(), &err);
                if (got == 0)
                    break;
                pthread_mutex_lock(&r->lock);
                if (got > 0)
                    queue_mark(r, &m);
                else
                    r->marks_rejected++;
                pthread_mutex_unlock(&r->lock);
                if (got < 0)
                    wp_sink_event(&sink, wp_wall_us(), -1, "marks", -1, "rejected a mark: %s",
                                  err.msg);
            }
            now = wp_mono_us();
            if (now - last_mark_counter >= MARK_COUNTER_MIN_US) {
                flags |= WP_POLL_COUNTERS;
                last_mark_counter = now;
            }
        }
        if (nready > 0 && (pfd[0].revents & POLLIN)) {
            char drain[64];
            if (read(r->stop_pipe[0], drain, sizeof(drain)) < 0) {
                /* nonblocking: nothing left */
            }
            pthread_mutex_lock(&r->lock);
            bool want = r->counter_request;
            r->counter_request = false;
            pthread_mutex_unlock(&r->lock);
            if (want)
                flags |= WP_POLL_COUNTERS;
        }
        poll_sources(r, wp_mono_us(), flags, &sink);
    }
    /* The last round: drain buffers and read counters so the run's end is covered. */
    poll_sources(r, wp_mono_us(), WP_POLL_ALL, &sink);
    pthread_mutex_lock(&r->lock);
    queue_take(r, &sink);
    r->sampler_done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    wp_sink_free(&sink);
    return NULL;
}

static void write_batch(struct wp_recorder *r, struct queue *b)
{
    struct wp_err err = {0};
    for (size_t i = 0; i < b->nevents; i++)
        if (r->on_event)
            r->on_event(&b->events[i], r->event_ctx);
    if (r->write_err.code)
        return; /* the trace already failed; keep draining so memory stays bounded */
    int rc = wp_trace_append(r->trace, b->samples, b->n, &err);
    for (size_t i = 0; rc >= 0 && i < b->nmarks; i++)
        rc = wp_trace_put_mark(r->trace, &b->marks[i], &err);
    for (size_t i = 0; rc >= 0 && i < b->nevents; i++)
        rc = wp_trace_put_event(r->trace, &b->events[i], &err);
    if (rc >= 0)
        rc = wp_trace_commit(r->trace, &err);
    if (rc < 0) {
        r->write_err = err;
        if (r->on_event) {
            struct wp_event e = {.t_us = wp_wall_us(), .sensor = -1, .device = -1};
            snprintf(e.source, sizeof(e.source), "trace");
            snprintf(e.message, sizeof(e.message),
                     "writing the trace failed: %.180s; recording continues but is not saved",
                     err.msg);
            r->on_event(&e, r->event_ctx);
        }
    }
}

static void *writer_main(void *arg)
{
    struct wp_recorder *r = arg;
    struct queue batch = {0};
    int64_t last_commit = wp_mono_us();
    pthread_mutex_lock(&r->lock);
    for (;;) {
        bool done = r->sampler_done;
        if (!done) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (r->commit_interval_us % 1000000) * 1000;
            ts.tv_sec += r->commit_interval_us / 1000000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
            done = r->sampler_done;
            /* Woken by fresh samples: still no more than one commit per half interval, so a
             * chatty source cannot turn commits into a fast loop. */
            int64_t since = wp_mono_us() - last_commit;
            if (!done && since < r->commit_interval_us / 2) {
                pthread_mutex_unlock(&r->lock);
                wp_sleep_until_mono_us(last_commit + r->commit_interval_us / 2);
                pthread_mutex_lock(&r->lock);
                done = r->sampler_done;
            }
        }
        /* Swap the queue out so the sampler can keep appending while we write. */
        struct queue tmp = r->q;
        r->q = batch;
        r->q.n = r->q.nmarks = r->q.nevents = 0;
        batch = tmp;
        pthread_mutex_unlock(&r->lock);
        write_batch(r, &batch);
        last_commit = wp_mono_us();
        batch.n = batch.nmarks = batch.nevents = 0;
        pthread_mutex_lock(&r->lock);
        if (done)
            break;
    }
    pthread_mutex_unlock(&r->lock);
    free(batch.samples);
    free(batch.marks);
    free(batch.events);
    return NULL;
}

static void close_sources(struct src **srcs, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        if ((*srcs)[i].state)
            (*srcs)[i].ops->close((*srcs)[i].state);
    free(*srcs);
    *srcs = NULL;
    *n = 0;
}

/* Opens and discovers every source into r->srcs / tab / meta. */
static int open_sources(struct src **out, size_t *nout, struct wp_sensors *tab,
                        struct wp_meta *meta)
{
    size_t n = 0;
    while (wp_sources[n])
        n++;
    struct src *srcs = calloc(n ? n : 1, sizeof(*srcs));
    if (!srcs)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct wp_source_ops *ops = wp_sources[i];
        struct wp_err err = {0};
        void *state = NULL;
        char key[64];
        snprintf(key, sizeof(key), "missing.%s", ops->name);
        if (ops->open(&state, &err) < 0) {
            wp_meta_set(meta, key, err.msg);
            continue;
        }
        int added = ops->discover(state, tab, meta, &err);
        if (added <= 0) {
            wp_meta_set(meta, key, added < 0 ? err.msg : "no sensors found");
            ops->close(state);
            continue;
        }
        srcs[k++] = (struct src){.ops = ops, .state = state};
    }
    *out = srcs;
    *nout = k;
    return 0;
}

int wp_sources_probe(struct wp_sensors *tab, struct wp_meta *meta, struct wp_err *err)
{
    struct src *srcs = NULL;
    size_t n = 0;
    if (open_sources(&srcs, &n, tab, meta) < 0)
        return wp_errf(err, -ENOMEM, "out of memory");
    close_sources(&srcs, &n);
    return 0;
}

static void put_run_meta(struct wp_meta *m)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    wp_meta_set(m, "host", host);
    wp_meta_set(m, "tool", "wattprof " WP_VERSION);
    wp_meta_setf(m, "start_us", "%lld", (long long)wp_wall_us());
    const char *job = getenv("SLURM_JOB_ID");
    if (job)
        wp_meta_set(m, "slurm.job_id", job);
}

int wp_recorder_start(struct wp_recorder **out, const struct wp_recorder_opts *opts,
                      bool allow_empty, struct wp_err *err)
{
    struct wp_recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return wp_errf(err, -ENOMEM, "out of memory");
    r->stop_pipe[0] = r->stop_pipe[1] = -1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->on_event = opts->on_event;
    r->event_ctx = opts->event_ctx;
    r->commit_interval_us = opts->commit_interval_us > 0 ? opts->commit_interval_us : 1000000;
    int rc;
    if (opts->meta)
        for (size_t i = 0; i < opts->meta->n; i++)
            wp_meta_set(&r->meta, opts->meta->v[i].key, opts->meta->v[i].value);

    /* Claim the output before touching the GPUs: a name clash is the user's most likely
     * mistake and must not cost a driver initialisation first. */
    rc = wp_trace_create(&r->trace, opts->trace_path, opts->force, err);
    if (rc < 0)
        goto fail;
    rc = open_sources(&r->srcs, &r->nsrcs, &r->sensors, &r->meta);
    if (rc < 0) {
        wp_errf(err, rc, "out of memory");
        goto fail;
    }
    if (r->sensors.n == 0 && !allow_empty) {
        char why[1024] = "";
        size_t off = 0;
        for (size_t i = 0; i < r->meta.n && off < sizeof(why) - 1; i++)
            if (strncmp(r->meta.v[i].key, "missing.", 8) == 0 && !strchr(r->meta.v[i].key + 8, '.'))
                off += (size_t)snprintf(why + off, sizeof(why) - off, "%s%s: %s", off ? "; " : "",
                                        r->meta.v[i].key + 8, r->meta.v[i].value);
        rc = wp_errf(err, -ENODEV, "no power sensor found (%s)", why[0] ? why : "no sources");
        goto fail;
    }
    if (opts->marks) {
        rc = wp_marks_rx_open(&r->rx, NULL, err);
        if (rc < 0)
            goto fail;
        wp_meta_set(&r->meta, "marks.socket", wp_marks_rx_path(r->rx));
    }
    put_run_meta(&r->meta);
    if ((rc = wp_trace_put_meta(r->trace, &r->meta, err)) < 0 ||
        (rc = wp_trace_put_sensors(r->trace, &r->sensors, err)) < 0 ||
        (rc = wp_trace_commit(r->trace, err)) < 0)
        goto fail;
    if (pipe2(r->stop_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        rc = wp_errf(err, -errno, "cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&r->writer, NULL, writer_main, r) != 0) {
        rc = wp_errf(err, -EAGAIN, "cannot start the writer thread");
        goto fail;
    }
    r->writer_started = true;
    if (pthread_create(&r->sampler, NULL, sampler_main, r) != 0) {
        rc = wp_errf(err, -EAGAIN, "cannot start the sampler thread");
        goto fail;
    }
    r->sampler_started = true;
    *out = r;
    return 0;
fail:
    if (r->writer_started) {
        pthread_mutex_lock(&r->lock);
        r->sampler_done = true;
        pthread_cond_signal(&r->cond);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->writer, NULL);
    }
    if (r->trace) {
        /* A trace we created and could not start is not the user's data: remove it. */
        wp_trace_close(r->trace, NULL);
        unlink(opts->trace_path);
    }
    if (r->rx)
        wp_marks_rx_close(r->rx);
    close_sources(&r->srcs, &r->nsrcs);
    wp_sensors_free(&r->sensors);
    wp_meta_free(&r->meta);
    if (r->stop_pipe[0] >= 0) {
        close(r->stop_pipe[0]);
        close(r->stop_pipe[1]);
    }
    free(r);
    return rc;
}

const char *wp_recorder_socket(const struct wp_recorder *r)
{
    return r->rx ? wp_marks_rx_path(r->rx) : NULL;
}

size_t wp_recorder_nsensors(const struct wp_recorder *r)
{
    return r->sensors.n;
}

int wp_recorder_set_meta(struct wp_recorder *r, const char *key, const char *value)
{
    pthread_mutex_lock(&r->lock);
    int rc = wp_meta_set(&r->meta, key, value);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int wp_recorder_mark(struct wp_recorder *r, const struct wp_mark *m)
{
    pthread_mutex_lock(&r->lock);
    queue_mark(r, m);
    r->counter_request = true;
    pthread_mutex_unlock(&r->lock);
    if (write(r->stop_pipe[1], "m", 1) < 0) {
        /* pipe full: the sampler is awake anyway */
    }
    return 0;
}

int wp_recorder_stop(struct wp_recorder *r, struct wp_err *err)
{
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_mutex_unlock(&r->lock);
    if (write(r->stop_pipe[1], "x", 1) < 0) {
        /* the sampler also checks `stopping` each round */
    }
    pthread_join(r->sampler, NULL);
    pthread_join(r->writer, NULL);
    int rc = 0;
    wp_meta_setf(&r->meta, "end_us", "%lld", (long long)wp_wall_us());
    wp_meta_setf(&r->meta, "dropped_samples", "%llu", (unsigned long long)r->dropped);
    wp_meta_setf(&r->meta, "marks.rejected", "%llu", (unsigned long long)r->marks_rejected);
    if (r->write_err.code) {
        if (err)
            *err = r->write_err;
        rc = r->write_err.code;
        wp_trace_close(r->trace, NULL);
    } else {
        rc = wp_trace_put_meta(r->trace, &r->meta, err);
        int rc2 = wp_trace_close(r->trace, rc < 0 ? NULL : err);
        if (rc >= 0)
            rc = rc2;
    }
    if (r->rx)
        wp_marks_rx_close(r->rx);
    close_sources(&r->srcs, &r->nsrcs);
    close(r->stop_pipe[0]);
    close(r->stop_pipe[1]);
    wp_sensors_free(&r->sensors);
    wp_meta_free(&r->meta);
    free(r->q.samples);
    free(r->q.marks);
    free(r->q.events);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
    return rc;
}
