/* The recorder: opens every configured source instance and polls each on its own thread and
 * its own cadence, so a meter that blocks (a BMC, a PDU across the network) never delays the
 * GPUs' 20 ms buffer reads. A control thread receives the job's phase marks; a writer thread
 * commits samples to the trace about once a second. No source thread ever waits on the disk:
 * they only append to an in-memory queue. */
#ifndef WP_RECORDER_H
#define WP_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sensor.h"
#include "sources/source.h"

struct wp_recorder;

typedef void (*wp_event_fn)(const struct wp_event *e, void *ctx);

/* A live tap on the recording (serve, top): what the writer thread takes from the sources in
 * one round, handed over before it is written, whether or not a trace is written. Samples
 * are in time order per sensor; source_up[i] says whether instance i (in the order of
 * wp_recorder_source) answered its last poll. The pointers are valid during the call; the
 * sensor table is the same in every batch. */
struct wp_tap_batch {
    const struct wp_sensors *sensors;
    int64_t start_us; /* the measured window's start (the trace's start_us) */
    const struct wp_sample *samples;
    size_t n;
    const struct wp_mark *marks;
    size_t nmarks;
    const struct wp_event *events;
    size_t nevents;
    const bool *source_up;
    size_t nsources;
};
typedef void (*wp_tap_fn)(const struct wp_tap_batch *b, void *ctx);

struct wp_recorder_opts {
    const char *trace_path;         /* NULL: record nothing, only feed the tap */
    bool force;                     /* replace an existing trace */
    bool marks;                     /* open a marks socket for the job */
    const struct wp_meta *meta;     /* extra run metadata (command, ...) */
    const struct wp_config *config; /* the source instances to open (required) */
    wp_event_fn on_event;           /* called from the writer thread for each event; may be NULL */
    void *event_ctx;
    wp_tap_fn tap; /* called from the writer thread with each round's batch; may be NULL */
    void *tap_ctx;
    int64_t commit_interval_us; /* 0 = 1 s; also how often the tap is fed */
    /* A failed poll is retried after retry_min_us, doubling up to retry_max_us
     * (0 = 1 s and 60 s). */
    int64_t retry_min_us, retry_max_us;
};

/* Opens the sources (an instance that is missing is noted in the trace's metadata as
 * "missing.<instance>" and skipped), creates the trace and starts recording. Returns -ENODEV
 * when no source has any sensor, unless allow_empty is set; -EINVAL when a source was given
 * an option value it cannot use. */
int wp_recorder_start(struct wp_recorder **out, const struct wp_recorder_opts *opts,
                      bool allow_empty, struct wp_err *err);
/* Path of the marks socket for WATTPROF_SOCKET, or NULL. */
const char *wp_recorder_socket(const struct wp_recorder *r);
size_t wp_recorder_nsensors(const struct wp_recorder *r);
/* The sensor table (fixed once started) and the source instances that opened, for a tap. */
const struct wp_sensors *wp_recorder_sensors(const struct wp_recorder *r);
size_t wp_recorder_nsources(const struct wp_recorder *r);
const struct wp_source_inst *wp_recorder_source(const struct wp_recorder *r, size_t i);
/* Metadata set now is stored at stop (e.g. exit_code). */
int wp_recorder_set_meta(struct wp_recorder *r, const char *key, const char *value);
/* Marks the start of the measured window (wall-clock us), e.g. just before a job is started;
 * by default it is when recording started. */
void wp_recorder_set_start(struct wp_recorder *r, int64_t start_us);
/* Adds a mark (from wattprof itself, e.g. `sweep`) and reads the counters now. */
int wp_recorder_mark(struct wp_recorder *r, const struct wp_mark *m);
/* Ends the measured window at end_us (wall clock; 0 = now), keeps reading for a bounded time
 * (about two cadences of each power sensor, at most WP_RECORDER_TAIL_MAX_US) until every power
 * sensor has a sample at or after the end, so the window is covered edge to edge; reads the
 * counters one last time, stops the threads (the tap gets the last batch), writes the end
 * metadata and closes the trace.
 * Frees r. */
#define WP_RECORDER_TAIL_MAX_US 3000000
int wp_recorder_stop(struct wp_recorder *r, int64_t end_us, struct wp_err *err);

#endif
