package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wsgikit/wsgikit/reports"
)

// DefaultMaxSkew bounds how far apart in time the agents of one merged
// run may be: their clocks, and when each run began. A quarter of a
// second leaves 99% of a 30 s run common to every agent, and allows for
// an agent woken late on a busy load host.
const DefaultMaxSkew = 250 * time.Millisecond

// Part is one agent's part of a coordinated run: its bench.json and the
// directory its files are named relative to.
type Part struct {
	Dir   string
	Bench *reports.Bench
}

// LoadPart reads an agent's part: DIR/bench.json, or the bench.json named.
func LoadPart(path string) (*Part, error) {
	file := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		file = filepath.Join(path, "bench.json")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("part %s: %w", path, err)
	}
	var out reports.Bench
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("part %s: %w", file, err)
	}
	if out.Schema != reports.BenchSchema {
		return nil, fmt.Errorf("part %s: schema %q, want %s", file, out.Schema, reports.BenchSchema)
	}
	if out.Agent == nil {
		return nil, fmt.Errorf("part %s: not an agent's part (no \"agent\"; was it run with --agent and --start-at?)", file)
	}
	if out.Settings == nil {
		return nil, fmt.Errorf("part %s: no settings", file)
	}
	return &Part{Dir: filepath.Dir(file), Bench: &out}, nil
}

// Merged is a merge of parts: the merged bench.json, and the merged HDR
// logs to write next to it (by their path relative to it).
type Merged struct {
	Bench *reports.Bench
	Logs  map[string]*HistLog
}

// WriteLogs writes the merged HDR logs under dir.
func (m *Merged) WriteLogs(dir string) error {
	for _, name := range SortedKeys(m.Logs) {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("hdr log: %w", err)
		}
		if err := m.Logs[name].WriteFile(path, "wsgikit bench merge: "+strings.TrimSuffix(filepath.Base(name), ".hlog")); err != nil {
			return err
		}
	}
	return nil
}

// runKey names one run of a bench.
type runKey struct {
	server, scenario, mode string
	conc, round            int
}

func (k runKey) String() string {
	return fmt.Sprintf("%s %s %s c=%d round %d", k.server, k.scenario, k.mode, k.conc, k.round)
}

func keyOf(r reports.BenchRun) runKey {
	return runKey{r.Server, r.Scenario, r.Mode, r.Concurrency, r.Round}
}

func agentKey(r reports.AgentRun) runKey {
	return runKey{r.Server, r.Scenario, r.Mode, r.Concurrency, r.Round}
}

// MergeParts combines the agents' parts of one coordinated run: requests
// and errors summed; throughput as the requests every agent answered
// inside the window where all of them were loading, over its length;
// percentiles from the sum of the agents' HDR histograms (exact, never
// averaged); each agent's client-bound flag. Parts that are not of one run
// (another start or load, an agent twice, runs missing) and agents whose
// clocks or starts are further apart than maxSkew are refused, with why.
func MergeParts(parts []*Part, maxSkew time.Duration, command string) (*Merged, error) {
	if len(parts) == 0 {
		return nil, errors.New("merge: no parts")
	}
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if err := oneRun(parts); err != nil {
		return nil, err
	}
	m := &mergeState{parts: parts, maxSkew: maxSkew, logs: map[string]*HistLog{}}
	if err := m.clocks(); err != nil {
		return nil, err
	}
	first := parts[0].Bench
	out := &reports.Bench{Schema: reports.BenchSchema, Generated: time.Now().UTC(), Servers: first.Servers}
	set := *first.Settings
	set.Command = command
	set.Concurrency, set.Rate = nil, set.Rate*float64(len(parts))
	for _, c := range first.Settings.Concurrency {
		set.Concurrency = append(set.Concurrency, c*len(parts))
	}
	out.Settings = &set
	out.Fleet = &reports.BenchFleet{StartAt: first.Agent.StartAt, ClockSkewMs: m.skew, ClockSkewErrMs: m.skewErr,
		MaxSkewMs: float64(maxSkew) / 1e6}
	var ids []string
	for _, p := range parts {
		a := *p.Bench.Agent
		a.Dir = p.Dir
		if p.Bench.Machine != nil {
			a.Host = p.Bench.Machine.Hostname
		}
		out.Fleet.Agents = append(out.Fleet.Agents, a)
		ids = append(ids, a.ID)
		for _, n := range p.Bench.Notes {
			out.Notes = append(out.Notes, "agent "+a.ID+": "+n)
		}
	}
	out.Notes = append([]string{fmt.Sprintf("merged from %d agents (%s), each at %s: concurrency and rate are the fleet's totals",
		len(parts), strings.Join(ids, ", "), loadOf(first.Settings))}, out.Notes...)
	for _, row := range first.Runs {
		merged, fr, err := m.run(keyOf(row))
		if err != nil {
			return nil, err
		}
		out.Runs = append(out.Runs, merged)
		out.Fleet.Runs = append(out.Fleet.Runs, fr)
	}
	out.Summary, out.Comparisons = SummarizeRuns(out.Runs, first.Settings.Servers)
	return &Merged{Bench: out, Logs: m.logs}, nil
}

func loadOf(s *reports.BenchSettings) string {
	cs := make([]string, 0, len(s.Concurrency))
	for _, c := range s.Concurrency {
		cs = append(cs, strconv.Itoa(c))
	}
	if s.Rate > 0 {
		return fmt.Sprintf("%s %g req/s, -c %s", s.Mode, s.Rate, strings.Join(cs, ","))
	}
	return fmt.Sprintf("%s -c %s", s.Mode, strings.Join(cs, ","))
}

// oneRun refuses parts that are not of one coordinated run, naming the
// first difference.
func oneRun(parts []*Part) error {
	first := parts[0]
	seen := map[string]string{}
	for _, p := range parts {
		a := p.Bench.Agent
		if dir, ok := seen[a.ID]; ok {
			return fmt.Errorf("not one run: agent %s twice (%s and %s)", a.ID, dir, p.Dir)
		}
		seen[a.ID] = p.Dir
		if p == first {
			continue
		}
		if !a.StartAt.Equal(first.Bench.Agent.StartAt) {
			return fmt.Errorf("not one run: agent %s started at %s, agent %s at %s", first.Bench.Agent.ID,
				first.Bench.Agent.StartAt.Format(time.RFC3339), a.ID, a.StartAt.Format(time.RFC3339))
		}
		if what, x, y := settingsDiffer(first.Bench.Settings, p.Bench.Settings); what != "" {
			return fmt.Errorf("not one run: agent %s ran %s %s, agent %s %s", first.Bench.Agent.ID, what, x, a.ID, y)
		}
		if err := sameRuns(first, p); err != nil {
			return err
		}
	}
	return nil
}

// settingsDiffer names the first load setting two parts differ in.
func settingsDiffer(a, b *reports.BenchSettings) (what, x, y string) {
	pairs := [][3]any{
		{"mode", a.Mode, b.Mode}, {"rounds", a.Rounds, b.Rounds}, {"duration", a.DurationS, b.DurationS},
		{"warm-up", a.WarmupS, b.WarmupS}, {"concurrency", a.Concurrency, b.Concurrency}, {"rate", a.Rate, b.Rate},
		{"transport", a.Transport, b.Transport}, {"servers", a.Servers, b.Servers}, {"scenarios", a.Scenarios, b.Scenarios},
	}
	for _, p := range pairs {
		if x, y := fmt.Sprint(p[1]), fmt.Sprint(p[2]); x != y {
			return p[0].(string), x, y
		}
	}
	return "", "", ""
}

// sameRuns refuses two parts whose runs differ.
func sameRuns(a, b *Part) error {
	keys := func(p *Part) map[runKey]bool {
		m := map[runKey]bool{}
		for _, r := range p.Bench.Runs {
			m[keyOf(r)] = true
		}
		return m
	}
	ka, kb := keys(a), keys(b)
	for _, r := range a.Bench.Runs {
		if !kb[keyOf(r)] {
			return fmt.Errorf("not one run: agent %s has no run %s, which agent %s has", b.Bench.Agent.ID, keyOf(r), a.Bench.Agent.ID)
		}
	}
	for _, r := range b.Bench.Runs {
		if !ka[keyOf(r)] {
			return fmt.Errorf("not one run: agent %s has no run %s, which agent %s has", a.Bench.Agent.ID, keyOf(r), b.Bench.Agent.ID)
		}
	}
	return nil
}

// mergeState is one merge under way.
type mergeState struct {
	parts   []*Part
	maxSkew time.Duration
	shift   []time.Duration // per part: its clock minus the target's (0 unless every offset is known)
	skew    *float64
	skewErr float64
	logs    map[string]*HistLog
}

// clocks compares the agents' clock offsets: their spread is the clock
// skew between agents, refused when it exceeds maxSkew by more than the
// offsets' own error.
func (m *mergeState) clocks() error {
	m.shift = make([]time.Duration, len(m.parts))
	lo, hi := -1, -1
	for i, p := range m.parts {
		a := p.Bench.Agent
		if a.ClockOffsetMs == nil {
			return nil // unknown for one: agents are compared by their own clocks
		}
		m.shift[i] = time.Duration(*a.ClockOffsetMs * 1e6)
		if lo < 0 || *a.ClockOffsetMs < *m.parts[lo].Bench.Agent.ClockOffsetMs {
			lo = i
		}
		if hi < 0 || *a.ClockOffsetMs > *m.parts[hi].Bench.Agent.ClockOffsetMs {
			hi = i
		}
	}
	a, b := m.parts[lo].Bench.Agent, m.parts[hi].Bench.Agent
	skew := *b.ClockOffsetMs - *a.ClockOffsetMs
	m.skew, m.skewErr = &skew, a.ClockErrMs+b.ClockErrMs
	if skew-m.skewErr > float64(m.maxSkew)/1e6 {
		return fmt.Errorf("clock skew: agent %s's clock is %.1f ms (± %.1f) ahead of agent %s's, beyond --max-skew %s; synchronise the load hosts' clocks (NTP)",
			b.ID, skew, m.skewErr, a.ID, m.maxSkew)
	}
	return nil
}

// agentSide is one agent's share of one run being merged.
type agentSide struct {
	id         string
	row        reports.BenchRun
	from, to   time.Time // its measured window, on the common clock
	log        *HistLog
	shift      time.Duration
	inWindow   float64
	successPct float64
}

// run merges one run of every agent.
func (m *mergeState) run(k runKey) (reports.BenchRun, reports.FleetRun, error) {
	fr := reports.FleetRun{Server: k.server, Scenario: k.scenario, Mode: k.mode, Concurrency: k.conc * len(m.parts), Round: k.round}
	var sides []*agentSide
	var failed []string
	for i, p := range m.parts {
		s, err := m.side(i, p, k)
		if err != nil {
			return reports.BenchRun{}, fr, err
		}
		if s.row.Failed != "" {
			failed = append(failed, fmt.Sprintf("agent %s: %s", s.id, s.row.Failed))
		}
		sides = append(sides, s)
	}
	row := reports.BenchRun{Server: k.server, Scenario: k.scenario, Mode: k.mode, Concurrency: fr.Concurrency, Round: k.round,
		Transport: sides[0].row.Transport}
	if len(failed) > 0 {
		row.Failed = strings.Join(failed, "; ")
		for _, s := range sides {
			fr.Agents = append(fr.Agents, reports.FleetAgentRun{ID: s.id, Requests: s.row.Requests, Failed: s.row.Failed})
		}
		return row, fr, nil
	}
	if err := m.window(k, sides, &fr); err != nil {
		return row, fr, err
	}
	log := m.sum(sides)
	fr.HistLog = filepath.Join("results", runFileName(&row)+".hlog")
	m.logs[fr.HistLog] = log
	total := log.Total()
	var inWindow float64
	var whys []string
	for _, s := range sides {
		r := s.row
		row.Requests += r.Requests
		row.Errors += r.Errors
		row.Rate += r.Rate
		row.SendRate += r.SendRate
		row.ClientCPU += r.ClientCPU
		row.ClientCPUs += r.ClientCPUs
		row.ConnsOpened += r.ConnsOpened
		row.BytesIn += r.BytesIn
		row.BytesOut += r.BytesOut
		row.LatenessP99 = math.Max(row.LatenessP99, r.LatenessP99)
		row.StatusCounts = addCounts(row.StatusCounts, r.StatusCounts)
		row.ErrorTexts = addCounts(row.ErrorTexts, r.ErrorTexts)
		if r.ClientBound {
			row.ClientBound = true
			whys = append(whys, "agent "+s.id+": "+r.ClientWhy)
		}
		inWindow += s.inWindow * s.successPct
		fr.Agents = append(fr.Agents, reports.FleetAgentRun{ID: s.id, Requests: r.Requests, InWindow: s.inWindow, RPS: r.RPS,
			P99: r.Latency.P99, ClientBound: r.ClientBound, ClientWhy: r.ClientWhy})
	}
	row.ClientWhy = strings.Join(whys, "; ")
	row.Seconds = fr.To.Sub(fr.From).Seconds()
	row.RPS = inWindow / row.Seconds
	row.Latency = latencyOf(total)
	row.Percentiles = percentileCurve(total)
	if log.Service != nil {
		u := latencyOf(log.Service)
		row.Uncorrected = &u
	}
	row.Timeline = timelineOf(log.Intervals)
	return row, fr, nil
}

// side finds part i's row and run k and reads its HDR log.
func (m *mergeState) side(i int, p *Part, k runKey) (*agentSide, error) {
	a := p.Bench.Agent
	s := &agentSide{id: a.ID, shift: m.shift[i]}
	for _, r := range p.Bench.Runs {
		if keyOf(r) == k {
			s.row = r
		}
	}
	if s.row.Failed != "" {
		return s, nil
	}
	var ar *reports.AgentRun
	for j := range a.Runs {
		if agentKey(a.Runs[j]) == k {
			ar = &a.Runs[j]
		}
	}
	if ar == nil || ar.HistLog == "" {
		return nil, fmt.Errorf("agent %s (%s): run %s has no HDR log; its notes may say why", a.ID, p.Dir, k)
	}
	log, err := ReadHistLog(filepath.Join(p.Dir, ar.HistLog))
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", a.ID, err)
	}
	if got := log.Total().TotalCount(); uint64(got) != s.row.Requests {
		return nil, fmt.Errorf("agent %s: run %s: its HDR log holds %d requests, its bench.json %d", a.ID, k, got, s.row.Requests)
	}
	s.log = log
	s.from, s.to = ar.Began.Add(-s.shift), ar.Ended.Add(-s.shift)
	if s.row.Requests > 0 {
		s.successPct = float64(s.row.Requests-s.row.Errors) / float64(s.row.Requests)
	}
	return s, nil
}

// window finds the span every agent was loading, refuses agents that
// began further apart than maxSkew, and counts each agent's answers in
// the window (the edge intervals prorated by their overlap).
func (m *mergeState) window(k runKey, sides []*agentSide, fr *reports.FleetRun) error {
	first, last := sides[0], sides[0]
	fr.From, fr.To = sides[0].from, sides[0].to
	endLo, endHi := sides[0].to, sides[0].to
	for _, s := range sides[1:] {
		if s.from.Before(first.from) {
			first = s
		}
		if s.from.After(last.from) {
			last = s
		}
		if s.from.After(fr.From) {
			fr.From = s.from
		}
		if s.to.Before(fr.To) {
			fr.To = s.to
		}
		endLo, endHi = minTime(endLo, s.to), maxTime(endHi, s.to)
	}
	spread := last.from.Sub(first.from)
	fr.StartSpreadMs, fr.EndSpreadMs = float64(spread)/1e6, float64(endHi.Sub(endLo))/1e6
	if spread > m.maxSkew {
		return fmt.Errorf("run %s: agent %s began %s after agent %s, beyond --max-skew %s (a late launch, or a run that overran its slot)",
			k, last.id, spread.Round(time.Millisecond), first.id, m.maxSkew)
	}
	if !fr.To.After(fr.From) {
		return fmt.Errorf("run %s: the agents' runs do not overlap", k)
	}
	for _, s := range sides {
		for _, h := range s.log.Intervals {
			from := time.UnixMilli(h.StartTimeMs()).Add(-s.shift)
			to := minTime(time.UnixMilli(h.EndTimeMs()).Add(-s.shift), s.to)
			if !to.After(from) {
				to = from.Add(time.Millisecond)
			}
			overlap := minTime(to, fr.To).Sub(maxTime(from, fr.From))
			if overlap > 0 {
				s.inWindow += float64(h.TotalCount()) * float64(overlap) / float64(to.Sub(from))
			}
		}
	}
	return nil
}

// sum adds the agents' logs interval by interval (every agent's k-th
// interval covers the same span of its run) and their service times.
func (m *mergeState) sum(sides []*agentSide) *HistLog {
	out := &HistLog{}
	for _, s := range sides {
		for j, h := range s.log.Intervals {
			for len(out.Intervals) <= j {
				out.Intervals = append(out.Intervals, nil)
			}
			if out.Intervals[j] == nil {
				out.Intervals[j] = newHist()
				out.Intervals[j].SetStartTimeMs(time.UnixMilli(h.StartTimeMs()).Add(-s.shift).UnixMilli())
				out.Intervals[j].SetEndTimeMs(time.UnixMilli(h.EndTimeMs()).Add(-s.shift).UnixMilli())
			}
			out.Intervals[j].Merge(h)
		}
		if s.log.Service != nil {
			if out.Service == nil {
				out.Service = newHist()
				out.Service.SetTag(ServiceTag)
				out.Service.SetStartTimeMs(s.log.Service.StartTimeMs())
				out.Service.SetEndTimeMs(s.log.Service.EndTimeMs())
			}
			out.Service.Merge(s.log.Service)
		}
	}
	return out
}

// timelineOf draws the merged intervals as the report's timeline.
func timelineOf(hs []*hdrhistogram.Histogram) []reports.TimePoint {
	var tl []reports.TimePoint
	if len(hs) == 0 {
		return nil
	}
	w := time.Duration(hs[0].EndTimeMs()-hs[0].StartTimeMs()) * time.Millisecond
	if w <= 0 {
		return nil
	}
	for j, h := range hs {
		tl = append(tl, reports.TimePoint{T: float64(j+1) * w.Seconds(), RPS: float64(h.TotalCount()) / w.Seconds(),
			P50: msAt(h, 50), P99: msAt(h, 99)})
	}
	return tl
}

func addCounts(dst, src map[string]uint64) map[string]uint64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = map[string]uint64{}
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// WriteFleetText prints how a merge was put together: each agent's clock,
// and per run the common window and each agent's share.
func WriteFleetText(w io.Writer, f *reports.BenchFleet) {
	if f == nil {
		return
	}
	skew := "unknown (an agent's target sent no Date)"
	if f.ClockSkewMs != nil {
		skew = fmt.Sprintf("%.1f ms ± %.1f ms", *f.ClockSkewMs, f.ClockSkewErrMs)
	}
	fmt.Fprintf(w, "agents: %d, started at %s; clock skew %s (bound %.0f ms)\n", len(f.Agents), f.StartAt.Format(time.RFC3339), skew, f.MaxSkewMs)
	for _, a := range f.Agents {
		clock := "clock unknown"
		if a.ClockOffsetMs != nil {
			clock = fmt.Sprintf("clock %+.1f ms ± %.1f ms", *a.ClockOffsetMs, a.ClockErrMs)
		}
		fmt.Fprintf(w, "  agent %s (%s): %s\n", a.ID, a.Dir, clock)
	}
	for _, r := range f.Runs {
		fmt.Fprintf(w, "%s %s %s c=%d round %d: window %.3f s, starts %.1f ms apart, ends %.1f ms apart\n", r.Server, r.Scenario,
			r.Mode, r.Concurrency, r.Round, r.To.Sub(r.From).Seconds(), r.StartSpreadMs, r.EndSpreadMs)
		for _, a := range r.Agents {
			note := ""
			if a.ClientBound {
				note = "  CLIENT-BOUND: " + a.ClientWhy
			}
			if a.Failed != "" {
				note = "  FAILED: " + a.Failed
			}
			fmt.Fprintf(w, "  agent %-12s %10d requests  %10.0f in window  %8.0f req/s  p99 %7.2f ms%s\n", a.ID, a.Requests, a.InWindow, a.RPS, a.P99, note)
		}
	}
}
