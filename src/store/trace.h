/* The trace file: SQLite in WAL mode, one file per recording. Samples are stored as
 * per-sensor chunks (up to 512 samples or a minute) of delta-coded (t_us, value) pairs
 * (chunk.c), so 8 GPUs at 50 Hz stay small; `wattprof export` gives rows back.
 *
 * Crash safety: the writer commits once per wp_trace_commit (the recorder calls it every
 * second); a process killed with SIGKILL leaves a file that opens and holds every committed
 * chunk. A clean close checkpoints and leaves a single file. */
#ifndef WP_TRACE_H
#define WP_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sensor.h"

#define WP_TRACE_FORMAT "wattprof-trace"
/* 2: sensors gained source_kind, scope, contains and scale, and `unit` is the raw unit. Version 1
 * traces (NVML only) are still read.
 * 3: sensors, marks and events gained `host`, the node they were recorded on ("" in a node's own
 * trace; set by `wattprof merge`, which joins node traces into one with a node dimension and
 * lists the nodes in meta "merge.*"), the quantity "proc_util" (per-process GPU share), and
 * marks.pid (the sender's pid, 0 unknown). A
 * version 2 reader must not read a merged trace: it would take two nodes' GPU 0 for one.
 * 4: a sensor's newest chunk grows in open_chunks until it is full (trace_write.c), so a
 *    recording that was killed has samples there that a version 3 reader would miss; chunks
 *    carry vmin, vmax and vsum of their raw values (vsum NULL on overflow), for envelopes and
 *    window sums that need not decode them; 16 kB pages.
 * 5: chunks are version 2 (Exp-Golomb codes, chunk.c): 3.6 bytes a 20 ms power sample where
 *    version 1 took 4.4 (bench/perf/README.md). A version 4 reader would find every chunk
 *    damaged, so it must refuse the trace by its number.
 * Versions 1 to 4 are still read (their chunks are version 1; a version 2 chunk there is
 * damaged); a newer one is refused by name. */
#define WP_TRACE_VERSION 5

/* ---- writing ---- */
struct wp_trace_writer;

/* Creates a new trace at path. Refuses an existing file (-EEXIST, message names --force)
 * unless force is set; never truncates an existing file in place. With force, the old file and
 * its -wal/-shm are removed first. A trace that another writer still holds is never replaced,
 * with or without force: -EBUSY, naming that writer's PID where it can (the writer locks its
 * trace from create to close; readers are not affected). A missing or unwritable directory
 * is -ENOENT / -EACCES. If creation fails after the name was claimed, nothing is left behind.
 * A writer belongs to one thread. */
int wp_trace_create(struct wp_trace_writer **out, const char *path, bool force, struct wp_err *err);
/* Upserts every key, written at once (call it at start and again at the end of a run); the
 * keys "format" and "format_version" are reserved. */
int wp_trace_put_meta(struct wp_trace_writer *w, const struct wp_meta *meta, struct wp_err *err);
/* Written at once; may be called again to add or update sensors (by id). */
int wp_trace_put_sensors(struct wp_trace_writer *w, const struct wp_sensors *tab,
                         struct wp_err *err);
/* Buffers samples (any order of sensors; per sensor in time order). Samples of a sensor that
 * was not declared with wp_trace_put_sensors are refused (-EINVAL) and nothing is buffered. */
int wp_trace_append(struct wp_trace_writer *w, const struct wp_sample *s, size_t n,
                    struct wp_err *err);
/* Marks and events are buffered like samples and written by the next commit. */
int wp_trace_put_mark(struct wp_trace_writer *w, const struct wp_mark *m, struct wp_err *err);
int wp_trace_put_event(struct wp_trace_writer *w, const struct wp_event *e, struct wp_err *err);
/* Encodes buffered samples into chunks and commits everything so far in one transaction. On
 * failure (-ENOSPC, -EIO, ...) nothing is lost from memory: the next commit retries. */
int wp_trace_commit(struct wp_trace_writer *w, struct wp_err *err);
/* Commits, checkpoints the WAL and closes. Frees w even on error. Returns -EBUSY (message says
 * every sample is saved) when another process kept the WAL from being merged into the file: the
 * trace is complete but its -wal must travel with it. */
int wp_trace_close(struct wp_trace_writer *w, struct wp_err *err);

/* ---- reading ---- */
struct wp_trace;

/* A chunk of samples that could not be read (bad checksum, impossible count, samples
 * outside its stated time range): its samples are left out of the series. */
struct wp_trace_damage {
    int sensor;
    int64_t t0_us, t1_us; /* the time range the chunk's row states */
    int64_t samples;      /* how many samples the row says it held */
    char why[64];         /* "does not decode", ... */
};

struct wp_series {
    size_t n;
    int64_t *t_us; /* sorted ascending */
    int64_t *value;
    /* The damaged chunks whose samples are missing from t_us/value, in time order. */
    size_t ndamaged;
    struct wp_trace_damage *damaged;
};

/* Opens read-only and checks it is a wattprof trace of a known version; a file that is not
 * SQLite, not a trace, or damaged gets a message that says so (-EINVAL / -EIO). Works on a
 * trace whose writer was killed (WAL still present). Leaves no file behind: no -wal/-shm is
 * created beside a trace that had none (see wp_trace_wal_missing). Also: -ENOENT missing file,
 * -EISDIR, -EACCES, -ENOTSUP written by a newer wattprof (format_version above WP_TRACE_VERSION).
 */
int wp_trace_open(struct wp_trace **out, const char *path, struct wp_err *err);
void wp_trace_free(struct wp_trace *t);
/* True when the trace is in WAL mode, its -wal file is missing and the recording never
 * finished (no end_us): samples after the last checkpoint would be in PATH-wal. Opening such a
 * file fails (-EIO, message names PATH-wal) when nothing was checkpointed yet. */
bool wp_trace_wal_missing(const struct wp_trace *t);
const struct wp_sensors *wp_trace_sensors(const struct wp_trace *t);
const struct wp_meta *wp_trace_meta(const struct wp_trace *t);
/* All samples of one sensor, decoded, sorted by time (stable: samples with equal times keep
 * the order they were written in). Caller frees with wp_series_free. A chunk that does not
 * decode does not fail the call: its samples are left out and it is listed in
 * out->damaged (so a caller uses what is intact and must say what is missing; check
 * out->ndamaged). -ENOENT for a sensor the trace does not have; -EIO when SQLite itself finds
 * the file damaged (nothing of the sensor can be read then). */
int wp_trace_series(const struct wp_trace *t, int sensor, struct wp_series *out,
                    struct wp_err *err);
/* One line for a damaged span, for people: which sensor (source, device, reading), its time
 * range in seconds after the recording's start, what is wrong, e.g. "nvml device 0 power,
 * 12.003 s to 13.001 s after the start (50 samples): does not decode (checksum or
 * encoding)". */
void wp_trace_damage_describe(const struct wp_trace *t, const struct wp_trace_damage *d, char *buf,
                              size_t cap);
void wp_series_free(struct wp_series *s);

/* The same samples as wp_trace_series, a block at a time, so that a day-long series never has
 * to be in memory at once: blocks come in time order and, joined, equal what wp_trace_series
 * returns (damaged chunks left out, overlapping chunks sorted stably). A block is usually one
 * chunk (at most WP_TRACE_CHUNK_MAX samples); chunks that overlap in time come as one block.
 * The pointers stay valid until the next call. *n == 0 at the end. Errors as
 * wp_trace_series. */
struct wp_trace_cursor;
int wp_trace_cursor_open(const struct wp_trace *t, int sensor, struct wp_trace_cursor **out,
                         struct wp_err *err);
/* The same, for the chunks that hold a sample in [from_us, to_us] only: what it hands out
 * includes every sample of the window (and may hold some on either side of it), without
 * decoding the rest of the series. */
int wp_trace_cursor_open_window(const struct wp_trace *t, int sensor, int64_t from_us,
                                int64_t to_us, struct wp_trace_cursor **out, struct wp_err *err);
int wp_trace_cursor_next(struct wp_trace_cursor *c, const int64_t **t_us, const int64_t **value,
                         size_t *n, struct wp_err *err);
/* The damaged chunks met so far, in the order read (complete once *n == 0 came back). */
void wp_trace_cursor_damage(const struct wp_trace_cursor *c, const struct wp_trace_damage **v,
                            size_t *n);
void wp_trace_cursor_close(struct wp_trace_cursor *c);
/* Marks and events in time order. Pointers stay valid until wp_trace_free. */
int wp_trace_marks(const struct wp_trace *t, const struct wp_mark **v, size_t *n,
                   struct wp_err *err);
int wp_trace_events(const struct wp_trace *t, const struct wp_event **v, size_t *n,
                    struct wp_err *err);

/* ---- merged traces ---- */
/* A trace made by `wattprof merge` holds several nodes: meta "merge.nodes" = N, and for node i
 * "merge.node.<i>" = its name and "merge.node.<i>.<key>" = its own trace's meta; its
 * sensors, marks and events carry that host. The trace's own start_us/end_us span all nodes. */
#define WP_TRACE_MAX_NODES 4096
/* Number of nodes; 0 for a node's own trace. */
size_t wp_trace_nnodes(const struct wp_trace *t);
/* Node i's name ("" when i is out of range). */
const char *wp_trace_node_host(const struct wp_trace *t, size_t i);
/* Node i as a trace of its own: its meta, sensors, marks and events, read through t (free the
 * view with wp_trace_free before t). Every reader function works on it, and a summary of it is
 * the summary of the node's own trace. -ENOENT when there is no node i. */
int wp_trace_node(const struct wp_trace *t, size_t i, struct wp_trace **out, struct wp_err *err);

/* ---- chunk codec (pure, exposed for tests and fuzzing) ---- */
/* Encodes n (t_us, value) pairs as a version 2 chunk (trace format 5); *out is malloc'd.
 * Returns 0 or -ENOMEM. */
int wp_chunk_encode(const int64_t *t_us, const int64_t *value, size_t n, uint8_t **out,
                    size_t *out_len);
/* The same as a version 1 chunk: every chunk of trace formats 1 to 4, and format 5's open
 * chunks, which the writer rewrites at each commit (the cheaper encoding). */
int wp_chunk_encode_v1(const int64_t *t_us, const int64_t *value, size_t n, uint8_t **out,
                       size_t *out_len);
/* Decodes exactly n pairs from buf; returns 0 or -EINVAL on any malformed input (never reads
 * past len). t_us and value must hold n entries; on error their contents are unspecified. */
int wp_chunk_decode(const uint8_t *buf, size_t len, size_t n, int64_t *t_us, int64_t *value);
/* The chunk version buf claims (1 or 2), or -EINVAL when it claims none. */
int wp_chunk_version(const uint8_t *buf, size_t len);
/* The most samples a chunk of len bytes can hold (0 when buf claims no version): a count above
 * it is a lie, to refuse before allocating for it. */
size_t wp_chunk_max_samples(const uint8_t *buf, size_t len);

#endif
