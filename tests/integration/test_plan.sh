# Planning from the command line: the model fitted on the committed H200 results beats both
# TDP baselines on held-out phases; report --intensity weighs a replayed run by hand-computable
# intensities and reports hours without one; plan carbon's best start equals a brute-force
# search over the shipped CISO series done here in Python; plan rack and cooling give their
# closed-form answers for constant loads.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$FIXTURES/../.." && pwd)
R="$ROOT/docs/results/h200"

# ---- model fit / predict on the committed traces' reports and samples ----
fit() {
    "$WATTPROF" model fit "$R/resnet-report.json" --samples "$R/exports/resnet.csv.gz" \
        "$R/llama-report.json" --samples "$R/exports/llama.csv.gz" \
        "$R/burn60-report.json" --samples "$R/exports/burn60.csv.gz" \
        --phase train --phase burn --idle-phase setup --flops-per-sample 69.06e9 "$@"
}
expect_status 0 fit -o m.json
expect_in out.txt "MAPE of training energy"
check 'j["format"] == "wattprof-model" and j["gpu"] == "NVIDIA H200"' m.json
check 'j["held_out"]["phases"] == 11 and j["held_out"]["phases_with_util"] == 11' m.json
check 'j["held_out"]["mape_model_pct"] < j["held_out"]["mape_tdp_pct"]' m.json
check 'j["held_out"]["mape_model_pct"] < j["held_out"]["mape_tdp_util_pct"]' m.json
check 'len(j["inputs"]) == 3 and sum(p["idle"] for p in j["phases"]) == 5' m.json
note "held out (one phase): model $(json m.json 'round(j["held_out"]["mape_model_pct"],1)') %, TDP $(json m.json 'round(j["held_out"]["mape_tdp_pct"],1)') %, TDP x util $(json m.json 'round(j["held_out"]["mape_tdp_util_pct"],1)') %"
expect_status 0 fit -o mi.json --by-input
check 'j["held_out"]["mape_model_pct"] < min(j["held_out"]["mape_tdp_pct"], j["held_out"]["mape_tdp_util_pct"])' mi.json
# Refuses to overwrite, and says why.
expect_status 73 fit -o m.json
# -o -: stdout is the model alone (the table goes to stderr)
expect_status 0 fit -o -
check 'j["format"] == "wattprof-model"' out.txt
expect_in err.txt "MAPE of training energy"
# Too few phases: one input with only its idle anchors.
expect_status 65 "$WATTPROF" model fit "$R/llama-report.json" --phase nothing --idle-phase setup -o x.json
expect_in err.txt "too few phases"
expect_status 66 "$WATTPROF" model fit no-such.json -o y.json

expect_status 0 "$WATTPROF" model predict m.json --gpus 8 --tflops-per-gpu 330 --hours 2 \
    --other-w 1000 --json p.json
check 'abs(j["energy_j"] - j["mean_w"] * 2 * 3600) < 1e-6 * j["energy_j"]' p.json
check 'abs(j["mean_w"] - (8 * j["per_gpu_w"] + 1000)) < 1e-6' p.json
check 'j["energy_lo_j"] < j["energy_j"] < j["energy_hi_j"] and j["peak_w"] > j["p99_w"] > j["mean_w"]' p.json
echo '{"format": "something"}' > notmodel.json
expect_status 65 "$WATTPROF" model predict notmodel.json --gpus 1 --tflops-per-gpu 1 --hours 1
expect_in err.txt "not a wattprof model"

# ---- emissions of a replayed run ----
expect_status 0 "$WATTPROF" run -q -o run.wptrace -- sleep 2
expect_status 0 "$WATTPROF" report run.wptrace --intensity 400 --pue 1.5 --json e.json
expect_in out.txt "emissions"
check 'abs(j["emissions"]["facility_energy_j"] - 1.5 * j["emissions"]["it_energy_j"]) < 1e-6' e.json
check 'abs(j["emissions"]["kg_co2e"] - j["emissions"]["facility_energy_j"] / 3.6e6 * 0.4) < 1e-9' e.json
check 'abs(j["emissions"]["it_energy_j"] - j["total"]["energy_j"]) < 0.01 * j["total"]["energy_j"]' e.json
check 'j["emissions"]["hours_without_intensity"] == 0 and j["emissions"]["pue"] == 1.5' e.json
# A series of the run's own hours, written here: the run lies in one hour of 250 g, or
# straddles two (then the split is checked against the two values).
start=$(json e.json 'j["start_us"] // 3600000000 * 3600')
printf 'timestamp,gco2_per_kwh\n' > ci.csv
for h in -1 0 1 2; do printf '%s,%s\n' $((start + h * 3600)) 250 >> ci.csv; done
expect_status 0 "$WATTPROF" report run.wptrace --intensity ci.csv --json f.json
check 'abs(j["emissions"]["kg_co2e"] - j["emissions"]["it_energy_j"] / 3.6e6 * 0.25) < 1e-9' f.json
# The shipped 2022 series does not cover this run: said, and counted, not guessed.
expect_status 0 "$WATTPROF" report run.wptrace --intensity CISO --json g.json
expect_in err.txt "--intensity-at"
check 'j["emissions"]["kg_co2e"] is None and j["emissions"]["hours_without_intensity"] > 0' g.json
# Placed across CISO's blank hour 2022-01-05 10:00: the part inside it is counted.
expect_status 0 "$WATTPROF" report run.wptrace --intensity CISO --intensity-at 2022-01-05T09:59:59Z --json b.json
check '0 < j["emissions"]["hours_without_intensity"] < 0.01 and j["emissions"]["kg_co2e"] > 0' b.json
check 'j["emissions"]["intensity_source"].startswith("zone CISO")' b.json
# the run was recorded after 2022: placed earlier than it ran, and said so
expect_in out.txt "days) earlier than it ran"
# The zone set can be replaced: WATTPROF_DATA_DIR first.
mkdir zones && cp ci.csv zones/TEST.csv
expect_status 0 env WATTPROF_DATA_DIR="$PWD/zones" "$WATTPROF" report run.wptrace --intensity TEST --json z.json
check 'abs(j["emissions"]["kg_co2e"] - j["emissions"]["it_energy_j"] / 3.6e6 * 0.25) < 1e-9' z.json
expect_status 66 "$WATTPROF" report run.wptrace --intensity NOPE
expect_in err.txt "zones there"
expect_status 64 "$WATTPROF" report run.wptrace --pue 1.2
expect_status 64 "$WATTPROF" report run.wptrace --intensity 400 --pue 0.5
printf 'timestamp,gco2_per_kwh\n2022-01-01T00:00Z,abc\n' > bad.csv
expect_status 65 "$WATTPROF" report run.wptrace --intensity bad.csv
expect_in err.txt "line 2"

# ---- plan carbon against a brute force over the shipped series ----
expect_status 0 "$WATTPROF" plan carbon --power-kw 5 --hours 3 --intensity CISO \
    --now 2022-03-10T00:00Z --deadline 30h --pue 1.2 --json c.json
python3 - "$ROOT/data/carbon/CISO-2022-hourly.csv.gz" c.json <<'PY' || fail "plan carbon differs from brute force"
import csv, datetime, gzip, json, sys
rows = list(csv.DictReader(gzip.open(sys.argv[1], "rt")))
ci = {r["timestamp"][:19]: (float(r["avg_CI"]) if r["avg_CI"] else None) for r in rows}
j = json.load(open(sys.argv[2]))
now = datetime.datetime(2022, 3, 10)
best = None
for s in range(0, 30 - 3 + 1):
    t = now + datetime.timedelta(hours=s)
    vals = [ci[(t + datetime.timedelta(hours=k)).strftime("%Y-%m-%d %H:%M:%S")] for k in range(3)]
    if None in vals:
        continue
    kg = sum(5 * 1.2 * v / 1000 for v in vals)
    if best is None or kg < best[0] - 1e-12:
        best = (kg, t)
now_kg = sum(5 * 1.2 * ci[(now + datetime.timedelta(hours=k)).strftime("%Y-%m-%d %H:%M:%S")] / 1000 for k in range(3))
assert abs(j["kg_co2e_best"] - best[0]) < 1e-9, (j["kg_co2e_best"], best)
assert j["best_start"] == best[1].strftime("%Y-%m-%dT%H:%M:%SZ"), (j["best_start"], best)
assert abs(j["kg_co2e_now"] - now_kg) < 1e-9, (j["kg_co2e_now"], now_kg)
PY
note "CISO 2022-03-10: best start $(json c.json 'j["best_start"]'), $(json c.json 'round(j["saving_pct"],1)') % less than now"
# Over PJM's blank morning of 2022-03-13 (07:00-...): starts that meet it are skipped.
expect_status 0 "$WATTPROF" plan carbon --power-kw 1 --hours 2 --intensity PJM \
    --now 2022-03-13T00:00Z --deadline 12h --restart-kwh 0.5 --json d.json
check 'j["skipped_blank"] > 0 and j["best_start"] is not None' d.json
check 'j["split"]["kg_co2e"] <= j["kg_co2e_best"] + 1e-12' d.json
expect_status 64 "$WATTPROF" plan carbon --power-kw 1 --hours 2 --intensity PJM --now 2022-03-13T00:00Z
expect_status 65 "$WATTPROF" plan carbon --power-kw 1 --hours 2 --intensity 300 --now 2022-03-13T00:00Z --deadline 5h
expect_in err.txt "constant"

# ---- plan rack on the replayed run; plan cooling by hand ----
expect_status 0 "$WATTPROF" plan rack run.wptrace --gpus-per-node 8 --other-w 2800 \
    --budget-w 40000 --trials 20 --json r.json
check 'j["nodes_by_nameplate"] == 3 and j["usable_w"] == 32000' r.json
check 'j["nodes_fit_at_risk"] >= 1 and j["rack_power"]["20ms"]["max_w"] >= j["rack_power"]["1s"]["max_w"]' r.json
check 'j["assumptions"]["gpus_per_node"] == 8 and j["assumptions"]["derate"] == 0.8' r.json
# --json -: stdout is the JSON alone (the text, the inputs' lines too, goes to stderr).
expect_status 0 "$WATTPROF" plan rack run.wptrace --budget-w 40000 --trials 5 --json -
check 'j["budget_w"] == 40000 and j["inputs"] == ["run.wptrace"]' out.txt
expect_in err.txt "node 1: run.wptrace"
expect_status 64 "$WATTPROF" plan rack run.wptrace
# Inputs of different GPU counts: the node's rating would be the last input's, so the order of
# the inputs would change the answer; refused until --gpus-per-node says what a node holds.
"$WATTPROF" export run.wptrace --csv -s power -o all.csv
python3 -c 'import csv, sys
r = csv.DictReader(open("all.csv")); w = csv.DictWriter(open("one.csv", "w"), r.fieldnames)
w.writeheader(); w.writerows(x for x in r if x["device"] == "0")'
expect_status 64 "$WATTPROF" plan rack run.wptrace one.csv --budget-w 40000 --trials 5
expect_in err.txt "run.wptrace recorded 2 GPUs and one.csv 1: give --gpus-per-node"
expect_status 64 "$WATTPROF" plan rack one.csv run.wptrace --budget-w 40000 --trials 5
expect_status 0 "$WATTPROF" plan rack one.csv run.wptrace --budget-w 40000 --trials 5 --gpus-per-node 8 --json mixa.json
expect_status 0 "$WATTPROF" plan rack run.wptrace one.csv --budget-w 40000 --trials 5 --gpus-per-node 8 --json mixb.json
check 'j["nodes_by_nameplate"] == 3' mixa.json
check 'j["nodes_by_nameplate"] == 3' mixb.json
# A window outside the input is bad data, named; one inside it shortens the node series.
expect_status 65 "$WATTPROF" plan rack run.wptrace --budget-w 1000 --window 100:200
expect_in err.txt "outside"
expect_status 0 "$WATTPROF" plan rack run.wptrace --budget-w 40000 --window 0.5:1.5 --trials 5
expect_in out.txt "1.0 s at 20 ms"
expect_status 0 "$WATTPROF" plan cooling --power-w 10000 --air-dt 10 --water-dt 10 --cooling dlc --json k.json
# 10 kW over 10 K: 10000 / (1005 x 10) kg/s of air = 0.995 kg/s / 1.204 kg/m3 x 3600 s/h;
# water 10000 / (4186 x 10) kg/s / 998 kg/m3, in L/min.
check 'abs(j["air_m3_per_h"] - 10000 / (1005 * 10) / 1.204 * 3600) < 1e-6' k.json
check 'abs(j["water_l_per_min"] - 10000 / (4186 * 10) / 998 * 60000) < 1e-6' k.json
check 'j["pue"] == 1.06 and j["facility_w"] == 10600' k.json
expect_status 64 "$WATTPROF" plan cooling --power-w 10 --cooling swamp
# a stray argument is named as such, not answered with "wants --power-w" when that was given
expect_status 64 "$WATTPROF" plan cooling --power-w 100 extra
expect_in err.txt "'extra' is not one"

# ---- model fit reads a trace's own phases, counts, utilisation and samples ----
cat > job.py <<'PY'
import time, wattprof
wattprof.begin("idle"); time.sleep(1.2); wattprof.end("idle")
for i, tf in enumerate((40, 120, 300)):
    wattprof.begin("work"); time.sleep(1.2); wattprof.end("work", flops=tf * 1e12 * 1.2 * 2)
PY
expect_status 0 env FAKE_NVML_EXTRAS=1 "$WATTPROF" run -q -o job.wptrace -- python3 job.py
expect_status 0 "$WATTPROF" model fit job.wptrace --phase work --idle-phase idle -o jm.json
check 'len(j["phases"]) == 4 and sum(p["idle"] for p in j["phases"]) == 1' jm.json
# The rate is flops / duration / GPUs from the trace's marks (durations ~1.2 s as measured).
check 'all(abs(p["tflops_per_gpu"] - want * 1.2 / p["duration_s"]) < 1e-6 * want for p, want in zip([q for q in j["phases"] if not q["idle"]], (40, 120, 300)))' jm.json
check 'all(p["util_pct"] is not None and p["p99_w"] is not None and p["peak_w"] >= p["p99_w"] for p in j["phases"])' jm.json
# plan carbon takes that trace as the job, and a model prediction.
expect_status 0 "$WATTPROF" plan carbon --trace job.wptrace --hours 3 --intensity ERCO \
    --now 2022-08-01T00:00Z --deadline 1d --json jt.json
check 'abs(j["job_hours"] - 3) < 1e-6 and j["kg_co2e_best"] <= j["kg_co2e_now"]' jt.json
# The trace's own few seconds: grams, shown as such, not "0.000 kg" beside "31.9 % less".
expect_status 0 "$WATTPROF" plan carbon --trace job.wptrace --intensity ERCO \
    --now 2022-08-01T00:00Z --deadline 1d --json js.json
check '0 < j["kg_co2e_now"] < 0.001' js.json
expect_in out.txt "$(json js.json '"%.3g kg CO2e" % j["kg_co2e_now"]')"
if grep -q "0\.000 kg" out.txt; then fail "a short job's emissions shown as 0.000 kg"; fi
expect_status 0 "$WATTPROF" plan carbon --model m.json --gpus 8 --tflops-per-gpu 300 --hours 2 \
    --intensity NYIS --now 2022-08-01T00:00Z --deadline 1d --json jm2.json
python3 - m.json jm2.json <<'PY' || fail "plan carbon --model: job energy is not the model's"
import json, math, sys
m, j = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
w = 8 * (m["idle_w"] + m["span_w"] * (1 - math.exp(-300 / m["scale_tflops"])))
assert abs(j["job_it_kwh"] - w * 2 / 1000) < 1e-6 * j["job_it_kwh"], (j["job_it_kwh"], w)
PY
