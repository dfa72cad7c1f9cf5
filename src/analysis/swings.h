/* How fast the summed power of the GPUs swings, and at what frequencies: what a grid operator
 * or facility engineer asks of AI load (MW per second; a training step's period).
 *
 * A fold over the summed power on a regular grid (20 ms for NVML's buffer), pushed one point at
 * a time, so a day-long trace needs no more memory than its longest window and one spectrum
 * segment (about 150 KB), whatever its length.
 *
 * Swing over a window W: the change between the means of two adjacent W-long spans, sliding
 * by one grid step, m(t) - m(t - W) with m(t) the mean over (t - W, t]. Over 20 ms that is the
 * change between consecutive samples; over 1 s, between consecutive 1 s means (what the 1 s
 * average a PDU or BMC reports would show). max_rise_w is its largest positive value,
 * max_fall_w the largest drop (a positive number), max_rate_w_per_s the larger of the two
 * divided by W. A gap in the grid (a point NAN: some series missed it) restarts every
 * window: no swing is measured across a hole.
 *
 * Spectrum: Welch's method. Fixed-size segments (a power of two, at most
 * WP_SPECTRUM_MAX_SEGMENT points, 164 s at 20 ms) overlapping by half, each less its own mean,
 * Hann-windowed and transformed with KISS FFT; the power spectra are averaged. A peak is a
 * local maximum; its amplitude (W) is that of the sine that would carry the power of its
 * main lobe (five bins), so a sine of amplitude A reads as A wherever its frequency falls
 * between bins; its frequency is interpolated between bins (Gaussian fit of the three around
 * it). Segments that hold a gap are dropped. */
#ifndef WP_SWINGS_H
#define WP_SWINGS_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/energy.h"
#include "core/err.h"

#define WP_SWING_WINDOWS        4
#define WP_SPECTRUM_MAX_PEAKS   5
#define WP_SPECTRUM_MAX_SEGMENT 8192
#define WP_SPECTRUM_MIN_SEGMENT 64

/* 20 ms, 100 ms, 1 s, 60 s */
extern const int64_t wp_swing_window_us[WP_SWING_WINDOWS];

struct wp_swing {
    int64_t window_us;
    /* NAN when the grid never held 2 W of gapless data (or W is not a whole number of grid
     * steps, e.g. 20 ms on a 100 ms series) */
    double max_rise_w, max_fall_w, max_rate_w_per_s;
};

struct wp_spectrum_peak {
    double hz, amplitude_w;
};

struct wp_swings_result {
    int64_t step_us; /* the grid the sums were taken on; 0 when nothing was folded */
    size_t points;   /* grid points folded, gaps included */
    struct wp_swing swings[WP_SWING_WINDOWS];
    /* spectrum: strongest first; npeaks 0 when no gapless segment was long enough */
    size_t segment_points, segments;
    double resolution_hz; /* bin width; NAN without a spectrum */
    size_t npeaks;
    struct wp_spectrum_peak peaks[WP_SPECTRUM_MAX_PEAKS];
};

struct wp_swings;

/* A fold for a grid of step_us; expected_points (0 if unknown) picks the spectrum segment:
 * the largest power of two not above it, within [WP_SPECTRUM_MIN_SEGMENT,
 * WP_SPECTRUM_MAX_SEGMENT]. -EINVAL for step_us <= 0, -ENOMEM. */
int wp_swings_new(struct wp_swings **out, int64_t step_us, size_t expected_points,
                  struct wp_err *err);
/* One grid point, in mW (NAN: not covered). */
void wp_swings_push(struct wp_swings *s, double mw);
/* count grid points of one value: a stretch longer than what the fold keeps costs no more than
 * that (a crafted trace can make a grid 2^60 points long). */
void wp_swings_push_run(struct wp_swings *s, double mw, size_t count);
/* The result so far; the fold may go on. */
void wp_swings_result(const struct wp_swings *s, struct wp_swings_result *out);
void wp_swings_free(struct wp_swings *s);

/* The whole fold over the sum of k series on the grid from_us, from_us + step_us, ... to_us
 * (see wp_sum_grid for how the series are summed). With k == 0 or an empty window the
 * result has step_us 0 and every number NAN. -EINVAL on bad arguments, -ENOMEM. */
int wp_swings_compute(const struct wp_series_ref *s, size_t k, int64_t from_us, int64_t to_us,
                      int64_t step_us, struct wp_swings_result *out, struct wp_err *err);

/* A result with nothing in it: every number NAN, no peaks. */
void wp_swings_result_empty(struct wp_swings_result *out);

#endif
