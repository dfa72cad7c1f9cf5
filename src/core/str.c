#include "core/str.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

char *wp_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

double wp_strtod_dec(const char *s, char **end)
{
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '+' || *p == '-')
        p++;
    /* a digit or a decimal point must come first, and no 0x */
    if (!(isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) ||
        (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))) {
        if (end)
            *end = (char *)s;
        return 0;
    }
    return strtod(s, end);
}
