/* libFuzzer target for the trace reader on whole files: the input is written to a file and
 * read the way `wattprof report` reads a trace someone sent you: open, every sensor's series,
 * marks, events, then the summary. A damaged file must be refused with a message, never read
 * out of bounds. Seeds: real traces recorded from the replayed H200 fixture. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/summary.h"
#include "report/report.h"
#include "store/trace.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], path[300], wal[310], shm[310];

static void remove_dir(void)
{
    unlink(path);
    unlink(wal);
    unlink(shm);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/wattprof-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof(path), "%s/in.wptrace", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(shm, sizeof(shm), "%s-shm", path);
    atexit(remove_dir);
    return 0;
}

static void check_series(const struct wp_series *s)
{
    for (size_t i = 1; i < s->n; i++)
        if (s->t_us[i] < s->t_us[i - 1])
            abort(); /* the reader promises time order */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unlink(wal);
    unlink(shm);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);

    struct wp_trace *t = NULL;
    struct wp_err err = {0};
    if (wp_trace_open(&t, path, &err) < 0) {
        if (err.code >= 0 || err.msg[0] == 0)
            abort(); /* a refusal must say why */
        return 0;
    }
    const struct wp_sensors *tab = wp_trace_sensors(t);
    for (size_t i = 0; i < tab->n; i++) {
        struct wp_series s = {0};
        if (wp_trace_series(t, tab->v[i].id, &s, &err) == 0)
            check_series(&s);
        else if (err.msg[0] == 0)
            abort();
        wp_series_free(&s);
    }
    const struct wp_mark *m;
    const struct wp_event *e;
    size_t n;
    if (wp_trace_marks(t, &m, &n, &err) == 0)
        for (size_t i = 1; i < n; i++)
            if (m[i].t_us < m[i - 1].t_us)
                abort();
    if (wp_trace_events(t, &e, &n, &err) == 0)
        for (size_t i = 0; i < n; i++)
            if (strnlen(e[i].message, sizeof(e[i].message)) == sizeof(e[i].message))
                abort();
    struct wp_summary sum;
    if (wp_summary_compute(t, &sum, &err) == 0) {
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            wp_summary_print_text(devnull, &sum);
            wp_summary_write_json(devnull, &sum);
            fclose(devnull);
        }
        wp_summary_free(&sum);
    }
    wp_trace_free(t);
    return 0;
}
