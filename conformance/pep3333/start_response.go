package pep3333

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/textutil"
)

// call is one scripted start_response call for the probe's sr behaviour.
type call struct {
	Status  any  `json:"status,omitempty"`
	Headers any  `json:"headers,omitempty"`
	Exc     bool `json:"exc,omitempty"`
	Third   bool `json:"third,omitempty"`
	Swallow bool `json:"swallow,omitempty"`
}

func hdrs(kv ...string) [][2]any {
	var out [][2]any
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, [2]any{kv[i], kv[i+1]})
	}
	return out
}

func ctHeaders() [][2]any { return hdrs("Content-Type", "text/plain") }

// srRun sends the sr behaviour with calls and returns the exchange and the
// sr events.
func srRun(t *f.T, calls []call) (*f.Exchange, []f.Event) {
	x := t.Do(f.Req{Do: "sr", Args: map[string]any{"calls": calls}})
	// "returned" / "app_raised" come after every start_response event of
	// the request (the sink waits for any gap below them to fill).
	t.Sink.WaitEv(x.ID, f.EventTimeout, "app_raised", "returned")
	var evs []f.Event
	for _, e := range t.Sink.Events(x.ID) {
		if e.Ev == "sr" {
			evs = append(evs, e)
		}
	}
	return x, evs
}

func srRaised(evs []f.Event, idx int) (bool, string) {
	for _, e := range evs {
		if e.Int("idx") == idx {
			return e.Bool("raised"), e.Str("type") + " " + e.Str("msg")
		}
	}
	return false, "no start_response event"
}

// injected reports whether a response carries a header the app tried to
// smuggle through a CR/LF, or is malformed.
func injected(x *f.Exchange) (bool, string) {
	if x.Resp == nil {
		return false, ""
	}
	if _, ok := x.Resp.Get("X-Inj"); ok {
		return true, "X-Inj header on the wire"
	}
	if x.Resp.Malformed != "" {
		return true, "malformed response: " + x.Resp.Malformed
	}
	return false, ""
}

// validationSpec: start_response must reject a bad argument. Outcomes: the
// call raised (PASS), accepted (NON-STRICT), and for MUST specs, bytes that
// corrupt the response (FAIL).
func validationSpec(id, level, sentence, stimulus string, c call) *f.Spec {
	outs := []f.Outcome{f.Pass("raised", "start_response raised; the app's error became a 500 or abort"), f.NonStrict("accepted", "accepted without error (nothing harmful on the wire)")}
	if level == f.MUST {
		outs = append(outs, f.Fail("injected", "the bad value reached the wire (header injection / malformed response)"))
	}
	return &f.Spec{
		ID: "pep3333/start_response/" + id, Level: level, Section: secSR, Sentence: sentence, Stimulus: stimulus, Outcomes: outs,
		Run: func(t *f.T) f.Result {
			x, evs := srRun(t, []call{c})
			raised, why := srRaised(evs, 0)
			if id == "header-value-non-latin1" {
				if x.Resp != nil && bytes.Contains(x.Resp.Raw, []byte("\xe2\x82\xac")) {
					return f.Out("injected", "UTF-8 bytes of U+20AC on the wire")
				}
			} else if level == f.MUST {
				if bad, how := injected(x); bad {
					return f.Out("injected", "%s (%s)", how, x.Summary())
				}
			}
			if raised {
				return f.Out("raised", "%s; response %s", why, x.Summary())
			}
			if len(evs) == 0 && !t.Sink.Has(x.ID, "call") {
				t.Fatalf("probe app not called: %s", x.Summary())
			}
			return f.Out("accepted", "response %s", x.Summary())
		},
	}
}

const sentStatusCheck = "The status argument is a status string of the form \"999 Message here\" … servers should check for errors in the headers at the time start_response is called, so that an error can be raised while the application is still running."
const sentHeaders = "response_headers is a list of (header_name, header_value) tuples. It must be a Python list; i.e. type(response_headers) is ListType … each header_name must be a valid HTTP header field-name … header_value must not include any control characters, including carriage returns or linefeeds, either embedded or at the end."

// startResponseSpecs: The start_response() Callable, a function per concern.
func startResponseSpecs() []*f.Spec {
	return slices.Concat(validationSpecs(), sentSpecs(), callArgSpecs(), excInfoSpecs(), excAbortSpecs(), headerTimingSpecs(), serverHeaderSpecs(), hopByHopSpecs())
}

// validationSpecs: start_response checks its arguments (status, headers)
// when it is called.
func validationSpecs() []*f.Spec {
	var specs []*f.Spec
	for _, st := range []struct{ id, status string }{
		{"status-empty", ""}, {"status-letters", "XYZ OK"}, {"status-four-digits", "2000 OK"},
		{"status-two-digits", "20 OK"}, {"status-no-space", "200OK"}, {"status-leading-space", " 200 OK"},
	} {
		specs = append(specs, validationSpec(st.id, f.SHOULD, sentStatusCheck, fmt.Sprintf("start_response(%q, [('Content-Type','text/plain')])", st.status), call{Status: st.status, Headers: ctHeaders()}))
	}
	return append(specs,
		validationSpec("status-crlf-injection", f.MUST, sentStatusCheck+" (A status carrying CR/LF must never reach the wire.)",
			"start_response('200 OK\\r\\nX-Inj: 1', …)", call{Status: "200 OK\r\nX-Inj: 1", Headers: ctHeaders()}),
		validationSpec("status-nul", f.SHOULD, sentStatusCheck, "start_response('200 OK\\x00', …)", call{Status: "200 OK\x00", Headers: ctHeaders()}),
		validationSpec("status-bytes", f.SHOULD, "The status … is a native string (str).", "start_response(b'200 OK', …)", call{Status: map[string]string{"b": "200 OK"}, Headers: ctHeaders()}),
		validationSpec("status-int", f.SHOULD, "The status … is a native string (str).", "start_response(200, …)", call{Status: map[string]int{"i": 200}, Headers: ctHeaders()}),
		validationSpec("headers-tuple", f.SHOULD, sentHeaders, "response_headers is a tuple of tuples", call{Status: "200 OK", Headers: map[string]any{"kind": "tuple", "items": ctHeaders()}}),
		validationSpec("headers-dict", f.SHOULD, sentHeaders, "response_headers is a dict", call{Status: "200 OK", Headers: map[string]any{"kind": "dict", "items": ctHeaders()}}),
		validationSpec("headers-none", f.SHOULD, sentHeaders, "response_headers is None", call{Status: "200 OK", Headers: map[string]any{"kind": "none"}}),
		validationSpec("headers-triples", f.SHOULD, sentHeaders, "response_headers items are 3-tuples", call{Status: "200 OK", Headers: map[string]any{"kind": "triples", "items": ctHeaders()}}),
		validationSpec("header-name-bytes", f.SHOULD, sentHeaders+" (names and values are str)", "header (b'X-B', '1')", call{Status: "200 OK", Headers: [][2]any{{map[string]string{"b": "X-B"}, "1"}}}),
		validationSpec("header-value-int", f.SHOULD, sentHeaders+" (names and values are str)", "header ('Content-Length', 5) with an int value", call{Status: "200 OK", Headers: [][2]any{{"X-Int", map[string]int{"i": 5}}}}),
		validationSpec("header-name-space", f.SHOULD, sentHeaders, "header name 'X Y'", call{Status: "200 OK", Headers: hdrs("X Y", "1")}),
		validationSpec("header-name-colon", f.SHOULD, sentHeaders, "header name 'X:Y'", call{Status: "200 OK", Headers: hdrs("X:Y", "1")}),
		validationSpec("header-name-empty", f.SHOULD, sentHeaders, "header name ''", call{Status: "200 OK", Headers: hdrs("", "1")}),
		validationSpec("header-name-newline", f.MUST, sentHeaders, "header name 'X-Inj: 1\\r\\nX-A'", call{Status: "200 OK", Headers: hdrs("X-Inj: 1\r\nX-A", "1")}),
		validationSpec("header-value-crlf", f.MUST, sentHeaders, "header value 'a\\r\\nX-Inj: 1'", call{Status: "200 OK", Headers: hdrs("X-A", "a\r\nX-Inj: 1")}),
		validationSpec("header-value-lf", f.MUST, sentHeaders, "header value 'a\\nX-Inj: 1'", call{Status: "200 OK", Headers: hdrs("X-A", "a\nX-Inj: 1")}),
		validationSpec("header-value-nul", f.SHOULD, sentHeaders, "header value 'a\\x00b'", call{Status: "200 OK", Headers: hdrs("X-A", "a\x00b")}),
		validationSpec("header-value-ctl", f.SHOULD, sentHeaders, "header value 'a\\x07b'", call{Status: "200 OK", Headers: hdrs("X-A", "a\x07b")}),
		validationSpec("header-value-non-latin1", f.MUST,
			"Strings outside ISO-8859-1 in status or headers are a fatal error: the server must not silently re-encode them (e.g. as UTF-8).",
			"header value '\\u20ac' (EURO SIGN)", call{Status: "200 OK", Headers: [][2]any{{"X-Euro", map[string]string{"u": "\u20ac"}}}}),
	)
}

// sentSpecs: what start_response puts on the wire, and what it returns.
func sentSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/start_response/status-transmitted", Level: f.MUST, Section: secSR,
			Sentence: "The status argument is a status string of the form \"999 Message here\" (sent to the client as the status line).",
			Stimulus: "start_response('299 Froody Status', …)",
			Outcomes: []f.Outcome{f.Pass("exact", "status line carries '299 Froody Status'"), f.Fail("changed", "code or reason phrase changed")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "resp", Args: map[string]any{"status": "299 Froody Status", "body": []string{"ok"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "2")}})
				mustRespond(t, x)
				if x.Resp.Status == 299 && x.Resp.Reason == "Froody Status" {
					return f.Out("exact", "%s", x.Resp.StatusLine)
				}
				return f.Out("changed", "%s", x.Resp.StatusLine)
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/header-value-latin1", Level: f.MUST, Section: secSR,
			Sentence: "Native strings used for headers are ISO-8859-1: 'caf\\u00e9' goes out as the byte 0xE9.",
			Stimulus: "header X-Cafe: 'caf\\u00e9'",
			Outcomes: []f.Outcome{f.Pass("latin1", "byte 0xE9 on the wire"), f.Fail("reencoded", "UTF-8 or another encoding on the wire"), f.Pass("raised", "refused (no body sent)")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "resp", Args: map[string]any{"body": []string{"ok"}, "headers": [][2]any{{"Content-Type", "text/plain"}, {"Content-Length", "2"}, {"X-Cafe", map[string]string{"u": "caf\u00e9"}}}}})
				mustRespond(t, x)
				v, ok := x.Resp.Get("X-Cafe")
				switch {
				case ok && v == "caf\xe9":
					return f.Out("latin1", "%q", v)
				case !ok && x.Resp.Status >= 500:
					return f.Out("raised", "%s", x.Resp.StatusLine)
				}
				return f.Out("reencoded", "X-Cafe %q", v)
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/returns-write", Level: f.MUST, Section: secSR,
			Sentence: "The start_response callable must return a write(body_data) callable.",
			Stimulus: "start_response('200 OK', [...]) — the probe records callable(return value)",
			Outcomes: []f.Outcome{f.Pass("callable", "a callable was returned"), f.Fail("not-callable", "None or another non-callable")},
			Run: func(t *f.T) f.Result {
				x, evs := srRun(t, []call{{Status: "200 OK", Headers: ctHeaders()}})
				for _, e := range evs {
					if e.Bool("callable") {
						return f.Out("callable", "ok")
					}
				}
				if len(evs) == 0 {
					t.Fatalf("no start_response event: %s", x.Summary())
				}
				return f.Out("not-callable", "%v", evs[0])
			},
		},
	}
}

// callArgSpecs: exc_info as a positional argument, and a second call.
func callArgSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/start_response/exc-info-none-positional", Level: f.MUST, Section: secSR,
			Sentence: "start_response(status, response_headers, exc_info=None): exc_info is an optional positional argument.",
			Stimulus: "start_response('200 OK', [...], None)",
			Outcomes: []f.Outcome{f.Pass("accepted", "200 with the app body"), f.Fail("refused", "the call raised or the response failed")},
			Run: func(t *f.T) f.Result {
				x, evs := srRun(t, []call{{Status: "200 OK", Headers: ctHeaders(), Third: true}})
				if raised, why := srRaised(evs, 0); raised {
					return f.Out("refused", "%s", why)
				}
				if x.Status() == 200 && string(x.Resp.Body) == "ok" {
					return f.Out("accepted", "%s", x.Resp.StatusLine)
				}
				return f.Out("refused", "%s", x.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/second-call-without-exc-info", Level: f.MUST, Section: secSR,
			Sentence: "It is a fatal error to call start_response without the exc_info argument if start_response has already been called within the current invocation of the application.",
			Stimulus: "start_response('200 OK', …); start_response('201 X', …) — the second call's outcome is recorded",
			Outcomes: []f.Outcome{f.Pass("raised", "the second call raised"), f.Fail("accepted", "the second call was accepted")},
			Run: func(t *f.T) f.Result {
				x, evs := srRun(t, []call{{Status: "200 OK", Headers: ctHeaders()}, {Status: "201 X", Headers: ctHeaders()}})
				if raised, why := srRaised(evs, 1); raised {
					return f.Out("raised", "%s; response %s", why, x.Summary())
				}
				if len(evs) < 2 {
					t.Fatalf("second start_response not recorded: %s", x.Summary())
				}
				return f.Out("accepted", "response %s", x.Summary())
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/second-call-after-failed-first", Level: f.INFO, Section: secSR,
			Sentence: "It is a fatal error to call start_response without exc_info if it has already been called; servers differ on whether a call that raised counts as already called.",
			Stimulus: "start_response('200 OK', [('X Bad','1')]) (error swallowed by the app), then start_response('200 OK', [...]) ",
			Outcomes: []f.Outcome{f.Info("raised", "the second call raised"), f.Info("first-accepted", "the first (invalid) call was accepted, so the second is a plain second call"), f.Info("accepted", "the first call raised and the second was accepted as the real start")},
			Run: func(t *f.T) f.Result {
				x, evs := srRun(t, []call{{Status: "200 OK", Headers: hdrs("X Bad", "1"), Swallow: true}, {Status: "200 OK", Headers: ctHeaders()}})
				r0, _ := srRaised(evs, 0)
				r1, why := srRaised(evs, 1)
				switch {
				case r1:
					return f.Out("raised", "%s; response %s", why, x.Summary())
				case !r0:
					return f.Out("first-accepted", "response %s", x.Summary())
				}
				return f.Out("accepted", "response %s", x.Summary())
			},
		},
	}
}

// headerTimingSpecs: Buffering and Streaming: headers wait for the first
// non-empty block.
func headerTimingSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/start_response/no-transmit-on-start", Level: f.MUST, Section: secBuf,
			Sentence: "The start_response callable must not actually transmit the response headers. Instead, it must store them for the server or gateway to transmit only after the first iteration of the application return value that yields a non-empty bytestring.",
			Stimulus: "start_response('200 OK', …); the generator's first next() asks the suite, which reports how many bytes it received in 2 s; then yields 'x'.",
			Outcomes: []f.Outcome{f.Pass("held", "0 bytes received before the first chunk"), f.Fail("sent-early", "headers arrived before any body")},
			Run: func(t *f.T) f.Result {
				return askBytes(t, map[string]any{"mode": "gen", "body": []string{"x"}, "asks": []map[string]any{{"at": 0}}})
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/empty-chunk-no-headers", Level: f.MUST, Section: secBuf,
			Sentence: "… transmit only after the first iteration of the application return value that yields a non-empty bytestring (an empty bytestring must not trigger header transmission).",
			Stimulus: "The generator yields b'', then asks the suite how many bytes arrived in 2 s, then yields 'x'.",
			Outcomes: []f.Outcome{f.Pass("held", "0 bytes received after the empty chunk"), f.Fail("sent-early", "headers were sent on the empty chunk")},
			Run: func(t *f.T) f.Result {
				return askBytes(t, map[string]any{"mode": "gen", "body": []string{"", "x"}, "asks": []map[string]any{{"at": 1}}})
			},
		},
	}
}

// serverHeaderSpecs: the headers the server adds, and the app's it keeps.
func serverHeaderSpecs() []*f.Spec {
	return []*f.Spec{
		&f.Spec{
			ID: "pep3333/start_response/date-header", Level: f.MUST, Section: secOther,
			Sentence: "RFC 9110 §6.6.1: an origin server with a clock MUST generate a Date header in 2xx, 3xx and 4xx responses (the server adds what HTTP requires).",
			Stimulus: "The app sends no Date.",
			Outcomes: []f.Outcome{f.Pass("one", "exactly one Date"), f.Fail("missing", "no Date"), f.Fail("many", "several Date lines")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "hello"})
				mustRespond(t, x)
				switch n := x.Resp.Count("Date"); n {
				case 1:
					return f.Out("one", "Date: %s", x.Resp.Values("Date")[0])
				case 0:
					return f.Out("missing", "no Date")
				default:
					return f.Out("many", "%d Date lines", n)
				}
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/no-duplicate-server-date", Level: f.SHOULD, Section: secOther,
			Sentence: "Server-supplied headers should not duplicate singletons the app already set (Date, Server).",
			Stimulus: "The app sends Date: Tue, 01 Jan 2030 00:00:00 GMT and Server: probe.",
			Outcomes: []f.Outcome{f.Pass("single", "one Date and one Server"), f.NonStrict("duplicated", "two Date or two Server lines")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "resp", Args: map[string]any{"body": []string{"ok"}, "headers": hdrs("Content-Type", "text/plain", "Content-Length", "2", "Date", "Tue, 01 Jan 2030 00:00:00 GMT", "Server", "probe")}})
				mustRespond(t, x)
				if x.Resp.Count("Date") <= 1 && x.Resp.Count("Server") <= 1 {
					return f.Out("single", "Date %v, Server %v", x.Resp.Values("Date"), x.Resp.Values("Server"))
				}
				return f.Out("duplicated", "Date %v, Server %v", x.Resp.Values("Date"), x.Resp.Values("Server"))
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/header-names-case-insensitive", Level: f.MUST, Section: secSR,
			Sentence: "HTTP header names are case-insensitive, so be sure to take that into consideration when examining application-supplied headers!",
			Stimulus: "The app sends 'content-length: 5' (lower case) and yields 'hello'.",
			Outcomes: []f.Outcome{f.Pass("honoured", "one Content-Length, no chunking"), f.Fail("ignored", "a second length header or chunking added")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "resp", Args: map[string]any{"body": []string{"hello"}, "headers": hdrs("Content-Type", "text/plain", "content-length", "5")}})
				mustRespond(t, x)
				if x.Resp.Count("Content-Length") == 1 && x.Resp.Count("Transfer-Encoding") == 0 && string(x.Resp.Body) == "hello" {
					return f.Out("honoured", "%s", x.Resp.Summary())
				}
				return f.Out("ignored", "Content-Length %v, Transfer-Encoding %v", x.Resp.Values("Content-Length"), x.Resp.Values("Transfer-Encoding"))
			},
		},
		&f.Spec{
			ID: "pep3333/start_response/repeated-headers-preserved", Level: f.MUST, Section: secSR,
			Sentence: "RFC 9110 §5.3: Set-Cookie often appears multiple times and must not be combined; the app's header list order is kept.",
			Stimulus: "The app sends Set-Cookie: a=1 then Set-Cookie: b=2.",
			Outcomes: []f.Outcome{f.Pass("preserved", "two lines in order"), f.Fail("combined", "joined, lost or reordered")},
			Run: func(t *f.T) f.Result {
				x := t.Do(f.Req{Do: "resp", Args: map[string]any{"body": []string{"ok"}, "headers": hdrs("Content-Type", "text/plain", "Set-Cookie", "a=1", "Set-Cookie", "b=2")}})
				mustRespond(t, x)
				if v := x.Resp.Values("Set-Cookie"); len(v) == 2 && v[0] == "a=1" && v[1] == "b=2" {
					return f.Out("preserved", "%v", v)
				}
				return f.Out("combined", "%v", x.Resp.Values("Set-Cookie"))
			},
		},
	}
}

// hopByHopSpecs: hop-by-hop headers from the app (Other HTTP Features).
func hopByHopSpecs() []*f.Spec {
	var specs []*f.Spec
	for _, h := range []struct{ id, name, value string }{
		{"connection", "Connection", "X-Probe-Hop"}, {"keep-alive", "Keep-Alive", "timeout=5"},
		{"upgrade", "Upgrade", "h2c"}, {"te", "TE", "trailers"}, {"trailer", "Trailer", "X-T"},
		{"proxy-authenticate", "Proxy-Authenticate", "Basic"},
	} {
		specs = append(specs, hopByHop(h.id, h.name, h.value, f.SHOULD))
	}
	return append(specs, hopByHop("transfer-encoding", "Transfer-Encoding", "chunked", f.MUST))
}

// quietWait is how long the suite listens for header bytes that must not
// come yet while the app holds its generator: a server that sends headers
// from inside start_response has them in the suite's socket before the
// app's question is on record (the sink answers each event before the app
// goes on), so only a server that queues its writes to another thread or
// an event loop needs the wait; 2 s bounds that queue on a loaded machine.
// A late early header can only make a false PASS, never a false FAIL.
const quietWait = 2 * time.Second

// askBytes runs the resp behaviour whose generator asks the suite how many
// bytes it has received; the suite listens for quietWait before answering.
func askBytes(t *f.T, args map[string]any) f.Result {
	c := t.Dial()
	id := t.NewID()
	args["headers"] = ctHeaders()
	_ = c.Send(f.Req{ID: id, Do: "resp", Args: args}.Build(t.Host()))
	ask, ok := t.Sink.WaitEv(id, f.EventTimeout, "ask")
	if !ok {
		t.Fatalf("the app never asked (events %v)", t.Sink.Events(id))
	}
	n := c.Peek(quietWait)
	ask.Reply(map[string]any{"bytes": n})
	if n > 0 {
		return f.Out("sent-early", "%d bytes before the first non-empty chunk: %q", n, textutil.Head(c.Unread(), 80))
	}
	r, err := c.ReadResponse("GET", f.ReadTimeout)
	if err != nil || r.Status != 200 {
		t.Fatalf("response after the handshake: %v %s", err, r.Summary())
	}
	return f.Out("held", "0 bytes before the first chunk; then %s", r.StatusLine)
}

// hopByHop: an app-supplied hop-by-hop header should make start_response
// raise. For Transfer-Encoding a pass-through that lies about framing is a
// FAIL.
func hopByHop(id, name, value, level string) *f.Spec {
	outs := []f.Outcome{f.Pass("raised", "start_response raised (the PEP: treat as a fatal error)"), f.NonStrict("dropped", "silently dropped or replaced"), f.NonStrict("passed", "sent to the client as given")}
	if level == f.MUST {
		outs[2] = f.Fail("passed", "sent as given: the framing lies")
		outs = append(outs, f.NonStrict("passed-consistent", "sent, and the body really is chunked once"))
	}
	return &f.Spec{
		ID: "pep3333/start_response/hop-by-hop-" + id, Level: level, Section: secOther,
		Sentence: "Applications … must not generate any \"hop-by-hop\" headers … (WSGI servers should treat this as a fatal error: start_response raises).",
		Stimulus: fmt.Sprintf("The app sends %s: %s with body 'hello' (Content-Length not given).", name, value),
		Outcomes: outs,
		Run: func(t *f.T) f.Result {
			x := t.Do(f.Req{Do: "resp", Args: map[string]any{"body": []string{"hello"}, "headers": hdrs("Content-Type", "text/plain", name, value)}})
			ev, _ := t.Sink.WaitEv(x.ID, f.EventTimeout, "sr")
			if ev.Bool("raised") {
				return f.Out("raised", "%s %s", ev.Str("type"), ev.Str("msg"))
			}
			mustRespond(t, x)
			vals := x.Resp.Values(name)
			sent := false
			for _, v := range vals {
				if strings.EqualFold(v, value) {
					sent = true
				}
			}
			if !sent {
				return f.Out("dropped", "%s: %v", name, vals)
			}
			if level == f.MUST {
				if x.Resp.Framing == f.FramingChunked && x.Resp.Complete && len(vals) == 1 && bytes.Equal(x.Resp.Body, []byte("hello")) {
					return f.Out("passed-consistent", "%s", x.Resp.Summary())
				}
			}
			return f.Out("passed", "%s: %v; %s", name, vals, x.Resp.Summary())
		},
	}
}
