# Trace outputs: "-" is refused (a trace is a file, not a stream), and a temporary trace that
# could not be written (full disk) leaves nothing behind, not even its -wal/-shm.
. "$(dirname "$0")/lib.sh"

for cmd in "run -o - -- true" "record -o - --duration 1" "sweep --param n=1 -o - -- echo {n}"; do
    # shellcheck disable=SC2086
    expect_status 64 "$WATTPROF" $cmd
    expect_in err.txt "not a stream"
    [ ! -e ./- ] || fail "'$cmd' created a file named -"
done

# A full disk under the temporary trace of `run` (a small tmpfs; needs root to mount): room to
# create the trace (16 kB pages), not to record 4 s into it.
mkdir full
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=320k tmpfs full 2>/dev/null; then
    trap 'umount "$T/full" 2>/dev/null; rm -rf "$T"' EXIT
    TMPDIR="$T/full" expect_status 0 "$WATTPROF" run -q -- sleep 4
    expect_in err.txt "could not be saved"
    left=$(ls -A full)
    [ -z "$left" ] || { ls -laR full; fail "a failed temporary trace left files: $left"; }
else
    note "skipped the full-disk case: cannot mount a tmpfs here"
fi
