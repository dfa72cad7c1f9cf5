/* Vendor tables for the SNMP PDU source. The OIDs come from the vendors' MIBs (PowerNet-MIB
 * rPDU2, Raritan PDU2-MIB, Server Technology Sentry4-MIB, EATON-EPDU-MIB); the units are the
 * ones their DESCRIPTION or UNITS clauses give. Readings stay raw: the unit and the scale
 * travel with the sensor row, as for every other source. */
#include "sources/snmp_profile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

#define APC     ".1.3.6.1.4.1.318.1.1.26"
#define RARITAN ".1.3.6.1.4.1.13742.6"
#define ST4     ".1.3.6.1.4.1.1718.4.1"
#define EATON   ".1.3.6.1.4.1.534.6.6.7"

/* APC: rPDU2DeviceStatusTable (rPDU2Device 3), rPDU2PhaseStatusTable (rPDU2Phase 3) and
 * rPDU2OutletMeteredStatusTable (rPDU2OutletMetered 3), each indexed by one integer. Every
 * INTEGER here answers -1 on models without the feature. Phases carry no device in their
 * index, so they are read only when the agent has one device (parent 0). */
static const struct wp_snmp_column apc_cols[] = {
    {WP_SNMP_INLET, WP_Q_POWER, "rPDU2DeviceStatusPower", APC ".4.3.1.5", 1, 0, "0.01 kW", NULL, 0,
     true, "device"},
    {WP_SNMP_INLET, WP_Q_ENERGY, "rPDU2DeviceStatusEnergy", APC ".4.3.1.9", 1, 0, "0.1 kWh", NULL,
     0, true, "device"},
    {WP_SNMP_PHASE, WP_Q_POWER, "rPDU2PhaseStatusPower", APC ".6.3.1.7", 1, 0, "0.01 kW", NULL, 0,
     true, "phase"},
    {WP_SNMP_OUTLET, WP_Q_POWER, "rPDU2OutletMeteredStatusPower", APC ".9.4.3.1.7", 1, 0, "W", NULL,
     0, true, "outlet"},
    {WP_SNMP_OUTLET, WP_Q_ENERGY, "rPDU2OutletMeteredStatusEnergy", APC ".9.4.3.1.11", 1, 0,
     "0.1 kWh", NULL, 0, true, "outlet"},
};

/* Raritan PX2/PX3: one value column per table, rows indexed {pduId, inletId|outletId,
 * sensorType} (activePower 5 in W, activeEnergy 8 in Wh), each scaled by 10^-digits from the
 * matching *SensorDecimalDigits row. Values are Unsigned32 and wrap at 2^32 (the MIB says
 * so). */
static const struct wp_snmp_column raritan_cols[] = {
    {WP_SNMP_INLET, WP_Q_POWER, "measurementsInletSensorValue", RARITAN ".5.2.3.1.4", 2, 5, "W",
     RARITAN ".3.3.4.1.7", 0, false, "inlet"},
    {WP_SNMP_INLET, WP_Q_ENERGY, "measurementsInletSensorValue", RARITAN ".5.2.3.1.4", 2, 8, "Wh",
     RARITAN ".3.3.4.1.7", 0, false, "inlet"},
    {WP_SNMP_OUTLET, WP_Q_POWER, "measurementsOutletSensorValue", RARITAN ".5.4.3.1.4", 2, 5, "W",
     RARITAN ".3.5.4.1.7", 0, false, "outlet"},
    {WP_SNMP_OUTLET, WP_Q_ENERGY, "measurementsOutletSensorValue", RARITAN ".5.4.3.1.4", 2, 8, "Wh",
     RARITAN ".3.5.4.1.7", 0, false, "outlet"},
};

/* Server Technology Sentry4: st4InputCordMonitorTable {unit, cord}, st4PhaseMonitorTable
 * {unit, cord, phase}, st4OutletMonitorTable {unit, cord, outlet}. -1 means "not available";
 * outlet energy is in Wh, cord and phase energy in tenths of kWh. */
static const struct wp_snmp_column servertech_cols[] = {
    {WP_SNMP_INLET, WP_Q_POWER, "st4InputCordActivePower", ST4 ".3.3.1.3", 2, 0, "W", NULL, 0, true,
     "input cord"},
    {WP_SNMP_INLET, WP_Q_ENERGY, "st4InputCordEnergy", ST4 ".3.3.1.10", 2, 0, "0.1 kWh", NULL, 0,
     true, "input cord"},
    {WP_SNMP_PHASE, WP_Q_POWER, "st4PhaseActivePower", ST4 ".5.3.1.8", 3, 0, "W", NULL, 2, true,
     "phase"},
    {WP_SNMP_PHASE, WP_Q_ENERGY, "st4PhaseEnergy", ST4 ".5.3.1.13", 3, 0, "0.1 kWh", NULL, 2, true,
     "phase"},
    {WP_SNMP_OUTLET, WP_Q_POWER, "st4OutletActivePower", ST4 ".8.3.1.7", 3, 0, "W", NULL, 0, true,
     "outlet"},
    {WP_SNMP_OUTLET, WP_Q_ENERGY, "st4OutletEnergy", ST4 ".8.3.1.14", 3, 0, "Wh", NULL, 0, true,
     "outlet"},
};

/* Eaton ePDU (G3/G4): inputTotalPowerTable {strapping, input} and outletPowerTable
 * {strapping, outlet}; watts are Integer32 with negatives for "not available", Wh Unsigned32.
 * The per-phase rows (inputPowerTable) mix phases with totals and are not read. */
static const struct wp_snmp_column eaton_cols[] = {
    {WP_SNMP_INLET, WP_Q_POWER, "inputTotalWatts", EATON ".3.5.1.4", 2, 0, "W", NULL, 0, true,
     "input"},
    {WP_SNMP_INLET, WP_Q_ENERGY, "inputTotalWh", EATON ".3.5.1.5", 2, 0, "Wh", NULL, 0, false,
     "input"},
    {WP_SNMP_OUTLET, WP_Q_POWER, "outletWatts", EATON ".6.5.1.3", 2, 0, "W", NULL, 0, true,
     "outlet"},
    {WP_SNMP_OUTLET, WP_Q_ENERGY, "outletWh", EATON ".6.5.1.4", 2, 0, "Wh", NULL, 0, false,
     "outlet"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
static const struct wp_snmp_profile profiles[] = {
    {"apc", "APC", "APC Rack PDU 2G (PowerNet-MIB rPDU2)", apc_cols, N(apc_cols)},
    {"raritan", "Raritan", "Raritan PX2/PX3 (PDU2-MIB)", raritan_cols, N(raritan_cols)},
    {"servertech", "ServerTech", "Server Technology PRO1/PRO2 (Sentry4-MIB)", servertech_cols,
     N(servertech_cols)},
    {"eaton", "Eaton", "Eaton ePDU G3/G4 (EATON-EPDU-MIB)", eaton_cols, N(eaton_cols)},
};

const struct wp_snmp_profile *wp_snmp_profile(const char *name)
{
    for (size_t i = 0; i < N(profiles); i++)
        if (strcmp(profiles[i].name, name) == 0)
            return &profiles[i];
    return NULL;
}

const char *wp_snmp_profile_names(void)
{
    return "apc, raritan, servertech, eaton";
}

int wp_snmp_oid_parse(const char *s, uint32_t *out, size_t cap, size_t *n)
{
    size_t k = 0;
    const char *p = s;
    if (*p == '.')
        p++;
    if (!*p)
        return -EINVAL;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (uint64_t)(*p++ - '0');
            if (v > UINT32_MAX)
                return -EINVAL;
        }
        if (k == cap)
            return -E2BIG;
        out[k++] = (uint32_t)v;
        if (*p == '.') {
            p++;
            if (!*p)
                return -EINVAL;
        } else if (*p) {
            return -EINVAL;
        }
    }
    if (k < 2)
        return -EINVAL; /* every OID has at least two sub-identifiers */
    *n = k;
    return 0;
}

static void join(const uint32_t *o, size_t n, const char *lead, char *buf, size_t len)
{
    size_t off = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%u", i ? "." : lead, (unsigned)o[i]);
}

void wp_snmp_oid_format(const uint32_t *o, size_t n, char *buf, size_t len)
{
    join(o, n, ".", buf, len);
}

void wp_snmp_index_format(const uint32_t *o, size_t n, char *buf, size_t len)
{
    join(o, n, "", buf, len);
}

int wp_snmp_unit_parse(const char *unit, enum wp_quantity *q, double *scale)
{
    const char *p = unit;
    while (*p == ' ')
        p++;
    double factor = 1.0;
    if ((*p >= '0' && *p <= '9') || *p == '.') {
        char *end;
        factor = strtod(p, &end);
        if (end == p || !(factor > 0) || !isfinite(factor))
            return -EINVAL;
        p = end;
        while (*p == ' ')
            p++;
    }
    double prefix = 1.0;
    if (p[0] && p[1]) { /* a one-letter prefix only before a unit, never alone ("m" is not mW) */
        switch (p[0]) {
        case 'm':
            prefix = 1e-3;
            p++;
            break;
        case 'k':
            prefix = 1e3;
            p++;
            break;
        case 'M':
            prefix = 1e6;
            p++;
            break;
        default:
            break;
        }
    }
    if (strcmp(p, "W") == 0) {
        *q = WP_Q_POWER;
        *scale = factor * prefix * 1e3; /* mW */
    } else if (strcmp(p, "Wh") == 0) {
        *q = WP_Q_ENERGY;
        *scale = factor * prefix * 3.6e6; /* mJ */
    } else if (strcmp(p, "J") == 0) {
        *q = WP_Q_ENERGY;
        *scale = factor * prefix * 1e3;
    } else {
        return -EINVAL;
    }
    return 0;
}

int wp_snmp_unit_digits(const char *unit, unsigned digits, char *buf, size_t len)
{
    if (digits > 6)
        return -ERANGE;
    if (digits == 0) {
        snprintf(buf, len, "%s", unit);
        return 0;
    }
    snprintf(buf, len, "0.%0*u %s", (int)digits, 1u, unit);
    return 0;
}

int64_t wp_snmp_wrap_at(enum wp_snmp_type t)
{
    switch (t) {
    case WP_SNMP_T_INTEGER:
        return INT64_C(1) << 31;
    case WP_SNMP_T_UNSIGNED32:
        return INT64_C(1) << 32;
    default:
        return 0;
    }
}

static int parse_u32(const char **pp, uint32_t *v)
{
    const char *p = *pp;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    uint64_t x = 0;
    while (*p >= '0' && *p <= '9') {
        x = x * 10 + (uint64_t)(*p++ - '0');
        if (x > UINT32_MAX)
            return -EINVAL;
    }
    *v = (uint32_t)x;
    *pp = p;
    return 0;
}

int wp_snmp_outlets_parse(const char *s, struct wp_snmp_sel **out, size_t *n, char *why,
                          size_t whylen)
{
    struct wp_snmp_sel *v = NULL;
    size_t nv = 0, cap = 0;
    const char *p = s;
    *out = NULL;
    *n = 0;
    while (*p) {
        while (*p == ' ')
            p++;
        struct wp_snmp_sel sel = {0};
        const char *start = p;
        if (parse_u32(&p, &sel.idx[0]) < 0)
            goto bad;
        sel.n = 1;
        sel.hi = sel.idx[0];
        if (*p == '-') {
            p++;
            if (parse_u32(&p, &sel.hi) < 0 || sel.hi < sel.idx[0])
                goto bad;
        } else {
            while (*p == '.') {
                p++;
                if (sel.n == WP_SNMP_INDEX_MAX || parse_u32(&p, &sel.idx[sel.n]) < 0)
                    goto bad;
                sel.n++;
            }
        }
        while (*p == ' ')
            p++;
        if (*p && *p != ',')
            goto bad;
        if (*p == ',')
            p++;
        if (WP_GROW(&v, &cap, nv + 1) < 0) {
            free(v);
            snprintf(why, whylen, "out of memory");
            return -ENOMEM;
        }
        v[nv++] = sel;
        continue;
    bad:
        snprintf(why, whylen,
                 "'%.*s' is not an outlet: write numbers, ranges or row indexes, e.g. "
                 "outlets=3,4 or outlets=1-4 or outlets=1.1.3",
                 (int)strcspn(start, ","), start);
        free(v);
        return -EINVAL;
    }
    if (nv == 0) {
        snprintf(why, whylen, "outlets= is empty: name the outlets that feed this node");
        return -EINVAL;
    }
    *out = v;
    *n = nv;
    return 0;
}

bool wp_snmp_sel_match(const struct wp_snmp_sel *sel, const uint32_t *index, size_t n)
{
    if (n == 0)
        return false;
    if (sel->n == 1)
        return index[n - 1] >= sel->idx[0] && index[n - 1] <= sel->hi;
    if ((size_t)sel->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (sel->idx[i] != index[i])
            return false;
    return true;
}
