package pep3333

import (
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/textutil"
)

const alphabet = "abcdefghijklmnopqrstuvwxyz"

// fwRun sends the fw behaviour; present is false when the server has no
// wsgi.file_wrapper (the spec is then UNSUPPORTED).
func fwRun(t *f.T, method string, args A) (*f.Exchange, bool) {
	x := t.Do(f.Req{Method: method, Do: "fw", Args: args})
	ev, ok := t.Sink.WaitEv(x.ID, f.EventTimeout, "fw")
	if !ok {
		t.Fatalf("no fw event: %s", x.Summary())
	}
	return x, ev.Bool("present")
}

func fwSpec(id, level, sentence, stimulus, method string, args A, pass, fail string, check func(t *f.T, x *f.Exchange) bool) *f.Spec {
	return &f.Spec{
		ID: "pep3333/file_wrapper/" + id, Level: level, Section: secFW, Sentence: sentence, Stimulus: stimulus,
		Outcomes: []f.Outcome{f.Pass("ok", pass), f.Violation(level, "wrong", fail), f.Unsupported("absent", "no wsgi.file_wrapper")},
		Run: func(t *f.T) f.Result {
			x, present := fwRun(t, method, args)
			if !present {
				return f.Out("absent", "wsgi.file_wrapper not in environ")
			}
			if check(t, x) {
				return f.Out("ok", "%s", x.Summary())
			}
			return f.Out("wrong", "%s", x.Summary())
		},
	}
}

func bodyIs(want string) func(t *f.T, x *f.Exchange) bool {
	return func(t *f.T, x *f.Exchange) bool {
		return x.Status() == 200 && string(x.Resp.Body) == want && x.Resp.Complete
	}
}

func fileWrapperSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/file_wrapper/present", Level: f.MAY, Section: secFW,
			Sentence: "Servers may provide wsgi.file_wrapper, an optional platform-specific file handling facility.",
			Stimulus: "The probe checks environ['wsgi.file_wrapper'].",
			Outcomes: []f.Outcome{f.Info("present", "provided"), f.Unsupported("absent", "not provided")},
			Run: func(t *f.T) f.Result {
				x, present := fwRun(t, "GET", A{})
				if present {
					return f.Out("present", "%s", x.Summary())
				}
				return f.Out("absent", "no wsgi.file_wrapper")
			},
		},
		fwSpec("real-file", f.MUST, "The wrapper is callable with a file-like object and returns an iterable that transmits the file.",
			"return wsgi.file_wrapper(open temp file with 26 bytes)", "GET", A{"src": "file"}, "body is the file content", "body differs", bodyIs(alphabet)),
		fwSpec("blksize", f.MUST, "wsgi.file_wrapper(filelike, block_size) — the optional second positional argument is accepted.",
			"wsgi.file_wrapper(f, 4)", "GET", A{"src": "file", "blksize": 4}, "body is the file content", "error or wrong body", bodyIs(alphabet)),
		fwSpec("bytesio", f.MUST, "The wrapper works for file-like objects without fileno() (e.g. BytesIO): the server must fall back to iteration.",
			"wsgi.file_wrapper(BytesIO(...))", "GET", A{"src": "bytesio"}, "body is the content", "error or wrong body", bodyIs(alphabet)),
		fwSpec("read-only-object", f.MUST, "A file-like object need only have read() (and optionally close()).",
			"wsgi.file_wrapper(object with only read() and close())", "GET", A{"src": "readonly"}, "body is the content", "error or wrong body", bodyIs(alphabet)),
		fwSpec("not-returned", f.MUST, "The server must not transmit anything from the wrapper unless the application returns it (middleware may discard it).",
			"create wsgi.file_wrapper(f) but return [b'other']", "GET", A{"src": "file", "ret": "other"}, "body 'other' only", "file data sent", bodyIs("other")),
		fwSpec("consumed-by-middleware", f.MUST, "A wrapper iterated by middleware (the app returns a generator over it) is an ordinary iterable.",
			"return a generator that iterates the wrapper", "GET", A{"src": "file", "ret": "consume"}, "body is the file content", "error or wrong body", bodyIs(alphabet)),
		fwSpec("file-position", f.SHOULD, "Transmission should begin at the file's current position.",
			"f.seek(10); return wsgi.file_wrapper(f) with Content-Length 16", "GET", A{"src": "file", "seek": 10, "cl": 16}, "body is content[10:]", "body starts elsewhere", bodyIs(alphabet[10:])),
		fwSpec("content-length-limit", f.SHOULD, "… and continue until the end of the file or Content-Length is reached (no more than Content-Length bytes).",
			"26-byte file, Content-Length: 13", "GET", A{"src": "file", "cl": 13}, "first 13 bytes only", "more or fewer bytes", bodyIs(alphabet[:13])),
		fwSpec("content-length-limit-bytesio", f.SHOULD, "… and continue until the end of the file or Content-Length is reached (also on the iteration path).",
			"26-byte BytesIO, Content-Length: 13", "GET", A{"src": "bytesio", "cl": 13}, "first 13 bytes only", "more or fewer bytes", bodyIs(alphabet[:13])),
		{
			ID: "pep3333/file_wrapper/head", Level: f.MUST, Section: secFW,
			Sentence: "HEAD with a file_wrapper: no body bytes (RFC 9110 §9.3.2).",
			Stimulus: "HEAD; return wsgi.file_wrapper(f) with Content-Length: 26; a GET is pipelined behind.",
			Outcomes: []f.Outcome{f.Pass("ok", "no body bytes; the next response intact (or the connection closed)"), f.Fail("wrong", "body bytes sent"), f.Unsupported("absent", "no wsgi.file_wrapper")},
			Run: func(t *f.T) f.Result {
				x, r2 := pipelinedReq(t, f.Req{Method: "HEAD", Do: "fw", Args: A{"src": "file", "cl": 26}})
				if ev, ok := t.Sink.Find(x.ID, "fw"); ok && !ev.Bool("present") {
					return f.Out("absent", "wsgi.file_wrapper not in environ")
				}
				mustRespond(t, x)
				switch {
				case x.Status() != 200:
					return f.Out("wrong", "%s", x.Summary())
				case r2 != nil && !hello(r2):
					return f.Out("wrong", "next response: %s", r2.Summary())
				case r2 == nil && len(x.Conn.Unread()) > 0:
					return f.Out("wrong", "bytes after the HEAD response: %q", textutil.Head(x.Conn.Unread(), 60))
				}
				return f.Out("ok", "%s; next %s", x.Resp.StatusLine, r2.Summary())
			},
		},
		{
			ID: "pep3333/file_wrapper/closes-file", Level: f.MUST, Section: secFW,
			Sentence: "If the file-like object has a close() method, the returned object must have a close() method that calls the original's close(); the server calls it.",
			Stimulus: "wsgi.file_wrapper(f) over a file whose close() is reported.",
			Outcomes: []f.Outcome{f.Pass("closed", "the file's close() was called"), f.Fail("not-closed", "never closed"), f.Unsupported("absent", "no wsgi.file_wrapper")},
			Run: func(t *f.T) f.Result {
				x, present := fwRun(t, "GET", A{"src": "bytesio"})
				if !present {
					return f.Out("absent", "no wsgi.file_wrapper")
				}
				if _, ok := t.Sink.WaitEv(x.ID, 5*time.Second, "file_close"); ok {
					return f.Out("closed", "ok")
				}
				return f.Out("not-closed", "%s", x.Summary())
			},
		},
		{
			ID: "pep3333/file_wrapper/content-length-generated", Level: f.MAY, Section: secFW,
			Sentence: "A server may generate Content-Length from the file.",
			Stimulus: "wsgi.file_wrapper(real file) without Content-Length.",
			Outcomes: []f.Outcome{f.Info("content-length", "Content-Length sent"), f.Info("other", "chunked or close"), f.Unsupported("absent", "no wsgi.file_wrapper")},
			Run: func(t *f.T) f.Result {
				x, present := fwRun(t, "GET", A{"src": "file"})
				if !present {
					return f.Out("absent", "no wsgi.file_wrapper")
				}
				if x.Resp != nil && x.Resp.Framing == f.FramingLength {
					return f.Out("content-length", "%s", x.Resp.Summary())
				}
				return f.Out("other", "%s", x.Summary())
			},
		},
	}
}
