/* Sensors: one row per thing we read. The same rows drive `list`, the trace schema, the
 * summary and (later) metric names. Values are stored raw, as integers in the meter's own
 * unit (`unit`: mW, uW, uJ, "0.1 kWh", ...); `scale` turns a raw value into the quantity's
 * canonical unit (mW for power, mJ for energy). Counters stay raw and wrap explicitly at
 * `wrap_at` (raw); scaling happens only in analysis and display. */
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
    /* One process's share of a GPU (nvmlDeviceGetProcessUtilization): the raw value packs the
     * process id and its SM utilisation in %, pid * 1000 + percent (wp_proc_util_pack), so a
     * sensor per GPU holds every process that ever ran on it, however many come and go. */
    WP_Q_PROC_UTIL,
};
#define WP_Q_LAST WP_Q_PROC_UTIL

static inline int64_t wp_proc_util_pack(int64_t pid, int64_t pct)
{
    return pid * 1000 + pct;
}
static inline int64_t wp_proc_util_pid(int64_t raw)
{
    return raw / 1000;
}
static inline int64_t wp_proc_util_pct(int64_t raw)
{
    return raw % 1000;
}

enum wp_kind {
    WP_GAUGE,
    WP_COUNTER, /* monotonically increasing raw value; wraps at wrap_at when > 0 */
};

#define WP_NO_LIMIT INT64_MIN

/* What a sensor measures, so node totals never count a watt twice. A sensor also says which
 * other scopes its reading contains (`contains`, a mask of WP_SCOPE_BIT): a node input meter
 * contains the GPUs and CPUs, a CPU package contains its cores, a GPU its memory. */
enum wp_scope {
    WP_SCOPE_OTHER,
    WP_SCOPE_GPU,
    WP_SCOPE_GPU_MEMORY,
    WP_SCOPE_CPU_PACKAGE,
    WP_SCOPE_CPU_CORE,
    WP_SCOPE_DRAM,
    WP_SCOPE_PSYS,
    WP_SCOPE_NODE_INPUT,
    WP_SCOPE_PSU,
    WP_SCOPE_PDU_INLET,
    WP_SCOPE_PDU_OUTLET,
    WP_SCOPE_COUNT
};
#define WP_SCOPE_BIT(s) (1u << (unsigned)(s))
/* Everything on the node's side of its power inlets. */
#define WP_SCOPE_NODE_PARTS                                                                        \
    (WP_SCOPE_BIT(WP_SCOPE_GPU) | WP_SCOPE_BIT(WP_SCOPE_GPU_MEMORY) |                              \
     WP_SCOPE_BIT(WP_SCOPE_CPU_PACKAGE) | WP_SCOPE_BIT(WP_SCOPE_CPU_CORE) |                        \
     WP_SCOPE_BIT(WP_SCOPE_DRAM) | WP_SCOPE_BIT(WP_SCOPE_PSYS) | WP_SCOPE_BIT(WP_SCOPE_OTHER))

const char *wp_scope_name(enum wp_scope s);          /* "cpu_package" */
int wp_scope_parse(const char *s, enum wp_scope *o); /* 0 or -EINVAL */
/* A mask as "gpu,cpu_package" ("" for none), and back; parse returns -EINVAL naming nothing
 * on an unknown scope. */
void wp_scope_mask_format(unsigned mask, char *buf, size_t len);
int wp_scope_mask_parse(const char *s, unsigned *mask);
/* What a scope contains by default (a GPU its memory, a package its cores, psys the package
 * and DRAM, a node input everything on the node, a PSU likewise). */
unsigned wp_scope_default_contains(enum wp_scope s);

/* The node a reading was taken on, in a trace `wattprof merge` joined from several nodes; ""
 * in a node's own trace (its meta "host" says where). */
#define WP_HOST_MAX 64

struct wp_sensor {
    int id; /* index in the table, also the id in the trace */
    char host[WP_HOST_MAX];
    char source[32];      /* the source instance's name: "nvml", "rapl", "pdu-a", ... */
    char source_kind[16]; /* the source kind: "nvml", "rapl", "hwmon", ... */
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
    char unit[12];         /* the raw value's unit ("mW", "uJ", "0.1 kWh"); "" = canonical */
    double scale;          /* canonical units per raw unit (0.001 for uW -> mW); 0 means 1 */
    enum wp_scope scope;
    unsigned contains; /* WP_SCOPE_BIT mask of scopes this reading includes */
    char help[128];    /* one line for `list` and metric help */
};

struct wp_sensors {
    struct wp_sensor *v;
    size_t n, cap;
};

const char *wp_quantity_name(enum wp_quantity q);          /* "power" */
const char *wp_quantity_unit(enum wp_quantity q);          /* "mW" */
int wp_quantity_parse(const char *s, enum wp_quantity *q); /* 0 or -EINVAL */

/* The raw unit of a sensor ("" in the row means the quantity's canonical unit) and its scale
 * (1 when the row says 0). */
const char *wp_sensor_unit(const struct wp_sensor *s);
double wp_sensor_scale(const struct wp_sensor *s);
/* raw * scale, for display and analysis. */
double wp_sensor_value(const struct wp_sensor *s, int64_t raw);

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
    char host[WP_HOST_MAX]; /* see struct wp_sensor */
    int32_t pid;            /* the sender's process id as the kernel gave it; 0 unknown */
    int64_t t_us;
    enum wp_mark_kind kind;
    char name[WP_MARK_NAME_MAX + 1];
    int ncounts;
    struct wp_mark_count counts[WP_MARK_MAX_COUNTS];
};
const char *wp_mark_kind_name(enum wp_mark_kind k); /* "begin", "end", "mark" */

/* Something that happened to a sensor or source while recording (GPU lost, ...). */
struct wp_event {
    char host[WP_HOST_MAX]; /* see struct wp_sensor */
    int64_t t_us;
    int32_t sensor; /* -1 when it concerns a whole source/device */
    char source[32];
    int device;
    char message[256];
};

#endif
