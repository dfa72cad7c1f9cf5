/* The table of source kinds, and opening configured instances. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/source.h"

/* Order matters only for `list` and automatic probing: GPUs first, then the host, then the
 * meters on the network. */
const struct wp_source_ops *const wp_source_kinds[] = {
    &wp_source_nvml,
    &wp_source_rapl,
    &wp_source_hwmon,
    &wp_source_ipmi,
    &wp_source_snmp,
    &wp_source_redfish,
    NULL,
};

void wp_sources_close(struct wp_source_inst *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].state)
            v[i].ops->close(v[i].state);
    free(v);
}

/* A sensor of an earlier instance (table rows before `before`) on a device that a sensor of
 * the instance just discovered (rows from `before`) also reads, by UUID; NULL if none. */
static const struct wp_sensor *same_device(const struct wp_sensors *tab, size_t before)
{
    for (size_t j = before; j < tab->n; j++)
        for (size_t i = 0; tab->v[j].uuid[0] && i < before; i++)
            if (strcmp(tab->v[i].uuid, tab->v[j].uuid) == 0)
                return &tab->v[i];
    return NULL;
}

int wp_sources_open(const struct wp_config *cfg, struct wp_source_inst **out, size_t *nout,
                    struct wp_sensors *tab, struct wp_meta *meta, struct wp_err *err)
{
    struct wp_source_inst *v = calloc(cfg->n ? cfg->n : 1, sizeof(*v));
    if (!v)
        return wp_errf(err, -ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < cfg->n; i++) {
        const struct wp_source_cfg *c = &cfg->v[i];
        struct wp_err e = {0};
        void *state = NULL;
        char key[64], spec[512];
        snprintf(key, sizeof(key), "source.%s", c->name);
        wp_source_cfg_format(c, spec, sizeof(spec));
        wp_meta_set(meta, key, spec);
        snprintf(key, sizeof(key), "missing.%s", c->name);
        int rc = c->ops->open(&state, c, &e);
        if (rc == -EINVAL) {
            wp_sources_close(v, k);
            return wp_errf(err, -EINVAL, "%s", e.msg);
        }
        if (rc < 0) {
            wp_meta_set(meta, key, e.msg);
            continue;
        }
        size_t before = tab->n;
        int added = c->ops->discover(state, tab, meta, &e);
        if (added <= 0) {
            wp_meta_set(meta, key, added < 0 ? e.msg : "no sensors found");
            c->ops->close(state);
            tab->n = before; /* a failed discovery leaves no half-described sensors */
            continue;
        }
        for (size_t j = before; j < tab->n; j++) {
            /* Sources fill what they know; the table guarantees the rest. */
            snprintf(tab->v[j].source, sizeof(tab->v[j].source), "%s", c->name);
            if (!tab->v[j].source_kind[0])
                snprintf(tab->v[j].source_kind, sizeof(tab->v[j].source_kind), "%s", c->ops->name);
        }
        const struct wp_sensor *dup = same_device(tab, before);
        if (dup) {
            c->ops->close(state);
            tab->n = before;
            wp_sources_close(v, k);
            return wp_errf(err, -EINVAL,
                           "sources %s and %s both read device %s (%s); each reading would "
                           "count twice: keep one instance (a config line and a --source of one "
                           "kind are two instances)",
                           dup->source, c->name, dup->uuid, dup->device_name);
        }
        v[k++] = (struct wp_source_inst){.ops = c->ops, .cfg = c, .state = state};
    }
    *out = v;
    *nout = k;
    return 0;
}

int wp_sources_probe(const struct wp_config *cfg, struct wp_sensors *tab, struct wp_meta *meta,
                     struct wp_err *err)
{
    struct wp_source_inst *v = NULL;
    size_t n = 0;
    int rc = wp_sources_open(cfg, &v, &n, tab, meta, err);
    if (rc < 0)
        return rc;
    wp_sources_close(v, n);
    return 0;
}
