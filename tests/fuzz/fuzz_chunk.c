/* libFuzzer target for the chunk codec (`make fuzz`; tests/fuzz/run.sh runs it). Input: 2 bytes
 * (little endian) of sample count, then the buffer to decode, which ends exactly where libFuzzer's
 * allocation ends, so ASan sees any read past len. Properties checked on every input:
 *  - decode: a buffer that decodes holds no more samples than wp_chunk_max_samples says; a
 *    version 1 buffer must be the one canonical encoding of what it decoded to; a version 2
 *    one (which has one encoding per choice of base and orders) must decode to the same series
 *    as the encoder's own encoding of it;
 *  - encode: the same bytes read as (t_us, value) pairs must encode, in both versions, and
 *    decode back exactly, and no shorter prefix of the encoding may decode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/trace.h"

#define MAX_N 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t t_buf[MAX_N], v_buf[MAX_N], t2[MAX_N], v2[MAX_N];

static void check_decode(const uint8_t *data, size_t size)
{
    size_t n = (size_t)(data[0] | data[1] << 8) % (MAX_N + 1);
    const uint8_t *buf = data + 2;
    size_t len = size - 2;
    if (wp_chunk_decode(buf, len, n, t_buf, v_buf) != 0)
        return;
    if (n > wp_chunk_max_samples(buf, len))
        abort();
    int version = wp_chunk_version(buf, len);
    uint8_t *enc;
    size_t elen;
    if ((version == 1 ? wp_chunk_encode_v1 : wp_chunk_encode)(t_buf, v_buf, n, &enc, &elen) != 0)
        abort();
    if (version == 1 && (elen != len || memcmp(enc, buf, len) != 0))
        abort(); /* two encodings of one series: the decoder accepts a non-canonical form */
    if (version == 2) {
        if (wp_chunk_decode(enc, elen, n, t2, v2) != 0)
            abort();
        for (size_t i = 0; i < n; i++)
            if (t2[i] != t_buf[i] || v2[i] != v_buf[i])
                abort();
    }
    free(enc);
}

static void check_encode(const uint8_t *data, size_t size)
{
    size_t n = size / 16;
    if (n > MAX_N)
        n = MAX_N;
    for (size_t i = 0; i < n; i++) {
        memcpy(&t_buf[i], data + 16 * i, 8);
        memcpy(&v_buf[i], data + 16 * i + 8, 8);
    }
    for (int version = 1; version <= 2; version++) {
        uint8_t *enc;
        size_t elen;
        if ((version == 1 ? wp_chunk_encode_v1 : wp_chunk_encode)(t_buf, v_buf, n, &enc, &elen) !=
            0)
            abort();
        if (wp_chunk_version(enc, elen) != version || wp_chunk_max_samples(enc, elen) < n)
            abort();
        if (wp_chunk_decode(enc, elen, n, t2, v2) != 0)
            abort();
        for (size_t i = 0; i < n; i++)
            if (t2[i] != t_buf[i] || v2[i] != v_buf[i])
                abort();
        /* Any shorter prefix of a valid buffer must be refused. */
        if (elen > 0 && wp_chunk_decode(enc, elen - 1, n, t2, v2) == 0)
            abort();
        free(enc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2)
        check_decode(data, size);
    check_encode(data, size);
    return 0;
}
