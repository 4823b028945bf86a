package pep3333

import (
	"slices"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// connectionSpecs: connections (Other HTTP Features), a function per concern.
func connectionSpecs() []*f.Spec {
	return slices.Concat(pipeliningSpecs(), persistenceSpecs())
}

// pipeliningSpecs: a close request ends the connection; pipelined responses
// keep their order.
func pipeliningSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/connection/close-honoured", Level: f.MUST, Section: secConn,
			Sentence: "RFC 9112 §9.6: a server that receives a \"close\" connection option MUST initiate closure of the connection after it sends the final response … and MUST NOT process any further requests received on that connection.",
			Stimulus: "GET with Connection: close, and a second GET pipelined behind it.",
			Outcomes: []f.Outcome{f.Pass("closed", "one response, then the connection closes; the second GET never reaches the app"), f.Fail("continued", "the second request was processed or the connection stays open")},
			Run: func(t *f.T) f.Result {
				id2 := t.NewID()
				raw := append(f.Req{ID: t.NewID(), Do: "hello", Close: true}.Build(t.Host()), f.Req{ID: id2, Do: "hello"}.Build(t.Host())...)
				c := t.Dial()
				_ = c.Send(raw)
				r, err := c.ReadResponse("GET", f.ReadTimeout)
				if err != nil {
					t.Fatalf("no response: %v", err)
				}
				next := c.ReadNext("GET", f.ReadTimeout)
				switch {
				case next.Answered():
					return f.Out("continued", "%s %s", r.StatusLine, next)
				case !next.Closed():
					return f.Out("continued", "%s %s", r.StatusLine, next)
				case t.Invoked(id2):
					return f.Out("continued", "the pipelined request was processed (no answer on the closed connection)")
				}
				return f.Out("closed", "%s %s", r.StatusLine, next)
			},
		},
		{
			ID: "pep3333/connection/pipelined-order", Level: f.MUST, Section: secConn,
			Sentence: "RFC 9112 §9.3.2: a server MUST send its responses to pipelined requests in the same order that the requests were received.",
			Stimulus: "Three pipelined GETs; the first sleeps 300 ms, the second 100 ms, the third 0 ms; each body names its request.",
			Outcomes: []f.Outcome{f.Pass("ordered", "responses 1, 2, 3 in order (or fewer, after a response announcing close)"), f.NonStrict("dropped", "later requests never answered though no close was announced"), f.Fail("reordered", "responses out of order")},
			Run: func(t *f.T) f.Result {
				var raw []byte
				for i, ms := range []int{300, 100, 0} {
					raw = append(raw, f.Req{ID: t.NewID(), Do: "sleep", Args: A{"ms": ms, "body": []string{"r1", "r2", "r3"}[i]}}.Build(t.Host())...)
				}
				c := t.Dial()
				_ = c.Send(raw)
				var got []string
				var last *f.Response
				for i := 0; i < 3; i++ {
					r, err := c.ReadResponse("GET", f.ReadTimeout)
					if err != nil {
						break
					}
					last = r
					got = append(got, string(r.Body))
				}
				want := []string{"r1", "r2", "r3"}
				for i, g := range got {
					if g != want[i] {
						return f.Out("reordered", "%v", got)
					}
				}
				if len(got) == 0 {
					t.Fatalf("no response at all")
				}
				if len(got) < 3 && !last.AnnouncedClose() {
					return f.Out("dropped", "%v, then %s", got, c.State())
				}
				return f.Out("ordered", "%v", got)
			},
		},
	}
}

// persistenceSpecs: what the server does with keep-alive, and the version it
// answers with.
func persistenceSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/connection/keep-alive-http11", Level: f.INFO, Section: secConn,
			Sentence: "HTTP/1.1 connections are persistent by default (RFC 9112 §9.3); WSGI servers differ (gunicorn's sync worker always closes).",
			Stimulus: "Two GETs one after the other on one connection.",
			Outcomes: []f.Outcome{f.Info("persistent", "both answered"), f.Info("closes", "the server closes after each response")},
			Run:      func(t *f.T) f.Result { return persistent(t, f.Req{Do: "hello"}) },
		},
		{
			ID: "pep3333/connection/keep-alive-http10", Level: f.INFO, Section: secConn,
			Sentence: "HTTP/1.0 with Connection: keep-alive may be kept open (RFC 9112 §9.3 / Appendix C.2.2).",
			Stimulus: "Two HTTP/1.0 GETs with Connection: keep-alive on one connection.",
			Outcomes: []f.Outcome{f.Info("persistent", "both answered"), f.Info("closes", "closed after the first")},
			Run: func(t *f.T) f.Result {
				return persistent(t, f.Req{Proto: "HTTP/1.0", Do: "hello", Headers: []string{"Connection: keep-alive"}})
			},
		},
		{
			ID: "pep3333/connection/response-version", Level: f.INFO, Section: secConn,
			Sentence: "The response's HTTP-version (HTTP/1.0 from wsgiref, HTTP/1.1 from most) is the server's choice (RFC 9110 §6.2).",
			Stimulus: "GET HTTP/1.1",
			Outcomes: []f.Outcome{f.Info("recorded", "version recorded")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "hello"})
				mustRespond(t, x)
				return f.Out("recorded", "%s", x.Resp.Proto)
			},
		},
	}
}

// persistent sends req on one connection, then again once the first
// response is in: "persistent" when both are answered, else "closes".
func persistent(t *f.T, req f.Req) f.Result {
	c := t.Dial()
	req.ID = t.NewID()
	_ = c.Send(req.Build(t.Host()))
	if _, err := c.ReadResponse("GET", f.ReadTimeout); err != nil {
		t.Fatalf("first response: %v", err)
	}
	req.ID = t.NewID()
	_ = c.Send(req.Build(t.Host()))
	if r, err := c.ReadResponse("GET", f.ReadTimeout); err == nil && r.Status == 200 {
		return f.Out("persistent", "second %s", r.StatusLine)
	}
	return f.Out("closes", "connection %s", c.State())
}
