# The node view on a replayed run (issue "Node power, part 1", done-when 4): the replayed H200
# GPUs beside a fixture node whose BMC meter (acpi_power_meter via hwmon) reads ~1200 W and
# whose CPU socket counter (amd_energy) climbs at 200 W, both changed by a loop while the job
# runs. The summary's node block must take node power from the BMC meter, list the GPUs and
# the CPU as parts, give the rest of the node, and set the peak against --rated-w. Without a
# node meter, the block must say it is an estimate.
. "$(dirname "$0")/lib.sh"

cp -a "$FIXTURES/sysfs/hwmon-node" node
meter=$(readlink -f node/sys/class/hwmon/hwmon0)/power1_average
[ -f "$meter" ] || meter=$(readlink -f node/sys/class/hwmon/hwmon0)/device/power1_average
sock=$(readlink -f node/sys/class/hwmon/hwmon2)/energy1_input
[ -f "$meter" ] && [ -f "$sock" ] || fail "fixture layout changed: no $meter or $sock"
# Every 100 ms: the meter alternates 1150/1250 W (mean 1200 W); the socket's counter is set
# from the clock to 200 W since the loop began, so a loop slowed by a busy machine still
# gives 200 W (it only updates less often).
( e0=$(cat "$sock"); t0=$(date +%s%N); i=0
  while :; do
      i=$((i + 1)); e=$((e0 + ($(date +%s%N) - t0) / 5))
      if [ $((i / 10 % 2)) = 0 ]; then w=1150000000; else w=1250000000; fi
      echo $w > "$meter.tmp" && mv "$meter.tmp" "$meter"
      echo $e > "$sock.tmp" && mv "$sock.tmp" "$sock"
      sleep 0.1
  done ) &
loop=$!
trap 'kill $loop 2>/dev/null; rm -rf "$T"' EXIT
sleep 0.3

expect_status 0 env WATTPROF_SYSFS_ROOT="$PWD/node" "$WATTPROF" run --rated-w 10200 -o n.wptrace --json n.json -- sleep 5
expect_in err.txt "node:"
expect_in err.txt "under the rated 10.20 kW"
check 'j["node"]["estimated"] is False and j["node"]["basis"] == "node_input"' n.json
check '"power_meter" in j["node"]["source"] or "hwmon" in j["node"]["source"]' n.json
check 'abs(j["node"]["mean_w"] - 1200) < 60' n.json
check 'abs(j["node"]["energy_j"] - j["node"]["mean_w"] * j["duration_s"]) < 0.02 * j["node"]["energy_j"]' n.json
check '{p["scope"] for p in j["node"]["parts"]} == {"gpu", "cpu_package"}' n.json
check 'all(p["energy_j"] > 0 for p in j["node"]["parts"])' n.json
check 'abs([p for p in j["node"]["parts"] if p["scope"] == "cpu_package"][0]["mean_w"] - 200) < 30' n.json
check 'abs([p for p in j["node"]["parts"] if p["scope"] == "gpu"][0]["mean_w"] - j["total"]["mean_w"]) < 1' n.json
check 'abs(j["node"]["rest_w"] - (j["node"]["mean_w"] - sum(p["mean_w"] for p in j["node"]["parts"]))) < 0.5' n.json
check '1200 <= j["node"]["peak_1s_w"] <= 1260' n.json
check 'j["node"]["rated_w"] == 10200 and abs(j["node"]["peak_pct_of_rated"] - j["node"]["peak_1s_w"] / 102) < 1e-6' n.json
check 'j["node"]["gpu_sum_peak_20ms_w"] == j["total"]["peak_w"]' n.json
note "node $(json n.json 'round(j["node"]["mean_w"])') W: parts $(json n.json '[(p["scope"], round(p["mean_w"])) for p in j["node"]["parts"]]'), rest $(json n.json 'round(j["node"]["rest_w"])') W, peak $(json n.json 'round(j["node"]["peak_pct_of_rated"],1)') % of 10.2 kW"

# The page (issue 11): the meter gets its own timeline, topped by its highest sample as the
# export gives it, with the rated line; its samples are in the default zoom beside the GPUs'.
expect_status 0 "$WATTPROF" report n.wptrace --html n.html
expect_status 0 "$WATTPROF" export n.wptrace --csv -o n.csv
python3 - <<'PY' || fail "the page does not draw the node meter as the trace holds it"
import csv, json, re
page = open("n.html").read()
j = json.load(open("n.json"))
rows = [r for r in csv.DictReader(open("n.csv")) if r["source"].startswith("hwmon")
        and r["name"] == j["node"]["source"].split("/")[-1]]
assert rows, "no node meter rows in the export"
scale = {"mW": 1e-3, "uW": 1e-6, "W": 1.0}[rows[0]["unit"]]
top = max(int(r["value"]) for r in rows) * scale
svgs = re.findall(r'<svg class="timeline node"[^>]*data-max-w="([^"]+)"', page)
assert len(svgs) == 1 and float(svgs[0]) == top, (svgs, top)
assert "rated node power" in page
z = json.loads(re.search(r'<script type="application/json" id=zoomdata>(.*?)</script>', page,
                         re.S).group(1))
labels = [s["label"] for s in z["series"]]
assert labels[:2] == ["GPU 0", "GPU 1"] and len(labels) == 3 and labels[2].startswith("node"), labels
lo = j["start_us"] + round(z["from_s"] * 1e6)
hi = j["start_us"] + round(z["to_s"] * 1e6)
want = [int(r["t_us"]) for r in rows if lo <= int(r["t_us"]) <= hi]
assert len(want) >= 5 and z["series"][2]["t_ms"] == [(t - lo) // 1000 for t in sorted(want)], \
    (len(want), z["series"][2]["t_ms"][:5])
print("  node timeline tops at", top, "W;", len(want), "meter samples in the zoom")
PY

# The same node without its BMC meter: an estimate, and it says so.
expect_status 0 env WATTPROF_SYSFS_ROOT="$PWD/node" "$WATTPROF" run --source hwmon:chip=amd_energy --json e.json -- sleep 2
check 'j["node"]["estimated"] is True and j["node"]["basis"] == "parts_plus_allowance"' e.json
check 'j["node"]["rest_w"] is None and j["node"]["peak_1s_w"] is None' e.json
expect_in err.txt "estimated"
expect_in err.txt "assumed"
