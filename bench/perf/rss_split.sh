#!/usr/bin/env bash
# rss_split.sh: where a recorder's resident memory is, for one or more wattprof builds: each
# records the replayed 2x H200 trace (fake NVML) for 3 s and /proc/PID/smaps_rollup is read
# after 2 s. Shared clean pages are library code (shared with every other process that maps
# the same libraries); private dirty pages are wattprof's own.
#   bench/perf/rss_split.sh WATTPROF [WATTPROF...]      (after `make`)
set -u
cd "$(dirname "$0")/../.." || exit 1
export WATTPROF_NVML_LIB=${WATTPROF_NVML_LIB:-$PWD/build/fake-nvml/libnvidia-ml.so.1}
export FAKE_NVML_TRACE=${FAKE_NVML_TRACE:-$PWD/tests/fixtures/h200/buffer-2gpu.csv.gz}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
echo "| build | Rss kB | Shared_Clean kB | Private_Dirty kB |"
echo "|---|---|---|---|"
for w in "$@"; do
    "$w" record -q -o "$t/r.wptrace" --force -d 3 &
    p=$!
    sleep 2
    awk -v w="$w" '/^Rss:/ {r=$2} /^Shared_Clean:/ {s=$2} /^Private_Dirty:/ {d=$2}
        END {printf "| %s | %d | %d | %d |\n", w, r, s, d}' "/proc/$p/smaps_rollup"
    wait $p
done
