package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
)

// ciStep is one `run:` step of the README's workflow.
type ciStep struct{ job, run string }

// readmeCISteps returns the run steps of the workflow in README's "In CI"
// section, in order.
func readmeCISteps(t *testing.T) []ciStep {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## In CI\n")
	if ok {
		section, _, _ = strings.Cut(section, "\n## ")
		_, section, ok = strings.Cut(section, "```yaml\n")
	}
	if ok {
		section, _, ok = strings.Cut(section, "\n```")
	}
	if !ok {
		t.Fatal(`README.md has no "## In CI" section with a yaml block`)
	}
	job := regexp.MustCompile(`^  ([a-z][a-z0-9_-]*):\s*$`)
	run := regexp.MustCompile(`^\s+(?:- )?run: (.+)$`)
	var steps []ciStep
	cur := ""
	for _, l := range strings.Split(section, "\n") {
		if m := job.FindStringSubmatch(l); m != nil {
			cur = m[1]
		} else if m := run.FindStringSubmatch(l); m != nil {
			steps = append(steps, ciStep{cur, m[1]})
		}
	}
	return steps
}

// TestReadmeCI runs the workflow the README shows for CI the way GitHub
// would in a project's checkout, twice: the first run, which finds no
// baseline, and the next, gated against what the first left (as the cache
// would restore it). Each step that uses wsgikit or keeps its baselines runs
// as written, with one change: -d 5s becomes 300ms (and a short warm-up),
// to bound the test. The setup steps (venv, pip, make) are replaced by the
// test's: the peers venv, the built binary, a small project.
func TestReadmeCI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the conformance suite and a bench")
	}
	requireProfile(t, "gunicorn-gthread")
	steps := readmeCISteps(t)
	venv := filepath.Dir(filepath.Dir(harness.Python()))
	if _, err := os.Stat(filepath.Join(venv, "pyvenv.cfg")); err != nil {
		testenv.Missing(t, "%s is not in a venv: run make setup", harness.Python())
	}
	bin, err := harness.WsgikitBin()
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	bin, _ = filepath.Abs(bin)

	// The project's checkout, with wsgikit's next to it.
	dir := userProject(t, map[string]string{
		"myproject/__init__.py": "",
		"myproject/wsgi.py": `def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
`,
	})
	if err := os.MkdirAll(filepath.Join(dir, "wsgikit", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"venv": venv, "wsgikit/bin/wsgikit": bin} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	summary := filepath.Join(t.TempDir(), "step-summary.md")
	var env []string
	for _, e := range os.Environ() {
		// As on a runner: nothing of this machine's wsgikit settings.
		if !strings.HasPrefix(e, "WSGIKIT_PYTHON=") && !strings.HasPrefix(e, "WSGIKIT_BIN=") {
			env = append(env, e)
		}
	}
	env = append(env, "CI=true", "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary)

	setup := regexp.MustCompile(`^(python3 -m venv |sudo apt-get )`)
	shortened, ran := 0, map[string]int{}
	for pass := 1; pass <= 2; pass++ {
		for _, st := range steps {
			if setup.MatchString(st.run) {
				continue
			}
			if !strings.HasPrefix(st.run, "wsgikit/bin/wsgikit ") && !strings.HasPrefix(st.run, "cp ") {
				t.Fatalf("README CI step %q (%s) is neither setup nor wsgikit: teach TestReadmeCI what it does", st.run, st.job)
			}
			cmdline := st.run
			ran[ciVerb(st.run)]++
			if strings.Contains(cmdline, " -d 5s ") {
				cmdline = strings.Replace(cmdline, " -d 5s ", " -d 300ms --warmup 100ms ", 1)
				shortened++
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			c := exec.CommandContext(ctx, "bash", "-e", "-c", cmdline) // GitHub's default shell for run
			c.Dir, c.Env = dir, env
			var out bytes.Buffer
			c.Stdout, c.Stderr = &out, &out
			err := c.Run()
			cancel()
			code := 0
			if err != nil {
				code = -1
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
			}
			checkCIStep(t, pass, st, code, out.String())
		}
	}
	if ran["check"] != 2 || ran["bench"] != 2 || ran["report"] != 2 {
		t.Errorf("steps run: %v; want check, report and bench in each pass", ran)
	}
	if shortened != 2 {
		t.Errorf("shortened %d bench steps, want the README's one, twice: is it still -d 5s?", shortened)
	}
	for _, f := range []string{"check-baseline.json", "bench-baseline.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("no %s after the runs: %v", f, err)
		}
	}
	if b, err := os.ReadFile(summary); err != nil || !strings.Contains(string(b), "gunicorn-gthread") {
		t.Errorf("the step summary: %v\n%s", err, b)
	}
}

// ciVerb is the wsgikit verb a step runs, or its command ("cp").
func ciVerb(run string) string {
	f := strings.Fields(run)
	if len(f) > 1 && f[0] == "wsgikit/bin/wsgikit" {
		return f[1]
	}
	return f[0]
}

// checkCIStep judges one step of the README's workflow by what a CI user
// expects of it: the first run passes and says it had no baseline; the
// second is gated (a bench may see a regression in noise: exit 1 is its
// gate working).
func checkCIStep(t *testing.T, pass int, st ciStep, code int, out string) {
	t.Helper()
	verb := ciVerb(st.run)
	fail := func(why string) {
		t.Errorf("run %d, job %s, step %q: exit %d, %s:\n%s", pass, st.job, st.run, code, why, out)
	}
	switch {
	case (verb == "check" || verb == "bench") && pass == 1:
		if code != 0 || !strings.Contains(out, "no baseline at "+verb+"-baseline.json yet") || !strings.Contains(out, "::notice title=wsgikit "+verb+"::") {
			fail("want 0 and a note (and a notice) that there is no baseline yet")
		}
	case verb == "check":
		if code != 0 || !strings.Contains(out, "no verdict worse than check-baseline.json") {
			fail("want 0 against its own baseline")
		}
	case verb == "bench":
		if (code != 0 && code != 1) || !strings.Contains(out, "against baseline (threshold 5.0%") {
			fail("want the gate against the first run's numbers")
		}
	case code != 0:
		fail("want 0")
	}
}
