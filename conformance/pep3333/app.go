package pep3333

import (
	"fmt"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

// appSpecs: how the server calls the application object.
func appSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/app/positional-args", Level: f.MUST, Section: secApp,
			Sentence: "The server or gateway invokes the application callable … the application object must accept two positional arguments (environ, start_response).",
			Stimulus: "GET /; the probe records len(args) and the keyword names it was called with.",
			Outcomes: []f.Outcome{f.Pass("positional", "called with 2 positional args, no keywords"), f.Fail("other", "called otherwise")},
			Run: func(t *f.T) f.Result {
				ev := helloCall(t)
				if ev.Int("nargs") == 2 && fmt.Sprint(ev.Data["kwargs"]) == "[]" {
					return f.Out("positional", "nargs=2")
				}
				return f.Out("other", "nargs=%d kwargs=%v", ev.Int("nargs"), ev.Data["kwargs"])
			},
		},
		{
			ID: "pep3333/app/environ-is-dict", Level: f.MUST, Section: secEnviron,
			Sentence: "The environ parameter is a dictionary object … must be a builtin Python dictionary (not a subclass, UserDict or other dictionary emulation).",
			Stimulus: "GET /; the probe records type(environ).",
			Outcomes: []f.Outcome{f.Pass("dict", "type(environ) is dict"), f.Fail("other", "another type")},
			Run: func(t *f.T) f.Result {
				ev := helloCall(t)
				if ev.Str("environ_type") == "builtins.dict" {
					return f.Out("dict", "builtins.dict")
				}
				return f.Out("other", "%s", ev.Str("environ_type"))
			},
		},
		{
			ID: "pep3333/app/invoked-once-per-request", Level: f.MUST, Section: secApp,
			Sentence: "The application object … is invoked once for each request received from an HTTP client.",
			Stimulus: "Two GET requests on separate connections; count the probe's call events per request id.",
			Outcomes: []f.Outcome{f.Pass("once", "exactly one invocation per request"), f.Fail("other", "zero or several invocations")},
			Run: func(t *f.T) f.Result {
				var counts []int
				for i := 0; i < 2; i++ {
					x := t.Do(f.Req{Do: "hello"})
					if x.Status() != 200 {
						t.Fatalf("hello request failed: %s", x.Summary())
					}
					t.Sink.WaitEv(x.ID, f.EventTimeout, "call")
					counts = append(counts, t.Sink.Count(x.ID, "call"))
				}
				if counts[0] == 1 && counts[1] == 1 {
					return f.Out("once", "1 and 1")
				}
				return f.Out("other", "invocations %v", counts)
			},
		},
	}
}

// helloCall sends a plain GET and returns the probe app's "call" event.
func helloCall(t *f.T) f.Event {
	x := t.Do(f.Req{Do: "hello"})
	ev, ok := t.Sink.WaitEv(x.ID, f.EventTimeout, "call")
	if !ok {
		t.Fatalf("probe app not called: %s", x.Summary())
	}
	return ev
}
