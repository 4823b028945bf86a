package reports

import (
	"bytes"
	"os"
	"path/filepath"
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
		{"open model at several rates", Inputs{Benches: []*Bench{{Runs: []BenchRun{
			{Server: "a", Scenario: "s", Mode: "open", Concurrency: 64, Rate: 100, Latency: Latency{P99: 1}},
			{Server: "a", Scenario: "s", Mode: "open", Concurrency: 64, Rate: 200, Latency: Latency{P99: 1.5}},
			{Server: "a", Scenario: "s", Mode: "open", Concurrency: 64, Rate: 400, Latency: Latency{P99: 9}},
		}}}}, []string{"p99 latency vs offered rate"}},
		{"capacity search probes", Inputs{Benches: []*Bench{{Runs: []BenchRun{
			{Server: "a", Scenario: "s", Mode: "capacity", Rate: 100, Latency: Latency{P99: 1}},
			{Server: "a", Scenario: "s", Mode: "capacity", Rate: 200, Latency: Latency{P99: 1.2}},
			{Server: "a", Scenario: "s", Mode: "capacity", Rate: 400, Latency: Latency{P99: 2}},
			{Server: "a", Scenario: "s", Mode: "capacity", Rate: 800, Latency: Latency{P99: 30}},
		}}}}, []string{"The capacity search"}},
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

func TestWriteDirFiles(t *testing.T) {
	dir := t.TempDir()
	in := loadFixtures(t)
	// A junit file from an earlier run with a server that is gone.
	if err := os.WriteFile(filepath.Join(dir, "junit-retired.xml"), []byte("<x/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(dir, in.Checks, in.Benches, MergedJSON(true)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "junit-retired.xml")); !os.IsNotExist(err) {
		t.Errorf("stale junit-retired.xml survived: %v", err)
	}
	// The merged JSON reads back and renders the same report.
	again, err := Load(filepath.Join(dir, "check.json"), filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatalf("merged JSON does not load: %v", err)
	}
	var a, b bytes.Buffer
	if err := Build(in).WriteMarkdown(&a); err != nil {
		t.Fatal(err)
	}
	if err := Build(again).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("re-rendering the merged JSON changes the summary:\n%s", firstDiff(a.String(), b.String()))
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestTranscriptTruncated(t *testing.T) {
	long := "> GET / HTTP/1.1\n< HTTP/1.1 200 OK\n< " + strings.Repeat("x", 3*maxTranscript)
	lines := transcriptLines(long)
	total := 0
	for _, l := range lines {
		total += len(l.Text)
	}
	if total > maxTranscript+200 {
		t.Errorf("%d bytes of transcript kept, want about %d", total, maxTranscript)
	}
	if last := lines[len(lines)-1].Text; !strings.Contains(last, "more bytes") {
		t.Errorf("the cut is not announced; last line %q", last)
	}
	if got := transcriptLines("> a\n< b\nnote"); len(got) != 3 || got[0].Dir != "out" || got[1].Dir != "in" || got[2].Dir != "" {
		t.Errorf("directions = %+v", got)
	}
}
