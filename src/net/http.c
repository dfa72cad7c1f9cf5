#include "core/dynlib.h"
#include "core/str.h"
#include "net/http.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Prometheus keeps a connection per target; a few hundred covers many scrapers and tools, and
 * a flood of idle connections is closed after the timeout instead of holding memory. */
#define MAX_CONNECTIONS      512
#define CONNECTION_TIMEOUT_S 30
/* Remembered credentials that passed: bcrypt costs tens of ms on purpose, and a 1 s scrape
 * must not pay it every time. */
#define AUTH_CACHE 8
/* A TLS certificate or key larger than this is not one. */
#define PEM_MAX (1024 * 1024)

struct page {
    uint64_t generation;
    char *body;
    size_t len;
};

struct wp_http {
    struct MHD_Daemon *d;
    int fd;
    char address[128];
    bool tls;
    char *cert, *key;
    struct wp_web_config web;
    bool auth;
    struct wp_live *live;
    const struct wp_metrics_ctx *ctx;
    pthread_mutex_t lock; /* the pages and the auth cache */
    struct page page[2];  /* text, OpenMetrics */
    char *auth_ok[AUTH_CACHE];
    size_t auth_next;
};

static int set_path(char *dst, size_t cap, const char *v, const char *path, int line,
                    const char *key, struct wp_err *err)
{
    if (strlen(v) >= cap || !v[0])
        return wp_errf(err, -EINVAL, "%s:%d: %s wants a file path (at most %zu characters)", path,
                       line, key, cap - 1);
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int add_user(struct wp_web_config *c, const char *v, const char *path, int line,
                    struct wp_err *err)
{
    const char *colon = strchr(v, ':');
    if (!colon || colon == v || !colon[1])
        return wp_errf(err, -EINVAL,
                       "%s:%d: basic_auth_user wants USER:HASH, a crypt(3) hash such as "
                       "`htpasswd -nBC 10 USER` prints (never the password itself)",
                       path, line);
    const char *hash = colon + 1;
    if (hash[0] != '$')
        return wp_errf(err, -EINVAL,
                       "%s:%d: the password of basic_auth_user must be a crypt(3) hash starting "
                       "with '$' ($2y$... from `htpasswd -nBC 10 USER`), not the password itself",
                       path, line);
    if (c->nusers == WP_WEB_MAX_USERS)
        return wp_errf(err, -EINVAL, "%s:%d: at most %d basic_auth_user lines", path, line,
                       WP_WEB_MAX_USERS);
    size_t ulen = (size_t)(colon - v);
    if (ulen >= sizeof(c->users[0].user) || strlen(hash) >= sizeof(c->users[0].hash))
        return wp_errf(err, -EINVAL, "%s:%d: user name or hash too long", path, line);
    memcpy(c->users[c->nusers].user, v, ulen);
    c->users[c->nusers].user[ulen] = '\0';
    snprintf(c->users[c->nusers].hash, sizeof(c->users[0].hash), "%s", hash);
    c->nusers++;
    return 0;
}

int wp_web_config_load(struct wp_web_config *c, const char *path, struct wp_err *err)
{
    memset(c, 0, sizeof(*c));
    FILE *f = fopen(path, "r");
    if (!f)
        return wp_errf(err, -errno, "cannot read the web config %s: %s", path, strerror(errno));
    char buf[2048];
    int line = 0, rc = 0;
    while (rc == 0 && fgets(buf, sizeof(buf), f)) {
        line++;
        char *hash = strchr(buf, '#');
        /* A crypt hash holds no '#', so a '#' always starts a comment. */
        if (hash)
            *hash = '\0';
        char *s = wp_trim(buf);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = wp_errf(err, -EINVAL,
                         "%s:%d: expected KEY = VALUE (keys: tls_cert_file, "
                         "tls_key_file, basic_auth_user)",
                         path, line);
            break;
        }
        *eq = '\0';
        char *k = wp_trim(s), *v = wp_trim(eq + 1);
        if (strcmp(k, "tls_cert_file") == 0)
            rc = set_path(c->tls_cert_file, sizeof(c->tls_cert_file), v, path, line, k, err);
        else if (strcmp(k, "tls_key_file") == 0)
            rc = set_path(c->tls_key_file, sizeof(c->tls_key_file), v, path, line, k, err);
        else if (strcmp(k, "basic_auth_user") == 0)
            rc = add_user(c, v, path, line, err);
        else
            rc = wp_errf(err, -EINVAL,
                         "%s:%d: unknown key '%s' (keys: tls_cert_file, tls_key_file, "
                         "basic_auth_user)",
                         path, line, k);
    }
    /* A directory opens but does not read (EISDIR): never taken as an empty config, which
     * would serve without the TLS and auth it was meant to hold. */
    int read_errno = ferror(f) ? (errno ? errno : EIO) : 0;
    if (rc == 0 && read_errno)
        rc = wp_errf(err, -read_errno, "cannot read the web config %s: %s", path,
                     strerror(read_errno));
    fclose(f);
    if (rc == 0 && (!c->tls_cert_file[0]) != (!c->tls_key_file[0]))
        rc = wp_errf(err, -EINVAL, "%s: TLS needs both tls_cert_file and tls_key_file", path);
    return rc;
}

/* libmicrohttpd, and the GnuTLS under it, are loaded with dlopen when `serve` starts, as NVML
 * is: linked, they were mapped into every recorder (bench/perf/rss_split.sh). Only the header
 * is needed at build time. */
#define MHD_LIB "libmicrohttpd.so.12"
static struct {
    enum MHD_Result (*is_feature_supported)(enum MHD_FEATURE feature);
    const char *(*get_version)(void);
    struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
                                                        enum MHD_ResponseMemoryMode mode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *header,
                                           const char *content);
    enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned int status_code,
                                      struct MHD_Response *r);
    void (*destroy_response)(struct MHD_Response *r);
    const char *(*lookup_connection_value)(struct MHD_Connection *c, enum MHD_ValueKind kind,
                                           const char *key);
    char *(*basic_auth_get_username_password)(struct MHD_Connection *c, char **password);
    void (*free)(void *ptr);
    enum MHD_Result (*queue_basic_auth_fail_response)(struct MHD_Connection *c, const char *realm,
                                                      struct MHD_Response *r);
    struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
                                       MHD_AcceptPolicyCallback apc, void *apc_cls,
                                       MHD_AccessHandlerCallback dh, void *dh_cls, ...);
    void (*stop_daemon)(struct MHD_Daemon *d);
} M;
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static bool mhd_ok;
static char mhd_load_err[256];

static void mhd_load(void)
{
    const struct wp_dl_sym syms[] = {
        {(void **)&M.is_feature_supported, "MHD_is_feature_supported"},
        {(void **)&M.get_version, "MHD_get_version"},
        {(void **)&M.create_response_from_buffer, "MHD_create_response_from_buffer"},
        {(void **)&M.add_response_header, "MHD_add_response_header"},
        {(void **)&M.queue_response, "MHD_queue_response"},
        {(void **)&M.destroy_response, "MHD_destroy_response"},
        {(void **)&M.lookup_connection_value, "MHD_lookup_connection_value"},
        {(void **)&M.basic_auth_get_username_password, "MHD_basic_auth_get_username_password"},
        {(void **)&M.free, "MHD_free"},
        {(void **)&M.queue_basic_auth_fail_response, "MHD_queue_basic_auth_fail_response"},
        {(void **)&M.start_daemon, "MHD_start_daemon"},
        {(void **)&M.stop_daemon, "MHD_stop_daemon"},
    };
    if (!wp_dl_load(MHD_LIB, syms, sizeof(syms) / sizeof(syms[0]), mhd_load_err,
                    sizeof(mhd_load_err)))
        return;
    mhd_ok = true;
}

static bool mhd_loaded(void)
{
    pthread_once(&mhd_once, mhd_load);
    return mhd_ok;
}

bool wp_http_tls_supported(void)
{
    return mhd_loaded() && M.is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

const char *wp_http_library_version(void)
{
    return mhd_loaded() ? M.get_version() : "(not loadable)";
}

/* ---- requests ---- */

static const char index_html[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>wattprof</title></head>\n"
    "<body><h1>wattprof serve</h1>\n"
    "<p>The power and energy of this node's GPUs and meters, recorded by wattprof from every "
    "sample (20 ms on H100/H200), for Prometheus.</p>\n"
    "<p><a href=\"/metrics\">/metrics</a>: Prometheus text format, or OpenMetrics when the "
    "Accept header asks for it. Trailing maxima and minima over 1 s, 10 s and 60 s keep the "
    "peaks between scrapes.</p>\n</body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        M.create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    M.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* A 405 must say which methods are allowed (RFC 9110, 15.5.6). */
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        M.add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ok = M.queue_response(conn, status, r);
    M.destroy_response(r);
    return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return reply(conn, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* Constant time over the cached entry, so a timing does not tell how much of a guess was
 * right. */
static bool same(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static bool check_auth(struct wp_http *h, const char *user, const char *pass)
{
    char key[512];
    if (snprintf(key, sizeof(key), "%s:%s", user, pass) >= (int)sizeof(key))
        return false;
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < AUTH_CACHE; i++)
        if (h->auth_ok[i] && same(h->auth_ok[i], key)) {
            pthread_mutex_unlock(&h->lock);
            return true;
        }
    pthread_mutex_unlock(&h->lock);
    bool ok = false;
    for (int i = 0; i < h->web.nusers && !ok; i++) {
        if (strcmp(h->web.users[i].user, user) != 0)
            continue;
        struct crypt_data cd;
        memset(&cd, 0, sizeof(cd));
        const char *got = crypt_r(pass, h->web.users[i].hash, &cd);
        ok = got && got[0] != '*' && same(got, h->web.users[i].hash);
    }
    if (ok) {
        pthread_mutex_lock(&h->lock);
        free(h->auth_ok[h->auth_next]);
        h->auth_ok[h->auth_next] = strdup(key);
        h->auth_next = (h->auth_next + 1) % AUTH_CACHE;
        pthread_mutex_unlock(&h->lock);
    }
    return ok;
}

static enum MHD_Result serve_metrics(struct wp_http *h, struct MHD_Connection *conn)
{
    const char *accept = M.lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    bool om = wp_metrics_wants_openmetrics(accept);
    struct page *p = &h->page[om];
    uint64_t gen = wp_live_generation(h->live);
    pthread_mutex_lock(&h->lock);
    /* Every scraper between two batches gets the same page: it is made once per batch. */
    if (!p->body || p->generation != gen) {
        struct wp_live_snapshot snap;
        char *body;
        size_t len;
        if (wp_live_snapshot(h->live, &snap) == 0) {
            if (wp_metrics_render(h->ctx, &snap, om, &body, &len) == 0) {
                free(p->body);
                p->body = body;
                p->len = len;
                p->generation = snap.generation;
            }
            wp_live_snapshot_free(&snap);
        }
    }
    enum MHD_Result rc =
        p->body
            ? reply(conn, MHD_HTTP_OK,
                    om ? WP_METRICS_CONTENT_TYPE_OM : WP_METRICS_CONTENT_TYPE_TEXT, p->body, p->len)
            : reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req)
{
    struct wp_http *h = cls;
    (void)version;
    (void)upload;
    /* The first call only announces the request; answer on the second, once headers are in. */
    if (!*req) {
        *req = h;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* a body is not for us; ignore it */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (h->auth) {
        char *pass = NULL;
        char *user = M.basic_auth_get_username_password(conn, &pass);
        bool ok = user && pass && check_auth(h, user, pass);
        if (user)
            M.free(user);
        if (pass)
            M.free(pass);
        if (!ok) {
            static const char msg[] = "wattprof: authentication required\n";
            struct MHD_Response *r =
                M.create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
            if (!r)
                return MHD_NO;
            enum MHD_Result rc = M.queue_basic_auth_fail_response(conn, "wattprof", r);
            M.destroy_response(r);
            return rc;
        }
    }
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, conn);
    if (strcmp(url, "/") == 0)
        return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", index_html,
                     sizeof(index_html) - 1);
    return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: wattprof serves / and /metrics\n");
}

/* ---- start and stop ---- */

static int read_pem(const char *path, char **out, struct wp_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return wp_errf(err, -ENOENT, "cannot read %s: %s", path, strerror(errno));
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    fclose(f);
    if (!buf)
        return wp_errf(err, -ENOMEM, "out of memory");
    if (n == 0 || n > PEM_MAX) {
        free(buf);
        return wp_errf(err, -EINVAL, "%s is %s: give a PEM certificate or key", path,
                       n ? "too large" : "empty");
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* Binds the listening socket ourselves, so a clash or a bad address gets a clear message
 * before anything else starts. */
static int bind_listen(struct wp_http *h, const char *addr, struct wp_err *err)
{
    char host[256];
    const char *port;
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return wp_errf(err, -EINVAL, "--listen wants HOST:PORT (e.g. 127.0.0.1:9779), not '%s'",
                       addr);
    size_t hl = (size_t)(colon - addr);
    const char *hs = addr;
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']')
        hs++, hl -= 2;
    if (hl >= sizeof(host))
        return wp_errf(err, -EINVAL, "--listen: host name too long");
    memcpy(host, hs, hl);
    host[hl] = '\0';
    port = colon + 1;
    char *end;
    long pn = strtol(port, &end, 10);
    if (!*port || *end || pn < 0 || pn > 65535)
        return wp_errf(err, -EINVAL, "--listen: '%s' is not a port number (0-65535)", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *ai = NULL;
    int gai = getaddrinfo(hl ? host : NULL, port, &hints, &ai);
    if (gai != 0)
        return wp_errf(err, -EINVAL, "--listen: cannot resolve '%s': %s", host, gai_strerror(gai));
    int rc = -EINVAL, fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 128) == 0)
            break;
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return wp_errf(err, rc, "cannot listen on %s: %s%s", addr, strerror(-rc),
                       rc == -EADDRINUSE ? " (another exporter or wattprof serve has the port; "
                                           "pick another with --listen)"
                                         : "");
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ab[INET6_ADDRSTRLEN] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, ab, sizeof(ab));
            snprintf(h->address, sizeof(h->address), "%s:%d", ab, ntohs(s4->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, ab, sizeof(ab));
            snprintf(h->address, sizeof(h->address), "[%s]:%d", ab, ntohs(s6->sin6_port));
        }
    }
    h->fd = fd;
    return 0;
}

int wp_http_start(struct wp_http **out, const char *listen_addr, const struct wp_web_config *web,
                  struct wp_live *live, const struct wp_metrics_ctx *ctx, struct wp_err *err)
{
    struct wp_http *h = calloc(1, sizeof(*h));
    if (!h)
        return wp_errf(err, -ENOMEM, "out of memory");
    h->fd = -1;
    h->live = live;
    h->ctx = ctx;
    pthread_mutex_init(&h->lock, NULL);
    if (web)
        h->web = *web;
    h->auth = h->web.nusers > 0;
    h->tls = h->web.tls_cert_file[0] != '\0';
    int rc;
    if (!mhd_loaded()) {
        rc = wp_errf(err, -ENOSYS,
                     "libmicrohttpd could not be loaded (%s); install it (Debian/Ubuntu: "
                     "libmicrohttpd12 or libmicrohttpd12t64)",
                     mhd_load_err);
        goto fail;
    }
    if (h->tls && !wp_http_tls_supported()) {
        rc = wp_errf(err, -ENOTSUP,
                     "this libmicrohttpd was built without TLS; serve plain HTTP "
                     "behind a TLS proxy, or install a libmicrohttpd with GnuTLS");
        goto fail;
    }
    if (h->tls && ((rc = read_pem(h->web.tls_cert_file, &h->cert, err)) < 0 ||
                   (rc = read_pem(h->web.tls_key_file, &h->key, err)) < 0))
        goto fail;
    if ((rc = bind_listen(h, listen_addr, err)) < 0)
        goto fail;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (h->tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = M.start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, h->fd,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                          MHD_OPTION_ARRAY, h->tls ? tls_opts : tls_opts + 2, MHD_OPTION_END);
    if (!h->d) {
        rc = wp_errf(err, -EIO, "cannot start the HTTP server on %s%s", h->address,
                     h->tls ? " (is the key the certificate's, both PEM?)" : "");
        goto fail;
    }
    h->fd = -1; /* the daemon's now: MHD_stop_daemon closes it */
    *out = h;
    return 0;
fail:
    wp_http_stop(h);
    return rc;
}

const char *wp_http_address(const struct wp_http *h)
{
    return h->address;
}

bool wp_http_tls(const struct wp_http *h)
{
    return h->tls;
}

void wp_http_stop(struct wp_http *h)
{
    if (!h)
        return;
    if (h->d)
        M.stop_daemon(h->d);
    if (h->fd >= 0)
        close(h->fd);
    for (int i = 0; i < 2; i++)
        free(h->page[i].body);
    for (size_t i = 0; i < AUTH_CACHE; i++)
        free(h->auth_ok[i]);
    if (h->key) {
        /* the private key: do not leave it in freed memory */
        explicit_bzero(h->key, strlen(h->key));
        free(h->key);
    }
    free(h->cert);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
