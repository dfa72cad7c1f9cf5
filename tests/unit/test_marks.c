/* Phase marks: the message parser, the receiver socket with the C client talking to it in the
 * same process, and pairing marks into phases. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "marks/marks.h"
#include "wattprof/marks.h"

/* ---- parser ---- */

/* Parses a copy of s[0..len) on the heap with no byte after it, so ASan catches any read past
 * the end (recv() buffers are not NUL-terminated). */
static int parse_exact(const char *s, size_t len, struct wp_mark *m, struct wp_err *err)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    int rc = wp_mark_parse(copy, len, m, err);
    free(copy);
    return rc;
}

static struct wp_mark parse_ok(const char *s)
{
    struct wp_mark m;
    struct wp_err err = {0};
    int rc = parse_exact(s, strlen(s), &m, &err);
    if (rc != 0)
        fail_msg("'%s' was rejected: %s", s, err.msg);
    return m;
}

/* Asserts s[0..len) is rejected with -EINVAL and a message containing why, and that the
 * output was left alone. */
static void reject_n(const char *s, size_t len, const char *why)
{
    struct wp_mark m, before;
    struct wp_err err = {0};
    memset(&m, 0xA5, sizeof(m));
    before = m;
    int rc = parse_exact(s, len, &m, &err);
    if (rc != -EINVAL)
        fail_msg("'%.*s' gave %d, expected -EINVAL", (int)len, s, rc);
    assert_int_equal(err.code, -EINVAL);
    if (!strstr(err.msg, why))
        fail_msg("'%.*s': reason '%s' does not mention '%s'", (int)len, s, err.msg, why);
    assert_memory_equal(&m, &before, sizeof(m));
}

static void reject(const char *s, const char *why)
{
    reject_n(s, strlen(s), why);
}

static double count_of(const struct wp_mark *m, const char *key)
{
    for (int i = 0; i < m->ncounts; i++)
        if (strcmp(m->counts[i].key, key) == 0)
            return m->counts[i].value;
    fail_msg("no count '%s' in mark %s", key, m->name);
    return NAN;
}

static void test_parse_verbs_and_counts(void **state)
{
    (void)state;
    struct wp_mark m = parse_ok("begin epoch");
    assert_int_equal(m.kind, WP_MARK_BEGIN);
    assert_string_equal(m.name, "epoch");
    assert_int_equal(m.ncounts, 0);
    assert_int_equal(m.t_us, 0);

    m = parse_ok("end train samples=512 tokens=4096\n");
    assert_int_equal(m.kind, WP_MARK_END);
    assert_string_equal(m.name, "train");
    assert_int_equal(m.ncounts, 2);
    assert_string_equal(m.counts[0].key, "samples");
    assert_true(m.counts[0].value == 512.0);
    assert_string_equal(m.counts[1].key, "tokens");
    assert_true(m.counts[1].value == 4096.0);

    m = parse_ok("mark ckpt");
    assert_int_equal(m.kind, WP_MARK_POINT);
    assert_string_equal(m.name, "ckpt");

    /* Runs of spaces separate tokens; leading and trailing ones are tolerated. */
    m = parse_ok("  begin   a:b/c@d+e-f.g_H9    step=3   epoch=1  ");
    assert_string_equal(m.name, "a:b/c@d+e-f.g_H9");
    assert_int_equal(m.ncounts, 2);
    assert_true(count_of(&m, "step") == 3.0);
    assert_true(count_of(&m, "epoch") == 1.0);

    /* Keys outside the well-known set are kept when they fit the grammar. */
    m = parse_ok("mark x lr_warmup2=7");
    assert_true(count_of(&m, "lr_warmup2") == 7.0);
}

static void test_parse_numbers(void **state)
{
    (void)state;
    struct {
        const char *text;
        double value;
    } ok[] = {
        {"512", 512.0},
        {"0", 0.0},
        {"1.5e12", 1.5e12},
        {"1e+16", 1e16},
        {"1E-3", 1e-3},
        {"0.25", 0.25},
        {".5", 0.5},
        {"5.", 5.0},
        {"007", 7.0},
        {"1e0", 1.0},
        {"0.000001", 1e-6},
        {"123.456", 123.456},
        {"4096.0", 4096.0},
        {"1e-400", 0.0},
        {"0e999", 0.0},
        {"1e22", 1e22},
        {"18446744073709551615", 18446744073709551615.0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char msg[128];
        snprintf(msg, sizeof(msg), "mark m flops=%s", ok[i].text);
        struct wp_mark m = parse_ok(msg);
        if (m.counts[0].value != ok[i].value)
            fail_msg("%s parsed as %.17g, expected %.17g", ok[i].text, m.counts[0].value,
                     ok[i].value);
    }
    /* More digits than a double holds: rounded, not rejected. */
    struct wp_mark m = parse_ok("mark m flops=123456789012345678901234567890");
    assert_true(fabs(m.counts[0].value / 1.2345678901234568e29 - 1.0) < 1e-15);
    /* Tiny but normal: 10^316 alone would overflow on the way. */
    m = parse_ok("mark m flops=9.967945275034998e-301");
    assert_true(fabs(m.counts[0].value / 9.967945275034998e-301 - 1.0) < 1e-15);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    char name65[80], key32[40], big[600];
    memset(name65, 'n', 65);
    strcpy(name65 + 65, "");
    char msg[200];

    reject("", "empty");
    reject("   ", "empty");
    reject("\n", "empty");
    reject("start epoch", "unknown verb 'start'");
    reject("BEGIN epoch", "unknown verb");
    reject("begin", "no phase name");
    reject("end   \n", "no phase name");
    reject("begin ep!och", "contains '!'");
    reject("begin ep\"och", "contains '\"'");
    snprintf(msg, sizeof(msg), "begin %s", name65);
    reject(msg, "over the limit of 64");
    memset(name65 + 64, 0, 1);
    snprintf(msg, sizeof(msg), "begin %s", name65); /* exactly 64: fine */
    assert_int_equal(strlen(parse_ok(msg).name), 64);

    memset(big, 'x', sizeof(big));
    memcpy(big, "mark a b=", 9);
    reject_n(big, 513, "513 bytes");
    reject_n(big, sizeof(big), "600 bytes");

    reject("begin a samples", "not a count");
    reject("begin a =5", "no key");
    reject("begin a Samples=1", "lowercase letter");
    reject("begin a 1x=1", "lowercase letter");
    reject("begin a a-b=1", "contains '-'");
    memset(key32, 'k', 32);
    key32[32] = '\0';
    snprintf(msg, sizeof(msg), "begin a %s=1", key32);
    reject(msg, "over the limit of 31");
    key32[31] = '\0';
    snprintf(msg, sizeof(msg), "begin a %s=1", key32);
    assert_int_equal(strlen(parse_ok(msg).counts[0].key), 31);
    reject("begin a samples=1 tokens=2 samples=3", "'samples' appears twice");
    reject("begin a a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9", "more than 8 counts");
    parse_ok("begin a a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8");

    reject("mark a x=-1", "negative");
    reject("mark a x=-0", "negative");
    reject("mark a x=nan", "not a decimal number");
    reject("mark a x=NaN", "not a decimal number");
    reject("mark a x=inf", "not a decimal number");
    reject("mark a x=1e999", "finite");
    reject("mark a x=99999999999999999999e300", "finite");
    reject("mark a x=", "no value");
    reject("mark a x=0x10", "not a decimal number");
    reject("mark a x=12abc", "not a decimal number");
    reject("mark a x=+1", "not a decimal number");
    reject("mark a x=1e", "not a decimal number");
    reject("mark a x=1e+", "not a decimal number");
    reject("mark a x=1.2.3", "not a decimal number");
    reject("mark a x=.", "not a decimal number");
    reject("mark a x=1,5", "not a decimal number");
    reject("mark a x=1=2", "not a decimal number");

    reject_n("begin a\0b", 9, "NUL byte at offset 7");
    reject_n("begin a\0", 8, "NUL byte");
    reject("begin\ta", "byte 0x09");
    reject("begin a\r\n", "byte 0x0d");
    reject("begin a\n\n", "byte 0x0a");
    reject("begin caf\xc3\xa9", "byte 0xc3");
}

/* Valid and invalid messages cut exactly at their end, in every prefix length: the parser
 * must never look past len (ASan reports it if it does). */
static void test_parse_unterminated_prefixes(void **state)
{
    (void)state;
    const char *s = "end epoch_12 samples=50000 tokens=1.5e+08 flops=3.25E17\n";
    struct wp_mark m;
    struct wp_err err;
    for (size_t len = 0; len <= strlen(s); len++)
        (void)parse_exact(s, len, &m, &err);
    m = parse_ok(s);
    assert_int_equal(m.ncounts, 3);
    assert_true(count_of(&m, "flops") == 3.25e17);
    assert_int_equal(parse_exact(s, strlen(s) - 2, &m, &err), 0);
    assert_true(count_of(&m, "flops") == 3.25e1);
}

/* ---- receiver and C client ---- */

struct rx_fixture {
    char dir[64];
    struct wp_marks_rx *rx;
};

static int rx_setup(void **state)
{
    struct rx_fixture *f = calloc(1, sizeof(*f));
    struct wp_err err = {0};
    snprintf(f->dir, sizeof(f->dir), "/tmp/wp-test-marks-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (wp_marks_rx_open(&f->rx, f->dir, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    setenv("WATTPROF_SOCKET", wp_marks_rx_path(f->rx), 1);
    /* Anything here that blocks is a bug: let the alarm kill the test instead of hanging. */
    alarm(20);
    *state = f;
    return 0;
}

static int rx_teardown(void **state)
{
    struct rx_fixture *f = *state;
    alarm(0);
    unsetenv("WATTPROF_SOCKET");
    wp_marks_rx_close(f->rx);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void test_rx_socket_file(void **state)
{
    struct rx_fixture *f = *state;
    const char *path = wp_marks_rx_path(f->rx);
    struct stat st;
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s/wattprof-%ld-", f->dir, (long)getpid());
    assert_memory_equal(path, prefix, strlen(prefix));
    assert_string_equal(path + strlen(path) - 5, ".sock");
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    int fl = fcntl(wp_marks_rx_fd(f->rx), F_GETFL);
    assert_true(fl & O_NONBLOCK);

    struct wp_mark m;
    struct wp_err err = {0};
    assert_int_equal(wp_marks_rx_recv(f->rx, &m, 1, &err), 0);
}

static void test_rx_two_sockets_differ(void **state)
{
    struct rx_fixture *f = *state;
    struct wp_marks_rx *rx2;
    struct wp_err err = {0};
    assert_int_equal(wp_marks_rx_open(&rx2, f->dir, &err), 0);
    assert_string_not_equal(wp_marks_rx_path(rx2), wp_marks_rx_path(f->rx));
    char path[128];
    snprintf(path, sizeof(path), "%s", wp_marks_rx_path(rx2));
    wp_marks_rx_close(rx2);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static struct wp_mark recv_one(struct wp_marks_rx *rx)
{
    struct wp_mark m;
    struct wp_err err = {0};
    int rc = wp_marks_rx_recv(rx, &m, -1, &err);
    if (rc != 1)
        fail_msg("wp_marks_rx_recv gave %d (%s)", rc, err.msg);
    return m;
}

static void test_client_round_trip(void **state)
{
    struct rx_fixture *f = *state;
    int64_t before = wp_wall_us();
    assert_int_equal(wp_marks_begin("train", "samples=512 tokens=4096"), 0);
    assert_int_equal(wp_marks_point("ckpt/1", NULL), 0);
    assert_int_equal(wp_marks_point("ckpt/2", ""), 0);
    assert_int_equal(wp_marks_end("train", "samples=1.5e3  flops=2e15"), 0);
    int64_t after = wp_wall_us();

    struct wp_mark m = recv_one(f->rx);
    assert_int_equal(m.kind, WP_MARK_BEGIN);
    assert_string_equal(m.name, "train");
    assert_int_equal(m.ncounts, 2);
    assert_true(count_of(&m, "samples") == 512.0);
    assert_true(count_of(&m, "tokens") == 4096.0);
    /* The kernel stamps the send instant, which lies between our two clock reads. */
    assert_true(m.t_us >= before && m.t_us <= after);
    int64_t t_prev = m.t_us;

    m = recv_one(f->rx);
    assert_int_equal(m.kind, WP_MARK_POINT);
    assert_string_equal(m.name, "ckpt/1");
    assert_int_equal(m.ncounts, 0);
    m = recv_one(f->rx);
    assert_string_equal(m.name, "ckpt/2");
    m = recv_one(f->rx);
    assert_int_equal(m.kind, WP_MARK_END);
    assert_string_equal(m.name, "train");
    assert_true(count_of(&m, "samples") == 1500.0);
    assert_true(count_of(&m, "flops") == 2e15);
    assert_true(m.t_us >= t_prev && m.t_us <= after);

    struct wp_err err = {0};
    assert_int_equal(wp_marks_rx_recv(f->rx, &m, 0, &err), 0);
    assert_int_equal(wp_marks_rx_rejected(f->rx), 0);
}

static void send_raw(const char *path, const void *buf, size_t len)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_true(fd >= 0);
    assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
    close(fd);
}

static void test_rx_rejects_and_continues(void **state)
{
    struct rx_fixture *f = *state;
    const char *path = wp_marks_rx_path(f->rx);
    char big[700];
    memset(big, 'x', sizeof(big));
    memcpy(big, "mark a b=", 9);

    send_raw(path, "launch rockets", 14);
    send_raw(path, big, sizeof(big));
    send_raw(path, "", 0);
    send_raw(path, "begin ok", 8);

    struct wp_mark m;
    struct wp_err err = {0};
    assert_int_equal(wp_marks_rx_recv(f->rx, &m, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "unknown verb 'launch'"));
    assert_int_equal(wp_marks_rx_recv(f->rx, &m, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "700 bytes"));
    assert_int_equal(wp_marks_rx_recv(f->rx, &m, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "empty"));
    m = recv_one(f->rx);
    assert_string_equal(m.name, "ok");
    assert_int_equal(wp_marks_rx_rejected(f->rx), 3);
}

/* A sender may attach file descriptors; the receiver must not keep them. */
static void test_rx_closes_passed_fds(void **state)
{
    struct rx_fixture *f = *state;
    int probe = open("/dev/null", O_RDONLY);
    assert_true(probe >= 0);
    close(probe); /* the lowest free number: where a received fd would land */

    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    int passed = open("/dev/null", O_RDONLY);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", wp_marks_rx_path(f->rx));
    char text[] = "mark with_fd";
    struct iovec iov = {.iov_base = text, .iov_len = strlen(text)};
    union {
        struct cmsghdr align;
        char b[CMSG_SPACE(sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr mh = {.msg_name = &sa,
                        .msg_namelen = sizeof(sa),
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = ctl.b,
                        .msg_controllen = sizeof(ctl.b)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &passed, sizeof(int));
    assert_int_equal(sendmsg(fd, &mh, 0), (ssize_t)strlen(text));
    close(fd);
    close(passed);

    struct wp_mark m = recv_one(f->rx);
    assert_string_equal(m.name, "with_fd");
    assert_int_equal(fcntl(probe, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
}

static void test_client_rejects_invalid_input(void **state)
{
    struct rx_fixture *f = *state;
    char name65[66], counts[600];
    memset(name65, 'n', 65);
    name65[65] = '\0';

    struct {
        const char *name, *counts;
        int err;
    } bad[] = {
        {NULL, NULL, EINVAL},      {"", NULL, EINVAL},       {"two words", NULL, EINVAL},
        {"a x=1", NULL, EINVAL},   {name65, NULL, EINVAL},   {"a", "samples", EINVAL},
        {"a", "x=-1", EINVAL},     {"a", "x=1 x=2", EINVAL}, {"a", "x=nan", EINVAL},
        {"a", "x=1\tb=2", EINVAL}, {"a", "X=1", EINVAL},
    };
    for (int pass = 0; pass < 2; pass++) {
        /* Invalid input is refused whether or not wattprof listens. */
        if (pass == 1)
            unsetenv("WATTPROF_SOCKET");
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            errno = 0;
            if (wp_marks_begin(bad[i].name, bad[i].counts) != -1 || errno != bad[i].err)
                fail_msg("begin(%s, %s) was not refused with errno %d", bad[i].name, bad[i].counts,
                         bad[i].err);
        }
    }
    memset(counts, 0, sizeof(counts));
    for (int i = 0; i < 8; i++)
        snprintf(counts + strlen(counts), sizeof(counts) - strlen(counts), "k%d=%060d ", i, i);
    errno = 0;
    assert_int_equal(wp_marks_end("a", counts), -1);
    assert_int_equal(errno, EMSGSIZE);

    setenv("WATTPROF_SOCKET", wp_marks_rx_path(f->rx), 1);
    struct wp_mark m;
    struct wp_err err = {0};
    assert_int_equal(wp_marks_rx_recv(f->rx, &m, 0, &err), 0); /* nothing got through */
}

static void test_client_without_wattprof(void **state)
{
    struct rx_fixture *f = *state;
    unsetenv("WATTPROF_SOCKET");
    assert_int_equal(wp_marks_begin("epoch", "epoch=1"), 0);
    assert_int_equal(wp_marks_end("epoch", NULL), 0);
    setenv("WATTPROF_SOCKET", "", 1);
    assert_int_equal(wp_marks_point("x", NULL), 0);
    struct wp_mark m;
    struct wp_err err = {0};
    assert_int_equal(wp_marks_rx_recv(f->rx, &m, 0, &err), 0);
}

static void test_client_no_listener(void **state)
{
    struct rx_fixture *f = *state;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(path, sizeof(path), "%.40s/nobody-here.sock", f->dir);
    setenv("WATTPROF_SOCKET", path, 1);
    errno = 0;
    assert_int_equal(wp_marks_begin("epoch", NULL), -1);
    assert_int_equal(errno, ENOENT);

    /* A socket file whose owner died (wattprof killed with SIGKILL leaves one behind). */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    errno = 0;
    assert_int_equal(wp_marks_end("epoch", NULL), -1);
    assert_int_equal(errno, ECONNREFUSED);
    unlink(path);

    char longpath[200];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    setenv("WATTPROF_SOCKET", longpath, 1);
    errno = 0;
    assert_int_equal(wp_marks_point("x", NULL), -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

/* Nobody drains the socket: the client must drop marks (-1, EAGAIN) instead of blocking, and
 * every mark it reported as sent must really have arrived. */
static void test_client_flood_never_blocks(void **state)
{
    struct rx_fixture *f = *state;
    int sent = 0, dropped = 0;
    for (int i = 0; i < 100000 && dropped < 3; i++) {
        errno = 0;
        if (wp_marks_point("step", "step=1") == 0) {
            sent++;
        } else {
            assert_int_equal(errno, EAGAIN);
            dropped++;
        }
    }
    assert_int_equal(dropped, 3);
    assert_true(sent > 0);

    int got = 0;
    struct wp_mark m;
    struct wp_err err = {0};
    while (wp_marks_rx_recv(f->rx, &m, 0, &err) == 1)
        got++;
    assert_int_equal(got, sent);
    /* Drained: marks flow again. */
    assert_int_equal(wp_marks_point("after", NULL), 0);
    assert_string_equal(recv_one(f->rx).name, "after");
}

/* The client's socket survives a fork: the child's marks arrive. */
static void test_client_after_fork(void **state)
{
    struct rx_fixture *f = *state;
    assert_int_equal(wp_marks_begin("parent", NULL), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(wp_marks_point("child", NULL) == 0 ? 0 : 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_equal(recv_one(f->rx).name, "parent");
    assert_string_equal(recv_one(f->rx).name, "child");
}

/* A job that closes every fd (daemon code) and reuses the number must not get our text. */
static void test_client_fd_closed_by_job(void **state)
{
    struct rx_fixture *f = *state;
    assert_int_equal(wp_marks_point("one", NULL), 0);
    assert_string_equal(recv_one(f->rx).name, "one");
    /* The client's socket: the datagram socket that is not the receiver's. */
    int rxfd = wp_marks_rx_fd(f->rx), victim = -1;
    for (int fd = 3; fd < 1024; fd++) {
        int type;
        socklen_t len = sizeof(type);
        if (fd != rxfd && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
            type == SOCK_DGRAM)
            victim = fd;
    }
    assert_true(victim >= 0);
    int pipefd[2];
    assert_int_equal(pipe2(pipefd, O_NONBLOCK), 0);
    assert_int_equal(dup2(pipefd[1], victim), victim); /* closes ours, reuses the number */

    assert_int_equal(wp_marks_point("two", NULL), 0);
    assert_string_equal(recv_one(f->rx).name, "two");
    char buf[16];
    assert_int_equal(read(pipefd[0], buf, sizeof(buf)), -1);
    assert_int_equal(errno, EAGAIN);
    close(victim);
    close(pipefd[0]);
    close(pipefd[1]);
}

static void test_rx_open_errors(void **state)
{
    struct rx_fixture *f = *state;
    struct wp_marks_rx *rx = NULL;
    struct wp_err err = {0};
    char dir[300];

    int rc = wp_marks_rx_open(&rx, "/nonexistent-wattprof-dir", &err);
    assert_int_equal(rc, -ENOENT);
    assert_null(rx);
    assert_non_null(strstr(err.msg, "TMPDIR"));

    /* A directory whose path leaves no room in sun_path (108 bytes). */
    snprintf(dir, sizeof(dir), "%s/", f->dir);
    memset(dir + strlen(dir), 'd', 90);
    dir[strlen(f->dir) + 1 + 90] = '\0';
    assert_int_equal(mkdir(dir, 0700), 0);
    rc = wp_marks_rx_open(&rx, dir, &err);
    rmdir(dir);
    assert_int_equal(rc, -ENAMETOOLONG);
    assert_null(rx);
    assert_non_null(strstr(err.msg, "shorter directory"));

    /* NULL dir: $TMPDIR, made absolute. */
    char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    setenv("TMPDIR", ".", 1);
    rc = wp_marks_rx_open(&rx, NULL, &err);
    assert_int_equal(chdir(cwd), 0);
    if (old) {
        setenv("TMPDIR", old, 1);
        free(old);
    } else {
        unsetenv("TMPDIR");
    }
    assert_int_equal(rc, 0);
    assert_memory_equal(wp_marks_rx_path(rx), f->dir, strlen(f->dir));
    wp_marks_rx_close(rx);
}

/* ---- phases ---- */

static struct wp_mark mk(const char *text, int64_t t_us)
{
    struct wp_mark m = parse_ok(text);
    m.t_us = t_us;
    return m;
}

static void check_phase(const struct wp_phase *p, const char *name, int64_t t0, int64_t t1,
                        int depth, bool open_ended)
{
    assert_string_equal(p->name, name);
    assert_int_equal(p->t0_us, t0);
    assert_int_equal(p->t1_us, t1);
    assert_int_equal(p->depth, depth);
    assert_int_equal(p->open_ended, open_ended);
}

static void test_phases_nesting(void **state)
{
    (void)state;
    struct wp_mark m[] = {mk("begin run", 0),   mk("begin epoch", 10), mk("mark ckpt", 15),
                          mk("begin step", 12), mk("end step", 14),    mk("end epoch", 20),
                          mk("end run", 30)};
    struct wp_phase *p;
    size_t n;
    assert_int_equal(wp_phases_from_marks(m, 7, 100, &p, &n), 0);
    assert_int_equal(n, 3);
    check_phase(&p[0], "run", 0, 30, 0, false);
    check_phase(&p[1], "epoch", 10, 20, 1, false);
    check_phase(&p[2], "step", 12, 14, 2, false);
    free(p);
}

static void test_phases_repeat(void **state)
{
    (void)state;
    /* epoch 2 begins at the instant epoch 1 ends: input order decides. */
    struct wp_mark m[] = {mk("begin epoch epoch=1", 0),  mk("end epoch", 10),
                          mk("begin epoch epoch=2", 10), mk("end epoch", 25),
                          mk("begin epoch epoch=3", 30), mk("end epoch", 40)};
    struct wp_phase *p;
    size_t n;
    assert_int_equal(wp_phases_from_marks(m, 6, 100, &p, &n), 0);
    assert_int_equal(n, 3);
    check_phase(&p[0], "epoch", 0, 10, 0, false);
    check_phase(&p[1], "epoch", 10, 25, 0, false);
    check_phase(&p[2], "epoch", 30, 40, 0, false);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p[i].ncounts, 1);
        assert_true(p[i].counts[0].value == i + 1);
    }
    free(p);
}

static void test_phases_out_of_order(void **state)
{
    (void)state;
    /* Overlapping, not nested: a ends while b is still open. Given out of time order. */
    struct wp_mark m[] = {mk("end b", 15),  mk("begin b", 5),  mk("end a", 10),
                          mk("begin a", 0), mk("begin c", 12), mk("end c", 13)};
    struct wp_phase *p;
    size_t n;
    assert_int_equal(wp_phases_from_marks(m, 6, 100, &p, &n), 0);
    assert_int_equal(n, 3);
    check_phase(&p[0], "a", 0, 10, 0, false);
    check_phase(&p[1], "b", 5, 15, 1, false);
    check_phase(&p[2], "c", 12, 13, 1, false); /* only b is open at 12 */
    free(p);
}

static void test_phases_ignored_marks(void **state)
{
    (void)state;
    struct wp_mark m[] = {
        mk("end ghost", 1),         /* no begin at all */
        mk("begin a samples=1", 2), /* the begin that counts */
        mk("begin a samples=2", 5), /* a is already open */
        mk("end a", 8),
        mk("end a", 9), /* a is closed */
        mk("end b", 3), /* b begins only later */
        mk("begin b", 4),
        mk("end b", 6),
    };
    struct wp_phase *p;
    size_t n;
    assert_int_equal(wp_phases_from_marks(m, 8, 100, &p, &n), 4);
    assert_int_equal(n, 2);
    check_phase(&p[0], "a", 2, 8, 0, false);
    assert_int_equal(p[0].ncounts, 1);
    assert_true(p[0].counts[0].value == 1.0);
    check_phase(&p[1], "b", 4, 6, 1, false);
    free(p);
}

static void test_phases_open_ended(void **state)
{
    (void)state;
    struct wp_mark m[] = {mk("begin run", 0), mk("begin epoch", 50), mk("end epoch", 60),
                          mk("begin epoch", 70), mk("begin late", 200)};
    struct wp_phase *p;
    size_t n;
    assert_int_equal(wp_phases_from_marks(m, 5, 100, &p, &n), 0);
    assert_int_equal(n, 4);
    check_phase(&p[0], "run", 0, 100, 0, true);
    check_phase(&p[1], "epoch", 50, 60, 1, false);
    check_phase(&p[2], "epoch", 70, 100, 1, true);
    /* Begun after the stated trace end: an empty phase, never a negative one. */
    check_phase(&p[3], "late", 200, 200, 2, true);
    free(p);
}

static void test_phases_counts_merge(void **state)
{
    (void)state;
    struct wp_mark m[] = {mk("begin a samples=1 epoch=3", 0),
                          mk("end a samples=5 tokens=9 a1=1 a2=2 a3=3 a4=4 a5=5 a6=6", 10)};
    struct wp_phase *p;
    size_t n;
    assert_int_equal(wp_phases_from_marks(m, 2, 100, &p, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].ncounts, 9);
    assert_string_equal(p[0].counts[0].key, "samples");
    assert_true(p[0].counts[0].value == 5.0);
    assert_string_equal(p[0].counts[1].key, "epoch");
    assert_true(p[0].counts[1].value == 3.0);
    assert_string_equal(p[0].counts[2].key, "tokens");
    assert_true(p[0].counts[2].value == 9.0);
    free(p);
}

static void test_phases_empty(void **state)
{
    (void)state;
    struct wp_mark m[] = {mk("mark only_points", 0), mk("end nothing", 1)};
    struct wp_phase *p = (struct wp_phase *)1;
    size_t n = 99;
    assert_int_equal(wp_phases_from_marks(NULL, 0, 0, &p, &n), 0);
    assert_null(p);
    assert_int_equal(n, 0);
    assert_int_equal(wp_phases_from_marks(m, 2, 0, &p, &n), 1);
    assert_null(p);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_verbs_and_counts),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_unterminated_prefixes),
        cmocka_unit_test_setup_teardown(test_rx_socket_file, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_rx_two_sockets_differ, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_client_round_trip, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_rx_rejects_and_continues, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_rx_closes_passed_fds, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_client_rejects_invalid_input, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_client_without_wattprof, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_client_no_listener, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_client_flood_never_blocks, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_client_after_fork, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_client_fd_closed_by_job, rx_setup, rx_teardown),
        cmocka_unit_test_setup_teardown(test_rx_open_errors, rx_setup, rx_teardown),
        cmocka_unit_test(test_phases_nesting),
        cmocka_unit_test(test_phases_repeat),
        cmocka_unit_test(test_phases_out_of_order),
        cmocka_unit_test(test_phases_ignored_marks),
        cmocka_unit_test(test_phases_open_ended),
        cmocka_unit_test(test_phases_counts_merge),
        cmocka_unit_test(test_phases_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
