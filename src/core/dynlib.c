#include "core/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

void *wp_dl_load(const char *lib, const struct wp_dl_sym *syms, size_t n, char *err, size_t errcap)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errcap, "%s", dlerror());
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
            snprintf(err, errcap, "%s has no %s", lib, syms[i].name);
            dlclose(h);
            return NULL;
        }
    }
    return h;
}
