#include "sources/source.h"

#include <stddef.h>

const struct wp_source_ops *const wp_sources[] = {
    &wp_source_nvml,
    NULL,
};
