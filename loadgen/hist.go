package loadgen

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/wsgikit/wsgikit/reports"
)

// Latencies are recorded exactly (to 3 significant digits) in microseconds
// from 1 µs to 10 minutes: HdrHistogram, not vegeta's t-digest estimate,
// whose tails are approximate.
const (
	histMinUS = 1
	histMaxUS = int64(10 * time.Minute / time.Microsecond)
	histSig   = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMinUS, histMaxUS, histSig) }

// record adds one latency, clamped into the trackable range.
func record(h *hdrhistogram.Histogram, d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histMinUS {
		us = histMinUS
	}
	if us > histMaxUS {
		us = histMaxUS
	}
	h.RecordValue(us)
}

// msAt is the latency at quantile q (0..100) in milliseconds.
func msAt(h *hdrhistogram.Histogram, q float64) float64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	return float64(h.ValueAtQuantile(q)) / 1000
}

// latencyOf reduces a histogram to the report's percentiles.
func latencyOf(h *hdrhistogram.Histogram) reports.Latency {
	if h == nil || h.TotalCount() == 0 {
		return reports.Latency{}
	}
	return reports.Latency{P50: msAt(h, 50), P90: msAt(h, 90), P99: msAt(h, 99), Max: float64(h.Max()) / 1000}
}

// percentileCurve samples the percentile spectrum for plots (log 1/(1-q)).
func percentileCurve(h *hdrhistogram.Histogram) []reports.PctPoint {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	qs := []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}
	pts := make([]reports.PctPoint, 0, len(qs))
	for _, q := range qs {
		v := msAt(h, q)
		if q == 100 {
			v = float64(h.Max()) / 1000
		}
		pts = append(pts, reports.PctPoint{Q: q, Ms: v})
	}
	return pts
}
