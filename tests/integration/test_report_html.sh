# `wattprof report --html` (issue 11, done-when 1 and 2): the real H200 Llama-13b recording
# (docs/results/h200) replayed through the fake NVML with the job's "train" phase, opened in
# headless Chromium: no JavaScript errors, every summary number on the page equals the JSON
# summary's, the timelines' envelope maxima equal the 20 ms peaks, the phase is shaded with
# its name; the spectrum shows the training step's period; the sweep comparison page.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/lib.sh"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/deps.sh test)"
RES=$ROOT/docs/results/h200

# The export as the fake's gpu,ts_us,mw rows; and the step period two independent ways: the
# job's own marks (5 steps per train phase, docs/results/h200/llama-report.json) and the
# autocorrelation of the summed 20 ms power over the train phases.
python3 - "$RES" <<'PY'
import bisect, csv, gzip, json, sys
res = sys.argv[1]
rows = sorted((int(r["t_us"]), int(r["device"]), int(r["value"]))
              for r in csv.DictReader(gzip.open(res + "/exports/llama.csv.gz", "rt"))
              if r["name"] == "power")
with gzip.open("llama.csv.gz", "wt") as f:
    f.write("gpu,ts_us,mw\n")
    for t, d, v in rows:
        f.write(f"{d},{t},{v}\n")
rep = json.load(open(res + "/llama-report.json"))
train = [p for p in rep["phases"] if p["name"] == "train"]
steps = [p["counts"]["step"] for p in train]
per_phase = steps[1] - steps[0]
marks_period = sum(p["duration_s"] for p in train) / (len(train) * per_phase)
ser = {}
for t, d, v in rows:
    ser.setdefault(d, ([], []))
    ser[d][0].append(t)
    ser[d][1].append(v / 1000)
x = []
for g in range(train[0]["t0_us"], train[-1]["t1_us"], 20000):
    x.append(sum(vs[min(bisect.bisect_left(ts, g), len(ts) - 1)] for ts, vs in ser.values()))
m = sum(x) / len(x)
x = [v - m for v in x]
ac = [sum(x[i] * x[i + k] for i in range(len(x) - k)) / (len(x) - k) for k in range(160)]
# the highest autocorrelation beyond the first zero crossing, over lags up to 3.2 s
z = next(k for k in range(1, 160) if ac[k] < 0)
lag = max(range(z, 160), key=lambda k: ac[k])
json.dump({"marks_period_s": marks_period, "ac_period_s": lag * 0.02,
           "offset_s": (train[0]["t0_us"] - rows[0][0]) / 1e6}, open("expect.json", "w"))
print("step period: marks %.3f s, autocorrelation %.3f s" % (marks_period, lag * 0.02))
PY
check 'abs(j["marks_period_s"] - j["ac_period_s"]) < 0.05 * j["marks_period_s"]' expect.json
off=$(json expect.json 'int(j["offset_s"])')

cat > job.py <<'PY'
import time, wattprof
time.sleep(0.5)
with wattprof.phase("train", samples=64):
    time.sleep(15)
time.sleep(0.5)
PY
FAKE_NVML_TRACE=$PWD/llama.csv.gz FAKE_NVML_OFFSET_S=$off \
    expect_status 0 "$WATTPROF" run -o llama.wptrace -- python3 job.py
expect_status 0 "$WATTPROF" report llama.wptrace --json llama.json --html llama.html
expect_in out.txt "spectrum"
# HTML to stdout while the text goes to stderr
expect_status 0 "$WATTPROF" report llama.wptrace --html -
expect_in out.txt "</html>"
expect_in err.txt "energy J"

# The spectrum's strongest line is a low harmonic of the step frequency (the 13b step draws
# power in two bursts: its strongest line is at twice the step rate).
python3 - <<'PY' || fail "the spectrum does not show the step period"
import json
e, j = json.load(open("expect.json")), json.load(open("llama.json"))
f0, sp = 1 / e["marks_period_s"], j["spectrum"]
top = sp["peaks"][0]["hz"]
n = round(top / f0)
print(f"step {1 / f0:.3f} s ({f0:.3f} Hz); peaks {[(round(p['hz'], 3), round(p['amplitude_w'], 1)) for p in sp['peaks']]}")
assert 1 <= n <= 4 and abs(top - n * f0) <= sp["resolution_hz"], (top, n * f0)
PY

# Chromium: the page as a person sees it (screenshot) and the DOM after its script ran, with
# the console on stderr. A broken page must trip the console check, or the check proves nothing.
chrome() { # OUT.dom FILE.html [extra args]
    out=$1 page=$2
    shift 2
    timeout 60 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
        "$@" --dump-dom "file://$PWD/$page" >"$out" 2>"$out.log" || fail "chromium failed on $page"
}
js_errors() { grep -E 'CONSOLE.*(Uncaught|Error)' "$1" || true; }
printf '<html><body><script>nonesuch();</script></body></html>' > broken.html
chrome broken.dom broken.html
[ -n "$(js_errors broken.dom.log)" ] || fail "the console check does not see a JavaScript error"
chrome llama.dom llama.html
[ -z "$(js_errors llama.dom.log)" ] || { js_errors llama.dom.log; fail "JavaScript errors in the report"; }
timeout 60 chromium --headless --no-sandbox --disable-gpu --window-size=1150,2400 \
    --screenshot="$PWD/llama.png" "file://$PWD/llama.html" >/dev/null 2>&1 || fail "no screenshot"
[ "$(head -c 4 llama.png | tail -c 3)" = PNG ] || fail "the screenshot is not a PNG"

size=$(stat -c %s llama.html)
[ "$size" -lt 5000000 ] || fail "the report is $size bytes"
# self-contained: nothing is fetched (the one URL is the SVG namespace the script names)
if grep -oE '(src|href)=["'"'"']?[a-z]+://' llama.html | grep -q .; then fail "the report links out"; fi

python3 - <<'PY' || fail "the page disagrees with the JSON summary"
import json, re
from html.parser import HTMLParser
j = json.load(open("llama.json"))

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.cur, self.svgs, self.phases, self.zoomctl = [], None, [], [], None
        self.in_phase = None
    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "td" and "data-key" in a:
            self.cur = [a["data-key"], a["data-value"], ""]
        if tag == "svg" and "timeline" in (a.get("class") or ""):
            self.svgs.append(a)
        if tag == "g" and a.get("class") == "phase":
            self.in_phase = [a.get("data-name"), "", False, len(self.svgs)]
        if tag == "rect" and self.in_phase:
            self.in_phase[2] = True
        if tag == "div" and a.get("id") == "zoomctl":
            self.zoomctl = a
    def handle_data(self, d):
        if self.cur is not None:
            self.cur[2] += d
        if self.in_phase:
            self.in_phase[1] += d
    def handle_endtag(self, tag):
        if tag == "td" and self.cur is not None:
            self.cells.append(self.cur)
            self.cur = None
        if tag == "g" and self.in_phase:
            self.phases.append(self.in_phase)
            self.in_phase = None

p = P()
p.feed(open("llama.dom").read())

def lookup(path):
    v = j
    for k in path.split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
    return v

bad = []
for key, raw, text in p.cells:
    v = lookup(key)
    if v is None:
        if text.strip() != "-" or raw != "null":
            bad.append(f"{key}: JSON null, page {text!r}")
        continue
    shown = float(text)
    dec = len(text.split(".")[1]) if "." in text else 0
    if float(raw) != float(v) or abs(shown - v) > 0.5 * 10 ** -dec + 1e-9:
        bad.append(f"{key}: JSON {v}, page {text} ({raw})")
print(len(p.cells), "numbers checked")
assert len(p.cells) >= 40, len(p.cells)
keys = {c[0] for c in p.cells}
for k in ("total.peak_w", "gpus.1.energy_j", "phases.0.energy_j", "swings.0.max_rise_w",
          "spectrum.peaks.0.hz", "node.mean_w"):
    assert k in keys, k
# the envelope's highest point is the 20 ms peak, for the sum and for each GPU
sums = [s for s in p.svgs if "sum" in s["class"]]
assert len(sums) == 1 and float(sums[0]["data-max-w"]) == j["total"]["peak_w"], (sums, j["total"]["peak_w"])
for g in j["gpus"]:
    s = [s for s in p.svgs if "gpu" in s["class"] and int(s["data-index"]) == g["index"]]
    assert len(s) == 1 and abs(float(s[0]["data-max-w"]) - g["peak_w"]) < 1e-9, (s, g["peak_w"])
# the train phase is shaded (a rect) and named, on every timeline
train = [ph for ph in p.phases if ph[0] == "train" and ph[2] and "train" in ph[1]]
assert len(train) == len(p.svgs) == 3, (p.phases, len(p.svgs))
# the script ran: it shows the zoom controls that stay hidden without it
assert p.zoomctl is not None and "hidden" not in p.zoomctl, p.zoomctl
sys_exit = "; ".join(bad)
assert not bad, sys_exit
PY

# The zoom holds every sample of its window, each GPU's, as the export has them: the default
# window (ten seconds around the summed peak) and one asked for. They are read after the pass
# from the chunks that hold the window only, so a wrong chunk choice drops samples here.
expect_status 0 "$WATTPROF" report llama.wptrace --html z.html --zoom 3:4.5
expect_status 0 "$WATTPROF" export llama.wptrace --csv -s power -o power.csv
python3 - <<'PY' || fail "the zoom does not hold its window's samples"
import csv, json, math, re
j = json.load(open("llama.json"))
rows = list(csv.DictReader(open("power.csv")))


def c_round(x):  # C's round(): halves away from zero (Python's round() goes to even)
    f = math.floor(abs(x))
    return math.copysign(f + (abs(x) - f >= 0.5), x)


for page, want in (("llama.html", None), ("z.html", (3.0, 4.5))):
    z = json.loads(re.search(r'<script type="application/json" id=zoomdata>(.*?)</script>',
                             open(page).read(), re.S).group(1))
    if want:
        assert (z["from_s"], z["to_s"]) == want, (z["from_s"], z["to_s"])
    else:
        assert 9.99 < z["to_s"] - z["from_s"] <= 10.0 + 1e-9, z
    lo = j["start_us"] + round(z["from_s"] * 1e6)
    hi = j["start_us"] + round(z["to_s"] * 1e6)
    assert len(z["series"]) == len(j["gpus"]), len(z["series"])
    for g, ser in zip(j["gpus"], z["series"]):
        assert ser["label"] == f"GPU {g['index']}", ser["label"]
        mine = [(int(r["t_us"]), int(r["value"])) for r in rows
                if int(r["device"]) == g["index"] and r["unit"] == "mW"]
        mine = [(t, v) for t, v in sorted(mine) if lo <= t <= hi]
        assert len(mine) > 50, (page, len(mine))
        assert ser["t_ms"] == [(t - lo) // 1000 for t, _ in mine], page
        assert ser["w"] == [c_round(v / 1000 * 10) / 10 for _, v in mine], page
    print(page, "zoom", z["from_s"], z["to_s"], [len(s["t_ms"]) for s in z["series"]], "samples")
PY

# The comparison page: a sweep's JSON (the H200 ResNet batch sweep), and two traces.
expect_status 0 "$WATTPROF" report --html sweep.html "$RES/resnet-sweep.json"
chrome sweep.dom sweep.html
[ -z "$(js_errors sweep.dom.log)" ] || fail "JavaScript errors in the comparison"
python3 - "$RES/resnet-sweep.json" <<'PY' || fail "the comparison disagrees with the sweep's JSON"
import json, re, sys
j = json.load(open(sys.argv[1]))
dom = open("sweep.dom").read()
cells = re.findall(r'data-key="runs\.(\d+)\.(\w+)" data-value="?([^" >]+)', dom)
assert len(cells) == 5 * len(j["runs"]), len(cells)
for i, k, v in cells:
    want = j["runs"][int(i)][k]
    assert (v == "null" and want is None) or float(v) == want, (i, k, v, want)
assert dom.count("<figure") == 5, dom.count("<figure")
for r in j["runs"]:
    assert f">{r['value']}</text>" in dom, r["value"]
PY
expect_status 0 "$WATTPROF" report --html two.html llama.wptrace llama.wptrace
expect_in two.html 'data-key="runs.1.energy_j"'

# Bad use says what to do.
expect_status 64 "$WATTPROF" report llama.wptrace --html z.html --zoom 5:1
expect_in err.txt "FROM:TO"
expect_status 64 "$WATTPROF" report "$RES/resnet-sweep.json"
expect_in err.txt "--html"
expect_status 66 "$WATTPROF" report --html x.html nonesuch.json
echo '{"param": "gb"}' > notsweep.json
expect_status 65 "$WATTPROF" report --html x.html notsweep.json
expect_in err.txt "runs"
expect_status 73 "$WATTPROF" report llama.wptrace --html llama.html
[ ! -e x.html ] || fail "a failed comparison left x.html behind"
