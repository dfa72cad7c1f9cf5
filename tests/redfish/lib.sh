# Helpers for the Redfish integration tests (sourced after tests/integration/lib.sh): a CA and
# certificates made here with openssl, and tests/redfish/server.py serving a DMTF mockup from
# tests/fixtures/redfish on 127.0.0.1 (a port the kernel picks), stopped by its PID at exit.
RF_DIR=${RF_DIR:?set RF_DIR before changing directory}
RF_MOCKUPS=$FIXTURES/redfish
RF_PIDS=""
trap 'for p in $RF_PIDS; do kill "$p" 2>/dev/null || :; done; rm -rf "$T"' EXIT

# rf_certs: ca.pem (our CA), srv.pem/srv.key (IP:127.0.0.1, signed by it), other.pem/other.key
# (IP:127.0.0.2, signed by it: a name that does not match), self.pem/self.key (self-signed).
rf_certs() {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj "/CN=wattprof test CA" >/dev/null 2>&1
    for n in srv:127.0.0.1 other:127.0.0.2; do
        name=${n%%:*} ip=${n#*:}
        openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
            -subj "/CN=bmc" >/dev/null 2>&1
        printf 'subjectAltName=IP:%s\n' "$ip" >"$name.ext"
        openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
            -out "$name.pem" -days 2 -extfile "$name.ext" >/dev/null 2>&1
    done
    openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem -days 2 \
        -subj "/CN=bmc" -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
    [ -s srv.pem ] && [ -s other.pem ] && [ -s self.pem ] || fail "openssl could not make the test certificates"
}

# rf_start NAME MOCKUP [server options...]: serves MOCKUP; sets RF_URL, RF_PID, and the files
# NAME.log (requests), NAME.tokens (issued tokens), NAME.json (readings, rewritten by rf_set).
# The password is in pw.txt (never on a command line); the certificate is srv unless
# RF_CERT names another.
rf_start() {
    name=$1 mock=$2; shift 2
    [ -f pw.txt ] || { printf 'S3cret-%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" >pw.txt; chmod 600 pw.txt; }
    [ -f "$name.json" ] || echo '{}' >"$name.json"
    : >"$name.log"; : >"$name.tokens"; rm -f "$name.port"
    python3 "$RF_DIR/server.py" --mockup "$RF_MOCKUPS/$mock" --cert "${RF_CERT:-srv}.pem" \
        --key "${RF_CERT:-srv}.key" --user monitor --password-file pw.txt \
        --port-file "$name.port" --log "$name.log" --tokens "$name.tokens" \
        --readings "$name.json" "$@" 2>"$name.err" &
    RF_PID=$!
    RF_PIDS="$RF_PIDS $RF_PID"
    i=0
    while [ ! -s "$name.port" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || { cat "$name.err"; fail "the Redfish test server did not start"; }
        kill -0 "$RF_PID" 2>/dev/null || { cat "$name.err"; fail "the Redfish test server exited"; }
        sleep 0.1
    done
    RF_URL="https://127.0.0.1:$(cat "$name.port")"
}

# rf_set NAME JSON: the readings file, replaced whole (the server never reads half of it).
rf_set() {
    printf '%s\n' "$2" >"$1.json.tmp" && mv "$1.json.tmp" "$1.json"
}

# rf_no_secrets FILE...: neither the password nor any issued token appears in FILE.
rf_no_secrets() {
    pw=$(cat pw.txt)
    for f in "$@"; do
        [ -f "$f" ] || continue
        if grep -aqF -- "$pw" "$f"; then fail "the password appears in $f"; fi
        for tk in $(cat ./*.tokens 2>/dev/null); do
            if grep -aqF -- "$tk" "$f"; then fail "a session token appears in $f"; fi
        done
    done
}
