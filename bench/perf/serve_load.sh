#!/usr/bin/env bash
# Load on `wattprof serve` (issue 13, done-when 2): wrk holds RATE requests/s on /metrics for
# SECONDS after a warm-up of WARMUP s (default 70: the live view keeps 60 s of samples per
# reading, so its memory grows until the 60 s window is full; steady state starts after it),
# while serve records GPUS replayed H200s (fake NVML) into a
# trace. Passes when wrk saw no error and no non-200 answer, the rate held, serve's RSS stayed
# within 1 MB (1024 kB) after the warm-up, and the trace holds every 20 ms sample the fake
# served (bench/perf/check_complete.py). Bounded: everything stops by itself.
# usage: bench/perf/serve_load.sh [SECONDS=60] [RATE=2000] [GPUS=8]
#        (env: BUILD=build, WARMUP=70, RSS_LIMIT_KB=1024 or none)
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60} rate=${2:-2000} gpus=${3:-8} warmup=${WARMUP:-70}
BUILD=${BUILD:-build}
wp="$PWD/$BUILD/wattprof"
[ -x "$wp" ] || { echo "build first: make" >&2; exit 66; }
command -v wrk >/dev/null || { echo "needs Debian's wrk (scripts/deps.sh test)" >&2; exit 69; }
export WATTPROF_NVML_LIB="$PWD/$BUILD/fake-nvml/libnvidia-ml.so.1"
export FAKE_NVML_TRACE="$PWD/tests/fixtures/h200/buffer-2gpu.csv.gz" FAKE_NVML_GPUS=$gpus
export WATTPROF_SYSFS_ROOT="$PWD/tests/fixtures/sysfs/empty"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wattprof-load-XXXXXX")
spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
# serve stops by itself well after wrk is done, whatever happens to this script.
"$wp" serve -q --listen 127.0.0.1:$port -o "$tmp/load.wptrace" --duration $((secs + warmup + 60)) \
    2>"$tmp/serve.err" &
spid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:$port/metrics -o "$tmp/page.txt" && break; sleep 0.2; done
# wrk paces each connection: CONN connections, each waiting DELAY ms after every answer,
# make at most CONN * 1000 / DELAY requests/s; aiming 30 % above RATE covers the answer time
# and a busy machine's scheduling (at a load average of 6 on 2 cores, 10 % fell short).
conn=32
delay=$(python3 -c "print(max(1, int($conn * 1000 / ($rate * 1.3))))")
printf 'function delay() return %s end\n' "$delay" >"$tmp/pace.lua"
url=http://127.0.0.1:$port/metrics
wrk -t1 -c$conn -d${warmup}s -s "$tmp/pace.lua" "$url" >"$tmp/warm.txt"
curl -sf "$url" -o "$tmp/page.txt"
rss() { awk '/^VmRSS/ {print $2}' /proc/$spid/status; }
cpu() { awk '{print $14 + $15}' /proc/$spid/stat; }
(for _ in $(seq "$secs"); do rss; sleep 1; done) >"$tmp/rss.txt" &
rpid=$!
cpu0=$(cpu) load0=$(cut -d' ' -f1-3 /proc/loadavg)
wrk -t1 -c$conn -d${secs}s -s "$tmp/pace.lua" --latency "$url" >"$tmp/wrk.txt"
cpu1=$(cpu) load1=$(cut -d' ' -f1-3 /proc/loadavg)
wait $rpid
kill -INT $spid
wait $spid || { cat "$tmp/serve.err"; echo "serve exited with an error" >&2; exit 1; }
spid=
"$wp" export "$tmp/load.wptrace" --csv -s power -o "$tmp/p.csv"
ok=1
python3 bench/perf/check_complete.py "$tmp/p.csv" "$FAKE_NVML_TRACE" >"$tmp/complete.txt" || ok=0
dropped=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select value from meta where key=\"dropped_samples\"").fetchone()[0])' "$tmp/load.wptrace")
reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
rps=$(awk '/^Requests\/sec/ {print $2}' "$tmp/wrk.txt")
errs=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.txt" || true)
p99=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.txt")
read -r rmin rmax < <(sort -n "$tmp/rss.txt" | sed -n '1p;$p' | paste -sd' ')
hz=$(getconf CLK_TCK)
lost=$(awk '{s += $(NF-4)} END {print s}' "$tmp/complete.txt")
echo "wattprof serve under wrk: $secs s at a target of $rate requests/s after $warmup s of warm-up, $gpus replayed GPUs, page $(wc -c <"$tmp/page.txt") bytes"
echo "| requests | requests/s | errors | p99 latency | RSS min-max after warm-up | serve CPU | 20 ms samples lost | dropped | load avg before -> after |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "| $reqs | $rps | ${errs:-none} | $p99 | $rmin-$rmax kB ($((rmax - rmin)) kB) | $(python3 -c "print(f'{($cpu1 - $cpu0) / $hz / $secs * 100:.1f} % of a core')") | $lost | $dropped | $load0 -> $load1 |"
cat "$tmp/complete.txt"
[ -z "$errs" ] || { echo "FAIL: wrk saw errors"; ok=0; }
python3 -c "import sys; sys.exit(float('$rps') < $rate * 0.99)" || { echo "FAIL: the rate did not hold"; ok=0; }
limit=${RSS_LIMIT_KB:-1024}
[ "$limit" = none ] || [ $((rmax - rmin)) -le "$limit" ] || { echo "FAIL: RSS grew by more than $limit kB"; ok=0; }
[ "$dropped" = 0 ] || { echo "FAIL: the recorder dropped samples"; ok=0; }
[ $ok = 1 ] && echo PASS
[ $ok = 1 ]
