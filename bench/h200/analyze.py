#!/usr/bin/env python3
"""Turns the H200 validation kit's outputs into summary.md (standard library only).

For every run NAME in --runs it reads, where present:
  DIR/NAME.csv          `wattprof export TRACE --csv`; columns
                        sensor_id,source,device,name,unit,t_us,value (ASSUMED: the header
                        names columns; without a header that order is assumed)
  DIR/probe-NAME.json   counter_probe.py: {"0": {"t0_us","e0_mj","t1_us","e1_mj",...}, ...}
  DIR/NAME.out          the job's stdout; a wattprof-burn JSON line is picked out of it
  JSONDIR/NAME.json or DIR/NAME.json   wattprof's own --json summary (shown as found)
and writes per run and GPU: sample count, median interval of the finest power series,
share of intervals > 40 ms, energy integrated from the trace over the probe's window against
the probe's counter delta, and the same for the 1 s average series. For the --onoff run it
adds the ON and OFF power levels (20th/80th percentiles and a two-level clustering) of the
20 ms series, the 100 ms instant series and the 1 s average, and the 20 ms series folded
over the on/off period. --cost adds the cost table, --steps the step log of validate.sh.

Series are found by name: "power" is the finest (the 20 ms driver buffer), "power_avg" the
1 s average, "power_instant" the 100 ms instant reading (src/core/sensor.h). If names differ,
the power series with the shortest median interval counts as the finest, and one whose name
says avg/average as the 1 s average.
"""
import argparse
import csv
import json
import math
import os
import sys
from collections import defaultdict

GAP_MS = 40.0


# ---------------------------------------------------------------------------------------
# Reading


def to_watts(unit, values):
    u = (unit or "").strip()
    if u == "mW":
        return [v / 1e3 for v in values], "mW"
    if u == "uW" or u == "µW":
        return [v / 1e6 for v in values], u
    if u == "W":
        return list(values), "W"
    # Unknown unit: NVML reports mW; an H200 never draws 5 kW.
    med = sorted(values)[len(values) // 2] if values else 0
    return ([v / 1e3 for v in values], "mW (guessed)") if med > 5000 else (list(values), "W (guessed)")


def read_csv(path):
    """{(source, device, name): {"unit": u, "t": [...us], "v": [...]}} sorted by time."""
    series = defaultdict(lambda: {"unit": "", "t": [], "v": []})
    cols = ["sensor_id", "source", "device", "name", "unit", "t_us", "value"]
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rd = csv.reader(f)
        first = True
        idx = {c: i for i, c in enumerate(cols)}
        for row in rd:
            if not row or row[0].startswith("#"):
                continue
            if first:
                first = False
                low = [c.strip().lower() for c in row]
                if "t_us" in low or "value" in low:
                    idx = {c: low.index(c) for c in cols if c in low}
                    continue
            try:
                t = float(row[idx["t_us"]])
                v = float(row[idx["value"]])
            except (KeyError, IndexError, ValueError):
                continue
            if math.isnan(v):
                continue

            def col(c, r=row):
                i = idx.get(c)
                return r[i].strip() if i is not None and i < len(r) else ""

            key = (col("source"), col("device"), col("name"))
            s = series[key]
            s["unit"] = col("unit")
            s["t"].append(t)
            s["v"].append(v)
    for s in series.values():
        if any(s["t"][i] > s["t"][i + 1] for i in range(len(s["t"]) - 1)):
            pairs = sorted(zip(s["t"], s["v"]))
            s["t"] = [p[0] for p in pairs]
            s["v"] = [p[1] for p in pairs]
    return dict(series)


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def burn_line(path):
    """The last wattprof-burn JSON line in a job's stdout, or None."""
    found = None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{") and '"wattprof-burn"' in line:
                    try:
                        found = json.loads(line)
                    except ValueError:
                        pass
    except OSError:
        return None
    return found


# ---------------------------------------------------------------------------------------
# Numbers


def median(xs):
    if not xs:
        return float("nan")
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = (len(s) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def intervals_ms(t_us):
    return [(t_us[i + 1] - t_us[i]) / 1e3 for i in range(len(t_us) - 1)]


def interp(t, v, x):
    """Linear interpolation of (t, v) at x (t sorted, x inside)."""
    lo, hi = 0, len(t) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if t[mid] <= x:
            lo = mid
        else:
            hi = mid
    if t[hi] == t[lo]:
        return v[lo]
    return v[lo] + (v[hi] - v[lo]) * (x - t[lo]) / (t[hi] - t[lo])


def integrate_j(t_us, w, a_us, b_us):
    """Trapezoid integral of power w (W) over [a, b] (us), clipped to the series.
    Returns (joules, uncovered_us, longest_gap_ms_inside)."""
    if len(t_us) < 2 or b_us <= a_us:
        return float("nan"), b_us - a_us, float("nan")
    lo, hi = max(a_us, t_us[0]), min(b_us, t_us[-1])
    uncovered = (lo - a_us) + (b_us - hi)
    if hi <= lo:
        return float("nan"), b_us - a_us, float("nan")
    pts = [(lo, interp(t_us, w, lo))]
    pts += [(t, v) for t, v in zip(t_us, w) if lo < t < hi]
    pts.append((hi, interp(t_us, w, hi)))
    e = 0.0
    gap = 0.0
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        e += (v0 + v1) / 2 * (t1 - t0) / 1e6
        gap = max(gap, (t1 - t0) / 1e3)
    return e, uncovered, gap


def two_levels(xs, iters=50):
    """1-D k-means with k = 2: (low, high, share of samples in the high cluster)."""
    if len(xs) < 2:
        return float("nan"), float("nan"), float("nan")
    lo, hi = percentile(xs, 10), percentile(xs, 90)
    if hi <= lo:
        return lo, hi, float("nan")
    for _ in range(iters):
        cut = (lo + hi) / 2
        a = [x for x in xs if x < cut]
        b = [x for x in xs if x >= cut]
        if not a or not b:
            break
        nlo, nhi = sum(a) / len(a), sum(b) / len(b)
        if nlo == lo and nhi == hi:
            break
        lo, hi = nlo, nhi
    cut = (lo + hi) / 2
    return lo, hi, sum(1 for x in xs if x >= cut) / len(xs)


def fmt(x, spec=".1f", missing="n/a"):
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return missing
    return format(x, spec)


# ---------------------------------------------------------------------------------------
# Picking series


def gpu_series(series):
    """{gpu: {"finest": (t, w, name, unit), "avg": ..., "instant": ...}} for NVML power."""
    by_dev = defaultdict(dict)
    power = {k: s for k, s in series.items()
             if "power" in k[2].lower() or s["unit"] in ("mW", "W", "uW")}
    nvml = {k: s for k, s in power.items() if k[0].lower() == "nvml"}
    use = nvml or power
    for (src, dev, name), s in use.items():
        if "mem" in name.lower() or "limit" in name.lower():
            continue
        by_dev[dev][name] = s
    out = {}
    for dev, named in by_dev.items():
        pick = {}
        if "power" in named:
            pick["finest"] = "power"
        else:
            cands = [(median(intervals_ms(s["t"])), n) for n, s in named.items()
                     if len(s["t"]) > 2]
            if cands:
                pick["finest"] = min(cands)[1]
        for role, exact, word in (("avg", "power_avg", ("avg", "average")),
                                  ("instant", "power_instant", ("instant",))):
            if exact in named:
                pick[role] = exact
                continue
            for n in sorted(named):
                if n != pick.get("finest") and any(x in n.lower() for x in word):
                    pick[role] = n
                    break
        res = {}
        for role, n in pick.items():
            s = named[n]
            w, unit = to_watts(s["unit"], s["v"])
            res[role] = (s["t"], w, n, unit)
        out[dev] = res
    return out


def dev_key(dev):
    try:
        return str(int(float(dev)))
    except ValueError:
        return dev


# ---------------------------------------------------------------------------------------
# Sections


def section_run(name, d, jsondir, lines, notes, heads):
    csv_path = os.path.join(d, f"{name}.csv")
    probe = load_json(os.path.join(d, f"probe-{name}.json"))
    wpjson = load_json(os.path.join(jsondir, f"{name}.json")) if jsondir else None
    if wpjson is None:
        wpjson = load_json(os.path.join(d, f"{name}.json"))
    burn = burn_line(os.path.join(d, f"{name}.out"))
    lines.append(f"\n## Run `{name}`\n")
    have_any = False
    series = {}
    if os.path.exists(csv_path):
        try:
            series = read_csv(csv_path)
        except (OSError, csv.Error) as e:
            lines.append(f"- could not read {csv_path}: {e}")
    else:
        lines.append(f"- no exported trace ({os.path.basename(csv_path)} missing)")
    gs = gpu_series(series)
    if series and not gs:
        lines.append("- the exported trace has no power series; sensors seen: " +
                     ", ".join(sorted({f'{k[0]}/{k[1]}/{k[2]}' for k in series})[:20]))

    keys = sorted(set(gs) | {dev_key(k) for k in (probe or {})}, key=lambda k: (len(k), k))
    if keys:
        have_any = True
        lines.append("| GPU | finest series | samples | median interval ms | intervals > 40 ms "
                     "| longest ms | probe window s | counter J | trace J | trace vs counter "
                     "| 1 s avg J | avg vs counter |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        g = gs.get(k) or gs.get(str(k)) or {}
        p = (probe or {}).get(k)
        fin = g.get("finest")
        row = [k]
        if fin:
            t, w, sname, unit = fin
            iv = intervals_ms(t)
            share = 100.0 * sum(1 for x in iv if x > GAP_MS) / len(iv) if iv else float("nan")
            row += [f"{sname} ({unit})", str(len(t)), fmt(median(iv), ".2f"),
                    f"{fmt(share, '.2f')} %", fmt(max(iv) if iv else float('nan'), ".0f")]
            head = (f"{name} GPU {k}: {sname} every {fmt(median(iv), '.1f')} ms (median), "
                    f"{fmt(share, '.2f')} % of intervals > 40 ms")
        else:
            row += ["none", "0", "n/a", "n/a", "n/a"]
            head = f"{name} GPU {k}: no power series in the trace"
        if p and p.get("t1_us") is not None and p.get("e1_mj") is not None:
            a, b = p["t0_us"], p["t1_us"]
            cj = (p["e1_mj"] - p["e0_mj"]) / 1e3
            row += [fmt((b - a) / 1e6, ".2f"), fmt(cj, ".1f")]
            for role in ("finest", "avg"):
                s = g.get(role)
                if not s:
                    row += ["n/a", "n/a"]
                    continue
                e, unc, _gap = integrate_j(s[0], s[1], a, b)
                # A series read every 100 ms may miss up to that much at each edge.
                allowed_us = max(50_000.0, 2.5 * median(intervals_ms(s[0])) * 1e3)
                if unc > allowed_us:
                    # The probe ran around the recording (the idle run): energies cover
                    # different windows, mean powers can still be compared.
                    cov = (min(b, s[0][-1]) - max(a, s[0][0])) / 1e6
                    cw = cj / ((b - a) / 1e6)
                    if cov > 1 and cw:
                        tw = e / cov
                        row += [fmt(e, ".1f"), f"mean {tw:.1f} W vs {cw:.1f} W "
                                f"({(tw - cw) / cw * 100:+.2f} %; windows differ by "
                                f"{unc / 1e6:.1f} s)"]
                    else:
                        row += [fmt(e, ".1f"), f"window not covered ({unc / 1e3:.0f} ms "
                                "missing)"]
                else:
                    pct = (e - cj) / cj * 100 if cj else float("nan")
                    row += [fmt(e, ".1f"), f"{fmt(pct, '+.2f')} %"]
                    head += (f"; {s[2]} vs counter {fmt(pct, '+.2f')} %")
            unc_ms = (p.get("t0_unc_us", 0) + p.get("t1_unc_us", 0)) / 1e3
            if not (p.get("edge0") and p.get("edge1")):
                notes.append(f"{name} GPU {k}: the counter read was not aligned to a step "
                             f"(edge0={p.get('edge0')}, edge1={p.get('edge1')}): up to 100 ms "
                             "of counter staleness at each end.")
            elif fin:
                notes.append(f"{name} GPU {k}: counter step timing uncertainty "
                             f"{unc_ms:.1f} ms in total ("
                             f"{unc_ms / 1e3 * (cj / max((b - a) / 1e6, 1e-9)):.1f} J at the mean "
                             "power).")
        else:
            row += ["n/a", "no probe", "n/a", "n/a", "n/a", "n/a"]
        lines.append("| " + " | ".join(row) + " |")
        heads.append(head)
    if wpjson is not None:
        have_any = True
        lines.append("\nwattprof's own summary (`--json`):\n")
        lines.append(wp_summary_text(wpjson))
    if burn is not None:
        have_any = True
        lines.append("\n" + burn_text(burn))
        gl = burn.get("gpus") or []
        heads.append(f"{name}: wattprof-burn exit {burn.get('exit')}, " + (", ".join(
            f"GPU {g.get('gpu')} {g.get('status')} {fmt(g.get('tflops'), '.0f')} TFLOP/s "
            f"{g.get('errors')} errors" for g in gl) or burn.get("error") or "no GPU"))
    if not have_any:
        lines.append("- nothing to analyse for this run")
    return gs, burn


def wp_summary_text(j):
    gpus = j.get("gpus") if isinstance(j, dict) else None
    if not isinstance(gpus, list):
        txt = json.dumps(j)[:600]
        return f"```\n{txt}\n```"
    want = ["index", "energy_j", "counter_energy_j", "counter_diff_pct", "mean_w", "peak_w",
            "peak_1s_w", "median_interval_ms", "gaps", "samples", "power_sensor"]
    cols = [c for c in want if any(isinstance(g, dict) and c in g for g in gpus)]
    if not cols:
        return f"```\n{json.dumps(j)[:600]}\n```"
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for g in gpus:
        vals = []
        for c in cols:
            v = g.get(c) if isinstance(g, dict) else None
            vals.append(fmt(v, ".2f") if isinstance(v, float) else ("null" if v is None else str(v)))
        out.append("| " + " | ".join(vals) + " |")
    extra = {k: j[k] for k in ("duration_s", "exit_code", "command", "replay") if k in j}
    if extra:
        out.append("\n" + ", ".join(f"{k}: {v}" for k, v in extra.items()))
    return "\n".join(out)


def burn_text(b):
    out = [f"wattprof-burn: dtype {b.get('dtype')}, N={b.get('size')}, pattern "
           f"{b.get('pattern', '?')}, exit {b.get('exit')}" +
           (f", error: {b['error']}" if b.get("error") else "")]
    gpus = b.get("gpus") or []
    if gpus:
        out.append("\n| GPU | name | status | iterations | TFLOP/s | checks | errors | "
                   "bit-diff elems | ref fails first/last | ON ms mean (max) | note |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for g in gpus:
            on = (f"{fmt(g.get('on_ms_mean'))} ({fmt(g.get('on_ms_max'))})"
                  if g.get("on_periods") else "")
            note = "; ".join(x for x in (g.get("error"), g.get("note")) if x)
            out.append(f"| {g.get('gpu')} | {g.get('name')} | {g.get('status')} | "
                       f"{g.get('iterations')} | {fmt(g.get('tflops'))} | {g.get('checks')} | "
                       f"{g.get('errors')} | {g.get('bitdiff_elems')} | "
                       f"{g.get('ref_fail_first')}/{g.get('ref_fail_last')} | {on} | {note} |")
    return "\n".join(out)


def section_onoff(name, gs, burn, probe, on_ms, off_ms, lines, heads):
    lines.append(f"\n## On/off levels (`{name}`)\n")
    if not gs:
        lines.append("- no trace to analyse")
        return
    if burn and burn.get("pattern", "").startswith("onoff:"):
        try:
            _, a, b = burn["pattern"].split(":")
            on_ms, off_ms = int(a), int(b)
        except ValueError:
            pass
    t_a = t_b = None
    if burn and burn.get("t_begin_us") and burn.get("t_end_us"):
        t_a, t_b = burn["t_begin_us"], burn["t_end_us"]
        src = "the burn's begin/end times"
    elif probe:
        vals = [p for p in probe.values() if p.get("t1_us")]
        if vals:
            t_a, t_b = max(p["t0_us"] for p in vals), min(p["t1_us"] for p in vals)
            src = "the probe window (no burn times found)"
    if t_a is None:
        lines.append("- no window: neither the burn's JSON line nor a probe file was found")
        return
    # Trim: the first period starts cold and the last may be cut short.
    a, b = t_a + 500_000, t_b - 500_000
    lines.append(f"Window: {src}, trimmed by 0.5 s at each end ({(b - a) / 1e6:.1f} s). "
                 f"Pattern {on_ms} ms on / {off_ms} ms off. Levels: 20th/80th percentile and a "
                 "two-level clustering (k-means, k = 2) of the samples in the window.\n")
    lines.append("| GPU | series | samples | p20 W | p80 W | p80 - p20 | low W | high W "
                 "| high share | min W | max W |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    folded = []
    for k in sorted(gs, key=lambda x: (len(x), x)):
        for role in ("finest", "instant", "avg"):
            s = gs[k].get(role)
            if not s:
                continue
            t, w = s[0], s[1]
            xs = [v for tt, v in zip(t, w) if a <= tt <= b]
            if not xs:
                continue
            p20, p80 = percentile(xs, 20), percentile(xs, 80)
            lo, hi, share = two_levels(xs)
            heads.append(f"{name} GPU {k}: {s[2]} levels {fmt(lo, '.0f')} / {fmt(hi, '.0f')} W "
                         f"(p80 - p20 = {fmt(p80 - p20, '.0f')} W)")
            lines.append(f"| {k} | {s[2]} | {len(xs)} | {fmt(p20)} | {fmt(p80)} | "
                         f"{fmt(p80 - p20)} | {fmt(lo)} | {fmt(hi)} | {fmt(share, '.2f')} | "
                         f"{fmt(min(xs))} | {fmt(max(xs))} |")
            if role == "finest" and on_ms and off_ms:
                period = (on_ms + off_ms) * 1000.0
                nb = max(1, int(round((on_ms + off_ms) / 20.0)))
                bins = [[] for _ in range(nb)]
                for tt, v in zip(t, w):
                    if a <= tt <= b:
                        ph = ((tt - t_a) % period) / period
                        bins[min(nb - 1, int(ph * nb))].append(v)
                prof = " ".join(fmt(sum(x) / len(x), ".0f") if x else "-" for x in bins)
                folded.append(f"- GPU {k}, {s[2]} folded over the {on_ms + off_ms} ms period "
                              f"({nb} bins of {(on_ms + off_ms) / nb:.0f} ms from the start of "
                              f"ON): {prof}")
    if folded:
        lines.append("\nThe 20 ms series folded over the period (mean W per phase bin; a "
                     "resolved square wave shows ON bins high and OFF bins low):\n")
        lines.extend(folded)


def section_cost(path, lines, heads):
    lines.append("\n## Cost of pollers on idle GPUs\n")
    try:
        with open(path, encoding="utf-8") as f:
            rows = [r for r in csv.reader(f, delimiter="\t") if r]
    except OSError:
        lines.append(f"- {path} missing")
        return
    if not rows:
        lines.append("- empty")
        return
    head = rows[0] if rows[0] and rows[0][0] == "name" else None
    body = rows[1:] if head else rows
    floor = None
    for r in body:
        if len(r) > 4 and r[0] == "nvml-minimal-idle":
            try:
                floor = float(r[4])
            except ValueError:
                pass
    lines.append("| tool | seconds | CPU ms | % of one core | peak RSS MB | RSS above NVML floor "
                 "MB | rc | CPU ms at signal |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in body:
        r = r + [""] * (8 - len(r))
        try:
            rss = float(r[4])
            rss_mb = fmt(rss / 1024, ".1f")
            above = fmt((rss - floor) / 1024, "+.1f") if floor is not None else "n/a"
        except ValueError:
            rss_mb, above = r[4], "n/a"
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {rss_mb} | {above} | {r[5]} | "
                     f"{r[6]} |")
        heads.append(f"cost {r[0]}: {r[3]} % of a core, peak RSS {rss_mb} MB ({above} above "
                     "NVML alone)")
    if floor is not None:
        lines.append(f"\nNVML floor: nvml-minimal-idle's peak RSS, {floor / 1024:.1f} MB "
                     "(NVML initialised, nothing polled).")


def section_steps(path, lines):
    try:
        with open(path, encoding="utf-8") as f:
            rows = [r for r in csv.reader(f, delimiter="\t") if r]
    except OSError:
        return
    lines.append("\n## Steps\n")
    lines.append("| step | status | rc | seconds | note |")
    lines.append("|---|---|---|---|---|")
    for r in rows:
        r = r + [""] * (5 - len(r))
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Summarise the H200 validation kit's outputs.")
    ap.add_argument("--dir", required=True, help="folder with NAME.csv, probe-NAME.json, NAME.out")
    ap.add_argument("--json-dir", help="folder with wattprof's NAME.json (default: --dir)")
    ap.add_argument("--runs", default="burn,onoff,idle,train")
    ap.add_argument("--onoff", default="onoff", help="run with the on/off pattern")
    ap.add_argument("--on-ms", type=int, default=100)
    ap.add_argument("--off-ms", type=int, default=100)
    ap.add_argument("--cost", help="cost.tsv from measure_cost.sh")
    ap.add_argument("--steps", help="steps.tsv from validate.sh")
    ap.add_argument("--env", help="env.txt, first lines quoted")
    ap.add_argument("-o", "--out", help="summary.md (default: stdout)")
    a = ap.parse_args(argv)

    lines = ["# wattprof H200 validation summary", ""]
    if a.env and os.path.exists(a.env):
        with open(a.env, encoding="utf-8", errors="replace") as f:
            head = [ln.rstrip() for ln in f.readlines()[:12]]
        lines += ["```"] + head + ["```"]
    notes = []
    heads = []
    body = []
    results = {}
    for name in [r for r in a.runs.split(",") if r]:
        try:
            results[name] = section_run(name, a.dir, a.json_dir, body, notes, heads)
        except Exception as e:  # noqa: BLE001 (one bad input must not lose the others)
            body.append(f"- analysis of {name} failed: {e!r}")
    if a.onoff in results:
        gs, burn = results[a.onoff]
        try:
            section_onoff(a.onoff, gs, burn,
                          load_json(os.path.join(a.dir, f"probe-{a.onoff}.json")),
                          a.on_ms, a.off_ms, body, heads)
        except Exception as e:  # noqa: BLE001
            body.append(f"- on/off analysis failed: {e!r}")
    if a.cost:
        section_cost(a.cost, body, heads)
    lines.append("\n## Headlines\n")
    lines += [f"- {h}" for h in heads] or ["- nothing measured"]
    lines += body
    if notes:
        lines.append("\n## Notes\n")
        lines += [f"- {n}" for n in notes]
    lines.append("\nTrace vs counter: trapezoid integral of the series over the probe's "
                 "[t0_us, t1_us] (counter reads aligned to the counter's 100 ms steps), "
                 "against e1_mj - e0_mj read by a separate process.")
    if a.steps:
        section_steps(a.steps, lines)
    text = "\n".join(lines) + "\n"
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
