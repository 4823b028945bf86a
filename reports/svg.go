package reports

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The charts are hand-made inline SVG: no script, no font, no external
// reference, so the report stays one file that renders offline, and the
// markup is small and deterministic (golden-testable). Every mark carries a
// <title>, which browsers show as a tooltip: exact numbers on hover.

// scale maps data values to pixels along one axis.
type scale struct {
	kind   string // "lin", "log", "log2", "pct"
	lo, hi float64
	p0, p1 float64 // pixel range
	maxX   float64 // pct: where q = 100 (the max) is drawn
	maxQ   float64 // pct: the highest percentile below 100 in the data
}

func (s scale) t(v float64) float64 {
	switch s.kind {
	case "log", "log2":
		// Values at or below zero cannot sit on a log axis: pin them to its
		// bottom rather than draw them off the chart.
		v = math.Max(math.Log(math.Max(v, 1e-12)), s.lo)
	case "pct":
		if v >= 100 {
			v = s.maxX
		} else {
			v = pctX(v)
		}
	}
	lo, hi := s.lo, s.hi
	if hi == lo {
		return (s.p0 + s.p1) / 2
	}
	return s.p0 + (v-lo)/(hi-lo)*(s.p1-s.p0)
}

// pctX spaces percentiles the way HdrHistogram plots do: x = log10(1/(1-q)),
// so 90, 99, 99.9 and 99.99 are equally far apart. 100 (the max) is drawn
// most of a decade past the highest percentile measured (see scale.maxX).
func pctX(q float64) float64 {
	if q > 99.999 {
		q = 99.999
	}
	return math.Log10(1 / (1 - q/100))
}

// newScale builds a scale over [min, max] data values, padded to nice
// bounds for linear scales.
func newScale(kind string, min, max, p0, p1 float64, zero bool) scale {
	s := scale{kind: kind, p0: p0, p1: p1}
	if !finite(min) || !finite(max) || min > max {
		min, max = 0, 1
	}
	switch kind {
	case "log", "log2":
		if max <= 0 {
			max = 1
		}
		if min <= 0 {
			min = max / 100
		}
		if kind == "log" {
			min, max = logFloor(min), logCeil(max)
		}
		s.lo, s.hi = math.Log(min), math.Log(max)
	case "pct":
		// min is the highest percentile below 100 (see lineChart).
		s.maxQ = min
		s.maxX = pctX(min)
		if max >= 100 {
			s.maxX += 0.7
		}
		s.lo, s.hi = 0, s.maxX
	default:
		if zero && min > 0 {
			min = 0
		}
		if max <= min {
			max = min + 1
		}
		step := niceStep((max - min) / 5)
		s.lo = math.Floor(min/step) * step
		s.hi = math.Ceil(max/step) * step
	}
	return s
}

// logFloor and logCeil round to the 1-2-5 series, so a log axis hugs the
// data instead of jumping to whole decades.
func logFloor(v float64) float64 {
	d := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{5, 2, 1} {
		if m*d <= v*1.0001 {
			return m * d
		}
	}
	return d
}

func logCeil(v float64) float64 {
	d := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*d >= v*0.9999 {
			return m * d
		}
	}
	return 10 * d
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

type tick struct {
	v     float64
	label string
}

func (s scale) ticks(xs []float64) []tick {
	var out []tick
	switch s.kind {
	case "pct":
		for _, q := range []float64{50, 90, 99, 99.9, 99.99, 99.999} {
			if q <= s.maxQ+1e-9 {
				out = append(out, tick{q, strconv.FormatFloat(q, 'f', -1, 64) + "%"})
			}
		}
		if s.maxX > pctX(s.maxQ) {
			out = append(out, tick{100, "max"})
		}
	case "log2":
		// One tick per measured level, thinned to at most about a dozen.
		every := len(xs)/12 + 1
		for i, x := range xs {
			if x > 0 && i%every == 0 {
				out = append(out, tick{x, fmtNum(x)})
			}
		}
	case "log":
		lo, hi := math.Exp(s.lo), math.Exp(s.hi)
		decades := math.Log10(hi / lo)
		if !(lo > 0 && decades >= 0 && decades <= 40) {
			return nil
		}
		for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi*1.0001; d *= 10 {
			for _, m := range []float64{1, 2, 5} {
				if decades > 2.5 && m != 1 {
					continue
				}
				v := d * m
				if v >= lo*0.9999 && v <= hi*1.0001 {
					out = append(out, tick{v, fmtNum(v)})
				}
			}
		}
	default:
		// Count the ticks rather than add steps until hi: at extreme
		// magnitudes lo+step == lo, and the loop would never end.
		step := niceStep((s.hi - s.lo) / 5)
		n := math.Floor((s.hi-s.lo)/step + 1e-6)
		if !(n >= 0 && n <= 50) {
			return nil
		}
		for i := 0.0; i <= n; i++ {
			v := s.lo + i*step
			out = append(out, tick{v, fmtNum(v)})
		}
	}
	return out
}

// fmtNum prints a number compactly: 46.8k, 1.2M, 9.75, 0.58.
func fmtNum(v float64) string {
	a := math.Abs(v)
	trim := func(s string) string {
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	switch {
	case a >= 1e6:
		return trim(strconv.FormatFloat(v/1e6, 'f', 2, 64)) + "M"
	case a >= 1e4:
		return trim(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return trim(strconv.FormatFloat(v, 'f', 1, 64))
	case a >= 1:
		return trim(strconv.FormatFloat(v, 'f', 2, 64))
	case a == 0:
		return "0"
	default:
		return trim(strconv.FormatFloat(v, 'f', 3, 64))
	}
}

// svg accumulates one chart.
type svg struct {
	b    strings.Builder
	w, h float64
}

func newSVG(w, h float64, label string) *svg {
	s := &svg{w: w, h: h}
	fmt.Fprintf(&s.b, `<svg class="chart" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`, w, h, w, h, esc(label))
	return s
}

func esc(s string) string { return html.EscapeString(s) }

func f1(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func (s *svg) raw(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func (s *svg) text(x, y float64, anchor, class, txt string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s" class="%s">%s</text>`, f1(x), f1(y), anchor, class, esc(txt))
}

func (s *svg) line(x1, y1, x2, y2 float64, class string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" class="%s"/>`, f1(x1), f1(y1), f1(x2), f1(y2), class)
}

func (s *svg) done() template.HTML {
	s.b.WriteString("</svg>")
	return template.HTML(s.b.String()) //nolint:gosec // built from escaped parts only
}

// bar is one horizontal bar of a bar chart.
type bar struct {
	Label  string
	Color  string
	Value  float64
	Lo, Hi float64 // CI; both zero when unknown
	Note   string  // a warning shown after the label (client-bound, failed rounds)
	Tip    string
}

// barChart draws horizontal bars with CI whiskers, one per server; the best
// bar is marked, since that is what a reader looks for first.
func barChart(title, unit string, bars []bar, higherBetter bool) template.HTML {
	const labelW, rowH, top, right = 128.0, 28.0, 6.0, 60.0
	w := 370.0
	h := top + rowH*float64(len(bars)) + 26
	s := newSVG(w, h, title)
	max := 0.0
	best := -1
	for i, b := range bars {
		max = math.Max(max, math.Max(b.Value, b.Hi))
		if best < 0 || (higherBetter && b.Value > bars[best].Value) || (!higherBetter && b.Value < bars[best].Value && b.Value > 0) {
			best = i
		}
	}
	x := newScale("lin", 0, max, labelW, w-right, true)
	axisY := top + rowH*float64(len(bars))
	for _, t := range x.ticks(nil) {
		px := x.t(t.v)
		s.line(px, top-2, px, axisY, "grid")
		s.text(px, axisY+14, "middle", "tick", t.label)
	}
	for i, b := range bars {
		y := top + rowH*float64(i)
		cy := y + rowH/2
		label := b.Label
		if r := []rune(label); len(r) > 18 {
			label = string(r[:17]) + "…"
		}
		s.raw(`<g class="bar">`)
		s.raw(`<title>%s</title>`, esc(b.Tip))
		s.text(labelW-8, cy+4, "end", "lbl", label)
		if b.Note != "" {
			s.text(8, cy+4, "start", "warn", "⚠")
		}
		bw := math.Max(x.t(b.Value)-labelW, 1)
		s.raw(`<rect x="%s" y="%s" width="%s" height="%s" rx="3" fill="%s"/>`, f1(labelW), f1(y+5), f1(bw), f1(rowH-10), b.Color)
		end := x.t(b.Value)
		if b.Hi > 0 && b.Hi >= b.Lo {
			lo, hi := x.t(b.Lo), x.t(b.Hi)
			s.line(lo, cy, hi, cy, "whisker")
			s.line(lo, cy-5, lo, cy+5, "whisker")
			s.line(hi, cy-5, hi, cy+5, "whisker")
			end = math.Max(end, hi)
		}
		cls := "val"
		if i == best && len(bars) > 1 {
			cls = "val best"
		}
		s.text(end+5, cy+4, "start", cls, fmtNum(b.Value)+unit)
		s.raw(`</g>`)
	}
	s.line(labelW, top-2, labelW, axisY, "axis")
	return s.done()
}

// series is one line of a line chart.
type series struct {
	Name   string
	Color  string
	X, Y   []float64
	Lo, Hi []float64 // optional CI band, same length as Y
	Dashed bool
	Dots   bool
}

// lineChart draws series on the given x and y scale kinds ("lin", "log",
// "log2", "pct"), with axis titles.
func lineChart(title, xKind, xTitle, yKind, yTitle string, ss []series) template.HTML {
	const w, h, left, right, top, bottom = 460.0, 250.0, 50.0, 14.0, 10.0, 40.0
	s := newSVG(w, h, title)
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	var xs []float64
	seenX := map[float64]bool{}
	for _, sr := range ss {
		for i := range sr.X {
			xmin, xmax = math.Min(xmin, sr.X[i]), math.Max(xmax, sr.X[i])
			if !seenX[sr.X[i]] {
				seenX[sr.X[i]] = true
				xs = append(xs, sr.X[i])
			}
			ymin, ymax = math.Min(ymin, sr.Y[i]), math.Max(ymax, sr.Y[i])
			if sr.Hi != nil {
				ymax = math.Max(ymax, sr.Hi[i])
				ymin = math.Min(ymin, sr.Lo[i])
			}
		}
	}
	if math.IsInf(xmin, 0) {
		s.text(w/2, h/2, "middle", "tick", "no data")
		return s.done()
	}
	// A log y axis only pays when the values span more than a decade.
	if yKind == "auto" {
		yKind = "lin"
		if ymin > 0 && ymax/ymin > 15 {
			yKind = "log"
		}
	}
	sort.Float64s(xs)
	if xKind == "pct" {
		// The pct scale wants the highest percentile below 100.
		xmin = 0
		for _, v := range xs {
			if v < 100 {
				xmin = math.Max(xmin, v)
			}
		}
	}
	x := newScale(xKind, xmin, xmax, left, w-right, xKind == "lin")
	y := newScale(yKind, ymin, ymax, h-bottom, top, yKind == "lin")
	for _, t := range x.ticks(xs) {
		px := x.t(t.v)
		s.line(px, top, px, h-bottom, "grid")
		s.text(px, h-bottom+14, "middle", "tick", t.label)
	}
	for _, t := range y.ticks(nil) {
		py := y.t(t.v)
		s.line(left, py, w-right, py, "grid")
		s.text(left-5, py+4, "end", "tick", t.label)
	}
	s.line(left, h-bottom, w-right, h-bottom, "axis")
	s.line(left, top, left, h-bottom, "axis")
	s.text((left+w-right)/2, h-6, "middle", "axt", xTitle)
	s.raw(`<text transform="translate(12 %s) rotate(-90)" text-anchor="middle" class="axt">%s</text>`, f1((top+h-bottom)/2), esc(yTitle))
	for _, sr := range ss {
		if len(sr.X) == 0 {
			continue
		}
		s.raw(`<g class="series" data-server="%s"><title>%s</title>`, esc(sr.Name), esc(sr.Name))
		if sr.Hi != nil {
			var pb strings.Builder
			for i := range sr.X {
				fmt.Fprintf(&pb, "%s,%s ", f1(x.t(sr.X[i])), f1(y.t(sr.Hi[i])))
			}
			for i := len(sr.X) - 1; i >= 0; i-- {
				fmt.Fprintf(&pb, "%s,%s ", f1(x.t(sr.X[i])), f1(y.t(sr.Lo[i])))
			}
			s.raw(`<polygon points="%s" fill="%s" class="band"/>`, strings.TrimSpace(pb.String()), sr.Color)
		}
		var pb strings.Builder
		for i := range sr.X {
			fmt.Fprintf(&pb, "%s,%s ", f1(x.t(sr.X[i])), f1(y.t(sr.Y[i])))
		}
		cls := "ln"
		if sr.Dashed {
			cls = "ln dash"
		}
		s.raw(`<polyline points="%s" stroke="%s" class="%s"/>`, strings.TrimSpace(pb.String()), sr.Color, cls)
		if sr.Dots {
			for i := range sr.X {
				s.raw(`<circle cx="%s" cy="%s" r="3" fill="%s"><title>%s: %s → %s</title></circle>`,
					f1(x.t(sr.X[i])), f1(y.t(sr.Y[i])), sr.Color, esc(sr.Name), fmtNum(sr.X[i]), fmtNum(sr.Y[i]))
			}
		}
		s.raw(`</g>`)
	}
	return s.done()
}

// stackBar is the conformance score as one horizontal stacked bar: the
// share of each verdict, in verdict order.
func stackBar(sc Score, w float64) template.HTML {
	const h = 14.0
	s := &svg{}
	fmt.Fprintf(&s.b, `<svg class="stack" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="verdicts">`, w, h, w, h)
	if sc.Total == 0 {
		s.raw(`<rect x="0" y="0" width="%g" height="%g" rx="3" class="v-none"/>`, w, h)
		return s.done()
	}
	x := 0.0
	for _, v := range verdictOrder {
		n := sc.Counts[v]
		if n == 0 {
			continue
		}
		bw := w * float64(n) / float64(sc.Total)
		s.raw(`<rect x="%s" y="0" width="%s" height="%g" class="%s"><title>%d %s</title></rect>`, f1(x), f1(bw), h, verdictClass(v), n, v)
		x += bw
	}
	return s.done()
}
