"""Test app for the server's integration tests: one behaviour per path.
Events (close() calls) are appended to the file named by WKAPP_EVENTS."""
import io
import json
import os
import sys
import threading
import time
import traceback

EVENTS = os.environ.get("WKAPP_EVENTS")
HOARD = []  # /grow keeps memory here: a leak for --reload-on-rss


def event(msg):
    if EVENTS:
        with open(EVENTS, "a") as f:
            f.write(msg + "\n")


class Closing:
    """An iterable that records close()."""

    def __init__(self, name, blocks, delay=0.0):
        self.name, self.blocks, self.delay = name, blocks, delay

    def __iter__(self):
        for b in self.blocks:
            if self.delay:
                time.sleep(self.delay)
            yield b

    def close(self):
        event("close " + self.name)


def q(environ):
    return dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    args = q(environ)
    if path == "/":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"Hello, World!"]
    if path.startswith("/env"):
        out = {}
        for k, v in environ.items():
            out[k] = v if isinstance(v, str) else repr(v)
        out["thread"] = threading.get_ident()
        body = json.dumps(out, sort_keys=True).encode("utf-8")
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/echo":
        inp = environ["wsgi.input"]
        mode = args.get("mode", "read")
        if mode == "read":
            body = inp.read()
        elif mode == "readn":
            parts = []
            while True:
                c = inp.read(int(args.get("n", "3")))
                if not c:
                    break
                parts.append(c)
            body = b"|".join(parts)
        elif mode == "lines":
            body = b"|".join(inp.readlines())
        else:
            body = b"|".join(iter(lambda: inp.readline(int(args.get("n", "-1"))), b""))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]
    if path == "/read-late":
        # Reads the body while the response is iterated: a body that fails
        # raises from wsgi.input after the application returned.
        inp = environ["wsgi.input"]

        def gen():
            try:
                body = inp.read()
            except OSError as e:
                event("input-error " + type(e).__name__)
                raise
            yield body
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Closing("read-late", gen())
    if path == "/gen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing("gen", [b"", b"a" * 10, b"", b"b" * 5])
    if path == "/empty-gen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing("empty", [b"", b""])
    if path == "/slow":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing("slow", [b"x" * 65536] * int(args.get("n", "200")), delay=float(args.get("d", "0.01")))
    if path == "/cl-short":
        start_response("200 OK", [("Content-Length", "10")])
        return Closing("cl-short", [b"12345"])
    if path == "/cl-long":
        start_response("200 OK", [("Content-Length", "5")])
        return Closing("cl-long", [b"12345", b"67890"])
    if path == "/head":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"0123456789"]
    if path == "/status":
        code = args.get("code", "204")
        start_response(code + " X", [("Content-Length", "3")] if code == "304" else [])
        return Closing("status", [b"abc"])
    if path == "/hop":
        start_response("200 OK", [("Connection", "close")])
        return [b"no"]
    if path == "/twice":
        start_response("200 OK", [])
        try:
            start_response("500 Oops", [])
        except AssertionError as e:
            event("twice " + type(e).__name__)
            raise
        return [b"no"]
    if path == "/exc-before":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late")
        except ValueError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced"]
    if path == "/exc-after":
        def gen():
            yield b"first"
            try:
                raise ValueError("after headers")
            except ValueError:
                start_response("500 Oops", [], sys.exc_info())
            yield b"never"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing("exc-after-outer", gen())
    if path == "/raise":
        raise RuntimeError("boom")
    if path == "/raise-iter":
        def gen():
            yield b"partial"
            raise RuntimeError("mid-body")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing("raise-iter", gen())
    if path == "/badtype":
        start_response("200 OK", [])
        return ["a str, not bytes"]
    if path == "/badstatus":
        start_response("OK", [])
        return [b""]
    if path == "/badheader":
        start_response("200 OK", [("X-Bad", "a\r\nInjected: yes")])
        return [b""]
    if path == "/nosr":
        return [b"forgot start_response"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written-")
        return [b"returned"]
    if path == "/file":
        fn = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wkapp.py")
        start_response("200 OK", [("Content-Type", "text/plain")])
        f = open(fn, "rb")
        return environ["wsgi.file_wrapper"](f, 1024)
    if path == "/file-sendfile":
        class NoRead(io.FileIO):
            def read(self, *a):
                raise RuntimeError("read() called: the file went through Python")
        fn = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wkapp.py")
        f = NoRead(fn, "rb")
        f.seek(int(args.get("skip", "0")))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](f)
    if path == "/file-bytesio":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"x" * 100000), 4096)
    if path == "/block":
        # Blocks until the test removes the gate file: an in-flight request
        # without sleeping as an oracle.
        gate = args["gate"]
        event("block started")
        while os.path.exists(gate):
            time.sleep(0.005)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"unblocked"]
    if path == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
    if path == "/rendezvous":
        # Each request marks its arrival, then waits (bounded) until n have
        # arrived: "met" proves n requests ran in Python at once.
        d, n = args["dir"], int(args["n"])
        open(os.path.join(d, str(threading.get_ident()) + "-" + str(time.monotonic_ns())), "w").close()
        deadline = time.monotonic() + 10
        while len(os.listdir(d)) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"met" if len(os.listdir(d)) >= n else b"alone"]
    if path == "/grow":
        HOARD.append(bytearray(int(args.get("mb", "10")) << 20))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"grown"]
    if path == "/prefix":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [("%s %s" % (sys.prefix, sys.executable)).encode()]
    if path == "/exit":
        os._exit(7)
    if path == "/print":  # to the worker's stdout: --capture-output sends it to the error log
        print(args.get("text", ""), flush=True)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"printed"]
    if path == "/stderr":  # the app's own stderr: a record per line in the error log
        sys.stderr.write(args.get("text", "") + "\n")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"written"]
    if path == "/print-exc":  # a chained traceback the app prints, piecewise: one record
        try:
            try:
                raise ValueError("inner")
            except ValueError:
                raise KeyError("outer")
        except KeyError:
            traceback.print_exc()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"printed"]
    if path == "/thread-exc":  # an uncaught exception in a thread: threading's excepthook prints it
        t = threading.Thread(target=lambda: 1 / 0)
        t.start()
        t.join()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"raised"]
    if path == "/osenv":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [os.environ.get(args.get("name", ""), "").encode()]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


def make_app():
    """A factory: wsgikit serve wkapp:make_app()"""
    def factory_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from factory"]
    return factory_app
