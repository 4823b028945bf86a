package pep3333

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/textutil"
)

// readResult is one wsgi.input operation's result as the probe reports it.
type readResult struct {
	T     string `json:"t"`
	B     string `json:"b"`
	N     int    `json:"n"`
	R     string `json:"r"`
	SHA   string `json:"sha256"`
	Items []struct {
		T string `json:"t"`
		B string `json:"b"`
	} `json:"items"`
	Error map[string]string `json:"error"`
}

func (r readResult) bytes() []byte {
	b, _ := base64.StdEncoding.DecodeString(r.B)
	return b
}

func (r readResult) lines() [][]byte {
	var out [][]byte
	for _, it := range r.Items {
		b, _ := base64.StdEncoding.DecodeString(it.B)
		out = append(out, b)
	}
	return out
}

func (r readResult) String() string {
	switch {
	case r.Error != nil:
		return fmt.Sprintf("raised %s(%s)", r.Error["type"], r.Error["msg"])
	case r.T == "list":
		return fmt.Sprintf("%q", r.lines())
	case r.SHA != "":
		return fmt.Sprintf("%d bytes sha256 %s", r.N, r.SHA[:12])
	case r.B != "" || r.T == "bytes":
		b := r.bytes()
		if len(b) > 64 {
			return fmt.Sprintf("%s %q… (%d bytes)", r.T, b[:64], len(b))
		}
		return fmt.Sprintf("%s %q", r.T, b)
	}
	return r.T + " " + r.R
}

type inputDump struct {
	Results []readResult `json:"results"`
	Environ f.Env        `json:"environ"`
}

// inputReq builds a POST to the input behaviour.
func inputReq(body []byte, ops ...[]any) f.Req {
	return f.Req{Method: "POST", Do: "input", Body: body, Args: map[string]any{"ops": ops}}
}

func op(name string, args ...any) []any { return append([]any{name}, args...) }

// runInput sends req and decodes the probe's results; nil if no 200.
func runInput(t *f.T, req f.Req) (*inputDump, *f.Exchange) {
	x := t.Do(req)
	if x.Resp == nil || x.Resp.Status != 200 {
		return nil, x
	}
	var d inputDump
	if err := json.Unmarshal(x.Resp.Body, &d); err != nil {
		return nil, x
	}
	return &d, x
}

func inputSpec(id, level, sentence, stimulus string, req f.Req, outs []f.Outcome, check func(t *f.T, d *inputDump, x *f.Exchange) f.Result) *f.Spec {
	outs = append(outs, f.NonStrict("blocked", "a read that should have hit the end of the body blocked instead (no EOF simulation: a SHOULD)"))
	return &f.Spec{
		ID: "pep3333/input/" + id, Level: level, Section: secInput, Sentence: sentence, Stimulus: stimulus, Outcomes: outs,
		Run: func(t *f.T) f.Result {
			d, x := runInput(t, req)
			if d == nil {
				if op := blockedOp(t, x.ID); op != "" {
					return f.Out("blocked", "%s blocked; %s", op, x.Summary())
				}
			}
			return check(t, d, x)
		},
	}
}

// blockedOp names the wsgi.input call that started and never returned.
func blockedOp(t *f.T, id string) string {
	pending := ""
	for _, e := range t.Sink.Events(id) {
		switch e.Ev {
		case "reading":
			pending = e.Str("op")
		case "read":
			pending = ""
		}
	}
	return pending
}

func mustDump(t *f.T, d *inputDump, x *f.Exchange, n int) {
	if d == nil {
		t.Fatalf("input probe failed: %s", x.Summary())
	}
	if len(d.Results) < n {
		t.Fatalf("input probe returned %d results, want %d", len(d.Results), n)
	}
}

// inputSpecs: wsgi.input (Input and Error Streams), a function per concern.
func inputSpecs() []*f.Spec {
	return slices.Concat(readSpecs(), lineSpecs(), integritySpecs(), chunkedInputSpecs(), bodyFramingSpecs(), expectSpecs())
}

// blockedWait is how long a read past CONTENT_LENGTH may take before it
// counts as blocked. A server that simulates the end of the body returns
// empty bytes from within the call; one that reads the socket waits for
// bytes the client never sends, however long the suite waits. Only a
// server taking 3 s to return empty bytes could be misjudged.
const blockedWait = 3 * time.Second

// readSpecs: read(size) and read(), and the end of the body.
func readSpecs() []*f.Spec {
	return []*f.Spec{
		inputSpec("read-size", f.MUST,
			"read(size): … returns at most size bytes, as bytes.",
			"POST 'hello world'; read(5), read(6)", inputReq([]byte("hello world"), op("read", 5), op("read", 6)),
			[]f.Outcome{f.Pass("exact", "b'hello', b' world'"), f.Fail("wrong", "other results")},
			func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
				mustDump(t, d, x, 2)
				r0, r1 := d.Results[0], d.Results[1]
				if r0.T == "bytes" && string(r0.bytes()) == "hello" && r1.T == "bytes" && string(r1.bytes()) == " world" {
					return f.Out("exact", "%s, %s", r0, r1)
				}
				return f.Out("wrong", "%s, %s", r0, r1)
			}),
		inputSpec("read-no-argument", f.SHOULD,
			"The server should allow read() to be called without an argument, and return the entire remainder of the client's input stream.",
			"POST 'hello world'; read()", inputReq([]byte("hello world"), op("read")),
			[]f.Outcome{f.Pass("whole", "b'hello world'"), f.NonStrict("other", "error or partial")},
			resultIs(0, "hello world", "whole", "other")),
		readInfo("read-minus-one", "read(-1) behaves like read() under io semantics (PEP silent).", op("read", -1)),
		readInfo("read-none", "read(None) behaves like read() under io semantics (PEP silent).", op("read", map[string]any{"none": 1})),
		readInfo("read-zero", "read(0) returns b'' (io semantics; PEP silent).", op("read", 0)),
		&f.Spec{
			ID: "pep3333/input/eof-at-content-length", Level: f.SHOULD, Section: secInput,
			Sentence: "A server should simulate an end-of-file condition if the application attempts to read past the end of CONTENT_LENGTH.",
			Stimulus: "POST 'hello' (Content-Length 5), connection left open; read(5) then read(100).",
			Outcomes: []f.Outcome{f.Pass("eof", "read(100) returns b'' at once"), f.NonStrict("blocked", "read(100) blocks waiting for more bytes (3 s)"), f.NonStrict("other", "another result")},
			Run: func(t *f.T) f.Result {
				id := t.NewID()
				c := t.Dial()
				req := inputReq([]byte("hello"), op("read", 5), op("read", 100))
				req.ID = id
				_ = c.Send(req.Build(t.Host()))
				var last f.Event
				for i := 0; i < 2; i++ {
					ev, ok := t.Sink.Wait(id, blockedWait, func(e f.Event) bool { return e.Ev == "read" && e.Seq > last.Seq })
					if !ok {
						if i == 0 {
							t.Fatalf("first read(5) never returned")
						}
						return f.Out("blocked", "read(100) still blocked after %s", blockedWait)
					}
					last = ev
				}
				if last.Str("t") == "bytes" && last.Int("n") == 0 {
					return f.Out("eof", "read(100) -> b''")
				}
				return f.Out("other", "read(100) -> %v", last)
			},
		},
		&f.Spec{
			ID: "pep3333/input/no-read-into-next-request", Level: f.MUST, Section: secInput,
			Sentence: "Reading past CONTENT_LENGTH must never consume the bytes of the next pipelined request (HTTP framing).",
			Stimulus: "POST 'hello' (Content-Length 5) and a pipelined GET in the same write; the app calls read(5), read(100).",
			Outcomes: []f.Outcome{f.Pass("isolated", "read(100) -> b'' and the GET is answered"), f.Pass("closed", "read(100) -> b'', server closed after a response announcing close"), f.NonStrict("dropped", "the GET was never answered though no close was announced"), f.Fail("consumed", "the app read bytes of the next request"),
				collapsedOutcome},
			Run: func(t *f.T) f.Result {
				req := inputReq([]byte("hello"), op("read", 5), op("read", 100))
				req.ID = t.NewID()
				id2 := t.NewID()
				raw := append(req.Build(t.Host()), f.Req{ID: id2, Do: "hello"}.Build(t.Host())...)
				c := t.Dial()
				_ = c.Send(raw)
				r1, err := c.ReadResponse("POST", f.ReadTimeout)
				if err != nil || r1.Status != 200 {
					t.Fatalf("first response: %v %s", err, r1.Summary())
				}
				if t.Collapsed(req.ID, id2) {
					return f.Out("collapsed", "the only response, %s, is the GET's", r1.StatusLine)
				}
				var d inputDump
				if json.Unmarshal(r1.Body, &d) != nil || len(d.Results) < 2 {
					t.Fatalf("bad input dump")
				}
				if len(d.Results[1].bytes()) > 0 {
					return f.Out("consumed", "read(100) -> %s", d.Results[1])
				}
				r2, err := c.ReadResponse("GET", f.ReadTimeout)
				if err != nil {
					if r1.AnnouncedClose() {
						return f.Out("closed", "no second response (%s)", c.State())
					}
					return f.Out("dropped", "no second response (%s)", c.State())
				}
				if r2.Status == 200 && string(r2.Body) == "Hello, World!" {
					return f.Out("isolated", "second response %s", r2.StatusLine)
				}
				return f.Out("consumed", "second response %s", r2.Summary())
			},
		},
	}
}

// lineSpecs: readline, readlines and iteration, line by line.
func lineSpecs() []*f.Spec {
	abc := []byte("ab\ncd\nef")
	return []*f.Spec{
		inputSpec("empty-stream", f.SHOULD,
			"An empty or exhausted stream returns b'' from read and readline, [] from readlines.",
			"POST with no body (Content-Length 0); read(), readline(), readlines()",
			f.Req{Method: "POST", Do: "input", Headers: []string{"Content-Length: 0"}, Args: map[string]any{"ops": [][]any{op("read"), op("readline"), op("readlines")}}},
			[]f.Outcome{f.Pass("empty", "b'', b'', []"), f.NonStrict("other", "errors or other values")},
			func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
				mustDump(t, d, x, 3)
				r := d.Results
				if r[0].T == "bytes" && r[0].N == 0 && r[1].T == "bytes" && r[1].N == 0 && r[2].T == "list" && len(r[2].Items) == 0 {
					return f.Out("empty", "ok")
				}
				return f.Out("other", "%s; %s; %s", r[0], r[1], r[2])
			}),
		inputSpec("readline", f.MUST,
			"readline(): returns one line, including its b'\\n'.",
			"POST 'ab\\ncd\\nef'; readline()", inputReq(abc, op("readline")),
			[]f.Outcome{f.Pass("line", "b'ab\\n'"), f.Fail("other", "another value")},
			resultIs(0, "ab\n", "line", "other")),
		inputSpec("readline-size", f.SHOULD,
			"Servers should support the optional \"size\" argument to readline(), but as in WSGI 1.0, they are allowed to omit support for it.",
			"POST 'ab\\ncd\\nef'; readline(), readline(1)", inputReq(abc, op("readline"), op("readline", 1)),
			[]f.Outcome{f.Pass("honoured", "b'c'"), f.NonStrict("unsupported", "TypeError or size ignored")},
			resultIs(1, "c", "honoured", "unsupported")),
		inputSpec("readline-long", f.MUST,
			"readline() returns exactly the remaining line: a 10 000-byte body without newline comes back whole, nothing more (uWSGI#1412 returned extra bytes).",
			"POST 10000 × 'x' (no newline); readline(), read()", inputReq(bytes.Repeat([]byte("x"), 10000), op("readline"), op("read")),
			[]f.Outcome{f.Pass("exact", "the whole body once"), f.Fail("wrong", "short, long or repeated bytes")},
			func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
				mustDump(t, d, x, 2)
				got := append(d.Results[0].bytes(), d.Results[1].bytes()...)
				if bytes.Equal(got, bytes.Repeat([]byte("x"), 10000)) {
					return f.Out("exact", "%d + %d bytes", len(d.Results[0].bytes()), len(d.Results[1].bytes()))
				}
				return f.Out("wrong", "%s then %s", d.Results[0], d.Results[1])
			}),
		inputSpec("readlines", f.MUST,
			"readlines(hint): returns a list of lines (bytes).",
			"POST 'ab\\ncd\\nef'; readlines()", inputReq(abc, op("readlines")),
			[]f.Outcome{f.Pass("lines", "[b'ab\\n', b'cd\\n', b'ef']"), f.Fail("other", "another value")},
			abcLines),
		inputSpec("readlines-hint", f.MUST,
			"readlines(hint): the hint argument is accepted (the implementation may ignore it).",
			"POST 'ab\\ncd\\nef'; readlines(2), read()", inputReq(abc, op("readlines", 2), op("read")),
			[]f.Outcome{f.Pass("accepted", "lines returned, remainder consistent"), f.Fail("error", "TypeError or inconsistent data")},
			func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
				mustDump(t, d, x, 2)
				if d.Results[0].Error != nil {
					return f.Out("error", "%s", d.Results[0])
				}
				got := append(bytes.Join(d.Results[0].lines(), nil), d.Results[1].bytes()...)
				if bytes.Equal(got, abc) && len(d.Results[0].lines()) >= 1 {
					return f.Out("accepted", "%s + %s", d.Results[0], d.Results[1])
				}
				return f.Out("error", "%s + %s", d.Results[0], d.Results[1])
			}),
		inputSpec("iterate", f.MUST,
			"__iter__(): the input stream is iterable, yielding lines as bytes.",
			"POST 'ab\\ncd\\nef'; list(wsgi.input)", inputReq(abc, op("iter")),
			[]f.Outcome{f.Pass("lines", "[b'ab\\n', b'cd\\n', b'ef']"), f.Fail("other", "another value")},
			abcLines),
	}
}

// integritySpecs: the body arrives byte-exact, whatever its bytes and size.
func integritySpecs() []*f.Spec {
	mixed := append(bytes.Repeat(func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}(), 4), []byte("\r\n\x00\n")...)
	return []*f.Spec{
		inputSpec("mixed-binary", f.MUST,
			"Mixed read/readline calls are consistent and binary-transparent.",
			"POST bytes(range(256))*4 + b'\\r\\n\\x00\\n'; read(3), readline(), read(7), read(rest)",
			inputReq(mixed, op("read", 3), op("readline"), op("read", 7), op("read", len(mixed)-18)),
			[]f.Outcome{f.Pass("exact", "concatenation equals the body"), f.Fail("corrupt", "bytes lost, added or changed")},
			func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
				mustDump(t, d, x, 4)
				var got []byte
				for _, r := range d.Results {
					got = append(got, r.bytes()...)
				}
				if bytes.Equal(got, mixed) {
					return f.Out("exact", "%d bytes", len(got))
				}
				return f.Out("corrupt", "got %d bytes, want %d; first readline %s", len(got), len(mixed), d.Results[1])
			}),
		func() *f.Spec {
			body := make([]byte, 4<<20)
			rand.New(rand.NewSource(3333)).Read(body)
			sum := sha256.Sum256(body)
			want := hex.EncodeToString(sum[:])
			req := f.Req{Method: "POST", Do: "input", Body: body, Args: map[string]any{"ops": [][]any{op("chunks", 65536)}, "digest": true}}
			return inputSpec("large-body", f.MUST,
				"Large bodies arrive exactly (no truncation, no corruption).",
				"POST 4 MiB of random bytes; the app reads 64 KiB pieces until b'' and hashes them", req,
				[]f.Outcome{f.Pass("exact", "SHA-256 matches"), f.Fail("corrupt", "length or hash differs")},
				func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
					mustDump(t, d, x, 1)
					if d.Results[0].SHA == want {
						return f.Out("exact", "%s", d.Results[0])
					}
					return f.Out("corrupt", "%s, want %d bytes sha256 %s", d.Results[0], len(body), want[:12])
				})
		}(),
	}
}

// chunkedInputSpecs: a chunked request body, decoded for the app (Other HTTP
// Features), and how its length is told.
func chunkedInputSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/input/chunked-request", Level: f.MUST, Section: secOther,
			Sentence: "WSGI servers must handle any supported inbound \"hop-by-hop\" headers on their own, such as by decoding any inbound Transfer-Encoding, including chunked encoding if applicable.",
			Stimulus: "POST Transfer-Encoding: chunked '5\\r\\nhello\\r\\n6\\r\\n world\\r\\n0\\r\\n\\r\\n'; the app reads 64-byte pieces until b''.",
			Outcomes: []f.Outcome{f.Pass("decoded", "the app reads b'hello world'"), f.NonStrict("refused", "411/501 (or another 4xx) without invoking the app"), f.Fail("wrong", "the app sees b'' or raw chunk syntax")},
			Run: func(t *f.T) f.Result {
				req := f.Req{Method: "POST", Do: "input", Headers: []string{"Transfer-Encoding: chunked"}, Body: []byte("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), Args: map[string]any{"ops": [][]any{op("chunks", 64)}}}
				d, x := runInput(t, req)
				if d == nil {
					// The app's call would be on record before the refusal.
					if x.Resp != nil && x.Resp.Status >= 400 && x.Resp.Status < 500 && !t.Sink.Has(x.ID, "call") {
						return f.Out("refused", "%s", x.Summary())
					}
					return f.Out("wrong", "%s", x.Summary())
				}
				if string(d.Results[0].bytes()) == "hello world" {
					return f.Out("decoded", "%s", d.Results[0])
				}
				return f.Out("wrong", "%s", d.Results[0])
			},
		},
		&f.Spec{
			ID: "pep3333/input/chunked-content-length", Level: f.INFO, Section: secInput,
			Sentence: "With a chunked request CONTENT_LENGTH is absent, or the de-chunked length (RFC 9112 §7.1.3); wsgi.input_terminated tells frameworks to read to EOF.",
			Stimulus: "POST Transfer-Encoding: chunked 'hello world' in two chunks; record CONTENT_LENGTH and wsgi.input_terminated.",
			Outcomes: []f.Outcome{f.Info("recorded", "values recorded"), f.Info("refused", "chunked request refused")},
			Run: func(t *f.T) f.Result {
				req := f.Req{Method: "POST", Do: "input", Headers: []string{"Transfer-Encoding: chunked"}, Body: []byte("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), Args: map[string]any{"ops": [][]any{op("chunks", 64)}}}
				d, x := runInput(t, req)
				if d == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				return f.Out("recorded", "%s, %s", d.Environ.Show("CONTENT_LENGTH"), d.Environ.Show("wsgi.input_terminated"))
			},
		},
		&f.Spec{
			ID: "pep3333/input/chunked-terminated-flag", Level: f.INFO, Section: secInput,
			Sentence: "De-facto extension (mitsuhiko's wsgi.input_terminated): when a body is exposed without a trustworthy CONTENT_LENGTH, wsgi.input_terminated is True and read() returns b'' at the end.",
			Stimulus: "POST chunked; the app checks CONTENT_LENGTH and wsgi.input_terminated.",
			Outcomes: []f.Outcome{f.Info("consistent", "CONTENT_LENGTH set, or input_terminated True"), f.Info("inconsistent", "no CONTENT_LENGTH and no input_terminated: frameworks read nothing"), f.Info("refused", "chunked request refused")},
			Run: func(t *f.T) f.Result {
				req := f.Req{Method: "POST", Do: "input", Headers: []string{"Transfer-Encoding: chunked"}, Body: []byte("5\r\nhello\r\n0\r\n\r\n"), Args: map[string]any{"ops": [][]any{}}}
				d, x := runInput(t, req)
				if d == nil {
					return f.Out("refused", "%s", x.Summary())
				}
				cl, hasCL := d.Environ.Get("CONTENT_LENGTH")
				if hasCL && cl != "" || d.Environ["wsgi.input_terminated"].R == "True" {
					return f.Out("consistent", "%s %s", d.Environ.Show("CONTENT_LENGTH"), d.Environ.Show("wsgi.input_terminated"))
				}
				return f.Out("inconsistent", "%s %s", d.Environ.Show("CONTENT_LENGTH"), d.Environ.Show("wsgi.input_terminated"))
			},
		},
	}
}

// bodyFramingSpecs: a body that is malformed or left unread never makes the
// connection parse garbage.
func bodyFramingSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/input/chunked-malformed", Level: f.MUST, Section: secInput,
			Sentence: "A malformed chunked body must not reach the app as silently truncated or corrupted data, and the connection must not be reused (RFC 9112 §7.1).",
			Stimulus: "POST chunked '5\\r\\nhello\\r\\nZZ\\r\\nxx\\r\\n0\\r\\n\\r\\n' + a pipelined GET; the app reads until b''.",
			Outcomes: []f.Outcome{f.Pass("rejected", "400 (or another 4xx), a close without a response, or the app's read raised; the GET is not answered on this connection"),
				f.ServerErrorOutcome(false),
				f.Fail("accepted", "the app got data as if complete, or the connection was reused"), f.Unsupported("no-chunked", "chunked bodies are not decoded at all")},
			Run: func(t *f.T) f.Result {
				req := f.Req{Method: "POST", Do: "input", Headers: []string{"Transfer-Encoding: chunked"}, Body: []byte("5\r\nhello\r\nZZ\r\nxx\r\n0\r\n\r\n"), Args: map[string]any{"ops": [][]any{op("chunks", 64)}}}
				req.ID = t.NewID()
				id2 := t.NewID()
				c := t.Dial()
				_ = c.Send(append(req.Build(t.Host()), f.Req{ID: id2, Do: "hello"}.Build(t.Host())...))
				x := &f.Exchange{ID: req.ID, Conn: c}
				x.Resp, x.Err = c.ReadResponse("POST", f.ReadTimeout)
				// The app's read is on record before any answer the server
				// made after it; the pipelined GET is answered on this
				// connection, or the connection ends.
				ev, read := t.Sink.Find(req.ID, "read")
				next := f.Next{State: c.State()}
				if x.Resp != nil && !x.Closed() {
					next = c.ReadNext("GET", f.ReadTimeout)
				}
				switch {
				case read && ev.Data["error"] == nil && len(f.B64(ev, "b")) == 0:
					return f.Out("no-chunked", "app read b'' (the server does not decode chunked bodies; see chunked-request)")
				case read && ev.Data["error"] == nil:
					return f.Out("accepted", "app read %q without error; response %s", f.B64(ev, "b"), x.Summary())
				case next.Answered():
					return f.Out("accepted", "the server answered more on the connection after the bad body: %s", next)
				case next.Closed() && t.Invoked(id2):
					return f.Out("accepted", "the pipelined GET reached the app after the bad body")
				case f.RefusalOf(x) == f.ServerError:
					return f.Out(string(f.ServerError), "%s", x.Summary())
				}
				return f.Out("rejected", "response %s; read event %v; %s", x.Summary(), ev, next)
			},
		},
		&f.Spec{
			ID: "pep3333/input/unread-body-keepalive", Level: f.MUST, Section: secInput,
			Sentence: "An app may answer without reading the body; the next request on the connection must still be parsed correctly, or the server closes after the response.",
			Stimulus: "POST with a 1000-byte body the app ignores (it says hello) + a pipelined GET in the same write.",
			Outcomes: []f.Outcome{f.Pass("served", "the GET gets its own correct response"), f.Pass("closed", "connection closed after a response announcing close"), f.NonStrict("dropped", "the GET was never answered though no close was announced"), f.Fail("desync", "body bytes parsed as a request"), collapsedOutcome},
			Run: func(t *f.T) f.Result {
				id1, id2 := t.NewID(), t.NewID()
				raw := f.Req{ID: id1, Method: "POST", Do: "hello", Body: bytes.Repeat([]byte("G"), 1000)}.Build(t.Host())
				raw = append(raw, f.Req{ID: id2, Do: "hello"}.Build(t.Host())...)
				c := t.Dial()
				_ = c.Send(raw)
				r1, err := c.ReadResponse("POST", f.ReadTimeout)
				if err != nil {
					t.Fatalf("first response: %v", err)
				}
				if t.Collapsed(id1, id2) {
					return f.Out("collapsed", "the only response, %s, is the GET's; the connection stays open", r1.StatusLine)
				}
				r2, err := c.ReadResponse("GET", f.ReadTimeout)
				if err != nil {
					switch {
					case r1.AnnouncedClose():
						return f.Out("closed", "first %s, then %s", r1.StatusLine, c.State())
					case c.State() == f.StateFIN || c.State() == f.StateRST:
						return f.Out("dropped", "first %s, then %s", r1.StatusLine, c.State())
					}
					return f.Out("desync", "no second response, connection %s", c.State())
				}
				// The GET's call is on record before its answer, with the
				// method the app saw: body bytes glued to the request-line
				// ("GGG…GET") make a method a lenient parser takes.
				ev, called := t.Sink.Find(id2, "call")
				if m := string(f.B64(ev, "method")); r2.Status == 200 && called && m == "GET" {
					return f.Out("served", "%s then %s", r1.StatusLine, r2.StatusLine)
				} else if called {
					return f.Out("desync", "second response %s; the app saw REQUEST_METHOD %q", r2.Summary(), textutil.Head(m, 40))
				}
				return f.Out("desync", "second response %s", r2.Summary())
			},
		},
	}
}

func readInfo(id, sentence string, o []any) *f.Spec {
	return inputSpec(id, f.INFO, sentence, fmt.Sprintf("POST 'hello world'; %s(%v)", o[0], o[1:]), inputReq([]byte("hello world"), o),
		[]f.Outcome{f.Info("recorded", "result recorded")},
		func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
			mustDump(t, d, x, 1)
			return f.Out("recorded", "%s", d.Results[0])
		})
}

// collapsedOutcome: the server ran the app only for the last request of one
// write, so the client takes the GET's response for the POST's and waits
// for a second one (RFC 9112 §9.3.2: one response per request, in order).
var collapsedOutcome = f.Fail("collapsed", "the POST never reached the app; the only response is the pipelined GET's, in the POST's place")

// abcLines grades a result that must be the lines of "ab\ncd\nef", each
// with its b'\n'.
func abcLines(t *f.T, d *inputDump, x *f.Exchange) f.Result {
	mustDump(t, d, x, 1)
	if fmt.Sprintf("%q", d.Results[0].lines()) == `["ab\n" "cd\n" "ef"]` {
		return f.Out("lines", "%s", d.Results[0])
	}
	return f.Out("other", "%s", d.Results[0])
}

// resultIs grades the i-th result of an input dump: outcome is when it is
// the bytes want, else outcome not.
func resultIs(i int, want, is, not string) func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
	return func(t *f.T, d *inputDump, x *f.Exchange) f.Result {
		mustDump(t, d, x, i+1)
		if string(d.Results[i].bytes()) == want {
			return f.Out(is, "%s", d.Results[i])
		}
		return f.Out(not, "%s", d.Results[i])
	}
}
