#include "core/sink.h"

#include "core/grow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wp_sink_push(struct wp_sink *s, int32_t sensor, int64_t t_us, int64_t value)
{
    if (wp_grow((void **)&s->samples, &s->cap, s->n + 1, sizeof(*s->samples), 1024) < 0) {
        s->oom = 1;
        s->dropped++;
        return;
    }
    s->samples[s->n++] = (struct wp_sample){.sensor = sensor, .t_us = t_us, .value = value};
}

void wp_sink_event(struct wp_sink *s, int64_t t_us, int32_t sensor, const char *source, int device,
                   const char *fmt, ...)
{
    if (WP_GROW(&s->events, &s->capevents, s->nevents + 1) < 0) {
        s->oom = 1;
        return;
    }
    struct wp_event *e = &s->events[s->nevents++];
    memset(e, 0, sizeof(*e));
    e->t_us = t_us;
    e->sensor = sensor;
    e->device = device;
    snprintf(e->source, sizeof(e->source), "%s", source);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

void wp_sink_clear(struct wp_sink *s)
{
    s->n = 0;
    s->nevents = 0;
}

void wp_sink_free(struct wp_sink *s)
{
    free(s->samples);
    free(s->events);
    memset(s, 0, sizeof(*s));
}
