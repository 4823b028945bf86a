package loadgen

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/wsgikit/wsgikit/reports"
)

// WriteText prints the summary (medians with CIs, benchstat-style), the
// comparisons ("~" when not significant), errors and client-bound runs,
// and any regressions.
func WriteText(w io.Writer, out *reports.Bench) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rpsHead := "req/s"
	if out.Settings != nil && out.Settings.Mode == ModeCapacity {
		rpsHead = "capacity req/s (" + out.Settings.SLO + ")"
	}
	fmt.Fprintf(tw, "scenario\tmode\tc\tserver\t%s\tp99 ms\treq/CPU-s\tRSS MB\truns\terrors\tnotes\n", rpsHead)
	for _, s := range out.Summary {
		var notes []string
		if s.ClientBound {
			notes = append(notes, "client-bound")
		}
		if s.Failed > 0 {
			notes = append(notes, fmt.Sprintf("%d failed", s.Failed))
		}
		if !s.CIFinite && s.Rounds > 0 {
			notes = append(notes, "CI=range (need ≥6 rounds)")
		}
		p99 := withCI(s.P99Median, s.P99CI, "%.2f")
		if s.P99Uncorrected > 0 {
			p99 += fmt.Sprintf(" (%.2f from actual send)", s.P99Uncorrected)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", s.Scenario, s.Mode, s.Concurrency, s.Server,
			withCI(s.RPSMedian, s.RPSCI, "%.0f"), p99,
			num(s.ReqPerCPU, "%.0f"), num(s.RSSMB, "%.1f"), s.Rounds, s.Errors, strings.Join(notes, "; "))
	}
	tw.Flush()
	if len(out.Comparisons) > 0 {
		fmt.Fprintln(w, "\ncomparisons (A vs B, medians of per-run values, A÷B; Mann–Whitney U, α=0.05):")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range out.Comparisons {
			fmt.Fprintf(tw, "%s\t%s c=%d\t%s vs %s\t%s\t%s\t%.2f×\t(p=%.3f n=%d+%d)\n", c.Scenario, c.Mode, c.Concurrency,
				c.A, c.B, c.Metric, c.Delta, c.Ratio, c.P, c.N[0], c.N[1])
		}
		tw.Flush()
		for _, c := range out.Comparisons {
			if c.N[0] < 4 && c.N[1] < 4 {
				fmt.Fprintf(w, "note: with %d+%d runs no difference can reach p<0.05; use --rounds 4 or more (6+ for finite CIs)\n", c.N[0], c.N[1])
				break
			}
		}
	}
	var errs []string
	for _, r := range out.Runs {
		if r.Failed != "" {
			errs = append(errs, fmt.Sprintf("FAILED %s %s round %d: %s", r.Server, r.Scenario, r.Round, r.Failed))
			continue
		}
		if r.Errors > 0 {
			var parts []string
			for _, k := range SortedKeys(r.StatusCounts) {
				if !strings.HasPrefix(k, "2") {
					parts = append(parts, fmt.Sprintf("%s×%d", k, r.StatusCounts[k]))
				}
			}
			for _, k := range SortedKeys(r.ErrorTexts) {
				parts = append(parts, fmt.Sprintf("%q×%d", k, r.ErrorTexts[k]))
			}
			errs = append(errs, fmt.Sprintf("errors %s %s round %d: %d of %d (%s)", r.Server, r.Scenario, r.Round,
				r.Errors, r.Requests, strings.Join(parts, ", ")))
		}
		if r.ClientBound {
			errs = append(errs, fmt.Sprintf("client-bound %s %s round %d: %s", r.Server, r.Scenario, r.Round, r.ClientWhy))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(w)
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
	}
	for _, n := range out.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// WriteGate prints the regression verdicts; it returns how many regressed.
func WriteGate(w io.Writer, regs []reports.Regression, uncompared []string, threshold float64) int {
	n := 0
	if len(regs) == 0 {
		fmt.Fprintln(w, "baseline: nothing in common with this run to compare")
		return 0
	}
	fmt.Fprintf(w, "\nagainst baseline (threshold %.1f%%, α=0.05):\n", threshold*100)
	for _, u := range uncompared {
		fmt.Fprintf(w, "  %-10s %s: the baseline has no run of it\n", "not gated", u)
	}
	for _, r := range regs {
		verdict := "ok"
		switch {
		case r.Regressed:
			verdict = "REGRESSION"
			n++
		case r.Change > threshold:
			verdict = "worse but not significant (~)"
		case r.Change < -threshold && r.Significant:
			verdict = "improved"
		case !r.Significant:
			verdict = "~"
		}
		fmt.Fprintf(w, "  %-10s %s %s %s: %.4g → %.4g (%+.1f%% %s, p=%.3f)\n", verdict, r.Server, r.Scenario, r.Metric,
			r.Baseline, r.Current, math.Abs(r.Change)*100, worseBetter(r.Change), r.P)
	}
	return n
}

func worseBetter(change float64) string {
	if change > 0 {
		return "worse"
	}
	return "better"
}

func withCI(m float64, ci [2]float64, f string) string {
	if m == 0 && ci == [2]float64{} {
		return "-"
	}
	if m == 0 {
		return fmt.Sprintf(f, m)
	}
	pct := math.Max(ci[1]/m-1, 1-ci[0]/m) * 100
	return fmt.Sprintf(f+" ±%.0f%%", m, pct)
}

func num(v float64, f string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(f, v)
}
