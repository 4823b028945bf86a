"""A deliberately non-conforming WSGI server: the suite's own negative control.

TestBrokenServer runs specs that every real peer passes against this server
and requires FAIL, so none of them is a test that cannot fail. Each violation
is named where it is committed. Standard library only; one request per
connection, one thread.

usage: broken_server.py --host H --port P --appdir DIR module:callable
"""

import argparse
import importlib
import io
import socket
import sys
import time
import urllib.parse
from http import HTTPStatus


class NotADict(dict):
    """Violation: environ is a dict subclass (pep3333/app/environ-is-dict)."""


SHARED_ENV = NotADict()  # Violation: one environ for every request (fresh-per-request)


def read_request(f):
    line = f.readline()
    if not line:
        return None
    method, target, proto = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        h = f.readline().decode("latin-1").rstrip("\r\n")
        if not h:
            break
        name, _, value = h.partition(":")
        headers.append((name.strip(), value.strip()))
    return method, target, proto, headers


def serve_one(conn, app, port):
    f = conn.makefile("rb")
    req = read_request(f)
    if req is None:
        return
    method, target, proto, headers = req
    path, _, query = target.partition("?")
    env = SHARED_ENV
    env.update({
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        # Violations: UTF-8 decoding of the path, a decoded query string.
        "PATH_INFO": urllib.parse.unquote(path, encoding="utf-8", errors="replace"),
        "QUERY_STRING": urllib.parse.unquote(query),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": proto,
        "wsgi.version": [1, 0],  # Violation: a list, not the tuple (1, 0)
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    })
    length = 0
    for name, value in headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        env[key] = value  # Violation: HTTP_CONTENT_LENGTH / HTTP_CONTENT_TYPE too
        if name.lower() == "content-length":
            env["CONTENT_LENGTH"] = value
            length = int(value)
        if name.lower() == "content-type":
            env["CONTENT_TYPE"] = value
    env["wsgi.input"] = io.BytesIO(f.read(length) if length else b"")

    out = []  # Violation: the whole response is buffered (streaming, write)

    def start_response(status, response_headers, exc_info=None):
        code = int(status[:3])
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = "Unknown"  # Violation: the app's reason phrase is replaced
        # Violation: repeated headers are joined; no Date is added.
        merged = {}
        for k, v in response_headers:
            merged[k] = merged[k] + ", " + v if k in merged else v
        head = "HTTP/1.0 %d %s\r\n" % (code, reason)
        head += "".join("%s: %s\r\n" % kv for kv in merged.items())
        head += "Connection: close\r\n\r\n"
        # Violation: headers go out at start_response time.
        conn.sendall(head.encode("latin-1"))
        return out.append

    # Violation: keyword arguments.
    result = app(environ=env, start_response=start_response)
    for chunk in result:
        out.append(chunk)
    # Violation: close() is never called on the result.
    conn.sendall(b"".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--appdir", required=True)
    ap.add_argument("--die-after", type=int, default=0, help="exit after this many connections (0: never)")
    ap.add_argument("--gap-after", type=int, default=0,
                    help="after this many connections, stop listening for a second, as a server respawning a crashed worker does (0: never)")
    ap.add_argument("app")
    a = ap.parse_args()
    sys.path.insert(0, a.appdir)
    mod, _, attr = a.app.partition(":")
    app = getattr(importlib.import_module(mod), attr or "application")
    def listen():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.host, a.port))
        s.listen(16)
        return s

    s = listen()
    served = 0
    while True:
        if a.die_after and served >= a.die_after:
            sys.stderr.write("broken_server: exiting after %d connections\n" % served)
            sys.exit(7)
        if a.gap_after and served == a.gap_after:
            sys.stderr.write("broken_server: not listening for a second after %d connections\n" % served)
            s.close()
            time.sleep(1)
            s = listen()
        conn, _ = s.accept()
        served += 1
        try:
            conn.settimeout(30)
            serve_one(conn, app, a.port)
        except Exception as e:
            sys.stderr.write("broken_server: %r\n" % (e,))
        finally:
            conn.close()


if __name__ == "__main__":
    main()
