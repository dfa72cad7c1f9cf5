/* Placing a meter's own timestamps on the host's wall clock.
 *
 * A BMC (DCMI) or a Redfish service stamps each reading with its own clock. That stamp says
 * when the meter took the reading, which is what a node reading must line up with the 20 ms
 * GPU trace, but the meter's clock is often not the host's: BMCs keep local time, drift, or
 * were never set. The rule, one for every source that has such a stamp:
 *   - a stamp equal to the previous one is the same reading served again: not a new sample;
 *   - the lag of a reading is poll time - stamp; over the last WP_METER_CLOCK_WINDOW readings
 *     its minimum estimates the clock offset (plus the shortest delivery delay);
 *   - when that minimum lies within [-tolerance, +tolerance] the clocks agree and the stamp
 *     is used as it is (the meter's own instant), plus half the stamp's resolution when the
 *     meter truncates it (a DCMI stamp is whole seconds: the reading was taken somewhere in
 *     the second after it, on average half a second later);
 *   - otherwise the meter's clock is off: the reading is placed at stamp + minimum lag, which
 *     keeps the meter's spacing between readings and puts the freshest one at its poll time
 *     (plus half the resolution, as above);
 *     `off` is set and `announce` once, so the source can say so in an event;
 *   - a placed time is never after the poll that read it, and never at or before the previous
 *     placed time (a meter whose clock steps back restarts the estimate). */
#ifndef WP_METER_CLOCK_H
#define WP_METER_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define WP_METER_CLOCK_WINDOW 64

struct wp_meter_clock {
    int64_t tolerance_us;
    int64_t resolution_us;  /* the stamp's granularity; 0 = exact */
    int64_t last_stamp_us;  /* the previous reading's stamp, meter clock */
    int64_t last_placed_us; /* where it was placed, host wall clock */
    int64_t lag_us[WP_METER_CLOCK_WINDOW];
    int nlag, next;
    bool have_last;
    bool off;          /* the meter's clock disagrees with the host's by more than tolerance */
    bool announce;     /* set when `off` first becomes true; the source clears it */
    int64_t offset_us; /* the current estimate of poll - stamp (minimum lag) */
};

/* tolerance_us: how far the two clocks may differ and still count as agreeing; give at least
 * the stamp's resolution plus a poll's round trip (a DCMI stamp has 1 s resolution). */
void wp_meter_clock_init(struct wp_meter_clock *c, int64_t tolerance_us);

/* The stamp is truncated to resolution_us (1 s for DCMI): readings are placed half of it
 * later, so a step in power is not credited early on average. */
void wp_meter_clock_set_resolution(struct wp_meter_clock *c, int64_t resolution_us);

/* A reading stamped stamp_us (meter clock, microseconds since the epoch) read at poll_us (host
 * wall clock). Returns 1 and sets *t_us for a new reading, 0 for a repeat of the previous
 * one (push nothing). */
int wp_meter_clock_place(struct wp_meter_clock *c, int64_t stamp_us, int64_t poll_us,
                         int64_t *t_us);

#endif
