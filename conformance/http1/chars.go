package http1

import (
	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const secChars = "RFC 9110 §5 Fields (characters)"

const sentName = "RFC 9110 §5.1 / §5.6.2: field-name = token (1*tchar); a message with an invalid field name is invalid: 400."
const sentCRLFNUL = "RFC 9110 §5.5: Field values containing CR, LF, or NUL characters are invalid and dangerous … a recipient of CR, LF, or NUL within a field value MUST either reject the message or replace each of those characters with SP before further processing or forwarding of that message."

// replacedOrRejected grades a value that must be rejected or have its bad
// octet replaced by SP in HTTP_X_V.
func replacedOrRejected(want string) judge {
	return func(t *f.T, o *Obs) f.Result {
		if !o.Accepted() {
			return any400.outcome(o, "passed")
		}
		if _, ok := o.Env["HTTP_B"]; ok {
			return f.Out("passed", "a new header HTTP_B appeared: %s", o.Env.Show("HTTP_B"))
		}
		if v, _ := o.Env.Get("HTTP_X_V"); v == want {
			return f.Out("replaced", "%s", o.Env.Show("HTTP_X_V"))
		}
		return f.Out("passed", "%s", o.Env.Show("HTTP_X_V"))
	}
}

var replOutcomes = []f.Outcome{any400.rejected(""), f.ServerErrorOutcome(false), f.Pass("replaced", "the octet became SP"), f.Fail("passed", "passed through, truncated, or turned into a new header")}

func charSpecs() []*f.Spec {
	return []*f.Spec{
		mustRejectField("chars/header-name-empty", secChars, sentName, "': empty-name'", "GET /c HTTP/1.1\r\n{H}{P}: empty-name\r\n\r\n"),
		mustRejectField("chars/header-name-nul", secChars, sentName, "'\\x00X-Nul: 1'", "GET /c HTTP/1.1\r\n{H}{P}\x00X-Nul: 1\r\n\r\n"),
		mustRejectField("chars/header-name-non-ascii", secChars, sentName, "'X-Caf\\xe9: 1'", "GET /c HTTP/1.1\r\n{H}{P}X-Caf\xe9: 1\r\n\r\n"),
		mustRejectField("chars/header-name-x85-suffix", secChars, sentName+" (gunicorn stripped \\x85/\\xa0 from names: HTTP Garden bug 20)",
			"'Content-Length\\x85: 5' with body 'hello'", "POST /c HTTP/1.1\r\n{H}{P}Content-Length\x85: 5\r\n\r\nhello"),
		mustRejectField("chars/header-name-separator", secChars, sentName, "'X(Sep): 1'", "GET /c HTTP/1.1\r\n{H}{P}X(Sep): 1\r\n\r\n"),
		spec("chars/header-value-nul", f.MUST, secChars, sentCRLFNUL, "'X-V: a\\x00b'",
			"GET /c HTTP/1.1\r\n{H}{P}X-V: a\x00b\r\n\r\n", sendOpts{}, replOutcomes, replacedOrRejected("a b")),
		spec("chars/header-value-bare-cr", f.MUST, secChars, sentCRLFNUL+" RFC 9112 §2.2: a bare CR is invalid or replaced by SP — never a line terminator.",
			"'X-V: a\\rB: y'", "GET /c HTTP/1.1\r\n{H}{P}X-V: a\rB: y\r\n\r\n", sendOpts{}, replOutcomes, replacedOrRejected("a B: y")),
		info("chars/header-value-ctl", secChars,
			"RFC 9110 §5.5: other CTL octets in field values are invalid syntax, but recipients MAY retain them (gunicorn rejects).",
			"'X-V: a\\x07b'", "GET /c HTTP/1.1\r\n{H}{P}X-V: a\x07b\r\n\r\n", envShow("HTTP_X_V")),
		info("chars/header-value-del", secChars,
			"RFC 9110 §5.5: DEL (0x7F) in a field value — rejected or retained (recorded).",
			"'X-V: a\\x7fb'", "GET /c HTTP/1.1\r\n{H}{P}X-V: a\x7fb\r\n\r\n", envShow("HTTP_X_V")),
		mustReject("chars/method-separator", secLine,
			"RFC 9110 §9.1 / RFC 9112 §3: method = token; a request-line with an invalid method is invalid (400).",
			"'G(E)T /c HTTP/1.1'", "G(E)T /c HTTP/1.1\r\n{H}{P}\r\n", any400),
		mustReject("chars/method-nul", secLine,
			"RFC 9112 §3: method = token; NUL is not a tchar.",
			"'GE\\x00T /c HTTP/1.1'", "GE\x00T /c HTTP/1.1\r\n{H}{P}\r\n", any400),
		mustReject("chars/target-space", secLine,
			"RFC 9112 §3: request-target cannot contain whitespace; a request-line with extra components is invalid (400 or 301; never the wrong target).",
			"'GET /a b HTTP/1.1'", "GET /a b HTTP/1.1\r\n{H}{P}\r\n", any400),
	}
}
