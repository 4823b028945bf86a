package reports

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// cutMark ends a summary line taken from a longer text.
const cutMark = " …"

// mdMaxIDs bounds the failure lists, so the summary stays a summary on a
// server that fails a whole section.
const mdMaxIDs = 6

// WriteMarkdown writes the compact summary meant for a CI job summary or a
// PR comment: the machine, one score line per server, the failed MUSTs, the
// headline throughput ratios and the regression verdicts.
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "# %s\n\n", r.Title)
	for _, m := range r.Machines {
		fmt.Fprintf(b, "Machine: %s\n\n", machineLine(m))
	}
	if len(r.Servers) > 0 {
		var vs []string
		for _, s := range r.Servers {
			v := s.Name
			if s.Version != "" {
				v += " " + s.Version
			}
			vs = append(vs, v)
		}
		fmt.Fprintf(b, "Servers: %s\n\n", strings.Join(vs, " · "))
	}
	if len(r.Machines) > 1 {
		b.WriteString("> ⚠ These results come from different machines: compare numbers across them with care.\n\n")
	}
	if r.Conf != nil {
		r.mdConformance(b)
	}
	if r.Bench != nil {
		r.mdBench(b)
	}
	if err := b.Flush(); err != nil {
		return fmt.Errorf("write markdown: %w", err)
	}
	return nil
}

func machineLine(m *Machine) string {
	var parts []string
	add := func(format string, v any, ok bool) {
		if ok {
			parts = append(parts, fmt.Sprintf(format, v))
		}
	}
	add("%s", m.CPUModel, m.CPUModel != "")
	add("%d cores", m.CPUs, m.CPUs > 0)
	add("Linux %s", m.Kernel, m.Kernel != "")
	add("%s", m.OS, m.OS != "")
	add("Python %s", m.Python, m.Python != "")
	add("%s", m.GoVersion, m.GoVersion != "")
	add("host %s", m.Hostname, m.Hostname != "")
	return strings.Join(parts, " · ")
}

// mdCell escapes what would break a Markdown table cell.
func mdCell(s string) string { return mdCellEscaper.Replace(s) }

var mdCellEscaper = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ")

func (r *Report) mdConformance(b *bufio.Writer) {
	c := r.Conf
	fmt.Fprintf(b, "## Conformance (%d specs)\n\n", c.Specs)
	b.WriteString("| server | version | score |")
	for _, v := range verdictOrder {
		fmt.Fprintf(b, " %s |", v)
	}
	b.WriteString("\n|---|---|--:|")
	for range verdictOrder {
		b.WriteString("--:|")
	}
	b.WriteString("\n")
	for _, s := range c.Servers {
		if s.Error != "" {
			fmt.Fprintf(b, "| %s | %s | could not run: %s |", mdCell(s.Name), mdCell(s.Version), mdCell(textutil.FirstLine(s.Error, cutMark)))
			for range verdictOrder {
				b.WriteString(" |")
			}
			b.WriteString("\n")
			continue
		}
		score := fmt.Sprintf("%.0f%%", floorPct(s.Score.Percent()))
		if s.Score.Bad() == 0 && s.Score.Judged() > 0 {
			score = "**" + score + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s |", mdCell(s.Name), mdCell(s.Version), score)
		for _, v := range verdictOrder {
			fmt.Fprintf(b, " %d |", s.Score.Counts[v])
		}
		b.WriteString("\n")
	}
	b.WriteString("\nscore: PASS among PASS + FAIL + NON-STRICT.\n\n")
	any := false
	for _, s := range c.Servers {
		if len(s.MustFails) == 0 {
			continue
		}
		if !any {
			b.WriteString("MUST failures:\n\n")
			any = true
		}
		ids := s.MustFails
		more := ""
		if len(ids) > mdMaxIDs {
			more = fmt.Sprintf(" and %d more", len(ids)-mdMaxIDs)
			ids = ids[:mdMaxIDs]
		}
		fmt.Fprintf(b, "- **%s**: `%s`%s\n", mdCell(s.Name), strings.Join(ids, "`, `"), more)
	}
	if any {
		b.WriteString("\n")
	}
}

// floorPct rounds a percentage down, as the HTML does: 99.6% must not print
// as 100%, which only a perfect score earns.
func floorPct(v float64) float64 { return math.Floor(v) }

func (r *Report) mdBench(b *bufio.Writer) {
	v := r.Bench
	b.WriteString("## Benchmarks\n\n")
	b.WriteString("| scenario | server | req/s | 95% CI | p99 ms | req/CPU-s | RSS MB |\n|---|---|--:|--:|--:|--:|--:|\n")
	for _, sc := range v.Scenarios {
		for _, p := range sc.Panels {
			if p.Mode != "closed" {
				continue
			}
			label := sc.Name
			if countMode(sc, "closed") > 1 {
				label += " (" + p.Title + ")"
			}
			for _, row := range p.Rows {
				flag := ""
				if row.ClientBoundRuns > 0 {
					flag = " ⚠ client-bound"
				}
				if row.Failed > 0 {
					flag += fmt.Sprintf(" ⚠ %d failed", row.Failed)
				}
				fmt.Fprintf(b, "| %s | %s%s | %s | %s–%s | %s | %s | %s |\n", mdCell(label), mdCell(row.Server), flag,
					fmtNum(row.RPS), fmtNum(row.RPSLo), fmtNum(row.RPSHi), fmtNum(row.P99), fmtNum(row.ReqPerCPU), fmtNum(row.RSS))
			}
		}
	}
	b.WriteString("\n")
	var heads []string
	for _, sc := range v.Scenarios {
		if h := headline(sc); h != "" {
			heads = append(heads, h)
		}
	}
	if len(heads) > 0 {
		b.WriteString("Throughput ratios (~ = not significant at α = 0.05):\n\n")
		for _, h := range heads {
			b.WriteString("- " + h + "\n")
		}
		b.WriteString("\n")
	}
	for _, sc := range v.Scenarios {
		for _, p := range sc.Panels {
			if p.Mode == "capacity" {
				var parts []string
				for _, row := range p.Rows {
					parts = append(parts, fmt.Sprintf("%s %s", row.Server, fmtNum(row.RPS)))
				}
				fmt.Fprintf(b, "Capacity at SLO, **%s** (req/s): %s\n\n", mdCell(sc.Name), mdCell(strings.Join(parts, " · ")))
			}
		}
	}
	if len(v.Regressions) > 0 {
		b.WriteString("Against the baseline:\n\n| server | scenario | metric | baseline | current | change | p | verdict |\n|---|---|---|--:|--:|--:|--:|---|\n")
		for _, g := range v.Regressions {
			verdict := g.Verdict
			if verdict == "regressed" {
				verdict = "**REGRESSED**"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %+.1f%% | %s | %s |\n", mdCell(g.Server), mdCell(g.Scenario), metricLabel(g.Metric),
				fmtNum(g.Baseline), fmtNum(g.Current), 100*g.Change, fmtP(g.P), verdict)
		}
		b.WriteString("\n")
	}
	if len(v.Different) > 0 {
		b.WriteString("**Different work**: the servers answered these requests differently before the measurement:\n\n")
		for _, d := range v.Different {
			b.WriteString("- " + mdCell(d) + "\n")
		}
		b.WriteString("\n")
	}
	if len(v.SameWork) > 0 {
		b.WriteString("Same work (each server's answer before the measurement: status · size · sha256):\n\n| request |")
		for _, s := range v.Servers {
			b.WriteString(" " + mdCell(s.Name) + " |")
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(v.Servers)) + "\n")
		for _, row := range v.SameWork {
			fmt.Fprintf(b, "| `%s` |", mdCell(row.Request))
			for _, a := range row.Answers {
				if row.Differs {
					a = "**" + a + "**"
				}
				b.WriteString(" " + mdCell(a) + " |")
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	for _, n := range v.Notes {
		b.WriteString("Note: " + mdCell(n) + "\n\n")
	}
	if len(v.CrossChecks) > 0 {
		b.WriteString("The driver against wrk (same server, same load, right after the driver's round 1):\n\n")
		for _, c := range v.CrossChecks {
			b.WriteString("- " + mdCell(c) + "\n")
		}
		b.WriteString("\n")
	}
	if len(v.Warnings) > 0 {
		b.WriteString("Warnings:\n\n")
		for _, w := range v.Warnings {
			fmt.Fprintf(b, "- ⚠ %s\n", textutil.FirstLine(w, cutMark))
		}
		b.WriteString("\n")
	}
}

func countMode(sc *ScenarioView, mode string) int {
	n := 0
	for _, p := range sc.Panels {
		if p.Mode == mode {
			n++
		}
	}
	return n
}

// headline condenses a scenario's throughput comparisons into one line:
// "**hello** — wsgikit: vs gunicorn-gthread **7.67×** (p=0.008) · vs uwsgi ~
// (1.02×, p=0.310)". Without comparisons it falls back to ratios of medians,
// marked as untested.
func headline(sc *ScenarioView) string {
	var parts []string
	a := ""
	for _, c := range sc.Comparisons {
		if c.Metric != "rps" {
			continue
		}
		if a == "" {
			a = c.A
		}
		if c.A != a {
			continue
		}
		if c.Significant {
			parts = append(parts, fmt.Sprintf("vs %s **%.2f×** (p=%s)", mdCell(c.B), c.Ratio, fmtP(c.P)))
		} else {
			parts = append(parts, fmt.Sprintf("vs %s ~ (%.2f×, p=%s)", mdCell(c.B), c.Ratio, fmtP(c.P)))
		}
	}
	if len(parts) > 0 {
		return fmt.Sprintf("**%s** — %s: %s", mdCell(sc.Name), mdCell(a), strings.Join(parts, " · "))
	}
	for _, p := range sc.Panels {
		if p.Mode != "closed" || len(p.Rows) < 2 || p.Rows[0].RPS <= 0 {
			continue
		}
		first := p.Rows[0]
		for _, row := range p.Rows[1:] {
			if row.RPS > 0 {
				parts = append(parts, fmt.Sprintf("vs %s %.2f×", mdCell(row.Server), first.RPS/row.RPS))
			}
		}
		return fmt.Sprintf("**%s** — %s: %s (ratios of medians; the input has no significance test)", mdCell(sc.Name), mdCell(first.Server), strings.Join(parts, " · "))
	}
	return ""
}

// matrixMark is the short cell text of check.md's matrix.
var matrixMark = map[string]string{
	VerdictPass: "PASS", VerdictFail: "**FAIL**", VerdictNonStrict: "NON-STRICT",
	VerdictInfo: "INFO", VerdictUnsupported: "n/a", VerdictError: "ERROR",
}

// matrixLine is one line of a text for check.md: its first line, at most
// 300 bytes.
func matrixLine(s string) string { return textutil.Clip(textutil.FirstLine(s, ""), 300) }

// writeCheckMatrix writes check.md, the check verb's own summary: a count
// line per server, one row per spec with a column per server, then every
// FAIL and ERROR with its detail, so a CI summary explains itself.
func writeCheckMatrix(w io.Writer, c *Check) error {
	var sb strings.Builder
	sb.WriteString("# wsgikit check\n\n")
	sb.WriteString("| server | version | PASS | FAIL | NON-STRICT | INFO | UNSUPPORTED | ERROR |\n|---|---|---|---|---|---|---|---|\n")
	for _, s := range c.Servers {
		n := map[string]int{}
		for _, r := range s.Results {
			n[r.Verdict]++
		}
		ver := s.Version
		if s.Error != "" {
			ver = "could not run: " + matrixLine(s.Error)
		}
		fmt.Fprintf(&sb, "| %s | %s |", s.Name, mdCell(ver))
		for _, v := range verdictOrder {
			fmt.Fprintf(&sb, " %d |", n[v])
		}
		sb.WriteString("\n")
	}
	// One row per spec, in the order of the first server that ran it.
	type row struct {
		id, level string
		cells     map[string]string
	}
	rows := map[string]*row{}
	var order []string
	for _, s := range c.Servers {
		for _, r := range s.Results {
			rw, ok := rows[r.ID]
			if !ok {
				rw = &row{id: r.ID, level: r.Level, cells: map[string]string{}}
				rows[r.ID] = rw
				order = append(order, r.ID)
			}
			rw.cells[s.Name] = r.Verdict
		}
	}
	sb.WriteString("\n## Matrix\n\n| spec | level |")
	for _, s := range c.Servers {
		sb.WriteString(" " + s.Name + " |")
	}
	sb.WriteString("\n|---|---|" + strings.Repeat("---|", len(c.Servers)) + "\n")
	for _, id := range order {
		rw := rows[id]
		fmt.Fprintf(&sb, "| `%s` | %s |", rw.id, rw.level)
		for _, s := range c.Servers {
			sb.WriteString(" " + matrixMark[rw.cells[s.Name]] + " |")
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n## Failures\n\n")
	any := false
	for _, s := range c.Servers {
		var lines []string
		if s.Error != "" {
			lines = append(lines, "- could not run: "+mdCell(matrixLine(s.Error)))
		}
		for _, r := range s.Results {
			if r.Verdict == VerdictFail || r.Verdict == VerdictError {
				lines = append(lines, fmt.Sprintf("- `%s` %s — %s", r.ID, r.Verdict, mdCell(matrixLine(r.Detail))))
			}
		}
		if len(lines) == 0 {
			continue
		}
		any = true
		sort.Strings(lines)
		fmt.Fprintf(&sb, "### %s\n\n%s\n\n", s.Name, strings.Join(lines, "\n"))
	}
	if !any {
		sb.WriteString("None.\n")
	}
	if _, err := io.WriteString(w, sb.String()); err != nil {
		return fmt.Errorf("write check.md: %w", err)
	}
	return nil
}
