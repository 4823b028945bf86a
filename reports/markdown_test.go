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
