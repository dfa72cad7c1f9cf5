#!/usr/bin/env bash
# proc_share.sh: two processes share GPU 0 under `wattprof run`, and wattprof splits the GPU's
# energy between them by their SM utilisation (nvmlDeviceGetProcessUtilization; method in
# src/analysis/attrib.h). From the repository root, on the GPU machine, with $OUT set:
#
#     bash bench/h200/proc_share.sh
#
# The load: a large bf16 matmul loop (8192) for the whole run and a small one (2048) that
# joins SHARE_DELAY_S later, both PyTorch (or wattprof-burn --size 8192/2048 without torch).
# They time-slice the GPU, so their SM shares differ; NVML reports each process's share.
# Prints, and writes to $OUT: proc_share.md (the table: pid, which load, energy, share, mean
# SM %), proc_share.json (wattprof's summary with its "processes" block), proc_share.txt (the
# report), proc_share.log (everything), proc_share.wptrace. Bounded: under PROC_BUDGET_S
# (170 s) in all. NVML reports host PIDs: inside a PID namespace the table says "other" for
# loads it cannot name, and the run's own pids are in proc_share.log.
# Knobs: SHARE_SECONDS (40), SHARE_DELAY_S (10), WATTPROF (a prebuilt binary), BUILD_DIR.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}
mkdir -p "$OUT" || exit 1
exec > >(tee -a "$OUT/proc_share.log") 2>&1
BUDGET=${PROC_BUDGET_S:-170}
SECS=${SHARE_SECONDS:-40}
DELAY=${SHARE_DELAY_S:-10}
B=${BUILD_DIR:-build-h200}
W=${WATTPROF:-$B/wattprof}
D=$(mktemp -d /tmp/wpshare.XXXXXX)
say() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }
left() { echo $((BUDGET - SECONDS)); }
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=index,name,driver_version,enforced.power.limit,mig.mode.current \
    --format=csv 2>&1 | tee "$D/gpus.csv"
if ! "$W" --version >/dev/null 2>&1; then
    say "building wattprof into $B"
    timeout $(($(left) - 100)) make -j"$(nproc)" BUILD="$B" "$B/wattprof" >"$D/build.log" 2>&1 ||
        say "build failed: $(tail -n 5 "$D/build.log")"
    [ -x "$B/wattprof" ] || W=build/wattprof
fi
"$W" --version || { say "no wattprof binary; carry build/wattprof or fix the build"; exit 1; }
"$W" list 2>&1 | grep -E 'proc_util|nvml' | head -n 8

# The two loads. Each writes its pid to $D/NAME.pid so the table can name it.
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    cat >"$D/mm.py" <<'PY'
import os, sys, time, torch
name, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
open(os.path.join(os.path.dirname(__file__), name + ".pid"), "w").write(str(os.getpid()))
a = torch.randn(n, n, device="cuda:0", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda:0", dtype=torch.bfloat16)
end, k = time.time() + secs, 0
while time.time() < end:
    for _ in range(8):
        c = a @ b
    torch.cuda.synchronize()
    k += 8
print(f"{name}: {k} matmuls of {n}x{n} in {secs:.0f} s")
PY
    big=(python3 "$D/mm.py" big 8192 "$SECS")
    small=(python3 "$D/mm.py" small 2048 $((SECS - DELAY)))
    LOAD="PyTorch bf16 matmul loops"
elif [ -x "$B/wattprof-burn" ] || make -j"$(nproc)" BUILD="$B" "$B/wattprof-burn" >"$D/burn-build.log" 2>&1; then
    big=(sh -c "echo \$\$ >$D/big.pid; exec $B/wattprof-burn --gpus 0 --size 8192 --seconds $SECS --quiet")
    small=(sh -c "echo \$\$ >$D/small.pid; exec $B/wattprof-burn --gpus 0 --size 2048 --seconds $((SECS - DELAY)) --quiet")
    LOAD="wattprof-burn bf16 GEMM loops"
else
    say "neither torch nor wattprof-burn can run here; nothing to measure"
    exit 1
fi
say "load: $LOAD; big for ${SECS} s, small joins after ${DELAY} s"
cat >"$D/job.sh" <<JOB
#!/bin/bash
$(printf '%q ' "${big[@]}") &
sleep $DELAY
$(printf '%q ' "${small[@]}") &
wait
JOB
timeout $(($(left) - 20)) "$W" run -o "$D/share.wptrace" --json "$OUT/proc_share.json" -- \
    bash "$D/job.sh" >"$D/job.out" 2>"$D/run.err"
say "run exit $?"
cat "$D/job.out"
"$W" report "$D/share.wptrace" >"$OUT/proc_share.txt" 2>&1
sed -n '/energy by process/,$p' "$OUT/proc_share.txt"

python3 - "$OUT/proc_share.json" "$D" "$LOAD" >"$OUT/proc_share.md" <<'PY'
import json, os, sys
j = json.load(open(sys.argv[1]))
names = {}
for n in ("big", "small"):
    try:
        names[int(open(os.path.join(sys.argv[2], n + ".pid")).read())] = n
    except (OSError, ValueError):
        pass
print(f"# Two processes on one GPU ({sys.argv[3]})\n")
print(f"our pids: {names}\n")
print(f"run {j['duration_s']:.1f} s; GPU {j['gpus'][0]['name']}; method: "
      f"{j.get('processes', {}).get('method', 'no per-process samples recorded')}\n")
print("| gpu | pid | load | energy J | share % | mean SM % | rounds |")
print("|---|---|---|---|---|---|---|")
for g in j.get("processes", {}).get("gpus", []):
    for p in g["processes"]:
        print(f"| {g['index']} | {p['pid']} | {names.get(p['pid'], 'other')} | "
              f"{p['energy_j']:.1f} | {p['share_pct']:.1f} | {p['mean_sm_pct']:.1f} | "
              f"{p['rounds']} |")
    print(f"| {g['index']} | idle | | {g['idle_j']:.1f} | | | |")
    print(f"| {g['index']} | unattributed | | {g['unattributed_j']:.1f} | | | |")
    print(f"| {g['index']} | GPU total | | {g['energy_j']:.1f} | 100 | | |")
if "processes" not in j:
    print("\nNo per-process samples: see `wattprof list` in proc_share.log (missing.nvml.N.proc_util).")
PY
cat "$OUT/proc_share.md"
cp "$D/share.wptrace" "$OUT/proc_share.wptrace" 2>/dev/null
rm -rf "$D"
say "done"
