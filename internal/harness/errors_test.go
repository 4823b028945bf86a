package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/testenv"
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

// whenLogged returns a context cancelled once a log in dir (Options.LogDir)
// holds marker n times outside the harness's own first line (the command,
// which names the marker too): start-up tests end on what the server did,
// not on how long it took. It ends with the test.
func whenLogged(t *testing.T, dir, marker string, n int) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, f := range logs {
				b, _ := os.ReadFile(f)
				if _, out, ok := strings.Cut(string(b), "\n"); ok && strings.Count(out, marker) >= n {
					cancel()
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return ctx
}

// boundStart bounds start-ups that end on a marker in the log: if it never
// comes, Start fails with the log's tail, which shows what was seen.
const boundStart = 2 * time.Minute

func TestStartErrors(t *testing.T) {
	t.Parallel()
	lines := `for i in $(seq 1 30); do echo "line $i"; done`
	tests := []struct {
		name    string
		tmpl    string
		timeout time.Duration
		// marker, seen count times in the log, cancels the start.
		marker  string
		count   int
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
			// Never answering is the point: the deadline's expiry is the
			// outcome whatever the load. The log's tail holds at least the
			// harness's own line with the command it ran.
			name:    "never answers",
			tmpl:    `sh -c 'echo starting {app} on {port}; sleep 30 & sleep 30; wait'`,
			timeout: 1500 * time.Millisecond,
			want:    []string{"not ready after 1.5s", "GET /", "# wsgikit: sh -c echo starting hello:application on"},
		},
		{
			// Accepts TCP connections but never speaks HTTP: a TCP connect
			// is not readiness. Two accepts: the harness gave up on one
			// silent connection and probed again.
			name:   "listens but never answers HTTP",
			tmpl:   `{python} -c 'import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("{host}", {port})); s.listen(); [(lambda c: (c.recv(1000), print("accepted", flush=True), c.close()))(s.accept()[0]) for _ in range(1000)]' {app}`,
			marker: "accepted",
			count:  2,
			want:   []string{"start-up cancelled", "connection closed without an answer", "accepted"},
		},
		{
			name:   "answers something that is not HTTP",
			tmpl:   `{python} -c 'import socket; s=socket.socket(); s.bind(("{host}", {port})); s.listen(); [(lambda c: (c.recv(100), c.sendall(b"SSH-2.0-nope\r\n"), c.close(), print("answered", flush=True)))(s.accept()[0]) for _ in range(1000)]' {app}`,
			marker: "answered",
			count:  2,
			want:   []string{"start-up cancelled", "not an HTTP status line", "SSH-2.0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cmdProfile(t, tt.tmpl)
			opts := Options{StartTimeout: tt.timeout, LogDir: t.TempDir()}
			ctx := context.Background()
			if tt.marker != "" {
				ctx = whenLogged(t, opts.LogDir, tt.marker, tt.count)
				opts.StartTimeout = boundStart
			}
			inst, err := Start(ctx, p, helloApp(t), opts)
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
	logDir := t.TempDir()
	_, err := Start(whenLogged(t, logDir, "ready-never", 1), p, helloApp(t), Options{StartTimeout: boundStart, LogDir: logDir})
	if err == nil || !strings.Contains(err.Error(), "start-up cancelled") {
		t.Fatalf("want a cancelled start, got %v", err)
	}
	var child int
	if i := strings.Index(err.Error(), "\nchild="); i < 0 {
		t.Fatalf("log tail lacks the child's pid: %v", err)
	} else if _, serr := fmt.Sscanf(err.Error()[i+1:], "child=%d", &child); serr != nil {
		t.Fatalf("log tail: child's pid: %v: %v", serr, err)
	}
	var st procStat
	if _, serr := readStat(child, nil, &st); serr == nil && st.state != 'Z' && strings.HasPrefix(st.comm, "sleep") {
		t.Errorf("child %d (%s) survived the failed start", child, st.comm)
	}
	if pids := findByCmdline(marker); len(pids) > 0 {
		t.Errorf("child %v survived the failed start", pids)
	}
}

// escapingServer is a server whose child leaves the process group (setsid)
// and runs as marker, ignoring SIGTERM if ignoreTerm. It serves only once
// the child has exec'd (the pipe's end closes on exec), so the child is
// there, outside the group, when Start returns.
func escapingServer(marker string, ignoreTerm bool) string {
	ign := ""
	if ignoreTerm {
		ign = "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
	}
	return `{python} -c 'import os, signal, http.server
r, w = os.pipe()
if os.fork() == 0:
    os.setsid(); ` + ign + `os.execvp("sleep", ["` + marker + `", "60"])
os.close(w); os.read(r, 1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204); self.end_headers()
http.server.HTTPServer(("{host}", {port}), H).serve_forever()' {app}`
}

// TestStopKillsEscapedChild: a child that leaves the process group
// (setsid) is still found through PPid and killed by Stop.
func TestStopKillsEscapedChild(t *testing.T) {
	t.Parallel()
	marker := fmt.Sprintf("wsgikit-escaped-%d", time.Now().UnixNano())
	inst, err := Start(context.Background(), cmdProfile(t, escapingServer(marker, false)), helloApp(t), Options{})
	if err != nil {
		t.Fatal(err)
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
	// Released by Stop (exit 0), not left to stop the server itself.
	if st := inst.wd.cmd.ProcessState; st == nil || st.ExitCode() != 0 {
		t.Errorf("watchdog after Stop: %v", st)
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
		testenv.Missing(t, "no Debian uWSGI at /usr/bin/uwsgi: run make setup (apt-get install uwsgi)")
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

// TestPortSquatterGoesAway: another process holds the picked port while
// the server starts (Gunicorn then retries its bind every second), answers
// the readiness probe, and closes its listener. The server is running but
// not listening yet: that is not ready. Start must come back with an
// instance that answers (on this port once Gunicorn's retry binds it, or on
// another), never with one where nothing listens.
func TestPortSquatterGoesAway(t *testing.T) {
	// Not parallel: it swaps pickPort.
	p, err := Lookup("gunicorn-sync", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireInstalled(t, p)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		// Long enough for Gunicorn to have tried its bind and failed
		// (shorter, and this test passes without exercising anything).
		time.Sleep(1500 * time.Millisecond)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
		c.Close()
		l.Close()
	}()
	taken := l.Addr().(*net.TCPAddr).Port
	orig := pickPort
	calls := 0
	pickPort = func(host string) (int, error) {
		if calls++; calls == 1 {
			return taken, nil
		}
		return orig(host)
	}
	defer func() { pickPort = orig }()
	inst, err := Start(context.Background(), p, helloApp(t), Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	status, body, err := doRequest(inst.Addr, "GET", "/", nil)
	if err != nil || status != 200 || string(body) != "Hello, World!" {
		t.Fatalf("GET / on port %d (squatted %d, %d picks): %d %q %v\n%s", inst.Port, taken, calls, status, body, err, inst.LogTail(10))
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
	logDir := t.TempDir()
	_, err := Start(whenLogged(t, logDir, "waiting", 1), p, helloApp(t), Options{StartTimeout: boundStart, LogDir: logDir})
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
	case <-time.After(time.Minute): // bounds the wait; SIGKILL is immediate
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

// TestHarnessDeathStopsServer: when the process that started a server
// dies without calling Stop, right after the first answer (workers may
// still be booting and miss a signal), the instance's watchdog stops the
// server anyway, whatever the profile: every process of it goes, members
// that left its group included, and its temporary directory with it. The
// test waits for the watchdogs themselves: they hold the dead harness's
// stderr, so reading it to the end waits exactly until the last one exits.
func TestHarnessDeathStopsServer(t *testing.T) {
	if name := os.Getenv("WSGIKIT_TEST_DIE_AFTER_START"); name != "" {
		dieAfterStart(name)
	}
	t.Parallel()
	marker := fmt.Sprintf("wsgikit-orphan-%d", time.Now().UnixNano())
	names := []string{"escaped:" + marker, NginxPrefix + "uwsgi"}
	for _, p := range Builtin() {
		names = append(names, p.Name)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		name           string
		stdout, stderr string
		err            error
	}
	results := make(chan result)
	sem := make(chan struct{}, 4) // harnesses at a time, each with its servers
	started := 0
	for _, name := range names {
		if !strings.HasPrefix(name, "escaped:") {
			p, err := Lookup(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Version(); err != nil {
				if !testenv.MissingAllowed() {
					testenv.Missing(t, "%v", err)
				}
				t.Logf("%s not tested: %v (%s set)", name, err, testenv.AllowMissing)
				continue
			}
		}
		started++
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command(exe, "-test.run=^TestHarnessDeathStopsServer$")
			cmd.Env = append(os.Environ(), "WSGIKIT_TEST_DIE_AFTER_START="+name)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			// Bounds the wait for the watchdogs (the longest grace is 10 s,
			// then SIGKILL); past it the test fails with what is left.
			cmd.WaitDelay = 2 * time.Minute
			err := cmd.Run()
			results <- result{name, stdout.String(), stderr.String(), err}
		}()
	}
	for range started {
		r := <-results
		groups := 0
		for _, line := range strings.Split(r.stdout, "\n") {
			var name, rundir string
			var pgid int
			if n, _ := fmt.Sscanf(line, "group %s %d %s", &name, &pgid, &rundir); n != 3 {
				continue
			}
			groups++
			if left := groupAlive(pgid); len(left) > 0 {
				t.Errorf("%s: left running after the harness died: %v\n%s", name, left, r.stderr)
				syscall.Kill(-pgid, syscall.SIGKILL)
			}
			if _, err := os.Stat(rundir); err == nil {
				t.Errorf("%s: temporary directory %s left behind", name, rundir)
				os.RemoveAll(rundir)
			}
			want := fmt.Sprintf("ended without stopping %s (group %d); ", name, pgid)
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: no watchdog report %q on the harness's stderr:\n%s", name, want, r.stderr)
			}
		}
		switch {
		case errors.Is(r.err, exec.ErrWaitDelay):
			t.Errorf("%s: watchdogs still running 2m after the harness died:\n%s\n%s", r.name, r.stdout, r.stderr)
		case r.err != nil || groups == 0 || strings.Contains(r.stdout, "error:"):
			t.Errorf("%s: harness: %v\n%s\n%s", r.name, r.err, r.stdout, r.stderr)
		case strings.Contains(r.stderr, "survived"):
			t.Errorf("%s: %s", r.name, r.stderr)
		}
	}
	if pids := findByCmdline(marker); len(pids) > 0 {
		t.Errorf("orphaned child %v of a dead harness's server survived", pids)
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
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
		testenv.Missing(t, "%v", err)
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

// dieAfterStart is the harness that dies: it starts the server name names,
// prints each process group ("group NAME PGID RUNDIR") and exits without
// Stop. "escaped:MARKER" is a server whose child leaves the group, ignores
// SIGTERM and runs as MARKER: once its parent dies, only the watchdog's
// knowledge of it by identity finds it.
func dieAfterStart(name string) {
	var p *Profile
	var err error
	if marker, ok := strings.CutPrefix(name, "escaped:"); ok {
		// The child ignores SIGTERM: once its parent is gone, only the
		// watchdog's knowledge of it by identity finds it.
		p, err = FromCmd(escapingServer(marker, true))
		if err == nil {
			p.Name, p.StopGrace = "escaped", 2*time.Second
		}
	} else {
		p, err = Lookup(name, nil)
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	app, err := BuiltinApp("hello")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	// A long start-up bound: the machine is shared and loaded.
	inst, err := Start(context.Background(), p, app, Options{Workers: 2, StartTimeout: time.Minute})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for in := inst; in != nil; in = in.inner {
		fmt.Printf("group %s %d %s\n", in.Profile.Name, in.cmd.Process.Pid, in.rundir)
	}
	os.Exit(0) // no Stop
}
