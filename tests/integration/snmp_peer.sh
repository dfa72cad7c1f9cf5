# Starts Debian's snmpd on 127.0.0.1 as the PDU the SNMP tests read: pass_persist serves the
# vendor subtrees from $T/values (tests/fixtures/snmp/pdu_agent.py), v2c with the community
# in $T/community, v3 authPriv (SHA/AES) for user wpuser with the passwords in $T/authpass and
# $T/privpass. Sourced after lib.sh. snmp_peer_up serves tests/fixtures/snmp/values and
# stops snmpd when the test exits; snmpd_start [PORT] sets SNMPD_PID and SNMP_PORT;
# snmpd_stop stops it; values_set FILE replaces the readings atomically.
command -v snmpd >/dev/null || fail "snmpd is not installed (scripts/deps.sh test installs it)"
command -v snmpget >/dev/null || fail "snmpget is not installed (Debian package snmp)"

free_udp_port() {
    python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# Secrets made up per run, so a grep for them can only find what this run leaked.
SNMP_COMMUNITY="c$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SNMP_AUTHPASS="a$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SNMP_PRIVPASS="p$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$SNMP_COMMUNITY" > "$T/community"
printf '%s\n' "$SNMP_AUTHPASS" > "$T/authpass"
printf '%s\n' "$SNMP_PRIVPASS" > "$T/privpass"
chmod 600 "$T/community" "$T/authpass" "$T/privpass"
mkdir -p "$T/snmp-persist"

write_snmpd_conf() {
    : > "$T/snmpd.conf"
    chmod 600 "$T/snmpd.conf"
    {
        echo "rocommunity $SNMP_COMMUNITY 127.0.0.1"
        echo "createUser wpuser SHA \"$SNMP_AUTHPASS\" AES \"$SNMP_PRIVPASS\""
        echo "rouser wpuser priv"
        for sub in .1.3.6.1.4.1.318 .1.3.6.1.4.1.13742 .1.3.6.1.4.1.1718 .1.3.6.1.4.1.534 .1.3.6.1.4.1.99999; do
            w="$T/agent$(echo "$sub" | tr . _).sh"
            printf '#!/bin/sh\nexec python3 "%s" %s "%s"\n' "$FIXTURES/snmp/pdu_agent.py" "$sub" "$T/values" > "$w"
            chmod +x "$w"
            echo "pass_persist $sub $w"
        done
    } >> "$T/snmpd.conf"
}

snmpd_start() {
    SNMP_PORT=${1:-$(free_udp_port)}
    [ -f "$T/snmpd.conf" ] || write_snmpd_conf
    SNMP_PERSISTENT_DIR="$T/snmp-persist" MIBS="" snmpd -f -Lf "$T/snmpd.log" -C -c "$T/snmpd.conf" \
        -p "$T/snmpd.pid" "udp:127.0.0.1:$SNMP_PORT" &
    SNMPD_PID=$!
    # Ready when it answers (a v2c GET of sysUpTime).
    for _ in $(seq 1 100); do
        if snmpget -v2c -c "$SNMP_COMMUNITY" -t 0.2 -r 0 "127.0.0.1:$SNMP_PORT" .1.3.6.1.2.1.1.3.0 >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$SNMPD_PID" 2>/dev/null || { cat "$T/snmpd.log" >&2; fail "snmpd exited at start"; }
        sleep 0.1
    done
    cat "$T/snmpd.log" >&2
    fail "snmpd did not answer on 127.0.0.1:$SNMP_PORT within 10 s"
}

snmpd_stop() {
    if [ -n "${SNMPD_PID:-}" ]; then
        kill "$SNMPD_PID" 2>/dev/null || true
        wait "$SNMPD_PID" 2>/dev/null || true
        # One started by a subshell is not our child and wait returns at once: let it finish
        # writing its files before the test's directory is removed.
        for _ in $(seq 1 50); do
            kill -0 "$SNMPD_PID" 2>/dev/null || break
            sleep 0.1
        done
        SNMPD_PID=
    fi
}

values_set() { # FILE: becomes the readings served
    cp "$1" "$T/values.tmp" && mv "$T/values.tmp" "$T/values"
}

snmp_peer_up() {
    trap 'snmpd_stop; rm -rf "$T"' EXIT
    cp "$FIXTURES/snmp/values" "$T/values"
    snmpd_start
}
