package pep3333

import (
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// closeWait waits for the iterable's close() (or its collection without
// close, which is a definite "not called"); the deadline bounds a server
// that keeps the iterable alive.
func closeWait(t *f.T, id string, d time.Duration) (closed bool, detail string) {
	ev, ok := t.Sink.WaitEv(id, d, "close", "del")
	switch {
	case !ok:
		return false, "neither close() nor collection within the deadline"
	case ev.Ev == "del" && !ev.Bool("closed"):
		return false, "the iterable was garbage-collected without close()"
	}
	return true, ""
}

// closeSpec: after the stimulus the iterable's close() must be called
// exactly once, never followed by next().
func closeSpec(id, sentence, stimulus string, run func(t *f.T) string) *f.Spec {
	return &f.Spec{
		ID: "pep3333/close/" + id, Level: f.MUST, Section: secClose,
		Sentence: sentence, Stimulus: stimulus,
		Outcomes: []f.Outcome{f.Pass("closed", "close() called exactly once"), f.Fail("not-closed", "close() not called"), f.Fail("misused", "close() called twice, or next() after close()")},
		Timeout:  30 * time.Second,
		Run:      func(t *f.T) f.Result { return closeJudge(t, run(t)) },
	}
}

// closeWriteSpec is closeSpec for an app that calls write() first: on a
// server whose start_response returns no write callable the app raises
// before it returns an iterable, so there is nothing to close.
func closeWriteSpec(id, sentence, stimulus string, run func(t *f.T) string) *f.Spec {
	s := closeSpec(id, sentence, stimulus, run)
	s.Outcomes = append(s.Outcomes, noWriteOutcome)
	s.Run = func(t *f.T) f.Result {
		id := run(t)
		if noWrite(t, id) {
			return f.Out("no-write", "start_response returned no callable")
		}
		return closeJudge(t, id)
	}
	return s
}

// closeJudge names the close outcome of the request id.
func closeJudge(t *f.T, id string) f.Result {
	ok, why := closeWait(t, id, 10*time.Second)
	if !ok {
		return f.Out("not-closed", "%s", why)
	}
	// Let a second close() or a late next() arrive if it is coming:
	// collection of the iterable ends its story.
	t.Sink.Wait(id, 2*time.Second, func(e f.Event) bool { return e.Ev == "del" })
	if n := t.Sink.Count(id, "close"); n != 1 {
		return f.Out("misused", "close() called %d times", n)
	}
	if t.Sink.Has(id, "next_after_close") {
		return f.Out("misused", "next() after close()")
	}
	return f.Out("closed", "once")
}

const sentClose = "If the iterable returned by the application has a close() method, the server or gateway must call that method upon completion of the current request, whether the request was completed normally, or terminated early due to an application error during iteration or an early disconnect of the browser."

func closeSpecs() []*f.Spec {
	return []*f.Spec{
		closeSpec("after-completion", sentClose, "a closable iterator yields 'hello'; normal completion",
			func(t *f.T) string {
				x := resp(t, "GET", A{"closable": true, "body": []string{"hello"}, "headers": ctHeaders()})
				return x.ID
			}),
		closeSpec("on-returned-object", sentClose+" (close() of the returned iterable, not of iter(result): werkzeug#1259)",
			"an iterable whose __iter__ returns a separate iterator without close()",
			func(t *f.T) string {
				x := resp(t, "GET", A{"mode": "separate", "body": []string{"hello"}, "headers": ctHeaders()})
				return x.ID
			}),
		closeSpec("on-iteration-error", sentClose, "the iterator raises RuntimeError after yielding 'a'",
			func(t *f.T) string {
				x := resp(t, "GET", A{"closable": true, "body": []string{"a", "b"}, "raise_at": 1, "headers": ctHeaders()})
				return x.ID
			}),
		closeSpec("on-error-before-body", sentClose, "the iterator raises on its first next() (before any body)",
			func(t *f.T) string {
				x := resp(t, "GET", A{"closable": true, "body": []string{"a"}, "raise_at": 0, "headers": ctHeaders()})
				return x.ID
			}),
		closeSpec("on-client-disconnect", sentClose, "an endless generator yields 64 KiB every 50 ms; the client reads the first bytes, then closes (FIN)",
			func(t *f.T) string {
				return disconnect(t, false)
			}),
		closeSpec("on-client-reset", sentClose, "as on-client-disconnect, but the client resets (RST, SO_LINGER 0)",
			func(t *f.T) string {
				return disconnect(t, true)
			}),
		closeSpec("on-content-length-reached", sentClose+" (also when the server stops early at Content-Length)",
			"Content-Length: 5; the iterator yields 'hello', 'EXTRA'",
			func(t *f.T) string {
				x := resp(t, "GET", A{"closable": true, "body": []string{"hello", "EXTRA"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "5")})
				return x.ID
			}),
		closeSpec("on-head", sentClose+" (also for HEAD, where the body is dropped)", "HEAD; the iterator yields 'hello'",
			func(t *f.T) string {
				x := resp(t, "HEAD", A{"closable": true, "body": []string{"hello"}, "headers": ctHeaders()})
				return x.ID
			}),
		closeSpec("on-204", sentClose+" (also for 204, where the body is dropped)", "204 No Content; the iterator yields 'x'",
			func(t *f.T) string {
				x := resp(t, "GET", A{"closable": true, "status": "204 No Content", "body": []string{"x"}, "headers": [][2]any{}})
				return x.ID
			}),
		closeSpec("after-exc-info-abort", sentClose+" (also after start_response re-raised exc_info)", "exc_after: body 'partial', then start_response(..., exc_info) raises out of the iterator",
			func(t *f.T) string {
				c := t.Dial()
				id := t.NewID()
				_ = c.Send(f.Req{ID: id, Do: "exc_after"}.Build(t.Host()))
				if ask, ok := t.Sink.WaitEv(id, f.EventTimeout, "ask"); ok {
					ask.Reply(A{"seen": c.WaitFor([]byte("partial"), 3*time.Second)})
				}
				c.WaitClosed(3 * time.Second)
				return id
			}),
		closeWriteSpec("after-write", sentClose+" (also when the app used write())", "w(b'a'); return a closable iterator over [b'b']",
			func(t *f.T) string {
				x := resp(t, "GET", A{"mode": "writegen", "closable": true, "body": []string{"a", "b"}, "headers": ctHeaders()})
				return x.ID
			}),
		{
			ID: "pep3333/close/exception-trapped", Level: f.SHOULD, Section: secClose,
			Sentence: "An exception raised by close() should be trapped and logged; a response already complete stays correct and the server keeps serving.",
			Stimulus: "close() raises RuntimeError after a complete 'hello' body; then a new request.",
			Outcomes: []f.Outcome{f.Pass("trapped", "full body received, next request served"), f.NonStrict("disrupted", "body broken or server stopped serving")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"closable": true, "close_raises": true, "body": []string{"hello"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "5")})
				if x.Resp == nil || string(x.Resp.Body) != "hello" {
					return f.Out("disrupted", "%s", x.Summary())
				}
				t.Sink.WaitEv(x.ID, f.EventTimeout, "close")
				if y := t.Do(f.Req{Do: "hello"}); y.Status() != 200 {
					return f.Out("disrupted", "next request: %s", y.Summary())
				}
				return f.Out("trapped", "ok")
			},
		},
	}
}

// disconnect starts an endless stream and drops the connection after the
// first bytes.
func disconnect(t *f.T, reset bool) string {
	c := t.Dial()
	id := t.NewID()
	_ = c.Send(f.Req{ID: id, Do: "resp", Args: A{"closable": true, "forever": 65536, "headers": ctHeaders()}}.Build(t.Host()))
	if !c.WaitFor([]byte("zzzz"), 5*time.Second) {
		t.Fatalf("stream did not start")
	}
	if reset {
		_ = c.Reset()
	} else {
		_ = c.Close()
	}
	return id
}
