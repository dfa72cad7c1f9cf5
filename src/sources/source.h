/* A source knows one kind of sensor (NVML, RAPL, hwmon, IPMI, ...). Each is one file that
 * implements this ops struct; sources.c lists them in an explicit table. */
#ifndef WP_SOURCE_H
#define WP_SOURCE_H

#include <stdint.h>

#include "core/err.h"
#include "core/sensor.h"
#include "core/sink.h"

/* poll() flags */
#define WP_POLL_COUNTERS 1u /* also read expensive counters now (marks) */
#define WP_POLL_ALL      2u /* read everything now, due or not (the last round of a run) */

struct wp_source_ops {
    const char *name;
    /* Opens the source. On failure returns <0 with err saying why it is missing (no driver,
     * no permission, not supported) and how to fix it. */
    int (*open)(void **state, struct wp_err *err);
    /* Adds its sensors to tab and facts to meta (driver version, device names). Readings that
     * turn out unsupported are detected here, once, and noted in meta as
     * "missing.<source>.<device>.<reading>" = reason; they are not polled. Returns the number
     * of sensors added or <0. */
    int (*discover)(void *state, struct wp_sensors *tab, struct wp_meta *meta, struct wp_err *err);
    /* Reads whatever is due at now_mono_us (CLOCK_MONOTONIC) into sink, and stores the next
     * monotonic time it wants to be called in *next_mono_us. A device that fails mid-run is
     * reported with wp_sink_event and dropped; the others go on. Returns <0 only when the whole
     * source is unusable. */
    int (*poll)(void *state, int64_t now_mono_us, unsigned flags, struct wp_sink *sink,
                int64_t *next_mono_us, struct wp_err *err);
    void (*close)(void *state);
};

/* NULL-terminated table of every source compiled in. */
extern const struct wp_source_ops *const wp_sources[];

extern const struct wp_source_ops wp_source_nvml;

#endif
