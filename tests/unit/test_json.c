/* The one JSON writer (src/core/json.c): string escaping (quotes, backslash, control
 * characters, invalid UTF-8 replaced by U+FFFD as Python's decode("utf-8", "replace") does),
 * JSON Lines, and the mark counts that the trace stores through it. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"
#include "store/trace_int.h"

/* What wp_json_write_string makes of s, malloc'd. */
static char *escaped(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(wp_json_write_string(f, s), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

#define assert_escapes(in, want)                                                                   \
    do {                                                                                           \
        char *got_ = escaped(in);                                                                  \
        if (strcmp(got_, want) != 0)                                                               \
            fail_msg("escaping %s gave %s, expected %s", #in, got_, want);                         \
        free(got_);                                                                                \
    } while (0)

static void test_json_escapes_quotes_and_backslash(void **state)
{
    (void)state;
    assert_escapes("plain", "\"plain\"");
    assert_escapes("a\"b", "\"a\\\"b\"");
    assert_escapes("C:\\dir\\", "\"C:\\\\dir\\\\\"");
    assert_escapes("", "\"\"");
}

static void test_json_escapes_every_control_character(void **state)
{
    (void)state;
    assert_escapes("a\nb\tc\rd\be\ff", "\"a\\nb\\tc\\rd\\be\\ff\"");
    assert_escapes("\x01\x1f", "\"\\u0001\\u001f\"");
    assert_escapes("\x1b[31mred", "\"\\u001b[31mred\"");
    /* DEL is allowed in JSON strings as it is. */
    assert_escapes("\x7f", "\"\x7f\"");
    /* U+2028/2029 are valid JSON but end lines in JavaScript. */
    assert_escapes("x\xe2\x80\xa8y\xe2\x80\xa9", "\"x\\u2028y\\u2029\"");
}

static void test_json_keeps_valid_utf8(void **state)
{
    (void)state;
    assert_escapes("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void test_json_replaces_invalid_utf8_with_fffd(void **state)
{
    (void)state;
    assert_escapes("\xff", "\"\\ufffd\"");                       /* never a UTF-8 byte */
    assert_escapes("a\x80z", "\"a\\ufffdz\"");                   /* stray continuation */
    assert_escapes("a\xc3", "\"a\\ufffd\"");                     /* cut at the end */
    assert_escapes("\xe2\x82x", "\"\\ufffdx\"");                 /* cut: one U+FFFD for both */
    assert_escapes("\xc0\xaf", "\"\\ufffd\\ufffd\"");            /* overlong '/' */
    assert_escapes("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* a UTF-16 surrogate */
    assert_escapes("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    assert_escapes("\"\xff\\", "\"\\\"\\ufffd\\\\\"");
}

static void test_json_document_escapes_keys_and_values(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct wp_json j;
    wp_json_init(&j, f, 0);
    wp_json_obj_begin(&j);
    wp_json_kstr(&j, "k\xff\"", "v\x01\xc3");
    wp_json_kdouble(&j, "nan", NAN);
    wp_json_kint(&j, "n", -3);
    wp_json_obj_end(&j);
    assert_int_equal(wp_json_end(&j), 0);
    fclose(f);
    assert_string_equal(buf, "{\"k\\ufffd\\\"\":\"v\\u0001\\ufffd\",\"nan\":null,\"n\":-3}");
    free(buf);
}

static void test_json_lines_one_document_per_line(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct wp_json j;
    wp_json_init(&j, f, 0);
    for (int i = 0; i < 2; i++) {
        wp_json_obj_begin(&j);
        wp_json_kstr(&j, "name", i ? "b\n" : "a");
        wp_json_obj_end(&j);
        assert_int_equal(wp_json_end_line(&j), 0);
    }
    fflush(f);
    assert_string_equal(buf, "{\"name\":\"a\"}\n{\"name\":\"b\\n\"}\n");
    /* an unfinished line is refused */
    wp_json_obj_begin(&j);
    assert_int_equal(wp_json_end_line(&j), -EINVAL);
    fclose(f);
    free(buf);
}

static void test_json_counts_round_trip_and_refuse_a_small_buffer(void **state)
{
    (void)state;
    struct wp_mark m = {.ncounts = 3};
    snprintf(m.counts[0].key, sizeof(m.counts[0].key), "samples");
    m.counts[0].value = 512;
    snprintf(m.counts[1].key, sizeof(m.counts[1].key), "tokens");
    m.counts[1].value = 1.5e6;
    snprintf(m.counts[2].key, sizeof(m.counts[2].key), "flops");
    m.counts[2].value = NAN;
    char buf[256];
    assert_int_equal(wp_store_counts_to_json(&m, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "{\"samples\":512,\"tokens\":1500000,\"flops\":null}");
    struct wp_mark back = {0};
    assert_int_equal(wp_store_counts_parse(buf, &back), 0);
    assert_int_equal(back.ncounts, 3);
    assert_string_equal(back.counts[1].key, "tokens");
    assert_true(back.counts[1].value == 1.5e6);
    assert_true(isnan(back.counts[2].value));
    /* exactly the length: no room for the NUL */
    size_t need = strlen(buf);
    assert_int_equal(wp_store_counts_to_json(&m, buf, need), -ENOSPC);
    assert_int_equal(wp_store_counts_to_json(&m, buf, 5), -ENOSPC);
    assert_int_equal(wp_store_counts_to_json(&m, buf, need + 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escapes_quotes_and_backslash),
        cmocka_unit_test(test_json_escapes_every_control_character),
        cmocka_unit_test(test_json_keeps_valid_utf8),
        cmocka_unit_test(test_json_replaces_invalid_utf8_with_fffd),
        cmocka_unit_test(test_json_document_escapes_keys_and_values),
        cmocka_unit_test(test_json_lines_one_document_per_line),
        cmocka_unit_test(test_json_counts_round_trip_and_refuse_a_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
