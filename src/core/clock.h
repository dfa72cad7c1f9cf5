/* Time. Samples carry wall-clock microseconds since the Unix epoch (what NVML's sample
 * buffer uses); schedules run on CLOCK_MONOTONIC so a wall-clock step never stalls them. */
#ifndef WP_CLOCK_H
#define WP_CLOCK_H

#include <stdint.h>

int64_t wp_wall_us(void);
int64_t wp_mono_us(void);
/* Sleeps until the monotonic time deadline_us (returns early on a signal). */
void wp_sleep_until_mono_us(int64_t deadline_us);

#endif
