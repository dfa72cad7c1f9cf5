#!/usr/bin/env bash
# recorder_ab.sh: two wattprof builds side by side on a GPU machine. Each records idle GPUs
# for a short and a long run, one tool at a time, measured from outside by
# bench/h200/measure_cost.sh (CPU of the whole process, start and stop included; peak RSS),
# beside the minimal buffer poller (bench/h200/nvml_minimal.c --poll). Two lengths split a
# fixed start-and-stop cost from a steady cost per recorded second:
#   per_s = (cpu_long - cpu_short) / (long - short),  fixed = cpu_short - per_s * short.
#
#   bench/perf/recorder_ab.sh BASE_WATTPROF NEW_WATTPROF [SHORT_S LONG_S]   (default 10 120)
#
# Prints the raw TSV rows, then a table of whole numbers with NEW / BASE ratios.
set -u
cd "$(dirname "$0")/../.." || exit 1
base=${1:?usage: recorder_ab.sh BASE_WATTPROF NEW_WATTPROF [SHORT_S LONG_S]}
new=${2:?usage: recorder_ab.sh BASE_WATTPROF NEW_WATTPROF [SHORT_S LONG_S]}
short=${3:-10}
long=${4:-120}
M=bench/h200/measure_cost.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -std=c17 -D_GNU_SOURCE -Isrc -o "$tmp/nvml_minimal" bench/h200/nvml_minimal.c -ldl || exit 1
rows=$tmp/rows.tsv
bash "$M" --header --log "$tmp/log" minimal-poll-$long $long -- "$tmp/nvml_minimal" --poll >"$rows"
for s in $short $long; do
    for v in base new; do
        bin=$base
        [ $v = new ] && bin=$new
        bash "$M" --log "$tmp/log" "$v-$s" $((s + 20)) -- \
            "$bin" record -q -o "$tmp/$v-$s.wptrace" --duration "$s" | tail -n 1 >>"$rows"
    done
done
cat "$rows"
echo
python3 - "$rows" "$short" "$long" <<'PY'
import csv, sys
rows = {r["name"]: r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t")}
short, long_ = int(sys.argv[2]), int(sys.argv[3])
cpu = lambda n: float(rows[n]["cpu_ms"])
print(f"| build | CPU ms, {short} s | CPU ms, {long_} s | fixed ms | us per s | % of a core, steady | peak RSS MB |")
print("|---|---|---|---|---|---|---|")
res = {}
for v in ("base", "new"):
    a, b = cpu(f"{v}-{short}"), cpu(f"{v}-{long_}")
    per_s = (b - a) / (long_ - short)
    fixed = a - per_s * short
    res[v] = (per_s, fixed)
    rss = int(rows[f"{v}-{long_}"]["peak_rss_kb"]) / 1024
    print(f"| {v} | {a:.0f} | {b:.0f} | {fixed:.0f} | {per_s * 1000:.0f} | {per_s / 10:.3f} | {rss:.1f} |")
m = rows[f"minimal-poll-{long_}"]
print(f"| minimal poller | | {cpu(m['name']):.0f} | | {cpu(m['name']) / long_ * 1000:.0f} | "
      f"{cpu(m['name']) / long_ / 10:.3f} | {int(m['peak_rss_kb']) / 1024:.1f} |")
print()
print(f"new / base: steady {res['new'][0] / res['base'][0]:.2f}x, "
      f"fixed {res['new'][1] / res['base'][1]:.2f}x" if res['base'][0] > 0 and res['base'][1] > 0
      else "new / base: base too small to divide")
PY
