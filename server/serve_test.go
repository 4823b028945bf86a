package server_test

// Integration tests: the real binary, the real interpreter, raw sockets.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/testenv"
)

// wsgikitBin finds the built binary; tests of the real server need `make build`.
func wsgikitBin(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("WSGIKIT_BIN"); b != "" {
		return b
	}
	b, _ := filepath.Abs("../bin/wsgikit")
	if _, err := os.Stat(b); err != nil {
		testenv.Missing(t, "%s missing: run make build (or make test)", b)
	}
	return b
}

// testPython is the workers' interpreter in these tests: WSGIKIT_PYTHON
// (which `wsgikit serve` reads as --python, so `make test` runs them once per
// interpreter), else the server's default.
func testPython() string {
	if p := os.Getenv("WSGIKIT_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// waitBound bounds every wait on an event (a log line, an answer, a file):
// it only decides when to give up and show what was seen, never a verdict,
// so it is long; the machines are shared and a loaded one stalls for seconds.
const waitBound = time.Minute

type served struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	events  string
	mu      sync.Mutex
	log     bytes.Buffer
	exited  chan struct{}
	logFile string
}

func (s *served) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.Write(p)
}

func (s *served) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logFile != "" { // --error-logfile: the log is there
		b, _ := os.ReadFile(s.logFile)
		return s.log.String() + string(b)
	}
	return s.log.String()
}

var listenRE = regexp.MustCompile(`listening at: http://(\S+) `)

// serve starts `wsgikit serve` on a free port (bound by the master itself,
// so no race for the port) and waits until it answers.
func serve(t *testing.T, app string, args ...string) *served {
	t.Helper()
	dir, _ := filepath.Abs("testdata/apps")
	return serveIn(t, dir, app, args...)
}

func serveIn(t *testing.T, dir, app string, args ...string) *served {
	t.Helper()
	argv := append([]string{"serve", "-b", "127.0.0.1:0", "--chdir", dir}, args...)
	if app != "" {
		argv = append(argv, app)
	}
	s := launch(t, argv)
	probe := "GET /__ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
	for i, a := range args {
		if a == "--proxy-protocol" {
			probe = "PROXY UNKNOWN\r\n" + probe // loopback peers must send one
		}
		if a == "--error-logfile" && i+1 < len(args) {
			s.logFile = args[i+1]
		}
	}
	s.waitReady(func() bool {
		if m := listenRE.FindStringSubmatch(s.Log()); m != nil && s.addr == "" {
			s.addr = m[1]
		}
		if s.addr == "" {
			return false
		}
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			return false
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, probe)
		b, _ := io.ReadAll(c)
		c.Close()
		return bytes.HasPrefix(b, []byte("HTTP/1.1 "))
	})
	return s
}

// launch starts `wsgikit argv...` in a process group of its own, killed
// with the test.
func launch(t *testing.T, argv []string) *served {
	t.Helper()
	s := &served{t: t, exited: make(chan struct{})}
	s.events = filepath.Join(t.TempDir(), "events")
	s.cmd = exec.Command(wsgikitBin(t), argv...)
	s.cmd.Env = append(os.Environ(), "WKAPP_EVENTS="+s.events)
	s.cmd.Stdout, s.cmd.Stderr = s, s
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.kill)
	return s
}

// waitReady polls ready until it holds (bounded); the server exiting first
// fails the test with its log.
func (s *served) waitReady(ready func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		if ready() {
			return
		}
		select {
		case <-s.exited:
			s.t.Fatalf("server exited during start-up:\n%s", s.Log())
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.t.Fatalf("server not ready:\n%s", s.Log())
}

func (s *served) kill() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

func (s *served) dial() net.Conn {
	s.t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(waitBound))
	s.t.Cleanup(func() { c.Close() })
	return c
}

type response struct {
	*http.Response
	body    []byte
	bodyErr error
}

func readResp(t *testing.T, br *bufio.Reader, method string) *response {
	t.Helper()
	r, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(r.Body)
	return &response{Response: r, body: b, bodyErr: err}
}

// roundTrip sends raw bytes on a new connection and reads one response.
func (s *served) roundTrip(raw string) (*response, *bufio.Reader, net.Conn) {
	s.t.Helper()
	c := s.dial()
	if _, err := io.WriteString(c, raw); err != nil {
		s.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	method := strings.SplitN(raw, " ", 2)[0]
	return readResp(s.t, br, method), br, c
}

func (s *served) get(path string) *response {
	s.t.Helper()
	r, _, _ := s.roundTrip("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")
	return r
}

func (s *served) eventLines() []string {
	b, _ := os.ReadFile(s.events)
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

// waitEvent waits for an event line (the app writes it before returning).
func (s *served) waitEvent(ev string) {
	s.t.Helper()
	deadline := time.Now().Add(waitBound)
	want := strings.ReplaceAll(ev, " ", "_")
	for time.Now().Before(deadline) {
		for _, e := range s.eventLines() {
			if e == want {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("event %q not seen; events: %v\nlog:\n%s", ev, s.eventLines(), s.Log())
}

func (s *served) countEvent(ev string) int {
	n := 0
	for _, e := range s.eventLines() {
		if e == strings.ReplaceAll(ev, " ", "_") {
			n++
		}
	}
	return n
}

func TestServeResponses(t *testing.T) {
	s := serve(t, "wkapp:application", "--threads", "2")
	cases := []struct {
		path, method string
		status       int
		body         string
		header       map[string]string // "" value: must be absent
		closeEvent   string
	}{
		{path: "/", status: 200, body: "Hello, World!", header: map[string]string{"Content-Length": "13", "Transfer-Encoding": ""}},
		{path: "/gen", status: 200, body: strings.Repeat("a", 10) + "bbbbb", header: map[string]string{"Content-Length": ""}, closeEvent: "close gen"},
		{path: "/empty-gen", status: 200, body: "", header: map[string]string{"Content-Length": "0"}, closeEvent: "close empty"},
		{path: "/cl-long", status: 200, body: "12345", header: map[string]string{"Content-Length": "5"}, closeEvent: "close cl-long"},
		{path: "/head", method: "HEAD", status: 200, body: "", header: map[string]string{"Content-Length": "10"}},
		{path: "/status?code=204", status: 204, body: "", header: map[string]string{"Content-Length": ""}, closeEvent: "close status"},
		{path: "/status?code=304", status: 304, body: "", header: map[string]string{"Content-Length": "3"}},
		{path: "/write", status: 200, body: "written-returned"},
		{path: "/exc-before", status: 503, body: "replaced"},
		{path: "/raise", status: 500},
		{path: "/badtype", status: 500},
		{path: "/badstatus", status: 500},
		{path: "/badheader", status: 500},
		{path: "/hop", status: 500},
		{path: "/nosr", status: 500},
		{path: "/twice", status: 500},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			m := tc.method
			if m == "" {
				m = "GET"
			}
			r, _, _ := s.roundTrip(m + " " + tc.path + " HTTP/1.1\r\nHost: t\r\n\r\n")
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %q\nlog:\n%s", r.StatusCode, tc.status, r.body, s.Log())
			}
			if tc.status != 500 && string(r.body) != tc.body {
				t.Errorf("body %q, want %q", r.body, tc.body)
			}
			for k, v := range tc.header {
				got, present := r.Header[k]
				if v == "" && present || v != "" && (len(got) != 1 || got[0] != v) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.closeEvent != "" {
				s.waitEvent(tc.closeEvent)
			}
		})
	}
	if n := s.countEvent("twice AssertionError"); n != 1 {
		t.Errorf("second start_response without exc_info raised AssertionError %d times, want 1", n)
	}
	for _, want := range []string{"PEP 3333", `"GET /raise HTTP/1.1"`, "RuntimeError: boom", "hop-by-hop"} {
		s.waitLog(want) // the master writes the workers' records: after the response
	}
}

func TestServeCloseExactlyOnce(t *testing.T) {
	s := serve(t, "wkapp:application")
	for _, p := range []string{"/gen", "/cl-long", "/raise-iter", "/exc-after"} {
		c := s.dial()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", p)
		io.ReadAll(c)
	}
	// A client that goes away mid-stream: close() must still run.
	c := s.dial()
	fmt.Fprintf(c, "GET /slow?n=2000&d=0.002 HTTP/1.1\r\nHost: t\r\n\r\n")
	buf := make([]byte, 1024)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, ev := range []string{"close gen", "close cl-long", "close raise-iter", "close exc-after-outer", "close slow"} {
		s.waitEvent(ev)
	}
	// Another request proves the worker survived; then count.
	if r := s.get("/"); r.StatusCode != 200 {
		t.Fatal(r.Status)
	}
	for _, ev := range []string{"close gen", "close cl-long", "close raise-iter", "close exc-after-outer", "close slow"} {
		if n := s.countEvent(ev); n != 1 {
			t.Errorf("%s: %d times, want exactly 1", ev, n)
		}
	}
}

func TestServeErrorAfterHeadersCutsConnection(t *testing.T) {
	s := serve(t, "wkapp:application")
	for _, p := range []string{"/raise-iter", "/exc-after"} {
		r, _, _ := s.roundTrip("GET " + p + " HTTP/1.1\r\nHost: t\r\n\r\n")
		if r.StatusCode != 200 {
			t.Fatalf("%s: status %d", p, r.StatusCode)
		}
		if r.bodyErr == nil {
			t.Errorf("%s: body %q read as complete; want a truncated chunked body", p, r.body)
		}
	}
}

func TestServeShortContentLengthCloses(t *testing.T) {
	s := serve(t, "wkapp:application")
	r, br, _ := s.roundTrip("GET /cl-short HTTP/1.1\r\nHost: t\r\n\r\n")
	if r.bodyErr == nil {
		t.Fatalf("short body %q read as complete", r.body)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("connection still open after a short Content-Length body")
	}
}

func TestServeKeepAliveAndPipelining(t *testing.T) {
	s := serve(t, "wkapp:application")
	c := s.dial()
	// Three pipelined requests in one write, a HEAD in the middle.
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\nHEAD /head HTTP/1.1\r\nHost: t\r\n\r\nGET /gen HTTP/1.1\r\nHost: t\r\n\r\n")
	br := bufio.NewReader(c)
	for i, want := range []struct{ method, body string }{{"GET", "Hello, World!"}, {"HEAD", ""}, {"GET", "aaaaaaaaaabbbbb"}} {
		r := readResp(t, br, want.method)
		if r.StatusCode != 200 || string(r.body) != want.body {
			t.Fatalf("response %d: %d %q, want %q", i, r.StatusCode, r.body, want.body)
		}
	}
	// The connection is still usable.
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
	if r := readResp(t, br, "GET"); string(r.body) != "Hello, World!" {
		t.Fatalf("after pipelining: %q", r.body)
	}
}

func TestServeHTTP10(t *testing.T) {
	s := serve(t, "wkapp:application")
	// Close-delimited body for a stream on 1.0.
	r, br, _ := s.roundTrip("GET /gen HTTP/1.0\r\n\r\n")
	if string(r.body) != "aaaaaaaaaabbbbb" || r.Header.Get("Transfer-Encoding") != "" {
		t.Fatalf("1.0 stream: %q %v", r.body, r.Header)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("1.0 connection not closed")
	}
	// 1.0 keep-alive when asked and the length is known.
	c := s.dial()
	io.WriteString(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	br = bufio.NewReader(c)
	r = readResp(t, br, "GET")
	if r.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("1.0 keep-alive not acknowledged: %v", r.Header)
	}
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	if r := readResp(t, br, "GET"); string(r.body) != "Hello, World!" {
		t.Fatalf("second 1.0 request: %q", r.body)
	}
}

func TestServeRequestBodies(t *testing.T) {
	s := serve(t, "wkapp:application")
	body := "line1\nline2\nlast"
	chunked := "5\r\nline1\r\n6\r\n\nline2\r\n5;ext=1\r\n\nlast\r\n0\r\nTrailer: x\r\n\r\n"
	cases := []struct{ name, query, framing, want string }{
		{"read-cl", "mode=read", "cl", body},
		{"read-chunked", "mode=read", "chunked", body},
		{"readn", "mode=readn&n=7", "cl", "line1\nl|ine2\nla|st"},
		{"readline", "mode=readline", "chunked", "line1\n|line2\n|last"},
		{"readline-n", "mode=readline&n=3", "cl", "lin|e1\n|lin|e2\n|las|t"},
		{"readlines", "mode=lines", "cl", "line1\n|line2\n|last"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var raw string
			if tc.framing == "cl" {
				raw = fmt.Sprintf("POST /echo?%s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", tc.query, len(body), body)
			} else {
				raw = fmt.Sprintf("POST /echo?%s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n%s", tc.query, chunked)
			}
			r, br, c := s.roundTrip(raw)
			if string(r.body) != tc.want {
				t.Fatalf("got %q, want %q", r.body, tc.want)
			}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
			if r := readResp(t, br, "GET"); r.StatusCode != 200 {
				t.Fatal("connection unusable after a body")
			}
		})
	}
	t.Run("expect-100", func(t *testing.T) {
		c := s.dial()
		io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
			t.Fatalf("want 100 Continue first, got %q %v", line, err)
		}
		br.ReadString('\n')
		io.WriteString(c, "ping")
		if r := readResp(t, br, "POST"); string(r.body) != "ping" {
			t.Fatalf("body %q", r.body)
		}
	})
	t.Run("unread-body-discarded", func(t *testing.T) {
		r, br, c := s.roundTrip("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
		if r.StatusCode != 200 {
			t.Fatal(r.Status)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
		if r := readResp(t, br, "GET"); string(r.body) != "Hello, World!" {
			t.Fatalf("next request after an unread body: %q", r.body)
		}
	})
}

func TestServeRejectsMalformed(t *testing.T) {
	s := serve(t, "wkapp:application")
	cases := []struct {
		name, raw string
		status    int
	}{
		{"cl-and-te", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"no-host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"space-before-colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400},
		{"bad-cl", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc", 400},
		{"te-not-chunked", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"version", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
		{"bad-path-escape", "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400},
		{"long-line", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, br, _ := s.roundTrip(tc.raw)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
			}
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("connection left open after a rejected request")
			}
		})
	}
	if r := s.get("/"); r.StatusCode != 200 {
		t.Fatal("server unusable after bad requests")
	}
}

func TestServeEnviron(t *testing.T) {
	s := serve(t, "wkapp:application", "--threads", "3")
	r, _, _ := s.roundTrip("POST /env/a%2Fb%20c?x=1&y=%41 HTTP/1.1\r\nHost: example.org:8080\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 0\r\nX-Dup: 1\r\nx-dup: 2\r\nX_Under: no\r\nX-Latin: caf\xe9\r\n\r\n")
	var env map[string]any
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	want := map[string]any{
		"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/env/a/b c", "QUERY_STRING": "x=1&y=%41",
		"RAW_URI": "/env/a%2Fb%20c?x=1&y=%41", "SERVER_NAME": "example.org", "SERVER_PORT": "8080",
		"SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "0",
		"HTTP_X_DUP": "1, 2", "HTTP_X_LATIN": "caf\u00e9", "REMOTE_ADDR": "127.0.0.1",
		"wsgi.url_scheme": "http", "wsgi.multithread": "True", "wsgi.multiprocess": "False",
		"wsgi.run_once": "False", "wsgi.version": "(1, 0)", "wsgi.input_terminated": "True",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %#v, want %#v", k, env[k], v)
		}
	}
	for _, k := range []string{"HTTP_X_UNDER", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s present, want absent", k)
		}
	}
}

func TestServeFileWrapper(t *testing.T) {
	s := serve(t, "wkapp:application")
	want, _ := os.ReadFile("testdata/apps/wkapp.py")
	cases := []struct {
		path string
		want []byte
	}{
		{"/file", want},
		{"/file-sendfile", want},                             // read() raises: only sendfile can pass
		{"/file-sendfile?skip=100", want[100:]},              // from the file's position
		{"/file-bytesio", bytes.Repeat([]byte("x"), 100000)}, // no fileno: iterated
	}
	for _, tc := range cases {
		r := s.get(tc.path)
		if r.StatusCode != 200 || !bytes.Equal(r.body, tc.want) {
			t.Fatalf("%s: %d, %d bytes, want %d\n%s", tc.path, r.StatusCode, len(r.body), len(tc.want), s.Log())
		}
		if tc.path != "/file-bytesio" && r.ContentLength != int64(len(tc.want)) {
			t.Errorf("%s: Content-Length %d, want %d", tc.path, r.ContentLength, len(tc.want))
		}
	}
}

func TestServeGracefulStop(t *testing.T) {
	s := serve(t, "wkapp:application")
	gate := filepath.Join(t.TempDir(), "gate")
	os.WriteFile(gate, nil, 0o644)
	c := s.dial()
	fmt.Fprintf(c, "GET /block?gate=%s HTTP/1.1\r\nHost: t\r\n\r\n", gate)
	s.waitEvent("block started")
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	// The worker logs that it is stopping; only then is the gate opened, so
	// the request is provably in flight during the stop.
	deadline := time.Now().Add(waitBound)
	for !strings.Contains(s.Log(), "stopping: in-flight") {
		if time.Now().After(deadline) {
			t.Fatalf("worker never began stopping:\n%s", s.Log())
		}
		select {
		case <-s.exited:
			t.Fatal("server exited with a request in flight")
		case <-time.After(10 * time.Millisecond):
		}
	}
	os.Remove(gate)
	r := readResp(t, bufio.NewReader(c), "GET")
	if string(r.body) != "unblocked" || !r.Close {
		t.Fatalf("in-flight request during TERM: %q %v\n%s", r.body, r.Header, s.Log())
	}
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop after TERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after TERM\n%s", code, s.Log())
	}
}

func TestServeWorkerCrashIsReplaced(t *testing.T) {
	s := serve(t, "wkapp:application")
	c := s.dial()
	io.WriteString(c, "GET /exit HTTP/1.1\r\nHost: t\r\n\r\n")
	io.ReadAll(c)
	deadline := time.Now().Add(waitBound)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
			r, err := http.ReadResponse(bufio.NewReader(c), nil)
			c.Close()
			if err == nil && r.StatusCode == 200 {
				if !strings.Contains(s.Log(), "exit code 7") {
					t.Errorf("crash not logged with its exit code:\n%s", s.Log())
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no replacement worker:\n%s", s.Log())
}

func TestServeStartupErrors(t *testing.T) {
	bin := wsgikitBin(t)
	dir, _ := filepath.Abs("testdata/apps")
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"import-error", []string{"serve", "-b", "127.0.0.1:0", "--chdir", dir, "no_such_module:app"}, 3, "cannot import module"},
		{"missing-callable", []string{"serve", "-b", "127.0.0.1:0", "--chdir", dir, "wkapp:nope"}, 3, "has no attribute 'nope'"},
		{"bad-spec", []string{"serve", "wkapp:"}, 2, "want module:callable"},
		{"bad-flag", []string{"serve", "--wrokers", "2", "wkapp"}, 2, "unknown flag"},
		{"bad-python", []string{"serve", "--python", "/nonexistent/python", "wkapp"}, 2, "not an executable interpreter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runToExit(t, exec.Command(bin, tc.args...))
			if code != tc.code {
				t.Errorf("exit code %d, want %d\n%s", code, tc.code, out)
			}
			if !strings.Contains(string(out), tc.msg) {
				t.Errorf("output lacks %q:\n%s", tc.msg, out)
			}
		})
	}
}

// TestServeNoBuildForInterpreter runs a copy of the binary whose lib/ has
// every build but the interpreter's own: the server must stop with exit 4
// and say which make command builds it, for serve and --check-config.
func TestServeNoBuildForInterpreter(t *testing.T) {
	bin := wsgikitBin(t)
	py := testPython()
	out, err := exec.Command(py, "-c", "import sysconfig, sys; print(sysconfig.get_config_var('EXT_SUFFIX'), '%d.%d' % sys.version_info[:2])").Output()
	if err != nil {
		t.Fatalf("%s: %v", py, err)
	}
	suffix, version, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	libs, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), "lib", "_wsgikit*.so"))
	own := false
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range libs {
		if filepath.Base(l) == "_wsgikit"+suffix {
			own = true
			continue
		}
		if err := os.Symlink(l, filepath.Join(dir, "lib", filepath.Base(l))); err != nil {
			t.Fatal(err)
		}
	}
	if !own {
		t.Fatalf("%s has no _wsgikit%s: the build under test lacks %s (make build)", filepath.Dir(bin), suffix, py)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	// A copy, not a link: the server finds lib/ beside its resolved path.
	copyBin := filepath.Join(dir, "wsgikit")
	if err := os.WriteFile(copyBin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	apps, _ := filepath.Abs("testdata/apps")
	env := []string{}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "WSGIKIT_LIBDIR=") {
			env = append(env, e)
		}
	}
	for _, extra := range [][]string{nil, {"--check-config"}} {
		args := append([]string{"serve", "-b", "127.0.0.1:0", "--python", py, "--chdir", apps}, extra...)
		t.Run(strings.Join(append([]string{"serve"}, extra...), " "), func(t *testing.T) {
			cmd := exec.Command(copyBin, append(args, "wkapp")...)
			cmd.Env = env
			out, code := runToExit(t, cmd)
			if code != 4 {
				t.Errorf("exit code %d, want 4\n%s", code, out)
			}
			for _, want := range []string{"no _wsgikit build for Python " + version, "_wsgikit" + suffix, "make build PYTHON=" + py} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestServeFrameworks serves the repo's Flask and Django apps (from the
// peers venv of WSGIKIT_PYTHON, or Debian's python3-flask and python3-django
// on /usr/bin/python3) and checks both routes.
func TestServeFrameworks(t *testing.T) {
	apps, _ := filepath.Abs("../apps")
	cases := []struct{ name, app, module string }{
		{"flask", "flask_app:app", "flask"},
		{"django", "django_app.wsgi:application", "django"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := exec.Command(testPython(), "-c", "import "+tc.module).Run(); err != nil {
				t.Fatalf("%s cannot import %s (make setup installs it in the peers venvs)", testPython(), tc.module)
			}
			s := serveIn(t, apps, tc.app, "--threads", "2")
			r := s.get("/")
			if r.StatusCode != 200 || string(r.body) != "Hello, World!" {
				t.Fatalf("/: %d %q\n%s", r.StatusCode, r.body, s.Log())
			}
			r = s.get("/json")
			var v map[string]any
			if r.StatusCode != 200 || json.Unmarshal(r.body, &v) != nil || v["message"] != "Hello, World!" {
				t.Fatalf("/json: %d %q", r.StatusCode, r.body)
			}
		})
	}
}

func TestServeOptions(t *testing.T) {
	t.Run("factory", func(t *testing.T) {
		s := serve(t, "wkapp:make_app()")
		if r := s.get("/"); string(r.body) != "from factory" {
			t.Fatalf("%q", r.body)
		}
	})
	t.Run("workers-multiprocess", func(t *testing.T) {
		s := serve(t, "wkapp", "-w", "2")
		var env map[string]any
		json.Unmarshal(s.get("/env").body, &env)
		if env["wsgi.multiprocess"] != "True" || env["wsgi.multithread"] != "False" {
			t.Fatalf("multiprocess %v multithread %v", env["wsgi.multiprocess"], env["wsgi.multithread"])
		}
	})
	t.Run("pythonpath", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "elsewhere.py"), []byte("def application(e, sr):\n    sr('200 OK', [])\n    return [b'elsewhere']\n"), 0o644)
		s := serve(t, "elsewhere", "--pythonpath", dir)
		if r := s.get("/"); string(r.body) != "elsewhere" {
			t.Fatalf("%q", r.body)
		}
	})
	t.Run("interpreter", func(t *testing.T) {
		s := serve(t, "wkapp")
		got := string(s.get("/prefix").body)
		if _, exe, _ := strings.Cut(got, " "); exe != testPython() {
			t.Fatalf("worker's sys.executable %q, want %s (WSGIKIT_PYTHON or the default)", exe, testPython())
		}
	})
	t.Run("venv", func(t *testing.T) {
		venv := filepath.Join(t.TempDir(), "venv")
		if out, err := exec.Command(testPython(), "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
			t.Fatalf("make a venv: %v\n%s", err, out)
		}
		s := serve(t, "wkapp", "--python", filepath.Join(venv, "bin", "python"))
		got := string(s.get("/prefix").body)
		if !strings.HasPrefix(got, venv+" "+filepath.Join(venv, "bin", "python")) {
			t.Fatalf("sys.prefix/executable %q, want the venv %s", got, venv)
		}
	})
	t.Run("limit-request-body", func(t *testing.T) {
		s := serve(t, "wkapp", "--limit-request-body", "10")
		r, _, _ := s.roundTrip("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world")
		if r.StatusCode != 413 {
			t.Fatalf("status %d, want 413", r.StatusCode)
		}
	})
	t.Run("limit-request-fields", func(t *testing.T) {
		s := serve(t, "wkapp", "--limit-request-fields", "3")
		r, _, _ := s.roundTrip("GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
		if r.StatusCode != 431 {
			t.Fatalf("status %d, want 431", r.StatusCode)
		}
	})
}

// TestServeSlowClients: clients that never finish a head are cut after the
// header timeout, and never keep a Python thread from serving others.
func TestServeSlowClients(t *testing.T) {
	s := serve(t, "wkapp", "--header-timeout", "0.5")
	var slow []net.Conn
	for i := 0; i < 50; i++ {
		c := s.dial()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
		slow = append(slow, c)
	}
	if r := s.get("/"); r.StatusCode != 200 {
		t.Fatalf("normal request behind slow clients: %d", r.StatusCode)
	}
	for _, c := range slow {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("slow client not cut: %v", err)
		}
		if !bytes.HasPrefix(b, []byte("HTTP/1.1 408 ")) {
			t.Fatalf("slow client got %q, want a 408", b)
		}
	}
}

// TestServeEnvironValuesNotStale: the worker shares repeated environ values
// between requests; a changed value must never be served stale.
func TestServeEnvironValuesNotStale(t *testing.T) {
	s := serve(t, "wkapp")
	for _, ua := range []string{"a", "bb", "a", "cc", "", "cc"} {
		r, _, _ := s.roundTrip("GET /env HTTP/1.1\r\nHost: h-" + ua + "\r\nUser-Agent: " + ua + "\r\n\r\n")
		var env map[string]any
		json.Unmarshal(r.body, &env)
		if env["HTTP_USER_AGENT"] != ua || env["HTTP_HOST"] != "h-"+ua {
			t.Fatalf("User-Agent %q: environ has %q / %q", ua, env["HTTP_USER_AGENT"], env["HTTP_HOST"])
		}
	}
}

// TestServeThreadsRunConcurrently: with --threads 4, four requests are in
// the application at once (a rendezvous inside the app proves it; no timing).
func TestServeThreadsRunConcurrently(t *testing.T) {
	s := serve(t, "wkapp", "--threads", "4")
	dir := t.TempDir()
	var wg sync.WaitGroup
	results := make([]string, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprintf(c, "GET /rendezvous?n=4&dir=%s HTTP/1.1\r\nHost: t\r\n\r\n", dir)
			if r, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				b, _ := io.ReadAll(r.Body)
				results[i] = string(b)
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r != "met" {
			t.Fatalf("request %d: %q; want all four inside the app at once", i, r)
		}
	}
}

// runToExit runs a command that must exit by itself (a refused start) and
// returns its output and exit code; one still running after 30 s is killed
// with its process group and fails the test.
func runToExit(t *testing.T, cmd *exec.Cmd) ([]byte, int) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := make(chan struct{})
	var out []byte
	go func() { out, _ = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("did not exit:\n%s", out)
	}
	return out, cmd.ProcessState.ExitCode()
}
