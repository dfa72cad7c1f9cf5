# A job that floods the marks socket with garbage (issue "Trust", defect 9): every rejection
# is counted, but only the first few are printed and stored as events, then one line with
# the total; before, 10,000 bad datagrams gave 10,017 stderr lines and trace events.
. "$(dirname "$0")/lib.sh"
expect_status 0 "$WATTPROF" run -o f.wptrace -- python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i in range(10000):
    s.sendto(b"\x00\xffnot a mark %d" % i, os.environ["WATTPROF_SOCKET"])
s.sendto(b"begin ok", os.environ["WATTPROF_SOCKET"])
s.sendto(b"end ok", os.environ["WATTPROF_SOCKET"])'
lines=$(grep -c "rejected" err.txt || true)
[ "$lines" -le 7 ] || fail "$lines stderr lines about rejected marks (want at most 7)"
expect_in err.txt "rejected 10000 marks in all"
python3 - <<'PY' || fail "rejections not counted, or stored one event each"
import sqlite3
c = sqlite3.connect("file:f.wptrace?mode=ro", uri=True)
n = c.execute("select value from meta where key='marks.rejected'").fetchone()[0]
assert n == "10000", n
ev = c.execute("select count(*) from events where message like '%rejected%'").fetchone()[0]
assert 1 <= ev <= 7, ev
good = c.execute("select count(*) from marks where name='ok'").fetchone()[0]
assert good == 2, good  # the good marks after the flood still count
PY
note "stderr lines about rejections: $lines"
