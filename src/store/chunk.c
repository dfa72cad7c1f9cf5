/* Chunk codec. Every chunk is: a version byte, the body, then 4 bytes of CRC-32 (IEEE, little
 * endian) of everything before it. The CRC is there because SQLite does not checksum its pages: a
 * flipped bit in a blob would otherwise decode to a plausible but wrong sample.
 *
 * Version 2 (trace format 5):
 *   varint      zigzag t_0 and zigzag value_0 (when n >= 1)
 *   varint      zigzag base: the median of the chunk's time steps t_i - t_i-1 (when n >= 2)
 *   2 bytes     k_t, k_v (0..63): the Exp-Golomb orders of the two streams below (when n >= 2)
 *   varint      the time stream's length in bytes (when n >= 2)
 *   time stream   for i = 1..n-1, EG(k_t) of zigzag(t_i - t_i-1 - base)
 *   value stream  for i = 1..n-1, EG(k_v) of zigzag(value_i - value_i-1)
 * Each stream is bits, most significant first, ending in its last byte, padded with zero bits.
 * Exp-Golomb of order k writes x as y = x + 2^k: (bit length of y) - k - 1 zero bits, then y.
 * y can need 65 bits (x near 2^64), so the 64-bit payload after the leading 1 is y's low bits
 * and a 65-bit y must have a payload below 2^k; the decoder refuses any other prefix.
 *
 * Why: on the H200 20 ms buffer (tests/fixtures/h200/buffer-2gpu.csv.gz) the timestamps sit on a
 * 20 ms grid with a few ms of jitter and power moves by a few hundred mW per sample, with
 * tails that a byte-aligned code pays for on every sample. The encoder picks each k from the
 * exact cost of the chunk's codes. On bench/perf's day trace that is 3.66 bytes a power sample
 * where version 1 took 4.43 (bench/perf/codec_bench.sh). Two streams rather than one
 * interleaved: the position of each code depends on the code before it, and two independent
 * chains of loads run side by side. Decoding takes about 8 ns a sample against 7 for version
 * 1, encoding 28 against 6 (ibid.), which is why the writer keeps open chunks, rewritten at
 * every commit, in version 1 (trace_write.c).
 *
 * Version 1 (every chunk of trace formats 1 to 4; in format 5 the open chunks, see above):
 *   pairs       for each sample, two LEB128 varints of zigzag-mapped integers:
 *                 sample 0:  t_us, value
 *                 sample 1:  t1 - t0, v1 - v0
 *                 sample i:  (ti - ti-1) - (ti-1 - ti-2), vi - vi-1
 *
 * All differences are taken modulo 2^64, so any int64 series (INT64_MIN next to INT64_MAX
 * included) round-trips without signed overflow. Varints must be canonical (shortest form) and
 * the decoder rejects trailing bytes and non-zero padding bits; a version 1 series has exactly
 * one encoding, a version 2 one has one per choice of base and orders. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/trace.h"

#define CHUNK_V1   1
#define CHUNK_V2   2
#define CHUNK_HEAD 1
#define CHUNK_TAIL 4
#define VARINT_MAX 10

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

int wp_chunk_encode_v1(const int64_t *t_us, const int64_t *value, size_t n, uint8_t **out,
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
    p[len++] = CHUNK_V1;
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

static uint32_t get_crc(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int decode_v1(const uint8_t *buf, size_t len, size_t n, int64_t *t_us, int64_t *value)
{
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
    if (crc32_ieee(buf, end) != get_crc(buf + end))
        return -EINVAL;
    return 0;
}

/* ---- version 2 ---- */

/* Bits are written most significant first: acc holds the nacc (< 32) bits not yet stored in
 * out, left-aligned; they leave four bytes at a time. */
struct bit_writer {
    uint8_t *out;
    size_t len;
    uint64_t acc;
    unsigned nacc;
};

/* Writes the low nb bits of x (nb <= 32; x's bits above nb must be zero). */
static inline void put_bits(struct bit_writer *w, uint64_t x, unsigned nb)
{
    if (nb == 0)
        return;
    w->acc |= x << (64 - w->nacc - nb);
    w->nacc += nb;
    if (w->nacc >= 32) {
        uint32_t hi = (uint32_t)(w->acc >> 32);
        w->out[w->len] = (uint8_t)(hi >> 24);
        w->out[w->len + 1] = (uint8_t)(hi >> 16);
        w->out[w->len + 2] = (uint8_t)(hi >> 8);
        w->out[w->len + 3] = (uint8_t)hi;
        w->len += 4;
        w->acc <<= 32;
        w->nacc -= 32;
    }
}

static void put_bits64(struct bit_writer *w, uint64_t x, unsigned nb)
{
    if (nb > 32) {
        put_bits(w, x >> 32, nb - 32);
        put_bits(w, x & 0xFFFFFFFFu, 32);
    } else {
        put_bits(w, x, nb);
    }
}

/* Stores what is left, the last byte padded with zero bits. */
static void flush_bits(struct bit_writer *w)
{
    for (unsigned i = 0; i < w->nacc; i += 8)
        w->out[w->len++] = (uint8_t)(w->acc >> (56 - i));
    w->acc = 0;
    w->nacc = 0;
}

static inline void put_eg(struct bit_writer *w, uint64_t x, unsigned k)
{
    uint64_t y = x + (UINT64_C(1) << k);
    unsigned nb = y < x ? 65 : 64 - (unsigned)__builtin_clzll(y);
    unsigned zeros = nb - 1 - k;
    if (zeros + nb <= 32) {
        /* y written in zeros + nb bits is the zero prefix followed by y. */
        put_bits(w, y, zeros + nb);
        return;
    }
    put_bits64(w, 0, zeros);
    put_bits(w, 1, 1);
    /* The bits below y's leading one; for a 65-bit y that is y modulo 2^64 itself. */
    put_bits64(w, nb == 65 ? y : y ^ (UINT64_C(1) << (nb - 1)), nb - 1);
}

/* The order k (0..63) whose codes of x[0..n) take the fewest bits (ties to the smaller k).
 * A code takes 2 * bits(x + 2^k) - 1 - k bits. For x of b > k bits, bits(x + 2^k) is b, or
 * b + 1 when x's bits k..b-1 are all ones, that is for k >= b - r where r is the length of
 * the run of ones x starts with; for x below 2^k it is k + 1. So a histogram of b and one of
 * where those carries start give the exact cost of every k in one pass over x. */
static unsigned best_order(const uint64_t *x, size_t n, uint64_t *bits)
{
    size_t hist[65] = {0};
    int64_t carry[66] = {0}; /* carry[k] - carry[k - 1]: codes with a carry at k */
    for (size_t i = 0; i < n; i++) {
        if (!x[i]) {
            hist[0]++;
            continue;
        }
        unsigned b = 64 - (unsigned)__builtin_clzll(x[i]);
        uint64_t top = ~(x[i] << (64 - b));
        unsigned r = top ? (unsigned)__builtin_clzll(top) : 64;
        hist[b]++;
        carry[b - r]++;
        carry[b]--;
    }
    unsigned lens[65], nl = 0;
    for (unsigned l = 0; l <= 64; l++)
        if (hist[l])
            lens[nl++] = l;
    unsigned best = 0;
    uint64_t best_cost = UINT64_MAX;
    int64_t carries = 0;
    for (unsigned k = 0; k < 64; k++) {
        carries += carry[k];
        uint64_t c = 2 * (uint64_t)carries;
        for (unsigned j = 0; j < nl; j++) {
            uint64_t nb = lens[j] > k + 1 ? lens[j] : k + 1;
            c += (uint64_t)hist[lens[j]] * (2 * nb - 1 - k);
        }
        if (c < best_cost) {
            best_cost = c;
            best = k;
        }
    }
    *bits = best_cost;
    return best;
}

/* The median of a[0..n) (the lower one for even n), reordering a: Hoare's selection. */
static int64_t median(int64_t *a, size_t n)
{
    size_t lo = 0, hi = n - 1, want = (n - 1) / 2;
    while (lo < hi) {
        int64_t pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                int64_t tmp = a[i];
                a[i] = a[j];
                a[j] = tmp;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    return a[want];
}

int wp_chunk_encode(const int64_t *t_us, const int64_t *value, size_t n, uint8_t **out,
                    size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* The header's varints and orders, then at most 129 bits per code. */
    size_t head = CHUNK_HEAD + 3 * VARINT_MAX + 2;
    if (n > (SIZE_MAX - head - CHUNK_TAIL) / 40)
        return -ENOMEM;
    size_t m = n > 1 ? n - 1 : 0;
    uint64_t *xt = malloc((2 * m + 1) * sizeof(*xt));
    int64_t *steps = malloc((m + 1) * sizeof(*steps));
    uint8_t *p = malloc(head + CHUNK_TAIL + 33 * n);
    if (!xt || !steps || !p) {
        free(xt);
        free(steps);
        free(p);
        return -ENOMEM;
    }
    uint64_t *xv = xt + m;
    size_t len = 0;
    p[len++] = CHUNK_V2;
    if (n >= 1) {
        len += put_uvarint(p + len, zigzag((uint64_t)t_us[0]));
        len += put_uvarint(p + len, zigzag((uint64_t)value[0]));
    }
    if (n >= 2) {
        for (size_t i = 0; i < m; i++) {
            uint64_t d = (uint64_t)t_us[i + 1] - (uint64_t)t_us[i];
            steps[i] = to_i64(d);
            xv[i] = zigzag((uint64_t)value[i + 1] - (uint64_t)value[i]);
        }
        uint64_t base = (uint64_t)median(steps, m);
        for (size_t i = 0; i < m; i++)
            xt[i] = zigzag((uint64_t)t_us[i + 1] - (uint64_t)t_us[i] - base);
        uint64_t bits_t, bits_v;
        unsigned kt = best_order(xt, m, &bits_t), kv = best_order(xv, m, &bits_v);
        len += put_uvarint(p + len, zigzag(base));
        p[len++] = (uint8_t)kt;
        p[len++] = (uint8_t)kv;
        len += put_uvarint(p + len, (bits_t + 7) / 8);
        struct bit_writer w = {p + len, 0, 0, 0};
        for (size_t i = 0; i < m; i++)
            put_eg(&w, xt[i], kt);
        flush_bits(&w);
        for (size_t i = 0; i < m; i++)
            put_eg(&w, xv[i], kv);
        flush_bits(&w);
        len += w.len;
    }
    free(xt);
    free(steps);
    uint32_t crc = crc32_ieee(p, len);
    for (int k = 0; k < 4; k++)
        p[len++] = (uint8_t)(crc >> (8 * k));
    uint8_t *shrunk = realloc(p, len);
    *out = shrunk ? shrunk : p;
    *out_len = len;
    return 0;
}

/* The 64 bits of s (nbytes long) from bit pos on, zeros past its end. */
static inline uint64_t peek64(const uint8_t *s, size_t nbytes, uint64_t pos)
{
    size_t at = (size_t)(pos >> 3);
    unsigned sh = (unsigned)(pos & 7);
    uint64_t w = 0;
    if (at + 9 <= nbytes) {
        memcpy(&w, s + at, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        /* For sh == 0 the byte shifted by 8 is 0. */
        return (w << sh) | ((uint64_t)s[at + 8] >> (8 - sh));
    }
    for (unsigned i = 0; i < 8; i++)
        w = w << 8 | (at + i < nbytes ? s[at + i] : 0);
    uint64_t next = at + 8 < nbytes ? s[at + 8] : 0;
    return (w << sh) | (next >> (8 - sh));
}

/* Reads one Exp-Golomb code of order k at bit pos of s into *x. Returns the position after
 * it, or 0 for a prefix no x has. Any code, the longest and the last ones included; the
 * decoder's loop handles the common ones itself. */
__attribute__((noinline)) static uint64_t get_eg(const uint8_t *s, size_t nbytes, uint64_t pos,
                                                 unsigned k, uint64_t *x)
{
    uint64_t w = peek64(s, nbytes, pos);
    if (w == 0) {
        /* 64 zeros: only x = 2^64 - 1 at k = 0, whose 65-bit y has 64 zero bits below its
         * leading one. */
        if (k != 0 || peek64(s, nbytes, pos + 64) != UINT64_C(1) << 63 ||
            peek64(s, nbytes, pos + 65) != 0)
            return 0;
        *x = UINT64_MAX;
        return pos + 129;
    }
    unsigned zeros = (unsigned)__builtin_clzll(w);
    if (zeros + k > 64)
        return 0;
    unsigned nbits = zeros + k; /* below the leading one */
    if (zeros + 1 + nbits <= 64) {
        *x = ((w << zeros) >> (63 - nbits)) - (UINT64_C(1) << k);
        return pos + zeros + 1 + nbits;
    }
    uint64_t low = peek64(s, nbytes, pos + zeros + 1) >> (64 - nbits);
    if (nbits == 64) {
        /* y = 2^64 + low; x = y - 2^k fits only if low < 2^k. */
        if (low >= UINT64_C(1) << k)
            return 0;
        *x = low - (UINT64_C(1) << k);
    } else {
        *x = ((UINT64_C(1) << nbits) | low) - (UINT64_C(1) << k);
    }
    return pos + zeros + 1 + nbits;
}

static inline uint64_t be64(uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(w);
#else
    return w;
#endif
}

/* A stream of codes of order k: s, nbytes long, read up to bit. Its next bits are
 * left-aligned in w, avail of them valid (at most 63, so that a code never shifts w by 64),
 * reloaded from memory when fewer than 32 are left. */
struct eg_reader {
    const uint8_t *s;
    size_t nbytes;
    uint64_t bit, w;
    unsigned avail, k;
};

/* The next code, as get_eg; false for a bad one. Codes that do not fit in w, and those in the
 * last 8 bytes, go to get_eg. The 1 or'ed in sits past the valid bits, so a prefix running
 * into it fails the length test. (Inlined into the decoder's loop, the reader's fields stay
 * in registers.) */
static inline bool eg_next(struct eg_reader *r, uint64_t *x)
{
    if (r->avail < 32) {
        size_t at = (size_t)(r->bit >> 3);
        if (at + 8 <= r->nbytes) {
            uint64_t w;
            memcpy(&w, r->s + at, 8);
            r->w = be64(w) << (r->bit & 7);
            r->avail = 63 - (unsigned)(r->bit & 7);
        } else {
            r->avail = 0;
        }
    }
    unsigned l = 2 * (unsigned)__builtin_clzll(r->w | 1) + 1 + r->k;
    if (l <= r->avail) {
        *x = (r->w >> (64 - l)) - (UINT64_C(1) << r->k);
        r->w <<= l;
        r->avail -= l;
        r->bit += l;
        return true;
    }
    r->avail = 0;
    r->bit = get_eg(r->s, r->nbytes, r->bit, r->k, x);
    return r->bit != 0;
}

/* Whether the codes ended at bit in the last byte of s, the bits after them there zero. */
static bool ends_clean(const uint8_t *s, size_t nbytes, uint64_t bit)
{
    if ((bit + 7) / 8 != nbytes)
        return false;
    return !(bit & 7) || !(s[nbytes - 1] & (0xFFu >> (bit & 7)));
}

static int decode_v2(const uint8_t *buf, size_t len, size_t n, int64_t *t_us, int64_t *value)
{
    size_t end = len - CHUNK_TAIL, pos = CHUNK_HEAD;
    if (n >= 1) {
        uint64_t zt, zv;
        if (get_uvarint(buf, end, &pos, &zt) < 0 || get_uvarint(buf, end, &pos, &zv) < 0)
            return -EINVAL;
        t_us[0] = to_i64(unzigzag(zt));
        value[0] = to_i64(unzigzag(zv));
    }
    if (n >= 2) {
        uint64_t zb, tbytes;
        if (get_uvarint(buf, end, &pos, &zb) < 0 || end - pos < 2)
            return -EINVAL;
        unsigned kt = buf[pos], kv = buf[pos + 1];
        pos += 2;
        if (kt > 63 || kv > 63 || get_uvarint(buf, end, &pos, &tbytes) < 0 || tbytes > end - pos)
            return -EINVAL;
        size_t vbytes = end - pos - (size_t)tbytes;
        /* A code of order k takes at least k + 1 bits: refuse impossible counts before
         * decoding anything. */
        if (n - 1 > tbytes * 8 / (1 + kt) || n - 1 > (uint64_t)vbytes * 8 / (1 + kv))
            return -EINVAL;
        /* The two streams are read side by side, so that their chains of loads overlap. */
        struct eg_reader rt = {buf + pos, (size_t)tbytes, 0, 0, 0, kt};
        struct eg_reader rv = {buf + pos + tbytes, vbytes, 0, 0, 0, kv};
        uint64_t step = unzigzag(zb), pt = (uint64_t)t_us[0], pv = (uint64_t)value[0];
        for (size_t i = 1; i < n; i++) {
            uint64_t xt, xv;
            if (!eg_next(&rt, &xt) || !eg_next(&rv, &xv))
                return -EINVAL;
            pt += step + unzigzag(xt);
            pv += unzigzag(xv);
            t_us[i] = to_i64(pt);
            value[i] = to_i64(pv);
        }
        if (!ends_clean(rt.s, rt.nbytes, rt.bit) || !ends_clean(rv.s, rv.nbytes, rv.bit))
            return -EINVAL;
        pos = end;
    }
    if (pos != end || crc32_ieee(buf, end) != get_crc(buf + end))
        return -EINVAL;
    return 0;
}

int wp_chunk_decode(const uint8_t *buf, size_t len, size_t n, int64_t *t_us, int64_t *value)
{
    if (!buf || len < CHUNK_HEAD + CHUNK_TAIL)
        return -EINVAL;
    if (buf[0] == CHUNK_V1)
        return decode_v1(buf, len, n, t_us, value);
    if (buf[0] == CHUNK_V2)
        return decode_v2(buf, len, n, t_us, value);
    return -EINVAL;
}

int wp_chunk_version(const uint8_t *buf, size_t len)
{
    if (!buf || len < CHUNK_HEAD + CHUNK_TAIL || (buf[0] != CHUNK_V1 && buf[0] != CHUNK_V2))
        return -EINVAL;
    return buf[0];
}

size_t wp_chunk_max_samples(const uint8_t *buf, size_t len)
{
    if (wp_chunk_version(buf, len) < 0)
        return 0;
    size_t body = len - CHUNK_HEAD - CHUNK_TAIL;
    /* Version 1: two bytes a sample; version 2: two varint bytes for the first sample, then
     * at least two bits a sample. */
    if (buf[0] == CHUNK_V1)
        return body / 2;
    return body < 2 ? 0 : 1 + (body - 2) * 4;
}
