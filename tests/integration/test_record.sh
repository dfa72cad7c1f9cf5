# `wattprof record` stops cleanly on SIGINT/SIGTERM, and records every reading the driver
# offers (utilisation, SM clock, temperature when the fake synthesises them).
. "$(dirname "$0")/lib.sh"

for sig in INT TERM; do
    "$WATTPROF" record -q -o "$sig.wptrace" --json "$sig.json" 2>"$sig.err" &
    pid=$!
    sleep 2
    kill -"$sig" $pid
    set +e; wait $pid; st=$?; set -e
    [ "$st" = 0 ] || { cat "$sig.err"; fail "record stopped by SIG$sig exited $st, expected 0"; }
    check 'len(j["gpus"]) == 2 and all(g["samples"] >= 50 for g in j["gpus"])' "$sig.json"
    # no command ran: absent (null), not an empty command
    check 'j["command"] is None and j["exit_code"] is None' "$sig.json"
    [ ! -e "$sig.wptrace-wal" ] || fail "SIG$sig left a WAL file: not closed cleanly"
done
python3 - <<'PY' || fail "stop signal not recorded in the trace metadata"
import sqlite3
c = sqlite3.connect("file:TERM.wptrace?mode=ro", uri=True)
assert c.execute("select value from meta where key='stopped_by'").fetchone()[0] == "signal 15"
PY

FAKE_NVML_EXTRAS=1 expect_status 0 "$WATTPROF" record -q -o extras.wptrace --duration 2.5
expect_status 0 "$WATTPROF" export extras.wptrace --csv -o extras.csv
for name in util_gpu clock_sm temp power_avg power_instant energy power; do
    n=$(awk -F, -v n="$name" '$4 == n' extras.csv | wc -l)
    [ "$n" -ge 2 ] || fail "reading $name: $n rows, expected a few"
done
# Units stay raw integers in the reading's own unit.
awk -F, '$4 == "clock_sm" && $5 != "MHz" { exit 1 }' extras.csv || fail "clock_sm not in MHz"
awk -F, '$4 == "util_gpu" && ($7 < 0 || $7 > 100) { exit 1 }' extras.csv || fail "util out of 0..100"

# record prints its marks socket at the start (jobs set WATTPROF_SOCKET from it); a point
# mark sent there shows in the summary and the JSON, and the headline says where and how
# long it recorded rather than "'(no command)' ran ..., exit code unknown".
"$WATTPROF" record -o socket.wptrace --duration 3 --json socket.json 2>socket.err &
pid=$!
sock=
for _ in $(seq 1 50); do
    sock=$(sed -n 's/.*WATTPROF_SOCKET=\([^ ]*\)$/\1/p' socket.err)
    [ -n "$sock" ] && break
    sleep 0.1
done
[ -n "$sock" ] || { cat socket.err; fail "record did not print its WATTPROF_SOCKET"; }
WATTPROF_SOCKET="$sock" python3 -c 'import wattprof; wattprof.mark("checkpoint", step=7)'
set +e; wait $pid; st=$?; set -e
[ "$st" = 0 ] || { cat socket.err; fail "record exited $st"; }
expect_in socket.err "wattprof: recorded"
expect_in socket.err "checkpoint"
grep -q "no command\|exit code unknown" socket.err && fail "record's headline speaks of a command"
check '[(m["name"], m["counts"]) for m in j["marks"]] == [("checkpoint", {"step": 7})]' socket.json
check '0 < j["marks"][0]["t_s"] < 3.5' socket.json
expect_status 0 "$WATTPROF" record -q -o quiet.wptrace --duration 0.5
grep -q WATTPROF_SOCKET err.txt && fail "--quiet still printed the socket"
true
