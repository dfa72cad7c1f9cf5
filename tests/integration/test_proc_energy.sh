# Energy per process (issue 13, done-when 5): the fake NVML reports processes on the replayed
# GPUs with fixed SM utilisation (FAKE_NVML_PROCS, through nvmlDeviceGetProcessUtilization).
# Each GPU's energy must be split in exactly the ratio of their shares (60:20 is 3:1), the
# parts (processes, idle, unattributed) must add up to the GPU's energy as the summary gives
# it, and nearly all of it must be attributed. A GPU whose only process is idle gives its
# energy to "idle"; a trace without per-process samples has no such block.
. "$(dirname "$0")/lib.sh"

expect_status 0 env FAKE_NVML_PROCS=0:4242:60,0:4343:20,1:4242:30,1:5555:10 \
    "$WATTPROF" run --json r.json -- sleep 3
expect_in err.txt "energy by process"
expect_in err.txt "power is per physical GPU"
python3 - r.json <<'PY' || fail "the split does not follow the processes' shares"
import json, sys
j = json.load(open(sys.argv[1]))
gpus = {g["index"]: g for g in j["processes"]["gpus"]}
assert set(gpus) == {0, 1}, gpus.keys()
for idx, (a, b, ratio) in {0: (4242, 4343, 3.0), 1: (4242, 5555, 3.0)}.items():
    g = gpus[idx]
    p = {x["pid"]: x for x in g["processes"]}
    assert set(p) == {a, b}, p.keys()
    assert abs(p[a]["energy_j"] / p[b]["energy_j"] - ratio) < 1e-9, (p[a], p[b])
    parts = sum(x["energy_j"] for x in g["processes"]) + g["idle_j"] + g["unattributed_j"]
    assert abs(parts - g["energy_j"]) < 1e-6, (parts, g["energy_j"])
    # The same energy as the summary's for that GPU, over the same run window.
    own = [x for x in j["gpus"] if x["index"] == idx][0]["energy_j"]
    assert abs(g["energy_j"] - own) < 1e-6 * own, (g["energy_j"], own)
    assert g["idle_j"] == 0 and 0 <= g["unattributed_j"] < 0.02 * g["energy_j"], g
    assert abs(p[a]["share_pct"] + p[b]["share_pct"] - 100 * (1 - g["unattributed_j"] / g["energy_j"])) < 1e-6
assert {x["pid"]: x["mean_sm_pct"] for x in gpus[0]["processes"]} == {4242: 60, 4343: 20}
PY

# A process that never uses the SMs: everything it was seen in is idle.
expect_status 0 env FAKE_NVML_PROCS=0:7777:0 "$WATTPROF" run --json idle.json -- sleep 2
check 'j["processes"]["gpus"][0]["processes"][0]["energy_j"] == 0' idle.json
check 'abs(j["processes"]["gpus"][0]["idle_j"] + j["processes"]["gpus"][0]["unattributed_j"] - j["processes"]["gpus"][0]["energy_j"]) < 1e-6' idle.json
check 'j["processes"]["gpus"][0]["idle_j"] > 0.95 * j["processes"]["gpus"][0]["energy_j"]' idle.json
check '[g["index"] for g in j["processes"]["gpus"]] == [0]' idle.json

# No processes: no block.
expect_status 0 "$WATTPROF" run --json none.json -- sleep 1
check '"processes" not in j' none.json
if grep -q "energy by process" err.txt; then fail "a block without processes"; fi
