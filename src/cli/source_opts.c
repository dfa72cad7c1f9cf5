/* --source, --config, --no-auto and --rated-w: the same on every command that measures. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

void cli_sources_init(struct cli_sources *cs)
{
    memset(cs, 0, sizeof(*cs));
    wp_config_init(&cs->cfg);
    cs->rated_w = NAN;
}

void cli_sources_free(struct cli_sources *cs)
{
    wp_config_free(&cs->cfg);
}

int cli_sources_option(const char *cmd, int c, const char *arg, struct cli_sources *cs)
{
    struct wp_err err = {0};
    int rc = 0;
    switch (c) {
    case CLI_OPT_SOURCE:
        cs->named = true;
        rc = wp_config_add_spec(&cs->cfg, wp_source_kinds, arg, false, "--source", &err);
        break;
    case CLI_OPT_CONFIG:
        cs->named = true;
        rc = wp_config_load(&cs->cfg, wp_source_kinds, arg, &err);
        for (int i = 0; i < cs->cfg.nwarnings; i++)
            cli_warn(cmd, "%s", cs->cfg.warnings[i]);
        cs->cfg.nwarnings = 0;
        if (rc < 0) {
            cli_error(cmd, "%s", err.msg);
            return rc == -EINVAL ? WP_EXIT_USAGE : WP_EXIT_NOINPUT;
        }
        return 0;
    case CLI_OPT_NO_AUTO:
        cs->no_auto = true;
        return 0;
    case CLI_OPT_RATED_W:
        if (cli_parse_rated_w(arg, &cs->rated_w) < 0) {
            cli_error(cmd, "--rated-w wants the node's rated power in watts (e.g. 10200), not '%s'",
                      arg);
            return WP_EXIT_USAGE;
        }
        return 0;
    default:
        return -1;
    }
    if (rc < 0) {
        cli_error(cmd, "%s", err.msg);
        return WP_EXIT_USAGE;
    }
    return 0;
}

int cli_sources_finish(const char *cmd, struct cli_sources *cs)
{
    struct wp_err err = {0};
    if (cs->no_auto)
        cs->cfg.no_auto = true;
    if (cs->rated_w == cs->rated_w)
        cs->cfg.rated_w = cs->rated_w;
    if (wp_config_add_auto(&cs->cfg, wp_source_kinds, &err) < 0) {
        cli_error(cmd, "%s", err.msg);
        return WP_EXIT_USAGE;
    }
    if (cs->cfg.n == 0) {
        cli_error(cmd, "no source to read: --no-auto (or auto=0) and no --source given");
        return WP_EXIT_USAGE;
    }
    return 0;
}

int cli_exit_for_start(int code)
{
    return code == -EINVAL ? WP_EXIT_USAGE : cli_exit_for_create(code);
}
