#!/usr/bin/env python3
"""A Redfish service for tests: serves a DMTF mockup (tests/fixtures/redfish/*) over HTTPS with
Basic and session authentication, the way a BMC or a rack PDU does, with readings and faults
driven from a file the test rewrites. Python standard library only.

usage: server.py --mockup DIR --cert PEM --key PEM --user NAME --password-file F
                 --port-file F --log F --tokens F [--readings F] [--hide KEY,...] [--no-sessions]

The readings file (JSON, read again on every request) holds:
  "patch":  {PATH: {member: value or {nested...}}}  merged into the served resource
  "status": {PATH: CODE}     answer that resource with CODE (503: unavailable)
  "malformed": [PATH, ...]   answer that resource with a body that is not JSON
  "expire": N                when N changes, every session issued so far expires (401)
A resource with a ReadingTime gets the time it is served (a live sensor) unless the patch
pins one. --hide removes links (EnvironmentMetrics, Power, ...) from every Chassis, so one
mockup serves the "legacy Power only" or "Sensors only" cases.

The log has one line per request: METHOD PATH STATUS AUTH, where AUTH is basic, session=ID,
expired=ID, bad or none (the session's id, never its token). Issued tokens go to --tokens so
a test can grep its outputs for them."""
import argparse
import base64
import datetime
import http.server
import json
import os
import secrets
import ssl
import sys
import threading

PREFIX = "/redfish/v1"
SESSIONS = PREFIX + "/SessionService/Sessions"


def merge(dst, patch):
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.sessions = {}  # token -> [id, expired]
        self.next_id = 1
        self.expire_seen = None
        with open(args.password_file) as f:
            self.password = f.readline().rstrip("\n")
        self.hide = [h for h in (args.hide or "").split(",") if h]

    def readings(self):
        if not self.args.readings:
            return {}
        try:
            with open(self.args.readings) as f:
                r = json.load(f)
        except (OSError, ValueError):
            return {}
        with self.lock:
            exp = r.get("expire")
            if exp is not None and exp != self.expire_seen:
                if self.expire_seen is not None:
                    for s in self.sessions.values():
                        s[1] = True
                self.expire_seen = exp
        return r

    def log(self, line):
        with self.lock, open(self.args.log, "a") as f:
            f.write(line + "\n")


def resource_file(mockup, path):
    rel = path[len(PREFIX):].strip("/")
    if ".." in rel.split("/"):
        return None
    return os.path.join(mockup, rel, "index.json") if rel else os.path.join(mockup, "index.json")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        pass

    def send(self, code, body=b"", headers=None):
        self.send_response(code)
        if body:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def auth(self):
        st = self.server.state
        tok = self.headers.get("X-Auth-Token")
        if tok:
            with st.lock:
                s = st.sessions.get(tok)
            if not s:
                return False, "bad"
            return (not s[1]), ("expired=%d" % s[0] if s[1] else "session=%d" % s[0])
        h = self.headers.get("Authorization", "")
        if h.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(h[6:]).decode().partition(":")
            except ValueError:
                return False, "bad"
            ok = u == st.args.user and p == st.password
            return ok, "basic" if ok else "bad"
        return False, "none"

    def path_only(self):
        p = self.path.split("?", 1)[0]
        if len(p) > 1:
            p = p.rstrip("/")
        return p

    def body_json(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def do_POST(self):
        st = self.server.state
        p = self.path_only()
        body = self.body_json()
        if p != SESSIONS or st.args.no_sessions:
            st.log("POST %s 405 none" % p)
            return self.send(405)
        if (not isinstance(body, dict) or body.get("UserName") != st.args.user
                or body.get("Password") != st.password):
            st.log("POST %s 401 bad" % p)
            return self.send(401, b'{"error": {"code": "Base.1.0.NoValidSession"}}')
        tok = secrets.token_hex(16)
        with st.lock:
            sid = st.next_id
            st.next_id += 1
            st.sessions[tok] = [sid, False]
        with open(st.args.tokens, "a") as f:
            f.write(tok + "\n")
        st.log("POST %s 201 new=%d" % (p, sid))
        loc = "%s/%d" % (SESSIONS, sid)
        out = json.dumps({"@odata.id": loc, "Id": str(sid), "UserName": st.args.user}).encode()
        self.send(201, out, {"X-Auth-Token": tok, "Location": loc})

    def do_DELETE(self):
        st = self.server.state
        p = self.path_only()
        ok, who = self.auth()
        if not ok:
            st.log("DELETE %s 401 %s" % (p, who))
            return self.send(401)
        tok = self.headers.get("X-Auth-Token")
        with st.lock:
            s = st.sessions.get(tok) if tok else None
            if s and p == "%s/%d" % (SESSIONS, s[0]):
                del st.sessions[tok]
                code = 204
            else:
                code = 404
        st.log("DELETE %s %d %s" % (p, code, who))
        self.send(code)

    def do_GET(self):
        st = self.server.state
        p = self.path_only()
        r = st.readings()
        if p not in (PREFIX, PREFIX + "/"):
            ok, who = self.auth()
            if not ok:
                st.log("GET %s 401 %s" % (p, who))
                return self.send(401, b'{"error": {"code": "Base.1.0.NoValidSession"}}')
        else:
            who = "none"
        code = r.get("status", {}).get(p)
        if code:
            st.log("GET %s %d %s" % (p, code, who))
            return self.send(int(code), b'{"error": {"code": "Base.1.0.ServiceTemporarilyUnavailable"}}')
        if p in r.get("malformed", []):
            st.log("GET %s 200 %s malformed" % (p, who))
            return self.send(200, b'{"@odata.id": "' + p.encode() + b'", "PowerWatts": {"Reading": 3')
        f = resource_file(st.args.mockup, p)
        try:
            with open(f) as fh:
                doc = json.load(fh)
        except (OSError, TypeError, ValueError):
            st.log("GET %s 404 %s" % (p, who))
            return self.send(404, b'{"error": {"code": "Base.1.0.ResourceMissingAtURI"}}')
        if p == PREFIX and st.args.no_sessions:
            doc.pop("SessionService", None)
            doc.get("Links", {}).pop("Sessions", None)
        if doc.get("@odata.type", "").startswith("#Chassis."):
            for h in st.hide:
                doc.pop(h, None)
        if "ReadingTime" in doc:
            now = datetime.datetime.now(datetime.timezone.utc)
            doc["ReadingTime"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)
        merge(doc, r.get("patch", {}).get(p, {}))
        st.log("GET %s 200 %s" % (p, who))
        self.send(200, json.dumps(doc).encode())


def main():
    ap = argparse.ArgumentParser()
    for a in ("--mockup", "--cert", "--key", "--user", "--password-file", "--port-file", "--log",
              "--tokens"):
        ap.add_argument(a, required=True)
    ap.add_argument("--readings")
    ap.add_argument("--hide")
    ap.add_argument("--no-sessions", action="store_true")
    args = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
