package loadgen

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/reports"
)

// installed returns names, all installed here: a missing one fails the
// test with its install command, unless WSGIKIT_ALLOW_MISSING lets the test
// go on without it (saying so).
func installed(t *testing.T, names ...string) []string {
	var out []string
	for _, n := range names {
		p, err := harness.Lookup(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Version(); err != nil {
			if !testenv.MissingAllowed() {
				testenv.Missing(t, "%v", err)
			}
			t.Logf("not testing %s: %v (%s set)", n, err, testenv.AllowMissing)
			continue
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		testenv.Missing(t, "none of %v is installed", names)
	}
	return out
}

func harnessStart(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
	p, err := harness.Lookup(server, nil)
	if err != nil {
		return nil, "", err
	}
	inst, err := harness.Start(ctx, p, app, harness.Options{Workers: 1, Threads: 4})
	if err != nil {
		return nil, "", err
	}
	return inst, inst.Version, nil
}

// checkRuns asserts every run went through against a real server, with its
// cost measured.
func checkRuns(t *testing.T, out *reports.Bench, want int) {
	t.Helper()
	if len(out.Runs) != want {
		t.Fatalf("%d runs, want %d", len(out.Runs), want)
	}
	for _, r := range out.Runs {
		id := r.Server + "/" + r.Scenario
		if r.Failed != "" {
			t.Fatalf("%s failed: %s", id, r.Failed)
		}
		if r.Requests == 0 || r.Errors != 0 {
			t.Fatalf("%s: %d requests, %d errors %v %v", id, r.Requests, r.Errors, r.StatusCounts, r.ErrorTexts)
		}
		// CPU is counted in clock ticks (10 ms): a short run of 10 ms sleeps
		// can cost the server less than one.
		if (r.ServerCPU <= 0 && r.Scenario != "sleep") || r.ServerRSS <= 0 || r.ClientCPU <= 0 {
			t.Fatalf("%s: cost not measured: server %.3fs %.1fMB client %.3fs", id, r.ServerCPU, r.ServerRSS, r.ClientCPU)
		}
		if r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Latency.Max < r.Latency.P99 {
			t.Fatalf("%s: latency %+v", id, r.Latency)
		}
	}
}

// TestRealServersEveryMode drives real WSGI servers through the harness in
// every mode, briefly: keep-alive (waitress, gunicorn-gthread) and
// connection-per-request (uwsgi --http-socket), chunked and file_wrapper
// responses, uploads, and the framework apps.
func TestRealServersEveryMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers")
	}
	quick := func(p Plan) Plan {
		p.Start, p.Rounds, p.Warmup, p.Timeout = harnessStart, 1, 200*time.Millisecond, 10*time.Second
		if p.Duration == 0 {
			p.Duration = 700 * time.Millisecond
		}
		return p
	}
	t.Run("closed", func(t *testing.T) {
		servers := installed(t, "wsgikit", "waitress", "gunicorn-gthread", "uwsgi")
		scs := scenarios(t, "hello", "json", "upload", "stream", "file", "sleep", "cpu")
		out, err := Bench(context.Background(), quick(Plan{Servers: servers, Scenarios: scs, Mode: ModeClosed, Concurrency: []int{2}}))
		if err != nil {
			t.Fatal(err)
		}
		checkRuns(t, out, len(servers)*len(scs))
		for _, r := range out.Runs {
			if r.Engine != EngineLoop {
				t.Fatalf("%s/%s sent by %q, want the event loop (closed model, plain http)", r.Server, r.Scenario, r.Engine)
			}
			if r.Scenario == "stream" && r.BytesIn < r.Requests*StreamSize {
				t.Fatalf("%s stream: %d bytes in for %d requests", r.Server, r.BytesIn, r.Requests)
			}
			if r.Scenario == "upload" && r.BytesOut < r.Requests*UploadSize {
				t.Fatalf("%s upload: %d bytes out for %d requests", r.Server, r.BytesOut, r.Requests)
			}
			if r.Scenario == "sleep" && r.Latency.P50 < 9 {
				t.Fatalf("%s sleep: p50 %.2fms for a 10 ms sleep", r.Server, r.Latency.P50)
			}
		}
	})
	t.Run("frameworks", func(t *testing.T) {
		servers := installed(t, "gunicorn-gthread")
		out, err := Bench(context.Background(), quick(Plan{Servers: servers, Scenarios: scenarios(t, "flask", "django"),
			Mode: ModeClosed, Concurrency: []int{2}}))
		if err != nil {
			t.Fatal(err)
		}
		checkRuns(t, out, 2)
	})
	t.Run("sweep", func(t *testing.T) {
		servers := installed(t, "waitress")
		out, err := Bench(context.Background(), quick(Plan{Servers: servers, Scenarios: scenarios(t, "hello"),
			Mode: ModeSweep, Concurrency: []int{1, 8}}))
		if err != nil {
			t.Fatal(err)
		}
		checkRuns(t, out, 2)
		if out.Runs[0].Concurrency != 1 || out.Runs[1].Concurrency != 8 || len(out.Summary) != 2 {
			t.Fatalf("sweep runs %v %v, %d summaries", out.Runs[0].Concurrency, out.Runs[1].Concurrency, len(out.Summary))
		}
	})
	t.Run("open", func(t *testing.T) {
		servers := installed(t, "waitress", "gunicorn-gthread")
		out, err := Bench(context.Background(), quick(Plan{Servers: servers, Scenarios: scenarios(t, "hello"),
			Mode: ModeOpen, Rate: 200, Concurrency: []int{64}, Duration: time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		checkRuns(t, out, len(servers))
		for _, r := range out.Runs {
			if r.Engine != EngineVegeta {
				t.Fatalf("%s open model sent by %q, want vegeta's Attacker", r.Server, r.Engine)
			}
			if r.Uncorrected == nil || r.Latency.P50 < r.Uncorrected.P50*0.99 {
				t.Fatalf("%s: corrected %+v vs uncorrected %+v", r.Server, r.Latency, r.Uncorrected)
			}
			// How close the send rate came to 200 is this machine's
			// business; that the row records the asked rate and a measured
			// one is the code's.
			if r.Rate != 200 || r.SendRate <= 0 {
				t.Fatalf("%s: rate %v, sent %.0f req/s", r.Server, r.Rate, r.SendRate)
			}
		}
	})
	t.Run("capacity", func(t *testing.T) {
		servers := installed(t, "waitress")
		out, err := Bench(context.Background(), quick(Plan{Servers: servers, Scenarios: scenarios(t, "hello"),
			Mode: ModeCapacity, SLO: SLO{99, 50 * time.Millisecond}, CapStart: 400, CapProbes: 6,
			Concurrency: []int{128}, Duration: 500 * time.Millisecond}))
		if err != nil {
			t.Fatal(err)
		}
		r := out.Runs[0]
		if r.Failed != "" || r.Capacity == nil || len(r.Capacity.Probes) == 0 || len(r.Capacity.Probes) > 6 {
			t.Fatalf("capacity run %+v %+v", r, r.Capacity)
		}
		t.Logf("waitress capacity at p99≤50ms: %.0f req/s, bracket [%.0f, %.0f], %d probes",
			r.Capacity.Rate, r.Capacity.Lo, r.Capacity.Hi, len(r.Capacity.Probes))
		if r.Capacity.Rate > 0 && (r.Rate != r.Capacity.Rate || out.Summary[0].RPSMedian != r.Capacity.Rate) {
			t.Fatalf("row rate %v, summary %v, capacity %v", r.Rate, out.Summary[0].RPSMedian, r.Capacity.Rate)
		}
	})
	t.Run("crash", func(t *testing.T) {
		servers := installed(t, "waitress")
		// The server is killed as the first run's measurement begins
		// (its progress bar hears of it first): that run fails with the
		// log tail, the next scenario gets a fresh server. The victim is
		// the last instance started when that run begins (the same-work
		// check's instances are stopped by then).
		var victim harness.Server
		start := func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
			inst, v, err := harnessStart(ctx, server, app)
			if err == nil {
				victim = inst
			}
			return inst, v, err
		}
		p := quick(Plan{Servers: servers, Scenarios: scenarios(t, "hello", "json"), Mode: ModeClosed,
			Concurrency: []int{2}, Duration: time.Second})
		p.Start, p.Warmup = start, 0
		p.Progress = &onFirstRun{Progress: NewPlainProgress(io.Discard), do: func() {
			for _, pid := range victim.PIDs() {
				killPID(pid)
			}
			<-victim.Exited() // so the run cannot end before it sees the crash
		}}
		out, err := Bench(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.Runs[0].Failed, "server exited during the run") {
			t.Fatalf("first run: %q", out.Runs[0].Failed)
		}
		if out.Runs[1].Failed != "" || out.Runs[1].Requests == 0 {
			t.Fatalf("second run after the crash: %+v", out.Runs[1])
		}
	})
}

// onFirstRun is a Progress that calls do when the first run's measurement
// begins (its bar's first Update).
type onFirstRun struct {
	Progress
	do   func()
	once sync.Once
}

func (o *onFirstRun) Run(label string, d time.Duration) Bar {
	return &onFirstBar{Bar: o.Progress.Run(label, d), o: o}
}

type onFirstBar struct {
	Bar
	o *onFirstRun
}

func (b *onFirstBar) Update(done uint64) {
	b.o.once.Do(b.o.do)
	b.Bar.Update(done)
}
