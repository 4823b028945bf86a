package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/harness"
)

// mustCatch are specs every pinned peer passes; the broken server
// (testdata/broken_server.py) violates each on purpose, so each must FAIL
// there. This keeps "PASS everywhere" from hiding a spec that cannot fail.
var mustCatch = []string{
	"pep3333/app/environ-is-dict",
	"pep3333/app/positional-args",
	"pep3333/environ/fresh-per-request",
	"pep3333/environ/path-info-percent-decoded-latin1",
	"pep3333/environ/no-code-points-above-ff",
	"pep3333/environ/query-string-raw",
	"pep3333/environ/no-http-content-length",
	"pep3333/environ/no-http-content-type",
	"pep3333/environ/wsgi-version",
	"pep3333/start_response/status-transmitted",
	"pep3333/start_response/repeated-headers-preserved",
	"pep3333/start_response/no-transmit-on-start",
	"pep3333/start_response/date-header",
	"pep3333/body/streaming-no-buffering",
	"pep3333/write/no-buffering",
	"pep3333/close/after-completion",
	"pep3333/close/on-returned-object",
	"pep3333/close/on-content-length-reached",
}

func TestBrokenServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a server")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "broken_server.py"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	p, err := harness.FromCmd("/usr/bin/python3 " + script + " --host {host} --port {port} --appdir {appdir} {app}")
	if err != nil {
		t.Fatal(err)
	}
	p.Name = "broken"
	c, err := Run(context.Background(), Options{
		Servers: []string{"broken"},
		Focus:   strings.Join(mustCatch, ","),
		Start:   HarnessStarter(HarnessConfig{User: []*harness.Profile{p}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Servers[0]
	if s.Error != "" {
		t.Fatalf("broken server did not start: %s", s.Error)
	}
	got := map[string]string{}
	for _, r := range s.Results {
		got[r.ID] = r.Verdict + ": " + firstLine(r.Detail)
	}
	for _, id := range mustCatch {
		if v, ok := got[id]; !ok || !strings.HasPrefix(v, "FAIL") {
			t.Errorf("%s did not catch the broken server: %q", id, v)
		}
	}
}

// TestServerDiesMidRun: when the server exits, the run starts a fresh
// instance and runs the spec that found it gone once more; one that dies
// again at once gets ERROR for the rest, with the log tail; either way the
// run goes on with the next server.
func TestServerDiesMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a server")
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "broken_server.py"))
	mk := func(name, extra string) *harness.Profile {
		p, err := harness.FromCmd("/usr/bin/python3 " + script + " " + extra + " --host {host} --port {port} --appdir {appdir} {app}")
		if err != nil {
			t.Fatal(err)
		}
		p.Name = name
		return p
	}
	// The harness's readiness probe takes one connection, each spec here
	// one more: "dies" serves two specs per instance, "dies-at-once" none,
	// "gaps" refuses connections for a second after two.
	user := []*harness.Profile{mk("dies", "--die-after 3"), mk("dies-at-once", "--die-after 1"), mk("gaps", "--gap-after 3"), mk("lives", "")}
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
		t.Errorf("the run did not go on with the next server")
	}
}
