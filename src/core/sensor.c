#define _POSIX_C_SOURCE 200809L
#include "core/sensor.h"

#include "core/grow.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *unit;
} quantities[] = {
    [WP_Q_POWER] = {"power", "mW"}, [WP_Q_ENERGY] = {"energy", "mJ"},
    [WP_Q_UTIL] = {"util", "%"},    [WP_Q_CLOCK] = {"clock", "MHz"},
    [WP_Q_TEMP] = {"temp", "C"},    [WP_Q_PROC_UTIL] = {"proc_util", "pid*1000+%"},
};

const char *wp_quantity_name(enum wp_quantity q)
{
    return (unsigned)q < sizeof(quantities) / sizeof(quantities[0]) ? quantities[q].name : "?";
}

const char *wp_quantity_unit(enum wp_quantity q)
{
    return (unsigned)q < sizeof(quantities) / sizeof(quantities[0]) ? quantities[q].unit : "?";
}

int wp_quantity_parse(const char *s, enum wp_quantity *q)
{
    for (size_t i = 0; i < sizeof(quantities) / sizeof(quantities[0]); i++) {
        if (strcmp(s, quantities[i].name) == 0) {
            *q = (enum wp_quantity)i;
            return 0;
        }
    }
    return -EINVAL;
}

static const char *const scope_names[WP_SCOPE_COUNT] = {
    [WP_SCOPE_OTHER] = "other",
    [WP_SCOPE_GPU] = "gpu",
    [WP_SCOPE_GPU_MEMORY] = "gpu_memory",
    [WP_SCOPE_CPU_PACKAGE] = "cpu_package",
    [WP_SCOPE_CPU_CORE] = "cpu_core",
    [WP_SCOPE_DRAM] = "dram",
    [WP_SCOPE_PSYS] = "psys",
    [WP_SCOPE_NODE_INPUT] = "node_input",
    [WP_SCOPE_PSU] = "psu",
    [WP_SCOPE_PDU_INLET] = "pdu_inlet",
    [WP_SCOPE_PDU_OUTLET] = "pdu_outlet",
};

const char *wp_scope_name(enum wp_scope s)
{
    return (unsigned)s < WP_SCOPE_COUNT ? scope_names[s] : "?";
}

int wp_scope_parse(const char *s, enum wp_scope *o)
{
    for (unsigned i = 0; i < WP_SCOPE_COUNT; i++) {
        if (strcmp(s, scope_names[i]) == 0) {
            *o = (enum wp_scope)i;
            return 0;
        }
    }
    return -EINVAL;
}

void wp_scope_mask_format(unsigned mask, char *buf, size_t len)
{
    size_t off = 0;
    if (len)
        buf[0] = '\0';
    for (unsigned i = 0; i < WP_SCOPE_COUNT && off < len; i++)
        if (mask & WP_SCOPE_BIT(i))
            off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", scope_names[i]);
}

int wp_scope_mask_parse(const char *s, unsigned *mask)
{
    unsigned m = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        char name[32];
        if (n == 0 || n >= sizeof(name))
            return -EINVAL;
        memcpy(name, s, n);
        name[n] = '\0';
        enum wp_scope sc;
        if (wp_scope_parse(name, &sc) < 0)
            return -EINVAL;
        m |= WP_SCOPE_BIT(sc);
        s += n + (s[n] == ',');
    }
    *mask = m;
    return 0;
}

unsigned wp_scope_default_contains(enum wp_scope s)
{
    switch (s) {
    case WP_SCOPE_GPU:
        return WP_SCOPE_BIT(WP_SCOPE_GPU_MEMORY);
    case WP_SCOPE_CPU_PACKAGE:
        return WP_SCOPE_BIT(WP_SCOPE_CPU_CORE);
    /* Intel's psys domain is the whole SoC platform: package, DRAM and what hangs off it. */
    case WP_SCOPE_PSYS:
        return WP_SCOPE_BIT(WP_SCOPE_CPU_PACKAGE) | WP_SCOPE_BIT(WP_SCOPE_CPU_CORE) |
               WP_SCOPE_BIT(WP_SCOPE_DRAM);
    case WP_SCOPE_NODE_INPUT:
    case WP_SCOPE_PSU:
    case WP_SCOPE_PDU_OUTLET:
        return WP_SCOPE_NODE_PARTS;
    case WP_SCOPE_PDU_INLET:
        return WP_SCOPE_NODE_PARTS | WP_SCOPE_BIT(WP_SCOPE_NODE_INPUT) |
               WP_SCOPE_BIT(WP_SCOPE_PSU) | WP_SCOPE_BIT(WP_SCOPE_PDU_OUTLET);
    default:
        return 0;
    }
}

const char *wp_sensor_unit(const struct wp_sensor *s)
{
    return s->unit[0] ? s->unit : wp_quantity_unit(s->quantity);
}

double wp_sensor_scale(const struct wp_sensor *s)
{
    return s->scale != 0 ? s->scale : 1.0;
}

double wp_sensor_value(const struct wp_sensor *s, int64_t raw)
{
    return (double)raw * wp_sensor_scale(s);
}

int wp_sensors_add(struct wp_sensors *tab, const struct wp_sensor *s)
{
    if (WP_GROW(&tab->v, &tab->cap, tab->n + 1) < 0)
        return -ENOMEM;
    tab->v[tab->n] = *s;
    tab->v[tab->n].id = (int)tab->n;
    return (int)tab->n++;
}

void wp_sensors_free(struct wp_sensors *tab)
{
    free(tab->v);
    memset(tab, 0, sizeof(*tab));
}

const struct wp_sensor *wp_sensors_find(const struct wp_sensors *tab, const char *source,
                                        int device, const char *name)
{
    for (size_t i = 0; i < tab->n; i++) {
        const struct wp_sensor *s = &tab->v[i];
        if (s->device == device && strcmp(s->source, source) == 0 && strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

int wp_meta_set(struct wp_meta *m, const char *key, const char *value)
{
    char *nv = strdup(value);
    if (!nv)
        return -ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->v[i].key, key) == 0) {
            free(m->v[i].value);
            m->v[i].value = nv;
            return 0;
        }
    }
    char *nk = strdup(key);
    if (!nk || WP_GROW(&m->v, &m->cap, m->n + 1) < 0) {
        free(nk);
        free(nv);
        return -ENOMEM;
    }
    m->v[m->n].key = nk;
    m->v[m->n].value = nv;
    m->n++;
    return 0;
}

int wp_meta_setf(struct wp_meta *m, const char *key, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return wp_meta_set(m, key, buf);
}

const char *wp_meta_get(const struct wp_meta *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].key, key) == 0)
            return m->v[i].value;
    return NULL;
}

void wp_meta_free(struct wp_meta *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].key);
        free(m->v[i].value);
    }
    free(m->v);
    memset(m, 0, sizeof(*m));
}

const char *wp_mark_kind_name(enum wp_mark_kind k)
{
    switch (k) {
    case WP_MARK_BEGIN:
        return "begin";
    case WP_MARK_END:
        return "end";
    case WP_MARK_POINT:
        return "mark";
    }
    return "?";
}
