package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/reports"
)

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 2
	}
	return 0
}

func TestCheckUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--server", "gunicorn-gthred"}, "did you mean gunicorn-gthread"},
		{[]string{"check", "--server", "wsgiref", "--focus", "pep3333/nope/zzz-environ"}, "close matches"},
		{[]string{"check", "--level", "FOO"}, "want MUST, SHOULD or ALL"},
		{[]string{"check", "--instances", "0"}, "want 1 or more"},
		{[]string{"check", "--cmd", "'unbalanced"}, "--cmd"},
		{[]string{"check", "--chdir", "."}, "--chdir: check serves wsgikit's probe app"},
		{[]string{"check", "--cmd", "a=true {bind} {app}", "--cmd", "a=false {bind} {app}"}, "--cmd a: the name is given twice"},
		{[]string{"check", "--virtualenv", "/nonexistent"}, "no bin/python"},
		{[]string{"check", "--baseline", "check_test.go"}, "--baseline check_test.go: want a check.json"},
	} {
		_, err := runWsgikit(tc.args...)
		if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d, err %v; want 2 and %q", tc.args, exitCode(err), err, tc.want)
		}
	}
}

// TestCheckOutputs runs a few specs against wsgiref (the stdlib server,
// always present) and checks the files and the exit code: wsgiref's
// SCRIPT_NAME spec passes, so exit 0; its 204 Content-Length is a FAIL, so
// exit 1.
func TestCheckOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a server")
	}
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		testenv.Missing(t, "no /usr/bin/python3: apt-get install python3")
	}
	dir := t.TempDir()
	_, err := runWsgikit("check", "-q", "--server", "wsgiref", "--focus", "pep3333/environ/script-name-root", "-o", dir)
	if exitCode(err) != 0 {
		t.Fatalf("exit %d: %v", exitCode(err), err)
	}
	for _, f := range []string{"check.json", "check.md", "junit-wsgiref.xml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "check.json"))
	var c reports.Check
	if err := json.Unmarshal(b, &c); err != nil || c.Schema != reports.CheckSchema || len(c.Servers) != 1 || len(c.Servers[0].Results) != 1 {
		t.Fatalf("check.json: %v %+v", err, c)
	}
	if r := c.Servers[0].Results[0]; r.Verdict != "PASS" || r.Transcript == "" || r.Sentence == "" {
		t.Errorf("result %+v", r)
	}
	_, err = runWsgikit("check", "-q", "--server", "wsgiref", "--focus", "pep3333/body/204-no-content-length", "-o", dir)
	if exitCode(err) != 1 {
		t.Errorf("a MUST failing: exit %d (%v), want 1", exitCode(err), err)
	}
}

// TestCheckStrictAndNoSpecRan: a SHOULD that is NON-STRICT passes the run
// (exit 0) until --strict (exit 1); a run where no spec ran, because the
// server never started, is exit 2 and says so.
func TestCheckStrictAndNoSpecRan(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a server")
	}
	requireProfile(t, "wsgiref")
	dir := t.TempDir()
	// wsgiref answers "Connection: close" requests without announcing the
	// close: NON-STRICT in its pinned verdicts.
	args := []string{"check", "-q", "--server", "wsgiref", "--focus", "http1/keepalive/close-announced", "-o", dir}
	if _, err := runWsgikit(args...); exitCode(err) != 0 {
		t.Fatalf("NON-STRICT without --strict: exit %d (%v), want 0", exitCode(err), err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "check.json"))
	var c reports.Check
	if err := json.Unmarshal(b, &c); err != nil || len(c.Servers) != 1 || len(c.Servers[0].Results) != 1 || c.Servers[0].Results[0].Verdict != "NON-STRICT" {
		t.Fatalf("check.json: %v %s", err, b)
	}
	if _, err := runWsgikit(append(args, "--strict")...); exitCode(err) != 1 {
		t.Fatalf("NON-STRICT with --strict: exit %d (%v), want 1", exitCode(err), err)
	}
	_, err := runWsgikit("check", "-q", "--cmd", "sh -c 'echo no server here; exit 3' {port} {app}", "--focus", "pep3333/environ/script-name-root", "-o", t.TempDir())
	if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), "no spec ran") {
		t.Fatalf("a server that never starts: exit %d (%v), want 2 and \"no spec ran\"", exitCode(err), err)
	}
}

func TestCheckElapsed(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Nanosecond, "0s"}, // a clock read twice for one verdict
		{-3 * time.Second, "0s"},
		{400 * time.Millisecond, "0s"},
		{600 * time.Millisecond, "1s"},
		{90 * time.Second, "90s"},
	} {
		if got := elapsed(tc.d); got != tc.want {
			t.Errorf("elapsed(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestCheckBaselineGate: with --baseline, a server's known failure passes
// and a new one fails; a baseline that does not exist yet is a first run,
// whatever failed, and is written for the next.
func TestCheckBaselineGate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a server")
	}
	requireProfile(t, "wsgiref")
	dir := t.TempDir()
	base := filepath.Join(dir, "baseline.json")
	// wsgiref sends Content-Length on a 204: a MUST it fails.
	args := []string{"check", "-q", "--server", "wsgiref", "--focus", "pep3333/body/204-no-content-length", "-o", filepath.Join(dir, "out"), "--baseline", base}
	out, err := runWsgikit(args...)
	if exitCode(err) != 0 || !strings.Contains(out, "no baseline at "+base+" yet") || !strings.Contains(out, "wrote "+base+" (baseline)") {
		t.Fatalf("first run: exit %d (%v), want 0, a note and the baseline written:\n%s", exitCode(err), err, out)
	}
	out, err = runWsgikit(args...)
	if exitCode(err) != 0 || !strings.Contains(out, "no verdict worse than "+base) {
		t.Fatalf("the known failure again: exit %d (%v), want 0:\n%s", exitCode(err), err, out)
	}
	b, _ := os.ReadFile(base)
	if err := os.WriteFile(base, []byte(strings.ReplaceAll(string(b), `"verdict": "FAIL"`, `"verdict": "PASS"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runWsgikit(args...)
	if exitCode(err) != 1 || !strings.Contains(out, "WORSE      wsgiref pep3333/body/204-no-content-length: PASS → FAIL") {
		t.Fatalf("a new failure: exit %d (%v), want 1 naming it:\n%s", exitCode(err), err, out)
	}
}
