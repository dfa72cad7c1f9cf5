/* libwattprof: the C marks client. Self-contained: it shares only the header-only grammar
 * with the receiver (src/marks/syntax.h) and links against libc alone, so a job can use it
 * without the rest of wattprof. */
#include "wattprof/marks.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "marks/syntax.h"

/* One socket per process, created on first use. It stays unconnected (sendto with the path on
 * every call), so it keeps working after fork() in the child, after the recorder restarts, and
 * when WATTPROF_SOCKET changes. Its identity (device, inode) is kept with it: a job that
 * closes file descriptors it does not own (daemon code calling closefrom()) may have its fd
 * number reused for a file or a TCP connection, and a sendto() there would write our text into
 * someone else's stream; the fstat() check costs well under a microsecond per mark. */
struct client_sock {
    int fd;
    dev_t dev;
    ino_t ino;
    struct client_sock *replaced; /* kept, see below */
};

/* Replaced entries are never freed (another thread may still be reading one) but stay linked
 * from the current one, so leak checkers see them as reachable. One is replaced only when the
 * job closed our fd, a handful of times at most. */
static _Atomic(struct client_sock *) g_sock;

static bool sock_still_ours(const struct client_sock *s)
{
    struct stat st;
    return fstat(s->fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s->dev &&
           st.st_ino == s->ino;
}

static int client_fd(void)
{
    struct client_sock *cur = atomic_load_explicit(&g_sock, memory_order_acquire);
    if (cur && sock_still_ours(cur))
        return cur->fd;

    struct client_sock *s = malloc(sizeof(*s));
    if (!s)
        return -1;
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct stat st;
    if (s->fd < 0 || fstat(s->fd, &st) < 0) {
        int e = errno;
        if (s->fd >= 0)
            close(s->fd);
        free(s);
        errno = e;
        return -1;
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->replaced = cur;
    if (!atomic_compare_exchange_strong_explicit(&g_sock, &cur, s, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        /* Another thread installed one first: use theirs. */
        close(s->fd);
        free(s);
        return cur->fd;
    }
    return s->fd;
}

static int send_mark(const char *verb, const char *name, const char *counts)
{
    char msg[WP_MARK_MSG_MAX + 1], why[256];
    struct wp_mark parsed;

    if (!name) {
        errno = EINVAL;
        return -1;
    }
    /* Checked on its own first: "a x=1" would otherwise pass as name "a" plus a count. */
    if (wp_mark_syntax_name(name, strlen(name), why, sizeof(why)) < 0) {
        errno = EINVAL;
        return -1;
    }
    bool have_counts = counts && *counts;
    int n = snprintf(msg, sizeof(msg), "%s %s%s%s", verb, name, have_counts ? " " : "",
                     have_counts ? counts : "");
    if (n < 0 || (size_t)n > WP_MARK_MSG_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    if (wp_mark_syntax_parse(msg, (size_t)n, &parsed, why, sizeof(why)) < 0) {
        errno = EINVAL;
        return -1;
    }

    const char *path = getenv("WATTPROF_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    if (plen >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, plen);

    int fd = client_fd();
    if (fd < 0)
        return -1;
    ssize_t sent;
    do {
        sent = sendto(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1));
    } while (sent < 0 && errno == EINTR);
    return sent == n ? 0 : -1;
}

int wp_marks_begin(const char *name, const char *counts)
{
    return send_mark("begin", name, counts);
}

int wp_marks_end(const char *name, const char *counts)
{
    return send_mark("end", name, counts);
}

int wp_marks_point(const char *name, const char *counts)
{
    return send_mark("mark", name, counts);
}
