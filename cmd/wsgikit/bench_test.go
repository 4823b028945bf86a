package main

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/reports"
)

// usageCase is a command line refused with exit 2 and a one-line error
// holding want.
type usageCase struct {
	args []string
	want string
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []usageCase{
		{[]string{"bench", "--server", "gunicorn-gthraed"}, "did you mean gunicorn-gthread"},
		{[]string{"bench", "--server", "waitress", "--scenario", "jsno"}, "did you mean json"},
		{[]string{"bench", "--server", "waitress", "--slo", "p99"}, "--slo"},
		{[]string{"bench", "--server", "waitress", "--mode", "open"}, "needs --rate"},
		{[]string{"bench", "--server", "waitress", "--pin", "server=0 client=99"}, "does not exist"},
		{[]string{"bench", "--url", "x=http://192.0.2.1:80"}, "--allow-remote"},
		{[]string{"bench"}, "no server"},
		{[]string{"bench", "--server", "waitress", "--threshold", "lots"}, "--threshold"},
		{[]string{"bench", "--url", "x=http://127.0.0.1:1", "--workers", "2"}, "--workers: every server is a --url"},
		{[]string{"bench", "--url", "x=http://127.0.0.1:1", "--app", "m:app"}, "--app: every server is a --url"},
		{[]string{"bench", "--url", "x=ftp://127.0.0.1:1"}, "want NAME=http://127.0.0.1:PORT (or https://)"},
		{[]string{"bench", "--url", "x=http://127.0.0.1:1", "--ca-certs", "/etc/hostname"}, "--ca-certs: no --url NAME=https://"},
		{[]string{"bench", "--url", "x=https://127.0.0.1:1", "--ca-certs", "/nonexistent/ca.pem"}, "--ca-certs: open /nonexistent/ca.pem"},
		{[]string{"bench", "--url", "x=https://127.0.0.1:1", "--ca-certs", "/etc/hostname"}, "no PEM certificate in it"},
	}
	// Every flag acts or is refused, in one line saying why. "x" is a
	// stand-in server that is never started: these are refused before.
	x := []string{"bench", "--cmd", "x=true {bind} {app}"}
	for _, tc := range []usageCase{
		{[]string{"--app", "shop:app", "--scenario", "json"}, "run wsgikit's own apps, not --app"},
		{[]string{"--app", "hello"}, "want module:callable"},
		{[]string{"--path", "/x"}, "--path: the servers started here need your app"},
		{[]string{"--method", "POST"}, "--method: it applies to each --path request"},
		{[]string{"-H", "X-A: 1"}, "--header: it applies"},
		{[]string{"--app", "shop:app", "-H", "no colon"}, "-H \"no colon\": want 'Name: value'"},
		{[]string{"--app", "shop:app", "--path", "/a", "--path", "/a"}, "--path /a is given twice"},
		{[]string{"--app", "shop:app", "--body", "@/nonexistent/body"}, "--body"},
		{[]string{"--chdir", "."}, "--chdir: it is where --app is imported from"},
		{[]string{"--app", "shop:app", "--chdir", "/nonexistent"}, "--chdir /nonexistent: not a directory"},
		{[]string{"--python", "/nonexistent/python"}, "--python /nonexistent/python: not a Python 3 interpreter"},
		{[]string{"--virtualenv", "/nonexistent"}, "--virtualenv /nonexistent: no bin/python"},
		{[]string{"--python", "python3", "--virtualenv", "/v"}, "not both"},
		{[]string{"--rate", "10", "--slo", "p99=10ms"}, "not both"},
		{[]string{"--capacity-start", "5"}, "add --slo"},
		{[]string{"--threshold", "10%"}, "add --baseline"},
		{[]string{"--cmd", "x=false {bind} {app}"}, "--cmd x: the name is given twice"},
		{[]string{"--cmd", "true {bind} {app}", "--cmd", "true {port} {app}"}, "without a name"},
		{[]string{"--cmd", "uwsgi=true {bind} {app}"}, "uwsgi is a built-in profile"},
		{[]string{"-o", ""}, "-o/--output"},
	} {
		tests = append(tests, usageCase{append(append([]string{}, x...), tc.args...), tc.want})
	}
	for _, tc := range tests {
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

// TestBenchCLIBaselineGate runs a real, short bench: the first run saves a
// baseline, and bench.json reads back as reports.Bench. The gate is then
// judged against baselines made from that run, a thousand times slower and
// a thousand times faster over 6 rounds: 4 rounds now are a significant
// improvement (exit 0) and a significant regression (exit 1), whatever
// this machine's speed (exact p = 2/C(10,4) ≈ 0.0095 either way). A
// baseline that shares no load point with the run is refused.
func TestBenchCLIBaselineGate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a real server")
	}
	requireProfile(t, "waitress")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.json")
	common := []string{"bench", "--server", "waitress", "--scenario", "hello", "-d", "500ms", "--warmup", "100ms",
		"-c", "2", "--progress", "plain"}
	out, err := runWsgikit(append(common, "--rounds", "1", "--save-baseline", base, "-o", filepath.Join(dir, "a"))...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, base+" (baseline)") || !strings.Contains(out, "hello") {
		t.Fatalf("output:\n%s", out)
	}
	common = append(common, "--threshold", "5%")
	b, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	var rb reports.Bench
	if err := json.Unmarshal(b, &rb); err != nil {
		t.Fatal(err)
	}
	if rb.Schema != reports.BenchSchema || len(rb.Runs) != 1 || rb.Runs[0].RPS <= 0 || len(rb.Summary) != 1 ||
		rb.Machine == nil || rb.Servers[0].Version == "" {
		t.Fatalf("bench.json: %s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", rb.Runs[0].Server+"_hello_closed_c2_r1.bin")); err == nil {
		t.Fatal("result file outside results/")
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "results", "waitress_hello_closed_c2_r1.bin")); err != nil {
		t.Fatal(err)
	}

	// scaled writes the baseline with 6 rounds of the saved run, its rps
	// times f and its latencies divided by f.
	scaled := func(name string, f float64) string {
		var bo map[string]any
		if err := json.Unmarshal(b, &bo); err != nil {
			t.Fatal(err)
		}
		run := bo["runs"].([]any)[0].(map[string]any)
		var runs []any
		for i := 0; i < 6; i++ {
			r := maps.Clone(run)
			r["rps"] = run["rps"].(float64) * f
			lat := maps.Clone(run["latency_ms"].(map[string]any))
			for k, v := range lat {
				lat[k] = v.(float64) / f
			}
			r["latency_ms"] = lat
			r["round"] = i + 1
			runs = append(runs, r)
		}
		bo["runs"] = runs
		out, _ := json.Marshal(bo)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	out, err = runWsgikit(append(common, "--rounds", "4", "--baseline", scaled("slow.json", 0.001), "-o", filepath.Join(dir, "b"))...)
	if err != nil || !strings.Contains(out, "improved   waitress hello rps") || !strings.Contains(out, "improved   waitress hello p99_ms") {
		t.Fatalf("err %v, want exit 0 with both metrics improved:\n%s", err, out)
	}
	var gated reports.Bench
	if b, err := os.ReadFile(filepath.Join(dir, "b", "bench.json")); err != nil || json.Unmarshal(b, &gated) != nil {
		t.Fatalf("b/bench.json: %v", err)
	}
	if len(gated.Runs) != 4 || len(gated.Regressions) != 2 {
		t.Fatalf("gated bench.json: %d runs, regressions %+v", len(gated.Runs), gated.Regressions)
	}
	for _, r := range gated.Regressions {
		if !r.Significant || r.Regressed || r.Change >= 0 {
			t.Errorf("against a thousand times slower baseline: %+v", r)
		}
	}

	out, err = runWsgikit(append(common, "--rounds", "4", "--baseline", scaled("fast.json", 1000), "-o", filepath.Join(dir, "c"))...)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, "REGRESSION waitress hello rps") {
		t.Fatalf("err %v, want exit 1 naming the regression:\n%s", err, out)
	}

	// A baseline of another scenario gates nothing: exit 2 saying so, not
	// a green gate.
	other := strings.Replace(string(b), `"scenario": "hello"`, `"scenario": "json"`, -1)
	if err := os.WriteFile(filepath.Join(dir, "other.json"), []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runWsgikit(append(common, "--rounds", "1", "--baseline", filepath.Join(dir, "other.json"), "-o", filepath.Join(dir, "d"))...)
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "has no run of the same server, scenario, mode and concurrency as this one (waitress hello closed c=2)") {
		t.Fatalf("err %v, want exit 2 saying nothing was compared:\n%s", err, out)
	}
}

// TestBenchCLISweep: several -c values are a sweep, one run each.
func TestBenchCLISweep(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a real server")
	}
	requireProfile(t, "waitress")
	dir := t.TempDir()
	out, err := runWsgikit("bench", "--server", "waitress", "--scenario", "hello", "-c", "1,8", "-d", "300ms", "--warmup", "100ms",
		"--rounds", "1", "--progress", "plain", "-o", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rb reports.Bench
	if b, err := os.ReadFile(filepath.Join(dir, "bench.json")); err != nil || json.Unmarshal(b, &rb) != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if len(rb.Runs) != 2 || rb.Runs[0].Mode != "sweep" || rb.Runs[0].Concurrency != 1 || rb.Runs[1].Concurrency != 8 {
		t.Fatalf("runs %+v", rb.Runs)
	}
}

// requireProfile fails (or, with WSGIKIT_ALLOW_MISSING, skips) when the
// profile's server is not installed, naming how to install it.
func requireProfile(t *testing.T, name string) {
	t.Helper()
	p, err := harness.Lookup(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Version(); err != nil {
		testenv.Missing(t, "%v", err)
	}
}

// TestBenchCLICrossCheckWrk: --cross-check wrk runs wrk against the same
// server and scenario and records both throughputs, and both clients' CPU
// per request, in bench.json.
func TestBenchCLICrossCheckWrk(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a real server")
	}
	requireProfile(t, "waitress")
	if _, err := exec.LookPath("wrk"); err != nil {
		testenv.Missing(t, "wrk not installed: apt-get install wrk (make setup)")
	}
	dir := t.TempDir()
	out, err := runWsgikit("bench", "--server", "waitress", "--scenario", "hello", "-c", "2", "-d", "500ms", "--warmup", "100ms",
		"--rounds", "1", "--progress", "plain", "--cross-check", "wrk", "-o", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "wrk cross-check waitress hello c=2: wsgikit (loop) ") || !strings.Contains(out, "wrk's efficiency") {
		t.Fatalf("no cross-check line:\n%s", out)
	}
	var rb struct {
		CrossChecks []struct {
			Server    string  `json:"server"`
			VegetaRPS float64 `json:"vegeta_rps"`
			WrkRPS    float64 `json:"wrk_rps"`
			Engine    string  `json:"engine"`
			ClientCPU float64 `json:"client_cpu_us_per_req"`
			WrkCPU    float64 `json:"wrk_cpu_us_per_req"`
			Error     string  `json:"error"`
		} `json:"cross_checks"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "bench.json")); err != nil || json.Unmarshal(b, &rb) != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if len(rb.CrossChecks) != 1 || rb.CrossChecks[0].Server != "waitress" || rb.CrossChecks[0].Error != "" ||
		rb.CrossChecks[0].VegetaRPS <= 0 || rb.CrossChecks[0].WrkRPS <= 0 || rb.CrossChecks[0].Engine != "loop" ||
		rb.CrossChecks[0].ClientCPU <= 0 || rb.CrossChecks[0].WrkCPU <= 0 {
		t.Fatalf("cross_checks %+v", rb.CrossChecks)
	}
}

// TestBenchCLIURLOverTLS: an https:// --url is driven over TLS, checked
// against --ca-certs; without it the system's roots do not know the
// server's CA and the run stops before measuring, naming the fix.
func TestBenchCLIURLOverTLS(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "Hello, World!")
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"bench", "--url", "go=" + srv.URL, "-c", "2", "-d", "300ms", "--warmup", "0s", "--rounds", "1", "--progress", "plain", "-o", dir}
	out, err := runWsgikit(append(args, "--ca-certs", ca)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rb reports.Bench
	if b, err := os.ReadFile(filepath.Join(dir, "bench.json")); err != nil || json.Unmarshal(b, &rb) != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if len(rb.Runs) != 1 || rb.Runs[0].Errors != 0 || rb.Runs[0].Requests == 0 || !rb.Settings.TLS || served.Load() < int64(rb.Runs[0].Requests) {
		t.Fatalf("runs %+v, settings %+v, %d served", rb.Runs, rb.Settings, served.Load())
	}
	out, err = runWsgikit(args...)
	if err == nil || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") || !strings.Contains(err.Error(), "pass --ca-certs") {
		t.Fatalf("without --ca-certs: err %v, want a refusal naming the certificate:\n%s", err, out)
	}
}
