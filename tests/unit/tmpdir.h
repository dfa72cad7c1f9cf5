/* A temporary directory per test binary, removed at the end unless KEEP=1 is set (to look
 * at what the tests wrote). Header-only: each test is one translation unit. */
#ifndef WP_TEST_TMPDIR_H
#define WP_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

static char test_dir[64];

static int test_dir_make(void **state)
{
    (void)state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/wp-test-XXXXXX");
    return mkdtemp(test_dir) ? 0 : -1;
}

static int test_dir_remove(void **state)
{
    (void)state;
    char cmd[128];
    if (getenv("KEEP"))
        return 0;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
