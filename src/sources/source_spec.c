/* Source specs ("hwmon:chip=acpi_power_meter,name=bmc") and config files: the one place that
 * turns what a user wrote into source instances, so every command accepts the same thing and
 * every mistake gets the same message. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/str.h"
#include "core/grow.h"
#include "sources/source.h"

#define SECRET_SHOWN "<secret>"

const struct wp_source_ops *wp_source_kind(const struct wp_source_ops *const *kinds,
                                           const char *name)
{
    for (size_t i = 0; kinds[i]; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

const char *wp_source_cfg_get(const struct wp_source_cfg *c, const char *key)
{
    for (size_t i = 0; i < c->nopts; i++)
        if (strcmp(c->opts[i].key, key) == 0)
            return c->opts[i].value;
    return NULL;
}

/* Seconds with an optional unit (us, ms, s, m, h); a bare number is seconds. */
static int parse_duration_us(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = wp_strtod_dec(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -EINVAL;
    double mult = 1e6;
    if (strcmp(end, "us") == 0)
        mult = 1;
    else if (strcmp(end, "ms") == 0)
        mult = 1e3;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1e6;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mult = 60e6;
    else if (strcmp(end, "h") == 0)
        mult = 3600e6;
    else
        return -EINVAL;
    double us = v * mult;
    if (us > 9e15)
        return -ERANGE;
    *out = (int64_t)llround(us);
    return 0;
}

/* us as the parser reads it back: whole seconds as "2s", else whole ms as "500ms", else us */
static void fmt_duration(char *buf, size_t cap, int64_t us)
{
    if (us % 1000000 == 0)
        snprintf(buf, cap, "%llds", (long long)(us / 1000000));
    else if (us % 1000 == 0)
        snprintf(buf, cap, "%lldms", (long long)(us / 1000));
    else
        snprintf(buf, cap, "%lldus", (long long)us);
}

int wp_source_cfg_duration_us(const struct wp_source_cfg *c, const char *key, int64_t def_us,
                              int64_t min_us, int64_t max_us, int64_t *out, struct wp_err *err)
{
    const char *v = wp_source_cfg_get(c, key);
    if (!v) {
        *out = def_us;
        return 0;
    }
    int64_t us;
    if (parse_duration_us(v, &us) < 0 || us < min_us || us > max_us) {
        char lo[32], hi[32];
        fmt_duration(lo, sizeof(lo), min_us);
        fmt_duration(hi, sizeof(hi), max_us);
        return wp_errf(err, -EINVAL,
                       "source %s: %s=%s is not a duration from %s to %s (write e.g. %s=%s or "
                       "%s=%s)",
                       c->name, key, v, lo, hi, key, lo, key, hi);
    }
    *out = us;
    return 0;
}

int wp_source_cfg_bool(const struct wp_source_cfg *c, const char *key, bool def, bool *out,
                       struct wp_err *err)
{
    const char *v = wp_source_cfg_get(c, key);
    if (!v) {
        *out = def;
        return 0;
    }
    static const char *const yes[] = {"1", "yes", "true", "on"}, *const no[] = {"0", "no", "false",
                                                                                "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return wp_errf(err, -EINVAL, "source %s: %s=%s is not a yes/no value (write %s=1 or %s=0)",
                   c->name, key, v, key, key);
}

static const struct wp_source_key *find_key(const struct wp_source_ops *ops, const char *key)
{
    for (const struct wp_source_key *k = ops->keys; k && k->key; k++)
        if (strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

/* For "password_file", the secret key "password" and its way ("file"); NULL if key is not a
 * way of giving a secret. */
static const struct wp_source_key *secret_of(const struct wp_source_ops *ops, const char *key,
                                             const char **way)
{
    const char *us = strrchr(key, '_');
    if (!us || (strcmp(us, "_file") != 0 && strcmp(us, "_env") != 0))
        return NULL;
    for (const struct wp_source_key *k = ops->keys; k && k->key; k++) {
        size_t n = strlen(k->key);
        if ((k->flags & WP_KEY_SECRET) && (size_t)(us - key) == n && strncmp(key, k->key, n) == 0) {
            *way = us + 1;
            return k;
        }
    }
    return NULL;
}

int wp_source_cfg_secret(const struct wp_source_cfg *c, const char *key, char *buf, size_t len,
                         struct wp_err *err)
{
    char k[64];
    snprintf(k, sizeof(k), "%s_file", key);
    const char *file = wp_source_cfg_get(c, k);
    snprintf(k, sizeof(k), "%s_env", key);
    const char *env = wp_source_cfg_get(c, k);
    const char *inl = wp_source_cfg_get(c, key);
    if (len == 0)
        return wp_errf(err, -EINVAL, "no room for the secret");
    if (file) {
        FILE *f = fopen(file, "re");
        if (!f)
            return wp_errf(err, errno == ENOENT ? -ENOENT : -EACCES,
                           "source %s: cannot read %s_file=%s: %s", c->name, key, file,
                           strerror(errno));
        if (!fgets(buf, (int)len, f))
            buf[0] = '\0';
        bool io = ferror(f);
        fclose(f);
        if (io)
            return wp_errf(err, -EIO, "source %s: reading %s_file=%s failed", c->name, key, file);
        buf[strcspn(buf, "\r\n")] = '\0';
        return 0;
    }
    if (env) {
        const char *v = getenv(env);
        if (!v)
            return wp_errf(err, -ENOENT,
                           "source %s: %s_env=%s names an environment variable that is not set",
                           c->name, key, env);
        if (strlen(v) >= len)
            return wp_errf(err, -EINVAL, "source %s: the %s in $%s is too long", c->name, key, env);
        snprintf(buf, len, "%s", v);
        return 0;
    }
    if (inl) {
        if (strlen(inl) >= len)
            return wp_errf(err, -EINVAL, "source %s: the %s is too long", c->name, key);
        snprintf(buf, len, "%s", inl);
        return 0;
    }
    return wp_errf(err, -ENOENT, "source %s needs a %s: give %s_file=PATH or %s_env=VARIABLE",
                   c->name, key, key, key);
}

int wp_source_cfg_format(const struct wp_source_cfg *c, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s", c->ops ? c->ops->name : "?");
    for (size_t i = 0; i < c->nopts; i++) {
        const struct wp_source_key *k = c->ops ? find_key(c->ops, c->opts[i].key) : NULL;
        bool secret = k && (k->flags & WP_KEY_SECRET);
        size_t off = n > 0 && (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
        n += snprintf(len ? buf + off : NULL, len ? len - off : 0, "%c%s=%s", i ? ',' : ':',
                      c->opts[i].key, secret ? SECRET_SHOWN : c->opts[i].value);
    }
    return n;
}

void wp_source_cfg_free(struct wp_source_cfg *c)
{
    for (size_t i = 0; i < c->nopts; i++) {
        if (c->opts[i].value)
            memset(c->opts[i].value, 0, strlen(c->opts[i].value));
        free(c->opts[i].key);
        free(c->opts[i].value);
    }
    free(c->opts);
    memset(c, 0, sizeof(*c));
}

void wp_config_init(struct wp_config *c)
{
    memset(c, 0, sizeof(*c));
    c->rated_w = NAN;
    c->node_allowance_w = NAN;
}

void wp_config_free(struct wp_config *c)
{
    for (size_t i = 0; i < c->n; i++)
        wp_source_cfg_free(&c->v[i]);
    free(c->v);
    wp_config_init(c);
}

static void list_kinds(const struct wp_source_ops *const *kinds, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; kinds[i] && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", kinds[i]->name);
}

static void list_keys(const struct wp_source_ops *ops, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "name");
    for (const struct wp_source_key *k = ops->keys; k && k->key && off < len; k++) {
        if (k->flags & WP_KEY_SECRET)
            off += (size_t)snprintf(buf + off, len - off, ", %s_file, %s_env", k->key, k->key);
        else
            off += (size_t)snprintf(buf + off, len - off, ", %s", k->key);
    }
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) >= sizeof(((struct wp_source_cfg *)0)->name))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return false;
    return true;
}

static int add_opt(struct wp_source_cfg *c, const char *key, const char *value)
{
    if (WP_GROW(&c->opts, &c->capopts, c->nopts + 1) < 0)
        return -ENOMEM;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -ENOMEM;
    }
    c->opts[c->nopts++] = (struct wp_source_opt){k, v};
    return 0;
}

/* Appends ",piece" to the last option's value (a value that held commas). */
static int extend_opt(struct wp_source_cfg *c, const char *piece)
{
    struct wp_source_opt *o = &c->opts[c->nopts - 1];
    size_t n = strlen(o->value) + strlen(piece) + 2;
    char *v = malloc(n);
    if (!v)
        return -ENOMEM;
    snprintf(v, n, "%s,%s", o->value, piece);
    free(o->value);
    o->value = v;
    return 0;
}

static int check_opt(struct wp_source_cfg *c, const char *key, bool from_file, struct wp_err *err)
{
    const struct wp_source_ops *ops = c->ops;
    char keys[512];
    if (strcmp(key, "name") == 0)
        return 0;
    const char *way = NULL;
    const struct wp_source_key *k = find_key(ops, key);
    if (!k)
        k = secret_of(ops, key, &way);
    if (!k) {
        list_keys(ops, keys, sizeof(keys));
        return wp_errf(err, -EINVAL, "%s: source %s has no option '%s' (it takes: %s)", c->origin,
                       ops->name, key, keys);
    }
    if ((k->flags & WP_KEY_SECRET) && !way && !from_file)
        return wp_errf(err, -EINVAL,
                       "%s: a %s on the command line is visible to every user (ps, shell "
                       "history): give %s_file=PATH (a file only you can read) or "
                       "%s_env=VARIABLE instead",
                       c->origin, key, key, key);
    return 0;
}

static int parse_into(struct wp_source_cfg *c, char *opts, bool from_file, struct wp_err *err)
{
    bool any = false;
    for (char *save = NULL, *tok = strtok_r(opts, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *piece = wp_trim(tok);
        char *eq = strchr(piece, '=');
        if (!eq) {
            /* a key of this kind without its value, or a bare word meant as the name */
            const struct wp_source_key *k = any ? NULL : find_key(c->ops, piece);
            if (k && (k->flags & WP_KEY_SECRET))
                return wp_errf(err, -EINVAL,
                               "%s: '%s' in source %s has no value: give it as %s:%s_file=PATH "
                               "or %s:%s_env=VARIABLE",
                               c->origin, piece, c->ops->name, c->ops->name, piece, c->ops->name,
                               piece);
            if (k) {
                /* help is "VALUE  what it does" */
                const char *gap = strstr(k->help, "  ");
                int vlen = gap ? (int)(gap - k->help) : 5;
                const char *val = gap ? k->help : "VALUE";
                const char *what = gap ? gap + strspn(gap, " ") : k->help;
                return wp_errf(
                    err, -EINVAL, "%s: '%s' in source %s has no value: write %s:%s=%.*s (%s)",
                    c->origin, piece, c->ops->name, c->ops->name, piece, vlen, val, what);
            }
            if (!any)
                return wp_errf(err, -EINVAL,
                               "%s: '%s' in source %s is not key=value (write e.g. %s:name=%s)",
                               c->origin, piece, c->ops->name, c->ops->name, piece);
            if (extend_opt(c, piece) < 0)
                return wp_errf(err, -ENOMEM, "out of memory");
            continue;
        }
        *eq = '\0';
        char *key = wp_trim(piece), *val = wp_trim(eq + 1);
        if (!*key)
            return wp_errf(err, -EINVAL, "%s: an option of source %s has no key before '='",
                           c->origin, c->ops->name);
        int rc = check_opt(c, key, from_file, err);
        if (rc < 0)
            return rc;
        if (wp_source_cfg_get(c, key))
            return wp_errf(err, -EINVAL, "%s: source %s: option '%s' is given twice", c->origin,
                           c->ops->name, key);
        if (add_opt(c, key, val) < 0)
            return wp_errf(err, -ENOMEM, "out of memory");
        any = true;
    }
    return 0;
}

/* A secret key given more than one way is ambiguous. */
static int check_secrets(const struct wp_source_cfg *c, struct wp_err *err)
{
    for (const struct wp_source_key *k = c->ops->keys; k && k->key; k++) {
        if (!(k->flags & WP_KEY_SECRET))
            continue;
        char f[64], e[64];
        snprintf(f, sizeof(f), "%s_file", k->key);
        snprintf(e, sizeof(e), "%s_env", k->key);
        int ways =
            !!wp_source_cfg_get(c, k->key) + !!wp_source_cfg_get(c, f) + !!wp_source_cfg_get(c, e);
        if (ways > 1)
            return wp_errf(err, -EINVAL, "%s: source %s: give the %s one way only (%s, %s or %s)",
                           c->origin, c->name, k->key, k->key, f, e);
    }
    return 0;
}

int wp_config_add_spec(struct wp_config *c, const struct wp_source_ops *const *kinds,
                       const char *spec, bool from_file, const char *origin, struct wp_err *err)
{
    char *copy = strdup(spec);
    if (!copy)
        return wp_errf(err, -ENOMEM, "out of memory");
    struct wp_source_cfg sc;
    memset(&sc, 0, sizeof(sc));
    snprintf(sc.origin, sizeof(sc.origin), "%s", origin ? origin : "--source");
    sc.from_file = from_file;
    int rc = 0;
    char *colon = strchr(copy, ':');
    if (colon)
        *colon = '\0';
    char *kind = wp_trim(copy);
    char names[256];
    sc.ops = wp_source_kind(kinds, kind);
    if (!sc.ops) {
        list_kinds(kinds, names, sizeof(names));
        rc = wp_errf(err, -EINVAL, "%s: unknown source kind '%s' (known kinds: %s)", sc.origin,
                     kind, names);
        goto out;
    }
    if (colon && (rc = parse_into(&sc, colon + 1, from_file, err)) < 0)
        goto out;
    if ((rc = check_secrets(&sc, err)) < 0)
        goto out;
    const char *name = wp_source_cfg_get(&sc, "name");
    if (name) {
        if (!valid_name(name)) {
            rc = wp_errf(err, -EINVAL,
                         "%s: name=%s: an instance name is 1-31 letters, digits, '-', '_' or '.'",
                         sc.origin, name);
            goto out;
        }
        snprintf(sc.name, sizeof(sc.name), "%s", name);
    } else {
        /* The kind's name, numbered from the second instance on: hwmon, hwmon-2, ... */
        snprintf(sc.name, sizeof(sc.name), "%s", sc.ops->name);
        for (int k = 2; k < 1000; k++) {
            bool taken = false;
            for (size_t i = 0; i < c->n; i++)
                taken |= strcmp(c->v[i].name, sc.name) == 0;
            if (!taken)
                break;
            snprintf(sc.name, sizeof(sc.name), "%s-%d", sc.ops->name, k);
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].name, sc.name) == 0) {
            rc = wp_errf(err, -EINVAL,
                         "%s: two sources are named '%s' (the other is from %s): give each its "
                         "own name=",
                         sc.origin, sc.name, c->v[i].origin);
            goto out;
        }
    }
    if (WP_GROW(&c->v, &c->cap, c->n + 1) < 0) {
        rc = wp_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    c->v[c->n++] = sc;
    memset(&sc, 0, sizeof(sc));
out:
    wp_source_cfg_free(&sc);
    memset(copy, 0, strlen(spec));
    free(copy);
    return rc;
}

static int parse_setting(struct wp_config *c, const char *key, const char *val, const char *origin,
                         struct wp_err *err)
{
    char *end;
    errno = 0;
    if (strcmp(key, "auto") == 0) {
        if (strcmp(val, "0") && strcmp(val, "1"))
            return wp_errf(err, -EINVAL,
                           "%s: auto=%s: write auto=0 (only the listed sources) "
                           "or auto=1",
                           origin, val);
        c->no_auto = strcmp(val, "0") == 0;
        return 0;
    }
    double v = wp_strtod_dec(val, &end);
    bool bad = end == val || *end || errno || !isfinite(v);
    /* a second value would silently win: which one the user meant is theirs to say */
    if ((strcmp(key, "rated_w") == 0 && !isnan(c->rated_w)) ||
        (strcmp(key, "node_allowance_w") == 0 && !isnan(c->node_allowance_w)))
        return wp_errf(err, -EINVAL, "%s: %s=%s sets it a second time (%g before); keep one",
                       origin, key, val,
                       strcmp(key, "rated_w") == 0 ? c->rated_w : c->node_allowance_w);
    if (strcmp(key, "rated_w") == 0) {
        if (bad || v <= 0 || v > 1e7)
            return wp_errf(err, -EINVAL,
                           "%s: rated_w=%s: the node's rated power in watts, e.g. rated_w=10200",
                           origin, val);
        c->rated_w = v;
        return 0;
    }
    if (strcmp(key, "node_allowance_w") == 0) {
        if (bad || v < 0 || v > 1e7)
            return wp_errf(err, -EINVAL,
                           "%s: node_allowance_w=%s: watts the measured parts leave out, e.g. "
                           "node_allowance_w=900",
                           origin, val);
        c->node_allowance_w = v;
        return 0;
    }
    return wp_errf(err, -EINVAL,
                   "%s: unknown setting '%s' (settings: rated_w, node_allowance_w, auto; a "
                   "source is written KIND[:key=value,...])",
                   origin, key);
}

static bool holds_secret(const struct wp_source_cfg *sc)
{
    for (const struct wp_source_key *k = sc->ops->keys; k && k->key; k++)
        if ((k->flags & WP_KEY_SECRET) && wp_source_cfg_get(sc, k->key))
            return true;
    return false;
}

int wp_config_load(struct wp_config *c, const struct wp_source_ops *const *kinds, const char *path,
                   struct wp_err *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return wp_errf(err, errno == ENOENT ? -ENOENT : -EACCES, "cannot read config %s: %s", path,
                       strerror(errno));
    struct stat st;
    bool stated = fstat(fileno(f), &st) == 0;
    if (stated && S_ISDIR(st.st_mode)) {
        fclose(f);
        return wp_errf(err, -EISDIR,
                       "config %s is a directory: give the config file's path (e.g. %s/"
                       "wattprof.conf)",
                       path, path);
    }
    bool shared = stated && (st.st_mode & (S_IRGRP | S_IROTH));
    char line[4096], origin[64];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        const char *base = strrchr(path, '/');
        snprintf(origin, sizeof(origin), "%.50s:%d", base ? base + 1 : path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            rc = wp_errf(err, -EINVAL, "%s: line longer than %zu characters", origin,
                         sizeof(line) - 2);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = wp_trim(line);
        if (!*s)
            continue;
        /* "key=value" before any ':' is a setting; anything else is a source spec. */
        char *eq = strchr(s, '='), *colon = strchr(s, ':');
        if (eq && (!colon || eq < colon)) {
            *eq = '\0';
            if ((rc = parse_setting(c, wp_trim(s), wp_trim(eq + 1), origin, err)) < 0)
                break;
            continue;
        }
        if ((rc = wp_config_add_spec(c, kinds, s, true, origin, err)) < 0)
            break;
        if (shared && holds_secret(&c->v[c->n - 1]) && c->nwarnings < 4)
            snprintf(c->warnings[c->nwarnings++], sizeof(c->warnings[0]),
                     "%.80s holds a secret (line %d) and other users can read it: chmod 600 "
                     "%.80s",
                     path, lineno, path);
    }
    if (rc == 0 && ferror(f))
        rc = wp_errf(err, -EIO, "reading config %s failed: %s", path, strerror(errno));
    memset(line, 0, sizeof(line));
    fclose(f);
    return rc;
}

int wp_config_add_auto(struct wp_config *c, const struct wp_source_ops *const *kinds,
                       struct wp_err *err)
{
    if (c->no_auto)
        return 0;
    for (size_t i = 0; kinds[i]; i++) {
        if (!(kinds[i]->flags & WP_SOURCE_AUTO))
            continue;
        bool used = false;
        for (size_t j = 0; j < c->n; j++)
            used |= c->v[j].ops == kinds[i];
        if (used)
            continue;
        int rc = wp_config_add_spec(c, kinds, kinds[i]->name, false, "automatic", err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
