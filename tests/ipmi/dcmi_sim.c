/* A DCMI power meter for OpenIPMI's ipmi_sim, so the ipmi source is tested against a real
 * IPMI 2.0 LAN stack (RMCP+, sessions, privileges, cipher suites: all ipmi_sim's own) with
 * only the DCMI answers written here. ipmi_sim has no DCMI of its own.
 *
 * Loaded from the lan.conf with `loadlib "PATH/dcmi_sim.so" "READINGS_FILE"`. Every request
 * reads READINGS_FILE again, so a test changes what the BMC serves by rewriting it (write a
 * new file and rename it over the old one). Its lines are key=value:
 *   current=W min=W max=W avg=W   the Get Power Reading values (watts, 0..65535)
 *   period_ms=N                   the statistics period those min/max/avg cover
 *   timestamp=now|S               the reading's stamp: the BMC's clock now, or S seconds
 *   clock_offset=S                added to the stamp (a BMC whose clock is off)
 *   active=1|0                    the power measurement state
 *   limit=W                       the power limit; 0 or absent: no limit set (cc 0x80)
 * Commands answered (NetFn 0x2C, group extension 0xDC): Get DCMI Capabilities Info (0x01,
 * parameter 1), Get Power Reading (0x02), Get Power Limit (0x03). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <OpenIPMI/lanserv.h>
#include <OpenIPMI/mcserv.h>
#include <OpenIPMI/msg.h>

#define DCMI_GROUP 0xDC
#define CC_OK      0x00
#define CC_BAD_CMD 0xC1
#define CC_BAD_LEN 0xC7
#define CC_BAD_ARG 0xCC
#define CC_NOLIMIT 0x80 /* DCMI: no power limit set */

struct readings {
    long current, min, max, avg, period_ms, active, limit, clock_offset;
    long timestamp; /* -1: now */
};

static char readings_path[4096];

static void load(struct readings *r)
{
    *r = (struct readings){.active = 1, .timestamp = -1, .period_ms = 1000};
    FILE *f = fopen(readings_path, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        char key[64];
        char val[64];
        if (sscanf(line, " %63[a-z_]=%63s", key, val) != 2)
            continue;
        long v = strcmp(val, "now") == 0 ? -1 : strtol(val, NULL, 10);
        if (!strcmp(key, "current"))
            r->current = v;
        else if (!strcmp(key, "min"))
            r->min = v;
        else if (!strcmp(key, "max"))
            r->max = v;
        else if (!strcmp(key, "avg"))
            r->avg = v;
        else if (!strcmp(key, "period_ms"))
            r->period_ms = v;
        else if (!strcmp(key, "active"))
            r->active = v;
        else if (!strcmp(key, "limit"))
            r->limit = v;
        else if (!strcmp(key, "timestamp"))
            r->timestamp = v;
        else if (!strcmp(key, "clock_offset"))
            r->clock_offset = v;
    }
    fclose(f);
}

static void put16(unsigned char *p, long v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
}

static void put32(unsigned char *p, unsigned long v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)((v >> (8 * i)) & 0xff);
}

static void dcmi_handler(lmc_data_t *mc, msg_t *msg, unsigned char *rdata, unsigned int *rdata_len,
                         void *cb_data)
{
    (void)mc;
    (void)cb_data;
    struct readings r;
    load(&r);
    rdata[1] = DCMI_GROUP;
    switch (msg->cmd) {
    case 0x01: /* Get DCMI Capabilities Info: only parameter 1, supported capabilities */
        if (msg->len < 2) {
            rdata[0] = CC_BAD_LEN;
            *rdata_len = 1;
            return;
        }
        if (msg->data[1] != 1) {
            rdata[0] = CC_BAD_ARG;
            *rdata_len = 1;
            return;
        }
        rdata[0] = CC_OK;
        rdata[2] = 1; /* DCMI 1.5 */
        rdata[3] = 5;
        rdata[4] = 2;    /* parameter revision */
        rdata[5] = 0;    /* reserved */
        rdata[6] = 0x01; /* platform capabilities: power management */
        rdata[7] = 0;    /* manageability access: none of the optional ones */
        rdata[8] = 0;    /* in-band/out-of-band availability: nothing optional */
        *rdata_len = 9;
        return;
    case 0x02: { /* Get Power Reading */
        if (msg->len < 4) {
            rdata[0] = CC_BAD_LEN;
            *rdata_len = 1;
            return;
        }
        long ts = r.timestamp < 0 ? (long)time(NULL) : r.timestamp;
        ts += r.clock_offset;
        rdata[0] = CC_OK;
        put16(rdata + 2, r.current);
        put16(rdata + 4, r.min);
        put16(rdata + 6, r.max);
        put16(rdata + 8, r.avg);
        put32(rdata + 10, (unsigned long)ts);
        put32(rdata + 14, (unsigned long)r.period_ms);
        rdata[18] = r.active ? 0x40 : 0x00; /* bit 6: power measurement active */
        *rdata_len = 19;
        return;
    }
    case 0x03: /* Get Power Limit */
        if (r.limit <= 0) {
            rdata[0] = CC_NOLIMIT;
            *rdata_len = 2;
            return;
        }
        rdata[0] = CC_OK;
        memset(rdata + 2, 0, 15);
        put16(rdata + 5, r.limit); /* after 2 reserved bytes and the exception actions */
        put32(rdata + 7, 1000);    /* correction time limit, ms */
        put16(rdata + 13, 1);      /* statistics sampling period, s */
        *rdata_len = 15;
        return;
    default:
        rdata[0] = CC_BAD_CMD;
        *rdata_len = 1;
    }
}

int ipmi_sim_module_print_version(sys_data_t *sys, char *options);
int ipmi_sim_module_init(sys_data_t *sys, const char *options);

int ipmi_sim_module_print_version(sys_data_t *sys, char *options)
{
    (void)sys;
    (void)options;
    printf("wattprof dcmi_sim 1\n");
    return 0;
}

int ipmi_sim_module_init(sys_data_t *sys, const char *options)
{
    (void)sys;
    if (!options || !*options) {
        fprintf(stderr, "dcmi_sim: give the readings file as the module's option\n");
        return -1;
    }
    snprintf(readings_path, sizeof(readings_path), "%s", options);
    ipmi_emu_register_group_extension_handler(DCMI_GROUP, dcmi_handler, NULL);
    return 0;
}
