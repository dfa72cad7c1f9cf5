/* Loading a shared library and a table of its symbols at run time (dlopen), so a library that
 * only some sources need is mapped only when one of them starts. */
#ifndef WP_DYNLIB_H
#define WP_DYNLIB_H

#include <stddef.h>

/* Where a symbol's address goes, and its name. */
struct wp_dl_sym {
    void **slot;
    const char *name;
};

/* Opens lib (RTLD_NOW | RTLD_LOCAL) and fills every slot of syms. Returns the handle, or NULL
 * with one line in err (dlopen's message, or which symbol lib lacks) and the library closed. */
void *wp_dl_load(const char *lib, const struct wp_dl_sym *syms, size_t n, char *err, size_t errcap);

#endif
