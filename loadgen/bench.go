package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/textutil"
	"github.com/wsgikit/wsgikit/reports"
)

// Bench runs the plan: rounds interleave the servers in rotated order, each
// round starts each server afresh, and every run is reduced to one value per
// metric before any statistics.
func Bench(ctx context.Context, p Plan) (*reports.Bench, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := &reports.Bench{Schema: reports.BenchSchema, Generated: time.Now().UTC(), Machine: harness.Machine(),
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
	r := &runner{Plan: &p, out: out, versions: map[string]string{}, crossDone: map[string]bool{}}
	for _, s := range p.Servers {
		out.Servers = append(out.Servers, reports.BenchServ{Name: s})
	}
	// versions are known once each server has started.
	defer func() {
		for i, s := range p.Servers {
			out.Servers[i].Version = r.versions[s]
		}
	}()
	if err := r.sameWork(ctx); err != nil {
		out.Runs, out.Summary, out.Comparisons = []reports.BenchRun{}, []reports.BenchSum{}, []reports.Comparison{}
		p.Progress.Close()
		return out, err
	}
	p.Progress.Plan(p.Rounds * len(p.Servers) * len(p.Scenarios) * max(len(p.points()), 1))
	for round := 1; round <= p.Rounds; round++ {
		for i := range p.Servers {
			server := p.Servers[(i+round-1)%len(p.Servers)]
			for _, group := range groupByApp(p.Scenarios) {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				r.serverGroup(ctx, server, group, round)
			}
		}
	}
	out.Summary, out.Comparisons = SummarizeRuns(out.Runs, p.Servers)
	p.Progress.Close()
	return out, nil
}

// groupByApp groups the scenarios that run the same app (resolved by
// Validate), in the order of first appearance: each group runs on one
// instance.
func groupByApp(scs []*Scenario) [][]*Scenario {
	var order []harness.App
	groups := map[harness.App][]*Scenario{}
	for _, s := range scs {
		if _, ok := groups[s.app]; !ok {
			order = append(order, s.app)
		}
		groups[s.app] = append(groups[s.app], s)
	}
	var out [][]*Scenario
	for _, a := range order {
		out = append(out, groups[a])
	}
	return out
}

// runner is one Bench under way: the plan, the output it fills, and what
// it learns on the way.
type runner struct {
	*Plan
	out       *reports.Bench
	versions  map[string]string // server → version, from its last start
	crossDone map[string]bool   // server|scenario|c already cross-checked with wrk
}

// serverGroup runs every scenario of one app group on one fresh instance of
// server. A crash fails the run it happened in; the instance is restarted
// for the next one.
func (r *runner) serverGroup(ctx context.Context, server string, scs []*Scenario, round int) {
	var srv harness.Server
	defer func() { r.stop(server, srv) }()
	for _, sc := range scs {
		for _, load := range r.points() {
			row := reports.BenchRun{Server: server, Scenario: sc.Name, Mode: r.Mode,
				Concurrency: load.Concurrency, Rate: load.Rate, Round: round, Transport: r.Transport}
			label := fmt.Sprintf("round %d/%d  %-18s %-8s %s", round, r.Rounds, server, sc.Name, load)
			if r.Mode == ModeCapacity {
				label = fmt.Sprintf("round %d/%d  %-18s %-8s capacity %s", round, r.Rounds, server, sc.Name, r.SLO)
			}
			if srv == nil || exited(srv) {
				r.stop(server, srv)
				var err error
				if srv, err = r.start(ctx, server, sc.app); err != nil {
					row.Failed = fmt.Sprintf("start %s: %v", server, err)
					r.Progress.Failed(label, row.Failed)
					r.out.Runs = append(r.out.Runs, row)
					continue
				}
			}
			row.ServerVer = r.versions[server]
			if err := r.awaitSlot(ctx, srv); err != nil {
				return
			}
			row = r.measure(ctx, srv, sc, load, row, label)
			r.out.Runs = append(r.out.Runs, row)
			if r.CrossCheck == "wrk" && row.Failed == "" && load.Mode == Closed {
				r.crossCheck(server, srv, sc, load.Concurrency, row)
			}
		}
	}
}

// start starts server running app, on loopback and pinned as the plan
// says; an instance that fails those checks is stopped again.
func (r *runner) start(ctx context.Context, server string, app harness.App) (harness.Server, error) {
	srv, ver, err := r.Start(ctx, server, app)
	if err != nil {
		return nil, err
	}
	if ver != "" {
		r.versions[server] = ver
	}
	err = CheckLoopback(srv.URL())
	if r.AllowRemote {
		err = nil
	}
	if err == nil && r.Pin != nil && len(r.Pin.Server) > 0 {
		err = PinProcesses(srv.PIDs(), r.Pin.Server)
	}
	if err != nil {
		r.stop(server, srv)
		return nil, err
	}
	return srv, nil
}

// stop stops srv (nil: nothing to do); a failure becomes a note.
func (r *runner) stop(server string, srv harness.Server) {
	if srv == nil {
		return
	}
	if err := srv.Stop(); err != nil {
		r.out.Notes = append(r.out.Notes, fmt.Sprintf("stop %s: %v", server, err))
	}
}

// clientTLS is the client configuration of a server that serves TLS (a
// harness instance started with it), else nil.
func clientTLS(srv harness.Server) *tls.Config {
	if ts, ok := srv.(interface{ ClientTLS() *tls.Config }); ok {
		return ts.ClientTLS()
	}
	return nil
}

// crossCheck runs wrk once per (server, scenario, concurrency) of a bench.
func (r *runner) crossCheck(server string, srv harness.Server, sc *Scenario, conc int, row reports.BenchRun) {
	key := fmt.Sprintf("%s|%s|%d", server, sc.Name, conc)
	if r.crossDone[key] {
		return
	}
	r.crossDone[key] = true
	cc := r.crossCheckWrk(srv, sc, conc, row)
	cc.Server, cc.Scenario, cc.Concurrency = server, sc.Name, conc
	r.out.CrossChecks = append(r.out.CrossChecks, cc)
}

// measure runs one load point (or one capacity search) and fills the row.
func (r *runner) measure(ctx context.Context, srv harness.Server, sc *Scenario, load Load, row reports.BenchRun, label string) reports.BenchRun {
	cfg := RunConfig{BaseURL: srv.URL(), Scenario: sc, Load: load, Warmup: r.Warmup, Duration: r.Duration,
		MaxRequests: r.MaxRequests, Timeout: r.Timeout, Stock: r.Transport == TransportStock, Server: srv,
		Attacker:    r.Transport == TransportVegeta,
		PinnedApart: r.Pin.Apart(), KeepRecords: r.OutDir != "", Intervals: r.fleet != nil, NewConn: r.NewConn}
	cfg.TLS = clientTLS(srv)
	if r.Transport == TransportWrk {
		cfg.Wrk = r.WrkPath
	}
	var res *RunResult
	var err error
	if r.Mode == ModeCapacity {
		res, row.Capacity, err = r.capacity(ctx, cfg, label)
	} else {
		bar := r.Progress.Run(label, r.Warmup+r.Duration)
		cfg.Progress = bar.Update
		res, err = Run(cfg)
		bar.Done(resultLine(res, err))
	}
	if err != nil {
		row.Failed = err.Error()
		return row
	}
	fillRow(&row, res)
	if r.Mode == ModeCapacity && row.Capacity != nil {
		row.Rate = row.Capacity.Rate
	}
	if r.OutDir != "" && len(res.Records) > 0 {
		r.writeResults(&row, res)
	}
	r.agentRun(&row, res)
	return row
}

// writeResults writes the run's vegeta result file under OutDir/results
// and names it in the row; a failure becomes a note.
func (r *runner) writeResults(row *reports.BenchRun, res *RunResult) {
	name := runFileName(row) + ".bin"
	path := filepath.Join(r.OutDir, "results", name)
	if res.RecordsDropped > 0 {
		r.out.Notes = append(r.out.Notes, fmt.Sprintf("%s: result file holds the first %d requests of %d", name, len(res.Records), res.Requests))
	}
	if err := writeResultsFile(path, res, strings.TrimSuffix(name, ".bin")); err != nil {
		r.out.Notes = append(r.out.Notes, err.Error())
	} else {
		row.ResultsFile = filepath.Join("results", name)
	}
}

// runFileName names a run's result files.
func runFileName(row *reports.BenchRun) string {
	return fmt.Sprintf("%s_%s_%s_c%d_r%d", safeName(row.Server), safeName(row.Scenario), row.Mode, row.Concurrency, row.Round)
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
func (p *Plan) capacity(ctx context.Context, cfg RunConfig, label string) (*RunResult, *reports.CapacitySearch, error) {
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
	co := &reports.CapacitySearch{SLO: p.SLO.String(), Rate: capRes.Rate, Lo: capRes.Lo, Hi: capRes.Hi, Probes: capRes.Probes}
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
func fillRow(row *reports.BenchRun, r *RunResult) {
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
	row.Engine = r.Engine
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
		if r.Requests > 0 {
			row.CPUPerReq = r.Server.CPUSeconds * 1e6 / float64(r.Requests)
		}
	}
}
