package reports

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
)

func TestJUnitGolden(t *testing.T) {
	m := MergeChecks(loadFixtures(t, "testdata/check.json", "testdata/check-extra.json").Checks)
	for _, name := range []string{"uwsgi", "behind-nginx:gunicorn-gthread"} {
		for _, s := range m.Servers {
			if s.Name != name {
				continue
			}
			var buf bytes.Buffer
			if err := writeJUnit(&buf, s, false); err != nil {
				t.Fatal(err)
			}
			golden(t, junitFileName(s.Name), buf.Bytes())
		}
	}
}

// TestJUnitCounts checks the verdict mapping through a JUnit reader's eyes:
// parse the XML back and count.
func TestJUnitCounts(t *testing.T) {
	s := CheckServer{Name: "x", Version: "1", Results: []CheckResult{
		{ID: "a/b/pass", Verdict: VerdictPass},
		{ID: "a/b/fail", Verdict: VerdictFail, Level: "MUST", Detail: "broke <it> & more ]]> here", Transcript: "> GET / HTTP/1.1\x00\x1b\r\n"},
		{ID: "a/b/ns", Verdict: VerdictNonStrict, Level: "SHOULD"},
		{ID: "a/b/info", Verdict: VerdictInfo, Detail: "chunked"},
		{ID: "a/b/unsup", Verdict: VerdictUnsupported},
		{ID: "a/b/err", Verdict: VerdictError},
	}}
	tests := []struct {
		strict                         bool
		tests, failures, errs, skipped int
	}{
		{false, 6, 1, 1, 1},
		{true, 6, 2, 1, 1},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		if err := writeJUnit(&buf, s, tc.strict); err != nil {
			t.Fatal(err)
		}
		var doc junitSuites
		if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatalf("strict=%v: output is not XML a reader accepts: %v", tc.strict, err)
		}
		su := doc.Suites[0]
		if su.Tests != tc.tests || su.Failures != tc.failures || su.Errors != tc.errs || su.Skipped != tc.skipped {
			t.Errorf("strict=%v: tests/failures/errors/skipped = %d/%d/%d/%d, want %d/%d/%d/%d", tc.strict,
				su.Tests, su.Failures, su.Errors, su.Skipped, tc.tests, tc.failures, tc.errs, tc.skipped)
		}
		if got := su.Cases[3].SystemOut; got == nil || got.Body != "INFO: chunked" {
			t.Errorf("INFO system-out = %+v", got)
		}
		if f := su.Cases[1].Failure; f == nil || !strings.Contains(f.Body, "]]> here") || !strings.Contains(f.Body, `\x00\x1b`) {
			t.Errorf("failure body lost text or control bytes: %+v", f)
		}
		if got := su.Cases[1].Classname; got != "a.b" {
			t.Errorf("classname = %q, want a.b", got)
		}
	}
}

func TestJUnitFileName(t *testing.T) {
	for in, want := range map[string]string{
		"uwsgi":                 "junit-uwsgi.xml",
		"behind-nginx:gunicorn": "junit-behind-nginx_gunicorn.xml",
		"../../etc/passwd":      "junit-.._.._etc_passwd.xml",
	} {
		if got := junitFileName(in); got != want {
			t.Errorf("junitFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
