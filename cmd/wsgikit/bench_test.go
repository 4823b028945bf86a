package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--server", "gunicorn-gthraed"}, "did you mean gunicorn-gthread"},
		{[]string{"bench", "--server", "waitress", "--scenario", "jsno"}, "did you mean json"},
		{[]string{"bench", "--server", "waitress", "-c", "1,8"}, ""}, // a sweep: valid (not run here)
		{[]string{"bench", "--server", "waitress", "--slo", "p99"}, "--slo"},
		{[]string{"bench", "--server", "waitress", "--mode", "open"}, "needs --rate"},
		{[]string{"bench", "--server", "waitress", "--pin", "server=0 client=99"}, "does not exist"},
		{[]string{"bench", "--url", "x=http://192.0.2.1:80"}, "--allow-remote"},
		{[]string{"bench"}, "no server"},
		{[]string{"bench", "--server", "waitress", "--threshold", "lots"}, "--threshold"},
	}
	for _, tc := range tests {
		if tc.want == "" {
			continue
		}
		_, err := runWsgikit(tc.args...)
		var ee *exitError
		if err == nil || !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want exit 2 with %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error is not one line: %q", tc.args, err)
		}
	}
}

// TestBenchCLIBaselineGate runs a real, short bench twice: the first saves
// a baseline, the second is gated against it (same server, so no
// significant regression with 1 round: exit 0), and bench.json reads back
// as reports.Bench.
func TestBenchCLIBaselineGate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real server")
	}
	p, _ := harness.Lookup("waitress", nil)
	if _, err := p.Version(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "base.json")
	common := []string{"bench", "--server", "waitress", "--scenario", "hello", "-d", "500ms", "--warmup", "100ms",
		"--rounds", "1", "-c", "2", "--progress", "plain"}
	out, err := runWsgikit(append(common, "--save-baseline", base, "-o", filepath.Join(dir, "a"))...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "saved baseline") || !strings.Contains(out, "hello") {
		t.Fatalf("output:\n%s", out)
	}
	out, err = runWsgikit(append(common, "--baseline", base, "--threshold", "5%", "-o", filepath.Join(dir, "b"))...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "against baseline") {
		t.Fatalf("no gate verdicts:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "b", "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rb reports.Bench
	if err := json.Unmarshal(b, &rb); err != nil {
		t.Fatal(err)
	}
	if rb.Schema != reports.BenchSchema || len(rb.Runs) != 1 || rb.Runs[0].RPS <= 0 || len(rb.Summary) != 1 ||
		len(rb.Regressions) != 2 || rb.Machine == nil || rb.Servers[0].Version == "" {
		t.Fatalf("bench.json: %s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "b", rb.Runs[0].Server+"_hello_closed_c2_r1.bin")); err == nil {
		t.Fatal("result file outside results/")
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "results", "waitress_hello_closed_c2_r1.bin")); err != nil {
		t.Fatal(err)
	}

	// A baseline ten times faster over 6 rounds: 4 rounds now are a
	// significant regression (exact p = 2/C(10,4) ≈ 0.0095): exit 1.
	var bo map[string]any
	if err := json.Unmarshal(b, &bo); err != nil {
		t.Fatal(err)
	}
	run := bo["runs"].([]any)[0].(map[string]any)
	var runs []any
	for i := 0; i < 6; i++ {
		r := map[string]any{}
		for k, v := range run {
			r[k] = v
		}
		r["rps"] = run["rps"].(float64) * 10
		r["round"] = i + 1
		runs = append(runs, r)
	}
	bo["runs"] = runs
	fast, _ := json.Marshal(bo)
	fastPath := filepath.Join(dir, "fast.json")
	os.WriteFile(fastPath, fast, 0o644)
	args := append([]string{}, common...)
	args[len(args)-5] = "4" // --rounds
	out, err = runWsgikit(append(args, "--baseline", fastPath)...)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, "REGRESSION waitress hello rps") {
		t.Fatalf("err %v, want exit 1 naming the regression:\n%s", err, out)
	}
}
