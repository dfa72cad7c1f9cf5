/* The placement rule is described in meter_clock.h. */
#include "sources/meter_clock.h"

#include <string.h>

void wp_meter_clock_init(struct wp_meter_clock *c, int64_t tolerance_us)
{
    memset(c, 0, sizeof *c);
    c->tolerance_us = tolerance_us < 0 ? 0 : tolerance_us;
}

void wp_meter_clock_set_resolution(struct wp_meter_clock *c, int64_t resolution_us)
{
    c->resolution_us = resolution_us < 0 ? 0 : resolution_us;
}

static int64_t min_lag(const struct wp_meter_clock *c)
{
    int64_t m = c->lag_us[0];
    for (int i = 1; i < c->nlag; i++)
        if (c->lag_us[i] < m)
            m = c->lag_us[i];
    return m;
}

int wp_meter_clock_place(struct wp_meter_clock *c, int64_t stamp_us, int64_t poll_us, int64_t *t_us)
{
    if (c->have_last && stamp_us == c->last_stamp_us)
        return 0;
    if (c->have_last && stamp_us < c->last_stamp_us)
        c->nlag = c->next = 0; /* the meter's clock stepped back: its old offset is void */
    c->lag_us[c->next] = poll_us - stamp_us;
    c->next = (c->next + 1) % WP_METER_CLOCK_WINDOW;
    if (c->nlag < WP_METER_CLOCK_WINDOW)
        c->nlag++;
    c->offset_us = min_lag(c);

    int64_t t;
    if (c->offset_us >= -c->tolerance_us && c->offset_us <= c->tolerance_us) {
        c->off = false;
        t = stamp_us;
    } else {
        if (!c->off)
            c->announce = true;
        c->off = true;
        t = stamp_us + c->offset_us;
    }
    t += c->resolution_us / 2;
    if (t > poll_us)
        t = poll_us;
    if (c->have_last && t <= c->last_placed_us)
        t = c->last_placed_us + 1;
    c->have_last = true;
    c->last_stamp_us = stamp_us;
    c->last_placed_us = t;
    *t_us = t;
    return 1;
}
