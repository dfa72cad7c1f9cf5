#!/usr/bin/env bash
# smoke.sh: the workload paths the main experiments do not take, on a GPU machine:
# resnet.py on an ImageFolder tree (--data, made here from random JPEGs), llama.py with
# --ddp on the tiny preset, and --compile for resnet50. Each under `wattprof run`.
set -u
cd "$(dirname "$0")/../.." || exit 1
W=${WATTPROF:-build-h200/wattprof}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1
NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
D=$(mktemp -d /tmp/wpsmoke.XXXXXX)
python3 - "$D/imgs" <<'PY'
import os, sys, numpy as np
from PIL import Image
rng = np.random.default_rng(0)
for c in ("cat", "dog"):
    os.makedirs(os.path.join(sys.argv[1], c), exist_ok=True)
    for i in range(96):
        a = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
        Image.fromarray(a).save(os.path.join(sys.argv[1], c, f"{i}.jpg"))
PY
run() { # NAME CMD...
    local name=$1; shift
    timeout 240 "$W" run -o "$D/$name.wptrace" --json "$D/$name.json" -- "$@" >"$D/$name.out" 2>&1
    echo "== $name: exit $?"
    grep -E '"status"|error|Error|Traceback' "$D/$name.out" | tail -n 6
    grep -E '^phase|^(setup|warmup|train)' "$D/$name.out" | head -n 6
}
run resnet-folder torchrun --standalone --nproc_per_node="$NGPU" bench/workloads/resnet.py \
    --arch resnet50 --data "$D/imgs" --workers 2 --global-batch $((32 * NGPU)) --epochs 2 --warmup-steps 1
run llama-ddp torchrun --standalone --nproc_per_node="$NGPU" bench/workloads/llama.py \
    --preset tiny --ddp --steps 20 --warmup-steps 2 --mark-every 10
run resnet-compile torchrun --standalone --nproc_per_node="$NGPU" bench/workloads/resnet.py \
    --arch resnet50 --compile --global-batch $((64 * NGPU)) --images 6400 --warmup-steps 3
tar -C "$D" -czf "$OUT/smoke.tar.gz" --exclude='*.wptrace' --exclude=imgs .
