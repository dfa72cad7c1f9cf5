#include "cli/live_cli.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

int cli_live_start(const char *cmd, const char *mode, struct cli_sources *cs, const char *out,
                   bool force, int64_t commit_us, wp_event_fn on_event, void *event_ctx,
                   struct cli_live *lv)
{
    *lv = (struct cli_live){.out = out};
    if (wp_live_new(&lv->live) < 0) {
        cli_error(cmd, "out of memory");
        return WP_EXIT_SOFTWARE;
    }
    struct wp_meta meta = {0};
    wp_meta_set(&meta, "mode", mode);
    struct wp_recorder_opts ro = {
        .trace_path = out,
        .force = force,
        .marks = true,
        .meta = &meta,
        .config = &cs->cfg,
        .on_event = on_event,
        .event_ctx = event_ctx,
        .tap = wp_live_feed,
        .tap_ctx = lv->live,
        .commit_interval_us = commit_us,
    };
    struct wp_err err = {0};
    int rc = wp_recorder_start(&lv->r, &ro, false, &err);
    wp_meta_free(&meta);
    if (rc < 0) {
        cli_error(cmd, "%s", err.msg);
        wp_live_free(lv->live);
        lv->live = NULL;
        return cli_exit_for_start(rc);
    }
    lv->nsources = wp_recorder_nsources(lv->r);
    lv->source_name = calloc(lv->nsources + 1, sizeof(*lv->source_name));
    lv->source_kind = calloc(lv->nsources + 1, sizeof(*lv->source_kind));
    if (!lv->source_name || !lv->source_kind) {
        cli_live_stop(cmd, lv, 0, true, force);
        cli_error(cmd, "out of memory");
        return WP_EXIT_SOFTWARE;
    }
    for (size_t i = 0; i < lv->nsources; i++) {
        const struct wp_source_inst *s = wp_recorder_source(lv->r, i);
        lv->source_name[i] = s->cfg->name;
        lv->source_kind[i] = s->ops->name;
    }
    return 0;
}

int cli_live_stop(const char *cmd, struct cli_live *lv, int sig, bool quiet, bool force)
{
    int rc = 0;
    if (lv->r) {
        int64_t end_us = wp_wall_us();
        if (sig > 0) {
            char buf[32];
            snprintf(buf, sizeof(buf), "signal %d", sig);
            wp_recorder_set_meta(lv->r, "stopped_by", buf);
        }
        struct wp_err err = {0};
        rc = wp_recorder_stop(lv->r, end_us, &err);
        lv->r = NULL;
        if (rc < 0) {
            cli_error(cmd, "the recording could not be completed: %s", err.msg);
            rc = WP_EXIT_IOERR;
        } else if (lv->out) {
            rc = cli_summarize(cmd, lv->out, quiet ? NULL : stderr, NULL, force, false);
        }
    }
    wp_live_free(lv->live);
    free(lv->source_name);
    free(lv->source_kind);
    *lv = (struct cli_live){0};
    return rc;
}
