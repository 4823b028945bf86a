package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/reports"
)

// runAgents runs three agents of one run, in this process, against one
// server; it returns their directories.
func runAgents(t *testing.T, root string) []string {
	h := httptest.NewServer(fixtureHandler())
	defer h.Close()
	start := time.Now().Add(2500 * time.Millisecond).Truncate(time.Second)
	var wg sync.WaitGroup
	ids := []string{"a1", "a2", "a3"}
	dirs := make([]string, len(ids))
	errs := make([]error, len(ids))
	for i, id := range ids {
		dirs[i] = filepath.Join(root, id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := Plan{Servers: []string{"app"}, Scenarios: scenarios(t, "hello"), Concurrency: []int{2}, Rounds: 1,
				Duration: 300 * time.Millisecond, Start: StartTargets(map[string]Target{"app": {URL: h.URL}}),
				Agent: id, StartAt: start, OutDir: dirs[i]}
			out, err := Bench(context.Background(), p)
			if err == nil {
				err = writeBenchJSON(filepath.Join(dirs[i], "bench.json"), out)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return dirs
}

func writeBenchJSON(path string, b *reports.Bench) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func loadParts(t *testing.T, dirs []string) []*Part {
	t.Helper()
	var parts []*Part
	for _, d := range dirs {
		p, err := LoadPart(d)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	return parts
}

// TestMerge merges three agents' parts of one run, and refuses them once
// they are made to differ.
func TestMerge(t *testing.T) {
	dirs := runAgents(t, t.TempDir())
	t.Run("sums", func(t *testing.T) { testMergeSums(t, loadParts(t, dirs)) })
	t.Run("refuses", func(t *testing.T) { testMergeRefuses(t, dirs) })
}

// testMergeSums: the merged run holds every agent's requests, and its
// percentiles are those of the union of the agents' raw latencies (as
// vegeta's result files hold them), not an average of the agents'.
func testMergeSums(t *testing.T, parts []*Part) {
	m, err := MergeParts(parts, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	b := m.Bench
	if len(b.Runs) != 1 || b.Fleet == nil || len(b.Fleet.Agents) != 3 || len(b.Fleet.Runs) != 1 {
		t.Fatalf("merged %+v fleet %+v", b.Runs, b.Fleet)
	}
	row, fr := b.Runs[0], b.Fleet.Runs[0]
	var sum uint64
	var raw []time.Duration
	for _, p := range parts {
		sum += p.Bench.Runs[0].Requests
		raw = append(raw, readLatencies(t, filepath.Join(p.Dir, p.Bench.Runs[0].ResultsFile))...)
	}
	if row.Requests != sum || uint64(len(raw)) != sum || row.Concurrency != 6 {
		t.Fatalf("merged %d requests (c=%d); agents %d, result files %d", row.Requests, row.Concurrency, sum, len(raw))
	}
	union := newHist()
	for _, d := range raw {
		record(union, d)
	}
	if want := latencyOf(union); row.Latency != want {
		t.Fatalf("merged latency %+v, union of the raw latencies %+v", row.Latency, want)
	}
	// The exact p99 of the raw latencies, ranked as HdrHistogram ranks
	// (the smallest value with round(0.99 n) values at or below it), is
	// the merged p99 to the histogram's precision.
	sort.Slice(raw, func(i, j int) bool { return raw[i] < raw[j] })
	exact := int64(raw[max(int(0.99*float64(len(raw))+0.5), 1)-1] / time.Microsecond)
	if merged := union.ValueAtQuantile(99); !union.ValuesAreEquivalent(merged, exact) || row.Latency.P99 != float64(merged)/1000 {
		t.Fatalf("merged p99 %v ms, exact p99 of the raw latencies %d µs", row.Latency.P99, exact)
	}
	var in float64
	for _, a := range fr.Agents {
		if a.InWindow <= 0 || a.InWindow > float64(a.Requests) {
			t.Fatalf("agent %+v", a)
		}
		in += a.InWindow
	}
	if got := in / row.Seconds; got != row.RPS || row.Seconds <= 0 {
		t.Fatalf("rps %v, want %v over %v s", row.RPS, got, row.Seconds)
	}
	if b.Fleet.ClockSkewMs == nil || len(m.Logs) != 1 || m.Logs[fr.HistLog] == nil {
		t.Fatalf("skew %v logs %v", b.Fleet.ClockSkewMs, m.Logs)
	}
	out := t.TempDir()
	if err := m.WriteLogs(out); err != nil {
		t.Fatal(err)
	}
	back, err := ReadHistLog(filepath.Join(out, fr.HistLog))
	if err != nil || !back.Total().Equals(union) {
		t.Fatalf("merged log read back: %v", err)
	}
}

func readLatencies(t *testing.T, path string) (out []time.Duration) {
	t.Helper()
	rs, err := ReadResultsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		out = append(out, r.Latency)
	}
	return out
}

// testMergeRefuses: parts that are not one run, or agents too far apart,
// are refused with the reason.
func testMergeRefuses(t *testing.T, dirs []string) {
	ms := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name string
		edit func(ps []*Part)
		want string
	}{
		{"agent twice", func(ps []*Part) { ps[1].Bench.Agent.ID = "a1" }, "agent a1 twice"},
		{"another start", func(ps []*Part) { ps[2].Bench.Agent.StartAt = ps[2].Bench.Agent.StartAt.Add(time.Minute) }, "started at"},
		{"another load", func(ps []*Part) { ps[1].Bench.Settings.Concurrency = []int{64} }, "ran concurrency [2], agent a2 [64]"},
		{"a run missing", func(ps []*Part) { ps[2].Bench.Runs[0].Round = 2 }, "has no run app hello closed c=2 round"},
		{"clock skew", func(ps []*Part) { ps[0].Bench.Agent.ClockOffsetMs, ps[0].Bench.Agent.ClockErrMs = ms(900), 1 }, "clock skew: agent a1's clock"},
		{"late start", func(ps []*Part) {
			ps[1].Bench.Agent.Runs[0].Began = ps[1].Bench.Agent.Runs[0].Began.Add(400 * time.Millisecond)
		}, "agent a2 began"},
		{"log and row disagree", func(ps []*Part) { ps[0].Bench.Runs[0].Requests++ }, "its HDR log holds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := loadParts(t, dirs)
			c.edit(ps)
			_, err := MergeParts(ps, 0, "test")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("MergeParts: %v, want %q", err, c.want)
			}
		})
	}
	plain := filepath.Join(t.TempDir(), "bench.json")
	if err := writeBenchJSON(plain, &reports.Bench{Schema: reports.BenchSchema, Settings: &reports.BenchSettings{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPart(plain); err == nil || !strings.Contains(err.Error(), "not an agent's part") {
		t.Fatalf("LoadPart of a plain bench.json: %v", err)
	}
}

// TestMergeWindow: two agents 50 ms apart, each answering 100 requests in
// each of three 100 ms intervals: the window is the 250 ms both ran, and
// the edge intervals count by their overlap with it.
func TestMergeWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	side := func(id string, from time.Time) *agentSide {
		s := &agentSide{id: id, from: from, to: from.Add(300 * time.Millisecond), log: &HistLog{}, successPct: 1}
		for i := 0; i < 3; i++ {
			h := newHist()
			h.RecordValues(1000, 100)
			h.SetStartTimeMs(from.Add(time.Duration(i) * 100 * time.Millisecond).UnixMilli())
			h.SetEndTimeMs(from.Add(time.Duration(i+1) * 100 * time.Millisecond).UnixMilli())
			s.log.Intervals = append(s.log.Intervals, h)
		}
		return s
	}
	a, b := side("a", t0), side("b", t0.Add(50*time.Millisecond))
	m := &mergeState{maxSkew: DefaultMaxSkew}
	var fr reports.FleetRun
	if err := m.window(runKey{}, []*agentSide{a, b}, &fr); err != nil {
		t.Fatal(err)
	}
	if fr.To.Sub(fr.From) != 250*time.Millisecond || fr.StartSpreadMs != 50 {
		t.Fatalf("window %v–%v, spread %v", fr.From, fr.To, fr.StartSpreadMs)
	}
	if a.inWindow != 250 || b.inWindow != 250 {
		t.Fatalf("in window: a %v, b %v; want 250 each", a.inWindow, b.inWindow)
	}
	sum := m.sum([]*agentSide{a, b})
	if len(sum.Intervals) != 3 || sum.Total().TotalCount() != 600 {
		t.Fatalf("summed log: %d intervals, %d requests", len(sum.Intervals), sum.Total().TotalCount())
	}
}
