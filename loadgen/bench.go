package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/textutil"
	"github.com/wsgikit/wsgikit/reports"
)

// Instance is a started server: what Run watches, plus how to stop it.
type Instance interface {
	Server
	Stop() error
}

// StartFunc starts the named server profile running app (a builtin app name
// or "file.py:callable"); the command wires it to internal/harness.
type StartFunc func(ctx context.Context, server, app string) (inst Instance, version string, err error)

// Modes of a bench.
const (
	ModeClosed   = "closed"
	ModeOpen     = "open"
	ModeSweep    = "sweep"
	ModeCapacity = "capacity"
)

// Plan is everything one `wsgikit bench` does.
type Plan struct {
	Servers   []string
	Scenarios []*Scenario
	Mode      string
	// Concurrency: closed, one value; sweep, the levels; open and capacity,
	// the bound on requests in flight (one value).
	Concurrency []int
	Rate        float64 // open model
	SLO         SLO     // capacity
	CapStart    float64 // capacity: first rate (0: from a closed probe)
	CapProbes   int     // capacity: most probes per search (0: 16)
	Rounds      int
	Duration    time.Duration
	Warmup      time.Duration
	Timeout     time.Duration
	MaxRequests uint64 // per run
	Stock       bool   // vegeta's net/http transport instead of the lean one
	Pin         *Pinning
	OutDir      string // result files; "" keeps none
	AllowRemote bool
	CrossCheck  string // "wrk" or ""
	WrkPath     string // default /usr/bin/wrk
	Start       StartFunc
	Progress    Progress
	Log         io.Writer // plain progress lines and notes (default io.Discard)
	Command     string    // recorded in the output
}

// RunOut is one run as written to bench.json: the contract's fields, plus
// more that the lead may fold into reports.BenchRun.
type RunOut struct {
	reports.BenchRun
	Transport    string            `json:"transport"`
	SendRate     float64           `json:"send_rate,omitempty"`
	LatenessP99  float64           `json:"lateness_p99_ms,omitempty"`
	ClientWhy    string            `json:"client_bound_reason,omitempty"`
	ReqPerCPU    float64           `json:"req_per_cpu_s,omitempty"`
	ErrorTexts   map[string]uint64 `json:"error_texts,omitempty"`
	ConnsOpened  uint64            `json:"connections_opened,omitempty"`
	BytesIn      uint64            `json:"bytes_in,omitempty"`
	BytesOut     uint64            `json:"bytes_out,omitempty"`
	ResultsFile  string            `json:"results_file,omitempty"`
	Capacity     *CapacityOut      `json:"capacity,omitempty"`
	ServerVer    string            `json:"server_version,omitempty"`
	ClientCPUs   float64           `json:"client_cpus,omitempty"`
	MachineIdle  *float64          `json:"machine_idle_pct,omitempty"`
	ServerProcs  int               `json:"server_procs,omitempty"`
	WarmupSecond float64           `json:"warmup_s,omitempty"`
}

// CapacityOut is one capacity search as written to bench.json.
type CapacityOut struct {
	SLO    string  `json:"slo"`
	Rate   float64 `json:"rate"`
	Lo     float64 `json:"bracket_lo"`
	Hi     float64 `json:"bracket_hi"` // 0 when the capacity is above the largest rate tried
	Probes []Probe `json:"probes"`
}

// SumOut is one summary row: the contract's fields plus CIs of the others.
type SumOut struct {
	reports.BenchSum
	ReqPerCPUCI [2]float64 `json:"req_per_cpu_s_ci,omitempty"`
	Errors      uint64     `json:"errors"`
	Failed      int        `json:"failed_runs,omitempty"`
	CIFinite    bool       `json:"ci_finite"` // false: too few rounds, the CI is the sample range
	// P99Uncorrected is the open model's median p99 from the actual send
	// time (service time); P99Median is from the intended send time.
	P99Uncorrected float64 `json:"p99_uncorrected_ms_median,omitempty"`
}

// CmpOut is one comparison with its U statistic.
type CmpOut struct {
	reports.Comparison
	Mode        string  `json:"mode,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	U           float64 `json:"u"`
	N           [2]int  `json:"n"`
	MedianA     float64 `json:"median_a"`
	MedianB     float64 `json:"median_b"`
	Delta       string  `json:"delta"` // benchstat style: "~" or "+12.34%"
}

// CrossCheck is a wrk run next to ours.
type CrossCheck struct {
	Server      string  `json:"server"`
	Scenario    string  `json:"scenario"`
	Concurrency int     `json:"concurrency"`
	VegetaRPS   float64 `json:"vegeta_rps"`
	WrkRPS      float64 `json:"wrk_rps"`
	Error       string  `json:"error,omitempty"`
}

// Settings records how the numbers were made.
type Settings struct {
	Mode        string   `json:"mode"`
	Rounds      int      `json:"rounds"`
	DurationS   float64  `json:"duration_s"`
	WarmupS     float64  `json:"warmup_s"`
	Concurrency []int    `json:"concurrency,omitempty"`
	Rate        float64  `json:"rate,omitempty"`
	SLO         string   `json:"slo,omitempty"`
	Transport   string   `json:"transport"`
	Pin         string   `json:"pin,omitempty"`
	Command     string   `json:"command,omitempty"`
	Servers     []string `json:"servers"`
	Scenarios   []string `json:"scenarios"`
}

// Output is bench.json: a superset of reports.Bench (same field names, more
// fields), so the renderer reads it as reports.Bench.
type Output struct {
	Schema      string               `json:"schema"`
	Generated   time.Time            `json:"generated,omitempty"`
	Machine     *reports.Machine     `json:"machine,omitempty"`
	Servers     []reports.BenchServ  `json:"servers,omitempty"`
	Runs        []RunOut             `json:"runs"`
	Summary     []SumOut             `json:"summary"`
	Comparisons []CmpOut             `json:"comparisons"`
	Regressions []reports.Regression `json:"regressions,omitempty"`
	Settings    *Settings            `json:"settings,omitempty"`
	CrossChecks []CrossCheck         `json:"cross_checks,omitempty"`
	Notes       []string             `json:"notes,omitempty"`
	// Skipped are servers named but not installed, with why.
	Skipped []reports.SkippedServer `json:"skipped,omitempty"`
}

// Bench runs the plan: rounds interleave the servers in rotated order, each
// round starts each server afresh, and every run is reduced to one value per
// metric before any statistics.
func Bench(ctx context.Context, p Plan) (*Output, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if p.Log == nil {
		p.Log = io.Discard
	}
	if p.Progress == nil {
		p.Progress = NewPlainProgress(p.Log)
	}
	out := &Output{Schema: reports.BenchSchema, Generated: time.Now().UTC(), Machine: harness.Machine(),
		Settings: p.settings()}
	if p.Pin != nil && len(p.Pin.Client) > 0 {
		if err := PinSelf(p.Pin.Client); err != nil {
			return nil, err
		}
	}
	if p.OutDir != "" {
		if err := os.MkdirAll(filepath.Join(p.OutDir, "results"), 0o755); err != nil {
			return nil, fmt.Errorf("output dir: %w", err)
		}
	}
	versions := map[string]string{}
	crossDone := map[string]bool{}
	total := p.Rounds * len(p.Servers) * len(p.Scenarios) * max(len(p.points()), 1)
	p.Progress.Plan(total)
	for round := 1; round <= p.Rounds; round++ {
		for i := range p.Servers {
			server := p.Servers[(i+round-1)%len(p.Servers)]
			for _, group := range groupByApp(p.Scenarios) {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				runs := p.benchServer(ctx, server, group, round, versions, out, crossDone)
				out.Runs = append(out.Runs, runs...)
			}
		}
	}
	for _, s := range p.Servers {
		out.Servers = append(out.Servers, reports.BenchServ{Name: s, Version: versions[s]})
	}
	out.Summary, out.Comparisons = SummarizeRuns(out.Runs, p.Servers)
	p.Progress.Close()
	return out, nil
}

func (p *Plan) check() error {
	if len(p.Servers) == 0 || len(p.Scenarios) == 0 {
		return errors.New("bench needs at least one server and one scenario")
	}
	if p.Start == nil {
		return errors.New("bench: no way to start servers")
	}
	if p.Rounds < 1 {
		p.Rounds = 1
	}
	if p.Duration <= 0 {
		return errors.New("bench: duration must be positive")
	}
	if p.Duration > time.Hour || p.Warmup > time.Hour {
		return errors.New("bench: duration and warm-up are bounded to 1h each")
	}
	if len(p.Concurrency) == 0 {
		p.Concurrency = []int{32}
	}
	for _, c := range p.Concurrency {
		if c < 1 || c > 10000 {
			return fmt.Errorf("bench: concurrency %d out of 1..10000", c)
		}
	}
	switch p.Mode {
	case ModeClosed, ModeSweep:
	case ModeOpen:
		if p.Rate <= 0 {
			return errors.New("open model needs --rate")
		}
	case ModeCapacity:
		if p.SLO.Max <= 0 {
			return errors.New("capacity search needs --slo, e.g. p99=20ms")
		}
	default:
		return fmt.Errorf("unknown mode %q", p.Mode)
	}
	if !p.AllowRemote {
		for _, s := range p.Scenarios {
			for _, h := range s.remoteHosts() {
				if !isLoopbackHost(h) {
					return fmt.Errorf("scenario %q targets %s, not loopback; pass --allow-remote to allow it", s.Name, h)
				}
			}
		}
	}
	if p.WrkPath == "" {
		p.WrkPath = "/usr/bin/wrk"
	}
	return nil
}

// isLoopbackHost accepts loopback IPs and "localhost" only.
func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// CheckLoopback refuses a base URL that is not on this machine.
func CheckLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	if !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("target %s is not loopback; pass --allow-remote to allow it", u.Host)
	}
	return nil
}

func (p *Plan) settings() *Settings {
	s := &Settings{Mode: p.Mode, Rounds: p.Rounds, DurationS: p.Duration.Seconds(), WarmupS: p.Warmup.Seconds(),
		Concurrency: p.Concurrency, Rate: p.Rate, Transport: "lean", Command: p.Command, Servers: p.Servers}
	if p.Stock {
		s.Transport = "stock"
	}
	if p.Mode == ModeCapacity {
		s.SLO = p.SLO.String()
	}
	if p.Pin != nil {
		s.Pin = fmt.Sprintf("server=%v client=%v", p.Pin.Server, p.Pin.Client)
	}
	for _, sc := range p.Scenarios {
		s.Scenarios = append(s.Scenarios, sc.Name)
	}
	return s
}

// points are the loads run per scenario.
func (p *Plan) points() []Load {
	switch p.Mode {
	case ModeClosed:
		return []Load{{Mode: Closed, Concurrency: p.Concurrency[0]}}
	case ModeSweep:
		var ls []Load
		for _, c := range p.Concurrency {
			ls = append(ls, Load{Mode: Closed, Concurrency: c})
		}
		return ls
	case ModeOpen:
		return []Load{{Mode: Open, Concurrency: p.Concurrency[0], Rate: p.Rate}}
	case ModeCapacity:
		return []Load{{Mode: Open, Concurrency: p.Concurrency[0]}}
	}
	return nil
}

func groupByApp(scs []*Scenario) [][]*Scenario {
	var order []string
	groups := map[string][]*Scenario{}
	for _, s := range scs {
		if _, ok := groups[s.App]; !ok {
			order = append(order, s.App)
		}
		groups[s.App] = append(groups[s.App], s)
	}
	var out [][]*Scenario
	for _, a := range order {
		out = append(out, groups[a])
	}
	return out
}

// benchServer runs every scenario of one app group on one fresh instance of
// server. A crash fails the run it happened in; the instance is restarted
// for the next one.
func (p *Plan) benchServer(ctx context.Context, server string, scs []*Scenario, round int,
	versions map[string]string, out *Output, crossDone map[string]bool) []RunOut {
	var runs []RunOut
	var inst Instance
	stop := func() {
		if inst != nil {
			if err := inst.Stop(); err != nil {
				out.Notes = append(out.Notes, fmt.Sprintf("stop %s: %v", server, err))
			}
			inst = nil
		}
	}
	defer stop()
	start := func() error {
		stop()
		i, ver, err := p.Start(ctx, server, scs[0].App)
		if err != nil {
			return err
		}
		inst = i
		if ver != "" {
			versions[server] = ver
		}
		if err := CheckLoopback(inst.URL()); err != nil && !p.AllowRemote {
			return err
		}
		if p.Pin != nil && len(p.Pin.Server) > 0 {
			if err := PinProcesses(inst.PIDs(), p.Pin.Server); err != nil {
				return err
			}
		}
		return nil
	}
	for _, sc := range scs {
		for _, load := range p.points() {
			base := RunOut{BenchRun: reports.BenchRun{Server: server, Scenario: sc.Name, Mode: p.Mode,
				Concurrency: load.Concurrency, Rate: load.Rate, Round: round}, Transport: p.settings().Transport}
			label := fmt.Sprintf("round %d/%d  %-18s %-8s %s", round, p.Rounds, server, sc.Name, load)
			if p.Mode == ModeCapacity {
				label = fmt.Sprintf("round %d/%d  %-18s %-8s capacity %s", round, p.Rounds, server, sc.Name, p.SLO)
			}
			alive := inst != nil
			if alive {
				select {
				case <-inst.Exited():
					alive = false
				default:
				}
			}
			if !alive {
				if err := start(); err != nil {
					base.Failed = fmt.Sprintf("start %s: %v", server, err)
					p.Progress.Failed(label, base.Failed)
					runs = append(runs, base)
					continue
				}
			}
			base.ServerVer = versions[server]
			r := p.measure(ctx, inst, sc, load, base, label, out)
			runs = append(runs, r)
			if p.CrossCheck == "wrk" && r.Failed == "" && load.Mode == Closed {
				key := fmt.Sprintf("%s|%s|%d", server, sc.Name, load.Concurrency)
				if !crossDone[key] {
					crossDone[key] = true
					cc := p.crossCheckWrk(ctx, inst.URL(), sc, load.Concurrency)
					cc.Server, cc.Scenario, cc.Concurrency, cc.VegetaRPS = server, sc.Name, load.Concurrency, r.RPS
					out.CrossChecks = append(out.CrossChecks, cc)
				}
			}
		}
	}
	return runs
}

// measure runs one load point (or one capacity search) and fills the row.
func (p *Plan) measure(ctx context.Context, inst Instance, sc *Scenario, load Load, row RunOut, label string, out *Output) RunOut {
	cfg := RunConfig{BaseURL: inst.URL(), Scenario: sc, Load: load, Warmup: p.Warmup, Duration: p.Duration,
		MaxRequests: p.MaxRequests, Timeout: p.Timeout, Stock: p.Stock, Server: inst,
		PinnedApart: p.Pin.Apart(), KeepRecords: p.OutDir != ""}
	var res *RunResult
	var err error
	if p.Mode == ModeCapacity {
		res, row.Capacity, err = p.capacity(ctx, cfg, label)
	} else {
		bar := p.Progress.Run(label, p.Warmup+p.Duration)
		cfg.Progress = bar.Update
		res, err = Run(cfg)
		bar.Done(resultLine(res, err))
	}
	if err != nil {
		row.Failed = err.Error()
		return row
	}
	fillRow(&row, res)
	if p.Mode == ModeCapacity && row.Capacity != nil {
		row.Rate = row.Capacity.Rate
	}
	if p.OutDir != "" && len(res.Records) > 0 {
		name := fmt.Sprintf("%s_%s_%s_c%d_r%d.bin", safeName(row.Server), safeName(row.Scenario), row.Mode, row.Concurrency, row.Round)
		path := filepath.Join(p.OutDir, "results", name)
		if res.RecordsDropped > 0 {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: result file holds the first %d requests of %d", name, len(res.Records), res.Requests))
		}
		if err := writeResultsFile(path, res, strings.TrimSuffix(name, ".bin")); err != nil {
			out.Notes = append(out.Notes, err.Error())
		} else {
			row.ResultsFile = filepath.Join("results", name)
		}
	}
	return row
}

func writeResultsFile(path string, res *RunResult, attack string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("results file: %w", err)
	}
	if err := res.WriteResults(f, attack); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "-") }

// capacity runs one search; the row describes the highest passing probe.
func (p *Plan) capacity(ctx context.Context, cfg RunConfig, label string) (*RunResult, *CapacityOut, error) {
	start := p.CapStart
	if start <= 0 {
		// A short closed-model probe tells roughly where the knee is; start
		// the bracketing at half of its throughput.
		c := cfg
		c.Load = Load{Mode: Closed, Concurrency: min(cfg.Load.Concurrency, 32)}
		c.Warmup, c.Duration, c.KeepRecords = 0, min(p.Duration, 2*time.Second), false
		bar := p.Progress.Run(label+" (closed probe)", c.Duration)
		c.Progress = bar.Update
		r, err := Run(c)
		bar.Done(resultLine(r, err))
		if err != nil {
			return nil, nil, err
		}
		if r.Failed != "" {
			return r, nil, nil
		}
		start = math.Max(r.RPS/2, 1)
	}
	// A request slower than 20× the objective fails the probe whatever
	// else happens: waiting the full timeout for it only slows the search.
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	timeout = min(timeout, max(20*p.SLO.Max, time.Second))
	probe := func(rate float64) (*RunResult, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := cfg
		c.Timeout = timeout
		c.Load = Load{Mode: Open, Concurrency: cfg.Load.Concurrency, Rate: rate}
		bar := p.Progress.Run(fmt.Sprintf("%s @%.0f/s", label, rate), c.Warmup+c.Duration)
		c.Progress = bar.Update
		r, err := Run(c)
		bar.Done(resultLine(r, err))
		if err == nil && r.Failed != "" {
			return r, errors.New(textutil.FirstLine(r.Failed, ""))
		}
		return r, err
	}
	capRes, err := SearchCapacity(CapacityConfig{SLO: p.SLO, Start: start, MaxProbes: p.CapProbes}, probe)
	if capRes == nil {
		return nil, nil, err
	}
	co := &CapacityOut{SLO: p.SLO.String(), Rate: capRes.Rate, Lo: capRes.Lo, Hi: capRes.Hi, Probes: capRes.Probes}
	if math.IsInf(co.Hi, 0) {
		co.Hi = 0
	}
	if err != nil {
		return nil, co, err
	}
	last := capRes.Last
	if last == nil {
		last = &RunResult{Load: Load{Mode: Open, Concurrency: cfg.Load.Concurrency}, Latency: newHist(), Service: newHist()}
	}
	return last, co, nil
}

func resultLine(r *RunResult, err error) string {
	switch {
	case err != nil:
		return "error: " + err.Error()
	case r.Failed != "":
		return "FAILED: " + textutil.FirstLine(r.Failed, "")
	}
	s := fmt.Sprintf("%8.0f req/s  p50 %6.2fms  p99 %7.2fms  errors %d", r.RPS, msAt(r.Latency, 50), msAt(r.Latency, 99), r.Errors)
	if r.ClientBound {
		s += "  CLIENT-BOUND"
	}
	return s
}

// fillRow copies a run's reductions into the output row.
func fillRow(row *RunOut, r *RunResult) {
	row.Requests = r.Requests
	row.Errors = r.Errors
	row.RPS = r.RPS
	row.Latency = latencyOf(r.Latency)
	if r.Load.Mode == Open {
		u := latencyOf(r.Service)
		row.Uncorrected = &u
		row.LatenessP99 = r.LatenessP99
	}
	row.ServerCPU = r.Server.CPUSeconds
	row.ServerRSS = r.Server.PeakRSSMB
	row.ServerPSS = r.Server.PeakPSSMB
	row.ServerProcs = r.Server.Procs
	row.ClientCPU = r.ClientCPU
	row.ClientCPUs = r.ClientCPUs
	if r.MachineIdle >= 0 {
		idle := r.MachineIdle * 100
		row.MachineIdle = &idle
	}
	row.ClientBound = r.ClientBound
	row.ClientWhy = r.ClientWhy
	row.Failed = r.Failed
	row.Seconds = r.Seconds
	if len(r.Status) > 0 {
		row.StatusCounts = r.Status
	}
	if len(r.ErrorsByText) > 0 {
		row.ErrorTexts = r.ErrorsByText
	}
	row.Timeline = r.Timeline
	row.Percentiles = percentileCurve(r.Latency)
	row.SendRate = r.SendRate
	row.ConnsOpened = r.Transport.Dials
	row.BytesIn, row.BytesOut = r.Transport.BytesIn, r.Transport.BytesOut
	if r.Server.CPUSeconds > 0 {
		row.ReqPerCPU = float64(r.Successes) / r.Server.CPUSeconds
	}
}

type sumKey struct {
	server, scenario, mode string
	conc                   int
}

// SummarizeRuns reduces runs to one summary row per (server, scenario, mode,
// concurrency) and compares every pair of servers on rps and p99 with the
// Mann–Whitney U test. Failed runs are left out of the statistics and
// counted.
func SummarizeRuns(runs []RunOut, servers []string) ([]SumOut, []CmpOut) {
	groups := map[sumKey][]RunOut{}
	var keys []sumKey
	for _, r := range runs {
		k := sumKey{r.Server, r.Scenario, r.Mode, r.Concurrency}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	order := map[string]int{}
	for i, s := range servers {
		order[s] = i
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.scenario != b.scenario {
			return a.scenario < b.scenario
		}
		if a.conc != b.conc {
			return a.conc < b.conc
		}
		return order[a.server] < order[b.server]
	})
	var sums []SumOut
	for _, k := range keys {
		sums = append(sums, summarizeGroup(k, groups[k]))
	}
	var cmps []CmpOut
	for _, k := range keys {
		for _, k2 := range keys {
			if k2.scenario != k.scenario || k2.mode != k.mode || k2.conc != k.conc || order[k2.server] <= order[k.server] {
				continue
			}
			a, b := groups[k], groups[k2]
			for _, m := range []string{"rps", "p99_ms"} {
				va, vb := metricValues(a, m), metricValues(b, m)
				if len(va) == 0 || len(vb) == 0 {
					continue
				}
				t := Compare(va, vb)
				ma, mb := Summarize(va).Median, Summarize(vb).Median
				c := CmpOut{Comparison: reports.Comparison{A: k.server, B: k2.server, Scenario: k.scenario, Metric: m,
					P: t.P, Significant: t.Significant}, Mode: k.mode, Concurrency: k.conc, U: t.U,
					N: [2]int{t.N1, t.N2}, MedianA: ma, MedianB: mb, Delta: t.Delta(mb, ma)}
				if mb != 0 {
					c.Ratio = ma / mb
				}
				cmps = append(cmps, c)
			}
		}
	}
	return sums, cmps
}

// metricValues: one value per successful run. "rps" is the capacity rate in
// capacity mode.
func metricValues(runs []RunOut, metric string) []float64 {
	var v []float64
	for _, r := range runs {
		if r.Failed != "" || r.Requests == 0 {
			continue
		}
		switch metric {
		case "rps":
			if r.Mode == ModeCapacity {
				v = append(v, r.Rate)
			} else {
				v = append(v, r.RPS)
			}
		case "p99_ms":
			v = append(v, r.Latency.P99)
		case "p99_uncorrected_ms":
			if r.Uncorrected != nil {
				v = append(v, r.Uncorrected.P99)
			}
		case "req_per_cpu_s":
			if r.ReqPerCPU > 0 {
				v = append(v, r.ReqPerCPU)
			}
		case "rss_mb":
			v = append(v, r.ServerRSS)
		}
	}
	return v
}

func summarizeGroup(k sumKey, runs []RunOut) SumOut {
	s := SumOut{BenchSum: reports.BenchSum{Server: k.server, Scenario: k.scenario, Mode: k.mode, Concurrency: k.conc}}
	for _, r := range runs {
		s.Errors += r.Errors
		if r.Failed != "" {
			s.Failed++
		}
		if r.ClientBound {
			s.ClientBound = true
		}
	}
	rps := metricValues(runs, "rps")
	s.Rounds = len(rps)
	if len(rps) == 0 {
		return s
	}
	sr := Summarize(rps)
	s.RPSMedian = sr.Median
	s.RPSCI, s.CIFinite = sr.CI(rps)
	p99 := metricValues(runs, "p99_ms")
	sp := Summarize(p99)
	s.P99Median = sp.Median
	s.P99CI, _ = sp.CI(p99)
	if u := metricValues(runs, "p99_uncorrected_ms"); len(u) > 0 {
		s.P99Uncorrected = Summarize(u).Median
	}
	if rc := metricValues(runs, "req_per_cpu_s"); len(rc) > 0 {
		sc := Summarize(rc)
		s.ReqPerCPU = sc.Median
		s.ReqPerCPUCI, _ = sc.CI(rc)
	}
	if rss := metricValues(runs, "rss_mb"); len(rss) > 0 {
		s.RSSMB = Summarize(rss).Median
	}
	return s
}

// SortedKeys is a helper for stable text output.
func SortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
