package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAgentPlanChecks(t *testing.T) {
	future := time.Now().Add(time.Minute)
	for _, c := range []struct {
		name string
		edit func(p *Plan)
		want string
	}{
		{"start without agent", func(p *Plan) { p.Agent = "" }, "give --agent ID too"},
		{"bad id", func(p *Plan) { p.Agent = "a/b" }, `--agent "a/b"`},
		{"no start", func(p *Plan) { p.StartAt = time.Time{} }, "--agent needs --start-at"},
		{"start passed", func(p *Plan) { p.StartAt = time.Now().Add(-time.Minute) }, "passed"},
		{"no output", func(p *Plan) { p.OutDir = "" }, "give -o DIR"},
		{"capacity", func(p *Plan) { p.Mode, p.SLO = ModeCapacity, SLO{Quantile: 99, Max: time.Second} }, "capacity search adapts"},
		{"cross-check", func(p *Plan) { p.CrossCheck = "wrk" }, "--cross-check"},
		{"fine", func(p *Plan) {}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Plan{Servers: []string{"app"}, Scenarios: scenarios(t, "hello"), Rounds: 1, Duration: time.Second,
				Start: StartTargets(map[string]Target{"app": {URL: "http://127.0.0.1:1"}}), Agent: "a1", StartAt: future, OutDir: t.TempDir()}
			c.edit(&p)
			err := p.Validate()
			if c.want == "" {
				if err != nil || p.fleet == nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v, want %q", err, c.want)
			}
		})
	}
}

// TestProbeClock: a target whose clock is 300 ms behind ours is found 300
// ms behind, within the error the probe states; one without Date is not
// measured.
func TestProbeClock(t *testing.T) {
	behind := 300 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-behind).UTC().Format(http.TimeFormat))
	}))
	defer srv.Close()
	off, ok, err := ProbeClock(context.Background(), srv.URL+"/", nil)
	if err != nil || !ok {
		t.Fatalf("ProbeClock: ok %v, %v", ok, err)
	}
	if d := off.Offset - behind; d < -off.Err || d > off.Err {
		t.Fatalf("offset %v ± %v, want %v", off.Offset, off.Err, behind)
	}
	none := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header()["Date"] = nil }))
	defer none.Close()
	if _, ok, err := ProbeClock(context.Background(), none.URL+"/", nil); ok || err != nil {
		t.Fatalf("no Date: ok %v, %v", ok, err)
	}
}

func TestTickOffset(t *testing.T) {
	base := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	prev := dateSample{date: base.Add(-time.Second), sent: base.Add(40 * time.Millisecond), recv: base.Add(42 * time.Millisecond)}
	cur := dateSample{date: base, sent: base.Add(52 * time.Millisecond), recv: base.Add(54 * time.Millisecond)}
	o, ok := tickOffset(prev, cur)
	if !ok || o.Offset != 47*time.Millisecond || o.Err != 7*time.Millisecond {
		t.Fatalf("offset %v ± %v (ok %v), want 47ms ± 7ms", o.Offset, o.Err, ok)
	}
}

// TestAgentWaitsForItsSlots: an agent's second run begins no earlier than
// start + one slot by its clock, and each run leaves an HDR log holding
// every request of its row.
func TestAgentWaitsForItsSlots(t *testing.T) {
	srv := startGoInstance(t, fixtureHandler())
	dir := t.TempDir()
	start := time.Now().Add(300 * time.Millisecond).Truncate(time.Millisecond)
	p := Plan{Servers: []string{"app"}, Scenarios: scenarios(t, "hello"), Concurrency: []int{2}, Rounds: 2,
		Duration: 200 * time.Millisecond, Start: StartTargets(map[string]Target{"app": {URL: srv.URL()}}),
		Agent: "a1", StartAt: start, OutDir: dir}
	out, err := Bench(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	a := out.Agent
	if a == nil || len(a.Runs) != 2 || a.ID != "a1" || !a.StartAt.Equal(start) {
		t.Fatalf("agent part %+v", a)
	}
	slot := time.Duration(a.SlotS * 1e9)
	if a.Runs[1].Began.Before(start.Add(slot)) || a.Runs[0].Began.Before(start) {
		t.Fatalf("runs began %v and %v; slots at %v and %v", a.Runs[0].Began, a.Runs[1].Began, start, start.Add(slot))
	}
	for i, r := range a.Runs {
		log, err := ReadHistLog(filepath.Join(dir, r.HistLog))
		if err != nil {
			t.Fatal(err)
		}
		if n := log.Total().TotalCount(); uint64(n) != out.Runs[i].Requests || n == 0 {
			t.Fatalf("run %d: log holds %d requests, the row %d", i, n, out.Runs[i].Requests)
		}
		if got := latencyOf(log.Total()); got != out.Runs[i].Latency {
			t.Fatalf("run %d: log's percentiles %+v, the row's %+v", i, got, out.Runs[i].Latency)
		}
	}
}
