"""Command-line behaviour of the training workloads (bench/workloads/resnet.py, llama.py)
and their stdlib-only helpers (common.py), on a machine without PyTorch or GPU.

The scripts run with a poisoned `torch` package first on PYTHONPATH: importing it fails with
a recognisable message. So every test below also proves that --help, argument checking and
--dry-run never import torch, whether or not the machine has the real one.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import unittest
from unittest import mock

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WORKLOADS = os.path.join(ROOT, "bench", "workloads")
RESNET = os.path.join(WORKLOADS, "resnet.py")
LLAMA = os.path.join(WORKLOADS, "llama.py")
POISON = "POISONED-TORCH-WAS-IMPORTED"

sys.path.insert(0, WORKLOADS)
import common  # noqa: E402


class Env:
    """A temporary directory holding the poisoned torch package."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wp-workloads-")
        pkg = os.path.join(self.dir, "poison", "torch")
        os.makedirs(pkg)
        with open(os.path.join(pkg, "__init__.py"), "w") as f:
            f.write(f"raise ImportError({POISON!r})\n")
        self.poison = os.path.dirname(pkg)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run(script, *args, env=None, pythonpath=None):
    e = {k: v for k, v in os.environ.items()
         if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                      "WATTPROF_SOCKET", "PYTHONPATH")}
    e["PYTHONPATH"] = pythonpath if pythonpath is not None else ENV.poison
    e.update(env or {})
    return subprocess.run([sys.executable, script, *args], env=e, capture_output=True,
                          text=True, timeout=60)


ENV = None


def setUpModule():
    global ENV
    ENV = Env()


def tearDownModule():
    ENV.close()


class HelpTest(unittest.TestCase):
    def check_help(self, script, words):
        p = run(script, "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(POISON, p.stderr)
        for w in words:
            self.assertIn(w, p.stdout, f"--help of {os.path.basename(script)} lacks {w!r}")

    def test_resnet_help_teaches_options_marks_and_launch(self):
        self.check_help(RESNET, [
            "--arch", "resnet152", "--global-batch", "--images", "--epochs", "--warmup-steps",
            "--mark-every", "--data", "--compile", "--seed", "--dry-run", "samples=", "step=",
            "torchrun --standalone --nproc_per_node", "wattprof run --", "wattprof sweep",
            "images/s", "NCCL_NVLS_ENABLE=0",
        ])

    def test_llama_help_teaches_options_flops_and_launch(self):
        self.check_help(LLAMA, [
            "--preset", "13b", "7b", "1b", "tiny", "--seq-len", "--global-batch", "--steps",
            "--warmup-steps", "--mark-every", "--ddp", "--no-checkpoint", "--peak-tflops",
            "--kv-heads", "--seed", "--dry-run", "tokens=", "flops=", "6 * N * T",
            "12 * layers * dim * seq_len * T", "MFU", "wattprof run --", "wattprof sweep",
            "torchrun --standalone --nproc_per_node", "status 3",
        ])


class InvalidArgsTest(unittest.TestCase):
    def check_rejected(self, script, args, expect, env=None):
        p = run(script, *args, env=env)
        self.assertNotEqual(p.returncode, 0, f"{args} was accepted: {p.stdout}")
        self.assertEqual(p.returncode, 2, p.stderr)  # argparse's usage-error status
        self.assertIn(expect, p.stderr)
        self.assertNotIn(POISON, p.stderr, "validation must happen before torch is imported")
        self.assertNotIn("Traceback", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_global_batch_not_divisible_by_world_size(self):
        env = {"WORLD_SIZE": "3", "RANK": "0", "LOCAL_RANK": "0",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
        self.check_rejected(RESNET, ["--global-batch", "512"], "not divisible by the world size 3", env)
        self.check_rejected(LLAMA, ["--global-batch", "16"], "not divisible by the world size 3", env)

    def test_nonpositive_sizes(self):
        self.check_rejected(RESNET, ["--global-batch", "0"], "--global-batch")
        self.check_rejected(RESNET, ["--warmup-steps", "-1"], "--warmup-steps")
        self.check_rejected(RESNET, ["--images", "-512"], "--images")
        self.check_rejected(LLAMA, ["--steps", "-5"], "--steps")
        self.check_rejected(LLAMA, ["--steps", "0"], "--steps")
        self.check_rejected(LLAMA, ["--seq-len", "abc"], "--seq-len")
        self.check_rejected(LLAMA, ["--peak-tflops", "nan"], "--peak-tflops")

    def test_unknown_choices(self):
        self.check_rejected(LLAMA, ["--preset", "70b"], "invalid choice")
        self.check_rejected(RESNET, ["--arch", "vgg16"], "invalid choice")

    def test_inconsistent_shapes_and_sizes(self):
        self.check_rejected(LLAMA, ["--heads", "3"], "not divisible by --heads")
        self.check_rejected(LLAMA, ["--kv-heads", "5"], "not a multiple of --kv-heads")
        self.check_rejected(LLAMA, ["--dim", "96", "--heads", "32"], "must be even")
        self.check_rejected(RESNET, ["--images", "100"], "less than half a global batch")
        self.check_rejected(RESNET, ["--images", "5000", "--epochs", "1"], "not allowed")
        self.check_rejected(RESNET, ["--epochs", "1", "--epoch-images", "100"], "smaller than the global batch")
        self.check_rejected(RESNET, ["--data", os.path.join(ENV.dir, "missing")], "not a directory")

    def test_bad_launcher_environment(self):
        self.check_rejected(RESNET, [], "WORLD_SIZE='eight'", {"WORLD_SIZE": "eight"})
        self.check_rejected(LLAMA, [], "RANK=4 is outside", {"WORLD_SIZE": "4", "RANK": "4"})


def dry_run(script, *args, env=None):
    p = run(script, "--dry-run", *args, env=env)
    if p.returncode != 0:
        raise AssertionError(f"dry run {args} failed: {p.stderr}")
    return json.loads(p.stdout)


class DryRunTest(unittest.TestCase):
    def test_resnet_steps_are_images_over_global_batch_rounded(self):
        c = dry_run(RESNET, "--global-batch", "4096", "--images", "100000", env={"WORLD_SIZE": "8"})
        self.assertEqual((c["world_size"], c["per_gpu_batch"]), (8, 512))
        self.assertEqual(c["steps"], 24)  # 24.41 rounds down
        self.assertEqual(c["images"], 24 * 4096)
        c = dry_run(RESNET, "--global-batch", "4096", "--images", "6144")
        self.assertEqual(c["steps"], 2)  # 1.5 rounds up
        self.assertEqual(c["per_gpu_batch"], 4096)  # one process: the whole batch
        self.assertEqual([(p["start"], p["end"]) for p in c["phases"]], [(0, 2)])

    def test_resnet_epochs_split_phases_at_epoch_ends(self):
        c = dry_run(RESNET, "--global-batch", "1000", "--epochs", "2", "--epoch-images", "10500",
                    "--mark-every", "4")
        self.assertEqual((c["steps_per_epoch"], c["steps"]), (10, 20))
        self.assertEqual(
            [(p["start"], p["end"], p["epoch"]) for p in c["phases"]],
            [(0, 4, 0), (4, 8, 0), (8, 10, 0), (10, 12, 1), (12, 16, 1), (16, 20, 1)],
        )

    def test_llama_parameter_counts_match_published_models(self):
        # Llama-2-7b, Llama-2-13b and TinyLlama-1.1B as released (untied output layer).
        for preset, n in (("7b", 6738415616), ("13b", 13015864320), ("1b", 1100048384)):
            c = dry_run(LLAMA, "--preset", preset)
            self.assertEqual(c["params"], n, preset)
            self.assertEqual(c["params_no_embedding"], n - c["vocab"] * c["dim"], preset)
        self.assertEqual(dry_run(LLAMA, "--preset", "1b")["kv_heads"], 4)

    def test_llama_flops_per_step_formula(self):
        c = dry_run(LLAMA, "--preset", "tiny", "--layers", "3", "--seq-len", "512",
                    "--global-batch", "8", env={"WORLD_SIZE": "2"})
        tokens = 8 * 512
        expect = 6 * c["params_no_embedding"] * tokens + 12 * 3 * c["dim"] * 512 * tokens
        self.assertEqual(c["tokens_per_step"], tokens)
        self.assertEqual(c["flops_per_step"], expect)
        self.assertEqual((c["layers"], c["seq_len"], c["per_gpu_batch"]), (3, 512, 4))

    def test_llama_preset_defaults_and_overrides(self):
        self.assertEqual(dry_run(LLAMA, "--preset", "13b")["seq_len"], 4096)
        self.assertEqual(dry_run(LLAMA, "--preset", "1b")["seq_len"], 2048)
        c = dry_run(LLAMA, "--preset", "7b", "--kv-heads", "8", "--ddp", "--no-checkpoint")
        self.assertEqual((c["dim"], c["heads"], c["kv_heads"]), (4096, 32, 8))
        self.assertEqual((c["parallel"], c["activation_checkpointing"]), ("ddp", False))
        c = dry_run(LLAMA, "--steps", "100", "--mark-every", "30")
        self.assertEqual([(p["start"], p["end"]) for p in c["phases"]],
                         [(0, 30), (30, 60), (60, 90), (90, 100)])

    def test_multicast_switches_are_forced_off(self):
        for script in (RESNET, LLAMA):
            c = dry_run(script, env={"NCCL_NVLS_ENABLE": "1", "NVSHMEM_DISABLE_NVLS": "0"})
            self.assertEqual(c["env"], {"NCCL_NVLS_ENABLE": "0",
                                        "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
                                        "NVSHMEM_DISABLE_NVLS": "1"})


class RunWithoutTorchTest(unittest.TestCase):
    def test_valid_arguments_reach_the_torch_import(self):
        # Proves the checks above reject only what they should: a valid command gets as far
        # as importing torch (the poisoned one here).
        for script in (RESNET, LLAMA):
            p = run(script, "--global-batch", "8", *(["--images", "64"] if script == RESNET else []))
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(POISON, p.stderr)

    def test_missing_torch_is_a_clear_error(self):
        empty = os.path.join(ENV.dir, "empty")
        os.makedirs(empty, exist_ok=True)
        probe = subprocess.run([sys.executable, "-c", "import importlib.util as u; "
                                "print(u.find_spec('torch') is None)"],
                               capture_output=True, text=True, env={"PYTHONPATH": empty,
                                                                     "PATH": os.environ.get("PATH", "")})
        if probe.stdout.strip() != "True":
            self.skipTest("this python3 has PyTorch installed")
        p = run(LLAMA, "--preset", "tiny", pythonpath=empty)
        self.assertEqual(p.returncode, 2)
        self.assertIn("PyTorch is not installed", p.stderr)
        self.assertNotIn("Traceback", p.stderr)

    def test_recorder_listening_but_client_missing_fails_before_torch(self):
        # A copy of the workloads with no python/ directory beside them.
        tree = os.path.join(ENV.dir, "tree", "bench", "workloads")
        os.makedirs(tree, exist_ok=True)
        for f in ("resnet.py", "common.py"):
            shutil.copy(os.path.join(WORKLOADS, f), tree)
        p = run(os.path.join(tree, "resnet.py"), env={"WATTPROF_SOCKET": os.path.join(ENV.dir, "s")})
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("WATTPROF_SOCKET is set but the wattprof Python client cannot be imported",
                      p.stderr)
        self.assertNotIn(POISON, p.stderr)


class PlanChunksTest(unittest.TestCase):
    def test_one_phase_without_boundaries(self):
        self.assertEqual(common.plan_chunks(7), [common.Chunk(0, 7, None)])

    def test_every_n_and_epochs(self):
        got = common.plan_chunks(9, mark_every=4, steps_per_epoch=3)
        self.assertEqual([(c.start, c.end, c.epoch) for c in got],
                         [(0, 3, 0), (3, 4, 1), (4, 6, 1), (6, 8, 2), (8, 9, 2)])

    def test_chunks_cover_every_step_once(self):
        for total, every, epoch in ((1, 1, None), (10, 3, None), (100, 7, 13), (12, 0, 12)):
            got = common.plan_chunks(total, every, epoch)
            self.assertEqual(got[0].start, 0)
            self.assertEqual(got[-1].end, total)
            for a, b in zip(got, got[1:]):
                self.assertEqual(a.end, b.start)
            self.assertTrue(all(c.end > c.start for c in got))

    def test_empty(self):
        self.assertEqual(common.plan_chunks(0, 5), [])

    def test_round_steps_rounds_halves_up(self):
        self.assertEqual([common.round_steps(n, 4) for n in (1, 2, 5, 6, 7)], [0, 1, 1, 2, 2])


class FakeClient:
    def __init__(self, fail=False):
        self.calls, self.fail = [], fail

    def _record(self, kind, name, counts):
        if self.fail:
            raise OSError("recorder gone")
        self.calls.append((kind, name, counts))

    def begin(self, name, **counts):
        self._record("begin", name, counts)

    def end(self, name, **counts):
        self._record("end", name, counts)

    def mark(self, name, **counts):
        self._record("mark", name, counts)


class MarkerTest(unittest.TestCase):
    def test_only_the_sender_marks_and_every_rank_syncs_first(self):
        events = []
        for rank in (0, 1):
            client = FakeClient()
            sync = lambda r=rank: events.append(("sync", r))  # noqa: E731
            m = common.Marker(client, sender=rank == 0, sync=sync)
            m.transition(end="warmup", end_counts={"samples": 64, "step": 2}, begin="train")
            m.transition(end="train", end_counts={"samples": 128, "step": 4})
            if rank == 0:
                self.assertEqual(client.calls, [
                    ("end", "warmup", {"samples": 64, "step": 2}),
                    ("begin", "train", {}),
                    ("end", "train", {"samples": 128, "step": 4}),
                ])
            else:
                self.assertEqual(client.calls, [])
        self.assertEqual(events, [("sync", 0), ("sync", 0), ("sync", 1), ("sync", 1)])

    def test_sync_happens_before_the_mark(self):
        order = []
        client = FakeClient()
        client.begin = lambda name, **c: order.append("begin")
        m = common.Marker(client, sender=True, sync=lambda: order.append("sync"))
        m.transition(begin="setup")
        self.assertEqual(order, ["sync", "begin"])

    def test_a_failing_recorder_does_not_stop_training(self):
        logged = []
        m = common.Marker(FakeClient(fail=True), sender=True, log=logged.append)
        m.transition(end="a", begin="b")
        m.point("oom")
        self.assertEqual(len(logged), 1)  # warned once, then quiet
        self.assertIn("recorder gone", logged[0])


    def test_undelivered_marks_are_reported_once_when_a_recorder_should_listen(self):
        client = FakeClient()
        client.end = lambda name, **c: False  # the real client's "not sent"
        for socket_env, warnings in (("", 0), ("/run/wp.sock", 1)):
            logged = []
            m = common.Marker(client, sender=True, log=logged.append)
            with mock.patch.dict(os.environ, {"WATTPROF_SOCKET": socket_env}):
                m.transition(end="a")
                m.transition(end="b")
            self.assertEqual(len(logged), warnings, logged)
            if warnings:
                self.assertIn("/run/wp.sock", logged[0])


class WorldEnvTest(unittest.TestCase):
    def test_plain_process_is_rank_0_of_1(self):
        self.assertEqual(common.world_from_env({}), common.World(0, 0, 1, False))

    def test_torchrun_environment(self):
        w = common.world_from_env({"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8",
                                   "MASTER_ADDR": "h", "MASTER_PORT": "1"})
        self.assertEqual(w, common.World(5, 1, 8, True))

    def test_rejects_nonsense(self):
        for env in ({"WORLD_SIZE": "0"}, {"WORLD_SIZE": "2", "RANK": "2"},
                    {"LOCAL_RANK": "-1"}, {"RANK": "one"}):
            with self.assertRaises(ValueError):
                common.world_from_env(env)

    def test_check_global_batch(self):
        self.assertEqual(common.check_global_batch(4096, 8), 512)
        with self.assertRaises(ValueError):
            common.check_global_batch(100, 8)


class MarksClientTest(unittest.TestCase):
    """load_marks_client finds the repository's python/ relative to common.py."""

    def tree(self, with_client):
        root = tempfile.mkdtemp(prefix="wp-tree-", dir=ENV.dir)
        wl = os.path.join(root, "bench", "workloads")
        os.makedirs(wl)
        shutil.copy(os.path.join(WORKLOADS, "common.py"), wl)
        if with_client:
            pkg = os.path.join(root, "python", "wattprof")
            os.makedirs(pkg)
            with open(os.path.join(pkg, "__init__.py"), "w") as f:
                f.write("def begin(n, **c): pass\ndef end(n, **c): pass\ndef mark(n, **c): pass\n")
        return wl

    def load(self, wl, socket_path=""):
        code = textwrap.dedent(f"""
            import sys
            sys.path.insert(0, {wl!r})
            import common
            try:
                c = common.load_marks_client()
                print(type(c).__name__, getattr(c, '__file__', ''))
            except common.MarksUnavailable as e:
                print('unavailable', e)
        """)
        env = {"PATH": os.environ.get("PATH", "")}
        if socket_path:
            env["WATTPROF_SOCKET"] = socket_path
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()

    def test_uses_the_client_beside_the_workloads(self):
        wl = self.tree(with_client=True)
        out = self.load(wl, "/nonexistent.sock")
        self.assertTrue(out.startswith("module "), out)
        self.assertIn(os.path.join(os.path.dirname(os.path.dirname(wl)), "python", "wattprof"), out)

    def test_no_client_no_recorder_is_a_silent_no_op(self):
        self.assertTrue(self.load(self.tree(with_client=False)).startswith("_NoMarks"))

    def test_no_client_but_recorder_listening_is_an_error(self):
        out = self.load(self.tree(with_client=False), "/tmp/x.sock")
        self.assertTrue(out.startswith("unavailable"), out)


@unittest.skipUnless(os.path.isfile(os.path.join(ROOT, "python", "wattprof", "__init__.py")),
                     "the wattprof Python client is not in this checkout yet")
class RealClientTest(unittest.TestCase):
    """The marks a workload sends reach a recorder's socket through the real client."""

    def test_marks_arrive_on_the_socket(self):
        path = os.path.join(ENV.dir, "marks.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)
        try:
            code = textwrap.dedent(f"""
                import sys
                sys.path.insert(0, {WORKLOADS!r})
                import common
                m = common.Marker(common.load_marks_client(), sender=True)
                m.transition(begin="train")
                m.transition(end="train", end_counts=dict(samples=1024, step=3))
            """)
            env = {"PATH": os.environ.get("PATH", ""), "WATTPROF_SOCKET": path}
            p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env=env, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            first = sock.recv(65536).decode()
            second = sock.recv(65536).decode()
        finally:
            sock.close()
        # The protocol: "VERB NAME [KEY=VALUE ...]", counts on the end mark only.
        self.assertEqual(first.split(), ["begin", "train"])
        self.assertEqual(second.split(), ["end", "train", "samples=1024", "step=3"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
