/* libFuzzer target for the marks datagram parser (src/marks). The input is cut at NUL bytes
 * into datagrams, as a job could send them; each is parsed with its exact length (no
 * terminating NUL, so ASan sees any read past it). What parses must obey the grammar in
 * src/marks/marks.h, and a run of parsed marks goes through the begin/end pairing. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "marks/marks.h"

#define MAX_MARKS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_ok(const char *s)
{
    size_t n = strnlen(s, WP_MARK_NAME_MAX + 1);
    if (n == 0 || n > WP_MARK_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/@+-", s[i]))
            return false;
    return true;
}

/* Aborts unless m is what the grammar allows: a valid name, at most the maximum of counts,
 * each key once, finite non-negative values. */
static void check_mark(const struct wp_mark *m)
{
    if (m->kind != WP_MARK_BEGIN && m->kind != WP_MARK_END && m->kind != WP_MARK_POINT)
        abort();
    if (!name_ok(m->name) || m->t_us != 0)
        abort();
    if (m->ncounts < 0 || m->ncounts > WP_MARK_MAX_COUNTS)
        abort();
    for (int i = 0; i < m->ncounts; i++) {
        const struct wp_mark_count *c = &m->counts[i];
        size_t kl = strnlen(c->key, sizeof(c->key));
        if (kl == 0 || kl >= sizeof(c->key) || !(c->key[0] >= 'a' && c->key[0] <= 'z'))
            abort();
        if (!isfinite(c->value) || c->value < 0)
            abort();
        for (int j = 0; j < i; j++)
            if (strcmp(m->counts[j].key, c->key) == 0)
                abort();
    }
}

static struct wp_mark marks[MAX_MARKS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t nm = 0, start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != 0)
            continue;
        size_t len = i - start;
        /* A copy of exactly len bytes: the parser must not need a terminator. */
        char *msg = malloc(len ? len : 1);
        if (!msg)
            return 0;
        memcpy(msg, data + start, len);
        struct wp_mark m;
        memset(&m, 0xA5, sizeof(m));
        struct wp_err err = {0};
        int rc = wp_mark_parse(msg, len, &m, &err);
        free(msg);
        if (rc == 0) {
            check_mark(&m);
            if (nm < MAX_MARKS) {
                m.t_us = (int64_t)nm * 1000; /* some share a time stamp: */
                if (nm % 3 == 2)
                    m.t_us -= 1000;
                marks[nm++] = m;
            }
        } else if (rc != -EINVAL || err.msg[0] == 0) {
            abort(); /* a rejection must say why */
        }
        start = i + 1;
    }
    struct wp_phase *ph = NULL;
    size_t nph = 0;
    int ignored = wp_phases_from_marks(marks, nm, (int64_t)nm * 1000, &ph, &nph);
    if (ignored < 0 || (size_t)ignored > nm || nph > nm)
        abort();
    for (size_t i = 0; i < nph; i++) {
        if (ph[i].t1_us < ph[i].t0_us || !name_ok(ph[i].name))
            abort();
        if (i > 0 && ph[i].t0_us < ph[i - 1].t0_us)
            abort();
    }
    free(ph);
    return 0;
}
