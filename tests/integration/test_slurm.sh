# The Slurm SPANK plugin (issue 13, done-when 3) under a real one-host Slurm: munged, slurmctld
# and slurmd from Debian, started here as root on free ports with their state in this test's
# directory (proctrack/linuxproc, task/none: no cgroups needed), the plugin in their
# plugstack. A batch job with two srun steps and a mark of its own runs on replayed GPUs (the
# fake NVML, through a wrapper that hands the recorder the test's environment). Then: the
# per-job trace DIR/job-JOBID-HOST.wptrace exists and holds the job id; the batch script and
# both steps are phases of the right length, the job's own mark is in it; the report sits in
# DIR/job-JOBID-HOST.txt and .json; and the job's comment carries the GPU energy of that
# report. Every daemon (and the recorder) is stopped by its PID.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "needs root: slurmd runs jobs as their users (CI and scripts/check.sh run as root)"
for b in munged slurmctld slurmd sbatch scontrol squeue; do
    command -v $b >/dev/null || fail "$b is missing: scripts/deps.sh test installs slurm-wlm, slurmctld, slurmd and munge"
done
PLUGIN="$(dirname "$WATTPROF")/contrib/spank_wattprof.so"
[ -f "$PLUGIN" ] || fail "$PLUGIN was not built (libslurm-dev and libjansson-dev are needed)"

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pids=""
stop_all() {
    # the recorders the plugin started, if a job was left running
    for p in "$T"/jobs/.run-*/pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
}
trap 'stop_all; rm -rf "$T"' EXIT
pidof_file() { # waits for a daemon's pid file
    for _ in $(seq 100); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.1; done
    fail "no pid file $1"
}

mkdir -p munge state spool log jobs
chmod 700 munge
head -c 128 /dev/urandom >munge/key
chmod 400 munge/key
munged -f --socket="$T/munge/sock" --key-file="$T/munge/key" --pid-file="$T/munge/pid" \
    --log-file="$T/munge/log" --seed-file="$T/munge/seed" || fail "munged did not start: $(cat munge/log)"
pids="$(pidof_file munge/pid)"

# The recorder needs the test's fake NVML; slurmd gives the prolog its own environment.
cat >wp.sh <<WRAP
#!/bin/sh
export WATTPROF_NVML_LIB="$WATTPROF_NVML_LIB" FAKE_NVML_TRACE="$FAKE_NVML_TRACE"
export FAKE_NVML_RECORDED_ON="$FAKE_NVML_RECORDED_ON" WATTPROF_SYSFS_ROOT="$WATTPROF_SYSFS_ROOT"
exec "$WATTPROF" "\$@"
WRAP
chmod +x wp.sh

H=$(hostname -s)
cat >slurm.conf <<CONF
ClusterName=wptest
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$(port)
SlurmdPort=$(port)
AuthType=auth/munge
AuthInfo=socket=$T/munge/sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=3600
ReturnToService=2
PlugStackConfig=$T/plugstack.conf
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=500 State=UNKNOWN
PartitionName=test Nodes=$H Default=YES MaxTime=10 State=UP
CONF
echo "required $PLUGIN dir=$T/jobs wattprof=$T/wp.sh" >plugstack.conf
export SLURM_CONF="$T/slurm.conf"
slurmctld -f "$T/slurm.conf" || fail "slurmctld did not start: $(tail log/slurmctld.log)"
pids="$pids $(pidof_file slurmctld.pid)"
slurmd -f "$T/slurm.conf" -N "$H" || fail "slurmd did not start: $(tail log/slurmd.log)"
pids="$pids $(pidof_file slurmd.pid)"
for _ in $(seq 100); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.2; done
sinfo -h -o %t | grep -q idle || fail "the node never became idle: $(sinfo; tail log/slurmd.log)"

cat >job.sh <<'JOB'
#!/bin/sh
srun -n1 sleep 2
srun -n1 sleep 1
python3 -c 'import wattprof; wattprof.mark("from_job", samples=7)'
JOB
id=$(sbatch --parsable -o "$T/job.out" job.sh) || fail "sbatch failed"
note "job $id"
# Done when the job has completed and its epilog has logged the node's energy.
for _ in $(seq 300); do
    scontrol show job "$id" 2>/dev/null | grep -q JobState=COMPLETED &&
        grep -qs "^job=$id " jobs/energy.log && break
    sleep 0.2
done
state=$(scontrol show job "$id" | grep -o 'JobState=[A-Z]*')
comment=$(squeue -h -t all -j "$id" -o %k)
note "$state; comment: $comment"
[ "$state" = JobState=COMPLETED ] || fail "job $id ended $state: $(cat job.out; tail -20 log/slurmd.log)"

base="$T/jobs/job-$id-$H"
[ -f "$base.wptrace" ] || fail "no per-job trace $base.wptrace: $(ls -la jobs; cat "$base.log"; grep -i wattprof log/slurmd.log)"
[ ! -e "$T/jobs/.run-$id-$H" ] || fail "the run directory was left behind"
python3 - "$base.wptrace" "$id" <<'PY' || fail "the trace does not carry the job id"
import sqlite3, sys
m = dict(sqlite3.connect(sys.argv[1]).execute("select key, value from meta"))
assert m.get("slurm.job_id") == sys.argv[2], m.get("slurm.job_id")
PY
[ -s "$base.txt" ] && [ -s "$base.json" ] || fail "no report beside the trace"
expect_in "$base.txt" "REPLAY"
check '{p["name"] for p in j["phases"]} >= {"step.batch", "step.0", "step.1"}' "$base.json"
check '1.8 < [p for p in j["phases"] if p["name"] == "step.0"][0]["duration_s"] < 3.5' "$base.json"
check '0.8 < [p for p in j["phases"] if p["name"] == "step.1"][0]["duration_s"] < 2.5' "$base.json"
check 'all(p["energy_j"] > 0 and not p["open_ended"] for p in j["phases"])' "$base.json"
check '[p for p in j["phases"] if p["name"] == "step.0"][0]["depth"] == 1' "$base.json"
check '[m["counts"]["samples"] for m in j["marks"] if m["name"] == "from_job"] == [7]' "$base.json"
# The energy log: one line per job and node with the report's numbers.
grep -q "^job=$id host=$H " jobs/energy.log || fail "no line for job $id in the energy log: $(cat jobs/energy.log)"
python3 - "$base.json" jobs/energy.log "$id" <<'PY' || fail "the energy log differs from the report"
import json, sys
j = json.load(open(sys.argv[1]))
rec = dict(kv.split("=", 1) for kv in open(sys.argv[2]).read().split("\n")[0].split())
assert rec["job"] == sys.argv[3]
assert abs(float(rec["gpu_energy_j"]) - j["total"]["energy_j"]) < 0.001, rec
assert abs(float(rec["node_energy_j"]) - j["node"]["energy_j"]) < 0.001, rec
assert int(rec["start_us"]) == j["start_us"] and int(rec["end_us"]) == j["end_us"]
PY
# The comment: written when the batch script ended (slurmctld refuses it once the job
# completes), so it holds the energy up to then: most of the final figure, never more.
python3 - "$base.json" "$comment" "$H" <<'PY' || fail "the job's comment '$comment' does not carry the job's GPU energy: $(tail -5 "$base.log")"
import json, re, sys
j = json.load(open(sys.argv[1]))
m = re.search(r"wattprof (\S+): GPU ([0-9.]+) kJ, node ([0-9.]+) kJ \(estimated\), GPU peak", sys.argv[2])
assert m and m.group(1) == sys.argv[3], sys.argv[2]
final = j["total"]["energy_j"] / 1000
assert 0.5 * final < float(m.group(2)) <= final + 0.01, (m.group(2), final)
PY
note "per-job trace, step phases, energy log and comment all there"

# A node where wattprof cannot run at all still runs jobs, promptly: the plugin says why in
# the job's log and the job neither fails nor waits out the 10 s socket timeout.
spid=$(cat slurmd.pid)
kill "$spid"
for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
echo "optional $PLUGIN dir=$T/jobs2 wattprof=$T/no-such-wattprof" >plugstack.conf
rm -f slurmd.pid
slurmd -f "$T/slurm.conf" -N "$H" || fail "slurmd did not restart"
pids="$pids $(pidof_file slurmd.pid)"
for _ in $(seq 100); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.2; done
t0=$SECONDS
id2=$(sbatch --parsable -o "$T/job2.out" --wrap "srun -n1 echo hello-from-step") || fail "sbatch failed"
for _ in $(seq 150); do
    scontrol show job "$id2" 2>/dev/null | grep -q JobState=COMPLETED && break
    sleep 0.2
done
scontrol show job "$id2" | grep -q JobState=COMPLETED || fail "job $id2 did not complete without wattprof: $(scontrol show job "$id2" | grep -o 'JobState=[A-Z]*')"
[ $((SECONDS - t0)) -lt 9 ] || fail "job $id2 took $((SECONDS - t0)) s: the prolog waited for a recorder that had exited"
expect_in job2.out "hello-from-step"
[ ! -e "$T/jobs2/job-$id2-$H.wptrace" ] || fail "a trace without a recorder?"
expect_in "$T/jobs2/job-$id2-$H.log" "cannot run"
note "without wattprof the job ran in $((SECONDS - t0)) s"
