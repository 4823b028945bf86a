package loadgen

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/wsgikit/wsgikit/reports"
)

// SaveBaseline writes the output as a baseline file (the same format as
// bench.json: a bench.json from an earlier run is a valid baseline too).
func SaveBaseline(path string, out *reports.Bench) error {
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save baseline: %w", err)
	}
	return nil
}

// LoadBaseline reads a baseline (or any bench.json).
func LoadBaseline(path string) (*reports.Bench, error) {
	in, err := reports.Load(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	if len(in.Benches) != 1 {
		return nil, fmt.Errorf("baseline %s: schema %q, want %q", path, reports.CheckSchema, reports.BenchSchema)
	}
	return in.Benches[0], nil
}

// Uncompared names the load points of cur (server, scenario, mode,
// concurrency) that base has no run of: a gate says nothing about them.
func Uncompared(cur, base *reports.Bench) []string {
	inBase := map[sumKey]bool{}
	for _, r := range base.Runs {
		inBase[sumKey{r.Server, r.Scenario, r.Mode, r.Concurrency}] = true
	}
	seen := map[sumKey]bool{}
	var out []string
	for _, r := range cur.Runs {
		k := sumKey{r.Server, r.Scenario, r.Mode, r.Concurrency}
		if !inBase[k] && !seen[k] {
			seen[k] = true
			out = append(out, fmt.Sprintf("%s %s %s c=%d", r.Server, r.Scenario, r.Mode, r.Concurrency))
		}
	}
	sort.Strings(out)
	return out
}

// gateMetrics are judged against a baseline; higher is better for rps.
var gateMetrics = []struct {
	name         string
	higherBetter bool
}{{"rps", true}, {"p99_ms", false}}

// Gate compares the current runs with the baseline's, per (server,
// scenario, mode, concurrency) and metric. A regression is a change for the
// worse beyond threshold (a fraction, 0.05 = 5%) that is also significant
// under the U test. Medians are compared; the test uses per-run values.
func Gate(cur, base *reports.Bench, threshold float64) []reports.Regression {
	index := func(runs []reports.BenchRun) map[sumKey][]reports.BenchRun {
		m := map[sumKey][]reports.BenchRun{}
		for _, r := range runs {
			k := sumKey{r.Server, r.Scenario, r.Mode, r.Concurrency}
			m[k] = append(m[k], r)
		}
		return m
	}
	ci, bi := index(cur.Runs), index(base.Runs)
	var keys []sumKey
	for k := range ci {
		if _, ok := bi[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.server != b.server {
			return a.server < b.server
		}
		if a.scenario != b.scenario {
			return a.scenario < b.scenario
		}
		if a.mode != b.mode {
			return a.mode < b.mode
		}
		return a.conc < b.conc
	})
	var regs []reports.Regression
	for _, k := range keys {
		for _, m := range gateMetrics {
			cv, bv := metricValues(ci[k], m.name), metricValues(bi[k], m.name)
			if len(cv) == 0 || len(bv) == 0 {
				continue
			}
			cm, bm := Summarize(cv).Median, Summarize(bv).Median
			if bm == 0 {
				continue
			}
			change := (cm - bm) / bm // positive: went up
			if m.higherBetter {
				change = -change
			}
			t := Compare(bv, cv)
			regs = append(regs, reports.Regression{
				Server: k.server, Scenario: k.scenario, Metric: m.name,
				Baseline: bm, Current: cm, Change: change, P: t.P, Significant: t.Significant,
				Regressed: change > threshold && t.Significant,
			})
		}
	}
	return regs
}
