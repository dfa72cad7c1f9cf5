"""The Python marks client (python/wattprof) and, through ctypes, the C client library
(build/libwattprof.so), each talking to a datagram socket this test binds as the receiver.

Run: PYTHONPATH=python python3 tests/python/test_marks.py (tests/run.sh sets both)."""

import ctypes
import errno
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

import wattprof

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Watchdog:
    """Fails the test instead of hanging it if a send blocks."""

    def __enter__(self):
        def fire(signum, frame):
            raise AssertionError("a send blocked for 20 s")

        self.old = signal.signal(signal.SIGALRM, fire)
        signal.alarm(20)
        return self

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)
        return False


class ReceiverCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wp-test-marks-")
        self.path = os.path.join(self.tmp.name, "rx.sock")
        self.rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.rx.bind(self.path)
        self.rx.settimeout(5)
        self.old_env = os.environ.get("WATTPROF_SOCKET")
        os.environ["WATTPROF_SOCKET"] = self.path
        self.watchdog = Watchdog().__enter__()

    def tearDown(self):
        self.watchdog.__exit__(None, None, None)
        if self.old_env is None:
            os.environ.pop("WATTPROF_SOCKET", None)
        else:
            os.environ["WATTPROF_SOCKET"] = self.old_env
        self.rx.close()
        self.tmp.cleanup()

    def recv(self):
        return self.rx.recv(1024)

    def assert_nothing_pending(self):
        self.rx.setblocking(False)
        try:
            with self.assertRaises(BlockingIOError):
                self.rx.recv(1024)
        finally:
            self.rx.settimeout(5)

    def drain(self):
        self.rx.setblocking(False)
        n = 0
        try:
            while True:
                self.rx.recv(1024)
                n += 1
        except BlockingIOError:
            pass
        finally:
            self.rx.settimeout(5)
        return n


class TestMessages(ReceiverCase):
    def test_enabled(self):
        self.assertTrue(wattprof.enabled())
        os.environ["WATTPROF_SOCKET"] = ""
        self.assertFalse(wattprof.enabled())
        del os.environ["WATTPROF_SOCKET"]
        self.assertFalse(wattprof.enabled())

    def test_exact_bytes(self):
        self.assertIs(wattprof.begin("epoch", epoch=3), True)
        self.assertEqual(self.recv(), b"begin epoch epoch=3")
        self.assertIs(wattprof.end("train", samples=512, tokens=4096), True)
        self.assertEqual(self.recv(), b"end train samples=512 tokens=4096")
        self.assertIs(wattprof.mark("ckpt/1"), True)
        self.assertEqual(self.recv(), b"mark ckpt/1")
        wattprof.mark("f", flops=1.5e12, lr=0.25, big=1e16, tiny=1e-7, zero=0.0, n=0)
        self.assertEqual(
            self.recv(),
            b"mark f flops=1500000000000.0 lr=0.25 big=1e+16 tiny=1e-07 zero=0.0 n=0",
        )
        name = "a:b/c@d+e-f.g_H9" + "x" * 48  # every allowed kind of character, 64 long
        wattprof.begin(name, **{"k" * 31: 1})
        self.assertEqual(self.recv(), f"begin {name} {'k' * 31}=1".encode())
        self.assert_nothing_pending()

    def test_numbers_keep_their_value(self):
        for v in (0.1, 1 / 3, 6.02214076e23, 5e-324, 1.7976931348623157e308, 2**63 + 1):
            wattprof.mark("m", x=v)
            text = self.recv().decode().split("x=", 1)[1]
            self.assertEqual(float(text), float(v))

    def test_phase(self):
        with wattprof.phase("epoch", epoch=1) as p:
            self.assertEqual(self.recv(), b"begin epoch epoch=1")
            p.counts(samples=10)
            p.counts(tokens=20, samples=11)
        self.assertEqual(self.recv(), b"end epoch samples=11 tokens=20")
        self.assert_nothing_pending()

    def test_phase_ends_on_exception(self):
        with self.assertRaises(RuntimeError):
            with wattprof.phase("boom"):
                raise RuntimeError("training failed")
        self.assertEqual(self.recv(), b"begin boom")
        self.assertEqual(self.recv(), b"end boom")

    def test_phase_nesting(self):
        with wattprof.phase("run"):
            for i in range(2):
                with wattprof.phase("epoch", epoch=i):
                    pass
        got = [self.recv() for _ in range(6)]
        self.assertEqual(
            got,
            [b"begin run", b"begin epoch epoch=0", b"end epoch", b"begin epoch epoch=1",
             b"end epoch", b"end run"],
        )

    def test_invalid_input_raises(self):
        bad_names = ["", "two words", "x" * 65, "caf\u00e9", "tab\tname", "new\nline", None, 5,
                     b"bytes"]
        bad_counts = [
            {"Samples": 1}, {"1x": 1}, {"a-b": 1}, {"k" * 32: 1}, {"x": -1}, {"x": -0.5},
            {"x": -0.0}, {"x": math.nan}, {"x": math.inf}, {"x": True}, {"x": "512"},
            {"x": None}, {"x": 10**400}, {"x": [1]},
            {f"k{i}": i for i in range(9)},
            {f"k{i}": 10**60 for i in range(8)},  # 8 valid counts, over 512 bytes
        ]
        for enabled in (True, False):
            if not enabled:
                del os.environ["WATTPROF_SOCKET"]
            for name in bad_names:
                for fn in (wattprof.begin, wattprof.end, wattprof.mark):
                    with self.assertRaises(ValueError, msg=f"{fn.__name__}({name!r})"):
                        fn(name)
                with self.assertRaises(ValueError):
                    wattprof.phase(name)
            for counts in bad_counts:
                with self.assertRaises(ValueError, msg=repr(counts)):
                    wattprof.begin("ok", **counts)
                with self.assertRaises(ValueError, msg=repr(counts)):
                    wattprof.phase("ok", **counts)
                p = wattprof.phase("ok")
                with self.assertRaises(ValueError, msg=repr(counts)):
                    p.counts(**counts)
        os.environ["WATTPROF_SOCKET"] = self.path
        self.assert_nothing_pending()

    def test_disabled_sends_nothing(self):
        del os.environ["WATTPROF_SOCKET"]
        self.assertIs(wattprof.begin("epoch"), False)
        with wattprof.phase("x"):
            pass
        self.assert_nothing_pending()

    def test_no_listener_returns_false(self):
        os.environ["WATTPROF_SOCKET"] = os.path.join(self.tmp.name, "nobody.sock")
        self.assertIs(wattprof.begin("epoch"), False)
        # A socket file left behind by a recorder that died.
        stale = os.path.join(self.tmp.name, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(stale)
        s.close()
        os.environ["WATTPROF_SOCKET"] = stale
        self.assertIs(wattprof.end("epoch"), False)
        os.environ["WATTPROF_SOCKET"] = "/" + "p" * 200  # longer than any socket address
        self.assertIs(wattprof.mark("m"), False)
        with wattprof.phase("quiet"):  # and the context manager does not raise either
            pass

    def test_full_queue_drops_without_blocking(self):
        sent = dropped = 0
        for _ in range(100000):
            if wattprof.mark("step", step=1):
                sent += 1
            else:
                dropped += 1
                if dropped == 3:
                    break
        self.assertEqual(dropped, 3)
        self.assertGreater(sent, 0)
        self.assertEqual(self.drain(), sent)  # True really means delivered
        self.assertIs(wattprof.mark("after"), True)
        self.assertEqual(self.recv(), b"mark after")

    def test_forked_child_sends(self):
        wattprof.begin("parent")
        pid = os.fork()
        if pid == 0:
            os._exit(0 if wattprof.mark("child") else 1)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(self.recv(), b"begin parent")
        self.assertEqual(self.recv(), b"mark child")

    def test_import_with_pythonpath(self):
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
        code = "import wattprof, sys; print(wattprof.__file__); sys.exit(not wattprof.end('sub'))"
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=self.tmp.name,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(),
                         os.path.join(REPO, "python", "wattprof", "__init__.py"))
        self.assertEqual(self.recv(), b"end sub")


def _load_libwattprof():
    build = os.environ.get("BUILD")
    so = os.path.join(REPO, build or "build", "libwattprof.so")
    if not os.path.exists(so):
        if build is None:
            raise unittest.SkipTest(f"{so} is not built; run make (tests/run.sh requires it)")
        raise AssertionError(f"{so} is missing: make test-bin builds it")
    with open(so, "rb") as f:
        if b"__asan_init" in f.read():
            raise unittest.SkipTest("sanitizer build: its .so cannot load into this python")
    lib = ctypes.CDLL(so, use_errno=True)
    for fn in (lib.wp_marks_begin, lib.wp_marks_end, lib.wp_marks_point):
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        fn.restype = ctypes.c_int
    return lib


class TestCLibrary(ReceiverCase):
    """The C client sends the same bytes as the Python one for the same marks."""

    @classmethod
    def setUpClass(cls):
        cls.lib = _load_libwattprof()

    def test_same_bytes_as_python(self):
        lib = self.lib
        self.assertEqual(lib.wp_marks_begin(b"train", b"samples=512 tokens=4096"), 0)
        c_begin = self.recv()
        wattprof.begin("train", samples=512, tokens=4096)
        self.assertEqual(c_begin, self.recv())
        self.assertEqual(lib.wp_marks_end(b"train", None), 0)
        self.assertEqual(self.recv(), b"end train")
        self.assertEqual(lib.wp_marks_point(b"ckpt", b""), 0)
        self.assertEqual(self.recv(), b"mark ckpt")

    def test_errors(self):
        lib = self.lib
        self.assertEqual(lib.wp_marks_begin(b"bad name", None), -1)
        self.assertEqual(ctypes.get_errno(), errno.EINVAL)
        self.assertEqual(lib.wp_marks_begin(b"a", b"x=-1"), -1)
        self.assertEqual(ctypes.get_errno(), errno.EINVAL)
        self.assert_nothing_pending()
        os.environ["WATTPROF_SOCKET"] = os.path.join(self.tmp.name, "nobody.sock")
        self.assertEqual(lib.wp_marks_begin(b"a", None), -1)
        self.assertEqual(ctypes.get_errno(), errno.ENOENT)
        del os.environ["WATTPROF_SOCKET"]
        self.assertEqual(lib.wp_marks_begin(b"a", None), 0)


if __name__ == "__main__":
    unittest.main()
