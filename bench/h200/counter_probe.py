#!/usr/bin/env python3
"""Independent energy-counter reader: the yardstick for wattprof's integrated energy.

Reads nvmlDeviceGetTotalEnergyConsumption (mJ) of every GPU, in its own process, at a start
and an end instant, with wall-clock timestamps (microseconds since the Unix epoch, the clock
NVML's 20 ms sample buffer uses), and writes

    {"0": {"t0_us": ..., "e0_mj": ..., "t1_us": ..., "e1_mj": ..., ...}, "1": {...}}

keyed by NVML GPU index (the order wattprof uses). The end comes, in this order of choice:

    counter_probe.py --out F -- CMD ARGS...   runs CMD between the two readings, forwards
                                              SIGINT/SIGTERM to it, exits with its status
    counter_probe.py --out F --stop-file P    ends when file P appears
    counter_probe.py --out F --seconds S      ends after S seconds
    (any mode)                                ends at SIGINT/SIGTERM

Run as the job of `wattprof run` (`wattprof run -- counter_probe.py --out F -- CMD`), the probe
window lies inside the recorded trace, so the trace can be integrated over exactly
[t0_us, t1_us] and compared with e1_mj - e0_mj.

Edge alignment: on H200 the counter steps every 100 ms (bench/h200/README.md, 2026-11-28), so a plain
read is up to 100 ms stale: up to 70 J at 700 W. Each reading therefore re-reads the counter
(~4 ms a call) until it steps, and timestamps the step at the midpoint between the last read
that saw the old value and the first that saw the new one (uncertainty about half a read,
saved as t0_unc_us / t1_unc_us). If no step shows within 0.35 s the plain read is kept and
edge0/edge1 say false. The first plain read is saved too (t0_plain_us, e0_plain_mj, ...).

Uses pynvml (nvidia-ml-py) when importable, else ctypes on libnvidia-ml.so.1 ($WATTPROF_NVML_LIB
overrides the library for the ctypes path). Standard library otherwise.
"""
import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

EDGE_WINDOW_S = 0.35

_stop = False


def _on_signal(signum, _frame):
    global _stop
    _stop = True


def now_us():
    return time.time_ns() // 1000


class PynvmlBackend:
    name = "pynvml"

    def __init__(self):
        import pynvml  # noqa: PLC0415 (optional dependency)

        self.m = pynvml
        pynvml.nvmlInit()
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i)
                        for i in range(pynvml.nvmlDeviceGetCount())]

    def count(self):
        return len(self.handles)

    def energy_mj(self, i):
        return int(self.m.nvmlDeviceGetTotalEnergyConsumption(self.handles[i]))

    def _text(self, v):
        return v.decode() if isinstance(v, bytes) else str(v)

    def uuid(self, i):
        return self._text(self.m.nvmlDeviceGetUUID(self.handles[i]))

    def gpu_name(self, i):
        return self._text(self.m.nvmlDeviceGetName(self.handles[i]))

    def close(self):
        self.m.nvmlShutdown()


class CtypesBackend:
    name = "ctypes"

    def __init__(self):
        lib = os.environ.get("WATTPROF_NVML_LIB") or "libnvidia-ml.so.1"
        self.lib = ctypes.CDLL(lib)
        self._check(self.lib.nvmlInit_v2(), "nvmlInit_v2")
        n = ctypes.c_uint(0)
        self._check(self.lib.nvmlDeviceGetCount_v2(ctypes.byref(n)), "nvmlDeviceGetCount_v2")
        self.handles = []
        for i in range(n.value):
            h = ctypes.c_void_p()
            self._check(self.lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(h)),
                        "nvmlDeviceGetHandleByIndex_v2")
            self.handles.append(h)

    @staticmethod
    def _check(rc, what):
        if rc != 0:
            raise RuntimeError(f"{what} failed with NVML error {rc}")

    def count(self):
        return len(self.handles)

    def energy_mj(self, i):
        v = ctypes.c_ulonglong(0)
        self._check(self.lib.nvmlDeviceGetTotalEnergyConsumption(self.handles[i],
                                                                  ctypes.byref(v)),
                    "nvmlDeviceGetTotalEnergyConsumption")
        return int(v.value)

    def _str(self, fn, i):
        buf = ctypes.create_string_buffer(96)
        if fn(self.handles[i], buf, ctypes.c_uint(96)) != 0:
            return ""
        return buf.value.decode(errors="replace")

    def uuid(self, i):
        return self._str(self.lib.nvmlDeviceGetUUID, i)

    def gpu_name(self, i):
        return self._str(self.lib.nvmlDeviceGetName, i)

    def close(self):
        self.lib.nvmlShutdown()


def open_backend(force_ctypes):
    errors = []
    if not force_ctypes:
        try:
            return PynvmlBackend(), errors
        except Exception as e:  # noqa: BLE001 (fall back on any pynvml trouble)
            errors.append(f"pynvml: {e!r}")
    try:
        return CtypesBackend(), errors
    except Exception as e:  # noqa: BLE001
        errors.append(f"ctypes: {e!r}")
    return None, errors


def timed_read(nv, i):
    tb = now_us()
    e = nv.energy_mj(i)
    ta = now_us()
    return tb, e, ta


def read_edge(nv, i, edge):
    """Returns a dict: plain read, and (if edge) the aligned step reading."""
    tb, e, ta = timed_read(nv, i)
    r = {"plain_us": (tb + ta) // 2, "plain_mj": e, "read_us": ta - tb}
    if not edge:
        r.update(t_us=r["plain_us"], e_mj=e, unc_us=(ta - tb) // 2 + 100000, edge=False)
        return r
    prev_mid, prev_e = (tb + ta) // 2, e
    deadline = time.monotonic() + EDGE_WINDOW_S
    reads = 1
    while time.monotonic() < deadline:
        tb, e, ta = timed_read(nv, i)
        reads += 1
        mid = (tb + ta) // 2
        if e != prev_e:
            r.update(t_us=(prev_mid + mid) // 2, e_mj=e, unc_us=(mid - prev_mid) // 2,
                     edge=True, reads=reads)
            return r
        prev_mid, prev_e = mid, e
    r.update(t_us=r["plain_us"], e_mj=r["plain_mj"], unc_us=100000, edge=False, reads=reads)
    return r


def read_all(nv, edge):
    return [read_edge(nv, i, edge) for i in range(nv.count())]


def write_json(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def build(nv, start, end, extra):
    out = {}
    for i, s in enumerate(start):
        g = {
            "uuid": extra["uuids"][i], "name": extra["names"][i], "backend": nv.name,
            "t0_us": s["t_us"], "e0_mj": s["e_mj"], "t0_unc_us": s["unc_us"],
            "edge0": s["edge"], "t0_plain_us": s["plain_us"], "e0_plain_mj": s["plain_mj"],
            "read_us": s["read_us"], "t1_us": None, "e1_mj": None,
        }
        if end is not None:
            x = end[i]
            g.update(t1_us=x["t_us"], e1_mj=x["e_mj"], t1_unc_us=x["unc_us"], edge1=x["edge"],
                     t1_plain_us=x["plain_us"], e1_plain_mj=x["plain_mj"])
            g["delta_mj"] = x["e_mj"] - s["e_mj"]
            dt = (x["t_us"] - s["t_us"]) / 1e6
            g["mean_w"] = g["delta_mj"] / 1e3 / dt if dt > 0 else None
        if extra.get("cmd") is not None:
            g["cmd"] = extra["cmd"]
            g["cmd_rc"] = extra.get("rc")
        out[str(i)] = g
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cmd = None
    if "--" in argv:
        k = argv.index("--")
        argv, cmd = argv[:k], argv[k + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--seconds", type=float, help="end after this many seconds")
    ap.add_argument("--stop-file", help="end when this file appears")
    ap.add_argument("--ready-file", help="written once the start readings are taken (or, "
                    "without NVML, just before CMD starts)")
    ap.add_argument("--no-edge", action="store_true", help="plain reads, no step alignment")
    ap.add_argument("--ctypes", action="store_true", help="skip pynvml, use ctypes")
    a = ap.parse_args(argv)
    if cmd is not None and not cmd:
        ap.error("nothing after --")

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    nv, errs = open_backend(a.ctypes)
    for e in errs:
        print(f"counter_probe: {e}", file=sys.stderr)
    child_rc = None
    if nv is None:
        print("counter_probe: no NVML: cannot read the energy counters", file=sys.stderr)
        if cmd:  # still run the job: the probe must never be the reason a workload did not run
            if a.ready_file:
                with open(a.ready_file, "w", encoding="utf-8") as f:
                    f.write("no-nvml\n")
            try:
                child_rc = subprocess.call(cmd)
            except OSError as e:
                print(f"counter_probe: cannot start {cmd[0]}: {e}", file=sys.stderr)
                return 127
            return 128 - child_rc if child_rc < 0 else child_rc
        return 3
    edge = not a.no_edge
    extra = {"uuids": [nv.uuid(i) for i in range(nv.count())],
             "names": [nv.gpu_name(i) for i in range(nv.count())],
             "cmd": cmd}
    start = read_all(nv, edge)
    write_json(a.out, build(nv, start, None, extra))
    if a.ready_file:
        with open(a.ready_file, "w", encoding="utf-8") as f:
            f.write(f"{now_us()}\n")
    print(f"counter_probe: start read on {nv.count()} GPU(s) via {nv.name}", file=sys.stderr)

    if cmd:
        try:
            child = subprocess.Popen(cmd)
        except OSError as e:
            print(f"counter_probe: cannot start {cmd[0]}: {e}", file=sys.stderr)
            child_rc = 127
            child = None
        forwarded = False
        while child is not None:
            try:
                child_rc = child.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                pass
            if _stop and not forwarded:
                child.send_signal(signal.SIGINT)
                forwarded = True
        if child_rc is not None and child_rc < 0:
            child_rc = 128 - child_rc
    else:
        t_end = time.monotonic() + a.seconds if a.seconds is not None else None
        while not _stop:
            if t_end is not None and time.monotonic() >= t_end:
                break
            if a.stop_file and os.path.exists(a.stop_file):
                break
            time.sleep(0.05)

    end = read_all(nv, edge)
    extra["rc"] = child_rc
    data = build(nv, start, end, extra)
    write_json(a.out, data)
    for k, g in data.items():
        print(f"counter_probe: GPU {k}: {g['delta_mj'] / 1e3:.1f} J over "
              f"{(g['t1_us'] - g['t0_us']) / 1e6:.2f} s (mean {g['mean_w'] or 0:.1f} W; "
              f"edges {g['edge0']}/{g['edge1']})", file=sys.stderr)
    try:
        nv.close()
    except Exception:  # noqa: BLE001 (shutdown trouble changes no result)
        pass
    return child_rc if child_rc is not None else 0


if __name__ == "__main__":
    sys.exit(main())
