package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/reports"
)

// pipReason is the last line of pip's output that the fake venvs record.
const pipReason = "error: ghost.h: No such file or directory"

// fakeVenv is a peers venv where `make setup` failed to install dists:
// bin/python is Debian's interpreter (nothing from PyPI importable beyond
// Debian's packages) and wsgikit-failed.json holds pip's reason, as
// python/venv.py writes it. WSGIKIT_PYTHON points at it for the test.
func fakeVenv(t *testing.T, dists ...string) {
	t.Helper()
	if _, err := os.Stat(harness.DefaultPython); err != nil {
		testenv.Missing(t, "no %s: run make setup (apt-get install python3)", harness.DefaultPython)
	}
	venv := filepath.Join(t.TempDir(), "venv")
	if err := os.MkdirAll(filepath.Join(venv, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(harness.DefaultPython, filepath.Join(venv, "bin", "python")); err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, d := range dists {
		failed[d] = "Building wheel for " + d + " (pyproject.toml): finished with status 'error'\n" + pipReason
	}
	b, _ := json.Marshal(failed)
	if err := os.WriteFile(filepath.Join(venv, "wsgikit-failed.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WSGIKIT_PYTHON", filepath.Join(venv, "bin", "python"))
}

// ghostProfiles is a user profile whose module never imports: a peer from
// PyPI that did not build.
func ghostProfiles(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "ghost.toml")
	os.WriteFile(path, []byte(`
[[profile]]
name = "ghost"
description = "a peer whose wheel did not build"
package = "PyPI wsgikit-ghost"
command = ["{python}", "-m", "wsgikit_ghost", "--bind", "{bind}", "{app}"]
py_modules = ["wsgikit_ghost"]
`), 0o644)
	return path
}

// linesAbout returns the output lines about a server: check's and bench's
// lines start with it ("check: NAME …", "check: skipping NAME: …",
// "  ERROR      NAME spec: …"); a reason naming a dist (uwsgi) does not count.
func linesAbout(out, name string) []string {
	re := regexp.MustCompile(`^(\w+: (skipping )?|\s+[A-Z-]+\s+)` + regexp.QuoteMeta(name) + `[:\s]`)
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if re.MatchString(l) {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestMissingPeerSkipped: a peer that did not install is listed by
// `servers` with pip's reason, and check and bench skip it with one warning
// line carrying that reason while the other server runs (exit by the ones
// that ran); when nothing named is installed, exit 2.
func TestMissingPeerSkipped(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts servers")
	}
	fakeVenv(t, "wsgikit-ghost")
	profiles := ghostProfiles(t)

	out, err := runWsgikit("servers", "--json", "--profiles", profiles)
	if err != nil {
		t.Fatal(err)
	}
	var rows []serverRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, r := range rows {
		if r.Name == "ghost" && (r.Installed || !strings.Contains(r.Hint, "pip could not install wsgikit-ghost on this interpreter: "+pipReason)) {
			t.Errorf("servers row %+v: want not installed, with pip's reason", r)
		}
	}

	dir := t.TempDir()
	out, err = runWsgikit("check", "--profiles", profiles, "--server", "ghost,wsgiref",
		"--focus", "pep3333/environ/script-name-root", "-o", filepath.Join(dir, "check"))
	if exitCode(err) != 0 {
		t.Fatalf("check: exit %d (%v); want 0 from wsgiref's PASS\n%s", exitCode(err), err, out)
	}
	assertOneWarning(t, out, "check", "ghost")
	var c reports.Check
	readJSON(t, filepath.Join(dir, "check", "check.json"), &c)
	if len(c.Servers) != 1 || c.Servers[0].Name != "wsgiref" || len(c.Servers[0].Results) != 1 || c.Servers[0].Results[0].Verdict != "PASS" {
		t.Errorf("check.json servers: %+v", c.Servers)
	}
	if len(c.Skipped) != 1 || c.Skipped[0].Name != "ghost" || !strings.Contains(c.Skipped[0].Reason, pipReason) {
		t.Errorf("check.json skipped: %+v", c.Skipped)
	}

	out, err = runWsgikit("bench", "--profiles", profiles, "--server", "ghost,wsgiref", "--scenario", "hello",
		"-d", "300ms", "--warmup", "0s", "--rounds", "1", "-c", "1", "--progress", "plain", "-o", filepath.Join(dir, "bench"))
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	assertOneWarning(t, out, "bench", "ghost")
	var b struct {
		Runs    []struct{ Server, Failed string }
		Skipped []reports.SkippedServer
	}
	readJSON(t, filepath.Join(dir, "bench", "bench.json"), &b)
	if len(b.Runs) != 1 || b.Runs[0].Server != "wsgiref" || b.Runs[0].Failed != "" {
		t.Errorf("bench.json runs: %+v", b.Runs)
	}
	if len(b.Skipped) != 1 || b.Skipped[0].Name != "ghost" {
		t.Errorf("bench.json skipped: %+v", b.Skipped)
	}

	for _, verb := range []string{"check", "bench"} {
		out, err = runWsgikit(verb, "--profiles", profiles, "--server", "ghost", "-o", filepath.Join(dir, verb+"-none"))
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "no server to "+verb+" is installed") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s of nothing installed: exit %d, %v; want 2 and one line", verb, exitCode(err), err)
		}
		assertOneWarning(t, out, verb, "ghost")
	}
}

// TestCheckDefaultListSkipsMissing: with no --server, check takes every
// built-in peer of today; on an interpreter without the PyPI peers, each
// missing one is one warning line (bjoern's with pip's reason) and the
// installed ones run: no "could not run", no harness ERROR.
func TestCheckDefaultListSkipsMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts servers")
	}
	fakeVenv(t, "bjoern")
	var missing, present []string
	for _, name := range builtinPeers() {
		p, _ := harness.Lookup(name, nil)
		if _, err := p.Version(); errors.Is(err, harness.ErrNotInstalled) {
			missing = append(missing, name)
		} else {
			present = append(present, name)
		}
	}
	if len(missing) == 0 || len(present) == 0 {
		t.Skipf("want both missing and installed peers on Debian's interpreter; missing %v, installed %v", missing, present)
	}
	dir := t.TempDir()
	out, err := runWsgikit("check", "--focus", "pep3333/environ/script-name-root", "-o", dir)
	if exitCode(err) == 2 {
		t.Fatalf("check: exit 2 (%v)\n%s", err, out)
	}
	for _, name := range missing {
		assertOneWarning(t, out, "check", name)
	}
	if l := linesAbout(out, "skipping bjoern"); len(l) == 1 && !strings.Contains(l[0], pipReason) {
		t.Errorf("bjoern's warning lacks pip's reason: %s", l[0])
	}
	if strings.Contains(out, "could not run") || strings.Contains(out, "harness errors") {
		t.Errorf("a server could not run:\n%s", out)
	}
	var c reports.Check
	readJSON(t, filepath.Join(dir, "check.json"), &c)
	var ran []string
	for _, s := range c.Servers {
		ran = append(ran, s.Name)
		if s.Error != "" || len(s.Results) != 1 || s.Results[0].Verdict == "ERROR" {
			t.Errorf("%s: error %q, results %+v", s.Name, s.Error, s.Results)
		}
	}
	if strings.Join(ran, ",") != strings.Join(present, ",") || len(c.Skipped) != len(missing) {
		t.Errorf("ran %v, skipped %+v; want %v run and %v skipped", ran, c.Skipped, present, missing)
	}
}

// assertOneWarning: exactly one line names the server, and it is the
// verb's skip warning.
func assertOneWarning(t *testing.T, out, verb, name string) {
	t.Helper()
	ls := linesAbout(out, name)
	prefix := verb + ": skipping " + name + ": not installed ("
	if len(ls) != 1 || !strings.HasPrefix(ls[0], prefix) {
		t.Errorf("%s: want one line %q…, got %d:\n%s", name, prefix, len(ls), strings.Join(ls, "\n"))
	}
	if name == "ghost" && len(ls) == 1 && !strings.Contains(ls[0], pipReason) {
		t.Errorf("warning lacks pip's reason: %s", ls[0])
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
