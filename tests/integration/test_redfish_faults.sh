# The Redfish source's other shapes and its failures, each against the HTTPS test peer beside
# the replayed GPUs (the recording always goes on with them):
# - legacy Power only, Sensors only (ReadingTime: the meter's stamp), Basic auth when the
#   service has no SessionService;
# - an expired session (401 once): one new login, the old session never used again;
# - 503 for a while: "unavailable" then "recovered" events, readings before and after;
# - malformed JSON: one line naming the URL;
# - a certificate from an unknown CA, one whose address does not match, a wrong password:
#   one clear line each (ca_file= suggested; never silently insecure), GPUs still recorded.
RF_DIR=$(cd "$(dirname "$0")/../redfish" && pwd)
. "$(dirname "$0")/lib.sh"
. "$RF_DIR/lib.sh"
rf_certs
EM=/redfish/v1/Chassis/1U/EnvironmentMetrics
spec() { echo "redfish:name=$1,url=$2,user=monitor,password_file=$PWD/pw.txt,ca_file=$PWD/ca.pem,interval=250ms${3:-}"; }

# Legacy Power only: PowerControl[0].PowerConsumedWatts is the node input.
rf_set legacy '{"patch": {"/redfish/v1/Chassis/1U/Power": {"PowerControl": [{"PowerConsumedWatts": 612}]}}}'
rf_start legacy public-rackmount1 --hide EnvironmentMetrics,PowerSubsystem,Sensors
expect_status 0 "$WATTPROF" record -q -o l.wptrace -d 2 --no-auto --source "$(spec bmc "$RF_URL")"
expect_status 0 "$WATTPROF" export l.wptrace --csv -o l.csv
awk -F, '$2 == "bmc" && $4 == "power" && $7 == 612000 { n++ } END { exit n < 4 }' l.csv ||
    { cat l.csv; fail "legacy PowerControl[0].PowerConsumedWatts not read as bmc/power"; }
expect_status 0 "$WATTPROF" list --no-auto --source "$(spec bmc "$RF_URL")"
expect_in out.txt "/redfish/v1/Chassis/1U/Power#/PowerControl/0/PowerConsumedWatts"
awk '$3 == "power" && $5 == "node_input" { ok = 1 } END { exit !ok }' out.txt || fail "legacy power is not node_input"

# Sensors only: TotalPower (node input, ReadingTime stamped), PS1InputPower (psu).
# TotalEnergy also gets a LifetimeReading (kWh, never reset): that is the counter read.
rf_set sensors '{"patch": {"/redfish/v1/Chassis/1U/Sensors/TotalPower": {"Reading": 433}, "/redfish/v1/Chassis/1U/Sensors/TotalEnergy": {"LifetimeReading": 1234.5}}}'
rf_start sensors public-rackmount1 --hide EnvironmentMetrics,PowerSubsystem,Power
expect_status 0 "$WATTPROF" record -q -o s.wptrace -d 2 --no-auto --source "$(spec bmc "$RF_URL")"
expect_status 0 "$WATTPROF" export s.wptrace --csv -o s.csv
awk -F, '$2 == "bmc" && $4 == "power" && $7 == 433000 { n++ } END { exit n < 4 }' s.csv ||
    { cat s.csv; fail "Sensors/TotalPower not read as bmc/power"; }
awk -F, '$4 == "ps1inputpower" { ok = 1 } END { exit !ok }' s.csv || fail "PS1InputPower not read"
awk -F, '$2 == "bmc" && $4 == "energy" && $5 == "J" && $7 == 4444200000 { n++ } END { exit n < 2 }' s.csv ||
    { grep energy s.csv; fail "TotalEnergy's LifetimeReading (1234.5 kWh) not stored as 4444200000 J"; }
expect_status 0 "$WATTPROF" list --no-auto --source "$(spec bmc "$RF_URL")"
awk '$3 == "ps1inputpower" && $5 == "psu" { ok = 1 } END { exit !ok }' out.txt || { cat out.txt; fail "PS1InputPower is not scope psu"; }
# A pinned ReadingTime is the same reading served again: stored once, not once per poll.
rf_set sensors '{"patch": {"/redfish/v1/Chassis/1U/Sensors/TotalPower": {"Reading": 433, "ReadingTime": "2026-01-01T00:00:00Z"}}}'
expect_status 0 "$WATTPROF" record -q -o p.wptrace -d 2 --no-auto --source "$(spec bmc "$RF_URL")"
expect_status 0 "$WATTPROF" export p.wptrace --csv -o p.csv
n=$(awk -F, '$2 == "bmc" && $4 == "power"' p.csv | wc -l)
[ "$n" = 1 ] || fail "a reading with an unchanged ReadingTime was stored $n times"

# Basic when the service has no SessionService.
rf_set basic "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 377}}}}"
rf_start basic public-rackmount1 --no-sessions
expect_status 0 "$WATTPROF" record -q -o b.wptrace -d 1 --no-auto --source "$(spec bmc "$RF_URL")"
grep -q "^GET $EM 200 basic" basic.log || { cat basic.log; fail "Basic auth not used"; }
grep -q "^POST" basic.log && fail "logged in although the service has no sessions"
expect_status 0 "$WATTPROF" export b.wptrace --csv -o b.csv
grep -q ",bmc,0,power,mW,.*,377000$" b.csv || fail "Basic: 377 W not read"

# One service for the run-time faults: 401 (expired session), 503, malformed JSON.
rf_set flt "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 450}}}, \"expire\": 0}"
rf_start flt public-rackmount1 --hide Power,PowerSubsystem,Sensors
( sleep 1.5; rf_set flt "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 451}}}, \"expire\": 1}"
  sleep 1.5; rf_set flt "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 452}}}, \"expire\": 1, \"status\": {\"$EM\": 503}}"
  sleep 2; rf_set flt "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 453}}}, \"expire\": 1}"
  sleep 3; rf_set flt "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 454}}}, \"expire\": 1, \"malformed\": [\"$EM\"]}"
  sleep 2; rf_set flt "{\"patch\": {\"$EM\": {\"PowerWatts\": {\"Reading\": 455}}}, \"expire\": 1}"
) &
RF_PIDS="$RF_PIDS $!"
expect_status 0 "$WATTPROF" run -o f.wptrace --json f.json --source "$(spec bmc "$RF_URL")" -- sleep 13
cp err.txt f.err
# expired: one 401, a second login, the old session never presented again
[ "$(grep -c '401 expired=1' flt.log)" = 1 ] || { cat flt.log; fail "expected exactly one 401 for the expired session"; }
grep -q "^POST /redfish/v1/SessionService/Sessions 201 new=2" flt.log || fail "no new login after the 401"
sed -n '/new=2/,$p' flt.log | grep -q "=1$" && fail "the expired session was used after the new login"
grep -q "^DELETE /redfish/v1/SessionService/Sessions/2 204" flt.log || fail "the new session was not deleted at exit"
# 503: unavailable and recovered, one line each
grep -q "source bmc unavailable: GET $RF_URL$EM: HTTP 503" f.err || { cat f.err; fail "no 'unavailable' line for HTTP 503"; }
grep -q "source bmc recovered" f.err || { cat f.err; fail "no 'recovered' line after the 503s"; }
# malformed JSON: one line naming the URL
[ "$(grep -c "GET $RF_URL$EM returned malformed JSON" f.err)" = 1 ] || { cat f.err; fail "malformed JSON not said once with its URL"; }
expect_status 0 "$WATTPROF" export f.wptrace --csv -o f.csv
for w in 450 451 453 455; do
    grep -q ",bmc,0,power,mW,.*,${w}000$" f.csv || fail "$w W (served around the faults) was not read"
done
grep -q ",bmc,0,power,mW,.*,452000$" f.csv && fail "a value was stored while the service answered 503"
# The GPUs went on through all of it.
check 'len(j["gpus"]) == 2 and all(g["covered_s"] > 0.9 * j["duration_s"] for g in j["gpus"])' f.json
expect_status 0 "$WATTPROF" report f.wptrace
expect_in out.txt "unavailable"
expect_in out.txt "recovered"

# TLS: a CA we do not trust, an address that does not match, each one line; GPUs recorded.
RF_CERT=self rf_start selfsigned public-rackmount1
expect_status 0 "$WATTPROF" run --json t.json --source "redfish:name=bmc,url=$RF_URL,user=monitor,password_file=$PWD/pw.txt" -- true
expect_in err.txt "source bmc not read"
expect_in err.txt "TLS certificate was not accepted"
expect_in err.txt "ca_file="
[ "$(grep -c 'TLS certificate' err.txt)" = 1 ] || fail "the certificate problem was said more than once"
check 'len(j["gpus"]) == 2' t.json
grep -q "^GET /redfish/v1/Chassis" selfsigned.log && fail "readings were fetched over an unverified connection"
RF_CERT=other rf_start mismatch public-rackmount1
expect_status 0 "$WATTPROF" run --source "$(spec bmc "$RF_URL")" -- true
expect_in err.txt "TLS certificate was not accepted"
expect_in err.txt "subject name"  # curl: the name does not match 127.0.0.1
# insecure=1 only when asked, and then it says so.
expect_status 0 "$WATTPROF" record -o i.wptrace -d 1 --no-auto --source "redfish:name=bmc,url=$RF_URL,user=monitor,password_file=$PWD/pw.txt,insecure=1"
expect_in err.txt "insecure=1: the TLS certificate"

# Wrong password: one line naming the user, nothing logged in.
echo wrong >bad.txt
expect_status 0 "$WATTPROF" run --source "redfish:name=bmc,url=$RF_URL,user=monitor,password_file=$PWD/bad.txt,insecure=1" -- true
expect_in err.txt "refused user 'monitor'"
# A source that is the only one named and cannot be read stops the recording (exit 69).
expect_status 69 "$WATTPROF" record -o w.wptrace -d 1 --no-auto --source "redfish:name=bmc,url=$RF_URL,user=monitor,password_file=$PWD/bad.txt,insecure=1"
expect_in err.txt "refused user 'monitor'"
# An option error is a usage error.
expect_status 64 "$WATTPROF" list --no-auto --source "redfish:url=http://127.0.0.1:1,user=x,password_file=$PWD/pw.txt"
expect_in err.txt "https://"
expect_status 64 "$WATTPROF" list --no-auto --source "redfish:url=https://monitor:hunter2@127.0.0.1:1,user=x,password_file=$PWD/pw.txt"
expect_in err.txt "not inside url="
grep -q hunter2 err.txt && fail "a password given inside url= was echoed"

rf_no_secrets ./*.wptrace ./*.json ./*.csv ./*.log err.txt out.txt f.err
