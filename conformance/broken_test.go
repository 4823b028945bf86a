package conformance

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

// TestServerDiesMidRun: when the server exits, the run starts a fresh
// instance and runs the spec that found it gone once more; one that dies
// again at once gets ERROR for the rest, with the log tail; either way the
// run goes on with the next server.
func TestServerDiesMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a server")
	}
	// The harness's readiness probe takes one connection, each spec here
	// one more: "dies" serves two specs per instance, "dies-at-once" none,
	// "gaps" refuses connections for a second after two.
	user := []*harness.Profile{brokenProfile(t, "dies", "--die-after 3"), brokenProfile(t, "dies-at-once", "--die-after 1"),
		brokenProfile(t, "gaps", "--gap-after 3"), brokenProfile(t, "lives", "")}
	c, err := Run(context.Background(), Options{
		Servers: []string{"dies", "dies-at-once", "gaps", "lives"},
		Focus:   `^pep3333/environ/request-method-`,
		Start:   HarnessStarter(HarnessConfig{User: user}),
	})
	if err != nil {
		t.Fatal(err)
	}
	dies, atOnce, gaps, lives := c.Servers[0], c.Servers[1], c.Servers[2], c.Servers[3]
	var restarted, reran bool
	for _, r := range dies.Results {
		if r.Verdict == "ERROR" {
			t.Errorf("dies: %s ERROR though a fresh instance serves it: %s", r.ID, r.Detail)
		}
		restarted = restarted || strings.Contains(r.Transcript, "the run restarted it") && strings.Contains(r.Transcript, "exiting after")
		reran = reran || strings.Contains(r.Transcript, "a fresh instance was started")
	}
	if !restarted || !reran {
		t.Errorf("dies: no transcript tells of the restart (spec before: %v, rerun: %v)", restarted, reran)
	}
	for _, r := range atOnce.Results {
		if r.Verdict != "ERROR" || !strings.Contains(r.Detail, "exiting after") {
			t.Errorf("dies-at-once: %s %s, want ERROR with the log tail: %s", r.ID, r.Verdict, r.Detail)
		}
	}
	// A server that stops listening for a while (a worker respawning) is
	// waited for, not restarted.
	waited := false
	for _, r := range gaps.Results {
		if r.Verdict == "ERROR" {
			t.Errorf("gaps: %s ERROR though the server came back: %s", r.ID, r.Detail)
		}
		waited = waited || strings.Contains(r.Transcript, "the server answered a plain request")
	}
	if !waited {
		t.Errorf("gaps: no transcript tells of the wait")
	}
	for _, r := range lives.Results {
		if r.Verdict == "ERROR" {
			t.Errorf("lives: %s ERROR: %s", r.ID, r.Detail)
		}
	}
	if len(lives.Results) != len(dies.Results) || len(atOnce.Results) != len(dies.Results) || len(gaps.Results) != len(dies.Results) {
		t.Errorf("the run did not go on with the next server: results dies %d (%s), dies-at-once %d (%s), gaps %d (%s), lives %d (%s)",
			len(dies.Results), dies.Error, len(atOnce.Results), atOnce.Error, len(gaps.Results), gaps.Error, len(lives.Results), lives.Error)
	}
}

// brokenProfile runs testdata/broken_server.py with extra flags as name.
func brokenProfile(t *testing.T, name, extra string) *harness.Profile {
	t.Helper()
	p, err := harness.FromCmd("/usr/bin/python3 " + brokenScript(t) + " " + extra + " --host {host} --port {port} --appdir {appdir} {app}")
	if err != nil {
		t.Fatal(err)
	}
	p.Name = name
	return p
}

// recordingStarter starts servers through the harness and keeps each one
// it started; fail makes the nth start (from 1) fail instead.
type recordingStarter struct {
	start Starter
	fail  int
	mu    sync.Mutex
	calls int
	srvs  []*harness.Instance
}

func (r *recordingStarter) Start(ctx context.Context, name string, env []string) (*harness.Instance, error) {
	r.mu.Lock()
	r.calls++
	n := r.calls
	r.mu.Unlock()
	if n == r.fail {
		return nil, errors.New("refused on purpose")
	}
	s, err := r.start(ctx, name, env)
	if err == nil {
		r.mu.Lock()
		r.srvs = append(r.srvs, s)
		r.mu.Unlock()
	}
	return s, err
}

// TestInstancesShareSpecs: with Instances 3, three instances run side by
// side, spec i on instance i mod 3, and the results come back in the
// order of the selection.
func TestInstancesShareSpecs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts servers")
	}
	const focus = `^pep3333/environ/request-method-`
	rec := &recordingStarter{start: HarnessStarter(HarnessConfig{User: []*harness.Profile{brokenProfile(t, "lives", "")}})}
	c, err := Run(context.Background(), Options{Servers: []string{"lives"}, Focus: focus, Start: rec.Start, Instances: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Servers[0]
	if s.Error != "" {
		t.Fatalf("lives did not start: %s", s.Error)
	}
	specs, err := framework.Select(framework.All(), focus, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) < 6 || len(s.Results) != len(specs) {
		t.Fatalf("%d results for %d specs (want ≥ 6 specs, one result each)", len(s.Results), len(specs))
	}
	if len(rec.srvs) != 3 {
		t.Fatalf("%d instances started, want 3", len(rec.srvs))
	}
	// Each request names the instance it went to in its Host header.
	ranOn := func(r reports.CheckResult) string {
		for _, srv := range rec.srvs {
			if strings.Contains(r.Transcript, "Host: "+srv.Addr+`\r\n`) {
				return srv.Addr
			}
		}
		return ""
	}
	for i, r := range s.Results {
		if r.ID != specs[i].ID {
			t.Errorf("result %d is %s, want %s (selection order)", i, r.ID, specs[i].ID)
		}
		if r.Verdict == framework.ERROR {
			t.Errorf("%s: ERROR: %s", r.ID, r.Detail)
		}
		switch got := ranOn(r); {
		case got == "":
			t.Errorf("%s: no instance's address in its transcript:\n%s", r.ID, r.Transcript)
		case i >= 3 && got != ranOn(s.Results[i-3]):
			t.Errorf("%s ran on %s, %s on %s: want the same instance (i mod 3)", r.ID, got, s.Results[i-3].ID, ranOn(s.Results[i-3]))
		case i >= 1 && i < 3 && got == ranOn(s.Results[i-1]):
			t.Errorf("%s and %s both ran on %s: want neighbours on different instances", r.ID, s.Results[i-1].ID, got)
		}
	}
	for _, srv := range rec.srvs {
		select {
		case <-srv.Exited():
		default:
			t.Errorf("instance %s still running after Run", srv.Addr)
		}
	}
}

// TestInstanceStartFails: when one of a server's instances cannot start,
// the server gets an Error naming --instances and no results, and the
// instances that did start are stopped.
func TestInstanceStartFails(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts servers")
	}
	rec := &recordingStarter{start: HarnessStarter(HarnessConfig{User: []*harness.Profile{brokenProfile(t, "lives", "")}}), fail: 2}
	c, err := Run(context.Background(), Options{Servers: []string{"lives"}, Focus: `^pep3333/environ/request-method-`, Start: rec.Start, Instances: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Servers[0]
	if !strings.Contains(s.Error, "refused on purpose") || !strings.Contains(s.Error, "--instances 1") || len(s.Results) != 0 {
		t.Errorf("error %q with %d results; want the refusal, the way to run one instance, and no results", s.Error, len(s.Results))
	}
	if len(rec.srvs) != 2 {
		t.Fatalf("%d instances started, want the other 2", len(rec.srvs))
	}
	for _, srv := range rec.srvs {
		select {
		case <-srv.Exited():
		default:
			t.Errorf("instance %s still running after Run", srv.Addr)
		}
	}
}
