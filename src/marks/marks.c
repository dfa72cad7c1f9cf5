#include "marks/marks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "marks/syntax.h"

int wp_mark_parse(const char *buf, size_t len, struct wp_mark *out, struct wp_err *err)
{
    char why[256];
    if (!buf && len > 0)
        return wp_errf(err, -EINVAL, "no message buffer given");
    if (wp_mark_syntax_parse(buf ? buf : "", len, out, why, sizeof(why)) < 0)
        return wp_errf(err, -EINVAL, "%s", why);
    return 0;
}

/* ---- receiver ---- */

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* A few times the 11-message queue limit's worth of bytes; the kernel caps it at
 * net.core.rmem_max anyway. */
#define RX_RCVBUF_BYTES (1 << 20)

struct wp_marks_rx {
    int fd;
    uint64_t rejected;
    char path[SUN_PATH_MAX];
};

static uint64_t rx_random(void)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
    /* Early boot or seccomp: uniqueness is what matters here; bind() refuses an existing
     * path, so a guessable name cannot be hijacked, only collide and be retried. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
}

int wp_marks_rx_open(struct wp_marks_rx **out, const char *dir, struct wp_err *err)
{
    struct wp_marks_rx *rx = NULL;
    char absdir[PATH_MAX];
    int rc;

    *out = NULL;
    if (!dir || !*dir) {
        dir = getenv("TMPDIR");
        if (!dir || !*dir)
            dir = "/tmp";
    }
    if (!realpath(dir, absdir))
        return wp_errf(err, -errno,
                       "cannot use %s for the marks socket: %s; point TMPDIR at a writable "
                       "directory",
                       dir, strerror(errno));
    rx = calloc(1, sizeof(*rx));
    if (!rx)
        return wp_errf(err, -ENOMEM, "out of memory opening the marks socket");
    rx->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rx->fd < 0) {
        rc = wp_errf(err, -errno, "cannot create the marks socket: %s", strerror(errno));
        goto error;
    }
    /* On Linux the file bind() creates takes the socket inode's mode, so this makes it 0600
     * from the first instant whatever the umask (checked 2026-11-28 on Linux 6.18, umask 0): no
     * window in which another user could send. */
    if (fchmod(rx->fd, S_IRUSR | S_IWUSR) < 0) {
        rc = wp_errf(err, -errno, "cannot restrict the marks socket to its owner: %s",
                     strerror(errno));
        goto error;
    }
    int on = 1, rcvbuf = RX_RCVBUF_BYTES;
    /* Both are best effort: without them marks still arrive, with coarser timestamps or a
     * smaller queue. */
    (void)setsockopt(rx->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    (void)setsockopt(rx->fd, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on));
    /* The kernel then attests each sender's pid: energy per process gives a marks-sending job
     * its own share of a shared GPU (src/analysis/attrib.c). */
    (void)setsockopt(rx->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));

    for (int attempt = 0;; attempt++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/wattprof-%ld-%016llx.sock",
                         strcmp(absdir, "/") == 0 ? "" : absdir, (long)getpid(),
                         (unsigned long long)rx_random());
        if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
            rc = wp_errf(err, -ENAMETOOLONG,
                         "the marks socket path in %s would be %d characters, over the %zu "
                         "a socket address holds; point TMPDIR at a shorter directory",
                         absdir, n, sizeof(sa.sun_path) - 1);
            goto error;
        }
        if (bind(rx->fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0) {
            memcpy(rx->path, sa.sun_path, sizeof(rx->path));
            break;
        }
        if (errno != EADDRINUSE || attempt == 8) {
            rc = wp_errf(err, -errno,
                         "cannot create the marks socket %s: %s; point TMPDIR at a writable "
                         "directory",
                         sa.sun_path, strerror(errno));
            goto error;
        }
    }
    *out = rx;
    return 0;
error:
    if (rx->fd >= 0)
        close(rx->fd);
    free(rx);
    return rc;
}

int wp_marks_rx_fd(const struct wp_marks_rx *rx)
{
    return rx->fd;
}

const char *wp_marks_rx_path(const struct wp_marks_rx *rx)
{
    return rx->path;
}

uint64_t wp_marks_rx_rejected(const struct wp_marks_rx *rx)
{
    return rx->rejected;
}

/* Returns the kernel send time, or -1, and the sender's pid (0 unknown); closes any file
 * descriptors someone passed along (the socket is ours alone, but a buggy job could still send
 * SCM_RIGHTS and leak fds into us). */
static int64_t rx_control(struct msghdr *mh, int32_t *pid)
{
    int64_t t_us = -1;
    *pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_TIMESTAMP && c->cmsg_len >= CMSG_LEN(sizeof(struct timeval))) {
            struct timeval tv;
            memcpy(&tv, CMSG_DATA(c), sizeof(tv));
            t_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
        } else if (c->cmsg_type == SCM_CREDENTIALS &&
                   c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cr;
            memcpy(&cr, CMSG_DATA(c), sizeof(cr));
            *pid = cr.pid;
        } else if (c->cmsg_type == SCM_RIGHTS) {
            size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < nfd; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
                close(fd);
            }
        }
    }
    return t_us;
}

int wp_marks_rx_recv(struct wp_marks_rx *rx, struct wp_mark *out, int64_t now_wall_us,
                     struct wp_err *err)
{
    char buf[WP_MARK_MSG_MAX + 1];
    union {
        struct cmsghdr align;
        char b[CMSG_SPACE(sizeof(struct timeval)) + CMSG_SPACE(sizeof(struct ucred)) +
               CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b)};
    ssize_t n;

    do {
        /* MSG_TRUNC: the return value is the datagram's real length, so an oversize one is
         * reported with its size. */
        n = recvmsg(rx->fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return wp_errf(err, -errno, "reading the marks socket %s failed: %s", rx->path,
                       strerror(errno));
    }
    int32_t pid;
    int64_t t_us = rx_control(&mh, &pid);
    if (t_us < 0)
        t_us = now_wall_us;
    if ((size_t)n > WP_MARK_MSG_MAX) {
        rx->rejected++;
        return wp_errf(err, -EINVAL,
                       "the message is %zd bytes, over the limit of %d; send fewer counts", n,
                       WP_MARK_MSG_MAX);
    }
    int rc = wp_mark_parse(buf, (size_t)n, out, err);
    if (rc < 0) {
        rx->rejected++;
        return rc;
    }
    out->t_us = t_us;
    out->pid = pid;
    return 1;
}

void wp_marks_rx_close(struct wp_marks_rx *rx)
{
    if (!rx)
        return;
    close(rx->fd);
    unlink(rx->path);
    free(rx);
}

/* ---- phases ---- */

struct by_time {
    int64_t t_us;
    size_t idx;
};

static int cmp_by_time(const void *a, const void *b)
{
    const struct by_time *x = a, *y = b;
    if (x->t_us != y->t_us)
        return x->t_us < y->t_us ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

struct by_name {
    const char *name;
    size_t rank; /* position in time order */
    size_t idx;
};

static int cmp_by_name(const void *a, const void *b)
{
    const struct by_name *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

enum role { R_IGNORED, R_BEGIN, R_END };

static void merge_counts(struct wp_phase *p, const struct wp_mark *m)
{
    for (int i = 0; i < m->ncounts && i < WP_MARK_MAX_COUNTS; i++) {
        int k = 0;
        while (k < p->ncounts && strcmp(p->counts[k].key, m->counts[i].key) != 0)
            k++;
        if (k == p->ncounts) {
            if (p->ncounts == WP_PHASE_MAX_COUNTS)
                continue;
            p->ncounts++;
        }
        p->counts[k] = m->counts[i];
    }
}

int wp_phases_from_marks(const struct wp_mark *m, size_t n, int64_t trace_end_us,
                         struct wp_phase **out, size_t *nout)
{
    struct by_time *bt = NULL;
    struct by_name *bn = NULL;
    unsigned char *role = NULL;
    size_t *partner = NULL, *rank = NULL;
    struct wp_phase *ph = NULL;
    size_t nbn = 0, nph = 0;
    int ignored = 0, rc = -ENOMEM;

    *out = NULL;
    *nout = 0;
    if (n == 0)
        return 0;
    bt = malloc(n * sizeof(*bt));
    bn = malloc(n * sizeof(*bn));
    role = calloc(n, sizeof(*role));
    partner = malloc(n * sizeof(*partner));
    rank = malloc(n * sizeof(*rank));
    if (!bt || !bn || !role || !partner || !rank)
        goto done;

    for (size_t i = 0; i < n; i++)
        bt[i] = (struct by_time){.t_us = m[i].t_us, .idx = i};
    qsort(bt, n, sizeof(*bt), cmp_by_time);
    for (size_t r = 0; r < n; r++)
        rank[bt[r].idx] = r;

    /* Pair per name: walking one name's marks in time order is a two-state machine. */
    for (size_t i = 0; i < n; i++)
        if (m[i].kind == WP_MARK_BEGIN || m[i].kind == WP_MARK_END)
            bn[nbn++] = (struct by_name){.name = m[i].name, .rank = rank[i], .idx = i};
    qsort(bn, nbn, sizeof(*bn), cmp_by_name);
    for (size_t g = 0; g < nbn;) {
        size_t open = SIZE_MAX, e = g;
        for (; e < nbn && strcmp(bn[e].name, bn[g].name) == 0; e++) {
            size_t i = bn[e].idx;
            if (m[i].kind == WP_MARK_BEGIN) {
                if (open != SIZE_MAX) {
                    ignored += ignored < INT_MAX;
                    continue;
                }
                open = i;
                role[i] = R_BEGIN;
                partner[i] = SIZE_MAX;
            } else if (open == SIZE_MAX) {
                ignored += ignored < INT_MAX;
            } else {
                role[i] = R_END;
                partner[open] = i;
                open = SIZE_MAX;
            }
        }
        g = e;
    }

    /* Emit in time order; depth is how many accepted phases are open at each begin. */
    size_t nbegin = 0;
    for (size_t i = 0; i < n; i++)
        nbegin += role[i] == R_BEGIN;
    if (nbegin == 0) {
        rc = ignored;
        goto done;
    }
    ph = calloc(nbegin, sizeof(*ph));
    if (!ph)
        goto done;
    int depth = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = bt[r].idx;
        if (role[i] == R_END) {
            depth--;
            continue;
        }
        if (role[i] != R_BEGIN)
            continue;
        struct wp_phase *p = &ph[nph++];
        memcpy(p->name, m[i].name, sizeof(p->name));
        p->name[sizeof(p->name) - 1] = '\0';
        p->t0_us = m[i].t_us;
        p->depth = depth++;
        merge_counts(p, &m[i]);
        if (partner[i] == SIZE_MAX) {
            p->open_ended = true;
            p->t1_us = trace_end_us > p->t0_us ? trace_end_us : p->t0_us;
        } else {
            p->t1_us = m[partner[i]].t_us;
            merge_counts(p, &m[partner[i]]);
        }
    }
    *out = ph;
    *nout = nph;
    ph = NULL;
    rc = ignored;
done:
    free(ph);
    free(bt);
    free(bn);
    free(role);
    free(partner);
    free(rank);
    return rc;
}
