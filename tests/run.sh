#!/usr/bin/env bash
# Runs every test: unit binaries (cmocka) in $BUILD/tests, shell integration tests in
# tests/integration, Python tests in tests/python. Prints one line per test and, last,
# "N passed, N failed". Exits non-zero if any failed.
# Usage: BUILD=build tests/run.sh [NAME-FILTER]
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
export WATTPROF="$PWD/$BUILD/wattprof"
export FAKE_NVML_LIB="$PWD/$BUILD/fake-nvml/libnvidia-ml.so.1"
export FIXTURES="$PWD/tests/fixtures"
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"
# Tests must never reach a real GPU by accident: point NVML at the fake unless a test says
# otherwise.
export WATTPROF_NVML_LIB="$FAKE_NVML_LIB"
export FAKE_NVML_TRACE="$FIXTURES/h200/buffer-2gpu.csv.gz"
export FAKE_NVML_RECORDED_ON="2x NVIDIA H200 SXM, driver 580.159.04, 2026-11-28"
# Nor this machine's RAPL (or any sysfs meter): sysfs sources look under an empty tree unless
# a test gives root= or sets WATTPROF_SYSFS_ROOT itself.
export WATTPROF_SYSFS_ROOT="$FIXTURES/sysfs/empty"
filter=${1:-}
pass=0 fail=0 failed=()
logdir="$BUILD/test-logs"
mkdir -p "$logdir"

run_one() { # name, command...
    local name=$1; shift
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && return
    local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
    local t0=$SECONDS
    if "$@" >"$log" 2>&1; then
        pass=$((pass + 1)); echo "PASS $name ($((SECONDS - t0)) s)"
    else
        fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (log: $log)"
        sed 's/^/    | /' "$log" | tail -n 40
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "unit/$(basename "$t")" "$t"
done
for t in tests/integration/test_*.sh; do
    [ -f "$t" ] || continue
    run_one "integration/$(basename "$t" .sh)" bash "$t"
done
for t in tests/python/test_*.py; do
    [ -f "$t" ] || continue
    run_one "python/$(basename "$t" .py)" python3 "$t"
done
echo
[ $fail -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
