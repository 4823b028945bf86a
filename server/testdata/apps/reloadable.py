"""Answers with the version read from VERSION_FILE at import: a reload shows."""
import os
import sys

with open(os.environ["VERSION_FILE"]) as f:
    VERSION = f.read().strip().encode()
# Tests wait for this line: a worker past it no longer needs VERSION_FILE.
print("reloadable imported " + VERSION.decode(), file=sys.stderr, flush=True)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(VERSION)))])
    return [VERSION]
