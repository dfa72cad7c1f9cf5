# The ipmi source when the BMC will not serve it: a wrong password, a cipher suite the BMC does
# not enable, a privilege too low for DCMI (USER against ipmi_sim, which demands ADMIN), a
# dead port. Each must give one line that says what to change, the replayed GPUs must still
# be recorded, and a BMC that starts (or restarts) mid-run must be picked up again, with
# "unavailable" and "recovered" events in the trace. In-band without /dev/ipmi0 (this machine
# has none) and with a device the user may not open: one line each.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/ipmi_sim.sh"

sim_setup
sim_start
# timeout=3s: on a loaded machine, or under the sanitizers, ipmi_sim can take over a second,
# and a slow answer must not turn into a different line than the one each case checks.
BASE="ipmi:name=bmc,host=127.0.0.1,port=$SIM_PORT,user=$SIM_USER,timeout=3s"
GOOD="$BASE,password_file=$T/sim/pw,privilege=admin,workaround=opensesspriv"
echo "not-the-password" >"$T/wrong"

# failing_record NAME SPEC LINE: a 3 s recording with SPEC and the GPUs prints LINE once on
# stderr, stores it as an event, and records the GPUs all the same.
failing_record() {
    name=$1 spec=$2 line=$3
    "$WATTPROF" record -o "$name.wpt" -d 3 --json "$name.json" --source "$spec" \
        >"$name.out" 2>"$name.err" || { cat "$name.err"; fail "$name: record failed"; }
    want="wattprof: warning: source bmc unavailable: $line; retrying, the other sources go on"
    [ "$(grep -cF -- "$want" "$name.err")" = 1 ] ||
        { cat "$name.err"; fail "$name: not exactly one line '$want'"; }
    [ "$(grep -c "source bmc" "$name.err")" = 1 ] ||
        { cat "$name.err"; fail "$name: more than one line about the BMC"; }
    sqlite3 "$name.wpt" "select message from events" >"$name.events"
    expect_in "$name.events" "$line"
    check 'len(j["gpus"]) == 2 and all(g["energy_j"] > 0 for g in j["gpus"])' "$name.json"
    note "$name: $line"
}

failing_record password "$BASE,password_file=$T/wrong,privilege=admin,workaround=opensesspriv" \
    "BMC 127.0.0.1:$SIM_PORT rejected the password of user '$SIM_USER'; check the password in password_file=/password_env="
failing_record cipher "$GOOD,cipher_suite=17" \
    "BMC 127.0.0.1:$SIM_PORT refused a session with cipher suite 17 (internal IPMI error): the BMC does not enable that suite; try cipher_suite=3"
# USER is the default privilege: ipmi_sim opens the session but refuses DCMI at that level.
failing_record privilege "$BASE,password_file=$T/sim/pw,workaround=opensesspriv" \
    "BMC 127.0.0.1:$SIM_PORT refused DCMI Get Power Reading at privilege user (insufficient privilege): give privilege=admin (or operator), or allow DCMI at user privilege on the BMC"
# Without the workaround FreeIPMI cannot open a session with ipmi_sim at all; the line names it.
failing_record session "$BASE,password_file=$T/sim/pw,privilege=admin" \
    "BMC 127.0.0.1:$SIM_PORT would not grant privilege admin to user '$SIM_USER': raise the user's LAN privilege limit, give a lower privilege=, or try workaround=opensesspriv"
DEAD=$(free_udp_port)
failing_record dead "ipmi:name=bmc,host=127.0.0.1,port=$DEAD,user=$SIM_USER,password_file=$T/sim/pw,timeout=1s" \
    "BMC 127.0.0.1:$DEAD did not answer within 1000 ms: check host= and port=, that the BMC's LAN channel is enabled, and that no firewall drops UDP to it"

# --- a BMC that starts after the recording and restarts during it is picked up each time ---
sim_stop
"$WATTPROF" record -o rec.wpt -d 20 --json rec.json --source "$GOOD" >rec.out 2>rec.err &
REC=$!
# Opening waits one timeout (3 s) before the recording starts, and the first poll another:
# ipmi_sim starts after both have failed.
sleep 7
sim_start
sleep 5
sim_stop
T_DOWN=$(date +%s.%N)
sleep 3
sim_start
wait $REC || { cat rec.err; fail "record failed"; }
sqlite3 -separator ' ' rec.wpt "select t_us, message from events order by t_us" >events.txt
python3 - "$T_DOWN" events.txt <<'PY' || { cat rec.err; fail "the BMC's outages are not unavailable/recovered pairs"; }
import sys
down = float(sys.argv[1]) * 1e6
ev = []
for line in open(sys.argv[2]):
    t, msg = line.split(" ", 1)
    if msg.startswith("source bmc unavailable: "): ev.append((int(t), "unavailable"))
    elif msg.startswith("source bmc recovered after "): ev.append((int(t), "recovered"))
kinds = [k for _, k in ev]
print(kinds)
# Down at the start, up once ipmi_sim starts, down after it is killed, up after its restart
# (a slow answer on a loaded machine may add a pair; the order must still alternate).
ok = (len(kinds) >= 4 and len(kinds) % 2 == 0 and kinds[0] == "unavailable"
      and all(k == ("unavailable", "recovered")[i % 2] for i, k in enumerate(kinds))
      and any(t > down and k == "unavailable" for t, k in ev) and ev[-1][1] == "recovered"
      and ev[-1][0] > down)
sys.exit(0 if ok else 1)
PY
"$WATTPROF" export rec.wpt --csv -s power -o rec.csv
python3 - "$T_DOWN" rec.csv <<'PY' || fail "no BMC readings after the restart"
import csv, sys
down = float(sys.argv[1]) * 1e6
t = [int(r["t_us"]) for r in csv.DictReader(open(sys.argv[2])) if r["source"] == "bmc"]
after = [x for x in t if x > down]
print(f"{len(t)} BMC readings, {len(after)} after the restart")
sys.exit(0 if len(after) >= 2 and len(t) - len(after) >= 2 else 1)
PY
check 'len(j["gpus"]) == 2' rec.json

# --- in-band: no /dev/ipmi0 here, and a device this user may not open ---
[ ! -e /dev/ipmi0 ] || fail "this machine has /dev/ipmi0: the in-band error cannot be tested here"
LINE="source ipmi: no /dev/ipmi0: load the kernel's IPMI driver (modprobe ipmi_si ipmi_devintf) on a machine with a BMC, or give host= to read a BMC over the LAN"
expect_status 69 "$WATTPROF" list --no-auto --source ipmi
expect_in out.txt "$LINE"
expect_status 69 "$WATTPROF" record -o inband.wpt -d 1 --no-auto --source ipmi
expect_in err.txt "$LINE"
[ "$(grep -c . err.txt)" = 1 ] || { cat err.txt; fail "in-band: more than one line"; }
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 711 "$T"
    mkdir -m 755 "$T/dev" && : >"$T/dev/ipmi0" && chmod 600 "$T/dev/ipmi0"
    expect_status 69 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$WATTPROF" list --no-auto --source "ipmi:device=$T/dev/ipmi0"
    expect_in out.txt "source ipmi: $T/dev/ipmi0 is not readable and writable by this user: run wattprof as root, or grant access with a udev rule"
else
    note "not root: the permission case of in-band access is not checked"
fi

# --- options the BMC never sees: each refused before anything is opened, exit 64 ---
bad_option() {
    expect_status 64 "$WATTPROF" list --no-auto --source "$1"
    expect_in err.txt "$2"
}
bad_option "ipmi:host=127.0.0.1,privilege=root" "privilege=root is not one of user, operator, admin"
bad_option "ipmi:host=127.0.0.1,cipher_suite=5" "cipher_suite=5 is not an IPMI 2.0 cipher suite; give one of 0-3, 6-8, 11, 12, 15-17"
bad_option "ipmi:host=127.0.0.1,workaround=opensespriv" "workaround=opensespriv is not a FreeIPMI workaround"
bad_option "ipmi:host=127.0.0.1,user=$SIM_USER" "user=$SIM_USER needs a password: give password_file=PATH"
bad_option "ipmi:user=$SIM_USER,password_file=$T/sim/pw" "user= is for a BMC over the LAN; give host= too"
bad_option "ipmi:host=127.0.0.1:623" "host=127.0.0.1:623 is not a host name or IPv4 address (give the port with port=)"
bad_option "ipmi:host=127.0.0.1,password=$SIM_PASSWORD" "a password on the command line is visible to every user"
echo "123456789012345678901" >"$T/long"
bad_option "ipmi:host=127.0.0.1,user=u,password_file=$T/long" "the password is longer than IPMI 2.0's 20 characters"
