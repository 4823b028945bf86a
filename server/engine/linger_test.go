package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/wsgikit/wsgikit/server/http1"
	"github.com/wsgikit/wsgikit/server/tlsconf"
)

// bigApp answers every request with a 16 KiB body, leaving any request
// body unread.
type bigApp struct{}

var bigBody = bytes.Repeat([]byte("x"), 16<<10)

func (bigApp) Serve(slot int, x *Exchange) {
	h := Head{Status: []byte("200 OK"), Code: 200, AppCL: -1}
	x.Complete(&h, bigBody)
}

// dialSmallWindow connects with a small receive buffer, so that what the
// server sends waits in the server's socket buffer until the client reads.
func dialSmallWindow(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute)) // bounds a wait; decides nothing
	return c.(*net.TCPConn)
}

// TestEngineLingersBeforeClose: when the server ends a connection while
// the client may still be sending (a rejected request, a body too large to
// discard, bytes pipelined after the last request), it half-closes and
// reads what comes until the client closes, as nginx's lingering_close
// does. A plain close would make the kernel answer those bytes with a
// reset, which throws away the responses still in the server's socket
// buffer and fails the client's upload before it reads the answer.
func TestEngineLingersBeforeClose(t *testing.T) {
	junk := bytes.Repeat([]byte("j"), 1<<20)
	upload := bytes.Repeat([]byte("u"), 8<<20)
	cases := []struct {
		name   string
		cfg    Config
		send   []byte // written whole before reading anything
		status []int  // the responses, in order, then EOF
	}{
		{
			// 64 responses of 16 KiB wait in the server's buffer when it
			// reads the bad request; the junk after it is unread.
			name:   "pipelined responses, a bad request, more bytes",
			send:   append(append(bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 64), "GET / HTTP/1.1\r\nHost: x\r\nBad Field: y\r\n\r\n"...), junk...),
			status: append(repeatInt(200, 64), 400),
		},
		{
			// The head is refused (413) while the body is on its way.
			name:   "upload refused by the body limit",
			cfg:    Config{Limits: http1.Limits{MaxRequestLine: 8190, MaxHeaderFields: 100, MaxFieldSize: 8190, MaxBodyBytes: 1 << 20}},
			send:   append([]byte(fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(upload))), upload...),
			status: []int{413},
		},
		{
			// The application left a body larger than MaxDiscard unread.
			name:   "unread body beyond the discard limit",
			cfg:    Config{MaxDiscard: 64 << 10},
			send:   append([]byte(fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(upload))), upload...),
			status: []int{200},
		},
	}
	fx := newTLSFixture(t)
	for _, tc := range cases {
		for _, overTLS := range []bool{false, true} {
			name := tc.name
			if overTLS {
				name += " (TLS)"
			}
			t.Run(name, func(t *testing.T) {
				cfg := tc.cfg
				cfg.Logger = discardLogger()
				if overTLS {
					cfg.TLS = []*tls.Config{fx.server(t, tlsconf.CertNone)}
				}
				var c net.Conn = dialSmallWindow(t, startEngineWith(t, cfg, bigApp{}))
				if overTLS {
					c = tls.Client(c, fx.clientWith(nil))
				}
				sendAndRead(t, c, tc.send, tc.status)
			})
		}
	}
}

// sendAndRead writes send whole, then reads the responses, which must have
// the statuses in want, then EOF.
func sendAndRead(t *testing.T, c net.Conn, send []byte, want []int) {
	t.Helper()
	if _, err := c.Write(send); err != nil {
		t.Fatalf("sending the request bytes: %v (the server did not read them: a reset)", err)
	}
	br := bufio.NewReader(c)
	for i, status := range want {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d of %d: %v", i+1, len(want), err)
		}
		_, err = io.Copy(io.Discard, r.Body)
		if r.StatusCode != status || err != nil {
			t.Fatalf("response %d: status %d (want %d), body: %v", i+1, r.StatusCode, status, err)
		}
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the responses: %d bytes, %v; want EOF", n, err)
	}
}

func repeatInt(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// TestEngineLingersAfterSlowDiscard: a body the application left unread
// that does not come within the I/O timeout ends the connection, but the
// client still uploading it gets the server's FIN and its further bytes
// are read, not reset.
func TestEngineLingersAfterSlowDiscard(t *testing.T) {
	addr := startEngineWith(t, Config{Logger: discardLogger(), IOTimeout: 300 * time.Millisecond}, bigApp{})
	c := dialEngine(t, addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nthe start of it")
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("response: %v", err)
	}
	io.Copy(io.Discard, r.Body)
	if _, err := br.ReadByte(); err != io.EOF { // the server ends the discard
		t.Fatalf("after the response: %v, want EOF", err)
	}
	for i := range 5 {
		if _, err := io.WriteString(c, "more of the body"); err != nil {
			t.Fatalf("write %d after the server's FIN: %v (a closed socket resets)", i+1, err)
		}
		time.Sleep(50 * time.Millisecond) // lets a reset come back before the next write
	}
}

// openConns is how many connections e holds.
func openConns(e *Engine) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}

// TestEngineLingerEnds: a linger ends without the client's close: when the
// client goes quiet (lingerTimeout), and on a graceful stop even while it
// keeps sending (lingerTimeout from the stop, not lingerTime).
func TestEngineLingerEnds(t *testing.T) {
	refused := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\npart of the body"
	cfg := Config{Logger: discardLogger(), Limits: http1.Limits{MaxRequestLine: 8190, MaxHeaderFields: 100, MaxFieldSize: 8190, MaxBodyBytes: 1000}}

	// The client neither sends nor closes after the response: the server
	// closes its end. The linger of a 408 begins inside the deadline scan,
	// so the deadline it sets must survive the scan's own bookkeeping.
	for _, tc := range []struct {
		name, send string
		cfg        Config
		status     int
	}{
		{"quiet client after a 413", refused, cfg, 413},
		{"quiet client after a 408", "GET / HTTP/1.1\r\nHost: x\r\n", Config{Logger: discardLogger(), HeaderTimeout: 300 * time.Millisecond}, 408},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, addr, _ := listenEngine(t, tc.cfg, bigApp{})
			t.Cleanup(func() { e.Shutdown(context.Background()) })
			c := dialEngine(t, addr)
			io.WriteString(c, tc.send)
			br := bufio.NewReader(c)
			if r, err := http.ReadResponse(br, nil); err != nil || r.StatusCode != tc.status {
				t.Fatalf("response: %v, want status %d", err, tc.status)
			} else {
				io.Copy(io.Discard, r.Body)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the response: %v, want EOF (the server's half-close)", err)
			}
			for end := time.Now().Add(20 * time.Second); openConns(e) > 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("the lingering connection is still open after 20 s (lingerTimeout is %v)", lingerTimeout)
				}
			}
		})
	}

	// A stop ends a linger within lingerTimeout, whether the linger began
	// before it (a 413) or after (a request in flight when the stop began,
	// its body unread), even while the client keeps sending.
	for _, tc := range []struct {
		name  string
		cfg   Config
		begin func(t *testing.T, e *Engine, addr string, app stuckApp) net.Conn // returns the lingering client
	}{
		{"stop while a client lingers", cfg, func(t *testing.T, e *Engine, addr string, _ stuckApp) net.Conn {
			c := dialEngine(t, addr)
			io.WriteString(c, refused)
			if r, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || r.StatusCode != 413 {
				t.Fatalf("response: %v", err)
			}
			e.Drain()
			return c
		}},
		{"linger that begins during a stop", Config{Logger: discardLogger(), Threads: 2}, func(t *testing.T, e *Engine, addr string, app stuckApp) net.Conn {
			c := dialEngine(t, addr)
			io.WriteString(c, "POST /block HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\npart of the body")
			select {
			case <-app.started:
			case <-time.After(20 * time.Second): // bounds the wait
				t.Fatal("the request did not reach the application")
			}
			e.Drain()
			close(app.release)
			if r, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || r.StatusCode != 200 {
				t.Fatalf("response: %v", err)
			}
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := stuckApp{started: make(chan struct{}, 1), release: make(chan struct{})}
			e, addr, served := listenEngine(t, tc.cfg, app)
			c := tc.begin(t, e, addr, app)
			c.SetDeadline(time.Now().Add(time.Minute)) // past the 20 s the stop gets
			stop := make(chan struct{})
			sent := make(chan struct{})
			go func() { // more of the body, a little at a time, until the server closes
				defer close(sent)
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := io.WriteString(c, "more body"); err != nil {
						return
					}
				}
			}()
			defer func() { close(stop); <-sent }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := e.Shutdown(ctx); err != nil {
				t.Fatalf("graceful stop with a lingering client: %v (it should end within lingerTimeout, %v)", err, lingerTimeout)
			}
			if err := <-served; err != nil {
				t.Fatalf("serve: %v", err)
			}
		})
	}
}
