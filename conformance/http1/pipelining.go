package http1

import (
	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const secPipe = "RFC 9112 §9.3.2 Pipelining"

func pipeliningSpecs() []*f.Spec {
	return []*f.Spec{
		spec("pipelining/bad-after-good", f.MUST, secPipe,
			"RFC 9112 §9.3.2: a server MAY process pipelined requests in parallel … MUST send the corresponding responses in the same order; a bad request behind a good one must not lose the good one's response.",
			"'GET /p …\\r\\n\\r\\nINVALID\\r\\n\\r\\n' in one write", "GET /p HTTP/1.1\r\n{H}{P}\r\nINVALID\r\n\r\n", sendOpts{},
			[]f.Outcome{f.Pass("delivered", "the first response arrives complete"), f.Fail("lost", "the first response was lost or cut")},
			func(t *f.T, o *Obs) f.Result {
				if o.Accepted() && o.X.Resp != nil && o.X.Resp.Status == 200 && o.X.Resp.Complete {
					return f.Out("delivered", "%s", o)
				}
				return f.Out("lost", "%s", o)
			}),
		spec("pipelining/zero-length-post-then-get", f.MUST, secPipe,
			"RFC 9112 §6.3: a request with Content-Length: 0 has no body; a request pipelined in the same segment is the next request, not body (HTTP Garden bug 48).",
			"POST Content-Length: 0 and a GET in one write", "POST /p HTTP/1.1\r\n{H}{P}Content-Length: 0\r\n\r\n{S}", sendOpts{},
			pipeOutcomes, pipeJudge),
		fragSpec("pipelining/fragmented-bytes", "the request sent one byte at a time for its first 40 bytes", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5}),
		fragSpec("pipelining/fragmented-header-boundary", "split inside the final CRLFCRLF and inside the body", []int{60, 1, 1, 1}),
	}
}

var pipeOutcomes = []f.Outcome{
	f.Pass("both", "two responses; the app read b''"),
	f.Pass("closed", "one response announcing close, then a clean close"),
	f.NonStrict("dropped", "the GET was never answered, though the first response did not announce a close (the connection closed later; clients must retry)"),
	f.Fail("swallowed", "the GET was read as body, or the connection hangs with the GET unanswered"),
	f.Fail("collapsed", "only the GET was answered, in the POST's place: the POST never reached the app (RFC 9112 §9.3.2: one response per request, in order)"),
}

// pipeJudge grades a zero-length request followed by a pipelined GET.
func pipeJudge(t *f.T, o *Obs) f.Result {
	switch {
	case o.Collapsed:
		return f.Out("collapsed", "%s", o)
	case o.X.Status() == 411 && !o.Called:
		return f.Out("closed", "411 Length Required")
	case !o.Accepted() || len(o.Body) != 0:
		return f.Out("swallowed", "%s", o)
	case o.Answered2:
		return f.Out("both", "%s", o)
	case o.X.Resp.AnnouncedClose() && !o.Next.Answered():
		return f.Out("closed", "%s", o)
	case o.Next.Closed():
		// A close within ReadTimeout: an idle timeout of the server's own
		// (2, 4, 5 or 10 s) never falls on the edge of the watch.
		return f.Out("dropped", "%s; the connection closed without an answer to the GET", o)
	}
	return f.Out("swallowed", "%s; the GET is unanswered", o)
}

func fragSpec(id, stimulus string, frags []int) *f.Spec {
	return spec(id, f.MUST, secPipe,
		"RFC 9112 §2: a request split at arbitrary byte boundaries (TCP segments) parses exactly as if sent whole.",
		stimulus, "POST /frag?x=1 HTTP/1.1\r\n{H}{P}Content-Length: 5\r\n\r\nhello", sendOpts{fragments: frags},
		[]f.Outcome{f.Pass("identical", "served with body 'hello', path '/frag'"), f.Fail("different", "refused or misparsed")},
		func(t *f.T, o *Obs) f.Result {
			if o.Accepted() && string(o.Body) == "hello" {
				if v, _ := o.Env.Get("PATH_INFO"); v == "/frag" {
					return f.Out("identical", "%s", o)
				}
			}
			return f.Out("different", "%s", o)
		})
}
