#!/usr/bin/env bash
# experiments.sh: the study's experiments on an H200 machine, in one call (issue 3).
# From the repository root, on the GPU machine, with $OUT set:
#
#     bash bench/h200/experiments.sh
#
#   burn    wattprof run around a 60 s bf16 burn on every GPU          -> burn60.json
#   resnet  wattprof sweep over ResNet-152 global batch (per-GPU 64..512), same images
#                                                                       -> resnet-sweep.json
#   llama   wattprof run around the largest Llama preset that fits (13b, else 7b, else 1b)
#                                                                       -> llama.json
#   plots   bench/h200/plots.py (matplotlib) over the exported traces  -> PNGs in the tarball
#   pack    traces (if small), exports, logs                           -> results.tar.gz
# Everything printed also goes to $OUT/experiments.log. At most 8 files come back.
#
# Knobs: EXP_BUDGET_S (560), SKIP (words: burn resnet llama plots), RESNET_IMAGES
# (15360 per GPU), RESNET_GBS (per-GPU batch 64,128,256,512 times the GPUs: the study's
# 512..4096 on 8 GPUs), LLAMA_PRESETS ("13b 7b 1b"), LLAMA_STEPS (30),
# BURN_SECONDS (60), WATTPROF / BURN (prebuilt binaries), BUILD_DIR (build-h200).
set -u
cd "$(dirname "$0")/../.." || exit 1
REPO=$PWD
OUT=${OUT:-/tmp/h200-out}
mkdir -p "$OUT" || exit 1
exec > >(tee -a "$OUT/experiments.log") 2>&1
BUDGET=${EXP_BUDGET_S:-560}
SKIP=${SKIP:-}
B=${BUILD_DIR:-build-h200}
LLAMA_PRESETS=${LLAMA_PRESETS:-13b 7b 1b}
LLAMA_STEPS=${LLAMA_STEPS:-30}
BURN_SECONDS=${BURN_SECONDS:-60}
RES=$(mktemp -d /tmp/wpexp.XXXXXX)/results
mkdir -p "$RES"
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONUNBUFFERED=1

say() { printf '[%4ds] %s\n' "$SECONDS" "$*"; }
skipped() { [[ " $SKIP " == *" $1 "* ]]; }
left() { echo $((BUDGET - SECONDS)); }

NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
[ "$NGPU" -ge 1 ] 2>/dev/null || NGPU=1
RESNET_IMAGES=${RESNET_IMAGES:-$((15360 * NGPU))}
RESNET_GBS=${RESNET_GBS:-$((64 * NGPU)),$((128 * NGPU)),$((256 * NGPU)),$((512 * NGPU))}
say "experiments: $NGPU GPUs, budget ${BUDGET}s, results in $RES"
nvidia-smi --query-gpu=index,name,driver_version,enforced.power.limit --format=csv 2>&1 |
    tee "$RES/gpus.csv"

# Binaries: prebuilt ones carried in (WATTPROF/BURN, or build-h200/), else build here.
W=${WATTPROF:-$B/wattprof}
BURN=${BURN:-$B/wattprof-burn}
if ! "$W" --version >/dev/null 2>&1; then
    say "building wattprof"
    make -j"$(nproc)" BUILD="$B" "$B/wattprof" "$B/wattprof-burn" >"$RES/build.log" 2>&1 ||
        say "build failed: $(tail -n 5 "$RES/build.log")"
fi
"$W" --version | tee "$RES/version.txt"
"$W" list >"$RES/list.txt" 2>&1
head -n 20 "$RES/list.txt"

# ---------------------------------------------------------------------------------------
if ! skipped burn && [ -x "$BURN" ]; then
    say "== burn: ${BURN_SECONDS} s bf16 on every GPU"
    timeout $((BURN_SECONDS + 90)) "$W" run -o "$RES/burn60.wptrace" --json "$RES/burn60.json" -- \
        "$BURN" --seconds "$BURN_SECONDS" --dtype bf16 >"$RES/burn60.out" 2>&1
    say "burn exit $?"
    tail -n 25 "$RES/burn60.out"
fi

# ---------------------------------------------------------------------------------------
if ! skipped resnet && [ "$(left)" -gt 200 ]; then
    say "== resnet: ResNet-152 global batch $RESNET_GBS, $RESNET_IMAGES images each"
    timeout $(($(left) - 150)) "$W" sweep --param gb="$RESNET_GBS" -o "$RES/resnet.wptrace" \
        --json "$RES/resnet-sweep.json" -- \
        torchrun --standalone --nproc_per_node="$NGPU" bench/workloads/resnet.py \
        --arch resnet152 --global-batch '{gb}' --images "$RESNET_IMAGES" --warmup-steps 10 \
        >"$RES/resnet.out" 2>&1
    say "resnet sweep exit $?"
    grep -E 'wattprof|^ |images_per_s|"status"|Error|error' "$RES/resnet.out" | tail -n 40
fi

# ---------------------------------------------------------------------------------------
if ! skipped llama; then
    for preset in $LLAMA_PRESETS; do
        [ "$(left)" -gt 100 ] || { say "llama: no time left for $preset"; break; }
        say "== llama: preset $preset, FSDP over $NGPU GPUs, $LLAMA_STEPS steps"
        rm -f "$RES/llama.wptrace" "$RES/llama.json"
        timeout $(($(left) - 60)) "$W" run -o "$RES/llama.wptrace" --json "$RES/llama.json" -- \
            torchrun --standalone --nproc_per_node="$NGPU" bench/workloads/llama.py \
            --preset "$preset" --global-batch $((4 * NGPU)) --seq-len 2048 \
            --steps "$LLAMA_STEPS" --warmup-steps 3 --mark-every 5 >"$RES/llama-$preset.out" 2>&1
        rc=$?
        say "llama $preset exit $rc"
        tail -n 15 "$RES/llama-$preset.out"
        if [ $rc -eq 0 ]; then
            echo "$preset" >"$RES/llama-preset.txt"
            break
        fi
    done
fi

# ---------------------------------------------------------------------------------------
for t in "$RES"/*.wptrace; do
    [ -f "$t" ] || continue
    n=$(basename "$t" .wptrace)
    "$W" report "$t" --json "$RES/$n-report.json" >"$RES/$n-report.txt" 2>&1
    "$W" export "$t" --csv -o "$RES/$n.csv" 2>/dev/null
done
if ! skipped plots; then
    say "== plots"
    timeout 120 python3 bench/h200/plots.py "$RES" 2>&1 | tail -n 20
fi

# ---------------------------------------------------------------------------------------
say "== pack"
(cd "$RES" && ls -la) | tail -n 40
tar -C "$(dirname "$RES")" -czf "$OUT/results.tar.gz" --exclude='*.wptrace' results
size=$(stat -c %s "$OUT/results.tar.gz")
say "results.tar.gz: $size bytes"
(cd "$(dirname "$RES")" && tar -czf "$OUT/traces.tar.gz" results/*.wptrace) 2>/dev/null
if [ "$(stat -c %s "$OUT/traces.tar.gz" 2>/dev/null || echo 0)" -gt 15000000 ]; then
    say "traces too large to bring back; dropped"
    rm -f "$OUT/traces.tar.gz"
fi
say "done"
