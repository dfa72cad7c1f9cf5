/* Text and JSON of the swings and spectrum (src/analysis/swings.h), for the summary. */
#ifndef WP_REPORT_SWINGS_OUT_H
#define WP_REPORT_SWINGS_OUT_H

#include <stdio.h>

#include "analysis/swings.h"
#include "core/json.h"

/* A block for the text summary; nothing when no swing was measured. */
void wp_swings_print_text(FILE *f, const struct wp_swings_result *r);
/* "swings": [{"window_ms", "max_rise_w", "max_fall_w", "max_rate_w_per_s"}],
 * "spectrum": {"segment_s", "segments", "resolution_hz", "peaks": [{"hz", "amplitude_w"}]}
 * (null when there was no gapless segment), written as members of the open object. */
void wp_swings_write_json(struct wp_json *j, const struct wp_swings_result *r);

#endif
