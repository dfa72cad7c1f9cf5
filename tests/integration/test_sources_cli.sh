# --source, --config, --no-auto and --rated-w on list, run and record: instances are built
# from specs, keys work, every mistake exits 64 (66 for an unreadable config) with a message
# that names what is valid, and the trace keeps each instance's spec and the node's rating.
. "$(dirname "$0")/lib.sh"
lib=$WATTPROF_NVML_LIB
meta() { # meta TRACE KEY: a metadata value of a trace
    python3 -c 'import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute("select value from meta where key=?",(sys.argv[2],)).fetchone(); print(r[0] if r else "")' "$1" "$2"
}

expect_status 0 "$WATTPROF" list --kinds
expect_in out.txt "nvml (automatic)"
expect_in out.txt "lib=PATH"

# The lib= key replaces WATTPROF_NVML_LIB.
expect_status 0 env -u WATTPROF_NVML_LIB "$WATTPROF" list --no-auto --source "nvml:lib=$lib"
expect_in out.txt "NVIDIA H200"
expect_in out.txt "gpu"
expect_status 69 env -u WATTPROF_NVML_LIB "$WATTPROF" list --no-auto --source nvml:lib=/nonexistent/libnvidia-ml.so.1
expect_in out.txt "cannot load /nonexistent/libnvidia-ml.so.1"

# Mistakes: exit 64 and a message naming what is valid.
expect_status 64 "$WATTPROF" list --source pdu:host=x
expect_in err.txt "unknown source kind 'pdu' (known kinds: nvml"
expect_status 64 "$WATTPROF" record -o t.wptrace --source nvml:library=x
expect_in err.txt "has no option 'library' (it takes: name, lib, procs, procs_solo, procs_period)"
expect_status 64 "$WATTPROF" run --source nvml:lib=a,lib=b -- true
expect_in err.txt "given twice"
expect_status 64 "$WATTPROF" list --no-auto
expect_in err.txt "no source to read"
expect_status 64 "$WATTPROF" run --rated-w 0 -- true
expect_in err.txt "--rated-w wants the node's rated power in watts"
expect_status 64 "$WATTPROF" list --source nvml:name=a --source nvml:name=a
expect_in err.txt "two sources are named 'a'"
# Two instances of one GPU (a config's nvml line and a --source nvml, say) would count each GPU
# twice: refused, naming both, before anything is recorded.
printf 'nvml\n' > gpus.conf
expect_status 64 "$WATTPROF" record -o t.wptrace -d 1 --config gpus.conf --source nvml:procs=0
expect_in err.txt "sources nvml and nvml-2 both read device GPU-"
expect_status 64 "$WATTPROF" list --no-auto --source nvml:name=a --source nvml:name=b
expect_in err.txt "sources a and b both read device"
[ ! -e t.wptrace ] || fail "a refused record left a trace"

# Config files: specs, settings, comments; errors say FILE:LINE.
cat > node.conf <<CONF
# an 8-GPU node
rated_w = 10200
nvml: lib=$lib, name=gpus   # the GPUs
CONF
expect_status 0 "$WATTPROF" record -q -o t.wptrace -d 1 --config node.conf --no-auto
[ "$(meta t.wptrace node.rated_w)" = 10200 ] || fail "node.rated_w not stored"
[ "$(meta t.wptrace source.gpus)" = "nvml:lib=$lib,name=gpus" ] || fail "spec not stored: $(meta t.wptrace source.gpus)"
python3 - t.wptrace <<'PY' || fail "sensors are not named by their instance"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select distinct source, source_kind, scope from sensors where name='power'").fetchall()
assert rows == [("gpus", "nvml", "gpu")], rows
PY
# --rated-w on the command line wins over the config.
expect_status 0 "$WATTPROF" run -q -o r.wptrace --config node.conf --rated-w 9000 -- true
[ "$(meta r.wptrace node.rated_w)" = 9000 ] || fail "--rated-w did not override rated_w="

printf 'nvml\nrated_w=lots\n' > bad.conf
expect_status 64 "$WATTPROF" list --config bad.conf
expect_in err.txt "bad.conf:2: rated_w=lots"
expect_status 66 "$WATTPROF" run --config missing.conf -- true
expect_in err.txt "cannot read config missing.conf"

# run: when the sources the user named find nothing, 69 before the command starts; with only
# the automatic ones, the command runs unmeasured with a warning.
expect_status 69 "$WATTPROF" run --no-auto --source nvml:lib=/nonexistent.so -- touch ran
expect_in err.txt "no power sensor found"
[ ! -e ran ] || fail "run started the command although nothing could be measured"
expect_status 0 env WATTPROF_NVML_LIB=/nonexistent.so "$WATTPROF" run -- touch ran
expect_in err.txt "without measurements"
[ -e ran ] || fail "run did not start the command"

# sweep takes the same source options.
expect_status 0 "$WATTPROF" sweep -o s.wptrace --param n=1,2 --no-auto --source "nvml:lib=$lib,name=g" -- test {n} -gt 0
[ "$(meta s.wptrace source.g)" = "nvml:lib=$lib,name=g" ] || fail "sweep did not use --source"
expect_status 69 "$WATTPROF" sweep --param n=1 --no-auto --source nvml:lib=/nonexistent.so -- touch swept{n}
[ ! -e swept1 ] || fail "sweep started a run although nothing could be measured"
expect_status 64 "$WATTPROF" sweep --param n=1 --source nope -- echo {n}
