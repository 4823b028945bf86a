"""The chaos benchmark's app (stdlib only): `wsgikit chaos` loads it while it
reloads, recycles and kills the server's workers. It is bench.py (whose
GET / answers "Hello, World!": the load, and GET /sleep?ms=N sleeps: a
request over the server's timeout) plus one route:

    GET /grow?mb=N    this process keeps N MiB more (default 64, at most
                      1024), written so it is resident: RSS that crosses
                      the server's reload-on-rss limit
"""

import bench

_held = []


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/grow":
        mb = bench._param(environ, "mb", 64, 1024)
        # bytes(n) may map zero pages lazily; b"x" * n writes every page.
        _held.append(b"x" * (mb << 20))
        return bench._send(start_response, "200 OK", b"holding %d MiB" % (sum(map(len, _held)) >> 20))
    return bench.application(environ, start_response)
