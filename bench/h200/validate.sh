#!/usr/bin/env bash
# validate.sh: the whole H200 validation in one call. From the repository root, on the GPU
# machine, with $OUT set:
#
#     bash bench/h200/validate.sh
#
# Steps (each guarded: a failure is logged and the rest go on; each has a timeout; the whole
# run keeps inside VALIDATE_BUDGET_S, default 540 s, by shortening or skipping later steps):
#   env    environment facts                                   -> $OUT/env.txt
#   build  wattprof, wattprof-burn, nvml_minimal into build-h200/
#   burn   wattprof run + counter probe around a 30 s bf16 burn  -> $OUT/burn.json
#   onoff  the same, 15 s of 100 ms on / 100 ms off            -> $OUT/onoff.json
#   cost   5 pollers side by side for 60 s on idle GPUs, then wattprof alone for 20 s
#                                                              -> $OUT/cost.tsv
#   train  wattprof run + counter probe around ResNet DDP      -> $OUT/train.json
#   export, analyze                                            -> $OUT/summary.md
#   pack   logs, probe files, burn output, the on/off CSV, and the traces when they fit
#                                                              -> $OUT/traces.tar.gz
# Plus $OUT/validate.log: everything printed. Eight files at most (the device tool's limit).
#
# Knobs (environment): VALIDATE_BUDGET_S, COST_SECONDS (60), COST_SOLO_SECONDS (20),
# COST_MODE (parallel|sequential), BURN_SECONDS (30), ONOFF_SECONDS (15), TRAIN_SCRIPT
# (bench/workloads/resnet.py), TRAIN_ARGS ("--global-batch 256 --images 30000"), SKIP (words
# from: burn onoff cost train), BUILD_DIR (build-h200), MAKE_JOBS (16), WATTPROF / BURN (use these binaries
# instead of building), SQLITE_INCLUDE (a folder with sqlite3.h, if the system lacks it; a
# carried .carry/sqlite3.h is found by itself).
set -u
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
OUT=${OUT:-/tmp/h200-out}
mkdir -p "$OUT" || exit 1
BUDGET=${VALIDATE_BUDGET_S:-540}
COST_SECONDS=${COST_SECONDS:-60}
COST_SOLO_SECONDS=${COST_SOLO_SECONDS:-20}
COST_MODE=${COST_MODE:-parallel}
BURN_SECONDS=${BURN_SECONDS:-30}
ONOFF_SECONDS=${ONOFF_SECONDS:-15}
TRAIN_SCRIPT=${TRAIN_SCRIPT:-bench/workloads/resnet.py}
TRAIN_ARGS=${TRAIN_ARGS:---global-batch 256 --images 30000}
SKIP=${SKIP:-}
B=${BUILD_DIR:-build-h200}
MAKE_JOBS=${MAKE_JOBS:-16}
TMP=$(mktemp -d /tmp/wpval.XXXXXX) || exit 1
LOGS=$TMP/logs
mkdir -p "$LOGS"
STEPS=$TMP/steps.tsv
: >"$STEPS"

# Everything printed goes to the log and to stdout (the device tool returns stdout's tail).
exec > >(tee -a "$OUT/validate.log") 2>&1
TEE_PID=$!

# Keep NVLink multicast off, as this workplace requires for multi-GPU jobs.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1

# A command started by a script that was itself started with SIGINT ignored inherits that,
# and would then not stop on timeout's SIGINT: coreutils' env puts the default back.
DEFSIG=()
if env --default-signal=INT,QUIT true 2>/dev/null; then
    DEFSIG=(env "--default-signal=INT,QUIT")
fi

say() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }
# step_done NAME STATUS RC T0 NOTE
step_done() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$((SECONDS - $4))" "${5:-}" >>"$STEPS"
    say "== $1: $2 (rc $3, $((SECONDS - $4)) s)${5:+: $5}"
}
# tmo MAX RESERVE: a timeout of at most MAX that still leaves RESERVE seconds of the budget.
# Never below 1: `timeout 0` would mean no limit at all.
tmo() {
    local left=$((BUDGET - SECONDS - $2))
    [ "$left" -lt 1 ] && left=1
    if [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}
skipped() { [[ " $SKIP " == *" $1 "* ]]; }
show_tail() { # FILE [N]: the end of a step log, indented
    [ -f "$1" ] && tail -n "${2:-25}" "$1" | sed 's/^/    | /'
}
gpu_snapshot() {
    local q=index,power.draw,power.draw.instant,temperature.gpu,clocks.sm,utilization.gpu,memory.used
    timeout 15 nvidia-smi --query-gpu=$q --format=csv,noheader 2>/dev/null | sed 's/^/    gpu: /' ||
        timeout 15 nvidia-smi --query-gpu=${q/power.draw.instant,/} --format=csv,noheader 2>/dev/null |
        sed 's/^/    gpu: /'
}

say "wattprof H200 validation: repo $REPO, OUT $OUT, TMP $TMP, budget ${BUDGET}s"

# ---------------------------------------------------------------------------------------
# a. environment
t0=$SECONDS
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(hostname) | $(uname -srm)"
    echo "cpus: $(nproc) | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "mem: $(grep MemTotal /proc/meminfo)"
    timeout 20 nvidia-smi --query-gpu=index,name,driver_version,power.limit,power.default_limit,power.min_limit,power.max_limit,enforced.power.limit,pci.bus_id,uuid \
        --format=csv 2>&1
    echo "--- os"
    grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release 2>&1
    echo "--- nvidia-smi -q (excerpt)"
    timeout 30 nvidia-smi -q 2>&1 | grep -E 'Product Name|Driver Version|CUDA Version|Persistence Mode|Power Limit|Power Draw|Power Samples|Current Power|Requested Power|Enforced|Default Power|Min Power|Max Power|Power Readings|Module Power|GPU Power|Memory Power|Clocks Event|Virtualization Mode|MIG Mode|Current  ' |
        head -n 120
    echo "--- GPU processes"
    timeout 15 nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv 2>&1
    echo "--- toolchain"
    echo "bash: $BASH_VERSION"
    gcc --version 2>&1 | head -n 1
    NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
    echo "nvcc: ${NVCC:-missing} $("${NVCC:-false}" --version 2>/dev/null | tail -n 2 | head -n 1)"
    echo "python3: $(command -v python3) $(python3 --version 2>&1)"
    timeout 90 python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpus", torch.cuda.device_count())' 2>&1 | tail -n 2
    timeout 30 python3 -c 'import pynvml, importlib.metadata as m; print("pynvml", pynvml.__file__, m.version("nvidia-ml-py"))' 2>&1 | tail -n 1
    command -v torchrun || echo "torchrun: not on PATH"
    echo "--- libraries"
    ls -l /usr/local/nvidia/lib64/libnvidia-ml.so.1 /lib/x86_64-linux-gnu/libnvidia-ml.so.1 /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1 2>&1
    ldconfig -p 2>/dev/null | grep -E 'libsqlite3|libnvidia-ml|libcublas|libz\.' | head -n 12
    echo "sqlite3.h: $(ls /usr/include/sqlite3.h 2>&1)"
    echo "pkg-config: $(command -v pkg-config || echo missing) $(pkg-config --modversion sqlite3 2>&1)"
    echo "/usr/bin/time: $(ls /usr/bin/time 2>&1)"
    echo "env --default-signal: ${DEFSIG[*]:-unsupported}"
    echo "--- environment"
    env | grep -E '^(CUDA|NCCL|NVIDIA|TORCH|LD_LIBRARY_PATH|PATH)' | sort
} >"$OUT/env.txt" 2>&1
step_done env ok 0 "$t0"
head -n 8 "$OUT/env.txt" | sed 's/^/    /'
NGPU=$(timeout 20 nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
say "GPUs: $NGPU"
[ "$NGPU" -ge 1 ] 2>/dev/null || NGPU=1

# ---------------------------------------------------------------------------------------
# b. build
t0=$SECONDS
mkdir -p "$B"
MAKEVARS=()
if printf '#include <sqlite3.h>\n' | gcc -E -x c - >/dev/null 2>&1; then
    say "sqlite3.h: found by the compiler"
elif [ -n "${SQLITE_INCLUDE:-}" ] && [ -f "$SQLITE_INCLUDE/sqlite3.h" ]; then
    MAKEVARS+=("SQLITE_CFLAGS=-I$SQLITE_INCLUDE")
    say "sqlite3.h: using SQLITE_INCLUDE=$SQLITE_INCLUDE"
elif [ -f "$REPO/.carry/sqlite3.h" ]; then
    MAKEVARS+=("SQLITE_CFLAGS=-I$REPO/.carry")
    say "sqlite3.h: using the carried $REPO/.carry/sqlite3.h"
else
    say "sqlite3.h: MISSING (no libsqlite3-dev here, and no .carry/sqlite3.h or SQLITE_INCLUDE):" \
        "wattprof cannot be built on this machine; the steps that need it will be skipped." \
        "Carry a sqlite3.h (e.g. cp /usr/include/sqlite3.h .carry/) or a prebuilt wattprof (WATTPROF=...)."
fi
if ! printf 'int main(void){return 0;}\n' | gcc -x c - -o "$TMP/sqltest" -lsqlite3 2>/dev/null; then
    if ldconfig -p 2>/dev/null | grep -q 'libsqlite3\.so\.0 '; then
        MAKEVARS+=("SQLITE_LIBS=-l:libsqlite3.so.0")
        say "libsqlite3.so (dev link) missing; linking libsqlite3.so.0 by name"
    else
        say "libsqlite3 not found at all"
    fi
fi
# The build gets at least 90 s whatever the budget says: without it nothing else runs.
BT=$(tmo 300 300)
[ "$BT" -lt 90 ] && BT=90
if ! command -v make >/dev/null; then
    # No make on the image: the same compile by hand (no optional features).
    say "make not found: compiling wattprof directly with gcc"
    sqlcf=() sqllib=(-lsqlite3)
    for v in "${MAKEVARS[@]}"; do
        case $v in SQLITE_CFLAGS=*) sqlcf=("${v#*=}") ;; SQLITE_LIBS=*) sqllib=("${v#*=}") ;; esac
    done
    # shellcheck disable=SC2046 # the source list is plain paths
    timeout "$BT" gcc -std=c17 -D_GNU_SOURCE -O2 -g -Isrc -Iinclude "${sqlcf[@]}" \
        -DWP_VERSION='"h200-manual"' -pthread -o "$B/wattprof" \
        $(ls src/core/*.c src/sources/*.c src/store/*.c src/analysis/*.c src/recorder/*.c \
            src/marks/*.c src/cli/*.c 2>/dev/null) \
        "${sqllib[@]}" -ldl -lm -pthread >"$LOGS/build.log" 2>&1
fi
say "make (timeout ${BT}s): make -k -j$MAKE_JOBS BUILD=$B ${MAKEVARS[*]} $B/wattprof $B/wattprof-burn"
timeout "$BT" make -k -j"$MAKE_JOBS" BUILD="$B" "${MAKEVARS[@]}" "$B/wattprof" "$B/wattprof-burn" >>"$LOGS/build.log" 2>&1
brc=$?
if [ ! -x "$B/wattprof" ] && [ -f "$LOGS/build.log" ] && grep -q 'error:' "$LOGS/build.log"; then
    # gcc 13 here may warn where the developers' compilers did not; -Werror would stop it.
    say "wattprof did not build; retrying without -Werror (warnings kept in the log)"
    timeout "$(tmo 200 330)" make -k -j"$MAKE_JOBS" BUILD="$B" "${MAKEVARS[@]}" WARN="-Wall -Wextra" "$B/wattprof" \
        >"$LOGS/build-nowerror.log" 2>&1
    show_tail "$LOGS/build-nowerror.log" 15
fi
# Folders holding libcublas.so.13: the toolkit's, and PyTorch's wheels (their layout changed
# across CUDA versions, so search rather than guess).
cublas_dirs() {
    local d f
    for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
        $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null); do
        [ -e "$d/libcublas.so.13" ] && echo "$d"
        if [ -d "$d/nvidia" ]; then
            find "$d/nvidia" -maxdepth 4 -name 'libcublas.so.13*' 2>/dev/null | while read -r f; do
                dirname "$f"
            done
        fi
    done | awk '!seen[$0]++'
}
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
if [ ! -x "$B/wattprof-burn" ] && [ -n "$NVCC" ]; then
    # The Makefile rule failed (often: no libcublas in the toolkit's lib folder): link by
    # soname against whichever cuBLAS is there, with an rpath.
    while read -r d; do
        [ -n "$d" ] || continue
        say "building wattprof-burn (sm_90 only) against $d"
        if timeout "$(tmo 120 330)" "$NVCC" -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 \
            -o "$B/wattprof-burn" bench/burn/burn.cu -L"$d" -Xlinker -rpath="$d" \
            -l:libcublas.so.13 -l:libcublasLt.so.13 >>"$LOGS/build.log" 2>&1; then
            break
        fi
    done < <(cublas_dirs)
fi
timeout 60 gcc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Isrc -o "$B/nvml_minimal" \
    bench/h200/nvml_minimal.c -ldl >>"$LOGS/build.log" 2>&1 ||
    say "nvml_minimal did not build (see the build log in traces.tar.gz)"

WP=${WATTPROF:-$B/wattprof}
if [ ! -x "$WP" ] && [ -x build/wattprof ]; then
    say "no $WP; trying the carried build/wattprof"
    WP=build/wattprof
fi
if [ -x "$WP" ] && timeout 20 "$WP" --version >"$LOGS/wp-version.log" 2>&1; then
    say "wattprof: $WP ($(head -n 1 "$LOGS/wp-version.log"))"
else
    say "wattprof UNUSABLE ($WP): $(head -n 3 "$LOGS/wp-version.log" 2>/dev/null | tr '\n' ' ')"
    [ -x "$WP" ] || WP=
    # A binary that exists but fails --version may still record: keep it, the steps will tell.
fi
BURN=${BURN:-$B/wattprof-burn}
if [ -x "$BURN" ] && ldd "$BURN" 2>/dev/null | grep -q 'not found'; then
    # Linked against a cuBLAS the loader does not find by itself: a wrapper sets the path for
    # the burn alone (globally it could make torch load this cuBLAS instead of its own).
    ldp=$(cublas_dirs | paste -sd: -)
    say "wattprof-burn misses libraries ($(ldd "$BURN" | grep 'not found' | awk '{print $1}' | paste -sd' ' -)); wrapping with LD_LIBRARY_PATH=$ldp"
    case $BURN in /*) abs=$BURN ;; *) abs=$REPO/$BURN ;; esac
    # shellcheck disable=SC2016 # expanded by the wrapper when it runs
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' \
        "$ldp" "$abs" >"$B/wattprof-burn.sh"
    chmod +x "$B/wattprof-burn.sh"
    BURN=$B/wattprof-burn.sh
fi
if [ -x "$BURN" ]; then
    if timeout 60 "$BURN" --self-test >>"$LOGS/build.log" 2>&1; then
        say "wattprof-burn: $BURN (self-test ok)"
    else
        say "wattprof-burn self-test FAILED (see build log)"
    fi
else
    say "wattprof-burn MISSING: burn and on/off steps will be skipped"
    BURN=
fi
NVMLMIN=$B/nvml_minimal
[ -x "$NVMLMIN" ] || NVMLMIN=
st=ok
{ [ -z "$WP" ] || [ -z "$BURN" ] || [ -z "$NVMLMIN" ]; } && st=partial
step_done build "$st" "$brc" "$t0" "wattprof=${WP:-none} burn=${BURN:-none} nvml_minimal=${NVMLMIN:-none}"
show_tail "$LOGS/build.log" 12

PROBE=(python3 bench/h200/counter_probe.py)

# run_job NAME TIMEOUT CMD...: the job under `wattprof run` with the counter probe inside it
# (the probe's window then lies inside the trace). If wattprof is missing, or failed before
# the job ran, the job runs with the probe alone, so its own results still come back.
run_job() {
    local name=$1 t=$2 rc
    shift 2
    local probe_out=$TMP/probe-$name.json started=$TMP/$name.started
    if [ -n "$WP" ]; then
        say "$name: $WP run -o $TMP/$name.wptrace --json $OUT/$name.json -- probe -- $* (timeout ${t}s)"
        timeout -k 20 -s INT "$t" "${DEFSIG[@]}" "$WP" run -o "$TMP/$name.wptrace" --json "$OUT/$name.json" -- \
            "${PROBE[@]}" --out "$probe_out" --ready-file "$started" -- "$@" >"$TMP/$name.out" 2>"$LOGS/$name.log"
        rc=$?
        # The probe writes $started just before the job starts: if it is there, the job ran.
        if [ -f "$started" ]; then
            return "$rc"
        fi
        say "$name: the job did not start under wattprof (rc $rc); running it without wattprof"
        show_tail "$LOGS/$name.log" 15
        t=$(tmo "$t" 200)
        if [ "$t" -lt 20 ]; then
            say "$name: no time left for the rerun"
            return "$rc"
        fi
    fi
    say "$name: probe -- $* (no wattprof; timeout ${t}s)"
    timeout -k 20 -s INT "$t" "${DEFSIG[@]}" "${PROBE[@]}" --out "$probe_out" --ready-file "$started" -- "$@" \
        >"$TMP/$name.out" 2>>"$LOGS/$name.log"
    rc=$?
    return "$rc"
}

# ---------------------------------------------------------------------------------------
# c. burn, steady bf16
for spec in "burn|$BURN_SECONDS|steady" "onoff|$ONOFF_SECONDS|onoff:100:100"; do
    IFS='|' read -r name secs pattern <<<"$spec"
    t0=$SECONDS
    if skipped "$name"; then
        step_done "$name" skipped - "$t0" "SKIP"
        continue
    fi
    if [ -z "$BURN" ]; then
        step_done "$name" skipped - "$t0" "no wattprof-burn"
        continue
    fi
    # Reserve: cost (~100 s) and the final steps (~45 s), and keep ~60 s for training.
    t=$(tmo $((secs + 60)) 200)
    if [ "$t" -lt $((secs + 15)) ]; then
        step_done "$name" skipped - "$t0" "budget"
        continue
    fi
    gpu_snapshot
    run_job "$name" "$t" "$BURN" --seconds "$secs" --dtype bf16 --pattern "$pattern"
    rc=$?
    st=ok
    [ "$rc" = 0 ] || st=failed
    step_done "$name" "$st" "$rc" "$t0" "$(grep -h -m1 -E '^ +error:' "$TMP/$name.out" 2>/dev/null | head -c 200)"
    grep -v '^{' "$TMP/$name.out" 2>/dev/null | tail -n 12 | sed 's/^/    /'
    show_tail "$LOGS/$name.log" 15
done

# ---------------------------------------------------------------------------------------
# d. cost on idle GPUs
t0=$SECONDS
M=bench/h200/measure_cost.sh
if skipped cost; then
    step_done cost skipped - "$t0" "SKIP"
else
    : >"$TMP/cost.body"
    T=$COST_SECONDS
    if [ "$COST_MODE" = parallel ]; then need=$((T + 40)); else need=$((5 * T + 60)); fi
    if [ "$(tmo "$need" 130)" -lt "$need" ]; then
        T=20
        say "cost: budget too tight for ${COST_SECONDS}s; measuring ${T}s instead"
    fi
    sleep 3 # let the last burn's context go away
    gpu_snapshot
    # The idle record gets a probe too (stop file), for a low-power energy comparison.
    "${DEFSIG[@]}" "${PROBE[@]}" --out "$TMP/probe-idle.json" --stop-file "$TMP/idle.stop" \
        --ready-file "$TMP/idle.ready" 2>"$LOGS/probe-idle.log" &
    probe_pid=$!
    for _ in $(seq 1 100); do
        [ -f "$TMP/idle.ready" ] && break
        kill -0 "$probe_pid" 2>/dev/null || break
        sleep 0.2
    done
    tools=()
    # wattprof stops itself (--duration); the timer is only a safety net.
    [ -n "$WP" ] && tools+=("wattprof-record|$((T + 20))|$WP record -o $TMP/idle.wptrace --duration $T")
    [ -n "$NVMLMIN" ] && tools+=("nvml-minimal-idle|$T|$NVMLMIN" "nvml-minimal-poll|$T|$NVMLMIN --poll")
    tools+=("nvidia-smi-lms100|$T|nvidia-smi --query-gpu=power.draw.instant --format=csv -lms 100")
    tools+=("pynvml-loop-10hz|$T|python3 bench/h200/pynvml_loop.py")
    pids=()
    k=0
    for tool in "${tools[@]}"; do
        IFS='|' read -r tname tsecs tcmd <<<"$tool"
        k=$((k + 1))
        # shellcheck disable=SC2086 # tcmd is a command line of plain words
        if [ "$COST_MODE" = parallel ]; then
            "$M" --log "$LOGS/cost-$tname.log" "$tname" "$tsecs" -- $tcmd >"$TMP/cost.$k" 2>>"$LOGS/cost.log" &
            pids+=($!)
        else
            "$M" --log "$LOGS/cost-$tname.log" "$tname" "$tsecs" -- $tcmd >"$TMP/cost.$k" 2>>"$LOGS/cost.log"
        fi
    done
    for p in "${pids[@]}"; do wait "$p"; done
    touch "$TMP/idle.stop"
    wait "$probe_pid"
    for j in $(seq 1 "$k"); do cat "$TMP/cost.$j" >>"$TMP/cost.body" 2>/dev/null; done
    # Control: wattprof alone, to see whether running side by side changed its cost.
    if [ -n "$WP" ] && [ "$COST_MODE" = parallel ] && [ "$(tmo $((COST_SOLO_SECONDS + 30)) 130)" -ge $((COST_SOLO_SECONDS + 30)) ]; then
        "$M" --log "$LOGS/cost-wattprof-solo.log" wattprof-record-solo $((COST_SOLO_SECONDS + 20)) -- \
            "$WP" record -o "$TMP/idle-solo.wptrace" --duration "$COST_SOLO_SECONDS" >>"$TMP/cost.body" 2>>"$LOGS/cost.log"
    fi
    printf 'name\tseconds\tcpu_ms\tcpu_pct_of_one_core\tpeak_rss_kb\trc\tcpu_ms_at_signal\tmethod\n' >"$OUT/cost.tsv"
    cat "$TMP/cost.body" >>"$OUT/cost.tsv"
    st=ok
    [ -s "$TMP/cost.body" ] || st=failed
    step_done cost "$st" - "$t0" "$COST_MODE, ${T}s; $(wc -l <"$TMP/cost.body") tools"
    if command -v column >/dev/null; then
        column -t -s $'\t' "$OUT/cost.tsv" | sed 's/^/    /'
    else
        sed 's/^/    /' "$OUT/cost.tsv"
    fi
    show_tail "$LOGS/cost.log" 10
fi

# ---------------------------------------------------------------------------------------
# e. training
t0=$SECONDS
if skipped train; then
    step_done train skipped - "$t0" "SKIP"
elif [ ! -f "$TRAIN_SCRIPT" ]; then
    step_done train skipped - "$t0" "$TRAIN_SCRIPT missing"
else
    t=$(tmo 300 45)
    if [ "$t" -lt 60 ]; then
        step_done train skipped - "$t0" "budget (${t}s left)"
    else
        if command -v torchrun >/dev/null; then TR=(torchrun); else TR=(python3 -m torch.distributed.run); fi
        gpu_snapshot
        # shellcheck disable=SC2086 # TRAIN_ARGS is a list of plain words
        run_job train "$t" "${TR[@]}" --standalone --nproc_per_node="${NGPU:-1}" "$TRAIN_SCRIPT" $TRAIN_ARGS
        rc=$?
        st=ok
        [ "$rc" = 0 ] || st=failed
        step_done train "$st" "$rc" "$t0" "timeout ${t}s"
        tail -n 8 "$TMP/train.out" 2>/dev/null | sed 's/^/    /'
        show_tail "$LOGS/train.log" 15
    fi
fi

# ---------------------------------------------------------------------------------------
# f. export, analyze, pack
t0=$SECONDS
if [ -n "$WP" ]; then
    for name in burn onoff idle train; do
        [ -f "$TMP/$name.wptrace" ] || continue
        t=$(tmo 40 25)
        [ "$t" -lt 5 ] && break
        timeout "$t" "$WP" export "$TMP/$name.wptrace" --csv -o "$TMP/$name.csv" >>"$LOGS/export.log" 2>&1 ||
            say "export of $name failed (see export.log)"
        if [ "$name" = idle ] && [ ! -f "$OUT/idle.json" ]; then
            timeout "$(tmo 20 25)" "$WP" report "$TMP/idle.wptrace" --json "$TMP/idle.json" >>"$LOGS/export.log" 2>&1
        fi
    done
fi
step_done export ok - "$t0" "$(find "$TMP" -maxdepth 1 -name '*.csv' | wc -l) CSV files"

t0=$SECONDS
timeout "$(tmo 60 8)" python3 bench/h200/analyze.py --dir "$TMP" --json-dir "$OUT" \
    --runs burn,onoff,idle,train --onoff onoff --cost "$OUT/cost.tsv" --steps "$STEPS" \
    --env "$OUT/env.txt" -o "$OUT/summary.md" >"$LOGS/analyze.log" 2>&1
arc=$?
if [ "$arc" != 0 ] || [ ! -s "$OUT/summary.md" ]; then
    {
        echo "# wattprof H200 validation summary (analysis FAILED, rc $arc)"
        echo
        echo '```'
        cat "$LOGS/analyze.log"
        echo '```'
        echo
        echo "| step | status | rc | seconds | note |"
        echo "|---|---|---|---|---|"
        sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$STEPS"
    } >"$OUT/summary.md"
fi
step_done analyze "$([ "$arc" = 0 ] && echo ok || echo failed)" "$arc" "$t0"

# Pack: small things always; then the on/off CSV; then traces and other CSVs while the
# archive stays under 15 MiB (the tool returns files up to 16 MiB).
t0=$SECONDS
PK=$TMP/pack/h200
mkdir -p "$PK"
cp "$STEPS" "$PK/" 2>/dev/null
cp -r "$LOGS" "$PK/" 2>/dev/null
cp "$TMP"/probe-*.json "$TMP"/*.out "$TMP/idle.json" "$PK/" 2>/dev/null
limit=$((15 * 1024 * 1024))
pack() { tar -C "$TMP/pack" -czf "$OUT/traces.tar.gz" h200 2>/dev/null; }
pack
for f in onoff.csv onoff.wptrace burn.wptrace idle.wptrace train.wptrace burn.csv idle.csv \
    train.csv idle-solo.wptrace; do
    [ -f "$TMP/$f" ] || continue
    cp "$TMP/$f"* "$PK/" 2>/dev/null # a trace's -wal/-shm too, if it was not closed
    pack
    if [ "$(stat -c %s "$OUT/traces.tar.gz")" -gt "$limit" ]; then
        rm -f "$PK/$f"*
        pack
        say "pack: left $f out (archive would pass 15 MiB)"
    fi
done
step_done pack ok - "$t0" "$(du -h "$OUT/traces.tar.gz" | cut -f1)"

# The tool brings back 8 files at most; say so if something else crept in.
n=$(find "$OUT" -maxdepth 1 -type f | wc -l)
say "OUT holds $n files: $(find "$OUT" -maxdepth 1 -type f -printf '%f ')"
[ "$n" -gt 8 ] && say "WARNING: more than 8 files in OUT; some will not come back"
say "done in ${SECONDS}s"
echo
cat "$OUT/summary.md"
# Let tee finish writing validate.log before the device tool collects $OUT.
exec >&- 2>&-
wait "$TEE_PID" 2>/dev/null
exit 0
