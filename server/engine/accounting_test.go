package engine

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/server/accesslog"
	"github.com/wsgikit/wsgikit/server/http1"
)

// fixedApp answers code with body in one piece (Complete).
type fixedApp struct {
	code int
	body string
}

func (a fixedApp) Serve(slot int, x *Exchange) {
	status := map[int]string{200: "200 OK", 204: "204 No Content", 304: "304 Not Modified"}[a.code]
	h := Head{Status: []byte(status), Code: a.code, AppCL: -1}
	x.Complete(&h, []byte(a.body))
}

// serveRaw runs one engine with cfg for app, sends each raw request on its
// own connection (reading until the server closes it), stops the engine and
// returns it: its counters and access log are final then.
func serveRaw(t *testing.T, cfg Config, app App, raws ...string) *Engine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg.Logger = discardLogger()
	e := New(cfg, app)
	done := make(chan error, 1)
	go func() { done <- e.Serve(ln) }()
	for _, raw := range raws {
		c := dialEngine(t, ln.Addr().String())
		io.WriteString(c, raw)
		io.ReadAll(c)
		c.Close()
	}
	e.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.Shutdown(ctx)
	<-done
	return e
}

// TestEngineAccessLogBytesSent: the access log counts the body bytes that
// went out, so a HEAD (or a 204, 304) logs 0 whatever body the app returned.
func TestEngineAccessLogBytesSent(t *testing.T) {
	cases := []struct {
		name, method string
		app          App
		want         string // "%(s)s %(B)s"
	}{
		{"get-complete", "GET", StaticApp{}, "200 13"},
		{"head-complete", "HEAD", StaticApp{}, "200 0"},
		{"get-stream", "GET", streamApp{[]string{"ab", "cde"}}, "200 5"},
		{"head-stream", "HEAD", streamApp{[]string{"ab", "cde"}}, "200 0"},
		{"304-with-body", "GET", fixedApp{304, "ignored"}, "304 0"},
		{"204-with-body", "GET", fixedApp{204, "ignored"}, "204 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			al, err := accesslog.Open(path, `%(s)s %(B)s`, false)
			if err != nil {
				t.Fatal(err)
			}
			serveRaw(t, Config{AccessLog: al}, tc.app, tc.method+" / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			al.Flush()
			b, _ := os.ReadFile(path)
			if got := strings.TrimSpace(string(b)); got != tc.want {
				t.Errorf("%s: access log %q, want %q", tc.method, got, tc.want)
			}
		})
	}
}

// TestEngineCountsRejections: requests the engine answers itself are counted
// by status; requests the app answered are not. (Default limits only: the
// engine's pooled connections keep the limits of the engine that made them.)
func TestEngineCountsRejections(t *testing.T) {
	lim := http1.DefaultLimits()
	e := serveRaw(t, Config{HeaderTimeout: 200 * time.Millisecond}, StaticApp{},
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
		"GET /"+strings.Repeat("a", lim.MaxRequestLine)+" HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n"+strings.Repeat("X-A: 1\r\n", lim.MaxHeaderFields)+"\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n", // never completed: 408 at the header timeout
	)
	got := e.board.Snapshot().Rejected
	want := map[string]uint64{"400": 2, "414": 1, "431": 1, "417": 1, "408": 1}
	for code, n := range want {
		if got[code] != n {
			t.Errorf("rejected %s: %d, want %d (all: %v)", code, got[code], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rejected %v, want %v", got, want)
	}
}
