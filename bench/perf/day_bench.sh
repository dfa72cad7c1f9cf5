#!/usr/bin/env bash
# day_bench.sh: a day of an 8-GPU node, this wattprof beside the version before the streaming
# summary, measured in one run. Builds both, writes 1 h, 6 h and 24 h traces with each one's
# own trace writer (bench/perf/day_gen.c: wattprof's NVML source polling the fake NVML on a
# virtual clock), then for each trace and version:
#   report   `wattprof report TRACE --json FILE` (text and JSON): wall, user+sys CPU, peak RSS
#   html     `wattprof report TRACE --html FILE` (text and the HTML page; this tree only, the
#            before-version had no --html): wall, user+sys CPU, peak RSS, the page's size
#   export   `wattprof export TRACE --csv -o FILE`: wall, rows per second of wall time
#   bytes    file bytes per 20 ms power sample
#   writer   CPU of generating it per recorded second (the source and writer's own cost:
#            the virtual clock takes the sleeping out)
# and checks that both versions print the same report for each trace: every JSON member the
# before-version writes (at any depth) has the same value, every line of its text is there in
# order (the newer one adds members and blocks, e.g. the swings, node.compared).
#
#   bench/perf/day_bench.sh [HOURS...]     (default 1 6 24; BASE=commit, default aac2fb6)
#
# Traces are cached in build/perf/ (delete it to regenerate). On the 2-core VM: 2 min 7 s for
# 1 6 24 with the before-version's build and traces cached (2026-12-03), a few minutes more the
# first time (building it, generating its traces at about 2.3 s per hour).
set -eu
cd "$(dirname "$0")/../.."
hours=${*:-1 6 24}
base=${BASE:-aac2fb6}
out=build/perf
mkdir -p "$out"
J=${JOBS:-2}

# both builds: this tree in build/, the base from `git archive` in build/perf/base-<commit>/
make -s -j"$J" all >/dev/null
bdir="$out/base-$base"
if [ ! -x "$bdir/build/wattprof" ]; then
    rm -rf "$bdir"
    mkdir -p "$bdir"
    git archive "$base" | tar -x -C "$bdir"
    make -s -C "$bdir" -j"$J" BUILD=build NVCC= all >/dev/null
fi
# this tree's core links whatever its sources need (make knows); the base's needed SQLite only
make -s build/day_gen && cp build/day_gen "$out/day_gen-new"
cc -O2 -std=c17 -D_GNU_SOURCE -I"$bdir/src" -I"$bdir/include" -pthread -o "$out/day_gen-base" \
    bench/perf/day_gen.c "$bdir/build/libwattprof-core.a" -lsqlite3 -ldl -lm -pthread

export WATTPROF_NVML_LIB="$PWD/build/fake-nvml/libnvidia-ml.so.1"
export FAKE_NVML_TRACE="$PWD/tests/fixtures/h200/buffer-2gpu.csv.gz"
export FAKE_NVML_GPUS=8 FAKE_NVML_EXTRAS=1

# measure OUTFILE CMD...: "wall_s cpu_s maxrss_kb" of CMD (GNU time).
measure() {
    local o=$1
    shift
    /usr/bin/time -f '%e %U %S %M' -o "$o" "$@" >/dev/null 2>&1 || true
    awk '{ printf "%.2f %.2f %d", $1, $2 + $3, $4 }' "$o"
}

printf '%-5s %-5s %9s %9s %8s %9s %8s %11s %8s %8s %10s %4s %7s %7s %7s %7s\n' hours ver report_s \
    cpu_s rss_MB export_s rows_M rows_M/s B/power writer_us/s file_MB same html_s html_cpu \
    html_MB page_kB
for h in $hours; do
    for v in base new; do
        tr="$out/day-${h}h-$v.wptrace"
        if [ ! -f "$tr" ]; then
            r=$(measure "$out/gen.time" "$out/day_gen-$v" "$h" "$tr.tmp")
            mv "$tr.tmp" "$tr"
            echo "$r" >"$tr.gen"
        fi
        bin=build/wattprof
        [ "$v" = base ] && bin=$bdir/build/wattprof
        rep=$(measure "$out/rep.time" "$bin" report "$tr" --json "$out/rep-$v.json" --force)
        "$bin" report "$tr" --json "$out/rep-$v.json" --force >"$out/rep-$v.txt" 2>&1 || true
        exp=$(measure "$out/exp.time" "$bin" export "$tr" --csv -o "$out/exp.csv" --force)
        rows=$(($(wc -l <"$out/exp.csv") - 1))
        rm -f "$out/exp.csv"
        power=$(sqlite3 "file:$tr?immutable=1" \
            "SELECT SUM(n) FROM chunks WHERE sensor IN (SELECT id FROM sensors WHERE name='power')")
        bytes=$(stat -c %s "$tr")
        gen_cpu=$(awk '{ print $2 }' "$tr.gen")
        same=-
        html="- - - -"
        if [ "$v" = new ]; then
            html=$(measure "$out/html.time" "$bin" report "$tr" --html "$out/rep-new.html" --force)
            html="$html $(($(stat -c %s "$out/rep-new.html") / 1024))"
            same=no
            # every member the base writes has the same value, and every line of its text is
            # there in order (later versions add members and blocks, e.g. swings)
            python3 - "$out" <<'PY' && same=yes
import json, sys
d = sys.argv[1]
a, b = (json.load(open(f"{d}/rep-{v}.json")) for v in ("base", "new"))


def within(x, y):
    """x's members (at any depth) are in y with the same values: newer versions add members
    inside objects too (e.g. node.compared)."""
    if isinstance(x, dict):
        return isinstance(y, dict) and all(k in y and within(v, y[k]) for k, v in x.items())
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(map(within, x, y))
    return x == y


if not within(a, b):
    sys.exit(1)
new = iter(open(f"{d}/rep-new.txt").read().splitlines())
sys.exit(0 if all(any(l == m for m in new) for l in open(f"{d}/rep-base.txt").read().splitlines()) else 1)
PY
        fi
        set -- $html
        hs=$1 hc=$2 hm=$3 hk=$4
        [ "$hm" = - ] || hm=$((hm / 1024))
        set -- $rep
        rs=$1 rc=$2 rm=$3
        set -- $exp
        printf '%-5s %-5s %9s %9s %8d %9s %8.2f %11.2f %8.2f %10d %8.1f %4s %7s %7s %7s %7s\n' \
            "$h" "$v" "$rs" "$rc" $((rm / 1024)) "$1" "$(echo "$rows / 1000000" | bc -l)" \
            "$(echo "$rows / 1000000 / ($1 + 0.001)" | bc -l)" "$(echo "$bytes / $power" | bc -l)" \
            "$(echo "$gen_cpu * 1000000 / ($h * 3600)" | bc -l | cut -d. -f1)" \
            "$(echo "$bytes / 1048576" | bc -l)" "$same" "$hs" "$hc" "$hm" "$hk"
    done
done
