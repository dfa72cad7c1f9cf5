#!/usr/bin/env python3
"""Are the 40 ms holes in a 20 ms power trace the driver's, or the recorder's?

    python3 bench/h200/buffer_gaps.py --out FILE.json [--every 0.3] -- COMMAND ...

Runs COMMAND and, while it runs, reads each GPU's whole power sample buffer (pynvml
nvmlDeviceGetSamples with lastSeen = 0) every --every seconds. A hole between two samples
that both sit in one answer of the driver is in the driver's own buffer: no recorder could
have read that sample. Writes per GPU: answers read, intervals seen inside answers, how many
were longer than 40 ms, the longest; then exits with COMMAND's status."""
import argparse
import json
import subprocess
import sys
import time

import pynvml


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--every", type=float, default=0.3)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        sys.exit("buffer_gaps.py: no command given")
    pynvml.nvmlInit()
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    seen = [dict() for _ in handles]  # timestamp -> interval to the previous one in an answer
    answers = [0 for _ in handles]
    errors = [None for _ in handles]
    proc = subprocess.Popen(cmd)
    while proc.poll() is None:
        for i, h in enumerate(handles):
            try:
                _, samples = pynvml.nvmlDeviceGetSamples(h, pynvml.NVML_TOTAL_POWER_SAMPLES, 0)
            except Exception as e:  # keep the job running whatever pynvml does
                errors[i] = repr(e)
                continue
            answers[i] += 1
            ts = [s.timeStamp for s in samples]
            for prev, cur in zip(ts, ts[1:]):
                seen[i][cur] = cur - prev
        time.sleep(a.every)
    out = {}
    for i, d in enumerate(seen):
        gaps = [v for v in d.values() if v > 40000]
        out[i] = {"answers": answers[i], "intervals": len(d), "over_40ms": len(gaps),
                  "over_40ms_pct": 100.0 * len(gaps) / len(d) if d else None,
                  "longest_ms": max(d.values()) / 1000 if d else None, "error": errors[i]}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))
    pynvml.nvmlShutdown()
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
