package http1

import (
	"fmt"
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

const secLimits = "RFC 9112 §3 / RFC 9110 §15.5 Limits"

func limitSpecs() []*f.Spec {
	// The length is in the query: Apache maps the path onto the file system
	// and answers 404 past PATH_MAX (4096), whatever its request-line limit.
	long8000 := "/l?q=" + strings.Repeat("a", 7976)
	huge := "/" + strings.Repeat("b", 100<<10)
	var many strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&many, "X-Many-%d: %d\r\n", i, i)
	}
	return []*f.Spec{
		spec("limits/request-line-8000", f.SHOULD, secLimits,
			"RFC 9112 §3: It is RECOMMENDED that all HTTP senders and recipients support, at a minimum, request-line lengths of 8000 octets.",
			"GET with a ~8000-octet request-line", "GET "+long8000+" HTTP/1.1\r\n{H}{P}\r\n", sendOpts{},
			[]f.Outcome{f.Pass("accepted", "served"), f.NonStrict("refused", "refused")},
			func(t *f.T, o *Obs) f.Result {
				if o.Accepted() {
					return f.Out("accepted", "%s", o.X.Resp.StatusLine)
				}
				return f.Out("refused", "%s", o)
			}),
		spec("limits/request-line-huge", f.SHOULD, secLimits,
			"RFC 9112 §3: A server that receives a request-target longer than any URI it wishes to parse MUST respond with a 414 (URI Too Long) status code (other refusals are NON-STRICT).",
			"GET with a 100 KiB request-target", "GET "+huge+" HTTP/1.1\r\n{H}{P}\r\n", sendOpts{},
			[]f.Outcome{f.Pass("414", "414 URI Too Long"), f.Info("accepted", "served (the server accepts long targets)"), f.NonStrict("other", "another refusal (400, 431, close)")},
			func(t *f.T, o *Obs) f.Result {
				switch {
				case o.X.Status() == 414:
					return f.Out("414", "%s", o.X.Resp.StatusLine)
				case o.Accepted():
					return f.Out("accepted", "%s", o.X.Resp.StatusLine)
				}
				return f.Out("other", "%s", o)
			}),
		info("limits/many-headers", secLimits,
			"RFC 9110 §15.5.20 / RFC 6585 §5: servers limit header counts (431 or 400); the limit is recorded.",
			"200 header lines", "GET /l HTTP/1.1\r\n{H}{P}"+many.String()+"\r\n",
			func(o *Obs) string { return "" }),
		info("limits/large-header", secLimits,
			"RFC 9110 §15.5.20: servers limit field sizes (431 or 400); the limit is recorded.",
			"one 64 KiB header value", "GET /l HTTP/1.1\r\n{H}{P}X-Big: "+strings.Repeat("v", 64<<10)+"\r\n\r\n",
			func(o *Obs) string { return "" }),
		spec("limits/method-long", f.INFO, secLimits,
			"RFC 9112 §3: a server that receives a method longer than any that it implements SHOULD respond with 501 (recorded: unknown long methods may also be served).",
			"a 100-character method", strings.Repeat("M", 100)+" /l HTTP/1.1\r\n{H}{P}\r\n", sendOpts{},
			[]f.Outcome{f.Info("501", "501 Not Implemented"), f.Info("accepted", "served"), f.Info("other", "another refusal")},
			func(t *f.T, o *Obs) f.Result {
				switch {
				case o.X.Status() == 501:
					return f.Out("501", "%s", o.X.Resp.StatusLine)
				case o.Accepted():
					return f.Out("accepted", "%s", o.X.Resp.StatusLine)
				}
				return f.Out("other", "%s", o)
			}),
	}
}
