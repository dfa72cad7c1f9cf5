#!/usr/bin/env bash
# Chunk codec benchmark (bench/perf/codec_bench.c): the power chunks of TRACE encoded as
# version 1 and version 2 chunks, bytes per sample and CPU per sample to encode and decode.
# Needs build/libwattprof-core.a (run `make` first); a day trace comes from day_bench.sh.
# Usage: bench/perf/codec_bench.sh [TRACE] [REPS]   (default build/perf/day-1h-new.wptrace, 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
trace=${1:-build/perf/day-1h-new.wptrace}
lib=build/libwattprof-core.a
[ -f "$lib" ] || { echo "codec_bench: $lib is missing; run make first" >&2; exit 1; }
[ -f "$trace" ] || { echo "codec_bench: no $trace; bench/perf/day_bench.sh 1 writes it" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wp-codec-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Isrc bench/perf/codec_bench.c "$lib" \
    $(pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3) -ldl -lm -pthread -o "$tmp/codec_bench"
"$tmp/codec_bench" "$trace" "${2:-5}"
