package http1

import (
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const secVersion = "RFC 9112 §2.3 HTTP Version / HTTP/1.0"

const sentVersion = "RFC 9112 §2.3: HTTP-version = HTTP-name \"/\" DIGIT \".\" DIGIT (case-sensitive); a request with an invalid or unsupported version is refused (400, or 505 HTTP Version Not Supported)."

// versionRefusal: a request with an invalid or unsupported version gets
// 400, or 505 HTTP Version Not Supported (RFC 9110 §15.6.6).
var versionRefusal = refusal{says: "400 or 505", named: []int{505}}

func http10Specs() []*f.Spec {
	specs := []*f.Spec{
		spec("http10/te-chunked", f.MUST, secVersion,
			"RFC 9112 §6.1: A server or client that receives an HTTP/1.0 message containing a Transfer-Encoding header field MUST treat the message as if the framing is faulty, even if a Content-Length is present, and close the connection after processing the message.",
			"POST HTTP/1.0 with Transfer-Encoding: chunked, Connection: keep-alive, Content-Length: 5, then a smuggled GET",
			"POST /v HTTP/1.0\r\n{H}{P}Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n{S}", sendOpts{},
			[]f.Outcome{any400.rejected(", then the connection closed; nothing served after"), f.ServerErrorOutcome(false),
				f.Pass("closed", "processed, then closed; nothing served after"), f.Fail("kept", "the connection stayed open after the response, or the server answered more on it")},
			func(t *f.T, o *Obs) f.Result {
				switch {
				case o.Smuggled || !o.Next.Closed():
					return f.Out("kept", "%s", o)
				case o.Accepted():
					return f.Out("closed", "%s", o)
				}
				return any400.outcome(o, "kept")
			}),
		spec("http10/http09-request", f.INFO, secVersion,
			"RFC 9112 Appendix C.1: HTTP/0.9 simple requests ('GET /') — servers may answer or refuse (recorded).",
			"'GET /v' with no version", "GET /v\r\n\r\n", sendOpts{method: "GET"},
			[]f.Outcome{f.Info("answered", "answered with a status line"), f.Info("answered-0.9", "answered HTTP/0.9-style (bare body)"), f.Info("refused", "refused or closed")},
			func(t *f.T, o *Obs) f.Result {
				switch {
				case o.X.Resp != nil && o.X.Resp.Malformed == "" && o.X.Resp.Status < 400:
					return f.Out("answered", "%s", o.X.Resp.StatusLine)
				case o.X.Resp != nil && o.X.Resp.Malformed != "":
					return f.Out("answered-0.9", "%s", o)
				}
				return f.Out("refused", "%s", o)
			}),
		spec("http10/missing-target", f.MUST, secLine,
			"RFC 9112 §3: request-line = method SP request-target SP HTTP-version; a request-line without a target is invalid (400).",
			"'GET HTTP/1.1'", "GET HTTP/1.1\r\n{H}{P}\r\n", sendOpts{method: "GET"},
			[]f.Outcome{any400.rejected(""), f.ServerErrorOutcome(false), f.NonStrict("http09", "taken as an HTTP/0.9 request for the path 'HTTP/1.1'"), f.Fail("accepted", "served as HTTP/1.x")},
			func(t *f.T, o *Obs) f.Result {
				switch {
				case o.Accepted() && (o.X.Resp == nil || o.X.Resp.Malformed != ""):
					return f.Out("http09", "%s", o)
				case o.Accepted():
					return f.Out("accepted", "%s", o)
				}
				return any400.outcome(o, "accepted")
			}),
		spec("http10/expect-unknown", f.INFO, secVersion,
			"RFC 9110 §10.1.1: a server that receives an Expect field value containing a member other than 100-continue MAY respond with 417 (Expectation Failed).",
			"GET with Expect: 101-unknown", "GET /v HTTP/1.1\r\n{H}{P}Expect: 101-unknown\r\n\r\n", sendOpts{},
			[]f.Outcome{f.Info("417", "417 Expectation Failed"), f.Info("ignored", "processed normally")},
			func(t *f.T, o *Obs) f.Result {
				if o.X.Status() == 417 {
					return f.Out("417", "%s", o)
				}
				return f.Out("ignored", "%s", o)
			}),
	}
	for _, v := range []struct{ id, version string }{
		{"version-two-digit-minor", "HTTP/1.32"}, {"version-three-digits", "HTTP/111"}, {"version-lowercase", "http/1.1"},
		{"version-other-protocol", "FTP/1.1"}, {"version-garbage", "HTTP/1.1x"},
	} {
		specs = append(specs, spec("http10/"+v.id, f.MUST, secVersion, sentVersion,
			"'GET /v "+v.version+"'", "GET /v "+v.version+"\r\n{H}{P}\r\n", sendOpts{method: "GET"},
			[]f.Outcome{versionRefusal.rejected(""), f.ServerErrorOutcome(false),
				// RFC 9110 §6.2: the proxy forwards with its own version, so the
				// server never saw the invalid one; the stack still served it
				// where RFC 9112 §2.2 asks for a 400 (a SHOULD).
				f.NonStrict("proxy-normalised", "behind a proxy: taken as HTTP/1.x and forwarded with the proxy's own version"),
				f.Fail("accepted", "served as if valid")},
			func(t *f.T, o *Obs) f.Result {
				if o.Accepted() {
					p, _ := o.Env.Get("SERVER_PROTOCOL")
					if px := t.Target.Proxy; px != nil && p == px.Version {
						return f.Out("proxy-normalised", "%s; SERVER_PROTOCOL %q, what %s forwards with", o, p, px.Name)
					}
					return f.Out("accepted", "%s; SERVER_PROTOCOL %q", o, strings.TrimSpace(p))
				}
				return versionRefusal.outcome(o, "accepted")
			}))
	}
	specs = append(specs, spec("http10/version-2", f.SHOULD, secVersion,
		"RFC 9112 §2.3 / RFC 9110 §6.2: HTTP/2.0 in an HTTP/1.x request-line is a major version the HTTP/1.1 syntax does not carry; a server should refuse it (505, or 400) rather than serve it as HTTP/1.1.",
		"'GET /v HTTP/2.0'", "GET /v HTTP/2.0\r\n{H}{P}\r\n", sendOpts{method: "GET"},
		[]f.Outcome{versionRefusal.rejected(""), f.ServerErrorOutcome(false), f.NonStrict("accepted", "served")},
		func(t *f.T, o *Obs) f.Result {
			if o.Accepted() {
				p, _ := o.Env.Get("SERVER_PROTOCOL")
				return f.Out("accepted", "%s; SERVER_PROTOCOL %q", o, p)
			}
			return versionRefusal.outcome(o, "accepted")
		}))
	return specs
}
