"""Create or refresh one peers virtual environment from python/peers.lock.

Run by `make setup` with the interpreter the venv is for:

    /usr/bin/python3 python/venv.py --lock python/peers.lock --venv .venv/py3.11

Hash-checked (pip --require-hashes): every file pip installs must match the
lock. When the whole lock does not install (a peer that does not build on
this interpreter), each package is tried on its own, so the others still
install; what failed, with pip's last lines, goes to <venv>/wsgikit-failed.json,
which `wsgikit servers` shows as the reason a profile is missing. A venv whose
stamp matches the lock and interpreter is left alone.

With --source, a lock not made from that peers.in stops setup first, naming
`make lock`; --check-only does only that check.
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

STAMP = ".wsgikit-stamp"
FAILED = "wsgikit-failed.json"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_fresh(lock, source):
    """The lock records the hash of peers.in it was made from."""
    try:
        want = sha256(source)
        with open(lock) as f:
            text = f.read()
    except OSError as e:
        sys.exit("setup: cannot check the lock against its source: %s" % e)
    m = re.search(r"^# input-sha256: ([0-9a-f]{64})$", text, re.M)
    if not m or m.group(1) != want:
        sys.exit("setup: %s was not made from the current %s; refresh it: make lock" % (lock, source))


def blocks(lock):
    """The lock's requirements, one block (name, text) each, hashes included."""
    out, cur = [], []
    with open(lock) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith(" ") and cur:
                if not line.lstrip().startswith("#"):
                    cur.append(line)
                continue
            if cur:
                out.append(cur)
            cur = [line]
    if cur:
        out.append(cur)
    res = []
    for b in out:
        text = "".join(b).rstrip().rstrip("\\").rstrip() + "\n"
        res.append((re.split(r"[=<>;\s]", b[0], 1)[0], text))
    return res


def pip(venv, *args):
    cmd = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet",
           "--require-hashes", "--no-input", *args]
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def tail(s, n=6):
    lines = [l for l in s.strip().splitlines() if l.strip()]
    return "\n".join(lines[-n:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lock", required=True)
    ap.add_argument("--source", help="peers.in, to check the lock is not stale")
    ap.add_argument("--venv", help="the venv to create or refresh (required unless --check-only)")
    ap.add_argument("--check-only", action="store_true",
                    help="only check that --lock was made from --source, and exit")
    a = ap.parse_args()
    if a.check_only and not a.source:
        ap.error("--check-only needs --source")
    if not a.check_only and not a.venv:
        ap.error("--venv is required")
    if a.source:
        check_fresh(a.lock, a.source)
    if a.check_only:
        print("setup: %s was made from %s" % (a.lock, a.source))
        return
    stamp = "%s %s %d.%d.%d\n" % (sha256(a.lock), sys.executable, *sys.version_info[:3])
    sp = os.path.join(a.venv, STAMP)
    if os.path.exists(sp) and open(sp).read() == stamp:
        print("setup: %s is up to date" % a.venv)
        return
    print("setup: %s from %s (Python %d.%d.%d)" % (a.venv, a.lock, *sys.version_info[:3]), flush=True)
    r = subprocess.run([sys.executable, "-m", "venv", "--clear", a.venv],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit("setup: %s -m venv %s failed (Debian: apt-get install python3-venv):\n%s"
                 % (sys.executable, a.venv, tail(r.stdout)))
    failed = {}
    r = pip(a.venv, "-r", a.lock)
    if r.returncode != 0:
        # One by one, without dependencies (the lock pins every one of them).
        with tempfile.TemporaryDirectory() as d:
            for name, text in blocks(a.lock):
                req = os.path.join(d, "one.txt")
                with open(req, "w") as f:
                    f.write(text)
                r1 = pip(a.venv, "--no-deps", "-r", req)
                if r1.returncode != 0:
                    failed[name] = tail(r1.stdout)
                    print("setup: %s: %s does not install on this interpreter:\n  %s"
                          % (a.venv, name, failed[name].replace("\n", "\n  ")), file=sys.stderr)
    with open(os.path.join(a.venv, FAILED), "w") as f:
        json.dump(failed, f, indent=1, sort_keys=True)
    with open(sp, "w") as f:
        f.write(stamp)


if __name__ == "__main__":
    main()
