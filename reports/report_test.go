package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// -update rewrites the golden files under testdata/golden from the current
// output; review the diff before committing it.
var update = flag.Bool("update", false, "rewrite golden files")

// fixtures are the hand-made results every renderer test uses: two check
// files and two bench files, merged.
var fixtures = []string{
	"testdata/check.json",
	"testdata/check-extra.json",
	"testdata/bench.json",
	"testdata/bench-modwsgi.json",
}

func loadFixtures(t *testing.T, paths ...string) *Inputs {
	t.Helper()
	if len(paths) == 0 {
		paths = fixtures
	}
	in, err := Load(paths...)
	if err != nil {
		t.Fatalf("load fixtures: %v", err)
	}
	return in
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./reports -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run: go test ./reports -run %s -update\n%s", path, t.Name(), firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first differing line, enough to see what changed.
func firstDiff(want, got string) string {
	wl, gl := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return "line " + itoa(i+1) + ":\n  want: " + string(w) + "\n  got:  " + string(g)
		}
	}
	return ""
}

func itoa(i int) string { return strconv.Itoa(i) }
