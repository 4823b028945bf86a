package pep3333

import (
	"bytes"
	"fmt"
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/textutil"
)

// noBodySpecs: responses that carry no content (204, 304, HEAD), whatever
// the app yields.
func noBodySpecs() []*f.Spec {
	return []*f.Spec{
		noBody("204-no-body", "204 No Content", "GET", false),
		noBody("304-no-body", "304 Not Modified", "GET", false),
		&f.Spec{
			ID: "pep3333/body/204-no-content-length", Level: f.MUST, Section: secOther,
			Sentence: "RFC 9110 §8.6: a server MUST NOT send a Content-Length header field in any response with a status code of 1xx (Informational) or 204 (No Content).",
			Stimulus: "The app returns 204 with no body and no Content-Length.",
			Outcomes: []f.Outcome{f.Pass("absent", "no Content-Length, no Transfer-Encoding"), f.Fail("present", "Content-Length or Transfer-Encoding on a 204")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"status": "204 No Content", "headers": [][2]any{}, "body": []string{}})
				mustRespond(t, x)
				if x.Resp.Count("Content-Length") > 0 || x.Resp.Count("Transfer-Encoding") > 0 {
					return f.Out("present", "Content-Length %v Transfer-Encoding %v", x.Resp.Values("Content-Length"), x.Resp.Values("Transfer-Encoding"))
				}
				return f.Out("absent", "%s", x.Resp.StatusLine)
			},
		},
		noBody("head-no-body", "200 OK", "HEAD", true),
		&f.Spec{
			ID: "pep3333/body/head-no-body-without-length", Level: f.MUST, Section: secOther,
			Sentence: "RFC 9110 §9.3.2: the server MUST NOT send content in the response to HEAD — not even a chunked terminator (gunicorn PR #1079).",
			Stimulus: "HEAD; the app yields 'hello' from a generator without Content-Length; a GET is pipelined behind.",
			Outcomes: []f.Outcome{f.Pass("clean", "no body bytes; next response intact or connection closed"), f.Fail("leaked", "body bytes or a chunk terminator sent")},
			Run: func(t *f.T) f.Result {
				x, r2 := pipelined(t, "HEAD", A{"mode": "gen", "body": []string{"hello"}, "headers": ctHeaders()})
				mustRespond(t, x)
				if r2 != nil && !hello(r2) {
					return f.Out("leaked", "next response: %s", r2.Summary())
				}
				if r2 == nil && len(x.Conn.Unread()) > 0 {
					return f.Out("leaked", "bytes after the HEAD response: %q", textutil.Head(x.Conn.Unread(), 60))
				}
				return f.Out("clean", "%s; next %s", x.Resp.StatusLine, r2.Summary())
			},
		},
	}
}

// headSpecs: HEAD keeps GET's headers, the connection and the method.
func headSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/body/head-content-length-kept", Level: f.SHOULD, Section: secOther,
			Sentence: "RFC 9110 §8.6/§9.3.2: a HEAD response should carry the same header fields as GET, including the app's Content-Length.",
			Stimulus: "HEAD; the app sends Content-Length: 5 and yields nothing.",
			Outcomes: []f.Outcome{f.Pass("kept", "Content-Length: 5"), f.NonStrict("changed", "missing or changed")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "HEAD", A{"body": []string{}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "5")})
				mustRespond(t, x)
				if v, _ := x.Resp.Get("Content-Length"); v == "5" {
					return f.Out("kept", "Content-Length: 5")
				}
				return f.Out("changed", "Content-Length %v", x.Resp.Values("Content-Length"))
			},
		},
		&f.Spec{
			ID: "pep3333/body/head-keeps-connection", Level: f.SHOULD, Section: secOther,
			Sentence: "A HEAD response with the app's Content-Length and no body is complete, not 'too few bytes' (waitress#427): the connection stays usable.",
			Stimulus: "HEAD with app Content-Length: 5 and no body, then a pipelined GET.",
			Outcomes: []f.Outcome{f.Pass("usable", "the GET is answered on the same connection"), f.NonStrict("closed", "the server closed after HEAD"), f.Info("no-keepalive", "the server never keeps connections alive")},
			Run: func(t *f.T) f.Result {
				if !keepAlive(t) {
					return f.Out("no-keepalive", "two sequential GETs on one connection are not both answered")
				}
				x, r2 := pipelined(t, "HEAD", A{"body": []string{}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "5")})
				mustRespond(t, x)
				if hello(r2) {
					return f.Out("usable", "second response %s", r2.StatusLine)
				}
				return f.Out("closed", "second response: %s (connection %s)", r2.Summary(), x.Conn.State())
			},
		},
		&f.Spec{
			ID: "pep3333/body/head-method-preserved", Level: f.MUST, Section: secEnviron,
			Sentence: "REQUEST_METHOD stays HEAD for HEAD requests (the server does not silently rewrite it to GET).",
			Stimulus: "HEAD / to the env behaviour.",
			Outcomes: []f.Outcome{f.Pass("head", "REQUEST_METHOD == 'HEAD'"), f.Fail("rewritten", "another method")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Method: "HEAD", Do: "env"})
				ev, ok := t.Sink.WaitEv(x.ID, f.EventTimeout, "call")
				if !ok {
					t.Fatalf("app not called: %s", x.Summary())
				}
				if m := string(f.B64(ev, "method")); m != "HEAD" {
					return f.Out("rewritten", "REQUEST_METHOD %q", m)
				}
				return f.Out("head", "HEAD")
			},
		},
	}
}

// passThroughSpecs: the server plays dumb with what the app answers.
func passThroughSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/body/invalid-app-content-length", Level: f.SHOULD, Section: secBody,
			Sentence: "An invalid Content-Length from the app ('abc') is an error, not something to put on the wire.",
			Stimulus: "The app sends Content-Length: abc and yields 'hello'.",
			Outcomes: []f.Outcome{f.Pass("refused", "start_response raised or 500"), f.NonStrict("sent", "the invalid value went out")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"body": []string{"hello"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "abc")})
				if ev, _ := t.Sink.WaitEv(x.ID, f.EventTimeout, "sr"); ev.Bool("raised") {
					return f.Out("refused", "%s", ev.Str("type"))
				}
				if x.Resp == nil || x.Resp.Status >= 500 {
					return f.Out("refused", "%s", x.Summary())
				}
				if v, _ := x.Resp.Get("Content-Length"); v == "abc" {
					return f.Out("sent", "Content-Length: abc on the wire")
				}
				return f.Out("refused", "%s", x.Resp.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/body/status-passthrough", Level: f.SHOULD, Section: secOther,
			Sentence: "The server should \"play dumb\": it does not replace the app's error pages or alter the status/body semantics.",
			Stimulus: "The app returns 404 Not Here with its own body.",
			Outcomes: []f.Outcome{f.Pass("unchanged", "404 with the app's body"), f.NonStrict("replaced", "status or body replaced")},
			Run: func(t *f.T) f.Result {
				x := resp(t, "GET", A{"status": "404 Not Here", "body": []string{"custom 404"}, "headers": ctHeaders()})
				if x.Status() == 404 && string(x.Resp.Body) == "custom 404" {
					return f.Out("unchanged", "%s", x.Resp.StatusLine)
				}
				return f.Out("replaced", "%s", x.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/body/conditional-request", Level: f.MAY, Section: secOther,
			Sentence: "A server may handle conditional requests itself (If-None-Match → 304); it must not change the meaning of the app's response otherwise.",
			Stimulus: "The app returns ETag: \"x\"; the client sends If-None-Match: \"x\".",
			Outcomes: []f.Outcome{f.Info("passthrough", "200 from the app"), f.Info("not-modified", "the server answered 304")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "resp", Headers: []string{`If-None-Match: "x"`}, Args: A{"body": []string{"hello"}, "headers": hdrs("Content-Type", "text/plain", "ETag", `"x"`)}})
				if x.Status() == 304 {
					return f.Out("not-modified", "%s", x.Resp.StatusLine)
				}
				return f.Out("passthrough", "%s", x.Summary())
			},
		},
	}
}

// noBody: responses that must carry no body bytes (204/304, HEAD), even
// when the app yields some; a pipelined GET must parse afterwards.
func noBody(id, status, method string, withLength bool) *f.Spec {
	hs := hdrs("Content-Type", "text/plain")
	if withLength {
		hs = hdrs("Content-Type", "text/plain", "Content-Length", "5")
	}
	sentence := "RFC 9110 §15.3.5 / §15.4.5 / RFC 9112 §6.3: a " + status + " response cannot contain content; the next response on the connection must parse."
	if method == "HEAD" {
		sentence = "RFC 9110 §9.3.2: the server MUST NOT send content in the response to HEAD, even if the app yields a body."
	}
	return &f.Spec{
		ID: "pep3333/body/" + id, Level: f.MUST, Section: secOther,
		Sentence: sentence,
		Stimulus: fmt.Sprintf("%s; the app answers %s and yields 'hello'; a GET is pipelined behind.", method, status),
		Outcomes: []f.Outcome{f.Pass("clean", "no body bytes; next response intact (or connection closed)"), f.Fail("leaked", "body bytes on the wire")},
		Run: func(t *f.T) f.Result {
			x, r2 := pipelined(t, method, A{"status": status, "body": []string{"hello"}, "headers": hs, "closable": true})
			mustRespond(t, x)
			if r2 != nil && !hello(r2) {
				return f.Out("leaked", "next response: %s", r2.Summary())
			}
			if r2 == nil && bytes.Contains(x.Conn.Unread(), []byte("hello")) {
				return f.Out("leaked", "body bytes after the response: %q", textutil.Head(x.Conn.Unread(), 60))
			}
			return f.Out("clean", "%s; next: %s", x.Resp.StatusLine, strings.TrimSpace(r2.Summary()))
		},
	}
}

// keepAlive reports (once per server) whether two sequential requests on
// one HTTP/1.1 connection are both answered.
func keepAlive(t *f.T) bool {
	return t.Target.Memo("keepalive", func() any {
		c := t.Dial()
		_ = c.Send(f.Req{ID: t.NewID(), Do: "hello"}.Build(t.Host()))
		if r, err := c.ReadResponse("GET", f.ReadTimeout); err != nil || r.Status != 200 {
			return false
		}
		_ = c.Send(f.Req{ID: t.NewID(), Do: "hello"}.Build(t.Host()))
		r, err := c.ReadResponse("GET", f.ReadTimeout)
		return err == nil && r.Status == 200
	}).(bool)
}
