"""Answers with the version read from VERSION_FILE at import: a reload shows."""
import os

with open(os.environ["VERSION_FILE"]) as f:
    VERSION = f.read().strip().encode()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(VERSION)))])
    return [VERSION]
