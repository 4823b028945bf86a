package framework

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Target is one running server under test, as the specs see it.
type Target struct {
	Name    string
	Version string
	Addr    string // "127.0.0.1:PORT"
	Sink    *Sink
	// Exited is closed when the server's main process exits (nil: unknown).
	Exited <-chan struct{}
	// LogTail returns the last n lines of the server's log ("" if unknown).
	LogTail func(n int) string
	// Proxy is the reverse proxy in front of the server, or nil.
	Proxy *Proxy
	// TLS, when set, is how connections to a server that serves TLS
	// handshake (trusting its CA); the specs then run inside TLS.
	TLS *tls.Config

	memo sync.Map
}

// Proxy is a reverse proxy between the suite and the server under test
// (behind-nginx:<profile>). What RFC 9110 has an intermediary rewrite (its
// own HTTP-version, the headers it adds) never reaches the server as the
// client sent it, so specs judging those parts take the proxy into account.
type Proxy struct {
	Name     string   // "nginx"
	Upstream string   // the server's own address behind the proxy
	Version  string   // the HTTP-version it forwards requests with, "HTTP/1.1"
	Adds     []string // request headers it sets, e.g. "X-Forwarded-For"
}

// Added reports whether an environ key (HTTP_X_FORWARDED_FOR) stands for a
// header the proxy adds; false without a proxy.
func (p *Proxy) Added(key string) bool {
	if p == nil {
		return false
	}
	for _, h := range p.Adds {
		if key == "HTTP_"+strings.ToUpper(strings.ReplaceAll(h, "-", "_")) {
			return true
		}
	}
	return false
}

// Memo computes a per-server fact once (e.g. "takes chunked requests").
func (tg *Target) Memo(key string, compute func() any) any {
	if v, ok := tg.memo.Load(key); ok {
		return v
	}
	v := compute()
	tg.memo.Store(key, v)
	return v
}

// Alive reports whether the server is still running.
func (tg *Target) Alive() bool {
	if tg.Exited == nil {
		return true
	}
	select {
	case <-tg.Exited:
		return false
	default:
		return true
	}
}

// Log returns the server log tail, or "".
func (tg *Target) Log(n int) string {
	if tg.LogTail == nil {
		return ""
	}
	return tg.LogTail(n)
}

// T is a spec's handle on the server, the sink and its own evidence.
type T struct {
	Spec   *Spec
	Target *Target
	Sink   *Sink
	Ctx    context.Context
	conns  []*Conn
	notes  []string
	ids    []string
}

type harnessError struct{ err error }

// Fatalf stops the spec with ERROR: the harness, not the server, failed.
func (t *T) Fatalf(format string, a ...any) {
	panic(harnessError{fmt.Errorf(format, a...)})
}

// Note adds a line to the spec's transcript (events seen, waits, …).
func (t *T) Note(format string, a ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, a...))
}

var idCounter atomic.Int64

// NewID returns a fresh correlation id for one request of this spec.
func (t *T) NewID() string {
	n := idCounter.Add(1)
	short := t.Spec.ID
	if i := strings.LastIndexByte(short, '/'); i >= 0 {
		short = short[i+1:]
	}
	id := fmt.Sprintf("%d-%s", n, short)
	t.ids = append(t.ids, id)
	return id
}

// Dial opens a raw connection to the server (inside TLS when it serves
// TLS); the runner closes it.
func (t *T) Dial() *Conn { return t.dial(t.Target.TLS) }

// DialPlain opens a plain TCP connection even to a server that serves TLS
// (specs of what its TLS port does with plaintext).
func (t *T) DialPlain() *Conn { return t.dial(nil) }

func (t *T) dial(cfg *tls.Config) *Conn {
	c, err := DialTLS(t.Target.Addr, 5*time.Second, cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.conns = append(t.conns, c)
	return c
}

// Host is the default Host header value.
func (t *T) Host() string { return t.Target.Addr }

// Send opens a connection, writes raw and reads the first response.
func (t *T) Send(raw []byte, method string) *Exchange {
	c := t.Dial()
	if err := c.Send(raw); err != nil {
		// The server may close on a bad request before reading it all.
		t.Note("send: %v", err)
	}
	x := &Exchange{Conn: c}
	x.Resp, x.Err = c.ReadResponse(method, ReadTimeout)
	return x
}

// Do sends one probe request (filling in its ID) and reads the response.
func (t *T) Do(r Req) *Exchange {
	if r.ID == "" {
		r.ID = t.NewID()
	}
	method := r.Method
	if method == "" {
		method = "GET"
	}
	x := t.Send(r.Build(t.Host()), method)
	x.ID = r.ID
	return x
}

// Env sends an env request and decodes the dump; ok is false (with the
// exchange for details) if the server did not answer 200 with a dump.
func (t *T) Env(r Req) (*EnvDump, *Exchange) {
	r.Do = "env"
	x := t.Do(r)
	if x.Resp == nil || x.Resp.Status != 200 {
		return nil, x
	}
	d, err := ParseEnv(x.Resp.Body)
	if err != nil {
		return nil, x
	}
	return d, x
}

// MustEnv is Env that treats a missing dump as a harness error (for specs
// whose request is plainly valid, where a failure says nothing about the
// requirement under test).
func (t *T) MustEnv(r Req) Env {
	d, x := t.Env(r)
	if d == nil {
		t.Fatalf("environ dump request failed: %s", x.Summary())
	}
	return d.Environ
}

// Called reports whether the app was invoked for id (waiting up to d for
// its "call" event).
func (t *T) Called(id string, d time.Duration) bool {
	_, ok := t.Sink.WaitEv(id, d, "call")
	return ok
}

// Invoked reports whether the app ran for id, asked once the server has
// answered a later request: a hello on a fresh connection (the sentinel).
// The sink answers each event before the app goes on, so a request the
// server took up before the sentinel's has its call on record when the
// sentinel's response is in: no wait decides the answer. Only a server that
// holds a parsed request back behind a later one could run it afterwards.
// Call it once the request's own connection is closed: a server that serves
// one connection at a time takes the sentinel only then.
func (t *T) Invoked(id string) bool {
	if c, err := Dial(t.Target.Addr, 5*time.Second); err != nil {
		t.Note("sentinel: %v", err)
	} else {
		t.conns = append(t.conns, c)
		_ = c.Send(Req{ID: t.NewID(), Do: "hello", Close: true}.Build(t.Host()))
		if r, err := c.ReadResponse("GET", ReadTimeout); err != nil || r.Status != 200 {
			t.Note("sentinel: %s", (&Exchange{Conn: c, Resp: r}).Summary())
		}
	}
	return t.Sink.Has(id, "call")
}

// Collapsed reports whether the server answered a later request of one
// write in place of the first: the app never ran for first but ran for
// later (bjoern parses every request of one read and runs the app once,
// for the last). Call it only when first is a valid request that got a
// response: a server that ran the app for it reports so at once, and the
// EventTimeout wait is spent only on a server that did not.
func (t *T) Collapsed(first, later string) bool {
	if _, ok := t.Sink.WaitEv(first, EventTimeout, "call"); ok {
		return false
	}
	return t.Sink.Has(later, "call")
}

// Verdict is one spec's result on one server.
type Verdict struct {
	Spec       *Spec
	Outcome    string
	Verdict    string
	Detail     string
	Transcript string
	Seconds    float64
}

// defaultTimeout bounds a spec that sets none.
const defaultTimeout = 20 * time.Second

// RunSpec runs one spec against tg and computes its verdict. It never
// panics: harness failures, spec bugs and deadlines become ERROR.
func RunSpec(ctx context.Context, s *Spec, tg *Target) Verdict {
	start := time.Now()
	timeout := s.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := &T{Spec: s, Target: tg, Sink: tg.Sink, Ctx: ctx}
	type ret struct {
		res Result
		err error
	}
	done := make(chan ret, 1)
	go func() {
		var r ret
		defer func() {
			if p := recover(); p != nil {
				if he, ok := p.(harnessError); ok {
					r.err = he.err
				} else {
					r.err = fmt.Errorf("spec panicked (suite bug): %v", p)
				}
			}
			done <- r
		}()
		r.res = s.Run(t)
	}()
	var r ret
	select {
	case r = <-done:
	case <-ctx.Done():
		// Unblock the spec's reads so its goroutine ends.
		for _, c := range t.conns {
			_ = c.Close()
		}
		r.err = fmt.Errorf("spec deadline %s exceeded", timeout)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	for _, c := range t.conns {
		_ = c.Close()
	}
	v := Verdict{Spec: s, Seconds: time.Since(start).Seconds()}
	v.Transcript = t.transcript()
	switch {
	case r.err != nil:
		v.Verdict = ERROR
		v.Detail = "harness: " + r.err.Error()
		if !tg.Alive() {
			v.Detail += "; server exited. Log tail:\n" + tg.Log(20)
		}
	case s.Verdict(r.res.Outcome) == "":
		v.Verdict = ERROR
		v.Detail = fmt.Sprintf("suite bug: unknown outcome %q (%s)", r.res.Outcome, r.res.Detail)
	default:
		v.Outcome = r.res.Outcome
		v.Verdict = s.Verdict(r.res.Outcome)
		v.Detail = r.res.Outcome + ": " + r.res.Detail
	}
	for _, id := range t.ids {
		tg.Sink.forget(id)
	}
	return v
}

func (t *T) transcript() string {
	var sb strings.Builder
	for i, c := range t.conns {
		fmt.Fprintf(&sb, "== connection %d\n", i+1)
		sb.WriteString(c.T.String())
	}
	for _, id := range t.ids {
		evs := t.Sink.Events(id)
		if len(evs) == 0 {
			continue
		}
		fmt.Fprintf(&sb, "== events %s\n", id)
		for _, e := range evs {
			fmt.Fprintf(&sb, "%d %s %s\n", e.Seq, e.Ev, trimEvent(e))
		}
	}
	for _, n := range t.notes {
		sb.WriteString("-- " + n + "\n")
	}
	s := sb.String()
	if len(s) > 32<<10 {
		s = s[:16<<10] + "\n[... transcript cut ...]\n" + s[len(s)-16<<10:]
	}
	return s
}

func trimEvent(e Event) string {
	s := e.String()
	if e.Ev == "environ" && len(s) > 300 {
		return s[:300] + "…"
	}
	if len(s) > 1000 {
		return s[:1000] + "…"
	}
	return s
}
