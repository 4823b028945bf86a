package http1

import (
	"encoding/base64"
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
//	{S}   a complete smuggled request "GET /smuggled" with its own id {id2}
//	{id} {id2} {host}
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: {host}\r\nX-Probe-Id: {id2}\r\nX-Probe-Do: env\r\n\r\n"

var readArg = base64.StdEncoding.EncodeToString([]byte(`{"read":true}`))

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
	Blocked  bool   // the app's body read never ended (the server passed on a stream without EOF)
	Second   *f.Response
	// Collapsed: the first response is the environ dump of {id2}, and the
	// app never ran for {id} (bjoern runs the app only for the last
	// request of one read).
	Collapsed bool
}

// Accepted means the app got the request and read its body without an
// error from the server (a read that never ends counts as accepted: the
// server handed the request over).
func (o *Obs) Accepted() bool { return o.Called && o.ReadErr == "" && (o.Env != nil || o.Blocked) }

// Rejected means the server refused: an error status or a close, and the
// app either never ran or its read raised (lazy parsers surface framing
// errors inside wsgi.input.read()).
func (o *Obs) Rejected() bool {
	if o.Accepted() {
		return false
	}
	return f.Rejected(o.X) || o.X.Resp != nil && o.ReadErr != ""
}

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
	second    bool  // read a second response even without {S}
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
	// The app's events travel on their own connection; when the server
	// answered 200 they are surely coming. Otherwise a short wait covers the
	// sink's lag (a lazily parsing server may have called the app).
	wait := 150 * time.Millisecond
	if x.Resp != nil && x.Resp.Status == 200 && !answersOther(x.Resp, id) {
		wait = f.EventTimeout
	}
	if ev, ok := t.Sink.WaitEv(id, wait, "environ"); ok {
		obs.Called = true
		obs.Env = f.EventEnv(ev)
		obs.Body = f.B64(ev, "body")
		if re, ok := ev.Data["read_error"].(map[string]any); ok {
			obs.ReadErr = fmt.Sprint(re["type"], ": ", re["msg"])
		}
		obs.Blocked = ev.Bool("read_blocked")
	} else if t.Called(id, 100*time.Millisecond) {
		obs.Called = true
		obs.Blocked = true
	}
	// Was anything served after the first response? Only asked when the
	// template carries a second request.
	if strings.Contains(tmpl, "{S}") || o.second {
		if x.Resp != nil && !x.Closed() {
			if r, err := c.ReadResponse("GET", 1500*time.Millisecond); err == nil {
				obs.Second = r
			}
		}
		obs.Smuggled = t.Called(id2, 300*time.Millisecond)
		if x.Resp != nil && x.Resp.Status == 200 && !obs.Called {
			if d, err := f.ParseEnv(x.Resp.Body); err == nil {
				got, _ := d.Environ.Get("HTTP_X_PROBE_ID")
				obs.Collapsed = got == id2
			}
		}
	}
	return obs
}

// answersOther reports whether r is the environ dump of another request
// than id: a server that answered the smuggled request in place of the
// first one has not answered the first, so its events are not sure to come.
func answersOther(r *f.Response, id string) bool {
	d, err := f.ParseEnv(r.Body)
	if err != nil {
		return false
	}
	got, ok := d.Environ.Get("HTTP_X_PROBE_ID")
	return ok && got != id
}

// Spec builders ------------------------------------------------------------

type judge func(t *f.T, o *Obs) f.Result

func spec(id, level, section, sentence, stimulus, tmpl string, opts sendOpts, outs []f.Outcome, j judge) *f.Spec {
	return &f.Spec{
		ID: "http1/" + id, Level: level, Section: section, Sentence: sentence, Stimulus: stimulus, Outcomes: outs,
		Run: func(t *f.T) f.Result { return j(t, observe(t, tmpl, opts)) },
	}
}

// mustReject: an invalid request must be refused (4xx/5xx or close), the
// app never given its data, and nothing smuggled.
func mustReject(id, section, sentence, stimulus, tmpl string) *f.Spec {
	return spec(id, f.MUST, section, sentence, stimulus, tmpl, sendOpts{},
		[]f.Outcome{f.Pass("rejected", "4xx/5xx or close; the app got no data"), f.Fail("accepted", "the request reached the app as valid")},
		func(t *f.T, o *Obs) f.Result {
			if o.Smuggled || o.Accepted() {
				return f.Out("accepted", "%s", o)
			}
			if o.Rejected() {
				return f.Out("rejected", "%s", o)
			}
			return f.Out("accepted", "%s", o)
		})
}

// mustRejectField is mustReject for an invalid field line. A proxy in front
// may discard the line and forward the rest (nginx's default,
// ignore_invalid_headers): the server never sees it, and the stack answered
// without the 400 RFC 9112 §2.2 asks for (a SHOULD), so that is NON-STRICT
// when no trace of the field (header, length, body) reached the app.
func mustRejectField(id, section, sentence, stimulus, tmpl string) *f.Spec {
	return spec(id, f.MUST, section, sentence, stimulus, tmpl, sendOpts{},
		[]f.Outcome{f.Pass("rejected", "4xx/5xx or close; the app got no data"),
			f.NonStrict("proxy-dropped", "behind a proxy: the field line discarded, the rest forwarded; nothing of it reached the app"),
			f.Fail("accepted", "the request reached the app as valid")},
		func(t *f.T, o *Obs) f.Result {
			if !o.Smuggled && !o.Accepted() && o.Rejected() {
				return f.Out("rejected", "%s", o)
			}
			if p := t.Target.Proxy; p != nil && !o.Smuggled && o.Accepted() && !o.Blocked && untouched(p, o) {
				return f.Out("proxy-dropped", "%s; %s discarded the field", o, p.Name)
			}
			return f.Out("accepted", "%s", o)
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
	return spec(id, f.SHOULD, section, sentence, stimulus, tmpl, sendOpts{},
		[]f.Outcome{f.Pass("rejected", "4xx/5xx or close"), f.NonStrict("accepted", "accepted leniently")},
		func(t *f.T, o *Obs) f.Result {
			if o.Rejected() && !o.Accepted() {
				return f.Out("rejected", "%s", o)
			}
			return f.Out("accepted", "%s", o)
		})
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
