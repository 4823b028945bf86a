"""Serve a WSGI app with bjoern (C, libev; from PyPI, built against libev-dev).

    python _launch_bjoern.py --host 127.0.0.1 --port 8000 --chdir DIR module:callable

bjoern has no command line of its own: its documented entry point is
bjoern.run(app, host, port), which serves in this one process, one request
at a time, until the process ends. SIGTERM ends it (bjoern installs no
handler, so the default action applies; it has nothing to drain).
"""

import os
import sys

import bjoern

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _launch_common  # noqa: E402


def main():
    args = _launch_common.parse(__doc__.splitlines()[0])
    app = _launch_common.load(args)
    print("bjoern serving %s on %s:%d" % (args.app, args.host, args.port), flush=True)
    bjoern.run(app, args.host, args.port)


if __name__ == "__main__":
    main()
