# A trace with a damaged chunk: every reader uses what is intact, names the damaged span
# (sensor, time range) on stderr and exits 65, the same code for report and export.
. "$(dirname "$0")/lib.sh"

# 24 s: a chunk takes commits until it holds 512 samples (src/store/trace_int.h), so GPU 0's
# 20 ms series is three chunks (550, 550 and the rest) and the middle one can be damaged.
expect_status 0 "$WATTPROF" record -q -o t.wptrace --duration 24
expect_status 0 "$WATTPROF" export t.wptrace --csv --sensor power -o all.csv
python3 - <<'PY'
import sqlite3
c = sqlite3.connect("t.wptrace")
sid = c.execute("select id from sensors where device = 0 and name = 'power'").fetchone()[0]
rows = c.execute("select rowid, data from chunks where sensor = ? order by t0_us", (sid,)).fetchall()
assert len(rows) >= 3, len(rows)
rowid, data = rows[1]
b = bytearray(data)
b[len(b) // 2] ^= 0x10
c.execute("update chunks set data = ? where rowid = ?", (bytes(b), rowid))
c.commit()
PY

# report: the summary of the intact data on stdout, the damaged span on stderr, exit 65.
expect_status 65 "$WATTPROF" report t.wptrace --json r.json
expect_in out.txt "energy J"
expect_in err.txt "damaged"
expect_in err.txt "device 0 power"
expect_in err.txt "s after the start"
grep -q "standard output" err.txt && fail "report blamed standard output"
check 'len(j["damaged"]) == 1 and j["damaged"][0]["device"] == 0 and j["damaged"][0]["name"] == "power"' r.json
check 'j["gpus"][0]["energy_j"] > 0 and j["gpus"][1]["energy_j"] > 0' r.json
# The damaged span shows as a gap in GPU 0's series (its energy is bridged, and flagged).
check 'j["gpus"][0]["gaps"] > j["gpus"][1]["gaps"]' r.json

# export to stdout and to a file: the intact rows, then 65 (not 74, not "standard output").
for dest in - part.csv; do
    expect_status 65 "$WATTPROF" export t.wptrace --csv --sensor power -o "$dest"
    expect_in err.txt "device 0 power"
    expect_in err.txt "s after the start"
    grep -q "standard output failed" err.txt && fail "export blamed standard output"
    rows=$(if [ "$dest" = - ]; then cat out.txt; else cat part.csv; fi | wc -l)
    all=$(wc -l < all.csv)
    note "export -o $dest: $rows of $all rows"
    [ "$rows" -gt $((all / 2)) ] && [ "$rows" -lt "$all" ] || fail "export -o $dest wrote $rows of $all rows"
done
expect_status 65 "$WATTPROF" export t.wptrace --jsonl
