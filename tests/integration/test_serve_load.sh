# The short form of bench/perf/serve_load.sh (issue 13, done-when 2; the 60 s run and its
# figures are in bench/perf/README.md): wrk at 2,000 requests/s on /metrics for 5 s after a
# 10 s warm-up (short of the 60 s the live view needs to fill; with 2 GPUs its growth stays far
# under the 1 MB allowed), 2 replayed GPUs recorded behind it: no error, the rate held, RSS
# within 1 MB, and every 20 ms sample the fake NVML served is in the trace.
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
# Under ASan (build-san) memory is the sanitizer's (quarantine, shadow): RSS says nothing there.
if ldd "$WATTPROF" | grep -q libasan; then export RSS_LIMIT_KB=none; fi
WARMUP=10 "$root/bench/perf/serve_load.sh" 5 2000 2
