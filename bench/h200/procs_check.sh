#!/usr/bin/env bash
# procs_check.sh: the per-process read skipped while one process is alone on the GPU
# (nvml:procs_solo, the default) against always making it (procs_solo=0), on a real GPU. Two
# parts, from the repository root (part (b) alone, SKIP_AB=1, takes about 80 s):
#
#     OUT=$OUT SKIP_AB=1 WATTPROF=.carry/bin/wattprof bash bench/h200/procs_check.sh
#
# (a) the recorder's CPU per recorded second, old build against this one (default keys), idle
#     GPU: bench/perf/recorder_ab.sh BASE WATTPROF 10 40 -> recorder_ab.txt (SKIP_AB=1 skips it).
# (b) one PyTorch bf16 matmul loop (8192) alone on GPU 0 for 15 s, a second (2048) sharing it
#     for the next 15 s, then the first alone again for 15 s; TWO recorders record the same
#     57 s at once (8 s of PyTorch import before the loads, 4 s after), one with the default
#     keys ("solo"), one with procs_solo=0 ("off").
#     Compares each process's energy share between them (procs_compare.md, procs_solo.json,
#     procs_off.json; traces and proc_util CSVs in procs_traces.tgz) and each recorder's CPU
#     time (procs_cpu.txt): over the whole recording (bash `times` of the subshell that reaped
#     it, shutdown included), and per phase from /proc/PID/stat (10 ms ticks).
# Knobs: WATTPROF, BASE, PROCS_BUDGET_S (330), AB_SHORT_S (10), AB_LONG_S (40), SKIP_AB=1,
# PHASE_S (15).
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}
mkdir -p "$OUT" || exit 1
exec > >(tee -a "$OUT/procs_check.log") 2>&1
BUDGET=${PROCS_BUDGET_S:-330}
W=${WATTPROF:-.carry/bin/wattprof}
BASE=${BASE:-.carry/base/wattprof}
PHASE=${PHASE_S:-15}
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

# (b) shares and cost, busy GPU. Each load waits for its start time before it touches CUDA:
# a process holding a context is listed by the driver even while it computes nothing.
cat >"$D/mm.py" <<'PY'
import os, sys, time
name, n, start, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
import torch
time.sleep(max(0.0, start - time.time()))
open(os.path.join(os.path.dirname(__file__), name + ".pid"), "w").write(str(os.getpid()))
a = torch.randn(n, n, device="cuda:0", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda:0", dtype=torch.bfloat16)
end, k = start + secs, 0
while time.time() < end:
    for _ in range(8):
        c = a @ b
    torch.cuda.synchronize()
    k += 8
print(f"{name}: {k} matmuls of {n}x{n}, {start:.3f} to {time.time():.3f}")
PY
if [ -z "${FAKE_NVML_TRACE:-}" ] && ! python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    say "no PyTorch with CUDA here; part (b) skipped"
    exit 1
fi
# Under the fake NVML (FAKE_NVML_TRACE set: a dry run of this script's plumbing) the loads
# are sleeps; FAKE_NVML_PROCS schedules the processes.
LOAD=("python3" "$D/mm.py")
[ -n "${FAKE_NVML_TRACE:-}" ] && LOAD=(python3 -c 'import sys, time, os
open(os.path.join(sys.argv[1], sys.argv[2] + ".pid"), "w").write(str(os.getpid()))
time.sleep(max(0.0, float(sys.argv[4]) + float(sys.argv[5]) - time.time()))' "$D")
now=$(date +%s)
T0=$((now + 8))                # room for importing PyTorch before the first phase
DUR=$((8 + 3 * PHASE + 4))    # the recorders start now and outlast the loads by 4 s
say "two recorders (default, procs_solo=0) over ${DUR} s: big alone, big+small, big alone, ${PHASE} s each from $T0"
recorder() { # recorder LABEL KEYS...: records into $D/LABEL.wptrace; CPU of it in $D/LABEL.times
    local v=$1
    shift
    (
        "$W" record -q -o "$D/$v.wptrace" -d "$DUR" --json "$OUT/procs_$v.json" "$@" \
            2>"$D/$v.err" &
        echo $! >"$D/$v.pid"
        wait $!
        rc=$?
        times >"$D/$v.times"
        exit $rc
    ) &
}
recorder solo
r1=$!
recorder off --source nvml:procs_solo=0
r2=$!
"${LOAD[@]}" big 8192 "$T0" $((3 * PHASE)) &
l1=$!
"${LOAD[@]}" small 2048 $((T0 + PHASE)) "$PHASE" &
l2=$!
# /proc/PID/stat utime+stime (ticks) of both recorders at each phase's edge.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo NA; }
hz=$(getconf CLK_TCK)
p_solo=$(cat "$D/solo.pid" 2>/dev/null)
p_off=$(cat "$D/off.pid" 2>/dev/null)
for k in 0 1 2 3; do
    s=$((T0 + k * PHASE - $(date +%s)))
    [ $s -gt 0 ] && sleep $s
    [ -z "$p_solo" ] && p_solo=$(cat "$D/solo.pid")
    [ -z "$p_off" ] && p_off=$(cat "$D/off.pid")
    echo "$k $(date +%s.%N) $(ticks "$p_solo") $(ticks "$p_off")" >>"$D/phase_ticks.txt"
done
wait $l1 $l2
wait $r1
say "recorder solo exit $?: $(tail -n 2 "$D/solo.err")"
wait $r2
say "recorder off exit $?: $(tail -n 2 "$D/off.err")"
for v in solo off; do
    "$W" export "$D/$v.wptrace" --csv -s proc_util -o "$D/procs_$v.csv" --force
done
python3 bench/h200/procs_compare.py "$OUT" "$D" "$((T0 * 1000000))" off solo >"$OUT/procs_compare.md"
cat "$OUT/procs_compare.md"
python3 - "$D" "$hz" "$DUR" "$PHASE" >"$OUT/procs_cpu.txt" <<'PY'
import os, re, sys
d, hz, dur, phase = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def cpu_ms(v):  # the children line of bash `times`: user and system of the reaped recorder
    lines = open(os.path.join(d, v + ".times")).read().split("\n")
    t = [float(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", lines[1])]
    return sum(t) * 1000
tot = {v: cpu_ms(v) for v in ("solo", "off")}
print(f"# CPU of each recorder over {dur} s of recording (bash times, shutdown included)\n")
print("| recorder | CPU ms | us per recorded s | % of one core |")
print("|---|---|---|---|")
for v, ms in tot.items():
    print(f"| {v} | {ms:.0f} | {ms * 1000 / dur:.0f} | {ms / dur / 10:.3f} |")
print(f"\nprocs_solo saves {tot['off'] - tot['solo']:.0f} ms of CPU over {dur} s "
      f"({(tot['off'] - tot['solo']) * 1000 / dur:.0f} us per s)\n")
rows = [l.split() for l in open(os.path.join(d, "phase_ticks.txt"))]
names = ["big alone", "big + small", "big alone again"]
print(f"| phase ({phase} s) | solo CPU ms | off CPU ms | off - solo, ms per s |")
print("|---|---|---|---|")
for a, b, name in zip(rows, rows[1:], names):
    try:
        s = (int(b[2]) - int(a[2])) * 1000 / hz
        o = (int(b[3]) - int(a[3])) * 1000 / hz
        secs = float(b[1]) - float(a[1])
        print(f"| {name} | {s:.0f} | {o:.0f} | {(o - s) / secs:.2f} |")
    except (ValueError, IndexError):
        print(f"| {name} | NA | NA | NA |")
PY
cat "$OUT/procs_cpu.txt"
tar czf "$OUT/procs_traces.tgz" -C "$D" solo.wptrace off.wptrace solo.err off.err procs_solo.csv \
    procs_off.csv phase_ticks.txt solo.times off.times 2>/dev/null
say "done"
