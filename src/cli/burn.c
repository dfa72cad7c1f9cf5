/* wattprof burn: runs wattprof-burn (CUDA, built where nvcc exists) found beside this
 * binary, or on PATH. Its options are its own; see `wattprof burn --help`. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static int burn_path(char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, len, "%s/wattprof-burn", self);
            if (access(buf, X_OK) == 0)
                return 0;
        }
    }
    const char *path = getenv("PATH");
    if (!path)
        return -ENOENT;
    char *copy = strdup(path), *save = NULL;
    if (!copy)
        return -ENOMEM;
    int rc = -ENOENT;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, len, "%s/wattprof-burn", *d ? d : ".");
        if (access(buf, X_OK) == 0) {
            rc = 0;
            break;
        }
    }
    free(copy);
    return rc;
}

bool cli_burn_available(void)
{
    char p[PATH_MAX + 32];
    return burn_path(p, sizeof(p)) == 0;
}

int cmd_burn(int argc, char **argv)
{
    (void)argc;
    char p[PATH_MAX + 32];
    if (burn_path(p, sizeof(p)) < 0) {
        cli_error("burn", "wattprof-burn is not installed: it is built by `make` only where the "
                          "CUDA compiler (nvcc) and cuBLAS are present; build wattprof on the GPU "
                          "machine");
        return WP_EXIT_UNAVAILABLE;
    }
    argv[0] = p;
    execv(p, argv);
    cli_error("burn", "cannot run %s: %s", p, strerror(errno));
    return 126;
}
