package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	e := New(cfg, app)
	done := make(chan error, 1)
	go func() { done <- e.Serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		e.Drain()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
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
