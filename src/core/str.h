/* Small string helpers shared by the parsers of options and config files. */
#ifndef WP_STR_H
#define WP_STR_H

/* s without leading and trailing white space: the end is cut in place (a NUL written), the
 * start returned. */
char *wp_trim(char *s);

/* strtod for numbers a person types: decimal only. A hexadecimal number ("0x10", which strtod
 * reads as 16), "inf" and "nan" are not converted (*end = s), so callers that check end == s
 * refuse them as they refuse any word. */
double wp_strtod_dec(const char *s, char **end);

#endif
