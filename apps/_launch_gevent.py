"""Serve a WSGI app with gevent.pywsgi.WSGIServer (Debian: python3-gevent).

    /usr/bin/python3 _launch_gevent.py --host 127.0.0.1 --port 8000 --chdir DIR module:callable

The standard library is monkey-patched first, as gevent deployments do.
SIGTERM and SIGINT stop the server.
"""

from gevent import monkey

monkey.patch_all()

import signal  # noqa: E402
import sys  # noqa: E402
import os  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _launch_common  # noqa: E402


def main():
    args = _launch_common.parse(__doc__.splitlines()[0])
    app = _launch_common.load(args)
    server = WSGIServer((args.host, args.port), app, log=None)
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, server.stop, 5)
    print("gevent.pywsgi serving %s on %s:%d" % (args.app, args.host, args.port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
