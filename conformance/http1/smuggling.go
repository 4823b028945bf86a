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
func teclJudge(t *f.T, o *Obs) f.Result {
	switch {
	case o.Smuggled && !(o.Accepted() && string(o.Body) == "hello"):
		return f.Out("smuggled", "%s", o)
	case o.Smuggled:
		return f.Out("kept-open", "%s; the next request was served on the same connection", o)
	case o.Accepted() && string(o.Body) != "hello":
		return f.Out("length-semantics", "%s", o)
	case o.Accepted() && !o.X.Closed() && o.X.Conn.WaitClosed(f.ReadTimeout) == f.StateTimeout:
		return f.Out("kept-open", "%s; connection kept open", o)
	case o.Accepted():
		return f.Out("chunked-and-closed", "%s", o)
	}
	return f.Out("rejected", "%s", o)
}

var teclOutcomes = []f.Outcome{
	f.Pass("rejected", "400 (or close); nothing served"),
	f.Pass("chunked-and-closed", "processed as chunked, then the connection closed"),
	f.Fail("kept-open", "processed as chunked but the connection stayed open"),
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
// leaves its length undeterminable, with a GET smuggled behind it: refused,
// nothing served.
func teReject(id, sentence, stimulus, te, rejected string) *f.Spec {
	return spec("smuggling/"+id, f.MUST, secTE, sentence, stimulus,
		"POST /s HTTP/1.1\r\n{H}{P}"+te+"\r\n\r\n5\r\nhello\r\n0\r\n\r\n{S}", sendOpts{},
		[]f.Outcome{f.Pass("rejected", rejected), f.Fail("accepted", "processed")},
		rejectJudge)
}

func rejectJudge(t *f.T, o *Obs) f.Result {
	if o.Smuggled || o.Accepted() {
		return f.Out("accepted", "%s", o)
	}
	return f.Out("rejected", "%s", o)
}
