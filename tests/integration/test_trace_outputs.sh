# Trace outputs: "-" is refused (a trace is a file, not a stream); an output onto the input is
# refused; and a temporary trace that could not be written (full disk) leaves nothing behind,
# not even its -wal/-shm.
. "$(dirname "$0")/lib.sh"

for cmd in "run -o - -- true" "record -o - --duration 1" "sweep --param n=1 -o - -- echo {n}"; do
    # shellcheck disable=SC2086
    expect_status 64 "$WATTPROF" $cmd
    expect_in err.txt "not a stream"
    [ ! -e ./- ] || fail "'$cmd' created a file named -"
done

# An output that is the input itself is refused even with --force (it would replace the trace
# being read), also when named another way; the trace stays intact. A symbolic link as the
# output is only a name: replacing it leaves the trace alone.
expect_status 0 "$WATTPROF" run -q -o in.wptrace -- sleep 1
cp in.wptrace keep.wptrace
expect_status 73 "$WATTPROF" export in.wptrace --csv -o in.wptrace --force
expect_in err.txt "in.wptrace is the input in.wptrace"
expect_status 73 "$WATTPROF" report in.wptrace --json "$T/in.wptrace" --force
expect_status 73 "$WATTPROF" report ./in.wptrace --html in.wptrace --force
expect_status 73 "$WATTPROF" plan rack in.wptrace --budget-w 4000 --trials 5 --json in.wptrace --force
expect_status 73 "$WATTPROF" model fit in.wptrace -o in.wptrace --force
cmp -s in.wptrace keep.wptrace || fail "a refused output changed the input trace"

# Two outputs of one command that are one file are refused before anything runs: with --force
# the summary's JSON replaced the trace just recorded (run exited 0, the trace was gone), and
# without it the summary was lost to 'already exists' after the job had run.
for cmd in "run -o same.wptrace --json ./same.wptrace -- true" \
    "record -o same.wptrace --json $T/same.wptrace --duration 1" \
    "sweep --param n=1 -o same.wptrace --json same.wptrace -- echo {n}"; do
    # shellcheck disable=SC2086
    expect_status 64 "$WATTPROF" $cmd --force
    expect_in err.txt "are one file"
    [ ! -e same.wptrace ] || fail "'$cmd' wrote same.wptrace"
done
expect_status 64 "$WATTPROF" report in.wptrace --json page.out --html ./page.out
[ ! -e page.out ] || fail "report wrote page.out although --json and --html are one file"
ln in.wptrace hard.wptrace
expect_status 64 "$WATTPROF" run -o in.wptrace --json hard.wptrace --force -- true
cmp -s in.wptrace keep.wptrace || fail "a refused run changed the trace behind a hard link"
rm hard.wptrace
ln -s in.wptrace link.wptrace
expect_status 0 "$WATTPROF" export in.wptrace --csv -o link.wptrace --force
cmp -s in.wptrace keep.wptrace || fail "replacing a link to the trace changed the trace"

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
