#!/bin/sh
# The main job end to end: build wattprof, list the sensors, measure a job, report it.
# On a machine with NVIDIA GPUs it measures them (a 20 s GPU burn if wattprof-burn was built,
# otherwise `sleep 10`). Without GPUs it REPLAYS a real trace recorded on two H200s through
# the fake NVML library, and says so: those numbers are that recording's, not this machine's.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
make -j"$(nproc)" >/dev/null
out=demo-out
mkdir -p "$out"
stamp=$(date +%Y%m%d-%H%M%S)
trace="$out/run-$stamp.wptrace"
json="$out/run-$stamp.json"
html="$out/run-$stamp.html"

# GPUs only: CPU or BMC meters alone are not what this demo measures.
if build/wattprof list --no-auto --source nvml >/dev/null 2>&1; then
    echo "== NVIDIA GPUs found: measuring this machine"
    if [ -x build/wattprof-burn ]; then job="build/wattprof-burn --seconds 20"; else job="sleep 10"; fi
else
    echo "== No NVIDIA GPU here. This demo REPLAYS a real recording: the 20 ms power buffer of"
    echo "   two NVIDIA H200s during ResNet-152 training (tests/fixtures/h200/buffer-2gpu.csv.gz),"
    echo "   served through the fake NVML library. The numbers are that recording's, not this"
    echo "   machine's."
    WATTPROF_NVML_LIB="$PWD/build/fake-nvml/libnvidia-ml.so.1"
    FAKE_NVML_TRACE="$PWD/tests/fixtures/h200/buffer-2gpu.csv.gz"
    FAKE_NVML_OFFSET_S=${FAKE_NVML_OFFSET_S:-45} # start inside the first ResNet-152 phase
    FAKE_NVML_RECORDED_ON="2x NVIDIA H200 SXM, driver 580.159.04, 2026-11-28"
    export WATTPROF_NVML_LIB FAKE_NVML_TRACE FAKE_NVML_OFFSET_S FAKE_NVML_RECORDED_ON
    job="sleep 10"
fi
echo
echo "== wattprof list"
build/wattprof list
echo
echo "== wattprof run -o $trace --json $json -- $job"
# shellcheck disable=SC2086
build/wattprof run -o "$trace" --json "$json" -- $job
echo
echo "== wattprof report $trace --html $html"
build/wattprof report "$trace" --html "$html" --force
echo
echo "== first rows of: wattprof export $trace --csv --sensor power"
build/wattprof export "$trace" --csv --sensor power | head -n 6
echo
echo "trace: $trace   summary JSON: $json   report with plots: $html (open it in a browser)"
