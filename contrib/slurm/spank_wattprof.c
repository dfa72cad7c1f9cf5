/* wattprof for Slurm: a SPANK plugin that records every job on every node it runs on.
 *
 * Why SPANK and not prolog/epilog scripts: the job's steps are what a user wants energy for,
 * and only SPANK sees them start and end. slurm_spank_init/slurm_spank_exit run as root in
 * every step's slurmstepd, once per step and node (not once per task, as TaskProlog does), so
 * each step becomes a phase without a script per task and without giving the user's tasks
 * rights over the recorder. The node-level part (start and stop the recorder) is the same
 * plugin's job_prolog/job_epilog, so a site installs one file and one plugstack line.
 *
 * On each node of a job:
 *   job_prolog  starts `wattprof record -o DIR/job-JOBID-HOST.wptrace` in the background (as
 *               root, detached), waits until its marks socket exists, and gives that socket to
 *               the job's user, so the job's own marks (python/wattprof, libwattprof) arrive.
 *   init/exit   of every step (remote context): "begin step.N" / "end step.N" to that socket
 *               ("step.batch" for the batch script, "step.extern", "step.interactive"), and
 *               WATTPROF_SOCKET in the step's environment.
 *   exit of the batch step: appends "wattprof HOST: GPU 1.23 kJ, node 2.34 kJ (estimated), GPU
 *               peak 812 W" to the job's comment (scontrol update; `scontrol show job`, and
 *               sacct where accounting stores comments: AccountingStoreFlags=job_comment). It
 *               must happen here: slurmctld refuses to update a job once it is completing
 *               ("Job has already finished", Slurm 22.05), which is when epilogs run. So the
 *               comment holds the batch host's energy up to the batch script's end.
 *   job_epilog  stops the recorder (SIGTERM; it writes the end of the trace), runs `wattprof
 *               report` into DIR/job-JOBID-HOST.txt and .json, and appends one line per job
 *               and node to the site's energy log (log=, default DIR/energy.log):
 *               "job=ID host=H start_us= end_us= gpu_energy_j= node_energy_j= node_estimated=
 *               gpu_peak_w=" (-1 where the report had no number). These are the final figures.
 * Then `wattprof merge DIR/job-JOBID-*.wptrace -o job-JOBID.wptrace` gives the cluster view.
 *
 * plugstack.conf (one line):
 *   optional /usr/lib/wattprof/spank_wattprof.so dir=/var/lib/wattprof/jobs
 *            [wattprof=/usr/bin/wattprof] [config=/etc/wattprof.conf] [log=FILE]
 *            [comment=yes|no] [scontrol=/usr/bin/scontrol] [squeue=/usr/bin/squeue]
 * "optional": a node where wattprof cannot record still runs jobs; nothing here ever fails a
 * job (every callback returns 0 and logs what went wrong to slurmd's log and
 * DIR/job-JOBID-HOST.log).
 *
 * Known limits: Slurm has no atomic comment append, so two jobs' batch steps never race, but a
 * user's own `scontrol update Comment=` at that moment can lose the line (never the files in DIR).
 * Marks from steps on other nodes land in those nodes' traces. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/spank.h>

SPANK_PLUGIN(wattprof, 1);

#define WAIT_SOCKET_MS 10000 /* a recorder opens its sources and socket in well under 1 s */
#define WAIT_STOP_MS   60000 /* stopping reads a 2-3 s tail, then summarises */

struct cfg {
    char wattprof[512], dir[512], config[512], scontrol[512], squeue[512], log[512];
    int comment;
};

static int parse_args(int ac, char **av, struct cfg *c)
{
    snprintf(c->wattprof, sizeof(c->wattprof), "wattprof");
    snprintf(c->scontrol, sizeof(c->scontrol), "scontrol");
    snprintf(c->squeue, sizeof(c->squeue), "squeue");
    c->dir[0] = c->config[0] = c->log[0] = '\0';
    c->comment = 1;
    for (int i = 0; i < ac; i++) {
        const char *eq = strchr(av[i], '=');
        if (!eq) {
            slurm_error("wattprof: plugstack argument '%s' is not KEY=VALUE", av[i]);
            return -1;
        }
        size_t k = (size_t)(eq - av[i]);
        const char *v = eq + 1;
        char *dst = NULL;
        size_t cap = 0;
        if (k == 8 && strncmp(av[i], "wattprof", k) == 0)
            dst = c->wattprof, cap = sizeof(c->wattprof);
        else if (k == 3 && strncmp(av[i], "dir", k) == 0)
            dst = c->dir, cap = sizeof(c->dir);
        else if (k == 6 && strncmp(av[i], "config", k) == 0)
            dst = c->config, cap = sizeof(c->config);
        else if (k == 8 && strncmp(av[i], "scontrol", k) == 0)
            dst = c->scontrol, cap = sizeof(c->scontrol);
        else if (k == 6 && strncmp(av[i], "squeue", k) == 0)
            dst = c->squeue, cap = sizeof(c->squeue);
        else if (k == 3 && strncmp(av[i], "log", k) == 0)
            dst = c->log, cap = sizeof(c->log);
        else if (k == 7 && strncmp(av[i], "comment", k) == 0)
            c->comment = strcmp(v, "no") != 0 && strcmp(v, "0") != 0;
        else {
            slurm_error("wattprof: unknown plugstack argument '%s' (dir=, wattprof=, config=, "
                        "log=, comment=, scontrol=, squeue=)",
                        av[i]);
            return -1;
        }
        if (dst && (size_t)snprintf(dst, cap, "%s", v) >= cap) {
            slurm_error("wattprof: plugstack argument '%.40s...' is too long", av[i]);
            return -1;
        }
    }
    if (!c->dir[0]) {
        slurm_error("wattprof: plugstack line needs dir=DIRECTORY (where job traces go)");
        return -1;
    }
    if (!c->log[0] &&
        (size_t)snprintf(c->log, sizeof(c->log), "%s/energy.log", c->dir) >= sizeof(c->log)) {
        slurm_error("wattprof: dir= is too long");
        return -1;
    }
    return 0;
}

static void node_name(char *buf, size_t cap)
{
    const char *n = getenv("SLURMD_NODENAME");
    if (n && *n)
        snprintf(buf, cap, "%s", n);
    else if (gethostname(buf, cap) < 0)
        snprintf(buf, cap, "unknown");
    buf[cap - 1] = '\0';
}

/* The job id: SPANK's item where this context has it, else the prolog's environment. */
static int job_id(spank_t sp, uint32_t *id)
{
    if (spank_get_item(sp, S_JOB_ID, id) == ESPANK_SUCCESS && *id)
        return 0;
    const char *e = getenv("SLURM_JOB_ID");
    if (!e || !*e)
        e = getenv("SLURM_JOBID");
    char *end = NULL;
    unsigned long v = e ? strtoul(e, &end, 10) : 0;
    if (!e || end == e || *end || v == 0 || v > UINT32_MAX)
        return -1;
    *id = (uint32_t)v;
    return 0;
}

static void paths(const struct cfg *c, uint32_t id, char *base, char *run, size_t cap)
{
    char host[64];
    node_name(host, sizeof(host));
    snprintf(base, cap, "%s/job-%u-%s", c->dir, id, host);
    snprintf(run, cap, "%s/.run-%u-%s", c->dir, id, host);
}

/* The recorder's socket in its run directory ("" when there is none yet). */
static void find_socket(const char *run, char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir(run);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "wattprof-", 9) == 0 && n > 5 &&
            strcmp(e->d_name + n - 5, ".sock") == 0) {
            snprintf(out, cap, "%s/%s", run, e->d_name);
            break;
        }
    }
    closedir(d);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Alive and not a zombie (a container's init may never reap the detached recorder). */
static int alive(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 0;
    char p[64], buf[256];
    snprintf(p, sizeof(p), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return !(rp && rp[1] == ' ' && rp[2] == 'Z');
}

static void send_mark(const char *sock, const char *msg)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock) >= sizeof(sa.sun_path)) {
        close(fd);
        return; /* the recorder could not have bound it either */
    }
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
        slurm_info("wattprof: could not send '%s' to %s: %s", msg, sock, strerror(errno));
    close(fd);
}

/* Runs argv with stdout to out_path (NULL: /dev/null) and waits; its exit status or -1. */
static int run_wait(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int er = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || out < 0 || er < 0)
            _exit(127);
        dup2(in, 0);
        dup2(out, 1);
        dup2(er, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- node level: start and stop the recorder ---- */

int slurm_spank_job_prolog(spank_t sp, int ac, char **av)
{
    struct cfg c;
    uint32_t id;
    if (parse_args(ac, av, &c) < 0)
        return 0;
    if (job_id(sp, &id) < 0) {
        slurm_error("wattprof: no job id in the prolog; not recording");
        return 0;
    }
    char base[1024], run[1024], trace[1100], log[1100], pidf[1100], sock[1400];
    paths(&c, id, base, run, sizeof(base));
    snprintf(trace, sizeof(trace), "%s.wptrace", base);
    snprintf(log, sizeof(log), "%s.log", base);
    snprintf(pidf, sizeof(pidf), "%s/pid", run);
    if (mkdir(c.dir, 0755) < 0 && errno != EEXIST) {
        slurm_error("wattprof: cannot create %s: %s; not recording job %u", c.dir, strerror(errno),
                    id);
        return 0;
    }
    if (mkdir(run, 0700) < 0) {
        slurm_error("wattprof: cannot create %s: %s; not recording job %u", run, strerror(errno),
                    id);
        return 0;
    }
    char idbuf[16];
    snprintf(idbuf, sizeof(idbuf), "%u", id);
    pid_t pid = fork();
    if (pid < 0) {
        slurm_error("wattprof: fork failed: %s", strerror(errno));
        return 0;
    }
    if (pid == 0) {
        /* Detached twice: the recorder outlives this prolog process and belongs to no
         * terminal or session of Slurm's. */
        setsid();
        pid_t g = fork();
        if (g != 0)
            _exit(g < 0 ? 1 : 0);
        int in = open("/dev/null", O_RDONLY);
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (in < 0 || out < 0)
            _exit(127);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        FILE *pf = fopen(pidf, "w");
        if (pf) {
            fprintf(pf, "%ld\n", (long)getpid());
            fclose(pf);
        }
        setenv("TMPDIR", run, 1); /* the marks socket goes there */
        setenv("SLURM_JOB_ID", idbuf, 1);
        char *argv[8] = {c.wattprof, "record", "-o", trace, NULL, NULL, NULL};
        if (c.config[0]) {
            argv[4] = "--config";
            argv[5] = c.config;
        }
        execvp(argv[0], argv);
        fprintf(stderr, "wattprof spank: cannot run %s: %s\n", c.wattprof, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    /* Steps start right after the prolog: wait for the socket so their begin marks land. */
    for (int waited = 0; waited < WAIT_SOCKET_MS; waited += 20) {
        find_socket(run, sock, sizeof(sock));
        if (sock[0])
            break;
        /* A recorder that already exited (no wattprof there, nothing to measure) has said
         * why in its log; the job need not wait the whole time for it. */
        FILE *pf = fopen(pidf, "r");
        long rp = 0;
        if (pf && fscanf(pf, "%ld", &rp) == 1 && rp > 1 && !alive((pid_t)rp)) {
            fclose(pf);
            break;
        }
        if (pf)
            fclose(pf);
        sleep_ms(20);
    }
    if (!sock[0]) {
        slurm_error("wattprof: the recorder for job %u did not start in %d s; see %s", id,
                    WAIT_SOCKET_MS / 1000, log);
        return 0;
    }
    /* The job's own marks come from the user's processes. */
    uid_t uid;
    gid_t gid;
    if (spank_get_item(sp, S_JOB_UID, &uid) == ESPANK_SUCCESS &&
        spank_get_item(sp, S_JOB_GID, &gid) == ESPANK_SUCCESS) {
        if (chown(run, uid, gid) < 0 || chown(sock, uid, gid) < 0)
            slurm_info("wattprof: cannot give %s to uid %u: %s", sock, (unsigned)uid,
                       strerror(errno));
    }
    return 0;
}

static double jnum(json_t *root, const char *a, const char *b)
{
    json_t *o = json_object_get(root, a);
    json_t *v = o ? json_object_get(o, b) : NULL;
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* "wattprof HOST: GPU 1.23 kJ, node 2.34 kJ (estimated), GPU peak 812 W" from the report; with
 * rec, also the energy log's record of it (see write_record). */
static int energy_line(const char *json_path, char *out, size_t cap, uint32_t id, char *rec,
                       size_t rcap)
{
    json_error_t e;
    json_t *j = json_load_file(json_path, 0, &e);
    if (!j)
        return -1;
    char host[64], node[96] = "", gpu[64] = "no GPU", peak[64] = "";
    node_name(host, sizeof(host));
    double g = jnum(j, "total", "energy_j"), p = jnum(j, "total", "peak_w");
    double n = jnum(j, "node", "energy_j");
    json_t *nd = json_object_get(j, "node");
    int est = json_is_true(json_object_get(nd, "estimated"));
    if (g >= 0)
        snprintf(gpu, sizeof(gpu), "GPU %.2f kJ", g / 1000.0);
    if (n >= 0)
        snprintf(node, sizeof(node), ", node %.2f kJ%s", n / 1000.0, est ? " (estimated)" : "");
    if (p >= 0)
        snprintf(peak, sizeof(peak), ", GPU peak %.0f W", p);
    snprintf(out, cap, "wattprof %s: %s%s%s", host, gpu, node, peak);
    if (rec) {
        json_t *s0 = json_object_get(j, "start_us"), *s1 = json_object_get(j, "end_us");
        snprintf(rec, rcap,
                 "job=%u host=%s start_us=%lld end_us=%lld gpu_energy_j=%.3f node_energy_j=%.3f "
                 "node_estimated=%d gpu_peak_w=%.1f\n",
                 id, host, json_is_integer(s0) ? (long long)json_integer_value(s0) : -1,
                 json_is_integer(s1) ? (long long)json_integer_value(s1) : -1, g, n, est, p);
    }
    json_decref(j);
    return 0;
}

/* One line per job and node in the site's energy log (log=, default DIR/energy.log), written
 * with one O_APPEND write so that nodes sharing the file never interleave; -1 marks a number
 * the report did not have. */
static void write_record(const struct cfg *c, const char *rec)
{
    int fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, rec, strlen(rec)) != (ssize_t)strlen(rec))
        slurm_error("wattprof: cannot append to %s: %s", c->log, strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* Appends line to the job's comment: read it with squeue, write it with scontrol. Their
 * complaints go to log (the recorder's log, beside the trace). */
static void append_comment(const struct cfg *c, uint32_t id, const char *line, const char *log)
{
    char idbuf[16], cur[2048] = "", tmp[] = "/tmp/wattprof-spank-XXXXXX";
    snprintf(idbuf, sizeof(idbuf), "%u", id);
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        close(fd);
        char *q[] = {(char *)c->squeue, "-h", "-t", "all", "-j", idbuf, "-o", "%k", NULL};
        if (run_wait(q, tmp, log) == 0) {
            FILE *f = fopen(tmp, "r");
            if (f) {
                if (!fgets(cur, sizeof(cur), f))
                    cur[0] = '\0';
                fclose(f);
            }
        }
        unlink(tmp);
    }
    cur[strcspn(cur, "\n")] = '\0';
    if (strcmp(cur, "(null)") == 0)
        cur[0] = '\0';
    char arg[4096];
    snprintf(arg, sizeof(arg), "Comment=%s%s%s", cur, cur[0] ? "; " : "", line);
    char jarg[32];
    snprintf(jarg, sizeof(jarg), "JobId=%s", idbuf);
    char *u[] = {(char *)c->scontrol, "update", jarg, arg, NULL};
    int rc = run_wait(u, NULL, log);
    if (rc != 0)
        slurm_error("wattprof: scontrol update of job %u's comment failed (status %d); see %s", id,
                    rc, log);
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
    struct cfg c;
    uint32_t id;
    if (parse_args(ac, av, &c) < 0 || job_id(sp, &id) < 0)
        return 0;
    char base[1024], run[1024], pidf[1100], trace[1100], txt[1100], json[1100], log[1100];
    paths(&c, id, base, run, sizeof(base));
    snprintf(pidf, sizeof(pidf), "%s/pid", run);
    snprintf(trace, sizeof(trace), "%s.wptrace", base);
    snprintf(txt, sizeof(txt), "%s.txt", base);
    snprintf(json, sizeof(json), "%s.json", base);
    snprintf(log, sizeof(log), "%s.log", base);
    FILE *f = fopen(pidf, "r");
    long pid = 0;
    if (!f || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
        if (f)
            fclose(f);
        return 0; /* nothing was started (the prolog said why) */
    }
    fclose(f);
    kill((pid_t)pid, SIGTERM);
    int waited = 0;
    while (alive((pid_t)pid) && waited < WAIT_STOP_MS) {
        sleep_ms(50);
        waited += 50;
    }
    if (alive((pid_t)pid))
        slurm_error("wattprof: the recorder of job %u (pid %ld) did not stop in %d s", id, pid,
                    WAIT_STOP_MS / 1000);
    unlink(pidf);
    rmdir(run); /* the recorder removed its socket */
    char *r[] = {c.wattprof, "report", trace, "--json", json, "--force", NULL};
    int rc = run_wait(r, txt, log);
    if (rc != 0 && rc != 65) {
        slurm_error("wattprof: `wattprof report %s` failed (status %d); see %s", trace, rc, log);
        return 0;
    }
    char line[512], rec[512];
    if (energy_line(json, line, sizeof(line), id, rec, sizeof(rec)) == 0)
        write_record(&c, rec);
    return 0;
}

/* The job's comment must be written while the job runs: slurmctld refuses updates to a
 * completing job ("Job has already finished", Slurm 22.05), and the epilog runs then. So the
 * batch step's end writes it, from the recording so far (all but its last second). */
static void comment_at_batch_end(const struct cfg *c, uint32_t id, const char *base,
                                 const char *run)
{
    char trace[1100], json[1100], log[1100], line[512];
    snprintf(trace, sizeof(trace), "%s.wptrace", base);
    snprintf(json, sizeof(json), "%s/batch-end.json", run);
    snprintf(log, sizeof(log), "%s.log", base);
    char *r[] = {(char *)c->wattprof, "report", trace, "--json", json, "--force", NULL};
    int rc = run_wait(r, NULL, log);
    if ((rc == 0 || rc == 65) && energy_line(json, line, sizeof(line), id, NULL, 0) == 0)
        append_comment(c, id, line, log);
    unlink(json);
}

/* ---- every step: its begin and end as a phase ---- */

static char step_sock[1400];
static char step_name[48];
static uint32_t step_id;

static void step_label(uint32_t step, char *out, size_t cap)
{
    if (step == SLURM_BATCH_SCRIPT)
        snprintf(out, cap, "step.batch");
    else if (step == SLURM_EXTERN_CONT)
        snprintf(out, cap, "step.extern");
    else if (step == SLURM_INTERACTIVE_STEP)
        snprintf(out, cap, "step.interactive");
    else
        snprintf(out, cap, "step.%u", step);
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
    if (spank_context() != S_CTX_REMOTE)
        return 0;
    struct cfg c;
    uint32_t id, step;
    if (parse_args(ac, av, &c) < 0 || job_id(sp, &id) < 0 ||
        spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS)
        return 0;
    char base[1024], run[1024], msg[96];
    paths(&c, id, base, run, sizeof(base));
    find_socket(run, step_sock, sizeof(step_sock));
    if (!step_sock[0])
        return 0;
    step_id = step;
    step_label(step, step_name, sizeof(step_name));
    snprintf(msg, sizeof(msg), "begin %s", step_name);
    send_mark(step_sock, msg);
    spank_setenv(sp, "WATTPROF_SOCKET", step_sock, 1);
    return 0;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
    if (spank_context() != S_CTX_REMOTE || !step_sock[0])
        return 0;
    char msg[96];
    snprintf(msg, sizeof(msg), "end %s", step_name);
    send_mark(step_sock, msg);
    struct cfg c;
    uint32_t id;
    if (step_id == SLURM_BATCH_SCRIPT && parse_args(ac, av, &c) == 0 && c.comment &&
        job_id(sp, &id) == 0) {
        char base[1024], run[1024];
        paths(&c, id, base, run, sizeof(base));
        comment_at_batch_end(&c, id, base, run);
    }
    return 0;
}
