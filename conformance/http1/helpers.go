package http1

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	f "github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/textutil"
)

// Raw request templates use these placeholders:
//
//	{H}   "Host: <server address>\r\n"
//	{P}   the probe headers: X-Probe-Id {id}, X-Probe-Do env, args read=true
//	      and propagate=true (a read error goes up, as in a framework, and
//	      the server answers for the body it could not deliver)
//	{S}   a complete smuggled request "GET /smuggled" with its own id {id2}
//	{id} {id2} {host}
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: {host}\r\nX-Probe-Id: {id2}\r\nX-Probe-Do: env\r\n\r\n"

var readArg = base64.StdEncoding.EncodeToString([]byte(`{"read":true,"propagate":true}`))

func expand(tmpl, host, id, id2 string) []byte {
	r := strings.NewReplacer(
		"{H}", "Host: {host}\r\n",
		"{P}", "X-Probe-Id: {id}\r\nX-Probe-Do: env\r\nX-Probe-Arg: "+readArg+"\r\n",
		"{S}", smuggled,
	)
	s := r.Replace(tmpl)
	s = strings.NewReplacer("{host}", host, "{id2}", id2, "{id}", id).Replace(s)
	return []byte(s)
}

// Obs is what one raw exchange showed.
type Obs struct {
	X        *f.Exchange
	Called   bool   // the app was invoked for {id}
	Env      f.Env  // what it saw (nil if not called)
	Body     []byte // the body it read
	ReadErr  string // the exception its read raised, if any
	Smuggled bool   // the app was invoked for {id2}
	// Answered2: the server answered {id2} on this connection (its dump is
	// the next response).
	Answered2 bool
	Blocked   bool // the app's body read never ended (the server passed on a stream without EOF)
	// Next is what the server did on the connection after the first
	// response (read only for templates with {S}, or when asked).
	Next f.Next
	// Collapsed: the first response is the environ dump of {id2}, and the
	// app never ran for {id} (bjoern runs the app only for the last
	// request of one read).
	Collapsed bool
}

// Accepted means the app got the request and read its body without an
// error from the server (a read that never ends counts as accepted: the
// server handed the request over).
func (o *Obs) Accepted() bool { return o.Called && o.ReadErr == "" && (o.Env != nil || o.Blocked) }

// Refusal classifies the exchange as the answer to a request the server
// must refuse: served (the app got it, or something was smuggled), a
// client error (a 4xx, a status in named, a close without a response, or a
// read that raised in the app and was answered below 500), or a server
// error (another 5xx).
func (o *Obs) Refusal(named ...int) f.Refusal {
	if o.Accepted() || o.Smuggled {
		return f.Served
	}
	r := f.RefusalOf(o.X, named...)
	if r == f.Served && o.ReadErr != "" && o.X.Resp != nil {
		return f.ClientError // lazy parsers surface framing errors inside wsgi.input.read()
	}
	return r
}

// Rejected means the server refused in a way the client can tell is its
// own error (see Refusal).
func (o *Obs) Rejected(named ...int) bool { return o.Refusal(named...) == f.ClientError }

func (o *Obs) String() string {
	s := o.X.Summary()
	if o.Called {
		if o.Blocked {
			s += "; app read blocked (no end of body)"
		} else if o.ReadErr != "" {
			s += "; app read raised " + o.ReadErr
		} else {
			s += fmt.Sprintf("; app read %q", textutil.Head(o.Body, 60))
		}
	}
	if o.Next.Answered() || o.Next.State != "" && o.X.Resp != nil && !o.X.Closed() {
		s += "; " + o.Next.String()
	}
	if o.Smuggled {
		s += "; SMUGGLED request served"
	}
	if o.Collapsed {
		s += " as the only response: the first request never reached the app"
	}
	return s
}

type sendOpts struct {
	method    string
	halfClose bool  // send FIN after the request
	fragments []int // split the request at these sizes (sent in turn)
	next      bool  // watch the connection after the first response even without {S}
	// sentinel sends {S} after the first response if the connection is
	// still open: a server that keeps reading answers it, one that closes
	// does not, and no wait decides which.
	sentinel bool
}

// observe sends the expanded template and records what happened.
func observe(t *f.T, tmpl string, o sendOpts) *Obs {
	id, id2 := t.NewID(), t.NewID()
	raw := expand(tmpl, t.Host(), id, id2)
	c := t.Dial()
	if len(o.fragments) > 0 {
		rest := raw
		for _, n := range o.fragments {
			if n > len(rest) {
				n = len(rest)
			}
			_ = c.Send(rest[:n])
			rest = rest[n:]
			time.Sleep(20 * time.Millisecond) // a stimulus: separate TCP segments
		}
		if len(rest) > 0 {
			_ = c.Send(rest)
		}
	} else {
		_ = c.Send(raw)
	}
	if o.halfClose {
		_ = c.CloseWrite()
	}
	method := o.method
	if method == "" {
		method = strings.SplitN(string(raw), " ", 2)[0]
	}
	x := &f.Exchange{ID: id, Conn: c}
	x.Resp, x.Err = c.ReadResponse(method, f.ReadTimeout)
	obs := &Obs{X: x}
	// What the app saw: its own answer carries the environ dump; else the
	// sink holds its events. The sink answers each event before the app goes
	// on, so an app that ran before the server answered (or closed) is on
	// record already: no wait.
	if d := dumpOf(x.Resp, id); d != nil {
		obs.fill(d.Environ, d.Body, d.ReadError, d.Blocked)
	} else if ev, ok := t.Sink.Find(id, "environ"); ok {
		re, _ := ev.Data["read_error"].(map[string]any)
		obs.fill(f.EventEnv(ev), ev.Str("body"), strMap(re), ev.Bool("read_blocked"))
	} else if t.Sink.Has(id, "call") {
		obs.Called, obs.Blocked = true, true // still inside its read
	}
	if o.sentinel && x.Resp != nil && !x.Closed() {
		_ = c.Send(expand("{S}", t.Host(), id, id2))
	}
	if strings.Contains(tmpl, "{S}") || o.next || o.sentinel {
		obs.watchNext(t, id2)
	}
	return obs
}

// watchNext records what the server did after the first response, and
// whether the app ran for id2 (the smuggled request): its answer on this
// connection says so; after a close, a sentinel request on a fresh
// connection orders the question (T.Invoked); a connection still open at
// the end of the wait is asked as it stands.
func (o *Obs) watchNext(t *f.T, id2 string) {
	x := o.X
	switch {
	case x.Resp != nil && !x.Closed():
		o.Next = x.Conn.ReadNext("GET", f.ReadTimeout)
	default:
		o.Next = f.Next{State: x.Conn.State()}
	}
	if x.Resp != nil && x.Resp.Status == 200 && !o.Called && dumpOf(x.Resp, id2) != nil {
		o.Collapsed = true
	}
	o.Answered2 = dumpOf(o.Next.Resp, id2) != nil
	switch {
	case o.Collapsed || o.Answered2:
		o.Smuggled = true
	case o.Next.State == f.StateFIN || o.Next.State == f.StateRST:
		o.Smuggled = t.Invoked(id2)
	default:
		o.Smuggled = t.Sink.Has(id2, "call")
	}
}

func (o *Obs) fill(env f.Env, body string, readErr map[string]string, blocked bool) {
	o.Called, o.Env, o.Blocked = true, env, blocked
	o.Body, _ = base64.StdEncoding.DecodeString(body)
	if readErr != nil {
		o.ReadErr = readErr["type"] + ": " + readErr["msg"]
	}
}

func strMap(m map[string]any) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// envDump is the env behaviour's answer: the environ with exact bytes, what
// the app read and how its read ended.
type envDump struct {
	Environ   f.Env             `json:"environ"`
	Body      string            `json:"body"`
	ReadError map[string]string `json:"read_error"`
	Blocked   bool              `json:"read_blocked"`
}

// dumpOf decodes r's body as the env behaviour's answer to the request id
// (nil if it is not): the app's own answer tells that it ran and what it
// saw, with no wait for its events. An HTTP/0.9-style answer (no status
// line) counts too: its body is the dump.
func dumpOf(r *f.Response, id string) *envDump {
	if r == nil {
		return nil
	}
	var d envDump
	if json.Unmarshal(r.Body, &d) != nil || d.Environ == nil {
		return nil
	}
	if got, _ := d.Environ.Get("HTTP_X_PROBE_ID"); got != id {
		return nil
	}
	return &d
}

// Spec builders ------------------------------------------------------------

type judge func(t *f.T, o *Obs) f.Result

func spec(id, level, section, sentence, stimulus, tmpl string, opts sendOpts, outs []f.Outcome, j judge) *f.Spec {
	return &f.Spec{
		ID: "http1/" + id, Level: level, Section: section, Sentence: sentence, Stimulus: stimulus, Outcomes: outs,
		Run: func(t *f.T) f.Result { return j(t, observe(t, tmpl, opts)) },
	}
}

// refusal is what a spec's sentence accepts as the refusal of a bad
// request: a 4xx (the sentence names says) or a close without a response,
// plus the 5xx it names (501, 505). Any other 5xx blames the server for the
// client's error: it FAILs where the sentence is a MUST about the status
// code (statusMust: "MUST respond with a 400"), else it is NON-STRICT.
type refusal struct {
	says       string
	named      []int
	statusMust bool
}

var (
	// must400: "… MUST respond with a 400 (Bad Request) status code".
	must400 = refusal{says: "400", statusMust: true}
	// any400: the sentence asks for a refusal (or a 400 at SHOULD level).
	any400 = refusal{says: "400"}
)

// rejected is the PASS outcome of a refusal, saying which statuses count.
func (r refusal) rejected(tail string) f.Outcome {
	return f.Pass("rejected", r.statuses()+tail)
}

func (r refusal) statuses() string {
	return r.says + " (or another 4xx) or a close without a response"
}

// outcome names the refusal outcome of o: "rejected", "server-error", or
// served (the caller's name for an accepted request).
func (r refusal) outcome(o *Obs, served string) f.Result {
	switch o.Refusal(r.named...) {
	case f.ClientError:
		return f.Out("rejected", "%s", o)
	case f.ServerError:
		return f.Out(string(f.ServerError), "%s", o)
	}
	return f.Out(served, "%s", o)
}

// mustReject: an invalid request must be refused (the statuses ref
// accepts, or a close), the app never given its data, and nothing
// smuggled.
func mustReject(id, section, sentence, stimulus, tmpl string, ref refusal) *f.Spec {
	return spec(id, f.MUST, section, sentence, stimulus, tmpl, sendOpts{},
		[]f.Outcome{ref.rejected("; the app got no data"), f.ServerErrorOutcome(ref.statusMust), f.Fail("accepted", "the request reached the app as valid")},
		func(t *f.T, o *Obs) f.Result { return ref.outcome(o, "accepted") })
}

// mustRejectField is mustReject for an invalid field line. A proxy in front
// may discard the line and forward the rest (nginx's default,
// ignore_invalid_headers): the server never sees it, and the stack answered
// without the 400 RFC 9112 §2.2 asks for (a SHOULD), so that is NON-STRICT
// when no trace of the field (header, length, body) reached the app.
func mustRejectField(id, section, sentence, stimulus, tmpl string) *f.Spec {
	ref := any400
	return spec(id, f.MUST, section, sentence, stimulus, tmpl, sendOpts{},
		[]f.Outcome{ref.rejected("; the app got no data"), f.ServerErrorOutcome(ref.statusMust),
			f.NonStrict("proxy-dropped", "behind a proxy: the field line discarded, the rest forwarded; nothing of it reached the app"),
			f.Fail("accepted", "the request reached the app as valid")},
		func(t *f.T, o *Obs) f.Result {
			if p := t.Target.Proxy; p != nil && !o.Smuggled && o.Accepted() && !o.Blocked && untouched(p, o) {
				return f.Out("proxy-dropped", "%s; %s discarded the field", o, p.Name)
			}
			return ref.outcome(o, "accepted")
		})
}

// untouched reports whether the app saw only the headers the suite sent
// validly (Host, the probe's) and the proxy's own, and no body.
func untouched(p *f.Proxy, o *Obs) bool {
	if o.Env == nil || len(o.Body) > 0 {
		return false
	}
	if v, _ := o.Env.Get("CONTENT_LENGTH"); v != "" && v != "0" {
		return false
	}
	for k := range o.Env {
		if strings.HasPrefix(k, "HTTP_") && k != "HTTP_HOST" && !strings.HasPrefix(k, "HTTP_X_PROBE_") && !p.Added(k) {
			return false
		}
	}
	return true
}

// shouldReject is mustReject for SHOULD-level leniency.
func shouldReject(id, section, sentence, stimulus, tmpl string) *f.Spec {
	ref := any400
	return spec(id, f.SHOULD, section, sentence, stimulus, tmpl, sendOpts{},
		[]f.Outcome{ref.rejected(""), f.ServerErrorOutcome(false), f.NonStrict("accepted", "accepted leniently")},
		func(t *f.T, o *Obs) f.Result { return ref.outcome(o, "accepted") })
}

// info records whether the server accepted or rejected.
func info(id, section, sentence, stimulus, tmpl string, show func(o *Obs) string) *f.Spec {
	return spec(id, f.INFO, section, sentence, stimulus, tmpl, sendOpts{},
		[]f.Outcome{f.Info("accepted", "accepted"), f.Info("rejected", "refused")},
		func(t *f.T, o *Obs) f.Result {
			if o.Accepted() {
				return f.Out("accepted", "%s %s", o, show(o))
			}
			return f.Out("rejected", "%s", o)
		})
}

func envShow(key string) func(o *Obs) string {
	return func(o *Obs) string {
		if o.Env == nil {
			return ""
		}
		return o.Env.Show(key)
	}
}
