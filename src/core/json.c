#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

/* Scans the UTF-8 sequence at p, following the table of well-formed byte sequences in the
 * Unicode standard (ch. 3; no overlongs, surrogates or code points above U+10FFFF). Returns
 * its length (1-4) when well-formed. Otherwise returns 0 and sets *bad to the length of the
 * maximal ill-formed subpart (the lead byte plus the continuation bytes that were still
 * acceptable), which is what gets one U+FFFD: the same substitution Python, browsers and
 * the Unicode recommendation use. */
static size_t utf8_scan(const unsigned char *p, size_t *bad)
{
    unsigned char b = p[0];
    *bad = 1;
    if (b < 0x80)
        return 1;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    /* The terminating NUL is never a continuation byte, so this stops at the string end. */
    for (size_t i = 1; i < len; i++) {
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (p[i] < l || p[i] > h) {
            *bad = i;
            return 0;
        }
    }
    return len;
}

int wp_json_write_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    putc('"', f);
    while (*p) {
        unsigned char c = *p;
        size_t bad, n = utf8_scan(p, &bad);
        if (n == 0) {
            fputs("\\ufffd", f);
            p += bad;
            continue;
        }
        if (n == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
            fprintf(f, "\\u%04x", p[2] == 0xA8 ? 0x2028u : 0x2029u);
        } else if (n > 1) {
            fwrite(p, 1, n, f);
        } else if (c == '"' || c == '\\') {
            putc('\\', f);
            putc(c, f);
        } else if (c < 0x20) {
            switch (c) {
            case '\n':
                fputs("\\n", f);
                break;
            case '\t':
                fputs("\\t", f);
                break;
            case '\r':
                fputs("\\r", f);
                break;
            case '\b':
                fputs("\\b", f);
                break;
            case '\f':
                fputs("\\f", f);
                break;
            default:
                fprintf(f, "\\u%04x", (unsigned)c);
            }
        } else {
            putc(c, f);
        }
        p += n;
    }
    putc('"', f);
    return ferror(f) ? -EIO : 0;
}

void wp_json_init(struct wp_json *j, FILE *f, int indent)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->indent = indent > 0 ? indent : 0;
    j->first[0] = true;
}

static void misuse(struct wp_json *j)
{
    if (!j->err)
        j->err = -EINVAL;
}

static void newline(struct wp_json *j)
{
    if (!j->indent)
        return;
    putc('\n', j->f);
    for (int i = 0; i < j->depth * j->indent; i++)
        putc(' ', j->f);
}

/* Everything that precedes a value: a comma and line break inside arrays, nothing after a
 * key. Returns false (and records misuse) where no value may go. */
static bool before_value(struct wp_json *j)
{
    if (j->err)
        return false;
    if (j->depth == 0) {
        if (!j->first[0]) { /* a second top-level value */
            misuse(j);
            return false;
        }
        j->first[0] = false;
        return true;
    }
    if (j->is_obj[j->depth]) {
        if (!j->want_value) {
            misuse(j);
            return false;
        }
        j->want_value = false;
        return true;
    }
    if (!j->first[j->depth])
        putc(',', j->f);
    j->first[j->depth] = false;
    newline(j);
    return true;
}

static void open_container(struct wp_json *j, bool obj)
{
    if (!before_value(j))
        return;
    if (j->depth >= WP_JSON_MAX_DEPTH) {
        misuse(j);
        return;
    }
    putc(obj ? '{' : '[', j->f);
    j->depth++;
    j->first[j->depth] = true;
    j->is_obj[j->depth] = obj;
}

static void close_container(struct wp_json *j, bool obj)
{
    if (j->err)
        return;
    if (j->depth == 0 || j->is_obj[j->depth] != obj || j->want_value) {
        misuse(j);
        return;
    }
    bool empty = j->first[j->depth];
    j->depth--;
    if (!empty)
        newline(j);
    putc(obj ? '}' : ']', j->f);
}

void wp_json_obj_begin(struct wp_json *j)
{
    open_container(j, true);
}

void wp_json_obj_end(struct wp_json *j)
{
    close_container(j, true);
}

void wp_json_arr_begin(struct wp_json *j)
{
    open_container(j, false);
}

void wp_json_arr_end(struct wp_json *j)
{
    close_container(j, false);
}

void wp_json_key(struct wp_json *j, const char *key)
{
    if (j->err)
        return;
    if (j->depth == 0 || !j->is_obj[j->depth] || j->want_value || !key) {
        misuse(j);
        return;
    }
    if (!j->first[j->depth])
        putc(',', j->f);
    j->first[j->depth] = false;
    newline(j);
    wp_json_write_string(j->f, key);
    fputs(j->indent ? ": " : ":", j->f);
    j->want_value = true;
}

void wp_json_str(struct wp_json *j, const char *s)
{
    if (!s) {
        wp_json_null(j);
        return;
    }
    if (before_value(j))
        wp_json_write_string(j->f, s);
}

void wp_json_double(struct wp_json *j, double v)
{
    if (!isfinite(v)) {
        wp_json_null(j);
        return;
    }
    if (!before_value(j))
        return;
    char buf[40];
    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    fputs(buf, j->f);
}

void wp_json_int(struct wp_json *j, int64_t v)
{
    if (before_value(j))
        fprintf(j->f, "%" PRId64, v);
}

void wp_json_uint(struct wp_json *j, uint64_t v)
{
    if (before_value(j))
        fprintf(j->f, "%" PRIu64, v);
}

void wp_json_bool(struct wp_json *j, bool v)
{
    if (before_value(j))
        fputs(v ? "true" : "false", j->f);
}

void wp_json_null(struct wp_json *j)
{
    if (before_value(j))
        fputs("null", j->f);
}

void wp_json_kstr(struct wp_json *j, const char *key, const char *s)
{
    wp_json_key(j, key);
    wp_json_str(j, s);
}

void wp_json_kdouble(struct wp_json *j, const char *key, double v)
{
    wp_json_key(j, key);
    wp_json_double(j, v);
}

void wp_json_kint(struct wp_json *j, const char *key, int64_t v)
{
    wp_json_key(j, key);
    wp_json_int(j, v);
}

void wp_json_kuint(struct wp_json *j, const char *key, uint64_t v)
{
    wp_json_key(j, key);
    wp_json_uint(j, v);
}

void wp_json_kbool(struct wp_json *j, const char *key, bool v)
{
    wp_json_key(j, key);
    wp_json_bool(j, v);
}

void wp_json_knull(struct wp_json *j, const char *key)
{
    wp_json_key(j, key);
    wp_json_null(j);
}

int wp_json_end(struct wp_json *j)
{
    if (!j->err && (j->depth != 0 || j->first[0] || j->want_value))
        misuse(j);
    if (!j->err && j->indent)
        putc('\n', j->f);
    if (fflush(j->f) != 0 || ferror(j->f))
        return -EIO;
    return j->err;
}

int wp_json_end_line(struct wp_json *j)
{
    if (!j->err && (j->depth != 0 || j->first[0] || j->want_value))
        misuse(j);
    int rc = j->err;
    if (!rc)
        putc('\n', j->f);
    if (ferror(j->f))
        rc = -EIO;
    wp_json_init(j, j->f, j->indent);
    return rc;
}
