package reports

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
)

// palette gives each server one colour for the whole report: distinct hues
// of similar weight, so no server looks emphasised by colour alone; the first
// (the reference server, see isReference) gets the blue.
var palette = []string{"#2f6fdf", "#e8862a", "#2a9d8f", "#c2408d", "#7a5cc7", "#8c6d3f", "#5d9c3a", "#d1495b", "#4a5a6a", "#b59a00"}

// Colors assigns palette colours to server names in order.
type Colors map[string]string

func (c Colors) add(name string) {
	if _, ok := c[name]; !ok {
		c[name] = palette[len(c)%len(palette)]
	}
}

// Chart is one titled SVG with a hint on how to read it.
type Chart struct {
	Title, Hint string
	SVG         template.HTML
	Kind        string      // "bar" or "line": they are laid out in separate grids
	Legend      []LegendKey // line charts: which colour is which server
}

// LegendKey names one colour of a chart.
type LegendKey struct{ Name, Color string }

func legendOf(ss []series) []LegendKey {
	var out []LegendKey
	for _, s := range ss {
		out = append(out, LegendKey{Name: strings.TrimSuffix(s.Name, " p99"), Color: s.Color})
	}
	return out
}

// SumRow is one server's line of a panel's table.
type SumRow struct {
	Server, Color                   string
	RPS, RPSLo, RPSHi               float64
	P99, P99Lo, P99Hi               float64
	ReqPerCPU, RSS                  float64
	Rounds, ClientBoundRuns, Failed int
	Errors                          uint64
	Relative                        float64 // RPS / best RPS in the panel
}

// Panel is one (mode, concurrency) measurement of a scenario.
type Panel struct {
	Title, Note string
	Mode        string
	Charts      []Chart
	Rows        []SumRow
	Warnings    []string // client-bound servers, failed rounds, errors
}

// CompRow is one comparison, ready to print.
type CompRow struct {
	A, B, Metric string
	Ratio, P     float64
	Significant  bool
	Better       bool // A is better than B on this metric
}

// CompPair is one A-versus-B line of the comparison table, with one cell
// per metric (nil where that metric was not compared).
type CompPair struct {
	A, B  string
	Cells []*CompRow
}

// ScenarioView is everything measured for one scenario.
type ScenarioView struct {
	Name        string
	Panels      []*Panel
	Comparisons []CompRow
	CompMetrics []string   // columns of the comparison table
	CompPairs   []CompPair // rows of the comparison table
	Warnings    []string
}

// RegRow is one regression verdict against the baseline.
type RegRow struct {
	Regression
	Verdict string // "regressed", "improved", "~"
}

// BenchView is the benchmark part of the report.
type BenchView struct {
	Servers     []BenchServ
	Scenarios   []*ScenarioView
	Regressions []RegRow
	Warnings    []string
	SameWork    []SameWorkRow // what each server answered before the measurement
	Different   []string      // the targets answered differently (the run was refused unless allowed)
	Notes       []string
	CrossChecks []string // the driver against wrk, a line each (CrossCheck.Line)
}

// Line is a wrk cross-check in one line: both rates, and the client CPU
// each spent per request, which a busy machine disturbs less than the
// rates (each client pays for its own requests only).
func (cc CrossCheck) Line() string {
	head := fmt.Sprintf("wrk cross-check %s %s c=%d: ", cc.Server, cc.Scenario, cc.Concurrency)
	if cc.Error != "" {
		return head + cc.Error
	}
	who := "wsgikit"
	if cc.Engine != "" {
		who += " (" + cc.Engine + ")"
	}
	line := fmt.Sprintf("%s%s %.0f req/s, wrk %.0f req/s", head, who, cc.VegetaRPS, cc.WrkRPS)
	if cc.WrkRPS > 0 {
		line += fmt.Sprintf(": %.2f× wrk's rate", cc.VegetaRPS/cc.WrkRPS)
	}
	if cc.ClientCPUus > 0 && cc.WrkCPUus > 0 {
		line += fmt.Sprintf("; client CPU per request %.2f µs vs wrk's %.2f µs (%.2f× wrk's efficiency)",
			cc.ClientCPUus, cc.WrkCPUus, cc.WrkCPUus/cc.ClientCPUus)
	}
	return line + " (round 1)"
}

// higherBetter says which way a metric improves.
func higherBetter(metric string) bool {
	m := strings.ToLower(metric)
	return strings.Contains(m, "rps") || strings.Contains(m, "per_cpu") || strings.Contains(m, "capacity") || strings.Contains(m, "throughput")
}

// metricLabel names a metric for people.
func metricLabel(metric string) string {
	switch metric {
	case "rps":
		return "throughput"
	case "p99_ms":
		return "p99 latency"
	case "p50_ms":
		return "p50 latency"
	case "req_per_cpu_s":
		return "req per CPU-second"
	case "rss_mb":
		return "RSS"
	case "capacity":
		return "capacity at SLO"
	}
	return metric
}

type cell struct {
	mode string
	conc int
}

// BuildBench turns merged bench results into the benchmark view.
func BuildBench(b *Bench, colors Colors) *BenchView {
	if b == nil {
		return nil
	}
	v := &BenchView{Servers: b.Servers, SameWork: sameWorkRows(b.Servers), Different: b.Different, Notes: b.Notes}
	for _, cc := range b.CrossChecks {
		v.CrossChecks = append(v.CrossChecks, cc.Line())
	}
	order := map[string]int{}
	for i, s := range b.Servers {
		order[s.Name] = i
		colors.add(s.Name)
	}
	// Scenarios in order of first appearance in the summary, then the runs.
	var scen []string
	seen := map[string]bool{}
	for _, s := range b.Summary {
		if !seen[s.Scenario] {
			seen[s.Scenario] = true
			scen = append(scen, s.Scenario)
		}
	}
	for _, r := range b.Runs {
		if !seen[r.Scenario] {
			seen[r.Scenario] = true
			scen = append(scen, r.Scenario)
		}
	}
	for _, name := range scen {
		v.Scenarios = append(v.Scenarios, buildScenario(b, name, order, colors))
	}
	for _, r := range b.Regressions {
		row := RegRow{Regression: r, Verdict: "~"}
		switch {
		case r.Regressed:
			row.Verdict = "regressed"
		case r.Significant && r.Change < 0:
			row.Verdict = "improved"
		case r.Significant:
			row.Verdict = "worse, within threshold"
		}
		v.Regressions = append(v.Regressions, row)
	}
	for _, sc := range v.Scenarios {
		for _, w := range sc.Warnings {
			v.Warnings = append(v.Warnings, sc.Name+": "+w)
		}
	}
	return v
}

func buildScenario(b *Bench, name string, order map[string]int, colors Colors) *ScenarioView {
	sv := &ScenarioView{Name: name}
	sums := map[cell][]BenchSum{}
	runs := map[cell][]BenchRun{}
	var cells []cell
	addCell := func(c cell) {
		if _, ok := sums[c]; !ok {
			if _, ok := runs[c]; !ok {
				cells = append(cells, c)
			}
		}
	}
	for _, s := range b.Summary {
		if s.Scenario != name {
			continue
		}
		c := cell{normMode(s.Mode), s.Concurrency}
		if c.mode == "sweep" || c.mode == "capacity" {
			c.conc = 0
		}
		addCell(c)
		sums[c] = append(sums[c], s)
	}
	for _, r := range b.Runs {
		if r.Scenario != name {
			continue
		}
		c := cell{normMode(r.Mode), r.Concurrency}
		if c.mode == "sweep" || c.mode == "capacity" {
			c.conc = 0
		}
		addCell(c)
		runs[c] = append(runs[c], r)
	}
	sortBy := func(names []string) {
		sort.SliceStable(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	}
	for _, c := range cells {
		switch c.mode {
		case "sweep":
			sv.Panels = append(sv.Panels, sweepPanel(sums[c], colors, order))
		default:
			sv.Panels = append(sv.Panels, measurePanel(c, sums[c], runs[c], colors, sortBy))
		}
	}
	for _, p := range sv.Panels {
		for _, w := range p.Warnings {
			sv.Warnings = append(sv.Warnings, w+" ("+p.Title+")")
		}
	}
	for _, c := range b.Comparisons {
		if c.Scenario != name {
			continue
		}
		better := c.Ratio > 1
		if !higherBetter(c.Metric) {
			better = c.Ratio < 1
		}
		sv.Comparisons = append(sv.Comparisons, CompRow{A: c.A, B: c.B, Metric: c.Metric, Ratio: c.Ratio, P: c.P, Significant: c.Significant, Better: better})
	}
	pivotComparisons(sv)
	return sv
}

// pivotComparisons lays the comparisons out as pairs × metrics, the shape a
// reader scans: one line per opponent, one column per metric.
func pivotComparisons(sv *ScenarioView) {
	mIdx := map[string]int{}
	pIdx := map[string]int{}
	for _, c := range sv.Comparisons {
		if _, ok := mIdx[c.Metric]; !ok {
			mIdx[c.Metric] = len(sv.CompMetrics)
			sv.CompMetrics = append(sv.CompMetrics, c.Metric)
		}
	}
	for i := range sv.Comparisons {
		c := &sv.Comparisons[i]
		k := c.A + "\x00" + c.B
		pi, ok := pIdx[k]
		if !ok {
			pi = len(sv.CompPairs)
			pIdx[k] = pi
			sv.CompPairs = append(sv.CompPairs, CompPair{A: c.A, B: c.B, Cells: make([]*CompRow, len(sv.CompMetrics))})
		}
		sv.CompPairs[pi].Cells[mIdx[c.Metric]] = c
	}
}

// representative picks the run whose throughput is the median of the
// successful rounds, so its curves are typical rather than best or worst.
func representative(rs []BenchRun) *BenchRun {
	var ok []BenchRun
	for _, r := range rs {
		if r.Failed == "" {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].RPS < ok[j].RPS })
	r := ok[(len(ok)-1)/2]
	return &r
}

func measurePanel(c cell, sums []BenchSum, runs []BenchRun, colors Colors, sortBy func([]string)) *Panel {
	p := &Panel{Mode: c.mode}
	switch c.mode {
	case "capacity":
		p.Title = "capacity"
		p.Note = "highest offered rate that met the latency SLO with no errors (median of rounds, 95% CI)"
	case "open":
		p.Title = fmt.Sprintf("open model, %d workers", c.conc)
		p.Note = "fixed offered rate; latency from the intended send time (coordinated-omission corrected)"
	default:
		p.Title = fmt.Sprintf("closed model, %d connections", c.conc)
		p.Note = "each connection sends its next request when the previous answer arrives"
	}
	byServer := map[string]*SumRow{}
	var names []string
	for _, s := range sums {
		row := &SumRow{Server: s.Server, Color: colors[s.Server], RPS: s.RPSMedian, RPSLo: s.RPSCI[0], RPSHi: s.RPSCI[1],
			P99: s.P99Median, P99Lo: s.P99CI[0], P99Hi: s.P99CI[1], ReqPerCPU: s.ReqPerCPU, RSS: s.RSSMB, Rounds: s.Rounds}
		byServer[s.Server] = row
		names = append(names, s.Server)
	}
	runsBy := map[string][]BenchRun{}
	for _, r := range runs {
		colors.add(r.Server)
		row := byServer[r.Server]
		if row == nil {
			// No summary for this server (e.g. all rounds failed): show the runs.
			row = &SumRow{Server: r.Server, Color: colors[r.Server]}
			byServer[r.Server] = row
			names = append(names, r.Server)
		}
		runsBy[r.Server] = append(runsBy[r.Server], r)
		if r.ClientBound {
			row.ClientBoundRuns++
		}
		if r.Failed != "" {
			row.Failed++
		}
		row.Errors += r.Errors
	}
	sortBy(names)
	for _, n := range names {
		r := byServer[n]
		if r.ClientBoundRuns > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s was client-bound in %d of %d rounds: the load generator, not the server, was the limit, so its throughput is a lower bound", n, r.ClientBoundRuns, len(runsBy[n])))
		}
		for _, run := range runsBy[n] {
			if run.Failed != "" {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s round %d failed and is left out of the statistics: %s", n, run.Round, run.Failed))
			}
		}
		if r.Failed == 0 && r.Errors > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s answered %d request(s) with errors", n, r.Errors))
		}
	}
	best := 0.0
	for _, n := range names {
		row := byServer[n]
		if row.Rounds == 0 {
			row.Rounds = len(runsBy[n])
		}
		best = math.Max(best, row.RPS)
	}
	for _, n := range names {
		row := byServer[n]
		if best > 0 {
			row.Relative = row.RPS / best
		}
		p.Rows = append(p.Rows, *row)
	}

	var tp, lat, eff, mem []bar
	for _, r := range p.Rows {
		note := ""
		if r.ClientBoundRuns > 0 {
			note = "client-bound"
		}
		if r.Failed > 0 {
			note = "failed rounds"
		}
		tp = append(tp, bar{Label: r.Server, Color: r.Color, Value: r.RPS, Lo: r.RPSLo, Hi: r.RPSHi, Note: note,
			Tip: fmt.Sprintf("%s: %s req/s (95%% CI %s–%s), %d rounds%s", r.Server, fmtNum(r.RPS), fmtNum(r.RPSLo), fmtNum(r.RPSHi), r.Rounds, suffix(note))})
		lat = append(lat, bar{Label: r.Server, Color: r.Color, Value: r.P99, Lo: r.P99Lo, Hi: r.P99Hi,
			Tip: fmt.Sprintf("%s: p99 %s ms (95%% CI %s–%s)", r.Server, fmtNum(r.P99), fmtNum(r.P99Lo), fmtNum(r.P99Hi))})
		if r.ReqPerCPU > 0 {
			eff = append(eff, bar{Label: r.Server, Color: r.Color, Value: r.ReqPerCPU, Tip: fmt.Sprintf("%s: %s requests per server CPU-second", r.Server, fmtNum(r.ReqPerCPU))})
		}
		if r.RSS > 0 {
			mem = append(mem, bar{Label: r.Server, Color: r.Color, Value: r.RSS, Tip: fmt.Sprintf("%s: peak RSS %s MB (whole process tree)", r.Server, fmtNum(r.RSS))})
		}
	}
	if c.mode == "capacity" {
		p.Charts = append(p.Charts, Chart{Title: "Capacity (req/s)", Hint: "higher is better · whiskers: 95% CI", Kind: "bar", SVG: barChart("capacity", "", tp, true)})
		// When the search's probes are recorded as runs, they draw the
		// latency curve the capacity was read from.
		if probesSpread(runs) {
			if ch, ok := rateChart(names, runsBy, colors); ok {
				ch.Title, ch.Hint = "The capacity search: p99 vs offered rate", "each point: the median p99 of the probes at that rate"
				p.Charts = append(p.Charts, ch)
			}
		}
		return p
	}
	if len(tp) > 0 {
		p.Charts = append(p.Charts, Chart{Title: "Throughput (req/s)", Hint: "higher is better · whiskers: 95% CI over rounds", Kind: "bar", SVG: barChart("throughput", "", tp, true)})
		p.Charts = append(p.Charts, Chart{Title: "p99 latency (ms)", Hint: "lower is better · whiskers: 95% CI over rounds", Kind: "bar", SVG: barChart("p99 latency", "", lat, false)})
	}
	if len(eff) > 0 {
		p.Charts = append(p.Charts, Chart{Title: "Requests per server CPU-second", Hint: "higher is better · the fairest comparison on shared cores", Kind: "bar", SVG: barChart("efficiency", "", eff, true)})
	}
	if len(mem) > 0 {
		p.Charts = append(p.Charts, Chart{Title: "Server memory, peak RSS (MB)", Hint: "lower is better · whole process tree", Kind: "bar", SVG: barChart("rss", "", mem, false)})
	}
	var pct, tl, tlr []series
	for _, n := range names {
		r := representative(runsBy[n])
		if r == nil {
			continue
		}
		if len(r.Percentiles) > 0 {
			sr := series{Name: n, Color: colors[n]}
			for _, pt := range r.Percentiles {
				if pt.Ms > 0 {
					sr.X, sr.Y = append(sr.X, pt.Q), append(sr.Y, pt.Ms)
				}
			}
			pct = append(pct, sr)
		}
		if len(r.Timeline) > 0 {
			s99 := series{Name: n + " p99", Color: colors[n]}
			srps := series{Name: n, Color: colors[n]}
			for _, pt := range r.Timeline {
				s99.X, s99.Y = append(s99.X, pt.T), append(s99.Y, pt.P99)
				srps.X, srps.Y = append(srps.X, pt.T), append(srps.Y, pt.RPS)
			}
			tl = append(tl, s99)
			tlr = append(tlr, srps)
		}
	}
	if c.mode == "open" {
		if ch, ok := rateChart(names, runsBy, colors); ok {
			p.Charts = append(p.Charts, ch)
		}
	}
	if len(pct) > 0 {
		p.Charts = append(p.Charts, Chart{Title: "Latency by percentile", Hint: "the median round of each server · x: 90, 99, 99.9 … equally spaced", Kind: "line", Legend: legendOf(pct), SVG: lineChart("latency percentiles", "pct", "percentile", "auto", "latency (ms)", pct)})
	}
	if len(tl) > 0 {
		p.Charts = append(p.Charts, Chart{Title: "p99 latency over time", Hint: "the median round · spikes show stalls (GC, worker restarts)", Kind: "line", Legend: legendOf(tl), SVG: lineChart("p99 over time", "lin", "time (s)", "auto", "p99 (ms)", tl)})
		p.Charts = append(p.Charts, Chart{Title: "Throughput over time", Hint: "the median round · dips show stalls", Kind: "line", Legend: legendOf(tlr), SVG: lineChart("throughput over time", "lin", "time (s)", "lin", "req/s", tlr)})
	}
	return p
}

func suffix(note string) string {
	if note == "" {
		return ""
	}
	return " — " + note
}

// sweepPanel draws throughput and p99 against concurrency, one line per
// server with its CI band: where each server saturates, and what latency
// costs past that point.
func sweepPanel(sums []BenchSum, colors Colors, order map[string]int) *Panel {
	p := &Panel{Mode: "sweep", Title: "concurrency sweep", Note: "closed model at increasing connection counts · bands: 95% CI over rounds"}
	by := map[string][]BenchSum{}
	var names []string
	for _, s := range sums {
		if _, ok := by[s.Server]; !ok {
			names = append(names, s.Server)
		}
		by[s.Server] = append(by[s.Server], s)
	}
	sort.SliceStable(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	var tput, p99 []series
	for _, n := range names {
		ss := by[n]
		sort.Slice(ss, func(i, j int) bool { return ss[i].Concurrency < ss[j].Concurrency })
		t := series{Name: n, Color: colors[n], Dots: true}
		l := series{Name: n, Color: colors[n], Dots: true}
		cb := 0
		for _, s := range ss {
			x := float64(s.Concurrency)
			t.X, t.Y = append(t.X, x), append(t.Y, s.RPSMedian)
			t.Lo, t.Hi = append(t.Lo, s.RPSCI[0]), append(t.Hi, s.RPSCI[1])
			l.X, l.Y = append(l.X, x), append(l.Y, s.P99Median)
			if s.ClientBound {
				cb++
			}
		}
		if !allPositive(t.Lo) || !allPositive(t.Hi) {
			t.Lo, t.Hi = nil, nil
		}
		tput = append(tput, t)
		p99 = append(p99, l)
		p.Rows = append(p.Rows, SumRow{Server: n, Color: colors[n], RPS: maxY(t.Y), Rounds: ss[0].Rounds})
		if cb > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s was client-bound at %d of %d concurrency levels: its curve flattens where the load generator saturated", n, cb, len(ss)))
		}
	}
	p.Charts = append(p.Charts,
		Chart{Title: "Throughput vs concurrency", Hint: "higher is better · x: connections (log₂)", Kind: "line", Legend: legendOf(tput), SVG: lineChart("throughput vs concurrency", "log2", "connections", "lin", "req/s", tput)},
		Chart{Title: "p99 latency vs concurrency", Hint: "lower is better", Kind: "line", Legend: legendOf(p99), SVG: lineChart("p99 vs concurrency", "log2", "connections", "auto", "p99 (ms)", p99)},
	)
	return p
}

func allPositive(v []float64) bool {
	for _, x := range v {
		if x <= 0 {
			return false
		}
	}
	return len(v) > 0
}

func maxY(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// rateChart draws p99 against the offered rate (the "hockey stick") when an
// open-model panel holds runs at several rates: the median p99 of the rounds
// at each rate, per server. Where the curve turns up is the server's usable
// capacity.
func rateChart(names []string, runsBy map[string][]BenchRun, colors Colors) (Chart, bool) {
	var ss []series
	for _, n := range names {
		byRate := map[float64][]float64{}
		for _, r := range runsBy[n] {
			if r.Failed == "" && r.Rate > 0 {
				byRate[r.Rate] = append(byRate[r.Rate], r.Latency.P99)
			}
		}
		if len(byRate) < 2 {
			continue
		}
		sr := series{Name: n, Color: colors[n], Dots: true}
		var rates []float64
		for rate := range byRate {
			rates = append(rates, rate)
		}
		sort.Float64s(rates)
		for _, rate := range rates {
			sr.X, sr.Y = append(sr.X, rate), append(sr.Y, Median(byRate[rate]))
		}
		ss = append(ss, sr)
	}
	if len(ss) == 0 {
		return Chart{}, false
	}
	return Chart{Title: "p99 latency vs offered rate", Hint: "lower is better · where a curve turns up, the server is saturated",
		Kind: "line", Legend: legendOf(ss), SVG: lineChart("p99 vs offered rate", "lin", "offered rate (req/s)", "auto", "p99 (ms)", ss)}, true
}

// probesSpread says whether capacity runs look like search probes (for
// some server, several rates over a wide range) rather than one final rate
// per round.
func probesSpread(runs []BenchRun) bool {
	type span struct {
		rates  map[float64]bool
		lo, hi float64
	}
	by := map[string]*span{}
	for _, r := range runs {
		if r.Rate <= 0 {
			continue
		}
		s := by[r.Server]
		if s == nil {
			s = &span{rates: map[float64]bool{}, lo: r.Rate, hi: r.Rate}
			by[r.Server] = s
		}
		s.rates[r.Rate] = true
		s.lo, s.hi = math.Min(s.lo, r.Rate), math.Max(s.hi, r.Rate)
	}
	for _, s := range by {
		if len(s.rates) >= 4 && s.hi >= 1.5*s.lo {
			return true
		}
	}
	return false
}

// Median is the middle of v (the mean of the two middle values for an even
// count; 0 for none). It is the one plain median of the module: loadgen's
// summaries get theirs, with a confidence interval, from benchmath.
func Median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
