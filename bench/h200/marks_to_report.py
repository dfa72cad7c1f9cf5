#!/usr/bin/env python3
"""Writes the earlier 2x H200 recording the tests replay (tests/fixtures/h200/marks-2gpu.jsonl)
as `wattprof report --json`-shaped phases, so `wattprof model fit` can use it beside the
reports in docs/results/h200/.

    python3 bench/h200/marks_to_report.py tests/fixtures/h200/marks-2gpu.jsonl > OUT.json

That recording has no wattprof trace (it came before the recorder): each line is a phase with
wall-clock t0/t1 and the hardware energy counter read per GPU at those instants, which is
what its phase energy is here (the 20 ms buffer matched it within -0.22..+0.17 %,
docs/validation.md). Work counts: ResNet phases carry images= (written as samples=); the
llama_1b phase carries tflops_per_gpu (the workload's model-FLOP formula, bench/workloads/
llama.py), written as flops = tflops_per_gpu x 1e12 x seconds x GPUs. The idle phase has
none. Standard library only."""
import json
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    phases = []
    ngpus = 0
    for line in open(sys.argv[1]):
        if not line.strip():
            continue
        p = json.loads(line)
        ngpus = max(ngpus, len(p["counter_j"]))
        counts = {}
        if "images" in p:
            counts["samples"] = p["images"]
        if "tflops_per_gpu" in p:
            counts["flops"] = p["tflops_per_gpu"] * 1e12 * p["s"] * len(p["counter_j"])
        phases.append({
            "name": p["phase"],
            "t0_us": round(p["t0"] * 1e6),
            "t1_us": round(p["t1"] * 1e6),
            "duration_s": p["s"],
            "energy_j": sum(p["counter_j"]),
            "mean_w": sum(p["counter_j"]) / p["s"],
            "peak_w": None,
            "counts": counts,
        })
    gpus = [{"index": i, "name": "NVIDIA H200", "limit_w": 700} for i in range(ngpus)]
    json.dump({"command": "tests/fixtures/h200/marks-2gpu.jsonl (converted)", "gpus": gpus,
               "phases": phases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
