package http1

import (
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const secConn = "RFC 9112 §9 Connection Management"

func keepaliveSpecs() []*f.Spec {
	return []*f.Spec{
		spec("keepalive/close-announced", f.SHOULD, secConn,
			"RFC 9112 §9.6: a server that receives a \"close\" connection option … SHOULD send a \"close\" connection option in its response.",
			"GET with Connection: close", "GET /k HTTP/1.1\r\n{H}{P}Connection: close\r\n\r\n", sendOpts{},
			[]f.Outcome{f.Pass("announced", "Connection: close in the response"), f.NonStrict("silent", "no close option sent")},
			func(t *f.T, o *Obs) f.Result {
				if o.X.Resp == nil {
					t.Fatalf("no response: %s", o)
				}
				for _, v := range o.X.Resp.Values("Connection") {
					if strings.Contains(strings.ToLower(v), "close") {
						return f.Out("announced", "Connection: %s", v)
					}
				}
				return f.Out("silent", "%v", o.X.Resp.Values("Connection"))
			}),
		spec("keepalive/http10-default-close", f.SHOULD, secConn,
			"RFC 9112 §9.3: a client that sends HTTP/1.0 without keep-alive expects the connection to close after the response (the server closes).",
			"GET HTTP/1.0 without Connection; once the response is in, a GET on the same connection",
			"GET /k HTTP/1.0\r\n{H}{P}\r\n", sendOpts{sentinel: true},
			[]f.Outcome{f.Pass("closed", "connection closed after the response; the next GET never answered"), f.NonStrict("open", "the next GET answered on the connection, or the connection left open")},
			func(t *f.T, o *Obs) f.Result {
				if o.X.Resp == nil {
					t.Fatalf("no response: %s", o)
				}
				if o.Next.Closed() && !o.Smuggled {
					return f.Out("closed", "%s", o)
				}
				return f.Out("open", "%s", o)
			}),
		spec("keepalive/close-after-te-cl", f.MUST, secConn,
			"RFC 9112 §6.1: after a request with both Content-Length and Transfer-Encoding, the server MUST close the connection after responding.",
			"POST with Content-Length: 5 and Transfer-Encoding: chunked; once the response is in, a well-formed GET on the same connection",
			"POST /k HTTP/1.1\r\n{H}{P}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", sendOpts{sentinel: true},
			[]f.Outcome{f.Pass("closed", "connection closed after a response or a refusal; nothing more answered"),
				f.Fail("open", "the server answered more on the connection (the next GET, or a 400 to bytes left of the body), or left it open")},
			func(t *f.T, o *Obs) f.Result {
				if o.Next.Closed() && !o.Smuggled {
					return f.Out("closed", "%s", o)
				}
				return f.Out("open", "%s", o)
			}),
		spec("keepalive/after-400", f.SHOULD, secConn,
			"RFC 9112 §6.3 / §9.6: after responding 400 to unparseable framing the server closes the connection rather than guess where the next request starts.",
			"'GET /k HTTP/1.1' with 'Content-Length: abc', then a GET",
			"POST /k HTTP/1.1\r\n{H}{P}Content-Length: abc\r\n\r\n{S}", sendOpts{},
			[]f.Outcome{f.Pass("closed", "closed after the refusal; nothing more served"), f.NonStrict("continued", "kept reading requests after the bad one, or left the connection open"), f.Info("accepted", "the bad request was accepted (see framing specs)")},
			func(t *f.T, o *Obs) f.Result {
				switch {
				case o.Accepted():
					return f.Out("accepted", "%s", o)
				case o.Smuggled || !o.Next.Closed():
					return f.Out("continued", "%s", o)
				}
				return f.Out("closed", "%s", o)
			}),
	}
}
