/* What the model and plan commands share: where carbon intensity comes from (a file, a zone,
 * or a constant), the PUE, and the --json/--force/--help options. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/str.h"
#include "plan/carbon.h"

#ifndef WP_DATADIR
#define WP_DATADIR "/usr/local/share/wattprof"
#endif

/* The zone directories, first match wins: WATTPROF_DATA_DIR (for a data set of your own),
 * the installed copy (make install), and the source tree next to the binary (build/wattprof
 * finds ../data/carbon), so a build works before it is installed. */
static void zone_dirs(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char tree[PATH_MAX + 32] = "";
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(tree, sizeof(tree), "%s/../data/carbon", exe);
        }
    }
    const char *env = getenv("WATTPROF_DATA_DIR");
    snprintf(buf, cap, "%s%s%s/carbon:%s", env && *env ? env : "", env && *env ? ":" : "",
             WP_DATADIR, tree);
}

int cli_load_intensity(const char *cmd, const char *spec, struct wp_intensity *ci)
{
    struct wp_err err = {0};
    char *end;
    double g = wp_strtod_dec(spec, &end);
    if (end != spec && *end == '\0') {
        if (!isfinite(g) || g < 0 || g > 5000) {
            cli_error(cmd, "a constant intensity is 0 to 5000 gCO2/kWh, not '%s'", spec);
            return WP_EXIT_USAGE;
        }
        wp_intensity_constant(ci, g);
        return 0;
    }
    struct stat st;
    const char *path = spec;
    char zpath[PATH_MAX + 64];
    if (strchr(spec, '/') == NULL && stat(spec, &st) != 0) {
        char dirs[3 * PATH_MAX];
        zone_dirs(dirs, sizeof(dirs));
        int rc = wp_intensity_find_zone(spec, dirs, zpath, sizeof(zpath), &err);
        if (rc < 0) {
            cli_error(cmd, "%s", err.msg);
            return rc == -EINVAL ? WP_EXIT_USAGE : WP_EXIT_NOINPUT;
        }
        path = zpath;
    }
    int rc = wp_intensity_load(ci, path, &err);
    if (rc < 0) {
        cli_error(cmd, "%s", err.msg);
        return rc == -ENOMEM ? WP_EXIT_SOFTWARE : rc == -EINVAL ? WP_EXIT_DATAERR : WP_EXIT_NOINPUT;
    }
    if (path == zpath) { /* name the zone, not only its file */
        char src[sizeof(ci->source) + 64];
        snprintf(src, sizeof(src), "zone %s, %s", spec, ci->source);
        src[sizeof(ci->source) - 1] = '\0';
        memcpy(ci->source, src, sizeof(ci->source));
    }
    return 0;
}

int cli_parse_pue(const char *s, double *out)
{
    char *end;
    double v = wp_strtod_dec(s, &end);
    if (end == s || *end || !(v >= 1.0 && v <= 5.0))
        return -EINVAL;
    *out = v;
    return 0;
}

int cli_plan_option(int c, const char *cmd, const char *usage, int json_code, const char **json,
                    bool *force)
{
    if (c == json_code) {
        *json = optarg;
        return CLI_OPT_DONE;
    }
    switch (c) {
    case 'f':
        *force = true;
        return CLI_OPT_DONE;
    case 'h':
        fputs(usage, stdout);
        return CLI_OPT_HELP;
    default:
        fprintf(stderr, "Try 'wattprof %s --help'.\n", cmd);
        return WP_EXIT_USAGE;
    }
}
