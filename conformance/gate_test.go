package conformance

import (
	"slices"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/reports"
)

func TestWorse(t *testing.T) {
	check := func(servers map[string]map[string]string) *reports.Check {
		c := &reports.Check{Schema: reports.CheckSchema}
		for name, verdicts := range servers {
			s := reports.CheckServer{Name: name}
			for id, v := range verdicts {
				s.Results = append(s.Results, reports.CheckResult{ID: id, Verdict: v})
			}
			c.Servers = append(c.Servers, s)
		}
		return c
	}
	base := check(map[string]map[string]string{"g": {"a": "FAIL", "b": "PASS", "c": "NON-STRICT", "d": "PASS"}})
	cur := check(map[string]map[string]string{
		"g":   {"a": "FAIL", "b": "FAIL", "c": "NON-STRICT", "d": "NON-STRICT", "new": "FAIL"},
		"new": {"a": "FAIL"},
	})
	for _, tc := range []struct {
		strict bool
		want   []string
	}{
		{false, []string{"g b: PASS → FAIL", "g new: FAIL (a spec the baseline does not have)"}},
		{true, []string{"g b: PASS → FAIL", "g d: PASS → NON-STRICT", "g new: FAIL (a spec the baseline does not have)"}},
	} {
		worse, notes := Worse(cur, base, tc.strict)
		slices.Sort(worse)
		if strings.Join(worse, "|") != strings.Join(tc.want, "|") {
			t.Errorf("strict=%v: worse %q, want %q", tc.strict, worse, tc.want)
		}
		if len(notes) != 1 || !strings.HasPrefix(notes[0], "new: not in the baseline") {
			t.Errorf("notes %q", notes)
		}
	}
}
