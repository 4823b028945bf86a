"""Serve a WSGI app with Cheroot over TLS (`python -m cheroot` has no TLS flags).

    python _launch_cheroot.py --host 127.0.0.1 --port 8443 --threads 4 --certfile C --keyfile K --chdir DIR module:callable

Cheroot's own builtin SSL adapter (the standard library's ssl) wraps the
sockets, as its documentation shows. SIGTERM and SIGINT stop the server.
"""

import os
import signal
import sys

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _launch_common  # noqa: E402


def main():
    args = _launch_common.parse(__doc__.splitlines()[0], extra=[
        ("--threads", dict(type=int, default=4, help="worker threads")),
        ("--certfile", dict(help="server certificate (PEM)")),
        ("--keyfile", dict(help="its private key (PEM)")),
    ])
    app = _launch_common.load(args)
    server = wsgi.Server((args.host, args.port), app, numthreads=args.threads)
    if args.certfile:
        server.ssl_adapter = BuiltinSSLAdapter(args.certfile, args.keyfile)

    def stop(signum, frame):
        server.stop()
        sys.exit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    print("cheroot serving %s on %s:%d" % (args.app, args.host, args.port), flush=True)
    server.safe_start()


if __name__ == "__main__":
    main()
