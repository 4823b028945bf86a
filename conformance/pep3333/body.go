package pep3333

import (
	"bytes"
	"slices"
	"strconv"
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// A is shorthand for probe arguments.
type A = map[string]any

// resp sends the resp behaviour.
func resp(t *f.T, method string, args A) *f.Exchange {
	return t.Do(f.Req{Method: method, Do: "resp", Args: args})
}

// pipelined sends a resp request followed by a plain GET hello in one write
// and reads both responses; r2 is nil if the second did not come. A server
// that answers only the GET of such a write (see Collapsed) gets the two
// requests one after the other on a new connection instead, so the first
// response is the one under test.
func pipelined(t *f.T, method string, args A) (x *f.Exchange, r2 *f.Response) {
	return pipelinedReq(t, f.Req{Method: method, Do: "resp", Args: args})
}

// pipelinedReq is pipelined for any probe request. The GET behind is the
// event that ends the response under test: whatever the server sent for
// the first request comes before the GET's answer (or its close), so bytes
// that must not be sent are seen without a wait.
func pipelinedReq(t *f.T, req f.Req) (x *f.Exchange, r2 *f.Response) {
	method := req.Method
	req.ID = t.NewID()
	id2 := t.NewID()
	raw := append(req.Build(t.Host()), f.Req{ID: id2, Do: "hello"}.Build(t.Host())...)
	c := t.Dial()
	_ = c.Send(raw)
	x = &f.Exchange{ID: req.ID, Conn: c}
	x.Resp, x.Err = c.ReadResponse(method, f.ReadTimeout)
	if x.Resp != nil && t.Collapsed(req.ID, id2) {
		t.Note("the server answered only the second of two requests sent in one write (connection/pipelined-order judges that); sent one after the other on connection 2")
		req.ID = ""
		x = t.Do(req)
		if x.Resp == nil || x.Closed() {
			return x, nil
		}
		_ = x.Conn.Send(f.Req{ID: t.NewID(), Do: "hello"}.Build(t.Host()))
		r2, _ = x.Conn.ReadResponse("GET", f.ReadTimeout)
		return x, r2
	}
	if x.Resp == nil {
		return x, nil
	}
	r2, _ = c.ReadResponse("GET", f.ReadTimeout)
	return x, r2
}

// aftermath is what a server did after a response the suite expects it
// to abort (a body cut short of its framing): the suite sends a hello on
// the same connection as soon as the response has started. A server that
// aborted closes the connection and never answers it; one that took the
// response for done goes on reading and answers it (its app runs, its
// bytes follow, whatever the first response's framing makes of them); one
// that does neither leaves the connection open. No wait decides between
// the first two.
type aftermath struct {
	Resp     *f.Response // the response under test, as read
	Answered bool        // the hello was answered on the connection
	State    f.ConnState // the connection at the end
}

func (a aftermath) String() string {
	if a.Resp == nil {
		return "no response, connection " + string(a.State)
	}
	s := a.Resp.Summary()
	switch {
	case a.Answered:
		return s + "; the hello sent after it was answered on the same connection"
	case a.State == f.StateTimeout || a.State == f.StateOpen:
		return s + "; connection still open " + f.ReadTimeout.String() + " later"
	}
	return s + "; then " + string(a.State)
}

// aborted reports a response the client can tell was cut: incomplete by
// its framing, and the connection closed without answering more.
func (a aftermath) aborted() bool {
	return a.Resp != nil && !a.Resp.Complete && !a.Answered && (a.State == f.StateFIN || a.State == f.StateRST)
}

// readAftermath sends the hello on c and reads the response to method.
func readAftermath(t *f.T, c *f.Conn, method string) aftermath {
	sid := t.NewID()
	_ = c.Send(f.Req{ID: sid, Do: "hello"}.Build(t.Host()))
	r, _ := c.ReadResponse(method, f.ReadTimeout)
	hello := []byte("Hello, World!")
	answered := func() bool {
		return t.Sink.Has(sid, "call") || r != nil && bytes.Contains(r.Body, hello) || bytes.Contains(c.Unread(), hello)
	}
	if !answered() {
		c.WaitFor(hello, f.ReadTimeout)
	}
	return aftermath{Resp: r, Answered: answered(), State: c.State()}
}

// mustRespond makes a missing response a harness error, for specs that
// judge what the response holds.
func mustRespond(t *f.T, x *f.Exchange) {
	if x.Resp == nil {
		t.Fatalf("no response: %s", x.Summary())
	}
}

func hello(r *f.Response) bool {
	return r != nil && r.Status == 200 && string(r.Body) == "Hello, World!"
}

// bodyKind: a response-body shape that must arrive byte-exact.
func bodyKind(id, stimulus string, args A, want []byte) *f.Spec {
	return &f.Spec{
		ID: "pep3333/body/" + id, Level: f.MUST, Section: secApp,
		Sentence: "The application object must return an iterable yielding zero or more bytestrings … the server transmits each bytestring to the client.",
		Stimulus: stimulus,
		Outcomes: []f.Outcome{f.Pass("exact", "body byte-exact and framed"), f.Fail("wrong", "body differs or framing broken")},
		Run: func(t *f.T) f.Result {
			args["headers"] = ctHeaders()
			x := resp(t, "GET", args)
			if x.Resp == nil {
				return f.Out("wrong", "%s", x.Summary())
			}
			if x.Resp.Status == 200 && x.Resp.Complete && bytes.Equal(x.Resp.Body, want) {
				return f.Out("exact", "%d bytes, %s", len(want), x.Resp.Framing)
			}
			return f.Out("wrong", "%s, want %d bytes", x.Resp.Summary(), len(want))
		},
	}
}

// bodySpecs: the response body, a function per concern.
func bodySpecs() []*f.Spec {
	return slices.Concat(iterableSpecs(), bufferingSpecs(), contentLengthSpecs(), responseFramingSpecs(), noBodySpecs(), headSpecs(), passThroughSpecs())
}

// iterableSpecs: the iterable the application returns (Specification Details)
// and its bytes on the wire.
func iterableSpecs() []*f.Spec {
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	bin = append(bin, "\r\n\n\r"...)
	return []*f.Spec{
		bodyKind("list", "return [b'hello', b' ', b'world']", A{"body": []string{"hello", " ", "world"}}, []byte("hello world")),
		bodyKind("tuple", "return (b'hello', b' world')", A{"mode": "tuple", "body": []string{"hello", " world"}}, []byte("hello world")),
		bodyKind("generator", "a generator yielding b'hello', b' world'", A{"mode": "gen", "body": []string{"hello", " world"}}, []byte("hello world")),
		bodyKind("custom-iterator", "an iterator class with close()", A{"closable": true, "body": []string{"hello", " world"}}, []byte("hello world")),
		bodyKind("empty-list", "return []", A{"body": []string{}}, []byte{}),
		bodyKind("many-chunks", "10 000 one-byte chunks", A{"mode": "gen", "body": []any{A{"times": 10000, "b": "x"}}}, bytes.Repeat([]byte("x"), 10000)),
		bodyKind("large-chunk", "one 4 MiB chunk", A{"body": []any{A{"repeat": 4 << 20, "b": "y"}}}, bytes.Repeat([]byte("y"), 4<<20)),
		&f.Spec{
			ID: "pep3333/body/binary-exact", Level: f.SHOULD, Section: secStrings,
			Sentence: "Bytestrings yielded by the application are treated as binary byte sequences; line endings are not altered.",
			Stimulus: "yield bytes(range(256)) + b'\\r\\n\\n\\r' with an explicit Content-Length",
			Outcomes: []f.Outcome{f.Pass("exact", "byte-exact"), f.NonStrict("altered", "bytes changed")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"body": []any{A{"bytes256": 1, "tail": "\r\n\n\r"}}, "headers": hdrs("Content-Type", "application/octet-stream", "Content-Length", strconv.Itoa(len(bin)))})
				if x.Resp != nil && bytes.Equal(x.Resp.Body, bin) {
					return f.Out("exact", "%d bytes", len(bin))
				}
				return f.Out("altered", "%s", x.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/body/old-sequence-protocol", Level: f.INFO, Section: "PEP 3333 / Supporting Older (<2.2) Versions of Python",
			Sentence: "Iterables implementing only __getitem__ (the old sequence protocol) work when the server iterates with a plain for loop.",
			Stimulus: "return an object with only __getitem__ over [b'hello', b' world']",
			Outcomes: []f.Outcome{f.Info("works", "body 'hello world'"), f.Info("fails", "error")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "old", "body": []string{"hello", " world"}, "headers": ctHeaders()})
				if x.Status() == 200 && string(x.Resp.Body) == "hello world" {
					return f.Out("works", "%s", x.Resp.Summary())
				}
				return f.Out("fails", "%s", x.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/body/lazy-start-response", Level: f.MUST, Section: secApp,
			Sentence: "The server must not assume start_response has been called before it begins iterating: the first next() may call it (generators).",
			Stimulus: "a generator whose first next() calls start_response('201 Created', [('X-Lazy','1')]) and yields b'ok'",
			Outcomes: []f.Outcome{f.Pass("works", "201, X-Lazy: 1, body ok"), f.Fail("broken", "error or wrong response")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "lazy", Args: A{"status": "201 Created", "headers": hdrs("Content-Type", "text/plain", "X-Lazy", "1"), "body": []string{"ok"}}})
				if x.Status() == 201 && string(x.Resp.Body) == "ok" {
					if v, _ := x.Resp.Get("X-Lazy"); v == "1" {
						return f.Out("works", "%s", x.Resp.StatusLine)
					}
				}
				return f.Out("broken", "%s", x.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/body/iterable-attributes", Level: f.MUST, Section: secApp,
			Sentence: "The server must not use any other attributes of the iterable returned by the application, unless it is an instance of a type specific to that server (such as a file wrapper).",
			Stimulus: "The returned iterable reports every attribute looked up on it.",
			Outcomes: []f.Outcome{f.Pass("clean", "only close / __class__ / iteration"), f.Fail("other", "other attributes used")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "spy", "body": []string{"ok"}, "headers": ctHeaders()})
				if x.Status() != 200 {
					t.Fatalf("spy response: %s", x.Summary())
				}
				// Lookups before the response are on record with it; close()
				// ends the server's use of the iterable.
				t.Sink.WaitEv(x.ID, f.EventTimeout, "close")
				var bad []string
				for _, e := range t.Sink.Events(x.ID) {
					if e.Ev != "attr" {
						continue
					}
					switch n := e.Str("name"); n {
					case "close", "__class__", "__iter__", "__next__", "__len__":
					default:
						bad = append(bad, n)
					}
				}
				if len(bad) > 0 {
					return f.Out("other", "%v", bad)
				}
				return f.Out("clean", "ok")
			},
		},
	}
}

// bufferingSpecs: Buffering and Streaming: no block held back.
func bufferingSpecs() []*f.Spec {
	return []*f.Spec{
		streaming("streaming-no-buffering", "HTTP/1.1"),
		streaming("streaming-no-buffering-http10", "HTTP/1.0"),
	}
}

// contentLengthSpecs: Handling the Content-Length Header: the app's length
// bounds what is sent, and a short body is not disguised.
func contentLengthSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/body/content-length-overrun", Level: f.MUST, Section: secBody,
			Sentence: "If the application supplies a Content-Length header, the server should not transmit more bytes to the client than the header allows (extra bytes would corrupt the next response on the connection).",
			Stimulus: "Content-Length: 5; yields b'hello', b'EXTRA', b'MORE'; a GET is pipelined behind.",
			Outcomes: []f.Outcome{f.Pass("truncated", "body 'hello', next response intact (or connection closed)"), f.Fail("overrun", "extra bytes sent")},
			Run: func(t *f.T) f.Result {
				x, r2 := pipelined(t, "GET", A{"closable": true, "body": []string{"hello", "EXTRA", "MORE"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "5")})
				mustRespond(t, x)
				if string(x.Resp.Body) != "hello" {
					return f.Out("overrun", "%s", x.Resp.Summary())
				}
				if r2 != nil && !hello(r2) {
					return f.Out("overrun", "second response corrupted: %s", r2.Summary())
				}
				if r2 == nil && bytes.Contains(x.Conn.Unread(), []byte("EXTRA")) {
					return f.Out("overrun", "extra bytes on the wire")
				}
				return f.Out("truncated", "body 'hello'; second: %s", r2.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/body/content-length-overrun-stops", Level: f.SHOULD, Section: secBody,
			Sentence: "… and should stop iterating over the response when enough data has been sent, or raise an error if the application tries to write() past that point.",
			Stimulus: "Content-Length: 5; a closable iterator yields b'hello', then, once the client has it, b'EXTRA', b'MORE' (next() calls counted).",
			Outcomes: []f.Outcome{f.Pass("stopped", "no next() after the 5th byte was produced (at most 2 next calls)"), f.NonStrict("kept-iterating", "iterated to the end")},
			Run: func(t *f.T) f.Result {
				// The second next() waits until the client has 'hello': a
				// server that iterates ahead of the socket (Granian queues up
				// to 4 chunks) would otherwise stop or not by a race.
				c := t.Dial()
				id := t.NewID()
				_ = c.Send(f.Req{ID: id, Do: "resp", Args: A{"closable": true, "body": []string{"hello", "EXTRA", "MORE"}, "asks": []A{{"at": 1}},
					"headers": hdrs("Content-Type", "text/plain", "Content-Length", "5")}}.Build(t.Host()))
				x := &f.Exchange{ID: id, Conn: c}
				ev, ok := t.Sink.Wait(id, f.EventTimeout, func(e f.Event) bool { return e.Ev == "ask" || e.Ev == "close" || e.Ev == "del" })
				if ok && ev.Ev == "ask" {
					ev.Reply(A{"seen": c.WaitFor([]byte("hello"), 5*time.Second)})
				}
				ev, ok = t.Sink.WaitEv(id, f.EventTimeout, "close", "del")
				if !ok {
					t.Fatalf("no close/del event: %s", x.Summary())
				}
				if n := ev.Int("nexts"); n <= 2 {
					return f.Out("stopped", "%d next() calls", n)
				}
				return f.Out("kept-iterating", "%d next() calls", ev.Int("nexts"))
			},
		},
		&f.Spec{
			ID: "pep3333/body/content-length-underrun", Level: f.SHOULD, Section: secBody,
			Sentence: "If the application yields fewer bytes than its Content-Length, the server should close the connection (and log) so the client sees the truncation instead of hanging or reusing a broken connection.",
			Stimulus: "Content-Length: 30; yields 26 bytes; once they are in, a hello on the same connection.",
			Outcomes: []f.Outcome{f.Pass("closed", "connection closed after the short body; the hello never answered"), f.NonStrict("hangs", "the connection lived on: the hello answered (its bytes taken for the missing 4), or left open")},
			Run: func(t *f.T) f.Result {
				c := t.Dial()
				id := t.NewID()
				_ = c.Send(f.Req{ID: id, Do: "resp", Args: A{"body": []string{"abcdefghijklmnopqrstuvwxyz"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "30")}}.Build(t.Host()))
				if !c.WaitFor([]byte("xyz"), f.ReadTimeout) {
					t.Fatalf("the 26 bytes never came: %q", c.Unread())
				}
				a := readAftermath(t, c, "GET")
				if a.aborted() {
					return f.Out("closed", "%d of 30 bytes; %s", len(a.Resp.Body), a)
				}
				return f.Out("hangs", "%s", a)
			},
		},
	}
}

// responseFramingSpecs: how the server frames a body without the app's
// Content-Length (inference, chunking, HTTP/1.0).
func responseFramingSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/body/single-item-content-length", Level: f.MAY, Section: secBody,
			Sentence: "If the application does not supply a Content-Length, … if the iterable has len() 1, the server can automatically determine Content-Length.",
			Stimulus: "return [b'hello'] without Content-Length (HTTP/1.1).",
			Outcomes: []f.Outcome{f.Info("content-length", "Content-Length: 5"), f.Info("chunked", "chunked"), f.Info("close", "close-delimited")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"body": []string{"hello"}, "headers": ctHeaders()})
				if x.Resp == nil || string(x.Resp.Body) != "hello" {
					t.Fatalf("response: %s", x.Summary())
				}
				switch x.Resp.Framing {
				case f.FramingLength:
					return f.Out("content-length", "%s", x.Resp.Summary())
				case f.FramingChunked:
					return f.Out("chunked", "%s", x.Resp.Summary())
				}
				return f.Out("close", "%s", x.Resp.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/body/no-length-inference-with-write", Level: f.MUST, Section: secBody,
			Sentence: "Content-Length inference from len(iterable)==1 must not apply when write() was used (the length would omit the written bytes).",
			Stimulus: "write(b'aaaa'); return [b'bb'] (no Content-Length).",
			Outcomes: []f.Outcome{f.Pass("correct", "body 'aaaabb', framing consistent"), f.Fail("wrong", "Content-Length: 2 or a broken body"), noWriteOutcome},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "writegen", "body": []string{"aaaa", "bb"}, "headers": ctHeaders()})
				if noWrite(t, x.ID) {
					return f.Out("no-write", "start_response returned no callable; %s", x.Summary())
				}
				if x.Resp == nil {
					return f.Out("wrong", "%s", x.Summary())
				}
				if string(x.Resp.Body) == "aaaabb" && x.Resp.Complete {
					return f.Out("correct", "%s", x.Resp.Summary())
				}
				return f.Out("wrong", "%s; Content-Length %v", x.Resp.Summary(), x.Resp.Values("Content-Length"))
			},
		},
		&f.Spec{
			ID: "pep3333/body/chunked-response-valid", Level: f.MUST, Section: secBody,
			Sentence: "If the server uses chunked encoding it must comply fully with RFC 9112 §7.1: no zero-size chunk before the end (an empty yield must not terminate the body), a proper last chunk.",
			Stimulus: "a generator yields b'a', b'', b'b' without Content-Length on HTTP/1.1.",
			Outcomes: []f.Outcome{f.Pass("valid", "valid framing, body 'ab'"), f.Fail("broken", "early zero chunk, bad syntax or missing terminator")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "gen", "body": []string{"a", "", "b"}, "headers": ctHeaders()})
				if x.Resp == nil {
					return f.Out("broken", "%s", x.Summary())
				}
				if string(x.Resp.Body) == "ab" && x.Resp.Complete && x.Resp.Malformed == "" && !(x.Resp.Count("Content-Length") > 0 && x.Resp.Count("Transfer-Encoding") > 0) {
					return f.Out("valid", "%s chunks %v", x.Resp.Summary(), x.Resp.Chunks)
				}
				return f.Out("broken", "%s chunks %v", x.Resp.Summary(), x.Resp.Chunks)
			},
		},
		&f.Spec{
			ID: "pep3333/body/http10-no-chunked", Level: f.MUST, Section: secBody,
			Sentence: "RFC 9112 §6.1: a server MUST NOT send a response containing Transfer-Encoding unless the corresponding request indicates HTTP/1.1 (or later).",
			Stimulus: "GET HTTP/1.0; a generator body without Content-Length.",
			Outcomes: []f.Outcome{f.Pass("ok", "no Transfer-Encoding; body delimited by close or a correct Content-Length"), f.Fail("chunked", "Transfer-Encoding sent to an HTTP/1.0 client")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Proto: "HTTP/1.0", Do: "resp", Args: A{"mode": "gen", "body": []string{"a", "b"}, "headers": ctHeaders()}})
				mustRespond(t, x)
				if x.Resp.Count("Transfer-Encoding") > 0 {
					return f.Out("chunked", "%v", x.Resp.Values("Transfer-Encoding"))
				}
				if string(x.Resp.Body) != "ab" {
					return f.Out("chunked", "body %q", x.Resp.Body)
				}
				return f.Out("ok", "%s", x.Resp.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/body/no-content-length-with-chunked", Level: f.MUST, Section: secBody,
			Sentence: "RFC 9112 §6.2: a sender MUST NOT send a Content-Length header field in any message that contains a Transfer-Encoding header field.",
			Stimulus: "The app sends Content-Length: 2 and yields b'a', b'b' from a generator.",
			Outcomes: []f.Outcome{f.Pass("single", "only one framing header"), f.Fail("both", "Content-Length and Transfer-Encoding")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "gen", "body": []string{"a", "b"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "2")})
				mustRespond(t, x)
				if x.Resp.Count("Content-Length") > 0 && x.Resp.Count("Transfer-Encoding") > 0 {
					return f.Out("both", "%s", x.Resp.Summary())
				}
				return f.Out("single", "%s", x.Resp.Summary())
			},
		},
	}
}

// streaming is the ACK handshake for "no delaying of blocks": the app
// yields 'AAAAAAAAAA', then in the next next() asks whether the client has
// it; the suite answers after seeing the bytes (or 5 s). A buffering server
// holds the block, so the answer is "no".
func streaming(id, proto string) *f.Spec {
	return &f.Spec{
		ID: "pep3333/body/" + id, Level: f.MUST, Section: secBuf,
		Sentence: "WSGI servers, gateways, and middleware must not delay the transmission of any block; they must either fully transmit the block to the client, or guarantee that they will continue transmission even while the application is producing its next block.",
		Stimulus: proto + ": yield b'A'*10; the next next() asks the suite whether the client received it (answered when seen, or after 5 s); then yield b'B'.",
		Outcomes: []f.Outcome{f.Pass("streamed", "the client had the first block before the next was produced"), f.Fail("buffered", "the block was held back")},
		Run: func(t *f.T) f.Result {
			c := t.Dial()
			rid := t.NewID()
			_ = c.Send(f.Req{ID: rid, Proto: proto, Do: "resp", Args: A{"mode": "gen", "body": []string{"AAAAAAAAAA", "B"}, "asks": []A{{"at": 1}}, "headers": ctHeaders()}}.Build(t.Host()))
			if !answerSeen(t, c, rid, "AAAAAAAAAA", 5*time.Second) {
				return f.Out("buffered", "first block not received within 5 s while the app waited")
			}
			return f.Out("streamed", "first block received before the second was produced")
		},
	}
}

// answerSeen answers the app's "ask" event for request id: whether the
// client received want within d (the app holds its next block until then).
// An app that never asks is a harness error.
func answerSeen(t *f.T, c *f.Conn, id, want string, d time.Duration) bool {
	ask, ok := t.Sink.WaitEv(id, f.EventTimeout, "ask")
	if !ok {
		t.Fatalf("the app never asked")
	}
	seen := c.WaitFor([]byte(want), d)
	ask.Reply(A{"seen": seen})
	return seen
}
