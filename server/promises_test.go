package server_test

// One test per promise of the README's `wsgikit serve` section that no
// other test holds the server to. Each ends on events (log lines, process
// exit, sd_notify datagrams, answers); deadlines only bound the waits.

import (
	"bufio"
	"encoding/json"
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
)

// waitExit waits (bounded) for the server to exit and returns its exit code.
func (s *served) waitExit(why string) int {
	s.t.Helper()
	select {
	case <-s.exited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(2 * time.Minute):
		s.t.Fatalf("%s: the server did not exit\n%s", why, s.Log())
		return -1
	}
}

// waitLogCount waits (bounded) until the log holds want n times.
func (s *served) waitLogCount(want string, n int) {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(s.Log(), want) < n {
		if time.Now().After(deadline) {
			s.t.Fatalf("log shows %q %d times, want %d:\n%s", want, strings.Count(s.Log(), want), n, s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blockedRequest starts a request that runs in Python until the returned
// gate file is removed, and waits until it does run.
func (s *served) blockedRequest() (net.Conn, string) {
	s.t.Helper()
	gate := filepath.Join(s.t.TempDir(), "gate")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		s.t.Fatal(err)
	}
	c := s.dial()
	fmt.Fprintf(c, "GET /block?gate=%s HTTP/1.1\r\nHost: t\r\n\r\n", gate)
	s.waitEvent("block started")
	return c, gate
}

// TestPromiseFastStop: INT and QUIT stop the server without waiting for an
// in-flight request, even with an hour of --graceful-timeout: the server is
// gone while the request is still blocked, and exits 0.
func TestPromiseFastStop(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			s := serve(t, "wkapp:application", "--graceful-timeout", "3600")
			c, gate := s.blockedRequest()
			syscall.Kill(s.cmd.Process.Pid, sig)
			if code := s.waitExit(sig.String()); code != 0 {
				t.Fatalf("exit code %d after %v\n%s", code, sig, s.Log())
			}
			if _, err := os.Stat(gate); err != nil {
				t.Fatalf("the gate is gone: the test, not the server, ended the request")
			}
			s.waitLog(sig.String() + ": fast stop")
			if b, _ := io.ReadAll(c); strings.Contains(string(b), "unblocked") {
				t.Fatalf("the blocked request was answered: %q", b)
			}
		})
	}
}

// TestPromiseGracefulTimeoutExpires: TERM waits for in-flight requests up
// to --graceful-timeout, then kills the workers; the server exits 0 with
// the request never answered.
func TestPromiseGracefulTimeoutExpires(t *testing.T) {
	s := serve(t, "wkapp:application", "--graceful-timeout", "1")
	c, gate := s.blockedRequest()
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	if code := s.waitExit("TERM"); code != 0 {
		t.Fatalf("exit code %d after TERM\n%s", code, s.Log())
	}
	if _, err := os.Stat(gate); err != nil {
		t.Fatal("the gate is gone: the test, not the timeout, ended the request")
	}
	s.waitLog("TERM: graceful stop (in-flight requests get 1s)")
	s.waitLog("workers still running after 1s: killing them")
	if b, _ := io.ReadAll(c); strings.Contains(string(b), "unblocked") {
		t.Fatalf("the blocked request was answered: %q", b)
	}
}

// TestPromiseHUPBadCode: a HUP whose new code does not import leaves the
// old workers serving.
func TestPromiseHUPBadCode(t *testing.T) {
	vf := filepath.Join(t.TempDir(), "version")
	os.WriteFile(vf, []byte("v1"), 0o644)
	t.Setenv("VERSION_FILE", vf)
	s := serve(t, "reloadable", "-w", "2")
	if r := s.get("/"); string(r.body) != "v1" {
		t.Fatalf("before: %q", r.body)
	}
	// Both old workers have imported the code: removing the file now
	// breaks only the new code (a worker still booting would fail too,
	// and a server whose first workers cannot import exits 3).
	s.waitLogCount("reloadable imported v1", 2)
	os.Remove(vf) // the module reads it at import: the new code cannot import
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	s.waitLog("reload failed")
	for i := 0; i < 10; i++ {
		if r := s.get("/"); r.StatusCode != 200 || string(r.body) != "v1" {
			t.Fatalf("after a failed reload: %d %q\n%s", r.StatusCode, r.body, s.Log())
		}
	}
	select {
	case <-s.exited:
		t.Fatalf("the server exited after a failed reload\n%s", s.Log())
	default:
	}
}

// TestPromiseSystemdNotify: NOTIFY_SOCKET hears READY=1 when the first
// worker is up, RELOADING=1 then READY=1 around a HUP, STOPPING=1 on TERM.
func TestPromiseSystemdNotify(t *testing.T) {
	notify := filepath.Join(t.TempDir(), "notify")
	nconn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nconn.Close()
	t.Setenv("NOTIFY_SOCKET", notify)
	next := func(want string) {
		t.Helper()
		nconn.SetReadDeadline(time.Now().Add(time.Minute)) // bounds the wait
		buf := make([]byte, 256)
		n, err := nconn.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("sd_notify: got %q (%v), want %q", buf[:n], err, want)
		}
	}
	s := serve(t, "wkapp")
	next("READY=1")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGHUP)
	next("RELOADING=1")
	next("READY=1")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	next("STOPPING=1")
	if code := s.waitExit("TERM"); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.Log())
	}
}

// TestPromiseRequestLimitsAndExpect: --limit-request-line and
// --limit-request-field_size reach the parser (414, 431 just past them, 200
// within), and an Expect other than 100-continue is a 417.
func TestPromiseRequestLimitsAndExpect(t *testing.T) {
	s := serve(t, "wkapp", "--limit-request-line", "100", "--limit-request-field_size", "100")
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"line within", "GET /?" + strings.Repeat("a", 60) + " HTTP/1.1\r\nHost: t\r\n\r\n", 200},
		{"line over", "GET /?" + strings.Repeat("a", 120) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
		{"field within", "GET / HTTP/1.1\r\nHost: t\r\nX-Long: " + strings.Repeat("b", 60) + "\r\n\r\n", 200},
		{"field over", "GET / HTTP/1.1\r\nHost: t\r\nX-Long: " + strings.Repeat("b", 120) + "\r\n\r\n", 431},
		{"unknown expectation", "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nhi", 417},
	} {
		if r, _, _ := s.roundTrip(tc.raw); r.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, r.StatusCode, tc.status)
		}
	}
}

// TestPromiseLingeringClose: a client that sends its whole body before it
// reads gets the answer, not "connection reset", when the server ends the
// connection without reading that body: a 413 past --limit-request-body,
// and a 200 whose application left more than 1 MiB unread.
func TestPromiseLingeringClose(t *testing.T) {
	s := serve(t, "wkapp", "--limit-request-body", "4194304")
	body := strings.Repeat("u", 8<<20)
	for _, tc := range []struct {
		name, path string
		size       int
		status     int
	}{
		{"over --limit-request-body", "/echo", 8 << 20, 413},
		{"unread by the app, beyond 1 MiB", "/", 3 << 20, 200},
	} {
		c := s.dial()
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n", tc.path, tc.size)
		if _, err := io.WriteString(c, head+body[:tc.size]); err != nil {
			t.Errorf("%s: sending the body: %v (the server reset the connection)", tc.name, err)
			continue
		}
		br := bufio.NewReader(c)
		r, err := http.ReadResponse(br, nil)
		if err != nil || r.StatusCode != tc.status {
			t.Errorf("%s: %v, want status %d", tc.name, err, tc.status)
			continue
		}
		io.Copy(io.Discard, r.Body)
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%s: after the response: %v, want EOF (the server's close)", tc.name, err)
		}
	}
}

// TestPromiseScriptNameAndSources: --script-name is the mount point,
// stripped from PATH_INFO; a flag wins over WSGIKIT_<FLAG>, which wins over
// the config file.
func TestPromiseScriptNameAndSources(t *testing.T) {
	env := func(s *served, path string) map[string]any {
		t.Helper()
		r := s.get(path)
		var m map[string]any
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatalf("GET %s: %d %q: %v", path, r.StatusCode, r.body, err)
		}
		return m
	}
	cfg := filepath.Join(t.TempDir(), "wsgikit.toml")
	os.WriteFile(cfg, []byte("app = \"wkapp:application\"\n\"script-name\" = \"/file\"\n"), 0o644)
	for _, tc := range []struct {
		name, env string
		flags     []string
		want      string
	}{
		{"file", "", nil, "/file"},
		{"env over file", "/env", nil, "/env"},
		{"flag over env", "/env", []string{"--script-name", "/flag"}, "/flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("WSGIKIT_SCRIPT_NAME", tc.env)
			}
			s := serve(t, "", append([]string{"-c", cfg}, tc.flags...)...)
			m := env(s, tc.want+"/env/x")
			if m["SCRIPT_NAME"] != tc.want || m["PATH_INFO"] != "/env/x" {
				t.Errorf("SCRIPT_NAME %q PATH_INFO %q, want %q and /env/x", m["SCRIPT_NAME"], m["PATH_INFO"], tc.want)
			}
		})
	}
}

// TestPromiseFdBind: -b fd://N serves on an inherited listening socket.
func TestPromiseFdBind(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata/apps")
	cmd := exec.Command(wsgikitBin(t), "serve", "-b", "fd://3", "--chdir", dir, "wkapp")
	cmd.ExtraFiles = []*os.File{lf} // fd 3 in the child
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	defer func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() }()
	// The socket already listens: the connection waits in its backlog
	// until a worker accepts it, so no retry loop is needed.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute)) // bounds the wait for the workers
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	r := readResp(t, bufio.NewReader(c), "GET")
	if r.StatusCode != 200 || string(r.body) != "Hello, World!" {
		t.Fatalf("over fd://3: %d %q\n%s", r.StatusCode, r.body, out.String())
	}
}

// TestPromiseNoBuildExit4: an interpreter without a _wsgikit build is exit
// code 4 with the command that builds one. WSGIKIT_LIBDIR points the
// master at an empty library directory: no interpreter has a build there.
func TestPromiseNoBuildExit4(t *testing.T) {
	bin := wsgikitBin(t)
	py := testPython()
	dir, _ := filepath.Abs("testdata/apps")
	cmd := exec.Command(bin, "serve", "-b", "127.0.0.1:0", "--python", py, "--chdir", dir, "wkapp")
	cmd.Env = append(os.Environ(), "WSGIKIT_LIBDIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // bounds the wait; it fails at start-up
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("--python %s: still running\n%s", py, buf.String())
	}
	out := buf.String()
	if code := cmd.ProcessState.ExitCode(); code != 4 || !strings.Contains(string(out), "make build PYTHON=") {
		t.Fatalf("--python %s: exit %d, want 4 naming `make build PYTHON=...`:\n%s", py, code, out)
	}
}

// TestPromiseKeepAliveIdleClose: --keep-alive is how long an idle
// kept-alive connection stays open. Decided by order, not by a clock: two
// servers; an idle connection to the one with --keep-alive 3600 is opened
// first, then, one after the other, three to the one with --keep-alive 0.5,
// each opened only when the server closed the one before by itself. The
// first connection, idle through all three, must still answer: had both
// servers the same keep-alive, it would have closed before the second
// short one did. Each connection first answers two pipelined requests, so
// it was kept alive between them.
func TestPromiseKeepAliveIdleClose(t *testing.T) {
	short := serve(t, "wkapp:application", "--keep-alive", "0.5")
	long := serve(t, "wkapp:application", "--keep-alive", "3600")
	const two = "GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"
	open := func(s *served) (net.Conn, *bufio.Reader) {
		c := s.dial()
		if _, err := io.WriteString(c, two); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			if r := readResp(t, br, "GET"); r.StatusCode != 200 || r.Close {
				t.Fatalf("pipelined request %d: %d close=%v\n%s", i+1, r.StatusCode, r.Close, s.Log())
			}
		}
		return c, br
	}
	longConn, longBr := open(long)
	for i := 1; i <= 3; i++ {
		c, br := open(short)
		c.SetReadDeadline(time.Now().Add(waitBound))
		if b, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("idle connection %d with --keep-alive 0.5: want EOF from the server, got %q, %v", i, b, err)
		}
	}
	if _, err := io.WriteString(longConn, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatalf("--keep-alive 3600 connection closed as early: %v", err)
	}
	if r := readResp(t, longBr, "GET"); r.StatusCode != 200 {
		t.Fatalf("--keep-alive 3600 connection after the idle wait: %d", r.StatusCode)
	}
}

// TestPromiseGunicornFlags: a Gunicorn command line runs: -e reaches the
// app's os.environ, --capture-output sends the app's prints to the error
// log, --log-file is the error log, and -k gthread, --preload and
// --worker-connections are accepted (what -k means here is logged).
func TestPromiseGunicornFlags(t *testing.T) {
	logf := filepath.Join(t.TempDir(), "error.log")
	s := serve(t, "wkapp:application", "-k", "gthread", "--preload", "--worker-connections", "50",
		"-e", "WK_GREETING=hello from -e", "--capture-output", "--log-file", logf, "--error-logfile", logf)
	if r := s.get("/osenv?name=WK_GREETING"); string(r.body) != "hello from -e" {
		t.Fatalf("-e: the app sees WK_GREETING=%q", r.body)
	}
	if r := s.get("/print?text=captured-by-the-error-log"); string(r.body) != "printed" {
		t.Fatalf("/print: %d %q", r.StatusCode, r.body)
	}
	s.waitLog("captured-by-the-error-log")
	s.waitLog("-k gthread: every wsgikit worker")
}
