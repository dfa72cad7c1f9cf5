#include "core/grow.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int wp_grow(void **v, size_t *cap, size_t need, size_t elem, size_t min_cap)
{
    if (need <= *cap)
        return 0;
    if (elem == 0)
        return -EINVAL;
    size_t ncap = *cap ? *cap : (min_cap ? min_cap : 16);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -ENOMEM;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return -ENOMEM;
    void *nv = realloc(*v, ncap * elem);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}
