#include "core/sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wp_sink_push(struct wp_sink *s, int32_t sensor, int64_t t_us, int64_t value)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        struct wp_sample *nv = realloc(s->samples, ncap * sizeof(*nv));
        if (!nv) {
            s->oom = 1;
            s->dropped++;
            return;
        }
        s->samples = nv;
        s->cap = ncap;
    }
    s->samples[s->n++] = (struct wp_sample){.sensor = sensor, .t_us = t_us, .value = value};
}

void wp_sink_event(struct wp_sink *s, int64_t t_us, int32_t sensor, const char *source, int device,
                   const char *fmt, ...)
{
    if (s->nevents == s->capevents) {
        size_t ncap = s->capevents ? s->capevents * 2 : 8;
        struct wp_event *nv = realloc(s->events, ncap * sizeof(*nv));
        if (!nv) {
            s->oom = 1;
            return;
        }
        s->events = nv;
        s->capevents = ncap;
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
