#!/usr/bin/env python3
"""Checks that a trace recorded from the fake NVML holds every 20 ms sample the fake served.

usage: check_complete.py EXPORT.csv FIXTURE.csv[.gz]

EXPORT.csv is `wattprof export TRACE --csv -s power`. The fake replays FIXTURE periodically
(tests/fake_nvml/replay.h: virtual sample j = k*n + i is recorded sample i shifted by k
periods) and hands GPU d the file's GPU d mod (GPUs in the file). For each GPU the recorded
samples must be consecutive virtual samples: every interval and every value as in the file.
A lost sample shows as an interval that spans two of the file's. Prints one line per GPU;
exits 1 on any loss."""
import csv, gzip, sys


def load_fixture(path):
    op = gzip.open if path.endswith(".gz") else open
    rows = []
    with op(path, "rt") as f:
        for r in csv.DictReader(f):
            rows.append((int(r["gpu"]), int(r["ts_us"]), int(r["mw"])))
    rows.sort(key=lambda r: r[1])
    t0 = rows[0][1]
    gpus = sorted({g for g, _, _ in rows})
    series = {g: [(t, mw) for gg, t, mw in rows if gg == g] for g in gpus}
    span = sum(s[-1][0] - s[0][0] for s in series.values())
    gaps = sum(len(s) - 1 for s in series.values())
    step = (span + gaps // 2) // gaps if gaps > 0 else 20000
    period = (rows[-1][1] - t0) + step
    return gpus, series, t0, period


def main():
    gpus, series, t0, period = load_fixture(sys.argv[2])
    rec = {}
    for r in csv.DictReader(open(sys.argv[1])):
        if r["name"] == "power":
            rec.setdefault(int(r["device"]), []).append((int(r["t_us"]), int(r["value"])))
    bad = 0
    for dev in sorted(rec):
        s = series[gpus[dev % len(gpus)]]
        n = len(s)
        rel = lambda j: s[j % n][0] - t0 + (j // n) * period
        mw = lambda j: s[j % n][1]
        got = rec[dev]
        probe = min(len(got) - 1, 40)
        start = [j for j in range(n)
                 if all(rel(j + i) - rel(j) == got[i][0] - got[0][0] and mw(j + i) == got[i][1]
                        for i in range(probe + 1))]
        if len(start) != 1:
            print(f"GPU {dev}: cannot place the first samples in the file ({len(start)} places)")
            bad += 1
            continue
        j0, lost = start[0], 0
        j = j0
        for i in range(1, len(got)):
            j += 1
            while rel(j) - rel(j0) < got[i][0] - got[0][0] and lost < 1000000:
                j += 1
                lost += 1
            if rel(j) - rel(j0) != got[i][0] - got[0][0] or mw(j) != got[i][1]:
                print(f"GPU {dev}: sample {i} at {got[i][0]} is not in the file")
                bad += 1
                break
        span_s = (got[-1][0] - got[0][0]) / 1e6
        print(f"GPU {dev}: {len(got)} samples over {span_s:.1f} s, {lost} of the file's lost")
        bad += lost > 0
    sys.exit(1 if bad else 0)


main()
