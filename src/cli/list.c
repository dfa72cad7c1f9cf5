/* wattprof list: what can be measured here, and why anything is missing. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "recorder/recorder.h"
#include "sources/source.h"

static const char list_usage[] =
    "usage: wattprof list [--source SPEC]... [--config FILE] [--no-auto] [--kinds]\n"
    "\n"
    "Lists every sensor wattprof finds on this machine (source, device, reading, what it\n"
    "measures, raw unit, how often it is read, limit) and, for each source or reading that\n"
    "is missing, why: no driver, no permission, not supported by this device, and how to\n"
    "fix it. With --source/--config it opens those instances, as `run` and `record` would.\n"
    "\n"
    "options:\n" CLI_SOURCE_HELP
    "  --kinds             list the source kinds and the keys each one takes, and exit\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit status: 0 something can be measured, 64 bad options, 66 a config file cannot be\n"
    "read, 69 nothing at all can be measured.\n";

static void print_kinds(void)
{
    printf("Source kinds (--source KIND[:KEY=VALUE,...]; every kind also takes name=NAME):\n");
    for (size_t i = 0; wp_source_kinds[i]; i++) {
        const struct wp_source_ops *k = wp_source_kinds[i];
        printf("\n%s%s: %s\n", k->name, (k->flags & WP_SOURCE_AUTO) ? " (automatic)" : "", k->help);
        for (const struct wp_source_key *key = k->keys; key && key->key; key++) {
            if (key->flags & WP_KEY_SECRET)
                printf("  %s_file=PATH / %s_env=VAR  %s (never on the command line)\n", key->key,
                       key->key, key->help);
            else
                printf("  %s=%s\n", key->key, key->help);
        }
    }
}

static void fmt_cadence(char *buf, size_t len, int64_t us)
{
    if (us >= 1000000 && us % 1000000 == 0)
        snprintf(buf, len, "%lld s", (long long)(us / 1000000));
    else
        snprintf(buf, len, "%lld ms", (long long)(us / 1000));
}

int cmd_list(int argc, char **argv)
{
    enum { OPT_KINDS = 0x2000 };
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                         {"kinds", no_argument, NULL, OPT_KINDS},
                                         CLI_SOURCE_LONGOPTS,
                                         {NULL, 0, NULL, 0}};
    struct cli_sources cs;
    cli_sources_init(&cs);
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h' || c == OPT_KINDS) {
            cli_sources_free(&cs);
            if (c == 'h')
                fputs(list_usage, stdout);
            else
                print_kinds();
            return 0;
        }
        if ((rc = cli_sources_option("list", c, optarg, &cs)) >= 0) {
            if (rc == 0)
                continue;
            cli_sources_free(&cs);
            return rc;
        }
        cli_sources_free(&cs);
        fprintf(stderr, "Try 'wattprof list --help'.\n");
        return WP_EXIT_USAGE;
    }
    if (optind < argc) {
        cli_error("list", "unexpected argument '%s'", argv[optind]);
        cli_sources_free(&cs);
        return WP_EXIT_USAGE;
    }
    if ((rc = cli_sources_finish("list", &cs))) {
        cli_sources_free(&cs);
        return rc;
    }
    struct wp_sensors tab = {0};
    struct wp_meta meta = {0};
    struct wp_err err = {0};
    if ((rc = wp_sources_probe(&cs.cfg, &tab, &meta, &err)) < 0) {
        cli_error("list", "%s", err.msg);
        cli_sources_free(&cs);
        wp_meta_free(&meta);
        wp_sensors_free(&tab);
        return rc == -EINVAL ? WP_EXIT_USAGE : WP_EXIT_SOFTWARE;
    }
    const char *replay = wp_meta_get(&meta, "replay");
    if (replay)
        printf("REPLAY: %s\n\n", replay);
    if (tab.n) {
        /* columns as wide as their widest cell (a unit like pid*1000+% is wider than mW) */
        enum { C_SOURCE, C_DEV, C_NAME, C_QTY, C_SCOPE, C_UNIT, C_EVERY, C_LIMIT, NCOL };
        static const char *const head[NCOL] = {"SOURCE", "DEV",  "READING", "QUANTITY",
                                               "SCOPE",  "UNIT", "EVERY",   "LIMIT"};
        int w[NCOL];
        for (int k = 0; k < NCOL; k++)
            w[k] = (int)strlen(head[k]);
        char(*cell)[NCOL][64] = calloc(tab.n, sizeof(*cell));
        if (!cell) {
            cli_error("list", "out of memory");
            rc = WP_EXIT_SOFTWARE;
            goto out;
        }
        for (size_t i = 0; i < tab.n; i++) {
            const struct wp_sensor *s = &tab.v[i];
            snprintf(cell[i][C_SOURCE], 64, "%s", s->source);
            snprintf(cell[i][C_DEV], 64, "%d", s->device);
            snprintf(cell[i][C_NAME], 64, "%s", s->name);
            snprintf(cell[i][C_QTY], 64, "%s", wp_quantity_name(s->quantity));
            snprintf(cell[i][C_SCOPE], 64, "%s", wp_scope_name(s->scope));
            snprintf(cell[i][C_UNIT], 64, "%s", wp_sensor_unit(s));
            fmt_cadence(cell[i][C_EVERY], 64, s->cadence_us);
            snprintf(cell[i][C_LIMIT], 64, "-");
            if (s->limit != WP_NO_LIMIT && s->quantity == WP_Q_POWER)
                snprintf(cell[i][C_LIMIT], 64, "%.0f W", wp_sensor_value(s, s->limit) / 1000);
            for (int k = 0; k < NCOL; k++) {
                int l = (int)strlen(cell[i][k]);
                w[k] = l > w[k] ? l : w[k];
            }
        }
        for (int k = 0; k < NCOL; k++)
            printf("%-*s ", w[k], head[k]);
        printf("WHAT\n");
        int last_dev = -2;
        for (size_t i = 0; i < tab.n; i++) {
            const struct wp_sensor *s = &tab.v[i];
            if (s->device != last_dev && s->device >= 0)
                printf("# %s %d: %s %s\n", s->source, s->device, s->device_name, s->uuid);
            last_dev = s->device;
            for (int k = 0; k < NCOL; k++)
                printf("%-*s ", w[k], cell[i][k]);
            printf("%s\n", s->help);
        }
        free(cell);
    }
    bool header = false;
    for (size_t i = 0; i < meta.n; i++) {
        if (strncmp(meta.v[i].key, "missing.", 8) != 0)
            continue;
        if (!header)
            printf("%smissing:\n", tab.n ? "\n" : "");
        header = true;
        printf("  %-28s %s\n", meta.v[i].key + 8, meta.v[i].value);
    }
    if (tab.n == 0)
        printf("\nnothing to measure with on this machine.\n");
    rc = tab.n ? 0 : WP_EXIT_UNAVAILABLE;
out:
    wp_sensors_free(&tab);
    wp_meta_free(&meta);
    cli_sources_free(&cs);
    return rc;
}
