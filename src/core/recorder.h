/* The recorder: opens every source, polls each on its own cadence in a sampler thread, and
 * hands samples to a writer thread that commits them to the trace once a second. The
 * sampler never waits on the disk: it only appends to an in-memory queue. */
#ifndef WP_RECORDER_H
#define WP_RECORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sensor.h"

struct wp_recorder;

typedef void (*wp_event_fn)(const struct wp_event *e, void *ctx);

struct wp_recorder_opts {
    const char *trace_path;     /* required */
    bool force;                 /* replace an existing trace */
    bool marks;                 /* open a marks socket for the job */
    const struct wp_meta *meta; /* extra run metadata (command, ...) */
    wp_event_fn on_event;       /* called from the writer thread for each event; may be NULL */
    void *event_ctx;
    int64_t commit_interval_us; /* 0 = 1 s */
};

/* Opens sources (a source that is missing is noted in the trace's metadata as
 * "missing.<source>" and skipped), creates the trace and starts recording. Returns -ENODEV
 * when no source has any sensor, unless allow_empty is set in the call. */
int wp_recorder_start(struct wp_recorder **out, const struct wp_recorder_opts *opts,
                      bool allow_empty, struct wp_err *err);
/* Path of the marks socket for WATTPROF_SOCKET, or NULL. */
const char *wp_recorder_socket(const struct wp_recorder *r);
size_t wp_recorder_nsensors(const struct wp_recorder *r);
/* Metadata set now is stored at stop (e.g. exit_code). */
int wp_recorder_set_meta(struct wp_recorder *r, const char *key, const char *value);
/* Adds a mark (from wattprof itself, e.g. `sweep`) and reads the counters now. */
int wp_recorder_mark(struct wp_recorder *r, const struct wp_mark *m);
/* Reads counters one last time, stops the threads, writes end metadata, closes the trace.
 * Frees r. */
int wp_recorder_stop(struct wp_recorder *r, struct wp_err *err);

/* For `list`: opens and discovers every source without recording. Missing sources and
 * readings are reported in meta as "missing.<source>[...]" = reason. */
int wp_sources_probe(struct wp_sensors *tab, struct wp_meta *meta, struct wp_err *err);

#endif
