#!/usr/bin/env bash
# node_check.sh: what wattprof finds on a GPU machine and why the rest is missing (`list`,
# `list --kinds`, every automatic kind), and the recorder's job window on real GPUs: a 0.3 s
# job's duration, and a 3 s job's coverage and trace-vs-counter energy per GPU. Run from the
# repository root after bench/h200/validate.sh has built build-h200/ (or with WATTPROF set).
# Writes $OUT/node.txt (also printed).
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}
W=${WATTPROF:-build-h200/wattprof}
mkdir -p "$OUT"
T=$(mktemp -d /tmp/wpnode.XXXXXX)
exec > >(tee "$OUT/node.txt") 2>&1

echo "== $(date -u +%FT%TZ) $(hostname); $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1)"
echo "== ls /sys/class/powercap /sys/class/hwmon /dev/ipmi0; perf power PMU; perf_event_paranoid"
ls /sys/class/powercap /sys/class/hwmon /dev/ipmi0 2>&1 | head -n 20
ls /sys/bus/event_source/devices/power/events 2>&1 | head -n 10
cat /proc/sys/kernel/perf_event_paranoid 2>&1
echo "== wattprof list (as $(id -un))"
"$W" list
echo "exit $?"
echo "== wattprof list --kinds"
"$W" list --kinds
echo "== the job window"
"$W" run -q --json "$T/short.json" -- sleep 0.3
"$W" run -q --json "$T/s3.json" -- sleep 3
python3 - "$T/short.json" "$T/s3.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"sleep 0.3: duration_s {s['duration_s']:.4f}")
j = json.load(open(sys.argv[2]))
print(f"sleep 3: duration_s {j['duration_s']:.4f}")
for g in j["gpus"]:
    ratio = g["energy_j"] / g["counter_energy_j"] if g.get("counter_energy_j") else float("nan")
    print(f"  gpu {g['index']}: covered_s {g['covered_s']:.4f}, energy {g['energy_j']:.2f} J, "
          f"counter {g['counter_energy_j']} J, trace/counter {ratio:.4f}, "
          f"median interval {g['median_interval_ms']} ms, gaps {g['gaps']}")
print("node:", json.dumps(j.get("node")))
PY
rm -rf "$T"
