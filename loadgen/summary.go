package loadgen

import (
	"slices"
	"sort"

	"github.com/wsgikit/wsgikit/reports"
)

type sumKey struct {
	server, scenario, mode string
	conc                   int
}

// SummarizeRuns reduces runs to one summary row per (server, scenario, mode,
// concurrency) and compares every pair of servers on rps and p99 with the
// Mann–Whitney U test. Failed runs are left out of the statistics and
// counted.
func SummarizeRuns(runs []reports.BenchRun, servers []string) ([]reports.BenchSum, []reports.Comparison) {
	groups := map[sumKey][]reports.BenchRun{}
	var keys []sumKey
	for _, r := range runs {
		k := sumKey{r.Server, r.Scenario, r.Mode, r.Concurrency}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	order := map[string]int{}
	for i, s := range servers {
		order[s] = i
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.scenario != b.scenario {
			return a.scenario < b.scenario
		}
		if a.conc != b.conc {
			return a.conc < b.conc
		}
		return order[a.server] < order[b.server]
	})
	var sums []reports.BenchSum
	for _, k := range keys {
		sums = append(sums, summarizeGroup(k, groups[k]))
	}
	var cmps []reports.Comparison
	for _, k := range keys {
		for _, k2 := range keys {
			if k2.scenario != k.scenario || k2.mode != k.mode || k2.conc != k.conc || order[k2.server] <= order[k.server] {
				continue
			}
			a, b := groups[k], groups[k2]
			for _, m := range []string{"rps", "p99_ms"} {
				va, vb := metricValues(a, m), metricValues(b, m)
				if len(va) == 0 || len(vb) == 0 {
					continue
				}
				t := Compare(va, vb)
				ma, mb := Summarize(va).Median, Summarize(vb).Median
				c := reports.Comparison{A: k.server, B: k2.server, Scenario: k.scenario, Metric: m,
					P: t.P, Significant: t.Significant, Mode: k.mode, Concurrency: k.conc, U: t.U,
					N: [2]int{t.N1, t.N2}, MedianA: ma, MedianB: mb, Delta: t.Delta(mb, ma)}
				if mb != 0 {
					c.Ratio = ma / mb
				}
				cmps = append(cmps, c)
			}
		}
	}
	return sums, cmps
}

// metricValues: one value per successful run. "rps" is the capacity rate in
// capacity mode.
func metricValues(runs []reports.BenchRun, metric string) []float64 {
	var v []float64
	for _, r := range runs {
		if r.Failed != "" || r.Requests == 0 {
			continue
		}
		switch metric {
		case "rps":
			if r.Mode == ModeCapacity {
				v = append(v, r.Rate)
			} else {
				v = append(v, r.RPS)
			}
		case "p99_ms":
			v = append(v, r.Latency.P99)
		case "p99_uncorrected_ms":
			if r.Uncorrected != nil {
				v = append(v, r.Uncorrected.P99)
			}
		case "req_per_cpu_s":
			if r.ReqPerCPU > 0 {
				v = append(v, r.ReqPerCPU)
			}
		case "server_cpu_us_per_req":
			if r.CPUPerReq > 0 {
				v = append(v, r.CPUPerReq)
			}
		case "rss_mb":
			v = append(v, r.ServerRSS)
		}
	}
	return v
}

func summarizeGroup(k sumKey, runs []reports.BenchRun) reports.BenchSum {
	s := reports.BenchSum{Server: k.server, Scenario: k.scenario, Mode: k.mode, Concurrency: k.conc}
	for _, r := range runs {
		s.Errors += r.Errors
		if r.Failed != "" {
			s.Failed++
		}
		if r.ClientBound {
			s.ClientBound = true
		}
	}
	rps := metricValues(runs, "rps")
	s.Rounds = len(rps)
	if len(rps) == 0 {
		return s
	}
	sr := Summarize(rps)
	s.RPSMedian = sr.Median
	s.RPSCI, s.CIFinite = sr.CI(rps)
	p99 := metricValues(runs, "p99_ms")
	sp := Summarize(p99)
	s.P99Median = sp.Median
	s.P99CI, _ = sp.CI(p99)
	if u := metricValues(runs, "p99_uncorrected_ms"); len(u) > 0 {
		s.P99Uncorrected = Summarize(u).Median
	}
	if rc := metricValues(runs, "req_per_cpu_s"); len(rc) > 0 {
		sc := Summarize(rc)
		s.ReqPerCPU = sc.Median
		s.ReqPerCPUCI, _ = sc.CI(rc)
	}
	if cpu := metricValues(runs, "server_cpu_us_per_req"); len(cpu) > 0 {
		s.CPUPerReq = Summarize(cpu).Median
	}
	if rss := metricValues(runs, "rss_mb"); len(rss) > 0 {
		s.RSSMB = Summarize(rss).Median
	}
	return s
}

// SortedKeys is a helper for stable text output.
func SortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
