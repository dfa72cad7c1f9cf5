# `wattprof top` in a real terminal (tmux), against the replayed H200s, recording with -o
# (issue 11, done-when 3): each GPU row's numbers (newest sample, 1 s mean, 10 s max, energy
# since start) are those of one moment of the trace it wrote; a phase sent to the socket it
# shows appears; a narrower window still shows every row without wrapping; `q` quits with
# status 0 and leaves a complete trace. Without -o it records nothing.
. "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || fail "tmux is not installed (scripts/deps.sh test)"
sock="wp-top-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$T"' EXIT
screen() { tmux -L "$sock" capture-pane -p -t top >"$1"; }
# widest FILE COLS: no line of FILE is wider than COLS characters (not bytes: the sparkline is
# UTF-8).
widest() { python3 -c 'import sys; sys.exit(max(len(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")) > int(sys.argv[2]))' "$1" "$2"; }
tmux -L "$sock" new-session -d -s top -x 80 -y 24 \
    "env LANG=C.UTF-8 TZ=UTC '$WATTPROF' top -o '$T/t.wptrace' 2>'$T/top.err'; echo \$? >'$T/top.rc'"
for _ in $(seq 50); do screen s0.txt; grep -q '^GPU 1 ' s0.txt && break; sleep 0.2; done
grep -q '^GPU 0 ' s0.txt || { cat s0.txt; fail "no GPU rows on the screen"; }
wsock=$(sed -n 's/^marks: WATTPROF_SOCKET=\([^ ]*\).*/\1/p' s0.txt)
[ -S "$wsock" ] || { cat s0.txt; fail "top does not show its marks socket"; }
WATTPROF_SOCKET="$wsock" python3 -c 'import wattprof; wattprof.begin("warmup")'
sleep 4
screen s1.txt
cat s1.txt
expect_in s1.txt "phase: warmup"
widest s1.txt 80 || fail "a line is wider than 80 columns"
tmux -L "$sock" resize-window -t top -x 50 -y 12
sleep 1
screen s2.txt
cat s2.txt
grep -q '^GPU 0 ' s2.txt && grep -q '^GPU 1 ' s2.txt || fail "rows lost after resizing to 50x12"
widest s2.txt 50 || fail "a line is wider than the resized 50 columns"
[ "$(wc -l <s2.txt)" -le 12 ] || fail "more lines than the resized 12"
tmux -L "$sock" send-keys -t top q
for _ in $(seq 50); do [ -f top.rc ] && break; sleep 0.2; done
[ "$(cat top.rc 2>/dev/null)" = 0 ] || { cat top.err; fail "q did not quit with status 0"; }
[ ! -e t.wptrace-wal ] || fail "top left the trace unfinished"
"$WATTPROF" export t.wptrace --csv -s power -o p.csv
python3 - s1.txt <<'PY' || fail "the numbers on the screen are not those of the trace"
import csv, re, sqlite3, sys
start = int(sqlite3.connect("file:t.wptrace?mode=ro", uri=True)
            .execute("select value from meta where key='start_us'").fetchone()[0])
rows = {}
for r in csv.DictReader(open("p.csv")):
    rows.setdefault(int(r["device"]), []).append((int(r["t_us"]), int(r["value"])))
for line in open(sys.argv[1]):
    m = re.match(r"GPU (\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+) J", line)
    if not m:
        continue
    g = int(m[1]); now, mean1, max10, energy = float(m[2]), float(m[3]), float(m[4]), float(m[6])
    s = rows[g]
    found = None
    e = 0.0
    for k in range(len(s)):
        t, v = s[k]
        if k > 0:
            lo = max(s[k - 1][0], start)
            if t > lo:
                e += v * (t - lo) / 1e9
        if abs(v / 1000 - now) > 0.051 or abs(e - energy) > 2:
            continue
        w10 = [x for (u, x) in s if t - 10_000_000 < u <= t]
        if abs(max(w10) / 1000 - max10) > 0.051:
            continue
        num = den = 0
        for j in range(1, k + 1):
            a, b = max(s[j - 1][0], t - 1_000_000), s[j][0]
            if b > a:
                num += s[j][1] * (b - a); den += b - a
        if abs(num / den / 1000 - mean1) <= 0.051:
            found = t
            break
    assert found, f"GPU {g}: no moment of the trace shows now={now} 1s={mean1} max10={max10} energy={energy}"
    print(f"GPU {g}: screen matches the trace at t={found} ({(found - start) / 1e6:.2f} s after the start)")
    rows.pop(g)
assert not rows, f"GPU rows missing from the screen: {sorted(rows)}"
PY

# Without -o: nothing is written, and `q` still quits. A meter that never delivers a reading
# (its file holds no number) shows "-" for its energy too, not 0 J.
cp -a "$FIXTURES/sysfs/hwmon-node" hw
echo garbage >"hw/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI000D:00/power1_average"
mkdir empty && cd empty
tmux -L "$sock" new-session -d -s top2 -x 80 -y 24 \
    "env LANG=C.UTF-8 '$WATTPROF' top --source 'hwmon:root=$T/hw,chip=power_meter'; echo \$? >'$T/top2.rc'"
sleep 2
tmux -L "$sock" capture-pane -p -t top2 >../s3.txt
grep -q '^GPU 0 ' ../s3.txt || { cat ../s3.txt; fail "no GPU rows beside the silent meter"; }
grep -Eq '^hwmon 0 .* -$' ../s3.txt || { cat ../s3.txt; fail "a meter without readings shows an energy"; }
tmux -L "$sock" send-keys -t top2 q
for _ in $(seq 50); do [ -f ../top2.rc ] && break; sleep 0.2; done
[ "$(cat ../top2.rc 2>/dev/null)" = 0 ] || fail "top without -o did not quit cleanly"
[ -z "$(ls -A)" ] || fail "top without -o wrote files: $(ls -A)"
expect_status 64 "$WATTPROF" top </dev/null
expect_in err.txt "needs a terminal"
