"""Serve a WSGI app with the standard library's wsgiref.simple_server.

    /usr/bin/python3 _launch_wsgiref.py --host 127.0.0.1 --port 8000 --chdir DIR module:callable

One request at a time, HTTP/1.0 responses, no keep-alive: the baseline every
WSGI app is assumed to run on. Per-request log lines are switched off so
that benchmarks do not fill the log.
"""

import os
import socket
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _launch_common  # noqa: E402


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


class Server6(WSGIServer):
    address_family = socket.AF_INET6


def main():
    args = _launch_common.parse(__doc__.splitlines()[0])
    app = _launch_common.load(args)
    cls = Server6 if ":" in args.host else WSGIServer
    httpd = make_server(args.host, args.port, app, server_class=cls, handler_class=QuietHandler)
    print("wsgiref serving %s on %s:%d" % (args.app, args.host, args.port), flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
