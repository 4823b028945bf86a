package loadgen

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
)

// TestParseWrk reads what wrkScript prints: counts, errors by kind, the
// latency histogram.
func TestParseWrk(t *testing.T) {
	tests := []struct {
		name                string
		out                 string
		requests, successes uint64
		p50ms, rps          float64
		errorTexts          int
		wantErr             string
	}{
		{"clean", "Running 1s test\nwsgikit-wrk summary 1000 2000000 50000 0 0 0 0 0\nwsgikit-wrk latency 900 400\nwsgikit-wrk latency 1100 600\n",
			1000, 1000, 1.1, 500, 0, ""},
		{"status and socket errors", "wsgikit-wrk summary 100 1000000 0 2 1 0 10 3\nwsgikit-wrk latency 500 100\n",
			106, 90, 0.5, 90, 4, ""},
		{"no summary", "Running 1s test\n", 0, 0, 0, 0, 0, "no summary"},
		{"bad number", "wsgikit-wrk summary 1 x 0 0 0 0 0 0\n", 0, 0, 0, 0, 0, "bad line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := &RunResult{Latency: newHist()}
			err := parseWrk([]byte(tc.out), res)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != tc.requests || res.Successes != tc.successes || res.Errors != tc.requests-tc.successes ||
				msAt(res.Latency, 50) != tc.p50ms || res.RPS != tc.rps || len(res.ErrorsByText) != tc.errorTexts {
				t.Fatalf("requests %d successes %d errors %d p50 %v rps %v errors %v", res.Requests, res.Successes, res.Errors,
					msAt(res.Latency, 50), res.RPS, res.ErrorsByText)
			}
		})
	}
}

// TestBenchWithWrk: with Transport wrk, wrk measures each run, and the row
// carries its throughput, latency and CPU like a vegeta run's.
func TestBenchWithWrk(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs wrk")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		testenv.Missing(t, "wrk not installed: apt-get install wrk (make setup)")
	}
	p := Plan{
		Servers: []string{"go"}, Scenarios: scenarios(t, "hello"), Concurrency: []int{4}, Rounds: 1,
		Duration: time.Second, Warmup: time.Second, Transport: TransportWrk,
		Start: func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
			return startGoInstance(t, fixtureHandler()), "", nil
		},
	}
	out, err := Bench(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	r := out.Runs[0]
	if r.Failed != "" || r.Transport != TransportWrk || r.Requests == 0 || r.Errors != 0 || r.RPS <= 0 ||
		r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.ClientCPU <= 0 || len(r.Percentiles) == 0 {
		t.Fatalf("run %+v", r)
	}
	if out.Settings.Transport != TransportWrk || out.Summary[0].RPSMedian != r.RPS {
		t.Fatalf("settings %+v summary %+v", out.Settings, out.Summary)
	}
}
