/* The HTTP side of `wattprof serve` (libmicrohttpd): `/metrics` from a live view, `/` saying
 * what this is, optional TLS and basic auth from a web config file.
 *
 * The web config file is the same idea as Prometheus exporters' --web.config.file, in plain
 * `key = value` lines rather than YAML: three settings do not justify a YAML library, and the
 * keys are named after the exporter toolkit's (tls_server_config.cert_file/key_file,
 * basic_auth_users) so one translates line for line:
 *
 *   tls_cert_file = /etc/wattprof/cert.pem
 *   tls_key_file = /etc/wattprof/key.pem
 *   basic_auth_user = prometheus:$2y$10$...   # user:crypt(3) hash; repeat for more users
 *
 * Passwords are stored as hashes only (bcrypt, as the exporter toolkit wants: `htpasswd -nBC
 * 10 USER`; libcrypt also takes yescrypt and SHA-512 crypt from `mkpasswd`). */
#ifndef WP_HTTP_H
#define WP_HTTP_H

#include <stdbool.h>

#include "core/err.h"
#include "net/metrics.h"
#include "recorder/live.h"

#define WP_WEB_MAX_USERS 16
struct wp_web_config {
    char tls_cert_file[1024], tls_key_file[1024];
    int nusers;
    struct {
        char user[64];
        char hash[256];
    } users[WP_WEB_MAX_USERS];
};

/* Reads a web config file. -ENOENT/-EACCES/-EINVAL with FILE:LINE and what to do. */
int wp_web_config_load(struct wp_web_config *c, const char *path, struct wp_err *err);

struct wp_http;

/* Serves on listen ("HOST:PORT", "[V6]:PORT", ":PORT" for every address; port 0 picks a free
 * one). ctx and live must outlive the server. web may be NULL. Errors: -EINVAL a bad
 * address or TLS file, -ENOENT a TLS file that cannot be read, -EADDRINUSE, -EACCES (a
 * privileged port), -ENOTSUP (TLS asked, library built without it), -EIO. */
int wp_http_start(struct wp_http **out, const char *listen, const struct wp_web_config *web,
                  struct wp_live *live, const struct wp_metrics_ctx *ctx, struct wp_err *err);
/* The address bound, e.g. "127.0.0.1:9779", and whether it speaks TLS. */
const char *wp_http_address(const struct wp_http *h);
bool wp_http_tls(const struct wp_http *h);
void wp_http_stop(struct wp_http *h);

/* Whether libmicrohttpd here can do TLS, for --version. */
bool wp_http_tls_supported(void);
const char *wp_http_library_version(void); /* "0.9.75" */

#endif
