#!/usr/bin/env bash
# Trace store benchmark: HOURS (default 1) of 8 GPUs x 50 Hz power written through the trace
# writer and through a one-row-per-sample SQLite baseline; prints size and CPU throughput.
# Needs build/libwattprof-core.a (run `make` first). Files go to a temporary directory
# (TMPDIR), which is removed afterwards.
# Usage: bench/perf/store_bench.sh [HOURS]
set -euo pipefail
cd "$(dirname "$0")/../.."
hours=${1:-1}
lib=build/libwattprof-core.a
if [ ! -f "$lib" ]; then
    echo "store_bench: $lib is missing; run make first" >&2
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wp-store-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc bench/perf/store_bench.c "$lib" \
    $(pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3) -ldl -lm -pthread -o "$tmp/store_bench"
zcat tests/fixtures/h200/buffer-2gpu.csv.gz >"$tmp/pattern.csv"
echo "file system of $tmp: $(df -T "$tmp" | awk 'NR == 2 { print $2 }')"
"$tmp/store_bench" "$tmp/pattern.csv" "$hours" "$tmp"
