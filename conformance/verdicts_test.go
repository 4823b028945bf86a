package conformance

import (
	"testing"

	"github.com/wsgikit/wsgikit/reports"
)

// TestFailedAndHarnessErrors: a FAIL fails the run, a NON-STRICT only when
// strict; a server that could not run and ERROR results are harness errors,
// not verdicts.
func TestFailedAndHarnessErrors(t *testing.T) {
	server := func(name, verdict, errText string) reports.CheckServer {
		s := reports.CheckServer{Name: name, Error: errText}
		if verdict != "" {
			s.Results = []reports.CheckResult{{ID: "pep3333/environ/x", Level: "MUST", Verdict: verdict}}
		}
		return s
	}
	for _, tc := range []struct {
		name           string
		servers        []reports.CheckServer
		failed, strict bool
		harnessErrors  int
	}{
		{"pass", []reports.CheckServer{server("a", "PASS", "")}, false, false, 0},
		{"fail", []reports.CheckServer{server("a", "PASS", ""), server("b", "FAIL", "")}, true, true, 0},
		{"non-strict", []reports.CheckServer{server("a", "NON-STRICT", "")}, false, true, 0},
		{"info and unsupported", []reports.CheckServer{server("a", "INFO", ""), server("b", "UNSUPPORTED", "")}, false, false, 0},
		{"could not run", []reports.CheckServer{server("a", "", "start a: not installed")}, false, false, 1},
		{"error", []reports.CheckServer{server("a", "ERROR", ""), server("b", "ERROR", "start b: gone")}, false, false, 3},
	} {
		c := &reports.Check{Schema: reports.CheckSchema, Servers: tc.servers}
		if got := Failed(c, false); got != tc.failed {
			t.Errorf("%s: Failed = %v, want %v", tc.name, got, tc.failed)
		}
		if got := Failed(c, true); got != tc.strict {
			t.Errorf("%s: Failed(strict) = %v, want %v", tc.name, got, tc.strict)
		}
		if got := HarnessErrors(c); len(got) != tc.harnessErrors {
			t.Errorf("%s: HarnessErrors = %q, want %d", tc.name, got, tc.harnessErrors)
		}
	}
}
