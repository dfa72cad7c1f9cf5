/* Chunk codec, format version 1:
 *
 *   byte 0      version (1)
 *   pairs       for each sample, two LEB128 varints of zigzag-mapped integers:
 *                 sample 0:  t_us, value
 *                 sample 1:  t1 - t0, v1 - v0
 *                 sample i:  (ti - ti-1) - (ti-1 - ti-2), vi - vi-1
 *   4 bytes     CRC-32 (IEEE, little endian) of everything before it
 *
 * All differences are taken modulo 2^64, so any int64 series (INT64_MIN next to INT64_MAX
 * included) round-trips without signed overflow. Varints must be canonical (shortest form), so
 * each series has exactly one encoding; the decoder rejects anything else, including trailing
 * bytes. The CRC is there because SQLite does not checksum its pages: a flipped bit in a blob
 * would otherwise decode to a plausible but wrong sample.
 *
 * Measured on the H200 20 ms buffer (tests/fixtures/h200/buffer-2gpu.csv.gz): the timestamps
 * sit on a 20 ms grid with about +-2 ms of jitter and power moves by a few hundred mW per
 * sample, so both varints are almost always 2 bytes; see bench/perf/store_bench.sh. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/trace.h"

#define CHUNK_VERSION 1
#define CHUNK_HEAD    1
#define CHUNK_TAIL    4
#define VARINT_MAX    10

/* crc_table[k][b]: the CRC register after byte b followed by k zero bytes, so eight bytes are
 * folded with eight independent lookups instead of a chain of eight (the same CRC; a chunk's
 * check was an eighth of a day-long report's time byte by byte). */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (uint32_t i = 0; i < 256; i++)
            crc_table[k][i] = crc_table[0][crc_table[k - 1][i] & 0xFF] ^ (crc_table[k - 1][i] >> 8);
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    uint32_t c = 0xFFFFFFFFu;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint32_t lo = c ^ ((uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                           (uint32_t)p[i + 3] << 24);
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
            crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[i + 4]] ^
            crc_table[2][p[i + 5]] ^ crc_table[1][p[i + 6]] ^ crc_table[0][p[i + 7]];
    }
    for (; i < n; i++)
        c = crc_table[0][(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint64_t zigzag(uint64_t x)
{
    return (x << 1) ^ (0 - (x >> 63));
}

static uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ (0 - (z & 1));
}

/* Two's complement reinterpretation without implementation-defined conversions. */
static int64_t to_i64(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static size_t put_uvarint(uint8_t *p, uint64_t x)
{
    size_t i = 0;
    while (x >= 0x80) {
        p[i++] = (uint8_t)(x | 0x80);
        x >>= 7;
    }
    p[i++] = (uint8_t)x;
    return i;
}

static int get_uvarint_slow(const uint8_t *b, size_t end, size_t *pos, uint64_t *out)
{
    uint64_t x = 0;
    unsigned shift = 0;
    for (size_t i = *pos; i < end; i++) {
        uint8_t c = b[i];
        /* The tenth byte carries only bit 63; anything more would overflow. */
        if (shift == 63 && c > 1)
            return -EINVAL;
        x |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            if (c == 0 && shift > 0)
                return -EINVAL; /* not the shortest form */
            *out = x;
            *pos = i + 1;
            return 0;
        }
        shift += 7;
    }
    return -EINVAL;
}

/* One- to three-byte varints are nearly all of them (see the top): those are decoded inline,
 * the rest by the general loop. */
static inline int get_uvarint(const uint8_t *b, size_t end, size_t *pos, uint64_t *out)
{
    size_t i = *pos;
    if (i < end && b[i] < 0x80) {
        *out = b[i];
        *pos = i + 1;
        return 0;
    }
    if (i + 1 < end && b[i + 1] < 0x80 && b[i + 1] != 0) {
        *out = (uint64_t)(b[i] & 0x7F) | (uint64_t)b[i + 1] << 7;
        *pos = i + 2;
        return 0;
    }
    if (i + 2 < end && b[i + 1] >= 0x80 && b[i + 2] < 0x80 && b[i + 2] != 0) {
        *out =
            (uint64_t)(b[i] & 0x7F) | (uint64_t)(b[i + 1] & 0x7F) << 7 | (uint64_t)b[i + 2] << 14;
        *pos = i + 3;
        return 0;
    }
    return get_uvarint_slow(b, end, pos, out);
}

int wp_chunk_encode(const int64_t *t_us, const int64_t *value, size_t n, uint8_t **out,
                    size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (n > (SIZE_MAX - CHUNK_HEAD - CHUNK_TAIL) / (2 * VARINT_MAX))
        return -ENOMEM;
    uint8_t *p = malloc(CHUNK_HEAD + CHUNK_TAIL + n * 2 * VARINT_MAX);
    if (!p)
        return -ENOMEM;
    size_t len = 0;
    p[len++] = CHUNK_VERSION;
    uint64_t pt = 0, pv = 0, pd = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t ut = (uint64_t)t_us[i], uv = (uint64_t)value[i];
        if (i == 0) {
            len += put_uvarint(p + len, zigzag(ut));
        } else {
            uint64_t d = ut - pt;
            len += put_uvarint(p + len, zigzag(d - pd));
            pd = d;
        }
        len += put_uvarint(p + len, zigzag(uv - pv));
        pt = ut;
        pv = uv;
    }
    uint32_t crc = crc32_ieee(p, len);
    for (int k = 0; k < 4; k++)
        p[len++] = (uint8_t)(crc >> (8 * k));
    uint8_t *shrunk = realloc(p, len);
    *out = shrunk ? shrunk : p;
    *out_len = len;
    return 0;
}

int wp_chunk_decode(const uint8_t *buf, size_t len, size_t n, int64_t *t_us, int64_t *value)
{
    if (!buf || len < CHUNK_HEAD + CHUNK_TAIL || buf[0] != CHUNK_VERSION)
        return -EINVAL;
    size_t end = len - CHUNK_TAIL;
    /* Every pair takes at least two bytes: reject impossible counts before touching data. */
    if (n > (end - CHUNK_HEAD) / 2)
        return -EINVAL;
    size_t pos = CHUNK_HEAD;
    uint64_t pt = 0, pv = 0, pd = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t zt, zv;
        if (get_uvarint(buf, end, &pos, &zt) < 0 || get_uvarint(buf, end, &pos, &zv) < 0)
            return -EINVAL;
        uint64_t ut;
        if (i == 0) {
            ut = unzigzag(zt);
        } else {
            pd += unzigzag(zt);
            ut = pt + pd;
        }
        uint64_t uv = pv + unzigzag(zv);
        t_us[i] = to_i64(ut);
        value[i] = to_i64(uv);
        pt = ut;
        pv = uv;
    }
    if (pos != end)
        return -EINVAL;
    uint32_t want = (uint32_t)buf[end] | (uint32_t)buf[end + 1] << 8 |
                    (uint32_t)buf[end + 2] << 16 | (uint32_t)buf[end + 3] << 24;
    if (crc32_ieee(buf, end) != want)
        return -EINVAL;
    return 0;
}
