#!/bin/sh
# Every test: installs the Debian packages it needs, checks the formatting (.clang-format)
# and that clang builds everything warning-free, then the whole suite with gcc and, at the
# same time, under ASan+UBSan (`make check` runs them one after the other); last, every
# libFuzzer target for FUZZ_SECONDS (default 30) each on its seed corpus (tests/fuzz/run.sh).
# Each suite ends with a line "N passed, N failed"; the exit status is non-zero if anything
# failed.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
if git rev-parse --git-dir >/dev/null 2>&1; then
    make format-check
fi
make -j"$jobs" BUILD=build-clang CC=clang all test-bin
make -j"$jobs" test-bin
make -j"$jobs" BUILD=build-san SAN=1 test-bin
# The gcc suite and the ASan+UBSan suite run side by side: most of a suite's time is spent
# waiting on peers (BMC, PDU, Redfish, Prometheus, Slurm) and timers, and every test makes its
# own temporary directory and picks free ports. Each suite's log is printed whole when both
# are done (`make check` runs them one after the other).
BUILD=build tests/run.sh >build/suite.log 2>&1 &
plain=$!
ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    BUILD=build-san tests/run.sh >build-san/suite.log 2>&1 &
san=$!
rc=0
wait $plain || rc=1
wait $san || rc=1
echo "== the suite with gcc"
cat build/suite.log
echo "== the suite under ASan+UBSan"
cat build-san/suite.log
[ $rc -eq 0 ] || { echo "check.sh: a suite failed (above)" >&2; exit 1; }
make -j"$jobs" fuzz
tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
