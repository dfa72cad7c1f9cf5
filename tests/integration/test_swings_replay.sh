# Swings and spectrum of the summed GPU power (issue 11, done-when 2), through the whole path:
# synthetic 20 ms traces replayed by the fake NVML, recorded by `wattprof run`, summarised by
# `wattprof report --json`. The test works out what it expects itself: from the wave's
# parameters, and by brute force over the recorded samples (`wattprof export`).
. "$(dirname "$0")/lib.sh"

# gpu,ts_us,mw rows at 20 ms: NAME GPUS SECONDS PYEXPR(t in s) -> mW
synth() {
    python3 - "$@" <<'PY'
import gzip, math, sys
name, gpus, secs, expr = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
t0 = 1_800_000_000_000_000
with gzip.open(name, "wt") as f:
    f.write("gpu,ts_us,mw\n")
    for i in range(int(secs * 50)):
        t = i * 0.02
        for g in range(gpus):
            f.write(f"{g},{t0 + i * 20000},{int(round(eval(expr)))}\n")
PY
}
# 100 ms at 800 W, 100 ms at 200 W on two GPUs in step (the GEMM on/off load of bench/h200)
synth square.csv.gz 2 10 '800000 if int(round(t / 0.02)) % 10 < 5 else 200000'
# a 1.25 Hz sine of 100 W on 400 W
synth sine.csv.gz 1 20 '400000 + 100000 * math.sin(2 * math.pi * 1.25 * t)'
# 300 W, a 0.5 s ramp to 1300 W at 2 s, then 1300 W
synth ramp.csv.gz 1 10 '300000 + 1000000 * min(max((t - 2.0) / 0.5, 0), 1)'

for w in square sine ramp; do
    secs=4.5
    [ $w = sine ] && secs=12
    FAKE_NVML_TRACE=$PWD/$w.csv.gz "$WATTPROF" run -o $w.wptrace -- sleep $secs >$w.out 2>&1 &
done
wait
for w in square sine ramp; do
    "$WATTPROF" report $w.wptrace --json $w.json >$w.txt 2>&1 || { cat $w.out $w.txt; fail "report $w"; }
    "$WATTPROF" export $w.wptrace --csv >$w.export.csv
done
expect_in square.txt "swings of the GPUs' summed power"
expect_in square.txt "spectrum"

# Brute force over the recorded samples: the GPUs summed on the summary's 20 ms grid from the
# run's start (each grid point takes the sample whose interval (previous, own] holds it), then
# the largest change between the means of two adjacent windows.
cat > brute.py <<'PY'
import bisect, csv, json, sys
name = sys.argv[1]
rep = json.load(open(name + ".json"))
ser = {}
for r in csv.DictReader(open(name + ".export.csv")):
    if r["name"] == "power":
        ser.setdefault(r["device"], ([], []))
        ser[r["device"]][0].append(int(r["t_us"]))
        ser[r["device"]][1].append(int(r["value"]) / 1000)
grid = []
g = rep["start_us"]
while g <= rep["end_us"]:
    s = 0.0
    for ts, vs in ser.values():
        i = bisect.bisect_left(ts, g)
        if i == len(ts) or (i == 0 and g <= ts[0] - 20000):
            s = None
            break
        s += vs[i]
    grid.append(s)
    g += 20000
while grid and grid[-1] is None:
    grid.pop()
while grid and grid[0] is None:
    grid.pop(0)
assert None not in grid, "a hole in the replayed grid"
pre = [0.0]
for v in grid:
    pre.append(pre[-1] + v)
out = []
for sw in rep["swings"]:
    k = int(sw["window_ms"] / 20)
    if len(grid) < 2 * k:
        out.append((sw, None, None))
        continue
    d = [((pre[e] - pre[e - k]) - (pre[e - k] - pre[e - 2 * k])) / k for e in range(2 * k, len(grid) + 1)]
    out.append((sw, max(0, max(d)), max(0, -min(d))))
bad = []
for sw, rise, fall in out:
    if rise is None:
        if sw["max_rise_w"] is not None:
            bad.append(f"{sw['window_ms']} ms: expected none, got {sw['max_rise_w']}")
        continue
    if abs(sw["max_rise_w"] - rise) > 0.01 or abs(sw["max_fall_w"] - fall) > 0.01:
        bad.append(f"{sw['window_ms']} ms: rise {sw['max_rise_w']} fall {sw['max_fall_w']}, brute force {rise} {fall}")
print(name, [(sw["window_ms"], round(r, 1) if r is not None else None, round(f, 1) if f is not None else None) for sw, r, f in out])
sys.exit("; ".join(bad) if bad else 0)
PY
for w in square sine ramp; do
    python3 brute.py $w || fail "$w: swings differ from the brute-force computation"
done

# Square wave: 2 x 600 W steps every 100 ms. Over 20 ms and 100 ms the full 1200 W; 1 s and
# longer windows hold whole periods, so their means do not move.
check 'abs(j["swings"][0]["max_rise_w"] - 1200) < 1 and abs(j["swings"][0]["max_fall_w"] - 1200) < 1' square.json
check 'abs(j["swings"][0]["max_rate_w_per_s"] - 1200 / 0.02) < 50' square.json
check 'abs(j["swings"][1]["max_rise_w"] - 1200) < 1' square.json
check 'j["swings"][2]["max_rise_w"] < 15 and j["swings"][2]["max_fall_w"] < 15' square.json
check 'j["swings"][3]["max_rise_w"] is None' square.json  # 4.5 s: no two 60 s windows
# its 5 Hz fundamental: the amplitude of one sampled period's DFT line
a5=$(python3 -c 'import math; w=[1200 if i < 5 else 0 for i in range(10)]; print(2*abs(sum(v*complex(math.cos(2*math.pi*i/10),-math.sin(2*math.pi*i/10)) for i,v in enumerate(w)))/10)')
note "square: 5 Hz line expected $a5 W, got $(json square.json 'j["spectrum"]["peaks"][:2]')"
check "abs(j['spectrum']['peaks'][0]['hz'] - 5) < j['spectrum']['resolution_hz'] / 2 and abs(j['spectrum']['peaks'][0]['amplitude_w'] - $a5) < 0.02 * $a5" square.json

# Sine: its frequency and amplitude; its steepest slope 100 W x 2 pi x 1.25 Hz.
check 'abs(j["spectrum"]["peaks"][0]["hz"] - 1.25) < j["spectrum"]["resolution_hz"] / 2' sine.json
check 'abs(j["spectrum"]["peaks"][0]["amplitude_w"] - 100) < 3' sine.json
check 'abs(j["swings"][0]["max_rate_w_per_s"] - 100 * 2 * 3.14159265 * 1.25) < 0.01 * 785.4' sine.json

# Ramp: 1000 W over 0.5 s = 2000 W/s; windows inside the ramp see slope x window; a 1 s window
# sees 1000 W x (1 - 0.5 / (4 x 1)) of it (adjacent boxcar means of a linear ramp).
check 'abs(j["swings"][0]["max_rise_w"] - 40) < 0.5 and abs(j["swings"][0]["max_rate_w_per_s"] - 2000) < 25' ramp.json
check 'abs(j["swings"][1]["max_rise_w"] - 200) < 1' ramp.json
check 'abs(j["swings"][2]["max_rise_w"] - 875) < 10' ramp.json
check 'j["swings"][0]["max_fall_w"] < 1' ramp.json
