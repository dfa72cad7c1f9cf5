/* The chunk codec, version 2 (what format 5 writes) and version 1 (what older traces hold):
 * exact round trips for any int64 series, and rejection of every malformed buffer (truncated,
 * extended, garbage, bit flips, non-canonical varints, impossible Exp-Golomb prefixes, non-zero
 * padding, wrong count). Tests that take no version run for both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/trace.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static int64_t rnd_i64(void)
{
    uint64_t u = rnd();
    int64_t v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

typedef int (*encoder)(const int64_t *, const int64_t *, size_t, uint8_t **, size_t *);
/* The encoder the shared helpers use. */
static encoder enc = wp_chunk_encode;

static const int64_t extremes[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1};
#define NEXT (sizeof(extremes) / sizeof(extremes[0]))

static void round_trip(const int64_t *t, const int64_t *v, size_t n)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(enc(t, v, n, &buf, &len), 0);
    assert_int_equal(wp_chunk_version(buf, len), enc == wp_chunk_encode ? 2 : 1);
    /* No bound on what a buffer holds may be below what it holds. */
    assert_true(wp_chunk_max_samples(buf, len) >= n);
    /* Decode from an exact-size copy so ASan sees any read past len. */
    uint8_t *exact = malloc(len);
    assert_non_null(exact);
    memcpy(exact, buf, len);
    int64_t *dt = malloc((n + 1) * sizeof(*dt)), *dv = malloc((n + 1) * sizeof(*dv));
    assert_non_null(dt);
    assert_non_null(dv);
    assert_int_equal(wp_chunk_decode(exact, len, n, dt, dv), 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(dt[i] == t[i]);
        assert_true(dv[i] == v[i]);
    }
    free(dt);
    free(dv);
    free(exact);
    free(buf);
}

/* Fills a series of one of several shapes: uniform random bits, extremes only, a mix, and
 * power-like (monotone 20 ms timestamps with jitter, values in mW). */
static void fill(int shape, int64_t *t, int64_t *v, size_t n)
{
    int64_t tt = 1795863421321837, vv = 150000;
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case 0:
            t[i] = rnd_i64();
            v[i] = rnd_i64();
            break;
        case 1:
            t[i] = extremes[rnd() % NEXT];
            v[i] = extremes[rnd() % NEXT];
            break;
        case 2:
            t[i] = rnd() % 2 ? extremes[rnd() % NEXT] : rnd_i64();
            v[i] = rnd() % 2 ? extremes[rnd() % NEXT] : (int64_t)(rnd() % 1000) - 500;
            break;
        default:
            tt += 20000 + (int64_t)(rnd() % 600) - 300;
            vv += (int64_t)(rnd() % 1001) - 500;
            t[i] = tt;
            v[i] = vv;
            break;
        }
    }
}

static void test_codec_round_trips_random_series_including_extremes(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 3, 4, 17, 255, 4096};
    int64_t *t = malloc(4096 * sizeof(*t)), *v = malloc(4096 * sizeof(*v));
    assert_non_null(t);
    assert_non_null(v);
    for (int shape = 0; shape < 4; shape++)
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
            for (int rep = 0; rep < 20; rep++) {
                fill(shape, t, v, sizes[s]);
                round_trip(t, v, sizes[s]);
            }
    free(t);
    free(v);
}

static void test_codec_round_trips_every_pair_of_extremes(void **state)
{
    (void)state;
    /* Every transition between extremes, so each delta and delta-of-delta wraps somewhere. */
    int64_t t[3 * NEXT * NEXT], v[3 * NEXT * NEXT];
    size_t n = 0;
    for (size_t a = 0; a < NEXT; a++)
        for (size_t b = 0; b < NEXT; b++)
            for (size_t c = 0; c < 3; c++) {
                t[n] = extremes[(a + c) % NEXT];
                v[n] = extremes[(b + c) % NEXT];
                n++;
            }
    round_trip(t, v, n);
    int64_t one_t = INT64_MIN, one_v = INT64_MAX;
    round_trip(&one_t, &one_v, 1);
    one_t = INT64_MAX;
    one_v = INT64_MIN;
    round_trip(&one_t, &one_v, 1);
    one_t = 0;
    one_v = 0;
    round_trip(&one_t, &one_v, 1);
}

static void test_codec_empty_chunk_round_trips_and_checks_count(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    int64_t t = 5, v = 6;
    assert_int_equal(enc(NULL, NULL, 0, &buf, &len), 0);
    assert_int_equal(wp_chunk_decode(buf, len, 0, &t, &v), 0);
    assert_int_equal(wp_chunk_decode(buf, len, 1, &t, &v), -EINVAL);
    free(buf);
}

static void encode_sample(size_t n, uint8_t **buf, size_t *len)
{
    int64_t *t = malloc(n * sizeof(*t)), *v = malloc(n * sizeof(*v));
    assert_non_null(t);
    assert_non_null(v);
    fill(2, t, v, n);
    assert_int_equal(enc(t, v, n, buf, len), 0);
    free(t);
    free(v);
}

static void test_codec_rejects_every_truncation(void **state)
{
    (void)state;
    for (size_t n = 0; n < 40; n += 3) {
        uint8_t *buf;
        size_t len;
        encode_sample(n, &buf, &len);
        int64_t t[64], v[64];
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *part = malloc(cut ? cut : 1);
            assert_non_null(part);
            memcpy(part, buf, cut);
            assert_int_equal(wp_chunk_decode(part, cut, n, t, v), -EINVAL);
            free(part);
        }
        free(buf);
    }
}

static void test_codec_rejects_trailing_bytes(void **state)
{
    (void)state;
    for (size_t n = 0; n < 20; n++) {
        uint8_t *buf;
        size_t len;
        encode_sample(n, &buf, &len);
        for (size_t extra = 1; extra <= 5; extra++) {
            uint8_t *longer = malloc(len + extra);
            assert_non_null(longer);
            memcpy(longer, buf, len);
            for (size_t k = 0; k < extra; k++)
                longer[len + k] = (uint8_t)rnd();
            int64_t t[32], v[32];
            assert_int_equal(wp_chunk_decode(longer, len + extra, n, t, v), -EINVAL);
            free(longer);
        }
        free(buf);
    }
}

static void test_codec_rejects_wrong_sample_count(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    encode_sample(30, &buf, &len);
    int64_t t[64], v[64];
    assert_int_equal(wp_chunk_decode(buf, len, 30, t, v), 0);
    for (size_t n = 0; n < 64; n++)
        if (n != 30)
            assert_int_equal(wp_chunk_decode(buf, len, n, t, v), -EINVAL);
    free(buf);
}

static void test_codec_rejects_every_single_bit_flip(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    encode_sample(25, &buf, &len);
    int64_t t[32], v[32];
    for (size_t i = 0; i < len; i++)
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1u << b);
            assert_int_equal(wp_chunk_decode(buf, len, 25, t, v), -EINVAL);
            buf[i] ^= (uint8_t)(1u << b);
        }
    assert_int_equal(wp_chunk_decode(buf, len, 25, t, v), 0);
    free(buf);
}

static void test_codec_rejects_random_garbage(void **state)
{
    (void)state;
    int64_t t[300], v[300];
    for (int rep = 0; rep < 20000; rep++) {
        size_t len = rnd() % 300;
        uint8_t *g = malloc(len ? len : 1);
        assert_non_null(g);
        for (size_t i = 0; i < len; i++)
            g[i] = (uint8_t)rnd();
        if (len && rep % 3)
            g[0] = (uint8_t)(rep % 3); /* a plausible version byte, so the body gets parsed */
        size_t n = len ? rnd() % (len / 2 + 1) : 0;
        assert_int_equal(wp_chunk_decode(g, len, n, t, v), -EINVAL);
        free(g);
    }
}

/* The reference CRC, written out bit by bit, to build hand-made buffers. */
static uint32_t ref_crc(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0 - (c & 1)));
    }
    return ~c;
}

static int decode_body(const uint8_t *body, size_t blen, size_t n)
{
    uint8_t buf[64];
    assert_true(blen + 5 <= sizeof(buf));
    buf[0] = 1;
    memcpy(buf + 1, body, blen);
    uint32_t c = ref_crc(buf, blen + 1);
    for (int k = 0; k < 4; k++)
        buf[blen + 1 + k] = (uint8_t)(c >> (8 * k));
    int64_t t[4], v[4];
    return wp_chunk_decode(buf, blen + 5, n, t, v);
}

static void test_codec_rejects_non_canonical_and_overflowing_varints(void **state)
{
    (void)state;
    /* Controls: the canonical forms of the same pairs decode, so the CRC framing is right. */
    static const uint8_t ok[] = {0x00, 0x00};
    assert_int_equal(decode_body(ok, sizeof(ok), 1), 0);
    static const uint8_t ok_max[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0x01, 0x00};
    assert_int_equal(decode_body(ok_max, sizeof(ok_max), 1), 0);

    static const uint8_t zero_padded[] = {0x80, 0x00, 0x00};
    assert_int_equal(decode_body(zero_padded, sizeof(zero_padded), 1), -EINVAL);
    static const uint8_t tenth_too_big[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                            0xFF, 0xFF, 0xFF, 0x02, 0x00};
    assert_int_equal(decode_body(tenth_too_big, sizeof(tenth_too_big), 1), -EINVAL);
    static const uint8_t eleven[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0x81, 0x01, 0x00};
    assert_int_equal(decode_body(eleven, sizeof(eleven), 1), -EINVAL);
    static const uint8_t unterminated[] = {0x00, 0x80};
    assert_int_equal(decode_body(unterminated, sizeof(unterminated), 1), -EINVAL);
}

static void test_codec_rejects_unknown_version(void **state)
{
    (void)state;
    uint8_t *buf;
    size_t len;
    encode_sample(3, &buf, &len);
    int64_t t[3], v[3];
    buf[0] = 3;
    uint32_t c = ref_crc(buf, len - 4);
    for (int k = 0; k < 4; k++)
        buf[len - 4 + (size_t)k] = (uint8_t)(c >> (8 * k));
    assert_int_equal(wp_chunk_decode(buf, len, 3, t, v), -EINVAL);
    free(buf);
}

static void test_codec_stores_a_20ms_power_series_in_under_5_bytes_per_sample(void **state)
{
    (void)state;
    /* One second-long chunk (50 samples, what the recorder commits) and a long one. */
    static const size_t sizes[] = {50, 4096};
    for (size_t s = 0; s < 2; s++) {
        size_t n = sizes[s];
        int64_t *t = malloc(n * sizeof(*t)), *v = malloc(n * sizeof(*v));
        assert_non_null(t);
        assert_non_null(v);
        fill(3, t, v, n);
        uint8_t *buf;
        size_t len;
        assert_int_equal(wp_chunk_encode(t, v, n, &buf, &len), 0);
        print_message("%zu samples: %zu bytes, %.2f bytes/sample\n", n, len, (double)len / n);
        assert_true(len <= 5 * n);
        free(buf);
        free(t);
        free(v);
    }
}

/* Deltas of every bit length, so that each Exp-Golomb order and code length is met: all
 * alike, and one outlier among small ones (a long code under a small order, up to the
 * 129-bit code of 2^64 - 1 at order 0 when the outlier is INT64_MIN). */
static void test_codec_v2_round_trips_deltas_of_every_magnitude(void **state)
{
    (void)state;
    enc = wp_chunk_encode;
    enum { N = 70 };
    int64_t t[N], v[N];
    for (unsigned b = 0; b <= 64; b++)
        for (int shape = 0; shape < 4; shape++) {
            uint64_t ut = (uint64_t)rnd_i64(), uv = (uint64_t)rnd_i64();
            for (size_t i = 0; i < N; i++) {
                uint64_t big = b == 0 ? 0 : (rnd() | UINT64_C(1) << (b - 1)) >> (64 - b);
                uint64_t small = rnd() % 4;
                bool outlier = i == N / 2;
                uint64_t dt = shape == 0 || (shape == 2 && outlier) ? big : 20000 + small;
                uint64_t dv = shape == 1 || (shape == 3 && outlier) ? big : small;
                if (rnd() % 2)
                    dv = 0 - dv;
                if (shape == 3 && outlier && b == 64)
                    dv = UINT64_C(1) << 63; /* the delta INT64_MIN: zigzag 2^64 - 1 */
                if (shape == 2 && outlier && b == 64)
                    dt = UINT64_C(1) << 63;
                ut += dt;
                uv += dv;
                memcpy(&t[i], &ut, 8);
                memcpy(&v[i], &uv, 8);
            }
            round_trip(t, v, N);
        }
}

/* Appends a stream of code bits, a string of '0' and '1', to buf at *len: padded with zero
 * bits, or with `pad` as the last byte's free bits. */
static void put_stream(uint8_t *buf, size_t cap, size_t *len, const char *bits, uint8_t pad)
{
    size_t nb = strlen(bits);
    assert_true(*len + (nb + 7) / 8 <= cap);
    for (size_t i = 0; i < nb; i++)
        if (bits[i] == '1')
            buf[*len + i / 8] |= (uint8_t)(0x80 >> (i % 8));
    *len += (nb + 7) / 8;
    if (nb % 8)
        buf[*len - 1] |= pad & (0xFF >> (nb % 8));
}

/* A version 2 chunk of n samples from t0 10, v0 20, base 5, orders kt and kv and the time
 * and value code streams (bit strings, padded with pad_t and pad_v), `extra` zero bytes after
 * them, framed with a correct CRC; returns what wp_chunk_decode says, the samples in t, v. */
static int decode_v2_bits(size_t n, unsigned kt, unsigned kv, const char *tbits, uint8_t pad_t,
                          const char *vbits, uint8_t pad_v, size_t extra, int64_t *t, int64_t *v)
{
    uint8_t buf[128] = {2, 20, 40, 10}; /* version, zigzag 10, zigzag 20, base zigzag 5 */
    size_t len = 4;
    buf[len++] = (uint8_t)kt;
    buf[len++] = (uint8_t)kv;
    buf[len++] = (uint8_t)((strlen(tbits) + 7) / 8); /* one-byte varint of the time stream */
    put_stream(buf, sizeof(buf), &len, tbits, pad_t);
    put_stream(buf, sizeof(buf), &len, vbits, pad_v);
    assert_true(len + extra + 4 <= sizeof(buf));
    len += extra;
    uint32_t c = ref_crc(buf, len);
    for (int k = 0; k < 4; k++)
        buf[len++] = (uint8_t)(c >> (8 * k));
    uint8_t *exact = malloc(len);
    assert_non_null(exact);
    memcpy(exact, buf, len);
    int rc = wp_chunk_decode(exact, len, n, t, v);
    free(exact);
    return rc;
}

static char *repeat(char *out, char c, size_t k)
{
    memset(out, c, k);
    out[k] = '\0';
    return out;
}

static void test_codec_v2_decodes_the_documented_codes_and_refuses_impossible_ones(void **state)
{
    (void)state;
    int64_t t[4], v[4];
    /* Order 0: "1" is 0, "010" is 1 (zigzag -1); order 1: "10" is 0, "11" is 1 (zigzag -1). */
    assert_int_equal(decode_v2_bits(2, 0, 0, "1", 0, "1", 0, 0, t, v), 0);
    assert_true(t[0] == 10 && t[1] == 15 && v[0] == 20 && v[1] == 20);
    assert_int_equal(decode_v2_bits(3, 0, 1,
                                    "010"
                                    "1",
                                    0,
                                    "10"
                                    "11",
                                    0, 0, t, v),
                     0);
    assert_true(t[1] == 14 && t[2] == 19 && v[1] == 20 && v[2] == 19);
    /* the same codes with a one in either stream's padding, a zero byte after them, one
     * sample too many or too few, orders past 63, a time stream that claims more bytes than
     * there are, and nothing after the header */
    assert_int_equal(decode_v2_bits(2, 0, 0, "1", 0x01, "1", 0, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(2, 0, 0, "1", 0x40, "1", 0, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(2, 0, 0, "1", 0, "1", 0x01, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(2, 0, 0, "1", 0, "1", 0, 1, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(3, 0, 0, "1", 0, "1", 0, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(1, 0, 0, "1", 0, "1", 0, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(2, 64, 0, "1", 0, "1", 0, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(2, 0, 64, "1", 0, "1", 0, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(2, 0, 0, "1", 0, "", 0, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(2, 0, 0, "", 0, "1", 0, 0, t, v), -EINVAL);
    assert_int_equal(decode_v2_bits(2, 0, 0, "110000000", 0, "", 0, 0, t, v), -EINVAL);

    /* 2^64 - 1 at order 0: 64 zeros, the one, 64 zero bits (y = 2^64); any other payload
     * would be a y past 2^64. At order 1 it is 63 zeros and a payload below 2. */
    char z64[70], z63[70], z65[70], p64[70], bits[300];
    repeat(z64, '0', 64);
    repeat(z63, '0', 63);
    repeat(z65, '0', 65);
    repeat(p64, '0', 64);
    snprintf(bits, sizeof(bits), "%s1%s", z64, p64);
    assert_int_equal(decode_v2_bits(2, 0, 0, bits, 0, "1", 0, 0, t, v), 0);
    assert_true(t[1] == INT64_MIN + 15 && v[1] == 20);
    p64[63] = '1';
    snprintf(bits, sizeof(bits), "%s1%s", z64, p64);
    assert_int_equal(decode_v2_bits(2, 0, 0, bits, 0, "1", 0, 0, t, v), -EINVAL);
    snprintf(bits, sizeof(bits), "%s1%s", z65, repeat(p64, '0', 63));
    assert_int_equal(decode_v2_bits(2, 0, 0, bits, 0, "1", 0, 0, t, v), -EINVAL);
    snprintf(bits, sizeof(bits), "%s1%s1", z63, repeat(p64, '0', 63));
    /* order 1 payload 1: 2^64 + 1 - 2 */
    assert_int_equal(decode_v2_bits(2, 0, 1, "1", 0, bits, 0, 0, t, v), 0);
    assert_true(v[1] == INT64_MIN + 20);
    snprintf(bits, sizeof(bits), "%s1%s10", z63, repeat(p64, '0', 62));
    assert_int_equal(decode_v2_bits(2, 0, 1, "1", 0, bits, 0, 0, t, v), -EINVAL); /* payload 2 */
    snprintf(bits, sizeof(bits), "%s1%s", z64, repeat(p64, '0', 64));
    assert_int_equal(decode_v2_bits(2, 0, 1, "1", 0, bits, 0, 0, t, v), -EINVAL); /* prefix */
}

/* A count the buffer cannot hold is refused before anything is decoded, and the bound a
 * reader allocates by is never below a real count. */
static void test_codec_bounds_the_sample_count_by_the_length(void **state)
{
    (void)state;
    static const uint8_t none[] = {3, 0, 0, 0, 0, 0};
    assert_int_equal(wp_chunk_max_samples(none, sizeof(none)), 0);
    assert_int_equal(wp_chunk_version(none, sizeof(none)), -EINVAL);
    assert_int_equal(wp_chunk_max_samples(none, 3), 0);
    int64_t t[8], v[8];
    for (size_t n = 0; n < 8; n++) {
        for (int e = 0; e < 2; e++) {
            for (size_t i = 0; i < n; i++)
                t[i] = v[i] = 7; /* all deltas 0: the fewest bits a sample can take */
            uint8_t *buf;
            size_t len;
            assert_int_equal((e ? wp_chunk_encode_v1 : wp_chunk_encode)(t, v, n, &buf, &len), 0);
            assert_true(wp_chunk_max_samples(buf, len) >= n);
            free(buf);
        }
    }
    size_t huge = SIZE_MAX / 2;
    uint8_t *buf;
    size_t len;
    enc = wp_chunk_encode;
    encode_sample(3, &buf, &len);
    assert_int_equal(wp_chunk_decode(buf, len, huge, t, v), -EINVAL);
    free(buf);
}

static void test_codec_v2_is_smaller_than_v1_on_a_power_series(void **state)
{
    (void)state;
    enum { N = 512 };
    int64_t t[N], v[N];
    fill(3, t, v, N);
    uint8_t *b1, *b2;
    size_t l1, l2;
    assert_int_equal(wp_chunk_encode_v1(t, v, N, &b1, &l1), 0);
    assert_int_equal(wp_chunk_encode(t, v, N, &b2, &l2), 0);
    print_message("%d samples: version 1 %zu bytes, version 2 %zu\n", N, l1, l2);
    assert_true(l2 < l1);
    free(b1);
    free(b2);
}

static int use_v1(void **state)
{
    (void)state;
    enc = wp_chunk_encode_v1;
    return 0;
}

static int use_v2(void **state)
{
    (void)state;
    enc = wp_chunk_encode;
    return 0;
}

#define BOTH(f)                                                                                    \
    {#f " v2", f, use_v2, NULL, NULL},                                                             \
    {                                                                                              \
#f " v1", f, use_v1, NULL, NULL                                                            \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_codec_round_trips_random_series_including_extremes),
        BOTH(test_codec_round_trips_every_pair_of_extremes),
        BOTH(test_codec_empty_chunk_round_trips_and_checks_count),
        BOTH(test_codec_rejects_every_truncation),
        BOTH(test_codec_rejects_trailing_bytes),
        BOTH(test_codec_rejects_wrong_sample_count),
        BOTH(test_codec_rejects_every_single_bit_flip),
        BOTH(test_codec_rejects_random_garbage),
        cmocka_unit_test(test_codec_rejects_non_canonical_and_overflowing_varints),
        BOTH(test_codec_rejects_unknown_version),
        cmocka_unit_test(test_codec_v2_round_trips_deltas_of_every_magnitude),
        cmocka_unit_test(test_codec_v2_decodes_the_documented_codes_and_refuses_impossible_ones),
        cmocka_unit_test(test_codec_bounds_the_sample_count_by_the_length),
        cmocka_unit_test(test_codec_v2_is_smaller_than_v1_on_a_power_series),
        cmocka_unit_test_setup(test_codec_stores_a_20ms_power_series_in_under_5_bytes_per_sample,
                               use_v2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
