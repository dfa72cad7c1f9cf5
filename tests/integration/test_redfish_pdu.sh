# A rack PDU and a BMC, both over Redfish (DMTF's public-pdu and public-rackmount1 mockups),
# beside the replayed GPUs: only the outlets named by outlets= are this node's (pdu_outlet),
# the PDU's metrics and mains are pdu_inlet, and the node view shows the BMC's node input and
# the outlets side by side with their difference. A CDU's heat load is read as "other".
RF_DIR=$(cd "$(dirname "$0")/../redfish" && pwd)
. "$(dirname "$0")/lib.sh"
. "$RF_DIR/lib.sh"
rf_certs
EM=/redfish/v1/Chassis/1U/EnvironmentMetrics
OUT=/redfish/v1/PowerEquipment/RackPDUs/1/Outlets
rf_set bmc "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 1200}}}}"
rf_start bmc public-rackmount1 --hide Power,PowerSubsystem,Sensors
BMC=$RF_URL
rf_set pdu "{\"patch\": {\"$OUT/A1\": {\"PowerWatts\": {\"Reading\": 600}}, \"$OUT/B1\": {\"PowerWatts\": {\"Reading\": 650}}}}"
rf_start pdu public-pdu
PDU=$RF_URL
cred="user=monitor,password_file=$PWD/pw.txt,ca_file=$PWD/ca.pem,interval=250ms"

expect_status 0 "$WATTPROF" list --no-auto --source "redfish:name=pdu,url=$PDU,$cred,outlets=A1,B1"
for r in pdu1_outlet_a1_power pdu1_outlet_a1_energy pdu1_outlet_b1_power; do
    awk -v r=$r '$3 == r && $5 == "pdu_outlet" { ok = 1 } END { exit !ok }' out.txt ||
        { cat out.txt; fail "$r not listed as pdu_outlet"; }
done
awk '$3 == "pdu1_power" && $5 == "pdu_inlet" { ok = 1 } END { exit !ok }' out.txt || fail "the PDU's metrics are not pdu_inlet"
awk '$3 == "pdu1_branch_a_power" && $5 == "other" { ok = 1 } END { exit !ok }' out.txt || fail "branch A is not listed as other"
grep -q "outlet_a2" out.txt && fail "outlet A2, not named in outlets=, was read"
expect_in out.txt "$OUT/A1#/PowerWatts/Reading"
# Without outlets= no outlet is read, and list says how to name them.
expect_status 0 "$WATTPROF" list --no-auto --source "redfish:name=pdu,url=$PDU,$cred"
grep -q "pdu_outlet" out.txt && fail "outlets read without outlets="
expect_in out.txt "outlets="
# An outlet the PDU does not have: one line listing those it has.
expect_status 0 "$WATTPROF" run --source "redfish:name=pdu,url=$PDU,$cred,outlets=A1,Z9" -- true
expect_in err.txt "has no outlet 'Z9' (its outlets: A1,A2,A3,A4,A5,B1,B2,B3,C1,C2,C3)"

expect_status 0 "$WATTPROF" run -o n.wptrace --json n.json --source "redfish:name=bmc,url=$BMC,$cred" \
    --source "redfish:name=pdu,url=$PDU,$cred,outlets=A1,B1" -- sleep 3
check 'j["node"]["basis"] == "node_input" and j["node"]["source"].startswith("bmc/power")' n.json
check 'j["node"]["compared"] is not None' n.json
check 'abs(j["node"]["compared"]["input_w"] - 1200) < 1 and abs(j["node"]["compared"]["outlets_w"] - 1250) < 1' n.json
check 'abs(j["node"]["compared"]["diff_w"] - 50) < 1 and abs(j["node"]["compared"]["diff_pct"] - 4.0) < 0.1' n.json
check 'j["node"]["compared"]["outlets_source"] == "pdu/pdu1_outlet_a1_power + pdu/pdu1_outlet_b1_power"' n.json
check '2 < j["node"]["compared"]["overlap_s"] <= j["duration_s"]' n.json
expect_in err.txt "PDU outlets pdu/pdu1_outlet_a1_power + pdu/pdu1_outlet_b1_power: 1250.0 W against the node input meter's 1200.0 W"
expect_in err.txt "difference +50.0 W (+4.0 % of the outlets)"
expect_status 0 "$WATTPROF" report n.wptrace
expect_in out.txt "difference +50.0 W"
# With the outlets alone, they are the node's power (no comparison).
expect_status 0 "$WATTPROF" report --json o.json n.wptrace
expect_status 0 "$WATTPROF" run --json p.json --source "redfish:name=pdu,url=$PDU,$cred,outlets=A1,B1" -- sleep 2
# (its mean is over the whole run: the first reading may come a little after the start)
check 'j["node"]["basis"] == "pdu_outlet" and abs(j["node"]["mean_w"] - 1250) < 25 and j["node"]["compared"] is None' p.json

# A CDU: its heat load is "other", never node power.
rf_start cdu public-cooling-unit
expect_status 0 "$WATTPROF" list --no-auto --source "redfish:name=cdu,url=$RF_URL,$cred"
awk '$3 == "heat_load_primary" && $4 == "power" && $5 == "other" { ok = 1 } END { exit !ok }' out.txt ||
    { cat out.txt; fail "the CDU's primary heat load is not listed as other"; }
grep -q "node_input" out.txt && fail "a CDU reading was taken as node input"
rf_no_secrets n.wptrace n.json p.json err.txt out.txt bmc.log pdu.log
