"""Serve a WSGI app with gevent.pywsgi.WSGIServer (Debian: python3-gevent).

    /usr/bin/python3 _launch_gevent.py --host 127.0.0.1 --port 8000 --chdir DIR module:callable

The standard library is monkey-patched first, as gevent deployments do.
SIGTERM and SIGINT stop the server.

By default the listening socket is made the way gevent's documentation
shows, WSGIServer((host, port), app), without TCP_NODELAY. pywsgi writes the
headers and the body of a response separately, so on a keep-alive
connection Nagle's algorithm meets the client's delayed ACK and every
request after the first waits about 40 ms. --tcp-nodelay sets TCP_NODELAY
on the listener (inherited by accepted sockets) to measure without that.
"""

from gevent import monkey

monkey.patch_all()

import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import os  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _launch_common  # noqa: E402


def main():
    args = _launch_common.parse(__doc__.splitlines()[0], extra=[
        ("--tcp-nodelay", dict(action="store_true", help="set TCP_NODELAY on the listening socket")),
        ("--certfile", dict(help="serve TLS with this certificate (PEM)")),
        ("--keyfile", dict(help="and this private key")),
    ])
    app = _launch_common.load(args)
    listener = (args.host, args.port)
    if args.tcp_nodelay:
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((args.host, args.port))
        listener.listen(1024)
    tls = dict(certfile=args.certfile, keyfile=args.keyfile) if args.certfile else {}
    server = WSGIServer(listener, app, log=None, **tls)
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, server.stop, 5)
    print("gevent.pywsgi serving %s on %s:%d" % (args.app, args.host, args.port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
