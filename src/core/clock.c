#define _POSIX_C_SOURCE 200809L
#include "core/clock.h"

#include <time.h>

static int64_t ts_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wp_wall_us(void)
{
    return ts_us(CLOCK_REALTIME);
}

int64_t wp_mono_us(void)
{
    return ts_us(CLOCK_MONOTONIC);
}

void wp_sleep_until_mono_us(int64_t deadline_us)
{
    struct timespec ts = {.tv_sec = deadline_us / 1000000,
                          .tv_nsec = (deadline_us % 1000000) * 1000};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}
