package reports

import (
	"io"
	"testing"
)

// FuzzRender feeds arbitrary result files through every renderer: whatever a
// producer (or a corrupted artifact) writes, the report must either refuse it
// with an error or render it, never panic.
func FuzzRender(f *testing.F) {
	// Small seeds: the fuzzer minimises every input that finds new code, and
	// minimising a whole fixture file takes minutes.
	f.Add([]byte(`{"schema":"wsgikit.check/v1","machine":{"cpus":2},"servers":[{"name":"a","version":"1","results":[{"id":"pep3333/x/y","level":"MUST","verdict":"FAIL","detail":"d","transcript":"> GET / HTTP/1.1\n< HTTP/1.1 200 OK"}]},{"name":"b","error":"e","results":[]}]}`))
	f.Add([]byte(`{"schema":"wsgikit.bench/v1","servers":[{"name":"a"}],"runs":[{"server":"a","scenario":"s","mode":"closed","concurrency":4,"round":1,"rps":10,"latency_ms":{"p99":2},"timeline":[{"t_s":1,"rps":10,"p99_ms":2}],"percentiles":[{"q":50,"ms":1},{"q":100,"ms":3}]}],"summary":[{"server":"a","scenario":"s","mode":"closed","concurrency":4,"rps_median":10,"rps_ci":[9,11]}],"comparisons":[{"a":"a","b":"b","scenario":"s","metric":"rps","ratio":2,"p":0.01,"significant":true}],"regressions":[{"server":"a","scenario":"s","metric":"rps","change":0.1,"regressed":true}]}`))
	f.Add([]byte(`{"schema":"wsgikit.bench/v1","runs":[{"server":"a","scenario":"s","mode":"sweep","concurrency":0,"rps":-1,"percentiles":[{"q":100,"ms":-3}]}],"summary":[{"server":"a","scenario":"s","mode":"sweep","rps_ci":[5,1]}]}`))
	f.Add([]byte(`{"schema":"wsgikit.check/v1","servers":[{"name":"","results":[{"id":"///","verdict":"weird","transcript":"\u0000\r\n"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &Inputs{}
		if err := in.parse("fuzz.json", data); err != nil {
			return
		}
		r := Build(in)
		if err := r.WriteHTML(io.Discard); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteMarkdown(io.Discard); err != nil {
			t.Fatal(err)
		}
		if m := MergeChecks(in.Checks); m != nil {
			for _, s := range m.Servers {
				if err := writeJUnit(io.Discard, s, true); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
