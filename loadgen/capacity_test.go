package loadgen

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// fakeRun is a run whose latency is lat at every request.
func fakeRun(rate float64, lat time.Duration, errs uint64) *RunResult {
	r := &RunResult{Latency: newHist(), Service: newHist(), Requests: 1000, Errors: errs, SendRate: rate}
	for i := 0; i < 1000; i++ {
		record(r.Latency, lat)
	}
	return r
}

func TestSearchCapacityKnownThreshold(t *testing.T) {
	slo := SLO{Quantile: 99, Max: 20 * time.Millisecond}
	// A server that meets the SLO up to exactly 1234 req/s.
	knee := func(rate float64) (*RunResult, error) {
		if rate <= 1234 {
			return fakeRun(rate, time.Millisecond, 0), nil
		}
		return fakeRun(rate, 100*time.Millisecond, 0), nil
	}
	tests := []struct {
		name   string
		start  float64
		probes []float64
		rate   float64
		lo, hi float64
	}{
		// Doubling from 100 brackets [800, 1600]; bisection halves it until
		// the bracket is within 5%.
		{"from below", 100, []float64{100, 200, 400, 800, 1600, 1200, 1400, 1300, 1250}, 1200, 1200, 1250},
		// Quartering from 5000 brackets [312.5, 1250].
		{"from above", 5000, []float64{5000, 1250, 312.5, 781.25, 1015.625, 1132.8125, 1191.40625}, 1191.40625, 1191.40625, 1250},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := SearchCapacity(CapacityConfig{SLO: slo, Start: tc.start}, knee)
			if err != nil {
				t.Fatal(err)
			}
			var got []float64
			for _, p := range c.Probes {
				got = append(got, p.Rate)
				if p.Pass != (p.Rate <= 1234) {
					t.Errorf("probe %v judged pass=%v", p.Rate, p.Pass)
				}
			}
			if len(got) != len(tc.probes) {
				t.Fatalf("probes %v, want %v", got, tc.probes)
			}
			for i := range got {
				if got[i] != tc.probes[i] {
					t.Fatalf("probes %v, want %v", got, tc.probes)
				}
			}
			if c.Rate != tc.rate || c.Lo != tc.lo || c.Hi != tc.hi {
				t.Errorf("capacity %v in [%v, %v], want %v in [%v, %v]", c.Rate, c.Lo, c.Hi, tc.rate, tc.lo, tc.hi)
			}
		})
	}
}

func TestSearchCapacityJudge(t *testing.T) {
	cfg := CapacityConfig{SLO: SLO{Quantile: 99, Max: 20 * time.Millisecond}}
	tests := []struct {
		name string
		run  *RunResult
		pass bool
	}{
		{"meets", fakeRun(100, 5*time.Millisecond, 0), true},
		{"slow", fakeRun(100, 30*time.Millisecond, 0), false},
		{"errors", fakeRun(100, time.Millisecond, 3), false},
		{"short of the rate", fakeRun(50, time.Millisecond, 0), false},
		{"failed", &RunResult{Failed: "server exited", Latency: newHist()}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := cfg.judge(100, tc.run)
			if p.Pass != tc.pass {
				t.Errorf("pass=%v (%s), want %v", p.Pass, p.Why, tc.pass)
			}
		})
	}
}

func TestSearchCapacityUnbounded(t *testing.T) {
	always := func(rate float64) (*RunResult, error) { return fakeRun(rate, time.Millisecond, 0), nil }
	c, err := SearchCapacity(CapacityConfig{SLO: SLO{99, 20 * time.Millisecond}, Start: 100, MaxRate: 1000}, always)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rate != 1000 || c.Hi < 1e300 {
		t.Fatalf("capacity %v [%v, %v], want 1000 with no failing bound", c.Rate, c.Lo, c.Hi)
	}
}

func TestParseSLO(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SLO
		ok   bool
	}{
		{"p99=20ms", SLO{99, 20 * time.Millisecond}, true},
		{"p99.9=1.5ms", SLO{99.9, 1500 * time.Microsecond}, true},
		{"p100=1ms", SLO{}, false},
		{"99=1ms", SLO{}, false},
		{"p99=fast", SLO{}, false},
		{"p50", SLO{}, false},
	} {
		got, err := ParseSLO(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseSLO(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// kneeServer is a single-server FIFO queue with a deterministic service
// time: it completes exactly 1/service requests per second, so its latency
// stays flat below that rate and grows without bound above it. The queue
// runs on virtual time (each completion is scheduled from the previous
// one), so sleep overshoot does not lower the capacity.
func kneeServer(t *testing.T, service time.Duration) string {
	var mu sync.Mutex
	var next time.Time
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now := time.Now()
		if next.Before(now) {
			next = now
		}
		next = next.Add(service)
		done := next
		mu.Unlock()
		time.Sleep(time.Until(done))
		w.Write([]byte("ok"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestCapacityAgainstSimulatedKnee(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real load for ~20 s")
	}
	// Knee at 1/5ms = 200 req/s. Above it the backlog grows by (rate-200)
	// requests per second, each waiting 5 ms more: at 1.1×knee the wait
	// reaches 180 ms by the end of a 2 s probe, over the p90 objective of
	// 120 ms; below the knee arrivals never queue. The wide objective keeps
	// the test meaningful on a busy shared machine.
	const knee = 200.0
	base := kneeServer(t, 5*time.Millisecond)
	sc := &Scenario{Name: "knee", Requests: []Request{{Method: "GET", Path: "/"}}}
	probe := func(rate float64) (*RunResult, error) {
		return Run(RunConfig{BaseURL: base, Scenario: sc, Load: Load{Mode: Open, Concurrency: 512, Rate: rate},
			Duration: 2 * time.Second, Timeout: 5 * time.Second})
	}
	c, err := SearchCapacity(CapacityConfig{SLO: SLO{90, 120 * time.Millisecond}, Start: 50}, probe)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Probes {
		t.Logf("probe %.0f req/s: p90 %.2fms sent %.0f/s pass=%v %s", p.Rate, p.Latency, p.SendRate, p.Pass, p.Why)
	}
	t.Logf("capacity %.0f req/s, bracket [%.0f, %.0f]", c.Rate, c.Lo, c.Hi)
	if c.Rate < 0.6*knee || c.Rate > 1.15*knee {
		t.Fatalf("capacity %.0f req/s, want near the %.0f req/s knee", c.Rate, knee)
	}
	if c.Hi > 1.5*knee {
		t.Fatalf("bracket upper end %.0f: a rate far above the knee passed", c.Hi)
	}
}
