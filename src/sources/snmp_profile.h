/* The pure half of the SNMP PDU source (snmp.c): what each vendor's MIB calls device, inlet,
 * phase and outlet power and energy, with the raw unit each is served in, and the parsers for
 * the source's options (numeric OIDs, units, outlet lists). Nothing here talks to the network,
 * so the tables and the scaling are unit-tested on their own (tests/unit/test_snmp_profile.c). */
#ifndef WP_SNMP_PROFILE_H
#define WP_SNMP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sensor.h"

#define WP_SNMP_OID_MAX   64 /* sub-identifiers in an OID we handle (net-snmp allows 128) */
#define WP_SNMP_INDEX_MAX 4  /* index components of a table row we handle */

/* What a column measures. An inlet is what the vendor calls the device, the inlet, the input
 * cord or the input: the power entering the PDU (or one of its cords). */
enum wp_snmp_role { WP_SNMP_INLET, WP_SNMP_PHASE, WP_SNMP_OUTLET };

/* One MIB column that holds a power or energy reading per table row. */
struct wp_snmp_column {
    enum wp_snmp_role role;
    enum wp_quantity quantity;
    const char *mib_name; /* "rPDU2DeviceStatusPower", for help text and missing notes */
    const char *oid;      /* the column; its rows are the instances below it */
    int nindex;           /* index components of a row (without `type`) */
    int type;             /* > 0: rows end in this sensor type (Raritan), which is dropped */
    const char *unit;     /* the raw unit as served (before decimal digits): "0.01 kW" */
    const char *digits;   /* NULL, or the column of decimal digits for the same row (Raritan) */
    int parent;           /* phases: leading index components that name their inlet */
    bool negative_absent; /* a negative value means "not available here", never a reading */
    const char *label;    /* "device", "inlet", "input cord", "phase", "outlet" */
};

struct wp_snmp_profile {
    const char *name;   /* "apc" */
    const char *vendor; /* "APC", for device names */
    const char *help;   /* "APC Rack PDU 2G (PowerNet-MIB rPDU2)" */
    const struct wp_snmp_column *cols;
    size_t ncols;
};

/* The profile called name, or NULL. `generic` is not in the table (it has no columns). */
const struct wp_snmp_profile *wp_snmp_profile(const char *name);
/* "apc, raritan, servertech, eaton" for messages. */
const char *wp_snmp_profile_names(void);

/* A numeric OID ("1.3.6.1.4.1.318.1.1.26.4.3.1.5" with or without the leading dot) into
 * sub-identifiers. -EINVAL for anything else (names need MIB files, which we do not load),
 * -E2BIG for more than cap. */
int wp_snmp_oid_parse(const char *s, uint32_t *out, size_t cap, size_t *n);
/* ".1.3.6..." */
void wp_snmp_oid_format(const uint32_t *o, size_t n, char *buf, size_t len);
/* "1.1.3" (a row index). */
void wp_snmp_index_format(const uint32_t *o, size_t n, char *buf, size_t len);

/* A raw unit ("W", "0.01 kW", "0.1 kWh", "Wh", "mW", "J") into its quantity and the scale to
 * the canonical unit (mW per raw unit for power, mJ for energy). -EINVAL for anything else. */
int wp_snmp_unit_parse(const char *unit, enum wp_quantity *q, double *scale);
/* The unit of a reading served with `digits` decimal digits: "W" with 1 digit is "0.1 W",
 * "Wh" with 3 is "0.001 Wh". -ERANGE beyond 6 digits (no PDU meters that finely). */
int wp_snmp_unit_digits(const char *unit, unsigned digits, char *buf, size_t len);

/* What a served value's SNMP type says about where a counter wraps (raw): Integer32 at 2^31,
 * Gauge32/Counter32/Unsigned32 at 2^32, Counter64 never (0). */
enum wp_snmp_type { WP_SNMP_T_INTEGER, WP_SNMP_T_UNSIGNED32, WP_SNMP_T_COUNTER64 };
int64_t wp_snmp_wrap_at(enum wp_snmp_type t);

/* outlets=: "3", "1-4", "1.1.3" (a full row index, for PDUs whose outlet rows carry a unit
 * and a cord), several joined by commas. */
struct wp_snmp_sel {
    uint32_t idx[WP_SNMP_INDEX_MAX];
    int n;          /* 1: matches a row whose last component is in [idx[0], hi]; else exact */
    uint32_t hi;    /* for n == 1 */
    unsigned found; /* rows it matched (filled by the caller) */
};
/* -EINVAL with why filled for a bad list. *out is malloc'd. */
int wp_snmp_outlets_parse(const char *s, struct wp_snmp_sel **out, size_t *n, char *why,
                          size_t whylen);
/* Whether row index (n components) is selected by sel. */
bool wp_snmp_sel_match(const struct wp_snmp_sel *sel, const uint32_t *index, size_t n);

#endif
