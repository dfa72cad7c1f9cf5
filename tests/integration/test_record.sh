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
