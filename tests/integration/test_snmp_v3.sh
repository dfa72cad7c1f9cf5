# The SNMP PDU source over SNMPv3 authPriv (SHA/AES) against Debian's snmpd, and its secrets:
# - the right user and keys read the PDU (APC outlets) beside the replayed GPUs, and the node
#   view takes node power from those outlets;
# - a wrong privacy password and a wrong auth password each give one line that says the PDU
#   did not answer and that the keys may be wrong; the GPUs are still recorded;
# - neither the community nor the v3 passwords appear in `ps` during a recording, in the trace
#   (every table), its export, the JSON summary or anything printed.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/snmp_peer.sh"
snmp_peer_up
snmpget -v3 -l authPriv -u wpuser -a SHA -A "$SNMP_AUTHPASS" -x AES -X "$SNMP_PRIVPASS" -On \
    "127.0.0.1:$SNMP_PORT" .1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.3 > peer.txt
expect_in peer.txt "INTEGER: 310"

v3="host=127.0.0.1,port=$SNMP_PORT,version=3,user=wpuser,auth=SHA,priv=AES"
keys="auth_password_file=$T/authpass,priv_password_file=$T/privpass"
# A v2c instance too, so the community is in play while ps is watched.
"$WATTPROF" run -o v3.wptrace --json v3.json \
    --source "snmp:name=pdu,$v3,$keys,profile=apc,outlets=3,4,interval=200ms" \
    --source "snmp:name=pdu2c,host=127.0.0.1,port=$SNMP_PORT,community_file=$T/community,profile=eaton" \
    -- sh -c 'sleep 1; ps -eo args > ps.txt; sleep 1' > out.txt 2> err.txt || { cat err.txt; fail "run with v3 failed"; }
check 'j["node"]["basis"] == "pdu_outlet" and abs(j["node"]["mean_w"] - 600) < 1' v3.json
grep -q "wattprof run" ps.txt || fail "ps was not taken during the recording"
"$WATTPROF" export v3.wptrace --csv -o v3.csv
grep -q ',pdu,.*outlet3_power,W,.*,310$' v3.csv || fail "v3 samples of outlet 3 are not 310 W"
grep -q ',pdu2c,.*input0.1_power,W,.*,1800$' v3.csv || fail "v2c samples beside v3 are missing"

# Wrong keys: the PDU stays silent (USM drops what it cannot decrypt or verify).
printf 'not-the-priv-key\n' > badpriv
printf 'not-the-auth-key\n' > badauth
for bad in "auth_password_file=$T/authpass,priv_password_file=$PWD/badpriv" \
           "auth_password_file=$PWD/badauth,priv_password_file=$T/privpass"; do
    expect_status 0 "$WATTPROF" run -o bad.wptrace --force \
        --source "snmp:name=pdu,$v3,$bad,profile=apc,timeout=300ms" -- sleep 1
    [ "$(grep -c "127.0.0.1:$SNMP_PORT" err.txt)" = 1 ] || { cat err.txt; fail "not one line about the PDU ($bad)"; }
    grep -qiE "no answer|refused|failed our checks" err.txt || { cat err.txt; fail "the line does not say the PDU did not answer"; }
    grep -qiE "password|keys?|user" err.txt || { cat err.txt; fail "the line does not name the v3 credentials"; }
    expect_in err.txt "gpu"
    cat err.txt >> all-output.txt
done

# No secret anywhere: ps, traces (raw bytes, WAL included, and a full SQL dump), exports,
# JSON, everything printed.
python3 - v3.wptrace bad.wptrace > dump.sql <<'PY'
import sqlite3, sys
for p in sys.argv[1:]:
    for line in sqlite3.connect(p).iterdump():
        print(line)
PY
cat out.txt err.txt >> all-output.txt
for secret in "$SNMP_COMMUNITY" "$SNMP_AUTHPASS" "$SNMP_PRIVPASS"; do
    if grep -aqF -- "$secret" ps.txt dump.sql v3.csv v3.json all-output.txt v3.wptrace* bad.wptrace*; then
        grep -alF -- "$secret" ps.txt dump.sql v3.csv v3.json all-output.txt v3.wptrace* bad.wptrace* >&2
        fail "a secret leaked"
    fi
done
grep -q "source.pdu" dump.sql || fail "the dump holds no source spec, so the grep proves nothing"
grep -q "auth_password_file=" dump.sql || fail "the stored spec lost its (harmless) file path"
note "v3 authPriv read; wrong keys named; no secret in ps, trace, export, JSON or output"
