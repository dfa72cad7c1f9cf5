/* Wall-clock times as people and CSV files write them, for intensity series and plans. */
#ifndef WP_TIMEFMT_H
#define WP_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* "2022-01-01T00:00:00Z", "2022-01-01 00:00:00+00:00", "2022-01-01T05:30", a date alone, or
 * Unix seconds ("1640995200", "@1640995200"). No offset means UTC. Returns 0 or -EINVAL. */
int wp_time_parse(const char *s, int64_t *t_us);
/* "2022-01-01T00:00:00Z" (seconds; UTC). */
void wp_time_format(int64_t t_us, char *buf, size_t cap);

#endif
