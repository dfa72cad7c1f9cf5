# The Redfish source against a real HTTPS peer (tests/redfish/server.py serving DMTF's
# public-rackmount1 mockup, certificate from a CA made here), beside the replayed GPUs:
# - EnvironmentMetrics only: the served PowerWatts is read as node input, a change is followed
#   within one cadence, the EnergykWh counter is stored raw in J and its delta over the
#   recording is the served delta (to one 1 Wh step); each sensor names its @odata.id;
# - session login: one POST, every GET with that session, DELETE of it at exit;
# - no secret (password, X-Auth-Token) in `ps`, the trace, the JSON, the logs.
RF_DIR=$(cd "$(dirname "$0")/../redfish" && pwd)
. "$(dirname "$0")/lib.sh"
. "$RF_DIR/lib.sh"
rf_certs
EM=/redfish/v1/Chassis/1U/EnvironmentMetrics
rf_set bmc "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 500}, \"EnergykWh\": {\"Reading\": 100.000}}}}"
rf_start bmc public-rackmount1 --hide Power,PowerSubsystem,Sensors
SPEC="redfish:name=bmc,url=$RF_URL,user=monitor,password_file=$PWD/pw.txt,ca_file=$PWD/ca.pem,interval=250ms"

expect_status 0 "$WATTPROF" list --no-auto --source "$SPEC"
awk '$1 == "bmc" && $3 == "power" && $5 == "node_input" && $6 == "mW" { ok = 1 } END { exit !ok }' out.txt ||
    { cat out.txt; fail "EnvironmentMetrics.PowerWatts not listed as node_input in mW"; }
awk '$1 == "bmc" && $3 == "energy" && $4 == "energy" && $6 == "J" { ok = 1 } END { exit !ok }' out.txt ||
    { cat out.txt; fail "EnvironmentMetrics.EnergykWh not listed as an energy counter in J"; }
expect_in out.txt "$EM#/PowerWatts/Reading"
grep -q "DELETE /redfish/v1/SessionService/Sessions/1 204" bmc.log || { cat bmc.log; fail "list left its session open"; }

# The served readings move while a replayed job runs: 500 W, then 800 W from a moment logged
# here; the energy counter climbs 0.001 kWh (one 1 Wh step) every 100 ms.
: >bmc.log
( e=100000; i=0; w=500
  while [ ! -e stop ]; do
      i=$((i + 1)); e=$((e + 1))
      if [ $i = 20 ]; then w=800; date +%s%N >switch.txt; fi
      echo "$(( $(date +%s%N) / 1000 )) $((e * 3600))" >>served.log
      rf_set bmc "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": $w}, \"EnergykWh\": {\"Reading\": $(printf '%d.%03d' $((e / 1000)) $((e % 1000)))}}}}"
      sleep 0.1
  done ) &
loop=$!
RF_PIDS="$RF_PIDS $loop"
( sleep 2; ps -eo args >ps.txt ) &
expect_status 0 "$WATTPROF" run -o r.wptrace --json r.json --source "$SPEC" -- sleep 4
touch stop; wait $loop
expect_in err.txt "node:"
check 'j["node"]["basis"] == "node_input" and j["node"]["source"].startswith("bmc/power")' r.json
check 'len(j["gpus"]) == 2' r.json

expect_status 0 "$WATTPROF" export r.wptrace --csv -o r.csv
head -1 r.csv | grep -q "sensor_id,source,device,name,unit,t_us,value" || { head -2 r.csv; fail "export's columns changed"; }
awk -F, '$2 == "bmc" && $4 == "power" { print $6, $7 }' r.csv >power.txt
[ "$(wc -l <power.txt)" -ge 10 ] || { cat power.txt; fail "fewer than 10 readings of bmc/power in 4 s at 250 ms"; }
bad=$(awk '$2 != 500000 && $2 != 800000' power.txt)
[ -z "$bad" ] || fail "bmc/power held values never served (raw mW): $bad"
# Followed within one cadence (250 ms) plus one request's time.
sw=$(( $(cat switch.txt) / 1000 ))
first=$(awk '$2 == 800000 { print $1; exit }' power.txt)
[ -n "$first" ] || fail "the change to 800 W was never read"
lag=$((first - sw))
[ "$lag" -le 400000 ] || fail "the change to 800 W was read $lag us after it was served (cadence 250 ms)"
last500=$(awk '$2 == 500000 { t = $1 } END { print t }' power.txt)
[ "$last500" -le $((sw + 50000)) ] || fail "500 W still read $((last500 - sw)) us after 800 W was served"
note "change followed in $((lag / 1000)) ms"

# Energy: raw J, every value a served one (0.001 kWh = 3600 J steps), and the recorded delta
# is the served counter's delta between the first and last readings' times, to within one
# reading's resolution (3600 J): served.log holds each value and when it was put up.
awk -F, '$2 == "bmc" && $4 == "energy" { print $6, $7 }' r.csv >energy.txt
n=$(wc -l <energy.txt)
[ "$n" -ge 10 ] || fail "only $n energy readings"
awk '$2 % 3600 != 0 { exit 1 }' energy.txt || fail "energy readings are not whole served 1 Wh steps (raw J)"
awk 'NR > 1 && $2 < prev { exit 1 } { prev = $2 }' energy.txt || fail "the energy counter went backwards"
result=$(awk 'NR == FNR { st[NR] = $1; sv[NR] = $2; ns = NR; next }
     { t[++n] = $1; v[n] = $2 }
     function served(at,   i, x) { x = sv[1]; for (i = 1; i <= ns && st[i] <= at; i++) x = sv[i]; return x }
     END { rec = v[n] - v[1]; srv = served(t[n]) - served(t[1]); d = rec - srv; if (d < 0) d = -d
           print rec, srv, (d <= 3600) ? "ok" : "bad" }' served.log energy.txt)
set -- $result
[ "$3" = ok ] || fail "recorded energy delta $1 J, served delta $2 J over the same span: more than one 3600 J step apart"
note "energy: recorded delta $1 J, served $2 J"

# The session: one login, every GET after it authenticated by it, DELETE at exit.
[ "$(grep -c '^POST /redfish/v1/SessionService/Sessions 201' bmc.log)" = 1 ] || { cat bmc.log; fail "not exactly one session login"; }
grep -q "^DELETE /redfish/v1/SessionService/Sessions/2 204 session=2" bmc.log || { tail bmc.log; fail "the session was not deleted at exit"; }
grep '^GET' bmc.log | grep -v "^GET /redfish/v1 200 none" | grep -qv "session=2" && fail "a GET went without the session"
rf_no_secrets r.wptrace r.json err.txt out.txt r.csv bmc.log ps.txt
grep -q "S3cret" ps.txt && fail "the password is visible in ps"
:
