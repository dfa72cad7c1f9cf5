#!/usr/bin/env bash
# serve_check.sh: `wattprof serve` on real GPUs. It records (-o) while a load runs on GPU 0
# (a PyTorch bf16 matmul loop with pauses, so power swings), and this script scrapes /metrics
# once a second, as Prometheus would. Then it checks, per GPU:
#   - energy: the served wattprof_energy_joules_total at the last scrape against the trace's
#     integral up to the same sample (the report, report.txt, holds the trace against the GPU's
#     own counter);
#   - peaks: each scrape's 10 s max against the highest 20 ms sample of the trace over the
#     10 s before that scrape's wattprof_sample_timestamp_seconds.
# From the repository root on the GPU machine: WATTPROF=... bash bench/h200/serve_check.sh
# Writes $OUT/serve/: scrapes.txt, serve.wptrace, check.txt (also printed). About 40 s.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}/serve
mkdir -p "$OUT" || exit 1
W=${WATTPROF:-build-h200/wattprof}
SECS=${SERVE_SECONDS:-30}
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
"$W" serve -l 127.0.0.1:0 -o "$OUT/serve.wptrace" --force -d $((SECS + 6)) >"$OUT/serve.out" 2>&1 &
SP=$!
for _ in $(seq 50); do grep -q 'metrics' "$OUT/serve.out" && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*/metrics' "$OUT/serve.out" | head -n 1)
[ -n "$URL" ] || { cat "$OUT/serve.out"; exit 1; }
python3 - "$SECS" >"$OUT/load.out" 2>&1 <<'PY' &
import sys, time, torch
secs = float(sys.argv[1])
a = torch.randn(8192, 8192, device="cuda:0", dtype=torch.bfloat16)
end = time.time() + secs
while time.time() < end:
    t1 = time.time() + 3
    while time.time() < t1:
        a @ a
    torch.cuda.synchronize()
    time.sleep(2)
PY
LP=$!
: >"$OUT/scrapes.txt"
for _ in $(seq $((SECS + 2))); do
    echo "# scrape $(date +%s.%N)" >>"$OUT/scrapes.txt"
    curl -s "$URL" | grep -E '^wattprof_(energy_joules_total|device_energy_joules|power_max_watts|sample_timestamp_seconds)\{' |
        grep 'sensor="power"\|sensor="energy"' >>"$OUT/scrapes.txt"
    sleep 1
done
wait $LP
wait $SP
"$W" export "$OUT/serve.wptrace" --csv -o "$OUT/serve.csv" --force 2>/dev/null ||
    "$W" export "$OUT/serve.wptrace" --csv -o "$OUT/serve.csv"
"$W" report "$OUT/serve.wptrace" --json "$OUT/report.json" --force >"$OUT/report.txt" 2>&1
python3 - "$OUT/scrapes.txt" "$OUT/serve.csv" "$OUT/report.json" <<'PY' | tee "$OUT/check.txt"
import csv, json, re, sys
start = json.load(open(sys.argv[3]))["start_us"] / 1e6
scr, cur = [], None
for line in open(sys.argv[1]):
    if line.startswith("# scrape"):
        cur = {}; scr.append(cur); continue
    m = re.match(r'(\w+)\{(.*)\} (\S+)', line)
    lab = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
    name = m.group(1) + ("" if lab.get("sensor") == "power" else "." + lab.get("sensor", ""))
    cur[(name, lab.get("device"), lab.get("window"))] = float(m.group(3))
samples = {}
for r in csv.DictReader(open(sys.argv[2])):
    if r["source"] == "nvml" and r["name"] == "power":
        samples.setdefault(r["device"], []).append((int(r["t_us"]) / 1e6, int(r["value"]) / 1000))
for dev in sorted(samples):
    ok = [s for s in scr if ("wattprof_energy_joules_total", dev, None) in s
          and ("wattprof_sample_timestamp_seconds", dev, None) in s]
    # The served total at the last scrape against the trace's own integral from the
    # recording's start to that scrape's newest sample (each sample stands for the interval before it); the trace
    # against the GPU's counter is in the report (report.txt).
    b = ok[-1]
    t = b[("wattprof_sample_timestamp_seconds", dev, None)]
    e = b[("wattprof_energy_joules_total", dev, None)]
    sm = samples[dev]
    integ = sum(w * (ts - max(sm[i - 1][0], start)) for i, (ts, w) in enumerate(sm)
                if i > 0 and start < ts <= t + 1e-6)
    print(f"GPU {dev}: {len(ok)} scrapes; served energy {e:.1f} J at the last, the trace's "
          f"integral to the same sample {integ:.1f} J ({100 * (e - integ) / integ:+.3f} %)")
    n = same = 0
    worst = 0.0
    for s in ok:
        k = ("wattprof_power_max_watts", dev, "10s")
        t = s.get(("wattprof_sample_timestamp_seconds", dev, None))
        if k not in s or t is None:
            continue
        want = max((w for ts, w in samples[dev] if t - 10 < ts <= t + 1e-6), default=None)
        if want is None:
            continue
        n += 1
        same += abs(s[k] - want) < 0.0015
        worst = max(worst, abs(s[k] - want))
    print(f"GPU {dev}: 10 s max equal to the trace's highest 20 ms sample in {same} of {n} "
          f"scrapes (largest difference {worst:.3f} W)")
PY
