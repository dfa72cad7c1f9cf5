# Bad input of every kind gets one clear line, a distinct exit status, and loses nothing.
. "$(dirname "$0")/lib.sh"

expect_status 64 "$WATTPROF"
expect_status 64 "$WATTPROF" frobnicate
expect_in err.txt "not a command"
expect_status 64 "$WATTPROF" run --bogus -- true
expect_status 64 "$WATTPROF" run
expect_in err.txt "no command"
expect_status 64 "$WATTPROF" record
expect_in err.txt "-o"
expect_status 64 "$WATTPROF" record -o x.wptrace --duration banana
expect_in err.txt "--duration"
expect_status 64 "$WATTPROF" export nothing.wptrace
expect_in err.txt "--csv"

# An existing trace is never replaced without --force, and the job does not run.
echo "precious" > old.wptrace
sum=$(cksum < old.wptrace)
expect_status 73 "$WATTPROF" run -o old.wptrace -- touch ran
expect_in err.txt "--force"
[ ! -e ran ] || fail "the command ran although the output could not be written"
[ "$(cksum < old.wptrace)" = "$sum" ] || fail "existing trace was modified"
expect_status 73 "$WATTPROF" run --json old.wptrace -- touch ran
[ ! -e ran ] || fail "the command ran although --json could not be written"
expect_status 73 "$WATTPROF" record -o old.wptrace --duration 1
[ "$(cksum < old.wptrace)" = "$sum" ] || fail "existing trace was modified by record"
# --force replaces it.
expect_status 0 "$WATTPROF" record -q -o old.wptrace --duration 1 --force
expect_status 0 "$WATTPROF" report old.wptrace

# Unwritable or missing directories.
expect_status 73 "$WATTPROF" run -o no/such/dir/t.wptrace -- true
expect_in err.txt "does not exist"

# Files that are not traces.
expect_status 66 "$WATTPROF" report missing.wptrace
: > empty.wptrace
expect_status 65 "$WATTPROF" report empty.wptrace
expect_in err.txt "empty.wptrace"
head -c 5000 /dev/urandom > random.wptrace
expect_status 65 "$WATTPROF" report random.wptrace
expect_in err.txt "not a wattprof trace"
echo "hello" > text.wptrace
expect_status 65 "$WATTPROF" report text.wptrace
python3 -c 'import sqlite3; c=sqlite3.connect("other.db"); c.execute("create table t(x)"); c.commit()'
expect_status 65 "$WATTPROF" report other.db
expect_in err.txt "not a wattprof trace"
# A real trace cut in half.
expect_status 0 "$WATTPROF" record -q -o full.wptrace --duration 2
size=$(stat -c %s full.wptrace)
head -c $((size / 2)) full.wptrace > half.wptrace
set +e; "$WATTPROF" report half.wptrace >out.txt 2>err.txt; st=$?; set -e
[ "$st" = 65 ] || fail "truncated trace: exit $st, expected 65"
expect_in err.txt "half.wptrace"

# export never clobbers.
echo keep > rows.csv
expect_status 73 "$WATTPROF" export full.wptrace --csv -o rows.csv
[ "$(cat rows.csv)" = keep ] || fail "export overwrote rows.csv"
expect_status 64 "$WATTPROF" export full.wptrace --csv --sensor nonesuch
