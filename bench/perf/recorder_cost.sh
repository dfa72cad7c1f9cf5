#!/usr/bin/env bash
# recorder_cost.sh: wattprof's own CPU cost per recorded second, without NVML's. Runs
# `wattprof record` against the fake NVML (whose calls cost nothing) for 1, 2 and 8 replayed
# GPUs, side by side with the baseline: a minimal C poller (bench/h200/nvml_minimal.c) that
# only reads the 20 ms buffer of every GPU every 0.5 s. What is left is wattprof's own work:
# fields, counter, sampler and writer threads, SQLite commits, the final summary.
#
#   bench/perf/recorder_cost.sh [SECONDS]        (default 20; run `make` first)
#
# Prints a table of whole numbers: CPU milliseconds (user+system) in all and microseconds per
# recorded second, and the ratio wattprof / baseline. On real GPUs NVML's own calls dominate: see
# docs/validation.md for the H200 figures.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-20}
B=${BUILD:-build}
[ -x "$B/wattprof" ] && [ -f "$B/fake-nvml/libnvidia-ml.so.1" ] || { echo "run make first" >&2; exit 69; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc -o "$tmp/nvml_minimal" bench/h200/nvml_minimal.c -ldl
export WATTPROF_NVML_LIB="$PWD/$B/fake-nvml/libnvidia-ml.so.1"
export FAKE_NVML_TRACE="$PWD/tests/fixtures/h200/buffer-2gpu.csv.gz"

# cpu_ms CMD...: user+system CPU of CMD and its children, in ms (bash's `times`).
cpu_ms() {
    ( "$@" >/dev/null 2>&1; times ) | awk 'NR==2 { split($1,u,"m"); split($2,s,"m");
        sub("s","",u[2]); sub("s","",s[2]); printf "%d", (u[1]*60+u[2]+s[1]*60+s[2])*1000 }'
}

printf '%-5s %8s %12s %14s %12s %14s %7s\n' GPUs seconds wattprof_ms wattprof_us/s baseline_ms baseline_us/s ratio
for n in 1 2 8; do
    export FAKE_NVML_GPUS=$n
    w=$(cpu_ms "$B/wattprof" record -q -o "$tmp/t$n.wptrace" --duration "$secs")
    b=$(cpu_ms "$tmp/nvml_minimal" --poll --seconds "$secs")
    printf '%-5s %8s %12s %14s %12s %14s %7s\n' "$n" "$secs" "$w" $((w * 1000 / secs)) "$b" $((b * 1000 / secs)) \
        "$(awk -v a="$w" -v b="$b" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }')"
done
