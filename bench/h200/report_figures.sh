#!/usr/bin/env bash
# The figures of docs/results/h200.md from `wattprof report --html`: each recording's export
# (docs/results/h200/exports/NAME.csv.gz) is replayed through the fake NVML with the job's
# phases sent again at their recorded offsets (from NAME-report.json), reported as HTML and
# photographed by headless Chromium; the batch sweep's page is drawn from resnet-sweep.json.
# Needs `make` (build/wattprof, the fake NVML) and chromium.
# Usage: bench/h200/report_figures.sh [RESULTS_DIR]   (default docs/results/h200)
# Writes RESULTS_DIR/NAME-report.html and .png, NAME-replay-report.json (the summary of the
# replay: its swings and spectrum), resnet-sweep-report.html and .png.
# The replay keeps every 20 ms sample and its spacing; the marks land within a few tens of ms
# of where the job sent them (timed from the start of `wattprof run`, whose NVML starts the
# replay).
set -euo pipefail
cd "$(dirname "$0")/../.."
res=${1:-docs/results/h200}
wp=$PWD/${BUILD:-build}/wattprof
fake=$PWD/${BUILD:-build}/fake-nvml/libnvidia-ml.so.1
[ -x "$wp" ] && [ -f "$fake" ] || { echo "report_figures: run make first" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wp-figures.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export WATTPROF_NVML_LIB=$fake WATTPROF_SYSFS_ROOT=$PWD/tests/fixtures/sysfs/empty
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}

shot() { # HTML PNG HEIGHT
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1150,"$3" \
        --screenshot="$PWD/$2" "file://$PWD/$1" >/dev/null 2>&1
}

replay() { # NAME
    local name=$1 dir=$tmp/$1
    mkdir -p "$dir"
    python3 - "$res/exports/$name.csv.gz" "$res/$name-report.json" "$dir" <<'PY'
import csv, gzip, json, sys
export, report, out = sys.argv[1:4]
rows = sorted((int(r["t_us"]), int(r["device"]), int(r["value"]))
              for r in csv.DictReader(gzip.open(export, "rt")) if r["name"] == "power")
# Should the fake's buffer reach back past the first row, it finds the end of its loop: 3 s
# of each GPU's first reading after the last row stand in for what came before.
first = {}
for t, d, v in rows:
    first.setdefault(d, v)
pad = [(rows[-1][0] + 20000 * k, d, v) for k in range(1, 151) for d, v in sorted(first.items())]
with gzip.open(out + "/buffer.csv.gz", "wt") as f:
    f.write("gpu,ts_us,mw\n")
    for t, d, v in rows + pad:
        f.write(f"{d},{t},{v}\n")
rep = json.load(open(report))
# The replay starts where the recording did: the export also holds the driver buffer's
# history from before the start (the previous job's tail), which the recording left out.
t0 = max(rep["start_us"], rows[0][0])
open(out + "/offset", "w").write("%.6f" % ((t0 - rows[0][0]) / 1e6))
ev = []
for p in rep.get("phases", []):
    # a mark carries at most 8 counts; the summary adds a phase's begin and end counts
    items = [(k, v) for k, v in p.get("counts", {}).items() if isinstance(v, (int, float))]
    ev.append((max(0, (p["t0_us"] - t0) / 1e6), 0, "begin", p["name"], dict(items[8:16])))
    if not p.get("open_ended"):
        ev.append(((p["t1_us"] - t0) / 1e6, 1, "end", p["name"], dict(items[:8])))
ev.sort(key=lambda e: (e[0], e[1]))
# stop half a second before the recording ends, so the loop never wraps into the page
end_s = (min(rep["end_us"], rows[-1][0]) - t0) / 1e6 - 0.5
json.dump({"events": ev, "end_s": end_s}, open(out + "/events.json", "w"))
PY
    cat >"$dir/job.py" <<'PY'
import json, os, sys, time, wattprof
plan = json.load(open(sys.argv[1]))
# Time 0 is when `wattprof run` (the parent) started, not this job: the replay starts with
# the parent's NVML, and a loaded machine can take seconds to start Python.
with open(f"/proc/{os.getppid()}/stat") as f:
    ticks = int(f.read().rsplit(")", 1)[1].split()[19])
with open("/proc/uptime") as f:
    up = float(f.read().split()[0])
start = time.time() - (up - ticks / os.sysconf("SC_CLK_TCK"))
for t, _, verb, name, counts in plan["events"]:
    time.sleep(max(0.0, start + t - time.time()))
    (wattprof.begin if verb == "begin" else wattprof.end)(name, **counts)
time.sleep(max(0.0, start + plan["end_s"] - time.time()))
PY
    FAKE_NVML_TRACE=$dir/buffer.csv.gz FAKE_NVML_OFFSET_S=$(cat "$dir/offset") FAKE_NVML_RECORDED_ON="2x NVIDIA H200 SXM, driver 580.159.04, 2026-11-28" \
        "$wp" run -f -o "$dir/$name.wptrace" -- python3 "$dir/job.py" "$dir/events.json" \
        >"$dir/run.log" 2>&1
    "$wp" report "$dir/$name.wptrace" -f --html "$res/$name-report.html" \
        --json "$res/$name-replay-report.json" >/dev/null
    shot "$res/$name-report.html" "$res/$name-report.png" 1900
    echo "$name: $res/$name-report.html, $res/$name-report.png"
}

for name in burn60 llama resnet; do
    replay "$name" &
done
"$wp" report -f --html "$res/resnet-sweep-report.html" "$res/resnet-sweep.json"
shot "$res/resnet-sweep-report.html" "$res/resnet-sweep-report.png" 560
echo "sweep: $res/resnet-sweep-report.html, $res/resnet-sweep-report.png"
wait
