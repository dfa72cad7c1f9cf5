/* Errors: library code returns a negative errno-style code and fills a wp_err with a
 * sentence that says what went wrong and what to do about it. Only the CLI prints. */
#ifndef WP_ERR_H
#define WP_ERR_H

#include <errno.h>

struct wp_err {
    int code;      /* negative errno-style code, 0 when no error */
    char msg[512]; /* one line, no trailing newline */
};

/* Fills err (if not NULL) and returns code, so callers can `return wp_errf(...)`. */
int wp_errf(struct wp_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("opening trace x: ") to an existing message. Returns err->code. */
int wp_err_prefix(struct wp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
