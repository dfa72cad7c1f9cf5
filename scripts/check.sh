#!/bin/sh
# Every test: installs the Debian packages it needs, checks the formatting (.clang-format)
# and that clang builds everything warning-free, then `make check`: the whole suite with gcc,
# and again under ASan+UBSan; last, every libFuzzer target for FUZZ_SECONDS (default 30) each
# on its seed corpus (tests/fuzz/run.sh).
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
make -j"$jobs" check
make -j"$jobs" fuzz
tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
