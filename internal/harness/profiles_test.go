package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/httpresp"
	"github.com/wsgikit/wsgikit/internal/testenv"
)

// appRequest is one request through one app, with what must come back.
type appRequest struct {
	app, method, path string
	body              []byte
	status            int
	want              func([]byte) error
}

func wantExact(s string) func([]byte) error {
	return func(b []byte) error {
		if string(b) != s {
			return fmt.Errorf("body %q, want %q", trunc(b), s)
		}
		return nil
	}
}

func wantContains(s string) func([]byte) error {
	return func(b []byte) error {
		if !bytes.Contains(b, []byte(s)) {
			return fmt.Errorf("body %q lacks %q", trunc(b), s)
		}
		return nil
	}
}

func wantLen(n int) func([]byte) error {
	return func(b []byte) error {
		if len(b) != n {
			return fmt.Errorf("body of %d bytes, want %d", len(b), n)
		}
		return nil
	}
}

func trunc(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// cpuResult is what bench.py's /cpu?n=N computes.
func cpuResult(n int) string {
	var acc uint64
	for i := 0; i < n; i++ {
		acc = (acc*31 + uint64(i)) & 0xFFFFFFFF
	}
	return strconv.FormatUint(acc, 10)
}

var upload = bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB

// appRequests: one start per app, one or more requests through it.
var appRequests = [][]appRequest{
	{{app: "hello", method: "GET", path: "/", status: 200, want: wantExact("Hello, World!")}},
	{
		{app: "bench", method: "GET", path: "/json", status: 200, want: wantContains(`"message": "Hello, World!"`)},
		{app: "bench", method: "POST", path: "/upload", body: upload, status: 200, want: wantExact(string(upload))},
		{app: "bench", method: "GET", path: "/stream?size=200000", status: 200, want: wantLen(200000)},
		{app: "bench", method: "GET", path: "/file?size=100000", status: 200, want: wantLen(100000)},
		{app: "bench", method: "GET", path: "/sleep?ms=1", status: 200, want: wantExact("slept")},
		{app: "bench", method: "GET", path: "/cpu?n=1000", status: 200, want: wantExact(cpuResult(1000))},
		{app: "bench", method: "GET", path: "/nope", status: 404, want: wantExact("not found")},
	},
	{{app: "flask", method: "GET", path: "/json", status: 200, want: wantContains(`"Hello, World!"`)}},
	{{app: "django", method: "GET", path: "/json", status: 200, want: wantContains(`"Hello, World!"`)}},
}

// profilesUnderTest are all built-ins plus nginx in front of one server of
// each connection model.
func profilesUnderTest() []string {
	var names []string
	for _, p := range Builtin() {
		names = append(names, p.Name)
	}
	return append(names, NginxPrefix+"gunicorn-sync", NginxPrefix+"waitress")
}

// requireInstalled fails the test when p's server (or the wsgikit binary)
// is missing, with the command that installs it (WSGIKIT_ALLOW_MISSING
// makes that a skip saying so); a server that cannot run with this
// interpreter here is skipped with the reason (ErrUnsupported: `wsgikit
// servers` shows it too).
func requireInstalled(t *testing.T, p *Profile) {
	t.Helper()
	if _, err := p.Version(); err != nil {
		if errors.Is(err, ErrUnsupported) {
			t.Skipf("%v", err)
		}
		testenv.Missing(t, "%v", err)
	}
}

func TestBuiltinProfilesServeEveryApp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts every server; not in -short")
	}
	for _, name := range profilesUnderTest() {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // bounded by -parallel (default GOMAXPROCS = 2 here)
			p, err := Lookup(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			requireInstalled(t, p)
			// A wrong stop signal leaves every start to SIGKILL; a peer that
			// now and then hangs in its own shutdown on a busy machine
			// (granian's workers, a uWSGI worker's mercy) does not, and
			// how long a shutdown takes is no verdict.
			cleanStops := 0
			defer func() {
				if cleanStops == 0 && !t.Failed() {
					t.Errorf("%v never stopped the server within %v: it was killed after each of %d starts", p.stopSignal(), p.stopGrace(), len(appRequests))
				}
			}()
			for _, reqs := range appRequests {
				app, err := BuiltinApp(reqs[0].app)
				if err != nil {
					t.Fatal(err)
				}
				t0 := time.Now()
				inst, err := Start(context.Background(), p, app, Options{Workers: 2, Threads: 2})
				if err != nil {
					t.Fatalf("%s: %v", reqs[0].app, err)
				}
				pids := inst.PIDs()
				groups := []int{inst.cmd.Process.Pid}
				if in := inst.Inner(); in != nil {
					groups = append(groups, in.cmd.Process.Pid)
				}
				if len(pids) == 0 {
					t.Errorf("%s: no live PIDs", reqs[0].app)
				}
				for _, r := range reqs {
					rt := time.Now()
					status, body, err := doRequest(inst.Addr, r.method, r.path, r.body)
					if d := time.Since(rt); d > time.Second {
						t.Logf("%s %s %s took %v (a server-side wait, e.g. for the connection to close)", r.app, r.method, r.path, d.Round(time.Millisecond))
					}
					if err != nil {
						t.Errorf("%s %s %s: %v\n%s", r.app, r.method, r.path, err, inst.LogTail(20))
						continue
					}
					if status != r.status {
						t.Errorf("%s %s %s: status %d, want %d\n%s", r.app, r.method, r.path, status, r.status, inst.LogTail(20))
					}
					if err := r.want(body); err != nil {
						t.Errorf("%s %s %s: %v", r.app, r.method, r.path, err)
					}
				}
				if reqs[0].app == "hello" {
					checkKeepAlive(t, inst)
					// CPU time comes in clock ticks (10 ms): a light server may
					// not have used one yet, so load it (boundedly) until it has.
					u := inst.Usage()
					for deadline := time.Now().Add(5 * time.Second); u.CPUSeconds <= 0 && time.Now().Before(deadline); u = inst.Usage() {
						for i := 0; i < 50; i++ {
							doRequest(inst.Addr, "GET", "/", nil)
						}
					}
					if u.Procs < 1 || u.PeakRSSMB <= 0 || u.CPUSeconds <= 0 {
						t.Errorf("usage looks empty: %+v", u)
					}
				}
				t1 := time.Now()
				if err := inst.Stop(); err != nil {
					t.Errorf("%s: stop: %v", reqs[0].app, err)
				}
				if inst.Killed() {
					t.Logf("%s: %v did not stop the server within %v; it was killed\n%s", reqs[0].app, p.stopSignal(), p.stopGrace(), inst.LogTail(10))
				} else {
					cleanStops++
				}
				t.Logf("%s: ready in %v, stopped in %v, %d processes", reqs[0].app, t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond), len(pids))
				assertGone(t, pids)
				for _, g := range groups {
					if left := groupAlive(g); len(left) > 0 {
						t.Errorf("%s: process group %d not empty after Stop: %v", reqs[0].app, g, left)
					}
				}
			}
		})
	}
}

// checkKeepAlive sends two requests on one connection: the second must be
// answered exactly when the profile says it keeps connections alive.
func checkKeepAlive(t *testing.T, inst *Instance) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", inst.Addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute)) // bounds the wait; a loaded machine answers slowly
	br := bufio.NewReader(conn)
	req := "GET / HTTP/1.1\r\nHost: " + inst.Addr + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	_, hdr, _, err := readResponse(br, "GET")
	if err != nil {
		t.Fatalf("first request: %v", err)
	}
	closes := strings.EqualFold(hdr["connection"], "close")
	_, err2 := io.WriteString(conn, req)
	if err2 == nil {
		_, _, _, err2 = readResponse(br, "GET")
	}
	kept := err2 == nil
	if kept != inst.Profile.KeepAlive {
		t.Errorf("keep-alive: second request on one connection answered=%v (Connection: %q), profile says KeepAlive=%v (err %v)",
			kept, hdr["connection"], inst.Profile.KeepAlive, err2)
	}
	if kept && closes {
		t.Errorf("answered a second request after Connection: close")
	}
}

// assertGone checks that none of pids is a live process any more.
func assertGone(t *testing.T, pids []int) {
	t.Helper()
	var st procStat
	for _, pid := range pids {
		if _, err := readStat(pid, nil, &st); err == nil && st.state != 'Z' {
			// The PID may have been reused already; compare with /proc
			// data is not possible without the old start time, so name it.
			t.Errorf("pid %d (%s, state %c) still exists after Stop", pid, st.comm, st.state)
		}
	}
}

// doRequest sends one request on a fresh connection and reads the answer
// with our own minimal HTTP/1.1 reader (Content-Length, chunked, or EOF).
func doRequest(addr, method, path string, body []byte) (int, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, path, addr)
	if body != nil {
		fmt.Fprintf(&b, "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return 0, nil, err
	}
	if _, err := conn.Write(body); err != nil {
		return 0, nil, err
	}
	status, _, resp, err := readResponse(bufio.NewReader(conn), method)
	return status, resp, err
}

// readResponse reads one response with internal/httpresp's strict reader
// (lower-cased header names to their last value, and the body).
func readResponse(br *bufio.Reader, method string) (int, map[string]string, []byte, error) {
	rd := httpresp.NewReader(br, httpresp.Strict)
	st, err := rd.ReadStatus()
	for err == nil && st.Code >= 100 && st.Code < 200 {
		if _, err = rd.ReadHeader(method, st, nil); err == nil {
			st, err = rd.ReadStatus()
		}
	}
	if err != nil {
		return 0, nil, nil, fmt.Errorf("status line: %w", err)
	}
	hdr := map[string]string{}
	h, err := rd.ReadHeader(method, st, func(name, value []byte) { hdr[strings.ToLower(string(name))] = string(value) })
	if err != nil {
		return st.Code, hdr, nil, fmt.Errorf("headers: %w", err)
	}
	var body []byte
	switch h.Framing {
	case httpresp.FramingLength:
		body = make([]byte, h.ContentLength)
		_, err = io.ReadFull(br, body)
	case httpresp.FramingChunked:
		ck := rd.Chunked()
		body, err = io.ReadAll(&ck)
	case httpresp.FramingClose:
		body, err = io.ReadAll(br)
	}
	return st.Code, hdr, body, err
}

// envApp writes an app that answers with the environ keys a proxy sets.
func envApp(t *testing.T) App {
	t.Helper()
	dir := t.TempDir()
	src := `def application(environ, start_response):
    keys = ("HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "REMOTE_ADDR", "REMOTE_PORT")
    body = "\n".join("%s=%s" % (k, environ.get(k, "")) for k in keys).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`
	if err := os.WriteFile(dir+"/envapp.py", []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return App{Dir: dir, Module: "envapp", Callable: "application"}
}

func parseEnvBody(b []byte) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// TestBehindNginxProxySetup: the classic reverse-proxy configuration: the
// client's Host passes through, X-Forwarded-For/-Proto are set, and the
// upstream connection is kept alive (same REMOTE_PORT at the inner server).
// Gunicorn shows the headers as they arrive (Waitress 3 removes
// X-Forwarded-* from environ unless it is told to trust the proxy).
func TestBehindNginxProxySetup(t *testing.T) {
	t.Parallel()
	p, err := Lookup(NginxPrefix+"gunicorn-gthread", nil)
	if err != nil {
		t.Fatal(err)
	}
	requireInstalled(t, p)
	inst, err := Start(context.Background(), p, envApp(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	if inst.Inner() == nil || inst.Inner().Port == inst.Port {
		t.Fatalf("inner instance: %+v", inst.Inner())
	}
	var ports []string
	for range 2 {
		status, body, err := doRequest(inst.Addr, "GET", "/", nil)
		if err != nil || status != 200 {
			t.Fatalf("GET: %d %v", status, err)
		}
		env := parseEnvBody(body)
		if env["HTTP_HOST"] != inst.Addr || env["HTTP_X_FORWARDED_FOR"] != "127.0.0.1" || env["HTTP_X_FORWARDED_PROTO"] != "http" {
			t.Errorf("proxy headers: %q", body)
		}
		ports = append(ports, env["REMOTE_PORT"])
	}
	if ports[0] == "" || ports[0] != ports[1] {
		t.Errorf("upstream connection not reused: REMOTE_PORT %v", ports)
	}
	pids := inst.PIDs()
	if len(pids) < 3 { // nginx master + worker + gunicorn (master, worker)
		t.Errorf("PIDs %v: want nginx's and gunicorn's", pids)
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pids)
	if u := inst.Usage(); u.PeakProcs < 3 {
		t.Errorf("usage of both trees: %+v", u)
	}
}

// TestIPv6Loopback: every server listens on ::1 when asked (each has its
// own bind syntax for IPv6 literals).
func TestIPv6Loopback(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	l.Close()
	for _, name := range []string{"wsgikit", "gunicorn-gthread", "uwsgi", "waitress", "cheroot", "gevent", "mod_wsgi", "wsgiref", "behind-nginx:waitress"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := Lookup(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			requireInstalled(t, p)
			inst, err := Start(context.Background(), p, helloApp(t), Options{Host: "::1"})
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Stop()
			if !strings.HasPrefix(inst.Addr, "[::1]:") || inst.URL() != "http://"+inst.Addr {
				t.Errorf("addr %s url %s", inst.Addr, inst.URL())
			}
			status, body, err := doRequest(inst.Addr, "GET", "/", nil)
			if err != nil || status != 200 || string(body) != "Hello, World!" {
				t.Errorf("GET / over IPv6: %d %q %v", status, body, err)
			}
			if err := inst.Stop(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestBenchChunkedUpload: bench.py echoes a chunked upload where the
// server de-chunks it (wsgi.input_terminated), and answers at once, empty,
// where it does not (wsgiref hands over the raw socket: reading to EOF
// there would hang).
func TestBenchChunkedUpload(t *testing.T) {
	t.Parallel()
	app, err := BuiltinApp("bench")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ profile, want string }{
		{"gunicorn-gthread", "hello world"},
		{"wsgiref", ""},
	} {
		p, err := Lookup(tt.profile, nil)
		if err != nil {
			t.Fatal(err)
		}
		requireInstalled(t, p)
		inst, err := Start(context.Background(), p, app, Options{})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.DialTimeout("tcp", inst.Addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
		status, _, body, err := readResponse(bufio.NewReader(conn), "POST")
		conn.Close()
		if err != nil || status != 200 || string(body) != tt.want {
			t.Errorf("%s: chunked upload: %d %q %v, want 200 %q", tt.profile, status, body, err, tt.want)
		}
		if err := inst.Stop(); err != nil {
			t.Error(err)
		}
	}
}
