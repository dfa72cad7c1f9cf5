# A killed recorder's trace copied without its -wal: the reader says the WAL file is missing
# (naming it) and that the data would be in it, and leaves no -wal/-shm beside the copy.
. "$(dirname "$0")/lib.sh"

"$WATTPROF" record -q -o k.wptrace --duration 60 2>rec.err &
pid=$!
for _ in $(seq 1 50); do [ -e k.wptrace-wal ] && break; sleep 0.1; done
sleep 2
kill -KILL $pid
wait $pid 2>/dev/null || true
[ -s k.wptrace-wal ] || fail "the killed recorder left no WAL (nothing to test)"

mkdir alone withwal
cp k.wptrace alone/
cp k.wptrace k.wptrace-wal withwal/
for cmd in report "export --csv"; do
    # shellcheck disable=SC2086
    expect_status 65 "$WATTPROF" $cmd alone/k.wptrace
    expect_in err.txt "alone/k.wptrace-wal is missing"
    expect_in err.txt "data would be in it"
    [ ! -e alone/k.wptrace-wal ] && [ ! -e alone/k.wptrace-shm ] ||
        { ls -la alone; fail "$cmd left -wal/-shm beside a file it only read"; }
done

# With its -wal (but no -shm) it reads whole, and still leaves nothing new behind.
expect_status 0 "$WATTPROF" report withwal/k.wptrace --json w.json
check 'all(g["samples"] >= 50 for g in j["gpus"])' w.json
[ ! -e withwal/k.wptrace-shm ] || fail "report left a -shm beside a file it only read"
cmp -s k.wptrace-wal withwal/k.wptrace-wal || fail "report changed the -wal"
