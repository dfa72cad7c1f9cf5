/* The marks grammar, in one place for both ends: the receiver (marks.c) parses with it and
 * the C client (src/libwattprof/marks_client.c) validates with it before sending, so the
 * client can never send what the receiver rejects. Everything here is static and needs only
 * libc headers, because the client library must not link against the rest of wattprof.
 *
 * Numbers are parsed by hand, not with strtod: the client runs inside the job, and a job that
 * called setlocale() (de_DE, fr_FR, ...) would make strtod expect a decimal comma and reject
 * "1.5". The grammar is in src/marks/marks.h. */
#ifndef WP_MARKS_SYNTAX_H
#define WP_MARKS_SYNTAX_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/sensor.h"

#define WP_MARK_MSG_MAX 512
#define WP_MARK_KEY_MAX ((int)sizeof(((struct wp_mark_count *)0)->key) - 1)

static inline bool wp_mark_syntax_name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("_.:/@+-", c) != NULL);
}

/* 0 when s[0..n) is a valid phase name, else fills why. */
static inline int wp_mark_syntax_name(const char *s, size_t n, char *why, size_t whylen)
{
    if (n == 0) {
        snprintf(why, whylen, "the phase name is empty; give 1 to %d characters", WP_MARK_NAME_MAX);
        return -1;
    }
    if (n > WP_MARK_NAME_MAX) {
        snprintf(why, whylen, "phase name '%.20s...' is %zu characters, over the limit of %d", s, n,
                 WP_MARK_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!wp_mark_syntax_name_char((unsigned char)s[i])) {
            if (s[i] >= 0x21 && s[i] <= 0x7e)
                snprintf(why, whylen,
                         "phase name '%.*s' contains '%c'; use letters, digits and _ . : / @ + -",
                         (int)n, s, s[i]);
            else
                snprintf(why, whylen,
                         "phase name contains byte 0x%02x; use letters, digits and _ . : / @ + -",
                         (unsigned char)s[i]);
            return -1;
        }
    }
    return 0;
}

static inline int wp_mark_syntax_key(const char *s, size_t n, char *why, size_t whylen)
{
    if (n == 0) {
        snprintf(why, whylen, "a count has no key before '='; write KEY=VALUE, e.g. samples=512");
        return -1;
    }
    if (n > (size_t)WP_MARK_KEY_MAX) {
        snprintf(why, whylen, "count key '%.20s...' is %zu characters, over the limit of %d", s, n,
                 WP_MARK_KEY_MAX);
        return -1;
    }
    if (!(s[0] >= 'a' && s[0] <= 'z')) {
        snprintf(why, whylen, "count key '%.*s' must start with a lowercase letter", (int)n, s);
        return -1;
    }
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            snprintf(why, whylen,
                     "count key '%.*s' contains '%c'; use lowercase letters, digits and _", (int)n,
                     s, c);
            return -1;
        }
    }
    return 0;
}

/* 10^k for 0 <= k, by squaring: exact up to 10^22, which covers every count a job sends, and
 * needs no libm in the client. */
static inline double wp_mark_syntax_pow10(int k)
{
    double p = 1.0, b = 10.0;
    while (k > 0) {
        if (k & 1)
            p *= b;
        b *= b;
        k >>= 1;
    }
    return p;
}

/* Decimal number: DIGITS [. DIGITS] or . DIGITS, then optional [eE][+-]DIGITS. No sign, no
 * hex, no inf/nan. 0 and *v set when valid and finite, else fills why. */
static inline int wp_mark_syntax_value(const char *key, size_t keylen, const char *s, size_t n,
                                       double *v, char *why, size_t whylen)
{
    size_t i = 0;
    uint64_t mant = 0;
    int ndig = 0, nseen = 0;
    long exp10 = 0;
    if (n == 0) {
        snprintf(why, whylen, "count '%.*s' has no value after '='", (int)keylen, key);
        return -1;
    }
    if (s[0] == '-') {
        snprintf(why, whylen, "count %.*s=%.*s is negative; counts must be >= 0", (int)keylen, key,
                 (int)(n > 40 ? 40 : n), s);
        return -1;
    }
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, nseen++) {
        /* Keep 19 significant digits (fits uint64); later integer digits only scale. */
        if (ndig < 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            ndig += mant != 0;
        } else {
            exp10++;
        }
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nseen++) {
            if (ndig < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                ndig += mant != 0;
                exp10--;
            }
        }
    }
    if (nseen > 0 && i < n && (s[i] == 'e' || s[i] == 'E')) {
        long e = 0;
        int esign = 1;
        size_t e0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            esign = s[i++] == '-' ? -1 : 1;
        for (e0 = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        if (i == e0)
            nseen = 0; /* "1e" or "1e+": no exponent digits */
        exp10 += esign * e;
    }
    if (nseen == 0 || i != n) {
        snprintf(why, whylen,
                 "count %.*s=%.*s is not a decimal number; write e.g. 512, 0.25 or 1.5e12",
                 (int)keylen, key, (int)(n > 40 ? 40 : n), s);
        return -1;
    }
    double x = (double)mant;
    if (mant != 0 && exp10 > 400) {
        x = INFINITY;
    } else if (mant != 0 && exp10 >= 0) {
        x *= wp_mark_syntax_pow10((int)exp10);
    } else if (mant != 0 && exp10 >= -400) {
        int k = (int)-exp10;
        if (k > 300) { /* 10^k alone would overflow before the quotient turns subnormal */
            x /= 1e300;
            k -= 300;
        }
        x /= wp_mark_syntax_pow10(k);
    } else if (mant != 0) {
        x = 0.0;
    }
    if (!isfinite(x)) {
        snprintf(why, whylen, "count %.*s=%.*s is too large to be a finite number", (int)keylen,
                 key, (int)(n > 40 ? 40 : n), s);
        return -1;
    }
    *v = x;
    return 0;
}

/* Next space-separated token of buf[0..len) from *pos; false at the end. */
static inline bool wp_mark_syntax_token(const char *buf, size_t len, size_t *pos, const char **tok,
                                        size_t *toklen)
{
    size_t i = *pos;
    while (i < len && buf[i] == ' ')
        i++;
    if (i == len) {
        *pos = i;
        return false;
    }
    size_t j = i;
    while (j < len && buf[j] != ' ')
        j++;
    *tok = buf + i;
    *toklen = j - i;
    *pos = j;
    return true;
}

/* Parses one datagram; buf need not be NUL-terminated. 0 and *out filled (t_us = 0) when
 * valid, else -1 with why filled and *out untouched. */
static inline int wp_mark_syntax_parse(const char *buf, size_t len, struct wp_mark *out, char *why,
                                       size_t whylen)
{
    struct wp_mark m;
    const char *tok;
    size_t toklen, pos = 0;

    memset(&m, 0, sizeof(m));
    if (len > WP_MARK_MSG_MAX) {
        snprintf(why, whylen, "the message is %zu bytes, over the limit of %d; send fewer counts",
                 len, WP_MARK_MSG_MAX);
        return -1;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\0') {
            snprintf(why, whylen, "the message contains a NUL byte at offset %zu", i);
            return -1;
        }
        if (c < 0x20 || c > 0x7e) {
            snprintf(why, whylen,
                     "the message contains byte 0x%02x at offset %zu; only printable ASCII "
                     "and one trailing newline are allowed",
                     c, i);
            return -1;
        }
    }
    if (!wp_mark_syntax_token(buf, len, &pos, &tok, &toklen)) {
        snprintf(why, whylen, "the message is empty; send 'begin NAME', 'end NAME' or 'mark NAME'");
        return -1;
    }
    if (toklen == 5 && memcmp(tok, "begin", 5) == 0) {
        m.kind = WP_MARK_BEGIN;
    } else if (toklen == 3 && memcmp(tok, "end", 3) == 0) {
        m.kind = WP_MARK_END;
    } else if (toklen == 4 && memcmp(tok, "mark", 4) == 0) {
        m.kind = WP_MARK_POINT;
    } else {
        snprintf(why, whylen, "unknown verb '%.*s'; a message starts with begin, end or mark",
                 (int)(toklen > 40 ? 40 : toklen), tok);
        return -1;
    }
    const char *verb = tok;
    size_t verblen = toklen;
    if (!wp_mark_syntax_token(buf, len, &pos, &tok, &toklen)) {
        snprintf(why, whylen, "'%.*s' has no phase name; send '%.*s NAME'", (int)verblen, verb,
                 (int)verblen, verb);
        return -1;
    }
    if (wp_mark_syntax_name(tok, toklen, why, whylen) < 0)
        return -1;
    memcpy(m.name, tok, toklen);
    while (wp_mark_syntax_token(buf, len, &pos, &tok, &toklen)) {
        const char *eq = memchr(tok, '=', toklen);
        if (!eq) {
            snprintf(why, whylen, "'%.*s' is not a count; write KEY=VALUE, e.g. samples=512",
                     (int)(toklen > 40 ? 40 : toklen), tok);
            return -1;
        }
        size_t keylen = (size_t)(eq - tok);
        if (wp_mark_syntax_key(tok, keylen, why, whylen) < 0)
            return -1;
        if (m.ncounts == WP_MARK_MAX_COUNTS) {
            snprintf(why, whylen, "the message has more than %d counts; send at most %d",
                     WP_MARK_MAX_COUNTS, WP_MARK_MAX_COUNTS);
            return -1;
        }
        for (int k = 0; k < m.ncounts; k++) {
            if (strlen(m.counts[k].key) == keylen && memcmp(m.counts[k].key, tok, keylen) == 0) {
                snprintf(why, whylen, "count key '%.*s' appears twice; send each key once",
                         (int)keylen, tok);
                return -1;
            }
        }
        struct wp_mark_count *c = &m.counts[m.ncounts];
        if (wp_mark_syntax_value(tok, keylen, eq + 1, toklen - keylen - 1, &c->value, why, whylen) <
            0)
            return -1;
        memcpy(c->key, tok, keylen);
        m.ncounts++;
    }
    *out = m;
    return 0;
}

#endif
