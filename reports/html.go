package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

//go:embed report.css
var reportCSS string

//go:embed report.js
var reportJS string

// ServerInfo is one server as the report header shows it.
type ServerInfo struct {
	Name, Version, Color string
	InCheck, InBench     bool
}

// GlanceCell is one scenario's throughput for one server, relative to the
// fastest server in that scenario.
type GlanceCell struct {
	RPS, Relative float64
	ClientBound   bool
	Present       bool
}

// GlanceRow is one server's line in the "at a glance" table.
type GlanceRow struct {
	Server ServerInfo
	Conf   *ConfServer
	Tput   []GlanceCell
}

// Report is the model the HTML template renders.
type Report struct {
	Title     string
	Generated time.Time
	Machines  []*Machine
	Servers   []ServerInfo
	Conf      *Conformance
	Bench     *BenchView
	Glance    []GlanceRow
	GlanceSc  []string // scenario columns of the glance table
	Alerts    []string // regressions, shown at the top: a CI gate's reason
	Files     []string
	CSS       template.CSS
	JS        template.JS
}

// Build merges the inputs and computes every view the renderers share.
func Build(in *Inputs) *Report {
	r := &Report{Title: "wsgikit report", Machines: machines(in), CSS: template.CSS(reportCSS), JS: template.JS(reportJS)} //nolint:gosec // our own embedded assets
	for _, f := range in.Files {
		r.Files = append(r.Files, filepath.Base(f))
	}
	colors := Colors{}
	check := MergeChecks(in.Checks)
	bench := MergeBenches(in.Benches)
	idx := map[string]int{}
	addServer := func(name, version string, inCheck, inBench bool) {
		colors.add(name)
		i, ok := idx[name]
		if !ok {
			idx[name] = len(r.Servers)
			r.Servers = append(r.Servers, ServerInfo{Name: name, Color: colors[name]})
			i = len(r.Servers) - 1
		}
		s := &r.Servers[i]
		if s.Version == "" {
			s.Version = version
		}
		s.InCheck = s.InCheck || inCheck
		s.InBench = s.InBench || inBench
	}
	// Bench servers first: their order is the interleaving order and the
	// reference server leads it; check-only servers follow.
	if bench != nil {
		for _, s := range bench.Servers {
			addServer(s.Name, s.Version, false, true)
		}
		if bench.Generated.After(r.Generated) {
			r.Generated = bench.Generated
		}
	}
	if check != nil {
		for _, s := range check.Servers {
			addServer(s.Name, s.Version, true, false)
		}
		if check.Generated.After(r.Generated) {
			r.Generated = check.Generated
		}
	}
	r.Conf = BuildConformance(check)
	r.Bench = BuildBench(bench, colors)
	r.buildGlance()
	if r.Bench != nil {
		for _, g := range r.Bench.Regressions {
			if g.Regressed {
				r.Alerts = append(r.Alerts, fmt.Sprintf("%s, %s: %s %+.1f%% (%s → %s, p = %s)", g.Server, g.Scenario, metricLabel(g.Metric), 100*g.Change, fmtNum(g.Baseline), fmtNum(g.Current), fmtP(g.P)))
			}
		}
	}
	return r
}

func (r *Report) buildGlance() {
	conf := map[string]*ConfServer{}
	if r.Conf != nil {
		for i := range r.Conf.Servers {
			conf[r.Conf.Servers[i].Name] = &r.Conf.Servers[i]
		}
	}
	// One throughput column per scenario: its first closed panel.
	type col map[string]SumRow
	var cols []col
	if r.Bench != nil {
		for _, sc := range r.Bench.Scenarios {
			for _, p := range sc.Panels {
				if p.Mode == "closed" {
					c := col{}
					for _, row := range p.Rows {
						c[row.Server] = row
					}
					cols = append(cols, c)
					r.GlanceSc = append(r.GlanceSc, sc.Name)
					break
				}
			}
		}
	}
	for _, s := range r.Servers {
		g := GlanceRow{Server: s, Conf: conf[s.Name]}
		for _, c := range cols {
			row, ok := c[s.Name]
			g.Tput = append(g.Tput, GlanceCell{RPS: row.RPS, Relative: row.Relative, ClientBound: row.ClientBoundRuns > 0, Present: ok && row.RPS > 0})
		}
		r.Glance = append(r.Glance, g)
	}
}

var funcs = template.FuncMap{
	"vclass": verdictClass,
	"num":    fmtNum,
	"pct": func(v float64) string {
		return fmt.Sprintf("%.0f%%", floorPct(v))
	},
	"width": func(v float64) template.CSS {
		return template.CSS(fmt.Sprintf("width:%.1f%%", 100*math.Max(0, math.Min(1, v))))
	},
	"bg":       func(c string) template.CSS { return template.CSS("background:" + safeColor(c)) },
	"stack":    func(s Score) template.HTML { return stackBar(s, 220) },
	"count":    func(s Score, v string) int { return s.Counts[v] },
	"verdicts": func() []string { return verdictOrder },
	"leaf": func(id string) string {
		if i := strings.LastIndexByte(id, '/'); i >= 0 {
			return id[i+1:]
		}
		return id
	},
	"lines":   transcriptLines,
	"metric":  metricLabel,
	"ratio":   func(v float64) string { return fmt.Sprintf("%.2f×", v) },
	"pval":    func(p float64) string { return fmtP(p) },
	"change":  func(c float64) string { return fmt.Sprintf("%+.1f%%", 100*c) },
	"secs":    func(s float64) string { return fmt.Sprintf("%.3f s", s) },
	"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"anchor":  anchor,
	"better":  higherBetter,
	"lower":   strings.ToLower,
	"add":     func(a, b int) int { return a + b },
	"half":    func(i, n int) bool { return i >= (n+1)/2 },
	"nonzero": func(t time.Time) bool { return !t.IsZero() },
	"usPerReq": func(reqPerCPU float64) string {
		if reqPerCPU <= 0 {
			return "—"
		}
		return fmtNum(1e6 / reqPerCPU)
	},
}

// safeColor keeps only colour characters, so a colour can never break out
// of its style attribute.
func safeColor(c string) string {
	for _, r := range c {
		if !(r == '#' || r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return "#888"
		}
	}
	return c
}

func fmtP(p float64) string {
	switch {
	case p <= 0:
		return "—"
	case p < 0.001:
		return "<0.001"
	default:
		return fmt.Sprintf("%.3f", p)
	}
}

// anchor makes an id attribute value out of a name.
func anchor(prefix, name string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// maxTranscript bounds the bytes of one transcript shown in the page, so a
// suite with large bodies still makes a report a browser opens quickly.
const maxTranscript = 8 << 10

// TLine is one line of a wire transcript, with its direction.
type TLine struct {
	Dir  string // "out" (sent to the server), "in" (received), "" (note)
	Text string
}

// transcriptLines classifies transcript lines by their conventional
// prefixes ("> " / "C:" sent, "< " / "S:" received) so they can be coloured.
func transcriptLines(t string) []TLine {
	t = strings.TrimRight(t, "\n")
	if t == "" {
		return nil
	}
	// A transcript can hold a whole response body; the page keeps the
	// start, which is where framing bugs show, and says what it left out.
	more := ""
	if len(t) > maxTranscript {
		cut := strings.LastIndexByte(t[:maxTranscript], '\n')
		if cut < maxTranscript/2 {
			cut = maxTranscript
		}
		more = fmt.Sprintf("… %d more bytes (the full transcript is in the JSON and JUnit files)", len(t)-cut)
		t = strings.ToValidUTF8(t[:cut], "")
	}
	var out []TLine
	for _, l := range strings.Split(t, "\n") {
		d := ""
		switch {
		case strings.HasPrefix(l, ">"), strings.HasPrefix(l, "C:"), strings.HasPrefix(l, "→"):
			d = "out"
		case strings.HasPrefix(l, "<"), strings.HasPrefix(l, "S:"), strings.HasPrefix(l, "←"):
			d = "in"
		}
		out = append(out, TLine{Dir: d, Text: l})
	}
	if more != "" {
		out = append(out, TLine{Text: more})
	}
	return out
}

var page = template.Must(template.New("report").Funcs(funcs).Parse(htmlTemplate))

// WriteHTML renders the self-contained HTML report.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := page.Execute(w, r); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	return nil
}
