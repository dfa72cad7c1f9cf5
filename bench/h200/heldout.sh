#!/usr/bin/env bash
# heldout.sh: new GPU traces the power model (docs/results/h200-plan.md) has never seen,
# recorded as traces: ResNet-152 at global batch 96 and Llama 1b, each under `wattprof run`,
# then `model fit --by-input` over the committed inputs plus these two. Their rows are
# predictions from a model fitted without them. From the repository root on a GPU machine:
#     WATTPROF=path/to/wattprof bash bench/h200/heldout.sh
# Writes $OUT/heldout/: the traces, their reports (.txt/.json), fit-heldout.txt, run.log.
# Bounded: each workload under HELDOUT_RUN_S (200 s).
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}/heldout
mkdir -p "$OUT" || exit 1
exec > >(tee -a "$OUT/run.log") 2>&1
W=${WATTPROF:-build-h200/wattprof}
LIM=${HELDOUT_RUN_S:-200}
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
say() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }
"$W" --version || { say "no wattprof binary at $W"; exit 1; }
nvidia-smi --query-gpu=index,name,driver_version,enforced.power.limit --format=csv
say "ResNet-152, global batch 96"
timeout "$LIM" "$W" run -o "$OUT/r152-gb96.wptrace" --json "$OUT/r152-gb96.json" -- \
    torchrun --standalone --nproc_per_node=1 bench/workloads/resnet.py --arch resnet152 \
    --global-batch 96 --images 15360 --warmup-steps 10
say "exit $?"
say "Llama 1b"
timeout "$LIM" "$W" run -o "$OUT/llama1b.wptrace" --json "$OUT/llama1b.json" -- \
    torchrun --standalone --nproc_per_node=1 bench/workloads/llama.py --preset 1b \
    --global-batch 8 --seq-len 2048 --steps 60 --warmup-steps 3 --mark-every 10
say "exit $?"
for t in r152-gb96 llama1b; do
    [ -f "$OUT/$t.wptrace" ] && "$W" report "$OUT/$t.wptrace" >"$OUT/$t.txt" 2>&1
done
# The committed inputs of bench/h200/plan.sh, plus the two new traces, each held out in turn.
R=docs/results/h200
E=$R/exports
"$W" model fit $R/resnet-report.json --samples $E/resnet.csv.gz $R/llama-report.json \
    --samples $E/llama.csv.gz $R/burn60-report.json --samples $E/burn60.csv.gz \
    "$OUT/r152-gb96.wptrace" "$OUT/llama1b.wptrace" --phase train --phase burn \
    --idle-phase setup --flops-per-sample 69.06e9 --by-input -o "$OUT/heldout.model.json" \
    --force >"$OUT/fit-heldout.txt" 2>&1
say "model fit exit $?"
cat "$OUT/fit-heldout.txt"
say "done"
