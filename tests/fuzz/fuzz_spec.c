/* libFuzzer target: source specs (--source) and config files (--config). The first byte picks
 * the way in (a spec from the command line, one from a file, or a whole config file read
 * through a memfd); every instance that parses is then formatted and its options read, as
 * the CLI and the sources do. Nothing may crash, leak or read out of bounds, and a secret
 * given inline must never appear in the formatted spec. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sources/source.h"

static const struct wp_source_key keys[] = {
    {"host", "HOST", 0},
    {"password", "secret", WP_KEY_SECRET},
    {"interval", "DURATION", 0},
    {"on", "BOOL", 0},
    {NULL, NULL, 0},
};
static const struct wp_source_ops meter = {.name = "meter", .keys = keys};
static const struct wp_source_ops *const kinds[] = {&meter, &wp_source_nvml, NULL};

static void exercise(const struct wp_config *c)
{
    for (size_t i = 0; i < c->n; i++) {
        char shown[512];
        wp_source_cfg_format(&c->v[i], shown, sizeof(shown));
        wp_source_cfg_format(&c->v[i], shown, 7); /* truncation */
        /* The secret's value is never shown as the value of its key (the value itself may
         * well appear elsewhere: "password=meter:" shows "meter:" as the kind). */
        const char *pw = wp_source_cfg_get(&c->v[i], "password");
        char needle[600];
        snprintf(needle, sizeof(needle), "password=%s", pw ? pw : "");
        if (pw && strcmp(pw, "<secret>") != 0 && strstr(shown, needle))
            abort();
        int64_t us;
        bool b;
        struct wp_err err;
        wp_source_cfg_duration_us(&c->v[i], "interval", 1000, 1000, 60000000, &us, &err);
        wp_source_cfg_bool(&c->v[i], "on", false, &b, &err);
        char secret[64];
        if (!wp_source_cfg_get(&c->v[i], "password_file"))
            wp_source_cfg_secret(&c->v[i], "password", secret, sizeof(secret), &err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    data++;
    size--;
    struct wp_config c;
    wp_config_init(&c);
    struct wp_err err;
    if (mode < 2) {
        char *spec = malloc(size + 1);
        if (!spec)
            return 0;
        memcpy(spec, data, size);
        spec[size] = '\0';
        wp_config_add_spec(&c, kinds, spec, mode == 1, "fuzz", &err);
        free(spec);
    } else {
        int fd = memfd_create("wattprof-fuzz-config", 0);
        if (fd < 0)
            return 0;
        if (write(fd, data, size) == (ssize_t)size) {
            char path[64];
            snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
            wp_config_load(&c, kinds, path, &err);
        }
        close(fd);
    }
    exercise(&c);
    wp_config_add_auto(&c, kinds, &err);
    wp_config_free(&c);
    return 0;
}
