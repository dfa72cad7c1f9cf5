#!/usr/bin/env bash
# procs_reanalyse.sh: energy per process again, with this build's analysis, from the traces a
# procs_check.sh run brought back (the split is computed when reading, so no GPU is needed).
#
#     bash bench/h200/procs_reanalyse.sh docs/validation/h200-2026-12-03d [WATTPROF]
#
# Reads procs_traces.tgz and the pids from procs_check.log there; prints the comparison
# table (procs_compare.py) for the two recordings. For runs of the script before procs_solo
# (p1/pd traces, procs_period 1 s against 5 s); later runs keep their JSON beside the traces.
set -eu
cd "$(dirname "$0")/../.."
dir=${1:?usage: procs_reanalyse.sh RUN_DIR [WATTPROF]}
W=${2:-build/wattprof}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
tar xzf "$dir/procs_traces.tgz" -C "$D"
python3 - "$dir/procs_check.log" "$D" <<'PY'
import ast, os, re, sys
m = re.search(r"our pids: (\{.*\})", open(sys.argv[1]).read())
for pid, name in ast.literal_eval(m.group(1)).items():
    open(os.path.join(sys.argv[2], name + ".pid"), "w").write(str(pid))
PY
for v in 1s default; do
    f=p1
    [ $v = default ] && f=pd
    "$W" report "$D/$f.wptrace" --json "$D/procs_$v.json" >/dev/null 2>&1
done
# The load's start: the first proc_util sample of the 1 s recording, as procs_check.sh's t0 is
# not kept; times in the table are from there.
t0=$(sed -n 2p "$D/procs_1s.csv" | cut -d, -f6)
python3 bench/h200/procs_compare.py "$D" "$D" "$t0"
