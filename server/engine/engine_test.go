package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/server/errorlog"
	"github.com/wsgikit/wsgikit/server/http1"
)

// startEngine serves app on a loopback port; the engine stops with the test.
func startEngine(t testing.TB, app App, threads int) string {
	t.Helper()
	return startEngineWith(t, Config{Threads: threads}, app)
}

// startEngineWith is startEngine with more settings.
func startEngineWith(t testing.TB, cfg Config, app App) string {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	e, addr, served := listenEngine(t, cfg, app)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		<-served
	})
	return addr
}

// streamApp sends its body in blocks through Send, like a generator.
type streamApp struct{ blocks []string }

func (a streamApp) Serve(slot int, x *Exchange) {
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	for _, b := range a.blocks {
		if err := x.Send(&h, []byte(b), -1); err != nil {
			x.Fail()
			return
		}
	}
	if !x.headSent {
		x.Complete(&h, nil)
		return
	}
	x.Finish()
}

func TestEngineFraming(t *testing.T) {
	cases := []struct {
		name, req string
		app       App
		want      string // the response after the Date line
	}{
		{"complete", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", StaticApp{},
			"Server: wsgikit\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"},
		{"chunked-1.1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", streamApp{[]string{"ab", "cde"}},
			"Server: wsgikit\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"},
		{"close-delimited-1.0", "GET / HTTP/1.0\r\n\r\n", streamApp{[]string{"ab", "cde"}},
			"Server: wsgikit\r\nConnection: close\r\n\r\nabcde"},
		{"head-stream", "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", streamApp{[]string{"ab"}},
			"Server: wsgikit\r\nConnection: close\r\n\r\n"},
		{"empty", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", streamApp{nil},
			"Server: wsgikit\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := startEngine(t, tc.app, 1)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tc.req)
			br := bufio.NewReader(c)
			status, _ := br.ReadString('\n')
			date, _ := br.ReadString('\n')
			if status != "HTTP/1.1 200 OK\r\n" || !strings.HasPrefix(date, "Date: ") {
				t.Fatalf("head starts %q %q", status, date)
			}
			got := make([]byte, len(tc.want))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

// TestEngineNoAllocs: a keep-alive GET costs no heap allocation in the
// engine (parse, environ, head, write) once warm.
func TestEngineNoAllocs(t *testing.T) {
	addr := startEngine(t, StaticApp{}, 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /some/path?q=1 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: test/1.0\r\nAccept: */*\r\nCookie: a=1\r\nX-Custom-Header: v\r\n\r\n")
	c.Write(req)
	resp := make([]byte, 4096)
	n, _ := c.Read(resp)
	if !bytes.HasSuffix(resp[:n], staticBody) {
		t.Fatalf("response %q", resp[:n])
	}
	size := n
	allocs := testing.AllocsPerRun(2000, func() {
		c.Write(req)
		if _, err := io.ReadFull(c, resp[:size]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("%.2f allocations per keep-alive request, want 0", allocs)
	}
}

func TestBuildEnvironNoAllocs(t *testing.T) {
	raw := []byte("GET /a%20b/c?x=1 HTTP/1.1\r\nHost: example.org:8080\r\nUser-Agent: t\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-Other-Thing: z\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n")
	var req http1.Request
	lim := http1.DefaultLimits()
	if _, err := http1.Parse(raw, &req, &lim); err != nil {
		t.Fatal(err)
	}
	ci := connInfo{ServerName: []byte("127.0.0.1"), ServerPort: []byte("80"), RemoteAddr: []byte("127.0.0.1"), RemotePort: []byte("5555")}
	var env Environ
	buildEnviron(&env, &req, &ci, nil)
	allocs := testing.AllocsPerRun(1000, func() { buildEnviron(&env, &req, &ci, nil) })
	if allocs > 0 {
		t.Errorf("%.2f allocations per environ, want 0", allocs)
	}
	want := map[string]string{"PATH_INFO": "/a b/c", "SERVER_NAME": "example.org", "SERVER_PORT": "8080",
		"HTTP_X_DUP": "1, 2", "HTTP_COOKIE": "a=1; b=2", "HTTP_X_OTHER_THING": "z", "QUERY_STRING": "x=1"}
	for k, v := range want {
		if got, _ := env.lookup(k); string(got) != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestBuildEnvironAbsoluteForm(t *testing.T) {
	raw := []byte("GET http://target.example:8080/p?q HTTP/1.1\r\nHost: other.example\r\n\r\n")
	var req http1.Request
	lim := http1.DefaultLimits()
	if _, err := http1.Parse(raw, &req, &lim); err != nil {
		t.Fatal(err)
	}
	var env Environ
	buildEnviron(&env, &req, &connInfo{}, nil)
	host := ""
	for i := range env.Entries { // the last one wins in the dict
		if env.keyName(i) == "HTTP_HOST" {
			host = string(env.value(i))
		}
	}
	if host != "target.example:8080" {
		t.Errorf("HTTP_HOST %q, want the target's authority", host)
	}
	if v, _ := env.lookup("PATH_INFO"); string(v) != "/p" {
		t.Errorf("PATH_INFO %q", v)
	}
}

func BenchmarkBuildEnviron(b *testing.B) {
	raw := []byte("GET /api/v1/items?page=2 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nCookie: session=abc123; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\n\r\n")
	var req http1.Request
	lim := http1.DefaultLimits()
	http1.Parse(raw, &req, &lim)
	ci := connInfo{ServerName: []byte("127.0.0.1"), ServerPort: []byte("80"), RemoteAddr: []byte("127.0.0.1"), RemotePort: []byte("5555")}
	var env Environ
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buildEnviron(&env, &req, &ci, nil)
	}
}

// BenchmarkEngineKeepAlive measures the whole engine path per request on
// loopback with the static app (client cost included).
func BenchmarkEngineKeepAlive(b *testing.B) {
	addr := startEngine(b, StaticApp{}, 1)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp := make([]byte, 4096)
	c.Write(req)
	n, _ := c.Read(resp)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(req)
		io.ReadFull(c, resp[:n])
	}
}

// dialEngine connects to addr; the connection closes with the test, and
// gives up after 10 s (a hang, not an oracle).
func dialEngine(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// getOK sends a GET on a new connection and checks the static answer.
func getOK(t *testing.T, addr string) {
	t.Helper()
	c := dialEngine(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil || !bytes.HasPrefix(b, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(b, staticBody) {
		t.Fatalf("response %q (%v)", b, err)
	}
}

// TestEngineTrickledHead: a head that arrives a byte at a time is parsed
// once complete, and other connections are served meanwhile (the loop never
// waits on one client).
func TestEngineTrickledHead(t *testing.T) {
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("threads-%d", threads), func(t *testing.T) {
			addr := startEngine(t, StaticApp{}, threads)
			c := dialEngine(t, addr)
			req := "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", 40) + "\r\n\r\n"
			for i := range len(req) {
				if _, err := io.WriteString(c, req[i:i+1]); err != nil {
					t.Fatal(err)
				}
				if i == len(req)/2 {
					getOK(t, addr) // half a head elsewhere holds nobody up
				}
				time.Sleep(time.Millisecond) // separate segments
			}
			br := bufio.NewReader(c)
			status, err := br.ReadString('\n')
			if status != "HTTP/1.1 200 OK\r\n" {
				t.Fatalf("status %q (%v)", status, err)
			}
		})
	}
}

// sinkApp answers without reading the request body.
type sinkApp struct{}

func (sinkApp) Serve(slot int, x *Exchange) {
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	x.Complete(&h, []byte("ok"))
}

// TestEngineDiscardsUnreadBody: a body the application left unread is
// discarded as it arrives, without holding up other connections, and the
// connection then serves its next request.
func TestEngineDiscardsUnreadBody(t *testing.T) {
	addr := startEngine(t, sinkApp{}, 1)
	c := dialEngine(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(r.Body)
	// Half the body is still due: another client is served meanwhile.
	other := dialEngine(t, addr)
	io.WriteString(other, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r, err := http.ReadResponse(bufio.NewReader(other), nil); err != nil || r.StatusCode != 200 {
		t.Fatalf("other client: %v", err)
	}
	io.WriteString(c, "67890GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	r, err = http.ReadResponse(br, nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("request after the discarded body: %v", err)
	}
}

// echoApp answers with the request target.
type echoApp struct{}

func (echoApp) Serve(slot int, x *Exchange) {
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	x.Complete(&h, append([]byte(nil), x.Req.Target...))
}

// TestEnginePipelinedConnections: connections pipelining many requests at
// once each get every answer, in order, whether the loop runs them (one
// thread) or runners take turns (three).
func TestEnginePipelinedConnections(t *testing.T) {
	for _, threads := range []int{1, 3} {
		t.Run(fmt.Sprintf("threads-%d", threads), func(t *testing.T) {
			addr := startEngine(t, echoApp{}, threads)
			errs := make(chan error, 8)
			for i := range 8 {
				go func() {
					errs <- func() error {
						c, err := net.Dial("tcp", addr)
						if err != nil {
							return err
						}
						defer c.Close()
						c.SetDeadline(time.Now().Add(20 * time.Second))
						var reqs strings.Builder
						for j := range 20 {
							fmt.Fprintf(&reqs, "GET /%d/%d HTTP/1.1\r\nHost: x\r\n\r\n", i, j)
						}
						go io.WriteString(c, reqs.String())
						br := bufio.NewReader(c)
						for j := range 20 {
							r, err := http.ReadResponse(br, nil)
							if err != nil {
								return err
							}
							b, _ := io.ReadAll(r.Body)
							if want := fmt.Sprintf("/%d/%d", i, j); string(b) != want {
								return fmt.Errorf("got %q, want %q", b, want)
							}
						}
						return nil
					}()
				}()
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func discardLogger() *slog.Logger { return errorlog.New(io.Discard, slog.LevelError, false) }

// listenEngine serves with New(cfg, app) on a loopback port; served says
// how Serve ended. The listener closes with the test.
func listenEngine(t testing.TB, cfg Config, app App) (*Engine, string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	e := New(cfg, app)
	served := make(chan error, 1)
	go func() { served <- e.Serve(ln) }()
	return e, ln.Addr().String(), served
}

// keepAliveClients starts conns clients that send one request after the
// other on a kept-alive connection until an answer says Connection: close.
// The first answers are reported on answered (it holds conns*1000); each
// client's end on errs (nil: it ended on a Connection: close).
func keepAliveClients(t *testing.T, addr string, conns int) (answered chan int, errs chan error) {
	answered, errs = make(chan int, conns*1000), make(chan error, conns)
	for i := range conns {
		c := dialEngine(t, addr)
		go func() {
			errs <- func() error {
				br := bufio.NewReader(c)
				for j := 0; ; j++ {
					if _, err := fmt.Fprintf(c, "GET /%d/%d HTTP/1.1\r\nHost: x\r\n\r\n", i, j); err != nil {
						return fmt.Errorf("request %d: %w", j, err)
					}
					r, err := http.ReadResponse(br, nil)
					if err != nil {
						return fmt.Errorf("request %d: %w", j, err)
					}
					io.ReadAll(r.Body)
					select {
					case answered <- j:
					default: // nobody counts any more
					}
					if r.Close {
						return nil
					}
				}
			}()
		}()
	}
	return answered, errs
}

// TestEngineDrainLosesNoRequest: clients keep sending on kept-alive
// connections while the engine drains; every request is answered, each
// connection ends with a response saying "Connection: close", and the
// engine then stops by itself.
func TestEngineDrainLosesNoRequest(t *testing.T) {
	for _, threads := range []int{1, 3} {
		t.Run(fmt.Sprintf("threads-%d", threads), func(t *testing.T) {
			e, addr, served := listenEngine(t, Config{Threads: threads, Logger: discardLogger()}, echoApp{})
			const conns = 8
			answered, errs := keepAliveClients(t, addr, conns)
			for range conns * 20 { // under way on every connection
				<-answered
			}
			e.Drain()
			for range conns {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-served:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the engine did not stop once its connections ended")
			}
		})
	}
}

// TestEngineDrainClosesQuietConnections: a draining engine closes a
// connection that sent nothing since its last response once it is quiet,
// and answers a request that arrives on one meanwhile.
func TestEngineDrainClosesQuietConnections(t *testing.T) {
	e, addr, served := listenEngine(t, Config{Threads: 1, Logger: discardLogger()}, echoApp{})
	quiet, late := dialEngine(t, addr), dialEngine(t, addr)
	for _, c := range []net.Conn{quiet, late} {
		io.WriteString(c, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
		if r, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || r.Close {
			t.Fatalf("before the drain: %v", err)
		}
	}
	e.Drain()
	io.WriteString(late, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
	r, err := http.ReadResponse(bufio.NewReader(late), nil)
	if err != nil || !r.Close {
		t.Fatalf("a request on a kept-alive connection during the drain: %v, close %v", err, r != nil && r.Close)
	}
	if b, err := io.ReadAll(quiet); err != nil || len(b) != 0 {
		t.Fatalf("the quiet connection got %q (%v), want a clean close", b, err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// readAllApp reads the whole request body, then answers with it; a body
// that fails ends the exchange with Fail, as the worker does when the
// application raises.
type readAllApp struct{}

func (readAllApp) Serve(slot int, x *Exchange) {
	var body []byte
	buf := make([]byte, 3)
	for {
		n, err := x.ReadBody(buf)
		body = append(body, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			x.Fail()
			return
		}
	}
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	x.Complete(&h, body)
}

// TestEngineBadBodyIsTheClients: framing that fails while the application
// reads the body ends as the client's error (400, 413), with the connection
// closed, logged at debug: not a 500.
func TestEngineBadBodyIsTheClients(t *testing.T) {
	cases := []struct {
		name, req string
		status    int
		reason    string
	}{
		{"malformed chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, "chunk size"},
		{"chunk over the limit", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n40\r\n" + strings.Repeat("z", 64) + "\r\n0\r\n\r\n", 413, "413"},
		{"body shorter than Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345", 400, "shorter than announced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log syncBuffer
			limits := http1.DefaultLimits()
			limits.MaxBodyBytes = 32
			e, addr, _ := listenEngine(t, Config{Threads: 1, Limits: limits, Logger: errorlog.New(&log, slog.LevelDebug, false)}, readAllApp{})
			defer e.Shutdown(context.Background())
			c := dialEngine(t, addr)
			io.WriteString(c, tc.req)
			c.(*net.TCPConn).CloseWrite() // the client sent all it will
			r, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode != tc.status || !r.Close {
				t.Fatalf("status %d, close %v; want %d and close", r.StatusCode, r.Close, tc.status)
			}
			want := fmt.Sprintf("rejected request from %s: %d", c.LocalAddr(), tc.status)
			if l := log.String(); !strings.Contains(l, want) || !strings.Contains(l, tc.reason) || !strings.Contains(l, "[DEBUG]") || strings.Contains(l, "[ERROR]") {
				t.Fatalf("log %q; want %q with %q, at debug only", l, want, tc.reason)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer for a log written by the engine's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// stuckApp blocks the requests for /block (and /stream-block, after a first
// block of its body) until release closes, like a request stuck in Python;
// it answers the others with their target.
type stuckApp struct {
	started chan struct{} // a stuck request began
	release chan struct{}
}

func (a stuckApp) Serve(slot int, x *Exchange) {
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	switch string(x.Req.Target) {
	case "/block":
		a.started <- struct{}{}
		<-a.release
	case "/stream-block":
		x.Send(&h, []byte("first"), -1)
		a.started <- struct{}{}
		<-a.release
		if x.Send(&h, []byte("late"), -1) == nil {
			panic("a timed-out exchange still sends")
		}
		x.Finish()
		return
	}
	x.Complete(&h, append([]byte(nil), x.Req.Target...))
}

// stuckSlot finds the slot the request for target runs in, and since when.
func stuckSlot(t *testing.T, e *Engine, target string) (int, int64) {
	t.Helper()
	for i := range e.board.Slots() {
		if st, line, ok := e.board.Read(i); ok && strings.Contains(line, " "+target+" ") {
			return i, st
		}
	}
	t.Fatalf("%s runs in no slot", target)
	return 0, 0
}

// TestEngineTimeOut: a request told it ran over --timeout gets 504 with
// Connection: close at once, while the application still holds it; the
// engine drains, serving every other request (with one thread too: the
// loop itself was stuck in that request), and stops without waiting for it.
func TestEngineTimeOut(t *testing.T) {
	for _, threads := range []int{1, 3} {
		t.Run(fmt.Sprintf("threads-%d", threads), func(t *testing.T) {
			app := stuckApp{started: make(chan struct{}, 1), release: make(chan struct{})}
			defer close(app.release)
			e, addr, served := listenEngine(t, Config{Threads: threads, Logger: discardLogger()}, app)
			const conns = 8
			answered, errs := keepAliveClients(t, addr, conns)
			for range conns * 10 {
				<-answered
			}
			stuck := dialEngine(t, addr)
			io.WriteString(stuck, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
			<-app.started
			slot, start := stuckSlot(t, e, "/block")
			if _, _, ok := e.TimeOut(slot, start-1); ok {
				t.Fatal("TimeOut acted on a request that began at another time")
			}
			line, answered504, ok := e.TimeOut(slot, start)
			if !ok || !answered504 || line != "GET /block HTTP/1.1" {
				t.Fatalf("TimeOut: %q answered=%v ok=%v", line, answered504, ok)
			}
			b, err := io.ReadAll(stuck)
			if err != nil || !bytes.HasPrefix(b, []byte("HTTP/1.1 504 Gateway Timeout\r\n")) || !bytes.Contains(b, []byte("Connection: close\r\n")) {
				t.Fatalf("the timed-out request got %q (%v)", b, err)
			}
			for range conns {
				if err := <-errs; err != nil {
					t.Fatalf("another request failed: %v", err)
				}
			}
			select {
			case err := <-served:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the engine did not stop while the timed-out request held its thread")
			}
			if n := e.Abandoned(); n != 1 {
				t.Fatalf("Abandoned %d, want 1", n)
			}
		})
	}
}

// TestEngineTimeOutStreaming: a timed-out request whose response began is
// reset: the client cannot take the part it got as the whole; the
// application's later sends fail.
func TestEngineTimeOutStreaming(t *testing.T) {
	app := stuckApp{started: make(chan struct{}, 1), release: make(chan struct{})}
	e, addr, served := listenEngine(t, Config{Threads: 1, Logger: discardLogger()}, app)
	c := dialEngine(t, addr)
	io.WriteString(c, "GET /stream-block HTTP/1.1\r\nHost: x\r\n\r\n")
	<-app.started
	slot, start := stuckSlot(t, e, "/stream-block")
	if _, answered, ok := e.TimeOut(slot, start); !ok || answered {
		t.Fatalf("TimeOut: answered=%v ok=%v, want a reset", answered, ok)
	}
	b, err := io.ReadAll(c)
	if !errors.Is(err, syscall.ECONNRESET) || !bytes.Contains(b, []byte("5\r\nfirst\r\n")) || bytes.Contains(b, []byte("0\r\n\r\n")) {
		t.Fatalf("got %q (%v), want the first block, then a reset", b, err)
	}
	if err := <-served; err != nil || e.Abandoned() != 1 {
		t.Fatalf("served %v, abandoned %d", err, e.Abandoned())
	}
	close(app.release) // the application returns and finds its sends fail
}
