# Helpers for the shell integration tests. Each test runs under `set -eu` in its own
# temporary directory; `fail` prints the reason and exits non-zero.
set -eu
: "${WATTPROF:?run through tests/run.sh}"
T=$(mktemp -d "${TMPDIR:-/tmp}/wattprof-test-XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "  $*"; }

# expect_status WANT CMD...: runs CMD (stdout/stderr to out.txt/err.txt), checks the status.
expect_status() {
    want=$1; shift
    set +e
    "$@" >out.txt 2>err.txt
    got=$?
    set -e
    if [ "$got" != "$want" ]; then
        echo "--- stdout"; cat out.txt; echo "--- stderr"; cat err.txt
        fail "'$*' exited $got, expected $want"
    fi
}

# expect_in FILE TEXT: FILE contains TEXT (fixed string, case-insensitive).
expect_in() {
    grep -qiF -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "'$2' not in $1"; }
}

# json FILE PYEXPR: evaluates PYEXPR with `j` bound to the parsed JSON; prints the result.
json() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# check PYEXPR [FILE]: asserts a Python expression over `j` (the JSON in FILE) is true.
check() {
    python3 - "$2" "$1" <<'PY' || fail "check failed: $1 (file $2)"
import json, sys
j = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print(json.dumps(j, indent=1)[:3000], file=sys.stderr)
    sys.exit(1)
PY
}
