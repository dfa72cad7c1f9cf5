#!/usr/bin/env bash
# procs_check.sh: the per-process read every procs_period (5 s) instead of every second, on a
# real GPU. Two parts, under PROCS_BUDGET_S (330 s) in all, from the repository root:
#
#     OUT=$OUT WATTPROF=.carry/bin/wattprof BASE=.carry/base/wattprof bash bench/h200/procs_check.sh
#
# (a) the recorder's CPU per recorded second, old build against this one (default keys), idle
#     GPU: bench/perf/recorder_ab.sh BASE WATTPROF 10 40 -> recorder_ab.txt.
# (b) two PyTorch bf16 matmul loops share GPU 0 (8192 for 40 s; 2048 from 10 s to 30 s) and a
#     third, "blip", runs 2 s alone with the big one from 33 s, short enough to fall between two
#     5 s reads; TWO recorders record the same 44 s at once: one with procs_period=1s, one
#     with PERIOD_B (5s; files named "default": 5 s was the default when this ran on
#     2026-12-03, see docs/validation.md). Compares the number of proc_util samples (rounds), their time coverage
#     and each process's energy share (procs_compare.md, procs_*.json; traces and proc_util
#     CSVs in procs_traces.tgz).
#     Then a probe asks NVML directly, 8 s and 20 s after the loads ended, for the
#     per-process samples since before they started (lastSeen), to see how far back the driver
#     keeps them (procs_probe.txt).
# Knobs: WATTPROF, BASE, PROCS_BUDGET_S, AB_SHORT_S (10), AB_LONG_S (40), SKIP_AB=1, PERIOD_B.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}
mkdir -p "$OUT" || exit 1
exec > >(tee -a "$OUT/procs_check.log") 2>&1
BUDGET=${PROCS_BUDGET_S:-330}
W=${WATTPROF:-.carry/bin/wattprof}
BASE=${BASE:-.carry/base/wattprof}
D=$(mktemp -d /tmp/wpprocs.XXXXXX)
trap 'rm -rf "$D"' EXIT
say() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }
left() { echo $((BUDGET - SECONDS)); }
export PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=index,name,driver_version,enforced.power.limit,mig.mode.current \
    --format=csv 2>&1
"$W" --version | head -n 1 || { say "no wattprof at $W"; exit 1; }

# (a) cost, idle GPU.
if [ "${SKIP_AB:-0}" != 1 ]; then
    say "recorder_ab: $BASE vs $W"
    timeout $(($(left) - 110)) bash bench/perf/recorder_ab.sh "$BASE" "$W" "${AB_SHORT_S:-10}" \
        "${AB_LONG_S:-40}" >"$OUT/recorder_ab.txt" 2>&1
    say "recorder_ab exit $?"
    tail -n 8 "$OUT/recorder_ab.txt"
fi

# (b) shares, busy GPU.
cat >"$D/mm.py" <<'PY'
import os, sys, time, torch
name, n, delay, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
time.sleep(delay)
open(os.path.join(os.path.dirname(__file__), name + ".pid"), "w").write(str(os.getpid()))
a = torch.randn(n, n, device="cuda:0", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda:0", dtype=torch.bfloat16)
end, k = time.time() + secs, 0
while time.time() < end:
    for _ in range(8):
        c = a @ b
    torch.cuda.synchronize()
    k += 8
print(f"{name}: {k} matmuls of {n}x{n} in {secs:.0f} s, {time.time():.3f}")
PY
cat >"$D/probe.py" <<'PY'
import ctypes, sys, time
class S(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_uint), ("ts", ctypes.c_ulonglong), ("sm", ctypes.c_uint),
                ("mem", ctypes.c_uint), ("enc", ctypes.c_uint), ("dec", ctypes.c_uint)]
nv = ctypes.CDLL("libnvidia-ml.so.1")
assert nv.nvmlInit_v2() == 0
h = ctypes.c_void_p()
assert nv.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(h)) == 0
t_start = int(sys.argv[1])
now = int(time.time() * 1e6)
for label, seen in (("since the loads started", t_start), ("last 5 s", now - 5000000),
                    ("lastSeen=0", 0)):
    buf = (S * 256)()
    n = ctypes.c_uint(256)
    t0 = time.perf_counter()
    r = nv.nvmlDeviceGetProcessUtilization(h, buf, ctypes.byref(n), ctypes.c_ulonglong(seen))
    ms = (time.perf_counter() - t0) * 1e3
    print(f"{label}: rc {r}, {n.value if r == 0 else 0} samples, {ms:.2f} ms")
    for i in range(n.value if r == 0 else 0):
        s = buf[i]
        print(f"  pid {s.pid} sm {s.sm} % ts {(s.ts - t_start) / 1e6:+.3f} s from the start, "
              f"{(now - s.ts) / 1e6:.3f} s before the call")
PY
if ! python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    say "no PyTorch with CUDA here; part (b) skipped"
    exit 1
fi
say "two recorders (procs_period=1s and ${PERIOD_B:-5s}) over 44 s of shared load"
t0=$(python3 -c 'import time; print(int(time.time() * 1e6))')
timeout 70 "$W" record -q -o "$D/p1.wptrace" -d 44 --json "$OUT/procs_1s.json" \
    --source nvml:procs_period=1s 2>"$D/p1.err" &
r1=$!
timeout 70 "$W" record -q -o "$D/pd.wptrace" -d 44 --json "$OUT/procs_default.json" \
    --source "nvml:procs_period=${PERIOD_B:-5s}" 2>"$D/pd.err" &
r2=$!
sleep 1
python3 "$D/mm.py" big 8192 0 40 &
l1=$!
python3 "$D/mm.py" small 2048 10 20 &
l2=$!
python3 "$D/mm.py" blip 2048 33 2 &
l3=$!
wait $l1 $l2 $l3
t_end=$(date +%s)
nap() { local s=$(($1 - $(date +%s))); [ $s -gt 0 ] && sleep $s; }
wait $r1
say "recorder 1s exit $?: $(tail -n 2 "$D/p1.err")"
wait $r2
say "recorder default exit $?: $(tail -n 2 "$D/pd.err")"
nap $((t_end + 8))
echo "== probe 8 s after the loads ended" >"$OUT/procs_probe.txt"
python3 "$D/probe.py" "$t0" >>"$OUT/procs_probe.txt" 2>&1
nap $((t_end + 20))
echo "== probe 20 s after the loads ended" >>"$OUT/procs_probe.txt"
python3 "$D/probe.py" "$t0" >>"$OUT/procs_probe.txt" 2>&1
cat "$OUT/procs_probe.txt"
for v in 1s default; do
    f=p1
    [ $v = default ] && f=pd
    "$W" export "$D/$f.wptrace" --csv -s proc_util -o "$D/procs_$v.csv" --force
done
python3 bench/h200/procs_compare.py "$OUT" "$D" "$t0" >"$OUT/procs_compare.md"
cat "$OUT/procs_compare.md"
tar czf "$OUT/procs_traces.tgz" -C "$D" p1.wptrace pd.wptrace p1.err pd.err procs_1s.csv \
    procs_default.csv 2>/dev/null
say "done"
