package reports

import (
	"strings"
)

// verdictOrder is the order verdicts are counted and shown in: worst first
// after PASS, so a score line reads "what passed, then what to look at".
var verdictOrder = []string{VerdictPass, VerdictFail, VerdictNonStrict, VerdictInfo, VerdictUnsupported, VerdictError}

// Score counts one server's verdicts.
type Score struct {
	Counts map[string]int
	Total  int
}

// Bad is the number of verdicts that blame the server (FAIL, NON-STRICT).
func (s Score) Bad() int { return s.Counts[VerdictFail] + s.Counts[VerdictNonStrict] }

// Judged is the number of specs with a PASS, FAIL or NON-STRICT verdict: the
// denominator of the conformance percentage (INFO, UNSUPPORTED and ERROR
// say nothing about conformance).
func (s Score) Judged() int {
	return s.Counts[VerdictPass] + s.Counts[VerdictFail] + s.Counts[VerdictNonStrict]
}

// Percent is PASS / judged, 0..100; 0 when nothing was judged.
func (s Score) Percent() float64 {
	if s.Judged() == 0 {
		return 0
	}
	return 100 * float64(s.Counts[VerdictPass]) / float64(s.Judged())
}

// ConfServer is one column of the matrix.
type ConfServer struct {
	Name, Version, Error string
	Score                Score
	MustFails            []string // IDs of failed MUST specs, for the summaries
}

// ConfCell is one verdict in the matrix; Missing when the server has no
// result for the spec (not run, or the server could not start).
type ConfCell struct {
	Server             string
	Verdict            string
	Detail, Transcript string
	Seconds            float64
	Missing            bool
}

// ConfRow is one spec across servers.
type ConfRow struct {
	ID, Level, Sentence, Stimulus string
	Cells                         []ConfCell
	Differs                       bool // servers that ran it disagree
	Failing                       bool // some server earned FAIL, NON-STRICT or ERROR
}

// ConfSection groups rows by PEP 3333 section or RFC 9112 area.
type ConfSection struct {
	Name string
	Rows []*ConfRow
	// Per server (same order as Servers): how many rows passed and how many
	// were judged, for the section header line.
	Pass, Bad []int
}

// Conformance is the matrix view of merged check results.
type Conformance struct {
	Servers  []ConfServer
	Sections []*ConfSection
	Specs    int
}

// sectionOf names the group a result belongs to: its section field, else the
// ID's first two path elements ("pep3333/environ/x" → "PEP 3333 / environ").
func sectionOf(r CheckResult) string {
	if s := strings.TrimSpace(r.Section); s != "" {
		return s
	}
	parts := strings.Split(r.ID, "/")
	if len(parts) < 2 {
		return "Other"
	}
	head := parts[0]
	switch strings.ToLower(head) {
	case "pep3333":
		head = "PEP 3333"
	case "http1", "rfc9112":
		head = "RFC 9112"
	case "rfc9110":
		head = "RFC 9110"
	}
	if len(parts) == 2 {
		return head
	}
	return head + " / " + parts[1]
}

// BuildConformance turns merged check results into the matrix view. Rows
// keep the order in which specs first appear (the suite's order), grouped by
// section in order of first appearance.
func BuildConformance(c *Check) *Conformance {
	if c == nil {
		return nil
	}
	v := &Conformance{}
	type rowRef struct {
		row *ConfRow
		sec *ConfSection
	}
	rows := map[string]rowRef{}
	secs := map[string]*ConfSection{}
	n := len(c.Servers)
	for si, s := range c.Servers {
		cs := ConfServer{Name: s.Name, Version: s.Version, Error: s.Error, Score: Score{Counts: map[string]int{}}}
		for _, r := range s.Results {
			verdict := strings.ToUpper(strings.TrimSpace(r.Verdict))
			cs.Score.Counts[verdict]++
			cs.Score.Total++
			if verdict == VerdictFail && strings.EqualFold(r.Level, "MUST") {
				cs.MustFails = append(cs.MustFails, r.ID)
			}
			ref, ok := rows[r.ID]
			if !ok {
				name := sectionOf(r)
				sec := secs[name]
				if sec == nil {
					sec = &ConfSection{Name: name}
					secs[name] = sec
					v.Sections = append(v.Sections, sec)
				}
				row := &ConfRow{ID: r.ID, Level: strings.ToUpper(r.Level), Sentence: r.Sentence, Stimulus: r.Stimulus, Cells: make([]ConfCell, n)}
				for i := range row.Cells {
					row.Cells[i] = ConfCell{Server: c.Servers[i].Name, Missing: true}
				}
				sec.Rows = append(sec.Rows, row)
				ref = rowRef{row, sec}
				rows[r.ID] = ref
			}
			if ref.row.Sentence == "" {
				ref.row.Sentence = r.Sentence
			}
			if ref.row.Stimulus == "" {
				ref.row.Stimulus = r.Stimulus
			}
			ref.row.Cells[si] = ConfCell{Server: s.Name, Verdict: verdict, Detail: r.Detail, Transcript: r.Transcript, Seconds: r.Seconds}
		}
		v.Servers = append(v.Servers, cs)
	}
	for _, sec := range v.Sections {
		sec.Pass, sec.Bad = make([]int, n), make([]int, n)
		for _, row := range sec.Rows {
			first := ""
			for i, cell := range row.Cells {
				if cell.Missing {
					continue
				}
				switch cell.Verdict {
				case VerdictPass:
					sec.Pass[i]++
				case VerdictFail, VerdictNonStrict:
					sec.Bad[i]++
					row.Failing = true
				case VerdictError:
					row.Failing = true
				}
				// INFO cells differ when the option taken differs.
				key := cell.Verdict
				if cell.Verdict == VerdictInfo {
					key += "|" + cell.Detail
				}
				if first == "" {
					first = key
				} else if key != first {
					row.Differs = true
				}
			}
		}
		v.Specs += len(sec.Rows)
	}
	return v
}

// verdictClass is the CSS class of a verdict.
func verdictClass(v string) string {
	switch v {
	case VerdictPass:
		return "v-pass"
	case VerdictFail:
		return "v-fail"
	case VerdictNonStrict:
		return "v-ns"
	case VerdictInfo:
		return "v-info"
	case VerdictUnsupported:
		return "v-unsup"
	case VerdictError:
		return "v-err"
	}
	return "v-none"
}
