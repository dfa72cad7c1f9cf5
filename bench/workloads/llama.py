#!/usr/bin/env python3
"""Llama-2-architecture causal-LM training, the second workload of Latif et al.
(arXiv 2412.08602: Llama2-13b fine-tuning on an 8-GPU H100 node).

Run `llama.py --help` for what it measures and how to launch it. The torch imports live in
functions called after argument checking, so that --help, the checks and --dry-run work
without PyTorch.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402 (needs the path above)

# Before anything can import torch and initialise NCCL.
common.disable_nvlink_multicast()

# Llama-2 shapes (7b, 13b: the published models; 1b: TinyLlama-1.1B, a Llama-2-architecture
# model with grouped-query attention; tiny: smoke tests).
PRESETS = {
    "tiny": dict(dim=256, layers=4, heads=4, kv_heads=4, ffn=688, vocab=32000, seq_len=2048),
    "1b": dict(dim=2048, layers=22, heads=32, kv_heads=4, ffn=5632, vocab=32000, seq_len=2048),
    "7b": dict(dim=4096, layers=32, heads=32, kv_heads=32, ffn=11008, vocab=32000, seq_len=4096),
    "13b": dict(dim=5120, layers=40, heads=40, kv_heads=40, ffn=13824, vocab=32000, seq_len=4096),
}
NORM_EPS = 1e-5
ROPE_THETA = 10000.0
INIT_STD = 0.02

DESCRIPTION = """\
Trains a Llama-2-architecture causal language model (RMSNorm, rotary position embeddings,
SwiGLU MLP, multi-head or grouped-query attention through scaled_dot_product_attention) from
random initialisation on random tokens: the LLM workload of Latif et al. (arXiv 2412.08602),
who fine-tuned Llama2-13b on an 8-GPU H100 node. Energy depends on the shapes and the
arithmetic, not on the weights' values, so no checkpoint or dataset is needed.

Parallelism: FSDP (FSDP2 fully_shard where available, else FullyShardedDataParallel), full
sharding, one unit per transformer block, bf16 parameters and compute with fp32 gradient
reduction and fp32 master weights, activation checkpointing per block; --ddp replicates the
model instead (small presets only; bf16 autocast). AdamW.

What it measures: tokens/s over the measured steps, after --warmup-steps that are not
measured, and model FLOPs per step:
    flops/step = 6 * N * T  +  12 * layers * dim * seq_len * T
where T = global batch * seq_len tokens and N = parameters without the input embedding
table (its lookup is no matrix product; the output projection is counted). The first term is
the weight matrix products forward and backward (2 + 4 FLOPs per parameter and token), the
second the attention score and value products (PaLM's convention: the causal mask's skipped
half is counted, the recomputation of checkpointing is not). MFU = flops/s / (GPUs *
--peak-tflops).

Phase marks (under `wattprof run`; rank 0 sends them after all GPUs have synchronised):
"setup", "warmup", then "train" phases, one per --mark-every steps (one for the whole run by
default). Each phase's end mark carries samples= (sequences), tokens=, flops= (model FLOPs in
that phase, whole job) and step= (optimizer steps done so far, warmup included).

Output: progress on stderr; one JSON line on stdout at the end (tokens_per_s, mfu, time_s,
the configuration). Out of GPU memory: a one-line message with the memory numbers, a JSON
line with "status":"oom", exit status 3, so a sweep can go on to the next point."""

EPILOG = """\
examples:
  # one GPU, TinyLlama-sized model
  python3 bench/workloads/llama.py
  # smoke test
  python3 bench/workloads/llama.py --preset tiny --steps 20
  # the study's model on all 8 GPUs of a node
  torchrun --standalone --nproc_per_node=8 bench/workloads/llama.py --preset 13b --global-batch 16
  # recorded by wattprof, with phase marks
  wattprof run -- torchrun --standalone --nproc_per_node=2 bench/workloads/llama.py --preset 7b
  # batch-size sweep (out-of-memory points exit non-zero and the sweep goes on)
  wattprof sweep --param gb=8,16,32,64 -- torchrun --standalone --nproc_per_node=8 \\
      bench/workloads/llama.py --preset 13b --global-batch {gb}
  # parameter count, FLOPs and step plan for 8 GPUs, without a GPU
  WORLD_SIZE=8 python3 bench/workloads/llama.py --preset 13b --dry-run

The NVLink-multicast switches NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1 and
NVSHMEM_DISABLE_NVLS=1 are always set in the process environment."""


def build_parser():
    p = argparse.ArgumentParser(
        prog="llama.py", description=DESCRIPTION, epilog=EPILOG, formatter_class=common.HelpFormatter
    )
    p.add_argument("--preset", choices=sorted(PRESETS), default="1b",
                   help="model shape; the flags below override single fields")
    p.add_argument("--dim", type=common.positive_int, help="model width (preset's by default)")
    p.add_argument("--layers", type=common.positive_int, help="transformer blocks")
    p.add_argument("--heads", type=common.positive_int, help="attention (query) heads")
    p.add_argument("--kv-heads", type=common.positive_int,
                   help="key/value heads (fewer than --heads: grouped-query attention)")
    p.add_argument("--ffn", type=common.positive_int, help="SwiGLU hidden width")
    p.add_argument("--vocab", type=common.positive_int, help="vocabulary size")
    p.add_argument("--seq-len", type=common.positive_int,
                   help="tokens per sequence (default 2048; 4096 for 7b and 13b)")
    p.add_argument("--global-batch", type=common.positive_int, default=16,
                   help="sequences per optimizer step over all GPUs; each GPU gets "
                   "global/world-size (must divide evenly)")
    p.add_argument("--steps", type=common.positive_int, default=120,
                   help="measured optimizer steps (the default is about a minute for 1b on 2 H200s)")
    p.add_argument("--warmup-steps", type=common.nonneg_int, default=10,
                   help="steps before measuring, marked as phase 'warmup'")
    p.add_argument("--mark-every", type=common.nonneg_int, default=0,
                   help="end a 'train' phase every N steps (0: one phase for the whole run)")
    p.add_argument("--ddp", action="store_true",
                   help="DistributedDataParallel (full replica per GPU) instead of FSDP")
    p.add_argument("--no-checkpoint", action="store_true",
                   help="keep all activations instead of recomputing each block in backward")
    p.add_argument("--lr", type=common.positive_float, default=3e-4, help="AdamW learning rate")
    p.add_argument("--peak-tflops", type=common.positive_float, default=989.0,
                   help="per-GPU peak for MFU (989: H100/H200 SXM dense bf16)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initialisation and of the tokens (rank r draws from "
                   "seed*1000+r)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved configuration, parameter count, FLOPs and planned "
                   "phases as JSON and exit without importing torch")
    return p


def model_shape(args):
    shape = dict(PRESETS[args.preset])
    for key in ("dim", "layers", "heads", "kv_heads", "ffn", "vocab", "seq_len"):
        value = getattr(args, key)
        if value is not None:
            shape[key] = value
    return shape


def param_count(shape):
    """Parameters of the model below, by formula: (total, input embedding table)."""
    d, hd = shape["dim"], shape["dim"] // shape["heads"]
    kv_dim = hd * shape["kv_heads"]
    per_layer = (
        d * d + 2 * d * kv_dim + d * d  # wq, wk and wv, wo
        + 3 * d * shape["ffn"]          # SwiGLU w1, w3 (gate, up), w2 (down)
        + 2 * d                         # two RMSNorm weights
    )
    embedding = shape["vocab"] * d
    total = embedding + shape["layers"] * per_layer + d + d * shape["vocab"]  # + final norm, output
    return total, embedding


def flops_per_step(shape, global_batch, n_params):
    """Model FLOPs of one optimizer step (see the --help text for the formula's why)."""
    tokens = global_batch * shape["seq_len"]
    dense = 6 * n_params * tokens
    attention = 12 * shape["layers"] * shape["dim"] * shape["seq_len"] * tokens
    return dense + attention


def resolve(args, parser, world):
    """Checks the arguments against the world size and computes sizes and FLOPs, without
    torch. Returns a JSON-able dict; exits through parser.error on bad input."""
    try:
        per_gpu = common.check_global_batch(args.global_batch, world.world_size)
    except ValueError as e:
        parser.error(str(e))
    shape = model_shape(args)
    if shape["dim"] % shape["heads"]:
        parser.error(f"--dim {shape['dim']} is not divisible by --heads {shape['heads']}")
    if (shape["dim"] // shape["heads"]) % 2:
        parser.error(f"head size {shape['dim'] // shape['heads']} (dim / heads) must be even "
                     f"for rotary embeddings")
    if shape["heads"] % shape["kv_heads"]:
        parser.error(f"--heads {shape['heads']} is not a multiple of --kv-heads {shape['kv_heads']}")
    total, embedding = param_count(shape)
    n = total - embedding
    fps = flops_per_step(shape, args.global_batch, n)
    parallel = "ddp" if args.ddp else "fsdp"
    # Weights, gradients and AdamW's two moments, all fp32: 16 bytes a parameter, divided over
    # the GPUs under FSDP. Activations and temporary buffers come on top.
    states = 16 * total / (1 if args.ddp else world.world_size)
    return {
        "workload": "llama",
        "preset": args.preset,
        **shape,
        "head_dim": shape["dim"] // shape["heads"],
        "world_size": world.world_size,
        "parallel": parallel,
        "activation_checkpointing": not args.no_checkpoint,
        "global_batch": args.global_batch,
        "per_gpu_batch": per_gpu,
        "tokens_per_step": args.global_batch * shape["seq_len"],
        "params": total,
        "params_no_embedding": n,
        "flops_per_step": fps,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "mark_every": args.mark_every,
        "peak_tflops": args.peak_tflops,
        "dtype": "bf16",
        "optimizer": "adamw",
        "lr": args.lr,
        "seed": args.seed,
        "est_state_gib_per_gpu": round(common.gib(states), 2),
    }


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        world = common.world_from_env()
    except ValueError as e:
        parser.error(str(e))
    cfg = resolve(args, parser, world)
    chunks = (common.plan_chunks(cfg["steps"], cfg["mark_every"])) if args.dry_run else None
    return common.dry_run_or_start("llama.py", dict(cfg, dry_run=args.dry_run), chunks,
                                   lambda marks: run(args, cfg, world, marks))


def define_model():
    """The model's classes; defined in a function so that the module imports without torch."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    class RMSNorm(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(dim))

        def forward(self, x):
            # Normalise in fp32 (bf16's 8-bit mantissa is too coarse for the mean of squares).
            xf = x.float()
            xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + NORM_EPS)
            return xf.type_as(x) * self.weight

    def rope_tables(head_dim, seq_len, device):
        inv_freq = 1.0 / (ROPE_THETA ** (
            torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(seq_len, device=device, dtype=torch.float32), inv_freq)
        angles = torch.cat([angles, angles], dim=-1)  # (seq, head_dim), halves paired
        return angles.cos(), angles.sin()

    def apply_rope(x, cos, sin):
        # x: (batch, seq, heads, head_dim). Rotates the pairs (i, i + head_dim/2).
        x1, x2 = x.chunk(2, dim=-1)
        rotated = torch.cat([-x2, x1], dim=-1)
        cos, sin = cos[None, :, None, :], sin[None, :, None, :]
        return (x.float() * cos + rotated.float() * sin).type_as(x)

    class Attention(nn.Module):
        def __init__(self, s):
            super().__init__()
            self.heads, self.kv_heads = s["heads"], s["kv_heads"]
            self.head_dim = s["dim"] // s["heads"]
            self.wq = nn.Linear(s["dim"], self.heads * self.head_dim, bias=False)
            self.wk = nn.Linear(s["dim"], self.kv_heads * self.head_dim, bias=False)
            self.wv = nn.Linear(s["dim"], self.kv_heads * self.head_dim, bias=False)
            self.wo = nn.Linear(self.heads * self.head_dim, s["dim"], bias=False)

        def forward(self, x, cos, sin):
            b, t, _ = x.shape
            q = self.wq(x).view(b, t, self.heads, self.head_dim)
            k = self.wk(x).view(b, t, self.kv_heads, self.head_dim)
            v = self.wv(x).view(b, t, self.kv_heads, self.head_dim)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (b, h, t, hd)
            rep = self.heads // self.kv_heads
            if rep > 1:
                # Grouped-query attention: each key/value head serves `rep` query heads. Expanded
                # explicitly rather than with SDPA's enable_gqa, which not every backend takes.
                k = k[:, :, None].expand(b, self.kv_heads, rep, t, self.head_dim).reshape(
                    b, self.heads, t, self.head_dim)
                v = v[:, :, None].expand(b, self.kv_heads, rep, t, self.head_dim).reshape(
                    b, self.heads, t, self.head_dim)
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.wo(o.transpose(1, 2).reshape(b, t, self.heads * self.head_dim))

    class FeedForward(nn.Module):
        def __init__(self, s):
            super().__init__()
            self.w1 = nn.Linear(s["dim"], s["ffn"], bias=False)  # gate
            self.w3 = nn.Linear(s["dim"], s["ffn"], bias=False)  # up
            self.w2 = nn.Linear(s["ffn"], s["dim"], bias=False)  # down

        def forward(self, x):
            return self.w2(F.silu(self.w1(x)) * self.w3(x))

    class Block(nn.Module):
        def __init__(self, s, checkpointed):
            super().__init__()
            self.attention_norm = RMSNorm(s["dim"])
            self.attention = Attention(s)
            self.ffn_norm = RMSNorm(s["dim"])
            self.feed_forward = FeedForward(s)
            self.checkpointed = checkpointed

        def _forward(self, x, cos, sin):
            h = x + self.attention(self.attention_norm(x), cos, sin)
            return h + self.feed_forward(self.ffn_norm(h))

        def forward(self, x, cos, sin):
            if self.checkpointed and torch.is_grad_enabled():
                # Keeps only the block's input; the block is run again in backward. No dropout,
                # so the RNG state need not be saved and restored.
                return checkpoint(self._forward, x, cos, sin, use_reentrant=False,
                                  preserve_rng_state=False)
            return self._forward(x, cos, sin)

    class Llama(nn.Module):
        def __init__(self, s, checkpointed):
            super().__init__()
            self.tok_embeddings = nn.Embedding(s["vocab"], s["dim"])
            self.layers = nn.ModuleList(Block(s, checkpointed) for _ in range(s["layers"]))
            self.norm = RMSNorm(s["dim"])
            self.output = nn.Linear(s["dim"], s["vocab"], bias=False)
            hd = s["dim"] // s["heads"]
            # Filled by init_module; not saved in state dicts (derived from the shape).
            self.register_buffer("rope_cos", torch.empty(s["seq_len"], hd), persistent=False)
            self.register_buffer("rope_sin", torch.empty(s["seq_len"], hd), persistent=False)

        def forward(self, tokens):
            t = tokens.shape[1]
            h = self.tok_embeddings(tokens)
            cos, sin = self.rope_cos[:t], self.rope_sin[:t]
            for layer in self.layers:
                h = layer(h, cos, sin)
            return self.output(self.norm(h))

    @torch.no_grad()
    def init_module(m):
        """Initialises the parameters and buffers that module m holds itself (not those of its
        children), as FSDP1's param_init_fn requires; init_weights applies it to all."""
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=INIT_STD)
        elif isinstance(m, RMSNorm):
            nn.init.ones_(m.weight)
        elif isinstance(m, Llama):
            cos, sin = rope_tables(m.rope_cos.shape[1], m.rope_cos.shape[0], m.rope_cos.device)
            m.rope_cos.copy_(cos)
            m.rope_sin.copy_(sin)

    def init_weights(model):
        for m in model.modules():
            init_module(m)

    return Llama, Block, init_module, init_weights


def import_fully_shard():
    """FSDP2's fully_shard and MixedPrecisionPolicy, or None where this torch lacks them."""
    try:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard  # torch >= 2.6
        return fully_shard, MixedPrecisionPolicy
    except ImportError:
        pass
    try:
        from torch.distributed._composable.fsdp import MixedPrecisionPolicy, fully_shard  # 2.4, 2.5
        return fully_shard, MixedPrecisionPolicy
    except ImportError:
        return None


def build(torch, args, cfg, d, log):
    """Builds the model on the meta device (no memory), then shards or replicates it and only
    then allocates and initialises it on the GPU: a 13b model never exists whole in one
    process. Returns (model, autocast context factory, description of the parallelism)."""
    import contextlib
    import functools

    Llama, Block, init_module, init_weights = define_model()
    shape = {k: cfg[k] for k in ("dim", "layers", "heads", "kv_heads", "ffn", "vocab", "seq_len")}
    with torch.device("meta"):
        model = Llama(shape, checkpointed=cfg["activation_checkpointing"])
    n_actual = sum(p.numel() for p in model.parameters())
    if n_actual != cfg["params"]:  # the FLOP formula relies on the count: say if they diverge
        log(f"warning: model has {n_actual} parameters, the formula says {cfg['params']}")
    bf16 = torch.bfloat16
    no_autocast = contextlib.nullcontext

    if args.ddp:
        from torch.nn.parallel import DistributedDataParallel as DDP

        model.to_empty(device=d.device)
        init_weights(model)
        if d.world_size > 1:
            model = DDP(model, device_ids=[d.local_rank], gradient_as_bucket_view=True)
        return model, functools.partial(torch.autocast, device_type="cuda", dtype=bf16), "ddp"

    fsdp2 = import_fully_shard()
    if fsdp2 is not None:
        fully_shard, MixedPrecisionPolicy = fsdp2
        mp = MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=torch.float32)
        # A block's input is already bf16 (it comes from bf16 weights); not casting inputs
        # keeps the fp32 rotary tables that are passed along with it in fp32.
        mp_block = MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=torch.float32,
                                        cast_forward_inputs=False)
        for block in model.layers:
            fully_shard(block, mp_policy=mp_block)  # reshard_after_forward defaults to True
        fully_shard(model, mp_policy=mp)
        model.to_empty(device=d.device)
        init_weights(model)
        return model, no_autocast, "fsdp2"

    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp import MixedPrecision, ShardingStrategy
    from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy

    def materialise(m):
        m.to_empty(device=d.device, recurse=False)
        init_module(m)

    model = FSDP(
        model,
        auto_wrap_policy=functools.partial(transformer_auto_wrap_policy, transformer_layer_cls={Block}),
        mixed_precision=MixedPrecision(param_dtype=bf16, reduce_dtype=torch.float32),
        sharding_strategy=ShardingStrategy.FULL_SHARD,
        device_id=d.device,
        param_init_fn=materialise,
        use_orig_params=True,
        limit_all_gathers=True,
    )
    return model, no_autocast, "fsdp1"


def run(args, cfg, world, marks):
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F

    d = common.init_distributed(torch, world)
    rank0 = d.rank == 0
    log = common.log if rank0 else (lambda msg: None)
    sync = common.make_sync(torch, d.device)
    marker = common.Marker(marks, sender=rank0, sync=sync)
    # Same seed on every rank: the (sharded) initialisation must agree across ranks.
    torch.manual_seed(args.seed)
    cfg = dict(cfg, gpu=torch.cuda.get_device_name(d.device), torch=torch.__version__)
    step_count = 0
    try:
        marker.transition(begin="setup")
        model, autocast, cfg["parallel"] = build(torch, args, cfg, d, log)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
        g = torch.Generator(device=d.device)
        g.manual_seed(args.seed * 1000 + d.rank)
        tokens = torch.randint(0, cfg["vocab"], (cfg["per_gpu_batch"], cfg["seq_len"] + 1),
                               device=d.device, generator=g)
        inputs, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

        def step():
            with autocast():
                logits = model(inputs)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss

        gb, fps, tps = cfg["global_batch"], cfg["flops_per_step"], cfg["tokens_per_step"]
        log(f"llama: preset {cfg['preset']} ({cfg['params'] / 1e9:.2f} B parameters), "
            f"{cfg['parallel']}, {d.world_size} GPU(s) ({cfg['gpu']}), global batch {gb} x "
            f"{cfg['seq_len']} tokens ({cfg['per_gpu_batch']}/GPU), {cfg['steps']} steps + "
            f"{args.warmup_steps} warmup, checkpointing {'on' if cfg['activation_checkpointing'] else 'off'}")
        loss = None
        if args.warmup_steps:
            marker.transition(end="setup", begin="warmup")
            for _ in range(args.warmup_steps):
                loss = step()
                step_count += 1
            w = args.warmup_steps
            end, end_counts = "warmup", dict(samples=w * gb, tokens=w * tps, flops=w * fps,
                                              step=step_count)
        else:
            end, end_counts = "setup", {}
        chunks = common.plan_chunks(cfg["steps"], cfg["mark_every"])
        t0 = marker.transition(end=end, end_counts=end_counts, begin="train")
        t_chunk = t0
        for i, c in enumerate(chunks):
            for _ in range(c.start, c.end):
                loss = step()
                step_count += 1
            n = c.end - c.start
            counts = dict(samples=n * gb, tokens=n * tps, flops=n * fps, step=step_count)
            last = i == len(chunks) - 1
            t = marker.transition(end="train", end_counts=counts, begin=None if last else "train")
            if len(chunks) > 1:
                log(f"train: steps {c.start}-{c.end}: {n * tps / (t - t_chunk):.0f} tokens/s, "
                    f"MFU {n * fps / (t - t_chunk) / (d.world_size * args.peak_tflops * 1e12):.3f}")
            t_chunk = t
        elapsed = t_chunk - t0

        loss_t = loss.detach().float().reshape(1)
        dist.all_reduce(loss_t)
        mem = torch.tensor([torch.cuda.max_memory_allocated(d.device)], dtype=torch.float64,
                           device=d.device)
        dist.all_reduce(mem, op=dist.ReduceOp.MAX)
        flops_per_s = cfg["steps"] * fps / elapsed
        result = dict(
            cfg,
            status="ok",
            time_s=round(elapsed, 3),
            tokens=cfg["steps"] * tps,
            tokens_per_s=round(cfg["steps"] * tps / elapsed, 1),
            tokens_per_s_per_gpu=round(cfg["steps"] * tps / elapsed / d.world_size, 1),
            step_ms=round(1000 * elapsed / cfg["steps"], 3),
            model_tflops_per_s_per_gpu=round(flops_per_s / d.world_size / 1e12, 2),
            mfu=round(flops_per_s / (d.world_size * args.peak_tflops * 1e12), 4),
            loss=round(loss_t.item() / d.world_size, 4),
            max_mem_gib=round(common.gib(mem.item()), 2),
        )
    except torch.cuda.OutOfMemoryError:
        common.exit_out_of_memory(
            torch, d, marker, dict(cfg, step=step_count),
            f"preset {cfg['preset']}, {cfg['parallel']}, global batch {cfg['global_batch']} x "
            f"{cfg['seq_len']}, {cfg['per_gpu_batch']}/GPU",
            "use more GPUs, a smaller --global-batch or --seq-len"
            + (", or FSDP instead of --ddp" if args.ddp else "")
            + (", or drop --no-checkpoint" if args.no_checkpoint else ""),
        )
    if rank0:
        log(f"llama: {result['tokens_per_s']:.0f} tokens/s, MFU {result['mfu']:.3f} over "
            f"{cfg['steps']} steps ({result['time_s']:.1f} s)")
        common.emit_result(result)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
