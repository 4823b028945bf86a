package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzServeConfig: a serve config file is applied or rejected with a
// one-line error; one that is applied names only settings serve has.
func FuzzServeConfig(f *testing.F) {
	f.Add("app = \"m:app\"\nworkers = 4\nbind = [\"127.0.0.1:8000\", \"unix:/tmp/s\"]\n\"keep-alive\" = 5\n")
	f.Add("wrokers = 2\n")
	f.Add("threads = \"many\"\n")
	f.Add("threads = [\"1\\n\", {a = \"\\n\"}]\n")
	// One file per fuzz process, rewritten for each input (inputs run one
	// at a time in a process): a directory per input made it slow.
	path := filepath.Join(f.TempDir(), "wsgikit.toml")
	f.Fuzz(func(t *testing.T, src string) {
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		fs := newServeCmd().Flags()
		app := ""
		if err := applyConfig(fs, path, &app); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		var keys map[string]any
		if _, err := toml.Decode(src, &keys); err != nil {
			t.Fatalf("applied a file TOML rejects: %v", err)
		}
		for k := range keys {
			if k != "app" && fs.Lookup(k) == nil {
				t.Fatalf("applied unknown setting %q", k)
			}
		}
	})
}
