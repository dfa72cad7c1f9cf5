#!/usr/bin/env bash
# followup.sh: after validate.sh, two open questions in one short call (with $OUT set):
#  1. the 100 ms on/off load showed ~2.4 % of 20 ms intervals at 40-47 ms: are those holes in
#     the driver's buffer? Three on/off runs under `wattprof run`, each with buffer_gaps.py
#     reading the driver's whole buffer beside it;
#  2. the burn's other data types (fp8, fp16, fp32), 8 s each.
set -u
cd "$(dirname "$0")/../.." || exit 1
W=${WATTPROF:-build-h200/wattprof}
BURN=${BURN:-build-h200/wattprof-burn}
R=$(mktemp -d /tmp/wpfu.XXXXXX)
for k in 1 2 3; do
    "$W" run -o "$R/onoff$k.wptrace" --json "$R/onoff$k.json" -- \
        python3 bench/h200/buffer_gaps.py --out "$R/gaps$k.json" -- \
        "$BURN" --seconds 15 --dtype bf16 --pattern onoff:100:100 --quiet >"$R/onoff$k.out" 2>&1
    echo "onoff $k: exit $?"
    python3 - "$R/onoff$k.json" "$R/gaps$k.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); g = json.load(open(sys.argv[2]))
for x in s["gpus"]:
    d = g[str(x["index"])]
    print(f"  GPU {x['index']}: trace vs counter {x['counter_diff_pct']:+.2f} %, trace gaps {x['gaps']}"
          f" of {x['samples']} samples; driver buffer: {d['over_40ms']} of {d['intervals']}"
          f" intervals > 40 ms ({d['over_40ms_pct']:.2f} %), longest {d['longest_ms']} ms")
PY
done
for dt in fp8 fp16 fp32; do
    "$W" run -o "$R/burn-$dt.wptrace" --json "$R/burn-$dt.json" -- \
        "$BURN" --seconds 8 --dtype "$dt" >"$R/burn-$dt.out" 2>&1
    echo "burn $dt: exit $?"
    grep -E '^[0-9]+ +NVIDIA|TFLOP' "$R/burn-$dt.out" | tail -n 3
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("  mean W", [round(g["mean_w"]) for g in j["gpus"]], "counter diff %", [round(g["counter_diff_pct"],2) for g in j["gpus"]])' "$R/burn-$dt.json"
done
rm -f "$R"/*.wptrace
tar -C "$R" -czf "$OUT/followup.tar.gz" .
