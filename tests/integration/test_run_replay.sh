# `wattprof run` over the replayed H200 trace: two GPUs, 20 ms samples, trace energy within
# 0.5 % of the counter (issue 2, done-when 2), the summary says it is a replay, exit status
# passes through.
. "$(dirname "$0")/lib.sh"

expect_status 0 "$WATTPROF" run --json s.json -- sleep 3
expect_in err.txt "replay"
check 'len(j["gpus"]) == 2' s.json
check 'all(g["samples"] >= 140 for g in j["gpus"])' s.json
check 'all(abs(g["counter_diff_pct"]) < 0.5 for g in j["gpus"])' s.json
check 'all(19 <= g["median_interval_ms"] <= 21 for g in j["gpus"])' s.json
check 'all(g["limit_w"] == 700 for g in j["gpus"])' s.json
check 'all(g["peak_w"] >= g["peak_1s_w"] >= g["mean_w"] > 50 for g in j["gpus"])' s.json
check 'abs(j["total"]["energy_j"] - sum(g["energy_j"] for g in j["gpus"])) < 1e-6 * j["total"]["energy_j"] + 1e-9' s.json
check '2.9 <= j["duration_s"] <= 6' s.json
check 'j["exit_code"] == 0 and j["replay"]' s.json
note "energy per GPU: $(json s.json '[round(g["energy_j"],1) for g in j["gpus"]]') J, counter diff $(json s.json '[round(g["counter_diff_pct"],3) for g in j["gpus"]]') %"

# The command's exit status is wattprof's.
expect_status 7 "$WATTPROF" run -q -- sh -c 'exit 7'
expect_status 127 "$WATTPROF" run -q -- ./no-such-program
expect_in err.txt "no-such-program"
printf 'x' > notexec
expect_status 126 "$WATTPROF" run -q -- ./notexec
expect_status 137 "$WATTPROF" run -q -- sh -c 'kill -9 $$'

# The job sees the marks socket.
expect_status 0 "$WATTPROF" run -q -- sh -c 'test -S "$WATTPROF_SOCKET"'

# A signal sent to wattprof reaches the command; the summary is still written.
"$WATTPROF" run -q --json sig.json -- sleep 30 2>/dev/null &
pid=$!
sleep 1.5
kill -TERM $pid
set +e; wait $pid; st=$?; set -e
[ "$st" = 143 ] || fail "SIGTERM to wattprof: exit $st, expected 143 (the command killed by SIGTERM)"
check 'j["exit_code"] == 143 and j["duration_s"] < 20' sig.json

# Without -o nothing is left behind. A TMPDIR of its own: other runs on the machine (tests
# of another checkout in parallel) come and go in the shared one.
mkdir tmp
TMPDIR="$T/tmp" expect_status 0 "$WATTPROF" run -q -- true
[ -z "$(ls -A tmp)" ] || fail "run left a temporary trace behind: $(ls -A tmp)"
