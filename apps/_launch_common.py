"""Shared argument handling of the _launch_*.py scripts (stdlib only)."""

import argparse
import importlib
import os
import sys


def parse(description, extra=()):
    ap = argparse.ArgumentParser(description=description)
    for flag, kw in extra:
        ap.add_argument(flag, **kw)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--chdir", default=".", help="directory to import the app from")
    ap.add_argument("app", help="module:callable (callable defaults to application)")
    return ap.parse_args()


def load(args):
    os.chdir(args.chdir)
    sys.path.insert(0, os.path.abspath(args.chdir))
    module, _, name = args.app.partition(":")
    return getattr(importlib.import_module(module), name or "application")
