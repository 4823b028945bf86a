"""wsgikit from a wheel: the Go binary and this interpreter's worker extension.

`wsgikit` on PATH and `python -m wsgikit` both land in main(), which replaces
this process with the binary shipped in the package (bin/wsgikit; the
extension sits in bin/lib/, where the binary looks for it). The interpreter
that ran main() becomes the default for serving and for the peers check and
bench start, so a venv's wsgikit serves with that venv's Python and packages.
"""

import os
import sys

__all__ = ["main", "binary"]


def binary():
    """Path of the wsgikit binary inside this package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "wsgikit")


def main():
    exe = binary()
    if not os.access(exe, os.X_OK):
        sys.stderr.write("wsgikit: %s is missing or not executable; reinstall the wheel\n" % exe)
        sys.exit(2)
    # An explicit WSGIKIT_PYTHON (or --python) still wins.
    os.environ.setdefault("WSGIKIT_PYTHON", sys.executable)
    os.execv(exe, [exe] + sys.argv[1:])
