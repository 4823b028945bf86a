package reports

import (
	"bytes"
	"strings"
	"testing"
)

func TestMarkdownGolden(t *testing.T) {
	tests := []struct {
		name  string
		files []string
	}{
		{"summary.md", nil},
		{"summary-check-only.md", []string{"testdata/check.json"}},
		{"summary-bench-only.md", []string{"testdata/bench.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Build(loadFixtures(t, tc.files...)).WriteMarkdown(&buf); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, buf.Bytes())
		})
	}
}

func TestMarkdownEscapesTableCells(t *testing.T) {
	c := &Check{Schema: CheckSchema, Servers: []CheckServer{{Name: "a|b", Version: "1\n2", Results: []CheckResult{{ID: "x/y/z", Level: "MUST", Verdict: "FAIL"}}}}}
	var buf bytes.Buffer
	if err := Build(&Inputs{Checks: []*Check{c}}).WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	if !strings.Contains(md, `| a\|b | 1 2 |`) {
		t.Errorf("pipe or newline not escaped in a table cell:\n%s", md)
	}
}

func TestScorePercentNeverRoundsUpToPerfect(t *testing.T) {
	s := Score{Counts: map[string]int{VerdictPass: 299, VerdictFail: 1}}
	if got := floorPct(s.Percent()); got >= 100 {
		t.Errorf("299/300 prints as %v%%, want below 100", got)
	}
}

// TestSameWorkRendered: the servers' answers before the measurement are in
// the Markdown and the HTML, a request they answer differently marked, and
// the bench's notes and differences shown.
func TestSameWorkRendered(t *testing.T) {
	b := &Bench{Schema: BenchSchema, Runs: []BenchRun{}, Summary: []BenchSum{}, Comparisons: []Comparison{},
		Servers: []BenchServ{
			{Name: "wsgikit", Targets: []BenchTarget{{Scenario: "/", Method: "GET", Path: "/", Status: 200, Bytes: 5, Digest: "sha256:aaaa"},
				{Scenario: "/t", Method: "GET", Path: "/t", Status: 200, Bytes: 2048, Digest: "sha256:cccc", Varies: true}}},
			{Name: "uwsgi", Targets: []BenchTarget{{Scenario: "/", Method: "GET", Path: "/", Status: 500, Bytes: 9, Digest: "sha256:bbbb"},
				{Scenario: "/t", Method: "GET", Path: "/t", Status: 200, Bytes: 2048, Digest: "sha256:dddd"}}},
		},
		Different: []string{"GET /: wsgikit 200 sha256:aaaa (5 B); uwsgi 500 sha256:bbbb (9 B)"},
		Notes:     []string{"refused: the servers do not do the same work"},
	}
	var md bytes.Buffer
	if err := Build(&Inputs{Benches: []*Bench{b}}).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| `GET /` | **200 · 5 B · sha256:aaaa** | **500 · 9 B · sha256:bbbb** |",
		"| `GET /t` | 200 · 2.0 KiB · sha256:cccc (varies) | 200 · 2.0 KiB · sha256:dddd |",
		"**Different work**", "Note: refused: the servers do not do the same work"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	page := string(renderHTML(t, &Inputs{Benches: []*Bench{b}}))
	for _, want := range []string{`id="same-work"`, `<tr class="r-regressed"><td><code>GET /</code>`, "500 · 9 B · sha256:bbbb", "Different work"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

// TestCrossChecksRendered: the driver-against-wrk lines reach both the
// Markdown and the HTML report, with both rates and both CPU costs.
func TestCrossChecksRendered(t *testing.T) {
	b := &Bench{Schema: BenchSchema, Runs: []BenchRun{}, Summary: []BenchSum{}, Comparisons: []Comparison{},
		Servers: []BenchServ{{Name: "nginx-static"}},
		CrossChecks: []CrossCheck{
			{Server: "nginx-static", Scenario: "hello", Concurrency: 32, VegetaRPS: 210000, WrkRPS: 200000, Engine: "loop", ClientCPUus: 4.5, WrkCPUus: 4.95},
			{Server: "nginx-static", Scenario: "upload", Concurrency: 32, Error: "skipped: wrk cross-check runs single-request GET scenarios only"},
		}}
	want := []string{"wrk cross-check nginx-static hello c=32: wsgikit (loop) 210000 req/s, wrk 200000 req/s: 1.05× wrk's rate; client CPU per request 4.50 µs vs wrk's 4.95 µs (1.10× wrk's efficiency) (round 1)",
		"wrk cross-check nginx-static upload c=32: skipped: wrk cross-check runs single-request GET scenarios only"}
	var md bytes.Buffer
	if err := Build(&Inputs{Benches: []*Bench{b}}).WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	page := string(renderHTML(t, &Inputs{Benches: []*Bench{b}}))
	for _, w := range want {
		if !strings.Contains(md.String(), "- "+w) {
			t.Errorf("markdown lacks %q:\n%s", w, md.String())
		}
		if !strings.Contains(page, strings.ReplaceAll(w, "'", "&#39;")) {
			t.Errorf("HTML lacks %q", w)
		}
	}
}
