"""Shared helpers for the training workloads (resnet.py, llama.py).

Importing this module needs only the standard library: argument parsing, validation and
--dry-run work on a machine without PyTorch. Functions that need torch take the imported
module as an argument, so the caller decides when torch is loaded (after its arguments have
been checked).
"""

import argparse
import json
import os
import socket
import sys
import time
from collections import namedtuple

# NVLink multicast (NVLS) is forbidden on the GPU hosts we run on: a program that uses it can
# put GPUs shared with other tenants out of service. NCCL, PyTorch's symmetric memory and
# NVSHMEM each have their own switch. They are read when the library initialises, so they must
# be in os.environ before torch creates its first communicator; we overwrite any other value on
# purpose, because a stray NCCL_NVLS_ENABLE=1 in a user's shell must not reach those hosts.
NO_MULTICAST_ENV = {
    "NCCL_NVLS_ENABLE": "0",
    "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
    "NVSHMEM_DISABLE_NVLS": "1",
}


def disable_nvlink_multicast(environ=os.environ):
    for key, value in NO_MULTICAST_ENV.items():
        environ[key] = value


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-made line breaks of the description and epilog, and appends each
    option's default where it has a meaningful one (not None, not a False flag)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or action.default is None or action.default is False:
            return text
        if action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def nonneg_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


# ---- the process's place in the job (torchrun's environment) ----

World = namedtuple("World", "rank local_rank world_size launched")


def world_from_env(environ=os.environ):
    """Reads RANK / LOCAL_RANK / WORLD_SIZE as torchrun sets them; a plain `python3 x.py` is
    rank 0 of 1. WORLD_SIZE alone is accepted so that `WORLD_SIZE=8 x.py --dry-run` previews
    an 8-GPU configuration; actually running needs the full torchrun environment (checked in
    init_distributed). Raises ValueError with a readable message."""

    def read(name, default):
        raw = environ.get(name, "")
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None

    world = read("WORLD_SIZE", 1)
    rank = read("RANK", 0)
    local_rank = read("LOCAL_RANK", rank)
    if world < 1:
        raise ValueError(f"WORLD_SIZE={world}: must be at least 1")
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside 0..{world - 1} (WORLD_SIZE={world})")
    if local_rank < 0:
        raise ValueError(f"LOCAL_RANK={local_rank} is negative")
    launched = all(environ.get(k) for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))
    return World(rank, local_rank, world, launched)


def check_global_batch(global_batch, world_size):
    """Returns the per-GPU batch or raises ValueError: every GPU gets the same share."""
    if global_batch % world_size:
        raise ValueError(
            f"--global-batch {global_batch} is not divisible by the world size {world_size} "
            f"(one process per GPU); use a multiple of {world_size}, e.g. "
            f"{(global_batch // world_size + 1) * world_size}"
        )
    return global_batch // world_size


# ---- phases ----

Chunk = namedtuple("Chunk", "start end epoch")


def plan_chunks(total_steps, mark_every=0, steps_per_epoch=None):
    """Splits the measured steps [0, total_steps) into phases. A boundary falls every
    `mark_every` steps (0: none) and at the end of every epoch (when steps_per_epoch is
    known), counted from the first measured step. Returns a list of Chunk(start, end, epoch),
    epoch None when epochs are not defined."""
    if total_steps <= 0:
        return []
    bounds = {0, total_steps}
    if mark_every and mark_every > 0:
        bounds.update(range(mark_every, total_steps, mark_every))
    if steps_per_epoch and steps_per_epoch > 0:
        bounds.update(range(steps_per_epoch, total_steps, steps_per_epoch))
    edges = sorted(bounds)
    return [
        Chunk(s, e, (s // steps_per_epoch) if steps_per_epoch else None)
        for s, e in zip(edges, edges[1:])
    ]


def round_steps(total, per_step):
    """total / per_step rounded to the nearest integer (halves up)."""
    return (total + per_step // 2) // per_step


# ---- marks (python/wattprof client) ----


class MarksUnavailable(RuntimeError):
    pass


class _NoMarks:
    """Stands in for the client when it is not installed and nobody is listening."""

    def begin(self, name, **counts):
        pass

    def end(self, name, **counts):
        pass

    def mark(self, name, **counts):
        pass


def load_marks_client(environ=os.environ):
    """Imports the repository's Python client (../../python/wattprof). Without it, marks are
    dropped silently unless WATTPROF_SOCKET says a recorder is listening: then raises
    MarksUnavailable, because a long GPU run whose phases cannot be told apart is wasted."""
    here = os.path.dirname(os.path.abspath(__file__))
    pydir = os.path.normpath(os.path.join(here, "..", "..", "python"))
    if os.path.isdir(pydir) and pydir not in sys.path:
        sys.path.insert(0, pydir)
    try:
        import wattprof  # noqa: PLC0415 (deliberately late: path set just above)
    except ImportError as e:
        if environ.get("WATTPROF_SOCKET"):
            raise MarksUnavailable(
                f"WATTPROF_SOCKET is set but the wattprof Python client cannot be imported "
                f"({e}); it should be in {pydir}: run from a full checkout of the repository"
            ) from None
        return _NoMarks()
    missing = [f for f in ("begin", "end", "mark") if not callable(getattr(wattprof, f, None))]
    if missing:
        if environ.get("WATTPROF_SOCKET"):
            raise MarksUnavailable(
                f"the wattprof module found at {getattr(wattprof, '__file__', '?')} lacks "
                f"{', '.join(missing)}(); is another package called wattprof installed?"
            )
        return _NoMarks()
    return wattprof


class Marker:
    """Sends phase marks from one process of the job at exact, job-wide instants.

    Every rank calls transition() at the same step; each first drains its GPU and waits for
    the others (`sync`), so the boundary is where all GPUs have finished the previous phase.
    Only the sender (rank 0) talks to the recorder, so the trace gets each mark once."""

    def __init__(self, client, sender, sync=None, log=None):
        self.client = client
        self.sender = sender
        self.sync = sync or (lambda: None)
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._warned = False

    def _send(self, kind, name, counts):
        if not self.sender:
            return
        try:
            sent = getattr(self.client, kind)(name, **counts)
            # The client answers False when a mark was not delivered (no listener, queue full);
            # that matters only when a recorder is supposed to be listening.
            if sent is False and os.environ.get("WATTPROF_SOCKET"):
                raise OSError(f"not delivered to {os.environ['WATTPROF_SOCKET']}")
        except Exception as e:  # a broken recorder must not stop the training run
            if not self._warned:
                self.log(f"warning: could not send mark '{kind} {name}': {e}")
                self._warned = True

    def transition(self, end=None, end_counts=None, begin=None, begin_counts=None):
        """Synchronises all ranks, then ends phase `end` (with its counts) and begins phase
        `begin`, both at the same instant. Returns time.perf_counter() taken after the sync."""
        self.sync()
        now = time.perf_counter()
        if end:
            self._send("end", end, dict(end_counts or {}))
        if begin:
            self._send("begin", begin, dict(begin_counts or {}))
        return now

    def point(self, name, **counts):
        """A point mark without synchronisation (e.g. an error on this rank)."""
        self._send("mark", name, counts)


# ---- torch-side helpers (torch passed in by the caller) ----


def torch_missing():
    """A message when PyTorch cannot be imported here, else None (checked without importing
    it, which takes seconds)."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return ("PyTorch is not installed for this python3; the workloads run on GPU machines "
                "(--dry-run checks a configuration without it)")
    return None

Dist = namedtuple("Dist", "rank local_rank world_size device")


def dry_run_or_start(name, cfg, chunks, run):
    """The end of each workload's main(): with --dry-run print the resolved configuration and
    planned phases (no torch needed); otherwise check that torch and the marks client load,
    then call run(marks). Returns the exit status."""
    if cfg.get("dry_run"):
        out = dict(cfg, phases=[c._asdict() for c in chunks] if chunks is not None else None,
                   env={k: os.environ.get(k) for k in NO_MULTICAST_ENV})
        out.pop("dry_run")
        print(json.dumps(out, indent=1))
        return 0
    problem = torch_missing()
    if problem is None:
        try:
            marks = load_marks_client()
        except MarksUnavailable as e:
            problem = str(e)
    if problem:
        print(f"{name}: error: {problem}", file=sys.stderr)
        return 2
    return run(marks)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed(torch, world):
    """Binds this process to its GPU and creates the NCCL process group. A plain single
    process (no torchrun) gets a group of one, so DDP/FSDP and barriers work the same way.
    Raises SystemExit with a message when the GPUs do not match the launch."""
    import torch.distributed as dist

    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA GPU is visible to PyTorch; these workloads need GPUs")
    ngpu = torch.cuda.device_count()
    if world.local_rank >= ngpu:
        raise SystemExit(
            f"error: LOCAL_RANK {world.local_rank} but only {ngpu} GPU(s) are visible; "
            f"use torchrun --nproc_per_node={ngpu} or fewer"
        )
    if world.world_size > 1 and not world.launched:
        raise SystemExit(
            f"error: WORLD_SIZE={world.world_size} without RANK, MASTER_ADDR and MASTER_PORT; "
            f"launch with torchrun --standalone --nproc_per_node=N"
        )
    if not world.launched:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
        os.environ["RANK"] = "0"
        os.environ["WORLD_SIZE"] = "1"
        os.environ["LOCAL_RANK"] = str(world.local_rank)
    device = torch.device("cuda", world.local_rank)
    torch.cuda.set_device(device)
    # device_id (PyTorch 2.3+) binds the communicator, and barriers, to this GPU from the start;
    # older versions use the current device set just above.
    import inspect

    kw = {"device_id": device} if "device_id" in inspect.signature(dist.init_process_group).parameters else {}
    dist.init_process_group(backend="nccl", **kw)
    return Dist(dist.get_rank(), world.local_rank, dist.get_world_size(), device)


def make_sync(torch, device):
    """All ranks: wait until this GPU is idle, then until every rank got there."""
    import torch.distributed as dist

    def sync():
        torch.cuda.synchronize(device)
        if dist.is_initialized() and dist.get_world_size() > 1:
            dist.barrier()
            torch.cuda.synchronize(device)

    return sync


def gib(nbytes):
    return nbytes / 2**30


def memory_summary(torch, device):
    """One line of this GPU's memory use, and the same numbers as a dict (GiB)."""
    stats = {
        "peak_allocated_gib": round(gib(torch.cuda.max_memory_allocated(device)), 2),
        "peak_reserved_gib": round(gib(torch.cuda.max_memory_reserved(device)), 2),
    }
    try:
        free, total = torch.cuda.mem_get_info(device)
        stats["gpu_total_gib"] = round(gib(total), 2)
        stats["gpu_free_gib"] = round(gib(free), 2)
    except Exception:  # after an OOM the query itself may fail; the peaks are what matter
        pass
    line = (
        f"peak allocated {stats['peak_allocated_gib']:.1f} GiB, "
        f"peak reserved {stats['peak_reserved_gib']:.1f} GiB"
    )
    if "gpu_total_gib" in stats:
        line += f" of {stats['gpu_total_gib']:.1f} GiB on the GPU"
    return line, stats


OOM_EXIT = 3


def exit_out_of_memory(torch, dist_info, marker, result, what, hint):
    """Reports a CUDA out-of-memory error on this rank and ends the process with status 3.

    os._exit, not sys.exit: the other ranks may be blocked in a collective with this one, and
    a normal interpreter shutdown would try to tear down the NCCL group and could hang.
    torchrun then stops the other ranks (and itself exits 1, not 3: see README)."""
    line, stats = memory_summary(torch, dist_info.device)
    print(
        f"{result['workload']}: out of GPU memory ({what}, world size {dist_info.world_size}, "
        f"rank {dist_info.rank}): {line}; {hint}",
        file=sys.stderr,
        flush=True,
    )
    marker.point("oom")
    result = dict(result, status="oom", rank=dist_info.rank, **stats)
    emit_result(result)
    sys.stderr.flush()
    os._exit(OOM_EXIT)


def emit_result(result):
    """The one machine-readable line a run prints on stdout (sweeps parse the last one)."""
    print(json.dumps(result, separators=(",", ":")), flush=True)


def log(msg):
    print(msg, file=sys.stderr, flush=True)
