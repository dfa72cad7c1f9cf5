/* The chunk codec: exact round trips for any int64 series, and rejection of every malformed
 * buffer (truncated, extended, garbage, bit flips, non-canonical varints, wrong count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static const int64_t extremes[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1};
#define NEXT (sizeof(extremes) / sizeof(extremes[0]))

static void round_trip(const int64_t *t, const int64_t *v, size_t n)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(wp_chunk_encode(t, v, n, &buf, &len), 0);
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
    assert_int_equal(wp_chunk_encode(NULL, NULL, 0, &buf, &len), 0);
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
    assert_int_equal(wp_chunk_encode(t, v, n, buf, len), 0);
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
        if (len && rep % 2)
            g[0] = 1; /* a plausible version byte, so the body gets parsed */
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
    buf[0] = 2;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trips_random_series_including_extremes),
        cmocka_unit_test(test_codec_round_trips_every_pair_of_extremes),
        cmocka_unit_test(test_codec_empty_chunk_round_trips_and_checks_count),
        cmocka_unit_test(test_codec_rejects_every_truncation),
        cmocka_unit_test(test_codec_rejects_trailing_bytes),
        cmocka_unit_test(test_codec_rejects_wrong_sample_count),
        cmocka_unit_test(test_codec_rejects_every_single_bit_flip),
        cmocka_unit_test(test_codec_rejects_random_garbage),
        cmocka_unit_test(test_codec_rejects_non_canonical_and_overflowing_varints),
        cmocka_unit_test(test_codec_rejects_unknown_version),
        cmocka_unit_test(test_codec_stores_a_20ms_power_series_in_under_5_bytes_per_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
