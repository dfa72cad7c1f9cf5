# The RAPL source end to end: listed with its keys, zones found under root=, under
# $WATTPROF_SYSFS_ROOT and at the real /sys path; a counter wrap recorded raw and exact to the
# microjoule; a plain user told why energy_uj is refused and how to fix it.
. "$(dirname "$0")/lib.sh"
INTEL="$FIXTURES/sysfs/rapl-intel-2pkg"
MAX=262143328850 # max_energy_range_uj of intel-rapl:0 in the fixture

# `list --kinds` names the kind and its keys.
expect_status 0 "$WATTPROF" list --kinds
expect_in out.txt "rapl (automatic):"
for k in "root=DIR" "interval=DURATION" "via=auto|sysfs|perf"; do expect_in out.txt "  $k"; done

# The zones of a two-socket Intel box, once each (intel-rapl-mmio:0 is package-0 again).
cp -r "$INTEL" intel
expect_status 0 "$WATTPROF" list --no-auto --source "rapl:root=$T/intel"
[ "$(grep -c '^rapl ' out.txt)" = 5 ] || { cat out.txt; fail "expected 5 RAPL sensors"; }
grep -Eq '^rapl +0 +energy_pkg +energy +cpu_package +uJ +100 ms' out.txt || fail "no package-0 row"
grep -Eq '^rapl +1 +energy_dram +energy +dram +uJ' out.txt || fail "no package-1 DRAM row"
grep -Eq '^rapl +-1 +energy_psys +energy +psys' out.txt || fail "no psys row"
# rapl is automatic: with the root in the environment a plain `list` finds it too.
WATTPROF_SYSFS_ROOT="$T/intel" expect_status 0 "$WATTPROF" list
[ "$(grep -c '^rapl ' out.txt)" = 5 ] || { cat out.txt; fail "automatic rapl: expected 5 sensors"; }

# A wrap during a recording. The loop writes package-0's energy_uj every 100 ms, STEP uJ at a
# time, modulo MAX + 1 (energy_uj runs over [0, MAX]), starting 10 steps below the top; each
# value is written to a temporary file and renamed, so no read sees a half-written file.
STEP=300001
Z="$T/intel/sys/class/powercap/intel-rapl:0"
v=$((MAX - 10 * STEP + 7))
: >written.txt
printf '%s\n' "$v" >"$Z/energy_uj"
echo "$v" >>written.txt
(
    for _ in $(seq 60); do
        sleep 0.1
        v=$(((v + STEP) % (MAX + 1)))
        echo "$v" >>written.txt
        printf '%s\n' "$v" >"$Z/energy_uj.tmp"
        mv "$Z/energy_uj.tmp" "$Z/energy_uj"
    done
) &
loop=$!
expect_status 0 "$WATTPROF" record -o w.wptrace --no-auto --source "rapl:root=$T/intel,interval=50ms" -d 2
kill "$loop" 2>/dev/null || :
wait "$loop" 2>/dev/null || :
expect_status 0 "$WATTPROF" export w.wptrace --csv -o w.csv
python3 - "$MAX" "$STEP" w.csv written.txt w.wptrace <<'PY' || fail "the wrap was not recorded exactly"
import csv, sqlite3, sys
MAX, STEP = int(sys.argv[1]), int(sys.argv[2])
rows = [r for r in csv.DictReader(open(sys.argv[3])) if r["name"] == "energy_pkg" and r["device"] == "0"]
written = [int(x) for x in open(sys.argv[4]).read().split()]
raw = [int(r["value"]) for r in rows]
assert all(r["unit"] == "uJ" for r in rows), rows[:2]
# The stored values are exactly values the loop wrote (raw, not scaled), in order.
assert len(raw) >= 20, f"only {len(raw)} samples in 2 s at 50 ms"
assert all(x in written for x in raw), [x for x in raw if x not in written][:3]
idx = [written.index(x) for x in raw]
assert idx == sorted(idx), "stored out of order"
assert any(b < a for a, b in zip(raw, raw[1:])), f"no wrap inside the recording: {raw[0]}..{raw[-1]}"
# The trace says where the counter wraps; the energy across the wrap must be exact.
db = sqlite3.connect(sys.argv[5])
wrap_at, scale = db.execute("SELECT wrap_at, scale FROM sensors WHERE name='energy_pkg' AND device=0").fetchone()
assert wrap_at == MAX + 1, wrap_at
assert abs(scale - 0.001) < 1e-12, scale
got = sum((b - a) % wrap_at for a, b in zip(raw, raw[1:]))
want = (idx[-1] - idx[0]) * STEP
print(f"  {len(raw)} samples, {raw[0]} -> {raw[-1]} uJ across a wrap: {got} uJ, expected {want} uJ")
assert got == want, (got, want)
PY

[ "$(id -u)" = 0 ] || { note "skipped: the rest needs root (setpriv, unshare, chown)"; exit 0; }

# A plain user on a kernel >= 5.10: energy_uj is root:root 0400. The tree and the binary are
# copied where uid 65534 can reach them.
P=$(mktemp -d /tmp/wattprof-rapl-perm-XXXXXX)
trap 'rm -rf "$T" "$P"' EXIT
chmod 755 "$P"
cp "$WATTPROF" "$P/wattprof"
cp -r "$INTEL" "$P/nopmu"
chown root:root "$P"/nopmu/sys/class/powercap/*/energy_uj
chmod 0400 "$P"/nopmu/sys/class/powercap/*/energy_uj
chmod -R a+rX "$P/nopmu"
chmod 0400 "$P"/nopmu/sys/class/powercap/*/energy_uj
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
expect_status 69 nobody "$P/wattprof" list --no-auto --source "rapl:root=$P/nopmu"
for s in "CVE-2020-8694" "readable only by root" "Run as root" \
    "sudo chmod o+r $P/nopmu/sys/class/powercap/intel-rapl:*/energy_uj" "lost at reboot" \
    "udev rule" "systemd-tmpfiles" "no perf power PMU to fall back on"; do
    expect_in out.txt "$s"
done
grep -q "^missing:" out.txt || fail "the reason is not under missing:"
# With the machine's perf power PMU described too (perf_event_open is the real kernel's):
# the message also says how to allow perf, when perf is refused to this user here.
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
if [ -e /sys/bus/event_source/devices/power/type ] && [ "$paranoid" -gt 0 ]; then
    cp -r "$P/nopmu" "$P/pmu"
    mkdir -p "$P/pmu/sys/bus/event_source/devices"
    cp -r /sys/bus/event_source/devices/power/. "$P/pmu/sys/bus/event_source/devices/power/" 2>/dev/null || :
    chmod -R a+rX "$P/pmu/sys/bus"
    expect_status 69 nobody "$P/wattprof" list --no-auto --source "rapl:root=$P/pmu"
    for s in "CVE-2020-8694" "sudo chmod o+r" "perf_event_paranoid=$paranoid" \
        "sudo sysctl kernel.perf_event_paranoid=0" "CAP_PERFMON"; do
        expect_in out.txt "$s"
    done
else
    note "skipped the perf variant: no power PMU here, or perf_event_paranoid=$paranoid lets users in"
fi

# The default path: no root= and no $WATTPROF_SYSFS_ROOT, the zones at /sys/class/powercap
# (a tmpfs over /sys/class in a private mount namespace).
expect_status 0 env -u WATTPROF_SYSFS_ROOT unshare -m sh -c \
    'mount -t tmpfs none /sys/class && mkdir -p /sys/class/powercap &&
     cp -r "$1"/sys/class/powercap/* /sys/class/powercap/ &&
     "$2" list --no-auto --source rapl' sh "$INTEL" "$WATTPROF"
[ "$(grep -c '^rapl ' out.txt)" = 5 ] || { cat out.txt; fail "default path: expected 5 sensors"; }
grep -Eq '^rapl +0 +energy_pkg .*powercap intel-rapl:0$' out.txt || fail "default path: no package-0"
