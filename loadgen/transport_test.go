package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/internal/harness"
)

// leanClient returns an http.Client on a fresh lean transport.
func leanClient(t *testing.T, tr *Transport) *http.Client {
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, method, url string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// TestTransportAgainstGoServer checks framing and reuse against net/http's
// server: Content-Length, chunked (no length, flushed), uploads with a
// length and chunked, HEAD, 204 and status codes.
func TestTransportAgainstGoServer(t *testing.T) {
	srv := httptest.NewServer(fixtureHandler())
	defer srv.Close()
	tr := &Transport{Timeout: 10 * time.Second, KeepHeaders: true}
	c := leanClient(t, tr)
	upload := bytes.Repeat([]byte("0123456789abcdef"), UploadSize/16)
	tests := []struct {
		name, method, path string
		body               []byte
		chunkedUpload      bool
		code               int
		wantLen            int
		wantBody           []byte
		wantTE             bool
	}{
		{name: "hello", method: "GET", path: "/", code: 200, wantBody: []byte("Hello, World!")},
		{name: "json", method: "GET", path: "/json", code: 200, wantBody: []byte(`{"message":"Hello, World!"}`)},
		{name: "chunked 1MiB", method: "GET", path: "/stream?size=1048576", code: 200, wantLen: 1 << 20, wantTE: true},
		{name: "upload 64KiB", method: "POST", path: "/upload", body: upload, code: 200, wantBody: upload},
		{name: "chunked upload", method: "POST", path: "/upload", body: upload[:10000], chunkedUpload: true, code: 200, wantBody: upload[:10000]},
		{name: "file 1MiB", method: "GET", path: "/file?size=1048576", code: 200, wantLen: 1 << 20},
		{name: "HEAD", method: "HEAD", path: "/", code: 200, wantLen: 0},
		{name: "204", method: "GET", path: "/status/204", code: 204, wantLen: 0},
		{name: "404", method: "GET", path: "/status/404", code: 404, wantLen: 0},
		{name: "500", method: "GET", path: "/status/500", code: 500, wantLen: 0},
		{name: "after all that, hello again", method: "GET", path: "/", code: 200, wantBody: []byte("Hello, World!")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.body != nil {
				rd = bytes.NewReader(tc.body)
				if tc.chunkedUpload {
					rd = io.MultiReader(rd) // hides the length: sent chunked
				}
			}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, rd)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.wantBody != nil && !bytes.Equal(b, tc.wantBody) {
				t.Fatalf("body %d bytes %.40q…, want %d bytes", len(b), b, len(tc.wantBody))
			}
			if tc.wantBody == nil && len(b) != tc.wantLen {
				t.Fatalf("body %d bytes, want %d", len(b), tc.wantLen)
			}
			if got := len(resp.TransferEncoding) > 0; got != tc.wantTE {
				t.Fatalf("chunked=%v, want %v", got, tc.wantTE)
			}
			if tc.code == 200 && tc.method == "GET" && resp.Header.Get("Content-Type") == "" {
				t.Fatalf("KeepHeaders: no Content-Type in %v", resp.Header)
			}
		})
	}
	if s := tr.Stats(); s.Dials != 1 {
		t.Fatalf("%d connections for %d sequential requests; keep-alive should use one (%+v)", s.Dials, len(tests), s)
	}
}

// scripted is a raw TCP server that answers each request (read up to the
// blank line) with the next canned response; close after a response
// closes the connection.
type scripted struct {
	ln      net.Listener
	mu      sync.Mutex
	answers []scriptStep
	conns   int
	got     chan struct{} // one token per request read
	closed  chan struct{} // one token per connection closed after an answer
	done    chan struct{} // closed when the test ends: holds end
}

type scriptStep struct {
	resp  string
	close bool // close the connection after writing
	hold  bool // never answer: wait until the test ends
}

func newScripted(t *testing.T, steps ...scriptStep) *scripted {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{ln: ln, answers: steps, got: make(chan struct{}, 100), closed: make(chan struct{}, 100), done: make(chan struct{})}
	t.Cleanup(func() { close(s.done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	return s
}

func (s *scripted) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		cl := 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(strings.ToLower(line), "content-length:") {
				var n int
				_, _ = fmtSscan(strings.TrimSpace(line[len("content-length:"):]), &n)
				cl = n
			}
			if line == "\r\n" {
				break
			}
		}
		io.CopyN(io.Discard, br, int64(cl))
		s.mu.Lock()
		if len(s.answers) == 0 {
			s.mu.Unlock()
			return
		}
		st := s.answers[0]
		s.answers = s.answers[1:]
		s.mu.Unlock()
		s.got <- struct{}{}
		if st.hold {
			<-s.done
			return
		}
		io.WriteString(c, st.resp)
		if st.close {
			c.Close()
			s.closed <- struct{}{}
			return
		}
	}
}

func (s *scripted) url() string { return "http://" + s.ln.Addr().String() }

func (s *scripted) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func TestTransportScriptedResponses(t *testing.T) {
	tests := []struct {
		name     string
		steps    []scriptStep
		method   string
		requests int
		wantBody []string // per request; "ERR:substr" for an expected error
		conns    int
	}{
		{"interim 100 then 200", []scriptStep{{resp: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"}},
			"GET", 1, []string{"hi"}, 1},
		{"HEAD with Content-Length has no body", []scriptStep{
			{resp: "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"}, {resp: "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"}},
			"HEAD", 2, []string{"", ""}, 1},
		{"body until close", []scriptStep{{resp: "HTTP/1.1 200 OK\r\n\r\nuntil the end", close: true}, {resp: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"}},
			"GET", 2, []string{"until the end", "x"}, 2},
		{"Connection: close", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na", close: true},
			{resp: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"}}, "GET", 2, []string{"a", "b"}, 2},
		{"HTTP/1.0 without keep-alive", []scriptStep{{resp: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na", close: true},
			{resp: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb", close: true}}, "GET", 2, []string{"a", "b"}, 2},
		{"HTTP/1.0 keep-alive", []scriptStep{{resp: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na"},
			{resp: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nb"}}, "GET", 2, []string{"a", "b"}, 1},
		{"chunked with extensions and trailers", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: y\r\n\r\n"}, {resp: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"}},
			"GET", 2, []string{"abcde", "z"}, 1},
		{"server closed idle connection: retried on a new one", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", close: true},
			{resp: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"}}, "GET", 2, []string{"a", "b"}, 2},
		{"malformed status line", []scriptStep{{resp: "HTTP/1.1 2x0 OK\r\n\r\n", close: true}}, "GET", 1, []string{"ERR:malformed status line"}, 1},
		{"bad chunk size", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", close: true}}, "GET", 1, []string{"ERR:bad chunk size"}, 1},
		{"chunk size then whitespace", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n", close: true}}, "GET", 1, []string{"ERR:bad chunk size"}, 1},
		{"bare LF", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok", close: true}}, "GET", 1, []string{"ERR:bare LF"}, 1},
		{"Transfer-Encoding other than chunked: until close", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nab", close: true},
			{resp: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"}}, "GET", 2, []string{"ab", "c"}, 2},
		{"truncated body", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close: true}}, "GET", 1, []string{"ERR:unexpected EOF"}, 1},
		{"conflicting Content-Length", []scriptStep{{resp: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", close: true}}, "GET", 1, []string{"ERR:Content-Length"}, 1},
		{"closed before any byte, fresh connection", []scriptStep{{resp: "", close: true}}, "GET", 1, []string{"ERR:connection closed before any response byte"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScripted(t, tc.steps...)
			tr := &Transport{Timeout: 5 * time.Second}
			c := leanClient(t, tr)
			for i := 0; i < tc.requests; i++ {
				if i > 0 && strings.Contains(tc.name, "idle") {
					<-s.closed // the connection is closed while idle (loopback: the FIN is queued to us)
				}
				_, b, err := get(t, c, tc.method, s.url()+"/", nil)
				want := tc.wantBody[i]
				if w, ok := strings.CutPrefix(want, "ERR:"); ok {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Fatalf("request %d: err %v, want one containing %q", i, err, w)
					}
					continue
				}
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if string(b) != want {
					t.Fatalf("request %d: body %q, want %q", i, b, want)
				}
			}
			if n := s.connCount(); n != tc.conns {
				t.Fatalf("%d connections, want %d", n, tc.conns)
			}
		})
	}
}

func TestTransportTimeoutAndRefused(t *testing.T) {
	// The server never answers: only the transport's timeout can end the
	// request, however long the machine takes to get there.
	s := newScripted(t, scriptStep{hold: true})
	c := leanClient(t, &Transport{Timeout: 300 * time.Millisecond})
	_, _, err := get(t, c, "GET", s.url()+"/", nil)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, _, err := get(t, c, "GET", "http://"+addr+"/", nil); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err %v, want connection refused", err)
	}
	if _, _, err := get(t, c, "GET", "https://"+addr+"/", nil); err == nil || !strings.Contains(err.Error(), "only http://") {
		t.Fatalf("err %v, want https refused", err)
	}
}

// TestTransportContextCancel: cancelling the request's context while the
// server holds the answer ends the exchange. The transport's own timeout
// is far beyond the test's bound, so only the cancel can end it.
func TestTransportContextCancel(t *testing.T) {
	s := newScripted(t, scriptStep{hold: true})
	c := leanClient(t, &Transport{Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.got // the request is on the server: the exchange is under way
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url()+"/", nil)
	_, err := c.Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestTransportBoundsConnections(t *testing.T) {
	var mu sync.Mutex
	inflight, peak := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inflight--
		mu.Unlock()
	}))
	defer srv.Close()
	tr := &Transport{Timeout: 5 * time.Second, MaxConnsPerHost: 3}
	c := leanClient(t, tr)
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := get(t, c, "GET", srv.URL+"/", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if peak > 3 || tr.Stats().Dials > 3 {
		t.Fatalf("peak %d in flight, %d dials; bound is 3", peak, tr.Stats().Dials)
	}
}

// TestReadResponseAllocs: the driver's hot path allocates only the
// response with its body reader (and a chunked one's Transfer-Encoding).
func TestReadResponseAllocs(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want float64
	}{{helloLength, 1}, {helloChunked, 2}} {
		c, req := loopConn(tc.raw)
		var err error
		if n := testing.AllocsPerRun(1000, func() { err = exchange(c, req) }); n != tc.want || err != nil {
			t.Errorf("%d allocations per response (want %v), err %v, for %.30q", int(n), tc.want, err, tc.raw)
		}
	}
}

// TestRoundTripAllocs: over a real socket (the server in another process,
// so its allocations are not counted), a kept-alive exchange allocates only
// the response with its body reader: the request goes out and the answer
// is read without a closure or buffer per request.
func TestRoundTripAllocs(t *testing.T) {
	base := startFastFixtureProcess(t)
	tr := &Transport{Timeout: 10 * time.Second, MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", base+"/", nil)
	var err error
	exchange := func() {
		var resp *http.Response
		if resp, err = tr.RoundTrip(req); err != nil {
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	exchange() // dial
	if n := testing.AllocsPerRun(1000, exchange); n != 1 || err != nil {
		t.Errorf("%v allocations per exchange (want 1), err %v", n, err)
	}
}

// TestNginxStaticProfile: the profile README's driver-against-wrk command
// loads.
func TestNginxStaticProfile(t *testing.T) {
	ps, err := harness.LoadProfiles("testdata/nginx-static.toml")
	if err != nil || len(ps) != 1 || ps[0].Name != "nginx-static" {
		t.Fatalf("profiles %v, err %v", ps, err)
	}
}
