#!/usr/bin/env python3
"""A 10 Hz pynvml power poller: the loop Python energy tools typically run.

Every 100 ms, for every GPU: nvmlDeviceGetPowerUsage (the 1 s average on Hopper) and
nvmlDeviceGetFieldValues([186]) (NVML_FI_DEV_POWER_INSTANT). Runs for --seconds or until
SIGINT/SIGTERM, then prints how many reads it made and how many failed to stderr. It keeps
nothing but a running count: its CPU time and RSS are the cost of the polling itself.

    pynvml_loop.py [--seconds S] [--hz HZ]
"""
import argparse
import signal
import sys
import time

FIELD_POWER_INSTANT = 186

_stop = False


def _on_signal(_signum, _frame):
    global _stop
    _stop = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=None, help="default: until SIGINT")
    ap.add_argument("--hz", type=float, default=10.0)
    a = ap.parse_args()
    if a.hz <= 0:
        ap.error("--hz must be > 0")
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        import pynvml  # noqa: PLC0415 (reported below when missing)
    except ImportError as e:
        print(f"pynvml_loop: pynvml is not importable ({e}); install nvidia-ml-py",
              file=sys.stderr)
        return 3
    try:
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                   for i in range(pynvml.nvmlDeviceGetCount())]
    except pynvml.NVMLError as e:
        print(f"pynvml_loop: NVML init failed: {e}", file=sys.stderr)
        return 3

    period = 1.0 / a.hz
    t0 = time.monotonic()
    end = t0 + a.seconds if a.seconds is not None else float("inf")
    nxt = t0
    rounds = reads = errors = 0
    last_mw = [None] * len(handles)
    while not _stop and time.monotonic() < end:
        for i, h in enumerate(handles):
            try:
                avg_mw = pynvml.nvmlDeviceGetPowerUsage(h)
                v = pynvml.nvmlDeviceGetFieldValues(h, [FIELD_POWER_INSTANT])[0]
                reads += 2
                if v.nvmlReturn != 0:
                    errors += 1
                last_mw[i] = (avg_mw, v.value.uiVal if v.nvmlReturn == 0 else None)
            except pynvml.NVMLError:
                errors += 1
        rounds += 1
        nxt += period
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, max(0.0, end - time.monotonic())))
        else:
            nxt = time.monotonic()  # fell behind: do not burst to catch up
    el = time.monotonic() - t0
    print(f"pynvml_loop: {len(handles)} GPU(s), {rounds} rounds in {el:.1f} s "
          f"({rounds / el if el > 0 else 0:.1f} Hz), {reads} reads, {errors} errors; "
          f"last (avg mW, instant mW): {last_mw}", file=sys.stderr)
    try:
        pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
