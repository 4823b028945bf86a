package http1

import (
	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const secHost = "RFC 9112 §3.2 Request Target and Host"

const sentHost = "RFC 9112 §3.2: A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request message that lacks a Host header field and to any request message that contains more than one Host header field line or a Host header field with an invalid field value."

func hostSpecs() []*f.Spec {
	return []*f.Spec{
		mustReject("host/missing", secHost, sentHost, "'GET /h HTTP/1.1' without Host", "GET /h HTTP/1.1\r\n{P}\r\n", must400),
		mustReject("host/duplicate", secHost, sentHost, "two Host lines", "GET /h HTTP/1.1\r\n{H}Host: other\r\n{P}\r\n", must400),
		mustReject("host/invalid-space", secHost, sentHost, "'Host: a b'", "GET /h HTTP/1.1\r\nHost: a b\r\n{P}\r\n", must400),
		mustReject("host/invalid-userinfo", secHost, sentHost, "'Host: user@a'", "GET /h HTTP/1.1\r\nHost: user@a\r\n{P}\r\n", must400),
		mustReject("host/invalid-slash", secHost, sentHost, "'Host: a/b'", "GET /h HTTP/1.1\r\nHost: a/b\r\n{P}\r\n", must400),
		info("host/http10-missing", secHost,
			"RFC 9112 §3.2: the Host requirement is for HTTP/1.1; an HTTP/1.0 request without Host is usually accepted.",
			"'GET /h HTTP/1.0' without Host", "GET /h HTTP/1.0\r\n{P}\r\n", envShow("SERVER_NAME")),
		spec("host/absolute-form-accepted", f.MUST, secHost,
			"RFC 9112 §3.2.2: a server MUST accept the absolute-form in requests even though most HTTP/1.1 clients will only send the absolute-form to a proxy.",
			"'GET http://example.com/abs?q=1 HTTP/1.1' with Host: example.com",
			"GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n{P}\r\n", sendOpts{},
			[]f.Outcome{f.Pass("accepted", "PATH_INFO '/abs', QUERY_STRING 'q=1'"), f.Fail("wrong", "refused or the target misread")},
			func(t *f.T, o *Obs) f.Result {
				if !o.Accepted() {
					return f.Out("wrong", "%s", o)
				}
				pi, _ := o.Env.Get("PATH_INFO")
				qs, _ := o.Env.Get("QUERY_STRING")
				if pi == "/abs" && qs == "q=1" {
					return f.Out("accepted", "%s %s", o.Env.Show("PATH_INFO"), o.Env.Show("QUERY_STRING"))
				}
				return f.Out("wrong", "%s %s", o.Env.Show("PATH_INFO"), o.Env.Show("QUERY_STRING"))
			}),
		mustReject("host/asterisk-non-options", secHost,
			"RFC 9112 §3.2.4: the asterisk-form is only used for a server-wide OPTIONS request.",
			"'GET * HTTP/1.1'", "GET * HTTP/1.1\r\n{H}{P}\r\n", any400),
		mustReject("host/authority-form-non-connect", secHost,
			"RFC 9112 §3.2.3: the authority-form is only used for CONNECT requests.",
			"'GET example.com:80 HTTP/1.1'", "GET example.com:80 HTTP/1.1\r\n{H}{P}\r\n", any400),
	}
}
