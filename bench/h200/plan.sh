#!/bin/sh
# The planning results of docs/results/h200-plan.md, from the committed H200 results alone
# (no GPU needed): the model fit and its held-out table, an H100 prediction from it, the rack
# plans for 8-GPU nodes built from the 2x H200 traces, cooling, and a carbon plan.
#   bench/h200/plan.sh [OUTDIR]      (default docs/results/h200/plan; WATTPROF=build/wattprof)
set -eu
cd "$(dirname "$0")/../.."
W=${WATTPROF:-build/wattprof}
O=${1:-docs/results/h200/plan}
R=docs/results/h200
E=$R/exports
mkdir -p "$O"
# ResNet-152 at 224x224: 11.51 GMACs forward (torchvision's model card) = 23.0 GFLOP; a
# training step is forward + backward, about 3x forward: 69.06 GFLOP per image.
FPS=69.06e9
FIT="$R/resnet-report.json --samples $E/resnet.csv.gz $R/llama-report.json --samples $E/llama.csv.gz
  $R/burn60-report.json --samples $E/burn60.csv.gz --phase train --phase burn --idle-phase setup
  --flops-per-sample $FPS"
# shellcheck disable=SC2086
$W model fit $FIT -o "$O/h200.model.json" --force > "$O/fit-one-phase.txt"
# shellcheck disable=SC2086
$W model fit $FIT -o "$O/h200-by-input.model.json" --force --by-input > "$O/fit-by-input.txt"
# The earlier recording the tests replay, as a fourth input (bench/h200/marks_to_report.py).
python3 bench/h200/marks_to_report.py tests/fixtures/h200/marks-2gpu.jsonl > "$O/fixture-report.json"
# shellcheck disable=SC2086
$W model fit $FIT "$O/fixture-report.json" --phase 'resnet152_*' --phase 'llama_*' \
    --idle-phase idle -o "$O/h200-with-fixture.model.json" --force --by-input \
    > "$O/fit-with-fixture.txt"
python3 bench/h200/model_forms.py "$O/h200.model.json" > "$O/model-forms.txt"
# An H100 burn as measured on 2026-12-02 (REFERENCE: wattprof-burn bf16, 682 TFLOP/s, 1 GPU).
$W model predict "$O/h200.model.json" --gpus 1 --tflops-per-gpu 682 --hours 1 \
    > "$O/predict-h100-burn.txt"
# Rack plans: 8-GPU nodes from the 2-GPU traces (x4, GPUs of a node in step) plus 2800 W for
# the rest of the node (docs/plan.md says why), under 40 kW and 100 kW rack budgets.
for b in 40000 100000; do
    for mode in in-step random; do
        flag=""; [ $mode = in-step ] && flag=--in-step
        # Llama-2 13b training phases only: seconds 28.9 to 89.5 of the export.
        $W plan rack $E/llama.csv.gz --window 28.9:89.5 --gpus-per-node 8 --other-w 2800 \
            --budget-w $b $flag --json "$O/rack-llama-$mode-$b.json" --force \
            > "$O/rack-llama-$mode-$b.txt"
    done
    $W plan rack $E/llama.csv.gz $E/resnet.csv.gz --gpus-per-node 8 --other-w 2800 \
        --budget-w $b --json "$O/rack-mixed-random-$b.json" --force > "$O/rack-mixed-random-$b.txt"
    $W plan rack $E/burn60.csv.gz --window 1:63 --gpus-per-node 8 --other-w 2800 --budget-w $b \
        --in-step --json "$O/rack-burn-in-step-$b.json" --force > "$O/rack-burn-in-step-$b.txt"
done
$W plan cooling --power-w 75811 --cooling dlc --water-dt 10 > "$O/cooling-dlc.txt"
$W plan cooling --power-w 75811 --cooling air --air-dt 12 > "$O/cooling-air.txt"
# A day-long job of 9 such nodes (75.8 kW) in California, July 2022, within 48 h.
$W plan carbon --power-kw 75.8 --hours 24 --intensity CISO --now 2022-07-01T00:00Z \
    --deadline 48h --pue 1.06 --restart-kwh 20 --json "$O/carbon-ciso.json" --force \
    > "$O/carbon-ciso.txt"
echo "wrote $O"
