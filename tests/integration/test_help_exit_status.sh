# Every command's --help lists exactly the exit statuses that command can return (the codes
# below, worked out from src/cli); a few of them are triggered here as well.
. "$(dirname "$0")/lib.sh"

# statuses_of CMD: the numbers in the --help paragraph that says "exit status".
statuses_of() {
    "$WATTPROF" "$1" --help | awk 'BEGIN{RS=""} /exit status/' | grep -oE '[0-9]+' | sort -n | uniq | tr '\n' ' '
}
want() { # CMD STATUSES...
    cmd=$1; shift
    got=$(statuses_of "$cmd")
    exp=$(printf '%s\n' "$@" | sort -n | tr '\n' ' ')
    [ "$got" = "$exp" ] || fail "$cmd --help lists exit statuses '$got', expected '$exp'"
}
# run: the command's own status (126, 127, 128+N) or wattprof's before it starts. 66: a
# --config that cannot be read; 69: the sources named with --source/--config found nothing
# (cli_exit_for_start); sweep likewise.
want run 126 127 128 64 66 69 70 73 74
want record 0 64 65 66 69 70 73 74
want report 0 64 65 66 70 73 74
want export 0 64 65 66 70 73 74
want sweep 0 1 130 64 65 66 69 70 73 74
want serve 0 64 65 66 69 70 73 74
want top 0 64 65 66 69 70 73 74

# A few of them, triggered.
expect_status 0 "$WATTPROF" record -q -o t.wptrace --duration 0.5
echo keep > taken.json
expect_status 73 "$WATTPROF" report t.wptrace --json taken.json
expect_in err.txt "already exists"
expect_status 66 "$WATTPROF" report missing.wptrace
expect_status 64 "$WATTPROF" report
expect_status 73 "$WATTPROF" export t.wptrace --csv -o taken.json
expect_status 66 "$WATTPROF" export missing.wptrace --csv
WATTPROF_NVML_LIB=/nonexistent/libnvidia-ml.so.1 expect_status 69 "$WATTPROF" record -o x.wptrace --duration 1
[ "$(cat taken.json)" = keep ] || fail "taken.json was replaced"
expect_status 66 "$WATTPROF" serve --web-config missing.conf --duration 1
# A directory as the web config is not an empty one: serving on without its TLS and auth
# (exit 0) is what it did.
mkdir web.d
expect_status 66 "$WATTPROF" serve --web-config web.d --listen 127.0.0.1:0 --duration 1
expect_in err.txt "cannot read the web config web.d"
expect_status 64 "$WATTPROF" serve --listen nowhere --duration 1
expect_in err.txt "HOST:PORT"

# An unknown option is named with the whole command it was given to, as the other errors are.
for c in "report" "export" "top" "plan rack" "model fit"; do
    expect_status 64 "$WATTPROF" $c --no-such-option
    head -n 1 err.txt | grep -q "^wattprof $c: unrecognized option" ||
        fail "'$c --no-such-option' said: $(head -n 1 err.txt)"
done
