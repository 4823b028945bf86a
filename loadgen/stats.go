package loadgen

import (
	"fmt"
	"math"
	"slices"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
)

// Confidence is the level of every confidence interval the driver reports.
const Confidence = 0.95

// Alpha is the significance level of every comparison (benchstat's default).
const Alpha = 0.05

// Summary is the median of per-run values with a distribution-free
// confidence interval from order statistics (benchstat's "AssumeNothing").
// Lo and Hi are ±Inf when there are too few runs for the interval (n < 6
// at 95%).
type Summary struct {
	N          int
	Median     float64
	Lo, Hi     float64
	Confidence float64 // actual level of [Lo, Hi], >= Confidence
}

// Summarize reduces per-run values (one per run: never pooled per-request
// samples, which are autocorrelated) to their median and its CI.
func Summarize(values []float64) Summary {
	if len(values) == 0 {
		return Summary{Median: math.NaN(), Lo: math.Inf(-1), Hi: math.Inf(1)}
	}
	s := benchmath.NewSample(slices.Clone(values), &benchmath.DefaultThresholds)
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	return Summary{N: len(values), Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi, Confidence: sum.Confidence}
}

// CI returns [Lo, Hi] with infinities replaced by the sample's extremes, for
// JSON (which has no infinities); Finite says whether it was a real CI.
func (s Summary) CI(values []float64) (ci [2]float64, finite bool) {
	finite = !math.IsInf(s.Lo, 0) && !math.IsInf(s.Hi, 0)
	if finite {
		return [2]float64{s.Lo, s.Hi}, true
	}
	if len(values) == 0 {
		return [2]float64{}, false
	}
	return [2]float64{slices.Min(values), slices.Max(values)}, false
}

// PctRange is benchstat's "± x%" for the interval.
func (s Summary) PctRange() string {
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) {
		return "±∞"
	}
	if s.Median == 0 {
		return "±0%"
	}
	return fmt.Sprintf("±%.0f%%", 100*math.Max(s.Hi/s.Median-1, 1-s.Lo/s.Median))
}

// Test is a two-sided Mann–Whitney U test of two sets of per-run values.
type Test struct {
	N1, N2      int
	U           float64 // U statistic of the first sample
	P           float64
	Significant bool // P <= Alpha (benchstat prints "~" otherwise)
	Warning     string
}

// Compare runs the U test through benchmath (exact distribution for small
// samples, normal approximation with tie correction for large ones) and
// reports U from go-moremath, which benchmath wraps.
func Compare(a, b []float64) Test {
	sa := benchmath.NewSample(slices.Clone(a), &benchmath.DefaultThresholds)
	sb := benchmath.NewSample(slices.Clone(b), &benchmath.DefaultThresholds)
	c := benchmath.AssumeNothing.Compare(sa, sb)
	t := Test{N1: c.N1, N2: c.N2, P: c.P, Significant: c.P <= c.Alpha}
	if len(a) == 0 || len(b) == 0 {
		t.N1, t.N2, t.P, t.Significant = len(a), len(b), 1, false
	}
	if r, err := stats.MannWhitneyUTest(a, b, stats.LocationDiffers); err == nil {
		t.U = r.U
	}
	if len(c.Warnings) > 0 {
		t.Warning = c.Warnings[0].Error()
	}
	return t
}

// Delta is benchstat's column: "~" when not significant, else the change of
// the medians in percent.
func (t Test) Delta(old, new float64) string {
	if !t.Significant {
		return "~"
	}
	if old == 0 {
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", (new/old-1)*100)
}
