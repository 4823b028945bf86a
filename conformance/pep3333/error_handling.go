package pep3333

import (
	"slices"
	"strings"
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// errStatus grades "the client got an error status, never a 200 with the
// app's half-done output".
func errStatus(x *f.Exchange) bool {
	return x.Resp == nil && x.Closed() || x.Resp != nil && x.Resp.Status >= 500
}

// erred names the outcome by whether the client got an error (errStatus):
// outcome yes, else no.
func erred(x *f.Exchange, yes, no string) f.Result {
	if errStatus(x) {
		return f.Out(yes, "%s", x.Summary())
	}
	return f.Out(no, "%s", x.Summary())
}

// errorHandlingSpecs: Error Handling, a function per concern.
func errorHandlingSpecs() []*f.Spec {
	return slices.Concat(raiseSpecs(), survivalSpecs(), misbehaviourSpecs())
}

// raiseSpecs: the app raises, before or after output started; the server
// answers with an error or aborts the response where the client can see it.
func raiseSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/error_handling/exception-before-start", Level: f.SHOULD, Section: secEH,
			Sentence: "If the application raises before start_response, the server should answer with a generic 500 and log the exception.",
			Stimulus: "The app raises RuntimeError('boom-<id>') before start_response.",
			Outcomes: []f.Outcome{f.Pass("500", "500 (and the log names the exception when the log is visible)"), f.NonStrict("other", "another answer")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "raise"})
				if x.Status() >= 500 && x.Status() < 600 {
					if log := t.Target.Log(200); log != "" && !strings.Contains(log, "boom-"+x.ID) {
						return f.Out("500", "%s (exception not found in the log tail)", x.Resp.StatusLine)
					}
					return f.Out("500", "%s", x.Resp.StatusLine)
				}
				return f.Out("other", "%s", x.Summary())
			},
		},
		{
			ID: "pep3333/error_handling/exception-before-body", Level: f.MUST, Section: secEH,
			Sentence: "start_response must not transmit headers; so if the app raises after start_response('200 OK') but before any body, the server can (and should) still answer with an error status, never a 200.",
			Stimulus: "start_response('200 OK'); the generator raises on its first next().",
			Outcomes: []f.Outcome{f.Pass("error", "5xx (or a close without a status)"), f.Fail("200", "200 was sent")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "gen", "body": []string{"a"}, "raise_at": 0, "headers": ctHeaders()})
				return erred(x, "error", "200")
			},
		},
		{
			ID: "pep3333/error_handling/exception-after-body-length", Level: f.MUST, Section: secEH,
			Sentence: "If an error occurs after output started, the server aborts the response: with Content-Length the body stays short and the connection is closed, so the client sees the truncation.",
			Stimulus: "Content-Length: 100; yield b'partial'; raise. Once 'partial' is in, a hello on the same connection.",
			Outcomes: []f.Outcome{f.Pass("aborted", "short body, connection closed, the hello never answered"), f.Fail("disguised", "the response looks complete, or the connection lived on (the hello answered, or left open)")},
			Run: func(t *f.T) f.Result {
				a := abortRun(t, hdrs("Content-Type", "text/plain", "Content-Length", "100"))
				if a.Resp == nil || a.aborted() {
					return f.Out("aborted", "%s", a)
				}
				return f.Out("disguised", "%s", a)
			},
		},
		{
			ID: "pep3333/error_handling/exception-after-body-chunked", Level: f.MUST, Section: secEH,
			Sentence: "If an error occurs after output started on a chunked response, the server must not send the terminating zero-size chunk (the client would take the partial body as complete).",
			Stimulus: "No Content-Length (HTTP/1.1); yield b'partial'; raise. Once 'partial' is in, a hello on the same connection.",
			Outcomes: []f.Outcome{f.Pass("aborted", "no last chunk; connection closed, the hello never answered"), f.NonStrict("undetectable", "close-delimited body: the connection closed, but the client cannot tell the body was cut"),
				f.Fail("disguised", "terminating chunk sent, or the connection lived on (the hello answered, or left open)")},
			Run: func(t *f.T) f.Result {
				a := abortRun(t, ctHeaders())
				switch {
				case a.Resp == nil:
					return f.Out("aborted", "%s", a)
				case a.Resp.Framing == f.FramingClose && !a.Answered:
					return f.Out("undetectable", "%s", a)
				case a.aborted():
					return f.Out("aborted", "%s", a)
				}
				return f.Out("disguised", "%s", a)
			},
		},
	}
}

// abortRun sends the app that yields b'partial' and then raises, with
// headers hs, and reads the aftermath. A response that never shows
// 'partial' (an error page instead, or nothing) is read as it stands.
func abortRun(t *f.T, hs [][2]any) aftermath {
	c := t.Dial()
	id := t.NewID()
	_ = c.Send(f.Req{ID: id, Do: "resp", Args: A{"mode": "gen", "body": []string{"partial", "more"}, "raise_at": 1, "headers": hs}}.Build(t.Host()))
	if !c.WaitFor([]byte("partial"), f.ReadTimeout) {
		r, _ := c.ReadResponse("GET", f.ReadTimeout)
		return aftermath{Resp: r, State: c.State()}
	}
	return readAftermath(t, c, "GET")
}

// survivalSpecs: the server keeps serving after an app error.
func survivalSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/error_handling/keeps-serving", Level: f.SHOULD, Section: secEH,
			Sentence: "Application errors are the application's: the server keeps serving other requests.",
			Stimulus: "An app exception, then a new GET.",
			Outcomes: []f.Outcome{f.Pass("serving", "the next request gets 200"), f.NonStrict("down", "the next request fails")},
			Run: func(t *f.T) f.Result {
				t.Do(f.Req{Do: "raise"})
				if x := t.Do(f.Req{Do: "hello"}); x.Status() == 200 {
					return f.Out("serving", "ok")
				} else {
					return f.Out("down", "%s", x.Summary())
				}
			},
		},
		{
			ID: "pep3333/error_handling/system-exit", Level: f.INFO, Section: secEH,
			Sentence:   "SystemExit raised by an app: the PEP is silent (servers restart a worker, answer 500, or close).",
			Stimulus:   "The app raises SystemExit('probe SystemExit'); then a new GET.",
			Outcomes:   []f.Outcome{f.Info("recorded", "answer recorded; server still serving"), f.Info("down", "the server stopped serving")},
			Timeout:    30 * time.Second,
			Disruptive: true,
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "raise", Args: A{"kind": "sysexit"}})
				for i := 0; i < 20; i++ {
					// Dial without t.Dial: a refused connection is the
					// outcome here, not a harness error.
					if c, err := f.Dial(t.Target.Addr, time.Second); err == nil {
						_ = c.Send(f.Req{ID: t.NewID(), Do: "hello"}.Build(t.Host()))
						r, err := c.ReadResponse("GET", f.ReadTimeout)
						c.Close()
						if err == nil && r.Status == 200 {
							return f.Out("recorded", "%s; still serving", x.Summary())
						}
					}
					time.Sleep(250 * time.Millisecond) // a worker restart is a stimulus wait, not an oracle
				}
				return f.Out("down", "%s; next requests fail", x.Summary())
			},
		},
	}
}

// misbehaviourSpecs: an app that breaks the protocol (no start_response, a
// non-bytes item, a non-iterable return) gets an error, never raw bytes.
func misbehaviourSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/error_handling/no-start-response", Level: f.SHOULD, Section: secEH,
			Sentence: "An app that returns without calling start_response is an application error: the server answers 500 (and logs), never body bytes without a status line.",
			Stimulus: "return [] without calling start_response.",
			Outcomes: []f.Outcome{f.Pass("500", "5xx or close"), f.NonStrict("other", "another answer")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "nostart"})
				return erred(x, "500", "other")
			},
		},
		{
			ID: "pep3333/error_handling/yield-before-start", Level: f.SHOULD, Section: secEH,
			Sentence: "A body yielded before start_response was ever called is an application error: 500, never raw bytes.",
			Stimulus: "A generator yields b'body-before-start' without calling start_response.",
			Outcomes: []f.Outcome{f.Pass("500", "5xx or close, no raw bytes"), f.NonStrict("other", "another answer")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "nostart", Args: A{"yield": true}})
				if errStatus(x) && x.Resp != nil && !strings.HasPrefix(x.Resp.StatusLine, "body-before-start") {
					return f.Out("500", "%s", x.Summary())
				}
				if x.Resp == nil && x.Closed() && !strings.Contains(string(x.Conn.Unread()), "body-before") {
					return f.Out("500", "%s", x.Summary())
				}
				return f.Out("other", "%s", x.Summary())
			},
		},
		itemType("str-item", "str-item", "yield 'text' (a str) as the only item"),
		itemType("none-item", "none-item", "yield None as the only item"),
		{
			ID: "pep3333/error_handling/str-item-after-body", Level: f.MUST, Section: secStrings,
			Sentence: "A str item after body bytes were sent is an error: the response is aborted (never the text sent as if bytes, never a complete-looking body).",
			Stimulus: "yield b'ok', then 'text'.",
			Outcomes: []f.Outcome{f.Pass("aborted", "framing left incomplete / connection closed, 'text' not sent"), f.Fail("sent", "'text' sent or the body looks complete")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "badreturn", Args: A{"kind": "str-after"}})
				if x.Resp == nil {
					return f.Out("aborted", "%s", x.Summary())
				}
				if strings.Contains(string(x.Resp.Body), "text") || x.Resp.Complete && x.Resp.Status == 200 {
					return f.Out("sent", "%s body %q", x.Resp.Summary(), x.Resp.Body)
				}
				return f.Out("aborted", "%s", x.Resp.Summary())
			},
		},
		badReturn("return-none", "none", "return None"),
		badReturn("return-int", "int", "return 5"),
		badReturn("return-bytes", "bytes", "return b'abc' (iterates as ints)"),
	}
}

func itemType(id, kind, stimulus string) *f.Spec {
	return &f.Spec{
		ID: "pep3333/error_handling/" + id, Level: f.MUST, Section: secStrings,
		Sentence: "The application must yield bytestrings; a non-bytes item is an error: 500 if nothing was sent, never sent as text.",
		Stimulus: stimulus,
		Outcomes: []f.Outcome{f.Pass("error", "5xx or close; nothing of the item sent"), f.Pass("aborted", "headers went out, then the response was aborted (framing left incomplete)"), f.Fail("sent", "the item's text on the wire, or a complete-looking response")},
		Run: func(t *f.T) f.Result {
			x := t.Do(f.Req{Do: "badreturn", Args: A{"kind": kind}})
			switch {
			case errStatus(x):
				return f.Out("error", "%s", x.Summary())
			case x.Resp != nil && !x.Resp.Complete && !strings.Contains(string(x.Resp.Body), "text"):
				return f.Out("aborted", "%s", x.Summary())
			}
			return f.Out("sent", "%s", x.Summary())
		},
	}
}

func badReturn(id, kind, stimulus string) *f.Spec {
	return &f.Spec{
		ID: "pep3333/error_handling/" + id, Level: f.SHOULD, Section: secEH,
		Sentence: "The application must return an iterable yielding bytestrings; a non-iterable or a bare bytes return is an application error the server should answer with 500 (and log).",
		Stimulus: stimulus + " after start_response('200 OK')",
		Outcomes: []f.Outcome{f.Pass("error", "5xx or close"), f.NonStrict("other", "another answer")},
		Run: func(t *f.T) f.Result {
			x := t.Do(f.Req{Do: "badreturn", Args: A{"kind": kind}})
			return erred(x, "error", "other")
		},
	}
}
