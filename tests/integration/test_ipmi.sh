# The ipmi source against a real IPMI 2.0 LAN stack: OpenIPMI's ipmi_sim with our DCMI module.
# The fixture is first proven by two independent readers (ipmitool and FreeIPMI's ipmi-dcmi);
# then wattprof must read what it serves, follow a change within one cadence, store nothing
# (not zero) while the BMC says its measurement is inactive, carry the power limit, place
# readings by the BMC's own stamps (or by the poll when the BMC's clock is off), integrate
# energy that matches the served power x time, and never let the password out.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/ipmi_sim.sh"

sim_setup
sim_start
SPEC="ipmi:name=bmc,host=127.0.0.1,port=$SIM_PORT,user=$SIM_USER,password_file=$T/sim/pw"
SPEC="$SPEC,privilege=admin,workaround=opensesspriv,timeout=3s"

# --- the fixture, read by ipmitool and ipmi-dcmi ---
sim_ipmitool dcmi power reading >it.txt 2>&1 || { cat it.txt; fail "ipmitool cannot read the fixture"; }
expect_in it.txt "Instantaneous power reading:                   412 Watts"
expect_in it.txt "Minimum during sampling period:                300 Watts"
expect_in it.txt "Maximum during sampling period:                500 Watts"
expect_in it.txt "Average power reading over sample period:      400 Watts"
expect_in it.txt "activated"
ipmi-dcmi -h "127.0.0.1:$SIM_PORT" -u "$SIM_USER" -p "$SIM_PASSWORD" -l ADMIN -I 3 -D LAN_2_0 \
    -W opensesspriv --get-system-power-statistics >fi.txt 2>&1 || { cat fi.txt; fail "ipmi-dcmi cannot read the fixture"; }
expect_in fi.txt "Current Power                        : 412 Watts"
expect_in fi.txt "Average Power over sampling duration : 400 watts"
expect_in fi.txt "Statistics reporting time period     : 60000 milliseconds"
expect_in fi.txt "Power Measurement                    : Active"
# No limit set: DCMI's completion code 0x80, which both readers name.
set +e
ipmi-dcmi -h "127.0.0.1:$SIM_PORT" -u "$SIM_USER" -p "$SIM_PASSWORD" -l ADMIN -I 3 -D LAN_2_0 \
    -W opensesspriv --get-power-limit >fl.txt 2>&1
set -e
expect_in fl.txt "No Set Power Limit"
sim_set current=412 min=300 max=500 avg=400 period_ms=60000 active=1 limit=650
ipmi-dcmi -h "127.0.0.1:$SIM_PORT" -u "$SIM_USER" -p "$SIM_PASSWORD" -l ADMIN -I 3 -D LAN_2_0 \
    -W opensesspriv --get-power-limit >fl.txt 2>&1 || { cat fl.txt; fail "ipmi-dcmi --get-power-limit"; }
expect_in fl.txt "Power Limit Requested                             : 650 watts"
note "fixture: ipmitool and ipmi-dcmi both read 412 W (min 300, max 500, avg 400), limit 650 W"

# --- list: four node_input gauges, the limit on "power", the period in the help ---
expect_status 0 "$WATTPROF" list --no-auto --source "$SPEC"
grep -E '^bmc +0 +power +power +node_input +W +1 s +650' out.txt >/dev/null ||
    { cat out.txt; fail "list does not show bmc/power as a node_input gauge with limit 650 W"; }
expect_in out.txt "average over its 60 s statistics period"

# --- a recording with the replayed GPUs: a change, an inactive spell, the password nowhere ---
"$WATTPROF" record -o rec.wpt -d 9 --json rec.json --source "$SPEC" >rec.out 2>rec.err &
REC=$!
sleep 1
ps -eo args >ps.txt
sleep 1.5
T1=$(date +%s.%N)
sim_set current=700 min=300 max=700 avg=450 period_ms=60000 active=1 limit=650
sleep 2.5
T2=$(date +%s.%N)
sim_set current=700 min=300 max=700 avg=450 period_ms=60000 active=0 limit=650
sleep 2
T3=$(date +%s.%N)
sim_set current=700 min=300 max=700 avg=450 period_ms=60000 active=1 limit=650
wait $REC || { cat rec.err; fail "record failed"; }
"$WATTPROF" export rec.wpt --csv -o rec.csv

python3 - "$T1" "$T2" "$T3" rec.csv <<'PY' || fail "the BMC's readings in the trace are wrong (above)"
import csv, math, sys
t1, t2, t3 = (float(x) * 1e6 for x in sys.argv[1:4])
rows = [r for r in csv.DictReader(open(sys.argv[4])) if r["source"] == "bmc"]
by = {}
for r in rows:
    by.setdefault(r["name"], []).append((int(r["t_us"]), int(r["value"])))
p = by.get("power", [])
bad = []
if len(p) < 5: bad.append(f"only {len(p)} power readings")
# The BMC's clock agrees with ours, so its own stamps place the samples: whole seconds,
# truncated, so half a second later (meter_clock.h), or at the poll when that came sooner (a
# poll in the first half of the BMC's second): never in the second half of a second.
if any(t % 1000000 > 500000 for t, _ in p): bad.append("a reading placed past its stamp's half second")
if len({t for t, _ in p}) != len(p): bad.append("a reading stored twice")
if any(v == 0 for _, v in p): bad.append("a zero reading (inactive must be absent)")
# A stamp is taken at or before the request it answers: before floor(T1) the old value,
# from ceil(T1) on the new one, and the new one shows within one cadence of the change.
if any(v != 412 for t, v in p if t < math.floor(t1 / 1e6) * 1e6): bad.append("700 W before the change")
if any(v != 700 for t, v in p if t >= math.ceil(t1 / 1e6) * 1e6): bad.append("412 W after the change")
first = min((t for t, v in p if v == 700), default=None)
if first is None or first > t1 + 1e6: bad.append(f"the change showed at {first}, over 1 s after {t1:.0f}")
gap = [t for t, _ in p if math.ceil(t2 / 1e6) * 1e6 <= t < math.floor(t3 / 1e6) * 1e6]
if gap: bad.append(f"readings while the BMC said inactive: {gap}")
if not any(t >= t3 for t, _ in p): bad.append("no reading after the measurement came back")
for name, before, after in (("power_min", 300, 300), ("power_max", 500, 700), ("power_avg", 400, 450)):
    vals = {v for _, v in by.get(name, [])}
    if vals != {before, after}: bad.append(f"{name} held {sorted(vals)}, served {before} then {after}")
print("\n".join(bad) or f"{len(p)} readings, change seen {(first - t1) / 1e6:.2f} s after it")
sys.exit(1 if bad else 0)
PY
sqlite3 rec.wpt "select message from events" >events.txt
expect_in events.txt "reports its power measurement as not active; no node readings until it is"
expect_in events.txt "reports its power measurement as active again"
[ "$(sqlite3 rec.wpt "select limit_value from sensors where source='bmc' and name='power'")" = 650 ] ||
    fail "the trace does not carry the BMC's power limit (650 W) on bmc/power"
check 'j["node"]["basis"] == "node_input" and j["node"]["source"] == "bmc/power"' rec.json
check 'len(j["gpus"]) == 2' rec.json

# --- energy: DCMI has no energy counter, so the trace's energy is the integral of the
# readings; it must match the served power x time within one reading's resolution. A reading
# stands for the cadence before its stamp (energy.h's interval rule), and its stamp is the
# second it was taken in, truncated: the step can be credited up to one cadence plus one
# second early, so |step| x 2 s, plus 1 W (the readings' resolution) over the run. ---
sim_set current=300 min=300 max=300 avg=300 period_ms=60000 active=1
"$WATTPROF" record -o en.wpt -d 6 --json en.json -q --source "$SPEC" 2>en.err &
REC=$!
sleep 3
TS=$(date +%s.%N)
sim_set current=500 min=300 max=500 avg=400 period_ms=60000 active=1
wait $REC || { cat en.err; fail "record failed"; }
python3 - "$TS" en.json <<'PY' || fail "node energy does not match the served power x time"
import json, sys
ts = float(sys.argv[1])
j = json.load(open(sys.argv[2]))
t0, t1 = j["start_us"] / 1e6, j["end_us"] / 1e6
served = 300 * (ts - t0) + 500 * (t1 - ts)
got = j["node"]["energy_j"]
tol = (500 - 300) * 2.0 + 1.0 * (t1 - t0)
print(f"node energy {got:.1f} J, served {served:.1f} J over {t1 - t0:.3f} s "
      f"(diff {got - served:+.1f} J, allowed {tol:.0f} J)")
sys.exit(0 if abs(got - served) <= tol else 1)
PY

# --- a BMC whose clock is an hour behind: placed by the polls, one event says so ---
sim_set current=412 min=300 max=500 avg=400 period_ms=60000 active=1 clock_offset=-3600
"$WATTPROF" record -o clk.wpt -d 4 --json clk.json -q --source "$SPEC" 2>clk.err ||
    { cat clk.err; fail "record failed"; }
sqlite3 clk.wpt "select message from events" >clk-events.txt
expect_in clk-events.txt "s clock is 3600"
expect_in clk-events.txt "off the host's"
python3 - clk.json <<'PY' || fail "readings of an off clock were not placed within the recording"
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if abs(j["node"]["mean_w"] - 412) < 1 and j["node"]["energy_j"] > 0 else 1)
PY

# --- the password is nowhere: ps, the trace, the exports, the JSON, the messages ---
"$WATTPROF" export rec.wpt --jsonl -o rec.jsonl
sqlite3 rec.wpt .dump >dump.sql
grep -q "password_file=$T/sim/pw" dump.sql || fail "the trace does not record the spec (redacted)"
for f in ps.txt dump.sql rec.csv rec.jsonl rec.json rec.out rec.err en.json en.err clk.err; do
    if grep -qF "$SIM_PASSWORD" "$f"; then fail "the BMC password appears in $f"; fi
done
note "password absent from ps, trace dump, exports, JSON and messages"
