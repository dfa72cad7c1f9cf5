#!/bin/sh
# Installs the Debian packages wattprof needs, if any are missing.
# usage: scripts/deps.sh build|test
# As root it runs apt-get; otherwise it prints the command to run.
set -eu
# libsnmp-dev: net-snmp for the SNMP PDU source; libfreeipmi-dev: the ipmi source;
# libjansson-dev: jansson parses the JSON wattprof reads (model files, report JSON, sweeps,
# Redfish); libkissfft-dev: the swing spectrum; libcurl4-openssl-dev: the Redfish source's HTTPS.
build="gcc make pkg-config libsqlite3-dev zlib1g-dev libc6-dev libsnmp-dev libfreeipmi-dev \
libjansson-dev libkissfft-dev libcurl4-openssl-dev"
# libclang-rt-dev: the libFuzzer runtime (-fsanitize=fuzzer); Debian 12's clang does not pull
# it in (it holds libclang_rt.fuzzer-x86_64.a, from libclang-rt-14-dev).
# snmpd, snmp: the real agent the SNMP tests serve PDU readings from, and snmpget to check it.
# openipmi (ipmi_sim) + libopenipmi-dev (its module headers), ipmitool and freeipmi-tools:
# the BMC the ipmi source is tested against, and two independent readers of it.
# libslurm-dev + libjansson-dev: the Slurm SPANK plugin (contrib/slurm; built when spank.h is
# there). slurm-wlm, slurmctld, slurmd, munge: the one-host Slurm of tests/integration/test_slurm.sh.
# chromium: the HTML report's tests open it headless. openssl: the Redfish tests make their CA
# and certificates.
test="$build clang clang-format libclang-rt-dev libcmocka-dev python3 procps git snmpd snmp \
openipmi libopenipmi-dev ipmitool freeipmi-tools libslurm-dev libjansson-dev slurm-wlm \
slurmctld slurmd munge chromium openssl"
case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
*) echo "usage: scripts/deps.sh build|test" >&2; exit 64 ;;
esac
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "wattprof needs these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 69
fi
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
