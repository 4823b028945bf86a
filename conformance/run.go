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
	"strings"
	"sync"
	"time"

	"github.com/wsgikit/wsgikit/conformance/framework"
	_ "github.com/wsgikit/wsgikit/conformance/http1"   // registers RFC 9112 specs
	_ "github.com/wsgikit/wsgikit/conformance/pep3333" // registers PEP 3333 specs
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

// Server is one running instance under test.
type Server interface {
	Addr() string
	Version() string
	Exited() <-chan struct{}
	LogTail(n int) string
	Stop() error
}

// Starter starts the named server serving apps/probe.py with env added to
// its environment (WSGIKIT_SINK=…).
type Starter func(ctx context.Context, name string, env []string) (Server, error)

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

// Run runs the selected specs against each server in turn, each with fresh
// instances (opts.Instances) and fresh event sinks. A server that cannot
// start gets an Error and no results; an instance that dies mid-run gets
// ERROR for the rest of its share.
// The error return is for usage problems (unknown focus, no server).
func Run(ctx context.Context, opts Options) (*reports.Check, error) {
	specs, err := framework.Select(framework.All(), opts.Focus, opts.Level)
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
		start = HarnessStarter(HarnessConfig{})
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
			results[i], done[i] = runServer(ctx, name, specs, start, max(opts.Instances, 1), opts.Progress), true
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
	targets, stop, err := startInstances(ctx, name, min(instances, len(specs)), start)
	if err != nil {
		cs.Error = err.Error()
		return cs
	}
	defer stop()
	cs.Version = targets[0].Version
	results := make([]reports.CheckResult, len(specs))
	var wg sync.WaitGroup
	for k, tg := range targets {
		var share []int
		for i := k; i < len(specs); i += len(targets) {
			share = append(share, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			runShare(ctx, tg, specs, share, results, progress)
		}()
	}
	wg.Wait()
	cs.Results = results
	return cs
}

// startInstances starts n instances of the server, each with its own event
// sink, side by side. If one cannot start, the others are stopped and its
// error is returned: a server runs whole or not at all.
func startInstances(ctx context.Context, name string, n int, start Starter) ([]*framework.Target, func(), error) {
	targets := make([]*framework.Target, n)
	errs := make([]error, n)
	var closers []func()
	var mu sync.Mutex
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
			srv, err := start(ctx, name, []string{"WSGIKIT_SINK=" + sink.Addr()})
			if err != nil {
				sink.Close()
				errs[k] = err
				return
			}
			mu.Lock()
			closers = append(closers, func() { srv.Stop(); sink.Close() })
			mu.Unlock()
			targets[k] = &framework.Target{Name: name, Version: srv.Version(), Addr: srv.Addr(), Sink: sink, Exited: srv.Exited(), LogTail: srv.LogTail}
		}()
	}
	wg.Wait()
	stop := func() {
		var sw sync.WaitGroup
		for _, c := range closers {
			sw.Add(1)
			go func() { defer sw.Done(); c() }()
		}
		sw.Wait()
	}
	for k, err := range errs {
		if err == nil {
			continue
		}
		stop()
		if len(closers) > 0 {
			// Some started: instances of a command with a fixed socket or
			// pid file collide.
			return nil, nil, fmt.Errorf("start %s (instance %d of %d side by side; --instances 1 runs one): %v", name, k+1, n, err)
		}
		return nil, nil, fmt.Errorf("start %s: %v", name, err)
	}
	return targets, stop, nil
}

// runShare runs the specs at the indexes share against one instance, in
// order, writing each verdict to results at its index. After the instance
// dies, the rest of its share is ERROR.
func runShare(ctx context.Context, tg *framework.Target, specs []*framework.Spec, share []int, results []reports.CheckResult, progress func(string, framework.Verdict)) {
	dead := ""
	for _, i := range share {
		s := specs[i]
		var v framework.Verdict
		switch {
		case dead != "":
			v = framework.Verdict{Spec: s, Verdict: framework.ERROR, Detail: dead}
		case ctx.Err() != nil:
			v = framework.Verdict{Spec: s, Verdict: framework.ERROR, Detail: "run cancelled"}
		default:
			v = framework.RunSpec(ctx, s, tg)
			if !tg.Alive() {
				dead = "server exited during the run; log tail:\n" + tg.Log(30)
			} else if v.Verdict == framework.ERROR && !listening(tg.Addr) {
				dead = "server stopped accepting connections during the run; log tail:\n" + tg.Log(30)
			}
			if dead != "" && v.Verdict == framework.ERROR && !strings.Contains(v.Detail, "log tail") {
				v.Detail += "; " + dead
			}
		}
		if progress != nil {
			progress(tg.Name, v)
		}
		results[i] = toResult(v)
	}
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
			if r.Verdict == framework.FAIL || strict && r.Verdict == framework.NONSTRICT {
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
