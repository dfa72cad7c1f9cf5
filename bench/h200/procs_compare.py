#!/usr/bin/env python3
"""Compares two recordings of the same GPU load, A and B ("1s" and "default" unless given):
rounds, coverage and each process's energy share. Arguments: OUT (procs_A.json,
procs_B.json: `wattprof record/report --json`), D (procs_A.csv, procs_B.csv: `wattprof export
--csv -s proc_util`; big.pid, small.pid, blip.pid), the load's start in wall-clock
microseconds, and optionally the labels A and B. Used by procs_check.sh and
procs_reanalyse.sh. The last line says the largest share difference in points."""
import csv, json, os, sys
out, d, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3])
A, B = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else ("1s", "default")
names = {}
for n in ("big", "small", "blip"):
    try:
        names[int(open(os.path.join(d, n + ".pid")).read())] = n
    except (OSError, ValueError):
        pass
res = {}
for v in (A, B):
    j = json.load(open(os.path.join(out, f"procs_{v}.json")))
    rows = list(csv.DictReader(open(os.path.join(d, f"procs_{v}.csv"))))
    ts = sorted({int(r["t_us"]) for r in rows})
    g = j["processes"]["gpus"][0] if "processes" in j else None
    res[v] = (j, rows, ts, g)
print(f"# Two recorders of the same load: {A} against {B}\n")
print(f"our pids: {names}\n")
print("| recorder | proc_util samples | rounds | first round s | last round s | GPU J | idle J | unattributed J |")
print("|---|---|---|---|---|---|---|---|")
for v, (j, rows, ts, g) in res.items():
    if not g:
        print(f"| {v} | {len(rows)} | {len(ts)} | | | | | |")
        continue
    print(f"| {v} | {len(rows)} | {len(ts)} | {(ts[0] - t0) / 1e6:.1f} | {(ts[-1] - t0) / 1e6:.1f} | "
          f"{g['energy_j']:.1f} | {g['idle_j']:.1f} | {g['unattributed_j']:.1f} |")
print(f"\n| load | pid | share % ({A}) | share % ({B}) | difference, points | energy J ({A}) | energy J ({B}) | mean SM % ({A}) | mean SM % ({B}) | rounds ({A}) | rounds ({B}) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
procs = {}
for v, (j, rows, ts, g) in res.items():
    for p in (g or {}).get("processes", []):
        procs.setdefault(p["pid"], {})[v] = p
worst = 0.0
for pid, pv in sorted(procs.items(), key=lambda x: -max(p["energy_j"] for p in x[1].values())):
    a, b = pv.get(A), pv.get(B)
    f = lambda p, k, fmt: format(p[k], fmt) if p else "-"
    diff = (b["share_pct"] - a["share_pct"]) if a and b else float("nan")
    if a and b:
        worst = max(worst, abs(diff))
    print(f"| {names.get(pid, 'other')} | {pid} | {f(a, 'share_pct', '.1f')} | {f(b, 'share_pct', '.1f')} | "
          f"{diff:+.1f} | {f(a, 'energy_j', '.1f')} | {f(b, 'energy_j', '.1f')} | "
          f"{f(a, 'mean_sm_pct', '.1f')} | {f(b, 'mean_sm_pct', '.1f')} | {f(a, 'rounds', 'd')} | {f(b, 'rounds', 'd')} |")
seen = {v: {names.get(int(r["value"]) // 1000) for r in rows} for v, (j, rows, ts, g) in res.items()}
print(f"\nlargest share difference: {worst:.1f} points; loads seen: "
      + "; ".join(f"{v}: {sorted(x for x in s if x)}" for v, s in seen.items()))
