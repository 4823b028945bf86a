package conformance

import (
	"fmt"

	"github.com/wsgikit/wsgikit/conformance/framework"
	"github.com/wsgikit/wsgikit/reports"
)

// failing is the rule Failed applies to one verdict: a FAIL, or with
// strict a NON-STRICT.
func failing(verdict string, strict bool) bool {
	return verdict == framework.FAIL || strict && verdict == framework.NONSTRICT
}

// Worse compares a run with a baseline (an earlier check.json) the way a CI
// gate needs it: a server's known failures pass, what fails now and did
// not then is listed, one line each (a spec the baseline lacks counts as
// not failing then). Servers the baseline lacks are not judged: notes says
// so.
func Worse(cur, base *reports.Check, strict bool) (worse, notes []string) {
	was := map[string]map[string]string{} // server → spec → verdict
	for _, s := range base.Servers {
		was[s.Name] = map[string]string{}
		for _, r := range s.Results {
			was[s.Name][r.ID] = r.Verdict
		}
	}
	for _, s := range cur.Servers {
		before, ok := was[s.Name]
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: not in the baseline, not judged against it", s.Name))
			continue
		}
		for _, r := range s.Results {
			if !failing(r.Verdict, strict) {
				continue
			}
			then, known := before[r.ID]
			switch {
			case !known:
				worse = append(worse, fmt.Sprintf("%s %s: %s (a spec the baseline does not have)", s.Name, r.ID, r.Verdict))
			case !failing(then, strict):
				worse = append(worse, fmt.Sprintf("%s %s: %s → %s", s.Name, r.ID, then, r.Verdict))
			}
		}
	}
	return worse, notes
}
