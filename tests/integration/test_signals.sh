# A signal meant for the job reaches it exactly once, however it was sent: `timeout` (which
# signals wattprof and then its whole process group), `kill -- -PGID` of wattprof's group,
# `kill PID` of wattprof alone, and Ctrl-C on a terminal. A second SIGINT turns a graceful
# stop into a forced one, so a copy forwarded on top of one the job already got is a bug.
. "$(dirname "$0")/lib.sh"

# The job counts the SIGINTs it gets (it keeps listening LISTEN s after the first, default 1,
# long enough for a second copy to land) and exits with that count. It writes its pid to
# READY once its handler is installed, so no signal is sent before it can be counted.
# usage: python3 job.py READY [LISTEN]
cat >job.py <<'PY'
import os, signal, sys, time
got = 0
def on_int(signum, frame):
    global got
    got += 1
signal.signal(signal.SIGINT, on_int)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
end = time.monotonic() + 30
while got == 0 and time.monotonic() < end:
    time.sleep(0.01)
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 1)
sys.exit(got)
PY

wait_ready() { # FILE
    for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.05; done
    fail "the job never started ($1 missing)"
}

# wait_count PID WHAT: waits for PID, checks the job counted exactly one SIGINT.
wait_count() {
    set +e; wait "$1"; st=$?; set -e
    note "$2: the job got $st SIGINT(s)"
    [ "$st" = 1 ] || fail "$2: the job got $st SIGINTs (exit status $st), expected exactly 1"
}

# 1. timeout -s INT: timeout signals wattprof, then its own process group (wattprof's too).
#    The job is ready well before 3 s; --preserve-status passes the job's count through.
set +e
timeout --preserve-status -s INT 3 "$WATTPROF" run -q -- python3 job.py ready1 2>err1.txt
st=$?
set -e
note "timeout -s INT: the job got $st SIGINT(s)"
[ "$st" = 1 ] || { cat err1.txt; fail "timeout -s INT: the job got $st SIGINTs, expected exactly 1"; }

# 2. kill -INT -- -PGID: the whole process group wattprof was started in (setsid: its own).
setsid "$WATTPROF" run -q -- python3 job.py ready2 2>err2.txt &
pid=$!
wait_ready ready2
kill -INT -- -"$pid"
wait_count "$pid" "kill -INT -- -PGID"

# 3. kill -INT PID of wattprof alone: still passed on to the job, once.
setsid "$WATTPROF" run -q -- python3 job.py ready3 2>err3.txt &
pid=$!
wait_ready ready3
kill -INT "$pid"
wait_count "$pid" "kill -INT <wattprof pid>"

# 4. Two requests seconds apart are two signals: only copies of one request are dropped.
setsid "$WATTPROF" run -q -- python3 job.py ready4 4 2>err4.txt &
pid=$!
wait_ready ready4
kill -INT "$pid"
sleep 1.5
kill -INT "$pid"
set +e; wait "$pid"; st=$?; set -e
note "two kill -INT 1.5 s apart: the job got $st SIGINT(s)"
[ "$st" = 2 ] || fail "two kill -INT 1.5 s apart: the job got $st SIGINTs, expected 2"

# 5. On a terminal: Ctrl-C reaches the job once, and the job can read the terminal (it is in
#    the foreground, not stopped by SIGTTIN). wattprof runs as the session leader of a pty.
cat >onpty.py <<'PY'
import os, pty, select, sys, time
wattprof, mode = sys.argv[1], sys.argv[2]
if mode == "ctrl-c":
    job = ["python3", "job.py", "ready5"]
else:
    job = ["python3", "-c", "import sys; sys.exit(0 if input() == 'hello' else 3)"]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(wattprof, [wattprof, "run", "-q", "--"] + job)
end = time.monotonic() + 20
if mode == "ctrl-c":
    while not os.path.exists("ready5") and time.monotonic() < end:
        time.sleep(0.05)
    os.write(fd, b"\x03")
else:
    os.write(fd, b"hello\n")
out = b""
while time.monotonic() < end:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        print(out.decode(errors="replace"), file=sys.stderr)
        print("status", os.waitstatus_to_exitcode(st))
        sys.exit(0)
    if select.select([fd], [], [], 0.1)[0]:
        try:
            out += os.read(fd, 4096)
        except OSError:  # EIO once the terminal's last user has gone
            time.sleep(0.05)
os.kill(pid, 9)
print("timed out; terminal output:", out.decode(errors="replace"), file=sys.stderr)
sys.exit(99)
PY
python3 onpty.py "$WATTPROF" ctrl-c >out5.txt 2>err5.txt || { cat err5.txt; fail "pty helper failed"; }
note "Ctrl-C on a terminal: the job got $(cat out5.txt)"
[ "$(cat out5.txt)" = "status 1" ] || { cat err5.txt; fail "Ctrl-C on a terminal: $(cat out5.txt), expected status 1 (one SIGINT)"; }
python3 onpty.py "$WATTPROF" read >out6.txt 2>err6.txt || { cat err6.txt; fail "pty helper failed"; }
[ "$(cat out6.txt)" = "status 0" ] || { cat err6.txt; fail "a job reading the terminal: $(cat out6.txt), expected status 0"; }
