/* The live view of a recording, shared by `serve` and `top`: fed by the recorder's tap (its
 * writer thread, once per round), read by any number of other threads.
 *
 * Per sensor it keeps the samples of the last WP_LIVE_KEEP_US in a ring, so the trailing
 * maxima and minima come from every sample (every 20 ms one on H100/H200), not from whatever
 * a reader happened to see. The windows end at the sensor's newest sample, not at the time
 * a reader asks: they are fixed trailing windows, the same for every reader, however many
 * and however often. Energy is integrated from the power samples with the analysis' interval
 * rule (a sample covers the period that ends at its timestamp), so it keeps rising when a
 * hardware counter restarts (driver reload, GPU reset) or wraps. */
#ifndef WP_LIVE_H
#define WP_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sensor.h"
#include "recorder/recorder.h"

#define WP_LIVE_NWINDOWS 3
/* 1 s, 10 s and 60 s, in that order. */
extern const int64_t wp_live_window_us[WP_LIVE_NWINDOWS];
/* How much history each sensor keeps: the longest window. */
#define WP_LIVE_KEEP_US 60000000
/* An interval longer than this is an outage, not a late sample: the sample after it covers
 * only its own cadence, so a source that was down for minutes adds no invented energy. */
#define WP_LIVE_OUTAGE_US 5000000

struct wp_live;

/* One sensor as of the last batch. Values are raw, in the sensor's unit (wp_sensor_value
 * scales them); a field without data has its has_ flag false. */
struct wp_live_sensor {
    uint64_t samples;  /* received since the view started */
    bool has;          /* a sample has arrived */
    int64_t t_us, raw; /* the newest sample */
    bool primary;      /* the power gauge its device's energy is integrated from */
    double energy_mj;  /* primary: integrated since the view started; energy counters:
                          their increase since then (wraps counted, restarts skipped) */
    int64_t max_raw[WP_LIVE_NWINDOWS], min_raw[WP_LIVE_NWINDOWS]; /* power gauges, when has */
    double mean_mw[WP_LIVE_NWINDOWS]; /* power gauges: time-weighted mean, NAN if none */
    bool has_rate;                    /* energy counters: two readings so far */
    double rate_mw;                   /* energy counters: power between the last two readings */
};

#define WP_LIVE_MAX_PHASES 8
#define WP_LIVE_MAX_MARKS  8
struct wp_live_snapshot {
    uint64_t generation;      /* one more per batch; 0 before the first */
    int64_t fed_us;           /* wall clock of the last batch */
    size_t nsensors;          /* 0 before the first batch */
    struct wp_live_sensor *s; /* nsensors, indexed by sensor id */
    size_t nsources;
    bool *up; /* per source instance (wp_recorder_source order) */
    /* Phases begun and not yet ended, oldest first (more than WP_LIVE_MAX_PHASES: the
     * newest are kept). */
    int nphases;
    char phases[WP_LIVE_MAX_PHASES][WP_MARK_NAME_MAX + 1];
    /* The newest marks of any kind, oldest first, and how many arrived in all. */
    int nmarks;
    struct wp_mark marks[WP_LIVE_MAX_MARKS];
    uint64_t marks_total;
    struct wp_event last_event; /* t_us == 0: none yet */
};

/* An empty view; the first batch brings the sensor table (copied). Energy counts from the
 * recording's start (wp_tap_batch.start_us, the trace's start_us): the history a source hands
 * over at its first poll (NVML's 2.4 s buffer) fills the windows but adds no energy from
 * before it. -ENOMEM. */
int wp_live_new(struct wp_live **out);
void wp_live_free(struct wp_live *l);
/* The recorder's tap: pass wp_live_feed as wp_recorder_opts.tap with the view as tap_ctx. */
void wp_live_feed(const struct wp_tap_batch *b, void *live);
/* Bumped by every batch; a reader that caches what it made from a snapshot compares it. */
uint64_t wp_live_generation(struct wp_live *l);
/* A consistent copy of the view. Free with wp_live_snapshot_free. -ENOMEM. */
int wp_live_snapshot(struct wp_live *l, struct wp_live_snapshot *out);
void wp_live_snapshot_free(struct wp_live_snapshot *s);
/* The kept samples of a sensor at or after since_us, oldest first, at most cap of them (the
 * newest); returns how many were copied. */
size_t wp_live_recent(struct wp_live *l, int sensor, int64_t since_us, int64_t *t_us, int64_t *raw,
                      size_t cap);

#endif
