package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
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
		testenv.Missing(t, "no /usr/bin/python3: apt-get install python3")
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

// TestServerDiesMidRun: when the server exits, the remaining specs are
// ERROR with the log tail, and the run goes on with the next server.
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
	// The harness's readiness probe takes one connection.
	user := []*harness.Profile{mk("dies", "--die-after 3"), mk("lives", "")}
	c, err := Run(context.Background(), Options{
		Servers: []string{"dies", "lives"},
		Focus:   `^pep3333/environ/request-method-`,
		Start:   HarnessStarter(HarnessConfig{User: user}),
	})
	if err != nil {
		t.Fatal(err)
	}
	dies, lives := c.Servers[0], c.Servers[1]
	var errs int
	for _, r := range dies.Results {
		if r.Verdict == "ERROR" {
			errs++
			if !strings.Contains(r.Detail, "exiting after") {
				t.Errorf("%s: ERROR without the log tail: %s", r.ID, r.Detail)
			}
		}
	}
	if errs == 0 || errs == len(dies.Results) {
		t.Errorf("dies: %d of %d ERROR; want some specs run, then ERROR", errs, len(dies.Results))
	}
	for _, r := range lives.Results {
		if r.Verdict == "ERROR" {
			t.Errorf("lives: %s ERROR: %s", r.ID, r.Detail)
		}
	}
	if len(lives.Results) != len(dies.Results) {
		t.Errorf("the run did not go on with the next server")
	}
}
