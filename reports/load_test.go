package reports

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		path   string
		want   []string // substrings of the one-line error
		schema bool     // errors.Is(err, ErrSchema)
	}{
		{"missing file", filepath.Join(dir, "nope.json"), []string{"nope.json", "no such file"}, false},
		{"not JSON", write("junk.json", "<html>"), []string{"junk.json", "not a wsgikit result file", "invalid JSON"}, false},
		{"no schema field", write("noschema.json", `{"servers":[]}`), []string{"noschema.json", `no "schema" field`, CheckSchema}, true},
		{"future version", write("v2.json", `{"schema":"wsgikit.check/v2"}`), []string{"v2.json", `"wsgikit.check/v2"`, "another wsgikit version"}, true},
		{"foreign schema", write("k6.json", `{"schema":"k6.summary/v1"}`), []string{"k6.json", `"k6.summary/v1"`, BenchSchema}, true},
		{"wrong field type", write("badtype.json", `{"schema":"wsgikit.bench/v1","runs":[{"rps":"fast"}]}`), []string{"badtype.json", BenchSchema, "rps"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if got := errors.Is(err, ErrSchema); got != tc.schema {
				t.Errorf("errors.Is(err, ErrSchema) = %v, want %v", got, tc.schema)
			}
		})
	}
}

func TestLoadMixedAndUnknownFields(t *testing.T) {
	dir := t.TempDir()
	// A newer writer may add fields; a v1 reader must still read the file.
	p := filepath.Join(dir, "future.json")
	if err := os.WriteFile(p, []byte(`{"schema":"wsgikit.check/v1","new_field":1,"servers":[{"name":"x","version":"1","results":[{"id":"a/b/c","level":"MUST","verdict":"PASS","extra":true}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := Load(append([]string{p}, fixtures...)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Checks) != 3 || len(in.Benches) != 2 || len(in.Files) != 5 {
		t.Fatalf("got %d checks, %d benches, %d files; want 3, 2, 5", len(in.Checks), len(in.Benches), len(in.Files))
	}
}

func TestMergeChecks(t *testing.T) {
	a := &Check{Servers: []CheckServer{
		{Name: "gunicorn", Results: []CheckResult{{ID: "x/y/1", Verdict: "FAIL"}}},
		{Name: "broken", Error: "did not start"},
		{Name: "wsgikit", Results: []CheckResult{{ID: "x/y/1", Verdict: "PASS"}}},
	}}
	b := &Check{Servers: []CheckServer{
		{Name: "gunicorn", Results: []CheckResult{{ID: "x/y/1", Verdict: "PASS"}}}, // a re-run: replaces
		{Name: "waitress", Results: []CheckResult{{ID: "x/y/1", Verdict: "PASS"}}},
	}}
	m := MergeChecks([]*Check{a, b})
	var names []string
	for _, s := range m.Servers {
		names = append(names, s.Name)
	}
	if got, want := strings.Join(names, ","), "wsgikit,gunicorn,waitress,broken"; got != want {
		t.Errorf("server order = %s, want %s (reference first, unrunnable last)", got, want)
	}
	if got := m.Servers[1].Results[0].Verdict; got != "PASS" {
		t.Errorf("gunicorn verdict = %s, want the later input's PASS", got)
	}
}

func TestMergeBenchesReplacesCells(t *testing.T) {
	old := &Bench{Runs: []BenchRun{{Server: "a", Scenario: "hello", Mode: "closed", Concurrency: 32, Round: 1, RPS: 1}},
		Summary: []BenchSum{{Server: "a", Scenario: "hello", Mode: "closed", Concurrency: 32, RPSMedian: 1}}}
	newer := &Bench{Runs: []BenchRun{{Server: "a", Scenario: "hello", Mode: "", Concurrency: 32, Round: 1, RPS: 2}},
		Summary: []BenchSum{{Server: "a", Scenario: "hello", Concurrency: 32, RPSMedian: 2}}}
	other := &Bench{Runs: []BenchRun{{Server: "b", Scenario: "hello", Mode: "closed", Concurrency: 32, Round: 1, RPS: 3}}}
	m := MergeBenches([]*Bench{old, newer, other})
	if len(m.Runs) != 2 || len(m.Summary) != 1 {
		t.Fatalf("got %d runs and %d summaries, want 2 and 1", len(m.Runs), len(m.Summary))
	}
	if m.Summary[0].RPSMedian != 2 {
		t.Errorf("summary kept the older cell (%v), want the newer", m.Summary[0].RPSMedian)
	}
	if len(m.Servers) != 2 {
		t.Errorf("servers = %v, want a and b taken from the runs", m.Servers)
	}
	// The same file twice: no duplicated comparisons.
	c := &Bench{Comparisons: []Comparison{{A: "a", B: "b", Scenario: "s", Metric: "rps", Ratio: 2}}}
	if got := MergeBenches([]*Bench{c, c}).Comparisons; len(got) != 1 {
		t.Errorf("%d comparisons after merging a file with itself, want 1", len(got))
	}
}
