package reports

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func renderHTML(t *testing.T, in *Inputs) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Build(in).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHTMLStructureGolden pins the report's structure, not its bytes: an
// outline of the elements that carry meaning (sections, headings, tables,
// matrix rows with their verdicts, charts with their mark counts). Styles,
// scripts and SVG coordinates are left out, so restyling does not churn
// the golden file but losing a row, a verdict or a chart does.
func TestHTMLStructureGolden(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		{"report.outline", nil},
		{"report-check-only.outline", []string{"testdata/check.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := html.Parse(bytes.NewReader(renderHTML(t, loadFixtures(t, tc.files...))))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			outline(&b, doc, 0)
			golden(t, tc.name, []byte(b.String()))
		})
	}
}

var spaces = regexp.MustCompile(`\s+`)

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		if n.Type == html.ElementNode && (n.Data == "svg" || n.Data == "details") {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(spaces.ReplaceAllString(b.String(), " "))
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, c string) bool {
	v, _ := attr(n, "class")
	for _, f := range strings.Fields(v) {
		if f == c {
			return true
		}
	}
	return false
}

func label(n *html.Node) string {
	s := n.Data
	if id, ok := attr(n, "id"); ok {
		s += "#" + id
	}
	if c, ok := attr(n, "class"); ok && c != "" {
		s += "." + strings.Join(strings.Fields(c), ".")
	}
	return s
}

func outline(b *strings.Builder, n *html.Node, depth int) {
	if n.Type == html.ElementNode {
		ind := strings.Repeat("  ", depth)
		switch {
		case n.Data == "style" || n.Data == "script" || n.Data == "head":
			fmt.Fprintf(b, "%s%s\n", ind, n.Data)
			return
		case n.Data == "svg":
			counts := map[string]int{}
			var walk func(*html.Node)
			walk = func(m *html.Node) {
				for c := m.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && c.Data != "title" && c.Data != "g" {
						counts[c.Data]++
					}
					walk(c)
				}
			}
			walk(n)
			var parts []string
			for _, k := range sortedKeys(counts) {
				parts = append(parts, fmt.Sprintf("%s×%d", k, counts[k]))
			}
			al, _ := attr(n, "aria-label")
			fmt.Fprintf(b, "%s%s %q [%s]\n", ind, label(n), al, strings.Join(parts, " "))
			return
		case n.Data == "tr" && hasClass(n, "spec"):
			id, _ := attr(n, "data-id")
			var vs []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && hasClass(c, "cell") {
					v := "—"
					for d := c.FirstChild; d != nil; d = d.NextSibling {
						if d.Type == html.ElementNode && d.Data == "details" {
							v = text(d.FirstChild)
						}
					}
					vs = append(vs, v)
				}
			}
			flags := ""
			if _, ok := attr(n, "data-diff"); ok {
				flags += " diff"
			}
			if _, ok := attr(n, "data-fail"); ok {
				flags += " fail"
			}
			fmt.Fprintf(b, "%sspec %s%s: %s\n", ind, id, flags, strings.Join(vs, " "))
			return
		case hasClass(n, "score") || n.Data == "a" || n.Data == "tr" || n.Data == "h1" || n.Data == "h2" || n.Data == "h3" || n.Data == "h4" || n.Data == "figcaption" || n.Data == "li" || n.Data == "p" || n.Data == "dl" || n.Data == "label":
			fmt.Fprintf(b, "%s%s: %s\n", ind, label(n), text(n))
			return
		}
		fmt.Fprintf(b, "%s%s\n", ind, label(n))
		depth++
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		outline(b, c, depth)
	}
}

// externalRef finds what would make a browser reach the network: a src or
// href to http(s) or a protocol-relative URL, an @import, a url() that is
// not a fragment or data URL, or a <link>/<base>/<iframe>/<object> at all.
var externalRef = regexp.MustCompile(`(?i)(?:\b(?:src|href|srcset|action|poster|data|xlink:href)\s*=\s*["']?\s*(?:https?:|//|ftp:))|@import|url\(\s*["']?\s*(?:https?:|//)|<link\b|<base\b|<iframe\b|<object\b|<embed\b|\bfetch\(|XMLHttpRequest|new\s+WebSocket`)

func TestHTMLHasNoExternalReferences(t *testing.T) {
	page := renderHTML(t, loadFixtures(t))
	if m := externalRef.FindAll(page, -1); len(m) > 0 {
		var found []string
		for _, x := range m {
			found = append(found, string(x))
		}
		t.Errorf("the report reaches outside itself: %q", found)
	}
	// Every resource is inline: one <style>, one <script>, no src at all.
	for _, tag := range []string{"<style>", "<script>"} {
		if got := bytes.Count(page, []byte(tag)); got != 1 {
			t.Errorf("%d %s elements, want exactly 1 (inline)", got, tag)
		}
	}
	if bytes.Contains(page, []byte(" src=")) {
		t.Error("an element has a src attribute; the report must embed everything")
	}
}

// TestExternalRefDetector makes sure the detector above would catch what it
// claims to, so a passing test means something.
func TestExternalRefDetector(t *testing.T) {
	for _, bad := range []string{
		`<script src="https://cdn.example/x.js">`, `<img src=//x/y.png>`, `<a href="http://x">`,
		`@import "x.css";`, `background:url( 'https://x/y.png')`, `<link rel=stylesheet href=x.css>`,
	} {
		if !externalRef.MatchString(bad) {
			t.Errorf("detector misses %q", bad)
		}
	}
	for _, ok := range []string{`<a href="#conformance">`, `<svg viewBox="0 0 1 1">`, `fill="url(#g)"`} {
		if externalRef.MatchString(ok) {
			t.Errorf("detector flags harmless %q", ok)
		}
	}
}

// TestHTMLEscapesResults feeds hostile strings through every field a result
// file can carry: a results file from an untrusted server must not be able
// to run script in the reader's browser.
func TestHTMLEscapesResults(t *testing.T) {
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>"'`
	c := &Check{Schema: CheckSchema, Machine: &Machine{CPUModel: evil, Hostname: evil}, Servers: []CheckServer{
		{Name: evil, Version: evil, Results: []CheckResult{{ID: "x/" + evil + "/z", Level: evil, Verdict: VerdictFail,
			Detail: evil, Transcript: "> " + evil, Section: evil, Sentence: evil, Stimulus: evil}}},
		{Name: "b" + evil, Error: evil},
	}}
	bn := &Bench{Schema: BenchSchema, Servers: []BenchServ{{Name: evil, Version: evil}},
		Runs:        []BenchRun{{Server: evil, Scenario: evil, Mode: "closed", Concurrency: 1, RPS: 10, Failed: evil, Percentiles: []PctPoint{{50, 1}, {99, 2}}, Timeline: []TimePoint{{1, 10, 1, 2}}}},
		Summary:     []BenchSum{{Server: evil, Scenario: evil, Mode: "closed", Concurrency: 1, RPSMedian: 10}},
		Comparisons: []Comparison{{A: evil, B: evil, Scenario: evil, Metric: evil, Ratio: 1}},
		Regressions: []Regression{{Server: evil, Scenario: evil, Metric: evil}},
	}
	page := renderHTML(t, &Inputs{Checks: []*Check{c}, Benches: []*Bench{bn}})
	if n := bytes.Count(page, []byte("<script")); n != 1 {
		t.Errorf("%d <script elements, want only the report's own", n)
	}
	for _, bad := range []string{"<img", "<script>alert"} {
		if bytes.Contains(page, []byte(bad)) {
			t.Errorf("unescaped %q in the page", bad)
		}
	}
	var md bytes.Buffer
	if err := Build(&Inputs{Checks: []*Check{c}}).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
}

func TestFmtNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.583: "0.583", 2.1: "2.1", 14.84: "14.8", 6230: "6230", 46800: "46.8k", 1234567: "1.23M", 10000: "10k"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestPercentileAxis(t *testing.T) {
	// 90, 99, 99.9 are equally spaced; the max sits past the last percentile.
	s := newScale("pct", 99.99, 100, 0, 400, false)
	d1, d2 := s.t(99)-s.t(90), s.t(99.9)-s.t(99)
	if d1 <= 0 || (d1-d2) > 1e-6 || (d2-d1) > 1e-6 {
		t.Errorf("90→99 spans %v px, 99→99.9 spans %v px; want equal", d1, d2)
	}
	if !(s.t(100) > s.t(99.99) && s.t(100) <= 400+1e-9) {
		t.Errorf("max at %v, last percentile at %v", s.t(100), s.t(99.99))
	}
	var labels []string
	for _, tk := range s.ticks(nil) {
		labels = append(labels, tk.label)
	}
	sort.Strings(labels)
	if got := strings.Join(labels, " "); got != "50% 90% 99% 99.9% 99.99% max" {
		t.Errorf("ticks = %s", got)
	}
}
