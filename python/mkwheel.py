"""Builds wsgikit's wheel for the interpreter that runs this script.

    PYTHON python/mkwheel.py --binary bin/wsgikit --libdir bin/lib --out dist

The wheel holds the package in python/wheel/wsgikit, the Go binary as
wsgikit/bin/wsgikit and this interpreter's worker extension (by its
EXT_SUFFIX) as wsgikit/bin/lib/; it is tagged for this interpreter only
(cpXY-cpXY-<platform>), because the extension is built against its headers.
Standard library only: no build backend to install. Prints the wheel's path.
"""

import argparse
import base64
import hashlib
import os
import re
import subprocess
import sys
import sysconfig
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(HERE, "wheel", "wsgikit")
SUMMARY = "A PEP 3333 / HTTP/1.1 conformance suite, load driver and reference WSGI server"


def tags():
    py = "cp%d%d" % sys.version_info[:2]
    plat = re.sub(r"[-.]", "_", sysconfig.get_platform())
    return py, plat


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def version_of(binary):
    out = subprocess.run([binary, "--version"], check=True, capture_output=True, text=True).stdout
    m = re.search(r"(\d+\.\d+\.\d+\S*)", out)
    if not m:
        sys.exit("mkwheel: %s --version printed no version: %r" % (binary, out))
    return m.group(1)


def build(binary, libdir, out):
    if sys.implementation.name != "cpython":
        sys.exit("mkwheel: run it with a CPython interpreter")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    ext = os.path.join(libdir, "_wsgikit" + suffix)
    for path in (binary, ext):
        if not os.path.isfile(path):
            sys.exit("mkwheel: %s missing: run make build PYTHON=%s" % (path, sys.executable))
    version = version_of(binary)
    py, plat = tags()
    dist = "wsgikit-%s.dist-info" % version
    files = []  # (name in the wheel, bytes, executable)
    for name in sorted(os.listdir(PACKAGE)):
        if name.endswith(".py"):
            with open(os.path.join(PACKAGE, name), "rb") as f:
                files.append(("wsgikit/" + name, f.read(), False))
    with open(binary, "rb") as f:
        files.append(("wsgikit/bin/wsgikit", f.read(), True))
    with open(ext, "rb") as f:
        files.append(("wsgikit/bin/lib/_wsgikit" + suffix, f.read(), False))
    meta = "\n".join([
        "Metadata-Version: 2.1",
        "Name: wsgikit",
        "Version: " + version,
        "Summary: " + SUMMARY,
        "Requires-Python: ==%d.%d.*" % sys.version_info[:2],
        "", ""])
    wheel = "\n".join([
        "Wheel-Version: 1.0",
        "Generator: wsgikit mkwheel.py",
        "Root-Is-Purelib: false",
        "Tag: %s-%s-%s" % (py, py, plat),
        "", ""])
    entry = "[console_scripts]\nwsgikit = wsgikit:main\n"
    files += [(dist + "/METADATA", meta.encode(), False),
              (dist + "/WHEEL", wheel.encode(), False),
              (dist + "/entry_points.txt", entry.encode(), False)]
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "wsgikit-%s-%s-%s-%s.whl" % (version, py, py, plat))
    record = [record_line(n, d) for n, d, _ in files] + [dist + "/RECORD,,"]
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, executable in files + [(dist + "/RECORD", ("\n".join(record) + "\n").encode(), False)]:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    os.replace(path + ".tmp", path)
    print(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True, help="the wsgikit binary (make build)")
    ap.add_argument("--libdir", required=True, help="the directory holding _wsgikit<EXT_SUFFIX>")
    ap.add_argument("--out", required=True, help="directory the wheel is written to")
    a = ap.parse_args()
    build(a.binary, a.libdir, a.out)


if __name__ == "__main__":
    main()
