#!/usr/bin/env python3
"""Power swings of the GPUs together inside a job's phases, from a wattprof trace.

    python3 bench/h200/swings.py TRACE [PHASE]     (default PHASE: train)
    python3 bench/h200/swings.py --csv EXPORT.csv[.gz] --report REPORT.json [PHASE]

Reads the trace through `wattprof export` and `wattprof report --json` (build/wattprof, or
$WATTPROF), or an export and report saved earlier (docs/results/h200/), sums the GPUs' 20 ms power on a 20 ms grid over the span from the first to the
last phase called PHASE, and prints: mean, standard deviation, min and max of the sum; the
range of its 1 s means; the largest change between consecutive 1 s means and between
consecutive 100 ms means; the largest rise and fall between adjacent 20 ms, 100 ms and 1 s
windows as `wattprof report` gives them for a whole run; and per GPU the lowest and highest 1 s average (NVML field 185,
`power_avg`) more than 2 s into the span, against the GPU's limit. Standard library only."""
import bisect
import csv
import gzip
import io
import json
import os
import statistics
import subprocess
import sys


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    exe = os.environ.get("WATTPROF", "build/wattprof")
    if args[0] == "--csv" and len(args) >= 4 and args[2] == "--report":
        trace = args[1]
        opener = gzip.open if trace.endswith(".gz") else open
        with opener(trace, "rt") as f:
            rows = f.read()
        with open(args[3]) as f:
            rep = json.load(f)
        phase = args[4] if len(args) > 4 else "train"
    else:
        trace, phase = args[0], args[1] if len(args) > 1 else "train"
        rep = json.loads(subprocess.run([exe, "report", trace, "--json", "-"], check=True,
                                        capture_output=True, text=True).stdout)
        rows = subprocess.run([exe, "export", trace, "--csv"],
                              check=True, capture_output=True, text=True).stdout
    ph = [p for p in rep.get("phases") or [] if p["name"] == phase]
    if not ph:
        sys.exit(f"no phase called {phase} in {trace}")
    t0, t1 = ph[0]["t0_us"], ph[-1]["t1_us"]
    ser, avg = {}, {}
    for r in csv.DictReader(io.StringIO(rows)):
        if r["name"] == "power_avg" and t0 + 2_000_000 <= int(r["t_us"]) <= t1:
            avg.setdefault(int(r["device"]), []).append(int(r["value"]) / 1000)
        if r["name"] != "power":
            continue
        ser.setdefault(int(r["device"]), ([], []))
        ser[int(r["device"])][0].append(int(r["t_us"]))
        ser[int(r["device"])][1].append(int(r["value"]) / 1000)
    total = []
    for g in range(t0, t1, 20000):
        s = 0.0
        for ts, vs in ser.values():
            i = min(bisect.bisect_left(ts, g), len(ts) - 1)  # the sample covering g
            s += vs[i]
        total.append(s)
    sec = [statistics.fmean(total[i:i + 50]) for i in range(0, len(total) - 49, 50)]
    dec = [statistics.fmean(total[i:i + 5]) for i in range(0, len(total) - 4, 5)]
    print(f"{trace}: phases '{phase}' x{len(ph)}, {(t1 - t0) / 1e6:.1f} s, {len(ser)} GPUs")
    print(f"sum of GPUs at 20 ms: mean {statistics.fmean(total):.0f} W, sd "
          f"{statistics.pstdev(total):.0f} W, min {min(total):.0f} W, max {max(total):.0f} W")
    print(f"1 s means: {min(sec):.0f}..{max(sec):.0f} W; largest step between 1 s means "
          f"{max(abs(b - a) for a, b in zip(sec, sec[1:])):.0f} W; between 100 ms means "
          f"{max(abs(b - a) for a, b in zip(dec, dec[1:])):.0f} W")

    # `wattprof report`'s swings (src/analysis/swings.h) over the phases alone: the largest
    # change between the means of two adjacent windows, sliding by 20 ms
    pre = [0.0]
    for v in total:
        pre.append(pre[-1] + v)
    for k, name in ((1, "20 ms"), (5, "100 ms"), (50, "1 s")):
        d = [((pre[e] - pre[e - k]) - (pre[e - k] - pre[e - 2 * k])) / k
             for e in range(2 * k, len(total) + 1)]
        if d:
            print(f"swing over {name}: largest rise {max(0, max(d)):.0f} W, largest fall "
                  f"{max(0, -min(d)):.0f} W, {max(max(d), -min(d)) / (k * 0.02):.0f} W/s")

    limits = {g["index"]: g.get("limit_w") for g in rep.get("gpus", [])}
    for d, v in sorted(avg.items()):
        lim = limits.get(d)
        pct = f" ({min(v) / lim * 100:.1f} % of the {lim:.0f} W limit)" if lim else ""
        print(f"GPU {d}: 1 s average {min(v):.0f}..{max(v):.0f} W after the first 2 s{pct}")


if __name__ == "__main__":
    main()
