# The SNMP PDU source against Debian's snmpd (v2c), serving each vendor's OIDs through
# pass_persist from a file the test rewrites (tests/integration/snmp_peer.sh):
# - every profile (APC, Raritan, ServerTech, Eaton, generic) reads the values served, raw, with
#   the vendor's unit (Raritan's from its decimal-digits OID); five PDUs poll together;
# - a change is followed within one cadence; a reading that turns to -1 (ServerTech's "n/a")
#   stops, absent and never 0, with one event;
# - the energy counters in the trace move exactly as the served counters (within one raw
#   unit), an Eaton Wh counter that wraps at 2^32 included;
# - the node view takes node power from the outlets named with outlets=;
# - snmpd stopped and restarted mid-recording: "unavailable" then "recovered" in the trace;
# - a wrong community: one line naming the PDU and the likely cause; the GPUs are recorded.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/snmp_peer.sh"
snmp_peer_up
# The peer itself serves the fixture (checked with net-snmp's own snmpget).
snmpget -v2c -c "$SNMP_COMMUNITY" -On "127.0.0.1:$SNMP_PORT" .1.3.6.1.4.1.13742.6.5.2.3.1.4.1.1.5 > peer.txt
expect_in peer.txt "Gauge32: 12345"

base="host=127.0.0.1,port=$SNMP_PORT,community_file=$T/community,interval=200ms"
cfg=pdus.conf
cat > $cfg <<EOC
snmp:name=apc,$base,profile=apc,outlets=3,4
snmp:name=rar,$base,profile=raritan
snmp:name=st,$base,profile=servertech,outlets=1.1.2
snmp:name=eat,$base,profile=eaton
snmp:name=gen,$base,profile=generic,oid=.1.3.6.1.4.1.99999.1.1.0,unit=0.1 W
snmp:name=genc,$base,profile=generic,oid=.1.3.6.1.4.1.99999.1.2.0,unit=Wh
EOC

# Mid-run: new readings; the Eaton Wh counter and the generic Counter32 wrap at 2^32.
sed -e 's/\(26\.4\.3\.1\.5\.1 integer\) 123/\1 150/' \
    -e 's/\(3\.3\.1\.3\.1\.1 integer\) 2100/\1 -1/' \
    -e 's/\(3\.5\.1\.5\.0\.1 gauge\) 4294967000/\1 4294967290/' \
    -e 's/\(26\.9\.4\.3\.1\.11\.3 integer\) 1003/\1 1007/' \
    -e 's/\(99999\.1\.2\.0 counter\) 4294967200/\1 4294967290/' \
    "$T/values" > changed1
sed -e 's/\(3\.5\.1\.5\.0\.1 gauge\) 4294967290/\1 10/' \
    -e 's/\(99999\.1\.2\.0 counter\) 4294967290/\1 4/' changed1 > changed2
( sleep 2; values_set changed1; date +%s%6N > t_change; sleep 1.5; values_set changed2 ) &
changer=$!
expect_status 0 "$WATTPROF" record -o t.wptrace --duration 5 --config $cfg --json r.json
wait $changer
t_change=$(cat t_change)
"$WATTPROF" export t.wptrace --csv -o s.csv

python3 - "$t_change" <<'PY' || fail "the samples do not match what snmpd served (see above)"
import csv, sqlite3, sys
t_change = int(sys.argv[1])
rows = list(csv.DictReader(open("s.csv")))
def series(src, name):
    v = [(int(r["t_us"]), int(r["value"]), r["unit"]) for r in rows if r["source"] == src and r["name"] == name]
    assert v, f"no samples of {src}/{name}"
    return v
bad = []
def want(cond, what):
    if not cond:
        bad.append(what)
# each profile reads the served value, raw, in the vendor's unit
first = {("apc", "device1_power"): (123, "0.01 kW"), ("apc", "outlet3_power"): (310, "W"),
         ("apc", "outlet4_energy"): (1004, "0.1 kWh"), ("rar", "inlet1.1_power"): (12345, "0.1 W"),
         ("rar", "inlet1.1_energy"): (987654, "Wh"), ("st", "cord1.1_power"): (2100, "W"),
         ("st", "phase1.1.2_power"): (690, "W"), ("st", "outlet1.1.2_energy"): (70002, "Wh"),
         ("eat", "input0.1_power"): (1800, "W"),
         ("gen", "power"): (4321, "0.1 W"), ("genc", "energy"): (4294967200, "Wh")}
for (src, name), (v, unit) in first.items():
    s = series(src, name)
    want(s[0][1] == v and s[0][2] == unit, f"{src}/{name} first {s[0][1:]} != {(v, unit)}")
# a change shows at the next poll: every sample taken after it is new, and the first comes
# within one cadence (200 ms; plus slack for a loaded machine)
s = series("apc", "device1_power")
t_new = min(t for t, v, _ in s if v == 150)
want(t_new - t_change <= 200000 + 300000, f"apc power followed the change after {(t_new - t_change) / 1e3:.0f} ms")
want(all(v == 150 for t, v, _ in s if t > t_change + 100000), "an old value after the change")
want(all(v == 123 for t, v, _ in s if t < t_change - 100000), "apc power changed before the change")
# -1 from ServerTech is absent, never stored
s = series("st", "cord1.1_power")
want(all(v != -1 and v != 0 for _, v, _ in s), "st cord power stored -1 or 0")
want(max(t for t, _, _ in s) < t_change + 100000, "st cord power kept samples after it became n/a")
# counters move exactly as served (raw, no rescaling): APC outlet 3, +4 tenths of kWh
s = series("apc", "outlet3_energy")
want(s[0][1] == 1003 and s[-1][1] == 1007, f"apc outlet3 energy {s[0][1]}..{s[-1][1]}")
db = sqlite3.connect("t.wptrace")
wrap = dict(((src, name), w) for src, name, w in db.execute("SELECT source, name, wrap_at FROM sensors"))
def delta(vals, w):
    d = 0
    for a, b in zip(vals, vals[1:]):
        d += b - a if b >= a else b + w - a
    return d
want(wrap[("eat", "input0.1_energy")] == 1 << 32, "Eaton Wh (Unsigned32) does not wrap at 2^32")
want(wrap[("apc", "outlet3_energy")] == 1 << 31, "APC energy (INTEGER) does not wrap at 2^31")
want(wrap[("genc", "energy")] == 1 << 32, "a Counter32 does not wrap at 2^32")
e = [v for _, v, _ in series("eat", "input0.1_energy")]
want(e[0] == 4294967000 and e[-1] == 10, f"eaton energy {e[0]}..{e[-1]}")
want(delta(e, 1 << 32) == 306, f"eaton energy delta {delta(e, 1 << 32)} != 306 Wh across the wrap")
g = [v for _, v, _ in series("genc", "energy")]
want(delta(g, 1 << 32) == 100, f"generic counter delta {delta(g, 1 << 32)} != 100 Wh across the wrap")
ev = [m for (m,) in db.execute("SELECT message FROM events")]
want(any("cord1.1_power" in m and "not available" in m for m in ev), f"no n/a event: {ev}")
want(not any("reset" in m for m in ev), f"a wrap was taken for a reset: {ev}")
meta = dict(db.execute("SELECT key, value FROM meta"))
want("-1" in meta.get("missing.st.2.cord1.2_power", ""), "ServerTech cord 2 (-1 at open) not noted missing")
want(meta.get("snmp.apc.shared") == "1" and meta.get("snmp.rar.shared") == "0", "shared= defaults")
for m in bad:
    print("FAIL:", m, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
# The node view: node power from the outlets named, APC 3 and 4 (310 + 290 W) and ServerTech
# 1.1.2 (530 W): a node fed by two PDUs, beside the GPUs.
check 'j["node"]["basis"] == "pdu_outlet" and abs(j["node"]["mean_w"] - 1130) < 1' r.json
check 'all(m in j["node"]["source"] for m in ("apc/outlet3_power", "apc/outlet4_power", "st/outlet1.1.2_power"))' r.json
check '[p["scope"] for p in j["node"]["parts"]] == ["gpu"]' r.json
expect_status 0 "$WATTPROF" report t.wptrace --json rep.json
check 'j["node"]["basis"] == "pdu_outlet" and abs(j["node"]["mean_w"] - 1130) < 1' rep.json
note "five PDUs read together; node $(json rep.json 'round(j["node"]["mean_w"])') W from $(json rep.json 'j["node"]["source"]')"

# snmpd stopped and started again mid-recording: the trace says when it went and came back.
port=$SNMP_PORT
( sleep 1.5; snmpd_stop; sleep 2; snmpd_start "$port" ) &
bounce=$!
expect_status 0 "$WATTPROF" record -o b.wptrace --duration 8 --no-auto \
    --source "snmp:name=apc,$base,profile=apc,timeout=300ms,retries=0"
wait $bounce
# The snmpd started again is the subshell's child: stop it at exit by its pid file, or it
# outlives the test.
SNMPD_PID=$(cat "$T/snmpd.pid")
python3 - <<'PY' || fail "no unavailable/recovered events in the trace"
import sqlite3
ev = [m for (m,) in sqlite3.connect("b.wptrace").execute("SELECT message FROM events ORDER BY t_us")]
print("\n".join(ev))
down = [i for i, m in enumerate(ev) if "source apc unavailable" in m and "no answer" in m]
up = [i for i, m in enumerate(ev) if "source apc recovered" in m]
assert down and up and down[0] < up[-1]
PY
expect_in err.txt "127.0.0.1:$port"

# A wrong community: one line that names the PDU and the likely cause; the GPUs still record.
echo wrong-community > wrong
expect_status 0 "$WATTPROF" run -o w.wptrace \
    --source "snmp:host=127.0.0.1,port=$port,profile=apc,community_file=$PWD/wrong,timeout=300ms" -- sleep 1
[ "$(grep -c "127.0.0.1:$port" err.txt)" = 1 ] || { cat err.txt; fail "not exactly one line about the PDU"; }
expect_in err.txt "wrong community"
expect_in err.txt "gpu"
python3 -c 'import sqlite3,sys; m=[r[0] for r in sqlite3.connect("w.wptrace").execute("SELECT message FROM events")]; sys.exit(0 if any("not read" in x and "community" in x for x in m) else 1)' \
    || fail "the unread PDU is not an event in the trace"
grep -qF wrong-community err.txt w.wptrace && fail "the community shows in the output or trace"
true
