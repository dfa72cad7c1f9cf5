/* Where sources put readings: a batch owned by the sampler thread, handed to the writer
 * as a whole (one lock per poll round, not per sample). */
#ifndef WP_SINK_H
#define WP_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "core/sensor.h"

struct wp_sink {
    struct wp_sample *samples;
    size_t n, cap;
    struct wp_event *events;
    size_t nevents, capevents;
    int oom; /* set when an append failed; the sample was dropped and counted */
    uint64_t dropped;
};

void wp_sink_push(struct wp_sink *s, int32_t sensor, int64_t t_us, int64_t value);
void wp_sink_event(struct wp_sink *s, int64_t t_us, int32_t sensor, const char *source, int device,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void wp_sink_clear(struct wp_sink *s);
void wp_sink_free(struct wp_sink *s);

#endif
