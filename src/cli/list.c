/* wattprof list: what can be measured here, and why anything is missing. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/recorder.h"

static const char list_usage[] =
    "usage: wattprof list\n"
    "\n"
    "Lists every sensor wattprof finds on this machine (source, device, reading, unit, how\n"
    "often it is read, limit) and, for each source or reading that is missing, why: no\n"
    "driver, no permission, not supported by this device. Exit status 69 if nothing at all\n"
    "can be measured.\n";

static void fmt_cadence(char *buf, size_t len, int64_t us)
{
    if (us >= 1000000 && us % 1000000 == 0)
        snprintf(buf, len, "%lld s", (long long)(us / 1000000));
    else
        snprintf(buf, len, "%lld ms", (long long)(us / 1000));
}

int cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(list_usage, stdout);
            return 0;
        }
        fprintf(stderr, "Try 'wattprof list --help'.\n");
        return WP_EXIT_USAGE;
    }
    if (optind < argc) {
        cli_error("list", "unexpected argument '%s'", argv[optind]);
        return WP_EXIT_USAGE;
    }
    struct wp_sensors tab = {0};
    struct wp_meta meta = {0};
    struct wp_err err = {0};
    if (wp_sources_probe(&tab, &meta, &err) < 0) {
        cli_error("list", "%s", err.msg);
        return WP_EXIT_SOFTWARE;
    }
    const char *replay = wp_meta_get(&meta, "replay");
    if (replay)
        printf("REPLAY: %s\n\n", replay);
    if (tab.n) {
        printf("%-6s %-4s %-14s %-8s %-4s %-7s %-7s %s\n", "SOURCE", "DEV", "READING", "QUANTITY",
               "UNIT", "EVERY", "LIMIT", "WHAT");
        int last_dev = -2;
        for (size_t i = 0; i < tab.n; i++) {
            const struct wp_sensor *s = &tab.v[i];
            if (s->device != last_dev && s->device >= 0)
                printf("# %s %d: %s %s\n", s->source, s->device, s->device_name, s->uuid);
            last_dev = s->device;
            char cad[32], lim[32] = "-";
            fmt_cadence(cad, sizeof(cad), s->cadence_us);
            if (s->limit != WP_NO_LIMIT && s->quantity == WP_Q_POWER)
                snprintf(lim, sizeof(lim), "%lld W", (long long)(s->limit / 1000));
            printf("%-6s %-4d %-14s %-8s %-4s %-7s %-7s %s\n", s->source, s->device, s->name,
                   wp_quantity_name(s->quantity), wp_quantity_unit(s->quantity), cad, lim, s->help);
        }
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
    int rc = tab.n ? 0 : WP_EXIT_UNAVAILABLE;
    wp_sensors_free(&tab);
    wp_meta_free(&meta);
    return rc;
}
