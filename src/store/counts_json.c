/* Mark counts <-> a flat JSON object of numbers. Only what the writer produces needs to be
 * read back, but the parser stays strict JSON so that people who write counts with other tools
 * (sqlite3, Python) get an error rather than a silently different number. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "store/trace_int.h"

int wp_store_counts_to_json(const struct wp_mark *m, char *buf, size_t cap)
{
    if (cap == 0)
        return -ENOSPC;
    buf[0] = '\0';
    /* fmemopen lets the project's one JSON writer (core/json.c) fill a fixed buffer. */
    FILE *f = fmemopen(buf, cap, "w");
    if (!f)
        return -ENOMEM;
    struct wp_json j;
    wp_json_init(&j, f, 0);
    wp_json_obj_begin(&j);
    int nc = m->ncounts < 0 ? 0 : m->ncounts;
    if (nc > WP_MARK_MAX_COUNTS)
        nc = WP_MARK_MAX_COUNTS;
    for (int i = 0; i < nc; i++) {
        char key[sizeof(m->counts[i].key) + 1];
        memcpy(key, m->counts[i].key, sizeof(m->counts[i].key));
        key[sizeof(m->counts[i].key)] = '\0';
        wp_json_kdouble(&j, key, m->counts[i].value); /* NAN is written as null */
    }
    wp_json_obj_end(&j);
    int rc = wp_json_end(&j);
    long len = ftell(f);
    fclose(f);
    /* The text and its NUL must both fit; fmemopen reports a full buffer as a write error. */
    if (rc < 0 || len < 0 || (size_t)len >= cap) {
        buf[0] = '\0';
        return -ENOSPC;
    }
    buf[len] = '\0';
    return 0;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads a JSON string at p (at its opening quote) into dst; returns the char after it. */
static const char *get_str(const char *p, char *dst, size_t cap)
{
    size_t n = 0;
    if (*p++ != '"')
        return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*p++;
        char tmp[4];
        size_t k = 1;
        if (c == '"')
            break;
        if (c < 0x20)
            return NULL; /* also the terminating NUL */
        tmp[0] = (char)c;
        if (c == '\\') {
            char e = *p++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                tmp[0] = e;
                break;
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case 'n':
                tmp[0] = '\n';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'u': {
                unsigned cp = 0;
                for (int i = 0; i < 4; i++) {
                    int h = hexval(p[i]);
                    if (h < 0)
                        return NULL;
                    cp = cp << 4 | (unsigned)h;
                }
                p += 4;
                if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                    return NULL; /* NUL cannot live in a C key; surrogates never written */
                if (cp < 0x80) {
                    tmp[0] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[0] = (char)(0xC0 | cp >> 6);
                    tmp[1] = (char)(0x80 | (cp & 0x3F));
                    k = 2;
                } else {
                    tmp[0] = (char)(0xE0 | cp >> 12);
                    tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    tmp[2] = (char)(0x80 | (cp & 0x3F));
                    k = 3;
                }
                break;
            }
            default:
                return NULL;
            }
        }
        if (n + k >= cap)
            return NULL;
        memcpy(dst + n, tmp, k);
        n += k;
    }
    dst[n] = '\0';
    return p;
}

/* A JSON number (strict grammar, so "inf", "0x10" and "1." are refused) or null. */
static const char *get_num(const char *p, double *v)
{
    if (strncmp(p, "null", 4) == 0) {
        *v = NAN;
        return p + 4;
    }
    const char *q = p;
    if (*q == '-')
        q++;
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (*q >= '0' && *q <= '9')
            q++;
    } else {
        return NULL;
    }
    if (*q == '.') {
        q++;
        if (!(*q >= '0' && *q <= '9'))
            return NULL;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!(*q >= '0' && *q <= '9'))
            return NULL;
        while (*q >= '0' && *q <= '9')
            q++;
    }
    char *end;
    *v = strtod(p, &end);
    return end == q ? q : NULL;
}

int wp_store_counts_parse(const char *json, struct wp_mark *m)
{
    m->ncounts = 0;
    const char *p = skip_ws(json);
    if (*p++ != '{')
        return -EINVAL;
    p = skip_ws(p);
    if (*p == '}')
        return *skip_ws(p + 1) ? -EINVAL : 0;
    for (;;) {
        if (m->ncounts >= WP_MARK_MAX_COUNTS)
            return -EINVAL;
        struct wp_mark_count *c = &m->counts[m->ncounts];
        char key[sizeof(c->key) + 1];
        if (!(p = get_str(p, key, sizeof(key))) || strlen(key) >= sizeof(c->key))
            return -EINVAL;
        p = skip_ws(p);
        if (*p++ != ':')
            return -EINVAL;
        if (!(p = get_num(skip_ws(p), &c->value)))
            return -EINVAL;
        memcpy(c->key, key, strlen(key) + 1);
        m->ncounts++;
        p = skip_ws(p);
        if (*p == '}')
            break;
        if (*p++ != ',')
            return -EINVAL;
        p = skip_ws(p);
    }
    return *skip_ws(p + 1) ? -EINVAL : 0;
}
