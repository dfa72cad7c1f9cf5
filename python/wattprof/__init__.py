"""wattprof phase marks: tell a running ``wattprof run`` where the phases of your job begin and
end, so its report gives energy per phase (per epoch, per sample, per token).

    import wattprof

    for epoch in range(3):
        with wattprof.phase("epoch", epoch=epoch) as p:
            n = train_one_epoch()
            p.counts(samples=n)          # sent with the end mark
    wattprof.mark("checkpoint")

Standard library only; safe to leave in code that runs without wattprof: when the environment
variable WATTPROF_SOCKET is unset nothing is sent (``enabled()`` is False).

Protocol (the same as the C client, include/wattprof/marks.h, and the receiver,
src/marks/marks.h): one Unix datagram per message, sent to the socket path in
WATTPROF_SOCKET, at most 512 bytes of ASCII:

    VERB NAME [KEY=VALUE ...]

- tokens separated by one or more spaces, optional trailing newline;
- VERB: ``begin``, ``end`` or ``mark`` (a point in time, not a phase);
- NAME: 1-64 characters from [A-Za-z0-9_.:/@+-];
- KEY: [a-z][a-z0-9_]*, at most 31 characters; VALUE: a finite non-negative decimal number
  (512, 0.25, 1.5e+12); at most 8 counts, each key once;
- well-known keys: samples, tokens, flops, step, epoch, rank; other keys are stored as given.

A phase is a begin and the next end of the same name; names may repeat (a new phase each time)
and phases may nest. A begin of a name already open, and an end with nothing open, are
ignored by the recorder and counted.

Return values: True when the mark was sent; False when it was not (WATTPROF_SOCKET unset, no
listener, or the recorder's queue is full: the mark is dropped). Sending never blocks and
never raises. Invalid names or counts are programming errors and raise ValueError, whether or
not wattprof is listening.
"""

import math
import os
import re
import socket
import threading

__all__ = ["begin", "end", "mark", "phase", "enabled"]

MAX_MESSAGE = 512
MAX_COUNTS = 8
_NAME = re.compile(r"[A-Za-z0-9_.:/@+\-]{1,64}")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,30}")

_lock = threading.Lock()
_sock = None


def _after_fork_in_child():
    # A thread of the parent may have held the lock at fork(); the child has only this thread.
    # The socket itself is kept: it is unconnected, so the child's sends work as they are.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def enabled():
    """True when WATTPROF_SOCKET names a socket to send marks to."""
    return bool(os.environ.get("WATTPROF_SOCKET"))


def _format_value(key, value):
    # bool is an int subclass; True as a count is almost certainly a mistake.
    if isinstance(value, bool):
        raise ValueError(f"count {key}={value!r}: expected a number, not a bool")
    if isinstance(value, (str, bytes)):
        raise ValueError(f"count {key}={value!r}: expected a number, not text")
    if hasattr(value, "__index__"):  # int, numpy integers
        v = value.__index__()
        if v < 0:
            raise ValueError(f"count {key}={v} is negative; counts must be >= 0")
        try:
            float(v)
        except OverflowError:
            raise ValueError(f"count {key}={v} is too large to be a finite number") from None
        return str(v)
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"count {key}={value!r}: expected a number") from None
    if not math.isfinite(v):
        raise ValueError(f"count {key}={value!r} is not finite")
    if v < 0 or (v == 0 and math.copysign(1.0, v) < 0):
        raise ValueError(f"count {key}={value!r} is negative; counts must be >= 0")
    # repr gives the shortest text that reads back to the same float: 0.25, 1500000000000.0,
    # 1e+16 - all inside the protocol's number grammar, and never locale-dependent.
    return repr(v)


def _message(verb, name, counts):
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"phase name {name!r} is invalid: use 1-64 characters from A-Z a-z 0-9 _ . : / @ + -"
        )
    if len(counts) > MAX_COUNTS:
        raise ValueError(f"{len(counts)} counts given; send at most {MAX_COUNTS}")
    parts = [verb, name]
    for key, value in counts.items():
        if not _KEY.fullmatch(key):
            raise ValueError(
                f"count key {key!r} is invalid: use a lowercase letter, then lowercase letters, "
                "digits or _, at most 31 characters"
            )
        parts.append(f"{key}={_format_value(key, value)}")
    msg = " ".join(parts).encode("ascii")
    if len(msg) > MAX_MESSAGE:
        raise ValueError(f"the mark is {len(msg)} bytes, over the limit of {MAX_MESSAGE}")
    return msg


def _socket():
    global _sock
    s = _sock
    if s is None:
        with _lock:
            if _sock is None:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.setblocking(False)
                _sock = s
            s = _sock
    return s


def _send(verb, name, counts):
    msg = _message(verb, name, counts)
    path = os.environ.get("WATTPROF_SOCKET")
    if not path:
        return False
    try:
        _socket().sendto(msg, path)
    except OSError:
        # No listener (FileNotFoundError, ConnectionRefusedError), queue full
        # (BlockingIOError), path too long, ...: the job must carry on regardless.
        return False
    return True


def begin(name, **counts):
    """Marks the start of phase `name`, e.g. begin("epoch", epoch=3). True when sent."""
    return _send("begin", name, counts)


def end(name, **counts):
    """Marks the end of phase `name`, e.g. end("epoch", samples=50000). True when sent."""
    return _send("end", name, counts)


def mark(name, **counts):
    """Marks a point in time (not a phase), e.g. mark("checkpoint", step=1000)."""
    return _send("mark", name, counts)


class phase:
    """Context manager: begin(name, **counts) on entry, end(name) on exit, also when the body
    raises (the exception propagates). Counts known only at the end go in via .counts()."""

    def __init__(self, name, **counts):
        _message("begin", name, counts)  # fail at the with statement, not halfway through
        self.name = name
        self._begin_counts = counts
        self._end_counts = {}

    def counts(self, **counts):
        """Adds counts to send with the end mark; validated now, so a mistake raises here
        rather than while the phase is closing."""
        merged = {**self._end_counts, **counts}
        _message("end", self.name, merged)
        self._end_counts = merged
        return self

    def __enter__(self):
        begin(self.name, **self._begin_counts)
        return self

    def __exit__(self, exc_type, exc, tb):
        end(self.name, **self._end_counts)
        return False
