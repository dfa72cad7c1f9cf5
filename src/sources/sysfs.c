#include "sources/sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int wp_sysfs_read(const char *path, char *buf, size_t len)
{
    if (len == 0)
        return -EOVERFLOW;
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    int rc = 0;
    for (;;) {
        if (got == len - 1) {
            char extra;
            ssize_t k;
            do
                k = read(fd, &extra, 1);
            while (k < 0 && errno == EINTR);
            rc = k == 0 ? 0 : k > 0 ? -EOVERFLOW : -errno;
            break;
        }
        ssize_t k = read(fd, buf + got, len - 1 - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    buf[got] = '\0';
    return rc < 0 ? rc : (int)got;
}

int64_t wp_next_on_grid(int64_t next_us, int64_t now_us, int64_t period_us)
{
    int64_t n = next_us ? next_us + period_us : now_us + period_us;
    return n <= now_us ? now_us + period_us : n;
}
