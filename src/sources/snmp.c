/* Rack PDUs over SNMP (net-snmp): the power and energy of the PDU's inlets (device totals,
 * input cords), their phases, and the outlets that feed this node, read from the vendor MIB
 * columns in snmp_profile.c, or any numeric OID (profile=generic).
 *
 * Each instance has its own net-snmp session opened with the single-session API
 * (snmp_sess_*), so instances share no session state, and each polls on its own recorder
 * thread. A round sends every reading due in a few GET PDUs at once and waits for the answers
 * with select(), so the round costs one round trip, not one per OID. net-snmp as Debian builds
 * it is not reentrant (NETSNMP_REENTRANT unset): its request ids and USM user list are
 * process-wide. Every call into the library is therefore made under one mutex, but the waits
 * (select) are outside it: one PDU that does not answer never holds another's round.
 *
 * Which readings exist is learnt at open by walking each column (GETBULK): a PDU without
 * outlet metering simply has no outlet rows, and a reading the model does not support (APC,
 * ServerTech and Eaton answer -1) is noted as missing rather than polled. Raritan's decimal
 * digits per reading are read then too and become the raw unit ("0.1 W").
 *
 * SNMP carries no timestamp of when the PDU measured: a sample is stamped with the middle of
 * the request's round trip. PDUs average over their own period (about a second), which the
 * docs compare with the 20 ms GPU trace (docs/sources.md). */
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/dynlib.h"
#include "core/grow.h"
#include "sources/snmp_profile.h"
#include "sources/source.h"
#include "sources/sysfs.h"

/* PDU firmware refreshes its readings once a second or slower, so polling at 1 s follows every
 * change the PDU can show, at the BMC's cadence and the node view's 1 s peaks, for one small
 * GET a second: the load DCIM systems already put on a PDU's management controller. */
#define PERIOD_DEFAULT_US  1000000
#define PERIOD_MIN_US      100000
#define PERIOD_MAX_US      3600000000LL
#define TIMEOUT_DEFAULT_US 1000000
#define RETRIES_DEFAULT    1
/* Varbinds per GET: agents on PDUs answer tooBig beyond ~1400 bytes of response. */
#define CHUNK_DEFAULT 24
#define BULK_REPS     25
/* A decrease of an energy counter is a wrap only if the wrap means less than this since the
 * last reading; more is a reset (APC's and Eaton's meters can be reset by the operator). */
#define PLAUSIBLE_MW 1.0e9 /* 1 MW: no PDU delivers that */

enum { W_ABSENT = 1, W_GONE = 2, W_TYPE = 4, W_RESET = 8, W_NEGATIVE = 16, W_SILENT = 32 };

struct reading {
    oid o[WP_SNMP_OID_MAX];
    size_t olen;
    enum wp_snmp_role role;
    enum wp_quantity quantity;
    char mib_name[64]; /* the column's MIB name, or the OID (generic) */
    bool negative_absent;
    uint32_t index[WP_SNMP_INDEX_MAX];
    int nindex;
    int device;
    char device_name[96];
    char name[48];
    char unit[12];
    double scale;
    int64_t wrap_at;
    const struct wp_snmp_column *col;
    int id; /* in the sensor table, -1 until discovered */
    unsigned warned;
    bool have_last;
    int64_t last_raw, last_t_us;
};

struct note {
    char key[160];
    char value[400];
};

/* One request of a round and what came back. */
struct req {
    bool done, sec_error;
    netsnmp_pdu *resp;
    int64_t t_send_us, t_recv_us;
};

struct devkey {
    char key[64];
    int id;
    char name[96];
};

struct snmp_src {
    char inst[32];
    char peer[300];  /* "udp:HOST:PORT" for net-snmp */
    char shown[280]; /* "HOST:PORT" for messages */
    bool v3;
    const struct wp_snmp_profile *profile; /* NULL: generic */
    struct wp_snmp_column generic;
    char generic_unit[12];
    double generic_scale;
    const char *generic_oids;
    enum wp_scope generic_scope;
    bool generic_scope_set;
    bool shared;
    int64_t period_us, timeout_us;
    int retries;
    size_t chunk;
    void *sess;
    struct wp_snmp_sel *sel;
    size_t nsel;
    struct reading *v;
    size_t n, cap;
    struct note *notes;
    size_t nnotes, capnotes;
    struct devkey *devs;
    size_t ndevs, capdevs;
    int64_t next_us;
};

/* net-snmp (and the libcrypto under it) is loaded with dlopen when the first snmp source opens,
 * as NVML is: linked, it was mapped into every recorder (bench/perf/rss_split.sh). Only its
 * headers are needed at build time; the calls below go through this table, under the
 * library's own names. */
#define NETSNMP_LIB "libnetsnmp.so.40"
static struct {
    __typeof__(&generate_Ku) generate_Ku;
    __typeof__(&init_snmp) init_snmp;
    __typeof__(&netsnmp_ds_set_boolean) netsnmp_ds_set_boolean;
    __typeof__(&netsnmp_large_fd_set_cleanup) netsnmp_large_fd_set_cleanup;
    __typeof__(&netsnmp_large_fd_set_init) netsnmp_large_fd_set_init;
    __typeof__(&netsnmp_large_fd_set_select) netsnmp_large_fd_set_select;
    __typeof__(&netsnmp_register_loghandler) netsnmp_register_loghandler;
    __typeof__(&snmp_add_null_var) snmp_add_null_var;
    __typeof__(&snmp_api_errstring) snmp_api_errstring;
    __typeof__(&snmp_clone_pdu) snmp_clone_pdu;
    __typeof__(&snmp_error) snmp_error;
    __typeof__(&snmp_errstring) snmp_errstring;
    __typeof__(&snmp_free_pdu) snmp_free_pdu;
    __typeof__(&snmp_oid_compare) snmp_oid_compare;
    __typeof__(&snmp_pdu_create) snmp_pdu_create;
    __typeof__(&snmp_sess_async_send) snmp_sess_async_send;
    __typeof__(&snmp_sess_close) snmp_sess_close;
    __typeof__(&snmp_sess_init) snmp_sess_init;
    __typeof__(&snmp_sess_open) snmp_sess_open;
    __typeof__(&snmp_sess_read2) snmp_sess_read2;
    __typeof__(&snmp_sess_select_info2) snmp_sess_select_info2;
    __typeof__(&snmp_sess_timeout) snmp_sess_timeout;
    __typeof__(&snmpv3_get_report_type) snmpv3_get_report_type;
    oid *usmHMACMD5AuthProtocol;
    oid *usmHMACSHA1AuthProtocol;
    oid *usmHMAC128SHA224AuthProtocol;
    oid *usmHMAC192SHA256AuthProtocol;
    oid *usmHMAC256SHA384AuthProtocol;
    oid *usmHMAC384SHA512AuthProtocol;
    oid *usmDESPrivProtocol;
    oid *usmAESPrivProtocol;
    oid *usmAES192PrivProtocol;
    oid *usmAES256PrivProtocol;
} NS;
static bool ns_ok;
static char ns_load_err[256];

static bool ns_load(void)
{
    const struct wp_dl_sym syms[] = {
        {(void **)&NS.generate_Ku, "generate_Ku"},
        {(void **)&NS.init_snmp, "init_snmp"},
        {(void **)&NS.netsnmp_ds_set_boolean, "netsnmp_ds_set_boolean"},
        {(void **)&NS.netsnmp_large_fd_set_cleanup, "netsnmp_large_fd_set_cleanup"},
        {(void **)&NS.netsnmp_large_fd_set_init, "netsnmp_large_fd_set_init"},
        {(void **)&NS.netsnmp_large_fd_set_select, "netsnmp_large_fd_set_select"},
        {(void **)&NS.netsnmp_register_loghandler, "netsnmp_register_loghandler"},
        {(void **)&NS.snmp_add_null_var, "snmp_add_null_var"},
        {(void **)&NS.snmp_api_errstring, "snmp_api_errstring"},
        {(void **)&NS.snmp_clone_pdu, "snmp_clone_pdu"},
        {(void **)&NS.snmp_error, "snmp_error"},
        {(void **)&NS.snmp_errstring, "snmp_errstring"},
        {(void **)&NS.snmp_free_pdu, "snmp_free_pdu"},
        {(void **)&NS.snmp_oid_compare, "snmp_oid_compare"},
        {(void **)&NS.snmp_pdu_create, "snmp_pdu_create"},
        {(void **)&NS.snmp_sess_async_send, "snmp_sess_async_send"},
        {(void **)&NS.snmp_sess_close, "snmp_sess_close"},
        {(void **)&NS.snmp_sess_init, "snmp_sess_init"},
        {(void **)&NS.snmp_sess_open, "snmp_sess_open"},
        {(void **)&NS.snmp_sess_read2, "snmp_sess_read2"},
        {(void **)&NS.snmp_sess_select_info2, "snmp_sess_select_info2"},
        {(void **)&NS.snmp_sess_timeout, "snmp_sess_timeout"},
        {(void **)&NS.snmpv3_get_report_type, "snmpv3_get_report_type"},
        {(void **)&NS.usmHMACMD5AuthProtocol, "usmHMACMD5AuthProtocol"},
        {(void **)&NS.usmHMACSHA1AuthProtocol, "usmHMACSHA1AuthProtocol"},
        {(void **)&NS.usmHMAC128SHA224AuthProtocol, "usmHMAC128SHA224AuthProtocol"},
        {(void **)&NS.usmHMAC192SHA256AuthProtocol, "usmHMAC192SHA256AuthProtocol"},
        {(void **)&NS.usmHMAC256SHA384AuthProtocol, "usmHMAC256SHA384AuthProtocol"},
        {(void **)&NS.usmHMAC384SHA512AuthProtocol, "usmHMAC384SHA512AuthProtocol"},
        {(void **)&NS.usmDESPrivProtocol, "usmDESPrivProtocol"},
        {(void **)&NS.usmAESPrivProtocol, "usmAESPrivProtocol"},
        {(void **)&NS.usmAES192PrivProtocol, "usmAES192PrivProtocol"},
        {(void **)&NS.usmAES256PrivProtocol, "usmAES256PrivProtocol"},
    };
    if (!wp_dl_load(NETSNMP_LIB, syms, sizeof(syms) / sizeof(syms[0]), ns_load_err,
                    sizeof(ns_load_err)))
        return false;
    return true;
}

#define generate_Ku                  (NS.generate_Ku)
#define init_snmp                    (NS.init_snmp)
#define netsnmp_ds_set_boolean       (NS.netsnmp_ds_set_boolean)
#define netsnmp_large_fd_set_cleanup (NS.netsnmp_large_fd_set_cleanup)
#define netsnmp_large_fd_set_init    (NS.netsnmp_large_fd_set_init)
#define netsnmp_large_fd_set_select  (NS.netsnmp_large_fd_set_select)
#define netsnmp_register_loghandler  (NS.netsnmp_register_loghandler)
#define snmp_add_null_var            (NS.snmp_add_null_var)
#define snmp_api_errstring           (NS.snmp_api_errstring)
#define snmp_clone_pdu               (NS.snmp_clone_pdu)
#define snmp_error                   (NS.snmp_error)
#define snmp_errstring               (NS.snmp_errstring)
#define snmp_free_pdu                (NS.snmp_free_pdu)
#define snmp_oid_compare             (NS.snmp_oid_compare)
#define snmp_pdu_create              (NS.snmp_pdu_create)
#define snmp_sess_async_send         (NS.snmp_sess_async_send)
#define snmp_sess_close              (NS.snmp_sess_close)
#define snmp_sess_init               (NS.snmp_sess_init)
#define snmp_sess_open               (NS.snmp_sess_open)
#define snmp_sess_read2              (NS.snmp_sess_read2)
#define snmp_sess_select_info2       (NS.snmp_sess_select_info2)
#define snmp_sess_timeout            (NS.snmp_sess_timeout)
#define snmpv3_get_report_type       (NS.snmpv3_get_report_type)

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    /* Numeric OIDs only: no MIB files are read, and no user's or system's snmp.conf can change
     * what we send (a defVersion or defSecurityName there would silently apply). Nothing is
     * persisted to /var/lib/snmp either: an unprivileged recording must not fail for it. */
    if (!(ns_ok = ns_load()))
        return;
    setenv("MIBS", "", 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    /* The library would print its own complaints to stderr; ours say what to do instead. */
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_EMERG);
    init_snmp("wattprof");
}

static void add_note(struct snmp_src *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_note(struct snmp_src *s, const char *key, const char *fmt, ...)
{
    if (WP_GROW(&s->notes, &s->capnotes, s->nnotes + 1) < 0)
        return;
    struct note *n = &s->notes[s->nnotes++];
    snprintf(n->key, sizeof(n->key), "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(n->value, sizeof(n->value), fmt, ap);
    va_end(ap);
}

/* ---- one round trip: send PDUs, wait for every answer or timeout ---- */

static int on_response(int op, netsnmp_session *sess, int reqid, netsnmp_pdu *pdu, void *magic)
{
    (void)sess;
    (void)reqid;
    struct req *r = magic;
    if (op == NETSNMP_CALLBACK_OP_RESEND) {
        /* A retry going out: an answer now is to this copy, so the round trip starts here. */
        r->t_send_us = wp_wall_us();
        return 1;
    }
    if (op == NETSNMP_CALLBACK_OP_CONNECT)
        return 1;
    r->done = true;
    r->t_recv_us = wp_wall_us();
    if (op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE && pdu)
        r->resp = snmp_clone_pdu(pdu);
    else if (op == NETSNMP_CALLBACK_OP_SEC_ERROR)
        r->sec_error = true;
    return 1;
}

/* Sends pdus[0..n) (taking them) and returns once each has an answer or has timed out after
 * its retries; the library's own timers bound the wait. */
static void exchange(struct snmp_src *s, netsnmp_pdu **pdus, struct req *reqs, size_t n)
{
    pthread_mutex_lock(&lib_lock);
    for (size_t i = 0; i < n; i++) {
        memset(&reqs[i], 0, sizeof(reqs[i]));
        reqs[i].t_send_us = wp_wall_us();
        if (!snmp_sess_async_send(s->sess, pdus[i], on_response, &reqs[i])) {
            snmp_free_pdu(pdus[i]);
            reqs[i].done = true;
        }
    }
    pthread_mutex_unlock(&lib_lock);
    for (;;) {
        bool pending = false;
        for (size_t i = 0; i < n && !pending; i++)
            pending = !reqs[i].done;
        if (!pending)
            return;
        netsnmp_large_fd_set fds;
        netsnmp_large_fd_set_init(&fds, FD_SETSIZE);
        int nfds = 0, block = 1;
        struct timeval tv = {0, 0};
        pthread_mutex_lock(&lib_lock);
        snmp_sess_select_info2(s->sess, &nfds, &fds, &tv, &block);
        pthread_mutex_unlock(&lib_lock);
        if (block) {
            /* The library holds nothing open for us any more: what is left never will be
             * answered. */
            netsnmp_large_fd_set_cleanup(&fds);
            for (size_t i = 0; i < n; i++)
                reqs[i].done = true;
            return;
        }
        int rc = netsnmp_large_fd_set_select(nfds, &fds, NULL, NULL, &tv);
        int e = errno;
        pthread_mutex_lock(&lib_lock);
        if (rc > 0)
            snmp_sess_read2(s->sess, &fds);
        else if (rc == 0)
            snmp_sess_timeout(s->sess);
        pthread_mutex_unlock(&lib_lock);
        netsnmp_large_fd_set_cleanup(&fds);
        if (rc < 0 && e != EINTR) {
            pthread_mutex_lock(&lib_lock);
            snmp_sess_timeout(s->sess);
            pthread_mutex_unlock(&lib_lock);
        }
    }
}

static void free_reqs(struct req *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (reqs[i].resp) {
            snmp_free_pdu(reqs[i].resp);
            reqs[i].resp = NULL;
        }
}

/* Why a request got no usable answer, as the end of a sentence. */
static void why_failed(const struct snmp_src *s, const struct req *r, char *buf, size_t len)
{
    if (r->resp && r->resp->command == SNMP_MSG_REPORT) {
        int type = snmpv3_get_report_type(r->resp);
        snprintf(buf, len,
                 "refused the v3 request (%s): check user=, auth= and the auth "
                 "password",
                 snmp_api_errstring(type));
    } else if (r->sec_error) {
        snprintf(buf, len,
                 "its v3 answer failed our checks: the auth or privacy password (or "
                 "auth=/priv=) does not match the PDU's user");
    } else if (r->resp) {
        snprintf(buf, len, "the PDU answered with error %s (%ld)",
                 snmp_errstring((int)r->resp->errstat), r->resp->errstat);
    } else if (s->v3) {
        snprintf(buf, len,
                 "no answer in %.1f s x %d tries: PDU down or unreachable, or wrong v3 user, "
                 "passwords or auth=/priv= (a wrong key is met with silence)",
                 (double)s->timeout_us / 1e6, s->retries + 1);
    } else {
        snprintf(buf, len,
                 "no answer in %.1f s x %d tries: PDU down or unreachable, or wrong community "
                 "(agents drop it silently)",
                 (double)s->timeout_us / 1e6, s->retries + 1);
    }
}

/* A value as an integer: 0, -ENOENT for noSuchObject/noSuchInstance/endOfMibView, -EINVAL
 * for a type that is not a number. */
static int value_of(const netsnmp_variable_list *v, int64_t *out, enum wp_snmp_type *t)
{
    switch (v->type) {
    case ASN_INTEGER:
        *out = (int64_t)*v->val.integer;
        *t = WP_SNMP_T_INTEGER;
        return 0;
    case ASN_GAUGE: /* also Unsigned32 */
    case ASN_COUNTER:
    case ASN_TIMETICKS:
        *out = (int64_t)((unsigned long)*v->val.integer & 0xffffffffUL);
        *t = WP_SNMP_T_UNSIGNED32;
        return 0;
    case ASN_COUNTER64: {
        uint64_t x = ((uint64_t)v->val.counter64->high << 32) | v->val.counter64->low;
        if (x > INT64_MAX)
            return -EINVAL;
        *out = (int64_t)x;
        *t = WP_SNMP_T_COUNTER64;
        return 0;
    }
    case SNMP_NOSUCHOBJECT:
    case SNMP_NOSUCHINSTANCE:
    case SNMP_ENDOFMIBVIEW:
        return -ENOENT;
    default:
        return -EINVAL;
    }
}

/* ---- GET of a list of OIDs ---- */

struct val {
    int status; /* 0, -ENOENT (no such), -EINVAL (not a number), -ETIMEDOUT (no answer) */
    int64_t v;
    enum wp_snmp_type type;
    int64_t t_us;
};

/* GETs oids (as readings' o/olen through get_oid) in chunks of s->chunk, all at once.
 * Returns how many chunks were answered; when none was, err says why. */
static int get_many(struct snmp_src *s, size_t n, const oid *(*get_oid)(void *, size_t, size_t *),
                    void *ctx, struct val *out, struct wp_err *err)
{
    size_t nreq = (n + s->chunk - 1) / s->chunk;
    if (nreq == 0)
        return 0;
    netsnmp_pdu **pdus = calloc(nreq, sizeof(*pdus));
    struct req *reqs = calloc(nreq, sizeof(*reqs));
    if (!pdus || !reqs) {
        free(pdus);
        free(reqs);
        return wp_errf(err, -ENOMEM, "out of memory");
    }
    pthread_mutex_lock(&lib_lock);
    for (size_t k = 0; k < nreq; k++) {
        pdus[k] = snmp_pdu_create(SNMP_MSG_GET);
        for (size_t i = k * s->chunk; i < n && i < (k + 1) * s->chunk; i++) {
            size_t len;
            const oid *o = get_oid(ctx, i, &len);
            snmp_add_null_var(pdus[k], o, len);
        }
    }
    pthread_mutex_unlock(&lib_lock);
    exchange(s, pdus, reqs, nreq);
    int answered = 0;
    char why[400] = "";
    for (size_t k = 0; k < nreq; k++) {
        struct req *r = &reqs[k];
        size_t first = k * s->chunk, last = first + s->chunk < n ? first + s->chunk : n;
        bool ok = r->resp && r->resp->command == SNMP_MSG_RESPONSE &&
                  r->resp->errstat == SNMP_ERR_NOERROR;
        if (r->resp && r->resp->errstat == SNMP_ERR_TOOBIG && s->chunk > 1)
            s->chunk /= 2; /* the next round asks for less at a time */
        if (!ok) {
            if (!why[0])
                why_failed(s, r, why, sizeof(why));
            for (size_t i = first; i < last; i++)
                out[i] = (struct val){.status = -ETIMEDOUT};
            continue;
        }
        answered++;
        int64_t t = r->t_send_us + (r->t_recv_us - r->t_send_us) / 2;
        netsnmp_variable_list *v = r->resp->variables;
        for (size_t i = first; i < last; i++, v = v ? v->next_variable : NULL) {
            size_t len;
            const oid *o = get_oid(ctx, i, &len);
            out[i] = (struct val){.status = -ENOENT, .t_us = t};
            if (!v || snmp_oid_compare(v->name, v->name_length, o, len) != 0)
                continue; /* an agent that reorders or drops varbinds */
            out[i].status = value_of(v, &out[i].v, &out[i].type);
        }
    }
    free_reqs(reqs, nreq);
    free(pdus);
    free(reqs);
    if (answered == 0)
        return wp_errf(err, -ETIMEDOUT, "PDU %s: %s", s->shown, why);
    return answered;
}

/* ---- walking a column ---- */

struct row {
    uint32_t sub[WP_SNMP_OID_MAX]; /* the OID below the column */
    size_t nsub;
    int status;
    int64_t v;
    enum wp_snmp_type type;
};

/* Every row under column col (GETBULK until the answers leave it). -ETIMEDOUT with err when
 * the PDU does not answer. */
static int walk(struct snmp_src *s, const uint32_t *col, size_t ncol, struct row **rows,
                size_t *nrows, struct wp_err *err)
{
    size_t cap = 0;
    *rows = NULL;
    *nrows = 0;
    oid cur[WP_SNMP_OID_MAX];
    size_t curlen = ncol;
    for (size_t i = 0; i < ncol; i++)
        cur[i] = col[i];
    for (int guard = 0; guard < 10000; guard++) {
        pthread_mutex_lock(&lib_lock);
        netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
        pdu->non_repeaters = 0;
        pdu->max_repetitions = BULK_REPS;
        snmp_add_null_var(pdu, cur, curlen);
        pthread_mutex_unlock(&lib_lock);
        struct req r;
        exchange(s, &pdu, &r, 1);
        if (!r.resp || r.resp->command != SNMP_MSG_RESPONSE ||
            (r.resp->errstat != SNMP_ERR_NOERROR && r.resp->errstat != SNMP_ERR_NOSUCHNAME)) {
            char why[400];
            why_failed(s, &r, why, sizeof(why));
            free_reqs(&r, 1);
            free(*rows);
            *rows = NULL;
            return wp_errf(err, -ETIMEDOUT, "PDU %s: %s", s->shown, why);
        }
        bool more = r.resp->errstat == SNMP_ERR_NOERROR && r.resp->variables;
        for (netsnmp_variable_list *v = r.resp->variables; v && more; v = v->next_variable) {
            bool inside = v->name_length > ncol && v->name_length <= WP_SNMP_OID_MAX;
            for (size_t i = 0; inside && i < ncol; i++)
                inside = v->name[i] == col[i];
            /* A walk must move forward; an agent that answers the same OID again would loop. */
            if (!inside || v->type == SNMP_ENDOFMIBVIEW ||
                snmp_oid_compare(v->name, v->name_length, cur, curlen) <= 0) {
                more = false;
                break;
            }
            if (WP_GROW(rows, &cap, *nrows + 1) < 0) {
                free_reqs(&r, 1);
                free(*rows);
                *rows = NULL;
                return wp_errf(err, -ENOMEM, "out of memory");
            }
            struct row *w = &(*rows)[(*nrows)++];
            memset(w, 0, sizeof(*w));
            w->nsub = v->name_length - ncol;
            for (size_t i = 0; i < w->nsub; i++)
                w->sub[i] = (uint32_t)v->name[ncol + i];
            w->status = value_of(v, &w->v, &w->type);
            memcpy(cur, v->name, v->name_length * sizeof(oid));
            curlen = v->name_length;
        }
        free_reqs(&r, 1);
        if (!more)
            return 0;
    }
    return 0;
}

/* ---- discovery ---- */

static int device_id(struct snmp_src *s, const char *key, const char *name)
{
    for (size_t i = 0; i < s->ndevs; i++)
        if (strcmp(s->devs[i].key, key) == 0)
            return s->devs[i].id;
    if (WP_GROW(&s->devs, &s->capdevs, s->ndevs + 1) < 0)
        return -ENOMEM;
    struct devkey *d = &s->devs[s->ndevs++];
    snprintf(d->key, sizeof(d->key), "%s", key);
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->id = (int)s->ndevs;
    return d->id;
}

static const char *short_label(const char *label)
{
    return strcmp(label, "input cord") == 0 ? "cord" : label;
}

static int add_reading(struct snmp_src *s, const struct reading *r)
{
    if (WP_GROW(&s->v, &s->cap, s->n + 1) < 0)
        return -ENOMEM;
    s->v[s->n++] = *r;
    return 0;
}

/* Fills r's device and names for a profile column's row. */
static int place(struct snmp_src *s, const struct wp_snmp_column *c, struct reading *r)
{
    char idx[64], key[64], dname[96];
    wp_snmp_index_format(r->index, (size_t)r->nindex, idx, sizeof(idx));
    const char *q = r->quantity == WP_Q_POWER ? "power" : "energy";
    const char *vendor = s->profile->vendor;
    if (c->role == WP_SNMP_PHASE) {
        /* A phase is part of its inlet: it shares the inlet's device, so a summary that takes
         * one reading per device never adds the phases to the inlet they make up. */
        char pidx[64] = "";
        if (c->parent > 0) {
            wp_snmp_index_format(r->index, (size_t)c->parent, pidx, sizeof(pidx));
            snprintf(key, sizeof(key), "inlet:%.40s", pidx);
        } else {
            const struct devkey *only = NULL;
            size_t ninlets = 0;
            for (size_t i = 0; i < s->ndevs; i++)
                if (strncmp(s->devs[i].key, "inlet:", 6) == 0) {
                    only = &s->devs[i];
                    ninlets++;
                }
            if (ninlets != 1)
                return -ENOENT;
            snprintf(key, sizeof(key), "%s", only->key);
            snprintf(pidx, sizeof(pidx), "%s", only->key + 6);
        }
        snprintf(dname, sizeof(dname), "%.40s inlet %s", vendor, pidx);
        int id = device_id(s, key, dname);
        if (id < 0)
            return id;
        r->device = id;
        snprintf(r->device_name, sizeof(r->device_name), "%s", s->devs[id - 1].name);
        snprintf(r->name, sizeof(r->name), "phase%.24s_%s", idx, q);
        return 0;
    }
    bool outlet = c->role == WP_SNMP_OUTLET;
    snprintf(key, sizeof(key), "%s:%.40s", outlet ? "outlet" : "inlet", idx);
    snprintf(dname, sizeof(dname), "%.40s %.12s %.32s", vendor, c->label, idx);
    int id = device_id(s, key, dname);
    if (id < 0)
        return id;
    r->device = id;
    snprintf(r->device_name, sizeof(r->device_name), "%s", s->devs[id - 1].name);
    snprintf(r->name, sizeof(r->name), "%s%.24s_%s", short_label(c->label), idx, q);
    return 0;
}

static const oid *reading_oid(void *ctx, size_t i, size_t *len)
{
    struct reading *r = (struct reading *)ctx + i;
    *len = r->olen;
    return r->o;
}

/* Raritan: each reading's decimal digits, read once, become its unit. */
struct digits_ctx {
    oid (*o)[WP_SNMP_OID_MAX];
    size_t *len;
};
static const oid *digits_oid(void *ctx, size_t i, size_t *len)
{
    struct digits_ctx *d = ctx;
    *len = d->len[i];
    return d->o[i];
}

static int read_digits(struct snmp_src *s, struct wp_err *err)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->v[i].col && s->v[i].col->digits;
    if (n == 0)
        return 0;
    struct digits_ctx d = {calloc(n, sizeof(*d.o)), calloc(n, sizeof(*d.len))};
    size_t *which = calloc(n, sizeof(*which));
    struct val *vals = calloc(n, sizeof(*vals));
    int rc = -ENOMEM;
    if (!d.o || !d.len || !which || !vals) {
        wp_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct wp_snmp_column *c = s->v[i].col;
        if (!c || !c->digits)
            continue;
        uint32_t base[WP_SNMP_OID_MAX];
        size_t nb = 0;
        wp_snmp_oid_parse(c->digits, base, WP_SNMP_OID_MAX, &nb);
        for (size_t j = 0; j < nb; j++)
            d.o[k][j] = base[j];
        for (int j = 0; j < s->v[i].nindex; j++)
            d.o[k][nb + (size_t)j] = s->v[i].index[j];
        d.o[k][nb + (size_t)s->v[i].nindex] = (oid)c->type;
        d.len[k] = nb + (size_t)s->v[i].nindex + 1;
        which[k++] = i;
    }
    rc = get_many(s, n, digits_oid, &d, vals, err);
    if (rc < 0)
        goto out;
    for (size_t j = 0; j < n; j++) {
        struct reading *r = &s->v[which[j]];
        char unit[12], key[160];
        double scale;
        enum wp_quantity q;
        if (vals[j].status == 0 && vals[j].v >= 0 &&
            wp_snmp_unit_digits(r->col->unit, (unsigned)vals[j].v, unit, sizeof(unit)) == 0 &&
            wp_snmp_unit_parse(unit, &q, &scale) == 0) {
            snprintf(r->unit, sizeof(r->unit), "%s", unit);
            r->scale = scale;
            continue;
        }
        snprintf(key, sizeof(key), "missing.%s.%d.%s", s->inst, r->device, r->name);
        add_note(s, key,
                 "its decimal digits (%s row) did not answer with 0 to 6, so its value cannot "
                 "be scaled; not read",
                 r->col->mib_name);
        r->id = -2; /* dropped below */
    }
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].id != -2)
            s->v[w++] = s->v[i];
    s->n = w;
    rc = 0;
out:
    free(d.o);
    free(d.len);
    free(which);
    free(vals);
    return rc;
}

static bool outlet_wanted(struct snmp_src *s, const uint32_t *index, int n)
{
    for (size_t i = 0; i < s->nsel; i++)
        if (wp_snmp_sel_match(&s->sel[i], index, (size_t)n))
            return true;
    return false;
}

static int discover_profile(struct snmp_src *s, struct wp_err *err)
{
    const struct wp_snmp_profile *p = s->profile;
    bool outlet_rows = false;
    for (size_t ci = 0; ci < p->ncols; ci++) {
        const struct wp_snmp_column *c = &p->cols[ci];
        uint32_t col[WP_SNMP_OID_MAX];
        size_t ncol = 0;
        if (wp_snmp_oid_parse(c->oid, col, WP_SNMP_OID_MAX, &ncol) < 0)
            return wp_errf(err, -EINVAL, "internal: bad OID %s in profile %s", c->oid, p->name);
        if (c->role == WP_SNMP_OUTLET && s->nsel == 0)
            continue; /* which outlets feed this node is the user's to say */
        struct row *rows = NULL;
        size_t nrows = 0;
        int rc = walk(s, col, ncol, &rows, &nrows, err);
        if (rc < 0)
            return rc;
        size_t found = 0;
        for (size_t i = 0; i < nrows; i++) {
            struct row *w = &rows[i];
            size_t nidx = w->nsub;
            if (c->type > 0) {
                if (nidx == 0 || w->sub[nidx - 1] != (uint32_t)c->type)
                    continue;
                nidx--;
            }
            if (nidx != (size_t)c->nindex || nidx > WP_SNMP_INDEX_MAX)
                continue;
            if (c->role == WP_SNMP_OUTLET) {
                outlet_rows = true;
                if (!outlet_wanted(s, w->sub, (int)nidx))
                    continue;
            }
            struct reading r;
            memset(&r, 0, sizeof(r));
            r.col = c;
            r.role = c->role;
            r.quantity = c->quantity;
            snprintf(r.mib_name, sizeof(r.mib_name), "%s", c->mib_name);
            r.negative_absent = c->negative_absent;
            r.nindex = (int)nidx;
            for (size_t j = 0; j < nidx; j++)
                r.index[j] = w->sub[j];
            for (size_t j = 0; j < ncol; j++)
                r.o[j] = col[j];
            for (size_t j = 0; j < w->nsub; j++)
                r.o[ncol + j] = w->sub[j];
            r.olen = ncol + w->nsub;
            r.id = -1;
            rc = place(s, c, &r);
            if (rc == -ENOENT) {
                add_note(s, "snmp.phases_skipped",
                         "%s rows carry no device, and this agent has %s devices: phases not "
                         "read",
                         c->mib_name, s->ndevs ? "several" : "no");
                continue;
            }
            if (rc < 0) {
                free(rows);
                return wp_errf(err, -ENOMEM, "out of memory");
            }
            char key[160];
            snprintf(key, sizeof(key), "missing.%s.%d.%s", s->inst, r.device, r.name);
            if (w->status < 0) {
                add_note(s, key, "%s answers with a value that is not a number; not read",
                         c->mib_name);
                continue;
            }
            if (c->negative_absent && w->v < 0) {
                add_note(s, key, "%s answers %lld: this model does not measure it; not read",
                         c->mib_name, (long long)w->v);
                continue;
            }
            snprintf(r.unit, sizeof(r.unit), "%s", c->unit);
            enum wp_quantity q;
            if (wp_snmp_unit_parse(c->unit, &q, &r.scale) < 0) {
                free(rows);
                return wp_errf(err, -EINVAL, "internal: bad unit %s in profile %s", c->unit,
                               p->name);
            }
            r.wrap_at = c->quantity == WP_Q_ENERGY ? wp_snmp_wrap_at(w->type) : 0;
            if (add_reading(s, &r) < 0) {
                free(rows);
                return wp_errf(err, -ENOMEM, "out of memory");
            }
            found++;
        }
        free(rows);
        if (found == 0) {
            char key[160];
            snprintf(key, sizeof(key), "missing.%s.%s", s->inst, c->mib_name);
            if (c->type > 0)
                snprintf(key + strlen(key), sizeof(key) - strlen(key), ".type%d", c->type);
            add_note(s, key, "%s (%s) has no %srows on this PDU", c->mib_name, c->oid,
                     c->role == WP_SNMP_OUTLET ? "selected " : "");
        }
    }
    if (s->nsel == 0) {
        char key[96];
        snprintf(key, sizeof(key), "missing.%s.outlets", s->inst);
        add_note(s, key,
                 "outlets not read: give outlets=N,... to read the outlets that feed this node");
    } else {
        /* Every outlet the user named must exist, and a bare number must name one row. */
        for (size_t i = 0; i < s->nsel; i++) {
            s->sel[i].found = 0;
            char first[64] = "", second[64] = "";
            for (size_t k = 0; k < s->n; k++) {
                const struct reading *r = &s->v[k];
                if (r->role != WP_SNMP_OUTLET ||
                    !wp_snmp_sel_match(&s->sel[i], r->index, (size_t)r->nindex))
                    continue;
                char idx[64];
                wp_snmp_index_format(r->index, (size_t)r->nindex, idx, sizeof(idx));
                if (!first[0])
                    snprintf(first, sizeof(first), "%s", idx);
                else if (strcmp(first, idx) != 0 && !second[0])
                    snprintf(second, sizeof(second), "%s", idx);
                s->sel[i].found++;
            }
            if (s->sel[i].n == 1 && s->sel[i].hi == s->sel[i].idx[0] && second[0])
                return wp_errf(err, -EINVAL,
                               "source %s: outlets=%u matches rows %s and %s of the PDU (it has "
                               "several units or cords): write the row index, e.g. outlets=%s",
                               s->inst, (unsigned)s->sel[i].idx[0], first, second, first);
            if (s->sel[i].found == 0)
                return wp_errf(err, -EINVAL,
                               "source %s: the PDU at %s has no metered outlet %u%s in profile "
                               "%s%s; list them with `snmpwalk -v2c -c COMMUNITY %s %s`",
                               s->inst, s->shown, (unsigned)s->sel[i].idx[0],
                               s->sel[i].n > 1 ? "..." : "", p->name,
                               outlet_rows ? "" : " (it answers no outlet rows at all)", s->shown,
                               p->cols[p->ncols - 1].oid);
        }
    }
    return read_digits(s, err);
}

static int discover_generic(struct snmp_src *s, struct wp_err *err)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", s->generic_oids);
    size_t count = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        count++;
    snprintf(buf, sizeof(buf), "%s", s->generic_oids);
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save), k++) {
        while (*tok == ' ')
            tok++;
        uint32_t o[WP_SNMP_OID_MAX];
        size_t n = 0;
        if (wp_snmp_oid_parse(tok, o, WP_SNMP_OID_MAX, &n) < 0)
            return wp_errf(err, -EINVAL,
                           "source %s: oid=%s is not a numeric OID (write e.g. "
                           "oid=.1.3.6.1.4.1.318.1.1.26.4.3.1.5.1; names need MIB files, which "
                           "wattprof does not load)",
                           s->inst, tok);
        struct reading r;
        memset(&r, 0, sizeof(r));
        r.role = s->generic_scope == WP_SCOPE_PDU_OUTLET ? WP_SNMP_OUTLET : WP_SNMP_INLET;
        r.quantity = s->generic.quantity;
        snprintf(r.mib_name, sizeof(r.mib_name), "%s", tok);
        r.negative_absent = true;
        for (size_t j = 0; j < n; j++)
            r.o[j] = o[j];
        r.olen = n;
        r.id = -1;
        r.device = (int)k + 1;
        snprintf(r.device_name, sizeof(r.device_name), "SNMP OID %.80s", tok);
        const char *q = r.quantity == WP_Q_POWER ? "power" : "energy";
        if (count == 1)
            snprintf(r.name, sizeof(r.name), "%s", q);
        else
            snprintf(r.name, sizeof(r.name), "%s%zu", q, k + 1);
        snprintf(r.unit, sizeof(r.unit), "%s", s->generic_unit);
        r.scale = s->generic_scale;
        if (add_reading(s, &r) < 0)
            return wp_errf(err, -ENOMEM, "out of memory");
    }
    struct val *vals = calloc(s->n, sizeof(*vals));
    if (!vals)
        return wp_errf(err, -ENOMEM, "out of memory");
    int rc = get_many(s, s->n, reading_oid, s->v, vals, err);
    if (rc < 0) {
        free(vals);
        return rc;
    }
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct reading *r = &s->v[i];
        if (vals[i].status < 0) {
            char key[160];
            snprintf(key, sizeof(key), "missing.%s.%d.%s", s->inst, r->device, r->name);
            add_note(s, key, "%s %s; not read", r->mib_name,
                     vals[i].status == -ENOENT ? "does not exist on this agent"
                                               : "is not a number");
            continue;
        }
        r->wrap_at = r->quantity == WP_Q_ENERGY ? wp_snmp_wrap_at(vals[i].type) : 0;
        s->v[w++] = *r;
    }
    s->n = w;
    free(vals);
    return 0;
}

/* ---- options ---- */

static int parse_int(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return -EINVAL;
    *out = x;
    return 0;
}

struct proto {
    const char *name;
    oid *o;
    size_t len;
};

/* The localized-key input of an SNMPv3 password (key "auth_password" or "priv_password"),
 * hashed with hash; the password itself never outlives this call. -ENOENT when not given. */
static int derive_key(const struct snmp_src *s, const struct wp_source_cfg *cfg, const char *key,
                      const struct proto *hash, u_char *out, size_t *outlen, struct wp_err *err)
{
    char pass[256];
    int rc = wp_source_cfg_secret(cfg, key, pass, sizeof(pass), err);
    if (rc < 0)
        return rc == -ENOENT ? rc : -EINVAL;
    if (strlen(pass) < 8) {
        memset(pass, 0, sizeof(pass));
        return wp_errf(err, -EINVAL,
                       "source %s: the %s is shorter than 8 characters, which SNMPv3 does not "
                       "allow",
                       s->inst, key);
    }
    int krc = generate_Ku(hash->o, (u_int)hash->len, (u_char *)pass, strlen(pass), out, outlen);
    memset(pass, 0, sizeof(pass));
    if (krc != SNMPERR_SUCCESS)
        return wp_errf(err, -EINVAL, "source %s: cannot derive the SNMPv3 key from the %s (%s)",
                       s->inst, key, snmp_api_errstring(krc));
    return 0;
}

static int set_v3(struct snmp_src *s, const struct wp_source_cfg *cfg, netsnmp_session *ss,
                  char *user, size_t userlen, struct wp_err *err)
{
    const char *u = wp_source_cfg_get(cfg, "user");
    if (!u || !*u)
        return wp_errf(err, -EINVAL,
                       "source %s: version=3 needs user=NAME (the PDU's SNMPv3 user) and its "
                       "passwords (auth_password_file=, priv_password_file=)",
                       s->inst);
    snprintf(user, userlen, "%s", u);
    const struct proto auths[] = {
        {"MD5", NS.usmHMACMD5AuthProtocol, OID_LENGTH(usmHMACMD5AuthProtocol)},
        {"SHA", NS.usmHMACSHA1AuthProtocol, OID_LENGTH(usmHMACSHA1AuthProtocol)},
        {"SHA224", NS.usmHMAC128SHA224AuthProtocol, OID_LENGTH(usmHMAC128SHA224AuthProtocol)},
        {"SHA256", NS.usmHMAC192SHA256AuthProtocol, OID_LENGTH(usmHMAC192SHA256AuthProtocol)},
        {"SHA384", NS.usmHMAC256SHA384AuthProtocol, OID_LENGTH(usmHMAC256SHA384AuthProtocol)},
        {"SHA512", NS.usmHMAC384SHA512AuthProtocol, OID_LENGTH(usmHMAC384SHA512AuthProtocol)},
    };
    const struct proto privs[] = {
        {"DES", NS.usmDESPrivProtocol, OID_LENGTH(usmDESPrivProtocol)},
        {"AES", NS.usmAESPrivProtocol, OID_LENGTH(usmAESPrivProtocol)},
        {"AES192", NS.usmAES192PrivProtocol, OID_LENGTH(usmAES192PrivProtocol)},
        {"AES256", NS.usmAES256PrivProtocol, OID_LENGTH(usmAES256PrivProtocol)},
    };
    const char *an = wp_source_cfg_get(cfg, "auth"), *pn = wp_source_cfg_get(cfg, "priv");
    const struct proto *a = NULL, *p = NULL;
    for (size_t i = 0; i < sizeof(auths) / sizeof(auths[0]); i++)
        if (strcasecmp(an ? an : "SHA", auths[i].name) == 0)
            a = &auths[i];
    for (size_t i = 0; i < sizeof(privs) / sizeof(privs[0]); i++)
        if (strcasecmp(pn ? pn : "AES", privs[i].name) == 0)
            p = &privs[i];
    if (!a)
        return wp_errf(err, -EINVAL,
                       "source %s: auth=%s is not an SNMPv3 auth protocol (MD5, SHA, SHA224, "
                       "SHA256, SHA384, SHA512)",
                       s->inst, an);
    if (!p)
        return wp_errf(err, -EINVAL,
                       "source %s: priv=%s is not an SNMPv3 privacy protocol (DES, AES, AES192, "
                       "AES256)",
                       s->inst, pn);
    ss->securityAuthProto = a->o;
    ss->securityAuthProtoLen = a->len;
    ss->securityAuthKeyLen = USM_AUTH_KU_LEN;
    int rc =
        derive_key(s, cfg, "auth_password", a, ss->securityAuthKey, &ss->securityAuthKeyLen, err);
    if (rc < 0)
        return rc == -ENOENT ? -EINVAL : rc;
    ss->securityLevel = SNMP_SEC_LEVEL_AUTHNOPRIV;
    ss->securityPrivProto = p->o;
    ss->securityPrivProtoLen = p->len;
    ss->securityPrivKeyLen = USM_PRIV_KU_LEN;
    /* The privacy key is derived with the auth protocol's hash (RFC 3414). */
    rc = derive_key(s, cfg, "priv_password", a, ss->securityPrivKey, &ss->securityPrivKeyLen, err);
    if (rc == -ENOENT && !pn) {
        ss->securityPrivProto = NULL;
        ss->securityPrivProtoLen = 0;
        return 0; /* authNoPriv: readings travel in clear, but signed */
    }
    if (rc < 0)
        return -EINVAL;
    ss->securityLevel = SNMP_SEC_LEVEL_AUTHPRIV;
    return 0;
}

static void snmp_free_src(struct snmp_src *s)
{
    if (!s)
        return;
    if (s->sess) {
        pthread_mutex_lock(&lib_lock);
        snmp_sess_close(s->sess);
        pthread_mutex_unlock(&lib_lock);
    }
    free(s->sel);
    free(s->v);
    free(s->notes);
    free(s->devs);
    free(s);
}

static int parse_generic(struct snmp_src *s, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    s->generic_oids = wp_source_cfg_get(cfg, "oid");
    const char *unit = wp_source_cfg_get(cfg, "unit");
    const char *scale = wp_source_cfg_get(cfg, "scale");
    if (!s->generic_oids || !unit)
        return wp_errf(err, -EINVAL,
                       "source %s: profile=generic needs oid=OID[,OID...] and unit= (e.g. "
                       "unit=W, unit=\"0.1 kWh\"); scale= (mW or mJ per raw unit) overrides the "
                       "unit's",
                       s->inst);
    if (strlen(unit) >= sizeof(s->generic_unit))
        return wp_errf(err, -EINVAL, "source %s: unit=%s is longer than %zu characters", s->inst,
                       unit, sizeof(s->generic_unit) - 1);
    snprintf(s->generic_unit, sizeof(s->generic_unit), "%s", unit);
    enum wp_quantity q;
    double k;
    if (wp_snmp_unit_parse(unit, &q, &k) < 0)
        return wp_errf(err, -EINVAL,
                       "source %s: unit=%s is not a power or energy unit: write W, kW, Wh, kWh "
                       "or J with an optional factor (unit=0.1 kWh)",
                       s->inst, unit);
    if (scale) {
        char *end;
        double x = strtod(scale, &end);
        if (end == scale || *end || !(x > 0) || x > 1e12)
            return wp_errf(err, -EINVAL,
                           "source %s: scale=%s is not a positive number (it is mW, or mJ for "
                           "energy, per raw unit)",
                           s->inst, scale);
        k = x;
    }
    s->generic.quantity = q;
    s->generic_scale = k;
    return 0;
}

static int pdu_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    pthread_once(&lib_once, lib_init);
    if (!ns_ok)
        return wp_errf(err, -ENOSYS,
                       "source %s: net-snmp could not be loaded (%s); install it "
                       "(Debian/Ubuntu: libsnmp40 or libsnmp40t64)",
                       cfg->name, ns_load_err);
    struct snmp_src *s = calloc(1, sizeof(*s));
    if (!s)
        return wp_errf(err, -ENOMEM, "out of memory");
    snprintf(s->inst, sizeof(s->inst), "%s", cfg->name);
    s->chunk = CHUNK_DEFAULT;
    int rc = -EINVAL;
    char community[256] = "", user[128] = "";
    const char *host = wp_source_cfg_get(cfg, "host");
    const char *port = wp_source_cfg_get(cfg, "port");
    const char *ver = wp_source_cfg_get(cfg, "version");
    const char *prof = wp_source_cfg_get(cfg, "profile");
    const char *v;
    long x;
    if (!host || !*host || strpbrk(host, " /")) {
        rc = wp_errf(err, -EINVAL,
                     "source %s: give host=NAME or address of the PDU (e.g. "
                     "snmp:host=pdu-a3,profile=raritan,community_file=/etc/wattprof/community)",
                     s->inst);
        goto fail;
    }
    long portn = 161;
    if (port && parse_int(port, 1, 65535, &portn) < 0) {
        rc = wp_errf(err, -EINVAL, "source %s: port=%s is not a UDP port (1-65535)", s->inst, port);
        goto fail;
    }
    bool v6 = strchr(host, ':') != NULL;
    snprintf(s->peer, sizeof(s->peer), "%s:%s%s%s:%ld", v6 ? "udp6" : "udp", v6 ? "[" : "", host,
             v6 ? "]" : "", portn);
    snprintf(s->shown, sizeof(s->shown), "%s%s%s:%ld", v6 ? "[" : "", host, v6 ? "]" : "", portn);
    if (!prof) {
        rc = wp_errf(err, -EINVAL, "source %s: give profile= (%s, or generic with oid= and unit=)",
                     s->inst, wp_snmp_profile_names());
        goto fail;
    }
    if (strcmp(prof, "generic") != 0 && !(s->profile = wp_snmp_profile(prof))) {
        rc = wp_errf(err, -EINVAL, "source %s: profile=%s is not one wattprof knows (%s, generic)",
                     s->inst, prof, wp_snmp_profile_names());
        goto fail;
    }
    if (s->profile && (wp_source_cfg_get(cfg, "oid") || wp_source_cfg_get(cfg, "unit") ||
                       wp_source_cfg_get(cfg, "scale"))) {
        rc = wp_errf(err, -EINVAL,
                     "source %s: oid=, unit= and scale= belong to profile=generic; profile=%s "
                     "knows its own OIDs and units",
                     s->inst, prof);
        goto fail;
    }
    if (!s->profile && (rc = parse_generic(s, cfg, err)) < 0)
        goto fail;
    if ((v = wp_source_cfg_get(cfg, "scope"))) {
        if (wp_scope_parse(v, &s->generic_scope) < 0 ||
            (s->generic_scope != WP_SCOPE_PDU_INLET && s->generic_scope != WP_SCOPE_PDU_OUTLET)) {
            rc = wp_errf(err, -EINVAL,
                         "source %s: scope=%s: an SNMP PDU reading is pdu_inlet or "
                         "pdu_outlet",
                         s->inst, v);
            goto fail;
        }
        if (s->profile) {
            rc = wp_errf(err, -EINVAL,
                         "source %s: scope= belongs to profile=generic (profile=%s knows which "
                         "readings are inlets and outlets)",
                         s->inst, prof);
            goto fail;
        }
        s->generic_scope_set = true;
    } else {
        s->generic_scope = WP_SCOPE_PDU_INLET;
    }
    if ((v = wp_source_cfg_get(cfg, "outlets"))) {
        char why[200];
        if (!s->profile) {
            rc = wp_errf(err, -EINVAL,
                         "source %s: outlets= needs a vendor profile; with profile=generic give "
                         "the outlet's OIDs and scope=pdu_outlet",
                         s->inst);
            goto fail;
        }
        if (wp_snmp_outlets_parse(v, &s->sel, &s->nsel, why, sizeof(why)) < 0) {
            rc = wp_errf(err, -EINVAL, "source %s: %s", s->inst, why);
            goto fail;
        }
    }
    /* An inlet feeds everything behind the PDU. When the user names this node's outlets, the
     * other outlets feed other machines (or nothing): the inlet is the rack's, not this
     * node's. Without outlets= the PDU is taken to feed this node alone. shared= overrides. */
    bool shared_default = s->nsel > 0 || (!s->profile && s->generic_scope_set &&
                                          s->generic_scope == WP_SCOPE_PDU_OUTLET);
    if ((rc = wp_source_cfg_bool(cfg, "shared", shared_default, &s->shared, err)) < 0)
        goto fail;
    if ((rc = wp_source_cfg_duration_us(cfg, "interval", PERIOD_DEFAULT_US, PERIOD_MIN_US,
                                        PERIOD_MAX_US, &s->period_us, err)) < 0 ||
        (rc = wp_source_cfg_duration_us(cfg, "timeout", TIMEOUT_DEFAULT_US, 10000, 60000000,
                                        &s->timeout_us, err)) < 0)
        goto fail;
    s->retries = RETRIES_DEFAULT;
    if ((v = wp_source_cfg_get(cfg, "retries"))) {
        if (parse_int(v, 0, 10, &x) < 0) {
            rc = wp_errf(err, -EINVAL, "source %s: retries=%s is not 0 to 10", s->inst, v);
            goto fail;
        }
        s->retries = (int)x;
    }

    netsnmp_session ss;
    snmp_sess_init(&ss);
    ss.peername = s->peer;
    ss.timeout = (long)s->timeout_us;
    ss.retries = s->retries;
    if (!ver || strcmp(ver, "2c") == 0 || strcmp(ver, "2") == 0) {
        ss.version = SNMP_VERSION_2c;
        struct wp_err e = {0};
        if (wp_source_cfg_secret(cfg, "community", community, sizeof(community), &e) < 0) {
            rc = wp_errf(err, -EINVAL, "%s", e.msg);
            goto fail;
        }
        ss.community = (u_char *)community;
        ss.community_len = strlen(community);
    } else if (strcmp(ver, "3") == 0) {
        ss.version = SNMP_VERSION_3;
        s->v3 = true;
        if ((rc = set_v3(s, cfg, &ss, user, sizeof(user), err)) < 0)
            goto fail;
        ss.securityName = user;
        ss.securityNameLen = strlen(user);
        ss.securityModel = SNMP_SEC_MODEL_USM;
    } else {
        rc = wp_errf(err, -EINVAL,
                     "source %s: version=%s: wattprof speaks SNMP 2c and 3 (a PDU that speaks v1 "
                     "speaks 2c too)",
                     s->inst, ver);
        goto fail;
    }
    pthread_mutex_lock(&lib_lock);
    s->sess = snmp_sess_open(&ss);
    int lib_err = 0, sys_err = 0;
    char *why = NULL;
    if (!s->sess)
        snmp_error(&ss, &sys_err, &lib_err, &why);
    pthread_mutex_unlock(&lib_lock);
    /* The session holds its own copies now. */
    memset(community, 0, sizeof(community));
    memset(ss.securityAuthKey, 0, sizeof(ss.securityAuthKey));
    memset(ss.securityPrivKey, 0, sizeof(ss.securityPrivKey));
    if (!s->sess) {
        rc = wp_errf(err, -EHOSTUNREACH, "SNMP PDU %s (source %s): cannot open a session: %s%s",
                     s->shown, s->inst, why ? why : "unknown error",
                     s->v3 ? " (SNMPv3 asks the PDU for its engine ID first: no answer means the "
                             "PDU is down or unreachable)"
                           : "");
        free(why);
        goto fail;
    }
    free(why);
    rc = s->profile ? discover_profile(s, err) : discover_generic(s, err);
    if (rc < 0)
        goto fail;
    if (s->n == 0 && !s->profile) {
        rc = wp_errf(err, -ENOENT,
                     "PDU %s answers, but none of oid=%.200s exists there (`snmpwalk -v2c -c "
                     "COMMUNITY %s OID` shows what does)",
                     s->shown, s->generic_oids, s->shown);
        goto fail;
    }
    if (s->n == 0) {
        rc = wp_errf(err, -ENOENT,
                     "PDU %s answers, but none of the %s readings exists there (wrong profile=? "
                     "`snmpget -v2c -c COMMUNITY %s .1.3.6.1.2.1.1.1.0` names the model)",
                     s->shown, prof, s->shown);
        goto fail;
    }
    *state = s;
    return 0;
fail:
    memset(community, 0, sizeof(community));
    snmp_free_src(s);
    return rc;
}

static int pdu_discover(void *state, struct wp_sensors *tab, struct wp_meta *meta,
                        struct wp_err *err)
{
    struct snmp_src *s = state;
    (void)err;
    for (size_t i = 0; i < s->nnotes; i++)
        wp_meta_set(meta, s->notes[i].key, s->notes[i].value);
    char key[96];
    snprintf(key, sizeof(key), "snmp.%s.peer", s->inst);
    wp_meta_set(meta, key, s->shown);
    snprintf(key, sizeof(key), "snmp.%s.shared", s->inst);
    wp_meta_set(meta, key, s->shared ? "1" : "0");
    /* One device's readings together (an outlet's power beside its energy), in the order
     * found otherwise: an inlet's total stays ahead of its phases. */
    for (size_t i = 1; i < s->n; i++)
        for (size_t k = i; k > 0 && s->v[k - 1].device > s->v[k].device; k--) {
            struct reading tmp = s->v[k];
            s->v[k] = s->v[k - 1];
            s->v[k - 1] = tmp;
        }
    size_t before = tab->n;
    for (size_t i = 0; i < s->n; i++) {
        struct reading *r = &s->v[i];
        struct wp_sensor w;
        memset(&w, 0, sizeof(w));
        snprintf(w.source, sizeof(w.source), "%s", s->inst);
        snprintf(w.source_kind, sizeof(w.source_kind), "snmp");
        w.device = r->device;
        snprintf(w.device_name, sizeof(w.device_name), "%s", r->device_name);
        snprintf(w.name, sizeof(w.name), "%s", r->name);
        w.quantity = r->quantity;
        w.kind = r->quantity == WP_Q_ENERGY ? WP_COUNTER : WP_GAUGE;
        w.cadence_us = s->period_us;
        w.limit = w.default_limit = WP_NO_LIMIT;
        w.wrap_at = r->wrap_at;
        snprintf(w.unit, sizeof(w.unit), "%s", r->unit);
        w.scale = r->scale;
        bool outlet = r->role == WP_SNMP_OUTLET;
        w.scope = outlet ? WP_SCOPE_PDU_OUTLET : WP_SCOPE_PDU_INLET;
        /* A shared inlet holds this node and other machines: no node total may take it for
         * this node's, so it claims to contain nothing of it. */
        w.contains = (!outlet && s->shared) ? 0 : wp_scope_default_contains(w.scope);
        char o[160];
        size_t off = 0;
        o[0] = '\0';
        for (size_t j = 0; j < r->olen && off < sizeof(o); j++)
            off += (size_t)snprintf(o + off, sizeof(o) - off, ".%lu", (unsigned long)r->o[j]);
        const char *shared = (!outlet && s->shared) ? "shared rack PDU: " : "";
        if (s->profile)
            snprintf(w.help, sizeof(w.help), "%s%.40s (%.60s)", shared, r->mib_name, o);
        else
            snprintf(w.help, sizeof(w.help), "%sSNMP OID %.90s", shared, o);
        int id = wp_sensors_add(tab, &w);
        if (id < 0)
            return wp_errf(err, -ENOMEM, "out of memory");
        r->id = id;
    }
    return (int)(tab->n - before);
}

static void warn_once(struct snmp_src *s, struct wp_sink *sink, struct reading *r, unsigned bit,
                      int64_t t, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void warn_once(struct snmp_src *s, struct wp_sink *sink, struct reading *r, unsigned bit,
                      int64_t t, const char *fmt, ...)
{
    if (r->warned & bit)
        return;
    r->warned |= bit;
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    wp_sink_event(sink, t, r->id, s->inst, r->device, "SNMP PDU %s: %s (%s): %s", s->shown, r->name,
                  r->mib_name, what);
}

static void store(struct snmp_src *s, struct wp_sink *sink, struct reading *r, const struct val *v)
{
    if (v->status == -ENOENT) {
        warn_once(s, sink, r, W_GONE, v->t_us,
                  "no longer answers (noSuchInstance); its samples stop until it does");
        return;
    }
    if (v->status < 0) {
        warn_once(s, sink, r, W_TYPE, v->t_us, "answered a value that is not a number; skipped");
        return;
    }
    r->warned &= ~(unsigned)W_GONE;
    if (v->v < 0) {
        if (r->negative_absent)
            warn_once(s, sink, r, W_ABSENT, v->t_us,
                      "answers %lld (not available): no sample is stored, never a 0",
                      (long long)v->v);
        else
            warn_once(s, sink, r, W_NEGATIVE, v->t_us,
                      "answered %lld; negative readings are "
                      "skipped",
                      (long long)v->v);
        return;
    }
    if (r->quantity == WP_Q_ENERGY && r->have_last && v->v < r->last_raw) {
        double dt_s = (double)(v->t_us - r->last_t_us) / 1e6;
        double wrapped = r->wrap_at > 0 ? (double)(r->wrap_at - r->last_raw + v->v) : -1;
        bool wrap = wrapped >= 0 && dt_s > 0 && wrapped * r->scale / dt_s < PLAUSIBLE_MW;
        if (!wrap)
            warn_once(s, sink, r, W_RESET, v->t_us,
                      "went back from %lld to %lld %s: the meter was reset; energy across this "
                      "moment is not trustworthy",
                      (long long)r->last_raw, (long long)v->v, r->unit);
    }
    r->have_last = true;
    r->last_raw = v->v;
    r->last_t_us = v->t_us;
    wp_sink_push(sink, r->id, v->t_us, v->v);
}

static int pdu_poll(void *state, int64_t now, unsigned flags, struct wp_sink *sink, int64_t *next,
                    struct wp_err *err)
{
    struct snmp_src *s = state;
    bool due = now >= s->next_us;
    if (due || (flags & (WP_POLL_ALL | WP_POLL_FRESH | WP_POLL_COUNTERS))) {
        struct val *vals = calloc(s->n, sizeof(*vals));
        if (!vals)
            return wp_errf(err, -ENOMEM, "out of memory");
        int rc = get_many(s, s->n, reading_oid, s->v, vals, err);
        for (size_t i = 0; rc >= 0 && i < s->n; i++) {
            if (vals[i].status != -ETIMEDOUT)
                store(s, sink, &s->v[i], &vals[i]);
            else /* its request failed while others of the round were answered */
                warn_once(s, sink, &s->v[i], W_SILENT, wp_wall_us(),
                          "its request of a round got no answer while others did; such rounds "
                          "leave it out");
        }
        free(vals);
        if (due)
            s->next_us = wp_next_on_grid(s->next_us, wp_mono_us(), s->period_us);
        *next = s->next_us;
        if (rc < 0)
            return rc;
    }
    *next = s->next_us;
    return 0;
}

static void pdu_close(void *state)
{
    snmp_free_src(state);
}

static const struct wp_source_key snmp_keys[] = {
    {"host", "ADDR  the PDU's name or IP address (required)", 0},
    {"port", "PORT  its SNMP UDP port (default 161)", 0},
    {"version", "2c|3  SNMP version (default 2c)", 0},
    {"community", "the v2c read community", WP_KEY_SECRET},
    {"user", "NAME  the v3 user", 0},
    {"auth", "MD5|SHA|SHA224|SHA256|SHA384|SHA512  the v3 auth protocol (default SHA)", 0},
    {"auth_password", "the v3 auth password (8 or more characters)", WP_KEY_SECRET},
    {"priv", "DES|AES|AES192|AES256  the v3 privacy protocol (default AES)", 0},
    {"priv_password", "the v3 privacy password; without it v3 is authNoPriv", WP_KEY_SECRET},
    {"profile", "apc|raritan|servertech|eaton|generic  which MIB to read (required)", 0},
    {"outlets", "N,N-M,U.C.N  the outlets that feed this node (default: none, inlets only)", 0},
    {"shared", "0|1  the PDU also feeds other machines (default 1 with outlets=, else 0)", 0},
    {"oid", "OID[,OID...]  generic: numeric OIDs of readings in one unit", 0},
    {"unit", "UNIT  generic: their raw unit: W, 0.1 kW, Wh, 0.1 kWh, J", 0},
    {"scale", "X  generic: mW (mJ for energy) per raw unit, if unit= cannot say", 0},
    {"scope", "pdu_inlet|pdu_outlet  generic: what the OIDs measure (default pdu_inlet)", 0},
    {"interval", "DURATION  how often to poll (default 1s; PDUs refresh about once a second)", 0},
    {"timeout", "DURATION  wait for an answer (default 1s)", 0},
    {"retries", "N  resends before a poll fails (default 1)", 0},
    {NULL, NULL, 0},
};

const struct wp_source_ops wp_source_snmp = {
    .name = "snmp",
    .help = "rack PDU over SNMP v2c/v3: inlet, phase and outlet power and energy (APC, Raritan, "
            "ServerTech, Eaton, or any OID)",
    .keys = snmp_keys,
    .flags = WP_SOURCE_BLOCKING,
    .open = pdu_open,
    .discover = pdu_discover,
    .poll = pdu_poll,
    .close = pdu_close,
};
