#!/usr/bin/env bash
# session_check.sh: the checks a change to the trace format or the recorder's polling owes the
# real GPU, in one device call of about six minutes. From the repository root on the GPU
# machine, with $OUT set and prebuilt binaries carried (.carry/bin, .carry/base/wattprof = the
# build to compare the recorder's cost with):
#
#     OUT=$OUT bash bench/h200/session_check.sh
#
#   validate  burn and 100 ms on/off under `wattprof run`, trace against the energy counter
#             (bench/h200/validate.sh with SKIP="cost train")        -> validate/
#   sigkill   a recording killed with SIGKILL reads back whole       -> sigkill/
#   cost      the recorder's CPU per recorded second, BASE against this build, idle GPU
#             (bench/perf/recorder_ab.sh BASE NEW 10 40)            -> recorder_ab.txt
#   procs     what asking NVML about processes costs per call (bench/h200/procs_cost.c):
#             idle, one matmul load, two loads; lastSeen 1 s back and 0                        -> procs_cost.txt
# Everything is packed into $OUT/session.tgz besides $OUT/session.log.
# Knobs: WATTPROF (.carry/bin/wattprof), BURN (.carry/bin/wattprof-burn), BASE
# (.carry/base/wattprof), SESSION_SKIP (words from: validate sigkill cost procs).
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}
mkdir -p "$OUT/s" || exit 1
exec > >(tee -a "$OUT/session.log") 2>&1
W=${WATTPROF:-.carry/bin/wattprof}
BURN=${BURN:-.carry/bin/wattprof-burn}
BASE=${BASE:-.carry/base/wattprof}
skip() { case " ${SESSION_SKIP:-} " in *" $1 "*) return 0 ;; esac; return 1; }
say() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }
export NCCL_NVLS_ENABLE=0
nvidia-smi --query-gpu=index,name,driver_version,enforced.power.limit,mig.mode.current \
    --format=csv | tee "$OUT/s/gpus.csv"
"$W" --version

if ! skip validate; then
    say "validate (burn, on/off)"
    OUT="$OUT/s/validate" WATTPROF="$W" BURN="$BURN" SKIP="cost train" VALIDATE_BUDGET_S=330 \
        timeout 360 bash bench/h200/validate.sh >/dev/null 2>&1
    say "validate: exit $?"
    cat "$OUT/s/validate/summary.md" 2>/dev/null
fi
if ! skip sigkill; then
    say "sigkill"
    OUT="$OUT/s" WATTPROF="$W" timeout 90 bash bench/h200/sigkill_check.sh
    say "sigkill: exit $?"
fi
if ! skip cost; then
    say "recorder cost, $BASE against $W"
    timeout 300 bash bench/perf/recorder_ab.sh "$BASE" "$W" 10 40 | tee "$OUT/s/recorder_ab.txt"
fi
if ! skip procs; then
    cc -O2 -std=c17 -D_GNU_SOURCE -Isrc -o /tmp/procs_cost bench/h200/procs_cost.c -ldl
    {
        echo "# idle, lastSeen 1 s back"
        /tmp/procs_cost --calls 20
        "$BURN" --seconds 20 --size 8192 >/dev/null 2>&1 &
        b1=$!
        sleep 6
        echo "# one load (wattprof-burn --size 8192), lastSeen 1 s back, then 0"
        /tmp/procs_cost --calls 20
        /tmp/procs_cost --calls 10 --since-s 0
        "$BURN" --seconds 12 --size 2048 >/dev/null 2>&1 &
        b2=$!
        sleep 6
        echo "# two loads (8192 and 2048), lastSeen 1 s back, then 0"
        /tmp/procs_cost --calls 20
        /tmp/procs_cost --calls 10 --since-s 0
        wait "$b1" "$b2"
    } 2>&1 | tee "$OUT/s/procs_cost.txt"
fi
tar -czf "$OUT/session.tgz" -C "$OUT" s && rm -rf "$OUT/s"
say "done"
