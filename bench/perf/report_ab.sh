#!/usr/bin/env bash
# report_ab.sh: two wattprof builds' `report` of the same trace, run alternately (base, new,
# base, new, ...) so that a busy machine slows both alike. Each run writes the text, the
# JSON and, with --html, the page; every output of the new build must be byte for byte the
# base's (a change meant to be faster must not change a digit), else it exits 1.
#
#   bench/perf/report_ab.sh BASE_WATTPROF NEW_WATTPROF TRACE [RUNS [--html]]   (default 5)
#
# Prints a table of whole numbers: wall and user+sys CPU in ms (median and range of RUNS),
# peak RSS in MB, and NEW / BASE ratios of the medians.
set -u
base=${1:?usage: report_ab.sh BASE_WATTPROF NEW_WATTPROF TRACE [RUNS [--html]]}
new=${2:?usage: report_ab.sh BASE_WATTPROF NEW_WATTPROF TRACE [RUNS [--html]]}
trace=${3:?usage: report_ab.sh BASE_WATTPROF NEW_WATTPROF TRACE [RUNS [--html]]}
runs=${4:-5}
html=${5:-}
[ -r "$trace" ] || { echo "report_ab.sh: cannot read $trace" >&2; exit 66; }
case $runs in '' | *[!0-9]* | 0) echo "report_ab.sh: RUNS must be a whole number > 0" >&2; exit 64 ;; esac
[ -z "$html" ] || [ "$html" = --html ] || { echo "report_ab.sh: the fifth argument can only be --html" >&2; exit 64; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$runs"); do
    for v in base new; do
        bin=$base
        [ $v = new ] && bin=$new
        extra=()
        [ -n "$html" ] && extra=(--html "$tmp/$v.html")
        /usr/bin/time -o "$tmp/time" -f "%e %U %S %M" "$bin" report "$trace" --json "$tmp/$v.json" \
            --force "${extra[@]}" >"$tmp/$v.txt" 2>"$tmp/$v.err"
        echo "$?" >"$tmp/$v.rc"
        echo "$v $(cat "$tmp/time")" >>"$tmp/rows"
    done
    for f in txt err json rc ${html:+html}; do
        cmp -s "$tmp/base.$f" "$tmp/new.$f" || { echo "report_ab.sh: the builds' $f differ" >&2; exit 1; }
    done
done
python3 - "$tmp/rows" "$trace" "$runs" "$html" <<'PY'
import statistics, sys
rows, trace, runs, html = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
d = {"base": [], "new": []}
for line in open(rows):
    v, wall, user, sys_, rss = line.split()
    d[v].append((float(wall) * 1000, (float(user) + float(sys_)) * 1000, int(rss) / 1024))
print(f"report {html or '(text + JSON)'} of {trace}, {runs} runs each, alternating; outputs identical")
print("| build | wall ms, median | wall ms, range | CPU ms, median | CPU ms, range | peak RSS MB |")
print("|---|---|---|---|---|---|")
med = {}
for v in ("base", "new"):
    w = [r[0] for r in d[v]]
    c = [r[1] for r in d[v]]
    med[v] = (statistics.median(w), statistics.median(c))
    print(f"| {v} | {med[v][0]:.0f} | {min(w):.0f}-{max(w):.0f} | {med[v][1]:.0f} | "
          f"{min(c):.0f}-{max(c):.0f} | {max(r[2] for r in d[v]):.0f} |")
print(f"| new / base | {med['new'][0] / med['base'][0]:.2f} | | {med['new'][1] / med['base'][1]:.2f} | | |")
PY
