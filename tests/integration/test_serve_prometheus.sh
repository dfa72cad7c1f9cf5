# `wattprof serve` scraped by Debian's Prometheus every second (issue 13, done-when 1): with
# the replayed H200s, the energy counter Prometheus stored rises at the power the trace (-o)
# recorded over the same span (within 1 %), the 10 s and 60 s windowed maxima equal the
# trace's highest 20 ms sample over the window that ends at the scraped sample time, and the
# page passes `promtool check metrics` in both formats. Also: OpenMetrics on Accept, `/`
# says what it is, basic auth and TLS from a web config.
. "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || fail "Debian's prometheus is not installed (scripts/deps.sh test)"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"' EXIT

port=$(free_port)
SLURM_JOB_ID=4242 "$WATTPROF" serve --listen 127.0.0.1:$port -o s.wptrace --duration 40 \
    --rated-w 10200 2>serve.err &
spid=$!; pids+=($spid)
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/metrics >m.txt 2>/dev/null && break; sleep 0.2; done
[ -s m.txt ] || { cat serve.err; fail "serve did not answer on 127.0.0.1:$port"; }
curl -sf http://127.0.0.1:$port/ | grep -q "wattprof serve" || fail "/ does not say what it is"
wsock=$(sed -n 's/.*WATTPROF_SOCKET=\([^ ]*\)$/\1/p' serve.err)
[ -S "$wsock" ] || { cat serve.err; fail "serve did not print its marks socket"; }
WATTPROF_SOCKET="$wsock" python3 -c 'import wattprof; wattprof.begin("train")'
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/nothing)" = 404 ] || fail "unknown path is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:$port/metrics)" = 405 ] || fail "POST is not 405"
curl -s -D hdr.txt -o /dev/null -X DELETE http://127.0.0.1:$port/
grep -qi '^Allow: GET, HEAD' hdr.txt || { cat hdr.txt; fail "a 405 does not name the allowed methods (Allow:)"; }
sleep 2
curl -sf http://127.0.0.1:$port/metrics >m.txt
promtool check metrics <m.txt || fail "promtool check metrics found problems"
expect_in m.txt 'wattprof_job_info{host="'
expect_in m.txt 'slurm_job_id="4242"'
expect_in m.txt 'wattprof_up{source="nvml",kind="nvml"} 1'
expect_in m.txt 'wattprof_node_power_watts{basis="estimated"}'
expect_in m.txt 'wattprof_phase_info{phase="train"} 1'
expect_in m.txt 'wattprof_node_rated_watts 10200'
grep -q '^wattprof_power_max_watts{.*sensor="power".*window="60s"}' m.txt || fail "no 60 s max"
curl -sf -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' \
    -D om.hdr http://127.0.0.1:$port/metrics >om.txt
expect_in om.hdr "application/openmetrics-text"
tail -n1 om.txt | grep -qx '# EOF' || fail "OpenMetrics page does not end with # EOF"
expect_in om.txt '# TYPE wattprof_energy_joules counter'
expect_in om.txt '# TYPE wattprof_build info'

# Prometheus, its own storage, scraping every second.
pport=$(free_port)
cat >prom.yml <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: wattprof
    static_configs: [{targets: ['127.0.0.1:$port']}]
YML
prometheus --config.file=prom.yml --storage.tsdb.path="$T/tsdb" \
    --web.listen-address=127.0.0.1:$pport >prom.log 2>&1 &
pids+=($!)
api=http://127.0.0.1:$pport/api/v1
for _ in $(seq 100); do curl -sf "$api/query?query=up" 2>/dev/null | grep -q '"value"' && break; sleep 0.3; done
sleep 22
# The scraped samples of GPU 0's energy, sample time and 10 s / 60 s maxima over the last 30 s.
sel='{device="0",sensor="power"}'
for m in wattprof_energy_joules_total wattprof_sample_timestamp_seconds; do
    curl -sf "$api/query" --data-urlencode "query=$m$sel[30s]" >"$m.json" || fail "query $m"
done
for w in 10s 60s; do
    curl -sf "$api/query" --data-urlencode "query=wattprof_power_max_watts{device=\"0\",sensor=\"power\",window=\"$w\"}[30s]" >max$w.json
done
curl -sf "$api/query" --data-urlencode 'query=wattprof_up' >up.json
check 'j["data"]["result"] and all(r["value"][1] == "1" for r in j["data"]["result"])' up.json
# Every query of the Grafana dashboard parses in this Prometheus and finds data.
python3 - "$api" "$(dirname "$WATTPROF")/../contrib/grafana/wattprof.json" <<'PY' || fail "a dashboard query fails"
import json, sys, urllib.parse, urllib.request
api, path = sys.argv[1], sys.argv[2]
for p in json.load(open(path))["panels"]:
    for t in p["targets"]:
        q = t["expr"].replace("$instance", ".*").replace("$__range", "1m")
        r = json.load(urllib.request.urlopen(api + "/query?" + urllib.parse.urlencode({"query": q})))
        # Without a node meter the node is estimated and has no measured rest.
        empty_ok = "wattprof_node_rest_watts" in q
        assert r["status"] == "success" and (r["data"]["result"] or empty_ok), (p["title"], q, r)
print("dashboard: every query answers")
PY
wait $spid || { cat serve.err; fail "serve exited non-zero"; }
"$WATTPROF" export s.wptrace --csv -o s.csv
python3 - <<'PY' || fail "Prometheus' numbers do not match the trace"
import csv, json
rows = [r for r in csv.DictReader(open("s.csv")) if r["device"] == "0" and r["name"] == "power"]
t = [int(r["t_us"]) for r in rows]; v = [int(r["value"]) for r in rows]
def series(f):
    return [(float(a), float(b)) for a, b in json.load(open(f))["data"]["result"][0]["values"]]
e = series("wattprof_energy_joules_total.json")
ts = series("wattprof_sample_timestamp_seconds.json")
assert len(e) >= 15 and len(e) == len(ts), (len(e), len(ts))
# Each scrape's energy and sample time come from one page: pair them by scrape time.
pair = [(ts[i][1], e[i][1]) for i in range(len(e)) if ts[i][0] == e[i][0]]
(t0, e0), (t1, e1) = pair[0], pair[-1]
us0, us1 = round(t0 * 1e6), round(t1 * 1e6)
# Trace energy over (us0, us1]: each sample covers the interval that ends at it.
ej = sum(v[i] * (t[i] - t[i - 1]) for i in range(1, len(t)) if us0 < t[i] <= us1) / 1e9
got_w, want_w = (e1 - e0) / (t1 - t0), ej / (t1 - t0)
print(f"energy counter rises at {got_w:.2f} W; the trace's mean over {t1 - t0:.1f} s is {want_w:.2f} W")
assert abs(got_w - want_w) <= 0.01 * want_w
tsmap = dict(ts)
for w, span in (("10s", 10e6), ("60s", 60e6)):
    n = 0
    for at, got in series(f"max{w}.json"):
        end = round(tsmap[at] * 1e6)
        want = max(v[i] for i in range(len(t)) if end - span < t[i] <= end) / 1000
        assert abs(got - want) < 1e-9, (w, at, got, want)
        n += 1
    print(f"{w} max equals the trace's peak over its window at {n} scrapes")
    assert n >= 15
PY


# Basic auth and TLS from a web config.
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
hash=$(htpasswd -nbBC 5 scraper s3cret | cut -d: -f2)
printf 'tls_cert_file = %s\ntls_key_file = %s\nbasic_auth_user = scraper:%s\n' \
    "$PWD/cert.pem" "$PWD/key.pem" "$hash" >web.conf
port=$(free_port)
"$WATTPROF" serve -q --listen 127.0.0.1:$port --web-config web.conf --duration 8 2>tls.err &
pids+=($!)
for _ in $(seq 50); do curl -s --cacert cert.pem https://127.0.0.1:$port/ >/dev/null 2>&1 && break; sleep 0.2; done
[ "$(curl -s --cacert cert.pem -o /dev/null -w '%{http_code}' https://127.0.0.1:$port/metrics)" = 401 ] || fail "no credentials: not 401"
[ "$(curl -s --cacert cert.pem -u scraper:wrong -o /dev/null -w '%{http_code}' https://127.0.0.1:$port/metrics)" = 401 ] || fail "wrong password: not 401"
curl -sf --cacert cert.pem -u scraper:s3cret https://127.0.0.1:$port/metrics | grep -q wattprof_power_watts \
    || { cat tls.err; fail "right password over TLS did not get the metrics"; }
code=$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:$port/metrics || true)
[ "$code" != 200 ] || fail "plain HTTP served on a TLS port"
printf 'basic_auth_user = scraper:s3cret\n' >bad.conf
expect_status 64 "$WATTPROF" serve --web-config bad.conf --duration 1
expect_in err.txt "hash"
true
