# A job under `wattprof run` sends phase marks from Python; they land in the trace.
. "$(dirname "$0")/lib.sh"
cat > job.py <<'PY'
import time, wattprof
assert wattprof.enabled()
with wattprof.phase("warmup"):
    time.sleep(0.3)
for epoch in range(2):
    with wattprof.phase("epoch", samples=512, epoch=epoch):
        time.sleep(0.5)
wattprof.mark("done", tokens=1e6)
PY
expect_status 0 "$WATTPROF" run -o m.wptrace --json m.json -- python3 job.py
python3 - <<'PY' || fail "marks not stored as sent"
import sqlite3, json
c = sqlite3.connect("file:m.wptrace?mode=ro", uri=True)
rows = c.execute("select kind, name, counts from marks order by t_us, id").fetchall()
kinds = [(k, n) for k, n, _ in rows]
assert kinds == [("begin","warmup"),("end","warmup"),("begin","epoch"),("end","epoch"),
                 ("begin","epoch"),("end","epoch"),("mark","done")], kinds
assert json.loads(rows[2][2])["samples"] == 512, rows[2]
PY

# The summary gives each phase its energy, and energy per sample where the job counted them.
check '[p["name"] for p in j["phases"]] == ["warmup", "epoch", "epoch"]' m.json
check 'all(p["energy_j"] > 0 and p["mean_w"] > 0 and p["peak_w"] >= p["mean_w"] for p in j["phases"])' m.json
check 'abs(j["phases"][1]["j_per_sample"] - j["phases"][1]["energy_j"] / 512) < 1e-9 * j["phases"][1]["energy_j"]' m.json
check 'j["phases"][0]["j_per_sample"] is None and j["phases"][1]["j_per_token"] is None' m.json
check '0.45 <= j["phases"][1]["duration_s"] <= 0.7' m.json
expect_status 0 "$WATTPROF" report m.wptrace
expect_in out.txt "J/sample="
# The point mark ("mark done tokens=1e6") is listed in the JSON and the text summary.
check '[(m["name"], m["counts"]) for m in j["marks"]] == [("done", {"tokens": 1000000})]' m.json
check 'j["marks"][0]["t_s"] > 1.0' m.json
expect_in out.txt "done"
expect_in out.txt "tokens=1e+06"
