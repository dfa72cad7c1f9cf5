# wattprof-burn (built only where nvcc exists) checks itself without a GPU: its decoders, its
# argument parsing, its JSON strings (core/json.c) and its marks (libwattprof) through a real
# socket.
. "$(dirname "$0")/lib.sh"
burn="$(dirname "$WATTPROF")/wattprof-burn"
if [ ! -x "$burn" ]; then
    note "skipped: $burn was not built (needs nvcc and cuBLAS)"
    exit 0
fi
expect_status 0 "$WATTPROF" burn --self-test
expect_in out.txt "self-test: ok"
