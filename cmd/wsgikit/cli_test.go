package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagsAgreeAcrossVerbs: the verbs that write results take -o/--output;
// check and bench take the same flags for the user's environment and their
// servers, and their help lists the --cmd placeholders.
func TestFlagsAgreeAcrossVerbs(t *testing.T) {
	root := newRoot()
	for _, verb := range []string{"check", "bench", "report"} {
		c, _, err := root.Find([]string{verb})
		if err != nil {
			t.Fatal(err)
		}
		if f := c.Flags().Lookup("output"); f == nil || f.Shorthand != "o" {
			t.Errorf("%s has no -o/--output", verb)
		}
	}
	for _, verb := range []string{"check", "bench"} {
		c, _, _ := root.Find([]string{verb})
		for _, name := range []string{"server", "python", "virtualenv", "chdir", "cmd", "profiles", "baseline"} {
			if c.Flags().Lookup(name) == nil {
				t.Errorf("%s has no --%s", verb, name)
			}
		}
		for _, p := range []string{"{python}", "{pybin}", "{port}", "{bind}", "{app}", "{module}", "{callable}", "{appdir}"} {
			if !strings.Contains(c.Long, "\n  "+p+" ") {
				t.Errorf("%s --help does not list %s", verb, p)
			}
		}
	}
}

// TestOldFlagNamesWarn: the renamed flags still work, and say their new
// name.
func TestOldFlagNamesWarn(t *testing.T) {
	out, err := runWsgikit("bench", "--cmd", "x=true {bind} {app}", "--scenarios", "/nonexistent/s.toml")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--scenario-file: read scenarios") ||
		!strings.Contains(out, "--scenarios has been deprecated, use --scenario-file") {
		t.Errorf("bench --scenarios: exit %d, %v; want it read as --scenario-file, with a warning:\n%s", exitCode(err), err, out)
	}
	dir := t.TempDir()
	out, err = runWsgikit("report", filepath.Join("..", "..", "reports", "testdata", "bench.json"), "--out", dir)
	if err != nil || !strings.Contains(out, "--out has been deprecated, use -o/--output") ||
		!strings.Contains(out, "wrote "+filepath.Join(dir, "bench.json")) {
		t.Errorf("report --out: %v; want it read as --output, with a warning:\n%s", err, out)
	}
}
