# A recording killed with SIGKILL leaves a trace that `report` opens, holding the samples up
# to about a second before the kill (issue 2, done-when 4).
. "$(dirname "$0")/lib.sh"

"$WATTPROF" record -q -o killed.wptrace --duration 60 2>rec.err &
pid=$!
sleep 4
kill_us=$(python3 -c 'import time; print(int(time.time()*1e6))')
kill -KILL $pid
wait $pid 2>/dev/null || true
[ -f killed.wptrace ] || fail "no trace after SIGKILL"

expect_status 0 "$WATTPROF" report killed.wptrace --json r.json
check 'len(j["gpus"]) == 2 and all(g["samples"] >= 100 for g in j["gpus"])' r.json
expect_status 0 "$WATTPROF" export killed.wptrace --csv --sensor power -o rows.csv
last_us=$(tail -n 1 rows.csv | cut -d, -f6)
lag_ms=$(( (kill_us - last_us) / 1000 ))
note "last sample ${lag_ms} ms before the kill"
# The buffer is read once a second and committed right after: the newest committed sample is
# about a second old, plus scheduling slack on a loaded machine.
[ "$lag_ms" -lt 2000 ] || fail "last committed sample is ${lag_ms} ms before the kill (want < 2000)"
[ "$lag_ms" -gt -1000 ] || fail "sample after the kill? lag ${lag_ms} ms"

# A cleanly stopped recording leaves one file (no -wal/-shm beside it).
expect_status 0 "$WATTPROF" record -q -o clean.wptrace --duration 2
[ ! -e clean.wptrace-wal ] || fail "clean close left a WAL file"
expect_status 0 "$WATTPROF" report clean.wptrace
