"""The wsgikit conformance probe: one WSGI callable, behaviours chosen per request.

Standard library only; runs under any WSGI server, multi-process ones included.

Each request names its behaviour and arguments in headers (so that the path,
query and body stay free to be the thing under test):

  X-Probe-Id:   correlation id; every event the app reports carries it
  X-Probe-Do:   behaviour name (else the first path segment, else "hello")
  X-Probe-Arg:  base64 of a JSON object with the behaviour's arguments

Events go to the suite's event sink at env WSGIKIT_SINK (host:port; falls back
to an environ key of that name, as set by mod_wsgi's SetEnv) as one JSON line
per short TCP connection: {"id", "seq", "pid", "ev", ...}. An "ask" event waits
for one JSON line in reply: that is the ACK handshake that lets the suite
check "nothing sent yet" or "no buffering" without sleeps as oracles.

String values travel as base64 of their latin-1 encoding ("exact bytes"), so
the suite sees precisely which code points the server put in environ.
"""

import base64
import gc
import io
import json
import os
import socket
import sys
import tempfile
import threading
import time
import weakref

_lock = threading.Lock()
_invocations = 0


def _sink_addr(environ=None):
    addr = os.environ.get("WSGIKIT_SINK")
    if not addr and environ is not None:
        addr = environ.get("WSGIKIT_SINK")
        if addr:
            os.environ["WSGIKIT_SINK"] = addr
    return addr


def b64(s):
    """base64 of a str's latin-1 bytes, or None if it has code points > 255."""
    try:
        return base64.b64encode(s.encode("latin-1")).decode("ascii")
    except UnicodeEncodeError:
        return None


def b64b(b):
    return base64.b64encode(bytes(b)).decode("ascii")


def unb(s):
    """latin-1 text (as sent by the suite) to bytes."""
    return s.encode("latin-1")


class Reporter:
    """Sends one request's events to the sink, numbered in order."""

    def __init__(self, pid_id, environ):
        self.id = pid_id
        self.seq = 0
        self.addr = _sink_addr(environ)
        self.lock = threading.RLock()
        self.sock = None
        self.rfile = None

    def _send(self, obj, want_reply):
        """One connection per request keeps its events in order at the sink.
        The sink answers every line once it has recorded it (an ask with the
        suite's reply, any other event with {}): an event the app reported
        before the server answered is on record when the suite reads the
        answer, so the suite never has to wait to learn that one did not come."""
        if not self.addr:
            sys.stderr.write("probe: WSGIKIT_SINK not set; event %r lost\n" % (obj.get("ev"),))
            return None
        line = json.dumps(obj).encode("ascii") + b"\n"
        for attempt in (1, 2):
            try:
                if self.sock is None:
                    host, _, port = self.addr.rpartition(":")
                    self.sock = socket.create_connection((host, int(port)), timeout=5)
                    self.rfile = self.sock.makefile("rb")
                self.sock.settimeout(5)
                self.sock.sendall(line)
                break
            except Exception as e:  # the app must keep working without a sink
                self._drop()
                if attempt == 2:
                    sys.stderr.write("probe: sink %s: %r\n" % (self.addr, e))
                    return None
        # Sent: wait for the receipt (or the reply), but never send twice.
        try:
            self.sock.settimeout(40 if want_reply else 5)
            reply = self.rfile.readline()
            return json.loads(reply or b"{}") if want_reply else None
        except Exception as e:
            self._drop()
            sys.stderr.write("probe: sink %s: %r\n" % (self.addr, e))
        return None

    def _drop(self):
        try:
            if self.sock is not None:
                self.sock.close()
        except Exception:
            pass
        self.sock = None
        self.rfile = None

    def __del__(self):
        self._drop()

    def ev(self, _ev, **data):
        with self.lock:
            self.seq += 1
            seq = self.seq
            obj = dict(data, id=self.id, seq=seq, pid=os.getpid(), ev=_ev)
            self._send(obj, False)

    def ask(self, _q, **data):
        with self.lock:
            self.seq += 1
            seq = self.seq
            obj = dict(data, id=self.id, seq=seq, pid=os.getpid(), ev="ask", q=_q)
            return self._send(obj, True) or {}


def exc_desc(e):
    return {"type": type(e).__name__, "msg": str(e)[:300]}


def dump_value(v):
    d = {"t": type(v).__name__}
    if isinstance(v, str):
        enc = b64(v)
        if enc is None:
            d["nonlatin1"] = True
            d["r"] = repr(v)[:300]
        else:
            d["b"] = enc
    elif isinstance(v, (bool, int, float)) or v is None:
        d["r"] = repr(v)
    elif isinstance(v, tuple) and all(isinstance(x, int) for x in v):
        d["r"] = repr(v)
    else:
        d["r"] = repr(v)[:200]
    return d


def dump_environ(environ):
    out = {}
    for k, v in list(environ.items()):
        out[k] = dump_value(v)
    inp = environ.get("wsgi.input")
    err = environ.get("wsgi.errors")
    out["probe.input_attrs"] = {"t": "list", "r": repr(sorted(a for a in ("read", "readline", "readlines", "__iter__") if hasattr(inp, a)))}
    out["probe.errors_attrs"] = {"t": "list", "r": repr(sorted(a for a in ("write", "writelines", "flush") if hasattr(err, a)))}
    out["probe.environ_type"] = {"t": "str", "b": b64(type(environ).__module__ + "." + type(environ).__name__)}
    return out


# ---------------------------------------------------------------- iterables

class Closable:
    """An iterable whose close(), next() calls and collection are reported."""

    def __init__(self, rep, gen, close_raises=False):
        self.rep = rep
        self.gen = gen
        self.close_raises = close_raises
        self.closed = False
        self.nexts = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.closed:
            self.rep.ev("next_after_close")
        self.nexts += 1
        try:
            return next(self.gen)
        except StopIteration:
            self.rep.ev("exhausted", nexts=self.nexts)
            raise

    def close(self):
        self.rep.ev("close", nexts=self.nexts, already=self.closed)
        self.closed = True
        try:
            self.gen.close()
        except Exception:
            pass
        if self.close_raises:
            raise RuntimeError("probe close() failure %s" % self.rep.id)

    def __del__(self):
        try:
            self.rep.ev("del", closed=self.closed, nexts=self.nexts)
        except Exception:
            pass


class SeparateIter:
    """An iterable whose iterator is a different object without close()."""

    def __init__(self, rep, parts):
        self.rep = rep
        self.parts = parts

    def __iter__(self):
        return iter(list(self.parts))

    def close(self):
        self.rep.ev("close", nexts=-1, already=False)

    def __del__(self):
        try:
            self.rep.ev("del", closed=None, nexts=-1)
        except Exception:
            pass


class OldSequence:
    """The pre-2.2 iteration protocol: __getitem__ until IndexError."""

    def __init__(self, parts):
        self.parts = parts

    def __getitem__(self, i):
        return self.parts[i]


class AttrSpy:
    """Reports every attribute the server looks up on the returned iterable."""

    def __init__(self, rep, parts):
        object.__setattr__(self, "_rep", rep)
        object.__setattr__(self, "_parts", list(parts))
        object.__setattr__(self, "_i", 0)

    def __getattribute__(self, name):
        if not name.startswith("_") or name.startswith("__"):
            object.__getattribute__(self, "_rep").ev("attr", name=name)
        return object.__getattribute__(self, name)

    def __iter__(self):
        return self

    def __next__(self):
        i = object.__getattribute__(self, "_i")
        parts = object.__getattribute__(self, "_parts")
        if i >= len(parts):
            raise StopIteration
        object.__setattr__(self, "_i", i + 1)
        return parts[i]

    def close(self):
        object.__getattribute__(self, "_rep").ev("close", nexts=-1, already=False)


class LenOne(list):
    """A one-item list (len() == 1) for Content-Length inference checks."""


# ---------------------------------------------------------------- helpers

def conv(v):
    """Decode a typed JSON value: plain JSON strings are str; {"b": ...} bytes
    (latin-1 text), {"i": n} int, {"none": 1} None."""
    if isinstance(v, dict):
        if "b" in v:
            return unb(v["b"])
        if "i" in v:
            return int(v["i"])
        if "none" in v:
            return None
        if "u" in v:
            return v["u"]
    if isinstance(v, list):
        return [conv(x) for x in v]
    return v


def make_headers(spec):
    if spec is None:
        return []
    if isinstance(spec, dict) and "kind" in spec:
        items = [tuple(conv(x) for x in it) for it in spec.get("items", [])]
        kind = spec["kind"]
        if kind == "tuple":
            return tuple(items)
        if kind == "listoflists":
            return [list(it) for it in items]
        if kind == "dict":
            return dict(items)
        if kind == "none":
            return None
        if kind == "triples":
            return [tuple(it) + ("x",) for it in items]
        return items
    return [tuple(conv(x) for x in it) for it in spec]


def body_parts(a):
    parts = []
    for p in a.get("body", []):
        if isinstance(p, dict):
            if "times" in p:
                parts.extend([unb(p.get("b", "x"))] * int(p["times"]))
            elif "repeat" in p:
                parts.append(unb(p.get("b", "x")) * int(p["repeat"]))
            elif "bytes256" in p:
                parts.append(bytes(range(256)) * int(p["bytes256"]) + unb(p.get("tail", "")))
            else:
                parts.append(conv(p))
        else:
            parts.append(unb(p))
    return parts


def raise_and_capture(msg="probe error"):
    try:
        raise RuntimeError(msg)
    except RuntimeError:
        return sys.exc_info()


def call_sr(rep, start_response, status, headers, exc_info=None, third=False, idx=0):
    """Calls start_response, reports what happened, re-raises any error."""
    try:
        if third or exc_info is not None:
            w = start_response(status, headers, exc_info)
        else:
            w = start_response(status, headers)
    except BaseException as e:
        d = exc_desc(e)
        if exc_info is not None:
            d["same"] = e is exc_info[1]
        rep.ev("sr", idx=idx, raised=True, **d)
        raise
    rep.ev("sr", idx=idx, raised=False, callable=callable(w))
    return w


# ---------------------------------------------------------------- behaviours

def do_hello(environ, sr, a, rep):
    body = b"Hello, World!"
    sr("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def timed_read(inp, n, timeout=2.0):
    """inp.read(n) (n < 0: to EOF) in a helper thread; None if it is still
    blocked after timeout (the server gives a stream that never ends). The
    thread finishes when the suite closes the connection."""
    box = {}

    def run():
        try:
            box["data"] = inp.read() if n < 0 else inp.read(n)
        except BaseException as e:
            box["error"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        return None
    if "error" in box:
        raise box["error"]
    return box["data"]


def do_env(environ, sr, a, rep):
    if a.get("mutate"):
        environ["probe.leak"] = "1"
    out = {"environ": dump_environ(environ)}
    read_exc = None
    if a.get("read"):
        # Read the way careful frameworks do: CONTENT_LENGTH bytes, or to EOF
        # only when the server says the stream is terminated (or the request
        # was chunked). A bare read() would block forever on servers that do
        # not simulate EOF (wsgiref); that is tested in the input specs.
        cl = environ.get("CONTENT_LENGTH", "")
        inp = environ["wsgi.input"]
        try:
            n = -1
            if cl:
                try:
                    n = max(0, min(int(cl), 1 << 24))
                except ValueError:
                    n = 0
                    out["cl_unparseable"] = True
            elif not (environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING")):
                n = 0
            data = timed_read(inp, n) if n != 0 else b""
            if data is None:
                out["read_blocked"] = True
                data = b""
            out["body"] = b64b(data)
        except Exception as e:
            out["read_error"] = exc_desc(e)
            read_exc = e
    if a.get("mutate"):
        environ.pop("HTTP_HOST", None)
    rep.ev("environ", **out)
    if read_exc is not None and a.get("propagate"):
        # As a framework does: the error goes up, and the server answers
        # for the body it could not deliver.
        raise read_exc
    body = json.dumps(out).encode("ascii")
    sr("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def do_resp(environ, start_response, a, rep):
    status = conv(a.get("status", "200 OK"))
    headers = make_headers(a.get("headers", [("Content-Type", "text/plain")]))
    parts = body_parts(a)
    mode = a.get("mode", "list")
    asks = {int(x["at"]): x for x in a.get("asks", [])}
    raise_at = a.get("raise_at")
    lazy = a.get("lazy", False)
    state = {"w": None}

    def start():
        state["w"] = call_sr(rep, start_response, status, headers)

    def gen():
        if lazy:
            start()
        i = 0
        while True:
            if i in asks:
                q = asks[i]
                ans = rep.ask(q.get("q", "seen"), **{k: v for k, v in q.items() if k not in ("at", "q")})
                rep.ev("answer", at=i, **ans)
            if raise_at is not None and i == raise_at:
                raise RuntimeError("probe iteration error %s" % rep.id)
            if a.get("forever"):
                if i > 0:
                    time.sleep(0.05)
                yield b"z" * int(a["forever"])
                i += 1
                continue
            if i >= len(parts):
                return
            yield parts[i]
            i += 1

    if mode == "write" or mode == "writegen":
        w = call_sr(rep, start_response, status, headers)
        nw = len(parts) if mode == "write" else 1
        for i, p in enumerate(parts[:nw]):
            if i in asks:
                ans = rep.ask(asks[i].get("q", "seen"), **{k: v for k, v in asks[i].items() if k not in ("at", "q")})
                rep.ev("answer", at=i, **ans)
            try:
                w(p)
                rep.ev("write", idx=i, ok=True)
            except BaseException as e:
                rep.ev("write", idx=i, ok=False, **exc_desc(e))
                raise
        if nw in asks:
            ans = rep.ask(asks[nw].get("q", "seen"), **{k: v for k, v in asks[nw].items() if k not in ("at", "q")})
            rep.ev("answer", at=nw, **ans)
        rest = parts[nw:]
        if mode == "writegen":
            return Closable(rep, iter(rest)) if a.get("closable") else rest
        return []

    if not lazy:
        start()
    if mode == "list":
        dynamic = bool(asks) or raise_at is not None or bool(a.get("forever"))
        it = gen() if dynamic else iter(parts)
        if a.get("closable"):
            return Closable(rep, it, a.get("close_raises", False))
        return it if dynamic else list(parts)
    if mode == "tuple":
        return tuple(parts)
    if mode == "gen":
        g = gen()
        return Closable(rep, g, a.get("close_raises", False)) if a.get("closable") else g
    if mode == "lenone":
        return LenOne(parts)
    if mode == "separate":
        return SeparateIter(rep, parts)
    if mode == "old":
        return OldSequence(parts)
    if mode == "spy":
        return AttrSpy(rep, parts)
    raise ValueError("unknown mode %r" % mode)


def do_lazy(environ, start_response, a, rep):
    a = dict(a, lazy=True, mode="gen")
    return do_resp(environ, start_response, a, rep)


def do_sr(environ, start_response, a, rep):
    """A scripted series of start_response calls (validation checks)."""
    w = None
    for i, c in enumerate(a.get("calls", [])):
        status = conv(c.get("status", "200 OK"))
        headers = make_headers(c.get("headers", []))
        exc = raise_and_capture("probe exc_info %s" % rep.id) if c.get("exc") else None
        try:
            w = call_sr(rep, start_response, status, headers, exc, c.get("third", False), i)
        except BaseException:
            if c.get("swallow"):
                continue
            raise
    body = unb(a.get("ret", "ok"))
    return [body]


def do_exc_before(environ, start_response, a, rep):
    """SR-09: replace status/headers with exc_info before anything was sent."""
    call_sr(rep, start_response, "200 OK", [("X-First", "1"), ("Content-Type", "text/plain")], idx=0)

    def gen():
        yield b""
        exc = raise_and_capture("probe before-headers %s" % rep.id)
        call_sr(rep, start_response, "500 Oops", [("X-Second", "1"), ("Content-Type", "text/plain")], exc, idx=1)
        yield b"replaced"

    return Closable(rep, gen())


def do_exc_after(environ, start_response, a, rep):
    """SR-10/11: exc_info after headers went out must raise (the original)."""
    headers = [("Content-Type", "text/plain")]
    if a.get("cl"):
        headers.append(("Content-Length", str(a["cl"])))
    call_sr(rep, start_response, "200 OK", headers, idx=0)

    def gen():
        yield b"partial"
        ans = rep.ask("seen", marker="partial")
        rep.ev("answer", at=1, **ans)
        try:
            raise RuntimeError("orig %s" % rep.id)
        except RuntimeError:
            exc = sys.exc_info()
            try:
                start_response("500 Oops", [("Content-Type", "text/plain")], exc)
            except BaseException as e:
                rep.ev("sr", idx=1, raised=True, same=e is exc[1], **exc_desc(e))
                raise
            rep.ev("sr", idx=1, raised=False)
        yield b"after"

    return Closable(rep, gen())


def do_exc_first(environ, start_response, a, rep):
    """SR-13: exc_info on the first call is a normal start."""
    exc = raise_and_capture("probe first %s" % rep.id)
    call_sr(rep, start_response, "500 Oops", [("Content-Type", "text/plain"), ("Content-Length", "5")], exc, idx=0)
    return [b"oops!"]


def do_exc_gc(environ, start_response, a, rep):
    """SR-14: no reference to exc_info kept after start_response returns."""

    class Sentinel:
        pass

    def inner():
        s = Sentinel()  # noqa: F841 (in the raising frame's locals)
        raise RuntimeError("probe gc")

    try:
        inner()
    except RuntimeError:
        exc = sys.exc_info()
    ref = weakref.ref(exc[2].tb_next.tb_frame.f_locals["s"])
    err = None
    try:
        start_response("500 Oops", [("Content-Type", "text/plain"), ("Content-Length", "2")], exc)
    except Exception as e:  # some servers raise here (uWSGI); measure anyway
        err = exc_desc(e)
        e = None
    exc = None
    sys.exc_info()
    gc.collect()
    rep.ev("gc", alive=ref() is not None, sr_error=err)
    if err is not None:
        raise RuntimeError("start_response raised: %s" % err["type"])
    return [b"ok"]


def do_input(environ, start_response, a, rep):
    inp = environ["wsgi.input"]
    results = []
    for op in a.get("ops", []):
        name = op[0]
        args = op[1:]
        rep.ev("reading", op=name)
        try:
            if name == "read":
                r = inp.read(*[conv(x) for x in args])
            elif name == "readline":
                r = inp.readline(*args)
            elif name == "readlines":
                r = inp.readlines(*args)
            elif name == "iter":
                r = list(inp)
            elif name == "chunks":  # read(n) until CONTENT_LENGTH bytes or b''
                r = []
                left = int(environ.get("CONTENT_LENGTH") or -1)
                while left != 0:
                    x = inp.read(args[0] if left < 0 else min(args[0], left))
                    if left > 0:
                        left -= len(x)
                    if not x:
                        break
                    r.append(x)
                    if len(r) > 100000:
                        break
                r = b"".join(r)
            else:
                raise ValueError(name)
            if isinstance(r, list):
                d = {"t": "list", "items": [{"t": type(x).__name__, "b": b64b(x) if isinstance(x, (bytes, bytearray)) else None} for x in r]}
            elif isinstance(r, (bytes, bytearray)):
                d = {"t": type(r).__name__, "b": b64b(r), "n": len(r)}
            else:
                d = {"t": type(r).__name__, "r": repr(r)[:200]}
            if name == "chunks" and a.get("digest"):
                import hashlib
                d = {"t": "bytes", "n": len(r), "sha256": hashlib.sha256(r).hexdigest()}
        except Exception as e:
            d = {"error": exc_desc(e)}
        rep.ev("read", op=name, **d)
        results.append(d)
    env = {k: dump_value(environ[k]) for k in ("CONTENT_LENGTH", "CONTENT_TYPE", "wsgi.input_terminated", "HTTP_TRANSFER_ENCODING") if k in environ}
    body = json.dumps({"results": results, "environ": env}).encode("ascii")
    status = a.get("status", "200 OK")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def do_errors(environ, start_response, a, rep):
    err = environ["wsgi.errors"]
    marker = a.get("marker", "probe-marker-%s" % rep.id)
    for op in a.get("ops", ["write", "writelines", "flush"]):
        try:
            if op == "write":
                err.write("%s write\n" % marker)
            elif op == "writelines":
                err.writelines(["%s line1\n" % marker, "%s line2\n" % marker])
            elif op == "flush":
                err.flush()
            elif op == "unicode":
                err.write("%s \u2603 \u20ac \U0001F600\n" % marker)
                err.flush()
            elif op == "surrogate":
                err.write("%s \udcff\n" % marker)
                err.flush()
            rep.ev("errors", op=op, ok=True)
        except Exception as e:
            rep.ev("errors", op=op, ok=False, **exc_desc(e))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


class ReportingFile(io.BytesIO):
    def __init__(self, rep, data):
        super().__init__(data)
        self.rep = rep

    def close(self):
        self.rep.ev("file_close")
        super().close()


class ReadOnly:
    """A file-like with only read() (and close)."""

    def __init__(self, rep, data):
        self.rep = rep
        self.f = io.BytesIO(data)

    def read(self, n=-1):
        return self.f.read(n)

    def close(self):
        self.rep.ev("file_close")


def do_fw(environ, start_response, a, rep):
    fw = environ.get("wsgi.file_wrapper")
    rep.ev("fw", present=fw is not None)
    data = bytes((i * 7 + 3) % 256 for i in range(int(a.get("size", 26)))) if a.get("binary") else b"abcdefghijklmnopqrstuvwxyz"[: int(a.get("size", 26))]
    src = a.get("src", "file")
    if src == "file":
        tf = tempfile.TemporaryFile()
        tf.write(data)
        tf.flush()
        f = _ReportingRealFile(rep, tf)
    elif src == "bytesio":
        f = ReportingFile(rep, data)
    else:
        f = ReadOnly(rep, data)
    f.seek(int(a.get("seek", 0))) if a.get("seek") else None
    headers = [("Content-Type", "application/octet-stream")]
    if a.get("cl") is not None:
        headers.append(("Content-Length", str(a["cl"])))
    start_response(a.get("status", "200 OK"), headers)
    if fw is None:
        f.close()
        return [b"no file_wrapper"]
    try:
        w = fw(f, int(a["blksize"])) if a.get("blksize") else fw(f)
    except Exception as e:
        rep.ev("fw_call", ok=False, **exc_desc(e))
        raise
    rep.ev("fw_call", ok=True, iterable=hasattr(w, "__iter__") or hasattr(w, "__getitem__"), has_close=hasattr(w, "close"))
    ret = a.get("ret", "wrapper")
    if ret == "other":
        return [b"other"]
    if ret == "consume":
        def consume():
            try:
                for chunk in w:
                    yield chunk
            finally:
                if hasattr(w, "close"):
                    w.close()
        return consume()
    return w


class _ReportingRealFile:
    """A real OS file (has fileno(), so sendfile paths are used) whose close is reported."""

    def __init__(self, rep, f):
        self.rep = rep
        self._f = f
        f.seek(0)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def read(self, *a):
        return self._f.read(*a)

    def seek(self, *a):
        return self._f.seek(*a)

    def tell(self):
        return self._f.tell()

    def fileno(self):
        return self._f.fileno()

    def close(self):
        self.rep.ev("file_close")
        self._f.close()


def do_raise(environ, start_response, a, rep):
    kind = a.get("kind", "runtime")
    if kind == "sysexit":
        raise SystemExit("probe SystemExit")
    raise RuntimeError("boom-%s" % rep.id)


def do_nostart(environ, start_response, a, rep):
    if a.get("yield"):
        def g():
            yield b"body-before-start"
        return g()
    return []


def do_badreturn(environ, start_response, a, rep):
    start_response("200 OK", [("Content-Type", "text/plain")])
    kind = a.get("kind", "none")
    if kind == "none":
        return None
    if kind == "int":
        return 5
    if kind == "bytes":
        return b"abc"
    if kind == "str-item":
        return Closable(rep, iter(["text"]))
    if kind == "none-item":
        return Closable(rep, iter([None]))
    if kind == "str-after":
        return Closable(rep, iter([b"ok", "text"]))
    return None


def do_write_str(environ, start_response, a, rep):
    w = call_sr(rep, start_response, "200 OK", [("Content-Type", "text/plain")])
    try:
        w("text")
        rep.ev("write", idx=0, ok=True)
    except BaseException as e:
        rep.ev("write", idx=0, ok=False, **exc_desc(e))
        raise
    return [b"after"]


def do_sleep(environ, start_response, a, rep):
    time.sleep(float(a.get("ms", 10)) / 1000.0)
    body = unb(a.get("body", "slept"))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


BEHAVIOURS = {
    "hello": do_hello,
    "env": do_env,
    "resp": do_resp,
    "lazy": do_lazy,
    "sr": do_sr,
    "exc_before": do_exc_before,
    "exc_after": do_exc_after,
    "exc_first": do_exc_first,
    "exc_gc": do_exc_gc,
    "input": do_input,
    "errors": do_errors,
    "fw": do_fw,
    "raise": do_raise,
    "nostart": do_nostart,
    "badreturn": do_badreturn,
    "write_str": do_write_str,
    "sleep": do_sleep,
}


def application(*args, **kwargs):
    global _invocations
    with _lock:
        _invocations += 1
        count = _invocations
    environ = args[0] if args else kwargs.get("environ")
    start_response = args[1] if len(args) > 1 else kwargs.get("start_response")
    pid = environ.get("HTTP_X_PROBE_ID", "")
    rep = Reporter(pid, environ)
    do = environ.get("HTTP_X_PROBE_DO")
    if not do:
        seg = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
        do = seg if seg in BEHAVIOURS else "hello"
    a = {}
    raw = environ.get("HTTP_X_PROBE_ARG")
    if raw:
        try:
            a = json.loads(base64.b64decode(raw))
        except Exception as e:
            rep.ev("bad_arg", **exc_desc(e))
    if pid:
        rep.ev(
            "call",
            do=do,
            nargs=len(args),
            kwargs=sorted(kwargs),
            environ_type=type(environ).__module__ + "." + type(environ).__name__,
            count=count,
            method=b64(environ.get("REQUEST_METHOD", "")),
            path=b64(environ.get("PATH_INFO", "")) if isinstance(environ.get("PATH_INFO", ""), str) else None,
            thread=threading.get_ident(),
        )
    fn = BEHAVIOURS.get(do, do_hello)
    try:
        result = fn(environ, start_response, a, rep)
        if pid:
            rep.ev("returned")
        return result
    except BaseException as e:
        if pid:
            rep.ev("app_raised", **exc_desc(e))
        raise
