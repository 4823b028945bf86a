package loadgen

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/wsgikit/wsgikit/reports"
)

// Server is a running server under test, as internal/harness provides it
// (harness.Instance satisfies it through an adapter in the command).
type Server interface {
	URL() string
	PIDs() []int
	Usage() Usage
	Exited() <-chan struct{}
	LogTail(n int) string
}

// Usage is the server's cumulative cost since it started.
type Usage struct {
	CPUSeconds float64 // user+sys of the whole process tree
	PeakRSSMB  float64
	PeakPSSMB  float64
	Procs      int
}

// Load modes.
const (
	Closed = "closed" // N connections, each sends its next request when the last answered
	Open   = "open"   // requests sent at a fixed rate, whatever the answers do
)

// Load says how hard one run pushes.
type Load struct {
	Mode string
	// Concurrency: closed model, the number of workers and connections;
	// open model, the bound on requests in flight (MaxWorkers).
	Concurrency int
	Rate        float64 // open model, requests per second
}

func (l Load) String() string {
	if l.Mode == Open {
		return fmt.Sprintf("open %.0f req/s", l.Rate)
	}
	return fmt.Sprintf("closed c=%d", l.Concurrency)
}

// RunConfig describes one measurement.
type RunConfig struct {
	BaseURL     string
	Scenario    *Scenario
	Load        Load
	Warmup      time.Duration // at the same load, results discarded
	Duration    time.Duration
	MaxRequests uint64        // hard bound on requests sent (0: DefaultMaxRequests)
	Timeout     time.Duration // per request (0: 10s)
	// Stock uses vegeta's own net/http transport instead of the lean one.
	Stock bool
	// Server, when set, is watched: its cost is measured and a crash stops
	// the run and marks it failed.
	Server Server
	// PinnedApart says the client and server run on disjoint CPUs; otherwise
	// the client's CPU budget is what the server leaves of ours.
	PinnedApart bool
	// KeepRecords keeps compact per-request records for result files.
	KeepRecords bool
	// Progress, when set, is called about every 100 ms with the number of
	// responses so far.
	Progress func(done uint64)
}

// MaxRecords bounds the per-request records kept for one run's result
// file (about 50 bytes each).
const MaxRecords = 4_000_000

// DefaultMaxRequests bounds a run that has no explicit bound.
const DefaultMaxRequests = 50_000_000

// Record is a compact per-request result, turned into vegeta results on
// demand (vegeta.Result carries body and headers; keeping those for every
// request of a run costs gigabytes).
type Record struct {
	Seq       uint64
	Code      uint16
	Target    int32 // index into the run's targets
	Timestamp int64 // ns since the attack began
	Latency   int64 // ns, service time
	Err       int32 // index into RunResult.errStrings, -1 for none
}

// RunResult is one run reduced to its numbers.
type RunResult struct {
	Load      Load
	Requests  uint64 // responses or failures received
	Successes uint64 // 2xx
	Errors    uint64 // everything that is not a 2xx: transport errors included
	// Status counts responses by status code; "error" counts requests that got
	// no status (refused, reset, timeout), ErrorsByText says which.
	Status       map[string]uint64
	ErrorsByText map[string]uint64
	Seconds      float64 // from the first send to the last answer
	RPS          float64 // 2xx responses per second
	SendRate     float64 // requests sent per second (achieved offered load)
	// Latency is the response time: in the open model from the intended send
	// time (coordinated omission corrected); in the closed model the service
	// time. Service is always from the actual send time.
	Latency, Service *hdrhistogram.Histogram
	LatenessP99      float64 // ms: how late the generator sent, open model
	Timeline         []reports.TimePoint
	ClientCPU        float64 // seconds of this process
	ClientCPUs       float64 // CPUs the client could use
	MachineIdle      float64 // idle fraction of all CPUs during the run (-1: unknown)
	Server           Usage   // cost during the measurement (CPU delta; peaks since start)
	ClientBound      bool
	ClientWhy        string
	Failed           string
	Transport        TransportStats
	Records          []Record
	RecordsDropped   uint64 // requests past MaxRecords, not in the result file
	Began            time.Time
	Targets          []vegeta.Target
	errStrings       []string
}

// Run performs the warm-up and one measurement on a new vegeta Attacker each
// (an Attacker is single use), with MaxWorkers always bounded.
func Run(cfg RunConfig) (*RunResult, error) {
	if err := cfg.Load.validate(); err != nil {
		return nil, err
	}
	if cfg.Duration <= 0 {
		return nil, errors.New("run: duration must be positive")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	tgts := cfg.Scenario.targets(cfg.BaseURL)
	lean := &Transport{Timeout: cfg.Timeout, MaxConnsPerHost: cfg.Load.Concurrency}
	defer lean.CloseIdleConnections()
	opts := func() []func(*vegeta.Attacker) {
		workers := uint64(cfg.Load.Concurrency)
		if cfg.Load.Mode == Open {
			workers = min(workers, 16)
		}
		o := []func(*vegeta.Attacker){
			vegeta.Workers(workers),
			vegeta.MaxWorkers(uint64(cfg.Load.Concurrency)),
			vegeta.MaxBody(0),
		}
		if cfg.Stock {
			// vegeta's own client: its net/http Transport and dialer, as
			// the vegeta CLI configures them.
			o = append(o, vegeta.Connections(cfg.Load.Concurrency), vegeta.MaxConnections(cfg.Load.Concurrency),
				vegeta.Timeout(cfg.Timeout), vegeta.KeepAlive(true), vegeta.Proxy(nil))
		} else {
			// Timeout zero here: the lean transport enforces it with a
			// connection deadline, without a timer goroutine per request.
			o = append(o, vegeta.Client(&http.Client{Transport: lean}))
		}
		return append(o, vegeta.Redirects(vegeta.NoFollow))
	}

	crashed := func() bool {
		if cfg.Server == nil {
			return false
		}
		select {
		case <-cfg.Server.Exited():
			return true
		default:
			return false
		}
	}
	failed := func(when string) *RunResult {
		msg := "server exited " + when
		if tail := cfg.Server.LogTail(20); tail != "" {
			msg += "; log tail:\n" + tail
		}
		return &RunResult{Load: cfg.Load, Failed: msg}
	}
	if crashed() {
		return failed("before the run"), nil
	}

	if cfg.Warmup > 0 {
		p := newPacer(cfg.Load, uint64(math.Ceil(float64(cfg.MaxRequests)*cfg.Warmup.Seconds()/cfg.Duration.Seconds())))
		atk := vegeta.NewAttacker(opts()...)
		stop := watch(cfg.Server, atk)
		for range atk.Attack(roundRobin(tgts), p, cfg.Warmup, "") {
		}
		stop()
		if crashed() {
			return failed("during warm-up"), nil
		}
	}

	res := &RunResult{
		Load: cfg.Load, Status: map[string]uint64{}, ErrorsByText: map[string]uint64{},
		Latency: newHist(), Service: newHist(), Targets: tgts,
	}
	lateness := newHist()
	var before Usage
	if cfg.Server != nil {
		before = cfg.Server.Usage()
	}
	tstats := lean.Stats()
	cpu0 := processCPU()
	tot0, idle0, statOK := cpuTimes()
	p := newPacer(cfg.Load, cfg.MaxRequests)
	atk := vegeta.NewAttacker(opts()...)
	stop := watch(cfg.Server, atk)
	start := time.Now()
	res.Began = start

	bucket := timelineBucket(cfg.Duration)
	type tbin struct {
		n uint64
		h *hdrhistogram.Histogram
	}
	var bins []tbin
	errIndex := map[string]int32{}
	var done atomic.Uint64
	var lastProgress time.Time
	var firstSend, lastSend, lastEnd time.Time
	var codes [1000]uint64 // by status code; 0: no response

	for r := range atk.Attack(roundRobin(tgts), p, cfg.Duration, "") {
		res.Requests++
		done.Add(1)
		if firstSend.IsZero() || r.Timestamp.Before(firstSend) {
			firstSend = r.Timestamp
		}
		if r.Timestamp.After(lastSend) {
			lastSend = r.Timestamp
		}
		end := r.Timestamp.Add(r.Latency)
		if end.After(lastEnd) {
			lastEnd = end
		}
		record(res.Service, r.Latency)
		lat := r.Latency
		if cfg.Load.Mode == Open {
			if due, ok := p.intended(r.Seq); ok {
				lat = end.Sub(due)
				record(lateness, r.Timestamp.Sub(due))
			}
		}
		record(res.Latency, lat)
		ok := r.Code >= 200 && r.Code < 300
		if ok {
			res.Successes++
		} else {
			res.Errors++
		}
		codes[min(int(r.Code), len(codes)-1)]++
		ei := int32(-1)
		if r.Code == 0 && r.Error != "" {
			txt := r.Error
			if len(res.ErrorsByText) >= 20 && res.ErrorsByText[txt] == 0 {
				txt = "other errors"
			}
			res.ErrorsByText[txt]++
			if cfg.KeepRecords {
				i, seen := errIndex[txt]
				if !seen {
					i = int32(len(res.errStrings))
					res.errStrings = append(res.errStrings, txt)
					errIndex[txt] = i
				}
				ei = i
			}
		}
		bi := int(end.Sub(start) / bucket)
		if bi >= 0 && bi < 10000 {
			for len(bins) <= bi {
				bins = append(bins, tbin{h: hdrhistogram.New(histMinUS, histMaxUS, 2)})
			}
			bins[bi].n++
			record(bins[bi].h, lat)
		}
		if cfg.KeepRecords && len(res.Records) >= MaxRecords {
			res.RecordsDropped++
		} else if cfg.KeepRecords {
			res.Records = append(res.Records, Record{
				Seq: r.Seq, Code: r.Code, Target: targetIndex(tgts, r),
				Timestamp: int64(r.Timestamp.Sub(start)), Latency: int64(r.Latency), Err: ei,
			})
		}
		if cfg.Progress != nil && res.Requests%256 == 0 {
			if now := time.Now(); now.Sub(lastProgress) > 100*time.Millisecond {
				lastProgress = now
				cfg.Progress(res.Requests)
			}
		}
	}
	stop()
	res.ClientCPU = processCPU() - cpu0
	res.MachineIdle = -1
	if tot1, idle1, ok := cpuTimes(); ok && statOK && tot1 > tot0 {
		res.MachineIdle = float64(idle1-idle0) / float64(tot1-tot0)
	}
	for c, n := range codes {
		if n == 0 {
			continue
		}
		k := "error"
		if c > 0 {
			k = strconv.Itoa(c)
		}
		res.Status[k] += n
	}
	wall := time.Since(start).Seconds()
	if cfg.Progress != nil {
		cfg.Progress(res.Requests)
	}
	ts := lean.Stats()
	res.Transport = TransportStats{ts.Dials - tstats.Dials, ts.Reuses - tstats.Reuses, ts.BytesIn - tstats.BytesIn, ts.BytesOut - tstats.BytesOut}
	if res.Requests > 0 {
		res.Seconds = lastEnd.Sub(firstSend).Seconds()
		res.RPS = float64(res.Successes) / res.Seconds
		res.SendRate = float64(res.Requests) / res.Seconds
	}
	if cfg.Load.Mode == Open {
		res.LatenessP99 = msAt(lateness, 99)
		// Achieved offered load: sends over the sending window, from the
		// attack's start to the last send (request n is due at n/rate).
		if b := p.began.Load(); b != 0 && lastSend.After(time.Unix(0, b)) {
			res.SendRate = float64(res.Requests) / lastSend.Sub(time.Unix(0, b)).Seconds()
		}
	}
	for i, b := range bins {
		res.Timeline = append(res.Timeline, reports.TimePoint{
			T: float64(i+1) * bucket.Seconds(), RPS: float64(b.n) / bucket.Seconds(),
			P50: msAt(b.h, 50), P99: msAt(b.h, 99),
		})
	}
	if cfg.Server != nil {
		after := cfg.Server.Usage()
		res.Server = Usage{CPUSeconds: after.CPUSeconds - before.CPUSeconds, PeakRSSMB: after.PeakRSSMB, PeakPSSMB: after.PeakPSSMB, Procs: after.Procs}
		if crashed() {
			f := failed("during the run")
			res.Failed = f.Failed
		}
	}
	res.ClientCPUs = float64(clientCPUs())
	res.judgeClient(cfg, wall)
	return res, nil
}

// judgeClient sets ClientBound when the numbers describe the client rather
// than the server: it used >= 80% of the CPU it had, or (open model) it sent
// fewer requests than asked.
func (r *RunResult) judgeClient(cfg RunConfig, wall float64) {
	if wall <= 0 {
		return
	}
	var why []string
	budget := math.Min(r.ClientCPUs, float64(runtime.GOMAXPROCS(0)))
	if !cfg.PinnedApart && cfg.Server != nil {
		budget = math.Max(budget-r.Server.CPUSeconds/wall, 0.5)
	}
	used := r.ClientCPU / wall
	if used >= 0.8*budget {
		why = append(why, fmt.Sprintf("client used %.2f of the %.2f CPUs left to it", used, budget))
	}
	// Little's law in the closed model: c workers each busy for the mean
	// latency per request give X·R̄ = c. Far less means the workers spent
	// their time waiting on the client's own pacer or consumer.
	if cfg.Load.Mode == Closed && r.Requests > 100 && r.Seconds > 0 {
		busy := float64(r.Requests) / r.Seconds * r.Service.Mean() / 1e6 / float64(cfg.Load.Concurrency)
		if busy < 0.75 {
			why = append(why, fmt.Sprintf("workers waited on a request only %.0f%% of the time (Little's law)", busy*100))
		}
	}
	if r.MachineIdle >= 0 && r.MachineIdle < 0.05 && used >= 0.5 {
		why = append(why, fmt.Sprintf("machine had %.0f%% idle CPU while the client used %.2f CPUs", r.MachineIdle*100, used))
	}
	if cfg.Load.Mode == Open && r.SendRate < 0.97*cfg.Load.Rate {
		why = append(why, fmt.Sprintf("sent %.0f req/s of the %.0f asked", r.SendRate, cfg.Load.Rate))
	}
	if len(why) > 0 {
		r.ClientBound = true
		r.ClientWhy = strings.Join(why, "; ")
	}
}

// cpuTimes reads the machine's total and idle (idle+iowait) jiffies.
func cpuTimes() (total, idle uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i < 8 { // user..steal; guest time is already in user
			total += n
		}
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return total, idle, true
}

func (l Load) validate() error {
	switch l.Mode {
	case Closed:
		if l.Concurrency < 1 {
			return errors.New("closed model needs concurrency >= 1")
		}
	case Open:
		if l.Rate <= 0 {
			return errors.New("open model needs a rate > 0")
		}
		if l.Concurrency < 1 {
			return errors.New("open model needs a bound on requests in flight >= 1")
		}
	default:
		return fmt.Errorf("unknown load mode %q", l.Mode)
	}
	if l.Concurrency > 100000 {
		return errors.New("concurrency above 100000")
	}
	return nil
}

func targetIndex(tgts []vegeta.Target, r *vegeta.Result) int32 {
	if len(tgts) == 1 {
		return 0
	}
	for i := range tgts {
		if tgts[i].URL == r.URL && tgts[i].Method == r.Method {
			return int32(i)
		}
	}
	return 0
}

// timelineBucket picks about 20 buckets per run, 100 ms to 5 s wide.
func timelineBucket(d time.Duration) time.Duration {
	b := d / 20
	b = max(b, 100*time.Millisecond)
	b = min(b, 5*time.Second)
	return b.Round(100 * time.Millisecond)
}

// watch stops the attack when the server exits.
func watch(s Server, atk *vegeta.Attacker) (stop func()) {
	if s == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-s.Exited():
			atk.Stop()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// processCPU is this process's user+system CPU time in seconds
// (getrusage RUSAGE_SELF: children such as started servers not included).
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// pacer drives both models and bounds the number of requests. In the open
// model it knows when each request was due, for the coordinated-omission
// correction: vegeta sends tick n (0-based) at began + (n+1)/rate, and a
// worker stamps it with Seq n when it picks it up.
type pacer struct {
	rate  float64 // 0: as fast as workers allow (closed model)
	max   uint64
	began atomic.Int64 // unix ns of the attack's start, set at the first Pace
}

func newPacer(l Load, maxReq uint64) *pacer {
	p := &pacer{max: maxReq}
	if l.Mode == Open {
		p.rate = l.Rate
	}
	return p
}

func (p *pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if hits == 0 && p.began.Load() == 0 {
		p.began.Store(time.Now().Add(-elapsed).UnixNano())
	}
	if hits >= p.max {
		return 0, true
	}
	if p.rate == 0 {
		return 0, false
	}
	due := time.Duration(float64(hits+1) / p.rate * 1e9)
	return due - elapsed, false
}

func (p *pacer) Rate(time.Duration) float64 {
	if p.rate == 0 {
		return math.Inf(1)
	}
	return p.rate
}

// intended is when request seq was due.
func (p *pacer) intended(seq uint64) (time.Time, bool) {
	b := p.began.Load()
	if p.rate == 0 || b == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, b).Add(time.Duration(float64(seq+1) / p.rate * 1e9)), true
}

// WriteResults writes the run's per-request results in vegeta's gob format
// (readable by `vegeta report`, `vegeta plot`), named attack.
func (r *RunResult) WriteResults(w io.Writer, attack string) error {
	began := r.Began
	enc := vegeta.NewEncoder(w)
	recs := append([]Record(nil), r.Records...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	for _, rec := range recs {
		t := r.Targets[rec.Target]
		res := vegeta.Result{
			Attack: attack, Seq: rec.Seq, Code: rec.Code,
			Timestamp: began.Add(time.Duration(rec.Timestamp)), Latency: time.Duration(rec.Latency),
			BytesOut: uint64(len(t.Body)), Method: t.Method, URL: t.URL,
		}
		if rec.Err >= 0 {
			res.Error = r.errStrings[rec.Err]
		} else if rec.Code < 200 || rec.Code >= 400 {
			res.Error = strconv.Itoa(int(rec.Code)) + " " + http.StatusText(int(rec.Code))
		}
		if err := enc.Encode(&res); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	return nil
}
