/* Power and energy from the kernel's hwmon drivers (Documentation/hwmon/sysfs-interface):
 * <root>/sys/class/hwmon/hwmonN/{powerX_input,powerX_average} in microwatts and
 * energyX_input in microjoules (a 64-bit counter the driver accumulates). Chips with neither
 * (temperatures, fans) are not ours.
 *
 * Drivers this knows by name:
 * - acpi_power_meter (chip "power_meter"): the BMC's node input power, read in-band through
 *   an ACPI method. It registers with the legacy hwmon API, so hwmonN holds no attributes
 *   and everything, "name" included, lives in hwmonN/device/ (libsensors looks there too).
 *   power1_average is the BMC's own average over power1_average_interval ms, and the ACPI
 *   call behind it can take a good part of a second: it is read once a second by default.
 * - amd_energy and zenergy (its out-of-tree fork): RAPL energy per socket ("Esocket0") and
 *   per core ("Ecore000").
 * Everything else is scope "other" unless scope= says what it measures. zenpower's power
 * readings are voltage rails (SVI2_P_Core for all cores together, SVI2_P_SoC for the uncore),
 * neither a package nor a core, so they stay "other" too.
 *
 * Each attribute is opened and read whole on every poll: a chip that goes away (hot unplug,
 * driver unload) then shows as ENOENT instead of a stale descriptor. */
#include "sources/source.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/grow.h"
#include "sources/sysfs.h"

/* The BMC averages over a second or more and its ACPI method is slow; anything else (RAPL
 * energy, GPU power) changes every few milliseconds and is cheap to read. */
#define PERIOD_POWER_METER_US 1000000
#define PERIOD_DEFAULT_US     100000
#define PERIOD_MIN_US         10000
#define PERIOD_MAX_US         60000000
/* No hwmon chip on a node measures more than this; a larger (or negative) reading is a
 * driver or firmware fault and is dropped. 100 kW in uW, and as uJ per us for counters. */
#define ABSURD_UW        100000000000LL
#define ABSURD_UJ_PER_US 100000.0
#define ATTR_MAX         64

/* Problems reported once per sensor (bits of hw_sensor.warned). */
enum { W_UNAVAIL = 1, W_BAD = 2, W_ABSURD = 4, W_BACKWARDS = 8 };

struct hw_sensor {
    char *path; /* the value's file */
    char attr[ATTR_MAX];
    size_t chip;
    enum wp_kind kind;
    int id; /* in the sensor table, -1 until discovered */
    unsigned warned;
    bool have_last, gone;
    int64_t last_raw;            /* the last value stored */
    int64_t base_raw, base_t_us; /* counters: the last value read, and when it first showed */
};

struct hw_chip {
    int index; /* N of hwmonN */
    char name[96];
    char *dir; /* where its attributes are: hwmonN or hwmonN/device */
    bool lost;
};

struct hwmon {
    char inst[32];
    char base[PATH_MAX]; /* <root>/sys/class/hwmon */
    bool have_scope;
    enum wp_scope scope;
    int64_t period_us; /* 0 until discovery picks the default */
    struct hw_chip *chips;
    size_t nchips, capchips;
    struct hw_sensor *sensors;
    size_t nsensors, capsensors;
    int64_t next_us;
};

/* A whole decimal integer with optional surrounding whitespace: 0, -EINVAL for empty or
 * non-numeric contents, -ERANGE beyond int64. */
static int parse_i64(const char *s, int64_t *out)
{
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    const char *p = s + (*s == '-');
    if (*p < '0' || *p > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    while (*end == ' ' || *end == '\t' || *end == '\n')
        end++;
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Reads path as an integer; -errno, -EINVAL or -ERANGE as above. */
static int read_i64(const char *path, int64_t *out)
{
    char buf[64];
    int rc = wp_sysfs_read(path, buf, sizeof(buf));
    return rc < 0 ? rc : parse_i64(buf, out);
}

/* "power12_average" against prefix "power" and suffix "_average": *num = 12. */
static bool match_attr(const char *name, const char *prefix, const char *suffix, unsigned *num)
{
    size_t lp = strlen(prefix);
    if (strncmp(name, prefix, lp) != 0)
        return false;
    const char *p = name + lp;
    if (*p < '1' || *p > '9')
        return false;
    unsigned v = 0;
    while (*p >= '0' && *p <= '9' && v < 100000)
        v = v * 10 + (unsigned)(*p++ - '0');
    if (strcmp(p, suffix) != 0)
        return false;
    *num = v;
    return true;
}

/* The three attributes we read, in the order their sensors are listed per chip. */
static const struct {
    const char *prefix, *suffix;
    enum wp_kind kind;
} attr_types[] = {
    {"power", "_input", WP_GAUGE},
    {"power", "_average", WP_GAUGE},
    {"energy", "_input", WP_COUNTER},
};

static int attr_type(const char *name, unsigned *num)
{
    for (int t = 0; t < (int)(sizeof(attr_types) / sizeof(attr_types[0])); t++)
        if (match_attr(name, attr_types[t].prefix, attr_types[t].suffix, num))
            return t;
    return -1;
}

static int cmp_attr(const void *a, const void *b)
{
    const struct hw_sensor *x = a, *y = b;
    unsigned nx = 0, ny = 0;
    int tx = attr_type(x->attr, &nx), ty = attr_type(y->attr, &ny);
    /* power before energy, then by number, then input before average */
    int gx = attr_types[tx].kind == WP_COUNTER, gy = attr_types[ty].kind == WP_COUNTER;
    if (gx != gy)
        return gx - gy;
    if (nx != ny)
        return nx < ny ? -1 : 1;
    return tx - ty;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The chip names chip= accepts besides a chip's own name: the module that users know. */
static bool chip_matches(const char *want, const char *name)
{
    if (strcmp(want, name) == 0)
        return true;
    return strcmp(want, "acpi_power_meter") == 0 && strcmp(name, "power_meter") == 0;
}

/* chip= holds one name or several separated by commas. */
static bool chip_selected(const char *list, const char *name)
{
    if (!list)
        return true;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (chip_matches(tok, name))
            return true;
    return false;
}

/* N of "hwmonN", or -1 for anything else in the directory. */
static int hwmon_index(const char *name)
{
    if (strncmp(name, "hwmon", 5) != 0 || !name[5])
        return -1;
    long v = 0;
    for (const char *p = name + 5; *p; p++) {
        if (*p < '0' || *p > '9' || v > 1000000)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return (int)v;
}

static int cmp_index(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void hwmon_free(struct hwmon *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nchips; i++)
        free(h->chips[i].dir);
    for (size_t i = 0; i < h->nsensors; i++)
        free(h->sensors[i].path);
    free(h->chips);
    free(h->sensors);
    free(h);
}

/* Adds chip hwmonN and its power/energy attributes to h when it has any. */
static int scan_chip(struct hwmon *h, int index, const char *chip_list, char *seen, size_t seenlen,
                     struct wp_err *err)
{
    char top[PATH_MAX + 32], dev[PATH_MAX + 64], namepath[PATH_MAX + 80];
    snprintf(top, sizeof(top), "%s/hwmon%d", h->base, index);
    snprintf(dev, sizeof(dev), "%s/device", top);
    /* The current ABI puts "name" and the attributes in hwmonN; drivers on the legacy API
     * (acpi_power_meter among them) keep both in the parent device. */
    const char *dir = top;
    snprintf(namepath, sizeof(namepath), "%s/name", top);
    if (!exists(namepath)) {
        snprintf(namepath, sizeof(namepath), "%s/name", dev);
        if (!exists(namepath))
            return 0; /* not a chip we can name: nothing the ABI describes */
        dir = dev;
    }
    struct hw_chip c = {.index = index};
    char name[96];
    if (wp_sysfs_read(namepath, name, sizeof(name)) < 0)
        return 0;
    name[strcspn(name, "\n")] = '\0';
    snprintf(c.name, sizeof(c.name), "%s", name);
    size_t used = strlen(seen);
    if (used + strlen(c.name) + 3 < seenlen)
        snprintf(seen + used, seenlen - used, "%s%s", used ? ", " : "", c.name);
    if (!chip_selected(chip_list, c.name))
        return 0;

    DIR *d = opendir(dir);
    if (!d)
        return 0; /* went away between listing and scanning */
    size_t first = h->nsensors;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned num;
        int t = attr_type(e->d_name, &num);
        if (t < 0 || strlen(e->d_name) >= ATTR_MAX)
            continue;
        if (WP_GROW(&h->sensors, &h->capsensors, h->nsensors + 1) < 0)
            goto oom;
        struct hw_sensor *s = &h->sensors[h->nsensors];
        memset(s, 0, sizeof(*s));
        snprintf(s->attr, sizeof(s->attr), "%s", e->d_name);
        s->kind = attr_types[t].kind;
        s->chip = h->nchips;
        s->id = -1;
        if (!(s->path = path_join(dir, e->d_name)))
            goto oom;
        h->nsensors++;
    }
    closedir(d);
    if (h->nsensors == first)
        return 0;
    qsort(h->sensors + first, h->nsensors - first, sizeof(*h->sensors), cmp_attr);
    if (WP_GROW(&h->chips, &h->capchips, h->nchips + 1) < 0 || !(c.dir = strdup(dir))) {
        while (h->nsensors > first)
            free(h->sensors[--h->nsensors].path);
        return wp_errf(err, -ENOMEM, "out of memory");
    }
    h->chips[h->nchips++] = c;
    return 0;
oom:
    closedir(d);
    return wp_errf(err, -ENOMEM, "out of memory");
}

static int scan(struct hwmon *h, const char *chip_list, struct wp_err *err)
{
    DIR *d = opendir(h->base);
    if (!d) {
        if (errno == EACCES)
            return wp_errf(err, -EACCES,
                           "cannot list %s: permission denied; run wattprof as a user who may "
                           "read sysfs (or as root)",
                           h->base);
        return wp_errf(err, -ENOENT,
                       "no hwmon power or energy sensors on this machine: %s does not exist "
                       "(no hwmon driver loaded; a server's BMC meter needs `modprobe "
                       "acpi_power_meter`)",
                       h->base);
    }
    int *idx = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int num = hwmon_index(e->d_name);
        if (num < 0)
            continue;
        if (WP_GROW(&idx, &cap, n + 1) < 0) {
            closedir(d);
            free(idx);
            return wp_errf(err, -ENOMEM, "out of memory");
        }
        idx[n++] = num;
    }
    closedir(d);
    qsort(idx, n, sizeof(*idx), cmp_index);
    char seen[512] = "";
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = scan_chip(h, idx[i], chip_list, seen, sizeof(seen), err);
    free(idx);
    if (rc < 0)
        return rc;
    if (h->nchips == 0) {
        if (chip_list)
            return wp_errf(err, -ENOENT,
                           "no hwmon chip named %s with power or energy sensors here (chips in %s: "
                           "%s)",
                           chip_list, h->base, seen[0] ? seen : "none");
        return wp_errf(err, -ENOENT,
                       "no hwmon power or energy sensors on this machine (chips in %s: %s; none "
                       "has power*_input, power*_average or energy*_input)",
                       h->base, seen[0] ? seen : "none");
    }
    return 0;
}

static int hwmon_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    struct hwmon *h = calloc(1, sizeof(*h));
    if (!h)
        return wp_errf(err, -ENOMEM, "out of memory");
    snprintf(h->inst, sizeof(h->inst), "%s", cfg->name);
    int rc;
    const char *scope = wp_source_cfg_get(cfg, "scope");
    if (scope) {
        if (wp_scope_parse(scope, &h->scope) < 0) {
            char names[256] = "";
            size_t off = 0;
            for (int i = 0; i < WP_SCOPE_COUNT && off < sizeof(names); i++)
                off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
                                        wp_scope_name((enum wp_scope)i));
            rc = wp_errf(err, -EINVAL, "source %s: scope=%s is not a scope; give one of: %s",
                         cfg->name, scope, names);
            goto fail;
        }
        h->have_scope = true;
    }
    if ((rc = wp_source_cfg_duration_us(cfg, "interval", 0, PERIOD_MIN_US, PERIOD_MAX_US,
                                        &h->period_us, err)) < 0)
        goto fail;
    const char *root = wp_source_cfg_get(cfg, "root");
    if (!root || !*root)
        root = getenv("WATTPROF_SYSFS_ROOT");
    if (!root || !*root)
        root = "/";
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    snprintf(h->base, sizeof(h->base), "%.*s/sys/class/hwmon", (int)(rl == 1 ? 0 : rl), root);
    if ((rc = scan(h, wp_source_cfg_get(cfg, "chip"), err)) < 0)
        goto fail;
    *state = h;
    return 0;
fail:
    hwmon_free(h);
    return rc;
}

/* "Node Power" -> "node_power": a label as a reading name (lowercase, no spaces or commas
 * that would break CSV and metric names). */
static void sanitise(char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
        else if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
                   *s == '.'))
            *s = '_';
    }
}

/* powerX_label / energyX_label for attribute attr, sanitised, or "" when there is none. */
static void read_label(const struct hw_chip *c, const char *attr, char *out, size_t len)
{
    char lab[ATTR_MAX + 8];
    size_t pre = strcspn(attr, "_");
    snprintf(lab, sizeof(lab), "%.*s_label", (int)pre, attr);
    char *p = path_join(c->dir, lab);
    char buf[64];
    out[0] = '\0';
    if (p && wp_sysfs_read(p, buf, sizeof(buf)) > 0) {
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(out, len, "%s", buf);
    }
    free(p);
}

static bool is_power_meter(const struct hw_chip *c)
{
    return strcmp(c->name, "power_meter") == 0;
}

static bool is_cpu_energy(const struct hw_chip *c)
{
    return strcmp(c->name, "amd_energy") == 0 || strcmp(c->name, "zenergy") == 0;
}

/* What a chip's reading measures, from the driver and the reading's raw label. */
static enum wp_scope scope_of(const struct hw_chip *c, const char *label)
{
    if (is_power_meter(c))
        return WP_SCOPE_NODE_INPUT;
    if (is_cpu_energy(c)) {
        if (strncmp(label, "Esocket", 7) == 0)
            return WP_SCOPE_CPU_PACKAGE;
        if (strncmp(label, "Ecore", 5) == 0)
            return WP_SCOPE_CPU_CORE;
    }
    return WP_SCOPE_OTHER;
}

/* The chip's file attr (e.g. "power1_average_interval") as an integer, or -1. */
static int64_t chip_value(const struct hw_chip *c, const char *attr)
{
    char *p = path_join(c->dir, attr);
    int64_t v = -1;
    if (!p || read_i64(p, &v) < 0)
        v = -1;
    free(p);
    return v;
}

static void note_missing(struct hwmon *h, struct wp_meta *meta, const struct hw_chip *c,
                         const char *attr, const char *why)
{
    char key[160];
    snprintf(key, sizeof(key), "missing.%s.%d.%s", h->inst, c->index, attr);
    wp_meta_set(meta, key, why);
}

/* One line for `list`; the precisions keep it within the sensor row's 128 bytes. */
static void help_text(const struct hw_chip *c, const struct hw_sensor *s, const char *label,
                      int64_t avg_ms, char *out, size_t len)
{
    enum wp_scope natural = scope_of(c, label);
    if (is_power_meter(c) && avg_ms > 0 && strstr(s->attr, "_average"))
        snprintf(out, len,
                 "node input power from the BMC via ACPI (acpi_power_meter), %lld ms average",
                 (long long)avg_ms);
    else if (is_power_meter(c))
        snprintf(out, len, "node input power from the BMC via ACPI (acpi_power_meter, %.32s)",
                 s->attr);
    else if (natural == WP_SCOPE_CPU_PACKAGE)
        snprintf(out, len, "CPU socket %.8s energy counter (%.16s, RAPL package MSR)", label + 7,
                 c->name);
    else if (natural == WP_SCOPE_CPU_CORE)
        snprintf(out, len, "CPU core %.8s energy counter (%.16s, RAPL core MSR)", label + 5,
                 c->name);
    else
        snprintf(out, len, "%s%s%.24s from hwmon chip %.24s (%.40s)",
                 s->kind == WP_COUNTER ? "energy counter" : "power", label[0] ? " " : "", label,
                 c->name, s->attr);
}

/* Whether name is already taken by a sensor of this chip. */
static bool name_taken(const struct wp_sensors *tab, size_t from, const char *name)
{
    for (size_t i = from; i < tab->n; i++)
        if (strcmp(tab->v[i].name, name) == 0)
            return true;
    return false;
}

static int discover_chip(struct hwmon *h, size_t ci, struct wp_sensors *tab, struct wp_meta *meta,
                         char *denied, size_t deniedlen)
{
    struct hw_chip *c = &h->chips[ci];
    size_t first_row = tab->n;
    int64_t avg_ms = -1;
    char key[96];
    if (is_power_meter(c)) {
        avg_ms = chip_value(c, "power1_average_interval");
        if (avg_ms > 0) {
            snprintf(key, sizeof(key), "hwmon.%d.power1_average_interval_ms", c->index);
            wp_meta_setf(meta, key, "%lld", (long long)avg_ms);
        }
    }
    snprintf(key, sizeof(key), "hwmon.%d.name", c->index);
    wp_meta_set(meta, key, c->name);
    char dev[PATH_MAX];
    snprintf(key, sizeof(key), "hwmon.%d.device", c->index);
    char link[PATH_MAX + 32];
    snprintf(link, sizeof(link), "%s/hwmon%d/device", h->base, c->index);
    if (realpath(link, dev)) {
        const char *b = strrchr(dev, '/');
        wp_meta_set(meta, key, b ? b + 1 : dev);
    }
    for (size_t i = 0; i < h->nsensors; i++) {
        struct hw_sensor *hs = &h->sensors[i];
        if (hs->chip != ci)
            continue;
        int64_t v;
        int rc = read_i64(hs->path, &v);
        /* ENODATA, EIO, EAGAIN, odd contents: a meter that is busy or not ready yet (the BMC
         * between averages); it may answer during the run. A missing file, no permission or
         * EOPNOTSUPP will not change, so that reading is noted as missing once. */
        if (rc < 0 && rc != -ENODATA && rc != -EIO && rc != -EAGAIN && rc != -EBUSY &&
            rc != -ETIMEDOUT && rc != -EINVAL && rc != -ERANGE) {
            char why[PATH_MAX + 200];
            if (rc == -EACCES || rc == -EPERM) {
                snprintf(why, sizeof(why),
                         "cannot read %s: permission denied; run wattprof as root or make it "
                         "readable (chmod a+r, or a udev rule for the %s driver)",
                         hs->path, c->name);
                if (!denied[0])
                    snprintf(denied, deniedlen, "%s", why);
            } else {
                snprintf(why, sizeof(why), "cannot read %s: %s", hs->path, strerror(-rc));
            }
            note_missing(h, meta, c, hs->attr, why);
            continue;
        }
        char raw_label[64], name[64];
        read_label(c, hs->attr, raw_label, sizeof(raw_label));
        snprintf(name, sizeof(name), "%s", raw_label);
        sanitise(name);
        unsigned num = 0;
        int t = attr_type(hs->attr, &num);
        if (name[0] && t == 1) {
            /* powerX_input and powerX_average share powerX_label */
            char in[ATTR_MAX];
            snprintf(in, sizeof(in), "power%u_input", num);
            char *p = path_join(c->dir, in);
            if (p && exists(p))
                strncat(name, "_average", sizeof(name) - strlen(name) - 1);
            free(p);
        }
        if (!name[0] || name_taken(tab, first_row, name)) {
            if (t == 2)
                snprintf(name, sizeof(name), "energy%u", num);
            else
                snprintf(name, sizeof(name), "%s", hs->attr);
        }

        struct wp_sensor s;
        memset(&s, 0, sizeof(s));
        snprintf(s.source, sizeof(s.source), "%s", h->inst);
        snprintf(s.source_kind, sizeof(s.source_kind), "hwmon");
        s.device = c->index;
        snprintf(s.device_name, sizeof(s.device_name), "%s", c->name);
        snprintf(s.name, sizeof(s.name), "%s", name);
        s.kind = hs->kind;
        s.quantity = hs->kind == WP_COUNTER ? WP_Q_ENERGY : WP_Q_POWER;
        snprintf(s.unit, sizeof(s.unit), "%s", hs->kind == WP_COUNTER ? "uJ" : "uW");
        s.scale = 0.001;
        s.wrap_at = 0; /* hwmon energy is a 64-bit count of microjoules: 584,000 years */
        s.cadence_us = h->period_us;
        s.limit = s.default_limit = WP_NO_LIMIT;
        if (hs->kind == WP_GAUGE) {
            char cap[ATTR_MAX];
            snprintf(cap, sizeof(cap), "power%u_cap", num);
            int64_t lim = chip_value(c, cap);
            if (lim > 0)
                s.limit = lim; /* uW, the reading's own unit */
        }
        s.scope = h->have_scope ? h->scope : scope_of(c, raw_label);
        s.contains = wp_scope_default_contains(s.scope);
        help_text(c, hs, raw_label, avg_ms, s.help, sizeof(s.help));
        int id = wp_sensors_add(tab, &s);
        if (id < 0)
            return id;
        hs->id = id;
    }
    return 0;
}

static int hwmon_discover(void *state, struct wp_sensors *tab, struct wp_meta *meta,
                          struct wp_err *err)
{
    struct hwmon *h = state;
    if (h->period_us == 0) {
        h->period_us = PERIOD_DEFAULT_US;
        for (size_t i = 0; i < h->nchips; i++)
            if (is_power_meter(&h->chips[i]))
                h->period_us = PERIOD_POWER_METER_US;
    }
    size_t before = tab->n;
    char denied[PATH_MAX + 200] = "";
    for (size_t i = 0; i < h->nchips; i++)
        if (discover_chip(h, i, tab, meta, denied, sizeof(denied)) < 0)
            return wp_errf(err, -ENOMEM, "out of memory");
    if (tab->n == before) {
        if (denied[0])
            return wp_errf(err, -EACCES, "%s", denied);
        return wp_errf(err, -ENOENT,
                       "no hwmon power or energy sensors on this machine: none of the hwmon "
                       "power or energy files under %s could be read",
                       h->base);
    }
    return (int)(tab->n - before);
}

/* One event per sensor and kind of problem: a meter that stays broken for hours must not
 * fill the trace with the same line. */
static void warn_once(struct hwmon *h, struct wp_sink *sink, struct hw_sensor *s, unsigned bit,
                      int64_t t, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void warn_once(struct hwmon *h, struct wp_sink *sink, struct hw_sensor *s, unsigned bit,
                      int64_t t, const char *fmt, ...)
{
    if (s->warned & bit)
        return;
    s->warned |= bit;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const struct hw_chip *c = &h->chips[s->chip];
    wp_sink_event(sink, t, s->id, "hwmon", c->index, "hwmon%d (%s): %s %s", c->index, c->name,
                  s->path, what);
}

static void warn_unavailable(struct hwmon *h, struct wp_sink *sink, struct hw_sensor *s, int64_t t,
                             int rc)
{
    warn_once(h, sink, s, W_UNAVAIL, t,
              "could not be read (%s); readings it cannot give are skipped, never stored as 0",
              strerror(-rc));
}

/* Reads one sensor into sink. Returns the read's -errno (the caller tells a chip that is gone
 * from one file that is), or 0 when the file was read, whatever its contents. */
static int read_sensor(struct hwmon *h, struct hw_sensor *s, struct wp_sink *sink)
{
    char buf[64];
    int64_t t0 = wp_wall_us();
    int rc = wp_sysfs_read(s->path, buf, sizeof(buf));
    /* The ACPI method behind power1_average may take hundreds of ms: the middle of the read
     * is the best guess of when the value was taken. */
    int64_t t = t0 + (wp_wall_us() - t0) / 2;
    if (rc == -ENOENT || rc == -ENODEV)
        return rc;
    if (rc < 0) {
        warn_unavailable(h, sink, s, t, rc);
        return rc;
    }
    int64_t v;
    if (parse_i64(buf, &v) < 0) {
        buf[strcspn(buf, "\n")] = '\0';
        warn_once(h, sink, s, W_BAD, t, "held '%s', not a number; such readings are dropped", buf);
        return 0;
    }
    if (v < 0 || (s->kind == WP_GAUGE && v > ABSURD_UW)) {
        warn_once(h, sink, s, W_ABSURD, t,
                  "read %lld, impossible for a node (negative or over 100 kW); such readings "
                  "are dropped",
                  (long long)v);
        return 0;
    }
    if (s->kind == WP_COUNTER && s->have_last) {
        /* The rate is taken from when the previous value first showed up, so a counter that
         * the driver updates once a second is not mistaken for a jump when read 100 ms after
         * its update. A dropped value still becomes the base: a one-read glitch then costs
         * one sample, and a counter that really moved on is followed again from there. */
        bool jump = v > s->base_raw && t > s->base_t_us &&
                    (double)(v - s->base_raw) / (double)(t - s->base_t_us) > ABSURD_UJ_PER_US;
        if (v != s->base_raw) {
            s->base_raw = v;
            s->base_t_us = t;
        }
        if (jump) {
            warn_once(h, sink, s, W_ABSURD, t,
                      "jumped from %lld to %lld uJ, over 100 kW since the last reading; such "
                      "readings are dropped",
                      (long long)s->last_raw, (long long)v);
            return 0;
        }
        if (v < s->last_raw)
            warn_once(h, sink, s, W_BACKWARDS, t,
                      "went backwards (%lld -> %lld uJ): the driver was reloaded or the "
                      "counter reset; energy across it is not trustworthy",
                      (long long)s->last_raw, (long long)v);
    } else if (s->kind == WP_COUNTER) {
        s->base_raw = v;
        s->base_t_us = t;
    }
    s->have_last = true;
    s->last_raw = v;
    wp_sink_push(sink, s->id, t, v);
    return 0;
}

static int hwmon_poll(void *state, int64_t now, unsigned flags, struct wp_sink *sink, int64_t *next,
                      struct wp_err *err)
{
    struct hwmon *h = state;
    bool due = now >= h->next_us;
    bool all = due || (flags & (WP_POLL_ALL | WP_POLL_FRESH));
    bool counters = all || (flags & WP_POLL_COUNTERS);
    size_t alive = 0;
    for (size_t ci = 0; ci < h->nchips; ci++) {
        struct hw_chip *c = &h->chips[ci];
        if (c->lost)
            continue;
        size_t tried = 0, gone = 0;
        for (size_t i = 0; i < h->nsensors; i++) {
            struct hw_sensor *s = &h->sensors[i];
            s->gone = false;
            if (s->chip != ci || s->id < 0 || !(s->kind == WP_COUNTER ? counters : all))
                continue;
            tried++;
            int rc = read_sensor(h, s, sink);
            s->gone = rc == -ENOENT || rc == -ENODEV;
            gone += s->gone;
        }
        /* Every file gone at once is the chip going (driver unloaded, device removed); one
         * file gone while the others answer is that reading's trouble alone. */
        if (tried > 0 && gone == tried) {
            c->lost = true;
            wp_sink_event(sink, wp_wall_us(), -1, "hwmon", c->index,
                          "hwmon%d (%s) disappeared: its files under %s are gone (driver "
                          "unloaded or device removed); its readings stop here, the other chips "
                          "go on",
                          c->index, c->name, c->dir);
            continue;
        }
        for (size_t i = 0; i < h->nsensors && gone > 0; i++)
            if (h->sensors[i].chip == ci && h->sensors[i].gone)
                warn_unavailable(h, sink, &h->sensors[i], wp_wall_us(), -ENOENT);
        alive++;
    }
    if (due) {
        /* Stay on the grid so a slow ACPI read does not drift the cadence; after a stall,
         * skip the missed slots instead of reading in a burst. */
        h->next_us = wp_next_on_grid(h->next_us, now, h->period_us);
    }
    *next = h->next_us;
    if (alive == 0)
        return wp_errf(err, -ENODEV, "every hwmon chip with power or energy sensors has gone");
    return 0;
}

static void hwmon_close(void *state)
{
    hwmon_free(state);
}

static const struct wp_source_key hwmon_keys[] = {
    {"root", "DIR  read DIR/sys/class/hwmon (default /, or $WATTPROF_SYSFS_ROOT)", 0},
    {"interval", "DURATION  how often to read (default 1s with acpi_power_meter, else 100ms)", 0},
    {"chip", "NAME[,NAME...]  only these chips (their `name` file: power_meter, amd_energy, ...)",
     0},
    {"scope", "SCOPE  what every reading of this instance measures (node_input, cpu_package, ...)",
     0},
    {NULL, NULL, 0},
};

const struct wp_source_ops wp_source_hwmon = {
    .name = "hwmon",
    .help = "kernel hwmon power and energy: the BMC's node power (acpi_power_meter), amd_energy",
    .keys = hwmon_keys,
    .flags = WP_SOURCE_AUTO,
    .open = hwmon_open,
    .discover = hwmon_discover,
    .poll = hwmon_poll,
    .close = hwmon_close,
};
