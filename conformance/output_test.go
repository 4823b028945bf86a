package conformance

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsgikit/wsgikit/reports"
)

func sampleCheck() *reports.Check {
	return &reports.Check{Schema: reports.CheckSchema, Servers: []reports.CheckServer{
		{Name: "alpha", Version: "1.0", Results: []reports.CheckResult{
			{ID: "pep3333/environ/x", Level: "MUST", Verdict: "PASS", Detail: "equal: ok", Seconds: 0.5},
			{ID: "http1/host/missing", Level: "MUST", Verdict: "FAIL", Detail: "accepted: 200 | piped", Transcript: "> GET / HTTP/1.1\\r\\n\n"},
			{ID: "pep3333/file_wrapper/present", Level: "MAY", Verdict: "UNSUPPORTED", Detail: "absent"},
			{ID: "pep3333/errors/unicode", Level: "SHOULD", Verdict: "NON-STRICT", Detail: "raised"},
		}},
		{Name: "beta", Version: "", Error: "start beta: not installed"},
	}}
}

// TestOutputsGolden pins check.md for a fixed result (the JUnit XML is the
// report's, pinned by reports' own golden tests).
func TestOutputsGolden(t *testing.T) {
	c := sampleCheck()
	var md bytes.Buffer
	if err := WriteMarkdown(&md, c); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{"check.md.golden": md.Bytes()} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (write it with -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
		}
	}
	if Failed(c, false) != true || len(HarnessErrors(c)) != 1 {
		t.Errorf("Failed/HarnessErrors wrong")
	}
}
