# Each fault the fake NVML injects yields a clear message while the other GPUs keep being
# recorded (issue 2, done-when 5).
. "$(dirname "$0")/lib.sh"
FAKE_DIR=$(dirname "$FAKE_NVML_LIB")

# No driver library at all.
WATTPROF_NVML_LIB=/nonexistent/libnvidia-ml.so.1 expect_status 69 "$WATTPROF" list
expect_in out.txt "cannot load"
expect_in out.txt "WATTPROF_NVML_LIB"
WATTPROF_NVML_LIB=/nonexistent/libnvidia-ml.so.1 expect_status 69 "$WATTPROF" record -o x.wptrace --duration 1
expect_in err.txt "no power sensor"
[ ! -e x.wptrace ] || fail "a failed record left a trace behind"
# `run` still runs the job, and says it measured nothing.
WATTPROF_NVML_LIB=/nonexistent/libnvidia-ml.so.1 expect_status 0 "$WATTPROF" run -- true
expect_in err.txt "without measurements"

# Driver not loaded (init fails).
FAKE_NVML_FAIL_INIT=9 expect_status 69 "$WATTPROF" list
expect_in out.txt "driver is not loaded"

# A driver library without the sample buffer: recording falls back to the 100 ms fields.
WATTPROF_NVML_LIB="$FAKE_DIR/no-nvmlDeviceGetSamples/libnvidia-ml.so.1" expect_status 0 "$WATTPROF" list
expect_in out.txt "nvmlDeviceGetSamples is missing"
# The table's columns line up under their headings, whatever the widest cell (proc_util's
# unit pid*1000+% once pushed the rest of its row right).
"$WATTPROF" list >list.txt 2>/dev/null
python3 - <<'PY' || fail "list's columns do not line up"
rows = open("list.txt").read().split("\n\n")[1 if open("list.txt").read().startswith("REPLAY") else 0].splitlines()
head = rows[0]
cols = [i for i, ch in enumerate(head) if ch != " " and (i == 0 or head[i - 1] == " ")]
body = [r for r in rows[1:] if not r.startswith("#")]
assert any("pid*1000+%" in r for r in body), body
for r in body:
    for c in cols[1:]:
        assert r[c - 1] == " " and r[c] != " ", (c, r)
print(len(body), "rows aligned on", len(cols), "columns")
PY
WATTPROF_NVML_LIB="$FAKE_DIR/no-nvmlDeviceGetSamples/libnvidia-ml.so.1" \
    expect_status 0 "$WATTPROF" run --json nosamples.json -- sleep 2
check 'len(j["gpus"]) == 2 and all(g["power_sensor"] == "power_instant" and g["samples"] >= 10 for g in j["gpus"])' nosamples.json

# Readings not supported: noted once, not polled, absent (null) in the summary.
FAKE_NVML_NOT_SUPPORTED=energy,average expect_status 0 "$WATTPROF" list
expect_in out.txt "energy"
expect_in out.txt "Not Supported"
FAKE_NVML_NOT_SUPPORTED=energy FAKE_NVML_STATS="$T/stats.txt" \
    expect_status 0 "$WATTPROF" run --json nocounter.json -- sleep 2
check 'all(g["counter_energy_j"] is None and g["energy_j"] > 0 for g in j["gpus"])' nocounter.json
check 'j["total"]["counter_energy_j"] is None' nocounter.json

# The expensive energy counter is not read in a fast loop: a 6 s run reads it a handful of
# times per GPU (start, every 5 s, end), not at the 10 Hz of the power fields.
FAKE_NVML_STATS="$T/calls.txt" expect_status 0 "$WATTPROF" run -q -- sleep 6
calls=$(awk '$1=="nvmlDeviceGetFieldValues"{print $2}' calls.txt)
energy=$(awk '$1=="nvmlDeviceGetTotalEnergyConsumption"{print $2}' calls.txt)
note "FieldValues calls: $calls, GetTotalEnergyConsumption calls: ${energy:-0}"
[ "${energy:-0}" -le 8 ] || fail "energy counter read ${energy} times in 6 s"

# One GPU lost part-way: a warning names it, the other GPU keeps being recorded.
FAKE_NVML_LOSE_GPU=1:1.5 expect_status 0 "$WATTPROF" run -o lost.wptrace --json lost.json -- sleep 4
expect_in err.txt "GPU 1"
expect_in err.txt "stopped answering"
check 'j["gpus"][0]["samples"] >= 190 and j["gpus"][1]["samples"] < j["gpus"][0]["samples"] * 0.7' lost.json
# The event stays in the trace: `report` shows it later.
expect_status 0 "$WATTPROF" report lost.wptrace
expect_in out.txt "events:"
expect_in out.txt "stopped answering"

# A GPU lost before recording starts (its handle cannot be had): the run goes on with the
# other GPU, but a warning, the trace (metadata and an event) and the summary say that GPU 1
# was not measured, so nobody reads the totals as the node's.
FAKE_NVML_LOSE_GPU=1:init expect_status 0 "$WATTPROF" run -o early.wptrace --json early.json -- sleep 2
expect_in err.txt "warning: GPU 1 is not measured"
expect_in err.txt "gpu 1: NOT MEASURED"
expect_in err.txt "PARTIAL"
check 'j["total"]["partial"] is True and len(j["gpus"]) == 1 and j["gpus"][0]["index"] == 0' early.json
check '[(u["source"], u["device"]) for u in j["unmeasured"]] == [("nvml", 1)]' early.json
check '"lost" in j["unmeasured"][0]["reason"] and j["gpus"][0]["samples"] >= 90' early.json
expect_status 0 "$WATTPROF" report early.wptrace
expect_in out.txt "gpu 1: NOT MEASURED"
expect_in out.txt "GPU 1 is not measured"
python3 - early.wptrace <<'PY' || fail "the trace does not record GPU 1 as lost before the start"
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
meta = dict(db.execute("SELECT key, value FROM meta"))
assert "lost" in meta["missing.nvml.1.device"], meta
ev = [m for (m,) in db.execute("SELECT message FROM events WHERE device = 1")]
assert any("not measured" in m for m in ev), ev
PY
# A run where every GPU is measured says nothing of the kind.
expect_status 0 "$WATTPROF" run --json whole.json -- true
check 'j["total"]["partial"] is False and j["unmeasured"] == []' whole.json

# A library that lies: absurd power is dropped with a warning; the other GPU is unaffected.
FAKE_NVML_LIE=0:absurd expect_status 0 "$WATTPROF" run --json absurd.json -- sleep 2
expect_in err.txt "impossible"
check 'j["gpus"][0]["peak_w"] is None or j["gpus"][0]["peak_w"] < 2000' absurd.json
check 'j["gpus"][1]["samples"] >= 90' absurd.json
FAKE_NVML_LIE=1:negative expect_status 0 "$WATTPROF" run --json neg.json -- sleep 2
expect_in err.txt "impossible"
check 'j["gpus"][0]["samples"] >= 90' neg.json
FAKE_NVML_LIE=0:backwards expect_status 0 "$WATTPROF" run --json back.json -- sleep 3
expect_in err.txt "back in time"
check 'j["gpus"][0]["samples"] >= 100' back.json
FAKE_NVML_LIE=0:counter-backwards expect_status 0 "$WATTPROF" run --json cb.json -- sleep 7
expect_in err.txt "energy counter went backwards"
# GPU 0's counter fault empties its counter fields (null, never a made-up delta) and the
# total's, while its trace energy and GPU 1's counter stand.
check 'j["gpus"][0]["counter_fault"] is True and j["gpus"][0]["counter_energy_j"] is None' cb.json
check 'j["gpus"][0]["counter_diff_pct"] is None and j["gpus"][0]["energy_j"] > 0' cb.json
check 'j["gpus"][1]["counter_fault"] is False and j["gpus"][1]["counter_energy_j"] > 0' cb.json
check 'j["total"]["counter_energy_j"] is None and j["total"]["energy_j"] > 0' cb.json
expect_in err.txt "gpu 0: energy counter went backwards"
