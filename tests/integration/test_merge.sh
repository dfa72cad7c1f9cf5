# wattprof merge (issue 13, done-when 4): two node traces replayed at the same time but started
# 1.5 s apart, from different parts of the recording (the second node's fake NVML starts 40 s
# into it), are joined by wall clock. The merged trace's per-node summaries must equal each
# node's own report, its cluster totals the sums of the parts, and its aligned peak the
# highest sum of every GPU's 20 ms samples on one grid, recomputed here from the node traces'
# exported samples. merge never replaces a file and refuses inputs it cannot join.
. "$(dirname "$0")/lib.sh"

"$WATTPROF" record -o a.wptrace -d 4 -q 2>a.err &
rec=$!
sleep 1.5
FAKE_NVML_OFFSET_S=40 "$WATTPROF" record -o b.wptrace -d 4 -q 2>b.err || fail "record b: $(cat b.err)"
wait $rec || fail "record a: $(cat a.err)"

# Both were recorded on this machine: without names they are one node twice.
expect_status 65 "$WATTPROF" merge a.wptrace b.wptrace -o m.wptrace
expect_in err.txt "both from node"
[ ! -e m.wptrace ] || fail "a refused merge left m.wptrace behind"
expect_status 64 "$WATTPROF" merge a.wptrace b.wptrace --names n1 -o m.wptrace
expect_status 0 "$WATTPROF" merge a.wptrace b.wptrace --names n1,n2 -o m.wptrace
expect_in err.txt "2 nodes"

expect_status 0 "$WATTPROF" report a.wptrace --json a.json
expect_status 0 "$WATTPROF" report b.wptrace --json b.json
expect_status 0 "$WATTPROF" report m.wptrace --json m.json
expect_in out.txt "==== node n1 ===="
expect_in out.txt "==== node n2 ===="
expect_in out.txt "cluster GPU peak"
expect_in out.txt "REPLAY"

# Per node: the node's own report, number for number.
check 'j["nodes"][0]["node"] == "n1" and j["nodes"][1]["node"] == "n2"' m.json
python3 - <<'PY' || fail "a node's summary in the merge differs from its own report"
import json
m = json.load(open("m.json"))
for i, f in enumerate(["a.json", "b.json"]):
    own = json.load(open(f))
    if m["nodes"][i]["summary"] != own:
        for k in own:
            if own[k] != m["nodes"][i]["summary"].get(k):
                print(f, k, own[k], m["nodes"][i]["summary"].get(k))
        raise SystemExit(1)
PY

# Cluster totals: the sums of the parts.
check 'j["cluster"]["nodes"] == 2 and j["cluster"]["gpus"] == 4' m.json
a_e=$(json a.json 'j["total"]["energy_j"]'); b_e=$(json b.json 'j["total"]["energy_j"]')
check "abs(j['cluster']['gpu_energy_j'] - ($a_e + $b_e)) < 1e-6" m.json
a_n=$(json a.json 'j["node"]["energy_j"]'); b_n=$(json b.json 'j["node"]["energy_j"]')
check "abs(j['cluster']['node_energy_j'] - ($a_n + $b_n)) < 1e-6 and j['cluster']['node_estimated']" m.json
check '[n["gpu_energy_j"] for n in j["cluster"]["per_node"]] == [s["summary"]["total"]["energy_j"] for s in j["nodes"]]' m.json
a0=$(json a.json 'j["start_us"]'); b1=$(json b.json 'j["end_us"]')
check "j['cluster']['start_us'] == $a0 and j['cluster']['end_us'] == $b1" m.json

# The aligned peak, recomputed from the samples: each GPU's 20 ms sample covers
# (previous sample, its time], the first one 20 ms back; grid points every 20 ms from the
# cluster's start; only points every GPU covers count.
"$WATTPROF" export a.wptrace --csv --sensor power >a.csv
"$WATTPROF" export b.wptrace --csv --sensor power >b.csv
python3 - m.json a.csv b.csv <<'PY' || fail "aligned peak differs from the recomputation"
import bisect, csv, json, sys
m = json.load(open(sys.argv[1]))["cluster"]
series = []
for f in sys.argv[2:]:
    per = {}
    for r in csv.DictReader(open(f)):
        per.setdefault(r["device"], []).append((int(r["t_us"]), int(r["value"])))
    series += [sorted(v) for v in per.values()]
assert len(series) == 4, len(series)
step, hold = 20000, 20000
best, best_t, covered = None, None, 0
g = m["start_us"]
while g <= m["end_us"]:
    total = 0
    for s in series:
        ts = [t for t, _ in s]
        i = bisect.bisect_left(ts, g)
        if i == len(s) or (i == 0 and not (g == ts[0] or g > ts[0] - hold)):
            total = None
            break
        total += s[i][1]
    if total is not None:
        covered += 1
        if best is None or total > best:
            best, best_t = total, g
    g += step
print("recomputed", best / 1000, best_t, covered * step / 1e6, "wattprof", m["gpu_peak_w"],
      m["gpu_peak_t_us"], m["common_s"])
assert m["step_us"] == step
assert abs(m["gpu_peak_w"] - best / 1000) < 1e-9 and m["gpu_peak_t_us"] == best_t
assert abs(m["common_s"] - covered * step / 1e6) < 1e-9
# Only the span every GPU covers counts (the driver's buffer reaches ~2.4 s before each start).
assert 1.0 < m["common_s"] <= m["duration_s"], m["common_s"]
PY

# export names each row's node.
"$WATTPROF" export m.wptrace --csv --sensor power >m.csv
head -n 1 m.csv | grep -qx 'sensor_id,source,device,name,unit,t_us,value,host' || fail "no host column: $(head -n 1 m.csv)"
[ "$(grep -c ',n1$' m.csv)" = "$(($(wc -l <a.csv) - 1))" ] || fail "node n1's rows are not all its own"
[ "$(grep -c ',n2$' m.csv)" = "$(($(wc -l <b.csv) - 1))" ] || fail "node n2's rows are not all its own"

# Never replaces a file, not even an old merge; refuses a merged input and a missing one.
sum0=$(md5sum m.wptrace)
expect_status 73 "$WATTPROF" merge a.wptrace b.wptrace --names n1,n2 -o m.wptrace
expect_in err.txt "already exists"
# ... and says so without pointing to a --force that merge does not take.
grep -q -- "--force" err.txt && fail "merge's refusal advises --force, which merge refuses: $(cat err.txt)"
[ "$(md5sum m.wptrace)" = "$sum0" ] || fail "a refused merge changed m.wptrace"
expect_status 65 "$WATTPROF" merge m.wptrace a.wptrace -o mm.wptrace
expect_in err.txt "already a merged trace"
expect_status 66 "$WATTPROF" merge a.wptrace nope.wptrace --names x,y -o mm.wptrace
[ ! -e mm.wptrace ] || fail "a failed merge left mm.wptrace behind"
expect_status 0 "$WATTPROF" merge --help
expect_in out.txt "--names"

# What reads one node's series is refused on a cluster trace, not skipped in silence.
expect_status 64 "$WATTPROF" report m.wptrace --html m.html
expect_in err.txt "is a cluster trace (wattprof merge); --html covers one node"
[ ! -e m.html ] || fail "an HTML file was written for a cluster trace"
expect_status 64 "$WATTPROF" report m.wptrace --intensity 400
expect_in err.txt "--intensity covers one node"
