package reports

import (
	"bytes"
	"strings"
	"testing"
)

// TestRenderEdgeCases renders inputs that producers can legitimately write
// (empty, partial, one round, zeros) and checks every renderer copes.
func TestRenderEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		in   Inputs
		want []string // substrings of the HTML
	}{
		{"empty check", Inputs{Checks: []*Check{{Schema: CheckSchema}}}, []string{"0 specs"}},
		{"empty bench", Inputs{Benches: []*Bench{{Schema: BenchSchema}}}, []string{"Benchmarks"}},
		{"server with no results", Inputs{Checks: []*Check{{Servers: []CheckServer{{Name: "a"}, {Name: "b", Results: []CheckResult{{ID: "lonely", Verdict: "pass"}}}}}}}, []string{"Other", "lonely"}},
		{"runs without summary", Inputs{Benches: []*Bench{{Runs: []BenchRun{
			{Server: "a", Scenario: "s", Concurrency: 4, RPS: 100, Timeline: []TimePoint{{T: 1, RPS: 100, P99: 0}}, Percentiles: []PctPoint{{Q: 50, Ms: 0}, {Q: 99, Ms: 3}}},
		}}}}, []string{"closed model, 4 connections", "p99 over time"}},
		{"all zeros", Inputs{Benches: []*Bench{{Summary: []BenchSum{{Server: "a", Scenario: "s", Mode: "closed"}, {Server: "b", Scenario: "s", Mode: "closed"}}}}}, []string{"Throughput (req/s)"}},
		{"one-point sweep", Inputs{Benches: []*Bench{{Summary: []BenchSum{{Server: "a", Scenario: "s", Mode: "sweep", Concurrency: 8, RPSMedian: 5, P99Median: 1}}}}}, []string{"Throughput vs concurrency"}},
		{"all rounds failed", Inputs{Benches: []*Bench{{Runs: []BenchRun{{Server: "a", Scenario: "s", Mode: "closed", Failed: "crashed"}}}}}, []string{"crashed"}},
		{"capacity and open", Inputs{Benches: []*Bench{{Summary: []BenchSum{
			{Server: "a", Scenario: "s", Mode: "capacity", RPSMedian: 900, RPSCI: [2]float64{850, 950}},
			{Server: "a", Scenario: "s", Mode: "open", Concurrency: 64, RPSMedian: 500, P99Median: 2},
		}}}}, []string{"Capacity (req/s)", "open model, 64 workers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Build(&tc.in)
			var h, md bytes.Buffer
			if err := r.WriteHTML(&h); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteMarkdown(&md); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(h.String(), w) {
					t.Errorf("HTML lacks %q", w)
				}
			}
			for _, bad := range []string{"NaN", "Inf", "%!"} {
				if strings.Contains(h.String(), bad) || strings.Contains(md.String(), bad) {
					t.Errorf("output contains %q", bad)
				}
			}
		})
	}
}

func TestWriteDirNeedsInput(t *testing.T) {
	if err := WriteDir(t.TempDir(), nil, nil); err == nil {
		t.Error("WriteDir with no results succeeded; want an error naming the problem")
	}
}
