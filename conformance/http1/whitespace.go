package http1

import (
	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const (
	secFields = "RFC 9112 §5 Field Syntax"
	secLine   = "RFC 9112 §2–3 Message Format and Request Line"
)

func whitespaceSpecs() []*f.Spec {
	return []*f.Spec{
		mustReject("whitespace/before-colon-content-length", secFields,
			"RFC 9112 §5.1: No whitespace is allowed between the field name and colon … A server MUST reject, with a response status code of 400 (Bad Request), any received request message that contains whitespace between a header field name and colon.",
			"'Content-Length : 5' with body 'hello'", "POST /w HTTP/1.1\r\n{H}{P}Content-Length : 5\r\n\r\nhello", must400),
		mustReject("whitespace/before-colon-header", secFields,
			"RFC 9112 §5.1: A server MUST reject … any received request message that contains whitespace between a header field name and colon.",
			"'X-Ws : 1'", "GET /w HTTP/1.1\r\n{H}{P}X-Ws : 1\r\n\r\n", must400),
		mustReject("whitespace/tab-before-colon", secFields,
			"RFC 9112 §5.1: whitespace (including HTAB) between field name and colon MUST be rejected with 400.",
			"'X-Ws\\t: 1'", "GET /w HTTP/1.1\r\n{H}{P}X-Ws\t: 1\r\n\r\n", must400),
		spec("whitespace/obs-fold", f.MUST, secFields,
			"RFC 9112 §5.2: A server that receives an obs-fold in a request message … MUST either reject the message by sending a 400 (Bad Request) … or replace each received obs-fold with one or more SP octets prior to interpreting the field value.",
			"'X-Fold: a\\r\\n b'", "GET /w HTTP/1.1\r\n{H}{P}X-Fold: a\r\n b\r\n\r\n", sendOpts{},
			[]f.Outcome{must400.rejected(""), f.ServerErrorOutcome(true), f.Pass("unfolded", "HTTP_X_FOLD is 'a' + SP(s) + 'b'"), f.Fail("other", "anything else (the continuation became a header, or was lost)")},
			func(t *f.T, o *Obs) f.Result {
				if !o.Accepted() {
					return must400.outcome(o, "other")
				}
				v, _ := o.Env.Get("HTTP_X_FOLD")
				if len(v) >= 3 && v[0] == 'a' && v[len(v)-1] == 'b' && onlySpaces(v[1:len(v)-1]) {
					return f.Out("unfolded", "%s", o.Env.Show("HTTP_X_FOLD"))
				}
				return f.Out("other", "%s", o.Env.Show("HTTP_X_FOLD"))
			}),
		spec("whitespace/before-first-header", f.MUST, secFields,
			"RFC 9112 §2.2: A recipient that receives whitespace between the start-line and the first header field MUST either reject the message as invalid or consume each whitespace-preceded line without further processing of it.",
			"'GET / HTTP/1.1\\r\\n X-Lead: 1\\r\\n…'", "GET /w HTTP/1.1\r\n X-Lead: 1\r\n{H}{P}\r\n", sendOpts{},
			[]f.Outcome{any400.rejected(""), f.ServerErrorOutcome(false), f.Pass("ignored", "the line was ignored (no HTTP_X_LEAD, Host intact)"), f.Fail("processed", "the line was processed")},
			func(t *f.T, o *Obs) f.Result {
				if !o.Accepted() {
					return any400.outcome(o, "processed")
				}
				if _, ok := o.Env["HTTP_X_LEAD"]; ok {
					return f.Out("processed", "%s", o.Env.Show("HTTP_X_LEAD"))
				}
				return f.Out("ignored", "%s", o.Env.Show("HTTP_HOST"))
			}),
		shouldReject("whitespace/request-line-double-space", secLine,
			"RFC 9112 §3: A recipient … SHOULD NOT attempt to autocorrect and then process the request without a redirect, since the invalid request-line might be deliberately crafted to bypass security filters (single SP between components; lenient parsing MAY be done).",
			"'GET  /w HTTP/1.1' (two spaces)", "GET  /w HTTP/1.1\r\n{H}{P}\r\n"),
		shouldReject("whitespace/request-line-tab", secLine,
			"RFC 9112 §3: the request-line components are separated by single SP; HTAB as separator is lenient parsing.",
			"'GET\\t/w\\tHTTP/1.1'", "GET\t/w\tHTTP/1.1\r\n{H}{P}\r\n"),
		spec("whitespace/leading-empty-line", f.SHOULD, secLine,
			"RFC 9112 §2.2: a server that is expecting to receive and parse a request-line SHOULD ignore at least one empty line (CRLF) received prior to the request-line.",
			"'\\r\\nGET /w HTTP/1.1…'", "\r\nGET /w HTTP/1.1\r\n{H}{P}\r\n", sendOpts{method: "GET"},
			[]f.Outcome{f.Pass("ignored", "the request was served"), f.NonStrict("rejected", "refused")},
			func(t *f.T, o *Obs) f.Result {
				if o.Accepted() {
					return f.Out("ignored", "%s", o)
				}
				return f.Out("rejected", "%s", o)
			}),
		info("whitespace/bare-lf-line-endings", secLine,
			"RFC 9112 §2.2: a recipient MAY recognize a single LF as a line terminator and ignore any preceding CR.",
			"'GET /w HTTP/1.1\\nHost: …\\n…\\n\\n' (bare LF everywhere)",
			"GET /w HTTP/1.1\n{H}{P}\n", envShow("PATH_INFO")),
	}
}

func onlySpaces(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c != ' ' && c != '\t' {
			return false
		}
	}
	return true
}
