/* Sources. A source *kind* knows one kind of meter (NVML, RAPL, hwmon, IPMI, ...): one file
 * that implements the ops struct below, listed by name in sources.c (no constructor magic).
 * A source *instance* is a kind plus its options ("hwmon:chip=acpi_power_meter", two PDUs
 * are two instances of one kind), written as a spec on the command line (--source) or one
 * per line in a config file (--config); see source_spec.c. Each instance is polled on its own
 * thread by the recorder, so a slow meter never delays another. */
#ifndef WP_SOURCE_H
#define WP_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sensor.h"
#include "core/sink.h"

/* poll() flags */
#define WP_POLL_COUNTERS 1u /* also read expensive counters now (marks) */
#define WP_POLL_ALL      2u /* read everything now, due or not (the first and last rounds) */
#define WP_POLL_FRESH                                                                              \
    4u /* read the power and energy readings now, due or not (the rounds                           \
          after a run's end that wait for samples covering it) */

/* ops.flags */
#define WP_SOURCE_AUTO     1u /* tried with no options when the user names no instance of it */
#define WP_SOURCE_BLOCKING 2u /* a poll may wait on a network or a BMC (for `list` wording) */

/* A key a kind accepts in its spec. */
#define WP_KEY_SECRET 1u /* never on the command line, never stored: give KEY_file or KEY_env */
struct wp_source_key {
    const char *key;
    const char *help; /* "PATH  the NVML library to load" */
    unsigned flags;
};

struct wp_source_opt {
    char *key, *value;
};

/* One configured instance. */
struct wp_source_cfg {
    const struct wp_source_ops *ops;
    char name[32];   /* unique per recording; the kind's name unless name= says otherwise */
    char origin[64]; /* "--source" or "FILE:LINE", for error messages */
    bool from_file;  /* a config file may hold secrets inline; the command line may not */
    struct wp_source_opt *opts;
    size_t nopts, capopts;
};

struct wp_source_ops {
    const char *name; /* the kind: "nvml" */
    const char *help; /* one line for `list --kinds` and error messages */
    /* Keys the kind accepts (NULL-terminated); "name" is accepted by every kind. */
    const struct wp_source_key *keys;
    unsigned flags;
    /* Opens an instance. On failure returns <0 with err saying why it is missing (no driver,
     * no permission, not supported) and how to fix it; -EINVAL for a bad option value. */
    int (*open)(void **state, const struct wp_source_cfg *cfg, struct wp_err *err);
    /* Adds its sensors to tab (source = cfg->name) and facts to meta (driver version, device
     * names). Readings that turn out unsupported are detected here, once, and noted in meta as
     * "missing.<instance>.<device>.<reading>" = reason; they are not polled. Returns the number
     * of sensors added or <0. */
    int (*discover)(void *state, struct wp_sensors *tab, struct wp_meta *meta, struct wp_err *err);
    /* Reads whatever is due at now_mono_us (CLOCK_MONOTONIC) into sink, and stores the next
     * monotonic time it wants to be called in *next_mono_us. A device that fails mid-run is
     * reported with wp_sink_event and dropped; the others go on. Returns 0, -ENODEV when the
     * whole source is gone for good (it is dropped), or another negative code when this poll
     * failed but a later one may work (it is retried with backoff, and "unavailable" and
     * "recovered" are events in the trace). */
    int (*poll)(void *state, int64_t now_mono_us, unsigned flags, struct wp_sink *sink,
                int64_t *next_mono_us, struct wp_err *err);
    void (*close)(void *state);
};

/* NULL-terminated table of every kind compiled in. */
extern const struct wp_source_ops *const wp_source_kinds[];
extern const struct wp_source_ops wp_source_nvml;
extern const struct wp_source_ops wp_source_rapl;
extern const struct wp_source_ops wp_source_hwmon;
extern const struct wp_source_ops wp_source_snmp;
extern const struct wp_source_ops wp_source_ipmi;
extern const struct wp_source_ops wp_source_redfish;

/* The kind called name in kinds (NULL-terminated), or NULL. */
const struct wp_source_ops *wp_source_kind(const struct wp_source_ops *const *kinds,
                                           const char *name);

/* ---- instance options (source_spec.c) ---- */

/* The value of key, or NULL when it was not given. */
const char *wp_source_cfg_get(const struct wp_source_cfg *c, const char *key);
/* key as a duration ("100ms", "2s", "1.5", "1m"; a bare number is seconds) in microseconds,
 * between min_us and max_us; *out = def_us when absent. -EINVAL with a message naming the
 * instance, the key and the range. */
int wp_source_cfg_duration_us(const struct wp_source_cfg *c, const char *key, int64_t def_us,
                              int64_t min_us, int64_t max_us, int64_t *out, struct wp_err *err);
/* key as a boolean (1/0, yes/no, true/false, on/off); *out = def when absent. */
int wp_source_cfg_bool(const struct wp_source_cfg *c, const char *key, bool def, bool *out,
                       struct wp_err *err);
/* A secret key (WP_KEY_SECRET): read from KEY_file (first line, newline stripped), KEY_env,
 * or KEY itself in a config file. -ENOENT when none was given; -EACCES/-EIO with a message
 * naming the file or variable. */
int wp_source_cfg_secret(const struct wp_source_cfg *c, const char *key, char *buf, size_t len,
                         struct wp_err *err);
/* The spec as it can be shown and stored: "kind:key=value,..." with every secret value
 * replaced by "<secret>" (KEY_file paths and KEY_env names are shown; they are not secrets).
 * Returns the length snprintf would have written. */
int wp_source_cfg_format(const struct wp_source_cfg *c, char *buf, size_t len);
void wp_source_cfg_free(struct wp_source_cfg *c);

/* A recording's configuration: source instances and node facts. */
struct wp_config {
    struct wp_source_cfg *v;
    size_t n, cap;
    bool no_auto;            /* only the listed instances; no automatic kinds */
    double rated_w;          /* the node's rated power, NAN when not given */
    double node_allowance_w; /* for a node estimate without a node meter: what the measured
                                parts leave out (fans, NICs, PSU losses), NAN = default */
    char warnings[4][256];   /* things the CLI should print (a config readable by others) */
    int nwarnings;
};
void wp_config_init(struct wp_config *c);
void wp_config_free(struct wp_config *c);

/* Parses one spec "KIND[:key=value,...]" against kinds and appends the instance. A value may
 * itself hold commas ("gpus=0,1"): a piece without '=' continues the previous value.
 * from_file: the spec came from a config file (inline secrets allowed). origin names the
 * place for messages. Errors (-EINVAL): unknown kind (the message lists the valid ones),
 * unknown key (lists the kind's keys), a key given twice, a secret on the command line, a
 * duplicate instance name. */
int wp_config_add_spec(struct wp_config *c, const struct wp_source_ops *const *kinds,
                       const char *spec, bool from_file, const char *origin, struct wp_err *err);
/* Reads a config file: one spec per line, or a setting "rated_w=W", "node_allowance_w=W",
 * "auto=0"; blank lines and '#' comments are skipped. Warns (in c->warnings) when the file
 * holds a secret and is readable by group or others. -ENOENT/-EACCES/-EINVAL with FILE:LINE. */
int wp_config_load(struct wp_config *c, const struct wp_source_ops *const *kinds, const char *path,
                   struct wp_err *err);
/* Adds one instance, with no options, of every WP_SOURCE_AUTO kind that no configured
 * instance already uses (unless no_auto). */
int wp_config_add_auto(struct wp_config *c, const struct wp_source_ops *const *kinds,
                       struct wp_err *err);

/* ---- opening (sources.c) ---- */

/* An instance that opened and found sensors. */
struct wp_source_inst {
    const struct wp_source_ops *ops;
    const struct wp_source_cfg *cfg;
    void *state;
};

/* Opens and discovers every instance of cfg into out (malloc'd array) / tab / meta. An
 * instance that cannot open or has no sensors is noted in meta as "missing.<name>" = reason
 * and skipped; a bad option value (-EINVAL from open) is an error, since the user asked for
 * something that cannot work. Each instance's redacted spec is stored as
 * "source.<name>" = spec. */
int wp_sources_open(const struct wp_config *cfg, struct wp_source_inst **out, size_t *nout,
                    struct wp_sensors *tab, struct wp_meta *meta, struct wp_err *err);
void wp_sources_close(struct wp_source_inst *v, size_t n);
/* For `list`: opens and discovers every instance without recording. */
int wp_sources_probe(const struct wp_config *cfg, struct wp_sensors *tab, struct wp_meta *meta,
                     struct wp_err *err);

#endif
