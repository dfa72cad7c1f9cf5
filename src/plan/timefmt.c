/* Time parsing and formatting in UTC (timegm: no dependence on the TZ setting). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan/timefmt.h"

static int digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int wp_time_parse(const char *s, int64_t *t_us)
{
    const char *p = s[0] == '@' ? s + 1 : s;
    if (strlen(p) > 0 && !strchr(p, '-') && !strchr(p, ':')) {
        char *end;
        double v = strtod(p, &end);
        if (*end || end == p || !(v > -1e11 && v < 1e11))
            return -EINVAL;
        *t_us = (int64_t)(v * 1e6 + (v >= 0 ? 0.5 : -0.5));
        return 0;
    }
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (strlen(s) < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -EINVAL;
    const char *q = s + 10;
    double frac = 0;
    if (*q == 'T' || *q == ' ') {
        if (digits(q + 1, 2, &h) || q[3] != ':' || digits(q + 4, 2, &mi))
            return -EINVAL;
        q += 6;
        if (*q == ':') {
            if (digits(q + 1, 2, &sec))
                return -EINVAL;
            q += 3;
            if (*q == '.') {
                char *end;
                frac = strtod(q, &end);
                q = end;
            }
        }
    }
    long off_s = 0;
    if (*q == 'Z') {
        q++;
    } else if (*q == '+' || *q == '-') {
        int oh, om = 0;
        if (digits(q + 1, 2, &oh))
            return -EINVAL;
        const char *r = q + 3;
        if (*r == ':')
            r++;
        if (*r && digits(r, 2, &om))
            return -EINVAL;
        off_s = (oh * 3600L + om * 60L) * (*q == '+' ? 1 : -1);
        q = *r ? r + 2 : r;
    }
    if (*q || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *t_us = ((int64_t)t - off_s) * 1000000 + (int64_t)(frac * 1e6 + 0.5);
    return 0;
}

void wp_time_format(int64_t t_us, char *buf, size_t cap)
{
    time_t t = (time_t)(t_us >= 0 ? t_us / 1000000 : -((-t_us + 999999) / 1000000));
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
