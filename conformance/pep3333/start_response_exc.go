package pep3333

import (
	"fmt"
	"strings"
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// excInfoSpecs: start_response with exc_info, before and after the headers
// went out (Error Handling).
func excInfoSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/start_response/exc-info-first-call", Level: f.MUST, Section: secEH,
			Sentence: "exc_info on the first call is legal: if exc_info is supplied, and no HTTP headers have been output yet, start_response should replace the currently-stored HTTP response headers with the newly-supplied ones.",
			Stimulus: "first call start_response('500 Oops', [...], sys.exc_info()); body 'oops!'",
			Outcomes: []f.Outcome{f.Pass("normal", "500 with the app's body"), f.Fail("broken", "the call raised or the response differs")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "exc_first"})
				if x.Status() == 500 && string(x.Resp.Body) == "oops!" {
					// A server that never sends the app's reason phrase
					// (Granian) still honoured the call; status-transmitted
					// judges the phrase.
					return f.Out("normal", "%s", x.Resp.StatusLine)
				}
				return f.Out("broken", "%s", x.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/exc-info-before-headers", Level: f.SHOULD, Section: secEH,
			Sentence: "If exc_info is supplied, and no HTTP headers have been output yet, start_response should replace the currently-stored HTTP response headers with the newly-supplied ones.",
			Stimulus: "start_response('200 OK', [X-First]); yield b''; start_response('500 Oops', [X-Second], sys.exc_info()); yield b'replaced'",
			Outcomes: []f.Outcome{f.Pass("replaced", "500 with X-Second only"), f.NonStrict("merged", "500 but X-First kept"), f.NonStrict("other", "not replaced (raised, 200, or aborted)")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "exc_before"})
				if x.Resp == nil {
					return f.Out("other", "%s", x.Summary())
				}
				_, first := x.Resp.Get("X-First")
				_, second := x.Resp.Get("X-Second")
				switch {
				case x.Resp.Status == 500 && second && !first && string(x.Resp.Body) == "replaced":
					return f.Out("replaced", "%s", x.Resp.StatusLine)
				case x.Resp.Status == 500 && second && first:
					return f.Out("merged", "X-First and X-Second both sent")
				}
				ev, _ := t.Sink.Find(x.ID, "app_raised")
				return f.Out("other", "%s; app raised %s", x.Summary(), ev.Str("type"))
			},
		},
		excAfter("exc-info-after-headers", f.MUST,
			"If exc_info is provided, and the HTTP headers have already been sent, start_response must raise an error.",
			func(t *f.T, ev f.Event, x *f.Exchange) f.Result {
				if ev.Bool("raised") {
					return f.Out("raised", "%s", ev.Str("type"))
				}
				return f.Out("accepted", "start_response returned normally")
			},
			f.Pass("raised", "start_response raised"), f.Fail("accepted", "start_response returned")),
		excAfter("exc-info-after-headers-reraises", f.SHOULD,
			"… start_response must raise an error, and should re-raise using the exc_info tuple.",
			func(t *f.T, ev f.Event, x *f.Exchange) f.Result {
				if ev.Bool("raised") && ev.Bool("same") {
					return f.Out("original", "%s %s", ev.Str("type"), ev.Str("msg"))
				}
				return f.Out("other", "raised=%v type=%s", ev.Bool("raised"), ev.Str("type"))
			},
			f.Pass("original", "the original exception was re-raised"), f.NonStrict("other", "another exception, or none")),
	}
}

// excAbortSpecs: after exc_info, the response is cut where the client can see
// it, and exc_info is let go.
func excAbortSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/start_response/exc-info-after-headers-abort", Level: f.MUST, Section: secEH,
			Sentence: "The server or gateway can then trap this (fatal) exception and abort the response — the client must be able to tell the response is truncated.",
			Stimulus: "As exc-info-after-headers, with (a) Content-Length: 100 and (b) no Content-Length on HTTP/1.1; once 'partial' is in, a hello on the same connection.",
			Outcomes: []f.Outcome{f.Pass("aborted", "connection closed; framing incomplete; the hello never answered"), f.NonStrict("undetectable", "connection closed, but the body was close-delimited, so the client cannot tell it was cut"),
				f.Fail("complete", "the truncated response looks complete (terminating chunk, or CL satisfied), or the connection lived on (the hello answered, or left open)")},
			Run: func(t *f.T) f.Result {
				var details []string
				for _, cl := range []int{100, 0} {
					args := map[string]any{}
					if cl > 0 {
						args["cl"] = cl
					}
					c := t.Dial()
					id := t.NewID()
					_ = c.Send(f.Req{ID: id, Do: "exc_after", Args: args}.Build(t.Host()))
					if ask, ok := t.Sink.WaitEv(id, f.EventTimeout, "ask"); ok {
						ask.Reply(map[string]any{"seen": c.WaitFor([]byte("partial"), f.ReadTimeout)})
					}
					a := readAftermath(t, c, "GET")
					switch {
					case a.Resp == nil:
						details = append(details, fmt.Sprintf("cl=%d: no response, %s", cl, a.State))
						continue
					case a.Resp.Framing == f.FramingClose && !a.Answered && a.State != f.StateTimeout:
						return f.Out("undetectable", "cl=%d: %s", cl, a)
					case !a.aborted():
						why := ""
						for _, ev := range t.Sink.Events(id) {
							if ev.Ev == "sr" && ev.Int("idx") == 1 && !ev.Bool("raised") {
								why = "; start_response(exc_info) returned, so the app finished its body (exc-info-after-headers)"
							}
						}
						return f.Out("complete", "cl=%d: %s%s", cl, a, why)
					}
					details = append(details, fmt.Sprintf("cl=%d: %s", cl, a))
				}
				return f.Out("aborted", "%s", strings.Join(details, "; "))
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/exc-info-not-retained", Level: f.SHOULD, Section: secEH,
			Sentence: "… the server should not keep a reference to exc_info after start_response returns (to avoid a circular reference through the traceback).",
			Stimulus: "A sentinel lives in the raising frame; start_response(…, exc_info); the app drops its references, gc.collect(), checks a weakref.",
			Outcomes: []f.Outcome{f.Pass("released", "weakref dead"), f.NonStrict("retained", "the traceback is still referenced")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "exc_gc"})
				ev, ok := t.Sink.WaitEv(x.ID, f.EventTimeout, "gc")
				if !ok {
					t.Fatalf("no gc event: %s", x.Summary())
				}
				if ev.Bool("alive") {
					return f.Out("retained", "sentinel alive after gc.collect()")
				}
				return f.Out("released", "sentinel collected")
			},
		},
	}
}

func excAfter(id, level, sentence string, grade func(t *f.T, ev f.Event, x *f.Exchange) f.Result, outs ...f.Outcome) *f.Spec {
	return &f.Spec{
		ID: "pep3333/start_response/" + id, Level: level, Section: secEH, Sentence: sentence,
		Stimulus: "yield b'partial' (headers out; the app waits until the suite saw it), then start_response('500 …', [], sys.exc_info()) with a RuntimeError('orig')",
		Outcomes: outs,
		Run: func(t *f.T) f.Result {
			c := t.Dial()
			rid := t.NewID()
			_ = c.Send(f.Req{ID: rid, Do: "exc_after"}.Build(t.Host()))
			answerSeen(t, c, rid, "partial", 3*time.Second)
			ev, ok := t.Sink.Wait(rid, f.EventTimeout, func(e f.Event) bool { return e.Ev == "sr" && e.Int("idx") == 1 })
			if !ok {
				t.Fatalf("second start_response not recorded")
			}
			return grade(t, ev, nil)
		},
	}
}
