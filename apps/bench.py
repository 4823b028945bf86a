"""Benchmark app (stdlib only): one route per workload the load driver runs.

    GET  /              "Hello, World!" (text/plain, Content-Length)
    GET  /json          a small JSON object (application/json)
    POST /upload        echoes the request body (any size; Content-Length or chunked)
    GET  /stream?size=N N bytes (default 1 MiB) in 64 KiB chunks, no Content-Length
    GET  /file?size=N   N bytes (default 1 MiB) of a temp file via wsgi.file_wrapper
    GET  /sleep?ms=N    sleeps N ms (default 10): I/O-bound work
    GET  /cpu?n=N       a CPU-bound loop of N iterations (default 10000)

Anything else is 404. Query parameters are capped so a request cannot ask for
gigabytes.
"""

import json
import os
import tempfile
import time
from urllib.parse import parse_qs

HELLO = b"Hello, World!"
JSON = json.dumps({"message": "Hello, World!", "server": "wsgikit-bench", "items": [1, 2, 3]}).encode()
CHUNK = 64 * 1024
MAX_SIZE = 64 * 1024 * 1024
_BLOCK = bytes(range(256)) * (CHUNK // 256)
_files = {}


def _param(environ, name, default, cap):
    try:
        v = int(parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])[0])
    except ValueError:
        return default
    return max(0, min(v, cap))


def _send(start_response, status, body, ctype="text/plain"):
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def _stream(size):
    while size > 0:
        n = min(size, CHUNK)
        yield _BLOCK[:n]
        size -= n


def _file(size):
    """The path of a file of size bytes. Its content depends on size only,
    so every process and run shares one file per size (made once, atomically)
    instead of leaving a new temp file behind per worker."""
    path = _files.get(size)
    if path is not None and os.path.exists(path):
        return path
    path = os.path.join(tempfile.gettempdir(), "wsgikit-bench-%d.bin" % size)
    try:
        ok = os.path.getsize(path) == size
    except OSError:
        ok = False
    if not ok:
        fd, tmp = tempfile.mkstemp(prefix="wsgikit-bench-", dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            left = size
            while left > 0:
                n = min(left, CHUNK)
                f.write(_BLOCK[:n])
                left -= n
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    _files[size] = path
    return path


def _read_body(environ):
    """The request body as PEP 3333 allows reading it: CONTENT_LENGTH bytes,
    or to EOF only when the server promises an EOF (wsgi.input_terminated).
    Reading a chunked body to EOF otherwise would block on servers that hand
    the app the raw socket (wsgiref), so such a body reads as empty."""
    inp = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH", "")
    if length:
        return inp.read(int(length))
    if environ.get("wsgi.input_terminated"):
        parts = []
        while True:
            b = inp.read(CHUNK)
            if not b:
                break
            parts.append(b)
        return b"".join(parts)
    return b""


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    method = environ["REQUEST_METHOD"]
    if path == "/":
        return _send(start_response, "200 OK", HELLO)
    if path == "/json":
        return _send(start_response, "200 OK", JSON, "application/json")
    if path == "/upload":
        if method != "POST" and method != "PUT":
            start_response("405 Method Not Allowed", [("Allow", "POST, PUT"), ("Content-Length", "0")])
            return [b""]
        return _send(start_response, "200 OK", _read_body(environ), "application/octet-stream")
    if path == "/stream":
        size = _param(environ, "size", 1 << 20, MAX_SIZE)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _stream(size)
    if path == "/file":
        size = _param(environ, "size", 1 << 20, MAX_SIZE)
        f = open(_file(size), "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(f, CHUNK)
        return iter(lambda: f.read(CHUNK), b"")
    if path == "/sleep":
        time.sleep(_param(environ, "ms", 10, 60000) / 1000.0)
        return _send(start_response, "200 OK", b"slept")
    if path == "/cpu":
        n = _param(environ, "n", 10000, 100000000)
        acc = 0
        for i in range(n):
            acc = (acc * 31 + i) & 0xFFFFFFFF
        return _send(start_response, "200 OK", str(acc).encode())
    return _send(start_response, "404 Not Found", b"not found")
