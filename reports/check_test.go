package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func sampleCheck() *Check {
	return &Check{Schema: CheckSchema, Servers: []CheckServer{
		{Name: "alpha", Version: "1.0", Results: []CheckResult{
			{ID: "pep3333/environ/x", Level: "MUST", Verdict: "PASS", Detail: "equal: ok", Seconds: 0.5},
			{ID: "http1/host/missing", Level: "MUST", Verdict: "FAIL", Detail: "accepted: 200 | piped", Transcript: "> GET / HTTP/1.1\\r\\n\n"},
			{ID: "pep3333/file_wrapper/present", Level: "MAY", Verdict: "UNSUPPORTED", Detail: "absent"},
			{ID: "pep3333/errors/unicode", Level: "SHOULD", Verdict: "NON-STRICT", Detail: "raised"},
		}},
		{Name: "beta", Version: "", Error: "start beta: not installed"},
	}, Skipped: []SkippedServer{{Name: "gamma", Reason: "not installed"}}}
}

// TestOutputsGolden writes what the check verb leaves for a fixed result:
// check.md is pinned, check.json is the result as given (skipped servers
// and server order included), and the report's files are there.
func TestOutputsGolden(t *testing.T) {
	c, dir := sampleCheck(), t.TempDir()
	if err := WriteCheck(dir, c, false); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "check.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "check.md", md)
	b, err := os.ReadFile(filepath.Join(dir, "check.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Check
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, c) {
		t.Errorf("check.json does not hold the result as given (%v):\n%s", err, b)
	}
	for _, f := range []string{"index.html", "summary.md", "junit-alpha.xml", "junit-beta.xml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
