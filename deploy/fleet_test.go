package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
	"github.com/wsgikit/wsgikit/loadgen"
	"github.com/wsgikit/wsgikit/reports"
)

// agentLoad is each test agent's load: short and bounded.
const agentLoad = "-c 2 -d 1s --warmup 0 --rounds 1 --max-requests 100000 --scenario hello --progress plain"

// agentLead is how far ahead a test run starts: the agents' processes
// start and read their clocks (at most 2.2 s) before it.
const agentLead = 5 * time.Second

func wsgikitBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs agents against a server")
	}
	bin, err := harness.WsgikitBin()
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		testenv.Missing(t, "%v (make build; WSGIKIT_BIN=$PWD/bin/wsgikit)", err)
	}
	return bin
}

// server is a `wsgikit serve` of the bench app with Prometheus metrics.
type server struct {
	cmd     *exec.Cmd
	log     string
	metrics string // http://HOST:PORT/metrics
	scrape  func(url string) (string, error)
}

// startServer starts bin serve with the binds, in front of wrap (nil: as
// is; else e.g. `ip netns exec NS`), and waits for its worker.
func startServer(t *testing.T, bin string, wrap []string, binds []string, metricsAddr string, scrape func(string) (string, error)) *server {
	t.Helper()
	args := append(append([]string{}, wrap...), bin, "serve", "--chdir", filepath.Join("..", "apps"), "--python", harness.Python(),
		"-w", "1", "--threads", "4", "--metrics-bind", metricsAddr)
	for _, b := range binds {
		args = append(args, "-b", b)
	}
	args = append(args, "bench:application")
	s := &server{log: filepath.Join(t.TempDir(), "server.log"), metrics: "http://" + metricsAddr + "/metrics", scrape: scrape}
	if s.scrape == nil {
		s.scrape = httpGet
	}
	f, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, err := s.scrape(s.metrics)
		if err == nil && metricValue(body, "wsgikit_workers ") >= 1 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 60 s (%v); its log:\n%s", err, readFile(s.log))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// gets is the server's own count of GET requests answered (the agents'
// clock probes are HEADs).
func (s *server) gets() (uint64, error) {
	body, err := s.scrape(s.metrics)
	if err != nil {
		return 0, err
	}
	return uint64(metricValue(body, `wsgikit_requests_total{method="GET",`)), nil
}

// metricValue sums the samples whose line starts with prefix.
func metricValue(body, prefix string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// settledGets is the GET count once the master has refreshed it from the
// workers (every 250 ms): two reads 600 ms apart agree. It fails if the
// count is still moving by until.
func (s *server) settledGets(t *testing.T, until time.Time) uint64 {
	t.Helper()
	last, err := s.gets()
	for err == nil && time.Now().Before(until) {
		time.Sleep(600 * time.Millisecond)
		var n uint64
		if n, err = s.gets(); err == nil && n == last {
			return n
		}
		last = n
	}
	t.Fatalf("the server's GET count did not settle before %v (last %d, %v)", until, last, err)
	return 0
}

// agent is a process running one agent or several (a recipe), and what
// it printed.
type agent struct {
	name    string
	cmd     *exec.Cmd
	mu      sync.Mutex
	out     strings.Builder
	startAt time.Time     // from the start lines
	started chan struct{} // closed once every agent in it printed its start line
	done    chan error
}

var startLineRe = regexp.MustCompile(`run 1 starts at (\S+) \(in`)

// startAgent runs argv, which runs agents agents, and watches its output
// for their start lines.
func startAgent(t *testing.T, name string, argv, env []string, dir string, agents int) *agent {
	t.Helper()
	a := &agent{name: name, started: make(chan struct{}), done: make(chan error, 1)}
	a.cmd = exec.Command(argv[0], argv[1:]...)
	a.cmd.Env = append(os.Environ(), env...)
	a.cmd.Dir = dir
	pr, pw := io.Pipe()
	a.cmd.Stdout, a.cmd.Stderr = pw, pw
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		seen := 0
		for sc.Scan() {
			a.mu.Lock()
			a.out.WriteString(sc.Text() + "\n")
			if m := startLineRe.FindStringSubmatch(sc.Text()); m != nil {
				if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && at.After(a.startAt) {
					a.startAt = at
				}
				if seen++; seen == agents {
					close(a.started)
				}
			}
			a.mu.Unlock()
		}
	}()
	go func() {
		err := a.cmd.Wait()
		pw.Close()
		a.done <- err
	}()
	t.Cleanup(func() { a.cmd.Process.Kill() })
	return a
}

func (a *agent) output() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.String()
}

// fleetRun is a coordinated run under test: the server, and the
// processes running its agents.
type fleetRun struct {
	t      *testing.T
	srv    *server
	agents []*agent
}

// startAt is an --start-at for agents about to be started.
func startAt() string {
	return time.Now().Add(agentLead).Truncate(time.Second).Add(time.Second).UTC().Format(time.RFC3339)
}

// measure waits for every agent's start line, reads the server's count,
// waits for the processes to finish, and returns the count it read.
func (r *fleetRun) measure() uint64 {
	t := r.t
	t.Helper()
	var start time.Time
	for _, a := range r.agents {
		select {
		case <-a.started:
		case err := <-a.done:
			t.Fatalf("%s exited before its start (%v):\n%s", a.name, err, a.output())
		case <-time.After(agentLead + 30*time.Second):
			t.Fatalf("%s printed no start line for each agent:\n%s", a.name, a.output())
		}
		a.mu.Lock()
		if a.startAt.After(start) {
			start = a.startAt
		}
		a.mu.Unlock()
	}
	before := r.srv.settledGets(t, start.Add(-100*time.Millisecond))
	for _, a := range r.agents {
		select {
		case err := <-a.done:
			if err != nil {
				t.Fatalf("%s: %v:\n%s", a.name, err, a.output())
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s still running after 2 minutes:\n%s", a.name, a.output())
		}
	}
	return before
}

// check merges the parts with `bench merge` and compares the merge with
// the server's own count and with the raw latencies of the parts' vegeta
// result files.
func (r *fleetRun) check(bin string, before uint64, parts []string) *reports.Bench {
	t := r.t
	t.Helper()
	out := filepath.Join(t.TempDir(), "merged")
	merge := exec.Command(bin, append(append([]string{"bench", "merge"}, parts...), "-o", out)...)
	text, err := merge.CombinedOutput()
	if err != nil {
		t.Fatalf("bench merge: %v\n%s", err, text)
	}
	t.Logf("bench merge:\n%s", text)
	merged := readBench(t, filepath.Join(out, "bench.json"))
	checkMerged(t, r.srv, before, merged, parts)
	return merged
}

// checkMerged: the merged request count is the server's, and the merged
// p99 is the p99 of the union of the agents' raw latencies.
func checkMerged(t *testing.T, srv *server, before uint64, merged *reports.Bench, parts []string) {
	t.Helper()
	if len(merged.Runs) != 1 || merged.Fleet == nil || len(merged.Fleet.Agents) != len(parts) {
		t.Fatalf("merged runs %+v, fleet %+v", merged.Runs, merged.Fleet)
	}
	row := merged.Runs[0]
	if row.Failed != "" || row.Requests == 0 || row.Errors != 0 {
		t.Fatalf("merged run %+v", row)
	}
	// The master refreshes its count from the workers every 250 ms: the
	// wait bounds that, and fails with what it saw.
	var served uint64
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := srv.gets()
		if err == nil {
			served = n - before
		}
		if served == row.Requests {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server answered %d GETs during the run (%v); the merge counts %d requests", served, err, row.Requests)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var raw []time.Duration
	for _, p := range parts {
		part := readBench(t, filepath.Join(p, "bench.json"))
		raw = append(raw, vegetaLatencies(t, filepath.Join(p, part.Runs[0].ResultsFile))...)
	}
	if uint64(len(raw)) != row.Requests {
		t.Fatalf("the parts' vegeta result files hold %d results; the merge counts %d", len(raw), row.Requests)
	}
	if want := unionP99(t, raw); row.Latency.P99 != want {
		t.Fatalf("merged p99 %v ms; the p99 of the union of the raw latencies is %v ms", row.Latency.P99, want)
	}
	t.Logf("%d agents: %d requests, the server counted %d; p99 %.3f ms", len(parts), row.Requests, served, row.Latency.P99)
}

// unionP99 is the p99 of raw latencies as the driver reports it: the
// exact value at HdrHistogram's rank (round(0.99 n)), to the histogram's 3
// significant digits (in µs), in ms.
func unionP99(t *testing.T, raw []time.Duration) float64 {
	t.Helper()
	h := hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
	for _, d := range raw {
		h.RecordValue(max(int64(d/time.Microsecond), 1))
	}
	sort.Slice(raw, func(i, j int) bool { return raw[i] < raw[j] })
	exact := max(int64(raw[max(int(0.99*float64(len(raw))+0.5), 1)-1]/time.Microsecond), 1)
	p99 := h.ValueAtQuantile(99)
	if !h.ValuesAreEquivalent(p99, exact) {
		t.Fatalf("HdrHistogram's p99 %d µs is not the exact %d µs to its precision", p99, exact)
	}
	return float64(p99) / 1000
}

func vegetaLatencies(t *testing.T, path string) (out []time.Duration) {
	t.Helper()
	rs, err := loadgen.ReadResultsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		out = append(out, r.Latency)
	}
	return out
}

func readBench(t *testing.T, path string) *reports.Bench {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out reports.Bench
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &out
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// freePort is a TCP port free on loopback now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestAgentsOnLoopback: three agents as separate processes against one
// wsgikit server on loopback.
func TestAgentsOnLoopback(t *testing.T) {
	bin := wsgikitBin(t)
	port := freePort(t)
	srv := startServer(t, bin, nil, []string{fmt.Sprintf("127.0.0.1:%d", port)}, fmt.Sprintf("127.0.0.1:%d", freePort(t)), nil)
	run := &fleetRun{t: t, srv: srv}
	root, start := t.TempDir(), startAt()
	var parts []string
	for _, id := range []string{"a1", "a2", "a3"} {
		dir := filepath.Join(root, id)
		argv := append([]string{bin, "bench", "--url", fmt.Sprintf("app=http://127.0.0.1:%d", port), "--agent", id,
			"--start-at", start, "-o", dir}, strings.Fields(agentLoad)...)
		run.agents = append(run.agents, startAgent(t, "agent "+id, argv, nil, "", 1))
		parts = append(parts, dir)
	}
	before := run.measure()
	merged := run.check(bin, before, parts)
	if merged.Fleet.ClockSkewMs == nil {
		t.Errorf("clock skew unknown: the agents read no Date from wsgikit")
	}
}
