# Every JSON wattprof writes is valid JSON and valid UTF-8, whatever bytes the values hold:
# sweep values from the command line, sensor names from a trace anyone can edit.
. "$(dirname "$0")/lib.sh"

# A sweep value with invalid UTF-8, a quote, a backslash and a control character.
bad=$(printf 'a\377"b\\c\001')
expect_status 0 "$WATTPROF" sweep --param v="$bad" --json s.json -- sh -c 'exit 0' sh '{v}'
check 'j["runs"][0]["value"] == "a\ufffd\"b\\c\x01"' s.json

# JSONL export of a trace whose sensor names hold a quote, a backslash and invalid UTF-8.
expect_status 0 "$WATTPROF" record -q -o t.wptrace --duration 1
python3 - <<'PY'
import sqlite3
c = sqlite3.connect("t.wptrace")
c.execute("update sensors set name = cast(x'706f77227e5cff0a' as text) where name = 'power'")
c.commit()
PY
expect_status 0 "$WATTPROF" export t.wptrace --jsonl -o rows.jsonl
python3 - <<'PY' || fail "export --jsonl wrote invalid JSON"
import json
n = 0
with open("rows.jsonl", encoding="utf-8") as f:  # strict UTF-8
    for line in f:
        r = json.loads(line)
        n += r["name"] == 'pow"~\\\ufffd\n'
assert n > 0, "no rows of the renamed sensor"
PY
# CSV quotes such a name (RFC 4180) so the row keeps its seven columns.
expect_status 0 "$WATTPROF" export t.wptrace --csv -o rows.csv
python3 - <<'PY' || fail "export --csv rows do not have seven fields"
import csv
rows = list(csv.reader(open("rows.csv", encoding="utf-8", errors="replace", newline="")))
assert all(len(r) == 7 for r in rows), [r for r in rows if len(r) != 7][:3]
PY
