# A BMC on 127.0.0.1 for the ipmi tests: OpenIPMI's ipmi_sim (Debian openipmi) serving IPMI
# 2.0 LAN sessions, with our DCMI module (tests/ipmi/dcmi_sim.c, built by `make test-bin` as
# $BUILD/ipmi/dcmi_sim.so) loaded into it. Source after lib.sh.
#
#   sim_setup            writes $T/sim/{lan.conf,emu.cmd,readings,pw} and picks a free UDP port
#                        ($SIM_PORT); the BMC user is $SIM_USER with password $SIM_PASSWORD
#   sim_start / sim_stop start ipmi_sim (and wait until it answers) / stop it by its PID
#   sim_set KEY=VALUE... rewrite the readings file (atomically) with these values
#
# ipmi_sim asks for ADMIN on every command above NetFn 0x0C (DCMI is 0x2C), where real BMCs
# let a USER read DCMI, and FreeIPMI needs workaround=opensesspriv to open a session with it.
DCMI_SIM="$(cd "$(dirname "$WATTPROF")" && pwd)/ipmi/dcmi_sim.so"
SIM_USER=wpadmin
SIM_PASSWORD=Wp-s3cret-9f2
SIM_PID=""

for tool in ipmi_sim ipmitool ipmi-dcmi; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing: install openipmi ipmitool freeipmi-tools (scripts/deps.sh test)"
done
[ -f "$DCMI_SIM" ] ||
    fail "$DCMI_SIM is missing: install libopenipmi-dev and run make test-bin (scripts/deps.sh test)"

free_udp_port() {
    python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

sim_set() {
    : >"$T/sim/readings.new"
    for kv in "$@"; do echo "$kv" >>"$T/sim/readings.new"; done
    mv "$T/sim/readings.new" "$T/sim/readings"
}

sim_setup() {
    mkdir -p "$T/sim/state"
    SIM_PORT=$(free_udp_port)
    cat >"$T/sim/lan.conf" <<EOF
name "wattprof-test"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $SIM_PORT
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 1 true  ""          ""               user  10 none md2 md5 straight
  user 2 true  "$SIM_USER" "$SIM_PASSWORD"  admin 10 none md2 md5 straight
loadlib "$DCMI_SIM" "$T/sim/readings"
EOF
    printf '%s\n' 'mc_setbmc 0x20' \
        'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr' \
        'mc_enable 0x20' >"$T/sim/emu.cmd"
    (umask 077 && echo "$SIM_PASSWORD" >"$T/sim/pw")
    sim_set current=412 min=300 max=500 avg=400 period_ms=60000 active=1
}

# ipmitool against the simulator, as admin (what ipmi_sim demands for DCMI).
sim_ipmitool() {
    ipmitool -I lanplus -H 127.0.0.1 -p "$SIM_PORT" -U "$SIM_USER" -f "$T/sim/pw" -L ADMINISTRATOR \
        -C 3 -N 1 -R 2 "$@"
}

sim_start() {
    ipmi_sim -c "$T/sim/lan.conf" -f "$T/sim/emu.cmd" -s "$T/sim/state" -n </dev/null \
        >>"$T/sim/ipmi_sim.log" 2>&1 &
    SIM_PID=$!
    for _ in $(seq 50); do
        sim_ipmitool dcmi power reading >/dev/null 2>&1 && return 0
        kill -0 "$SIM_PID" 2>/dev/null || { cat "$T/sim/ipmi_sim.log"; fail "ipmi_sim exited"; }
        sleep 0.2
    done
    cat "$T/sim/ipmi_sim.log"
    fail "ipmi_sim on 127.0.0.1:$SIM_PORT did not answer within 10 s"
}

sim_stop() {
    if [ -n "$SIM_PID" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
        SIM_PID=""
    fi
}

trap 'sim_stop; rm -rf "$T"' EXIT
