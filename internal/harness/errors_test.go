package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cmdProfile builds an ad-hoc profile for error-path tests; the commands
// are real processes.
func cmdProfile(t *testing.T, tmpl string) *Profile {
	t.Helper()
	p, err := FromCmd(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	p.StopGrace = 2 * time.Second
	return p
}

func helloApp(t *testing.T) App {
	t.Helper()
	app, err := BuiltinApp("hello")
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// groupAlive reports whether any non-zombie process is in group pgid.
func groupAlive(pgid int) []string {
	tr := newTree(pgid)
	var out []string
	for _, s := range tr.scanSurvivors() {
		out = append(out, s.String())
	}
	return out
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	lines := `for i in $(seq 1 30); do echo "line $i"; done`
	tests := []struct {
		name    string
		tmpl    string
		timeout time.Duration
		want    []string // substrings of the error
		notWant []string
	}{
		{
			name: "exits at once with its log tail",
			tmpl: `sh -c '` + lines + `; echo "cannot load {app}" >&2; exit 3' {port}`,
			want: []string{"exited during start-up", "exit status 3", "line 30", "line 12", "cannot load hello:application", "last 20 lines"},
			// 31 lines of output plus the harness's header line: 20 kept.
			notWant: []string{"line 11\n"},
		},
		{
			name:    "never answers",
			tmpl:    `sh -c 'echo starting {app} on {port}; sleep 30 & sleep 30; wait'`,
			timeout: 1500 * time.Millisecond,
			want:    []string{"not ready after 1.5s", "GET /", "starting hello:application"},
		},
		{
			// Accepts TCP connections but never speaks HTTP: a TCP connect
			// is not readiness.
			name:    "listens but never answers HTTP",
			tmpl:    `{python} -c 'import socket,time,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("{host}", {port})); s.listen(); print("listening", flush=True); c=[s.accept() for _ in range(100)]; time.sleep(30)' {app}`,
			timeout: 1500 * time.Millisecond,
			want:    []string{"not ready after 1.5s", "listening"},
		},
		{
			name:    "answers something that is not HTTP",
			tmpl:    `{python} -c 'import socket; s=socket.socket(); s.bind(("{host}", {port})); s.listen(); print("up", flush=True); [(lambda c: (c[0].recv(100), c[0].sendall(b"SSH-2.0-nope\r\n"), c[0].close()))(s.accept()) for _ in range(1000)]' {app}`,
			timeout: 1500 * time.Millisecond,
			want:    []string{"not ready", "not an HTTP status line", "SSH-2.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cmdProfile(t, tt.tmpl)
			start := time.Now()
			inst, err := Start(context.Background(), p, helloApp(t), Options{StartTimeout: tt.timeout})
			if err == nil {
				inst.Stop()
				t.Fatal("Start succeeded")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(msg, w) {
					t.Errorf("error has %q:\n%s", w, msg)
				}
			}
			if tt.timeout > 0 && time.Since(start) > tt.timeout+p.StopGrace+10*time.Second {
				t.Errorf("Start took %v with a %v deadline", time.Since(start), tt.timeout)
			}
			if strings.Contains(msg, "survived") {
				t.Errorf("processes survived: %s", msg)
			}
		})
	}
}

// TestStartTimeoutKillsGroup: the "never ready" server forks; after the
// failed start neither it nor its child may be left.
func TestStartTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	marker := fmt.Sprintf("wsgikit-test-%d", time.Now().UnixNano())
	// The child sleeps under a unique argv so it can be found in /proc.
	p := cmdProfile(t, `bash -c 'bash -c "exec -a `+marker+` sleep 60" & echo "child=$!"; trap "" TERM; echo ready-never {port} {app}; while :; do sleep 1; done'`)
	_, err := Start(context.Background(), p, helloApp(t), Options{StartTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("want a not-ready error, got %v", err)
	}
	var child int
	if i := strings.Index(err.Error(), "child="); i < 0 {
		t.Fatalf("log tail lacks the child's pid: %v", err)
	} else {
		fmt.Sscanf(err.Error()[i:], "child=%d", &child)
	}
	var st procStat
	if _, serr := readStat(child, nil, &st); serr == nil && st.state != 'Z' && strings.HasPrefix(st.comm, "sleep") {
		t.Errorf("child %d (%s) survived the failed start", child, st.comm)
	}
	if pids := findByCmdline(marker); len(pids) > 0 {
		t.Errorf("child %v survived the failed start", pids)
	}
}

// TestStopKillsEscapedChild: a child that leaves the process group
// (setsid) is still found through PPid and killed by Stop.
func TestStopKillsEscapedChild(t *testing.T) {
	t.Parallel()
	marker := fmt.Sprintf("wsgikit-escaped-%d", time.Now().UnixNano())
	// The server forks a child into its own session, then serves HTTP.
	p := cmdProfile(t, `{python} -c 'import os, sys, http.server, socketserver
pid = os.fork()
if pid == 0:
    os.setsid()
    os.execvp("sleep", ["`+marker+`", "60"])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
http.server.HTTPServer(("{host}", {port}), H).serve_forever()' {app}`)
	inst, err := Start(context.Background(), p, helloApp(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(findByCmdline(marker)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	escaped := findByCmdline(marker)
	if len(escaped) != 1 {
		inst.Stop()
		t.Fatalf("escaped child not found: %v", escaped)
	}
	if pids := inst.PIDs(); !containsInt(pids, escaped[0]) {
		t.Errorf("PIDs() = %v lacks the escaped child %d", pids, escaped[0])
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	if pids := findByCmdline(marker); len(pids) > 0 {
		t.Errorf("escaped child %v survived Stop", pids)
	}
}

// TestStopEscalatesToKill: a server ignoring its stop signal is killed
// after the grace period, with its whole group.
func TestStopEscalatesToKill(t *testing.T) {
	t.Parallel()
	p := cmdProfile(t, `{python} -c 'import signal, http.server, os
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.system("sleep 60 &")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204); self.end_headers()
http.server.HTTPServer(("{host}", {port}), H).serve_forever()' {app}`)
	p.StopGrace = 500 * time.Millisecond
	inst, err := Start(context.Background(), p, helloApp(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if inst.ReadyStatus != 204 {
		t.Errorf("ReadyStatus %d, want 204", inst.ReadyStatus)
	}
	pgid := inst.cmd.Process.Pid
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	if !inst.Killed() {
		t.Error("Killed() false for a server ignoring SIGTERM")
	}
	if left := groupAlive(pgid); len(left) > 0 {
		t.Errorf("left after Stop: %v", left)
	}
	if err := inst.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	select {
	case <-inst.Exited():
	default:
		t.Error("Exited not closed after Stop")
	}
}

func TestNotInstalled(t *testing.T) {
	t.Parallel()
	p := &Profile{
		Name: "fancy", Package: "python3-fancy",
		Command:  []string{"fancy-serve", "{bind}", "{app}"},
		Requires: []string{"fancy-serve"},
	}
	_, err := Start(context.Background(), p, helloApp(t), Options{})
	if err == nil {
		t.Fatal("Start succeeded")
	}
	msg := err.Error()
	if !errors.Is(err, ErrNotInstalled) || strings.Contains(msg, "\n") || !strings.Contains(msg, "apt-get install python3-fancy") {
		t.Errorf("want one line naming the package, got %q", msg)
	}
	q := &Profile{Name: "pymissing", Package: "python3-nope", Command: []string{"{python}", "-m", "nope", "{bind}", "{app}"}, PyModules: []string{"wsgikit_no_such_module"}}
	if _, err := q.Version(); err == nil || !strings.Contains(err.Error(), "apt-get install python3-nope") || !strings.Contains(err.Error(), "ModuleNotFoundError") {
		t.Errorf("missing module: %v", err)
	}
}

// TestUWSGINeedsPipsBuild: next to Debian's interpreter, {pybin}/uwsgi is
// Debian's uWSGI (which takes no --virtualenv without its plugin): the
// plain uwsgi profile is then not installed, one line naming the missing
// distribution, instead of a start that fails on an unknown option.
func TestUWSGINeedsPipsBuild(t *testing.T) {
	if _, err := os.Stat("/usr/bin/uwsgi"); err != nil {
		t.Skip("no Debian uWSGI at /usr/bin/uwsgi")
	}
	if _, err := run(DefaultPython, "-c", "import importlib.metadata as m; m.version('uWSGI')"); err == nil {
		t.Skipf("%s has pip's uWSGI", DefaultPython)
	}
	t.Setenv("WSGIKIT_PYTHON", DefaultPython)
	for _, name := range []string{"uwsgi", "uwsgi-http11"} {
		p, err := Lookup(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Version()
		if !errors.Is(err, ErrNotInstalled) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), DefaultPython+" has no uWSGI distribution") {
			t.Errorf("%s on %s: %v; want not installed, naming the distribution", name, DefaultPython, err)
		}
	}
}

// TestPortTaken: the picked port is taken by another HTTP server that
// answers; Start must notice the answer is not its server's and retry on
// another port.
func TestPortTaken(t *testing.T) {
	// Not parallel: it swaps pickPort.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("impostor")) })}
	go srv.Serve(l)
	defer srv.Close()
	taken := l.Addr().(*net.TCPAddr).Port

	orig := pickPort
	calls := 0
	pickPort = func(host string) (int, error) {
		calls++
		if calls == 1 {
			return taken, nil
		}
		return orig(host)
	}
	defer func() { pickPort = orig }()

	p, err := Lookup("waitress", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireInstalled(t, p)
	inst, err := Start(context.Background(), p, helloApp(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	if inst.Port == taken || calls < 2 {
		t.Errorf("port %d (taken %d), %d picks", inst.Port, taken, calls)
	}
	status, body, err := doRequest(inst.Addr, "GET", "/", nil)
	if err != nil || status != 200 || string(body) != "Hello, World!" {
		t.Errorf("GET /: %d %q %v", status, body, err)
	}

	// A fixed port that is taken is an error, not a silent move.
	_, err = Start(context.Background(), p, helloApp(t), Options{Port: taken, StartTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("Start on a taken fixed port succeeded")
	}
	if !strings.Contains(err.Error(), "another process answers") && !addrInUse.MatchString(err.Error()) {
		t.Errorf("error does not say the port is taken: %v", err)
	}
}

func findByCmdline(marker string) []int {
	pids, _ := listPIDs()
	var out []int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.HasPrefix(string(b), marker) {
			continue
		}
		var st procStat
		if _, err := readStat(pid, nil, &st); err == nil && st.state != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestStartCancelled(t *testing.T) {
	t.Parallel()
	p := cmdProfile(t, `sh -c 'echo waiting {port} {app}; exec sleep 30'`)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Start(ctx, p, helloApp(t), Options{})
	if err == nil || !strings.Contains(err.Error(), "start-up cancelled") || !strings.Contains(err.Error(), "waiting") {
		t.Fatalf("want a cancelled start with the log tail, got %v", err)
	}
}

// TestLogDirKept: with LogDir, the log survives Stop (the temp dir does
// not); without it, LogTail still works after Stop.
func TestLogDirKept(t *testing.T) {
	t.Parallel()
	logDir := t.TempDir()
	p, err := Lookup("wsgiref", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireInstalled(t, p)
	for _, dir := range []string{logDir, ""} {
		inst, err := Start(context.Background(), p, helloApp(t), Options{LogDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		rundir := inst.rundir
		if err := inst.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(rundir); err == nil {
			t.Errorf("rundir %s left after Stop", rundir)
		}
		if !strings.Contains(inst.LogTail(5), "wsgiref serving hello:application") {
			t.Errorf("LogTail after Stop: %q", inst.LogTail(5))
		}
		_, statErr := os.Stat(inst.LogPath)
		if (dir != "") != (statErr == nil) {
			t.Errorf("LogDir %q: log file %s exists=%v", dir, inst.LogPath, statErr == nil)
		}
	}
}

// TestModWSGIUnreadableApp: as root, Apache's daemon runs as www-data; an
// app it cannot read is a clear error before anything starts.
func TestModWSGIUnreadableApp(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only as root does Apache switch to www-data")
	}
	p, err := Lookup("mod_wsgi", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireInstalled(t, p)
	dir := t.TempDir() // 0700
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), p, App{Dir: dir, Module: "x", Callable: "application"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "www-data, which cannot read it") {
		t.Fatalf("got %v", err)
	}
}

// TestExitedAfterStart: a server that dies after start closes Exited, and
// Stop still verifies and cleans up.
func TestExitedAfterStart(t *testing.T) {
	t.Parallel()
	p, err := Lookup("wsgiref", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireInstalled(t, p)
	inst, err := Start(context.Background(), p, helloApp(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Exited():
		t.Fatal("Exited closed while running")
	default:
	}
	if err := inst.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("Exited not closed after the server was killed")
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestGeventNoDelayFlag: the launcher's --tcp-nodelay variant serves (for
// user profiles measuring pywsgi without the Nagle/delayed-ACK stall).
func TestGeventNoDelayFlag(t *testing.T) {
	t.Parallel()
	g, err := Lookup("gevent", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireInstalled(t, g)
	p := cmdProfile(t, "{python} {launchers}/_launch_gevent.py --tcp-nodelay --host {host} --port {port} --chdir {appdir} {app}")
	inst, err := Start(context.Background(), p, helloApp(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	status, body, err := doRequest(inst.Addr, "GET", "/", nil)
	if err != nil || status != 200 || string(body) != "Hello, World!" {
		t.Errorf("GET /: %d %q %v", status, body, err)
	}
}

// TestHarnessDeathStopsServer: when the process that started a server dies
// without calling Stop, the server is stopped anyway (parent-death signal),
// and its workers go with it.
func TestHarnessDeathStopsServer(t *testing.T) {
	if os.Getenv("WSGIKIT_TEST_DIE_AFTER_START") != "" {
		// The child: start a server, print its process group, die.
		p, err := Lookup(os.Getenv("WSGIKIT_TEST_DIE_AFTER_START"), nil)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		inst, err := Start(context.Background(), p, helloApp(t), Options{Workers: 2})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("pgid=%d rundir=%s\n", inst.cmd.Process.Pid, inst.rundir)
		os.Exit(0) // no Stop
	}
	t.Parallel()
	for _, name := range []string{"gunicorn-sync", "uwsgi"} {
		p, err := Lookup(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		requireInstalled(t, p)
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestHarnessDeathStopsServer$")
		cmd.Env = append(os.Environ(), "WSGIKIT_TEST_DIE_AFTER_START="+name)
		out, err := cmd.Output()
		var pgid int
		var rundir string
		if i := strings.Index(string(out), "pgid="); i < 0 {
			t.Fatalf("%s: child: %v\n%s", name, err, out)
		} else {
			fmt.Sscanf(string(out[i:]), "pgid=%d rundir=%s", &pgid, &rundir)
		}
		if strings.HasPrefix(rundir, os.TempDir()+"/wsgikit-") {
			defer os.RemoveAll(rundir) // the dead harness could not
		}
		// Bounded by gunicorn's own graceful timeout (30 s), which applies
		// when a worker that was still booting missed the signal.
		deadline := time.Now().Add(45 * time.Second)
		for len(groupAlive(pgid)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if left := groupAlive(pgid); len(left) > 0 {
			t.Errorf("%s: left running after the harness died: %v", name, left)
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
}

// TestModWSGIUnsupportedInterpreter: as root, mod_wsgi with an interpreter
// whose standard library www-data cannot read (pyenv's, under /root) is
// "unsupported here" with the reason, not "installed"; with one it can read,
// it is installed. The interpreters are the peers venvs of `make setup`.
func TestModWSGIUnsupportedInterpreter(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only as root does Apache switch to www-data")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	pys, _ := filepath.Glob(filepath.Join(root, VenvDir, "py3.*", "bin", "python"))
	seen := map[bool]bool{}
	for _, py := range pys {
		out, err := exec.Command(py, "-c", "import sys; print(sys.base_prefix)").Output()
		if err != nil {
			t.Fatalf("%s: %v", py, err)
		}
		readable := othersCanRead(strings.TrimSpace(string(out))) == nil
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(py))), func(t *testing.T) {
			t.Setenv("WSGIKIT_PYTHON", py) // not parallel: the environment is the input
			p, err := Lookup("mod_wsgi", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Version()
			if !readable {
				if !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "www-data") || !strings.Contains(err.Error(), py) {
					t.Errorf("%s, whose standard library www-data cannot read: %v; want unsupported naming www-data and the interpreter", py, err)
				}
				return
			}
			if errors.Is(err, ErrUnsupported) {
				t.Errorf("%s: %v; www-data can read its standard library", py, err)
			}
		})
		seen[readable] = true
	}
	if !seen[false] {
		t.Log("no peers venv on an interpreter www-data cannot read: only the readable case ran")
	}
}

// TestWsgikitWithoutBuild: a wsgikit binary whose lib/ lacks the build for
// {python} is "not installed", with the make command that builds it.
func TestWsgikitWithoutBuild(t *testing.T) {
	bin, err := WsgikitBin()
	if err != nil {
		t.Skipf("%v", err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyBin := filepath.Join(dir, "wsgikit") // lib/ beside it: empty
	if err := os.WriteFile(copyBin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WSGIKIT_BIN", copyBin)
	t.Setenv("WSGIKIT_LIBDIR", "")
	p, err := Lookup("wsgikit", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Version()
	if !errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "make build PYTHON="+p.python()) {
		t.Fatalf("got %v; want not installed, naming make build PYTHON=%s", err, p.python())
	}
}
