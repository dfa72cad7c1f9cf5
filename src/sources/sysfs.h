/* Small helpers shared by the sources that read sysfs (rapl, hwmon). */
#ifndef WP_SYSFS_H
#define WP_SYSFS_H

#include <stddef.h>
#include <stdint.h>

/* Reads a small file (a sysfs attribute) whole into buf, NUL-terminated, retrying EINTR and
 * short reads. Returns its length, -EOVERFLOW when it does not fit in len - 1 bytes, or
 * -errno. */
int wp_sysfs_read(const char *path, char *buf, size_t len);

/* The next time on a fixed grid of period_us after a poll at now_us: next_us + period_us (or
 * now_us + period_us for the first), so a late round does not drift the cadence; after a
 * stall, the missed slots are skipped instead of read in a burst. */
int64_t wp_next_on_grid(int64_t next_us, int64_t now_us, int64_t period_us);

#endif
