package harness

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"host": "127.0.0.1", "port": "8000", "app": "hello:application"}
	tests := []struct {
		in, want, err string
	}{
		{"{host}:{port}", "127.0.0.1:8000", ""},
		{"--app={app}", "--app=hello:application", ""},
		{"events {\n worker_connections 1;\n}", "events {\n worker_connections 1;\n}", ""},
		{"%{GLOBAL} {port}", "%{GLOBAL} 8000", ""},
		{"{ {port} }", "{ 8000 }", ""},
		{"unterminated {port", "unterminated {port", ""},
		{"{prot}", "", "unknown placeholder {prot}"},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, vars)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expand(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{"gunicorn -b {bind} {app}", []string{"gunicorn", "-b", "{bind}", "{app}"}, false},
		{`sh -c 'echo "a b"; exit 1' x`, []string{"sh", "-c", `echo "a b"; exit 1`, "x"}, false},
		{`a "b c" d\ e`, []string{"a", "b c", "d e"}, false},
		{`a ''`, []string{"a", ""}, false},
		{`a 'b`, nil, true},
		{`a \`, nil, true},
		{"   ", nil, true},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.in)
		if (err != nil) != tt.err || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitCommand(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestFromCmd(t *testing.T) {
	tests := []struct {
		tmpl, err string
	}{
		{"waitress-serve --listen={bind} {app}", ""},
		{"waitress-serve --listen=127.0.0.1:8000 {app}", "never uses {port} or {bind}"},
		{"waitress-serve --listen={bind}", "never uses {app}"},
		{"waitress-serve --listen={bind} {application}", "unknown placeholder {application}"},
		{"", "empty command"},
	}
	for _, tt := range tests {
		p, err := FromCmd(tt.tmpl)
		if tt.err == "" {
			if err != nil || p.Name != "cmd" || p.Command[0] != "waitress-serve" {
				t.Errorf("FromCmd(%q) = %+v, %v", tt.tmpl, p, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "--cmd:") {
			t.Errorf("FromCmd(%q) error %v, want %q", tt.tmpl, err, tt.err)
		}
	}
}

func TestLookup(t *testing.T) {
	user := []*Profile{{Name: "waitress", Description: "mine", Command: []string{"x", "{bind}", "{app}"}}}
	tests := []struct {
		name, want, err string
	}{
		{"gunicorn-gthread", "gunicorn-gthread", ""},
		{"waitress", "mine", ""}, // user profiles shadow built-ins
		{"behind-nginx:uwsgi", "nginx reverse proxy in front of uwsgi", ""},
		{"gunicorn-gthred", "", "did you mean gunicorn-gthread"},
		{"gunicorn", "", "did you mean gunicorn-"},
		{"modwsgi", "", "did you mean mod_wsgi"},
		{"behind-nginx:nope", "", "unknown server profile \"nope\""},
		{"behind-nginx:behind-nginx:uwsgi", "", "nginx in front of nginx"},
		{"zzzzzzzz", "", "`wsgikit servers` lists them all"},
	}
	for _, tt := range tests {
		p, err := Lookup(tt.name, user)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Lookup(%q) error %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Lookup(%q): %v", tt.name, err)
			continue
		}
		if p.Name != tt.want && p.Description != tt.want {
			t.Errorf("Lookup(%q) = %s (%s), want %s", tt.name, p.Name, p.Description, tt.want)
		}
	}
}

func TestBuiltinProfilesValid(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Builtin() {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
		if seen[p.Name] {
			t.Errorf("duplicate profile %s", p.Name)
		}
		seen[p.Name] = true
		if p.Package == "" || p.Description == "" {
			t.Errorf("%s: no package or description", p.Name)
		}
		if err := behindNginx(p).Validate(); err != nil {
			t.Errorf("behind-nginx:%s: %v", p.Name, err)
		}
	}
	honors := map[string][2]bool{ // workers, threads
		"gunicorn-sync": {true, false}, "gunicorn-gthread": {true, true}, "uwsgi": {true, true},
		"waitress": {false, true}, "wsgiref": {false, false}, "mod_wsgi": {true, true},
	}
	for name, want := range honors {
		p, _ := Lookup(name, nil)
		if got := [2]bool{p.HonorsWorkers(), p.HonorsThreads()}; got != want {
			t.Errorf("%s honors workers/threads %v, want %v", name, got, want)
		}
	}
	for _, want := range []string{"wsgikit", "gunicorn-sync", "gunicorn-gthread", "gunicorn-gevent", "uwsgi", "uwsgi-http11", "waitress", "cheroot", "gevent", "mod_wsgi", "wsgiref"} {
		if !seen[want] {
			t.Errorf("built-in %s missing", want)
		}
	}
}

func TestLoadProfiles(t *testing.T) {
	tests := []struct {
		name, text string
		err        []string // substrings; empty = valid
	}{
		{"valid", `
[[profile]]
name = "granian"
description = "Granian"
package = "pip install granian"
command = ["granian", "--interface", "wsgi", "--host", "{host}", "--port", "{port}", "--workers", "{workers}", "{app}"]
env = ["GRANIAN_LOG=0"]
stop_signal = "SIGINT"
stop_grace = "3s"
keep_alive = true
requires = ["granian"]
[profile.files]
"extra.conf" = "port={port}"
`, nil},
		{"unknown field", `
[[profile]]
name = "x"
command = ["x", "{bind}", "{app}"]
stop_timeout = "3s"
`, []string{`unknown field "stop_timeout"`, "known fields", "stop_grace"}},
		{"missing placeholder", `
[[profile]]
name = "x"
command = ["x", "--port", "8000", "{app}"]
`, []string{"profile x", "field command", "never uses {port} or {bind}"}},
		{"missing app", `
[[profile]]
name = "x"
command = ["x", "{bind}"]
`, []string{"profile x", "never uses {app}"}},
		{"unknown placeholder", `
[[profile]]
name = "x"
command = ["x", "{bind}", "{app}"]
env = ["A={nope}"]
`, []string{"profile x", "field env", "unknown placeholder {nope}", "{rundir}"}},
		{"instance placeholder in requires", `
[[profile]]
name = "x"
command = ["x", "{bind}", "{app}"]
requires = ["{appdir}/x"]
`, []string{"field requires", "{appdir}", "only known when an instance starts"}},
		{"bad signal", `
[[profile]]
name = "x"
command = ["x", "{bind}", "{app}"]
stop_signal = "SIGFOO"
`, []string{"field stop_signal", "SIGTERM"}},
		{"bad grace", `
[[profile]]
name = "x"
command = ["x", "{bind}", "{app}"]
stop_grace = "soon"
`, []string{"field stop_grace", `"10s"`}},
		{"duplicate", `
[[profile]]
name = "x"
command = ["x", "{bind}", "{app}"]
[[profile]]
name = "x"
command = ["x", "{bind}", "{app}"]
`, []string{"used twice"}},
		{"no name", `
[[profile]]
command = ["x", "{bind}", "{app}"]
`, []string{"field name is empty"}},
		{"syntax", "[[profile]\nname=", []string{"profiles.toml:2"}},
		{"top-level typo", "[[profiles]]\nname = \"x\"\n", []string{"unknown top-level key", "[[profile]]"}},
		{"reserved prefix", `
[[profile]]
name = "behind-nginx:x"
command = ["x", "{bind}", "{app}"]
`, []string{"must not start with"}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "profiles.toml")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			ps, err := LoadProfiles(path)
			if len(tt.err) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				p := ps[0]
				if p.Name != "granian" || p.StopSignal != syscall.SIGINT || p.StopGrace != 3*time.Second || !p.KeepAlive || p.Files["extra.conf"] != "port={port}" {
					t.Errorf("decoded %+v", p)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"", 3, ""},
		{"a\n", 0, ""},
	}
	for _, tt := range tests {
		if got := lastLines(tt.in, tt.n); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestHTTPProbe: the readiness probe takes any status line as an answer
// and says what else came back.
func TestHTTPProbe(t *testing.T) {
	tests := []struct {
		answer string
		code   int
		err    string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, ""},
		{"HTTP/1.0 503 Service Unavailable\r\n\r\n", 503, ""},
		{"HTTP/1.1 404\n\n", 404, ""}, // bare LF: the suite's business, not readiness's
		{"SSH-2.0-nope\r\n", 0, `not an HTTP status line: "SSH-2.0-nope"`},
		{"HTTP/1.1 2000 OK\r\n", 0, "not an HTTP status line"},
		{strings.Repeat("x", 300), 0, "no line end in the first 256 bytes"},
		{"HTTP/1.1 200 OK", 0, "no whole status line: EOF"},
		{"", 0, "connection closed without an answer: EOF"},
	}
	for _, tt := range tests {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 512))
			_, _ = io.WriteString(c, tt.answer)
			c.Close()
		}()
		code, err := httpProbe(context.Background(), ln.Addr().String(), "/", 10*time.Second, nil)
		ln.Close()
		if code != tt.code || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("answer %.40q: %d, %v; want %d, %q", tt.answer, code, err, tt.code, tt.err)
		}
	}
}

// TestAppsDirAndBuiltinApps: in the source tree AppsDir is its apps/
// directory (not an extracted copy), and every built-in app is a file there.
func TestAppsDirAndBuiltinApps(t *testing.T) {
	d, err := AppsDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "apps"); d != want {
		t.Errorf("AppsDir() = %s, want the source tree's %s", d, want)
	}
	for name, mc := range builtinApps {
		app, err := BuiltinApp(name)
		if err != nil {
			t.Fatal(err)
		}
		if app.Dir != d || app.Module != mc[0] || app.Callable != mc[1] {
			t.Errorf("BuiltinApp(%s) = %+v, want %s:%s in %s", name, app, mc[0], mc[1], d)
		}
		file := filepath.Join(app.Dir, strings.ReplaceAll(mc[0], ".", "/")+".py")
		if _, err := os.Stat(file); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := BuiltinApp("nope"); err == nil {
		t.Error("BuiltinApp(nope) succeeded")
	}
	t.Setenv("WSGIKIT_APPS", t.TempDir())
	if _, err := AppsDir(); err == nil || !strings.Contains(err.Error(), "WSGIKIT_APPS") {
		t.Errorf("bad WSGIKIT_APPS: %v", err)
	}
}

func TestParseApp(t *testing.T) {
	a, err := ParseApp("pkg.wsgi", "/tmp")
	if err != nil || a.Module != "pkg.wsgi" || a.Callable != "application" || a.Dir != "/tmp" {
		t.Errorf("ParseApp = %+v, %v", a, err)
	}
	if _, err := ParseApp("a/b.py", ""); err == nil {
		t.Error("ParseApp accepted a path")
	}
}

// TestExtractedApps: without a source tree, the apps embedded in the
// binary are written out and serve like the originals.
func TestExtractedApps(t *testing.T) {
	d, err := extractApps()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hello.py", "bench.py", "flask_app.py", "django_app/wsgi.py", "_launch_gevent.py", "_launch_wsgiref.py", "README.md"} {
		orig, err1 := os.ReadFile(filepath.Join("..", "..", "apps", f))
		got, err2 := os.ReadFile(filepath.Join(d, f))
		if err1 != nil || err2 != nil || string(orig) != string(got) {
			t.Errorf("%s: extracted copy differs (%v, %v)", f, err1, err2)
		}
	}
	if st, err := os.Stat(d); err != nil || st.Mode().Perm()&0o005 != 0o005 {
		t.Errorf("extracted dir not readable by others: %v %v", st.Mode(), err)
	}
}

// FuzzProfileTOML: a user profiles file is loaded or rejected with a
// one-line error; what loads is valid, uniquely named and never claims the
// behind-nginx prefix.
func FuzzProfileTOML(f *testing.F) {
	f.Add("[[profile]]\nname = \"mine\"\ncommand = [\"gunicorn\", \"-b\", \"{bind}\", \"{app}\"]\nstop_signal = \"INT\"\nstop_grace = \"3s\"\n")
	f.Add("[[profile]]\nname = \"a\"\ncommand = [\"x\", \"{port}\", \"{app}\"]\n[profile.files]\n\"c.conf\" = \"port={port}\"\n")
	f.Add("[[profile]]\nname = 0b\n") // the decoder quotes the bad number, newline and all
	f.Fuzz(func(t *testing.T, src string) {
		ps, err := parseProfiles("p.toml", src)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range ps {
			if err := p.Validate(); err != nil {
				t.Fatalf("loaded an invalid profile %q: %v", p.Name, err)
			}
			if seen[p.Name] || strings.HasPrefix(p.Name, NginxPrefix) {
				t.Fatalf("loaded name %q (seen %v)", p.Name, seen[p.Name])
			}
			seen[p.Name] = true
		}
	})
}

// TestCmdProfileVersion: a named ad-hoc command reports the version its
// executable prints for --version; one that cannot say, or that would have
// to run a script or a shell to ask, is "unknown" and still installed;
// "{python} -m MOD" is MOD's package under {python}.
func TestCmdProfileVersion(t *testing.T) {
	dir := t.TempDir()
	exe := func(name, script string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ran := filepath.Join(dir, "ran")
	tests := []struct {
		name, tmpl, want string
	}{
		{"mine", exe("myserver", `[ "$1" = --version ] && echo "myserver (version 1.2.3rc1)"`) + " --bind {bind} {app}", "1.2.3rc1"},
		{"silent", exe("silent", "exit 1") + " --bind {bind} {app}", "unknown"},
		{"script", "/bin/sh " + exe("script.sh", "touch "+ran) + " {port} {app}", "unknown"},
		{"shell", "sh -c 'touch " + ran + "' {port} {app}", "unknown"},
	}
	for _, tt := range tests {
		p, err := CmdProfile(tt.name, tt.tmpl, "")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		v, err := p.Version()
		if err != nil || v != tt.want || p.Name != tt.name {
			t.Errorf("%s: version %q, %v; want %q", tt.name, v, err, tt.want)
		}
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("a script or shell was run to ask its version")
	}
	p, err := CmdProfile("py", "{python} -m wsgikit_surely_missing --bind {bind} {app}", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Version(); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "import wsgikit_surely_missing") {
		t.Errorf("{python} -m of a missing module: %v, want not installed naming the import", err)
	}
	if _, err := CmdProfile("named", "x --bind {bind}", ""); err == nil || !strings.HasPrefix(err.Error(), "--cmd named: ") {
		t.Errorf("named command's error %v, want it to start with its name", err)
	}
	p, err = CmdProfile("here", "srv --bind {bind} {app}", "/srv/project")
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir != "/srv/project" || len(p.Env) != 1 || !strings.HasPrefix(p.Env[0], "PYTHONPATH={appdir}") {
		t.Errorf("workdir: Dir %q Env %q", p.Dir, p.Env)
	}
}
