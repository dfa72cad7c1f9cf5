# A trace being recorded is locked: a second `record --force -o` on the same path is refused
# (exit 73, naming the first recorder's PID) before anything is removed, and the first
# recorder's data stays whole.
. "$(dirname "$0")/lib.sh"

"$WATTPROF" record -q -o live.wptrace --duration 4 --json first.json 2>first.err &
pid=$!
for _ in $(seq 1 50); do [ -e live.wptrace-wal ] && break; sleep 0.1; done
sleep 1
expect_status 73 "$WATTPROF" record -q --force -o live.wptrace --duration 1
expect_in err.txt "being recorded"
expect_in err.txt "process $pid"
expect_status 73 "$WATTPROF" run --force -o live.wptrace -- true
expect_in err.txt "being recorded"
set +e; wait $pid; st=$?; set -e
[ "$st" = 0 ] || { cat first.err; fail "the first recorder exited $st"; }
# The first recorder's own summary: about 4 s, not the 1 s of a second recording.
check '3.5 < j["duration_s"] < 6 and all(g["samples"] >= 150 for g in j["gpus"])' first.json
expect_status 0 "$WATTPROF" report live.wptrace --json r.json
check '3.5 < j["duration_s"] < 6' r.json
# Stopped, it may be replaced.
expect_status 0 "$WATTPROF" record -q --force -o live.wptrace --duration 1
