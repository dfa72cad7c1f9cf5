#!/usr/bin/env python3
"""What `wattprof report --html` does not draw for docs/results/h200.md, from the files
experiments.sh leaves in a results folder: `<name>.csv` (wattprof export --csv),
`<name>-report.json` (wattprof report --json) and `resnet-sweep.json` (wattprof sweep --json).
Needs matplotlib (present on the H200 image).

    python3 bench/h200/plots.py RESULTS_DIR

Writes RESULTS_DIR/resnet-sweep.png (each run's *training phases* against the whole run: the
report's comparison page draws a sweep's table, which holds whole runs unless the sweep was
run with --phase) and RESULTS_DIR/plots.txt (numbers read off the data: 20 ms, 1 s and 1 min
peaks of the summed GPU power, largest 1 s ramp, mean and standard deviation). The
recordings' timelines come from `wattprof report --html` (bench/h200/report_figures.sh)."""
import csv
import json

import os
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    """{(device, name): ([t_s], [value])} from a wattprof CSV export (power in W)."""
    series = defaultdict(lambda: ([], []))
    with open(path) as f:
        for row in csv.DictReader(f):
            t, v = series[(int(row["device"]), row["name"])]
            t.append(int(row["t_us"]) / 1e6)
            scale = 1e-3 if row["unit"] in ("mW", "mJ") else 1.0
            v.append(int(row["value"]) * scale)
    return series


def summed(series, name, step=0.02):
    """Sum over GPUs of one reading on a common grid (step-hold), as (t, W)."""
    keys = sorted(k for k in series if k[1] == name)
    if not keys:
        return [], []
    t0 = max(series[k][0][0] for k in keys)
    t1 = min(series[k][0][-1] for k in keys)
    grid, total = [], []
    idx = {k: 0 for k in keys}
    t = t0
    while t <= t1:
        s = 0.0
        for k in keys:
            ts, vs = series[k]
            i = idx[k]
            while i + 1 < len(ts) and ts[i + 1] <= t:
                i += 1
            idx[k] = i
            # the sample that covers t is the first one at or after t
            j = i + 1 if ts[i] < t and i + 1 < len(ts) else i
            s += vs[j]
        grid.append(t)
        total.append(s)
        t += step
    return grid, total


def rolling_peak(t, v, window):
    if not t or t[-1] - t[0] < window:
        return float("nan")
    best, acc = -1.0, 0.0
    dt = t[1] - t[0] if len(t) > 1 else 0.02
    n = max(1, int(round(window / dt)))
    for i, x in enumerate(v):
        acc += x
        if i >= n:
            acc -= v[i - n]
        if i >= n - 1:
            best = max(best, acc / n)
    return best


def largest_ramp(t, v, window=1.0):
    """Largest change of the 1 s mean between consecutive 1 s windows (W per second)."""
    if not t:
        return float("nan")
    bins = defaultdict(list)
    for x, y in zip(t, v):
        bins[int((x - t[0]) // window)].append(y)
    means = [statistics.fmean(bins[k]) for k in sorted(bins) if bins[k]]
    return max((abs(b - a) for a, b in zip(means, means[1:])), default=float("nan"))


def phases(report):
    try:
        with open(report) as f:
            return json.load(f).get("phases") or []
    except OSError:
        return []


def trace_notes(res, name, notes):
    """The numbers of plots.txt for one recording. Its timeline is drawn by `wattprof report
    --html` now (bench/h200/report_figures.sh); the 1 min peak and the 1 s ramp stay here."""
    path = os.path.join(res, name + ".csv")
    if not os.path.exists(path):
        return
    s = load(path)
    t, total = summed(s, "power")
    if not t:
        return
    t0 = t[0]
    ngpu = len({k[0] for k in s if k[1] == "power"})
    mean = statistics.fmean(total)
    sd = statistics.pstdev(total)
    p1m = rolling_peak(t, total, 60.0)
    notes.append(f"{name}: GPUs {ngpu}, span {t[-1]-t0:.1f} s, mean {mean:.0f} W, sd {sd:.0f} W, "
                 f"peak 20 ms {max(total):.0f} W, peak 1 s {rolling_peak(t, total, 1.0):.0f} W, "
                 f"peak 1 min {p1m:.0f} W, largest 1 s ramp {largest_ramp(t, total):.0f} W/s, "
                 f"limit {700*ngpu} W")


def sweep_phases(res, name):
    """Per run of a sweep: (run phase, [job phases called `name` inside it]) from the report."""
    out = []
    for p in phases(os.path.join(res, "resnet-report.json")):
        if p["name"].startswith("sweep/"):
            out.append((p, []))
        elif out and p["name"] == name and p["t0_us"] >= out[-1][0]["t0_us"] \
                and p["t1_us"] <= out[-1][0]["t1_us"]:
            out[-1][1].append(p)
    return out


def sweep_plot(res, notes):
    path = os.path.join(res, "resnet-sweep.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        runs = json.load(f)["runs"]
    per_run = sweep_phases(res, "train")
    if len(per_run) != len(runs):
        notes.append("sweep plot: runs and phases do not match; skipped")
        return
    labels = [r["value"] for r in runs]
    whole = [r["energy_j"] / 1000 for r in runs]
    train = [sum(p["energy_j"] for p in ph) / 1000 for _, ph in per_run]
    train_w = [sum(p["energy_j"] for p in ph) / sum(p["duration_s"] for p in ph) for _, ph in per_run]
    peak = [max(p["peak_w"] for p in ph) for _, ph in per_run]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    x = range(len(labels))
    ax[0].bar([i - 0.2 for i in x], whole, width=0.4, color="#aec7e8",
              label="whole run (start-up, warm-up included)")
    ax[0].bar([i + 0.2 for i in x], train, width=0.4, color="#1f77b4", label="training phase only")
    for i, e in enumerate(train):
        ax[0].text(i + 0.2, e, f"{e / train[0]:.2f}x", ha="center", va="bottom", fontsize=8)
    ax[0].set_xticks(list(x), labels)
    ax[0].set_xlabel("global batch (images)")
    ax[0].set_ylabel("GPU energy (kJ), same images")
    ax[0].set_title("ResNet-152 on 2x H200: energy")
    ax[0].legend(fontsize=7)
    ax[1].bar(labels, train_w, color="#e67e22", label="mean, training phase")
    ax[1].plot(labels, peak, "ko-", label="peak (20 ms), training phase")
    ax[1].axhline(1400, ls="--", lw=0.8, color="gray")
    ax[1].text(0, 1400, " 2 x 700 W limit", fontsize=8, va="bottom", color="gray")
    ax[1].set_ylim(0, max(peak) * 1.15)
    ax[1].set_xlabel("global batch (images)")
    ax[1].set_ylabel("all GPUs (W)")
    ax[1].set_title("ResNet-152 on 2x H200: power")
    ax[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(res, "resnet-sweep.png"), dpi=110)
    plt.close(fig)
    for r, e, w, pk in zip(runs, train, train_w, peak):
        notes.append(f"resnet gb={r['value']}: whole run {r['duration_s']:.1f} s {r['energy_j']:.0f} J; "
                     f"training phase {e * 1000:.0f} J, mean {w:.0f} W, peak {pk:.0f} W, "
                     f"x{e / train[0]:.3f} of the first")


def main():
    res = sys.argv[1] if len(sys.argv) > 1 else "."
    notes = []
    for name in ("burn60", "resnet", "llama"):
        try:
            trace_notes(res, name, notes)
        except Exception as e:  # keep going: one broken recording must not cost the others
            notes.append(f"{name}: failed: {e!r}")
    try:
        sweep_plot(res, notes)
    except Exception as e:
        notes.append(f"sweep plot failed: {e!r}")
    with open(os.path.join(res, "plots.txt"), "w") as f:
        f.write("\n".join(notes) + "\n")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
