/* Phase marks: how a job tells the recorder where its phases begin and end.
 *
 * Transport: `wattprof run` binds a Unix datagram socket and passes its path to the job in the
 * environment variable WATTPROF_SOCKET. The job sends one datagram per message; nothing is
 * ever sent back. Clients: libwattprof (include/wattprof/marks.h) and python/wattprof.
 *
 * Message (at most 512 bytes, printable ASCII, one optional trailing "\n"):
 *
 *     VERB NAME [KEY=VALUE ...]
 *
 *   - tokens are separated by one or more spaces (leading/trailing spaces are tolerated);
 *   - VERB is `begin`, `end` or `mark` (a point in time, not a phase);
 *   - NAME is 1-64 characters from [A-Za-z0-9_.:/@+-];
 *   - KEY is [a-z][a-z0-9_]{0,30}: at most 31 characters, because struct wp_mark_count keeps
 *     the key in char[32];
 *   - VALUE is a finite, non-negative decimal number: 512, 0.25, 1.5e12, 1e+16 (no sign, no
 *     hex, no inf/nan);
 *   - at most 8 counts per message, each key once.
 * Well-known keys that reports understand: samples, tokens, flops, step, epoch, rank. Other
 * keys that fit the grammar are accepted and stored as they are.
 *
 * Examples: "begin epoch epoch=3", "end epoch samples=50000 tokens=1.2e8", "mark ckpt".
 *
 * Anything else is rejected: the receiver counts it and returns a reason; it never stops.
 *
 * Pairing (wp_phases_from_marks): begin/end pair by name in time order. The same name may be
 * begun again after its end (epoch, epoch, ...: a new phase each time). Phases nest and may
 * end out of order (begin a, begin b, end a, end b is two overlapping phases). A `begin` of a
 * name that is already open is ignored (the first begin stands; a retrying job that resends
 * begin must not shorten the phase), and so is an `end` with no open phase of that name; both
 * are counted. A phase still open when the trace ends closes there and is flagged open_ended.
 *
 * Limits measured on Linux 6.18 (2026-11-28): a receiving datagram socket queues at most
 * net.unix.max_dgram_qlen + 1 messages (default 10 + 1 = 11) whatever SO_RCVBUF says; once
 * full, a nonblocking sender gets EAGAIN and the client drops the mark. The receiver must
 * therefore be drained from a poll() loop, not on a slow timer. Marks are timestamped by the
 * kernel when sent (SO_TIMESTAMP), so a late drain does not shift phase boundaries. */
#ifndef WP_MARKS_H
#define WP_MARKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/sensor.h"

/* Parses one datagram of len bytes (buf need not be NUL-terminated). Fills *out except t_us
 * (set to 0; the caller stamps it). Returns 0, or -EINVAL with err saying why (then *out is
 * unchanged). */
int wp_mark_parse(const char *buf, size_t len, struct wp_mark *out, struct wp_err *err);

struct wp_marks_rx;

/* Binds a fresh socket dir/wattprof-<pid>-<random>.sock (dir NULL: $TMPDIR, else /tmp),
 * mode 0600, nonblocking. The path is absolute so the job may chdir. Returns 0 or a negative
 * errno code with err filled (-ENAMETOOLONG when the path does not fit a socket address). */
int wp_marks_rx_open(struct wp_marks_rx **rx, const char *dir, struct wp_err *err);
/* For poll(): readable when a message is pending. */
int wp_marks_rx_fd(const struct wp_marks_rx *rx);
/* The path to export as WATTPROF_SOCKET. */
const char *wp_marks_rx_path(const struct wp_marks_rx *rx);
/* Takes one pending message. Returns 1 with *out filled, 0 when nothing is pending, -EINVAL
 * when the message was rejected (err says why, the reject is counted; call again for the
 * next one), or another negative errno code if the socket itself failed. out->t_us is when
 * the job sent it (kernel timestamp), or now_wall_us where the kernel gave none. */
int wp_marks_rx_recv(struct wp_marks_rx *rx, struct wp_mark *out, int64_t now_wall_us,
                     struct wp_err *err);
uint64_t wp_marks_rx_rejected(const struct wp_marks_rx *rx);
/* Closes and unlinks the socket; NULL is fine. */
void wp_marks_rx_close(struct wp_marks_rx *rx);

/* The begin's counts merged with the end's (the end wins on a shared key). */
#define WP_PHASE_MAX_COUNTS (2 * WP_MARK_MAX_COUNTS)

struct wp_phase {
    char name[WP_MARK_NAME_MAX + 1];
    int64_t t0_us, t1_us; /* wall clock, microseconds since the epoch */
    int ncounts;
    struct wp_mark_count counts[WP_PHASE_MAX_COUNTS];
    int depth;       /* phases already open when this one began: 0 = top level */
    bool open_ended; /* no end mark: t1_us is the trace end */
};

/* Pairs the begin/end marks of m[0..n) (any order; equal times keep their order in m) into
 * phases sorted by t0_us (ties: begin order). `mark` points are skipped. *out is malloc'd
 * (free() it; NULL when there are no phases). Returns the number of marks ignored (duplicate
 * begins, unmatched ends; see the top of this file) or -ENOMEM. */
int wp_phases_from_marks(const struct wp_mark *m, size_t n, int64_t trace_end_us,
                         struct wp_phase **out, size_t *nout);

#endif
