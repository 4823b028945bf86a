"""The chaos benchmark's app (stdlib only): `wsgikit chaos` loads it while it
reloads, recycles and kills the server's workers.

    GET /             "Hello, World!" (text/plain, Content-Length): the load
    GET /sleep?ms=N   sleeps N ms (default 10, at most 60 000): a request
                      that runs over the server's timeout
    GET /grow?mb=N    this process keeps N MiB more (default 64, at most
                      1024), written so it is resident: RSS that crosses
                      the server's reload-on-rss limit

Anything else is 404.
"""

import time
from urllib.parse import parse_qs

HELLO = b"Hello, World!"
_held = []


def _param(environ, name, default, cap):
    try:
        v = int(parse_qs(environ.get("QUERY_STRING", "")).get(name, [default])[0])
    except ValueError:
        return default
    return max(0, min(v, cap))


def _send(start_response, status, body):
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        return _send(start_response, "200 OK", HELLO)
    if path == "/sleep":
        time.sleep(_param(environ, "ms", 10, 60000) / 1000.0)
        return _send(start_response, "200 OK", b"slept")
    if path == "/grow":
        mb = _param(environ, "mb", 64, 1024)
        # bytes(n) may map zero pages lazily; b"x" * n writes every page.
        _held.append(b"x" * (mb << 20))
        return _send(start_response, "200 OK", b"holding %d MiB" % (sum(map(len, _held)) >> 20))
    return _send(start_response, "404 Not Found", b"not found")
