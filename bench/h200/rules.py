#!/usr/bin/env python3
"""Does the integration rule explain trace-vs-counter differences? Integrates a run's 20 ms
power samples over the independent counter reader's window under four rules and prints each
one's difference from the counter, per GPU.

    python3 bench/h200/rules.py EXPORT.csv[.gz] PROBE.json

EXPORT is `wattprof export TRACE --csv`; PROBE is counter_probe.py's output for the same run.
Rules: right (a sample covers the interval before it: wattprof's rule), left (the interval
after it: the fake NVML's), trap (linear between samples), mid (half each way)."""
import csv
import gzip
import json
import sys


def integrate(ts, vs, a, b, rule):
    e = 0.0
    for i in range(1, len(ts)):
        t0, t1 = ts[i - 1], ts[i]
        lo, hi = max(t0, a), min(t1, b)
        if hi <= lo:
            continue
        if rule == "right":
            e += vs[i] * (hi - lo)
        elif rule == "left":
            e += vs[i - 1] * (hi - lo)
        elif rule == "trap":
            def f(t):
                return vs[i - 1] + (vs[i] - vs[i - 1]) * (t - t0) / (t1 - t0)
            e += (f(lo) + f(hi)) / 2 * (hi - lo)
        else:  # mid
            m = (t0 + t1) / 2
            e += vs[i - 1] * max(0, min(hi, m) - lo) + vs[i] * max(0, hi - max(lo, m))
    return e / 1e9  # mW x us -> J


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    opener = gzip.open if sys.argv[1].endswith(".gz") else open
    series = {}
    with opener(sys.argv[1], "rt") as f:
        for r in csv.DictReader(f):
            if r["name"] == "power":
                t, v = series.setdefault(int(r["device"]), ([], []))
                t.append(int(r["t_us"]))
                v.append(int(r["value"]))
    with open(sys.argv[2]) as f:
        probe = json.load(f)
    for g, (ts, vs) in sorted(series.items()):
        p = probe[str(g)]
        c = p["delta_mj"] / 1000
        diffs = {r: (integrate(ts, vs, p["t0_us"], p["t1_us"], r) - c) / c * 100
                 for r in ("right", "left", "trap", "mid")}
        print(f"GPU {g}: counter {c:.1f} J; " + ", ".join(f"{r} {d:+.2f} %" for r, d in diffs.items()))


if __name__ == "__main__":
    main()
