package framework

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wsgikit/wsgikit/internal/textutil"
)

// Levels of a requirement.
const (
	MUST   = "MUST"
	SHOULD = "SHOULD"
	MAY    = "MAY"
	INFO   = "INFO"
)

// Verdicts (the same strings as reports.Verdict*).
const (
	PASS        = "PASS"
	FAIL        = "FAIL"
	NONSTRICT   = "NON-STRICT"
	VINFO       = "INFO"
	UNSUPPORTED = "UNSUPPORTED"
	ERROR       = "ERROR"
)

// Outcome is one acceptable (or unacceptable) observation of a spec, tagged
// with the verdict it earns. A spec lists every outcome it can report, so the
// grading is data that readers can see next to the spec sentence.
type Outcome struct {
	Name    string
	Verdict string
	Desc    string
}

// Spec is one requirement: stable ID, level, the sentence it tests, the
// stimulus, the outcomes and the code that observes which one happened.
type Spec struct {
	ID       string // "pep3333/start_response/exc-info-after-headers"
	Level    string // MUST, SHOULD, MAY, INFO
	Section  string // "PEP 3333 / start_response"
	Sentence string // the spec sentence (quoted or paraphrased)
	Stimulus string // what the suite sends / what the probe app does
	Outcomes []Outcome
	// Run observes the server and names the outcome. Harness trouble is
	// reported with t.Fatalf (ERROR), never as an outcome.
	Run func(t *T) Result
	// Timeout bounds the whole spec (default 20 s).
	Timeout time.Duration
	// Disruptive specs may take the server down (an app raising
	// SystemExit); they run after all the others.
	Disruptive bool
}

// Result is what Run observed.
type Result struct {
	Outcome string
	Detail  string
}

// Out builds a Result.
func Out(outcome, format string, a ...any) Result {
	return Result{Outcome: outcome, Detail: fmt.Sprintf(format, a...)}
}

// Pass / Fail / NonStrict / Info / Unsupported build outcomes tersely.
func Pass(name, desc string) Outcome      { return Outcome{name, PASS, desc} }
func Fail(name, desc string) Outcome      { return Outcome{name, FAIL, desc} }
func NonStrict(name, desc string) Outcome { return Outcome{name, NONSTRICT, desc} }
func Info(name, desc string) Outcome      { return Outcome{name, VINFO, desc} }
func Unsupported(name, desc string) Outcome {
	return Outcome{name, UNSUPPORTED, desc}
}

// Violation is the outcome of a spec broken at its level: FAIL for a MUST,
// NON-STRICT for a SHOULD, INFO otherwise (a MAY or INFO spec records the
// option taken; it never blames the server).
func Violation(level, name, desc string) Outcome {
	switch level {
	case MUST:
		return Fail(name, desc)
	case SHOULD:
		return NonStrict(name, desc)
	}
	return Info(name, desc)
}

// Verdict maps an outcome name to its verdict ("" if the spec has no such
// outcome, which is a suite bug).
func (s *Spec) Verdict(outcome string) string {
	for _, o := range s.Outcomes {
		if o.Name == outcome {
			return o.Verdict
		}
	}
	return ""
}

// OutcomeText renders the outcome table for reports.
func (s *Spec) OutcomeText() string {
	var parts []string
	for _, o := range s.Outcomes {
		parts = append(parts, fmt.Sprintf("%s → %s (%s)", o.Name, o.Verdict, o.Desc))
	}
	return strings.Join(parts, "; ")
}

var (
	regMu    sync.Mutex
	registry []*Spec
)

// RegisterFunc adds the specs build returns, built on first use: spec
// tables hold large payloads (4 MiB bodies), and every wsgikit process links
// the suite, `wsgikit serve`'s master included, which must not carry them.
func RegisterFunc(build func() []*Spec) {
	regMu.Lock()
	defer regMu.Unlock()
	builders = append(builders, build)
}

// builders produce the registry, in registration order, once.
var builders []func() []*Spec

// All returns every registered spec in registration order.
func All() []*Spec {
	regMu.Lock()
	defer regMu.Unlock()
	for _, b := range builders {
		registry = append(registry, b()...)
	}
	builders = nil
	return append([]*Spec(nil), registry...)
}

var idRE = regexp.MustCompile(`^(pep3333|http1)/[a-z0-9_]+/[a-z0-9][a-z0-9.-]*$`)

// Validate checks the registry: unique well-formed IDs, known levels, every
// spec has outcomes with known verdicts and a Run. The suite's own tests
// call it; a bad spec is a build failure, not a runtime surprise.
func Validate(specs []*Spec) error {
	seen := map[string]bool{}
	var errs []string
	for _, s := range specs {
		if !idRE.MatchString(s.ID) {
			errs = append(errs, "bad id "+s.ID)
		}
		if seen[s.ID] {
			errs = append(errs, "duplicate id "+s.ID)
		}
		seen[s.ID] = true
		switch s.Level {
		case MUST, SHOULD, MAY, INFO:
		default:
			errs = append(errs, s.ID+": bad level "+s.Level)
		}
		if s.Run == nil || len(s.Outcomes) == 0 || s.Sentence == "" || s.Stimulus == "" || s.Section == "" {
			errs = append(errs, s.ID+": missing run, outcomes, sentence, stimulus or section")
		}
		names := map[string]bool{}
		for _, o := range s.Outcomes {
			switch o.Verdict {
			case PASS, FAIL, NONSTRICT, VINFO, UNSUPPORTED:
			default:
				errs = append(errs, s.ID+": outcome "+o.Name+" has bad verdict "+o.Verdict)
			}
			if names[o.Name] {
				errs = append(errs, s.ID+": duplicate outcome "+o.Name)
			}
			names[o.Name] = true
			if o.Verdict == FAIL && s.Level != MUST {
				errs = append(errs, s.ID+": FAIL outcome on a "+s.Level+" spec")
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("spec registry: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Select filters specs by level ("MUST": MUST only; "SHOULD": MUST and
// SHOULD; "ALL" or "": all) and by focus (exact IDs or a regular
// expression; comma-separated alternatives). An unknown exact-looking ID is
// an error naming the close matches.
func Select(specs []*Spec, focus, level string) ([]*Spec, error) {
	level = strings.ToUpper(level)
	switch level {
	case "", "ALL", MUST, SHOULD:
	default:
		return nil, fmt.Errorf("unknown level %q (want MUST, SHOULD or ALL)", level)
	}
	var res []*regexp.Regexp
	for _, f := range strings.Split(focus, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		exact := false
		for _, s := range specs {
			if s.ID == f {
				exact = true
				break
			}
		}
		if exact {
			res = append(res, regexp.MustCompile("^"+regexp.QuoteMeta(f)+"$"))
			continue
		}
		re, err := regexp.Compile(f)
		if err != nil {
			return nil, fmt.Errorf("focus %q: not a spec ID nor a regular expression: %v", f, err)
		}
		res = append(res, re)
	}
	var out []*Spec
	for _, s := range specs {
		if level == MUST && s.Level != MUST || level == SHOULD && s.Level != MUST && s.Level != SHOULD {
			continue
		}
		if len(res) > 0 {
			hit := false
			for _, re := range res {
				if re.MatchString(s.ID) {
					hit = true
				}
			}
			if !hit {
				continue
			}
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return !out[i].Disruptive && out[j].Disruptive })
	if len(out) == 0 && focus != "" {
		ids := make([]string, len(specs))
		for i, s := range specs {
			ids[i] = s.ID
		}
		if m := textutil.CloseMatches(focus, ids, 5); len(m) > 0 {
			return nil, fmt.Errorf("focus %q matches no spec; close matches: %s", focus, strings.Join(m, ", "))
		}
		return nil, fmt.Errorf("focus %q matches no spec", focus)
	}
	return out, nil
}
