#!/usr/bin/env python3
"""Compares the two saturating forms tried for `wattprof model fit` on the phases of a model
file: P = a + b x/(x+h) and P = a + b (1 - exp(-x/h)), same grid search and least squares as
src/plan/model.c, and prints each one's squared error over all phases and its held-out
(one phase left out) MAPE of phase energy.

    python3 bench/h200/model_forms.py docs/results/h200/plan/h200.model.json

Standard library only."""
import json
import math
import sys


def basis(form, x, h):
    return x / (x + h) if form == "hyperbola" else 1 - math.exp(-x / h)


def fit(pts, form):
    best = None
    for g in range(801):
        h = 10 ** (4 * g / 800)
        u = [basis(form, x, h) for x, _ in pts]
        y = [w for _, w in pts]
        n = len(pts)
        su, suu, sy = sum(u), sum(a * a for a in u), sum(y)
        suy = sum(a * b for a, b in zip(u, y))
        det = n * suu - su * su
        if abs(det) < 1e-12:
            continue
        b = (n * suy - su * sy) / det
        a = (sy - b * su) / n
        sse = sum((a + b * uu - yy) ** 2 for uu, yy in zip(u, y))
        if best is None or sse < best[0]:
            best = (sse, a, b, h)
    return best


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    m = json.load(open(sys.argv[1]))
    ph = [(0.0 if p["idle"] else p["tflops_per_gpu"], p["energy_j"] / p["duration_s"] / p["gpus"],
           p["idle"]) for p in m["phases"]]
    for form in ("hyperbola", "exponential"):
        sse, a, b, h = fit([(x, w) for x, w, _ in ph], form)
        errs = []
        for i, (x, w, idle) in enumerate(ph):
            if idle:
                continue
            _, a2, b2, h2 = fit([(p[0], p[1]) for j, p in enumerate(ph) if j != i], form)
            errs.append(abs(a2 + b2 * basis(form, x, h2) - w) / w)
        print(f"{form:12s} squared error {sse:9.0f} W^2 over {len(ph)} phases; held-out MAPE "
              f"{100 * sum(errs) / len(errs):.1f} % over {len(errs)} ({a:.1f} W + {b:.1f} W, h {h:.1f})")


if __name__ == "__main__":
    main()
