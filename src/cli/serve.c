/* wattprof serve: record as `record` does and serve the live readings to Prometheus. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/live_cli.h"
#include "net/http.h"

#define DEFAULT_LISTEN "127.0.0.1:9779"

static const char serve_usage[] =
    "usage: wattprof serve [--listen HOST:PORT] [-o TRACE] [--web-config FILE] [--duration S]\n"
    "                      [--force] [--quiet] [--source SPEC]... [--config FILE] [--no-auto]\n"
    "                      [--rated-w W]\n"
    "\n"
    "Records every power sensor found (as `wattprof record`; into TRACE with -o) and serves\n"
    "the readings at http://HOST:PORT/metrics for Prometheus: power, energy integrated from\n"
    "every sample, and the highest and lowest 20 ms sample over the trailing 1 s, 10 s and\n"
    "60 s, so a 15 s scrape still sees every peak. The node's power, its parts and headroom\n"
    "to --rated-w; the job's open phases (marks to the socket it prints); SLURM_JOB_ID.\n"
    "docs/serve.md lists every metric. Stops on SIGINT/SIGTERM or after --duration.\n"
    "\n"
    "serving:\n"
    "  -l, --listen HOST:PORT  where to listen (default " DEFAULT_LISTEN ", this host only;\n"
    "                      :9779 for every address; port 0 picks a free one)\n"
    "  --web-config FILE   TLS and basic auth, key = value lines (docs/serve.md):\n"
    "                        tls_cert_file = cert.pem\n"
    "                        tls_key_file = key.pem\n"
    "                        basic_auth_user = prometheus:$2y$10$...  (htpasswd -nBC 10 USER)\n"
    "  e.g.  wattprof serve --listen 0.0.0.0:9779 --web-config /etc/wattprof/web.conf\n"
    "\n"
    "recording:\n"
    "  -o, --output TRACE  also write the trace (never replaced without --force)\n"
    "  -d, --duration S    stop after S seconds (also 90s, 15m, 2h)\n"
    "  -f, --force         replace TRACE if it exists\n"
    "  -q, --quiet         only errors and warnings on stderr: not the address, the marks\n"
    "                      socket, nor the summary at the end (give --listen a fixed port)\n"
    "  e.g.  wattprof serve -o node.wptrace --rated-w 10200\n" CLI_SOURCE_HELP
    "  -h, --help          this help\n"
    "\n"
    "exit status: 0, 64 usage (also a bad web config), 65 the finished trace does not read\n"
    "back, 66 the web config, a TLS file or the trace cannot be read, 69 nothing to measure\n"
    "with, or the port cannot be used, 70 internal error, 73 TRACE exists or cannot be\n"
    "created, 74 write error.\n"
    "\n"
    "Prometheus, scraping every 15 s:\n"
    "  scrape_configs: [{job_name: wattprof, static_configs: [{targets: ['node1:9779']}]}]\n";

enum { OPT_WEB_CONFIG = 0x2000 };

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'},
        {"duration", required_argument, NULL, 'd'},
        {"web-config", required_argument, NULL, OPT_WEB_CONFIG},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        CLI_SOURCE_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *listen_addr = DEFAULT_LISTEN, *web_path = NULL;
    double duration_s = 0;
    bool force = false, quiet = false;
    struct cli_sources cs;
    cli_sources_init(&cs);
    struct wp_web_config *web = NULL;
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:o:d:fqh", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen_addr = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'd':
            if ((rc = cli_duration_option("serve", optarg, &duration_s)))
                goto done;
            break;
        case OPT_WEB_CONFIG:
            web_path = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(serve_usage, stdout);
            goto done;
        default:
            if ((rc = cli_sources_option("serve", c, optarg, &cs)) >= 0) {
                if (rc == 0)
                    continue;
                goto done;
            }
            fprintf(stderr, "Try 'wattprof serve --help'.\n");
            rc = WP_EXIT_USAGE;
            goto done;
        }
    }
    if (optind < argc) {
        cli_error("serve", "unexpected argument '%s'", argv[optind]);
        rc = WP_EXIT_USAGE;
        goto done;
    }
    if (web_path) {
        struct wp_err err = {0};
        web = calloc(1, sizeof(*web));
        if (!web) {
            rc = WP_EXIT_SOFTWARE;
            goto done;
        }
        if (wp_web_config_load(web, web_path, &err) < 0) {
            cli_error("serve", "%s", err.msg);
            rc = err.code == -EINVAL ? WP_EXIT_USAGE : WP_EXIT_NOINPUT;
            goto done;
        }
    }
    if ((rc = cli_sources_finish("serve", &cs)) ||
        (out && (rc = cli_check_trace_output("serve", out, force))))
        goto done;

    sigset_t set;
    cli_block_stop_signals(&set);
    struct cli_live lv;
    if ((rc = cli_live_start("serve", "serve", &cs, out, force, 0, cli_print_event, NULL, &lv)))
        goto done;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    struct wp_metrics_ctx ctx = {
        .sensors = wp_recorder_sensors(lv.r),
        .nsources = lv.nsources,
        .source_name = lv.source_name,
        .source_kind = lv.source_kind,
        .host = host,
        .slurm_job_id = getenv("SLURM_JOB_ID"),
        .version = WP_VERSION,
        .features = wp_http_tls_supported() ? "tls,basic_auth" : "basic_auth",
        .rated_w = cs.cfg.rated_w,
        .node_allowance_w = cs.cfg.node_allowance_w,
    };
    struct wp_http *h = NULL;
    struct wp_err err = {0};
    if (wp_http_start(&h, listen_addr, web, lv.live, &ctx, &err) < 0) {
        cli_error("serve", "%s", err.msg);
        cli_live_stop("serve", &lv, 0, true, force);
        /* A trace with a few milliseconds in it is not the user's data. */
        if (out)
            unlink(out);
        rc = err.code == -EINVAL   ? WP_EXIT_USAGE
             : err.code == -ENOENT ? WP_EXIT_NOINPUT
                                   : WP_EXIT_UNAVAILABLE;
        goto done;
    }
    if (!quiet) {
        fprintf(stderr, "wattprof serve: %zu sensors at %s://%s/metrics%s%s%s\n",
                wp_recorder_nsensors(lv.r), wp_http_tls(h) ? "https" : "http", wp_http_address(h),
                out ? "; recording to " : "", out ? out : "",
                web && web->nusers ? "; basic auth" : "");
        if (wp_recorder_socket(lv.r))
            fprintf(stderr, "wattprof serve: jobs send phase marks with WATTPROF_SOCKET=%s\n",
                    wp_recorder_socket(lv.r));
    }
    int sig = cli_wait_stop(&set, duration_s);
    wp_http_stop(h);
    rc = cli_live_stop("serve", &lv, sig, quiet, force);
done:
    free(web);
    cli_sources_free(&cs);
    return rc;
}
