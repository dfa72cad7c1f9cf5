#!/usr/bin/env bash
# busy_ab.sh: two wattprof builds record the same busy GPU at the same time, and what each
# costs. recorder_ab.sh measures an idle GPU one build after the other; on a busy GPU the
# per-process reads of the newer build are made, so the cost has to be seen under load. From
# the repository root on the GPU machine:
#
#     OUT=$OUT bash bench/h200/busy_ab.sh [SECONDS]      (default 60)
#
# A steady bf16 matmul (wattprof-burn --size 8192 on GPU 0, one process) runs for SECONDS + 6;
# BASE (.carry/base/wattprof) and NEW (.carry/bin/wattprof, default keys) each record it for
# SECONDS with `record -d`, started together. CPU of each recorder from bash `times` of the
# subshell that reaped it (start-up and shutdown included) -> $OUT/busy_ab.txt.
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-/tmp/h200-out}
mkdir -p "$OUT" || exit 1
S=${1:-60}
BASE=${BASE:-.carry/base/wattprof}
NEW=${WATTPROF:-.carry/bin/wattprof}
BURN=${BURN:-.carry/bin/wattprof-burn}
D=$(mktemp -d /tmp/wpbusy.XXXXXX)
trap 'rm -rf "$D"' EXIT
"$BURN" --seconds $((S + 6)) --size 8192 --gpus 0 --quiet >"$D/burn.out" 2>&1 &
burn=$!
sleep 4 # past cuBLAS set-up: both recorders see the GPU busy from their first round
rec() { # rec LABEL BIN: CPU seconds (user and system, children) into $D/LABEL.times
    (
        "$2" record -q -o "$D/$1.wptrace" -d "$S" >"$D/$1.out" 2>&1
        echo "rc $?" >"$D/$1.rc"
        times >"$D/$1.times"
    ) &
}
rec base "$BASE"
pb=$!
rec new "$NEW"
pn=$!
wait "$pb" "$pn"
wait "$burn"
{
    printf '# %s s of one wattprof-burn 8192 on GPU 0, both recorders at once\n\n' "$S"
    echo "| build | CPU ms | us per recorded s | % of one core | exit |"
    echo "|---|---|---|---|---|"
    for v in base new; do
        # `times` prints the shell's, then its children's user and system times (NmN.NNNs).
        awk -v v="$v" -v s="$S" -v rc="$(cat "$D/$v.rc" 2>/dev/null)" 'NR == 2 {
            n = split($0, f, /[ \t]+/); ms = 0
            for (i = 1; i <= n; i++) { split(f[i], p, /m/); sub(/s/, "", p[2]); ms += (p[1] * 60 + p[2]) * 1000 }
            printf "| %s | %.0f | %.0f | %.3f | %s |\n", v, ms, ms * 1000 / s, ms / s / 10, rc }' "$D/$v.times"
    done
    echo
    "$NEW" report "$D/new.wptrace" 2>&1 | head -n 12
} | tee "$OUT/busy_ab.txt"
