/* CPU package, core, uncore, DRAM and platform (psys) energy from RAPL, on Intel and AMD.
 *
 * Two ways in, chosen at open (key via=):
 * - powercap sysfs: <root>/sys/class/powercap/intel-rapl:N[:M]/energy_uj, microjoules as a
 *   counter that wraps at max_energy_range_uj. A read is three cheap syscalls, so every zone
 *   is read each `interval` (100 ms by default). AMD Zen exposes its RAPL through the same
 *   "intel-rapl" control type (package-N with a core subzone, no DRAM).
 * - the perf "power" PMU (<root>/sys/bus/event_source/devices/power): since Linux 5.10
 *   energy_uj is readable only by root (CVE-2020-8694, a power side channel), but perf may be
 *   allowed (CAP_PERFMON, perf_event_paranoid <= 0); and some kernels have the PMU without
 *   powercap. One event per domain per CPU in the PMU's cpumask (one CPU per package).
 * Values are stored raw: energy_uj as read, or the perf event's 64-bit count.
 *
 * root= (or $WATTPROF_SYSFS_ROOT) moves where both are looked up, so tests can use fixture
 * trees. It cannot move the kernel that perf_event_open talks to: a test of the perf path
 * points root= at a copy of the real PMU's description. */
#include "sources/source.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/grow.h"
#include "sources/sysfs.h"

#define INTERVAL_DEFAULT_US 100000
#define INTERVAL_MIN_US     10000
#define INTERVAL_MAX_US     60000000
/* A RAPL counter that does not move for this long is not counting: under load or idle a real
 * package or DRAM domain moves by many energy units (15-61 uJ) every millisecond. Seen in VMs
 * that expose the PMU but not the MSRs behind it (this test machine's energy-psys reads 0). */
#define STUCK_US 10000000
#define MAX_CPUS 4096

enum dom { D_PKG, D_CORE, D_UNCORE, D_DRAM, D_PSYS, D_COUNT };

/* One row per RAPL domain: its powercap zone name, its perf event, and what is recorded. */
static const struct dom_row {
    const char *zone;  /* powercap zone name ("package" is followed by "-N") */
    const char *event; /* perf power PMU event */
    const char *sensor;
    enum wp_scope scope;
    const char *what;
} doms[D_COUNT] = {
    [D_PKG] = {"package", "energy-pkg", "energy_pkg", WP_SCOPE_CPU_PACKAGE, "CPU package"},
    [D_CORE] = {"core", "energy-cores", "energy_core", WP_SCOPE_CPU_CORE, "CPU cores (PP0)"},
    /* PP1: the integrated GPU on client parts; perf calls it energy-gpu. */
    [D_UNCORE] = {"uncore", "energy-gpu", "energy_uncore", WP_SCOPE_OTHER, "uncore/iGPU (PP1)"},
    [D_DRAM] = {"dram", "energy-ram", "energy_dram", WP_SCOPE_DRAM, "DRAM"},
    [D_PSYS] = {"psys", "energy-psys", "energy_psys", WP_SCOPE_PSYS, "platform (psys)"},
};

enum via { VIA_AUTO, VIA_SYSFS, VIA_PERF };

struct zone {
    enum dom dom;
    int device;          /* package index; -1 for psys and other platform-wide domains */
    int die;             /* -1 unless the package is split into dies with zones of their own */
    bool mmio;           /* intel-rapl-mmio:*, the same package domain read another way */
    char where[48];      /* "intel-rapl:0:1" or "energy-ram on cpu 0", for messages */
    char dev_name[32];   /* "package-0", "psys" */
    char path[PATH_MAX]; /* sysfs: the energy_uj file */
    int fd;              /* perf: the event, -1 for sysfs */
    int64_t max_uj;      /* sysfs: max_energy_range_uj */
    double scale;        /* canonical mJ per raw unit */
    int sensor;
    bool lost, warned_bad, warned_stuck, have_last;
    int64_t last, last_change_us;
};

struct note {
    char what[64];
    char why[200];
};

struct rapl {
    char name[32]; /* the instance, for missing.* keys */
    char root[PATH_MAX];
    enum via via;
    bool perf;
    int64_t interval_us, next_us;
    struct zone *z;
    size_t n, cap;
    struct note *notes;
    size_t nnotes, capnotes;
};

static void add_note(struct rapl *r, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_note(struct rapl *r, const char *what, const char *fmt, ...)
{
    if (WP_GROW(&r->notes, &r->capnotes, r->nnotes + 1) < 0)
        return; /* a lost note costs an explanation, not a reading */
    struct note *n = &r->notes[r->nnotes++];
    snprintf(n->what, sizeof(n->what), "%s", what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->why, sizeof(n->why), fmt, ap);
    va_end(ap);
}

/* snprintf for paths and labels: false when the result did not fit (a path that long is
 * not one we can open, and a truncated label is still a label). */
static bool fmt_fits(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fmt_fits(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return k >= 0 && (size_t)k < len;
}

/* A non-negative decimal integer and at most one trailing newline, nothing else: a file that
 * is empty, half written or holds an error string is not a reading. */
static bool parse_count(const char *s, int64_t *out)
{
    int64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (*p == '\n')
        p++;
    if (*p)
        return false;
    *out = v;
    return true;
}

/* The file's content made safe to quote in one line of a message. */
static void quote(const char *s, char *out, size_t len)
{
    size_t k = 0;
    for (; *s && !(s[0] == '\n' && s[1] == 0) && k + 1 < len && k < 24; s++)
        out[k++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[k] = 0;
}

static int read_str(const char *dir, const char *file, char *buf, size_t len)
{
    char path[PATH_MAX];
    if (!fmt_fits(path, sizeof(path), "%s/%s", dir, file))
        return -ENAMETOOLONG;
    int rc = wp_sysfs_read(path, buf, len);
    if (rc < 0)
        return rc;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static int read_count(const char *dir, const char *file, int64_t *v)
{
    char buf[32];
    int rc = read_str(dir, file, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    return parse_count(buf, v) ? 0 : -EBADMSG;
}

/* "package-0" -> D_PKG, package 0; "package-1-die-0" (multi-die parts since Linux 5.3) ->
 * package 1, die 0; "dram" etc. Returns false for a name this source does not know. */
static bool parse_zone_name(const char *name, enum dom *d, int *pkg, int *die)
{
    int p, dd, used = 0;
    *die = -1;
    if (sscanf(name, "package-%d%n", &p, &used) == 1 && name[used] == 0) {
        *d = D_PKG, *pkg = p;
        return true;
    }
    if (sscanf(name, "package-%d-die-%d%n", &p, &dd, &used) == 2 && name[used] == 0) {
        *d = D_PKG, *pkg = p, *die = dd;
        return true;
    }
    for (int i = D_CORE; i < D_COUNT; i++)
        if (strcmp(name, doms[i].zone) == 0) {
            *d = (enum dom)i, *pkg = -1;
            return true;
        }
    return false;
}

/* "intel-rapl:0:1" -> prefix "intel-rapl", top 0, sub 1 (-1 for a top-level zone). */
static bool parse_zone_dir(const char *d, bool *mmio, int *top, int *sub)
{
    int used = 0;
    const char *rest;
    if (strncmp(d, "intel-rapl:", 11) == 0) {
        *mmio = false, rest = d + 11;
    } else if (strncmp(d, "intel-rapl-mmio:", 16) == 0) {
        *mmio = true, rest = d + 16;
    } else {
        return false; /* the bare control type "intel-rapl", other control types */
    }
    *sub = -1;
    if (sscanf(rest, "%d%n", top, &used) != 1 || *top < 0)
        return false;
    if (rest[used] == 0)
        return true;
    int used2 = 0;
    return sscanf(rest + used, ":%d%n", sub, &used2) == 1 && *sub >= 0 && rest[used + used2] == 0;
}

static int zone_cmp(const void *a, const void *b)
{
    const struct zone *x = a, *y = b;
    /* Packages in order, their domains in table order, platform-wide domains last. */
    unsigned dx = (unsigned)x->device, dy = (unsigned)y->device;
    if (dx != dy)
        return dx < dy ? -1 : 1;
    if (x->die != y->die)
        return x->die < y->die ? -1 : 1;
    return (int)x->dom - (int)y->dom;
}

static void zone_names(struct zone *z)
{
    if (z->device < 0)
        snprintf(z->dev_name, sizeof(z->dev_name), "%s", doms[z->dom].zone);
    else if (z->die >= 0)
        fmt_fits(z->dev_name, sizeof(z->dev_name), "package-%d-die-%d", z->device, z->die);
    else
        snprintf(z->dev_name, sizeof(z->dev_name), "package-%d", z->device);
}

struct scan {
    int found;  /* zones this source knows */
    int denied; /* of those, energy_uj EACCES/EPERM */
    int broken; /* unreadable for another reason (noted) */
};

/* Finds the powercap zones and reads each energy_uj once, keeping the readable ones. */
static int scan_sysfs(struct rapl *r, struct scan *sc)
{
    char base[PATH_MAX];
    if (!fmt_fits(base, sizeof(base), "%s/sys/class/powercap", r->root))
        return -ENAMETOOLONG;
    DIR *dir = opendir(base);
    if (!dir)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    struct dirent *de;
    while ((de = readdir(dir))) {
        bool mmio;
        int top, sub;
        if (!parse_zone_dir(de->d_name, &mmio, &top, &sub))
            continue;
        char zdir[PATH_MAX], name[64], pname[64];
        if (!fmt_fits(zdir, sizeof(zdir), "%s/%s", base, de->d_name))
            continue;
        if (read_str(zdir, "name", name, sizeof(name)) < 0)
            continue; /* not a zone (or a half-removed one) */
        enum dom d;
        int pkg, die;
        if (!parse_zone_name(name, &d, &pkg, &die)) {
            add_note(r, de->d_name, "RAPL domain '%s' is not one wattprof knows; not recorded",
                     name);
            continue;
        }
        /* A subzone (core, uncore, dram) belongs to its parent's package. */
        if (sub >= 0 && d != D_PKG && d != D_PSYS) {
            char pdir[PATH_MAX];
            enum dom pd;
            int pp, pdie;
            if (fmt_fits(pdir, sizeof(pdir), "%s/%s:%d", base,
                         mmio ? "intel-rapl-mmio" : "intel-rapl", top) &&
                read_str(pdir, "name", pname, sizeof(pname)) == 0 &&
                parse_zone_name(pname, &pd, &pp, &pdie) && pd == D_PKG)
                pkg = pp, die = pdie;
        }
        struct zone z = {.dom = d,
                         .device = pkg,
                         .die = die,
                         .mmio = mmio,
                         .fd = -1,
                         .sensor = -1,
                         .scale = 0.001};
        fmt_fits(z.where, sizeof(z.where), "%s", de->d_name);
        if (!fmt_fits(z.path, sizeof(z.path), "%s/energy_uj", zdir))
            continue;
        zone_names(&z);
        if (WP_GROW(&r->z, &r->cap, r->n + 1) < 0) {
            closedir(dir);
            return -ENOMEM;
        }
        r->z[r->n++] = z;
    }
    closedir(dir);

    /* intel-rapl-mmio:N is the package domain of intel-rapl:N read through MMIO on recent
     * Intel client parts: the same energy twice. It is used only where the MSR zone for the
     * same domain is absent. */
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < r->n && r->z[i].mmio && !dup; j++)
            dup = !r->z[j].mmio && r->z[j].dom == r->z[i].dom && r->z[j].device == r->z[i].device &&
                  r->z[j].die == r->z[i].die;
        if (!dup)
            r->z[k++] = r->z[i];
    }
    r->n = k;

    k = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct zone *z = &r->z[i];
        char zdir[PATH_MAX], buf[64], q[32];
        snprintf(zdir, sizeof(zdir), "%s", z->path);
        *strrchr(zdir, '/') = 0;
        sc->found++;
        int rc = read_count(zdir, "max_energy_range_uj", &z->max_uj);
        if (rc < 0 || z->max_uj <= 0 || z->max_uj == INT64_MAX) {
            sc->broken++;
            add_note(r, z->where, "max_energy_range_uj is %s; the counter's wrap is unknown",
                     rc < 0 ? strerror(-rc) : "not a positive number");
            continue;
        }
        rc = wp_sysfs_read(z->path, buf, sizeof(buf));
        int64_t v;
        if (rc == -EACCES || rc == -EPERM) {
            sc->denied++;
            continue;
        }
        if (rc < 0) {
            sc->broken++;
            add_note(r, z->where, "reading energy_uj fails: %s", strerror(-rc));
            continue;
        }
        if (!parse_count(buf, &v)) {
            sc->broken++;
            quote(buf, q, sizeof(q));
            add_note(r, z->where, "energy_uj holds '%s', not a count", q);
            continue;
        }
        r->z[k++] = *z;
    }
    r->n = k;
    return 0;
}

static int parse_cpulist(const char *s, int *cpus, int max)
{
    int n = 0;
    while (*s && *s != '\n') {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s || a < 0)
            return -EBADMSG;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1 || b < a)
                return -EBADMSG;
            s = end;
        }
        for (long c = a; c <= b && n < max; c++)
            cpus[n++] = (int)c;
        if (*s == ',')
            s++;
        else if (*s && *s != '\n')
            return -EBADMSG;
    }
    return n;
}

/* An event's "event=0x02" under a format "config:0-7" (the only terms the power PMU uses). */
static int event_config(const char *pmu, const char *ev, uint64_t *config)
{
    char buf[128], fmt[64], path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "events/%s", ev);
    int rc = read_str(pmu, path, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    unsigned lo = 0, hi = 63;
    if (read_str(pmu, "format/event", fmt, sizeof(fmt)) == 0 &&
        sscanf(fmt, "config:%u-%u", &lo, &hi) < 1)
        return -EBADMSG;
    if (lo > 63)
        return -EBADMSG;
    unsigned long long v;
    int used = 0;
    if (sscanf(buf, "event=%llx%n", &v, &used) != 1 || buf[used] != 0)
        return -EBADMSG;
    *config = (uint64_t)v << lo;
    return 0;
}

static int read_int_file(const char *path, int *out)
{
    char buf[32];
    int64_t v;
    if (wp_sysfs_read(path, buf, sizeof(buf)) < 0 || !parse_count(buf, &v) || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

struct perf_scan {
    bool pmu;       /* the PMU is described */
    int silent;     /* events that opened but counted nothing (dropped) */
    int denied_err; /* EACCES/EPERM from perf_event_open, 0 if none */
    int other_err;  /* another perf_event_open errno, 0 if none */
};

static int open_perf_event(uint32_t type, uint64_t config, int cpu)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.type = type;
    a.config = config;
    long fd = syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

/* Opens one event per domain per CPU of the power PMU's cpumask. */
static int scan_perf(struct rapl *r, struct perf_scan *ps)
{
    char pmu[PATH_MAX], path[PATH_MAX], buf[256];
    int type;
    if (!fmt_fits(pmu, sizeof(pmu), "%s/sys/bus/event_source/devices/power", r->root) ||
        !fmt_fits(path, sizeof(path), "%s/type", pmu) || read_int_file(path, &type) < 0)
        return 0;
    ps->pmu = true;
    int *cpus = calloc(3 * (size_t)MAX_CPUS, sizeof(*cpus));
    if (!cpus)
        return -ENOMEM;
    int *pkg = cpus + MAX_CPUS, *die = cpus + 2 * MAX_CPUS, rc = 0;
    int ncpus =
        read_str(pmu, "cpumask", buf, sizeof(buf)) == 0 ? parse_cpulist(buf, cpus, MAX_CPUS) : -1;
    if (ncpus <= 0) {
        add_note(r, "perf", "the power PMU's cpumask is missing or unreadable");
        goto out;
    }
    for (int i = 0; i < ncpus; i++) {
        if (!fmt_fits(path, sizeof(path),
                      "%s/sys/devices/system/cpu/cpu%d/topology/physical_package_id", r->root,
                      cpus[i]) ||
            read_int_file(path, &pkg[i]) < 0)
            pkg[i] = i; /* one cpumask entry per package is the PMU's rule */
        if (!fmt_fits(path, sizeof(path), "%s/sys/devices/system/cpu/cpu%d/topology/die_id",
                      r->root, cpus[i]) ||
            read_int_file(path, &die[i]) < 0)
            die[i] = 0;
    }
    for (int d = 0; d < D_COUNT; d++) {
        uint64_t config;
        rc = event_config(pmu, doms[d].event, &config);
        if (rc == -ENOENT)
            continue; /* this CPU has no such domain */
        char scale_name[64], unit[32];
        snprintf(scale_name, sizeof(scale_name), "events/%s.scale", doms[d].event);
        double scale_j = 0;
        if (rc == 0 && read_str(pmu, scale_name, buf, sizeof(buf)) == 0) {
            char *end;
            scale_j = strtod(buf, &end);
            if (end == buf || *end || !(scale_j > 0))
                scale_j = 0;
        }
        snprintf(scale_name, sizeof(scale_name), "events/%s.unit", doms[d].event);
        if (rc < 0 || scale_j == 0 ||
            (read_str(pmu, scale_name, unit, sizeof(unit)) == 0 && strcmp(unit, "Joules") != 0)) {
            add_note(r, doms[d].event, "the power PMU describes %s in a way wattprof cannot read",
                     doms[d].event);
            continue;
        }
        /* psys is one domain for the whole platform: reading it on every package's CPU would
         * count it once per package. */
        int ncpu_d = d == D_PSYS ? 1 : ncpus;
        for (int i = 0; i < ncpu_d; i++) {
            int fd = open_perf_event((uint32_t)type, config, cpus[i]);
            if (fd < 0) {
                if (fd == -EACCES || fd == -EPERM)
                    ps->denied_err = -fd;
                else if (!ps->other_err)
                    ps->other_err = -fd;
                if (fd != -EACCES && fd != -EPERM)
                    add_note(r, doms[d].event, "perf_event_open on cpu %d fails: %s", cpus[i],
                             strerror(-fd));
                continue;
            }
            bool split = false;
            for (int j = 0; j < ncpus; j++)
                split |= j != i && pkg[j] == pkg[i];
            struct zone z = {.dom = (enum dom)d,
                             .device = d == D_PSYS ? -1 : pkg[i],
                             .die = d != D_PSYS && split ? die[i] : -1,
                             .fd = fd,
                             .sensor = -1,
                             /* counts * J/count * 1000 mJ/J */
                             .scale = scale_j * 1000.0};
            snprintf(z.where, sizeof(z.where), "%s on cpu %d", doms[d].event, cpus[i]);
            zone_names(&z);
            if (WP_GROW(&r->z, &r->cap, r->n + 1) < 0) {
                close(fd);
                rc = -ENOMEM;
                goto out;
            }
            r->z[r->n++] = z;
        }
    }
    rc = 0;
out:
    free(cpus);
    return rc;
}

/* Virtual machines can describe the power PMU and let its events open while the counters never
 * run (seen on this project's Debian 12 VMs, 2026-12-03: energy-psys stays at 0). A counter
 * that counts nothing over 30 ms is not a meter: on real hardware the package, cores and psys
 * always move that much. Such events are dropped with a note, so they never read as 0 W. */
#define PERF_SILENT_CHECK_US 30000
static void drop_silent_perf(struct rapl *r, struct perf_scan *ps)
{
    if (r->n == 0)
        return;
    struct timespec ts = {0, PERF_SILENT_CHECK_US * 1000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct zone *z = &r->z[i];
        uint64_t count = 0;
        if (read(z->fd, &count, sizeof(count)) == (ssize_t)sizeof(count) && count == 0) {
            add_note(r, z->where,
                     "perf power/%s counted nothing in %d ms: the PMU is described but its "
                     "counters do not run here (as in virtual machines); not recorded",
                     z->where, PERF_SILENT_CHECK_US / 1000);
            close(z->fd);
            ps->silent++;
            continue;
        }
        r->z[k++] = *z;
    }
    r->n = k;
}

static int paranoid_level(void)
{
    char buf[16];
    int64_t v;
    /* Signed in the kernel (-1 is "everything allowed"); only >= 0 parses here. */
    if (wp_sysfs_read("/proc/sys/kernel/perf_event_paranoid", buf, sizeof(buf)) < 0)
        return INT_MIN;
    if (buf[0] == '-')
        return -1;
    return parse_count(buf, &v) && v < 100 ? (int)v : INT_MIN;
}

static void paranoid_str(char *buf, size_t len)
{
    int par = paranoid_level();
    if (par == INT_MIN)
        snprintf(buf, len, "unknown");
    else
        snprintf(buf, len, "%d", par);
}

/* The message for "the counters exist but this user may not read them": why (the CVE), and
 * every way to fix it that applies here. */
static int denied_error(const struct rapl *r, const struct perf_scan *ps, struct wp_err *err)
{
    char perf[160], par[16];
    paranoid_str(par, sizeof(par));
    if (!ps->pmu)
        snprintf(perf, sizeof(perf), "there is no perf power PMU to fall back on");
    else if (ps->denied_err || !ps->other_err)
        snprintf(perf, sizeof(perf),
                 "the perf power PMU is not allowed either (kernel.perf_event_paranoid=%s)", par);
    else
        snprintf(perf, sizeof(perf), "the perf power PMU fails too (%s)", strerror(ps->other_err));
    return wp_errf(
        err, -EACCES,
        "RAPL energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694), and %s. Run "
        "as root, or grant read access: `sudo chmod o+r %s/sys/class/powercap/intel-rapl:*/"
        "energy_uj` (lost at reboot; a udev rule or a systemd-tmpfiles line makes it stick)%s",
        perf, r->root,
        ps->pmu ? ", or allow the perf PMU: `sudo sysctl kernel.perf_event_paranoid=0` or "
                  "CAP_PERFMON"
                : "");
}

static void rapl_free(struct rapl *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        if (r->z[i].fd >= 0)
            close(r->z[i].fd);
    free(r->z);
    free(r->notes);
    free(r);
}

static int rapl_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    struct rapl *r = calloc(1, sizeof(*r));
    if (!r)
        return wp_errf(err, -ENOMEM, "out of memory");
    int rc;
    snprintf(r->name, sizeof(r->name), "%s", cfg ? cfg->name : "rapl");
    if (cfg &&
        (rc = wp_source_cfg_duration_us(cfg, "interval", INTERVAL_DEFAULT_US, INTERVAL_MIN_US,
                                        INTERVAL_MAX_US, &r->interval_us, err)) < 0)
        goto fail;
    if (!cfg)
        r->interval_us = INTERVAL_DEFAULT_US;
    const char *via = cfg ? wp_source_cfg_get(cfg, "via") : NULL;
    if (!via || strcmp(via, "auto") == 0) {
        r->via = VIA_AUTO;
    } else if (strcmp(via, "sysfs") == 0) {
        r->via = VIA_SYSFS;
    } else if (strcmp(via, "perf") == 0) {
        r->via = VIA_PERF;
    } else {
        rc = wp_errf(err, -EINVAL,
                     "source %s: via=%s is not a way to read RAPL (write via=auto, "
                     "via=sysfs or via=perf)",
                     r->name, via);
        goto fail;
    }
    const char *root = cfg ? wp_source_cfg_get(cfg, "root") : NULL;
    bool root_given = root && *root;
    if (!root_given)
        root = getenv("WATTPROF_SYSFS_ROOT");
    if (root && *root) {
        struct stat st;
        if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
            rc = wp_errf(err, -EINVAL, "source %s: root %s%s is not a directory", r->name, root,
                         root_given ? "" : " (from WATTPROF_SYSFS_ROOT)");
            goto fail;
        }
        size_t len = strlen(root);
        while (len > 1 && root[len - 1] == '/')
            len--;
        if (len == 1 && root[0] == '/')
            len = 0; /* "/" is the real tree; paths are built as ROOT + "/sys/..." */
        if (len >= sizeof(r->root)) {
            rc = wp_errf(err, -EINVAL, "source %s: root is too long", r->name);
            goto fail;
        }
        memcpy(r->root, root, len);
        r->root[len] = 0;
    }

    struct scan sc = {0};
    struct perf_scan ps = {0};
    if (r->via != VIA_PERF && (rc = scan_sysfs(r, &sc)) < 0) {
        rc = wp_errf(err, rc, "cannot list %s/sys/class/powercap: %s", r->root, strerror(-rc));
        goto fail;
    }
    if (r->n == 0 && r->via != VIA_SYSFS) {
        if ((rc = scan_perf(r, &ps)) < 0) {
            rc = wp_errf(err, rc, "out of memory");
            goto fail;
        }
        drop_silent_perf(r, &ps);
        r->perf = r->n > 0;
    }
    if (r->n > 0) {
        if (sc.denied && r->perf)
            add_note(r, "sysfs",
                     "energy_uj is readable only by root (CVE-2020-8694); read through perf");
        else if (sc.denied)
            add_note(r, "sysfs", "%d zone(s) readable only by root (CVE-2020-8694)", sc.denied);
        qsort(r->z, r->n, sizeof(*r->z), zone_cmp);
        *state = r;
        return 0;
    }
    if (sc.denied) {
        rc = denied_error(r, &ps, err);
    } else if (ps.denied_err) {
        char par[16];
        paranoid_str(par, sizeof(par));
        rc = wp_errf(err, -EACCES,
                     "the perf power PMU is not allowed for this user "
                     "(kernel.perf_event_paranoid=%s) and there are no readable powercap RAPL "
                     "zones; run as root, or `sudo sysctl kernel.perf_event_paranoid=0`, or give "
                     "wattprof CAP_PERFMON",
                     par);
    } else if (ps.silent && !sc.found) {
        rc = wp_errf(err, -ENODEV,
                     "no RAPL counter runs on this machine: %s (no powercap zones either)",
                     r->notes[r->nnotes - 1].why);
    } else if (sc.found || ps.other_err || r->nnotes) {
        rc = wp_errf(err, -EIO, "RAPL is present but no counter can be read: %s: %s",
                     r->nnotes ? r->notes[0].what : "perf",
                     r->nnotes ? r->notes[0].why : strerror(ps.other_err));
    } else if (r->via == VIA_SYSFS) {
        rc = wp_errf(err, -ENODEV,
                     "no RAPL on this machine (no %s/sys/class/powercap/intel-rapl:*)", r->root);
    } else if (r->via == VIA_PERF) {
        rc = wp_errf(err, -ENODEV,
                     "no RAPL on this machine (no perf power PMU at "
                     "%s/sys/bus/event_source/devices/power)",
                     r->root);
    } else {
        rc = wp_errf(err, -ENODEV,
                     "no RAPL on this machine (no %s/sys/class/powercap/intel-rapl:*, no perf "
                     "power PMU)",
                     r->root);
    }
fail:
    rapl_free(r);
    return rc;
}

static int rapl_discover(void *state, struct wp_sensors *tab, struct wp_meta *meta,
                         struct wp_err *err)
{
    struct rapl *r = state;
    char key[160];
    size_t before = tab->n;
    for (size_t i = 0; i < r->n; i++) {
        struct zone *z = &r->z[i];
        const struct dom_row *d = &doms[z->dom];
        struct wp_sensor s;
        memset(&s, 0, sizeof(s));
        snprintf(s.source, sizeof(s.source), "%s", r->name);
        snprintf(s.source_kind, sizeof(s.source_kind), "rapl");
        s.device = z->device;
        snprintf(s.device_name, sizeof(s.device_name), "%s", z->dev_name);
        if (z->die >= 0)
            snprintf(s.name, sizeof(s.name), "%s_die%d", d->sensor, z->die);
        else
            snprintf(s.name, sizeof(s.name), "%s", d->sensor);
        s.quantity = WP_Q_ENERGY;
        s.kind = WP_COUNTER;
        s.cadence_us = r->interval_us;
        s.limit = s.default_limit = WP_NO_LIMIT;
        s.scope = d->scope;
        s.contains = wp_scope_default_contains(s.scope);
        s.scale = z->scale;
        if (z->fd >= 0) {
            /* The perf count is 64-bit and starts at 0 when the event opens: it does not
             * wrap within any recording. */
            snprintf(s.unit, sizeof(s.unit), "perf");
            s.wrap_at = 0;
            snprintf(s.help, sizeof(s.help), "%s energy, perf power/%s", d->what, z->where);
        } else {
            /* energy_uj runs over [0, max_energy_range_uj]: max is the largest value it
             * shows, so max + 1 is the smallest modulus that holds every reading. The
             * hardware counter is 32 bits of energy units (61 uJ on Intel servers, 15.3 uJ
             * on AMD and Intel DRAM) and max = (2^32 - 1) units, so its true modulus is one
             * unit more than max: a wrap is exact only to that unit (~61 uJ at most), which
             * powercap does not expose. */
            snprintf(s.unit, sizeof(s.unit), "uJ");
            s.wrap_at = z->max_uj + 1;
            snprintf(s.help, sizeof(s.help), "%s energy, powercap %s", d->what, z->where);
        }
        int id = wp_sensors_add(tab, &s);
        if (id < 0) {
            tab->n = before;
            return wp_errf(err, id, "out of memory");
        }
        z->sensor = id;
    }
    for (size_t i = 0; i < r->nnotes; i++) {
        snprintf(key, sizeof(key), "missing.%s.%s", r->name, r->notes[i].what);
        wp_meta_set(meta, key, r->notes[i].why);
    }
    snprintf(key, sizeof(key), "%s.via", r->name);
    wp_meta_set(meta, key, r->perf ? "perf" : "sysfs");
    return (int)(tab->n - before);
}

static void bad_reading(struct zone *z, struct wp_sink *sink, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bad_reading(struct zone *z, struct wp_sink *sink, const char *fmt, ...)
{
    if (z->warned_bad)
        return;
    z->warned_bad = true;
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    wp_sink_event(sink, wp_wall_us(), z->sensor, "rapl", z->device,
                  "RAPL %s: %s; the sample is dropped (later bad readings of it are dropped "
                  "without a message)",
                  z->where, why);
}

static void read_zone(struct zone *z, int64_t now_mono, struct wp_sink *sink)
{
    int64_t v;
    if (z->fd >= 0) {
        uint64_t count;
        ssize_t k;
        do
            k = read(z->fd, &count, sizeof(count));
        while (k < 0 && errno == EINTR);
        if (k != (ssize_t)sizeof(count)) {
            bad_reading(z, sink, "reading the perf event %s",
                        k < 0 ? strerror(errno) : "returned a short count");
            return;
        }
        if (count > INT64_MAX) {
            bad_reading(z, sink, "perf count %llu does not fit", (unsigned long long)count);
            return;
        }
        v = (int64_t)count;
    } else {
        char buf[64], q[32];
        int rc = wp_sysfs_read(z->path, buf, sizeof(buf));
        if (rc == -ENOENT || rc == -ENODEV) {
            z->lost = true;
            wp_sink_event(sink, wp_wall_us(), z->sensor, "rapl", z->device,
                          "RAPL zone %s disappeared (%s); its recording stops here", z->where,
                          strerror(-rc));
            return;
        }
        if (rc < 0) {
            bad_reading(z, sink, "reading energy_uj fails: %s", strerror(-rc));
            return;
        }
        if (!parse_count(buf, &v)) {
            quote(buf, q, sizeof(q));
            bad_reading(z, sink, "energy_uj held '%s', not a count", q);
            return;
        }
        if (v > z->max_uj) {
            bad_reading(z, sink, "energy_uj %lld is above max_energy_range_uj %lld", (long long)v,
                        (long long)z->max_uj);
            return;
        }
    }
    wp_sink_push(sink, z->sensor, wp_wall_us(), v);
    if (!z->have_last || v != z->last) {
        z->have_last = true;
        z->last = v;
        z->last_change_us = now_mono;
    } else if (!z->warned_stuck && now_mono - z->last_change_us >= STUCK_US) {
        z->warned_stuck = true;
        wp_sink_event(sink, wp_wall_us(), z->sensor, "rapl", z->device,
                      "RAPL %s has not moved in %lld s: the counter is not counting here (a VM "
                      "that does not pass RAPL through?); its energy reads as 0",
                      z->where, (long long)((now_mono - z->last_change_us) / 1000000));
    }
}

static int rapl_poll(void *state, int64_t now, unsigned flags, struct wp_sink *sink, int64_t *next,
                     struct wp_err *err)
{
    struct rapl *r = state;
    bool due = (flags & (WP_POLL_ALL | WP_POLL_COUNTERS | WP_POLL_FRESH)) || now >= r->next_us;
    size_t alive = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (due && !r->z[i].lost)
            read_zone(&r->z[i], now, sink);
        alive += !r->z[i].lost;
    }
    if (now >= r->next_us) {
        /* Keep to the grid so a late round does not drift the cadence (an extra read asked
         * for by a mark or the run's end does not move it either); after a stall, skip the
         * missed slots instead of reading in a burst. */
        r->next_us = wp_next_on_grid(r->next_us, now, r->interval_us);
    }
    *next = r->next_us;
    if (alive == 0)
        return wp_errf(err, -ENODEV, "every RAPL zone has disappeared");
    return 0;
}

static void rapl_close(void *state)
{
    rapl_free(state);
}

static const struct wp_source_key rapl_keys[] = {
    {"root", "DIR  look for /sys under DIR (default /, or $WATTPROF_SYSFS_ROOT)", 0},
    {"interval", "DURATION  how often every zone is read (default 100ms, 10ms to 60s)", 0},
    {"via",
     "auto|sysfs|perf  powercap energy_uj files, or the perf power PMU (auto: sysfs, and perf "
     "when energy_uj is root-only or absent)",
     0},
    {NULL, NULL, 0},
};

const struct wp_source_ops wp_source_rapl = {
    .name = "rapl",
    .help = "CPU package, core, uncore, DRAM and psys energy counters (Intel and AMD RAPL)",
    .keys = rapl_keys,
    .flags = WP_SOURCE_AUTO,
    .open = rapl_open,
    .discover = rapl_discover,
    .poll = rapl_poll,
    .close = rapl_close,
};
