// Package conformance runs the PEP 3333 and RFC 9112 specs against WSGI
// servers and produces reports.Check results.
//
// Each spec is defined once, in the framework registry (conformance/pep3333,
// conformance/http1). Run executes the registry directly, server after
// server; the Ginkgo suite in this package's tests wraps the same registry
// as Describe/It nodes for `go test` and `ginkgo`.
package conformance

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wsgikit/wsgikit/conformance/framework"
	_ "github.com/wsgikit/wsgikit/conformance/http1" // registers RFC 9112 specs
	"github.com/wsgikit/wsgikit/conformance/overtls"
	_ "github.com/wsgikit/wsgikit/conformance/pep3333" // registers PEP 3333 specs
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/textutil"
	"github.com/wsgikit/wsgikit/reports"
)

// newTarget is the specs' view of a running server.
func newTarget(name string, srv *harness.Instance, sink *framework.Sink) *framework.Target {
	return &framework.Target{Name: name, Version: srv.Version, Addr: srv.Addr, Sink: sink, Exited: srv.Exited(),
		LogTail: srv.LogTail, Proxy: proxyOf(srv), TLS: srv.ClientTLS()}
}

// tlsChecked makes a starter whose instance serves plaintext when TLS was
// asked for (or TLS when it was not) fail: the verdicts would judge the
// other transport.
func tlsChecked(start Starter, tls bool) Starter {
	return func(ctx context.Context, name string, env []string) (*harness.Instance, error) {
		inst, err := start(ctx, name, env)
		if err == nil && (inst.ClientTLS() != nil) != tls {
			_ = inst.Stop()
			return nil, fmt.Errorf("start %s: the server serves %s, but the run was asked with TLS %v", name, inst.Scheme(), tls)
		}
		return inst, err
	}
}

// Starter starts the named server serving apps/probe.py with env added to
// its environment (WSGIKIT_SINK=…).
type Starter func(ctx context.Context, name string, env []string) (*harness.Instance, error)

// Options selects what Run does.
type Options struct {
	Servers []string // profile names
	Focus   string   // spec IDs or regular expressions, comma-separated
	Level   string   // MUST, SHOULD or ALL (default)
	// Start starts one server; default: the harness (internal/harness).
	Start Starter
	// Progress, if set, is called after each spec (from several goroutines
	// when Parallel > 1).
	Progress func(server string, v framework.Verdict)
	// Parallel is how many servers are checked at once (default 1). Specs
	// use handshakes, not timing, so servers do not disturb each other's
	// verdicts; the golden test runs three at a time.
	Parallel int
	// TLS runs the suite over TLS: servers start with the harness's
	// throw-away CA (the default starter; a Start of one's own must start
	// them with TLS too), every connection handshakes first, the TLS specs
	// (conformance/overtls) join and the plaintext-only ones leave.
	TLS bool
	// Instances is how many fresh instances of one server share its specs,
	// side by side (default 1). Spec i goes to instance i mod Instances,
	// each instance runs its share in registry order (the disruptive specs
	// last) with its own event sink. A run mostly waits on sockets, for
	// the server's own timeouts (uwsgi-http11 holds each close-delimited
	// response 4 s), so the wall time divides while the CPU stays idle.
	Instances int
}

// Specs returns every registered spec.
func Specs() []*framework.Spec { return framework.All() }

// SpecsOver returns the specs of a run over TLS (tls) or plaintext: over
// TLS, the registry without its plaintext-only specs, and the TLS specs.
func SpecsOver(tls bool) []*framework.Spec {
	all := framework.All()
	if tls {
		all = slices.DeleteFunc(all, func(s *framework.Spec) bool { return overtls.PlaintextOnly[s.ID] })
		all = append(all, overtls.Specs()...)
	}
	return all
}

// Run runs the selected specs against each server in turn, each with a
// fresh instance and a fresh event sink. A server that cannot start gets an
// Error and no results. A spec that ERRORs runs once more when the server
// answers again, or on a fresh instance when it does not (the spec before it
// crashed the server); one that cannot be restarted, or dies too often,
// gets ERROR for the rest.
// The error return is for usage problems (unknown focus, no server).
func Run(ctx context.Context, opts Options) (*reports.Check, error) {
	specs, err := framework.Select(SpecsOver(opts.TLS), opts.Focus, opts.Level)
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("no spec selected")
	}
	if len(opts.Servers) == 0 {
		return nil, fmt.Errorf("no server named")
	}
	start := opts.Start
	if start == nil {
		start = HarnessStarter(HarnessConfig{TLS: opts.TLS})
	}
	check := &reports.Check{Schema: reports.CheckSchema, Generated: time.Now().UTC(), Machine: harness.Machine()}
	results := make([]reports.CheckServer, len(opts.Servers))
	done := make([]bool, len(opts.Servers))
	sem := make(chan struct{}, max(opts.Parallel, 1))
	var wg sync.WaitGroup
	for i, name := range opts.Servers {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], done[i] = runServer(ctx, name, specs, tlsChecked(start, opts.TLS), max(opts.Instances, 1), opts.Progress), true
		}()
	}
	wg.Wait()
	for i := range results {
		if done[i] {
			check.Servers = append(check.Servers, results[i]) // in the order asked
		}
	}
	return check, nil
}

func runServer(ctx context.Context, name string, specs []*framework.Spec, start Starter, instances int, progress func(string, framework.Verdict)) reports.CheckServer {
	cs := reports.CheckServer{Name: name, Results: []reports.CheckResult{}}
	insts, stop, err := startInstances(ctx, name, min(instances, len(specs)), start)
	if err != nil {
		cs.Error = err.Error()
		return cs
	}
	defer stop()
	cs.Version = insts[0].tg.Version
	results := make([]reports.CheckResult, len(specs))
	var wg sync.WaitGroup
	for k, in := range insts {
		var share []int
		for i := k; i < len(specs); i += len(insts) {
			share = append(share, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.runShare(ctx, specs, share, results, progress)
		}()
	}
	wg.Wait()
	cs.Results = results
	return cs
}

// instance is one running copy of the server under test with its own event
// sink; after a crash it may be replaced by a fresh one (restart).
type instance struct {
	name     string
	start    Starter
	sink     *framework.Sink
	env      []string
	srv      *harness.Instance
	tg       *framework.Target
	restarts int
}

// stop ends the current server and the sink.
func (in *instance) stop() {
	if in.srv != nil {
		_ = in.srv.Stop()
	}
	in.sink.Close()
}

// startInstances starts n instances of the server, each with its own event
// sink, side by side. If one cannot start, the others are stopped and its
// error is returned: a server runs whole or not at all.
func startInstances(ctx context.Context, name string, n int, start Starter) ([]*instance, func(), error) {
	insts := make([]*instance, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sink, err := framework.NewSink()
			if err != nil {
				errs[k] = err
				return
			}
			in := &instance{name: name, start: start, sink: sink, env: []string{"WSGIKIT_SINK=" + sink.Addr()}}
			if in.srv, err = start(ctx, name, in.env); err != nil {
				sink.Close()
				errs[k] = err
				return
			}
			in.tg = newTarget(name, in.srv, sink)
			insts[k] = in
		}()
	}
	wg.Wait()
	stop := func() {
		var sw sync.WaitGroup
		for _, in := range insts {
			if in != nil {
				sw.Add(1)
				go func() { defer sw.Done(); in.stop() }()
			}
		}
		sw.Wait()
	}
	started := 0
	for _, in := range insts {
		if in != nil {
			started++
		}
	}
	for k, err := range errs {
		if err == nil {
			continue
		}
		stop()
		if started > 0 {
			// Some started: instances of a command with a fixed socket or
			// pid file collide.
			return nil, nil, fmt.Errorf("start %s (instance %d of %d side by side; --instances 1 runs one): %v", name, k+1, n, err)
		}
		return nil, nil, fmt.Errorf("start %s: %v", name, err)
	}
	return insts, stop, nil
}

// runShare runs the specs at the indexes share against one instance, in
// order, writing each verdict to results at its index. After the instance
// dies for good, the rest of its share is ERROR.
func (in *instance) runShare(ctx context.Context, specs []*framework.Spec, share []int, results []reports.CheckResult, progress func(string, framework.Verdict)) {
	dead := ""
	for j, i := range share {
		s := specs[i]
		var v framework.Verdict
		switch {
		case dead != "":
			v = framework.Verdict{Spec: s, Verdict: framework.ERROR, Detail: dead}
		case ctx.Err() != nil:
			v = framework.Verdict{Spec: s, Verdict: framework.ERROR, Detail: "run cancelled"}
		default:
			v = framework.RunSpec(ctx, s, in.tg)
			if v.Verdict == framework.ERROR && ctx.Err() == nil {
				// A spec that ERRORs is usually the victim of the one before
				// it, whose request crashed a worker or the whole server
				// (Granian panics on a status code outside 100-999): this
				// spec's connection was refused or reset and says nothing.
				// Once the server answers again, or a fresh instance runs,
				// the spec runs once more.
				how := ""
				if waited, ok := answering(ctx, in.tg, recoveryWait); ok {
					how = fmt.Sprintf("the server answered a plain request %.1fs later", waited.Seconds())
				} else if in.restarts < maxRestarts && ctx.Err() == nil {
					tail := in.tg.Log(30)
					if err := in.restart(ctx); err == nil {
						how = fmt.Sprintf("the server had stopped answering; a fresh instance was started (restart %d of at most %d)", in.restarts, maxRestarts)
						if j > 0 {
							results[share[j-1]].Transcript += "-- the server stopped answering after this spec (the next one ERRORed); the run restarted it. Its log tail:\n" + tail + "\n"
						}
					} else {
						dead = fmt.Sprintf("server stopped answering during the run and could not be restarted (%v); log tail:\n%s", err, tail)
					}
				}
				if how != "" {
					first := v
					v = framework.RunSpec(ctx, s, in.tg)
					v.Transcript = fmt.Sprintf("-- first attempt: ERROR %s\n-- %s; this is the second attempt\n", textutil.Clip(textutil.FirstLine(first.Detail, ""), 300), how) + v.Transcript
				}
			}
			switch {
			case dead != "":
			case !in.tg.Alive():
				// This spec's request ended the server (Granian exits when a
				// worker panics): the spec has its verdict; the rest of the
				// share gets a fresh instance, whether or not the exit was
				// complete before the next spec would have noticed.
				tail := in.tg.Log(30)
				if in.restarts >= maxRestarts || ctx.Err() != nil {
					dead = "server exited during the run; log tail:\n" + tail
				} else if err := in.restart(ctx); err != nil {
					dead = fmt.Sprintf("server exited during the run and could not be restarted (%v); log tail:\n%s", err, tail)
				} else {
					v.Transcript += fmt.Sprintf("-- the server exited after this spec; the run restarted it: a fresh instance was started (restart %d of at most %d) for the next spec. Its log tail:\n%s\n", in.restarts, maxRestarts, tail)
				}
			case v.Verdict == framework.ERROR && !listening(in.tg.Addr):
				dead = "server stopped accepting connections during the run; log tail:\n" + in.tg.Log(30)
			}
			if dead != "" && v.Verdict == framework.ERROR && !strings.Contains(v.Detail, "log tail") {
				v.Detail += "; " + dead
			}
		}
		if progress != nil {
			progress(in.name, v)
		}
		results[i] = toResult(v)
	}
}

// restart replaces the instance with a fresh one serving the same sink.
func (in *instance) restart(ctx context.Context) error {
	_ = in.srv.Stop()
	nsrv, err := in.start(ctx, in.name, in.env)
	if err != nil {
		in.srv = nil
		return err
	}
	in.srv = nsrv
	in.tg = newTarget(in.name, nsrv, in.sink)
	in.restarts++
	return nil
}

// recoveryWait bounds how long a live server may take to answer again after
// a spec ERRORed: a crashed worker's respawn fits with room for a loaded
// machine.
const recoveryWait = 30 * time.Second

// maxRestarts bounds fresh instances per run: a server that one spec kills
// gets another; one that keeps dying ends in ERRORs.
const maxRestarts = 5

// answering polls until the server answers the probe app's hello with a
// 200, or d passes, or its process exits; it returns how long that took.
func answering(ctx context.Context, tg *framework.Target, d time.Duration) (time.Duration, bool) {
	start := time.Now()
	req := framework.Req{Close: true}.Build(tg.Addr)
	for tg.Alive() && ctx.Err() == nil {
		if c, err := tg.Dial(2 * time.Second); err == nil {
			_ = c.Send(req)
			r, err := c.ReadResponse("GET", framework.ReadTimeout)
			_ = c.Close()
			if err == nil && r.Status == 200 && tg.Alive() {
				return time.Since(start), true
			}
		}
		if time.Since(start) > d {
			break
		}
		select {
		case <-ctx.Done():
		case <-tg.Exited:
		case <-time.After(250 * time.Millisecond):
		}
	}
	return time.Since(start), false
}

// listening reports whether the server still accepts connections.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func toResult(v framework.Verdict) reports.CheckResult {
	return reports.CheckResult{
		ID:         v.Spec.ID,
		Level:      v.Spec.Level,
		Verdict:    v.Verdict,
		Detail:     v.Detail,
		Transcript: v.Transcript,
		Section:    v.Spec.Section,
		Sentence:   v.Spec.Sentence,
		Stimulus:   v.Spec.Stimulus,
		Seconds:    v.Seconds,
	}
}

// Counts tallies verdicts of one server.
func Counts(cs reports.CheckServer) map[string]int {
	out := map[string]int{}
	for _, r := range cs.Results {
		out[r.Verdict]++
	}
	return out
}

// Failed reports whether a check failed: any FAIL (or NON-STRICT when
// strict) on any server.
func Failed(c *reports.Check, strict bool) bool {
	for _, s := range c.Servers {
		for _, r := range s.Results {
			if failing(r.Verdict, strict) {
				return true
			}
		}
	}
	return false
}

// HarnessErrors lists servers that could not run and results that are ERROR.
func HarnessErrors(c *reports.Check) []string {
	var out []string
	for _, s := range c.Servers {
		if s.Error != "" {
			out = append(out, s.Name+": "+s.Error)
		}
		n := 0
		for _, r := range s.Results {
			if r.Verdict == framework.ERROR {
				n++
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s: %d specs ERROR", s.Name, n))
		}
	}
	return out
}

// repoRoot finds the module root from the working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("module root not found above the working directory")
		}
		dir = parent
	}
}
