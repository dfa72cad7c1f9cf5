/* Internals shared by the trace writer and reader; not part of the API. */
#ifndef WP_TRACE_INT_H
#define WP_TRACE_INT_H

#include <stddef.h>

#include "core/sensor.h"

/* Written into the SQLite header (offset 68) so file(1) and sqlite3 can tell our traces from
 * other databases: "WPTR". The reader trusts meta.format, not this. */
#define WP_TRACE_APP_ID 0x57505452

/* Above this many samples a sensor's buffer is split into several chunks at commit, so that
 * decoding one chunk never needs more than a few hundred kB. */
#define WP_TRACE_CHUNK_MAX 4096

/* A sensor's newest chunk is rewritten at each commit with what came since (trace_write.c)
 * until it holds this many samples or spans this long: about 10 s of the 20 ms buffer, a
 * minute of a 1 Hz reading. Each row costs about 54 bytes besides its samples (the chunk
 * header and checksum, the row, its index entry; bench/perf/day_bench.sh), which one-second
 * chunks made 84 % of the rows and half of a day's trace. Rewriting re-encodes at most this
 * many samples per sensor per commit. */
#define WP_TRACE_CHUNK_TARGET 512
/* A full chunk of the 20 ms buffer is about 2.4 kB: one fits in a 4 kB page with 40 % of it
 * left empty (10.8 MB for bench/perf's 1 h trace against 7 MB of samples); 16 kB pages hold
 * six. */
#define WP_TRACE_PAGE_SIZE     16384
#define WP_TRACE_CHUNK_SPAN_US 60000000

/* Sensor ids index in-memory arrays; anything above this is a caller bug, not a real table. */
#define WP_TRACE_MAX_SENSOR_ID 65535

/* The mark counts as a small JSON object: {"samples":512,"tokens":1.5e+06}. A NAN count is
 * written as null. Numbers go through snprintf/strtod, so this assumes LC_NUMERIC is "C"
 * (nothing in wattprof calls setlocale). Returns 0, or -ENOSPC if buf is too small. */
int wp_store_counts_to_json(const struct wp_mark *m, char *buf, size_t cap);
/* Parses what wp_store_counts_to_json writes into m->counts/m->ncounts; 0 or -EINVAL. Keys
 * longer than a wp_mark_count key, or more than WP_MARK_MAX_COUNTS entries, are -EINVAL. */
int wp_store_counts_parse(const char *json, struct wp_mark *m);

#endif
