/* Starting and waiting for the measured command (run, sweep), with signal forwarding. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t got_signal;

/* Signals from the terminal (Ctrl-C: si_code SI_KERNEL) already reach the whole foreground
 * process group, the command included; forwarding them would deliver them twice. Signals
 * sent to wattprof alone (kill, Slurm, timeout: SI_USER/SI_QUEUE) are passed on. */
static void forward(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    got_signal = sig;
    if (child_pid > 0 && (si == NULL || si->si_code == SI_USER || si->si_code == SI_QUEUE ||
                          si->si_code == SI_TKILL))
        kill((pid_t)child_pid, sig);
}

void cli_forward_signals(bool on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    if (on) {
        sa.sa_sigaction = forward;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
    } else {
        sa.sa_handler = SIG_DFL;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int cli_signal_seen(void)
{
    return got_signal;
}

int cli_run_child(char **argv, const char *socket_path, const char *cmd)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        cli_error(cmd, "cannot create a pipe: %s", strerror(errno));
        return 126;
    }
    pid_t pid = fork();
    if (pid < 0) {
        cli_error(cmd, "cannot start %s: %s", argv[0], strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 126;
    }
    if (pid == 0) {
        close(fds[0]);
        if (socket_path)
            setenv("WATTPROF_SOCKET", socket_path, 1);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execvp(argv[0], argv);
        int e = errno;
        if (write(fds[1], &e, sizeof(e)) < 0) {
            /* the parent then sees a plain 127/126 */
        }
        _exit(e == ENOENT ? 127 : 126);
    }
    close(fds[1]);
    child_pid = pid;
    int e = 0;
    ssize_t n;
    do
        n = read(fds[0], &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    child_pid = 0;
    if (n == (ssize_t)sizeof(e) && e) {
        cli_error(cmd, "cannot run %s: %s", argv[0], strerror(e));
        return e == ENOENT ? 127 : 126;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
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
