package pep3333

import (
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

func writeSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/write/basic", Level: f.MUST, Section: secWrite,
			Sentence: "The write() callable … data passed to it is sent (headers go out with the first write).",
			Stimulus: "w = start_response(...); w(b'abc'); return []",
			Outcomes: []f.Outcome{f.Pass("sent", "body 'abc'"), f.Fail("lost", "body differs")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "write", "body": []string{"abc"}, "headers": ctHeaders()})
				if x.Status() == 200 && string(x.Resp.Body) == "abc" && x.Resp.Complete {
					return f.Out("sent", "%s", x.Resp.Summary())
				}
				return f.Out("lost", "%s", x.Summary())
			},
		},
		{
			ID: "pep3333/write/before-iterable", Level: f.MUST, Section: secWrite,
			Sentence: "Data written with write() precedes the data yielded by the returned iterable.",
			Stimulus: "w(b'1'); return [b'2', b'3']",
			Outcomes: []f.Outcome{f.Pass("ordered", "body '123'"), f.Fail("wrong", "another body")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "writegen", "body": []string{"1", "2", "3"}, "headers": ctHeaders()})
				if x.Status() == 200 && string(x.Resp.Body) == "123" {
					return f.Out("ordered", "%s", x.Resp.Summary())
				}
				return f.Out("wrong", "%s", x.Summary())
			},
		},
		{
			ID: "pep3333/write/non-bytes", Level: f.MUST, Section: secWrite,
			Sentence: "The write() callable … takes one positional parameter: a bytestring to be written; a str is an error raised to the app, and a 200 must not be committed before the check.",
			Stimulus: "w = start_response('200 OK', ...); w('text') as the first write",
			Outcomes: []f.Outcome{f.Pass("raised-500", "write raised; the client got a 500 (or the connection closed without a 200)"), f.Fail("committed", "200 headers were sent before the type check"), f.Fail("accepted", "write accepted the str"), noWriteOutcome},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "write_str"})
				if noWrite(t, x.ID) {
					return f.Out("no-write", "start_response returned no callable; %s", x.Summary())
				}
				ev, ok := t.Sink.WaitEv(x.ID, f.EventTimeout, "write")
				if !ok {
					t.Fatalf("no write event: %s", x.Summary())
				}
				if ev.Bool("ok") {
					return f.Out("accepted", "write('text') returned; %s", x.Summary())
				}
				if x.Status() == 200 {
					return f.Out("committed", "%s raised, but %s", ev.Str("type"), x.Resp.Summary())
				}
				return f.Out("raised-500", "%s; %s", ev.Str("type"), x.Summary())
			},
		},
		{
			ID: "pep3333/write/past-content-length", Level: f.SHOULD, Section: secBody,
			Sentence: "… or raise an error if the application tries to write() past that point.",
			Stimulus: "Content-Length: 3; w(b'abcdef')",
			Outcomes: []f.Outcome{f.Pass("raised", "write raised; the body is at most 'abc'"), f.NonStrict("truncated", "silently truncated"), noWriteOutcome},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"mode": "write", "body": []string{"abcdef"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "3")})
				if noWrite(t, x.ID) {
					return f.Out("no-write", "start_response returned no callable; %s", x.Summary())
				}
				ev, ok := t.Sink.WaitEv(x.ID, f.EventTimeout, "write")
				if !ok {
					t.Fatalf("no write event: %s", x.Summary())
				}
				if !ev.Bool("ok") {
					return f.Out("raised", "%s; %s", ev.Str("type"), x.Summary())
				}
				return f.Out("truncated", "%s", x.Summary())
			},
		},
		{
			ID: "pep3333/write/no-buffering", Level: f.MUST, Section: secWrite,
			Sentence: "Before write() returns, it must guarantee that the passed-in bytestring was either completely sent to the client, or that it is buffered for transmission while the application proceeds onward.",
			Stimulus: "w(b'A'*10); the app asks the suite whether the client has it (answered when seen, or after 5 s); w(b'B'); return []",
			Outcomes: []f.Outcome{f.Pass("streamed", "the client had the first write before the app went on"), f.Fail("held", "the write was held back"), noWriteOutcome},
			Run: func(t *f.T) f.Result {
				c := t.Dial()
				rid := t.NewID()
				_ = c.Send(f.Req{ID: rid, Do: "resp", Args: A{"mode": "write", "body": []string{"AAAAAAAAAA", "B"}, "asks": []A{{"at": 1}}, "headers": ctHeaders()}}.Build(t.Host()))
				if noWrite(t, rid) {
					return f.Out("no-write", "start_response returned no callable")
				}
				if !answerSeen(t, c, rid, "AAAAAAAAAA", 5*time.Second) {
					return f.Out("held", "first write not received within 5 s")
				}
				return f.Out("streamed", "first write received while the app waited")
			},
		},
	}
}

// noWriteOutcome: a server whose start_response returns no write callable
// (bjoern) gives nothing to judge here; start_response/returns-write FAILs it.
var noWriteOutcome = f.Unsupported("no-write", "start_response returned no write callable (judged by start_response/returns-write)")

// noWrite reports whether the probe's start_response call for id returned
// a non-callable: the app's write() then raises TypeError on None, which
// must not pass for the server's own check.
func noWrite(t *f.T, id string) bool {
	ev, ok := t.Sink.WaitEv(id, f.EventTimeout, "sr")
	return ok && !ev.Bool("raised") && !ev.Bool("callable")
}
