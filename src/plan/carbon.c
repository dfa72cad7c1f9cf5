/* Carbon intensity series, emissions and the best start time (see carbon.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "core/grow.h"
#include "plan/carbon.h"
#include "plan/timefmt.h"

void wp_intensity_free(struct wp_intensity *ci)
{
    free(ci->t_us);
    free(ci->g_per_kwh);
    memset(ci, 0, sizeof(*ci));
}

void wp_intensity_constant(struct wp_intensity *out, double g_per_kwh)
{
    memset(out, 0, sizeof(*out));
    out->constant = true;
    out->const_g_per_kwh = g_per_kwh;
    snprintf(out->source, sizeof(out->source), "constant %g gCO2/kWh", g_per_kwh);
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Splits a CSV line in place at commas (no quoting: these files have none). */
static size_t split_csv(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int wp_intensity_load(struct wp_intensity *out, const char *path, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        int e = errno;
        return wp_errf(err, -e, "cannot read intensity file %s: %s", path, strerror(e));
    }
    fclose(probe);
    gzFile gz = gzopen(path, "rb"); /* reads plain files too */
    if (!gz)
        return wp_errf(err, -ENOMEM, "cannot open %s: out of memory", path);
    char line[4096];
    char *f[32];
    int col = -1;
    size_t lineno = 0, cap = 0, cap2 = 0;
    int rc = 0;
    char colname[64] = "";
    while (gzgets(gz, line, sizeof(line))) {
        lineno++;
        chomp(line);
        if (line[0] == '\0' || line[0] == '#')
            continue;
        size_t nf = split_csv(line, f, 32);
        if (col < 0) {
            for (size_t i = 1; i < nf; i++)
                if (strcmp(f[i], "avg_CI") == 0 || strcmp(f[i], "gco2_per_kwh") == 0 ||
                    strcmp(f[i], "carbon_intensity") == 0)
                    col = (int)i;
            if (col < 0 && nf >= 2)
                col = 1;
            if (col < 0) {
                rc = wp_errf(err, -EINVAL,
                             "%s line %zu: want a header 'timestamp,gco2_per_kwh' (or a column "
                             "named avg_CI); found one column",
                             path, lineno);
                goto out;
            }
            snprintf(colname, sizeof(colname), "%s", f[col]);
            continue;
        }
        int64_t t;
        if (wp_time_parse(f[0], &t) < 0) {
            rc = wp_errf(err, -EINVAL,
                         "%s line %zu: '%s' is not a time; write 2022-01-01T00:00:00Z, "
                         "'2022-01-01 00:00:00+00:00' or Unix seconds",
                         path, lineno, f[0]);
            goto out;
        }
        double v = NAN;
        if ((size_t)col < nf && f[col][0] != '\0') {
            char *end;
            v = strtod(f[col], &end);
            if (*end != '\0' || !isfinite(v) || v < 0) {
                rc = wp_errf(err, -EINVAL,
                             "%s line %zu: intensity '%s' is not a number of gCO2/kWh (leave it "
                             "empty for an hour without data)",
                             path, lineno, f[col]);
                goto out;
            }
        }
        if (out->n > 0 && t <= out->t_us[out->n - 1]) {
            rc = wp_errf(err, -EINVAL, "%s line %zu: times must increase; '%s' does not", path,
                         lineno, f[0]);
            goto out;
        }
        if (WP_GROW(&out->t_us, &cap, out->n + 1) < 0 ||
            WP_GROW(&out->g_per_kwh, &cap2, out->n + 1) < 0) {
            rc = wp_errf(err, -ENOMEM, "out of memory reading %s", path);
            goto out;
        }
        out->t_us[out->n] = t;
        out->g_per_kwh[out->n] = v;
        out->n++;
    }
    if (!gzeof(gz)) {
        rc = wp_errf(err, -EIO, "%s: read error or damaged gzip data after line %zu", path, lineno);
        goto out;
    }
    if (out->n < 2) {
        rc = wp_errf(err, -EINVAL, "%s holds %zu rows; an intensity series needs at least two",
                     path, out->n);
        goto out;
    }
    snprintf(out->source, sizeof(out->source), "file %s (column %s)", basename_of(path), colname);
out:
    gzclose(gz);
    if (rc < 0)
        wp_intensity_free(out);
    return rc;
}

long wp_intensity_slot(const struct wp_intensity *ci, int64_t t_us)
{
    if (ci->constant || ci->n < 2 || t_us < ci->t_us[0])
        return -1;
    int64_t last = ci->t_us[ci->n - 1] + (ci->t_us[ci->n - 1] - ci->t_us[ci->n - 2]);
    if (t_us >= last)
        return -1;
    size_t lo = 0, hi = ci->n; /* last slot start <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ci->t_us[mid] <= t_us)
            lo = mid;
        else
            hi = mid;
    }
    return (long)lo;
}

double wp_intensity_at(const struct wp_intensity *ci, int64_t t_us)
{
    if (ci->constant)
        return ci->const_g_per_kwh;
    long s = wp_intensity_slot(ci, t_us);
    return s < 0 ? NAN : ci->g_per_kwh[s];
}

static bool zone_name_ok(const char *z)
{
    if (!*z || strlen(z) > 32)
        return false;
    for (const char *p = z; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return false;
    return true;
}

int wp_intensity_find_zone(const char *zone, const char *dirs, char *path, size_t cap,
                           struct wp_err *err)
{
    if (!zone_name_ok(zone))
        return wp_errf(err, -EINVAL,
                       "'%s' is neither a file nor a zone name (letters and digits, e.g. CISO)",
                       zone);
    char found[256] = "";
    size_t zl = strlen(zone);
    const char *d = dirs;
    while (d && *d) {
        const char *colon = strchr(d, ':');
        size_t dl = colon ? (size_t)(colon - d) : strlen(d);
        char dir[1024];
        if (dl > 0 && dl < sizeof(dir)) {
            memcpy(dir, d, dl);
            dir[dl] = '\0';
            DIR *dh = opendir(dir);
            struct dirent *e;
            char best[512] = "";
            while (dh && (e = readdir(dh))) {
                const char *nm = e->d_name;
                size_t nl = strlen(nm);
                bool csv = (nl > 4 && strcmp(nm + nl - 4, ".csv") == 0) ||
                           (nl > 7 && strcmp(nm + nl - 7, ".csv.gz") == 0);
                if (!csv)
                    continue;
                if (strncmp(nm, zone, zl) == 0 && (nm[zl] == '-' || nm[zl] == '.')) {
                    /* The alphabetically last file wins: a later year's series sorts after. */
                    if (!best[0] || strcmp(nm, best) > 0)
                        snprintf(best, sizeof(best), "%s", nm);
                }
                /* Remember the zones there are, for the error message. */
                size_t k = strcspn(nm, "-.");
                char z[40];
                if (k > 0 && k < sizeof(z)) {
                    memcpy(z, nm, k);
                    z[k] = '\0';
                    if (!strstr(found, z) && strlen(found) + k + 2 < sizeof(found)) {
                        if (found[0])
                            strcat(found, " ");
                        strcat(found, z);
                    }
                }
            }
            if (dh)
                closedir(dh);
            if (best[0]) {
                if ((size_t)snprintf(path, cap, "%s/%s", dir, best) >= cap)
                    return wp_errf(err, -ENAMETOOLONG, "the path of zone %s is too long", zone);
                return 0;
            }
        }
        d = colon ? colon + 1 : NULL;
    }
    return wp_errf(err, -ENOENT,
                   "no intensity series for zone '%s' in %s (zones there: %s); give a CSV file "
                   "or a constant instead",
                   zone, dirs, found[0] ? found : "none");
}

void wp_profile_free(struct wp_profile *p)
{
    free(p->energy_j);
    memset(p, 0, sizeof(*p));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int wp_profile_init(struct wp_profile *p, int64_t from_us, int64_t to_us, int64_t bin_us)
{
    memset(p, 0, sizeof(*p));
    if (bin_us <= 0 || to_us <= from_us)
        return -EINVAL;
    p->bin_us = bin_us;
    p->t0_us = floor_div(from_us, bin_us) * bin_us;
    p->n = (size_t)((to_us - p->t0_us + bin_us - 1) / bin_us);
    p->energy_j = calloc(p->n, sizeof(double));
    return p->energy_j ? 0 : -ENOMEM;
}

/* Adds power w over [a, b) (us) into the bins. */
static void add_span(struct wp_profile *p, int64_t a, int64_t b, double w)
{
    int64_t end = p->t0_us + (int64_t)p->n * p->bin_us;
    if (a < p->t0_us)
        a = p->t0_us;
    if (b > end)
        b = end;
    while (a < b) {
        int64_t k = (a - p->t0_us) / p->bin_us;
        int64_t bin_end = p->t0_us + (k + 1) * p->bin_us;
        int64_t e = b < bin_end ? b : bin_end;
        p->energy_j[k] += w * (double)(e - a) * 1e-6;
        a = e;
    }
}

int wp_profile_add_series(struct wp_profile *p, const int64_t *t_us, const int64_t *mw, size_t n,
                          int64_t hold_us, int64_t from_us, int64_t to_us, double scale)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && t_us[i] < t_us[i - 1])
            return -EINVAL;
        int64_t a = i > 0 ? t_us[i - 1] : t_us[0] - hold_us;
        int64_t b = t_us[i];
        if (a < from_us)
            a = from_us;
        if (b > to_us)
            b = to_us;
        if (b > a)
            add_span(p, a, b, (double)mw[i] * 1e-3 * scale);
    }
    return 0;
}

int wp_emissions_compute(const struct wp_profile *p, const struct wp_intensity *ci, double pue,
                         int64_t shift_us, struct wp_emissions *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!(pue >= 1.0) || !isfinite(pue))
        return wp_errf(err, -EINVAL, "a PUE is 1 or more (facility power / IT power), not %g", pue);
    snprintf(out->intensity_source, sizeof(out->intensity_source), "%s", ci->source);
    out->pue = pue;
    double g = 0, covered_j = 0, blank_us = 0;
    for (size_t k = 0; k < p->n; k++) {
        double e = p->energy_j[k];
        out->it_energy_j += e;
        double ci_g = wp_intensity_at(ci, p->t0_us + (int64_t)k * p->bin_us + shift_us);
        if (isnan(ci_g)) {
            blank_us += (double)p->bin_us;
            out->energy_without_intensity_j += e * pue;
            continue;
        }
        covered_j += e * pue;
        g += e * pue / 3.6e6 * ci_g;
    }
    out->facility_energy_j = out->it_energy_j * pue;
    out->hours_without_intensity = blank_us / 3.6e9;
    out->kg_co2e = covered_j > 0 || blank_us == 0 ? g / 1000.0 : NAN;
    out->mean_g_per_kwh = covered_j > 0 ? g / (covered_j / 3.6e6) : NAN;
    return 0;
}

int wp_profile_chunks(const struct wp_profile *p, int64_t slot_us, double **out, size_t *n)
{
    if (slot_us <= 0 || slot_us % p->bin_us != 0)
        return -EINVAL;
    int64_t per = slot_us / p->bin_us;
    *n = (p->n + (size_t)per - 1) / (size_t)per;
    *out = calloc(*n ? *n : 1, sizeof(double));
    if (!*out)
        return -ENOMEM;
    for (size_t k = 0; k < p->n; k++)
        (*out)[k / (size_t)per] += p->energy_j[k];
    return 0;
}

void wp_carbon_plan_free(struct wp_carbon_plan *r)
{
    free(r->chunk_start_us);
    memset(r, 0, sizeof(*r));
}

/* kg CO2e of e joules at g gCO2/kWh through pue. */
static double kg_of(double e_j, double pue, double g)
{
    return e_j * pue / 3.6e6 * g / 1000.0;
}

int wp_carbon_plan(const struct wp_profile *p, const struct wp_intensity *ci,
                   const struct wp_carbon_opts *o, struct wp_carbon_plan *out, struct wp_err *err)
{
    memset(out, 0, sizeof(*out));
    if (ci->constant || ci->n < 2)
        return wp_errf(err, -EINVAL,
                       "a constant intensity makes every start time equal; give a series");
    int64_t slot_us = ci->t_us[1] - ci->t_us[0];
    for (size_t i = 2; i < ci->n; i++)
        if (ci->t_us[i] - ci->t_us[i - 1] != slot_us)
            return wp_errf(err, -EINVAL,
                           "the intensity series' rows are not evenly spaced (row %zu); plan "
                           "carbon needs one row per slot, blank rows for missing ones",
                           i + 1);
    if (slot_us % p->bin_us != 0)
        return wp_errf(err, -EINVAL, "the intensity slots are not whole seconds long");
    if (!(o->pue >= 1.0))
        return wp_errf(err, -EINVAL, "a PUE is 1 or more, not %g", o->pue);
    double *chunk;
    size_t nch;
    if (wp_profile_chunks(p, slot_us, &chunk, &nch) < 0)
        return wp_errf(err, -ENOMEM, "out of memory");
    int64_t job_us = (int64_t)p->n * p->bin_us;
    out->kg_co2e_now = NAN;
    out->kg_co2e_best = NAN;
    out->kg_co2e_split = NAN;
    /* Starting now, with now anywhere inside a slot: the exact per-bin sum. */
    if (o->now_us + job_us <= o->deadline_us) {
        struct wp_emissions e;
        wp_emissions_compute(p, ci, o->pue, o->now_us - p->t0_us, &e, NULL);
        if (e.hours_without_intensity == 0)
            out->kg_co2e_now = e.kg_co2e;
    }
    /* First slot boundary at or after now. */
    long s0 = wp_intensity_slot(ci, o->now_us);
    if (s0 < 0 && o->now_us < ci->t_us[0])
        s0 = 0;
    else if (s0 >= 0 && ci->t_us[s0] < o->now_us)
        s0++;
    size_t nslots = ci->n;
    if (s0 < 0) {
        free(chunk);
        return 0; /* now lies after the series: nothing to choose from */
    }
    for (size_t s = (size_t)s0; s + nch <= nslots; s++) {
        int64_t start = ci->t_us[s];
        if (start + job_us > o->deadline_us)
            break;
        out->candidates++;
        double kg = 0;
        bool blank = false;
        for (size_t k = 0; k < nch && !blank; k++) {
            double g = ci->g_per_kwh[s + k];
            if (isnan(g) && chunk[k] > 0)
                blank = true;
            else if (chunk[k] > 0)
                kg += kg_of(chunk[k], o->pue, g);
        }
        if (blank) {
            out->skipped_blank++;
            continue;
        }
        if (!out->found || kg < out->kg_co2e_best) {
            out->found = true;
            out->best_start_us = start;
            out->kg_co2e_best = kg;
        }
    }
    if (o->restart_kwh >= 0 && nch > 0) {
        /* Slots usable for the split: from s0 to the last that ends by the deadline. */
        size_t last = (size_t)s0;
        while (last < nslots && ci->t_us[last] + slot_us <= o->deadline_us)
            last++;
        size_t S = last > (size_t)s0 ? last - (size_t)s0 : 0;
        if (S >= nch) {
            /* f[k][s]: least kg with chunks 0..k placed and chunk k in slot s. A resume (chunk k
             * not right after chunk k-1) adds the restart energy at slot s's intensity. */
            double *f = malloc(sizeof(double) * nch * S);
            long *from = malloc(sizeof(long) * nch * S);
            out->chunk_start_us = malloc(sizeof(int64_t) * nch);
            if (!f || !from || !out->chunk_start_us) {
                free(f);
                free(from);
                free(chunk);
                return wp_errf(err, -ENOMEM, "out of memory planning %zu slots", S);
            }
            double restart_j = o->restart_kwh * 3.6e6;
            for (size_t k = 0; k < nch; k++) {
                double best_prev = INFINITY; /* min f[k-1][s'] for s' < s-1 */
                long best_prev_at = -1;
                for (size_t s = 0; s < S; s++) {
                    double g = ci->g_per_kwh[(size_t)s0 + s];
                    double here = isnan(g) ? INFINITY : kg_of(chunk[k], o->pue, g);
                    double v = INFINITY;
                    long fr = -1;
                    if (k == 0) {
                        v = here;
                    } else {
                        if (s >= 2 && f[(k - 1) * S + s - 2] < best_prev) {
                            best_prev = f[(k - 1) * S + s - 2];
                            best_prev_at = (long)s - 2;
                        }
                        double cont = s >= 1 ? f[(k - 1) * S + s - 1] : INFINITY;
                        double resume =
                            best_prev + (isnan(g) ? INFINITY : kg_of(restart_j, o->pue, g));
                        if (cont <= resume) {
                            v = cont + here;
                            fr = (long)s - 1;
                        } else {
                            v = resume + here;
                            fr = best_prev_at;
                        }
                    }
                    f[k * S + s] = v;
                    from[k * S + s] = fr;
                }
            }
            size_t bs = 0;
            for (size_t s = 1; s < S; s++)
                if (f[(nch - 1) * S + s] < f[(nch - 1) * S + bs])
                    bs = s;
            if (isfinite(f[(nch - 1) * S + bs])) {
                out->split_found = true;
                out->kg_co2e_split = f[(nch - 1) * S + bs];
                out->nchunks = nch;
                long s = (long)bs;
                for (size_t k = nch; k-- > 0;) {
                    out->chunk_start_us[k] = ci->t_us[(size_t)s0 + (size_t)s];
                    s = from[k * S + (size_t)s];
                }
                for (size_t k = 1; k < nch; k++)
                    if (out->chunk_start_us[k] != out->chunk_start_us[k - 1] + slot_us)
                        out->pauses++;
            }
            free(f);
            free(from);
        }
    }
    free(chunk);
    return 0;
}
