#include "recorder/recorder.h"

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
#include "store/trace.h"

/* The source threads never block on the writer; if the writer falls this far behind (a disk
 * that stalls for minutes), new samples are dropped and counted rather than exhausting
 * memory. */
#define QUEUE_MAX_SAMPLES (32u * 1024 * 1024)
/* Counter reads cost ~4 ms per GPU: a job that marks every step must not turn them into a
 * fast loop. */
#define MARK_COUNTER_MIN_US 1000000
/* A job that sends garbage gets this many events naming it, then one count at the end. */
#define MARK_REJECT_EVENTS 5
/* In the rounds after the end, how often to look for the samples that cover it. */
#define TAIL_STEP_US 10000

struct wp_recorder;

/* One source instance and the thread that polls it. */
struct inst {
    struct wp_recorder *r;
    struct wp_source_inst src;
    pthread_t thread;
    bool started;
    pthread_cond_t wake; /* CLOCK_MONOTONIC; signalled for stop and counter requests */
    unsigned request;    /* poll flags asked for by another thread (under r->lock) */
    /* owned by the instance's thread */
    int64_t next_us, retry_us, down_since_us, backoff_us;
    bool dead, unavailable;
    size_t sensor_lo, sensor_hi; /* its sensors are ids [lo, hi) */
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
    struct inst *insts;
    size_t ninsts;
    struct wp_source_inst *opened; /* as wp_sources_open returned them, for closing */
    struct wp_sensors sensors;
    int64_t *last_t_us; /* per sensor: the newest sample seen; written by its instance only */
    struct wp_meta meta;
    struct wp_trace_writer *trace;
    struct wp_marks_rx *rx;
    wp_event_fn on_event;
    void *event_ctx;
    int64_t commit_interval_us, retry_min_us, retry_max_us;

    pthread_t control, writer;
    bool control_started, writer_started;
    int stop_pipe[2]; /* wakes the control thread: stop, or a mark from the CLI */

    pthread_mutex_t lock;
    pthread_cond_t cond;  /* the writer's */
    bool stopping;        /* everyone: finish */
    bool sources_done;    /* writer: drain and finish */
    bool counter_request; /* a mark from the CLI wants the counters read now */
    int64_t end_us;       /* the measured window's end (wall clock) */
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

/* Hands a sink's contents to the writer; wakes it when there are fresh samples, so a kill
 * loses at most about a second. */
static void deliver(struct wp_recorder *r, struct wp_sink *sink)
{
    pthread_mutex_lock(&r->lock);
    bool fresh = sink->n > 0;
    queue_take(r, sink);
    if (fresh)
        pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* ---- source threads ---- */

static void inst_poll(struct inst *in, unsigned flags, struct wp_sink *sink)
{
    struct wp_recorder *r = in->r;
    if (in->dead)
        return;
    int64_t now = wp_mono_us();
    if (in->unavailable && now < in->retry_us)
        return; /* backing off: a mark must not turn retries into a fast loop */
    size_t first_sample = sink->n, first_event = sink->nevents;
    struct wp_err err = {0};
    int64_t next = now + 1000000;
    int rc = in->src.ops->poll(in->src.state, now, flags, sink, &next, &err);
    const char *name = in->src.cfg->name;
    if (rc == 0) {
        if (in->unavailable)
            wp_sink_event(sink, wp_wall_us(), -1, name, -1, "source %s recovered after %.1f s",
                          name, (double)(now - in->down_since_us) / 1e6);
        in->unavailable = false;
        in->next_us = next;
    } else if (rc == -ENODEV) {
        in->dead = true;
        wp_sink_event(sink, wp_wall_us(), -1, name, -1, "source %s stopped: %s", name, err.msg);
    } else {
        /* Retry after 1, 2, 4 ... s (capped): a dead BMC costs a few polls an hour, and a
         * meter that comes back is picked up within the cap. */
        in->backoff_us = in->unavailable ? in->backoff_us * 2 : r->retry_min_us;
        if (in->backoff_us > r->retry_max_us)
            in->backoff_us = r->retry_max_us;
        if (!in->unavailable) {
            in->down_since_us = now;
            wp_sink_event(sink, wp_wall_us(), -1, name, -1,
                          "source %s unavailable: %s; retrying, the other sources go on", name,
                          err.msg);
        }
        in->unavailable = true;
        in->retry_us = now + in->backoff_us;
        in->next_us = in->retry_us;
    }
    for (size_t i = first_sample; i < sink->n; i++) {
        int32_t id = sink->samples[i].sensor;
        if (id >= 0 && (size_t)id < r->sensors.n && sink->samples[i].t_us > r->last_t_us[id])
            r->last_t_us[id] = sink->samples[i].t_us;
    }
    /* Events carry the instance's name, whatever the source wrote. */
    for (size_t i = first_event; i < sink->nevents; i++)
        snprintf(sink->events[i].source, sizeof(sink->events[i].source), "%s", name);
}

/* The power sensors whose samples the energy of the window is integrated from. */
static bool tail_sensor(const struct wp_sensor *s)
{
    return s->quantity == WP_Q_POWER && s->kind == WP_GAUGE && s->cadence_us > 0;
}

/* After the end: read everything once (counters last read here), then keep reading the
 * power readings until each has a sample at or after that moment, for at most two of its
 * cadences, so the window and a phase that ends with it are covered edge to edge. */
static void inst_tail(struct inst *in, struct wp_sink *sink)
{
    struct wp_recorder *r = in->r;
    int64_t target = wp_wall_us();
    if (target < r->end_us)
        target = r->end_us;
    inst_poll(in, WP_POLL_ALL, sink);
    int64_t span = 0;
    for (size_t i = in->sensor_lo; i < in->sensor_hi; i++)
        if (tail_sensor(&r->sensors.v[i]) && 2 * r->sensors.v[i].cadence_us > span)
            span = 2 * r->sensors.v[i].cadence_us;
    if (span > WP_RECORDER_TAIL_MAX_US)
        span = WP_RECORDER_TAIL_MAX_US;
    int64_t deadline = wp_mono_us() + span;
    while (!in->dead && !in->unavailable && wp_mono_us() < deadline) {
        bool covered = true;
        for (size_t i = in->sensor_lo; i < in->sensor_hi && covered; i++)
            covered = !tail_sensor(&r->sensors.v[i]) || r->last_t_us[i] >= target;
        if (covered)
            break;
        wp_sleep_until_mono_us(wp_mono_us() + TAIL_STEP_US);
        inst_poll(in, WP_POLL_FRESH, sink);
    }
}

static void *inst_main(void *arg)
{
    struct inst *in = arg;
    struct wp_recorder *r = in->r;
    struct wp_sink sink = {0};
    inst_poll(in, WP_POLL_ALL, &sink);
    for (;;) {
        deliver(r, &sink);
        unsigned flags = 0;
        pthread_mutex_lock(&r->lock);
        while (!r->stopping) {
            if (in->request) {
                flags = in->request;
                in->request = 0;
                break;
            }
            if (in->dead || wp_mono_us() >= in->next_us) {
                if (!in->dead)
                    break;
                pthread_cond_wait(&in->wake, &r->lock);
                continue;
            }
            struct timespec ts = {.tv_sec = in->next_us / 1000000,
                                  .tv_nsec = (in->next_us % 1000000) * 1000};
            pthread_cond_timedwait(&in->wake, &r->lock, &ts);
        }
        bool stop = r->stopping;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
        inst_poll(in, flags, &sink);
    }
    inst_tail(in, &sink);
    deliver(r, &sink);
    wp_sink_free(&sink);
    return NULL;
}

static void request_all(struct wp_recorder *r, unsigned flags)
{
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->ninsts; i++) {
        r->insts[i].request |= flags;
        pthread_cond_signal(&r->insts[i].wake);
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- control thread: marks from the job and requests from the CLI ---- */

static void receive_marks(struct wp_recorder *r, struct wp_sink *sink)
{
    for (int k = 0; k < 1024; k++) {
        struct wp_mark m;
        struct wp_err err = {0};
        int got = wp_marks_rx_recv(r->rx, &m, wp_wall_us(), &err);
        if (got == 0)
            break;
        pthread_mutex_lock(&r->lock);
        uint64_t rejected = got < 0 ? ++r->marks_rejected : r->marks_rejected;
        if (got > 0)
            queue_mark(r, &m);
        pthread_mutex_unlock(&r->lock);
        if (got < 0 && rejected <= MARK_REJECT_EVENTS)
            wp_sink_event(sink, wp_wall_us(), -1, "marks", -1, "rejected a mark: %s%s", err.msg,
                          rejected == MARK_REJECT_EVENTS
                              ? " (further rejections are counted, not shown)"
                              : "");
    }
}

static void *control_main(void *arg)
{
    struct wp_recorder *r = arg;
    struct wp_sink sink = {0};
    int64_t last_counters = 0;
    for (;;) {
        struct pollfd pfd[2] = {{.fd = r->stop_pipe[0], .events = POLLIN},
                                {.fd = r->rx ? wp_marks_rx_fd(r->rx) : -1, .events = POLLIN}};
        int nready = poll(pfd, 2, -1);
        bool want = false;
        if (nready > 0 && (pfd[1].revents & POLLIN)) {
            receive_marks(r, &sink);
            want = true;
        }
        if (nready > 0 && (pfd[0].revents & POLLIN)) {
            char drain[64];
            if (read(r->stop_pipe[0], drain, sizeof(drain)) < 0) {
                /* nonblocking: nothing left */
            }
            pthread_mutex_lock(&r->lock);
            want |= r->counter_request;
            r->counter_request = false;
            pthread_mutex_unlock(&r->lock);
        }
        deliver(r, &sink);
        pthread_mutex_lock(&r->lock);
        bool stop = r->stopping;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
        int64_t now = wp_mono_us();
        if (want && now - last_counters >= MARK_COUNTER_MIN_US) {
            last_counters = now;
            request_all(r, WP_POLL_COUNTERS);
        }
    }
    if (r->rx)
        receive_marks(r, &sink); /* marks sent just before the end */
    deliver(r, &sink);
    wp_sink_free(&sink);
    return NULL;
}

/* ---- writer thread ---- */

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
        bool done = r->sources_done;
        if (!done) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (r->commit_interval_us % 1000000) * 1000;
            ts.tv_sec += r->commit_interval_us / 1000000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
            done = r->sources_done;
            /* Woken by fresh samples: still no more than one commit per half interval, so a
             * chatty source cannot turn commits into a fast loop. */
            int64_t since = wp_mono_us() - last_commit;
            if (!done && since < r->commit_interval_us / 2) {
                pthread_mutex_unlock(&r->lock);
                wp_sleep_until_mono_us(last_commit + r->commit_interval_us / 2);
                pthread_mutex_lock(&r->lock);
                done = r->sources_done;
            }
        }
        /* Swap the queue out so the sources can keep appending while we write. */
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

/* ---- life cycle ---- */

static void put_run_meta(struct wp_meta *m, const struct wp_config *cfg)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    wp_meta_set(m, "host", host);
    wp_meta_set(m, "tool", "wattprof " WP_VERSION);
    wp_meta_setf(m, "start_us", "%lld", (long long)wp_wall_us());
    const char *job = getenv("SLURM_JOB_ID");
    if (job)
        wp_meta_set(m, "slurm.job_id", job);
    if (cfg->rated_w == cfg->rated_w)
        wp_meta_setf(m, "node.rated_w", "%.17g", cfg->rated_w);
    if (cfg->node_allowance_w == cfg->node_allowance_w)
        wp_meta_setf(m, "node.allowance_w", "%.17g", cfg->node_allowance_w);
}

/* Why nothing can be measured, from the "missing.<instance>" notes. */
static void why_empty(const struct wp_meta *m, char *why, size_t len)
{
    size_t off = 0;
    why[0] = '\0';
    for (size_t i = 0; i < m->n && off < len - 1; i++)
        if (strncmp(m->v[i].key, "missing.", 8) == 0 && !strchr(m->v[i].key + 8, '.'))
            off += (size_t)snprintf(why + off, len - off, "%s%s: %s", off ? "; " : "",
                                    m->v[i].key + 8, m->v[i].value);
}

/* An instance the user named (not an automatic one) that could not open is recorded without:
 * say so once, on stderr and as an event in the trace, so a PDU that never answered is not
 * mistaken for one that was never asked. */
static int note_unopened(struct wp_recorder *r, const struct wp_config *cfg, struct wp_err *err)
{
    for (size_t i = 0; i < cfg->n; i++) {
        const struct wp_source_cfg *c = &cfg->v[i];
        char key[64];
        snprintf(key, sizeof(key), "missing.%s", c->name);
        const char *why = wp_meta_get(&r->meta, key);
        if (!why || strcmp(c->origin, "automatic") == 0)
            continue;
        struct wp_event e = {.t_us = wp_wall_us(), .sensor = -1, .device = -1};
        snprintf(e.source, sizeof(e.source), "%s", c->name);
        snprintf(e.message, sizeof(e.message), "source %s not read: %s", c->name, why);
        if (r->on_event)
            r->on_event(&e, r->event_ctx);
        int rc = wp_trace_put_event(r->trace, &e, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int make_insts(struct wp_recorder *r, size_t nopened)
{
    r->insts = calloc(nopened ? nopened : 1, sizeof(*r->insts));
    r->last_t_us = calloc(r->sensors.n ? r->sensors.n : 1, sizeof(*r->last_t_us));
    if (!r->insts || !r->last_t_us)
        return -ENOMEM;
    for (size_t i = 0; i < r->sensors.n; i++)
        r->last_t_us[i] = INT64_MIN;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (size_t i = 0; i < nopened; i++) {
        struct inst *in = &r->insts[i];
        in->r = r;
        in->src = r->opened[i];
        pthread_cond_init(&in->wake, &ca);
        /* Sensors of one instance are contiguous: wp_sources_open adds them in order. */
        in->sensor_lo = r->sensors.n;
        for (size_t j = 0; j < r->sensors.n; j++) {
            if (strcmp(r->sensors.v[j].source, in->src.cfg->name) != 0)
                continue;
            if (j < in->sensor_lo)
                in->sensor_lo = j;
            in->sensor_hi = j + 1;
        }
        if (in->sensor_lo > in->sensor_hi)
            in->sensor_lo = in->sensor_hi = 0;
    }
    pthread_condattr_destroy(&ca);
    r->ninsts = nopened;
    return 0;
}

static void free_recorder(struct wp_recorder *r, size_t nopened)
{
    for (size_t i = 0; i < r->ninsts; i++)
        pthread_cond_destroy(&r->insts[i].wake);
    free(r->insts);
    wp_sources_close(r->opened, nopened);
    if (r->rx)
        wp_marks_rx_close(r->rx);
    if (r->stop_pipe[0] >= 0) {
        close(r->stop_pipe[0]);
        close(r->stop_pipe[1]);
    }
    wp_sensors_free(&r->sensors);
    free(r->last_t_us);
    wp_meta_free(&r->meta);
    free(r->q.samples);
    free(r->q.marks);
    free(r->q.events);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

/* Stops and joins every thread that was started; the writer last, after the sources have
 * delivered their final rounds. */
static void join_all(struct wp_recorder *r)
{
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    for (size_t i = 0; i < r->ninsts; i++)
        pthread_cond_signal(&r->insts[i].wake);
    pthread_mutex_unlock(&r->lock);
    if (r->stop_pipe[1] >= 0 && write(r->stop_pipe[1], "x", 1) < 0) {
        /* the control thread also checks `stopping` each round */
    }
    if (r->control_started)
        pthread_join(r->control, NULL);
    for (size_t i = 0; i < r->ninsts; i++)
        if (r->insts[i].started)
            pthread_join(r->insts[i].thread, NULL);
    pthread_mutex_lock(&r->lock);
    r->sources_done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    if (r->writer_started)
        pthread_join(r->writer, NULL);
}

int wp_recorder_start(struct wp_recorder **out, const struct wp_recorder_opts *opts,
                      bool allow_empty, struct wp_err *err)
{
    if (!opts->config)
        return wp_errf(err, -EINVAL, "no source configuration given");
    struct wp_recorder *r = calloc(1, sizeof(*r));
    if (!r)
        return wp_errf(err, -ENOMEM, "out of memory");
    r->stop_pipe[0] = r->stop_pipe[1] = -1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->on_event = opts->on_event;
    r->event_ctx = opts->event_ctx;
    r->commit_interval_us = opts->commit_interval_us > 0 ? opts->commit_interval_us : 1000000;
    r->retry_min_us = opts->retry_min_us > 0 ? opts->retry_min_us : 1000000;
    r->retry_max_us = opts->retry_max_us > 0 ? opts->retry_max_us : 60000000;
    if (r->retry_max_us < r->retry_min_us)
        r->retry_max_us = r->retry_min_us;
    size_t nopened = 0;
    int rc;
    if (opts->meta)
        for (size_t i = 0; i < opts->meta->n; i++)
            wp_meta_set(&r->meta, opts->meta->v[i].key, opts->meta->v[i].value);

    /* Claim the output before touching the GPUs: a name clash is the user's most likely
     * mistake and must not cost a driver initialisation first. */
    rc = wp_trace_create(&r->trace, opts->trace_path, opts->force, err);
    if (rc < 0)
        goto fail;
    rc = wp_sources_open(opts->config, &r->opened, &nopened, &r->sensors, &r->meta, err);
    if (rc < 0)
        goto fail;
    if (r->sensors.n == 0 && !allow_empty) {
        char why[1024];
        why_empty(&r->meta, why, sizeof(why));
        rc = wp_errf(err, -ENODEV, "no power sensor found (%s)", why[0] ? why : "no sources");
        goto fail;
    }
    if (make_insts(r, nopened) < 0) {
        rc = wp_errf(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (opts->marks) {
        rc = wp_marks_rx_open(&r->rx, NULL, err);
        if (rc < 0)
            goto fail;
        wp_meta_set(&r->meta, "marks.socket", wp_marks_rx_path(r->rx));
    }
    put_run_meta(&r->meta, opts->config);
    if ((rc = wp_trace_put_meta(r->trace, &r->meta, err)) < 0 ||
        (rc = wp_trace_put_sensors(r->trace, &r->sensors, err)) < 0 ||
        (rc = note_unopened(r, opts->config, err)) < 0 || (rc = wp_trace_commit(r->trace, err)) < 0)
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
    for (size_t i = 0; i < r->ninsts; i++) {
        if (pthread_create(&r->insts[i].thread, NULL, inst_main, &r->insts[i]) != 0) {
            rc = wp_errf(err, -EAGAIN, "cannot start a thread for source %s",
                         r->insts[i].src.cfg->name);
            goto fail;
        }
        r->insts[i].started = true;
    }
    if (pthread_create(&r->control, NULL, control_main, r) != 0) {
        rc = wp_errf(err, -EAGAIN, "cannot start the control thread");
        goto fail;
    }
    r->control_started = true;
    *out = r;
    return 0;
fail:
    join_all(r);
    if (r->trace) {
        /* A trace we created and could not start is not the user's data: remove it. */
        wp_trace_close(r->trace, NULL);
        unlink(opts->trace_path);
    }
    free_recorder(r, nopened);
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

void wp_recorder_set_start(struct wp_recorder *r, int64_t start_us)
{
    pthread_mutex_lock(&r->lock);
    wp_meta_setf(&r->meta, "start_us", "%lld", (long long)start_us);
    pthread_mutex_unlock(&r->lock);
}

int wp_recorder_mark(struct wp_recorder *r, const struct wp_mark *m)
{
    pthread_mutex_lock(&r->lock);
    queue_mark(r, m);
    r->counter_request = true;
    pthread_mutex_unlock(&r->lock);
    if (write(r->stop_pipe[1], "m", 1) < 0) {
        /* pipe full: the control thread is awake anyway */
    }
    return 0;
}

int wp_recorder_stop(struct wp_recorder *r, int64_t end_us, struct wp_err *err)
{
    pthread_mutex_lock(&r->lock);
    r->end_us = end_us > 0 ? end_us : wp_wall_us();
    pthread_mutex_unlock(&r->lock);
    join_all(r);
    int rc = 0;
    wp_meta_setf(&r->meta, "end_us", "%lld", (long long)r->end_us);
    wp_meta_setf(&r->meta, "dropped_samples", "%llu", (unsigned long long)r->dropped);
    wp_meta_setf(&r->meta, "marks.rejected", "%llu", (unsigned long long)r->marks_rejected);
    if (r->marks_rejected > MARK_REJECT_EVENTS && r->on_event) {
        struct wp_event e = {.t_us = wp_wall_us(), .sensor = -1, .device = -1};
        snprintf(e.source, sizeof(e.source), "marks");
        snprintf(e.message, sizeof(e.message),
                 "rejected %llu marks in all (the first %d are shown above); check what the job "
                 "sends to WATTPROF_SOCKET",
                 (unsigned long long)r->marks_rejected, MARK_REJECT_EVENTS);
        r->on_event(&e, r->event_ctx);
        if (!r->write_err.code)
            wp_trace_put_event(r->trace, &e, NULL);
    }
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
    free_recorder(r, r->ninsts);
    return rc;
}
