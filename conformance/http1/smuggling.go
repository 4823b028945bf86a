package http1

import (
	"fmt"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const secTE = "RFC 9112 §6.1 Transfer-Encoding"

const sentTECL = "RFC 9112 §6.1: A server MAY reject a request that contains both Content-Length and Transfer-Encoding or process such a request in accordance with the Transfer-Encoding alone. Regardless, the server MUST close the connection after responding to such a request to avoid the potential attacks."

// teclJudge grades a request carrying a (possibly obfuscated) chunked
// Transfer-Encoding and a Content-Length: 5 over the body
// "5\r\nhello\r\n0\r\n\r\n" followed by a smuggled GET. Chunked semantics
// make the app read "hello"; Content-Length semantics make it read
// "5\r\nh" and parse the rest as garbage or the smuggled request.
// Whatever the server makes of the request, RFC 9112 §6.1 has it close the
// connection after responding: anything more it sends on the connection
// (the smuggled request's answer, a 400 to leftover bytes) shows it kept
// reading, and so does a connection still open after the suite's wait.
func teclJudge(t *f.T, o *Obs) f.Result {
	switch {
	case o.Smuggled && !(o.Accepted() && string(o.Body) == "hello"):
		return f.Out("smuggled", "%s", o)
	case o.Accepted() && string(o.Body) != "hello":
		return f.Out("length-semantics", "%s", o)
	case o.Smuggled || o.Next.Answered():
		return f.Out("kept-open", "%s; the server went on reading the connection", o)
	case !o.Next.Closed():
		return f.Out("kept-open", "%s", o)
	case o.Accepted():
		return f.Out("chunked-and-closed", "%s", o)
	}
	return teclRefusal.outcome(o, "rejected")
}

// teclRefusal: RFC 9112 §6.1 lets the server reject the request (400), and
// an obfuscated coding it does not understand gets 501 (§6.1).
var teclRefusal = refusal{says: "400 or 501", named: []int{501}}

var teclOutcomes = []f.Outcome{
	teclRefusal.rejected(", then the connection closed; nothing served"),
	f.Pass("chunked-and-closed", "processed as chunked, then the connection closed"),
	f.ServerErrorOutcome(false),
	f.Fail("kept-open", "the connection stayed open after the response, or the server answered more on it (the smuggled request, or a 400 to the bytes after the body)"),
	f.Fail("length-semantics", "Content-Length used: the body is split differently than a chunked-aware peer would"),
	f.Fail("smuggled", "the smuggled request was served"),
}

func teclSpec(id, teLine, stimulus string) *f.Spec {
	return spec("smuggling/"+id, f.MUST, secTE, sentTECL+" An obfuscated Transfer-Encoding must be read exactly as chunked or rejected — never fall back to Content-Length.",
		stimulus, "POST /s HTTP/1.1\r\n{H}{P}Content-Length: 5\r\n"+teLine+"\r\n\r\n5\r\nhello\r\n0\r\n\r\n{S}", sendOpts{}, teclOutcomes, teclJudge)
}

func smugglingSpecs() []*f.Spec {
	specs := []*f.Spec{
		teclSpec("cl-te", "Transfer-Encoding: chunked", "Content-Length: 5 + Transfer-Encoding: chunked, body '5\\r\\nhello\\r\\n0\\r\\n\\r\\n' + a smuggled GET"),
		spec("smuggling/te-cl", f.MUST, secTE, sentTECL, "Transfer-Encoding: chunked before Content-Length: 5 (same body)",
			"POST /s HTTP/1.1\r\n{H}{P}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n{S}", sendOpts{}, teclOutcomes, teclJudge),
		// The vectors above leave bytes that a server reading on may answer
		// with a 400 (Cheroot 9.0 does: its app read 5 octets and the rest of
		// the chunked body is parsed as a request line). Here the body is one
		// whole chunked message and Content-Length counts its 15 octets, so
		// under either framing the GET behind it is a clean request: a server
		// that keeps reading serves it.
		spec("smuggling/cl-te-then-get", f.MUST, secTE, sentTECL,
			"Content-Length: 15 + Transfer-Encoding: chunked, body '5\\r\\nhello\\r\\n0\\r\\n\\r\\n' (15 octets: both framings end at the same octet) + a well-formed GET",
			"POST /s HTTP/1.1\r\n{H}{P}Content-Length: 15\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{S}", sendOpts{}, teclOutcomes, teclJudge),
	}
	for _, c := range []struct{ id, line string }{
		{"te-trailing-space", "Transfer-Encoding: chunked "},
		{"te-leading-tab", "Transfer-Encoding:\tchunked"},
		{"te-uppercase", "Transfer-Encoding: Chunked"},
		{"te-leading-comma", "Transfer-Encoding: ,chunked"},
		{"te-trailing-comma", "Transfer-Encoding: chunked,"},
		{"te-duplicated", "Transfer-Encoding: chunked, chunked"},
		{"te-nbsp", "Transfer-Encoding: \xa0chunked"},
		{"te-vtab", "Transfer-Encoding: \x0bchunked"},
		{"te-obs-fold", "Transfer-Encoding:\r\n chunked"},
		{"te-identity-chunked", "Transfer-Encoding: identity, chunked"},
	} {
		specs = append(specs, teclSpec(c.id, c.line, fmt.Sprintf("Content-Length: 5 + %q, chunked body + a smuggled GET", c.line)))
	}
	specs = append(specs,
		teReject("te-not-final",
			"RFC 9112 §6.3 (4): If a Transfer-Encoding header field is present in a request and the chunked transfer coding is not the final encoding, the message body length cannot be determined reliably; the server MUST respond with the 400 (Bad Request) status code and then close the connection.",
			"Transfer-Encoding: chunked, gzip + a smuggled GET", "Transfer-Encoding: chunked, gzip", "400/close, nothing served"),
		teReject("te-chunked-then-identity",
			"RFC 9112 §6.3 (4): chunked must be the final coding (two field lines 'chunked' then 'identity' make identity final).",
			"Transfer-Encoding: chunked and Transfer-Encoding: identity lines + a smuggled GET", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity", "400/close, nothing served"),
		teReject("te-unknown",
			"RFC 9112 §6.3 (4): a Transfer-Encoding whose final coding is not chunked leaves the body length undeterminable: 400 and close (§6.1: 501 for a coding not understood).",
			"Transfer-Encoding: blegh + a smuggled GET", "Transfer-Encoding: blegh", "4xx/501/close, nothing served"),
		spec("smuggling/te-unknown-501", f.SHOULD, secTE,
			"RFC 9112 §6.1: A server that receives a request message with a transfer coding it does not understand SHOULD respond with 501 (Not Implemented).",
			"Transfer-Encoding: blegh",
			"POST /s HTTP/1.1\r\n{H}{P}Transfer-Encoding: blegh\r\n\r\n5\r\nhello\r\n0\r\n\r\n", sendOpts{},
			[]f.Outcome{f.Pass("501", "501 Not Implemented"), f.NonStrict("other", "another refusal or acceptance")},
			func(t *f.T, o *Obs) f.Result {
				if o.X.Status() == 501 {
					return f.Out("501", "%s", o)
				}
				return f.Out("other", "%s", o)
			}),
	)
	return specs
}

// teReject: a chunked body whose Transfer-Encoding (te, the field lines)
// leaves its length undeterminable, with a GET smuggled behind it: refused
// (RFC 9112 §6.3 (4): MUST respond with 400; the 501 of §6.1 for a coding
// not understood counts), nothing served, the connection closed.
func teReject(id, sentence, stimulus, te, rejected string) *f.Spec {
	return spec("smuggling/"+id, f.MUST, secTE, sentence, stimulus,
		"POST /s HTTP/1.1\r\n{H}{P}"+te+"\r\n\r\n5\r\nhello\r\n0\r\n\r\n{S}", sendOpts{},
		[]f.Outcome{teRefusal.rejected(", then the connection closed; nothing served (" + rejected + ")"), f.ServerErrorOutcome(true),
			f.Fail("kept-open", "refused, but the server went on reading the connection"), f.Fail("accepted", "processed")},
		rejectJudge)
}

// teRefusal: RFC 9112 §6.3 (4) asks for a 400; §6.1's 501 for a transfer
// coding the server does not understand is an answer too.
var teRefusal = refusal{says: "400 or 501", named: []int{501}, statusMust: true}

func rejectJudge(t *f.T, o *Obs) f.Result {
	switch {
	case o.Smuggled || o.Accepted():
		return f.Out("accepted", "%s", o)
	case !o.Next.Closed():
		return f.Out("kept-open", "%s", o)
	}
	return teRefusal.outcome(o, "accepted")
}
