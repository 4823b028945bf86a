package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// ErrSchema reports an input whose "schema" field is not one this version
// of wsgikit renders.
var ErrSchema = errors.New("unknown schema")

// Inputs holds the results read from one or many files, before merging.
type Inputs struct {
	Checks  []*Check
	Benches []*Bench
	Files   []string // the paths read, in order, for the report's footer
}

// Load reads check.json and bench.json files in any order and mix. The
// schema field decides the type; a file that is unreadable, not JSON, or of
// an unknown schema is an error that names the file and what was found.
func Load(paths ...string) (*Inputs, error) {
	in := &Inputs{}
	for _, p := range paths {
		if err := in.add(p); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func (in *Inputs) add(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return in.parse(path, b)
}

// parse decodes one result file's bytes; path only names it in errors.
func (in *Inputs) parse(path string, b []byte) error {
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("%s: not a wsgikit result file (invalid JSON: %v)", path, shortJSONErr(err))
	}
	switch {
	case head.Schema == nil:
		return fmt.Errorf("%s: %w: no \"schema\" field (want %q or %q)", path, ErrSchema, CheckSchema, BenchSchema)
	case *head.Schema == CheckSchema:
		var c Check
		if err := decode(b, &c); err != nil {
			return fmt.Errorf("%s: %s: %w", path, CheckSchema, err)
		}
		in.Checks = append(in.Checks, &c)
	case *head.Schema == BenchSchema:
		var bn Bench
		if err := decode(b, &bn); err != nil {
			return fmt.Errorf("%s: %s: %w", path, BenchSchema, err)
		}
		in.Benches = append(in.Benches, &bn)
	default:
		hint := ""
		if strings.HasPrefix(*head.Schema, "wsgikit.") {
			hint = " (written by another wsgikit version?)"
		}
		return fmt.Errorf("%s: %w %q%s; this wsgikit reads %q and %q", path, ErrSchema, *head.Schema, hint, CheckSchema, BenchSchema)
	}
	in.Files = append(in.Files, path)
	return nil
}

// decode tolerates unknown fields on purpose: v1 readers must accept files
// from writers that added fields (adding is allowed, renaming is not).
func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode: %v", shortJSONErr(err))
	}
	return nil
}

func shortJSONErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q: %s where %s was expected", te.Field, te.Value, te.Type)
	}
	return err.Error()
}

// isReference says whether a server is wsgikit's own, which the report shows
// first: it is the one every other server is compared against.
func isReference(name string) bool {
	return name == "wsgikit" || strings.HasPrefix(name, "wsgikit-") || strings.HasPrefix(name, "wsgikit:")
}

// MergeChecks folds several check results into one: servers keep the order
// in which they first appear, except that the reference server comes first
// and servers that could not be run come last; a server that appears again (a
// re-run) replaces the earlier results, so the newest input wins.
func MergeChecks(cs []*Check) *Check {
	if len(cs) == 0 {
		return nil
	}
	out := &Check{Schema: CheckSchema}
	idx := map[string]int{}
	for _, c := range cs {
		if c == nil {
			continue
		}
		if c.Generated.After(out.Generated) {
			out.Generated = c.Generated
		}
		if out.Machine == nil {
			out.Machine = c.Machine
		}
		for _, s := range c.Servers {
			if i, ok := idx[s.Name]; ok {
				out.Servers[i] = s
				continue
			}
			idx[s.Name] = len(out.Servers)
			out.Servers = append(out.Servers, s)
		}
	}
	rank := func(s CheckServer) int {
		switch {
		case isReference(s.Name):
			return 0
		case s.Error != "" && len(s.Results) == 0:
			return 2
		}
		return 1
	}
	sort.SliceStable(out.Servers, func(i, j int) bool { return rank(out.Servers[i]) < rank(out.Servers[j]) })
	return out
}

// MergeBenches concatenates several bench results. Runs, summaries,
// comparisons, regressions and wrk cross-checks of a (server, scenario,
// mode, concurrency) seen in a later input replace the earlier ones.
func MergeBenches(bs []*Bench) *Bench {
	if len(bs) == 0 {
		return nil
	}
	out := &Bench{Schema: BenchSchema}
	seenServer := map[string]int{}
	for _, b := range bs {
		if b == nil {
			continue
		}
		if b.Generated.After(out.Generated) {
			out.Generated = b.Generated
		}
		if out.Machine == nil {
			out.Machine = b.Machine
		}
		for _, s := range b.Servers {
			if i, ok := seenServer[s.Name]; ok {
				out.Servers[i] = s
				continue
			}
			seenServer[s.Name] = len(out.Servers)
			out.Servers = append(out.Servers, s)
		}
		// Which cells does this input bring? They replace older ones.
		cells := map[string]bool{}
		for _, s := range b.Summary {
			cells[cellKey(s.Server, s.Scenario, s.Mode, s.Concurrency)] = true
		}
		for _, r := range b.Runs {
			cells[cellKey(r.Server, r.Scenario, r.Mode, r.Concurrency)] = true
		}
		out.Runs = filter(out.Runs, func(r BenchRun) bool { return !cells[cellKey(r.Server, r.Scenario, r.Mode, r.Concurrency)] })
		out.Summary = filter(out.Summary, func(s BenchSum) bool { return !cells[cellKey(s.Server, s.Scenario, s.Mode, s.Concurrency)] })
		out.Runs = append(out.Runs, b.Runs...)
		out.Summary = append(out.Summary, b.Summary...)
		out.Comparisons = append(out.Comparisons, b.Comparisons...)
		out.Regressions = append(out.Regressions, b.Regressions...)
		out.Notes = append(out.Notes, b.Notes...)
		out.Different = append(out.Different, b.Different...)
		out.CrossChecks = append(out.CrossChecks, b.CrossChecks...)
	}
	out.CrossChecks = lastOf(out.CrossChecks, func(c CrossCheck) string {
		return fmt.Sprintf("%s\x00%s\x00%d", c.Server, c.Scenario, c.Concurrency)
	})
	// The same comparison or regression from two inputs: the later one wins.
	out.Comparisons = lastOf(out.Comparisons, func(c Comparison) string { return c.A + "\x00" + c.B + "\x00" + c.Scenario + "\x00" + c.Metric })
	out.Regressions = lastOf(out.Regressions, func(r Regression) string { return r.Server + "\x00" + r.Scenario + "\x00" + r.Metric })
	// Servers named only in runs (a producer that left Servers empty).
	for _, r := range out.Runs {
		if _, ok := seenServer[r.Server]; !ok {
			seenServer[r.Server] = len(out.Servers)
			out.Servers = append(out.Servers, BenchServ{Name: r.Server})
		}
	}
	sort.SliceStable(out.Servers, func(i, j int) bool { return isReference(out.Servers[i].Name) && !isReference(out.Servers[j].Name) })
	return out
}

func cellKey(server, scenario, mode string, conc int) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%d", server, scenario, normMode(mode), conc)
}

// normMode maps the empty mode of older producers to "closed".
func normMode(m string) string {
	if m == "" {
		return "closed"
	}
	return m
}

// lastOf keeps, for each key, the last element with that key, at the
// position of the first.
func lastOf[T any](in []T, key func(T) string) []T {
	idx := map[string]int{}
	var out []T
	for _, v := range in {
		k := key(v)
		if i, ok := idx[k]; ok {
			out[i] = v
			continue
		}
		idx[k] = len(out)
		out = append(out, v)
	}
	return out
}

func filter[T any](in []T, keep func(T) bool) []T {
	out := in[:0:0]
	for _, v := range in {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

// machines lists the distinct machines of the inputs, so a report that mixes
// results from two machines says so instead of silently comparing them.
func machines(in *Inputs) []*Machine {
	var out []*Machine
	seen := map[string]bool{}
	add := func(m *Machine) {
		if m == nil {
			return
		}
		k := fmt.Sprintf("%s|%s|%d|%s|%s", m.Hostname, m.CPUModel, m.CPUs, m.Kernel, m.Python)
		if !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	for _, c := range in.Checks {
		add(c.Machine)
	}
	for _, b := range in.Benches {
		add(b.Machine)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
