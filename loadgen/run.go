package loadgen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/reports"
)

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
	// Attacker sends through vegeta's Attacker even where the event loop
	// would run (closed model, keep-alive, plain HTTP to one address).
	Attacker bool
	// TLS is the client configuration of an https:// BaseURL.
	TLS *tls.Config
	// NewConn opens a new connection for every request (a TLS handshake
	// each over https, resumed when the server allows).
	NewConn bool
	// Wrk, when set, is the path of wrk, which then measures the run
	// instead of vegeta (closed model, one GET request).
	Wrk string
	// Server, when set, is watched: its cost is measured and a crash stops
	// the run and marks it failed.
	Server harness.Server
	// PinnedApart says the client and server run on disjoint CPUs; otherwise
	// the client's CPU budget is what the server leaves of ours.
	PinnedApart bool
	// KeepRecords keeps compact per-request records for result files.
	KeepRecords bool
	// Intervals keeps the timeline's histograms at full precision in
	// RunResult.Intervals (an agent writes them as an HDR histogram log).
	Intervals bool
	// Progress, when set, is called about every 100 ms with the number of
	// responses so far.
	Progress func(done uint64)
}

// What sent a run's requests (RunResult.Engine).
const (
	EngineLoop   = "loop"   // the event loop (evloop.go)
	EngineVegeta = "vegeta" // vegeta's Attacker
	EngineWrk    = "wrk"
)

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
	ClientCPU        float64       // seconds of this process
	ClientCPUs       float64       // CPUs the client could use
	MachineIdle      float64       // idle fraction of all CPUs during the run (-1: unknown)
	Server           harness.Usage // cost during the measurement (CPU delta; peaks since start)
	ClientBound      bool
	ClientWhy        string
	Failed           string
	Engine           string // what sent the requests: EngineLoop, EngineVegeta or EngineWrk
	Transport        TransportStats
	Records          []Record
	RecordsDropped   uint64 // requests past MaxRecords, not in the result file
	Began            time.Time
	Targets          []vegeta.Target
	errStrings       []string

	// Intervals are the latencies by timeline bucket (by answer time, from
	// Began, IntervalWidth each); kept only with RunConfig.Intervals.
	Intervals     []*hdrhistogram.Histogram
	IntervalWidth time.Duration
}

// Run performs the warm-up and one measurement on a new vegeta Attacker each
// (an Attacker is single use), with MaxWorkers always bounded; with Wrk set,
// wrk performs both instead.
func Run(cfg RunConfig) (*RunResult, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if exited(cfg.Server) {
		return cfg.serverExited("before the run"), nil
	}
	if cfg.Wrk != "" {
		return runWrk(cfg)
	}
	tgts := cfg.Scenario.targets(cfg.BaseURL)
	ld, err := newLoopDriver(cfg, tgts)
	if err != nil {
		return nil, err
	}
	if ld != nil {
		defer ld.close()
		if cfg.Warmup > 0 {
			ld.warmUp()
			if exited(cfg.Server) {
				return cfg.serverExited("during warm-up"), nil
			}
		}
		return ld.measure(), nil
	}
	a := &attack{cfg: cfg, tgts: tgts,
		lean: &Transport{Timeout: cfg.Timeout, MaxConnsPerHost: cfg.Load.Concurrency, TLS: cfg.TLS, DisableKeepAlives: cfg.NewConn}}
	defer a.lean.CloseIdleConnections()
	if cfg.Warmup > 0 {
		a.warmUp()
		if exited(cfg.Server) {
			return cfg.serverExited("during warm-up"), nil
		}
	}
	return a.measure(), nil
}

// check validates the load and fills the defaults.
func (cfg *RunConfig) check() error {
	if err := cfg.Load.validate(); err != nil {
		return err
	}
	if cfg.Duration <= 0 {
		return errors.New("run: duration must be positive")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = DefaultMaxRequests
	}
	return nil
}

// exited says whether the server (if any) has exited.
func exited(s harness.Server) bool {
	if s == nil {
		return false
	}
	select {
	case <-s.Exited():
		return true
	default:
		return false
	}
}

// serverExited is the result of a run whose server exited when, with the
// end of its log.
func (cfg *RunConfig) serverExited(when string) *RunResult {
	msg := "server exited " + when
	if tail := cfg.Server.LogTail(20); tail != "" {
		msg += "; log tail:\n" + tail
	}
	return &RunResult{Load: cfg.Load, Failed: msg}
}

// attack is one run's vegeta side: the targets, and the lean transport
// that warm-up and measurement share, so the measurement starts on warm
// connections.
type attack struct {
	cfg  RunConfig
	tgts []vegeta.Target
	lean *Transport
}

func (a *attack) options() []func(*vegeta.Attacker) {
	cfg := a.cfg
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
			vegeta.Timeout(cfg.Timeout), vegeta.KeepAlive(!cfg.NewConn), vegeta.Proxy(nil))
		if cfg.TLS != nil {
			o = append(o, vegeta.TLSConfig(cfg.TLS))
		}
	} else {
		// Timeout zero here: the lean transport enforces it with a
		// connection deadline, without a timer goroutine per request.
		o = append(o, vegeta.Client(&http.Client{Transport: a.lean}))
	}
	return append(o, vegeta.Redirects(vegeta.NoFollow))
}

// warmUp runs the same load for the warm-up time, bounded to its share of
// MaxRequests, and discards the results.
func (a *attack) warmUp() {
	cfg := a.cfg
	p := newPacer(cfg.Load, uint64(math.Ceil(float64(cfg.MaxRequests)*cfg.Warmup.Seconds()/cfg.Duration.Seconds())))
	atk := vegeta.NewAttacker(a.options()...)
	stop := watch(cfg.Server, atk)
	for range atk.Attack(roundRobin(a.tgts), p, cfg.Warmup, "") {
	}
	stop()
}

// measure runs the measured attack and reduces it.
func (a *attack) measure() *RunResult {
	cfg := a.cfg
	tstats := a.lean.Stats()
	m := startMeter(cfg.Server)
	p := newPacer(cfg.Load, cfg.MaxRequests)
	atk := vegeta.NewAttacker(a.options()...)
	stop := watch(cfg.Server, atk)
	rec := newRecorder(cfg, a.tgts, p)
	if cfg.Progress != nil {
		cfg.Progress(0) // the measured part starts
	}
	for r := range atk.Attack(roundRobin(a.tgts), p, cfg.Duration, "") {
		rec.add(r)
	}
	stop()
	res := rec.finish()
	res.Engine = EngineVegeta
	ts := a.lean.Stats()
	res.Transport = ts.Sub(tstats)
	m.finish(cfg, res, 0)
	return res
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

// watch stops the attack when the server exits.
func watch(s harness.Server, atk *vegeta.Attacker) (stop func()) {
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

// ReadResults reads a results file WriteResults wrote (vegeta's gob
// format), in the file's order: the reader beside the writer, for whoever
// checks or post-processes a run's records.
func ReadResults(r io.Reader) ([]vegeta.Result, error) {
	dec := vegeta.NewDecoder(r)
	var out []vegeta.Result
	for {
		var res vegeta.Result
		err := dec.Decode(&res)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read results (record %d): %w", len(out)+1, err)
		}
		out = append(out, res)
	}
}

// ReadResultsFile reads the results file at path (see ReadResults).
func ReadResultsFile(path string) ([]vegeta.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, err := ReadResults(f)
	if err != nil {
		return rs, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
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
