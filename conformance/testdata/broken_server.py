"""A family of deliberately broken WSGI servers: the suite's negative controls.

Started without --defect it is a small, strict HTTP/1.1 server that passes
every MUST and SHOULD spec of the suite (TestMutants checks that first, so a
spec caught below is caught for the defect, not for a flaw of the family).
Each --defect NAME switches on one violation, committed where the code says
`if defect("NAME")`; DEFECTS lists them with what they break. TestMutants
runs the specs it expects to catch each defect against that defect alone,
and requires every MUST spec to FAIL and every SHOULD spec to be NON-STRICT
on at least one defect.

Standard library only (it runs on Debian's /usr/bin/python3); one thread
per connection, requests on a connection served in order. It is long
because each defect sits in the code at the point where it is committed.

usage: broken_server.py [--defect NAME] [--die-after N] [--gap-after N]
                        --host H --port P --appdir DIR module:callable
       broken_server.py --list-defects
"""

import argparse
import email.utils
import importlib
import io
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse

DEFECTS = {
    # request line
    "method-any-bytes": "the method is not checked against token (separators, NUL)",
    "target-with-spaces": "the request-target runs from the first to the last space",
    "split-on-whitespace": "the request-line is split on any run of whitespace",
    "version-any": "any HTTP-version is served",
    "missing-target-root": "'GET HTTP/1.1' is served as GET /",
    "no-leading-crlf": "an empty line before the request-line is refused",
    "request-line-4k": "request-lines over 4 KiB get 414",
    "long-target-400": "a request-target over the limit gets 400, not 414",
    "absolute-form-raw": "PATH_INFO is the whole absolute-form target",
    "any-target-form": "asterisk- and authority-form are served for any method",
    "fragment-kept": "a '#fragment' in the target is kept in PATH_INFO",
    # header fields
    "lenient-field-names": "field names are not checked against token",
    "ctl-in-values": "NUL is kept in values and a bare CR ends a line",
    "space-before-colon": "whitespace between a field name and its colon is dropped",
    "obs-fold-dropped": "obs-fold continuation lines are silently dropped",
    "leading-ws-header": "a whitespace-led line after the request-line is a header",
    "no-host-check": "Host is not checked (missing, repeated or invalid)",
    # request framing
    "lenient-content-length": "Content-Length is the digits found in the value",
    "content-length-last-wins": "of differing Content-Length lines the last wins",
    "content-length-wraps": "Content-Length wraps modulo 2**64",
    "content-length-short": "the body is read one octet short of Content-Length",
    "short-body-waits": "a body cut short by the client's FIN is served as complete, the connection held",
    "no-length-until-close": "a request without a body length (or Content-Length: 0) reads its body to the close",
    "lenient-chunk-size": "chunk sizes are the hex digits found on the line; any line end; chunk data resynchronises",
    "chunk-size-last-digit": "a chunk size keeps only its last hex digit",
    "chunk-ext-rejected": "chunk extensions are refused",
    "chunked-eof-is-end": "a chunked body cut by the close ends without an error",
    "trailers-merged": "trailer fields are merged into the environ",
    "chunked-not-decoded": "a chunked body reaches the app with its chunk syntax",
    "te-untrimmed": "Transfer-Encoding is chunked only as exactly ': chunked'; else Content-Length frames",
    "tecl-keepalive": "Content-Length + Transfer-Encoding: processed as chunked, the connection kept",
    "tecl-reads-on": "Content-Length + Transfer-Encoding: processed as chunked, what the app left of the body parsed as the next request (a 400, then a close: Cheroot 9.0)",
    "te-cl-wins": "Content-Length wins over Transfer-Encoding",
    "te-unknown-ignored": "an unknown or non-final transfer coding is ignored",
    "te-unknown-400": "an unknown transfer coding gets 400, not 501",
    "http10-te-kept": "HTTP/1.0 with Transfer-Encoding is processed and kept alive",
    "errors-as-500": "a request refused for the client's error gets 500",
    "body-error-500": "a body the server could not deliver gets 500 when the app lets the error up",
    # connections
    "keep-reading-after-400": "after a 400 for bad framing the connection is read on",
    "close-not-announced": "no Connection: close on the response to a close request",
    "http10-kept-open": "HTTP/1.0 connections stay open without keep-alive",
    "ignore-connection-close": "Connection: close is ignored",
    "good-lost-on-bad": "a bad pipelined request makes the one before it unanswered",
    "one-recv": "a request is parsed from the first read alone",
    "pipeline-reorder": "pipelined requests run side by side, answered as they finish",
    # environ
    "keyword-call": "the app is called with keyword arguments",
    "environ-subclass": "environ is a dict subclass",
    "app-called-twice": "the app is called twice per request",
    "shared-environ": "one environ dict serves every request",
    "method-lowercased": "REQUEST_METHOD is lower-cased",
    "head-as-get": "REQUEST_METHOD is GET for HEAD requests",
    "script-name-slash": "SCRIPT_NAME is '/'",
    "path-utf8": "PATH_INFO is decoded as UTF-8",
    "path-not-unquoted": "PATH_INFO is not percent-decoded",
    "root-path-empty": "PATH_INFO is '' for '/'",
    "path-with-query": "PATH_INFO keeps the query",
    "query-unquoted": "QUERY_STRING is percent-decoded",
    "query-keeps-mark": "QUERY_STRING starts with the '?'",
    "query-absent-none": "QUERY_STRING is 'None' without a query",
    "query-utf8": "QUERY_STRING is decoded as UTF-8",
    "content-type-dropped": "CONTENT_TYPE is never set",
    "content-type-default": "CONTENT_TYPE defaults to text/plain",
    "http-content-keys": "HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH are set too",
    "content-length-int": "CONTENT_LENGTH is an int",
    "content-length-zero-default": "CONTENT_LENGTH defaults to '0'",
    "server-name-empty": "SERVER_NAME is ''",
    "server-port-wrong": "SERVER_PORT is '80'",
    "server-port-int": "SERVER_PORT is an int",
    "protocol-as-10": "SERVER_PROTOCOL is always HTTP/1.0",
    "protocol-as-11": "SERVER_PROTOCOL is always HTTP/1.1",
    "header-names-raw": "HTTP_ keys keep the field name's case",
    "invented-header": "an HTTP_X_BROKEN key the client never sent",
    "empty-header-dropped": "fields with an empty value are dropped",
    "ows-kept": "whitespace around field values is kept",
    "duplicate-last-wins": "of repeated fields the last wins",
    "underscore-headers": "field names with '_' map to HTTP_ keys (Content_Length to CONTENT_LENGTH)",
    "script-name-from-header": "a SCRIPT_NAME field sets SCRIPT_NAME",
    "header-utf8": "field values are decoded as UTF-8",
    "obs-text-stripped": "field values are stripped of every Unicode space (\\x85, \\xa0)",
    "wsgi-version-list": "wsgi.version is [1, 0]",
    "url-scheme-https": "wsgi.url_scheme is 'https'",
    "no-run-once": "wsgi.run_once is missing",
    "input-no-readlines": "wsgi.input has no readlines()",
    "errors-no-writelines": "wsgi.errors has no writelines()",
    "flags-int": "the wsgi.multi*/run_once flags are ints",
    "run-once-true": "wsgi.run_once is True",
    "bad-extension-key": "an extension key 'Broken-Key' breaks the naming rule",
    "no-remote-addr": "REMOTE_ADDR is missing",
    "remote-user-from-auth": "REMOTE_USER is taken from Basic credentials",
    # wsgi.input
    "read-ignores-size": "read(n) returns the whole remaining body",
    "read-requires-size": "read() without a size raises TypeError",
    "no-eof-simulation": "reads past CONTENT_LENGTH read the socket",
    "empty-readlines-list": "readlines() of an empty body is [b'']",
    "readline-strips-newline": "readline() drops the b'\\n'",
    "readline-ignores-size": "readline(size) ignores size",
    "readline-rereads": "readline() does not consume the line",
    "readlines-hint-typeerror": "readlines(hint) raises TypeError",
    "iter-by-bytes": "iterating wsgi.input yields 2-byte pieces",
    "large-body-truncated": "bodies are cut at 64 KiB",
    "unread-body-kept": "a body the app did not read is parsed as the next request",
    "expect-417": "Expect: 100-continue gets 417",
    "stray-100": "a 100 Continue follows the final response when the app did not read",
    "continue-to-http10": "100 Continue is sent to HTTP/1.0 clients",
    # start_response
    "no-sr-validation": "start_response checks nothing; status and headers go out as given (UTF-8 if need be)",
    "reason-replaced": "the reason phrase is replaced by the standard one",
    "headers-utf8": "header values are encoded as UTF-8",
    "no-write-callable": "start_response returns None",
    "exc-info-keyword-only": "exc_info can only be passed by keyword",
    "second-call-allowed": "a second start_response without exc_info replaces the first",
    "exc-info-always-raises": "start_response raises whenever exc_info is given",
    "exc-info-ignored-after-headers": "exc_info after the headers went out is ignored",
    "exc-info-raises-new": "exc_info after the headers raises a new error, not the app's",
    "exc-info-kept": "the last exc_info is kept on the server",
    "headers-at-start-response": "start_response sends the headers",
    "headers-on-empty-chunk": "the headers go out with the first chunk, even an empty one",
    "no-date": "no Date header",
    "always-add-date-server": "Date and Server are added even when the app sent them",
    "content-length-case-sensitive": "only 'Content-Length' spelt so is the app's length",
    "join-repeated-headers": "repeated app headers are joined into one",
    "hop-by-hop-passed": "the app's hop-by-hop headers are sent as given",
    # response body
    "trailing-crlf": "bodies without Content-Length get a CRLF appended",
    "newline-translation": "b'\\n' in bodies becomes b'\\r\\n'",
    "start-response-required-first": "an app that returns before calling start_response gets 500",
    "sniffs-iterable": "the server looks up .fileno on the returned iterable",
    "buffered-body": "the whole body (and every write()) is held until the app is done",
    "overrun-sent": "bytes past the app's Content-Length are sent",
    "iterate-past-length": "iteration goes on past the app's Content-Length",
    "underrun-kept-alive": "a body short of its Content-Length leaves the connection open",
    "length-from-single-item": "Content-Length is taken from a one-item result even after write()",
    "empty-chunk-terminates": "an empty item is sent as a zero-size chunk",
    "chunked-to-http10": "bodies without length are chunked for HTTP/1.0 too",
    "chunked-with-length": "a generator's body is chunked even with the app's Content-Length",
    "body-on-204-304": "204 and 304 responses carry the app's body",
    "length-on-204": "204 responses get Content-Length: 0",
    "body-on-head": "HEAD responses carry the body",
    "head-drops-length": "HEAD responses lose the app's Content-Length",
    "close-after-head": "the connection is closed after a HEAD response",
    "no-app-length-check": "an invalid Content-Length from the app goes out",
    "own-error-pages": "error statuses get the server's own body",
    "never-close": "the iterable's close() is never called",
    "close-iter-not-result": "close() is called on iter(result), not on result",
    "close-exception-fatal": "an exception from close() loses the response and stops the server serving",
    "die-after-app-error": "after an app exception every request gets 503",
    "app-error-200": "an exception before start_response gives an empty 200",
    "finish-after-error": "an exception after the headers finishes the framing and keeps the connection",
    "no-start-is-200": "an app that never calls start_response gets 200 with what it yielded",
    "str-items-encoded": "str items are sent encoded, None items skipped",
    "bad-return-200": "a non-iterable or bytes return gets 200 (bytes sent as they are)",
    "errors-ascii": "wsgi.errors only takes ASCII",
    # wsgi.file_wrapper
    "fw-drops-last-byte": "the file wrapper loses the last byte",
    "fw-sent-when-created": "a file wrapper's file is sent even when the app does not return it",
    "fw-from-start": "the file wrapper starts at the beginning of the file",
    "fw-ignores-length": "file wrapper responses ignore the app's Content-Length",
    "fw-no-close": "the file wrapper has no close()",
    # write()
    "write-after-iterable": "write() data is sent after the iterable's",
    "write-accepts-str": "write() takes str",
    "write-truncates-silently": "write() past Content-Length is cut without an error",
}

_defect = ""


def defect(name):
    """Whether this server commits the named violation (see DEFECTS)."""
    if name not in DEFECTS:
        raise KeyError(name)
    return _defect == name


TCHAR = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"}
REASONS = {100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 299: "OK", 304: "Not Modified", 400: "Bad Request",
           404: "Not Found", 411: "Length Required", 413: "Content Too Large", 414: "URI Too Long", 417: "Expectation Failed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
           505: "HTTP Version Not Supported"}
MAX_FIELD_LINE = 64 << 10
MAX_TARGET = 64 << 10
MAX_HEADERS = 100
SHARED_ENV = {}
STATE = {"down": False}


class HTTPError(Exception):
    """A request the server refuses, with the status it answers."""

    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status


class BodyError(OSError):
    """The request body could not be delivered (bad framing, client gone)."""


class EnvironSubclass(dict):
    pass


# ------------------------------------------------------------------ reading

class Reader:
    """Buffered reads from the client socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def fill(self):
        if self.eof:
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def readline(self, limit, error=None):
        """One line with its terminator; b'' at EOF. A line longer than limit
        raises error (an HTTPError), or HTTPError(400)."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > limit:
                raise error or HTTPError(400, "line too long")
            if not self.fill():
                line = bytes(self.buf)
                self.buf.clear()
                return line

    def read(self, n):
        """Up to n bytes, fewer only at EOF."""
        while len(self.buf) < n and self.fill():
            pass
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data


def crlf_line(line, what):
    """The line without its CRLF; a bare LF or CR is a 400."""
    if not line.endswith(b"\r\n"):
        raise HTTPError(400, what + " not terminated by CRLF")
    line = line[:-2]
    if b"\r" in line:
        raise HTTPError(400, "bare CR in " + what)
    return line


# ------------------------------------------------------------------ request

class Request:
    """One request head, parsed."""

    def __init__(self):
        self.method = self.target = self.version = ""
        self.major_minor = (1, 1)
        self.fields = []  # (name, value) bytes as received, value trimmed
        self.raw_fields = []  # (name, value) bytes, value as received
        self.trailers = []  # trailers-merged
        self.close = False  # close the connection after this response
        self.keepalive_10 = False  # HTTP/1.0 asking for keep-alive
        self.expect = False  # Expect: 100-continue
        self.framing = ("none", 0)
        self.tecl = False  # both Content-Length and Transfer-Encoding
        self.path = self.query = ""
        self.has_query = False
        self.host_from_target = None  # absolute-form


def parse_request_line(line):
    r = Request()
    if defect("split-on-whitespace"):
        parts = line.split()
    elif defect("target-with-spaces"):
        first, _, rest = line.partition(b" ")
        target, _, version = rest.rpartition(b" ")
        parts = [first, target, version]
    else:
        parts = line.split(b" ")
    if len(parts) == 2 and defect("missing-target-root"):
        parts = [parts[0], b"/", parts[1]]
    if len(parts) != 3:
        raise HTTPError(400, "bad request-line")
    method, target, version = parts
    if not TCHAR.match(method) and not defect("method-any-bytes"):
        raise HTTPError(400, "bad method")
    if not target or re.search(rb"[\x00-\x20\x7f]", target) and not defect("target-with-spaces"):
        raise HTTPError(400, "bad request-target")
    m = re.match(rb"^HTTP/(\d)\.(\d)$", version)
    if not defect("version-any"):
        if not m:
            raise HTTPError(400, "bad HTTP-version")
        if m.group(1) != b"1":
            raise HTTPError(505, "HTTP-version not supported")
    r.method = method.decode("latin-1")
    r.target = target.decode("latin-1")
    r.version = version.decode("latin-1")
    if m:
        r.major_minor = (int(m.group(1)), int(m.group(2)))
    parse_target(r)
    return r


def parse_target(r):
    t = r.target
    if t.startswith("/"):
        path_query = t
    elif t == "*":
        if r.method != "OPTIONS" and not defect("any-target-form"):
            raise HTTPError(400, "asterisk-form is for OPTIONS")
        path_query = "*"
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", t):
        authority, _, tail = t.partition("://")[2].partition("/")
        if not authority:
            raise HTTPError(400, "absolute-form without authority")
        r.host_from_target = authority
        path_query = t if defect("absolute-form-raw") else "/" + tail
    elif r.method == "CONNECT" or defect("any-target-form"):
        path_query = "/"
    else:
        raise HTTPError(400, "authority-form is for CONNECT")
    if "#" in path_query:
        if not defect("fragment-kept"):
            raise HTTPError(400, "fragment in the request-target")
    r.path, mark, r.query = path_query.partition("?")
    r.has_query = bool(mark)
    if defect("absolute-form-raw") and r.host_from_target:
        r.path, r.query = path_query, ""
        if "?" in path_query:
            r.path, _, r.query = path_query.partition("?")


def read_request(rd):
    """Parses one request head from rd; None when the client closed first."""
    if defect("one-recv"):
        while not rd.buf and rd.fill():
            pass
        if not rd.buf:
            return None
        head_end = rd.buf.find(b"\r\n\r\n")
        if head_end < 0:
            raise HTTPError(400, "request head not in the first read")
    limit = 4096 if defect("request-line-4k") else MAX_TARGET
    too_long = HTTPError(400 if defect("long-target-400") else 414, "request-line too long")
    line = rd.readline(limit, too_long)
    if line in (b"\r\n", b"\n"):
        if defect("no-leading-crlf"):
            raise HTTPError(400, "empty line before the request-line")
        line = rd.readline(limit, too_long)
    if not line:
        return None
    if len(line) > limit:
        raise too_long
    r = parse_request_line(crlf_line(line, "request-line"))
    count = 0
    while True:
        line = rd.readline(MAX_FIELD_LINE, HTTPError(431, "field line too long"))
        if not line:
            raise HTTPError(400, "connection closed in the header section")
        pieces = [line]
        if defect("ctl-in-values"):
            parts = re.split(rb"\r(?!\n)", line)
            pieces = [p + b"\r\n" for p in parts[:-1]] + parts[-1:]
        if pieces == [b"\r\n"]:
            break
        for piece in pieces:
            count += 1
            if count > MAX_HEADERS:
                raise HTTPError(431, "too many fields")
            add_field_line(r, piece)
    finish_head(r)
    return r


def add_field_line(r, line):
    """Adds one field line (with its terminator)."""
    body = crlf_line(line, "field line")
    if body[:1] in (b" ", b"\t"):
        if not r.raw_fields:
            if not defect("leading-ws-header"):
                raise HTTPError(400, "whitespace before the first field")
            body = body.lstrip(b" \t")
        elif defect("obs-fold-dropped"):
            return
        else:
            raise HTTPError(400, "obs-fold")
    name, colon, value = body.partition(b":")
    if not colon:
        raise HTTPError(400, "field line without a colon")
    raw_value = value
    if defect("space-before-colon"):
        name = name.rstrip(b" \t")
    if not TCHAR.match(name) and not defect("lenient-field-names"):
        raise HTTPError(400, "bad field name")
    if not defect("ows-kept") or is_probe_field(name):
        value = value.strip(b" \t")
    if re.search(rb"[\x00\r\n]", value) and not defect("ctl-in-values"):
        raise HTTPError(400, "NUL, CR or LF in a field value")
    r.raw_fields.append((name, raw_value))
    r.fields.append((name, value))


def is_probe_field(name):
    """The X-Probe-* fields steer the probe app: the defects that bend field
    names and values spare them, so the probe still does what the spec asks."""
    return name.lower().startswith(b"x-probe-")


def field(r, name):
    """Every value of the field (case-insensitive name), in order."""
    n = name.lower().encode()
    return [v for k, v in r.fields if k.lower() == n]


def finish_head(r):
    """Host, framing and connection handling from the header fields."""
    hosts = field(r, "Host")
    if not defect("no-host-check"):
        if r.major_minor >= (1, 1) and len(hosts) != 1:
            raise HTTPError(400, "one Host field required")
        for h in hosts:
            h = h.strip(b" \t")
            if not re.match(rb"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(:\d*)?$", h):
                raise HTTPError(400, "invalid Host")
    conn = b",".join(field(r, "Connection")).lower()
    tokens = [t.strip() for t in conn.split(b",")]
    if r.major_minor >= (1, 1):
        r.close = b"close" in tokens
    else:
        r.close = b"keep-alive" not in tokens
        if defect("http10-kept-open"):
            r.close = b"close" in tokens
    if defect("ignore-connection-close"):
        r.close = False
    r.keepalive_10 = r.major_minor < (1, 1) and not r.close
    r.expect = any(v.lower() == b"100-continue" for v in field(r, "Expect")) and r.major_minor >= (1, 1)
    if defect("continue-to-http10"):
        r.expect = any(v.lower() == b"100-continue" for v in field(r, "Expect"))
    if field(r, "Expect") and defect("expect-417"):
        raise HTTPError(417, "expectation failed")
    r.framing = frame(r)


def frame(r):
    """('none'|'length'|'chunked'|'close', n) for the request body."""
    tes = field(r, "Transfer-Encoding")
    cls = field(r, "Content-Length")
    if defect("obs-fold-dropped"):
        tes = [v for v in tes if v]  # what is left of a folded line says nothing
    if defect("te-untrimmed"):
        raw = [v for k, v in r.raw_fields if k.lower() == b"transfer-encoding"]
        tes = [b"chunked"] if raw == [b" chunked"] else []
    if tes and defect("te-cl-wins") and cls:
        tes = []
    if tes:
        if r.major_minor < (1, 1) and not defect("http10-te-kept"):
            raise HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request")
        codings = []
        for v in tes:
            for c in v.split(b","):
                c = c.strip(b" \t")
                if c:
                    codings.append(c.lower())
        chunked = codings and codings[-1] == b"chunked" and codings.count(b"chunked") == 1
        if not chunked:
            if defect("te-unknown-ignored"):
                tes = []
            elif codings and codings[-1] == b"chunked":
                raise HTTPError(400, "chunked applied twice")
            elif all(c in (b"chunked",) for c in codings) or not codings:
                raise HTTPError(400, "chunked is not the final coding")
            elif defect("te-unknown-400"):
                raise HTTPError(400, "transfer coding not understood")
            else:
                raise HTTPError(501, "transfer coding not understood")
        else:
            for c in codings[:-1]:
                if defect("te-unknown-ignored"):
                    continue
                raise HTTPError(501, "transfer coding not understood")
            r.tecl = bool(cls)
            if cls and not defect("tecl-keepalive") and not defect("http10-te-kept") and not defect("tecl-reads-on"):
                r.close = True  # RFC 9112 §6.1: close after responding
            if r.major_minor < (1, 1) and not defect("http10-te-kept"):
                r.close = True
            return ("chunked", None)
    if cls:
        values = []
        for v in cls:
            if defect("lenient-content-length"):
                digits = re.sub(rb"[^0-9]", b"", v)
                values.append(int(digits or b"0"))
                continue
            for part in v.split(b","):
                part = part.strip(b" \t")
                if not re.match(rb"^[0-9]+$", part):
                    raise HTTPError(400, "invalid Content-Length")
                values.append(int(part))
        if len(set(values)) != 1:
            if defect("content-length-last-wins"):
                values = values[-1:]
            elif defect("lenient-content-length"):
                values = values[:1]
            else:
                raise HTTPError(400, "differing Content-Length values")
        n = values[0]
        if defect("content-length-wraps"):
            n %= 1 << 64
        elif n > 1 << 40:
            raise HTTPError(413, "Content-Length too large")
        if defect("content-length-short") and n > 0:
            n -= 1
        if n == 0 and defect("no-length-until-close") and r.method == "POST":
            return ("close", None)
        return ("length", n)
    if defect("no-length-until-close") and r.method == "POST":
        return ("close", None)
    return ("none", 0)


# ------------------------------------------------------------------ bodies

class LengthBody:
    def __init__(self, rd, n):
        self.rd, self.left, self.total = rd, n, n
        self.broken = False

    def read(self, n):
        if self.left <= 0:
            if defect("no-eof-simulation"):
                # Past the end: whatever the socket holds next.
                if not self.rd.buf:
                    self.rd.fill()
                data = bytes(self.rd.buf[:n])
                del self.rd.buf[:n]
                return data
            return b""
        n = min(n, self.left)
        if defect("large-body-truncated") and self.total - self.left + n > 65536:
            n = max(0, 65536 - (self.total - self.left))
            if n == 0:
                return b""
        data = self.rd.read(n)
        self.left -= len(data)
        if len(data) < n:
            if defect("short-body-waits"):
                self.left = 0
                return data
            self.broken = True
            raise BodyError("the client closed before the end of the body (%d octets missing)" % self.left)
        return data

    def done(self):
        return self.left <= 0


class CloseBody:
    """A body that runs to the close (no-length-until-close)."""

    def __init__(self, rd):
        self.rd = rd
        self.broken = False

    def read(self, n):
        return self.rd.read(n)

    def done(self):
        return False


class ChunkedBody:
    def __init__(self, rd, req):
        self.rd, self.req = rd, req
        self.left = 0  # octets left in the current chunk
        self.end = False
        self.broken = False
        self.raw = bytearray()  # chunked-not-decoded: what the app sees
        self.started = False

    def fail(self, msg):
        self.broken = True
        raise BodyError("bad chunked body: " + msg)

    def line(self):
        line = self.rd.readline(4096, None)
        self.raw += line
        if not line.endswith(b"\n"):
            if defect("chunked-eof-is-end"):
                self.end = True
                return None
            self.fail("the connection closed mid-body")
        if defect("lenient-chunk-size"):
            return line.rstrip(b"\r\n")
        if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
            self.fail("chunk line not ended by CRLF: %r" % line)
        return line[:-2]

    def next_chunk(self):
        line = self.line()
        if line is None:
            return
        size, semi, ext = line.partition(b";")
        if semi and defect("chunk-ext-rejected"):
            self.fail("chunk extension")
        if defect("chunk-size-last-digit"):
            n = int(size.strip()[-1:] or b"0", 16)
        elif defect("lenient-chunk-size"):
            digits = re.sub(rb"[^0-9A-Fa-f]", b"", size.split(b"x")[-1] if b"0x" in size else size)
            n = int(digits or b"0", 16)
        else:
            size = size.rstrip(b" \t")
            if not re.match(rb"^[0-9A-Fa-f]{1,15}$", size):
                self.fail("bad chunk size %r" % size)
            if semi and not re.match(rb"^[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+([ \t]*=[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+|\"[^\"]*\"))?([ \t]*;[ \t]*.*)?$", ext):
                self.fail("bad chunk extension %r" % ext)
            n = int(size, 16)
        if n == 0:
            self.trailers()
            self.end = True
        self.left = n

    def trailers(self):
        while True:
            line = self.line()
            if line is None or line == b"":
                return
            if defect("lenient-chunk-size"):
                continue
            name, colon, value = line.partition(b":")
            if not colon or not TCHAR.match(name):
                self.fail("bad trailer field %r" % line)
            if defect("trailers-merged"):
                self.req.trailers.append((name, value.strip(b" \t")))

    def read(self, n):
        out = bytearray()
        while len(out) < n and not self.end:
            if self.left == 0:
                self.next_chunk()
                continue
            k = min(n - len(out), self.left)
            data = self.rd.read(k)
            self.raw += data
            out += data
            self.left -= len(data)
            if len(data) < k:
                if defect("chunked-eof-is-end"):
                    self.end = True
                    break
                self.fail("the connection closed mid-chunk")
            if self.left == 0:
                end = self.rd.read(2)
                self.raw += end
                if end != b"\r\n":
                    if not defect("lenient-chunk-size"):
                        self.fail("chunk data not followed by CRLF")
                    if end[:1] == b"\n":
                        self.rd.buf[0:0] = end[1:]  # a bare LF ends the data
                    else:
                        while end and not end.endswith(b"\n"):
                            more = self.rd.read(1)
                            if not more:
                                break
                            end += more
        return bytes(out)

    def done(self):
        return self.end


class RawChunked:
    """chunked-not-decoded: the app reads the chunk syntax itself."""

    def __init__(self, chunked):
        self.c = chunked
        self.pos = 0
        self.broken = False

    def read(self, n):
        while len(self.c.raw) - self.pos < n and not self.c.end:
            self.c.read(65536)
        data = bytes(self.c.raw[self.pos:self.pos + n])
        self.pos += len(data)
        return data

    def done(self):
        return self.c.end and self.pos >= len(self.c.raw)


class Input:
    """wsgi.input over a body: read, readline, iteration (readlines in
    FullInput)."""

    def __init__(self, body, first_read=None):
        self._body = body
        self._buf = b""
        self._first = first_read
        self.used = False

    def _raw(self, n):
        self.used = True
        if self._first is not None:
            f, self._first = self._first, None
            f()
        return self._body.read(n)

    def read(self, size=-1, *extra):
        if extra:
            raise TypeError("read() takes at most 1 argument")
        if defect("read-requires-size") and size == -1:
            raise TypeError("read() requires a size")
        if defect("read-ignores-size"):
            size = -1
        if size is None or size < 0:
            out = [self._buf]
            self._buf = b""
            while True:
                d = self._raw(65536)
                if not d:
                    break
                out.append(d)
            return b"".join(out)
        while len(self._buf) < size:
            d = self._raw(size - len(self._buf))
            if not d:
                break
            self._buf += d
        d, self._buf = self._buf[:size], self._buf[size:]
        return d

    def readline(self, size=-1):
        if defect("readline-ignores-size"):
            size = -1
        while b"\n" not in self._buf and (size is None or size < 0 or len(self._buf) < size):
            d = self._raw(8192)
            if not d:
                break
            self._buf += d
        i = self._buf.find(b"\n")
        end = len(self._buf) if i < 0 else i + 1
        if size is not None and size >= 0:
            end = min(end, size)
        line = self._buf[:end]
        if not defect("readline-rereads"):
            self._buf = self._buf[end:]
        if defect("readline-strips-newline"):
            line = line.rstrip(b"\n")
        return line

    def __iter__(self):
        if defect("iter-by-bytes"):
            while True:
                d = self.read(2)
                if not d:
                    return
                yield d
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class FullInput(Input):
    def readlines(self, hint=-1):
        if defect("readlines-hint-typeerror") and hint != -1:
            raise TypeError("readlines() takes no hint")
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        if not lines and defect("empty-readlines-list"):
            return [b""]
        return lines


class BufferedBody:
    """A body read whole before the app runs (trailers-merged)."""

    def __init__(self, data):
        self.f = io.BytesIO(data)
        self.broken = False

    def read(self, n):
        return self.f.read(n)

    def done(self):
        return True


class ErrorsNoWritelines:
    """wsgi.errors: a text stream to the server's stderr (errors-no-writelines
    stops here)."""

    def write(self, s):
        if defect("errors-ascii"):
            s.encode("ascii")
        sys.stderr.buffer.write(s.encode("utf-8", "backslashreplace"))
        return len(s)

    def flush(self):
        sys.stderr.flush()


class Errors(ErrorsNoWritelines):
    def writelines(self, seq):
        for s in seq:
            self.write(s)


class FileWrapper:
    """wsgi.file_wrapper: iterates a file-like object in blocks."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close") and not defect("fw-no-close"):
            self.close = filelike.close
        if defect("fw-from-start") and hasattr(filelike, "seek"):
            filelike.seek(0)
        created = getattr(_tls, "wrappers", None)
        if created is not None:
            created.append(self)

    def __iter__(self):
        while True:
            data = self.filelike.read(self.blksize)
            if not data:
                return
            if defect("fw-drops-last-byte"):
                peek = self.filelike.read(1)
                if not peek:
                    data = data[:-1]
                    if data:
                        yield data
                    return
                data += peek
            yield data


_tls = threading.local()


# ------------------------------------------------------------------ responses

def http_date():
    return email.utils.formatdate(usegmt=True)


class Abort(Exception):
    """The response must end here: close the connection, framing left open."""


class Response:
    def __init__(self, conn, req):
        self.conn, self.req = conn, req
        self.status = None
        self.headers = None
        self.sent = False
        self.length = None  # the app's Content-Length
        self.written = 0
        self.chunked = False
        self.close = req.close
        self.no_body = req.method == "HEAD"
        self.held = []  # buffered-body, write-after-iterable, length-from-single-item
        self.generator = False  # the app returned something other than a list or tuple
        self.own_page = None  # own-error-pages

    # start_response -------------------------------------------------------
    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if defect("exc-info-always-raises"):
                    raise RuntimeError("exc_info given")
                if self.sent:
                    if defect("exc-info-ignored-after-headers"):
                        return self.write
                    if defect("exc-info-raises-new"):
                        raise RuntimeError("headers already sent")
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                if defect("exc-info-kept"):
                    Response.kept = exc_info
                exc_info = None
        elif self.status is not None and not defect("second-call-allowed"):
            raise AssertionError("start_response called a second time without exc_info")
        if not defect("no-sr-validation"):
            self.validate(status, headers)
        self.status = status
        self.headers = list(headers) if isinstance(headers, list) else headers
        self.length = None
        for h in (self.headers if isinstance(self.headers, list) else []):
            k, v = (h[0], h[1]) if isinstance(h, (tuple, list)) and len(h) >= 2 else (None, None)
            if isinstance(k, str) and (k == "Content-Length" if defect("content-length-case-sensitive") else k.lower() == "content-length"):
                try:
                    self.length = int(v)
                except (TypeError, ValueError):
                    self.length = None
        if defect("headers-at-start-response"):
            self.send_headers()
        if defect("no-write-callable"):
            return None
        return self.write

    def validate(self, status, headers):
        if type(status) is not str:
            raise TypeError("status must be str")
        if not re.match(r"^[1-9][0-9][0-9] [\t\x20-\x7e\x80-\xff]*$", status) or len(status) < 4:
            raise ValueError("bad status %r" % status)
        if type(headers) is not list:
            raise TypeError("response_headers must be a list")
        for h in headers:
            if type(h) is not tuple or len(h) != 2:
                raise TypeError("each header must be a (name, value) tuple")
            k, v = h
            if type(k) is not str or type(v) is not str:
                raise TypeError("header names and values must be str")
            if not k or not TCHAR.match(k.encode("latin-1", "replace")):
                raise ValueError("bad header name %r" % k)
            if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", v):
                raise ValueError("control character in header %r" % k)
            try:
                v.encode("latin-1")
            except UnicodeEncodeError:
                raise ValueError("header value not latin-1: %r" % v)
            if k.lower() in HOP_BY_HOP and not defect("hop-by-hop-passed"):
                raise ValueError("hop-by-hop header %r from the app" % k)
            if k.lower() == "content-length" and not re.match(r"^[0-9]+$", v) and not defect("no-app-length-check"):
                raise ValueError("bad Content-Length %r" % v)

    # the head -------------------------------------------------------------
    def code(self):
        try:
            return int(str(self.status)[:3])
        except ValueError:
            return 500

    def send_headers(self):
        if self.sent:
            return
        self.sent = True
        code = self.code()
        status = self.status
        if defect("reason-replaced"):
            status = "%d %s" % (code, REASONS.get(code, "Unknown"))
        if defect("own-error-pages") and code >= 400:
            self.own_page = b"broken-server error page\n"
            self.length = len(self.own_page)
        hs = self.headers if isinstance(self.headers, list) else []
        lines = []
        names = set()
        app_te = False
        for h in hs:
            try:
                k, v = h[0], h[1]
            except Exception:
                continue
            kl = str(k).lower()
            if kl == "content-length" and (defect("own-error-pages") and code >= 400):
                continue
            if kl == "content-length" and self.no_body and defect("head-drops-length"):
                continue
            names.add(kl)
            if kl == "transfer-encoding":
                app_te = True
            lines.append((k, v))
        if defect("join-repeated-headers"):
            joined = {}
            order = []
            for k, v in lines:
                key = str(k).lower()
                if key in joined:
                    joined[key] = (joined[key][0], joined[key][1] + ", " + str(v))
                else:
                    joined[key] = (k, v)
                    order.append(key)
            lines = [joined[k] for k in order]
        if "date" not in names and not defect("no-date") or defect("always-add-date-server"):
            lines.append(("Date", http_date()))
        if "server" not in names or defect("always-add-date-server"):
            lines.append(("Server", "broken-family"))
        if defect("own-error-pages") and code >= 400:
            lines.append(("Content-Length", str(self.length)))
        no_content = code in (204, 304) or code < 200
        if no_content and not defect("body-on-204-304"):
            self.no_body = True
            if code == 204 and defect("length-on-204"):
                lines.append(("Content-Length", "0"))
        elif self.no_body:
            pass
        elif self.length is not None and not (defect("chunked-with-length") and self.generator):
            pass
        elif app_te:
            pass  # hop-by-hop-passed: the app's framing header, unchunked body
        elif self.req.major_minor >= (1, 1) or defect("chunked-to-http10"):
            self.chunked = True
            lines.append(("Transfer-Encoding", "chunked"))
        else:
            self.close = True
        if self.close and (not defect("close-not-announced") and not (self.req.major_minor < (1, 1))):
            lines.append(("Connection", "close"))
        elif self.req.keepalive_10 and not self.close:
            lines.append(("Connection", "keep-alive"))
        head = "HTTP/1.1 %s\r\n" % (status,)
        for k, v in lines:
            head += "%s: %s\r\n" % (k, v)
        head += "\r\n"
        try:
            data = head.encode("latin-1")
        except (UnicodeEncodeError, TypeError):
            data = head.encode("utf-8", "surrogateescape")
        if defect("headers-utf8"):
            data = head.encode("utf-8", "surrogateescape")
        self.conn.send(data)
        if self.own_page is not None and not self.no_body:
            self.conn.send(self.own_page)
            self.written = self.length

    # the body -------------------------------------------------------------
    def write(self, data):
        if type(data) is str and defect("write-accepts-str"):
            data = data.encode("latin-1")
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("write() takes bytes, not %s" % type(data).__name__)
        if self.status is None:
            raise AssertionError("write() before start_response")
        if self.length is not None and self.written + len(data) > self.length and not defect("write-truncates-silently") and not defect("overrun-sent"):
            keep = self.length - self.written
            self.body(data[:keep])
            raise ValueError("write() past the app's Content-Length (%d)" % self.length)
        if defect("buffered-body") or defect("write-after-iterable") or defect("length-from-single-item"):
            self.held.append(bytes(data))
            return
        self.body(bytes(data))

    def body(self, data):
        """Sends one block, after the headers; False when the app's
        Content-Length is reached (stop iterating)."""
        if defect("newline-translation"):
            data = data.replace(b"\n", b"\r\n")
        if not data:
            if defect("headers-on-empty-chunk"):
                self.send_headers()
            if defect("empty-chunk-terminates") and self.sent and self.chunked:
                self.conn.send(b"0\r\n\r\n")
            return True
        self.send_headers()
        if self.own_page is not None:
            return False
        if self.length is not None and not defect("overrun-sent"):
            data = data[:max(0, self.length - self.written)]
        self.written += len(data)
        if self.no_body:
            if not defect("body-on-head") or not data:
                return self.length is None or self.written < self.length or defect("iterate-past-length")
        if data:
            if self.chunked:
                self.conn.send(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.conn.send(data)
        return self.length is None or self.written < self.length or defect("iterate-past-length") or defect("overrun-sent")

    def finish(self):
        """Ends a response whose app finished normally."""
        if defect("trailing-crlf") and self.length is None and not self.no_body and self.status is not None:
            self.body(b"\r\n")
        if not self.sent:
            if self.status is None:
                raise AssertionError("the app returned without calling start_response")
            if self.length is None and not self.chunked and not self.no_body and self.code() not in (204, 304) and self.code() >= 200:
                self.length = 0
                self.headers = list(self.headers) + [("Content-Length", "0")] if isinstance(self.headers, list) else self.headers
            self.send_headers()
        if self.chunked:
            self.conn.send(b"0\r\n\r\n")
        elif self.length is not None and self.written < self.length and not self.no_body and not defect("underrun-kept-alive"):
            raise Abort("the app sent %d of its %d octets" % (self.written, self.length))


class ClientGone(Exception):
    pass


class Conn:
    """One client connection."""

    def __init__(self, sock, addr, app, port):
        self.sock, self.addr, self.app, self.port = sock, addr, app, port
        self.rd = Reader(sock)
        self.lock = threading.Lock()
        self.pending = None  # close-exception-fatal: output held until close()

    def send(self, data):
        if self.pending is not None:
            self.pending.append(data)
            return
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError as e:
                raise ClientGone(str(e))

    def serve(self):
        while True:
            try:
                req = read_request(self.rd)
            except HTTPError as e:
                self.error(e.status, str(e))
                if defect("keep-reading-after-400") and e.status == 400:
                    continue
                return
            if req is None:
                return
            if defect("good-lost-on-bad") and self.rd.buf:
                try:
                    peek = Reader(None)
                    peek.buf = bytearray(self.rd.buf)
                    peek.eof = True
                    read_request(peek)
                except HTTPError as e:
                    self.error(e.status, str(e))
                    return
                except Exception:
                    pass
            if defect("pipeline-reorder") and self.rd.buf and req.framing[0] == "none":
                t = threading.Thread(target=self.respond, args=(req,), daemon=True)
                t.start()
                continue
            if not self.respond(req):
                return

    def error(self, status, msg):
        if defect("errors-as-500") and status < 500:
            status = 500
        body = ("%d %s: %s\n" % (status, REASONS.get(status, "Error"), msg)).encode("latin-1", "replace")
        head = "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nDate: %s\r\n" % (status, REASONS.get(status, "Error"), len(body), http_date())
        if not defect("keep-reading-after-400"):
            head += "Connection: close\r\n"
        try:
            self.send(head.encode() + b"\r\n" + body)
        except ClientGone:
            pass

    def environ(self, req, inp):
        env = SHARED_ENV if defect("shared-environ") else (EnvironSubclass() if defect("environ-subclass") else {})
        method = req.method
        if defect("method-lowercased"):
            method = method.lower()
        if defect("head-as-get") and method == "HEAD":
            method = "GET"
        path_bytes = urllib.parse.unquote_to_bytes(req.path) if req.path != "*" else b"*"
        if defect("path-utf8"):
            path = path_bytes.decode("utf-8", "replace")
        elif defect("path-not-unquoted"):
            path = req.path
        else:
            path = path_bytes.decode("latin-1")
        if defect("root-path-empty") and path == "/":
            path = ""
        if defect("path-with-query") and req.has_query:
            path += "?" + req.query
        query = req.query
        if defect("query-unquoted"):
            query = urllib.parse.unquote(query, "latin-1")
        if defect("query-keeps-mark") and req.has_query:
            query = "?" + query
        if defect("query-absent-none") and not req.has_query:
            query = "None"
        if defect("query-utf8"):
            query = query.encode("latin-1").decode("utf-8", "replace")
        env.update({
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "/" if defect("script-name-slash") else "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "" if defect("server-name-empty") else self.sock.getsockname()[0],
            "SERVER_PORT": "80" if defect("server-port-wrong") else self.port if defect("server-port-int") else str(self.port),
            "SERVER_PROTOCOL": "HTTP/1.0" if defect("protocol-as-10") else "HTTP/1.1" if defect("protocol-as-11") else req.version,
            "wsgi.version": [1, 0] if defect("wsgi-version-list") else (1, 0),
            "wsgi.url_scheme": "https" if defect("url-scheme-https") else "http",
            "wsgi.input": inp,
            "wsgi.errors": ErrorsNoWritelines() if defect("errors-no-writelines") else Errors(),
            "wsgi.multithread": 1 if defect("flags-int") else True,
            "wsgi.multiprocess": 0 if defect("flags-int") else False,
            "wsgi.run_once": True if defect("run-once-true") else (0 if defect("flags-int") else False),
            "wsgi.file_wrapper": FileWrapper,
            "wsgi.input_terminated": True,
        })
        if defect("no-run-once"):
            del env["wsgi.run_once"]
        if not defect("no-remote-addr"):
            env["REMOTE_ADDR"] = self.addr[0]
        env["REMOTE_PORT"] = str(self.addr[1])
        if defect("bad-extension-key"):
            env["Broken-Key.x"] = "1"
        if defect("invented-header"):
            env["HTTP_X_BROKEN"] = "1"
        seen = {}
        fields = list(req.fields) + list(getattr(req, "trailers", []))
        for name, value in fields:
            sname = name.decode("latin-1")
            if defect("header-utf8"):
                svalue = value.decode("utf-8", "replace")
            else:
                svalue = value.decode("latin-1")
            if defect("obs-text-stripped"):
                svalue = svalue.strip()
            if svalue == "" and defect("empty-header-dropped"):
                continue
            if "_" in sname and not defect("underscore-headers") and not defect("script-name-from-header"):
                continue
            lname = sname.lower()
            if lname == "content-length" and not defect("http-content-keys"):
                if req.framing[0] != "chunked":
                    env["CONTENT_LENGTH"] = int(svalue) if defect("content-length-int") and svalue.isdigit() else svalue
                    if defect("content-length-wraps"):
                        env["CONTENT_LENGTH"] = str(req.framing[1])
                continue
            if lname == "content-type" and not defect("http-content-keys"):
                if not defect("content-type-dropped"):
                    env["CONTENT_TYPE"] = svalue
                continue
            if lname == "content-length":
                env["CONTENT_LENGTH"] = svalue
            if lname == "content-type":
                env["CONTENT_TYPE"] = svalue
            if defect("script-name-from-header") and sname == "SCRIPT_NAME":
                env["SCRIPT_NAME"] = svalue
                continue
            if defect("remote-user-from-auth") and lname == "authorization":
                env["REMOTE_USER"] = "user"
            raw_name = defect("header-names-raw") and not is_probe_field(name)
            key = "HTTP_" + (sname if raw_name else sname.upper()).replace("-", "_")
            if defect("underscore-headers") and key == "HTTP_CONTENT_LENGTH" and "_" in sname:
                env["CONTENT_LENGTH"] = svalue
                continue
            if key in seen and not defect("duplicate-last-wins"):
                env[key] = env[key] + ", " + svalue
            else:
                env[key] = svalue
            seen[key] = True
        if req.host_from_target is not None and not defect("absolute-form-raw"):
            env["HTTP_HOST"] = req.host_from_target
        if "CONTENT_TYPE" not in env and defect("content-type-default"):
            env["CONTENT_TYPE"] = "text/plain"
        if "CONTENT_LENGTH" not in env and defect("content-length-zero-default"):
            env["CONTENT_LENGTH"] = "0"
        return env

    def respond(self, req):
        """Serves one request; False when the connection must end."""
        rd = self.rd
        kind, n = req.framing
        if kind == "length":
            body = LengthBody(rd, n)
        elif kind == "chunked":
            body = ChunkedBody(rd, req)
            if defect("chunked-not-decoded"):
                body = RawChunked(body)
        elif kind == "close":
            body = CloseBody(rd)
        else:
            body = LengthBody(rd, 0)
        resp = Response(self, req)
        state = {"continued": False}

        def on_first_read():
            if req.expect and not state["continued"] and kind != "none":
                state["continued"] = True
                self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if defect("trailers-merged") and kind == "chunked":
            try:
                body = BufferedBody(body.read(1 << 30))
            except BodyError:
                pass
        inp = Input(body, on_first_read) if defect("input-no-readlines") else FullInput(body, on_first_read)
        if STATE["down"]:
            self.error(503, "the server stopped serving")
            return False
        env = self.environ(req, inp)
        _tls.wrappers = []
        result = None
        if defect("close-exception-fatal"):
            self.pending = []
        try:
            try:
                result = self.call_app(env, resp)
                self.run(result, resp, req)
            finally:
                closed = self.close_result(result, env)
                held, self.pending = self.pending, None
                if not closed:
                    return False  # the response is lost with the server
                for data in held or []:
                    self.send(data)
        except ClientGone:
            return False
        except Abort as e:
            sys.stderr.write("broken_server: response aborted: %s\n" % e)
            return False
        except Exception as e:
            traceback.print_exc()
            if defect("die-after-app-error"):
                STATE["down"] = True
            if resp.sent:
                if defect("finish-after-error"):
                    if resp.chunked:
                        self.send(b"0\r\n\r\n")
                    return True
                return False  # abort: the client sees the framing cut
            status = 500
            if getattr(body, "broken", False) and not defect("body-error-500"):
                status = 400
            if defect("app-error-200") and resp.status is None:
                try:
                    self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: %s\r\n\r\n" % http_date().encode())
                except ClientGone:
                    return False
                return not getattr(body, "broken", False)
            self.error(status, "%s: %s" % (type(e).__name__, e))
            return False
        if req.expect and not state["continued"] and not inp.used:
            if defect("stray-100"):
                try:
                    self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except ClientGone:
                    return False
            else:
                return False  # the client may or may not send the body: close
        if resp.close or req.close or getattr(body, "broken", False):
            if defect("short-body-waits") and kind == "length":
                self.hold()
            return False
        if resp.no_body and req.method == "HEAD" and defect("close-after-head"):
            return False
        if defect("unread-body-kept") or defect("tecl-reads-on") and req.tecl:
            return True
        # Drain what the app left of the body, then read the next request.
        try:
            while not body.done():
                if not body.read(65536):
                    break
        except BodyError:
            return False
        if defect("short-body-waits") and rd.eof:
            self.hold()
        return not body.broken and not rd.eof

    def hold(self):
        """short-body-waits: keep the connection open (the client's FIN
        already came, so only time ends it)."""
        time.sleep(30)

    def call_app(self, env, resp):
        sr = resp.start_response
        if defect("exc-info-keyword-only"):
            def sr(status, headers, *, exc_info=None):
                return resp.start_response(status, headers, exc_info)
        if defect("keyword-call"):
            result = self.app(environ=env, start_response=sr)
        else:
            result = self.app(env, sr)
        if defect("app-called-twice"):
            close = getattr(result, "close", None)
            if close is not None:
                close()
            resp.status = None
            result = self.app(env, sr)
        return result

    def run(self, result, resp, req):
        """Iterates the app's result and sends it."""
        if defect("sniffs-iterable"):
            getattr(result, "fileno", None)
        if isinstance(result, (bytes, str)) or result is None or not hasattr(result, "__iter__") and not hasattr(result, "__getitem__"):
            if defect("bad-return-200"):
                resp.status = resp.status or "200 OK"
                resp.headers = resp.headers if isinstance(resp.headers, list) else []
                resp.generator = False
                if isinstance(result, bytes):
                    resp.body(result)
                resp.finish()
                return
            raise TypeError("the app must return an iterable of bytes, not %s" % type(result).__name__)
        resp.generator = not isinstance(result, (list, tuple))
        if defect("length-from-single-item") and resp.held and isinstance(result, (list, tuple)) and len(result) == 1 and resp.length is None:
            resp.length = len(result[0])
            resp.headers = list(resp.headers) + [("Content-Length", str(resp.length))]
        if resp.status is None and defect("start-response-required-first"):
            raise AssertionError("start_response was not called before the app returned")
        for w in getattr(_tls, "wrappers", []):
            if w is not result and defect("fw-sent-when-created"):
                resp.extra = w
        is_fw = isinstance(result, FileWrapper)
        if is_fw and defect("fw-ignores-length"):
            resp.length = None
            resp.headers = [(k, v) for k, v in resp.headers if k.lower() != "content-length"]
        if req.method == "HEAD" and not defect("body-on-head"):
            if resp.status is None:
                for chunk in result:
                    if chunk:
                        break
            resp.finish()
            return
        if not defect("write-after-iterable") and not defect("buffered-body"):
            held, resp.held = resp.held, []
            for h in held:
                if not resp.body(h):
                    break
        for chunk in result:
            if resp.status is None:
                if defect("no-start-is-200"):
                    resp.status = "200 OK"
                    resp.headers = []
                else:
                    raise AssertionError("the app yielded before calling start_response")
            if type(chunk) is not bytes:
                if defect("str-items-encoded"):
                    if chunk is None:
                        continue
                    chunk = str(chunk).encode("latin-1", "replace")
                else:
                    raise TypeError("the app yielded %s, not bytes" % type(chunk).__name__)
            if defect("buffered-body"):
                resp.held.append(chunk)
                continue
            if not resp.body(chunk):
                break
        extra = getattr(resp, "extra", None)
        if extra is not None:
            for chunk in extra:
                resp.body(chunk)
        if resp.status is None and defect("no-start-is-200"):
            resp.status, resp.headers = "200 OK", []
        for h in resp.held:
            resp.body(h)
        resp.held = []
        resp.finish()

    def close_result(self, result, env):
        """Calls the result's close(); False when close-exception-fatal
        takes the server down."""
        if defect("never-close") or result is None:
            return True
        target = result
        if defect("close-iter-not-result"):
            try:
                target = iter(result)
            except TypeError:
                return True
        close = getattr(target, "close", None)
        if close is None:
            return True
        try:
            close()
        except Exception:
            traceback.print_exc()
            if defect("close-exception-fatal"):
                STATE["down"] = True
                return False
        return True


def handle(sock, addr, app, port):
    c = Conn(sock, addr, app, port)
    try:
        sock.settimeout(60)
        c.serve()
    except Exception:
        traceback.print_exc()
    finally:
        lingering_close(sock)


def lingering_close(sock):
    """Closes after sending FIN and draining what the client still sends, so
    the kernel does not answer unread bytes with a reset that could destroy
    the response in flight."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def main():
    global _defect
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--appdir")
    ap.add_argument("--defect", default="", help="the one violation to commit (see --list-defects)")
    ap.add_argument("--list-defects", action="store_true")
    ap.add_argument("--die-after", type=int, default=0, help="exit after this many connections (0: never)")
    ap.add_argument("--gap-after", type=int, default=0,
                    help="after this many connections, stop listening for a second, as a server respawning a crashed worker does (0: never)")
    ap.add_argument("app", nargs="?")
    a = ap.parse_args()
    if a.list_defects:
        for name, what in DEFECTS.items():
            print("%s\t%s" % (name, what))
        return
    if a.defect and a.defect not in DEFECTS:
        ap.error("unknown defect %r (see --list-defects)" % a.defect)
    _defect = a.defect
    sys.path.insert(0, a.appdir)
    mod, _, attr = a.app.partition(":")
    app = getattr(importlib.import_module(mod), attr or "application")

    def listen():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.host, a.port))
        s.listen(64)
        return s

    s = listen()
    served = 0
    handlers = []
    while True:
        if a.die_after and served >= a.die_after:
            for t in handlers:  # the connections taken are served whole
                t.join(30)
            sys.stderr.write("broken_server: exiting after %d connections\n" % served)
            sys.stderr.flush()
            sys.exit(7)
        if a.gap_after and served == a.gap_after:
            sys.stderr.write("broken_server: not listening for a second after %d connections\n" % served)
            s.close()
            time.sleep(1)
            s = listen()
        conn, addr = s.accept()
        served += 1
        t = threading.Thread(target=handle, args=(conn, addr, app, a.port), daemon=True)
        t.start()
        if a.die_after:
            handlers.append(t)


if __name__ == "__main__":
    main()
