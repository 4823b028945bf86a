package pep3333

import (
	"strings"

	f "github.com/wsgikit/wsgikit/conformance/framework"
)

func errorsRun(t *f.T, ops ...string) (*f.Exchange, []f.Event) {
	x := t.Do(f.Req{Do: "errors", Args: A{"ops": ops}})
	if x.Status() != 200 {
		t.Fatalf("errors probe: %s", x.Summary())
	}
	var evs []f.Event
	for i := range ops {
		ev, ok := t.Sink.Wait(x.ID, f.EventTimeout, func(e f.Event) bool { return e.Ev == "errors" && e.Str("op") == ops[i] })
		if !ok {
			t.Fatalf("no event for %s", ops[i])
		}
		evs = append(evs, ev)
	}
	return x, evs
}

func errorsSpecs() []*f.Spec {
	return []*f.Spec{
		{
			ID: "pep3333/errors/write-writelines-flush", Level: f.MUST, Section: secErrors,
			Sentence: "wsgi.errors … must support write(str), writelines(seq of str) and flush().",
			Stimulus: "The app calls write, writelines and flush with ASCII text.",
			Outcomes: []f.Outcome{f.Pass("ok", "no call raised"), f.Fail("raised", "a call raised")},
			Run: func(t *f.T) f.Result {
				_, evs := errorsRun(t, "write", "writelines", "flush")
				for _, e := range evs {
					if !e.Bool("ok") {
						return f.Out("raised", "%s: %s %s", e.Str("op"), e.Str("type"), e.Str("msg"))
					}
				}
				return f.Out("ok", "ok")
			},
		},
		{
			ID: "pep3333/errors/unicode", Level: f.SHOULD, Section: secErrors,
			Sentence: "wsgi.errors is a text-mode stream: it should accept any str (non-ASCII included), substituting what it cannot encode.",
			Stimulus: "write('☃ € 😀') then flush()",
			Outcomes: []f.Outcome{f.Pass("ok", "accepted"), f.NonStrict("raised", "UnicodeError or another exception")},
			Run:      takes("unicode"),
		},
		{
			ID: "pep3333/errors/lone-surrogate", Level: f.SHOULD, Section: secErrors,
			Sentence: "wsgi.errors should not raise on strings it cannot encode strictly (a lone surrogate).",
			Stimulus: "write('\\udcff') then flush()",
			Outcomes: []f.Outcome{f.Pass("ok", "accepted"), f.NonStrict("raised", "exception")},
			Run:      takes("surrogate"),
		},
		{
			ID: "pep3333/errors/reaches-log", Level: f.INFO, Section: secErrors,
			Sentence: "Where wsgi.errors output goes is up to the server (usually its error log).",
			Stimulus: "write a marker line; look for it in the server's log.",
			Outcomes: []f.Outcome{f.Info("logged", "marker in the server log"), f.Info("elsewhere", "marker not in the server log")},
			Run: func(t *f.T) f.Result {
				x, _ := errorsRun(t, "write", "flush")
				if strings.Contains(t.Target.Log(400), "probe-marker-"+x.ID) {
					return f.Out("logged", "marker found")
				}
				return f.Out("elsewhere", "marker not found in the log tail")
			},
		},
	}
}

// takes grades one errors call of the probe: "ok" when wsgi.errors took it,
// else "raised" with the exception.
func takes(call string) func(t *f.T) f.Result {
	return func(t *f.T) f.Result {
		_, evs := errorsRun(t, call)
		if evs[0].Bool("ok") {
			return f.Out("ok", "ok")
		}
		return f.Out("raised", "%s %s", evs[0].Str("type"), evs[0].Str("msg"))
	}
}
