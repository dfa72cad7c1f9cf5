# The node view with every meter at once (issue "Node power, part 2"): a BMC (OpenIPMI's
# ipmi_sim with our DCMI module) reads the node's input, a rack PDU (Debian's snmpd serving the
# APC profile) reads the two outlets that feed it, and the replayed H200 GPUs run beside them.
# The summary must take node power from the BMC, show the PDU outlets against it with their
# difference (PSU and cabling losses, or meter disagreement), list the GPUs as a part with the
# rest of the node, and keep every source's readings in the one trace.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/ipmi_sim.sh"
. "$HERE/snmp_peer.sh"

sim_setup
sim_set current=2000 min=1900 max=2100 avg=2000 period_ms=1000 active=1
sim_start
# The PDU: the fixture's readings, with outlets 3 and 4 of the APC at 1050 + 1010 W.
sed -e 's/^\(.1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.3\) integer .*/\1 integer 1050/' \
    -e 's/^\(.1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.4\) integer .*/\1 integer 1010/' \
    "$FIXTURES/snmp/values" >"$T/values"
trap 'sim_stop; snmpd_stop; rm -rf "$T"' EXIT
snmpd_start
grep -q ' integer 1050$' "$T/values" || fail "fixture layout changed: APC outlet 3 not set"

BMC="ipmi:name=bmc,host=127.0.0.1,port=$SIM_PORT,user=$SIM_USER,password_file=$T/sim/pw"
BMC="$BMC,privilege=admin,workaround=opensesspriv,timeout=3s"
PDU="snmp:name=pdu,host=127.0.0.1,port=$SNMP_PORT,community_file=$T/community,profile=apc"
PDU="$PDU,outlets=3,4,interval=500ms"

expect_status 0 "$WATTPROF" run -o n.wptrace --json n.json --rated-w 10200 \
    --source "$BMC" --source "$PDU" -- sleep 6
expect_in err.txt "node:"
# Node power is the BMC's; the outlets are compared with it, not added to it.
check 'j["node"]["basis"] == "node_input" and j["node"]["source"] == "bmc/power"' n.json
check 'abs(j["node"]["mean_w"] - 2000) < 1' n.json
check 'j["node"]["compared"] is not None' n.json
check 'abs(j["node"]["compared"]["input_w"] - 2000) < 1' n.json
check 'abs(j["node"]["compared"]["outlets_w"] - 2060) < 1' n.json
check 'abs(j["node"]["compared"]["diff_w"] - 60) < 1' n.json
check 'abs(j["node"]["compared"]["diff_pct"] - 100 * 60 / 2060) < 0.1' n.json
check '"pdu/outlet3_power" in j["node"]["compared"]["outlets_source"]' n.json
check '"pdu/outlet4_power" in j["node"]["compared"]["outlets_source"]' n.json
# The GPUs are a part of the node; the rest is what the BMC sees beyond them.
check 'len(j["gpus"]) == 2' n.json
check '[p["scope"] for p in j["node"]["parts"]] == ["gpu"]' n.json
check 'abs(j["node"]["rest_w"] - (j["node"]["mean_w"] - j["node"]["parts"][0]["mean_w"])) < 1' n.json
check 'j["node"]["rated_w"] == 10200' n.json
# One trace holds all three sources, each with its own readings.
python3 - <<'PY' || fail "the trace does not hold every source's readings"
import sqlite3, subprocess, os, csv, io
out = subprocess.run([os.environ["WATTPROF"], "export", "n.wptrace", "--csv", "-o", "-"],
                     capture_output=True, text=True, check=True).stdout
n = {}
for r in csv.DictReader(io.StringIO(out)):
    n[r["source"]] = n.get(r["source"], 0) + 1
print(n)
assert n.get("bmc", 0) >= 4 and n.get("pdu", 0) >= 8 and n.get("nvml", 0) > 500, n
ev = [m for (m,) in sqlite3.connect("n.wptrace").execute("SELECT message FROM events")]
assert not any("unavailable" in m for m in ev), ev
PY
expect_status 0 "$WATTPROF" report n.wptrace
expect_in out.txt "against the node input meter"
note "node $(json n.json 'round(j["node"]["mean_w"])') W from the BMC; outlets $(json n.json 'round(j["node"]["compared"]["outlets_w"])') W; GPUs $(json n.json 'round(j["node"]["parts"][0]["mean_w"])') W; rest $(json n.json 'round(j["node"]["rest_w"])') W"
