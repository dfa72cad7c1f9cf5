/* Starting and waiting for the measured command (run, sweep), with signal forwarding.
 *
 * The rule: the job gets each signal meant for it exactly once. A second SIGINT turns a
 * graceful stop (PyTorch, torchrun, most trainers) into a forced one, so a forwarded copy of a
 * signal the job already got is a bug, not a harmless extra.
 *  - The job runs in a process group of its own. A signal sent to wattprof's group (`kill --
 *    -PGID`, `timeout`, which signals its child and then its own group) then reaches wattprof
 *    alone, never the job directly, and wattprof passes it on to the job's group, once.
 *    (With the job in wattprof's group, it got the group's copy and the forwarded one.)
 *  - A signal sent to wattprof alone (`kill PID`, a scheduler) is passed on the same way: to
 *    the job's whole group, as a Ctrl-C or a group kill would have reached it without wattprof.
 *  - Copies of one request are dropped: a kill() (SI_USER) of the same signal from the same
 *    sender within DUP_WINDOW_US of one already forwarded. `timeout` sends the one request
 *    to wattprof twice (to its pid, then to its group). Requests seconds apart all go through.
 *  - On a terminal, while wattprof is in the foreground, the job's group is made the
 *    foreground group, as a shell does: Ctrl-C, Ctrl-\ and hangups go from the terminal to the
 *    job directly, and the job may read the terminal (a background group would be stopped by
 *    SIGTTIN). Signals from the terminal (SI_KERNEL) are then not forwarded: the job has them.
 *    wattprof takes the terminal back when the job ends. When the job is stopped (Ctrl-Z,
 *    SIGTTIN), wattprof stops too so that the shell sees it, and on `fg` gives the terminal
 *    back and continues the job.
 * Not covered: a sender that signals the job's processes one by one and wattprof as well
 * (Slurm's scancel signals every process of a step) still gives the job two copies. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/clock.h"

/* timeout's two sends of one request arrive microseconds apart; a person or script asking
 * twice does so seconds apart. */
#define DUP_WINDOW_US 200000

/* Where forwarded signals go: -pgid of the job's group (pid if it could not get one), 0 when
 * no job runs. */
static volatile sig_atomic_t job_target;
static volatile sig_atomic_t job_has_tty;
static volatile sig_atomic_t got_signal;
/* A signal that came while no job ran (before fork() returned): the next job has not got it,
 * so it is passed on as soon as the job exists. */
static volatile sig_atomic_t early_signal;
static pid_t wattprof_pid;
/* The last forwarded kill(), under last_lock: the recorder's threads take signals too, so
 * timeout's two sends can run the handler in two threads at once. A spin lock is safe here:
 * a thread in the handler has the three signals blocked (sa_mask), so the holder is always
 * another thread, and it holds the lock for a few instructions. */
static atomic_flag last_lock = ATOMIC_FLAG_INIT;
static int last_sig;
static pid_t last_sender;
static int64_t last_us;

static void forward(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    int saved_errno = errno;
    if (getpid() != wattprof_pid) {
        /* The job between fork() and exec(), still with this handler: it gets the signal
         * as it would after exec (default action), instead of losing it. */
        signal(sig, SIG_DFL);
        raise(sig);
        goto out;
    }
    got_signal = sig;
    pid_t target = (pid_t)job_target;
    if (target == 0)
        early_signal = sig;
    if (target == 0 || (si && si->si_code == SI_KERNEL && job_has_tty))
        goto out;
    if (si && si->si_code == SI_USER) {
        while (atomic_flag_test_and_set(&last_lock))
            ;
        int64_t now = wp_mono_us();
        bool copy = sig == last_sig && si->si_pid == last_sender && now - last_us < DUP_WINDOW_US;
        if (!copy) {
            last_sig = sig;
            last_sender = si->si_pid;
            last_us = now;
        }
        atomic_flag_clear(&last_lock);
        if (copy)
            goto out;
    }
    kill(target, sig);
out:
    errno = saved_errno;
}

void cli_forward_signals(bool on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    if (on) {
        sa.sa_sigaction = forward;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigaddset(&sa.sa_mask, SIGINT);
        sigaddset(&sa.sa_mask, SIGTERM);
        sigaddset(&sa.sa_mask, SIGHUP);
    } else {
        sa.sa_handler = SIG_DFL;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    early_signal = 0;
    wattprof_pid = getpid();
    /* Ignored while a job may hold the terminal: wattprof, in a background group then, must
     * still take the terminal back (tcsetpgrp) and print warnings under `stty tostop`. */
    signal(SIGTTOU, on ? SIG_IGN : SIG_DFL);
}

int cli_signal_seen(void)
{
    return got_signal;
}

/* Makes the terminal's foreground group pgid (the job's, or back to wattprof's own). */
static void give_tty(int tty, pid_t pgid, bool to_job)
{
    if (tcsetpgrp(tty, pgid) == 0)
        job_has_tty = to_job;
}

/* Waits for the job to end; follows it through job-control stops when on a terminal. */
static int wait_job(pid_t pid, int tty)
{
    int status = 0;
    for (;;) {
        if (waitpid(pid, &status, tty >= 0 ? WUNTRACED : 0) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (!WIFSTOPPED(status))
            return status;
        /* Stopped (Ctrl-Z, or SIGTTIN reading the terminal from the background): stop
         * wattprof too, so the shell sees a stopped job and can `fg` it. SIGSTOP, unlike
         * SIGTSTP, is not discarded in an orphaned process group, which would spin here. */
        if (job_has_tty)
            give_tty(tty, getpgrp(), false);
        raise(SIGSTOP);
        if (tcgetpgrp(tty) == getpgrp())
            give_tty(tty, pid, true);
        kill(-pid, SIGCONT);
    }
}

int cli_run_child(char **argv, const char *socket_path, const char *cmd)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        cli_error(cmd, "cannot create a pipe: %s", strerror(errno));
        return 126;
    }
    /* No controlling terminal (batch jobs, CI, setsid): -1, and no foreground to manage. */
    int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    bool foreground = tty >= 0 && tcgetpgrp(tty) == getpgrp();
    pid_t pid = fork();
    if (pid < 0) {
        cli_error(cmd, "cannot start %s: %s", argv[0], strerror(errno));
        close(fds[0]);
        close(fds[1]);
        if (tty >= 0)
            close(tty);
        return 126;
    }
    if (pid == 0) {
        close(fds[0]);
        /* Both sides set the group and the terminal, so neither order of running after
         * fork() lets the job start outside its group or read the terminal too early. */
        setpgid(0, 0);
        if (foreground)
            tcsetpgrp(tty, getpid()); /* SIGTTOU is ignored until the reset below */
        if (socket_path)
            setenv("WATTPROF_SOCKET", socket_path, 1);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGTTOU, SIG_DFL);
        execvp(argv[0], argv);
        int e = errno;
        if (write(fds[1], &e, sizeof(e)) < 0) {
            /* the parent then sees a plain 127/126 */
        }
        _exit(e == ENOENT ? 127 : 126);
    }
    close(fds[1]);
    /* EACCES: the job has already exec'd, after setting its group itself. */
    bool own_group = setpgid(pid, pid) == 0 || getpgid(pid) == pid;
    job_target = own_group ? -pid : pid;
    int early = early_signal;
    if (early) {
        early_signal = 0;
        kill(own_group ? -pid : pid, early);
    }
    bool had_tty = false;
    if (foreground && own_group) {
        give_tty(tty, pid, true);
        had_tty = job_has_tty;
    }
    int e = 0;
    ssize_t n;
    do
        n = read(fds[0], &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status = wait_job(pid, tty);
    job_target = 0;
    if (job_has_tty)
        give_tty(tty, getpgrp(), false);
    if (tty >= 0)
        close(tty);
    if (n == (ssize_t)sizeof(e) && e) {
        cli_error(cmd, "cannot run %s: %s", argv[0], strerror(e));
        return e == ENOENT ? 127 : 126;
    }
    if (status < 0)
        return WP_EXIT_SOFTWARE;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        /* A Ctrl-C went to the job alone: note it as seen, so that `sweep` stops. */
        int sig = WTERMSIG(status);
        if (had_tty && (sig == SIGINT || sig == SIGQUIT || sig == SIGHUP))
            got_signal = sig;
        return 128 + sig;
    }
    return WP_EXIT_SOFTWARE;
}

char *cli_join_argv(char **argv)
{
    size_t len = 1;
    for (char **a = argv; *a; a++)
        len += strlen(*a) * 4 + 3;
    char *s = malloc(len);
    if (!s)
        return NULL;
    size_t off = 0;
    static const char plain_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789_-+=/.,:@%{}";
    for (char **a = argv; *a; a++) {
        if (a != argv)
            s[off++] = ' ';
        if (**a && strspn(*a, plain_chars) == strlen(*a)) {
            size_t l = strlen(*a);
            memcpy(s + off, *a, l);
            off += l;
            continue;
        }
        s[off++] = '\'';
        for (const char *c = *a; *c; c++) {
            if (*c == '\'') {
                memcpy(s + off, "'\\''", 4);
                off += 4;
            } else {
                s[off++] = *c;
            }
        }
        s[off++] = '\'';
    }
    s[off] = 0;
    return s;
}
