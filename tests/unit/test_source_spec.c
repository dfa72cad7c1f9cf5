/* Source specs and config files: every key a kind documents, values with commas, the errors a
 * user can cause (each must name what is valid), and secrets: never accepted on the command
 * line, read from a file or the environment, redacted wherever a spec is shown or stored. A
 * test kind with a secret key stands in for the network meters (IPMI, Redfish, SNMP). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tmpdir.h"

#include "sources/source.h"

static int dummy_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    (void)state;
    (void)cfg;
    return wp_errf(err, -ENODEV, "not here");
}

static const struct wp_source_key meter_keys[] = {
    {"host", "HOST  the meter's address", 0},
    {"user", "NAME  the user to log in as", 0},
    {"password", "the user's password", WP_KEY_SECRET},
    {"interval", "DURATION  how often to read", 0},
    {"fast", "0|1  read fast", 0},
    {NULL, NULL, 0},
};
static const struct wp_source_ops meter = {.name = "meter", .keys = meter_keys, .open = dummy_open};
static const struct wp_source_ops autok = {
    .name = "autok", .flags = WP_SOURCE_AUTO, .open = dummy_open};
static const struct wp_source_ops *const kinds[] = {&meter, &autok, NULL};

static char *write_file(const char *name, const char *text, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", test_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

/* spec must be refused with -EINVAL and a message holding want. */
static void expect_bad(const char *spec, bool from_file, const char *want)
{
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err = {0};
    int rc = wp_config_add_spec(&c, kinds, spec, from_file, "--source", &err);
    if (rc != -EINVAL || !strstr(err.msg, want))
        fail_msg("spec '%s': rc %d, message '%s', wanted -EINVAL and '%s'", spec, rc, err.msg,
                 want);
    assert_int_equal(c.n, 0);
    wp_config_free(&c);
}

static void test_spec_parses_kind_keys_and_values_with_commas(void **state)
{
    (void)state;
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err = {0};
    assert_int_equal(wp_config_add_spec(&c, kinds, "meter", false, "--source", &err), 0);
    assert_int_equal(wp_config_add_spec(&c, kinds,
                                        "meter: host=10.0.0.1 , user=admin,interval=500ms,fast=yes",
                                        false, "--source", &err),
                     0);
    assert_int_equal(
        wp_config_add_spec(&c, kinds, "meter:host=a,b,c,name=pdu-a", false, "--source", &err), 0);
    assert_int_equal(c.n, 3);
    /* Unnamed instances take the kind's name, numbered from the second. */
    assert_string_equal(c.v[0].name, "meter");
    assert_string_equal(c.v[1].name, "meter-2");
    assert_string_equal(c.v[2].name, "pdu-a");
    assert_int_equal(c.v[0].nopts, 0);
    assert_string_equal(wp_source_cfg_get(&c.v[1], "host"), "10.0.0.1");
    assert_string_equal(wp_source_cfg_get(&c.v[1], "user"), "admin");
    assert_null(wp_source_cfg_get(&c.v[1], "password"));
    /* A piece without '=' continues the previous value. */
    assert_string_equal(wp_source_cfg_get(&c.v[2], "host"), "a,b,c");

    int64_t us = 0;
    assert_int_equal(
        wp_source_cfg_duration_us(&c.v[1], "interval", 1000000, 10000, 60000000, &us, &err), 0);
    assert_true(us == 500000);
    assert_int_equal(
        wp_source_cfg_duration_us(&c.v[0], "interval", 1000000, 10000, 60000000, &us, &err), 0);
    assert_true(us == 1000000); /* the default when absent */
    bool fast = false;
    assert_int_equal(wp_source_cfg_bool(&c.v[1], "fast", false, &fast, &err), 0);
    assert_true(fast);
    wp_config_free(&c);
}

static void test_spec_values_out_of_range_are_refused_with_the_range(void **state)
{
    (void)state;
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err = {0};
    static const char *const bad[] = {"interval=5ms", "interval=2h",    "interval=abc",
                                      "interval=-1s", "interval=1e300", "interval=nan"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "meter:%s,name=m%zu", bad[i], i);
        assert_int_equal(wp_config_add_spec(&c, kinds, spec, false, "--source", &err), 0);
        int64_t us;
        int rc =
            wp_source_cfg_duration_us(&c.v[i], "interval", 1000000, 10000, 60000000, &us, &err);
        if (rc != -EINVAL || !strstr(err.msg, "from 10ms to 60s"))
            fail_msg("%s: rc %d '%s'", bad[i], rc, err.msg);
    }
    /* what the message suggests is itself accepted (it once suggested 500ms for a 1 s floor) */
    const char *eg = strstr(err.msg, "write e.g. ");
    assert_non_null(eg);
    char lo_s[32], hi_s[32];
    assert_int_equal(sscanf(eg, "write e.g. %31[^ ] or %31[^)]", lo_s, hi_s), 2);
    for (int k = 0; k < 2; k++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "meter:%s,name=ok%d", k ? hi_s : lo_s, k);
        assert_int_equal(wp_config_add_spec(&c, kinds, spec, false, "--source", &err), 0);
        int64_t us;
        if (wp_source_cfg_duration_us(&c.v[c.n - 1], "interval", 1000000, 10000, 60000000, &us,
                                      &err) != 0)
            fail_msg("the suggested %s is refused: %s", k ? hi_s : lo_s, err.msg);
        assert_true(us == (k ? 60000000 : 10000));
    }
    assert_int_equal(wp_config_add_spec(&c, kinds, "meter:fast=maybe,name=f", false, "x", &err), 0);
    bool b;
    assert_int_equal(wp_source_cfg_bool(&c.v[c.n - 1], "fast", false, &b, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "fast=1 or fast=0"));
    wp_config_free(&c);
}

static void test_spec_errors_name_what_is_valid(void **state)
{
    (void)state;
    expect_bad("pdu", false, "unknown source kind 'pdu' (known kinds: meter, autok)");
    expect_bad("meter:hots=x", false,
               "has no option 'hots' (it takes: name, host, user, "
               "password_file, password_env, interval, fast)");
    expect_bad("meter:host=a,host=b", false, "option 'host' is given twice");
    expect_bad("meter:=x", false, "no key before '='");
    expect_bad("meter:fst", false, "is not key=value (write e.g. meter:name=fst)");
    /* a key without its value is told the value it takes, not to make it the name */
    expect_bad("meter:fast", false,
               "'fast' in source meter has no value: write meter:fast=0|1 (read fast)");
    expect_bad("meter:password", false, "give it as meter:password_file=PATH or");
    expect_bad("meter:name=has space", false, "an instance name is");
    expect_bad("meter:name=", false, "an instance name is");
    /* Two instances may not share a name. */
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err = {0};
    assert_int_equal(wp_config_add_spec(&c, kinds, "meter:name=x", false, "--source", &err), 0);
    assert_int_equal(wp_config_add_spec(&c, kinds, "autok:name=x", false, "--source", &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "two sources are named 'x'"));
    wp_config_free(&c);
}

static void test_secret_on_the_command_line_is_refused(void **state)
{
    (void)state;
    expect_bad("meter:host=h,password=hunter2", false, "password_file=PATH");
    expect_bad("meter:password_file=/x,password_env=Y", false, "one way only");
}

static void test_secret_is_read_from_file_env_or_config_and_never_shown(void **state)
{
    (void)state;
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err = {0};
    char *pw = write_file("pw", "s3cret-file\nsecond line\n", 0600);
    char spec[256];
    snprintf(spec, sizeof(spec), "meter:host=h,password_file=%s", pw);
    assert_int_equal(wp_config_add_spec(&c, kinds, spec, false, "--source", &err), 0);
    setenv("WP_TEST_PW", "s3cret-env", 1);
    assert_int_equal(
        wp_config_add_spec(&c, kinds, "meter:password_env=WP_TEST_PW", false, "--source", &err), 0);
    assert_int_equal(
        wp_config_add_spec(&c, kinds, "meter:password=s3cret-inline", true, "f:1", &err), 0);
    assert_int_equal(
        wp_config_add_spec(&c, kinds, "meter:password_env=WP_TEST_UNSET", false, "x", &err), 0);
    assert_int_equal(wp_config_add_spec(&c, kinds, "meter:host=nopw", false, "x", &err), 0);

    char buf[64];
    assert_int_equal(wp_source_cfg_secret(&c.v[0], "password", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "s3cret-file"); /* the first line, without its newline */
    assert_int_equal(wp_source_cfg_secret(&c.v[1], "password", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "s3cret-env");
    assert_int_equal(wp_source_cfg_secret(&c.v[2], "password", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "s3cret-inline");
    assert_int_equal(wp_source_cfg_secret(&c.v[3], "password", buf, sizeof(buf), &err), -ENOENT);
    assert_non_null(strstr(err.msg, "WP_TEST_UNSET"));
    assert_int_equal(wp_source_cfg_secret(&c.v[4], "password", buf, sizeof(buf), &err), -ENOENT);
    assert_non_null(strstr(err.msg, "password_file=PATH or password_env=VARIABLE"));

    /* What is shown and stored: file paths and variable names, never the secret. */
    char shown[256];
    for (size_t i = 0; i < c.n; i++) {
        wp_source_cfg_format(&c.v[i], shown, sizeof(shown));
        assert_null(strstr(shown, "s3cret"));
    }
    wp_source_cfg_format(&c.v[2], shown, sizeof(shown));
    assert_string_equal(shown, "meter:password=<secret>");
    wp_source_cfg_format(&c.v[1], shown, sizeof(shown));
    assert_string_equal(shown, "meter:password_env=WP_TEST_PW");
    unsetenv("WP_TEST_PW");
    wp_config_free(&c);
}

static void test_config_file_specs_settings_comments_and_errors_with_line(void **state)
{
    (void)state;
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err = {0};
    char *path = write_file("node.conf",
                            "# the node\n"
                            "\n"
                            "rated_w = 10200   # HGX H100\n"
                            "node_allowance_w=900\n"
                            "auto=0\n"
                            "meter:host=bmc,name=bmc\n"
                            "  meter : host=pdu , name=pdu-a  # the A feed\n",
                            0600);
    assert_int_equal(wp_config_load(&c, kinds, path, &err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.v[1].name, "pdu-a");
    assert_string_equal(wp_source_cfg_get(&c.v[1], "host"), "pdu");
    assert_true(c.rated_w == 10200);
    assert_true(c.node_allowance_w == 900);
    assert_true(c.no_auto);
    assert_int_equal(c.nwarnings, 0);
    /* auto=0: the automatic kind is not added. */
    assert_int_equal(wp_config_add_auto(&c, kinds, &err), 0);
    assert_int_equal(c.n, 2);
    wp_config_free(&c);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"meter:host=x\nrated_w=-5\n", "node.conf:2: rated_w=-5"},
        {"rated_w=abc\n", "rated_w=abc"},
        {"colour=blue\n", "unknown setting 'colour' (settings: rated_w, node_allowance_w, auto"},
        {"\n\npdu:host=x\n", "node.conf:3: unknown source kind 'pdu'"},
        {"auto=maybe\n", "auto=maybe"},
        {"node_allowance_w=1e99\n", "node_allowance_w=1e99"},
        {"rated_w=10200\nmeter:host=x\nrated_w=8000\n",
         "node.conf:3: rated_w=8000 sets it a second time (10200 before)"},
        {"node_allowance_w=900\nnode_allowance_w=900\n",
         "node_allowance_w=900 sets it a second time"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wp_config_init(&c);
        path = write_file("node.conf", bad[i].text, 0600);
        int rc = wp_config_load(&c, kinds, path, &err);
        if (rc != -EINVAL || !strstr(err.msg, bad[i].want))
            fail_msg("config '%s': rc %d '%s', wanted '%s'", bad[i].text, rc, err.msg, bad[i].want);
        wp_config_free(&c);
    }
    wp_config_init(&c);
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/none.conf", test_dir);
    assert_int_equal(wp_config_load(&c, kinds, missing, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "none.conf"));
    /* a directory opens, then every read fails: said as what it is */
    assert_int_equal(wp_config_load(&c, kinds, test_dir, &err), -EISDIR);
    assert_non_null(strstr(err.msg, "is a directory"));
    wp_config_free(&c);
}

static void test_config_with_inline_secret_readable_by_others_warns(void **state)
{
    (void)state;
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err = {0};
    char *path = write_file("shared.conf", "meter:host=x,password=hunter2\n", 0644);
    assert_int_equal(wp_config_load(&c, kinds, path, &err), 0);
    assert_int_equal(c.nwarnings, 1);
    assert_non_null(strstr(c.warnings[0], "chmod 600"));
    assert_null(strstr(c.warnings[0], "hunter2"));
    wp_config_free(&c);

    /* The same file, private: no warning. A file path is not a secret: no warning either. */
    wp_config_init(&c);
    path = write_file("private.conf", "meter:host=x,password=hunter2\n", 0600);
    assert_int_equal(wp_config_load(&c, kinds, path, &err), 0);
    assert_int_equal(c.nwarnings, 0);
    wp_config_free(&c);
    wp_config_init(&c);
    path = write_file("shared2.conf", "meter:host=x,password_file=/etc/pw\n", 0644);
    assert_int_equal(wp_config_load(&c, kinds, path, &err), 0);
    assert_int_equal(c.nwarnings, 0);
    wp_config_free(&c);
}

static void test_auto_adds_only_kinds_no_instance_names(void **state)
{
    (void)state;
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err = {0};
    assert_int_equal(wp_config_add_auto(&c, kinds, &err), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.v[0].name, "autok");
    wp_config_free(&c);

    wp_config_init(&c);
    assert_int_equal(wp_config_add_spec(&c, kinds, "autok:name=mine", false, "x", &err), 0);
    assert_int_equal(wp_config_add_auto(&c, kinds, &err), 0);
    assert_int_equal(c.n, 1); /* the user's instance replaces the automatic one */
    wp_config_free(&c);
}

/* The real kinds table: every documented key of every kind is accepted. */
static void test_every_documented_key_of_every_kind_is_accepted(void **state)
{
    (void)state;
    for (size_t i = 0; wp_source_kinds[i]; i++) {
        const struct wp_source_ops *k = wp_source_kinds[i];
        assert_non_null(k->help);
        for (const struct wp_source_key *key = k->keys; key && key->key; key++) {
            struct wp_config c;
            wp_config_init(&c);
            struct wp_err err = {0};
            char spec[128];
            snprintf(spec, sizeof(spec), "%s:%s%s=v", k->name, key->key,
                     (key->flags & WP_KEY_SECRET) ? "_env" : "");
            if (wp_config_add_spec(&c, wp_source_kinds, spec, false, "--source", &err) != 0)
                fail_msg("%s: %s", spec, err.msg);
            assert_non_null(key->help);
            wp_config_free(&c);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parses_kind_keys_and_values_with_commas),
        cmocka_unit_test(test_spec_values_out_of_range_are_refused_with_the_range),
        cmocka_unit_test(test_spec_errors_name_what_is_valid),
        cmocka_unit_test(test_secret_on_the_command_line_is_refused),
        cmocka_unit_test(test_secret_is_read_from_file_env_or_config_and_never_shown),
        cmocka_unit_test(test_config_file_specs_settings_comments_and_errors_with_line),
        cmocka_unit_test(test_config_with_inline_secret_readable_by_others_warns),
        cmocka_unit_test(test_auto_adds_only_kinds_no_instance_names),
        cmocka_unit_test(test_every_documented_key_of_every_kind_is_accepted),
    };
    return cmocka_run_group_tests(tests, test_dir_make, test_dir_remove);
}
