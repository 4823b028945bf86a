package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

// goInstance is an in-process Go server standing in for a started server:
// a test fixture with the Instance interface, which can "crash".
type goInstance struct {
	srv    *http.Server
	url    string
	exited chan struct{}
	once   sync.Once
}

func startGoInstance(t *testing.T, h http.Handler) *goInstance {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &goInstance{srv: &http.Server{Handler: h}, url: "http://" + ln.Addr().String(), exited: make(chan struct{})}
	go g.srv.Serve(ln)
	t.Cleanup(g.crash)
	return g
}

func (g *goInstance) crash() {
	g.once.Do(func() {
		g.srv.Close()
		close(g.exited)
	})
}
func (g *goInstance) URL() string { return g.url }
func (g *goInstance) PIDs() []int { return nil }
func (g *goInstance) Usage() harness.Usage {
	return harness.Usage{CPUSeconds: 0.5, PeakRSSMB: 10, Procs: 1}
}
func (g *goInstance) Exited() <-chan struct{} { return g.exited }
func (g *goInstance) LogTail(int) string      { return "Traceback: boom" }
func (g *goInstance) Stop() error             { g.crash(); return nil }

func scenarios(t *testing.T, names ...string) []*Scenario {
	var out []*Scenario
	for _, n := range names {
		s, err := LookupScenario(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestBenchRotatesServersAndSummarizes(t *testing.T) {
	var mu sync.Mutex
	var starts []string
	p := Plan{
		Servers: []string{"a", "b", "c"}, Scenarios: scenarios(t, "hello"), Mode: ModeClosed,
		Concurrency: []int{2}, Rounds: 3, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Start: func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
			mu.Lock()
			starts = append(starts, server)
			mu.Unlock()
			return startGoInstance(t, fixtureHandler()), "1.0-" + server, nil
		},
	}
	out, err := Bench(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// One start each for the same-work check, then the rounds, rotated.
	if got := strings.Join(starts, " "); got != "a b c a b c b c a c a b" {
		t.Fatalf("start order %q, want the same-work check then rotated rounds", got)
	}
	if len(out.Runs) != 9 {
		t.Fatalf("%d runs, want 9", len(out.Runs))
	}
	for _, r := range out.Runs {
		if r.Failed != "" || r.Requests == 0 || r.Errors != 0 || r.RPS <= 0 || r.Latency.P99 <= 0 {
			t.Fatalf("run %+v", r)
		}
		if r.ServerCPU != 0 { // Usage is constant: the delta is zero
			t.Fatalf("server CPU %v from a constant usage", r.ServerCPU)
		}
	}
	if len(out.Summary) != 3 || len(out.Comparisons) != 6 {
		t.Fatalf("%d summaries, %d comparisons; want 3 and 6", len(out.Summary), len(out.Comparisons))
	}
	for _, s := range out.Summary {
		if s.Rounds != 3 || s.RPSMedian <= 0 || s.RPSCI[0] > s.RPSMedian || s.RPSCI[1] < s.RPSMedian {
			t.Fatalf("summary %+v", s)
		}
	}
	if out.Servers[1].Version != "1.0-b" || out.Schema != reports.BenchSchema || out.Machine == nil {
		t.Fatalf("servers %+v schema %q", out.Servers, out.Schema)
	}
	var buf bytes.Buffer
	WriteText(&buf, out)
	if !strings.Contains(buf.String(), "hello") || !strings.Contains(buf.String(), " ~ ") {
		t.Fatalf("text output:\n%s", buf.String())
	}
}

func TestBenchServerCrashFailsOnlyThatRun(t *testing.T) {
	var starts atomic.Int32
	p := Plan{
		Servers: []string{"crashy", "steady"}, Scenarios: scenarios(t, "hello", "json"), Mode: ModeClosed,
		Concurrency: []int{2}, Rounds: 1, Duration: 500 * time.Millisecond,
		Start: func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
			if server == "steady" {
				return startGoInstance(t, fixtureHandler()), "", nil
			}
			first := starts.Add(1) == 2 // the first measured: the same-work check's comes before
			var n atomic.Int32
			var g atomic.Pointer[goInstance] // set once serving: the handler runs on the server's goroutines
			inst := startGoInstance(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if first && n.Add(1) == 50 {
					go g.Load().crash() // the first instance dies mid-run
				}
				fixtureHandler().ServeHTTP(w, r)
			}))
			g.Store(inst)
			return inst, "", nil
		},
	}
	out, err := Bench(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]reports.BenchRun{}
	for _, r := range out.Runs {
		byKey[r.Server+"/"+r.Scenario] = r
	}
	if f := byKey["crashy/hello"].Failed; !strings.Contains(f, "server exited") || !strings.Contains(f, "Traceback: boom") {
		t.Fatalf("crashed run: failed=%q", f)
	}
	for _, k := range []string{"crashy/json", "steady/hello", "steady/json"} {
		if r := byKey[k]; r.Failed != "" || r.Requests == 0 {
			t.Fatalf("%s should have run: %+v", k, r)
		}
	}
	if starts.Load() != 3 {
		t.Fatalf("crashy started %d times, want the same-work check, the run, and a restart after the crash", starts.Load())
	}
	for _, s := range out.Summary {
		if s.Server == "crashy" && s.Scenario == "hello" && (s.Failed != 1 || s.Rounds != 0) {
			t.Fatalf("summary of the failed cell: %+v", s)
		}
	}
}

// TestBenchStartFailureIsReported: a server that cannot start the app is
// found by the same-work check, before anything is measured, with its
// error; allowed to differ, its runs fail with it.
func TestBenchStartFailureIsReported(t *testing.T) {
	p := Plan{
		Servers: []string{"broken", "go"}, Scenarios: scenarios(t, "hello"), Mode: ModeClosed, Concurrency: []int{1},
		Rounds: 1, Duration: 100 * time.Millisecond,
		Start: func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
			if server == "go" {
				return startGoInstance(t, fixtureHandler()), "", nil
			}
			return nil, "", fmt.Errorf("ModuleNotFoundError: No module named 'flask'")
		},
	}
	var log bytes.Buffer
	p.Log = &log
	out, err := Bench(context.Background(), p)
	if !errors.Is(err, ErrDifferentWork) || !strings.Contains(err.Error(), "broken could not start") || len(out.Runs) != 0 ||
		len(out.Different) != 1 || !strings.Contains(out.Different[0], "No module named") {
		t.Fatalf("err %v, runs %d, different %q; want a refusal before any run naming the start error", err, len(out.Runs), out.Different)
	}
	if !strings.Contains(log.String(), "broken could not start the app: ModuleNotFoundError") {
		t.Errorf("log does not show the start error:\n%s", log.String())
	}
	p.AllowDifferent = true
	out, err = Bench(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Runs) != 2 || !strings.Contains(out.Runs[0].Failed, "No module named") || out.Runs[1].Failed != "" {
		t.Fatalf("runs %+v", out.Runs)
	}
}

// TestBenchSameWork: servers that answer a target with another status or
// body are refused before anything is measured, unless allowed; a body that
// varies between two answers of one server is compared by status only; the
// answers are in bench.json per server.
func TestBenchSameWork(t *testing.T) {
	handler := func(status int, body string, varies bool) http.Handler {
		var n atomic.Int32
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, body)
			if varies {
				fmt.Fprint(w, n.Add(1))
			}
		})
	}
	servers := map[string]http.Handler{
		"a":       handler(200, "hello", false),
		"b":       handler(200, "hello", false),
		"moody":   handler(200, "hello at ", true),
		"teapot":  handler(418, "hello", false),
		"other":   handler(200, "bonjour", false),
		"missing": handler(404, "nope", false),
		"gone":    handler(404, "nope", false),
	}
	sc := &Scenario{Name: "mine", App: "bench", Requests: []Request{{Method: "GET", Path: "/x"}, {Method: "POST", Path: "/y", Body: []byte("b")}}}
	plan := func(names ...string) Plan {
		return Plan{Servers: names, Scenarios: []*Scenario{sc}, Mode: ModeClosed, Concurrency: []int{1}, Rounds: 1,
			Duration: 100 * time.Millisecond, Log: io.Discard,
			Start: func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
				return startGoInstance(t, servers[server]), "", nil
			}}
	}
	for _, tc := range []struct {
		servers []string
		refused string // in the differences; "" when the servers do the same work
	}{
		{[]string{"a", "b"}, ""},
		{[]string{"a", "moody"}, ""},
		{[]string{"a", "teapot"}, "teapot 418"},
		{[]string{"a", "b", "other"}, "other 200 sha256:"},
	} {
		out, err := Bench(context.Background(), plan(tc.servers...))
		if tc.refused == "" {
			if err != nil || len(out.Runs) != len(tc.servers) || len(out.Different) != 0 {
				t.Errorf("%v: err %v, %d runs, different %q; want every run", tc.servers, err, len(out.Runs), out.Different)
			}
		} else if !errors.Is(err, ErrDifferentWork) || len(out.Runs) != 0 || len(out.Different) != 2 || !strings.Contains(out.Different[0], tc.refused) {
			t.Errorf("%v: err %v, %d runs, different %q; want a refusal naming %q", tc.servers, err, len(out.Runs), out.Different, tc.refused)
		}
		if len(out.Servers) != len(tc.servers) {
			t.Fatalf("%v: servers %+v", tc.servers, out.Servers)
		}
		for _, s := range out.Servers {
			if len(s.Targets) != 2 || s.Targets[0].Path != "/x" || s.Targets[1].Method != "POST" || s.Targets[0].Digest == "" {
				t.Errorf("%v: %s's targets %+v", tc.servers, s.Name, s.Targets)
			}
			if s.Targets[0].Varies != (s.Name == "moody") {
				t.Errorf("%s: varies %v", s.Name, s.Targets[0].Varies)
			}
		}
	}
	p := plan("a", "teapot")
	p.AllowDifferent = true
	out, err := Bench(context.Background(), p)
	if err != nil || len(out.Runs) != 2 || len(out.Different) != 2 {
		t.Fatalf("--allow-different: err %v, %d runs, different %q", err, len(out.Runs), out.Different)
	}
	out, err = Bench(context.Background(), plan("missing", "gone"))
	if err != nil || len(out.Notes) != 2 || !strings.Contains(out.Notes[0], "every server answers GET /x with 404") {
		t.Fatalf("an error page everywhere: err %v, notes %q; want a note per target", err, out.Notes)
	}
	twice := plan("a", "a")
	if err := twice.Validate(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("a server named twice: %v", err)
	}
}

func TestBenchRefusesRemoteTargets(t *testing.T) {
	sc := &Scenario{Name: "far", App: "bench", Requests: []Request{{Method: "GET", Path: "http://10.1.2.3/"}}}
	p := Plan{Servers: []string{"x"}, Scenarios: []*Scenario{sc}, Mode: ModeClosed, Rounds: 1, Duration: time.Second,
		Start: func(context.Context, string, harness.App) (harness.Server, string, error) { panic("must not start") }}
	if _, err := Bench(context.Background(), p); err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("err %v, want a refusal naming --allow-remote", err)
	}
	if err := CheckLoopback("http://[::1]:8000"); err != nil {
		t.Fatal(err)
	}
	if err := CheckLoopback("http://example.com/"); err == nil {
		t.Fatal("example.com accepted as loopback")
	}
}

func TestBenchWritesResultFiles(t *testing.T) {
	dir := t.TempDir()
	p := Plan{
		Servers: []string{"go"}, Scenarios: scenarios(t, "hello"), Mode: ModeOpen, Rate: 200, Concurrency: []int{16},
		Rounds: 1, Duration: 500 * time.Millisecond, OutDir: dir,
		Start: func(ctx context.Context, server string, app harness.App) (harness.Server, string, error) {
			return startGoInstance(t, fixtureHandler()), "", nil
		},
	}
	out, err := Bench(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	r := out.Runs[0]
	if r.ResultsFile == "" || r.Uncorrected == nil {
		t.Fatalf("run %+v", r)
	}
	rs, err := ReadResultsFile(filepath.Join(dir, r.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range rs {
		if res.Code != 200 || res.Latency <= 0 || !strings.HasSuffix(res.URL, "/") {
			t.Fatalf("result %+v", res)
		}
	}
	if uint64(len(rs)) != r.Requests {
		t.Fatalf("%d results in the file, %d requests in the run", len(rs), r.Requests)
	}
}

// TestOpenModeCorrectsCoordinatedOmission: a server that takes 50 ms, asked
// 100 req/s with at most 2 in flight, can answer only 40 req/s. The service
// time stays ~50 ms, but requests wait at the client for a free worker:
// latency from the intended send time must show that wait, and the run
// must be flagged, since the asked rate was not sent.
func TestOpenModeCorrectsCoordinatedOmission(t *testing.T) {
	g := startGoInstance(t, fixtureHandler())
	sc := &Scenario{Name: "slow", Requests: []Request{{Method: "GET", Path: "/sleep?ms=50"}}}
	r, err := Run(RunConfig{BaseURL: g.URL(), Scenario: sc, Load: Load{Mode: Open, Concurrency: 2, Rate: 100},
		Duration: 2 * time.Second, Timeout: 5 * time.Second, KeepRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	service, corrected := msAt(r.Service, 50), msAt(r.Latency, 99)
	// The result file keeps vegeta's meaning of Latency: from the actual
	// send (the service time), not the corrected latency.
	maxService := msAt(r.Service, 100)
	for _, rec := range r.Records {
		if ms := float64(rec.Latency) / 1e6; ms <= 0 || ms > maxService*1.01+0.01 {
			t.Fatalf("record %+v: latency %.1fms is not a service time (service max %.1fms, corrected p99 %.1fms)", rec, ms, maxService, corrected)
		}
	}
	if len(r.Records) == 0 {
		t.Fatal("no records kept")
	}
	t.Logf("service p50 %.1fms, corrected p99 %.1fms, sent %.0f/s, %s", service, corrected, r.SendRate, r.ClientWhy)
	if service < 45 || service > 500 {
		t.Fatalf("service p50 %.1fms, want about 50", service)
	}
	if corrected < 3*service {
		t.Fatalf("corrected p99 %.1fms hides the client-side queue (service %.1fms)", corrected, service)
	}
	if !r.ClientBound || !strings.Contains(r.ClientWhy, "of the 100 asked") {
		t.Fatalf("client_bound=%v (%q), want the shortfall flagged", r.ClientBound, r.ClientWhy)
	}
}

func TestRunCountsErrorsAndStatuses(t *testing.T) {
	g := startGoInstance(t, fixtureHandler())
	sc := &Scenario{Name: "mixed", Requests: []Request{
		{Method: "GET", Path: "/", Weight: 2}, {Method: "GET", Path: "/status/503"}}}
	r, err := Run(RunConfig{BaseURL: g.URL(), Scenario: sc, Load: Load{Mode: Closed, Concurrency: 1},
		Duration: 10 * time.Second, MaxRequests: 300})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 300 || r.Status["200"] != 200 || r.Status["503"] != 100 || r.Errors != 100 || r.Successes != 200 {
		t.Fatalf("requests %d status %v errors %d", r.Requests, r.Status, r.Errors)
	}
	// Connection refused: counted as errors with their text, not dropped.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	r, err = Run(RunConfig{BaseURL: dead, Scenario: sc, Load: Load{Mode: Closed, Concurrency: 1},
		Duration: 10 * time.Second, MaxRequests: 20})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 20 || r.Status["error"] != 20 || len(r.ErrorsByText) == 0 {
		t.Fatalf("errors %d status %v texts %v", r.Errors, r.Status, r.ErrorsByText)
	}
}

func TestScenarioFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "payload.bin"), []byte("PAYLOAD"), 0o644)
	toml := `
[[scenario]]
name = "mix"
app = "bench"
[[scenario.request]]
path = "/json"
weight = 3
[[scenario.request]]
method = "post"
path = "/upload"
body_file = "payload.bin"
headers = { "Content-Type" = "application/octet-stream" }
`
	os.WriteFile(filepath.Join(dir, "s.toml"), []byte(toml), 0o644)
	scs, err := LoadScenarios(filepath.Join(dir, "s.toml"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	tg := scs[0].targets("http://127.0.0.1:1")
	if len(tg) != 4 || tg[0].URL != "http://127.0.0.1:1/json" || tg[3].Method != "POST" || string(tg[3].Body) != "PAYLOAD" {
		t.Fatalf("targets %+v", tg)
	}
	vt := "GET /\nX-Test: 1\n\nPOST /upload\n"
	os.WriteFile(filepath.Join(dir, "targets.txt"), []byte(vt), 0o644)
	scs, err = LoadScenarios(filepath.Join(dir, "targets.txt"), "flask", "")
	if err != nil {
		t.Fatal(err)
	}
	if scs[0].Name != "targets" || scs[0].App != "flask" || len(scs[0].Requests) != 2 || scs[0].Requests[0].Header.Get("X-Test") != "1" {
		t.Fatalf("scenario %+v", scs[0])
	}
	for name, bad := range map[string]string{
		"unknown key": "[[scenario]]\nname='x'\ncolour='red'\n[[scenario.request]]\npath='/'\n",
		"no requests": "[[scenario]]\nname='x'\n",
		"bad header":  "[[scenario]]\nname='x'\n[[scenario.request]]\npath='/'\nheaders={\"X\"=\"a\\nb\"}\n",
		"bad path":    "[[scenario]]\nname='x'\n[[scenario.request]]\npath='ftp://x/'\n",
	} {
		os.WriteFile(filepath.Join(dir, "bad.toml"), []byte(bad), 0o644)
		if _, err := LoadScenarios(filepath.Join(dir, "bad.toml"), "", ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LookupScenario("jsno", nil); err == nil || !strings.Contains(err.Error(), "did you mean json") {
		t.Fatalf("err %v", err)
	}
}

func TestGate(t *testing.T) {
	mk := func(vals ...float64) *reports.Bench {
		o := &reports.Bench{Schema: reports.BenchSchema}
		for i, v := range vals {
			o.Runs = append(o.Runs, reports.BenchRun{Server: "s", Scenario: "hello", Mode: ModeClosed,
				Concurrency: 8, Round: i + 1, Requests: 100, RPS: v, Latency: reports.Latency{P99: 1000 / v}})
		}
		return o
	}
	base := mk(1000, 1010, 990, 1005, 995, 1002)
	tests := []struct {
		name      string
		cur       *reports.Bench
		regressed bool
	}{
		{"20% slower, significant", mk(800, 810, 790, 805, 795, 802), true},
		{"2% slower, under threshold", mk(980, 990, 970, 985, 975, 982), false},
		{"faster", mk(1200, 1210, 1190, 1205, 1195, 1202), false},
		{"30% slower but 2 runs: cannot be significant", mk(700, 710), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			regs := Gate(tc.cur, base, 0.05)
			if len(regs) != 2 {
				t.Fatalf("%d verdicts, want rps and p99", len(regs))
			}
			rps := regs[0]
			if rps.Metric != "rps" || rps.Regressed != tc.regressed {
				t.Fatalf("rps verdict %+v", rps)
			}
			var buf bytes.Buffer
			n := WriteGate(&buf, regs, nil, 0.05)
			if (n > 0) != tc.regressed || (tc.regressed && !strings.Contains(buf.String(), "REGRESSION s hello rps")) {
				t.Fatalf("gate output (%d):\n%s", n, buf.String())
			}
			if tc.regressed && (rps.Change < 0.19 || rps.Change > 0.21 || rps.P > 0.05) {
				t.Fatalf("change %v p %v", rps.Change, rps.P)
			}
		})
	}
	dir := t.TempDir()
	if err := SaveBaseline(filepath.Join(dir, "b.json"), base); err != nil {
		t.Fatal(err)
	}
	back, err := LoadBaseline(filepath.Join(dir, "b.json"))
	if err != nil || len(back.Runs) != 6 {
		t.Fatalf("round trip: %v", err)
	}
}
