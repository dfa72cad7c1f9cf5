/* Power and energy from a Redfish service (DMTF DSP0266): a server's BMC, a rack PDU, a CDU.
 *
 * Discovery walks the service root once:
 * - each Chassis: EnvironmentMetrics (PowerWatts, EnergykWh, EnergyJoules), the power
 *   supplies' Metrics (InputPowerWatts, EnergykWh), the Sensors whose ReadingType is Power,
 *   EnergykWh, EnergyJoules, EnergyWh or Heat and that no resource read already names as its
 *   DataSourceUri, and, only when none of these gave the chassis' power, the deprecated
 *   Power resource (PowerControl[].PowerConsumedWatts, PowerSupplies[].PowerInputWatts);
 * - PowerEquipment/RackPDUs: each PDU's Metrics and Mains (pdu_inlet), Branches (other) and the
 *   Outlets named by outlets= (pdu_outlet: the node view adds them as the node's power).
 * A top-level chassis of a server is the node's input; a chassis inside another, and every
 * chassis of a service that holds power or cooling equipment, is "other", so that a PDU's own
 * or a CDU's draw is never taken for the node's. A CDU's heat load (ReadingType Heat) is
 * "other" too: it is heat removed, already counted as the power that made it.
 *
 * Then each resource that holds a reading is fetched once per cadence (one GET each; none of
 * the mockups or BMCs we know honour $select, so it is not sent). Power is stored in mW and
 * energy in J, both rounded from the JSON number: a Redfish power reading has at best 0.1 W
 * and an energy reading 1 Wh (kWh with three decimals) resolution. A Sensor's ReadingTime is
 * the meter's own stamp and goes through the shared meter clock rule (meter_clock.h); the
 * other resources carry no time, so their readings are placed at the middle of the GET. */
#include "sources/source.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/dynlib.h"
#include "core/grow.h"
#include "sources/meter_clock.h"
#include "sources/sysfs.h"

#define PERIOD_DEFAULT_US  1000000
#define PERIOD_MIN_US      100000
#define PERIOD_MAX_US      3600000000LL
#define TIMEOUT_DEFAULT_US 5000000
#define TIMEOUT_MIN_US     100000
#define TIMEOUT_MAX_US     120000000
/* A ReadingTime has one-second resolution on most BMCs, and a poll's round trip adds to the
 * lag: stamps within this of the host's clock are taken as they are. */
#define STAMP_TOLERANCE_US 2000000
/* A response larger than this is not a power reading (a runaway or hostile service). */
#define BODY_MAX    (4u << 20)
#define PATH_MAX_RF 512

enum auth_mode { AUTH_DEFAULT, AUTH_SESSION, AUTH_BASIC };

struct rf_resource {
    char path[PATH_MAX_RF]; /* "/redfish/v1/Chassis/1U/EnvironmentMetrics" */
    bool counters;          /* holds an energy counter (read on WP_POLL_COUNTERS too) */
    bool warned;            /* a failure of this resource alone was reported */
    bool failed;            /* this round */
    char why[512];
};

struct rf_reading {
    size_t res;
    char k1[40];   /* the member: "PowerWatts", "Reading", "PowerControl" */
    int idx;       /* k1 is an array: this element; -1 otherwise */
    char k2[40];   /* inside k1 (or its element): "Reading", "PowerConsumedWatts"; "" = k1 itself */
    double factor; /* JSON number * factor = raw */
    bool stamped;  /* a Sensor: ReadingTime is the meter's stamp */
    int id;
    bool counter;
    unsigned warned;
    struct wp_meter_clock clock;
};

/* One physical thing (a chassis, a PSU, an outlet): the device index of its readings, so a
 * power and an energy reading of one outlet are one device to the node view. */
struct rf_thing {
    char key[PATH_MAX_RF];
    char name[96];
};

struct rf_buf {
    char *p;
    size_t n, cap;
    bool too_big;
};

struct rf {
    char inst[32];
    char base[256]; /* "https://host:port", no trailing slash */
    char user[128];
    char pass[256];
    char ca_file[1024];
    bool insecure, warned_insecure;
    enum auth_mode auth;
    char chassis[256], outlets[512];
    bool have_chassis, have_outlets;
    int64_t period_us, timeout_us;
    CURL *curl;
    char curl_err[CURL_ERROR_SIZE];
    /* the session: its token is a secret, the location is not */
    char token[512];
    char session[PATH_MAX_RF];
    bool basic; /* Basic authentication on every request (no session) */
    /* what a response's headers said */
    char hdr_token[512], hdr_location[PATH_MAX_RF];
    struct rf_resource *res;
    size_t nres, capres;
    struct rf_reading *rd;
    size_t nrd, caprd;
    struct rf_thing *things;
    size_t nthings, capthings;
    /* discovery: the DataSourceUri of every reading already taken (one GET each otherwise) */
    char **covered;
    size_t ncovered, capcovered;
    bool equipment; /* the service holds PowerEquipment or ThermalEquipment */
    int64_t next_us;
};

enum { W_NOTNUM = 1, W_NEG = 2 };

/* libcurl and the TLS stack under it are loaded with dlopen when the first redfish source
 * opens, as NVML is: linked, they were mapped into every recorder (9 MB of RSS on the
 * development machine, bench/perf/rss_split.sh) whether or not a BMC was asked. */
#define CURL_LIB "libcurl.so.4"
static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *c);
    void (*easy_reset)(CURL *c);
    CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *c);
    CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode rc);
    struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
    void (*slist_free_all)(struct curl_slist *l);
} C;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static char curl_load_err[256];

static void curl_init(void)
{
    const struct wp_dl_sym syms[] = {
        {(void **)&C.global_init, "curl_global_init"},
        {(void **)&C.easy_init, "curl_easy_init"},
        {(void **)&C.easy_cleanup, "curl_easy_cleanup"},
        {(void **)&C.easy_reset, "curl_easy_reset"},
        {(void **)&C.easy_setopt, "curl_easy_setopt"},
        {(void **)&C.easy_perform, "curl_easy_perform"},
        {(void **)&C.easy_getinfo, "curl_easy_getinfo"},
        {(void **)&C.easy_strerror, "curl_easy_strerror"},
        {(void **)&C.slist_append, "curl_slist_append"},
        {(void **)&C.slist_free_all, "curl_slist_free_all"},
    };
    if (!wp_dl_load(CURL_LIB, syms, sizeof(syms) / sizeof(syms[0]), curl_load_err,
                    sizeof(curl_load_err)))
        return;
    curl_init_rc = C.global_init(CURL_GLOBAL_DEFAULT);
    if (curl_init_rc != CURLE_OK)
        snprintf(curl_load_err, sizeof(curl_load_err), "curl_global_init failed: %s",
                 C.easy_strerror(curl_init_rc));
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* ---- HTTP ---- */

static size_t on_body(char *data, size_t sz, size_t nm, void *ctx)
{
    struct rf_buf *b = ctx;
    size_t n = sz * nm;
    if (b->n + n + 1 > BODY_MAX) {
        b->too_big = true;
        return 0;
    }
    if (WP_GROW(&b->p, &b->cap, b->n + n + 1) < 0)
        return 0;
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

/* Copies header `name`'s value into out when line is that header. */
static void take_header(const char *line, size_t n, const char *name, char *out, size_t len)
{
    size_t k = strlen(name);
    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t m = (size_t)(end - v);
    if (m >= len)
        m = len - 1;
    memcpy(out, v, m);
    out[m] = '\0';
}

static size_t on_header(char *data, size_t sz, size_t nm, void *ctx)
{
    struct rf *r = ctx;
    size_t n = sz * nm;
    take_header(data, n, "X-Auth-Token", r->hdr_token, sizeof(r->hdr_token));
    take_header(data, n, "Location", r->hdr_location, sizeof(r->hdr_location));
    return n;
}

/* The URL of path: a path on the service, or an absolute URL the service gave us. */
static void url_of(const struct rf *r, const char *path, char *out, size_t len)
{
    if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0)
        snprintf(out, len, "%s", path);
    else
        snprintf(out, len, "%s%s%s", r->base, path[0] == '/' ? "" : "/", path);
}

/* One request. Returns 0 with *status set when the service answered (any status), or a
 * negative code with err naming the URL and what to do. The body is in *b (caller frees). */
static int http(struct rf *r, const char *method, const char *path, const char *body, bool auth,
                long *status, struct rf_buf *b, struct wp_err *err)
{
    char url[PATH_MAX_RF + 300];
    url_of(r, path, url, sizeof(url));
    CURL *c = r->curl;
    C.easy_reset(c);
    r->curl_err[0] = '\0';
    r->hdr_token[0] = r->hdr_location[0] = '\0';
    C.easy_setopt(c, CURLOPT_URL, url);
    C.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    C.easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_err);
    C.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(r->timeout_us / 1000));
    C.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->timeout_us / 1000));
#if LIBCURL_VERSION_NUM >= 0x075500
    C.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
#else
    C.easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
    C.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    C.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    C.easy_setopt(c, CURLOPT_WRITEDATA, b);
    C.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    C.easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (r->ca_file[0])
        C.easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
    if (r->insecure) {
        C.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        C.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    struct curl_slist *h = NULL;
    char tokhdr[600];
    h = C.slist_append(h, "Accept: application/json");
    h = C.slist_append(h, "OData-Version: 4.0");
    if (body)
        h = C.slist_append(h, "Content-Type: application/json");
    tokhdr[0] = '\0';
    if (auth && r->basic) {
        C.easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        C.easy_setopt(c, CURLOPT_USERNAME, r->user);
        C.easy_setopt(c, CURLOPT_PASSWORD, r->pass);
    } else if (auth && r->token[0]) {
        snprintf(tokhdr, sizeof(tokhdr), "X-Auth-Token: %s", r->token);
        h = C.slist_append(h, tokhdr);
    }
    C.easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (strcmp(method, "GET") != 0)
        C.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        C.easy_setopt(c, CURLOPT_POSTFIELDS, body);
        C.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = C.easy_perform(c);
    /* The token lives in the list's copy and ours: wipe both, and the password curl copied. */
    for (struct curl_slist *p = h; p; p = p->next)
        wipe(p->data, strlen(p->data));
    C.slist_free_all(h);
    wipe(tokhdr, sizeof(tokhdr));
    C.easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    C.easy_setopt(c, CURLOPT_USERNAME, NULL);
    C.easy_setopt(c, CURLOPT_PASSWORD, NULL);
    if (rc != CURLE_OK) {
        const char *why = r->curl_err[0] ? r->curl_err : C.easy_strerror(rc);
        switch (rc) {
        case CURLE_PEER_FAILED_VERIFICATION:
#if LIBCURL_VERSION_NUM < 0x073e00
        case CURLE_SSL_CACERT:
#endif
        case CURLE_SSL_CACERT_BADFILE:
            return wp_errf(err, -EACCES,
                           "%s %s: the service's TLS certificate was not accepted (%s); give the "
                           "CA that signed it with ca_file=PATH (the BMC's web interface or its "
                           "vendor tool exports it), or make its name match the url=",
                           method, url, why);
        case CURLE_COULDNT_RESOLVE_HOST:
            return wp_errf(err, -EHOSTUNREACH, "%s %s: %s; check the host in url=", method, url,
                           why);
        case CURLE_COULDNT_CONNECT:
            return wp_errf(err, -ECONNREFUSED,
                           "%s %s: cannot connect (%s); check url= (host and port) and that the "
                           "service's Redfish (HTTPS) interface is enabled",
                           method, url, why);
        case CURLE_OPERATION_TIMEDOUT:
            return wp_errf(err, -ETIMEDOUT,
                           "%s %s: no answer within %lld ms (%s); the service is down or slow "
                           "(timeout= gives it longer)",
                           method, url, (long long)(r->timeout_us / 1000), why);
        case CURLE_WRITE_ERROR:
            if (b->too_big)
                return wp_errf(err, -EMSGSIZE,
                               "%s %s: the answer is over %u bytes, not a Redfish resource", method,
                               url, BODY_MAX);
            return wp_errf(err, -ENOMEM, "out of memory");
        default:
            return wp_errf(err, -EIO, "%s %s: %s", method, url, why);
        }
    }
    C.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

static int http_status_err(const struct rf *r, const char *method, const char *path, long status,
                           struct wp_err *err)
{
    char url[PATH_MAX_RF + 300];
    url_of(r, path, url, sizeof(url));
    if (status == 401 || status == 403)
        return wp_errf(err, -EACCES,
                       "%s %s: HTTP %ld: the service refused user '%s'; check user= and the "
                       "password (password_file= or password_env=) and that the account may read "
                       "(a ReadOnly role is enough)",
                       method, url, status, r->user);
    if (status == 404)
        return wp_errf(err, -ENOENT, "%s %s: HTTP 404: the service has no such resource", method,
                       url);
    if (status == 503 || status == 502 || status == 504)
        return wp_errf(err, -EAGAIN,
                       "%s %s: HTTP %ld: the service is unavailable (busy or restarting)", method,
                       url, status);
    return wp_errf(err, -EPROTO, "%s %s: HTTP %ld", method, url, status);
}

static void logout(struct rf *r)
{
    if (r->session[0] && r->token[0]) {
        struct rf_buf b = {0};
        long status = 0;
        struct wp_err e = {0};
        /* Best effort: a BMC has few session slots, but a failed DELETE must not stop the
         * recording from finishing; the session then times out on the BMC. */
        http(r, "DELETE", r->session, NULL, true, &status, &b, &e);
        free(b.p);
    }
    wipe(r->token, sizeof(r->token));
    r->session[0] = '\0';
}

/* POST to the Sessions collection; fills token and session. -ENOTSUP when the service has
 * no sessions (the caller may fall back to Basic). */
static int login(struct rf *r, struct wp_err *err)
{
    const char *path = "/redfish/v1/SessionService/Sessions";
    json_t *o = json_pack("{s:s, s:s}", "UserName", r->user, "Password", r->pass);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body)
        return wp_errf(err, -ENOMEM, "out of memory");
    struct rf_buf b = {0};
    long status = 0;
    int rc = http(r, "POST", path, body, false, &status, &b, err);
    wipe(body, strlen(body));
    free(body);
    if (rc < 0)
        goto out;
    if (status == 404 || status == 405 || status == 501) {
        rc = wp_errf(err, -ENOTSUP, "the service has no SessionService (HTTP %ld)", status);
        goto out;
    }
    if (status != 200 && status != 201) {
        rc = http_status_err(r, "POST", path, status, err);
        goto out;
    }
    if (!r->hdr_token[0]) {
        rc = wp_errf(err, -EPROTO,
                     "POST %s%s: the service created a session but sent no X-Auth-Token; give "
                     "auth=basic",
                     r->base, path);
        goto out;
    }
    snprintf(r->token, sizeof(r->token), "%s", r->hdr_token);
    wipe(r->hdr_token, sizeof(r->hdr_token));
    if (r->hdr_location[0]) {
        /* Location may be absolute: keep the path, the DELETE goes to the same service. */
        const char *p = r->hdr_location;
        if (strncmp(p, "https://", 8) == 0 && (p = strchr(p + 8, '/')) == NULL)
            p = "";
        snprintf(r->session, sizeof(r->session), "%s", p);
    } else {
        json_t *j = json_loadb(b.p ? b.p : "", b.n, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "@odata.id"));
        snprintf(r->session, sizeof(r->session), "%s", id ? id : "");
        json_decref(j);
    }
    rc = 0;
out:
    if (b.p)
        wipe(b.p, b.n);
    free(b.p);
    return rc;
}

/* GET path as JSON. A 401 with a session logs in again once and retries (sessions expire
 * when the BMC restarts or its idle timeout passes). *t_us: the middle of the request. */
static int get_json(struct rf *r, const char *path, json_t **out, int64_t *t_us, struct wp_err *err)
{
    *out = NULL;
    for (int attempt = 0;; attempt++) {
        struct rf_buf b = {0};
        long status = 0;
        int64_t t0 = wp_wall_us();
        int rc = http(r, "GET", path, NULL, true, &status, &b, err);
        if (t_us)
            *t_us = t0 + (wp_wall_us() - t0) / 2;
        if (rc < 0) {
            free(b.p);
            return rc;
        }
        if (status == 401 && !r->basic && attempt == 0) {
            free(b.p);
            wipe(r->token, sizeof(r->token)); /* never sent again */
            r->session[0] = '\0';
            if ((rc = login(r, err)) < 0)
                return rc;
            continue;
        }
        if (status != 200) {
            free(b.p);
            /* A session that was just made and is refused anyway (an account that may not
             * read this) is given back, or every retry would leave one open on the BMC. */
            if (status == 401 && !r->basic && attempt > 0)
                logout(r);
            return http_status_err(r, "GET", path, status, err);
        }
        json_error_t je;
        json_t *j = json_loadb(b.p ? b.p : "", b.n, 0, &je);
        free(b.p);
        if (!j || !json_is_object(j)) {
            char url[PATH_MAX_RF + 300];
            url_of(r, path, url, sizeof(url));
            json_decref(j);
            if (!j)
                return wp_errf(err, -EBADMSG,
                               "GET %s returned malformed JSON (line %d, column %d: %s); the "
                               "service is faulty or this is not a Redfish service",
                               url, je.line, je.column, je.text);
            return wp_errf(err, -EBADMSG,
                           "GET %s returned JSON that is not an object; the service is faulty or "
                           "this is not a Redfish service",
                           url);
        }
        *out = j;
        return 0;
    }
}

/* ---- discovery ---- */

static const char *odata_id(json_t *o)
{
    return json_string_value(json_object_get(o, "@odata.id"));
}

/* The @odata.id of member key of o (a link object), or NULL. */
static const char *link_of(json_t *o, const char *key)
{
    return odata_id(json_object_get(o, key));
}

static bool is_covered(const struct rf *r, const char *uri)
{
    for (size_t i = 0; i < r->ncovered; i++)
        if (strcmp(r->covered[i], uri) == 0)
            return true;
    return false;
}

static int cover(struct rf *r, json_t *prop)
{
    const char *uri = json_string_value(json_object_get(prop, "DataSourceUri"));
    if (!uri || is_covered(r, uri))
        return 0;
    if (WP_GROW(&r->covered, &r->capcovered, r->ncovered + 1) < 0)
        return -ENOMEM;
    if (!(r->covered[r->ncovered] = strdup(uri)))
        return -ENOMEM;
    r->ncovered++;
    return 0;
}

static size_t resource(struct rf *r, const char *path)
{
    for (size_t i = 0; i < r->nres; i++)
        if (strcmp(r->res[i].path, path) == 0)
            return i;
    if (WP_GROW(&r->res, &r->capres, r->nres + 1) < 0)
        return (size_t)-1;
    memset(&r->res[r->nres], 0, sizeof(r->res[0]));
    snprintf(r->res[r->nres].path, sizeof(r->res[0].path), "%s", path);
    return r->nres++;
}

static int thing(struct rf *r, const char *key, const char *name)
{
    for (size_t i = 0; i < r->nthings; i++)
        if (strcmp(r->things[i].key, key) == 0)
            return (int)i;
    if (WP_GROW(&r->things, &r->capthings, r->nthings + 1) < 0)
        return -1;
    struct rf_thing *t = &r->things[r->nthings];
    snprintf(t->key, sizeof(t->key), "%s", key);
    snprintf(t->name, sizeof(t->name), "%s", name);
    return (int)r->nthings++;
}

/* "PS1InputPower" -> "ps1inputpower": a reading name safe for CSV and metric names. */
static void sanitise(char *s)
{
    for (; *s; s++) {
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
        else if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            *s = '_';
    }
}

static bool name_taken(const struct wp_sensors *tab, size_t from, const char *name)
{
    for (size_t i = from; i < tab->n; i++)
        if (strcmp(tab->v[i].name, name) == 0)
            return true;
    return false;
}

/* What a reading is, for adding it. */
struct rf_want {
    const char *path; /* the resource */
    const char *k1;
    int idx;
    const char *k2;
    double factor;
    bool counter, stamped;
    enum wp_scope scope;
    unsigned contains;
    int device;
    const char *what; /* "node input power" */
    char name[48];
};

struct disc {
    struct rf *r;
    struct wp_sensors *tab;
    struct wp_meta *meta;
    size_t first;
};

static int add(struct disc *d, struct rf_want *w)
{
    struct rf *r = d->r;
    size_t ri = resource(r, w->path);
    if (ri == (size_t)-1 || WP_GROW(&r->rd, &r->caprd, r->nrd + 1) < 0)
        return -ENOMEM;
    char base[48];
    snprintf(base, sizeof(base), "%s", w->name);
    for (unsigned n = 2; name_taken(d->tab, d->first, w->name) && n < 1000; n++)
        snprintf(w->name, sizeof(w->name), "%.40s_%u", base, n % 1000);
    struct wp_sensor s;
    memset(&s, 0, sizeof(s));
    snprintf(s.source, sizeof(s.source), "%s", r->inst);
    snprintf(s.source_kind, sizeof(s.source_kind), "redfish");
    s.device = w->device;
    if (w->device >= 0)
        snprintf(s.device_name, sizeof(s.device_name), "%s", r->things[w->device].name);
    snprintf(s.name, sizeof(s.name), "%s", w->name);
    s.quantity = w->counter ? WP_Q_ENERGY : WP_Q_POWER;
    s.kind = w->counter ? WP_COUNTER : WP_GAUGE;
    s.cadence_us = r->period_us;
    s.limit = s.default_limit = WP_NO_LIMIT;
    /* Raw J keeps 1 Wh (3600 J) resolution with room to spare; raw mW keeps 0.001 W. */
    snprintf(s.unit, sizeof(s.unit), "%s", w->counter ? "J" : "mW");
    s.scale = w->counter ? 1000.0 : 1.0;
    s.scope = w->scope;
    s.contains = w->contains;
    /* Where it came from, as the service names it: the @odata.id and the member read. */
    char src[PATH_MAX_RF + 120];
    if (w->idx >= 0)
        snprintf(src, sizeof(src), "%s#/%s/%d%s%s", w->path, w->k1, w->idx, w->k2[0] ? "/" : "",
                 w->k2);
    else
        snprintf(src, sizeof(src), "%s#/%s%s%s", w->path, w->k1, w->k2[0] ? "/" : "", w->k2);
    char help[sizeof(src) + 128];
    snprintf(help, sizeof(help), "%s, Redfish %s", w->what, src);
    if (strlen(help) >= sizeof(s.help))
        snprintf(help, sizeof(help), "Redfish %s", src); /* the source, whole, comes first */
    snprintf(s.help, sizeof(s.help), "%.127s", help);
    int id = wp_sensors_add(d->tab, &s);
    if (id < 0)
        return id;
    char key[128];
    snprintf(key, sizeof(key), "redfish.%s.%s.odata_id", r->inst, s.name);
    wp_meta_set(d->meta, key, src);
    struct rf_reading *rd = &r->rd[r->nrd++];
    memset(rd, 0, sizeof(*rd));
    rd->res = ri;
    snprintf(rd->k1, sizeof(rd->k1), "%s", w->k1);
    rd->idx = w->idx;
    snprintf(rd->k2, sizeof(rd->k2), "%s", w->k2);
    rd->factor = w->factor;
    rd->stamped = w->stamped;
    rd->counter = w->counter;
    rd->id = id;
    wp_meter_clock_init(&rd->clock, STAMP_TOLERANCE_US);
    if (w->counter)
        r->res[ri].counters = true;
    return 0;
}

static bool is_number(json_t *v)
{
    return json_is_number(v);
}

/* obj[k].Reading as a number at discovery: the reading exists on this service. */
static bool has_reading(json_t *obj, const char *k)
{
    return is_number(json_object_get(json_object_get(obj, k), "Reading"));
}

/* Adds the Reading of obj's member k (an excerpt object with Reading and DataSourceUri). */
static int add_member(struct disc *d, json_t *obj, const char *path, const char *k, double factor,
                      bool counter, enum wp_scope scope, unsigned contains, int device,
                      const char *what, const char *name)
{
    if (!has_reading(obj, k))
        return 0;
    int rc = cover(d->r, json_object_get(obj, k));
    if (rc < 0)
        return rc;
    struct rf_want w = {.path = path,
                        .k1 = k,
                        .idx = -1,
                        .k2 = "Reading",
                        .factor = factor,
                        .counter = counter,
                        .scope = scope,
                        .contains = contains,
                        .device = device,
                        .what = what};
    snprintf(w.name, sizeof(w.name), "%s", name);
    sanitise(w.name);
    return add(d, &w) < 0 ? -ENOMEM : 1;
}

/* Power and energy of an object that uses the common excerpt names (EnvironmentMetrics,
 * PowerDistributionMetrics, Circuit, Outlet). Returns how many were added. */
static int add_power_energy(struct disc *d, json_t *obj, const char *path, enum wp_scope scope,
                            unsigned contains, int device, const char *what, const char *prefix)
{
    char name[48], desc[96];
    int n = 0, rc;
    snprintf(name, sizeof(name), "%.40spower", prefix);
    snprintf(desc, sizeof(desc), "%s power", what);
    if ((rc = add_member(d, obj, path, "PowerWatts", 1000.0, false, scope, contains, device, desc,
                         name)) < 0)
        return rc;
    n += rc;
    snprintf(name, sizeof(name), "%.40senergy", prefix);
    snprintf(desc, sizeof(desc), "%s energy", what);
    if ((rc = add_member(d, obj, path, "EnergykWh", 3.6e6, true, scope, contains, device, desc,
                         name)) < 0)
        return rc;
    if (rc == 0 && (rc = add_member(d, obj, path, "EnergyJoules", 1.0, true, scope, contains,
                                    device, desc, name)) < 0)
        return rc;
    return n + rc;
}

static bool in_list(const char *list, const char *id)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strcmp(t, id) == 0)
            return true;
    return false;
}

/* The last segment of an @odata.id: "/redfish/v1/Chassis/1U" -> "1U". */
static const char *tail(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    static __thread char buf[128];
    size_t i = n;
    while (i > 0 && path[i - 1] != '/')
        i--;
    snprintf(buf, sizeof(buf), "%.*s", (int)(n - i), path + i);
    return buf;
}

/* Members of a collection at path, as a new reference to its Members array (or NULL). */
static int members(struct rf *r, const char *path, json_t **coll, json_t **arr, struct wp_err *err)
{
    int rc = get_json(r, path, coll, NULL, err);
    if (rc < 0)
        return rc;
    *arr = json_object_get(*coll, "Members");
    if (!json_is_array(*arr))
        *arr = NULL;
    return 0;
}

/* Sensor ReadingType -> factor to raw and whether it is a counter; false when not ours. */
static bool sensor_type(const char *type, const char *units, double *factor, bool *counter,
                        bool *heat)
{
    *heat = false;
    *counter = false;
    if (!type)
        return false;
    if (strcmp(type, "Power") == 0) {
        *factor = 1000.0;
        return true;
    }
    if (strcmp(type, "Heat") == 0) {
        /* Heat is in kW (Sensor schema); some services write "W" in ReadingUnits. */
        *factor = units && strcmp(units, "W") == 0 ? 1000.0 : 1e6;
        *heat = true;
        return true;
    }
    *counter = true;
    if (strcmp(type, "EnergykWh") == 0)
        *factor = 3.6e6;
    else if (strcmp(type, "EnergyWh") == 0)
        *factor = 3600.0;
    else if (strcmp(type, "EnergyJoules") == 0)
        *factor = 1.0;
    else
        return false;
    return true;
}

struct chassis_ctx {
    const char *path, *id;
    int device;
    bool top;
    bool have_power; /* the chassis' own power came from EnvironmentMetrics or a sensor */
};

static enum wp_scope chassis_scope(const struct disc *d, const struct chassis_ctx *c)
{
    return c->top && !d->r->equipment ? WP_SCOPE_NODE_INPUT : WP_SCOPE_OTHER;
}

static unsigned contains_of(enum wp_scope s)
{
    return wp_scope_default_contains(s);
}

static int disc_sensors(struct disc *d, struct chassis_ctx *c, const char *spath,
                        struct wp_err *err)
{
    struct rf *r = d->r;
    json_t *coll = NULL, *arr = NULL;
    int rc = members(r, spath, &coll, &arr, err);
    if (rc < 0)
        return rc;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        const char *mp = odata_id(m);
        if (!mp || is_covered(r, mp))
            continue;
        json_t *s = NULL;
        if ((rc = get_json(r, mp, &s, NULL, err)) == -ENOENT) {
            rc = 0; /* listed but gone: a hot-removed part */
            continue;
        }
        if (rc < 0)
            break;
        double factor;
        bool counter, heat;
        const char *type = json_string_value(json_object_get(s, "ReadingType"));
        const char *units = json_string_value(json_object_get(s, "ReadingUnits"));
        const char *ctx = json_string_value(json_object_get(s, "PhysicalContext"));
        const char *sid = json_string_value(json_object_get(s, "Id"));
        if (!sid)
            sid = tail(mp);
        if (!sensor_type(type, units, &factor, &counter, &heat)) {
            json_decref(s);
            continue;
        }
        /* An energy sensor's Reading restarts at a ResetMetrics; LifetimeReading never does. */
        const char *k1 = counter && is_number(json_object_get(s, "LifetimeReading"))
                             ? "LifetimeReading"
                             : "Reading";
        if (!is_number(json_object_get(s, k1))) {
            char key[160];
            snprintf(key, sizeof(key), "missing.%s.%s.%s", r->inst, c->id, sid);
            wp_meta_set(d->meta, key, "the sensor has no reading now (absent or disabled)");
            json_decref(s);
            continue;
        }
        struct rf_want w = {.path = mp,
                            .k1 = k1,
                            .idx = -1,
                            .k2 = "",
                            .factor = factor,
                            .counter = counter,
                            .stamped = json_is_string(json_object_get(s, "ReadingTime")),
                            .device = c->device};
        char what[96];
        if (heat) {
            w.scope = WP_SCOPE_OTHER;
            w.contains = 0;
            snprintf(what, sizeof(what), "heat load (removed by the coolant), %.40s", sid);
            char id[48];
            snprintf(id, sizeof(id), "%s", sid);
            size_t n = strlen(id);
            if (n > 8 && strcasecmp(id + n - 8, "HeatLoad") == 0)
                id[n - 8] = '\0';
            snprintf(w.name, sizeof(w.name), "heat_load%s%.36s", id[0] ? "_" : "", id);
        } else if (ctx && strcmp(ctx, "PowerSupply") == 0 && !r->equipment) {
            w.scope = WP_SCOPE_PSU;
            snprintf(what, sizeof(what), "power supply %s %.40s", counter ? "energy" : "power",
                     sid);
            snprintf(w.name, sizeof(w.name), "%.47s", sid);
        } else if ((!ctx || strcmp(ctx, "Chassis") == 0) &&
                   chassis_scope(d, c) == WP_SCOPE_NODE_INPUT &&
                   !name_taken(d->tab, d->first, counter ? "energy" : "power")) {
            w.scope = WP_SCOPE_NODE_INPUT;
            snprintf(what, sizeof(what), "node input %s (chassis %.32s)",
                     counter ? "energy" : "power", c->id);
            snprintf(w.name, sizeof(w.name), "%s", counter ? "energy" : "power");
            if (!counter)
                c->have_power = true;
        } else {
            w.scope = WP_SCOPE_OTHER;
            snprintf(what, sizeof(what), "%s %.24s (%.32s)", counter ? "energy" : "power",
                     ctx ? ctx : "sensor", sid);
            snprintf(w.name, sizeof(w.name), "%.47s", sid);
        }
        if (w.scope != WP_SCOPE_OTHER)
            w.contains = contains_of(w.scope);
        w.what = what;
        sanitise(w.name);
        /* add() copies the path: mp lives in coll, s may go. */
        rc = add(d, &w);
        json_decref(s);
        if (rc < 0) {
            rc = wp_errf(err, -ENOMEM, "out of memory");
            break;
        }
        rc = 0;
    }
    json_decref(coll);
    return rc;
}

static int disc_psus(struct disc *d, struct chassis_ctx *c, const char *pspath, struct wp_err *err)
{
    struct rf *r = d->r;
    json_t *ps = NULL;
    int rc = get_json(r, pspath, &ps, NULL, err);
    if (rc < 0)
        return rc;
    const char *coll_path = link_of(ps, "PowerSupplies");
    json_t *coll = NULL, *arr = NULL;
    if (coll_path && (rc = members(r, coll_path, &coll, &arr, err)) < 0) {
        json_decref(ps);
        return rc;
    }
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        const char *mp = odata_id(m);
        json_t *psu = NULL, *met = NULL;
        if (!mp || (rc = get_json(r, mp, &psu, NULL, err)) < 0)
            break;
        const char *metp = link_of(psu, "Metrics");
        if (metp && (rc = get_json(r, metp, &met, NULL, err)) == 0) {
            char key[PATH_MAX_RF + 8], nm[96], prefix[48], what[96];
            const char *id = json_string_value(json_object_get(psu, "Id"));
            if (!id)
                id = tail(mp);
            snprintf(key, sizeof(key), "%s", mp);
            snprintf(nm, sizeof(nm), "%.40s power supply %.40s", c->id, id);
            int dev = thing(r, key, nm);
            snprintf(prefix, sizeof(prefix), "psu_%.30s_", id);
            snprintf(what, sizeof(what), "power supply %.40s input", id);
            enum wp_scope sc = r->equipment ? WP_SCOPE_OTHER : WP_SCOPE_PSU;
            int n;
            char name[48];
            snprintf(name, sizeof(name), "%.40spower", prefix);
            if (dev < 0 ||
                (n = add_member(d, met, metp, "InputPowerWatts", 1000.0, false, sc, contains_of(sc),
                                dev, what, name)) < 0 ||
                (snprintf(name, sizeof(name), "%.40senergy", prefix),
                 snprintf(what, sizeof(what), "power supply %.40s input energy", id),
                 add_member(d, met, metp, "EnergykWh", 3.6e6, true, sc, contains_of(sc), dev, what,
                            name)) < 0)
                rc = wp_errf(err, -ENOMEM, "out of memory");
        }
        json_decref(met);
        json_decref(psu);
        if (rc < 0 && rc != -ENOENT)
            break;
        rc = 0;
    }
    json_decref(coll);
    json_decref(ps);
    return rc;
}

/* The deprecated Power resource, for BMCs that have nothing newer. */
static int disc_legacy(struct disc *d, struct chassis_ctx *c, const char *ppath, struct wp_err *err)
{
    struct rf *r = d->r;
    json_t *p = NULL;
    int rc = get_json(r, ppath, &p, NULL, err);
    if (rc < 0)
        return rc;
    json_t *pc = json_object_get(p, "PowerControl");
    size_t i;
    json_t *e;
    json_array_foreach(pc, i, e)
    {
        if (!is_number(json_object_get(e, "PowerConsumedWatts")))
            continue;
        /* PowerControl[0] is the chassis' input on every BMC we know of; later members are
         * sub-domains (a CPU or a GPU board) and not the node. */
        enum wp_scope sc = i == 0 ? chassis_scope(d, c) : WP_SCOPE_OTHER;
        struct rf_want w = {.path = ppath,
                            .k1 = "PowerControl",
                            .idx = (int)i,
                            .k2 = "PowerConsumedWatts",
                            .factor = 1000.0,
                            .scope = sc,
                            .contains = sc == WP_SCOPE_OTHER ? 0 : contains_of(sc),
                            .device = c->device};
        char what[96];
        const char *nm = json_string_value(json_object_get(e, "Name"));
        snprintf(what, sizeof(what), "%s (PowerControl %zu: %.40s)",
                 sc == WP_SCOPE_NODE_INPUT ? "node input power" : "power", i, nm ? nm : "");
        w.what = what;
        if (i == 0)
            snprintf(w.name, sizeof(w.name), "power");
        else
            snprintf(w.name, sizeof(w.name), "power_control_%zu", i);
        if (add(d, &w) < 0) {
            json_decref(p);
            return wp_errf(err, -ENOMEM, "out of memory");
        }
    }
    json_t *ps = json_object_get(p, "PowerSupplies");
    json_array_foreach(ps, i, e)
    {
        if (!is_number(json_object_get(e, "PowerInputWatts")))
            continue;
        char key[PATH_MAX_RF + 32], nm[96], what[96];
        snprintf(key, sizeof(key), "%s#/PowerSupplies/%zu", ppath, i);
        snprintf(nm, sizeof(nm), "%.40s power supply %zu", c->id, i);
        int dev = thing(r, key, nm);
        enum wp_scope sc = r->equipment ? WP_SCOPE_OTHER : WP_SCOPE_PSU;
        struct rf_want w = {.path = ppath,
                            .k1 = "PowerSupplies",
                            .idx = (int)i,
                            .k2 = "PowerInputWatts",
                            .factor = 1000.0,
                            .scope = sc,
                            .contains = contains_of(sc),
                            .device = dev};
        snprintf(what, sizeof(what), "power supply %zu input power", i);
        w.what = what;
        snprintf(w.name, sizeof(w.name), "psu_%zu_power", i);
        if (dev < 0 || add(d, &w) < 0) {
            json_decref(p);
            return wp_errf(err, -ENOMEM, "out of memory");
        }
    }
    json_decref(p);
    return 0;
}

static int disc_chassis(struct disc *d, const char *cpath, struct wp_err *err)
{
    struct rf *r = d->r;
    json_t *ch = NULL;
    int rc = get_json(r, cpath, &ch, NULL, err);
    if (rc < 0)
        return rc;
    json_t *links = json_object_get(ch, "Links");
    /* A PDU's chassis repeats, as Sensors, what its PowerEquipment resources say. */
    if (json_object_get(links, "PowerDistribution")) {
        json_decref(ch);
        return 0;
    }
    const char *id = json_string_value(json_object_get(ch, "Id"));
    char idbuf[64], nm[96];
    snprintf(idbuf, sizeof(idbuf), "%s", id ? id : tail(cpath));
    const char *cname = json_string_value(json_object_get(ch, "Name"));
    snprintf(nm, sizeof(nm), "%.40s (%.40s)", cname ? cname : "chassis", idbuf);
    struct chassis_ctx c = {.path = cpath, .id = idbuf, .device = thing(r, cpath, nm)};
    json_t *up = json_object_get(links, "ContainedBy");
    c.top = !up || !odata_id(up);
    if (c.device < 0) {
        json_decref(ch);
        return wp_errf(err, -ENOMEM, "out of memory");
    }
    enum wp_scope sc = chassis_scope(d, &c);
    char what[96];
    snprintf(what, sizeof(what), "%s (chassis %.32s)",
             sc == WP_SCOPE_NODE_INPUT ? "node input" : "chassis", idbuf);
    const char *p;
    json_t *em = NULL;
    if ((p = link_of(ch, "EnvironmentMetrics")) && (rc = get_json(r, p, &em, NULL, err)) == 0) {
        c.have_power = has_reading(em, "PowerWatts");
        rc = add_power_energy(d, em, p, sc, contains_of(sc), c.device, what,
                              sc == WP_SCOPE_NODE_INPUT ? "" : "chassis_");
        json_decref(em);
    }
    if (rc < 0 && rc != -ENOENT)
        goto out;
    if ((p = link_of(ch, "PowerSubsystem")) && (rc = disc_psus(d, &c, p, err)) < 0 && rc != -ENOENT)
        goto out;
    if ((p = link_of(ch, "Sensors")) && (rc = disc_sensors(d, &c, p, err)) < 0 && rc != -ENOENT)
        goto out;
    if (!c.have_power && (p = link_of(ch, "Power")) && (rc = disc_legacy(d, &c, p, err)) < 0 &&
        rc != -ENOENT)
        goto out;
    rc = 0;
out:
    json_decref(ch);
    return rc;
}

static int disc_pdu(struct disc *d, const char *ppath, struct wp_err *err)
{
    struct rf *r = d->r;
    json_t *pdu = NULL;
    int rc = get_json(r, ppath, &pdu, NULL, err);
    if (rc < 0)
        return rc;
    const char *pid = json_string_value(json_object_get(pdu, "Id"));
    char id[32], nm[96], what[96], prefix[48];
    snprintf(id, sizeof(id), "%s", pid ? pid : tail(ppath));
    const char *pname = json_string_value(json_object_get(pdu, "Name"));
    snprintf(nm, sizeof(nm), "rack PDU %.40s", pname ? pname : id);
    const char *p;
    json_t *o = NULL;
    if ((p = link_of(pdu, "Metrics")) && (rc = get_json(r, p, &o, NULL, err)) == 0) {
        int dev = thing(r, p, nm);
        snprintf(what, sizeof(what), "rack PDU %.24s total input", id);
        snprintf(prefix, sizeof(prefix), "pdu%.24s_", id);
        rc = dev < 0 ? -ENOMEM
                     : add_power_energy(d, o, p, WP_SCOPE_PDU_INLET,
                                        contains_of(WP_SCOPE_PDU_INLET), dev, what, prefix);
        json_decref(o);
        if (rc < 0)
            goto out;
    }
    static const struct {
        const char *link, *label;
        enum wp_scope scope;
    } parts[] = {{"Mains", "mains", WP_SCOPE_PDU_INLET},
                 {"Branches", "branch", WP_SCOPE_OTHER},
                 {"Outlets", "outlet", WP_SCOPE_PDU_OUTLET}};
    char found[512] = "";
    for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
        bool outlets = parts[k].scope == WP_SCOPE_PDU_OUTLET;
        json_t *coll = NULL, *arr = NULL;
        if (!(p = link_of(pdu, parts[k].link)))
            continue;
        if ((rc = members(r, p, &coll, &arr, err)) < 0)
            goto out;
        size_t i;
        json_t *m;
        json_array_foreach(arr, i, m)
        {
            const char *mp = odata_id(m);
            if (!mp)
                continue;
            char mid[48];
            snprintf(mid, sizeof(mid), "%s", tail(mp));
            if (outlets) {
                size_t used = strlen(found);
                snprintf(found + used, sizeof(found) - used, "%s%s", used ? "," : "", mid);
                /* Only the outlets that feed this node: the others are other nodes' power. */
                if (!r->have_outlets || !in_list(r->outlets, mid))
                    continue;
            }
            if ((rc = get_json(r, mp, &o, NULL, err)) < 0) {
                json_decref(coll);
                goto out;
            }
            char tn[96];
            snprintf(tn, sizeof(tn), "rack PDU %.24s %s %.24s", id, parts[k].label, mid);
            int dev = thing(r, mp, tn);
            snprintf(what, sizeof(what), "rack PDU %.24s %s %.24s", id, parts[k].label, mid);
            snprintf(prefix, sizeof(prefix), "pdu%.12s_%s_%.20s_", id, parts[k].label, mid);
            enum wp_scope sc = parts[k].scope;
            rc = dev < 0 ? -ENOMEM
                         : add_power_energy(d, o, mp, sc,
                                            sc == WP_SCOPE_OTHER ? WP_SCOPE_BIT(WP_SCOPE_PDU_OUTLET)
                                                                 : contains_of(sc),
                                            dev, what, prefix);
            if (rc == 0) {
                char key[160];
                snprintf(key, sizeof(key), "missing.%s.%s.%s", r->inst, parts[k].label, mid);
                wp_meta_set(d->meta, key, "no PowerWatts or EnergykWh reading in it");
            }
            json_decref(o);
            if (rc < 0) {
                json_decref(coll);
                goto out;
            }
        }
        json_decref(coll);
    }
    char key[96];
    snprintf(key, sizeof(key), "redfish.%s.pdu%s.outlets", r->inst, id);
    wp_meta_set(d->meta, key, found);
    if (r->have_outlets) {
        /* Every outlet asked for must exist: a typo would silently leave a feed out. */
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", r->outlets);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (!in_list(found, t)) {
                rc = wp_errf(err, -ENOENT,
                             "source %s: rack PDU %s has no outlet '%s' (its outlets: %s); give "
                             "outlets= as the PDU names them",
                             r->inst, id, t, found[0] ? found : "none");
                goto out;
            }
    } else if (found[0]) {
        snprintf(key, sizeof(key), "missing.%s.pdu%s.outlets", r->inst, id);
        wp_meta_setf(d->meta, key,
                     "no outlet is read: name those that feed this node with outlets= (this "
                     "PDU has %.400s)",
                     found);
    }
    rc = 0;
out:
    json_decref(pdu);
    return rc;
}

static int rf_discover(void *state, struct wp_sensors *tab, struct wp_meta *meta,
                       struct wp_err *err)
{
    struct rf *r = state;
    struct disc d = {.r = r, .tab = tab, .meta = meta, .first = tab->n};
    json_t *root = NULL;
    /* The service root answers without authentication (DSP0266), which tells a wrong url=
     * or certificate apart from a wrong password. */
    int rc = get_json(r, "/redfish/v1/", &root, NULL, err);
    if (rc < 0)
        return rc;
    const char *v = json_string_value(json_object_get(root, "RedfishVersion"));
    char key[96];
    snprintf(key, sizeof(key), "redfish.%s.version", r->inst);
    wp_meta_set(meta, key, v ? v : "");
    r->equipment = json_object_get(root, "PowerEquipment") != NULL ||
                   json_object_get(root, "ThermalEquipment") != NULL;
    bool sessions =
        link_of(root, "SessionService") || link_of(json_object_get(root, "Links"), "Sessions");
    r->basic = r->auth == AUTH_BASIC || (r->auth == AUTH_DEFAULT && !sessions);
    if (!r->basic) {
        rc = login(r, err);
        if (rc == -ENOTSUP && r->auth == AUTH_DEFAULT) {
            r->basic = true;
        } else if (rc == -ENOTSUP) {
            rc = wp_errf(err, -ENOTSUP,
                         "source %s: %s has no SessionService; give auth=basic (or leave auth= "
                         "out)",
                         r->inst, r->base);
            goto out;
        } else if (rc < 0) {
            goto out;
        }
    }
    snprintf(key, sizeof(key), "redfish.%s.auth", r->inst);
    wp_meta_set(meta, key, r->basic ? "basic" : "session");
    const char *p;
    json_t *coll = NULL, *arr = NULL;
    if ((p = link_of(root, "Chassis"))) {
        if ((rc = members(r, p, &coll, &arr, err)) < 0)
            goto out;
        size_t i;
        json_t *m;
        char seen[256] = "";
        json_array_foreach(arr, i, m)
        {
            const char *cp = odata_id(m);
            if (!cp)
                continue;
            size_t used = strlen(seen);
            snprintf(seen + used, sizeof(seen) - used, "%s%s", used ? "," : "", tail(cp));
            if (r->have_chassis && !in_list(r->chassis, tail(cp)))
                continue;
            if ((rc = disc_chassis(&d, cp, err)) < 0)
                break;
        }
        json_decref(coll);
        if (rc < 0)
            goto out;
        if (r->have_chassis) {
            char buf[256];
            snprintf(buf, sizeof(buf), "%s", r->chassis);
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
                 t = strtok_r(NULL, ",", &save))
                if (!in_list(seen, t)) {
                    rc = wp_errf(err, -ENOENT,
                                 "source %s: the service has no chassis '%s' (it has: %s)", r->inst,
                                 t, seen[0] ? seen : "none");
                    goto out;
                }
        }
    }
    json_t *pe = NULL;
    if ((p = link_of(root, "PowerEquipment")) && (rc = get_json(r, p, &pe, NULL, err)) == 0) {
        const char *rp = link_of(pe, "RackPDUs");
        if (rp && (rc = members(r, rp, &coll, &arr, err)) == 0) {
            size_t i;
            json_t *m;
            json_array_foreach(arr, i, m)
            {
                const char *pp = odata_id(m);
                if (pp && (rc = disc_pdu(&d, pp, err)) < 0)
                    break;
            }
            json_decref(coll);
        }
        json_decref(pe);
        if (rc < 0)
            goto out;
    }
    if (rc < 0 && rc != -ENOENT)
        goto out;
    if (r->have_outlets && !link_of(root, "PowerEquipment")) {
        rc = wp_errf(err, -ENOENT,
                     "source %s: outlets= was given but %s has no PowerEquipment (not a rack PDU)",
                     r->inst, r->base);
        goto out;
    }
    if (tab->n == d.first) {
        rc = wp_errf(err, -ENOENT,
                     "source %s: %s answers Redfish but has no power or energy reading (no "
                     "EnvironmentMetrics.PowerWatts, power Sensors, Power.PowerControl or rack "
                     "PDU metrics)",
                     r->inst, r->base);
        goto out;
    }
    rc = (int)(tab->n - d.first);
out:
    json_decref(root);
    for (size_t i = 0; i < r->ncovered; i++)
        free(r->covered[i]);
    free(r->covered);
    r->covered = NULL;
    r->ncovered = r->capcovered = 0;
    if (rc <= 0)
        logout(r);
    return rc;
}

/* ---- polling ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* An ISO 8601 date-time as Redfish writes it ("2019-08-13T04:14:33+06:00", fractions and Z
 * allowed) in microseconds since the epoch, and the granularity it was written with (1 s
 * without a fraction, 1 ms with three digits); -EINVAL otherwise. */
static int parse_time(const char *s, int64_t *us, int64_t *res_us)
{
    int y, mo, d, h, mi, se, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
        mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -EINVAL;
    const char *p = s + n;
    int64_t frac = 0;
    *res_us = 1000000;
    if (*p == '.') {
        int64_t scale = 100000;
        for (p++; isdigit((unsigned char)*p); p++) {
            frac += (*p - '0') * scale;
            *res_us = scale > 0 ? scale : 1;
            scale /= 10;
        }
    }
    int64_t off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return -EINVAL;
        off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    *us = (t - off) * 1000000 + frac;
    return 0;
}

static void warn_once(struct rf *r, struct wp_sink *sink, struct rf_reading *rd, unsigned bit,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void warn_once(struct rf *r, struct wp_sink *sink, struct rf_reading *rd, unsigned bit,
                      const char *fmt, ...)
{
    if (rd->warned & bit)
        return;
    rd->warned |= bit;
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    wp_sink_event(sink, wp_wall_us(), rd->id, "redfish", -1, "source %s: %s%s: %s", r->inst,
                  r->base, r->res[rd->res].path, what);
}

static void take(struct rf *r, struct rf_reading *rd, json_t *doc, int64_t t_us,
                 struct wp_sink *sink)
{
    json_t *v = json_object_get(doc, rd->k1);
    if (rd->idx >= 0)
        v = json_array_get(v, (size_t)rd->idx);
    if (rd->k2[0])
        v = json_object_get(v, rd->k2);
    if (!is_number(v)) {
        /* null while a PSU is unplugged or a sensor initialises: absent, never 0 */
        warn_once(r, sink, rd, W_NOTNUM,
                  "%s%s%s holds no number; such readings are skipped, never stored as 0", rd->k1,
                  rd->k2[0] ? "." : "", rd->k2);
        return;
    }
    double x = json_number_value(v) * rd->factor;
    if (!(x >= 0 && x < 9e18)) {
        warn_once(r, sink, rd, W_NEG,
                  "%s%s%s read %g, impossible for a meter; such readings are "
                  "dropped",
                  rd->k1, rd->k2[0] ? "." : "", rd->k2, json_number_value(v));
        return;
    }
    int64_t t = t_us;
    if (rd->stamped) {
        int64_t stamp, res;
        if (parse_time(json_string_value(json_object_get(doc, "ReadingTime")), &stamp, &res) == 0) {
            /* A stamp in whole seconds says "within this second": the shared rule places it
             * half a second on. */
            wp_meter_clock_set_resolution(&rd->clock, res);
            if (wp_meter_clock_place(&rd->clock, stamp, t_us, &t) == 0)
                return; /* the same reading served again */
            if (rd->clock.announce) {
                rd->clock.announce = false;
                wp_sink_event(sink, t_us, rd->id, "redfish", -1,
                              "source %s: %s's clock is %.1f s off the host's; its readings are "
                              "placed by their spacing (ReadingTime) at the host's time",
                              r->inst, r->base, (double)rd->clock.offset_us / 1e6);
            }
        }
    }
    wp_sink_push(sink, rd->id, t, llround(x));
}

static int rf_poll(void *state, int64_t now, unsigned flags, struct wp_sink *sink, int64_t *next,
                   struct wp_err *err)
{
    struct rf *r = state;
    if (r->insecure && !r->warned_insecure) {
        r->warned_insecure = true;
        wp_sink_event(sink, wp_wall_us(), -1, "redfish", -1,
                      "source %s: insecure=1: the TLS certificate of %s is not checked, so anyone "
                      "on the network path can read the password and forge readings; give "
                      "ca_file= instead",
                      r->inst, r->base);
    }
    bool due = now >= r->next_us;
    bool all = due || (flags & (WP_POLL_ALL | WP_POLL_FRESH));
    bool counters = all || (flags & WP_POLL_COUNTERS);
    int first_rc = 0, ok = 0, tried = 0;
    struct wp_err first = {0};
    for (size_t i = 0; i < r->nres; i++) {
        struct rf_resource *res = &r->res[i];
        if (!(all || (counters && res->counters)))
            continue;
        tried++;
        json_t *doc = NULL;
        int64_t t;
        struct wp_err e = {0};
        int rc = get_json(r, res->path, &doc, &t, &e);
        if (rc < 0) {
            if (!first_rc) {
                first_rc = rc;
                first = e;
            }
            /* The service itself is unreachable or refuses us: the next GET would only wait
             * for the same timeout. One bad resource alone does not stop the others. */
            if (rc != -EBADMSG && rc != -ENOENT && rc != -EPROTO)
                break;
            res->failed = true;
            snprintf(res->why, sizeof(res->why), "%s", e.msg);
            continue;
        }
        res->warned = res->failed = false;
        ok++;
        for (size_t k = 0; k < r->nrd; k++)
            if (r->rd[k].res == i)
                take(r, &r->rd[k], doc, t, sink);
        json_decref(doc);
    }
    if (due)
        r->next_us = wp_next_on_grid(r->next_us, now, r->period_us);
    *next = r->next_us;
    /* A resource that fails while others answer is said once here; when none answers, the
     * recorder's "unavailable" line says it. */
    for (size_t i = 0; i < r->nres; i++) {
        struct rf_resource *res = &r->res[i];
        if (res->failed && ok > 0 && !res->warned) {
            res->warned = true;
            wp_sink_event(sink, wp_wall_us(), -1, "redfish", -1, "source %s: %s", r->inst,
                          res->why);
        }
        res->failed = false;
    }
    if (tried > 0 && ok == 0 && first_rc < 0) {
        *err = first;
        return first_rc == -ENODEV ? -EIO : first_rc;
    }
    return 0;
}

/* ---- open/close ---- */

static void rf_free(struct rf *r)
{
    if (!r)
        return;
    if (r->curl) {
        logout(r);
        C.easy_cleanup(r->curl);
    }
    wipe(r->pass, sizeof(r->pass));
    wipe(r->token, sizeof(r->token));
    free(r->res);
    free(r->rd);
    free(r->things);
    for (size_t i = 0; i < r->ncovered; i++)
        free(r->covered[i]);
    free(r->covered);
    free(r);
}

static int rf_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    int rc;
    struct rf *r = calloc(1, sizeof(*r));
    if (!r)
        return wp_errf(err, -ENOMEM, "out of memory");
    snprintf(r->inst, sizeof(r->inst), "%s", cfg->name);
    const char *url = wp_source_cfg_get(cfg, "url");
    if (!url || !*url) {
        rc = wp_errf(err, -EINVAL,
                     "source %s: give the service's address with url=https://HOST[:PORT] (the "
                     "BMC's or PDU's management address)",
                     cfg->name);
        goto fail;
    }
    if (strncmp(url, "https://", 8) != 0 || !url[8] || strlen(url) >= sizeof(r->base)) {
        rc = wp_errf(err, -EINVAL,
                     "source %s: url=%s: give https://HOST[:PORT]; Redfish over plain http would "
                     "send the password in clear",
                     cfg->name, url);
        goto fail;
    }
    const char *host_end = url + 8 + strcspn(url + 8, "/?#");
    const char *at = strchr(url + 8, '@');
    if (at && at < host_end) {
        /* user:password@host would put the password in every message that names the URL */
        rc = wp_errf(err, -EINVAL,
                     "source %s: give the account with user= and password_file=, not inside "
                     "url=",
                     cfg->name);
        goto fail;
    }
    snprintf(r->base, sizeof(r->base), "%s", url);
    /* A url ending in /redfish/v1 is the same service: the paths we use carry that prefix. */
    size_t bl = strlen(r->base);
    while (bl > 8 && r->base[bl - 1] == '/')
        r->base[--bl] = '\0';
    if (bl > 11 && strcmp(r->base + bl - 11, "/redfish/v1") == 0)
        r->base[bl - 11] = '\0';
    const char *user = wp_source_cfg_get(cfg, "user");
    if (!user || !*user) {
        rc = wp_errf(err, -EINVAL,
                     "source %s: give the account with user=NAME and its password with "
                     "password_file=PATH or password_env=VAR",
                     cfg->name);
        goto fail;
    }
    snprintf(r->user, sizeof(r->user), "%s", user);
    rc = wp_source_cfg_secret(cfg, "password", r->pass, sizeof(r->pass), err);
    if (rc == -ENOENT && !wp_source_cfg_get(cfg, "password_file") &&
        !wp_source_cfg_get(cfg, "password_env"))
        rc = wp_errf(err, -EINVAL,
                     "source %s: give the password of user %s with password_file=PATH or "
                     "password_env=VAR",
                     cfg->name, user);
    if (rc < 0) {
        if (rc != -ENOMEM)
            rc = -EINVAL; /* the user asked for a file or variable that is not there */
        goto fail;
    }
    const char *ca = wp_source_cfg_get(cfg, "ca_file");
    if (ca) {
        if (access(ca, R_OK) != 0) {
            rc = wp_errf(err, -EINVAL, "source %s: cannot read ca_file=%s: %s", cfg->name, ca,
                         strerror(errno));
            goto fail;
        }
        snprintf(r->ca_file, sizeof(r->ca_file), "%s", ca);
    }
    if ((rc = wp_source_cfg_bool(cfg, "insecure", false, &r->insecure, err)) < 0)
        goto fail;
    const char *auth = wp_source_cfg_get(cfg, "auth");
    if (!auth)
        r->auth = AUTH_DEFAULT;
    else if (strcmp(auth, "session") == 0)
        r->auth = AUTH_SESSION;
    else if (strcmp(auth, "basic") == 0)
        r->auth = AUTH_BASIC;
    else {
        rc = wp_errf(err, -EINVAL, "source %s: auth=%s: give auth=session or auth=basic", cfg->name,
                     auth);
        goto fail;
    }
    const char *v;
    if ((v = wp_source_cfg_get(cfg, "chassis"))) {
        snprintf(r->chassis, sizeof(r->chassis), "%s", v);
        r->have_chassis = true;
    }
    if ((v = wp_source_cfg_get(cfg, "outlets"))) {
        snprintf(r->outlets, sizeof(r->outlets), "%s", v);
        r->have_outlets = true;
    }
    if ((rc = wp_source_cfg_duration_us(cfg, "interval", PERIOD_DEFAULT_US, PERIOD_MIN_US,
                                        PERIOD_MAX_US, &r->period_us, err)) < 0 ||
        (rc = wp_source_cfg_duration_us(cfg, "timeout", TIMEOUT_DEFAULT_US, TIMEOUT_MIN_US,
                                        TIMEOUT_MAX_US, &r->timeout_us, err)) < 0)
        goto fail;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        rc = wp_errf(err, -ENOSYS,
                     "source %s: libcurl could not be loaded (%s); install it (Debian/Ubuntu: "
                     "libcurl4 or libcurl4t64)",
                     cfg->name, curl_load_err);
        goto fail;
    }
    if (!(r->curl = C.easy_init())) {
        rc = wp_errf(err, -ENOMEM, "source %s: libcurl could not start", cfg->name);
        goto fail;
    }
    *state = r;
    return 0;
fail:
    rf_free(r);
    return rc;
}

static void rf_close(void *state)
{
    rf_free(state);
}

static const struct wp_source_key rf_keys[] = {
    {"url", "https://HOST[:PORT]  the BMC's or rack PDU's Redfish service", 0},
    {"user", "NAME  the account to log in with (a read-only role is enough)", 0},
    {"password", "the account's password", WP_KEY_SECRET},
    {"ca_file", "PATH  the CA certificate(s) that signed the service's certificate (PEM)", 0},
    {"insecure", "1  do not check the service's certificate (warned; only on a trusted network)",
     0},
    {"auth",
     "session|basic  session login (X-Auth-Token; the default, Basic when the service "
     "has no SessionService) or HTTP Basic on every request",
     0},
    {"chassis", "ID[,ID...]  only these chassis (their Id, e.g. 1U)", 0},
    {"outlets",
     "ID[,ID...]  the rack PDU outlets that feed this node (e.g. A1,B1); only they "
     "count as its power",
     0},
    {"interval", "DURATION  how often to read (default 1s)", 0},
    {"timeout", "DURATION  how long one request may take (default 5s)", 0},
    {NULL, NULL, 0},
};

const struct wp_source_ops wp_source_redfish = {
    .name = "redfish",
    .help = "a BMC's or rack PDU's Redfish service over HTTPS: node, PSU, PDU inlet and outlet "
            "power and energy, a CDU's heat load",
    .keys = rf_keys,
    .flags = WP_SOURCE_BLOCKING,
    .open = rf_open,
    .discover = rf_discover,
    .poll = rf_poll,
    .close = rf_close,
};
