# `wattprof sweep` runs the command once per value, each run a phase of one trace; the table
# compares them (issue 3, done-when 2); a killed sweep keeps its finished runs.
. "$(dirname "$0")/lib.sh"
# Replay the recording's steady idle stretch (~125 W per GPU) so energy follows duration.
export FAKE_NVML_OFFSET_S=24

expect_status 0 "$WATTPROF" sweep --param n=1,2 -o s.wptrace --json s.json -- sleep '{n}'
expect_in err.txt "[1/2] n=1"
expect_in err.txt "[2/2] n=2"
expect_in err.txt "replay"
check 'len(j["runs"]) == 2 and [r["value"] for r in j["runs"]] == ["1", "2"]' s.json
check 'all(r["exit_code"] == 0 for r in j["runs"])' s.json
check '1.7 <= j["runs"][1]["duration_s"] / j["runs"][0]["duration_s"] <= 2.3' s.json
check '1.7 <= j["runs"][1]["energy_j"] / j["runs"][0]["energy_j"] <= 2.3' s.json
check 'abs(j["runs"][1]["energy_rel"] - j["runs"][1]["energy_j"] / j["runs"][0]["energy_j"]) < 1e-3' s.json
check 'all(200 < r["mean_w"] < 300 for r in j["runs"])' s.json
note "runs: $(json s.json '[(r["value"], round(r["duration_s"],2), round(r["energy_j"],1)) for r in j["runs"]]')"

# --phase compares only the job's own phases of that name (start-up left out).
cat > job.py <<'PY'
import sys, time, wattprof
time.sleep(0.4)  # start-up, not compared
with wattprof.phase("train", samples=100):
    time.sleep(float(sys.argv[1]))
PY
expect_status 0 "$WATTPROF" sweep --param t=0.5,1 --phase train --json p.json -- python3 job.py '{t}'
check 'j["phase"] == "train" and [r["samples"] for r in j["runs"]] == [100, 100]' p.json
check '0.45 <= j["runs"][0]["duration_s"] <= 0.6 and 0.95 <= j["runs"][1]["duration_s"] <= 1.1' p.json
check 'abs(j["runs"][0]["j_per_sample"] - j["runs"][0]["energy_j"] / 100) < 1e-4' p.json
check '1.7 <= j["runs"][1]["energy_rel"] <= 2.3' p.json
expect_status 0 "$WATTPROF" sweep --param t=0.2 --phase nonesuch --json n.json -- python3 job.py '{t}'
check 'j["runs"][0]["energy_j"] is None' n.json
# ... and the table shows those missing numbers as '-', not 'nan'.
grep -q '^ 0.2  *0  *-  *-  *-  *-  *-  *-  *-$' err.txt || { cat err.txt; fail "a run without the phase is not all '-' in the table"; }
! grep -qi nan err.txt || { cat err.txt; fail "the table prints nan"; }
expect_in err.txt "no run sent a phase called 'nonesuch'"

# The value is substituted into argv, never through a shell.
expect_status 0 "$WATTPROF" sweep --param w='a b;touch pwned' --json w.json -- sh -c 'test "$1" = "a b;touch pwned"' sh '{w}'
[ ! -e pwned ] || fail "a value was interpreted by a shell"

# A failing run is reported and the sweep carries on; exit status 1.
expect_status 1 "$WATTPROF" sweep --param c=0,3,0 --json c.json -- sh -c 'exit $1' sh '{c}'
check '[r["exit_code"] for r in j["runs"]] == [0, 3, 0]' c.json

# Bad usage.
expect_status 64 "$WATTPROF" sweep -- sleep 1
expect_status 64 "$WATTPROF" sweep --param n=1,,2 -- sleep '{n}'
expect_status 64 "$WATTPROF" sweep --param n=1,2 -- sleep 1
expect_in err.txt "{n}"

# Killed midway (SIGKILL): the finished runs are in the trace.
"$WATTPROF" sweep --param n=0.5,0.5,60 -o k.wptrace -- sleep '{n}' 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do
    python3 - <<'PY' 2>/dev/null && break
import sqlite3, sys
c = sqlite3.connect("file:k.wptrace?mode=ro", uri=True)
n = c.execute("select count(*) from marks where kind='end' and name like 'sweep/%'").fetchone()[0]
sys.exit(0 if n >= 2 else 1)
PY
    sleep 0.2
done
sleep 1.2  # let the writer commit a second of the third run too
kill -KILL $pid
wait $pid 2>/dev/null || true
expect_status 0 "$WATTPROF" report k.wptrace --json k.json
check '[p["name"] for p in j["phases"]][:2] == ["sweep/0", "sweep/1"]' k.json
check 'all(p["energy_j"] > 0 for p in j["phases"][:2])' k.json

# Runs that never happened (--stop-on-error) are listed as "not run", never "(null)".
expect_status 1 "$WATTPROF" sweep --stop-on-error --param c=3,0,0 --json notrun.json -- sh -c 'exit $1' sh '{c}'
grep -q "(null)" err.txt && fail "the table printed (null) for runs that never happened"
[ "$(grep -c "not run" err.txt)" = 2 ] || { cat err.txt; fail "want two runs listed as not run"; }
check '[r["value"] for r in j["runs"]] == ["3"]' notrun.json

# --cooldown takes the same durations as record --duration.
expect_status 64 "$WATTPROF" sweep --cooldown 1e19 --param n=1 -- sleep '{n}'
expect_in err.txt "365 days"
