#!/usr/bin/env bash
# Runs every libFuzzer target in $BUILD/fuzz (built by `make fuzz`) for SECONDS each on a
# copy of its seed corpus tests/fuzz/corpus/NAME, so the committed corpus never changes.
# Fails when a target crashes, leaks, times out or runs out of memory; the input that did it
# is kept in $BUILD/fuzz/crashes/NAME/ and its path printed: add it to the corpus with the fix.
# Usage: BUILD=build tests/fuzz/run.sh SECONDS [NAME...]
# Env: FUZZ_JOBS=N runs N workers per target (default 1); FUZZ_ARGS adds libFuzzer flags.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
secs=${1:?usage: tests/fuzz/run.sh SECONDS [NAME...]}
shift
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for d in tests/fuzz/corpus/*/; do names+=("$(basename "$d")"); done
fi
jobs=${FUZZ_JOBS:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/wattprof-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
for name in "${names[@]}"; do
    bin="$BUILD/fuzz/fuzz_$name"
    [ -x "$bin" ] || { echo "no $bin: run 'make fuzz' first" >&2; exit 2; }
    crashes="$BUILD/fuzz/crashes/$name"
    mkdir -p "$work/$name" "$crashes"
    cp tests/fuzz/corpus/"$name"/* "$work/$name"/
    log="$BUILD/fuzz/$name.log"
    # -timeout: no input should take a second; -rss_limit_mb: nor 2 GB of memory.
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$crashes/" ${FUZZ_ARGS:-} \
        $([ "$jobs" -gt 1 ] && echo "-fork=$jobs -ignore_crashes=0") \
        "$work/$name" >"$log" 2>&1
    rc=$?
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
    if [ $rc -ne 0 ]; then
        failed+=("$name")
        echo "FAIL fuzz/$name: exit $rc after $runs runs (log: $log)"
        grep -E 'ERROR|SUMMARY|Test unit written|artifact' "$log" | head -n 20 | sed 's/^/    | /'
    else
        echo "PASS fuzz/$name: $runs runs in $secs s, no crash"
    fi
done
[ ${#failed[@]} -eq 0 ]
