/* Sensors: one row per thing we read. The same rows drive `list`, the trace schema, the
 * summary and (later) metric names. Values are integers in the row's unit (mW, mJ, %, MHz,
 * C): raw counters stay raw, scaling happens only at display. */
#ifndef WP_SENSOR_H
#define WP_SENSOR_H

#include <stddef.h>
#include <stdint.h>

enum wp_quantity {
    WP_Q_POWER,  /* unit mW */
    WP_Q_ENERGY, /* unit mJ */
    WP_Q_UTIL,   /* unit % */
    WP_Q_CLOCK,  /* unit MHz */
    WP_Q_TEMP,   /* unit C */
};

enum wp_kind {
    WP_GAUGE,
    WP_COUNTER, /* monotonically increasing raw value; wraps at wrap_at when > 0 */
};

#define WP_NO_LIMIT INT64_MIN

struct wp_sensor {
    int id;               /* index in the table, also the id in the trace */
    char source[16];      /* "nvml", "rapl", ... */
    int device;           /* device index within its source (GPU index), -1 for none */
    char uuid[96];        /* device UUID, "" when unknown */
    char device_name[96]; /* "NVIDIA H200" */
    char name[48];        /* "power", "power_instant", "power_avg", "power_memory", "energy", ... */
    enum wp_quantity quantity;
    enum wp_kind kind;
    int64_t cadence_us;    /* expected interval between readings */
    int64_t limit;         /* rated/enforced limit in the sensor's unit, WP_NO_LIMIT if unknown */
    int64_t default_limit; /* default limit, WP_NO_LIMIT if unknown */
    int64_t wrap_at;       /* counters: raw value at which it wraps to 0; 0 = never */
    char help[128];        /* one line for `list` and metric help */
};

struct wp_sensors {
    struct wp_sensor *v;
    size_t n, cap;
};

const char *wp_quantity_name(enum wp_quantity q);          /* "power" */
const char *wp_quantity_unit(enum wp_quantity q);          /* "mW" */
int wp_quantity_parse(const char *s, enum wp_quantity *q); /* 0 or -EINVAL */

/* Appends a copy of *s, sets its id; returns the id or -ENOMEM. */
int wp_sensors_add(struct wp_sensors *tab, const struct wp_sensor *s);
void wp_sensors_free(struct wp_sensors *tab);
/* First sensor matching source/device/name, or NULL. */
const struct wp_sensor *wp_sensors_find(const struct wp_sensors *tab, const char *source,
                                        int device, const char *name);

/* One reading. t_us: wall clock, microseconds since the Unix epoch. */
struct wp_sample {
    int32_t sensor;
    int64_t t_us;
    int64_t value;
};

/* Key/value run metadata (host, command, driver, ...). Keys are unique; set replaces. */
struct wp_meta_kv {
    char *key, *value;
};
struct wp_meta {
    struct wp_meta_kv *v;
    size_t n, cap;
};
int wp_meta_set(struct wp_meta *m, const char *key, const char *value);
int wp_meta_setf(struct wp_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *wp_meta_get(const struct wp_meta *m, const char *key);
void wp_meta_free(struct wp_meta *m);

/* A phase mark sent by the job (begin/end/mark NAME key=value...). */
enum wp_mark_kind { WP_MARK_BEGIN, WP_MARK_END, WP_MARK_POINT };
#define WP_MARK_NAME_MAX   64
#define WP_MARK_MAX_COUNTS 8
struct wp_mark_count {
    char key[32];
    double value;
};
struct wp_mark {
    int64_t t_us;
    enum wp_mark_kind kind;
    char name[WP_MARK_NAME_MAX + 1];
    int ncounts;
    struct wp_mark_count counts[WP_MARK_MAX_COUNTS];
};
const char *wp_mark_kind_name(enum wp_mark_kind k); /* "begin", "end", "mark" */

/* Something that happened to a sensor or source while recording (GPU lost, ...). */
struct wp_event {
    int64_t t_us;
    int32_t sensor; /* -1 when it concerns a whole source/device */
    char source[16];
    int device;
    char message[256];
};

#endif
