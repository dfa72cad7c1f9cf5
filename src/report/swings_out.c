#include <math.h>

#include "report/swings_out.h"

static void wnum(FILE *f, const char *fmt, double v)
{
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fprintf(f, "%10s", "-");
}

void wp_swings_print_text(FILE *f, const struct wp_swings_result *r)
{
    if (r->step_us <= 0)
        return;
    bool any = false;
    for (int i = 0; i < WP_SWING_WINDOWS; i++)
        any |= isfinite(r->swings[i].max_rise_w);
    if (!any && r->npeaks == 0)
        return;
    fputc('\n', f);
    fprintf(f, "swings of the GPUs' summed power (%.0f ms grid): change between adjacent windows\n",
            (double)r->step_us / 1000.0);
    fprintf(f, "%10s %10s %10s %12s\n", "window", "rise W", "fall W", "rate W/s");
    for (int i = 0; i < WP_SWING_WINDOWS; i++) {
        const struct wp_swing *w = &r->swings[i];
        char win[16];
        if (w->window_us >= 1000000)
            snprintf(win, sizeof(win), "%g s", (double)w->window_us / 1e6);
        else
            snprintf(win, sizeof(win), "%g ms", (double)w->window_us / 1e3);
        fprintf(f, "%10s ", win);
        wnum(f, "%10.1f", w->max_rise_w);
        fputc(' ', f);
        wnum(f, "%10.1f", w->max_fall_w);
        fputc(' ', f);
        if (isfinite(w->max_rate_w_per_s))
            fprintf(f, "%12.1f\n", w->max_rate_w_per_s);
        else
            fprintf(f, "%12s\n", "-");
    }
    if (r->npeaks == 0) {
        fputs("spectrum: no gapless stretch long enough\n", f);
        return;
    }
    fprintf(f, "spectrum (%zu segments of %.1f s, %.3f Hz bins), strongest lines:\n", r->segments,
            (double)r->segment_points * (double)r->step_us / 1e6, r->resolution_hz);
    /* as many per line as fit a 100-column terminal */
    int col = 0;
    for (size_t i = 0; i < r->npeaks; i++) {
        char item[80];
        int n = snprintf(item, sizeof(item), "%.3f Hz (%.2f s) %.1f W", r->peaks[i].hz,
                         1.0 / r->peaks[i].hz, r->peaks[i].amplitude_w);
        if (col > 0 && col + 2 + n > 98) {
            fputs(",\n", f);
            col = 0;
        }
        col += fprintf(f, "%s%s", col ? ", " : "  ", item);
    }
    fputc('\n', f);
}

void wp_swings_write_json(struct wp_json *j, const struct wp_swings_result *r)
{
    wp_json_key(j, "swings");
    wp_json_arr_begin(j);
    for (int i = 0; r->step_us > 0 && i < WP_SWING_WINDOWS; i++) {
        const struct wp_swing *w = &r->swings[i];
        wp_json_obj_begin(j);
        wp_json_kdouble(j, "window_ms", (double)w->window_us / 1000.0);
        wp_json_kdouble(j, "max_rise_w", w->max_rise_w);
        wp_json_kdouble(j, "max_fall_w", w->max_fall_w);
        wp_json_kdouble(j, "max_rate_w_per_s", w->max_rate_w_per_s);
        wp_json_obj_end(j);
    }
    wp_json_arr_end(j);
    if (r->segments == 0) {
        wp_json_knull(j, "spectrum");
        return;
    }
    wp_json_key(j, "spectrum");
    wp_json_obj_begin(j);
    wp_json_kdouble(j, "segment_s", (double)r->segment_points * (double)r->step_us / 1e6);
    wp_json_kuint(j, "segments", r->segments);
    wp_json_kdouble(j, "resolution_hz", r->resolution_hz);
    wp_json_key(j, "peaks");
    wp_json_arr_begin(j);
    for (size_t i = 0; i < r->npeaks; i++) {
        wp_json_obj_begin(j);
        wp_json_kdouble(j, "hz", r->peaks[i].hz);
        wp_json_kdouble(j, "amplitude_w", r->peaks[i].amplitude_w);
        wp_json_obj_end(j);
    }
    wp_json_arr_end(j);
    wp_json_obj_end(j);
}
