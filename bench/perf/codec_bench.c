/* Chunk codec benchmark: the 20 ms power chunks of a trace (any format) decoded, then encoded
 * again as version 1 and version 2 chunks: bytes per sample of each, and CPU time per sample
 * to encode and decode each (best of REPS passes over at most 1000 chunks, so the page cache
 * and SQLite stay out of it). Every re-encoded chunk is decoded and compared with the
 * original samples.
 *
 *   codec_bench TRACE [REPS]        (bench/perf/codec_bench.sh builds and runs it) */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/trace.h"

#define MAX_TIMED 1000

typedef int (*encoder)(const int64_t *, const int64_t *, size_t, uint8_t **, size_t *);

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "codec_bench: %s\n", what);
    exit(1);
}

struct chunk {
    size_t n, off;
    uint8_t *enc[2]; /* version 1, version 2 */
    size_t len[2];
};

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: codec_bench TRACE [REPS]");
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    sqlite3 *db;
    sqlite3_stmt *st;
    char uri[4096];
    snprintf(uri, sizeof(uri), "file:%s?immutable=1", argv[1]);
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT n, data FROM chunks WHERE sensor IN (SELECT id FROM sensors "
                           "WHERE name = 'power') ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        die("cannot read the trace's chunks");
    static const encoder enc[2] = {wp_chunk_encode_v1, wp_chunk_encode};
    struct chunk *ch = NULL;
    size_t nch = 0, cap = 0, total = 0, tcap = 0, bytes[2] = {0, 0}, stored = 0;
    int64_t *t = NULL, *v = NULL, *t2 = NULL, *v2 = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_int64(st, 0);
        const uint8_t *blob = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        if (nch == cap) {
            cap = cap ? 2 * cap : 1024;
            ch = realloc(ch, cap * sizeof(*ch));
        }
        if (total + n > tcap) {
            tcap = 2 * (total + n);
            t = realloc(t, tcap * sizeof(*t));
            v = realloc(v, tcap * sizeof(*v));
            t2 = realloc(t2, tcap * sizeof(*t2));
            v2 = realloc(v2, tcap * sizeof(*v2));
        }
        if (!ch || !t || !v || !t2 || !v2)
            die("out of memory");
        if (wp_chunk_decode(blob, len, n, t + total, v + total) < 0)
            die("a chunk does not decode");
        struct chunk *c = &ch[nch++];
        c->n = n;
        c->off = total;
        for (int k = 0; k < 2; k++) {
            if (enc[k](t + total, v + total, n, &c->enc[k], &c->len[k]) < 0)
                die("out of memory");
            if (wp_chunk_decode(c->enc[k], c->len[k], n, t2, v2) < 0 ||
                memcmp(t2, t + total, n * sizeof(*t)) || memcmp(v2, v + total, n * sizeof(*v)))
                die("a re-encoded chunk does not give its samples back");
            bytes[k] += c->len[k];
        }
        stored += len;
        total += n;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!total)
        die("the trace has no power samples");
    size_t timed = nch < MAX_TIMED ? nch : MAX_TIMED, timed_n = 0;
    for (size_t i = 0; i < timed; i++)
        timed_n += ch[i].n;
    printf("%zu power chunks, %zu samples, %.3f bytes per sample as stored\n", nch, total,
           (double)stored / (double)total);
    printf("version  bytes/sample  encode ns/sample  decode ns/sample  (CPU, best of %d over %zu "
           "samples)\n",
           reps, timed_n);
    for (int k = 0; k < 2; k++) {
        double best_e = 1e30, best_d = 1e30;
        for (int r = 0; r < reps; r++) {
            double a = cpu_s();
            for (size_t i = 0; i < timed; i++) {
                uint8_t *o;
                size_t ol;
                if (enc[k](t + ch[i].off, v + ch[i].off, ch[i].n, &o, &ol) < 0)
                    die("out of memory");
                free(o);
            }
            double b = cpu_s();
            for (size_t i = 0; i < timed; i++)
                if (wp_chunk_decode(ch[i].enc[k], ch[i].len[k], ch[i].n, t2, v2) < 0)
                    die("a chunk does not decode");
            double c = cpu_s();
            best_e = b - a < best_e ? b - a : best_e;
            best_d = c - b < best_d ? c - b : best_d;
        }
        printf("%7d  %12.3f  %16.1f  %16.1f\n", k + 1, (double)bytes[k] / (double)total,
               best_e / (double)timed_n * 1e9, best_d / (double)timed_n * 1e9);
    }
    for (size_t i = 0; i < nch; i++) {
        free(ch[i].enc[0]);
        free(ch[i].enc[1]);
    }
    free(ch);
    free(t);
    free(v);
    free(t2);
    free(v2);
    return 0;
}
