package http1

import (
	"fmt"
	"slices"
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const (
	secCL    = "RFC 9112 §6.3 Message Body Length"
	secChunk = "RFC 9112 §7.1 Chunked Transfer Coding"
)

const sentCL = "RFC 9112 §6.3 (5): If a message is received without Transfer-Encoding and with an invalid Content-Length header field, then the message framing is invalid and the recipient MUST treat it as an unrecoverable error … the server MUST respond with a 400 (Bad Request) status code and then close the connection. (Content-Length = 1*DIGIT.)"

const sentChunk = "RFC 9112 §7.1: chunk-size = 1*HEXDIG … A recipient MUST be able to parse and decode the chunked transfer coding; a malformed chunk size is invalid framing (400 and close; the app never sees the data)."

// chunkedSupported checks whether the server takes chunked requests at
// all (mod_wsgi refuses them by default); chunk-syntax specs are
// UNSUPPORTED otherwise.
func chunkedSupported(t *f.T) bool {
	return t.Target.Memo("chunked", func() any {
		o := observe(t, "POST /c HTTP/1.1\r\n{H}{P}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", sendOpts{})
		return o.Accepted() && string(o.Body) == "hello"
	}).(bool)
}

func chunkSpec(id, level, sentence, stimulus, body string, wantBody string) *f.Spec {
	outs := []f.Outcome{any400.rejected(", the app's read raised, or a wait for bytes that never come; the app got no data"), f.ServerErrorOutcome(false),
		f.Violation(level, "accepted", "the app read data"), f.Unsupported("no-chunked", "the server refuses chunked requests altogether")}
	if wantBody != "" {
		outs = []f.Outcome{f.Pass("decoded", "the app read "+fmt.Sprintf("%q", wantBody)), f.Violation(level, "refused", "refused or misread"), f.Unsupported("no-chunked", "the server refuses chunked requests altogether")}
	}
	return &f.Spec{
		ID: "http1/framing/" + id, Level: level, Section: secChunk, Sentence: sentence, Stimulus: stimulus, Outcomes: outs,
		Run: func(t *f.T) f.Result {
			if !chunkedSupported(t) {
				return f.Out("no-chunked", "a valid chunked POST was not decoded")
			}
			o := observe(t, "POST /c HTTP/1.1\r\n{H}{P}Transfer-Encoding: chunked\r\n\r\n"+body, sendOpts{})
			if wantBody != "" {
				if o.Accepted() && string(o.Body) == wantBody {
					return f.Out("decoded", "%s", o)
				}
				return f.Out("refused", "%s", o)
			}
			// A streaming server calls the app before the body is framed: a
			// read that waits with nothing read took none of the bad chunk,
			// as a buffering server that waits before calling the app.
			if o.Smuggled || o.Accepted() && !(o.Blocked && len(o.Body) == 0) {
				return f.Out("accepted", "%s", o)
			}
			if o.Refusal() == f.ServerError {
				return f.Out(string(f.ServerError), "%s", o)
			}
			return f.Out("rejected", "%s", o)
		},
	}
}

// chunkOverflowSpec: a chunk size past 64 bits must not wrap. Taking it at
// face value (the app's read then waits for the rest of a huge chunk) is as
// correct as refusing it, as for content-length-overflow.
func chunkOverflowSpec() *f.Spec {
	return &f.Spec{
		ID: "http1/framing/chunk-size-overflow", Level: f.MUST, Section: secChunk,
		Sentence: "RFC 9112 §7.1: recipients MUST anticipate potentially large hexadecimal numerals and prevent parsing errors due to integer conversion overflows.",
		Stimulus: "chunk size FFFFFFFFFFFFFFFFF5 (wraps to 5 in 64 bits)",
		Outcomes: []f.Outcome{any400.rejected(", a raised read, or no answer; the app got no complete body"), f.ServerErrorOutcome(false),
			f.Pass("huge", "taken as the huge number: the app's read waits for the rest of the chunk"),
			f.Fail("wrapped", "the app's read ended: the size wrapped to a small number"),
			f.Unsupported("no-chunked", "the server refuses chunked requests altogether")},
		Run: func(t *f.T) f.Result {
			if !chunkedSupported(t) {
				return f.Out("no-chunked", "a valid chunked POST was not decoded")
			}
			o := observe(t, "POST /c HTTP/1.1\r\n{H}{P}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF5\r\nhello\r\n0\r\n\r\n", sendOpts{})
			switch {
			case o.Called && o.Blocked:
				return f.Out("huge", "%s", o)
			case o.Accepted() || o.Smuggled:
				return f.Out("wrapped", "%s", o)
			case o.Refusal() == f.ServerError:
				return f.Out(string(f.ServerError), "%s", o)
			}
			return f.Out("rejected", "%s", o)
		},
	}
}

// framingSpecs: Message Body Length (RFC 9112 §6.3) and the chunked
// transfer coding (§7.1).
func framingSpecs() []*f.Spec { return slices.Concat(contentLengthSpecs(), chunkedSpecs()) }

// contentLengthSpecs: a request body framed by Content-Length, or by
// nothing.
func contentLengthSpecs() []*f.Spec {
	specs := []*f.Spec{
		spec("framing/content-length-valid", f.MUST, secCL,
			"RFC 9112 §6.3 (6): a valid Content-Length gives the body length in octets.",
			"POST with Content-Length: 5 'hello'", "POST /p HTTP/1.1\r\n{H}{P}Content-Length: 5\r\n\r\nhello", sendOpts{},
			[]f.Outcome{f.Pass("read", "the app read 'hello'"), f.Fail("wrong", "anything else")},
			func(t *f.T, o *Obs) f.Result {
				if o.Accepted() && string(o.Body) == "hello" {
					return f.Out("read", "%s", o)
				}
				return f.Out("wrong", "%s", o)
			}),
	}
	for _, c := range []struct{ id, v string }{
		{"plus", "+5"}, {"minus", "-5"}, {"hex", "0x5"}, {"underscore", "0_5"}, {"inner-space", "0 5"},
		{"letters", "5Z"}, {"empty", ""}, {"comma-differs", "5, 6"},
	} {
		specs = append(specs, mustReject("framing/content-length-"+c.id, secCL, sentCL,
			fmt.Sprintf("POST with Content-Length: %s and body 'hello'", c.v),
			"POST /p HTTP/1.1\r\n{H}{P}Content-Length: "+c.v+"\r\n\r\nhello", must400))
	}
	return append(specs,
		mustReject("framing/content-length-duplicate-differing", secCL,
			"RFC 9110 §8.6 / RFC 9112 §6.3 (5): multiple Content-Length field lines with differing values are invalid framing: 400 and close.",
			"Content-Length: 5 and Content-Length: 6", "POST /p HTTP/1.1\r\n{H}{P}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", must400),
		spec("framing/content-length-duplicate-same", f.INFO, secCL,
			"RFC 9110 §8.6: a recipient MAY either reject a message with identical repeated Content-Length values or replace them with the single valid value.",
			"Content-Length: 5 twice", "POST /p HTTP/1.1\r\n{H}{P}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", sendOpts{},
			[]f.Outcome{f.Info("collapsed", "accepted as 5"), f.Info("rejected", "refused"), f.Info("other", "accepted with another body")},
			func(t *f.T, o *Obs) f.Result {
				switch {
				case o.Accepted() && string(o.Body) == "hello":
					return f.Out("collapsed", "%s", o)
				case o.Accepted():
					return f.Out("other", "%s", o)
				}
				return f.Out("rejected", "%s", o)
			}),
		spec("framing/content-length-overflow", f.MUST, secCL,
			"RFC 9112 §6.3 / RFC 9110 §8.6: a recipient MUST anticipate potentially large decimal numerals and prevent parsing errors due to integer conversion overflows.",
			"Content-Length: 18446744073709551621 (2^64 + 5), body 'hello', then the client half-closes",
			"POST /p HTTP/1.1\r\n{H}{P}Content-Length: 18446744073709551621\r\n\r\nhello", sendOpts{halfClose: true},
			[]f.Outcome{any400.rejected(""), f.ServerErrorOutcome(false), f.Pass("huge", "taken as the huge number (the body is incomplete)"), f.Fail("wrapped", "the length wrapped to a small number")},
			func(t *f.T, o *Obs) f.Result {
				if o.Called && o.Env != nil {
					cl, _ := o.Env.Get("CONTENT_LENGTH")
					if cl != "18446744073709551621" && o.ReadErr == "" {
						return f.Out("wrapped", "%s; %s", o, o.Env.Show("CONTENT_LENGTH"))
					}
					return f.Out("huge", "%s; %s", o, o.Env.Show("CONTENT_LENGTH"))
				}
				if o.Called {
					return f.Out("huge", "%s", o)
				}
				return any400.outcome(o, "rejected")
			}),
		spec("framing/body-shorter-than-length", f.MUST, secCL,
			"RFC 9112 §6.3 (6)/§8: if the sender closes the connection before the indicated number of octets are received, the recipient MUST consider the message to be incomplete and close the connection.",
			"Content-Length: 10, 3 bytes sent, then the client half-closes", "POST /p HTTP/1.1\r\n{H}{P}Content-Length: 10\r\n\r\nabc", sendOpts{halfClose: true},
			[]f.Outcome{f.Pass("incomplete", "the server closes; the app never reads a complete 10-byte body"), f.Fail("completed", "the short body was treated as complete, or the connection hangs")},
			func(t *f.T, o *Obs) f.Result {
				if o.Accepted() && len(o.Body) == 10 {
					return f.Out("completed", "%s", o)
				}
				// The client's FIN is the event a server acts on; one that
				// ignores it keeps the connection until an idle timeout of its
				// own, which ReadTimeout keeps clear of.
				if st := o.X.Conn.WaitClosed(f.ReadTimeout); st == f.StateTimeout {
					return f.Out("completed", "%s; connection left open", o)
				}
				return f.Out("incomplete", "%s", o)
			}),
		spec("framing/no-length-no-body", f.MUST, secCL,
			"RFC 9112 §6.3 (7): if this is a request message and none of the above are true, then the message body length is zero (the following bytes are the next request).",
			"POST without Content-Length or Transfer-Encoding, immediately followed by a GET", "POST /p HTTP/1.1\r\n{H}{P}\r\n{S}", sendOpts{},
			pipeOutcomes, pipeJudge),
	)
}

// chunkedSpecs: a chunked request body: chunk sizes, extensions, line
// endings, the last chunk and trailers.
func chunkedSpecs() []*f.Spec {
	var specs []*f.Spec
	for _, c := range []struct{ id, body string }{
		{"hex-prefix", "0x5\r\nhello\r\n0\r\n\r\n"}, {"plus", "+5\r\nhello\r\n0\r\n\r\n"}, {"minus", "-5\r\nhello\r\n0\r\n\r\n"},
		{"underscore", "0_5\r\nhello\r\n0\r\n\r\n"}, {"leading-space", " 5\r\nhello\r\n0\r\n\r\n"}, {"empty", "\r\nhello\r\n0\r\n\r\n"},
		{"non-hex", "5g\r\nhello\r\n0\r\n\r\n"},
	} {
		specs = append(specs, chunkSpec("chunk-size-"+c.id, f.MUST, sentChunk, fmt.Sprintf("chunked body %q", c.body), c.body, ""))
	}
	return append(specs,
		chunkOverflowSpec(),
		chunkSpec("chunk-extension", f.MUST, "RFC 9112 §7.1.1: a recipient MUST ignore unrecognized chunk extensions.",
			"5;foo=\"bar baz\"", "5;foo=\"bar baz\"\r\nhello\r\n0\r\n\r\n", "hello"),
		chunkSpec("chunk-extension-bws", f.SHOULD, "RFC 9112 §7.1.1: chunk-ext = *( BWS \";\" BWS chunk-ext-name [ BWS \"=\" BWS chunk-ext-val ] ) — whitespace around ';' is allowed.",
			"5 ; a=b", "5 ; a=b\r\nhello\r\n0\r\n\r\n", "hello"),
		chunkSpec("chunk-bare-cr", f.MUST, "RFC 9112 §2.2: a sender MUST NOT generate a bare CR … a recipient of such a bare CR MUST consider that element to be invalid or replace each bare CR with SP.",
			"size line '5\\r\\r;x'", "5\r\r;x\r\nhello\r\n0\r\n\r\n", ""),
		chunkSpec("chunk-bare-lf", f.SHOULD, "RFC 9112 §2.2 allows a recipient to accept a bare LF as a line terminator, but in chunked framing it is a smuggling vector (HTTP Garden): rejecting is preferred.",
			"'5\\nhello\\n0\\n\\n'", "5\nhello\n0\n\n", ""),
		chunkSpec("chunk-data-too-long", f.MUST, "RFC 9112 §7.1: chunk-data is followed by CRLF; extra data before the CRLF is invalid framing (cheroot resynchronised on it: cherrypy#2018).",
			"'5\\r\\nhelloXX\\r\\n0\\r\\n\\r\\n'", "5\r\nhelloXX\r\n0\r\n\r\n", ""),
		&f.Spec{
			ID: "http1/framing/chunk-missing-terminator", Level: f.MUST, Section: secChunk,
			Sentence: "RFC 9112 §7.1/§8: a chunked message that ends before its last chunk and final CRLF is incomplete: the server must not treat the body as complete.",
			Stimulus: "chunked '5\\r\\nhello\\r\\n' and then the client half-closes (no last chunk).",
			Outcomes: []f.Outcome{f.Pass("incomplete", any400.statuses()+", or the app's read raised"), f.ServerErrorOutcome(false),
				f.Fail("completed", "the app's read ended without an error: the body was taken as complete"), f.Unsupported("no-chunked", "chunked requests refused")},
			Run: func(t *f.T) f.Result {
				if !chunkedSupported(t) {
					return f.Out("no-chunked", "a valid chunked POST was not decoded")
				}
				o := observe(t, "POST /c HTTP/1.1\r\n{H}{P}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", sendOpts{halfClose: true})
				switch {
				case o.Accepted():
					return f.Out("completed", "%s", o)
				case o.Refusal() == f.ServerError:
					return f.Out(string(f.ServerError), "%s", o)
				}
				return f.Out("incomplete", "%s", o)
			},
		},
		&f.Spec{
			ID: "http1/framing/trailer-not-merged", Level: f.MUST, Section: "RFC 9112 §7.1.2 Chunked Trailer Section",
			Sentence: "RFC 9112 §7.1.2 / RFC 9110 §6.5.1: a recipient MUST NOT merge a received trailer field into the header section unless its corresponding header field definition explicitly permits and instructs how the trailer field value can be safely merged.",
			Stimulus: "chunked 'hello' with trailers Content-Length: 99, Host: evil, X-Trailer: t",
			Outcomes: []f.Outcome{f.Pass("separate", "environ unchanged by the trailers (or the request refused)"), f.Fail("merged", "a trailer changed HTTP_HOST or CONTENT_LENGTH"), f.Unsupported("no-chunked", "chunked requests refused")},
			Run: func(t *f.T) f.Result {
				if !chunkedSupported(t) {
					return f.Out("no-chunked", "a valid chunked POST was not decoded")
				}
				o := observe(t, "POST /c HTTP/1.1\r\n{H}{P}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 99\r\nHost: evil\r\nX-Trailer: t\r\n\r\n", sendOpts{})
				if !o.Accepted() {
					return f.Out("separate", "%s", o)
				}
				h, _ := o.Env.Get("HTTP_HOST")
				cl, _ := o.Env.Get("CONTENT_LENGTH")
				if strings.Contains(h, "evil") || cl == "99" {
					return f.Out("merged", "%s %s", o.Env.Show("HTTP_HOST"), o.Env.Show("CONTENT_LENGTH"))
				}
				return f.Out("separate", "%s %s; %s", o.Env.Show("HTTP_HOST"), o.Env.Show("CONTENT_LENGTH"), o.Env.Show("HTTP_X_TRAILER"))
			},
		},
	)
}
