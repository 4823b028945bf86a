package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportVerb(t *testing.T) {
	td := filepath.Join("..", "..", "reports", "testdata")
	dir := t.TempDir()
	out, err := runWsgikit("report", filepath.Join(td, "check.json"), filepath.Join(td, "check-extra.json"), filepath.Join(td, "bench.json"), "-o", dir)
	if err != nil {
		t.Fatalf("wsgikit report: %v", err)
	}
	for _, f := range []string{"index.html", "summary.md", "junit-wsgikit.xml", "junit-uwsgi.xml", "junit-behind-nginx_gunicorn-gthread.xml", "check.json", "bench.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
		if !strings.Contains(out, filepath.Join(dir, f)) {
			t.Errorf("the wrote line does not name %s:\n%s", f, out)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if !strings.Contains(string(md), "| wsgikit | 0.1.0 | **100%** |") {
		t.Errorf("summary.md lacks the wsgikit score line:\n%s", md)
	}
}

func TestReportVerbSummary(t *testing.T) {
	td := filepath.Join("..", "..", "reports", "testdata")
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"report", filepath.Join(td, "check.json"), "-o", t.TempDir(), "--summary"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "# wsgikit report") {
		t.Errorf("stdout does not start with the Markdown summary: %.80q", out.String())
	}
	if !strings.Contains(errOut.String(), "index.html") || strings.Contains(out.String(), "index.html") {
		t.Errorf("the report path belongs on stderr only; stderr=%q", errOut.String())
	}
}

func TestReportVerbErrors(t *testing.T) {
	dir := t.TempDir()
	wrong := filepath.Join(dir, "k6.json")
	if err := os.WriteFile(wrong, []byte(`{"schema":"k6.summary/v1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no inputs", []string{"report", "-o", dir}, 2, []string{"no input files"}},
		{"no output dir", []string{"report", wrong}, 2, []string{"-o DIR"}},
		{"wrong schema", []string{"report", wrong, "-o", dir}, 2, []string{"k6.json", `"k6.summary/v1"`, "wsgikit.check/v1"}},
		{"missing file", []string{"report", filepath.Join(dir, "gone.json"), "-o", dir}, 2, []string{"gone.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runWsgikit(tc.args...)
			if err == nil {
				t.Fatal("succeeded, want an error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			code := 2
			var ee *exitError
			if errors.As(err, &ee) {
				code = ee.code
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
		})
	}
}
