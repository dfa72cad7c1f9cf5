/* Synthetic traces for the unit tests: a sensor row as a source would make it, and one sample
 * appended, each asserted with cmocka. Header-only: each test is one translation unit, and
 * includes cmocka.h (with its prerequisites) before this. */
#ifndef WP_TEST_SYNTH_H
#define WP_TEST_SYNTH_H

#include <stdio.h>
#include <string.h>

#include "core/sensor.h"
#include "store/trace.h"

#define MS 1000
#define S  1000000
#define T0 1764340000000000 /* a wall-clock start in 2025, us */

/* A row with its scope, contains (the scope's default), raw unit and scale (canonical units
 * per raw unit: 0.001 for uW or uJ, 1000 for W). Instances are named after their kind, with
 * a suffix for a second one ("pdu-a"). Returns its id. */
static inline int synth_sensor(struct wp_sensors *tab, const char *source, int device,
                               const char *name, enum wp_quantity q, enum wp_kind kind,
                               int64_t cadence_us, int64_t limit, int64_t wrap_at,
                               enum wp_scope scope, const char *unit, double scale)
{
    struct wp_sensor s = {0};
    snprintf(s.source, sizeof(s.source), "%s", source);
    snprintf(s.source_kind, sizeof(s.source_kind), "%.*s", (int)strcspn(source, "-"), source);
    s.device = device;
    snprintf(s.uuid, sizeof(s.uuid), "GPU-%d-uuid", device);
    snprintf(s.device_name, sizeof(s.device_name), "NVIDIA H200");
    snprintf(s.name, sizeof(s.name), "%s", name);
    s.quantity = q;
    s.kind = kind;
    s.cadence_us = cadence_us;
    s.limit = limit;
    s.default_limit = limit;
    s.wrap_at = wrap_at;
    s.scope = scope;
    s.contains = wp_scope_default_contains(scope);
    snprintf(s.unit, sizeof(s.unit), "%s", unit);
    s.scale = scale;
    snprintf(s.help, sizeof(s.help), "test sensor");
    int id = wp_sensors_add(tab, &s);
    assert_true(id >= 0);
    return id;
}

static inline void synth_put(struct wp_trace_writer *w, int sensor, int64_t t, int64_t v)
{
    struct wp_err err = {0};
    struct wp_sample s = {sensor, t, v};
    assert_int_equal(wp_trace_append(w, &s, 1, &err), 0);
}

#endif
