package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
)

// startEngine serves app on a loopback port; the engine stops with the test.
func startEngine(t testing.TB, app App, threads int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(EngineConfig{Threads: threads, Logger: discardLogger()}, app)
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
	if !x.HeadSent() {
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
	ci := ConnInfo{ServerName: []byte("127.0.0.1"), ServerPort: []byte("80"), RemoteAddr: []byte("127.0.0.1"), RemotePort: []byte("5555")}
	var env Environ
	BuildEnviron(&env, &req, &ci, nil)
	allocs := testing.AllocsPerRun(1000, func() { BuildEnviron(&env, &req, &ci, nil) })
	if allocs > 0 {
		t.Errorf("%.2f allocations per environ, want 0", allocs)
	}
	want := map[string]string{"PATH_INFO": "/a b/c", "SERVER_NAME": "example.org", "SERVER_PORT": "8080",
		"HTTP_X_DUP": "1, 2", "HTTP_COOKIE": "a=1; b=2", "HTTP_X_OTHER_THING": "z", "QUERY_STRING": "x=1"}
	for k, v := range want {
		if got, _ := env.Lookup(k); string(got) != v {
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
	BuildEnviron(&env, &req, &ConnInfo{}, nil)
	host := ""
	for i := range env.Entries { // the last one wins in the dict
		if env.KeyName(i) == "HTTP_HOST" {
			host = string(env.Value(i))
		}
	}
	if host != "target.example:8080" {
		t.Errorf("HTTP_HOST %q, want the target's authority", host)
	}
	if v, _ := env.Lookup("PATH_INFO"); string(v) != "/p" {
		t.Errorf("PATH_INFO %q", v)
	}
}

func BenchmarkBuildEnviron(b *testing.B) {
	raw := []byte("GET /api/v1/items?page=2 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nCookie: session=abc123; theme=dark\r\nUpgrade-Insecure-Requests: 1\r\n\r\n")
	var req http1.Request
	lim := http1.DefaultLimits()
	http1.Parse(raw, &req, &lim)
	ci := ConnInfo{ServerName: []byte("127.0.0.1"), ServerPort: []byte("80"), RemoteAddr: []byte("127.0.0.1"), RemotePort: []byte("5555")}
	var env Environ
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		BuildEnviron(&env, &req, &ci, nil)
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
