package python

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/testenv"
)

// waitBound bounds a wait for a process or an answer; it never decides a
// verdict.
const waitBound = 2 * time.Minute

// interpreters returns tag → path for every CPython `make build` builds for.
func interpreters(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("./interpreters.sh").Output()
	if err != nil {
		t.Fatalf("interpreters.sh: %v", err)
	}
	m := map[string]string{}
	for _, line := range strings.Fields(string(out)) {
		tag, path, ok := strings.Cut(line, "=")
		if ok {
			m[tag] = path
		}
	}
	if len(m) == 0 {
		t.Fatal("interpreters.sh found no CPython 3.10+")
	}
	return m
}

// userEnv is the environment of a user who installed the wheel: none of the
// test run's WSGIKIT_* settings (they point at the source tree's build).
func userEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WSGIKIT_") {
			env = append(env, kv)
		}
	}
	return env
}

// TestWheel installs the wheel `make wheel` built for each interpreter into
// a fresh venv, as `pip install wsgikit-*.whl` would, and uses it from a
// directory outside the source tree: `wsgikit` on PATH and `python -m
// wsgikit` run the packaged binary, `serve` runs the app on the venv's own
// Python by default, and `check` runs the suite against it with the apps
// the binary carries.
func TestWheel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no venvs")
	}
	dist := os.Getenv("WSGIKIT_WHEELS")
	if dist == "" {
		testenv.Missing(t, "WSGIKIT_WHEELS (the directory `make wheel` writes) is not set: run make test, or make wheel and set it")
	}
	for tag, py := range interpreters(t) {
		t.Run(tag, func(t *testing.T) {
			t.Parallel()
			cp := "cp" + strings.ReplaceAll(strings.TrimPrefix(tag, "py"), ".", "")
			wheels, _ := filepath.Glob(filepath.Join(dist, "wsgikit-*-"+cp+"-"+cp+"-*.whl"))
			if len(wheels) != 1 {
				t.Fatalf("want one %s wheel in %s, found %v: run make wheel", cp, dist, wheels)
			}
			// A directory with no go.mod above it: nothing of the source tree
			// is found from there (and python/venv.py does not shadow venv).
			home := t.TempDir()
			venv := filepath.Join(t.TempDir(), "venv")
			run(t, home, py, "-m", "venv", venv)
			run(t, home, filepath.Join(venv, "bin", "python"), "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheels[0])
			version := regexp.MustCompile(`wsgikit-([^-]+)-`).FindStringSubmatch(filepath.Base(wheels[0]))[1]
			for _, argv := range [][]string{
				{filepath.Join(venv, "bin", "wsgikit"), "--version"},
				{filepath.Join(venv, "bin", "python"), "-m", "wsgikit", "--version"},
			} {
				if got := run(t, home, argv...); strings.TrimSpace(got) != "wsgikit version "+version {
					t.Errorf("%v: %q, want the wheel's version %s", argv, got, version)
				}
			}
			t.Run("servers", func(t *testing.T) { wheelServers(t, venv, home) })
			t.Run("serve", func(t *testing.T) { wheelServe(t, venv, home) })
			t.Run("check", func(t *testing.T) { wheelCheck(t, venv, home) })
			if tag == defaultTag(t) {
				t.Run("bench", func(t *testing.T) { wheelBench(t, venv, home) })
			}
		})
	}
}

// wheelServers: `wsgikit servers` sees its own build, on the venv's Python.
func wheelServers(t *testing.T, venv, home string) {
	var rows []struct {
		Name      string `json:"name"`
		Installed bool   `json:"installed"`
		Python    string `json:"python"`
	}
	if err := json.Unmarshal([]byte(run(t, home, filepath.Join(venv, "bin", "wsgikit"), "servers", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Name == "wsgikit" {
			if !r.Installed || r.Python != filepath.Join(venv, "bin", "python") {
				t.Fatalf("wsgikit row: installed=%v python=%s, want installed on %s/bin/python", r.Installed, r.Python, venv)
			}
			return
		}
	}
	t.Fatalf("no wsgikit row in servers --json")
}

// wheelServe: the venv's wsgikit serves an app that answers sys.prefix,
// which must be the venv: its Python is the default.
func wheelServe(t *testing.T, venv, home string) {
	app := t.TempDir()
	os.WriteFile(filepath.Join(app, "app.py"), []byte("import sys\n\ndef application(environ, start_response):\n"+
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [sys.prefix.encode()]\n"), 0o644)
	cmd := exec.Command(filepath.Join(venv, "bin", "wsgikit"), "serve", "-b", "127.0.0.1:0", "--chdir", app, "app:application")
	cmd.Dir, cmd.Env = home, userEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	listen := regexp.MustCompile(`listening at: http://(\S+)`)
	var addr string
	var seen []string
	for timeout := time.After(waitBound); addr == ""; {
		select {
		case l := <-lines:
			seen = append(seen, l)
			if m := listen.FindStringSubmatch(l); m != nil {
				addr = m[1]
			}
		case <-exited:
			t.Fatalf("serve exited:\n%s", strings.Join(seen, "\n"))
		case <-timeout:
			t.Fatalf("serve never listened:\n%s", strings.Join(seen, "\n"))
		}
	}
	// The master listens before its worker has booted: retry until one answers.
	client := &http.Client{Timeout: 10 * time.Second}
	var body []byte
	for deadline := time.Now().Add(waitBound); ; {
		r, err := client.Get("http://" + addr + "/")
		if err == nil {
			body, err = io.ReadAll(r.Body)
			r.Body.Close()
			if err == nil && r.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v\n%s", addr, err, strings.Join(seen, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	want, _ := filepath.EvalSymlinks(venv)
	got, _ := filepath.EvalSymlinks(string(body))
	if got != want {
		t.Fatalf("the app ran in %q (sys.prefix), want the venv %s", body, venv)
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("serve exit code %d after TERM", code)
		}
	case <-time.After(waitBound):
		t.Fatal("serve did not exit after TERM")
	}
}

// wheelCheck: the suite runs against the wheel's own server and finds it
// strict (exit 0), with every spec judged.
func wheelCheck(t *testing.T, venv, home string) {
	out := t.TempDir()
	run(t, home, filepath.Join(venv, "bin", "wsgikit"), "check", "--server", "wsgikit", "-o", out)
	var c struct {
		Servers []struct {
			Name    string `json:"name"`
			Error   string `json:"error"`
			Results []struct {
				ID      string `json:"id"`
				Verdict string `json:"verdict"`
			} `json:"results"`
		} `json:"servers"`
	}
	b, err := os.ReadFile(filepath.Join(out, "check.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 1 {
		t.Fatalf("check.json: %d servers, want 1", len(c.Servers))
	}
	if s := c.Servers[0]; s.Error != "" || len(s.Results) < 175 {
		t.Fatalf("check.json: %s could not run (%q) or judged only %d specs", s.Name, s.Error, len(s.Results))
	}
	for _, r := range c.Servers[0].Results {
		if r.Verdict == "ERROR" || r.Verdict == "FAIL" {
			t.Errorf("%s: %s", r.ID, r.Verdict)
		}
	}
}

// defaultTag is the interpreter of the peers venv .venv/default (make setup).
func defaultTag(t *testing.T) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join("..", ".venv", "default"))
	if err != nil {
		testenv.Missing(t, "no peers venv .venv/default: run make setup")
	}
	return filepath.Base(target)
}

// wheelBench: from the pip-installed wsgikit, a side-by-side benchmark of
// the user's own app on three servers, with the servers of a Python
// environment of the user's choosing (here the peers venv, which has
// Gunicorn and uWSGI): every server gives the same answer, and each is
// measured.
func wheelBench(t *testing.T, venv, home string) {
	peersPython, _ := filepath.Abs(filepath.Join("..", ".venv", "default", "bin", "python"))
	app := t.TempDir()
	os.WriteFile(filepath.Join(app, "myapp.py"), []byte("def application(environ, start_response):\n"+
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'my app: ' + environ['PATH_INFO'].encode()]\n"), 0o644)
	out := t.TempDir()
	run(t, home, filepath.Join(venv, "bin", "wsgikit"), "bench", "--app", "myapp:application", "--chdir", app,
		"--python", peersPython, "--server", "wsgikit,gunicorn-gthread,uwsgi", "--path", "/items",
		"-d", "1s", "--rounds", "1", "--warmup", "0.5s", "-c", "4", "-o", out)
	var b struct {
		Servers []struct {
			Name    string `json:"name"`
			Targets []struct {
				Status int    `json:"status"`
				Digest string `json:"digest"`
			} `json:"targets"`
		} `json:"servers"`
		Runs []struct {
			Server   string `json:"server"`
			Requests int    `json:"requests"`
		} `json:"runs"`
	}
	raw, err := os.ReadFile(filepath.Join(out, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	digests := map[string]bool{}
	for _, s := range b.Servers {
		for _, tg := range s.Targets {
			if tg.Status != 200 {
				t.Errorf("%s answered %d", s.Name, tg.Status)
			}
			digests[tg.Digest] = true
		}
	}
	if len(b.Servers) != 3 || len(digests) != 1 {
		t.Fatalf("bench.json: %d servers, %d distinct answers; want 3 servers, one answer\n%s", len(b.Servers), len(digests), raw)
	}
	measured := map[string]bool{}
	for _, r := range b.Runs {
		measured[r.Server] = measured[r.Server] || r.Requests > 0
	}
	for _, s := range b.Servers {
		if !measured[s.Name] {
			t.Errorf("%s: no requests measured", s.Name)
		}
	}
}

// run runs argv in dir as a user would (no WSGIKIT_* from the test run),
// bounded, and returns its stdout; a failure shows its output.
func run(t *testing.T, dir string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, userEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", argv, err, stdout.String(), stderr.String())
		}
	case <-time.After(waitBound):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("%v: still running after %v, killed\n%s%s", argv, waitBound, stdout.String(), stderr.String())
	}
	return stdout.String()
}
