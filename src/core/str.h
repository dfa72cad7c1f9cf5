/* Small string helpers shared by the parsers of options and config files. */
#ifndef WP_STR_H
#define WP_STR_H

/* s without leading and trailing white space: the end is cut in place (a NUL written), the
 * start returned. */
char *wp_trim(char *s);

#endif
