package http1

import (
	"strings"
	"time"

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
			"GET HTTP/1.0 without Connection", "GET /k HTTP/1.0\r\n{H}{P}\r\n", sendOpts{},
			[]f.Outcome{f.Pass("closed", "connection closed after the response"), f.NonStrict("open", "connection left open")},
			func(t *f.T, o *Obs) f.Result {
				if o.X.Resp == nil {
					t.Fatalf("no response: %s", o)
				}
				if st := o.X.Conn.WaitClosed(3 * time.Second); st != f.StateTimeout {
					return f.Out("closed", "%s", st)
				}
				return f.Out("open", "still open after 3 s")
			}),
		spec("keepalive/close-after-te-cl", f.MUST, secConn,
			"RFC 9112 §6.1: after a request with both Content-Length and Transfer-Encoding, the server MUST close the connection after responding.",
			"POST with Content-Length: 5 and Transfer-Encoding: chunked (no smuggled request)",
			"POST /k HTTP/1.1\r\n{H}{P}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", sendOpts{},
			[]f.Outcome{f.Pass("closed", "connection closed (after a response or a refusal)"), f.Fail("open", "connection kept open")},
			func(t *f.T, o *Obs) f.Result {
				if st := o.X.Conn.WaitClosed(3 * time.Second); st != f.StateTimeout {
					return f.Out("closed", "%s; %s", o, st)
				}
				return f.Out("open", "%s; still open after 3 s", o)
			}),
		spec("keepalive/after-400", f.SHOULD, secConn,
			"RFC 9112 §6.3 / §9.6: after responding 400 to unparseable framing the server closes the connection rather than guess where the next request starts.",
			"'GET /k HTTP/1.1' with 'Content-Length: abc', then a GET",
			"POST /k HTTP/1.1\r\n{H}{P}Content-Length: abc\r\n\r\n{S}", sendOpts{},
			[]f.Outcome{f.Pass("closed", "closed after the refusal; nothing more served"), f.NonStrict("continued", "kept reading requests after the bad one"), f.Info("accepted", "the bad request was accepted (see framing specs)")},
			func(t *f.T, o *Obs) f.Result {
				switch {
				case o.Accepted():
					return f.Out("accepted", "%s", o)
				case o.Smuggled || o.Second != nil:
					return f.Out("continued", "%s", o)
				}
				return f.Out("closed", "%s", o)
			}),
	}
}
