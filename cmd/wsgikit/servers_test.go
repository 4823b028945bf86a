package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsgikit/wsgikit/internal/harness"
	"github.com/wsgikit/wsgikit/internal/testenv"
)

func TestServersJSON(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(`
[[profile]]
name = "mine"
description = "my server"
package = "pip install mine"
command = ["/nonexistent/mine", "--bind", "{bind}", "{app}"]
requires = ["/nonexistent/mine"]
`), 0o644)
	out, err := runWsgikit("servers", "--json", "--profiles", good)
	if err != nil {
		t.Fatal(err)
	}
	var rows []serverRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byName := map[string]serverRow{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	for _, name := range []string{"wsgikit", "gunicorn-sync", "gunicorn-gthread", "gunicorn-gevent", "uwsgi", "uwsgi-http11", "waitress", "cheroot", "gevent", "mod_wsgi", "wsgiref", "behind-nginx:<profile>", "mine"} {
		r, ok := byName[name]
		if !ok {
			t.Errorf("%s not listed", name)
			continue
		}
		if r.Installed && r.Version == "" {
			t.Errorf("%s installed without a version", name)
		}
		if !r.Installed && r.Hint == "" {
			t.Errorf("%s missing without an install hint", name)
		}
	}
	if m := byName["mine"]; m.Installed || m.Source != "user" || !strings.Contains(m.Hint, "pip install mine") {
		t.Errorf("user row %+v", m)
	}
}

func TestServersTableAndBadProfiles(t *testing.T) {
	out, err := runWsgikit("servers")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "gunicorn-gthread") {
		t.Errorf("table:\n%s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[[profile]]\nname = \"x\"\ncommand = [\"x\", \"{bind}\", \"{app}\"]\nstop_timeout = \"1s\"\n"), 0o644)
	_, err = runWsgikit("servers", "--profiles", bad)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), `unknown field "stop_timeout"`) {
		t.Errorf("bad profiles: %v", err)
	}
}

// TestServersHelpExampleParses keeps the --help example a valid profile.
func TestServersHelpExampleParses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "example.toml")
	os.WriteFile(path, []byte(exampleProfile), 0o644)
	ps, err := harness.LoadProfiles(path)
	if err != nil || len(ps) != 1 || ps[0].Name != "granian-2rt" {
		t.Fatalf("%v %v", ps, err)
	}
}

// TestServersUnsupported: as root, mod_wsgi with an interpreter under a
// directory others cannot enter (pyenv's under /root) is listed as
// unsupported, with the reason; with Debian's it is not. The interpreters
// are the peers venvs of `make setup`.
func TestServersUnsupported(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root does Apache run mod_wsgi's daemons as www-data")
	}
	pys, _ := filepath.Glob("../../.venv/py3.*/bin/python")
	if len(pys) == 0 {
		testenv.Missing(t, "no peers venvs: run make setup")
	}
	for _, py := range pys {
		abs, _ := filepath.Abs(py)
		out, err := exec.Command(abs, "-c", "import sys; print(sys.base_prefix)").Output()
		if err != nil {
			t.Fatalf("%s: %v", abs, err)
		}
		prefix := strings.TrimSpace(string(out))
		hidden := false // some directory above the prefix lacks o+x
		for d := prefix; d != "/"; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
				hidden = true
			}
		}
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(abs))), func(t *testing.T) {
			t.Setenv("WSGIKIT_PYTHON", abs)
			js, err := runWsgikit("servers", "--json")
			if err != nil {
				t.Fatal(err)
			}
			var rows []serverRow
			if err := json.Unmarshal([]byte(js), &rows); err != nil {
				t.Fatalf("%v\n%s", err, js)
			}
			for _, r := range rows {
				if r.Name != "mod_wsgi" {
					continue
				}
				if hidden && (!r.Unsupported || r.Installed || !strings.Contains(r.Hint, "www-data")) {
					t.Errorf("%s under %s: %+v; want unsupported, the hint naming www-data", abs, prefix, r)
				}
				if !hidden && r.Unsupported {
					t.Errorf("%s under %s (readable): %+v", abs, prefix, r)
				}
				return
			}
			t.Fatal("no mod_wsgi row")
		})
	}
}
