#!/usr/bin/env bash
# measure_cost.sh: what a monitoring tool costs the host, measured from outside.
#
#   measure_cost.sh [--header] [--log FILE] NAME SECONDS -- CMD ARGS...
#
# Runs CMD, lets it run SECONDS, sends SIGINT (SIGTERM 10 s later, SIGKILL 5 s after that if it
# still runs), reaps it and prints one TSV line (with --header, a header line first):
#
#   name seconds cpu_ms cpu_pct_of_one_core peak_rss_kb rc cpu_ms_at_signal method
#
# cpu_ms      user+system CPU of CMD and the children it waited for, start to exit, shutdown
#             included: the rusage the kernel hands the shell when it reaps CMD (bash `times`,
#             children line, before and after). Nothing else may run as a child of this shell
#             meanwhile, so it waits with `read -t` on a private FIFO and reads /proc with
#             builtins: a `sleep` per second would add ~1 ms of CPU each and skew a result of
#             ~0.1 % of a core.
# peak_rss_kb VmHWM from /proc/PID/status, read every second and just before the signal (a
#             zombie has no VmHWM, and `/usr/bin/time -v` is often missing on these images).
# cpu_ms_at_signal  utime+stime from /proc/PID/stat just before the signal: the difference to
#             cpu_ms is what shutting down cost.
# Stdout and stderr of CMD go to --log FILE (appended), else where this script's go; its stdin
# is /dev/null.
set -u

header=0
cmdlog=
while [ $# -gt 0 ]; do
    case $1 in
    --header)
        header=1
        shift
        ;;
    --log)
        cmdlog=${2:-}
        shift 2 || break
        ;;
    *) break ;;
    esac
done
if [ $# -lt 4 ] || [ "$3" != -- ]; then
    echo "usage: measure_cost.sh [--header] [--log FILE] NAME SECONDS -- CMD ARGS..." >&2
    exit 2
fi
name=$1
secs=$2
shift 3
if ! [[ $secs =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "measure_cost.sh: SECONDS must be a number, not '$secs'" >&2
    exit 2
fi
if [ -z "${EPOCHREALTIME:-}" ]; then
    echo "measure_cost.sh: needs bash 5 (EPOCHREALTIME)" >&2
    exit 2
fi

hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
# A background command of a non-interactive shell starts with SIGINT ignored (POSIX), and a
# tool that does not install its own handler would then never stop on SIGINT; coreutils' env
# (8.31+) puts the default back. Without it, `set -m` does the same unless this script itself
# was started with SIGINT ignored.
defsig=()
if env --default-signal=INT,QUIT true 2>/dev/null; then
    defsig=(env "--default-signal=INT,QUIT")
fi
work=$(mktemp -d /tmp/measure_cost.XXXXXX) || exit 1
mkfifo "$work/fifo" || exit 1
exec {waitfd}<>"$work/fifo"

# Everything between the two `times` snapshots runs in this shell: builtins only, no $( ),
# since a forked subshell or a `sleep` is a child whose CPU time would be counted too.

# Sets children_ms to this shell's reaped children's CPU in ms (bash `times`, second line).
read_children_ms() {
    times >"$work/times"
    local l2 f1 f2
    { read -r _; read -r l2; } <"$work/times"
    local re='([0-9]+)m([0-9]+)[.,]([0-9]+)s[[:space:]]+([0-9]+)m([0-9]+)[.,]([0-9]+)s'
    children_ms=-1
    if [[ $l2 =~ $re ]]; then
        f1=${BASH_REMATCH[3]}000
        f2=${BASH_REMATCH[6]}000
        children_ms=$(((10#${BASH_REMATCH[1]} * 60 + 10#${BASH_REMATCH[2]}) * 1000 +
            10#${f1:0:3} + (10#${BASH_REMATCH[4]} * 60 + 10#${BASH_REMATCH[5]}) * 1000 +
            10#${f2:0:3}))
    fi
}
state_of() { # sets st to the state letter of $1 (Z: exited, X: gone)
    local line rest
    if ! read -r line 2>/dev/null <"/proc/$1/stat"; then
        st=X
        return
    fi
    rest=${line##*) }
    st=${rest%% *}
}
hwm_of() { # sets hwm to VmHWM of $1 in kB, when readable
    local k v _u
    while read -r k v _u; do
        if [ "$k" = VmHWM: ]; then
            hwm=$v
        fi
    done 2>/dev/null <"/proc/$1/status"
}
cpu_of() { # sets cpu_sig to utime+stime (+ reaped children) of $1 in ms
    local line rest f
    read -r line 2>/dev/null <"/proc/$1/stat" || return
    rest=${line##*) }
    read -ra f <<<"$rest"
    cpu_sig=$(((f[11] + f[12] + f[13] + f[14]) * 1000 / hz))
}
nap() { # sleeps $1 seconds (fractional) without a child
    read -r -t "$1" -u "$waitfd" _ || true
}
now_us() { # sets now to wall-clock microseconds
    now=${EPOCHREALTIME/[.,]/}
}
gone() {
    [ "$st" = Z ] || [ "$st" = X ]
}

secs_us=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1e6 }')
read_children_ms
base_ms=$children_ms

now_us
t0=$now
set -m
if [ -n "$cmdlog" ]; then
    "${defsig[@]}" "$@" </dev/null >>"$cmdlog" 2>&1 {waitfd}<&- &
else
    "${defsig[@]}" "$@" </dev/null {waitfd}<&- &
fi
pid=$!
set +m
end=$((t0 + secs_us))
hwm=-1
cpu_sig=-1
st=R
while :; do
    state_of "$pid"
    gone && break
    hwm_of "$pid"
    now_us
    [ "$now" -ge "$end" ] && break
    left=$((end - now))
    if [ "$left" -gt 250000 ]; then
        nap 0.25
    else
        printf -v tmo '%d.%06d' 0 "$left"
        nap "$tmo"
    fi
done
signalled=0
state_of "$pid"
if ! gone; then
    hwm_of "$pid"
    cpu_of "$pid"
    kill -INT "$pid" 2>/dev/null
    signalled=1
    for sig in TERM KILL; do
        now_us
        if [ "$sig" = TERM ]; then
            limit=$((now + 10000000))
        else
            limit=$((now + 5000000))
        fi
        while :; do
            state_of "$pid"
            gone && break 2
            now_us
            [ "$now" -ge "$limit" ] && break
            nap 0.05
        done
        echo "measure_cost.sh: $name still running, sending SIG$sig" >&2
        kill "-$sig" "$pid" 2>/dev/null
    done
fi
wait "$pid"
rc=$?
now_us
t1=$now
read_children_ms
end_ms=$children_ms

exec {waitfd}<&-
rm -rf "$work"
if [ "$signalled" = 0 ]; then
    echo "measure_cost.sh: $name exited by itself (rc $rc) before $secs s" >&2
fi
cpu_ms=-1
if [ "$base_ms" -ge 0 ] && [ "$end_ms" -ge 0 ]; then
    cpu_ms=$((end_ms - base_ms))
fi
if [ "$header" = 1 ]; then
    printf 'name\tseconds\tcpu_ms\tcpu_pct_of_one_core\tpeak_rss_kb\trc\tcpu_ms_at_signal\tmethod\n'
fi
awk -v n="$name" -v us=$((t1 - t0)) -v c="$cpu_ms" -v h="$hwm" -v rc="$rc" -v cs="$cpu_sig" \
    'BEGIN {
        s = us / 1e6
        pct = (c >= 0 && s > 0) ? sprintf("%.3f", c / (s * 1000) * 100) : "NA"
        printf "%s\t%.2f\t%s\t%s\t%s\t%d\t%s\t%s\n", n, s, (c >= 0 ? c : "NA"), pct,
            (h >= 0 ? h : "NA"), rc, (cs >= 0 ? cs : "NA"), "rusage+VmHWM"
    }'
