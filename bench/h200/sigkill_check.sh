#!/usr/bin/env bash
# sigkill_check.sh: a recording killed with SIGKILL on real GPUs (trace format 4, whose newest
# chunk of each sensor grows in place until it is full) still reads back whole up to its last
# commit. Records for KILL_AFTER_S (8) seconds while GPU 0 runs a matmul loop, sends SIGKILL,
# then reports the trace and checks it: every GPU has samples to within ~1 s of the kill, no
# damaged chunk, and the report exits 0. From the repository root on the GPU machine:
#     WATTPROF=... bash bench/h200/sigkill_check.sh        -> $OUT/sigkill/{report.txt,check.txt}
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}/sigkill
mkdir -p "$OUT" || exit 1
W=${WATTPROF:-build-h200/wattprof}
K=${KILL_AFTER_S:-8}
D=$(mktemp -d /tmp/wpkill.XXXXXX)
python3 -c "
import time, torch
a = torch.randn(8192, 8192, device='cuda:0', dtype=torch.bfloat16)
end = time.time() + $K + 2
while time.time() < end:
    a @ a
torch.cuda.synchronize()" >"$OUT/load.out" 2>&1 &
LP=$!
"$W" record -o "$D/k.wptrace" -q >"$OUT/record.out" 2>&1 &
RP=$!
sleep "$K"
KILL_T=$(date +%s.%N)
kill -9 "$RP"
wait "$RP" 2>/dev/null
wait "$LP"
ls -la "$D" >"$OUT/files.txt"
"$W" report "$D/k.wptrace" --json "$OUT/report.json" >"$OUT/report.txt" 2>&1
echo "report exit $?" >>"$OUT/report.txt"
"$W" export "$D/k.wptrace" --csv -o "$D/k.csv" 2>>"$OUT/report.txt"
python3 - "$D/k.csv" "$KILL_T" "$OUT/report.json" <<'PY' | tee "$OUT/check.txt"
import csv, json, sys
kill = float(sys.argv[2])
last, n = {}, {}
for r in csv.DictReader(open(sys.argv[1])):
    if r["name"] == "power" and r["source"] == "nvml":
        t = int(r["t_us"]) / 1e6
        last[r["device"]] = max(last.get(r["device"], 0), t)
        n[r["device"]] = n.get(r["device"], 0) + 1
j = json.load(open(sys.argv[3]))
for d in sorted(last):
    print(f"GPU {d}: {n[d]} power samples, the last {kill - last[d]:.2f} s before the SIGKILL")
print(f"damaged chunks: {len(j.get('damaged', []))}; trace energy {j['total']['energy_j']:.1f} J "
      f"over {j['duration_s']:.2f} s")
PY
rm -rf "$D"
