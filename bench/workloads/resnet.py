#!/usr/bin/env python3
"""ResNet image-classification training, the first workload of Latif et al. (arXiv 2412.08602).

Run `resnet.py --help` for what it measures and how to launch it. The torch imports live in
run() so that --help, argument checks and --dry-run work without PyTorch.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402 (needs the path above)

# Before anything can import torch and initialise NCCL.
common.disable_nvlink_multicast()

IMAGENET_TRAIN_IMAGES = 1281167  # ImageNet-1k training set: the synthetic data's epoch

DESCRIPTION = """\
Trains a torchvision ResNet (default ResNet-152) on ImageNet-shaped images with
DistributedDataParallel, one process per GPU, bf16 autocast and channels_last, SGD with
momentum: the image-classification workload of Latif et al. (arXiv 2412.08602), where going
from global batch 512 to 4096 on an 8-GPU H100 node cut training energy 4x.

What it measures: images/s over the measured steps, after --warmup-steps that are not
measured (cuDNN autotuning, torch.compile). By default the data are synthetic (random
3x224x224 images and labels, generated once on each GPU: no input pipeline, no host-to-device
copies); --data DIR trains on an ImageFolder tree instead.

Phase marks (under `wattprof run`, which sets WATTPROF_SOCKET; rank 0 sends them after all
GPUs have synchronised): "setup" (model, data), "warmup", then "train" phases, one per
--mark-every steps and per epoch (one for the whole run by default). Each phase's end mark
carries samples= (images in that phase, whole job), step= (optimizer steps done so far,
warmup included) and, with --epochs, epoch=.

Output: progress on stderr; one JSON line on stdout at the end (images_per_s, steps,
time_s, the configuration). Out of GPU memory: a one-line message, a JSON line with
"status":"oom", exit status 3."""

EPILOG = """\
examples:
  # one GPU, defaults (global batch 512, 163,840 images)
  python3 bench/workloads/resnet.py
  # all 8 GPUs of a node, the study's largest batch
  torchrun --standalone --nproc_per_node=8 bench/workloads/resnet.py --global-batch 4096
  # recorded by wattprof, with phase marks
  wattprof run -- torchrun --standalone --nproc_per_node=2 bench/workloads/resnet.py
  # batch-size sweep (same number of images per run, so energies compare directly)
  wattprof sweep --param gb=512,1024,2048,4096 -- torchrun --standalone --nproc_per_node=8 \\
      bench/workloads/resnet.py --global-batch {gb}
  # check a configuration for 8 GPUs without a GPU
  WORLD_SIZE=8 python3 bench/workloads/resnet.py --global-batch 4096 --dry-run

The NVLink-multicast switches NCCL_NVLS_ENABLE=0, TORCH_SYMM_MEM_DISABLE_MULTICAST=1 and
NVSHMEM_DISABLE_NVLS=1 are always set in the process environment."""

ARCHS = ("resnet152", "resnet101", "resnet50")


def build_parser():
    p = argparse.ArgumentParser(
        prog="resnet.py", description=DESCRIPTION, epilog=EPILOG, formatter_class=common.HelpFormatter
    )
    p.add_argument("--arch", choices=ARCHS, default="resnet152", help="torchvision model")
    p.add_argument(
        "--global-batch", type=common.positive_int, default=512,
        help="images per optimizer step over all GPUs; each GPU gets global/world-size "
        "(must divide evenly). The study used 512 to 4096 on 8 GPUs",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--images", type=common.positive_int, default=None,
        help="images to train on (measured part); steps = images / global batch, rounded "
        "(default 163840 when --epochs is not given: about a minute on 2 H200s)",
    )
    size.add_argument(
        "--epochs", type=common.positive_int, default=None,
        help="train this many epochs instead: passes over --data, or over --epoch-images "
        "synthetic images",
    )
    p.add_argument(
        "--epoch-images", type=common.positive_int, default=IMAGENET_TRAIN_IMAGES,
        help="images in one synthetic epoch (1281167: ImageNet-1k's training set)",
    )
    p.add_argument(
        "--warmup-steps", type=common.nonneg_int, default=10,
        help="steps before measuring, marked as phase 'warmup' (not counted in images/s)",
    )
    p.add_argument(
        "--mark-every", type=common.nonneg_int, default=0,
        help="end a 'train' phase every N steps (0: only at epoch ends and at the end)",
    )
    p.add_argument(
        "--data", metavar="DIR", default=None,
        help="ImageFolder training tree (DIR/class/image.jpg) instead of synthetic data",
    )
    p.add_argument("--workers", type=common.nonneg_int, default=8,
                   help="DataLoader worker processes per GPU (with --data)")
    p.add_argument("--image-size", type=common.positive_int, default=224,
                   help="image height and width")
    p.add_argument("--classes", type=common.positive_int, default=1000,
                   help="classes of the synthetic data (with --data: the folder's classes)")
    p.add_argument("--lr", type=common.positive_float, default=0.1, help="SGD learning rate")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="SGD weight decay")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model (compilation happens in the warmup steps)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the model initialisation and of the synthetic data "
                   "(rank r draws its images from seed*1000+r)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved configuration and planned phases as JSON and exit "
                   "without importing torch")
    return p


def resolve(args, parser, world):
    """Checks the arguments against the world size and works out the step plan, without
    torch. Returns a JSON-able dict; exits through parser.error on bad input."""
    try:
        per_gpu = common.check_global_batch(args.global_batch, world.world_size)
    except ValueError as e:
        parser.error(str(e))
    if args.data is not None and not os.path.isdir(args.data):
        parser.error(f"--data {args.data}: not a directory (expected an ImageFolder tree)")
    if args.momentum < 0 or args.weight_decay < 0:
        parser.error("--momentum and --weight-decay must be >= 0")
    gb = args.global_batch
    cfg = {
        "workload": "resnet",
        "arch": args.arch,
        "world_size": world.world_size,
        "global_batch": gb,
        "per_gpu_batch": per_gpu,
        "image_size": args.image_size,
        "data": args.data or "synthetic",
        "warmup_steps": args.warmup_steps,
        "mark_every": args.mark_every,
        "compile": args.compile,
        "dtype": "bf16-autocast",
        "memory_format": "channels_last",
        "optimizer": "sgd",
        "lr": args.lr,
        "seed": args.seed,
    }
    steps_per_epoch = None
    if args.epochs is None:
        images = args.images if args.images is not None else 163840
        steps = common.round_steps(images, gb)
        if steps < 1:
            parser.error(f"--images {images} is less than half a global batch ({gb})")
        cfg.update(requested_images=images)
    else:
        cfg.update(epochs=args.epochs)
        if args.data is None:
            steps_per_epoch = args.epoch_images // gb
            if steps_per_epoch < 1:
                parser.error(f"--epoch-images {args.epoch_images} is smaller than the global batch {gb}")
            steps = args.epochs * steps_per_epoch
        else:
            steps = None  # known once the dataset has been scanned
    cfg.update(steps=steps, steps_per_epoch=steps_per_epoch,
               images=steps * gb if steps is not None else None)
    return cfg


def plan(cfg):
    return common.plan_chunks(cfg["steps"], cfg["mark_every"], cfg["steps_per_epoch"])


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        world = common.world_from_env()
    except ValueError as e:
        parser.error(str(e))
    cfg = resolve(args, parser, world)
    chunks = (plan(cfg) if cfg["steps"] is not None else None) if args.dry_run else None
    return common.dry_run_or_start("resnet.py", dict(cfg, dry_run=args.dry_run), chunks,
                                   lambda marks: run(args, cfg, world, marks))


def synthetic_batches(torch, cfg, dist_info, seed):
    """One batch per GPU, made once on the GPU and returned for every step: the measurement is
    of the model, not of an input pipeline. Random normal pixels rather than zeros because the
    GPU's power depends on the data's bits (a bf16 GEMM on zeros draws less)."""
    g = torch.Generator(device=dist_info.device)
    g.manual_seed(seed * 1000 + dist_info.rank)
    n, s = cfg["per_gpu_batch"], cfg["image_size"]
    x = torch.randn(n, 3, s, s, device=dist_info.device, generator=g)
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, cfg["classes"], (n,), device=dist_info.device, generator=g)

    def batches():
        while True:
            yield x, y

    return batches()


def folder_batches(torch, args, cfg, dist_info):
    """ImageFolder + DistributedSampler + DataLoader; returns (iterator, batches per pass,
    number of classes). The iterator runs over the data again and again, reshuffling each pass."""
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler
    from torchvision import datasets, transforms

    tf = transforms.Compose([
        transforms.RandomResizedCrop(cfg["image_size"]),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(args.data, transform=tf)
    sampler = DistributedSampler(ds, num_replicas=dist_info.world_size, rank=dist_info.rank,
                                 shuffle=True, seed=args.seed, drop_last=True)
    kw = dict(batch_size=cfg["per_gpu_batch"], sampler=sampler, num_workers=args.workers,
              pin_memory=True, drop_last=True)
    if args.workers > 0:
        kw.update(persistent_workers=True, prefetch_factor=4)
    loader = DataLoader(ds, **kw)
    per_pass = len(loader)
    if per_pass < 1:
        raise SystemExit(f"error: {args.data} has {len(ds)} images: fewer than one global "
                         f"batch of {cfg['global_batch']}")
    device = dist_info.device

    def batches():
        epoch = 0
        while True:
            sampler.set_epoch(epoch)
            for x, y in loader:
                yield (x.to(device, non_blocking=True, memory_format=torch.channels_last),
                       y.to(device, non_blocking=True))
            epoch += 1

    return batches(), per_pass, len(ds.classes)


def run(args, cfg, world, marks):
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    import torchvision
    from torch.nn.parallel import DistributedDataParallel as DDP

    d = common.init_distributed(torch, world)
    rank0 = d.rank == 0
    log = common.log if rank0 else (lambda msg: None)
    sync = common.make_sync(torch, d.device)
    marker = common.Marker(marks, sender=rank0, sync=sync)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    cfg = dict(cfg, gpu=torch.cuda.get_device_name(d.device), torch=torch.__version__)
    step_count = 0
    try:
        marker.transition(begin="setup")
        if args.data is None:
            cfg["classes"] = args.classes
            batches = synthetic_batches(torch, cfg, d, args.seed)
        else:
            batches, per_pass, cfg["classes"] = folder_batches(torch, args, cfg, d)
            if args.epochs is not None:
                cfg.update(steps_per_epoch=per_pass, steps=args.epochs * per_pass)
                cfg["images"] = cfg["steps"] * cfg["global_batch"]
        model = getattr(torchvision.models, args.arch)(weights=None, num_classes=cfg["classes"])
        model = model.to(d.device).to(memory_format=torch.channels_last)
        if d.world_size > 1:
            model = DDP(model, device_ids=[d.local_rank], gradient_as_bucket_view=True)
        if args.compile:
            # After DDP, so that compilation sees (and overlaps with) its gradient buckets.
            model = torch.compile(model)
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                              weight_decay=args.weight_decay)
        model.train()

        def step():
            x, y = next(batches)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        gb = cfg["global_batch"]
        log(f"resnet: {args.arch}, {d.world_size} GPU(s) ({cfg['gpu']}), global batch {gb} "
            f"({cfg['per_gpu_batch']}/GPU), {cfg['steps']} steps + {args.warmup_steps} warmup, "
            f"data {cfg['data']}")
        loss = None
        if args.warmup_steps:
            marker.transition(end="setup", begin="warmup")
            for _ in range(args.warmup_steps):
                loss = step()
                step_count += 1
            end, end_counts = "warmup", dict(samples=args.warmup_steps * gb, step=step_count)
        else:
            end, end_counts = "setup", {}
        chunks = plan(cfg)
        t0 = marker.transition(end=end, end_counts=end_counts, begin="train")
        t_chunk = t0
        for i, c in enumerate(chunks):
            for _ in range(c.start, c.end):
                loss = step()
                step_count += 1
            counts = dict(samples=(c.end - c.start) * gb, step=step_count)
            if c.epoch is not None:
                counts["epoch"] = c.epoch
            last = i == len(chunks) - 1
            t = marker.transition(end="train", end_counts=counts, begin=None if last else "train")
            if len(chunks) > 1:
                log(f"train: steps {c.start}-{c.end}: {(c.end - c.start) * gb / (t - t_chunk):.1f} images/s")
            t_chunk = t
        elapsed = t_chunk - t0

        # Results over all ranks: mean of the last losses, worst peak memory.
        loss_t = loss.detach().float().reshape(1)
        dist.all_reduce(loss_t)
        mem = torch.tensor([torch.cuda.max_memory_allocated(d.device)], dtype=torch.float64,
                           device=d.device)
        dist.all_reduce(mem, op=dist.ReduceOp.MAX)
        result = dict(
            cfg,
            status="ok",
            time_s=round(elapsed, 3),
            images_per_s=round(cfg["images"] / elapsed, 2),
            images_per_s_per_gpu=round(cfg["images"] / elapsed / d.world_size, 2),
            step_ms=round(1000 * elapsed / cfg["steps"], 3),
            loss=round(loss_t.item() / d.world_size, 4),
            max_mem_gib=round(common.gib(mem.item()), 2),
        )
    except torch.cuda.OutOfMemoryError:
        common.exit_out_of_memory(
            torch, d, marker, dict(cfg, step=step_count),
            f"{args.arch}, global batch {cfg['global_batch']}, {cfg['per_gpu_batch']}/GPU",
            "use more GPUs or a smaller --global-batch",
        )
    if rank0:
        log(f"resnet: {result['images_per_s']:.1f} images/s over {cfg['steps']} steps "
            f"({result['time_s']:.1f} s)")
        common.emit_result(result)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
