# One compute process alone on a GPU (the common case: one training process per GPU) needs no
# per-process read (nvmlDeviceGetProcessUtilization, 2.5-3.3 ms of CPU on H200): the cheap list
# of running processes says it is alone, and the GPU's utilisation is its share. Checked here
# against the fake NVML, which lists the same processes FAKE_NVML_PROCS schedules and reports
# their summed SM % as the GPU's utilisation (FAKE_NVML_EXTRAS=1), and counts the calls
# (FAKE_NVML_STATS). GPU 1 gets a process that never runs, so its utilisation is 0 (idle).
. "$(dirname "$0")/lib.sh"
export FAKE_NVML_EXTRAS=1
IDLE1=1:9999:10:900-901

calls() { # calls STATS FUNCTION: how many times FUNCTION was called
    sed -n "s/^$2 \([0-9]*\)\$/\1/p" "$1"
}
rec() { # rec NAME SECONDS PROCS [record args...]: records NAME.wpt, NAME.json, NAME.stats
    local name=$1 secs=$2 procs=$3
    shift 3
    expect_status 0 env FAKE_NVML_STATS="$PWD/$name.stats" FAKE_NVML_PROCS="$procs" \
        "$WATTPROF" record -q -o "$name.wpt" -d "$secs" --json "$name.json" "$@"
}
per_process() { calls "$1.stats" nvmlDeviceGetProcessUtilization; }
listed() { calls "$1.stats" nvmlDeviceGetComputeRunningProcesses_v3; }

# Alone all along: the per-process call is made only once per GPU, at discovery (to learn
# whether the driver has it), and the process still gets all of its GPU's busy energy, with
# the GPU's utilisation (60 %) as its mean SM share, as the per-process read gives it
# (procs_solo=0).
rec solo 5 0:4242:60,$IDLE1
rec solo_off 5 0:4242:60,$IDLE1 --source nvml:procs_solo=0
[ "$(per_process solo)" = 2 ] || fail "per-process reads while one process was alone: $(per_process solo)"
[ "$(listed solo)" -ge 5 ] || fail "the running processes were not listed each round: $(listed solo)"
[ "$(per_process solo_off)" -ge 6 ] || fail "procs_solo=0 did not read each process: $(per_process solo_off)"
[ "$(listed solo_off)" = 0 ] || fail "procs_solo=0 still listed the processes"
for f in solo solo_off; do
    check '[(p["pid"], p["mean_sm_pct"]) for p in j["processes"]["gpus"][0]["processes"]] == [(4242, 60)]' $f.json
    check 'j["processes"]["gpus"][0]["idle_j"] == 0' $f.json
    check 'j["processes"]["gpus"][0]["processes"][0]["share_pct"] > 97' $f.json
    check '[g["index"] for g in j["processes"]["gpus"]] == [0]' $f.json
done
# Its rounds are one a second like the per-process read's, so the same energy is attributed,
# to within the edges' jitter. The list answers in the very first round, where the per-process
# read has no sample yet (the fake's, like the driver's, needs a 100 ms period to have ended),
# and in the last, where it may have none newer: up to two rounds more.
python3 - solo.json solo_off.json <<'PY' || fail "the solo rounds attribute other energy than the per-process read"
import json, sys
a, b = (json.load(open(f))["processes"]["gpus"][0]["processes"][0] for f in sys.argv[1:])
assert abs(a["share_pct"] - b["share_pct"]) < 1.5, (a, b)
assert 0 <= a["rounds"] - b["rounds"] <= 2, (a, b)
PY

# A second process from 3 to 6 s: the per-process read is made while they share (about three
# rounds), not before or after, and the split matches the per-process read's every round
# (procs_solo=0) to within a point: the first shared round covers only the time since the last
# solo one, not everything since the per-process read before.
rec share 9 0:4242:60,0:4343:20:3-6,$IDLE1
rec share_off 9 0:4242:60,0:4343:20:3-6,$IDLE1 --source nvml:procs_solo=0
n=$(per_process share)
[ "$n" -ge 4 ] && [ "$n" -le 7 ] || fail "per-process reads with a second process for 3 s: $n"
[ "$(per_process share_off)" -ge 10 ] || fail "procs_solo=0: $(per_process share_off) reads"
# The driver averages each process over everything since lastSeen, so the first shared read
# must ask from the last solo round (about a second back), never from further.
[ "$(calls share.stats lastSeen:zero)" = 0 ] &&
    [ "$(calls share.stats lastSeen:oldest_ms)" -le 2500 ] ||
    fail "a shared read asked from before the last solo round: $(grep lastSeen share.stats)"
python3 - share.json share_off.json <<'PY' || fail "sharing for 3 s split differently from procs_solo=0"
import json, sys
on, off = ({p["pid"]: p for p in json.load(open(f))["processes"]["gpus"][0]["processes"]}
           for f in sys.argv[1:])
assert set(on) == set(off) == {4242, 4343}, (on.keys(), off.keys())
for pid in on:
    assert abs(on[pid]["share_pct"] - off[pid]["share_pct"]) < 1.0, (pid, on[pid], off[pid])
    assert abs(on[pid]["rounds"] - off[pid]["rounds"]) <= 2, (pid, on[pid], off[pid])
# 4343 ran 3 of 9 s at a quarter of the busy time: at most about 1/12 of the energy (two or
# three rounds, by where the 1 s grid falls).
assert 2 < on[4343]["share_pct"] < 12 and on[4343]["rounds"] >= 2, on[4343]
assert on[4343]["mean_sm_pct"] == 20, on[4343]
PY

# Two processes all along: the per-process read every round, and the exact 3:1 split.
rec two 4 0:4242:60,0:4343:20,$IDLE1
[ "$(per_process two)" -ge 5 ] || fail "two processes were not read each round: $(per_process two)"
python3 - two.json <<'PY' || fail "two processes are not split 3:1"
import json, sys
g = json.load(open(sys.argv[1]))["processes"]["gpus"][0]
p = {x["pid"]: x["energy_j"] for x in g["processes"]}
assert abs(p[4242] / p[4343] - 3.0) < 1e-9 and g["idle_j"] == 0, g
PY

# Whenever the list cannot say "alone", the per-process read is made as before: a driver
# library without nvmlDeviceGetComputeRunningProcesses_v3, a list call that fails, a GPU split
# by MIG (instance ids other than 0xFFFFFFFF), utilisation unknown.
WATTPROF_NVML_LIB="$(dirname "$FAKE_NVML_LIB")/no-nvmlDeviceGetComputeRunningProcesses_v3/libnvidia-ml.so.1" \
    rec nosym 4 0:4242:60,$IDLE1
FAKE_NVML_NOT_SUPPORTED=running rec failing 4 0:4242:60,$IDLE1
FAKE_NVML_MIG=1 rec mig 4 0:4242:60,$IDLE1
FAKE_NVML_NOT_SUPPORTED=util rec noutil 4 0:4242:60,$IDLE1
for f in nosym failing mig noutil; do
    [ "$(per_process $f)" -ge 5 ] || fail "$f: one process alone was not read each round: $(per_process $f)"
    check '[p["pid"] for p in j["processes"]["gpus"][0]["processes"]] == [4242]' $f.json
    check 'j["processes"]["gpus"][0]["processes"][0]["share_pct"] > 97' $f.json
done
[ "$(listed nosym)" = 0 ] || fail "the missing symbol was called"
[ "$(listed failing)" -ge 5 ] || fail "the failing list was not tried"
[ "$(listed mig)" -ge 5 ] || fail "the list was not asked under MIG"
[ "$(listed noutil)" = 0 ] || fail "the list was asked with utilisation unknown"

# A key that is not 0 or 1 is refused before anything is recorded.
expect_status 64 "$WATTPROF" record -o bad.wpt -d 1 --source nvml:procs_solo=maybe
expect_in err.txt "procs_solo"
[ ! -e bad.wpt ] || fail "a refused procs_solo still wrote a trace"
