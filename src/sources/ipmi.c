/* The BMC's node input power through IPMI DCMI (DCMI 1.5, Get Power Reading and Get Power
 * Limit, NetFn 0x2C group 0xDC), read with libfreeipmi: over the LAN (IPMI 2.0, RMCP+) with
 * host=, or in-band through the kernel's OpenIPMI driver (/dev/ipmi0) without it.
 *
 * A DCMI reading carries four values, all in whole watts: the current power, and the BMC's
 * own minimum, maximum and average over its statistics period (often a minute or an hour;
 * the period comes with every reading). They become four gauges of scope node_input:
 * "power" (the one the node view reads) and power_min/power_max/power_avg. The reading's
 * timestamp (the BMC's clock, whole seconds) is placed on the host's clock by
 * meter_clock.h's rule; a reading whose stamp has not moved is the same reading served again
 * and is not stored twice. A BMC that says its measurement is not active gives no reading
 * (absent, not zero), with an event when that starts and ends.
 *
 * The LAN session is opened once and kept; a failed request closes it and the next poll opens
 * a new one (the recorder retries with backoff and writes "unavailable"/"recovered"). Errors
 * the user can fix (password, privilege, cipher suite) are reported the same way, each in one
 * sentence that says what to change, so a BMC fixed mid-run is picked up again. */
#include "sources/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/dynlib.h"
#include "sources/meter_clock.h"
#include "sources/sysfs.h"

#define PERIOD_DEFAULT_US  1000000
#define PERIOD_MIN_US      100000
#define PERIOD_MAX_US      3600000000LL
#define FRESH_GAP_US       250000
#define TIMEOUT_DEFAULT_US 5000000
#define TIMEOUT_MIN_US     500000
#define TIMEOUT_MAX_US     60000000
/* A DCMI stamp has whole seconds: a reading taken at 10.9 s is stamped 10 s. Clocks that
 * agree therefore show a lag of up to a second plus the round trip; past two seconds the
 * BMC's clock is off. */
#define STAMP_TOLERANCE_US 2000000
/* IPMI 2.0 limits (IPMI 2.0 spec 13.31, 22.26): 16-byte user names, 20-byte passwords. */
#define USER_MAX     16
#define PASSWORD_MAX 20

static const struct wp_source_key ipmi_keys[] = {
    {"host", "HOST  the BMC's LAN address (IPMI 2.0); without it, in-band through /dev/ipmi0", 0},
    {"port", "N  the BMC's RMCP port (default 623)", 0},
    {"user", "NAME  the BMC user (default: the anonymous user)", 0},
    {"password", "the BMC user's password", WP_KEY_SECRET},
    {"privilege", "user|operator|admin  the session's privilege (default user)", 0},
    {"cipher_suite", "N  RMCP+ cipher suite: 0-3, 6-8, 11, 12, 15-17 (default 3)", 0},
    {"timeout", "DURATION  give up on the BMC after this long (default 5s)", 0},
    {"interval", "DURATION  how often to read (default 1s)", 0},
    {"workaround",
     "NAME[,NAME...]  FreeIPMI workarounds for quirky BMCs: opensesspriv, authcap, intel20, "
     "supermicro20, sun20, integritycheckvalue, nochecksumcheck",
     0},
    {"device", "PATH  in-band: the OpenIPMI device (default /dev/ipmi0)", 0},
    {NULL, NULL, 0},
};

#ifndef WP_HAVE_FREEIPMI

static int ipmi_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    (void)state;
    return wp_errf(err, -ENOTSUP,
                   "source %s: this wattprof was built without libfreeipmi; install "
                   "libfreeipmi-dev and rebuild to read a BMC",
                   cfg->name);
}
static int ipmi_discover(void *state, struct wp_sensors *tab, struct wp_meta *meta,
                         struct wp_err *err)
{
    (void)state, (void)tab, (void)meta;
    return wp_errf(err, -ENOTSUP, "built without libfreeipmi");
}
static int ipmi_poll(void *state, int64_t now, unsigned flags, struct wp_sink *sink, int64_t *next,
                     struct wp_err *err)
{
    (void)state, (void)now, (void)flags, (void)sink, (void)next;
    return wp_errf(err, -ENODEV, "built without libfreeipmi");
}
static void ipmi_close(void *state)
{
    (void)state;
}

#else

#include <freeipmi/freeipmi.h>
#include <pthread.h>

/* libfreeipmi is loaded with dlopen when the first ipmi source opens, as NVML is: linked, its
 * 2 MB were mapped into every recorder (bench/perf/rss_split.sh) whether or not a BMC was
 * asked. Only its header is needed at build time. */
#define FREEIPMI_LIB "libfreeipmi.so.17"
static struct {
    ipmi_ctx_t (*ctx_create)(void);
    void (*ctx_close)(ipmi_ctx_t c);
    void (*ctx_destroy)(ipmi_ctx_t c);
    int (*ctx_errnum)(ipmi_ctx_t c);
    char *(*ctx_errormsg)(ipmi_ctx_t c);
    int (*ctx_open_inband)(ipmi_ctx_t c, ipmi_driver_type_t driver, int disable_auto_probe,
                           uint16_t driver_address, uint8_t register_spacing,
                           const char *driver_device, unsigned int workaround_flags,
                           unsigned int flags);
    int (*ctx_open_outofband_2_0)(ipmi_ctx_t c, const char *hostname, const char *username,
                                  const char *password, const unsigned char *k_g,
                                  unsigned int k_g_len, uint8_t privilege_level,
                                  uint8_t cipher_suite_id, unsigned int session_timeout,
                                  unsigned int retransmission_timeout,
                                  unsigned int workaround_flags, unsigned int flags);
    int (*cmd_dcmi_get_power_limit)(ipmi_ctx_t c, fiid_obj_t obj_cmd_rs);
    int (*cmd_dcmi_get_power_reading)(ipmi_ctx_t c, uint8_t mode, uint16_t mode_attributes,
                                      fiid_obj_t obj_cmd_rs);
    fiid_obj_t (*obj_create)(fiid_template_t tmpl);
    void (*obj_destroy)(fiid_obj_t obj);
    int (*obj_clear)(fiid_obj_t obj);
    int (*obj_get)(fiid_obj_t obj, const char *field, uint64_t *val);
    fiid_field_t *tmpl_power_limit_rs, *tmpl_power_reading_rs;
} FI;
static pthread_once_t fi_once = PTHREAD_ONCE_INIT;
static bool fi_ok;
static char fi_load_err[256];

static void fi_load(void)
{
    const struct wp_dl_sym syms[] = {
        {(void **)&FI.ctx_create, "ipmi_ctx_create"},
        {(void **)&FI.ctx_close, "ipmi_ctx_close"},
        {(void **)&FI.ctx_destroy, "ipmi_ctx_destroy"},
        {(void **)&FI.ctx_errnum, "ipmi_ctx_errnum"},
        {(void **)&FI.ctx_errormsg, "ipmi_ctx_errormsg"},
        {(void **)&FI.ctx_open_inband, "ipmi_ctx_open_inband"},
        {(void **)&FI.ctx_open_outofband_2_0, "ipmi_ctx_open_outofband_2_0"},
        {(void **)&FI.cmd_dcmi_get_power_limit, "ipmi_cmd_dcmi_get_power_limit"},
        {(void **)&FI.cmd_dcmi_get_power_reading, "ipmi_cmd_dcmi_get_power_reading"},
        {(void **)&FI.obj_create, "fiid_obj_create"},
        {(void **)&FI.obj_destroy, "fiid_obj_destroy"},
        {(void **)&FI.obj_clear, "fiid_obj_clear"},
        {(void **)&FI.obj_get, "fiid_obj_get"},
        {(void **)&FI.tmpl_power_limit_rs, "tmpl_cmd_dcmi_get_power_limit_rs"},
        {(void **)&FI.tmpl_power_reading_rs, "tmpl_cmd_dcmi_get_power_reading_rs"},
    };
    if (!wp_dl_load(FREEIPMI_LIB, syms, sizeof(syms) / sizeof(syms[0]), fi_load_err,
                    sizeof(fi_load_err)))
        return;
    fi_ok = true;
}

/* The sensors, in the order discover adds them. */
enum { S_POWER, S_MIN, S_MAX, S_AVG, NSENS };
static const char *const sensor_names[NSENS] = {"power", "power_min", "power_max", "power_avg"};
static const char *const reading_fields[NSENS] = {
    "current_power",
    "minimum_power_over_sampling_duration",
    "maximum_power_over_sampling_duration",
    "average_power_over_sampling_duration",
};

struct ipmi {
    char inst[32];
    char where[300]; /* "BMC 10.0.0.5:623" or "the BMC in-band (/dev/ipmi0)", for messages */
    /* LAN */
    char host[256]; /* "host:port" as FreeIPMI takes it */
    char user[USER_MAX + 1];
    char password[PASSWORD_MAX + 1];
    bool have_user;
    uint8_t privilege;
    const char *privilege_name;
    uint8_t cipher;
    unsigned workarounds;
    unsigned timeout_ms;
    /* in-band */
    bool inband;
    char device[256];

    int64_t period_us;
    ipmi_ctx_t ctx;
    bool connected;
    fiid_obj_t rs;
    char connect_error[512]; /* why the first connection failed, "" when it worked */
    long limit_w;            /* -1: no limit set or not known */
    long period_ms;          /* the BMC's statistics period, 0 until read */
    int ids[NSENS];
    struct wp_meter_clock clock;
    int active; /* the last measurement state seen: -1 not yet, 0 inactive, 1 active */
    int64_t next_us;
    int64_t last_request_us; /* monotonic; 0 before the first */
};

static const struct {
    const char *name;
    unsigned flag;
} workaround_names[] = {
    {"authcap", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_AUTHENTICATION_CAPABILITIES},
    {"intel20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_INTEL_2_0_SESSION},
    {"supermicro20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUPERMICRO_2_0_SESSION},
    {"sun20", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_SUN_2_0_SESSION},
    {"opensesspriv", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE},
    {"opensession-privilege", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_OPEN_SESSION_PRIVILEGE},
    {"integritycheckvalue", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NON_EMPTY_INTEGRITY_CHECK_VALUE},
    {"nochecksumcheck", IPMI_WORKAROUND_FLAGS_OUTOFBAND_2_0_NO_CHECKSUM_CHECK},
};
#define NWORKAROUNDS (sizeof(workaround_names) / sizeof(workaround_names[0]))

/* The cipher suites IPMI 2.0 defines and FreeIPMI speaks (3 and 17 are the usual ones). */
static bool cipher_valid(long c)
{
    return (c >= 0 && c <= 3) || (c >= 6 && c <= 8) || c == 11 || c == 12 || (c >= 15 && c <= 17);
}

static void disconnect(struct ipmi *p)
{
    if (p->ctx) {
        if (p->connected)
            FI.ctx_close(p->ctx);
        FI.ctx_destroy(p->ctx);
        p->ctx = NULL;
    }
    p->connected = false;
}

static void ipmi_free(struct ipmi *p)
{
    if (!p)
        return;
    disconnect(p);
    if (p->rs)
        FI.obj_destroy(p->rs);
    explicit_bzero(p->password, sizeof(p->password));
    free(p);
}

/* One sentence for a failed session open, naming what to change. */
static int open_error(struct ipmi *p, int errnum, struct wp_err *err)
{
    switch (errnum) {
    case IPMI_ERR_USERNAME_INVALID:
        return wp_errf(err, -EACCES,
                       "%s rejected user '%s': no such user on the BMC; check user= (IPMI user "
                       "names are case-sensitive)",
                       p->where, p->have_user ? p->user : "");
    case IPMI_ERR_PASSWORD_INVALID:
    case IPMI_ERR_K_G_INVALID:
        return wp_errf(err, -EACCES,
                       "%s rejected the password of user '%s'; check the password in "
                       "password_file=/password_env=",
                       p->where, p->user);
    case IPMI_ERR_PRIVILEGE_LEVEL_CANNOT_BE_OBTAINED:
        return wp_errf(err, -EACCES,
                       "%s would not grant privilege %s to user '%s': raise the user's LAN "
                       "privilege limit, give a lower privilege=, or try workaround=opensesspriv",
                       p->where, p->privilege_name, p->user);
    case IPMI_ERR_CIPHER_SUITE_ID_UNAVAILABLE:
    case IPMI_ERR_AUTHENTICATION_TYPE_UNAVAILABLE:
        return wp_errf(err, -EPROTO,
                       "%s does not accept cipher suite %u; give a suite the BMC enables "
                       "(cipher_suite=3 or 17 on most BMCs; `ipmitool lan print` lists them)",
                       p->where, p->cipher);
    case IPMI_ERR_IPMI_2_0_UNAVAILABLE:
        return wp_errf(err, -EPROTO,
                       "%s does not speak IPMI 2.0 (RMCP+), which wattprof needs; enable it in "
                       "the BMC's LAN settings",
                       p->where);
    case IPMI_ERR_CONNECTION_TIMEOUT:
    case IPMI_ERR_SESSION_TIMEOUT:
    case IPMI_ERR_MESSAGE_TIMEOUT:
        return wp_errf(err, -ETIMEDOUT,
                       "%s did not answer within %u ms: check host= and port=, that the BMC's LAN "
                       "channel is enabled, and that no firewall drops UDP to it",
                       p->where, p->timeout_ms);
    case IPMI_ERR_HOSTNAME_INVALID:
        return wp_errf(err, -EINVAL, "source %s: host=%s cannot be resolved; check host=", p->inst,
                       p->host);
    case IPMI_ERR_BAD_RMCPPLUS_STATUS_CODE:
    case IPMI_ERR_IPMI_ERROR:
    case IPMI_ERR_INTERNAL_ERROR:
        /* FreeIPMI reports a BMC that refuses the suite during RAKP as an internal error
         * (ipmi_sim with suite 17, 2026-12-03); a suite other than the usual 3 is the likely
         * cause, anything else is the BMC's own. */
        if (p->cipher != 3)
            return wp_errf(err, -EPROTO,
                           "%s refused a session with cipher suite %u (%s): the BMC does not "
                           "enable that suite; try cipher_suite=3",
                           p->where, p->cipher, FI.ctx_errormsg(p->ctx));
        /* fall through */
    default:
        return wp_errf(err, -EIO, "%s: cannot open a session: %s", p->where,
                       FI.ctx_errormsg(p->ctx));
    }
}

static int connect_bmc(struct ipmi *p, struct wp_err *err)
{
    disconnect(p);
    if (!(p->ctx = FI.ctx_create()))
        return wp_errf(err, -ENOMEM, "out of memory");
    if (p->inband) {
        /* Open the device ourselves first: FreeIPMI's own messages for a missing or locked
         * device name neither the file nor the fix. */
        int fd = open(p->device, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            disconnect(p);
            if (e == ENOENT || e == ENXIO || e == ENODEV)
                return wp_errf(err, -ENODEV,
                               "source %s: no %s: load the kernel's IPMI driver (modprobe "
                               "ipmi_si ipmi_devintf) on a machine with a BMC, or give host= to "
                               "read a BMC over the LAN",
                               p->inst, p->device);
            if (e == EACCES || e == EPERM)
                return wp_errf(err, -EACCES,
                               "source %s: %s is not readable and writable by this user: run "
                               "wattprof as root, or grant access with a udev rule (e.g. "
                               "KERNEL==\"ipmi0\", GROUP=\"ipmi\", MODE=\"0660\")",
                               p->inst, p->device);
            return wp_errf(err, -e, "source %s: cannot open %s: %s", p->inst, p->device,
                           strerror(e));
        }
        close(fd);
        if (FI.ctx_open_inband(p->ctx, IPMI_DEVICE_OPENIPMI, 0, 0, 0, p->device, 0,
                               IPMI_FLAGS_DEFAULT) < 0) {
            int rc = wp_errf(err, -ENODEV,
                             "source %s: %s opened but the OpenIPMI driver did not answer: %s",
                             p->inst, p->device, FI.ctx_errormsg(p->ctx));
            disconnect(p);
            return rc;
        }
    } else if (FI.ctx_open_outofband_2_0(p->ctx, p->host, p->have_user ? p->user : NULL,
                                         p->password[0] ? p->password : NULL, NULL, 0, p->privilege,
                                         p->cipher, p->timeout_ms, p->timeout_ms / 4,
                                         p->workarounds, IPMI_FLAGS_DEFAULT) < 0) {
        int rc = open_error(p, FI.ctx_errnum(p->ctx), err);
        disconnect(p);
        return rc;
    }
    p->connected = true;
    return 0;
}

/* One sentence for a failed DCMI request; *lost says whether the session is gone. */
static int request_error(struct ipmi *p, const char *what, bool *lost, struct wp_err *err)
{
    int errnum = FI.ctx_errnum(p->ctx);
    *lost = false;
    switch (errnum) {
    case IPMI_ERR_PRIVILEGE_LEVEL_INSUFFICIENT:
        return wp_errf(err, -EACCES,
                       "%s refused DCMI %s at privilege %s (insufficient privilege): give "
                       "privilege=admin (or operator), or allow DCMI at %s privilege on the BMC",
                       p->where, what, p->privilege_name, p->privilege_name);
    case IPMI_ERR_COMMAND_INVALID_OR_UNSUPPORTED:
        return wp_errf(err, -ENOTSUP,
                       "%s does not support DCMI %s: it has no DCMI power management (try the "
                       "redfish source, or hwmon's acpi_power_meter in-band)",
                       p->where, what);
    case IPMI_ERR_BAD_COMPLETION_CODE:
    case IPMI_ERR_BMC_BUSY:
        return wp_errf(err, -EIO, "%s answered DCMI %s with an error: %s", p->where, what,
                       FI.ctx_errormsg(p->ctx));
    default:
        /* Anything else is the session or the link: a BMC that restarted forgets our
         * session and stays silent, so start a new one on the next poll. */
        *lost = true;
        if (errnum == IPMI_ERR_SESSION_TIMEOUT || errnum == IPMI_ERR_MESSAGE_TIMEOUT ||
            errnum == IPMI_ERR_CONNECTION_TIMEOUT)
            return wp_errf(err, -ETIMEDOUT,
                           "%s stopped answering (no reply to DCMI %s within %u ms)", p->where,
                           what, p->timeout_ms);
        return wp_errf(err, -EIO, "%s: DCMI %s failed: %s", p->where, what,
                       FI.ctx_errormsg(p->ctx));
    }
}

/* Reads the power limit: limit_w = W, or -1 when the BMC has none set (completion code
 * 0x80) or will not say. */
static void read_limit(struct ipmi *p)
{
    p->limit_w = -1;
    fiid_obj_t rs = FI.obj_create(FI.tmpl_power_limit_rs);
    if (!rs)
        return;
    uint64_t v;
    if (FI.cmd_dcmi_get_power_limit(p->ctx, rs) == 0 &&
        FI.obj_get(rs, "power_limit_requested", &v) > 0 && v > 0)
        p->limit_w = (long)v;
    FI.obj_destroy(rs);
}

static int parse_options(struct ipmi *p, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    int rc;
    const char *host = wp_source_cfg_get(cfg, "host");
    const char *v;
    p->inband = !host;
    if ((rc = wp_source_cfg_duration_us(cfg, "interval", PERIOD_DEFAULT_US, PERIOD_MIN_US,
                                        PERIOD_MAX_US, &p->period_us, err)) < 0)
        return rc;
    int64_t timeout_us;
    if ((rc = wp_source_cfg_duration_us(cfg, "timeout", TIMEOUT_DEFAULT_US, TIMEOUT_MIN_US,
                                        TIMEOUT_MAX_US, &timeout_us, err)) < 0)
        return rc;
    p->timeout_ms = (unsigned)(timeout_us / 1000);
    if (p->inband) {
        static const char *const lan_only[] = {"port",         "user",      "password_file",
                                               "password_env", "privilege", "cipher_suite",
                                               "workaround",   "password"};
        for (size_t i = 0; i < sizeof(lan_only) / sizeof(lan_only[0]); i++)
            if (wp_source_cfg_get(cfg, lan_only[i]))
                return wp_errf(err, -EINVAL,
                               "source %s: %s= is for a BMC over the LAN; give host= too, or "
                               "leave it out to read the BMC in-band",
                               cfg->name, lan_only[i]);
        v = wp_source_cfg_get(cfg, "device");
        snprintf(p->device, sizeof(p->device), "%s", v && *v ? v : "/dev/ipmi0");
        snprintf(p->where, sizeof(p->where), "the BMC in-band (%s)", p->device);
        return 0;
    }
    if (wp_source_cfg_get(cfg, "device"))
        return wp_errf(err, -EINVAL,
                       "source %s: device= is for in-band access; leave out host= to use it",
                       cfg->name);
    if (!*host || strlen(host) > 200 || strchr(host, ':'))
        return wp_errf(err, -EINVAL,
                       "source %s: host=%s is not a host name or IPv4 address (give the port "
                       "with port=)",
                       cfg->name, host);
    long port = 623;
    if ((v = wp_source_cfg_get(cfg, "port"))) {
        char *end;
        port = strtol(v, &end, 10);
        if (end == v || *end || port < 1 || port > 65535)
            return wp_errf(err, -EINVAL, "source %s: port=%s is not a port (1-65535)", cfg->name,
                           v);
    }
    snprintf(p->host, sizeof(p->host), "%s:%ld", host, port);
    snprintf(p->where, sizeof(p->where), "BMC %s", p->host);
    if ((v = wp_source_cfg_get(cfg, "user"))) {
        if (strlen(v) > USER_MAX)
            return wp_errf(err, -EINVAL, "source %s: user=%s is longer than IPMI's 16 characters",
                           cfg->name, v);
        snprintf(p->user, sizeof(p->user), "%s", v);
        p->have_user = true;
    }
    char pw[256];
    rc = wp_source_cfg_secret(cfg, "password", pw, sizeof(pw), err);
    if (rc == 0 && strlen(pw) > PASSWORD_MAX)
        rc = wp_errf(err, -EINVAL,
                     "source %s: the password is longer than IPMI 2.0's 20 characters; check "
                     "password_file=/password_env=",
                     cfg->name);
    if (rc == 0)
        snprintf(p->password, sizeof(p->password), "%s", pw);
    explicit_bzero(pw, sizeof(pw));
    if (rc == -ENOENT && p->have_user)
        return wp_errf(err, -EINVAL,
                       "source %s: user=%s needs a password: give password_file=PATH (a file "
                       "only you can read) or password_env=VARIABLE",
                       cfg->name, p->user);
    if (rc < 0 && rc != -ENOENT)
        return rc == -EACCES || rc == -EIO ? wp_errf(err, -EINVAL, "%s", err->msg) : rc;
    p->privilege = IPMI_PRIVILEGE_LEVEL_USER;
    p->privilege_name = "user";
    if ((v = wp_source_cfg_get(cfg, "privilege"))) {
        if (!strcmp(v, "user"))
            ;
        else if (!strcmp(v, "operator"))
            p->privilege = IPMI_PRIVILEGE_LEVEL_OPERATOR, p->privilege_name = "operator";
        else if (!strcmp(v, "admin"))
            p->privilege = IPMI_PRIVILEGE_LEVEL_ADMIN, p->privilege_name = "admin";
        else
            return wp_errf(err, -EINVAL,
                           "source %s: privilege=%s is not one of user, operator, admin", cfg->name,
                           v);
    }
    p->cipher = 3;
    if ((v = wp_source_cfg_get(cfg, "cipher_suite"))) {
        char *end;
        long c = strtol(v, &end, 10);
        if (end == v || *end || !cipher_valid(c))
            return wp_errf(err, -EINVAL,
                           "source %s: cipher_suite=%s is not an IPMI 2.0 cipher suite; give one "
                           "of 0-3, 6-8, 11, 12, 15-17 (3 and 17 are what BMCs usually enable)",
                           cfg->name, v);
        p->cipher = (uint8_t)c;
    }
    if ((v = wp_source_cfg_get(cfg, "workaround"))) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", v);
        for (char *save = NULL, *tok = strtok_r(buf, ",+", &save); tok;
             tok = strtok_r(NULL, ",+", &save)) {
            size_t i = 0;
            while (i < NWORKAROUNDS && strcmp(tok, workaround_names[i].name) != 0)
                i++;
            if (i == NWORKAROUNDS)
                return wp_errf(err, -EINVAL,
                               "source %s: workaround=%s is not a FreeIPMI workaround; give "
                               "opensesspriv, authcap, intel20, supermicro20, sun20, "
                               "integritycheckvalue or nochecksumcheck",
                               cfg->name, tok);
            p->workarounds |= workaround_names[i].flag;
        }
    }
    return 0;
}

static int ipmi_open(void **state, const struct wp_source_cfg *cfg, struct wp_err *err)
{
    struct ipmi *p = calloc(1, sizeof(*p));
    if (!p)
        return wp_errf(err, -ENOMEM, "out of memory");
    snprintf(p->inst, sizeof(p->inst), "%s", cfg->name);
    pthread_once(&fi_once, fi_load);
    if (!fi_ok) {
        free(p);
        return wp_errf(err, -ENOSYS,
                       "source %s: libfreeipmi could not be loaded (%s); install it "
                       "(Debian/Ubuntu: libfreeipmi17)",
                       cfg->name, fi_load_err);
    }
    p->limit_w = -1;
    p->active = -1;
    for (int i = 0; i < NSENS; i++)
        p->ids[i] = -1;
    wp_meter_clock_init(&p->clock, STAMP_TOLERANCE_US);
    wp_meter_clock_set_resolution(&p->clock, 1000000); /* DCMI stamps are whole seconds */
    int rc = parse_options(p, cfg, err);
    if (rc < 0)
        goto fail;
    if (!(p->rs = FI.obj_create(FI.tmpl_power_reading_rs))) {
        rc = wp_errf(err, -ENOMEM, "out of memory");
        goto fail;
    }
    struct wp_err e = {0};
    rc = connect_bmc(p, &e);
    if (rc < 0) {
        /* In-band without a device will not get one mid-run: that instance is missing. A BMC
         * on the LAN that does not answer yet (or refuses us) may be fixed while we record:
         * keep the instance, report the reason at each failed poll, and pick it up when it
         * answers. */
        if (p->inband || rc == -EINVAL) {
            wp_errf(err, rc, "%s", e.msg);
            goto fail;
        }
        snprintf(p->connect_error, sizeof(p->connect_error), "%s", e.msg);
    } else {
        read_limit(p);
    }
    *state = p;
    return 0;
fail:
    ipmi_free(p);
    return rc;
}

static int ipmi_discover(void *state, struct wp_sensors *tab, struct wp_meta *meta,
                         struct wp_err *err)
{
    struct ipmi *p = state;
    char key[96];
    /* The statistics period is a property of the BMC: read it once for the help line. */
    if (p->connected &&
        FI.cmd_dcmi_get_power_reading(p->ctx, IPMI_DCMI_POWER_READING_MODE_SYSTEM_POWER_STATISTICS,
                                      0, p->rs) == 0) {
        uint64_t v;
        if (FI.obj_get(p->rs, "statistics_reporting_time_period", &v) > 0)
            p->period_ms = (long)v;
    }
    if (p->connect_error[0]) {
        snprintf(key, sizeof(key), "missing.%s.bmc.session", p->inst);
        wp_meta_set(meta, key, p->connect_error);
    }
    snprintf(key, sizeof(key), "ipmi.%s.where", p->inst);
    wp_meta_set(meta, key, p->where);
    if (p->limit_w > 0) {
        snprintf(key, sizeof(key), "ipmi.%s.power_limit_w", p->inst);
        wp_meta_setf(meta, key, "%ld", p->limit_w);
    }
    if (p->period_ms > 0) {
        snprintf(key, sizeof(key), "ipmi.%s.statistics_period_ms", p->inst);
        wp_meta_setf(meta, key, "%ld", p->period_ms);
    }
    char period[64] = "its statistics period";
    if (p->period_ms > 0)
        snprintf(period, sizeof(period), "its %.3g s statistics period", p->period_ms / 1000.0);
    for (int i = 0; i < NSENS; i++) {
        struct wp_sensor s = {
            .device = 0,
            .quantity = WP_Q_POWER,
            .kind = WP_GAUGE,
            .cadence_us = p->period_us,
            .limit = i == S_POWER && p->limit_w > 0 ? p->limit_w : WP_NO_LIMIT,
            .default_limit = WP_NO_LIMIT,
            .scale = 1000.0, /* whole watts to mW */
            .scope = WP_SCOPE_NODE_INPUT,
            .contains = wp_scope_default_contains(WP_SCOPE_NODE_INPUT),
        };
        snprintf(s.source_kind, sizeof(s.source_kind), "ipmi");
        snprintf(s.unit, sizeof(s.unit), "W");
        snprintf(s.name, sizeof(s.name), "%s", sensor_names[i]);
        snprintf(s.device_name, sizeof(s.device_name), "%.*s", (int)sizeof(s.device_name) - 1,
                 p->where);
        if (i == S_POWER)
            snprintf(s.help, sizeof(s.help), "node input power, the BMC's current DCMI reading");
        else
            snprintf(s.help, sizeof(s.help), "node input power, the BMC's %s over %s",
                     i == S_MIN   ? "minimum"
                     : i == S_MAX ? "maximum"
                                  : "average",
                     period);
        int id = wp_sensors_add(tab, &s);
        if (id < 0)
            return wp_errf(err, -ENOMEM, "out of memory");
        p->ids[i] = id;
    }
    return NSENS;
}

/* One Get Power Reading into sink. */
static int read_power(struct ipmi *p, struct wp_sink *sink, struct wp_err *err)
{
    if (FI.obj_clear(p->rs) < 0)
        return wp_errf(err, -ENOMEM, "out of memory");
    int rc = FI.cmd_dcmi_get_power_reading(
        p->ctx, IPMI_DCMI_POWER_READING_MODE_SYSTEM_POWER_STATISTICS, 0, p->rs);
    int64_t polled_us = wp_wall_us();
    if (rc < 0) {
        bool lost;
        rc = request_error(p, "Get Power Reading", &lost, err);
        if (lost)
            disconnect(p);
        return rc;
    }
    uint64_t active = 0, stamp_s = 0, period_ms = 0, w[NSENS];
    if (FI.obj_get(p->rs, "power_reading_state.power_measurement", &active) <= 0 ||
        FI.obj_get(p->rs, "time_stamp", &stamp_s) <= 0)
        return wp_errf(err, -EIO, "%s sent a short DCMI power reading; retrying", p->where);
    for (int i = 0; i < NSENS; i++)
        if (FI.obj_get(p->rs, reading_fields[i], &w[i]) <= 0)
            return wp_errf(err, -EIO, "%s sent a short DCMI power reading; retrying", p->where);
    if (FI.obj_get(p->rs, "statistics_reporting_time_period", &period_ms) > 0 && period_ms > 0 &&
        (long)period_ms != p->period_ms) {
        if (p->period_ms > 0)
            wp_sink_event(sink, polled_us, -1, p->inst, 0,
                          "%s now reports min/max/average over %.3g s (was %.3g s)", p->where,
                          (double)period_ms / 1000.0, p->period_ms / 1000.0);
        p->period_ms = (long)period_ms;
    }
    if (!active) {
        /* The BMC has no valid measurement (DCMI: "power measurement not active"): nothing
         * is stored, so the gap shows as missing readings, never as 0 W. */
        if (p->active != 0)
            wp_sink_event(sink, polled_us, p->ids[S_POWER], p->inst, 0,
                          "%s reports its power measurement as not active; no node readings "
                          "until it is",
                          p->where);
        p->active = 0;
        return 0;
    }
    if (p->active == 0)
        wp_sink_event(sink, polled_us, p->ids[S_POWER], p->inst, 0,
                      "%s reports its power measurement as active again", p->where);
    p->active = 1;
    int64_t t_us = polled_us;
    /* A zero stamp is a BMC that keeps no clock: the poll time is all there is, and every
     * answer counts as a new reading. */
    if (stamp_s > 0 &&
        wp_meter_clock_place(&p->clock, (int64_t)stamp_s * 1000000, polled_us, &t_us) == 0)
        return 0;
    if (p->clock.announce) {
        p->clock.announce = false;
        wp_sink_event(sink, polled_us, p->ids[S_POWER], p->inst, 0,
                      "%s's clock is %.1f s off the host's; its readings are placed by their "
                      "spacing and the poll time instead of its stamps",
                      p->where, (double)p->clock.offset_us / 1e6);
    }
    for (int i = 0; i < NSENS; i++)
        if (p->ids[i] >= 0)
            wp_sink_push(sink, p->ids[i], t_us, (int64_t)w[i]);
    return 0;
}

static int ipmi_poll(void *state, int64_t now, unsigned flags, struct wp_sink *sink, int64_t *next,
                     struct wp_err *err)
{
    struct ipmi *p = state;
    /* After a run's end the recorder asks for fresh readings every few milliseconds until one
     * covers the end; a BMC stamps whole seconds and answers slowly, so asking it more often
     * than every FRESH_GAP_US only loads it. */
    bool due = now >= p->next_us ||
               ((flags & (WP_POLL_ALL | WP_POLL_FRESH)) &&
                (p->last_request_us == 0 || now - p->last_request_us >= FRESH_GAP_US));
    int rc = 0;
    if (due) {
        p->last_request_us = now;
        if (!p->connected)
            rc = connect_bmc(p, err);
        if (rc == 0)
            rc = read_power(p, sink, err);
        if (now >= p->next_us)
            p->next_us = wp_next_on_grid(p->next_us, now, p->period_us);
    }
    *next = p->next_us;
    if (rc == -ENOTSUP)
        return -ENODEV; /* a BMC without DCMI power will not grow it mid-run */
    return rc;
}

static void ipmi_close(void *state)
{
    ipmi_free(state);
}

#endif

const struct wp_source_ops wp_source_ipmi = {
    .name = "ipmi",
    .help = "the BMC's node input power via IPMI DCMI, over the LAN (host=) or in-band "
            "(/dev/ipmi0)",
    .keys = ipmi_keys,
    .flags = WP_SOURCE_BLOCKING,
    .open = ipmi_open,
    .discover = ipmi_discover,
    .poll = ipmi_poll,
    .close = ipmi_close,
};
