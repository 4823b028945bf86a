package pep3333

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// expectSpecs: HTTP 1.1 Expect/Continue.
func expectSpecs() []*f.Spec {
	return []*f.Spec{
		expect100(),
		&f.Spec{
			ID: "pep3333/input/expect-100-not-read", Level: f.MUST, Section: secExpect,
			Sentence: "If the app never reads wsgi.input, the final response stays well-formed: at most one 100 Continue, and only before the final status line.",
			Stimulus: "POST Expect: 100-continue, Content-Length 5 (body sent after 1 s or a 100); the app answers 200 without reading; then a GET on the same connection.",
			Outcomes: []f.Outcome{f.Pass("clean", "final response well-formed, no 100 after it"), f.Fail("stray-100", "a 100 Continue after or inside the final response")},
			Run: func(t *f.T) f.Result {
				c := t.Dial()
				id := t.NewID()
				head := f.Req{ID: id, Method: "POST", Do: "hello", Headers: []string{"Expect: 100-continue", "Content-Length: 5"}}.Build(t.Host())
				_ = c.Send(head)
				c.WaitFor([]byte("\r\n\r\n"), time.Second) // a stimulus: the body comes after a 100 or 1 s
				_ = c.SendString("hello")
				r, err := c.ReadResponse("POST", f.ReadTimeout)
				if err != nil {
					t.Fatalf("no response: %v", err)
				}
				if r.Status != 200 {
					return f.Out("stray-100", "final %s", r.Summary())
				}
				// A stray 100 would come before the answer to the next request
				// (or before the close): the GET is the event that ends the wait.
				_ = c.Send(f.Req{ID: t.NewID(), Do: "hello"}.Build(t.Host()))
				next := c.ReadNext("GET", f.ReadTimeout)
				stray := bytes.Contains(next.Extra, []byte(" 100")) || next.Resp != nil && len(next.Resp.Interim) > 0 || bytes.Contains(r.Body, []byte("HTTP/1.1 100"))
				if stray {
					return f.Out("stray-100", "after the final response: %s", next)
				}
				return f.Out("clean", "%d interim, final %s; %s", len(r.Interim), r.StatusLine, next)
			},
		},
		&f.Spec{
			ID: "pep3333/input/expect-100-http10", Level: f.MUST, Section: secExpect,
			Sentence: "RFC 9110 §15.2: a server MUST NOT send a 1xx response to an HTTP/1.0 client.",
			Stimulus: "POST HTTP/1.0 with Expect: 100-continue and a 5-byte body sent at once; the app reads it.",
			Outcomes: []f.Outcome{f.Pass("no-1xx", "no interim response"), f.Fail("sent-1xx", "a 1xx was sent")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Proto: "HTTP/1.0", Method: "POST", Do: "input", Headers: []string{"Expect: 100-continue"}, Body: []byte("hello"), Args: map[string]any{"ops": [][]any{op("read", 5)}}})
				mustRespond(t, x)
				if len(x.Resp.Interim) > 0 {
					return f.Out("sent-1xx", "%s", x.Resp.Interim[0].StatusLine)
				}
				return f.Out("no-1xx", "%s", x.Resp.StatusLine)
			},
		},
	}
}

// expectWait bounds how long the suite holds the body back for a 100
// Continue.
const expectWait = 2 * time.Second

func expect100() *f.Spec {
	return &f.Spec{
		ID: "pep3333/input/expect-100-continue", Level: f.MUST, Section: secExpect,
		Sentence: "Servers and gateways that implement HTTP 1.1 must provide transparent support for HTTP 1.1's \"expect/continue\" mechanism (respond 100 Continue, immediately or when the app first reads; or close).",
		Stimulus: "POST Expect: 100-continue, Content-Length 5, headers only; wait up to 2 s for '100 Continue' (if the app has not started reading by then, until it does and 1 s more), then send 'hello'; the app echoes what it read.",
		Outcomes: []f.Outcome{f.Pass("continue", "100 Continue, then 200 with the body read"), f.NonStrict("no-100", "no 100 Continue, but the request completes once the body is sent (option 3, \"not recommended\")"), f.Fail("broken", "the request fails")},
		Run: func(t *f.T) f.Result {
			c := t.Dial()
			id := t.NewID()
			head := f.Req{ID: id, Method: "POST", Do: "input", Headers: []string{"Expect: 100-continue", "Content-Length: 5"}, Args: map[string]any{"ops": [][]any{op("read", 5)}}}.Build(t.Host())
			_ = c.Send(head)
			// A server answers 100 at once, or when the app first reads. The
			// suite holds the body back for 2 s (a stimulus wait: it sends the
			// body either way, and servers that never answer 100 read it with
			// timeouts of their own, uWSGI's 4 s among them); only if the app
			// has not started reading by then (a slow dispatch) does it wait
			// for that, and then 1 s more for the 100.
			got100 := c.WaitFor([]byte("\r\n\r\n"), expectWait)
			if !got100 && !t.Sink.Has(id, "reading") {
				if _, ok := t.Sink.WaitEv(id, expectWait, "reading"); ok {
					got100 = c.WaitFor([]byte("\r\n\r\n"), time.Second)
				}
			}
			got100 = got100 && strings.Contains(string(c.Unread()), " 100")
			_ = c.SendString("hello")
			r, err := c.ReadResponse("POST", f.ReadTimeout)
			if err != nil {
				return f.Out("broken", "%v", err)
			}
			var d inputDump
			ok := r.Status == 200 && json.Unmarshal(r.Body, &d) == nil && len(d.Results) == 1 && string(d.Results[0].bytes()) == "hello"
			switch {
			case !ok:
				return f.Out("broken", "%s", r.Summary())
			case got100 || len(r.Interim) > 0:
				return f.Out("continue", "%d interim (%s), final %s", len(r.Interim), strconv.Quote(firstInterim(r)), r.StatusLine)
			}
			return f.Out("no-100", "final %s", r.StatusLine)
		},
	}
}

func firstInterim(r *f.Response) string {
	if len(r.Interim) == 0 {
		return ""
	}
	return r.Interim[0].StatusLine
}
