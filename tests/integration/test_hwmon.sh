# The hwmon source end to end on a copy of tests/fixtures/sysfs/hwmon-node: `list` shows the
# BMC meter as node_input; `record` stores power1_average's raw values (uW) as a loop changes
# them; WATTPROF_SYSFS_ROOT makes the automatic kinds find hwmon.
. "$(dirname "$0")/lib.sh"

cp -a "$FIXTURES/sysfs/hwmon-node" node
DIR=$PWD/node
AVG=$DIR/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI000D:00/power1_average

expect_status 0 "$WATTPROF" list --no-auto --source "hwmon:root=$DIR"
awk '$1 == "hwmon" && $3 == "power1_average" && $5 == "node_input" && $6 == "uW" { ok = 1 }
     END { exit !ok }' out.txt || { cat out.txt; fail "power1_average not listed as node_input in uW"; }
awk '$1 == "hwmon" && $3 == "esocket0" && $5 == "cpu_package" { ok = 1 } END { exit !ok }' out.txt ||
    { cat out.txt; fail "amd_energy socket counter not listed as cpu_package"; }
expect_in out.txt "800 W"          # power1_cap as the limit
expect_in out.txt "1000 ms average" # power1_average_interval in the help
grep -q "nvme" out.txt && fail "the nvme chip (temperatures only) was listed"

expect_status 0 "$WATTPROF" list --kinds
expect_in out.txt "hwmon (automatic)"
for k in root= interval= chip= scope=; do expect_in out.txt "  $k"; done

expect_status 64 "$WATTPROF" list --no-auto --source "hwmon:root=$DIR,scope=nodeinput"
expect_in err.txt "node_input"

expect_status 69 "$WATTPROF" list --no-auto --source "hwmon:root=$PWD/empty"
expect_in out.txt "no hwmon power or energy sensors on this machine"

# A BMC whose average moves every 100 ms; each value is written whole (rename), as sysfs
# hands a reader one value or the other, never half of one.
(
    i=0
    while [ ! -e stop ]; do
        echo $((300000000 + i * 1000)) >"$AVG.tmp" && mv "$AVG.tmp" "$AVG"
        echo $((300000000 + i * 1000)) >>written.txt
        i=$((i + 1))
        sleep 0.1
    done
) &
writer=$!
expect_status 0 "$WATTPROF" record -q -o t.wptrace --no-auto \
    --source "hwmon:root=$DIR,interval=100ms" -d 2
touch stop
wait $writer
expect_status 0 "$WATTPROF" export t.wptrace --csv -o t.csv
awk -F, '$2 == "hwmon" && $4 == "power1_average" { print $7 }' t.csv >got.txt
n=$(wc -l <got.txt)
[ "$n" -ge 10 ] || { cat t.csv; fail "$n power1_average samples in 2 s at 100 ms, expected ~20"; }
awk -F, '$4 == "power1_average" && $5 != "uW" { exit 1 }' t.csv ||
    fail "export labels power1_average's raw microwatts with another unit"
# Every stored value is one the meter held: raw uW, never 0, never scaled.
bad=$(grep -vxF -f written.txt got.txt | grep -vx 412000000 || true)
[ -z "$bad" ] || fail "stored values the meter never held: $(echo $bad | head -c 200)"
distinct=$(sort -u got.txt | grep -vx 412000000 | wc -l)
[ "$distinct" -ge 5 ] || fail "only $distinct of the written values were recorded"
# The energy counters were recorded raw too.
awk -F, '$4 == "esocket0" && $7 == 1843312447120 { ok = 1 } END { exit !ok }' t.csv ||
    fail "esocket0 not stored raw"

WATTPROF_SYSFS_ROOT=$DIR expect_status 0 "$WATTPROF" list
awk '$1 == "hwmon" && $3 == "power1_average" && $5 == "node_input" { ok = 1 } END { exit !ok }' \
    out.txt || { cat out.txt; fail "automatic kinds did not find hwmon under WATTPROF_SYSFS_ROOT"; }
