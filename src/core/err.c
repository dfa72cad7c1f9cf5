#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int wp_errf(struct wp_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int wp_err_prefix(struct wp_err *err, const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    char prefix[256];
    char old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t p = strnlen(prefix, sizeof(prefix));
    if (p > sizeof(err->msg) - 1)
        p = sizeof(err->msg) - 1;
    memcpy(err->msg, prefix, p);
    size_t room = sizeof(err->msg) - 1 - p;
    size_t o = strnlen(old, sizeof(old));
    if (o > room)
        o = room; /* a long message loses its tail, never the context */
    memcpy(err->msg + p, old, o);
    err->msg[p + o] = 0;
    return err->code;
}
