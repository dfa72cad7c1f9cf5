/* What `serve` and `top` share: a recording (to a trace only with -o) that feeds a live view
 * (src/recorder/live.h), and its orderly end. */
#ifndef WP_CLI_LIVE_H
#define WP_CLI_LIVE_H

#include <signal.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "recorder/live.h"
#include "recorder/recorder.h"

struct cli_live {
    struct wp_live *live;
    struct wp_recorder *r;
    const char *out; /* the trace, or NULL */
    size_t nsources;
    const char **source_name, **source_kind;
};

/* Starts recording cs's sources into out (NULL: no trace) with the marks socket open, the
 * writer handing each round (every commit_us) to a live view. Returns 0 or an exit status
 * after printing. */
int cli_live_start(const char *cmd, const char *mode, struct cli_sources *cs, const char *out,
                   bool force, int64_t commit_us, wp_event_fn on_event, void *event_ctx,
                   struct cli_live *lv);
/* Stops recording (stopped_by names sig when > 0) and, with a trace, prints its summary
 * unless quiet. Frees lv. Returns 0 or an exit status. */
int cli_live_stop(const char *cmd, struct cli_live *lv, int sig, bool quiet, bool force);

#endif
