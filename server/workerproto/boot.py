# wsgikit worker bootstrap, run by the master as `<python> -c <this file>`
# (server/workerproto: Command; boot_test.go checks the names used here).
# It imports the application first and _wsgikit (the Go engine) last: the Go
# runtime starts at import, and nothing may fork after that.
import importlib
import importlib.machinery
import json
import os
import sys
import traceback

EXIT_IMPORT = 3  # the application could not be imported: do not restart
EXIT_NO_EXT = 4  # no _wsgikit build for this interpreter
EXIT_ABANDONED = 5  # stopped while a request over --timeout still runs in a thread
RECORD_MARK = "\x1e"  # starts a stderr line that is a log record (errorlog.RecordMark)


def log(level, msg, tb=None):
    """One record for the error log, which the master writes in its format;
    tb, a traceback, goes with it (not a record per line)."""
    rec = {"level": level, "msg": msg}
    if tb:
        rec["traceback"] = tb
    sys.stderr.write(RECORD_MARK + json.dumps(rec) + "\n")
    sys.stderr.flush()


def fail(code, msg, tb=None):
    log("ERROR", msg, tb)
    sys.exit(code)


def set_title(title):
    """Show title in ps and top rather than `python -c <this file>`, as
    setproctitle does: /proc/self/cmdline is read from the memory of the
    original argv strings, ours to overwrite; comm (15 bytes) is what top shows."""
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(title[:15].rstrip())
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end: stat's 48th and 49th
        room = end - start
        if room < 2:
            return
        raw = title.encode()[:room - 2]
        # A NUL ends the title; the area's last byte is not one, which tells
        # the kernel the strings were rewritten: it shows up to the first NUL.
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(raw + b"\0" * (room - len(raw) - 1) + b" ")
    except (OSError, ValueError, IndexError):
        pass  # cosmetic: keep the interpreter's title


def load_app(cfg):
    target = "%s:%s%s" % (cfg["module"], cfg["callable"], "()" if cfg["factory"] else "")
    try:
        mod = importlib.import_module(cfg["module"])
    except BaseException:
        fail(EXIT_IMPORT, "cannot import module %r for app %s (cwd %s)" % (cfg["module"], target, os.getcwd()), traceback.format_exc())
    obj = mod
    for part in cfg["callable"].split("."):
        if not hasattr(obj, part):
            found = sorted(n for n, v in vars(mod).items() if callable(v) and not n.startswith("_") and not isinstance(v, type(sys)))
            fail(EXIT_IMPORT, "module %r has no attribute %r; callables there: %s" % (cfg["module"], cfg["callable"], ", ".join(found[:10]) or "none"))
        obj = getattr(obj, part)
    if cfg["factory"]:
        try:
            obj = obj()
        except BaseException:
            fail(EXIT_IMPORT, "app factory %s raised" % target, traceback.format_exc())
    if not callable(obj):
        fail(EXIT_IMPORT, "%s is not callable (it is a %s)" % (target, type(obj).__name__))
    return obj


def main():
    raw = os.environ.pop("WSGIKIT_WORKER")
    cfg = json.loads(raw)
    if cfg.get("proc_title"):
        set_title(cfg["proc_title"])
    if cfg.get("capture_output"):  # the app's prints reach the log as they happen
        sys.stdout.reconfigure(line_buffering=True)
    libdir = cfg["libdir"]
    if not any(os.path.exists(os.path.join(libdir, "_wsgikit" + s)) for s in importlib.machinery.EXTENSION_SUFFIXES):
        fail(EXIT_NO_EXT, "no _wsgikit build for Python %d.%d in %s (wanted _wsgikit%s); build it with: make build PYTHON=%s"
             % (sys.version_info[0], sys.version_info[1], libdir, importlib.machinery.EXTENSION_SUFFIXES[0], sys.executable))
    if cfg.get("chdir"):
        os.chdir(cfg["chdir"])
    for p in reversed(cfg.get("pythonpath") or []):
        sys.path.insert(0, p)
    if "" in sys.path:  # `python -c` put the launch directory there; the app dir is what counts
        sys.path.remove("")
    sys.path.insert(0, os.getcwd())
    app = load_app(cfg)
    sys.path.insert(0, libdir)
    if cfg.get("check_only"):
        try:
            import _wsgikit  # noqa: F401  (loads the Go runtime: proves the build fits)
        except ImportError as e:
            fail(EXIT_NO_EXT, "cannot load _wsgikit from %s: %s; rebuild with: make build PYTHON=%s" % (libdir, e, sys.executable))
        sys.exit(0)
    try:
        import _wsgikit
    except ImportError as e:
        fail(EXIT_NO_EXT, "cannot load _wsgikit from %s: %s; rebuild with: make build PYTHON=%s" % (libdir, e, sys.executable))
    finally:
        sys.path.remove(libdir)
    rc = _wsgikit.serve(app, raw, threads=cfg["threads"],
                        multiprocess=cfg["multiprocess"], software=cfg["software"])
    sys.stdout.flush()
    if rc == EXIT_ABANDONED:
        # That request's thread still runs the app: finalizing the
        # interpreter would wait for it, or pull its state from under it.
        sys.stderr.flush()
        os._exit(rc)
    sys.exit(rc)


main()
