/* wattprof phase marks: tell a running `wattprof run` where the phases of your job begin and
 * end, so its report can give energy per phase (per epoch, per sample, per token).
 *
 *     #include <wattprof/marks.h>      // cc ... $(pkg-config --cflags --libs wattprof)
 *
 *     wp_marks_begin("epoch", "epoch=3");
 *     ...train...
 *     wp_marks_end("epoch", "samples=50000 tokens=1.2e8");
 *     wp_marks_point("checkpoint", NULL);
 *
 * name: 1-64 characters from [A-Za-z0-9_.:/@+-]. counts: NULL, "" or space-separated
 * KEY=VALUE pairs, at most 8; KEY is [a-z][a-z0-9_]* (at most 31 characters), VALUE a
 * finite non-negative decimal number (512, 0.25, 1.5e12), parsed the same in every locale.
 * Keys reports understand: samples, tokens, flops, step, epoch, rank. Any begin may be
 * repeated after its end (a new phase each time); phases may nest.
 *
 * Each call sends one datagram to the socket named by the environment variable
 * WATTPROF_SOCKET and returns at once: it never blocks and never raises SIGPIPE. It returns
 *   0  when the mark was sent, or when WATTPROF_SOCKET is unset or empty (the job is not run
 *      under wattprof and carries on normally);
 *  -1  with errno set when name or counts are invalid (EINVAL, EMSGSIZE over 512 bytes; checked
 *      whether or not wattprof is listening) or the mark could not be sent (ENOENT or
 *      ECONNREFUSED: nothing listening; EAGAIN: the recorder's queue is full and this mark is
 *      dropped).
 * The functions are thread-safe and may be called after fork(). The library depends on libc
 * only. */
#ifndef WATTPROF_MARKS_H
#define WATTPROF_MARKS_H

#ifdef __cplusplus
extern "C" {
#endif

int wp_marks_begin(const char *name, const char *counts);
int wp_marks_end(const char *name, const char *counts);
int wp_marks_point(const char *name, const char *counts);

#ifdef __cplusplus
}
#endif

#endif
